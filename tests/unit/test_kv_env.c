/*
 * test_kv_env.c — many stores in one LMDB environment (kv.h): deferred commits that readers
 * see only after kv_env_commit, stores that never see each other's keys, per-store applied
 * indexes across a reopen, a full map rolling back one store's command alone (the other
 * stores' applies in the txn done again from the replay record), snapshots of
 * one store installed into another environment, and store 0 reading a kv_open directory.
 */
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

enum { STORES = 3, ENTRY_BYTES_MAX = 1u << 10 };

struct fixture {
    char dir[64];
    char other_dir[64];
    struct kv_env *env;
    struct kv *stores[STORES];
};

static void open_env(struct fixture *f, uint64_t map_bytes)
{
    struct kv_options options;
    kv_options_defaults(&options);
    if (map_bytes != 0) {
        options.map_bytes = map_bytes;
    }
    assert_int_equal(kv_env_open(f->dir, &options, STORES, &f->env), KV_OK);
    for (uint32_t i = 0; i < STORES; i++) {
        assert_int_equal(kv_store_open(f->env, i, &f->stores[i]), KV_OK);
    }
}

static void close_env(struct fixture *f)
{
    for (uint32_t i = 0; i < STORES; i++) {
        kv_close(f->stores[i]);
        f->stores[i] = NULL;
    }
    kv_env_close(f->env);
    f->env = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kv_env.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->other_dir, sizeof f->other_dir, "/tmp/test_kv_env_other.XXXXXX");
    assert_non_null(mkdtemp(f->other_dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->env != NULL) {
        close_env(f);
    }
    kv_fixture_remove_dir(f->dir);
    kv_fixture_remove_dir(f->other_dir);
    free(f);
    return 0;
}

/* Applies one command (op with NUL-terminated args) as the store's next entry. */
static struct kv_result apply_value(struct kv *kv, uint8_t op, struct kv_bytes key,
                                    struct kv_bytes value, uint32_t arg_count)
{
    static uint8_t entry[ENTRY_BYTES_MAX + (600u << 10)];
    struct kv_bytes args[2] = {key, value};
    struct kv_command command = {.op = op, .arg_count = arg_count, .args = args};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&command, entry, sizeof entry, &len, &reason), KV_OK);
    uint64_t index, term;
    kv_applied(kv, &index, &term);
    struct kv_apply_item item = {.index = index + 1, .term = 1, .kind = KV_ITEM_COMMAND,
                                 .data = entry, .data_len = (uint32_t)len};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(kv, &item, 1, &result), KV_OK);
    return result;
}

static struct kv_result set(struct kv *kv, const char *key, const char *value)
{
    return apply_value(kv, KV_OP_SET, kv_fixture_text(key), kv_fixture_text(value), 2);
}

