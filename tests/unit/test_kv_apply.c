/* test_kv_apply.c — applying commands: Redis semantics, limits, batches, the applied index. */
#include <dirent.h>
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

#include "../support/kv_fixture.h"
#include "storage/kv_internal.h" /* white box: to plant a hash collision */

enum { ARGS_MAX = 8, ENTRY_BYTES_MAX = 3u << 20 };

struct fixture {
    char dir[64];
    struct kv *kv;
    uint8_t *entry; /* ENTRY_BYTES_MAX */
};

static int setup_with_map(void **state, uint64_t map_bytes)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_apply.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct kv_options options;
    kv_options_defaults(&options);
    if (map_bytes != 0) {
        options.map_bytes = map_bytes;
    }
    assert_int_equal(kv_open(f->dir, &options, &f->kv), KV_OK);
    f->entry = malloc(ENTRY_BYTES_MAX);
    assert_non_null(f->entry);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with_map(state, 0);
}

static int setup_small_map(void **state)
{
    return setup_with_map(state, 256u << 10);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_close(f->kv);
    kv_fixture_remove_dir(f->dir);
    free(f->entry);
    free(f);
    return 0;
}

static uint64_t next_index(struct fixture *f)
{
    uint64_t index, term;
    kv_applied(f->kv, &index, &term);
    return index + 1;
}

/* Encodes one command and applies it alone; returns its result. */
static struct kv_result apply_args(struct fixture *f, uint8_t op, uint8_t flags, int64_t delta,
                                   const struct kv_bytes *args, uint32_t arg_count)
{
    struct kv_command command = {.op = op, .flags = flags, .delta = delta, .arg_count = arg_count,
                                 .args = args};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&command, f->entry, ENTRY_BYTES_MAX, &len, &reason), KV_OK);
    struct kv_apply_item item = {.index = next_index(f), .term = 1, .kind = KV_ITEM_COMMAND,
                                 .data = f->entry, .data_len = (uint32_t)len};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(f->kv, &item, 1, &result), KV_OK);
    return result;
}

static struct kv_result apply(struct fixture *f, uint8_t op, uint8_t flags, int64_t delta,
                              uint32_t arg_count, ...)
{
    struct kv_bytes args[ARGS_MAX];
    assert_true(arg_count <= ARGS_MAX);
    va_list ap;
    va_start(ap, arg_count);
    for (uint32_t i = 0; i < arg_count; i++) {
        args[i] = kv_fixture_text(va_arg(ap, const char *));
    }
    va_end(ap);
    return apply_args(f, op, flags, delta, args, arg_count);
}

static void check_ok(struct kv_result r)
{
    assert_int_equal(r.type, KV_RESULT_OK);
}
static void check_null(struct kv_result r)
{
    assert_int_equal(r.type, KV_RESULT_NULL);
}
static void check_integer(struct kv_result r, int64_t value)
{
    assert_int_equal(r.type, KV_RESULT_INTEGER);
    assert_true(r.integer == value);
}
static void check_bulk(struct kv_result r, const char *value)
{
    assert_int_equal(r.type, KV_RESULT_BULK);
    assert_int_equal(r.bulk_len, strlen(value));
    assert_memory_equal(r.bulk, value, r.bulk_len);
}
static void count_key(void *ctx, const uint8_t *key, size_t key_len)
{
    (void)key;
    (void)key_len;
    (*(int *)ctx)++;
}
static void check_error(struct kv_result r, const char *error)
{
    assert_int_equal(r.type, KV_RESULT_ERROR);
    assert_string_equal(r.error, error);
}

/* The stored value of key, or NULL-equivalent "(nil)". */
static void assert_value(struct fixture *f, const char *key, const char *value)
{
    uint8_t buf[256];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)key, strlen(key), buf, sizeof buf, &len, &found), KV_OK);
    if (value == NULL) {
        assert_false(found);
        return;
    }
    assert_true(found);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(buf, value, len);
}

