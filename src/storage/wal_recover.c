/*
 * wal_recover.c — opening a WAL: list the segments, read them in order, verify every record,
 * rebuild each group's hard state, snapshot marker and entries (truncations resolved; a
 * per-slot record replaces only its slot, so the latest record of each slot wins), and decide
 * what the end of the log is.
 *
 * The end. Each write is followed by an fdatasync (a failed one stops the node), and at most
 * two writes are in flight at once (wal.h), so a crash can damage only the last write, or the
 * last two when the last began while the one before it was in flight (the later one then says
 * so: its records carry the earlier one's offset, overlap_offset). Only the last segment can
 * be damaged (a new segment is fully synced before it is renamed into place, and is written
 * alone). Behind the last write lies zeroes. So at the first record that does not verify, at
 * offset X:
 *   - inside the write that created the segment (its length is in the header): corruption;
 *   - the rest of the segment is zero: that is the end of the log (nothing was torn);
 *   - not the last segment: corruption;
 *   - the last segment, and some verifying record lies past X that was written by a LATER
 *     write than the one X is in (its write_offset > X) which did not overlap the write X is
 *     in (its overlap_offset is 0 or above X), or the records past X come from more than one
 *     write at or before X or more than one later write: synced data is damaged, corruption;
 *   - otherwise everything from X on belongs to the final writes, not acknowledged (the later
 *     of two completes only after the earlier): a torn tail. It is truncated (and the space
 *     preallocated again), synced, and logged.
 * Corruption stops the open with an error naming the file and the offset: the node must not
 * start on a log that silently lost acknowledged entries.
 */
#include "storage/wal_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    WAL_SEGMENTS_MAX = 1u << 20, /* files listed at open */
    WAL_TMP_FILES_MAX = 64, /* leftover ".tmp" files removed at open */
};

struct wal_listing {
    uint64_t *seqs;
    uint32_t count, cap;
    char tmp_names[WAL_TMP_FILES_MAX][FILEOPS_NAME_BYTES_MAX];
    uint32_t tmp_count;
};

static int wal_listing_visit(void *context, const char *name)
{
    struct wal_listing *listing = context;
    uint64_t seq;
    size_t len = strlen(name);
    if (len == WAL_SEGMENT_NAME_BYTES - 1 + 4 && strcmp(name + len - 4, ".tmp") == 0) {
        if (listing->tmp_count == WAL_TMP_FILES_MAX) return -EMFILE;
        memcpy(listing->tmp_names[listing->tmp_count++], name, len + 1);
        return 0;
    }
    if (!wal_segment_name_parse(name, &seq)) return 0; /* not ours */
    if (listing->count == WAL_SEGMENTS_MAX) return -EMFILE;
    if (listing->count == listing->cap) {
        uint32_t cap = listing->cap == 0 ? 64 : listing->cap * 2;
        uint64_t *seqs = realloc(listing->seqs, cap * sizeof(*seqs));
        if (seqs == NULL) return -ENOMEM;
        listing->seqs = seqs;
        listing->cap = cap;
    }
    listing->seqs[listing->count++] = seq;
    return 0;
}

static int wal_seq_compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool wal_zero_from(const uint8_t *buf, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++) {
        if (buf[i] != 0) return false;
    }
    return true;
}

enum wal_tail { WAL_TAIL_END, WAL_TAIL_TORN, WAL_TAIL_CORRUPT };

/* Classifies the bytes from the first bad record at x on; see the comment at the top. The
 * segment's creating write (created_bytes) was synced before the segment was named. */
