/*
 * log.c — the Raft core's in-memory log: a ring of entries above the last snapshot.
 *
 * Entry data blocks are owned by the log. A block that leaves the log (truncation, compaction)
 * may still be referenced by the update being built or the one the driver holds, so it goes
 * to the garbage list and is freed only after the ack that ends those references
 * (consensus/garbage.h).
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

enum { RAFT_LOG_CAPACITY_MIN = 64 };

void raft_log_init(struct raft_log *log, uint64_t snapshot_index, uint64_t snapshot_term)
{
    memset(log, 0, sizeof(*log));
    log->snapshot_index = snapshot_index;
    log->snapshot_term = snapshot_term;
}

static struct cn_entry *log_slot(const struct raft_log *log, uint64_t index)
{
    assert(index > log->snapshot_index);
    assert(index <= log->snapshot_index + log->count);
    uint64_t offset = index - log->snapshot_index - 1;
    return &log->ring[(log->head + offset) & (log->capacity - 1)];
}

void raft_log_free(struct raft *r)
{
    struct raft_log *log = &r->log;
    for (uint64_t i = 0; i < log->count; i++)
        free((void *)log->ring[(log->head + i) & (log->capacity - 1)].data);
    free(log->ring);
    memset(log, 0, sizeof(*log));
}

uint64_t raft_log_first(const struct raft_log *log) { return log->snapshot_index + 1; }

uint64_t raft_log_last(const struct raft_log *log) { return log->snapshot_index + log->count; }

uint64_t raft_log_last_term(const struct raft_log *log)
{
    if (log->count == 0)
        return log->snapshot_term;
    return log_slot(log, raft_log_last(log))->term;
}

/* The term of the entry at `index`, if the log still knows it: entries in memory, and the
 * snapshot's last entry. Index 0 has term 0 (the empty prefix every log shares). */
bool raft_log_term(const struct raft_log *log, uint64_t index, uint64_t *term)
{
    if (index == log->snapshot_index) {
        *term = log->snapshot_term;
        return true;
    }
    if (index < log->snapshot_index || index > raft_log_last(log))
        return false;
    *term = log_slot(log, index)->term;
    return true;
}

const struct cn_entry *raft_log_get(const struct raft_log *log, uint64_t index)
{
    if (index <= log->snapshot_index || index > raft_log_last(log))
        return NULL;
    return log_slot(log, index);
}

static void log_grow(struct raft_log *log)
{
    uint64_t capacity = log->capacity ? log->capacity * 2 : RAFT_LOG_CAPACITY_MIN;
    struct cn_entry *ring = calloc(capacity, sizeof(*ring));
    assert(ring != NULL);
    for (uint64_t i = 0; i < log->count; i++)
        ring[i] = log->ring[(log->head + i) & (log->capacity - 1)];
    free(log->ring);
    log->ring = ring;
    log->capacity = capacity;
    log->head = 0;
}

/* Appends one entry at last_index + 1, copying its data. The caller has checked the bounds. */
int raft_log_append(struct raft *r, uint64_t term, uint8_t type, const uint8_t *data,
                    uint32_t data_len)
{
    struct raft_log *log = &r->log;
    assert(data_len <= CN_ENTRY_DATA_BYTES_MAX);
    assert(term >= raft_log_last_term(log));
    if (log->count == log->capacity)
        log_grow(log);
    uint8_t *copy = NULL;
    if (data_len > 0) {
        copy = malloc(data_len);
        assert(copy != NULL);
        memcpy(copy, data, data_len);
    }
    struct cn_entry *e = &log->ring[(log->head + log->count) & (log->capacity - 1)];
    log->count++;
    e->index = raft_log_last(log);
    e->term = term;
    e->type = type;
    e->data_len = data_len;
    e->data = copy;
    log->bytes += data_len;
    raft_conf_entry_appended(r, e);
    return CN_OK;
}

/* Removes entries from `index` on (Raft §5.3: a follower drops a conflicting suffix). Never
 * removes a committed entry: that would be the bug the "stale append" scenario tests. */
void raft_log_truncate_from(struct raft *r, uint64_t index)
{
    struct raft_log *log = &r->log;
    assert(index > r->commit);
    assert(index > log->snapshot_index);
    assert(index <= raft_log_last(log));
    while (raft_log_last(log) >= index) {
        struct cn_entry *e = log_slot(log, raft_log_last(log));
        log->bytes -= e->data_len;
        cn_garbage_add(&r->garbage, (void *)e->data);
        e->data = NULL;
        log->count--;
    }
    if (r->unstable > index)
        r->unstable = index;
    if (r->persisted >= index)
        r->persisted = index - 1;
    if (r->update_outstanding && index < r->handed_truncated_at)
        r->handed_truncated_at = index;
    raft_conf_truncated(r, index);
}

/* Drops entries up to `index`, which a snapshot now covers (thesis §5.1). */
void raft_log_compact_to(struct raft *r, uint64_t index, uint64_t term)
{
    struct raft_log *log = &r->log;
    assert(index <= raft_log_last(log));
    while (log->snapshot_index < index) {
        struct cn_entry *e = log_slot(log, log->snapshot_index + 1);
        log->bytes -= e->data_len;
        cn_garbage_add(&r->garbage, (void *)e->data);
        e->data = NULL;
        log->head = (log->head + 1) & (log->capacity - 1);
        log->count--;
        log->snapshot_index++;
    }
    log->snapshot_term = term;
}

/* Discards the whole log: an installed snapshot replaces it (§7). */
void raft_log_reset(struct raft *r, uint64_t snapshot_index, uint64_t snapshot_term)
{
    struct raft_log *log = &r->log;
    while (log->count > 0) {
        struct cn_entry *e = log_slot(log, raft_log_last(log));
        cn_garbage_add(&r->garbage, (void *)e->data);
        e->data = NULL;
        log->count--;
    }
    log->head = 0;
    log->bytes = 0;
    log->snapshot_index = snapshot_index;
    log->snapshot_term = snapshot_term;
}

/* §5.4.1: a candidate's log is at least as up-to-date as ours when its last term is higher,
 * or equal with a last index at least ours. */
bool raft_log_up_to_date(const struct raft_log *log, uint64_t last_index, uint64_t last_term)
{
    uint64_t our_term = raft_log_last_term(log);
    return last_term > our_term || (last_term == our_term && last_index >= raft_log_last(log));
}
