/*
 * replication.c — phase 2 (accept/accepted), choosing, and the leader's leases.
 *
 *  - A stable leader skips phase 1: its one prepare covered every future slot (Lamport §3).
 *    Each proposal takes the next slot, in the leader's ballot. The leader keeps at most a
 *    window of unchosen slots open (pipelining, bounded by inflight_messages_max *
 *    message_entries_max and PAXOS_WINDOW_SLOTS_MAX); beyond it proposals get CN_ERR_BUSY.
 *  - Batching: one slot holds exactly one client command, since the driver applies one
 *    command per committed entry (batching commands into one slot value would change what it
 *    applies). Instead, every slot proposed before the driver takes the next update goes to
 *    each acceptor in one ACCEPT message (up to message_entries_max / message_bytes_max), and
 *    the acceptor persists them in one step and answers them with one ACCEPTED.
 *  - An acceptor accepts a ballot at or above its promise (raising the promise), persists each
 *    accepted (ballot, value) before its ACCEPTED leaves, and nacks lower ballots.
 *  - A value is chosen when a majority accepted it in the same ballot (§2.2); the leader's own
 *    acceptance counts once durable. The chosen prefix travels on accepts and leases.
 *  - Unchosen slots are resent to the acceptors that have not accepted them, on a timer.
 */
#include "paxos/paxos_internal.h"

/* Also at most alpha: a leader proposes in slot t only when it knows every value chosen at
 * or below t - alpha, hence t's configuration (Lamport §3; membership.c). */
static uint32_t window_slots(const struct paxos *p)
{
    uint64_t window = (uint64_t)p->config.inflight_messages_max * p->config.message_entries_max;
    if (window > paxos_alpha(p))
        window = paxos_alpha(p);
    return window < PAXOS_WINDOW_SLOTS_MAX ? (uint32_t)window : PAXOS_WINDOW_SLOTS_MAX;
}

static uint64_t open_bytes(struct paxos *p)
{
    uint64_t bytes = 0;
    for (uint64_t slot = p->commit + 1; slot < p->next_slot; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s != NULL)
            bytes += s->data_len;
    }
    return bytes;
}

