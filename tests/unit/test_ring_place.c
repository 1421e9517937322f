/*
 * test_ring_place.c — replica placement and its difference: pinned placements (they must
 * never change), R distinct nodes, R distinct zones when asked, minimal movement of replicas
 * on join and leave, the placement difference equal to what actually changed, bounded loads'
 * cap on replicas per node, and the membership text parser with its errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring/ring.h"

enum {
    TEST_MEMBERSHIPS = 30,
    TEST_SHARDS = 512,
    TEST_NODES_MAX = 48,
    TEST_MOVES_MAX = TEST_SHARDS * RING_REPLICAS_MAX,
};

static uint64_t test_next(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void test_membership(uint64_t *seed, struct ring_node *nodes, uint32_t count, uint32_t zones)
{
    for (uint32_t i = 0; i < count; i++) {
        bool fresh;
        do {
            nodes[i] = (struct ring_node){.id = test_next(seed) % 1000000,
                                          .weight = 1 + (uint32_t)(test_next(seed) % 3),
                                          .zone = 1 + (uint32_t)(test_next(seed) % zones)};
            fresh = true;
            for (uint32_t j = 0; j < i; j++) fresh = fresh && nodes[j].id != nodes[i].id;
        } while (!fresh);
    }
}

static struct ring *test_ring(enum ring_algorithm algorithm, const struct ring_node *nodes,
                              uint32_t count)
{
    struct ring_config config = ring_config_default(algorithm);
    config.vnodes = 64;
    if (algorithm == RING_ALGORITHM_JUMP) config.vnodes = 1;
    struct ring *ring = NULL;
    assert_int_equal(ring_create(&config, nodes, count, &ring), RING_OK);
    return ring;
}

static uint32_t test_zone_of(const struct ring_node *nodes, uint32_t count, uint64_t id)
{
    for (uint32_t i = 0; i < count; i++)
        if (nodes[i].id == id) return nodes[i].zone;
    fail_msg("node %llu is not a member", (unsigned long long)id);
    return 0;
}

/*
 * Pinned placements of shards 0, 1 and 42 over nodes 1..5, three replicas. These are what a
 * running cluster has on disk: if this test fails, placement changed and every cluster
 * upgraded to this code would move data it need not move.
 */
static void test_pinned_placements(void **unused)
{
    struct ring_node nodes[5];
    for (int i = 0; i < 5; i++) nodes[i] = (struct ring_node){.id = (uint64_t)i + 1, .weight = 1};
    static const struct {
        enum ring_algorithm algorithm;
        uint64_t ids[3][3];
    } pins[] = {
        {RING_ALGORITHM_VNODES, {{2, 1, 5}, {1, 2, 5}, {1, 3, 5}}},
        {RING_ALGORITHM_JUMP, {{1, 5, 3}, {3, 5, 1}, {2, 4, 5}}},
        {RING_ALGORITHM_RENDEZVOUS, {{1, 3, 2}, {1, 3, 2}, {1, 2, 3}}},
        {RING_ALGORITHM_MAGLEV, {{3, 2, 5}, {3, 4, 1}, {3, 5, 4}}},
    };
    static const uint64_t shards[3] = {0, 1, 42};
    for (size_t p = 0; p < sizeof(pins) / sizeof(pins[0]); p++) {
        struct ring_config config = ring_config_default(pins[p].algorithm);
        struct ring *ring = NULL;
        assert_int_equal(ring_create(&config, nodes, 5, &ring), RING_OK);
        for (int s = 0; s < 3; s++) {
            uint64_t ids[3];
            assert_int_equal(ring_place(ring, shards[s], 3, false, ids), RING_OK);
            for (int r = 0; r < 3; r++) assert_true(ids[r] == pins[p].ids[s][r]);
        }
        ring_destroy(ring);
    }
}

