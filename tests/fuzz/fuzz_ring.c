/*
 * fuzz_ring.c — the membership input of src/ring/ (the text a command line or configuration
 * gives) and every ring built from it.
 *
 * Input: byte 0 picks the algorithm (bits 0-2, mod 5) and zone spreading (bit 3); byte 1 the
 * replica count (1..4); byte 2 the virtual nodes per unit of weight (1..64); the rest is the
 * membership text "ID[:WEIGHT][@ZONE],...".
 * Properties checked:
 *  - parsing either fails with a one-line sentence, or yields 1..RING_NODES_MAX nodes with
 *    unique ids, weights in 1..RING_WEIGHT_MAX and zones that name parsed zones;
 *  - ring_create accepts it or names a documented error; then every lookup (binary and empty
 *    keys) names a member, shares sum to 1, placements hold R distinct members (R distinct
 *    zones when asked), a placement's diff with itself is empty, and the diff after removing
 *    the first node moves replicas only off that node (vnodes, rendezvous) and always turns
 *    the old placement into the new one.
 * Memberships whose rings would hold more than FUZZ_POINTS_MAX points are parsed but not
 * built, to keep every run fast; ring_test covers the big ones.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "ring/ring.h"

enum {
    FUZZ_POINTS_MAX = 20000,
    FUZZ_SHARDS = 24,
    FUZZ_MOVES_MAX = FUZZ_SHARDS * 4,
};

static void fuzz_check_membership(const struct ring_membership *m)
{
    FUZZ_CHECK(m->count >= 1 && m->count <= RING_NODES_MAX);
    FUZZ_CHECK(m->zone_count <= RING_ZONES_MAX);
    for (uint32_t i = 0; i < m->count; i++) {
        FUZZ_CHECK(m->nodes[i].weight >= 1 && m->nodes[i].weight <= RING_WEIGHT_MAX);
        FUZZ_CHECK(m->nodes[i].zone <= m->zone_count);
        for (uint32_t j = 0; j < i; j++) FUZZ_CHECK(m->nodes[i].id != m->nodes[j].id);
    }
    for (uint32_t z = 1; z <= m->zone_count; z++) {
        size_t length = strnlen(m->zone_names[z], RING_ZONE_NAME_BYTES_MAX);
        FUZZ_CHECK(length >= 1 && length < RING_ZONE_NAME_BYTES_MAX);
    }
}

static bool fuzz_member(const struct ring_membership *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->count; i++)
        if (m->nodes[i].id == id) return true;
    return false;
}

static uint32_t fuzz_zone(const struct ring_membership *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->count; i++)
        if (m->nodes[i].id == id) return m->nodes[i].zone;
    FUZZ_CHECK(!"not a member");
    return 0;
}

static void fuzz_check_placement(const struct ring_membership *m, const struct ring_placement *p)
{
    for (uint32_t s = 0; s < p->shard_count; s++)
        for (uint32_t r = 0; r < p->replicas; r++) {
            uint64_t id = p->node_ids[s * p->replicas + r];
            FUZZ_CHECK(fuzz_member(m, id));
            for (uint32_t q = 0; q < r; q++) {
                uint64_t other = p->node_ids[s * p->replicas + q];
                FUZZ_CHECK(other != id);
                if (p->zone_spread) FUZZ_CHECK(fuzz_zone(m, other) != fuzz_zone(m, id));
            }
        }
}

static void fuzz_lookups(const struct ring_membership *m, struct ring *ring)
{
    static const uint8_t keys[][4] = {{0, 0, 0, 0}, {0xff, 0, 0x80, 1}, {'k', 'e', 'y', 0}};
    uint64_t owner = 0;
    bool bounded = ring_config_of(ring)->algorithm == RING_ALGORITHM_BOUNDED;
    for (size_t k = 0; k < 3; k++)
        for (size_t length = 0; length <= 4; length++) {
            int rv = ring_lookup(ring, keys[k], length, &owner);
            FUZZ_CHECK(rv == (bounded ? RING_ERROR_NEEDS_BATCH : RING_OK));
            if (rv == RING_OK) FUZZ_CHECK(fuzz_member(m, owner));
        }
    double *shares = malloc(ring_node_count(ring) * sizeof(*shares));
    FUZZ_CHECK(shares != NULL);
    ring_shares(ring, shares);
    double sum = 0;
    for (uint32_t n = 0; n < ring_node_count(ring); n++) {
        FUZZ_CHECK(shares[n] >= 0);
        sum += shares[n];
    }
    FUZZ_CHECK(fabs(sum - 1) < 1e-6);
    free(shares);
}

/* Removes the first node, places again, and checks the diff against both placements. */
static void fuzz_leave(const struct ring_membership *m, const struct ring_config *config,
                       const struct ring_placement *before)
{
    static struct ring_membership left;
    left = *m;
    uint64_t leaving = m->nodes[0].id;
    FUZZ_CHECK(ring_membership_remove(&left, leaving) == 0);
    struct ring *ring = NULL;
    if (left.count < before->replicas || ring_create(config, left.nodes, left.count, &ring) != RING_OK) return;
    struct ring_placement *after = NULL;
    if (ring_placement_create(ring, before->shard_count, before->replicas, before->zone_spread, &after) == RING_OK) {
        fuzz_check_placement(&left, after);
        struct ring_move moves[FUZZ_MOVES_MAX];
        uint32_t count = 0;
        FUZZ_CHECK(ring_placement_diff(before, after, moves, FUZZ_MOVES_MAX, &count) == RING_OK);
        bool strict = !before->zone_spread && (config->algorithm == RING_ALGORITHM_VNODES ||
                                               config->algorithm == RING_ALGORITHM_RENDEZVOUS);
        for (uint32_t i = 0; i < count; i++) {
            if (strict) FUZZ_CHECK(moves[i].from == leaving);
            FUZZ_CHECK(fuzz_member(&left, moves[i].to));
        }
        /* Every replica the leaving node held moved. */
        uint32_t held = 0;
        for (uint32_t i = 0; i < before->shard_count * before->replicas; i++) held += before->node_ids[i] == leaving;
        FUZZ_CHECK(count >= held);
        ring_placement_destroy(after);
    }
    ring_destroy(ring);
}

