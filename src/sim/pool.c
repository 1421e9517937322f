/* pool.c — recycled buffers for messages in flight (no malloc per message in steady state). */
#include <assert.h>
#include <stdlib.h>

#include "sim/world.h"

/* A packet of at least `bytes`, or NULL when SIM_PACKETS_LIVE_MAX are in flight (the network
 * then loses the message, as a full socket buffer would) or memory ran out. */
struct sim_packet *sim_pool_get(struct sim_pool *pool, uint32_t bytes)
{
    if (pool->live >= SIM_PACKETS_LIVE_MAX) return NULL;
    struct sim_packet *packet = NULL;
    if (bytes <= SIM_PACKET_POOLED_BYTES && pool->free_list != NULL) {
        packet = pool->free_list;
        pool->free_list = packet->next_free;
    } else {
        uint32_t capacity = bytes <= SIM_PACKET_POOLED_BYTES ? SIM_PACKET_POOLED_BYTES : bytes;
        packet = malloc(sizeof(*packet) + capacity);
        if (packet == NULL) return NULL;
        packet->capacity = capacity;
    }
    packet->next_free = NULL;
    packet->refs = 1;
    packet->len = 0;
    pool->live++;
    return packet;
}

/* Drops one reference; the last one recycles the packet (or frees an oversized one). */
void sim_pool_put(struct sim_pool *pool, struct sim_packet *packet)
{
    assert(packet->refs > 0);
    if (--packet->refs > 0) return;
    assert(pool->live > 0);
    pool->live--;
    if (packet->capacity > SIM_PACKET_POOLED_BYTES) {
        free(packet);
        return;
    }
    packet->next_free = pool->free_list;
    pool->free_list = packet;
}

void sim_pool_free(struct sim_pool *pool)
{
    while (pool->free_list != NULL) {
        struct sim_packet *next = pool->free_list->next_free;
        free(pool->free_list);
        pool->free_list = next;
    }
}
