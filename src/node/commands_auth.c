/*
 * commands_auth.c — client authentication as Redis 7 does it for its default user: AUTH,
 * HELLO's AUTH option (commands_info.c calls node_auth_attempt), the NOAUTH gate
 * (commands.c), protected mode at accept and the holding of a connection's input after wrong
 * passwords (server.c). The decisions themselves are auth.c's.
 *
 * Replies are Redis's byte for byte (tests/checks/node_auth.sh compares them with Debian's
 * redis-server). The password never appears in a reply, a log line or INFO.
 */
#include <string.h>

#include "node/commands.h"

enum { NODE_AUTH_DENIED_LINGER_MS = 2000 };

static const char wrongpass[] = "WRONGPASS invalid username-password pair or user is disabled.";

/* Redis's authRequired: the default user lets nobody in without AUTH unless it is on and
 * nopass (its password is --requirepass until ACL SETUSER default changes it). */
static bool password_set(const struct node *node)
{
    return !node_acl_default_open(node);
}

bool node_auth_accept(struct node_client *client)
{
    struct node *node = client->node;
    client->authenticated = !password_set(node);
    struct sockaddr_storage peer;
    int peer_len = sizeof(peer);
    memset(&peer, 0, sizeof(peer));
    if (uv_tcp_getpeername(&client->tcp, (struct sockaddr *)&peer, &peer_len) != 0)
        peer.ss_family = AF_UNSPEC; /* unknown: refused by protected mode, like any non-local */
    if (!auth_protected_refuses(node->config.protected_mode, password_set(node),
                                (const struct sockaddr *)&peer))
        return true;
    /* Redis writes the error at accept, before any command, and closes. Here the close waits
     * for the client's (or NODE_AUTH_DENIED_LINGER_MS): closing a socket with unread input
     * sends a reset, which can destroy the error in the client's buffer before it was read. */
    node->stats.protected_refused++;
    client->denied = true;
    node->denied_count++;
    client->auth_hold_until_ms = uv_now(node->loop) + NODE_AUTH_DENIED_LINGER_MS;
    resp_reply_error(&client->out, auth_denied_text, strlen(auth_denied_text));
    node_client_flush(client);
    return false;
}

void node_auth_sweep(struct node *node, uint64_t now_ms)
{
    node_acl_sweep(node);
    if (node->denied_count == 0)
        return;
    /* Bounded by the node's connection limit, and run only while a refused one is open. */
    for (struct node_client *c = node->clients; c != NULL; c = c->next)
        if (c->denied && !c->closing && now_ms >= c->auth_hold_until_ms)
            node_client_close(c);
}

/* The loop wakes at least once per tick (node.c's tick timer), and every iteration parses
 * the input of the clients no longer held (node_clients_process_pending): a hold ends
 * within a tick of its time without a timer of its own. */
bool node_auth_holds(const struct node_client *client)
{
    if (client->stand_in)
        return false;
    uint64_t now = uv_now(client->node->loop);
    if (now < client->auth_hold_until_ms)
        return true;
    return !client->authenticated && !auth_limiter_may_check(&client->node->auth_limiter, now);
}

bool node_auth_attempt(struct node_exec *e, const struct resp_arg *user,
                       const struct resp_arg *password)
{
    struct node *node = e->node;
    struct node_client *client = e->client;
    /* An ACL user (acl.h) that is on, with this password or nopass (which accepts any).
     * User names are case-sensitive, as Redis's. */
    const struct acl_user *u = acl_find_const(node->acl, user->data, user->len);
    bool ok = u != NULL && u->enabled &&
              acl_password_ok(u, (const uint8_t *)password->data, password->len);
    if (ok) {
        client->authenticated = true;
        client->auth_failures = 0;
        memcpy(client->user, u->name, u->name_len);
        client->user_len = u->name_len;
        client->user_generation = 0; /* looked up again at the next command */
        return true;
    }
    uint64_t now = uv_now(node->loop);
    node->stats.auth_failures++;
    if (client->auth_failures < UINT32_MAX)
        client->auth_failures++;
    client->auth_hold_until_ms = now + auth_delay_ms(client->auth_failures);
    auth_limiter_failed(&node->auth_limiter, now);
    node_exec_error(e, wrongpass);
    return false;
}

/* AUTH [username] password (Redis 6+). */
void node_cmd_auth(struct node_exec *e)
{
    if (e->argc > 3) {
        node_exec_error(e, "ERR syntax error");
        return;
    }
    static const struct resp_arg default_user = {.data = "default", .len = 7};
    const struct resp_arg *user = &default_user, *password = &e->argv[1];
    if (e->argc == 2 && !password_set(e->node)) {
        node_exec_error(e, "ERR AUTH <password> called without any password configured for "
                           "the default user. Are you sure your configuration is correct?");
        return;
    }
    if (e->argc == 3) {
        user = &e->argv[1];
        password = &e->argv[2];
    }
    if (!node_auth_attempt(e, user, password))
        return;
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}
