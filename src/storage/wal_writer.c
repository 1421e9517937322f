/*
 * wal_writer.c — group commit. Appends encode records into the open batch (memory only);
 * sealing fixes where the batch lands (roll-over decided here, on the owner thread, so that
 * the entry slots know their segment and offset); writing does one write and one fdatasync on
 * whichever thread the caller chose; completing publishes the result on the owner thread.
 * See the thread and failure rules in wal.h.
 */
#include "storage/wal_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int wal_buffer_reserve(uint8_t **buf, size_t *cap, size_t needed)
{
    if (needed <= *cap) return WAL_OK;
    size_t new_cap = *cap == 0 ? 64u << 10 : *cap;
    while (new_cap < needed) new_cap *= 2; /* bounded: needed <= WAL_BATCH_BYTES_MAX * 2 */
    uint8_t *grown = realloc(*buf, new_cap);
    if (grown == NULL) return WAL_ERR_NOMEM;
    *buf = grown;
    *cap = new_cap;
    return WAL_OK;
}

static int wal_array_reserve(void **array, uint32_t *cap, uint32_t needed, size_t item_bytes)
{
    if (needed <= *cap) return WAL_OK;
    uint32_t new_cap = *cap == 0 ? 256 : *cap;
    while (new_cap < needed) new_cap *= 2; /* bounded: needed <= WAL_BATCH_ENTRIES_MAX */
    void *grown = realloc(*array, (size_t)new_cap * item_bytes);
    if (grown == NULL) return WAL_ERR_NOMEM;
    *array = grown;
    *cap = new_cap;
    return WAL_OK;
}

void wal_batch_free(struct wal_batch *batch)
{
    free(batch->buf);
    free(batch->refs);
    free(batch->head);
    free(batch->snaps);
    memset(batch, 0, sizeof(*batch));
}

/* Frames one record at the end of the batch and returns its payload for the caller to fill. */
static uint8_t *wal_batch_push_record(struct wal_batch *batch, uint8_t type, cn_group_id group,
                                      uint32_t payload_len)
{
    uint32_t frame_bytes = wal_record_frame_bytes(payload_len);
    assert(batch->len + frame_bytes <= batch->cap);
    uint8_t *frame = batch->buf + batch->len;
    wal_record_frame(frame, type, group, payload_len);
    batch->len += frame_bytes;
    return frame + WAL_RECORD_HEADER_BYTES;
}

/* Checks the entries of a per-slot append: strictly ascending, each above the snapshot and
 * within WAL_SLOT_SPAN_MAX of it (`first` is the snapshot index + 1 once the marker applies). */
static int wal_append_check_slots(cn_group_id group_id, uint64_t first,
                                  const struct cn_entry *entries, uint32_t count,
                                  struct wal_error *err)
{
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_entry *e = &entries[i];
        if (e->index < first || e->index == UINT64_MAX ||
            (i > 0 && e->index <= entries[i - 1].index) || e->data_len > CN_ENTRY_DATA_BYTES_MAX ||
            (e->data_len > 0 && e->data == NULL)) {
            return wal_error_set(err, WAL_ERR_INVALID,
                                 "group %u: per-slot entry %u (slot %llu) is malformed, out of "
                                 "order or at or below the snapshot",
                                 group_id, i, (unsigned long long)e->index);
        }
        if (e->index - first >= WAL_SLOT_SPAN_MAX) {
            return wal_error_set(err, WAL_ERR_INVALID,
                                 "group %u: slot %llu lies beyond the bound of %u slots above the "
                                 "snapshot %llu",
                                 group_id, (unsigned long long)e->index, WAL_SLOT_SPAN_MAX,
                                 (unsigned long long)(first - 1));
        }
    }
    return WAL_OK;
}

/* Checks an append against the group's state as it will be once the snapshot (if any) is
 * applied, without changing anything. */
