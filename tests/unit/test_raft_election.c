/*
 * test_raft_election.c — leader election (§5.2, §5.4.1), vote persistence (Figure 2),
 * pre-vote (thesis §9.6), check-quorum (thesis §6.2) and restart with term and vote.
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

/* A cluster without pre-vote and check-quorum, for rules of the plain election. */
static void init_plain(struct cluster *c, uint32_t count)
{
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = false;
    config.check_quorum = false;
    cluster_init_with(c, &raft_ops, count, &config);
}

/* Ticks a lone follower of a fresh cluster until it starts a (pre-)vote; returns the ticks. */
static uint32_t ticks_until_campaign(uint64_t seed)
{
    struct cn_config config;
    rh_config(&config);
    config.random_seed = seed;
    struct cluster c;
    cluster_init_with(&c, &raft_ops, 3, &config);
    uint32_t ticks = 0;
    while (ticks < 100 && cluster_count(&c, 1, 0, CN_MSG_PRE_VOTE) == 0) {
        cluster_tick(&c, 1, 1);
        ticks++;
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_PRE_CANDIDATE);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_PRE_VOTE), 2);
    cluster_free(&c);
    return ticks;
}

static void test_election_timeout_randomized_in_range(void **state)
{
    (void)state;
    bool seen[20] = {false};
    uint32_t distinct = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        uint32_t ticks = ticks_until_campaign(seed);
        assert_in_range(ticks, 10, 19); /* [e, 2e-1] with e = 10 */
        if (!seen[ticks]) {
            seen[ticks] = true;
            distinct++;
        }
        /* Deterministic: the same seed gives the same timeout. */
        assert_int_equal(ticks_until_campaign(seed), ticks);
    }
    assert_true(distinct >= 3);
}

static void test_follower_does_not_campaign_while_hearing_from_leader(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    cn_node_id leader = cluster_elect(&c);
    assert_int_not_equal(leader, 0);
    uint64_t term = rh_term(&c, leader);
    rh_tick_all(&c, 100); /* heartbeats every tick keep every follower's timer reset */
    assert_int_equal(cluster_leader(&c), leader);
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(rh_term(&c, id), term);
    cluster_free(&c);
}

static void test_one_leader_per_term_with_competing_candidates(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    cluster_campaign(&c, 1);
    cluster_campaign(&c, 2);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_CANDIDATE);
    assert_int_equal(rh_role(&c, 2), CN_ROLE_CANDIDATE);
    assert_int_equal(rh_term(&c, 1), 1);
    assert_int_equal(rh_term(&c, 2), 1);
    cluster_stabilize(&c);
    /* Node 3 got 1's request first and voted for 1; 1 and 2 refuse each other. */
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_role(&c, 2), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_role(&c, 3), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_status(&c, 3).vote, 1);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(rh_term(&c, id), 1);
        assert_int_equal(rh_status(&c, id).leader, 1);
    }
    cluster_free(&c);
}

static void test_split_vote_elects_nobody_then_a_later_term_does(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 4);
    cluster_campaign(&c, 1);
    cluster_campaign(&c, 2);
    /* 3 hears 1 first, 4 hears 2 first: 2 votes each, quorum is 3. */
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 2, 4, CN_MSG_VOTE));
    cluster_stabilize(&c);
    uint32_t leaders = 0;
    for (cn_node_id id = 1; id <= 4; id++) {
        assert_int_equal(rh_term(&c, id), 1);
        leaders += rh_role(&c, id) == CN_ROLE_LEADER;
    }
    assert_int_equal(leaders, 0);
    assert_int_not_equal(rh_rounds_until_leader(&c, 100), UINT32_MAX);
    cn_node_id leader = cluster_leader(&c);
    assert_true(rh_term(&c, leader) >= 2);
    leaders = 0;
    for (cn_node_id id = 1; id <= 4; id++)
        leaders += rh_role(&c, id) == CN_ROLE_LEADER;
    assert_int_equal(leaders, 1);
    cluster_free(&c);
}

