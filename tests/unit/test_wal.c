/* test_wal.c — the WAL on the real file system: round trips, truncations, groups, roll-over,
 * cache eviction, compaction, corruption and torn tails, the failed state, threaded syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/wal_internal.h"
#include "../support/wal_fixture.h"

enum { DATA_BYTES_MAX = 4096 };


static void append_run(struct wal *wal, cn_group_id group, uint64_t lo, uint64_t hi, uint64_t term,
                       uint32_t data_len)
{
    static uint8_t data[64][DATA_BYTES_MAX];
    struct cn_entry entries[64];
    assert_true(hi - lo < 64 && data_len <= DATA_BYTES_MAX);
    for (uint64_t i = lo; i <= hi; i++) {
        struct cn_entry *e = &entries[i - lo];
        *e = (struct cn_entry){.index = i,
                               .term = term,
                               .type = CN_ENTRY_NORMAL,
                               .data_len = wal_fixture_entry_fill(data[i - lo], group, i, term, data_len),
                               .data = data[i - lo]};
    }
    struct wal_error err;
    int rv = wal_append(wal, group, NULL, NULL, entries, (uint32_t)(hi - lo + 1), &err);
    if (rv != WAL_OK) fail_msg("wal_append: %s", err.message);
}

static void sync_ok(struct wal *wal)
{
    struct wal_error err;
    int rv = wal_sync(wal, &err);
    if (rv != WAL_OK) fail_msg("wal_sync: %s", err.message);
}

/* Checks that the group's log is exactly [lo, hi] with the given term per index. */
static void expect_log(struct wal *wal, cn_group_id group, uint64_t lo, uint64_t hi,
                       const uint64_t *terms, uint32_t data_len)
{
    struct wal_restore restore;
    struct wal_error err;
    assert_int_equal(wal_restore_load(wal, group, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.entry_count, hi - lo + 1);
    uint8_t expect[DATA_BYTES_MAX];
    for (uint64_t i = 0; i < restore.restore.entry_count; i++) {
        const struct cn_entry *e = &restore.restore.entries[i];
        assert_int_equal(e->index, lo + i);
        assert_int_equal(e->term, terms[i]);
        assert_int_equal(e->data_len, data_len);
        wal_fixture_entry_fill(expect, group, e->index, e->term, data_len);
        assert_memory_equal(e->data, expect, data_len);
    }
    wal_restore_free(&restore);
}

static void test_round_trip_with_hard_state(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    assert_int_equal(wal_groups(f->wal, NULL, 0), 0);
    struct cn_hard_state hs = {.term = 3, .vote = 2, .commit = 1};
    struct wal_error err;
    assert_int_equal(wal_append(f->wal, 0, &hs, NULL, NULL, 0, &err), WAL_OK);
    append_run(f->wal, 0, 1, 10, 3, 100);
    sync_ok(f->wal);
    hs.commit = 8;
    assert_int_equal(wal_append(f->wal, 0, &hs, NULL, NULL, 0, &err), WAL_OK);
    sync_ok(f->wal);
    wal_fixture_open(f);
    cn_group_id ids[4];
    assert_int_equal(wal_groups(f->wal, ids, 4), 1);
    assert_int_equal(ids[0], 0);
    struct wal_restore restore;
    assert_int_equal(wal_restore_load(f->wal, 0, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.hard_state.term, 3);
    assert_int_equal(restore.restore.hard_state.vote, 2);
    assert_int_equal(restore.restore.hard_state.commit, 8);
    assert_int_equal(restore.restore.snapshot.index, 0);
    wal_restore_free(&restore);
    uint64_t terms[10] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    expect_log(f->wal, 0, 1, 10, terms, 100);
}

static void test_truncation_replaces_suffix(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    append_run(f->wal, 0, 1, 5, 1, 10);
    sync_ok(f->wal);
    append_run(f->wal, 0, 3, 4, 2, 10); /* truncates 3..5, writes 3', 4' */
    sync_ok(f->wal);
    append_run(f->wal, 0, 5, 8, 2, 10);
    append_run(f->wal, 0, 7, 7, 3, 10); /* truncation inside the open batch */
    sync_ok(f->wal);
    uint64_t terms[] = {1, 1, 2, 2, 2, 2, 3};
    expect_log(f->wal, 0, 1, 7, terms, 10);
    wal_fixture_open(f);
    expect_log(f->wal, 0, 1, 7, terms, 10);
    /* A gap, a bad run and a malformed snapshot are refused with nothing changed. */
    struct wal_error err;
    struct cn_entry gap = {.index = 9, .term = 3};
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, &gap, 1, &err), WAL_ERR_INVALID);
    struct cn_entry run[2] = {{.index = 8, .term = 3}, {.index = 10, .term = 3}};
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, run, 2, &err), WAL_ERR_INVALID);
    struct cn_snapshot_meta snap = {
        .index = 3, .term = 2, .members = {.count = CN_MEMBERS_MAX + 1}};
    assert_int_equal(wal_append(f->wal, 0, NULL, &snap, NULL, 0, &err), WAL_ERR_INVALID);
    expect_log(f->wal, 0, 1, 7, terms, 10);
}

