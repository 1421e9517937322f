/*
 * paxos.c — creating a Multi-Paxos core, feeding it events, and the update/ack cycle.
 *
 * The update cycle follows consensus.h with entries_per_slot set: the entries of an update
 * are the slots whose accepted (ballot, value) changed since the last update, in ascending
 * slot order, each replacing only its own slot on disk. The bookkeeping that keeps the core
 * honest about durability while the driver persists one update and events keep arriving:
 *  - a slot is durable only when neither changed since (unsaved) nor in the outstanding
 *    update (handed); promises and accepteds leave only after the persist that holds what
 *    they claim (the after-persist outbox of the same update);
 *  - a candidate's own promise and a leader's own acceptance count only once durable;
 *  - chosen values are applied only once durable here (a learner writes values it learned
 *    from CN_MSG_CHOSEN to its disk before applying them, so that a restart finds them);
 *  - the persisted chosen-index hint is the last slot handed out to apply, never more;
 *  - data blocks released while an update is out are freed only after the ack that follows.
 */
#include <stdlib.h>
#include <string.h>

#include "paxos/paxos.h"
#include "paxos/paxos_internal.h"

/* The term this node reports (cn_status, the update's soft state): its promise, or the ballot
 * of the leader it follows when that is higher. A follower that came back while its group is
 * idle hears only leases, which leave its promise where it was (a lease is neither a prepare
 * nor an accept: in Paxos Made Simple §2.2 an acceptor promises by answering a prepare, and
 * this core also raises the promise on an accept it takes). Reporting that stale promise as its term made the leader refuse
 * every write it forwarded (node/forwards.c fences a forward by the term in which its sender
 * saw the leader lead) and kept it from going quiet (node/quiesce.c matches the beat's term).
 * The reported term is only a name for the leadership we follow, used for routing and
 * fencing; promises stay what phase 1 relies on. Both parts only rise, so the term reported
 * never goes down while the node runs (a restart reports its promise until a lease comes). */
uint64_t paxos_reported_term(const struct paxos *p)
{
    return p->leader_ballot > p->promised ? p->leader_ballot : p->promised;
}

int paxos_member_position(const struct paxos *p, cn_node_id id)
{
    return cn_members_position(&p->members, id);
}

struct paxos_peer *paxos_peer_of(struct paxos *p, cn_node_id id)
{
    int i = paxos_member_position(p, id);
    return i < 0 ? NULL : &p->peers[i];
}

struct cn_entry paxos_slot_entry(const struct paxos_slot *s, uint64_t slot)
{
    return (struct cn_entry){.index = slot, .term = s->ballot, .type = s->type,
                             .data_len = s->data_len, .data = s->data};
}

static bool config_valid(const struct cn_config *c)
{
    return c->id != 0 && c->id <= 0xff && c->election_ticks >= 2 && c->heartbeat_ticks >= 1 &&
           c->heartbeat_ticks < c->election_ticks && c->inflight_messages_max >= 1 &&
           c->message_entries_max >= 1 && c->message_entries_max <= CN_MESSAGE_ENTRIES_MAX &&
           c->message_bytes_max >= 1 && c->pending_reads_max >= 1 &&
           c->pending_reads_max <= PAXOS_READS_MAX && c->pending_proposals_max >= 1 &&
           c->log_bytes_max >= CN_ENTRY_DATA_BYTES_MAX &&
           c->paxos_alpha_slots <= PAXOS_AHEAD_SLOTS_MAX;
}

/* Restored slots are durable. The chosen hint covers a prefix without gaps (it was persisted
 * only together with, or after, the values it covers); a gap lowers it defensively. */
