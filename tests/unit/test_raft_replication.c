/*
 * test_raft_replication.c — log replication (§5.3), fast backtracking, commitment (§5.4.2),
 * the leader's parallel disk write (thesis §10.2.1), pipelining and batching.
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

/* Delivers everything; returns how many appends from 1 to `to` were delivered and how many
 * of `to`'s responses were rejections, until `to` holds `last` with term `term`. */
static void deliver_until_caught_up(struct cluster *c, cn_node_id to, uint64_t last,
                                    uint64_t term, uint32_t *appends, uint32_t *rejects)
{
    *appends = 0;
    *rejects = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        if (rh_last(c, to) == last && rh_entry_term(c, to, last) == term)
            return;
        const struct cn_message *m = cluster_peek(c, 0, 0, 0);
        assert_non_null(m);
        *appends += m->type == CN_MSG_APPEND && m->from == 1 && m->to == to;
        *rejects += m->type == CN_MSG_APPEND_RESPONSE && m->from == to && m->reject;
        cluster_deliver_one(c, m->from, m->to, m->type);
    }
    fail_msg("node %u did not catch up", to);
}

/* §5.3 (end): the rejection hint lets the leader skip a whole divergent term at once. */
static void test_fast_backtracking_skips_divergent_term(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t leader_log[] = {1, 1, 1, 4, 4, 4, 4};
    const uint64_t divergent[] = {1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    const uint64_t behind[] = {1, 1, 1};
    rh_set_disk(&c, 1, 5, 0, 3, leader_log, 7);
    rh_set_disk(&c, 2, 5, 0, 3, divergent, 12);
    rh_set_disk(&c, 3, 5, 0, 3, behind, 3);
    cluster_campaign(&c, 1);
    /* Elect 1 (term 6) without delivering any append yet. */
    cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE);
    cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE_RESPONSE);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE_RESPONSE);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_int_equal(rh_term(&c, 1), 6);
    assert_int_equal(rh_last(&c, 1), 8); /* the no-op */
    /* Node 2's first answer names term 2 and its first index 4. */
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    const struct cn_message *r = cluster_peek(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_true(r->reject);
    assert_int_equal(r->index, 7);
    assert_int_equal(r->hint_term, 2);
    assert_int_equal(r->hint_index, 4);
    uint32_t appends, rejects;
    deliver_until_caught_up(&c, 2, 8, 6, &appends, &rejects);
    /* One more append after the first: the whole run of term-2 entries 4..7 skipped
     * (one-by-one backtracking would need 4 more rejected probes). */
    assert_int_equal(appends, 1);
    assert_int_equal(rejects, 1);
    cluster_stabilize(&c);
    /* Node 3's log is shorter: its hint is its last index + 1, one round trip too. */
    assert_int_equal(rh_last(&c, 3), 8);
    const uint64_t expected[] = {1, 1, 1, 4, 4, 4, 4, 6};
    for (cn_node_id id = 1; id <= 3; id++)
        for (uint64_t i = 1; i <= 8; i++)
            assert_int_equal(rh_entry_term(&c, id, i), expected[i - 1]);
    assert_int_equal(rh_last(&c, 2), 8); /* the divergent 9..12 are gone */
    assert_int_equal(rh_commit(&c, 1), 8);
    cluster_free(&c);
}

static void test_short_follower_hint_is_last_index_plus_one(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t leader_log[] = {1, 1, 1, 1, 1, 1};
    const uint64_t behind[] = {1, 1};
    rh_set_disk(&c, 1, 1, 0, 2, leader_log, 6);
    rh_set_disk(&c, 2, 1, 0, 2, leader_log, 6);
    rh_set_disk(&c, 3, 1, 0, 2, behind, 2);
    cluster_isolate(&c, 2, true);
    cluster_campaign(&c, 1);
    cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE);
    cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE_RESPONSE);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE);
    cluster_deliver(&c, 0, 0, CN_MSG_VOTE_RESPONSE);
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_APPEND));
    const struct cn_message *r = cluster_peek(&c, 3, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_true(r->reject);
    assert_int_equal(r->hint_term, 0);
    assert_int_equal(r->hint_index, 3);
    uint32_t appends, rejects;
    deliver_until_caught_up(&c, 3, 7, 2, &appends, &rejects);
    assert_int_equal(appends, 1);
    assert_int_equal(rejects, 1);
    cluster_free(&c);
}

