/*
 * disk.h — a node's simulated disk: what survives a crash.
 *
 * It holds the persisted hard state, the latest snapshot (meta, bytes and the rolling hash of
 * the log prefix it covers), a staging buffer for a snapshot being received in chunks, and the
 * entries after the snapshot, contiguous by index. Every entry carries a rolling hash of the
 * whole log prefix up to it (hash(prev rolling, term, type, data)), so that two disks holding
 * equal rolling hashes at an index hold the same prefix: the log matching check is O(1) per
 * index. Writes happen only when the driver completes a persistence (the update's (2)), so a
 * crash loses exactly what was not yet completed.
 */
#ifndef CHORUS_SIM_DISK_H
#define CHORUS_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum {
    SIM_DISK_ENTRIES_MAX = 1u << 20,        /* entries after the snapshot */
    SIM_DISK_ENTRY_INLINE_BYTES = 120,      /* data up to this size is kept without malloc */
    SIM_SNAPSHOT_BYTES_MAX = 1u << 16,      /* one simulated snapshot, header included */
    SIM_DISK_ERROR_BYTES_MAX = 160,
    SIM_DISK_SLOT_GAP_MAX = 4096,           /* empty slots a per-slot write may skip */
};

struct sim_disk_entry {
    bool present; /* false: an empty slot below a per-slot write (Multi-Paxos) */
    uint64_t term;
    uint8_t type;
    uint32_t data_len;
    uint8_t *data; /* points to inline_data or to a malloc'd copy */
    uint64_t data_hash;
    uint64_t rolling;
    uint8_t inline_data[SIM_DISK_ENTRY_INLINE_BYTES];
};

struct sim_disk {
    struct cn_hard_state hard_state;
    struct cn_snapshot_meta snapshot; /* index 0: none */
    uint64_t snapshot_rolling;        /* rolling hash of the prefix up to snapshot.index */
    uint8_t *snapshot_bytes;
    uint32_t snapshot_len;
    uint8_t *staging; /* SIM_SNAPSHOT_BYTES_MAX bytes */
    uint32_t staging_len;
    struct sim_disk_entry *entries; /* entries[first + k] has index snapshot.index + 1 + k */
    uint32_t first;
    uint32_t count;
    uint32_t capacity;
};

/* Returns 0, or -1 when memory ran out. */
int sim_disk_init(struct sim_disk *disk);
void sim_disk_free(struct sim_disk *disk);
/* Wipes everything (a new seed). */
void sim_disk_reset(struct sim_disk *disk);

uint64_t sim_disk_last_index(const struct sim_disk *disk);
/* The entry at index, or NULL when not on disk (compacted or beyond the end). */
const struct sim_disk_entry *sim_disk_entry_at(const struct sim_disk *disk, uint64_t index);
/* The rolling hash of the prefix up to index, when the disk knows it (snapshot or entry). */
bool sim_disk_rolling_at(const struct sim_disk *disk, uint64_t index, uint64_t *rolling);

/* Chains one entry onto a rolling hash. */
uint64_t sim_disk_chain(uint64_t rolling, uint64_t term, uint8_t type, uint64_t data_hash);
uint64_t sim_disk_data_hash(const uint8_t *data, uint32_t data_len);

/* Persists entries (in index order) as cn_update.entries_per_slot says: false (Raft), an entry
 * at or below the last index truncates the log from there first (§5.3) and entries are
 * consecutive; true (Multi-Paxos), each entry replaces its own slot only, gaps stay empty.
 * Returns 0, or -1 with a reason in `error` when the write is not one a correct core can ask
 * for (a gap, an index at or below the snapshot, a bound). Rolling hashes are meaningful for
 * Raft-style writes only. */
int sim_disk_write_entries(struct sim_disk *disk, const struct cn_entry *entries, uint32_t count,
                           bool per_slot, char error[SIM_DISK_ERROR_BYTES_MAX]);
/* Makes (meta, rolling, bytes) the disk's snapshot: drops the entries up to meta.index, and
 * the ones after it too unless the disk holds the snapshot's last entry (Raft §7); re-chains
 * the retained ones onto `rolling`. Returns 0, or -1 (bytes too large, or older than
 * the snapshot already held). */
int sim_disk_set_snapshot(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                          uint64_t rolling, const uint8_t *bytes, uint32_t len);
/* The per-slot rule (Multi-Paxos on the WAL, wal.h): drops the slots up to meta.index and
 * keeps every one above it. Returns 0, or -1 (too large, or older than the disk's). */
int sim_disk_set_snapshot_slots(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                                uint64_t rolling, const uint8_t *bytes, uint32_t len);
/* Installs a received snapshot (cn_update.snapshot_present): the whole log is discarded and
 * now starts after meta.index. Returns 0, or -1 (too large, or older than the disk's). */
int sim_disk_install_snapshot(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                              uint64_t rolling, const uint8_t *bytes, uint32_t len);
/* Writes a received chunk at `offset` of the staging buffer (offset 0 starts a new one).
 * Returns 0, or -1 with a reason (a gap, or the bound). */
int sim_disk_stage_chunk(struct sim_disk *disk, uint64_t offset, const uint8_t *chunk,
                         uint32_t len, char error[SIM_DISK_ERROR_BYTES_MAX]);
/* Fills `restore` from the disk (present entries, in index order). `entries` must hold
 * disk->count items; they borrow the disk's bytes until the next write. */
void sim_disk_restore(const struct sim_disk *disk, struct cn_restore *restore,
                      struct cn_entry *entries);

#endif
