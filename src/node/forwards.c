/*
 * forwards.c — writes that followers forwarded to this node as leader (CN_MSG_PROPOSE, node
 * level: the core never sees the message).
 *
 * A forwarded write is proposed at once and answered with the index and term the core gave
 * it. When the core pushes back (its window or log bound is full), the write waits here, in
 * arrival order, and later forwards queue behind it: refusing one and taking a later one
 * would put a client's pipelined writes into the log out of order. Bounds: NODE_FORWARD_MAX
 * writes and NODE_FORWARD_BYTES_MAX bytes; past them a forward is refused and its node
 * retries it (the only case where a client's forwarded writes could be reordered, and one
 * that the followers' own pending_requests_max keeps out of reach in clusters of up to
 * NODE_FORWARD_MAX / 65536 + 1 nodes at their defaults).
 *
 * Each group keeps its own queue: a busy group holds back only its own forwards.
 *
 * Fencing by term: a forward carries the term in which its sender saw this node lead, and is
 * taken only in that term. A node that lost leadership refuses everything; should it lead
 * again, the forwards its sender made to it in the old term are still refused, so a write
 * refused in the old term is never overtaken by a later write of the same client.
 */
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"

static void forward_answer(struct node_group *g, cn_node_id to, uint64_t context, bool reject,
                           uint64_t index, uint64_t term)
{
    struct node *node = g->node;
    struct cn_message reply = {.type = CN_MSG_PROPOSE_RESPONSE, .group = g->id,
                               .from = node->config.id, .to = to, .term = g->status.term,
                               .context = context, .reject = reject, .index = index,
                               .log_term = term};
    transport_send(node->transport, &reply);
}

/* Proposes one forwarded write. Returns false when the core has no room for it yet. */
static bool forward_try(struct node_group *g, cn_node_id from, uint64_t context, uint64_t term,
                        const uint8_t *data, uint32_t data_len)
{
    struct node *node = g->node;
    if (term != g->status.term || g->status.role != CN_ROLE_LEADER) {
        forward_answer(g, from, context, true, 0, 0);
        return true;
    }
    uint64_t index = 0, entry_term = 0;
    /* The leader stamps the entry's log time (expiry.c): on a copy, the message's bytes are
     * not ours to change. The core copies the data again; forwarded writes are the rarer path. */
    uint8_t *stamped = malloc(data_len > 0 ? data_len : 1);
    assert(stamped != NULL);
    memcpy(stamped, data, data_len);
    node_entry_stamp(g, stamped, data_len);
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = stamped, .data_len = data_len,
                         .out_index = &index, .out_term = &entry_term};
    int rv = node_step(g, &e);
    free(stamped);
    if (rv == CN_ERR_BUSY)
        return false;
    if (rv == CN_OK) {
        node->stats.proposals++;
        g->counters.proposals++;
    }
    forward_answer(g, from, context, rv != CN_OK, index, entry_term);
    return true;
}

static void forward_enqueue(struct node_group *g, const struct cn_message *m)
{
    const struct cn_entry *entry = &m->entries[0];
    if (g->forward_count >= NODE_FORWARD_MAX ||
        g->forward_bytes + entry->data_len > NODE_FORWARD_BYTES_MAX) {
        forward_answer(g, m->from, m->context, true, 0, 0);
        return;
    }
    struct node_forward *f = malloc(sizeof(*f) + entry->data_len);
    assert(f != NULL);
    f->next = NULL;
    f->from = m->from;
    f->context = m->context;
    f->term = m->term;
    f->data_len = entry->data_len;
    memcpy(f->data, entry->data, entry->data_len);
    if (g->forwards_tail != NULL)
        g->forwards_tail->next = f;
    else
        g->forwards_head = f;
    g->forwards_tail = f;
    g->forward_count++;
    g->forward_bytes += f->data_len;
}

static void forward_pop(struct node_group *g)
{
    struct node_forward *f = g->forwards_head;
    g->forwards_head = f->next;
    if (g->forwards_head == NULL)
        g->forwards_tail = NULL;
    g->forward_count--;
    g->forward_bytes -= f->data_len;
    free(f);
}

void node_forwards_on_propose(struct node_group *g, const struct cn_message *m)
{
    if (m->entry_count != 1) {
        forward_answer(g, m->from, m->context, true, 0, 0);
        return;
    }
    if (g->forwards_head == NULL &&
        forward_try(g, m->from, m->context, m->term, m->entries[0].data,
                    m->entries[0].data_len))
        return;
    forward_enqueue(g, m);
}

/* Proposes the waiting forwards, oldest first, while the core takes them. */
void node_forwards_drain(struct node_group *g)
{
    for (uint32_t n = 0; g->forwards_head != NULL && n < NODE_FORWARD_MAX; n++) {
        struct node_forward *f = g->forwards_head;
        if (!forward_try(g, f->from, f->context, f->term, f->data, f->data_len))
            return;
        forward_pop(g);
    }
}

/* Leadership is lost (or the node stops): every waiting forward is refused, never proposed. */
void node_forwards_reject_all(struct node_group *g)
{
    while (g->forwards_head != NULL) {
        struct node_forward *f = g->forwards_head;
        forward_answer(g, f->from, f->context, true, 0, 0);
        forward_pop(g);
    }
}
