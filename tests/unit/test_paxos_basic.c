/*
 * test_paxos_basic.c — the Multi-Paxos core through the protocol-neutral cluster fixture:
 * elections and ballots, phase 2, persistence before promises and accepteds, restarts that
 * keep promises, window bounds, and the update contract (entries_per_slot, soft state).
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

static void test_ops_table(void **state)
{
    (void)state;
    assert_string_equal(paxos_ops.name, "paxos");
    struct cn_config config;
    px_config(&config);
    config.id = 0;
    config.members.count = 1;
    config.members.ids[0] = 1;
    struct cn_restore restore = {0};
    void *core = NULL;
    assert_int_equal(paxos_ops.create(&config, &restore, &core), CN_ERR_INVALID);
    config.id = 1;
    assert_int_equal(paxos_ops.create(&config, &restore, &core), CN_OK);
    struct cn_status s;
    paxos_ops.status(core, &s);
    assert_int_equal(s.role, CN_ROLE_FOLLOWER);
    assert_int_equal(s.term, 0);
    assert_int_equal(s.vote, 0);
    paxos_ops.destroy(core);
}

static void test_single_node_leads_after_persisting_its_promise(void **state)
{
    (void)state;
    struct px *px = px_new(1);
    px_hold(px, 1, true);
    px_campaign(px, 1);
    /* Its own promise counts only once durable. */
    assert_int_equal(px_role(px, 1), CN_ROLE_CANDIDATE);
    assert_true(px_persist(px, 1));
    assert_int_equal(px_role(px, 1), CN_ROLE_LEADER);
    px_hold(px, 1, false);
    uint64_t slot = 0;
    assert_int_equal(px_propose(px, 1, "a", &slot), CN_OK);
    assert_int_equal(slot, 1);
    assert_int_equal(px_commit(px, 1), 1);
    assert_string_equal(px_applied(px, 1, 1), "a");
    assert_int_equal(px_entry_ballot(px, 1, 1), cn_ballot_make(1, 1));
    px_free(px);
}

static void test_election_by_timeout_and_ballots(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    cn_node_id leader = px_elect(px);
    assert_int_not_equal(leader, 0);
    uint64_t ballot = px_promised(px, leader);
    assert_int_equal(cn_ballot_node(ballot), leader);
    assert_int_equal(cn_ballot_round(ballot), 1);
    px_tick_all(px, 3);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_promised(px, id), ballot);
        assert_int_equal(px_status(px, id).leader, leader);
        if (id != leader)
            assert_int_equal(px_role(px, id), CN_ROLE_FOLLOWER);
    }
    /* A stable leader keeps its ballot: many election timeouts later nobody ran phase 1. */
    px_tick_all(px, 50);
    assert_int_equal(cluster_leader(&px->c), leader);
    assert_int_equal(px_promised(px, 1), ballot);
    px_free(px);
}

static void test_proposals_chosen_and_applied_everywhere(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    const char *values[] = {"a", "b", "c", "d"};
    for (uint32_t i = 0; i < 4; i++) {
        uint64_t slot;
        assert_int_equal(px_propose(px, 1, values[i], &slot), CN_OK);
        assert_int_equal(slot, i + 1);
    }
    px_stabilize(px);
    assert_int_equal(px_commit(px, 1), 4);
    px_tick_all(px, 1); /* the chosen index reaches the followers on a lease */
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_int_equal(px_commit(px, id), 4);
        for (uint32_t i = 0; i < 4; i++)
            assert_string_equal(px_applied(px, id, i + 1), values[i]);
        const struct cn_entry *e = px_disk_slot(px, id, 3);
        assert_non_null(e);
        assert_int_equal(e->term, cn_ballot_make(1, 1));
        assert_memory_equal(e->data, "c", 1);
        assert_int_equal(cluster_node(&px->c, id)->disk.hard_state.term, cn_ballot_make(1, 1));
    }
    px_free(px);
}

/* Several proposals stepped before one update share one ACCEPT per acceptor and one
 * persistence step there. */
static void test_slots_batched_into_one_accept(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    for (uint32_t i = 0; i < 5; i++) {
        struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = (const uint8_t *)"v",
                             .data_len = 1};
        assert_int_equal(px_step(px, 1, &e), CN_OK);
    }
    px_settle(px);
    assert_int_equal(cluster_count(&px->c, 1, 2, CN_MSG_ACCEPT), 1);
    const struct cn_message *m = cluster_peek(&px->c, 1, 2, CN_MSG_ACCEPT);
    assert_int_equal(m->entry_count, 5);
    px_hold(px, 2, true);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));
    struct cluster_node *n = cluster_node(&px->c, 2);
    assert_true(n->holding);
    assert_true(n->update.entries_per_slot);
    assert_int_equal(n->update.entry_count, 5);
    assert_int_equal(px_update_count(&n->update, true, CN_MSG_ACCEPTED, 1), 1);
    px_hold(px, 2, false);
    px_stabilize(px);
    assert_int_equal(px_commit(px, 1), 5);
    px_free(px);
}

