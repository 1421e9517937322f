/*
 * tls.c — TLS for client connections (tls.h): the engine of net/tls.h fed from a connection's
 * socket reads, its plaintext appended to client->in, client->out sealed into ciphertext.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "node/node_internal.h"
#include "node/tls.h"

enum {
    /* A ciphertext buffer that grew for one large reply is given back once it is idle. */
    NODE_TLS_CT_KEEP_BYTES = 1u << 20,
};

struct node_tls_conn {
    struct net_tls_conn *engine;
    uint8_t *ct;  /* the ciphertext handed to the write in flight */
    size_t ct_cap;
    uint8_t read_buf[NODE_TLS_READ_BYTES];
};

struct net_tls_context *node_tls_context_new(const struct node_tls_files *files, char *error,
                                              size_t error_len)
{
    struct net_tls_files net = {.cert = files->cert, .key = files->key, .ca = files->ca,
                                .verify = files->ca == NULL ? NET_TLS_VERIFY_NONE
                                                            : (enum net_tls_verify)files->auth_clients};
    return net_tls_context_new(&net, error, error_len);
}

struct node_tls_conn *node_tls_conn_new(struct net_tls_context *context)
{
    struct node_tls_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    conn->engine = net_tls_conn_new(context, true);
    if (conn->engine == NULL) {
        free(conn);
        return NULL;
    }
    return conn;
}

void node_tls_conn_free(struct node_tls_conn *conn)
{
    if (conn == NULL)
        return;
    net_tls_conn_free(conn->engine);
    free(conn->ct);
    free(conn);
}

uint8_t *node_tls_read_buffer(struct node_tls_conn *conn, size_t *len)
{
    *len = sizeof(conn->read_buf);
    return conn->read_buf;
}

bool node_tls_established(const struct node_tls_conn *conn)
{
    return net_tls_established(conn->engine);
}

/* Room for one more record's plaintext at the end of client->in. */
static void in_reserve(struct node_client *client)
{
    if (client->in_capacity - client->in_len >= NET_TLS_RECORD_BYTES)
        return;
    size_t capacity = client->in_len + NET_TLS_RECORD_BYTES + NODE_READ_BYTES;
    client->in = realloc(client->in, capacity);
    assert(client->in != NULL);
    client->in_capacity = capacity;
}

int node_tls_receive(struct node_client *client, size_t len, const char **reason)
{
    struct node_tls_conn *conn = client->tls;
    assert(len <= sizeof(conn->read_buf));
    if (net_tls_feed(conn->engine, conn->read_buf, len) != 0) {
        *reason = net_tls_reason(conn->engine);
        return -1;
    }
    int rv = net_tls_handshake(conn->engine);
    if (rv <= 0) {
        *reason = net_tls_reason(conn->engine);
        return rv;
    }
    /* Bounded: every pass takes plaintext out of the read BIO, which holds at most one socket
     * read's ciphertext. */
    for (;;) {
        in_reserve(client);
        int64_t n = net_tls_read(conn->engine, client->in + client->in_len,
                                 client->in_capacity - client->in_len);
        if (n == 0)
            return 0;
        if (n < 0) {
            *reason = net_tls_reason(conn->engine);
            return -1;
        }
        client->in_len += (size_t)n;
    }
}

int node_tls_seal(struct node_client *client, const uint8_t **data, size_t *len)
{
    struct node_tls_conn *conn = client->tls;
    if (net_tls_established(conn->engine) && client->out.len > 0) {
        if (net_tls_write(conn->engine, client->out.data, client->out.len) != 0)
            return -1;
        client->out.len = 0;
    }
    size_t pending = net_tls_pending(conn->engine);
    if (conn->ct_cap > NODE_TLS_CT_KEEP_BYTES && pending <= NODE_TLS_CT_KEEP_BYTES) {
        free(conn->ct);
        conn->ct = NULL;
        conn->ct_cap = 0;
    }
    if (pending > conn->ct_cap) {
        uint8_t *ct = realloc(conn->ct, pending);
        if (ct == NULL)
            return -1;
        conn->ct = ct;
        conn->ct_cap = pending;
    }
    if (net_tls_take(conn->engine, conn->ct, pending) != 0)
        return -1;
    *data = conn->ct;
    *len = pending;
    return 0;
}
