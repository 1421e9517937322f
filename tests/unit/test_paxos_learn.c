/*
 * test_paxos_learn.c — learning in the Multi-Paxos core: the chosen index on accepts and
 * leases, catch-up of a lagging replica with CN_MSG_CATCHUP/CN_MSG_CHOSEN, snapshot catch-up
 * of a replica behind compaction, and the chosen values a learner persists before applying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/paxos_helpers.h"
#include "paxos/paxos.h"

static void propose_n(struct px *px, cn_node_id leader, uint32_t from, uint32_t count)
{
    for (uint32_t i = from; i < from + count; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%u", i);
        assert_int_equal(px_propose(px, leader, value, NULL), CN_OK);
    }
}

static void assert_values(struct px *px, cn_node_id id, uint32_t from, uint32_t count)
{
    for (uint32_t i = from; i < from + count; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%u", i);
        assert_non_null(px_applied(px, id, i));
        assert_string_equal(px_applied(px, id, i), value);
    }
}

static void test_lagging_replica_catches_up(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 6);
    px_stabilize(px);
    assert_int_equal(px_commit(px, 1), 6);
    assert_int_equal(px_commit(px, 3), 0);
    cluster_isolate(&px->c, 3, false);
    /* A lease tells node 3 the chosen index; it holds none of those slots and asks. */
    px_tick(px, 1, 1);
    assert_true(px_deliver_one(px, 1, 3, CN_MSG_LEASE));
    assert_int_equal(cluster_count(&px->c, 3, 1, CN_MSG_CATCHUP), 1);
    assert_int_equal(cluster_peek(&px->c, 3, 1, CN_MSG_CATCHUP)->index, 1);
    px_hold(px, 3, true);
    px_deliver(px, 3, 1, CN_MSG_CATCHUP);
    assert_true(px_deliver_one(px, 1, 3, CN_MSG_CHOSEN));
    /* Learned values are persisted in the same update that applies them. */
    struct cluster_node *n = cluster_node(&px->c, 3);
    assert_true(n->holding);
    assert_int_equal(n->update.entry_count, 6);
    assert_int_equal(n->update.committed_count, 6);
    assert_true(n->update.entries_per_slot);
    px_hold(px, 3, false);
    px_stabilize(px);
    assert_int_equal(px_commit(px, 3), 6);
    assert_values(px, 3, 1, 6);
    assert_non_null(px_disk_slot(px, 3, 6));
    px_free(px);
}

/* With small messages the catch-up takes several rounds, one request outstanding at a time. */
static void test_catch_up_in_bounded_rounds(void **state)
{
    (void)state;
    struct cn_config config;
    px_config(&config);
    config.message_entries_max = 2;
    struct px *px = px_new_with(3, &config);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 7);
    px_stabilize(px);
    cluster_isolate(&px->c, 3, false);
    px_tick_all(px, 1);
    assert_int_equal(px_commit(px, 3), 7);
    assert_values(px, 3, 1, 7);
    px_free(px);
}

/* A replica that accepted some slots of an older leader but missed others learns the gaps. */
static void test_replica_with_holes_learns_only_what_it_lacks(void **state)
{
    (void)state;
    struct cn_config config;
    px_config(&config);
    config.message_entries_max = 1;
    struct px *px = px_new_with(3, &config);
    assert_true(px_campaign_and_win(px, 1));
    propose_n(px, 1, 1, 3);
    /* Node 3 gets slots 1 and 3, not 2. */
    assert_true(px_deliver_one(px, 1, 3, CN_MSG_ACCEPT));
    cluster_drop(&px->c, 1, 3, CN_MSG_ACCEPT);
    px_stabilize(px);
    assert_int_equal(px_commit(px, 1), 3);
    px_tick_all(px, 3);
    assert_int_equal(px_commit(px, 3), 3);
    assert_values(px, 3, 1, 3);
    px_free(px);
}