static enum wal_tail wal_tail_classify(const uint8_t *buf, size_t len, size_t x, bool last,
                                       size_t created_bytes)
{
    if (x < created_bytes) return WAL_TAIL_CORRUPT;
    if (wal_zero_from(buf, len, x)) return WAL_TAIL_END;
    if (!last) return WAL_TAIL_CORRUPT;
    /* The write X is in (write_offset <= X) and the one after it, if that one overlapped it. */
    bool seen_own = false, seen_later = false;
    uint32_t own_offset = 0, later_offset = 0, later_overlap = 0;
    /* Bounded by the segment length: one candidate position per aligned word. */
    for (size_t at = x + WAL_RECORD_ALIGN; at + WAL_RECORD_HEADER_BYTES <= len;
         at += WAL_RECORD_ALIGN) {
        struct wal_record record;
        if (wal_record_decode(buf + at, len - at, &record) != WAL_DECODE_OK) continue;
        if (record.write_offset <= x) {
            if (seen_own && record.write_offset != own_offset) return WAL_TAIL_CORRUPT;
            seen_own = true;
            own_offset = record.write_offset;
            continue;
        }
        if (record.overlap_offset == 0 || record.overlap_offset > x) return WAL_TAIL_CORRUPT;
        if (seen_later && record.write_offset != later_offset) return WAL_TAIL_CORRUPT;
        seen_later = true;
        later_offset = record.write_offset;
        later_overlap = record.overlap_offset;
    }
    /* No write lies between an overlapped write and the one overlapping it (the later was
     * sealed while the earlier was the only one in flight), so X, at or past the overlapped
     * write's start and before the later write, is in the overlapped write: its surviving
     * records must say so. */
    if (seen_own && seen_later && own_offset != later_overlap) return WAL_TAIL_CORRUPT;
    return WAL_TAIL_TORN;
}

static const char *wal_decode_result_name(int result)
{
    switch (result) {
    case WAL_DECODE_ZERO: return "zero header";
    case WAL_DECODE_SHORT: return "record runs past the end of the file";
    case WAL_DECODE_BAD: return "impossible record header";
    case WAL_DECODE_CRC: return "CRC mismatch";
    }
    return "malformed payload";
}

/* Applies one entry record as wal_append did: entries at or under the snapshot are obsolete;
 * one inside the log replaces the suffix from its index; one past a gap starts the log afresh
 * (the gap must be covered by a later snapshot marker, which is checked at the end). */
static int wal_replay_entry(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                            uint64_t seq, uint32_t offset)
{
    if (entry->index <= group->snapshot.index) return WAL_OK;
    if (group->count > 0 && group->per_slot) return WAL_ERR_CORRUPT; /* append refuses a mix */
    uint64_t last = wal_group_last_index(group);
    if (group->count > 0 && entry->index >= group->first_index && entry->index <= last) {
        wal_group_truncate_from(wal, group, entry->index);
    } else if (group->count == 0 || entry->index != last + 1) {
        wal_group_truncate_from(wal, group, group->first_index);
    }
    struct wal_slot location = {.segment_seq = seq, .batch_gen = 0, .offset = offset};
    return wal_group_push(wal, group, entry, &location);
}

/* Applies one per-slot entry record: it replaces its own slot (holes up to it stay holes).
 * Entries at or under the snapshot are obsolete. */
static int wal_replay_slot(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                           uint64_t seq, uint32_t offset)
{
    if (entry->index <= group->snapshot.index) return WAL_OK;
    if (group->count > 0 && !group->per_slot) return WAL_ERR_CORRUPT; /* append refuses a mix */
    if (entry->index - (group->snapshot.index + 1) >= WAL_SLOT_SPAN_MAX) return WAL_ERR_CORRUPT;
    struct wal_slot location = {.segment_seq = seq, .batch_gen = 0, .offset = offset};
    return wal_group_put(wal, group, entry, &location);
}

