/* test_raft_read.c — linearizable reads by ReadIndex (thesis §6.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/raft_helpers.h"
#include "raft/raft.h"

static void init_with_leader(struct cluster *c, uint32_t count)
{
    cluster_init(c, &raft_ops, count);
    assert_true(rh_campaign_and_win(c, 1));
    assert_int_equal(rh_commit(c, 1), 1);
}

/* All reads stepped before the next update share one heartbeat round (thesis §6.4). */
static void test_reads_share_one_heartbeat_round(void **state)
{
    (void)state;
    struct cluster c;
    init_with_leader(&c, 3);
    for (uint64_t id = 1; id <= 10; id++)
        assert_int_equal(rh_read_raw(&c, 1, 100 + id), CN_OK);
    cluster_process(&c, 1);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_HEARTBEAT), 2);
    const struct cn_message *hb = cluster_peek(&c, 1, 2, CN_MSG_HEARTBEAT);
    assert_int_equal(hb->context, 1);
    assert_int_equal(cluster_node(&c, 1)->read_count, 0);
    uint32_t heartbeats = rh_deliver_counting(&c, 0, 0, CN_MSG_HEARTBEAT);
    assert_int_equal(heartbeats, 2);
    struct cluster_node *n1 = cluster_node(&c, 1);
    assert_int_equal(n1->read_count, 10);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(n1->reads[i].request_id, 101 + i);
        assert_int_equal(n1->reads[i].index, 1);
        assert_false(n1->reads[i].failed);
    }
    cluster_free(&c);
}

/* A read is answered only once a quorum confirmed the round (here 3 of 5). */
static void test_read_waits_for_quorum_confirmation(void **state)
{
    (void)state;
    struct cluster c;
    init_with_leader(&c, 5);
    assert_int_equal(cluster_read(&c, 1, 7), CN_OK);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_HEARTBEAT), 4);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_HEARTBEAT));
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_HEARTBEAT_RESPONSE));
    assert_int_equal(cluster_node(&c, 1)->read_count, 0);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_HEARTBEAT));
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_HEARTBEAT_RESPONSE));
    assert_int_equal(cluster_node(&c, 1)->read_count, 1);
    assert_int_equal(cluster_node(&c, 1)->reads[0].request_id, 7);
    assert_int_equal(cluster_node(&c, 1)->reads[0].index, 1);
    assert_false(cluster_node(&c, 1)->reads[0].failed);
    cluster_free(&c);
}

/* The read index is the commit index when the read arrived, not a later one. */
static void test_read_index_is_commit_at_arrival(void **state)
{
    (void)state;
    struct cluster c;
    init_with_leader(&c, 3);
    assert_int_equal(rh_read_raw(&c, 1, 5), CN_OK);
    assert_int_equal(rh_propose_raw(&c, 1, "w"), CN_OK);
    cluster_stabilize(&c);
    struct cluster_node *n1 = cluster_node(&c, 1);
    assert_int_equal(n1->read_count, 1);
    assert_int_equal(n1->reads[0].index, 1);
    assert_int_equal(rh_commit(&c, 1), 2);
    /* A read arriving now sees the write. */
    assert_int_equal(cluster_read(&c, 1, 6), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(n1->read_count, 2);
    assert_int_equal(n1->reads[1].index, 2);
    cluster_free(&c);
}

static void test_follower_read_forwarded_and_answered(void **state)
{
    (void)state;
    struct cluster c;
    init_with_leader(&c, 3);
    assert_int_equal(cluster_propose(&c, 1, "w", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(cluster_read(&c, 2, 9), CN_OK);
    const struct cn_message *fwd = cluster_peek(&c, 2, 1, CN_MSG_READ_INDEX);
    assert_non_null(fwd);
    assert_int_equal(fwd->context, 9);
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_READ_INDEX));
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_HEARTBEAT), 2);
    cluster_stabilize(&c);
    struct cluster_node *n2 = cluster_node(&c, 2);
    assert_int_equal(n2->read_count, 1);
    assert_int_equal(n2->reads[0].request_id, 9);
    assert_int_equal(n2->reads[0].index, 2);
    assert_false(n2->reads[0].failed);
    assert_int_equal(cluster_node(&c, 1)->read_count, 0);
    cluster_free(&c);
}

static void test_read_without_leader_refused(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_int_equal(cluster_read(&c, 2, 1), CN_ERR_NOT_LEADER);
    assert_int_equal(cluster_count(&c, 0, 0, 0), 0);
    cluster_free(&c);
}

static void test_read_single_node_answered_at_once(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 1);
    assert_int_equal(cluster_elect(&c), 1);
    assert_int_equal(cluster_read(&c, 1, 3), CN_OK);
    assert_int_equal(cluster_node(&c, 1)->read_count, 1);
    assert_int_equal(cluster_node(&c, 1)->reads[0].index, 1);
    assert_int_equal(cluster_count(&c, 0, 0, 0), 0);
    cluster_free(&c);
}

