/* test_wal_slot.c — the WAL's per-slot mode (wal_append_mode, WAL_APPEND_PER_SLOT), the
 * persistence of a Multi-Paxos acceptor: each entry replaces only its own slot, gaps survive
 * restarts, a local snapshot marker keeps the slots above it, an installed one drops them all
 * (the core rewrites what it keeps after it), torn tails, eviction and compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/wal_internal.h"
#include "../support/wal_fixture.h"

enum { DATA_BYTES_MAX = 4096, SLOTS_MAX = 64 };


/* One slot as a test states it: (index, ballot); the data follows from them. */
struct slot_value {
    uint64_t index;
    uint64_t ballot;
};

/* Appends the given slots (ascending) with flags, an optional marker, data_len bytes each. */
static int append_slots(struct wal *wal, cn_group_id group, uint32_t flags,
                        const struct cn_snapshot_meta *snap, const struct slot_value *slots,
                        uint32_t count, uint32_t data_len, struct wal_error *err)
{
    static uint8_t data[SLOTS_MAX][DATA_BYTES_MAX];
    struct cn_entry entries[SLOTS_MAX];
    assert_true(count <= SLOTS_MAX && data_len <= DATA_BYTES_MAX);
    for (uint32_t i = 0; i < count; i++) {
        entries[i] = (struct cn_entry){
            .index = slots[i].index,
            .term = slots[i].ballot,
            .type = CN_ENTRY_NORMAL,
            .data_len = wal_fixture_entry_fill(data[i], group, slots[i].index, slots[i].ballot, data_len),
            .data = data[i]};
    }
    return wal_append_mode(wal, group, flags, NULL, snap, entries, count, err);
}

static void append_slots_ok(struct wal *wal, cn_group_id group, uint32_t flags,
                            const struct cn_snapshot_meta *snap, const struct slot_value *slots,
                            uint32_t count, uint32_t data_len)
{
    struct wal_error err = {0};
    int rv = append_slots(wal, group, flags, snap, slots, count, data_len, &err);
    if (rv != WAL_OK) fail_msg("wal_append_mode: %s", err.message);
}

static void sync_ok(struct wal *wal)
{
    struct wal_error err;
    int rv = wal_sync(wal, &err);
    if (rv != WAL_OK) fail_msg("wal_sync: %s", err.message);
}

/* Checks that the restore of the group is exactly the given slots, in order. */
static void expect_slots(struct wal *wal, cn_group_id group, const struct slot_value *slots,
                         uint32_t count, uint32_t data_len)
{
    struct wal_restore restore;
    struct wal_error err;
    assert_int_equal(wal_restore_load(wal, group, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.entry_count, count);
    uint8_t expect[DATA_BYTES_MAX];
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_entry *e = &restore.restore.entries[i];
        assert_int_equal(e->index, slots[i].index);
        assert_int_equal(e->term, slots[i].ballot);
        assert_int_equal(e->data_len, data_len);
        wal_fixture_entry_fill(expect, group, e->index, e->term, data_len);
        assert_memory_equal(e->data, expect, data_len);
    }
    wal_restore_free(&restore);
}

/* Rewriting a slot in the middle replaces that slot only: the later slots stay (a Raft
 * append there would have truncated them). */
static void test_overwrite_middle_keeps_later_slots(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    const struct slot_value first[] = {{1, 10}, {2, 10}, {3, 10}, {4, 10}, {5, 10}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, first, 5, 40);
    sync_ok(f->wal);
    const struct slot_value again[] = {{3, 20}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, again, 1, 40);
    const struct slot_value want[] = {{1, 10}, {2, 10}, {3, 20}, {4, 10}, {5, 10}};
    expect_slots(f->wal, 0, want, 5, 40); /* before the sync: readable from the open batch */
    sync_ok(f->wal);
    uint64_t lo, hi;
    assert_int_equal(wal_group_bounds(f->wal, 0, &lo, &hi), WAL_OK);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 5);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, want, 5, 40);
    /* Two rewrites of one slot in one batch: the later wins, also after a restart. */
    const struct slot_value twice1[] = {{2, 30}, {4, 30}};
    const struct slot_value twice2[] = {{2, 31}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, twice1, 2, 40);
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, twice2, 1, 40);
    sync_ok(f->wal);
    wal_fixture_open(f);
    const struct slot_value want2[] = {{1, 10}, {2, 31}, {3, 20}, {4, 30}, {5, 10}};
    expect_slots(f->wal, 0, want2, 5, 40);
}

