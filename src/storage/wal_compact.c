/*
 * wal_compact.c — deleting segments that no group needs.
 *
 * A group needs the segment of its first entry and every later one (entries sit in segments in
 * index order: a rewrite of index i comes later in time and drops everything after i). A
 * per-slot group rewrites slots one by one, so it needs the oldest segment of any slot. Hard
 * states and snapshot markers need no old segment: each new segment starts with a checkpoint
 * of them. The segment of the last durable batch and later ones are always kept (a newer one
 * may not exist on disk yet).
 */
#include "storage/wal_internal.h"

#include <inttypes.h>
#include <string.h>

/* The lowest segment any group still needs, or UINT64_MAX when no group holds entries. Zero
 * when some group's snapshot marker is not durable yet: the entries it dropped from memory may
 * still be needed after a crash, and where they lived is no longer known. Zero too while a
 * per-slot group has a rewrite that is not durable yet (see below). */
static uint64_t wal_needed_seq_min(const struct wal *wal)
{
    uint64_t seq_min = UINT64_MAX;
    for (uint32_t g = 0; g < wal->group_count; g++) {
        const struct wal_group *group = &wal->groups[g];
        if (group->snapshot.index > group->durable_snapshot_index) return 0;
        if (group->count == 0) continue;
        if (group->per_slot) {
            /* Slots are rewritten one by one, so any of them may sit in the oldest segment:
             * every present slot counts. A rewrite not yet durable keeps everything: the value
             * it replaces (an accepted value this acceptor may have acknowledged) may sit in
             * any older segment and must survive a crash before the rewrite is durable.
             * Bounded by WAL_SLOT_SPAN_MAX. */
            for (uint64_t i = 0; i < group->count; i++) {
                const struct wal_slot *slot = &group->slots[group->head + i];
                if (!slot->present) continue;
                if (slot->segment_seq == 0 || slot->batch_gen > wal->completed_gen) return 0;
                if (slot->segment_seq < seq_min) seq_min = slot->segment_seq;
            }
            continue;
        }
        uint64_t seq = group->slots[group->head].segment_seq;
        if (seq != 0 && seq < seq_min) seq_min = seq; /* 0: pending, in the newest segment */
    }
    return seq_min;
}

int wal_compact(struct wal *wal, cn_group_id group_id, uint64_t index, struct wal_error *err)
{
    if (atomic_load(&wal->failed)) return wal_error_set(err, WAL_ERR_FAILED, "the log has failed");
    const struct wal_group *group = wal_group_find(wal, group_id);
    if (group == NULL || index > group->durable_snapshot_index) {
        return wal_error_set(err, WAL_ERR_INVALID,
                             "group %u: no durable snapshot marker covers index %" PRIu64, group_id,
                             index);
    }
    uint64_t bound = wal_needed_seq_min(wal);
    if (bound > wal->durable_seq) bound = wal->durable_seq;
    uint32_t removed = 0;
    int code = WAL_OK;
    /* Bounded by the segment count; segments are ascending, so stop at the first needed one. */
    while (removed < wal->segment_count && wal->segments[removed].seq < bound) {
        struct wal_segment *segment = &wal->segments[removed];
        char path[FILEOPS_PATH_BYTES_MAX];
        if (wal_path(wal, path, sizeof(path), segment->seq, false) != 0) break;
        if (segment->read_handle >= 0) {
            wal->fops->close(wal->fops->impl, segment->read_handle);
            segment->read_handle = -1;
            wal->read_handles_open--;
        }
        int rv = wal->fops->remove(wal->fops->impl, path);
        if (rv != 0) {
            code = wal_error_set(err, WAL_ERR_IO, "%s: remove: %s", path, strerror(-rv));
            break;
        }
        wal_log(wal, "%s: deleted (compacted)", path);
        removed++;
    }
    memmove(wal->segments, wal->segments + removed,
            (wal->segment_count - removed) * sizeof(*wal->segments));
    wal->segment_count -= removed;
    if (removed > 0) {
        int rv = wal->fops->sync_dir(wal->fops->impl, wal->dir);
        if (rv != 0)
            return wal_error_set(err, WAL_ERR_IO, "%s: fsync: %s", wal->dir, strerror(-rv));
    }
    return code;
}
