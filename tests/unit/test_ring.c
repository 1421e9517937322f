/*
 * test_ring.c — the consistent-hashing algorithms of src/ring/ over many random memberships:
 * balance within the bounds theory gives for each algorithm, minimal movement when a node
 * joins or leaves, determinism (order of the membership, pinned hashes), keys with binary
 * bytes and empty keys, jump hash refusing to remove a node in the middle, and every error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring/ring.h"

enum {
    TEST_MEMBERSHIPS = 40,   /* random memberships per property */
    TEST_KEYS = 20000,       /* keys per membership for movement checks */
    TEST_NODES_MAX = 64,
};

static uint64_t test_next(uint64_t *state) /* splitmix64: a seeded, repeatable source */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random membership of `count` nodes with distinct random ids, weight 1, up to 4 zones. */
static void test_membership(uint64_t *seed, struct ring_node *nodes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        bool fresh;
        do {
            nodes[i] = (struct ring_node){.id = test_next(seed) % 100000, .weight = 1,
                                          .zone = (uint32_t)(test_next(seed) % 4) + 1};
            fresh = true;
            for (uint32_t j = 0; j < i; j++) fresh = fresh && nodes[j].id != nodes[i].id;
        } while (!fresh);
    }
}

static struct ring *test_ring(enum ring_algorithm algorithm, uint32_t vnodes,
                              const struct ring_node *nodes, uint32_t count)
{
    struct ring_config config = ring_config_default(algorithm);
    config.vnodes = vnodes;
    struct ring *ring = NULL;
    assert_int_equal(ring_create(&config, nodes, count, &ring), RING_OK);
    assert_non_null(ring);
    return ring;
}

static uint64_t test_owner_id(struct ring *ring, uint64_t hash)
{
    return ring_node_at(ring, ring_lookup_hash(ring, hash))->id;
}

/*
 * The vnode ring: a node's share of the circle is a sum of V arcs, so its relative standard
 * deviation is close to 1/sqrt(V). Checked on exact arc lengths, averaged over memberships,
 * within a factor 0.6..1.4 of 1/sqrt(V); no node above 1 + 6/sqrt(V) of the mean.
 */
static void test_vnodes_balance(void **unused)
{
    static const uint32_t vnodes[] = {16, 100, 400};
    uint64_t seed = 1;
    for (size_t v = 0; v < 3; v++) {
        double relative_sd_sum = 0;
        for (int m = 0; m < TEST_MEMBERSHIPS; m++) {
            struct ring_node nodes[TEST_NODES_MAX];
            uint32_t count = 8 + (uint32_t)(test_next(&seed) % 32);
            test_membership(&seed, nodes, count);
            struct ring *ring = test_ring(RING_ALGORITHM_VNODES, vnodes[v], nodes, count);
            double shares[TEST_NODES_MAX], sum = 0, squares = 0, peak = 0;
            ring_shares(ring, shares);
            for (uint32_t n = 0; n < count; n++) {
                double relative = shares[n] * count;
                sum += shares[n];
                squares += (relative - 1) * (relative - 1);
                peak = relative > peak ? relative : peak;
            }
            assert_true(sum > 0.999999 && sum < 1.000001);
            assert_true(peak < 1 + 6 / sqrt((double)vnodes[v]));
            relative_sd_sum += sqrt(squares / count);
            ring_destroy(ring);
        }
        double expected = 1 / sqrt((double)vnodes[v]);
        double measured = relative_sd_sum / TEST_MEMBERSHIPS;
        assert_true(measured > 0.6 * expected && measured < 1.4 * expected);
    }
}

/*
 * Maglev: every round of the fill gives each node exactly one slot, so with weights 1 the
 * counts differ by at most one: floor(M/N) or ceil(M/N). Weighted: within `weight` of w x M/W.
 */
