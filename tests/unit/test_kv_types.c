/* test_kv_types.c — hashes and sets in the store: their layout (one record per element), the
 * bounded deletion of big ones, WRONGTYPE, RENAME/COPY, seeded random picks, snapshots. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <cmocka.h>

#include "storage/kv.h"
#include "storage/kv_coll.h" /* white box: the DBs and the metadata record's size */
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

#include "../support/kv_fixture.h"

enum { ARGS_MAX = 2100, ENTRY_BYTES_MAX = 3u << 20, BIG_FIELDS = 100000, PER_COMMAND = 1000 };

struct fixture {
    char dir[64];
    char dir2[64];
    struct kv *kv;
    struct kv *other;
    uint8_t *entry;
    struct kv_bytes args[ARGS_MAX];
    char text[ARGS_MAX][16];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_types.XXXXXX");
    snprintf(f->dir2, sizeof f->dir2, "/tmp/test_kv_types2.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->dir2));
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);
    assert_int_equal(kv_open(f->dir2, NULL, &f->other), KV_OK);
    f->entry = malloc(ENTRY_BYTES_MAX);
    assert_non_null(f->entry);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_close(f->kv);
    kv_close(f->other);
    kv_fixture_remove_dir(f->dir);
    kv_fixture_remove_dir(f->dir2);
    free(f->entry);
    free(f);
    return 0;
}

static struct kv_result apply_to(struct fixture *f, struct kv *kv, uint8_t op, uint8_t flags,
                                 int64_t delta, const struct kv_bytes *args, uint32_t arg_count)
{
    struct kv_command command = {.op = op, .flags = flags, .delta = delta, .arg_count = arg_count,
                                 .args = args};
    return kv_fixture_apply(kv, f->entry, ENTRY_BYTES_MAX, &command);
}

/* Applies op with the NULL-terminated string arguments. */
static struct kv_result run(struct fixture *f, uint8_t op, ...)
{
    struct kv_bytes args[16];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, op);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        args[n++] = kv_fixture_text(s);
    }
    va_end(ap);
    return apply_to(f, f->kv, op, 0, 0, args, n);
}

/* A read through kv_read_run, as the node serves one. */
static struct kv_result read_op(struct kv *kv, uint8_t op, int64_t seed, ...)
{
    static struct kv_bytes args[16];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, seed);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        args[n++] = kv_fixture_text(s);
    }
    va_end(ap);
    struct kv_command command = {.op = op, .delta = seed, .arg_count = n, .args = args};
    struct kv_result result;
    assert_int_equal(kv_read_run(kv, &command, &result), KV_OK);
    return result;
}

static void assert_int_result(struct kv_result r, int64_t value)
{
    assert_int_equal(r.type, KV_RESULT_INTEGER);
    assert_int_equal(r.integer, value);
}

static void assert_bulk(const struct kv_result *r, const char *value)
{
    assert_int_equal(r->type, KV_RESULT_BULK);
    assert_int_equal(r->bulk_len, strlen(value));
    assert_memory_equal(r->bulk, value, r->bulk_len);
}

static uint64_t entries(struct kv *kv, MDB_dbi dbi)
{
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_stat stat;
    assert_int_equal(mdb_stat(txn, dbi, &stat), MDB_SUCCESS);
    mdb_txn_abort(txn);
    return stat.ms_entries;
}

static uint64_t pages_used(struct kv *kv)
{
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(kv->env, &info), MDB_SUCCESS);
    return info.me_last_pgno;
}