/* Every algorithm: R distinct members; with zone_spread, R distinct zones. */
static void test_distinct_and_zone_spread(void **unused)
{
    uint64_t seed = 11;
    for (int a = RING_ALGORITHM_VNODES; a <= RING_ALGORITHM_BOUNDED; a++)
        for (int m = 0; m < TEST_MEMBERSHIPS / 3; m++) {
            struct ring_node nodes[TEST_NODES_MAX];
            uint32_t count = 5 + (uint32_t)(test_next(&seed) % 40), zones = 3 + m % 3;
            test_membership(&seed, nodes, count, zones);
            if (a == RING_ALGORITHM_JUMP)
                for (uint32_t n = 0; n < count; n++) nodes[n].weight = 1;
            struct ring *ring = test_ring((enum ring_algorithm)a, nodes, count);
            uint32_t replicas = 1 + m % 3;
            bool spread = m % 2 == 0;
            struct ring_placement *placement = NULL;
            int rv = ring_placement_create(ring, TEST_SHARDS, replicas, spread, &placement);
            /* Random zones may leave fewer distinct zones than replicas: then it must say so. */
            uint32_t seen[8] = {0}, distinct_zones = 0;
            for (uint32_t n = 0; n < count; n++) distinct_zones += seen[nodes[n].zone]++ == 0;
            if (spread && distinct_zones < replicas) {
                assert_int_equal(rv, RING_ERROR_FEW_ZONES);
                ring_destroy(ring);
                continue;
            }
            assert_int_equal(rv, RING_OK);
            for (uint32_t s = 0; s < TEST_SHARDS; s++) {
                const uint64_t *ids = &placement->node_ids[s * replicas];
                for (uint32_t r = 0; r < replicas; r++) {
                    uint32_t zone = test_zone_of(nodes, count, ids[r]);
                    for (uint32_t q = 0; q < r; q++) {
                        assert_true(ids[q] != ids[r]);
                        if (spread) assert_true(test_zone_of(nodes, count, ids[q]) != zone);
                    }
                }
            }
            ring_placement_destroy(placement);
            ring_destroy(ring);
        }
}

/*
 * Applies `moves` to a copy of `before` and checks the result holds, shard by shard, the
 * same set of nodes as `after`; and that the moves are exactly the (shard, node) pairs that
 * changed: as many as were counted independently.
 */
static void test_diff_matches(const struct ring_placement *before, const struct ring_placement *after,
                              const struct ring_move *moves, uint32_t move_count)
{
    uint32_t replicas = before->replicas, changed = 0;
    size_t total = (size_t)before->shard_count * replicas;
    uint64_t *applied = malloc(total * sizeof(*applied));
    assert_non_null(applied);
    memcpy(applied, before->node_ids, total * sizeof(*applied));
    for (uint32_t i = 0; i < move_count; i++) {
        uint64_t *ids = &applied[(size_t)moves[i].shard * replicas];
        uint32_t hits = 0;
        for (uint32_t r = 0; r < replicas; r++)
            if (ids[r] == moves[i].from) {
                ids[r] = moves[i].to;
                hits++;
            }
        assert_int_equal(hits, 1);
    }
    for (uint32_t s = 0; s < before->shard_count; s++)
        for (uint32_t r = 0; r < replicas; r++) {
            bool in_applied = false, in_before = false;
            for (uint32_t q = 0; q < replicas; q++) {
                in_applied = in_applied || applied[s * replicas + q] == after->node_ids[s * replicas + r];
                in_before = in_before || before->node_ids[s * replicas + q] == after->node_ids[s * replicas + r];
            }
            assert_true(in_applied);
            changed += !in_before;
        }
    assert_int_equal(changed, move_count);
    free(applied);
}

/*
 * Join and leave on placements: the difference equals what changed; with the vnode ring and
 * rendezvous every moved replica goes to the joining node or comes from the leaving one.
 * Jump joins at the end and leaves from the end. Bounded loads may also move replicas between
 * nodes that stay (its cap shifts), but the number of moves stays below (1/eps^2) x the ideal.
 */
static void test_join_leave_moves(void **unused)
{
    static struct ring_move moves[TEST_MOVES_MAX];
    uint64_t seed = 12;
    for (int a = RING_ALGORITHM_VNODES; a <= RING_ALGORITHM_BOUNDED; a++)
        for (int m = 0; m < TEST_MEMBERSHIPS / 3; m++) {
            struct ring_node nodes[TEST_NODES_MAX + 1];
            uint32_t count = 4 + (uint32_t)(test_next(&seed) % 40), replicas = 1 + m % 3;
            test_membership(&seed, nodes, count + 1, 4);
            if (a == RING_ALGORITHM_JUMP)
                for (uint32_t n = 0; n <= count; n++) nodes[n].weight = 1;
            struct ring *small = test_ring((enum ring_algorithm)a, nodes, count);
            struct ring *large = test_ring((enum ring_algorithm)a, nodes, count + 1);
            struct ring_placement *before = NULL, *after = NULL;
            assert_int_equal(ring_placement_create(small, TEST_SHARDS, replicas, false, &before), RING_OK);
            assert_int_equal(ring_placement_create(large, TEST_SHARDS, replicas, false, &after), RING_OK);
            uint32_t join_count = 0, leave_count = 0;
            assert_int_equal(ring_placement_diff(before, after, moves, TEST_MOVES_MAX, &join_count), RING_OK);
            test_diff_matches(before, after, moves, join_count);
            bool strict = a == RING_ALGORITHM_VNODES || a == RING_ALGORITHM_RENDEZVOUS;
            for (uint32_t i = 0; i < join_count && strict; i++) assert_true(moves[i].to == nodes[count].id);
            assert_int_equal(ring_placement_diff(after, before, moves, TEST_MOVES_MAX, &leave_count), RING_OK);
            test_diff_matches(after, before, moves, leave_count);
            for (uint32_t i = 0; i < leave_count && strict; i++) assert_true(moves[i].from == nodes[count].id);
            assert_int_equal(join_count, leave_count);
            double ideal = (double)replicas * TEST_SHARDS / (count + 1);
            assert_true(join_count > 0);
            assert_true(join_count < (a == RING_ALGORITHM_BOUNDED ? 16 : 3) * ideal + 20);
            ring_placement_destroy(before);
            ring_placement_destroy(after);
            ring_destroy(small);
            ring_destroy(large);
        }
}