static void test_many_groups_share_one_log(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    for (uint64_t round = 0; round < 20; round++) {
        for (cn_group_id g = 1; g <= 5; g++) {
            append_run(f->wal, g * 1000, round * 3 + 1, round * 3 + 3, g, 50);
        }
        sync_ok(f->wal);
    }
    wal_fixture_open(f);
    assert_int_equal(wal_groups(f->wal, NULL, 0), 5);
    uint64_t terms[60];
    for (cn_group_id g = 1; g <= 5; g++) {
        for (int i = 0; i < 60; i++) terms[i] = g;
        expect_log(f->wal, g * 1000, 1, 60, terms, 50);
    }
}

/* Small segments and a small cache: entries roll over many segments and are read back from
 * disk after eviction, both before and after a reopen. */
static void test_rollover_and_reads_from_disk(void **state)
{
    struct wal_fixture *f = *state;
    f->options.cache_bytes_max = 8 << 10;
    wal_fixture_open(f);
    for (uint64_t i = 1; i <= 800; i += 10) {
        append_run(f->wal, 0, i, i + 9, 1, 1000);
        sync_ok(f->wal);
    }
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_true(stats.segment_count > WAL_READ_HANDLES_MAX); /* reads hit the open-file bound */
    assert_true(stats.cache_bytes <= f->options.cache_bytes_max);
    uint64_t terms[800];
    for (int i = 0; i < 800; i++) terms[i] = 1;
    expect_log(f->wal, 0, 1, 800, terms, 1000);
    struct cn_entry out[8];
    uint8_t buf[8 * 1000];
    uint32_t count = 0;
    struct wal_error err;
    assert_int_equal(wal_read_entries(f->wal, 0, 5, 300, out, 8, buf, sizeof(buf), &count, &err),
                     WAL_OK);
    assert_int_equal(count, 8);
    assert_int_equal(out[7].index, 12);
    assert_int_equal(wal_read_entries(f->wal, 0, 5, 300, out, 8, buf, 2500, &count, &err), WAL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(wal_read_entries(f->wal, 0, 5, 300, out, 8, buf, 10, &count, &err),
                     WAL_ERR_FULL);
    assert_int_equal(wal_read_entries(f->wal, 0, 790, 801, out, 8, buf, sizeof(buf), &count, &err),
                     WAL_ERR_RANGE);
    wal_fixture_open(f);
    wal_stats_get(f->wal, &stats);
    assert_true(stats.cache_bytes <= f->options.cache_bytes_max);
    expect_log(f->wal, 0, 1, 800, terms, 1000);
}

static uint32_t count_segment_files(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ls %s/*.wal 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    unsigned n = 0;
    assert_int_equal(fscanf(p, "%u", &n), 1);
    pclose(p);
    return n;
}

static void test_compaction_deletes_old_segments(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    struct cn_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    struct wal_error err;
    assert_int_equal(wal_append(f->wal, 7, &hs, NULL, NULL, 0, &err), WAL_OK);
    for (uint64_t i = 1; i <= 400; i += 10) {
        append_run(f->wal, 0, i, i + 9, 1, 1000);
        append_run(f->wal, 7, i, i + 9, 1, 10);
        sync_ok(f->wal);
    }
    uint32_t before = count_segment_files(f->dir);
    assert_true(before >= 6);
    struct cn_snapshot_meta snap = {.index = 350, .term = 1, .members = {1, {1}}};
    /* Not yet durable: refused. */
    assert_int_equal(wal_append(f->wal, 0, NULL, &snap, NULL, 0, &err), WAL_OK);
    assert_int_equal(wal_compact(f->wal, 0, 350, &err), WAL_ERR_INVALID);
    sync_ok(f->wal);
    /* Group 7 still needs everything from index 1. */
    assert_int_equal(wal_compact(f->wal, 0, 350, &err), WAL_OK);
    assert_int_equal(count_segment_files(f->dir), before);
    snap.index = 390;
    assert_int_equal(wal_append(f->wal, 7, NULL, &snap, NULL, 0, &err), WAL_OK);
    sync_ok(f->wal);
    assert_int_equal(wal_compact(f->wal, 7, 390, &err), WAL_OK);
    uint32_t after = count_segment_files(f->dir);
    assert_true(after < before);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.segment_count, after);
    uint64_t terms[50];
    for (int i = 0; i < 50; i++) terms[i] = 1;
    expect_log(f->wal, 0, 351, 400, terms, 1000);
    wal_fixture_open(f);
    expect_log(f->wal, 0, 351, 400, terms, 1000);
    expect_log(f->wal, 7, 391, 400, terms, 10);
    struct wal_restore restore;
    assert_int_equal(wal_restore_load(f->wal, 7, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.hard_state.vote, 1); /* kept by the segment checkpoints */
    assert_int_equal(restore.restore.snapshot.index, 390);
    assert_int_equal(restore.restore.snapshot.members.count, 1);
    wal_restore_free(&restore);
    /* A snapshot whose term differs from the log's drops the whole diverging log. */
    snap = (struct cn_snapshot_meta){.index = 395, .term = 9};
    assert_int_equal(wal_append(f->wal, 7, NULL, &snap, NULL, 0, &err), WAL_OK);
    uint64_t first, last;
    assert_int_equal(wal_group_bounds(f->wal, 7, &first, &last), WAL_OK);
    assert_int_equal(first, 396);
    assert_int_equal(last, 395);
    sync_ok(f->wal);
    wal_fixture_open(f);
    assert_int_equal(wal_group_bounds(f->wal, 7, &first, &last), WAL_OK);
    assert_int_equal(first, 396);
    assert_int_equal(last, 395);
}

/* A group whose replica the node deleted (wal_reset_group): its entries and snapshot marker
 * are forgotten, its hard state kept; a new replica of the same group then starts from nothing,
 * also after a restart (the marker of the old one, above the new entries, must not come back),
 * and the old entries keep no segment: compaction by another group deletes them. */
static void test_reset_group_forgets_its_log(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    struct cn_hard_state hs = {.term = 4, .vote = 2, .commit = 30};
    struct wal_error err;
    assert_int_equal(wal_append(f->wal, 5, &hs, NULL, NULL, 0, &err), WAL_OK);
    for (uint64_t i = 1; i <= 400; i += 10) {
        append_run(f->wal, 5, i, i + 9, 4, 1000);
        append_run(f->wal, 0, i, i + 9, 1, 10);
        sync_ok(f->wal);
    }
    struct cn_snapshot_meta snap = {.index = 300, .term = 4, .members = {1, {1}}};
    assert_int_equal(wal_append(f->wal, 5, NULL, &snap, NULL, 0, &err), WAL_OK);
    sync_ok(f->wal);
    uint32_t before = count_segment_files(f->dir);
    assert_true(before >= 6);
    /* A group never persisted: nothing to forget. */
    assert_int_equal(wal_reset_group(f->wal, 9, &err), WAL_OK);
    assert_int_equal(wal_groups(f->wal, NULL, 0), 2);
    assert_int_equal(wal_reset_group(f->wal, 5, &err), WAL_OK);
    uint64_t first, last;
    assert_int_equal(wal_group_bounds(f->wal, 5, &first, &last), WAL_OK);
    assert_int_equal(first, 1);
    assert_int_equal(last, 0);
    /* The new replica, in the same batch: entries from 1 again, in a later term. */
    hs = (struct cn_hard_state){.term = 6, .vote = 0, .commit = 0};
    assert_int_equal(wal_append(f->wal, 5, &hs, NULL, NULL, 0, &err), WAL_OK);
    append_run(f->wal, 5, 1, 3, 6, 1000);
    sync_ok(f->wal);
    uint64_t terms[50];
    for (int i = 0; i < 50; i++) terms[i] = 6;
    expect_log(f->wal, 5, 1, 3, terms, 1000);
    wal_fixture_open(f);
    expect_log(f->wal, 5, 1, 3, terms, 1000);
    struct wal_restore restore;
    assert_int_equal(wal_restore_load(f->wal, 5, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.snapshot.index, 0);
    assert_int_equal(restore.restore.hard_state.term, 6);
    wal_restore_free(&restore);
    /* Reset again, nothing new: after a restart the group holds nothing but its hard state. */
    assert_int_equal(wal_reset_group(f->wal, 5, &err), WAL_OK);
    sync_ok(f->wal);
    wal_fixture_open(f);
    assert_int_equal(wal_restore_load(f->wal, 5, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.entry_count, 0);
    assert_int_equal(restore.restore.snapshot.index, 0);
    assert_int_equal(restore.restore.hard_state.term, 6);
    wal_restore_free(&restore);
    /* Group 5's old entries no longer hold the old segments: group 0's compaction frees them. */
    snap = (struct cn_snapshot_meta){.index = 400, .term = 1, .members = {1, {1}}};
    assert_int_equal(wal_append(f->wal, 0, NULL, &snap, NULL, 0, &err), WAL_OK);
    sync_ok(f->wal);
    assert_int_equal(wal_compact(f->wal, 0, 400, &err), WAL_OK);
    assert_int_equal(count_segment_files(f->dir), 1); /* only the last durable one */
    wal_fixture_open(f);
    assert_int_equal(wal_restore_load(f->wal, 5, &restore, &err), WAL_OK);
    assert_int_equal(restore.restore.entry_count, 0);
    assert_int_equal(restore.restore.hard_state.term, 6);
    wal_restore_free(&restore);
}

static void flip_byte(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)offset), 1);
    close(fd);
}

