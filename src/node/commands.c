/*
 * commands.c — the RESP command table: lookup, arity, and the commands answered at once.
 *
 * Semantics and error texts follow Redis wherever Redis has the command. An option chorus
 * does not support gets a clear -ERR naming it, never a silent ignore.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"

bool node_arg_is(const struct resp_arg *arg, const char *word)
{
    size_t len = strlen(word);
    return arg->len == len && strncasecmp(arg->data, word, len) == 0;
}

struct resp_out *node_exec_out(struct node_exec *exec)
{
    struct node_client *client = exec->client;
    if (client->head == NULL)
        return &client->out;
    /* Something of this client still waits: this reply queues behind it. */
    struct node_request *r = node_request_new(client, NULL);
    resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX, client->out.protocol);
    r->has_reply_out = true;
    return &r->reply_out;
}

/* Completes the queued reply that node_exec_out may have created. */
void node_exec_done(struct node_exec *exec, struct resp_out *out)
{
    struct node_client *client = exec->client;
    if (out == &client->out)
        return;
    struct node_request *r = client->tail;
    assert(&r->reply_out == out);
    node_request_complete(exec->node, r);
}

void node_exec_error(struct node_exec *exec, const char *error)
{
    struct resp_out *out = node_exec_out(exec);
    resp_reply_error(out, error, strlen(error));
    node_exec_done(exec, out);
}

void node_exec_wrong_arity(struct node_exec *exec)
{
    /* Redis names the command in lower case. */
    char name[33];
    size_t len = exec->argv[0].len > 32 ? 32 : exec->argv[0].len;
    for (size_t i = 0; i < len; i++)
        name[i] = (char)tolower((unsigned char)exec->argv[0].data[i]);
    name[len] = '\0';
    char text[128];
    snprintf(text, sizeof(text), "ERR wrong number of arguments for '%s' command", name);
    node_exec_error(exec, text);
}

static void cmd_ping(struct node_exec *exec)
{
    if (exec->argc > 2) {
        node_exec_wrong_arity(exec);
        return;
    }
    struct resp_out *out = node_exec_out(exec);
    if (exec->argc == 2)
        resp_reply_bulk(out, exec->argv[1].data, exec->argv[1].len);
    else
        resp_reply_simple(out, "PONG", 4);
    node_exec_done(exec, out);
}

static void cmd_echo(struct node_exec *exec)
{
    struct resp_out *out = node_exec_out(exec);
    resp_reply_bulk(out, exec->argv[1].data, exec->argv[1].len);
    node_exec_done(exec, out);
}

/* QUIT answers +OK after the replies of every command before it, then closes; commands after
 * it are not executed (Redis). */
static void cmd_quit(struct node_exec *exec)
{
    struct node_client *client = exec->client;
    struct resp_out *out = node_exec_out(exec);
    resp_reply_simple(out, "OK", 2);
    client->quit_seen = true;
    if (out == &client->out)
        client->close_after_write = true;
    else
        client->tail->quit = true;
    node_exec_done(exec, out);
}

static void cmd_select(struct node_exec *exec)
{
    int64_t db = 0;
    if (!resp_string_to_int64(exec->argv[1].data, exec->argv[1].len, &db) || db < INT32_MIN ||
        db > INT32_MAX) {
        node_exec_error(exec, "ERR value is not an integer or out of range");
        return;
    }
    if (db == 0) {
        struct resp_out *out = node_exec_out(exec);
        resp_reply_simple(out, "OK", 2);
        node_exec_done(exec, out);
        return;
    }
    node_exec_error(exec, "ERR DB index is out of range (chorus has one database)");
}

static void cmd_get(struct node_exec *e) { node_cmd_read(e, NODE_READ_GET, 2); }
static void cmd_mget(struct node_exec *e) { node_cmd_read(e, NODE_READ_MGET, 2); }
static void cmd_exists(struct node_exec *e) { node_cmd_read(e, NODE_READ_EXISTS, 2); }
static void cmd_strlen(struct node_exec *e) { node_cmd_read(e, NODE_READ_STRLEN, 2); }
static void cmd_dbsize(struct node_exec *e) { node_cmd_read(e, NODE_READ_DBSIZE, 1); }
static void cmd_scan(struct node_exec *e) { node_cmd_read(e, NODE_READ_SCAN, 2); }
static void cmd_getrange(struct node_exec *e) { node_cmd_read(e, NODE_READ_GETRANGE, 4); }
static void cmd_getbit(struct node_exec *e) { node_cmd_read(e, NODE_READ_GETBIT, 3); }
static void cmd_bitcount(struct node_exec *e) { node_cmd_read(e, NODE_READ_BITCOUNT, 2); }
static void cmd_lcs(struct node_exec *e) { node_cmd_read(e, NODE_READ_LCS, 3); }
static void cmd_type(struct node_exec *e) { node_cmd_read(e, NODE_READ_TYPE, 2); }
static void cmd_memory(struct node_exec *e) { node_cmd_read(e, NODE_READ_MEMORY, 2); }
static void cmd_keys(struct node_exec *e) { node_cmd_read(e, NODE_READ_KEYS, 2); }
static void cmd_randomkey(struct node_exec *e) { node_cmd_read(e, NODE_READ_RANDOMKEY, 1); }
/* TOUCH answers as EXISTS does: chorus keeps no access time to update. */
static void cmd_touch(struct node_exec *e) { node_cmd_read(e, NODE_READ_EXISTS, 2); }

