/*
 * cluster_reply.c — the CLUSTER replies from a topology and the current leaders (see
 * cluster_reply.h for how chorus's shards map onto Redis's masters and replicas).
 */
#include "cluster/cluster_reply.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- names and roles -------------------------------------------------------------------- */

void cluster_node_name(uint64_t cluster_id, uint32_t node_id,
                       char name[CLUSTER_NODE_NAME_LENGTH + 1])
{
    /* 160 bits from two XXH3 hashes of (cluster id, node id) laid out little-endian, with
     * different seeds; the seeds spell "chorus-n" and "chorus-m", and must never change. */
    uint8_t bytes[12];
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(cluster_id >> (8 * i));
    for (int i = 0; i < 4; i++) bytes[8 + i] = (uint8_t)(node_id >> (8 * i));
    XXH128_hash_t high = XXH3_128bits_withSeed(bytes, sizeof(bytes), 0x63686f7275732d6eull);
    uint64_t low = XXH3_64bits_withSeed(bytes, sizeof(bytes), 0x63686f7275732d6dull);
    static const char digits[] = "0123456789abcdef";
    uint64_t words[3] = {high.high64, high.low64, low};
    for (int i = 0; i < CLUSTER_NODE_NAME_LENGTH; i++) {
        uint64_t word = words[i / 16];
        name[i] = digits[(word >> (60 - 4 * (i % 16))) & 0xf];
    }
    name[CLUSTER_NODE_NAME_LENGTH] = '\0';
}

static bool cluster_leader_known(const struct cluster_view *view, uint32_t shard)
{
    uint32_t leader = view->leaders[shard];
    return leader != 0 && topology_shard_has_replica(&view->topology->shards[shard], leader);
}

/* The node shown as the shard's master: its leader, or while that is unknown, its preferred
 * leader. */
static uint32_t cluster_shown_leader(const struct cluster_view *view, uint32_t shard)
{
    if (cluster_leader_known(view, shard)) return view->leaders[shard];
    return view->topology->shards[shard].replicas[0];
}

static uint32_t cluster_node_index(const struct topology *topology, uint32_t id)
{
    const struct topology_node *node = topology_node_find(topology, id);
    assert(node != NULL);
    return (uint32_t)(node - topology->nodes);
}

static uint64_t cluster_offset(const struct cluster_view *view, uint32_t shard, uint32_t replica)
{
    if (view->replication_offsets == NULL) return 0;
    return view->replication_offsets[(size_t)shard * TOPOLOGY_REPLICAS_MAX + replica];
}

/* Per node, for CLUSTER NODES and INFO: the shards it is shown leading, its config epoch, and
 * for a node leading none, the master it is shown replicating (UINT32_MAX: none). */
struct cluster_roles {
    uint32_t led[TOPOLOGY_NODES_MAX];
    uint64_t epoch[TOPOLOGY_NODES_MAX];
    uint32_t master[TOPOLOGY_NODES_MAX]; /* a node index */
};

static void cluster_roles_compute(const struct cluster_view *view, struct cluster_roles *roles)
{
    const struct topology *topology = view->topology;
    uint32_t nodes = topology->node_count;
    memset(roles->led, 0, nodes * sizeof(roles->led[0]));
    memset(roles->epoch, 0, nodes * sizeof(roles->epoch[0]));
    for (uint32_t n = 0; n < nodes; n++) roles->master[n] = UINT32_MAX;
    for (uint32_t s = 0; s < topology->shard_count; s++) {
        uint32_t leader = cluster_node_index(topology, cluster_shown_leader(view, s));
        roles->led[leader]++;
        uint64_t epoch = topology->shards[s].config_epoch;
        if (epoch > roles->epoch[leader]) roles->epoch[leader] = epoch;
    }
    /* A replica's master: the shown leader of the first shard (in slot order) it replicates. */
    for (uint32_t s = 0; s < topology->shard_count; s++) {
        const struct topology_shard *shard = &topology->shards[s];
        uint32_t leader = cluster_node_index(topology, cluster_shown_leader(view, s));
        for (uint32_t r = 0; r < shard->replica_count; r++) {
            uint32_t n = cluster_node_index(topology, shard->replicas[r]);
            if (roles->led[n] == 0 && roles->master[n] == UINT32_MAX) roles->master[n] = leader;
        }
    }
    /* Redis prints a replica's epoch as its master's. */
    for (uint32_t n = 0; n < nodes; n++)
        if (roles->led[n] == 0 && roles->master[n] != UINT32_MAX)
            roles->epoch[n] = roles->epoch[roles->master[n]];
}

