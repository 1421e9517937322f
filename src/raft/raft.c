/*
 * raft.c — creating a Raft core, feeding it events, and the update/ack cycle.
 *
 * The update cycle follows consensus.h. What this file adds is the bookkeeping that keeps the
 * core honest about durability while the driver persists one update and events keep arriving:
 *  - `persisted` moves only on ack, and only up to the first index truncated meanwhile;
 *  - the candidate's own vote and the leader's own log count only once persisted (etcd's
 *    async-storage rule; thesis §10.2.1);
 *  - data blocks released while an update is out are freed only after the ack that follows.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "raft/raft_internal.h"

/* In the configuration in force, in any role (voter, outgoing voter, learner). */
bool raft_is_member(const struct raft *r, cn_node_id id)
{
    return cn_membership_contains(&r->conf, id);
}

/* Whether this node may campaign: a voter of either half of the configuration; or a node
 * outside its latest configuration while that configuration's entry is not known committed
 * (thesis §4.2.2: "a server that is not part of its own latest configuration should still start
 * new elections, as it might still be needed until the C_new entry is committed"; it does not
 * count its own vote). Without that, a leader that removed itself and crashed holding the only
 * copy of C(new) leaves the joint voters waiting for its vote forever (chorus-sim --membership
 * seed 327). Learners never campaign (thesis §4.2.1). */
bool raft_promotable(const struct raft *r)
{
    cn_node_id self = r->config.id;
    if (cn_membership_is_voter(&r->conf, self))
        return true;
    return r->conf_index > r->commit && !cn_membership_empty(&r->conf) &&
           !cn_members_contains(&r->conf.learners, self);
}

static bool is_self(const void *context, cn_node_id id)
{
    const struct raft *r = context;
    return id == r->config.id;
}

/* Whether this node alone is a quorum of the configuration (a one-voter group). */
bool raft_alone(const struct raft *r)
{
    return cn_membership_has_quorum(&r->conf, is_self, r);
}

struct raft_progress *raft_progress_of(struct raft *r, cn_node_id id)
{
    for (uint32_t i = 0; i < r->progress_count; i++)
        if (r->progress[i].id == id)
            return &r->progress[i];
    return NULL;
}

bool raft_committed_in_term(const struct raft *r)
{
    uint64_t term;
    return raft_log_term(&r->log, r->commit, &term) && term == r->term;
}

static bool config_valid(const struct cn_config *c)
{
    return c->id != 0 && c->election_ticks >= 2 && c->heartbeat_ticks >= 1 &&
           c->heartbeat_ticks < c->election_ticks && c->inflight_messages_max >= 1 &&
           c->inflight_messages_max <= RAFT_INFLIGHT_MAX && c->message_entries_max >= 1 &&
           c->message_entries_max <= CN_MESSAGE_ENTRIES_MAX && c->message_bytes_max >= 1 &&
           c->pending_reads_max >= 1 && c->pending_reads_max <= RAFT_READS_MAX &&
           c->pending_proposals_max >= 1 && c->log_bytes_max >= CN_ENTRY_DATA_BYTES_MAX;
}

static void restore_log(struct raft *r, const struct cn_restore *restore)
{
    raft_log_init(&r->log, restore->snapshot.index, restore->snapshot.term);
    uint64_t expected = restore->snapshot.index + 1;
    for (uint64_t i = 0; i < restore->entry_count; i++) {
        const struct cn_entry *e = &restore->entries[i];
        assert(e->index == expected);
        raft_log_append(r, e->term, e->type, e->data, e->data_len);
        expected++;
    }
}