/* Gaps: slots written out of contiguity stay apart across restarts; filling a gap later
 * keeps the neighbours; wal_read_entries skips the holes. */
static void test_gaps_survive_restart(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    const struct slot_value sparse[] = {{2, 5}, {5, 5}, {9, 6}};
    append_slots_ok(f->wal, 3, WAL_APPEND_PER_SLOT, NULL, sparse, 3, 16);
    sync_ok(f->wal);
    wal_fixture_open(f);
    expect_slots(f->wal, 3, sparse, 3, 16);
    uint64_t lo, hi;
    assert_int_equal(wal_group_bounds(f->wal, 3, &lo, &hi), WAL_OK);
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 9);

    const struct slot_value fill[] = {{1, 7}, {7, 7}};
    append_slots_ok(f->wal, 3, WAL_APPEND_PER_SLOT, NULL, fill, 2, 16);
    sync_ok(f->wal);
    wal_fixture_open(f);
    const struct slot_value want[] = {{1, 7}, {2, 5}, {5, 5}, {7, 7}, {9, 6}};
    expect_slots(f->wal, 3, want, 5, 16);

    struct cn_entry out[8];
    uint8_t buf[256];
    uint32_t count = 0;
    struct wal_error err;
    assert_int_equal(wal_read_entries(f->wal, 3, 3, 9, out, 8, buf, sizeof(buf), &count, &err),
                     WAL_OK);
    assert_int_equal(count, 3);
    assert_int_equal(out[0].index, 5);
    assert_int_equal(out[1].index, 7);
    assert_int_equal(out[2].index, 9);

    /* Entries must be strictly ascending and above the snapshot; the span is bounded. */
    const struct slot_value unordered[] = {{12, 8}, {11, 8}};
    assert_int_equal(append_slots(f->wal, 3, WAL_APPEND_PER_SLOT, NULL, unordered, 2, 16, &err),
                     WAL_ERR_INVALID);
    const struct slot_value far[] = {{1 + (uint64_t)WAL_SLOT_SPAN_MAX, 8}};
    assert_int_equal(append_slots(f->wal, 3, WAL_APPEND_PER_SLOT, NULL, far, 1, 16, &err),
                     WAL_ERR_INVALID);
    const struct slot_value edge[] = {{1000, 8}};
    assert_int_equal(append_slots(f->wal, 3, WAL_APPEND_PER_SLOT, NULL, edge, 1, 16, &err), WAL_OK);
    sync_ok(f->wal);
    /* A Raft append cannot follow per-slot entries in the same group. */
    const struct slot_value raft[] = {{10, 9}};
    assert_int_equal(append_slots(f->wal, 3, 0, NULL, raft, 1, 16, &err), WAL_ERR_INVALID);
    wal_fixture_open(f);
    assert_int_equal(wal_group_bounds(f->wal, 3, &lo, &hi), WAL_OK);
    assert_int_equal(hi, 1000);
}

/* An installed snapshot (INSTALL) drops every slot; the slots the core keeps are rewritten
 * after the marker in the same append. A snapshot the node took itself drops only the slots
 * up to its index. Both as appended and after restarts, and across a segment roll-over
 * (whose checkpoint restates the marker). */
