/*
 * ring_bench — the consistent-hashing algorithms of src/ring/ measured side by side: for each
 * node count and algorithm, the balance of keys (peak-to-mean, standard deviation, the range
 * holding 99 % of nodes), of the keyspace itself where it has a closed form, and of shards;
 * the fraction of keys moved when one node joins or leaves; nanoseconds per lookup; bytes.
 *
 *   ring_bench [--keys K] [--nodes 3,10,100,1000] [--algorithms vnodes1,...]
 *
 * Keys are "key:0" .. "key:K-1" (K = 1,000,000 by default). Nodes are ids 1..N of weight 1;
 * the joining node is N+1 and the leaving node is N (the last: the only one jump hash can
 * remove), so every algorithm faces the same change. Output: a Markdown table on stdout.
 * docs/ring.md explains the columns and compares them with the published figures.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring/ring.h"

enum {
    BENCH_KEYS_DEFAULT = 1000000,
    BENCH_KEYS_MAX = 10000000,
    BENCH_KEY_BYTES = 16,
    BENCH_SIZES_MAX = 8,
    BENCH_SHARD_SIZES = 3,
};

static const uint32_t bench_shard_sizes[BENCH_SHARD_SIZES] = {16, 256, 4096};

/* One row kind of the table: an algorithm and its parameter (Maglev: the table size). */
struct bench_variant {
    const char *name;
    enum ring_algorithm algorithm;
    uint32_t vnodes;
};

static const struct bench_variant bench_variants[] = {
    {"vnodes1", RING_ALGORITHM_VNODES, 1},     {"vnodes10", RING_ALGORITHM_VNODES, 10},
    {"vnodes100", RING_ALGORITHM_VNODES, 100}, {"vnodes1000", RING_ALGORITHM_VNODES, 1000},
    {"vnodes256", RING_ALGORITHM_VNODES, 256}, {"jump", RING_ALGORITHM_JUMP, 1},
    {"rendezvous", RING_ALGORITHM_RENDEZVOUS, 1}, {"maglev", RING_ALGORITHM_MAGLEV, 1},
    {"bounded", RING_ALGORITHM_BOUNDED, 100},   {"maglev655373", RING_ALGORITHM_MAGLEV, 655373},
};
enum { BENCH_VARIANTS = sizeof(bench_variants) / sizeof(bench_variants[0]) };

struct bench_keys {
    uint32_t count;
    char (*bytes)[BENCH_KEY_BYTES];
    uint8_t *lengths;
    uint64_t *hashes;
};

/* Balance of a set of per-node loads, relative to the mean. */
struct bench_balance {
    double peak;     /* max / mean */
    double sd;       /* standard deviation / mean */
    double low, high; /* 0.5th and 99.5th percentiles / mean: 99 % of nodes lie between */
};

static double bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int bench_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct bench_balance bench_balance_of(const double *loads, uint32_t count)
{
    double sum = 0, squares = 0, peak = 0;
    for (uint32_t i = 0; i < count; i++) sum += loads[i];
    double mean = sum / count;
    double *sorted = malloc(count * sizeof(*sorted));
    if (sorted == NULL) abort();
    for (uint32_t i = 0; i < count; i++) {
        sorted[i] = loads[i] / mean;
        squares += (sorted[i] - 1) * (sorted[i] - 1);
        peak = sorted[i] > peak ? sorted[i] : peak;
    }
    qsort(sorted, count, sizeof(*sorted), bench_compare_double);
    struct bench_balance b = {.peak = peak, .sd = sqrt(squares / count),
                              .low = sorted[(uint32_t)(0.005 * (count - 1) + 0.5)],
                              .high = sorted[(uint32_t)(0.995 * (count - 1) + 0.5)]};
    free(sorted);
    return b;
}

static struct ring *bench_ring(const struct bench_variant *variant, uint32_t count)
{
    struct ring_node *nodes = malloc(count * sizeof(*nodes));
    if (nodes == NULL) abort();
    for (uint32_t i = 0; i < count; i++) nodes[i] = (struct ring_node){.id = i + 1, .weight = 1};
    struct ring_config config = ring_config_default(variant->algorithm);
    if (variant->algorithm == RING_ALGORITHM_MAGLEV)
        config.maglev_table_size = variant->vnodes > 1 ? variant->vnodes : RING_MAGLEV_TABLE_DEFAULT;
    else
        config.vnodes = variant->vnodes;
    struct ring *ring = NULL;
    int rv = ring_create(&config, nodes, count, &ring);
    free(nodes);
    if (rv != RING_OK) {
        fprintf(stderr, "ring_bench: %s with %u nodes: %s\n", variant->name, count, ring_strerror(rv));
        exit(1);
    }
    return ring;
}