/* §5.3: the follower deletes the conflicting entry and all that follow, nothing before. */
static void test_follower_truncates_only_from_first_conflict(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t leader_log[] = {1, 1, 1, 3};
    const uint64_t divergent[] = {1, 1, 1, 2, 2};
    rh_set_disk(&c, 1, 3, 0, 1, leader_log, 4);
    rh_set_disk(&c, 2, 3, 0, 1, divergent, 5);
    rh_set_disk(&c, 3, 3, 0, 1, leader_log, 4);
    cluster_isolate(&c, 2, true);
    assert_true(rh_campaign_and_win(&c, 1));
    cluster_isolate(&c, 2, false);
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    /* A heartbeat makes the leader probe node 2 again. */
    cluster_tick(&c, 1, 1);
    for (uint32_t i = 0; i < 20 && !(n2->holding && n2->update.entry_count > 0); i++) {
        if (n2->holding)
            cluster_persist(&c, 2);
        const struct cn_message *m = cluster_peek(&c, 0, 0, 0);
        assert_non_null(m);
        cluster_deliver_one(&c, m->from, m->to, m->type);
    }
    assert_true(n2->holding);
    /* The update rewrites from index 4 on: 4 (term 3) and the no-op 5 (term 4). */
    assert_int_equal(n2->update.entry_count, 2);
    assert_int_equal(n2->update.entries[0].index, 4);
    assert_int_equal(n2->update.entries[0].term, 3);
    assert_int_equal(n2->update.entries[1].index, 5);
    assert_int_equal(n2->update.entries[1].term, 4);
    n2->manual_persist = false;
    cluster_persist(&c, 2);
    cluster_stabilize(&c);
    assert_int_equal(n2->disk.entry_count, 5);
    const uint64_t expected[] = {1, 1, 1, 3, 4};
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(n2->disk.entries[i].term, expected[i]);
    cluster_free(&c);
}

/* An append that only repeats what the follower holds changes nothing to persist. */
static void test_repeated_append_persists_nothing(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_propose(&c, 1, "a", NULL), CN_OK);
    struct rh_saved saved;
    assert_true(rh_save_queued(&c, 1, 2, CN_MSG_APPEND, &saved));
    assert_int_equal(saved.message.entry_count, 1);
    cluster_stabilize(&c);
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    rh_inject(&c, &saved.message);
    assert_true(n2->holding);
    assert_int_equal(n2->update.entry_count, 0);
    assert_int_equal(rh_update_count(&n2->update, true, CN_MSG_APPEND_RESPONSE, 1), 1);
    assert_false(rh_update_find(&n2->update, true, CN_MSG_APPEND_RESPONSE, 1)->reject);
    assert_int_equal(rh_last(&c, 2), 2);
    cluster_free(&c);
}

/* §5.4.2: a new leader's first entry is a no-op of its term; entries of earlier terms
 * commit only with it, never by counting their own replicas. */
