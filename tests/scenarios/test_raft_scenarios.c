/*
 * test_raft_scenarios.c — known Raft implementation bugs, each set up exactly and checked
 * for the correct behaviour:
 *  - Figure 8 of the Raft paper (committing an earlier term's entry by counting replicas);
 *  - a vote granted before it is durable;
 *  - a stale or duplicated AppendEntries truncating a follower's log;
 *  - a follower's commit index not capped at the last new entry (Figure 2);
 *  - pre-vote with check-quorum and a node that rejoins with a higher term (etcd #8243,
 *    etcd #8334);
 *  - a new leader answering ReadIndex before committing in its term (etcd #7331).
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

/* Pre-vote and check-quorum off: the scenario drives every election by hand. */
static void init_manual(struct cluster *c, uint32_t count, uint32_t entries_max)
{
    struct cn_config config;
    rh_config(&config);
    config.pre_vote = false;
    config.check_quorum = false;
    config.message_entries_max = entries_max;
    cluster_init_with(c, &raft_ops, count, &config);
}

/* Figure 8 (c): S1 leads term 4 and has brought its term-2 entry at index 2 to S2 and S3,
 * a majority of 5; S5 holds a term-3 entry at index 2. One entry per append, so that S3
 * receives index 2 before the leader's own term-4 no-op at index 3. */
