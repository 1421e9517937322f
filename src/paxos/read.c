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
 * driver, which waits until its state machine applied the read's index.
 */
#include "paxos/paxos_internal.h"

static struct paxos_read *read_at(struct paxos *p, uint32_t i)
{
    assert(i < p->read_count);
    return &p->reads[(p->read_head + i) % p->read_capacity];
}

static bool recovered_all(const struct paxos *p)
{
    return p->role == CN_ROLE_LEADER && p->commit >= p->recovered_through;
}

static void read_answer(struct paxos *p, const struct paxos_read *read, bool failed)
{
    if (read->from == 0) {
        paxos_outbox_add_read(p, read->request_id, read->index, failed);
        return;
    }
    struct cn_message *m = paxos_send(p, CN_MSG_READ_INDEX_RESPONSE, read->from);
    if (m == NULL)
        return; /* only when failing (leadership lost): the follower asks again */
    m->context = read->request_id;
    m->index = read->index;
    m->reject = failed;
}

static void read_reject_forwarded(struct paxos *p, cn_node_id from, uint64_t request_id)
{
    struct cn_message *m = paxos_send(p, CN_MSG_READ_INDEX_RESPONSE, from);
    if (m != NULL) {
        m->context = request_id;
        m->reject = true;
    }
}

int paxos_read_request(struct paxos *p, uint64_t request_id, cn_node_id from)
{
    if (p->role != CN_ROLE_LEADER) {
        if (from != 0) {
            read_reject_forwarded(p, from, request_id);
            return CN_OK;
        }
        if (p->leader == 0)
            return CN_ERR_NOT_LEADER;
        struct cn_message *m = paxos_send(p, CN_MSG_READ_INDEX, p->leader);
        if (m == NULL)
            return CN_ERR_BUSY;
        m->context = request_id;
        return CN_OK;
    }
    if (p->read_count == p->read_capacity) {
        if (from != 0)
            read_reject_forwarded(p, from, request_id);
        return CN_ERR_BUSY;
    }
    struct paxos_read *read = &p->reads[(p->read_head + p->read_count) % p->read_capacity];
    p->read_count++;
    read->request_id = request_id;
    read->from = from;
    read->index = p->commit;
    read->round = 0; /* waits until the recovered slots are chosen */
    if (recovered_all(p)) {
        read->round = p->read_round + 1;
        p->read_round_wanted = true;
    }
    paxos_read_confirm(p);
    return CN_OK;
}

/* The recovered slots are chosen now: waiting reads join the next round, at the chosen
 * prefix as it is now (at least what it was when they arrived). */
void paxos_read_release_waiting(struct paxos *p)
{
    if (!recovered_all(p))
        return;
    for (uint32_t i = 0; i < p->read_count; i++) {
        struct paxos_read *read = read_at(p, i);
        if (read->round != 0)
            continue;
        read->index = p->commit;
        read->round = p->read_round + 1;
        p->read_round_wanted = true;
    }
    paxos_read_confirm(p);
}

static bool round_confirmed(struct paxos *p, uint64_t round)
{
    uint32_t acks = 0;
    for (uint32_t i = 0; i < p->members.count; i++) {
        const struct paxos_peer *peer = &p->peers[i];
        if (peer->id == p->config.id || peer->read_round_acked >= round)
            acks++;
    }
    return acks >= paxos_quorum(p);
}

/* Answers the reads, oldest first, whose round a quorum has confirmed. */
void paxos_read_confirm(struct paxos *p)
{
    if (p->role != CN_ROLE_LEADER)
        return;
    while (p->read_count > 0) {
        struct paxos_read *read = read_at(p, 0);
        if (read->round == 0)
            break;
        if (paxos_quorum(p) > 1 &&
            (read->round > p->read_round || !round_confirmed(p, read->round)))
            break;
        /* A forwarded read's answer is never dropped: with the outbox full it waits at the
         * head, and the reads behind it too, until the next update empties the outbox
         * (paxos_get_update confirms again). */
        if (read->from != 0 && !paxos_outbox_has_room(p))
            break;
        read_answer(p, read, false);
        p->read_head = (p->read_head + 1) % p->read_capacity;
        p->read_count--;
    }
}

/* Leadership is lost: every waiting read fails, and its client retries elsewhere. */
void paxos_read_fail_all(struct paxos *p)
{
    while (p->read_count > 0) {
        read_answer(p, read_at(p, 0), true);
        p->read_head = (p->read_head + 1) % p->read_capacity;
        p->read_count--;
    }
}

void paxos_handle_read_index(struct paxos *p, const struct cn_message *m)
{
    paxos_read_request(p, m->context, m->from);
}

void paxos_handle_read_index_response(struct paxos *p, const struct cn_message *m)
{
    if (p->role == CN_ROLE_LEADER)
        return;
    paxos_outbox_add_read(p, m->context, m->index, m->reject);
}
