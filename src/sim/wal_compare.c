/*
 * wal_compare.c — storage mode "wal": what a node's WAL recovers for one group, compared with
 * what the group acknowledged (the sim disk) plus a prefix of its update in the batch in flight
 * at the crash (disk_wal.c). Two disciplines, as cn_update.entries_per_slot says: Raft's
 * consecutive run, where an entry at or below the last index truncates the log (§5.3), and
 * Multi-Paxos's slots, where each entry replaces its own slot only and gaps stay.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/world.h"

/* Whether entry e equals the sim disk's entry at its index. */
static bool sim_wal_same_entry(const struct sim_disk *disk, const struct cn_entry *e)
{
    const struct sim_disk_entry *d = sim_disk_entry_at(disk, e->index);
    return d != NULL && d->term == e->term && d->type == e->type &&
           d->data_hash == sim_disk_data_hash(e->data, e->data_len);
}

static bool sim_wal_same_update_entry(const struct cn_entry *a, const struct cn_entry *b)
{
    return a->index == b->index && a->term == b->term && a->type == b->type &&
           a->data_len == b->data_len &&
           (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

static bool sim_wal_same_hard_state(const struct cn_hard_state *a, const struct cn_hard_state *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

/*
 * Compares what the WAL recovered (r) with the acknowledged disk plus a prefix of the batch in
 * flight (u, or NULL). Returns the number of the batch's entries that survived (0..count), or
 * -1 with the reason in `why`.
 */
static int64_t sim_wal_compare_run(const struct sim_disk *disk, const struct cn_restore *r,
                                   const struct cn_update *u, char *why, size_t why_len)
{
    bool hs_new = u != NULL && u->hard_state_changed &&
                  sim_wal_same_hard_state(&r->hard_state, &u->hard_state);
    if (!sim_wal_same_hard_state(&r->hard_state, &disk->hard_state) && !hs_new) {
        snprintf(why, why_len, "hard state term %" PRIu64 " vote %u commit %" PRIu64
                 " but term %" PRIu64 " vote %u commit %" PRIu64 " was acknowledged",
                 r->hard_state.term, r->hard_state.vote, r->hard_state.commit,
                 disk->hard_state.term, disk->hard_state.vote, disk->hard_state.commit);
        return -1;
    }
    if (r->snapshot.index > disk->snapshot.index) {
        snprintf(why, why_len, "snapshot marker %" PRIu64 " beyond the snapshot held, %" PRIu64,
                 r->snapshot.index, disk->snapshot.index);
        return -1;
    }
    uint64_t base = disk->snapshot.index;
    uint64_t last = sim_disk_last_index(disk);
    uint64_t split = u != NULL && u->entry_count > 0 ? u->entries[0].index : UINT64_MAX;
    uint64_t first = r->entry_count > 0 ? r->entries[0].index : r->snapshot.index + 1;
    uint64_t r_last = first + r->entry_count - 1;
    /* Everything acknowledged below the batch's first entry must be there, unchanged. */
    for (uint64_t i = base + 1; i <= last && i < split; i++) {
        if (i < first || i > r_last || !sim_wal_same_entry(disk, &r->entries[i - first])) {
            snprintf(why, why_len, "acknowledged entry %" PRIu64 " is missing or different", i);
            return -1;
        }
    }
    bool unchanged = r_last == last || (r->entry_count == 0 && last <= base);
    for (uint64_t i = split; unchanged && i <= last && split != UINT64_MAX; i++)
        unchanged = i >= first && i <= r_last && sim_wal_same_entry(disk, &r->entries[i - first]);
    if (unchanged) return 0; /* nothing of the batch's entries landed */
    if (split == UINT64_MAX || split > r_last || split < first) {
        snprintf(why, why_len, "log ends at %" PRIu64 ", acknowledged to %" PRIu64, r_last,
                 last);
        return -1;
    }
    /* The batch's first entry is there: the truncation happened; a prefix of its entries. */
    uint64_t k0 = split - first;
    uint64_t survived = r->entry_count - k0;
    if (survived > u->entry_count) {
        snprintf(why, why_len, "log ends at %" PRIu64 ", past the batch's last entry %" PRIu64,
                 r_last, u->entries[u->entry_count - 1].index);
        return -1;
    }
    for (uint64_t k = 0; k < survived; k++) {
        if (!sim_wal_same_update_entry(&r->entries[k0 + k], &u->entries[k])) {
            snprintf(why, why_len, "entry %" PRIu64 " is neither acknowledged nor written",
                     split + k);
            return -1;
        }
    }
    if (u->hard_state_changed && !hs_new) {
        snprintf(why, why_len, "entries of the batch survived but not its hard state");
        return -1;
    }
    return (int64_t)survived;
}


/* The recovered entry of `slot`, or NULL (entries ascend; a binary search). */
static const struct cn_entry *sim_wal_entry_of(const struct cn_entry *entries, uint32_t count,
                                               uint64_t slot)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (entries[mid].index < slot) lo = mid + 1;
        else hi = mid;
    }
    return lo < count && entries[lo].index == slot ? &entries[lo] : NULL;
}

/* Whether the recovered slot holds what the disk acknowledged there (both may be empty). */
static bool sim_wal_slot_acknowledged(const struct sim_disk *disk, const struct cn_restore *r,
                                      uint64_t slot)
{
    const struct cn_entry *e = sim_wal_entry_of(r->entries, r->entry_count, slot);
    if (e == NULL) return sim_disk_entry_at(disk, slot) == NULL;
    return sim_wal_same_entry(disk, e);
}

/* Multi-Paxos: every slot holds what was acknowledged, except the slots of the batch's first
 * `survived` entries, which hold the batch's values (the records of a torn batch are a prefix
 * of them). Returns survived, or -1 with the reason. */
static int64_t sim_wal_compare_slots(const struct sim_disk *disk, const struct cn_restore *r,
                                     const struct cn_update *u, char *why, size_t why_len)
{
    uint32_t count = u != NULL ? u->entry_count : 0;
    uint32_t survived = 0;
    while (survived < count) {
        const struct cn_entry *want = &u->entries[survived];
        const struct cn_entry *e = sim_wal_entry_of(r->entries, r->entry_count, want->index);
        if (e == NULL || !sim_wal_same_update_entry(e, want)) break;
        survived++;
    }
    for (uint32_t k = survived; k < count; k++) {
        if (!sim_wal_slot_acknowledged(disk, r, u->entries[k].index)) {
            snprintf(why, why_len, "slot %" PRIu64 " is neither acknowledged nor written, "
                     "after %u of the batch's %u entries", u->entries[k].index, survived, count);
            return -1;
        }
    }
    /* Every other slot: recovered ones, then acknowledged ones. */
    for (uint32_t i = 0; i < r->entry_count; i++) {
        uint64_t slot = r->entries[i].index;
        bool batch = count > 0 && sim_wal_entry_of(u->entries, count, slot) != NULL;
        if (!batch && !sim_wal_same_entry(disk, &r->entries[i])) {
            snprintf(why, why_len, "slot %" PRIu64 " holds a value never acknowledged", slot);
            return -1;
        }
    }
    for (uint64_t slot = disk->snapshot.index + 1; slot <= sim_disk_last_index(disk); slot++) {
        bool batch = count > 0 && sim_wal_entry_of(u->entries, count, slot) != NULL;
        if (!batch && sim_disk_entry_at(disk, slot) != NULL &&
            !sim_wal_slot_acknowledged(disk, r, slot)) {
            snprintf(why, why_len, "acknowledged slot %" PRIu64 " is missing or different",
                     slot);
            return -1;
        }
    }
    bool hs_new = u != NULL && u->hard_state_changed &&
                  sim_wal_same_hard_state(&r->hard_state, &u->hard_state);
    if (survived > 0 && u->hard_state_changed && !hs_new) {
        snprintf(why, why_len, "entries of the batch survived but not its hard state");
        return -1;
    }
    return survived;
}

/* The hard state and the snapshot marker, common to both disciplines. Returns 0 or -1. */
static int sim_wal_compare_head(const struct sim_disk *disk, const struct cn_restore *r,
                                const struct cn_update *u, char *why, size_t why_len)
{
    bool hs_new = u != NULL && u->hard_state_changed &&
                  sim_wal_same_hard_state(&r->hard_state, &u->hard_state);
    if (!sim_wal_same_hard_state(&r->hard_state, &disk->hard_state) && !hs_new) {
        snprintf(why, why_len, "hard state term %" PRIu64 " vote %u commit %" PRIu64
                 " but term %" PRIu64 " vote %u commit %" PRIu64 " was acknowledged",
                 r->hard_state.term, r->hard_state.vote, r->hard_state.commit,
                 disk->hard_state.term, disk->hard_state.vote, disk->hard_state.commit);
        return -1;
    }
    if (r->snapshot.index > disk->snapshot.index) {
        snprintf(why, why_len, "snapshot marker %" PRIu64 " beyond the snapshot held, %" PRIu64,
                 r->snapshot.index, disk->snapshot.index);
        return -1;
    }
    return 0;
}

int64_t sim_wal_compare(const struct sim_disk *disk, const struct cn_restore *r,
                        const struct cn_update *u, bool per_slot, char *why, size_t why_len)
{
    if (!per_slot) return sim_wal_compare_run(disk, r, u, why, why_len);
    if (sim_wal_compare_head(disk, r, u, why, why_len) != 0) return -1;
    return sim_wal_compare_slots(disk, r, u, why, why_len);
}
