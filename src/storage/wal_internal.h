/*
 * wal_internal.h — structures and helpers shared by the wal_*.c files only.
 *
 *   wal_format.c   on-disk layout: segment header, record framing, payload codecs, names
 *   wal_log.c      in-memory state per group: slots, truncation, cache and its bound, reads
 *   wal_writer.c   batches: append, seal (placement), write + fdatasync, complete; the failed state
 *   wal_recover.c  open: list segments, verify every record, torn tail, rebuild the groups
 *   wal_compact.c  compaction: forget entries under a snapshot, delete unneeded segments
 */
#ifndef CHORUS_WAL_INTERNAL_H
#define CHORUS_WAL_INTERNAL_H

#include <stdatomic.h>

#include "storage/wal.h"

/* ---- on-disk format (wal_format.c) ---- */

#define WAL_SEGMENT_MAGIC 0x47455357414C4843ull /* "CHLAWSEG" little-endian bytes */
enum {
    WAL_FORMAT_VERSION = 1,
    WAL_SEGMENT_HEADER_BYTES = 32,
    WAL_RECORD_HEADER_BYTES = 24,
    WAL_RECORD_ALIGN = 8,
    WAL_ENTRY_PAYLOAD_BYTES = 24, /* index, term, type, then the data */
    WAL_HARD_STATE_PAYLOAD_BYTES = 24,
    WAL_SNAPSHOT_PAYLOAD_BYTES = 8 + 8 + 4 + 4 + 4 * CN_MEMBERS_MAX, /* ..., flags, ids */
    WAL_RESET_PAYLOAD_BYTES = 8, /* reserved, zero (a record has a payload) */
    WAL_RECORD_PAYLOAD_BYTES_MAX = WAL_ENTRY_PAYLOAD_BYTES + CN_ENTRY_DATA_BYTES_MAX,
    WAL_SEGMENT_NAME_BYTES = 16 + 4 + 1, /* "%016x.wal" */
    WAL_READ_HANDLES_MAX = 8, /* segments kept open for reads of evicted entries */
};
_Static_assert(WAL_SEGMENT_HEADER_BYTES % WAL_RECORD_ALIGN == 0, "records start aligned");
_Static_assert(WAL_RECORD_HEADER_BYTES % WAL_RECORD_ALIGN == 0, "payloads start aligned");

enum wal_record_type {
    WAL_RECORD_ENTRY = 1,
    WAL_RECORD_HARD_STATE = 2,
    WAL_RECORD_SNAPSHOT = 3,
    WAL_RECORD_ENTRY_SLOT = 4, /* an entry appended in per-slot mode: replaces its slot only */
    WAL_RECORD_RESET = 5,      /* the group's entries and snapshot marker are forgotten */
    WAL_RECORD_TYPE_MAX = WAL_RECORD_RESET,
};

/* A record as decoded; payload points into the buffer it was decoded from. */
enum { WAL_RECORD_FLAG_WRITE_END = 1 };

struct wal_record {
    uint8_t type;
    cn_group_id group;
    uint32_t write_offset; /* segment offset where the write that carried it began */
    /* 0, or the offset of an earlier write of the segment that was still being written when
     * this one began (two writes in flight, wal.h): that earlier write may be torn while this
     * one is whole (wal_recover.c). Always below write_offset. */
    uint32_t overlap_offset;
    bool write_end;        /* the last record of that write */
    uint32_t payload_len;
    const uint8_t *payload;
    uint32_t frame_bytes; /* header + payload + padding: distance to the next record */
};

enum wal_decode_result {
    WAL_DECODE_OK = 0,
    WAL_DECODE_ZERO = 1, /* an all-zero header: preallocated space */
    WAL_DECODE_SHORT = 2, /* the frame runs past the available bytes */
    WAL_DECODE_BAD = 3, /* impossible header fields */
    WAL_DECODE_CRC = 4, /* the checksum does not match */
};

uint32_t wal_record_frame_bytes(uint32_t payload_len);
/* Writes a record header for a payload already at buf + WAL_RECORD_HEADER_BYTES. The CRC and
 * write_offset are filled in later by wal_record_seal, on the writing thread. */
void wal_record_frame(uint8_t *buf, uint8_t type, cn_group_id group, uint32_t payload_len);
/* Sets write_offset and computes the CRC of one framed record. */
void wal_record_seal(uint8_t *frame, uint32_t write_offset, bool write_end);
/* The same for a write that began while the write at overlap_offset (0: none) was in flight. */
void wal_record_seal_overlap(uint8_t *frame, uint32_t write_offset, uint32_t overlap_offset,
                             bool write_end);
