/*
 * commands_client.c — CLIENT SETNAME, GETNAME, ID, INFO, LIST and the client name of HELLO,
 * with Redis 7's checks and error texts. A name lives in the connection (struct node_client)
 * in a fixed buffer: chorus bounds names to sizeof(client->name) - 1 bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"

enum { NODE_CLIENT_LINE_BYTES_MAX = 1024 };

/* Redis's validateClientName: printable ASCII without spaces, or empty (no name). Returns
 * the error text, or NULL when the name is acceptable. */
const char *node_client_name_check(const struct resp_arg *name)
{
    for (size_t i = 0; i < name->len; i++)
        if (name->data[i] < '!' || name->data[i] > '~')
            return "ERR Client names cannot contain spaces, newlines or special characters.";
    if (name->len >= sizeof(((struct node_client *)0)->name))
        return "ERR client name too long: chorus keeps at most 127 bytes";
    return NULL;
}

void node_client_name_set(struct node_client *client, const struct resp_arg *name)
{
    assert(name->len < sizeof(client->name));
    memcpy(client->name, name->data, name->len);
    client->name_len = (uint8_t)name->len;
}

static size_t address_text(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
    char host[64] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(in6, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    return (size_t)snprintf(buf, cap, "%s:%d", host, port);
}

/* One line of CLIENT LIST / CLIENT INFO, in Redis's field order for the fields chorus has. */
static size_t client_line(const struct node_client *c, char *buf, size_t cap)
{
    struct sockaddr_storage peer, local;
    int peer_len = sizeof(peer), local_len = sizeof(local);
    memset(&peer, 0, sizeof(peer));
    memset(&local, 0, sizeof(local));
    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &peer_len);
    uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&local, &local_len);
    char addr[80], laddr[80];
    address_text(&peer, addr, sizeof(addr));
    address_text(&local, laddr, sizeof(laddr));
    uv_os_fd_t fd = -1;
    uv_fileno((const uv_handle_t *)&c->tcp, &fd);
    int n = snprintf(buf, cap,
                     "id=%llu addr=%s laddr=%s fd=%d name=%.*s age=0 idle=0 flags=N db=0 sub=0 "
                     "psub=0 ssub=0 multi=-1 qbuf=%zu obl=%zu oll=%u events=r cmd=client "
                     "user=%.*s redir=-1 resp=%d\n",
                     (unsigned long long)c->id, addr, laddr, (int)fd, (int)c->name_len, c->name,
                     c->in_len, c->out.len, c->waiting, (int)c->user_len, c->user,
                     c->out.protocol);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

static void client_arity(struct node_exec *e, const char *sub)
{
    char text[128];
    snprintf(text, sizeof(text), "ERR wrong number of arguments for 'client|%s' command", sub);
    node_exec_error(e, text);
}

static void client_list(struct node_exec *e)
{
    char line[NODE_CLIENT_LINE_BYTES_MAX];
    size_t total = 0;
    /* Two passes over the client list (bounded by the node's connection limit): size, copy. */
    for (const struct node_client *c = e->node->clients; c != NULL; c = c->next)
        total += client_line(c, line, sizeof(line));
    char *text = malloc(total + 1);
    assert(text != NULL);
    size_t at = 0;
    for (const struct node_client *c = e->node->clients; c != NULL && at < total; c = c->next) {
        size_t n = client_line(c, line, sizeof(line));
        if (at + n > total)
            n = total - at;
        memcpy(text + at, line, n);
        at += n;
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_bulk(out, text, at);
    node_exec_done(e, out);
    free(text);
}

void node_cmd_client(struct node_exec *e)
{
    const struct resp_arg *sub = &e->argv[1];
    struct node_client *client = e->client;
    if (node_arg_is(sub, "SETNAME")) {
        if (e->argc != 3)
            return client_arity(e, "setname");
        const char *error = node_client_name_check(&e->argv[2]);
        if (error != NULL)
            return node_exec_error(e, error);
        node_client_name_set(client, &e->argv[2]);
        struct resp_out *out = node_exec_out(e);
        resp_reply_simple(out, "OK", 2);
        return node_exec_done(e, out);
    }
    if (node_arg_is(sub, "GETNAME") || node_arg_is(sub, "ID") || node_arg_is(sub, "INFO")) {
        if (e->argc != 2)
            return client_arity(e, node_arg_is(sub, "ID") ? "id" :
                                   node_arg_is(sub, "INFO") ? "info" : "getname");
        struct resp_out *out = node_exec_out(e);
        if (node_arg_is(sub, "ID")) {
            resp_reply_integer(out, (int64_t)client->id);
        } else if (node_arg_is(sub, "INFO")) {
            char line[NODE_CLIENT_LINE_BYTES_MAX];
            resp_reply_bulk(out, line, client_line(client, line, sizeof(line)));
        } else if (client->name_len == 0) {
            resp_reply_null(out);
        } else {
            resp_reply_bulk(out, client->name, client->name_len);
        }
        return node_exec_done(e, out);
    }
    if (node_arg_is(sub, "LIST")) {
        if (e->argc >= 4 && (node_arg_is(&e->argv[2], "TYPE") || node_arg_is(&e->argv[2], "ID")))
            return node_exec_error(e, "ERR CLIENT LIST filters (TYPE, ID) are not supported by chorus");
        if (e->argc != 2)
            return node_exec_error(e, "ERR syntax error");
        return client_list(e);
    }
    if (node_arg_is(sub, "SETINFO")) {
        /* Redis 7.2's library name and version: accepted and not kept. */
        struct resp_out *out = node_exec_out(e);
        resp_reply_simple(out, "OK", 2);
        return node_exec_done(e, out);
    }
    char text[256];
    snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
             (int)(sub->len > 128 ? 128 : sub->len), sub->data);
    node_exec_error(e, text);
}
