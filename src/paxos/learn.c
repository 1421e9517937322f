/*
 * learn.c — learning chosen values: the chosen prefix, catch-up, and snapshots.
 *
 *  - The leader piggybacks its chosen prefix on accepts and leases. A follower marks a slot
 *    at or below it chosen when it accepted that slot in the leader's very ballot: the leader
 *    proposes one value per slot per ballot, and that is the value it saw chosen.
 *  - Other slots below the prefix (gaps, or values of older ballots) are asked for with
 *    CN_MSG_CATCHUP (one request outstanding, retried after an election timeout); any node
 *    answers with the chosen values it holds (CN_MSG_CHOSEN, bounded by message_entries_max
 *    and message_bytes_max). A learner persists them like accepted values before applying.
 *  - A learner behind the answerer's compaction gets its snapshot instead, in chunks, one at
 *    a time, exactly as in the Raft core (the driver fills the bytes). Installing keeps the
 *    accepted values above the snapshot and writes them again with it (log.c).
 */
#include <string.h>

#include "consensus/membership.h"
#include "paxos/paxos_internal.h"

void paxos_advance_commit(struct paxos *p)
{
    uint64_t before = p->commit;
    for (;;) {
        const struct paxos_slot *s = paxos_slot_get(p, p->commit + 1);
        if (s == NULL || !s->chosen)
            break;
        assert(s->ballot != 0);
        p->commit++;
        paxos_conf_chosen(p, p->commit);
    }
    if (p->commit > before && p->role == CN_ROLE_LEADER)
        paxos_read_release_waiting(p);
}

static void send_catchup(struct paxos *p, cn_node_id to)
{
    struct cn_message *out = paxos_send(p, CN_MSG_CATCHUP, to);
    if (out == NULL)
        return;
    out->index = p->commit + 1;
    p->catchup_inflight = true;
    p->catchup_elapsed = 0;
}

void paxos_learn_commit(struct paxos *p, uint64_t commit, uint64_t ballot, cn_node_id leader)
{
    if (p->role == CN_ROLE_LEADER)
        return;
    uint64_t last = paxos_log_last(&p->log);
    uint64_t upto = commit < last ? commit : last;
    for (uint64_t slot = p->commit + 1; slot <= upto; slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s->ballot == ballot)
            s->chosen = true;
    }
    paxos_advance_commit(p);
    if (commit > p->commit && !p->catchup_inflight)
        send_catchup(p, leader);
}

void paxos_catchup_tick(struct paxos *p)
{
    if (p->catchup_inflight && ++p->catchup_elapsed >= p->config.election_ticks)
        p->catchup_inflight = false; /* lost: the next accept or lease asks again */
}

static void send_snapshot_chunk(struct paxos *p, struct paxos_peer *peer)
{
    struct cn_message *m = paxos_send(p, CN_MSG_SNAPSHOT, peer->id);
    if (m == NULL)
        return;
    m->snapshot.index = peer->snapshot_index;
    m->snapshot.term = p->log.snapshot_term;
    m->snapshot.members = p->snapshot_members;
    m->snapshot_offset = peer->snapshot_offset;
    m->commit = p->commit;
    peer->snapshot_idle_ticks = 0;
}

void paxos_send_snapshot(struct paxos *p, struct paxos_peer *peer)
{
    assert(p->log.snapshot_index > 0);
    peer->snapshot_active = true;
    peer->snapshot_index = p->log.snapshot_index;
    peer->snapshot_offset = 0;
    send_snapshot_chunk(p, peer);
}

/* A chunk or its answer was lost: give up after an election timeout (the learner asks again
 * with its next catch-up, and gets the newest snapshot from offset 0). */
void paxos_snapshot_tick(struct paxos *p, struct paxos_peer *peer)
{
    if (++peer->snapshot_idle_ticks >= p->config.election_ticks)
        peer->snapshot_active = false;
}

