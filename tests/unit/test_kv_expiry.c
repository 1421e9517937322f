/* test_kv_expiry.c — key expiry in the store (docs/expiry.md): entries apply with "now" =
 * their log time, the same on two stores however the entries are batched; the log time never
 * goes back; writes delete the expired keys they name, reads see them absent; the deadline
 * index finds due keys earliest first, bounded per clock entry; snapshots and a reopen keep
 * deadlines and the log time; SET, RENAME, COPY and an emptied collection do what Redis does
 * with a deadline. */
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
#include "storage/kv_coll.h" /* white box: the elements DB holds the deadlines */
#include "storage/kv_command.h"
#include "storage/kv_logclock.h"

#include "../support/kv_fixture.h"

enum { ARGS_MAX = 16, ENTRY_BYTES_MAX = 1u << 16, T0 = 1700000000000ull };

struct fixture {
    char dir[64];
    char dir2[64];
    struct kv *kv;
    struct kv *other;
    uint8_t entry[ENTRY_BYTES_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_expiry.XXXXXX");
    snprintf(f->dir2, sizeof f->dir2, "/tmp/test_kv_expiry2.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->dir2));
    assert_int_equal(kv_open(f->dir, NULL, &f->kv), KV_OK);
    assert_int_equal(kv_open(f->dir2, NULL, &f->other), KV_OK);
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
    free(f);
    return 0;
}

/* One command: its op, flags, delta and NULL-terminated text arguments. */
struct cmd {
    uint8_t op;
    uint8_t flags;
    int64_t delta;
    const char *args[ARGS_MAX];
};

static size_t encode(uint8_t *buf, size_t cap, const struct cmd *c)
{
    struct kv_bytes args[ARGS_MAX];
    uint32_t n = 0;
    while (n < ARGS_MAX && c->args[n] != NULL) {
        args[n] = (struct kv_bytes){.data = (const uint8_t *)c->args[n], .len = strlen(c->args[n])};
        n++;
    }
    struct kv_bytes none[1] = {{0}};
    struct kv_command command = {.op = c->op, .flags = c->flags, .delta = c->delta,
                                 .arg_count = n, .args = n > 0 ? args : none};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&command, buf, cap, &len, &reason), KV_OK);
    return len;
}

/* Applies `count` commands as consecutive entries, the i-th with log time times[i], in
 * batches of `batch`; returns the last result (its memory valid until the next apply). */
static struct kv_result apply_many(struct fixture *f, struct kv *kv, const struct cmd *cmds,
                                   const uint64_t *times, size_t count, size_t batch)
{
    static struct kv_result results[64];
    struct kv_apply_item items[64];
    assert_true(count <= 64 && batch >= 1);
    size_t at = 0, used = 0;
    struct kv_result last = {0};
    for (size_t first = 0; first < count; first += batch) {
        size_t n = count - first < batch ? count - first : batch;
        uint64_t index = 0, term = 0;
        kv_applied(kv, &index, &term);
        used = 0;
        for (size_t i = 0; i < n; i++) {
            size_t len = encode(f->entry + used, sizeof f->entry - used, &cmds[first + i]);
            items[i] = (struct kv_apply_item){.index = index + 1 + i, .term = 1,
                                              .kind = KV_ITEM_COMMAND, .data = f->entry + used,
                                              .data_len = (uint32_t)len,
                                              .time_ms = times[first + i]};
            used += len;
        }
        assert_int_equal(kv_apply_batch(kv, items, n, results), KV_OK);
        last = results[n - 1];
        at += n;
    }
    assert_int_equal(at, count);
    return last;
}

static struct kv_result apply_at(struct fixture *f, struct kv *kv, uint64_t time_ms,
                                 struct cmd c)
{
    return apply_many(f, kv, &c, &time_ms, 1, 1);
}

/* A read through kv_read_run (TTL and friends), at the store's own log time. */
static int64_t ttl_of(struct kv *kv, uint8_t op, const char *key)
{
    struct kv_bytes arg = {.data = (const uint8_t *)key, .len = strlen(key)};
    struct kv_command c = {.op = op, .arg_count = 1, .args = &arg};
    struct kv_result r;
    assert_int_equal(kv_read_run(kv, &c, &r), KV_OK);
    assert_int_equal(r.type, KV_RESULT_INTEGER);
    return r.integer;
}

static bool exists(struct kv *kv, const char *key)
{
    struct kv_bytes k = {.data = (const uint8_t *)key, .len = strlen(key)};
    uint64_t n = 0;
    assert_int_equal(kv_exists(kv, &k, 1, &n), KV_OK);
    return n == 1;
}

