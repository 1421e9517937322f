/*
 * topology_build.c — a topology from a membership: slot ranges from the even split, replicas
 * from the ring, preferred leaders balanced (see topology.h and topology_leaders.c).
 */
#include "cluster/topology_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring.h"

/* The topology's limits are the ring's, so that whatever validates here places there. */
_Static_assert((int)TOPOLOGY_REPLICAS_MAX <= (int)RING_REPLICAS_MAX, "replicas");
_Static_assert((int)TOPOLOGY_NODES_MAX <= (int)RING_NODES_MAX, "nodes");
_Static_assert((int)TOPOLOGY_WEIGHT_MAX == (int)RING_WEIGHT_MAX, "weights");
_Static_assert((int)TOPOLOGY_ZONE_BYTES_MAX == (int)RING_ZONE_NAME_BYTES_MAX, "zone names");
_Static_assert((int)TOPOLOGY_VNODES_MAX == (int)RING_VNODES_MAX, "virtual nodes");
_Static_assert((int)TOPOLOGY_VNODES_DEFAULT == (int)RING_VNODES_DEFAULT, "the default");
_Static_assert((int)TOPOLOGY_NODES_MAX <= (int)UINT16_MAX, "node indexes fit 16 bits");
_Static_assert((int)TOPOLOGY_SHARDS_MAX <= (int)UINT16_MAX, "shard indexes fit 16 bits");

static int topology_node_compare(const void *a, const void *b)
{
    uint32_t x = ((const struct topology_node *)a)->id, y = ((const struct topology_node *)b)->id;
    return (x > y) - (x < y);
}

static bool topology_node_placed(const struct topology_node *node)
{
    return node->state == TOPOLOGY_NODE_ACTIVE || node->state == TOPOLOGY_NODE_JOINING;
}

/* The copied, sorted and checked membership and the plain fields of `out`. */
static int topology_build_start(const struct topology_build_input *input,
                                const struct topology *previous, struct topology *out)
{
    if (input->shard_count < 1 || input->shard_count > TOPOLOGY_SHARDS_MAX)
        return TOPOLOGY_ERROR_SHARD_COUNT;
    if (input->replica_count < 1 || input->replica_count > TOPOLOGY_REPLICAS_MAX)
        return TOPOLOGY_ERROR_REPLICAS;
    uint32_t vnodes = input->vnodes == 0 ? TOPOLOGY_VNODES_DEFAULT : input->vnodes;
    if (vnodes > TOPOLOGY_VNODES_MAX) return TOPOLOGY_ERROR_VNODES;
    if (input->node_count < 1 || input->node_count > TOPOLOGY_NODES_MAX)
        return TOPOLOGY_ERROR_NODE_COUNT;
    if (previous != NULL && (previous->cluster_id != input->cluster_id ||
                             previous->shard_count != input->shard_count))
        return TOPOLOGY_ERROR_PREVIOUS;
    out->cluster_id = input->cluster_id;
    out->epoch = previous == NULL ? 1 : previous->epoch + 1;
    if (out->epoch == 0) return TOPOLOGY_ERROR_EPOCH; /* 2^64 changes: never, but not a wrap */
    out->replica_count = input->replica_count;
    out->vnodes = vnodes;
    out->zone_spread = input->zone_spread;
    out->node_count = input->node_count;
    memcpy(out->nodes, input->nodes, input->node_count * sizeof(out->nodes[0]));
    qsort(out->nodes, out->node_count, sizeof(out->nodes[0]), topology_node_compare);
    out->shard_count = input->shard_count;
    return TOPOLOGY_OK;
}

/* The ring over the placed nodes; their indexes in `placed` are the leader problem's. Zones
 * are numbered 1, 2, ... in order of first appearance by id ("" is zone 0, "no zone"). */
static int topology_build_ring(const struct topology *out, uint32_t *placed, uint32_t *placed_count,
                               struct ring **ring_out)
{
    static const size_t zone_bytes = TOPOLOGY_ZONE_BYTES_MAX;
    struct ring_node *ring_nodes = malloc(TOPOLOGY_NODES_MAX * sizeof(*ring_nodes));
    const char **zones = malloc(TOPOLOGY_NODES_MAX * sizeof(*zones));
    if (ring_nodes == NULL || zones == NULL) {
        free(ring_nodes);
        free(zones);
        return TOPOLOGY_ERROR_NO_MEMORY;
    }
    uint32_t count = 0, zone_count = 0;
    for (uint32_t i = 0; i < out->node_count; i++) {
        const struct topology_node *node = &out->nodes[i];
        if (!topology_node_placed(node)) continue;
        uint32_t zone = 0;
        if (node->zone[0] != '\0') {
            while (zone < zone_count && strncmp(zones[zone], node->zone, zone_bytes) != 0) zone++;
            if (zone == zone_count) zones[zone_count++] = node->zone;
            zone++;
        }
        ring_nodes[count] = (struct ring_node){.id = node->id, .weight = node->weight, .zone = zone};
        placed[count++] = i;
    }
    *placed_count = count;
    struct ring_config config = ring_config_default(RING_ALGORITHM_VNODES);
    config.vnodes = out->vnodes;
    int rv = count == 0 ? RING_ERROR_NO_NODES : ring_create(&config, ring_nodes, count, ring_out);
    free(ring_nodes);
    free(zones);
    if (rv == RING_ERROR_NO_MEMORY) return TOPOLOGY_ERROR_NO_MEMORY;
    return rv == RING_OK ? TOPOLOGY_OK : TOPOLOGY_ERROR_PLACEMENT;
}

