/*
 * topology.c — the rules of a valid topology, lookups, and the error table (see topology.h).
 */
#include "cluster/topology_internal.h"

#include <assert.h>
#include <string.h>

static const char *const topology_error_texts[] = {
    [0] = "ok",
    [1] = "the topology bytes end inside a field",
    [2] = "not a topology (bad magic)",
    [3] = "a topology format version this code does not read",
    [4] = "reserved bits or bytes of the topology are not zero",
    [5] = "bytes follow the last shard of the topology",
    [6] = "the output buffer is too small for the topology",
    [7] = "a topology holds 1 to 1024 nodes",
    [8] = "node ids must be 1 to 4294967295, unique and in ascending order",
    [9] = "a node's state must be active, joining or leaving",
    [10] = "a node's weight must be 1 to 1000",
    [11] = "a zone is at most 31 letters, digits, '-', '_' or '.'",
    [12] = ("an address is a host of 1 to 63 letters, digits, '.', '-', '_' or ':' and a port "
            "of 1 to 65535"),
    [13] = "a topology holds 1 to 1024 shards",
    [14] = "shard slot ranges must be ascending and contiguous and cover slots 0 to 16383",
    [15] = ("a shard has 1 to 7 replicas, all distinct nodes of the topology, and the replica "
            "count is 1 to 7"),
    [16] = "epochs start at 1 and a shard's config epoch is at most the cluster epoch",
    [17] = "virtual nodes per unit of weight must be 1 to 4096",
    [18] = ("the ring could not place the shards: fewer nodes taking replicas (or zones) than "
            "replicas, or more ring points than it allows (virtual nodes x total weight above "
            "8,388,608)"),
    [19] = "the previous topology has another cluster id or shard count",
    [20] = "out of memory",
};

const char *topology_strerror(int error)
{
    int index = -error;
    if (index < 0 || (size_t)index >= sizeof(topology_error_texts) / sizeof(topology_error_texts[0]))
        return "unknown topology error";
    return topology_error_texts[index];
}

static bool topology_zone_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* A zone: at most TOPOLOGY_ZONE_BYTES_MAX - 1 zone characters, NUL-terminated in its array.
 * The same alphabet as the ring's membership text, so a zone prints and parses unchanged. */
static bool topology_zone_valid(const char *zone)
{
    size_t length = strnlen(zone, TOPOLOGY_ZONE_BYTES_MAX);
    if (length >= TOPOLOGY_ZONE_BYTES_MAX) return false;
    for (size_t i = 0; i < length; i++)
        if (!topology_zone_char(zone[i])) return false;
    return true;
}

/* A host is a name or an IP literal (IPv6 has ':'); no spaces, no control bytes, no '@' or
 * ',', so that it prints inside CLUSTER NODES' "ip:port@cport" field unambiguously. */
static bool topology_address_valid(const struct topology_address *address)
{
    size_t length = strnlen(address->host, TOPOLOGY_HOST_BYTES_MAX);
    if (length == 0 || length >= TOPOLOGY_HOST_BYTES_MAX || address->port == 0) return false;
    for (size_t i = 0; i < length; i++)
        if (!topology_zone_char(address->host[i]) && address->host[i] != ':') return false;
    return true;
}

static int topology_validate_node(const struct topology_node *node)
{
    if (node->state < TOPOLOGY_NODE_ACTIVE || node->state > TOPOLOGY_NODE_LEAVING)
        return TOPOLOGY_ERROR_NODE_STATE;
    if (node->weight < 1 || node->weight > TOPOLOGY_WEIGHT_MAX) return TOPOLOGY_ERROR_WEIGHT;
    if (!topology_zone_valid(node->zone)) return TOPOLOGY_ERROR_ZONE;
    if (!topology_address_valid(&node->client) || !topology_address_valid(&node->peer))
        return TOPOLOGY_ERROR_ADDRESS;
    return TOPOLOGY_OK;
}

int topology_validate_nodes(const struct topology *topology)
{
    if (topology->node_count < 1 || topology->node_count > TOPOLOGY_NODES_MAX)
        return TOPOLOGY_ERROR_NODE_COUNT;
    for (uint32_t i = 0; i < topology->node_count; i++) {
        const struct topology_node *node = &topology->nodes[i];
        if (node->id == 0 || (i > 0 && node->id <= topology->nodes[i - 1].id))
            return TOPOLOGY_ERROR_NODE_ID;
        int rv = topology_validate_node(node);
        if (rv != TOPOLOGY_OK) return rv;
    }
    return TOPOLOGY_OK;
}

static int topology_validate_shard(const struct topology *topology,
                                   const struct topology_shard *shard)
{
    if (shard->replica_count < 1 || shard->replica_count > TOPOLOGY_REPLICAS_MAX)
        return TOPOLOGY_ERROR_REPLICAS;
    for (uint32_t r = 0; r < shard->replica_count; r++) {
        if (topology_node_find(topology, shard->replicas[r]) == NULL) return TOPOLOGY_ERROR_REPLICAS;
        for (uint32_t q = 0; q < r; q++)
            if (shard->replicas[q] == shard->replicas[r]) return TOPOLOGY_ERROR_REPLICAS;
    }
    if (shard->config_epoch < 1 || shard->config_epoch > topology->epoch) return TOPOLOGY_ERROR_EPOCH;
    return TOPOLOGY_OK;
}