/* §5.4.1: a candidate whose log is behind a voter's gets no vote from that voter. */
static void test_stale_log_candidate_cannot_win(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    const uint64_t longer[] = {1, 1, 1};
    const uint64_t shorter[] = {1, 1};
    rh_set_disk(&c, 1, 1, 0, 2, longer, 3);
    rh_set_disk(&c, 2, 1, 0, 2, longer, 3);
    rh_set_disk(&c, 3, 1, 0, 2, shorter, 2);
    cluster_campaign(&c, 3);
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_VOTE));
    const struct cn_message *r1 = cluster_peek(&c, 1, 3, CN_MSG_VOTE_RESPONSE);
    const struct cn_message *r2 = cluster_peek(&c, 2, 3, CN_MSG_VOTE_RESPONSE);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_true(r1->reject);
    assert_true(r2->reject);
    cluster_stabilize(&c);
    assert_int_not_equal(rh_role(&c, 3), CN_ROLE_LEADER);
    assert_int_equal(rh_status(&c, 1).vote, 0); /* term 2 adopted, no vote given */
    assert_int_equal(rh_term(&c, 1), 2);
    /* A node with the longer log wins the next term, and 3 grants it. */
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(rh_term(&c, 1), 3);
    assert_int_equal(rh_status(&c, 3).vote, 1);
    cluster_free(&c);
}

/* §5.4.1: the last term decides first; a higher last term beats a longer log. */
static void test_up_to_date_compares_last_term_before_length(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    const uint64_t long_old[] = {1, 1, 1, 1};
    const uint64_t short_new[] = {1, 2};
    rh_set_disk(&c, 1, 2, 0, 1, short_new, 2);
    rh_set_disk(&c, 2, 2, 0, 1, long_old, 4);
    rh_set_disk(&c, 3, 2, 0, 1, long_old, 4);
    /* 2 cannot win: 1 refuses (last term 1 < 2); 3 grants, but 2's own vote + 3 is enough in
     * 3 nodes, so isolate 3 to see 1's refusal decide. */
    cluster_isolate(&c, 3, true);
    cluster_campaign(&c, 2);
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_VOTE));
    const struct cn_message *r = cluster_peek(&c, 1, 2, CN_MSG_VOTE_RESPONSE);
    assert_non_null(r);
    assert_true(r->reject);
    cluster_stabilize(&c);
    assert_int_not_equal(rh_role(&c, 2), CN_ROLE_LEADER);
    cluster_isolate(&c, 3, false);
    /* 1, with the shorter log of the higher term, wins. */
    assert_true(rh_campaign_and_win(&c, 1));
    cluster_free(&c);
}

static void test_vote_granted_at_most_once_per_term(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    cluster_campaign(&c, 1);
    cluster_campaign(&c, 2);
    struct rh_saved vote_from_1;
    assert_true(rh_save_queued(&c, 1, 3, CN_MSG_VOTE, &vote_from_1));
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 2, 3, CN_MSG_VOTE));
    assert_int_equal(cluster_count(&c, 3, 0, CN_MSG_VOTE_RESPONSE), 2);
    const struct cn_message *to1 = cluster_peek(&c, 3, 1, CN_MSG_VOTE_RESPONSE);
    const struct cn_message *to2 = cluster_peek(&c, 3, 2, CN_MSG_VOTE_RESPONSE);
    assert_false(to1->reject);
    assert_true(to2->reject);
    assert_int_equal(rh_status(&c, 3).vote, 1);
    assert_int_equal(cluster_node(&c, 3)->disk.hard_state.vote, 1);
    /* A duplicated request from the same candidate is granted again (same vote). */
    rh_inject(&c, &vote_from_1.message);
    assert_int_equal(cluster_count(&c, 3, 1, CN_MSG_VOTE_RESPONSE), 2);
    assert_int_equal(rh_status(&c, 3).vote, 1);
    cluster_free(&c);
}

/* Figure 2: persist currentTerm and votedFor before responding. The grant is an
 * after-persist message and the update carries the vote. */
