/*
 * topology.h — the cluster topology that the meta group replicates: the nodes (id, client
 * address, peer address, zone, weight, state), the shards (slot range, replicas with the
 * preferred leader first, config epoch) and a cluster epoch that grows with every change.
 *
 * A topology is built from a membership with the consistent-hashing library (src/ring/, the
 * vnode ring with 256 points per unit of weight, docs/ring.md): each shard's R replicas are
 * ring_placement_create's, and the preferred leaders are then spread so that every node is
 * the preferred leader of floor(S/N) or ceil(S/N) shards whenever the placement allows it
 * (topology_leaders.c). A topology travels as a log entry of the meta group in a versioned,
 * canonical, bounds-checked binary form (topology_codec.c): decoding never reads past its
 * input, rejects every malformed or non-canonical byte string, and validates everything that
 * topology_validate checks, so a decoded topology is always a valid one.
 *
 * A pure library: no I/O, no clock, no rand, no threads. A struct topology is a fixed-size
 * value (about 220 KiB: allocate it, do not put it on a stack); topology_build allocates a
 * bounded workspace (the ring: 12 bytes per point, 3 MiB for 1,024 nodes of weight 1, at most
 * RING_POINTS_MAX points; the placement; the leader balancing arrays, 46 KiB) and frees it
 * before returning.
 */
#ifndef CHORUS_CLUSTER_TOPOLOGY_H
#define CHORUS_CLUSTER_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/shardmap.h"
#include "cluster/slot.h"

enum {
    TOPOLOGY_NODES_MAX = 1024,
    TOPOLOGY_SHARDS_MAX = SHARDMAP_SHARDS_MAX,
    TOPOLOGY_REPLICAS_MAX = 7,        /* CN_MEMBERS_MAX: voters in one consensus group */
    TOPOLOGY_HOST_BYTES_MAX = 64,     /* a host name or IP literal, with its NUL */
    TOPOLOGY_ZONE_BYTES_MAX = 32,     /* RING_ZONE_NAME_BYTES_MAX, with the NUL */
    TOPOLOGY_WEIGHT_MAX = 1000,       /* RING_WEIGHT_MAX */
    TOPOLOGY_VNODES_DEFAULT = 256,    /* RING_VNODES_DEFAULT: docs/ring.md */
    TOPOLOGY_VNODES_MAX = 4096,       /* RING_VNODES_MAX */
    TOPOLOGY_FORMAT_VERSION = 1,
    TOPOLOGY_MAGIC = 0x504f5443,      /* "CTOP" read as little-endian bytes */
    /* The encoding: a 30-byte header, then each node in at most 175 bytes (8 id, 1 state,
     * 2 weight, 1+31 zone, 1+63+2 client address, 1+63+2 peer address) and each shard in at
     * most 69 (2+2 slots, 8 config epoch, 1+7x8 replicas). */
    TOPOLOGY_ENCODED_HEADER_BYTES = 30,
    TOPOLOGY_ENCODED_NODE_BYTES_MAX = 175,
    TOPOLOGY_ENCODED_SHARD_BYTES_MAX = 69,
    TOPOLOGY_ENCODED_BYTES_MAX = TOPOLOGY_ENCODED_HEADER_BYTES +
                                 TOPOLOGY_NODES_MAX * TOPOLOGY_ENCODED_NODE_BYTES_MAX +
                                 TOPOLOGY_SHARDS_MAX * TOPOLOGY_ENCODED_SHARD_BYTES_MAX,
};