static int wal_append_check(const struct wal *wal, cn_group_id group_id, uint32_t flags,
                            const struct cn_snapshot_meta *snap, const struct cn_entry *entries,
                            uint32_t count, struct wal_error *err)
{
    if ((flags & ~(uint32_t)(WAL_APPEND_PER_SLOT | WAL_APPEND_INSTALL)) != 0) {
        return wal_error_set(err, WAL_ERR_INVALID, "group %u: unknown flags %#x", group_id, flags);
    }
    bool per_slot = (flags & WAL_APPEND_PER_SLOT) != 0;
    const struct wal_group *group = wal_group_find(wal, group_id);
    uint64_t first = group ? group->first_index : 1;
    uint64_t last = group ? wal_group_last_index(group) : 0;
    uint64_t slots_first = group ? group->snapshot.index + 1 : 1;
    if (snap != NULL) {
        if (snap->members.count > CN_MEMBERS_MAX ||
            (group && snap->index < group->snapshot.index) ||
            snap->index == UINT64_MAX) {
            return wal_error_set(err, WAL_ERR_INVALID, "group %u: bad snapshot marker", group_id);
        }
        if (group == NULL || !wal_group_marker_keeps_suffix(group, snap, flags)) last = snap->index;
        if (last < snap->index) last = snap->index;
        first = snap->index + 1;
        slots_first = snap->index + 1;
    }
    /* A group holding entries after the marker takes more of the same mode only. */
    if (count > 0 && group != NULL && last >= first && group->per_slot != per_slot) {
        return wal_error_set(err, WAL_ERR_INVALID,
                             "group %u holds %s entries: a %s append cannot follow them", group_id,
                             group->per_slot ? "per-slot" : "Raft", per_slot ? "per-slot" : "Raft");
    }
    if (per_slot) return wal_append_check_slots(group_id, slots_first, entries, count, err);
    if (count > 0 && entries[0].index > UINT64_MAX - 1 - count) {
        return wal_error_set(err, WAL_ERR_INVALID, "group %u: entry index overflows", group_id);
    }
    for (uint32_t i = 0; i < count; i++) {
        if (entries[i].index != entries[0].index + i ||
            entries[i].data_len > CN_ENTRY_DATA_BYTES_MAX ||
            (entries[i].data_len > 0 && entries[i].data == NULL)) {
            return wal_error_set(err, WAL_ERR_INVALID, "group %u: entry %u of the run is malformed",
                                 group_id, i);
        }
    }
    if (count > 0 && (entries[0].index < first || entries[0].index > last + 1)) {
        return wal_error_set(err, WAL_ERR_INVALID,
                             "group %u: entry %llu does not follow the log [%llu, %llu]", group_id,
                             (unsigned long long)entries[0].index, (unsigned long long)first,
                             (unsigned long long)last);
    }
    return WAL_OK;
}

/* Reserves every buffer the append needs, so that encoding cannot fail half-way. */
static int wal_append_reserve(struct wal *wal, const struct cn_hard_state *hs,
                              const struct cn_snapshot_meta *snap, const struct cn_entry *entries,
                              uint32_t count, struct wal_error *err)
{
    struct wal_batch *batch = wal->open;
    uint64_t bytes = 0;
    if (hs != NULL) bytes += wal_record_frame_bytes(WAL_HARD_STATE_PAYLOAD_BYTES);
    if (snap != NULL) bytes += wal_record_frame_bytes(WAL_SNAPSHOT_PAYLOAD_BYTES);
    for (uint32_t i = 0; i < count; i++) {
        bytes += wal_record_frame_bytes(WAL_ENTRY_PAYLOAD_BYTES + entries[i].data_len);
    }
    if (batch->len + bytes > wal->options.batch_bytes_max ||
        (uint64_t)batch->ref_count + count > WAL_BATCH_ENTRIES_MAX ||
        batch->snap_count == WAL_BATCH_ENTRIES_MAX) {
        return wal_error_set(err, WAL_ERR_FULL, "batch holds %zu bytes, %u entries: sync first",
                             batch->len, batch->ref_count);
    }
    if (wal_buffer_reserve(&batch->buf, &batch->cap, batch->len + bytes) != WAL_OK ||
        wal_array_reserve((void **)&batch->refs, &batch->ref_cap, batch->ref_count + count,
                          sizeof(*batch->refs)) != WAL_OK ||
        wal_array_reserve((void **)&batch->snaps, &batch->snap_cap, batch->snap_count + 1,
                          sizeof(*batch->snaps)) != WAL_OK) {
        return wal_error_set(err, WAL_ERR_NOMEM, "batch: out of memory");
    }
    return WAL_OK;
}