int paxos_propose(struct paxos *p, const uint8_t *data, uint32_t data_len, uint64_t *index,
                  uint64_t *term)
{
    if (p->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (p->transfer_target != 0)
        return CN_ERR_TRANSFERRING;
    if (p->fence != 0)
        return CN_ERR_BUSY; /* until the recovered configuration command is chosen */
    if (data_len > CN_ENTRY_DATA_BYTES_MAX)
        return CN_ERR_TOO_LARGE;
    if (p->log.bytes + data_len > p->config.log_bytes_max)
        return CN_ERR_BUSY;
    if (p->next_slot - 1 - p->commit >= window_slots(p))
        return CN_ERR_BUSY;
    if (p->unsaved_count >= p->config.pending_proposals_max)
        return CN_ERR_BUSY;
    if (p->next_slot - 1 > p->commit && open_bytes(p) + data_len > PAXOS_WINDOW_BYTES_MAX)
        return CN_ERR_BUSY; /* an empty window takes one value of any size */
    uint64_t slot = p->next_slot++;
    assert(slot > paxos_log_last(&p->log));
    paxos_slot_set(p, slot, p->ballot, CN_ENTRY_NORMAL, data, data_len);
    if (index != NULL)
        *index = slot;
    if (term != NULL)
        *term = p->ballot;
    return CN_OK;
}

/* Sends one ACCEPT to `to` with the slots from `lo` that fit (at least one), up to `hi`.
 * Returns the last slot sent, or lo - 1 when the outbox was full. */
static uint64_t send_accept(struct paxos *p, cn_node_id to, uint64_t lo, uint64_t hi)
{
    uint64_t last = lo, bytes = paxos_slot_get(p, lo)->data_len;
    while (last < hi && last - lo + 1 < p->config.message_entries_max) {
        uint32_t len = paxos_slot_get(p, last + 1)->data_len;
        if (bytes + len > p->config.message_bytes_max)
            break;
        bytes += len;
        last++;
    }
    struct cn_message *m = paxos_send(p, CN_MSG_ACCEPT, to);
    if (m == NULL)
        return lo - 1;
    m->term = p->ballot;
    m->index = lo;
    m->commit = p->commit;
    uint32_t count = paxos_attach_slots(p, m, lo, last);
    assert(count == last - lo + 1); /* a leader's window has no gaps */
    for (uint64_t slot = lo; slot <= last; slot++)
        paxos_slot_get(p, slot)->sent_tick = p->ticks;
    return last;
}

/* The first accepts of every slot proposed since the last update, to every acceptor. Lost or
 * dropped ones are resent by paxos_resend_accepts. */
void paxos_broadcast_accepts(struct paxos *p)
{
    assert(p->role == CN_ROLE_LEADER);
    assert(p->sent_through >= p->log.snapshot_index); /* paxos_snapshot_taken keeps it so */
    uint64_t lo = p->sent_through + 1, hi = paxos_leader_last(p);
    for (uint32_t i = 0; i < p->members.count; i++) {
        cn_node_id id = p->members.ids[i];
        if (id == p->config.id)
            continue;
        for (uint64_t from = lo; from <= hi;) {
            uint64_t last = send_accept(p, id, from, hi);
            if (last < from)
                break;
            from = last + 1;
        }
    }
    if (hi > p->sent_through)
        p->sent_through = hi;
}

/* Every few ticks, each acceptor that has not accepted an unchosen slot gets one ACCEPT from
 * its first such slot on (one message per acceptor per resend, so the work is bounded). */
void paxos_resend_accepts(struct paxos *p)
{
    uint32_t resend_ticks = 2 * p->config.heartbeat_ticks;
    uint64_t from[CN_MEMBERS_MAX] = {0};
    for (uint32_t i = 0; i < p->members.count; i++) {
        if (p->members.ids[i] == p->config.id)
            continue;
        for (uint64_t slot = p->commit + 1; slot <= p->sent_through; slot++) {
            const struct paxos_slot *s = paxos_slot_get(p, slot);
            if (s->chosen || (s->accepted_by & (1u << i)) != 0)
                continue;
            if (p->ticks - s->sent_tick >= resend_ticks)
                from[i] = slot;
            break;
        }
    }
    for (uint32_t i = 0; i < p->members.count; i++)
        if (from[i] != 0)
            send_accept(p, p->members.ids[i], from[i], p->sent_through);
}

void paxos_broadcast_leases(struct paxos *p, uint64_t read_round)
{
    for (uint32_t i = 0; i < p->members.count; i++) {
        cn_node_id id = p->members.ids[i];
        if (id == p->config.id)
            continue;
        struct cn_message *m = paxos_send(p, CN_MSG_LEASE, id);
        if (m == NULL)
            continue;
        m->term = p->ballot;
        m->commit = p->commit;
        m->context = read_round;
    }
}

static bool accept_entries_valid(const struct paxos *p, const struct cn_message *m)
{
    uint64_t previous = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index <= previous || e->term != m->term || e->data_len > CN_ENTRY_DATA_BYTES_MAX ||
            e->type > CN_ENTRY_CONFIG || e->index > p->commit + PAXOS_AHEAD_SLOTS_MAX)
            return false;
        previous = e->index;
    }
    return true;
}

static void nack(struct paxos *p, uint8_t type, const struct cn_message *m)
{
    struct cn_message *out = paxos_send(p, type, m->from);
    if (out == NULL)
        return;
    out->term = p->promised;
    out->index = m->index;
    out->context = m->context;
    out->reject = true;
}

/* Phase 2b (§2.2): accept every slot of a ballot at or above our promise. A slot known chosen
 * or compacted keeps its value (any later ballot's value there is the same, §2.2 P2c); a slot
 * already holding this ballot holds this very value (one value per slot per ballot). */
