/* test_kv_command.c — encoding of client commands and bounds-checked decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "storage/kv_command.h"

enum { ARGS_CAP = 16, BUF_BYTES = 4096 };

static struct kv_bytes bytes_of(const char *text)
{
    return (struct kv_bytes){.data = (const uint8_t *)text, .len = strlen(text)};
}

static size_t encode_ok(const struct kv_command *command, uint8_t *buf)
{
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(command, buf, BUF_BYTES, &len, &reason), KV_OK);
    assert_int_equal(len, kv_command_encoded_bytes(command));
    return len;
}

static void test_command_roundtrip_every_op(void **state)
{
    (void)state;
    struct kv_bytes a[6] = {bytes_of("k1"), bytes_of("v1"), bytes_of(""), bytes_of("v2"),
                            bytes_of("k3"), bytes_of("v3")};
    const struct kv_command commands[] = {
        {.op = KV_OP_SET, .flags = KV_FLAG_NX | KV_FLAG_GET, .arg_count = 2, .args = a},
        {.op = KV_OP_SETNX, .arg_count = 2, .args = a},
        {.op = KV_OP_GETSET, .arg_count = 2, .args = a},
        {.op = KV_OP_GETDEL, .arg_count = 1, .args = a},
        {.op = KV_OP_DEL, .arg_count = 5, .args = a},
        {.op = KV_OP_CAS, .arg_count = 3, .args = a},
        {.op = KV_OP_INCRBY, .delta = INT64_MIN, .arg_count = 1, .args = a},
        {.op = KV_OP_APPEND, .arg_count = 2, .args = a},
        {.op = KV_OP_MSET, .arg_count = 6, .args = a},
        {.op = KV_OP_MSETNX, .arg_count = 4, .args = a},
        {.op = KV_OP_FLUSHALL, .arg_count = 0, .args = a},
        {.op = KV_OP_INCRBYFLOAT, .arg_count = 2, .args = a},
        {.op = KV_OP_SETRANGE, .delta = 7, .arg_count = 2, .args = a},
        {.op = KV_OP_SETBIT, .flags = KV_FLAG_BIT, .delta = KV_BIT_OFFSET_MAX, .arg_count = 1, .args = a},
        {.op = KV_OP_RENAME, .flags = KV_FLAG_NX, .arg_count = 2, .args = a},
        {.op = KV_OP_COPY, .flags = KV_FLAG_REPLACE, .arg_count = 2, .args = a},
    };
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        uint8_t buf[BUF_BYTES];
        size_t len = encode_ok(&commands[c], buf);
        struct kv_command out;
        struct kv_bytes args[ARGS_CAP];
        const char *reason = NULL;
        assert_int_equal(kv_command_decode(buf, len, &out, args, ARGS_CAP, &reason), KV_OK);
        assert_int_equal(out.op, commands[c].op);
        assert_int_equal(out.flags, commands[c].flags);
        assert_true(out.delta == commands[c].delta);
        assert_int_equal(out.arg_count, commands[c].arg_count);
        for (uint32_t i = 0; i < out.arg_count; i++) {
            assert_int_equal(out.args[i].len, a[i].len);
            assert_memory_equal(out.args[i].data, a[i].data, a[i].len);
            assert_true(out.args[i].data >= buf && out.args[i].data <= buf + len);
        }
        assert_string_not_equal(kv_op_name(out.op), "unknown");
    }
}

static void expect_rejected(const struct kv_command *command, int error, const char *reason_start)
{
    const char *reason = NULL;
    uint8_t buf[BUF_BYTES];
    size_t len = 0;
    assert_int_equal(kv_command_encode(command, buf, sizeof buf, &len, &reason), error);
    assert_non_null(reason);
    assert_memory_equal(reason, reason_start, strlen(reason_start));
}

static void test_command_check_rejects(void **state)
{
    (void)state;
    struct kv_bytes a[3] = {bytes_of("k"), bytes_of("v"), bytes_of("w")};
    struct kv_command c = {.op = KV_OP_SET, .flags = KV_FLAG_NX | KV_FLAG_XX, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_SETNX, .flags = KV_FLAG_GET, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_SET, .delta = 1, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_SET, .arg_count = 3, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR wrong number of arguments");
    c = (struct kv_command){.op = KV_OP_MSET, .arg_count = 3, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR wrong number of arguments");
    c = (struct kv_command){.op = KV_OP_DEL, .arg_count = 0, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR wrong number of arguments");
    c = (struct kv_command){.op = 0, .arg_count = 1, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR unknown command");
    c = (struct kv_command){.op = KV_OP_MAX + 1, .arg_count = 1, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR unknown command");
    /* The new ops: offsets never negative nor beyond the value bound, flags per op. */
    c = (struct kv_command){.op = KV_OP_SETRANGE, .delta = -1, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_SETBIT, .delta = KV_BIT_OFFSET_MAX + 1, .arg_count = 1, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_SETBIT, .delta = -1, .arg_count = 1, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_RENAME, .flags = KV_FLAG_REPLACE, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_COPY, .flags = KV_FLAG_NX, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_FLUSHALL, .arg_count = 1, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR wrong number of arguments");
    c = (struct kv_command){.op = KV_OP_INCRBYFLOAT, .delta = 1, .arg_count = 2, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR syntax error");
    c = (struct kv_command){.op = KV_OP_COPY, .arg_count = 3, .args = a};
    expect_rejected(&c, KV_ERR_INVALID, "ERR wrong number of arguments");
}

static void test_command_limits(void **state)
{
    (void)state;
    uint8_t *big = calloc(1, KV_VALUE_BYTES_MAX + 1);
    uint8_t *buf = malloc(KV_COMMAND_BYTES_MAX);
    assert_non_null(big);
    assert_non_null(buf);
    struct kv_bytes a[2] = {{big, KV_KEY_BYTES_MAX}, {big, KV_VALUE_BYTES_MAX}};
    struct kv_command c = {.op = KV_OP_SET, .arg_count = 2, .args = a};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_OK);
    struct kv_command out;
    struct kv_bytes args[ARGS_CAP];
    assert_int_equal(kv_command_decode(buf, len, &out, args, ARGS_CAP, &reason), KV_OK);

    a[0].len = KV_KEY_BYTES_MAX + 1;
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_ERR_TOO_LARGE);
    assert_string_equal(reason, "ERR key too large (max 4096 bytes)");
    a[0].len = 1;
    a[1].len = KV_VALUE_BYTES_MAX + 1;
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_ERR_TOO_LARGE);
    assert_string_equal(reason, "ERR value too large (max 1048576 bytes)");
    /* CAS checks both of its values, DEL every key. */
    struct kv_bytes cas[3] = {{big, 1}, {big, 1}, {big, KV_VALUE_BYTES_MAX + 1}};
    c = (struct kv_command){.op = KV_OP_CAS, .arg_count = 3, .args = cas};
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_ERR_TOO_LARGE);
    struct kv_bytes del[2] = {{big, 1}, {big, KV_KEY_BYTES_MAX + 1}};
    c = (struct kv_command){.op = KV_OP_DEL, .arg_count = 2, .args = del};
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_ERR_TOO_LARGE);
    /* MSET of many large values exceeds one entry. */
    struct kv_bytes mset[4] = {{big, 1}, {big, KV_VALUE_BYTES_MAX}, {big, 2}, {big, KV_VALUE_BYTES_MAX}};
    c = (struct kv_command){.op = KV_OP_MSET, .arg_count = 4, .args = mset};
    assert_int_equal(kv_command_encode(&c, buf, KV_COMMAND_BYTES_MAX, &len, &reason), KV_ERR_TOO_LARGE);
    assert_string_equal(reason, "ERR command too large");
    /* A small buffer reports the size needed. */
    struct kv_bytes small[2] = {{big, 3}, {big, 5}};
    c = (struct kv_command){.op = KV_OP_SET, .arg_count = 2, .args = small};
    assert_int_equal(kv_command_encode(&c, buf, 10, &len, &reason), KV_ERR_BUFFER);
    assert_int_equal(len, KV_COMMAND_HEADER_BYTES + 4 + 3 + 4 + 5);
    free(big);
    free(buf);
}

