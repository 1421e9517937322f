/*
 * test_paxos_scenarios.c — the classic Multi-Paxos implementation pitfalls, each set up
 * exactly and checked for the correct behaviour:
 *  - a new leader that ignores a value accepted in a lower ballot (it must re-propose it:
 *    the value may have been chosen; Lamport §2.2, P2c);
 *  - a new leader that re-proposes a lower-ballot value when a higher one was reported (it
 *    must pick the value of the highest ballot);
 *  - an acceptor answering before persisting (a crash then forgets an acceptance that a
 *    leader already counted);
 *  - dueling proposers (each preempts the other; both must back off until one completes);
 *  - a gap in the log blocking apply (a new leader must fill it with a no-op, §3);
 *  - a follower back in an idle group, which hears only leases (it must report the leader's
 *    ballot as its term, without promising it: docs/membership.md).
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

/* One value per ACCEPT, so that each slot's accept can be delivered or dropped on its own. */
static struct px *new_cluster(uint32_t count)
{
    struct cn_config config;
    px_config(&config);
    config.message_entries_max = 1;
    return px_new_with(count, &config);
}

/* Leader 1 gets "x" accepted by node 2 only, and the acknowledgement is lost: "x" is chosen
 * (nodes 1 and 2), yet only node 2 of the survivors knows the value. Node 1 crashes; node 3
 * takes over with promises from 2 and 3. It must re-propose "x" at slot 1, and put its own
 * client's value after it. */
static void scenario_new_leader_reproposes_accepted_value(void **state)
{
    (void)state;
    struct px *px = new_cluster(3);
    assert_true(px_campaign_and_win(px, 1));
    assert_int_equal(px_propose(px, 1, "x", NULL), CN_OK);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));
    cluster_drop(&px->c, 0, 0, 0);
    assert_memory_equal(px_disk_slot(px, 2, 1)->data, "x", 1);
    assert_null(px_disk_slot(px, 3, 1));
    px_crash(px, 1);

    px_campaign(px, 3);
    assert_true(px_deliver_one(px, 3, 2, CN_MSG_PREPARE));
    const struct cn_message *promise = cluster_peek(&px->c, 2, 3, CN_MSG_PROMISE);
    assert_non_null(promise);
    assert_int_equal(promise->entry_count, 1);
    assert_int_equal(promise->entries[0].index, 1);
    assert_int_equal(promise->entries[0].term, cn_ballot_make(1, 1));
    assert_true(px_deliver_one(px, 2, 3, CN_MSG_PROMISE));
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    /* Re-proposed in the new ballot, with the old value. */
    assert_int_equal(px_entry_ballot(px, 3, 1), cn_ballot_make(2, 3));
    uint64_t slot = 0;
    assert_int_equal(px_propose(px, 3, "y", &slot), CN_OK);
    assert_int_equal(slot, 2);
    px_stabilize(px);
    px_tick_all(px, 2);
    for (cn_node_id id = 2; id <= 3; id++) {
        assert_string_equal(px_applied(px, id, 1), "x");
        assert_string_equal(px_applied(px, id, 2), "y");
    }
    /* The old leader comes back and agrees. */
    px_restart(px, 1);
    px_tick_all(px, 3);
    assert_string_equal(px_applied(px, 1, 1), "x");
    assert_string_equal(px_applied(px, 1, 2), "y");
    px_free(px);
}

/* Five nodes. Slot 1 ends up with (b1, "x") on node 2 and (b2, "z") on node 4, neither chosen.
 * Node 5 prepares and hears both: it must take "z", the value of the highest ballot (the one
 * that may have been chosen if b2's accepts had reached a majority). */
