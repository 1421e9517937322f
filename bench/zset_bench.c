/*
 * zset_bench.c — what one ZADD costs the state machine against a one-member and a
 * million-member sorted set (issue 17: the rates must be within 20 %), in counts that a
 * loaded machine does not blur, beside the CPU time.
 *
 * As bench/collections.sh drives the cluster: the small set is ZADD z1 <random score> m (one
 * member, rescored), the big set is filled with N members "%012d" of score i, 1,000 per
 * command, and then takes ZADD zbig <random score 0..N> <random member of the N>. The same for
 * SADD (sbig: N members; s1: one, re-added) as a reference, since SADD met the target. Each
 * case applies OPS commands (three times; the least CPU is kept), 50 per kv_apply_batch (one LMDB write txn, as a leader
 * applies what its 50 clients sent in one loop iteration), and reports per command:
 *   - cpu us: process CPU time (user + system), steadier than wall time on a shared machine;
 *   - pages: the LMDB pages each txn copied on write (its freelist record: every page a txn
 *     changes for the first time is copied and the old one freed), over the commands;
 *   - faults: minor page faults (first writes to clean pages of the map), over the commands;
 *   - depth: the elements DB's B-tree depth after the run.
 * Usage: zset_bench [members (1000000)] [ops (20000)] [parent dir (/tmp)].
 * Knobs (environment), for the experiments of docs/write-path.md:
 *   ZSET_BENCH_SYNC=1: kv_sync (msync) before each case, so that it starts with the map
 *     written back, as a node's map is after the kernel's flusher went by (every page it
 *     wrote back is write-protected again: the next write to it takes a fault). Without it,
 *     every page the fill wrote is still dirty, which a node that has run for 30 s never
 *     sees (it turned out to take few faults either way: docs/write-path.md).
 *   ZSET_BENCH_BATCH=n (1..400, default 50): commands per txn.
 *   ZSET_BENCH_WRITEMAP=0: the env without MDB_WRITEMAP (LMDB's malloc'd pages, written
 *     with pwrite at commit).
 */
#include <assert.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "storage/kv.h"
#include "storage/kv_command.h"
#include "storage/kv_internal.h" /* white box: the env and DB handles, to count pages */

enum {
    BATCH_DEFAULT = 50,
    BATCH_MAX = 400,
    FILL_PER_COMMAND = 1000,
    ARGS_MAX = 2 + 2 * FILL_PER_COMMAND,
    TEXT_BYTES = 24,
    ENTRY_BYTES_MAX = KV_COMMAND_HEADER_BYTES + ARGS_MAX * (4 + TEXT_BYTES),
    MEMBERS_DEFAULT = 1000000,
    OPS_DEFAULT = 20000,
};

struct cost {
    double cpu_us;   /* per command */
    double pages;    /* LMDB pages copied on write, per command */
    double faults;   /* minor faults, per command */
    unsigned depth;  /* the elements DB's depth after the run */
};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long minor_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static void die(const char *what)
{
    fprintf(stderr, "zset_bench: %s: %s\n", what, kv_last_error());
    exit(1);
}

/* The pages the last committed write txn copied on write: its freelist record's length
 * (LMDB keeps one record per txn, keyed by its id, of the pages it freed). */
static uint64_t last_txn_pages(struct kv *kv)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    uint64_t pages = 0;
    if (mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS) {
        die("read txn");
    }
    size_t id = mdb_txn_id(txn);
    MDB_val key, value;
    if (mdb_cursor_open(txn, 0, &cursor) == MDB_SUCCESS &&
        mdb_cursor_get(cursor, &key, &value, MDB_LAST) == MDB_SUCCESS &&
        key.mv_size == sizeof(size_t) && *(size_t *)key.mv_data == id &&
        value.mv_size >= sizeof(size_t)) {
        pages = *(size_t *)value.mv_data; /* an IDL: its first word is its length */
    }
    if (cursor != NULL) {
        mdb_cursor_close(cursor);
    }
    mdb_txn_abort(txn);
    return pages;
}

static unsigned elems_depth(struct kv *kv)
{
    MDB_txn *txn = NULL;
    MDB_stat stat = {0};
    if (mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS ||
        mdb_stat(txn, kv->elems_dbi, &stat) != MDB_SUCCESS) {
        die("stat");
    }
    mdb_txn_abort(txn);
    return stat.ms_depth;
}