/* The value a reader sees now, or NULL. */
static const char *get(struct kv *kv, const char *key, char *buf, size_t cap)
{
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(kv, (const uint8_t *)key, strlen(key), (uint8_t *)buf, cap - 1,
                            &len, &found), KV_OK);
    if (!found) {
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static void assert_value(struct kv *kv, const char *key, const char *value)
{
    char buf[128];
    const char *got = get(kv, key, buf, sizeof buf);
    if (value == NULL) {
        assert_null(got);
    } else {
        assert_non_null(got);
        assert_string_equal(got, value);
    }
}

static uint64_t count(struct kv *kv)
{
    uint64_t n = 99;
    assert_int_equal(kv_count(kv, &n), KV_OK);
    return n;
}

/* Applies wait for kv_env_commit; each store keeps its own keys and count. */
static void test_deferred_commit_and_isolation(void **state)
{
    struct fixture *f = *state;
    open_env(f, 0);
    assert_int_equal(set(f->stores[0], "k", "zero").type, KV_RESULT_OK);
    assert_int_equal(set(f->stores[1], "k", "one").type, KV_RESULT_OK);
    assert_int_equal(set(f->stores[1], "only1", "x").type, KV_RESULT_OK);
    /* Not committed: readers see nothing yet, the apply thread already knows the index. */
    assert_value(f->stores[0], "k", NULL);
    assert_value(f->stores[1], "k", NULL);
    uint64_t index, term;
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 2);
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    assert_int_equal(kv_env_commit(f->env), KV_OK); /* nothing pending: a no-op */
    assert_value(f->stores[0], "k", "zero");
    assert_value(f->stores[1], "k", "one");
    assert_value(f->stores[2], "k", NULL);
    assert_value(f->stores[0], "only1", NULL);
    assert_int_equal(count(f->stores[0]), 1);
    assert_int_equal(count(f->stores[1]), 2);
    assert_int_equal(count(f->stores[2]), 0);
    /* FLUSHALL empties its own store only. */
    assert_int_equal(apply_value(f->stores[1], KV_OP_FLUSHALL, kv_fixture_text(""), kv_fixture_text(""), 0).type,
                     KV_RESULT_OK);
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    assert_int_equal(count(f->stores[1]), 0);
    assert_value(f->stores[0], "k", "zero");
    /* The applied index each reader sees is its own store's. */
    struct kv_read read;
    assert_int_equal(kv_read_begin(f->stores[0], &read), KV_OK);
    assert_int_equal(kv_read_applied(&read, &index, &term), KV_OK);
    kv_read_end(&read);
    assert_int_equal(index, 1);
}

/* Committed applies and each store's applied index survive a reopen; uncommitted ones do
 * not (the WAL replays them), and replaying them then applies them once. */
static void test_reopen_keeps_committed(void **state)
{
    struct fixture *f = *state;
    open_env(f, 0);
    set(f->stores[0], "a", "1");
    set(f->stores[2], "b", "2");
    set(f->stores[2], "b", "3");
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    kv_close(f->stores[0]);
    kv_close(f->stores[1]);
    kv_close(f->stores[2]);
    kv_env_close(f->env); /* commits nothing more: nothing pending */
    f->env = NULL;
    open_env(f, 0);
    uint64_t index, term;
    kv_applied(f->stores[0], &index, &term);
    assert_int_equal(index, 1);
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 0);
    kv_applied(f->stores[2], &index, &term);
    assert_int_equal(index, 2);
    assert_value(f->stores[2], "b", "3");
    assert_value(f->stores[0], "a", "1");
    /* A store id beyond the environment's bound is refused. */
    struct kv *extra = NULL;
    assert_int_equal(kv_store_open(f->env, STORES, &extra), KV_ERR_INVALID);
    assert_null(extra);
}

/* A dropped store is empty and back at applied index 0, also after a reopen, and takes
 * entries from 1 again; the other stores keep theirs, pending applies included. */
static void test_store_drop(void **state)
{
    struct fixture *f = *state;
    open_env(f, 0);
    set(f->stores[1], "a", "1");
    set(f->stores[1], "b", "2");
    set(f->stores[2], "c", "3");
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    set(f->stores[2], "d", "4"); /* pending in the shared txn: committed by the drop */
    assert_int_equal(kv_store_drop(f->stores[1]), KV_OK);
    uint64_t index, term;
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 0);
    assert_int_equal(count(f->stores[1]), 0);
    assert_value(f->stores[1], "a", NULL);
    assert_value(f->stores[2], "d", "4");
    close_env(f);
    open_env(f, 0);
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 0);
    assert_int_equal(count(f->stores[1]), 0);
    assert_int_equal(count(f->stores[2]), 2);
    set(f->stores[1], "e", "5");
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 1);
    assert_value(f->stores[1], "e", "5");
}

/* A full map rolls back the one command that did not fit; the other stores' applies in the
 * same deferred txn are kept. */
