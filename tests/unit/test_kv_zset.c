/* test_kv_zset.c — sorted sets in the store: a record per member and a score index ordered
 * by (score, member), ranges and pops from a seek, ranks walked, long members, the -0 rule,
 * COPY/RENAME/DEL (the index goes to the trash too), snapshots, seeded random picks, the
 * STORE commands, and applying through a WAL-like replay on a second store. */
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
#include "storage/kv_coll.h" /* white box: the DBs */
#include "storage/kv_command.h"

#include "../support/kv_fixture.h"

enum {
    ARGS_MAX = 2100,
    ENTRY_BYTES_MAX = 3u << 20,
    BIG_MEMBERS = 100000,
    PER_COMMAND = 1000,
    LITERAL_ARGS_MAX = 32, /* run()'s and read_op()'s arguments */
};

struct fixture {
    char dir[64];
    char dir2[64];
    struct kv *kv;
    struct kv *other;
    uint8_t *entry;
    struct kv_bytes args[ARGS_MAX];
    char text[ARGS_MAX][24];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_zset.XXXXXX");
    snprintf(f->dir2, sizeof f->dir2, "/tmp/test_kv_zset2.XXXXXX");
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

static struct kv_result apply_to(struct fixture *f, struct kv *kv, uint8_t op, int64_t delta,
                                 const struct kv_bytes *args, uint32_t arg_count)
{
    struct kv_command command = {.op = op, .delta = delta, .arg_count = arg_count, .args = args};
    return kv_fixture_apply(kv, f->entry, ENTRY_BYTES_MAX, &command);
}

/* Applies op with the NULL-terminated string arguments to f->kv. */
static struct kv_result run(struct fixture *f, uint8_t op, ...)
{
    struct kv_bytes args[LITERAL_ARGS_MAX];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, op);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        assert_true(n < LITERAL_ARGS_MAX);
        args[n++] = kv_fixture_text(s);
    }
    va_end(ap);
    return apply_to(f, f->kv, op, 0, args, n);
}

/* A read through kv_read_run, as the node serves one. */
static struct kv_result read_op(struct kv *kv, uint8_t op, int64_t seed, ...)
{
    static struct kv_bytes args[LITERAL_ARGS_MAX];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, seed);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        assert_true(n < LITERAL_ARGS_MAX);
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

static void assert_text(const struct kv_result *r, int type, const char *value)
{
    assert_int_equal(r->type, type);
    assert_int_equal(r->bulk_len, strlen(value));
    assert_memory_equal(r->bulk, value, r->bulk_len);
}

/* The reply's elements joined by spaces (bulk strings and scores), into buf. */
static const char *joined(const struct kv_result *r, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < r->element_count; i++) {
        const struct kv_result *e = &r->elements[i];
        assert_true(e->type == KV_RESULT_BULK || e->type == KV_RESULT_DOUBLE);
        int w = snprintf(buf + n, cap - n, "%s%.*s", i > 0 ? " " : "", (int)e->bulk_len, e->bulk);
        assert_true(w >= 0 && (size_t)w < cap - n);
        n += (size_t)w;
    }
    return buf;
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

/* The block count records of every sorted set (kv_zset.c: ids with both top bits set):
 * how many, the sum of their counts and the largest. */
static uint64_t blocks(struct kv *kv, uint64_t *sum, uint64_t *largest)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, kv->elems_dbi, &c), MDB_SUCCESS);
    uint8_t seek[8] = {0xc0};
    MDB_val key = {.mv_size = sizeof seek, .mv_data = seek}, record;
    uint64_t n = 0, total = 0, max = 0;
    int rc = mdb_cursor_get(c, &key, &record, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &key, &record, MDB_NEXT)) {
        assert_int_equal(record.mv_size, 8);
        uint64_t count = kv_get_le64(record.mv_data);
        n++;
        total += count;
        max = count > max ? count : max;
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (sum != NULL) {
        *sum = total;
    }
    if (largest != NULL) {
        *largest = max;
    }
    return n;
}

/* Every block count equals the index entries from its key up to the next block's (the store
 * holds one sorted set): a rescoring within a block leaves the counts alone and one across
 * blocks moves one, never a count that drifts while the sum stays right. Returns the blocks. */
static uint64_t blocks_exact(struct kv *kv)
{
    enum { BLOCKS_MAX = 64 };
    static uint8_t starts[BLOCKS_MAX][KV_ENCODED_KEY_BYTES_MAX];
    size_t lens[BLOCKS_MAX];
    uint64_t counts[BLOCKS_MAX], seen[BLOCKS_MAX] = {0};
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, kv->elems_dbi, &c), MDB_SUCCESS);
    uint8_t seek[8] = {0xc0};
    MDB_val key = {.mv_size = sizeof seek, .mv_data = seek}, record;
    uint64_t n = 0;
    int rc = mdb_cursor_get(c, &key, &record, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &key, &record, MDB_NEXT), n++) {
        assert_true(n < BLOCKS_MAX && key.mv_size >= 16);
        lens[n] = key.mv_size - 8; /* after the block id: a score and member, as the index's */
        memcpy(starts[n], (const uint8_t *)key.mv_data + 8, lens[n]);
        counts[n] = kv_get_le64(record.mv_data);
    }
    assert_int_equal(rc, MDB_NOTFOUND);
    uint8_t index_seek[8] = {0x80};
    key = (MDB_val){.mv_size = sizeof index_seek, .mv_data = index_seek};
    uint64_t at = 0;
    rc = mdb_cursor_get(c, &key, &record, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS && ((const uint8_t *)key.mv_data)[0] < 0xc0;
         rc = mdb_cursor_get(c, &key, &record, MDB_NEXT)) {
        const uint8_t *rest = (const uint8_t *)key.mv_data + 8;
        size_t rest_len = key.mv_size - 8;
        while (at + 1 < n) { /* the last block key <= the entry's */
            size_t m = lens[at + 1] < rest_len ? lens[at + 1] : rest_len;
            int cmp = memcmp(starts[at + 1], rest, m);
            if (cmp > 0 || (cmp == 0 && lens[at + 1] > rest_len)) {
                break;
            }
            at++;
        }
        assert_true(n > 0);
        seen[at]++;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    for (uint64_t i = 0; i < n; i++) {
        assert_int_equal(seen[i], counts[i]);
    }
    return n;
}