static int decode(const uint8_t *buf, size_t len)
{
    struct kv_command out;
    struct kv_bytes args[ARGS_CAP];
    const char *reason = NULL;
    int rv = kv_command_decode(buf, len, &out, args, ARGS_CAP, &reason);
    if (rv != KV_OK) {
        assert_non_null(reason);
        assert_memory_equal(reason, "ERR ", 4);
    }
    return rv;
}

static void test_command_decode_malformed(void **state)
{
    (void)state;
    struct kv_bytes a[4] = {bytes_of("key"), bytes_of("value"), bytes_of("k2"), bytes_of("v2")};
    struct kv_command c = {.op = KV_OP_MSET, .arg_count = 4, .args = a};
    uint8_t buf[BUF_BYTES];
    size_t len = encode_ok(&c, buf);
    assert_int_equal(decode(buf, len), KV_OK);
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(decode(buf, cut), KV_ERR_MALFORMED); /* every truncation */
    }
    uint8_t longer[BUF_BYTES];
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(decode(longer, len + 1), KV_ERR_MALFORMED); /* trailing byte */
    memcpy(longer, buf, len);
    longer[0] = 2;
    assert_int_equal(decode(longer, len), KV_ERR_VERSION);
    memcpy(longer, buf, len);
    longer[3] = 1;
    assert_int_equal(decode(longer, len), KV_ERR_MALFORMED); /* reserved byte */
    memcpy(longer, buf, len);
    memset(longer + 12, 0xff, 4);
    assert_int_equal(decode(longer, len), KV_ERR_MALFORMED); /* huge arg count */
    memcpy(longer, buf, len);
    memset(longer + 16, 0xff, 4);
    assert_int_equal(decode(longer, len), KV_ERR_MALFORMED); /* huge arg length */
    memcpy(longer, buf, len);
    longer[1] = 99;
    assert_int_equal(decode(longer, len), KV_ERR_INVALID); /* unknown op */
    assert_int_equal(decode(NULL, 0), KV_ERR_MALFORMED);

    /* More arguments than the caller's array holds. */
    struct kv_command out;
    struct kv_bytes args[2];
    const char *reason = NULL;
    assert_int_equal(kv_command_decode(buf, len, &out, args, 2, &reason), KV_ERR_MALFORMED);
}

