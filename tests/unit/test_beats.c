/* test_beats.c — the records of coalesced heartbeats (src/consensus/beats.h), which the node
 * sends and the simulator exercises: what is coalesced, the round trip, what a receiver
 * refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "consensus/beats.h"

static struct cn_message beat(uint8_t type)
{
    return (struct cn_message){.type = type, .group = 70000, .from = 2, .to = 3,
                               .term = 0x0102030405060708ull, .index = 41, .commit = 40,
                               .context = 0xfffffffffffffff0ull, .reject = true};
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    const uint8_t types[] = {CN_MSG_HEARTBEAT, CN_MSG_HEARTBEAT_RESPONSE, CN_MSG_LEASE,
                             CN_MSG_LEASE_RESPONSE};
    for (size_t i = 0; i < sizeof types; i++) {
        struct cn_message m = beat(types[i]);
        m.reject = i % 2 == 1;
        assert_true(cn_beat_coalescable(&m));
        uint8_t record[CN_BEAT_RECORD_BYTES];
        cn_beat_record_encode(&m, record);
        struct cn_message back;
        assert_true(cn_beat_record_decode(record, 2, 3, &back));
        assert_int_equal(back.type, m.type);
        assert_int_equal(back.group, m.group);
        assert_int_equal(back.from, 2);
        assert_int_equal(back.to, 3);
        assert_int_equal(back.term, m.term);
        assert_int_equal(back.index, m.index);
        assert_int_equal(back.commit, m.commit);
        assert_int_equal(back.context, m.context);
        assert_int_equal(back.reject, m.reject);
        assert_int_equal(back.entry_count, 0);
        assert_null(back.snapshot_chunk);
    }
}

/* A field a record cannot carry keeps the message out of the coalesced path. */
static void test_not_coalescable(void **state)
{
    (void)state;
    struct cn_entry entry = {.type = CN_ENTRY_NORMAL};
    struct cn_message m = beat(CN_MSG_APPEND);
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_HEARTBEAT);
    m.entry_count = 1;
    m.entries = &entry;
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_HEARTBEAT_RESPONSE);
    m.hint_index = 7;
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_HEARTBEAT_RESPONSE);
    m.hint_term = 7;
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_LEASE);
    m.log_term = 1;
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_HEARTBEAT);
    m.snapshot_offset = 1;
    assert_false(cn_beat_coalescable(&m));
    m = beat(CN_MSG_NODE_HEARTBEATS);
    assert_false(cn_beat_coalescable(&m));
}

/* Records no node writes: another type, a reject flag other than 0 or 1. */
static void test_decode_refuses(void **state)
{
    (void)state;
    struct cn_message m = beat(CN_MSG_HEARTBEAT);
    uint8_t record[CN_BEAT_RECORD_BYTES];
    cn_beat_record_encode(&m, record);
    struct cn_message back;
    uint8_t bad[CN_BEAT_RECORD_BYTES];
    memcpy(bad, record, sizeof bad);
    bad[4] = CN_MSG_APPEND;
    assert_false(cn_beat_record_decode(bad, 2, 3, &back));
    memcpy(bad, record, sizeof bad);
    bad[4] = 0xff;
    assert_false(cn_beat_record_decode(bad, 2, 3, &back));
    memcpy(bad, record, sizeof bad);
    bad[5] = 2;
    assert_false(cn_beat_record_decode(bad, 2, 3, &back));
    assert_true(cn_beat_record_decode(record, 2, 3, &back));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_not_coalescable),
        cmocka_unit_test(test_decode_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