static void test_maglev_balance(void **unused)
{
    uint64_t seed = 2;
    for (int m = 0; m < TEST_MEMBERSHIPS; m++) {
        struct ring_node nodes[TEST_NODES_MAX];
        uint32_t count = 1 + (uint32_t)(test_next(&seed) % 60);
        test_membership(&seed, nodes, count);
        bool weighted = m % 2 == 1;
        uint64_t weight_total = 0;
        for (uint32_t n = 0; n < count; n++) {
            if (weighted) nodes[n].weight = 1 + (uint32_t)(test_next(&seed) % 5);
            weight_total += nodes[n].weight;
        }
        struct ring *ring = test_ring(RING_ALGORITHM_MAGLEV, 1, nodes, count);
        double shares[TEST_NODES_MAX];
        ring_shares(ring, shares);
        const double table = RING_MAGLEV_TABLE_DEFAULT;
        for (uint32_t n = 0; n < count; n++) {
            const struct ring_node *node = ring_node_at(ring, n);
            double entries = shares[n] * table;
            double fair = table * node->weight / (double)weight_total;
            assert_true(entries > fair - node->weight - 0.5 && entries < fair + node->weight + 0.5);
        }
        ring_destroy(ring);
    }
}

/*
 * Jump and rendezvous spread keys uniformly: counts of K keys over N nodes are binomial, so
 * no node is above mean + 6 standard deviations or below mean - 6.
 */
static void test_uniform_balance(void **unused)
{
    static const enum ring_algorithm algorithms[] = {RING_ALGORITHM_JUMP, RING_ALGORITHM_RENDEZVOUS};
    uint64_t seed = 3;
    for (size_t a = 0; a < 2; a++)
        for (int m = 0; m < TEST_MEMBERSHIPS / 4; m++) {
            struct ring_node nodes[TEST_NODES_MAX];
            uint32_t count = 2 + (uint32_t)(test_next(&seed) % 40);
            test_membership(&seed, nodes, count);
            struct ring *ring = test_ring(algorithms[a], 1, nodes, count);
            uint32_t loads[TEST_NODES_MAX] = {0};
            for (uint32_t k = 0; k < TEST_KEYS; k++) loads[ring_lookup_hash(ring, test_next(&seed))]++;
            double mean = (double)TEST_KEYS / count, sd = sqrt(mean * (1 - 1.0 / count));
            for (uint32_t n = 0; n < count; n++) {
                assert_true(loads[n] < mean + 6 * sd);
                assert_true(loads[n] > mean - 6 * sd);
            }
            ring_destroy(ring);
        }
}

/* Bounded loads: no node above ceil((1 + eps) x its share of the batch), for every batch. */
static void test_bounded_balance(void **unused)
{
    uint64_t seed = 4;
    static uint64_t hashes[TEST_KEYS];
    static uint32_t owners[TEST_KEYS];
    for (int m = 0; m < TEST_MEMBERSHIPS; m++) {
        struct ring_node nodes[TEST_NODES_MAX];
        uint32_t count = 2 + (uint32_t)(test_next(&seed) % 40);
        test_membership(&seed, nodes, count);
        struct ring_config config = ring_config_default(RING_ALGORITHM_BOUNDED);
        config.vnodes = 1 + (uint32_t)(test_next(&seed) % 100); /* even one point per node */
        config.bounded_epsilon_permille = 50 + (uint32_t)(test_next(&seed) % 500);
        struct ring *ring = NULL;
        assert_int_equal(ring_create(&config, nodes, count, &ring), RING_OK);
        uint32_t items = 1 + (uint32_t)(test_next(&seed) % TEST_KEYS);
        for (uint32_t k = 0; k < items; k++) hashes[k] = test_next(&seed);
        assert_int_equal(ring_assign(ring, hashes, items, owners), RING_OK);
        uint32_t loads[TEST_NODES_MAX] = {0};
        for (uint32_t k = 0; k < items; k++) loads[owners[k]]++;
        uint64_t cap = ((1000u + config.bounded_epsilon_permille) * (uint64_t)items + 1000u * count - 1) /
                       (1000u * count);
        for (uint32_t n = 0; n < count; n++) assert_true(loads[n] <= cap);
        uint64_t id;
        assert_int_equal(ring_lookup(ring, "k", 1, &id), RING_ERROR_NEEDS_BATCH);
        ring_destroy(ring);
    }
}

/*
 * Join and leave: a key that changes owner moves to the joining node, or from the leaving
 * one, never between two nodes that stay (vnodes, jump, rendezvous). Maglev may move a few
 * keys between staying nodes; their fraction stays within 3 points of the ideal 1/(N+1).
 */