static uint64_t volatile_keys(struct kv *kv)
{
    struct kv_expiry_stats stats;
    assert_int_equal(kv_expiry_stats(kv, &stats), KV_OK);
    return stats.volatile_keys;
}

static uint64_t elements(struct kv *kv)
{
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), 0);
    MDB_stat stat;
    assert_int_equal(mdb_stat(txn, kv->elems_dbi, &stat), 0);
    mdb_txn_abort(txn);
    return stat.ms_entries;
}

/* The same entries with the same log times, applied one by one on one store and in one
 * batch on the other, leave the same keys and the same TTLs; the key whose deadline the
 * last entry's log time reached is absent on both. */
static void test_apply_deterministic(void **state)
{
    struct fixture *f = *state;
    const struct cmd cmds[] = {
        {KV_OP_SET, 0, 0, {"a", "1"}},
        {KV_OP_SET, KV_FLAG_EXPIRE, 1000, {"b", "2"}},        /* PX 1000: T0 + 1001 */
        {KV_OP_SET, KV_FLAG_EXPIRE, -(int64_t)(T0 + 5000), {"c", "3"}}, /* PXAT */
        {KV_OP_HSET, 0, 0, {"h", "f", "v"}},
        {KV_OP_EXPIRE, 0, 0, {"h", "2"}},                     /* EXPIRE h 2 at T0 + 3 */
        {KV_OP_INCRBY, 0, 1, {"a"}},
        {KV_OP_INCRBY, 0, 1, {"a"}},
    };
    const uint64_t times[] = {T0, T0 + 1, T0 + 2, T0 + 2, T0 + 3, T0 + 1500, T0 + 1600};
    size_t n = sizeof cmds / sizeof cmds[0];
    apply_many(f, f->kv, cmds, times, n, 1);
    apply_many(f, f->other, cmds, times, n, n);
    struct kv *stores[2] = {f->kv, f->other};
    for (int s = 0; s < 2; s++) {
        assert_int_equal(kv_time(stores[s]), T0 + 1600);
        assert_false(exists(stores[s], "b")); /* T0 + 1001 <= T0 + 1600 */
        assert_true(exists(stores[s], "c"));
        assert_int_equal(ttl_of(stores[s], KV_OP_PTTL, "c"), 5000 - 1600);
        assert_int_equal(ttl_of(stores[s], KV_OP_PTTL, "h"), 2003 - 1600);
        assert_int_equal(ttl_of(stores[s], KV_OP_TTL, "a"), -1);
        assert_int_equal(ttl_of(stores[s], KV_OP_TTL, "b"), -2);
        assert_int_equal(ttl_of(stores[s], KV_OP_PEXPIRETIME, "c"), (int64_t)(T0 + 5000));
        assert_int_equal(ttl_of(stores[s], KV_OP_EXPIRETIME, "c"), (int64_t)((T0 + 5000 + 500) / 1000));
    }
    /* b was not deleted by a read: it still has its records until a write or the clock
     * entry; then both stores delete it at the same entry. */
    assert_int_equal(volatile_keys(f->kv), 3);
    struct cmd due = {KV_OP_EXPIRE_DUE, 0, 0, {NULL}};
    struct kv_result r1 = apply_at(f, f->kv, T0 + 1700, due);
    struct kv_result r2 = apply_at(f, f->other, T0 + 1700, due);
    assert_int_equal(r1.integer, 1);
    assert_int_equal(r2.integer, 1);
    assert_int_equal(volatile_keys(f->kv), 2);
    assert_int_equal(volatile_keys(f->other), 2);
}

/* An entry stamped earlier than the store's log time (a new leader's first ones) does not
 * move it back, and an unstamped one (0) leaves it. */
static void test_time_never_goes_back(void **state)
{
    struct fixture *f = *state;
    apply_at(f, f->kv, T0 + 100, (struct cmd){KV_OP_SET, KV_FLAG_EXPIRE, 50, {"k", "v"}});
    apply_at(f, f->kv, T0 + 10, (struct cmd){KV_OP_SET, 0, 0, {"x", "1"}});
    assert_int_equal(kv_time(f->kv), T0 + 100);
    apply_at(f, f->kv, 0, (struct cmd){KV_OP_SET, 0, 0, {"y", "1"}});
    assert_int_equal(kv_time(f->kv), T0 + 100);
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "k"), 50);
    apply_at(f, f->kv, T0 + 150, (struct cmd){KV_OP_SET, 0, 0, {"z", "1"}});
    assert_false(exists(f->kv, "k")); /* deadline T0 + 150 reached */
}

