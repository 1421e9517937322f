/*
 * test_kv_replicas_agree.c — the real state machine (src/storage) gives byte-identical replicas
 * for collections (issue 17, "Replication rules"): one random log of hash, set, list and sorted
 * set commands — SPOP with the seed the leader put in the entry among them — applied to three
 * stores, one entry per batch, in random batches, and through a snapshot installed half way,
 * leaves the same records (every key and element record, compared byte for byte by digest) at
 * every index where two stores can be compared. A replica that drew its own SPOP seed diverges
 * and the digest sees it.
 *
 * The simulator (src/sim/) applies its own string model (sim/kvsm.c) and, with --kv-store
 * (sim/kvstore.c, tests/checks/sim_kv_store.sh), this state machine as well, under faults;
 * this test adds snapshots taken half way and random batch sizes (docs/testing.md).
 */
#include <inttypes.h>
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
#include "storage/kv_coll.h" /* white box: the stores' DBs, walked by the digest */
#include "storage/kv_command.h"

#include "../support/kv_fixture.h"

enum {
    LOG_ENTRIES = 3000,
    ENTRY_BYTES_MAX = 512,
    ARGS_MAX = 4,
    TEXT_BYTES_MAX = 16,
    BATCH_MAX = 40,
};

struct entry {
    uint8_t bytes[ENTRY_BYTES_MAX];
    uint32_t length;
};

struct fixture {
    char dirs[3][64];
    struct kv *kv[3];
    struct entry *log;  /* LOG_ENTRIES, index i + 1 at log[i] */
    uint64_t *digest_at; /* replica 0's digest after each index */
    char snapshot_path[96];
};

static uint64_t rng_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* A digest of every record of the store's keys DB and elements DB, in order, and of its
 * applied index: equal digests mean byte-identical state machines. */
static uint64_t store_digest(struct kv *kv)
{
    XXH64_state_t *h = XXH64_createState();
    assert_non_null(h);
    XXH64_reset(h, 0);
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_dbi dbis[2] = { kv->data_dbi, kv->elems_dbi };
    for (int d = 0; d < 2; d++) {
        MDB_cursor *cursor = NULL;
        assert_int_equal(mdb_cursor_open(txn, dbis[d], &cursor), MDB_SUCCESS);
        MDB_val key, value;
        for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
             rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
            uint64_t sizes[2] = { key.mv_size, value.mv_size };
            XXH64_update(h, sizes, sizeof sizes);
            XXH64_update(h, key.mv_data, key.mv_size);
            XXH64_update(h, value.mv_data, value.mv_size);
        }
        mdb_cursor_close(cursor);
        uint64_t separator = UINT64_MAX;
        XXH64_update(h, &separator, sizeof separator);
    }
    mdb_txn_abort(txn);
    uint64_t index = kv_fixture_next_index(kv) - 1;
    XXH64_update(h, &index, sizeof index);
    uint64_t digest = XXH64_digest(h);
    XXH64_freeState(h);
    return digest;
}

/* One random command of the log over 2 keys of each type (names in one hash slot do not
 * matter to the store). SPOP carries its seed in delta, as the leader writes it. */
