/*
 * test_codec.c — the consensus message codec: round trips of every message type with seeded
 * random fields, a pinned byte layout, every truncation, corrupted lengths and counts, bounds,
 * and cn_message_frame_size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/codec.h"

enum {
    TEST_ROUNDS_PER_TYPE = 200,
    TEST_ENTRIES_MAX = 8,
    TEST_DATA_BYTES_MAX = 64,
    TEST_BUF_BYTES = 1u << 16,
};

/* Every message type consensus.c names: the codec must carry each one. */
static uint8_t test_types[256];
static size_t test_type_count;

static int test_setup_types(void **state)
{
    (void)state;
    const char *unknown = cn_message_type_name(CN_MSG_NONE);
    test_type_count = 0;
    for (int t = 1; t <= CN_MSG_TYPE_MAX; t++) {
        if (strcmp(cn_message_type_name((uint8_t)t), unknown) != 0) {
            test_types[test_type_count++] = (uint8_t)t;
        }
    }
    return test_type_count >= 22 ? 0 : -1; /* the 22 types of the first version at least */
}

static bool test_type_known(uint8_t type)
{
    for (size_t k = 0; k < test_type_count; k++) {
        if (test_types[k] == type) return true;
    }
    return false;
}

/* splitmix64: a seeded, portable generator so that a failure replays exactly. */
static uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Values that stress the encoding: all bits, high bits, zero, small. */
static uint64_t test_rand_u64(uint64_t *state)
{
    switch (test_rand(state) % 4) {
    case 0: return 0;
    case 1: return UINT64_MAX - test_rand(state) % 3;
    case 2: return test_rand(state) % 100;
    default: return test_rand(state);
    }
}

/* Storage for one generated message: its entries, their data and the snapshot chunk. */
struct test_message {
    struct cn_message m;
    struct cn_entry entries[TEST_ENTRIES_MAX];
    uint8_t data[TEST_ENTRIES_MAX][TEST_DATA_BYTES_MAX];
    uint8_t chunk[TEST_DATA_BYTES_MAX];
};

static void test_fill_snapshot(struct test_message *t, uint64_t *seed)
{
    struct cn_message *m = &t->m;
    m->snapshot.index = test_rand_u64(seed);
    m->snapshot.term = test_rand_u64(seed);
    m->snapshot.members.count = (uint32_t)(test_rand(seed) % (CN_MEMBERS_MAX + 1));
    cn_node_id id = 0;
    for (uint32_t i = 0; i < m->snapshot.members.count; i++) {
        id += 1 + (cn_node_id)(test_rand(seed) % 1000); /* sorted, unique, non-zero */
        m->snapshot.members.ids[i] = id;
    }
    m->snapshot_offset = test_rand_u64(seed);
    m->snapshot_done = test_rand(seed) % 2;
    m->snapshot_chunk_len = (uint32_t)(test_rand(seed) % (TEST_DATA_BYTES_MAX + 1));
    for (uint32_t i = 0; i < m->snapshot_chunk_len; i++) t->chunk[i] = (uint8_t)test_rand(seed);
    m->snapshot_chunk = m->snapshot_chunk_len > 0 ? t->chunk : NULL;
}

static void test_fill(struct test_message *t, uint8_t type, uint64_t *seed)
{
    memset(t, 0, sizeof(*t));
    struct cn_message *m = &t->m;
    m->type = type;
    m->group = (cn_group_id)test_rand_u64(seed);
    m->from = (cn_node_id)test_rand_u64(seed);
    m->to = (cn_node_id)test_rand_u64(seed);
    m->term = test_rand_u64(seed);
    m->log_term = test_rand_u64(seed);
    m->index = test_rand_u64(seed);
    m->commit = test_rand_u64(seed);
    m->context = test_rand_u64(seed);
    m->hint_term = test_rand_u64(seed);
    m->hint_index = test_rand_u64(seed);
    m->reject = test_rand(seed) % 2;
    m->entry_count = (uint32_t)(test_rand(seed) % (TEST_ENTRIES_MAX + 1));
    for (uint32_t i = 0; i < m->entry_count; i++) {
        struct cn_entry *e = &t->entries[i];
        e->index = test_rand_u64(seed);
        e->term = test_rand_u64(seed);
        e->type = (uint8_t)(test_rand(seed) % 3);
        e->data_len = (uint32_t)(test_rand(seed) % (TEST_DATA_BYTES_MAX + 1));
        for (uint32_t j = 0; j < e->data_len; j++) t->data[i][j] = (uint8_t)test_rand(seed);
        e->data = e->data_len > 0 ? t->data[i] : NULL;
    }
    m->entries = m->entry_count > 0 ? t->entries : NULL;
    /* Other types carry a snapshot section only sometimes: both forms must round-trip. */
    if (type == CN_MSG_SNAPSHOT || test_rand(seed) % 8 == 0) test_fill_snapshot(t, seed);
}