static void test_vote_grant_is_after_persist_with_hard_state(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    cluster_node(&c, 2)->manual_persist = true;
    cluster_campaign(&c, 1);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    struct cluster_node *n2 = cluster_node(&c, 2);
    assert_true(n2->holding);
    const struct cn_update *u = &n2->update;
    assert_true(u->hard_state_changed);
    assert_int_equal(u->hard_state.term, 1);
    assert_int_equal(u->hard_state.vote, 1);
    assert_int_equal(rh_update_count(u, false, CN_MSG_VOTE_RESPONSE, 0), 0);
    assert_int_equal(rh_update_count(u, true, CN_MSG_VOTE_RESPONSE, 1), 1);
    assert_false(rh_update_find(u, true, CN_MSG_VOTE_RESPONSE, 1)->reject);
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_VOTE_RESPONSE), 0);
    assert_int_equal(n2->disk.hard_state.vote, 0);
    assert_true(cluster_persist(&c, 2));
    assert_int_equal(n2->disk.hard_state.term, 1);
    assert_int_equal(n2->disk.hard_state.vote, 1);
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_VOTE_RESPONSE), 1);
    cluster_free(&c);
}

/* A candidate counts its own vote only once its update (term, vote) is durable. */
static void test_candidate_counts_own_vote_only_after_persist(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    cluster_campaign(&c, 1);
    assert_true(n1->holding);
    /* Vote requests leave only after the candidate's term and self-vote are durable: a
     * candidate could otherwise win on its peers' votes, crash, and win the same term again
     * with another log (chorus-sim seed 691). */
    assert_int_equal(rh_update_count(&n1->update, true, CN_MSG_VOTE, 0), 2);
    assert_int_equal(rh_update_count(&n1->update, false, CN_MSG_VOTE, 0), 0);
    assert_int_equal(n1->update.hard_state.vote, 1);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_VOTE), 0);
    assert_true(cluster_persist(&c, 1));
    assert_int_equal(n1->disk.hard_state.vote, 1);
    assert_int_equal(n1->disk.hard_state.term, 1);
    /* Own vote durable: one peer's grant makes 2 of 3. */
    assert_int_equal(rh_role(&c, 1), CN_ROLE_CANDIDATE);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_VOTE), 2);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_VOTE_RESPONSE));
    cluster_persist(&c, 1);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    cluster_free(&c);
}

/* Thesis §9.6: a pre-candidate asks for term+1 without taking it. */
static void test_pre_candidate_does_not_raise_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    cluster_campaign(&c, 1);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_PRE_CANDIDATE);
    assert_int_equal(rh_term(&c, 1), 0);
    assert_int_equal(rh_status(&c, 1).vote, 0);
    assert_true(n1->holding);
    assert_int_equal(n1->update.hard_state.term, 0);
    assert_int_equal(n1->update.hard_state.vote, 0);
    const struct cn_message *m = cluster_peek(&c, 1, 2, CN_MSG_PRE_VOTE);
    assert_non_null(m);
    assert_int_equal(m->term, 1);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_VOTE), 0);
    /* Voters do not move their term for a pre-vote either. */
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_PRE_VOTE));
    assert_int_equal(rh_term(&c, 2), 0);
    const struct cn_message *resp = cluster_peek(&c, 2, 1, CN_MSG_PRE_VOTE_RESPONSE);
    assert_non_null(resp);
    assert_false(resp->reject);
    n1->manual_persist = false;
    cluster_persist(&c, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 1), 1);
    cluster_free(&c);
}

/* Fills the stack below the caller with a pattern, so that whatever a callee leaves
 * uninitialized (struct padding) is not zero by luck. */
static void __attribute__((noinline)) dirty_stack(void)
{
    volatile uint8_t pattern[16384];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = 0xa5;
}

/* The update of a pre-candidate changes no persistent state, so it must not ask the driver
 * for a hard-state write (consensus.h rule 2: "the hard state if changed"). Also a follower's
 * updates that only carry heartbeat answers. */
