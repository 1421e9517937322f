/*
 * move_progress.c — the progress of the rebalancer's moves as the nodes know it (issue 11;
 * docs/membership.md, "Progress").
 *
 * Only the leader of a moving shard knows how a move goes: it adds the new replica as a learner
 * and streams it the snapshot (snapshot_send.c), so it counts the bytes of each chunk it sends
 * to the move's new node: how far into the snapshot file (of how many bytes), the bytes streamed
 * in all (a transfer started over counts again), and their rate over a recent window
 * (cluster/progress.h). CLUSTER MEMBERS appends them to the move's line on that node; `chorus
 * cluster status` asks every node and shows each move as its shard's leader sees it.
 */
#include <stdio.h>

#include "cluster/rebalance.h"
#include "consensus/membership.h"
#include "node/node_internal.h"

enum {
    /* A move is "sending-snapshot" while chunks went to its new node this recently. */
    MOVE_PROGRESS_SENDING_MS = 1000,
};

void node_move_progress_reset(struct node_group *g, cn_node_id to)
{
    struct node_move_progress *p = &g->move_progress;
    p->to = to;
    p->streamed_bytes = 0;
    p->offset_bytes = 0;
    p->total_bytes = 0;
    p->last_chunk_ms = 0;
    progress_window_reset(&p->window);
}

void node_move_progress_note(struct node_group *g, cn_node_id to, uint64_t offset, uint64_t len,
                             uint64_t total)
{
    if (g->move_to == 0 || to != g->move_to)
        return; /* not a move's new node: a follower catching up */
    struct node_move_progress *p = &g->move_progress;
    uint64_t now = node_now_ms(g->node);
    if (p->to != to) {
        node_move_progress_reset(g, to);
        progress_window_note(&p->window, now, 0); /* the rate counts from the first chunk */
    }
    p->streamed_bytes += len;
    p->offset_bytes = offset + len;
    p->total_bytes = total;
    p->last_chunk_ms = now;
    progress_window_note(&p->window, now, p->streamed_bytes);
    g->node->rebalance_snapshot_bytes += len;
}

bool node_move_progress_sending(const struct node *node, const struct node_group *g,
                                cn_node_id to)
{
    const struct node_move_progress *p = &g->move_progress;
    return p->to == to && p->total_bytes > 0 && p->offset_bytes < p->total_bytes &&
           node_now_ms(node) - p->last_chunk_ms < MOVE_PROGRESS_SENDING_MS;
}

static const struct node_group *leading(const struct node *node, uint32_t shard)
{
    const struct node_group *g = node->groups != NULL ? node->groups[shard] : NULL;
    return g != NULL && g->status.role == CN_ROLE_LEADER ? g : NULL;
}

size_t node_move_progress_render(const struct node *node, const struct rebalance_move *mv,
                                 char *text, size_t cap)
{
    const struct node_group *g = leading(node, mv->shard);
    if (g == NULL || cap == 0)
        return 0;
    const struct node_move_progress *p = &g->move_progress;
    uint64_t offset = 0, total = 0, streamed = 0, rate = 0;
    if (p->to == mv->to && mv->to != 0) {
        offset = p->offset_bytes;
        total = p->total_bytes;
        streamed = p->streamed_bytes;
        rate = progress_window_rate_bytes_per_s(&p->window, node_now_ms(node));
    }
    int n = snprintf(text, cap, ",leader=%u,snapshot_sent=%llu,snapshot_total=%llu,"
                     "snapshot_streamed=%llu,rate=%llu,eta_ms=%lld", node->config.id,
                     (unsigned long long)offset, (unsigned long long)total,
                     (unsigned long long)streamed, (unsigned long long)rate,
                     (long long)progress_eta_ms(offset, total, rate));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

uint32_t node_move_progress_in_flight(const struct node *node)
{
    const struct rebalance_plan *plan = node->rebalance;
    uint32_t count = 0;
    for (uint32_t i = 0; plan != NULL && i < plan->move_count; i++) {
        const struct rebalance_move *mv = &plan->moves[i];
        const struct node_group *g = leading(node, mv->shard);
        count += g != NULL && mv->to != 0 &&
                 cn_membership_contains(&g->status.membership, mv->to);
    }
    return count;
}
