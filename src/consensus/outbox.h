/*
 * outbox.h — the double-buffered outbox an update is built in, shared by both cores.
 *
 * Two outboxes alternate: events fill the pending one while the driver holds the other (the
 * update it took, valid until cn_ack_update). An outbox holds the update's two message arrays
 * (consensus.h rules 1 and 3), a pool of copied entry structs (their data blocks stay owned by
 * the core's log, kept alive by garbage.h's rule), and the reads that became safe (rule 5).
 * A message records the pool offset of its entries until the update is handed out, since the
 * pool may move while it grows; cn_outbox_fix_entries then turns offsets into pointers.
 *
 * A full outbox drops the message and counts it: both protocols tolerate loss, and every
 * message is retried by a timer. How full is full is the core's choice, given at init:
 * each array up to CN_OUTBOX_MESSAGES_MAX (Raft), or both together (Multi-Paxos).
 */
#ifndef CHORUS_CONSENSUS_OUTBOX_H
#define CHORUS_CONSENSUS_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum {
    CN_OUTBOX_MESSAGES_MAX = CN_UPDATE_MESSAGES_MAX,
    CN_READS_MAX = 65536, /* hard cap on cn_config.pending_reads_max, in every core */
};

struct cn_outbox {
    struct cn_message messages[CN_OUTBOX_MESSAGES_MAX];
    uint32_t message_offsets[CN_OUTBOX_MESSAGES_MAX]; /* pool offset, UINT32_MAX: none */
    uint32_t message_count;
    struct cn_message after[CN_OUTBOX_MESSAGES_MAX];
    uint32_t after_offsets[CN_OUTBOX_MESSAGES_MAX];
    uint32_t after_count;
    struct cn_entry *pool;
    uint32_t pool_count;
    uint32_t pool_capacity;
    struct cn_read *reads;
    uint32_t read_count;
    uint32_t read_capacity;
    uint64_t dropped;      /* messages dropped because the outbox was full (timers resend) */
    bool bound_combined;   /* both arrays share CN_OUTBOX_MESSAGES_MAX (else each has it) */
};

/* The pair an update alternates between, and which of them events fill now. */
struct cn_outboxes {
    struct cn_outbox boxes[2];
    uint32_t pending;
};

void cn_outboxes_init(struct cn_outboxes *outboxes, bool bound_combined);
void cn_outboxes_free(struct cn_outboxes *outboxes);
static inline struct cn_outbox *cn_outbox_pending(struct cn_outboxes *outboxes)
{
    return &outboxes->boxes[outboxes->pending];
}
/* The update is handed out: the other outbox, emptied, takes the next events. */
void cn_outboxes_swap(struct cn_outboxes *outboxes);

/* A message slot, with `header` copied in (type, group, from, to, term), in the array that
 * may leave at once (after_persist false, rule 1) or only once the update is durable (rule 3).
 * NULL when the outbox is full: the caller's protocol timer resends. */
struct cn_message *cn_outbox_send(struct cn_outbox *box, bool after_persist,
                                  const struct cn_message *header);
/* Whether `count` more messages fit in the array of rule 1. */
bool cn_outbox_has_room(const struct cn_outbox *box, uint32_t count);
/* Room for `count` entry structs in the pool; *offset says where they start. */
struct cn_entry *cn_outbox_pool_reserve(struct cn_outbox *box, uint32_t count, uint32_t *offset);
/* Room for the `count` entries of message `m` (in either array of `box`), recorded with it. */
struct cn_entry *cn_outbox_attach(struct cn_outbox *box, struct cn_message *m, uint32_t count);
/* Points every message's entries into the pool, which no longer moves. */
void cn_outbox_fix_entries(struct cn_outbox *box);
/* A read that became safe (or failed), handed out in rule 5. Bounded by the reads the core
 * accepted (at most CN_READS_MAX). */
void cn_outbox_add_read(struct cn_outbox *box, uint64_t request_id, uint64_t index, bool failed);
void cn_outbox_clear(struct cn_outbox *box);

#endif
