/*
 * stream.c — replies too large to build in one loop iteration, sent as they are built.
 *
 * An MGET of many 1 MiB values makes a reply of tens of MiB; built at once it held the loop
 * for hundreds of milliseconds and peers took the node for dead (election timeouts are 150 ms
 * by default). Instead the reply is written straight into the client's output, a few values
 * per iteration, from one LMDB read transaction held across iterations, so the values are one
 * consistent snapshot however long the streaming takes (LMDB's MVCC: writes of other clients
 * apply meanwhile without being seen).
 *
 * Why this is allowed: a read is served only at the head of its client's FIFO
 * (requests.c), so nothing else of that client can reach its output before the read is
 * done, and the client's later writes wait for it (its reads_started counter). Work per
 * iteration is bounded by NODE_SERVE_BYTES_PER_ITERATION across all replies, and a client
 * whose output holds more than NODE_CLIENT_OUT_SOFT_BYTES gets nothing more until it drains.
 */
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"

struct node_stream {
    struct kv_read read;
    uint32_t argc;
    uint32_t next;         /* the next argument (key) to serve */
    struct resp_arg *argv; /* into the request's payload */
};

bool node_stream_wanted(const struct node_request *r)
{
    return r->read_kind == NODE_READ_MGET;
}

static void stream_end(struct node_request *r)
{
    struct node_stream *s = r->stream;
    kv_read_end(&s->read);
    free(s->argv);
    free(s);
    r->stream = NULL;
}

/* Serves what the budget allows of an MGET at the head of its client. Returns true when the
 * reply is complete (the request is then completed, with its bytes already in the output). */
bool node_stream_step(struct node *node, struct node_request *r)
{
    struct node_client *client = r->client;
    assert(client != NULL && client->head == r);
    if (r->stream == NULL) {
        struct node_stream *s = calloc(1, sizeof(*s));
        assert(s != NULL);
        if (kv_read_begin(r->group->kv, &s->read) != KV_OK) {
            free(s);
            node_request_fail(node, r, "-ERR storage read failed");
            return true;
        }
        s->argv = node_read_args_unpack(r, &s->argc);
        s->next = 1;
        r->stream = s;
        resp_reply_array(&client->out, s->argc - 1);
    }
    struct node_stream *s = r->stream;
    while (s->next < s->argc) {
        if (node->served_bytes_iteration >= NODE_SERVE_BYTES_PER_ITERATION ||
            client->out.len >= NODE_CLIENT_OUT_SOFT_BYTES) {
            node_client_flush(client);
            return false;
        }
        const struct resp_arg *key = &s->argv[s->next++];
        struct kv_bytes value = {0};
        bool found = false;
        if (kv_read_get(&s->read, (const uint8_t *)key->data, key->len, &value, &found) !=
            KV_OK)
            found = false; /* the reply is under way: a storage fault cannot become an error;
                            * a key of another type is null in MGET's reply, as in Redis */
        if (found)
            resp_reply_bulk(&client->out, value.data, value.len);
        else
            resp_reply_null(&client->out);
        node->served_bytes_iteration += value.len + 16;
    }
    stream_end(r);
    node_request_complete(node, r);
    return true;
}

/* The client went away while its reply streamed: the snapshot is released. */
void node_stream_abandon(struct node_request *r)
{
    if (r->stream != NULL)
        stream_end(r);
}
