/*
 * fuzz_topology.c — the topology codec (src/cluster/topology_codec.c), which will read meta
 * group log entries, and everything built on a decoded or built topology.
 *
 * Input: byte 0 picks the mode.
 *  - Even: the rest is topology bytes. Decoding either fails with a named error, or yields a
 *    topology that validates, whose encoding is exactly the input (one encoding per
 *    topology), and that every CLUSTER reply renders within its bounds, with leaders taken
 *    from the input (some unknown, some not replicas).
 *  - Odd: the rest describes a membership: node count (1..16), shard count (1..64), replicas
 *    (1..4), flags (bit 0 zone spread), then per node an id byte, a zone byte (0: none, else
 *    one of four zones), a weight byte (1..4) and a state byte. topology_build either fails
 *    with a named error or gives a valid topology whose replicas are distinct placed nodes,
 *    which round-trips through the codec, and whose rebuild from itself changes nothing but
 *    the epoch.
 */
#include "fuzz.h"

#include <string.h>

#include "cluster/cluster_reply.h"
#include "cluster/topology.h"

enum {
    FUZZ_NODES_MAX = 16,
    FUZZ_SHARDS_MAX = 64,
};

static struct topology fuzz_topology, fuzz_again;
static uint8_t fuzz_buffer[TOPOLOGY_ENCODED_BYTES_MAX];

static void fuzz_render(const struct topology *t, const uint8_t *data, size_t size)
{
    static uint32_t leaders[TOPOLOGY_SHARDS_MAX];
    for (uint32_t s = 0; s < t->shard_count; s++) {
        uint8_t pick = size > 0 ? data[s % size] : 0;
        /* A replica, none (0), or a node id that may not replicate the shard. */
        const struct topology_shard *shard = &t->shards[s];
        leaders[s] = pick % 4 == 0   ? 0
                     : pick % 4 == 1 ? t->nodes[pick % t->node_count].id
                                     : shard->replicas[pick % shard->replica_count];
    }
    struct cluster_view view = {.topology = t, .leaders = leaders,
                                .myself = t->nodes[size % t->node_count].id,
                                .slots_leaders_only = size % 3 == 0};
    struct resp_out out;
    resp_out_init(&out, 64u << 20, size % 2 ? 3 : 2);
    FUZZ_CHECK(cluster_reply_slots(&out, &view) == 0);
    FUZZ_CHECK(cluster_reply_shards(&out, &view) == 0);
    FUZZ_CHECK(cluster_reply_nodes(&out, &view) == 0);
    struct cluster_info_stats stats = {.messages_sent = size, .messages_received = t->epoch};
    FUZZ_CHECK(cluster_reply_info(&out, &view, &stats) == 0);
    FUZZ_CHECK(cluster_reply_myid(&out, &view) == 0);
    FUZZ_CHECK(!out.overflowed);
    resp_out_free(&out);
    FUZZ_CHECK(cluster_nodes_text(&view, NULL, 0) <= CLUSTER_NODES_TEXT_BYTES_MAX);
    FUZZ_CHECK(cluster_info_text(&view, &stats, NULL, 0) <= CLUSTER_INFO_TEXT_BYTES_MAX);
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
    int rv = topology_decode(data, size, &fuzz_topology);
    if (rv != TOPOLOGY_OK) {
        FUZZ_CHECK(rv < 0 && strcmp(topology_strerror(rv), "unknown topology error") != 0);
        return;
    }
    FUZZ_CHECK(topology_validate(&fuzz_topology) == TOPOLOGY_OK);
    FUZZ_CHECK(topology_encoded_bytes(&fuzz_topology) == size);
    int64_t length = topology_encode(&fuzz_topology, fuzz_buffer, sizeof(fuzz_buffer));
    FUZZ_CHECK(length == (int64_t)size);
    FUZZ_CHECK(memcmp(fuzz_buffer, data, size) == 0);
    fuzz_render(&fuzz_topology, data, size);
}

static void fuzz_build(const uint8_t *data, size_t size)
{
    if (size < 4) return;
    static struct topology_node nodes[FUZZ_NODES_MAX];
    static const char *const zones[] = {"", "a", "b", "c", "d"};
    uint32_t count = 1 + data[0] % FUZZ_NODES_MAX;
    struct topology_build_input input = {.cluster_id = data[1],
                                         .shard_count = 1 + data[1] % FUZZ_SHARDS_MAX,
                                         .replica_count = 1 + data[2] % 4,
                                         .zone_spread = (data[3] & 1) != 0, .node_count = count,
                                         .nodes = nodes};
    data += 4;
    size -= 4;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *d = size >= 4 * (i + 1) ? data + 4 * i : NULL;
        nodes[i] = (struct topology_node){
            .id = d ? d[0] : i + 1,
            .weight = (uint16_t)(d ? 1 + d[2] % 4 : 1),
            .state = (uint8_t)(d ? 1 + d[3] % 3 : TOPOLOGY_NODE_ACTIVE),
        };
        strcpy(nodes[i].zone, zones[d ? d[1] % 5 : 0]);
        strcpy(nodes[i].client.host, "10.0.0.1");
        strcpy(nodes[i].peer.host, "10.0.0.1");
        nodes[i].client.port = (uint16_t)(7000 + i);
        nodes[i].peer.port = (uint16_t)(8000 + i);
    }
    int rv = topology_build(&input, NULL, &fuzz_topology);
    if (rv != TOPOLOGY_OK) {
        FUZZ_CHECK(rv < 0 && strcmp(topology_strerror(rv), "unknown topology error") != 0);
        return;
    }
    FUZZ_CHECK(topology_validate(&fuzz_topology) == TOPOLOGY_OK);
    for (uint32_t s = 0; s < fuzz_topology.shard_count; s++) {
        const struct topology_shard *shard = &fuzz_topology.shards[s];
        FUZZ_CHECK(shard->replica_count == input.replica_count);
        for (uint32_t r = 0; r < shard->replica_count; r++) {
            const struct topology_node *node = topology_node_find(&fuzz_topology, shard->replicas[r]);
            FUZZ_CHECK(node->state != TOPOLOGY_NODE_LEAVING);
        }
    }
    int64_t length = topology_encode(&fuzz_topology, fuzz_buffer, sizeof(fuzz_buffer));
    FUZZ_CHECK(length > 0);
    FUZZ_CHECK(topology_decode(fuzz_buffer, (size_t)length, &fuzz_again) == TOPOLOGY_OK);
    FUZZ_CHECK(topology_equal(&fuzz_topology, &fuzz_again));
    FUZZ_CHECK(topology_build(&input, &fuzz_again, &fuzz_topology) == TOPOLOGY_OK);
    FUZZ_CHECK(fuzz_topology.epoch == 2);
    fuzz_topology.epoch = 1;
    FUZZ_CHECK(topology_equal(&fuzz_topology, &fuzz_again));
    fuzz_render(&fuzz_topology, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] % 2 == 0) fuzz_decode(data + 1, size - 1);
    else fuzz_build(data + 1, size - 1);
    return 0;
}
