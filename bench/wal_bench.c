/*
 * wal_bench.c — WAL throughput against the bare disk, and a probe for fault injection.
 *
 *   wal_bench [--dir DIR] [--seconds S]
 *       Measures in one run, alternating rounds so that both see the same disk weather:
 *         bare:   append 304 bytes + fdatasync, in a loop, on a plain file (the disk's limit)
 *         single: one 256-byte entry per wal_sync (one write + one fdatasync each)
 *         batch:  64 x 256-byte entries per wal_sync
 *       and prints the rates, the single/bare ratio and whether the targets are met
 *       (single >= 90% of bare, batch >= 200,000 entries/s).
 *
 *   wal_bench --probe DIR COUNT
 *       Appends entries 1..COUNT, one wal_sync each, printing "durable I" only after entry I's
 *       sync returned. On a WAL failure prints "fatal: ..." and exits 2. Used under
 *       `strace -e inject=...` by tests/checks/wal_fault_inject.sh.
 *
 *   wal_bench --verify DIR
 *       Reopens the WAL, checks every entry's content, prints "recovered LAST".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/wal.h"

enum {
    BENCH_ENTRY_BYTES = 256,
    BENCH_RECORD_BYTES = 304, /* what one 256-byte entry costs in the WAL: header + payload */
    BENCH_BATCH_ENTRIES = 64,
    BENCH_ROUNDS = 5,
    BENCH_PROBE_COUNT_MAX = 1000000,
};

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_fill(uint8_t *data, uint64_t index)
{
    for (uint32_t i = 0; i < BENCH_ENTRY_BYTES; i++) data[i] = (uint8_t)(index * 31 + i);
}

/* The disk's own limit: a plain append + fdatasync loop. Returns syncs per second. */
static double bench_bare(const char *dir, double seconds)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/bare.dat", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    uint8_t buf[BENCH_RECORD_BYTES];
    memset(buf, 7, sizeof(buf));
    uint64_t ops = 0;
    double start = bench_now(), elapsed = 0;
    while (elapsed < seconds) { /* bounded by the time budget */
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fdatasync(fd) != 0) {
            perror("bare write/fdatasync");
            exit(1);
        }
        ops++;
        elapsed = bench_now() - start;
    }
    close(fd);
    unlink(path);
    return (double)ops / elapsed;
}

/* Compaction notices would flood the measurements; failures still reach stderr. */
static void bench_log(void *context, const char *message)
{
    (void)context;
    if (strstr(message, "deleted (compacted)") == NULL) fprintf(stderr, "wal: %s\n", message);
}

static struct wal *bench_open(const char *dir)
{
    struct wal_options options;
    wal_options_defaults(&options);
    options.dir = dir;
    options.log = bench_log;
    struct wal *wal = NULL;
    struct wal_error err;
    if (wal_open(&options, fileops_posix(), &wal, &err) != WAL_OK) {
        fprintf(stderr, "wal_open: %s\n", err.message);
        exit(1);
    }
    return wal;
}

/* Appends batches of `per_sync` entries, one wal_sync each. Returns entries per second. */
static double bench_wal(const char *dir, uint32_t per_sync, double seconds)
{
    char wal_dir[4096];
    snprintf(wal_dir, sizeof(wal_dir), "%s/wal-%u", dir, per_sync);
    struct wal *wal = bench_open(wal_dir);
    uint64_t first = 0, last = 0;
    uint64_t next = wal_group_bounds(wal, 0, &first, &last) == WAL_OK ? last + 1 : 1;
    static uint8_t data[BENCH_BATCH_ENTRIES][BENCH_ENTRY_BYTES];
    struct cn_entry entries[BENCH_BATCH_ENTRIES];
    uint64_t done = 0;
    double start = bench_now(), elapsed = 0;
    struct wal_error err;
    while (elapsed < seconds) { /* bounded by the time budget */
        for (uint32_t i = 0; i < per_sync; i++) {
            bench_fill(data[i], next + i);
            entries[i] = (struct cn_entry){
                .index = next + i, .term = 1, .data_len = BENCH_ENTRY_BYTES, .data = data[i]};
        }
        if (wal_append(wal, 0, NULL, NULL, entries, per_sync, &err) != WAL_OK ||
            wal_sync(wal, &err) != WAL_OK) {
            fprintf(stderr, "wal: %s\n", err.message);
            exit(1);
        }
        next += per_sync;
        done += per_sync;
        elapsed = bench_now() - start;
    }
    /* Keep the log from growing across rounds: a snapshot marker lets old segments go. */
    struct cn_snapshot_meta snap = {.index = next - 1, .term = 1};
    if (wal_append(wal, 0, NULL, &snap, NULL, 0, &err) != WAL_OK || wal_sync(wal, &err) != WAL_OK ||
        wal_compact(wal, 0, next - 1, &err) != WAL_OK) {
        fprintf(stderr, "wal: %s\n", err.message);
        exit(1);
    }
    wal_close(wal);
    return (double)done / elapsed;
}