static void figure8_setup(struct cluster *c)
{
    init_manual(c, 5, 1);
    const uint64_t s1[] = {1, 2};
    const uint64_t s3[] = {1};
    const uint64_t s5[] = {1, 3};
    rh_set_disk(c, 1, 3, 0, 1, s1, 2);
    rh_set_disk(c, 2, 3, 0, 1, s1, 2);
    rh_set_disk(c, 3, 3, 5, 1, s3, 1);
    rh_set_disk(c, 4, 3, 5, 1, s3, 1);
    rh_set_disk(c, 5, 3, 5, 1, s5, 2);
    cluster_isolate(c, 4, true);
    cluster_isolate(c, 5, true);
    cluster_campaign(c, 1);
    cluster_deliver(c, 0, 0, CN_MSG_VOTE);
    cluster_deliver(c, 0, 0, CN_MSG_VOTE_RESPONSE);
    assert_int_equal(rh_role(c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(c, 1), 4);
    assert_int_equal(rh_entry_term(c, 1, 3), 4); /* the no-op */
    cluster_drop(c, 0, 4, 0);
    cluster_drop(c, 0, 5, 0);
    /* S2 takes the no-op (it already holds index 2). */
    assert_true(cluster_deliver_one(c, 1, 2, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(c, 2, 1, CN_MSG_APPEND_RESPONSE));
    /* S3 rejects the no-op (no index 2), then takes index 2 alone. */
    assert_true(cluster_deliver_one(c, 1, 3, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(c, 3, 1, CN_MSG_APPEND_RESPONSE));
    const struct cn_message *m = cluster_peek(c, 1, 3, CN_MSG_APPEND);
    assert_non_null(m);
    assert_int_equal(m->index, 1);
    assert_int_equal(m->entry_count, 1);
    assert_int_equal(m->entries[0].term, 2);
    assert_true(cluster_deliver_one(c, 1, 3, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(c, 3, 1, CN_MSG_APPEND_RESPONSE));
    /* The append of the no-op to S3 is queued now; it is not delivered. */
    assert_int_equal(cluster_count(c, 1, 3, CN_MSG_APPEND), 1);
}

static void scenario_figure8_previous_term_entry_not_committed_by_counting(void **state)
{
    (void)state;
    struct cluster c;
    figure8_setup(&c);
    /* Index 2 (term 2) is on S1, S2 and S3: a majority. It must not commit. */
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(rh_entry_term(&c, id, 2), 2);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(rh_commit(&c, id), 1);
        assert_int_equal(cluster_node(&c, id)->applied[2], 0);
    }
    /* Figure 8 (d): why. S1 crashes; S5 (last term 3) is elected with S3 and S4 and
     * overwrites index 2 everywhere. Had S1 committed it, a committed entry would be lost. */
    cluster_crash(&c, 1);
    cluster_drop(&c, 1, 0, 0);
    cluster_isolate(&c, 4, false);
    cluster_isolate(&c, 5, false);
    cluster_campaign(&c, 5); /* term 4: S2 and S3 already voted for S1 */
    cluster_stabilize(&c);
    assert_int_equal(rh_role(&c, 5), CN_ROLE_CANDIDATE);
    cluster_campaign(&c, 5); /* term 5: S3 and S4 grant, S2 refuses (its last term is 4) */
    cluster_stabilize(&c);
    assert_int_equal(rh_role(&c, 5), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 5), 5);
    cluster_tick(&c, 5, 1);
    cluster_stabilize(&c);
    for (cn_node_id id = 2; id <= 5; id++) {
        assert_int_equal(rh_entry_term(&c, id, 2), 3);
        assert_int_equal(rh_entry_term(&c, id, 3), 5);
        assert_int_equal(rh_commit(&c, id), 3);
        assert_int_equal(cluster_node(&c, id)->applied[2], 3);
    }
    /* S1 comes back and follows: its uncommitted term-2 entry is replaced. */
    cluster_restart(&c, 1);
    cluster_tick(&c, 5, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_entry_term(&c, 1, 2), 3);
    assert_int_equal(cluster_node(&c, 1)->applied[2], 3);
    cluster_free(&c);
}

/* Figure 8 (e): once S1 replicates an entry of its own term to a majority, everything up to
 * it commits, and S5 can no longer be elected. */
static void scenario_figure8_commits_with_current_term_entry(void **state)
{
    (void)state;
    struct cluster c;
    figure8_setup(&c);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(&c, 3, 1, CN_MSG_APPEND_RESPONSE));
    assert_int_equal(rh_commit(&c, 1), 3);
    cluster_process(&c, 1);
    assert_int_equal(cluster_node(&c, 1)->applied[2], 2);
    assert_int_equal(cluster_node(&c, 1)->applied[3], 4);
    cluster_crash(&c, 1);
    cluster_drop(&c, 1, 0, 0);
    cluster_isolate(&c, 4, false);
    cluster_isolate(&c, 5, false);
    for (int i = 0; i < 3; i++) {
        cluster_campaign(&c, 5);
        cluster_stabilize(&c);
        assert_int_not_equal(rh_role(&c, 5), CN_ROLE_LEADER);
    }
    cluster_free(&c);
}

/* Figure 2: a voter persists currentTerm and votedFor before it answers. A grant that never
 * became durable never leaves, and a crash erases it together with the vote. */
static void scenario_vote_not_sent_before_persisted(void **state)
{
    (void)state;
    struct cluster c;
    init_manual(&c, 3, 256);
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    cluster_isolate(&c, 3, true);
    cluster_campaign(&c, 1);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    assert_true(n2->holding);
    assert_int_equal(rh_status(&c, 2).vote, 1);
    assert_int_equal(rh_update_count(&n2->update, false, CN_MSG_VOTE_RESPONSE, 0), 0);
    assert_int_equal(rh_update_count(&n2->update, true, CN_MSG_VOTE_RESPONSE, 1), 1);
    assert_true(n2->update.hard_state_changed);
    assert_int_equal(n2->update.hard_state.term, 1);
    assert_int_equal(n2->update.hard_state.vote, 1);
    cluster_deliver(&c, 0, 0, 0);
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_VOTE_RESPONSE), 0);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_CANDIDATE);
    /* Crash before the fsync: the grant is gone with the vote; node 1 never hears it. */
    cluster_crash(&c, 2);
    n2->manual_persist = false;
    cluster_restart(&c, 2);
    assert_int_equal(rh_term(&c, 2), 0);
    assert_int_equal(rh_status(&c, 2).vote, 0);
    assert_int_equal(cluster_count(&c, 2, 0, CN_MSG_VOTE_RESPONSE), 0);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_CANDIDATE);
    /* Next term, the grant leaves exactly when the persist completes. */
    n2->manual_persist = true;
    cluster_campaign(&c, 1);
    assert_int_equal(rh_term(&c, 1), 2);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_VOTE));
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_VOTE_RESPONSE), 0);
    assert_int_equal(n2->disk.hard_state.vote, 0);
    assert_true(cluster_persist(&c, 2));
    assert_int_equal(n2->disk.hard_state.term, 2);
    assert_int_equal(n2->disk.hard_state.vote, 1);
    const struct cn_message *grant = cluster_peek(&c, 2, 1, CN_MSG_VOTE_RESPONSE);
    assert_non_null(grant);
    assert_false(grant->reject);
    assert_int_equal(grant->term, 2);
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_VOTE_RESPONSE));
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    cluster_free(&c);
}

