/*
 * ring.h — consistent hashing: which node owns a key, and where each shard's replicas live.
 *
 * A pure library (no I/O, no clock, no rand, no threads). Memory is allocated only when a ring
 * or a placement is created, and is bounded by the limits below; lookups allocate nothing.
 * Every hash is xxHash (XXH3, 64 bits) of bytes laid out little-endian, so every process on
 * every machine and every version of chorus computes the same ring from the same membership.
 *
 * Five algorithms sit behind the one interface (docs/ring.md compares them, measured):
 *
 *   RING_ALGORITHM_VNODES      the classic ring (Karger et al. 1997): each node puts
 *                              vnodes x weight points on a 64-bit circle; a key belongs to
 *                              the first point clockwise of its hash (binary search).
 *   RING_ALGORITHM_JUMP        jump consistent hash (Lamping and Veach 2014): no memory,
 *                              perfect balance, but nodes are buckets 0..N-1 in the order
 *                              given, so only the LAST node can leave (ring_change_check
 *                              refuses any other removal) and weights must all be 1.
 *   RING_ALGORITHM_RENDEZVOUS  highest random weight (Thaler and Ravishankar 1998): the key
 *                              goes to the node whose hash of (key, node) is highest; O(N)
 *                              per lookup. A weight w counts as w identities of the node.
 *   RING_ALGORITHM_MAGLEV      Maglev (Eisenbud et al., NSDI 2016): a lookup table of prime
 *                              size M filled from each node's permutation; O(1) lookup.
 *   RING_ALGORITHM_BOUNDED     consistent hashing with bounded loads (Mirrokni, Thorup,
 *                              Zadimoghaddam 2018) on the vnode ring: a node takes at most
 *                              ceil((1 + eps) x its fair share) of a batch of items; an item
 *                              whose node is full walks on clockwise. Its answer depends on
 *                              the whole batch, so it has no single-key lookup: use
 *                              ring_assign or ring_placement_create.
 *
 * Replica placement (ring_place, ring_placement_create) is what the cluster uses to put each
 * shard's R replicas on R distinct nodes, optionally in R distinct zones; its results are
 * pinned by tests (tests/unit/test_ring_place.c) and must never change for a given input.
 * The default algorithm for placement is RING_ALGORITHM_VNODES with 256 points per unit of
 * weight (RING_VNODES_DEFAULT): docs/ring.md gives the measurements behind that choice.
 */
#ifndef CHORUS_RING_H
#define CHORUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    RING_NODES_MAX = 4096,
    RING_WEIGHT_MAX = 1000,
    RING_VNODES_MAX = 4096,
    RING_POINTS_MAX = 1u << 23,           /* 8 M points x 12 bytes = 96 MiB at most */
    RING_VNODES_DEFAULT = 256,
    RING_MAGLEV_TABLE_DEFAULT = 65537,    /* prime; the Maglev paper's small table */
    RING_MAGLEV_TABLE_MAX = 16777213,     /* the largest prime below 2^24 */
    RING_EPSILON_PERMILLE_DEFAULT = 250,  /* eps = 0.25 */
    RING_EPSILON_PERMILLE_MIN = 1,
    RING_EPSILON_PERMILLE_MAX = 10000,
    RING_REPLICAS_MAX = 16,
    RING_SHARDS_MAX = 1u << 20,
    RING_ZONES_MAX = 64,
    RING_ZONE_NAME_BYTES_MAX = 32,        /* with the terminating NUL */
    RING_MEMBERSHIP_TEXT_BYTES_MAX = 1u << 16,
    RING_ERROR_BYTES_MAX = 128,
    RING_SHARE_SAMPLES = 1u << 16,        /* hashes sampled where a share has no closed form */
    RING_SHARE_HASHES_MAX = 1u << 26,     /* rendezvous: samples x total weight at most this */
    RING_RENDEZVOUS_WEIGHT_MAX = 1u << 16, /* identities: the hashes of one rendezvous lookup */
};

enum ring_algorithm {
    RING_ALGORITHM_VNODES = 1,
    RING_ALGORITHM_JUMP,
    RING_ALGORITHM_RENDEZVOUS,
    RING_ALGORITHM_MAGLEV,
    RING_ALGORITHM_BOUNDED,
};

