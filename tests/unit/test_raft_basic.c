/* test_raft_basic.c — election, replication, commit and reads on a healthy cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../support/cluster.h"
#include "raft/raft.h"

static void test_single_node_elects_itself_and_commits(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 1);
    assert_int_equal(cluster_elect(&c), 1);
    uint64_t index = 0;
    assert_int_equal(cluster_propose(&c, 1, "x", &index), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(index, 2); /* 1 is the leader's no-op */
    assert_int_equal(cluster_node(&c, 1)->applied_last, 2);
    cluster_free(&c);
}

static void test_three_nodes_elect_one_leader(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    cn_node_id leader = cluster_elect(&c);
    assert_int_not_equal(leader, 0);
    uint32_t leaders = 0;
    struct cn_status s, ls;
    cluster_status(&c, leader, &ls);
    for (cn_node_id id = 1; id <= 3; id++) {
        cluster_status(&c, id, &s);
        leaders += s.role == CN_ROLE_LEADER;
        assert_int_equal(s.term, ls.term);
        assert_int_equal(s.leader, leader);
    }
    assert_int_equal(leaders, 1);
    cluster_free(&c);
}

static void test_replicates_and_applies_everywhere(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 5);
    cn_node_id leader = cluster_elect(&c);
    for (int i = 0; i < 50; i++)
        assert_int_equal(cluster_propose(&c, leader, "command", NULL), CN_OK);
    cluster_stabilize(&c);
    cluster_tick(&c, leader, 1); /* a heartbeat carries the final commit index */
    cluster_stabilize(&c);
    for (cn_node_id id = 1; id <= 5; id++)
        assert_int_equal(cluster_node(&c, id)->applied_last, 51);
    cluster_free(&c);
}

static void test_proposal_on_follower_is_refused(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    cn_node_id leader = cluster_elect(&c);
    cn_node_id follower = leader == 1 ? 2 : 1;
    assert_int_equal(cluster_propose(&c, follower, "x", NULL), CN_ERR_NOT_LEADER);
    cluster_free(&c);
}

static void test_read_index_on_leader_and_follower(void **state)
{
    (void)state;
    struct cluster c;
    cluster_init(&c, &raft_ops, 3);
    cn_node_id leader = cluster_elect(&c);
    cluster_stabilize(&c);
    assert_int_equal(cluster_propose(&c, leader, "x", NULL), CN_OK);
    cluster_stabilize(&c);
    assert_int_equal(cluster_read(&c, leader, 42), CN_OK);
    cluster_stabilize(&c);
    struct cluster_node *l = cluster_node(&c, leader);
    assert_int_equal(l->read_count, 1);
    assert_int_equal(l->reads[0].request_id, 42);
    assert_int_equal(l->reads[0].index, 2);
    assert_false(l->reads[0].failed);
    cn_node_id follower = leader == 1 ? 2 : 1;
    assert_int_equal(cluster_read(&c, follower, 43), CN_OK);
    cluster_stabilize(&c);
    struct cluster_node *f = cluster_node(&c, follower);
    assert_int_equal(f->read_count, 1);
    assert_int_equal(f->reads[0].request_id, 43);
    assert_int_equal(f->reads[0].index, 2);
    cluster_free(&c);
}


/* Regression: an update's entries and committed arrays point into a pool that grows while the
 * update is built; a pointer taken before the last growth dangled (found by cluster_basic: the
 * WAL saw a non-consecutive run; AddressSanitizer reports the use after free). A single node
 * gets exactly a pool's worth of new entries and a batch of committed ones in one update. */
static void drive_one(void *core, struct cn_update *u)
{
    assert_true(raft_ops.has_update(core));
    raft_ops.get_update(core, u);
}

static void test_update_arrays_survive_pool_growth(void **state)
{
    (void)state;
    struct cn_config config;
    cn_config_defaults(&config);
    config.id = 1;
    config.members = (struct cn_members){.count = 1, .ids = {1}};
    struct cn_restore restore = {0};
    void *core;
    assert_int_equal(raft_ops.create(&config, &restore, &core), CN_OK);
    struct cn_update u;
    raft_ops.step(core, &(struct cn_event){.type = CN_EVENT_CAMPAIGN});
    for (int i = 0; i < 8 && raft_ops.has_update(core); i++) {
        drive_one(core, &u);
        raft_ops.ack_update(core, &u);
    }
    struct cn_status st;
    raft_ops.status(core, &st);
    assert_int_equal(st.role, CN_ROLE_LEADER);
    const uint8_t data[] = "command";
    for (int i = 0; i < 100; i++)
        assert_int_equal(raft_ops.step(core, &(struct cn_event){.type = CN_EVENT_PROPOSE,
                                                                 .data = data, .data_len = 7}),
                         CN_OK);
    drive_one(core, &u); /* persists the 100 */
    for (int i = 0; i < 256; i++) /* exactly the pool's first capacity */
        raft_ops.step(core, &(struct cn_event){.type = CN_EVENT_PROPOSE, .data = data,
                                               .data_len = 7});
    raft_ops.ack_update(core, &u); /* the 100 commit */
    drive_one(core, &u);
    assert_int_equal(u.entry_count, 256);
    assert_true(u.committed_count >= 100);
    for (uint32_t i = 1; i < u.entry_count; i++)
        assert_int_equal(u.entries[i].index, u.entries[0].index + i);
    for (uint32_t i = 1; i < u.committed_count; i++)
        assert_int_equal(u.committed[i].index, u.committed[0].index + i);
    raft_ops.ack_update(core, &u);
    raft_ops.destroy(core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_node_elects_itself_and_commits),
        cmocka_unit_test(test_three_nodes_elect_one_leader),
        cmocka_unit_test(test_replicates_and_applies_everywhere),
        cmocka_unit_test(test_proposal_on_follower_is_refused),
        cmocka_unit_test(test_read_index_on_leader_and_follower),
        cmocka_unit_test(test_update_arrays_survive_pool_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
