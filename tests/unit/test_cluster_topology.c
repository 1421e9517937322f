/*
 * test_cluster_topology.c — the cluster topology: built from a membership (replicas from the
 * ring, preferred leaders spread evenly, epochs), its validation rules, and its binary form
 * (round trips, pinned bytes, every truncation and every single-byte change handled, the
 * largest topology fitting its bound).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/topology.h"
#include "ring/ring.h"

static struct topology_node test_node(uint32_t id)
{
    struct topology_node node = {.id = id, .state = TOPOLOGY_NODE_ACTIVE, .weight = 1};
    snprintf(node.client.host, sizeof(node.client.host), "127.0.0.1");
    node.client.port = (uint16_t)(7000 + id);
    snprintf(node.peer.host, sizeof(node.peer.host), "127.0.0.1");
    node.peer.port = (uint16_t)(8000 + id);
    return node;
}

static struct topology *test_alloc(void)
{
    struct topology *topology = calloc(1, sizeof(*topology));
    assert_non_null(topology);
    return topology;
}

/* Builds the topology of nodes 1..count (ids spread out by `stride`) with S shards, R replicas. */
static int test_build(uint32_t count, uint32_t stride, uint32_t shards, uint32_t replicas,
                      const struct topology *previous, struct topology *out)
{
    static struct topology_node nodes[TOPOLOGY_NODES_MAX];
    for (uint32_t i = 0; i < count; i++) nodes[i] = test_node(1 + i * stride);
    struct topology_build_input input = {.cluster_id = 42, .shard_count = shards,
                                         .replica_count = replicas, .node_count = count,
                                         .nodes = nodes};
    return topology_build(&input, previous, out);
}

/* Every node leads floor(S/N) or ceil(S/N) shards. */
static void test_assert_balanced(const struct topology *topology, uint32_t placed)
{
    uint32_t counts[TOPOLOGY_NODES_MAX];
    topology_leader_counts(topology, counts);
    uint32_t low = topology->shard_count / placed;
    uint32_t high = low + (topology->shard_count % placed != 0);
    for (uint32_t i = 0; i < topology->node_count; i++) {
        if (topology->nodes[i].state == TOPOLOGY_NODE_LEAVING) {
            assert_int_equal(counts[i], 0);
            continue;
        }
        if (counts[i] < low || counts[i] > high)
            fail_msg("N=%u S=%u R=%u: node %u leads %u shards, not %u..%u", placed,
                     topology->shard_count, topology->replica_count, topology->nodes[i].id,
                     counts[i], low, high);
    }
}

static void test_build_basic(void **state)
{
    (void)state;
    struct topology *t = test_alloc();
    assert_int_equal(test_build(3, 1, 16, 3, NULL, t), TOPOLOGY_OK);
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
    assert_int_equal(t->epoch, 1);
    assert_int_equal(t->cluster_id, 42);
    assert_int_equal(t->vnodes, TOPOLOGY_VNODES_DEFAULT);
    assert_int_equal(t->node_count, 3);
    assert_int_equal(t->shard_count, 16);
    struct shardmap map;
    assert_int_equal(shardmap_init(&map, 16), 0);
    for (uint32_t s = 0; s < 16; s++) {
        uint32_t first, last;
        shardmap_range(&map, s, &first, &last);
        assert_int_equal(t->shards[s].first_slot, first);
        assert_int_equal(t->shards[s].last_slot, last);
        assert_int_equal(t->shards[s].replica_count, 3);
        assert_int_equal(t->shards[s].config_epoch, 1);
    }
    for (uint32_t slot = 0; slot < SLOT_COUNT; slot += 97)
        assert_int_equal(topology_shard_of_slot(t, slot), shardmap_shard_of_slot(&map, slot));
    assert_int_equal(topology_shard_of_slot(t, SLOT_LAST), 15);
    test_assert_balanced(t, 3);
    assert_non_null(topology_node_find(t, 2));
    assert_null(topology_node_find(t, 4));
    assert_null(topology_node_find(t, 0));
    free(t);
}