static void test_assert_equal(const struct cn_message *a, const struct cn_message *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->group, b->group);
    assert_int_equal(a->from, b->from);
    assert_int_equal(a->to, b->to);
    assert_true(a->term == b->term && a->log_term == b->log_term);
    assert_true(a->index == b->index && a->commit == b->commit);
    assert_true(a->context == b->context);
    assert_true(a->hint_term == b->hint_term && a->hint_index == b->hint_index);
    assert_int_equal(a->reject, b->reject);
    assert_int_equal(a->entry_count, b->entry_count);
    for (uint32_t i = 0; i < a->entry_count; i++) {
        const struct cn_entry *x = &a->entries[i], *y = &b->entries[i];
        assert_true(x->index == y->index && x->term == y->term);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->data_len, y->data_len);
        if (x->data_len > 0) assert_memory_equal(x->data, y->data, x->data_len);
    }
    assert_true(a->snapshot.index == b->snapshot.index);
    assert_true(a->snapshot.term == b->snapshot.term);
    assert_memory_equal(&a->snapshot.members, &b->snapshot.members, sizeof(a->snapshot.members));
    assert_true(a->snapshot_offset == b->snapshot_offset);
    assert_int_equal(a->snapshot_done, b->snapshot_done);
    assert_int_equal(a->snapshot_chunk_len, b->snapshot_chunk_len);
    if (a->snapshot_chunk_len > 0) {
        assert_memory_equal(a->snapshot_chunk, b->snapshot_chunk, a->snapshot_chunk_len);
    }
}

static uint8_t test_buf[TEST_BUF_BYTES];
static uint8_t test_buf2[TEST_BUF_BYTES];

static size_t test_encode(const struct cn_message *m, uint8_t *buf)
{
    int64_t n = cn_message_encode(m, buf, TEST_BUF_BYTES);
    assert_true(n > 0);
    assert_int_equal((size_t)n, cn_message_encoded_size(m));
    return (size_t)n;
}

static int test_decode(const uint8_t *buf, size_t len, struct cn_message *m)
{
    static struct cn_entry entries[CN_MESSAGE_ENTRIES_MAX];
    return cn_message_decode(buf, len, m, entries, CN_MESSAGE_ENTRIES_MAX);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    static struct test_message t;
    uint64_t seed = 42;
    for (size_t k = 0; k < test_type_count; k++) {
        for (int round = 0; round < TEST_ROUNDS_PER_TYPE; round++) {
            test_fill(&t, test_types[k], &seed);
            size_t n = test_encode(&t.m, test_buf);
            assert_int_equal(cn_message_frame_size(test_buf, n), (int64_t)n);

            struct cn_message out;
            assert_int_equal(test_decode(test_buf, n, &out), CN_OK);
            test_assert_equal(&t.m, &out);
            /* Zero copy: data and chunk point into the input. */
            for (uint32_t i = 0; i < out.entry_count; i++) {
                if (out.entries[i].data_len == 0) {
                    assert_null(out.entries[i].data);
                } else {
                    assert_true(out.entries[i].data > test_buf);
                    assert_true(out.entries[i].data + out.entries[i].data_len <= test_buf + n);
                }
            }
            if (out.snapshot_chunk_len > 0) {
                assert_true(out.snapshot_chunk + out.snapshot_chunk_len == test_buf + n);
            }
            /* Canonical: re-encoding what was decoded gives the same bytes. */
            assert_int_equal(test_encode(&out, test_buf2), n);
            assert_memory_equal(test_buf, test_buf2, n);
        }
    }
}

