/*
 * test_wal_crash.c — the WAL on a simulated disk that crashes (SQLite's crash-test idea).
 *
 * The simulated file operations keep, per file, what reads see and what is durable. A sync
 * makes a file's writes durable; at a crash every write since its last sync is independently
 * lost, kept, or torn (each 512-byte sector old or new, sometimes one sector cut mid-way).
 * Directory operations (create, rename, remove, truncate, allocate) are durable at once: a
 * simplification that is stricter about data than about names.
 *
 * A seeded workload over three groups (entries, truncations, hard states, snapshot markers,
 * compaction) runs against the WAL and against a model of the records. A crash is injected at
 * a random fdatasync; the WAL must fail; after the crash it is reopened, and what it recovers
 * must equal the model after every acknowledged batch plus some prefix of the records of the
 * batch whose sync crashed: a prefix of what was written that includes everything synced.
 * A third of the syncs put two batches in flight (wal.h) and may write the later one first,
 * so that a crash can tear the earlier while the later is durable: recovery must still give
 * a prefix, whole batches only.
 * Several crashes per seed, many seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/wal_internal.h"

/* ---------------- simulated disk ---------------- */

enum { SIM_FILES_MAX = 64, SIM_WRITES_MAX = 64, SIM_HANDLES_MAX = 64, SIM_SECTOR_BYTES = 512 };

struct sim_write {
    uint64_t offset, len;
};

struct sim_file {
    bool exists;
    char path[256];
    uint8_t *current, *durable;
    uint64_t current_len, durable_len, cap;
    struct sim_write writes[SIM_WRITES_MAX]; /* since the last sync */
    uint32_t write_count;
};

struct sim_disk {
    struct sim_file files[SIM_FILES_MAX];
    int handles[SIM_HANDLES_MAX]; /* file index, or -1 */
    uint64_t syncs;
    uint64_t crash_at_sync; /* 0: never */
    bool crashed;
    uint64_t rng;
};