/* The replica sets are the ring's placement; only their order (the leader) may differ. */
static void test_build_follows_ring(void **state)
{
    (void)state;
    struct topology *t = test_alloc();
    assert_int_equal(test_build(7, 13, 64, 3, NULL, t), TOPOLOGY_OK);
    struct ring_node nodes[7];
    for (uint32_t i = 0; i < 7; i++) nodes[i] = (struct ring_node){.id = 1 + i * 13, .weight = 1};
    struct ring_config config = ring_config_default(RING_ALGORITHM_VNODES);
    struct ring *ring = NULL;
    assert_int_equal(ring_create(&config, nodes, 7, &ring), RING_OK);
    struct ring_placement *placement = NULL;
    assert_int_equal(ring_placement_create(ring, 64, 3, false, &placement), RING_OK);
    for (uint32_t s = 0; s < 64; s++)
        for (uint32_t r = 0; r < 3; r++)
            assert_true(topology_shard_has_replica(&t->shards[s], (uint32_t)placement->node_ids[s * 3 + r]));
    ring_placement_destroy(placement);
    ring_destroy(ring);
    free(t);
}

/* Test-side matching (Kuhn's augmenting paths, written independently of topology_leaders.c):
 * can every shard get a leader among its replicas with no node leading more than `cap`? */
struct test_matching {
    const struct topology *t;
    uint32_t cap;
    uint32_t load[TOPOLOGY_NODES_MAX];
    uint32_t owner[TOPOLOGY_NODES_MAX][TOPOLOGY_SHARDS_MAX]; /* shards held by each node */
    bool visited[TOPOLOGY_NODES_MAX];
};

static uint32_t test_index(const struct topology *t, uint32_t id)
{
    return (uint32_t)(topology_node_find(t, id) - t->nodes);
}

static bool test_augment(struct test_matching *m, uint32_t shard)
{
    const struct topology_shard *sh = &m->t->shards[shard];
    for (uint32_t r = 0; r < sh->replica_count; r++) {
        uint32_t node = test_index(m->t, sh->replicas[r]);
        if (m->visited[node]) continue;
        m->visited[node] = true;
        if (m->load[node] < m->cap) {
            m->owner[node][m->load[node]++] = shard;
            return true;
        }
        for (uint32_t k = 0; k < m->load[node]; k++) {
            if (test_augment(m, m->owner[node][k])) {
                m->owner[node][k] = shard;
                return true;
            }
        }
    }
    return false;
}

static uint32_t test_optimal_max(const struct topology *t)
{
    static struct test_matching m;
    for (uint32_t cap = (t->shard_count + t->node_count - 1) / t->node_count;; cap++) {
        memset(&m, 0, sizeof(m));
        m.t = t;
        m.cap = cap;
        uint32_t matched = 0;
        for (uint32_t s = 0; s < t->shard_count; s++) {
            memset(m.visited, 0, sizeof(m.visited));
            matched += test_augment(&m, s);
        }
        if (matched == t->shard_count) return cap;
    }
}

/* Over many memberships and shard counts: the busiest node leads as few shards as any choice
 * of leaders allows (computed by the matching above). The tally shows how often the result
 * is exactly even (uneven results come from nodes the ring gave few replicas); the small
 * cases below check the idlest node against brute force too. */
static void test_leaders_balanced(void **state)
{
    (void)state;
    static const uint32_t shard_counts[] = {1, 5, 16, 64, 100, 256, 1024};
    struct topology *t = test_alloc();
    uint32_t built = 0, even = 0, max_at_ceiling = 0, many = 0, many_even = 0;
    for (uint32_t n = 1; n <= 64; n += (n < 10 ? 1 : 9)) {
        for (size_t k = 0; k < sizeof(shard_counts) / sizeof(shard_counts[0]); k++) {
            for (uint32_t r = 2; r <= 3 && r <= n; r++) {
                uint32_t shards = shard_counts[k];
                assert_int_equal(test_build(n, 3 + n, shards, r, NULL, t), TOPOLOGY_OK);
                uint32_t counts[TOPOLOGY_NODES_MAX], high = 0, low = UINT32_MAX;
                topology_leader_counts(t, counts);
                for (uint32_t i = 0; i < n; i++) {
                    high = counts[i] > high ? counts[i] : high;
                    low = counts[i] < low ? counts[i] : low;
                }
                uint32_t optimal = test_optimal_max(t);
                if (high != optimal)
                    fail_msg("N=%u S=%u R=%u: busiest node leads %u, %u is possible", n, shards, r,
                             high, optimal);
                uint32_t ceiling = (shards + n - 1) / n;
                max_at_ceiling += high == ceiling;
                even += high == ceiling && low == shards / n;
                built++;
                if (shards >= 4 * n) {
                    many++;
                    many_even += high == ceiling && low == shards / n;
                }
            }
        }
    }
    /* One replica: the leader is the only replica, nothing can move. */
    assert_int_equal(test_build(5, 1, 64, 1, NULL, t), TOPOLOGY_OK);
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
    print_message("%u topologies: busiest node optimal in all, at ceil(S/N) in %u, all nodes "
                  "within floor..ceil in %u; with S >= 4N, %u of %u\n", built, max_at_ceiling,
                  even, many_even, many);
    /* With a few shards per node the ring nearly always leaves every node enough replicas
     * (97 of these 99 are even; the inputs are fixed, so this guards against regressions). */
    assert_true(many_even * 100 >= many * 95);
    free(t);
}