/* Errors: every function below that returns int returns TOPOLOGY_OK or one of these. */
enum topology_error {
    TOPOLOGY_OK = 0,
    TOPOLOGY_ERROR_TRUNCATED = -1,      /* decode: the input ends inside a field */
    TOPOLOGY_ERROR_MAGIC = -2,          /* decode: not a topology */
    TOPOLOGY_ERROR_VERSION = -3,        /* decode: a format version this code does not read */
    TOPOLOGY_ERROR_RESERVED = -4,       /* decode: reserved bits or bytes not zero */
    TOPOLOGY_ERROR_TRAILING = -5,       /* decode: bytes after the last shard */
    TOPOLOGY_ERROR_BUFFER = -6,         /* encode: the output buffer is too small */
    TOPOLOGY_ERROR_NODE_COUNT = -7,     /* 1..TOPOLOGY_NODES_MAX nodes */
    TOPOLOGY_ERROR_NODE_ID = -8,        /* ids 1..2^32-1, unique, ascending */
    TOPOLOGY_ERROR_NODE_STATE = -9,
    TOPOLOGY_ERROR_WEIGHT = -10,        /* 1..TOPOLOGY_WEIGHT_MAX */
    TOPOLOGY_ERROR_ZONE = -11,          /* letters, digits, '-', '_', '.'; at most 31 */
    TOPOLOGY_ERROR_ADDRESS = -12,       /* host of letters, digits, '.', '-', '_', ':', 1..63;
                                           port 1..65535 */
    TOPOLOGY_ERROR_SHARD_COUNT = -13,   /* 1..TOPOLOGY_SHARDS_MAX */
    TOPOLOGY_ERROR_SLOTS = -14,         /* ranges must be ascending, contiguous, cover 0..16383 */
    TOPOLOGY_ERROR_REPLICAS = -15,      /* 1..7 per shard, distinct, each a node of the
                                           topology */
    TOPOLOGY_ERROR_EPOCH = -16,         /* epochs >= 1, a shard's at most the cluster's */
    TOPOLOGY_ERROR_VNODES = -17,        /* 1..TOPOLOGY_VNODES_MAX */
    TOPOLOGY_ERROR_PLACEMENT = -18,     /* the ring could not place the shards (too few nodes
                                           or zones for R, or too many ring points) */
    TOPOLOGY_ERROR_PREVIOUS = -19,      /* the previous topology has another cluster id or
                                           shard count: both are fixed at creation */
    TOPOLOGY_ERROR_NO_MEMORY = -20,
};

/* A node's part in the cluster. Only JOINING and ACTIVE nodes are given replicas. */
enum topology_node_state {
    TOPOLOGY_NODE_ACTIVE = 1,  /* holds and serves its replicas */
    TOPOLOGY_NODE_JOINING = 2, /* given replicas, which are being copied to it */
    TOPOLOGY_NODE_LEAVING = 3, /* given none: its replicas move off before it is removed */
};

struct topology_address {
    char host[TOPOLOGY_HOST_BYTES_MAX]; /* NUL-terminated */
    uint16_t port;
};

struct topology_node {
    uint32_t id;                          /* the chorus node id (cn_node_id), 1.. */
    uint8_t state;                        /* enum topology_node_state */
    uint16_t weight;                      /* its share of replicas, 1..TOPOLOGY_WEIGHT_MAX */
    char zone[TOPOLOGY_ZONE_BYTES_MAX];   /* "" for no zone */
    struct topology_address client;       /* RESP clients */
    struct topology_address peer;         /* other nodes (the cluster bus, to Redis clients) */
};

struct topology_shard {
    uint16_t first_slot; /* the shard's slots, first..last inclusive */
    uint16_t last_slot;
    uint8_t replica_count;                   /* 1..TOPOLOGY_REPLICAS_MAX */
    uint64_t config_epoch;                   /* the cluster epoch at which its replicas (or
                                                their order) last changed */
    uint32_t replicas[TOPOLOGY_REPLICAS_MAX]; /* node ids; [0] is the preferred leader */
};

struct topology {
    uint64_t cluster_id;
    uint64_t epoch;          /* >= 1; grows with every change */
    uint32_t replica_count;  /* R, the replicas a shard is given (1..TOPOLOGY_REPLICAS_MAX) */
    uint32_t vnodes;         /* the ring's points per unit of weight used to place shards */
    bool zone_spread;        /* a shard's replicas in distinct zones */
    uint32_t node_count;
    struct topology_node nodes[TOPOLOGY_NODES_MAX];   /* ascending id */
    uint32_t shard_count;
    struct topology_shard shards[TOPOLOGY_SHARDS_MAX]; /* shard i is group i; ascending slots */
};

