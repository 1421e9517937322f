/*
 * route.c — which consensus group a client's command goes through.
 *
 * S = 1: the one group, which every node hosts (standalone Redis semantics: keys of any slots
 * in one command). S > 1 (Redis Cluster semantics): the command's keys, by the key positions
 * COMMAND reports, must all hash to one slot, else Redis Cluster's -CROSSSLOT error; the slot's
 * shard is the group. Keys of one slot stay in one log entry, so multi-key commands on them
 * stay atomic.
 *
 * A shard this node hosts is served here, through the group's core: locally on its leader,
 * forwarded to the leader from a follower (writes) or through ReadIndex (reads). In
 * --redirect mode a node that does not lead the shard answers -MOVED with the address of the
 * node that does, as a Redis Cluster node does, and cluster clients follow it.
 */
#include <stdio.h>
#include <string.h>

#include "node/commands.h"

/* Redis Cluster's reply for a key of another node: "-MOVED <slot> <host>:<port>". */
static void reply_moved(struct node_exec *e, uint32_t slot, cn_node_id target)
{
    const struct topology_node *t = topology_node_find(e->node->topology, target);
    assert(t != NULL);
    char text[128 + TOPOLOGY_HOST_BYTES_MAX];
    snprintf(text, sizeof(text), "MOVED %u %s:%u", slot, t->client.host, t->client.port);
    node_exec_error(e, text);
}

struct node_group *node_route_slot(struct node_exec *e, uint32_t slot)
{
    struct node *node = e->node;
    uint32_t shard = shardmap_shard_of_slot(&node->shardmap, slot);
    struct node_group *g = node->groups[shard];
    cn_node_id leader = node_shard_leader(node, shard);
    if (node->config.redirect && leader != 0 && leader != node->config.id) {
        reply_moved(e, slot, leader);
        return NULL;
    }
    if (g == NULL && (node->config.redirect || e->no_proxy)) {
        /* A shard with no replica here, and a command that is not relayed: its leader (or,
         * while unknown, its preferred leader) serves it. */
        reply_moved(e, slot, leader != 0 ? leader : node->topology->shards[shard].replicas[0]);
        return NULL;
    }
    if (g == NULL) {
        node_proxy_command(e, shard, e->read_only);
        return NULL;
    }
    return g;
}

struct node_group *node_route(struct node_exec *e)
{
    struct node *node = e->node;
    if (!node->cluster_mode)
        return node->groups[0];
    uint32_t slot = 0;
    switch (node_command_slot(e->argv, e->argc, &slot)) {
    case SHARDMAP_KEYS_CROSS_SLOT:
        node_exec_error(e, SHARDMAP_CROSSSLOT_ERROR);
        return NULL;
    case SHARDMAP_KEYS_NONE:
        slot = 0; /* keyless: the first shard's group answers (see commands_cluster.c) */
        break;
    case SHARDMAP_KEYS_ONE_SLOT:
        break;
    }
    return node_route_slot(e, slot);
}