/* Encodes the entries and mirrors them in the group's slots. A failure here (memory for the
 * cached copy) would leave the batch and the slots disagreeing, so it fails the WAL. */
static int wal_append_entries(struct wal *wal, struct wal_group *group, bool per_slot,
                              const struct cn_entry *entries, uint32_t count, struct wal_error *err)
{
    struct wal_batch *batch = wal->open;
    if (!per_slot && count > 0 && entries[0].index <= wal_group_last_index(group) &&
        group->count > 0) {
        wal_group_truncate_from(wal, group, entries[0].index);
    }
    uint8_t type = per_slot ? WAL_RECORD_ENTRY_SLOT : WAL_RECORD_ENTRY;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t offset = (uint32_t)batch->len;
        uint8_t *payload = wal_batch_push_record(batch, type, group->id,
                                                 WAL_ENTRY_PAYLOAD_BYTES + entries[i].data_len);
        wal_encode_entry_payload(payload, &entries[i]);
        struct wal_slot location = {.segment_seq = 0, .batch_gen = batch->gen, .offset = offset};
        int rv = per_slot ? wal_group_put(wal, group, &entries[i], &location)
                          : wal_group_push(wal, group, &entries[i], &location);
        if (rv != WAL_OK) {
            atomic_store(&wal->failed, true);
            return wal_error_set(err, WAL_ERR_FAILED, "group %u: out of memory caching entry %llu",
                                 group->id, (unsigned long long)entries[i].index);
        }
        batch->refs[batch->ref_count++] = (struct wal_batch_ref){
            .group = group->id, .index = entries[i].index, .batch_offset = offset};
    }
    return WAL_OK;
}

int wal_append(struct wal *wal, cn_group_id group_id, const struct cn_hard_state *hs,
               const struct cn_snapshot_meta *snap, const struct cn_entry *entries, uint32_t count,
               struct wal_error *err)
{
    return wal_append_mode(wal, group_id, 0, hs, snap, entries, count, err);
}

int wal_append_mode(struct wal *wal, cn_group_id group_id, uint32_t flags,
                    const struct cn_hard_state *hs, const struct cn_snapshot_meta *snap,
                    const struct cn_entry *entries, uint32_t count, struct wal_error *err)
{
    if (atomic_load(&wal->failed)) return wal_error_set(err, WAL_ERR_FAILED, "the log has failed");
    if (count > 0 && entries == NULL) return wal_error_set(err, WAL_ERR_INVALID, "entries is NULL");
    if (hs == NULL && snap == NULL && count == 0) return WAL_OK;
    int rv = wal_append_check(wal, group_id, flags, snap, entries, count, err);
    if (rv != WAL_OK) return rv;
    rv = wal_append_reserve(wal, hs, snap, entries, count, err);
    if (rv != WAL_OK) return rv;
    struct wal_group *group;
    rv = wal_group_get(wal, group_id, &group);
    if (rv != WAL_OK) return wal_error_set(err, rv, "group %u: cannot add the group", group_id);

    struct wal_batch *batch = wal->open;
    if (hs != NULL) {
        uint8_t *payload = wal_batch_push_record(batch, WAL_RECORD_HARD_STATE, group_id,
                                                 WAL_HARD_STATE_PAYLOAD_BYTES);
        wal_encode_hard_state_payload(payload, hs);
        group->has_hard_state = true;
        group->hard_state = *hs;
    }
    if (snap != NULL) {
        uint8_t *payload =
            wal_batch_push_record(batch, WAL_RECORD_SNAPSHOT, group_id, WAL_SNAPSHOT_PAYLOAD_BYTES);
        bool keep_suffix = wal_group_marker_keeps_suffix(group, snap, flags);
        wal_encode_snapshot_payload(payload, snap, keep_suffix);
        wal_group_apply_snapshot(wal, group, snap, keep_suffix);
        batch->snaps[batch->snap_count++] = (struct wal_batch_snap){group_id, snap->index};
    }
    rv = wal_append_entries(wal, group, (flags & WAL_APPEND_PER_SLOT) != 0, entries, count, err);
    if (rv != WAL_OK) return rv;
    wal_cache_evict(wal);
    return WAL_OK;
}

