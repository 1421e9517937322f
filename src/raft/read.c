/*
 * read.c — linearizable reads by ReadIndex (thesis §6.4).
 *
 * A read is answered at the commit index the leader had when the read arrived, once a quorum
 * confirmed in a heartbeat round that started after the read arrived that this node was still
 * the leader. Two rules make it safe:
 *  - the leader serves reads only after it committed an entry of its own term (its no-op),
 *    since before that its commit index may lag what earlier leaders committed (etcd #7331);
 *  - all reads that arrive before the next update share one heartbeat round (batching).
 * A follower forwards its reads to the leader and hands the answer to its driver, which waits
 * until its state machine applied the read index (thesis §6.4.1). The queue, the rounds and
 * the forwarding are shared with the Multi-Paxos core (consensus/reads.h); what is Raft's is
 * when the leader is ready and who confirms a round.
 */
#include "raft/raft_internal.h"


static struct cn_message *host_send(void *core, uint8_t type, cn_node_id to)
{
    return raft_send(core, type, to);
}

struct round_question {
    const struct raft *r;
    uint64_t round;
};

static bool round_acked(const void *context, cn_node_id id)
{
    const struct round_question *q = context;
    if (id == q->r->config.id)
        return true;
    const struct raft_progress *p = raft_progress_of((struct raft *)q->r, id);
    assert(p != NULL);
    return p->read_round_acked >= q->round;
}

/* Whether a quorum answered round `round` (the leader itself always has). */
static bool round_confirmed(void *core, uint64_t round)
{
    const struct round_question q = {.r = core, .round = round};
    return cn_membership_has_quorum(&q.r->conf, round_acked, &q);
}

struct cn_reads_host raft_reads_host(struct raft *r)
{
    return (struct cn_reads_host){
        .core = r,
        .leader = r->role == CN_ROLE_LEADER,
        .leader_id = r->leader,
        .commit = r->commit,
        .ready = r->role == CN_ROLE_LEADER && raft_committed_in_term(r),
        .alone = raft_alone(r),
        .outbox = raft_outbox(r),
        .send = host_send,
        .round_confirmed = round_confirmed,
    };
}

int raft_read_request(struct raft *r, uint64_t request_id, cn_node_id from)
{
    struct cn_reads_host host = raft_reads_host(r);
    return cn_reads_request(&r->reads, &host, request_id, from);
}

/* The leader's first commit in its term: waiting reads join the next round, at the commit
 * index as it is now (at least what it was when they arrived). */
void raft_read_release_waiting(struct raft *r)
{
    struct cn_reads_host host = raft_reads_host(r);
    cn_reads_release_waiting(&r->reads, &host);
}

void raft_read_confirm(struct raft *r)
{
    struct cn_reads_host host = raft_reads_host(r);
    cn_reads_confirm(&r->reads, &host);
}

void raft_read_fail_all(struct raft *r)
{
    struct cn_reads_host host = raft_reads_host(r);
    cn_reads_fail_all(&r->reads, &host);
}

void raft_handle_read_index(struct raft *r, const struct cn_message *m)
{
    raft_read_request(r, m->context, m->from);
}

void raft_handle_read_index_response(struct raft *r, const struct cn_message *m)
{
    struct cn_reads_host host = raft_reads_host(r);
    cn_reads_handle_response(&host, m);
}
