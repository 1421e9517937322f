/*
 * wal_format.c — the on-disk layout of the WAL. Little-endian throughout.
 *
 * Segment header (32 bytes): magic u64, version u32, header bytes u32, sequence u64,
 * created bytes u32 (length of the creating write), CRC32C of bytes 0..28 u32.
 *
 * Record (24-byte header, payload, zero padding to 8 bytes):
 *   crc u32          CRC32C of bytes 4 .. 24 + length (header rest and payload)
 *   length u32       payload bytes, >= 1
 *   type u8          1 entry, 2 hard state, 3 snapshot marker, 4 per-slot entry
 *   flags u8         bit 0: the last record of its write (WAL_RECORD_FLAG_WRITE_END)
 *   2 zero bytes
 *   group u32        consensus group id
 *   write_offset u32 segment offset where the write that carried this record began
 *   overlap u32      0, or the write_offset of the earlier write that was still in flight
 *                    when this record's write began (two writes in flight, wal.h)
 * write_offset lets recovery tell a torn final write (every valid record past the damage
 * belongs to the write the damage is in) from damage to earlier, synced data (a valid record
 * past it was written by a later write). The overlap field keeps that test exact with two
 * writes in flight: a later write may lie whole past damage only in a write it overlapped.
 * See wal_recover.c. (The field was reserved and zero before 2026-12-04: older logs read
 * unchanged; an older binary refuses records that carry an overlap.) The write-end flag makes a write
 * all or nothing at recovery: the records of a write whose last record is missing or torn are
 * dropped together, since the consensus update they carry must be atomic (consensus.h, rule 2).
 */
#include "storage/wal_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "storage/crc32c.h"

void wal_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void wal_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t wal_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint64_t wal_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint32_t wal_record_frame_bytes(uint32_t payload_len)
{
    assert(payload_len <= WAL_RECORD_PAYLOAD_BYTES_MAX);
    uint32_t bytes = WAL_RECORD_HEADER_BYTES + payload_len;
    return (bytes + WAL_RECORD_ALIGN - 1) & ~(uint32_t)(WAL_RECORD_ALIGN - 1);
}

void wal_record_frame(uint8_t *buf, uint8_t type, cn_group_id group, uint32_t payload_len)
{
    assert(type >= WAL_RECORD_ENTRY && type <= WAL_RECORD_TYPE_MAX);
    assert(payload_len > 0);
    wal_put_u32(buf, 0);
    wal_put_u32(buf + 4, payload_len);
    buf[8] = type;
    buf[9] = buf[10] = buf[11] = 0;
    wal_put_u32(buf + 12, group);
    wal_put_u32(buf + 16, 0);
    wal_put_u32(buf + 20, 0);
    uint32_t pad = wal_record_frame_bytes(payload_len) - WAL_RECORD_HEADER_BYTES - payload_len;
    memset(buf + WAL_RECORD_HEADER_BYTES + payload_len, 0, pad);
}

void wal_record_seal(uint8_t *frame, uint32_t write_offset, bool write_end)
{
    wal_record_seal_overlap(frame, write_offset, 0, write_end);
}

void wal_record_seal_overlap(uint8_t *frame, uint32_t write_offset, uint32_t overlap_offset,
                             bool write_end)
{
    assert(overlap_offset == 0 || overlap_offset < write_offset);
    uint32_t payload_len = wal_get_u32(frame + 4);
    frame[9] = write_end ? WAL_RECORD_FLAG_WRITE_END : 0;
    wal_put_u32(frame + 16, write_offset);
    wal_put_u32(frame + 20, overlap_offset);
    uint32_t crc = crc32c_extend(0, frame + 4, WAL_RECORD_HEADER_BYTES - 4 + payload_len);
    wal_put_u32(frame, crc);
}

static bool wal_all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0) return false;
    }
    return true;
}