static uint64_t sim_rand(uint64_t *state)
{
    *state ^= *state << 13; /* xorshift64 */
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void sim_reserve(struct sim_file *file, uint64_t len)
{
    if (len <= file->cap) return;
    uint64_t cap = file->cap ? file->cap : 4096;
    while (cap < len) cap *= 2;
    file->current = realloc(file->current, cap);
    file->durable = realloc(file->durable, cap);
    assert_non_null(file->current);
    assert_non_null(file->durable);
    file->cap = cap;
}

/* Sets both images' length, zero-filling growth: metadata is durable at once. */
static void sim_set_len(struct sim_file *file, uint64_t len)
{
    sim_reserve(file, len);
    if (len > file->current_len)
        memset(file->current + file->current_len, 0, len - file->current_len);
    if (len > file->durable_len)
        memset(file->durable + file->durable_len, 0, len - file->durable_len);
    file->current_len = file->durable_len = len;
}

static struct sim_file *sim_find(struct sim_disk *disk, const char *path)
{
    for (int i = 0; i < SIM_FILES_MAX; i++) {
        if (disk->files[i].exists && strcmp(disk->files[i].path, path) == 0) return &disk->files[i];
    }
    return NULL;
}

static struct sim_file *sim_handle(struct sim_disk *disk, int handle)
{
    assert_true(handle >= 0 && handle < SIM_HANDLES_MAX && disk->handles[handle] >= 0);
    return &disk->files[disk->handles[handle]];
}

static int sim_open(void *impl, const char *path, unsigned flags, int *handle)
{
    struct sim_disk *disk = impl;
    struct sim_file *file = sim_find(disk, path);
    if (file != NULL && (flags & FILEOPS_EXCLUSIVE)) return -EEXIST;
    if (file == NULL) {
        if (!(flags & FILEOPS_CREATE)) return -ENOENT;
        for (int i = 0; i < SIM_FILES_MAX && file == NULL; i++) {
            if (!disk->files[i].exists) file = &disk->files[i];
        }
        assert_non_null(file);
        file->exists = true;
        snprintf(file->path, sizeof(file->path), "%s", path);
        file->current_len = file->durable_len = 0;
        file->write_count = 0;
    }
    for (int h = 0; h < SIM_HANDLES_MAX; h++) {
        if (disk->handles[h] < 0) {
            disk->handles[h] = (int)(file - disk->files);
            *handle = h;
            return 0;
        }
    }
    return -EMFILE;
}

static int sim_close(void *impl, int handle)
{
    struct sim_disk *disk = impl;
    sim_handle(disk, handle);
    disk->handles[handle] = -1;
    return 0;
}

static int sim_read(void *impl, int handle, uint64_t offset, void *buf, size_t len, size_t *got)
{
    struct sim_file *file = sim_handle(impl, handle);
    *got = 0;
    if (offset >= file->current_len) return 0;
    *got = len < file->current_len - offset ? len : file->current_len - offset;
    memcpy(buf, file->current + offset, *got);
    return 0;
}

static int sim_write(void *impl, int handle, uint64_t offset, const void *buf, size_t len)
{
    struct sim_disk *disk = impl;
    struct sim_file *file = sim_handle(disk, handle);
    if (disk->crashed) return -EIO;
    if (offset + len > file->current_len) {
        /* Growth is metadata: durable at once, zero-filled, the data not. */
        sim_set_len(file, offset + len);
    }
    memcpy(file->current + offset, buf, len);
    assert_true(file->write_count < SIM_WRITES_MAX);
    file->writes[file->write_count++] = (struct sim_write){offset, len};
    return 0;
}

static int sim_sync(void *impl, int handle)
{
    struct sim_disk *disk = impl;
    struct sim_file *file = sim_handle(disk, handle);
    if (disk->crashed) return -EIO;
    disk->syncs++;
    if (disk->crash_at_sync != 0 && disk->syncs == disk->crash_at_sync) {
        disk->crashed = true; /* the machine dies during this fdatasync */
        return -EIO;
    }
    memcpy(file->durable, file->current, file->current_len);
    file->durable_len = file->current_len;
    file->write_count = 0;
    return 0;
}

static int sim_size(void *impl, int handle, uint64_t *bytes)
{
    *bytes = sim_handle(impl, handle)->current_len;
    return 0;
}

static int sim_truncate(void *impl, int handle, uint64_t bytes)
{
    struct sim_file *file = sim_handle(impl, handle);
    sim_set_len(file, bytes < file->current_len ? file->current_len : bytes);
    file->current_len = file->durable_len = bytes;
    for (uint32_t i = 0; i < file->write_count; i++) { /* clip pending writes */
        struct sim_write *w = &file->writes[i];
        if (w->offset >= bytes)
            w->len = 0;
        else if (w->offset + w->len > bytes)
            w->len = bytes - w->offset;
    }
    return 0;
}

static int sim_allocate(void *impl, int handle, uint64_t bytes)
{
    struct sim_file *file = sim_handle(impl, handle);
    if (bytes > file->current_len) sim_set_len(file, bytes);
    return 0;
}

static int sim_rename(void *impl, const char *from, const char *to)
{
    struct sim_disk *disk = impl;
    if (disk->crashed) return -EIO;
    struct sim_file *file = sim_find(disk, from);
    if (file == NULL) return -ENOENT;
    struct sim_file *old = sim_find(disk, to);
    if (old != NULL) old->exists = false;
    snprintf(file->path, sizeof(file->path), "%s", to);
    return 0;
}

static int sim_remove(void *impl, const char *path)
{
    struct sim_file *file = sim_find(impl, path);
    if (file == NULL) return -ENOENT;
    file->exists = false;
    return 0;
}

static int sim_sync_dir(void *impl, const char *dir)
{
    struct sim_disk *disk = impl;
    (void)dir;
    return disk->crashed ? -EIO : 0;
}

static int sim_make_dir(void *impl, const char *dir)
{
    (void)impl;
    (void)dir;
    return 0;
}

static int sim_list_dir(void *impl, const char *dir, fileops_visit_fn visit, void *context)
{
    struct sim_disk *disk = impl;
    size_t dir_len = strlen(dir);
    for (int i = 0; i < SIM_FILES_MAX; i++) {
        struct sim_file *file = &disk->files[i];
        if (!file->exists || strncmp(file->path, dir, dir_len) != 0 || file->path[dir_len] != '/')
            continue;
        int rv = visit(context, file->path + dir_len + 1);
        if (rv != 0) return rv;
    }
    return 0;
}

static struct fileops sim_fileops(struct sim_disk *disk)
{
    return (struct fileops){
        .impl = disk,
        .open = sim_open,
        .close = sim_close,
        .read = sim_read,
        .write = sim_write,
        .sync = sim_sync,
        .size = sim_size,
        .truncate = sim_truncate,
        .allocate = sim_allocate,
        .rename = sim_rename,
        .remove = sim_remove,
        .sync_dir = sim_sync_dir,
        .make_dir = sim_make_dir,
        .list_dir = sim_list_dir,
    };
}

/* Applies one unsynced write to the durable image: lost, kept, or torn by sector. */
static void sim_crash_write(struct sim_disk *disk, struct sim_file *file, const struct sim_write *w)
{
    int mode = (int)(sim_rand(&disk->rng) % 3);
    if (mode == 0 || w->len == 0) return;
    if (mode == 1) {
        memcpy(file->durable + w->offset, file->current + w->offset, w->len);
        return;
    }
    uint64_t end = w->offset + w->len;
    for (uint64_t at = w->offset; at < end;) {
        uint64_t sector_end = (at / SIM_SECTOR_BYTES + 1) * SIM_SECTOR_BYTES;
        uint64_t n = (sector_end < end ? sector_end : end) - at;
        uint64_t roll = sim_rand(&disk->rng) % 8;
        if (roll < 4)
            memcpy(file->durable + at, file->current + at, n); /* new */
        else if (roll == 4)
            memcpy(file->durable + at, file->current + at, n / 2); /* cut */
        at += n;
    }
}

/* The power goes: unsynced writes are lost, kept or torn; every handle is gone. */
static void sim_crash(struct sim_disk *disk)
{
    for (int i = 0; i < SIM_FILES_MAX; i++) {
        struct sim_file *file = &disk->files[i];
        if (!file->exists) continue;
        for (uint32_t w = 0; w < file->write_count; w++)
            sim_crash_write(disk, file, &file->writes[w]);
        file->write_count = 0;
        memcpy(file->current, file->durable, file->durable_len);
        file->current_len = file->durable_len;
    }
    for (int h = 0; h < SIM_HANDLES_MAX; h++) disk->handles[h] = -1;
    disk->crashed = false;
    disk->crash_at_sync = 0;
}

static void sim_disk_init(struct sim_disk *disk, uint64_t seed)
{
    memset(disk, 0, sizeof(*disk));
    for (int h = 0; h < SIM_HANDLES_MAX; h++) disk->handles[h] = -1;
    disk->rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

static void sim_disk_free(struct sim_disk *disk)
{
    for (int i = 0; i < SIM_FILES_MAX; i++) {
        free(disk->files[i].current);
        free(disk->files[i].durable);
    }
}

/* ---------------- model of the records ---------------- */

enum { GROUPS = 3, MODEL_LOG_MAX = 1024, RECORDS_MAX = 512, DATA_MAX = 300 };

struct model_group {
    bool has_hs;
    struct cn_hard_state hs;
    struct cn_snapshot_meta snap;
    uint64_t first, count;
    uint64_t terms[MODEL_LOG_MAX];
    uint32_t lens[MODEL_LOG_MAX];
};

struct model {
    struct model_group groups[GROUPS];
};

struct model_record {
    uint8_t type;
    uint32_t group;
    struct cn_hard_state hs;
    struct cn_snapshot_meta snap;
    uint64_t index, term;
    uint32_t len;
};

static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    for (int g = 0; g < GROUPS; g++) m->groups[g].first = 1;
}

static uint64_t model_last(const struct model_group *g) { return g->first + g->count - 1; }

static void model_apply(struct model *m, const struct model_record *r)
{
    struct model_group *g = &m->groups[r->group];
    if (r->type == WAL_RECORD_HARD_STATE) {
        g->has_hs = true;
        g->hs = r->hs;
    } else if (r->type == WAL_RECORD_SNAPSHOT) {
        uint64_t i = r->snap.index;
        bool keep = i < g->first || (i <= model_last(g) && g->terms[i - g->first] == r->snap.term);
        if (!keep || i >= model_last(g)) {
            g->count = 0;
            g->first = i + 1;
        } else if (i >= g->first) {
            uint64_t drop = i + 1 - g->first;
            memmove(g->terms, g->terms + drop, (g->count - drop) * sizeof(g->terms[0]));
            memmove(g->lens, g->lens + drop, (g->count - drop) * sizeof(g->lens[0]));
            g->count -= drop;
            g->first = i + 1;
        }
        g->snap = r->snap;
    } else {
        if (g->count == 0) g->first = r->index;
        assert_true(r->index >= g->first && r->index <= model_last(g) + 1);
        g->count = r->index - g->first;
        assert_true(g->count < MODEL_LOG_MAX);
        g->terms[g->count] = r->term;
        g->lens[g->count] = r->len;
        g->count++;
    }
}

static void data_fill(uint8_t *buf, uint32_t group, uint64_t index, uint64_t term, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) buf[i] = (uint8_t)(group * 7 + index * 13 + term * 101 + i);
}

