/*
 * election.c — ticks, roles, pre-vote, votes and leadership transfer.
 *
 * Rules and where they come from:
 *  - randomized election timeouts in [e, 2e) ticks (§5.2);
 *  - pre-vote: a node first asks whether it could win, without raising its term (thesis §9.6);
 *  - check-quorum: a leader that has not heard from a quorum for an election timeout steps
 *    down (thesis §6.2), which also makes the lease in step.c sound;
 *  - a vote is granted once per term to a candidate whose log is at least as up-to-date
 *    (§5.2, §5.4.1), and leaves only after the vote is persisted (Figure 2) — it is an
 *    after-persist message; a candidate counts its own vote only once persisted too;
 *  - TimeoutNow makes the transfer target campaign at once (thesis §3.10).
 */
#include <string.h>

#include "raft/raft_internal.h"

void raft_reset_election_timer(struct raft *r)
{
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    uint32_t e = r->config.election_ticks;
    r->randomized_election_ticks = e + (uint32_t)(cn_random_next(&r->random) % e);
}

static void reset_votes(struct raft *r)
{
    for (uint32_t i = 0; i < r->progress_count; i++) {
        r->progress[i].vote_granted = false;
        r->progress[i].vote_answered = false;
    }
}

static void leave_leadership(struct raft *r)
{
    if (r->role == CN_ROLE_LEADER)
        raft_read_fail_all(r);
    r->transfer_target = 0;
    r->broadcast_pending = false;
    r->reads.round_wanted = false;
}

void raft_become_follower(struct raft *r, uint64_t term, cn_node_id leader)
{
    assert(term >= r->term);
    /* The new term first: what leaving leadership sends (failed forwarded reads) must carry
     * it, or a follower already in that term drops it. */
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
    }
    leave_leadership(r);
    r->role = CN_ROLE_FOLLOWER;
    r->leader = leader;
    raft_reset_election_timer(r);
}

void raft_become_pre_candidate(struct raft *r)
{
    assert(r->role != CN_ROLE_LEADER);
    /* Pre-vote changes neither the term nor the vote (thesis §9.6). */
    r->role = CN_ROLE_PRE_CANDIDATE;
    r->leader = 0;
    reset_votes(r);
    raft_reset_election_timer(r);
}

void raft_become_candidate(struct raft *r)
{
    assert(r->role != CN_ROLE_LEADER);
    r->term++;
    r->vote = r->config.id;
    r->role = CN_ROLE_CANDIDATE;
    r->leader = 0;
    reset_votes(r);
    raft_reset_election_timer(r);
}

void raft_become_leader(struct raft *r)
{
    assert(r->role == CN_ROLE_CANDIDATE);
    r->role = CN_ROLE_LEADER;
    r->leader = r->config.id;
    r->transfer_target = 0;
    r->transfer_elapsed = 0;
    raft_reset_election_timer(r);
    raft_progress_reset_all(r);
    /* §5.4.2 / §8: a no-op of the new term lets the leader commit everything before it, and
     * lets ReadIndex start (thesis §6.4). */
    raft_log_append(r, r->term, CN_ENTRY_NOOP, NULL, 0);
    r->broadcast_pending = true;
}

static void send_vote_requests(struct raft *r, bool pre, bool transfer)
{
    uint8_t type = pre ? CN_MSG_PRE_VOTE : CN_MSG_VOTE;
    for (uint32_t i = 0; i < r->progress_count; i++) {
        cn_node_id id = r->progress[i].id;
        /* Only voters of either half are asked; learners never vote (thesis §4.2.1). */
        if (id == r->config.id || !cn_membership_is_voter(&r->conf, id))
            continue;
        /* A vote request leaves only once the candidate's new term and self-vote are durable
         * (as etcd's server orders it): a candidate may win on its peers' votes alone, and a
         * leader whose term is not on its disk could, after a crash, win the same term again
         * and append a different log in it (found by chorus-sim seed 691). A pre-vote changes
         * nothing on disk and leaves at once. */
        struct cn_message *m = pre ? raft_send(r, type, id) : raft_send_after_persist(r, type, id);
        if (m == NULL)
            continue;
        m->term = pre ? r->term + 1 : r->term;
        m->index = raft_log_last(&r->log);
        m->log_term = raft_log_last_term(&r->log);
        m->context = transfer ? RAFT_CONTEXT_TRANSFER : 0;
    }
}