/* Decodes the record at buf. Never reads past buf + avail, whatever the bytes say. */
int wal_record_decode(const uint8_t *buf, size_t avail, struct wal_record *record)
{
    if (avail < WAL_RECORD_HEADER_BYTES) {
        return wal_all_zero(buf, avail) ? WAL_DECODE_ZERO : WAL_DECODE_SHORT;
    }
    if (wal_all_zero(buf, WAL_RECORD_HEADER_BYTES)) return WAL_DECODE_ZERO;
    uint32_t payload_len = wal_get_u32(buf + 4);
    uint8_t type = buf[8];
    if (payload_len == 0 || payload_len > WAL_RECORD_PAYLOAD_BYTES_MAX) return WAL_DECODE_BAD;
    if (type < WAL_RECORD_ENTRY || type > WAL_RECORD_TYPE_MAX) return WAL_DECODE_BAD;
    uint32_t write_offset = wal_get_u32(buf + 16), overlap_offset = wal_get_u32(buf + 20);
    if ((buf[9] & ~WAL_RECORD_FLAG_WRITE_END) != 0 || buf[10] != 0 || buf[11] != 0 ||
        (overlap_offset != 0 && overlap_offset >= write_offset)) {
        return WAL_DECODE_BAD;
    }
    uint32_t frame_bytes = wal_record_frame_bytes(payload_len);
    if (frame_bytes > avail) return WAL_DECODE_SHORT;
    /* Padding is outside the CRC: require zeroes so that no byte of a record goes unchecked. */
    if (!wal_all_zero(buf + WAL_RECORD_HEADER_BYTES + payload_len,
                      frame_bytes - WAL_RECORD_HEADER_BYTES - payload_len)) {
        return WAL_DECODE_BAD;
    }
    uint32_t crc = crc32c_extend(0, buf + 4, WAL_RECORD_HEADER_BYTES - 4 + payload_len);
    if (crc != wal_get_u32(buf)) return WAL_DECODE_CRC;
    record->type = type;
    record->group = wal_get_u32(buf + 12);
    record->write_offset = write_offset;
    record->overlap_offset = overlap_offset;
    record->write_end = (buf[9] & WAL_RECORD_FLAG_WRITE_END) != 0;
    record->payload_len = payload_len;
    record->payload = buf + WAL_RECORD_HEADER_BYTES;
    record->frame_bytes = frame_bytes;
    return WAL_DECODE_OK;
}

void wal_encode_entry_payload(uint8_t *payload, const struct cn_entry *entry)
{
    assert(entry->data_len <= CN_ENTRY_DATA_BYTES_MAX);
    wal_put_u64(payload, entry->index);
    wal_put_u64(payload + 8, entry->term);
    memset(payload + 16, 0, 8);
    payload[16] = entry->type;
    if (entry->data_len > 0)
        memcpy(payload + WAL_ENTRY_PAYLOAD_BYTES, entry->data, entry->data_len);
}

bool wal_decode_entry_payload(const struct wal_record *record, struct cn_entry *entry)
{
    if ((record->type != WAL_RECORD_ENTRY && record->type != WAL_RECORD_ENTRY_SLOT) ||
        record->payload_len < WAL_ENTRY_PAYLOAD_BYTES) {
        return false;
    }
    entry->index = wal_get_u64(record->payload);
    entry->term = wal_get_u64(record->payload + 8);
    entry->type = record->payload[16];
    entry->data_len = record->payload_len - WAL_ENTRY_PAYLOAD_BYTES;
    entry->data = entry->data_len > 0 ? record->payload + WAL_ENTRY_PAYLOAD_BYTES : NULL;
    return entry->index > 0 && entry->index < UINT64_MAX && entry->data_len <= CN_ENTRY_DATA_BYTES_MAX;
}

void wal_encode_hard_state_payload(uint8_t *payload, const struct cn_hard_state *hs)
{
    wal_put_u64(payload, hs->term);
    wal_put_u64(payload + 8, hs->commit);
    wal_put_u32(payload + 16, hs->vote);
    wal_put_u32(payload + 20, 0);
}