/* Do two topologies hold the same values (strings compared up to their NUL)? */
bool topology_equal(const struct topology *a, const struct topology *b);

/* A sentence for an error code, e.g. "shard slot ranges must be contiguous...". */
const char *topology_strerror(int error);

/* Checks every rule stated in the field comments above (the decoder runs it too). */
int topology_validate(const struct topology *topology);

/* The node with an id, or NULL (binary search). */
const struct topology_node *topology_node_find(const struct topology *topology, uint32_t id);
/* The shard holding a slot (binary search; the topology must be valid). */
uint32_t topology_shard_of_slot(const struct topology *topology, uint32_t slot);
/* Is the node one of the shard's replicas? */
bool topology_shard_has_replica(const struct topology_shard *shard, uint32_t node_id);

/* ---- building --------------------------------------------------------------------------- */

struct topology_build_input {
    uint64_t cluster_id;
    uint32_t shard_count;               /* S, 1..TOPOLOGY_SHARDS_MAX */
    uint32_t replica_count;             /* R, 1..7, at most the nodes that take replicas */
    uint32_t vnodes;                    /* 0 for TOPOLOGY_VNODES_DEFAULT */
    bool zone_spread;
    uint32_t node_count;
    const struct topology_node *nodes;  /* any order; copied, sorted by id */
};

/*
 * Builds the topology of a membership. Slots are split evenly (shardmap.h); each shard's
 * replicas are the ring's placement over the JOINING and ACTIVE nodes; the preferred leaders
 * are then balanced: a shard keeps the previous topology's preferred leader when it is still
 * one of its replicas (so a rebuild moves as little leadership as it can), else the ring's
 * first replica, and leaderships are then moved along the replica sets until every node leads
 * floor(S/N) or ceil(S/N) shards, or no move can bring a node closer.
 *
 * `previous` may be NULL (a new cluster: epoch 1, every shard's config epoch 1). Otherwise it
 * must have the same cluster id and shard count; the epoch is previous->epoch + 1, and a
 * shard whose replica list is unchanged, order included, keeps its config epoch.
 * `out` may not alias `previous`. On error `out` is left unspecified.
 */
int topology_build(const struct topology_build_input *input, const struct topology *previous,
                   struct topology *out);

/* How many shards each node is the preferred leader of, by node index (counts has
 * topology->node_count entries). */
void topology_leader_counts(const struct topology *topology, uint32_t *counts);

/* ---- the binary form -------------------------------------------------------------------- */

/*
 * Version 1, little-endian, no padding:
 *   header  magic u32 "CTOP", version u8 (1), flags u8 (bit 0 zone_spread; others 0),
 *           replica_count u8, reserved u8 (0), vnodes u16, node_count u16, shard_count u16,
 *           cluster_id u64, epoch u64                                             30 bytes
 *   node    id u32 (in the 8-byte slot of a u64 whose high half is 0), state u8, weight u16,
 *           zone: length u8 + bytes, client host: length u8 + bytes, client port u16,
 *           peer host: length u8 + bytes, peer port u16
 *   shard   first_slot u16, last_slot u16, config_epoch u64, replica_count u8, replicas u32
 *           each (in u64 slots whose high half is 0)
 * Ids are written as 64-bit values so that a later version can widen them; version 1 rejects
 * a non-zero high half. There is exactly one encoding of each topology: decode(encode(t))
 * equals t and encode(decode(b)) equals b for every b that decodes.
 */

/* The exact size of a valid topology's encoding (<= TOPOLOGY_ENCODED_BYTES_MAX). */
size_t topology_encoded_bytes(const struct topology *topology);
/* Writes the encoding; returns its length, or a negative topology_error (the topology is
 * invalid, or buffer_bytes is too small: TOPOLOGY_ERROR_BUFFER). */
int64_t topology_encode(const struct topology *topology, uint8_t *buffer, size_t buffer_bytes);
/* Reads an encoding of exactly `length` bytes into *out. */
int topology_decode(const uint8_t *bytes, size_t length, struct topology *out);

#endif
