/*
 * election.c — ticks, phase 1 (prepare/promise), backoff, leases and transfer.
 *
 * Rules and where they come from:
 *  - a proposer that times out picks a ballot above every ballot it heard of, promises it to
 *    itself, and prepares every slot from its first unchosen one at once (Lamport §3: one
 *    phase 1 covers the whole future of the log);
 *  - an acceptor promises a ballot above its promise, and the promise leaves only once the
 *    promised ballot is durable (§2.3); it carries every value accepted at or above the
 *    prepare index, so the new leader re-proposes the highest-ballot value of each such slot
 *    and fills the gaps with no-ops (§3, "fill the gaps"); a candidate's own promise counts
 *    only once durable;
 *  - a promise that cannot carry everything (the candidate lags the acceptor, or the acceptor
 *    compacted slots the candidate still needs) is not counted: the candidate steps down and
 *    catches up, and an up-to-date node wins instead;
 *  - election timeouts are random in [e, e + e * 2^backoff), where backoff counts failed
 *    campaigns in a row (dueling proposers drift apart until one completes both phases);
 *  - leases: a follower that heard from a leader within the election timeout ignores other
 *    proposers' prepares (a stable leader keeps its ballot and skips phase 1), and a leader
 *    that has not heard from a quorum for an election timeout steps down (as Raft's
 *    check-quorum, thesis §6.2).
 */
#include <stdlib.h>
#include <string.h>

#include "paxos/paxos_internal.h"

void paxos_reset_election_timer(struct paxos *p)
{
    p->election_elapsed = 0;
    p->heartbeat_elapsed = 0;
    uint32_t e = p->config.election_ticks;
    uint32_t shift = p->backoff < PAXOS_BACKOFF_SHIFT_MAX ? p->backoff : PAXOS_BACKOFF_SHIFT_MAX;
    uint32_t span = e << shift;
    p->randomized_election_ticks = e + (uint32_t)(cn_random_next(&p->random) % span);
}

static void recovery_clear(struct paxos *p)
{
    for (uint32_t i = 0; i < PAXOS_RECOVERY_SLOTS_MAX; i++) {
        struct paxos_recovered *r = &p->recovery[i];
        if (r->ballot == 0)
            continue;
        free(r->data);
        memset(r, 0, sizeof(*r));
    }
    p->recovery_last = 0;
}

static void leave_leadership(struct paxos *p)
{
    if (p->role == CN_ROLE_LEADER)
        paxos_read_fail_all(p);
    if (p->role == CN_ROLE_CANDIDATE)
        recovery_clear(p);
    p->ballot = 0;
    p->fence = 0;
    p->transfer_target = 0;
    p->reads.round_wanted = false;
}

void paxos_become_follower(struct paxos *p, cn_node_id leader)
{
    if (p->role == CN_ROLE_CANDIDATE && p->backoff < PAXOS_BACKOFF_SHIFT_MAX)
        p->backoff++;
    if (leader != 0)
        p->backoff = 0;
    leave_leadership(p);
    p->role = CN_ROLE_FOLLOWER;
    p->leader = leader;
    paxos_reset_election_timer(p);
}

/* A node that is no voter of the configurations it knows does not campaign (learners, removed
 * nodes, nodes that know no configuration yet). It may only lag: the configurations that
 * make it a voter may be chosen in slots it has not learned, and the nodes that know them
 * may be no voters any more (membership.c: a leader that removed itself hands over and
 * steps down). So at each election timeout without a leader it asks a node it knows, drawn
 * at random, for the chosen values it lacks. */