/* Whether the WAL's recovered state of every group equals the model's. */
static bool model_matches(struct wal *wal, const struct model *m)
{
    static uint8_t expect[DATA_MAX];
    bool same = true;
    for (uint32_t gid = 0; gid < GROUPS && same; gid++) {
        const struct model_group *g = &m->groups[gid];
        struct wal_restore restore;
        struct wal_error err;
        assert_int_equal(wal_restore_load(wal, gid, &restore, &err), WAL_OK);
        const struct cn_restore *r = &restore.restore;
        same = r->hard_state.term == g->hs.term && r->hard_state.vote == g->hs.vote &&
            r->hard_state.commit == g->hs.commit && r->snapshot.index == g->snap.index &&
            r->snapshot.term == g->snap.term && r->entry_count == g->count;
        for (uint64_t i = 0; same && i < g->count; i++) {
            const struct cn_entry *e = &r->entries[i];
            data_fill(expect, gid, e->index, e->term, e->data_len);
            same = e->index == g->first + i && e->term == g->terms[i] &&
                e->data_len == g->lens[i] &&
                (e->data_len == 0 || memcmp(e->data, expect, e->data_len) == 0);
        }
        wal_restore_free(&restore);
    }
    return same;
}

/* ---------------- workload ---------------- */

/* Generates one append for a random group, valid against model m, as records; applies them to
 * the model and appends them to the WAL. */