/* Bounded loads: no node holds more than ceil((1 + eps) x its weighted share) replicas. */
static void test_bounded_placement_cap(void **unused)
{
    uint64_t seed = 13;
    uint32_t checked = 0;
    for (int m = 0; m < TEST_MEMBERSHIPS; m++) {
        struct ring_node nodes[TEST_NODES_MAX];
        uint32_t count = 3 + (uint32_t)(test_next(&seed) % 40), replicas = 1 + m % 3;
        test_membership(&seed, nodes, count, 4);
        struct ring *ring = test_ring(RING_ALGORITHM_BOUNDED, nodes, count);
        struct ring_placement *placement = NULL;
        uint32_t shards = 16 + (uint32_t)(test_next(&seed) % 4000);
        assert_int_equal(ring_placement_create(ring, shards, replicas, false, &placement), RING_OK);
        uint64_t weight_total = 0;
        for (uint32_t n = 0; n < count; n++) weight_total += nodes[n].weight;
        /* A node whose cap is above one replica of every shard cannot use all of it (replicas
         * are distinct), so the others may have to take more than theirs: the cap holds when
         * every node's cap, (1 + eps) x weight x R / W of the shards, is at most all of them. */
        bool feasible = true;
        for (uint32_t n = 0; n < count; n++)
            feasible = feasible && 125 * nodes[n].weight * replicas <= 100 * weight_total;
        for (uint32_t n = 0; n < count; n++) {
            uint64_t held = 0;
            for (size_t i = 0; i < (size_t)shards * replicas; i++) held += placement->node_ids[i] == nodes[n].id;
            uint64_t numerator = 1250ull * shards * replicas * nodes[n].weight;
            uint64_t cap = (numerator + 1000 * weight_total - 1) / (1000 * weight_total);
            assert_true(held <= cap || !feasible);
            checked += feasible;
        }
        uint64_t ids[3];
        assert_int_equal(ring_place(ring, 7, 1, false, ids), RING_ERROR_NEEDS_BATCH);
        ring_placement_destroy(placement);
        ring_destroy(ring);
    }
    assert_true(checked > 500); /* the cap was checked on most nodes, not skipped */
}

/* The errors of placement and diff. */
static void test_place_errors(void **unused)
{
    struct ring_node nodes[3] = {{1, 1, 1}, {2, 1, 1}, {3, 1, 2}};
    struct ring *ring = test_ring(RING_ALGORITHM_VNODES, nodes, 3);
    uint64_t ids[RING_REPLICAS_MAX];
    assert_int_equal(ring_place(ring, 1, 0, false, ids), RING_ERROR_BAD_REPLICAS);
    assert_int_equal(ring_place(ring, 1, 4, false, ids), RING_ERROR_BAD_REPLICAS);
    assert_int_equal(ring_place(ring, 1, 3, true, ids), RING_ERROR_FEW_ZONES);
    assert_int_equal(ring_place(ring, 1, 2, true, ids), RING_OK);
    struct ring_placement *two = NULL, *three = NULL;
    assert_int_equal(ring_placement_create(ring, 0, 2, false, &two), RING_ERROR_BAD_SHARDS);
    assert_int_equal(ring_placement_create(ring, RING_SHARDS_MAX + 1, 2, false, &two), RING_ERROR_BAD_SHARDS);
    assert_int_equal(ring_placement_create(ring, 10, 2, false, &two), RING_OK);
    assert_int_equal(ring_placement_create(ring, 10, 3, false, &three), RING_OK);
    struct ring_move moves[4];
    uint32_t count = 0;
    assert_int_equal(ring_placement_diff(two, three, moves, 4, &count), RING_ERROR_SHAPE);
    ring_placement_destroy(three);
    struct ring_node others[3] = {{4, 1, 1}, {5, 1, 1}, {6, 1, 2}};
    struct ring *other = test_ring(RING_ALGORITHM_VNODES, others, 3);
    assert_int_equal(ring_placement_create(other, 10, 2, false, &three), RING_OK);
    /* Every replica of every shard moves: 20 moves do not fit in 4. */
    assert_int_equal(ring_placement_diff(two, three, moves, 4, &count), RING_ERROR_MOVES_MAX);
    assert_int_equal(count, 20);
    ring_placement_destroy(two);
    ring_placement_destroy(three);
    ring_destroy(ring);
    ring_destroy(other);
}

