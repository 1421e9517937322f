/*
 * test_raft_membership.c — membership change in the Raft core (Raft §6; thesis chapter 4),
 * one scenario per known trap, each set up exactly on the scripted cluster:
 *  - a new leader changes the configuration only after committing an entry of its own term;
 *  - only one change is in progress at a time;
 *  - a change of voters goes through C(old,new), which needs both majorities, and leaves it
 *    on its own once C(old,new) commits;
 *  - a joint configuration whose new majority cannot be reached is visible in the status;
 *  - a leader that removes itself steps down once the change commits, and hands over;
 *  - a removed node does not disrupt the cluster with its elections, pre-vote or not;
 *  - with two voters, promoting a learner to third voter leaves a cluster that can elect;
 *  - learners receive the log and snapshots, never vote nor count;
 *  - a configuration entry takes effect when appended, and a truncation reverts it;
 *  - the configuration survives a restart (it is in the log and in snapshots);
 *  - regressions found by chorus-sim --membership: a new voter that knows nothing yet must
 *    vote; a removed leader holding the only copy of C(new) must still campaign; a lagging
 *    voter answers a leader of a configuration it does not know with its term.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/raft_helpers.h"
#include "consensus/membership.h"
#include "raft/raft.h"

/* A member list written out: MEMBERS(1, 2, 3). */
#define MEMBERS(...)                                                                          \
    ((struct cn_members){.count = sizeof((cn_node_id[]){__VA_ARGS__}) / sizeof(cn_node_id),   \
                         .ids = {__VA_ARGS__}})

static const struct cn_members NONE = {0};

static void assert_members(struct cn_members got, struct cn_members want)
{
    assert_int_equal(got.count, want.count);
    for (uint32_t i = 0; i < want.count; i++)
        assert_int_equal(got.ids[i], want.ids[i]);
}

static bool joint(struct cluster *c, cn_node_id id)
{
    struct cn_status s = rh_status(c, id);
    return cn_membership_joint(&s.membership);
}

/* `count` nodes; the first `voters` form the configuration, the rest join later. */
static void init_group_with(struct cluster *c, uint32_t count, uint32_t voters, bool pre_vote,
                            bool check_quorum)
{
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = pre_vote;
    config.check_quorum = check_quorum;
    struct cn_members initial = {.count = voters};
    for (uint32_t i = 0; i < voters; i++)
        initial.ids[i] = i + 1;
    cluster_init_voters(c, &raft_ops, count, &config, &initial);
}

static void init_group(struct cluster *c, uint32_t count, uint32_t voters, bool pre_vote)
{
    init_group_with(c, count, voters, pre_vote, true);
}

static cn_node_id elect(struct cluster *c, cn_node_id id)
{
    assert_true(rh_campaign_and_win(c, id));
    cluster_stabilize(c);
    return id;
}

static void scenario_new_leader_changes_only_after_committing_its_term(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 4, 3, false);
    cluster_campaign(&c, 1);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE_RESPONSE);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    /* Its no-op is appended, not committed: an entry of an earlier leader may still be
     * uncommitted below it, so no change yet. */
    assert_true(rh_commit(&c, 1) < rh_last(&c, 1));
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_ERR_BUSY);
    assert_int_equal(rh_status(&c, 1).membership_index, 0);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 1), rh_last(&c, 1));
    uint64_t index = 0;
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), &index), CN_OK);
    assert_int_equal(index, rh_last(&c, 1));
    cluster_stabilize(&c);
    assert_int_equal(rh_status(&c, 4).membership_index, index);
    assert_members(rh_status(&c, 4).membership.learners, MEMBERS(4));
    cluster_free(&c);
}

static void scenario_one_change_at_a_time(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 5, 3, true);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    /* The first is appended (in force on the leader) but not committed. */
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4, 5), NULL),
                     CN_ERR_BUSY);
    assert_true(rh_status(&c, 1).membership_pending);
    cluster_stabilize(&c);
    assert_false(rh_status(&c, 1).membership_pending);
    /* A change of voters: refused again until both the joint and the final configuration
     * committed. */
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3, 4), &NONE, NULL), CN_OK);
    assert_true(joint(&c, 1));
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3, 4), &MEMBERS(5), NULL),
                     CN_ERR_BUSY);
    cluster_stabilize(&c);
    assert_false(rh_status(&c, 1).membership_pending);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3, 4), &MEMBERS(5), NULL), CN_OK);
    /* Changes that cannot be meant are refused whatever else is going on. */
    assert_int_equal(cluster_change(&c, 2, &MEMBERS(1, 2), &NONE, NULL), CN_ERR_NOT_LEADER);
    cluster_stabilize(&c);
    assert_int_equal(cluster_change(&c, 1, &NONE, &MEMBERS(5), NULL), CN_ERR_INVALID);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2), &MEMBERS(2), NULL), CN_ERR_INVALID);
    cluster_free(&c);
}