static void draw_command(uint64_t *rng, struct entry *entry, int64_t seed_override)
{
    char text[ARGS_MAX][TEXT_BYTES_MAX];
    struct kv_bytes args[ARGS_MAX];
    struct kv_command command = { 0 };
    uint32_t n = 0;
    unsigned key = (unsigned)rng_next(rng) % 2;
    unsigned element = (unsigned)rng_next(rng) % 12;
#define ARG(...) (snprintf(text[n], TEXT_BYTES_MAX, __VA_ARGS__), n++)
    switch (rng_next(rng) % 14) {
    case 0: command.op = KV_OP_HSET; ARG("h%u", key); ARG("f%u", element); ARG("v%u", element * 7); break;
    case 1: command.op = KV_OP_HDEL; ARG("h%u", key); ARG("f%u", element); break;
    case 2: case 3: command.op = KV_OP_SADD; ARG("s%u", key); ARG("m%u", element); break;
    case 4: command.op = KV_OP_SREM; ARG("s%u", key); ARG("m%u", element); break;
    case 5:
        command.op = KV_OP_SPOP;
        command.delta = seed_override != 0 ? seed_override : (int64_t)rng_next(rng) + 1;
        ARG("s%u", key); ARG("%u", 1 + element % 3);
        break;
    case 6: command.op = KV_OP_SMOVE; ARG("s%u", key); ARG("s%u", 1 - key); ARG("m%u", element); break;
    case 7: command.op = KV_OP_RPUSH; ARG("l%u", key); ARG("e%u", element); break;
    case 8: command.op = KV_OP_LPUSH; ARG("l%u", key); ARG("e%u", element); break;
    case 9: command.op = rng_next(rng) % 2 ? KV_OP_LPOP : KV_OP_RPOP; ARG("l%u", key); break;
    case 10: command.op = KV_OP_RPOPLPUSH; ARG("l%u", key); ARG("l%u", 1 - key); break;
    case 11: command.op = KV_OP_ZADD; ARG("z%u", key); ARG("%u", element % 5); ARG("m%u", element); break;
    case 12: command.op = rng_next(rng) % 2 ? KV_OP_ZPOPMIN : KV_OP_ZINCRBY;
        ARG("z%u", key);
        if (command.op == KV_OP_ZINCRBY) { ARG("1.5"); ARG("m%u", element); }
        break;
    default: command.op = KV_OP_DEL; ARG("%c%u", "hslz"[element % 4], key); break;
    }
#undef ARG
    for (uint32_t i = 0; i < n; i++) args[i] = kv_fixture_text(text[i]);
    command.args = args;
    command.arg_count = n;
    size_t length = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(&command, entry->bytes, sizeof entry->bytes, &length,
                                       &reason), KV_OK);
    entry->length = (uint32_t)length;
}

/* Applies log entries [from, to) (1-based indexes) to one store in one batch. */
static void apply_range(struct kv *kv, const struct entry *log, uint64_t from, uint64_t to)
{
    struct kv_apply_item items[BATCH_MAX];
    assert_true(to - from <= BATCH_MAX);
    for (uint64_t index = from; index < to; index++)
        items[index - from] = (struct kv_apply_item){ .index = index, .term = 1,
                                                      .kind = KV_ITEM_COMMAND,
                                                      .data = log[index - 1].bytes,
                                                      .data_len = log[index - 1].length };
    struct kv_result results[BATCH_MAX];
    assert_int_equal(kv_apply_batch(kv, items, (size_t)(to - from), results), KV_OK);
    for (uint64_t i = 0; i < to - from; i++) /* every command of the log is well formed */
        if (results[i].type == KV_RESULT_ERROR) fail_msg("index %" PRIu64 ": %s", from + i,
                                                         results[i].error);
}

/* Records in the elements DB: collections' elements, one record each. */
static uint64_t element_records(struct kv *kv)
{
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
    MDB_stat stat;
    assert_int_equal(mdb_stat(txn, kv->elems_dbi, &stat), MDB_SUCCESS);
    mdb_txn_abort(txn);
    return stat.ms_entries;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < 3; i++) {
        snprintf(f->dirs[i], sizeof f->dirs[i], "/tmp/test_kv_replicas.XXXXXX");
        assert_non_null(mkdtemp(f->dirs[i]));
        assert_int_equal(kv_open(f->dirs[i], NULL, &f->kv[i]), KV_OK);
    }
    snprintf(f->snapshot_path, sizeof f->snapshot_path, "%s.snapshot", f->dirs[1]);
    f->log = calloc(LOG_ENTRIES, sizeof *f->log);
    f->digest_at = calloc(LOG_ENTRIES + 1, sizeof *f->digest_at);
    assert_non_null(f->log);
    assert_non_null(f->digest_at);
    uint64_t rng = 20261205;
    for (int i = 0; i < LOG_ENTRIES; i++) draw_command(&rng, &f->log[i], 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        kv_close(f->kv[i]);
        kv_fixture_remove_dir(f->dirs[i]);
    }
    unlink(f->snapshot_path);
    free(f->log);
    free(f->digest_at);
    free(f);
    return 0;
}

/* Replica 0 applies one entry per batch, replica 1 random batches, replica 2 the first third,
 * then a snapshot of replica 1 taken half way, then the rest: at every index both reach, the
 * digests must be equal, and the collections must not have stayed empty. */
