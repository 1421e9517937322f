/*
 * outbox.c — the Raft core's way into the shared double-buffered outbox (consensus/outbox.h).
 *
 * Every message the core sends starts here with its header: our group, id and current term.
 * Messages carry copies of the log's entry structs in the outbox's pool; their data blocks
 * stay owned by the log and are kept alive by the garbage rule (consensus/garbage.h). A full
 * outbox drops the message and counts it: Raft tolerates loss, and every message is retried
 * by a timer. Each of the update's two message arrays may hold CN_OUTBOX_MESSAGES_MAX.
 */
#include "raft/raft_internal.h"

struct cn_outbox *raft_outbox(struct raft *r) { return cn_outbox_pending(&r->outboxes); }

static struct cn_message *send_into(struct raft *r, bool after_persist, uint8_t type,
                                    cn_node_id to)
{
    assert(to != r->config.id);
    struct cn_message header = {
        .type = type, .group = r->config.group, .from = r->config.id, .to = to, .term = r->term};
    return cn_outbox_send(raft_outbox(r), after_persist, &header);
}

/* A message that may leave at once (consensus.h, update rule 1). NULL when the outbox is
 * full: the caller's protocol timer resends. */
struct cn_message *raft_send(struct raft *r, uint8_t type, cn_node_id to)
{
    return send_into(r, false, type, to);
}

/* A message that may leave only once this update is durable (update rule 3). */
struct cn_message *raft_send_after_persist(struct raft *r, uint8_t type, cn_node_id to)
{
    return send_into(r, true, type, to);
}

/* Gives message `m` (in the pending outbox's `messages`) the log entries from..from+count-1.
 * The pointer is fixed up when the update is handed out, since the pool may still move. */
void raft_message_attach_entries(struct raft *r, struct cn_message *m, uint64_t from,
                                 uint32_t count)
{
    struct cn_outbox *box = raft_outbox(r);
    assert(m >= box->messages && m < box->messages + RAFT_OUTBOX_MESSAGES_MAX);
    struct cn_entry *copy = cn_outbox_attach(box, m, count);
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_entry *e = raft_log_get(&r->log, from + i);
        assert(e != NULL);
        copy[i] = *e;
    }
}
