/*
 * outbox.c — the messages, entries and reads of the update being built.
 *
 * The Multi-Paxos core's way into the shared double-buffered outbox (consensus/outbox.h).
 * Messages carry copies of slot entry structs in the outbox's pool; the data blocks stay owned
 * by the log and are kept alive by the garbage rule (consensus/garbage.h). Both message arrays of one
 * update together hold at most CN_UPDATE_MESSAGES_MAX messages; a message that does not fit is
 * dropped and counted: Paxos tolerates loss, and every message is retried by a timer.
 */
#include "paxos/paxos_internal.h"

struct cn_outbox *paxos_outbox(struct paxos *p) { return cn_outbox_pending(&p->outboxes); }

static struct cn_message *send_into(struct paxos *p, bool after_persist, uint8_t type,
                                    cn_node_id to)
{
    assert(to != p->config.id);
    /* Our ballot when proposing, else our promise; handlers override for answers. */
    struct cn_message header = {.type = type, .group = p->config.group, .from = p->config.id,
                                .to = to, .term = p->ballot != 0 ? p->ballot : p->promised};
    return cn_outbox_send(paxos_outbox(p), after_persist, &header);
}

bool paxos_outbox_has_room(struct paxos *p) { return cn_outbox_has_room(paxos_outbox(p), 1); }

/* A message that may leave at once (consensus.h, update rule 1): prepares, accepts, leases,
 * catch-up traffic, and nacks (a rejection promises nothing). NULL when the outbox is full. */
struct cn_message *paxos_send(struct paxos *p, uint8_t type, cn_node_id to)
{
    return send_into(p, false, type, to);
}

/* A message that may leave only once this update is durable (update rule 3): promises and
 * accepteds (Lamport §2.3: an acceptor remembers what it promised and accepted). */
struct cn_message *paxos_send_after_persist(struct paxos *p, uint8_t type, cn_node_id to)
{
    return send_into(p, true, type, to);
}

/* Gives message `m` (in the pending outbox) the values of the non-gap slots lo..hi, in slot
 * order. Returns how many. The caller has checked the bounds (count and bytes). */
uint32_t paxos_attach_slots(struct paxos *p, struct cn_message *m, uint64_t lo, uint64_t hi)
{
    uint32_t count = 0;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        count += s != NULL && s->ballot != 0;
    }
    assert(count <= CN_MESSAGE_ENTRIES_MAX);
    if (count == 0)
        return 0;
    struct cn_entry *copy = cn_outbox_attach(paxos_outbox(p), m, count);
    uint32_t i = 0;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s != NULL && s->ballot != 0)
            copy[i++] = paxos_slot_entry(s, slot);
    }
    return count;
}