static void test_hash_basics(void **state)
{
    struct fixture *f = *state;
    assert_int_result(run(f, KV_OP_HSET, "h", "a", "1", "b", "2", "a", "3", NULL), 2);
    struct kv_result r = read_op(f->kv, KV_OP_HGET, 0, "h", "a", NULL);
    assert_bulk(&r, "3");
    assert_int_result(read_op(f->kv, KV_OP_HLEN, 0, "h", NULL), 2);
    assert_int_result(run(f, KV_OP_HINCRBY, "h", "b", "40", NULL), 42);
    r = run(f, KV_OP_HINCRBY, "h", "zz", "x", NULL);
    assert_int_equal(r.type, KV_RESULT_ERROR);
    assert_string_equal(r.error, "ERR value is not an integer or out of range");
    r = run(f, KV_OP_HSET, "h", "odd", NULL);
    assert_string_equal(r.error, "ERR wrong number of arguments");
    r = run(f, KV_OP_HSET, "h", "a", "1", "odd", NULL);
    assert_string_equal(r.error, "ERR wrong number of arguments for 'hset' command");
    int type = 0;
    uint64_t count = 0;
    assert_int_equal(kv_key_type(f->kv, (const uint8_t *)"h", 1, &type, &count), KV_OK);
    assert_int_equal(type, KV_TYPE_HASH);
    assert_int_equal(count, 2);
    /* The last field's deletion deletes the key. */
    assert_int_result(run(f, KV_OP_HDEL, "h", "a", "b", "nope", NULL), 2);
    assert_int_equal(kv_key_type(f->kv, (const uint8_t *)"h", 1, &type, &count), KV_OK);
    assert_int_equal(type, KV_TYPE_NONE);
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 0);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 0);
}

static void test_wrongtype(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, KV_OP_SET, "str", "v", NULL).type, KV_RESULT_OK);
    assert_int_result(run(f, KV_OP_SADD, "set", "m", NULL), 1);
    struct kv_result r = run(f, KV_OP_HSET, "str", "a", "1", NULL);
    assert_string_equal(r.error, kv_error_wrongtype);
    r = run(f, KV_OP_INCRBY, "set", NULL);
    assert_int_equal(r.type, KV_RESULT_ERROR);
    assert_string_equal(r.error, kv_error_wrongtype);
    r = read_op(f->kv, KV_OP_HGET, 0, "set", "m", NULL);
    assert_string_equal(r.error, kv_error_wrongtype);
    uint8_t buf[16];
    size_t len = 0;
    bool found = true;
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"set", 3, buf, sizeof buf, &len, &found),
                     KV_ERR_WRONGTYPE);
    struct kv_bytes keys[3] = {kv_fixture_text("str"), kv_fixture_text("set"), kv_fixture_text("none")};
    uint64_t n = 0;
    assert_int_equal(kv_exists(f->kv, keys, 3, &n), KV_OK);
    assert_int_equal(n, 2);
    /* SET overwrites a collection: the set's elements go to the trash, then are reclaimed. */
    assert_int_equal(run(f, KV_OP_SET, "set", "now a string", NULL).type, KV_RESULT_OK);
    assert_int_equal(kv_get(f->kv, (const uint8_t *)"set", 3, buf, sizeof buf, &len, &found),
                     KV_OK);
    assert_true(found);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 0);
    /* SETNX / MSETNX see a collection as an existing key. */
    assert_int_result(run(f, KV_OP_SADD, "s2", "m", NULL), 1);
    assert_int_result(run(f, KV_OP_SETNX, "s2", "v", NULL), 0);
}

/* BLPOP's and BRPOP's attempt (node/blocking.c): [key, element] from the first list of its
 * keys that has one, WRONGTYPE for another type met before it, a null array for none; the
 * emptied list is gone. */
static void test_blocking_pop_attempt(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, KV_OP_BLPOP, "none", "empty", NULL).type, KV_RESULT_NULL_ARRAY);
    assert_int_result(run(f, KV_OP_RPUSH, "b", "1", "2", NULL), 2);
    struct kv_result r = run(f, KV_OP_BRPOP, "none", "b", NULL);
    assert_int_equal(r.type, KV_RESULT_ARRAY);
    assert_int_equal(r.element_count, 2);
    assert_bulk(&r.elements[0], "b");
    assert_bulk(&r.elements[1], "2");
    r = run(f, KV_OP_BLPOP, "b", NULL);
    assert_bulk(&r.elements[1], "1");
    assert_int_equal(run(f, KV_OP_BLPOP, "b", NULL).type, KV_RESULT_NULL_ARRAY);
    assert_int_equal(read_op(f->kv, KV_OP_LLEN, 0, "b", NULL).integer, 0);
    assert_int_equal(run(f, KV_OP_SET, "str", "v", NULL).type, KV_RESULT_OK);
    assert_int_result(run(f, KV_OP_RPUSH, "c", "x", NULL), 1);
    assert_string_equal(run(f, KV_OP_BLPOP, "none", "str", "c", NULL).error, kv_error_wrongtype);
    r = run(f, KV_OP_BLPOP, "c", "str", NULL); /* "str" is never looked at */
    assert_bulk(&r.elements[1], "x");
}