/* Owner ids of every key; returns the nanoseconds per key of hashing plus lookup. */
static double bench_assign(struct ring *ring, const struct bench_keys *keys, uint32_t *owners)
{
    double start = bench_now_ns();
    if (ring_config_of(ring)->algorithm == RING_ALGORITHM_BOUNDED) {
        /* A batch: its hashing is done once, outside; time it here the same way as the others. */
        uint64_t *hashes = malloc(keys->count * sizeof(*hashes));
        if (hashes == NULL) abort();
        for (uint32_t k = 0; k < keys->count; k++) hashes[k] = ring_hash_key(keys->bytes[k], keys->lengths[k]);
        ring_assign(ring, hashes, keys->count, owners);
        free(hashes);
    } else {
        for (uint32_t k = 0; k < keys->count; k++)
            owners[k] = ring_lookup_hash(ring, ring_hash_key(keys->bytes[k], keys->lengths[k]));
    }
    double ns = (bench_now_ns() - start) / keys->count;
    for (uint32_t k = 0; k < keys->count; k++) owners[k] = (uint32_t)ring_node_at(ring, owners[k])->id;
    return ns;
}

static double bench_moved(const uint32_t *before, const uint32_t *after, uint32_t count)
{
    uint32_t moved = 0;
    for (uint32_t k = 0; k < count; k++) moved += before[k] != after[k];
    return (double)moved / count;
}

/* Peak-to-mean of primary shards per node, for each shard count. */
static void bench_shards(struct ring *ring, double peaks[BENCH_SHARD_SIZES])
{
    uint32_t count = ring_node_count(ring);
    double *loads = malloc(count * sizeof(*loads));
    if (loads == NULL) abort();
    for (int s = 0; s < BENCH_SHARD_SIZES; s++) {
        struct ring_placement *placement = NULL;
        if (ring_placement_create(ring, bench_shard_sizes[s], 1, false, &placement) != RING_OK) abort();
        for (uint32_t n = 0; n < count; n++) loads[n] = 0;
        for (uint32_t i = 0; i < bench_shard_sizes[s]; i++)
            loads[ring_node_index(ring, placement->node_ids[i])] += 1;
        peaks[s] = bench_balance_of(loads, count).peak;
        ring_placement_destroy(placement);
    }
    free(loads);
}

static void bench_row(const struct bench_variant *variant, uint32_t count, const struct bench_keys *keys,
                      uint32_t *owners[3])
{
    struct ring *ring = bench_ring(variant, count);
    struct ring *joined = bench_ring(variant, count + 1);
    double ns = bench_assign(ring, keys, owners[0]);
    bench_assign(joined, keys, owners[1]);
    double join = bench_moved(owners[0], owners[1], keys->count);
    ring_destroy(joined);
    double leave = 0;
    if (count > 1) {
        struct ring *left = bench_ring(variant, count - 1);
        bench_assign(left, keys, owners[2]);
        leave = bench_moved(owners[0], owners[2], keys->count);
        ring_destroy(left);
    }
    double *loads = calloc(count, sizeof(*loads));
    if (loads == NULL) abort();
    for (uint32_t k = 0; k < keys->count; k++) loads[owners[0][k] - 1] += 1;
    struct bench_balance by_keys = bench_balance_of(loads, count);
    char space[32] = "-";
    enum ring_algorithm algorithm = variant->algorithm;
    if (algorithm == RING_ALGORITHM_VNODES || algorithm == RING_ALGORITHM_MAGLEV) {
        ring_shares(ring, loads);
        struct bench_balance exact = bench_balance_of(loads, count);
        snprintf(space, sizeof(space), "%.1f%% (%.2f-%.2f)", 100 * exact.sd, exact.low, exact.high);
    }
    free(loads);
    double shard_peaks[BENCH_SHARD_SIZES];
    bench_shards(ring, shard_peaks);
    char label[48];
    if (algorithm == RING_ALGORITHM_VNODES)
        snprintf(label, sizeof(label), "ring V=%u", variant->vnodes);
    else if (algorithm == RING_ALGORITHM_MAGLEV)
        snprintf(label, sizeof(label), "maglev M=%u", ring_config_of(ring)->maglev_table_size);
    else if (algorithm == RING_ALGORITHM_BOUNDED)
        snprintf(label, sizeof(label), "bounded eps=0.25 V=%u", variant->vnodes);
    else
        snprintf(label, sizeof(label), "%s", ring_algorithm_name(algorithm));
    printf("| %u | %s | %.3f | %.1f%% (%.2f-%.2f) | %.1f%% | %s | %.2f / %.2f / %.2f | %.2f%% | %.2f%% |"
           " %.2f%% / %.2f%% | %.0f | %zu |\n",
           count, label, by_keys.peak, 100 * by_keys.sd, by_keys.low, by_keys.high,
           100 * sqrt((double)count / keys->count), space, shard_peaks[0], shard_peaks[1],
           shard_peaks[2], 100 * join, 100 * leave, 100.0 / (count + 1), 100.0 / count, ns,
           ring_memory_bytes(ring));
    fflush(stdout);
    ring_destroy(ring);
}

