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
    struct node_request *r = node_request_new(client);
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
    if (node_arg_is(&exec->argv[1], "0")) {
        struct resp_out *out = node_exec_out(exec);
        resp_reply_simple(out, "OK", 2);
        node_exec_done(exec, out);
        return;
    }
    node_exec_error(exec, "ERR DB index is out of range (chorus has one database)");
}

/* CLIENT SETNAME/GETNAME/ID/INFO are what client libraries send on connect. */
static void cmd_client(struct node_exec *exec)
{
    const struct resp_arg *sub = &exec->argv[1];
    struct resp_out *out = node_exec_out(exec);
    if (node_arg_is(sub, "SETNAME") || node_arg_is(sub, "SETINFO"))
        resp_reply_simple(out, "OK", 2);
    else if (node_arg_is(sub, "GETNAME"))
        resp_reply_null(out);
    else if (node_arg_is(sub, "ID"))
        resp_reply_integer(out, (int64_t)exec->client->id);
    else
        resp_reply_error(out, "ERR CLIENT subcommand not supported by chorus", 45);
    node_exec_done(exec, out);
}

static void cmd_get(struct node_exec *e) { node_cmd_read(e, NODE_READ_GET, 2); }
static void cmd_mget(struct node_exec *e) { node_cmd_read(e, NODE_READ_MGET, 2); }
static void cmd_exists(struct node_exec *e) { node_cmd_read(e, NODE_READ_EXISTS, 2); }
static void cmd_strlen(struct node_exec *e) { node_cmd_read(e, NODE_READ_STRLEN, 2); }
static void cmd_dbsize(struct node_exec *e) { node_cmd_read(e, NODE_READ_DBSIZE, 1); }
static void cmd_scan(struct node_exec *e) { node_cmd_read(e, NODE_READ_SCAN, 2); }

struct node_command {
    const char *name;
    int arity; /* Redis convention: > 0 exact, < 0 at least -arity */
    void (*run)(struct node_exec *exec);
};

static const struct node_command commands[] = {
    {"PING", -1, cmd_ping},       {"ECHO", 2, cmd_echo},        {"QUIT", -1, cmd_quit},
    {"SELECT", 2, cmd_select},    {"CLIENT", -2, cmd_client},   {"GET", 2, cmd_get},
    {"MGET", -2, cmd_mget},       {"EXISTS", -2, cmd_exists},   {"STRLEN", 2, cmd_strlen},
    {"DBSIZE", 1, cmd_dbsize},    {"SCAN", -2, cmd_scan},       {"SET", -3, node_cmd_write},
    {"SETNX", 3, node_cmd_write}, {"GETSET", 3, node_cmd_write},{"GETDEL", 2, node_cmd_write},
    {"DEL", -2, node_cmd_write},  {"UNLINK", -2, node_cmd_write},{"INCR", 2, node_cmd_write},
    {"DECR", 2, node_cmd_write},  {"INCRBY", 3, node_cmd_write},{"DECRBY", 3, node_cmd_write},
    {"APPEND", 3, node_cmd_write},{"MSET", -3, node_cmd_write}, {"MSETNX", -3, node_cmd_write},
    {"CAS", 4, node_cmd_write},   {"INFO", -1, node_cmd_info},  {"HELLO", -1, node_cmd_hello},
    {"COMMAND", -1, node_cmd_command}, {"CONFIG", -2, node_cmd_config},
};

static const struct node_command *command_find(const struct resp_arg *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (node_arg_is(name, commands[i].name))
            return &commands[i];
    return NULL;
}

/* Redis: "ERR unknown command 'x', with args beginning with: 'a' 'b' " */
static void unknown_command(struct node_exec *exec)
{
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof(text), "ERR unknown command '%.*s', with args beginning with: ",
                                (int)(exec->argv[0].len > 64 ? 64 : exec->argv[0].len),
                                exec->argv[0].data);
    for (uint32_t i = 1; i < exec->argc && n < sizeof(text) - 80; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "'%.*s' ",
                              (int)(exec->argv[i].len > 64 ? 64 : exec->argv[i].len),
                              exec->argv[i].data);
    node_exec_error(exec, text);
}

void node_command_execute(struct node_client *client, const struct resp_command *command)
{
    struct node_exec exec = {.client = client, .node = client->node, .argv = command->argv,
                             .argc = command->argc};
    assert(command->argc > 0);
    client->node->stats.commands++;
    const struct node_command *c = command_find(&command->argv[0]);
    if (c == NULL) {
        unknown_command(&exec);
        return;
    }
    if ((c->arity > 0 && (int64_t)command->argc != c->arity) ||
        (c->arity < 0 && (int64_t)command->argc < -c->arity)) {
        node_exec_wrong_arity(&exec);
        return;
    }
    c->run(&exec);
}