static void test_update_reports_hard_state_unchanged(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    rh_step(&c, 1, &(struct cn_event){.type = CN_EVENT_CAMPAIGN});
    dirty_stack();
    cluster_process(&c, 1);
    assert_true(n1->holding);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_PRE_CANDIDATE);
    assert_int_equal(n1->update.hard_state.term, 0);
    assert_int_equal(n1->update.hard_state.vote, 0);
    assert_int_equal(n1->update.hard_state.commit, 0);
    uint32_t spurious = n1->update.hard_state_changed;
    n1->manual_persist = false;
    cluster_persist(&c, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    for (int i = 0; i < 5; i++) {
        cluster_tick(&c, 1, 1);
        assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_HEARTBEAT));
        rh_step(&c, 2, &(struct cn_event){.type = CN_EVENT_TICK});
        dirty_stack();
        cluster_process(&c, 2);
        assert_true(n2->holding);
        spurious += n2->update.hard_state_changed;
        cluster_persist(&c, 2);
        cluster_stabilize(&c);
    }
    cluster_free(&c);
    assert_int_equal(spurious, 0);
}

static void test_partitioned_node_does_not_raise_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    cn_node_id leader = cluster_elect(&c);
    uint64_t term = rh_term(&c, leader);
    cn_node_id lonely = leader == 3 ? 2 : 3;
    cluster_isolate(&c, lonely, true);
    for (uint32_t i = 0; i < 200; i++) {
        cluster_tick(&c, lonely, 1);
        cluster_deliver(&c, lonely, 0, 0); /* dropped: isolated */
    }
    assert_int_equal(rh_role(&c, lonely), CN_ROLE_PRE_CANDIDATE);
    assert_int_equal(rh_term(&c, lonely), term);
    /* It rejoins without disturbing the leader. */
    cluster_isolate(&c, lonely, false);
    cluster_drop(&c, 0, 0, 0);
    rh_tick_all(&c, 3);
    assert_int_equal(cluster_leader(&c), leader);
    assert_int_equal(rh_term(&c, leader), term);
    assert_int_equal(rh_role(&c, lonely), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_status(&c, lonely).leader, leader);
    cluster_free(&c);
}

/* Thesis §9.6/§4.2.3: a follower that heard from a leader within the election timeout
 * refuses pre-votes; once that timeout passed without a leader, it grants. */
static void test_pre_vote_refused_while_leader_recent(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    uint64_t term = rh_term(&c, 1);
    cluster_campaign(&c, 3);
    assert_int_equal(rh_role(&c, 3), CN_ROLE_PRE_CANDIDATE);
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_PRE_VOTE));
    assert_int_equal(cluster_count(&c, 2, 3, CN_MSG_PRE_VOTE_RESPONSE), 0);
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_PRE_VOTE));
    assert_int_equal(cluster_count(&c, 1, 3, CN_MSG_PRE_VOTE_RESPONSE), 0);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 3), term);
    /* Node 2 hears nothing for an election timeout: the lease is over. */
    cluster_tick(&c, 2, 10);
    cluster_drop(&c, 2, 0, 0);
    cluster_campaign(&c, 3);
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_PRE_VOTE));
    const struct cn_message *resp = cluster_peek(&c, 2, 3, CN_MSG_PRE_VOTE_RESPONSE);
    assert_non_null(resp);
    assert_false(resp->reject);
    assert_int_equal(resp->term, term + 1);
    assert_int_equal(rh_term(&c, 2), term);
    cluster_free(&c);
}

/* Thesis §6.2: a leader that heard from no quorum during an election timeout steps down. */
static void test_check_quorum_leader_steps_down(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    uint64_t term = rh_term(&c, 1);
    cluster_isolate(&c, 1, true);
    /* The first check (tick 10) counts the answers heard since the election. */
    for (uint32_t i = 0; i < 19; i++) {
        cluster_tick(&c, 1, 1);
        cluster_deliver(&c, 0, 0, 0);
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    cluster_tick(&c, 1, 1);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_FOLLOWER);
    assert_int_equal(rh_term(&c, 1), term);
    assert_int_equal(rh_status(&c, 1).leader, 0);
    cluster_free(&c);
}