/* The fewest leaderships of the busiest node, then the most of the idlest, over every way of
 * choosing a leader among each shard's replicas (R^S choices). */
static void test_best_by_brute_force(const struct topology *t, uint32_t *best_max, uint32_t *best_min)
{
    uint32_t choice[16] = {0}, counts[TOPOLOGY_NODES_MAX];
    *best_max = UINT32_MAX;
    *best_min = 0;
    for (;;) {
        memset(counts, 0, t->node_count * sizeof(counts[0]));
        for (uint32_t s = 0; s < t->shard_count; s++)
            counts[topology_node_find(t, t->shards[s].replicas[choice[s]]) - t->nodes]++;
        uint32_t high = 0, low = UINT32_MAX;
        for (uint32_t i = 0; i < t->node_count; i++) {
            high = counts[i] > high ? counts[i] : high;
            low = counts[i] < low ? counts[i] : low;
        }
        if (high < *best_max || (high == *best_max && low > *best_min)) {
            *best_max = high;
            *best_min = low;
        }
        uint32_t s = 0;
        while (s < t->shard_count && ++choice[s] == t->shards[s].replica_count) choice[s++] = 0;
        if (s == t->shard_count) return;
    }
}

/* Small clusters, where the placement often leaves a node too few replicas for its share:
 * the balanced leaders are as good as the best of all choices (no node leads more than the
 * best possible busiest node, none fewer than the best possible idlest one). */
static void test_leaders_optimal(void **state)
{
    (void)state;
    struct topology *t = test_alloc();
    uint32_t cases = 0, short_of_even = 0;
    for (uint32_t n = 2; n <= 6; n++) {
        for (uint32_t shards = 1; shards <= 8; shards++) {
            for (uint32_t r = 2; r <= 3 && r <= n; r++) {
                for (uint32_t stride = 1; stride <= 40; stride += 13) {
                    assert_int_equal(test_build(n, stride, shards, r, NULL, t), TOPOLOGY_OK);
                    uint32_t best_max, best_min, counts[TOPOLOGY_NODES_MAX];
                    test_best_by_brute_force(t, &best_max, &best_min);
                    topology_leader_counts(t, counts);
                    uint32_t high = 0, low = UINT32_MAX;
                    for (uint32_t i = 0; i < n; i++) {
                        high = counts[i] > high ? counts[i] : high;
                        low = counts[i] < low ? counts[i] : low;
                    }
                    if (high != best_max || low != best_min)
                        fail_msg("N=%u S=%u R=%u stride %u: leaders %u..%u, best %u..%u", n,
                                 shards, r, stride, low, high, best_min, best_max);
                    short_of_even += best_max > (shards + n - 1) / n;
                    cases++;
                }
            }
        }
    }
    print_message("%u small topologies optimal (%u could not be even)\n", cases, short_of_even);
    free(t);
}

/* A rebuild of the same membership changes nothing but the epoch; a join moves replicas to
 * the new node only, keeps config epochs of unchanged shards, and stays balanced. */
