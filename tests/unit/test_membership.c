/*
 * test_membership.c — configurations (src/consensus/membership.c): the packed form that
 * snapshots, the codec and the WAL carry, its validity, and joint quorums (Raft §6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consensus/membership.h"

#define MEMBERS(...)                                                                          \
    ((struct cn_members){.count = sizeof((cn_node_id[]){__VA_ARGS__}) / sizeof(cn_node_id),   \
                         .ids = {__VA_ARGS__}})

static void test_plain_list_is_voters(void **state)
{
    (void)state;
    struct cn_membership m;
    assert_true(cn_membership_unpack(&MEMBERS(1, 2, 3), &m));
    assert_int_equal(m.voters.count, 3);
    assert_int_equal(m.outgoing.count, 0);
    assert_int_equal(m.learners.count, 0);
    struct cn_members packed;
    cn_membership_pack(&m, &packed);
    assert_memory_equal(&packed, &MEMBERS(1, 2, 3), sizeof(packed));
}

static void test_joint_with_learners_round_trips(void **state)
{
    (void)state;
    /* C({1,2,3},{1,2,4}) with 5 learning and 3 being demoted to learner. */
    struct cn_membership m = {.voters = MEMBERS(1, 2, 4), .outgoing = MEMBERS(1, 2, 3),
                              .learners = MEMBERS(3, 5)};
    assert_true(cn_membership_valid(&m, false));
    struct cn_members packed;
    cn_membership_pack(&m, &packed);
    assert_int_equal(packed.count, 5);
    for (uint32_t i = 1; i < packed.count; i++)
        assert_true(packed.ids[i] > packed.ids[i - 1]); /* the codec's rule */
    struct cn_membership back;
    assert_true(cn_membership_unpack(&packed, &back));
    assert_true(cn_membership_equal(&m, &back));
    uint8_t data[CN_MEMBERSHIP_ENTRY_BYTES_MAX];
    uint32_t len = cn_membership_encode(&m, data);
    assert_int_equal(len, 4 + 4 * 5);
    assert_true(cn_membership_decode(data, len, &back));
    assert_true(cn_membership_equal(&m, &back));
    assert_false(cn_membership_decode(data, len - 1, &back));
}

static void test_invalid_configurations(void **state)
{
    (void)state;
    struct cn_membership m = {.voters = MEMBERS(1, 2), .learners = MEMBERS(2)};
    assert_false(cn_membership_valid(&m, false)); /* a voter cannot also learn */
    m = (struct cn_membership){.learners = MEMBERS(2)};
    assert_false(cn_membership_valid(&m, false)); /* learners without voters */
    m = (struct cn_membership){0};
    assert_false(cn_membership_valid(&m, false));
    assert_true(cn_membership_valid(&m, true)); /* a joining node's */
    m = (struct cn_membership){.voters = MEMBERS(1, 2, 3, 4), .outgoing = MEMBERS(5, 6, 7, 8)};
    assert_false(cn_membership_valid(&m, false)); /* 8 nodes > CN_MEMBERS_MAX */
    m = (struct cn_membership){.voters = MEMBERS(2, 1)};
    assert_false(cn_membership_valid(&m, false));
    m = (struct cn_membership){.voters = MEMBERS(CN_MEMBER_ID_LIMIT)};
    assert_false(cn_membership_valid(&m, false));
    struct cn_membership out;
    /* A node in no list, a learner that is an incoming voter, a duplicate: refused. */
    assert_false(cn_membership_unpack(&MEMBERS(1, 2 | CN_MEMBER_NOT_INCOMING), &out));
    assert_false(cn_membership_unpack(&MEMBERS(1, 2 | CN_MEMBER_LEARNER), &out));
    assert_false(cn_membership_unpack(&MEMBERS(1, 1 | CN_MEMBER_OUTGOING), &out));
}

static bool in_set(const void *context, cn_node_id id)
{
    const struct cn_members *set = context;
    return cn_members_contains(set, id);
}

