/*
 * peers.c — the node's side of the peer transport: consensus messages in and out, and the
 * node-level forwarding of writes (CN_MSG_PROPOSE), which never reaches the core.
 */
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"

/* The group a message is for, or NULL: a group this node does not host (a peer with another
 * topology, or a message from before a restart) is dropped, as a stale message is. */
static struct node_group *message_group(struct node *node, const struct cn_message *m)
{
    if (m->group == node->topology->shard_count)
        return node->meta;
    if (m->group > node->topology->shard_count)
        return NULL;
    return node->groups[m->group];
}

static void on_message(void *ctx, const struct cn_message *m)
{
    struct node *node = ctx;
    if (node->stopping || node_dev_drops(node, m->from))
        return;
    if (m->from < 256) {
        node->peer_heard_ms[m->from] = node_now_ms(node);
        node->stats.peer_received_from[m->from]++;
    }
    if (m->type == CN_MSG_NODE_HEARTBEATS) {
        node->stats.peer_received_by_type[CN_MSG_NODE_HEARTBEATS]++;
        node_heartbeats_on_message(node, m);
        return;
    }
    node_peers_deliver(node, m);
}

void node_peers_deliver(struct node *node, const struct cn_message *m)
{
    if (m->type <= CN_MSG_TYPE_MAX)
        node->stats.peer_received_by_type[m->type]++;
    node_view_on_message(node, m);
    node_members_on_message(node, m);
    node_rebalance_on_message(node, m);
    if (m->type == CN_MSG_NODE_BEAT) {
        node_quiesce_on_beat(node, m);
        return;
    }
    if (m->type == CN_MSG_PROPOSE_RESPONSE) {
        node_requests_on_forward_response(node, m);
        return;
    }
    if (m->type == CN_MSG_PROXY) {
        node_proxy_on_message(node, m);
        return;
    }
    if (m->type == CN_MSG_PROXY_RESPONSE) {
        node_proxy_on_response(node, m);
        return;
    }
    struct node_group *g = message_group(node, m);
    if (g == NULL)
        return;
    if (m->type == CN_MSG_PROPOSE) {
        node_forwards_on_propose(g, m);
        return;
    }
    node_step(g, &(struct cn_event){.type = CN_EVENT_MESSAGE, .message = m});
}

static bool members_contain(const struct cn_members *members, cn_node_id id)
{
    for (uint32_t i = 0; i < members->count; i++)
        if (members->ids[i] == id)
            return true;
    return false;
}

static void step_unreachable(struct node_group *g, cn_node_id peer)
{
    if (g != NULL && members_contain(&g->status.members, peer))
        node_step(g, &(struct cn_event){.type = CN_EVENT_UNREACHABLE, .target = peer});
}

/* A peer's queue is full: every group that shares it backs off (each core decides how). */
static void on_unreachable(void *ctx, cn_node_id peer)
{
    struct node *node = ctx;
    if (node->stopping)
        return;
    for (uint32_t i = 0; i < node->hosted_count; i++)
        step_unreachable(node->hosted[i], peer);
    step_unreachable(node->meta, peer);
}

static size_t on_probe(void *ctx, const struct transport_probe *probe, uint8_t *out, size_t cap)
{
    struct node *node = ctx;
    if (node->stopping)
        return 0;
    return node_members_on_probe(node, probe, out, cap);
}

static void on_log(void *ctx, const char *line)
{
    node_log(ctx, NODE_LOG_INFO, "transport: %s", line);
}

/* The peers' TLS context: both roles, and the other side must present a certificate that
 * chains to --tls-ca, whichever side it is on (mutual TLS). */
struct net_tls_context *node_peers_tls_load(const struct node *node, char *error,
                                            size_t error_len)
{
    const struct node_config *c = &node->config;
    assert(c->tls_ca[0] != '\0'); /* chorusd refuses --tls-replication without it */
    struct net_tls_files files = {.cert = c->tls_cert, .key = c->tls_key, .ca = c->tls_ca,
                                  .verify = NET_TLS_VERIFY_REQUIRE};
    return net_tls_context_new(&files, error, error_len);
}