/* Errors: every function below returns RING_OK or one of these (negative). */
enum ring_error {
    RING_OK = 0,
    RING_ERROR_NO_NODES = -1,
    RING_ERROR_TOO_MANY_NODES = -2,
    RING_ERROR_DUPLICATE_ID = -3,
    RING_ERROR_BAD_WEIGHT = -4,
    RING_ERROR_BAD_VNODES = -5,
    RING_ERROR_TOO_MANY_POINTS = -6,
    RING_ERROR_BAD_TABLE_SIZE = -7,
    RING_ERROR_BAD_EPSILON = -8,
    RING_ERROR_BAD_ALGORITHM = -9,
    RING_ERROR_JUMP_WEIGHT = -10,
    RING_ERROR_JUMP_REMOVE = -11,
    RING_ERROR_BAD_REPLICAS = -12,
    RING_ERROR_FEW_ZONES = -13,
    RING_ERROR_NEEDS_BATCH = -14,
    RING_ERROR_BAD_SHARDS = -15,
    RING_ERROR_SHAPE = -16,
    RING_ERROR_MOVES_MAX = -17,
    RING_ERROR_NO_MEMORY = -18,
};

/* One member. Ids are any 64-bit numbers, unique; zone 0 means "no zone". */
struct ring_node {
    uint64_t id;
    uint32_t weight; /* 1..RING_WEIGHT_MAX */
    uint32_t zone;
};

struct ring_config {
    enum ring_algorithm algorithm;
    uint32_t vnodes;                   /* VNODES, BOUNDED: points per unit of weight */
    uint32_t maglev_table_size;        /* MAGLEV: a prime larger than the node count */
    uint32_t bounded_epsilon_permille; /* BOUNDED: eps x 1000 */
};

struct ring;

/* The defaults for an algorithm (V = 256, M = 65,537, eps = 0.25). */
struct ring_config ring_config_default(enum ring_algorithm algorithm);

/* "vnodes", "jump", "rendezvous", "maglev", "bounded"; and back (0 when unknown). */
const char *ring_algorithm_name(enum ring_algorithm algorithm);
enum ring_algorithm ring_algorithm_parse(const char *name);

/* A sentence for an error code, e.g. "node ids must be unique". */
const char *ring_strerror(int error);

/*
 * Builds a ring from a membership (copied). For every algorithm but jump the order of
 * `nodes` does not matter: nodes are kept sorted by id and node indexes below follow that
 * order. For jump the order is the bucket order (index i is bucket i). On error *ring_out is
 * NULL and nothing is allocated.
 */
int ring_create(const struct ring_config *config, const struct ring_node *nodes, uint32_t count,
                struct ring **ring_out);
void ring_destroy(struct ring *ring);

const struct ring_config *ring_config_of(const struct ring *ring);
uint32_t ring_node_count(const struct ring *ring);
/* The node at an index (0..count-1), as returned by the lookups. */
const struct ring_node *ring_node_at(const struct ring *ring, uint32_t index);
/* The index of a node id, or -1. */
int64_t ring_node_index(const struct ring *ring, uint64_t id);
/* Bytes the ring holds (points, tables, nodes): what a process pays for it. */
size_t ring_memory_bytes(const struct ring *ring);

/* The hash of a key's bytes (any bytes, any length, including none). */
uint64_t ring_hash_key(const void *key, size_t length);
/* The hash of a shard id, where its replica walk starts. */
uint64_t ring_hash_shard(uint64_t shard_id);

/*
 * The index of the node owning a key hash. Not for RING_ALGORITHM_BOUNDED (asserts): its owner
 * depends on the other items; ring_lookup says so with RING_ERROR_NEEDS_BATCH.
 */
uint32_t ring_lookup_hash(const struct ring *ring, uint64_t hash);
int ring_lookup(const struct ring *ring, const void *key, size_t length, uint64_t *node_id_out);

/*
 * Assigns a batch of item hashes, in order, to node indexes. For bounded loads the capacity
 * of node i is ceil((1 + eps) x count x weight_i / total weight) and the batch's order is part
 * of the answer; for the others it is ring_lookup_hash on each.
 */
int ring_assign(struct ring *ring, const uint64_t *hashes, uint32_t count,
                uint32_t *node_indexes_out);

/*
 * Each node's share of the keyspace (sums to 1), by node index: exact for the vnode ring
 * (arc lengths) and Maglev (table entries), estimated from ring_share_samples() evenly
 * spread hashes for jump, rendezvous and bounded loads. `shares` holds ring_node_count()
 * doubles.
 */
void ring_shares(struct ring *ring, double *shares);
/* How many samples ring_shares uses: 0 when exact, else RING_SHARE_SAMPLES, fewer (at least
 * 1,024) for rendezvous rings whose lookups cost more than 1,024 hashes, so that an estimate
 * costs at most RING_SHARE_HASHES_MAX hashes. */
