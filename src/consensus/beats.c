/*
 * beats.c — encoding and decoding the records of coalesced heartbeats (beats.h).
 */
#include <assert.h>
#include <string.h>

#include "consensus/beats.h"

static void beat_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void beat_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t beat_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t beat_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static bool beat_type(uint32_t type)
{
    return type == CN_MSG_HEARTBEAT || type == CN_MSG_HEARTBEAT_RESPONSE ||
           type == CN_MSG_LEASE || type == CN_MSG_LEASE_RESPONSE;
}

bool cn_beat_coalescable(const struct cn_message *m)
{
    return beat_type(m->type) && m->entry_count == 0 && m->log_term == 0 &&
           m->hint_term == 0 && m->hint_index == 0 && m->snapshot_chunk == NULL &&
           m->snapshot_chunk_len == 0 && m->snapshot_offset == 0 && !m->snapshot_done &&
           m->snapshot.index == 0;
}

void cn_beat_record_encode(const struct cn_message *m, uint8_t record[CN_BEAT_RECORD_BYTES])
{
    assert(cn_beat_coalescable(m));
    beat_put_u32(record, m->group);
    record[4] = (uint8_t)m->type;
    record[5] = m->reject ? 1 : 0;
    beat_put_u64(record + 6, m->term);
    beat_put_u64(record + 14, m->index);
    beat_put_u64(record + 22, m->commit);
    beat_put_u64(record + 30, m->context);
}

bool cn_beat_record_decode(const uint8_t record[CN_BEAT_RECORD_BYTES], cn_node_id from,
                           cn_node_id to, struct cn_message *m)
{
    if (!beat_type(record[4]) || record[5] > 1)
        return false;
    memset(m, 0, sizeof(*m));
    m->type = record[4];
    m->group = beat_get_u32(record);
    m->from = from;
    m->to = to;
    m->reject = record[5] != 0;
    m->term = beat_get_u64(record + 6);
    m->index = beat_get_u64(record + 14);
    m->commit = beat_get_u64(record + 22);
    m->context = beat_get_u64(record + 30);
    return true;
}
