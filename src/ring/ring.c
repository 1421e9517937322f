/*
 * ring.c — building a ring from a membership, the accessors, single-key lookups and the
 * error table. The algorithms themselves live one per file (vnodes.c, jump.c, ...).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_internal.h"

static const char *const ring_error_texts[] = {
    [0] = "ok",
    [1] = "a ring needs at least one node",
    [2] = "too many nodes (at most 4096)",
    [3] = "node ids must be unique",
    [4] = "a weight must be 1 to 1000",
    [5] = "virtual nodes per unit of weight must be 1 to 4096",
    [6] = ("too many points (virtual nodes x total weight above 8,388,608; rendezvous: total "
           "weight above 65,536)"),
    [7] = ("the Maglev table size must be a prime larger than the node count and the total "
           "weight, at most 16,777,213"),
    [8] = "epsilon must be 0.001 to 10",
    [9] = "unknown algorithm",
    [10] = "jump hash has no weights: every weight must be 1",
    [11] = ("jump hash can only add or remove nodes at the end of the list: removing another "
            "node would renumber, and so move, every bucket after it"),
    [12] = "replicas must be 1 to 16 and at most the number of nodes",
    [13] = "fewer zones than replicas: replicas cannot be spread over distinct zones",
    [14] = "bounded loads places a whole batch at once: use ring_assign or a placement",
    [15] = "shard count must be 1 to 1,048,576",
    [16] = "the two placements differ in shard count or replica count",
    [17] = "more moves than the buffer holds",
    [18] = "out of memory",
};

const char *ring_strerror(int error)
{
    int index = -error;
    if (index < 0 || (size_t)index >= sizeof(ring_error_texts) / sizeof(ring_error_texts[0]))
        return "unknown ring error";
    return ring_error_texts[index];
}

static const char *const ring_algorithm_names[] = {
    [RING_ALGORITHM_VNODES] = "vnodes",   [RING_ALGORITHM_JUMP] = "jump",
    [RING_ALGORITHM_RENDEZVOUS] = "rendezvous", [RING_ALGORITHM_MAGLEV] = "maglev",
    [RING_ALGORITHM_BOUNDED] = "bounded",
};

const char *ring_algorithm_name(enum ring_algorithm algorithm)
{
    if (algorithm < RING_ALGORITHM_VNODES || algorithm > RING_ALGORITHM_BOUNDED) return "unknown";
    return ring_algorithm_names[algorithm];
}

enum ring_algorithm ring_algorithm_parse(const char *name)
{
    for (int a = RING_ALGORITHM_VNODES; a <= RING_ALGORITHM_BOUNDED; a++)
        if (strcmp(name, ring_algorithm_names[a]) == 0) return (enum ring_algorithm)a;
    if (strcmp(name, "ring") == 0) return RING_ALGORITHM_VNODES;
    return 0;
}

struct ring_config ring_config_default(enum ring_algorithm algorithm)
{
    return (struct ring_config){.algorithm = algorithm,
                                .vnodes = RING_VNODES_DEFAULT,
                                .maglev_table_size = RING_MAGLEV_TABLE_DEFAULT,
                                .bounded_epsilon_permille = RING_EPSILON_PERMILLE_DEFAULT};
}

static int ring_node_compare_id(const void *a, const void *b)
{
    uint64_t x = ((const struct ring_node *)a)->id, y = ((const struct ring_node *)b)->id;
    return (x > y) - (x < y);
}

/* Checks what the algorithm needs of its configuration and of the (id-sorted) nodes. */
static int ring_validate(const struct ring_config *config, const struct ring_node *sorted,
                         uint32_t count, uint64_t weight_total)
{
    for (uint32_t i = 0; i < count; i++) {
        if (sorted[i].weight < 1 || sorted[i].weight > RING_WEIGHT_MAX) return RING_ERROR_BAD_WEIGHT;
        if (i > 0 && sorted[i].id == sorted[i - 1].id) return RING_ERROR_DUPLICATE_ID;
    }
    switch (config->algorithm) {
    case RING_ALGORITHM_VNODES:
    case RING_ALGORITHM_BOUNDED:
        if (config->vnodes < 1 || config->vnodes > RING_VNODES_MAX) return RING_ERROR_BAD_VNODES;
        if (weight_total * config->vnodes > RING_POINTS_MAX) return RING_ERROR_TOO_MANY_POINTS;
        if (config->algorithm == RING_ALGORITHM_BOUNDED &&
            (config->bounded_epsilon_permille < RING_EPSILON_PERMILLE_MIN ||
             config->bounded_epsilon_permille > RING_EPSILON_PERMILLE_MAX))
            return RING_ERROR_BAD_EPSILON;
        return RING_OK;
    case RING_ALGORITHM_JUMP:
        return weight_total == count ? RING_OK : RING_ERROR_JUMP_WEIGHT;
    case RING_ALGORITHM_RENDEZVOUS:
        return weight_total > RING_RENDEZVOUS_WEIGHT_MAX ? RING_ERROR_TOO_MANY_POINTS : RING_OK;
    case RING_ALGORITHM_MAGLEV:
        if (config->maglev_table_size <= count || config->maglev_table_size > RING_MAGLEV_TABLE_MAX ||
            !ring_prime_is(config->maglev_table_size) || weight_total > config->maglev_table_size)
            return RING_ERROR_BAD_TABLE_SIZE;
        return RING_OK;
    }
    return RING_ERROR_BAD_ALGORITHM;
}

