/*
 * disk_wal.c — storage mode "wal": each node persists through the real WAL (src/storage/wal.h)
 * over its own simulated file system (simfs.h), whose unsynced writes are lost, kept or torn at
 * a crash.
 *
 * The sim disk (disk.h) stays the record of what was acknowledged durable: it is written when
 * an update's disk write completes, as in mode "mem", and the invariant checks read it. The WAL
 * is what a crashed node comes back with. An update's batch is appended and synced when the
 * update is taken, with the file system in deferred mode: the write and the fdatasync are
 * issued, and the disk completes them when the update's disk latency has passed (then the
 * update is acked). A crash in between leaves the batch lost, kept or torn. At the crash the WAL
 * is reopened over what survived, and what it recovers must be the acknowledged state plus a
 * prefix of the batch in flight ("wal recovery" otherwise); the sim disk then takes over what
 * survived of that batch. At the restart the core is restored from the WAL.
 *
 * Snapshots: the state machine's snapshot bytes live in the sim disk (written durably when
 * taken or installed); the WAL gets a snapshot marker in the next batch and is compacted once
 * that batch is durable. A restart uses the sim disk's snapshot when it is newer than the
 * WAL's marker (the marker was not durable yet) and appends the marker again. An update that
 * installs a received snapshot is written to the WAL when its disk latency has passed, in one
 * step (no crash window: a simplification). Received snapshots keep the log after them when it
 * holds their last entry (the WAL's marker rule, Raft §7), so the sim disk follows that rule.
 *
 * Every batch also carries one entry of a second group (filler, 0-1 KiB by seed) so that the
 * 64 KiB segments fill up: segment creation (temporary file, rename, directory sync) and
 * deletion by compaction then happen, and get torn, within a seed.
 *
 * A torn batch is recovered as a prefix of its records (wal_recover.c): that is what the check
 * allows. The hard state record comes first, so a prefix can hold a batch's commit hint
 * without the entries it covers; what follows from that is left to the invariant checks.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"
#include "storage/wal.h"

enum {
    SIM_WAL_GROUP = 0,
    SIM_WAL_FILLER_GROUP = 1,
    SIM_WAL_CACHE_BYTES = 1u << 20,
};

static void sim_wal_quiet(void *context, const char *message)
{
    (void)context;
    (void)message;
}

struct sim_wal *sim_wal_create(void)
{
    struct sim_wal *w = calloc(1, sizeof(*w));
    if (w == NULL) return NULL;
    simfs_init(&w->fs);
    w->fops = simfs_fileops(&w->fs);
    return w;
}

void sim_wal_destroy(struct sim_wal *w)
{
    if (w == NULL) return;
    if (w->wal != NULL) wal_close(w->wal);
    simfs_free(&w->fs);
    free(w);
}

static int sim_wal_open(struct sim *sim, uint32_t node)
{
    struct sim_wal *w = sim->nodes[node].wal;
    struct wal_options options;
    wal_options_defaults(&options);
    options.dir = "/wal";
    options.segment_bytes = WAL_SEGMENT_BYTES_MIN;
    options.cache_bytes_max = SIM_WAL_CACHE_BYTES;
    options.log = sim_wal_quiet;
    struct wal_error err;
    int rv = wal_open(&options, &w->fops, &w->wal, &err);
    if (rv != WAL_OK) {
        w->wal = NULL;
        sim_check_fail(&sim->check, "wal recovery", "node %u: wal_open: %s", node + 1,
                       err.message);
        return -1;
    }
    struct wal_stats stats;
    wal_stats_get(w->wal, &stats);
    if (stats.torn_bytes_truncated > 0) sim->result->wal_torn_tails++;
    return 0;
}

int sim_wal_reset(struct sim *sim, uint32_t node)
{
    struct sim_wal *w = sim->nodes[node].wal;
    if (w->wal != NULL) wal_close(w->wal);
    w->wal = NULL;
    simfs_reset(&w->fs);
    w->marker_index = 0;
    w->marker_pending = false;
    w->compact_index = 0;
    w->issued = false;
    /* Segments are at least 64 KiB: without filler a seed seldom fills one. */
    static const uint32_t filler_sizes[] = {0, 256, 512, 1024};
    w->filler_bytes = filler_sizes[sim_rng_below(&sim->rng_disk, 4)];
    w->filler_last = 0;
    for (uint32_t i = 0; i < SIM_WAL_FILLER_BYTES_MAX; i++)
        w->filler[i] = (uint8_t)(i * 131 + node);
    return sim_wal_open(sim, node);
}