static int raft_create(const struct cn_config *config, const struct cn_restore *restore,
                       void **out)
{
    if (!config_valid(config))
        return CN_ERR_INVALID;
    /* The snapshot's configuration, else the one given; an empty one is a node created to
     * join a group, which learns its configuration from the leader's appends. */
    struct cn_membership conf;
    const struct cn_members *packed =
        restore->snapshot.members.count > 0 ? &restore->snapshot.members : &config->members;
    if (!cn_membership_unpack(packed, &conf))
        return CN_ERR_INVALID;
    struct raft *r = calloc(1, sizeof(*r));
    assert(r != NULL);
    r->config = *config;
    r->snapshot_conf = conf;
    cn_random_seed(&r->random, config);
    r->term = restore->hard_state.term;
    r->vote = restore->hard_state.vote;
    r->durable = restore->hard_state;
    r->handed = restore->hard_state;
    raft_conf_set(r, &conf, restore->snapshot.index);
    restore_log(r, restore);
    uint64_t last = raft_log_last(&r->log);
    /* The persisted commit is a hint: it never exceeds what the log holds. */
    r->commit = restore->hard_state.commit;
    if (r->commit > last)
        r->commit = last;
    if (r->commit < restore->snapshot.index)
        r->commit = restore->snapshot.index;
    r->applied = restore->snapshot.index;
    r->persisted = last;
    r->unstable = last + 1;
    r->handed_truncated_at = UINT64_MAX;
    cn_reads_init(&r->reads, config->pending_reads_max);
    cn_staging_init(&r->staging);
    cn_outboxes_init(&r->outboxes, false);
    raft_become_follower(r, r->term, 0);
    r->reported_role = CN_ROLE_FOLLOWER;
    r->reported_term = r->term;
    *out = r;
    return CN_OK;
}

static void raft_destroy(void *core)
{
    struct raft *r = core;
    if (r == NULL)
        return;
    raft_log_free(r);
    cn_garbage_destroy(&r->garbage);
    cn_outboxes_free(&r->outboxes);
    cn_reads_free(&r->reads);
    cn_staging_free(&r->staging);
    free(r->taken_pool);
    free(r);
}

static int raft_step(void *core, const struct cn_event *event)
{
    struct raft *r = core;
    switch (event->type) {
    case CN_EVENT_TICK:
        raft_tick(r);
        return CN_OK;
    case CN_EVENT_MESSAGE:
        return raft_step_message(r, event->message);
    case CN_EVENT_PROPOSE:
        return raft_propose(r, event->data, event->data_len, event->out_index, event->out_term);
    case CN_EVENT_READ:
        return raft_read_request(r, event->request_id, 0);
    case CN_EVENT_CAMPAIGN:
        if (r->role == CN_ROLE_LEADER)
            return CN_OK;
        raft_campaign(r, false);
        return CN_OK;
    case CN_EVENT_TRANSFER:
        return raft_transfer_start(r, event->target);
    case CN_EVENT_SNAPSHOT_TAKEN:
        raft_snapshot_taken(r, event->index);
        return CN_OK;
    case CN_EVENT_MEMBERSHIP:
        if (event->membership == NULL)
            return CN_ERR_INVALID;
        return raft_conf_change(r, event->membership, event->out_index, event->out_term);
    case CN_EVENT_UNREACHABLE: {
        struct raft_progress *p = raft_progress_of(r, event->target);
        if (r->role == CN_ROLE_LEADER && p != NULL && p->state == RAFT_PROGRESS_REPLICATE)
            raft_progress_become_probe(p);
        return CN_OK;
    }
    }
    return CN_ERR_INVALID;
}

static uint64_t apply_limit(const struct raft *r)
{
    /* Committed entries are applied only once persisted here; the update's own entries
     * count, since the driver persists them before it applies (update rules 2 and 4). */
    uint64_t limit = r->commit;
    uint64_t last = raft_log_last(&r->log);
    if (limit > last)
        limit = last;
    return limit;
}

static bool raft_has_update(const void *core)
{
    const struct raft *r = core;
    if (r->update_outstanding)
        return false;
    const struct cn_outbox *box = &r->outboxes.boxes[r->outboxes.pending];
    return box->message_count > 0 || box->after_count > 0 || box->read_count > 0 ||
           r->unstable <= raft_log_last(&r->log) || r->term != r->handed.term ||
           r->vote != r->handed.vote || r->commit != r->handed.commit ||
           apply_limit(r) > r->applied || cn_staging_has_update(&r->staging) ||
           r->broadcast_pending || r->reads.round_wanted || r->role != r->reported_role ||
           r->leader != r->reported_leader || r->term != r->reported_term;
}

/* Copies log entries lo..hi into the pool and returns the offset where they start. The pool
 * may move with every reservation: pointers into it are made only when the update is
 * complete (raft_get_update). */