/*
 * The point of the layout: a 100,000-field hash is 1 metadata record + 100,000 element
 * records, and one more HSET adds one record and rewrites neither the hash nor more than a
 * B-tree path of pages.
 */
static void test_big_hash_structure(void **state)
{
    struct fixture *f = *state;
    for (uint32_t c = 0; c < BIG_FIELDS / PER_COMMAND; c++) {
        f->args[0] = kv_fixture_text("big");
        for (uint32_t i = 0; i < PER_COMMAND; i++) {
            snprintf(f->text[i], sizeof f->text[i], "field%u", c * PER_COMMAND + i);
            f->args[1 + 2 * i] = kv_fixture_text(f->text[i]);
            f->args[2 + 2 * i] = kv_fixture_text("v");
        }
        struct kv_result r = apply_to(f, f->kv, KV_OP_HSET, 0, 0, f->args, 1 + 2 * PER_COMMAND);
        assert_int_result(r, PER_COMMAND);
    }
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), BIG_FIELDS);
    uint64_t before = pages_used(f->kv);
    assert_int_result(run(f, KV_OP_HSET, "big", "one-more", "x", NULL), 1);
    assert_int_result(run(f, KV_OP_HSET, "big", "field7", "changed", NULL), 0);
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), BIG_FIELDS + 1);
    /* Two single-field HSETs dirty a few pages each (a B-tree path, the metadata, the
     * applied index, the free list), not the 100,000 fields' thousands of pages. */
    assert_true(pages_used(f->kv) - before < 64);
    assert_true(before > 500);
    struct kv_result r = read_op(f->kv, KV_OP_HGET, 0, "big", "field99999", NULL);
    assert_bulk(&r, "v");
    r = read_op(f->kv, KV_OP_HGET, 0, "big", "field7", NULL);
    assert_bulk(&r, "changed");
    /* The metadata record stays its fixed size whatever the count. */
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    struct kv_key_info info;
    assert_int_equal(kv_key_find(f->kv, txn, (const uint8_t *)"big", 3, &info), MDB_SUCCESS);
    MDB_val key = {.mv_size = info.slot.encoded_len, .mv_data = info.slot.encoded}, record;
    assert_int_equal(mdb_get(txn, f->kv->data_dbi, &key, &record), MDB_SUCCESS);
    assert_int_equal(record.mv_size, KV_COLL_META_BYTES);
    assert_int_equal(info.meta.count, BIG_FIELDS + 1);
    mdb_txn_abort(txn);

    /* DEL is O(1): the key goes at once; each later entry reclaims at most 256 elements. */
    assert_int_result(run(f, KV_OP_DEL, "big", NULL), 1);
    uint64_t n = 0;
    assert_int_equal(kv_count(f->kv, &n), KV_OK);
    assert_int_equal(n, 0);
    uint64_t left = entries(f->kv, f->kv->elems_dbi);
    assert_true(left >= BIG_FIELDS + 1 - KV_RECLAIM_STEP);
    uint32_t steps = 0;
    while (entries(f->kv, f->kv->elems_dbi) > 0) {
        uint64_t was = entries(f->kv, f->kv->elems_dbi);
        run(f, KV_OP_GET, "x", NULL);
        assert_true(was - entries(f->kv, f->kv->elems_dbi) <= KV_RECLAIM_STEP + 1);
        assert_true(++steps < 1000);
    }
    assert_true(steps >= BIG_FIELDS / KV_RECLAIM_STEP - 1);
}