static uint32_t ring_count_zones(const struct ring_node *nodes, uint32_t count)
{
    uint32_t zones = 0;
    for (uint32_t i = 0; i < count; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) seen = nodes[j].zone == nodes[i].zone;
        zones += !seen;
    }
    return zones;
}

int ring_create(const struct ring_config *config, const struct ring_node *nodes, uint32_t count,
                struct ring **ring_out)
{
    assert(config != NULL && ring_out != NULL);
    *ring_out = NULL;
    if (count == 0) return RING_ERROR_NO_NODES;
    if (count > RING_NODES_MAX) return RING_ERROR_TOO_MANY_NODES;
    assert(nodes != NULL);
    struct ring *ring = calloc(1, sizeof(*ring));
    struct ring_node *sorted = malloc(count * sizeof(*sorted));
    if (ring == NULL || sorted == NULL) {
        free(ring);
        free(sorted);
        return RING_ERROR_NO_MEMORY;
    }
    memcpy(sorted, nodes, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), ring_node_compare_id);
    uint64_t weight_total = 0;
    for (uint32_t i = 0; i < count; i++) weight_total += nodes[i].weight;
    int rv = ring_validate(config, sorted, count, weight_total);
    if (rv == RING_OK && config->algorithm == RING_ALGORITHM_JUMP)
        memcpy(sorted, nodes, count * sizeof(*sorted)); /* jump's buckets keep the given order */
    ring->config = *config;
    ring->nodes = sorted;
    ring->node_count = count;
    ring->weight_total = weight_total;
    ring->zone_count = ring_count_zones(sorted, count);
    if (rv == RING_OK && (config->algorithm == RING_ALGORITHM_VNODES ||
                          config->algorithm == RING_ALGORITHM_BOUNDED))
        rv = ring_vnodes_build(ring);
    if (rv == RING_OK && config->algorithm == RING_ALGORITHM_RENDEZVOUS)
        rv = ring_rendezvous_build(ring);
    if (rv == RING_OK && config->algorithm == RING_ALGORITHM_MAGLEV) rv = ring_maglev_build(ring);
    if (rv == RING_OK) {
        ring->loads = calloc(count, sizeof(*ring->loads));
        if (ring->loads == NULL) rv = RING_ERROR_NO_MEMORY;
    }
    if (rv != RING_OK) {
        ring_destroy(ring);
        return rv;
    }
    *ring_out = ring;
    return RING_OK;
}

void ring_destroy(struct ring *ring)
{
    if (ring == NULL) return;
    free(ring->nodes);
    free(ring->point_hashes);
    free(ring->point_nodes);
    free(ring->maglev_table);
    free(ring->loads);
    free(ring);
}

const struct ring_config *ring_config_of(const struct ring *ring) { return &ring->config; }

uint32_t ring_node_count(const struct ring *ring) { return ring->node_count; }

const struct ring_node *ring_node_at(const struct ring *ring, uint32_t index)
{
    assert(index < ring->node_count);
    return &ring->nodes[index];
}

int64_t ring_node_index(const struct ring *ring, uint64_t id)
{
    for (uint32_t i = 0; i < ring->node_count; i++)
        if (ring->nodes[i].id == id) return i;
    return -1;
}

size_t ring_memory_bytes(const struct ring *ring)
{
    size_t bytes = sizeof(*ring) + ring->node_count * (sizeof(struct ring_node) + sizeof(uint32_t));
    bytes += (size_t)ring->point_count * (sizeof(uint64_t) + sizeof(uint32_t));
    if (ring->maglev_table != NULL) bytes += (size_t)ring->config.maglev_table_size * sizeof(uint32_t);
    return bytes;
}