static void test_snapshot_catch_up_behind_compaction(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 5);
    px_stabilize(px);
    px_tick_all(px, 1);
    assert_int_equal(px_applied_last(px, 1), 5);
    px_snapshot_taken(px, 1, 4);
    px_snapshot_taken(px, 2, 4);
    assert_int_equal(px_status(px, 1).snapshot_index, 4);
    assert_int_equal(px_status(px, 1).first_index, 5);
    assert_int_equal(px_entry_ballot(px, 1, 4), cn_ballot_make(1, 1));
    cluster_isolate(&px->c, 3, false);
    px_tick(px, 1, 1);
    px_deliver(px, 1, 3, CN_MSG_LEASE);
    px_deliver(px, 3, 1, CN_MSG_CATCHUP);
    assert_true(cluster_count(&px->c, 1, 3, CN_MSG_SNAPSHOT) == 1);
    px_stabilize(px);
    struct cn_status s = px_status(px, 3);
    assert_int_equal(s.snapshot_index, 4);
    assert_int_equal(cluster_node(&px->c, 3)->disk.snapshot.index, 4);
    assert_string_equal(px_applied(px, 3, 4), "snap");
    px_tick_all(px, 2);
    assert_int_equal(px_commit(px, 3), 5);
    assert_string_equal(px_applied(px, 3, 5), "v5");
    /* And it keeps up afterwards. */
    propose_n(px, 1, 6, 2);
    px_stabilize(px);
    px_tick_all(px, 1);
    assert_values(px, 3, 6, 2);
    /* A restart from the installed snapshot and the slots after it. */
    px_crash(px, 3);
    px_restart(px, 3);
    assert_int_equal(px_commit(px, 3), 7);
    px_free(px);
}

/* An install keeps the acceptor's accepted values above the snapshot, and writes them again
 * (the driver discards the persisted log at an install). */
static void test_snapshot_install_keeps_accepted_values_above(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 4);
    px_stabilize(px);
    px_tick_all(px, 1);
    px_snapshot_taken(px, 1, 3);
    cluster_isolate(&px->c, 3, false);
    /* Node 3 accepts slot 5 before it catches up. */
    cluster_drop(&px->c, 0, 0, 0);
    propose_n(px, 1, 5, 1);
    px_deliver(px, 1, 3, CN_MSG_ACCEPT);
    assert_non_null(px_disk_slot(px, 3, 5));
    px_hold(px, 3, true);
    cluster_drop(&px->c, 0, 0, 0);
    struct cn_message catchup = {.type = CN_MSG_CATCHUP, .from = 3, .to = 1, .index = 1,
                                 .term = px_promised(px, 3)};
    px_inject(px, &catchup);
    bool installed = false;
    for (uint32_t i = 0; i < 8 && cluster_count(&px->c, 1, 3, CN_MSG_SNAPSHOT) > 0; i++) {
        px_deliver(px, 1, 3, CN_MSG_SNAPSHOT);
        struct cluster_node *n = cluster_node(&px->c, 3);
        if (n->holding && n->update.snapshot_present) {
            installed = true;
            assert_int_equal(n->update.entry_count, 1);
            assert_int_equal(n->update.entries[0].index, 5);
        }
        px_persist(px, 3);
        px_deliver(px, 3, 1, CN_MSG_SNAPSHOT_RESPONSE);
    }
    px_hold(px, 3, false);
    assert_true(installed);
    assert_int_equal(cluster_node(&px->c, 3)->disk.snapshot.index, 3);
    assert_non_null(px_disk_slot(px, 3, 5));
    px_stabilize(px);
    px_tick_all(px, 3);
    assert_int_equal(px_commit(px, 3), 5);
    assert_values(px, 3, 4, 2);
    px_free(px);
}

/* A candidate whose prepare index lies below an acceptor's compaction cannot learn the values
 * it lacks from promises: it steps down, catches up (snapshot), and the cluster moves on. */
static void test_lagging_candidate_steps_down_and_catches_up(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 5);
    px_stabilize(px);
    px_tick_all(px, 1);
    px_snapshot_taken(px, 2, 4);
    px_crash(px, 1);
    cluster_isolate(&px->c, 3, false);
    px_campaign(px, 3);
    assert_true(px_deliver_one(px, 3, 2, CN_MSG_PREPARE));
    const struct cn_message *promise = cluster_peek(&px->c, 2, 3, CN_MSG_PROMISE);
    assert_non_null(promise);
    assert_int_equal(promise->hint_index, 4);
    assert_true(px_deliver_one(px, 2, 3, CN_MSG_PROMISE));
    assert_int_equal(px_role(px, 3), CN_ROLE_FOLLOWER);
    assert_int_equal(cluster_count(&px->c, 3, 2, CN_MSG_CATCHUP), 1);
    px_stabilize(px);
    assert_int_equal(px_status(px, 3).snapshot_index, 4);
    cn_node_id leader = px_elect(px);
    assert_int_not_equal(leader, 0);
    px_tick_all(px, 5);
    assert_int_equal(px_commit(px, 3), 5);
    assert_string_equal(px_applied(px, 3, 5), "v5");
    px_free(px);
}

/* Regression (chorus-sim --protocol paxos, seeds 7165 and 118 --nodes 5): a candidate keeps
 * learning while phase 1 runs. Here it learns slots 1..3 from CN_MSG_CHOSEN and compacts
 * them; a promise then reports those slots, below its snapshot. They are chosen and applied:
 * the new leader must skip them, not re-propose them (which asserted in paxos_slot_ensure). */