/* The chosen values from `lo` on that fit in one message (lo is above the snapshot). */
static void send_chosen(struct paxos *p, cn_node_id to, uint64_t lo)
{
    assert(lo > p->log.snapshot_index);
    uint64_t hi = lo - 1, bytes = 0;
    while (hi < p->commit && hi - lo + 1 < p->config.message_entries_max) {
        uint32_t len = paxos_slot_get(p, hi + 1)->data_len;
        if (hi >= lo && bytes + len > p->config.message_bytes_max)
            break;
        bytes += len;
        hi++;
    }
    struct cn_message *out = paxos_send(p, CN_MSG_CHOSEN, to);
    if (out == NULL)
        return;
    out->index = lo;
    out->commit = p->commit;
    if (hi >= lo)
        paxos_attach_slots(p, out, lo, hi);
}

/* A learner asks for the chosen values from m->index on. */
void paxos_handle_catchup(struct paxos *p, const struct cn_message *m)
{
    struct paxos_peer *peer = paxos_peer_of(p, m->from);
    if (m->index <= p->log.snapshot_index) {
        if (!peer->snapshot_active || peer->snapshot_index != p->log.snapshot_index)
            paxos_send_snapshot(p, peer);
        return;
    }
    send_chosen(p, m->from, m->index);
}

static bool chosen_entries_valid(const struct paxos *p, const struct cn_message *m)
{
    uint64_t previous = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index <= previous || e->term == 0 || e->data_len > CN_ENTRY_DATA_BYTES_MAX ||
            e->type > CN_ENTRY_CONFIG || e->index > p->commit + PAXOS_AHEAD_SLOTS_MAX)
            return false;
        previous = e->index;
    }
    return true;
}

/* Chosen values from another node. A slot holding the value at the same or a higher ballot
 * already holds this value (§2.2 P2c); otherwise the chosen value replaces what we accepted
 * and is persisted before it is applied. A leader knows its chosen values from its quorum. */
void paxos_handle_chosen(struct paxos *p, const struct cn_message *m)
{
    if (p->role == CN_ROLE_LEADER || !chosen_entries_valid(p, m))
        return;
    p->catchup_inflight = false;
    uint64_t before = p->commit;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index <= p->log.snapshot_index)
            continue;
        struct paxos_slot *s = paxos_slot_get(p, e->index);
        if (s != NULL && s->chosen)
            continue;
        if (s == NULL || s->ballot < e->term)
            paxos_slot_set(p, e->index, e->term, e->type, e->data, e->data_len);
        paxos_slot_get(p, e->index)->chosen = true;
    }
    paxos_advance_commit(p);
    if (m->commit > p->commit && p->commit > before)
        send_catchup(p, m->from);
}

void paxos_handle_snapshot_response(struct paxos *p, const struct cn_message *m)
{
    struct paxos_peer *peer = paxos_peer_of(p, m->from);
    if (!peer->snapshot_active)
        return;
    if (m->index != peer->snapshot_index) {
        if (m->index != p->log.snapshot_index)
            return;
        peer->snapshot_index = m->index; /* the driver sent a newer snapshot: follow it */
    }
    if (!m->reject && m->commit >= peer->snapshot_index) {
        peer->snapshot_active = false; /* installed */
        return;
    }
    peer->snapshot_offset = m->context;
    send_snapshot_chunk(p, peer);
}

static void respond_snapshot(struct paxos *p, cn_node_id to, uint64_t index, uint64_t offset,
                             bool reject)
{
    struct cn_message *out = paxos_send_after_persist(p, CN_MSG_SNAPSHOT_RESPONSE, to);
    if (out == NULL)
        return;
    out->index = index;
    out->context = offset;
    out->commit = p->commit;
    out->reject = reject;
}

/* The last chunk arrived: the snapshot replaces every slot up to its index (they are chosen,
 * since only chosen and applied slots are ever compacted). */
static void finish_snapshot(struct paxos *p, cn_node_id from)
{
    const struct cn_snapshot_meta *meta = &p->staging.meta;
    p->staging.active = false;
    paxos_log_reset(p, meta->index, meta->term);
    p->commit = meta->index;
    if (meta->members.count > 0 && !paxos_conf_init(p, &meta->members, meta->index))
        assert(false); /* checked with the first chunk (snapshot_meta_valid) */
    p->applied = meta->index;
    p->staging.install_pending = true;
    p->catchup_inflight = false; /* the snapshot answered it: ask for what follows */
    paxos_advance_commit(p);
    respond_snapshot(p, from, meta->index, p->staging.offset, false);
}