static void test_markers_and_rewritten_slots(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    const struct slot_value first[] = {{1, 10}, {2, 10}, {3, 10}, {5, 10}, {8, 10}, {9, 10}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, first, 6, 64);
    sync_ok(f->wal);

    /* Local snapshot at 3: slots 5, 8, 9 stay. */
    struct cn_snapshot_meta local = {.index = 3, .term = 10, .members = {1, {1}}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, &local, NULL, 0, 64);
    sync_ok(f->wal);
    const struct slot_value after_local[] = {{5, 10}, {8, 10}, {9, 10}};
    expect_slots(f->wal, 0, after_local, 3, 64);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, after_local, 3, 64);
    struct wal_error err;
    assert_int_equal(wal_compact(f->wal, 0, 3, &err), WAL_OK);

    /* Install at 6 with slots 8 (rewritten as it was) and 10 (new) kept: 9 goes. */
    struct cn_snapshot_meta install = {.index = 6, .term = 12, .members = {1, {1}}};
    const struct slot_value kept[] = {{8, 10}, {10, 12}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT | WAL_APPEND_INSTALL, &install, kept, 2, 64);
    expect_slots(f->wal, 0, kept, 2, 64);
    sync_ok(f->wal);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, kept, 2, 64);
    struct wal_restore restore;
    assert_int_equal(wal_restore_load(f->wal, 0, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.snapshot.index, 6);
    assert_int_equal(restore.restore.snapshot.term, 12);
    wal_restore_free(&restore);

    /* An install with nothing kept leaves the group empty, starting after the snapshot. */
    struct cn_snapshot_meta bare = {.index = 20, .term = 13, .members = {1, {1}}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT | WAL_APPEND_INSTALL, &bare, NULL, 0, 64);
    sync_ok(f->wal);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, NULL, 0, 64);
    uint64_t lo, hi;
    assert_int_equal(wal_group_bounds(f->wal, 0, &lo, &hi), WAL_OK);
    assert_int_equal(lo, 21);
    assert_int_equal(hi, 20);
    /* Slots at or below the snapshot are refused. */
    const struct slot_value stale[] = {{20, 14}};
    assert_int_equal(append_slots(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, stale, 1, 64, &err),
                     WAL_ERR_INVALID);

    /* Roll over many segments rewriting slots 21..60 (the first slot included), while slot 70
     * is never rewritten: compaction must keep its old segment although the group's first
     * slot lives in the newest one; the rewritten slots' old records go with their segments. */
    const struct slot_value old[] = {{21, 14}, {70, 14}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, old, 2, 64);
    sync_ok(f->wal);
    for (uint64_t round = 0; round < 40; round++) {
        struct slot_value batch[SLOTS_MAX];
        for (uint32_t i = 0; i < 40; i++) batch[i] = (struct slot_value){21 + i, 15 + round};
        append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, batch, 40, 64);
        sync_ok(f->wal);
    }
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_true(stats.segment_count > 2);
    assert_int_equal(wal_compact(f->wal, 0, 20, &err), WAL_OK);
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.first_segment_seq, 1); /* slot 70 lives in the first segment */
    struct slot_value want[41];
    for (uint32_t i = 0; i < 40; i++) want[i] = (struct slot_value){21 + i, 15 + 39};
    want[40] = (struct slot_value){70, 14};
    wal_fixture_open(f);
    expect_slots(f->wal, 0, want, 41, 64);

    /* A rewrite of slot 70 that is not durable yet: compaction keeps the old segment, so that
     * a crash before the sync (a close without one) leaves the old value. */
    const struct slot_value pending[] = {{70, 59}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, pending, 1, 64);
    assert_int_equal(wal_compact(f->wal, 0, 20, &err), WAL_OK);
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.first_segment_seq, 1);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, want, 41, 64);

    /* Once slot 70 is rewritten, the old segments are no longer needed. */
    const struct slot_value rewrite[] = {{70, 60}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, rewrite, 1, 64);
    sync_ok(f->wal);
    assert_int_equal(wal_compact(f->wal, 0, 20, &err), WAL_OK);
    wal_stats_get(f->wal, &stats);
    assert_true(stats.first_segment_seq > 1);
    want[40] = (struct slot_value){70, 60};
    wal_fixture_open(f);
    expect_slots(f->wal, 0, want, 41, 64);
}

/* Slots written, then an install and rewrites, all in one open batch: the slots dropped by the
 * marker (some becoming holes again) must not be placed by the seal, and replay must do what
 * the appends did. */