static uint64_t pages_used(struct kv *kv)
{
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(kv->env, &info), MDB_SUCCESS);
    return info.me_last_pgno;
}

/* Two records per member (the member's, the index's) and a block count; ties order by member
 * bytes; scores reply as Redis 7.0 formats them; the last ZREM removes the key and every
 * record. */
static void test_zset_basics(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    assert_int_result(run(f, KV_OP_ZADD, "z", "2", "b", "1", "c", "2", "a", "1.1", "d", NULL), 4);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 9);
    uint64_t sum = 0;
    assert_int_equal(blocks(f->kv, &sum, NULL), 1);
    assert_int_equal(sum, 4);
    struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", "WITHSCORES", NULL);
    assert_int_equal(r.type, KV_RESULT_PAIRS);
    assert_string_equal(joined(&r, buf, sizeof buf), "c 1 d 1.1000000000000001 a 2 b 2");
    r = read_op(f->kv, KV_OP_ZSCORE, 0, "z", "d", NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "1.1000000000000001");
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", "a", NULL), 2);
    assert_int_result(read_op(f->kv, KV_OP_ZREVRANK, 0, "z", "a", NULL), 1);
    assert_int_equal(read_op(f->kv, KV_OP_ZRANK, 0, "z", "nope", NULL).type, KV_RESULT_NULL);
    /* An update moves the index entry: still two records per member. */
    assert_int_result(run(f, KV_OP_ZADD, "z", "CH", "0", "b", NULL), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 9);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "0", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "b");
    /* -0 is kept as 0 (Redis's listpack encoding), ordered with 0. */
    assert_int_result(run(f, KV_OP_ZADD, "z", "-0", "e", NULL), 1);
    r = read_op(f->kv, KV_OP_ZSCORE, 0, "z", "e", NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "0");
    r = read_op(f->kv, KV_OP_ZRANGEBYSCORE, 0, "z", "0", "(1", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "b e");
    r = run(f, KV_OP_ZINCRBY, "z", "inf", "e", NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "inf");
    r = run(f, KV_OP_ZINCRBY, "z", "-inf", "e", NULL);
    assert_int_equal(r.type, KV_RESULT_ERROR);
    assert_string_equal(r.error, "ERR resulting score is not a number (NaN)");
    r = run(f, KV_OP_ZADD, "z", "nan", "x", NULL);
    assert_string_equal(r.error, "ERR value is not a valid float");
    assert_int_result(run(f, KV_OP_ZREM, "z", "a", "b", "c", "d", "e", "zz", NULL), 5);
    int type = 0;
    uint64_t count = 0;
    assert_int_equal(kv_key_type(f->kv, (const uint8_t *)"z", 1, &type, &count), KV_OK);
    assert_int_equal(type, KV_TYPE_NONE);
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 0);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 0);
}

/* The index's byte order is Redis's score order, from -inf to inf through the negative
 * numbers, 0 and the subnormals; ranges with exclusive bounds and LIMIT, in both directions. */
static void test_zset_score_order(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    assert_int_result(run(f, KV_OP_ZADD, "z", "1", "p1", "-inf", "ninf", "1e-300", "tiny",
                          "-1e300", "nbig", "0", "zero", "inf", "pinf", "-0.5", "nhalf", "-1",
                          "n1", "4.9e-324", "sub", NULL), 9);
    struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf),
                        "ninf nbig n1 nhalf zero sub tiny p1 pinf");
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "(-1", "(1", "BYSCORE", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "nhalf zero sub tiny");
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "(0", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2",
                NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "n1 nbig");
    r = read_op(f->kv, KV_OP_ZREVRANGEBYSCORE, 0, "z", "+inf", "(inf", NULL);
    assert_int_equal(r.element_count, 0);
    r = read_op(f->kv, KV_OP_ZREVRANGEBYSCORE, 0, "z", "(inf", "-inf", "LIMIT", "0", "1", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "p1");
    assert_int_result(read_op(f->kv, KV_OP_ZCOUNT, 0, "z", "-inf", "+inf", NULL), 9);
    assert_int_result(read_op(f->kv, KV_OP_ZCOUNT, 0, "z", "(-inf", "(inf", NULL), 7);
    assert_int_result(read_op(f->kv, KV_OP_ZCOUNT, 0, "z", "2", "1", NULL), 0);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "-3", "-2", "REV", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "n1 nbig");
    /* Lex ranges on equal scores. */
    assert_int_result(run(f, KV_OP_ZADD, "l", "0", "b", "0", "a", "0", "ab", "0", "c", NULL), 4);
    r = read_op(f->kv, KV_OP_ZRANGEBYLEX, 0, "l", "(a", "[c", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "ab b c");
    r = read_op(f->kv, KV_OP_ZREVRANGEBYLEX, 0, "l", "(c", "-", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "b ab a");
    assert_int_result(read_op(f->kv, KV_OP_ZLEXCOUNT, 0, "l", "[ab", "+", NULL), 3);
    assert_int_result(run(f, KV_OP_ZREMRANGEBYLEX, "l", "-", "(b", NULL), 2);
    assert_int_result(run(f, KV_OP_ZREMRANGEBYRANK, "z", "0", "1", NULL), 2);
    assert_int_result(run(f, KV_OP_ZREMRANGEBYSCORE, "z", "(0", "1", NULL), 3);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "n1 nhalf zero pinf");
    r = run(f, KV_OP_ZPOPMAX, "z", "2", NULL);
    assert_int_equal(r.type, KV_RESULT_PAIRS);
    assert_string_equal(joined(&r, buf, sizeof buf), "pinf inf zero 0");
    r = run(f, KV_OP_ZPOPMIN, "z", NULL);
    assert_int_equal(r.type, KV_RESULT_ARRAY);
    assert_string_equal(joined(&r, buf, sizeof buf), "n1 -1");
}