static void test_candidate_ignores_promised_slots_below_its_snapshot(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 3);
    px_stabilize(px);
    px_tick_all(px, 1);
    assert_int_equal(px_commit(px, 1), 3);
    cluster_isolate(&px->c, 3, false);
    cluster_drop(&px->c, 0, 0, 0);
    px_campaign(px, 3);
    assert_int_equal(px_role(px, 3), CN_ROLE_CANDIDATE);
    assert_true(px_deliver_one(px, 3, 2, CN_MSG_PREPARE));
    const struct cn_message *promise = cluster_peek(&px->c, 2, 3, CN_MSG_PROMISE);
    assert_non_null(promise);
    assert_int_equal(promise->entry_count, 3);
    /* Before the promise arrives, the candidate learns slots 1..3 and compacts them. */
    struct cn_message catchup = {.type = CN_MSG_CATCHUP, .from = 3, .to = 1, .index = 1};
    px_inject(px, &catchup);
    assert_true(px_deliver_one(px, 1, 3, CN_MSG_CHOSEN));
    assert_int_equal(px_role(px, 3), CN_ROLE_CANDIDATE);
    assert_int_equal(px_applied_last(px, 3), 3);
    px_snapshot_taken(px, 3, 3);
    assert_int_equal(px_status(px, 3).snapshot_index, 3);
    assert_true(px_deliver_one(px, 2, 3, CN_MSG_PROMISE));
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    assert_int_equal(px_status(px, 3).snapshot_index, 3);
    /* It leads from slot 4 on, and everyone agrees on every slot. */
    uint64_t slot = 0;
    assert_int_equal(px_propose(px, 3, "v4", &slot), CN_OK);
    assert_int_equal(slot, 4);
    px_stabilize(px);
    px_tick_all(px, 3);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_commit(px, id), 4);
        assert_string_equal(px_applied(px, id, 4), "v4");
    }
    assert_values(px, 1, 1, 4);
    assert_values(px, 2, 1, 4);
    px_free(px);
}

/* Regression (chorus-sim --protocol paxos --nodes 5, seed 8192): a candidate learns slots
 * 1..3 as chosen during phase 1, wins, and compacts them before its first accepts leave. Its
 * first accepts then started at slot 1, below its snapshot (a NULL slot in send_accept). */
static void test_new_leader_compacts_recovered_slots_before_first_accepts(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    propose_n(px, 1, 1, 3);
    px_stabilize(px);
    px_tick_all(px, 1);
    cluster_isolate(&px->c, 3, false);
    cluster_drop(&px->c, 0, 0, 0);
    px_campaign(px, 3);
    assert_true(px_deliver_one(px, 3, 2, CN_MSG_PREPARE));
    struct cn_message catchup = {.type = CN_MSG_CATCHUP, .from = 3, .to = 1, .index = 1};
    px_inject(px, &catchup);
    assert_true(px_deliver_one(px, 1, 3, CN_MSG_CHOSEN));
    assert_int_equal(px_role(px, 3), CN_ROLE_CANDIDATE);
    assert_int_equal(px_applied_last(px, 3), 3);
    /* The promise wins phase 1, and the snapshot is taken before the next update. */
    const struct cn_message *promise = cluster_peek(&px->c, 2, 3, CN_MSG_PROMISE);
    assert_non_null(promise);
    px_step(px, 3, &(struct cn_event){.type = CN_EVENT_MESSAGE, .message = promise});
    cluster_drop(&px->c, 2, 3, CN_MSG_PROMISE);
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    px_step(px, 3, &(struct cn_event){.type = CN_EVENT_SNAPSHOT_TAKEN, .index = 3});
    assert_int_equal(px_status(px, 3).snapshot_index, 3);
    px_settle(px);
    px_stabilize(px);
    uint64_t slot = 0;
    assert_int_equal(px_propose(px, 3, "v4", &slot), CN_OK);
    assert_int_equal(slot, 4);
    px_stabilize(px);
    px_tick_all(px, 3);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_commit(px, id), 4);
        assert_string_equal(px_applied(px, id, 4), "v4");
    }
    px_free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lagging_replica_catches_up),
        cmocka_unit_test(test_catch_up_in_bounded_rounds),
        cmocka_unit_test(test_replica_with_holes_learns_only_what_it_lacks),
        cmocka_unit_test(test_snapshot_catch_up_behind_compaction),
        cmocka_unit_test(test_snapshot_install_keeps_accepted_values_above),
        cmocka_unit_test(test_lagging_candidate_steps_down_and_catches_up),
        cmocka_unit_test(test_candidate_ignores_promised_slots_below_its_snapshot),
        cmocka_unit_test(test_new_leader_compacts_recovered_slots_before_first_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
