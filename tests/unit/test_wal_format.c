/* test_wal_format.c — CRC32C vectors and the WAL's on-disk framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/crc32c.h"
#include "storage/wal_internal.h"

/* RFC 3720 (iSCSI) appendix B.4 and the common check value. */
static void test_crc32c_known_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    assert_int_equal(crc32c_extend(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(crc32c_extend_portable(0, buf, 32), 0x8A9136AAu);
    assert_int_equal(crc32c_extend_hardware(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(crc32c_extend_portable(0, buf, 32), 0x62A8AB43u);
    assert_int_equal(crc32c_extend_hardware(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(crc32c_extend_portable(0, buf, 32), 0x46DD794Eu);
    assert_int_equal(crc32c_extend_hardware(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c_extend_portable(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(crc32c_extend(0, "", 0), 0u);
}

/* Both paths agree at every alignment and length, and extending equals one pass. */
static void test_crc32c_paths_agree(void **state)
{
    (void)state;
    enum { BYTES = 1000 };
    uint8_t *buf = malloc(BYTES + 8);
    srand(7);
    for (int i = 0; i < BYTES + 8; i++) buf[i] = (uint8_t)rand();
    for (size_t start = 0; start < 8; start++) {
        for (size_t len = 0; len < 80; len++) {
            uint32_t a = crc32c_extend_portable(0, buf + start, len);
            assert_int_equal(a, crc32c_extend_hardware(0, buf + start, len));
        }
    }
    uint32_t whole = crc32c_extend(0, buf, BYTES);
    for (size_t split = 0; split <= BYTES; split += 37) {
        uint32_t part = crc32c_extend_portable(0, buf, split);
        assert_int_equal(crc32c_extend(part, buf + split, BYTES - split), whole);
    }
    free(buf);
}

static void test_record_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    memset(buf, 0xAA, sizeof(buf));
    const char *data = "hello";
    struct cn_entry entry = {.index = 42,
                             .term = 7,
                             .type = CN_ENTRY_CONFIG,
                             .data_len = 5,
                             .data = (const uint8_t *)data};
    uint32_t payload_len = WAL_ENTRY_PAYLOAD_BYTES + 5;
    wal_record_frame(buf, WAL_RECORD_ENTRY, 9, payload_len);
    wal_encode_entry_payload(buf + WAL_RECORD_HEADER_BYTES, &entry);
    wal_record_seal(buf, 4096, false);
    uint32_t frame = wal_record_frame_bytes(payload_len);
    assert_int_equal(frame % WAL_RECORD_ALIGN, 0);
    struct wal_record record;
    assert_int_equal(wal_record_decode(buf, frame, &record), WAL_DECODE_OK);
    assert_int_equal(record.group, 9);
    assert_int_equal(record.write_offset, 4096);
    assert_int_equal(record.frame_bytes, frame);
    struct cn_entry out;
    assert_true(wal_decode_entry_payload(&record, &out));
    assert_int_equal(out.index, 42);
    assert_int_equal(out.term, 7);
    assert_int_equal(out.type, CN_ENTRY_CONFIG);
    assert_int_equal(out.data_len, 5);
    assert_memory_equal(out.data, data, 5);
    /* Too few bytes is "short", never a read past the end. */
    assert_int_equal(wal_record_decode(buf, frame - 1, &record), WAL_DECODE_SHORT);
    /* Every single flipped bit is caught. */
    for (uint32_t bit = 0; bit < (WAL_RECORD_HEADER_BYTES + payload_len) * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int result = wal_record_decode(buf, frame, &record);
        assert_int_not_equal(result, WAL_DECODE_OK);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    memset(buf, 0, sizeof(buf));
    assert_int_equal(wal_record_decode(buf, sizeof(buf), &record), WAL_DECODE_ZERO);
    assert_int_equal(wal_record_decode(buf, 10, &record), WAL_DECODE_ZERO);
}

static void test_state_payloads_round_trip(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct cn_hard_state hs = {.term = 5, .vote = 3, .commit = 99};
    wal_record_frame(buf, WAL_RECORD_HARD_STATE, 1, WAL_HARD_STATE_PAYLOAD_BYTES);
    wal_encode_hard_state_payload(buf + WAL_RECORD_HEADER_BYTES, &hs);
    wal_record_seal(buf, 0, false);
    struct wal_record record;
    assert_int_equal(wal_record_decode(buf, sizeof(buf), &record), WAL_DECODE_OK);
    struct cn_hard_state hs_out;
    assert_true(wal_decode_hard_state_payload(&record, &hs_out));
    assert_int_equal(hs_out.term, 5);
    assert_int_equal(hs_out.vote, 3);
    assert_int_equal(hs_out.commit, 99);
    bool keep = true;
    struct cn_snapshot_meta snap_out, snap = {.index = 10, .term = 2, .members = {3, {1, 2, 3}}};
    assert_false(wal_decode_snapshot_payload(&record, &snap_out, &keep));
    wal_record_frame(buf, WAL_RECORD_SNAPSHOT, 1, WAL_SNAPSHOT_PAYLOAD_BYTES);
    wal_encode_snapshot_payload(buf + WAL_RECORD_HEADER_BYTES, &snap, false);
    wal_record_seal(buf, 0, false);
    assert_int_equal(wal_record_decode(buf, sizeof(buf), &record), WAL_DECODE_OK);
    assert_true(wal_decode_snapshot_payload(&record, &snap_out, &keep));
    assert_false(keep);
    assert_int_equal(snap_out.index, 10);
    assert_int_equal(snap_out.members.count, 3);
    assert_int_equal(snap_out.members.ids[2], 3);
    /* A member count beyond the bound is malformed even with a good CRC. */
    wal_put_u32(buf + WAL_RECORD_HEADER_BYTES + 16, CN_MEMBERS_MAX + 1);
    wal_record_seal(buf, 0, false);
    assert_int_equal(wal_record_decode(buf, sizeof(buf), &record), WAL_DECODE_OK);
    assert_false(wal_decode_snapshot_payload(&record, &snap_out, &keep));
}

static void test_segment_header_and_names(void **state)
{
    (void)state;
    uint8_t buf[WAL_SEGMENT_HEADER_BYTES];
    uint64_t seq = 0;
    uint32_t created = 0;
    wal_segment_header_encode(buf, 0x1234, 4096);
    assert_true(wal_segment_header_decode(buf, &seq, &created));
    assert_int_equal(seq, 0x1234);
    assert_int_equal(created, 4096);
    buf[17] ^= 1;
    assert_false(wal_segment_header_decode(buf, &seq, &created));
    char name[WAL_SEGMENT_NAME_BYTES];
    wal_segment_name(name, sizeof(name), 0xabc);
    assert_string_equal(name, "0000000000000abc.wal");
    assert_true(wal_segment_name_parse(name, &seq));
    assert_int_equal(seq, 0xabc);
    assert_false(wal_segment_name_parse("0000000000000abc.wal.tmp", &seq));
    assert_false(wal_segment_name_parse("0000000000000ABC.wal", &seq));
    assert_false(wal_segment_name_parse("0000000000000000.wal", &seq));
    assert_false(wal_segment_name_parse("x.wal", &seq));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_paths_agree),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_state_payloads_round_trip),
        cmocka_unit_test(test_segment_header_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