int wal_record_decode(const uint8_t *buf, size_t avail, struct wal_record *record);

void wal_encode_entry_payload(uint8_t *payload, const struct cn_entry *entry);
void wal_encode_hard_state_payload(uint8_t *payload, const struct cn_hard_state *hs);
/* keep_suffix records how the marker was applied: true when the log's entries after the
 * snapshot index were kept (the log agreed with the snapshot at its index, or the marker only
 * restates the current one, as checkpoints do); false when the whole log was dropped. Replay
 * then does the same even when the entry at the index is no longer there to compare. */
void wal_encode_snapshot_payload(uint8_t *payload, const struct cn_snapshot_meta *snap,
                                 bool keep_suffix);
/* Decoders validate sizes and fields; false for a malformed payload. Entry data points into
 * the record's payload. */
bool wal_decode_entry_payload(const struct wal_record *record, struct cn_entry *entry);
bool wal_decode_hard_state_payload(const struct wal_record *record, struct cn_hard_state *hs);
bool wal_decode_snapshot_payload(const struct wal_record *record, struct cn_snapshot_meta *snap,
                                 bool *keep_suffix);

/* created_bytes: the length of the write that created the segment (header, checkpoint, first
 * batch). It is synced before the segment gets its name, so damage inside it is never a torn
 * write. */
void wal_segment_header_encode(uint8_t *buf, uint64_t seq, uint32_t created_bytes);
/* Returns false when magic, version or CRC is wrong. */
bool wal_segment_header_decode(const uint8_t *buf, uint64_t *seq, uint32_t *created_bytes);
void wal_segment_name(char *name, size_t name_bytes, uint64_t seq);
/* Parses "<016x>.wal"; false for any other name. */
bool wal_segment_name_parse(const char *name, uint64_t *seq);

void wal_put_u32(uint8_t *p, uint32_t v);
void wal_put_u64(uint8_t *p, uint64_t v);
uint32_t wal_get_u32(const uint8_t *p);
uint64_t wal_get_u64(const uint8_t *p);

/* ---- in-memory state ---- */

/* Where one entry lives. While its batch is open, segment_seq is 0 and offset is relative to
 * the batch; wal_batch_seal places it. `data` is the cached copy, NULL once evicted. */
struct wal_slot {
    uint64_t term;
    uint64_t segment_seq;
    uint64_t batch_gen; /* the batch that wrote it: evictable once that batch completed */
    uint32_t offset;
    uint32_t data_len;
    uint8_t type;
    bool present; /* false: a hole of a per-slot group (nothing accepted there) */
    uint8_t *data;
};

struct wal_group {
    cn_group_id id;
    bool has_hard_state;
    struct cn_hard_state hard_state;
    struct cn_snapshot_meta snapshot; /* index 0: none */
    /* The state as of the last sealed batch: what a new segment's checkpoint must carry. */
    bool sealed_has_hard_state;
    struct cn_hard_state sealed_hard_state;
    struct cn_snapshot_meta sealed_snapshot;
    uint64_t durable_snapshot_index; /* of a completed batch: bounds compaction */
    /* The mode of the entries held (WAL_APPEND_PER_SLOT); meaningless while count is 0. A
     * per-slot group always has first_index = snapshot.index + 1, may hold holes anywhere but
     * at the end (the last slot is present when count > 0), and count <= WAL_SLOT_SPAN_MAX. */
    bool per_slot;
    /* slots[head .. head + count) hold indexes first_index .. first_index + count - 1. */
    struct wal_slot *slots;
    uint64_t head, count, capacity;
    uint64_t first_index;
    uint64_t cached_from; /* slots below this position have no data */
};

struct wal_segment {
    uint64_t seq;
    int read_handle; /* opened lazily for reads of evicted entries; -1 when closed */
};

/* Fixes up one entry slot when its batch is sealed. */
struct wal_batch_ref {
    cn_group_id group;
    uint64_t index;
    uint32_t batch_offset;
};

struct wal_batch_snap {
    cn_group_id group;
    uint64_t index;
};

