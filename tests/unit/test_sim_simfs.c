/*
 * test_sim_simfs.c — the simulator's file system (src/sim/simfs.h): synced data survives a
 * crash, unsynced writes are dropped, kept or torn to a prefix, names are durable only after
 * sync_dir, and in deferred mode nothing issued after the barrier the program was blocked in
 * survives. Plus: the WAL over it, and whole simulated runs in storage mode "wal".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"
#include "sim/simfs.h"

static struct simfs fs_storage;

static int open_file(const struct fileops *f, const char *path, unsigned flags)
{
    int h = -1;
    assert_int_equal(f->open(f->impl, path, flags, &h), 0);
    return h;
}

static size_t read_all(const struct fileops *f, const char *path, uint8_t *buf, size_t len)
{
    int h = open_file(f, path, 0);
    size_t got = 0;
    assert_int_equal(f->read(f->impl, h, 0, buf, len, &got), 0);
    f->close(f->impl, h);
    return got;
}

static bool exists(const struct fileops *f, const char *path)
{
    int h = -1;
    if (f->open(f->impl, path, 0, &h) != 0) return false;
    f->close(f->impl, h);
    return true;
}

/* Synced bytes survive every crash; a synced name too. */
static void test_synced_survives(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct simfs *fs = &fs_storage;
        simfs_init(fs);
        struct fileops f = simfs_fileops(fs);
        struct sim_rng rng;
        sim_rng_init(&rng, seed, SIM_RNG_DISK);
        int h = open_file(&f, "/d/a", FILEOPS_READ_WRITE | FILEOPS_CREATE);
        assert_int_equal(f.write(f.impl, h, 0, "hello", 5), 0);
        assert_int_equal(f.sync(f.impl, h), 0);
        assert_int_equal(f.sync_dir(f.impl, "/d"), 0);
        assert_int_equal(f.write(f.impl, h, 5, " world", 6), 0); /* unsynced */
        assert_true(simfs_dirty(fs));
        simfs_crash(fs, &rng);
        uint8_t buf[32] = {0};
        size_t got = read_all(&f, "/d/a", buf, sizeof(buf));
        assert_int_equal(got, 11); /* lengths are durable at once, zero-filled */
        assert_memory_equal(buf, "hello", 5);
        /* The unsynced tail is all new, all zero, or a new prefix then zeros. */
        size_t k = 5;
        while (k < 11 && buf[k] == (uint8_t)" world"[k - 5]) k++;
        while (k < 11 && buf[k] == 0) k++;
        assert_int_equal(k, 11);
        simfs_free(fs);
    }
}

/* Over many seeds each fate of an unsynced write happens: dropped, kept, torn. */
static void test_unsynced_fates(void **state)
{
    (void)state;
    uint32_t dropped = 0, kept = 0, torn = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct simfs *fs = &fs_storage;
        simfs_init(fs);
        struct fileops f = simfs_fileops(fs);
        struct sim_rng rng;
        sim_rng_init(&rng, seed, SIM_RNG_DISK);
        int h = open_file(&f, "/d/a", FILEOPS_READ_WRITE | FILEOPS_CREATE);
        assert_int_equal(f.allocate(f.impl, h, 64), 0);
        assert_int_equal(f.sync(f.impl, h), 0);
        assert_int_equal(f.sync_dir(f.impl, "/d"), 0);
        uint8_t ones[64];
        memset(ones, 1, sizeof(ones));
        assert_int_equal(f.write(f.impl, h, 0, ones, sizeof(ones)), 0);
        simfs_crash(fs, &rng);
        uint8_t buf[64];
        assert_int_equal(read_all(&f, "/d/a", buf, sizeof(buf)), 64);
        size_t n = 0;
        while (n < 64 && buf[n] == 1) n++;
        for (size_t i = n; i < 64; i++) assert_int_equal(buf[i], 0);
        if (n == 0) dropped++;
        else if (n == 64) kept++;
        else torn++;
        simfs_free(fs);
    }
    assert_true(dropped > 0 && kept > 0 && torn > 0);
}

/* A created or renamed name is durable only after sync_dir. */
static void test_names_need_sync_dir(void **state)
{
    (void)state;
    uint32_t lost = 0, survived = 0;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        struct simfs *fs = &fs_storage;
        simfs_init(fs);
        struct fileops f = simfs_fileops(fs);
        struct sim_rng rng;
        sim_rng_init(&rng, seed, SIM_RNG_DISK);
        int h = open_file(&f, "/d/tmp", FILEOPS_READ_WRITE | FILEOPS_CREATE);
        assert_int_equal(f.write(f.impl, h, 0, "x", 1), 0);
        assert_int_equal(f.sync(f.impl, h), 0);
        f.close(f.impl, h);
        assert_int_equal(f.rename(f.impl, "/d/tmp", "/d/final"), 0);
        assert_true(exists(&f, "/d/final"));
        simfs_crash(fs, &rng);
        /* Some prefix of (create tmp, rename) survived. */
        bool tmp = exists(&f, "/d/tmp"), final = exists(&f, "/d/final");
        assert_false(tmp && final);
        if (final) survived++;
        if (!tmp && !final) lost++;
        simfs_free(fs);
    }
    assert_true(lost > 0 && survived > 0);
    /* After sync_dir the name is durable. */
    simfs_init(&fs_storage);
    struct fileops f = simfs_fileops(&fs_storage);
    struct sim_rng rng;
    sim_rng_init(&rng, 7, SIM_RNG_DISK);
    int h = open_file(&f, "/d/tmp", FILEOPS_READ_WRITE | FILEOPS_CREATE);
    f.close(f.impl, h);
    assert_int_equal(f.rename(f.impl, "/d/tmp", "/d/final"), 0);
    assert_int_equal(f.sync_dir(f.impl, "/d"), 0);
    simfs_crash(&fs_storage, &rng);
    assert_true(exists(&f, "/d/final"));
    assert_false(exists(&f, "/d/tmp"));
    simfs_free(&fs_storage);
}

