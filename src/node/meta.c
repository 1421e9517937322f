/*
 * meta.c — the meta group: the cluster's topology kept in a replicated log.
 *
 * Every node builds the topology (nodes, shards, replicas, epoch) from its own flags. If two
 * nodes were started with different flags (another --cluster list, other addresses, another
 * --replicas on a fresh data directory), they would place some shard's replicas on different
 * nodes, and two groups could each believe they hold that shard's majority: acknowledged
 * writes could be lost. So the topology is also written, once, into a consensus group of its
 * own (docs/sharding.md, "the meta group"), and every node checks its own against it:
 *
 *  - The meta group is group S (after the shards' 0..S-1), with the first NODE_META_VOTERS
 *    nodes by id as its voters; it exists only with sharding on (S > 1). Its state machine is
 *    an ordinary store (data-dir/groups/meta) holding one key, NODE_META_TOPOLOGY_KEY: the
 *    topology in its canonical encoding (topology_codec.c). No client command can reach it.
 *  - Its leader, once it has applied everything committed (so that it knows what the log
 *    holds), writes the topology when the key is absent (the cluster's first start).
 *  - A node hosting a replica of it compares what it applied with its own topology. A node
 *    that hosts none learns the result from the beats (quiesce.c): every node's beat carries
 *    the hash of the topology it has verified, and a node compares that with its own.
 *  - A difference stops the node at once, naming the flags to check: a node that disagrees
 *    with the recorded topology must not serve. Changing the topology of a running cluster
 *    is membership change (issue 11), done through this group's log.
 *  - Until the check has happened (the meta group has no majority yet), the node serves with
 *    its own topology, as before, and INFO says topology_verified:0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "storage/kv_command.h"

static const char NODE_META_TOPOLOGY_KEY[] = "chorus:topology";

/* The meta group's voters at its creation: the first NODE_META_VOTERS nodes of the topology
 * (ascending id) that are not JOINING. A node added later (JOINING) joins the group through a
 * configuration change (membership.c), so a restart with a newer topology must not count it
 * among the voters the group was created with (those only matter to a group with no
 * configuration of its own in its log or snapshot yet). */
static void meta_shard(const struct topology *t, struct topology_shard *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < t->node_count && out->replica_count < NODE_META_VOTERS; i++)
        if (t->nodes[i].state != TOPOLOGY_NODE_JOINING)
            out->replicas[out->replica_count++] = t->nodes[i].id;
    out->config_epoch = t->epoch;
}

int node_meta_open(struct node *node)
{
    if (!node->cluster_mode)
        return 0; /* one shard: no meta group, and nothing to check against */
    const struct topology *t = node->topology;
    node_topology_encode_own(node);
    node_rebalance_refresh(node);
    struct topology_shard shard;
    meta_shard(t, &shard);
    /* A node that joined opens the meta group with an empty configuration (groups.c) and
     * waits for the leader to add it: it learns the topology through this group's log. */
    if (!topology_shard_has_replica(&shard, node->config.id) && !node_members_joined(node))
        return 0;
    node->group_slots++;
    node->meta = node_group_open(node, t->shard_count, &shard, false);
    return node->meta != NULL ? 0 : -1;
}

void node_meta_close(struct node *node)
{
    free(node->rebalance);
    node->rebalance = NULL;
    free(node->topology_encoded);
    node->topology_encoded = NULL;
    node->topology_encoded_len = 0;
}

/* Proposes a topology's encoding into the meta group's log (a SET of the reserved key); the
 * entry's index goes to *index. */
bool node_meta_propose(struct node *node, struct node_group *g, const uint8_t *encoded,
                       size_t encoded_len, uint64_t *index)
{
    struct kv_bytes args[2] = {
        {.data = (const uint8_t *)NODE_META_TOPOLOGY_KEY, .len = sizeof(NODE_META_TOPOLOGY_KEY) - 1},
        {.data = encoded, .len = encoded_len},
    };
    struct kv_command command = {.op = KV_OP_SET, .arg_count = 2, .args = args};
    size_t bytes = kv_command_encoded_bytes(&command);
    uint8_t *payload = malloc(NODE_WRITE_TAG_BYTES + bytes);
    assert(payload != NULL);
    /* Tag 0: no request waits for it; it is known by what it writes. */
    memset(payload, 0, NODE_WRITE_TAG_BYTES);
    size_t len = 0;
    const char *reason = NULL;
    int rv = kv_command_encode(&command, payload + NODE_WRITE_TAG_BYTES, bytes, &len, &reason);
    assert(rv == KV_OK);
    uint64_t term = 0;
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = payload,
                         .data_len = (uint32_t)(NODE_WRITE_TAG_BYTES + len),
                         .out_index = index, .out_term = &term};
    rv = node_step(g, &e);
    free(payload);
    return rv == CN_OK;
}