/* The real election: a new term, our vote, and vote requests. Our own vote counts once
 * persisted: raft_maybe_win_election runs again on ack. */
static void start_election(struct raft *r, bool transfer)
{
    raft_become_candidate(r);
    send_vote_requests(r, false, transfer);
}

/* Starts an election. With pre-vote, the first round only asks (thesis §9.6); a transfer
 * skips it, since the leader itself asked us to take over. */
void raft_campaign(struct raft *r, bool transfer)
{
    if (!raft_promotable(r))
        return;
    if (r->config.pre_vote && !transfer) {
        raft_become_pre_candidate(r);
        /* Our own vote counts only where we are a voter (thesis §4.2.2). */
        struct raft_progress *self = raft_progress_of(r, r->config.id);
        if (self != NULL) {
            self->vote_granted = true;
            self->vote_answered = true;
        }
        send_vote_requests(r, true, false);
        raft_maybe_win_election(r);
        return;
    }
    start_election(r, transfer);
}

static enum cn_vote vote_of(const void *context, cn_node_id id)
{
    const struct raft_progress *p = raft_progress_of((struct raft *)context, id);
    assert(p != NULL);
    if (!p->vote_answered)
        return CN_VOTE_PENDING;
    return p->vote_granted ? CN_VOTE_GRANTED : CN_VOTE_REJECTED;
}

/* Counts the votes of the current round and moves on when it is decided. A candidate's own
 * vote counts only once the update carrying it is durable (r->durable). */
void raft_maybe_win_election(struct raft *r)
{
    if (r->role != CN_ROLE_CANDIDATE && r->role != CN_ROLE_PRE_CANDIDATE)
        return;
    if (r->role == CN_ROLE_CANDIDATE) {
        struct raft_progress *self = raft_progress_of(r, r->config.id);
        bool durable = r->durable.term == r->term && r->durable.vote == r->config.id;
        if (self != NULL) {
            self->vote_granted = durable;
            self->vote_answered = durable;
        }
    }
    /* A majority of each half of a joint configuration (§6). */
    enum cn_tally tally = cn_membership_tally(&r->conf, vote_of, r);
    if (tally == CN_TALLY_WON) {
        if (r->role == CN_ROLE_PRE_CANDIDATE)
            start_election(r, false);
        else
            raft_become_leader(r);
    } else if (tally == CN_TALLY_LOST) {
        raft_become_follower(r, r->term, 0);
    }
}

/* Figure 2, RequestVote receiver; thesis §9.6 for pre-votes. Term rules ran in step.c, so
 * m->term >= r->term here. */
void raft_handle_vote_request(struct raft *r, const struct cn_message *m)
{
    bool pre = m->type == CN_MSG_PRE_VOTE;
    bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
                    (pre && m->term > r->term);
    bool up_to_date = raft_log_up_to_date(&r->log, m->index, m->log_term);
    bool grant = can_vote && up_to_date;
    uint8_t type = pre ? CN_MSG_PRE_VOTE_RESPONSE : CN_MSG_VOTE_RESPONSE;
    if (grant && !pre) {
        r->vote = m->from;
        r->election_elapsed = 0;
        /* The grant promises the persisted vote: it leaves after the persist (Figure 2). */
        struct cn_message *out = raft_send_after_persist(r, type, m->from);
        if (out != NULL)
            out->reject = false;
        return;
    }
    struct cn_message *out = raft_send(r, type, m->from);
    if (out == NULL)
        return;
    out->reject = !grant;
    /* A granted pre-vote answers in the asked-for term, so that it is counted; a rejection
     * carries our own term, so that a pre-candidate behind us learns it. */
    out->term = grant ? m->term : r->term;
}

