/*
 * disk_wal.c — storage mode "wal": each node persists through the real WAL (src/storage/wal.h)
 * over its own simulated file system (simfs.h), whose unsynced writes are lost, kept or torn at
 * a crash. One WAL per node holds every group the node hosts (records tagged by group): a
 * batch appends the update of each group in it, then one sync covers them all.
 *
 * The sim disk (disk.h) stays the record of what was acknowledged durable: it is written when
 * an update's disk write completes, as in mode "mem", and the invariant checks read it. The WAL
 * is what a crashed node comes back with. An update's batch is appended and synced when the
 * update is taken, with the file system in deferred mode: the write and the fdatasync are
 * issued, and the disk completes them when the update's disk latency has passed (then the
 * update is acked). A crash in between leaves the batch lost, kept or torn. At the crash the WAL
 * is reopened over what survived, and what it recovers must be the acknowledged state plus a
 * prefix of the batch in flight ("wal recovery" otherwise); the sim disk then takes over what
 * survived of that batch. At the restart every group's core is restored from the WAL. With
 * several groups each is checked on its own: a torn batch is a prefix of its records, so one
 * group's update may survive whole while the next one's is cut, which the per-group check
 * allows; the WAL must list exactly the groups that persisted something (wal_groups).
 *
 * Snapshots: the state machine's snapshot bytes live in the sim disk (written durably when
 * taken or installed); the WAL gets a snapshot marker in the next batch and is compacted once
 * that batch is durable. A restart uses the sim disk's snapshot when it is newer than the
 * WAL's marker (the marker was not durable yet) and appends the marker again. An update that
 * installs a received snapshot is written to the WAL when its disk latency has passed, in one
 * step (no crash window: a simplification). Received snapshots keep the log after them when it
 * holds their last entry (the WAL's marker rule, Raft §7), so the sim disk follows that rule.
 *
 * Every batch also carries one entry of one more group (filler, 0-1 KiB by seed; its id is the
 * group count) so that the 64 KiB segments fill up: segment creation (temporary file, rename, directory sync) and
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
    SIM_WAL_CACHE_BYTES = 1u << 20,
    SIM_WAL_LISTED_MAX = SIM_GROUPS_MAX + 2, /* wal_groups ids looked at after a crash */
};

/* The filler group's id: the first one no replica uses. */
static cn_group_id sim_wal_filler_group(const struct sim *sim) { return sim->group_count; }

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
        sim_verdict_fail(&sim->verdict, "wal recovery", "node %u: wal_open: %s", node + 1,
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
    memset(w->groups, 0, sizeof(w->groups));
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
static int sim_wal_filler(struct sim_wal *w, cn_group_id filler_group, struct wal_error *err)
{
    if (w->filler_bytes == 0) return WAL_OK;
    struct cn_snapshot_meta snap = {.index = w->filler_last, .term = 1};
    struct cn_entry entry = {.index = w->filler_last + 1, .term = 1, .type = CN_ENTRY_NORMAL,
                             .data_len = w->filler_bytes, .data = w->filler};
    int rv = wal_append(w->wal, filler_group, NULL, w->filler_last > 0 ? &snap : NULL, &entry,
                        1, err);
    if (rv == WAL_OK) w->filler_last++;
    return rv;
}

/* Whether the update is written to the WAL when taken (else when its latency has passed). */
static bool sim_wal_deferred(const struct cn_update *u) { return !u->snapshot_present; }

/* Appends one group's update: hard state, snapshot marker (a received snapshot's, or a local
 * snapshot's not yet in the WAL), entries. Returns WAL_OK with *appended set when it wrote
 * anything (and *marker to the marker written, 0 for none). */
static int sim_wal_append_update(struct sim_wal *w, uint32_t group, const struct cn_update *u,
                                 bool per_slot, bool *appended, uint64_t *marker,
                                 struct wal_error *err)
{
    struct sim_wal_group *wg = &w->groups[group];
    const struct cn_snapshot_meta *snap = NULL;
    if (u->snapshot_present) {
        snap = &u->snapshot;
        wg->marker_pending = false;
    } else if (wg->marker_pending) {
        snap = &wg->marker;
        wg->marker_pending = false;
    }
    if (snap != NULL && snap->index <= wg->marker_index) snap = NULL;
    *appended = u->hard_state_changed || snap != NULL || u->entry_count > 0;
    *marker = snap != NULL ? snap->index : 0;
    if (!*appended) return WAL_OK;
    /* Multi-Paxos: each entry replaces its own slot; an installed snapshot drops every slot,
     * one the node took itself only those up to its index (as the node's drive.c appends). */
    uint32_t flags = 0;
    if (per_slot) flags = WAL_APPEND_PER_SLOT | (u->snapshot_present ? WAL_APPEND_INSTALL : 0);
    return wal_append_mode(w->wal, group, flags, u->hard_state_changed ? &u->hard_state : NULL,
                           snap, u->entries, u->entry_count, err);
}

/* Appends the updates of the batch's groups written now (deferred: when the batch is issued;
 * else: the snapshot installs, when it completes), the filler, and syncs once for all. */
static int sim_wal_write(struct sim *sim, uint32_t node, bool deferred)
{
    struct sim_wal *w = sim->nodes[node].wal;
    uint64_t markers[SIM_GROUPS_MAX] = {0};
    bool any = false;
    struct wal_error err;
    int rv = WAL_OK;
    for (uint32_t g = 0; g < sim->group_count && rv == WAL_OK; g++) {
        const struct sim_replica *r = sim_replica(sim, node, g);
        if (!r->in_batch || sim_wal_deferred(&r->update) != deferred) continue;
        bool appended = false;
        rv = sim_wal_append_update(w, g, &r->update, sim->log_per_slot, &appended, &markers[g],
                                   &err);
        any |= appended;
    }
    if (rv == WAL_OK && !any) return 0;
    if (rv == WAL_OK) rv = sim_wal_filler(w, sim_wal_filler_group(sim), &err);
    if (rv == WAL_OK) rv = wal_sync(w->wal, &err);
    if (rv != WAL_OK) {
        sim_verdict_fail(&sim->verdict, "wal", "node %u: %s", node + 1, err.message);
        return -1;
    }
    for (uint32_t g = 0; g < sim->group_count; g++) {
        if (markers[g] == 0) continue;
        w->groups[g].marker_index = markers[g];
        w->groups[g].compact_index = markers[g];
    }
    return 0;
}

void sim_wal_issue(struct sim *sim, uint32_t node)
{
    struct sim_wal *w = sim->nodes[node].wal;
    w->issued = false;
    bool deferred_any = false;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        const struct sim_replica *r = sim_replica(sim, node, g);
        assert(!r->in_batch || r->update.entry_count == 0 ||
               r->update.entries_per_slot == sim->log_per_slot);
        deferred_any |= r->in_batch && sim_wal_deferred(&r->update);
    }
    if (!deferred_any) return;
    simfs_set_deferred(&w->fs, true);
    int rv = sim_wal_write(sim, node, true);
    simfs_set_deferred(&w->fs, false);
    w->issued = rv == 0;
}

