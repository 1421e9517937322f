/*
 * paxos_helpers.h — the scripted cluster of cluster.h, driven for the Multi-Paxos core.
 *
 * cluster.c's in-memory disk implements Raft's truncating rule only (an entry at or below the
 * last persisted index truncates the suffix). A Paxos acceptor writes each slot on its own
 * (cn_update.entries_per_slot), with gaps. Until the fixture learns that mode, these helpers
 * keep every node in the fixture's manual-persist mode and complete the updates themselves:
 * the per-slot disk write, the after-persist messages, applying and the ack. A test can still
 * hold one node's updates (px_hold) to look at what left before its persist.
 *
 * The helpers also record the applied values (not only their ballots), so that a test can
 * check *which* value a slot was chosen with.
 */
#ifndef CHORUS_TESTS_PAXOS_HELPERS_H
#define CHORUS_TESTS_PAXOS_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "consensus/consensus.h"

enum {
    PX_APPLIED_MAX = 512,  /* slots whose applied value is recorded */
    PX_VALUE_BYTES = 24,   /* recorded bytes of each applied value */
};

struct px {
    struct cluster c;
    bool hold[CLUSTER_NODES_MAX];   /* updates of node i+1 wait for px_persist */
    char applied[CLUSTER_NODES_MAX][PX_APPLIED_MAX][PX_VALUE_BYTES];
};

/* The configuration px_new uses: election 10 ticks, heartbeat 1, seed 7. */
void px_config(struct cn_config *config);
struct px *px_new(uint32_t count);
struct px *px_new_with(uint32_t count, const struct cn_config *config);
/* `count` nodes; `voters` form the configuration, the others start with none (joining). */
struct px *px_new_voters(uint32_t count, const struct cn_config *config,
                         const struct cn_members *voters);
void px_free(struct px *px);
/* CN_EVENT_MEMBERSHIP on node id (voters and learners; learners may be NULL), then settles. */
int px_change(struct px *px, cn_node_id id, const struct cn_members *voters,
              const struct cn_members *learners, uint64_t *slot);

struct cn_status px_status(struct px *px, cn_node_id id);
enum cn_role px_role(struct px *px, cn_node_id id);
uint64_t px_promised(struct px *px, cn_node_id id);
uint64_t px_commit(struct px *px, cn_node_id id);
uint64_t px_entry_ballot(struct px *px, cn_node_id id, uint64_t slot);
/* The value node id applied at slot: the data as a string, "noop" for a gap filler, "snap"
 * when it came with a snapshot, NULL when not applied. */
const char *px_applied(struct px *px, cn_node_id id, uint64_t slot);
uint64_t px_applied_last(struct px *px, cn_node_id id);
/* The persisted value of a slot on node id's disk, NULL when none. */
const struct cn_entry *px_disk_slot(struct px *px, cn_node_id id, uint64_t slot);

/* Completes every update that is not held, and takes the next ones, until quiet. */
void px_settle(struct px *px);
void px_hold(struct px *px, cn_node_id id, bool hold);
/* Completes the held update of node id (persist, after-persist sends, apply, ack). */
bool px_persist(struct px *px, cn_node_id id);

/* Steps an event without processing (several events then share one update). */
int px_step(struct px *px, cn_node_id id, const struct cn_event *event);
void px_inject(struct px *px, const struct cn_message *message);
void px_tick(struct px *px, cn_node_id id, uint32_t ticks);
void px_tick_all(struct px *px, uint32_t rounds);
int px_campaign(struct px *px, cn_node_id id);
int px_propose(struct px *px, cn_node_id id, const char *data, uint64_t *slot);
int px_read(struct px *px, cn_node_id id, uint64_t request_id);
void px_snapshot_taken(struct px *px, cn_node_id id, uint64_t index);

bool px_deliver_one(struct px *px, cn_node_id from, cn_node_id to, uint8_t type);
uint32_t px_deliver(struct px *px, cn_node_id from, cn_node_id to, uint8_t type);
void px_stabilize(struct px *px);
/* Ticks every live, non-isolated node and stabilizes until a leader exists; returns it. */
cn_node_id px_elect(struct px *px);
/* Campaigns node id and stabilizes; returns whether it then leads. */
bool px_campaign_and_win(struct px *px, cn_node_id id);

void px_crash(struct px *px, cn_node_id id);
void px_restart(struct px *px, cn_node_id id);

/* Messages of `type` to `to` (0: any) in a held update: before or after persist. */
uint32_t px_update_count(const struct cn_update *u, bool after_persist, uint8_t type,
                         cn_node_id to);

#endif