static void fuzz_ring(const struct ring_membership *m, const struct ring_config *config, uint32_t replicas,
                      bool zone_spread)
{
    struct ring *ring = NULL;
    int rv = ring_create(config, m->nodes, m->count, &ring);
    if (rv != RING_OK) {
        FUZZ_CHECK(ring == NULL);
        FUZZ_CHECK(rv == RING_ERROR_TOO_MANY_POINTS || rv == RING_ERROR_JUMP_WEIGHT);
        return;
    }
    fuzz_lookups(m, ring);
    struct ring_placement *placement = NULL;
    rv = ring_placement_create(ring, FUZZ_SHARDS, replicas, zone_spread, &placement);
    if (rv == RING_OK) {
        fuzz_check_placement(m, placement);
        uint32_t count = 1;
        FUZZ_CHECK(ring_placement_diff(placement, placement, NULL, 0, &count) == RING_OK && count == 0);
        fuzz_leave(m, config, placement);
        ring_placement_destroy(placement);
    } else {
        FUZZ_CHECK(rv == RING_ERROR_BAD_REPLICAS || rv == RING_ERROR_FEW_ZONES);
        FUZZ_CHECK(rv != RING_ERROR_BAD_REPLICAS || replicas > m->count);
    }
    ring_destroy(ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    static struct ring_membership m;
    char error[RING_ERROR_BYTES_MAX];
    memset(error, 0, sizeof(error));
    const char *text = (const char *)data + 3;
    if (ring_membership_parse(text, size - 3, &m, error) != 0) {
        size_t length = strnlen(error, sizeof(error));
        FUZZ_CHECK(length > 0 && length < sizeof(error));
        FUZZ_CHECK(memchr(error, '\n', length) == NULL);
        return 0;
    }
    fuzz_check_membership(&m);
    struct ring_config config = ring_config_default((enum ring_algorithm)(data[0] % 8 % 5 + 1));
    config.vnodes = 1u + data[2] % 64;
    uint64_t weight_total = 0;
    for (uint32_t i = 0; i < m.count; i++) weight_total += m.nodes[i].weight;
    if (weight_total * config.vnodes > FUZZ_POINTS_MAX) return 0;
    /* Rendezvous shares cost samples x total weight hashes: keep a run well under a second. */
    if (config.algorithm == RING_ALGORITHM_RENDEZVOUS && weight_total > 64) return 0;
    fuzz_ring(&m, &config, 1u + data[1] % 4, (data[0] & 8) != 0);
    return 0;
}