static uint32_t pool_copy(struct raft *r, uint64_t lo, uint64_t hi)
{
    assert(lo <= hi);
    uint32_t offset;
    struct cn_entry *copy = cn_outbox_pool_reserve(raft_outbox(r), (uint32_t)(hi - lo + 1),
                                                     &offset);
    for (uint64_t i = lo; i <= hi; i++) {
        const struct cn_entry *e = raft_log_get(&r->log, i);
        assert(e != NULL);
        copy[i - lo] = *e;
    }
    return offset;
}

static void fill_persistence(struct raft *r, struct cn_update *u, uint32_t *entries_offset)
{
    struct cn_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->commit};
    /* Field by field: the struct has padding, which memcmp would compare too. */
    u->hard_state_changed = hs.term != r->handed.term || hs.vote != r->handed.vote ||
                            hs.commit != r->handed.commit;
    u->hard_state = hs;
    r->handed_hard_state = u->hard_state_changed;
    r->handed = hs;
    cn_staging_fill(&r->staging, u, r->outboxes.pending);
    uint64_t last = raft_log_last(&r->log);
    r->handed_last_index = 0;
    if (r->unstable <= last) {
        uint64_t hi = last;
        if (hi - r->unstable + 1 > RAFT_UPDATE_ENTRIES_MAX)
            hi = r->unstable + RAFT_UPDATE_ENTRIES_MAX - 1;
        *entries_offset = pool_copy(r, r->unstable, hi);
        u->entry_count = (uint32_t)(hi - r->unstable + 1);
        r->handed_last_index = hi;
        r->unstable = hi + 1;
    }
}

static void fill_committed(struct raft *r, struct cn_update *u, uint32_t *committed_offset)
{
    /* Only entries this update makes durable, or that already are, may be applied. */
    uint64_t durable_limit = r->handed_last_index > r->persisted ? r->handed_last_index
                                                                 : r->persisted;
    uint64_t limit = apply_limit(r);
    if (limit > durable_limit)
        limit = durable_limit;
    if (limit <= r->applied)
        return;
    if (limit - r->applied > RAFT_UPDATE_COMMITTED_MAX)
        limit = r->applied + RAFT_UPDATE_COMMITTED_MAX;
    *committed_offset = pool_copy(r, r->applied + 1, limit);
    u->committed_count = (uint32_t)(limit - r->applied);
    r->applied = limit;
}

/* Deferred sends go out now, so that everything stepped since the last update shares one
 * message per follower (batching) and one heartbeat round (ReadIndex batching). */
static void send_deferred(struct raft *r)
{
    if (r->role == CN_ROLE_LEADER) {
        if (r->reads.round_wanted) {
            r->reads.round_wanted = false;
            r->reads.round++;
            raft_broadcast_heartbeats(r, r->reads.round);
        }
        if (r->broadcast_pending)
            raft_broadcast_appends(r);
    }
    r->broadcast_pending = false;
    r->reads.round_wanted = false;
}

static void raft_get_update(void *core, struct cn_update *u)
{
    struct raft *r = core;
    assert(!r->update_outstanding);
    send_deferred(r);

    memset(u, 0, sizeof(*u));
    u->soft_state_changed = r->role != r->reported_role || r->leader != r->reported_leader ||
                            r->term != r->reported_term;
    u->role = r->reported_role = r->role;
    u->leader = r->reported_leader = r->leader;
    u->term = r->reported_term = r->term;
    r->handed_truncated_at = UINT64_MAX;
    uint32_t entries_offset = 0, committed_offset = 0;
    fill_persistence(r, u, &entries_offset);
    fill_committed(r, u, &committed_offset);

    struct cn_outbox *box = raft_outbox(r);
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
    u->commit_index = r->commit;

    /* Blocks released before this update may be referenced by it: free them after its ack. */
    cn_garbage_hand(&r->garbage);
    cn_outboxes_swap(&r->outboxes);
    /* Confirmed reads held back by a full outbox are answered into the fresh one. */
    raft_read_confirm(r);
    r->update_outstanding = true;
}