static void expect_open_corrupt(struct wal_fixture *f, const char *name, uint64_t offset)
{
    wal_close(f->wal);
    f->wal = NULL;
    struct wal_error err = {0};
    assert_int_equal(wal_open(&f->options, fileops_posix(), &f->wal, &err), WAL_ERR_CORRUPT);
    assert_null(f->wal);
    char expect[64];
    snprintf(expect, sizeof(expect), "offset %llu:", (unsigned long long)offset);
    if (strstr(err.message, name) == NULL || strstr(err.message, expect) == NULL) {
        fail_msg("error '%s' does not name %s at %s", err.message, name, expect);
    }
}

/* A flipped byte in the middle of the log — in an older segment, or in the last one with later
 * synced writes behind it — refuses to start, naming the file and the record's offset. */
static void test_flipped_byte_refuses_to_start(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    for (uint64_t i = 1; i <= 200; i += 10) {
        append_run(f->wal, 0, i, i + 9, 1, 1000);
        sync_ok(f->wal);
    }
    wal_close(f->wal);
    f->wal = NULL;
    char path[256];
    /* Segment 1: header, then 1032-byte entry records (24 + 24 + 1000, padded). */
    uint64_t record = WAL_SEGMENT_HEADER_BYTES + 5 * wal_record_frame_bytes(1024);
    snprintf(path, sizeof(path), "%s/0000000000000001.wal", f->dir);
    flip_byte(path, record + 100);
    expect_open_corrupt(f, "0000000000000001.wal", record);
    flip_byte(path, record + 100);
    wal_fixture_open(f);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    uint64_t last_seq = stats.last_segment_seq;
    wal_close(f->wal);
    f->wal = NULL;
    /* The last segment's first record is in its creating write; later writes follow it. */
    snprintf(path, sizeof(path), "%s/%016llx.wal", f->dir, (unsigned long long)last_seq);
    flip_byte(path, WAL_SEGMENT_HEADER_BYTES + 30);
    char name[32];
    snprintf(name, sizeof(name), "%016llx.wal", (unsigned long long)last_seq);
    expect_open_corrupt(f, name, WAL_SEGMENT_HEADER_BYTES);
    flip_byte(path, WAL_SEGMENT_HEADER_BYTES + 30);
    /* A damaged segment header is corruption too. */
    flip_byte(path, 3);
    expect_open_corrupt(f, name, 0);
    flip_byte(path, 3);
    /* And a missing segment in the middle. */
    char moved[300];
    snprintf(path, sizeof(path), "%s/0000000000000002.wal", f->dir);
    snprintf(moved, sizeof(moved), "%s.away", path);
    assert_int_equal(rename(path, moved), 0);
    wal_close(f->wal);
    f->wal = NULL;
    struct wal_error err;
    assert_int_equal(wal_open(&f->options, fileops_posix(), &f->wal, &err), WAL_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "0000000000000002 is missing"));
    assert_int_equal(rename(moved, path), 0);
    wal_fixture_open(f);
}