static void test_rename_copy(void **state)
{
    struct fixture *f = *state;
    assert_int_result(run(f, KV_OP_SADD, "a", "x", "y", "z", NULL), 3);
    assert_int_equal(run(f, KV_OP_RENAME, "a", "b", NULL).type, KV_RESULT_OK);
    assert_int_result(read_op(f->kv, KV_OP_SCARD, 0, "b", NULL), 3);
    assert_int_result(read_op(f->kv, KV_OP_SCARD, 0, "a", NULL), 0);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 3); /* moved, not copied */
    assert_int_result(run(f, KV_OP_COPY, "b", "c", NULL), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 6);
    assert_int_result(run(f, KV_OP_SREM, "c", "x", NULL), 1);
    assert_int_result(read_op(f->kv, KV_OP_SISMEMBER, 0, "b", "x", NULL), 1);
    assert_int_result(run(f, KV_OP_SINTERSTORE, "d", "b", "c", NULL), 2);
    assert_int_result(run(f, KV_OP_SDIFFSTORE, "e", "b", "c", NULL), 1);
    assert_int_result(run(f, KV_OP_SUNIONSTORE, "b", "b", "c", "e", NULL), 3);
    struct kv_result r = read_op(f->kv, KV_OP_SMEMBERS, 0, "e", NULL);
    assert_int_equal(r.type, KV_RESULT_SET);
    assert_int_equal(r.element_count, 1);
    assert_bulk(&r.elements[0], "x");
    /* RENAME onto a string replaces it with the collection. */
    assert_int_equal(run(f, KV_OP_SET, "s", "v", NULL).type, KV_RESULT_OK);
    assert_int_equal(run(f, KV_OP_RENAME, "e", "s", NULL).type, KV_RESULT_OK);
    int type = 0;
    uint64_t count = 0;
    assert_int_equal(kv_key_type(f->kv, (const uint8_t *)"s", 1, &type, &count), KV_OK);
    assert_int_equal(type, KV_TYPE_SET);
}

/* SPOP's pick comes from the seed in the command: two stores popping with one seed agree. */
static void test_spop_seeded(void **state)
{
    struct fixture *f = *state;
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(f->text[i], sizeof f->text[i], "m%u", i);
        f->args[1 + i] = kv_fixture_text(f->text[i]);
    }
    f->args[0] = kv_fixture_text("s");
    assert_int_result(apply_to(f, f->kv, KV_OP_SADD, 0, 0, f->args, 201), 200);
    assert_int_result(apply_to(f, f->other, KV_OP_SADD, 0, 0, f->args, 201), 200);
    struct kv_bytes pop[2] = {kv_fixture_text("s"), kv_fixture_text("5")};
    for (int64_t seed = 1; seed < 20; seed++) {
        struct kv_result a = apply_to(f, f->kv, KV_OP_SPOP, 0, seed * 7919, pop, 2);
        char first[5][16];
        assert_int_equal(a.type, KV_RESULT_SET);
        assert_int_equal(a.element_count, 5);
        for (int i = 0; i < 5; i++) {
            snprintf(first[i], sizeof first[i], "%.*s", (int)a.elements[i].bulk_len,
                     a.elements[i].bulk);
        }
        struct kv_result b = apply_to(f, f->other, KV_OP_SPOP, 0, seed * 7919, pop, 2);
        assert_int_equal(b.element_count, 5);
        for (int i = 0; i < 5; i++) {
            assert_bulk(&b.elements[i], first[i]);
        }
    }
    assert_int_result(read_op(f->kv, KV_OP_SCARD, 0, "s", NULL), 200 - 19 * 5);
    /* A read pick is a member; WITH a negative count, repeats are allowed. */
    struct kv_result r = read_op(f->kv, KV_OP_SRANDMEMBER, 99, "s", "-300", NULL);
    assert_int_equal(r.element_count, 300);
}

/* HSCAN with COUNT 1 visits every field once and ends with cursor 0. */
static void test_hscan_complete(void **state)
{
    struct fixture *f = *state;
    f->args[0] = kv_fixture_text("h");
    for (uint32_t i = 0; i < 300; i++) {
        snprintf(f->text[i], sizeof f->text[i], "f%u", i);
        f->args[1 + 2 * i] = kv_fixture_text(f->text[i]);
        f->args[2 + 2 * i] = kv_fixture_text("v");
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_HSET, 0, 0, f->args, 601), 300);
    char cursor[32] = "0";
    uint32_t seen = 0, calls = 0;
    do {
        struct kv_result r = read_op(f->kv, KV_OP_HSCAN, 0, "h", cursor, "COUNT", "1", NULL);
        assert_int_equal(r.type, KV_RESULT_ARRAY);
        assert_int_equal(r.element_count, 2);
        snprintf(cursor, sizeof cursor, "%.*s", (int)r.elements[0].bulk_len, r.elements[0].bulk);
        seen += r.elements[1].element_count / 2;
        assert_true(++calls <= 301);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(seen, 300);
}