/* A write that names an expired key finds it absent (SET NX sets it, INCR starts at 0, an
 * expired hash is a new one), and its old records are gone. */
static void test_write_purges_expired(void **state)
{
    struct fixture *f = *state;
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, KV_FLAG_EXPIRE, 10, {"s", "41"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_HSET, 0, 0, {"h", "f1", "v", "f2", "v"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_PEXPIRE, 0, 0, {"h", "10"}});
    struct kv_result r = apply_at(f, f->kv, T0 + 10, (struct cmd){KV_OP_INCRBY, 0, 1, {"s"}});
    assert_int_equal(r.integer, 1);
    assert_int_equal(ttl_of(f->kv, KV_OP_TTL, "s"), -1);
    r = apply_at(f, f->kv, T0 + 10, (struct cmd){KV_OP_HSET, 0, 0, {"h", "f3", "v"}});
    assert_int_equal(r.integer, 1);
    struct kv_bytes key = {.data = (const uint8_t *)"h", .len = 1};
    struct kv_command hlen = {.op = KV_OP_HLEN, .arg_count = 1, .args = &key};
    assert_int_equal(kv_read_run(f->kv, &hlen, &r), KV_OK);
    assert_int_equal(r.integer, 1);
    assert_int_equal(volatile_keys(f->kv), 0);
}

/* The clock entry deletes due keys earliest first, at most KV_EXPIRE_DUE_KEYS_MAX per entry,
 * and none that is not due; the index and the count then agree. */
static void test_deadline_index(void **state)
{
    struct fixture *f = *state;
    enum { KEYS = KV_EXPIRE_DUE_KEYS_MAX + 200 };
    char name[32], ms[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(name, sizeof name, "k%d", i);
        snprintf(ms, sizeof ms, "%d", 1 + (i * 7919) % KEYS); /* shuffled deadlines */
        apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, 0, 0, {name, "v"}});
        apply_at(f, f->kv, T0, (struct cmd){KV_OP_PEXPIRE, 0, 0, {name, ms}});
    }
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, KV_FLAG_EXPIRE, 1000000, {"late", "v"}});
    assert_int_equal(volatile_keys(f->kv), KEYS + 1);
    struct kv_expiry_stats stats;
    assert_int_equal(kv_expiry_stats(f->kv, &stats), KV_OK);
    assert_int_equal(stats.next_deadline_ms, T0 + 1);
    struct cmd due = {KV_OP_EXPIRE_DUE, 0, 0, {NULL}};
    struct kv_result r = apply_at(f, f->kv, T0 + KEYS, due);
    assert_int_equal(r.integer, KV_EXPIRE_DUE_KEYS_MAX);
    assert_int_equal(kv_expiry_stats(f->kv, &stats), KV_OK);
    assert_int_equal(stats.next_deadline_ms, T0 + KV_EXPIRE_DUE_KEYS_MAX + 1);
    r = apply_at(f, f->kv, T0 + KEYS, due);
    assert_int_equal(r.integer, 200);
    r = apply_at(f, f->kv, T0 + KEYS, due);
    assert_int_equal(r.integer, 0);
    assert_int_equal(volatile_keys(f->kv), 1);
    assert_int_equal(elements(f->kv), 2); /* late's deadline and its index record */
    uint64_t count = 0;
    assert_int_equal(kv_count(f->kv, &count), KV_OK);
    assert_int_equal(count, 1);
}

/* A snapshot carries deadlines and the log time; installed elsewhere, TTLs read the same,
 * and a reopened store keeps both. */
static void test_snapshot_and_reopen(void **state)
{
    struct fixture *f = *state;
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, KV_FLAG_EXPIRE, 60000, {"s", "v"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_RPUSH, 0, 0, {"l", "a", "b"}});
    apply_at(f, f->kv, T0 + 5, (struct cmd){KV_OP_EXPIRE, 0, 0, {"l", "100"}});
    apply_at(f, f->kv, T0 + 7, (struct cmd){KV_OP_SET, 0, 0, {"plain", "v"}});
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->kv, path, &meta), KV_OK);
    struct kv_snapshot_meta installed;
    assert_int_equal(kv_snapshot_install(f->other, path, &installed), KV_OK);
    assert_int_equal(kv_time(f->other), T0 + 7);
    assert_int_equal(volatile_keys(f->other), 2);
    assert_int_equal(ttl_of(f->other, KV_OP_PTTL, "s"), 60000 - 7);
    assert_int_equal(ttl_of(f->other, KV_OP_PTTL, "l"), 100005 - 7);
    assert_int_equal(ttl_of(f->other, KV_OP_TTL, "plain"), -1);
    kv_close(f->other);
    assert_int_equal(kv_open(f->dir2, NULL, &f->other), KV_OK);
    assert_int_equal(kv_time(f->other), T0 + 7);
    assert_int_equal(ttl_of(f->other, KV_OP_PTTL, "l"), 100005 - 7);
    struct cmd due = {KV_OP_EXPIRE_DUE, 0, 0, {NULL}};
    assert_int_equal(apply_at(f, f->other, T0 + 60000, due).integer, 1);
    assert_false(exists(f->other, "s"));
    assert_true(exists(f->other, "l"));
}