static void test_minimal_movement(void **unused)
{
    static const enum ring_algorithm algorithms[] = {RING_ALGORITHM_VNODES, RING_ALGORITHM_JUMP,
                                                     RING_ALGORITHM_RENDEZVOUS, RING_ALGORITHM_MAGLEV};
    uint64_t seed = 5;
    for (size_t a = 0; a < 4; a++)
        for (int m = 0; m < TEST_MEMBERSHIPS / 4; m++) {
            struct ring_node nodes[TEST_NODES_MAX + 1];
            uint32_t count = 2 + (uint32_t)(test_next(&seed) % 40);
            test_membership(&seed, nodes, count + 1);
            /* before: the first `count` nodes; after: one more at the end (jump's order). */
            struct ring *small = test_ring(algorithms[a], 64, nodes, count);
            struct ring *large = test_ring(algorithms[a], 64, nodes, count + 1);
            uint64_t joined = nodes[count].id;
            uint32_t moved = 0;
            for (uint32_t k = 0; k < TEST_KEYS; k++) {
                uint64_t hash = test_next(&seed);
                uint64_t before = test_owner_id(small, hash), after = test_owner_id(large, hash);
                if (before == after) continue;
                moved++;
                if (algorithms[a] != RING_ALGORITHM_MAGLEV) assert_true(after == joined);
            }
            double ideal = 1.0 / (count + 1), fraction = (double)moved / TEST_KEYS;
            double bound = ideal + 6 * sqrt(ideal / TEST_KEYS);
            if (algorithms[a] == RING_ALGORITHM_VNODES) bound += ideal * 6 / sqrt(64.0);
            if (algorithms[a] == RING_ALGORITHM_MAGLEV) bound += 0.02;
            assert_true(moved > 0);
            if (fraction >= bound)
                printf("%s: %u nodes, moved %.4f, bound %.4f\n", ring_algorithm_name(algorithms[a]),
                       count, fraction, bound);
            assert_true(fraction < bound);
            ring_destroy(small);
            ring_destroy(large);
        }
}

/*
 * Leave of any node, not only the last: with the ring and rendezvous a key changes owner only
 * if the leaving node owned it; Maglev moves at most 2 points more than the leaver's share.
 */
static void test_leave_any_node(void **unused)
{
    static const enum ring_algorithm algorithms[] = {RING_ALGORITHM_VNODES, RING_ALGORITHM_RENDEZVOUS,
                                                     RING_ALGORITHM_MAGLEV};
    uint64_t seed = 8;
    for (size_t a = 0; a < 3; a++)
        for (int m = 0; m < TEST_MEMBERSHIPS / 4; m++) {
            struct ring_node nodes[TEST_NODES_MAX], rest[TEST_NODES_MAX];
            uint32_t count = 3 + (uint32_t)(test_next(&seed) % 40);
            uint32_t leaving = (uint32_t)(test_next(&seed) % count);
            test_membership(&seed, nodes, count);
            uint32_t k = 0;
            for (uint32_t n = 0; n < count; n++)
                if (n != leaving) rest[k++] = nodes[n];
            struct ring *before = test_ring(algorithms[a], 64, nodes, count);
            struct ring *after = test_ring(algorithms[a], 64, rest, count - 1);
            uint32_t moved = 0, owned = 0;
            for (uint32_t key = 0; key < TEST_KEYS; key++) {
                uint64_t hash = test_next(&seed);
                uint64_t old_owner = test_owner_id(before, hash), new_owner = test_owner_id(after, hash);
                owned += old_owner == nodes[leaving].id;
                assert_true(new_owner != nodes[leaving].id);
                if (old_owner == new_owner) continue;
                moved++;
                if (algorithms[a] != RING_ALGORITHM_MAGLEV) assert_true(old_owner == nodes[leaving].id);
            }
            assert_true(owned > 0);
            assert_true(moved >= owned); /* everything the leaver held moved */
            if (algorithms[a] == RING_ALGORITHM_MAGLEV) assert_true(moved - owned < 0.02 * TEST_KEYS);
            ring_destroy(before);
            ring_destroy(after);
        }
}

/*
 * Weights: a node's share follows its weight. The ring's share of a node of weight w is a sum
 * of w x V arcs (relative sd 1/sqrt(w V)); rendezvous gives exactly w / W in expectation,
 * counted over keys (binomial). Both within 6 standard deviations for every node.
 */