static void workload_append(struct wal *wal, struct model *m, uint64_t *rng,
                            struct model_record *records, uint32_t *record_count)
{
    static uint8_t data[16][DATA_MAX];
    uint32_t gid = (uint32_t)(sim_rand(rng) % GROUPS);
    struct model_group *g = &m->groups[gid];
    struct cn_hard_state hs_value, *hs = NULL;
    struct cn_snapshot_meta snap_value, *snap = NULL;
    uint32_t start = *record_count;
    if (sim_rand(rng) % 5 == 0) {
        hs_value = (struct cn_hard_state){.term = g->hs.term + sim_rand(rng) % 2,
                                          .vote = (cn_node_id)(sim_rand(rng) % 4),
                                          .commit = sim_rand(rng) % 100};
        hs = &hs_value;
        records[(*record_count)++] =
            (struct model_record){.type = WAL_RECORD_HARD_STATE, .group = gid, .hs = hs_value};
        model_apply(m, &records[*record_count - 1]);
    }
    uint64_t last = model_last(g);
    if (sim_rand(rng) % 10 == 0 || g->count > 400) {
        uint64_t span = last - g->snap.index + 3;
        uint64_t index = g->snap.index + sim_rand(rng) % span;
        uint64_t term = index >= g->first && index <= last && sim_rand(rng) % 4 != 0
            ? g->terms[index - g->first]
            : sim_rand(rng) % 5 + 1;
        if (index == g->snap.index) term = g->snap.term;
        snap_value =
            (struct cn_snapshot_meta){.index = index, .term = term, .members = {2, {1, 2}}};
        snap = &snap_value;
        records[(*record_count)++] =
            (struct model_record){.type = WAL_RECORD_SNAPSHOT, .group = gid, .snap = snap_value};
        model_apply(m, &records[*record_count - 1]);
    }
    last = model_last(g);
    uint32_t count = (uint32_t)(sim_rand(rng) % 9);
    struct cn_entry entries[16];
    uint64_t lo = g->first;
    uint64_t index =
        last + 1 - (count > 0 && sim_rand(rng) % 4 == 0 ? sim_rand(rng) % (last + 2 - lo) : 0);
    uint64_t term = (g->count ? g->terms[g->count - 1] : 1) + sim_rand(rng) % 2;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = (uint32_t)(sim_rand(rng) % DATA_MAX);
        data_fill(data[i], gid, index + i, term, len);
        entries[i] =
            (struct cn_entry){.index = index + i, .term = term, .data_len = len, .data = data[i]};
        records[(*record_count)++] = (struct model_record){
            .type = WAL_RECORD_ENTRY, .group = gid, .index = index + i, .term = term, .len = len};
        model_apply(m, &records[*record_count - 1]);
    }
    assert_true(*record_count <= RECORDS_MAX);
    if (*record_count == start) return;
    struct wal_error err;
    int rv = wal_append(wal, gid, hs, snap, entries, count, &err);
    if (rv != WAL_OK) fail_msg("wal_append: %s", err.message);
}