/* SET clears a deadline unless KEEPTTL; RENAME moves it; COPY copies it; a collection that
 * becomes empty takes its deadline with it; a deadline already passed deletes at once;
 * FLUSHALL leaves none. */
static void test_deadline_follows_key(void **state)
{
    struct fixture *f = *state;
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, KV_FLAG_EXPIRE, 1000, {"a", "1"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, KV_FLAG_KEEPTTL, 0, {"a", "2"}});
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "a"), 1000);
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_RENAME, 0, 0, {"a", "b"}});
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "b"), 1000);
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "a"), -2);
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_COPY, 0, 0, {"b", "c"}});
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "c"), 1000);
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SET, 0, 0, {"c", "x"}});
    assert_int_equal(ttl_of(f->kv, KV_OP_PTTL, "c"), -1);
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SADD, 0, 0, {"s", "m"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_EXPIRE, 0, 0, {"s", "5"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SREM, 0, 0, {"s", "m"}});
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_SADD, 0, 0, {"s", "m"}});
    assert_int_equal(ttl_of(f->kv, KV_OP_TTL, "s"), -1);
    struct kv_result r = apply_at(f, f->kv, T0,
                                  (struct cmd){KV_OP_PEXPIREAT, 0, 0, {"s", "1"}});
    assert_int_equal(r.integer, 1);
    assert_false(exists(f->kv, "s"));
    assert_int_equal(volatile_keys(f->kv), 1); /* b */
    apply_at(f, f->kv, T0, (struct cmd){KV_OP_FLUSHALL, 0, 0, {NULL}});
    assert_int_equal(volatile_keys(f->kv), 0);
    assert_int_equal(elements(f->kv), 0);
}

/* The leader's clock (kv_logclock.c): a new cluster starts at the wall clock; stamps follow
 * the monotonic clock and move toward the wall clock by 1 % at most, so a jump of an hour
 * either way moves them by the slew only; they never go back; a new term starts from the
 * store's log time plus the time seen to pass since. */
static void test_leader_clock(void **state)
{
    (void)state;
    struct kv_logclock clock = {0};
    struct kv_logclock_seen applied = {0};
    uint64_t wall = T0, mono = 500;
    uint64_t t = kv_logclock_stamp(&clock, 1, &applied, mono, wall, true);
    assert_int_equal(t, T0);
    uint64_t last = t;
    for (int i = 1; i <= 100; i++) { /* 10 s; the wall clock jumps back an hour at 5 s */
        mono += 100;
        wall += 100;
        if (i == 50) {
            wall -= 3600 * 1000;
        }
        t = kv_logclock_stamp(&clock, 1, &applied, mono, wall, true);
        assert_true(t >= last);
        assert_true(t - last <= 101); /* the elapsed 100 ms and at most 1 ms of slew */
        last = t;
    }
    assert_true(last >= T0 + 10000 - 100 && last <= T0 + 10000);
    /* A wall clock an hour ahead pulls by 1 % at most. */
    wall = T0 + 3600 * 1000;
    uint64_t before = last;
    mono += 1000;
    t = kv_logclock_stamp(&clock, 1, &applied, mono, wall, true);
    assert_true(t >= before + 1000 && t <= before + 1010);
    /* Term 2 on another node: from the store's time plus what it saw pass since. */
    struct kv_logclock other = {0};
    struct kv_logclock_seen seen = {.time_ms = T0 + 4000, .seen_mono_ms = 7000};
    t = kv_logclock_stamp(&other, 2, &seen, 7300, T0 - 5000, false);
    assert_int_equal(t, T0 + 4300); /* 300 ms later; no slew before time passes from there */
    assert_int_equal(other.last_ms, 0); /* not committed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_never_goes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_purges_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_follows_key, setup, teardown),
        cmocka_unit_test(test_leader_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