/* Pins the version-1 layout: a format change must be deliberate (and bump the version). */
static void test_layout_pinned(void **state)
{
    (void)state;
    static const uint8_t data[] = {0xaa, 0xbb};
    struct cn_entry entry = {.index = 5, .term = 2, .type = CN_ENTRY_NORMAL, .data_len = 2,
                             .data = data};
    struct cn_message m = {.type = CN_MSG_APPEND, .group = 1, .from = 2, .to = 3, .term = 4,
                           .log_term = 0x0102030405060708ull, .index = 4, .commit = 3,
                           .reject = true, .entry_count = 1, .entries = &entry};
    uint8_t expected[80 + 21 + 2] = {0};
    uint8_t *p = expected;
    p[0] = 99; /* body length */
    p[4] = 1;  /* version */
    p[5] = CN_MSG_APPEND;
    p[6] = 1;  /* reject */
    p[7] = 0;  /* no snapshot section */
    p[8] = 1;  /* group */
    p[12] = 2; /* from */
    p[16] = 3; /* to */
    p[20] = 4; /* term */
    for (int i = 0; i < 8; i++) p[28 + i] = (uint8_t)(8 - i); /* log_term, little-endian */
    p[36] = 4; /* index */
    p[44] = 3; /* commit */
    p[76] = 1; /* entry_count */
    p[80] = 5; /* entry index */
    p[88] = 2; /* entry term */
    p[96] = CN_ENTRY_NORMAL;
    p[97] = 2; /* data_len */
    p[101] = 0xaa;
    p[102] = 0xbb;
    assert_int_equal(cn_message_encode(&m, test_buf, sizeof(test_buf)), sizeof(expected));
    assert_memory_equal(test_buf, expected, sizeof(expected));
}

/* Every strict prefix of a valid frame is rejected, with the original length prefix and with
 * a length prefix patched to match the prefix (so only the content is short). */
static void test_every_truncation_rejected(void **state)
{
    (void)state;
    static struct test_message t;
    uint64_t seed = 7;
    for (size_t k = 0; k < test_type_count; k++) {
        test_fill(&t, test_types[k], &seed);
        size_t n = test_encode(&t.m, test_buf);
        for (size_t cut = 0; cut < n; cut++) {
            struct cn_message out;
            assert_int_equal(test_decode(test_buf, cut, &out), CN_ERR_MALFORMED);
            if (cut < 5) continue;
            memcpy(test_buf2, test_buf, cut);
            uint32_t body = (uint32_t)(cut - 4);
            memcpy(test_buf2, &body, 4); /* the test host is little-endian */
            int rv = test_decode(test_buf2, cut, &out);
            assert_true(rv == CN_ERR_MALFORMED || rv == CN_ERR_TOO_LARGE);
            assert_int_equal(out.type, 0); /* nothing half-decoded is left */
        }
    }
}

/* A message with one entry of `data_len` bytes and no snapshot section. */
static size_t test_one_entry_frame(uint8_t type, uint32_t data_len)
{
    static uint8_t data[TEST_DATA_BYTES_MAX];
    memset(data, 0x5a, sizeof(data));
    struct cn_entry e = {.index = 1, .term = 1, .data_len = data_len, .data = data};
    struct cn_message m = {.type = type, .entry_count = 1, .entries = &e};
    return test_encode(&m, test_buf);
}

static void test_put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void test_corrupt_lengths(void **state)
{
    (void)state;
    struct cn_message out;
    size_t n = test_one_entry_frame(CN_MSG_APPEND, 10);
    assert_int_equal(test_decode(test_buf, n, &out), CN_OK);

    /* Body length one off in either direction, or huge. */
    test_put_u32(test_buf, (uint32_t)(n - 4 + 1));
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf, (uint32_t)(n - 4 - 1));
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf, UINT32_MAX);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf, (uint32_t)(n - 4));

    /* Entry data length one off, or beyond its bound. */
    test_put_u32(test_buf + 97, 11);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 97, 9);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 97, CN_ENTRY_DATA_BYTES_MAX + 1);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 97, UINT32_MAX);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 97, 10);

    /* Entry count: one more than present, past the bound, past the caller's capacity. */
    test_put_u32(test_buf + 76, 2);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 76, CN_MESSAGE_ENTRIES_MAX + 1);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 76, UINT32_MAX);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 76, 0);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED); /* trailing bytes */
    test_put_u32(test_buf + 76, 1);
    struct cn_entry none[1];
    assert_int_equal(cn_message_decode(test_buf, n, &out, none, 0), CN_ERR_TOO_LARGE);
    assert_int_equal(cn_message_decode(test_buf, n, &out, none, 1), CN_OK);
    assert_ptr_equal(out.entries, none);

    /* A trailing byte, with the length prefix covering it. */
    test_buf[n] = 0;
    test_put_u32(test_buf, (uint32_t)(n - 4 + 1));
    assert_int_equal(test_decode(test_buf, n + 1, &out), CN_ERR_MALFORMED);
}

