/*
 * raft_helpers.h — small helpers for the Raft unit and scenario tests, on top of cluster.h.
 *
 * Everything here stays inside the fixture's public surface: it steps cores through the
 * cn_ops table, rewrites a crashed node's in-memory disk to construct exact log states
 * (the way the Raft paper's figures describe them), and copies queued messages so that a
 * test can deliver a delayed or duplicated one later.
 */
#ifndef CHORUS_TESTS_RAFT_HELPERS_H
#define CHORUS_TESTS_RAFT_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "consensus/consensus.h"

enum {
    RH_SAVED_ENTRIES_MAX = 64,
    RH_SAVED_DATA_BYTES_MAX = 4096,
};

/* The configuration cluster_init uses (election 10 ticks, heartbeat 1, seed 7, pre-vote and
 * check-quorum on), for tests that change one knob and call cluster_init_with. */
void rh_config(struct cn_config *config);

struct cn_status rh_status(struct cluster *c, cn_node_id id);
enum cn_role rh_role(struct cluster *c, cn_node_id id);
uint64_t rh_term(struct cluster *c, cn_node_id id);
uint64_t rh_commit(struct cluster *c, cn_node_id id);
uint64_t rh_last(struct cluster *c, cn_node_id id);
/* Term of the entry at index on node id; 0 when the core does not hold it. */
uint64_t rh_entry_term(struct cluster *c, cn_node_id id, uint64_t index);

/* Steps an event into node id WITHOUT processing its update (cluster_* helpers process after
 * every event; this lets a test batch several events into one update). */
int rh_step(struct cluster *c, cn_node_id id, const struct cn_event *event);
int rh_propose_raw(struct cluster *c, cn_node_id id, const char *data);
int rh_read_raw(struct cluster *c, cn_node_id id, uint64_t request_id);
/* Steps a (crafted or saved) message into its destination and processes the update. */
void rh_inject(struct cluster *c, const struct cn_message *message);

/* Crashes node id (if running), replaces its disk with the hard state and a log whose entry
 * i+1 has term terms[i] (no snapshot, empty NORMAL entries), and restarts it. */
void rh_set_disk(struct cluster *c, cn_node_id id, uint64_t term, cn_node_id vote,
                 uint64_t commit, const uint64_t *terms, uint32_t count);

/* A deep copy of one message (entries and their data), for re-delivering it later. */
struct rh_saved {
    struct cn_message message;
    struct cn_entry entries[RH_SAVED_ENTRIES_MAX];
    uint8_t data[RH_SAVED_DATA_BYTES_MAX];
};
/* Copies the oldest queued message matching (from, to, type). Returns false if none. */
bool rh_save_queued(const struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type,
                    struct rh_saved *saved);

/* Messages of `type` to `to` (0: any) in a held update: before or after persist. */
uint32_t rh_update_count(const struct cn_update *u, bool after_persist, uint8_t type,
                         cn_node_id to);
const struct cn_message *rh_update_find(const struct cn_update *u, bool after_persist,
                                        uint8_t type, cn_node_id to);

/* Campaigns node id and stabilizes; returns whether it is then the leader. */
bool rh_campaign_and_win(struct cluster *c, cn_node_id id);
/* Ticks every live node once, then stabilizes, `rounds` times. */
void rh_tick_all(struct cluster *c, uint32_t rounds);
/* Ticks every live, non-isolated node and stabilizes until a leader exists; returns the
 * number of rounds it took, or UINT32_MAX after rounds_max. */
uint32_t rh_rounds_until_leader(struct cluster *c, uint32_t rounds_max);

/* Delivers matching messages one at a time and counts those of `count_type` delivered. */
uint32_t rh_deliver_counting(struct cluster *c, cn_node_id from, cn_node_id to,
                             uint8_t count_type);

#endif