static uint32_t placement_index(const struct ring *ring, uint64_t id)
{
    int64_t index = ring_node_index(ring, id);
    if (index < 0) abort();
    return (uint32_t)index;
}

/* Replicas that moved between two nodes that both stay (neither the joining nor the leaving). */
static uint32_t bench_moves_between_stayers(const struct ring_move *moves, uint32_t count, uint64_t changed_id)
{
    uint32_t stayers = 0;
    for (uint32_t i = 0; i < count; i++) stayers += moves[i].from != changed_id && moves[i].to != changed_id;
    return stayers;
}

/*
 * The placement table: S shards x R replicas, balance of replicas and of leaders (first
 * replicas), replicas moved on join and leave against the ideal R x S / (N + 1), moves
 * between nodes that both stay, and the time to place every shard.
 */
static void bench_placement_row(const struct bench_variant *variant, uint32_t count, uint32_t shards,
                                uint32_t replicas)
{
    struct ring *ring = bench_ring(variant, count), *joined = bench_ring(variant, count + 1);
    struct ring *left = bench_ring(variant, count - 1);
    struct ring_placement *base = NULL, *after_join = NULL, *after_leave = NULL;
    double start = bench_now_ns();
    if (ring_placement_create(ring, shards, replicas, false, &base) != RING_OK) abort();
    double place_ms = (bench_now_ns() - start) / 1e6;
    if (ring_placement_create(joined, shards, replicas, false, &after_join) != RING_OK ||
        ring_placement_create(left, shards, replicas, false, &after_leave) != RING_OK)
        abort();
    size_t total = (size_t)shards * replicas;
    struct ring_move *moves = malloc(total * sizeof(*moves));
    double *loads = calloc(count, sizeof(*loads)), *leaders = calloc(count, sizeof(*leaders));
    if (moves == NULL || loads == NULL || leaders == NULL) abort();
    for (size_t i = 0; i < total; i++) {
        loads[placement_index(ring, base->node_ids[i])] += 1;
        if (i % replicas == 0) leaders[placement_index(ring, base->node_ids[i])] += 1;
    }
    uint32_t join = 0, leave = 0;
    if (ring_placement_diff(base, after_join, moves, (uint32_t)total, &join) != RING_OK) abort();
    uint32_t join_stayers = bench_moves_between_stayers(moves, join, count + 1);
    if (ring_placement_diff(base, after_leave, moves, (uint32_t)total, &leave) != RING_OK) abort();
    uint32_t leave_stayers = bench_moves_between_stayers(moves, leave, count);
    char label[48];
    snprintf(label, sizeof(label), "%s", variant->name);
    printf("| %u | %s | %.2f | %.2f | %u (%.2fx) | %u | %u (%.2fx) | %u | %.1f |\n", count, label,
           bench_balance_of(loads, count).peak, bench_balance_of(leaders, count).peak, join,
           join / ((double)total / (count + 1)), join_stayers, leave, leave / ((double)total / count),
           leave_stayers, place_ms);
    fflush(stdout);
    free(moves);
    free(loads);
    free(leaders);
    ring_placement_destroy(base);
    ring_placement_destroy(after_join);
    ring_placement_destroy(after_leave);
    ring_destroy(ring);
    ring_destroy(joined);
    ring_destroy(left);
}

static int bench_usage(const char *message)
{
    fprintf(stderr, "ring_bench: %s\nusage: ring_bench [--keys K] [--nodes N,N,...] [--algorithms NAME,...]\n"
                    "algorithms: vnodes1 vnodes10 vnodes100 vnodes1000 vnodes256 jump rendezvous maglev bounded\n",
            message);
    return 2;
}

