/*
 * rebalance.c — the rebalancer's plan (see rebalance.h): the target placement from the ring,
 * the difference as moves, and the runnable few.
 */
#include "cluster/rebalance.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* The ids of `a` that `b` does not list, ascending (so that pairs are chosen the same way on
 * every node). */
static uint32_t replicas_missing(const struct topology_shard *a, const struct topology_shard *b,
                                 uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->replica_count; i++) {
        if (topology_shard_has_replica(b, a->replicas[i]))
            continue;
        uint32_t at = n++;
        while (at > 0 && out[at - 1] > a->replicas[i]) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = a->replicas[i];
    }
    return n;
}

/* The shard's moves: the i-th replica that leaves paired with the i-th that arrives. */
static void plan_shard(uint32_t shard, const struct topology_shard *now,
                       const struct topology_shard *target, struct rebalance_plan *out)
{
    uint32_t leaving[TOPOLOGY_REPLICAS_MAX], arriving[TOPOLOGY_REPLICAS_MAX];
    uint32_t leaving_count = replicas_missing(now, target, leaving);
    uint32_t arriving_count = replicas_missing(target, now, arriving);
    uint32_t count = leaving_count > arriving_count ? leaving_count : arriving_count;
    for (uint32_t i = 0; i < count; i++) {
        assert(out->move_count < REBALANCE_MOVES_MAX);
        out->moves[out->move_count++] = (struct rebalance_move){
            .shard = shard,
            .from = i < leaving_count ? leaving[i] : 0,
            .to = i < arriving_count ? arriving[i] : 0,
        };
    }
}

/* How many runnable moves a node takes part in, by its index in the topology. */
static bool node_has_room(const struct topology *now, const uint32_t *busy, uint32_t id,
                          uint32_t limit)
{
    if (id == 0)
        return true;
    const struct topology_node *node = topology_node_find(now, id);
    assert(node != NULL);
    return busy[node - now->nodes] < limit;
}

static void node_take(const struct topology *now, uint32_t *busy, uint32_t id)
{
    if (id == 0)
        return;
    const struct topology_node *node = topology_node_find(now, id);
    assert(node != NULL);
    busy[node - now->nodes]++;
}

/* Marks the runnable moves: by shard order, a shard's first move when both its nodes have
 * room; a shard with a move that cannot run yet runs none (its moves go in order). */
static void plan_runnable(const struct topology *now, uint32_t limit, struct rebalance_plan *out)
{
    uint32_t *busy = calloc(now->node_count, sizeof(*busy));
    assert(busy != NULL);
    uint32_t last_shard = UINT32_MAX;
    for (uint32_t i = 0; i < out->move_count; i++) {
        struct rebalance_move *m = &out->moves[i];
        bool first_of_shard = m->shard != last_shard;
        last_shard = m->shard;
        if (!first_of_shard || !node_has_room(now, busy, m->from, limit) ||
            !node_has_room(now, busy, m->to, limit))
            continue;
        m->runnable = true;
        out->runnable_count++;
        node_take(now, busy, m->from);
        node_take(now, busy, m->to);
    }
    free(busy);
}

int rebalance_plan(const struct topology *now, uint32_t moves_per_node,
                   struct rebalance_plan *out)
{
    assert(moves_per_node >= 1 && moves_per_node <= REBALANCE_MOVES_PER_NODE_MAX);
    struct topology *target = malloc(sizeof(*target));
    if (target == NULL)
        return TOPOLOGY_ERROR_NO_MEMORY;
    struct topology_build_input input = {
        .cluster_id = now->cluster_id, .shard_count = now->shard_count,
        .replica_count = now->replica_count, .vnodes = now->vnodes,
        .zone_spread = now->zone_spread, .node_count = now->node_count, .nodes = now->nodes};
    int rv = topology_build(&input, now, target);
    if (rv == TOPOLOGY_OK) {
        out->move_count = 0;
        out->runnable_count = 0;
        for (uint32_t s = 0; s < now->shard_count; s++)
            plan_shard(s, &now->shards[s], &target->shards[s], out);
        plan_runnable(now, moves_per_node, out);
    }
    free(target);
    return rv;
}