void raft_handle_vote_response(struct raft *r, const struct cn_message *m)
{
    bool pre = m->type == CN_MSG_PRE_VOTE_RESPONSE;
    if (pre && r->role != CN_ROLE_PRE_CANDIDATE)
        return;
    if (!pre && r->role != CN_ROLE_CANDIDATE)
        return;
    if (pre && !m->reject && m->term != r->term + 1)
        return;
    struct raft_progress *p = raft_progress_of(r, m->from);
    assert(p != NULL);
    if (p->vote_answered)
        return;
    p->vote_answered = true;
    p->vote_granted = !m->reject;
    raft_maybe_win_election(r);
}

static bool recently_active(const void *context, cn_node_id id)
{
    struct raft *r = (struct raft *)context;
    const struct raft_progress *p = raft_progress_of(r, id);
    return id == r->config.id || (p != NULL && p->recent_active);
}

static void tick_leader(struct raft *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->config.election_ticks) {
        r->election_elapsed = 0;
        raft_conf_tick(r);
        bool active = cn_membership_has_quorum(&r->conf, recently_active, r);
        for (uint32_t i = 0; i < r->progress_count; i++)
            r->progress[i].recent_active = false;
        /* Thesis §6.2: without a quorum heard from in an election timeout, step down. */
        if (r->config.check_quorum && !active) {
            raft_become_follower(r, r->term, 0);
            return;
        }
    }
    if (r->transfer_target != 0 && ++r->transfer_elapsed >= r->config.election_ticks)
        r->transfer_target = 0; /* the transfer took too long: abort (thesis §3.10) */
    for (uint32_t i = 0; i < r->progress_count; i++) {
        struct raft_progress *p = &r->progress[i];
        if (p->id != r->config.id && p->state == RAFT_PROGRESS_SNAPSHOT)
            raft_snapshot_tick(r, p);
    }
    if (r->heartbeat_elapsed >= r->config.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        raft_broadcast_heartbeats(r, r->reads.round);
    }
}

void raft_tick(struct raft *r)
{
    if (r->role == CN_ROLE_LEADER) {
        tick_leader(r);
        return;
    }
    if (r->election_elapsed < UINT32_MAX)
        r->election_elapsed++;
    /* A learner or a removed node never campaigns, and its timer keeps running: once past
     * the election timeout it is out of the leader's lease (step.c), so that it grants the
     * votes a configuration it does not know of yet may need from it (as etcd's
     * tickElection, which runs only for promotable nodes). */
    if (r->election_elapsed >= r->randomized_election_ticks && raft_promotable(r)) {
        r->election_elapsed = 0;
        raft_campaign(r, false);
    }
}

/* Thesis §3.10: stop taking proposals, bring the target up to date, then tell it to campaign. */
int raft_transfer_start(struct raft *r, cn_node_id target)
{
    if (r->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (target == r->config.id || !cn_members_contains(&r->conf.voters, target))
        return CN_ERR_INVALID;
    r->transfer_target = target;
    r->transfer_elapsed = 0;
    r->transfer_notified = false;
    struct raft_progress *p = raft_progress_of(r, target);
    raft_maybe_send_timeout_now(r, p);
    if (!r->transfer_notified)
        raft_send_append(r, p);
    return CN_OK;
}

void raft_maybe_send_timeout_now(struct raft *r, struct raft_progress *p)
{
    if (r->transfer_target != p->id || r->transfer_notified ||
        p->match != raft_log_last(&r->log))
        return;
    if (raft_send(r, CN_MSG_TIMEOUT_NOW, p->id) != NULL)
        r->transfer_notified = true;
}
