/*
 * node.c — starting and stopping chorusd: storage, the core, peers, clients, timers, signals.
 *
 * Start-up order: open the WAL (recovery verifies every record), build the topology, and for
 * every group this node hosts open its LMDB, restore its core from the WAL and open its latest
 * snapshot file (groups.c); then listen for peers and clients. Shutdown on
 * SIGTERM/SIGINT: stop taking clients and messages, let the sync in flight finish (what it
 * writes is durable and may be acknowledged), close everything and exit 0. SIGKILL at any
 * moment loses nothing acknowledged: acknowledgements follow the fdatasync.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/rebalance.h"
#include "net/transport.h"
#include "node/node_internal.h"
#include "protocol/registry.h"
#include "storage/fileops.h"

enum { NODE_SWEEP_MS = 20 };

uint64_t node_now_ms(const struct node *node)
{
    return uv_now(node->loop);
}

void node_config_defaults(struct node_config *config)
{
    memset(config, 0, sizeof(*config));
    config->id = 1;
    snprintf(config->data_dir, sizeof(config->data_dir), "data");
    snprintf(config->listen_addr, sizeof(config->listen_addr), "127.0.0.1:7001");
    snprintf(config->peer_listen_addr, sizeof(config->peer_listen_addr), "127.0.0.1:8001");
    snprintf(config->protocol, sizeof(config->protocol), "raft");
    config->tick_ms = 10;
    config->election_ticks = 15;
    config->heartbeat_ticks = 3;
    config->request_timeout_ms = 5000;
    config->snapshot_entries = 100000;
    config->rebalance_moves_per_node = REBALANCE_MOVES_PER_NODE_DEFAULT;
    config->clients_max = 10000;
    config->pending_requests_max = 65536;
    config->log_cache_bytes_max = 64ull << 20;
    config->log_level = NODE_LOG_INFO;
    config->protected_mode = true;
    config->tls_auth_clients = 2; /* Redis's tls-auth-clients yes */
}

