/*
 * rendezvous.c — highest random weight hashing (Thaler and Ravishankar 1998): a key goes to
 * the node whose score hash(key, node) is highest. A node of weight w has w identities and
 * scores the best of them, which keeps weights exact integers (no logarithms whose last bit
 * could differ between C libraries). O(total weight) per lookup, no table.
 */
#include <stdlib.h>

#include "ring/ring_internal.h"

int ring_rendezvous_build(struct ring *ring)
{
    uint32_t count = (uint32_t)ring->weight_total;
    ring->point_hashes = malloc(count * sizeof(*ring->point_hashes));
    ring->point_nodes = malloc(count * sizeof(*ring->point_nodes));
    if (ring->point_hashes == NULL || ring->point_nodes == NULL) return RING_ERROR_NO_MEMORY;
    uint32_t k = 0;
    for (uint32_t n = 0; n < ring->node_count; n++)
        for (uint32_t j = 0; j < ring->nodes[n].weight; j++) {
            ring->point_hashes[k] = ring_hash_pair(ring->nodes[n].id, j, RING_SEED_IDENTITY);
            ring->point_nodes[k++] = n;
        }
    ring->point_count = count;
    return RING_OK;
}

int64_t ring_rendezvous_best(const struct ring *ring, uint64_t hash,
                             bool (*allowed)(const void *context, uint32_t node),
                             const void *context)
{
    int64_t best = -1;
    uint64_t best_score = 0;
    for (uint32_t i = 0; i < ring->point_count; i++) {
        uint32_t node = ring->point_nodes[i];
        if (allowed != NULL && !allowed(context, node)) continue;
        uint64_t score = ring_hash_u64(hash, ring->point_hashes[i]);
        /* Equal scores go to the lower node index (nodes are sorted by id). */
        if (best < 0 || score > best_score || (score == best_score && node < best)) {
            best = node;
            best_score = score;
        }
    }
    return best;
}