static void test_set_options(void **state)
{
    struct fixture *f = *state;
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "k", "v1"));
    assert_value(f, "k", "v1");
    check_null(apply(f, KV_OP_SET, KV_FLAG_NX, 0, 2, "k", "v2")); /* exists: NX fails */
    assert_value(f, "k", "v1");
    check_ok(apply(f, KV_OP_SET, KV_FLAG_XX, 0, 2, "k", "v3"));
    assert_value(f, "k", "v3");
    check_null(apply(f, KV_OP_SET, KV_FLAG_XX, 0, 2, "missing", "v"));
    assert_value(f, "missing", NULL);
    check_ok(apply(f, KV_OP_SET, KV_FLAG_NX, 0, 2, "fresh", "v"));
    assert_value(f, "fresh", "v");
    check_bulk(apply(f, KV_OP_SET, KV_FLAG_GET, 0, 2, "k", "v4"), "v3");
    check_null(apply(f, KV_OP_SET, KV_FLAG_GET, 0, 2, "new", "n"));
    assert_value(f, "new", "n");
    /* NX GET on an existing key: not set, but the old value is returned (Redis 7). */
    check_bulk(apply(f, KV_OP_SET, KV_FLAG_NX | KV_FLAG_GET, 0, 2, "k", "v5"), "v4");
    assert_value(f, "k", "v4");
    check_null(apply(f, KV_OP_SET, KV_FLAG_XX | KV_FLAG_GET, 0, 2, "absent", "x"));
    assert_value(f, "absent", NULL);
    /* Empty key and empty value are legal byte strings. */
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "", ""));
    assert_value(f, "", "");
}

static void test_setnx_getset_getdel(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_SETNX, 0, 0, 2, "a", "1"), 1);
    check_integer(apply(f, KV_OP_SETNX, 0, 0, 2, "a", "2"), 0);
    assert_value(f, "a", "1");
    check_bulk(apply(f, KV_OP_GETSET, 0, 0, 2, "a", "3"), "1");
    assert_value(f, "a", "3");
    check_null(apply(f, KV_OP_GETSET, 0, 0, 2, "b", "x"));
    assert_value(f, "b", "x");
    check_bulk(apply(f, KV_OP_GETDEL, 0, 0, 1, "a"), "3");
    assert_value(f, "a", NULL);
    check_null(apply(f, KV_OP_GETDEL, 0, 0, 1, "a"));
}

static void test_del_many(void **state)
{
    struct fixture *f = *state;
    check_ok(apply(f, KV_OP_MSET, 0, 0, 6, "a", "1", "b", "2", "c", "3"));
    check_integer(apply(f, KV_OP_DEL, 0, 0, 4, "a", "c", "zz", "a"), 2); /* a counted once */
    assert_value(f, "a", NULL);
    assert_value(f, "b", "2");
    assert_value(f, "c", NULL);
    check_integer(apply(f, KV_OP_DEL, 0, 0, 1, "a"), 0);
}

static void test_cas(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_CAS, 0, 0, 3, "k", "old", "new"), 0); /* missing key */
    assert_value(f, "k", NULL);
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "k", "old"));
    check_integer(apply(f, KV_OP_CAS, 0, 0, 3, "k", "wrong", "new"), 0);
    check_integer(apply(f, KV_OP_CAS, 0, 0, 3, "k", "ol", "new"), 0); /* prefix is not equal */
    assert_value(f, "k", "old");
    check_integer(apply(f, KV_OP_CAS, 0, 0, 3, "k", "old", "new"), 1);
    assert_value(f, "k", "new");
}

static void test_incrby(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_INCRBY, 0, 1, 1, "n"), 1); /* missing counts as 0 */
    check_integer(apply(f, KV_OP_INCRBY, 0, 41, 1, "n"), 42);
    check_integer(apply(f, KV_OP_INCRBY, 0, -50, 1, "n"), -8);
    assert_value(f, "n", "-8");
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "max", "9223372036854775807"));
    check_error(apply(f, KV_OP_INCRBY, 0, 1, 1, "max"), "ERR increment or decrement would overflow");
    assert_value(f, "max", "9223372036854775807");
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "min", "-9223372036854775808"));
    check_error(apply(f, KV_OP_INCRBY, 0, -1, 1, "min"), "ERR increment or decrement would overflow");
    check_integer(apply(f, KV_OP_INCRBY, 0, INT64_MAX, 1, "min"), -1);
    const char *not_integers[] = {"abc", "", " 1", "1 ", "+1", "01", "-0", "1.5", "-",
                                  "9223372036854775808", "-9223372036854775809",
                                  "123456789012345678901"};
    for (size_t i = 0; i < sizeof not_integers / sizeof not_integers[0]; i++) {
        check_ok(apply(f, KV_OP_SET, 0, 0, 2, "s", not_integers[i]));
        check_error(apply(f, KV_OP_INCRBY, 0, 1, 1, "s"), "ERR value is not an integer or out of range");
        assert_value(f, "s", not_integers[i]);
    }
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "z", "0"));
    check_integer(apply(f, KV_OP_INCRBY, 0, -1, 1, "z"), -1);
}

