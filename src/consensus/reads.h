/*
 * reads.h — linearizable reads confirmed by a quorum round, and their forwarding; the
 * bookkeeping both cores share (Raft thesis §6.4, ReadIndex; the Multi-Paxos core's lease
 * rounds follow the same shape, src/paxos/read.c says why they are safe).
 *
 * A read is answered at the commit index the leader had when it arrived, once a quorum
 * confirmed, in a round that started after it arrived, that this node still leads. Reads wait
 * in arrival order (a ring of pending_reads_max); every read that arrives before the next update
 * joins one round (batching). Until the leader may serve reads at all (`ready`: Raft, its first
 * commit in its term, etcd #7331; Paxos, every slot its phase 1 recovered chosen), reads wait
 * with round 0 and then join the next round at the commit index of that moment.
 *
 * A follower forwards a read to the leader it knows (CN_MSG_READ_INDEX, context = request id)
 * and hands the answer to its driver, which waits until its state machine applied the index
 * (thesis §6.4.1). A forwarded read's answer is never dropped by a full outbox: it waits at the
 * head of the ring until the next update empties the outbox.
 *
 * The core describes itself in a struct cn_reads_host built at each call; the round counting
 * (over its configuration) stays the core's, through round_confirmed.
 */
#ifndef CHORUS_CONSENSUS_READS_H
#define CHORUS_CONSENSUS_READS_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "consensus/outbox.h"

struct cn_read_wait {
    uint64_t request_id;
    uint64_t index;  /* commit index when the read arrived (or when it stopped waiting) */
    uint64_t round;  /* round a quorum must confirm; 0: waits until the leader is ready */
    cn_node_id from; /* 0: local; else the follower that forwarded it */
};

struct cn_reads {
    struct cn_read_wait *ring;
    uint32_t head;
    uint32_t count;
    uint32_t capacity;
    uint64_t round;      /* last round whose heartbeats (leases) were sent */
    bool round_wanted;   /* reads wait for a round not yet sent */
};

struct cn_reads_host {
    void *core;
    bool leader;          /* this node leads now */
    cn_node_id leader_id; /* the leader this node knows, 0 when none */
    uint64_t commit;
    bool ready;           /* the leader may serve reads (see above) */
    bool alone;           /* this node is a quorum by itself: rounds need no answers */
    struct cn_outbox *outbox; /* the pending outbox */
    struct cn_message *(*send)(void *core, uint8_t type, cn_node_id to); /* rule 1 */
    bool (*round_confirmed)(void *core, uint64_t round);
};

void cn_reads_init(struct cn_reads *reads, uint32_t capacity);
void cn_reads_free(struct cn_reads *reads);
/* A read from this node's client (from 0) or forwarded by follower `from`. */
int cn_reads_request(struct cn_reads *reads, const struct cn_reads_host *host,
                     uint64_t request_id, cn_node_id from);
/* The leader became ready: waiting reads join the next round at the commit index now. */
void cn_reads_release_waiting(struct cn_reads *reads, const struct cn_reads_host *host);
/* Answers the reads, oldest first, whose round a quorum has confirmed. */
void cn_reads_confirm(struct cn_reads *reads, const struct cn_reads_host *host);
/* Leadership is lost: every waiting read fails, and its client retries elsewhere. */
void cn_reads_fail_all(struct cn_reads *reads, const struct cn_reads_host *host);
/* A follower's forwarded read was answered by the leader (ignored by a leader). */
void cn_reads_handle_response(const struct cn_reads_host *host, const struct cn_message *m);

#endif