/* Appends the filler group's next entry and a marker dropping the one before. */
static int sim_wal_filler(struct sim_wal *w, struct wal_error *err)
{
    if (w->filler_bytes == 0) return WAL_OK;
    struct cn_snapshot_meta snap = {.index = w->filler_last, .term = 1};
    struct cn_entry entry = {.index = w->filler_last + 1, .term = 1, .type = CN_ENTRY_NORMAL,
                             .data_len = w->filler_bytes, .data = w->filler};
    int rv = wal_append(w->wal, SIM_WAL_FILLER_GROUP, NULL, w->filler_last > 0 ? &snap : NULL,
                        &entry, 1, err);
    if (rv == WAL_OK) w->filler_last++;
    return rv;
}

/* Whether the update is written to the WAL when taken (else when its latency has passed). */
static bool sim_wal_deferred(const struct cn_update *u) { return !u->snapshot_present; }

/* Appends and syncs the update's batch: hard state, snapshot marker (a received snapshot's,
 * or a local snapshot's not yet in the WAL), entries. */
static int sim_wal_write(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_wal *w = sim->nodes[node].wal;
    const struct cn_snapshot_meta *snap = NULL;
    if (u->snapshot_present) {
        snap = &u->snapshot;
        w->marker_pending = false;
    } else if (w->marker_pending) {
        snap = &w->marker;
        w->marker_pending = false;
    }
    if (snap != NULL && snap->index <= w->marker_index) snap = NULL;
    if (!u->hard_state_changed && snap == NULL && u->entry_count == 0) return 0;
    struct wal_error err;
    int rv = wal_append(w->wal, SIM_WAL_GROUP, u->hard_state_changed ? &u->hard_state : NULL,
                        snap, u->entries, u->entry_count, &err);
    if (rv == WAL_OK) rv = sim_wal_filler(w, &err);
    if (rv == WAL_OK) rv = wal_sync(w->wal, &err);
    if (rv != WAL_OK) {
        sim_check_fail(&sim->check, "wal", "node %u: %s", node + 1, err.message);
        return -1;
    }
    if (snap != NULL) {
        w->marker_index = snap->index;
        w->compact_index = snap->index;
    }
    return 0;
}

void sim_wal_issue(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_wal *w = sim->nodes[node].wal;
    assert(!u->entries_per_slot);
    w->issued = false;
    if (!sim_wal_deferred(u)) return;
    simfs_set_deferred(&w->fs, true);
    int rv = sim_wal_write(sim, node, u);
    simfs_set_deferred(&w->fs, false);
    w->issued = rv == 0;
}

void sim_wal_complete(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_wal *w = sim->nodes[node].wal;
    simfs_settle(&w->fs);
    w->issued = false;
    if (!sim_wal_deferred(u) && sim_wal_write(sim, node, u) != 0) return;
    if (w->compact_index > 0) {
        struct wal_error err;
        int rv = wal_compact(w->wal, SIM_WAL_GROUP, w->compact_index, &err);
        if (rv != WAL_OK) {
            sim_check_fail(&sim->check, "wal", "node %u: wal_compact: %s", node + 1,
                           err.message);
            return;
        }
        w->compact_index = 0;
    }
}

