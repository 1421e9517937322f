/*
 * snapshot_send.c — sending the snapshot chunks the cores ask for, held to --snapshot-bandwidth
 * when they go to a learner (issue 11; docs/membership.md, "Limits").
 *
 * A core that sends a snapshot leaves the chunk's bytes to the driver (consensus.h): this file
 * fills them from the group's latest snapshot file (snapshots.c) and sends the message. A new
 * replica of a move, or a node joining, is a learner while it catches up, and its snapshot is
 * the bulk of a move's traffic: with --snapshot-bandwidth, chunks to learners spend tokens of
 * one bucket for the whole node (net/token_bucket.h). A chunk the bucket cannot pay for yet
 * waits in a short list, and the node's tick sends it when it can. Voters are never held back:
 * a voter that needs a snapshot may be needed for a quorum.
 *
 * Both cores send chunks stop-and-wait (Raft's snapshot.c, Multi-Paxos's learn.c: the next one
 * when the answer comes), and both start a transfer over from offset 0 when no chunk went out
 * for an election timeout. So a chunk must never wait that long: the burst, and so the largest
 * chunk, is the bytes the limit allows in a quarter of the shortest election timeout, and the
 * transfers sharing the bucket split it between them (each chunk is the burst over the number
 * waiting), so that a chunk waits a quarter of a timeout at most, whatever their number. The
 * rate is the same; only the chunks are smaller. --snapshot-bandwidth has a floor (chorusd)
 * that keeps those chunks at a kilobyte or more with the default timing.
 */
#include <string.h>

#include "consensus/membership.h"
#include "net/transport.h"
#include "node/node_internal.h"

enum {
    /* The chunks' buffer: at most this many bytes per message (CN_SNAPSHOT_CHUNK_BYTES_MAX is
     * the codec's bound; a smaller chunk keeps one message from holding a link long). */
    SNAPSHOT_SEND_CHUNK_BYTES_MAX = 256 * 1024,
    SNAPSHOT_SEND_CHUNK_BYTES_MIN = 512,
};

static uint8_t chunk_buffer[SNAPSHOT_SEND_CHUNK_BYTES_MAX];

uint64_t node_snapshot_chunk_bytes_max(const struct node *node)
{
    return node->config.snapshot_bandwidth_bytes_per_s == 0 ? 0 : node->snapshot_bucket.burst_bytes;
}

void node_snapshot_send_init(struct node *node)
{
    uint64_t rate = node->config.snapshot_bandwidth_bytes_per_s;
    uint64_t timeout_ms = (uint64_t)node->config.election_ticks * node->config.tick_ms;
    uint64_t burst = rate * timeout_ms / 4 / 1000;
    if (burst < SNAPSHOT_SEND_CHUNK_BYTES_MIN)
        burst = SNAPSHOT_SEND_CHUNK_BYTES_MIN;
    if (burst > SNAPSHOT_SEND_CHUNK_BYTES_MAX)
        burst = SNAPSHOT_SEND_CHUNK_BYTES_MAX;
    token_bucket_init(&node->snapshot_bucket, rate, rate == 0 ? 0 : burst, node_now_ms(node));
    node->snapshot_waiting_count = 0;
}

/* The group of a waiting message, NULL when this node no longer hosts it. */
static struct node_group *group_of(struct node *node, cn_group_id id)
{
    if (id == node->topology->shard_count)
        return node->meta;
    if (id > node->topology->shard_count || node->groups == NULL)
        return NULL;
    return node->groups[id];
}

/* Fills the chunk (at most cap bytes) and sends it; counts it. A group without a snapshot file
 * yet drops it: the core asks again. */
static int chunk_send(struct node_group *g, const struct cn_message *m, size_t cap)
{
    struct node *node = g->node;
    struct cn_message filled = *m;
    node_snapshot_fill_chunk(g, &filled, chunk_buffer, cap);
    if (filled.snapshot_chunk == NULL)
        return TRANSPORT_OK;
    g->counters.snapshot_bytes_sent += filled.snapshot_chunk_len;
    node_move_progress_note(g, m->to, filled.snapshot_offset, filled.snapshot_chunk_len,
                            g->snapshot_file->meta.file_bytes);
    return transport_send(node->transport, &filled);
}

