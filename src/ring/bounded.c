/*
 * bounded.c — consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
 * SODA 2018): on the vnode ring, each node accepts at most ceil((1 + eps) x its fair share)
 * of the items; an item whose node is full walks on clockwise to the next node with room.
 * The capacity depends on how many items there are, so items are placed as one batch, in
 * order. The total capacity exceeds the item count, so every walk finds room within one turn
 * of the circle.
 */
#include <assert.h>

#include "ring/ring_internal.h"

uint32_t ring_bounded_capacity(const struct ring *ring, uint32_t node, uint64_t items)
{
    /* ceil((1000 + eps_permille) x items x weight / (1000 x total weight)), in integers:
     * at most 2^14 x 2^32 x 2^10 < 2^64 for the limits of ring.h. */
    uint64_t numerator = (1000u + ring->config.bounded_epsilon_permille) * items *
                         ring->nodes[node].weight;
    uint64_t denominator = 1000u * ring->weight_total;
    uint64_t capacity = (numerator + denominator - 1) / denominator;
    return capacity > UINT32_MAX ? UINT32_MAX : (uint32_t)capacity;
}

void ring_bounded_begin(struct ring *ring)
{
    for (uint32_t n = 0; n < ring->node_count; n++) ring->loads[n] = 0;
}

uint32_t ring_bounded_next(struct ring *ring, uint64_t hash, uint64_t items)
{
    uint32_t point = ring_vnodes_first_point(ring, hash);
    for (uint32_t step = 0; step < ring->point_count; step++) {
        uint32_t node = ring->point_nodes[point];
        if (ring->loads[node] < ring_bounded_capacity(ring, node, items)) {
            ring->loads[node]++;
            return node;
        }
        point = point + 1 == ring->point_count ? 0 : point + 1;
    }
    assert(!"bounded loads: every node full, more items than the batch declared");
    return 0;
}

void ring_bounded_assign(struct ring *ring, const uint64_t *hashes, uint32_t count,
                         uint32_t *node_indexes_out)
{
    ring_bounded_begin(ring);
    for (uint32_t i = 0; i < count; i++) node_indexes_out[i] = ring_bounded_next(ring, hashes[i], count);
}