static bool bench_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || (*end != '\0' && *end != ',') || v < min || v > max) return false;
    *value = (uint32_t)v;
    return true;
}

int main(int argc, char **argv)
{
    uint32_t key_count = BENCH_KEYS_DEFAULT, sizes[BENCH_SIZES_MAX] = {3, 10, 100, 1000}, size_count = 4;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL) return bench_usage("option needs a value");
        i++;
        if (strcmp(argv[i - 1], "--keys") == 0) {
            if (!bench_parse_u32(value, 1000, BENCH_KEYS_MAX, &key_count)) return bench_usage("bad --keys");
        } else if (strcmp(argv[i - 1], "--nodes") == 0) {
            size_count = 0;
            for (const char *p = value; *p != '\0' && size_count < BENCH_SIZES_MAX;) {
                if (!bench_parse_u32(p, 2, RING_NODES_MAX - 1, &sizes[size_count++])) return bench_usage("bad --nodes");
                p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
            }
        } else if (strcmp(argv[i - 1], "--algorithms") == 0) {
            only = value;
        } else {
            return bench_usage("unknown option");
        }
    }
    struct bench_keys keys = {.count = key_count};
    keys.bytes = malloc((size_t)key_count * BENCH_KEY_BYTES);
    keys.lengths = malloc(key_count);
    uint32_t *owners[3] = {malloc(key_count * sizeof(uint32_t)), malloc(key_count * sizeof(uint32_t)),
                           malloc(key_count * sizeof(uint32_t))};
    if (keys.bytes == NULL || keys.lengths == NULL || !owners[0] || !owners[1] || !owners[2]) abort();
    /* Touch every page now, so that the first row's timing does not pay the page faults. */
    for (int i = 0; i < 3; i++) memset(owners[i], 0, key_count * sizeof(uint32_t));
    for (uint32_t k = 0; k < key_count; k++)
        keys.lengths[k] = (uint8_t)snprintf(keys.bytes[k], BENCH_KEY_BYTES, "key:%u", k);
    printf("%u keys; join adds node N+1, leave removes node N; ideal moved = 1/(N+1) on join, 1/N on leave\n\n",
           key_count);
    printf("| N | algorithm | keys peak/mean | keys sd (99%% of nodes) | sampling sd sqrt(N/K) |"
           " keyspace sd (99%% of nodes) | shards 16/256/4096 peak/mean | join moved | leave moved |"
           " ideal join / leave | ns/lookup | bytes |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (uint32_t s = 0; s < size_count; s++)
        for (int v = 0; v < BENCH_VARIANTS; v++) {
            if (only != NULL) {
                const char *hit = strstr(only, bench_variants[v].name);
                size_t len = strlen(bench_variants[v].name);
                if (hit == NULL || (hit[len] != '\0' && hit[len] != ',')) continue;
            } else if (bench_variants[v].vnodes == 256 ||
                       (bench_variants[v].vnodes == 655373 && sizes[s] < 1000)) {
                continue; /* rows only asked for, or only where they tell something */
            }
            bench_row(&bench_variants[v], sizes[s], &keys, owners);
        }
    enum { PLACEMENT_SHARDS = 4096, PLACEMENT_REPLICAS = 3 };
    printf("\nPlacement: %u shards x %u replicas (ring_placement_create); moves counted by ring_placement_diff,"
           " ideal = R x S / (N+1) on join, R x S / N on leave\n\n", PLACEMENT_SHARDS, PLACEMENT_REPLICAS);
    printf("| N | algorithm | replicas peak/mean | leaders peak/mean | join moves (x ideal) |"
           " join moves between staying nodes | leave moves (x ideal) | leave moves between staying nodes |"
           " ms to place all |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    static const char *const placement_variants[] = {"vnodes100", "vnodes256", "vnodes1000", "jump",
                                                     "rendezvous", "maglev", "bounded"};
    for (uint32_t s = 0; s < size_count; s++)
        for (size_t p = 0; p < sizeof(placement_variants) / sizeof(placement_variants[0]); p++) {
            if (sizes[s] <= PLACEMENT_REPLICAS) continue; /* every node holds every shard */
            for (int v = 0; v < BENCH_VARIANTS; v++)
                if (strcmp(bench_variants[v].name, placement_variants[p]) == 0)
                    bench_placement_row(&bench_variants[v], sizes[s], PLACEMENT_SHARDS, PLACEMENT_REPLICAS);
        }
    free(keys.bytes);
    free(keys.lengths);
    for (int i = 0; i < 3; i++) free(owners[i]);
    return 0;
}
