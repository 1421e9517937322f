/*
 * ring_internal.h — the ring's representation, shared by the files of src/ring/ only.
 */
#ifndef CHORUS_RING_INTERNAL_H
#define CHORUS_RING_INTERNAL_H

#include "ring/ring.h"

/* Seeds that keep the hashes of different uses independent of each other. */
enum {
    RING_SEED_POINT = 0x706f696e74ull,      /* "point": a vnode's place on the circle */
    RING_SEED_IDENTITY = 0x6964656e74ull,   /* "ident": a rendezvous identity */
    RING_SEED_SHARD = 0x7368617264ull,      /* "shard": where a shard's walk starts */
    RING_SEED_SALT = 0x73616c74ull,         /* "salt": a placement attempt */
    RING_SEED_OFFSET = 0x6f6666736574ull,   /* "offset": Maglev permutation */
    RING_SEED_SKIP = 0x736b6970ull,         /* "skip": Maglev permutation */
};

/*
 * One ring. Points serve two algorithms: for the vnode ring and bounded loads they are the
 * sorted positions on the circle; for rendezvous they are the (unsorted) identities, one per
 * unit of weight. point_nodes[i] is the node index of point i.
 */
struct ring {
    struct ring_config config;
    uint32_t node_count;
    uint32_t zone_count; /* distinct zones, zone 0 counted as one */
    uint64_t weight_total;
    struct ring_node *nodes;
    uint32_t point_count;
    uint64_t *point_hashes;
    uint32_t *point_nodes;
    uint32_t *maglev_table; /* maglev_table_size entries */
    uint32_t *loads;        /* bounded loads: per node, scratch of ring_assign */
};

/* xxHash of (a, b) laid out little-endian, with a seed. */
uint64_t ring_hash_pair(uint64_t a, uint32_t b, uint64_t seed);
/* xxHash of one 64-bit value, laid out little-endian, with a seed. */
uint64_t ring_hash_u64(uint64_t value, uint64_t seed);

int ring_vnodes_build(struct ring *ring);
/* The first point at or clockwise of a hash (wrapping past the top of the circle). */
uint32_t ring_vnodes_first_point(const struct ring *ring, uint64_t hash);
void ring_vnodes_shares(const struct ring *ring, double *shares);

uint32_t ring_jump_bucket(uint64_t hash, uint32_t buckets);

int ring_rendezvous_build(struct ring *ring);
/* The node with the highest score among those `allowed` accepts (NULL: all), or -1. */
int64_t ring_rendezvous_best(const struct ring *ring, uint64_t hash,
                             bool (*allowed)(const void *context, uint32_t node),
                             const void *context);

int ring_maglev_build(struct ring *ring);
bool ring_prime_is(uint32_t n);

/* Bounded loads: assigns items in order, each taking a unit of its node's capacity. */
void ring_bounded_assign(struct ring *ring, const uint64_t *hashes, uint32_t count,
                         uint32_t *node_indexes_out);
/* The same one item at a time: begin empties every node, next places one of `items`. */
void ring_bounded_begin(struct ring *ring);
uint32_t ring_bounded_next(struct ring *ring, uint64_t hash, uint64_t items);
/* The capacity of a node when `items` units are spread over the ring. */
uint32_t ring_bounded_capacity(const struct ring *ring, uint32_t node, uint64_t items);

#endif