/* §5.3: "If an existing entry conflicts with a new one ... delete the existing entry and all
 * that follow it" — only on a conflict. A delayed duplicate of an older append whose entries
 * the follower holds must not cut the entries after them; committed entries never go. */
static void scenario_stale_append_does_not_truncate(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(rh_propose_raw(&c, 1, "a"), CN_OK);
    assert_int_equal(rh_propose_raw(&c, 1, "b"), CN_OK);
    cluster_process(&c, 1);
    struct rh_saved old;
    assert_true(rh_save_queued(&c, 1, 2, CN_MSG_APPEND, &old));
    assert_int_equal(old.message.index, 1);
    assert_int_equal(old.message.entry_count, 2); /* entries 2..3 */
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_int_equal(cluster_propose(&c, 1, "c", NULL), CN_OK);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_int_equal(cluster_propose(&c, 1, "d", NULL), CN_OK);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_int_equal(rh_last(&c, 2), 5);
    assert_int_equal(rh_commit(&c, 2), 1);
    /* The stale append arrives again: nothing is rewritten, 4..5 stay. */
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    rh_inject(&c, &old.message);
    assert_true(n2->holding);
    assert_int_equal(n2->update.entry_count, 0);
    assert_int_equal(rh_last(&c, 2), 5);
    for (uint64_t i = 2; i <= 5; i++)
        assert_int_equal(rh_entry_term(&c, 2, i), 1);
    n2->manual_persist = false;
    cluster_persist(&c, 2);
    assert_int_equal(n2->disk.entry_count, 5);
    /* Everything commits; the stale append arrives once more, below the commit index. */
    cluster_stabilize(&c);
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 2), 5);
    rh_inject(&c, &old.message);
    assert_int_equal(rh_last(&c, 2), 5);
    assert_int_equal(rh_commit(&c, 2), 5);
    const struct cn_message *r = cluster_peek(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_false(r->reject);
    assert_int_equal(r->index, 5);
    cluster_stabilize(&c);
    assert_int_equal(n2->applied_last, 5);
    assert_int_equal(n2->disk.entry_count, 5);
    cluster_free(&c);
}

/* Figure 2, AppendEntries receiver, rule 5: commitIndex = min(leaderCommit, index of last
 * new entry). Node 2 holds a longer divergent tail (term 2, 3..5) that the leader's log does
 * not have; an append that matches only up to index 2, with leaderCommit 6, must not commit
 * that tail (min(leaderCommit, own last index) would apply three wrong entries). */
