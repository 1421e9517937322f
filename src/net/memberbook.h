/*
 * memberbook.h — the address book of a cluster: every node's id, peer address and client
 * address, with the cluster's id and shape (S, R). One versioned, bounds-checked binary form
 * serves three places (docs/membership.md, "Node level"):
 *   - the answer to a probe on the peer port (a joining node learns the cluster from it; a
 *     leader adding a node learns the new node's id and addresses from it);
 *   - the data of a companion log entry that a leader proposes before it adds a node, so
 *     that every member learns the new node's addresses from the replicated log;
 *   - the file data-dir/members, so that a restarted node knows them without --cluster.
 *
 * Form (little-endian, no padding):
 *     magic u32 "CHMB" | version u8 (1) | flags u8 | reserved u16 (0) | cluster_id u64 |
 *     sender u32 | shards u32 | replicas u32 | count u16 | reserved u8 (0)  (31 bytes)
 *     per node: id u32 | peer length u8 | peer bytes | client length u8 | client bytes
 * Node ids ascending, 1..MEMBERBOOK_ID_MAX, unique; addresses 1..63 printable bytes without
 * spaces (client may be empty: unknown). Nothing may follow the last node.
 *
 * Pure: no I/O, no allocation. Decoding never reads past its input and rejects every
 * malformed byte string.
 */
#ifndef CHORUS_NET_MEMBERBOOK_H
#define CHORUS_NET_MEMBERBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    MEMBERBOOK_MAGIC = 0x424d4843u, /* "CHMB" as little-endian bytes */
    MEMBERBOOK_VERSION = 1,
    MEMBERBOOK_NODES_MAX = 64,      /* NODE_NODES_MAX */
    MEMBERBOOK_ID_MAX = 255,        /* node ids of --cluster */
    MEMBERBOOK_ADDR_BYTES_MAX = 64, /* with the NUL: NODE_ADDR_BYTES_MAX */
    MEMBERBOOK_HEADER_BYTES = 31,
    MEMBERBOOK_NODE_BYTES_MAX = 4 + 2 * MEMBERBOOK_ADDR_BYTES_MAX,
    MEMBERBOOK_BYTES_MAX = MEMBERBOOK_HEADER_BYTES +
                           MEMBERBOOK_NODES_MAX * MEMBERBOOK_NODE_BYTES_MAX,
    /* flags */
    MEMBERBOOK_FLAG_JOINED = 1,  /* the sender (or the file's node) joined a running cluster:
                                    it starts with an empty configuration */
    MEMBERBOOK_FLAG_EMPTY = 2,   /* probe answer: the sender holds no data yet (a new node
                                    waiting to be added) */
    MEMBERBOOK_FLAG_REMOVED = 4, /* file: this node was removed from the cluster */
    MEMBERBOOK_FLAGS_ALL = 7,
};

enum memberbook_error {
    MEMBERBOOK_OK = 0,
    MEMBERBOOK_ERR_TRUNCATED = -1,
    MEMBERBOOK_ERR_MAGIC = -2,
    MEMBERBOOK_ERR_VERSION = -3,
    MEMBERBOOK_ERR_RESERVED = -4, /* unknown flags or reserved bytes not zero */
    MEMBERBOOK_ERR_COUNT = -5,
    MEMBERBOOK_ERR_ID = -6,       /* zero, too large, not ascending */
    MEMBERBOOK_ERR_ADDRESS = -7,
    MEMBERBOOK_ERR_TRAILING = -8,
    MEMBERBOOK_ERR_BUFFER = -9,   /* encode: the output is too small */
};

struct memberbook_node {
    uint32_t id;
    char peer[MEMBERBOOK_ADDR_BYTES_MAX];   /* NUL-terminated */
    char client[MEMBERBOOK_ADDR_BYTES_MAX]; /* "" when unknown */
};

struct memberbook {
    uint8_t flags;
    uint64_t cluster_id;
    uint32_t sender;   /* the node that wrote it (0 in a log entry) */
    uint32_t shards;
    uint32_t replicas;
    uint32_t count;
    struct memberbook_node nodes[MEMBERBOOK_NODES_MAX]; /* ascending id */
};

const char *memberbook_strerror(int error);
/* Whether an address is acceptable: 1..63 bytes, printable, no space. */
bool memberbook_address_valid(const char *address, bool allow_empty);
/* Adds or replaces a node, keeping ids ascending. Returns MEMBERBOOK_OK,
 * MEMBERBOOK_ERR_COUNT when full, or MEMBERBOOK_ERR_ID / _ADDRESS for a bad node. */
int memberbook_put(struct memberbook *book, const struct memberbook_node *node);
/* The node with an id, or NULL. */
const struct memberbook_node *memberbook_find(const struct memberbook *book, uint32_t id);
/* Removes a node (no-op when absent). */
void memberbook_remove(struct memberbook *book, uint32_t id);
/* Writes the form; returns its length, or a negative memberbook_error. */
int64_t memberbook_encode(const struct memberbook *book, uint8_t *out, size_t cap);
/* Reads exactly `len` bytes. */
int memberbook_decode(const uint8_t *in, size_t len, struct memberbook *out);

#endif
