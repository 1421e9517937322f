/*
 * wal.h — the write-ahead log of chorus: the durable side under the consensus interface.
 *
 * One WAL per node holds the logs of every consensus group (shard) the node hosts, so that one
 * fdatasync covers all of them. It knows nothing of Raft or Paxos: per group it persists a hard
 * state (term, vote or ballot, commit), snapshot markers ("the log now starts after index i,
 * term t") and opaque entries, where an entry at or below the last persisted index replaces
 * the persisted suffix from that index on (a Raft truncation), or, in per-slot mode
 * (wal_append_mode, Multi-Paxos), replaces only its own slot, with gaps allowed.
 *
 * On disk: a directory of segment files "<sequence:016x>.wal" of a fixed, preallocated size.
 * Each starts with a header (magic, version, sequence, length of the creating write) followed
 * by the latest hard state and snapshot marker of every group (a checkpoint, so that older
 * segments can be deleted), then records framed as CRC32C + length + type + group + payload
 * (wal_format.c). Recovery reads the segments in order and verifies every CRC; a torn record
 * at the tail of the last segment is truncated and logged, any other damage stops the open
 * with an error naming the file and the offset (wal_recover.c).
 *
 * Group commit and threading. wal_append only encodes into the open in-memory batch (no
 * syscall). wal_batch_seal closes that batch and decides where it goes on disk; then
 * wal_batch_write performs one write and one fdatasync (when the batch opens a new segment:
 * a temporary file preallocated, the header + checkpoint and the batch written, one fdatasync,
 * a rename and a directory fsync), and wal_batch_complete publishes the result. A node
 * runs them as:
 *
 *     owner thread (event loop)            sync thread
 *     wal_append ... (next batch)          wal_batch_write(batch)    one write + one fdatasync
 *     wal_batch_seal -> batch  ----------> ...
 *     <----------------------------------- done
 *     wal_batch_complete(batch)            then send after-persist messages, apply, ack
 *
 * THREAD RULE: every function except wal_batch_write (and wal_spare_prepare) must be called
 * by one owner thread. wal_batch_write runs on any thread, while the owner keeps appending to
 * the next batch and calls anything else except wal_close; at most WAL_BATCHES_IN_FLIGHT_MAX
 * batches are sealed and not yet completed, and their writes may run at the same time on
 * different threads (each writes its own range of the same segment file; wal_batch_sealable
 * keeps a batch that creates a segment alone). They complete in seal order. wal_sync does
 * seal + write + complete on the calling thread for single-threaded users.
 *
 * Two writes in flight and the crash rule: the later write may be durable while the earlier
 * is torn. Nothing of the later one is acknowledged before the earlier completes (completion
 * in order), so recovery may drop both; each record says which in-flight write it overlapped,
 * so that recovery still tells this from damage to synced data (wal_recover.c).
 *
 * MEMORY: per group, one small slot per entry after the snapshot (term, segment, offset; about
 * 48 bytes) plus cached entry data bounded by cache_bytes_max over all groups; evicted entries
 * are read back from their segment (wal_read_entries). Entries of batches not yet durable are
 * never evicted, so the cache may exceed its bound by the open and the in-flight batch (in
 * per-slot mode also by slots after a rewritten one, until the rewrite is durable). A
 * per-slot group also has a slot per hole, at most WAL_SLOT_SPAN_MAX slots in all.
 *
 * FAILURE RULE: a failed write or fdatasync is fatal. The WAL enters a failed state forever:
 * every later append, write or sync returns WAL_ERR_FAILED and nothing more is written. The
 * caller must stop the node without acknowledging anything of the failed batch.
 */
#ifndef CHORUS_WAL_H
#define CHORUS_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "storage/fileops.h"

enum {
    WAL_GROUPS_MAX = 4096, /* consensus groups in one WAL */
    /* Batches sealed and not yet completed at once (the thread rule below). Two let one
     * batch's fdatasync overlap the next one's: on ext4 here two concurrent fdatasyncs of one
     * file made 1.8 times the syncs of one. */
    WAL_BATCHES_IN_FLIGHT_MAX = 2,
    WAL_ERROR_MESSAGE_BYTES = 512,
    WAL_SEGMENT_BYTES_MIN = 64u << 10,
    WAL_SEGMENT_BYTES_MAX = 1u << 30, /* record offsets inside a segment fit 32 bits */
    WAL_BATCH_BYTES_MAX = 256u << 20, /* hard ceiling on one write; options may lower it */
    WAL_BATCH_ENTRIES_MAX = 1u << 20, /* entries in one batch */
    /* Slots (holes included) a per-slot group holds above its snapshot: 192 MiB of slot table
     * at most. Far above what a Paxos acceptor keeps between two snapshots plus its window. */
    WAL_SLOT_SPAN_MAX = 1u << 22,
};