int wal_reset_group(struct wal *wal, cn_group_id group_id, struct wal_error *err)
{
    if (atomic_load(&wal->failed)) return wal_error_set(err, WAL_ERR_FAILED, "the log has failed");
    struct wal_group *group = wal_group_find(wal, group_id);
    if (group == NULL) return WAL_OK; /* nothing of it was ever persisted */
    struct wal_batch *batch = wal->open;
    uint32_t bytes = wal_record_frame_bytes(WAL_RESET_PAYLOAD_BYTES);
    if (batch->len + bytes > wal->options.batch_bytes_max)
        return wal_error_set(err, WAL_ERR_FULL, "batch holds %zu bytes: sync first", batch->len);
    if (wal_buffer_reserve(&batch->buf, &batch->cap, batch->len + bytes) != WAL_OK)
        return wal_error_set(err, WAL_ERR_NOMEM, "batch: out of memory");
    uint8_t *payload = wal_batch_push_record(batch, WAL_RECORD_RESET, group_id,
                                             WAL_RESET_PAYLOAD_BYTES);
    memset(payload, 0, WAL_RESET_PAYLOAD_BYTES);
    wal_group_reset(wal, group);
    return WAL_OK;
}

/* Encodes the new segment's header and, for every group, its state as of the previous batch:
 * the checkpoint that lets every older segment be deleted without losing a hard state or a
 * snapshot marker. Those records are already durable elsewhere, so repeating them is safe. */
static int wal_batch_encode_head(struct wal *wal, struct wal_batch *batch, uint64_t seq)
{
    size_t bytes = WAL_SEGMENT_HEADER_BYTES +
        (size_t)wal->group_count *
            (wal_record_frame_bytes(WAL_HARD_STATE_PAYLOAD_BYTES) +
             wal_record_frame_bytes(WAL_SNAPSHOT_PAYLOAD_BYTES));
    if (wal_buffer_reserve(&batch->head, &batch->head_cap, bytes) != WAL_OK) return WAL_ERR_NOMEM;
    size_t len = WAL_SEGMENT_HEADER_BYTES;
    uint8_t *last_frame = NULL;
    for (uint32_t g = 0; g < wal->group_count; g++) {
        const struct wal_group *group = &wal->groups[g];
        if (group->sealed_has_hard_state) {
            uint8_t *frame = batch->head + len;
            wal_record_frame(frame, WAL_RECORD_HARD_STATE, group->id, WAL_HARD_STATE_PAYLOAD_BYTES);
            wal_encode_hard_state_payload(frame + WAL_RECORD_HEADER_BYTES,
                                          &group->sealed_hard_state);
            wal_record_seal(frame, 0, false);
            last_frame = frame;
            len += wal_record_frame_bytes(WAL_HARD_STATE_PAYLOAD_BYTES);
        }
        if (group->sealed_snapshot.index > 0) {
            uint8_t *frame = batch->head + len;
            wal_record_frame(frame, WAL_RECORD_SNAPSHOT, group->id, WAL_SNAPSHOT_PAYLOAD_BYTES);
            wal_encode_snapshot_payload(frame + WAL_RECORD_HEADER_BYTES, &group->sealed_snapshot,
                                        true);
            wal_record_seal(frame, 0, false);
            last_frame = frame;
            len += wal_record_frame_bytes(WAL_SNAPSHOT_PAYLOAD_BYTES);
        }
    }
    /* The checkpoint is a write of its own: its last record ends it. */
    if (last_frame != NULL)
        wal_record_seal(last_frame, 0, true);
    batch->head_len = len;
    assert(len + batch->len <= UINT32_MAX);
    wal_segment_header_encode(batch->head, seq, (uint32_t)(len + batch->len));
    return WAL_OK;
}

