/*
 * test_paxos_replica_move.c — a shard replica's move as the rebalancer carries it out on the
 * Multi-Paxos core (src/node/rebalance.c; docs/membership.md, "The rebalancer" and
 * "Multi-Paxos shards"), step by step on the scripted cluster with alpha = 4 (Lamport,
 * "Paxos Made Simple" §3: a configuration chosen in slot s governs from s + alpha on):
 *
 *   add the new replica (4) as a learner, catch it up, swap it in for the old one (3), wait
 *   until it reports (consensus/progress.h) the commit index of the moment the configuration
 *   completed, then delete the old replica.
 *
 * The scenario is the reason for the last wait. The values chosen below the new configuration
 * were chosen by the old voters; with voter 2 cut off while they were chosen, only the leader
 * (1) and the old replica (3) hold them. While node 4 has not learned them, its report stays
 * below the wait's index, so the move is not recorded and 3 keeps its data. Once it reports
 * the index, 3 is deleted and the leader lost as well: 4 holds every chosen value, is a voter
 * of the only configuration governing the slots above its chosen prefix, wins phase 1 with 2,
 * chooses new values and catches 2 up (the first scenario). Had 3 been deleted while 4
 * lagged, losing the leader would have lost those values: no survivor holds them (the second).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/paxos_helpers.h"
#include "consensus/progress.h"

enum { ALPHA = 4, ROUNDS_MAX = 200 };

#define MEMBERS(...)                                                                          \
    ((struct cn_members){.count = sizeof((cn_node_id[]){__VA_ARGS__}) / sizeof(cn_node_id),   \
                         .ids = {__VA_ARGS__}})

static const struct cn_members NONE = {0};

/* What node 4 reports to the leader in its answer to one lease (the rebalancer's view). */
static uint64_t reported_by_4(struct px *px, cn_node_id leader)
{
    px_tick(px, leader, 1); /* heartbeat_ticks = 1: a lease to every member */
    assert_true(px_deliver_one(px, leader, 4, CN_MSG_LEASE));
    const struct cn_message *answer = cluster_peek(&px->c, 4, leader, CN_MSG_LEASE_RESPONSE);
    assert_non_null(answer);
    uint64_t index = 0;
    assert_true(cn_progress_reported(answer, &index));
    px_deliver(px, 4, leader, CN_MSG_LEASE_RESPONSE);
    return index;
}

/* Delivers everything but the chosen values sent to node 4 (its catch-up answers), which are
 * dropped: node 4 then lags behind what was chosen while it was away. */
static void stabilize_without_catchup_of_4(struct px *px)
{
    for (uint32_t i = 0; i < 10000; i++) {
        cluster_drop(&px->c, 0, 4, CN_MSG_CHOSEN);
        cluster_drop(&px->c, 0, 4, CN_MSG_SNAPSHOT);
        if (!px_deliver_one(px, 0, 0, 0))
            return;
    }
    fail_msg("the cluster did not settle");
}

struct moved {
    struct px *px;
    uint64_t slot_a;
    uint64_t slots_b[3];
    uint64_t settle;   /* the leader's commit index when the swap completed */
    uint64_t reported; /* what 4 reported then */
};

static const char *const values_b[3] = {"b1", "b2", "b3"};