static void test_rebuild_and_join(void **state)
{
    (void)state;
    struct topology *before = test_alloc(), *same = test_alloc(), *after = test_alloc();
    assert_int_equal(test_build(5, 1, 64, 3, NULL, before), TOPOLOGY_OK);
    assert_int_equal(test_build(5, 1, 64, 3, before, same), TOPOLOGY_OK);
    assert_int_equal(same->epoch, 2);
    for (uint32_t s = 0; s < 64; s++) {
        assert_int_equal(same->shards[s].config_epoch, 1);
        assert_memory_equal(same->shards[s].replicas, before->shards[s].replicas,
                            3 * sizeof(uint32_t));
    }
    same->epoch = 1;
    assert_true(topology_equal(same, before));

    assert_int_equal(test_build(6, 1, 64, 3, before, after), TOPOLOGY_OK);
    assert_int_equal(after->epoch, 2);
    test_assert_balanced(after, 6);
    uint32_t changed = 0, leaders_moved = 0;
    for (uint32_t s = 0; s < 64; s++) {
        const struct topology_shard *a = &after->shards[s], *b = &before->shards[s];
        bool same_order = memcmp(a->replicas, b->replicas, 3 * sizeof(uint32_t)) == 0;
        assert_int_equal(a->config_epoch, same_order ? 1 : 2);
        changed += !same_order;
        leaders_moved += a->replicas[0] != b->replicas[0];
        /* Replicas only move to the joining node: every old replica that is not in the new
         * set was replaced by node 6. */
        for (uint32_t r = 0; r < 3; r++)
            if (!topology_shard_has_replica(b, a->replicas[r])) assert_int_equal(a->replicas[r], 6);
    }
    assert_true(changed > 0);
    /* Node 6 must lead about 64/6 shards, so at least 10 leaderships move; the previous
     * preferred leaders are kept where possible, so far fewer than all of them move. */
    assert_true(leaders_moved >= 10 && leaders_moved <= 32);
    print_message("join: %u of 64 shards changed, %u leaders moved\n", changed, leaders_moved);
    free(before);
    free(same);
    free(after);
}

static void test_states_and_zones(void **state)
{
    (void)state;
    struct topology_node nodes[6];
    static const char *zones[] = {"east", "east", "west", "west", "north", "north"};
    for (uint32_t i = 0; i < 6; i++) {
        nodes[i] = test_node(10 - i); /* any order in, ascending out */
        snprintf(nodes[i].zone, sizeof(nodes[i].zone), "%s", zones[i]);
    }
    nodes[5].state = TOPOLOGY_NODE_LEAVING;  /* id 5 */
    nodes[4].state = TOPOLOGY_NODE_JOINING;  /* id 6 */
    struct topology_build_input input = {.cluster_id = 7, .shard_count = 32, .replica_count = 3,
                                         .zone_spread = true, .node_count = 6, .nodes = nodes};
    struct topology *t = test_alloc();
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_OK);
    for (uint32_t i = 1; i < 6; i++) assert_true(t->nodes[i - 1].id < t->nodes[i].id);
    bool joining_used = false;
    for (uint32_t s = 0; s < 32; s++) {
        const struct topology_shard *shard = &t->shards[s];
        assert_false(topology_shard_has_replica(shard, 5));
        joining_used = joining_used || topology_shard_has_replica(shard, 6);
        for (uint32_t a = 0; a < 3; a++)
            for (uint32_t b = 0; b < a; b++)
                assert_string_not_equal(topology_node_find(t, shard->replicas[a])->zone,
                                        topology_node_find(t, shard->replicas[b])->zone);
    }
    assert_true(joining_used);
    test_assert_balanced(t, 5);
    /* Four zones left once two nodes leave... three zones needed for three replicas. */
    nodes[0].state = TOPOLOGY_NODE_LEAVING; /* id 10, east */
    nodes[1].state = TOPOLOGY_NODE_LEAVING; /* id 9, east */
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_PLACEMENT);
    free(t);
}