static void test_corrupt_fields(void **state)
{
    (void)state;
    struct cn_message out;
    size_t n = test_one_entry_frame(CN_MSG_ACCEPT, 3);
    for (int type = 0; type < 256; type++) {
        test_buf[5] = (uint8_t)type;
        int rv = test_decode(test_buf, n, &out);
        if (type == CN_MSG_SNAPSHOT || !test_type_known((uint8_t)type)) {
            assert_int_equal(rv, CN_ERR_MALFORMED); /* unknown, or a snapshot without section */
        } else {
            assert_int_equal(rv, CN_OK);
        }
    }
    assert_false(test_type_known(0));
    assert_false(test_type_known(CN_MSG_TYPE_MAX + 1));
    test_buf[5] = CN_MSG_ACCEPT;
    for (int v = 0; v < 256; v++) {
        test_buf[4] = (uint8_t)v;
        assert_int_equal(test_decode(test_buf, n, &out), v == 1 ? CN_OK : CN_ERR_VERSION);
    }
    test_buf[4] = CN_CODEC_VERSION;
    test_buf[6] = 2; /* reject is a bool */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_buf[6] = 0;
    test_buf[7] = 2; /* reserved section bit */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_buf[7] = 0;
    test_buf[96] = 3; /* unknown entry type */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_buf[96] = CN_ENTRY_CONFIG;
    assert_int_equal(test_decode(test_buf, n, &out), CN_OK);
    test_buf[5] = CN_MSG_SNAPSHOT; /* a snapshot without its section */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
}

/* A snapshot message with three members and a 4-byte chunk; returns the frame size.
 * Section offsets: meta index at 80, term 88, member count 96, ids 100..111, offset 112,
 * done 120, chunk_len 121, chunk 125. */
static size_t test_snapshot_frame(void)
{
    static const uint8_t chunk[4] = {1, 2, 3, 4};
    struct cn_message m = {.type = CN_MSG_SNAPSHOT, .snapshot_chunk = chunk,
                           .snapshot_chunk_len = 4, .snapshot_offset = 9,
                           .snapshot = {.index = 10, .term = 2,
                                        .members = {.count = 3, .ids = {1, 2, 3}}}};
    size_t n = test_encode(&m, test_buf);
    assert_int_equal(n, 129);
    return n;
}

static void test_corrupt_snapshot(void **state)
{
    (void)state;
    struct cn_message out;
    size_t n = test_snapshot_frame();
    assert_int_equal(test_decode(test_buf, n, &out), CN_OK);
    assert_int_equal(out.snapshot.members.count, 3);

    test_put_u32(test_buf + 96, CN_MEMBERS_MAX + 1);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 96, 4); /* shifts what follows: a misread length or trailing data */
    int rv = test_decode(test_buf, n, &out);
    assert_true(rv == CN_ERR_MALFORMED || rv == CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 96, 2);
    rv = test_decode(test_buf, n, &out);
    assert_true(rv == CN_ERR_MALFORMED || rv == CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 96, 3);
    test_put_u32(test_buf + 104, 1); /* duplicate member */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 104, 0); /* zero member */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 104, 2);
    test_buf[120] = 2; /* done is a bool */
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_buf[120] = 1;
    assert_int_equal(test_decode(test_buf, n, &out), CN_OK);
    assert_true(out.snapshot_done);
    test_put_u32(test_buf + 121, CN_SNAPSHOT_CHUNK_BYTES_MAX + 1);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_TOO_LARGE);
    test_put_u32(test_buf + 121, 5);
    assert_int_equal(test_decode(test_buf, n, &out), CN_ERR_MALFORMED);
    test_put_u32(test_buf + 121, 4);

    /* An all-zero section on another type is not canonical. */
    memset(test_buf + 80, 0, n - 80);
    test_buf[5] = CN_MSG_HEARTBEAT;
    test_put_u32(test_buf + 96, 0);
    test_put_u32(test_buf, 80 + 33 - 4);
    assert_int_equal(test_decode(test_buf, 80 + 33, &out), CN_ERR_MALFORMED);
    test_buf[5] = CN_MSG_SNAPSHOT; /* but it is the canonical form of an empty snapshot */
    assert_int_equal(test_decode(test_buf, 80 + 33, &out), CN_OK);
}