/* A snapshot carries the elements DB: hashes, sets and the trash come back whole. */
static void test_snapshot_round_trip(void **state)
{
    struct fixture *f = *state;
    assert_int_result(run(f, KV_OP_HSET, "h", "a", "1", "b", "2", NULL), 2);
    assert_int_result(run(f, KV_OP_SADD, "s", "x", "y", NULL), 2);
    assert_int_equal(run(f, KV_OP_SET, "str", "v", NULL).type, KV_RESULT_OK);
    f->args[0] = kv_fixture_text("gone");
    for (uint32_t i = 0; i < 1000; i++) {
        snprintf(f->text[i], sizeof f->text[i], "m%u", i);
        f->args[1 + i] = kv_fixture_text(f->text[i]);
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_SADD, 0, 0, f->args, 1001), 1000);
    assert_int_result(run(f, KV_OP_DEL, "gone", NULL), 1); /* trash left to reclaim */
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->kv, path, &meta), KV_OK);
    struct kv_snapshot_meta installed;
    assert_int_equal(kv_snapshot_install(f->other, path, &installed), KV_OK);
    assert_int_equal(installed.index, meta.index);
    assert_int_equal(entries(f->other, f->other->data_dbi), entries(f->kv, f->kv->data_dbi));
    assert_int_equal(entries(f->other, f->other->elems_dbi), entries(f->kv, f->kv->elems_dbi));
    assert_int_equal(entries(f->other, f->other->data_dbi), 3);
    struct kv_result r = read_op(f->other, KV_OP_HGETALL, 0, "h", NULL);
    assert_int_equal(r.type, KV_RESULT_MAP);
    assert_int_equal(r.element_count, 4);
    assert_int_result(read_op(f->other, KV_OP_SISMEMBER, 0, "s", "y", NULL), 1);
    /* Both go on identically: the same entries reclaim the same trash. */
    for (int i = 0; i < 5; i++) {
        struct kv_bytes arg = kv_fixture_text("x");
        apply_to(f, f->kv, KV_OP_GET, 0, 0, &arg, 1);
        apply_to(f, f->other, KV_OP_GET, 0, 0, &arg, 1);
        assert_int_equal(entries(f->other, f->other->elems_dbi),
                         entries(f->kv, f->kv->elems_dbi));
    }
}

/* A list is one record per element at consecutive positions: pushes at both ends add one
 * record each, LINDEX and LRANGE read by position, LINSERT and LREM keep the positions
 * consecutive, and COPY and RENAME carry the order. */
static void test_list_layout(void **state)
{
    struct fixture *f = *state;
    f->args[0] = kv_fixture_text("l");
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(f->text[i], sizeof f->text[i], "%u", i);
        f->args[1 + i] = kv_fixture_text(f->text[i]);
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_RPUSH, 0, 0, f->args, 2001), 2000);
    assert_int_result(run(f, KV_OP_LPUSH, "l", "head", NULL), 2001);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2001);
    struct kv_result r = read_op(f->kv, KV_OP_LINDEX, 0, "l", "1000", NULL);
    assert_bulk(&r, "999");
    r = read_op(f->kv, KV_OP_LINDEX, 0, "l", "-1", NULL);
    assert_bulk(&r, "1999");
    assert_int_result(run(f, KV_OP_LINSERT, "l", "AFTER", "1500", "new", NULL), 2002);
    r = read_op(f->kv, KV_OP_LRANGE, 0, "l", "1500", "1503", NULL);
    assert_int_equal(r.element_count, 4);
    assert_bulk(&r.elements[0], "1499");
    assert_bulk(&r.elements[1], "1500");
    assert_bulk(&r.elements[2], "new");
    assert_bulk(&r.elements[3], "1501");
    assert_int_result(run(f, KV_OP_LREM, "l", "0", "new", NULL), 1);
    assert_int_result(run(f, KV_OP_LREM, "l", "-1", "head", NULL), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2000);
    r = read_op(f->kv, KV_OP_LINDEX, 0, "l", "0", NULL);
    assert_bulk(&r, "0");
    assert_int_result(read_op(f->kv, KV_OP_LPOS, 0, "l", "1234", NULL), 1234);
    assert_int_result(run(f, KV_OP_COPY, "l", "m", NULL), 1);
    assert_int_equal(run(f, KV_OP_RENAME, "m", "n", NULL).type, KV_RESULT_OK);
    r = run(f, KV_OP_RPOP, "n", "2", NULL);
    assert_int_equal(r.element_count, 2);
    assert_bulk(&r.elements[0], "1999");
    assert_bulk(&r.elements[1], "1998");
    /* Keeping 10 of 1,998: the 10 move to a new id, the rest is trashed, not deleted here. */
    uint64_t before = entries(f->kv, f->kv->elems_dbi);
    assert_int_equal(run(f, KV_OP_LTRIM, "n", "10", "19", NULL).type, KV_RESULT_OK);
    assert_true(entries(f->kv, f->kv->elems_dbi) + KV_RECLAIM_STEP + 1 >= before);
    assert_int_result(read_op(f->kv, KV_OP_LLEN, 0, "n", NULL), 10);
    r = read_op(f->kv, KV_OP_LINDEX, 0, "n", "0", NULL);
    assert_bulk(&r, "10");
    r = read_op(f->kv, KV_OP_LINDEX, 0, "n", "-1", NULL);
    assert_bulk(&r, "19");
    for (int i = 0; i < 10; i++) {
        run(f, KV_OP_GET, "x", NULL);
    }
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2010);
    assert_int_equal(run(f, KV_OP_LTRIM, "n", "1", "-2", NULL).type, KV_RESULT_OK);
    r = read_op(f->kv, KV_OP_LRANGE, 0, "n", "0", "-1", NULL);
    assert_int_equal(r.element_count, 8);
    assert_bulk(&r.elements[0], "11");
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2008);
    r = run(f, KV_OP_HSET, "l", "f", "v", NULL);
    assert_string_equal(r.error, kv_error_wrongtype);
}