/* Whether the batch would begin a new segment if sealed now (wal_batch_place decides so). */
static bool wal_batch_would_roll(const struct wal *wal, const struct wal_batch *batch)
{
    return wal->cursor_seq == 0 ||
        (wal->cursor_offset + batch->len > wal->options.segment_bytes &&
         wal->cursor_offset > wal->cursor_data_start);
}

/* Decides where the batch goes: after the cursor, or at the start of a new segment when it
 * does not fit (an empty segment takes a batch of any size; its file grows to hold it). */
static int wal_batch_place(struct wal *wal, struct wal_batch *batch)
{
    uint64_t segment_bytes = wal->options.segment_bytes;
    bool roll = wal_batch_would_roll(wal, batch);
    batch->new_segment = roll;
    batch->use_spare = false;
    batch->head_len = 0;
    if (!roll) {
        batch->segment_seq = wal->cursor_seq;
        batch->base_offset = (uint32_t)wal->cursor_offset;
        wal->cursor_offset += batch->len;
        return WAL_OK;
    }
    uint64_t seq = wal->cursor_seq + 1;
    if (wal->segment_count > 0 && wal->segments[wal->segment_count - 1].seq >= seq) {
        seq = wal->segments[wal->segment_count - 1].seq + 1;
    }
    if (wal_batch_encode_head(wal, batch, seq) != WAL_OK || wal_segment_add(wal, seq) != WAL_OK) {
        return WAL_ERR_NOMEM;
    }
    batch->segment_seq = seq;
    batch->base_offset = (uint32_t)batch->head_len;
    uint64_t used = batch->head_len + batch->len;
    batch->segment_bytes = used > segment_bytes ? used : segment_bytes;
    /* The spare is taken whatever the batch's size: a larger batch grows the file, as it
     * grows a fallocated one. */
    batch->use_spare = wal->spare.ready;
    if (batch->use_spare) {
        wal->spare.ready = false;
        wal->spares_used++;
    }
    wal->cursor_seq = seq;
    wal->cursor_offset = used;
    wal->cursor_data_start = batch->head_len;
    return WAL_OK;
}

bool wal_batch_sealable(const struct wal *wal)
{
    if (wal->open->len == 0 || atomic_load(&wal->failed)) return false;
    if (wal->inflight_count == 0) return true;
    if (wal->inflight_count == WAL_BATCHES_IN_FLIGHT_MAX) return false;
    /* A batch that creates a segment is written alone: it switches the writer's file, and
     * recovery holds its creating write to be synced before anything follows it. */
    const struct wal_batch *last = wal->inflight[wal->inflight_count - 1];
    return !last->new_segment && !wal_batch_would_roll(wal, wal->open);
}

/* The batch that takes appends next: the one neither open nor in flight. */
static struct wal_batch *wal_batch_free_one(struct wal *wal)
{
    for (uint32_t i = 0; i < WAL_BATCHES_IN_FLIGHT_MAX + 1; i++) {
        struct wal_batch *b = &wal->batches[i];
        if (b != wal->open && !b->sealed) return b;
    }
    assert(!"every batch is open or in flight");
    return NULL;
}

