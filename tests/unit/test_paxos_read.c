/*
 * test_paxos_read.c — linearizable reads in the Multi-Paxos core without writing a slot: the
 * leader confirms with a quorum lease round that no higher ballot took over, and answers at
 * its chosen index; a new leader first chooses what its phase 1 recovered; a deposed leader's
 * reads fail; followers forward reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/paxos_helpers.h"
#include "paxos/paxos.h"

static void test_read_waits_for_quorum_round(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "a", NULL);
    px_stabilize(px);
    uint64_t slots_before = px_status(px, 1).last_index;
    assert_int_equal(px_read(px, 1, 42), CN_OK);
    struct cluster_node *n = cluster_node(&px->c, 1);
    assert_int_equal(n->read_count, 0);
    assert_int_equal(cluster_count(&px->c, 1, 0, CN_MSG_LEASE), 2);
    uint64_t round = cluster_peek(&px->c, 1, 2, CN_MSG_LEASE)->context;
    assert_true(round > 0);
    px_deliver(px, 1, 2, CN_MSG_LEASE);
    assert_int_equal(n->read_count, 0);
    px_deliver(px, 2, 1, CN_MSG_LEASE_RESPONSE);
    assert_int_equal(n->read_count, 1);
    assert_int_equal(n->reads[0].request_id, 42);
    assert_int_equal(n->reads[0].index, 1);
    assert_false(n->reads[0].failed);
    /* No slot was written for it. */
    assert_int_equal(px_status(px, 1).last_index, slots_before);
    px_free(px);
}

/* Reads arriving before one update share one round. */
static void test_reads_batched_into_one_round(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    for (uint64_t id = 1; id <= 5; id++)
        assert_int_equal(px_step(px, 1, &(struct cn_event){.type = CN_EVENT_READ,
                                                          .request_id = id}), CN_OK);
    px_settle(px);
    assert_int_equal(cluster_count(&px->c, 1, 2, CN_MSG_LEASE), 1);
    px_stabilize(px);
    assert_int_equal(cluster_node(&px->c, 1)->read_count, 5);
    px_free(px);
}

static void test_deposed_leader_read_fails(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 1, true);
    px_campaign(px, 2);
    px_stabilize(px);
    assert_int_equal(px_role(px, 2), CN_ROLE_LEADER);
    px_propose(px, 2, "new", NULL);
    px_stabilize(px);
    cluster_isolate(&px->c, 1, false);
    cluster_drop(&px->c, 0, 0, 0);
    /* Node 1 still believes it leads; its round meets acceptors that promised higher. */
    assert_int_equal(px_role(px, 1), CN_ROLE_LEADER);
    assert_int_equal(px_read(px, 1, 7), CN_OK);
    px_deliver(px, 1, 0, CN_MSG_LEASE);
    px_deliver(px, 0, 1, CN_MSG_LEASE_RESPONSE);
    struct cluster_node *n = cluster_node(&px->c, 1);
    assert_int_equal(n->read_count, 1);
    assert_true(n->reads[0].failed);
    assert_int_equal(px_role(px, 1), CN_ROLE_FOLLOWER);
    px_free(px);
}

/* A new leader that recovered slots in phase 1 answers reads only once they are chosen
 * again: its chosen index may lack what earlier leaders chose. */
static void test_new_leader_reads_wait_for_recovered_slots(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "x", NULL);
    px_deliver(px, 1, 2, CN_MSG_ACCEPT);
    cluster_drop(&px->c, 0, 0, 0); /* x is chosen (1 and 2), but node 2 does not know it */
    px_crash(px, 1);
    px_campaign(px, 2);
    px_deliver(px, 2, 3, CN_MSG_PREPARE);
    px_deliver(px, 3, 2, CN_MSG_PROMISE);
    assert_int_equal(px_role(px, 2), CN_ROLE_LEADER);
    assert_int_equal(px_commit(px, 2), 0);
    assert_int_equal(px_read(px, 2, 9), CN_OK);
    assert_int_equal(cluster_count(&px->c, 2, 3, CN_MSG_LEASE), 1); /* the leadership lease */
    px_deliver(px, 2, 3, CN_MSG_LEASE);
    px_deliver(px, 3, 2, CN_MSG_LEASE_RESPONSE);
    struct cluster_node *n = cluster_node(&px->c, 2);
    assert_int_equal(n->read_count, 0);
    px_stabilize(px);
    assert_int_equal(n->read_count, 1);
    assert_int_equal(n->reads[0].index, 1);
    assert_false(n->reads[0].failed);
    assert_string_equal(px_applied(px, 2, 1), "x");
    px_free(px);
}

static void test_follower_read_forwarded_to_leader(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "a", NULL);
    px_stabilize(px);
    assert_int_equal(px_read(px, 3, 5), CN_OK);
    assert_int_equal(cluster_count(&px->c, 3, 1, CN_MSG_READ_INDEX), 1);
    px_stabilize(px);
    struct cluster_node *n = cluster_node(&px->c, 3);
    assert_int_equal(n->read_count, 1);
    assert_int_equal(n->reads[0].request_id, 5);
    assert_int_equal(n->reads[0].index, 1);
    assert_false(n->reads[0].failed);
    /* Without a known leader a follower refuses. */
    struct px *alone = px_new(3);
    assert_int_equal(px_read(alone, 2, 1), CN_ERR_NOT_LEADER);
    px_free(alone);
    px_free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_waits_for_quorum_round),
        cmocka_unit_test(test_reads_batched_into_one_round),
        cmocka_unit_test(test_deposed_leader_read_fails),
        cmocka_unit_test(test_new_leader_reads_wait_for_recovered_slots),
        cmocka_unit_test(test_follower_read_forwarded_to_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