static void test_append(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_APPEND, 0, 0, 2, "s", "Hello"), 5);
    check_integer(apply(f, KV_OP_APPEND, 0, 0, 2, "s", " World"), 11);
    assert_value(f, "s", "Hello World");
    /* Up to the value limit exactly, then one byte more is refused. */
    uint8_t *big = calloc(1, KV_VALUE_BYTES_MAX);
    assert_non_null(big);
    struct kv_bytes args[2] = {kv_fixture_text("big"), {big, KV_VALUE_BYTES_MAX - 1}};
    check_ok(apply_args(f, KV_OP_SET, 0, 0, args, 2));
    check_integer(apply(f, KV_OP_APPEND, 0, 0, 2, "big", "x"), KV_VALUE_BYTES_MAX);
    check_error(apply(f, KV_OP_APPEND, 0, 0, 2, "big", "y"),
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    uint64_t len = 0;
    assert_int_equal(kv_strlen(f->kv, (const uint8_t *)"big", 3, &len), KV_OK);
    assert_int_equal(len, KV_VALUE_BYTES_MAX);
    free(big);
}

static void test_mset_msetnx(void **state)
{
    struct fixture *f = *state;
    check_ok(apply(f, KV_OP_MSET, 0, 0, 6, "a", "1", "b", "2", "a", "3")); /* last one wins */
    assert_value(f, "a", "3");
    assert_value(f, "b", "2");
    check_integer(apply(f, KV_OP_MSETNX, 0, 0, 4, "c", "1", "b", "9"), 0); /* b exists: none set */
    assert_value(f, "c", NULL);
    assert_value(f, "b", "2");
    check_integer(apply(f, KV_OP_MSETNX, 0, 0, 4, "c", "1", "d", "2"), 1);
    assert_value(f, "c", "1");
    assert_value(f, "d", "2");
}

/* Keys longer than LMDB's 511-byte limit go under a prefix + hash; all ops work on them. */
static void test_long_keys(void **state)
{
    struct fixture *f = *state;
    static uint8_t key1[KV_KEY_BYTES_MAX], key2[KV_KEY_BYTES_MAX];
    memset(key1, 'k', sizeof key1);
    memset(key2, 'k', sizeof key2);
    key2[sizeof key2 - 1] = 'j'; /* same 480-byte prefix, different key */
    struct kv_bytes a1[2] = {{key1, sizeof key1}, kv_fixture_text("one")};
    struct kv_bytes a2[2] = {{key2, sizeof key2}, kv_fixture_text("two")};
    struct kv_bytes a3[2] = {{key1, 481}, kv_fixture_text("short")};
    check_ok(apply_args(f, KV_OP_SET, 0, 0, a1, 2));
    check_ok(apply_args(f, KV_OP_SET, 0, 0, a2, 2));
    check_ok(apply_args(f, KV_OP_SET, 0, 0, a3, 2));
    uint8_t buf[16];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, key1, sizeof key1, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(kv_get(f->kv, key2, sizeof key2, buf, sizeof buf, &len, &found), KV_OK);
    assert_memory_equal(buf, "two", 3);
    assert_int_equal(kv_get(f->kv, key1, 481, buf, sizeof buf, &len, &found), KV_OK);
    assert_memory_equal(buf, "short", 5);
    assert_int_equal(kv_get(f->kv, key1, 600, buf, sizeof buf, &len, &found), KV_OK);
    assert_false(found);
    struct kv_bytes inc[1] = {{key1, sizeof key1}};
    check_error(apply_args(f, KV_OP_INCRBY, 0, 1, inc, 1), "ERR value is not an integer or out of range");
    check_integer(apply_args(f, KV_OP_APPEND, 0, 0, a1, 2), 6);
    check_bulk(apply_args(f, KV_OP_GETSET, 0, 0, a1, 2), "oneone");
    check_integer(apply_args(f, KV_OP_DEL, 0, 0, inc, 1), 1);
    assert_int_equal(kv_get(f->kv, key1, sizeof key1, buf, sizeof buf, &len, &found), KV_OK);
    assert_false(found);
    uint64_t count = 0;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, 2);
}