/* Deferred mode: write, sync, rename, sync_dir queued. A crash never leaves the renamed name
 * with data the sync had not made durable (the program issued the rename only after the sync
 * returned). */
static void test_deferred_keeps_issue_order(void **state)
{
    (void)state;
    uint32_t renamed = 0, unsettled = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct simfs *fs = &fs_storage;
        simfs_init(fs);
        struct fileops f = simfs_fileops(fs);
        struct sim_rng rng;
        sim_rng_init(&rng, seed, SIM_RNG_DISK);
        simfs_set_deferred(fs, true);
        int h = open_file(&f, "/d/tmp", FILEOPS_READ_WRITE | FILEOPS_CREATE | FILEOPS_EXCLUSIVE);
        assert_int_equal(f.write(f.impl, h, 0, "payload!", 8), 0);
        assert_int_equal(f.sync(f.impl, h), 0);
        assert_int_equal(f.rename(f.impl, "/d/tmp", "/d/seg"), 0);
        assert_int_equal(f.sync_dir(f.impl, "/d"), 0);
        simfs_set_deferred(fs, false);
        assert_true(simfs_dirty(fs));
        simfs_crash(fs, &rng);
        if (exists(&f, "/d/seg")) {
            uint8_t buf[8];
            assert_int_equal(read_all(&f, "/d/seg", buf, sizeof(buf)), 8);
            assert_memory_equal(buf, "payload!", 8);
            renamed++;
        } else {
            unsettled++;
        }
        simfs_free(fs);
    }
    assert_true(renamed > 0 && unsettled > 0);
    /* Settled, all of it is durable. */
    simfs_init(&fs_storage);
    struct fileops f = simfs_fileops(&fs_storage);
    struct sim_rng rng;
    sim_rng_init(&rng, 3, SIM_RNG_DISK);
    simfs_set_deferred(&fs_storage, true);
    int h = open_file(&f, "/d/tmp", FILEOPS_READ_WRITE | FILEOPS_CREATE);
    assert_int_equal(f.write(f.impl, h, 0, "payload!", 8), 0);
    assert_int_equal(f.sync(f.impl, h), 0);
    assert_int_equal(f.rename(f.impl, "/d/tmp", "/d/seg"), 0);
    assert_int_equal(f.sync_dir(f.impl, "/d"), 0);
    simfs_set_deferred(&fs_storage, false);
    simfs_settle(&fs_storage);
    assert_false(simfs_dirty(&fs_storage));
    simfs_crash(&fs_storage, &rng);
    uint8_t buf[8];
    assert_int_equal(read_all(&f, "/d/seg", buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "payload!", 8);
    simfs_free(&fs_storage);
}

static struct sim *make_wal_sim(const char *protocol, uint32_t nodes, char *error, int *rc)
{
    struct sim_options options;
    sim_options_defaults(&options);
    options.protocol = protocol;
    options.storage = SIM_STORAGE_WAL;
    options.node_count = nodes;
    options.duration_ms = 2000;
    options.report = NULL;
    struct sim *sim = NULL;
    *rc = sim_create(&options, &sim, error, 128);
    return sim;
}

/* Whole runs with every fault on the WAL: no violation, and crashes do tear writes. */
static void test_wal_storage_runs(void **state)
{
    (void)state;
    char error[128];
    int rc;
    struct sim *sim = make_wal_sim("raft", 3, error, &rc);
    assert_int_equal(rc, 0);
    uint64_t torn = 0, crashes = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct sim_seed_result r;
        assert_int_equal(sim_run_seed(sim, seed, &r), 0);
        if (r.violation) fail_msg("seed %llu: %s", (unsigned long long)seed, r.message);
        torn += r.torn_writes;
        crashes += r.crashes;
    }
    sim_destroy(sim);
    assert_true(crashes > 0);
    assert_true(torn > 0);
}

static void test_wal_storage_refuses_paxos(void **state)
{
    (void)state;
    char error[128];
    int rc;
    struct sim *sim = make_wal_sim("paxos", 3, error, &rc);
    if (rc != 0) {
        assert_null(sim);
        assert_non_null(strstr(error, "raft"));
    } else {
        sim_destroy(sim); /* no paxos core registered in this build */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synced_survives),
        cmocka_unit_test(test_unsynced_fates),
        cmocka_unit_test(test_names_need_sync_dir),
        cmocka_unit_test(test_deferred_keeps_issue_order),
        cmocka_unit_test(test_wal_storage_runs),
        cmocka_unit_test(test_wal_storage_refuses_paxos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