struct wal_batch *wal_batch_seal(struct wal *wal)
{
    struct wal_batch *batch = wal->open;
    if (batch->len == 0 || atomic_load(&wal->failed)) return NULL;
    assert(wal_batch_sealable(wal));
    assert(wal->cursor_offset + batch->len <=
           (uint64_t)WAL_SEGMENT_BYTES_MAX + WAL_BATCH_BYTES_MAX);
    if (wal_batch_place(wal, batch) != WAL_OK) {
        atomic_store(&wal->failed, true);
        wal_log(wal, "out of memory sealing a batch: the log has failed");
        return NULL;
    }
    for (uint32_t i = 0; i < batch->ref_count; i++) {
        const struct wal_batch_ref *ref = &batch->refs[i];
        struct wal_group *group = wal_group_find(wal, ref->group);
        struct wal_slot *slot = group ? wal_group_slot(group, ref->index) : NULL;
        /* Skip slots replaced later in the same batch: they carry a later offset. */
        if (slot == NULL || !slot->present || slot->segment_seq != 0 ||
            slot->offset != ref->batch_offset)
            continue;
        assert(slot->batch_gen == batch->gen);
        slot->segment_seq = batch->segment_seq;
        slot->offset = batch->base_offset + ref->batch_offset;
    }
    for (uint32_t g = 0; g < wal->group_count; g++) {
        struct wal_group *group = &wal->groups[g];
        group->sealed_has_hard_state = group->has_hard_state;
        group->sealed_hard_state = group->hard_state;
        group->sealed_snapshot = group->snapshot;
    }
    /* Sealable: a batch in flight is in the same segment, so this one lands after it. */
    batch->overlap_offset = wal->inflight_count > 0 ? wal->inflight[0]->base_offset : 0;
    assert(batch->overlap_offset == 0 || (!batch->new_segment &&
                                          batch->overlap_offset < batch->base_offset));
    batch->sealed = true;
    batch->written = false;
    batch->result = WAL_OK;
    wal->inflight[wal->inflight_count++] = batch;
    wal->open = wal_batch_free_one(wal);
    struct wal_batch *next = wal->open;
    next->gen = wal->next_gen++;
    next->len = 0;
    next->ref_count = 0;
    next->snap_count = 0;
    next->sealed = false;
    return batch;
}

static int wal_fail(struct wal *wal, struct wal_error *err, const char *path, const char *what,
                    int rv)
{
    atomic_store(&wal->failed, true);
    return wal_error_set(err, WAL_ERR_FAILED, "%s: %s failed: %s; the log is unusable", path, what,
                         strerror(-rv));
}

/* Opens the new segment's temporary file: the spare renamed to it, or a new file. */
static int wal_segment_open_tmp(struct wal *wal, const struct wal_batch *batch, const char *tmp,
                                int *handle, const char **what)
{
    const struct fileops *fops = wal->fops;
    unsigned flags = FILEOPS_READ_WRITE | FILEOPS_CREATE | FILEOPS_EXCLUSIVE;
    if (batch->use_spare) {
        char spare[FILEOPS_PATH_BYTES_MAX];
        *what = "rename of the spare";
        int rv = wal_spare_path(wal, spare, sizeof(spare)) != 0 ? -ENAMETOOLONG
                                                                : fops->rename(fops->impl, spare, tmp);
        if (rv != 0) return rv;
        flags = FILEOPS_READ_WRITE;
    }
    *what = "open";
    return fops->open(fops->impl, tmp, flags, handle);
}

/* Creates the batch's segment: a temporary file (the zero-filled spare, or a new one
 * preallocated), holding the header, the checkpoint and the batch, synced, then renamed into
 * place and the directory synced. A crash before the rename leaves only a ".tmp" file, which
 * recovery deletes. */
static int wal_segment_create(struct wal *wal, struct wal_batch *batch, struct wal_error *err)
{
    const struct fileops *fops = wal->fops;
    char tmp[FILEOPS_PATH_BYTES_MAX], path[FILEOPS_PATH_BYTES_MAX];
    if (wal_path(wal, tmp, sizeof(tmp), batch->segment_seq, true) != 0 ||
        wal_path(wal, path, sizeof(path), batch->segment_seq, false) != 0) {
        return wal_fail(wal, err, wal->dir, "segment path", -ENAMETOOLONG);
    }
    int handle = -1;
    const char *what = NULL;
    int rv = wal_segment_open_tmp(wal, batch, tmp, &handle, &what);
    if (rv != 0) return wal_fail(wal, err, tmp, what, rv);
    what = "fallocate";
    rv = fops->allocate(fops->impl, handle, batch->segment_bytes);
    if (rv != 0) goto err;
    what = "write";
    rv = fops->write(fops->impl, handle, 0, batch->head, batch->head_len);
    if (rv != 0) goto err;
    rv = fops->write(fops->impl, handle, batch->base_offset, batch->buf, batch->len);
    if (rv != 0) goto err;
    what = "fdatasync";
    rv = fops->sync(fops->impl, handle);
    if (rv != 0) goto err;
    what = "rename";
    rv = fops->rename(fops->impl, tmp, path);
    if (rv != 0) goto err;
    what = "directory fsync";
    rv = fops->sync_dir(fops->impl, wal->dir);
    if (rv != 0) goto err;
    if (wal->writer.handle >= 0) fops->close(fops->impl, wal->writer.handle);
    wal->writer.handle = handle;
    wal->writer.segment_seq = batch->segment_seq;
    return WAL_OK;
err:
    assert(rv != 0);
    fops->close(fops->impl, handle);
    return wal_fail(wal, err, tmp, what, rv);
}

