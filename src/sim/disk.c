/* disk.c — the simulated disk: hard state, snapshot, staging, entries with rolling hashes. */
#include "sim/disk.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sim/rng.h"

int sim_disk_init(struct sim_disk *disk)
{
    memset(disk, 0, sizeof(*disk));
    disk->staging = malloc(SIM_SNAPSHOT_BYTES_MAX);
    disk->snapshot_bytes = malloc(SIM_SNAPSHOT_BYTES_MAX);
    disk->capacity = 256;
    disk->entries = malloc(sizeof(*disk->entries) * disk->capacity);
    if (disk->staging == NULL || disk->snapshot_bytes == NULL || disk->entries == NULL) {
        sim_disk_free(disk);
        return -1;
    }
    return 0;
}

static void sim_disk_entry_release(struct sim_disk_entry *entry)
{
    if (entry->data != entry->inline_data) free(entry->data);
    entry->data = NULL;
}

/* Drops entries[first + keep ..] (the suffix after `keep` retained entries). */
static void sim_disk_truncate_count(struct sim_disk *disk, uint32_t keep)
{
    assert(keep <= disk->count);
    for (uint32_t k = keep; k < disk->count; k++)
        sim_disk_entry_release(&disk->entries[disk->first + k]);
    disk->count = keep;
}

void sim_disk_free(struct sim_disk *disk)
{
    if (disk->entries != NULL) sim_disk_truncate_count(disk, 0);
    free(disk->entries);
    free(disk->staging);
    free(disk->snapshot_bytes);
    memset(disk, 0, sizeof(*disk));
}

void sim_disk_reset(struct sim_disk *disk)
{
    sim_disk_truncate_count(disk, 0);
    disk->first = 0;
    memset(&disk->hard_state, 0, sizeof(disk->hard_state));
    memset(&disk->snapshot, 0, sizeof(disk->snapshot));
    disk->snapshot_rolling = 0;
    disk->snapshot_len = 0;
    disk->staging_len = 0;
}

uint64_t sim_disk_last_index(const struct sim_disk *disk)
{
    return disk->snapshot.index + disk->count;
}

static struct sim_disk_entry *sim_disk_slot(const struct sim_disk *disk, uint64_t index)
{
    if (index <= disk->snapshot.index || index > sim_disk_last_index(disk)) return NULL;
    return &disk->entries[disk->first + (index - disk->snapshot.index - 1)];
}

const struct sim_disk_entry *sim_disk_entry_at(const struct sim_disk *disk, uint64_t index)
{
    const struct sim_disk_entry *slot = sim_disk_slot(disk, index);
    return slot != NULL && slot->present ? slot : NULL;
}

bool sim_disk_rolling_at(const struct sim_disk *disk, uint64_t index, uint64_t *rolling)
{
    if (index == disk->snapshot.index) {
        *rolling = disk->snapshot_rolling;
        return true;
    }
    const struct sim_disk_entry *slot = sim_disk_slot(disk, index);
    if (slot == NULL) return false;
    *rolling = slot->rolling;
    return true;
}

uint64_t sim_disk_chain(uint64_t rolling, uint64_t term, uint8_t type, uint64_t data_hash)
{
    return sim_rng_mix(rolling * 0x9fb21c651e98df25ull ^ sim_rng_mix(term) ^
                       (data_hash + type));
}

uint64_t sim_disk_data_hash(const uint8_t *data, uint32_t data_len)
{
    return data_len == 0 ? 0 : XXH3_64bits(data, data_len);
}

/* Makes room for one more entry at the end: slides the live window to the front when the
 * compacted prefix is large, else doubles the array (bounded by SIM_DISK_ENTRIES_MAX). */
static int sim_disk_reserve(struct sim_disk *disk)
{
    if (disk->first + disk->count < disk->capacity) return 0;
    if (disk->first > 0) {
        memmove(disk->entries, disk->entries + disk->first, sizeof(*disk->entries) * disk->count);
        disk->first = 0;
        for (uint32_t k = 0; k < disk->count; k++) {
            struct sim_disk_entry *e = &disk->entries[k];
            if (e->data_len <= SIM_DISK_ENTRY_INLINE_BYTES) e->data = e->inline_data;
        }
        if (disk->count < disk->capacity) return 0;
    }
    if (disk->capacity >= SIM_DISK_ENTRIES_MAX) return -1;
    uint32_t capacity = disk->capacity * 2;
    struct sim_disk_entry *grown = realloc(disk->entries, sizeof(*grown) * capacity);
    if (grown == NULL) return -1;
    disk->entries = grown;
    disk->capacity = capacity;
    for (uint32_t k = 0; k < disk->count; k++) {
        struct sim_disk_entry *e = &disk->entries[disk->first + k];
        if (e->data_len <= SIM_DISK_ENTRY_INLINE_BYTES) e->data = e->inline_data;
    }
    return 0;
}