/* ---- text ------------------------------------------------------------------------------- */

/* snprintf's contract over several appends: len counts everything, bytes past `bytes` are
 * not written. */
struct cluster_text {
    char *data;
    size_t bytes;
    size_t len;
};

static void cluster_text_append(struct cluster_text *text, const char *s, size_t n)
{
    if (text->len < text->bytes) {
        size_t room = text->bytes - text->len;
        memcpy(text->data + text->len, s, n < room ? n : room);
    }
    text->len += n;
}

__attribute__((format(printf, 2, 3)))
static void cluster_text_format(struct cluster_text *text, const char *format, ...)
{
    char line[256]; /* every format below prints at most a host and a few numbers */
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    assert(n >= 0 && (size_t)n < sizeof(line));
    cluster_text_append(text, line, (size_t)n);
}

/* The slot ranges a master is shown owning, adjacent ranges merged ("0-5460 10923-16383"). */
static void cluster_text_slots(struct cluster_text *text, const struct cluster_view *view,
                               uint32_t node_id)
{
    const struct topology *topology = view->topology;
    bool open = false;
    uint32_t first = 0, last = 0;
    for (uint32_t s = 0; s < topology->shard_count; s++) {
        if (cluster_shown_leader(view, s) != node_id) continue;
        const struct topology_shard *shard = &topology->shards[s];
        if (open && shard->first_slot == last + 1) {
            last = shard->last_slot;
            continue;
        }
        if (open) cluster_text_format(text, first == last ? " %u" : " %u-%u", first, last);
        open = true;
        first = shard->first_slot;
        last = shard->last_slot;
    }
    if (open) cluster_text_format(text, first == last ? " %u" : " %u-%u", first, last);
}

static void cluster_text_node_line(struct cluster_text *text, const struct cluster_view *view,
                                   const struct cluster_roles *roles, uint32_t n)
{
    const struct topology *topology = view->topology;
    const struct topology_node *node = &topology->nodes[n];
    char name[CLUSTER_NODE_NAME_LENGTH + 1];
    cluster_node_name(topology->cluster_id, node->id, name);
    bool replica = roles->led[n] == 0 && roles->master[n] != UINT32_MAX;
    const char *myself = node->id == view->myself ? "myself," : "";
    cluster_text_format(text, "%s %s:%u@%u %s%s ", name, node->client.host, node->client.port,
                        node->peer.port, myself, replica ? "slave" : "master");
    if (replica) {
        char master[CLUSTER_NODE_NAME_LENGTH + 1];
        cluster_node_name(topology->cluster_id, topology->nodes[roles->master[n]].id, master);
        cluster_text_append(text, master, CLUSTER_NODE_NAME_LENGTH);
    } else {
        cluster_text_append(text, "-", 1);
    }
    cluster_text_format(text, " 0 0 %llu connected", (unsigned long long)roles->epoch[n]);
    if (!replica) cluster_text_slots(text, view, node->id);
    cluster_text_append(text, "\n", 1);
}

size_t cluster_nodes_text(const struct cluster_view *view, char *buffer, size_t bytes)
{
    struct cluster_roles *roles = malloc(sizeof(*roles));
    if (roles == NULL) return SIZE_MAX;
    cluster_roles_compute(view, roles);
    struct cluster_text text = {.data = buffer, .bytes = bytes};
    for (uint32_t n = 0; n < view->topology->node_count; n++)
        cluster_text_node_line(&text, view, roles, n);
    free(roles);
    assert(text.len <= CLUSTER_NODES_TEXT_BYTES_MAX);
    return text.len;
}