/*
 * The point of the layout: a 100,000-member sorted set is 1 metadata record + 200,000
 * element records; one more ZADD dirties a few B-tree paths, and a score range of 100 from the
 * middle reads those 100, not the set.
 */
static void test_zset_big(void **state)
{
    struct fixture *f = *state;
    for (uint32_t c = 0; c < BIG_MEMBERS / PER_COMMAND; c++) {
        f->args[0] = kv_fixture_text("big");
        for (uint32_t i = 0; i < PER_COMMAND; i++) {
            uint32_t n = c * PER_COMMAND + i;
            snprintf(f->text[2 * i], sizeof f->text[2 * i], "%u", n);
            snprintf(f->text[2 * i + 1], sizeof f->text[2 * i + 1], "m%06u", n);
            f->args[1 + 2 * i] = kv_fixture_text(f->text[2 * i]);
            f->args[2 + 2 * i] = kv_fixture_text(f->text[2 * i + 1]);
        }
        assert_int_result(apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1 + 2 * PER_COMMAND),
                          PER_COMMAND);
    }
    assert_int_equal(entries(f->kv, f->kv->data_dbi), 1);
    uint64_t sum = 0, largest = 0, n = blocks(f->kv, &sum, &largest);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2 * BIG_MEMBERS + n);
    assert_int_equal(sum, BIG_MEMBERS);
    assert_true(largest <= 1024 && n >= BIG_MEMBERS / 1024 && n <= BIG_MEMBERS / 256);
    uint64_t before = pages_used(f->kv);
    assert_int_result(run(f, KV_OP_ZADD, "big", "50000.5", "new", NULL), 1);
    assert_int_result(run(f, KV_OP_ZADD, "big", "-1", "m000007", NULL), 0);
    assert_true(pages_used(f->kv) - before < 64);
    assert_true(before > 1000);
    char buf[2048];
    struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "big", "50000", "+inf", "BYSCORE",
                                 "LIMIT", "0", "3", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "m050000 new m050001");
    r = read_op(f->kv, KV_OP_ZRANGEBYSCORE, 0, "big", "(60000", "60100", NULL);
    assert_int_equal(r.element_count, 100);
    assert_text(&r.elements[0], KV_RESULT_BULK, "m060001");
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "big", "m000007", NULL), 0);
    /* m000007 moved first, "new" sits between m050000 and m050001. */
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "big", "m099990", NULL), 99991);
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "big", "m000008", NULL), 8);
    assert_int_result(read_op(f->kv, KV_OP_ZREVRANK, 0, "big", "m050001", NULL), 49998);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "big", "70000", "70001", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "m069999 m070000");
    r = read_op(f->kv, KV_OP_ZREVRANGE, 0, "big", "2", "2", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "m099997");
    assert_int_result(read_op(f->kv, KV_OP_ZCARD, 0, "big", NULL), BIG_MEMBERS + 1);
    /* DEL leaves the member records and the index to the trash; later entries reclaim both. */
    assert_int_result(run(f, KV_OP_DEL, "big", NULL), 1);
    for (int i = 0; i < 2000 && entries(f->kv, f->kv->elems_dbi) > 0; i++) {
        run(f, KV_OP_GET, "x", NULL);
    }
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 0);
}

/* Members longer than the index key's inline part: whole in replies, found by ZSCORE, ranked
 * and removed; those of different first bytes keep Redis's order. */
static void test_zset_long_members(void **state)
{
    struct fixture *f = *state;
    static char a[4097], b[600], c[600];
    memset(a, 'a', sizeof a - 1);
    memset(b, 'b', sizeof b - 1);
    memset(c, 'b', sizeof c - 1);
    c[sizeof c - 2] = 'c'; /* shares b's first 598 bytes */
    assert_int_result(run(f, KV_OP_ZADD, "z", "1", b, "1", a, "1", c, "1", "b", NULL), 4);
    struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", NULL);
    assert_int_equal(r.element_count, 4);
    assert_text(&r.elements[0], KV_RESULT_BULK, a);
    assert_text(&r.elements[1], KV_RESULT_BULK, "b");
    r = read_op(f->kv, KV_OP_ZSCORE, 0, "z", c, NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "1");
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", a, NULL), 0);
    r = run(f, KV_OP_ZINCRBY, "z", "5", a, NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "6");
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", a, NULL), 3);
    r = read_op(f->kv, KV_OP_ZRANGEBYSCORE, 0, "z", "5", "6", NULL);
    assert_int_equal(r.element_count, 1);
    assert_text(&r.elements[0], KV_RESULT_BULK, a);
    assert_int_result(run(f, KV_OP_ZREM, "z", b, a, NULL), 2);
    assert_int_result(read_op(f->kv, KV_OP_ZCARD, 0, "z", NULL), 2);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 5);
    static char too_long[4098];
    memset(too_long, 'x', sizeof too_long - 1);
    r = run(f, KV_OP_ZADD, "z", "1", too_long, NULL);
    assert_string_equal(r.error, "ERR element too large for chorus (max 4096 bytes)");
}