static void test_weighted_shares(void **unused)
{
    uint64_t seed = 9;
    for (int m = 0; m < TEST_MEMBERSHIPS / 4; m++) {
        struct ring_node nodes[TEST_NODES_MAX];
        uint32_t count = 2 + (uint32_t)(test_next(&seed) % 20);
        test_membership(&seed, nodes, count);
        uint64_t weight_total = 0;
        for (uint32_t n = 0; n < count; n++) {
            nodes[n].weight = 1 + (uint32_t)(test_next(&seed) % 8);
            weight_total += nodes[n].weight;
        }
        struct ring *ring = test_ring(RING_ALGORITHM_VNODES, 100, nodes, count);
        struct ring *rendezvous = test_ring(RING_ALGORITHM_RENDEZVOUS, 1, nodes, count);
        double shares[TEST_NODES_MAX];
        uint32_t loads[TEST_NODES_MAX] = {0};
        ring_shares(ring, shares);
        for (uint32_t k = 0; k < TEST_KEYS; k++) loads[ring_lookup_hash(rendezvous, test_next(&seed))]++;
        for (uint32_t n = 0; n < count; n++) {
            const struct ring_node *node = ring_node_at(ring, n);
            assert_true(ring_node_at(rendezvous, n)->id == node->id); /* both sorted by id */
            double fair = (double)node->weight / (double)weight_total;
            double ring_sd = fair / sqrt(100.0 * node->weight), keys_sd = sqrt(TEST_KEYS * fair * (1 - fair));
            assert_true(fabs(shares[n] - fair) < 6 * ring_sd);
            assert_true(fabs(loads[n] - TEST_KEYS * fair) < 6 * keys_sd);
        }
        ring_destroy(ring);
        ring_destroy(rendezvous);
    }
}

/* Bounded loads may move keys between staying nodes, but not many: below (1/eps^2)/(N+1). */
static void test_bounded_movement(void **unused)
{
    uint64_t seed = 6;
    static uint64_t hashes[TEST_KEYS];
    static uint32_t before[TEST_KEYS], after[TEST_KEYS];
    for (int m = 0; m < TEST_MEMBERSHIPS / 4; m++) {
        struct ring_node nodes[TEST_NODES_MAX + 1];
        uint32_t count = 4 + (uint32_t)(test_next(&seed) % 40);
        test_membership(&seed, nodes, count + 1);
        struct ring *small = test_ring(RING_ALGORITHM_BOUNDED, 100, nodes, count);
        struct ring *large = test_ring(RING_ALGORITHM_BOUNDED, 100, nodes, count + 1);
        for (uint32_t k = 0; k < TEST_KEYS; k++) hashes[k] = test_next(&seed);
        ring_assign(small, hashes, TEST_KEYS, before);
        ring_assign(large, hashes, TEST_KEYS, after);
        uint32_t moved = 0;
        for (uint32_t k = 0; k < TEST_KEYS; k++)
            moved += ring_node_at(small, before[k])->id != ring_node_at(large, after[k])->id;
        assert_true(moved > 0);
        assert_true((double)moved / TEST_KEYS < 16.0 / (count + 1));
        ring_destroy(small);
        ring_destroy(large);
    }
}

/* The order of the membership does not change any owner (jump excepted: order is buckets). */
static void test_order_independent(void **unused)
{
    static const enum ring_algorithm algorithms[] = {RING_ALGORITHM_VNODES, RING_ALGORITHM_RENDEZVOUS,
                                                     RING_ALGORITHM_MAGLEV};
    uint64_t seed = 7;
    for (size_t a = 0; a < 3; a++) {
        struct ring_node nodes[20], reversed[20];
        test_membership(&seed, nodes, 20);
        for (int i = 0; i < 20; i++) reversed[i] = nodes[19 - i];
        struct ring *one = test_ring(algorithms[a], 50, nodes, 20);
        struct ring *two = test_ring(algorithms[a], 50, reversed, 20);
        for (int k = 0; k < 5000; k++) {
            uint64_t hash = test_next(&seed);
            assert_true(test_owner_id(one, hash) == test_owner_id(two, hash));
        }
        ring_destroy(one);
        ring_destroy(two);
    }
}

/*
 * Pinned: the key hash and owners of fixed keys. These must never change, or every process
 * of an upgraded cluster would disagree with the others about who owns what.
 */