static bool restore_slots(struct paxos *p, const struct cn_restore *restore)
{
    paxos_log_init(&p->log, restore->snapshot.index, restore->snapshot.term);
    uint64_t hint = restore->hard_state.commit;
    p->commit = hint > restore->snapshot.index ? hint : restore->snapshot.index;
    uint64_t previous = restore->snapshot.index;
    for (uint64_t i = 0; i < restore->entry_count; i++) {
        const struct cn_entry *e = &restore->entries[i];
        if (e->index <= previous || e->term == 0 || e->data_len > CN_ENTRY_DATA_BYTES_MAX ||
            e->index > p->commit + PAXOS_AHEAD_SLOTS_MAX)
            return false;
        previous = e->index;
        paxos_slot_set(p, e->index, e->term, e->type, e->data, e->data_len);
        struct paxos_slot *s = paxos_slot_get(p, e->index);
        s->unsaved = false;
        p->unsaved_count--;
    }
    p->dirty_low = UINT64_MAX;
    uint64_t limit = p->commit;
    p->commit = restore->snapshot.index;
    while (p->commit < limit) {
        struct paxos_slot *s = paxos_slot_get(p, p->commit + 1);
        if (s == NULL || s->ballot == 0)
            break;
        s->chosen = true;
        p->commit++;
        paxos_conf_chosen(p, p->commit); /* a configuration in the restored log */
    }
    p->applied = restore->snapshot.index;
    /* Nothing restored was handed out: restored blocks are no garbage. */
    assert(p->garbage.next.count == 0);
    return true;
}

static void paxos_destroy(void *core)
{
    struct paxos *p = core;
    if (p == NULL)
        return;
    paxos_log_free(&p->log);
    if (p->recovery != NULL)
        for (uint32_t i = 0; i < PAXOS_RECOVERY_SLOTS_MAX; i++)
            free(p->recovery[i].data);
    free(p->recovery);
    cn_garbage_destroy(&p->garbage);
    cn_outboxes_free(&p->outboxes);
    cn_reads_free(&p->reads);
    cn_staging_free(&p->staging);
    free(p);
}

static int paxos_create(const struct cn_config *config, const struct cn_restore *restore,
                        void **out)
{
    if (!config_valid(config))
        return CN_ERR_INVALID;
    /* An empty configuration is a node created to join a group: it learns its configuration
     * from the chosen values or a snapshot (membership.c). */
    const struct cn_members *members =
        restore->snapshot.members.count > 0 ? &restore->snapshot.members : &config->members;
    struct paxos *p = calloc(1, sizeof(*p));
    assert(p != NULL);
    p->config = *config;
    /* A ballot holds the node id in its low 8 bits (cn_ballot_make): nodes_fit checks them. */
    if (!paxos_conf_init(p, members, restore->snapshot.index)) {
        free(p);
        return CN_ERR_INVALID;
    }
    cn_random_seed(&p->random, config);
    p->promised = restore->hard_state.term;
    p->max_seen = p->promised;
    p->durable = restore->hard_state;
    p->handed = restore->hard_state;
    p->recovery = calloc(PAXOS_RECOVERY_SLOTS_MAX, sizeof(*p->recovery));
    assert(p->recovery != NULL);
    cn_reads_init(&p->reads, config->pending_reads_max);
    cn_staging_init(&p->staging);
    cn_outboxes_init(&p->outboxes, true);
    if (!restore_slots(p, restore)) {
        paxos_destroy(p);
        return CN_ERR_INVALID;
    }
    paxos_become_follower(p, 0);
    paxos_conf_settle(p);
    p->reported_role = CN_ROLE_FOLLOWER;
    p->reported_term = paxos_reported_term(p);
    *out = p;
    return CN_OK;
}

static int step_event(struct paxos *p, const struct cn_event *event)
{
    switch (event->type) {
    case CN_EVENT_TICK:
        paxos_tick(p);
        return CN_OK;
    case CN_EVENT_MESSAGE:
        return paxos_step_message(p, event->message);
    case CN_EVENT_PROPOSE:
        return paxos_propose(p, event->data, event->data_len, event->out_index, event->out_term);
    case CN_EVENT_READ:
        return paxos_read_request(p, event->request_id, 0);
    case CN_EVENT_CAMPAIGN:
        if (p->role != CN_ROLE_LEADER)
            paxos_campaign(p, true);
        return CN_OK;
    case CN_EVENT_TRANSFER:
        return paxos_transfer_start(p, event->target);
    case CN_EVENT_SNAPSHOT_TAKEN:
        paxos_snapshot_taken(p, event->index);
        return CN_OK;
    case CN_EVENT_UNREACHABLE:
        return CN_OK; /* accepts are resent by the leader's timer anyway */
    case CN_EVENT_MEMBERSHIP:
        if (event->membership == NULL)
            return CN_ERR_INVALID;
        return paxos_conf_change(p, event->membership, event->out_index, event->out_term);
    }
    return CN_ERR_INVALID;
}