/* Replaces voter 3 by node 4 (a learner first, so that it is caught up) and stops after the
 * joint entry is appended on the leader, before anything is delivered. */
static void enter_joint_replacing_3_by_4(struct cluster *c, bool check_quorum)
{
    init_group_with(c, 4, 3, true, check_quorum);
    elect(c, 1);
    assert_int_equal(cluster_change(c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    cluster_stabilize(c);
    assert_int_equal(rh_last(c, 4), rh_last(c, 1));
    assert_int_equal(cluster_change(c, 1, &MEMBERS(1, 2, 4), &NONE, NULL), CN_OK);
    struct cn_status s = rh_status(c, 1);
    assert_members(s.membership.voters, MEMBERS(1, 2, 4));
    assert_members(s.membership.outgoing, MEMBERS(1, 2, 3));
}

static void scenario_joint_needs_both_majorities_then_leaves_by_itself(void **state)
{
    (void)state;
    struct cluster c;
    enter_joint_replacing_3_by_4(&c, true);
    /* Only node 3 hears of C(old,new): {1,3} is a majority of the old voters, not of the
     * new ones. */
    cluster_isolate(&c, 2, true);
    cluster_isolate(&c, 4, true);
    cluster_stabilize(&c);
    uint64_t joint = rh_status(&c, 1).membership_index;
    assert_true(rh_commit(&c, 1) < joint);
    /* {1,4} is a majority of the new voters, and with 3, of the old: it commits, and the
     * leader appends C(new) on its own. */
    cluster_isolate(&c, 4, false);
    rh_tick_all(&c, 2);
    assert_true(rh_commit(&c, 1) >= joint);
    struct cn_status s = rh_status(&c, 1);
    assert_false(cn_membership_joint(&s.membership));
    assert_members(s.membership.voters, MEMBERS(1, 2, 4));
    assert_int_equal(s.membership_index, joint + 1);
    /* C(new) needs only the new majority: 3 is out of it. */
    assert_int_equal(rh_commit(&c, 1), joint + 1);
    assert_false(rh_status(&c, 1).membership_pending);
    assert_int_equal(rh_status(&c, 4).membership_index, joint + 1);
    cluster_free(&c);
}

static void scenario_unreachable_new_majority_is_visible(void **state)
{
    (void)state;
    struct cluster c;
    enter_joint_replacing_3_by_4(&c, false);
    /* The new voters 2 and 4 are gone: the old majority {1,3} is there, the new one is not. */
    cluster_isolate(&c, 2, true);
    cluster_isolate(&c, 4, true);
    cluster_stabilize(&c);
    assert_false(rh_status(&c, 1).membership_unreachable);
    /* A full election timeout without the new voters: the leader says so. (With
     * check-quorum it would step down instead, since the joint quorum needs them too; this
     * group runs without, so that the leader stays and reports.) */
    for (uint32_t i = 0; i < 25; i++) {
        cluster_tick(&c, 1, 1);
        cluster_stabilize(&c);
    }
    struct cn_status s = rh_status(&c, 1);
    assert_int_equal(s.role, CN_ROLE_LEADER);
    assert_true(s.membership_pending);
    assert_true(s.membership_unreachable);
    /* They come back: the change completes and the flag clears. */
    cluster_isolate(&c, 2, false);
    cluster_isolate(&c, 4, false);
    cn_node_id leader = cluster_elect(&c);
    assert_int_not_equal(leader, 0);
    rh_tick_all(&c, 25);
    leader = cluster_leader(&c);
    s = rh_status(&c, leader);
    assert_false(s.membership_pending);
    assert_false(s.membership_unreachable);
    assert_members(s.membership.voters, MEMBERS(1, 2, 4));
    cluster_free(&c);
}

static void scenario_leader_removing_itself_steps_down_and_hands_over(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 3, 3, true);
    elect(&c, 1);
    uint64_t term = rh_term(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(2, 3), &NONE, NULL), CN_OK);
    /* Until C(new) commits, the leader leads (thesis §4.2.2); then it steps down and tells
     * the caught-up voter to campaign at once: no tick is needed for a new leader. */
    cluster_stabilize(&c);
    assert_int_not_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 2 || leader == 3);
    assert_int_equal(rh_term(&c, leader), term + 1);
    struct cn_status s = rh_status(&c, leader);
    assert_members(s.membership.voters, MEMBERS(2, 3));
    /* The new leader commits without node 1. */
    cluster_isolate(&c, 1, true);
    uint64_t index;
    assert_int_equal(cluster_propose(&c, leader, "after", &index), CN_OK);
    cluster_stabilize(&c);
    assert_true(rh_commit(&c, leader) >= index);
    cluster_free(&c);
}