/* Copies one address of a --cluster entry; the caller checked its length. */
static int cluster_addr_copy(char *dst, const char *src, size_t len, unsigned long id,
                             const char *what, char *error, size_t error_len)
{
    if (len == 0 || len >= NODE_ADDR_BYTES_MAX || memchr(src, ':', len) == NULL) {
        snprintf(error, error_len, "--cluster: bad %s address for member %lu", what, id);
        return -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* "1=127.0.0.1:8001/127.0.0.1:7001,2=...": member ids, peer addresses and (after a slash,
 * optional) client addresses. */
int node_config_parse_cluster(struct node_config *config, const char *text, char *error,
                              size_t error_len)
{
    config->member_count = 0;
    const char *p = text;
    while (*p != '\0') {
        if (config->member_count == NODE_NODES_MAX) {
            snprintf(error, error_len, "--cluster: at most %d members", NODE_NODES_MAX);
            return -1;
        }
        char *end;
        unsigned long id = strtoul(p, &end, 10);
        if (end == p || *end != '=' || id == 0 || id > 255) {
            snprintf(error, error_len, "--cluster: expected ID=HOST:PORT (ID 1..255) at '%s'", p);
            return -1;
        }
        const char *addr = end + 1;
        const char *comma = strchr(addr, ',');
        size_t len = comma ? (size_t)(comma - addr) : strlen(addr);
        for (uint32_t i = 0; i < config->member_count; i++)
            if (config->members[i].id == id) {
                snprintf(error, error_len, "--cluster: member %lu named twice", id);
                return -1;
            }
        struct node_member *m = &config->members[config->member_count];
        memset(m, 0, sizeof(*m));
        m->id = (cn_node_id)id;
        const char *slash = memchr(addr, '/', len);
        size_t peer_len = slash ? (size_t)(slash - addr) : len;
        if (cluster_addr_copy(m->peer_addr, addr, peer_len, id, "peer", error, error_len) != 0)
            return -1;
        if (slash != NULL && cluster_addr_copy(m->client_addr, slash + 1, len - peer_len - 1,
                                               id, "client", error, error_len) != 0)
            return -1;
        config->member_count++;
        p = comma ? comma + 1 : addr + len;
    }
    /* The cluster id is derived from the membership so that every node computes the same. */
    uint64_t hash = 1469598103934665603ull;
    for (const char *c = text; *c; c++)
        hash = (hash ^ (uint8_t)*c) * 1099511628211ull;
    if (config->cluster_id == 0)
        config->cluster_id = hash;
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int open_storage(struct node *node)
{
    char path[NODE_PATH_BYTES_MAX + 16];
    if (make_dir(node->config.data_dir) != 0) {
        node_log(node, NODE_LOG_ERROR, "cannot create %s: %s", node->config.data_dir,
                 strerror(errno));
        return -1;
    }
    struct wal_options options;
    wal_options_defaults(&options);
    snprintf(path, sizeof(path), "%s/wal", node->config.data_dir);
    options.dir = path;
    options.cache_bytes_max = node->config.log_cache_bytes_max;
    struct wal_error err;
    if (wal_open(&options, fileops_posix(), &node->wal, &err) != WAL_OK) {
        node_log(node, NODE_LOG_ERROR, "WAL: %s", err.message);
        return -1;
    }
    /* A new node's first segment, too, begins as a zero-filled spare (wal_spare.c): made here,
     * before the loop runs, so that the first write cannot race it into a fallocated file. It
     * costs a new node about 60 ms once. A failure only means a fallocated segment. */
    if (wal_spare_begin(node->wal)) {
        int rv = wal_spare_prepare(node->wal, &err);
        if (rv != WAL_OK)
            node_log(node, NODE_LOG_WARN, "WAL spare segment: %s", err.message);
        wal_spare_complete(node->wal, rv);
    }
    return node_groups_open(node);
}

static bool config_names_self(const struct node_config *config)
{
    for (uint32_t i = 0; i < config->member_count; i++)
        if (config->members[i].id == config->id)
            return true;
    return false;
}

static void on_tick(uv_timer_t *timer)
{
    struct node *node = timer->data;
    if (node_dev_paused(node))
        return; /* --http-dev's pause: no group ticks, so none times out or heartbeats */
    node_quiesce_tick(node);
    node_expiry_tick(node);
    node_snapshot_send_tick(node);
    node->ticks++;
    if (node->ticks % node->config.heartbeat_ticks == 0)
        node_quiesce_beat(node);
    if (node->ticks % 5 == 0) {
        node_members_tick(node);
        node_rebalance_tick(node);
    }
    if (node->ticks % NODE_BALANCE_TICKS == 0) {
        node_groups_balance(node);
        node_meta_tick(node);
    }
}

static void on_sweep(uv_timer_t *timer)
{
    struct node *node = timer->data;
    node_requests_sweep(node, node_now_ms(node));
    node_proxy_sweep(node, node_now_ms(node));
    node_auth_sweep(node, node_now_ms(node));
}

static void node_begin_stop(struct node *node)
{
    if (node->stopping)
        return;
    node_log(node, NODE_LOG_INFO, "stopping");
    node->stopping = true;
    uv_timer_stop(&node->tick_timer);
    uv_timer_stop(&node->sweep_timer);
    uv_signal_stop(&node->sigterm);
    uv_signal_stop(&node->sigint);
    node_server_stop(node);
    node_http_stop(node);
    for (uint32_t i = 0; i < node->hosted_count; i++)
        node_forwards_reject_all(node->hosted[i]);
    node_peers_stop(node);
    uv_close((uv_handle_t *)&node->tick_timer, NULL);
    uv_close((uv_handle_t *)&node->sweep_timer, NULL);
    uv_close((uv_handle_t *)&node->sigterm, NULL);
    uv_close((uv_handle_t *)&node->sigint, NULL);
    uv_close((uv_handle_t *)&node->drive_prepare, NULL);
    uv_close((uv_handle_t *)&node->drive_idle, NULL);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    (void)signum;
    node_begin_stop(handle->data);
}

static int start_loop_handles(struct node *node, char *error, size_t error_len)
{
    node_metrics_init(node);
    node_drive_init(node);
    node_snapshot_send_init(node);
    uv_timer_init(node->loop, &node->tick_timer);
    node->tick_timer.data = node;
    uv_timer_start(&node->tick_timer, on_tick, node->config.tick_ms, node->config.tick_ms);
    uv_timer_init(node->loop, &node->sweep_timer);
    node->sweep_timer.data = node;
    uv_timer_start(&node->sweep_timer, on_sweep, NODE_SWEEP_MS, NODE_SWEEP_MS);
    uv_signal_init(node->loop, &node->sigterm);
    node->sigterm.data = node;
    uv_signal_start(&node->sigterm, on_signal, SIGTERM);
    uv_signal_init(node->loop, &node->sigint);
    node->sigint.data = node;
    uv_signal_start(&node->sigint, on_signal, SIGINT);
    if (node_peers_start(node, error, error_len) != 0)
        return -1;
    if (node_members_start(node) != 0) {
        snprintf(error, error_len, "the address book could not be written");
        return -1;
    }
    if (node_http_start(node, error, error_len) != 0)
        return -1;
    return node_server_start(node, error, error_len);
}

int node_run(const struct node_config *config)
{
    static struct node node_storage;
    struct node *node = &node_storage;
    memset(node, 0, sizeof(*node));
    node->config = *config;
    node->loop = uv_default_loop();
    /* The loop's idle time measures its work per iteration (INFO loop_busy_max_us). */
    uv_loop_configure(node->loop, UV_METRICS_IDLE_TIME);
    node->start_ms = uv_now(node->loop);
    node->boot_nonce = uv_hrtime() ^ ((uint64_t)getpid() << 20);
    /* A write to a socket the peer closed must return EPIPE, not kill the node (any client
     * could otherwise stop it by closing with replies pending). */
    signal(SIGPIPE, SIG_IGN);
    /* While the groups open, every allocation of 128 KiB or more gets its own mmap: the
     * cores' and stores' large tables (sized for their bounds, mostly never touched) then
     * cost no resident memory until used. From the heap, calloc would touch every page: a
     * node hosting 1,000 groups was 615 MiB resident at rest. Setting the threshold also
     * turns off glibc's dynamic threshold, which would otherwise move it up. */
    mallopt(M_MMAP_THRESHOLD, NODE_OPEN_MMAP_THRESHOLD_BYTES);
    node->ops = protocol_find(config->protocol);
    if (node->ops == NULL) {
        node_log(node, NODE_LOG_ERROR, "unknown --protocol %s (known: %s)", config->protocol,
                 protocol_names());
        return 1;
    }
    node->by_id.capacity = 1;
    while (node->by_id.capacity < 2 * config->pending_requests_max + 2 * NODE_CLIENT_WAITING_MAX)
        node->by_id.capacity *= 2;
    node->by_id.slots = calloc(node->by_id.capacity, sizeof(*node->by_id.slots));
    node->get_buffer = malloc(NODE_GET_BUFFER_BYTES);
    assert(node->by_id.slots != NULL && node->get_buffer != NULL);
    if (node_members_load(node, config->join_addr) != 0)
        return 1;
    config = &node->config; /* the members file may have given the members and cluster id */
    if (!config_names_self(config)) {
        node_log(node, NODE_LOG_ERROR, "--id %u is not a member of --cluster", config->id);
        return 1;
    }
    if (open_storage(node) != 0)
        return 1;
    /* Large replies (MGET of 1 MiB values) are built and freed often: served from the heap
     * and kept there, their pages are faulted in once instead of on every reply (a fresh
     * mmap per reply cost a page fault per 4 KiB, tens of ms per 30 MiB reply here). */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    char error[256];
    if (start_loop_handles(node, error, sizeof(error)) != 0) {
        node_log(node, NODE_LOG_ERROR, "%s", error);
        return 1;
    }
    node_log(node, NODE_LOG_INFO, "serving clients on %s, peers on %s, protocol %s%s%s",
             config->listen_addr, config->peer_listen_addr, node->ops->name,
             config->http_addr[0] != '\0' ? ", metrics on http://" : "", config->http_addr);
    uv_run(node->loop, UV_RUN_DEFAULT);
    /* The loop ends once every handle closed and the work in flight (a sync, a snapshot)
     * finished: what the last sync wrote is durable. */
    node_proxy_sweep(node, UINT64_MAX); /* stand-ins closed at the stop */
    node_groups_close(node);
    wal_close(node->wal);
    uv_loop_close(node->loop);
    node_members_free(node);
    node_log(node, NODE_LOG_INFO, "stopped");
    return node->exit_status;
}