void sim_wal_snapshot_taken(struct sim *sim, uint32_t node, const struct cn_snapshot_meta *meta)
{
    struct sim_wal *w = sim->nodes[node].wal;
    w->marker = *meta;
    w->marker_pending = true;
}

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
static int64_t sim_wal_compare(const struct sim_disk *disk, const struct cn_restore *r,
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

/* The restore the WAL gives, with the sim disk's snapshot when it is newer than the marker:
 * entries at or below it are skipped. Fills `out` (entries borrowed from restore). */
static void sim_wal_view(const struct sim_disk *disk, const struct wal_restore *restore,
                         struct cn_restore *out)
{
    *out = restore->restore;
    if (disk->snapshot.index > out->snapshot.index) {
        uint64_t skip = 0;
        while (skip < out->entry_count && out->entries[skip].index <= disk->snapshot.index)
            skip++;
        out->snapshot = disk->snapshot;
        out->entries += skip;
        out->entry_count -= skip;
    }
}

void sim_wal_crash(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    struct sim_wal *w = n->wal;
    const struct cn_update *u = n->update_outstanding && w->issued ? &n->update : NULL;
    wal_close(w->wal);
    w->wal = NULL;
    uint64_t torn_before = w->fs.stats.writes_torn;
    simfs_crash(&w->fs, &sim->rng_disk);
    sim->result->torn_writes += w->fs.stats.writes_torn - torn_before;
    w->issued = false;
    w->compact_index = 0;
    w->marker_pending = false;
    if (sim_wal_open(sim, node) != 0) return;
    struct wal_restore restore;
    struct wal_error err;
    if (wal_restore_load(w->wal, SIM_WAL_GROUP, &restore, &err) != WAL_OK) {
        sim_check_fail(&sim->check, "wal recovery", "node %u: %s", node + 1, err.message);
        return;
    }
    w->marker_index = restore.restore.snapshot.index;
    uint64_t filler_first = 0;
    if (wal_group_bounds(w->wal, SIM_WAL_FILLER_GROUP, &filler_first, &w->filler_last) != WAL_OK)
        w->filler_last = 0;
    struct cn_restore view;
    sim_wal_view(&n->disk, &restore, &view);
    char why[256];
    int64_t survived = sim_wal_compare(&n->disk, &view, u, why, sizeof(why));
    if (survived < 0) {
        sim_check_fail(&sim->check, "wal recovery", "node %u after a crash: %s", node + 1, why);
    } else {
        /* The disk takes over what survived of the batch in flight. */
        n->disk.hard_state = view.hard_state;
        char error[SIM_DISK_ERROR_BYTES_MAX];
        if (survived > 0) {
            if (sim_disk_write_entries(&n->disk, u->entries, (uint32_t)survived, false,
                                       error) != 0)
                sim_check_fail(&sim->check, "disk write", "node %u: %s", node + 1, error);
            else
                sim_check_persisted(&sim->check, node, &n->disk, u->entries[0].index);
        }
        if (u != NULL && (survived > 0 || u->hard_state_changed))
            SIM_TRACE(sim, (int)node, "wal: %" PRId64 " of %u entries of the batch in flight "
                      "survived", survived, u->entry_count);
    }
    wal_restore_free(&restore);
    if (n->disk.snapshot.index > w->marker_index) {
        w->marker = n->disk.snapshot;
        w->marker_pending = true;
    }
}

int sim_wal_restore(struct sim *sim, uint32_t node, struct wal_restore *restore,
                    struct cn_restore *out)
{
    struct sim_node *n = &sim->nodes[node];
    struct wal_error err;
    if (n->wal->wal == NULL || wal_restore_load(n->wal->wal, SIM_WAL_GROUP, restore, &err) !=
                                   WAL_OK) {
        sim_check_fail(&sim->check, "wal recovery", "node %u: restore: %s", node + 1,
                       n->wal->wal == NULL ? "no WAL" : err.message);
        return -1;
    }
    sim_wal_view(&n->disk, restore, out);
    char why[256];
    if (sim_wal_compare(&n->disk, out, NULL, why, sizeof(why)) != 0) {
        sim_check_fail(&sim->check, "wal recovery", "node %u at restart: %s", node + 1, why);
        wal_restore_free(restore);
        return -1;
    }
    return 0;
}
