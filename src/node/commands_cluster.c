/*
 * commands_cluster.c — CLUSTER, ASKING, READONLY and READWRITE: what Redis Cluster's clients
 * ask to learn where slots live (docs/sharding.md, "Serving clients").
 *
 * SLOTS, SHARDS, NODES, INFO and MYID are rendered by src/cluster/cluster_reply.h from the
 * topology and this node's view of who leads each shard now: its own core's for a shard it
 * hosts, else the leader named in the node beats (quiesce.c, with terms so that a stale beat
 * cannot bring back an old leader), else the shard's preferred leader. CLUSTER SLOTS lists each shard's leader alone
 * (docs/sharding.md, "Cluster clients and roles": a client that takes a node's role from
 * CLUSTER SLOTS would otherwise see a node that leads one shard and follows in another as a
 * replica). KEYSLOT is slot_of_key; COUNTKEYSINSLOT and GETKEYSINSLOT are linearizable reads
 * through the slot's shard. ASKING, READONLY and READWRITE answer OK: no slot is ever being
 * migrated (so ASK never happens), and every read is linearizable on any node.
 *
 * With one shard (S = 1) chorus is a standalone Redis, and these answer as one does.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_reply.h"
#include "cluster/slot.h"
#include "net/transport.h"
#include "node/commands.h"

static const char error_disabled[] = "ERR This instance has cluster support disabled";

static void view_fill(struct node *node, struct cluster_view *view, uint32_t *leaders)
{
    for (uint32_t s = 0; s < node->topology->shard_count; s++)
        leaders[s] = node_shard_leader(node, s);
    *view = (struct cluster_view){.topology = node->topology, .leaders = leaders,
                                  .myself = node->config.id, .slots_leaders_only = true};
}

/* A slot number argument as Redis parses it. */
static bool slot_parse(const struct resp_arg *arg, uint32_t *slot)
{
    char text[16];
    if (arg->len == 0 || arg->len >= sizeof(text))
        return false;
    memcpy(text, arg->data, arg->len);
    text[arg->len] = '\0';
    char *end;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 0 || v >= SLOT_COUNT)
        return false;
    *slot = (uint32_t)v;
    return true;
}