static void ask_anyone(struct paxos *p)
{
    /* No leader was heard for an election timeout: forget it, or its lease (handle_prepare)
     * would hold off for ever the voters' prepares that this node must answer. */
    p->leader = 0;
    paxos_reset_election_timer(p);
    if (p->catchup_inflight || p->members.count == 0)
        return;
    uint32_t at = (uint32_t)(cn_random_next(&p->random) % p->members.count);
    for (uint32_t i = 0; i < p->members.count; i++) {
        cn_node_id id = p->members.ids[(at + i) % p->members.count];
        if (id == p->config.id)
            continue;
        struct cn_message *out = paxos_send(p, CN_MSG_CATCHUP, id);
        if (out != NULL) {
            out->index = p->commit + 1;
            p->catchup_inflight = true;
            p->catchup_elapsed = 0;
        }
        return;
    }
}

/* Starts phase 1 with a fresh ballot (§3). `force` (an operator, a test, or TimeoutNow) makes
 * acceptors answer despite their lease. Our own promise counts once durable: maybe_finish
 * runs again on ack. */
void paxos_campaign(struct paxos *p, bool force)
{
    if (!paxos_conf_is_voter(p, p->config.id)) {
        ask_anyone(p);
        return;
    }
    if (p->role == CN_ROLE_CANDIDATE && p->backoff < PAXOS_BACKOFF_SHIFT_MAX)
        p->backoff++; /* the last round did not complete */
    leave_leadership(p);
    uint64_t round = cn_ballot_round(p->promised);
    if (cn_ballot_round(p->max_seen) > round)
        round = cn_ballot_round(p->max_seen);
    p->ballot = cn_ballot_make(round + 1, p->config.id);
    assert(p->ballot > p->promised && p->ballot > p->max_seen);
    p->promised = p->ballot;
    p->max_seen = p->ballot;
    p->role = CN_ROLE_CANDIDATE;
    p->leader = 0;
    p->prepare_index = p->commit + 1;
    p->conf_learned = false; /* this phase 1 covers every configuration known now */
    for (uint32_t i = 0; i < p->members.count; i++)
        p->peers[i].promised = false;
    paxos_reset_election_timer(p);
    for (uint32_t i = 0; i < p->members.count; i++) {
        cn_node_id id = p->members.ids[i];
        if (id == p->config.id)
            continue;
        struct cn_message *m = paxos_send(p, CN_MSG_PREPARE, id);
        if (m == NULL)
            continue;
        m->index = p->prepare_index;
        m->commit = p->commit;
        m->context = force ? PAXOS_CONTEXT_FORCE : 0;
    }
    paxos_maybe_finish_phase1(p);
}

/* The promise of phase 1b: the accepted values at or above `from`, while they fit in one
 * message and the recovery range of the candidate. Sets PARTIAL when some do not. */
static void fill_promise(struct paxos *p, struct cn_message *out, uint64_t from)
{
    uint64_t first = p->log.snapshot_index + 1;
    uint64_t lo = from > first ? from : first;
    uint64_t last = paxos_log_last(&p->log);
    uint64_t hi = lo - 1, bytes = 0;
    uint32_t count = 0;
    bool partial = false;
    for (uint64_t slot = lo; slot <= last; slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s->ballot == 0)
            continue;
        if (count == CN_MESSAGE_ENTRIES_MAX || bytes + s->data_len > PAXOS_WINDOW_BYTES_MAX * 2 ||
            slot >= from + PAXOS_RECOVERY_SLOTS_MAX) {
            partial = true;
            break;
        }
        count++;
        bytes += s->data_len;
        hi = slot;
    }
    if (hi >= lo)
        paxos_attach_slots(p, out, lo, hi);
    out->context = partial ? PAXOS_CONTEXT_PARTIAL : 0;
}

/* Phase 1b (§2.2, §3). Lower ballots get a nack with our promise; a higher ballot is promised
 * (persisted before the promise leaves), unless a live leader's lease holds it off. */
