/*
 * meta_topology.c — the topology a node serves with, once the meta group records changes to it
 * (issue 11, membership of a sharded cluster; docs/membership.md, "Sharded clusters").
 *
 * A new cluster's nodes build the same topology from the same flags (groups.c). From then on
 * the meta group's log is the topology's history: its leader proposes a new encoding, with an
 * epoch one higher, for every change of the node list (CLUSTER MEET / FORGET, membership.c).
 * A node adopts a recorded topology whose epoch is higher than its own once it applied it
 * (meta.c reads the meta group's store), and keeps it in data-dir/topology, written through
 * a temporary file, fsync and rename, so that a restart serves with the latest topology it
 * adopted, not with the one its flags would build. A node that joins with --join learns the
 * member's current topology from a probe and starts from it.
 *
 * Adopting a topology connects to its new nodes, sends them the node beats, and puts their
 * addresses into the address book (membership.c), and recomputes the rebalancer's plan, which
 * rebalance.c carries out (the groups a node hosts follow the shards' replica lists).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cluster/rebalance.h"
#include "net/transport.h"
#include "node/node_internal.h"

static void topology_path(const struct node *node, char *path, size_t cap, bool tmp)
{
    snprintf(path, cap, "%s/topology%s", node->config.data_dir, tmp ? ".tmp" : "");
}

int node_topology_file_write(const struct node *node, const uint8_t *bytes, size_t len)
{
    char path[NODE_PATH_BYTES_MAX + 16], tmp[NODE_PATH_BYTES_MAX + 16];
    topology_path(node, path, sizeof(path), false);
    topology_path(node, tmp, sizeof(tmp), true);
    int rv = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        rv = write(fd, bytes, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
        close(fd);
        if (rv == 0)
            rv = rename(tmp, path);
    }
    if (rv == 0) {
        /* The rename is durable once the directory is. */
        int dir = open(node->config.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            (void)fsync(dir);
            close(dir);
        }
    }
    return rv;
}

