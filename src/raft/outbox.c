/*
 * outbox.c — the messages, entries and reads of the update being built.
 *
 * Two outboxes alternate: one is filled by events while the other is held by the driver.
 * Messages carry copies of the log's entry structs in the outbox's pool; their data blocks
 * stay owned by the log and are kept alive by the garbage rule of raft.c. A full outbox drops
 * the message and counts it: Raft tolerates loss, and every message is retried by a timer.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

struct raft_outbox *raft_outbox(struct raft *r) { return &r->outboxes[r->pending_outbox]; }

static void message_init(struct raft *r, struct cn_message *m, uint8_t type, cn_node_id to)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->group = r->config.group;
    m->from = r->config.id;
    m->to = to;
    m->term = r->term;
}

/* A message that may leave at once (consensus.h, update rule 1). NULL when the outbox is
 * full: the caller's protocol timer resends. */
struct cn_message *raft_send(struct raft *r, uint8_t type, cn_node_id to)
{
    struct raft_outbox *box = raft_outbox(r);
    assert(to != r->config.id);
    if (box->message_count == RAFT_OUTBOX_MESSAGES_MAX) {
        box->dropped++;
        return NULL;
    }
    uint32_t slot = box->message_count++;
    box->message_offsets[slot] = UINT32_MAX;
    message_init(r, &box->messages[slot], type, to);
    return &box->messages[slot];
}

/* A message that may leave only once this update is durable (update rule 3). */
struct cn_message *raft_send_after_persist(struct raft *r, uint8_t type, cn_node_id to)
{
    struct raft_outbox *box = raft_outbox(r);
    assert(to != r->config.id);
    if (box->after_count == RAFT_OUTBOX_MESSAGES_MAX) {
        box->dropped++;
        return NULL;
    }
    struct cn_message *m = &box->after[box->after_count++];
    message_init(r, m, type, to);
    return m;
}

bool raft_outbox_has_room(struct raft *r, uint32_t count)
{
    return raft_outbox(r)->message_count + count <= RAFT_OUTBOX_MESSAGES_MAX;
}

struct cn_entry *raft_outbox_pool_reserve(struct raft_outbox *box, uint32_t count,
                                          uint32_t *offset)
{
    if (box->pool_count + count > box->pool_capacity) {
        uint32_t capacity = box->pool_capacity ? box->pool_capacity : 256;
        while (capacity < box->pool_count + count)
            capacity *= 2;
        box->pool = realloc(box->pool, capacity * sizeof(*box->pool));
        assert(box->pool != NULL);
        box->pool_capacity = capacity;
    }
    *offset = box->pool_count;
    box->pool_count += count;
    return &box->pool[*offset];
}

/* Gives message `m` (in the pending outbox's `messages`) the log entries from..from+count-1.
 * The pointer is fixed up when the update is handed out, since the pool may still move. */
void raft_message_attach_entries(struct raft *r, struct cn_message *m, uint64_t from,
                                 uint32_t count)
{
    struct raft_outbox *box = raft_outbox(r);
    assert(m >= box->messages && m < box->messages + RAFT_OUTBOX_MESSAGES_MAX);
    assert(count <= CN_MESSAGE_ENTRIES_MAX);
    uint32_t offset;
    struct cn_entry *copy = raft_outbox_pool_reserve(box, count, &offset);
    for (uint32_t i = 0; i < count; i++) {
        const struct cn_entry *e = raft_log_get(&r->log, from + i);
        assert(e != NULL);
        copy[i] = *e;
    }
    box->message_offsets[m - box->messages] = offset;
    m->entry_count = count;
}

/* A read that became safe (or failed): handed to the driver in update rule 5. Bounded by the
 * number of reads the core accepted (pending_reads_max). */
void raft_outbox_add_read(struct raft *r, uint64_t request_id, uint64_t index, bool failed)
{
    struct raft_outbox *box = raft_outbox(r);
    if (box->read_count == box->read_capacity) {
        box->read_capacity = box->read_capacity ? box->read_capacity * 2 : 64;
        assert(box->read_capacity <= 2 * RAFT_READS_MAX);
        box->reads = realloc(box->reads, box->read_capacity * sizeof(*box->reads));
        assert(box->reads != NULL);
    }
    box->reads[box->read_count++] = (struct cn_read){
        .request_id = request_id, .index = index, .failed = failed};
}

void raft_outbox_clear(struct raft_outbox *box)
{
    box->message_count = 0;
    box->after_count = 0;
    box->pool_count = 0;
    box->read_count = 0;
}

void raft_outbox_free(struct raft_outbox *box)
{
    free(box->pool);
    free(box->reads);
    memset(box, 0, sizeof(*box));
}