static void scenario_new_leader_picks_highest_ballot_value(void **state)
{
    (void)state;
    struct px *px = new_cluster(5);
    assert_true(px_campaign_and_win(px, 1));
    uint64_t b1 = px_promised(px, 1);
    assert_int_equal(px_propose(px, 1, "x", NULL), CN_OK);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));
    cluster_drop(&px->c, 0, 0, 0);
    px_crash(px, 1);

    /* Node 3 leads b2 with promises from 3, 4, 5 (node 2 is cut off) and gets "z" to 4. */
    cluster_isolate(&px->c, 2, true);
    px_campaign(px, 3);
    px_deliver(px, 0, 0, CN_MSG_PREPARE);
    px_deliver(px, 0, 0, CN_MSG_PROMISE);
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    uint64_t b2 = px_promised(px, 3);
    assert_true(b2 > b1);
    cluster_drop(&px->c, 0, 0, 0);
    assert_int_equal(px_propose(px, 3, "z", NULL), CN_OK);
    assert_true(px_deliver_one(px, 3, 4, CN_MSG_ACCEPT));
    cluster_drop(&px->c, 0, 0, 0);
    px_crash(px, 3);
    cluster_isolate(&px->c, 2, false);
    assert_int_equal(px_entry_ballot(px, 2, 1), b1);
    assert_int_equal(px_entry_ballot(px, 4, 1), b2);

    /* Node 5 prepares; nodes 2 and 4 promise. */
    px_campaign(px, 5);
    px_deliver(px, 5, 2, CN_MSG_PREPARE);
    px_deliver(px, 5, 4, CN_MSG_PREPARE);
    px_deliver(px, 2, 5, CN_MSG_PROMISE);
    px_deliver(px, 4, 5, CN_MSG_PROMISE);
    assert_int_equal(px_role(px, 5), CN_ROLE_LEADER);
    px_stabilize(px);
    px_tick_all(px, 2);
    for (cn_node_id id = 2; id <= 5; id += 1) {
        if (id == 3)
            continue;
        assert_string_equal(px_applied(px, id, 1), "z");
    }
    px_free(px);
}

/* Node 3 is cut off, so node 2's acceptance is what chooses. Node 2 receives the accept but
 * crashes before its write completes: no ACCEPTED may have left, the value must not count as
 * chosen, and after the restart node 2 must not claim it. The leader's resend then gets it
 * chosen properly. The same for a promise. */
static void scenario_acceptor_answers_only_after_persisting(void **state)
{
    (void)state;
    struct px *px = new_cluster(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    px_hold(px, 2, true);
    assert_int_equal(px_propose(px, 1, "x", NULL), CN_OK);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));
    struct cluster_node *n2 = cluster_node(&px->c, 2);
    assert_true(n2->holding);
    assert_int_equal(px_update_count(&n2->update, false, CN_MSG_ACCEPTED, 0), 0);
    assert_int_equal(cluster_count(&px->c, 2, 1, CN_MSG_ACCEPTED), 0);
    assert_int_equal(px_commit(px, 1), 0);
    px_crash(px, 2); /* the held write is lost */
    px_restart(px, 2);
    assert_null(px_disk_slot(px, 2, 1));
    assert_int_equal(px_entry_ballot(px, 2, 1), 0);
    assert_int_equal(px_commit(px, 1), 0);
    px_tick_all(px, 3);
    assert_int_equal(px_commit(px, 1), 1);
    assert_string_equal(px_applied(px, 2, 1), "x");

    /* A promise: node 2 crashes with its promise of node 3's ballot unwritten. The promise
     * never left, and the restarted acceptor holds the promise it had before. */
    cluster_isolate(&px->c, 3, false);
    px_hold(px, 2, true);
    px_campaign(px, 3);
    assert_true(px_deliver_one(px, 3, 2, CN_MSG_PREPARE));
    assert_true(n2->holding);
    assert_int_equal(px_update_count(&n2->update, true, CN_MSG_PROMISE, 3), 1);
    assert_int_equal(px_update_count(&n2->update, false, CN_MSG_PROMISE, 3), 0);
    assert_int_equal(cluster_count(&px->c, 2, 3, CN_MSG_PROMISE), 0);
    uint64_t before = n2->disk.hard_state.term;
    px_crash(px, 2);
    px_restart(px, 2);
    assert_int_equal(px_promised(px, 2), before);
    px_free(px);
}