/* One command's arguments, as text in `texts` (TEXT_BYTES each). */
struct command_buf {
    struct kv_bytes args[ARGS_MAX];
    char texts[ARGS_MAX][TEXT_BYTES];
    uint32_t count;
};

static void command_add(struct command_buf *b, const char *text)
{
    assert(b->count < ARGS_MAX);
    snprintf(b->texts[b->count], TEXT_BYTES, "%s", text);
    b->args[b->count] = (struct kv_bytes){(const uint8_t *)b->texts[b->count],
                                          strlen(b->texts[b->count])};
    b->count++;
}

/* Applies `count` commands (ops[i] with bufs[i]'s arguments) as one batch. */
static void apply(struct kv *kv, const uint8_t *ops, struct command_buf *bufs, size_t count)
{
    static uint8_t entries[BATCH_MAX][ENTRY_BYTES_MAX];
    static struct kv_apply_item items[BATCH_MAX];
    static struct kv_result results[BATCH_MAX];
    assert(count <= BATCH_MAX);
    uint64_t index = 0, term = 0;
    kv_applied(kv, &index, &term);
    for (size_t i = 0; i < count; i++) {
        struct kv_command command = {.op = ops[i], .arg_count = bufs[i].count,
                                     .args = bufs[i].args};
        size_t len = 0;
        const char *reason = NULL;
        if (kv_command_encode(&command, entries[i], ENTRY_BYTES_MAX, &len, &reason) != KV_OK) {
            fprintf(stderr, "zset_bench: encode: %s\n", reason);
            exit(1);
        }
        items[i] = (struct kv_apply_item){.index = ++index, .term = 1, .kind = KV_ITEM_COMMAND,
                                          .data = entries[i], .data_len = (uint32_t)len};
    }
    if (kv_apply_batch(kv, items, count, results) != KV_OK) {
        die("apply");
    }
    for (size_t i = 0; i < count; i++) {
        if (results[i].type == KV_RESULT_ERROR) {
            fprintf(stderr, "zset_bench: %s\n", results[i].error);
            exit(1);
        }
    }
}

/* Fills `key` with members 0..n-1 ("%012d", score i for a sorted set), 1,000 per command. */
static void fill(struct kv *kv, uint8_t op, const char *key, uint64_t n)
{
    static struct command_buf buf;
    for (uint64_t at = 0; at < n;) {
        buf.count = 0;
        command_add(&buf, key);
        for (uint32_t j = 0; j < FILL_PER_COMMAND && at < n; j++, at++) {
            char text[TEXT_BYTES];
            if (op == KV_OP_ZADD) {
                snprintf(text, sizeof text, "%llu", (unsigned long long)at);
                command_add(&buf, text);
            }
            snprintf(text, sizeof text, "%012llu", (unsigned long long)at);
            command_add(&buf, text);
        }
        apply(kv, &op, &buf, 1);
    }
}

static bool sync_before_case;
static size_t batch = BATCH_DEFAULT;

/* OPS commands against `key` of `members` members (1: the member "m"), `batch` per txn. */
static struct cost run(struct kv *kv, uint8_t op, const char *key, uint64_t members,
                       uint64_t ops)
{
    static struct command_buf bufs[BATCH_MAX];
    uint8_t op_list[BATCH_MAX];
    static uint64_t seed = 0x2545f4914f6cdd1dull; /* on from run to run: new scores */
    uint64_t pages = 0;
    if (sync_before_case && kv_sync(kv) != KV_OK) {
        die("kv_sync");
    }
    long faults = minor_faults();
    double cpu = cpu_seconds();
    for (uint64_t done = 0; done < ops;) {
        size_t count = ops - done < batch ? (size_t)(ops - done) : batch;
        for (size_t i = 0; i < count; i++) {
            struct command_buf *b = &bufs[i];
            char text[TEXT_BYTES];
            b->count = 0;
            op_list[i] = op;
            command_add(b, key);
            if (op == KV_OP_ZADD) {
                uint64_t range = members > 1 ? members : 100000000;
                snprintf(text, sizeof text, "%llu",
                         (unsigned long long)(next_random(&seed) % range));
                command_add(b, text);
            }
            if (members > 1) {
                snprintf(text, sizeof text, "%012llu",
                         (unsigned long long)(next_random(&seed) % members));
            } else {
                snprintf(text, sizeof text, "m");
            }
            command_add(b, text);
        }
        apply(kv, op_list, bufs, count);
        pages += last_txn_pages(kv);
        done += count;
    }
    struct cost cost = {.cpu_us = (cpu_seconds() - cpu) * 1e6 / (double)ops,
                        .pages = (double)pages / (double)ops,
                        .faults = (double)(minor_faults() - faults) / (double)ops,
                        .depth = elems_depth(kv)};
    return cost;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
}

