/*
 * commands_command.c — COMMAND, COMMAND COUNT / INFO / DOCS / GETKEYS / LIST, as Redis 7
 * answers them, for the commands chorus has. Names, arities, flags, key positions and ACL
 * categories are Redis 7.0's own (taken from its COMMAND INFO); CAS, chorus's own, is
 * described as Redis would describe it. Key specs, tips and subcommands are empty arrays.
 */
#include <stdio.h>
#include <string.h>

#include "node/acl.h"
#include "node/commands.h"

struct command_doc {
    const char *name;
    int arity;
    const char *flags;      /* space separated */
    int first_key, last_key, step;
    const char *categories; /* space separated */
};

static const struct command_doc command_docs[] = {
    {"ping", -1, "fast", 0, 0, 0, "@fast @connection"},
    {"echo", 2, "loading stale fast", 0, 0, 0, "@fast @connection"},
    {"quit", -1, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection"},
    {"select", 2, "loading stale fast", 0, 0, 0, "@fast @connection"},
    {"client", -2, "", 0, 0, 0, "@slow"},
    {"get", 2, "readonly fast", 1, 1, 1, "@read @string @fast"},
    {"mget", -2, "readonly fast", 1, -1, 1, "@read @string @fast"},
    {"exists", -2, "readonly fast", 1, -1, 1, "@keyspace @read @fast"},
    {"strlen", 2, "readonly fast", 1, 1, 1, "@read @string @fast"},
    {"dbsize", 1, "readonly fast", 0, 0, 0, "@keyspace @read @fast"},
    {"scan", -2, "readonly", 0, 0, 0, "@keyspace @read @slow"},
    {"set", -3, "write denyoom", 1, 1, 1, "@write @string @slow"},
    {"setnx", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"getset", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"getdel", 2, "write fast", 1, 1, 1, "@write @string @fast"},
    {"del", -2, "write", 1, -1, 1, "@keyspace @write @slow"},
    {"unlink", -2, "write fast", 1, -1, 1, "@keyspace @write @fast"},
    {"incr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"decr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"incrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"decrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"append", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"mset", -3, "write denyoom", 1, -1, 2, "@write @string @slow"},
    {"msetnx", -3, "write denyoom", 1, -1, 2, "@write @string @slow"},
    {"info", -1, "loading stale", 0, 0, 0, "@slow @dangerous"},
    {"hello", -1, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection"},
    {"auth", -2, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection"},
    {"acl", -2, "", 0, 0, 0, "@slow"},
    {"command", -1, "loading stale", 0, 0, 0, "@slow @connection"},
    {"config", -2, "", 0, 0, 0, "@slow"},
    {"flushall", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous"},
    {"flushdb", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous"},
    {"incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast"},
    {"setrange", 4, "write denyoom", 1, 1, 1, "@write @string @slow"},
    {"setbit", 4, "write denyoom", 1, 1, 1, "@write @bitmap @slow"},
    {"rename", 3, "write", 1, 2, 1, "@keyspace @write @slow"},
    {"renamenx", 3, "write fast", 1, 2, 1, "@keyspace @write @fast"},
    {"copy", -3, "write denyoom", 1, 2, 1, "@keyspace @write @slow"},
    {"getrange", 4, "readonly", 1, 1, 1, "@read @string @slow"},
    {"getbit", 3, "readonly fast", 1, 1, 1, "@read @bitmap @fast"},
    {"bitcount", -2, "readonly", 1, 1, 1, "@read @bitmap @slow"},
    {"lcs", -3, "readonly", 1, 2, 1, "@read @string @slow"},
    {"keys", 2, "readonly", 0, 0, 0, "@keyspace @read @slow @dangerous"},
    {"type", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast"},
    {"randomkey", 1, "readonly", 0, 0, 0, "@keyspace @read @slow"},
    {"touch", -2, "readonly fast", 1, -1, 1, "@keyspace @read @fast"},
    {"memory", -2, "", 0, 0, 0, "@slow"},
    {"cluster", -2, "", 0, 0, 0, "@slow"},
    {"asking", 1, "fast", 0, 0, 0, "@fast @connection"},
    {"readonly", 1, "loading stale fast", 0, 0, 0, "@fast @connection"},
    {"readwrite", 1, "loading stale fast", 0, 0, 0, "@fast @connection"},
    {"cas", 4, "write denyoom", 1, 1, 1, "@write @string @slow"},
    {"multi", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction"},
    {"exec", 1, "noscript loading stale skip_slowlog", 0, 0, 0, "@slow @transaction"},
    {"discard", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction"},
    {"watch", -2, "noscript loading stale fast allow_busy", 1, -1, 1, "@fast @transaction"},
    {"unwatch", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction"},
    {"hset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"},
    {"hget", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"},
    {"hmget", -3, "readonly fast", 1, 1, 1, "@read @hash @fast"},
    {"hmset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"},
    {"hdel", -3, "write fast", 1, 1, 1, "@write @hash @fast"},
    {"hexists", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"},
    {"hlen", 2, "readonly fast", 1, 1, 1, "@read @hash @fast"},
    {"hkeys", 2, "readonly", 1, 1, 1, "@read @hash @slow"},
    {"hvals", 2, "readonly", 1, 1, 1, "@read @hash @slow"},
    {"hgetall", 2, "readonly", 1, 1, 1, "@read @hash @slow"},
    {"hincrby", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"},
    {"hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"},
    {"hsetnx", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast"},
    {"hstrlen", 3, "readonly fast", 1, 1, 1, "@read @hash @fast"},
    {"hrandfield", -2, "readonly", 1, 1, 1, "@read @hash @slow"},
    {"hscan", -3, "readonly", 1, 1, 1, "@read @hash @slow"},
    {"sadd", -3, "write denyoom fast", 1, 1, 1, "@write @set @fast"},
    {"srem", -3, "write fast", 1, 1, 1, "@write @set @fast"},
    {"sismember", 3, "readonly fast", 1, 1, 1, "@read @set @fast"},
    {"smismember", -3, "readonly fast", 1, 1, 1, "@read @set @fast"},
    {"smembers", 2, "readonly", 1, 1, 1, "@read @set @slow"},
    {"scard", 2, "readonly fast", 1, 1, 1, "@read @set @fast"},
    {"spop", -2, "write fast", 1, 1, 1, "@write @set @fast"},
    {"srandmember", -2, "readonly", 1, 1, 1, "@read @set @slow"},
    {"smove", 4, "write fast", 1, 2, 1, "@write @set @fast"},
    {"sinter", -2, "readonly", 1, -1, 1, "@read @set @slow"},
    {"sunion", -2, "readonly", 1, -1, 1, "@read @set @slow"},
    {"sdiff", -2, "readonly", 1, -1, 1, "@read @set @slow"},
    {"sinterstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow"},
    {"sunionstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow"},
    {"sdiffstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow"},
    /* Its keys follow numkeys: node_types_movable_keys finds them (Redis's key specs). */
    {"sintercard", -3, "readonly movablekeys", 0, 0, 0, "@read @set @slow"},
    {"sscan", -3, "readonly", 1, 1, 1, "@read @set @slow"},
    {"object", -2, "", 0, 0, 0, "@slow"},
    {"lpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast"},
    {"rpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast"},
    {"lpop", -2, "write fast", 1, 1, 1, "@write @list @fast"},
    {"rpop", -2, "write fast", 1, 1, 1, "@write @list @fast"},
    {"llen", 2, "readonly fast", 1, 1, 1, "@read @list @fast"},
    {"lrange", 4, "readonly", 1, 1, 1, "@read @list @slow"},
    {"lindex", 3, "readonly", 1, 1, 1, "@read @list @slow"},
    {"lset", 4, "write denyoom", 1, 1, 1, "@write @list @slow"},
    {"ltrim", 4, "write", 1, 1, 1, "@write @list @slow"},
    {"lrem", 4, "write", 1, 1, 1, "@write @list @slow"},
    {"linsert", 5, "write denyoom", 1, 1, 1, "@write @list @slow"},
    {"lpos", -3, "readonly", 1, 1, 1, "@read @list @slow"},
    {"lmove", 5, "write denyoom", 1, 2, 1, "@write @list @slow"},
    {"rpoplpush", 3, "write denyoom", 1, 2, 1, "@write @list @slow"},
    {"setex", 4, "write denyoom", 1, 1, 1, "@write @string @slow"},
    {"psetex", 4, "write denyoom", 1, 1, 1, "@write @string @slow"},
    {"getex", -2, "write fast", 1, 1, 1, "@write @string @fast"},
    {"expire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast"},
    {"pexpire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast"},
    {"expireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast"},
    {"pexpireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast"},
    {"persist", 2, "write fast", 1, 1, 1, "@keyspace @write @fast"},
    {"ttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast"},
    {"pttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast"},
    {"expiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast"},
    {"pexpiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast"},
    {"blpop", -3, "write noscript blocking", 1, -2, 1, "@write @list @slow @blocking"},
    {"brpop", -3, "write noscript blocking", 1, -2, 1, "@write @list @slow @blocking"},
    {"blmove", 6, "write denyoom noscript blocking", 1, 2, 1, "@write @list @slow @blocking"},
    {"brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1,
     "@write @list @slow @blocking"},
    {"lpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast"},
    {"rpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast"},
    {"zadd", -4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast"},
    {"zincrby", 4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast"},
    {"zrem", -3, "write fast", 1, 1, 1, "@write @sortedset @fast"},
    {"zscore", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zmscore", -3, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zcard", 2, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zcount", 4, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zlexcount", 4, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zrange", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrangebyscore", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrevrangebyscore", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrangebylex", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrevrangebylex", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrevrange", -4, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zrank", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zrevrank", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast"},
    {"zpopmin", -2, "write fast", 1, 1, 1, "@write @sortedset @fast"},
    {"zpopmax", -2, "write fast", 1, 1, 1, "@write @sortedset @fast"},
    {"zrangestore", -5, "write denyoom", 1, 2, 1, "@write @sortedset @slow"},
    /* Keys: the destination, then those after numkeys (node_types_movable_keys). */
    {"zunionstore", -4, "write denyoom movablekeys", 1, 1, 1, "@write @sortedset @slow"},
    {"zinterstore", -4, "write denyoom movablekeys", 1, 1, 1, "@write @sortedset @slow"},
    {"zrandmember", -2, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zscan", -3, "readonly", 1, 1, 1, "@read @sortedset @slow"},
    {"zremrangebyscore", 4, "write", 1, 1, 1, "@write @sortedset @slow"},
    {"zremrangebyrank", 4, "write", 1, 1, 1, "@write @sortedset @slow"},
    {"zremrangebylex", 4, "write", 1, 1, 1, "@write @sortedset @slow"},
};

enum { COMMAND_DOC_COUNT = sizeof(command_docs) / sizeof(command_docs[0]) };

static const struct command_doc *command_doc_find(const struct resp_arg *name)
{
    for (size_t i = 0; i < COMMAND_DOC_COUNT; i++)
        if (node_arg_is(name, command_docs[i].name))
            return &command_docs[i];
    return NULL;
}

/* The subcommands of the container commands chorus has, for COMMAND GETKEYS (Redis 7.0's
 * arities and key positions, counted from the container's name). */
struct subcommand_doc {
    const char *container;
    struct command_doc doc;
};
static const struct subcommand_doc subcommand_docs[] = {
    {"client", {"setname", 3, "", 0, 0, 0, ""}},  {"client", {"getname", 2, "", 0, 0, 0, ""}},
    {"client", {"id", 2, "", 0, 0, 0, ""}},       {"client", {"info", 2, "", 0, 0, 0, ""}},
    {"client", {"list", -2, "", 0, 0, 0, ""}},    {"config", {"get", -3, "", 0, 0, 0, ""}},
    {"memory", {"usage", -3, "", 2, 2, 1, ""}},   {"command", {"count", 2, "", 0, 0, 0, ""}},
    {"object", {"encoding", 3, "", 2, 2, 1, ""}},
    {"command", {"info", -2, "", 0, 0, 0, ""}},   {"command", {"docs", -2, "", 0, 0, 0, ""}},
    {"command", {"getkeys", -4, "", 0, 0, 0, ""}}, {"command", {"list", -2, "", 0, 0, 0, ""}},
};

/* The doc of argv[0] (argc >= 1), or of its subcommand argv[1] for a container command;
 * NULL when either is unknown. */
static const struct command_doc *command_doc_resolve(const struct resp_arg *argv, uint32_t argc)
{
    bool container = false;
    for (size_t i = 0; i < sizeof(subcommand_docs) / sizeof(subcommand_docs[0]); i++) {
        if (!node_arg_is(&argv[0], subcommand_docs[i].container))
            continue;
        container = true;
        if (argc >= 2 && node_arg_is(&argv[1], subcommand_docs[i].doc.name))
            return &subcommand_docs[i].doc;
    }
    return container ? NULL : command_doc_find(&argv[0]);
}

/* Replies the words of a space-separated list as simple strings (Redis's status replies). */
static void reply_words(struct resp_out *out, const char *words)
{
    uint32_t count = 0;
    for (const char *p = words; *p != '\0'; p++)
        if (*p != ' ' && (p == words || p[-1] == ' '))
            count++;
    resp_reply_array(out, count); /* a set in Redis's RESP3; chorus writes an array in both */
    const char *p = words;
    while (*p != '\0') {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        resp_reply_simple(out, p, len);
        p += len;
        while (*p == ' ')
            p++;
    }
}

static void reply_entry(struct resp_out *out, const struct command_doc *d)
{
    resp_reply_array(out, 10);
    resp_reply_bulk(out, d->name, strlen(d->name));
    resp_reply_integer(out, d->arity);
    reply_words(out, d->flags);
    resp_reply_integer(out, d->first_key);
    resp_reply_integer(out, d->last_key);
    resp_reply_integer(out, d->step);
    reply_words(out, d->categories);
    resp_reply_array(out, 0); /* tips */
    resp_reply_array(out, 0); /* key specs */
    resp_reply_array(out, 0); /* subcommands */
}

static bool arity_ok(const struct command_doc *d, uint32_t argc)
{
    return d->arity > 0 ? (int64_t)argc == d->arity : (int64_t)argc >= -d->arity;
}

/* COMMAND GETKEYS command arg...: the keys by first, last and step, as Redis's legacy
 * key positions give them; its checks in Redis's order (known, has keys, arity). */
static void command_getkeys(struct resp_out *out, const struct resp_arg *argv, uint32_t argc)
{
    uint32_t cmd_argc = argc - 2;
    const struct command_doc *d = command_doc_resolve(&argv[2], cmd_argc);
    uint32_t first = 0, movable = 0, extra = 0;
    if (d != NULL && strstr(d->flags, "movablekeys") != NULL && arity_ok(d, cmd_argc)) {
        if (!node_types_movable_keys(&argv[2], cmd_argc, &first, &movable, &extra)) {
            static const char text[] = "ERR Invalid arguments specified for command";
            resp_reply_error(out, text, sizeof(text) - 1);
            return;
        }
        resp_reply_array(out, movable + (extra > 0));
        if (extra > 0)
            resp_reply_bulk(out, argv[2 + extra].data, argv[2 + extra].len);
        for (uint32_t i = 0; i < movable; i++)
            resp_reply_bulk(out, argv[2 + first + i].data, argv[2 + first + i].len);
        return;
    }
    if (d == NULL) {
        static const char text[] = "ERR Invalid command specified";
        resp_reply_error(out, text, sizeof(text) - 1);
        return;
    }
    if (d->first_key == 0) {
        static const char text[] = "ERR The command has no key arguments";
        resp_reply_error(out, text, sizeof(text) - 1);
        return;
    }
    if (!arity_ok(d, cmd_argc)) {
        static const char text[] = "ERR Invalid number of arguments specified for command";
        resp_reply_error(out, text, sizeof(text) - 1);
        return;
    }
    int64_t last = d->last_key < 0 ? (int64_t)cmd_argc + d->last_key : d->last_key;
    uint32_t count = 0;
    for (int64_t i = d->first_key; i <= last && i < cmd_argc; i += d->step)
        count++;
    resp_reply_array(out, count);
    for (int64_t i = d->first_key; i <= last && i < cmd_argc; i += d->step)
        resp_reply_bulk(out, argv[2 + i].data, argv[2 + i].len);
}

/* The slot of a command's keys, by the same key positions COMMAND GETKEYS reports (which are
 * the ones cluster clients route by). A command of unknown name or arity has none. */
enum shardmap_keys_result node_command_slot(const struct resp_arg *argv, uint32_t argc,
                                            uint32_t *slot)
{
    const struct command_doc *d = command_doc_resolve(argv, argc);
    uint32_t first = 0, count = 0, extra = 0;
    if (d != NULL && strstr(d->flags, "movablekeys") != NULL &&
        node_types_movable_keys(argv, argc, &first, &count, &extra)) {
        enum shardmap_keys_result keys = shardmap_keys_slot(&argv[first], count, 1, slot);
        uint32_t extra_slot = 0;
        if (keys != SHARDMAP_KEYS_ONE_SLOT || extra == 0)
            return keys;
        shardmap_keys_slot(&argv[extra], 1, 1, &extra_slot);
        return extra_slot == *slot ? keys : SHARDMAP_KEYS_CROSS_SLOT;
    }
    if (d == NULL || d->first_key == 0 || !arity_ok(d, argc) || (uint32_t)d->first_key >= argc)
        return SHARDMAP_KEYS_NONE;
    int64_t last = d->last_key < 0 ? (int64_t)argc + d->last_key : d->last_key;
    if (last >= (int64_t)argc)
        last = (int64_t)argc - 1;
    if (last < d->first_key)
        return SHARDMAP_KEYS_NONE;
    return shardmap_keys_slot(&argv[d->first_key], (uint32_t)(last - d->first_key + 1),
                              (uint32_t)d->step, slot);
}

static void command_subcommand(struct node_exec *e, struct resp_out *out)
{
    const struct resp_arg *sub = &e->argv[1];
    if (node_arg_is(sub, "COUNT") && e->argc == 2) {
        resp_reply_integer(out, COMMAND_DOC_COUNT);
    } else if (node_arg_is(sub, "INFO")) {
        resp_reply_array(out, e->argc == 2 ? COMMAND_DOC_COUNT : e->argc - 2);
        for (uint32_t i = 0; e->argc == 2 && i < COMMAND_DOC_COUNT; i++)
            reply_entry(out, &command_docs[i]);
        for (uint32_t i = 2; i < e->argc; i++) {
            const struct command_doc *d = command_doc_find(&e->argv[i]);
            if (d == NULL)
                resp_reply_null_array(out);
            else
                reply_entry(out, d);
        }
    } else if (node_arg_is(sub, "DOCS")) {
        /* Known names, each with an empty documentation map (redis-cli then shows no hints). */
        uint32_t count = 0;
        for (uint32_t i = 2; i < e->argc; i++)
            count += command_doc_find(&e->argv[i]) != NULL;
        resp_reply_map(out, e->argc == 2 ? COMMAND_DOC_COUNT : count);
        for (uint32_t i = 0; e->argc == 2 && i < COMMAND_DOC_COUNT; i++) {
            resp_reply_bulk(out, command_docs[i].name, strlen(command_docs[i].name));
            resp_reply_map(out, 0);
        }
        for (uint32_t i = 2; i < e->argc; i++) {
            const struct command_doc *d = command_doc_find(&e->argv[i]);
            if (d != NULL) {
                resp_reply_bulk(out, d->name, strlen(d->name));
                resp_reply_map(out, 0);
            }
        }
    } else if (node_arg_is(sub, "GETKEYS") && e->argc >= 4) {
        command_getkeys(out, e->argv, e->argc);
    } else if (node_arg_is(sub, "LIST") && e->argc == 2) {
        resp_reply_array(out, COMMAND_DOC_COUNT);
        for (uint32_t i = 0; i < COMMAND_DOC_COUNT; i++)
            resp_reply_bulk(out, command_docs[i].name, strlen(command_docs[i].name));
    } else if (node_arg_is(sub, "LIST")) {
        static const char filter[] = "ERR COMMAND LIST FILTERBY is not supported by chorus";
        static const char syntax[] = "ERR syntax error";
        if (e->argc >= 5 && node_arg_is(&e->argv[2], "FILTERBY"))
            resp_reply_error(out, filter, sizeof(filter) - 1);
        else
            resp_reply_error(out, syntax, sizeof(syntax) - 1);
    } else if (node_arg_is(sub, "COUNT") || node_arg_is(sub, "GETKEYS")) {
        char text[128];
        int n = snprintf(text, sizeof(text), "ERR wrong number of arguments for 'command|%s' command",
                         node_arg_is(sub, "COUNT") ? "count" : "getkeys");
        resp_reply_error(out, text, (size_t)n);
    } else {
        char text[256];
        int n = snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                         (int)(sub->len > 128 ? 128 : sub->len), sub->data);
        resp_reply_error(out, text, (size_t)n);
    }
}

void node_cmd_command(struct node_exec *e)
{
    struct resp_out *out = node_exec_out(e);
    if (e->argc == 1) {
        resp_reply_array(out, COMMAND_DOC_COUNT);
        for (uint32_t i = 0; i < COMMAND_DOC_COUNT; i++)
            reply_entry(out, &command_docs[i]);
    } else {
        command_subcommand(e, out);
    }
    node_exec_done(e, out);
}

/* ---- ACL: the catalog of commands permissions are kept over (acl.h) ---- */

/* The subcommands of chorus's container commands, each with Redis 7.0's categories, which
 * differ from the container's: permissions are kept per subcommand, as Redis keeps them
 * (+config|get, and +@admin covers CONFIG GET but not CONFIG itself). */
struct acl_subcommand_doc {
    const char *name; /* "container|sub" */
    int arity;        /* counted from the container's name, as Redis's */
    const char *categories;
};
static const struct acl_subcommand_doc acl_subcommand_docs[] = {
    {"acl|cat", -2, "@slow"},
    {"acl|deluser", -3, "@admin @slow @dangerous"},
    {"acl|getuser", 3, "@admin @slow @dangerous"},
    {"acl|list", 2, "@admin @slow @dangerous"},
    {"acl|setuser", -3, "@admin @slow @dangerous"},
    {"acl|users", 2, "@admin @slow @dangerous"},
    {"acl|whoami", 2, "@slow"},
    {"client|setname", 3, "@slow @connection"},
    {"client|getname", 2, "@slow @connection"},
    {"client|id", 2, "@slow @connection"},
    {"client|info", 2, "@slow @connection"},
    {"client|list", -2, "@admin @slow @dangerous @connection"},
    {"config|get", -3, "@admin @slow @dangerous"},
    {"command|count", 2, "@slow @connection"},
    {"command|info", -2, "@slow @connection"},
    {"command|docs", -2, "@slow @connection"},
    {"command|getkeys", -4, "@slow @connection"},
    {"command|list", -2, "@slow @connection"},
    {"memory|usage", -3, "@read @slow"},
    {"object|encoding", 3, "@keyspace @read @slow"},
    {"cluster|slots", 2, "@slow"},
    {"cluster|shards", 2, "@slow"},
    {"cluster|nodes", 2, "@slow"},
    {"cluster|info", 2, "@slow"},
    {"cluster|myid", 2, "@slow"},
    {"cluster|keyslot", 3, "@slow"},
    {"cluster|countkeysinslot", 3, "@slow"},
    {"cluster|getkeysinslot", 4, "@slow"},
    {"cluster|meet", -4, "@admin @slow @dangerous"},
    {"cluster|forget", 3, "@admin @slow @dangerous"},
};
/*
 * Redis 7.0's blocking commands that chorus does not have, with their categories. ACL knows
 * them (as Redis's does: `+xread` is a rule it takes), and ACL LIST's wording of a user
 * depends on the whole of each category: without XREAD, whose @read takes it out of
 * @blocking, a user given +@read +@write would be worded "+@read +@blocking +@write" where
 * Redis says "+@read +@write". Never executed: they are not in the command table.
 */
static const struct command_doc acl_only_docs[] = {
    {"bzpopmax", -3, "", 0, 0, 0, "@write @sortedset @fast @blocking"},
    {"bzpopmin", -3, "", 0, 0, 0, "@write @sortedset @fast @blocking"},
    {"xread", -4, "", 0, 0, 0, "@read @stream @slow @blocking"},
    {"blmpop", -5, "", 0, 0, 0, "@write @list @slow @blocking"},
    {"xreadgroup", -7, "", 0, 0, 0, "@write @stream @slow @blocking"},
    {"bzmpop", -5, "", 0, 0, 0, "@write @sortedset @slow @blocking"},
};
enum {
    ACL_SUB_COUNT = sizeof(acl_subcommand_docs) / sizeof(acl_subcommand_docs[0]),
    ACL_ONLY_COUNT = sizeof(acl_only_docs) / sizeof(acl_only_docs[0]),
    ACL_CATALOG_COUNT = COMMAND_DOC_COUNT + ACL_SUB_COUNT + ACL_ONLY_COUNT,
};
_Static_assert((int)ACL_CATALOG_COUNT <= (int)ACL_CATALOG_MAX, "the ACL bitmap is too small");

static struct acl_catalog_entry acl_entries[ACL_CATALOG_COUNT];
static struct acl_catalog acl_catalog;

/* The docs' index of a subcommand's container (the name before '|'). */
static int32_t container_index(const char *sub_name)
{
    const char *bar = strchr(sub_name, '|');
    assert(bar != NULL);
    struct resp_arg name = {.data = sub_name, .len = (size_t)(bar - sub_name)};
    const struct command_doc *d = command_doc_find(&name);
    assert(d != NULL);
    return (int32_t)(d - command_docs);
}

const struct acl_catalog *node_acl_catalog(void)
{
    if (acl_catalog.count > 0)
        return &acl_catalog;
    for (uint32_t i = 0; i < COMMAND_DOC_COUNT; i++)
        acl_entries[i] = (struct acl_catalog_entry){
            .name = command_docs[i].name,
            .categories = acl_category_mask(command_docs[i].categories), .parent = -1};
    for (uint32_t i = 0; i < ACL_SUB_COUNT; i++)
        acl_entries[COMMAND_DOC_COUNT + i] = (struct acl_catalog_entry){
            .name = acl_subcommand_docs[i].name,
            .categories = acl_category_mask(acl_subcommand_docs[i].categories),
            .parent = container_index(acl_subcommand_docs[i].name)};
    for (uint32_t i = 0; i < ACL_ONLY_COUNT; i++)
        acl_entries[COMMAND_DOC_COUNT + ACL_SUB_COUNT + i] = (struct acl_catalog_entry){
            .name = acl_only_docs[i].name,
            .categories = acl_category_mask(acl_only_docs[i].categories), .parent = -1};
    acl_catalog = (struct acl_catalog){.entries = acl_entries, .count = ACL_CATALOG_COUNT};
    return &acl_catalog;
}

int32_t node_acl_command_id(const struct resp_arg *argv, uint32_t argc, char *name, size_t cap)
{
    const struct command_doc *d = command_doc_find(&argv[0]);
    if (d == NULL) {
        /* Every command of the table has a doc (COMMAND INFO): this is not reached. */
        snprintf(name, cap, "%.*s", (int)(argv[0].len < 32 ? argv[0].len : 32), argv[0].data);
        return -1;
    }
    int32_t id = (int32_t)(d - command_docs);
    snprintf(name, cap, "%s", d->name);
    if (argc < 2)
        return id;
    /* A known subcommand has its own bit; an unknown one is checked as its container (the
     * container then answers that it does not know it). At most ACL_SUB_COUNT steps. */
    size_t container_len = strlen(d->name);
    for (uint32_t i = 0; i < ACL_SUB_COUNT; i++) {
        const char *sub = acl_subcommand_docs[i].name;
        if (strncmp(sub, d->name, container_len) != 0 || sub[container_len] != '|' ||
            !node_arg_is(&argv[1], sub + container_len + 1))
            continue;
        snprintf(name, cap, "%s", sub);
        int arity = acl_subcommand_docs[i].arity;
        /* Redis checks a subcommand's arity before its permissions. */
        if ((arity > 0 && argc != (uint32_t)arity) || (arity < 0 && argc < (uint32_t)-arity))
            return NODE_ACL_ARITY;
        return (int32_t)(COMMAND_DOC_COUNT + i);
    }
    return id;
}

/* Every key of the command (the ones COMMAND GETKEYS reports) matches the user's patterns. */
bool node_acl_keys_permitted(const struct acl_user *user, const struct resp_arg *argv,
                             uint32_t argc)
{
    if (user->allkeys)
        return true;
    const struct command_doc *d = command_doc_resolve(argv, argc);
    uint32_t first = 0, count = 0, extra = 0;
    if (d != NULL && strstr(d->flags, "movablekeys") != NULL) {
        if (!node_types_movable_keys(argv, argc, &first, &count, &extra))
            return true; /* the command fails on its arguments, touching no key */
        if (extra > 0 &&
            !acl_key_allowed(user, (const uint8_t *)argv[extra].data, argv[extra].len))
            return false;
        for (uint32_t i = 0; i < count; i++)
            if (!acl_key_allowed(user, (const uint8_t *)argv[first + i].data, argv[first + i].len))
                return false;
        return true;
    }
    if (d == NULL || d->first_key == 0 || !arity_ok(d, argc))
        return true;
    int64_t last = d->last_key < 0 ? (int64_t)argc + d->last_key : d->last_key;
    for (int64_t i = d->first_key; i <= last && i < argc; i += d->step)
        if (!acl_key_allowed(user, (const uint8_t *)argv[i].data, argv[i].len))
            return false;
    return true;
}