void sim_wal_complete(struct sim *sim, uint32_t node)
{
    struct sim_wal *w = sim->nodes[node].wal;
    simfs_settle(&w->fs);
    w->issued = false;
    if (sim_wal_write(sim, node, false) != 0) return;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        struct sim_wal_group *wg = &w->groups[g];
        if (wg->compact_index == 0) continue;
        struct wal_error err;
        int rv = wal_compact(w->wal, g, wg->compact_index, &err);
        if (rv != WAL_OK) {
            sim_verdict_fail(&sim->verdict, "wal", "node %u: wal_compact of group %u: %s",
                             node + 1, g, err.message);
            return;
        }
        wg->compact_index = 0;
    }
}

void sim_wal_snapshot_taken(struct sim *sim, uint32_t node, uint32_t group,
                            const struct cn_snapshot_meta *meta)
{
    struct sim_wal_group *wg = &sim->nodes[node].wal->groups[group];
    wg->marker = *meta;
    wg->marker_pending = true;
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

/* After a crash: every group the WAL lists is one of the node's (or the filler), and every
 * group whose disk holds acknowledged state is listed. Returns 0, or -1 (violation). */
static int sim_wal_check_groups(struct sim *sim, uint32_t node)
{
    cn_group_id ids[SIM_WAL_LISTED_MAX];
    uint32_t count = wal_groups(sim->nodes[node].wal->wal, ids, SIM_WAL_LISTED_MAX);
    bool listed[SIM_GROUPS_MAX] = {false};
    for (uint32_t i = 0; i < count; i++) {
        if (i >= SIM_WAL_LISTED_MAX || ids[i] > sim_wal_filler_group(sim)) {
            sim_verdict_fail(&sim->verdict, "wal recovery", "node %u: the WAL lists %u groups,"
                             " group %u among them, but the node has %u", node + 1, count,
                             i < SIM_WAL_LISTED_MAX ? ids[i] : 0, sim->group_count);
            return -1;
        }
        if (ids[i] < sim->group_count) listed[ids[i]] = true;
    }
    for (uint32_t g = 0; g < sim->group_count; g++) {
        const struct sim_disk *disk = &sim_replica(sim, node, g)->disk;
        bool holds = disk->hard_state.term > 0 || sim_disk_last_index(disk) > 0;
        if (holds && !listed[g]) {
            sim_check_fail(&sim->checks[g], "wal recovery", "node %u: the WAL lost the group "
                           "(term %" PRIu64 ", entries to %" PRIu64 " acknowledged)", node + 1,
                           disk->hard_state.term, sim_disk_last_index(disk));
            return -1;
        }
    }
    return 0;
}

/* One group after a crash: what the WAL recovers must be the acknowledged disk plus a prefix
 * of the group's update in the batch in flight (u, or NULL); the disk takes over that prefix. */
static void sim_wal_crash_group(struct sim *sim, uint32_t node, uint32_t group,
                                const struct cn_update *u)
{
    struct sim_wal *w = sim->nodes[node].wal;
    struct sim_replica *r = sim_replica(sim, node, group);
    struct sim_check *check = &sim->checks[group];
    struct wal_restore restore;
    struct wal_error err;
    if (wal_restore_load(w->wal, group, &restore, &err) != WAL_OK) {
        sim_check_fail(check, "wal recovery", "node %u: %s", node + 1, err.message);
        return;
    }
    w->groups[group].marker_index = restore.restore.snapshot.index;
    struct cn_restore view;
    sim_wal_view(&r->disk, &restore, &view);
    char why[256];
    int64_t survived = sim_wal_compare(&r->disk, &view, u, sim->log_per_slot, why, sizeof(why));
    if (survived < 0) {
        sim_check_fail(check, "wal recovery", "node %u after a crash: %s", node + 1, why);
    } else {
        /* The disk takes over what survived of the batch in flight. */
        r->disk.hard_state = view.hard_state;
        char error[SIM_DISK_ERROR_BYTES_MAX];
        if (survived > 0) {
            if (sim_disk_write_entries(&r->disk, u->entries, (uint32_t)survived,
                                       sim->log_per_slot, error) != 0)
                sim_check_fail(check, "disk write", "node %u: %s", node + 1, error);
            else
                sim_check_persisted(check, node, &r->disk, u->entries[0].index);
        }
        if (u != NULL && (survived > 0 || u->hard_state_changed))
            SIM_TRACE_GROUP(sim, (int)node, group, "wal: %" PRId64 " of %u entries of the "
                            "batch in flight survived", survived, u->entry_count);
    }
    wal_restore_free(&restore);
    if (r->disk.snapshot.index > w->groups[group].marker_index) {
        w->groups[group].marker = r->disk.snapshot;
        w->groups[group].marker_pending = true;
    }
}

void sim_wal_crash(struct sim *sim, uint32_t node)
{
    struct sim_wal *w = sim->nodes[node].wal;
    bool issued = w->issued;
    wal_close(w->wal);
    w->wal = NULL;
    uint64_t torn_before = w->fs.stats.writes_torn;
    simfs_crash(&w->fs, &sim->rng_disk);
    sim->result->torn_writes += w->fs.stats.writes_torn - torn_before;
    w->issued = false;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        w->groups[g].compact_index = 0;
        w->groups[g].marker_pending = false;
    }
    if (sim_wal_open(sim, node) != 0 || sim_wal_check_groups(sim, node) != 0) return;
    for (uint32_t g = 0; g < sim->group_count && !sim_failed(sim); g++) {
        /* Only an update written when the batch was issued can be (partly) in the WAL: a
         * snapshot install is written when the batch completes. */
        const struct sim_replica *r = sim_replica(sim, node, g);
        bool written = r->in_batch && issued && sim_wal_deferred(&r->update);
        sim_wal_crash_group(sim, node, g, written ? &r->update : NULL);
    }
    uint64_t filler_first = 0;
    if (wal_group_bounds(w->wal, sim_wal_filler_group(sim), &filler_first, &w->filler_last) !=
        WAL_OK)
        w->filler_last = 0;
}

int sim_wal_restore(struct sim *sim, uint32_t node, uint32_t group, struct wal_restore *restore,
                    struct cn_restore *out)
{
    struct sim_wal *w = sim->nodes[node].wal;
    struct sim_replica *r = sim_replica(sim, node, group);
    struct wal_error err;
    if (w->wal == NULL || wal_restore_load(w->wal, group, restore, &err) != WAL_OK) {
        sim_check_fail(&sim->checks[group], "wal recovery", "node %u: restore: %s", node + 1,
                       w->wal == NULL ? "no WAL" : err.message);
        return -1;
    }
    sim_wal_view(&r->disk, restore, out);
    char why[256];
    if (sim_wal_compare(&r->disk, out, NULL, sim->log_per_slot, why, sizeof(why)) != 0) {
        sim_check_fail(&sim->checks[group], "wal recovery", "node %u at restart: %s", node + 1,
                       why);
        wal_restore_free(restore);
        return -1;
    }
    return 0;
}
