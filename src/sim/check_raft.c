/*
 * check_raft.c — invariants that hold for Raft only (Ongaro & Ousterhout 2014, Figure 3):
 *  - Log Matching: if two logs hold an entry with the same index and term, the logs are
 *    identical in all entries up through that index. Checked over persisted disks: the first
 *    disk to hold (index, term) records the rolling hash of its prefix; every later holder must
 *    show the same one.
 *  - Leader Completeness: a leader's log holds every entry committed in an earlier or the same
 *    term, with its term. Checked when a node starts leading, against every index some node
 *    applied (above the leader's snapshot) that was reported committed by a node whose term
 *    was at most the leader's (so committed in such a term): a leader elected late in an old
 *    term need not hold what later terms committed.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "sim/check.h"

enum { SIM_CHECK_RAFT_SCAN_MAX = 1u << 22 }; /* indices scanned for one new leader */

static int sim_check_raft_init(void **state)
{
    struct sim_map *map = malloc(sizeof(*map));
    if (map == NULL || sim_map_init(map, 4096) != 0) {
        free(map);
        return -1;
    }
    *state = map;
    return 0;
}

static void sim_check_raft_clear(void *state)
{
    sim_map_clear(state);
}

static void sim_check_raft_free(void *state)
{
    sim_map_free(state);
    free(state);
}

static void sim_check_raft_persisted(struct sim_check *check, void *state, uint32_t node,
                                     const struct sim_disk *disk, uint64_t from_index)
{
    struct sim_map *by_index_term = state;
    uint64_t last = sim_disk_last_index(disk);
    for (uint64_t index = from_index; index <= last; index++) {
        const struct sim_disk_entry *entry = sim_disk_entry_at(disk, index);
        if (entry == NULL) continue; /* covered by the snapshot */
        uint64_t stored = 0;
        if (sim_map_put_once(by_index_term, index, entry->term, entry->rolling, &stored) != 0) {
            sim_check_fail(check, "bound", "too many (index, term) pairs");
            return;
        }
        if (stored != entry->rolling) {
            sim_check_fail(check, "log matching",
                           "node %u persisted index %" PRIu64 " term %" PRIu64
                           " with a different entry or prefix than another disk", node + 1,
                           index, entry->term);
            return;
        }
    }
}

static void sim_check_raft_became_leader(struct sim_check *check, void *state, uint32_t node,
                                         const struct cn_ops *ops, const void *core,
                                         uint64_t term)
{
    (void)state;
    struct cn_status status;
    ops->status(core, &status);
    uint64_t scanned = 0;
    for (uint64_t index = status.snapshot_index + 1; index <= check->applied_max; index++) {
        if (++scanned > SIM_CHECK_RAFT_SCAN_MAX) break;
        const struct sim_check_applied *applied = sim_check_applied_at(check, index);
        if (applied == NULL || applied->reported_term > term) continue;
        uint64_t held = 0;
        if (!ops->entry_term(core, index, &held) || held != applied->term) {
            sim_check_fail(check, "leader completeness",
                           "node %u leads term %" PRIu64 " but its log %s index %" PRIu64
                           " (entry term %" PRIu64 ", committed by term %" PRIu64
                           ", held term %" PRIu64 ")", node + 1, term,
                           held ? "differs at" : "lacks", index, applied->term,
                           applied->reported_term, held);
            return;
        }
    }
}

const struct sim_check_protocol sim_check_raft = {
    .name = "raft",
    .durable_same_term = true,
    .init = sim_check_raft_init,
    .clear = sim_check_raft_clear,
    .free = sim_check_raft_free,
    .persisted = sim_check_raft_persisted,
    .became_leader = sim_check_raft_became_leader,
};