static int wal_batch_write_once(struct wal *wal, struct wal_batch *batch, struct wal_error *err)
{
    uint32_t write_offset = batch->new_segment ? 0 : batch->base_offset;
    /* Bounded by the batch length: every frame is at least one header long. */
    for (size_t at = 0; at < batch->len;) {
        uint8_t *frame = batch->buf + at;
        size_t next = at + wal_record_frame_bytes(wal_get_u32(frame + 4));
        wal_record_seal_overlap(frame, write_offset, batch->overlap_offset, next >= batch->len);
        at = next;
    }
    if (batch->new_segment) return wal_segment_create(wal, batch, err);
    assert(wal->writer.handle >= 0 && wal->writer.segment_seq == batch->segment_seq);
    char path[FILEOPS_PATH_BYTES_MAX];
    if (wal_path(wal, path, sizeof(path), batch->segment_seq, false) != 0) path[0] = 0;
    const struct fileops *fops = wal->fops;
    int rv =
        fops->write(fops->impl, wal->writer.handle, batch->base_offset, batch->buf, batch->len);
    if (rv != 0) return wal_fail(wal, err, path, "write", rv);
    rv = fops->sync(fops->impl, wal->writer.handle);
    if (rv != 0) return wal_fail(wal, err, path, "fdatasync", rv);
    return WAL_OK;
}

int wal_batch_write(struct wal *wal, struct wal_batch *batch, struct wal_error *err)
{
    assert(batch->sealed && !batch->written);
    if (atomic_load(&wal->failed)) {
        batch->result = wal_error_set(err, WAL_ERR_FAILED, "the log has failed");
    } else {
        batch->result = wal_batch_write_once(wal, batch, err);
    }
    batch->written = true;
    return batch->result;
}

int wal_batch_complete(struct wal *wal, struct wal_batch *batch)
{
    assert(wal->inflight_count > 0 && batch == wal->inflight[0] && batch->written);
    wal->inflight_count--;
    memmove(&wal->inflight[0], &wal->inflight[1], wal->inflight_count * sizeof(wal->inflight[0]));
    batch->sealed = false;
    if (batch->result != WAL_OK) return batch->result;
    assert(batch->gen > wal->completed_gen);
    wal->completed_gen = batch->gen;
    wal->durable_seq = batch->segment_seq;
    for (uint32_t i = 0; i < batch->snap_count; i++) {
        struct wal_group *group = wal_group_find(wal, batch->snaps[i].group);
        if (group != NULL && group->durable_snapshot_index < batch->snaps[i].index) {
            group->durable_snapshot_index = batch->snaps[i].index;
        }
    }
    wal->batches_written++;
    wal->bytes_written += batch->head_len + batch->len;
    wal_cache_evict(wal);
    return WAL_OK;
}

int wal_sync(struct wal *wal, struct wal_error *err)
{
    struct wal_batch *batch = wal_batch_seal(wal);
    if (batch == NULL) {
        if (atomic_load(&wal->failed))
            return wal_error_set(err, WAL_ERR_FAILED, "the log has failed");
        return WAL_OK;
    }
    wal_batch_write(wal, batch, err);
    return wal_batch_complete(wal, batch);
}
