/*
 * quorum.c — members and majorities (quorum.h).
 */
#include <assert.h>

#include "consensus/quorum.h"

bool cn_members_valid(const struct cn_members *members, cn_node_id id_max)
{
    if (members->count == 0 || members->count > CN_MEMBERS_MAX)
        return false;
    for (uint32_t i = 0; i < members->count; i++) {
        if (members->ids[i] == 0 || members->ids[i] > id_max)
            return false;
        if (i > 0 && members->ids[i] <= members->ids[i - 1])
            return false;
    }
    return true;
}

int cn_members_position(const struct cn_members *members, cn_node_id id)
{
    assert(members->count <= CN_MEMBERS_MAX);
    for (uint32_t i = 0; i < members->count; i++)
        if (members->ids[i] == id)
            return (int)i;
    return -1;
}

uint32_t cn_quorum_count(const struct cn_members *members, cn_member_test test,
                         const void *context)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < members->count; i++)
        count += test(context, members->ids[i]);
    return count;
}

bool cn_quorum_has(const struct cn_members *members, cn_member_test test, const void *context)
{
    return cn_quorum_count(members, test, context) >= cn_majority(members);
}

enum cn_tally cn_quorum_tally(const struct cn_members *members, cn_vote_of vote,
                              const void *context)
{
    uint32_t granted = 0, rejected = 0;
    for (uint32_t i = 0; i < members->count; i++) {
        enum cn_vote v = vote(context, members->ids[i]);
        granted += v == CN_VOTE_GRANTED;
        rejected += v == CN_VOTE_REJECTED;
    }
    if (granted >= cn_majority(members))
        return CN_TALLY_WON;
    if (rejected >= cn_majority(members))
        return CN_TALLY_LOST;
    return CN_TALLY_PENDING;
}

uint64_t cn_quorum_index(const struct cn_members *members, cn_member_value value,
                         const void *context)
{
    assert(members->count >= 1 && members->count <= CN_MEMBERS_MAX);
    uint64_t values[CN_MEMBERS_MAX];
    /* Insertion sort, descending: at most CN_MEMBERS_MAX values. */
    for (uint32_t i = 0; i < members->count; i++) {
        uint64_t v = value(context, members->ids[i]);
        uint32_t j = i;
        while (j > 0 && values[j - 1] < v) {
            values[j] = values[j - 1];
            j--;
        }
        values[j] = v;
    }
    return values[cn_majority(members) - 1];
}