static void test_promise_leaves_only_after_persist(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    px_hold(px, 2, true);
    px_campaign(px, 1);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_PREPARE));
    struct cluster_node *n = cluster_node(&px->c, 2);
    assert_true(n->holding);
    assert_true(n->update.hard_state_changed);
    assert_int_equal(n->update.hard_state.term, cn_ballot_make(1, 1));
    assert_int_equal(px_update_count(&n->update, false, CN_MSG_PROMISE, 0), 0);
    assert_int_equal(px_update_count(&n->update, true, CN_MSG_PROMISE, 1), 1);
    assert_int_equal(cluster_count(&px->c, 2, 1, CN_MSG_PROMISE), 0);
    assert_int_equal(n->disk.hard_state.term, 0);
    assert_true(px_persist(px, 2));
    assert_int_equal(n->disk.hard_state.term, cn_ballot_make(1, 1));
    assert_int_equal(cluster_count(&px->c, 2, 1, CN_MSG_PROMISE), 1);
    px_free(px);
}

static void test_accepted_leaves_only_after_persist(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_hold(px, 2, true);
    assert_int_equal(px_propose(px, 1, "x", NULL), CN_OK);
    assert_true(px_deliver_one(px, 1, 2, CN_MSG_ACCEPT));
    struct cluster_node *n = cluster_node(&px->c, 2);
    assert_true(n->holding);
    assert_int_equal(n->update.entry_count, 1);
    assert_int_equal(n->update.entries[0].index, 1);
    assert_int_equal(px_update_count(&n->update, false, CN_MSG_ACCEPTED, 0), 0);
    assert_int_equal(px_update_count(&n->update, true, CN_MSG_ACCEPTED, 1), 1);
    assert_null(px_disk_slot(px, 2, 1));
    assert_int_equal(cluster_count(&px->c, 2, 1, CN_MSG_ACCEPTED), 0);
    assert_true(px_persist(px, 2));
    assert_non_null(px_disk_slot(px, 2, 1));
    assert_int_equal(cluster_count(&px->c, 2, 1, CN_MSG_ACCEPTED), 1);
    px_free(px);
}

/* Nothing is applied before it is durable here, even when a quorum chose it. */
static void test_leader_counts_itself_only_once_durable(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 3, true);
    px_hold(px, 1, true);
    assert_int_equal(px_propose(px, 1, "x", NULL), CN_OK);
    px_deliver(px, 1, 2, CN_MSG_ACCEPT);
    px_deliver(px, 2, 1, CN_MSG_ACCEPTED);
    /* Node 2 accepted, node 1's own write is still held: one of three, not chosen. */
    assert_int_equal(px_commit(px, 1), 0);
    assert_true(px_persist(px, 1));
    assert_int_equal(px_commit(px, 1), 1);
    px_hold(px, 1, false);
    assert_string_equal(px_applied(px, 1, 1), "x");
    px_free(px);
}

static void test_restart_never_goes_back_on_a_promise(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    px_campaign(px, 1);
    px_stabilize(px);
    px_campaign(px, 3); /* forced: overrides the lease */
    px_stabilize(px);
    uint64_t ballot = cn_ballot_make(2, 3);
    assert_int_equal(px_role(px, 3), CN_ROLE_LEADER);
    assert_int_equal(px_promised(px, 2), ballot);
    assert_int_equal(px_propose(px, 3, "v", NULL), CN_OK);
    px_stabilize(px);
    px_crash(px, 2);
    px_restart(px, 2);
    assert_int_equal(px_promised(px, 2), ballot);
    assert_int_equal(px_entry_ballot(px, 2, 1), ballot);
    /* A prepare of a lower ballot gets a nack carrying the promise. */
    struct cn_message prepare = {.type = CN_MSG_PREPARE, .from = 1, .to = 2,
                                 .term = cn_ballot_make(1, 1), .index = 1};
    px_inject(px, &prepare);
    const struct cn_message *nack = cluster_peek(&px->c, 2, 1, CN_MSG_PROMISE);
    assert_non_null(nack);
    assert_true(nack->reject);
    assert_int_equal(nack->term, ballot);
    assert_int_equal(px_promised(px, 2), ballot);
    /* And an accept of a lower ballot is refused too. */
    cluster_drop(&px->c, 0, 0, 0);
    struct cn_entry e = {.index = 1, .term = cn_ballot_make(1, 1), .data = (const uint8_t *)"w",
                         .data_len = 1};
    struct cn_message accept = {.type = CN_MSG_ACCEPT, .from = 1, .to = 2,
                                .term = cn_ballot_make(1, 1), .index = 1, .entry_count = 1,
                                .entries = &e};
    px_inject(px, &accept);
    nack = cluster_peek(&px->c, 2, 1, CN_MSG_ACCEPTED);
    assert_non_null(nack);
    assert_true(nack->reject);
    assert_int_equal(px_entry_ballot(px, 2, 1), ballot);
    assert_memory_equal(px_disk_slot(px, 2, 1)->data, "v", 1);
    px_free(px);
}