/* In the last segment: damage to a synced write that later writes follow is refused (a later
 * write's record lies past it); damage inside the final write cannot be told from a torn
 * write, so it is truncated like one, and what the earlier writes hold survives. */
static void test_flip_in_last_segment(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    for (uint64_t i = 1; i <= 30; i += 10) {
        append_run(f->wal, 0, i, i + 9, 1, 1000);
        sync_ok(f->wal);
    }
    wal_close(f->wal);
    f->wal = NULL;
    uint64_t frame = wal_record_frame_bytes(1024);
    uint64_t second_write = WAL_SEGMENT_HEADER_BYTES + 10 * frame;
    char path[256];
    snprintf(path, sizeof(path), "%s/0000000000000001.wal", f->dir);
    flip_byte(path, second_write + 5 * frame + 500);
    expect_open_corrupt(f, "0000000000000001.wal", second_write + 5 * frame);
    flip_byte(path, second_write + 5 * frame + 500);
    uint64_t third_write = second_write + 10 * frame;
    flip_byte(path, third_write + 2 * frame + 500);
    f->log_count = 0;
    wal_fixture_open(f);
    assert_int_equal(f->log_count, 1);
    assert_non_null(strstr(f->last_log, "torn tail"));
    /* The damaged final write (21..30) goes whole: a write is all or nothing. */
    uint64_t terms[22];
    for (int i = 0; i < 22; i++) terms[i] = 1;
    expect_log(f->wal, 0, 1, 20, terms, 1000);
}

