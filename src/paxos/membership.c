/*
 * membership.c — reconfiguration of the Multi-Paxos core by the alpha window (Lamport,
 * "Paxos Made Simple" 2001, §3, last paragraphs; Lamport, Malkhi and Zhou, "Reconfiguring a
 * State Machine", 2010, §4 "the alpha approach").
 *
 * Rules and where they come from:
 *  - A configuration (voters and learners) is a command like any other, a CN_ENTRY_CONFIG
 *    value chosen in some slot s. It governs the slots from s + alpha on (Lamport §3): the
 *    acceptors of slot t are the voters of the latest configuration chosen at or below
 *    t - alpha. There is no joint phase: every slot has exactly one configuration, and a value
 *    is chosen in it when a majority of that configuration's voters accepted it.
 *  - A leader proposes in slot t only when it knows every value chosen at or below t - alpha,
 *    so that it knows t's configuration: it keeps at most alpha slots open above its chosen
 *    prefix (replication.c, the window).
 *  - Phase 1 covers every slot above the chosen prefix, so it needs a majority of every
 *    configuration governing a slot of the window [commit + 1, commit + alpha]: with one
 *    change at a time, at most two (the one in force and the pending one).
 *  - A leader whose chosen prefix passes a configuration command learns a configuration its
 *    phase 1 did not cover: it starts a new ballot at once, whose phase 1 covers it. A leader
 *    whose phase 1 recovered a configuration command at x with slots from x + alpha on also
 *    recovered re-proposes only below x + alpha (the fence) until x is chosen.
 *  - One change at a time: a leader refuses a change while a configuration is pending (chosen,
 *    not yet governing the next slot to choose) or a configuration command is unchosen in its
 *    window. So chosen configuration commands are at least alpha slots apart.
 *  - Once a configuration is chosen, the leader fills the slots up to where it takes effect
 *    with no-ops (Lamport §3: "execute alpha no-op commands"), so a change completes without
 *    client traffic.
 *  - A leader that is no voter of the configuration in force once the change took effect
 *    steps down and hands over with TimeoutNow (as Raft's thesis §3.10).
 *  - Acceptors hear prepares, accepts, leases, chosen values and snapshots from any proposer
 *    (a node being added knows no configuration yet); answers count only from nodes of a
 *    configuration governing a slot above the chosen prefix, and only toward the majorities of
 *    the configurations they are voters of: a removed member never counts.
 *  - Two exceptions, so that a node that lags neither holds the others back nor is left out
 *    (election.c, learn.c): an acceptor ignores the prepare of a non-member whose prepare
 *    index is at or below its chosen prefix (it provably cannot be a voter of a slot it would
 *    choose; Raft thesis §4.2.3's removed server, made exact) and sends it the chosen values;
 *    a catch-up request of a non-member that knows more makes the node ask it in turn.
 *  - A snapshot carries the configuration at its index. When one was pending there, the packed
 *    form (consensus/membership.h) is the joint one, outgoing = the configuration in force and
 *    voters = the pending one; its first slot is not carried, so a node restoring it takes
 *    index + alpha, an upper bound, and until then needs majorities of both (safe: more than
 *    the governing configuration needs).
 */
#include <string.h>

#include "consensus/membership.h"
#include "paxos/paxos_internal.h"

uint64_t paxos_alpha(const struct paxos *p)
{
    return p->config.paxos_alpha_slots != 0 ? p->config.paxos_alpha_slots
                                            : PAXOS_WINDOW_SLOTS_MAX;
}

/* The index in confs[] of the configuration governing `slot` (the latest whose first slot
 * is at or below it; confs[0] otherwise). */
static uint32_t conf_governing(const struct paxos *p, uint64_t slot)
{
    uint32_t k = 0;
    while (k + 1 < p->conf_count && p->confs[k + 1].first <= slot)
        k++;
    return k;
}

static bool nodes_fit(const struct paxos *p, const struct cn_membership *extra)
{
    struct cn_members all = {0};
    for (uint32_t k = conf_governing(p, p->commit + 1); k <= p->conf_count; k++) {
        const struct cn_membership *m = k < p->conf_count ? &p->confs[k].m : extra;
        if (m == NULL)
            break;
        cn_node_id ids[CN_MEMBERS_MAX];
        uint32_t count = cn_membership_nodes(m, ids);
        for (uint32_t i = 0; i < count; i++) {
            if (cn_members_contains(&all, ids[i]))
                continue;
            if (all.count == CN_MEMBERS_MAX || ids[i] > 0xff)
                return false;
            all.ids[all.count++] = ids[i];
        }
    }
    return true;
}