/* The leader writes the cluster's first topology. */
static void meta_propose(struct node *node, struct node_group *g)
{
    uint64_t index = 0;
    if (node_meta_propose(node, g, node->topology_encoded, node->topology_encoded_len, &index)) {
        node->meta_proposed_term = g->status.term;
        node_log(node, NODE_LOG_INFO, "meta group: recording the topology (epoch %llu) at %llu",
                 (unsigned long long)node->topology->epoch, (unsigned long long)index);
    }
}

static void meta_mismatch(struct node *node, const char *how)
{
    node_fatal(node,
               "this node's topology (from --cluster, --shards, --replicas and its data "
               "directory) differs from the one %s; a node must be started with the same "
               "--cluster list and settings as the rest of the cluster (changing them is "
               "membership change); stopping",
               how);
}

/* What the meta group recorded, against this node's topology: the same bytes verify it; a
 * later epoch (a membership change) is adopted; an earlier one is a log still being applied
 * (a restarted or new replica catching up) and waited for; the same epoch with other bytes,
 * or another cluster or shard count, is a node started with the wrong flags. */
static void meta_learn(struct node *node, const uint8_t *value, size_t len)
{
    const struct topology *own = node->topology;
    if (len == node->topology_encoded_len && memcmp(value, node->topology_encoded, len) == 0) {
        if (!node->topology_verified)
            node_log(node, NODE_LOG_INFO, "meta group: the topology (epoch %llu) is the "
                     "cluster's", (unsigned long long)own->epoch);
        node->topology_verified = true;
        return;
    }
    struct topology *recorded = malloc(sizeof(*recorded));
    assert(recorded != NULL);
    int rv = topology_decode(value, len, recorded);
    if (rv != TOPOLOGY_OK || recorded->cluster_id != own->cluster_id ||
        recorded->shard_count != own->shard_count || recorded->epoch == own->epoch) {
        free(recorded);
        meta_mismatch(node, "recorded in the cluster's meta group");
        return;
    }
    if (recorded->epoch > own->epoch)
        node_topology_adopt(node, recorded);
    free(recorded);
}

/* A replica of the meta group: learn what it applied. */
static void meta_check_applied(struct node *node, struct node_group *g)
{
    if (g->applied_index == node->meta_checked_index)
        return;
    node->meta_checked_index = g->applied_index;
    size_t cap = TOPOLOGY_ENCODED_BYTES_MAX, value_len = 0;
    uint8_t *value = malloc(cap);
    assert(value != NULL);
    bool found = false;
    int rv = kv_get(g->kv, (const uint8_t *)NODE_META_TOPOLOGY_KEY,
                    sizeof(NODE_META_TOPOLOGY_KEY) - 1, value, cap, &value_len, &found);
    if (rv != KV_OK) {
        node_log(node, NODE_LOG_WARN, "meta group: reading the topology: %s", kv_last_error());
        node->meta_checked_index = 0; /* try again */
        free(value);
        return;
    }
    node->meta_key_found = found;
    if (found)
        meta_learn(node, value, value_len);
    free(value);
}

/* Ask the meta group now whether it recorded a newer topology (membership.c, which waits for
 * one it proposed). */
void node_meta_check_now(struct node *node)
{
    if (node->meta == NULL)
        return;
    node_refresh_status(node->meta);
    meta_check_applied(node, node->meta);
}

void node_meta_tick(struct node *node)
{
    struct node_group *g = node->meta;
    if (g == NULL)
        return;
    node_refresh_status(g);
    meta_check_applied(node, g);
    const struct cn_status *st = &g->status;
    /* Everything committed is applied, and the leader has committed in its own term (Raft
     * §5.4.2, §8: only then does it know the log's committed prefix): absent means absent. */
    if (node->topology_verified || st->role != CN_ROLE_LEADER || st->leader != node->config.id ||
        g->applied_index < st->commit_index || st->commit_index < st->last_index ||
        node->meta_proposed_term == st->term || g->update_outstanding ||
        node->meta_checked_index != g->applied_index || node->meta_key_found)
        return;
    meta_propose(node, g);
}

uint64_t node_meta_beat_hash(const struct node *node)
{
    return node->topology_verified ? node->topology_hash : 0;
}

void node_meta_on_beat(struct node *node, cn_node_id from, uint64_t hash)
{
    if (hash == 0 || !node->cluster_mode)
        return;
    if (hash != node->topology_hash) {
        /* A replica of the meta group learns a new topology from the group itself: a peer
         * that verified another epoch (one of them has not applied a change yet) is no sign
         * of wrong flags. The same epoch with other bytes is. */
        bool same_epoch = (hash >> 48) == (node->topology_hash >> 48);
        if (node->meta != NULL && !same_epoch)
            return;
        char how[96];
        snprintf(how, sizeof(how), "node %u verified against the cluster's meta group", from);
        meta_mismatch(node, how);
    }
    if (!node->topology_verified)
        node_log(node, NODE_LOG_INFO,
                 "meta group: the topology (epoch %llu) is the cluster's (learned from node %u)",
                 (unsigned long long)node->topology->epoch, from);
    node->topology_verified = true;
}