/* The final write torn (its second half never reached the disk): recovery truncates it, logs
 * it, keeps everything before, and the log continues cleanly after. */
static void test_torn_tail_is_truncated(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    append_run(f->wal, 0, 1, 10, 1, 100);
    sync_ok(f->wal);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    uint64_t first_write_end = WAL_SEGMENT_HEADER_BYTES + 10 * wal_record_frame_bytes(124);
    append_run(f->wal, 0, 11, 20, 1, 100);
    sync_ok(f->wal);
    wal_close(f->wal);
    f->wal = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/0000000000000001.wal", f->dir);
    int fd = open(path, O_RDWR);
    /* Keep entries 11..13 whole, tear 14 in the middle, zero the rest of the write: the
     * whole write (11..20) goes, since its last record is missing. */
    uint64_t tear_at = first_write_end + 3 * wal_record_frame_bytes(124) + 60;
    uint8_t zeros[2048] = {0};
    assert_int_equal(pwrite(fd, zeros, sizeof(zeros), (off_t)tear_at), (ssize_t)sizeof(zeros));
    /* ... but a later sector of the same write did land: it must not count as corruption. */
    uint8_t frame[160];
    struct cn_entry e = {.index = 19, .term = 1, .data_len = 100, .data = zeros};
    wal_record_frame(frame, WAL_RECORD_ENTRY, 0, 124);
    wal_encode_entry_payload(frame + WAL_RECORD_HEADER_BYTES, &e);
    wal_record_seal(frame, (uint32_t)first_write_end, false);
    uint64_t late = first_write_end + 8 * wal_record_frame_bytes(124);
    assert_int_equal(pwrite(fd, frame, wal_record_frame_bytes(124), (off_t)late),
                     wal_record_frame_bytes(124));
    close(fd);
    f->log_count = 0;
    wal_fixture_open(f);
    assert_int_equal(f->log_count, 1);
    assert_non_null(strstr(f->last_log, "torn tail"));
    assert_non_null(strstr(f->last_log, "0000000000000001.wal"));
    wal_stats_get(f->wal, &stats);
    assert_true(stats.torn_bytes_truncated > 0);
    uint64_t terms[20];
    for (int i = 0; i < 20; i++) terms[i] = 1;
    /* A write is all or nothing: entries 11..13 went with the torn rest of their write. */
    expect_log(f->wal, 0, 1, 10, terms, 100);
    append_run(f->wal, 0, 11, 15, 2, 100);
    sync_ok(f->wal);
    wal_fixture_open(f);
    assert_int_equal(f->log_count, 1); /* no second truncation: the tail was cleaned */
    for (int i = 10; i < 15; i++) terms[i] = 2;
    expect_log(f->wal, 0, 1, 15, terms, 100);
}

/* A file-ops wrapper whose sync fails once armed: the WAL must fail for good. */
static int failing_sync_armed;
static int failing_sync(void *impl, int handle)
{
    if (failing_sync_armed) return -EIO;
    return fileops_posix()->sync(impl, handle);
}