static void test_check_quorum_leader_with_quorum_stays(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    cluster_isolate(&c, 3, true);
    for (uint32_t i = 0; i < 100; i++) {
        cluster_tick(&c, 1, 1);
        cluster_tick(&c, 2, 1);
        cluster_deliver(&c, 0, 0, 0);
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    cluster_free(&c);
}

/* Thesis §4.2.3: with check-quorum, followers that heard from the leader recently ignore a
 * vote request of a higher term: no term change, no answer. */
static void test_followers_ignore_disruptive_vote_request(void **state)
{
    (void)state;
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = false;
    struct cluster c;
    cluster_init_with(&c, &raft_ops, 3, &config);
    assert_true(rh_campaign_and_win(&c, 1));
    uint64_t term = rh_term(&c, 1);
    cluster_isolate(&c, 3, true);
    cluster_campaign(&c, 3);
    assert_int_equal(rh_term(&c, 3), term + 1);
    cluster_isolate(&c, 3, false);
    cluster_drop(&c, 1, 3, 0);
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_VOTE));
    assert_int_equal(rh_term(&c, 2), term);
    assert_int_equal(rh_term(&c, 1), term);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(cluster_count(&c, 0, 3, CN_MSG_VOTE_RESPONSE), 0);
    cluster_free(&c);
}

static void test_restart_keeps_term_and_vote_and_never_votes_twice(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    cluster_campaign(&c, 1);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    assert_int_equal(rh_status(&c, 2).vote, 1);
    cluster_crash(&c, 2);
    cluster_restart(&c, 2);
    struct cn_status s = rh_status(&c, 2);
    assert_int_equal(s.term, 1);
    assert_int_equal(s.vote, 1);
    assert_int_equal(s.role, CN_ROLE_FOLLOWER);
    /* Node 3 campaigns in the same term 1: the restarted 2 must refuse. */
    cluster_campaign(&c, 3);
    assert_int_equal(rh_term(&c, 3), 1);
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_VOTE));
    const struct cn_message *r = cluster_peek(&c, 2, 3, CN_MSG_VOTE_RESPONSE);
    assert_non_null(r);
    assert_true(r->reject);
    assert_int_equal(rh_status(&c, 2).vote, 1);
    cluster_free(&c);
}

/* A vote that was never persisted was never promised: the grant did not leave, and after
 * the crash the node may vote in that term. */
static void test_crash_before_persist_sends_no_grant(void **state)
{
    (void)state;
    struct cluster c;
    init_plain(&c, 3);
    cluster_node(&c, 2)->manual_persist = true;
    cluster_campaign(&c, 1);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    assert_true(cluster_node(&c, 2)->holding);
    cluster_crash(&c, 2);
    assert_int_equal(cluster_count(&c, 2, 0, CN_MSG_VOTE_RESPONSE), 0);
    cluster_node(&c, 2)->manual_persist = false;
    cluster_restart(&c, 2);
    assert_int_equal(rh_term(&c, 2), 0);
    assert_int_equal(rh_status(&c, 2).vote, 0);
    cluster_free(&c);
}

