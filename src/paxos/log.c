/*
 * log.c — the Paxos core's slot window: one accepted (ballot, value) per slot above the last
 * snapshot, with gaps (slots where nothing was accepted, ballot 0).
 *
 * Unlike Raft's log, slots are written independently and out of order (an acceptor accepts
 * whatever slots a leader sends; a learner learns chosen slots in any order), so every slot
 * carries its own persistence state: `unsaved` (changed, not yet handed to the driver) and
 * `handed` (in the outstanding update). A slot is durable when it is neither.
 *
 * Data blocks are owned by the log; a block replaced or compacted away may still be
 * referenced by the update being built or the one the driver holds, so it goes to the garbage
 * list and is freed only after the ack that ends those references (paxos.c).
 */
#include <stdlib.h>
#include <string.h>

#include "paxos/paxos_internal.h"

enum { PAXOS_LOG_CAPACITY_MIN = 64 };

void paxos_log_init(struct paxos_log *log, uint64_t snapshot_index, uint64_t snapshot_term)
{
    memset(log, 0, sizeof(*log));
    log->snapshot_index = snapshot_index;
    log->snapshot_term = snapshot_term;
}

void paxos_log_free(struct paxos_log *log)
{
    for (uint64_t i = 0; i < log->count; i++)
        free(log->ring[(log->head + i) & (log->capacity - 1)].data);
    free(log->ring);
    memset(log, 0, sizeof(*log));
}

uint64_t paxos_log_last(const struct paxos_log *log) { return log->snapshot_index + log->count; }

const struct paxos_slot *paxos_slot_peek(const struct paxos_log *log, uint64_t slot)
{
    if (slot <= log->snapshot_index || slot > paxos_log_last(log))
        return NULL;
    uint64_t offset = slot - log->snapshot_index - 1;
    return &log->ring[(log->head + offset) & (log->capacity - 1)];
}

/* The slot, if it lies in the window (it may be a gap); NULL otherwise. */
struct paxos_slot *paxos_slot_get(struct paxos *p, uint64_t slot)
{
    return (struct paxos_slot *)paxos_slot_peek(&p->log, slot);
}

static void log_grow(struct paxos_log *log, uint64_t need)
{
    uint64_t capacity = log->capacity ? log->capacity : PAXOS_LOG_CAPACITY_MIN;
    while (capacity < need)
        capacity *= 2;
    if (capacity == log->capacity)
        return;
    struct paxos_slot *ring = calloc(capacity, sizeof(*ring));
    assert(ring != NULL);
    for (uint64_t i = 0; i < log->count; i++)
        ring[i] = log->ring[(log->head + i) & (log->capacity - 1)];
    free(log->ring);
    log->ring = ring;
    log->capacity = capacity;
    log->head = 0;
}

/* Extends the window with gaps up to `slot`. The callers bound `slot` (PAXOS_AHEAD_SLOTS_MAX
 * above the chosen prefix, or the leader's window), which bounds the ring. */
struct paxos_slot *paxos_slot_ensure(struct paxos *p, uint64_t slot)
{
    struct paxos_log *log = &p->log;
    assert(slot > log->snapshot_index);
    assert(slot <= p->commit + PAXOS_AHEAD_SLOTS_MAX + PAXOS_RECOVERY_SLOTS_MAX);
    uint64_t need = slot - log->snapshot_index;
    if (need > log->count) {
        log_grow(log, need);
        while (log->count < need) {
            struct paxos_slot *s = &log->ring[(log->head + log->count) & (log->capacity - 1)];
            memset(s, 0, sizeof(*s));
            log->count++;
        }
    }
    return paxos_slot_get(p, slot);
}

bool paxos_slot_durable(const struct paxos_slot *s) { return !s->unsaved && !s->handed; }

void paxos_slot_mark_unsaved(struct paxos *p, uint64_t slot)
{
    struct paxos_slot *s = paxos_slot_get(p, slot);
    assert(s != NULL && s->ballot != 0);
    if (!s->unsaved) {
        s->unsaved = true;
        p->unsaved_count++;
    }
    if (slot < p->dirty_low)
        p->dirty_low = slot;
}