void paxos_handle_prepare(struct paxos *p, const struct cn_message *m)
{
    uint64_t ballot = m->term;
    if (m->index <= p->commit && paxos_member_position(p, m->from) < 0) {
        /* A proposer of none of our configurations whose prepare index is at or below our
         * chosen prefix lags us and is no voter of any slot above it: we know every
         * configuration chosen up to that prefix, hence every one that could make it a voter
         * of the slots it would choose, and none does (its knowledge is ours, and older).
         * Ignoring a prepare is always safe (Paxos Made Simple §2.3: an acceptor may ignore
         * any request); promising it would reset our timer, and a removed node that cannot
         * learn its removal (its catch-up requests are not served) would, campaigning at
         * every timeout, keep the voters from ever campaigning (chorus-sim seed 2003895). So
         * we neither promise nor reset the timer, as Raft's voters disregard a removed
         * server's RequestVote (Raft thesis §4.2.3), and teach it what was chosen instead,
         * so that it learns its removal and stops. */
        paxos_teach_outsider(p, m->from, m->index);
        return;
    }
    if (ballot < p->promised) {
        struct cn_message *out = paxos_send(p, CN_MSG_PROMISE, m->from);
        if (out != NULL) {
            out->term = p->promised;
            out->index = m->index;
            out->reject = true;
        }
        return;
    }
    bool force = m->context == PAXOS_CONTEXT_FORCE;
    bool in_lease = p->leader != 0 && p->leader != m->from &&
                    p->election_elapsed < p->config.election_ticks;
    if (ballot > p->promised && in_lease && !force)
        return;
    if (ballot > p->promised) {
        p->promised = ballot;
        if (p->role != CN_ROLE_FOLLOWER)
            paxos_become_follower(p, 0);
        p->leader = 0;
        paxos_reset_election_timer(p); /* give the candidate time to finish */
    }
    struct cn_message *out = paxos_send_after_persist(p, CN_MSG_PROMISE, m->from);
    if (out == NULL)
        return;
    out->term = ballot;
    out->index = m->index;
    out->commit = p->commit;
    out->hint_index = p->log.snapshot_index;
    fill_promise(p, out, m->index);
}

static bool promise_entries_valid(const struct paxos *p, const struct cn_message *m)
{
    uint64_t previous = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index <= previous || e->index < p->prepare_index ||
            e->index >= p->prepare_index + PAXOS_RECOVERY_SLOTS_MAX || e->term == 0 ||
            e->term > m->term || e->data_len > CN_ENTRY_DATA_BYTES_MAX || e->type > CN_ENTRY_CONFIG)
            return false;
        previous = e->index;
    }
    return true;
}

static void request_catchup(struct paxos *p, cn_node_id from)
{
    struct cn_message *out = paxos_send(p, CN_MSG_CATCHUP, from);
    if (out != NULL) {
        out->index = p->commit + 1;
        p->catchup_inflight = true;
        p->catchup_elapsed = 0;
    }
}

/* Phase 1b arriving at the candidate: keep the highest-ballot value reported for each slot. */
void paxos_handle_promise(struct paxos *p, const struct cn_message *m)
{
    if (p->role != CN_ROLE_CANDIDATE || m->reject || m->term != p->ballot ||
        m->index != p->prepare_index)
        return;
    struct paxos_peer *peer = paxos_peer_of(p, m->from);
    if (peer->promised)
        return;
    if (m->context == PAXOS_CONTEXT_PARTIAL || m->hint_index >= p->prepare_index) {
        /* This acceptor knows chosen slots we lack: learn them first. */
        paxos_become_follower(p, 0);
        request_catchup(p, m->from);
        return;
    }
    if (!promise_entries_valid(p, m))
        return;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        /* While we campaigned, we may have learned, applied and compacted slots from the
         * prepare index on (CN_MSG_CHOSEN, an installed snapshot): those are chosen and
         * applied, so whatever a promise reports for them is of no use. */
        if (e->index <= p->log.snapshot_index)
            continue;
        struct paxos_recovered *r = &p->recovery[e->index - p->prepare_index];
        if (e->term <= r->ballot)
            continue;
        free(r->data);
        r->data = NULL;
        if (e->data_len > 0) {
            r->data = malloc(e->data_len);
            assert(r->data != NULL);
            memcpy(r->data, e->data, e->data_len);
        }
        r->ballot = e->term;
        r->type = e->type;
        r->data_len = e->data_len;
        if (e->index > p->recovery_last)
            p->recovery_last = e->index;
    }
    peer->promised = true;
    paxos_maybe_finish_phase1(p);
}