/* The WATCH state of a key as the node records it (kv_read_watch). */
static struct kv_tx_watch watch_now(struct kv *kv, const char *key)
{
    struct kv_read read;
    assert_int_equal(kv_read_begin(kv, &read), KV_OK);
    struct kv_tx_watch w = {.key = kv_fixture_text(key)};
    assert_int_equal(kv_read_watch(&read, w.key.data, w.key.len, &w.exists, &w.hash), KV_OK);
    kv_read_end(&read);
    return w;
}

/* EXEC with one watched key and one HLEN: aborted (null array) or run. */
static bool exec_with_watch(struct fixture *f, const struct kv_tx_watch *w)
{
    struct kv_bytes args[1] = {kv_fixture_text("h")};
    struct kv_command c = {.op = KV_OP_HLEN, .arg_count = 1, .args = args};
    uint8_t command[64];
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&c, command, sizeof command, &len, &reason), KV_OK);
    struct kv_bytes encoded = {.data = command, .len = len};
    size_t bytes = kv_tx_encoded_bytes(w, 1, &encoded, 1);
    assert_true(bytes <= ENTRY_BYTES_MAX);
    size_t n = kv_tx_encode(w, 1, &encoded, 1, f->entry, ENTRY_BYTES_MAX);
    struct kv_apply_item item = {.index = kv_fixture_next_index(f->kv), .term = 1, .kind = KV_ITEM_TX,
                                 .data = f->entry, .data_len = (uint32_t)n};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(f->kv, &item, 1, &result), KV_OK);
    assert_true(result.type == KV_RESULT_ARRAY || result.type == KV_RESULT_NULL_ARRAY);
    return result.type == KV_RESULT_ARRAY;
}

/* WATCH on a collection: any write to it (even one that leaves its count, or its value, as
 * it was) aborts the EXEC; a write elsewhere does not. */