bool wal_decode_hard_state_payload(const struct wal_record *record, struct cn_hard_state *hs)
{
    if (record->type != WAL_RECORD_HARD_STATE ||
        record->payload_len != WAL_HARD_STATE_PAYLOAD_BYTES) {
        return false;
    }
    hs->term = wal_get_u64(record->payload);
    hs->commit = wal_get_u64(record->payload + 8);
    hs->vote = wal_get_u32(record->payload + 16);
    return true;
}

void wal_encode_snapshot_payload(uint8_t *payload, const struct cn_snapshot_meta *snap,
                                 bool keep_suffix)
{
    assert(snap->members.count <= CN_MEMBERS_MAX);
    memset(payload, 0, WAL_SNAPSHOT_PAYLOAD_BYTES);
    wal_put_u64(payload, snap->index);
    wal_put_u64(payload + 8, snap->term);
    wal_put_u32(payload + 16, snap->members.count);
    wal_put_u32(payload + 20, keep_suffix ? 1u : 0u);
    for (uint32_t i = 0; i < snap->members.count; i++) {
        wal_put_u32(payload + 24 + 4 * i, snap->members.ids[i]);
    }
}

bool wal_decode_snapshot_payload(const struct wal_record *record, struct cn_snapshot_meta *snap,
                                 bool *keep_suffix)
{
    if (record->type != WAL_RECORD_SNAPSHOT || record->payload_len != WAL_SNAPSHOT_PAYLOAD_BYTES) {
        return false;
    }
    memset(snap, 0, sizeof(*snap));
    snap->index = wal_get_u64(record->payload);
    snap->term = wal_get_u64(record->payload + 8);
    snap->members.count = wal_get_u32(record->payload + 16);
    uint32_t flags = wal_get_u32(record->payload + 20);
    if (snap->members.count > CN_MEMBERS_MAX || flags > 1 || snap->index == UINT64_MAX) return false;
    *keep_suffix = flags == 1;
    for (uint32_t i = 0; i < snap->members.count; i++) {
        snap->members.ids[i] = wal_get_u32(record->payload + 24 + 4 * i);
    }
    return true;
}

void wal_segment_header_encode(uint8_t *buf, uint64_t seq, uint32_t created_bytes)
{
    memset(buf, 0, WAL_SEGMENT_HEADER_BYTES);
    wal_put_u64(buf, WAL_SEGMENT_MAGIC);
    wal_put_u32(buf + 8, WAL_FORMAT_VERSION);
    wal_put_u32(buf + 12, WAL_SEGMENT_HEADER_BYTES);
    wal_put_u64(buf + 16, seq);
    wal_put_u32(buf + 24, created_bytes);
    wal_put_u32(buf + 28, crc32c_extend(0, buf, 28));
}

bool wal_segment_header_decode(const uint8_t *buf, uint64_t *seq, uint32_t *created_bytes)
{
    if (wal_get_u64(buf) != WAL_SEGMENT_MAGIC) return false;
    if (wal_get_u32(buf + 8) != WAL_FORMAT_VERSION) return false;
    if (wal_get_u32(buf + 12) != WAL_SEGMENT_HEADER_BYTES) return false;
    if (crc32c_extend(0, buf, 28) != wal_get_u32(buf + 28)) return false;
    *seq = wal_get_u64(buf + 16);
    *created_bytes = wal_get_u32(buf + 24);
    return *created_bytes >= WAL_SEGMENT_HEADER_BYTES;
}

void wal_segment_name(char *name, size_t name_bytes, uint64_t seq)
{
    int n = snprintf(name, name_bytes, "%016" PRIx64 ".wal", seq);
    assert(n > 0 && (size_t)n < name_bytes);
}

bool wal_segment_name_parse(const char *name, uint64_t *seq)
{
    if (strlen(name) != WAL_SEGMENT_NAME_BYTES - 1 || strcmp(name + 16, ".wal") != 0) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        uint64_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (uint64_t)(c - 'a' + 10);
        else
            return false;
        v = (v << 4) | digit;
    }
    if (v == 0) return false;
    *seq = v;
    return true;
}