struct node_command {
    const char *name;
    int arity; /* Redis convention: > 0 exact, < 0 at least -arity */
    void (*run)(struct node_exec *exec);
};

static const struct node_command commands[] = {
    {"PING", -1, cmd_ping},       {"ECHO", 2, cmd_echo},        {"QUIT", -1, cmd_quit},
    {"SELECT", 2, cmd_select},    {"CLIENT", -2, node_cmd_client},   {"GET", 2, cmd_get},
    {"MGET", -2, cmd_mget},       {"EXISTS", -2, cmd_exists},   {"STRLEN", 2, cmd_strlen},
    {"DBSIZE", 1, cmd_dbsize},    {"SCAN", -2, cmd_scan},       {"SET", -3, node_cmd_write},
    {"SETNX", 3, node_cmd_write}, {"GETSET", 3, node_cmd_write},{"GETDEL", 2, node_cmd_write},
    {"DEL", -2, node_cmd_write},  {"UNLINK", -2, node_cmd_write},{"INCR", 2, node_cmd_write},
    {"DECR", 2, node_cmd_write},  {"INCRBY", 3, node_cmd_write},{"DECRBY", 3, node_cmd_write},
    {"APPEND", 3, node_cmd_write},{"MSET", -3, node_cmd_write}, {"MSETNX", -3, node_cmd_write},
    {"CAS", 4, node_cmd_write},
    {"MULTI", 1, node_cmd_multi}, {"EXEC", 1, node_cmd_exec}, {"DISCARD", 1, node_cmd_discard},
    {"WATCH", -2, node_cmd_watch}, {"UNWATCH", 1, node_cmd_unwatch},
    {"INFO", -1, node_cmd_info},  {"HELLO", -1, node_cmd_hello},
    {"AUTH", -2, node_cmd_auth}, {"ACL", -2, node_cmd_acl},
    {"COMMAND", -1, node_cmd_command}, {"CONFIG", -2, node_cmd_config},
    {"FLUSHALL", -1, node_cmd_write}, {"FLUSHDB", -1, node_cmd_write},
    {"INCRBYFLOAT", 3, node_cmd_write}, {"SETRANGE", 4, node_cmd_write},
    {"SETBIT", 4, node_cmd_write},     {"RENAME", 3, node_cmd_write},
    {"RENAMENX", 3, node_cmd_write},   {"COPY", -3, node_cmd_write},
    {"GETRANGE", 4, cmd_getrange},     {"GETBIT", 3, cmd_getbit},
    {"BITCOUNT", -2, cmd_bitcount},    {"LCS", -3, cmd_lcs},
    {"KEYS", 2, cmd_keys},             {"TYPE", 2, cmd_type},
    {"RANDOMKEY", 1, cmd_randomkey},   {"TOUCH", -2, cmd_touch},
    {"MEMORY", -2, cmd_memory},
    {"CLUSTER", -2, node_cmd_cluster}, {"ASKING", 1, node_cmd_cluster_flag},
    {"READONLY", 1, node_cmd_cluster_flag}, {"READWRITE", 1, node_cmd_cluster_flag},
    /* Hashes and sets (commands_types.c) */
    {"HSET", -4, node_cmd_write}, {"HMSET", -4, node_cmd_write}, {"HSETNX", 4, node_cmd_write},
    {"HDEL", -3, node_cmd_write}, {"HINCRBY", 4, node_cmd_write},
    {"HINCRBYFLOAT", 4, node_cmd_write}, {"SADD", -3, node_cmd_write},
    {"SREM", -3, node_cmd_write}, {"SPOP", -2, node_cmd_write}, {"SMOVE", 4, node_cmd_write},
    {"SINTERSTORE", -3, node_cmd_write}, {"SUNIONSTORE", -3, node_cmd_write},
    {"SDIFFSTORE", -3, node_cmd_write}, {"HGET", 3, node_cmd_types_read},
    {"HMGET", -3, node_cmd_types_read}, {"HEXISTS", 3, node_cmd_types_read},
    {"HLEN", 2, node_cmd_types_read}, {"HKEYS", 2, node_cmd_types_read},
    {"HVALS", 2, node_cmd_types_read}, {"HGETALL", 2, node_cmd_types_read},
    {"HSTRLEN", 3, node_cmd_types_read}, {"HRANDFIELD", -2, node_cmd_types_read},
    {"HSCAN", -3, node_cmd_types_read}, {"SISMEMBER", 3, node_cmd_types_read},
    {"SMISMEMBER", -3, node_cmd_types_read}, {"SMEMBERS", 2, node_cmd_types_read},
    {"SCARD", 2, node_cmd_types_read}, {"SRANDMEMBER", -2, node_cmd_types_read},
    {"SINTER", -2, node_cmd_types_read}, {"SUNION", -2, node_cmd_types_read},
    {"SDIFF", -2, node_cmd_types_read}, {"SINTERCARD", -3, node_cmd_types_read},
    {"SSCAN", -3, node_cmd_types_read}, {"OBJECT", -2, node_cmd_object},
    /* Lists (commands_types.c) */
    {"LPUSH", -3, node_cmd_write}, {"RPUSH", -3, node_cmd_write}, {"LPUSHX", -3, node_cmd_write},
    {"RPUSHX", -3, node_cmd_write}, {"LPOP", -2, node_cmd_write}, {"RPOP", -2, node_cmd_write},
    {"LSET", 4, node_cmd_write}, {"LTRIM", 4, node_cmd_write}, {"LREM", 4, node_cmd_write},
    {"LINSERT", 5, node_cmd_write}, {"LMOVE", 5, node_cmd_write},
    {"RPOPLPUSH", 3, node_cmd_write}, {"LLEN", 2, node_cmd_types_read},
    {"LRANGE", 4, node_cmd_types_read}, {"LINDEX", 3, node_cmd_types_read},
    {"LPOS", -3, node_cmd_types_read},
    /* Sorted sets (commands_types.c, storage/kv_zset.c) */
    {"ZADD", -4, node_cmd_write}, {"ZINCRBY", 4, node_cmd_write}, {"ZREM", -3, node_cmd_write},
    {"ZPOPMIN", -2, node_cmd_write}, {"ZPOPMAX", -2, node_cmd_write},
    {"ZRANGESTORE", -5, node_cmd_write}, {"ZUNIONSTORE", -4, node_cmd_write},
    {"ZINTERSTORE", -4, node_cmd_write}, {"ZREMRANGEBYSCORE", 4, node_cmd_write},
    {"ZREMRANGEBYRANK", 4, node_cmd_write}, {"ZREMRANGEBYLEX", 4, node_cmd_write},
    {"ZSCORE", 3, node_cmd_types_read}, {"ZMSCORE", -3, node_cmd_types_read},
    {"ZCARD", 2, node_cmd_types_read}, {"ZCOUNT", 4, node_cmd_types_read},
    {"ZLEXCOUNT", 4, node_cmd_types_read}, {"ZRANGE", -4, node_cmd_types_read},
    {"ZRANGEBYSCORE", -4, node_cmd_types_read}, {"ZREVRANGEBYSCORE", -4, node_cmd_types_read},
    {"ZRANGEBYLEX", -4, node_cmd_types_read}, {"ZREVRANGEBYLEX", -4, node_cmd_types_read},
    {"ZREVRANGE", -4, node_cmd_types_read}, {"ZRANK", 3, node_cmd_types_read},
    {"ZREVRANK", 3, node_cmd_types_read}, {"ZRANDMEMBER", -2, node_cmd_types_read},
    {"ZSCAN", -3, node_cmd_types_read},
    /* Expiry (storage/kv_expiry.c, docs/expiry.md) */
    {"SETEX", 4, node_cmd_write}, {"PSETEX", 4, node_cmd_write}, {"GETEX", -2, node_cmd_write},
    {"EXPIRE", -3, node_cmd_write}, {"PEXPIRE", -3, node_cmd_write},
    {"EXPIREAT", -3, node_cmd_write}, {"PEXPIREAT", -3, node_cmd_write},
    {"PERSIST", 2, node_cmd_write}, {"TTL", 2, node_cmd_types_read},
    {"PTTL", 2, node_cmd_types_read}, {"EXPIRETIME", 2, node_cmd_types_read},
    {"PEXPIRETIME", 2, node_cmd_types_read},
    {"BLPOP", -3, node_cmd_blocking}, {"BRPOP", -3, node_cmd_blocking},
    {"BLMOVE", 6, node_cmd_blocking}, {"BRPOPLPUSH", 4, node_cmd_blocking},
};