/* WRONGTYPE as Redis answers it, and ZADD's option rules. */
static void test_zset_wrongtype_options(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, KV_OP_SET, "s", "v", NULL).type, KV_RESULT_OK);
    assert_string_equal(run(f, KV_OP_ZADD, "s", "1", "a", NULL).error, kv_error_wrongtype);
    assert_string_equal(read_op(f->kv, KV_OP_ZRANGE, 0, "s", "0", "1", NULL).error,
                        kv_error_wrongtype);
    assert_int_result(run(f, KV_OP_ZADD, "z", "1", "a", NULL), 1);
    assert_string_equal(run(f, KV_OP_SADD, "z", "a", NULL).error, kv_error_wrongtype);
    assert_string_equal(run(f, KV_OP_ZADD, "z", "NX", "XX", "1", "a", NULL).error,
                        "ERR XX and NX options at the same time are not compatible");
    assert_string_equal(run(f, KV_OP_ZADD, "z", "GT", "LT", "1", "a", NULL).error,
                        "ERR GT, LT, and/or NX options at the same time are not compatible");
    assert_string_equal(run(f, KV_OP_ZADD, "z", "INCR", "1", "a", "2", "b", NULL).error,
                        "ERR INCR option supports a single increment-element pair");
    assert_int_result(run(f, KV_OP_ZADD, "z", "GT", "CH", "0", "a", "5", "b", NULL), 1);
    assert_int_result(run(f, KV_OP_ZADD, "z", "GT", "CH", "3", "a", NULL), 1);
    assert_int_result(run(f, KV_OP_ZADD, "z", "XX", "9", "new", NULL), 0);
    assert_int_equal(run(f, KV_OP_ZADD, "z", "NX", "INCR", "1", "a", NULL).type, KV_RESULT_NULL);
    assert_int_equal(run(f, KV_OP_ZADD, "none", "XX", "INCR", "1", "a", NULL).type,
                     KV_RESULT_NULL);
    int type = 0;
    uint64_t count = 0;
    assert_int_equal(kv_key_type(f->kv, (const uint8_t *)"none", 4, &type, &count), KV_OK);
    assert_int_equal(type, KV_TYPE_NONE);
    struct kv_result r = read_op(f->kv, KV_OP_ZSCORE, 0, "z", "a", NULL);
    assert_text(&r, KV_RESULT_DOUBLE, "3");
    assert_string_equal(read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "1", "LIMIT", "0", "1",
                                NULL).error,
                        "ERR syntax error, LIMIT is only supported in combination with either "
                        "BYSCORE or BYLEX");
    assert_string_equal(read_op(f->kv, KV_OP_ZCOUNT, 0, "z", "x", "1", NULL).error,
                        "ERR min or max is not a float");
    assert_string_equal(read_op(f->kv, KV_OP_ZLEXCOUNT, 0, "z", "a", "+", NULL).error,
                        "ERR min or max not valid string range item");
    assert_string_equal(run(f, KV_OP_ZPOPMIN, "z", "-1", NULL).error,
                        "ERR value is out of range, must be positive");
}

/* COPY copies the index with the members, RENAME moves the metadata alone, the STORE
 * commands replace their destination whatever it held, and sets count as scores of 1. */
static void test_zset_copy_store(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    assert_int_result(run(f, KV_OP_ZADD, "a", "1", "x", "2", "y", "3", "z", NULL), 3);
    assert_int_result(run(f, KV_OP_COPY, "a", "b", NULL), 1);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 14);
    uint64_t sum = 0;
    assert_int_equal(blocks(f->kv, &sum, NULL), 2);
    assert_int_equal(sum, 6);
    assert_int_result(run(f, KV_OP_ZREM, "b", "x", NULL), 1);
    assert_int_equal(run(f, KV_OP_RENAME, "b", "c", NULL).type, KV_RESULT_OK);
    struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "c", "0", "-1", "WITHSCORES", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "y 2 z 3");
    assert_int_result(run(f, KV_OP_SADD, "s", "x", "w", NULL), 2);
    assert_int_equal(run(f, KV_OP_SET, "dst", "string", NULL).type, KV_RESULT_OK);
    assert_int_result(run(f, KV_OP_ZUNIONSTORE, "dst", "3", "a", "c", "s", "WEIGHTS", "1", "10",
                          "0.5", NULL), 4);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "dst", "0", "-1", "WITHSCORES", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "w 0.5 x 1.5 y 22 z 33");
    assert_int_result(run(f, KV_OP_ZINTERSTORE, "dst", "2", "a", "c", "AGGREGATE", "MAX",
                          NULL), 2);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "dst", "0", "-1", "WITHSCORES", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "y 2 z 3");
    assert_int_result(run(f, KV_OP_ZINTERSTORE, "dst", "2", "a", "missing", NULL), 0);
    assert_int_equal(read_op(f->kv, KV_OP_ZCARD, 0, "dst", NULL).integer, 0);
    assert_int_result(run(f, KV_OP_ZRANGESTORE, "d2", "a", "(1", "+inf", "BYSCORE", "LIMIT",
                          "0", "1", NULL), 1);
    r = read_op(f->kv, KV_OP_ZRANGE, 0, "d2", "0", "-1", "WITHSCORES", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "y 2");
    assert_string_equal(run(f, KV_OP_ZUNIONSTORE, "d", "0", "a", NULL).error,
                        "ERR at least 1 input key is needed for 'zunionstore' command");
    assert_int_equal(run(f, KV_OP_SET, "str", "v", NULL).type, KV_RESULT_OK);
    assert_string_equal(run(f, KV_OP_ZUNIONSTORE, "d", "1", "str", NULL).error,
                        kv_error_wrongtype);
}

