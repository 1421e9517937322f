/*
 * reconcile.h — what a shard's configuration or the meta group's configuration still owes the
 * topology when no planned move or change accounts for the difference (docs/membership.md,
 * "A node that dies for good while it joins" and "A change a leader change interrupted").
 *
 * The rebalancer's moves (rebalance.h) change a shard group's configuration first and record
 * the result in the topology last. When the node a move goes to is forgotten before the move
 * was recorded (it died for good while it joined), the plan of the topology without it has no
 * move left, but the group's configuration may still name it: as a learner (the move stopped
 * while it caught up), or as a voter in the place of a replica the topology still lists (the
 * swap completed and the record had not). These decisions say which single-server change
 * (thesis §4.1) brings the configuration back to the topology's replicas. Likewise a removal
 * whose topology without the node committed, but whose configuration change did not, leaves
 * the meta group's configuration naming a node the topology no longer has.
 *
 * Pure functions: no I/O, no clock, no allocation.
 */
#ifndef CHORUS_CLUSTER_RECONCILE_H
#define CHORUS_CLUSTER_RECONCILE_H

#include <stdint.h>

#include "cluster/rebalance.h"
#include "cluster/topology.h"
#include "consensus/membership.h"

enum reconcile_kind {
    RECONCILE_NONE = 0,
    RECONCILE_DROP_LEARNER, /* remove learner `from` from the configuration */
    RECONCILE_REPLACE,      /* voter `from` out, replica `to` in: a move the topology lacks */
};

struct reconcile_action {
    enum reconcile_kind kind;
    uint32_t from;
    uint32_t to;
};

/*
 * The change shard `shard` needs for its complete configuration `config` (the caller waits
 * while one is pending) to hold the topology's replicas of it, given the plan of `topology`:
 *  - a learner that is neither one of the shard's replicas nor the destination of a planned
 *    move of the shard is dropped;
 *  - with no move planned for the shard, a voter that is not one of its replicas and that the
 *    topology no longer lists (or lists as LEAVING) is replaced by a replica that is not a
 *    voter: the reverse of the move that put it there.
 * RECONCILE_NONE when a joint configuration is under way or nothing is owed.
 */
void reconcile_shard(const struct topology *topology, const struct rebalance_plan *plan,
                     uint32_t shard, const struct cn_membership *config,
                     struct reconcile_action *out);

/*
 * The member of the meta group's complete configuration `config` that `topology` (applied up
 * to the commit index) no longer lists: a removal whose configuration change did not happen.
 * 0 when there is none, or when removing it would leave no voter.
 */
uint32_t reconcile_meta_removal(const struct topology *topology,
                                const struct cn_membership *config);

#endif
