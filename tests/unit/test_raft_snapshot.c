/*
 * test_raft_snapshot.c — log compaction and InstallSnapshot in chunks (§7; thesis §5).
 * The fixture's snapshot is 40 bytes sent in 16-byte chunks: offsets 0, 16, 32.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/raft_helpers.h"
#include "raft/raft.h"

/* Leader 1, node 3 partitioned from the start; 10 proposals committed (last 11), the leader
 * compacts its log to 11, then 2 more proposals (last 13). */
static void init_compacted(struct cluster *c)
{
    cluster_init(c, &raft_ops, 3);
    cluster_isolate(c, 3, true);
    assert_true(rh_campaign_and_win(c, 1));
    for (int i = 0; i < 10; i++)
        assert_int_equal(cluster_propose(c, 1, "s", NULL), CN_OK);
    cluster_stabilize(c);
    assert_int_equal(cluster_node(c, 1)->applied_last, 11);
    cluster_snapshot_taken(c, 1, 11);
    for (int i = 0; i < 2; i++)
        assert_int_equal(cluster_propose(c, 1, "t", NULL), CN_OK);
    cluster_stabilize(c);
    assert_int_equal(rh_commit(c, 1), 13);
}

static void test_snapshot_taken_compacts_the_log(void **state)
{
    (void)state;
    struct cluster c;
    init_compacted(&c);
    struct cn_status s = rh_status(&c, 1);
    assert_int_equal(s.snapshot_index, 11);
    assert_int_equal(s.snapshot_term, 1);
    assert_int_equal(s.first_index, 12);
    assert_int_equal(s.last_index, 13);
    uint64_t term;
    assert_false(raft_ops.entry_term(cluster_node(&c, 1)->core, 10, &term));
    assert_true(raft_ops.entry_term(cluster_node(&c, 1)->core, 11, &term));
    assert_int_equal(term, 1);
    /* A snapshot at or below the current one changes nothing. */
    cluster_snapshot_taken(&c, 1, 11);
    assert_int_equal(rh_status(&c, 1).first_index, 12);
    cluster_free(&c);
}

/* Delivers one message at a time until node 3 installed the snapshot; checks the chunks. */
static uint32_t deliver_snapshot_chunks(struct cluster *c)
{
    uint32_t chunks = 0;
    for (uint32_t i = 0; i < 200 && rh_status(c, 3).snapshot_index == 0; i++) {
        const struct cn_message *m = cluster_peek(c, 0, 0, 0);
        assert_non_null(m);
        if (m->type == CN_MSG_SNAPSHOT) {
            assert_int_equal(m->to, 3);
            assert_int_equal(m->snapshot.index, 11);
            assert_int_equal(m->snapshot.term, 1);
            assert_int_equal(m->snapshot_offset, 16 * chunks);
            assert_int_equal(m->snapshot_chunk_len, chunks < 2 ? 16 : 8);
            assert_true(m->snapshot_done == (chunks == 2));
            chunks++;
        }
        cluster_deliver_one(c, m->from, m->to, m->type);
    }
    return chunks;
}

static void test_lagging_follower_gets_snapshot_in_chunks(void **state)
{
    (void)state;
    struct cluster c;
    init_compacted(&c);
    cluster_isolate(&c, 3, false);
    cluster_tick(&c, 1, 1); /* a heartbeat: its answer makes the leader probe node 3 */
    assert_int_equal(deliver_snapshot_chunks(&c), 3);
    struct cn_status s = rh_status(&c, 3);
    assert_int_equal(s.snapshot_index, 11);
    assert_int_equal(s.first_index, 12);
    assert_int_equal(s.commit_index, 11);
    struct cluster_node *n3 = cluster_node(&c, 3);
    assert_int_equal(n3->applied_last, 11); /* jumped from 0 to the snapshot */
    assert_int_equal(n3->disk.snapshot.index, 11);
    assert_int_equal(n3->disk.snapshot.term, 1);
    /* Then ordinary appends bring 12..13. */
    cluster_stabilize(&c);
    assert_int_equal(cluster_count(&c, 0, 0, CN_MSG_SNAPSHOT), 0);
    assert_int_equal(rh_last(&c, 3), 13);
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 3), 13);
    assert_int_equal(n3->applied_last, 13);
    assert_int_equal(n3->disk.entry_count, 2);
    assert_int_equal(n3->disk.entries[0].index, 12);
    cluster_free(&c);
}