/* A snapshot carries members and index: the installed store answers ranges alike, and the
 * same commands then leave both stores with the same records. */
static void test_zset_snapshot(void **state)
{
    struct fixture *f = *state;
    char buf[512], buf2[512];
    assert_int_result(run(f, KV_OP_ZADD, "z", "3", "c", "1", "a", "2", "b", NULL), 3);
    f->args[0] = kv_fixture_text("gone");
    for (uint32_t i = 0; i < 600; i++) {
        snprintf(f->text[i], sizeof f->text[i], "m%u", i);
        f->args[1 + 2 * i] = kv_fixture_text("1");
        f->args[2 + 2 * i] = kv_fixture_text(f->text[i]);
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1201), 600);
    assert_int_result(run(f, KV_OP_DEL, "gone", NULL), 1); /* trash left to reclaim */
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->kv, path, &meta), KV_OK);
    struct kv_snapshot_meta installed;
    assert_int_equal(kv_snapshot_install(f->other, path, &installed), KV_OK);
    assert_int_equal(entries(f->other, f->other->elems_dbi), entries(f->kv, f->kv->elems_dbi));
    struct kv_result r = read_op(f->other, KV_OP_ZRANGE, 0, "z", "(1", "3", "BYSCORE",
                                 "WITHSCORES", NULL);
    assert_string_equal(joined(&r, buf, sizeof buf), "b 2 c 3");
    struct kv_bytes pop[2] = {kv_fixture_text("z"), kv_fixture_text("1")};
    r = apply_to(f, f->kv, KV_OP_ZPOPMIN, 0, pop, 2);
    joined(&r, buf, sizeof buf);
    r = apply_to(f, f->other, KV_OP_ZPOPMIN, 0, pop, 2);
    assert_string_equal(joined(&r, buf2, sizeof buf2), buf);
    for (int i = 0; i < 5; i++) {
        struct kv_bytes arg = kv_fixture_text("x");
        apply_to(f, f->kv, KV_OP_GET, 0, &arg, 1);
        apply_to(f, f->other, KV_OP_GET, 0, &arg, 1);
        assert_int_equal(entries(f->other, f->other->elems_dbi),
                         entries(f->kv, f->kv->elems_dbi));
    }
}

/* A member's rank and the element at a rank, found through the block counts, agree with the
 * set's order after inserts, rescoring and removals that split and merge blocks; the counts
 * always sum to the size. */