size_t cluster_info_text(const struct cluster_view *view, const struct cluster_info_stats *stats,
                         char *buffer, size_t bytes)
{
    const struct topology *topology = view->topology;
    struct cluster_roles *roles = malloc(sizeof(*roles));
    if (roles == NULL) return SIZE_MAX;
    cluster_roles_compute(view, roles);
    uint32_t slots_ok = 0, masters = 0;
    for (uint32_t s = 0; s < topology->shard_count; s++)
        if (cluster_leader_known(view, s))
            slots_ok += (uint32_t)topology->shards[s].last_slot - topology->shards[s].first_slot + 1;
    for (uint32_t n = 0; n < topology->node_count; n++) masters += roles->led[n] > 0;
    uint64_t my_epoch = 0;
    if (view->myself != 0 && topology_node_find(topology, view->myself) != NULL)
        my_epoch = roles->epoch[cluster_node_index(topology, view->myself)];
    free(roles);
    /* Redis 7.0's field order (clusterGenInfoString). Slots whose shard has no known leader
     * are "pfail": an election is under way, and the state is "fail" until it ends. */
    struct cluster_text text = {.data = buffer, .bytes = bytes};
    cluster_text_format(&text, "cluster_state:%s\r\n", slots_ok == SLOT_COUNT ? "ok" : "fail");
    cluster_text_format(&text, "cluster_slots_assigned:%u\r\n", (unsigned)SLOT_COUNT);
    cluster_text_format(&text, "cluster_slots_ok:%u\r\n", slots_ok);
    cluster_text_format(&text, "cluster_slots_pfail:%u\r\n", SLOT_COUNT - slots_ok);
    cluster_text_format(&text, "cluster_slots_fail:0\r\n");
    cluster_text_format(&text, "cluster_known_nodes:%u\r\n", topology->node_count);
    cluster_text_format(&text, "cluster_size:%u\r\n", masters);
    cluster_text_format(&text, "cluster_current_epoch:%llu\r\n", (unsigned long long)topology->epoch);
    cluster_text_format(&text, "cluster_my_epoch:%llu\r\n", (unsigned long long)my_epoch);
    cluster_text_format(&text, "cluster_stats_messages_sent:%llu\r\n",
                        (unsigned long long)stats->messages_sent);
    cluster_text_format(&text, "cluster_stats_messages_received:%llu\r\n",
                        (unsigned long long)stats->messages_received);
    cluster_text_format(&text, "total_cluster_links_buffer_limit_exceeded:0\r\n");
    assert(text.len <= CLUSTER_INFO_TEXT_BYTES_MAX);
    return text.len;
}

/* ---- replies ---------------------------------------------------------------------------- */

static int cluster_reply_text(struct resp_out *out, const char *text, size_t len)
{
    return resp_reply_bulk(out, text, len);
}

int cluster_reply_nodes(struct resp_out *out, const struct cluster_view *view)
{
    size_t len = cluster_nodes_text(view, NULL, 0);
    char *text = len == SIZE_MAX ? NULL : malloc(len > 0 ? len : 1);
    if (text == NULL) {
        out->overflowed = true;
        return -1;
    }
    size_t again = cluster_nodes_text(view, text, len);
    assert(again == len);
    int rv = cluster_reply_text(out, text, len);
    free(text);
    return rv;
}

int cluster_reply_info(struct resp_out *out, const struct cluster_view *view,
                       const struct cluster_info_stats *stats)
{
    char text[CLUSTER_INFO_TEXT_BYTES_MAX];
    size_t len = cluster_info_text(view, stats, text, sizeof(text));
    if (len == SIZE_MAX) {
        out->overflowed = true;
        return -1;
    }
    return cluster_reply_text(out, text, len);
}

int cluster_reply_myid(struct resp_out *out, const struct cluster_view *view)
{
    assert(view->myself != 0 && topology_node_find(view->topology, view->myself) != NULL);
    char name[CLUSTER_NODE_NAME_LENGTH + 1];
    cluster_node_name(view->topology->cluster_id, view->myself, name);
    return resp_reply_bulk(out, name, CLUSTER_NODE_NAME_LENGTH);
}

static int cluster_reply_bulk_string(struct resp_out *out, const char *s)
{
    return resp_reply_bulk(out, s, strlen(s));
}

/* One node of CLUSTER SLOTS: [host, port, id, {}] (Redis 7's fourth element is a map of
 * extra networking metadata, empty when there is none). */
static int cluster_reply_slots_node(struct resp_out *out, const struct cluster_view *view,
                                    uint32_t node_id)
{
    const struct topology_node *node = topology_node_find(view->topology, node_id);
    assert(node != NULL);
    char name[CLUSTER_NODE_NAME_LENGTH + 1];
    cluster_node_name(view->topology->cluster_id, node_id, name);
    int rv = resp_reply_array(out, 4);
    rv |= cluster_reply_bulk_string(out, node->client.host);
    rv |= resp_reply_integer(out, node->client.port);
    rv |= resp_reply_bulk(out, name, CLUSTER_NODE_NAME_LENGTH);
    rv |= resp_reply_map(out, 0);
    return rv;
}

