/*
 * commands_chain.c — the keyless reads that cover the whole cluster when S > 1: DBSIZE, KEYS
 * and RANDOMKEY.
 *
 * Such a read is one request that visits the shards one after another, in its client's
 * order: it is served on a shard's group (a linearizable read through ReadIndex, as any
 * read), its part is kept, and it starts again on the next shard's group; the reply goes out
 * when the last shard answered. DBSIZE sums the shards' counts, KEYS concatenates their keys,
 * RANDOMKEY starts at a random shard and stops at the first that has a key; FLUSHALL (S > 1)
 * empties the shards in turn (commands_kv.c) and joins this when it meets a shard without a
 * replica here. A shard without a replica on this node gets its part relayed to a node that
 * holds one (proxy.c), kept to that shard. Each shard's part
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
    enum node_read_kind kind;
    uint8_t *relay;      /* the command as RESP, for shards without a replica here */
    uint32_t relay_len;
};

bool node_chain_wanted(const struct node *node, const struct node_client *client,
                       enum node_read_kind kind)
{
    /* A stand-in told to keep to one shard serves only that shard's part (proxy.c). */
    if (client != NULL && client->stand_in_scope != 0)
        return false;
    return node->cluster_mode &&
           (kind == NODE_READ_DBSIZE || kind == NODE_READ_KEYS || kind == NODE_READ_RANDOMKEY);
}

/* The shard a chained read starts in. */
uint32_t node_chain_first_shard(const struct node *node, enum node_read_kind kind)
{
    if (kind != NODE_READ_RANDOMKEY)
        return 0;
    return (uint32_t)(node_random_u64() % node->topology->shard_count);
}

void node_chain_free(struct node_request *r)
{
    if (r->chain == NULL)
        return;
    resp_out_free(&r->chain->body);
    free(r->chain->relay);
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
    if (kind == NODE_READ_NONE && part->len == 5 && memcmp(part->data, "+OK\r\n", 5) == 0) {
        if (last)
            resp_reply_simple(out, "OK", 2); /* FLUSHALL: every shard emptied */
        return last;
    }
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
    if (kind == NODE_READ_RANDOMKEY && part->len > 1 &&
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

/* Where the chain goes after its part on `shard` was absorbed: the next shard's group, or
 * relayed to a node holding it (proxy.c). */
static void chain_continue(struct node *node, struct node_request *r, uint32_t next)
{
    if (r->chain_write && node->groups[next] != NULL) {
        r->proxied = false;
        node_request_restart_write(node, r, node->groups[next]);
        return;
    }
    if (node->groups[next] != NULL) {
        r->proxied = false;
        node_request_restart_read(node, r, node->groups[next]);
        return;
    }
    r->proxied = true;
    r->proxy_read = true;
    r->proxy_shard = next;
    node_request_restart_relay(node, r);
}

/* One shard's answer (`part`, encoded) joins the chain; the request completes or goes on. */
static void chain_take(struct node *node, struct node_request *r, uint32_t shard,
                       struct resp_out *part)
{
    struct node_chain *c = r->chain;
    c->visited++;
    uint32_t shards = node->topology->shard_count;
    bool last = c->visited == shards;
    resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX, c->body.protocol);
    if (chain_absorb(c, c->kind, part, &r->reply_out, last)) {
        r->has_reply_out = true;
        node_chain_free(r);
        node_request_complete(node, r);
        return;
    }
    resp_out_free(&r->reply_out);
    chain_continue(node, r, (shard + 1) % shards);
}

static void chain_begin(struct node_request *r, const struct resp_arg *argv, uint32_t argc,
                        enum node_read_kind kind)
{
    if (r->chain != NULL)
        return;
    r->chain = calloc(1, sizeof(*r->chain));
    assert(r->chain != NULL);
    struct node_chain *c = r->chain;
    c->kind = kind;
    resp_out_init(&c->body, NODE_REPLY_BYTES_MAX, r->client != NULL ? r->client->out.protocol : 2);
    struct resp_out relay;
    resp_out_init(&relay, CN_ENTRY_DATA_BYTES_MAX, 2);
    resp_reply_array(&relay, argc);
    for (uint32_t i = 0; i < argc; i++)
        resp_reply_bulk(&relay, argv[i].data, argv[i].len);
    c->relay = relay.data; /* taken over; the arguments are small (a pattern at most) */
    c->relay_len = (uint32_t)relay.len;
}

/* Serves the read's part on its current group, then completes the request or starts it
 * again on the next shard. */
void node_chain_step(struct node *node, struct node_request *r, const struct resp_arg *argv,
                     uint32_t argc)
{
    chain_begin(r, argv, argc, (enum node_read_kind)r->read_kind);
    struct resp_out part;
    resp_out_init(&part, NODE_REPLY_BYTES_MAX, r->chain->body.protocol);
    node_read_serve(r->group, &part, r->chain->kind, argv, argc);
    uint32_t shard = r->group->id;
    chain_take(node, r, shard, &part);
    resp_out_free(&part);
}

/* A relayed part came back (proxy.c): the bytes of one reply. */
void node_chain_on_relayed(struct node *node, struct node_request *r, const uint8_t *reply,
                           size_t len)
{
    assert(r->chain != NULL && r->proxied);
    struct resp_out part;
    resp_out_init(&part, NODE_REPLY_BYTES_MAX, r->chain->body.protocol);
    resp_reply_raw(&part, reply, len);
    chain_take(node, r, r->proxy_shard, &part);
    resp_out_free(&part);
}

/* A chained read starts on a shard without a replica here: its first part is relayed. */
void node_chain_start_relayed(struct node *node, struct node_request *r, uint32_t shard)
{
    uint32_t argc;
    struct resp_arg *argv = node_read_args_unpack(r, &argc);
    chain_begin(r, argv, argc, (enum node_read_kind)r->read_kind);
    free(argv);
    r->proxied = true;
    r->proxy_read = true;
    r->proxy_shard = shard;
    node_proxy_start(node, r);
}

const uint8_t *node_chain_relay_command(const struct node_request *r, uint32_t *len)
{
    assert(r->chain != NULL);
    *len = r->chain->relay_len;
    return r->chain->relay;
}

/* FLUSHALL reached a shard without a replica here, after emptying `done` shards: the rest is
 * relayed shard by shard (each part a FLUSHALL kept to one shard). */
void node_chain_write_relay(struct node *node, struct node_request *r, uint32_t done)
{
    static const struct resp_arg flushall = {.data = "FLUSHALL", .len = 8};
    chain_begin(r, &flushall, 1, NODE_READ_NONE);
    r->chain->visited = done;
    chain_continue(node, r, done);
}