enum wal_error_code {
    WAL_OK = 0,
    WAL_ERR_IO = -1, /* a file operation failed while opening or reading */
    WAL_ERR_CORRUPT = -2, /* a bad record outside the tail: the node must not start */
    WAL_ERR_FAILED = -3, /* a write or fdatasync failed: the WAL is unusable forever */
    WAL_ERR_FULL = -4, /* the open batch would exceed batch_bytes_max: sync first */
    WAL_ERR_INVALID = -5, /* an argument the caller could not have meant */
    WAL_ERR_NOMEM = -6,
    WAL_ERR_RANGE = -7, /* entries asked for are compacted away or beyond the log */
};
const char *wal_strerror(int code);

/* Filled in by every function that can fail: the code and a message naming file and offset. */
struct wal_error {
    int code;
    char message[WAL_ERROR_MESSAGE_BYTES];
};

struct wal_options {
    const char *dir;
    uint64_t segment_bytes; /* preallocated size of each segment; default 64 MiB */
    uint64_t cache_bytes_max; /* entry data kept in memory over all groups; default 64 MiB */
    uint64_t batch_bytes_max; /* one batch (one write); default 64 MiB, <= WAL_BATCH_BYTES_MAX */
    /* Receives notable events (torn tail truncated, segments deleted). NULL: stderr. */
    void (*log)(void *context, const char *message);
    void *log_context;
};
void wal_options_defaults(struct wal_options *options);

struct wal;
struct wal_batch;

/* Opens (creating it if needed) the WAL in options->dir and recovers every group. The file
 * operations table must outlive the WAL. On failure *out is NULL and err says why. */
int wal_open(const struct wal_options *options, const struct fileops *fops, struct wal **out,
             struct wal_error *err);
/* Precondition: no batch is being written. Closes files; never syncs. */
void wal_close(struct wal *wal);

/* The ids of the groups that have anything persisted, ascending. Returns the total count,
 * of which at most ids_max are stored. */
uint32_t wal_groups(const struct wal *wal, cn_group_id *ids, uint32_t ids_max);

/* What a core needs at creation: hard state, latest snapshot marker, the entries after it.
 * Owns its memory; release with wal_restore_free. */
struct wal_restore {
    struct cn_restore restore;
    struct cn_entry *entries_owned;
    uint8_t *data_owned;
};
int wal_restore_load(struct wal *wal, cn_group_id group, struct wal_restore *out,
                     struct wal_error *err);
void wal_restore_free(struct wal_restore *restore);

/* Adds to the open batch, for one group, in this order: the hard state (if not NULL), the
 * snapshot marker (if not NULL; entries up to snap->index are dropped), the entries (count
 * may be 0; consecutive indexes; the first at most last index + 1). Makes no syscall.
 * Entry data is copied. Returns WAL_ERR_FULL, with nothing added, if the batch would exceed
 * its bound; WAL_ERR_INVALID for a gap or a non-consecutive run. The Raft discipline:
 * wal_append_mode with flags 0. */
int wal_append(struct wal *wal, cn_group_id group, const struct cn_hard_state *hs,
               const struct cn_snapshot_meta *snap, const struct cn_entry *entries, uint32_t count,
               struct wal_error *err);

/* How wal_append_mode lays down entries and the snapshot marker (cn_update.entries_per_slot).
 *
 * 0 (Raft, §5.3): entries form one consecutive run; the first at or below the last index
 * truncates the log from there. A marker keeps the entries after its index only when the log
 * holds the marker's index with the marker's term (§7), else drops them all.
 *
 * WAL_APPEND_PER_SLOT (Multi-Paxos): each entry replaces only the value of its own slot
 * (an acceptor's accepted (ballot, value), Lamport §2.3); entries are strictly ascending, with
 * gaps allowed, each above the snapshot; slots not written stay as they are, holes stay holes.
 * wal_restore_load and wal_read_entries then return the present slots, ascending, with gaps.
 * A per-slot marker drops the slots up to its index and keeps those above (a snapshot the node
 * took itself: the accepted values above it must survive), unless WAL_APPEND_INSTALL is also
 * given: then it drops every slot (an installed snapshot, consensus.h: "discard the whole
 * persisted log"; the core rewrites what it keeps in this same append, after the marker).
 * The mode is recorded per entry record, and the marker's effect in the marker record, so
 * recovery replays exactly what the appends did. A group holding entries of one mode refuses
 * entries of the other (WAL_ERR_INVALID) until a marker or truncation empties it.
 * Bound: a per-slot group spans at most WAL_SLOT_SPAN_MAX slots (holes included) above its
 * snapshot, so that the in-memory slot table (about 48 bytes a slot) stays bounded. */
enum wal_append_flags {
    WAL_APPEND_PER_SLOT = 1u << 0,
    WAL_APPEND_INSTALL = 1u << 1, /* only with WAL_APPEND_PER_SLOT; ignored for Raft */
};
int wal_append_mode(struct wal *wal, cn_group_id group, uint32_t flags,
                    const struct cn_hard_state *hs, const struct cn_snapshot_meta *snap,
                    const struct cn_entry *entries, uint32_t count, struct wal_error *err);