static void test_encode_bounds(void **state)
{
    (void)state;
    static struct cn_entry entries[CN_MESSAGE_ENTRIES_MAX + 1];
    static const uint8_t byte = 1;
    struct cn_message m = {.type = CN_MSG_APPEND, .entries = entries};

    /* Every capacity short of the size is refused, and nothing is written past it. */
    entries[0] = (struct cn_entry){.data_len = 1, .data = &byte};
    m.entry_count = 1;
    size_t size = cn_message_encoded_size(&m);
    assert_int_equal(size, 80 + 21 + 1);
    for (size_t cap = 0; cap < size; cap++) {
        memset(test_buf, 0xee, size);
        assert_int_equal(cn_message_encode(&m, test_buf, cap), CN_ERR_TOO_LARGE);
        for (size_t i = cap; i < size; i++) assert_int_equal(test_buf[i], 0xee);
    }
    assert_int_equal(cn_message_encode(&m, test_buf, size), (int64_t)size);

    /* Entry data, entry count, chunk and total size bounds. Data is never read past the
     * first byte: the checks come before any copy. */
    entries[0].data_len = CN_ENTRY_DATA_BYTES_MAX + 1;
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_TOO_LARGE);
    entries[0].data_len = 0;
    m.entry_count = CN_MESSAGE_ENTRIES_MAX + 1;
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_TOO_LARGE);
    m.entry_count = 9;
    for (int i = 0; i < 9; i++) entries[i] = (struct cn_entry){.data_len = CN_ENTRY_DATA_BYTES_MAX,
                                                              .data = &byte};
    assert_true(cn_message_encoded_size(&m) > CN_MESSAGE_BYTES_MAX);
    assert_int_equal(cn_message_encode(&m, test_buf, SIZE_MAX), CN_ERR_TOO_LARGE);
    m.entry_count = 0;
    m.snapshot_chunk_len = CN_SNAPSHOT_CHUNK_BYTES_MAX + 1;
    m.snapshot_chunk = &byte;
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_TOO_LARGE);
    m.snapshot_chunk_len = 0;

    /* What no receiver accepts is refused as invalid. */
    m.snapshot.members = (struct cn_members){.count = 2, .ids = {3, 3}};
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_INVALID);
    m.snapshot.members = (struct cn_members){.count = 2, .ids = {0, 3}};
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_INVALID);
    m.snapshot.members = (struct cn_members){0};
    m.type = CN_MSG_NONE;
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_INVALID);
    m.type = CN_MSG_APPEND;
    m.entry_count = 1;
    entries[0] = (struct cn_entry){.type = 7};
    assert_int_equal(cn_message_encode(&m, test_buf, TEST_BUF_BYTES), CN_ERR_INVALID);
}

/* The largest legal message: a full batch of entries at exactly CN_MESSAGE_BYTES_MAX. */
static void test_encode_largest(void **state)
{
    (void)state;
    size_t cap = CN_MESSAGE_BYTES_MAX;
    uint8_t *buf = malloc(cap);
    uint8_t *data = calloc(1, CN_ENTRY_DATA_BYTES_MAX);
    assert_non_null(buf);
    assert_non_null(data);
    static struct cn_entry entries[CN_MESSAGE_ENTRIES_MAX];
    struct cn_message m = {.type = CN_MSG_APPEND, .entries = entries,
                           .entry_count = CN_MESSAGE_ENTRIES_MAX};
    size_t per_entry = (cap - 80) / CN_MESSAGE_ENTRIES_MAX - 21;
    for (uint32_t i = 0; i < CN_MESSAGE_ENTRIES_MAX; i++) {
        entries[i] = (struct cn_entry){.index = i + 1, .term = 1, .data_len = (uint32_t)per_entry,
                                       .data = data};
    }
    /* Pad the last entry so that the frame is exactly the bound. */
    size_t used = 80 + CN_MESSAGE_ENTRIES_MAX * (21 + per_entry);
    entries[CN_MESSAGE_ENTRIES_MAX - 1].data_len += (uint32_t)(cap - used);
    assert_int_equal(cn_message_encoded_size(&m), cap);
    assert_int_equal(cn_message_encode(&m, buf, cap), (int64_t)cap);
    assert_int_equal(cn_message_frame_size(buf, 4), (int64_t)cap);
    struct cn_message out;
    static struct cn_entry out_entries[CN_MESSAGE_ENTRIES_MAX];
    assert_int_equal(cn_message_decode(buf, cap, &out, out_entries, CN_MESSAGE_ENTRIES_MAX),
                     CN_OK);
    assert_int_equal(out.entry_count, CN_MESSAGE_ENTRIES_MAX);
    /* One byte more is too large. */
    entries[0].data_len++;
    assert_int_equal(cn_message_encode(&m, buf, cap), CN_ERR_TOO_LARGE);
    free(data);
    free(buf);
}

