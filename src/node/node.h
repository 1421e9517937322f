/*
 * node.h — chorusd, the replicated key-value server: one process, one libuv event loop, a
 * table of consensus groups (one per shard it replicates), one WAL for all of them, an LMDB state
 * machine, the peer transport and the RESP client server.
 */
#ifndef CHORUS_NODE_H
#define CHORUS_NODE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum {
    NODE_ADDR_BYTES_MAX = 64,
    NODE_PATH_BYTES_MAX = 1024,
    /* Nodes named by --cluster. A shard's group has at most CN_MEMBERS_MAX of them as
     * replicas; the transport keeps one connection to each of the others. */
    NODE_NODES_MAX = 64,
    NODE_SHARDS_DEFAULT = 16,
    NODE_REPLICAS_DEFAULT = 3,
    NODE_SECRET_BYTES_MAX = 512, /* AUTH_SECRET_BYTES_MAX */
    NODE_SNAPSHOT_BANDWIDTH_MIN = 16384, /* --snapshot-bandwidth's floor, bytes per second */
};

enum node_log_level { NODE_LOG_ERROR = 0, NODE_LOG_WARN = 1, NODE_LOG_INFO = 2, NODE_LOG_DEBUG = 3 };

struct node_member {
    cn_node_id id;
    char peer_addr[NODE_ADDR_BYTES_MAX];
    char client_addr[NODE_ADDR_BYTES_MAX]; /* "" when unknown */
};

struct node_config {
    cn_node_id id;
    char data_dir[NODE_PATH_BYTES_MAX];
    char listen_addr[NODE_ADDR_BYTES_MAX];      /* clients (RESP) */
    char peer_listen_addr[NODE_ADDR_BYTES_MAX]; /* peers */
    char join_addr[NODE_ADDR_BYTES_MAX];        /* --join: a member's peer address, or "" */
    char http_addr[NODE_ADDR_BYTES_MAX];        /* GET /metrics (http.c); "" when off */
    bool http_dev;                    /* --http-dev: the live view's controls (dev.c) */
    struct node_member members[NODE_NODES_MAX];
    uint32_t member_count;
    /* Sharding (docs/sharding.md): S shards, each a consensus group of R replicas. 0 means
     * "not given": the data directory's stored value, else the default. S = 1 is one group on
     * every node (standalone Redis semantics); S > 1 is Redis Cluster semantics. */
    uint32_t shards;
    uint32_t replicas;
    bool redirect;                    /* answer -MOVED instead of forwarding to a shard's leader */
    char protocol[16];
    uint64_t cluster_id;
    uint32_t tick_ms;
    uint32_t election_ticks;
    uint32_t heartbeat_ticks;
    uint32_t request_timeout_ms;      /* a client request waits at most this long */
    uint64_t snapshot_entries;        /* applied entries between two snapshots */
    uint32_t rebalance_moves_per_node; /* the rebalancer's plan: moves runnable per node */
    /* --snapshot-bandwidth: bytes per second of snapshot chunks this node sends to learners
     * (a move's new replica, a joining node), all groups together; 0: unlimited. */
    uint64_t snapshot_bandwidth_bytes_per_s;
    uint32_t clients_max;
    uint32_t pending_requests_max;    /* writes and reads waiting, all clients together */
    uint64_t log_cache_bytes_max;
    int log_level;
    /* Security (README, "Running it safely"). The password of the default
     * user (--requirepass, --requirepass-file; length 0: none), protected mode (--protected-mode:
     * with no password, only loopback clients are served), and the peers' shared secret
     * (--cluster-secret-file; length 0: peer links are not authenticated). Never logged. */
    uint8_t requirepass[NODE_SECRET_BYTES_MAX];
    uint32_t requirepass_len;
    bool protected_mode;
    uint8_t cluster_secret[NODE_SECRET_BYTES_MAX];
    uint32_t cluster_secret_len;
    /* TLS for clients (tls.c): a second client listener, "" when off. tls_auth_clients: with
     * tls_ca, 2 requires a client certificate, 1 checks one if sent, 0 asks for none. */
    char tls_listen_addr[NODE_ADDR_BYTES_MAX];
    char tls_cert[NODE_PATH_BYTES_MAX];
    char tls_key[NODE_PATH_BYTES_MAX];
    char tls_ca[NODE_PATH_BYTES_MAX];
    int tls_auth_clients;
    /* --tls-replication yes: every peer link speaks TLS with mutual authentication, each side
     * presenting tls_cert and verifying the other's against tls_ca (peers.c, net/transport.h). */
    bool tls_replication;
};

void node_config_defaults(struct node_config *config);

/* Parses "1=127.0.0.1:8001,2=..." into config->members; each entry may name the node's client
 * address after a slash ("1=127.0.0.1:8001/127.0.0.1:7001"). Returns 0, or -1 with a message. */
int node_config_parse_cluster(struct node_config *config, const char *text, char *error,
                              size_t error_len);

/* Runs the node until SIGTERM or SIGINT (clean shutdown) or a fatal error. Returns the
 * process exit status. */
int node_run(const struct node_config *config);

#endif