/* A restarted node finds its chosen values through the persisted hint and applies them. */
static void test_restart_reapplies_persisted_chosen_prefix(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "a", NULL);
    px_propose(px, 1, "b", NULL);
    px_stabilize(px);
    px_tick_all(px, 1);
    assert_int_equal(px_applied_last(px, 2), 2);
    assert_int_equal(cluster_node(&px->c, 2)->disk.hard_state.commit, 2);
    px_crash(px, 2);
    memset(px->applied[1], 0, sizeof(px->applied[1]));
    px_restart(px, 2);
    assert_int_equal(px_commit(px, 2), 2);
    assert_string_equal(px_applied(px, 2, 1), "a");
    assert_string_equal(px_applied(px, 2, 2), "b");
    px_free(px);
}

static void test_window_bounds_open_slots(void **state)
{
    (void)state;
    struct cn_config config;
    px_config(&config);
    config.inflight_messages_max = 1;
    config.message_entries_max = 2;
    struct px *px = px_new_with(3, &config);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 2, true);
    cluster_isolate(&px->c, 3, true);
    assert_int_equal(px_propose(px, 1, "a", NULL), CN_OK);
    assert_int_equal(px_propose(px, 1, "b", NULL), CN_OK);
    assert_int_equal(px_propose(px, 1, "c", NULL), CN_ERR_BUSY);
    px_stabilize(px); /* everything is lost */
    cluster_isolate(&px->c, 2, false);
    cluster_isolate(&px->c, 3, false);
    px_tick_all(px, 3); /* unchosen slots are resent */
    assert_int_equal(px_commit(px, 1), 2);
    assert_int_equal(px_propose(px, 1, "c", NULL), CN_OK);
    px_free(px);
}

static void test_not_leader_refuses_proposals(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_int_equal(px_propose(px, 2, "x", NULL), CN_ERR_NOT_LEADER);
    assert_true(px_campaign_and_win(px, 1));
    assert_int_equal(px_propose(px, 2, "x", NULL), CN_ERR_NOT_LEADER);
    assert_int_equal(px_status(px, 2).leader, 1);
    px_free(px);
}

static void test_leader_without_quorum_steps_down(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 1, true);
    px_tick(px, 1, 25);
    assert_int_equal(px_role(px, 1), CN_ROLE_FOLLOWER);
    px_free(px);
}

static void test_stale_leader_learns_higher_ballot_from_nack(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    cluster_isolate(&px->c, 1, true);
    px_campaign(px, 2);
    px_stabilize(px);
    assert_int_equal(px_role(px, 2), CN_ROLE_LEADER);
    cluster_isolate(&px->c, 1, false);
    assert_int_equal(px_role(px, 1), CN_ROLE_LEADER); /* it has heard nothing yet */
    cluster_drop(&px->c, 0, 0, 0);
    assert_int_equal(px_propose(px, 1, "stale", NULL), CN_OK);
    px_deliver(px, 1, 3, CN_MSG_ACCEPT);
    const struct cn_message *nack = cluster_peek(&px->c, 3, 1, CN_MSG_ACCEPTED);
    assert_non_null(nack);
    assert_true(nack->reject);
    px_deliver(px, 3, 1, CN_MSG_ACCEPTED);
    assert_int_equal(px_role(px, 1), CN_ROLE_FOLLOWER);
    px_stabilize(px);
    px_tick_all(px, 5);
    assert_int_equal(cluster_leader(&px->c), 2);
    assert_int_equal(px_role(px, 1), CN_ROLE_FOLLOWER);
    /* "stale" was never chosen: the learner replaces it with what was. */
    assert_int_equal(px_propose(px, 2, "fresh", NULL), CN_OK);
    px_stabilize(px);
    px_tick_all(px, 2);
    assert_string_equal(px_applied(px, 1, 1), "fresh");
    assert_memory_equal(px_disk_slot(px, 1, 1)->data, "fresh", 5);
    /* Its next ballot goes above the one it learned from the nack. */
    px_campaign(px, 1);
    assert_int_equal(px_promised(px, 1), cn_ballot_make(3, 1));
    px_free(px);
}