/* Steps 1-3 of the move, up to the settling wait with node 4 lagging. */
static void move_until_settling(struct moved *mv)
{
    struct cn_config config;
    px_config(&config);
    config.paxos_alpha_slots = ALPHA;
    struct px *px = px_new_voters(4, &config, &MEMBERS(1, 2, 3));
    assert_true(px_campaign_and_win(px, 1));
    px_stabilize(px);
    assert_int_equal(px_propose(px, 1, "a", &mv->slot_a), CN_OK);
    px_stabilize(px);

    /* 1. The new replica, a learner. */
    assert_int_equal(px_change(px, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    px_stabilize(px);
    for (uint32_t r = 0; r < ROUNDS_MAX && px_status(px, 1).membership_pending; r++)
        px_tick_all(px, 1);
    assert_false(px_status(px, 1).membership_pending);

    /* Values chosen by 1 and 3 alone: 2 is cut off (for the rest of the move), 4 too. */
    cluster_isolate(&px->c, 2, true);
    cluster_isolate(&px->c, 4, true);
    uint64_t *slots_b = mv->slots_b;
    for (int i = 0; i < 3; i++) { /* one at a time: alpha bounds the open slots */
        assert_int_equal(px_propose(px, 1, values_b[i], &slots_b[i]), CN_OK);
        px_stabilize(px);
        assert_true(px_commit(px, 1) >= slots_b[i]);
    }
    cluster_isolate(&px->c, 4, false);

    /* 2. The swap: 4 in, 3 out. 4 answers prepares and accepts, but its catch-up answers are
     * lost, so it has not learned the b values. */
    assert_int_equal(px_change(px, 1, &MEMBERS(1, 2, 4), &NONE, NULL), CN_OK);
    stabilize_without_catchup_of_4(px);
    for (uint32_t r = 0; r < ROUNDS_MAX && px_status(px, 1).membership_pending; r++) {
        px_tick(px, 1, 1);
        px_tick(px, 4, 1);
        stabilize_without_catchup_of_4(px);
    }
    assert_false(px_status(px, 1).membership_pending);
    assert_int_equal(px_role(px, 1), CN_ROLE_LEADER);
    struct cn_status st = px_status(px, 1);
    assert_int_equal(st.members.count, 3);
    assert_int_equal(st.members.ids[2], 4);

    /* 3. Settling: the commit index now; 4's report stays below it while it lags, so the
     * rebalancer would not record the move and 3 keeps its replica. */
    uint64_t settle = st.commit_index;
    assert_true(settle >= slots_b[2]);
    uint64_t reported = reported_by_4(px, 1);
    assert_true(reported < slots_b[0]);
    assert_true(reported < settle);
    assert_null(px_applied(px, 4, slots_b[0]));
    mv->px = px;
    mv->settle = settle;
    mv->reported = reported;
}

static void scenario_old_replica_deleted_only_once_the_new_one_holds_the_commit(void **state)
{
    (void)state;
    struct moved mv;
    move_until_settling(&mv);
    struct px *px = mv.px;
    uint64_t settle = mv.settle, reported = mv.reported, slot_a = mv.slot_a;
    const uint64_t *slots_b = mv.slots_b;

    /* Its catch-up answered: it reports the settle index, and holds the b values. */
    for (uint32_t r = 0; r < ROUNDS_MAX && reported < settle; r++) {
        px_tick(px, 4, 1);
        px_stabilize(px);
        reported = reported_by_4(px, 1);
    }
    assert_true(reported >= settle);
    for (int i = 0; i < 3; i++)
        assert_string_equal(px_applied(px, 4, slots_b[i]), values_b[i]);

    /* 4. Recorded: the old replica is deleted; then the leader is lost too. */
    px_crash(px, 3);
    px_crash(px, 1);
    cluster_isolate(&px->c, 2, false);
    cn_node_id leader = px_elect(px);
    assert_true(leader == 2 || leader == 4);
    uint64_t slot_c = 0;
    assert_int_equal(px_propose(px, leader, "c", &slot_c), CN_OK);
    px_stabilize(px);
    assert_true(px_commit(px, leader) >= slot_c);
    for (uint32_t r = 0; r < ROUNDS_MAX && px_applied(px, 2, slot_c) == NULL; r++)
        px_tick_all(px, 1);
    /* Every value chosen before the move is still there, on both survivors. */
    cn_node_id survivors[2] = {2, 4};
    for (int k = 0; k < 2; k++) {
        assert_string_equal(px_applied(px, survivors[k], slot_a), "a");
        for (int i = 0; i < 3; i++)
            assert_string_equal(px_applied(px, survivors[k], slots_b[i]), values_b[i]);
        assert_string_equal(px_applied(px, survivors[k], slot_c), "c");
    }
    px_free(px);
}

/* The contrast: the old replica deleted and the leader lost while node 4 still lags. The
 * values chosen by 1 and 3 alone are then on no survivor, however long they run. */
static void scenario_deleted_too_early_the_old_slots_are_lost(void **state)
{
    (void)state;
    struct moved mv;
    move_until_settling(&mv);
    struct px *px = mv.px;
    px_crash(px, 3);
    px_crash(px, 1);
    cluster_isolate(&px->c, 2, false);
    px_tick_all(px, 100);
    cn_node_id survivors[2] = {2, 4};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) {
            assert_null(px_applied(px, survivors[k], mv.slots_b[i]));
            const struct cn_entry *e = px_disk_slot(px, survivors[k], mv.slots_b[i]);
            assert_true(e == NULL || e->data_len != 2 ||
                        memcmp(e->data, values_b[i], 2) != 0);
        }
    px_free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_old_replica_deleted_only_once_the_new_one_holds_the_commit),
        cmocka_unit_test(scenario_deleted_too_early_the_old_slots_are_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