static void test_expect_parse_error(const char *text, const char *fragment)
{
    static struct ring_membership m;
    char error[RING_ERROR_BYTES_MAX] = "";
    assert_int_equal(ring_membership_parse(text, strlen(text), &m, error), -1);
    if (strstr(error, fragment) == NULL) fail_msg("'%s': error '%s' lacks '%s'", text, error, fragment);
}

/* The membership text: ids, weights, zones, and a clear sentence for each mistake. */
static void test_membership_parse(void **unused)
{
    static struct ring_membership m;
    char error[RING_ERROR_BYTES_MAX] = "";
    const char *text = "1@east,2:3@west,18446744073709551615,7@east";
    assert_int_equal(ring_membership_parse(text, strlen(text), &m, error), 0);
    assert_int_equal(m.count, 4);
    assert_int_equal(m.zone_count, 2);
    assert_true(m.nodes[1].id == 2 && m.nodes[1].weight == 3 && m.nodes[1].zone == 2);
    assert_true(m.nodes[2].id == UINT64_MAX && m.nodes[2].zone == 0);
    assert_int_equal(m.nodes[3].zone, 1);
    assert_string_equal(m.zone_names[1], "east");
    assert_string_equal(m.zone_names[0], "-");
    assert_int_equal(ring_membership_add(&m, "9:2@north", 9, error), 0);
    assert_int_equal(m.count, 5);
    assert_int_equal(m.zone_count, 3);
    assert_int_equal(ring_membership_add(&m, "9", 1, error), -1);
    assert_non_null(strstr(error, "twice"));
    assert_int_equal(ring_membership_add(&m, "10,11", 5, error), -1);
    assert_int_equal(ring_membership_remove(&m, 2), 0);
    assert_int_equal(ring_membership_remove(&m, 2), -1);
    assert_true(m.count == 4 && m.nodes[1].id == UINT64_MAX);
    test_expect_parse_error("", "expected a decimal id");
    test_expect_parse_error("1,,2", "expected a decimal id");
    test_expect_parse_error("1,x", "expected a decimal id");
    test_expect_parse_error("18446744073709551616", "expected a decimal id");
    test_expect_parse_error("1:0", "weight must be 1 to 1000");
    test_expect_parse_error("1:1001", "weight must be 1 to 1000");
    test_expect_parse_error("1@", "a zone is 1 to 31");
    test_expect_parse_error("1@abcdefghijklmnopqrstuvwxyz0123456", "a zone is 1 to 31");
    test_expect_parse_error("1@a b", "unexpected ' '");
    test_expect_parse_error("1;2", "unexpected ';'");
    test_expect_parse_error("3,3", "node 3 appears twice");
    static char big[RING_MEMBERSHIP_TEXT_BYTES_MAX + 2];
    memset(big, '1', sizeof(big) - 1);
    test_expect_parse_error(big, "longer than");
    /* 4097 nodes: one too many. */
    static char many[RING_NODES_MAX * 6 + 16];
    size_t at = 0;
    for (int i = 0; i <= RING_NODES_MAX; i++) at += (size_t)sprintf(many + at, "%s%d", i ? "," : "", i);
    test_expect_parse_error(many, "too many nodes");
    at = 0;
    for (int i = 0; i <= RING_ZONES_MAX; i++) at += (size_t)sprintf(many + at, "%s%d@z%d", i ? "," : "", i, i);
    test_expect_parse_error(many, "too many zones");
}

int main(void)
{
    /* The time limit: the whole binary takes about a second (three under ASan); a hang past
     * this is a failure, which SIGALRM's default action (the process ends) reports. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_placements),
        cmocka_unit_test(test_distinct_and_zone_spread),
        cmocka_unit_test(test_join_leave_moves),
        cmocka_unit_test(test_bounded_placement_cap),
        cmocka_unit_test(test_place_errors),
        cmocka_unit_test(test_membership_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