static void test_transfer_leadership(void **state)
{
    (void)state;
    struct px *px = px_new(3);
    assert_true(px_campaign_and_win(px, 1));
    px_propose(px, 1, "a", NULL);
    px_stabilize(px);
    assert_int_equal(px_step(px, 1, &(struct cn_event){.type = CN_EVENT_TRANSFER,
                                                      .target = 1}), CN_ERR_INVALID);
    assert_int_equal(px_step(px, 1, &(struct cn_event){.type = CN_EVENT_TRANSFER,
                                                      .target = 2}), CN_OK);
    assert_int_equal(px_propose(px, 1, "refused", NULL), CN_ERR_TRANSFERRING);
    px_stabilize(px);
    assert_int_equal(px_role(px, 2), CN_ROLE_LEADER);
    assert_int_equal(px_role(px, 1), CN_ROLE_FOLLOWER);
    assert_int_equal(px_propose(px, 2, "b", NULL), CN_OK);
    px_stabilize(px);
    px_tick_all(px, 1);
    for (cn_node_id id = 1; id <= 3; id++) {
        assert_string_equal(px_applied(px, id, 1), "a");
        assert_string_equal(px_applied(px, id, 2), "b");
    }
    px_free(px);
}

/* The fixture's own persistence (no manual persist) writes Paxos updates slot by slot
 * (entries_per_slot): an acceptor that missed slot 2 holds slots 1 and 3 with a gap, restarts
 * from that disk, catches up, and a snapshot drops the slots up to its index, not a count. */
static void test_fixture_persists_per_slot_with_gaps(void **state)
{
    (void)state;
    struct cn_config config;
    px_config(&config);
    config.message_entries_max = 1;
    struct cluster c;
    cluster_init_with(&c, &paxos_ops, 3, &config);
    cluster_campaign(&c, 1);
    cluster_stabilize(&c);
    assert_int_equal(cluster_leader(&c), 1);
    cluster_propose(&c, 1, "a", NULL);
    cluster_propose(&c, 1, "b", NULL);
    cluster_propose(&c, 1, "c", NULL);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_ACCEPT));
    assert_int_equal(cluster_drop(&c, 1, 3, CN_MSG_ACCEPT), 2);
    cluster_propose(&c, 1, "d", NULL);
    cluster_drop(&c, 1, 3, CN_MSG_CATCHUP);
    cluster_drop(&c, 3, 1, CN_MSG_CATCHUP);
    assert_true(cluster_deliver_one(&c, 1, 3, CN_MSG_ACCEPT));
    const struct cluster_disk *d = &cluster_node(&c, 3)->disk;
    assert_int_equal(d->entry_count, 2);
    assert_int_equal(d->entries[0].index, 1);
    assert_int_equal(d->entries[1].index, 4);
    cluster_crash(&c, 3);
    cluster_restart(&c, 3);
    cluster_stabilize(&c);
    for (uint32_t round = 0; round < 5; round++) {
        for (cn_node_id id = 1; id <= 3; id++)
            cluster_tick(&c, id, 1);
        cluster_stabilize(&c);
    }
    struct cn_status status;
    cluster_status(&c, 3, &status);
    assert_int_equal(status.commit_index, 4);
    assert_int_equal(cluster_node(&c, 3)->applied_last, 4);
    cluster_snapshot_taken(&c, 3, 3);
    assert_int_equal(d->snapshot.index, 3);
    assert_int_equal(d->entry_count, 1);
    assert_int_equal(d->entries[0].index, 4);
    cluster_crash(&c, 3);
    cluster_restart(&c, 3);
    cluster_status(&c, 3, &status);
    assert_int_equal(status.snapshot_index, 3);
    assert_int_equal(status.commit_index, 4);
    cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_single_node_leads_after_persisting_its_promise),
        cmocka_unit_test(test_election_by_timeout_and_ballots),
        cmocka_unit_test(test_proposals_chosen_and_applied_everywhere),
        cmocka_unit_test(test_slots_batched_into_one_accept),
        cmocka_unit_test(test_promise_leaves_only_after_persist),
        cmocka_unit_test(test_accepted_leaves_only_after_persist),
        cmocka_unit_test(test_leader_counts_itself_only_once_durable),
        cmocka_unit_test(test_restart_never_goes_back_on_a_promise),
        cmocka_unit_test(test_restart_reapplies_persisted_chosen_prefix),
        cmocka_unit_test(test_window_bounds_open_slots),
        cmocka_unit_test(test_not_leader_refuses_proposals),
        cmocka_unit_test(test_leader_without_quorum_steps_down),
        cmocka_unit_test(test_stale_leader_learns_higher_ballot_from_nack),
        cmocka_unit_test(test_transfer_leadership),
        cmocka_unit_test(test_fixture_persists_per_slot_with_gaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
