/* test_kv_read.c — reads: get with buffers, exists, strlen, dbsize and SCAN completeness. */
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
#include "storage/kv_internal.h"

#include "../support/kv_fixture.h"

enum { KEY_COUNT = 1000, LONG_KEY_BYTES = 1000, SEEN_MAX = KEY_COUNT + 100 };

struct fixture {
    char dir[64];
    struct kv *kv;
};

/* Key i: "user:<i>"; every tenth key is long (LONG_KEY_BYTES, stored under prefix + hash). */
static size_t make_key(int i, uint8_t *key)
{
    int len = snprintf((char *)key, 32, "user:%d", i);
    if (i % 10 != 0) {
        return (size_t)len;
    }
    memset(key + len, '.', LONG_KEY_BYTES - (size_t)len);
    return LONG_KEY_BYTES;
}

static void set_keys(struct kv *kv, int from, int to)
{
    static uint8_t keys[2][LONG_KEY_BYTES];
    static uint8_t entry[2 * LONG_KEY_BYTES + 64];
    for (int i = from; i < to; i++) {
        struct kv_bytes args[2] = {{keys[0], make_key(i, keys[0])}, {(const uint8_t *)"v", 1}};
        struct kv_command c = {.op = KV_OP_SET, .arg_count = 2, .args = args};
        size_t len = 0;
        const char *reason = NULL;
        assert_int_equal(kv_command_encode(&c, entry, sizeof entry, &len, &reason), KV_OK);
        uint64_t index, term;
        kv_applied(kv, &index, &term);
        struct kv_apply_item item = {.index = index + 1, .term = 1, .kind = KV_ITEM_COMMAND,
                                     .data = entry, .data_len = (uint32_t)len};
        assert_int_equal(kv_apply_batch(kv, &item, 1, NULL), KV_OK);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_read.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);
    set_keys(f->kv, 0, KEY_COUNT);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_close(f->kv);
    kv_fixture_remove_dir(f->dir);
    free(f);
    return 0;
}

struct seen {
    int count[SEEN_MAX + 1000];
    int calls;
};

/* Parses "user:<n>" back to n and counts it. */
static void on_key(void *ctx, const uint8_t *key, size_t key_len)
{
    struct seen *seen = ctx;
    assert_true(key_len >= 6 && key_len <= LONG_KEY_BYTES);
    assert_memory_equal(key, "user:", 5);
    int n = 0;
    for (size_t i = 5; i < key_len && key[i] != '.'; i++) {
        n = n * 10 + (key[i] - '0');
    }
    uint8_t expect[LONG_KEY_BYTES];
    assert_int_equal(make_key(n, expect), key_len);
    assert_memory_equal(expect, key, key_len);
    seen->count[n]++;
    seen->calls++;
}

static void test_scan_complete_and_exactly_once(void **state)
{
    struct fixture *f = *state;
    static struct seen seen;
    memset(&seen, 0, sizeof seen);
    struct kv_scan_cursor cursor = {0};
    int calls = 0;
    while (!cursor.done) {
        assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 7, &seen, on_key), KV_OK);
        assert_true(++calls <= (KEY_COUNT + 100) / 7 + 2);
        if (calls == 20) {
            set_keys(f->kv, KEY_COUNT, KEY_COUNT + 100); /* writes during the scan */
        }
    }
    for (int i = 0; i < KEY_COUNT; i++) {
        assert_int_equal(seen.count[i], 1); /* present throughout: exactly once */
    }
    for (int i = KEY_COUNT; i < KEY_COUNT + 100; i++) {
        assert_true(seen.count[i] <= 1);
    }
    /* A finished cursor stays finished. */
    int before = seen.calls;
    assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 10, &seen, on_key), KV_OK);
    assert_int_equal(seen.calls, before);
}