/* Redis leaves out a replica that failed or has not replicated anything (isReplicaAvailable). */
static bool cluster_replica_shown(const struct cluster_view *view, uint32_t shard, uint32_t r)
{
    if (view->slots_leaders_only) return false;
    return view->replication_offsets == NULL || cluster_offset(view, shard, r) != 0;
}

int cluster_reply_slots(struct resp_out *out, const struct cluster_view *view)
{
    const struct topology *topology = view->topology;
    int rv = resp_reply_array(out, topology->shard_count);
    for (uint32_t s = 0; s < topology->shard_count && rv == 0; s++) {
        const struct topology_shard *shard = &topology->shards[s];
        uint32_t leader = cluster_shown_leader(view, s), shown = 0;
        for (uint32_t r = 0; r < shard->replica_count; r++)
            shown += shard->replicas[r] != leader && cluster_replica_shown(view, s, r);
        rv |= resp_reply_array(out, 3 + shown);
        rv |= resp_reply_integer(out, shard->first_slot);
        rv |= resp_reply_integer(out, shard->last_slot);
        rv |= cluster_reply_slots_node(out, view, leader);
        for (uint32_t r = 0; r < shard->replica_count; r++)
            if (shard->replicas[r] != leader && cluster_replica_shown(view, s, r))
                rv |= cluster_reply_slots_node(out, view, shard->replicas[r]);
    }
    return rv == 0 ? 0 : -1;
}

/* One node of CLUSTER SHARDS: a map of id, port, ip, endpoint, role, replication-offset and
 * health, in Redis 7.0's order (addNodeDetailsToShardReply). */
static int cluster_reply_shards_node(struct resp_out *out, const struct cluster_view *view,
                                     uint32_t shard, uint32_t r, bool leader)
{
    uint32_t node_id = view->topology->shards[shard].replicas[r];
    const struct topology_node *node = topology_node_find(view->topology, node_id);
    assert(node != NULL);
    char name[CLUSTER_NODE_NAME_LENGTH + 1];
    cluster_node_name(view->topology->cluster_id, node_id, name);
    uint64_t offset = cluster_offset(view, shard, r);
    bool loading = !leader && view->replication_offsets != NULL && offset == 0;
    int rv = resp_reply_map(out, 7);
    rv |= cluster_reply_bulk_string(out, "id");
    rv |= resp_reply_bulk(out, name, CLUSTER_NODE_NAME_LENGTH);
    rv |= cluster_reply_bulk_string(out, "port");
    rv |= resp_reply_integer(out, node->client.port);
    rv |= cluster_reply_bulk_string(out, "ip");
    rv |= cluster_reply_bulk_string(out, node->client.host);
    rv |= cluster_reply_bulk_string(out, "endpoint");
    rv |= cluster_reply_bulk_string(out, node->client.host);
    rv |= cluster_reply_bulk_string(out, "role");
    rv |= cluster_reply_bulk_string(out, leader ? "master" : "replica");
    rv |= cluster_reply_bulk_string(out, "replication-offset");
    rv |= resp_reply_integer(out, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
    rv |= cluster_reply_bulk_string(out, "health");
    rv |= cluster_reply_bulk_string(out, loading ? "loading" : "online");
    return rv;
}

int cluster_reply_shards(struct resp_out *out, const struct cluster_view *view)
{
    const struct topology *topology = view->topology;
    int rv = resp_reply_array(out, topology->shard_count);
    for (uint32_t s = 0; s < topology->shard_count && rv == 0; s++) {
        const struct topology_shard *shard = &topology->shards[s];
        uint32_t leader = cluster_shown_leader(view, s);
        rv |= resp_reply_map(out, 2);
        rv |= cluster_reply_bulk_string(out, "slots");
        rv |= resp_reply_array(out, 2);
        rv |= resp_reply_integer(out, shard->first_slot);
        rv |= resp_reply_integer(out, shard->last_slot);
        rv |= cluster_reply_bulk_string(out, "nodes");
        rv |= resp_reply_array(out, shard->replica_count);
        /* The master first, then the replicas, as Redis lists a shard's nodes. */
        for (uint32_t r = 0; r < shard->replica_count; r++)
            if (shard->replicas[r] == leader) rv |= cluster_reply_shards_node(out, view, s, r, true);
        for (uint32_t r = 0; r < shard->replica_count; r++)
            if (shard->replicas[r] != leader)
                rv |= cluster_reply_shards_node(out, view, s, r, false);
    }
    return rv == 0 ? 0 : -1;
}