static int sim_disk_append(struct sim_disk *disk, const struct cn_entry *in, uint64_t rolling_prev)
{
    if (sim_disk_reserve(disk) != 0) return -1;
    struct sim_disk_entry *e = &disk->entries[disk->first + disk->count];
    e->present = true;
    e->term = in->term;
    e->type = in->type;
    e->data_len = in->data_len;
    e->data = e->inline_data;
    if (in->data_len > SIM_DISK_ENTRY_INLINE_BYTES) {
        e->data = malloc(in->data_len);
        if (e->data == NULL) return -1;
    }
    if (in->data_len > 0) memcpy(e->data, in->data, in->data_len);
    e->data_hash = sim_disk_data_hash(in->data, in->data_len);
    e->rolling = sim_disk_chain(rolling_prev, in->term, in->type, e->data_hash);
    disk->count++;
    return 0;
}

/* Fills one slot (per-slot writes) with a copy of `in`, replacing what it held. */
static int sim_disk_fill_slot(struct sim_disk_entry *slot, const struct cn_entry *in)
{
    uint8_t *data = slot->data != NULL && slot->data != slot->inline_data ? slot->data : NULL;
    free(data);
    slot->data = slot->inline_data;
    if (in->data_len > SIM_DISK_ENTRY_INLINE_BYTES) {
        slot->data = malloc(in->data_len);
        if (slot->data == NULL) return -1;
    }
    if (in->data_len > 0) memcpy(slot->data, in->data, in->data_len);
    slot->present = true;
    slot->term = in->term;
    slot->type = in->type;
    slot->data_len = in->data_len;
    slot->data_hash = sim_disk_data_hash(in->data, in->data_len);
    return 0;
}

/* A per-slot write: empty slots fill any gap up to the entry, then its slot is replaced. */
static int sim_disk_write_slot(struct sim_disk *disk, const struct cn_entry *in,
                               char error[SIM_DISK_ERROR_BYTES_MAX])
{
    uint64_t last = sim_disk_last_index(disk);
    if (in->index > last && in->index - last > SIM_DISK_SLOT_GAP_MAX) {
        snprintf(error, SIM_DISK_ERROR_BYTES_MAX, "slot %" PRIu64 " written %" PRIu64
                 " slots past the last one", in->index, in->index - last);
        return -1;
    }
    for (uint64_t gap = last + 1; gap < in->index; gap++) {
        struct cn_entry empty = {.index = gap};
        uint64_t prev = 0;
        (void)sim_disk_rolling_at(disk, gap - 1, &prev);
        if (sim_disk_append(disk, &empty, prev) != 0) goto bound;
        disk->entries[disk->first + disk->count - 1].present = false;
    }
    if (in->index > last) {
        uint64_t prev = 0;
        (void)sim_disk_rolling_at(disk, in->index - 1, &prev);
        if (sim_disk_append(disk, in, prev) != 0) goto bound;
        return 0;
    }
    if (sim_disk_fill_slot(sim_disk_slot(disk, in->index), in) != 0) goto bound;
    return 0;
bound:
    snprintf(error, SIM_DISK_ERROR_BYTES_MAX, "disk bound reached (%u entries)", disk->count);
    return -1;
}

int sim_disk_write_entries(struct sim_disk *disk, const struct cn_entry *entries, uint32_t count,
                           bool per_slot, char error[SIM_DISK_ERROR_BYTES_MAX])
{
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_entry *in = &entries[i];
        uint64_t last = sim_disk_last_index(disk);
        bool ordered = i == 0 || in->index > entries[i - 1].index;
        bool reachable = per_slot || in->index <= last + 1;
        if (in->index <= disk->snapshot.index || !reachable || !ordered) {
            snprintf(error, SIM_DISK_ERROR_BYTES_MAX,
                     "entry %" PRIu64 " written to a disk holding snapshot %" PRIu64
                     " and entries up to %" PRIu64, in->index, disk->snapshot.index, last);
            return -1;
        }
        if (per_slot) {
            if (sim_disk_write_slot(disk, in, error) != 0) return -1;
            continue;
        }
        if (in->index <= last) {
            uint64_t keep = in->index - disk->snapshot.index - 1;
            sim_disk_truncate_count(disk, (uint32_t)keep);
        }
        uint64_t rolling_prev = 0;
        bool known = sim_disk_rolling_at(disk, in->index - 1, &rolling_prev);
        assert(known);
        if (sim_disk_append(disk, in, rolling_prev) != 0) {
            snprintf(error, SIM_DISK_ERROR_BYTES_MAX, "disk bound reached (%u entries)",
                     disk->count);
            return -1;
        }
    }
    return 0;
}