static void quiet_log(void *context, const char *message)
{
    (void)context;
    (void)message;
}

static void wal_open_sim(struct sim_disk *disk, struct fileops *fops, struct wal **wal)
{
    struct wal_options options;
    wal_options_defaults(&options);
    options.dir = "/sim";
    options.segment_bytes = WAL_SEGMENT_BYTES_MIN;
    options.cache_bytes_max = 16 << 10;
    options.log = quiet_log;
    *fops = sim_fileops(disk);
    struct wal_error err;
    int rv = wal_open(&options, fops, wal, &err);
    if (rv != WAL_OK) fail_msg("wal_open after crash: %s", err.message);
}

/* One seed: batches until a crash, check, repeat. Returns how many crashes recovered to a
 * partial batch (for the test to see that tearing happens at all). */
/* Appends a second batch while a first is sealed, when the WAL allows it (wal.h: two in
 * flight), and writes the two in a random order, as two sync threads may finish them: the
 * later one may be durable while the crash tears the earlier. Both complete in seal order.
 * *boundaries gets the record counts at which a batch ends. Returns the first failure. */
static int sync_two(struct wal *wal, struct model *pending, uint64_t *rng,
                    struct model_record *records, uint32_t *record_count, uint32_t *boundaries,
                    uint32_t *boundary_count, bool *later_first)
{
    struct wal_error err;
    struct wal_batch *first = wal_batch_seal(wal);
    assert_non_null(first);
    boundaries[(*boundary_count)++] = *record_count;
    uint32_t appends = 1 + (uint32_t)(sim_rand(rng) % 4);
    for (uint32_t a = 0; a < appends; a++) workload_append(wal, pending, rng, records, record_count);
    struct wal_batch *second = wal_batch_sealable(wal) ? wal_batch_seal(wal) : NULL;
    *later_first = second != NULL && sim_rand(rng) % 2 == 0;
    if (*later_first) wal_batch_write(wal, second, &err);
    wal_batch_write(wal, first, &err);
    if (second != NULL && !*later_first) wal_batch_write(wal, second, &err);
    int rv = wal_batch_complete(wal, first);
    if (second != NULL) {
        int rv2 = wal_batch_complete(wal, second);
        return rv != WAL_OK ? rv : rv2;
    }
    return rv != WAL_OK ? rv : wal_sync(wal, &err);
}

