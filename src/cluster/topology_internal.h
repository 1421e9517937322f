/*
 * topology_internal.h — what topology_build.c shares with topology_leaders.c.
 */
#ifndef CHORUS_CLUSTER_TOPOLOGY_INTERNAL_H
#define CHORUS_CLUSTER_TOPOLOGY_INTERNAL_H

#include "cluster/topology.h"

/* topology_validate's rules for the node list alone. */
int topology_validate_nodes(const struct topology *topology);

/*
 * The leader-balancing problem: P placed nodes (indexes 0..P-1), S shards, each with its
 * replicas as node indexes; leader[s] is the index of the shard's preferred leader, one of its
 * replicas, on entry (the first choice) and on return (balanced). The workspace arrays are
 * sized by the limits, so the struct has a fixed size (about 46 KiB) and is allocated once.
 */
struct topology_leaders {
    uint32_t node_count;
    uint32_t shard_count;
    uint8_t replica_count[TOPOLOGY_SHARDS_MAX];
    uint16_t replicas[TOPOLOGY_SHARDS_MAX][TOPOLOGY_REPLICAS_MAX];
    uint16_t leader[TOPOLOGY_SHARDS_MAX];
    /* Workspace. */
    uint32_t led[TOPOLOGY_NODES_MAX];              /* shards each node leads */
    uint32_t replica_of_start[TOPOLOGY_NODES_MAX + 1];
    uint16_t replica_of[TOPOLOGY_SHARDS_MAX * TOPOLOGY_REPLICAS_MAX]; /* shards by replica node */
    uint16_t via_shard[TOPOLOGY_NODES_MAX];        /* search: the shard a node would hand over */
    uint16_t via_node[TOPOLOGY_NODES_MAX];         /* search: the node it would hand it to */
    uint16_t queue[TOPOLOGY_NODES_MAX];
    bool seen[TOPOLOGY_NODES_MAX];
};

/* Moves leaderships along replica sets until every node leads floor(S/P) or ceil(S/P)
 * shards, or no move brings a node closer to that (see topology_leaders.c). */
void topology_leaders_balance(struct topology_leaders *leaders);

#endif