static void keep_least(struct cost *best, struct cost c)
{
    if (c.cpu_us < best->cpu_us) {
        *best = c;
    }
}

static void print_cost(const char *name, struct cost c)
{
    printf("%-34s %8.2f cpu us %7.2f pages %7.2f faults  depth %u\n", name, c.cpu_us, c.pages,
           c.faults, c.depth);
}

int main(int argc, char **argv)
{
    uint64_t members = argc > 1 ? strtoull(argv[1], NULL, 10) : MEMBERS_DEFAULT;
    uint64_t ops = argc > 2 ? strtoull(argv[2], NULL, 10) : OPS_DEFAULT;
    if (members < 2 || members > 100000000 || ops == 0 || ops > 100000000) {
        fprintf(stderr, "usage: zset_bench [members 2..1e8] [ops 1..1e8] [parent dir]\n");
        return 2;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/zset_bench.XXXXXX", argc > 3 ? argv[3] : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    struct kv_options options;
    kv_options_defaults(&options);
    options.map_bytes = 16ull << 30;
    const char *knob = getenv("ZSET_BENCH_SYNC");
    sync_before_case = knob != NULL && strcmp(knob, "1") == 0;
    knob = getenv("ZSET_BENCH_BATCH");
    if (knob != NULL) {
        batch = strtoull(knob, NULL, 10);
        if (batch == 0 || batch > BATCH_MAX) {
            fprintf(stderr, "zset_bench: ZSET_BENCH_BATCH must be 1..%d\n", BATCH_MAX);
            remove_dir(dir);
            return 2;
        }
    }
    knob = getenv("ZSET_BENCH_WRITEMAP");
    if (knob != NULL && strcmp(knob, "0") == 0) {
        options.write_map = false;
    }
    struct kv *kv = NULL;
    if (kv_open(dir, &options, &kv) != KV_OK) {
        die("kv_open");
    }
    printf("zset_bench: %llu members, %llu commands per case, %zu per txn, dir %s, %s, %s\n",
           (unsigned long long)members, (unsigned long long)ops, batch, dir,
           options.write_map ? "MDB_WRITEMAP" : "no MDB_WRITEMAP",
           sync_before_case ? "written back before each case" : "no sync");
    fill(kv, KV_OP_SADD, "sbig", members);
    fill(kv, KV_OP_ZADD, "zbig", members);
    /* Each case three times, small and big alternating, so that neither gets a cold start
     * alone; the least CPU time of the three is the one least disturbed by other processes. */
    struct cost z1 = {.cpu_us = 1e9}, zb = z1, s1 = z1, sb = z1;
    for (int round = 0; round < 3; round++) {
        keep_least(&z1, run(kv, KV_OP_ZADD, "z1", 1, ops));
        keep_least(&zb, run(kv, KV_OP_ZADD, "zbig", members, ops));
        keep_least(&s1, run(kv, KV_OP_SADD, "s1", 1, ops));
        keep_least(&sb, run(kv, KV_OP_SADD, "sbig", members, ops));
    }
    char name[80];
    print_cost("ZADD, 1-member sorted set", z1);
    snprintf(name, sizeof name, "ZADD, %llu-member sorted set", (unsigned long long)members);
    print_cost(name, zb);
    print_cost("SADD, 1-member set", s1);
    snprintf(name, sizeof name, "SADD, %llu-member set", (unsigned long long)members);
    print_cost(name, sb);
    printf("big / small cpu: ZADD %.2f x, SADD %.2f x; pages: ZADD %.2f - %.2f, SADD %.2f - "
           "%.2f\n", zb.cpu_us / z1.cpu_us, sb.cpu_us / s1.cpu_us, zb.pages, z1.pages,
           sb.pages, s1.pages);
    kv_close(kv);
    remove_dir(dir);
    return 0;
}