static int bench_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double bench_median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof(double), bench_compare);
    return values[count / 2];
}

/* Rounds alternate the three loops so that all see the same disk weather (a shared virtual
 * disk's fdatasync latency varies by an order of magnitude); medians are reported. */
static int bench_run(const char *dir, double seconds)
{
    double bare[BENCH_ROUNDS], single[BENCH_ROUNDS], batch[BENCH_ROUNDS];
    printf("dir %s, %d rounds of %.1f s per loop\n", dir, BENCH_ROUNDS, seconds);
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        bare[round] = bench_bare(dir, seconds);
        single[round] = bench_wal(dir, 1, seconds);
        batch[round] = bench_wal(dir, BENCH_BATCH_ENTRIES, seconds);
        printf("round %d: bare %.0f syncs/s, wal single %.0f entries/s, wal batch %.0f entries/s\n",
               round + 1, bare[round], single[round], batch[round]);
    }
    double bare_median = bench_median(bare, BENCH_ROUNDS);
    double single_median = bench_median(single, BENCH_ROUNDS);
    double batch_median = bench_median(batch, BENCH_ROUNDS);
    double ratio = single_median / bare_median;
    printf("median bare append+fdatasync:   %10.0f syncs/s\n", bare_median);
    printf("median wal 1 entry per sync:    %10.0f entries/s  (%.1f%% of bare; target >= 90%%: %s)\n",
           single_median, 100 * ratio, ratio >= 0.9 ? "met" : "NOT met");
    printf("median wal 64 x 256 B per sync: %10.0f entries/s  (target >= 200000: %s)\n",
           batch_median, batch_median >= 200000 ? "met" : "NOT met");
    return 0;
}

static int bench_probe(const char *dir, long count)
{
    struct wal *wal = bench_open(dir);
    uint64_t first = 0, last = 0;
    uint64_t next = wal_group_bounds(wal, 0, &first, &last) == WAL_OK ? last + 1 : 1;
    uint8_t data[BENCH_ENTRY_BYTES];
    struct wal_error err;
    for (long i = 0; i < count; i++, next++) {
        bench_fill(data, next);
        struct cn_entry entry = {
            .index = next, .term = 1, .data_len = BENCH_ENTRY_BYTES, .data = data};
        if (wal_append(wal, 0, NULL, NULL, &entry, 1, &err) != WAL_OK ||
            wal_sync(wal, &err) != WAL_OK) {
            printf("fatal: %s (%s)\n", err.message, wal_strerror(err.code));
            fflush(stdout);
            wal_close(wal);
            return 2; /* the node would stop here, acknowledging nothing more */
        }
        printf("durable %" PRIu64 "\n", next);
        fflush(stdout);
    }
    wal_close(wal);
    return 0;
}

static int bench_verify(const char *dir)
{
    struct wal *wal = bench_open(dir);
    struct wal_restore restore;
    struct wal_error err;
    if (wal_restore_load(wal, 0, &restore, &err) != WAL_OK) {
        fprintf(stderr, "restore: %s\n", err.message);
        return 1;
    }
    uint8_t expect[BENCH_ENTRY_BYTES];
    uint64_t last = restore.restore.snapshot.index;
    for (uint64_t i = 0; i < restore.restore.entry_count; i++) {
        const struct cn_entry *e = &restore.restore.entries[i];
        bench_fill(expect, e->index);
        if (e->index != last + 1 || e->data_len != BENCH_ENTRY_BYTES ||
            memcmp(e->data, expect, BENCH_ENTRY_BYTES) != 0) {
            fprintf(stderr, "entry %" PRIu64 " is wrong\n", e->index);
            return 1;
        }
        last = e->index;
    }
    printf("recovered %" PRIu64 "\n", last);
    wal_restore_free(&restore);
    wal_close(wal);
    return 0;
}

static void bench_usage(void)
{
    fprintf(stderr,
            "usage: wal_bench [--dir DIR] [--seconds S] | --probe DIR COUNT | --verify DIR\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--probe") == 0 && i + 2 < argc) {
            long count = strtol(argv[i + 2], NULL, 10);
            if (count <= 0 || count > BENCH_PROBE_COUNT_MAX) bench_usage();
            return bench_probe(argv[i + 1], count);
        } else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc) {
            return bench_verify(argv[i + 1]);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
            if (!(seconds > 0 && seconds <= 600)) bench_usage();
        } else {
            bench_usage();
        }
    }
    return bench_run(dir, seconds);
}