uint32_t ring_share_samples(const struct ring *ring);
/* Sample i of n: the middle of the i-th of n equal arcs of the circle. */
uint64_t ring_share_sample_hash(uint32_t i, uint32_t n);

/*
 * Is going from membership `before` to `after` one this algorithm can do while keeping its
 * promise? Always yes, except for jump hash: it can add nodes at the end and remove nodes
 * from the end only (RING_ERROR_JUMP_REMOVE otherwise), because a bucket in the middle
 * cannot disappear without renumbering, and so moving, every bucket after it.
 */
int ring_change_check(enum ring_algorithm algorithm, const struct ring_node *before,
                      uint32_t before_count, const struct ring_node *after, uint32_t after_count);

/*
 * The R replicas of one shard: R distinct node ids, the first the preferred leader. With
 * zone_spread no two share a zone (RING_ERROR_FEW_ZONES when the ring has fewer than R
 * zones; nodes of zone 0 then count as one zone). Deterministic: the same ring and shard id
 * give the same ids on every process. Vnodes: the nodes met walking clockwise from the
 * shard's hash. Rendezvous: the R highest scores. Jump and Maglev: lookups of the shard's hash
 * salted with 0, 1, 2..., the first R acceptable nodes. Bounded loads: RING_ERROR_NEEDS_BATCH
 * (use ring_placement_create).
 */
int ring_place(const struct ring *ring, uint64_t shard_id, uint32_t replicas, bool zone_spread,
               uint64_t *node_ids_out);

/* Where every shard 0..shard_count-1 has its replicas: node_ids[shard x replicas + r]. */
struct ring_placement {
    uint32_t shard_count;
    uint32_t replicas;
    bool zone_spread;
    uint64_t *node_ids;
};

/*
 * Places every shard (all algorithms). Bounded loads caps each node at ceil((1 + eps) x
 * shard_count x replicas x weight / total weight) replicas, taking shards in order 0, 1, ...;
 * the cap can hold only when no node's cap exceeds shard_count (replicas are distinct, so a
 * heavy node cannot take its whole share): otherwise, and when zone spreading leaves no
 * node with room, a replica goes to the next acceptable node regardless of its load.
 */
int ring_placement_create(struct ring *ring, uint32_t shard_count, uint32_t replicas,
                          bool zone_spread, struct ring_placement **placement_out);
void ring_placement_destroy(struct ring_placement *placement);

/* One replica of one shard moving: its data is copied from `from` to `to`. */
struct ring_move {
    uint32_t shard;
    uint64_t from;
    uint64_t to;
};

/*
 * What changed between two placements of the same shards and replica count
 * (RING_ERROR_SHAPE otherwise): for each shard, the nodes that lost a replica paired, in
 * replica order, with the nodes that gained one. A replica that only changed rank (say
 * became the first) does not move. Writes at most moves_max moves; *count_out is the total,
 * and RING_ERROR_MOVES_MAX says it did not fit.
 */
int ring_placement_diff(const struct ring_placement *before, const struct ring_placement *after,
                        struct ring_move *moves, uint32_t moves_max, uint32_t *count_out);

/*
 * A membership as text, for command lines and configuration:
 *     ID[:WEIGHT][@ZONE],ID[:WEIGHT][@ZONE],...      e.g.  1@east,2@east,3:2@west
 * Ids are decimal 0..2^64-1, weights 1..RING_WEIGHT_MAX (default 1), zones names of letters,
 * digits, '-', '_' and '.' numbered 1, 2, ... in order of first appearance. Parsing checks
 * everything ring_create checks about nodes; errors are a sentence in `error`.
 */
struct ring_membership {
    uint32_t count;
    uint32_t zone_count;
    struct ring_node nodes[RING_NODES_MAX];
    char zone_names[RING_ZONES_MAX + 1][RING_ZONE_NAME_BYTES_MAX]; /* [0] is "-" */
};
int ring_membership_parse(const char *text, size_t length, struct ring_membership *membership,
                          char error[RING_ERROR_BYTES_MAX]);
/* Adds one node parsed from the same syntax (zones joining the membership's names). */
int ring_membership_add(struct ring_membership *membership, const char *text, size_t length,
                        char error[RING_ERROR_BYTES_MAX]);
/* Removes a node by id; returns -1 when absent. Keeps the order of the others. */
int ring_membership_remove(struct ring_membership *membership, uint64_t id);

#endif