static void test_build_errors(void **state)
{
    (void)state;
    struct topology *t = test_alloc(), *previous = test_alloc();
    assert_int_equal(test_build(3, 1, 0, 3, NULL, t), TOPOLOGY_ERROR_SHARD_COUNT);
    assert_int_equal(test_build(3, 1, TOPOLOGY_SHARDS_MAX + 1, 3, NULL, t), TOPOLOGY_ERROR_SHARD_COUNT);
    assert_int_equal(test_build(3, 1, 16, 0, NULL, t), TOPOLOGY_ERROR_REPLICAS);
    assert_int_equal(test_build(9, 1, 16, 8, NULL, t), TOPOLOGY_ERROR_REPLICAS);
    assert_int_equal(test_build(2, 1, 16, 3, NULL, t), TOPOLOGY_ERROR_PLACEMENT);
    assert_int_equal(test_build(0, 1, 16, 3, NULL, t), TOPOLOGY_ERROR_NODE_COUNT);
    assert_int_equal(test_build(3, 0, 16, 1, NULL, t), TOPOLOGY_ERROR_NODE_ID); /* ids 1, 1, 1 */
    assert_int_equal(test_build(3, 1, 16, 3, NULL, previous), TOPOLOGY_OK);
    assert_int_equal(test_build(3, 1, 8, 3, previous, t), TOPOLOGY_ERROR_PREVIOUS);

    struct topology_node nodes[3] = {test_node(1), test_node(2), test_node(3)};
    struct topology_build_input input = {.cluster_id = 1, .shard_count = 4, .replica_count = 3,
                                         .node_count = 3, .nodes = nodes};
    nodes[1].weight = 0;
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_WEIGHT);
    nodes[1].weight = 1;
    snprintf(nodes[1].client.host, sizeof(nodes[1].client.host), "a b");
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_ADDRESS);
    nodes[1] = test_node(2);
    nodes[1].peer.port = 0;
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_ADDRESS);
    nodes[1] = test_node(2);
    snprintf(nodes[1].zone, sizeof(nodes[1].zone), "zone/1");
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_ZONE);
    nodes[1] = test_node(2);
    nodes[1].state = 9;
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_NODE_STATE);
    nodes[1] = test_node(0);
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_NODE_ID);
    input.vnodes = TOPOLOGY_VNODES_MAX + 1;
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_ERROR_VNODES);
    for (int e = 0; e >= -20; e--) assert_true(strlen(topology_strerror(e)) > 1);
    assert_string_equal(topology_strerror(-21), "unknown topology error");
    free(t);
    free(previous);
}

static void test_validate(void **state)
{
    (void)state;
    struct topology *t = test_alloc();
    assert_int_equal(test_build(4, 1, 8, 3, NULL, t), TOPOLOGY_OK);
    struct topology *bad = test_alloc();
    *bad = *t;
    bad->shards[3].first_slot++; /* a gap */
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_SLOTS);
    *bad = *t;
    bad->shards[7].last_slot = SLOT_LAST - 1; /* slot 16383 uncovered */
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_SLOTS);
    *bad = *t;
    bad->shards[2].replicas[1] = bad->shards[2].replicas[0];
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_REPLICAS);
    *bad = *t;
    bad->shards[2].replicas[2] = 99;
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_REPLICAS);
    *bad = *t;
    bad->shards[2].replica_count = 0;
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_REPLICAS);
    *bad = *t;
    bad->shards[5].config_epoch = 2;
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_EPOCH);
    *bad = *t;
    bad->nodes[2].id = bad->nodes[1].id;
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_NODE_ID);
    *bad = *t;
    memset(bad->nodes[0].zone, 'z', sizeof(bad->nodes[0].zone)); /* no NUL */
    assert_int_equal(topology_validate(bad), TOPOLOGY_ERROR_ZONE);
    free(bad);
    free(t);
}

/* ---- the binary form ------------------------------------------------------------------- */

static void test_codec_round_trip(void **state)
{
    (void)state;
    struct topology *t = test_alloc(), *back = test_alloc();
    static uint8_t buffer[TOPOLOGY_ENCODED_BYTES_MAX];
    for (uint32_t n = 1; n <= 9; n += 4) {
        assert_int_equal(test_build(n, 5, 16 * n, n < 3 ? n : 3, NULL, t), TOPOLOGY_OK);
        snprintf(t->nodes[0].zone, sizeof(t->nodes[0].zone), "rack-%u", n);
        snprintf(t->nodes[0].client.host, sizeof(t->nodes[0].client.host), "::1");
        t->cluster_id = 0xfedcba9876543210ull;
        int64_t length = topology_encode(t, buffer, sizeof(buffer));
        assert_true(length > 0);
        assert_int_equal((size_t)length, topology_encoded_bytes(t));
        assert_int_equal(topology_encode(t, buffer, (size_t)length - 1), TOPOLOGY_ERROR_BUFFER);
        memset(back, 0xa5, sizeof(*back));
        assert_int_equal(topology_decode(buffer, (size_t)length, back), TOPOLOGY_OK);
        assert_true(topology_equal(t, back));
    }
    free(t);
    free(back);
}

/* The bytes of a one-node, one-shard topology, pinned: a change to the format must be a new
 * version, never a silent change of version 1. */
