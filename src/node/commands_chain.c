/*
 * commands_chain.c — the keyless reads that cover the whole cluster when S > 1: DBSIZE, KEYS
 * and RANDOMKEY.
 *
 * Such a read is one request that visits the shards one after another, in its client's
 * order: it is served on a shard's group (a linearizable read through ReadIndex, as any
 * read), its part is kept, and it starts again on the next shard's group; the reply goes out
 * when the last shard answered. DBSIZE sums the shards' counts, KEYS concatenates their keys,
 * RANDOMKEY starts at a random shard and stops at the first that has a key. Each shard's part
 * is linearizable; the whole is not one snapshot of the cluster (neither is Redis Cluster's,
 * where a client asks every master in turn). SCAN needs no chain: its cursor names the shard
 * it resumes in (commands_scan.c).
 */
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"

/* What the shards visited so far answered. */
struct node_chain {
    uint32_t visited;
    uint64_t count;      /* DBSIZE: keys; KEYS: keys gathered in body */
    struct resp_out body;
};

bool node_chain_wanted(const struct node *node, enum node_read_kind kind)
{
    return node->cluster_mode &&
           (kind == NODE_READ_DBSIZE || kind == NODE_READ_KEYS || kind == NODE_READ_RANDOMKEY);
}

/* The shard a chained read starts in. */
uint32_t node_chain_first_shard(const struct node *node, enum node_read_kind kind)
{
    if (kind != NODE_READ_RANDOMKEY)
        return 0;
    return (uint32_t)(((uint64_t)rand() * node->topology->shard_count) / ((uint64_t)RAND_MAX + 1));
}

void node_chain_free(struct node_request *r)
{
    if (r->chain == NULL)
        return;
    resp_out_free(&r->chain->body);
    free(r->chain);
    r->chain = NULL;
}

/* The integer or array count at the head of an encoded reply (":N" or "*N"). */
static bool reply_number(const struct resp_out *part, char type, uint64_t *value, size_t *header)
{
    if (part->len < 4 || part->data[0] != type)
        return false;
    uint64_t v = 0;
    size_t i = 1;
    while (i < part->len && part->data[i] >= '0' && part->data[i] <= '9')
        v = v * 10 + (uint64_t)(part->data[i++] - '0');
    if (i + 1 >= part->len || part->data[i] != '\r' || part->data[i + 1] != '\n')
        return false;
    *value = v;
    *header = i + 2;
    return true;
}

/* Adds one shard's answer. Returns true when the reply is complete (written to out). */
static bool chain_absorb(struct node_chain *c, enum node_read_kind kind, struct resp_out *part,
                         struct resp_out *out, bool last)
{
    uint64_t n;
    size_t header;
    if (kind == NODE_READ_DBSIZE && reply_number(part, ':', &n, &header)) {
        c->count += n;
        if (last)
            resp_reply_integer(out, (int64_t)c->count);
        return last;
    }
    if (kind == NODE_READ_KEYS && reply_number(part, '*', &n, &header)) {
        c->count += n;
        resp_reply_raw(&c->body, part->data + header, part->len - header);
        if (last) {
            resp_reply_array(out, c->count);
            resp_reply_raw(out, c->body.data, c->body.len);
        }
        return last;
    }
    if (kind == NODE_READ_RANDOMKEY && part->len > 0 &&
        (part->data[0] == '$' && part->data[1] == '-')) {
        if (last)
            resp_reply_null(out);
        return last; /* this shard is empty: the next one may not be */
    }
    if (kind == NODE_READ_RANDOMKEY && part->len > 0 && part->data[0] == '_') {
        if (last)
            resp_reply_null(out);
        return last;
    }
    /* A key (RANDOMKEY), or an error: that is the reply. */
    resp_reply_raw(out, part->data, part->len);
    return true;
}

/* Serves the read's part on its current group; then either completes the request or starts
 * it again on the next shard. */
void node_chain_step(struct node *node, struct node_request *r, const struct resp_arg *argv,
                     uint32_t argc)
{
    enum node_read_kind kind = (enum node_read_kind)r->read_kind;
    if (r->chain == NULL) {
        r->chain = calloc(1, sizeof(*r->chain));
        assert(r->chain != NULL);
        resp_out_init(&r->chain->body, NODE_REPLY_BYTES_MAX,
                      r->client != NULL ? r->client->out.protocol : 2);
    }
    struct node_chain *c = r->chain;
    struct resp_out part;
    resp_out_init(&part, NODE_REPLY_BYTES_MAX, c->body.protocol);
    node_read_serve(r->group, &part, kind, argv, argc);
    c->visited++;
    uint32_t shards = node->topology->shard_count;
    uint32_t next = (r->group->id + 1) % shards;
    bool last = c->visited == shards;
    resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX, c->body.protocol);
    bool complete = chain_absorb(c, kind, &part, &r->reply_out, last);
    resp_out_free(&part);
    if (!complete && node->groups[next] == NULL) {
        resp_out_free(&r->reply_out);
        resp_out_init(&r->reply_out, 4096, c->body.protocol);
        static const char text[] = "ERR this node holds no replica of some shard; ask a node "
                                   "that holds every shard, or each shard's leader";
        resp_reply_error(&r->reply_out, text, sizeof(text) - 1);
        complete = true;
    }
    if (complete) {
        r->has_reply_out = true;
        node_chain_free(r);
        node_request_complete(node, r);
        return;
    }
    resp_out_free(&r->reply_out);
    node_request_restart_read(node, r, node->groups[next]);
}