static void test_noop_commits_previous_term_entries(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t log[] = {1, 1};
    for (cn_node_id id = 1; id <= 3; id++)
        rh_set_disk(&c, id, 1, 0, 0, log, 2);
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    cluster_campaign(&c, 1);
    for (uint32_t i = 0; i < 10 && rh_role(&c, 1) != CN_ROLE_LEADER; i++) {
        cluster_persist(&c, 1);
        cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE);
        cluster_deliver(&c, 0, 0, CN_MSG_PRE_VOTE_RESPONSE);
        cluster_deliver(&c, 0, 0, CN_MSG_VOTE);
        cluster_deliver(&c, 0, 0, CN_MSG_VOTE_RESPONSE);
    }
    assert_int_equal(rh_role(&c, 1), CN_ROLE_LEADER);
    /* The update taken when it won holds its no-op (unless an older one was still held). */
    for (uint32_t i = 0; i < 3 && !(n1->holding && n1->update.entry_count > 0); i++) {
        cluster_persist(&c, 1);
        cluster_process(&c, 1);
    }
    assert_true(n1->holding);
    assert_int_equal(n1->update.entry_count, 1);
    assert_int_equal(n1->update.entries[0].index, 3);
    assert_int_equal(n1->update.entries[0].term, 2);
    assert_int_equal(n1->update.entries[0].type, CN_ENTRY_NOOP);
    n1->manual_persist = false;
    cluster_persist(&c, 1);
    /* Node 2 reports holding 1..2 (term 1): a quorum holds index 2, yet it must not commit. */
    struct cn_message ack = {.type = CN_MSG_APPEND_RESPONSE, .from = 2, .to = 1,
                             .term = 2, .index = 2};
    rh_inject(&c, &ack);
    assert_int_equal(rh_commit(&c, 1), 0);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 1), 3);
    assert_int_equal(n1->applied_last, 3);
    assert_int_equal(n1->applied[1], 1);
    assert_int_equal(n1->applied[3], 2);
    cluster_free(&c);
}

/* Thesis §10.2.1: the leader's appends leave before its own write; it counts itself toward
 * a commit only once that write is acked. Only one follower acks here, so the leader's own
 * persistence decides the quorum. */
static void test_leader_counts_itself_only_after_persist(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    uint64_t index = 0;
    assert_int_equal(cluster_propose(&c, 1, "x", &index), CN_OK);
    assert_int_equal(index, 2);
    assert_true(n1->holding);
    assert_int_equal(n1->update.entry_count, 1);
    assert_int_equal(n1->update.entries[0].index, 2);
    assert_int_equal(rh_update_count(&n1->update, false, CN_MSG_APPEND, 0), 2);
    assert_int_equal(rh_update_count(&n1->update, true, 0, 0), 0);
    assert_int_equal(cluster_count(&c, 1, 0, CN_MSG_APPEND), 2);
    cluster_drop(&c, 1, 3, CN_MSG_APPEND);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_APPEND_RESPONSE));
    assert_int_equal(rh_status(&c, 1).persisted_index, 1);
    assert_int_equal(rh_commit(&c, 1), 1);
    assert_true(cluster_persist(&c, 1));
    assert_int_equal(rh_commit(&c, 1), 2);
    /* Applied only through the next update, after it is durable. */
    assert_int_equal(n1->applied_last, 1);
    cluster_process(&c, 1);
    assert_true(n1->holding);
    assert_int_equal(n1->update.committed_count, 1);
    assert_int_equal(n1->update.committed[0].index, 2);
    assert_true(cluster_persist(&c, 1));
    assert_int_equal(n1->applied_last, 2);
    cluster_free(&c);
}

/* The follower's acknowledgement is an after-persist message (§5.3). */
static void test_follower_ack_is_after_persist(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    assert_int_equal(cluster_propose(&c, 1, "x", NULL), CN_OK);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_true(n2->holding);
    assert_int_equal(n2->update.entry_count, 1);
    assert_int_equal(rh_update_count(&n2->update, false, CN_MSG_APPEND_RESPONSE, 0), 0);
    assert_int_equal(rh_update_count(&n2->update, true, CN_MSG_APPEND_RESPONSE, 1), 1);
    assert_int_equal(rh_update_find(&n2->update, true, CN_MSG_APPEND_RESPONSE, 1)->index, 2);
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_APPEND_RESPONSE), 0);
    assert_true(cluster_persist(&c, 2));
    assert_int_equal(cluster_count(&c, 2, 1, CN_MSG_APPEND_RESPONSE), 1);
    cluster_free(&c);
}