static void test_pinned_owners(void **unused)
{
    assert_true(ring_hash_key("", 0) == 0x2d06800538d394c2ull); /* XXH3_64bits of nothing */
    struct ring_node nodes[5];
    for (int i = 0; i < 5; i++) nodes[i] = (struct ring_node){.id = (uint64_t)i + 1, .weight = 1};
    static const struct {
        enum ring_algorithm algorithm;
        uint64_t owners[4]; /* of "", "a", "user:42", "\0\xff" */
    } pins[] = {
        {RING_ALGORITHM_VNODES, {5, 4, 1, 2}},
        {RING_ALGORITHM_JUMP, {1, 2, 2, 3}},
        {RING_ALGORITHM_RENDEZVOUS, {5, 4, 3, 5}},
        {RING_ALGORITHM_MAGLEV, {3, 1, 2, 3}},
    };
    static const char *const keys[] = {"", "a", "user:42", "\0\xff"};
    static const size_t lengths[] = {0, 1, 7, 2};
    for (size_t p = 0; p < sizeof(pins) / sizeof(pins[0]); p++) {
        struct ring_config config = ring_config_default(pins[p].algorithm);
        struct ring *ring = NULL;
        assert_int_equal(ring_create(&config, nodes, 5, &ring), RING_OK);
        for (int k = 0; k < 4; k++) {
            uint64_t owner = 0;
            assert_int_equal(ring_lookup(ring, keys[k], lengths[k], &owner), RING_OK);
            assert_true(owner == pins[p].owners[k]);
        }
        ring_destroy(ring);
    }
}

/*
 * Binary keys: a key is its bytes, all of them. Keys that differ only after a NUL byte, or
 * only in a byte above 127, hash differently; the empty key (also given as NULL) has an owner.
 */
static void test_binary_and_empty_keys(void **unused)
{
    static const char one[] = {'k', '\0', 'a'}, two[] = {'k', '\0', 'b'};
    static const unsigned char high[] = {0xff, 0x80, 0x00};
    assert_true(ring_hash_key(one, 3) != ring_hash_key(two, 3));
    assert_true(ring_hash_key(one, 3) != ring_hash_key(one, 1));
    assert_true(ring_hash_key(high, 3) != ring_hash_key(high, 2));
    assert_true(ring_hash_key(NULL, 0) == ring_hash_key("", 0));
    struct ring_node nodes[3] = {{1, 1, 0}, {2, 1, 0}, {3, 1, 0}};
    for (int a = RING_ALGORITHM_VNODES; a <= RING_ALGORITHM_MAGLEV; a++) {
        struct ring *ring = test_ring((enum ring_algorithm)a, 10, nodes, 3);
        uint64_t owner = 0;
        assert_int_equal(ring_lookup(ring, NULL, 0, &owner), RING_OK);
        assert_true(owner >= 1 && owner <= 3);
        assert_int_equal(ring_lookup(ring, high, sizeof(high), &owner), RING_OK);
        assert_true(owner >= 1 && owner <= 3);
        ring_destroy(ring);
    }
}

/* Jump hash: adding or removing at the end is fine; removing any other node is refused. */
static void test_jump_refuses_middle_removal(void **unused)
{
    struct ring_node four[4] = {{10, 1, 0}, {20, 1, 0}, {30, 1, 0}, {40, 1, 0}};
    struct ring_node without_last[3] = {{10, 1, 0}, {20, 1, 0}, {30, 1, 0}};
    struct ring_node without_second[3] = {{10, 1, 0}, {30, 1, 0}, {40, 1, 0}};
    assert_int_equal(ring_change_check(RING_ALGORITHM_JUMP, four, 4, without_last, 3), RING_OK);
    assert_int_equal(ring_change_check(RING_ALGORITHM_JUMP, without_last, 3, four, 4), RING_OK);
    assert_int_equal(ring_change_check(RING_ALGORITHM_JUMP, four, 4, without_second, 3),
                     RING_ERROR_JUMP_REMOVE);
    assert_int_equal(ring_change_check(RING_ALGORITHM_VNODES, four, 4, without_second, 3), RING_OK);
    struct ring_node weighted[2] = {{1, 2, 0}, {2, 1, 0}};
    struct ring_config config = ring_config_default(RING_ALGORITHM_JUMP);
    struct ring *ring = NULL;
    assert_int_equal(ring_create(&config, weighted, 2, &ring), RING_ERROR_JUMP_WEIGHT);
    assert_null(ring);
    assert_non_null(strstr(ring_strerror(RING_ERROR_JUMP_REMOVE), "end of the list"));
}