/* Stores (ballot, value) at `slot`, taking ownership of `data`. The old value's block goes to
 * the garbage list; the leader's acceptance bits restart (a new value or ballot). */
void paxos_slot_set_owned(struct paxos *p, uint64_t slot, uint64_t ballot, uint8_t type,
                          uint8_t *data, uint32_t data_len)
{
    assert(ballot != 0);
    assert(data_len <= CN_ENTRY_DATA_BYTES_MAX);
    struct paxos_slot *s = paxos_slot_ensure(p, slot);
    if (s->data != data) {
        cn_garbage_add(&p->garbage, s->data);
        p->log.bytes -= s->data_len;
        p->log.bytes += data_len;
    }
    s->ballot = ballot;
    s->type = type;
    s->data = data;
    s->data_len = data_len;
    s->accepted_by = 0;
    s->sent_tick = 0;
    paxos_slot_mark_unsaved(p, slot);
}

/* Stores (ballot, value) at `slot`, copying `data`. */
void paxos_slot_set(struct paxos *p, uint64_t slot, uint64_t ballot, uint8_t type,
                    const uint8_t *data, uint32_t data_len)
{
    uint8_t *copy = NULL;
    if (data_len > 0) {
        copy = malloc(data_len);
        assert(copy != NULL);
        memcpy(copy, data, data_len);
    }
    paxos_slot_set_owned(p, slot, ballot, type, copy, data_len);
}

static void slot_release(struct paxos *p, struct paxos_slot *s)
{
    if (s->unsaved)
        p->unsaved_count--;
    p->log.bytes -= s->data_len;
    cn_garbage_add(&p->garbage, s->data);
    memset(s, 0, sizeof(*s));
}

/* Drops the slots up to `index`, which a snapshot now covers (they are chosen and applied). */
void paxos_log_compact_to(struct paxos *p, uint64_t index)
{
    struct paxos_log *log = &p->log;
    uint64_t ballot = log->snapshot_term;
    while (log->snapshot_index < index) {
        struct paxos_slot *s = &log->ring[log->head];
        if (log->count > 0) {
            assert(s->chosen);
            ballot = s->ballot;
            slot_release(p, s);
            log->head = (log->head + 1) & (log->capacity - 1);
            log->count--;
        }
        log->snapshot_index++;
    }
    log->snapshot_term = ballot;
    paxos_recompute_dirty_low(p);
}

/* An installed snapshot covers everything up to snapshot_index: the slots at or below go;
 * the slots above stay (they are this acceptor's accepted values, which it promised to keep),
 * and since the driver discards the whole persisted log at an install (consensus.h), they
 * are marked unsaved, to be written again in the same update. */
void paxos_log_reset(struct paxos *p, uint64_t snapshot_index, uint64_t snapshot_term)
{
    struct paxos_log *log = &p->log;
    while (log->count > 0 && log->snapshot_index < snapshot_index) {
        slot_release(p, &log->ring[log->head]);
        log->head = (log->head + 1) & (log->capacity - 1);
        log->count--;
        log->snapshot_index++;
    }
    if (log->count == 0) {
        log->head = 0;
        log->snapshot_index = snapshot_index;
    }
    assert(log->snapshot_index == snapshot_index);
    log->snapshot_term = snapshot_term;
    for (uint64_t slot = snapshot_index + 1; slot <= paxos_log_last(log); slot++)
        if (paxos_slot_get(p, slot)->ballot != 0)
            paxos_slot_mark_unsaved(p, slot);
    paxos_recompute_dirty_low(p);
}

/* Moves dirty_low up past slots that became durable. Nothing below the old dirty_low became
 * dirty meanwhile (marking lowers it), so the scan starts there. */
void paxos_recompute_dirty_low(struct paxos *p)
{
    uint64_t from = p->dirty_low;
    if (from == UINT64_MAX)
        return;
    if (from <= p->log.snapshot_index)
        from = p->log.snapshot_index + 1;
    p->dirty_low = UINT64_MAX;
    for (uint64_t slot = from; slot <= paxos_log_last(&p->log); slot++) {
        const struct paxos_slot *s = paxos_slot_get(p, slot);
        if (s->unsaved || s->handed) {
            p->dirty_low = slot;
            return;
        }
    }
}
