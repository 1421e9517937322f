/*
 * rebalance.h — the rebalancer's plan: which shard replicas must move for a topology's
 * placement to be the one the ring gives its nodes (docs/membership.md, "The rebalancer").
 *
 * A topology records where every shard's replicas are (topology_shard.replicas). After a node
 * is added (JOINING) or asked to leave (LEAVING), the ring over the JOINING and ACTIVE nodes
 * places some replicas elsewhere: the target is topology_build over the same nodes with the
 * topology as `previous`, and each replica that is in one list and not the other is a move
 * (shard, from, to). The ring is consistent hashing with virtual nodes (docs/ring.md): adding
 * a node changes a shard's replica set only by putting the new node in it, so every move of a
 * growth goes to the new node, and every move of a removal comes off the leaving one; about
 * S x R / N replicas move, not the whole placement.
 *
 * Moves run a few at a time: a move is *runnable* when neither of its nodes takes part in
 * `moves_per_node` runnable moves already and its shard has no runnable move (one membership
 * change at a time per group, thesis §4.1). The choice is a pure function of the topology (by
 * shard order), so every node that has the topology computes the same runnable set, and a new
 * meta leader derives the same work as the last one without any record besides the topology:
 * a completed move changes the shard's replicas and the epoch, and the plan of the new
 * topology no longer has it.
 *
 * A pure library: no I/O, no clock, no rand. rebalance_plan allocates the target topology
 * and the ring's workspace (topology_build) and frees them before returning.
 */
#ifndef CHORUS_CLUSTER_REBALANCE_H
#define CHORUS_CLUSTER_REBALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/topology.h"

enum {
    /* Every replica of every shard could move (each shard's list replaced whole). */
    REBALANCE_MOVES_MAX = TOPOLOGY_SHARDS_MAX * TOPOLOGY_REPLICAS_MAX,
    REBALANCE_MOVES_PER_NODE_DEFAULT = 1,
    REBALANCE_MOVES_PER_NODE_MAX = 64,
};

/* One replica to move. `from` is 0 when a replica is only added (the shard has fewer than R
 * replicas, e.g. a cluster created with fewer nodes than R), `to` is 0 when one is only
 * removed (fewer nodes than R are left to place on). */
struct rebalance_move {
    uint32_t shard;
    uint32_t from;
    uint32_t to;
    bool runnable; /* within the per-node limit, the shard's first */
};

struct rebalance_plan {
    uint32_t move_count;     /* every move, by ascending shard */
    uint32_t runnable_count; /* those with runnable set */
    struct rebalance_move moves[REBALANCE_MOVES_MAX];
};

/*
 * The moves from `now` to its nodes' ring placement, at most `moves_per_node`
 * (1..REBALANCE_MOVES_PER_NODE_MAX) runnable per node. Returns TOPOLOGY_OK, or the error of
 * building the target (TOPOLOGY_ERROR_PLACEMENT when too few nodes are left to hold R
 * replicas, TOPOLOGY_ERROR_NO_MEMORY). `now` must be valid; `out` is left unspecified on
 * error.
 */
int rebalance_plan(const struct topology *now, uint32_t moves_per_node,
                   struct rebalance_plan *out);

#endif