static void test_batch_skip_noop_config_and_reopen(void **state)
{
    struct fixture *f = *state;
    uint8_t set_a[64], set_b[64];
    size_t len_a = 0, len_b = 0;
    const char *reason = NULL;
    struct kv_bytes args_a[2] = {kv_fixture_text("a"), kv_fixture_text("1")}, args_b[2] = {kv_fixture_text("b"), kv_fixture_text("2")};
    struct kv_command ca = {.op = KV_OP_SET, .arg_count = 2, .args = args_a};
    struct kv_command cb = {.op = KV_OP_INCRBY, .delta = 5, .arg_count = 1, .args = args_b};
    assert_int_equal(kv_command_encode(&ca, set_a, sizeof set_a, &len_a, &reason), KV_OK);
    assert_int_equal(kv_command_encode(&cb, set_b, sizeof set_b, &len_b, &reason), KV_OK);
    const uint8_t garbage[] = {1, 2, 3};
    const uint8_t config[] = {'m', 'e', 'm', 'b', 'e', 'r', 's'};
    struct kv_apply_item items[] = {
        {.index = 1, .term = 1, .kind = KV_ITEM_NOOP},
        {.index = 2, .term = 1, .kind = KV_ITEM_COMMAND, .data = set_a, .data_len = (uint32_t)len_a},
        {.index = 3, .term = 2, .kind = KV_ITEM_CONFIG, .data = config, .data_len = sizeof config},
        {.index = 4, .term = 2, .kind = KV_ITEM_COMMAND, .data = garbage, .data_len = sizeof garbage},
        {.index = 5, .term = 3, .kind = KV_ITEM_COMMAND, .data = set_b, .data_len = (uint32_t)len_b},
    };
    struct kv_result results[5];
    assert_int_equal(kv_apply_batch(f->kv, items, 5, results), KV_OK);
    assert_int_equal(results[0].type, KV_RESULT_NONE);
    check_ok(results[1]);
    assert_int_equal(results[2].type, KV_RESULT_NONE);
    check_error(results[3], "ERR malformed command"); /* corrupt entry: error, index advances */
    check_integer(results[4], 5);
    uint64_t index, term;
    kv_applied(f->kv, &index, &term);
    assert_int_equal(index, 5);
    assert_int_equal(term, 3);

    /* Restart: the applied index and the data survive; a WAL replay from an older point
     * skips what is already applied (b stays 5, not 10). */
    kv_close(f->kv);
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);
    kv_applied(f->kv, &index, &term);
    assert_int_equal(index, 5);
    assert_int_equal(term, 3);
    assert_int_equal(kv_apply_batch(f->kv, items + 1, 4, results), KV_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(results[i].type, KV_RESULT_NONE);
    }
    assert_value(f, "a", "1");
    assert_value(f, "b", "5");
    uint8_t buf[KV_CONFIG_BYTES_MAX];
    size_t config_len = 0;
    assert_int_equal(kv_config_get(f->kv, buf, sizeof buf, &config_len), KV_OK);
    assert_int_equal(config_len, sizeof config);
    assert_memory_equal(buf, config, sizeof config);
    assert_int_equal(kv_sync(f->kv), KV_OK);
}

/* Many results in one batch, bulk values copied out of the txn: all stay valid together
 * (checked against a model of the last byte written per key). */
