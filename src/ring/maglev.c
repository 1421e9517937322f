/*
 * maglev.c — Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
 * Load Balancer", NSDI 2016, section 3.4, Pseudocode 1). Each node walks its own permutation
 * of the M table slots (offset + j x skip mod M, M prime so every skip visits every slot) and
 * the nodes take turns claiming their next free slot until the table is full. A node of weight
 * w takes w turns per round. Lookup is table[hash mod M].
 */
#include <assert.h>
#include <stdlib.h>

#include "ring/ring_internal.h"

bool ring_prime_is(uint32_t n)
{
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2) /* at most 2,048 rounds below 2^24 */
        if (n % d == 0) return false;
    return true;
}

int ring_maglev_build(struct ring *ring)
{
    uint32_t size = ring->config.maglev_table_size, count = ring->node_count;
    ring->maglev_table = malloc(size * sizeof(*ring->maglev_table));
    uint32_t *position = malloc(count * sizeof(*position));
    uint32_t *skip = malloc(count * sizeof(*skip));
    if (ring->maglev_table == NULL || position == NULL || skip == NULL) {
        free(position);
        free(skip);
        return RING_ERROR_NO_MEMORY;
    }
    for (uint32_t n = 0; n < count; n++) {
        position[n] = (uint32_t)(ring_hash_u64(ring->nodes[n].id, RING_SEED_OFFSET) % size);
        skip[n] = (uint32_t)(ring_hash_u64(ring->nodes[n].id, RING_SEED_SKIP) % (size - 1)) + 1;
    }
    for (uint32_t e = 0; e < size; e++) ring->maglev_table[e] = UINT32_MAX;
    uint32_t filled = 0;
    /* Every turn claims one slot and a node's permutation visits every slot, so each turn
     * ends within `size` probes and the table fills after exactly `size` turns. */
    while (filled < size) {
        for (uint32_t n = 0; n < count && filled < size; n++) {
            for (uint32_t turn = 0; turn < ring->nodes[n].weight && filled < size; turn++) {
                uint32_t probes = 0;
                while (ring->maglev_table[position[n]] != UINT32_MAX) {
                    position[n] = (uint32_t)(((uint64_t)position[n] + skip[n]) % size);
                    assert(++probes <= size);
                }
                ring->maglev_table[position[n]] = n;
                position[n] = (uint32_t)(((uint64_t)position[n] + skip[n]) % size);
                filled++;
            }
        }
    }
    free(position);
    free(skip);
    return RING_OK;
}