static int wal_replay_record(struct wal *wal, const struct wal_record *record, uint64_t seq,
                             uint32_t offset)
{
    struct wal_group *group;
    int rv = wal_group_get(wal, record->group, &group);
    if (rv != WAL_OK) return rv == WAL_ERR_FULL ? WAL_ERR_CORRUPT : rv; /* append refuses more */
    struct cn_entry entry;
    struct cn_snapshot_meta snap;
    bool keep_suffix = false;
    switch (record->type) {
    case WAL_RECORD_HARD_STATE:
        if (!wal_decode_hard_state_payload(record, &group->hard_state)) return WAL_ERR_CORRUPT;
        group->has_hard_state = true;
        return WAL_OK;
    case WAL_RECORD_SNAPSHOT:
        if (!wal_decode_snapshot_payload(record, &snap, &keep_suffix)) return WAL_ERR_CORRUPT;
        if (snap.index >= group->snapshot.index)
            wal_group_apply_snapshot(wal, group, &snap, keep_suffix);
        return WAL_OK;
    case WAL_RECORD_ENTRY:
        if (!wal_decode_entry_payload(record, &entry)) return WAL_ERR_CORRUPT;
        return wal_replay_entry(wal, group, &entry, seq, offset);
    case WAL_RECORD_ENTRY_SLOT:
        if (!wal_decode_entry_payload(record, &entry)) return WAL_ERR_CORRUPT;
        return wal_replay_slot(wal, group, &entry, seq, offset);
    case WAL_RECORD_RESET:
        if (record->payload_len != WAL_RESET_PAYLOAD_BYTES ||
            wal_get_u64(record->payload) != 0)
            return WAL_ERR_CORRUPT;
        wal_group_reset(wal, group);
        return WAL_OK;
    }
    return WAL_ERR_CORRUPT;
}

/* Reads a whole segment file. The size is bounded: a segment never exceeds the largest
 * segment plus the largest batch. */
static int wal_segment_load(struct wal *wal, const char *path, uint8_t **out, size_t *len,
                            struct wal_error *err)
{
    const struct fileops *fops = wal->fops;
    int handle;
    int rv = fops->open(fops->impl, path, 0, &handle);
    if (rv != 0) return wal_error_set(err, WAL_ERR_IO, "%s: open: %s", path, strerror(-rv));
    uint64_t size = 0;
    rv = fops->size(fops->impl, handle, &size);
    int code = WAL_OK;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (rv != 0) {
        code = wal_error_set(err, WAL_ERR_IO, "%s: size: %s", path, strerror(-rv));
    } else if (size < WAL_SEGMENT_HEADER_BYTES ||
               size > (uint64_t)WAL_SEGMENT_BYTES_MAX + WAL_BATCH_BYTES_MAX) {
        code = wal_error_set(err, WAL_ERR_CORRUPT, "%s: offset 0: impossible segment size %" PRIu64,
                             path, size);
    } else if ((buf = malloc(size)) == NULL) {
        code = wal_error_set(err, WAL_ERR_NOMEM, "%s: out of memory", path);
    } else if ((rv = fops->read(fops->impl, handle, 0, buf, size, &got)) != 0 || got != size) {
        code = wal_error_set(err, WAL_ERR_IO, "%s: read: %s", path, rv ? strerror(-rv) : "short");
    }
    fops->close(fops->impl, handle);
    if (code != WAL_OK) {
        free(buf);
        return code;
    }
    *out = buf;
    *len = size;
    return WAL_OK;
}

/* Replays the records of one complete write, buf[from..to), all verified already. */
static int wal_replay_write(struct wal *wal, const uint8_t *buf, size_t from, size_t to,
                            uint64_t seq)
{
    for (size_t at = from; at < to;) {
        struct wal_record record;
        int result = wal_record_decode(buf + at, to - at, &record);
        assert(result == WAL_DECODE_OK);
        int rv = wal_replay_record(wal, &record, seq, (uint32_t)at);
        if (rv != WAL_OK)
            return rv;
        at += record.frame_bytes;
        wal_cache_evict(wal);
    }
    return WAL_OK;
}

/* Verifies and replays one segment. *end gets the offset after its last good record and
 * *torn whether a torn tail follows it. */