void paxos_handle_accept(struct paxos *p, const struct cn_message *m)
{
    if (m->term < p->promised) {
        nack(p, CN_MSG_ACCEPTED, m);
        return;
    }
    if (!accept_entries_valid(p, m))
        return;
    p->promised = m->term;
    paxos_heard_from_leader(p, m);
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index <= p->log.snapshot_index)
            continue;
        const struct paxos_slot *s = paxos_slot_get(p, e->index);
        if (s != NULL && (s->chosen || s->ballot == m->term))
            continue;
        paxos_slot_set(p, e->index, m->term, e->type, e->data, e->data_len);
    }
    if (m->entry_count > 0) {
        /* Leaves after the persist of this update, which holds every slot accepted here. */
        struct cn_message *out = paxos_send_after_persist(p, CN_MSG_ACCEPTED, m->from);
        if (out != NULL) {
            out->term = m->term;
            out->hint_index = m->entries[0].index;
            out->index = m->entries[m->entry_count - 1].index;
        }
    }
    paxos_learn_commit(p, m->commit, m->term, m->from);
}

/* Phase 2b arriving at the leader: the sender accepted, in our ballot, every slot of one of
 * our accepts, hint_index..index. */
void paxos_handle_accepted(struct paxos *p, const struct cn_message *m)
{
    if (p->role != CN_ROLE_LEADER || m->reject || m->term != p->ballot)
        return;
    int position = paxos_member_position(p, m->from);
    p->peers[position].recent_active = true;
    uint64_t lo = m->hint_index > p->commit ? m->hint_index : p->commit + 1;
    uint64_t hi = m->index < p->sent_through ? m->index : p->sent_through;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s->ballot == p->ballot)
            s->accepted_by |= (uint8_t)(1u << position);
    }
    paxos_maybe_choose(p);
}

struct slot_question {
    const struct paxos *p;
    const struct paxos_slot *s;
};

/* Whether `id` accepted the slot in our ballot; our own acceptance counts once durable. */
static bool accepted_slot(const void *context, cn_node_id id)
{
    const struct slot_question *q = context;
    if (id == q->p->config.id)
        return paxos_slot_durable(q->s);
    int i = cn_members_position(&q->p->members, id);
    return i >= 0 && (q->s->accepted_by & (1u << i)) != 0;
}

/* Marks the slots that a majority of their own configuration's voters accepted in our ballot
 * as chosen (§2.2; membership.c: a removed member never counts), and moves the chosen prefix.
 * Returns whether it moved. */
bool paxos_maybe_choose(struct paxos *p)
{
    if (p->role != CN_ROLE_LEADER)
        return false;
    uint64_t before = p->commit;
    for (uint64_t slot = p->commit + 1; slot <= paxos_leader_last(p); slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s->chosen || s->ballot != p->ballot)
            continue;
        const struct slot_question q = {.p = p, .s = s};
        if (paxos_slot_quorum(p, slot, accepted_slot, &q))
            s->chosen = true;
    }
    paxos_advance_commit(p);
    return p->commit > before;
}

/* A leader's heartbeat: the chosen prefix, and a read round to confirm. Answered only while
 * the ballot is at or above our promise: a quorum of such answers after a read arrived shows
 * that no higher ballot completed phase 1 before it (read.c). */
void paxos_handle_lease(struct paxos *p, const struct cn_message *m)
{
    if (m->term < p->promised) {
        nack(p, CN_MSG_LEASE_RESPONSE, m);
        return;
    }
    paxos_heard_from_leader(p, m);
    paxos_learn_commit(p, m->commit, m->term, m->from);
    struct cn_message *out = paxos_send(p, CN_MSG_LEASE_RESPONSE, m->from);
    if (out == NULL)
        return;
    out->term = m->term;
    out->context = m->context;
    out->commit = p->commit;
}

void paxos_handle_lease_response(struct paxos *p, const struct cn_message *m)
{
    if (p->role != CN_ROLE_LEADER || m->reject || m->term != p->ballot)
        return;
    struct paxos_peer *peer = paxos_peer_of(p, m->from);
    peer->recent_active = true;
    if (m->context > peer->read_round_acked && m->context <= p->reads.round) {
        peer->read_round_acked = m->context;
        paxos_read_confirm(p);
    }
}