static void test_map_full_in_shared_txn(void **state)
{
    struct fixture *f = *state;
    open_env(f, 256u << 10);
    static uint8_t big[300u << 10];
    memset(big, 'x', sizeof big);
    assert_int_equal(set(f->stores[0], "a", "1").type, KV_RESULT_OK);
    struct kv_result r = apply_value(f->stores[1], KV_OP_SET, kv_fixture_text("big"),
                                     (struct kv_bytes){big, sizeof big}, 2);
    assert_int_equal(r.type, KV_RESULT_ERROR);
    assert_string_equal(r.error, "ERR storage full");
    assert_int_equal(set(f->stores[2], "c", "3").type, KV_RESULT_OK);
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    assert_value(f->stores[0], "a", "1");
    assert_value(f->stores[1], "big", NULL);
    assert_value(f->stores[2], "c", "3");
    uint64_t index, term;
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 1); /* the failed command is applied: as an error */
}

/* An entry of a batch, encoded into memory the test owns (freed by the caller). */
static struct kv_apply_item entry_item(uint64_t index, uint8_t op, const char *key,
                                       struct kv_bytes value)
{
    size_t cap = ENTRY_BYTES_MAX + value.len;
    uint8_t *entry = malloc(cap);
    assert_non_null(entry);
    struct kv_bytes args[2] = {kv_fixture_text(key), value};
    struct kv_command command = {.op = op, .arg_count = value.data != NULL ? 2 : 1,
                                 .args = args, .delta = op == KV_OP_INCRBY ? 1 : 0};
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&command, entry, cap, &len, &reason), KV_OK);
    return (struct kv_apply_item){.index = index, .term = 1, .kind = KV_ITEM_COMMAND,
                                  .data = entry, .data_len = (uint32_t)len};
}

/*
 * Rolling an entry back aborts the whole write txn (MDB_WRITEMAP has no nested txns), so
 * the batches other stores applied in it are done again from the replay record (kv_replay.c):
 * here from copies, since their callers' buffers are gone (freed and overwritten), and their
 * results, handed out before, keep pointing at what they said. Two rolled-back entries in one
 * batch: each answered "storage full", the others applied, each once.
 */
static void test_rollback_redoes_other_stores(void **state)
{
    struct fixture *f = *state;
    open_env(f, 256u << 10);
    struct kv_apply_item first[3] = {
        entry_item(1, KV_OP_SET, "a", kv_fixture_text("1")),
        entry_item(2, KV_OP_INCRBY, "n", (struct kv_bytes){0}),
        entry_item(3, KV_OP_GETSET, "a", kv_fixture_text("2")),
    };
    struct kv_result first_results[3];
    assert_int_equal(kv_apply_batch(f->stores[0], first, 3, first_results), KV_OK);
    assert_int_equal(first_results[1].type, KV_RESULT_INTEGER);
    assert_int_equal(first_results[1].integer, 1);
    assert_int_equal(first_results[2].type, KV_RESULT_BULK);
    for (size_t i = 0; i < 3; i++) {
        memset((void *)first[i].data, 0xee, first[i].data_len); /* the caller reuses it */
        free((void *)first[i].data);
    }
    static uint8_t big[300u << 10];
    memset(big, 'x', sizeof big);
    struct kv_apply_item second[5] = {
        entry_item(1, KV_OP_SET, "x", kv_fixture_text("1")),
        entry_item(2, KV_OP_SET, "big", (struct kv_bytes){big, sizeof big}),
        entry_item(3, KV_OP_SET, "y", kv_fixture_text("2")),
        entry_item(4, KV_OP_SET, "big2", (struct kv_bytes){big, sizeof big}),
        entry_item(5, KV_OP_INCRBY, "n", (struct kv_bytes){0}),
    };
    struct kv_result second_results[5];
    assert_int_equal(kv_apply_batch(f->stores[1], second, 5, second_results), KV_OK);
    assert_int_equal(second_results[0].type, KV_RESULT_OK);
    assert_string_equal(second_results[1].error, "ERR storage full");
    assert_int_equal(second_results[2].type, KV_RESULT_OK);
    assert_string_equal(second_results[3].error, "ERR storage full");
    assert_int_equal(second_results[4].integer, 1); /* its own "n", applied once */
    assert_int_equal(first_results[2].type, KV_RESULT_BULK); /* still what it said */
    assert_int_equal(first_results[2].bulk_len, 1);
    assert_memory_equal(first_results[2].bulk, "1", 1);
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    assert_value(f->stores[0], "a", "2");
    assert_value(f->stores[0], "n", "1"); /* redone once, not twice */
    assert_value(f->stores[1], "x", "1");
    assert_value(f->stores[1], "y", "2");
    assert_value(f->stores[1], "n", "1");
    assert_value(f->stores[1], "big", NULL);
    assert_value(f->stores[1], "big2", NULL);
    uint64_t index, term;
    kv_applied(f->stores[0], &index, &term);
    assert_int_equal(index, 3);
    kv_applied(f->stores[1], &index, &term);
    assert_int_equal(index, 5);
    for (size_t i = 0; i < 5; i++) {
        free((void *)second[i].data);
    }
}

