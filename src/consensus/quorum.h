/*
 * quorum.h — members and majorities: the counting both cores do over their configuration.
 *
 * A configuration is a sorted list of voters (struct cn_members). Whatever a core decides by
 * quorum — an election (Raft §5.2; Paxos phase 1), a commit (Raft §5.4.2; a chosen value,
 * Paxos phase 2), a read round (thesis §6.4), check-quorum (thesis §6.2) — it counts here,
 * asking the core, member by member, what it knows of that member.
 */
#ifndef CHORUS_CONSENSUS_QUORUM_H
#define CHORUS_CONSENSUS_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

/* A member's answer in a vote, as the core knows it. */
enum cn_vote {
    CN_VOTE_PENDING = 0,
    CN_VOTE_GRANTED = 1,
    CN_VOTE_REJECTED = 2,
};

enum cn_tally {
    CN_TALLY_PENDING = 0, /* neither side has a majority yet */
    CN_TALLY_WON = 1,     /* a majority granted */
    CN_TALLY_LOST = 2,    /* a majority rejected */
};

typedef enum cn_vote (*cn_vote_of)(const void *context, cn_node_id id);
typedef bool (*cn_member_test)(const void *context, cn_node_id id);
typedef uint64_t (*cn_member_value)(const void *context, cn_node_id id);

/* Sorted, no duplicates, no zero, no id above id_max, 1..CN_MEMBERS_MAX of them. */
bool cn_members_valid(const struct cn_members *members, cn_node_id id_max);
/* The position of `id` in `members`, or -1. */
int cn_members_position(const struct cn_members *members, cn_node_id id);
static inline bool cn_members_contains(const struct cn_members *members, cn_node_id id)
{
    return cn_members_position(members, id) >= 0;
}
/* The smallest number of members any two of which sets of that size share one. */
static inline uint32_t cn_majority(const struct cn_members *members)
{
    return members->count / 2 + 1;
}
/* How many members pass `test`. */
uint32_t cn_quorum_count(const struct cn_members *members, cn_member_test test,
                         const void *context);
/* Whether a majority of members pass `test`. */
bool cn_quorum_has(const struct cn_members *members, cn_member_test test, const void *context);
/* An election's state: won once a majority granted, lost once a majority rejected. */
enum cn_tally cn_quorum_tally(const struct cn_members *members, cn_vote_of vote,
                              const void *context);
/* The highest value a majority of members reached (each member's `value`, e.g. its match
 * index): the majority-th largest. */
uint64_t cn_quorum_index(const struct cn_members *members, cn_member_value value,
                         const void *context);

#endif