static uint32_t run_seed(uint64_t seed, uint32_t crashes, uint32_t *torn_recoveries,
                         uint32_t *compacted_runs, uint32_t *overlap_crashes)
{
    struct sim_disk disk;
    sim_disk_init(&disk, seed);
    uint64_t rng = seed * 7919 + 17;
    struct model durable, pending;
    model_init(&durable);
    static struct model_record records[RECORDS_MAX];
    struct fileops fops;
    struct wal *wal = NULL;
    wal_open_sim(&disk, &fops, &wal);
    uint32_t batches = 0;
    for (uint32_t crash = 0; crash < crashes; crash++) {
        disk.crash_at_sync = disk.syncs + 1 + sim_rand(&rng) % 40;
        uint32_t record_count = 0, boundaries[3], boundary_count = 0;
        bool later_first = false;
        for (;;) {
            pending = durable;
            record_count = 0;
            boundary_count = 0;
            uint32_t appends = 1 + (uint32_t)(sim_rand(&rng) % 4);
            for (uint32_t a = 0; a < appends; a++)
                workload_append(wal, &pending, &rng, records, &record_count);
            struct wal_error err;
            int rv;
            if (sim_rand(&rng) % 3 == 0 && wal_batch_sealable(wal))
                rv = sync_two(wal, &pending, &rng, records, &record_count, boundaries,
                              &boundary_count, &later_first);
            else
                rv = wal_sync(wal, &err);
            boundaries[boundary_count++] = record_count;
            batches++;
            if (rv != WAL_OK) {
                assert_int_equal(rv, WAL_ERR_FAILED);
                assert_true(disk.crashed);
                if (later_first) (*overlap_crashes)++;
                break;
            }
            durable = pending;
            if (sim_rand(&rng) % 3 == 0) {
                uint32_t gid = (uint32_t)(sim_rand(&rng) % GROUPS);
                if (durable.groups[gid].snap.index > 0) {
                    assert_int_equal(wal_compact(wal, gid, durable.groups[gid].snap.index, &err),
                                     WAL_OK);
                }
            }
        }
        wal_close(wal);
        sim_crash(&disk);
        wal_open_sim(&disk, &fops, &wal);
        /* Recovered = durable + a prefix of the crashed batch's records. */
        struct model candidate = durable;
        bool found = model_matches(wal, &candidate);
        uint32_t prefix = 0;
        while (!found && prefix < record_count) {
            model_apply(&candidate, &records[prefix++]);
            found = model_matches(wal, &candidate);
        }
        if (!found)
            fail_msg("seed %llu crash %u: recovered state is no prefix", (unsigned long long)seed,
                     crash);
        /* A record that changes nothing (a marker equal to the one held) matches at two
         * prefixes: recovery kept whole batches if any matching prefix ends one. */
        bool at_boundary = prefix == 0;
        struct model probe = candidate;
        for (uint32_t p = prefix; !at_boundary && p < record_count; p++) {
            model_apply(&probe, &records[p]);
            if (!model_matches(wal, &probe)) break;
            for (uint32_t b = 0; b < boundary_count && !at_boundary; b++)
                at_boundary = p + 1 == boundaries[b];
            if (at_boundary) {
                candidate = probe;
                prefix = p + 1;
            }
        }
        for (uint32_t b = 0; b < boundary_count; b++) at_boundary |= prefix == boundaries[b];
        if (!at_boundary) {
            (*torn_recoveries)++;
            printf("seed %llu crash %u: recovered to %u records of %u (batch ends:",
                   (unsigned long long)seed, crash, prefix, record_count);
            for (uint32_t b = 0; b < boundary_count; b++) printf(" %u", boundaries[b]);
            printf("; later written first: %d)\n", later_first);
        }
        durable = candidate;
    }
    struct wal_stats stats;
    wal_stats_get(wal, &stats);
    if (stats.first_segment_seq > 1) (*compacted_runs)++;
    wal_close(wal);
    sim_disk_free(&disk);
    return batches;
}

