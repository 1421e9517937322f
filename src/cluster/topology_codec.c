/*
 * topology_codec.c — the binary form of a topology, version 1 (the layout is in topology.h).
 *
 * The reader checks the length before every field, so it never reads past its input, and it
 * rejects anything but the one canonical encoding of a valid topology: reserved bits and the
 * high halves of ids must be zero, strings carry no NUL, and the decoded topology must pass
 * topology_validate. A reader that accepted two encodings of one topology would let two
 * replicas of the meta group hold different bytes for the same state.
 */
#include "cluster/topology.h"

#include <assert.h>
#include <string.h>

_Static_assert(TOPOLOGY_ENCODED_BYTES_MAX <= (1u << 21),
               "a topology must fit one log entry (CN_ENTRY_DATA_BYTES_MAX)");
_Static_assert(TOPOLOGY_SHARDS_MAX <= UINT16_MAX && TOPOLOGY_NODES_MAX <= UINT16_MAX,
               "counts are encoded in 16 bits");
_Static_assert(TOPOLOGY_VNODES_MAX <= UINT16_MAX, "vnodes is encoded in 16 bits");

enum { TOPOLOGY_FLAG_ZONE_SPREAD = 1 };

struct topology_writer {
    uint8_t *at;
    uint8_t *end;
};

static void topology_put(struct topology_writer *w, uint64_t value, size_t bytes)
{
    assert((size_t)(w->end - w->at) >= bytes);
    for (size_t i = 0; i < bytes; i++) w->at[i] = (uint8_t)(value >> (8 * i));
    w->at += bytes;
}

static void topology_put_string(struct topology_writer *w, const char *text, size_t bytes_max)
{
    size_t length = strnlen(text, bytes_max);
    assert(length < bytes_max && length <= UINT8_MAX);
    topology_put(w, length, 1);
    assert((size_t)(w->end - w->at) >= length);
    memcpy(w->at, text, length);
    w->at += length;
}

static size_t topology_node_bytes(const struct topology_node *node)
{
    return 8 + 1 + 2 + 1 + strnlen(node->zone, sizeof(node->zone)) + 1 +
           strnlen(node->client.host, sizeof(node->client.host)) + 2 + 1 +
           strnlen(node->peer.host, sizeof(node->peer.host)) + 2;
}

size_t topology_encoded_bytes(const struct topology *topology)
{
    assert(topology->node_count <= TOPOLOGY_NODES_MAX && topology->shard_count <= TOPOLOGY_SHARDS_MAX);
    size_t bytes = TOPOLOGY_ENCODED_HEADER_BYTES;
    for (uint32_t i = 0; i < topology->node_count; i++) bytes += topology_node_bytes(&topology->nodes[i]);
    for (uint32_t i = 0; i < topology->shard_count; i++)
        bytes += 2 + 2 + 8 + 1 + 8 * (size_t)topology->shards[i].replica_count;
    assert(bytes <= TOPOLOGY_ENCODED_BYTES_MAX);
    return bytes;
}

static void topology_write_node(struct topology_writer *w, const struct topology_node *node)
{
    topology_put(w, node->id, 8);
    topology_put(w, node->state, 1);
    topology_put(w, node->weight, 2);
    topology_put_string(w, node->zone, sizeof(node->zone));
    topology_put_string(w, node->client.host, sizeof(node->client.host));
    topology_put(w, node->client.port, 2);
    topology_put_string(w, node->peer.host, sizeof(node->peer.host));
    topology_put(w, node->peer.port, 2);
}

static void topology_write_shard(struct topology_writer *w, const struct topology_shard *shard)
{
    topology_put(w, shard->first_slot, 2);
    topology_put(w, shard->last_slot, 2);
    topology_put(w, shard->config_epoch, 8);
    topology_put(w, shard->replica_count, 1);
    for (uint32_t r = 0; r < shard->replica_count; r++) topology_put(w, shard->replicas[r], 8);
}