/* Nodes 1 and 3 prepare at the same time and keep preempting each other: each one's prepare
 * reaches node 2 just after the other's, and each one's accept gets a nack. Once the retries
 * are left to the randomized, backed-off timeouts, one completes both phases and every node
 * applies the same values. */
static void scenario_dueling_proposers_converge(void **state)
{
    (void)state;
    struct px *px = new_cluster(3);
    for (uint32_t duel = 0; duel < 3; duel++) {
        px_campaign(px, 1);
        px_campaign(px, 3);
        /* Node 2 promises 1's ballot, then 3's higher one. */
        px_deliver(px, 1, 2, CN_MSG_PREPARE);
        px_deliver(px, 3, 2, CN_MSG_PREPARE);
        px_deliver(px, 2, 1, CN_MSG_PROMISE);
        px_deliver(px, 2, 3, CN_MSG_PROMISE);
        /* The prepares between 1 and 3 preempt each other. */
        cluster_drop(&px->c, 1, 3, CN_MSG_PREPARE);
        cluster_drop(&px->c, 3, 1, CN_MSG_PREPARE);
        if (px_role(px, 1) == CN_ROLE_LEADER)
            px_propose(px, 1, "from-1", NULL);
        if (px_role(px, 3) == CN_ROLE_LEADER)
            px_propose(px, 3, "from-3", NULL);
        cluster_drop(&px->c, 0, 0, CN_MSG_ACCEPTED);
        cluster_drop(&px->c, 0, 0, CN_MSG_LEASE_RESPONSE);
        cluster_drop(&px->c, 0, 0, CN_MSG_ACCEPT);
        cluster_drop(&px->c, 0, 0, CN_MSG_LEASE);
    }
    /* Now the timers decide. */
    cn_node_id leader = 0;
    for (uint32_t round = 0; round < 200 && leader == 0; round++) {
        px_tick_all(px, 1);
        leader = cluster_leader(&px->c);
    }
    assert_int_not_equal(leader, 0);
    assert_int_equal(px_propose(px, leader, "won", NULL), CN_OK);
    px_stabilize(px);
    px_tick_all(px, 30);
    uint64_t last = px_commit(px, leader);
    assert_true(last >= 1);
    assert_string_equal(px_applied(px, leader, last), "won");
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_commit(px, id), last);
        for (uint64_t slot = 1; slot <= last; slot++)
            assert_string_equal(px_applied(px, id, slot), px_applied(px, leader, slot));
    }
    /* At most one leader in the end, and the others follow it. */
    for (cn_node_id id = 1; id <= 3; id++)
        if (id != leader)
            assert_int_equal(px_role(px, id), CN_ROLE_FOLLOWER);
    px_free(px);
}

/* Leader 1 proposes a, b, c; slots 1 and 3 reach node 2 (chosen), slot 2 reaches nobody.
 * Node 2 applies slot 1 and stops at the gap. Node 1 crashes; node 3 takes over: it must
 * re-propose a and c and fill slot 2 with a no-op, so that apply moves past it. */