static void removed_node_does_not_disrupt(bool pre_vote)
{
    struct cluster c;
    init_group(&c, 3, 3, pre_vote);
    elect(&c, 1);
    /* Node 3 is cut off before it hears that it is removed. */
    cluster_isolate(&c, 3, true);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2), &NONE, NULL), CN_OK);
    cluster_stabilize(&c);
    assert_false(rh_status(&c, 1).membership_pending);
    uint64_t term = rh_term(&c, 1);
    /* It times out again and again; back on the network, it campaigns at the members. */
    cluster_tick(&c, 3, 100);
    cluster_isolate(&c, 3, false);
    for (uint32_t i = 0; i < 60; i++) {
        cluster_tick(&c, 3, 1);
        cluster_stabilize(&c);
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 1), term);
    assert_int_equal(rh_term(&c, 2), term);
    assert_int_not_equal(rh_role(&c, 3), CN_ROLE_LEADER);
    cluster_free(&c);
}

static void scenario_removed_node_does_not_disrupt_with_pre_vote(void **state)
{
    (void)state;
    removed_node_does_not_disrupt(true);
}

static void scenario_removed_node_does_not_disrupt_without_pre_vote(void **state)
{
    (void)state;
    removed_node_does_not_disrupt(false);
}

static void scenario_two_voters_promote_third_cluster_can_elect(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 3, 2, true);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2), &MEMBERS(3), NULL), CN_OK);
    cluster_stabilize(&c);
    /* A learner never campaigns, however long it hears nothing. */
    cluster_isolate(&c, 3, true);
    cluster_tick(&c, 3, 100);
    assert_int_equal(rh_role(&c, 3), CN_ROLE_FOLLOWER);
    cluster_isolate(&c, 3, false);
    rh_tick_all(&c, 2);
    assert_int_equal(rh_last(&c, 3), rh_last(&c, 1));
    /* Promote it: C({1,2},{1,2,3}) then C({1,2,3}). */
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &NONE, NULL), CN_OK);
    cluster_stabilize(&c);
    for (cn_node_id id = 1; id <= 3; id++) {
        struct cn_status s = rh_status(&c, id);
        assert_false(s.membership_pending);
        assert_members(s.membership.voters, MEMBERS(1, 2, 3));
    }
    /* The leader dies: the two others, one of them the new voter, elect a leader. */
    cluster_crash(&c, 1);
    assert_true(rh_rounds_until_leader(&c, 100) != UINT32_MAX);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 2 || leader == 3);
    uint64_t index;
    assert_int_equal(cluster_propose(&c, leader, "x", &index), CN_OK);
    cluster_stabilize(&c);
    assert_true(rh_commit(&c, leader) >= index);
    /* And with 2 dead instead, 1 and 3 elect as well. */
    cluster_restart(&c, 1);
    rh_tick_all(&c, 5);
    cluster_crash(&c, 2);
    if (cluster_leader(&c) == 0 || cluster_leader(&c) == 2)
        assert_true(rh_rounds_until_leader(&c, 100) != UINT32_MAX);
    leader = cluster_leader(&c);
    assert_true(leader == 1 || leader == 3);
    cluster_free(&c);
}

static void scenario_learner_never_counts(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 4, 3, true);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    cluster_stabilize(&c);
    /* 1 and the learner 4 hold the entry: not a majority of the voters {1,2,3}. */
    cluster_isolate(&c, 2, true);
    cluster_isolate(&c, 3, true);
    uint64_t index;
    assert_int_equal(cluster_propose(&c, 1, "y", &index), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(rh_last(&c, 4), index);
    assert_true(rh_commit(&c, 1) < index);
    /* The learner is asked for no vote. */
    cluster_isolate(&c, 2, false);
    cluster_isolate(&c, 3, false);
    cluster_crash(&c, 1);
    cluster_campaign(&c, 2);
    assert_int_equal(cluster_count(&c, 2, 4, CN_MSG_VOTE), 0);
    assert_int_equal(cluster_count(&c, 2, 4, CN_MSG_PRE_VOTE), 0);
    cluster_free(&c);
}

