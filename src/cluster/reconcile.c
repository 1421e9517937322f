/*
 * reconcile.c — the configuration changes that the topology still owes (see reconcile.h).
 */
#include "cluster/reconcile.h"

#include <stdbool.h>

static bool planned_to(const struct rebalance_plan *plan, uint32_t shard, uint32_t id)
{
    for (uint32_t i = 0; plan != NULL && i < plan->move_count; i++)
        if (plan->moves[i].shard == shard && plan->moves[i].to == id)
            return true;
    return false;
}

static bool shard_planned(const struct rebalance_plan *plan, uint32_t shard)
{
    for (uint32_t i = 0; plan != NULL && i < plan->move_count; i++)
        if (plan->moves[i].shard == shard)
            return true;
    return false;
}

/* A node whose place in a configuration no move of the plan can account for any more. */
static bool node_gone(const struct topology *topology, uint32_t id)
{
    const struct topology_node *n = topology_node_find(topology, id);
    return n == NULL || n->state == TOPOLOGY_NODE_LEAVING;
}

void reconcile_shard(const struct topology *topology, const struct rebalance_plan *plan,
                     uint32_t shard, const struct cn_membership *config,
                     struct reconcile_action *out)
{
    *out = (struct reconcile_action){.kind = RECONCILE_NONE};
    if (shard >= topology->shard_count || cn_membership_joint(config) ||
        cn_membership_empty(config))
        return;
    const struct topology_shard *placed = &topology->shards[shard];
    for (uint32_t i = 0; i < config->learners.count; i++) {
        uint32_t id = config->learners.ids[i];
        if (!topology_shard_has_replica(placed, id) && !planned_to(plan, shard, id)) {
            *out = (struct reconcile_action){.kind = RECONCILE_DROP_LEARNER, .from = id};
            return;
        }
    }
    /* A planned move of the shard owns its voters: its steps change them. */
    if (shard_planned(plan, shard))
        return;
    uint32_t extra = 0, missing = 0;
    for (uint32_t i = 0; i < config->voters.count && extra == 0; i++)
        if (!topology_shard_has_replica(placed, config->voters.ids[i]) &&
            node_gone(topology, config->voters.ids[i]))
            extra = config->voters.ids[i];
    for (uint32_t r = 0; r < placed->replica_count && missing == 0; r++)
        if (!cn_membership_is_voter(config, placed->replicas[r]))
            missing = placed->replicas[r];
    if (extra != 0 && missing != 0)
        *out = (struct reconcile_action){.kind = RECONCILE_REPLACE, .from = extra, .to = missing};
}

uint32_t reconcile_meta_removal(const struct topology *topology,
                                const struct cn_membership *config)
{
    if (cn_membership_joint(config) || cn_membership_empty(config))
        return 0;
    cn_node_id ids[CN_MEMBERS_MAX];
    uint32_t count = cn_membership_nodes(config, ids);
    for (uint32_t i = 0; i < count; i++) {
        if (topology_node_find(topology, ids[i]) != NULL)
            continue;
        if (cn_membership_is_voter(config, ids[i]) && config->voters.count == 1)
            continue;
        return ids[i];
    }
    return 0;
}