static void test_frame_size(void **state)
{
    (void)state;
    uint8_t b[8] = {0};
    assert_int_equal(cn_message_frame_size(NULL, 0), 0);
    assert_int_equal(cn_message_frame_size(b, 3), 0);
    test_put_u32(b, 0);
    assert_int_equal(cn_message_frame_size(b, 4), CN_ERR_MALFORMED);
    test_put_u32(b, 1);
    assert_int_equal(cn_message_frame_size(b, 4), CN_ERR_MALFORMED);
    test_put_u32(b, 2);
    assert_int_equal(cn_message_frame_size(b, 4), 6);
    test_put_u32(b, CN_MESSAGE_BYTES_MAX - 4);
    assert_int_equal(cn_message_frame_size(b, 8), CN_MESSAGE_BYTES_MAX);
    test_put_u32(b, CN_MESSAGE_BYTES_MAX - 3);
    assert_int_equal(cn_message_frame_size(b, 8), CN_ERR_TOO_LARGE);
    test_put_u32(b, UINT32_MAX);
    assert_int_equal(cn_message_frame_size(b, 8), CN_ERR_TOO_LARGE);

    /* A stream of frames back to back is split exactly by frame_size. */
    static struct test_message t;
    uint64_t seed = 3;
    size_t offsets[256 + 1] = {0};
    for (size_t k = 0; k < test_type_count; k++) {
        test_fill(&t, test_types[k], &seed);
        int64_t n = cn_message_encode(&t.m, test_buf + offsets[k], TEST_BUF_BYTES - offsets[k]);
        assert_true(n > 0);
        offsets[k + 1] = offsets[k] + (size_t)n;
    }
    size_t pos = 0;
    for (size_t k = 0; k < test_type_count; k++) {
        int64_t size = cn_message_frame_size(test_buf + pos, offsets[test_type_count] - pos);
        assert_int_equal(pos + (size_t)size, offsets[k + 1]);
        struct cn_message out;
        assert_int_equal(test_decode(test_buf + pos, (size_t)size, &out), CN_OK);
        assert_int_equal(out.type, test_types[k]);
        pos += (size_t)size;
    }
}

/* Random byte flips of valid frames: whatever decodes must re-encode to the same bytes. */
static void test_mutations_canonical(void **state)
{
    (void)state;
    static struct test_message t;
    uint64_t seed = 99;
    for (int round = 0; round < 20000; round++) {
        test_fill(&t, test_types[test_rand(&seed) % test_type_count], &seed);
        size_t n = test_encode(&t.m, test_buf);
        int flips = 1 + (int)(test_rand(&seed) % 3);
        for (int f = 0; f < flips; f++) {
            test_buf[test_rand(&seed) % n] ^= (uint8_t)(1u << (test_rand(&seed) % 8));
        }
        struct cn_message out;
        if (test_decode(test_buf, n, &out) != CN_OK) continue;
        assert_int_equal(test_encode(&out, test_buf2), n);
        assert_memory_equal(test_buf, test_buf2, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_layout_pinned),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_corrupt_lengths),
        cmocka_unit_test(test_corrupt_fields),
        cmocka_unit_test(test_corrupt_snapshot),
        cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_encode_largest),
        cmocka_unit_test(test_frame_size),
        cmocka_unit_test(test_mutations_canonical),
    };
    return cmocka_run_group_tests(tests, test_setup_types, NULL);
}