/* Sends what may leave before the outstanding update completes: the deferred appends and
 * read rounds, and whatever else rule 1 allows. The messages move out of the pending outbox,
 * with copies of their entry structs (the data blocks stay in the log, alive until at least
 * the next ack), so the next update does not send them again. */
static uint32_t raft_take_messages(void *core, const struct cn_message **out)
{
    struct raft *r = core;
    if (!r->update_outstanding)
        return 0; /* they leave with the next update */
    send_deferred(r);
    struct cn_outbox *box = raft_outbox(r);
    uint32_t count = box->message_count;
    if (count == 0)
        return 0;
    uint32_t entries = 0;
    for (uint32_t i = 0; i < count; i++)
        entries += box->messages[i].entry_count;
    if (entries > r->taken_pool_capacity) {
        free(r->taken_pool);
        r->taken_pool_capacity = entries * 2;
        r->taken_pool = malloc(r->taken_pool_capacity * sizeof(*r->taken_pool));
        assert(r->taken_pool != NULL);
    }
    uint32_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        struct cn_message *m = &r->taken[i];
        *m = box->messages[i];
        if (m->entry_count > 0) {
            memcpy(&r->taken_pool[at], &box->pool[box->message_offsets[i]],
                   m->entry_count * sizeof(*r->taken_pool));
            m->entries = &r->taken_pool[at];
            at += m->entry_count;
        }
    }
    /* Only messages used the pending pool while the update is out: it is free again. */
    box->message_count = 0;
    box->pool_count = 0;
    raft_read_confirm(r); /* answers held back by a full outbox fit now */
    *out = r->taken;
    return count;
}

static void raft_ack_update(void *core, const struct cn_update *u)
{
    struct raft *r = core;
    assert(r->update_outstanding);
    r->update_outstanding = false;
    if (u->hard_state_changed)
        r->durable = u->hard_state;
    if (r->staging.handed_install) {
        if (r->persisted < r->staging.handed_meta.index)
            r->persisted = r->staging.handed_meta.index;
    }
    if (r->handed_last_index > 0) {
        uint64_t durable = r->handed_last_index;
        if (r->handed_truncated_at <= durable)
            durable = r->handed_truncated_at - 1;
        if (durable > r->persisted)
            r->persisted = durable;
    }
    assert(r->persisted <= raft_log_last(&r->log));
    r->handed_last_index = 0;
    r->handed_truncated_at = UINT64_MAX;
    cn_garbage_release(&r->garbage);
    /* What became durable may decide an election or a commit. */
    if (r->role == CN_ROLE_CANDIDATE)
        raft_maybe_win_election(r);
    else if (r->role == CN_ROLE_LEADER && raft_maybe_commit(r))
        r->broadcast_pending = true;
}

static void raft_status(const void *core, struct cn_status *s)
{
    const struct raft *r = core;
    memset(s, 0, sizeof(*s));
    s->id = r->config.id;
    s->role = r->role;
    s->leader = r->leader;
    s->term = r->term;
    s->vote = r->vote;
    s->commit_index = r->commit;
    s->applied_index = r->applied;
    s->persisted_index = r->persisted;
    s->first_index = raft_log_first(&r->log);
    s->last_index = raft_log_last(&r->log);
    s->snapshot_index = r->log.snapshot_index;
    s->snapshot_term = r->log.snapshot_term;
    s->members = r->conf.voters;
    s->membership = r->conf;
    s->membership_index = r->conf_index;
    s->membership_pending = r->conf_index > r->commit || cn_membership_joint(&r->conf);
    s->membership_unreachable = r->role == CN_ROLE_LEADER && r->conf_unreachable;
    s->transfer_target = r->transfer_target;
    s->log_bytes = r->log.bytes;
}

static bool raft_entry_term(const void *core, uint64_t index, uint64_t *term)
{
    const struct raft *r = core;
    return raft_log_term(&r->log, index, term);
}

const struct cn_ops raft_ops = {
    .name = "raft",
    .create = raft_create,
    .destroy = raft_destroy,
    .step = raft_step,
    .has_update = raft_has_update,
    .get_update = raft_get_update,
    .ack_update = raft_ack_update,
    .status = raft_status,
    .take_messages = raft_take_messages,
    .entry_term = raft_entry_term,
};