static int wal_segment_recover(struct wal *wal, uint64_t seq, bool last, uint64_t *end, bool *torn,
                               struct wal_error *err)
{
    char path[FILEOPS_PATH_BYTES_MAX];
    if (wal_path(wal, path, sizeof(path), seq, false) != 0) {
        return wal_error_set(err, WAL_ERR_INVALID, "%s: path too long", wal->dir);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rv = wal_segment_load(wal, path, &buf, &len, err);
    if (rv != WAL_OK) return rv;
    uint64_t header_seq = 0;
    uint32_t created_bytes = 0;
    if (!wal_segment_header_decode(buf, &header_seq, &created_bytes) || header_seq != seq) {
        free(buf);
        return wal_error_set(err, WAL_ERR_CORRUPT, "%s: offset 0: bad segment header", path);
    }
    size_t at = WAL_SEGMENT_HEADER_BYTES;
    uint32_t prev_write_offset = 0;
    /* Records of the write being read are replayed only once its last record (write-end
     * flag) verified: a write is all or nothing, as the update it carries (wal_format.c). */
    size_t write_start = SIZE_MAX;
    *torn = false;
    /* Bounded by the file length: each record advances by its frame (>= one header). */
    while (at < len) {
        struct wal_record record;
        int result = wal_record_decode(buf + at, len - at, &record);
        if (result == WAL_DECODE_OK &&
            (record.write_offset > at || record.write_offset < prev_write_offset)) {
            result = WAL_DECODE_BAD;
        }
        if (result != WAL_DECODE_OK) {
            enum wal_tail tail = wal_tail_classify(buf, len, at, last, created_bytes);
            if (tail == WAL_TAIL_CORRUPT) {
                free(buf);
                return wal_error_set(err, WAL_ERR_CORRUPT, "%s: offset %zu: %s", path, at,
                                     wal_decode_result_name(result));
            }
            *torn = tail == WAL_TAIL_TORN;
            break;
        }
        if (write_start == SIZE_MAX)
            write_start = at;
        prev_write_offset = record.write_offset;
        at += record.frame_bytes;
        if (record.write_end) {
            rv = wal_replay_write(wal, buf, write_start, at, seq);
            if (rv != WAL_OK) {
                free(buf);
                return wal_error_set(err, rv, "%s: offset %zu: %s", path, write_start,
                                     rv == WAL_ERR_NOMEM ? "out of memory"
                                                         : "malformed record payload");
            }
            write_start = SIZE_MAX;
        }
    }
    *end = at < len ? at : len;
    if (write_start != SIZE_MAX) {
        /* The final write lost its end: only an unsynced write can, and only in the last
         * segment. Its records are dropped with the rest of the tail. */
        if (!last) {
            free(buf);
            return wal_error_set(err, WAL_ERR_CORRUPT, "%s: offset %zu: a write without its end",
                                 path, write_start);
        }
        *torn = true;
        *end = write_start;
    }
    free(buf);
    return WAL_OK;
}

/* Truncates the torn tail of the last segment, preallocates it again (zeroes) and syncs, so
 * that no stale bytes of the torn write can be read as records after the next writes. */
static int wal_truncate_tail(struct wal *wal, uint64_t seq, uint64_t end, struct wal_error *err)
{
    char path[FILEOPS_PATH_BYTES_MAX];
    if (wal_path(wal, path, sizeof(path), seq, false) != 0) {
        return wal_error_set(err, WAL_ERR_INVALID, "%s: path too long", wal->dir);
    }
    const struct fileops *fops = wal->fops;
    uint64_t size = 0;
    int rv = fops->size(fops->impl, wal->writer.handle, &size);
    if (rv == 0) rv = fops->truncate(fops->impl, wal->writer.handle, end);
    if (rv == 0) rv = fops->allocate(fops->impl, wal->writer.handle, size);
    if (rv == 0) rv = fops->sync(fops->impl, wal->writer.handle);
    if (rv != 0) {
        return wal_error_set(err, WAL_ERR_IO, "%s: truncating the torn tail at %" PRIu64 ": %s",
                             path, end, strerror(-rv));
    }
    wal->torn_bytes_truncated = size - end;
    wal_log(wal, "%s: torn tail at offset %" PRIu64 " truncated (%" PRIu64 " bytes)", path, end,
            size - end);
    return WAL_OK;
}

/* Every group's log must start right after its snapshot marker: a gap means a segment that
 * held needed entries is missing. */
static int wal_groups_check(struct wal *wal, struct wal_error *err)
{
    for (uint32_t g = 0; g < wal->group_count; g++) {
        struct wal_group *group = &wal->groups[g];
        if (group->count > 0 && group->first_index != group->snapshot.index + 1) {
            return wal_error_set(err, WAL_ERR_CORRUPT,
                                 "%s: group %u: log starts at %" PRIu64 " but the snapshot covers "
                                 "only %" PRIu64 " (a segment is missing)",
                                 wal->dir, group->id, group->first_index, group->snapshot.index);
        }
        if (group->count == 0) group->first_index = group->snapshot.index + 1;
        group->sealed_has_hard_state = group->has_hard_state;
        group->sealed_hard_state = group->hard_state;
        group->sealed_snapshot = group->snapshot;
        group->durable_snapshot_index = group->snapshot.index;
    }
    return WAL_OK;
}

static int wal_recover_segments(struct wal *wal, struct wal_listing *listing, struct wal_error *err)
{
    if (listing->count > 0) qsort(listing->seqs, listing->count, sizeof(uint64_t), wal_seq_compare);
    for (uint32_t i = 0; i < listing->count; i++) {
        uint64_t seq = listing->seqs[i];
        if (i > 0 && seq != listing->seqs[i - 1] + 1) {
            return wal_error_set(err, WAL_ERR_CORRUPT, "%s: segment %016" PRIx64 " is missing",
                                 wal->dir, listing->seqs[i - 1] + 1);
        }
        bool last = i + 1 == listing->count;
        uint64_t end = 0;
        bool torn = false;
        int rv = wal_segment_recover(wal, seq, last, &end, &torn, err);
        if (rv == WAL_OK) rv = wal_segment_add(wal, seq);
        if (rv != WAL_OK)
            return err && err->code == rv ? rv : wal_error_set(err, rv, "out of memory");
        if (!last) continue;
        char path[FILEOPS_PATH_BYTES_MAX];
        if (wal_path(wal, path, sizeof(path), seq, false) != 0) return WAL_ERR_INVALID;
        rv = wal->fops->open(wal->fops->impl, path, FILEOPS_READ_WRITE, &wal->writer.handle);
        if (rv != 0) {
            wal->writer.handle = -1;
            return wal_error_set(err, WAL_ERR_IO, "%s: open: %s", path, strerror(-rv));
        }
        wal->writer.segment_seq = seq;
        if (torn && (rv = wal_truncate_tail(wal, seq, end, err)) != WAL_OK) return rv;
        wal->cursor_seq = seq;
        wal->durable_seq = seq;
        wal->cursor_offset = end;
        wal->cursor_data_start = WAL_SEGMENT_HEADER_BYTES;
    }
    return wal_groups_check(wal, err);
}

static int wal_remove_tmp_files(struct wal *wal, struct wal_listing *listing, struct wal_error *err)
{
    for (uint32_t i = 0; i < listing->tmp_count; i++) {
        char path[FILEOPS_PATH_BYTES_MAX + FILEOPS_NAME_BYTES_MAX];
        snprintf(path, sizeof(path), "%s/%s", wal->dir, listing->tmp_names[i]);
        int rv = wal->fops->remove(wal->fops->impl, path);
        if (rv != 0) return wal_error_set(err, WAL_ERR_IO, "%s: remove: %s", path, strerror(-rv));
        wal_log(wal, "%s: removed an unfinished segment", path);
    }
    if (listing->tmp_count == 0) return WAL_OK;
    int rv = wal->fops->sync_dir(wal->fops->impl, wal->dir);
    return rv == 0 ? WAL_OK
                   : wal_error_set(err, WAL_ERR_IO, "%s: fsync: %s", wal->dir, strerror(-rv));
}

void wal_options_defaults(struct wal_options *options)
{
    memset(options, 0, sizeof(*options));
    options->segment_bytes = 64u << 20;
    options->cache_bytes_max = 64u << 20;
    options->batch_bytes_max = 64u << 20;
}

static int wal_options_check(const struct wal_options *options, struct wal_error *err)
{
    if (options->dir == NULL ||
        strlen(options->dir) + 1 + WAL_SEGMENT_NAME_BYTES + 4 > FILEOPS_PATH_BYTES_MAX) {
        return wal_error_set(err, WAL_ERR_INVALID, "dir missing or too long");
    }
    if (options->segment_bytes < WAL_SEGMENT_BYTES_MIN ||
        options->segment_bytes > WAL_SEGMENT_BYTES_MAX) {
        return wal_error_set(err, WAL_ERR_INVALID, "segment_bytes %" PRIu64 " out of [%u, %u]",
                             options->segment_bytes, WAL_SEGMENT_BYTES_MIN, WAL_SEGMENT_BYTES_MAX);
    }
    uint32_t record_max = wal_record_frame_bytes(WAL_RECORD_PAYLOAD_BYTES_MAX);
    if (options->batch_bytes_max < record_max || options->batch_bytes_max > WAL_BATCH_BYTES_MAX) {
        return wal_error_set(err, WAL_ERR_INVALID, "batch_bytes_max %" PRIu64 " out of [%u, %u]",
                             options->batch_bytes_max, record_max, WAL_BATCH_BYTES_MAX);
    }
    return WAL_OK;
}

int wal_open(const struct wal_options *options, const struct fileops *fops, struct wal **out,
             struct wal_error *err)
{
    *out = NULL;
    int rv = wal_options_check(options, err);
    if (rv != WAL_OK) return rv;
    struct wal *wal = calloc(1, sizeof(*wal));
    struct wal_listing *listing = calloc(1, sizeof(*listing));
    if (wal == NULL || listing == NULL) {
        free(wal);
        free(listing);
        return wal_error_set(err, WAL_ERR_NOMEM, "out of memory");
    }
    wal->options = *options;
    snprintf(wal->dir, sizeof(wal->dir), "%s", options->dir);
    wal->options.dir = wal->dir;
    wal->fops = fops;
    wal->writer.handle = -1;
    atomic_init(&wal->failed, false);
    wal->open = &wal->batches[0];
    wal->open->gen = 1;
    wal->next_gen = 2;