uint32_t ring_lookup_hash(const struct ring *ring, uint64_t hash)
{
    switch (ring->config.algorithm) {
    case RING_ALGORITHM_VNODES:
        return ring->point_nodes[ring_vnodes_first_point(ring, hash)];
    case RING_ALGORITHM_JUMP:
        return ring_jump_bucket(hash, ring->node_count);
    case RING_ALGORITHM_RENDEZVOUS:
        return (uint32_t)ring_rendezvous_best(ring, hash, NULL, NULL);
    case RING_ALGORITHM_MAGLEV:
        return ring->maglev_table[hash % ring->config.maglev_table_size];
    case RING_ALGORITHM_BOUNDED:
        break;
    }
    assert(!"ring_lookup_hash: bounded loads has no single-key lookup");
    return 0;
}

int ring_lookup(const struct ring *ring, const void *key, size_t length, uint64_t *node_id_out)
{
    if (ring->config.algorithm == RING_ALGORITHM_BOUNDED) return RING_ERROR_NEEDS_BATCH;
    *node_id_out = ring->nodes[ring_lookup_hash(ring, ring_hash_key(key, length))].id;
    return RING_OK;
}

int ring_assign(struct ring *ring, const uint64_t *hashes, uint32_t count,
                uint32_t *node_indexes_out)
{
    if (ring->config.algorithm == RING_ALGORITHM_BOUNDED) {
        ring_bounded_assign(ring, hashes, count, node_indexes_out);
        return RING_OK;
    }
    for (uint32_t i = 0; i < count; i++) node_indexes_out[i] = ring_lookup_hash(ring, hashes[i]);
    return RING_OK;
}

uint32_t ring_share_samples(const struct ring *ring)
{
    switch (ring->config.algorithm) {
    case RING_ALGORITHM_VNODES:
    case RING_ALGORITHM_MAGLEV:
        return 0;
    case RING_ALGORITHM_RENDEZVOUS: {
        uint32_t samples = RING_SHARE_SAMPLES;
        while (samples > 1024 && (uint64_t)samples * ring->point_count > RING_SHARE_HASHES_MAX) samples /= 2;
        return samples;
    }
    default:
        return RING_SHARE_SAMPLES;
    }
}

uint64_t ring_share_sample_hash(uint32_t i, uint32_t n)
{
    assert(n > 0 && i < n);
    uint64_t arc = UINT64_MAX / n;
    return (uint64_t)i * arc + arc / 2;
}

/*
 * Shares estimated from evenly spread hashes, assigned one by one (bounded loads as one
 * batch of that many items), so that nothing is allocated.
 */
static void ring_shares_sampled(struct ring *ring, double *shares)
{
    uint32_t samples = ring_share_samples(ring);
    bool bounded = ring->config.algorithm == RING_ALGORITHM_BOUNDED;
    if (bounded) ring_bounded_begin(ring);
    for (uint32_t n = 0; n < ring->node_count; n++) shares[n] = 0;
    for (uint32_t i = 0; i < samples; i++) {
        uint64_t hash = ring_share_sample_hash(i, samples);
        uint32_t owner = bounded ? ring_bounded_next(ring, hash, samples) : ring_lookup_hash(ring, hash);
        shares[owner] += 1.0 / samples;
    }
}

void ring_shares(struct ring *ring, double *shares)
{
    switch (ring->config.algorithm) {
    case RING_ALGORITHM_VNODES:
        ring_vnodes_shares(ring, shares);
        return;
    case RING_ALGORITHM_MAGLEV:
        for (uint32_t n = 0; n < ring->node_count; n++) shares[n] = 0;
        for (uint32_t e = 0; e < ring->config.maglev_table_size; e++)
            shares[ring->maglev_table[e]] += 1.0 / ring->config.maglev_table_size;
        return;
    default:
        ring_shares_sampled(ring, shares);
        return;
    }
}

int ring_change_check(enum ring_algorithm algorithm, const struct ring_node *before,
                      uint32_t before_count, const struct ring_node *after, uint32_t after_count)
{
    if (algorithm != RING_ALGORITHM_JUMP) return RING_OK;
    uint32_t common = before_count < after_count ? before_count : after_count;
    for (uint32_t i = 0; i < common; i++)
        if (before[i].id != after[i].id) return RING_ERROR_JUMP_REMOVE;
    return RING_OK;
}