static void scenario_commit_index_capped_at_last_new_entry(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t good[] = {1, 1, 3, 3, 3};
    const uint64_t divergent[] = {1, 1, 2, 2, 2};
    rh_set_disk(&c, 1, 3, 0, 5, good, 5);
    rh_set_disk(&c, 2, 3, 0, 2, divergent, 5);
    rh_set_disk(&c, 3, 3, 0, 5, good, 5);
    cluster_isolate(&c, 2, true);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(rh_term(&c, 1), 4);
    assert_int_equal(rh_commit(&c, 1), 6);
    struct cluster_node *n2 = cluster_node(&c, 2);
    assert_int_equal(n2->applied_last, 2); /* its persisted commit hint, 1..2 */
    /* An empty append matching at index 2 (a legal prefix of the leader's log). */
    struct cn_message empty = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .term = 4,
                               .index = 2, .log_term = 1, .commit = 6};
    rh_inject(&c, &empty);
    assert_int_equal(rh_term(&c, 2), 4);
    assert_int_equal(rh_commit(&c, 2), 2);
    assert_int_equal(n2->applied_last, 2);
    assert_int_equal(n2->applied[3], 0);
    const struct cn_message *r = cluster_peek(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_false(r->reject);
    assert_int_equal(r->index, 2);
    /* The same with one entry it already holds (index 2, term 1). */
    struct cn_entry e = {.index = 2, .term = 1, .type = CN_ENTRY_NORMAL};
    struct cn_message one = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .term = 4, .index = 1,
                             .log_term = 1, .commit = 6, .entry_count = 1, .entries = &e};
    rh_inject(&c, &one);
    assert_int_equal(rh_commit(&c, 2), 2);
    assert_int_equal(rh_last(&c, 2), 5); /* the tail stays until a conflict shows */
    assert_int_equal(n2->applied[3], 0);
    /* Rejoined, node 2 replaces the tail and applies the leader's entries. */
    cluster_drop(&c, 0, 0, 0);
    cluster_isolate(&c, 2, false);
    rh_tick_all(&c, 3);
    assert_int_equal(rh_last(&c, 2), 6);
    assert_int_equal(rh_commit(&c, 2), 6);
    const uint64_t expected[] = {0, 1, 1, 3, 3, 3, 4};
    for (uint64_t i = 1; i <= 6; i++)
        assert_int_equal(n2->applied[i], expected[i]);
    cluster_free(&c);
}

/* Restarts node `id` with pre-vote set as given (the fixture builds a node's configuration
 * from the cluster's template when it starts). */
static void restart_with_pre_vote(struct cluster *c, cn_node_id id, bool pre_vote)
{
    bool saved = c->config.pre_vote;
    c->config.pre_vote = pre_vote;
    cluster_crash(c, id);
    cluster_restart(c, id);
    c->config.pre_vote = saved;
}

/* etcd #8243: pre-vote + check-quorum. Node 3, cut off and running without pre-vote, drove
 * its term up; it rejoins (with pre-vote again) holding a shorter log. Its pre-votes are
 * refused (lease) and it cannot win on its log, so only the leader learning its term (the
 * lower-term append gets an answer) unblocks it. Within a bounded number of ticks a leader
 * must lead a term >= node 3's, and node 3 must apply new entries. */
static void scenario_prevote_checkquorum_rejoin_with_higher_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_propose(&c, 1, "a", NULL), CN_OK);
    cluster_stabilize(&c);
    uint64_t term = rh_term(&c, 1);
    cluster_isolate(&c, 3, true);
    restart_with_pre_vote(&c, 3, false);
    for (int i = 0; i < 5; i++) {
        cluster_campaign(&c, 3);
        cluster_deliver(&c, 3, 0, 0);
    }
    uint64_t high = rh_term(&c, 3);
    assert_int_equal(high, term + 5);
    assert_int_equal(cluster_propose(&c, 1, "b", NULL), CN_OK); /* 3's log is now shorter */
    rh_tick_all(&c, 1);
    restart_with_pre_vote(&c, 3, true);
    assert_int_equal(rh_term(&c, 3), high);
    cluster_drop(&c, 0, 0, 0);
    cluster_isolate(&c, 3, false);
    rh_tick_all(&c, 60);
    cn_node_id leader = cluster_leader(&c);
    assert_int_not_equal(leader, 0);
    assert_int_not_equal(leader, 3); /* its log is behind */
    assert_true(rh_term(&c, leader) > high);
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(rh_term(&c, id), rh_term(&c, leader));
    assert_int_equal(cluster_propose(&c, leader, "c", NULL), CN_OK);
    rh_tick_all(&c, 3);
    uint64_t last = rh_last(&c, leader);
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(cluster_node(&c, id)->applied_last, last);
    cluster_free(&c);
}

/* etcd #8334: the node with the stale (lower) term holds the longer log. Node 3 is down;
 * node 2 has term 7 and a short log, node 1 term 2 and the longer, committed log. Node 2
 * cannot win (node 1 refuses it on the log); node 1 can win only after it learns term 7,
 * which requires node 2 to answer node 1's lower-term pre-vote with an explicit rejection. */
