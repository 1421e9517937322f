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
 * until its state machine applied the read index (thesis §6.4.1).
 */
#include "raft/raft_internal.h"

static struct raft_read *read_at(struct raft *r, uint32_t i)
{
    assert(i < r->read_count);
    return &r->reads[(r->read_head + i) % r->read_capacity];
}

static bool committed_in_term(const struct raft *r)
{
    uint64_t term;
    return raft_log_term(&r->log, r->commit, &term) && term == r->term;
}

static void read_answer(struct raft *r, const struct raft_read *read, bool failed)
{
    if (read->from == 0) {
        raft_outbox_add_read(r, read->request_id, read->index, failed);
        return;
    }
    struct cn_message *m = raft_send(r, CN_MSG_READ_INDEX_RESPONSE, read->from);
    if (m == NULL)
        return; /* only when failing (leadership lost): the follower asks again */
    m->context = read->request_id;
    m->index = read->index;
    m->reject = failed;
}

static void read_reject_forwarded(struct raft *r, cn_node_id from, uint64_t request_id)
{
    struct cn_message *m = raft_send(r, CN_MSG_READ_INDEX_RESPONSE, from);
    if (m != NULL) {
        m->context = request_id;
        m->reject = true;
    }
}

int raft_read_request(struct raft *r, uint64_t request_id, cn_node_id from)
{
    if (r->role != CN_ROLE_LEADER) {
        if (from != 0) {
            read_reject_forwarded(r, from, request_id);
            return CN_OK;
        }
        if (r->leader == 0)
            return CN_ERR_NOT_LEADER;
        struct cn_message *m = raft_send(r, CN_MSG_READ_INDEX, r->leader);
        if (m == NULL)
            return CN_ERR_BUSY;
        m->context = request_id;
        return CN_OK;
    }
    if (r->read_count == r->read_capacity) {
        if (from != 0)
            read_reject_forwarded(r, from, request_id);
        return CN_ERR_BUSY;
    }
    struct raft_read *read = &r->reads[(r->read_head + r->read_count) % r->read_capacity];
    r->read_count++;
    read->request_id = request_id;
    read->from = from;
    read->index = r->commit;
    read->round = 0; /* waits for the first commit of this term */
    if (committed_in_term(r)) {
        read->round = r->read_round + 1;
        r->read_round_wanted = true;
    }
    raft_read_confirm(r);
    return CN_OK;
}

/* The leader's first commit in its term: waiting reads join the next round, at the commit
 * index as it is now (at least what it was when they arrived). */
void raft_read_release_waiting(struct raft *r)
{
    if (r->role != CN_ROLE_LEADER || !committed_in_term(r))
        return;
    for (uint32_t i = 0; i < r->read_count; i++) {
        struct raft_read *read = read_at(r, i);
        if (read->round != 0)
            continue;
        read->index = r->commit;
        read->round = r->read_round + 1;
        r->read_round_wanted = true;
    }
    raft_read_confirm(r);
}

static bool round_confirmed(struct raft *r, uint64_t round)
{
    uint32_t acks = 0;
    for (uint32_t i = 0; i < r->members.count; i++) {
        const struct raft_progress *p = &r->progress[i];
        if (p->id == r->config.id || p->read_round_acked >= round)
            acks++;
    }
    return acks >= raft_quorum(r);
}

/* Answers the reads, oldest first, whose round a quorum has confirmed. */
void raft_read_confirm(struct raft *r)
{
    if (r->role != CN_ROLE_LEADER)
        return;
    while (r->read_count > 0) {
        struct raft_read *read = read_at(r, 0);
        if (read->round == 0)
            break;
        if (raft_quorum(r) > 1 && (read->round > r->read_round || !round_confirmed(r, read->round)))
            break;
        /* A forwarded read's answer is never dropped: with the outbox full it waits at the
         * head, and the reads behind it too, until the next update empties the outbox
         * (raft_get_update confirms again). */
        if (read->from != 0 && !raft_outbox_has_room(r, 1))
            break;
        read_answer(r, read, false);
        r->read_head = (r->read_head + 1) % r->read_capacity;
        r->read_count--;
    }
}

/* Leadership is lost: every waiting read fails, and its client retries elsewhere. */
void raft_read_fail_all(struct raft *r)
{
    while (r->read_count > 0) {
        read_answer(r, read_at(r, 0), true);
        r->read_head = (r->read_head + 1) % r->read_capacity;
        r->read_count--;
    }
}

void raft_handle_read_index(struct raft *r, const struct cn_message *m)
{
    raft_read_request(r, m->context, m->from);
}

void raft_handle_read_index_response(struct raft *r, const struct cn_message *m)
{
    if (r->role == CN_ROLE_LEADER)
        return;
    raft_outbox_add_read(r, m->context, m->index, m->reject);
}