static void scenario_gap_filled_with_noop(void **state)
{
    (void)state;
    struct px *px = new_cluster(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "a", NULL);
    px_propose(px, 1, "b", NULL);
    px_propose(px, 1, "c", NULL);
    assert_int_equal(cluster_count(&px->c, 1, 2, CN_MSG_ACCEPT), 3);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));  /* slot 1 */
    cluster_drop(&px->c, 0, 3, 0);
    const struct cn_message *m = cluster_peek(&px->c, 1, 2, CN_MSG_ACCEPT);
    assert_int_equal(m->entries[0].index, 2);
    assert_true(cluster_drop(&px->c, 1, 2, CN_MSG_ACCEPT) == 2); /* slots 2 and 3 */
    px_stabilize(px);
    assert_int_equal(px_commit(px, 1), 1);
    /* Slot 3 now reaches node 2 (a resend), slot 2 still does not. */
    struct cn_entry e = {.index = 3, .term = px_promised(px, 1), .data = (const uint8_t *)"c",
                         .data_len = 1};
    struct cn_message accept = {.type = CN_MSG_ACCEPT, .from = 1, .to = 2,
                                .term = px_promised(px, 1), .index = 3, .commit = 1,
                                .entry_count = 1, .entries = &e};
    px_inject(px, &accept);
    px_deliver(px, 2, 1, CN_MSG_ACCEPTED);
    assert_int_equal(px_commit(px, 1), 1); /* slot 3 is chosen, slot 2 blocks the prefix */
    assert_int_equal(px_applied_last(px, 1), 1);
    assert_int_equal(px_applied_last(px, 2), 1);
    assert_int_equal(px_entry_ballot(px, 2, 2), 0); /* the gap */
    cluster_drop(&px->c, 0, 0, 0);
    px_crash(px, 1);

    px_campaign(px, 3);
    px_stabilize(px);
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    px_tick_all(px, 2);
    for (cn_node_id id = 2; id <= 3; id++) {
        assert_int_equal(px_applied_last(px, id), 3);
        assert_string_equal(px_applied(px, id, 1), "a");
        assert_string_equal(px_applied(px, id, 2), "noop");
        assert_string_equal(px_applied(px, id, 3), "c");
    }
    px_free(px);
}

/* Node 3 follows leader 1 (ballot b1), crashes; node 2 takes over in b2 with node 1's promise
 * alone, and the group is idle: no slot to recover, so no accept leaves. Node 3 comes back and
 * hears only b2's leases. It must report b2 as its term (the node fences the writes it
 * forwards by that term, node/forwards.c, and matches it against quiescence beats,
 * node/quiesce.c): reported b1, every forwarded write was refused until a write or an
 * election came. A lease is no prepare: its promise, on disk too, stays b1. It must also stay
 * a quiet follower over many election timeouts, the ballot unchanged everywhere. Before the
 * fix the term check failed (b1 reported). */
static void scenario_follower_back_in_idle_group_reports_leader_ballot(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_stabilize(px);
    uint64_t b1 = px_promised(px, 1);
    assert_int_equal(px_status(px, 3).term, b1);
    px_crash(px, 3);

    assert_true(px_campaign_and_win(px, 2));
    px_stabilize(px);
    uint64_t b2 = px_promised(px, 2);
    assert_true(b2 > b1);
    assert_int_equal(px_status(px, 2).term, b2);

    px_restart(px, 3);
    assert_int_equal(px_status(px, 3).term, b1); /* nothing heard yet: its promise */
    px_tick(px, 2, 1);                            /* a heartbeat: leases to 1 and 3 */
    assert_true(px_deliver_one(px, 2, 3, CN_MSG_LEASE));
    struct cn_status s = px_status(px, 3);
    assert_int_equal(s.role, CN_ROLE_FOLLOWER);
    assert_int_equal(s.leader, 2);
    assert_int_equal(s.term, b2);
    /* Reported, not promised: the promise persisted after the lease is still b1. */
    px_stabilize(px);
    assert_int_equal(cluster_node(&px->c, 3)->disk.hard_state.term, b1);

    /* Idle for ten election timeouts: node 2 keeps leading in b2, node 3 keeps following. */
    struct cn_config config;
    px_config(&config);
    px_tick_all(px, 10 * config.election_ticks);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_status(px, id).term, b2);
        assert_int_equal(px_status(px, id).leader, 2);
    }
    px_free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenario_new_leader_reproposes_accepted_value),
        cmocka_unit_test(scenario_new_leader_picks_highest_ballot_value),
        cmocka_unit_test(scenario_acceptor_answers_only_after_persisting),
        cmocka_unit_test(scenario_dueling_proposers_converge),
        cmocka_unit_test(scenario_gap_filled_with_noop),
        cmocka_unit_test(scenario_follower_back_in_idle_group_reports_leader_ballot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
