/*
 * wal_log.c — the WAL's in-memory picture of each group: hard state, snapshot marker and one
 * slot per entry after the snapshot (term, where the record is, and a cached copy of the data).
 * The cached data over all groups is bounded by options.cache_bytes_max; evicted entries are
 * read back from their segment on demand. Entries of a batch that is not yet durable are never
 * evicted (their bytes may not be on disk), so the cache can exceed its bound by at most the
 * open and in-flight batches.
 */
#include "storage/wal_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wal_strerror(int code)
{
    switch (code) {
    case WAL_OK: return "ok";
    case WAL_ERR_IO: return "i/o error";
    case WAL_ERR_CORRUPT: return "corrupt log";
    case WAL_ERR_FAILED: return "log failed (write or sync error)";
    case WAL_ERR_FULL: return "batch full";
    case WAL_ERR_INVALID: return "invalid argument";
    case WAL_ERR_NOMEM: return "out of memory";
    case WAL_ERR_RANGE: return "entries not in the log";
    }
    return "unknown error";
}

int wal_error_set(struct wal_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

void wal_log(const struct wal *wal, const char *fmt, ...)
{
    char message[WAL_ERROR_MESSAGE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (wal->options.log != NULL) {
        wal->options.log(wal->options.log_context, message);
    } else {
        fprintf(stderr, "wal: %s\n", message);
    }
}

int wal_path(const struct wal *wal, char *path, size_t path_bytes, uint64_t seq, bool tmp)
{
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, sizeof(name), seq);
    int n = snprintf(path, path_bytes, "%s/%s%s", wal->dir, name, tmp ? ".tmp" : "");
    return n > 0 && (size_t)n < path_bytes ? 0 : -ENAMETOOLONG;
}

struct wal_group *wal_group_find(const struct wal *wal, cn_group_id id)
{
    uint32_t lo = 0, hi = wal->group_count;
    while (lo < hi) { /* binary search: groups are sorted by id */
        uint32_t mid = lo + (hi - lo) / 2;
        if (wal->groups[mid].id == id) return &wal->groups[mid];
        if (wal->groups[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Finds or creates the group. Creation keeps the table sorted; pointers into it are only
 * valid until the next creation. */
int wal_group_get(struct wal *wal, cn_group_id id, struct wal_group **out)
{
    *out = wal_group_find(wal, id);
    if (*out != NULL) return WAL_OK;
    if (wal->group_count == WAL_GROUPS_MAX) return WAL_ERR_FULL;
    if (wal->group_count == wal->group_cap) {
        uint32_t cap = wal->group_cap == 0 ? 4 : wal->group_cap * 2;
        struct wal_group *groups = realloc(wal->groups, cap * sizeof(*groups));
        if (groups == NULL) return WAL_ERR_NOMEM;
        wal->groups = groups;
        wal->group_cap = cap;
    }
    uint32_t at = 0;
    while (at < wal->group_count && wal->groups[at].id < id) at++;
    memmove(&wal->groups[at + 1], &wal->groups[at], (wal->group_count - at) * sizeof(*wal->groups));
    struct wal_group *group = &wal->groups[at];
    memset(group, 0, sizeof(*group));
    group->id = id;
    group->first_index = 1;
    group->cached_from = 1;
    wal->group_count++;
    *out = group;
    return WAL_OK;
}

uint64_t wal_group_last_index(const struct wal_group *group)
{
    return group->first_index + group->count - 1;
}

struct wal_slot *wal_group_slot(const struct wal_group *group, uint64_t index)
{
    if (index < group->first_index || index > wal_group_last_index(group)) return NULL;
    return &group->slots[group->head + (index - group->first_index)];
}

static void wal_slot_drop_data(struct wal *wal, struct wal_slot *slot)
{
    if (slot->data != NULL) {
        assert(wal->cache_bytes >= slot->data_len);
        wal->cache_bytes -= slot->data_len;
        free(slot->data);
        slot->data = NULL;
    }
}

/* Forgets entries index.. of the group (a Raft truncation, or a reset). */
void wal_group_truncate_from(struct wal *wal, struct wal_group *group, uint64_t index)
{
    assert(index >= group->first_index);
    uint64_t last = wal_group_last_index(group);
    for (uint64_t i = index; i <= last; i++) wal_slot_drop_data(wal, wal_group_slot(group, i));
    if (index <= last) group->count = index - group->first_index;
    if (group->count == 0) group->head = 0;
}

/* Whether a new snapshot marker keeps the log after its index: yes when the log holds the
 * snapshot's index with the same term (the log agrees with the snapshot), or when the marker
 * only restates the current one. Otherwise the log diverges from the snapshot and goes. */
bool wal_group_snapshot_keeps_suffix(const struct wal_group *group,
                                     const struct cn_snapshot_meta *snap)
{
    if (snap->index < group->first_index) return true;
    const struct wal_slot *at = wal_group_slot(group, snap->index);
    return at != NULL && at->present && at->term == snap->term;
}

/* Per-slot markers: a snapshot the node took keeps the slots above it (each is an accepted
 * value on its own, with no log-matching to check), an installed one drops them all (the core
 * rewrites what it keeps after the marker). Raft markers follow the rule above. */
bool wal_group_marker_keeps_suffix(const struct wal_group *group,
                                   const struct cn_snapshot_meta *snap, uint32_t flags)
{
    if (flags & WAL_APPEND_PER_SLOT) return (flags & WAL_APPEND_INSTALL) == 0;
    return wal_group_snapshot_keeps_suffix(group, snap);
}

/* A snapshot marker: the log now starts after snap->index. Entries up to it are dropped, and
 * all of them unless keep_suffix (see wal_group_snapshot_keeps_suffix). */
void wal_group_reset(struct wal *wal, struct wal_group *group)
{
    if (group->count > 0)
        wal_group_truncate_from(wal, group, group->first_index);
    memset(&group->snapshot, 0, sizeof(group->snapshot));
    group->first_index = 1;
    group->cached_from = 1;
    group->per_slot = false;
}

void wal_group_apply_snapshot(struct wal *wal, struct wal_group *group,
                              const struct cn_snapshot_meta *snap, bool keep_suffix)
{
    if (!keep_suffix || snap->index >= wal_group_last_index(group)) {
        wal_group_truncate_from(wal, group, group->first_index);
        group->first_index = snap->index + 1;
    } else if (snap->index >= group->first_index) {
        uint64_t drop = snap->index + 1 - group->first_index;
        for (uint64_t i = 0; i < drop; i++) wal_slot_drop_data(wal, &group->slots[group->head + i]);
        group->head += drop;
        group->count -= drop;
        group->first_index = snap->index + 1;
    }
    if (group->cached_from < group->first_index) group->cached_from = group->first_index;
    group->snapshot = *snap;
}

/* Makes room for `extra` more slots after the last one. */
static int wal_group_reserve(struct wal_group *group, uint64_t extra)
{
    uint64_t need = group->head + group->count + extra;
    if (need <= group->capacity) return WAL_OK;
    if (group->head > 0 && group->head >= group->capacity / 2 &&
        group->count + extra <= group->capacity) {
        memmove(group->slots, group->slots + group->head, group->count * sizeof(*group->slots));
        group->head = 0;
        return WAL_OK;
    }
    uint64_t cap = group->capacity == 0 ? 64 : group->capacity * 2;
    while (cap < need) cap *= 2; /* bounded: need <= head + count + WAL_SLOT_SPAN_MAX */
    struct wal_slot *slots = realloc(group->slots, cap * sizeof(*slots));
    if (slots == NULL) return WAL_ERR_NOMEM;
    group->slots = slots;
    group->capacity = cap;
    return WAL_OK;
}

/* Appends entry (index = last + 1, or the first after a reset) with a cached copy of its data. */
int wal_group_push(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                   const struct wal_slot *location)
{
    if (group->count == 0) {
        group->first_index = entry->index;
        group->cached_from = entry->index;
        group->per_slot = false;
    }
    assert(!group->per_slot);
    assert(entry->index == wal_group_last_index(group) + 1);
    int rv = wal_group_reserve(group, 1);
    if (rv != WAL_OK) return rv;
    struct wal_slot slot = *location;
    slot.term = entry->term;
    slot.type = entry->type;
    slot.present = true;
    slot.data_len = entry->data_len;
    slot.data = NULL;
    if (entry->data_len > 0) {
        slot.data = malloc(entry->data_len);
        if (slot.data == NULL) return WAL_ERR_NOMEM;
        memcpy(slot.data, entry->data, entry->data_len);
        wal->cache_bytes += entry->data_len;
    }
    group->slots[group->head + group->count] = slot;
    group->count++;
    return WAL_OK;
}

/* Per-slot mode (wal_append_mode): the entry replaces its slot only. A slot past the last one
 * opens holes up to it; a hole never ends the table, so the last slot is always present. A
 * rewrite below cached_from moves it down, so that eviction finds the new cached copy. */
int wal_group_put(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                  const struct wal_slot *location)
{
    if (group->count == 0) {
        group->head = 0;
        group->first_index = group->snapshot.index + 1;
        group->cached_from = group->first_index;
        group->per_slot = true;
    }
    assert(group->per_slot);
    assert(group->first_index == group->snapshot.index + 1);
    assert(entry->index >= group->first_index);
    assert(entry->index - group->first_index < WAL_SLOT_SPAN_MAX);
    uint8_t *data = NULL;
    if (entry->data_len > 0) {
        data = malloc(entry->data_len);
        if (data == NULL) return WAL_ERR_NOMEM;
        memcpy(data, entry->data, entry->data_len);
    }
    uint64_t last = wal_group_last_index(group);
    if (entry->index > last) {
        uint64_t extra = entry->index - last;
        int rv = wal_group_reserve(group, extra);
        if (rv != WAL_OK) {
            free(data);
            return rv;
        }
        memset(&group->slots[group->head + group->count], 0, extra * sizeof(*group->slots));
        group->count += extra;
    }
    struct wal_slot *slot = wal_group_slot(group, entry->index);
    wal_slot_drop_data(wal, slot);
    *slot = *location;
    slot->term = entry->term;
    slot->type = entry->type;
    slot->present = true;
    slot->data_len = entry->data_len;
    slot->data = data;
    if (data != NULL) {
        wal->cache_bytes += entry->data_len;
        if (entry->index < group->cached_from) group->cached_from = entry->index;
    }
    return WAL_OK;
}

static bool wal_slot_evictable(const struct wal *wal, const struct wal_slot *slot)
{
    return slot->segment_seq != 0 && slot->batch_gen <= wal->completed_gen;
}

/* Brings the cache under its bound by dropping the oldest durable entries, group by group.
 * Bounded by the number of slots: each step either drops one or leaves the group. */
void wal_cache_evict(struct wal *wal)
{
    for (uint32_t g = 0; g < wal->group_count && wal->cache_bytes > wal->options.cache_bytes_max;
         g++) {
        struct wal_group *group = &wal->groups[g];
        if (group->cached_from < group->first_index) group->cached_from = group->first_index;
        while (wal->cache_bytes > wal->options.cache_bytes_max) {
            struct wal_slot *slot = wal_group_slot(group, group->cached_from);
            /* Holes hold nothing. A per-slot rewrite not yet durable stops the walk as a Raft
             * entry does: the slots after it wait for its batch (one more batch over the bound). */
            if (slot == NULL || (slot->present && !wal_slot_evictable(wal, slot))) break;
            wal_slot_drop_data(wal, slot);
            group->cached_from++;
        }
    }
}

void wal_groups_free(struct wal *wal)
{
    for (uint32_t g = 0; g < wal->group_count; g++) {
        struct wal_group *group = &wal->groups[g];
        for (uint64_t i = 0; i < group->count; i++) free(group->slots[group->head + i].data);
        free(group->slots);
    }
    free(wal->groups);
    wal->groups = NULL;
    wal->group_count = wal->group_cap = 0;
    wal->cache_bytes = 0;
}

int wal_segment_add(struct wal *wal, uint64_t seq)
{
    assert(wal->segment_count == 0 || wal->segments[wal->segment_count - 1].seq < seq);
    if (wal->segment_count == wal->segment_cap) {
        uint32_t cap = wal->segment_cap == 0 ? 16 : wal->segment_cap * 2;
        struct wal_segment *segments = realloc(wal->segments, cap * sizeof(*segments));
        if (segments == NULL) return WAL_ERR_NOMEM;
        wal->segments = segments;
        wal->segment_cap = cap;
    }
    wal->segments[wal->segment_count++] = (struct wal_segment){.seq = seq, .read_handle = -1};
    return WAL_OK;
}

void wal_segments_close(struct wal *wal)
{
    for (uint32_t i = 0; i < wal->segment_count; i++) {
        if (wal->segments[i].read_handle >= 0) {
            wal->fops->close(wal->fops->impl, wal->segments[i].read_handle);
            wal->segments[i].read_handle = -1;
        }
    }
    wal->read_handles_open = 0;
}

static struct wal_segment *wal_segment_find(struct wal *wal, uint64_t seq)
{
    for (uint32_t i = 0; i < wal->segment_count; i++) {
        if (wal->segments[i].seq == seq) return &wal->segments[i];
    }
    return NULL;
}

/* Reads an evicted entry back from its segment and checks that it is the one the slot names.
 * The copy goes to dst (slot->data_len bytes). */
static int wal_slot_read_disk(struct wal *wal, const struct wal_slot *slot, uint64_t index,
                              uint8_t *dst, struct wal_error *err)
{
    struct wal_segment *segment = wal_segment_find(wal, slot->segment_seq);
    if (segment == NULL) {
        return wal_error_set(err, WAL_ERR_RANGE, "segment %016llx of index %llu is gone",
                             (unsigned long long)slot->segment_seq, (unsigned long long)index);
    }
    char path[FILEOPS_PATH_BYTES_MAX];
    if (wal_path(wal, path, sizeof(path), segment->seq, false) != 0) {
        return wal_error_set(err, WAL_ERR_INVALID, "path too long");
    }
    if (segment->read_handle < 0) {
        /* Reads of old entries come in runs over few segments: closing them all at the bound
         * is simple and keeps the open files bounded. */
        if (wal->read_handles_open == WAL_READ_HANDLES_MAX) wal_segments_close(wal);
        int rv = wal->fops->open(wal->fops->impl, path, 0, &segment->read_handle);
        if (rv != 0) {
            segment->read_handle = -1;
            return wal_error_set(err, WAL_ERR_IO, "%s: open: %s", path, strerror(-rv));
        }
        wal->read_handles_open++;
    }
    uint32_t frame_bytes = wal_record_frame_bytes(WAL_ENTRY_PAYLOAD_BYTES + slot->data_len);
    uint8_t *frame = malloc(frame_bytes);
    if (frame == NULL) return wal_error_set(err, WAL_ERR_NOMEM, "out of memory");
    size_t got = 0;
    int rv = wal->fops->read(wal->fops->impl, segment->read_handle, slot->offset, frame,
                             frame_bytes, &got);
    struct wal_record record;
    struct cn_entry entry;
    int code = WAL_OK;
    if (rv != 0) {
        code =
            wal_error_set(err, WAL_ERR_IO, "%s: read at %u: %s", path, slot->offset, strerror(-rv));
    } else if (wal_record_decode(frame, got, &record) != WAL_DECODE_OK ||
               !wal_decode_entry_payload(&record, &entry) || entry.index != index ||
               entry.term != slot->term || entry.data_len != slot->data_len) {
        code = wal_error_set(err, WAL_ERR_CORRUPT, "%s: offset %u: entry %llu does not read back",
                             path, slot->offset, (unsigned long long)index);
    } else if (entry.data_len > 0) {
        memcpy(dst, entry.data, entry.data_len);
    }
    free(frame);
    return code;
}

int wal_read_entries(struct wal *wal, cn_group_id group_id, uint64_t lo, uint64_t hi,
                     struct cn_entry *out, uint32_t out_max, uint8_t *buf, size_t buf_bytes,
                     uint32_t *count, struct wal_error *err)
{
    *count = 0;
    const struct wal_group *group = wal_group_find(wal, group_id);
    if (group == NULL || lo > hi || lo < group->first_index || hi > wal_group_last_index(group)) {
        return wal_error_set(err, WAL_ERR_RANGE, "group %u: entries [%llu, %llu] not in the log",
                             group_id, (unsigned long long)lo, (unsigned long long)hi);
    }
    size_t used = 0;
    for (uint64_t index = lo; index <= hi && *count < out_max; index++) {
        const struct wal_slot *slot = wal_group_slot(group, index);
        if (!slot->present) continue; /* a hole of a per-slot group */
        if (slot->data_len > buf_bytes - used) {
            if (*count > 0) break;
            return wal_error_set(err, WAL_ERR_FULL, "entry %llu needs %u bytes",
                                 (unsigned long long)index, slot->data_len);
        }
        uint8_t *dst = buf + used;
        if (slot->data != NULL) {
            memcpy(dst, slot->data, slot->data_len);
        } else if (slot->data_len > 0) {
            int rv = wal_slot_read_disk(wal, slot, index, dst, err);
            if (rv != WAL_OK) return rv;
        }
        out[*count] = (struct cn_entry){.index = index,
                                        .term = slot->term,
                                        .type = slot->type,
                                        .data_len = slot->data_len,
                                        .data = slot->data_len ? dst : NULL};
        used += slot->data_len;
        (*count)++;
    }
    return WAL_OK;
}

int wal_group_bounds(const struct wal *wal, cn_group_id group_id, uint64_t *first_index,
                     uint64_t *last_index)
{
    const struct wal_group *group = wal_group_find(wal, group_id);
    if (group == NULL) return WAL_ERR_RANGE;
    *first_index = group->first_index;
    *last_index = wal_group_last_index(group);
    return WAL_OK;
}

uint32_t wal_groups(const struct wal *wal, cn_group_id *ids, uint32_t ids_max)
{
    for (uint32_t g = 0; g < wal->group_count && g < ids_max; g++) ids[g] = wal->groups[g].id;
    return wal->group_count;
}

int wal_restore_load(struct wal *wal, cn_group_id group_id, struct wal_restore *out,
                     struct wal_error *err)
{
    memset(out, 0, sizeof(*out));
    const struct wal_group *group = wal_group_find(wal, group_id);
    if (group == NULL) return WAL_OK; /* nothing persisted: an empty restore */
    out->restore.hard_state = group->hard_state;
    out->restore.snapshot = group->snapshot;
    /* Present slots only: a per-slot group may hold holes (returned as gaps). */
    uint64_t present = 0;
    size_t data_bytes = 0;
    for (uint64_t i = 0; i < group->count; i++) {
        const struct wal_slot *slot = &group->slots[group->head + i];
        if (!slot->present) continue;
        present++;
        data_bytes += slot->data_len;
    }
    if (present == 0) return WAL_OK;
    out->entries_owned = calloc(present, sizeof(*out->entries_owned));
    out->data_owned = malloc(data_bytes > 0 ? data_bytes : 1);
    if (out->entries_owned == NULL || out->data_owned == NULL) {
        wal_restore_free(out);
        return wal_error_set(err, WAL_ERR_NOMEM, "restore of group %u: out of memory", group_id);
    }
    uint32_t got = 0;
    uint64_t done = 0;
    uint64_t lo = group->first_index;
    size_t used = 0;
    /* Bounded: each pass reads at least one entry (the buffer holds them all). */
    while (done < present) {
        uint64_t left = present - done;
        uint32_t want = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
        int rv = wal_read_entries(wal, group_id, lo, wal_group_last_index(group),
                                  out->entries_owned + done, want, out->data_owned + used,
                                  data_bytes - used, &got, err);
        if (rv != WAL_OK) {
            wal_restore_free(out);
            return rv;
        }
        assert(got > 0);
        for (uint32_t i = 0; i < got; i++) used += out->entries_owned[done + i].data_len;
        done += got;
        lo = out->entries_owned[done - 1].index + 1;
    }
    out->restore.entry_count = present;
    out->restore.entries = out->entries_owned;
    return WAL_OK;
}

void wal_restore_free(struct wal_restore *restore)
{
    free(restore->entries_owned);
    free(restore->data_owned);
    memset(restore, 0, sizeof(*restore));
}

void wal_stats_get(const struct wal *wal, struct wal_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->segment_count = wal->segment_count;
    if (wal->segment_count > 0) {
        stats->first_segment_seq = wal->segments[0].seq;
        stats->last_segment_seq = wal->segments[wal->segment_count - 1].seq;
    }
    stats->cache_bytes = wal->cache_bytes;
    stats->batches_written = wal->batches_written;
    stats->bytes_written = wal->bytes_written;
    stats->torn_bytes_truncated = wal->torn_bytes_truncated;
    stats->spares_used = wal->spares_used;
    stats->failed = atomic_load(&wal->failed);
}