static void test_watch_collection(void **state)
{
    struct fixture *f = *state;
    assert_int_result(run(f, KV_OP_HSET, "h", "a", "1", NULL), 1);
    struct kv_tx_watch w = watch_now(f->kv, "h");
    assert_true(w.exists);
    assert_int_result(run(f, KV_OP_HSET, "other", "a", "1", NULL), 1);
    assert_true(exec_with_watch(f, &w));
    w = watch_now(f->kv, "h");
    assert_int_result(run(f, KV_OP_HSET, "h", "a", "1", NULL), 0); /* same field, same value */
    assert_false(exec_with_watch(f, &w));
    w = watch_now(f->kv, "h");
    assert_int_result(run(f, KV_OP_HDEL, "h", "a", NULL), 1);
    assert_false(exec_with_watch(f, &w));
    w = watch_now(f->kv, "h");
    assert_false(w.exists);
    assert_true(exec_with_watch(f, &w));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A version 2 snapshot (before collections and ACL users: no separator, no elements
 * section, no ACL section) still installs. It is made here from a version 5 one of a store of
 * strings: the payload without the ACL section's length (0) after the configuration and
 * without its last 6 bytes (the empty elements section's separator), the trailer rewritten. */
static void test_snapshot_version2(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, KV_OP_SET, "a", "1", NULL).type, KV_RESULT_OK);
    assert_int_equal(run(f, KV_OP_SET, "b", "2", NULL).type, KV_RESULT_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->kv, path, &meta), KV_OK);
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    uint8_t *bytes = malloc(meta.file_bytes);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, meta.file_bytes, file), meta.file_bytes);
    fclose(file);
    size_t payload = meta.file_bytes - 64;
    size_t config_len = (size_t)bytes[0] | (size_t)bytes[1] << 8;
    const uint8_t no_acl[4] = {0};
    assert_memory_equal(bytes + 4 + config_len, no_acl, 4);
    memmove(bytes + 4 + config_len, bytes + 8 + config_len, meta.file_bytes - 8 - config_len);
    payload -= 4;
    const uint8_t separator[6] = {0};
    assert_memory_equal(bytes + payload - 6, separator, 6);
    payload -= 6;
    uint8_t trailer[64];
    memcpy(trailer, bytes + payload + 6, 64);
    assert_int_equal(trailer[8], 5);
    trailer[8] = 2;
    memset(trailer + 48, 0, 8); /* version 5's log time: zero before it */
    put_le64(trailer + 16, payload);
    put_le64(trailer + 40, XXH3_64bits(bytes, payload));
    put_le64(trailer + 56, XXH3_64bits(trailer, 56));
    memcpy(bytes + payload, trailer, 64);
    file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, payload + 64, file), payload + 64);
    fclose(file);
    free(bytes);
    struct kv_snapshot_meta installed;
    assert_int_equal(kv_snapshot_install(f->other, path, &installed), KV_OK);
    uint8_t buf[16];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->other, (const uint8_t *)"b", 1, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
    assert_memory_equal(buf, "2", 1);
    assert_int_equal(entries(f->other, f->other->data_dbi), 2);
}

/* The ACL blob (KV_ITEM_ACL) is stored apart from the keys, replaced by the next one,
 * carried by a snapshot, and left alone by FLUSHALL. */
static void test_acl_blob(void **state)
{
    struct fixture *f = *state;
    static const uint8_t blob1[] = "ACLT first", blob2[] = "ACLT second table";
    struct kv_apply_item item = {.index = kv_fixture_next_index(f->kv), .term = 1, .kind = KV_ITEM_ACL,
                                 .data = blob1, .data_len = sizeof(blob1)};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(f->kv, &item, 1, &result), KV_OK);
    item = (struct kv_apply_item){.index = kv_fixture_next_index(f->kv), .term = 1, .kind = KV_ITEM_ACL,
                                  .data = blob2, .data_len = sizeof(blob2)};
    assert_int_equal(kv_apply_batch(f->kv, &item, 1, &result), KV_OK);
    assert_int_equal(run(f, KV_OP_SET, "a", "1", NULL).type, KV_RESULT_OK);
    assert_int_equal(run(f, KV_OP_FLUSHALL, NULL).type, KV_RESULT_OK);
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(kv_acl_get(f->kv, buf, sizeof buf, &len), KV_OK);
    assert_int_equal(len, sizeof(blob2));
    assert_memory_equal(buf, blob2, len);
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 0); /* not a key */
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta, installed;
    assert_int_equal(kv_snapshot_create(f->kv, path, &meta), KV_OK);
    assert_int_equal(kv_acl_get(f->other, buf, sizeof buf, &len), KV_OK);
    assert_int_equal(len, 0);
    assert_int_equal(kv_snapshot_install(f->other, path, &installed), KV_OK);
    assert_int_equal(kv_acl_get(f->other, buf, sizeof buf, &len), KV_OK);
    assert_int_equal(len, sizeof(blob2));
    assert_memory_equal(buf, blob2, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pop_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_hash_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spop_seeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hscan_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_version2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl_blob, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