static void test_batch_results_stay_valid(void **state)
{
    struct fixture *f = *state;
    enum { COUNT = 200, KEYS = 50, VALUE_BYTES = 1000 };
    static uint8_t entries[COUNT][VALUE_BYTES + 64];
    static uint8_t value[VALUE_BYTES];
    struct kv_apply_item items[COUNT];
    struct kv_result results[COUNT];
    uint8_t model[KEYS] = {0}; /* 0: key absent */
    uint8_t expect[COUNT];
    uint64_t first = next_index(f);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < COUNT; i++) {
            uint8_t fill = (uint8_t)('a' + (i * 7 + round) % 26);
            memset(value, fill, sizeof value);
            char key[16];
            snprintf(key, sizeof key, "key%d", i % KEYS); /* each key set 4 times per batch */
            expect[i] = model[i % KEYS];
            model[i % KEYS] = fill;
            struct kv_bytes args[2] = {kv_fixture_text(key), {value, sizeof value}};
            struct kv_command c = {.op = KV_OP_GETSET, .arg_count = 2, .args = args};
            size_t len = 0;
            const char *reason = NULL;
            assert_int_equal(kv_command_encode(&c, entries[i], sizeof entries[i], &len, &reason), KV_OK);
            items[i] = (struct kv_apply_item){.index = first + (uint64_t)(round * COUNT + i), .term = 1,
                                              .kind = KV_ITEM_COMMAND, .data = entries[i],
                                              .data_len = (uint32_t)len};
        }
        assert_int_equal(kv_apply_batch(f->kv, items, COUNT, results), KV_OK);
        for (int i = 0; i < COUNT; i++) {
            if (expect[i] == 0) {
                check_null(results[i]);
                continue;
            }
            assert_int_equal(results[i].type, KV_RESULT_BULK);
            assert_int_equal(results[i].bulk_len, VALUE_BYTES);
            assert_int_equal(results[i].bulk[0], expect[i]);
            assert_int_equal(results[i].bulk[VALUE_BYTES - 1], expect[i]);
        }
    }
}

/*
 * Two long keys that share their prefix and hash cannot be produced on purpose, so the test
 * plants, under key A's LMDB key, a record that belongs to key B. A must then read as absent,
 * writes to A must fail alone (rolled back in a nested txn) and B's record stay intact.
 */
static void test_long_key_collision(void **state)
{
    struct fixture *f = *state;
    static uint8_t key_a[1000], key_b[1000];
    memset(key_a, 'p', sizeof key_a);
    memset(key_b, 'p', sizeof key_b);
    key_b[999] = 'q';
    struct kv_slot slot_a;
    kv_slot_init(&slot_a, key_a, sizeof key_a);
    struct kv_slot slot_b_under_a = slot_a;
    slot_b_under_a.key = key_b; /* B's suffix, A's LMDB key */
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, 0, &txn), MDB_SUCCESS);
    struct kv_bytes planted = kv_fixture_text("b-value");
    assert_int_equal(kv_slot_put(txn, f->kv->data_dbi, &slot_b_under_a, &planted, 1), MDB_SUCCESS);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);

    uint8_t buf[16];
    size_t len = 0;
    bool found = true;
    assert_int_equal(kv_get(f->kv, key_a, sizeof key_a, buf, sizeof buf, &len, &found), KV_OK);
    assert_false(found);
    struct kv_bytes set_a[2] = {{key_a, sizeof key_a}, kv_fixture_text("a-value")};
    check_error(apply_args(f, KV_OP_SET, 0, 0, set_a, 2), "ERR key hash collision");
    struct kv_bytes mset[4] = {kv_fixture_text("ok"), kv_fixture_text("1"), {key_a, sizeof key_a}, kv_fixture_text("x")};
    check_error(apply_args(f, KV_OP_MSET, 0, 0, mset, 4), "ERR key hash collision");
    assert_value(f, "ok", NULL); /* the MSET was rolled back whole */
    check_integer(apply_args(f, KV_OP_DEL, 0, 0, set_a, 1), 0);
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "after", "1")); /* the fast path again */
    assert_value(f, "after", "1");
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    struct kv_bytes value;
    assert_int_equal(kv_slot_get(txn, f->kv->data_dbi, &slot_b_under_a, &value, &found), MDB_SUCCESS);
    assert_true(found);
    assert_int_equal(value.len, 7);
    mdb_txn_abort(txn);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb/sub", f->dir); /* data.mdb is a file */
    struct kv *other = NULL;
    assert_int_equal(kv_open(path, NULL, &other), KV_ERR_IO);
    assert_null(other);
    assert_true(strlen(kv_last_error()) > 0);
    struct kv_read read;
    assert_int_equal(kv_read_begin(f->kv, &read), KV_OK);
    uint64_t index = 1, term = 1;
    assert_int_equal(kv_read_applied(&read, &index, &term), KV_OK);
    assert_int_equal(index, 0);
    kv_read_end(&read);
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "k", "v"));
    assert_int_equal(kv_read_begin(f->kv, &read), KV_OK);
    assert_int_equal(kv_read_applied(&read, &index, &term), KV_OK);
    assert_int_equal(index, 1);
    kv_read_end(&read);
}