static void test_replicas_identical(void **state)
{
    struct fixture *f = *state;
    f->digest_at[0] = store_digest(f->kv[0]);
    uint64_t elements_max = 0, elements_sum = 0;
    for (uint64_t index = 1; index <= LOG_ENTRIES; index++) {
        apply_range(f->kv[0], f->log, index, index + 1);
        f->digest_at[index] = store_digest(f->kv[0]);
        uint64_t elements = element_records(f->kv[0]);
        elements_sum += elements;
        if (elements > elements_max) elements_max = elements;
    }
    print_message("%d entries: up to %" PRIu64 " element records, %" PRIu64 " on average\n",
                  LOG_ENTRIES, elements_max, elements_sum / LOG_ENTRIES);
    /* the log did something: collections of several elements most of the time */
    assert_true(elements_max >= 20);
    assert_true(elements_sum >= 10 * (uint64_t)LOG_ENTRIES);
    uint64_t rng = 7, next = 1, compared = 0;
    bool snapshot_taken = false;
    struct kv_snapshot_meta meta = { 0 };
    while (next <= LOG_ENTRIES) {
        uint64_t to = next + 1 + rng_next(&rng) % BATCH_MAX;
        if (to > LOG_ENTRIES + 1) to = LOG_ENTRIES + 1;
        if (!snapshot_taken && to > LOG_ENTRIES / 2) {
            assert_int_equal(kv_snapshot_create(f->kv[1], f->snapshot_path, &meta), KV_OK);
            snapshot_taken = true;
        }
        apply_range(f->kv[1], f->log, next, to);
        next = to;
        assert_int_equal(store_digest(f->kv[1]), f->digest_at[next - 1]);
        compared++;
    }
    assert_true(snapshot_taken);
    assert_true(meta.index > LOG_ENTRIES / 3);
    for (uint64_t index = 1; index <= LOG_ENTRIES / 3; index++)
        apply_range(f->kv[2], f->log, index, index + 1);
    assert_int_equal(store_digest(f->kv[2]), f->digest_at[LOG_ENTRIES / 3]);
    assert_int_equal(kv_snapshot_install(f->kv[2], f->snapshot_path, &meta), KV_OK);
    assert_int_equal(store_digest(f->kv[2]), f->digest_at[meta.index]);
    for (uint64_t index = meta.index + 1; index <= LOG_ENTRIES; index++)
        apply_range(f->kv[2], f->log, index, index + 1);
    assert_int_equal(store_digest(f->kv[2]), f->digest_at[LOG_ENTRIES]);
    assert_true(compared > LOG_ENTRIES / BATCH_MAX);
}

/* A replica whose SPOP drew its own seed instead of the entry's diverges, and the digest shows
 * it (the comparison above can fail). */
static void test_own_seed_diverges(void **state)
{
    struct fixture *f = *state;
    uint64_t rng = 99;
    struct entry entry;
    int diverged = 0;
    for (uint64_t index = 1; index <= 200; index++) {
        draw_command(&rng, &entry, 0);
        struct kv_command command;
        struct kv_bytes args[ARGS_MAX];
        const char *why = NULL;
        assert_int_equal(kv_command_decode(entry.bytes, entry.length, &command, args, ARGS_MAX,
                                           &why), KV_OK);
        for (int r = 0; r < 2; r++) {
            struct entry own = entry;
            if (command.op == KV_OP_SPOP && r == 1) { /* replica 1 draws its own seed */
                struct kv_command changed = command;
                changed.delta = command.delta * 31 + 17;
                size_t length = 0;
                const char *reason = NULL;
                assert_int_equal(kv_command_encode(&changed, own.bytes, sizeof own.bytes,
                                                   &length, &reason), KV_OK);
                own.length = (uint32_t)length;
            }
            struct kv_apply_item item = { .index = index, .term = 1, .kind = KV_ITEM_COMMAND,
                                          .data = own.bytes, .data_len = own.length };
            assert_int_equal(kv_apply_batch(f->kv[r], &item, 1, NULL), KV_OK);
        }
        diverged += store_digest(f->kv[0]) != store_digest(f->kv[1]);
    }
    assert_true(diverged > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicas_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_seed_diverges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