static void test_install_in_open_batch(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    const struct slot_value first[] = {{1, 3}, {2, 3}, {4, 3}, {6, 3}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, first, 4, 32);
    struct cn_snapshot_meta install = {.index = 2, .term = 5, .members = {1, {1}}};
    const struct slot_value kept[] = {{6, 5}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT | WAL_APPEND_INSTALL, &install, kept, 1, 32);
    expect_slots(f->wal, 0, kept, 1, 32); /* 4 was dropped: a hole now */
    const struct slot_value more[] = {{3, 6}, {8, 6}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, more, 2, 32);
    sync_ok(f->wal);
    const struct slot_value want[] = {{3, 6}, {6, 5}, {8, 6}};
    expect_slots(f->wal, 0, want, 3, 32);
    wal_fixture_open(f);
    expect_slots(f->wal, 0, want, 3, 32);
}

/* A torn final write in per-slot mode: the slots of the torn write are gone, the earlier
 * values of the same slots (and everything else synced) are back. */
static void test_torn_tail_per_slot(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    const struct slot_value first[] = {{1, 10}, {3, 10}, {4, 10}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, first, 3, 100);
    sync_ok(f->wal);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    uint64_t seq = stats.last_segment_seq;
    /* The end of the synced data: where the next write begins. */
    uint64_t end = f->wal->cursor_offset;
    const struct slot_value torn[] = {{3, 20}, {6, 20}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, torn, 2, 100);
    sync_ok(f->wal);
    wal_close(f->wal);
    f->wal = NULL;

    /* Tear the last write: flip a byte in its first record (the second, intact, is of the
     * same write, so recovery sees a torn tail, not corruption). */
    char path[128];
    snprintf(path, sizeof(path), "%s/%016llx.wal", f->dir, (unsigned long long)seq);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint64_t at = end + 40;
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, (off_t)at), 1);
    byte ^= 0x5a;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)at), 1);
    close(fd);

    int logs = f->log_count;
    wal_fixture_open(f);
    assert_true(f->log_count > logs); /* the truncation is logged */
    wal_stats_get(f->wal, &stats);
    assert_true(stats.torn_bytes_truncated > 0);
    expect_slots(f->wal, 0, first, 3, 100);
    /* The log goes on from there, and a restart sees the new writes. */
    const struct slot_value next[] = {{3, 30}, {7, 30}};
    append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, next, 2, 100);
    sync_ok(f->wal);
    wal_fixture_open(f);
    const struct slot_value want[] = {{1, 10}, {3, 30}, {4, 10}, {7, 30}};
    expect_slots(f->wal, 0, want, 4, 100);
}

/* With a tiny cache, evicted slots are read back from disk, holes included in the walk, and
 * rewrites of evicted slots are cached again and read correctly. Raft and per-slot groups
 * share the WAL. */
static void test_eviction_and_mixed_groups(void **state)
{
    struct wal_fixture *f = *state;
    f->options.cache_bytes_max = 1024;
    wal_fixture_open(f);
    struct slot_value slots[SLOTS_MAX];
    for (uint32_t i = 0; i < 30; i++) slots[i] = (struct slot_value){1 + 2 * i, 4};
    append_slots_ok(f->wal, 1, WAL_APPEND_PER_SLOT, NULL, slots, 30, 200);
    const struct slot_value run[] = {{1, 2}, {2, 2}, {3, 2}};
    append_slots_ok(f->wal, 2, 0, NULL, run, 3, 200); /* a Raft group beside it */
    sync_ok(f->wal);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_true(stats.cache_bytes <= 1024);
    const struct slot_value rewrite[] = {{3, 9}};
    append_slots_ok(f->wal, 1, WAL_APPEND_PER_SLOT, NULL, rewrite, 1, 200);
    sync_ok(f->wal);
    slots[1] = (struct slot_value){3, 9};
    expect_slots(f->wal, 1, slots, 30, 200);
    expect_slots(f->wal, 2, run, 3, 200);
    wal_stats_get(f->wal, &stats);
    assert_true(stats.cache_bytes <= 1024);
    wal_fixture_open(f);
    expect_slots(f->wal, 1, slots, 30, 200);
    expect_slots(f->wal, 2, run, 3, 200);
    /* A Raft truncation still truncates in the Raft group. */
    const struct slot_value trunc[] = {{2, 5}};
    append_slots_ok(f->wal, 2, 0, NULL, trunc, 1, 200);
    sync_ok(f->wal);
    wal_fixture_open(f);
    const struct slot_value want[] = {{1, 2}, {2, 5}};
    expect_slots(f->wal, 2, want, 2, 200);
}