static void scenario_truncated_config_entry_reverts(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 4, 3, false);
    elect(&c, 1);
    /* Node 1 appends a change that nobody else receives: it is in force on node 1 only. */
    cluster_isolate(&c, 1, true);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4), NULL), CN_OK);
    cluster_stabilize(&c);
    uint64_t lost = rh_status(&c, 1).membership_index;
    assert_int_equal(lost, rh_last(&c, 1));
    assert_members(rh_status(&c, 1).membership.learners, MEMBERS(4));
    /* 2 or 3 leads a new term and overwrites it. */
    assert_true(rh_rounds_until_leader(&c, 200) != UINT32_MAX);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 2 || leader == 3);
    assert_int_equal(cluster_propose(&c, leader, "z", NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_isolate(&c, 1, false);
    rh_tick_all(&c, 3);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_last(&c, 1), rh_last(&c, leader));
    struct cn_status s = rh_status(&c, 1);
    assert_int_equal(s.membership.learners.count, 0);
    assert_int_equal(s.membership_index, 0);
    cluster_free(&c);
}

static void scenario_configuration_survives_restart_and_snapshots(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 5, 3, true);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3, 4), &NONE, NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(cluster_propose(&c, 1, "a", NULL), CN_OK);
    cluster_stabilize(&c);
    /* Restarted from its log, node 2 is in the configuration it appended. */
    cluster_crash(&c, 2);
    cluster_restart(&c, 2);
    assert_members(rh_status(&c, 2).membership.voters, MEMBERS(1, 2, 3, 4));
    /* The leader compacts its log past both configuration entries; node 5, added as a
     * learner, can only get the snapshot, which carries the configuration at its index. */
    rh_tick_all(&c, 2);
    uint64_t applied = rh_status(&c, 1).applied_index;
    cluster_snapshot_taken(&c, 1, applied);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3, 4), &MEMBERS(5), NULL), CN_OK);
    rh_tick_all(&c, 5);
    struct cn_status s = rh_status(&c, 5);
    assert_true(s.snapshot_index >= applied);
    assert_int_equal(s.last_index, rh_last(&c, 1));
    assert_members(s.membership.voters, MEMBERS(1, 2, 3, 4));
    assert_members(s.membership.learners, MEMBERS(5));
    cluster_free(&c);
}

/* chorus-sim --membership --nodes 5 seed 1: a joint configuration needs the vote of a node
 * that was just added and never heard from the leader (its configuration is still empty). It
 * must grant it: votes are not filtered by membership (thesis §4.2.3 filters by lease). */
static void scenario_new_voter_that_knows_nothing_votes(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 4, 3, true);
    elect(&c, 1);
    /* C({1,2,3},{1,3,4}) reaches node 2 only: uncommitted (1 of {1,3,4}). */
    cluster_isolate(&c, 3, true);
    cluster_isolate(&c, 4, true);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 3, 4), &NONE, NULL), CN_OK);
    cluster_stabilize(&c);
    assert_true(joint(&c, 2));
    assert_int_equal(rh_status(&c, 4).membership.voters.count, 0);
    cluster_crash(&c, 1);
    cluster_isolate(&c, 3, false);
    cluster_isolate(&c, 4, false);
    /* Node 2 needs 2 of {1,3,4} and 2 of {1,2,3}: 3 and 4 (which knows nothing) with it. It
     * leads, completes the change, and hands over, being no voter of C(new). */
    assert_true(rh_rounds_until_leader(&c, 200) != UINT32_MAX);
    rh_tick_all(&c, 30);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 3 || leader == 4);
    struct cn_status s = rh_status(&c, 4);
    assert_false(s.membership_pending);
    assert_members(s.membership.voters, MEMBERS(1, 3, 4));
    cluster_free(&c);
}

/* chorus-sim --membership --nodes 5 seed 327: the leader replaced itself, appended C(new) and
 * crashed holding its only copy. The others, still joint, need its vote, which it refuses (its
 * log is longer); it is no voter of its latest configuration, but that configuration is not
 * committed, so it must still campaign, without counting itself (thesis §4.2.2). */
