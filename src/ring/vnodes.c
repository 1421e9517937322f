/*
 * vnodes.c — the classic consistent-hashing ring (Karger et al. 1997) with virtual nodes:
 * every node puts vnodes x weight points on the 64-bit circle, and a key belongs to the first
 * point at or clockwise of its hash. Bounded loads (bounded.c) walks the same points.
 */
#include <assert.h>
#include <stdlib.h>

#include "ring/ring_internal.h"

struct vnodes_point {
    uint64_t hash;
    uint64_t node_id; /* breaks ties between equal hashes the same way everywhere */
    uint32_t node;
};

static int vnodes_point_compare(const void *a, const void *b)
{
    const struct vnodes_point *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

/*
 * Point j of node `id` sits at hash(id, j). Sorting goes through a temporary array of
 * (hash, id, node) so that equal hashes (vanishingly rare, but possible) order by node id and
 * the ring does not depend on the order of the membership.
 */
int ring_vnodes_build(struct ring *ring)
{
    uint64_t count64 = ring->weight_total * ring->config.vnodes;
    assert(count64 >= 1 && count64 <= RING_POINTS_MAX);
    uint32_t count = (uint32_t)count64;
    struct vnodes_point *points = malloc(count * sizeof(*points));
    ring->point_hashes = malloc(count * sizeof(*ring->point_hashes));
    ring->point_nodes = malloc(count * sizeof(*ring->point_nodes));
    if (points == NULL || ring->point_hashes == NULL || ring->point_nodes == NULL) {
        free(points);
        return RING_ERROR_NO_MEMORY;
    }
    uint32_t k = 0;
    for (uint32_t n = 0; n < ring->node_count; n++) {
        uint32_t node_points = ring->nodes[n].weight * ring->config.vnodes;
        for (uint32_t j = 0; j < node_points; j++)
            points[k++] = (struct vnodes_point){
                .hash = ring_hash_pair(ring->nodes[n].id, j, RING_SEED_POINT),
                .node_id = ring->nodes[n].id,
                .node = n};
    }
    assert(k == count);
    qsort(points, count, sizeof(*points), vnodes_point_compare);
    for (uint32_t i = 0; i < count; i++) {
        ring->point_hashes[i] = points[i].hash;
        ring->point_nodes[i] = points[i].node;
    }
    ring->point_count = count;
    free(points);
    return RING_OK;
}

uint32_t ring_vnodes_first_point(const struct ring *ring, uint64_t hash)
{
    /* Lower bound: the first point whose hash is >= hash; past the last point, wrap to 0. */
    uint32_t low = 0, high = ring->point_count;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        if (ring->point_hashes[mid] < hash)
            low = mid + 1;
        else
            high = mid;
    }
    return low == ring->point_count ? 0 : low;
}

/*
 * A point owns the arc from the previous point (exclusive) to itself (inclusive); the first
 * point also owns the wrap-around arc above the last point. Lengths are in units of 2^-64.
 */
void ring_vnodes_shares(const struct ring *ring, double *shares)
{
    for (uint32_t n = 0; n < ring->node_count; n++) shares[n] = 0;
    const double scale = 1.0 / 18446744073709551616.0; /* 2^-64 */
    for (uint32_t i = 0; i < ring->point_count; i++) {
        uint64_t previous = ring->point_hashes[i == 0 ? ring->point_count - 1 : i - 1];
        uint64_t arc = ring->point_hashes[i] - previous; /* wraps modulo 2^64 for i = 0 */
        double length = arc == 0 && ring->point_count == 1 ? 1.0 : (double)arc * scale;
        shares[ring->point_nodes[i]] += length;
    }
}