int node_peers_tls_reload(struct node *node, char *error, size_t error_len)
{
    assert(node->peer_tls_context != NULL && node->transport != NULL);
    struct net_tls_context *fresh = node_peers_tls_load(node, error, error_len);
    if (fresh == NULL)
        return -1;
    int rv = transport_tls_set(node->transport, fresh);
    assert(rv == TRANSPORT_OK);
    net_tls_context_free(node->peer_tls_context);
    node->peer_tls_context = fresh;
    return 0;
}

int node_peers_start(struct node *node, char *error, size_t error_len)
{
    struct transport_config config;
    transport_config_defaults(&config);
    if (node->config.tls_replication) {
        node->peer_tls_context = node_peers_tls_load(node, error, error_len);
        if (node->peer_tls_context == NULL)
            return -1;
        config.tls = node->peer_tls_context;
    }
    config.self = node->config.id;
    config.cluster_id = node->config.cluster_id;
    /* --cluster-secret-file: every peer link authenticates (net/handshake.h). */
    assert(node->config.cluster_secret_len <= sizeof(config.secret));
    memcpy(config.secret, node->config.cluster_secret, node->config.cluster_secret_len);
    config.secret_len = node->config.cluster_secret_len;
    config.listen_addr = node->config.peer_listen_addr;
    config.seed = node->config.id * 7919u + node_now_ms(node);
    for (uint32_t i = 0; i < node->config.member_count; i++) {
        const struct node_member *m = &node->config.members[i];
        if (m->id == node->config.id)
            continue;
        config.peers[config.peer_count].id = m->id;
        strncpy(config.peers[config.peer_count].addr, m->peer_addr, TRANSPORT_ADDR_BYTES_MAX - 1);
        config.peer_count++;
    }
    struct transport_callbacks callbacks = {.ctx = node, .on_message = on_message,
                                            .on_unreachable = on_unreachable, .on_log = on_log,
                                            .on_probe = on_probe};
    return transport_start(node->loop, &config, &callbacks, &node->transport, error, error_len);
}

/* Sends a batch of the core's messages. A snapshot message gets its bytes in snapshot_send.c
 * (consensus.h: the driver fills the chunk from its latest snapshot), which may hold it back
 * for --snapshot-bandwidth. */
void node_peers_send(struct node_group *g, const struct cn_message *messages, uint32_t count)
{
    struct node *node = g->node;
    if (node->transport == NULL)
        return; /* stopping: peers will hear from the next leader */
    cn_node_id unreachable[CN_MEMBERS_MAX];
    uint32_t unreachable_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_message *m = &messages[i];
        int rv;
        if (m->type == CN_MSG_SNAPSHOT && m->snapshot_chunk == NULL)
            rv = node_snapshot_send(g, m); /* snapshot_send.c: filled, and limited */
        else if (node_heartbeats_take(node, m))
            continue;
        else
            rv = transport_send(node->transport, m);
        if (rv == TRANSPORT_ERR_QUEUE_FULL && unreachable_count < CN_MEMBERS_MAX)
            unreachable[unreachable_count++] = m->to;
        else if (rv != TRANSPORT_OK && rv != TRANSPORT_ERR_QUEUE_FULL)
            node_log(node, NODE_LOG_WARN, "sending %s to %u: %s", cn_message_type_name(m->type),
                     m->to, transport_strerror(rv));
    }
    /* Stepped only now: the messages may point into the core, valid until its next call. */
    for (uint32_t i = 0; i < unreachable_count; i++)
        node_step(g, &(struct cn_event){.type = CN_EVENT_UNREACHABLE, .target = unreachable[i]});
}

void node_peers_stop(struct node *node)
{
    if (node->transport != NULL)
        transport_stop(node->transport, NULL, NULL);
    node->transport = NULL;
    /* A stopped transport opens no connection; open ones keep OpenSSL's context alive. */
    net_tls_context_free(node->peer_tls_context);
    node->peer_tls_context = NULL;
    node_heartbeats_free(node);
}
