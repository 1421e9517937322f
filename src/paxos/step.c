/*
 * step.c — a message's way into the core: the ballot rules every role shares come first, once,
 * then the message goes to its handler.
 *
 * Ballot rules (Lamport §2.2, §3):
 *  - every ballot heard of raises max_seen, so that our next ballot goes above it;
 *  - a candidate or leader that sees a higher ballot from a proposer (prepare, accept, lease)
 *    or in a rejection (nack) stops competing: it becomes a follower (its promise moves only
 *    where an acceptor handler moves it);
 *  - what an acceptor answers to lower ballots is a nack carrying its promise (a handler's
 *    job), so that a stale proposer learns the higher ballot at once.
 */
#include "paxos/paxos_internal.h"

static bool is_nack(const struct cn_message *m)
{
    return m->reject && (m->type == CN_MSG_PROMISE || m->type == CN_MSG_ACCEPTED ||
                         m->type == CN_MSG_LEASE_RESPONSE);
}

/* Messages an acceptor or learner hears from any node (membership.c): a node being added
 * knows no configuration yet, and a proposer's configuration may be newer than ours. */
static bool heard_from_anyone(uint8_t type)
{
    return type == CN_MSG_PREPARE || type == CN_MSG_ACCEPT || type == CN_MSG_LEASE ||
           type == CN_MSG_CHOSEN || type == CN_MSG_SNAPSHOT;
}

static bool from_proposer(uint8_t type)
{
    return type == CN_MSG_PREPARE || type == CN_MSG_ACCEPT || type == CN_MSG_LEASE;
}

static void step_ballots(struct paxos *p, const struct cn_message *m)
{
    if (m->term > p->max_seen)
        p->max_seen = m->term;
    if (p->role == CN_ROLE_FOLLOWER || m->term <= p->ballot)
        return;
    if (is_nack(m)) {
        paxos_become_follower(p, 0);
        return;
    }
    /* A prepare that our lease makes us ignore still shows a competitor; the handler decides.
     * Accepts and leases of a higher ballot come from a leader past phase 1. */
    if (m->type == CN_MSG_ACCEPT || m->type == CN_MSG_LEASE)
        paxos_become_follower(p, m->from);
}

static void step_by_type(struct paxos *p, const struct cn_message *m)
{
    switch (m->type) {
    case CN_MSG_PREPARE:
        paxos_handle_prepare(p, m);
        break;
    case CN_MSG_PROMISE:
        paxos_handle_promise(p, m);
        break;
    case CN_MSG_ACCEPT:
        paxos_handle_accept(p, m);
        break;
    case CN_MSG_ACCEPTED:
        paxos_handle_accepted(p, m);
        break;
    case CN_MSG_LEASE:
        paxos_handle_lease(p, m);
        break;
    case CN_MSG_LEASE_RESPONSE:
        paxos_handle_lease_response(p, m);
        break;
    case CN_MSG_CATCHUP:
        paxos_handle_catchup(p, m);
        break;
    case CN_MSG_CHOSEN:
        paxos_handle_chosen(p, m);
        break;
    case CN_MSG_SNAPSHOT:
        paxos_handle_snapshot(p, m);
        break;
    case CN_MSG_SNAPSHOT_RESPONSE:
        paxos_handle_snapshot_response(p, m);
        break;
    case CN_MSG_TIMEOUT_NOW:
        /* The leader asked us to take over (as Raft's thesis §3.10): campaign at once, past
         * the other acceptors' leases. */
        if (p->role != CN_ROLE_LEADER && m->term >= p->promised)
            paxos_campaign(p, true);
        break;
    case CN_MSG_READ_INDEX:
        paxos_handle_read_index(p, m);
        break;
    case CN_MSG_READ_INDEX_RESPONSE:
        paxos_handle_read_index_response(p, m);
        break;
    default:
        break; /* not a Paxos message: dropped */
    }
}

int paxos_step_message(struct paxos *p, const struct cn_message *m)
{
    assert(m != NULL);
    if (m->to != p->config.id || m->group != p->config.group || m->from == p->config.id)
        return CN_OK;
    if (!heard_from_anyone(m->type) && paxos_member_position(p, m->from) < 0) {
        /* Answers count only from the nodes of our configurations; a catch-up request of an
         * outsider still shows what it knows (learn.c). */
        if (m->type == CN_MSG_CATCHUP)
            paxos_handle_catchup_from_outsider(p, m);
        return CN_OK;
    }
    if (m->entry_count > CN_MESSAGE_ENTRIES_MAX || (m->entry_count > 0 && m->entries == NULL))
        return CN_OK;
    if (from_proposer(m->type) && cn_ballot_node(m->term) != m->from)
        return CN_OK; /* a proposer speaks only in its own ballots */
    step_ballots(p, m);
    step_by_type(p, m);
    return CN_OK;
}