static void test_lost_chunk_resent_after_idle_timeout(void **state)
{
    (void)state;
    struct cluster c;
    init_compacted(&c);
    cluster_isolate(&c, 3, false);
    cluster_tick(&c, 1, 1);
    for (uint32_t i = 0; i < 100 && cluster_count(&c, 1, 3, CN_MSG_SNAPSHOT) == 0; i++) {
        const struct cn_message *m = cluster_peek(&c, 0, 0, 0);
        assert_non_null(m);
        cluster_deliver_one(&c, m->from, m->to, m->type);
    }
    assert_int_equal(cluster_peek(&c, 1, 3, CN_MSG_SNAPSHOT)->snapshot_offset, 0);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_SNAPSHOT));
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_SNAPSHOT_RESPONSE));
    assert_int_equal(cluster_peek(&c, 1, 3, CN_MSG_SNAPSHOT)->snapshot_offset, 16);
    assert_int_equal(cluster_drop(&c, 1, 3, CN_MSG_SNAPSHOT), 1); /* lost */
    for (uint32_t i = 0; i < 9; i++) {
        cluster_tick(&c, 1, 1);
        cluster_deliver(&c, 0, 0, CN_MSG_HEARTBEAT);
        cluster_deliver(&c, 0, 0, CN_MSG_HEARTBEAT_RESPONSE);
        assert_int_equal(cluster_count(&c, 1, 3, CN_MSG_SNAPSHOT), 0);
    }
    cluster_tick(&c, 1, 1);
    assert_int_equal(cluster_count(&c, 1, 3, CN_MSG_SNAPSHOT), 1);
    assert_int_equal(cluster_peek(&c, 1, 3, CN_MSG_SNAPSHOT)->snapshot_offset, 0);
    assert_int_equal(deliver_snapshot_chunks(&c), 3);
    cluster_stabilize(&c);
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    assert_int_equal(cluster_node(&c, 3)->applied_last, 13);
    cluster_free(&c);
}

/* A node restarts from an installed snapshot with the log after it. */
static void test_restart_from_installed_snapshot(void **state)
{
    (void)state;
    struct cluster c;
    init_compacted(&c);
    cluster_isolate(&c, 3, false);
    rh_tick_all(&c, 2);
    assert_int_equal(rh_last(&c, 3), 13);
    cluster_crash(&c, 3);
    cluster_restart(&c, 3);
    struct cn_status s = rh_status(&c, 3);
    assert_int_equal(s.snapshot_index, 11);
    assert_int_equal(s.first_index, 12);
    assert_int_equal(s.last_index, 13);
    assert_int_equal(s.applied_index, 11);
    assert_int_equal(s.term, 1);
    rh_tick_all(&c, 2);
    assert_int_equal(cluster_node(&c, 3)->applied_last, 13);
    /* The compacted leader restarts too. */
    cluster_crash(&c, 1);
    cluster_restart(&c, 1);
    s = rh_status(&c, 1);
    assert_int_equal(s.snapshot_index, 11);
    assert_int_equal(s.last_index, 13);
    assert_int_not_equal(rh_rounds_until_leader(&c, 100), UINT32_MAX);
    cluster_free(&c);
}

/* A snapshot the follower's commit already covers is acknowledged, not installed. */
static void test_snapshot_below_commit_is_acknowledged(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    for (int i = 0; i < 4; i++)
        assert_int_equal(cluster_propose(&c, 1, "s", NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 2), 5);
    uint8_t bytes[16] = {0};
    struct cn_message m = {.type = CN_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 1,
                           .snapshot = {.index = 3, .term = 1}, .snapshot_offset = 0,
                           .snapshot_chunk_len = 16, .snapshot_chunk = bytes};
    m.snapshot.members = rh_status(&c, 1).members;
    rh_inject(&c, &m);
    const struct cn_message *r = cluster_peek(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_false(r->reject);
    assert_int_equal(r->index, 5);
    struct cn_status s = rh_status(&c, 2);
    assert_int_equal(s.snapshot_index, 0);
    assert_int_equal(s.last_index, 5);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_taken_compacts_the_log),
        cmocka_unit_test(test_lagging_follower_gets_snapshot_in_chunks),
        cmocka_unit_test(test_lost_chunk_resent_after_idle_timeout),
        cmocka_unit_test(test_restart_from_installed_snapshot),
        cmocka_unit_test(test_snapshot_below_commit_is_acknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