/* A random walk against a model: per-slot appends (rewrites, gaps, fills), local and
 * installed markers, syncs, compactions and reopens, with small segments and a small cache so
 * that roll-over, eviction, reads from disk and compaction all happen. After every reopen the
 * restore must equal the model exactly. Deterministic (fixed seed). */
enum { MODEL_SLOTS = 1000 };

struct model {
    uint64_t snapshot;
    uint64_t ballot[MODEL_SLOTS + 1]; /* 0: no value */
};

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void expect_model(struct wal *wal, const struct model *m)
{
    struct slot_value want[MODEL_SLOTS];
    uint32_t n = 0;
    for (uint64_t i = m->snapshot + 1; i <= MODEL_SLOTS; i++)
        if (m->ballot[i] != 0) want[n++] = (struct slot_value){i, m->ballot[i]};
    struct wal_restore restore;
    struct wal_error err;
    assert_int_equal(wal_restore_load(wal, 0, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.snapshot.index, m->snapshot);
    wal_restore_free(&restore);
    expect_slots(wal, 0, want, n, 24);
}

static void test_random_against_model(void **state)
{
    struct wal_fixture *f = *state;
    f->options.cache_bytes_max = 2048;
    wal_fixture_open(f);
    struct model m = {0};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint64_t ballot = 1;
    struct wal_error err;
    for (uint32_t step = 0; step < 3000; step++) {
        uint64_t roll = rng_next(&rng) % 100;
        if (roll < 70) {
            struct slot_value slots[SLOTS_MAX];
            uint32_t count = 0;
            uint64_t at = m.snapshot + 1 + rng_next(&rng) % 8;
            while (count < 1 + rng_next(&rng) % 12 && at <= MODEL_SLOTS) {
                slots[count++] = (struct slot_value){at, ballot};
                at += 1 + rng_next(&rng) % 4;
            }
            if (count == 0) continue;
            append_slots_ok(f->wal, 0, WAL_APPEND_PER_SLOT, NULL, slots, count, 24);
            for (uint32_t i = 0; i < count; i++) m.ballot[slots[i].index] = ballot;
            ballot++;
        } else if (roll < 73 && m.snapshot + 10 < MODEL_SLOTS) {
            bool install = rng_next(&rng) % 2 == 0;
            struct cn_snapshot_meta snap = {.index = m.snapshot + 1 + rng_next(&rng) % 6,
                                            .term = ballot,
                                            .members = {1, {1}}};
            struct slot_value kept[SLOTS_MAX];
            uint32_t count = 0;
            for (uint64_t i = 0; i <= MODEL_SLOTS; i++) {
                if (i <= snap.index) m.ballot[i] = 0;
                else if (install && m.ballot[i] != 0 && count < SLOTS_MAX &&
                         rng_next(&rng) % 3 != 0)
                    kept[count++] = (struct slot_value){i, m.ballot[i]};
                else if (install)
                    m.ballot[i] = 0;
            }
            append_slots_ok(f->wal, 0,
                            WAL_APPEND_PER_SLOT | (install ? WAL_APPEND_INSTALL : 0), &snap,
                            kept, count, 24);
            m.snapshot = snap.index;
        } else if (roll < 90) {
            sync_ok(f->wal);
        } else if (roll < 95) {
            sync_ok(f->wal);
            if (m.snapshot > 0) assert_int_equal(wal_compact(f->wal, 0, m.snapshot, &err), WAL_OK);
        } else {
            sync_ok(f->wal);
            wal_fixture_open(f);
            expect_model(f->wal, &m);
        }
        if (m.snapshot + 10 >= MODEL_SLOTS) break;
    }
    sync_ok(f->wal);
    expect_model(f->wal, &m);
    wal_fixture_open(f);
    expect_model(f->wal, &m);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_true(stats.last_segment_seq >= 4);   /* rolled over ... */
    assert_true(stats.first_segment_seq >= 2);  /* ... and compacted */
    assert_true(m.snapshot >= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overwrite_middle_keeps_later_slots, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_gaps_survive_restart, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_markers_and_rewritten_slots, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_install_in_open_batch, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_per_slot, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_and_mixed_groups, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, wal_fixture_setup, wal_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