static void test_codec_pinned(void **state)
{
    (void)state;
    struct topology *t = test_alloc();
    assert_int_equal(test_build(1, 1, 1, 1, NULL, t), TOPOLOGY_OK);
    snprintf(t->nodes[0].zone, sizeof(t->nodes[0].zone), "z");
    t->cluster_id = 0x0102030405060708ull;
    uint8_t buffer[128];
    int64_t length = topology_encode(t, buffer, sizeof(buffer));
    static const uint8_t expected[] = {
        'C', 'T', 'O', 'P', 1, 0, 1, 0, 0x00, 0x01, 1, 0, 1, 0,       /* header ... */
        8, 7, 6, 5, 4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0,               /* cluster id, epoch */
        1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 'z',                      /* node 1, active, w 1 */
        9, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0x59, 0x1b,   /* client :7001 */
        9, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0x41, 0x1f,   /* peer :8001 */
        0, 0, 0xff, 0x3f, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, /* shard 0 */
    };
    assert_int_equal(length, sizeof(expected));
    assert_memory_equal(buffer, expected, sizeof(expected));
    free(t);
}

/* Every prefix is truncated; every single-byte change is either rejected or is another valid
 * topology whose encoding is exactly the changed bytes (one encoding per topology). */
static void test_codec_malformed(void **state)
{
    (void)state;
    struct topology *t = test_alloc(), *back = test_alloc();
    assert_int_equal(test_build(3, 1, 4, 2, NULL, t), TOPOLOGY_OK);
    static uint8_t buffer[4096], again[4096];
    int64_t length = topology_encode(t, buffer, sizeof(buffer));
    assert_true(length > 0);
    for (int64_t cut = 0; cut < length; cut++) {
        int rv = topology_decode(buffer, (size_t)cut, back);
        assert_true(rv == TOPOLOGY_ERROR_TRUNCATED);
        assert_int_equal(back->node_count, 0);
    }
    buffer[length] = 0;
    assert_int_equal(topology_decode(buffer, (size_t)length + 1, back), TOPOLOGY_ERROR_TRAILING);
    uint32_t accepted = 0;
    for (int64_t at = 0; at < length; at++) {
        for (int delta = 1; delta < 256; delta += 17) {
            uint8_t saved = buffer[at];
            buffer[at] = (uint8_t)(saved + delta);
            if (topology_decode(buffer, (size_t)length, back) == TOPOLOGY_OK) {
                accepted++;
                assert_int_equal(topology_encode(back, again, sizeof(again)), length);
                assert_memory_equal(again, buffer, (size_t)length);
            }
            buffer[at] = saved;
        }
    }
    print_message("%u of %u changed encodings were other valid topologies\n", accepted,
                  (unsigned)(length * 15));
    /* Named rejections. */
    uint8_t copy[4096];
    memcpy(copy, buffer, (size_t)length);
    copy[0] = 'X';
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_MAGIC);
    memcpy(copy, buffer, (size_t)length);
    copy[4] = 2;
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_VERSION);
    memcpy(copy, buffer, (size_t)length);
    copy[5] = 2;
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_RESERVED);
    memcpy(copy, buffer, (size_t)length);
    copy[7] = 1;
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_RESERVED);
    memcpy(copy, buffer, (size_t)length);
    copy[TOPOLOGY_ENCODED_HEADER_BYTES + 4] = 1; /* the high half of node 1's id */
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_NODE_ID);
    memcpy(copy, buffer, (size_t)length);
    copy[TOPOLOGY_ENCODED_HEADER_BYTES + 13] = 0; /* a NUL inside node 1's client host */
    assert_int_equal(topology_decode(copy, (size_t)length, back), TOPOLOGY_ERROR_ADDRESS);
    assert_int_equal(topology_decode(NULL, 0, back), TOPOLOGY_ERROR_TRUNCATED);
    free(t);
    free(back);
}

/* The largest topology: every count and string at its limit encodes in exactly
 * TOPOLOGY_ENCODED_BYTES_MAX bytes and decodes back. */
