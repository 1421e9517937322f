/* test_kv_tx.c — transactions (MULTI/EXEC) as one entry: encoding bounds, atomic apply, reads
 * that see the transaction's own writes, WATCH aborts, malformed entries refused whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "storage/kv.h"
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

enum { BUF_BYTES = 1u << 16 };

struct fixture {
    char dir[64];
    struct kv *kv;
    uint64_t index;
    uint8_t commands[8][256];
    struct kv_bytes encoded[8];
    uint32_t count;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_tx.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct kv_options options;
    kv_options_defaults(&options);
    assert_int_equal(kv_open(f->dir, &options, &f->kv), KV_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_close(f->kv);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", f->dir);
    assert_int_equal(system(command), 0);
    free(f);
    return 0;
}

/* Adds one command (op, args as C strings) to the transaction being built. */
static void add(struct fixture *f, uint8_t op, int64_t delta, int argc, ...)
{
    struct kv_bytes args[4];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        const char *a = va_arg(ap, const char *);
        args[i] = (struct kv_bytes){.data = (const uint8_t *)a, .len = strlen(a)};
    }
    va_end(ap);
    struct kv_command c = {.op = op, .delta = delta, .arg_count = (uint32_t)argc, .args = args};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&c, f->commands[f->count], 256, &len, &reason), KV_OK);
    f->encoded[f->count] = (struct kv_bytes){.data = f->commands[f->count], .len = len};
    f->count++;
}

/* Applies the transaction built so far (with the given watches) as the next entry. */
static struct kv_result apply(struct fixture *f, const struct kv_tx_watch *watches,
                              uint32_t watch_count, uint8_t *buf)
{
    size_t bytes = kv_tx_encoded_bytes(watches, watch_count, f->encoded, f->count);
    assert_true(bytes <= BUF_BYTES);
    size_t len = kv_tx_encode(watches, watch_count, f->encoded, f->count, buf, BUF_BYTES);
    assert_int_equal(len, bytes);
    assert_true(kv_tx_is(buf, len));
    struct kv_apply_item item = {.index = ++f->index, .term = 1, .kind = KV_ITEM_TX,
                                 .data = buf, .data_len = (uint32_t)len};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(f->kv, &item, 1, &result), KV_OK);
    f->count = 0;
    return result;
}

static void expect_stored(struct fixture *f, const char *key, const char *value)
{
    uint8_t buf[256];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)key, strlen(key), buf, sizeof buf, &len,
                            &found), KV_OK);
    if (value == NULL) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(buf, value, len);
}

static void test_tx_runs_in_order_and_reads_its_writes(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = malloc(BUF_BYTES);
    add(f, KV_OP_SET, 0, 2, "a", "1");
    add(f, KV_OP_INCRBY, 5, 1, "a");
    add(f, KV_OP_GET, 0, 1, "a");
    add(f, KV_OP_SET, 0, 2, "s", "text");
    add(f, KV_OP_INCRBY, 1, 1, "s"); /* fails alone; the others run */
    add(f, KV_OP_MGET, 0, 3, "a", "s", "none");
    add(f, KV_OP_EXISTS, 0, 3, "a", "a", "none");
    add(f, KV_OP_STRLEN, 0, 1, "s");
    struct kv_result r = apply(f, NULL, 0, buf);
    assert_int_equal(r.type, KV_RESULT_ARRAY);
    assert_int_equal(r.element_count, 8);
    assert_int_equal(r.elements[0].type, KV_RESULT_OK);
    assert_int_equal(r.elements[1].type, KV_RESULT_INTEGER);
    assert_int_equal(r.elements[1].integer, 6);
    assert_int_equal(r.elements[2].type, KV_RESULT_BULK);
    assert_memory_equal(r.elements[2].bulk, "6", 1);
    assert_int_equal(r.elements[4].type, KV_RESULT_ERROR);
    const struct kv_result *mget = &r.elements[5];
    assert_int_equal(mget->type, KV_RESULT_ARRAY);
    assert_int_equal(mget->element_count, 3);
    assert_int_equal(mget->elements[0].bulk_len, 1);
    assert_memory_equal(mget->elements[1].bulk, "text", 4);
    assert_int_equal(mget->elements[2].type, KV_RESULT_NULL);
    assert_int_equal(r.elements[6].integer, 2);
    assert_int_equal(r.elements[7].integer, 4);
    expect_stored(f, "a", "6");
    uint64_t index, term;
    kv_applied(f->kv, &index, &term);
    assert_int_equal(index, f->index);
    free(buf);
}