static void test_failed_sync_is_fatal(void **state)
{
    struct wal_fixture *f = *state;
    /* Static: the WAL keeps the table until the fixture's teardown closes it (wal.h). */
    static struct fileops fops;
    fops = *fileops_posix();
    fops.sync = failing_sync;
    failing_sync_armed = 0;
    struct wal_error err;
    assert_int_equal(wal_open(&f->options, &fops, &f->wal, &err), WAL_OK);
    append_run(f->wal, 0, 1, 3, 1, 10);
    sync_ok(f->wal);
    failing_sync_armed = 1;
    append_run(f->wal, 0, 4, 6, 1, 10);
    assert_int_equal(wal_sync(f->wal, &err), WAL_ERR_FAILED);
    assert_non_null(strstr(err.message, "fdatasync"));
    assert_non_null(strstr(err.message, "0000000000000001.wal"));
    failing_sync_armed = 0; /* even a now-healthy disk does not revive it */
    struct cn_entry e = {.index = 7, .term = 1};
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, &e, 1, &err), WAL_ERR_FAILED);
    assert_int_equal(wal_sync(f->wal, &err), WAL_ERR_FAILED);
    assert_int_equal(wal_compact(f->wal, 0, 0, &err), WAL_ERR_FAILED);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_true(stats.failed);
    assert_int_equal(stats.batches_written, 1);
}

static void test_batch_bound(void **state)
{
    struct wal_fixture *f = *state;
    f->options.batch_bytes_max = wal_record_frame_bytes(WAL_RECORD_PAYLOAD_BYTES_MAX);
    wal_fixture_open(f);
    struct wal_error err;
    uint8_t *big = calloc(1, CN_ENTRY_DATA_BYTES_MAX);
    struct cn_entry e = {.index = 1, .term = 1, .data_len = CN_ENTRY_DATA_BYTES_MAX, .data = big};
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, &e, 1, &err), WAL_OK);
    e.index = 2;
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, &e, 1, &err), WAL_ERR_FULL);
    sync_ok(f->wal); /* a batch bigger than a segment gets a segment of its own */
    assert_int_equal(wal_append(f->wal, 0, NULL, NULL, &e, 1, &err), WAL_OK);
    sync_ok(f->wal);
    free(big);
    wal_fixture_open(f);
    uint64_t first, last;
    assert_int_equal(wal_group_bounds(f->wal, 0, &first, &last), WAL_OK);
    assert_int_equal(last, 2);
    struct wal_options bad = f->options;
    bad.segment_bytes = 1000;
    struct wal *wal = NULL;
    assert_int_equal(wal_open(&bad, fileops_posix(), &wal, &err), WAL_ERR_INVALID);
    assert_null(wal);
}

struct sync_job {
    struct wal *wal;
    struct wal_batch *batch;
    int result;
};

static void *sync_thread(void *arg)
{
    struct sync_job *job = arg;
    struct wal_error err;
    job->result = wal_batch_write(job->wal, job->batch, &err);
    return NULL;
}

/* The node's pattern: the sync thread writes batch N while the owner appends batch N + 1. */
struct batch_writer {
    struct wal *wal;
    struct wal_batch *batch;
    int rv;
    struct wal_error err;
};

static void *batch_writer_run(void *arg)
{
    struct batch_writer *w = arg;
    w->rv = wal_batch_write(w->wal, w->batch, &w->err);
    return NULL;
}

static struct wal_batch *seal_run(struct wal *wal, uint64_t lo, uint64_t hi)
{
    append_run(wal, 0, lo, hi, 1, 100);
    assert_true(wal_batch_sealable(wal));
    struct wal_batch *batch = wal_batch_seal(wal);
    assert_non_null(batch);
    return batch;
}

static void write_ok(struct wal *wal, struct wal_batch *batch)
{
    struct wal_error err;
    if (wal_batch_write(wal, batch, &err) != WAL_OK) fail_msg("write: %s", err.message);
    assert_int_equal(wal_batch_complete(wal, batch), WAL_OK);
}

/* Two batches in flight (wal.h): sealable only as the rules say (a segment's creating batch
 * alone, two at most); the two writes run at once on two threads, the later one started
 * first, and complete in seal order; everything reads back after a reopen. */
