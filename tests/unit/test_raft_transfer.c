/* test_raft_transfer.c — leadership transfer with TimeoutNow (thesis §3.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/raft_helpers.h"
#include "raft/raft.h"

/* A leader 1 whose follower 3 misses the last `missing` entries (it was partitioned from
 * the election on, so the leader's progress for it is a fresh probe). */
static void init_with_lagging_target(struct cluster *c, int missing)
{
    cluster_init(c, &raft_ops, 3);
    cluster_isolate(c, 3, true);
    assert_true(rh_campaign_and_win(c, 1));
    for (int i = 0; i < missing; i++)
        assert_int_equal(cluster_propose(c, 1, "t", NULL), CN_OK);
    cluster_stabilize(c);
    assert_int_equal(rh_commit(c, 1), 1 + (uint64_t)missing);
    assert_int_equal(rh_last(c, 3), 0);
}

static void test_transfer_target_catches_up_then_campaigns(void **state)
{
    (void)state;
    struct cluster c;
    init_with_lagging_target(&c, 3);
    cluster_isolate(&c, 3, false);
    uint64_t term = rh_term(&c, 1);
    assert_int_equal(cluster_transfer(&c, 1, 3), CN_OK);
    assert_int_equal(rh_status(&c, 1).transfer_target, 3);
    assert_int_equal(cluster_count(&c, 1, 3, CN_MSG_TIMEOUT_NOW), 0);
    /* The leader's probe from the election is still outstanding (it was lost): the next
     * heartbeat's answer lets it probe again. */
    cluster_tick(&c, 1, 1);
    bool seen = false;
    for (uint32_t i = 0; i < 1000 && !seen; i++) {
        if (cluster_count(&c, 1, 3, CN_MSG_TIMEOUT_NOW) > 0) {
            /* Sent only once the target holds everything the leader has. */
            assert_int_equal(rh_last(&c, 3), rh_last(&c, 1));
            assert_int_equal(rh_last(&c, 3), 4);
            seen = true;
            break;
        }
        const struct cn_message *m = cluster_peek(&c, 0, 0, 0);
        assert_non_null(m);
        cluster_deliver_one(&c, m->from, m->to, m->type);
    }
    assert_true(seen);
    cluster_stabilize(&c);
    assert_int_equal(rh_role(&c, 3), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 3), term + 1);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_status(&c, 1).leader, 3);
    /* Node 2 had heard from leader 1 just before: the transfer overrides its lease. */
    assert_int_equal(rh_status(&c, 2).vote, 3);
    assert_int_equal(cluster_propose(&c, 3, "after", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 3), 6);
    cluster_free(&c);
}

static void test_transfer_to_up_to_date_target_is_immediate(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_transfer(&c, 1, 2), CN_OK);
    assert_int_equal(cluster_count(&c, 1, 2, CN_MSG_TIMEOUT_NOW), 1);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_TIMEOUT_NOW));
    assert_int_equal(rh_role(&c, 2), CN_ROLE_CANDIDATE); /* no pre-vote round */
    assert_int_equal(rh_term(&c, 2), 2);
    cluster_stabilize(&c);
    assert_int_equal(cluster_leader(&c), 2);
    cluster_free(&c);
}

static void test_proposals_refused_during_transfer(void **state)
{
    (void)state;
    struct cluster c;
    init_with_lagging_target(&c, 1);
    assert_int_equal(cluster_transfer(&c, 1, 3), CN_OK);
    assert_int_equal(rh_status(&c, 1).transfer_target, 3);
    uint64_t last = rh_last(&c, 1);
    assert_int_equal(cluster_propose(&c, 1, "no", NULL), CN_ERR_TRANSFERRING);
    assert_int_equal(rh_last(&c, 1), last);
    cluster_free(&c);
}

/* Thesis §3.10: without completion within an election timeout, the leader aborts the
 * transfer and takes proposals again. */
static void test_transfer_aborts_after_election_timeout(void **state)
{
    (void)state;
    struct cluster c;
    init_with_lagging_target(&c, 1);
    uint64_t term = rh_term(&c, 1);
    assert_int_equal(cluster_transfer(&c, 1, 3), CN_OK);
    for (uint32_t i = 0; i < 9; i++) {
        cluster_tick(&c, 1, 1);
        cluster_tick(&c, 2, 1);
        cluster_stabilize(&c);
    }
    assert_int_equal(rh_status(&c, 1).transfer_target, 3);
    assert_int_equal(cluster_propose(&c, 1, "no", NULL), CN_ERR_TRANSFERRING);
    cluster_tick(&c, 1, 1);
    assert_int_equal(rh_status(&c, 1).transfer_target, 0);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 1), term);
    assert_int_equal(cluster_propose(&c, 1, "yes", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 1), 3);
    cluster_free(&c);
}

static void test_transfer_invalid_requests(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_transfer(&c, 1, 1), CN_ERR_INVALID);
    assert_int_equal(cluster_transfer(&c, 1, 9), CN_ERR_INVALID);
    assert_int_equal(cluster_transfer(&c, 2, 3), CN_ERR_NOT_LEADER);
    assert_int_equal(rh_status(&c, 1).transfer_target, 0);
    cluster_free(&c);
}

/* A leader that steps down (here: its transfer succeeded) forgets the transfer. */
static void test_transfer_state_cleared_on_new_leader(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_transfer(&c, 1, 2), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(cluster_leader(&c), 2);
    assert_int_equal(rh_status(&c, 1).transfer_target, 0);
    assert_int_equal(rh_status(&c, 2).transfer_target, 0);
    assert_int_equal(cluster_propose(&c, 2, "ok", NULL), CN_OK);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_target_catches_up_then_campaigns),
        cmocka_unit_test(test_transfer_to_up_to_date_target_is_immediate),
        cmocka_unit_test(test_proposals_refused_during_transfer),
        cmocka_unit_test(test_transfer_aborts_after_election_timeout),
        cmocka_unit_test(test_transfer_invalid_requests),
        cmocka_unit_test(test_transfer_state_cleared_on_new_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
