/*
 * read.c — linearizable reads without writing a slot (as Raft's ReadIndex, thesis §6.4).
 *
 * A read is answered at the chosen prefix the leader had when it arrived, once a quorum of
 * acceptors answered a lease round that started after it arrived without having promised a
 * higher ballot. Any ballot above ours that could have chosen a value needed promises from a
 * quorum, which meets ours in an acceptor that promised it only after answering us, that is,
 * after the read arrived. Two more rules:
 *  - a new leader serves reads only once it has chosen every slot its phase 1 recovered
 *    (recovered_through): before that, its chosen prefix may lack values earlier leaders
 *    chose (the Paxos form of etcd #7331);
 *  - all reads that arrive before the next update share one lease round (batching).
 * A follower forwards its reads to the leader (CN_MSG_READ_INDEX) and hands the answer to its
 * driver, which waits until its state machine applied the read's index. The queue, the rounds
 * and the forwarding are shared with the Raft core (consensus/reads.h).
 */
#include "paxos/paxos_internal.h"

static bool recovered_all(const struct paxos *p)
{
    return p->role == CN_ROLE_LEADER && p->commit >= p->recovered_through;
}

static struct cn_message *host_send(void *core, uint8_t type, cn_node_id to)
{
    return paxos_send(core, type, to);
}

struct round_question {
    const struct paxos *p;
    uint64_t round;
};

static bool round_acked(const void *context, cn_node_id id)
{
    const struct round_question *q = context;
    if (id == q->p->config.id)
        return true;
    const struct paxos_peer *peer = paxos_peer_of((struct paxos *)q->p, id);
    return peer != NULL && peer->read_round_acked >= q->round;
}

/* Whether a quorum answered lease round `round` (the leader itself always has). */
static bool round_confirmed(void *core, uint64_t round)
{
    const struct round_question q = {.p = core, .round = round};
    return paxos_window_quorum(q.p, round_acked, &q);
}

static bool is_self(const void *context, cn_node_id id)
{
    return id == ((const struct paxos *)context)->config.id;
}

struct cn_reads_host paxos_reads_host(struct paxos *p)
{
    return (struct cn_reads_host){
        .core = p,
        .leader = p->role == CN_ROLE_LEADER,
        .leader_id = p->leader,
        .commit = p->commit,
        .ready = recovered_all(p),
        .alone = paxos_window_quorum(p, is_self, p),
        .outbox = paxos_outbox(p),
        .send = host_send,
        .round_confirmed = round_confirmed,
    };
}

int paxos_read_request(struct paxos *p, uint64_t request_id, cn_node_id from)
{
    struct cn_reads_host host = paxos_reads_host(p);
    return cn_reads_request(&p->reads, &host, request_id, from);
}

/* The recovered slots are chosen now: waiting reads join the next round, at the chosen
 * prefix as it is now (at least what it was when they arrived). */
void paxos_read_release_waiting(struct paxos *p)
{
    struct cn_reads_host host = paxos_reads_host(p);
    cn_reads_release_waiting(&p->reads, &host);
}

void paxos_read_confirm(struct paxos *p)
{
    struct cn_reads_host host = paxos_reads_host(p);
    cn_reads_confirm(&p->reads, &host);
}

void paxos_read_fail_all(struct paxos *p)
{
    struct cn_reads_host host = paxos_reads_host(p);
    cn_reads_fail_all(&p->reads, &host);
}

void paxos_handle_read_index(struct paxos *p, const struct cn_message *m)
{
    paxos_read_request(p, m->context, m->from);
}

void paxos_handle_read_index_response(struct paxos *p, const struct cn_message *m)
{
    struct cn_reads_host host = paxos_reads_host(p);
    cn_reads_handle_response(&host, m);
}