static void test_crash_recovery_yields_a_synced_prefix(void **state)
{
    (void)state;
    uint32_t torn = 0, batches = 0, compacted = 0, overlap = 0;
    for (uint64_t seed = 1; seed <= 300; seed++)
        batches += run_seed(seed, 4, &torn, &compacted, &overlap);
    printf("crash test: 300 seeds, 1200 crashes, %u batches, %u recoveries to a partial batch, "
           "%u runs with deleted segments, %u crashes with a later batch written first\n",
           batches, torn, compacted, overlap);
    /* A write is all or nothing (wal_format.c): a crash never leaves part of a batch. */
    assert_int_equal(torn, 0);
    /* The workload must reach the cases it is meant to cover: with two batches in flight, a
     * crash while the earlier is written and the later is already durable. */
    assert_true(compacted > 0);
    assert_true(overlap > 0);
}

/* Random damage to a closed WAL — a flipped byte anywhere, a file cut short — never crashes
 * or hangs the open: it succeeds (damage in unused space, or what looks like a torn final
 * write) or refuses with WAL_ERR_CORRUPT; when it succeeds every group restores. A flip in a
 * segment header is always refused. */
static void test_random_damage_never_crashes(void **state)
{
    (void)state;
    uint32_t refused = 0, opened = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct sim_disk disk;
        sim_disk_init(&disk, seed);
        uint64_t rng = seed * 104729 + 3;
        struct model m;
        model_init(&m);
        static struct model_record records[RECORDS_MAX];
        struct fileops fops;
        struct wal *wal = NULL;
        wal_open_sim(&disk, &fops, &wal);
        for (int batch = 0; batch < 40; batch++) {
            uint32_t record_count = 0;
            workload_append(wal, &m, &rng, records, &record_count);
            struct wal_error err;
            assert_int_equal(wal_sync(wal, &err), WAL_OK);
        }
        wal_close(wal);
        struct sim_file *victims[SIM_FILES_MAX];
        uint32_t victim_count = 0;
        for (int i = 0; i < SIM_FILES_MAX; i++) {
            if (disk.files[i].exists) victims[victim_count++] = &disk.files[i];
        }
        assert_true(victim_count > 0);
        struct sim_file *file = victims[sim_rand(&rng) % victim_count];
        bool header_flip = false;
        uint64_t kind = sim_rand(&rng) % 4;
        if (kind == 0) {
            uint64_t len = sim_rand(&rng) % (file->durable_len + 1);
            file->current_len = file->durable_len = len;
        } else {
            /* Mostly in the used part of the file, where it matters. */
            uint64_t span = kind == 1 ? file->durable_len : file->durable_len / 4 + 1;
            uint64_t at = sim_rand(&rng) % (span < file->durable_len ? span : file->durable_len);
            file->durable[at] ^= (uint8_t)(1 + sim_rand(&rng) % 255);
            memcpy(file->current, file->durable, file->durable_len);
            header_flip = at < WAL_SEGMENT_HEADER_BYTES;
        }
        struct wal_options options;
        wal_options_defaults(&options);
        options.dir = "/sim";
        options.segment_bytes = WAL_SEGMENT_BYTES_MIN;
        options.cache_bytes_max = 16 << 10;
        options.log = quiet_log;
        fops = sim_fileops(&disk);
        struct wal_error err;
        int rv = wal_open(&options, &fops, &wal, &err);
        if (rv == WAL_OK) {
            assert_false(header_flip);
            opened++;
            for (cn_group_id g = 0; g < GROUPS; g++) {
                struct wal_restore restore;
                assert_int_equal(wal_restore_load(wal, g, &restore, &err), WAL_OK);
                wal_restore_free(&restore);
            }
            wal_close(wal);
        } else {
            if (rv != WAL_ERR_CORRUPT)
                fail_msg("seed %llu: %s", (unsigned long long)seed, err.message);
            assert_non_null(strstr(err.message, "/sim/"));
            assert_true(strstr(err.message, "offset") != NULL ||
                        strstr(err.message, "missing") != NULL);
            refused++;
        }
        sim_disk_free(&disk);
    }
    printf("damage test: 300 seeds, %u opened, %u refused\n", opened, refused);
    assert_true(refused > 0 && opened > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_recovery_yields_a_synced_prefix),
        cmocka_unit_test(test_random_damage_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