static bool snapshot_meta_valid(const struct cn_message *m)
{
    const struct cn_snapshot_meta *meta = &m->snapshot;
    struct cn_membership conf;
    if (meta->index == 0 || meta->members.count > CN_MEMBERS_MAX ||
        m->snapshot_chunk_len > CN_SNAPSHOT_CHUNK_BYTES_MAX ||
        !cn_membership_unpack(&meta->members, &conf))
        return false;
    cn_node_id ids[CN_MEMBERS_MAX];
    uint32_t count = cn_membership_nodes(&conf, ids);
    for (uint32_t i = 0; i < count; i++)
        if (ids[i] > 0xff)
            return false; /* a ballot holds a node id in 8 bits */
    return m->snapshot_chunk_len == 0 || m->snapshot_chunk != NULL;
}

/* A snapshot chunk (Raft core's protocol: in order, one at a time, staged through updates). */
void paxos_handle_snapshot(struct paxos *p, const struct cn_message *m)
{
    if (p->role == CN_ROLE_LEADER || !snapshot_meta_valid(m))
        return;
    const struct cn_snapshot_meta *meta = &m->snapshot;
    if (meta->index <= p->commit) {
        p->staging.active = false;
        respond_snapshot(p, m->from, meta->index, 0, false);
        return;
    }
    uint64_t want;
    switch (cn_staging_accept(&p->staging, m, p->outboxes.pending, &want)) {
    case CN_STAGING_REFUSED:
        respond_snapshot(p, m->from, meta->index, want, true);
        break;
    case CN_STAGING_MORE:
        respond_snapshot(p, m->from, meta->index, want, false);
        break;
    case CN_STAGING_DONE:
        finish_snapshot(p, m->from);
        break;
    }
}

/* The application holds a snapshot of everything up to `index`: drop the slots below it.
 * A new leader may hold recovered slots it already knew chosen and never sent accepts for
 * (its first accepts leave with the next update); once compacted, no accepts are needed for
 * them (they are chosen), and none could be sent: the first accepts start above `index`. */
void paxos_snapshot_taken(struct paxos *p, uint64_t index)
{
    assert(index <= p->applied);
    if (index <= p->log.snapshot_index || !paxos_conf_compacting(p, index))
        return;
    paxos_log_compact_to(p, index);
    if (p->role == CN_ROLE_LEADER && p->sent_through < index)
        p->sent_through = index;
}

/* A catch-up request from a node of none of our configurations is not served (step.c: only
 * members are heard), but its index is the requester's chosen prefix + 1. When that is beyond
 * ours, the requester knows chosen values we lack, among them maybe the configuration that
 * made it and us its members: we ask it in turn (Paxos Made Simple §2.4: a learner may learn
 * a chosen value from any node that knows it). This is how new voters that learned nothing
 * yet find out from the leader that handed over to them once it is a follower of no
 * configuration of theirs (chorus-sim seed 1001926): they know nobody, it asks them. No
 * ping-pong: the requester's prefix is below ours when it asks us back. */
void paxos_handle_catchup_from_outsider(struct paxos *p, const struct cn_message *m)
{
    if (p->role == CN_ROLE_LEADER || p->catchup_inflight || m->index <= p->commit + 1)
        return;
    send_catchup(p, m->from);
}

/* A prepare from a node of none of our configurations whose prepare index is at or below our
 * chosen prefix (election.c) comes from a node that lags and is no voter of any slot above
 * that prefix: it may only teach it what was chosen. One message of chosen values from its
 * prepare index on, when we still hold them (a compacted prefix would need a snapshot, sent
 * to members only). */
void paxos_teach_outsider(struct paxos *p, cn_node_id to, uint64_t from)
{
    if (from <= p->log.snapshot_index || from > p->commit)
        return;
    send_chosen(p, to, from);
}