int64_t topology_encode(const struct topology *topology, uint8_t *buffer, size_t buffer_bytes)
{
    int rv = topology_validate(topology);
    if (rv != TOPOLOGY_OK) return rv;
    size_t bytes = topology_encoded_bytes(topology);
    if (buffer_bytes < bytes) return TOPOLOGY_ERROR_BUFFER;
    struct topology_writer w = {.at = buffer, .end = buffer + bytes};
    topology_put(&w, TOPOLOGY_MAGIC, 4);
    topology_put(&w, TOPOLOGY_FORMAT_VERSION, 1);
    topology_put(&w, topology->zone_spread ? TOPOLOGY_FLAG_ZONE_SPREAD : 0, 1);
    topology_put(&w, topology->replica_count, 1);
    topology_put(&w, 0, 1);
    topology_put(&w, topology->vnodes, 2);
    topology_put(&w, topology->node_count, 2);
    topology_put(&w, topology->shard_count, 2);
    topology_put(&w, topology->cluster_id, 8);
    topology_put(&w, topology->epoch, 8);
    for (uint32_t i = 0; i < topology->node_count; i++) topology_write_node(&w, &topology->nodes[i]);
    for (uint32_t i = 0; i < topology->shard_count; i++) topology_write_shard(&w, &topology->shards[i]);
    assert(w.at == w.end);
    return (int64_t)bytes;
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct topology_reader {
    const uint8_t *at;
    const uint8_t *end;
    bool truncated; /* sticky: a field ran past the end; later reads return 0 */
};

static uint64_t topology_get(struct topology_reader *r, size_t bytes)
{
    if (r->truncated || (size_t)(r->end - r->at) < bytes) {
        r->truncated = true;
        return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; i++) value |= (uint64_t)r->at[i] << (8 * i);
    r->at += bytes;
    return value;
}

/* A length-prefixed string into text[bytes_max]; false when it is too long or holds a NUL
 * (which would make two encodings print alike). Truncation is reported by the reader. */
static bool topology_get_string(struct topology_reader *r, char *text, size_t bytes_max)
{
    size_t length = (size_t)topology_get(r, 1);
    memset(text, 0, bytes_max);
    if (r->truncated) return true;
    if (length >= bytes_max) return false;
    if ((size_t)(r->end - r->at) < length) {
        r->truncated = true;
        return true;
    }
    if (memchr(r->at, '\0', length) != NULL) return false;
    memcpy(text, r->at, length);
    r->at += length;
    return true;
}

/* An id written in 64 bits whose high half version 1 requires to be zero. */
static bool topology_get_id(struct topology_reader *r, uint32_t *id)
{
    uint64_t value = topology_get(r, 8);
    *id = (uint32_t)value;
    return value <= UINT32_MAX;
}

static int topology_read_node(struct topology_reader *r, struct topology_node *node)
{
    memset(node, 0, sizeof(*node));
    if (!topology_get_id(r, &node->id)) return TOPOLOGY_ERROR_NODE_ID;
    node->state = (uint8_t)topology_get(r, 1);
    node->weight = (uint16_t)topology_get(r, 2);
    if (!topology_get_string(r, node->zone, sizeof(node->zone))) return TOPOLOGY_ERROR_ZONE;
    if (!topology_get_string(r, node->client.host, sizeof(node->client.host)))
        return TOPOLOGY_ERROR_ADDRESS;
    node->client.port = (uint16_t)topology_get(r, 2);
    if (!topology_get_string(r, node->peer.host, sizeof(node->peer.host)))
        return TOPOLOGY_ERROR_ADDRESS;
    node->peer.port = (uint16_t)topology_get(r, 2);
    return r->truncated ? TOPOLOGY_ERROR_TRUNCATED : TOPOLOGY_OK;
}

static int topology_read_shard(struct topology_reader *r, struct topology_shard *shard)
{
    memset(shard, 0, sizeof(*shard));
    shard->first_slot = (uint16_t)topology_get(r, 2);
    shard->last_slot = (uint16_t)topology_get(r, 2);
    shard->config_epoch = topology_get(r, 8);
    uint64_t count = topology_get(r, 1);
    if (count < 1 || count > TOPOLOGY_REPLICAS_MAX) {
        return r->truncated ? TOPOLOGY_ERROR_TRUNCATED : TOPOLOGY_ERROR_REPLICAS;
    }
    shard->replica_count = (uint8_t)count;
    for (uint32_t i = 0; i < count; i++)
        if (!topology_get_id(r, &shard->replicas[i])) return TOPOLOGY_ERROR_REPLICAS;
    return r->truncated ? TOPOLOGY_ERROR_TRUNCATED : TOPOLOGY_OK;
}

static int topology_read_header(struct topology_reader *r, struct topology *out)
{
    if ((size_t)(r->end - r->at) < TOPOLOGY_ENCODED_HEADER_BYTES) {
        /* A short input that does not even start like a topology is not one. */
        if ((size_t)(r->end - r->at) >= 4 && topology_get(r, 4) != TOPOLOGY_MAGIC)
            return TOPOLOGY_ERROR_MAGIC;
        return TOPOLOGY_ERROR_TRUNCATED;
    }
    if (topology_get(r, 4) != TOPOLOGY_MAGIC) return TOPOLOGY_ERROR_MAGIC;
    if (topology_get(r, 1) != TOPOLOGY_FORMAT_VERSION) return TOPOLOGY_ERROR_VERSION;
    uint64_t flags = topology_get(r, 1);
    if ((flags & ~(uint64_t)TOPOLOGY_FLAG_ZONE_SPREAD) != 0) return TOPOLOGY_ERROR_RESERVED;
    out->zone_spread = (flags & TOPOLOGY_FLAG_ZONE_SPREAD) != 0;
    out->replica_count = (uint32_t)topology_get(r, 1);
    if (topology_get(r, 1) != 0) return TOPOLOGY_ERROR_RESERVED;
    out->vnodes = (uint32_t)topology_get(r, 2);
    out->node_count = (uint32_t)topology_get(r, 2);
    out->shard_count = (uint32_t)topology_get(r, 2);
    out->cluster_id = topology_get(r, 8);
    out->epoch = topology_get(r, 8);
    assert(!r->truncated);
    if (out->node_count < 1 || out->node_count > TOPOLOGY_NODES_MAX) return TOPOLOGY_ERROR_NODE_COUNT;
    if (out->shard_count < 1 || out->shard_count > TOPOLOGY_SHARDS_MAX)
        return TOPOLOGY_ERROR_SHARD_COUNT;
    return TOPOLOGY_OK;
}

int topology_decode(const uint8_t *bytes, size_t length, struct topology *out)
{
    assert(bytes != NULL || length == 0);
    out->node_count = 0;
    out->shard_count = 0;
    if (length == 0) return TOPOLOGY_ERROR_TRUNCATED;
    struct topology_reader r = {.at = bytes, .end = bytes + length};
    int rv = topology_read_header(&r, out);
    /* Counts are checked before the loops, so each loop is bounded by its array. */
    for (uint32_t i = 0; rv == TOPOLOGY_OK && i < out->node_count; i++)
        rv = topology_read_node(&r, &out->nodes[i]);
    for (uint32_t i = 0; rv == TOPOLOGY_OK && i < out->shard_count; i++)
        rv = topology_read_shard(&r, &out->shards[i]);
    if (rv == TOPOLOGY_OK && r.at != r.end) rv = TOPOLOGY_ERROR_TRAILING;
    if (rv == TOPOLOGY_OK) rv = topology_validate(out);
    if (rv != TOPOLOGY_OK) {
        /* Leave nothing that looks like a topology behind. */
        out->node_count = 0;
        out->shard_count = 0;
    }
    return rv;
}