/* A full map fails the command that did not fit, not the batch nor the store. */
static void test_map_full(void **state)
{
    struct fixture *f = *state;
    enum { BIG = 300u << 10 };
    uint8_t *big = calloc(1, BIG);
    uint8_t *entry = malloc(BIG + 64);
    assert_non_null(big);
    assert_non_null(entry);
    uint8_t small_a[64], small_b[64];
    size_t len_big = 0, len_a = 0, len_b = 0;
    const char *reason = NULL;
    struct kv_bytes args_big[2] = {kv_fixture_text("big"), {big, BIG}};
    struct kv_bytes args_a[2] = {kv_fixture_text("a"), kv_fixture_text("1")}, args_b[2] = {kv_fixture_text("b"), kv_fixture_text("2")};
    struct kv_command c = {.op = KV_OP_SET, .arg_count = 2, .args = args_big};
    assert_int_equal(kv_command_encode(&c, entry, BIG + 64, &len_big, &reason), KV_OK);
    c.args = args_a;
    assert_int_equal(kv_command_encode(&c, small_a, sizeof small_a, &len_a, &reason), KV_OK);
    c.args = args_b;
    assert_int_equal(kv_command_encode(&c, small_b, sizeof small_b, &len_b, &reason), KV_OK);
    struct kv_apply_item items[] = {
        {.index = 1, .term = 1, .kind = KV_ITEM_COMMAND, .data = small_a, .data_len = (uint32_t)len_a},
        {.index = 2, .term = 1, .kind = KV_ITEM_COMMAND, .data = entry, .data_len = (uint32_t)len_big},
        {.index = 3, .term = 1, .kind = KV_ITEM_COMMAND, .data = small_b, .data_len = (uint32_t)len_b},
    };
    struct kv_result results[3];
    assert_int_equal(kv_apply_batch(f->kv, items, 3, results), KV_OK);
    check_ok(results[0]);
    check_error(results[1], "ERR storage full");
    check_ok(results[2]);
    assert_value(f, "a", "1");
    assert_value(f, "big", NULL);
    assert_value(f, "b", "2");
    uint64_t index, term;
    kv_applied(f->kv, &index, &term);
    assert_int_equal(index, 3);
    free(big);
    free(entry);
}

static void test_flushall(void **state)
{
    struct fixture *f = *state;
    check_ok(apply(f, KV_OP_MSET, 0, 0, 4, "a", "1", "b", "2"));
    check_ok(apply(f, KV_OP_FLUSHALL, 0, 0, 0));
    uint64_t count = 99;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, 0);
    assert_value(f, "a", NULL);
    /* The scan order goes with the keys: nothing is left to scan. */
    struct kv_scan_cursor cursor = {0};
    int calls = 0;
    assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 10, &calls, count_key), KV_OK);
    assert_true(cursor.done);
    assert_int_equal(calls, 0);
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "a", "3"));
    assert_value(f, "a", "3");
}

