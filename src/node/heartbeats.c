/*
 * heartbeats.c — coalesced heartbeats: one message per node pair per loop iteration carries
 * the heartbeats and heartbeat answers of every group the two nodes share (CockroachDB's
 * scheme; docs/sharding.md, step 6).
 *
 * With S shards a node pair shares up to S groups, and each group's leader sends its own
 * heartbeat every heartbeat interval, each answered: 2 S messages per pair per interval,
 * each framed, checksummed and decoded on its own. Quiet groups send none (quiesce.c); the
 * groups that are awake send theirs through here. The cores are not changed: a core's
 * heartbeat (Raft's CN_MSG_HEARTBEAT, Multi-Paxos's CN_MSG_LEASE) and its answer leave the
 * core as before, node_peers_send hands them here instead of to the transport, and once per
 * loop iteration (just before the transport's own flush) every peer's records go out as one
 * CN_MSG_NODE_HEARTBEATS. The receiver takes the message apart and steps each record into
 * its group as the message it stands for, so to the cores nothing changed.
 *
 * Only messages whose every field fits a record are coalesced (type, group, term, index,
 * commit, context, reject; no entries, no snapshot, no log term or hints); anything else goes
 * to the transport as before. The delay is at most the rest of the iteration, in which the
 * transport would have held the message anyway. A heartbeat may now reach a peer after an
 * append the core sent later in the same iteration: the cores take messages in any order
 * (the simulator reorders them), a heartbeat carries no more commit than the follower is
 * known to hold (Raft) or than is chosen (Paxos), and a read round is matched by its context.
 *
 * Only with sharding on (S > 1): with one group there is nothing to coalesce.
 *
 * The record's encoding is src/consensus/beats.h, which the simulator shares.
 */
#include <stdlib.h>
#include <string.h>

#include "consensus/beats.h"
#include "net/transport.h"
#include "node/node_internal.h"

enum {
    /* Records per message: a node pair shares at most every shard and the meta group, and a
     * group sends a peer at most a few heartbeats per iteration; a fuller buffer is sent at
     * once and a new one begun. */
    NODE_HEARTBEATS_RECORDS_MAX = 2 * (TOPOLOGY_SHARDS_MAX + 1),
};

struct node_heartbeats_peer {
    uint32_t count;
    uint8_t records[NODE_HEARTBEATS_RECORDS_MAX * CN_BEAT_RECORD_BYTES];
};

struct node_heartbeats {
    struct node_heartbeats_peer *peers[256]; /* by node id; allocated on first use */
    uint8_t pending[256];                    /* ids with records, in the order first added */
    uint32_t pending_count;
};

bool node_heartbeats_take(struct node *node, const struct cn_message *m)
{
    if (!node->cluster_mode || !cn_beat_coalescable(m) || m->to == 0 || m->to > 255 ||
        m->from != node->config.id)
        return false;
    struct node_heartbeats *h = node->heartbeats;
    if (h == NULL) {
        h = node->heartbeats = calloc(1, sizeof(*h));
        assert(h != NULL);
    }
    struct node_heartbeats_peer *p = h->peers[m->to];
    if (p == NULL) {
        p = h->peers[m->to] = malloc(sizeof(*p));
        assert(p != NULL);
        p->count = 0;
    }
    if (p->count == NODE_HEARTBEATS_RECORDS_MAX)
        node_heartbeats_flush(node); /* full: what is there leaves now */
    if (p->count == 0) {
        assert(h->pending_count < 256);
        h->pending[h->pending_count++] = (uint8_t)m->to;
    }
    cn_beat_record_encode(m, p->records + (size_t)p->count * CN_BEAT_RECORD_BYTES);
    p->count++;
    node->stats.heartbeats_coalesced++;
    return true;
}

void node_heartbeats_flush(struct node *node)
{
    struct node_heartbeats *h = node->heartbeats;
    if (h == NULL)
        return;
    for (uint32_t i = 0; i < h->pending_count; i++) {
        cn_node_id peer = h->pending[i];
        struct node_heartbeats_peer *p = h->peers[peer];
        assert(p != NULL && p->count > 0);
        struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = p->records,
                                 .data_len = p->count * CN_BEAT_RECORD_BYTES};
        struct cn_message m = {.type = CN_MSG_NODE_HEARTBEATS, .from = node->config.id,
                               .to = peer, .entry_count = 1, .entries = &entry};
        p->count = 0;
        if (node->transport == NULL)
            continue; /* stopping */
        /* A full queue loses them, as it would lose the heartbeats one by one: the next
         * interval sends new ones, and the peer's queue has told the groups (on_unreachable). */
        if (transport_send(node->transport, &m) == TRANSPORT_OK)
            node->stats.heartbeat_messages++;
    }
    h->pending_count = 0;
}

void node_heartbeats_free(struct node *node)
{
    struct node_heartbeats *h = node->heartbeats;
    if (h == NULL)
        return;
    for (int i = 0; i < 256; i++)
        free(h->peers[i]);
    free(h);
    node->heartbeats = NULL;
}

void node_heartbeats_on_message(struct node *node, const struct cn_message *m)
{
    if (m->entry_count != 1 || m->to != node->config.id)
        return; /* not from a node of this version: dropped, as an unknown message is */
    const struct cn_entry *e = &m->entries[0];
    if (e->data_len % CN_BEAT_RECORD_BYTES != 0 ||
        e->data_len / CN_BEAT_RECORD_BYTES > NODE_HEARTBEATS_RECORDS_MAX) {
        node_log(node, NODE_LOG_WARN, "node %u sent a malformed heartbeats message (%u bytes)",
                 m->from, e->data_len);
        return;
    }
    uint32_t count = e->data_len / CN_BEAT_RECORD_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        struct cn_message one;
        if (!cn_beat_record_decode(e->data + (size_t)i * CN_BEAT_RECORD_BYTES, m->from,
                                   m->to, &one))
            continue; /* a record only a broken or hostile peer sends */
        node_peers_deliver(node, &one);
        if (node->stopping)
            return;
    }
}