static void test_zset_ranks_counted(void **state)
{
    struct fixture *f = *state;
    enum { N = 6000 };
    uint64_t seed = 12345;
    for (uint32_t c = 0; c < N / PER_COMMAND; c++) {
        f->args[0] = kv_fixture_text("z");
        for (uint32_t i = 0; i < PER_COMMAND; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            snprintf(f->text[2 * i], sizeof f->text[2 * i], "%u", (unsigned)(seed >> 40) % 3000);
            snprintf(f->text[2 * i + 1], sizeof f->text[2 * i + 1], "m%u", c * PER_COMMAND + i);
            f->args[1 + 2 * i] = kv_fixture_text(f->text[2 * i]);
            f->args[2 + 2 * i] = kv_fixture_text(f->text[2 * i + 1]);
        }
        assert_int_result(apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1 + 2 * PER_COMMAND),
                          PER_COMMAND);
    }
    /* Remove a run from the middle (merges), rescore some (moves between blocks). */
    assert_int_result(run(f, KV_OP_ZREMRANGEBYRANK, "z", "1000", "2999", NULL), 2000);
    for (uint32_t i = 0; i < 300; i++) {
        char member[16];
        snprintf(member, sizeof member, "m%u", i * 19);
        snprintf(f->text[0], sizeof f->text[0], "%u", i * 7 % 3000);
        run(f, KV_OP_ZADD, "z", "XX", f->text[0], member, NULL);
    }
    uint64_t size = (uint64_t)read_op(f->kv, KV_OP_ZCARD, 0, "z", NULL).integer;
    uint64_t sum = 0, largest = 0;
    blocks(f->kv, &sum, &largest);
    assert_int_equal(sum, size);
    assert_true(largest <= 1024);
    struct kv_result all = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", NULL);
    assert_int_equal(all.element_count, size);
    static char names[N][16];
    for (uint32_t i = 0; i < size; i++) {
        snprintf(names[i], sizeof names[i], "%.*s", (int)all.elements[i].bulk_len,
                 all.elements[i].bulk);
    }
    for (uint32_t i = 0; i < size; i += 7) {
        assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", names[i], NULL), i);
        assert_int_result(read_op(f->kv, KV_OP_ZREVRANK, 0, "z", names[i], NULL), size - 1 - i);
        char rank[16];
        snprintf(rank, sizeof rank, "%u", i);
        struct kv_result one = read_op(f->kv, KV_OP_ZRANGE, 0, "z", rank, rank, NULL);
        assert_int_equal(one.element_count, 1);
        assert_text(&one.elements[0], KV_RESULT_BULK, names[i]);
        one = read_op(f->kv, KV_OP_ZRANGE, 0, "z", rank, rank, "REV", NULL);
        assert_text(&one.elements[0], KV_RESULT_BULK, names[size - 1 - i]);
    }
    /* A STORE writes its result whole and builds its block counts in one walk. */
    assert_int_result(run(f, KV_OP_ZUNIONSTORE, "u", "2", "z", "z", "WEIGHTS", "1", "0.5",
                          NULL), (int64_t)size);
    blocks(f->kv, &sum, &largest);
    assert_int_equal(sum, 2 * size);
    assert_true(largest <= 1024);
    for (uint32_t i = 0; i < size; i += 97) {
        assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "u", names[i], NULL), i);
    }
    assert_int_result(run(f, KV_OP_DEL, "u", NULL), 1);
    for (int i = 0; i < 100; i++) {
        run(f, KV_OP_GET, "x", NULL); /* each entry reclaims up to 256 trashed records */
    }
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 2 * size + blocks(f->kv, NULL, NULL));
    /* A set without block counts (as one made before them) is walked: same answers, and
     * writes to it keep working without making any. */
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    assert_int_equal(mdb_txn_begin(f->kv->env, NULL, 0, &txn), MDB_SUCCESS);
    assert_int_equal(mdb_cursor_open(txn, f->kv->elems_dbi, &c), MDB_SUCCESS);
    uint8_t seek[8] = {0xc0};
    MDB_val key = {.mv_size = sizeof seek, .mv_data = seek}, record;
    for (int rc = mdb_cursor_get(c, &key, &record, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(c, &key, &record, MDB_NEXT)) {
        assert_int_equal(mdb_cursor_del(c, 0), MDB_SUCCESS);
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
    assert_int_equal(blocks(f->kv, NULL, NULL), 0);
    uint32_t middle = (uint32_t)size / 2;
    assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", names[middle], NULL), middle);
    char rank[16];
    snprintf(rank, sizeof rank, "%u", middle);
    struct kv_result one = read_op(f->kv, KV_OP_ZRANGE, 0, "z", rank, rank, NULL);
    assert_text(&one.elements[0], KV_RESULT_BULK, names[middle]);
    assert_int_result(run(f, KV_OP_ZADD, "z", "5000", "late", NULL), 1);
    assert_int_equal(blocks(f->kv, NULL, NULL), 0);
    size++;
    /* Popping everything leaves no record behind, block counts included. */
    assert_int_result(run(f, KV_OP_ZREMRANGEBYSCORE, "z", "-inf", "+inf", NULL), (int64_t)size);
    assert_int_equal(entries(f->kv, f->kv->elems_dbi), 0);
}

/* The model of test_zset_random_model: member i's score when present. */
struct zmodel {
    bool present[3000];
    double score[3000];
};

/* Member i's rank in the model: those of lower score, or of equal score and lower name (the
 * names "m0000".."m2999" order as their numbers). */
static uint64_t model_rank(const struct zmodel *m, uint32_t i)
{
    uint64_t rank = 0;
    for (uint32_t j = 0; j < 3000; j++) {
        if (m->present[j] && (m->score[j] < m->score[i] || (m->score[j] == m->score[i] && j < i))) {
            rank++;
        }
    }
    return rank;
}

static uint64_t model_size(const struct zmodel *m)
{
    uint64_t n = 0;
    for (uint32_t j = 0; j < 3000; j++) {
        n += m->present[j];
    }
    return n;
}

/* Applies the model's removal of whatever a pop or range removal answered (member names). */
static void model_remove_reply(struct zmodel *m, const struct kv_result *r, uint32_t step)
{
    for (uint32_t k = 0; k < r->element_count; k += step) {
        const struct kv_result *e = &r->elements[k];
        assert_int_equal(e->type, KV_RESULT_BULK);
        assert_int_equal(e->bulk_len, 5);
        uint32_t i = (uint32_t)atoi((const char *)e->bulk + 1);
        assert_true(i < 3000 && m->present[i]);
        m->present[i] = false;
    }
}

/*
 * Random ZADD, ZINCRBY, ZREM, pops and rank removals on up to 3,000 members with many equal
 * scores, against a model: every 250 operations the block counts sum to the size and no block
 * is over 1,024, and ranks both ways (ZRANK, ZRANGE r r) agree with the model's.
 */
static void test_zset_random_model(void **state)
{
    struct fixture *f = *state;
    static struct zmodel m;
    memset(&m, 0, sizeof m);
    /* 2,000 members first (splits), then random operations that keep the size near there. */
    for (uint32_t c = 0; c < 2; c++) {
        f->args[0] = kv_fixture_text("z");
        for (uint32_t k = 0; k < PER_COMMAND; k++) {
            uint32_t i = c * PER_COMMAND + k;
            snprintf(f->text[2 * k], sizeof f->text[2 * k], "%u", i * 13 % 200);
            snprintf(f->text[2 * k + 1], sizeof f->text[2 * k + 1], "m%04u", i);
            f->args[1 + 2 * k] = kv_fixture_text(f->text[2 * k]);
            f->args[2 + 2 * k] = kv_fixture_text(f->text[2 * k + 1]);
            m.present[i] = true;
            m.score[i] = i * 13 % 200;
        }
        apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1 + 2 * PER_COMMAND);
    }
    uint64_t seed = 99;
    char name[16], num[32], num2[32];
    for (uint32_t op = 1; op <= 12000; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t x = (uint32_t)(seed >> 33);
        uint32_t i = x % 3000, kind = (x >> 12) % 64;
        snprintf(name, sizeof name, "m%04u", i);
        if (kind < 40) {
            int score = (int)((x >> 18) % 200);
            snprintf(num, sizeof num, "%d", score);
            run(f, KV_OP_ZADD, "z", num, name, NULL);
            m.present[i] = true;
            m.score[i] = score;
        } else if (kind < 48) {
            snprintf(num, sizeof num, "%d", (int)((x >> 18) % 7) - 3);
            run(f, KV_OP_ZINCRBY, "z", num, name, NULL);
            m.score[i] = (m.present[i] ? m.score[i] : 0) + atoi(num);
            m.present[i] = true;
        } else if (kind < 60) {
            assert_int_result(run(f, KV_OP_ZREM, "z", name, NULL), m.present[i]);
            m.present[i] = false;
        } else if (kind < 62) {
            snprintf(num, sizeof num, "%u", 1 + (x >> 18) % 5);
            struct kv_result r = run(f, kind == 60 ? KV_OP_ZPOPMIN : KV_OP_ZPOPMAX, "z", num, NULL);
            model_remove_reply(&m, &r, 2);
        } else {
            uint64_t size = model_size(&m);
            uint64_t a = size > 0 ? (x >> 18) % size : 0;
            snprintf(num, sizeof num, "%llu", (unsigned long long)a);
            snprintf(num2, sizeof num2, "%llu", (unsigned long long)(a + (x >> 8) % 10));
            struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", num, num2, NULL);
            model_remove_reply(&m, &r, 1);
            uint64_t n = r.element_count;
            assert_int_result(run(f, KV_OP_ZREMRANGEBYRANK, "z", num, num2, NULL), (int64_t)n);
        }
        if (op % 1000 == 500) {
            /* A wide removal empties most of a block or two (merges), then a refill. */
            uint64_t a = (x >> 4) % (model_size(&m) - 450);
            snprintf(num, sizeof num, "%llu", (unsigned long long)a);
            snprintf(num2, sizeof num2, "%llu", (unsigned long long)a + 449);
            struct kv_result r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", num, num2, NULL);
            model_remove_reply(&m, &r, 1);
            assert_int_result(run(f, KV_OP_ZREMRANGEBYRANK, "z", num, num2, NULL), 450);
            f->args[0] = kv_fixture_text("z");
            for (uint32_t k = 0, j = x % 3000; k < 450; k++) {
                while (m.present[j]) {
                    j = (j + 7) % 3000; /* an absent member: the refill adds 450 */
                }
                snprintf(f->text[2 * k], sizeof f->text[2 * k], "%u", (x + k) % 200);
                snprintf(f->text[2 * k + 1], sizeof f->text[2 * k + 1], "m%04u", j);
                f->args[1 + 2 * k] = kv_fixture_text(f->text[2 * k]);
                f->args[2 + 2 * k] = kv_fixture_text(f->text[2 * k + 1]);
                m.present[j] = true;
                m.score[j] = (x + k) % 200;
            }
            apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1 + 2 * 450);
        }
        if (op % 250 != 0) {
            continue;
        }
        uint64_t size = model_size(&m), sum = 0, largest = 0;
        assert_true(size > 1200); /* big enough for ranks from the block counts */
        assert_int_result(read_op(f->kv, KV_OP_ZCARD, 0, "z", NULL), (int64_t)size);
        blocks(f->kv, &sum, &largest);
        assert_int_equal(sum, size);
        assert_true(largest <= 1024);
        blocks_exact(f->kv);
        for (uint32_t q = 0; q < 3000; q += 37) {
            snprintf(name, sizeof name, "m%04u", q);
            struct kv_result r = read_op(f->kv, KV_OP_ZRANK, 0, "z", name, NULL);
            if (!m.present[q]) {
                assert_int_equal(r.type, KV_RESULT_NULL);
                continue;
            }
            uint64_t rank = model_rank(&m, q);
            assert_int_result(r, (int64_t)rank);
            snprintf(num, sizeof num, "%llu", (unsigned long long)rank);
            r = read_op(f->kv, KV_OP_ZRANGE, 0, "z", num, num, NULL);
            assert_int_equal(r.element_count, 1);
            assert_text(&r.elements[0], KV_RESULT_BULK, name);
        }
    }
}