/* The index in `placed` of a node id (placed is sorted by id, as out->nodes is). */
static uint32_t topology_placed_index(const struct topology *out, const uint32_t *placed,
                                      uint32_t placed_count, uint64_t id)
{
    uint32_t low = 0, high = placed_count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        uint32_t here = out->nodes[placed[middle]].id;
        if (here == id) return middle;
        if (here < id) low = middle + 1;
        else high = middle;
    }
    assert(!"a placed replica is a placed node");
    return 0;
}

/* The leader problem from the placement: first choice is the previous preferred leader when
 * it is still a replica of the shard, else the ring's first replica. */
static void topology_build_leaders(const struct topology *out, const struct topology *previous,
                                   const struct ring_placement *placement, const uint32_t *placed,
                                   uint32_t placed_count, struct topology_leaders *leaders)
{
    leaders->node_count = placed_count;
    leaders->shard_count = out->shard_count;
    for (uint32_t s = 0; s < out->shard_count; s++) {
        const uint64_t *ids = &placement->node_ids[(size_t)s * placement->replicas];
        leaders->replica_count[s] = (uint8_t)placement->replicas;
        leaders->leader[s] = 0;
        uint32_t previous_leader = previous == NULL ? 0 : previous->shards[s].replicas[0];
        for (uint32_t r = 0; r < placement->replicas; r++) {
            uint32_t index = topology_placed_index(out, placed, placed_count, ids[r]);
            leaders->replicas[s][r] = (uint16_t)index;
            if (r == 0 || ids[r] == previous_leader) leaders->leader[s] = (uint16_t)index;
        }
    }
}

/* Each shard's replicas: the balanced leader first, the others in the ring's order. */
static void topology_build_shards(struct topology *out, const struct topology *previous,
                                  const struct ring_placement *placement, const uint32_t *placed,
                                  const struct topology_leaders *leaders)
{
    struct shardmap map;
    int rv = shardmap_init(&map, out->shard_count);
    assert(rv == 0);
    for (uint32_t s = 0; s < out->shard_count; s++) {
        struct topology_shard *shard = &out->shards[s];
        memset(shard, 0, sizeof(*shard));
        uint32_t first, last;
        shardmap_range(&map, s, &first, &last);
        shard->first_slot = (uint16_t)first;
        shard->last_slot = (uint16_t)last;
        const uint64_t *ids = &placement->node_ids[(size_t)s * placement->replicas];
        uint32_t leader_id = out->nodes[placed[leaders->leader[s]]].id;
        shard->replicas[shard->replica_count++] = leader_id;
        for (uint32_t r = 0; r < placement->replicas; r++)
            if (ids[r] != leader_id) shard->replicas[shard->replica_count++] = (uint32_t)ids[r];
        assert(shard->replica_count == placement->replicas);
        bool unchanged = previous != NULL &&
                         previous->shards[s].replica_count == shard->replica_count &&
                         memcmp(previous->shards[s].replicas, shard->replicas,
                                shard->replica_count * sizeof(shard->replicas[0])) == 0;
        shard->config_epoch = unchanged ? previous->shards[s].config_epoch : out->epoch;
    }
}

int topology_build(const struct topology_build_input *input, const struct topology *previous,
                   struct topology *out)
{
    assert(out != previous);
    int rv = topology_build_start(input, previous, out);
    if (rv != TOPOLOGY_OK) return rv;
    /* Nodes first: the ring would name a duplicate id less clearly. */
    rv = topology_validate_nodes(out);
    if (rv != TOPOLOGY_OK) return rv;
    uint32_t *placed = malloc(TOPOLOGY_NODES_MAX * sizeof(*placed));
    struct topology_leaders *leaders = malloc(sizeof(*leaders));
    struct ring *ring = NULL;
    struct ring_placement *placement = NULL;
    uint32_t placed_count = 0;
    if (placed == NULL || leaders == NULL) {
        rv = TOPOLOGY_ERROR_NO_MEMORY;
        goto done;
    }
    rv = topology_build_ring(out, placed, &placed_count, &ring);
    if (rv != TOPOLOGY_OK) goto done;
    int ring_rv = ring_placement_create(ring, out->shard_count, out->replica_count,
                                        out->zone_spread, &placement);
    if (ring_rv != RING_OK) {
        rv = ring_rv == RING_ERROR_NO_MEMORY ? TOPOLOGY_ERROR_NO_MEMORY : TOPOLOGY_ERROR_PLACEMENT;
        goto done;
    }
    topology_build_leaders(out, previous, placement, placed, placed_count, leaders);
    topology_leaders_balance(leaders);
    topology_build_shards(out, previous, placement, placed, leaders);
    rv = topology_validate(out);
done:
    ring_placement_destroy(placement);
    ring_destroy(ring);
    free(leaders);
    free(placed);
    return rv;
}