struct wal_batch {
    uint64_t gen;
    uint8_t *buf; /* encoded records, CRCs filled in by wal_batch_write */
    size_t len, cap;
    struct wal_batch_ref *refs;
    uint32_t ref_count, ref_cap;
    /* Placement, decided by wal_batch_seal. */
    bool sealed;
    bool new_segment; /* the batch creates segment `segment_seq` */
    uint64_t segment_seq;
    uint32_t base_offset; /* where buf lands in the segment */
    uint64_t segment_bytes; /* preallocation size of a new segment */
    uint8_t *head; /* new segment: header + checkpoint records */
    size_t head_len, head_cap;
    bool use_spare; /* new segment: the spare file becomes it (wal_spare.c) */
    uint32_t overlap_offset; /* the in-flight batch this one overlaps, 0 for none */
    int result; /* of wal_batch_write */
    bool written;
    /* Snapshot markers this batch persists, to advance durable_snapshot_index. */
    struct wal_batch_snap *snaps;
    uint32_t snap_count, snap_cap;
};

/* State touched only by wal_batch_write (the sync thread). */
struct wal_writer {
    int handle; /* of the segment being appended to, -1 before the first */
    uint64_t segment_seq;
};

/* The spare segment (wal_spare.c). Owner thread only: the preparing thread reads `bytes`,
 * which does not change while `preparing` is set. */
struct wal_spare {
    bool preparing; /* between wal_spare_begin and wal_spare_complete */
    bool ready; /* the file exists, zero-filled and synced, for the next roll */
    uint64_t bytes;
};

struct wal {
    struct wal_options options;
    char dir[FILEOPS_PATH_BYTES_MAX];
    const struct fileops *fops;

    struct wal_group *groups; /* sorted by id */
    uint32_t group_count, group_cap;

    struct wal_segment *segments; /* ascending seq */
    uint32_t segment_count, segment_cap;
    uint32_t read_handles_open; /* <= WAL_READ_HANDLES_MAX */

    /* Where the next sealed batch goes. segment_seq 0: no segment yet. */
    uint64_t cursor_seq;
    uint64_t cursor_offset;
    uint64_t cursor_data_start; /* first record offset of the cursor's segment */

    struct wal_batch batches[WAL_BATCHES_IN_FLIGHT_MAX + 1];
    struct wal_batch *open; /* receives appends */
    /* Sealed, not completed, oldest first: they complete in this order. */
    struct wal_batch *inflight[WAL_BATCHES_IN_FLIGHT_MAX];
    uint32_t inflight_count;
    uint64_t next_gen;
    uint64_t completed_gen; /* every batch up to it is durable */
    uint64_t durable_seq; /* segment of the last durable batch: it exists on disk */

    uint64_t cache_bytes;
    struct wal_writer writer;
    atomic_bool failed;

    struct wal_spare spare;

    uint64_t batches_written;
    uint64_t bytes_written;
    uint64_t torn_bytes_truncated;
    uint64_t spares_used;
};

/* Errors: fills err (may be NULL) and returns code. */
int wal_error_set(struct wal_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wal_log(const struct wal *wal, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int wal_path(const struct wal *wal, char *path, size_t path_bytes, uint64_t seq, bool tmp);

/* wal_log.c */
struct wal_group *wal_group_find(const struct wal *wal, cn_group_id id);
int wal_group_get(struct wal *wal, cn_group_id id, struct wal_group **out);
uint64_t wal_group_last_index(const struct wal_group *group);
struct wal_slot *wal_group_slot(const struct wal_group *group, uint64_t index);
void wal_group_truncate_from(struct wal *wal, struct wal_group *group, uint64_t index);
bool wal_group_snapshot_keeps_suffix(const struct wal_group *group,
                                     const struct cn_snapshot_meta *snap);
/* The same decision for an append made with wal_append_mode flags. */
bool wal_group_marker_keeps_suffix(const struct wal_group *group,
                                   const struct cn_snapshot_meta *snap, uint32_t flags);
/* Forgets the group's entries and snapshot marker; its hard state stays (wal_reset_group). */
void wal_group_reset(struct wal *wal, struct wal_group *group);
void wal_group_apply_snapshot(struct wal *wal, struct wal_group *group,
                              const struct cn_snapshot_meta *snap, bool keep_suffix);
int wal_group_push(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                   const struct wal_slot *location);
/* Per-slot mode: sets the slot of entry->index (> snapshot index, within WAL_SLOT_SPAN_MAX),
 * opening holes up to it when it lies past the last slot. */
int wal_group_put(struct wal *wal, struct wal_group *group, const struct cn_entry *entry,
                  const struct wal_slot *location);
void wal_cache_evict(struct wal *wal);
void wal_groups_free(struct wal *wal);
int wal_segment_add(struct wal *wal, uint64_t seq);
void wal_segments_close(struct wal *wal);

/* wal_writer.c */
void wal_batch_free(struct wal_batch *batch);

/* wal_spare.c */
int wal_spare_path(const struct wal *wal, char *path, size_t path_bytes);

#endif
