/*
 * test_consensus_progress.c — how far a peer holds a group's log, as its own messages report
 * it (src/consensus/progress.c). The rebalancer promotes a shard's new replica once it caught
 * up (thesis §4.2.1) and records the move only once it holds what was committed when the new
 * configuration completed (docs/membership.md, "The rebalancer"), both from this report:
 *  - the fields: a Raft append answer's matched index, a Multi-Paxos lease answer's chosen
 *    prefix; a rejection, and every other message, report nothing;
 *  - on the Multi-Paxos core: a learner's lease answer reports its own chosen prefix, behind
 *    the leader's while it lags, equal once it caught up;
 *  - on the Raft core: a learner's append answer reports its last index once it caught up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/paxos_helpers.h"
#include "../support/raft_helpers.h"
#include "consensus/progress.h"
#include "raft/raft.h"

#define MEMBERS(...)                                                                          \
    ((struct cn_members){.count = sizeof((cn_node_id[]){__VA_ARGS__}) / sizeof(cn_node_id),   \
                         .ids = {__VA_ARGS__}})

static void test_fields_per_message_type(void **state)
{
    (void)state;
    uint64_t index = 77;
    struct cn_message m = {.type = CN_MSG_APPEND_RESPONSE, .index = 12, .commit = 9};
    assert_true(cn_progress_reported(&m, &index));
    assert_int_equal(index, 12);
    m = (struct cn_message){.type = CN_MSG_LEASE_RESPONSE, .index = 3, .commit = 40};
    assert_true(cn_progress_reported(&m, &index));
    assert_int_equal(index, 40);
    /* A rejection says where the sender is not, never how far it is. */
    index = 77;
    m = (struct cn_message){.type = CN_MSG_APPEND_RESPONSE, .index = 12, .reject = true};
    assert_false(cn_progress_reported(&m, &index));
    m = (struct cn_message){.type = CN_MSG_LEASE_RESPONSE, .commit = 40, .reject = true};
    assert_false(cn_progress_reported(&m, &index));
    /* Nothing else reports a peer's log: heartbeat answers carry no index, an accepted is the
     * highest slot accepted (not chosen), a snapshot answer is about the staging copy. */
    const uint8_t others[] = {CN_MSG_HEARTBEAT_RESPONSE, CN_MSG_VOTE_RESPONSE,
                              CN_MSG_ACCEPTED, CN_MSG_PROMISE, CN_MSG_SNAPSHOT_RESPONSE,
                              CN_MSG_APPEND, CN_MSG_LEASE, CN_MSG_PROPOSE_RESPONSE};
    for (size_t i = 0; i < sizeof(others); i++) {
        m = (struct cn_message){.type = others[i], .index = 5, .commit = 5};
        assert_false(cn_progress_reported(&m, &index));
    }
    assert_int_equal(index, 77);
}

/* The lease answer node 4 sends node 1 after one lease from 1, and what it reports. */
static uint64_t paxos_lease_report(struct px *px)
{
    px_tick(px, 1, 1); /* heartbeat_ticks = 1: a lease to every member */
    assert_true(px_deliver_one(px, 1, 4, CN_MSG_LEASE));
    const struct cn_message *answer = cluster_peek(&px->c, 4, 1, CN_MSG_LEASE_RESPONSE);
    assert_non_null(answer);
    uint64_t index = 0;
    assert_true(cn_progress_reported(answer, &index));
    return index;
}

static void test_paxos_learner_reports_its_chosen_prefix(void **state)
{
    (void)state;
    struct cn_config config;
    px_config(&config);
    config.paxos_alpha_slots = 4;
    struct px *px = px_new_voters(4, &config, &MEMBERS(1, 2, 3));
    assert_true(px_campaign_and_win(px, 1));
    px_stabilize(px);
    assert_int_equal(px_propose(px, 1, "a", NULL), CN_OK);
    px_stabilize(px);
    assert_int_equal(px_change(px, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    px_stabilize(px);
    for (uint32_t round = 0; round < 200 && px_status(px, 1).membership_pending; round++)
        px_tick_all(px, 1);
    assert_false(px_status(px, 1).membership_pending);
    /* The learner away while values are chosen: its report is its own prefix, behind. */
    cluster_isolate(&px->c, 4, true);
    for (int i = 0; i < 5; i++) { /* one at a time: alpha = 4 bounds the open slots */
        assert_int_equal(px_propose(px, 1, "b", NULL), CN_OK);
        px_stabilize(px);
    }
    cluster_isolate(&px->c, 4, false);
    uint64_t behind = paxos_lease_report(px);
    assert_int_equal(behind, px_commit(px, 4));
    assert_true(behind + 5 <= px_commit(px, 1));
    /* Caught up (catch-up requests answered by chosen values): the leader's prefix. */
    for (uint32_t round = 0; round < 50 && px_commit(px, 4) < px_commit(px, 1); round++)
        px_tick_all(px, 1);
    px_stabilize(px);
    assert_int_equal(px_commit(px, 4), px_commit(px, 1));
    assert_int_equal(paxos_lease_report(px), px_commit(px, 1));
    px_free(px);
}

static void test_raft_learner_reports_its_matched_index(void **state)
{
    (void)state;
    struct cn_config config;
    rh_config(&config);
    struct cluster c;
    cluster_init_voters(&c, &raft_ops, 4, &config, &MEMBERS(1, 2, 3));
    assert_true(rh_campaign_and_win(&c, 1));
    cluster_stabilize(&c);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    cluster_stabilize(&c);
    for (int i = 0; i < 3; i++)
        assert_int_equal(cluster_propose(&c, 1, "x", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(rh_last(&c, 4), rh_last(&c, 1));
    /* One more entry: the learner's answer to its append reports the leader's last index. */
    uint64_t index = 0;
    assert_int_equal(cluster_propose(&c, 1, "y", &index), CN_OK);
    cluster_process(&c, 1);
    assert_true(cluster_deliver_one(&c, 1, 4, CN_MSG_APPEND));
    cluster_process(&c, 4);
    const struct cn_message *answer = cluster_peek(&c, 4, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(answer);
    uint64_t reported = 0;
    assert_true(cn_progress_reported(answer, &reported));
    assert_int_equal(reported, index);
    assert_int_equal(reported, rh_last(&c, 4));
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_per_message_type),
        cmocka_unit_test(test_paxos_learner_reports_its_chosen_prefix),
        cmocka_unit_test(test_raft_learner_reports_its_matched_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