/* Drops the entries at or below index; the caller then sets the snapshot that covers them. */
static void sim_disk_compact(struct sim_disk *disk, uint64_t index)
{
    if (index <= disk->snapshot.index) return;
    uint64_t drop = index - disk->snapshot.index;
    if (drop > disk->count) drop = disk->count;
    for (uint32_t k = 0; k < drop; k++) sim_disk_entry_release(&disk->entries[disk->first + k]);
    disk->first += (uint32_t)drop;
    disk->count -= (uint32_t)drop;
    if (disk->count == 0) disk->first = 0;
}

int sim_disk_set_snapshot(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                          uint64_t rolling, const uint8_t *bytes, uint32_t len)
{
    if (len > SIM_SNAPSHOT_BYTES_MAX || meta->index < disk->snapshot.index) return -1;
    /* Raft §7: entries after the snapshot are kept only when the log holds the snapshot's last
     * entry (same index and term); otherwise the whole log is replaced, as the core's is. */
    const struct sim_disk_entry *last = sim_disk_entry_at(disk, meta->index);
    bool matches = last != NULL ? last->term == meta->term
                                : meta->index == disk->snapshot.index &&
                                      meta->term == disk->snapshot.term;
    if (meta->index >= sim_disk_last_index(disk) || !matches) {
        sim_disk_truncate_count(disk, 0);
        disk->first = 0;
    } else {
        sim_disk_compact(disk, meta->index);
    }
    disk->snapshot = *meta;
    disk->snapshot_rolling = rolling;
    if (len > 0) memmove(disk->snapshot_bytes, bytes, len);
    disk->snapshot_len = len;
    /* Re-chain the retained suffix on the new base: if it did not belong to that prefix, its
     * rolling hashes change and the log matching check sees the mismatch. */
    uint64_t prev = rolling;
    for (uint32_t k = 0; k < disk->count; k++) {
        struct sim_disk_entry *e = &disk->entries[disk->first + k];
        e->rolling = sim_disk_chain(prev, e->term, e->type, e->data_hash);
        prev = e->rolling;
    }
    return 0;
}

int sim_disk_set_snapshot_slots(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                                uint64_t rolling, const uint8_t *bytes, uint32_t len)
{
    if (len > SIM_SNAPSHOT_BYTES_MAX || meta->index < disk->snapshot.index) return -1;
    if (meta->index >= sim_disk_last_index(disk)) {
        sim_disk_truncate_count(disk, 0);
        disk->first = 0;
    } else {
        sim_disk_compact(disk, meta->index);
    }
    disk->snapshot = *meta;
    disk->snapshot_rolling = rolling;
    if (len > 0) memmove(disk->snapshot_bytes, bytes, len);
    disk->snapshot_len = len;
    return 0;
}

int sim_disk_install_snapshot(struct sim_disk *disk, const struct cn_snapshot_meta *meta,
                              uint64_t rolling, const uint8_t *bytes, uint32_t len)
{
    if (len > SIM_SNAPSHOT_BYTES_MAX || meta->index < disk->snapshot.index) return -1;
    sim_disk_truncate_count(disk, 0);
    disk->first = 0;
    return sim_disk_set_snapshot(disk, meta, rolling, bytes, len);
}

int sim_disk_stage_chunk(struct sim_disk *disk, uint64_t offset, const uint8_t *chunk,
                         uint32_t len, char error[SIM_DISK_ERROR_BYTES_MAX])
{
    if (offset == 0) disk->staging_len = 0;
    if (offset > disk->staging_len || offset + len > SIM_SNAPSHOT_BYTES_MAX) {
        snprintf(error, SIM_DISK_ERROR_BYTES_MAX,
                 "snapshot chunk at offset %" PRIu64 " (+%u) but %u bytes staged", offset, len,
                 disk->staging_len);
        return -1;
    }
    if (len > 0) memcpy(disk->staging + offset, chunk, len);
    if (offset + len > disk->staging_len) disk->staging_len = (uint32_t)(offset + len);
    return 0;
}

void sim_disk_restore(const struct sim_disk *disk, struct cn_restore *restore,
                      struct cn_entry *entries)
{
    memset(restore, 0, sizeof(*restore));
    restore->hard_state = disk->hard_state;
    restore->snapshot = disk->snapshot;
    uint32_t n = 0;
    for (uint32_t k = 0; k < disk->count; k++) {
        const struct sim_disk_entry *e = &disk->entries[disk->first + k];
        if (!e->present) continue;
        entries[n++] = (struct cn_entry){.index = disk->snapshot.index + 1 + k, .term = e->term,
                                         .type = e->type, .data_len = e->data_len,
                                         .data = e->data};
    }
    restore->entry_count = n;
    restore->entries = entries;
}