/* Check-quorum step-down: waiting reads fail (they changed nothing; clients retry). */
static void test_read_fails_when_leader_steps_down(void **state)
{
    (void)state;
    struct cluster c;
    init_with_leader(&c, 3);
    assert_int_equal(cluster_read(&c, 1, 11), CN_OK);
    cluster_isolate(&c, 1, true);
    for (uint32_t i = 0; i < 20 && rh_role(&c, 1) == CN_ROLE_LEADER; i++) {
        cluster_deliver(&c, 0, 0, 0);
        cluster_tick(&c, 1, 1);
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    struct cluster_node *n1 = cluster_node(&c, 1);
    assert_int_equal(n1->read_count, 1);
    assert_int_equal(n1->reads[0].request_id, 11);
    assert_true(n1->reads[0].failed);
    cluster_free(&c);
}

/* A higher term deposes the leader: its local and forwarded reads fail. */
static void test_local_and_forwarded_reads_fail_on_higher_term(void **state)
{
    (void)state;
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = false;
    config.check_quorum = false;
    struct cluster c;
    cluster_init_with(&c, &raft_ops, 3, &config);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_read(&c, 1, 1), CN_OK);
    assert_int_equal(cluster_read(&c, 2, 2), CN_OK);
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_READ_INDEX));
    cluster_drop(&c, 1, 0, CN_MSG_HEARTBEAT);
    cluster_campaign(&c, 3);
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_VOTE));
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    struct cluster_node *n1 = cluster_node(&c, 1);
    assert_int_equal(n1->read_count, 1);
    assert_int_equal(n1->reads[0].request_id, 1);
    assert_true(n1->reads[0].failed);
    const struct cn_message *resp = cluster_peek(&c, 1, 2, CN_MSG_READ_INDEX_RESPONSE);
    assert_non_null(resp);
    assert_true(resp->reject);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_READ_INDEX_RESPONSE));
    struct cluster_node *n2 = cluster_node(&c, 2);
    assert_int_equal(n2->read_count, 1);
    assert_int_equal(n2->reads[0].request_id, 2);
    assert_true(n2->reads[0].failed);
    cluster_free(&c);
}

/* The same, when the follower that forwarded the read already moved to the new term (it saw
 * the vote request first): the failure must still reach it, so its client retries at once
 * instead of waiting for a timeout. */
static void test_forwarded_read_failure_reaches_follower_in_newer_term(void **state)
{
    (void)state;
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = false;
    config.check_quorum = false;
    struct cluster c;
    cluster_init_with(&c, &raft_ops, 3, &config);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_read(&c, 2, 2), CN_OK);
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_READ_INDEX));
    cluster_drop(&c, 1, 0, CN_MSG_HEARTBEAT);
    cluster_campaign(&c, 3);
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_VOTE));
    assert_int_equal(rh_term(&c, 2), 2);
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_VOTE));
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_READ_INDEX_RESPONSE));
    struct cluster_node *n2 = cluster_node(&c, 2);
    uint32_t count = n2->read_count;
    bool failed = count > 0 && n2->reads[0].failed;
    cluster_free(&c); /* before the checks, so that a failure leaks nothing */
    assert_int_equal(count, 1);
    assert_true(failed);
}

static void test_reads_beyond_pending_max_are_busy(void **state)
{
    (void)state;
    struct cn_config config;
    rh_config(&config);
    config.pending_reads_max = 2;
    struct cluster c;
    cluster_init_with(&c, &raft_ops, 3, &config);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_read(&c, 1, 1), CN_OK);
    assert_int_equal(cluster_read(&c, 1, 2), CN_OK);
    assert_int_equal(cluster_read(&c, 1, 3), CN_ERR_BUSY);
    cluster_stabilize(&c);
    assert_int_equal(cluster_node(&c, 1)->read_count, 2);
    assert_int_equal(cluster_read(&c, 1, 4), CN_OK);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_share_one_heartbeat_round),
        cmocka_unit_test(test_read_waits_for_quorum_confirmation),
        cmocka_unit_test(test_read_index_is_commit_at_arrival),
        cmocka_unit_test(test_follower_read_forwarded_and_answered),
        cmocka_unit_test(test_read_without_leader_refused),
        cmocka_unit_test(test_read_single_node_answered_at_once),
        cmocka_unit_test(test_read_fails_when_leader_steps_down),
        cmocka_unit_test(test_local_and_forwarded_reads_fail_on_higher_term),
        cmocka_unit_test(test_forwarded_read_failure_reaches_follower_in_newer_term),
        cmocka_unit_test(test_reads_beyond_pending_max_are_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