static void scenario_prevote_checkquorum_rejoin_stale_term_longer_log(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t longer[] = {1, 1, 2, 2};
    const uint64_t shorter[] = {1, 1};
    rh_set_disk(&c, 1, 2, 1, 4, longer, 4);
    rh_set_disk(&c, 2, 7, 2, 2, shorter, 2);
    rh_set_disk(&c, 3, 2, 1, 4, longer, 4);
    cluster_crash(&c, 3);
    uint32_t rounds = rh_rounds_until_leader(&c, 100);
    assert_int_not_equal(rounds, UINT32_MAX);
    assert_int_equal(cluster_leader(&c), 1);
    assert_true(rh_term(&c, 1) > 7);
    assert_int_equal(cluster_propose(&c, 1, "x", NULL), CN_OK);
    rh_tick_all(&c, 3);
    uint64_t last = rh_last(&c, 1);
    assert_int_equal(last, 6); /* 4 entries, the no-op, x */
    assert_int_equal(rh_commit(&c, 1), 6);
    assert_int_equal(cluster_node(&c, 2)->applied_last, 6);
    cluster_free(&c);
}

/* etcd #7331 (thesis §6.4): a new leader's commit index may lag what its predecessor
 * committed. It must not answer a ReadIndex before its no-op of the new term commits. */
static void scenario_read_index_waits_for_commit_in_term(void **state)
{
    (void)state;
    struct cluster c;
    init_manual(&c, 3, 256);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_propose(&c, 1, "w", NULL), CN_OK);
    cluster_deliver(&c, 1, 0, CN_MSG_APPEND);
    cluster_deliver(&c, 0, 1, CN_MSG_APPEND_RESPONSE);
    assert_int_equal(rh_commit(&c, 1), 2); /* the write is committed (and acknowledged) */
    cluster_drop(&c, 1, 0, 0);             /* ...but nobody else learns it */
    assert_int_equal(rh_commit(&c, 2), 1);
    cluster_crash(&c, 1);
    cluster_campaign(&c, 2);
    assert_true(cluster_deliver_one(&c, 2, 3, CN_MSG_VOTE));
    assert_true(cluster_deliver_one(&c, 3, 2, CN_MSG_VOTE_RESPONSE));
    assert_int_equal(rh_role(&c, 2), CN_ROLE_LEADER);
    assert_int_equal(rh_commit(&c, 2), 1);
    assert_int_equal(cluster_read(&c, 2, 77), CN_OK);
    struct cluster_node *n2 = cluster_node(&c, 2);
    /* Heartbeats come and go (no new read round); no answer yet. */
    for (int i = 0; i < 3; i++) {
        cluster_tick(&c, 2, 1);
        cluster_deliver(&c, 0, 0, CN_MSG_HEARTBEAT);
        cluster_deliver(&c, 0, 0, CN_MSG_HEARTBEAT_RESPONSE);
        assert_int_equal(n2->read_count, 0);
    }
    assert_int_equal(rh_commit(&c, 2), 1);
    /* The no-op (index 3) commits; the read is answered at 3, which covers the write. */
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 2), 3);
    assert_int_equal(n2->read_count, 1);
    assert_int_equal(n2->reads[0].request_id, 77);
    assert_int_equal(n2->reads[0].index, 3);
    assert_false(n2->reads[0].failed);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_figure8_previous_term_entry_not_committed_by_counting),
        cmocka_unit_test(scenario_figure8_commits_with_current_term_entry),
        cmocka_unit_test(scenario_vote_not_sent_before_persisted),
        cmocka_unit_test(scenario_stale_append_does_not_truncate),
        cmocka_unit_test(scenario_commit_index_capped_at_last_new_entry),
        cmocka_unit_test(scenario_prevote_checkquorum_rejoin_with_higher_term),
        cmocka_unit_test(scenario_prevote_checkquorum_rejoin_stale_term_longer_log),
        cmocka_unit_test(scenario_read_index_waits_for_commit_in_term),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