/* ZADD rescoring a member within its block rewrites no block count (kv_zset_write), one
 * across blocks moves one from block to block: on 3,000 members (6 blocks), rescorings near
 * the old score and far from it, each followed by exact counts and the member's rank. */
static void test_zset_rescore_blocks(void **state)
{
    struct fixture *f = *state;
    for (uint32_t c = 0; c < 3000 / PER_COMMAND; c++) {
        f->args[0] = kv_fixture_text("z");
        for (uint32_t k = 0; k < PER_COMMAND; k++) {
            uint32_t i = c * PER_COMMAND + k;
            snprintf(f->text[2 * k], sizeof f->text[2 * k], "%u", 10 * i);
            snprintf(f->text[2 * k + 1], sizeof f->text[2 * k + 1], "m%04u", i);
            f->args[1 + 2 * k] = kv_fixture_text(f->text[2 * k]);
            f->args[2 + 2 * k] = kv_fixture_text(f->text[2 * k + 1]);
        }
        apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 1 + 2 * PER_COMMAND);
    }
    uint64_t n = blocks_exact(f->kv);
    assert_true(n >= 3);
    uint64_t seed = 7;
    char name[16], score[32];
    for (uint32_t op = 0; op < 600; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t x = (uint32_t)(seed >> 33), i = x % 3000;
        /* Near: stays between its neighbours' scores (same rank, same block); far: anywhere. */
        double s = op % 2 == 0 ? 10.0 * i + (double)(x >> 20 & 7) : (double)(x >> 8 & 0x7fff);
        snprintf(name, sizeof name, "m%04u", i);
        snprintf(score, sizeof score, "%.17g", s);
        assert_int_result(run(f, KV_OP_ZADD, "z", score, name, NULL), 0);
        if (op % 2 == 0) {
            assert_int_equal(read_op(f->kv, KV_OP_ZSCORE, 0, "z", name, NULL).type,
                             KV_RESULT_DOUBLE);
        }
        if (op % 25 == 0) {
            blocks_exact(f->kv);
        }
    }
    blocks_exact(f->kv);
    uint64_t sum = 0;
    blocks(f->kv, &sum, NULL);
    assert_int_equal(sum, 3000);
    struct kv_result all = read_op(f->kv, KV_OP_ZRANGE, 0, "z", "0", "-1", NULL);
    assert_int_equal(all.element_count, 3000);
    static char names[3000][16];
    for (uint32_t i = 0; i < 3000; i++) {
        snprintf(names[i], sizeof names[i], "%.*s", (int)all.elements[i].bulk_len,
                 all.elements[i].bulk);
    }
    for (uint32_t i = 0; i < 3000; i += 11) {
        assert_int_result(read_op(f->kv, KV_OP_ZRANK, 0, "z", names[i], NULL), i);
    }
}