    rv = fops->make_dir(fops->impl, wal->dir);
    if (rv != 0) {
        rv = wal_error_set(err, WAL_ERR_IO, "%s: mkdir: %s", wal->dir, strerror(-rv));
        goto err;
    }
    rv = fops->list_dir(fops->impl, wal->dir, wal_listing_visit, listing);
    if (rv != 0) {
        rv = wal_error_set(err, WAL_ERR_IO, "%s: listing: %s", wal->dir, strerror(-rv));
        goto err;
    }
    rv = wal_recover_segments(wal, listing, err);
    if (rv != WAL_OK) goto err;
    rv = wal_remove_tmp_files(wal, listing, err);
    if (rv != WAL_OK) goto err;
    free(listing->seqs);
    free(listing);
    *out = wal;
    return WAL_OK;
err:
    assert(rv != WAL_OK);
    free(listing->seqs);
    free(listing);
    wal_close(wal);
    return rv;
}

void wal_close(struct wal *wal)
{
    if (wal == NULL) return;
    assert(wal->inflight_count == 0 && !wal->spare.preparing);
    if (wal->writer.handle >= 0) wal->fops->close(wal->fops->impl, wal->writer.handle);
    wal_segments_close(wal);
    free(wal->segments);
    wal_groups_free(wal);
    for (uint32_t i = 0; i < WAL_BATCHES_IN_FLIGHT_MAX + 1; i++) wal_batch_free(&wal->batches[i]);
    free(wal);
}