int node_topology_file_read(const struct node *node, struct topology *out)
{
    char path[NODE_PATH_BYTES_MAX + 16];
    topology_path(node, path, sizeof(path), false);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    uint8_t *bytes = malloc(TOPOLOGY_ENCODED_BYTES_MAX + 1);
    assert(bytes != NULL);
    size_t len = 0;
    ssize_t n;
    /* Bounded: a file longer than the largest encoding is damaged. */
    while (len <= TOPOLOGY_ENCODED_BYTES_MAX &&
           (n = read(fd, bytes + len, TOPOLOGY_ENCODED_BYTES_MAX + 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    int rv = len <= TOPOLOGY_ENCODED_BYTES_MAX && topology_decode(bytes, len, out) == TOPOLOGY_OK
                 ? 0 : -1;
    free(bytes);
    return rv;
}

/* "host:port", with brackets around an IPv6 literal. */
static void address_text(const struct topology_address *a, char *out, size_t cap)
{
    snprintf(out, cap, strchr(a->host, ':') != NULL ? "[%s]:%u" : "%s:%u", a->host, a->port);
}

void node_topology_members_sync(struct node *node)
{
    struct node_config *c = &node->config;
    const struct topology *t = node->topology;
    struct node_member self = {.id = c->id};
    for (uint32_t i = 0; i < c->member_count; i++)
        if (c->members[i].id == c->id)
            self = c->members[i];
    if (self.peer_addr[0] == '\0')
        snprintf(self.peer_addr, sizeof(self.peer_addr), "%s", c->peer_listen_addr);
    if (self.client_addr[0] == '\0')
        snprintf(self.client_addr, sizeof(self.client_addr), "%s", c->listen_addr);
    c->member_count = 0;
    bool self_listed = false;
    for (uint32_t i = 0; i < t->node_count && c->member_count < NODE_NODES_MAX; i++) {
        const struct topology_node *n = &t->nodes[i];
        if (n->id == c->id) {
            c->members[c->member_count++] = self;
            self_listed = true;
            continue;
        }
        struct node_member *m = &c->members[c->member_count++];
        memset(m, 0, sizeof(*m));
        m->id = n->id;
        address_text(&n->peer, m->peer_addr, sizeof(m->peer_addr));
        address_text(&n->client, m->client_addr, sizeof(m->client_addr));
    }
    /* A node that joined and is not in the topology yet still counts itself a member. */
    if (!self_listed && c->member_count < NODE_NODES_MAX)
        c->members[c->member_count++] = self;
}

/* The peers of the new node list: connected to (lazily, at the first message). */
static void topology_connect(struct node *node)
{
    if (node->transport == NULL)
        return;
    for (uint32_t i = 0; i < node->config.member_count; i++) {
        const struct node_member *m = &node->config.members[i];
        if (m->id == node->config.id)
            continue;
        struct transport_peer_info info;
        if (transport_peer_info(node->transport, m->id, &info) &&
            strcmp(info.addr, m->peer_addr) == 0)
            continue;
        char error[TRANSPORT_ERROR_BYTES_MAX];
        if (transport_peer_set(node->transport, m->id, m->peer_addr, error, sizeof(error)) != 0)
            node_log(node, NODE_LOG_WARN, "topology: node %u at %s: %s", m->id, m->peer_addr,
                     error);
    }
}

void node_topology_encode_own(struct node *node)
{
    size_t bytes = topology_encoded_bytes(node->topology);
    free(node->topology_encoded);
    node->topology_encoded = malloc(bytes);
    assert(node->topology_encoded != NULL);
    int64_t len = topology_encode(node->topology, node->topology_encoded, bytes);
    assert(len > 0 && (size_t)len == bytes);
    node->topology_encoded_len = bytes;
    /* The beat carries the epoch's low 16 bits above 48 bits of the encoding's hash, so that
     * a node can tell a peer with other flags (same epoch, other bytes) from one that has
     * applied a change it has not yet (another epoch). */
    uint64_t hash = XXH3_64bits(node->topology_encoded, bytes) & NODE_TOPOLOGY_HASH_MASK;
    node->topology_hash = hash | (node->topology->epoch & 0xffff) << 48;
    if (node->topology_hash == 0)
        node->topology_hash = 1; /* 0 means "not verified" in a beat */
}

void node_topology_adopt(struct node *node, const struct topology *next)
{
    assert(next->epoch > node->topology->epoch);
    assert(next->shard_count == node->topology->shard_count);
    node_log(node, NODE_LOG_INFO, "meta group: adopting the topology of epoch %llu (%u nodes; "
             "it was epoch %llu, %u nodes)", (unsigned long long)next->epoch, next->node_count,
             (unsigned long long)node->topology->epoch, node->topology->node_count);
    *node->topology = *next;
    node_topology_encode_own(node);
    node->topology_verified = true;
    if (node_topology_file_write(node, node->topology_encoded, node->topology_encoded_len) != 0)
        node_log(node, NODE_LOG_WARN, "writing %s/topology: %s", node->config.data_dir,
                 strerror(errno));
    node_topology_members_sync(node);
    topology_connect(node);
    node_members_on_topology(node);
    node_rebalance_refresh(node);
}

/*
 * The rebalancer's plan (cluster/rebalance.h): which replicas the ring would place elsewhere
 * than the topology records, and which of those moves may run now under
 * --rebalance-moves-per-node. A pure function of the topology, so every node computes the same
 * plan; rebalance.c carries it out (docs/membership.md, "The rebalancer").
 */
void node_rebalance_refresh(struct node *node)
{
    if (!node->cluster_mode)
        return;
    if (node->rebalance == NULL) {
        node->rebalance = malloc(sizeof(*node->rebalance));
        assert(node->rebalance != NULL);
    }
    node->rebalance_error = rebalance_plan(node->topology, node->config.rebalance_moves_per_node,
                                           node->rebalance);
    if (node->rebalance_error != TOPOLOGY_OK) {
        node->rebalance->move_count = node->rebalance->runnable_count = 0;
        node_log(node, NODE_LOG_WARN, "rebalancer: no plan for the topology of epoch %llu: %s",
                 (unsigned long long)node->topology->epoch,
                 topology_strerror(node->rebalance_error));
    } else if (node->rebalance->move_count > 0) {
        node_log(node, NODE_LOG_INFO, "rebalancer: the topology of epoch %llu places %u "
                 "replicas elsewhere (%u runnable now)",
                 (unsigned long long)node->topology->epoch, node->rebalance->move_count,
                 node->rebalance->runnable_count);
    }
}

/* The topology with one more node, JOINING: it is given no replica until a rebalancer moves
 * some to it, so every shard keeps its replicas and its config epoch. */
int node_topology_with_node(const struct topology *now, const struct topology_node *added,
                            struct topology *out)
{
    if (topology_node_find(now, added->id) != NULL)
        return TOPOLOGY_ERROR_NODE_ID;
    if (now->node_count == TOPOLOGY_NODES_MAX)
        return TOPOLOGY_ERROR_NODE_COUNT;
    *out = *now;
    out->epoch = now->epoch + 1;
    uint32_t at = out->node_count++;
    while (at > 0 && out->nodes[at - 1].id > added->id) {
        out->nodes[at] = out->nodes[at - 1];
        at--;
    }
    out->nodes[at] = *added;
    return topology_validate(out);
}

/* The topology without a node, which must hold no replica. */
int node_topology_without_node(const struct topology *now, uint32_t id, struct topology *out)
{
    for (uint32_t s = 0; s < now->shard_count; s++)
        if (topology_shard_has_replica(&now->shards[s], id))
            return TOPOLOGY_ERROR_REPLICAS;
    *out = *now;
    out->epoch = now->epoch + 1;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < now->node_count; i++)
        if (now->nodes[i].id != id)
            out->nodes[kept++] = now->nodes[i];
    if (kept == now->node_count)
        return TOPOLOGY_ERROR_NODE_ID;
    out->node_count = kept;
    return topology_validate(out);
}