/* The bytes the chunk will carry, up to cap: what is left of the file from its offset (the
 * fill starts over at 0 past the end, as node_snapshot_fill_chunk does). */
static uint64_t chunk_len(const struct node_group *g, const struct cn_message *m, uint64_t cap)
{
    const struct kv_snapshot_file *file = g->snapshot_file;
    if (file->fd < 0)
        return 0;
    uint64_t offset = m->snapshot_offset > file->meta.file_bytes ? 0 : m->snapshot_offset;
    uint64_t left = file->meta.file_bytes - offset;
    return left < cap ? left : cap;
}

/* Sends the chunk if the bucket pays for it now; each transfer waiting gets an equal share of
 * the burst per chunk (the file's head comment says why). */
static bool try_send_limited(struct node_group *g, const struct cn_message *m, uint32_t sharing,
                             int *rv)
{
    struct node *node = g->node;
    uint64_t cap = node->snapshot_bucket.burst_bytes / (sharing > 0 ? sharing : 1);
    if (cap < SNAPSHOT_SEND_CHUNK_BYTES_MIN)
        cap = SNAPSHOT_SEND_CHUNK_BYTES_MIN;
    if (cap > node->snapshot_bucket.burst_bytes)
        cap = node->snapshot_bucket.burst_bytes;
    uint64_t len = chunk_len(g, m, cap);
    if (!token_bucket_take(&node->snapshot_bucket, len, node_now_ms(node)))
        return false;
    *rv = chunk_send(g, m, (size_t)cap);
    return true;
}

static bool to_learner(const struct node_group *g, cn_node_id to)
{
    return cn_membership_contains(&g->status.membership, to) &&
           !cn_membership_is_voter(&g->status.membership, to);
}

int node_snapshot_send(struct node_group *g, const struct cn_message *m)
{
    struct node *node = g->node;
    if (node->config.snapshot_bandwidth_bytes_per_s == 0 || !to_learner(g, m->to))
        return chunk_send(g, m, sizeof(chunk_buffer));
    /* A chunk for the same transfer already waiting is replaced: the core started over. */
    for (uint32_t i = 0; i < node->snapshot_waiting_count; i++) {
        struct cn_message *w = &node->snapshot_waiting[i];
        if (w->group == m->group && w->to == m->to) {
            *w = *m;
            return TRANSPORT_OK;
        }
    }
    int rv = TRANSPORT_OK;
    if (node->snapshot_waiting_count == 0 && try_send_limited(g, m, 1, &rv))
        return rv;
    if (node->snapshot_waiting_count == NODE_SNAPSHOT_WAITING_MAX) {
        /* Bounded: the core sends it again after an election timeout. */
        node->snapshot_chunks_dropped++;
        return TRANSPORT_OK;
    }
    node->snapshot_waiting[node->snapshot_waiting_count++] = *m;
    node->snapshot_chunks_delayed++;
    return TRANSPORT_OK;
}

/* Each tick: the waiting chunks in order, as far as the bucket pays. */
void node_snapshot_send_tick(struct node *node)
{
    while (node->snapshot_waiting_count > 0 && node->transport != NULL) {
        struct cn_message m = node->snapshot_waiting[0];
        struct node_group *g = group_of(node, m.group);
        uint32_t sharing = node->snapshot_waiting_count;
        int rv = TRANSPORT_OK;
        if (g != NULL && !try_send_limited(g, &m, sharing, &rv))
            return;
        node->snapshot_waiting_count--;
        memmove(&node->snapshot_waiting[0], &node->snapshot_waiting[1],
                node->snapshot_waiting_count * sizeof(node->snapshot_waiting[0]));
        /* Outside the core's call now: told at once, as node_peers_send tells it later. */
        if (g != NULL && rv == TRANSPORT_ERR_QUEUE_FULL)
            node_step(g, &(struct cn_event){.type = CN_EVENT_UNREACHABLE, .target = m.to});
        else if (rv != TRANSPORT_OK && rv != TRANSPORT_ERR_QUEUE_FULL)
            node_log(node, NODE_LOG_WARN, "sending a snapshot chunk to %u: %s", m.to,
                     transport_strerror(rv));
    }
}