static int topology_validate_shards(const struct topology *topology)
{
    if (topology->shard_count < 1 || topology->shard_count > TOPOLOGY_SHARDS_MAX)
        return TOPOLOGY_ERROR_SHARD_COUNT;
    uint32_t next_slot = 0;
    for (uint32_t i = 0; i < topology->shard_count; i++) {
        const struct topology_shard *shard = &topology->shards[i];
        if (shard->first_slot != next_slot || shard->last_slot < shard->first_slot ||
            shard->last_slot > SLOT_LAST)
            return TOPOLOGY_ERROR_SLOTS;
        next_slot = (uint32_t)shard->last_slot + 1;
        int rv = topology_validate_shard(topology, shard);
        if (rv != TOPOLOGY_OK) return rv;
    }
    return next_slot == SLOT_COUNT ? TOPOLOGY_OK : TOPOLOGY_ERROR_SLOTS;
}

int topology_validate(const struct topology *topology)
{
    if (topology->epoch < 1) return TOPOLOGY_ERROR_EPOCH;
    if (topology->vnodes < 1 || topology->vnodes > TOPOLOGY_VNODES_MAX) return TOPOLOGY_ERROR_VNODES;
    if (topology->replica_count < 1 || topology->replica_count > TOPOLOGY_REPLICAS_MAX)
        return TOPOLOGY_ERROR_REPLICAS;
    int rv = topology_validate_nodes(topology);
    if (rv != TOPOLOGY_OK) return rv;
    return topology_validate_shards(topology);
}

const struct topology_node *topology_node_find(const struct topology *topology, uint32_t id)
{
    assert(topology->node_count <= TOPOLOGY_NODES_MAX);
    uint32_t low = 0, high = topology->node_count; /* the id, if present, is in [low, high) */
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        uint32_t here = topology->nodes[middle].id;
        if (here == id) return &topology->nodes[middle];
        if (here < id) low = middle + 1;
        else high = middle;
    }
    return NULL;
}

uint32_t topology_shard_of_slot(const struct topology *topology, uint32_t slot)
{
    assert(slot < SLOT_COUNT);
    assert(topology->shard_count >= 1 && topology->shard_count <= TOPOLOGY_SHARDS_MAX);
    uint32_t low = 0, high = topology->shard_count - 1; /* the shard is in [low, high] */
    while (low < high) {
        uint32_t middle = low + (high - low + 1) / 2;
        if (topology->shards[middle].first_slot <= slot) low = middle;
        else high = middle - 1;
    }
    assert(topology->shards[low].first_slot <= slot && slot <= topology->shards[low].last_slot);
    return low;
}

bool topology_shard_has_replica(const struct topology_shard *shard, uint32_t node_id)
{
    assert(shard->replica_count <= TOPOLOGY_REPLICAS_MAX);
    for (uint32_t r = 0; r < shard->replica_count; r++)
        if (shard->replicas[r] == node_id) return true;
    return false;
}

void topology_leader_counts(const struct topology *topology, uint32_t *counts)
{
    memset(counts, 0, topology->node_count * sizeof(*counts));
    for (uint32_t s = 0; s < topology->shard_count; s++) {
        uint32_t leader_id = topology->shards[s].replicas[0];
        const struct topology_node *leader = topology_node_find(topology, leader_id);
        assert(leader != NULL);
        counts[leader - topology->nodes]++;
    }
}

static bool topology_node_equal(const struct topology_node *a, const struct topology_node *b)
{
    return a->id == b->id && a->state == b->state && a->weight == b->weight &&
           strncmp(a->zone, b->zone, sizeof(a->zone)) == 0 &&
           strncmp(a->client.host, b->client.host, sizeof(a->client.host)) == 0 &&
           a->client.port == b->client.port &&
           strncmp(a->peer.host, b->peer.host, sizeof(a->peer.host)) == 0 &&
           a->peer.port == b->peer.port;
}

static bool topology_shard_equal(const struct topology_shard *a, const struct topology_shard *b)
{
    if (a->first_slot != b->first_slot || a->last_slot != b->last_slot ||
        a->replica_count != b->replica_count || a->config_epoch != b->config_epoch)
        return false;
    assert(a->replica_count <= TOPOLOGY_REPLICAS_MAX);
    return memcmp(a->replicas, b->replicas, a->replica_count * sizeof(a->replicas[0])) == 0;
}

bool topology_equal(const struct topology *a, const struct topology *b)
{
    if (a->cluster_id != b->cluster_id || a->epoch != b->epoch ||
        a->replica_count != b->replica_count || a->vnodes != b->vnodes ||
        a->zone_spread != b->zone_spread || a->node_count != b->node_count ||
        a->shard_count != b->shard_count)
        return false;
    assert(a->node_count <= TOPOLOGY_NODES_MAX && a->shard_count <= TOPOLOGY_SHARDS_MAX);
    for (uint32_t i = 0; i < a->node_count; i++)
        if (!topology_node_equal(&a->nodes[i], &b->nodes[i])) return false;
    for (uint32_t i = 0; i < a->shard_count; i++)
        if (!topology_shard_equal(&a->shards[i], &b->shards[i])) return false;
    return true;
}