static void cluster_keyslot(struct node_exec *e)
{
    if (e->argc != 3) {
        node_exec_error(e, "ERR wrong number of arguments for 'cluster|keyslot' command");
        return;
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_integer(out, slot_of_key(e->argv[2].data, e->argv[2].len));
    node_exec_done(e, out);
}

/* COUNTKEYSINSLOT slot, GETKEYSINSLOT slot count: reads of the slot's shard. */
static void cluster_slot_read(struct node_exec *e, enum node_read_kind kind, uint32_t argc)
{
    if (e->argc != argc) {
        node_exec_error(e, kind == NODE_READ_COUNTKEYSINSLOT
                               ? "ERR wrong number of arguments for 'cluster|countkeysinslot' command"
                               : "ERR wrong number of arguments for 'cluster|getkeysinslot' command");
        return;
    }
    uint32_t slot;
    if (!slot_parse(&e->argv[2], &slot)) {
        node_exec_error(e, "ERR Invalid slot");
        return;
    }
    if (kind == NODE_READ_GETKEYSINSLOT) {
        char text[24];
        size_t len = e->argv[3].len < sizeof(text) - 1 ? e->argv[3].len : sizeof(text) - 1;
        memcpy(text, e->argv[3].data, len);
        text[len] = '\0';
        char *end;
        long long count = strtoll(text, &end, 10);
        if (len == 0 || *end != '\0' || count < 0) {
            node_exec_error(e, "ERR Invalid number of keys");
            return;
        }
    }
    e->read_only = true;
    struct node_group *group = node_route_slot(e, slot);
    if (group != NULL)
        node_read_start(e, kind, group);
}

static void cluster_render(struct node_exec *e, const struct resp_arg *sub)
{
    struct node *node = e->node;
    uint32_t *leaders = calloc(node->topology->shard_count, sizeof(*leaders));
    assert(leaders != NULL);
    struct cluster_view view;
    view_fill(node, &view, leaders);
    struct resp_out *out = node_exec_out(e);
    if (node_arg_is(sub, "SLOTS")) {
        cluster_reply_slots(out, &view);
    } else if (node_arg_is(sub, "SHARDS")) {
        cluster_reply_shards(out, &view);
    } else if (node_arg_is(sub, "NODES")) {
        cluster_reply_nodes(out, &view);
    } else if (node_arg_is(sub, "MYID")) {
        cluster_reply_myid(out, &view);
    } else {
        struct transport_stats ts = {0};
        if (node->transport != NULL)
            transport_stats(node->transport, &ts);
        struct cluster_info_stats stats = {.messages_sent = ts.messages_sent,
                                           .messages_received = ts.messages_received};
        cluster_reply_info(out, &view, &stats);
    }
    node_exec_done(e, out);
    free(leaders);
}

void node_cmd_cluster(struct node_exec *e)
{
    /* Membership (membership.c), with one shard as with more. */
    if (node_arg_is(&e->argv[1], "MEET")) {
        node_members_meet(e);
        return;
    }
    if (node_arg_is(&e->argv[1], "FORGET")) {
        node_members_forget(e);
        return;
    }
    if (node_arg_is(&e->argv[1], "MEMBERS")) {
        node_members_status(e);
        return;
    }
    if (node_members_removed(e->node)) {
        node_exec_error(e, "ERR this node was removed from the cluster");
        return;
    }
    if (!e->node->cluster_mode) {
        node_exec_error(e, error_disabled);
        return;
    }
    const struct resp_arg *sub = &e->argv[1];
    if (node_arg_is(sub, "KEYSLOT")) {
        cluster_keyslot(e);
    } else if (node_arg_is(sub, "COUNTKEYSINSLOT")) {
        cluster_slot_read(e, NODE_READ_COUNTKEYSINSLOT, 3);
    } else if (node_arg_is(sub, "GETKEYSINSLOT")) {
        cluster_slot_read(e, NODE_READ_GETKEYSINSLOT, 4);
    } else if (node_arg_is(sub, "SLOTS") || node_arg_is(sub, "SHARDS") ||
               node_arg_is(sub, "NODES") || node_arg_is(sub, "MYID") ||
               node_arg_is(sub, "INFO")) {
        if (e->argc != 2) {
            node_exec_error(e, "ERR wrong number of arguments for 'cluster' command");
            return;
        }
        cluster_render(e, sub);
    } else {
        char text[160];
        size_t len = sub->len > 64 ? 64 : sub->len;
        snprintf(text, sizeof(text),
                 "ERR unknown subcommand '%.*s'. Try CLUSTER HELP.", (int)len, sub->data);
        node_exec_error(e, text);
    }
}

/* ASKING, READONLY, READWRITE. */
void node_cmd_cluster_flag(struct node_exec *e)
{
    if (!e->node->cluster_mode) {
        node_exec_error(e, error_disabled);
        return;
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

/* Serves COUNTKEYSINSLOT / GETKEYSINSLOT on the slot's group: the group's keys are in hash
 * order, so the slot's are found by examining every key of the group (bounded). */
struct slot_keys {
    uint32_t slot;
    uint64_t count;
    uint64_t wanted;    /* GETKEYSINSLOT's count */
    struct resp_out *out;
    struct resp_arg *keys;
    uint32_t key_count;
};

static void slot_keys_visit(void *ctx, const uint8_t *key, size_t len)
{
    struct slot_keys *sk = ctx;
    if (slot_of_key(key, len) != sk->slot)
        return;
    sk->count++;
    if (sk->keys == NULL || sk->key_count >= sk->wanted)
        return;
    char *copy = malloc(len + 1);
    assert(copy != NULL);
    memcpy(copy, key, len);
    sk->keys[sk->key_count++] = (struct resp_arg){.data = copy, .len = len};
}

/* A number argument checked when the command came (the stored copy is not NUL-terminated). */
static uint64_t arg_number(const struct resp_arg *arg)
{
    char text[24];
    size_t len = arg->len < sizeof(text) - 1 ? arg->len : sizeof(text) - 1;
    memcpy(text, arg->data, len);
    text[len] = '\0';
    return strtoull(text, NULL, 10);
}

void node_cluster_slot_serve(struct node_group *group, struct resp_out *out,
                             enum node_read_kind kind, const struct resp_arg *argv,
                             uint32_t argc)
{
    assert(argc >= 3);
    struct slot_keys sk = {.slot = (uint32_t)arg_number(&argv[2])};
    if (kind == NODE_READ_GETKEYSINSLOT) {
        sk.wanted = arg_number(&argv[3]);
        if (sk.wanted > NODE_SLOT_KEYS_MAX)
            sk.wanted = NODE_SLOT_KEYS_MAX;
        sk.keys = calloc(sk.wanted + 1, sizeof(*sk.keys));
        assert(sk.keys != NULL);
    }
    struct kv_scan_cursor cursor = {0};
    uint64_t examined = 0;
    int rv = KV_OK;
    while (!cursor.done && rv == KV_OK && examined < NODE_SLOT_EXAMINED_MAX) {
        rv = kv_scan(group->kv, &cursor, NULL, 0, KV_SCAN_COUNT_MAX, &sk, slot_keys_visit);
        examined += KV_SCAN_COUNT_MAX;
    }
    static const char too_many[] = "ERR the shard holds too many keys to examine at once";
    if (rv != KV_OK)
        resp_reply_error(out, "ERR storage read failed", 23);
    else if (!cursor.done)
        resp_reply_error(out, too_many, sizeof(too_many) - 1);
    else if (kind == NODE_READ_COUNTKEYSINSLOT)
        resp_reply_integer(out, (int64_t)sk.count);
    else {
        resp_reply_array(out, sk.key_count);
        for (uint32_t i = 0; i < sk.key_count; i++)
            resp_reply_bulk(out, sk.keys[i].data, sk.keys[i].len);
    }
    for (uint32_t i = 0; i < sk.key_count; i++)
        free((void *)sk.keys[i].data);
    free(sk.keys);
}