/* Random mutations of valid commands: decoding must never crash or read out of bounds (ASan
 * watches), and what it accepts must re-encode to the same bytes. */
static void test_command_decode_mutations(void **state)
{
    (void)state;
    struct kv_bytes a[3] = {bytes_of("counter"), bytes_of("expected"), bytes_of("new")};
    struct kv_command c = {.op = KV_OP_CAS, .arg_count = 3, .args = a};
    uint8_t original[BUF_BYTES];
    size_t len = encode_ok(&c, original);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t *mutated = malloc(len); /* exact size so ASan catches any overread */
        assert_non_null(mutated);
        memcpy(mutated, original, len);
        for (int flips = 0; flips < 3; flips++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            mutated[seed % len] = (uint8_t)(seed >> 32);
        }
        size_t cut = (round % 4 == 0) ? (size_t)(seed >> 40) % (len + 1) : len;
        struct kv_command out;
        struct kv_bytes args[ARGS_CAP];
        const char *reason = NULL;
        if (kv_command_decode(mutated, cut, &out, args, ARGS_CAP, &reason) == KV_OK) {
            uint8_t again[BUF_BYTES];
            size_t again_len = encode_ok(&out, again);
            assert_int_equal(again_len, cut);
            assert_memory_equal(again, mutated, cut);
            accepted++;
        }
        free(mutated);
    }
    assert_true(accepted > 0); /* some mutations only touch argument bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_roundtrip_every_op),
        cmocka_unit_test(test_command_check_rejects),
        cmocka_unit_test(test_command_limits),
        cmocka_unit_test(test_command_decode_malformed),
        cmocka_unit_test(test_command_decode_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
