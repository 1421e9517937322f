/*
 * cluster.h — a scripted in-memory cluster of consensus cores for unit and scenario tests.
 *
 * Nothing happens unless the test says so: ticks, message deliveries, persistence. Each node
 * has a tiny in-memory disk (hard state, snapshot meta, entries) written only when the test
 * lets an update persist, so tests can stop a node between "update taken" and "durable" and
 * check what left it. Messages wait in one network queue in send order until delivered or
 * dropped. Written in the spirit of canonical raft's fixture and etcd's interaction tests.
 */
#ifndef CHORUS_TESTS_CLUSTER_H
#define CHORUS_TESTS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum {
    CLUSTER_NODES_MAX = 7,
    CLUSTER_QUEUE_MAX = 8192,
    CLUSTER_APPLIED_MAX = 4096,
    CLUSTER_READS_MAX = 256,
};

struct cluster_message {
    struct cn_message message;  /* entries/chunk point into `payload` */
    struct cn_entry *entries;
    uint8_t *payload;
    bool after_persist;         /* sent only after its update became durable */
};

struct cluster_disk {
    struct cn_hard_state hard_state;
    struct cn_snapshot_meta snapshot;
    struct cn_entry *entries;   /* owned copies, index snapshot.index+1 .. */
    uint64_t entry_count;
};

struct cluster_node {
    cn_node_id id;
    void *core;                 /* NULL while crashed */
    bool holding;               /* an update is taken and waiting for cluster_persist */
    struct cn_update update;
    bool manual_persist;        /* updates wait for cluster_persist instead of completing */
    struct cluster_disk disk;
    uint64_t applied[CLUSTER_APPLIED_MAX]; /* term of each applied index, 0 = not applied */
    uint64_t applied_last;
    struct cn_read reads[CLUSTER_READS_MAX];
    uint32_t read_count;
    bool isolated;
};

struct cluster {
    const struct cn_ops *ops;
    uint32_t node_count;
    struct cluster_node nodes[CLUSTER_NODES_MAX];
    struct cluster_message queue[CLUSTER_QUEUE_MAX];
    uint32_t queue_count;
    struct cn_config config;    /* template; id and seed are set per node */
    bool trace;
    bool joining[CLUSTER_NODES_MAX]; /* created with an empty configuration (a node that
                                        joins a group and learns it from the leader) */
};

/* Creates `count` nodes with ids 1..count, all members, using protocol `ops`. */
void cluster_init(struct cluster *c, const struct cn_ops *ops, uint32_t count);
void cluster_init_with(struct cluster *c, const struct cn_ops *ops, uint32_t count,
                       const struct cn_config *config);
/* `count` nodes of which only `voters` form the initial configuration; the others start with
 * an empty one, as nodes about to be added (Raft §6). */
void cluster_init_voters(struct cluster *c, const struct cn_ops *ops, uint32_t count,
                         const struct cn_config *config, const struct cn_members *voters);
void cluster_free(struct cluster *c);
struct cluster_node *cluster_node(struct cluster *c, cn_node_id id);
void cluster_status(struct cluster *c, cn_node_id id, struct cn_status *status);

/* Processes pending updates of node `id` (all nodes when id == 0): messages go to the queue;
 * unless the node persists manually, the update is persisted and acked at once. */
void cluster_process(struct cluster *c, cn_node_id id);
/* Completes the held update of a manually persisting node. Returns false if none held. */
bool cluster_persist(struct cluster *c, cn_node_id id);

void cluster_tick(struct cluster *c, cn_node_id id, uint32_t ticks);
int cluster_campaign(struct cluster *c, cn_node_id id);
int cluster_propose(struct cluster *c, cn_node_id id, const char *data, uint64_t *index);
int cluster_read(struct cluster *c, cn_node_id id, uint64_t request_id);
int cluster_transfer(struct cluster *c, cn_node_id id, cn_node_id target);
void cluster_snapshot_taken(struct cluster *c, cn_node_id id, uint64_t index);
/* CN_EVENT_MEMBERSHIP on node id: the target voters and learners (learners may be NULL). */
int cluster_change(struct cluster *c, cn_node_id id, const struct cn_members *voters,
                   const struct cn_members *learners, uint64_t *index);

/* Delivers the oldest queued message matching (from, to, type); 0 matches anything.
 * Returns whether one was delivered. Messages to or from isolated or crashed nodes are
 * dropped when they are delivered (messages a crashed node sent before it crashed still arrive). */
bool cluster_deliver_one(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type);
/* Delivers everything matching, including what the deliveries cause, until none is left
 * (bounded). Returns the number delivered. */
uint32_t cluster_deliver(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type);
uint32_t cluster_drop(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type);
uint32_t cluster_count(const struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type);
const struct cn_message *cluster_peek(const struct cluster *c, cn_node_id from, cn_node_id to,
                                      uint8_t type);
/* Processes and delivers until the cluster is quiet (bounded). */
void cluster_stabilize(struct cluster *c);
/* Ticks every live node until one is leader (bounded); returns its id or 0. */
cn_node_id cluster_elect(struct cluster *c);
cn_node_id cluster_leader(struct cluster *c);

/* The fixture's disk, for helpers that persist updates themselves: a per-slot write
 * (consensus.h, entries_per_slot) and freeing every entry. */
void cluster_disk_write_slot(struct cluster_disk *d, const struct cn_entry *e);
void cluster_disk_free(struct cluster_disk *d);

void cluster_isolate(struct cluster *c, cn_node_id id, bool isolated);
void cluster_crash(struct cluster *c, cn_node_id id);
void cluster_restart(struct cluster *c, cn_node_id id);

#endif