static void init_pipelined(struct cluster *c, uint32_t inflight, uint32_t entries)
{
    struct cn_config config;
    rh_config(&config);
    config.inflight_messages_max = inflight;
    config.message_entries_max = entries;
    cluster_init_with(c, &raft_ops, 3, &config);
    assert_true(rh_campaign_and_win(c, 1));
}

static void test_pipelining_bounded_by_inflight_window(void **state)
{
    (void)state;
    struct cluster c;
    init_pipelined(&c, 2, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cluster_propose(&c, 1, "p", NULL), CN_OK);
    assert_int_equal(cluster_count(&c, 1, 2, CN_MSG_APPEND), 2);
    assert_int_equal(cluster_count(&c, 1, 3, CN_MSG_APPEND), 2);
    const struct cn_message *first = cluster_peek(&c, 1, 2, CN_MSG_APPEND);
    assert_int_equal(first->entry_count, 1);
    assert_int_equal(first->entries[0].index, 2);
    /* One acknowledgement frees one slot: one more append. */
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_true(cluster_deliver_one(&c, 2, 1, CN_MSG_APPEND_RESPONSE));
    assert_int_equal(cluster_count(&c, 1, 2, CN_MSG_APPEND), 2);
    /* Step by step, never more than 2 appends in flight per follower. */
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t out2 = cluster_count(&c, 1, 2, CN_MSG_APPEND) +
                        cluster_count(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
        uint32_t out3 = cluster_count(&c, 1, 3, CN_MSG_APPEND) +
                        cluster_count(&c, 3, 1, CN_MSG_APPEND_RESPONSE);
        assert_true(out2 <= 2);
        assert_true(out3 <= 2);
        const struct cn_message *m = cluster_peek(&c, 0, 0, 0);
        if (m == NULL)
            break;
        cluster_deliver_one(&c, m->from, m->to, m->type);
    }
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(cluster_node(&c, id)->applied_last, 11);
    cluster_free(&c);
}

/* Proposals stepped before the next update share one append per follower and one write. */
static void test_batching_one_append_and_one_update(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    struct cluster_node *n1 = cluster_node(&c, 1);
    n1->manual_persist = true;
    for (int i = 0; i < 10; i++)
        assert_int_equal(rh_propose_raw(&c, 1, "b"), CN_OK);
    cluster_process(&c, 1);
    assert_true(n1->holding);
    assert_int_equal(n1->update.entry_count, 10);
    assert_int_equal(n1->update.entries[0].index, 2);
    assert_int_equal(n1->update.entries[9].index, 11);
    for (cn_node_id to = 2; to <= 3; to++) {
        assert_int_equal(rh_update_count(&n1->update, false, CN_MSG_APPEND, to), 1);
        const struct cn_message *m = rh_update_find(&n1->update, false, CN_MSG_APPEND, to);
        assert_int_equal(m->index, 1);
        assert_int_equal(m->entry_count, 10);
        assert_int_equal(m->entries[9].index, 11);
        assert_int_equal(m->entries[9].data_len, 1);
        assert_memory_equal(m->entries[9].data, "b", 1);
    }
    n1->manual_persist = false;
    cluster_persist(&c, 1);
    cluster_stabilize(&c);
    cluster_tick(&c, 1, 1);
    cluster_stabilize(&c);
    for (cn_node_id id = 1; id <= 3; id++)
        assert_int_equal(cluster_node(&c, id)->applied_last, 11);
    cluster_free(&c);
}

static void test_append_respects_message_entries_max(void **state)
{
    (void)state;
    struct cluster c;
    init_pipelined(&c, 8, 4);
    for (int i = 0; i < 10; i++)
        assert_int_equal(rh_propose_raw(&c, 1, "e"), CN_OK);
    cluster_process(&c, 1);
    assert_int_equal(cluster_count(&c, 1, 2, CN_MSG_APPEND), 3);
    const uint32_t sizes[] = {4, 4, 2};
    for (uint32_t i = 0; i < 3; i++) {
        const struct cn_message *m = cluster_peek(&c, 1, 2, CN_MSG_APPEND);
        assert_int_equal(m->entry_count, sizes[i]);
        assert_int_equal(m->index, 1 + 4 * i);
        cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND);
    }
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 1), 11);
    cluster_free(&c);
}