static void test_tx_watch_aborts_when_the_key_changed(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = malloc(BUF_BYTES);
    add(f, KV_OP_SET, 0, 2, "w", "before");
    apply(f, NULL, 0, buf);
    struct kv_tx_watch seen = {.key = {.data = (const uint8_t *)"w", .len = 1}, .exists = true,
                               .hash = kv_tx_value_hash((const uint8_t *)"before", 6)};
    struct kv_tx_watch absent = {.key = {.data = (const uint8_t *)"n", .len = 1}};
    add(f, KV_OP_SET, 0, 2, "w", "mine");
    struct kv_result r = apply(f, (struct kv_tx_watch[]){seen, absent}, 2, buf);
    assert_int_equal(r.type, KV_RESULT_ARRAY); /* both as seen: it runs */
    expect_stored(f, "w", "mine");
    add(f, KV_OP_SET, 0, 2, "w", "again");
    r = apply(f, &seen, 1, buf); /* w is "mine" now, not "before" */
    assert_int_equal(r.type, KV_RESULT_NULL_ARRAY);
    expect_stored(f, "w", "mine");
    add(f, KV_OP_SET, 0, 2, "n", "x");
    apply(f, NULL, 0, buf);
    add(f, KV_OP_DEL, 0, 1, "w");
    r = apply(f, &absent, 1, buf); /* n exists now */
    assert_int_equal(r.type, KV_RESULT_NULL_ARRAY);
    expect_stored(f, "w", "mine");
    free(buf);
}

static void test_tx_malformed_is_refused_whole(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = malloc(BUF_BYTES);
    add(f, KV_OP_SET, 0, 2, "m", "1");
    add(f, KV_OP_SET, 0, 2, "m2", "2");
    size_t len = kv_tx_encode(NULL, 0, f->encoded, f->count, buf, BUF_BYTES);
    f->count = 0;
    /* Every truncation and a trailing byte: refused, nothing applied, the index advances. */
    for (size_t cut = 0; cut <= len + 1; cut++) {
        if (cut == len)
            continue;
        struct kv_apply_item item = {.index = ++f->index, .term = 1, .kind = KV_ITEM_TX,
                                     .data = buf, .data_len = (uint32_t)cut};
        struct kv_result r;
        assert_int_equal(kv_apply_batch(f->kv, &item, 1, &r), KV_OK);
        assert_int_equal(r.type, KV_RESULT_ERROR);
        expect_stored(f, "m", NULL);
    }
    struct kv_tx_reader reader;
    buf[7] = 0xff; /* watch count over the bound */
    assert_int_equal(kv_tx_open(&reader, buf, len), KV_ERR_MALFORMED);
    free(buf);
}

static void test_tx_empty_and_marker(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[64];
    struct kv_result r = apply(f, NULL, 0, buf);
    assert_int_equal(r.type, KV_RESULT_ARRAY);
    assert_int_equal(r.element_count, 0);
    /* A single command never starts with the marker: its first byte is a version. */
    uint8_t command[64];
    size_t len = 0;
    const char *reason = NULL;
    struct kv_bytes none[1];
    struct kv_command c = {.op = KV_OP_FLUSHALL, .args = none};
    assert_int_equal(kv_command_encode(&c, command, sizeof command, &len, &reason), KV_OK);
    assert_false(kv_tx_is(command, len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tx_runs_in_order_and_reads_its_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tx_watch_aborts_when_the_key_changed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tx_malformed_is_refused_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_empty_and_marker, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