static void test_scan_match(void **state)
{
    struct fixture *f = *state;
    static struct seen seen;
    memset(&seen, 0, sizeof seen);
    struct kv_scan_cursor cursor = {0};
    const char *pattern = "user:1[0-4]?";
    for (int calls = 0; !cursor.done; calls++) {
        assert_true(calls < 1000);
        assert_int_equal(kv_scan(f->kv, &cursor, (const uint8_t *)pattern, strlen(pattern), 100, &seen, on_key), KV_OK);
    }
    for (int i = 0; i < KEY_COUNT; i++) {
        /* 100..149 minus the long keys (multiples of 10, which end in dots) */
        bool want = i >= 100 && i < 150 && i % 10 != 0;
        assert_int_equal(seen.count[i], want ? 1 : 0);
    }
    memset(&seen, 0, sizeof seen);
    cursor = (struct kv_scan_cursor){0};
    const char *long_pattern = "user:99*.";
    for (int calls = 0; !cursor.done; calls++) {
        assert_true(calls < 100);
        assert_int_equal(kv_scan(f->kv, &cursor, (const uint8_t *)long_pattern, strlen(long_pattern), KV_SCAN_COUNT_MAX, &seen, on_key), KV_OK);
    }
    assert_int_equal(seen.calls, 1); /* user:990.... */
    assert_int_equal(seen.count[990], 1);
    assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 0, &seen, on_key), KV_ERR_INVALID);
    assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, KV_SCAN_COUNT_MAX + 1, &seen, on_key), KV_ERR_INVALID);
}

static void test_get_exists_strlen_count(void **state)
{
    struct fixture *f = *state;
    uint64_t count = 0;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, KEY_COUNT);
    uint8_t key[LONG_KEY_BYTES];
    struct kv_bytes keys[3] = {{key, make_key(10, key)}, {(const uint8_t *)"user:5", 6},
                               {(const uint8_t *)"nope", 4}};
    assert_int_equal(kv_exists(f->kv, keys, 3, &count), KV_OK);
    assert_int_equal(count, 2);
    uint64_t len = 0;
    assert_int_equal(kv_strlen(f->kv, (const uint8_t *)"user:5", 6, &len), KV_OK);
    assert_int_equal(len, 1);
    assert_int_equal(kv_strlen(f->kv, (const uint8_t *)"nope", 4, &len), KV_OK);
    assert_int_equal(len, 0);
    uint8_t buf[1];
    size_t value_len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"user:5", 6, buf, 0, &value_len, &found), KV_ERR_BUFFER);
    assert_int_equal(value_len, 1);
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"user:5", 6, buf, 1, &value_len, &found), KV_OK);
    assert_true(found);
    assert_int_equal(buf[0], 'v');
    /* An oversized key cannot exist; looking it up is not an error. */
    static uint8_t huge[KV_KEY_BYTES_MAX + 1];
    assert_int_equal(kv_get(f->kv, huge, sizeof huge, buf, 1, &value_len, &found), KV_OK);
    assert_false(found);
    /* A read txn sees one state even while writes go on. */
    struct kv_read read;
    assert_int_equal(kv_read_begin(f->kv, &read), KV_OK);
    set_keys(f->kv, KEY_COUNT, KEY_COUNT + 1);
    struct kv_bytes value;
    size_t key_len = make_key(KEY_COUNT, key);
    assert_int_equal(kv_read_get(&read, key, key_len, &value, &found), KV_OK);
    assert_false(found);
    kv_read_end(&read);
    assert_int_equal(kv_exists(f->kv, &(struct kv_bytes){key, key_len}, 1, &count), KV_OK);
    assert_int_equal(count, 1);
}

static void count_any(void *ctx, const uint8_t *key, size_t key_len)
{
    (void)key;
    (void)key_len;
    (*(int *)ctx)++;
}

/* A cursor is only a position: any 64-bit number resumes a scan, a cursor taken before a
 * restart works after it, and the iteration from any position reaches the end. */
static void test_scan_stateless_cursor(void **state)
{
    struct fixture *f = *state;
    static struct seen seen;
    memset(&seen, 0, sizeof seen);
    struct kv_scan_cursor cursor = {0};
    for (int calls = 0; calls < 10; calls++) {
        assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 13, &seen, on_key), KV_OK);
    }
    assert_false(cursor.done);
    uint64_t position = cursor.position;
    assert_true(position != 0);
    kv_close(f->kv);
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);
    cursor = (struct kv_scan_cursor){.position = position};
    for (int calls = 0; !cursor.done; calls++) {
        assert_true(calls < KEY_COUNT);
        assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 13, &seen, on_key), KV_OK);
    }
    for (int i = 0; i < KEY_COUNT; i++) {
        assert_int_equal(seen.count[i], 1); /* across the restart: each key exactly once */
    }
    memset(&seen, 0, sizeof seen);
    cursor = (struct kv_scan_cursor){.position = UINT64_MAX};
    assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 10, &seen, on_key), KV_OK);
    assert_true(cursor.done);
    assert_true(seen.calls <= 1);
}