static void test_two_batches_in_flight(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    struct wal_batch *first = seal_run(f->wal, 1, 5); /* creates segment 1 */
    append_run(f->wal, 0, 6, 10, 1, 100);
    assert_false(wal_batch_sealable(f->wal));
    write_ok(f->wal, first);
    struct wal_batch *a = seal_run(f->wal, 6, 10);
    struct wal_batch *b = seal_run(f->wal, 11, 15);
    append_run(f->wal, 0, 16, 20, 1, 100);
    assert_false(wal_batch_sealable(f->wal)); /* two in flight */
    struct batch_writer wa = {.wal = f->wal, .batch = a}, wb = {.wal = f->wal, .batch = b};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&tb, NULL, batch_writer_run, &wb), 0);
    assert_int_equal(pthread_create(&ta, NULL, batch_writer_run, &wa), 0);
    pthread_join(tb, NULL);
    pthread_join(ta, NULL);
    assert_int_equal(wa.rv, WAL_OK);
    assert_int_equal(wb.rv, WAL_OK);
    assert_int_equal(wal_batch_complete(f->wal, a), WAL_OK);
    assert_true(wal_batch_sealable(f->wal)); /* one in flight again */
    assert_int_equal(wal_batch_complete(f->wal, b), WAL_OK);
    sync_ok(f->wal);
    uint64_t terms[20];
    for (int i = 0; i < 20; i++) terms[i] = 1;
    expect_log(f->wal, 0, 1, 20, terms, 100);
    wal_fixture_open(f);
    expect_log(f->wal, 0, 1, 20, terms, 100);
}

/* Writes entries 1..10 (the creating write), 11..20 and 21..30, the last two in flight at
 * once when `overlap`, one after the other otherwise; then zeroes the middle of the 11..20
 * write, as a crash can leave it. Returns the offset of that write. */
static uint64_t write_and_tear_middle(struct wal_fixture *f, bool overlap)
{
    wal_fixture_open(f);
    write_ok(f->wal, seal_run(f->wal, 1, 10));
    struct wal_batch *a = seal_run(f->wal, 11, 20);
    if (!overlap) write_ok(f->wal, a);
    struct wal_batch *b = seal_run(f->wal, 21, 30);
    if (overlap) write_ok(f->wal, a);
    write_ok(f->wal, b);
    wal_close(f->wal);
    f->wal = NULL;
    uint64_t second_write = WAL_SEGMENT_HEADER_BYTES + 10 * wal_record_frame_bytes(124);
    char path[256];
    snprintf(path, sizeof(path), "%s/0000000000000001.wal", f->dir);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t zeros[512] = {0};
    uint64_t tear_at = second_write + 4 * wal_record_frame_bytes(124) + 40;
    assert_int_equal(pwrite(fd, zeros, sizeof(zeros), (off_t)tear_at), (ssize_t)sizeof(zeros));
    close(fd);
    return second_write;
}

/* The earlier of two overlapping writes torn while the later one is whole: a torn tail (the
 * later was never acknowledged before the earlier completed), both dropped. The same damage
 * with the later write begun after the earlier completed is damage to synced data. */
static void test_torn_write_under_an_overlapping_one(void **state)
{
    struct wal_fixture *f = *state;
    write_and_tear_middle(f, true);
    f->log_count = 0;
    wal_fixture_open(f);
    assert_int_equal(f->log_count, 1);
    assert_non_null(strstr(f->last_log, "torn tail"));
    uint64_t terms[30];
    for (int i = 0; i < 30; i++) terms[i] = 1;
    expect_log(f->wal, 0, 1, 10, terms, 100);
    append_run(f->wal, 0, 11, 12, 1, 100);
    sync_ok(f->wal);
    wal_fixture_open(f);
    expect_log(f->wal, 0, 1, 12, terms, 100);
    wal_close(f->wal);
    f->wal = NULL;
    wal_fixture_teardown(state);
    assert_int_equal(wal_fixture_setup(state), 0);
    f = *state;
    uint64_t second_write = write_and_tear_middle(f, false);
    uint64_t bad = second_write + 4 * wal_record_frame_bytes(124);
    expect_open_corrupt(f, "0000000000000001.wal", bad);
}

static bool spare_file_exists(const struct wal_fixture *f, uint64_t *size, bool *zero)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/0000000000000000.wal.tmp", f->dir);
    FILE *file = fopen(path, "rb");
    if (file == NULL) return false;
    *size = 0;
    *zero = true;
    int c;
    while ((c = fgetc(file)) != EOF) {
        (*size)++;
        *zero = *zero && c == 0;
    }
    fclose(file);
    return true;
}

static void spare_make(struct wal_fixture *f)
{
    struct wal_error err;
    int rv = wal_spare_prepare(f->wal, &err);
    if (rv != WAL_OK) fail_msg("wal_spare_prepare: %s", err.message);
    wal_spare_complete(f->wal, rv);
}

/* Appends runs of 5 entries of 1 KB after `last`, one sync each, until the WAL begins a new
 * segment (at most up to index `limit`). Returns the new last index. */