static void test_restarted_leader_is_follower_with_its_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    uint64_t term = rh_term(&c, 1);
    assert_int_equal(cluster_propose(&c, 1, "x", NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_crash(&c, 1);
    cluster_restart(&c, 1);
    struct cn_status s = rh_status(&c, 1);
    assert_int_equal(s.role, CN_ROLE_FOLLOWER);
    assert_int_equal(s.term, term);
    assert_int_equal(s.vote, 1);
    assert_int_equal(s.last_index, 2);
    cluster_free(&c);
}

/* Election Safety (§5.2) and State Machine Safety (§5.4.3) under deterministic random
 * partitions: per seed, 5 nodes, a new partition every 15 rounds, proposals on whoever leads.
 * At most one leader per term ever; no two nodes apply different terms at one index. */
static void test_one_leader_per_term_under_random_partitions(void **state)
{
    (void)state;
    enum { TERMS_MAX = 1024, ROUNDS = 240 };
    for (uint64_t seed = 1; seed <= 12; seed++) {
        struct cn_config config;
        rh_config(&config);
        config.random_seed = seed;
        config.pre_vote = seed % 2 == 0;
        config.check_quorum = seed % 3 != 0;
        struct cluster c;
        cluster_init_with(&c, &raft_ops, 5, &config);
        cn_node_id leader_of[TERMS_MAX] = {0};
        uint64_t rng = seed * 0x9e3779b97f4a7c15ull;
        uint32_t leaders_seen = 0;
        for (uint32_t round = 0; round < ROUNDS; round++) {
            if (round % 15 == 0) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                for (cn_node_id id = 1; id <= 5; id++)
                    cluster_isolate(&c, id, ((rng >> (20 + id)) & 3) == 0);
            }
            rh_tick_all(&c, 1);
            for (cn_node_id id = 1; id <= 5; id++) {
                struct cn_status s = rh_status(&c, id);
                if (s.role != CN_ROLE_LEADER)
                    continue;
                assert_true(s.term < TERMS_MAX);
                if (leader_of[s.term] == 0) {
                    leader_of[s.term] = id;
                    leaders_seen++;
                }
                assert_int_equal(leader_of[s.term], id);
                if (round % 3 == 0 && !cluster_node(&c, id)->isolated)
                    cluster_propose(&c, id, "r", NULL);
            }
        }
        assert_true(leaders_seen >= 2); /* the partitions did force new elections */
        uint64_t applied_max = 0;
        for (cn_node_id id = 1; id <= 5; id++)
            if (cluster_node(&c, id)->applied_last > applied_max)
                applied_max = cluster_node(&c, id)->applied_last;
        assert_true(applied_max >= 20); /* and the cluster made progress */
        for (uint64_t i = 1; i < CLUSTER_APPLIED_MAX; i++) {
            uint64_t term = 0;
            for (cn_node_id id = 1; id <= 5; id++) {
                uint64_t t = cluster_node(&c, id)->applied[i];
                if (t == 0)
                    continue;
                if (term == 0)
                    term = t;
                assert_int_equal(t, term);
            }
        }
        cluster_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election_timeout_randomized_in_range),
        cmocka_unit_test(test_follower_does_not_campaign_while_hearing_from_leader),
        cmocka_unit_test(test_one_leader_per_term_with_competing_candidates),
        cmocka_unit_test(test_split_vote_elects_nobody_then_a_later_term_does),
        cmocka_unit_test(test_one_leader_per_term_under_random_partitions),
        cmocka_unit_test(test_stale_log_candidate_cannot_win),
        cmocka_unit_test(test_up_to_date_compares_last_term_before_length),
        cmocka_unit_test(test_vote_granted_at_most_once_per_term),
        cmocka_unit_test(test_vote_grant_is_after_persist_with_hard_state),
        cmocka_unit_test(test_candidate_counts_own_vote_only_after_persist),
        cmocka_unit_test(test_pre_candidate_does_not_raise_term),
        cmocka_unit_test(test_update_reports_hard_state_unchanged),
        cmocka_unit_test(test_partitioned_node_does_not_raise_term),
        cmocka_unit_test(test_pre_vote_refused_while_leader_recent),
        cmocka_unit_test(test_check_quorum_leader_steps_down),
        cmocka_unit_test(test_check_quorum_leader_with_quorum_stays),
        cmocka_unit_test(test_followers_ignore_disruptive_vote_request),
        cmocka_unit_test(test_restart_keeps_term_and_vote_and_never_votes_twice),
        cmocka_unit_test(test_crash_before_persist_sends_no_grant),
        cmocka_unit_test(test_restarted_leader_is_follower_with_its_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