/* Rebuilds `members` (every node of a configuration governing a slot above the chosen
 * prefix, ascending) and peers[] by id. A leader's per-slot acceptance bits follow the new
 * positions; bounded by its window. */
static void members_rebuild(struct paxos *p)
{
    struct cn_members next = {0};
    for (uint32_t k = conf_governing(p, p->commit + 1); k < p->conf_count; k++) {
        cn_node_id ids[CN_MEMBERS_MAX];
        uint32_t count = cn_membership_nodes(&p->confs[k].m, ids);
        for (uint32_t i = 0; i < count; i++) {
            if (cn_members_contains(&next, ids[i]))
                continue;
            assert(next.count < CN_MEMBERS_MAX); /* changes are checked by nodes_fit */
            uint32_t at = next.count++;
            while (at > 0 && next.ids[at - 1] > ids[i]) {
                next.ids[at] = next.ids[at - 1];
                at--;
            }
            next.ids[at] = ids[i];
        }
    }
    if (next.count == p->members.count &&
        memcmp(next.ids, p->members.ids, next.count * sizeof(next.ids[0])) == 0)
        return;
    struct paxos_peer old[CN_MEMBERS_MAX];
    memcpy(old, p->peers, sizeof(old));
    struct cn_members previous = p->members;
    int moved[CN_MEMBERS_MAX];
    for (uint32_t i = 0; i < previous.count; i++)
        moved[i] = cn_members_position(&next, previous.ids[i]);
    memset(p->peers, 0, sizeof(p->peers));
    for (uint32_t i = 0; i < next.count; i++) {
        int k = cn_members_position(&previous, next.ids[i]);
        if (k >= 0) {
            p->peers[i] = old[k];
        } else {
            p->peers[i].id = next.ids[i];
            p->peers[i].recent_active = true; /* one election timeout before check-quorum */
        }
    }
    p->members = next;
    if (p->role != CN_ROLE_LEADER)
        return;
    for (uint64_t slot = p->commit + 1; slot <= paxos_log_last(&p->log); slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        uint8_t bits = 0;
        for (uint32_t i = 0; i < previous.count; i++)
            if ((s->accepted_by & (1u << i)) != 0 && moved[i] >= 0)
                bits |= (uint8_t)(1u << moved[i]);
        s->accepted_by = bits;
    }
}

/* The configuration at a snapshot of `index` (or the initial one) from its packed form. */
bool paxos_conf_init(struct paxos *p, const struct cn_members *packed, uint64_t index)
{
    struct cn_membership m;
    if (packed->count > CN_MEMBERS_MAX || !cn_membership_unpack(packed, &m))
        return false;
    memset(p->confs, 0, sizeof(p->confs));
    p->conf_count = 1;
    p->conf_history_lost = false;
    p->confs[0].slot = 0;
    p->confs[0].m = (struct cn_membership){.voters = m.voters, .learners = m.learners};
    if (cn_membership_joint(&m)) {
        /* Taken while a change was pending: the one in force is the outgoing voters. */
        p->confs[0].m = (struct cn_membership){.voters = m.outgoing};
        p->confs[1] = (struct paxos_conf){
            .slot = index, .first = index + paxos_alpha(p), .uncertain = true,
            .m = {.voters = m.voters, .learners = m.learners}};
        p->conf_count = 2;
    }
    if (!nodes_fit(p, NULL))
        return false;
    p->snapshot_members = *packed;
    members_rebuild(p);
    return true;
}

/* The chosen prefix moved onto `slot` (advance_commit, restore): a configuration command
 * there governs from slot + alpha on. */
void paxos_conf_chosen(struct paxos *p, uint64_t slot)
{
    const struct paxos_slot *s = paxos_slot_get(p, slot);
    assert(s != NULL && s->chosen);
    struct cn_membership m;
    if (s->type != CN_ENTRY_CONFIG || !cn_membership_decode(s->data, s->data_len, &m) ||
        cn_membership_joint(&m))
        return; /* a proposer checks its configuration values (paxos_conf_change) */
    if (p->conf_count == PAXOS_CONFS_MAX) {
        /* Only the derivation of an older snapshot's configuration needed the oldest. */
        memmove(&p->confs[0], &p->confs[1], (PAXOS_CONFS_MAX - 1) * sizeof(p->confs[0]));
        p->conf_count--;
        p->conf_history_lost = true;
    }
    p->confs[p->conf_count++] = (struct paxos_conf){.slot = slot, .first = slot + paxos_alpha(p),
                                                    .m = m};
    p->conf_learned = true;
}