/* The follower's commit never passes what it holds from this leader; it applies in order. */
static void test_followers_learn_commit_and_apply(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 5);
    assert_true(rh_campaign_and_win(&c, 1));
    for (int i = 0; i < 5; i++)
        assert_int_equal(cluster_propose(&c, 1, "v", NULL), CN_OK);
    cluster_stabilize(&c);
    for (cn_node_id id = 1; id <= 5; id++) {
        assert_int_equal(rh_commit(&c, id), 6);
        assert_int_equal(cluster_node(&c, id)->applied_last, 6);
        for (uint64_t i = 2; i <= 6; i++)
            assert_int_equal(cluster_node(&c, id)->applied[i], 1);
    }
    cluster_free(&c);
}

/* A crashed follower restarts from its disk and catches up, even when the leader has no
 * new proposal to send: the appends it lost while down were in flight in REPLICATE state,
 * and the heartbeat answers (match 2 < last 6) must make the leader send again. */
static void test_restarted_follower_catches_up_without_new_proposals(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(cluster_propose(&c, 1, "a", NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_crash(&c, 3);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cluster_propose(&c, 1, "b", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(rh_commit(&c, 1), 6);
    cluster_restart(&c, 3);
    assert_int_equal(rh_last(&c, 3), 2);
    assert_int_equal(rh_term(&c, 3), 1);
    rh_tick_all(&c, 30); /* three election timeouts of heartbeats, no proposal */
    uint64_t last = rh_last(&c, 3), commit = rh_commit(&c, 3);
    uint64_t applied = cluster_node(&c, 3)->applied_last;
    cn_node_id leader = cluster_leader(&c);
    cluster_free(&c); /* before the checks, so that a failure leaks nothing */
    assert_int_equal(leader, 1);
    assert_int_equal(last, 6);
    assert_int_equal(commit, 6);
    assert_int_equal(applied, 6);
}

/* A rejected append (prev does not match) leaves the follower's log untouched. */
static void test_mismatched_append_rejected_log_unchanged(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    assert_true(rh_campaign_and_win(&c, 1));
    struct cn_entry e = {.index = 6, .term = 1, .type = CN_ENTRY_NORMAL};
    struct cn_message m = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .term = 1, .index = 5,
                           .log_term = 1, .commit = 1, .entry_count = 1, .entries = &e};
    rh_inject(&c, &m);
    assert_int_equal(rh_last(&c, 2), 1);
    const struct cn_message *r = cluster_peek(&c, 2, 1, CN_MSG_APPEND_RESPONSE);
    assert_non_null(r);
    assert_true(r->reject);
    assert_int_equal(r->hint_index, 2);
    cluster_free(&c);
}

/* Appends lost in REPLICATE state that fill the whole in-flight window: the follower must
 * still be repaired (heartbeat answers show match < last), or it never catches up even
 * while the rest of the cluster keeps committing. */
static void test_follower_recovers_after_lost_appends_fill_window(void **state)
{
    (void)state;
    struct cluster c;
    init_pipelined(&c, 2, 1);
    cluster_isolate(&c, 3, true);
    for (int i = 0; i < 4; i++)
        assert_int_equal(cluster_propose(&c, 1, "l", NULL), CN_OK);
    cluster_stabilize(&c); /* node 2 commits with the leader; appends to 3 are lost */
    assert_int_equal(rh_commit(&c, 1), 5);
    cluster_isolate(&c, 3, false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cluster_propose(&c, 1, "m", NULL), CN_OK);
        rh_tick_all(&c, 10);
    }
    uint64_t leader_commit = rh_commit(&c, 1);
    uint64_t last3 = rh_last(&c, 3);
    uint64_t applied3 = cluster_node(&c, 3)->applied_last;
    cluster_free(&c); /* before the checks, so that a failure leaks nothing */
    assert_int_equal(leader_commit, 8);
    assert_int_equal(last3, 8);
    assert_int_equal(applied3, 8);
}

/* consensus.h: an ack never claims that entries overwritten while the update was being
 * persisted are durable. Node 2 holds an update with entry 3 (term 2) when a term-4 leader's
 * append (its log [1, 2, 4]) replaces index 3; the ack of that update leaves persisted at 2. */
static void test_ack_does_not_claim_entries_truncated_meanwhile(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    const uint64_t log[] = {1};
    for (cn_node_id id = 1; id <= 3; id++)
        rh_set_disk(&c, id, 1, 0, 1, log, 1);
    cluster_isolate(&c, 3, true);
    assert_true(rh_campaign_and_win(&c, 1));
    assert_int_equal(rh_term(&c, 1), 2);
    assert_int_equal(rh_last(&c, 2), 2);
    assert_int_equal(rh_status(&c, 2).persisted_index, 2);
    struct cluster_node *n2 = cluster_node(&c, 2);
    n2->manual_persist = true;
    assert_int_equal(cluster_propose(&c, 1, "a", NULL), CN_OK);
    assert_true(cluster_deliver_one(&c, 1, 2, CN_MSG_APPEND));
    assert_true(n2->holding);
    assert_int_equal(n2->update.entry_count, 1);
    assert_int_equal(n2->update.entries[0].index, 3);
    assert_true(rh_commit(&c, 2) < 3);
    /* Before it is durable, a leader of term 4 replaces index 3. */
    struct cn_entry e = {.index = 3, .term = 4, .type = CN_ENTRY_NORMAL};
    struct cn_message m = {.type = CN_MSG_APPEND, .from = 3, .to = 2, .term = 4, .index = 2,
                           .log_term = 2, .commit = 2, .entry_count = 1, .entries = &e};
    rh_inject(&c, &m);
    assert_int_equal(rh_last(&c, 2), 3);
    assert_int_equal(rh_entry_term(&c, 2, 3), 4);
    assert_true(cluster_persist(&c, 2));
    assert_int_equal(rh_status(&c, 2).persisted_index, 2);
    cluster_process(&c, 2);
    assert_true(n2->holding);
    assert_int_equal(n2->update.entry_count, 1);
    assert_int_equal(n2->update.entries[0].index, 3);
    assert_int_equal(n2->update.entries[0].term, 4);
    assert_true(cluster_persist(&c, 2));
    assert_int_equal(rh_status(&c, 2).persisted_index, 3);
    assert_int_equal(n2->disk.entry_count, 3);
    assert_int_equal(n2->disk.entries[2].term, 4);
    const struct cn_message *ack = cluster_peek(&c, 2, 3, CN_MSG_APPEND_RESPONSE);
    assert_non_null(ack);
    assert_false(ack->reject);
    assert_int_equal(ack->index, 3);
    assert_int_equal(ack->term, 4);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_backtracking_skips_divergent_term),
        cmocka_unit_test(test_short_follower_hint_is_last_index_plus_one),
        cmocka_unit_test(test_follower_truncates_only_from_first_conflict),
        cmocka_unit_test(test_repeated_append_persists_nothing),
        cmocka_unit_test(test_noop_commits_previous_term_entries),
        cmocka_unit_test(test_leader_counts_itself_only_after_persist),
        cmocka_unit_test(test_follower_ack_is_after_persist),
        cmocka_unit_test(test_pipelining_bounded_by_inflight_window),
        cmocka_unit_test(test_batching_one_append_and_one_update),
        cmocka_unit_test(test_append_respects_message_entries_max),
        cmocka_unit_test(test_followers_learn_commit_and_apply),
        cmocka_unit_test(test_restarted_follower_catches_up_without_new_proposals),
        cmocka_unit_test(test_mismatched_append_rejected_log_unchanged),
        cmocka_unit_test(test_follower_recovers_after_lost_appends_fill_window),
        cmocka_unit_test(test_ack_does_not_claim_entries_truncated_meanwhile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