static void scenario_removed_leader_holding_only_copy_of_new_configuration_campaigns(void **state)
{
    (void)state;
    struct cluster c;
    init_group(&c, 3, 2, true);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2), &MEMBERS(3), NULL), CN_OK);
    cluster_stabilize(&c);
    assert_false(rh_status(&c, 1).membership_pending);
    /* Replace itself by 3: C({1,2},{2,3}). Deliver until the leader left the joint phase
     * (C(new) is appended on it), then drop what it sends: nobody else gets C(new). */
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(2, 3), &NONE, NULL), CN_OK);
    uint64_t joint_index = rh_status(&c, 1).membership_index;
    for (uint32_t i = 0; i < 1000 && joint(&c, 1); i++) {
        const struct cn_message *m = cluster_peek(&c, 0, 0, 0);
        assert_non_null(m);
        cluster_deliver_one(&c, m->from, m->to, m->type);
    }
    struct cn_status s = rh_status(&c, 1);
    assert_false(cn_membership_joint(&s.membership));
    assert_true(s.membership_index > joint_index);
    assert_true(joint(&c, 2));
    cluster_drop(&c, 1, 0, 0);
    cluster_crash(&c, 1);
    cluster_restart(&c, 1);
    /* Node 1 restarts with C(new) = {2,3} uncommitted, and the longest log. */
    assert_members(rh_status(&c, 1).membership.voters, MEMBERS(2, 3));
    assert_true(rh_rounds_until_leader(&c, 300) != UINT32_MAX);
    rh_tick_all(&c, 30);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 2 || leader == 3);
    s = rh_status(&c, leader);
    assert_false(s.membership_pending);
    assert_members(s.membership.voters, MEMBERS(2, 3));
    cluster_free(&c);
}

/* chorus-sim --membership --groups 4 seed 4000514 (pre-vote and check-quorum off): node 3 was
 * cut off while C({1,2,3},{3,4,5}) and C({3,4,5}) committed, and raised its term meanwhile.
 * Back, it drops the appends of the new leader, a lower term, and its vote requests go to 1
 * and 2 only, its stale configuration: unless it answers a leader that is no voter of its
 * configuration with its term (Figure 2), it is never caught up. */
static void scenario_lagging_voter_answers_leader_of_unknown_configuration(void **state)
{
    (void)state;
    struct cluster c;
    init_group_with(&c, 5, 3, false, false);
    elect(&c, 1);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(1, 2, 3), &MEMBERS(4, 5), NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_isolate(&c, 3, true);
    assert_int_equal(cluster_change(&c, 1, &MEMBERS(3, 4, 5), &NONE, NULL), CN_OK);
    cluster_stabilize(&c);
    cn_node_id leader = cluster_leader(&c);
    assert_true(leader == 4 || leader == 5);
    assert_members(rh_status(&c, leader).membership.voters, MEMBERS(3, 4, 5));
    /* The removed nodes are gone for good (else their own campaigns, in the joint
     * configuration some of them still hold, would bump the new leader's term). */
    cluster_crash(&c, 1);
    cluster_crash(&c, 2);
    cluster_tick(&c, 3, 200);
    assert_true(rh_term(&c, 3) > rh_term(&c, leader));
    cluster_isolate(&c, 3, false);
    for (uint32_t i = 0; i < 100 && rh_last(&c, 3) < rh_last(&c, 4); i++)
        rh_tick_all(&c, 1);
    leader = cluster_leader(&c);
    assert_true(leader == 4 || leader == 5);
    assert_int_equal(rh_last(&c, 3), rh_last(&c, leader));
    assert_members(rh_status(&c, 3).membership.voters, MEMBERS(3, 4, 5));
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_new_leader_changes_only_after_committing_its_term),
        cmocka_unit_test(scenario_one_change_at_a_time),
        cmocka_unit_test(scenario_joint_needs_both_majorities_then_leaves_by_itself),
        cmocka_unit_test(scenario_unreachable_new_majority_is_visible),
        cmocka_unit_test(scenario_leader_removing_itself_steps_down_and_hands_over),
        cmocka_unit_test(scenario_removed_node_does_not_disrupt_with_pre_vote),
        cmocka_unit_test(scenario_removed_node_does_not_disrupt_without_pre_vote),
        cmocka_unit_test(scenario_two_voters_promote_third_cluster_can_elect),
        cmocka_unit_test(scenario_learner_never_counts),
        cmocka_unit_test(scenario_truncated_config_entry_reverts),
        cmocka_unit_test(scenario_configuration_survives_restart_and_snapshots),
        cmocka_unit_test(scenario_new_voter_that_knows_nothing_votes),
        cmocka_unit_test(scenario_removed_leader_holding_only_copy_of_new_configuration_campaigns),
        cmocka_unit_test(scenario_lagging_voter_answers_leader_of_unknown_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