static void test_incrbyfloat(void **state)
{
    struct fixture *f = *state;
    check_bulk(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "f", "10.5"), "10.5");
    check_bulk(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "f", "0.1"), "10.6");
    assert_value(f, "f", "10.6");
    check_bulk(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "f", "-10.6"), "0");
    check_bulk(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "e", "5.0e3"), "5000");
    /* As Redis: long double arithmetic, 17 decimals, trailing zeroes trimmed. */
    check_bulk(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "e", "2.0e-3"), "5000.00199999999999978");
    check_error(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "e", "abc"), "ERR value is not a valid float");
    check_error(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "e", " 1"), "ERR value is not a valid float");
    check_error(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "e", "inf"),
                "ERR increment would produce NaN or Infinity");
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "s", "text"));
    check_error(apply(f, KV_OP_INCRBYFLOAT, 0, 0, 2, "s", "1"), "ERR value is not a valid float");
    assert_value(f, "e", "5000.00199999999999978"); /* a failed increment changes nothing */
}

static void test_setrange(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_SETRANGE, 0, 5, 2, "r", ""), 0);
    assert_value(f, "r", NULL); /* nothing to write creates no key */
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "r", "Hello World"));
    check_integer(apply(f, KV_OP_SETRANGE, 0, 6, 2, "r", "Redis"), 11);
    assert_value(f, "r", "Hello Redis");
    check_integer(apply(f, KV_OP_SETRANGE, 0, 0, 2, "r", ""), 11);
    check_integer(apply(f, KV_OP_SETRANGE, 0, 2, 2, "z", "ab"), 4);
    uint8_t buf[8];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"z", 1, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "\0\0ab", 4);
    check_error(apply(f, KV_OP_SETRANGE, 0, KV_VALUE_BYTES_MAX, 2, "z", "x"),
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

static void test_setbit(void **state)
{
    struct fixture *f = *state;
    check_integer(apply(f, KV_OP_SETBIT, KV_FLAG_BIT, 7, 1, "b"), 0);
    assert_value(f, "b", "\x01");
    check_integer(apply(f, KV_OP_SETBIT, KV_FLAG_BIT, 1, 1, "b"), 0);
    assert_value(f, "b", "A");
    check_integer(apply(f, KV_OP_SETBIT, 0, 7, 1, "b"), 1);
    assert_value(f, "b", "@");
    check_integer(apply(f, KV_OP_SETBIT, 0, 15, 1, "b"), 0); /* grows, zero-filled */
    check_integer(apply(f, KV_OP_SETBIT, KV_FLAG_BIT, KV_BIT_OFFSET_MAX, 1, "big"), 0);
}

static void test_rename_copy(void **state)
{
    struct fixture *f = *state;
    check_error(apply(f, KV_OP_RENAME, 0, 0, 2, "nope", "x"), "ERR no such key");
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "a", "1"));
    check_ok(apply(f, KV_OP_RENAME, 0, 0, 2, "a", "a")); /* onto itself: no change */
    assert_value(f, "a", "1");
    check_ok(apply(f, KV_OP_RENAME, 0, 0, 2, "a", "b"));
    assert_value(f, "a", NULL);
    assert_value(f, "b", "1");
    check_ok(apply(f, KV_OP_SET, 0, 0, 2, "c", "2"));
    check_integer(apply(f, KV_OP_RENAME, KV_FLAG_NX, 0, 2, "b", "c"), 0);
    check_integer(apply(f, KV_OP_RENAME, KV_FLAG_NX, 0, 2, "b", "b"), 0);
    check_integer(apply(f, KV_OP_RENAME, KV_FLAG_NX, 0, 2, "b", "d"), 1);
    assert_value(f, "d", "1");
    check_integer(apply(f, KV_OP_COPY, 0, 0, 2, "missing", "e"), 0);
    check_integer(apply(f, KV_OP_COPY, 0, 0, 2, "d", "e"), 1);
    check_integer(apply(f, KV_OP_COPY, 0, 0, 2, "c", "e"), 0);
    assert_value(f, "e", "1");
    check_integer(apply(f, KV_OP_COPY, KV_FLAG_REPLACE, 0, 2, "c", "e"), 1);
    assert_value(f, "e", "2");
    assert_value(f, "c", "2");
    uint64_t count = 0;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, 3); /* c, d, e */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setnx_getset_getdel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_del_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mset_msetnx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_skip_noop_config_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_results_stay_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup_small_map, teardown),
        cmocka_unit_test_setup_teardown(test_long_key_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setbit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_copy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
