/*
 * outbox.c — the messages, entries and reads of the update being built.
 *
 * Two outboxes alternate: one is filled by events while the other is held by the driver.
 * Messages carry copies of slot entry structs in the outbox's pool; the data blocks stay owned
 * by the log and are kept alive by the garbage rule of paxos.c. Both message arrays of one
 * update together hold at most CN_UPDATE_MESSAGES_MAX messages; a message that does not fit is
 * dropped and counted: Paxos tolerates loss, and every message is retried by a timer.
 */
#include <stdlib.h>
#include <string.h>

#include "paxos/paxos_internal.h"

struct paxos_outbox *paxos_outbox(struct paxos *p) { return &p->outboxes[p->pending_outbox]; }

static void message_init(struct paxos *p, struct cn_message *m, uint8_t type, cn_node_id to)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->group = p->config.group;
    m->from = p->config.id;
    m->to = to;
    /* Our ballot when proposing, else our promise; handlers override for answers. */
    m->term = p->ballot != 0 ? p->ballot : p->promised;
}

static bool outbox_full(const struct paxos_outbox *box)
{
    return box->message_count + box->after_count >= PAXOS_OUTBOX_MESSAGES_MAX;
}

bool paxos_outbox_has_room(struct paxos *p)
{
    return !outbox_full(paxos_outbox(p));
}

/* A message that may leave at once (consensus.h, update rule 1): prepares, accepts, leases,
 * catch-up traffic, and nacks (a rejection promises nothing). NULL when the outbox is full. */
struct cn_message *paxos_send(struct paxos *p, uint8_t type, cn_node_id to)
{
    struct paxos_outbox *box = paxos_outbox(p);
    assert(to != p->config.id);
    if (outbox_full(box)) {
        box->dropped++;
        return NULL;
    }
    uint32_t i = box->message_count++;
    box->message_offsets[i] = UINT32_MAX;
    message_init(p, &box->messages[i], type, to);
    return &box->messages[i];
}

/* A message that may leave only once this update is durable (update rule 3): promises and
 * accepteds (Lamport §2.3: an acceptor remembers what it promised and accepted). */
struct cn_message *paxos_send_after_persist(struct paxos *p, uint8_t type, cn_node_id to)
{
    struct paxos_outbox *box = paxos_outbox(p);
    assert(to != p->config.id);
    if (outbox_full(box)) {
        box->dropped++;
        return NULL;
    }
    uint32_t i = box->after_count++;
    box->after_offsets[i] = UINT32_MAX;
    message_init(p, &box->after[i], type, to);
    return &box->after[i];
}

struct cn_entry *paxos_outbox_pool_reserve(struct paxos_outbox *box, uint32_t count,
                                           uint32_t *offset)
{
    if (box->pool_count + count > box->pool_capacity) {
        uint32_t capacity = box->pool_capacity ? box->pool_capacity : 256;
        while (capacity < box->pool_count + count)
            capacity *= 2;
        box->pool = realloc(box->pool, capacity * sizeof(*box->pool));
        assert(box->pool != NULL);
        box->pool_capacity = capacity;
    }
    *offset = box->pool_count;
    box->pool_count += count;
    return &box->pool[*offset];
}

/* Gives message `m` (in the pending outbox) the values of the non-gap slots lo..hi, in slot
 * order. Returns how many. The caller has checked the bounds (count and bytes). */
uint32_t paxos_attach_slots(struct paxos *p, struct cn_message *m, uint64_t lo, uint64_t hi)
{
    struct paxos_outbox *box = paxos_outbox(p);
    uint32_t count = 0;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        count += s != NULL && s->ballot != 0;
    }
    assert(count <= CN_MESSAGE_ENTRIES_MAX);
    if (count == 0)
        return 0;
    uint32_t offset;
    struct cn_entry *copy = paxos_outbox_pool_reserve(box, count, &offset);
    uint32_t i = 0;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s != NULL && s->ballot != 0)
            copy[i++] = paxos_slot_entry(s, slot);
    }
    if (m >= box->messages && m < box->messages + PAXOS_OUTBOX_MESSAGES_MAX) {
        box->message_offsets[m - box->messages] = offset;
    } else {
        assert(m >= box->after && m < box->after + PAXOS_OUTBOX_MESSAGES_MAX);
        box->after_offsets[m - box->after] = offset;
    }
    m->entry_count = count;
    return count;
}

/* A read that became safe (or failed), handed out in update rule 5. Bounded by the number of
 * reads the core accepted (pending_reads_max). */
void paxos_outbox_add_read(struct paxos *p, uint64_t request_id, uint64_t index, bool failed)
{
    struct paxos_outbox *box = paxos_outbox(p);
    if (box->read_count == box->read_capacity) {
        box->read_capacity = box->read_capacity ? box->read_capacity * 2 : 64;
        assert(box->read_capacity <= 2 * PAXOS_READS_MAX);
        box->reads = realloc(box->reads, box->read_capacity * sizeof(*box->reads));
        assert(box->reads != NULL);
    }
    box->reads[box->read_count++] =
        (struct cn_read){.request_id = request_id, .index = index, .failed = failed};
}

void paxos_outbox_clear(struct paxos_outbox *box)
{
    box->message_count = 0;
    box->after_count = 0;
    box->pool_count = 0;
    box->read_count = 0;
}

void paxos_outbox_free(struct paxos_outbox *box)
{
    free(box->pool);
    free(box->reads);
    memset(box, 0, sizeof(*box));
}