/* Drops configurations nothing needs any more: confs[0] once confs[1] governs every slot
 * above the snapshot. An uncertain one becomes certain once it governs the next slot. */
static void conf_prune(struct paxos *p)
{
    while (p->conf_count >= 2 && p->confs[1].first <= p->log.snapshot_index + 1) {
        memmove(&p->confs[0], &p->confs[1], (p->conf_count - 1) * sizeof(p->confs[0]));
        p->conf_count--;
        p->conf_history_lost = false;
    }
    for (uint32_t k = 0; k < p->conf_count; k++)
        if (p->confs[k].uncertain && p->confs[k].first <= p->commit + 1)
            p->confs[k].uncertain = false;
}

/* A voter of a configuration governing a slot above the chosen prefix: may campaign. */
bool paxos_conf_is_voter(const struct paxos *p, cn_node_id id)
{
    for (uint32_t k = conf_governing(p, p->commit + 1); k < p->conf_count; k++)
        if (cn_members_contains(&p->confs[k].m.voters, id))
            return true;
    return false;
}

/* A majority of the voters of `slot`'s configuration passes `test` (phase 2, §2.2), and of a
 * later uncertain one too (its first slot is only an upper bound). */
bool paxos_slot_quorum(const struct paxos *p, uint64_t slot, cn_member_test test,
                       const void *context)
{
    uint32_t k = conf_governing(p, slot);
    const struct cn_members *voters = &p->confs[k].m.voters;
    if (voters->count == 0 || !cn_quorum_has(voters, test, context))
        return false;
    for (uint32_t j = k + 1; j < p->conf_count; j++)
        if (p->confs[j].uncertain && !cn_quorum_has(&p->confs[j].m.voters, test, context))
            return false;
    return true;
}

/* A majority of every configuration governing a slot of [commit + 1, commit + alpha]: what
 * phase 1, a read round and check-quorum need. Every kept configuration from the one governing
 * commit + 1 on governs such a slot (it was chosen at or below commit). */
bool paxos_window_quorum(const struct paxos *p, cn_member_test test, const void *context)
{
    for (uint32_t k = conf_governing(p, p->commit + 1); k < p->conf_count; k++) {
        const struct cn_members *voters = &p->confs[k].m.voters;
        if (voters->count == 0 || !cn_quorum_has(voters, test, context))
            return false;
    }
    return true;
}

/* The last slot a leader may send accepts for in its ballot (below the fence). */
uint64_t paxos_leader_last(const struct paxos *p)
{
    uint64_t last = paxos_log_last(&p->log);
    return p->fence != 0 && p->fence - 1 < last ? p->fence - 1 : last;
}

/* The configuration not yet in force (the last one, when it governs from beyond the next
 * slot to choose), or NULL. */
static const struct paxos_conf *conf_pending(const struct paxos *p)
{
    const struct paxos_conf *last = &p->confs[p->conf_count - 1];
    return p->conf_count >= 2 && last->first > p->commit + 1 ? last : NULL;
}

/* Whether the leader's window holds an unchosen configuration command. Bounded by alpha
 * (the window) and by the log above the prefix. */
static bool config_in_flight(const struct paxos *p)
{
    uint64_t last = paxos_log_last(&p->log);
    uint64_t limit = p->commit + paxos_alpha(p);
    for (uint64_t slot = p->commit + 1; slot <= last && slot <= limit; slot++) {
        const struct paxos_slot *s = paxos_slot_peek(&p->log, slot);
        if (s->ballot != 0 && s->type == CN_ENTRY_CONFIG)
            return true;
    }
    return false;
}

/* Lamport §3: no-ops up to the slot before the pending configuration's first, so that it
 * takes effect without waiting for client commands. Bounded by the leader's window. */
static void fill_noops(struct paxos *p)
{
    const struct paxos_conf *pending = conf_pending(p);
    if (pending == NULL || p->fence != 0 || p->transfer_target != 0)
        return;
    uint64_t window = paxos_alpha(p);
    uint64_t cap = (uint64_t)p->config.inflight_messages_max * p->config.message_entries_max;
    if (cap < window)
        window = cap;
    while (p->next_slot < pending->first && p->next_slot - 1 - p->commit < window &&
           p->unsaved_count < p->config.pending_proposals_max) {
        assert(p->next_slot > paxos_log_last(&p->log));
        paxos_slot_set(p, p->next_slot++, p->ballot, CN_ENTRY_NOOP, NULL, 0);
    }
}