/* A snapshot of one store, installed into another store of another environment, replaces
 * that store only, and carries the configuration and the applied index. */
static void test_snapshot_between_stores(void **state)
{
    struct fixture *f = *state;
    open_env(f, 0);
    set(f->stores[1], "x", "1");
    set(f->stores[1], "y", "2");
    set(f->stores[0], "not", "copied");
    char long_key[3000];
    memset(long_key, 'L', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    set(f->stores[1], long_key, "long");
    static const uint8_t config[] = "members 1 2 3";
    struct kv_apply_item item = {.index = 4, .term = 2, .kind = KV_ITEM_CONFIG,
                                 .data = config, .data_len = sizeof config};
    assert_int_equal(kv_apply_batch(f->stores[1], &item, 1, NULL), KV_OK);
    assert_int_equal(kv_env_commit(f->env), KV_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/snap", f->dir);
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->stores[1], path, &meta), KV_OK);
    assert_int_equal(meta.index, 4);
    assert_int_equal(meta.term, 2);

    struct kv_env *other = NULL;
    struct kv *dst = NULL, *neighbour = NULL;
    assert_int_equal(kv_env_open(f->other_dir, NULL, STORES, &other), KV_OK);
    assert_int_equal(kv_store_open(other, 2, &dst), KV_OK);
    assert_int_equal(kv_store_open(other, 1, &neighbour), KV_OK);
    set(neighbour, "stays", "yes");
    set(dst, "replaced", "gone");
    struct kv_snapshot_meta installed;
    /* Pending applies are committed before the install's own txn. */
    assert_int_equal(kv_snapshot_install(dst, path, &installed), KV_OK);
    assert_int_equal(installed.index, 4);
    assert_int_equal(access(path, F_OK), -1); /* consumed */
    assert_value(dst, "x", "1");
    assert_value(dst, "y", "2");
    assert_value(dst, long_key, "long");
    assert_value(dst, "replaced", NULL);
    assert_value(dst, "not", NULL);
    assert_value(neighbour, "stays", "yes");
    assert_int_equal(count(dst), 3);
    uint64_t index, term;
    kv_applied(dst, &index, &term);
    assert_int_equal(index, 4);
    assert_int_equal(term, 2);
    uint8_t got[64];
    size_t len = 0;
    assert_int_equal(kv_config_get(dst, got, sizeof got, &len), KV_OK);
    assert_int_equal(len, sizeof config);
    assert_memory_equal(got, config, sizeof config);
    kv_close(dst);
    kv_close(neighbour);
    kv_env_close(other);
}

/* Store 0 of an environment is the store kv_open made: a one-group data dir reads the same. */
static void test_store0_reads_kv_open_dir(void **state)
{
    struct fixture *f = *state;
    struct kv *alone = NULL;
    assert_int_equal(kv_open(f->dir, NULL, &alone), KV_OK);
    set(alone, "old", "data"); /* kv_open commits each batch */
    kv_close(alone);
    open_env(f, 0);
    assert_value(f->stores[0], "old", "data");
    uint64_t index, term;
    kv_applied(f->stores[0], &index, &term);
    assert_int_equal(index, 1);
    assert_value(f->stores[1], "old", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deferred_commit_and_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_in_shared_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_redoes_other_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_between_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store0_reads_kv_open_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