static void test_codec_largest(void **state)
{
    (void)state;
    struct topology *t = test_alloc(), *back = test_alloc();
    t->cluster_id = UINT64_MAX;
    t->epoch = UINT64_MAX;
    t->replica_count = TOPOLOGY_REPLICAS_MAX;
    t->vnodes = TOPOLOGY_VNODES_MAX;
    t->zone_spread = true;
    t->node_count = TOPOLOGY_NODES_MAX;
    for (uint32_t i = 0; i < TOPOLOGY_NODES_MAX; i++) {
        struct topology_node *node = &t->nodes[i];
        node->id = UINT32_MAX - TOPOLOGY_NODES_MAX + 1 + i;
        node->state = TOPOLOGY_NODE_LEAVING;
        node->weight = TOPOLOGY_WEIGHT_MAX;
        memset(node->zone, 'z', TOPOLOGY_ZONE_BYTES_MAX - 1);
        memset(node->client.host, 'c', TOPOLOGY_HOST_BYTES_MAX - 1);
        memset(node->peer.host, 'p', TOPOLOGY_HOST_BYTES_MAX - 1);
        node->client.port = node->peer.port = UINT16_MAX;
    }
    t->shard_count = TOPOLOGY_SHARDS_MAX;
    for (uint32_t s = 0; s < TOPOLOGY_SHARDS_MAX; s++) {
        struct topology_shard *shard = &t->shards[s];
        shard->first_slot = (uint16_t)(s * 16);
        shard->last_slot = (uint16_t)(s * 16 + 15);
        shard->config_epoch = UINT64_MAX;
        shard->replica_count = TOPOLOGY_REPLICAS_MAX;
        for (uint32_t r = 0; r < TOPOLOGY_REPLICAS_MAX; r++) shard->replicas[r] = t->nodes[(s + r) % TOPOLOGY_NODES_MAX].id;
    }
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
    uint8_t *buffer = malloc(TOPOLOGY_ENCODED_BYTES_MAX);
    assert_non_null(buffer);
    assert_int_equal(topology_encode(t, buffer, TOPOLOGY_ENCODED_BYTES_MAX), TOPOLOGY_ENCODED_BYTES_MAX);
    assert_int_equal(topology_decode(buffer, TOPOLOGY_ENCODED_BYTES_MAX, back), TOPOLOGY_OK);
    assert_true(topology_equal(t, back));
    free(buffer);
    free(t);
    free(back);
}

/* What a topology costs, printed for docs/sharding.md: its encoded size (deterministic, and
 * checked against the bound) and the time to build it (printed only; the machine's). */
static void test_sizes_and_costs(void **state)
{
    (void)state;
    static const struct { uint32_t nodes, shards, replicas; } configs[] = {
        {3, 1, 3}, {3, 16, 3}, {5, 16, 3}, {5, 64, 3}, {16, 256, 3}, {64, 1024, 3},
        {1000, 1024, 5},
    };
    struct topology *t = test_alloc();
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        assert_int_equal(test_build(configs[i].nodes, 1, configs[i].shards, configs[i].replicas,
                                    NULL, t), TOPOLOGY_OK);
        clock_gettime(CLOCK_MONOTONIC, &end);
        size_t bytes = topology_encoded_bytes(t);
        /* 30 header + 36 per node of these addresses + (13 + 8 R) per shard. */
        assert_int_equal(bytes, 30 + 36 * configs[i].nodes +
                                    (13 + 8 * configs[i].replicas) * configs[i].shards);
        uint32_t counts[TOPOLOGY_NODES_MAX], high = 0, low = UINT32_MAX;
        topology_leader_counts(t, counts);
        for (uint32_t n = 0; n < t->node_count; n++) {
            high = counts[n] > high ? counts[n] : high;
            low = counts[n] < low ? counts[n] : low;
        }
        double ms = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
        print_message("N=%u S=%u R=%u: %zu bytes encoded, leaders per node %u..%u, built in %.2f ms\n",
                      configs[i].nodes, configs[i].shards, configs[i].replicas, bytes, low, high, ms);
    }
    free(t);
}

int main(void)
{
    /* The time limit: the binary takes a few seconds (more under ASan); a hang past this is
     * a failure, which SIGALRM's default action (the process ends) reports. */
    alarm(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_basic),
        cmocka_unit_test(test_build_follows_ring),
        cmocka_unit_test(test_leaders_balanced),
        cmocka_unit_test(test_leaders_optimal),
        cmocka_unit_test(test_rebuild_and_join),
        cmocka_unit_test(test_states_and_zones),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_pinned),
        cmocka_unit_test(test_codec_malformed),
        cmocka_unit_test(test_codec_largest),
        cmocka_unit_test(test_sizes_and_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
