/*
 * cluster_reply.h — CLUSTER SLOTS, CLUSTER SHARDS, CLUSTER NODES, CLUSTER INFO and CLUSTER
 * MYID rendered from a topology and "which node leads which shard now", in the exact reply
 * shapes of Redis 7.0 (the bytes were compared with what redis-server 7.0.15 sends), so that
 * cluster-aware clients (redis-cli -c, redis-benchmark --cluster, redis-py's RedisCluster)
 * discover a chorus cluster as they discover a Redis Cluster.
 *
 * Redis's model has one role per node: a master owning slot ranges, or a replica of one
 * master. A chorus node leads some shards and follows in others, so:
 *  - CLUSTER SLOTS and CLUSTER SHARDS are per shard and say everything: each shard's range,
 *    its leader as the master, its other replicas as replicas.
 *  - CLUSTER NODES is one line per node, in ascending chorus id: a node leading at least one
 *    shard is a master owning those shards' slots (adjacent ranges merged, as Redis prints
 *    them); a node leading none is a replica of the leader of the first shard it replicates;
 *    a node holding no replica is a master without slots (as a new Redis node is). Ping and
 *    pong times are printed as 0 and the link as connected, so that the text is the same on
 *    every node that has the same view, except for the "myself," flag that Redis puts on the
 *    answering node's line (view->myself; 0 prints no such flag).
 *
 * Node ids are 40 lowercase hex digits derived from the cluster id and the chorus node id
 * (XXH3; cluster_node_name), so every node prints the same id for a node, and the id stays
 * the same across restarts. A shard whose leader is unknown right now (an election) is shown
 * with its preferred leader as master: a client sent there is forwarded.
 *
 * In RESP3 Redis sends CLUSTER NODES and CLUSTER INFO as verbatim strings ("=N\r\ntxt:..."),
 * which resp.h cannot encode yet; they go out as bulk strings in both protocols (RESP2 bytes
 * are Redis's exactly).
 *
 * Pure: no I/O, no clock. CLUSTER NODES and CLUSTER INFO allocate their text (bounded by
 * CLUSTER_NODES_TEXT_BYTES_MAX) for the length of one call.
 */
#ifndef CHORUS_CLUSTER_REPLY_H
#define CHORUS_CLUSTER_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/topology.h"
#include "net/resp.h"

enum {
    CLUSTER_NODE_NAME_LENGTH = 40, /* Redis's CLUSTER_NAMELEN */
    /* A CLUSTER NODES line without slots is at most 40 id + 1 + 63 host + 1 + 5 port + 1 +
     * 5 cport + 1 + 13 flags + 1 + 40 master + 5 " 0 0 " + 20 epoch + 10 " connected" + 1
     * newline = 207 bytes; all slot ranges together (at most one per shard) add at most
     * 12 bytes each (" 16368-16383"). */
    CLUSTER_NODES_LINE_BYTES_MAX = 207,
    CLUSTER_NODES_TEXT_BYTES_MAX = TOPOLOGY_NODES_MAX * CLUSTER_NODES_LINE_BYTES_MAX +
                                   TOPOLOGY_SHARDS_MAX * 12,
    CLUSTER_INFO_TEXT_BYTES_MAX = 1024,
};

/* What the node knows now, beyond the topology. */
struct cluster_view {
    const struct topology *topology; /* valid (topology_validate) */
    /* leaders[s]: the node leading shard s now, or 0 when unknown; topology->shard_count
     * entries. A node that is not one of the shard's replicas counts as unknown. */
    const uint32_t *leaders;
    /* Optional (NULL: all 0): replication_offsets[s x TOPOLOGY_REPLICAS_MAX + r] is the
     * applied index of replica r (in topology->shards[s].replicas order). As in Redis, a
     * replica at offset 0 is "loading" in CLUSTER SHARDS and left out of CLUSTER SLOTS; with
     * no offsets at all every replica is shown, online. */
    const uint64_t *replication_offsets;
    uint32_t myself; /* the answering node's id, or 0 */
    /* CLUSTER SLOTS lists each shard's leader only, no replicas (a shape Redis sends when no
     * replica is available). Cluster clients that take a node's role from CLUSTER SLOTS
     * (redis-py 4.3 keeps the role a node is first seen in) then see every leading node as a
     * primary; with replicas listed, a node that leads one shard and follows in another is
     * seen as a replica, and commands sent to "all primaries" (DBSIZE, SCAN, KEYS, FLUSHALL)
     * miss it. docs/sharding.md ("Cluster clients and roles") discusses the choice. */
    bool slots_leaders_only;
};

/* Counters CLUSTER INFO reports that only the node knows. */
struct cluster_info_stats {
    uint64_t messages_sent;     /* peer messages */
    uint64_t messages_received;
};

/* The Redis node id of a chorus node: 40 lowercase hex digits and a NUL. */
void cluster_node_name(uint64_t cluster_id, uint32_t node_id,
                       char name[CLUSTER_NODE_NAME_LENGTH + 1]);

/* Each returns 0, or -1 when the reply would pass the output's cap (or memory ran out): the
 * output is then marked overflowed, as every resp_reply_* does. */
int cluster_reply_slots(struct resp_out *out, const struct cluster_view *view);
int cluster_reply_shards(struct resp_out *out, const struct cluster_view *view);
int cluster_reply_nodes(struct resp_out *out, const struct cluster_view *view);
int cluster_reply_info(struct resp_out *out, const struct cluster_view *view,
                       const struct cluster_info_stats *stats);
/* CLUSTER MYID: view->myself's name (asserted non-zero and a node of the topology). */
int cluster_reply_myid(struct resp_out *out, const struct cluster_view *view);

/*
 * The texts themselves, as snprintf: writes at most `bytes` bytes (no NUL is added) and
 * returns the full length, which never exceeds the _TEXT_BYTES_MAX above; SIZE_MAX when
 * memory for the per-node roles (16 KiB) ran out.
 */
size_t cluster_nodes_text(const struct cluster_view *view, char *buffer, size_t bytes);
size_t cluster_info_text(const struct cluster_view *view, const struct cluster_info_stats *stats,
                         char *buffer, size_t bytes);

#endif