static enum cn_vote vote_in_set(const void *context, cn_node_id id)
{
    return in_set(context, id) ? CN_VOTE_GRANTED : CN_VOTE_REJECTED;
}

static uint64_t match_by_id(const void *context, cn_node_id id)
{
    (void)context;
    return 10 * id; /* node 1 at 10, node 2 at 20, ... */
}

static void test_joint_quorum_needs_both_majorities(void **state)
{
    (void)state;
    struct cn_membership m = {.voters = MEMBERS(1, 2, 4), .outgoing = MEMBERS(1, 2, 3),
                              .learners = MEMBERS(5)};
    /* {1,3}: a majority of the old voters only. {1,4}: of the new only. {1,2}: both. */
    assert_false(cn_membership_has_quorum(&m, in_set, &MEMBERS(1, 3)));
    assert_false(cn_membership_has_quorum(&m, in_set, &MEMBERS(1, 4)));
    assert_true(cn_membership_has_quorum(&m, in_set, &MEMBERS(1, 2)));
    /* Learners never count: {1,5} is no majority of anything. */
    assert_false(cn_membership_has_quorum(&m, in_set, &MEMBERS(1, 5)));
    assert_int_equal(cn_membership_tally(&m, vote_in_set, &MEMBERS(1, 3, 4)), CN_TALLY_WON);
    assert_int_equal(cn_membership_tally(&m, vote_in_set, &MEMBERS(3, 4)), CN_TALLY_LOST);
    /* Quorum index: new voters {1,2,4} -> 20, old {1,2,3} -> 20; with 2 at 0 it would be
     * 10 for both. The lower of the two halves. */
    assert_int_equal(cn_membership_index(&m, match_by_id, NULL), 20);
    struct cn_membership simple = {.voters = MEMBERS(3, 4, 5)};
    assert_int_equal(cn_membership_index(&simple, match_by_id, NULL), 40);
    struct cn_membership joint = {.voters = MEMBERS(3, 4, 5), .outgoing = MEMBERS(1, 2, 3)};
    assert_int_equal(cn_membership_index(&joint, match_by_id, NULL), 20);
}

/* A meta group that lost a voter to a removal regains one from its learners: the lowest
 * eligible one, and only while settled and short of the bound. */
static void test_learner_to_promote(void **state)
{
    (void)state;
    struct cn_membership m = {.voters = MEMBERS(1, 3, 4, 5), .learners = MEMBERS(6, 7, 9)};
    assert_int_equal(cn_membership_learner_to_promote(&m, 5, in_set, &MEMBERS(6, 7, 9)), 6);
    /* Node 6 is not eligible (dead, leaving): the next one. */
    assert_int_equal(cn_membership_learner_to_promote(&m, 5, in_set, &MEMBERS(7, 9)), 7);
    assert_int_equal(cn_membership_learner_to_promote(&m, 5, in_set, &MEMBERS(2)), 0);
    /* Enough voters already. */
    assert_int_equal(cn_membership_learner_to_promote(&m, 4, in_set, &MEMBERS(6, 7, 9)), 0);
    /* No learner. */
    struct cn_membership few = {.voters = MEMBERS(1, 2)};
    assert_int_equal(cn_membership_learner_to_promote(&few, 5, in_set, &MEMBERS(3)), 0);
    /* Joint: the change in progress finishes first. */
    struct cn_membership joint = {.voters = MEMBERS(1, 3), .outgoing = MEMBERS(1, 2, 3),
                                  .learners = MEMBERS(6)};
    assert_int_equal(cn_membership_learner_to_promote(&joint, 5, in_set, &MEMBERS(6)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_list_is_voters),
        cmocka_unit_test(test_joint_with_learners_round_trips),
        cmocka_unit_test(test_invalid_configurations),
        cmocka_unit_test(test_joint_quorum_needs_both_majorities),
        cmocka_unit_test(test_learner_to_promote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