/* Re-proposes `slot` in our ballot with the value it holds (ours, or one just recovered). */
static void repropose_own(struct paxos *p, uint64_t slot)
{
    struct paxos_slot *s = paxos_slot_get(p, slot);
    s->ballot = p->ballot;
    s->accepted_by = 0;
    s->sent_tick = 0;
    paxos_slot_mark_unsaved(p, slot);
}

/* The value phase 1 makes us re-propose at `slot` (ours, a recovered one, or a no-op). */
static uint8_t reproposed_type(struct paxos *p, uint64_t slot)
{
    const struct paxos_slot *own = paxos_slot_get(p, slot);
    uint64_t offset = slot - p->prepare_index;
    const struct paxos_recovered *r =
        offset < PAXOS_RECOVERY_SLOTS_MAX ? &p->recovery[offset] : NULL;
    uint64_t recovered_ballot = r != NULL ? r->ballot : 0;
    if (own != NULL && own->ballot != 0 && (own->chosen || own->ballot >= recovered_ballot))
        return own->type;
    return recovered_ballot != 0 ? r->type : CN_ENTRY_NOOP;
}

/* A configuration command among the values to re-propose, at x, governs from x + alpha on,
 * and this phase 1 did not cover it (membership.c): the first such slot within [lo, hi] is
 * the fence, below which alone we re-propose until x is chosen. 0 when none. Bounded by the
 * recovery range. */
static uint64_t recovered_fence(struct paxos *p, uint64_t lo, uint64_t hi)
{
    uint64_t alpha = paxos_alpha(p);
    for (uint64_t slot = lo; slot <= hi && slot + alpha <= hi; slot++)
        if (reproposed_type(p, slot) == CN_ENTRY_CONFIG)
            return slot + alpha;
    return 0;
}

/* Phase 1 is complete: every slot from the prepare index to the highest one reported gets,
 * in our ballot, the value of the highest ballot any promise (ours included) reported for it,
 * the chosen value when we know it, or a no-op for a gap (§3). Then we lead. Slots at or
 * below our snapshot are skipped: a candidate keeps learning (CN_MSG_CHOSEN, a snapshot
 * install) and compacting while phase 1 runs, and those slots are chosen and applied. */
static void become_leader(struct paxos *p)
{
    uint64_t lo = p->prepare_index;
    if (lo <= p->log.snapshot_index)
        lo = p->log.snapshot_index + 1;
    uint64_t hi = paxos_log_last(&p->log);
    if (p->recovery_last > hi)
        hi = p->recovery_last;
    uint64_t fence = recovered_fence(p, lo, hi);
    if (fence != 0)
        hi = fence - 1;
    for (uint64_t slot = lo; slot <= hi; slot++) {
        const struct paxos_slot *own = paxos_slot_get(p, slot);
        uint64_t offset = slot - p->prepare_index; /* the recovery array starts there */
        struct paxos_recovered *r =
            offset < PAXOS_RECOVERY_SLOTS_MAX ? &p->recovery[offset] : NULL;
        uint64_t recovered_ballot = r != NULL ? r->ballot : 0;
        if (own != NULL && own->ballot != 0 && (own->chosen || own->ballot >= recovered_ballot)) {
            repropose_own(p, slot);
        } else if (recovered_ballot != 0) {
            paxos_slot_set_owned(p, slot, p->ballot, r->type, r->data, r->data_len);
            r->data = NULL;
        } else {
            paxos_slot_set(p, slot, p->ballot, CN_ENTRY_NOOP, NULL, 0);
        }
    }
    recovery_clear(p);
    p->fence = fence;
    p->role = CN_ROLE_LEADER;
    p->leader = p->config.id;
    p->backoff = 0;
    p->recovered_through = hi >= lo ? hi : lo - 1;
    p->next_slot = p->recovered_through + 1;
    p->sent_through = lo - 1;
    p->ticks = 0;
    for (uint32_t i = 0; i < p->members.count; i++) {
        p->peers[i].recent_active = p->peers[i].id == p->config.id;
        p->peers[i].read_round_acked = 0;
    }
    paxos_reset_election_timer(p);
    /* Tell everyone at once that we lead, so that their timers stop. */
    paxos_broadcast_leases(p, p->reads.round);
    p->commit_sent = p->commit;
    paxos_maybe_choose(p);
}