/* ZRANDMEMBER's pick comes from the seed: two stores with the same set and seed agree, and
 * every pick is a member with its score. */
static void test_zrandmember_seeded(void **state)
{
    struct fixture *f = *state;
    f->args[0] = kv_fixture_text("z");
    for (uint32_t i = 0; i < 100; i++) {
        snprintf(f->text[2 * i], sizeof f->text[2 * i], "%u", i);
        snprintf(f->text[2 * i + 1], sizeof f->text[2 * i + 1], "m%u", i);
        f->args[1 + 2 * i] = kv_fixture_text(f->text[2 * i]);
        f->args[2 + 2 * i] = kv_fixture_text(f->text[2 * i + 1]);
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 201), 100);
    assert_int_result(apply_to(f, f->other, KV_OP_ZADD, 0, f->args, 201), 100);
    for (int64_t seed = 1; seed < 20; seed++) {
        char a[512], b[512];
        struct kv_result r = read_op(f->kv, KV_OP_ZRANDMEMBER, seed * 7919, "z", "-5",
                                     "WITHSCORES", NULL);
        assert_int_equal(r.type, KV_RESULT_PAIRS);
        assert_int_equal(r.element_count, 10);
        joined(&r, a, sizeof a);
        for (uint32_t i = 0; i < 10; i += 2) {
            /* member m<k> has score k */
            assert_int_equal(r.elements[i].bulk_len, r.elements[i + 1].bulk_len + 1);
            assert_memory_equal(r.elements[i].bulk + 1, r.elements[i + 1].bulk,
                                r.elements[i + 1].bulk_len);
        }
        r = read_op(f->other, KV_OP_ZRANDMEMBER, seed * 7919, "z", "-5", "WITHSCORES", NULL);
        assert_string_equal(joined(&r, b, sizeof b), a);
    }
    struct kv_result r = read_op(f->kv, KV_OP_ZRANDMEMBER, 5, "z", "200", NULL);
    assert_int_equal(r.element_count, 100);
}

/* ZSCAN with COUNT 1 visits every member once, with its score as text. */
static void test_zscan_complete(void **state)
{
    struct fixture *f = *state;
    f->args[0] = kv_fixture_text("z");
    for (uint32_t i = 0; i < 300; i++) {
        snprintf(f->text[i], sizeof f->text[i], "f%u", i);
        f->args[1 + 2 * i] = kv_fixture_text("1.5");
        f->args[2 + 2 * i] = kv_fixture_text(f->text[i]);
    }
    assert_int_result(apply_to(f, f->kv, KV_OP_ZADD, 0, f->args, 601), 300);
    char cursor[32] = "0";
    uint32_t seen = 0, calls = 0;
    do {
        struct kv_result r = read_op(f->kv, KV_OP_ZSCAN, 0, "z", cursor, "COUNT", "1", NULL);
        assert_int_equal(r.type, KV_RESULT_ARRAY);
        snprintf(cursor, sizeof cursor, "%.*s", (int)r.elements[0].bulk_len, r.elements[0].bulk);
        for (uint32_t i = 1; i < r.elements[1].element_count; i += 2) {
            assert_text(&r.elements[1].elements[i], KV_RESULT_BULK, "1.5");
        }
        seen += r.elements[1].element_count / 2;
        assert_true(++calls <= 301);
    } while (strcmp(cursor, "0") != 0);
    assert_int_equal(seen, 300);
}

/* A log entry of an op number between the list and sorted set ops is rejected as corrupt. */
static void test_zset_op_numbers(void **state)
{
    (void)state;
    struct kv_bytes arg = kv_fixture_text("k");
    struct kv_command c = {.op = KV_OP_LIST_LAST + 1, .arg_count = 1, .args = &arg};
    const char *reason = NULL;
    assert_int_equal(kv_command_check(&c, &reason), KV_ERR_INVALID);
    c.op = KV_OP_ZSET_FIRST;
    assert_int_equal(kv_command_check(&c, &reason), KV_OK);
    assert_string_equal(kv_op_name(KV_OP_ZREMRANGEBYLEX), "zremrangebylex");
    assert_true(kv_op_is_random(KV_OP_ZRANDMEMBER));
    assert_true(kv_op_is_collection_read(KV_OP_ZRANGE));
    assert_false(kv_op_is_collection_read(KV_OP_ZRANGESTORE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zset_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_score_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_long_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_wrongtype_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_copy_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_ranks_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_random_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zset_rescore_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zrandmember_seeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zscan_complete, setup, teardown),
        cmocka_unit_test(test_zset_op_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