uint32_t node_command_count(void)
{
    return (uint32_t)(sizeof(commands) / sizeof(commands[0]));
}

const char *node_command_name(uint32_t index)
{
    assert(index < node_command_count());
    return commands[index].name;
}

static const struct node_command *command_find(const struct resp_arg *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (node_arg_is(name, commands[i].name))
            return &commands[i];
    return NULL;
}

/* Appends at most max bytes of arg, up to its first NUL byte (Redis formats arguments as C
 * strings with %.*s). Returns the bytes appended. */
static size_t c_string_append(char *to, const struct resp_arg *arg, size_t max)
{
    size_t len = 0;
    while (len < arg->len && len < max && arg->data[len] != '\0')
        len++;
    memcpy(to, arg->data, len);
    return len;
}

/* Redis: "ERR unknown command 'x', with args beginning with: 'a' 'b' ", the arguments cut at
 * 128 bytes in all, CR and LF written as spaces. */
static void unknown_command(struct node_exec *exec)
{
    char text[512];
    static const char head[] = "ERR unknown command '";
    static const char middle[] = "', with args beginning with: ";
    size_t n = 0;
    memcpy(text, head, sizeof(head) - 1), n += sizeof(head) - 1;
    n += c_string_append(text + n, &exec->argv[0], 128);
    memcpy(text + n, middle, sizeof(middle) - 1), n += sizeof(middle) - 1;
    size_t args_start = n;
    for (uint32_t i = 1; i < exec->argc && n - args_start < 128; i++) {
        text[n++] = '\'';
        n += c_string_append(text + n, &exec->argv[i], 128 - (n - 1 - args_start));
        text[n++] = '\'';
        text[n++] = ' ';
    }
    assert(n < sizeof(text));
    text[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (text[i] == '\r' || text[i] == '\n')
            text[i] = ' ';
    node_exec_error(exec, text);
}

/* Runs a command; returns its index in the table when it ran (to be timed), else -1 (not a
 * command, refused, or queued in MULTI). */
static int32_t command_run(struct node_client *client, const struct resp_command *command)
{
    struct node_exec exec = {.client = client, .node = client->node, .argv = command->argv,
                             .argc = command->argc};
    assert(command->argc > 0);
    client->node->stats.commands++;
    const struct node_command *c = command_find(&command->argv[0]);
    if (c == NULL) {
        node_tx_fail(client);
        unknown_command(&exec);
        return -1;
    }
    if ((c->arity > 0 && (int64_t)command->argc != c->arity) ||
        (c->arity < 0 && (int64_t)command->argc < -c->arity)) {
        if (c->run == node_cmd_exec) {
            /* Redis: a refused EXEC discards the transaction and the watches, in or out of
             * MULTI, and says so. */
            node_tx_client_free(client);
            node_exec_error(&exec, "EXECABORT Transaction discarded because of: wrong number of "
                                   "arguments for 'exec' command");
            return -1;
        }
        node_tx_fail(client);
        node_exec_wrong_arity(&exec);
        return -1;
    }
    /* Redis checks the name and the arity first, then authentication; AUTH, HELLO (which
     * has an AUTH option) and QUIT are the commands an unauthenticated connection may run. */
    if (!client->authenticated && c->run != node_cmd_auth && c->run != node_cmd_hello &&
        c->run != cmd_quit) {
        node_exec_error(&exec, "NOAUTH Authentication required.");
        return -1;
    }
    /* A node removed from the cluster serves no data (its copy stops at its removal); it
     * still answers what tells an operator so. */
    if (node_members_removed(client->node) && c->run != node_cmd_info &&
        c->run != node_cmd_cluster && c->run != cmd_quit && c->run != node_cmd_hello &&
        c->run != node_cmd_auth) {
        node_exec_error(&exec, "ERR this node was removed from the cluster");
        return -1;
    }
    /* Redis checks permissions after authentication, before queueing in MULTI; AUTH,
     * HELLO and QUIT (its no_auth commands) are never refused, so that a connection can
     * always change its user or leave. */
    if (client->authenticated && c->run != node_cmd_auth && c->run != node_cmd_hello &&
        c->run != cmd_quit && !node_acl_permits(&exec)) {
        node_tx_fail(client);
        return -1;
    }
    if (client->tx != NULL &&
        node_tx_queue(&exec, c->run == node_cmd_write || c->run == node_cmd_blocking))
        return -1;
    c->run(&exec);
    return (int32_t)(c - commands);
}

void node_command_execute(struct node_client *client, const struct resp_command *command)
{
    uint64_t started_ns = uv_hrtime();
    const struct node_request *tail_before = client->tail;
    size_t out_before = client->out.len;
    int32_t index = command_run(client, command);
    node_metrics_command_ran(client, index, started_ns, tail_before, out_before);
}