/* Every event, then what a configuration learned or taking effect asks for (membership.c). */
static int paxos_step(void *core, const struct cn_event *event)
{
    struct paxos *p = core;
    int rv = step_event(p, event);
    paxos_conf_settle(p);
    return rv;
}

static bool leader_has_sends(const struct paxos *p)
{
    return p->role == CN_ROLE_LEADER &&
           (p->sent_through < paxos_leader_last(p) || p->reads.round_wanted ||
            p->commit > p->commit_sent);
}

static bool paxos_has_update(const void *core)
{
    const struct paxos *p = core;
    if (p->update_outstanding)
        return false;
    const struct cn_outbox *box = &p->outboxes.boxes[p->outboxes.pending];
    return box->message_count > 0 || box->after_count > 0 || box->read_count > 0 ||
           p->unsaved_count > 0 || p->promised != p->handed.term || p->commit > p->applied ||
           cn_staging_has_update(&p->staging) || leader_has_sends(p) ||
           p->role != p->reported_role || p->leader != p->reported_leader ||
           paxos_reported_term(p) != p->reported_term;
}

/* The slots to persist: every unsaved one, ascending. Never fewer: the accepteds and
 * promises in this update's after-persist outbox claim every slot accepted before it was
 * taken, and an install must rewrite every accepted value above the snapshot in the same
 * atomic step (the driver discards the whole persisted log then). The count is bounded by
 * the slots an acceptor holds (PAXOS_AHEAD_SLOTS_MAX above its chosen prefix). */
static void fill_entries(struct paxos *p, struct cn_update *u, uint32_t *offset)
{
    p->handed_low = UINT64_MAX;
    p->handed_high = 0;
    if (p->unsaved_count == 0)
        return;
    uint64_t count = p->unsaved_count;
    struct cn_entry *copy = cn_outbox_pool_reserve(paxos_outbox(p), (uint32_t)count, offset);
    uint32_t n = 0;
    uint64_t from = p->dirty_low > p->log.snapshot_index ? p->dirty_low : p->log.snapshot_index + 1;
    for (uint64_t slot = from; slot <= paxos_log_last(&p->log) && n < count; slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        if (!s->unsaved)
            continue;
        copy[n++] = paxos_slot_entry(s, slot);
        s->unsaved = false;
        s->handed = true;
        p->unsaved_count--;
        if (slot < p->handed_low)
            p->handed_low = slot;
        p->handed_high = slot;
    }
    assert(n == count);
    u->entry_count = n;
}

/* Chosen values up to the chosen prefix, in slot order, each once, and only those that are
 * durable or persisted by this very update (rules 2 and 4). */
static void fill_committed(struct paxos *p, struct cn_update *u, uint32_t *offset)
{
    uint64_t limit = p->applied;
    while (limit < p->commit && limit - p->applied < PAXOS_UPDATE_COMMITTED_MAX) {
        const struct paxos_slot *s = paxos_slot_get(p, limit + 1);
        assert(s != NULL && s->chosen && s->ballot != 0);
        if (s->unsaved)
            break;
        limit++;
    }
    if (limit == p->applied)
        return;
    uint32_t count = (uint32_t)(limit - p->applied);
    struct cn_entry *copy = cn_outbox_pool_reserve(paxos_outbox(p), count, offset);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t slot = p->applied + 1 + i;
        copy[i] = paxos_slot_entry(paxos_slot_get(p, slot), slot);
    }
    u->committed_count = count;
    p->applied = limit;
}