/* Our own promise counts once durable. */
static bool promised_us(const void *context, cn_node_id id)
{
    const struct paxos *p = context;
    if (id == p->config.id)
        return p->durable.term == p->ballot;
    int i = cn_members_position(&p->members, id);
    return i >= 0 && p->peers[i].promised;
}

/* Phase 1 needs a majority of every configuration governing a slot of the window
 * (membership.c). */
void paxos_maybe_finish_phase1(struct paxos *p)
{
    if (p->role != CN_ROLE_CANDIDATE)
        return;
    if (paxos_window_quorum(p, promised_us, p))
        become_leader(p);
}

/* A message of the current leader (accept, lease, chosen, snapshot) at or above our promise. */
void paxos_heard_from_leader(struct paxos *p, const struct cn_message *m)
{
    if (m->term > p->leader_ballot)
        p->leader_ballot = m->term; /* reported, never promised (paxos_reported_term) */
    if (p->role != CN_ROLE_FOLLOWER) {
        paxos_become_follower(p, m->from);
        return;
    }
    p->leader = m->from;
    p->election_elapsed = 0;
    p->backoff = 0;
}

static bool recently_active(const void *context, cn_node_id id)
{
    const struct paxos *p = context;
    int i = cn_members_position(&p->members, id);
    return id == p->config.id || (i >= 0 && p->peers[i].recent_active);
}

static void tick_leader(struct paxos *p)
{
    p->ticks++;
    p->heartbeat_elapsed++;
    p->election_elapsed++;
    if (p->election_elapsed >= p->config.election_ticks) {
        p->election_elapsed = 0;
        bool quorum = paxos_window_quorum(p, recently_active, p);
        for (uint32_t i = 0; i < p->members.count; i++)
            p->peers[i].recent_active = false;
        if (!quorum) {
            paxos_become_follower(p, 0);
            return;
        }
    }
    if (p->transfer_target != 0 && ++p->transfer_elapsed >= p->config.election_ticks)
        p->transfer_target = 0; /* the transfer took too long: abort */
    if (p->heartbeat_elapsed >= p->config.heartbeat_ticks) {
        p->heartbeat_elapsed = 0;
        paxos_broadcast_leases(p, p->reads.round);
        p->commit_sent = p->commit;
    }
    paxos_resend_accepts(p);
}

void paxos_tick(struct paxos *p)
{
    paxos_catchup_tick(p);
    for (uint32_t i = 0; i < p->members.count; i++)
        if (p->peers[i].snapshot_active)
            paxos_snapshot_tick(p, &p->peers[i]);
    if (p->role == CN_ROLE_LEADER) {
        tick_leader(p);
        return;
    }
    p->election_elapsed++;
    if (p->election_elapsed >= p->randomized_election_ticks)
        paxos_campaign(p, false);
}

/* Hands leadership to `target`: proposals stop, and the target campaigns at once past the
 * leases. Phase 1 recovers every accepted value, so the target needs no catch-up first. */
int paxos_transfer_start(struct paxos *p, cn_node_id target)
{
    if (p->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (target == p->config.id || !paxos_conf_is_voter(p, target) ||
        paxos_member_position(p, target) < 0)
        return CN_ERR_INVALID;
    p->transfer_target = target;
    p->transfer_elapsed = 0;
    paxos_send(p, CN_MSG_TIMEOUT_NOW, target);
    return CN_OK;
}