/* Forgets a group's log: adds to the open batch a record that empties its entries and its
 * snapshot marker, and does so in memory; its hard state stays, so that a vote is never given
 * twice in a term. For a group whose replica the node deleted (a shard replica moved away,
 * docs/membership.md "The rebalancer"): its entries no longer keep old segments, and a later
 * replica of the same group on this node starts from nothing instead of from the old one's
 * marker and entries, also after a restart (recovery replays the record in its place).
 * Makes no syscall; durable with its batch. WAL_OK for a group never persisted; WAL_ERR_FULL,
 * with nothing added, when the batch is full. */
int wal_reset_group(struct wal *wal, cn_group_id group, struct wal_error *err);

/* Whether wal_batch_seal may be called now: something is buffered, the log has not failed,
 * fewer than WAL_BATCHES_IN_FLIGHT_MAX batches are in flight, and neither the batch in flight
 * nor this one begins a new segment (such a batch is written alone). */
bool wal_batch_sealable(const struct wal *wal);
/* Closes the open batch and places it on disk. NULL when nothing is buffered or the log has
 * failed. Precondition: nothing is buffered or wal_batch_sealable. */
struct wal_batch *wal_batch_seal(struct wal *wal);
/* One write and one fdatasync of the batch (see the thread and failure rules above). */
int wal_batch_write(struct wal *wal, struct wal_batch *batch, struct wal_error *err);
/* Publishes a written batch (or releases a failed one). Returns the batch's write result.
 * Batches complete in the order they were sealed, whatever order their writes returned in:
 * a batch is durable for its caller only when every batch before it is. */
int wal_batch_complete(struct wal *wal, struct wal_batch *batch);
/* Seal + write + complete. WAL_OK when nothing was buffered. */
int wal_sync(struct wal *wal, struct wal_error *err);

/* The spare segment (wal_spare.c): the next segment's file, zero-filled and synced ahead of
 * the roll, because an fdatasync after a write into fallocated blocks also commits the
 * filesystem's journal (about half the sync rate on ext4). Optional: without it a new segment
 * is fallocated. The owner calls wal_spare_begin; when it returns true, wal_spare_prepare runs
 * on any one thread (concurrently with wal_batch_write: they touch different files), and then
 * the owner calls wal_spare_complete with its result. A failed spare is not a failure of the
 * log (the roll falls back to fallocate). wal_close requires that no spare is being prepared. */
bool wal_spare_begin(struct wal *wal);
int wal_spare_prepare(struct wal *wal, struct wal_error *err);
void wal_spare_complete(struct wal *wal, int result);

/* Copies entries [lo, hi] of a group into out (at most out_max) with their data in buf (at
 * most buf_bytes), from the cache or from disk. Stops early at either bound, but returns at
 * least one entry unless buf cannot hold it (WAL_ERR_FULL). *count says how many were read.
 * Entries appended but not yet completed are readable too. Holes of a per-slot group are
 * skipped: the entries come out ascending, with gaps. */
int wal_read_entries(struct wal *wal, cn_group_id group, uint64_t lo, uint64_t hi,
                     struct cn_entry *out, uint32_t out_max, uint8_t *buf, size_t buf_bytes,
                     uint32_t *count, struct wal_error *err);

/* The log bounds of a group: first index held, last index; first = last + 1 when empty.
 * A per-slot group: first = snapshot index + 1 (possibly a hole), last = highest slot held. */
int wal_group_bounds(const struct wal *wal, cn_group_id group, uint64_t *first_index,
                     uint64_t *last_index);

/* Deletes every segment that no group needs any more, now that `group` holds a snapshot up to
 * `index`, and fsyncs the directory. The snapshot must already be recorded as a marker
 * (wal_append with snap) in a completed batch, else WAL_ERR_INVALID: entries up to a marker
 * are dropped from the log when it is appended. A segment is needed while it holds an entry
 * of some group's log or is not older than the last durable batch's segment; every segment
 * starts with a checkpoint of all hard states and markers, so no state is lost with the older
 * ones. Nothing is deleted while some group's marker is not yet durable (call again later).
 * May run while a batch is being written: it never touches the segments batches go to. */
int wal_compact(struct wal *wal, cn_group_id group, uint64_t index, struct wal_error *err);

struct wal_stats {
    uint64_t segment_count;
    uint64_t first_segment_seq;
    uint64_t last_segment_seq;
    uint64_t cache_bytes;
    uint64_t batches_written;
    uint64_t bytes_written;
    uint64_t torn_bytes_truncated; /* at the last open */
    uint64_t spares_used; /* segments that began as a zero-filled spare */
    bool failed;
};
void wal_stats_get(const struct wal *wal, struct wal_stats *stats);

#endif