static void paxos_get_update(void *core, struct cn_update *u)
{
    struct paxos *p = core;
    assert(!p->update_outstanding);
    /* Deferred sends go out now, so that everything stepped since the last update shares one
     * accept message per follower (slot batching) and one lease round (read batching). */
    if (p->role == CN_ROLE_LEADER) {
        bool leased = false;
        if (p->reads.round_wanted) {
            p->reads.round++;
            paxos_broadcast_leases(p, p->reads.round);
            leased = true;
        }
        if (p->sent_through < paxos_leader_last(p))
            paxos_broadcast_accepts(p);
        if (p->commit > p->commit_sent && !leased)
            paxos_broadcast_leases(p, p->reads.round);
        p->commit_sent = p->commit;
    }
    p->reads.round_wanted = false;

    memset(u, 0, sizeof(*u));
    u->soft_state_changed = p->role != p->reported_role || p->leader != p->reported_leader ||
                            paxos_reported_term(p) != p->reported_term;
    u->role = p->reported_role = p->role;
    u->leader = p->reported_leader = p->leader;
    u->term = p->reported_term = paxos_reported_term(p);
    u->entries_per_slot = true;

    uint32_t entries_offset = 0, committed_offset = 0;
    cn_staging_fill(&p->staging, u, p->outboxes.pending);
    fill_entries(p, u, &entries_offset);
    fill_committed(p, u, &committed_offset);
    struct cn_hard_state hs = {.term = p->promised, .vote = 0, .commit = p->applied};
    u->hard_state_changed = hs.term != p->handed.term || hs.commit != p->handed.commit ||
                            hs.vote != p->handed.vote;
    u->hard_state = hs;
    p->handed = hs;

    struct cn_outbox *box = paxos_outbox(p);
    cn_outbox_fix_entries(box);
    if (u->entry_count > 0)
        u->entries = &box->pool[entries_offset];
    if (u->committed_count > 0)
        u->committed = &box->pool[committed_offset];
    u->messages = box->messages;
    u->message_count = box->message_count;
    u->messages_after_persist = box->after;
    u->message_after_persist_count = box->after_count;
    u->reads = box->reads;
    u->read_count = box->read_count;
    u->commit_index = p->commit;

    cn_garbage_hand(&p->garbage);
    cn_outboxes_swap(&p->outboxes);
    /* Confirmed reads held back by a full outbox are answered into the fresh one. */
    paxos_read_confirm(p);
    p->update_outstanding = true;
}

static void paxos_ack_update(void *core, const struct cn_update *u)
{
    struct paxos *p = core;
    assert(p->update_outstanding);
    p->update_outstanding = false;
    if (u->hard_state_changed)
        p->durable = u->hard_state;
    for (uint64_t slot = p->handed_low; slot <= p->handed_high; slot++) {
        struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s != NULL)
            s->handed = false; /* a slot compacted or reset meanwhile is gone */
    }
    p->handed_low = UINT64_MAX;
    p->handed_high = 0;
    paxos_recompute_dirty_low(p);
    cn_garbage_release(&p->garbage);
    /* What became durable may complete phase 1 or choose a value. */
    if (p->role == CN_ROLE_CANDIDATE)
        paxos_maybe_finish_phase1(p);
    else if (p->role == CN_ROLE_LEADER)
        paxos_maybe_choose(p);
    paxos_conf_settle(p);
}

static void paxos_status(const void *core, struct cn_status *s)
{
    const struct paxos *p = core;
    memset(s, 0, sizeof(*s));
    s->id = p->config.id;
    s->role = p->role;
    s->leader = p->leader;
    s->term = paxos_reported_term(p);
    s->vote = 0;
    s->commit_index = p->commit;
    s->applied_index = p->applied;
    uint64_t last = paxos_log_last(&p->log);
    s->persisted_index = p->dirty_low == UINT64_MAX ? last : p->dirty_low - 1;
    s->first_index = p->log.snapshot_index + 1;
    s->last_index = last;
    s->snapshot_index = p->log.snapshot_index;
    s->snapshot_term = p->log.snapshot_term;
    paxos_conf_status(p, s);
    s->transfer_target = p->transfer_target;
    s->log_bytes = p->log.bytes;
}

/* The ballot of the value accepted (or chosen) at `index`, or of the snapshot's last slot. */
static bool paxos_entry_term(const void *core, uint64_t index, uint64_t *term)
{
    const struct paxos *p = core;
    if (index == p->log.snapshot_index) {
        *term = p->log.snapshot_term;
        return true;
    }
    const struct paxos_slot *s = paxos_slot_peek(&p->log, index);
    if (s == NULL || s->ballot == 0)
        return false;
    *term = s->ballot;
    return true;
}

void paxos_snapshot_members(const void *core, struct cn_members *out)
{
    const struct paxos *p = core;
    *out = p->snapshot_members;
}

const struct cn_ops paxos_ops = {
    .name = "paxos",
    .create = paxos_create,
    .destroy = paxos_destroy,
    .step = paxos_step,
    .has_update = paxos_has_update,
    .get_update = paxos_get_update,
    .ack_update = paxos_ack_update,
    .status = paxos_status,
    .entry_term = paxos_entry_term,
    .snapshot_members = paxos_snapshot_members,
};