/* A store of format 1 (keys in key order in a "data" DB) is moved into hash order when opened,
 * in several bounded txns: every key, short or long, keeps its value and is scanned. */
enum { OLD_KEY_COUNT = 12000 };

static void put_old_records(MDB_txn *txn, MDB_dbi old)
{
    for (int i = 0; i < OLD_KEY_COUNT; i++) {
        char key[32], value[32];
        key[0] = KV_KEY_TAG_INLINE;
        int key_len = snprintf(key + 1, sizeof key - 1, "user:%d", KEY_COUNT + 1000 + i);
        int value_len = snprintf(value, sizeof value, "old%d", i);
        MDB_val k = {.mv_size = (size_t)key_len + 1, .mv_data = key};
        MDB_val v = {.mv_size = (size_t)value_len, .mv_data = value};
        assert_int_equal(mdb_put(txn, old, &k, &v, 0), MDB_SUCCESS);
    }
    /* One long key in format 1's layout: tag 1 + 480-byte prefix + 8-byte hash; the record
     * holds the suffix length, the suffix and the value. */
    uint8_t key[1 + KV_KEY_INLINE_BYTES_MAX + 8];
    key[0] = KV_KEY_TAG_HASHED;
    memset(key + 1, 'L', KV_KEY_INLINE_BYTES_MAX);
    memset(key + 1 + KV_KEY_INLINE_BYTES_MAX, 7, 8);
    uint8_t record[2 + 20 + 4] = {20, 0};
    memset(record + 2, 'S', 20);
    memcpy(record + 22, "long", 4);
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    MDB_val v = {.mv_size = sizeof record, .mv_data = record};
    assert_int_equal(mdb_put(txn, old, &k, &v, 0), MDB_SUCCESS);
}

static void test_format_1_store_migrated(void **state)
{
    struct fixture *f = *state;
    MDB_txn *txn = NULL;
    MDB_dbi old;
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, 0, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_dbi_open(txn, "data", MDB_CREATE, &old), MDB_SUCCESS);
    put_old_records(txn, old);
    uint8_t one = 1;
    MDB_val key = {.mv_size = 6, .mv_data = "format"}, value = {.mv_size = 1, .mv_data = &one};
    assert_int_equal(mdb_put(txn, f->kv->meta_dbi, &key, &value, 0), MDB_SUCCESS);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    kv_close(f->kv);
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);

    uint64_t count = 0;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, KEY_COUNT + OLD_KEY_COUNT + 1);
    uint8_t buf[64];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"user:2000", 9, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
    assert_memory_equal(buf, "old0", len);
    uint8_t long_key[KV_KEY_INLINE_BYTES_MAX + 20];
    memset(long_key, 'L', KV_KEY_INLINE_BYTES_MAX);
    memset(long_key + KV_KEY_INLINE_BYTES_MAX, 'S', 20);
    assert_int_equal(kv_get(f->kv, long_key, sizeof long_key, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "long", 4);
    /* The old DB is gone, the store says format 3, and a scan sees every key once. */
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_dbi_open(txn, "data", 0, &old), MDB_NOTFOUND);
    assert_int_equal(mdb_get(txn, f->kv->meta_dbi, &key, &value), MDB_SUCCESS);
    assert_int_equal(*(uint8_t *)value.mv_data, 3);
    mdb_txn_abort(txn);
    struct kv_scan_cursor cursor = {0};
    int keys = 0;
    for (int calls = 0; !cursor.done; calls++) {
        assert_true(calls < 1000);
        assert_int_equal(kv_scan(f->kv, &cursor, NULL, 0, 100, &keys, count_any), KV_OK);
    }
    assert_int_equal(keys, KEY_COUNT + OLD_KEY_COUNT + 1);
    /* RANDOMKEY's lookup finds a key from any position. */
    uint8_t random_key[KV_KEY_BYTES_MAX];
    assert_int_equal(kv_random_key(f->kv, UINT64_MAX, random_key, sizeof random_key, &len, &found), KV_OK);
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_complete_and_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_exists_strlen_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_stateless_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_1_store_migrated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
