/*
 * outbox.c — the double-buffered outbox (outbox.h gives the rules).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/outbox.h"

void cn_outboxes_init(struct cn_outboxes *outboxes, bool bound_combined)
{
    memset(outboxes, 0, sizeof(*outboxes));
    outboxes->boxes[0].bound_combined = bound_combined;
    outboxes->boxes[1].bound_combined = bound_combined;
}

static void outbox_free(struct cn_outbox *box)
{
    free(box->pool);
    free(box->reads);
    bool bound_combined = box->bound_combined;
    memset(box, 0, sizeof(*box));
    box->bound_combined = bound_combined;
}

void cn_outboxes_free(struct cn_outboxes *outboxes)
{
    outbox_free(&outboxes->boxes[0]);
    outbox_free(&outboxes->boxes[1]);
}

void cn_outboxes_swap(struct cn_outboxes *outboxes)
{
    outboxes->pending ^= 1;
    cn_outbox_clear(cn_outbox_pending(outboxes));
}

static bool array_full(const struct cn_outbox *box, bool after_persist)
{
    if (box->bound_combined)
        return box->message_count + box->after_count >= CN_OUTBOX_MESSAGES_MAX;
    return (after_persist ? box->after_count : box->message_count) == CN_OUTBOX_MESSAGES_MAX;
}

struct cn_message *cn_outbox_send(struct cn_outbox *box, bool after_persist,
                                  const struct cn_message *header)
{
    if (array_full(box, after_persist)) {
        box->dropped++;
        return NULL;
    }
    struct cn_message *m;
    if (after_persist) {
        uint32_t i = box->after_count++;
        box->after_offsets[i] = UINT32_MAX;
        m = &box->after[i];
    } else {
        uint32_t i = box->message_count++;
        box->message_offsets[i] = UINT32_MAX;
        m = &box->messages[i];
    }
    memset(m, 0, sizeof(*m));
    m->type = header->type;
    m->group = header->group;
    m->from = header->from;
    m->to = header->to;
    m->term = header->term;
    return m;
}

bool cn_outbox_has_room(const struct cn_outbox *box, uint32_t count)
{
    uint32_t used = box->message_count + (box->bound_combined ? box->after_count : 0);
    return used + count <= CN_OUTBOX_MESSAGES_MAX;
}

struct cn_entry *cn_outbox_pool_reserve(struct cn_outbox *box, uint32_t count, uint32_t *offset)
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

struct cn_entry *cn_outbox_attach(struct cn_outbox *box, struct cn_message *m, uint32_t count)
{
    assert(count <= CN_MESSAGE_ENTRIES_MAX);
    uint32_t offset;
    struct cn_entry *copy = cn_outbox_pool_reserve(box, count, &offset);
    if (m >= box->messages && m < box->messages + CN_OUTBOX_MESSAGES_MAX) {
        box->message_offsets[m - box->messages] = offset;
    } else {
        assert(m >= box->after && m < box->after + CN_OUTBOX_MESSAGES_MAX);
        box->after_offsets[m - box->after] = offset;
    }
    m->entry_count = count;
    return copy;
}

void cn_outbox_fix_entries(struct cn_outbox *box)
{
    for (uint32_t i = 0; i < box->message_count; i++) {
        if (box->messages[i].entry_count > 0) {
            assert(box->message_offsets[i] != UINT32_MAX);
            box->messages[i].entries = &box->pool[box->message_offsets[i]];
        }
    }
    for (uint32_t i = 0; i < box->after_count; i++) {
        if (box->after[i].entry_count > 0) {
            assert(box->after_offsets[i] != UINT32_MAX);
            box->after[i].entries = &box->pool[box->after_offsets[i]];
        }
    }
}

void cn_outbox_add_read(struct cn_outbox *box, uint64_t request_id, uint64_t index, bool failed)
{
    if (box->read_count == box->read_capacity) {
        box->read_capacity = box->read_capacity ? box->read_capacity * 2 : 64;
        assert(box->read_capacity <= 2 * CN_READS_MAX);
        box->reads = realloc(box->reads, box->read_capacity * sizeof(*box->reads));
        assert(box->reads != NULL);
    }
    box->reads[box->read_count++] =
        (struct cn_read){.request_id = request_id, .index = index, .failed = failed};
}

void cn_outbox_clear(struct cn_outbox *box)
{
    box->message_count = 0;
    box->after_count = 0;
    box->pool_count = 0;
    box->read_count = 0;
}
