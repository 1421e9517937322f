/*
 * step.c — a message's way into the core: the term rules every role shares come first, once
 * (Figure 2, "Rules for all servers"), then the message goes to its handler.
 *
 * The shape follows etcd's raft.Step, including its two fixes for pre-vote with check-quorum:
 * a lower-term pre-vote gets an explicit rejection (etcd #8334), and a lower-term append or
 * heartbeat gets a response that tells the stale leader our term (etcd #8243). Without them a
 * node that rejoins with a higher term can leave the cluster without a leader forever.
 */
#include "raft/raft_internal.h"

static bool is_vote_request(uint8_t type)
{
    return type == CN_MSG_VOTE || type == CN_MSG_PRE_VOTE;
}

/* Whether a message from a term higher than ours may move our term. Returns false when the
 * message must be dropped. */
static bool step_higher_term(struct raft *r, const struct cn_message *m)
{
    if (is_vote_request(m->type)) {
        /* Thesis §4.2.3: a server that heard from a leader within the minimum election
         * timeout neither grants a vote nor updates its term. A transfer overrides this. */
        bool force = m->context == RAFT_CONTEXT_TRANSFER;
        bool in_lease = r->config.check_quorum && r->leader != 0 &&
                        r->election_elapsed < r->config.election_ticks;
        if (!force && in_lease)
            return false;
    }
    if (m->type == CN_MSG_PRE_VOTE)
        return true; /* a pre-vote never changes our term */
    if (m->type == CN_MSG_PRE_VOTE_RESPONSE && !m->reject)
        return true; /* the future term we asked for; it is ours once we win */
    bool from_leader = m->type == CN_MSG_APPEND || m->type == CN_MSG_HEARTBEAT ||
                       m->type == CN_MSG_SNAPSHOT;
    raft_become_follower(r, m->term, from_leader ? m->from : 0);
    return true;
}

static void step_lower_term(struct raft *r, const struct cn_message *m)
{
    /* A leader that is no voter of our configuration leads one we have not learned yet (we
     * lag, and it does not know our term): our vote requests never reach it, so unless we
     * tell it our term (Figure 2: "reply false if term < currentTerm") neither of us ever
     * hears of the other, and it can never catch us up (chorus-sim --membership --groups 4
     * seed 4000514, check-quorum and pre-vote off). */
    bool unknown_leader = !cn_membership_is_voter(&r->conf, m->from);
    if ((r->config.check_quorum || r->config.pre_vote || unknown_leader) &&
        (m->type == CN_MSG_HEARTBEAT || m->type == CN_MSG_APPEND)) {
        /* etcd #8243: tell a stale leader our term, so that it steps down. */
        raft_send(r, CN_MSG_APPEND_RESPONSE, m->from);
    } else if (m->type == CN_MSG_PRE_VOTE) {
        /* etcd #8334: reject explicitly, so that a pre-candidate with a higher log but a
         * lower term learns our term instead of waiting forever. */
        struct cn_message *out = raft_send(r, CN_MSG_PRE_VOTE_RESPONSE, m->from);
        if (out != NULL)
            out->reject = true;
    }
}

static void step_by_type(struct raft *r, const struct cn_message *m)
{
    switch (m->type) {
    case CN_MSG_APPEND:
        raft_handle_append(r, m);
        break;
    case CN_MSG_APPEND_RESPONSE:
        raft_handle_append_response(r, m);
        break;
    case CN_MSG_VOTE:
    case CN_MSG_PRE_VOTE:
        raft_handle_vote_request(r, m);
        break;
    case CN_MSG_VOTE_RESPONSE:
    case CN_MSG_PRE_VOTE_RESPONSE:
        raft_handle_vote_response(r, m);
        break;
    case CN_MSG_HEARTBEAT:
        raft_handle_heartbeat(r, m);
        break;
    case CN_MSG_HEARTBEAT_RESPONSE:
        raft_handle_heartbeat_response(r, m);
        break;
    case CN_MSG_SNAPSHOT:
        raft_handle_snapshot(r, m);
        break;
    case CN_MSG_SNAPSHOT_RESPONSE:
        raft_handle_snapshot_response(r, m);
        break;
    case CN_MSG_TIMEOUT_NOW:
        /* Thesis §3.10: the leader chose us; campaign at once, skipping pre-vote. */
        if (r->role != CN_ROLE_LEADER && raft_promotable(r))
            raft_campaign(r, true);
        break;
    case CN_MSG_READ_INDEX:
        raft_handle_read_index(r, m);
        break;
    case CN_MSG_READ_INDEX_RESPONSE:
        raft_handle_read_index_response(r, m);
        break;
    default:
        break; /* not a Raft message: dropped */
    }
}

/* Whether a message from a node outside our configuration is heard. What a leader or a
 * candidate sends is: our configuration may lag theirs (we have not yet appended the entry
 * that added them, or we are a new node that has none yet), a configuration we do not know of
 * yet may need our vote, and terms alone keep those messages safe. A removed node, which may
 * never learn that it was removed, is kept from disrupting the cluster the way thesis §4.2.3
 * says: pre-vote, and votes disregarded within the leader's lease (step_higher_term), not by
 * its membership, which a lagging voter cannot judge. Answers are heard from members only:
 * only they have a progress to answer into. */
static bool from_anyone(const struct cn_message *m)
{
    switch (m->type) {
    case CN_MSG_APPEND:
    case CN_MSG_HEARTBEAT:
    case CN_MSG_SNAPSHOT:
    case CN_MSG_TIMEOUT_NOW: /* a leader leaving the configuration hands over (membership.c) */
    case CN_MSG_READ_INDEX_RESPONSE:
    case CN_MSG_VOTE:
    case CN_MSG_PRE_VOTE:
        return true;
    default:
        return false;
    }
}

int raft_step_message(struct raft *r, const struct cn_message *m)
{
    assert(m != NULL);
    if (m->to != r->config.id || m->group != r->config.group || m->from == r->config.id)
        return CN_OK;
    if (!raft_is_member(r, m->from) && !from_anyone(m))
        return CN_OK;
    if (m->term > r->term) {
        if (!step_higher_term(r, m))
            return CN_OK;
    } else if (m->term < r->term) {
        step_lower_term(r, m);
        return CN_OK;
    }
    struct raft_progress *p = raft_progress_of(r, m->from);
    if (r->role == CN_ROLE_LEADER && p != NULL)
        p->recent_active = true;
    step_by_type(r, m);
    return CN_OK;
}
