/*
 * kv_bench.c — throughput of the key-value state machine.
 *
 * Puts of VALUE_BYTES values under KEY_BYTES keys, encoded as log entries and applied in
 * batches of BATCH_ITEMS (one LMDB write txn each, MDB_NOSYNC as in production: the WAL is
 * the durability point), first with keys in increasing order, then with random keys into the
 * same store. Then point reads, a forced sync and a snapshot. Usage: kv_bench [puts] [dir].
 * The target (issue): >= 500,000 puts/s of 256-byte values in batches of 64.
 *
 * Then what a node with many groups pays per loop iteration (issue 10): GROUPS stores each
 * applying a batch of GROUP_BATCH_ITEMS random puts per iteration, (a) each store in its own
 * environment committing its own txn, as before one environment per node, and (b) the stores
 * of one environment, one nested txn each and one commit per iteration (kv.h), as the node
 * does now. Same work, same keys: the ratio is what the shared commit saves. (b) runs again
 * without MDB_WRITEMAP, as before it (kv_store.c): that ratio is what the map writes save.
 */
#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/kv.h"
#include "storage/kv_command.h"

enum {
    KEY_BYTES = 16,
    VALUE_BYTES = 256,
    BATCH_ITEMS = 64,
    ENTRY_BYTES = KV_COMMAND_HEADER_BYTES + 4 + KEY_BYTES + 4 + VALUE_BYTES,
    PUTS_DEFAULT = 1000000,
    PUTS_MAX = 100000000,
    GETS = 1000000,
    GROUPS = 16,
    GROUP_BATCH_ITEMS = 4,
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock rate, and the rate per CPU-second (steadier on a shared, loaded machine). */
struct rate {
    double per_second;
    double per_cpu_second;
};

static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Sequential keys sort in insertion order ("k" + 15 decimal digits); random ones do not. */
static void make_key(uint64_t n, bool random, uint64_t *seed, char key[KEY_BYTES + 1])
{
    if (random) {
        snprintf(key, KEY_BYTES + 1, "r%015llx", (unsigned long long)(next_random(seed) >> 4));
    } else {
        snprintf(key, KEY_BYTES + 1, "k%015llu", (unsigned long long)n);
    }
}

/* Encodes `count` SETs as the entries after kv's applied index: keys numbered from `first`
 * (sequential) or drawn from *seed (random). */
static void encode_puts(struct kv *kv, uint8_t entries[][ENTRY_BYTES], struct kv_apply_item *items,
                        size_t count, uint64_t first, bool random, uint64_t *seed)
{
    uint8_t value[VALUE_BYTES];
    memset(value, 'v', sizeof value);
    uint64_t index = 0, term = 0;
    kv_applied(kv, &index, &term);
    for (size_t i = 0; i < count; i++) {
        char key[KEY_BYTES + 1];
        make_key(first + i, random, seed, key);
        struct kv_bytes args[2] = {{(const uint8_t *)key, KEY_BYTES}, {value, VALUE_BYTES}};
        struct kv_command command = {.op = KV_OP_SET, .arg_count = 2, .args = args};
        size_t len = 0;
        const char *reason = NULL;
        int rv = kv_command_encode(&command, entries[i], ENTRY_BYTES, &len, &reason);
        assert(rv == KV_OK && len == ENTRY_BYTES);
        items[i] = (struct kv_apply_item){.index = ++index, .term = 1, .kind = KV_ITEM_COMMAND,
                                          .data = entries[i], .data_len = ENTRY_BYTES};
    }
}

/* Encodes and applies `puts` SETs in batches. */
static struct rate bench_puts(struct kv *kv, uint64_t puts, bool random)
{
    static uint8_t entries[BATCH_ITEMS][ENTRY_BYTES];
    struct kv_apply_item items[BATCH_ITEMS];
    struct kv_result results[BATCH_ITEMS];
    uint64_t seed = 0x2545f4914f6cdd1dull;
    double start = now_seconds(), start_cpu = cpu_seconds();
    for (uint64_t done = 0; done < puts;) {
        size_t count = puts - done < BATCH_ITEMS ? (size_t)(puts - done) : BATCH_ITEMS;
        encode_puts(kv, entries, items, count, done, random, &seed);
        int rv = kv_apply_batch(kv, items, count, results);
        if (rv != KV_OK) {
            fprintf(stderr, "apply: %s: %s\n", kv_strerror(rv), kv_last_error());
            exit(1);
        }
        assert(results[0].type == KV_RESULT_OK);
        done += count;
    }
    return (struct rate){(double)puts / (now_seconds() - start),
                         (double)puts / (cpu_seconds() - start_cpu)};
}

static void remove_dir(const char *dir);

/* GROUPS stores, `iterations` loop iterations of one small batch per store; shared: one
 * environment and one commit per iteration, else an environment and a commit per store.
 * write_map: MDB_WRITEMAP (the default) or LMDB's malloc'd dirty pages (before it). */
static struct rate bench_groups(const char *parent, bool shared, bool write_map,
                                uint64_t iterations)
{
    static uint8_t entries[GROUP_BATCH_ITEMS][ENTRY_BYTES];
    struct kv_apply_item items[GROUP_BATCH_ITEMS];
    struct kv_result results[GROUP_BATCH_ITEMS];
    struct kv *stores[GROUPS];
    struct kv_env *env = NULL;
    struct kv_options options;
    kv_options_defaults(&options);
    options.map_bytes = 16ull << 30;
    options.write_map = write_map;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", parent, shared ? "shared" : "own");
    if (shared && kv_env_open(dir, &options, GROUPS, &env) != KV_OK) {
        fprintf(stderr, "kv_env_open: %s\n", kv_last_error());
        exit(1);
    }
    for (uint32_t g = 0; g < GROUPS; g++) {
        char sub[760];
        snprintf(sub, sizeof sub, "%s-%u", dir, g);
        int rv = shared ? kv_store_open(env, g, &stores[g]) : kv_open(sub, &options, &stores[g]);
        if (rv != KV_OK) {
            fprintf(stderr, "open store %u: %s\n", g, kv_last_error());
            exit(1);
        }
    }
    uint64_t seed = 0x2545f4914f6cdd1dull;
    double start = now_seconds(), start_cpu = cpu_seconds();
    for (uint64_t it = 0; it < iterations; it++) {
        for (uint32_t g = 0; g < GROUPS; g++) {
            encode_puts(stores[g], entries, items, GROUP_BATCH_ITEMS, 0, true, &seed);
            if (kv_apply_batch(stores[g], items, GROUP_BATCH_ITEMS, results) != KV_OK) {
                fprintf(stderr, "apply: %s\n", kv_last_error());
                exit(1);
            }
        }
        if (shared && kv_env_commit(env) != KV_OK) {
            fprintf(stderr, "commit: %s\n", kv_last_error());
            exit(1);
        }
    }
    double puts = (double)iterations * GROUPS * GROUP_BATCH_ITEMS;
    struct rate rate = {puts / (now_seconds() - start), puts / (cpu_seconds() - start_cpu)};
    for (uint32_t g = 0; g < GROUPS; g++) {
        char sub[760];
        snprintf(sub, sizeof sub, "%s-%u", dir, g);
        kv_close(stores[g]);
        if (!shared)
            remove_dir(sub);
    }
    kv_env_close(env);
    if (shared)
        remove_dir(dir);
    return rate;
}

static double bench_gets(struct kv *kv, uint64_t puts)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct kv_read read;
    double start = now_seconds();
    uint64_t found_count = 0;
    for (uint64_t i = 0; i < GETS; i++) {
        if (i % 1000 == 0) { /* a fresh read txn every 1000 gets, like a busy server */
            if (i > 0) {
                kv_read_end(&read);
            }
            if (kv_read_begin(kv, &read) != KV_OK) {
                fprintf(stderr, "read: %s\n", kv_last_error());
                exit(1);
            }
        }
        char key[KEY_BYTES + 1];
        make_key(next_random(&seed) % puts, false, NULL, key);
        struct kv_bytes value;
        bool found = false;
        kv_read_get(&read, (const uint8_t *)key, KEY_BYTES, &value, &found);
        found_count += found;
    }
    kv_read_end(&read);
    assert(found_count == GETS);
    return GETS / (now_seconds() - start);
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

int main(int argc, char **argv)
{
    uint64_t puts = argc > 1 ? strtoull(argv[1], NULL, 10) : PUTS_DEFAULT;
    if (puts == 0 || puts > PUTS_MAX) {
        fprintf(stderr, "usage: kv_bench [puts 1..%d] [parent dir]\n", PUTS_MAX);
        return 2;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/kv_bench.XXXXXX", argc > 2 ? argv[2] : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    struct kv_options options;
    kv_options_defaults(&options);
    options.map_bytes = 16ull << 30;
    struct kv *kv = NULL;
    if (kv_open(dir, &options, &kv) != KV_OK) {
        fprintf(stderr, "kv_open: %s\n", kv_last_error());
        return 1;
    }
    printf("kv_bench: %llu puts, key %d B, value %d B, batch %d, dir %s\n",
           (unsigned long long)puts, KEY_BYTES, VALUE_BYTES, BATCH_ITEMS, dir);
    struct rate sequential = bench_puts(kv, puts, false);
    printf("put sequential keys: %10.0f puts/s (%.0f per cpu-second)\n", sequential.per_second,
           sequential.per_cpu_second);
    struct rate random = bench_puts(kv, puts, true);
    printf("put random keys:     %10.0f puts/s (%.0f per cpu-second)\n", random.per_second,
           random.per_cpu_second);
    printf("get random (hit):    %10.0f gets/s\n", bench_gets(kv, puts));
    double start = now_seconds();
    if (kv_sync(kv) != KV_OK) {
        fprintf(stderr, "sync: %s\n", kv_last_error());
        return 1;
    }
    printf("sync (force):        %10.3f s\n", now_seconds() - start);
    char path[600];
    snprintf(path, sizeof path, "%s/snapshot", dir);
    struct kv_snapshot_meta meta;
    start = now_seconds();
    if (kv_snapshot_create(kv, path, &meta) != KV_OK) {
        fprintf(stderr, "snapshot: %s\n", kv_last_error());
        return 1;
    }
    double seconds = now_seconds() - start;
    printf("snapshot create:     %10.3f s, %llu MiB (%.0f MiB/s), index %llu\n", seconds,
           (unsigned long long)(meta.file_bytes >> 20), (double)meta.file_bytes / seconds / (1 << 20),
           (unsigned long long)meta.index);
    kv_close(kv);
    uint64_t iterations = puts / (GROUPS * GROUP_BATCH_ITEMS);
    iterations = iterations < 1000 ? 1000 : iterations;
    struct rate own = bench_groups(dir, false, true, iterations);
    struct rate one = bench_groups(dir, true, true, iterations);
    struct rate copied = bench_groups(dir, true, false, iterations);
    printf("%d groups x %d puts per iteration, %llu iterations:\n", GROUPS, GROUP_BATCH_ITEMS,
           (unsigned long long)iterations);
    printf("  a commit per group:  %10.0f puts/s (%.0f per cpu-second)\n", own.per_second,
           own.per_cpu_second);
    printf("  one commit for all:  %10.0f puts/s (%.0f per cpu-second), %.2f x\n",
           one.per_second, one.per_cpu_second, one.per_second / own.per_second);
    printf("  the same without MDB_WRITEMAP: %10.0f puts/s (%.0f per cpu-second); "
           "MDB_WRITEMAP %.2f x\n", copied.per_second, copied.per_cpu_second,
           one.per_cpu_second / copied.per_cpu_second);
    remove_dir(dir);
    return 0;
}