/* Every configuration error is reported, with nothing allocated. */
static void test_create_errors(void **unused)
{
    struct ring_node nodes[3] = {{1, 1, 0}, {2, 1, 0}, {1, 1, 0}};
    struct ring *ring = NULL;
    struct ring_config config = ring_config_default(RING_ALGORITHM_VNODES);
    assert_int_equal(ring_create(&config, nodes, 0, &ring), RING_ERROR_NO_NODES);
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_DUPLICATE_ID);
    nodes[2].id = 3;
    nodes[1].weight = 0;
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_WEIGHT);
    nodes[1].weight = RING_WEIGHT_MAX + 1;
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_WEIGHT);
    for (int i = 0; i < 3; i++) nodes[i].weight = RING_WEIGHT_MAX;
    config.vnodes = RING_VNODES_MAX; /* 3000 x 4096 points: above the bound */
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_TOO_MANY_POINTS);
    config.vnodes = 0;
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_VNODES);
    for (int i = 0; i < 3; i++) nodes[i].weight = 1;
    config = ring_config_default(RING_ALGORITHM_MAGLEV);
    config.maglev_table_size = 65536; /* not prime */
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_TABLE_SIZE);
    config.maglev_table_size = 3; /* prime but not above the node count */
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_TABLE_SIZE);
    config = ring_config_default(RING_ALGORITHM_BOUNDED);
    config.bounded_epsilon_permille = 0;
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_EPSILON);
    config.algorithm = (enum ring_algorithm)99;
    assert_int_equal(ring_create(&config, nodes, 3, &ring), RING_ERROR_BAD_ALGORITHM);
    assert_null(ring);
    static struct ring_node many[RING_NODES_MAX + 1];
    for (int i = 0; i < 66; i++) many[i] = (struct ring_node){.id = (uint64_t)i, .weight = 1000};
    config = ring_config_default(RING_ALGORITHM_RENDEZVOUS); /* 66,000 identities: above the bound */
    assert_int_equal(ring_create(&config, many, 66, &ring), RING_ERROR_TOO_MANY_POINTS);
    assert_int_equal(ring_create(&config, many, 65, &ring), RING_OK);
    ring_destroy(ring);
    ring = NULL;
    config = ring_config_default(RING_ALGORITHM_JUMP);
    assert_int_equal(ring_create(&config, many, RING_NODES_MAX + 1, &ring), RING_ERROR_TOO_MANY_NODES);
    for (int e = 0; e >= RING_ERROR_NO_MEMORY; e--) assert_true(strlen(ring_strerror(e)) > 1);
    assert_string_equal(ring_strerror(-99), "unknown ring error");
}

/* Memory: the vnode ring pays 12 bytes per point, Maglev 4 per slot, jump nothing per key. */
static void test_memory_bytes(void **unused)
{
    struct ring_node nodes[10];
    for (int i = 0; i < 10; i++) nodes[i] = (struct ring_node){.id = (uint64_t)i, .weight = 1};
    struct ring *vnodes = test_ring(RING_ALGORITHM_VNODES, 100, nodes, 10);
    struct ring *maglev = test_ring(RING_ALGORITHM_MAGLEV, 1, nodes, 10);
    struct ring *jump = test_ring(RING_ALGORITHM_JUMP, 1, nodes, 10);
    assert_true(ring_memory_bytes(vnodes) >= 1000 * 12 && ring_memory_bytes(vnodes) < 1000 * 12 + 2048);
    assert_true(ring_memory_bytes(maglev) >= 65537 * 4 && ring_memory_bytes(maglev) < 65537 * 4 + 2048);
    assert_true(ring_memory_bytes(jump) < 2048);
    ring_destroy(vnodes);
    ring_destroy(maglev);
    ring_destroy(jump);
}

int main(void)
{
    /* The time limit: the whole binary takes about a second (three under ASan); a hang past
     * this is a failure, which SIGALRM's default action (the process ends) reports. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vnodes_balance),
        cmocka_unit_test(test_maglev_balance),
        cmocka_unit_test(test_uniform_balance),
        cmocka_unit_test(test_bounded_balance),
        cmocka_unit_test(test_minimal_movement),
        cmocka_unit_test(test_leave_any_node),
        cmocka_unit_test(test_weighted_shares),
        cmocka_unit_test(test_bounded_movement),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_pinned_owners),
        cmocka_unit_test(test_binary_and_empty_keys),
        cmocka_unit_test(test_jump_refuses_middle_removal),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_memory_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