static uint64_t append_until_roll(struct wal_fixture *f, uint64_t last, uint64_t limit)
{
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    uint64_t seq = stats.last_segment_seq;
    while (stats.last_segment_seq == seq) {
        assert_true(last < limit);
        append_run(f->wal, 0, last + 1, last + 5, 1, 1000);
        sync_ok(f->wal);
        last += 5;
        wal_stats_get(f->wal, &stats);
    }
    return last;
}

/* The spare (wal_spare.c): a new log's first segment and every later roll take the zero-filled
 * file when one is ready; it is wanted again once the segment is half full; a spare left at
 * close is removed at the next open; entries written through spares read back. */
static void test_spare_segments(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    assert_true(wal_spare_begin(f->wal)); /* a new log: for its first segment */
    assert_false(wal_spare_begin(f->wal)); /* one at a time */
    spare_make(f);
    uint64_t size = 0;
    bool zero = false;
    assert_true(spare_file_exists(f, &size, &zero));
    assert_int_equal(size, f->options.segment_bytes);
    assert_true(zero);
    assert_false(wal_spare_begin(f->wal)); /* ready, not yet taken */
    append_run(f->wal, 0, 1, 10, 1, 1000);
    sync_ok(f->wal);
    struct wal_stats stats;
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.spares_used, 1);
    assert_false(spare_file_exists(f, &size, &zero));
    assert_false(wal_spare_begin(f->wal)); /* the segment is not half full yet */
    uint64_t last = 10;
    bool began = false;
    /* Bounded: a 64 KiB segment is half full after about 32 entries of 1 KB. */
    while (!began) {
        assert_true(last < 200);
        append_run(f->wal, 0, last + 1, last + 5, 1, 1000);
        sync_ok(f->wal);
        last += 5;
        began = wal_spare_begin(f->wal);
    }
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.last_segment_seq, 1);
    spare_make(f);
    last = append_until_roll(f, last, 400);
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.last_segment_seq, 2);
    assert_int_equal(stats.spares_used, 2);
    /* The next roll finds no spare and fallocates, as without spares. */
    last = append_until_roll(f, last, 600);
    wal_stats_get(f->wal, &stats);
    assert_int_equal(stats.spares_used, 2);
    uint64_t terms[600];
    for (int i = 0; i < 600; i++) terms[i] = 1;
    expect_log(f->wal, 0, 1, last, terms, 1000);
    /* A spare made and never taken does not outlive the WAL. */
    if (wal_spare_begin(f->wal)) spare_make(f);
    else {
        append_run(f->wal, 0, last + 1, last + 40, 1, 1000);
        sync_ok(f->wal);
        last += 40;
        assert_true(wal_spare_begin(f->wal));
        spare_make(f);
    }
    assert_true(spare_file_exists(f, &size, &zero));
    wal_fixture_open(f);
    assert_false(spare_file_exists(f, &size, &zero));
    expect_log(f->wal, 0, 1, last, terms, 1000);
}

static void test_pipelined_sync_on_another_thread(void **state)
{
    struct wal_fixture *f = *state;
    wal_fixture_open(f);
    uint64_t next = 1;
    for (int round = 0; round < 50; round++) {
        append_run(f->wal, 0, next, next + 3, 1, 200);
        next += 4;
        struct wal_batch *batch = wal_batch_seal(f->wal);
        assert_non_null(batch);
        struct sync_job job = {.wal = f->wal, .batch = batch};
        pthread_t thread;
        assert_int_equal(pthread_create(&thread, NULL, sync_thread, &job), 0);
        append_run(f->wal, 0, next, next + 1, 1, 200); /* concurrently, into the next batch */
        next += 2;
        pthread_join(thread, NULL);
        assert_int_equal(job.result, WAL_OK);
        assert_int_equal(wal_batch_complete(f->wal, batch), WAL_OK);
    }
    sync_ok(f->wal);
    assert_null(wal_batch_seal(f->wal));
    uint64_t terms[300];
    for (int i = 0; i < 300; i++) terms[i] = 1;
    wal_fixture_open(f);
    expect_log(f->wal, 0, 1, next - 1, terms, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_with_hard_state, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_truncation_replaces_suffix, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_many_groups_share_one_log, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rollover_and_reads_from_disk, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_deletes_old_segments, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_reset_group_forgets_its_log, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte_refuses_to_start, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_flip_in_last_segment, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_truncated, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_fatal, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_batch_bound, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_sync_on_another_thread, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_spare_segments, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_two_batches_in_flight, wal_fixture_setup, wal_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_torn_write_under_an_overlapping_one, wal_fixture_setup, wal_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