/* A leader no voter of the configuration it must now choose in hands over to one that is
 * (Raft thesis §3.10's TimeoutNow; phase 1 recovers everything, no catch-up needed). */
static void hand_over(struct paxos *p)
{
    const struct cn_members *voters = &p->confs[conf_governing(p, p->commit + 1)].m.voters;
    for (uint32_t i = 0; i < voters->count; i++) {
        if (voters->ids[i] != p->config.id && cn_members_contains(&p->members, voters->ids[i])) {
            paxos_send(p, CN_MSG_TIMEOUT_NOW, voters->ids[i]);
            break;
        }
    }
    paxos_become_follower(p, 0);
}

/* After every event: drop what is no longer needed, follow the members, and act on a
 * configuration learned (a new ballot), taking effect (hand over) or pending (no-ops). */
void paxos_conf_settle(struct paxos *p)
{
    conf_prune(p);
    members_rebuild(p);
    bool learned = p->conf_learned;
    p->conf_learned = false;
    if (p->role == CN_ROLE_FOLLOWER)
        return;
    if (!paxos_conf_is_voter(p, p->config.id)) {
        if (p->role == CN_ROLE_LEADER)
            hand_over(p);
        else
            paxos_become_follower(p, 0);
        return;
    }
    if (learned) {
        paxos_campaign(p, false); /* phase 1 must cover the configuration just learned */
        return;
    }
    if (p->role == CN_ROLE_LEADER)
        fill_noops(p);
}

/* CN_EVENT_MEMBERSHIP on the leader: propose the target (voters and learners) as the value
 * of the next slot. */
int paxos_conf_change(struct paxos *p, const struct cn_membership *target, uint64_t *index,
                      uint64_t *term)
{
    if (p->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (p->transfer_target != 0)
        return CN_ERR_TRANSFERRING;
    struct cn_membership next = {.voters = target->voters, .learners = target->learners};
    if (!cn_membership_valid(&next, false) || !nodes_fit(p, &next))
        return CN_ERR_INVALID;
    /* One change at a time, and not before the recovered slots are chosen (a configuration
     * command of an earlier leader may be among them). */
    if (p->fence != 0 || p->commit < p->recovered_through || conf_pending(p) != NULL ||
        config_in_flight(p))
        return CN_ERR_BUSY;
    uint8_t data[CN_MEMBERSHIP_ENTRY_BYTES_MAX];
    uint32_t len = cn_membership_encode(&next, data);
    uint64_t slot = 0;
    int rv = paxos_propose(p, data, len, &slot, term);
    if (rv != CN_OK)
        return rv;
    paxos_slot_get(p, slot)->type = CN_ENTRY_CONFIG;
    if (index != NULL)
        *index = slot;
    return CN_OK;
}

/* The log is about to be compacted up to `index`: the packed configuration there, which
 * snapshots of that index carry. False when it cannot be derived any more (more changes were
 * chosen since the last snapshot than confs[] keeps): the core then keeps its log. */
bool paxos_conf_compacting(struct paxos *p, uint64_t index)
{
    uint32_t k = 0;
    while (k + 1 < p->conf_count && p->confs[k + 1].slot <= index)
        k++;
    if (k == 0 && p->conf_history_lost)
        return false;
    const struct paxos_conf *latest = &p->confs[k];
    struct cn_membership packed_form = latest->m;
    if (latest->first > index + 1) {
        if (k == 0)
            return false; /* an uncertain confs[0] never stays (prune) */
        packed_form.outgoing = p->confs[k - 1].m.voters;
    }
    cn_membership_pack(&packed_form, &p->snapshot_members);
    return true;
}

void paxos_conf_status(const struct paxos *p, struct cn_status *s)
{
    const struct paxos_conf *now = &p->confs[conf_governing(p, p->commit + 1)];
    const struct paxos_conf *pending = conf_pending(p);
    s->members = now->m.voters;
    s->membership = now->m;
    s->membership_index = p->confs[p->conf_count - 1].slot;
    if (pending != NULL) {
        /* Shown as Raft shows a change in progress: the incoming voters, the outgoing ones. */
        s->membership = (struct cn_membership){.voters = pending->m.voters,
                                               .outgoing = now->m.voters,
                                               .learners = pending->m.learners};
        s->membership_from_index = pending->first;
    }
    s->membership_pending =
        pending != NULL || (p->role == CN_ROLE_LEADER && config_in_flight(p));
}
