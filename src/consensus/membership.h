/*
 * membership.h — configurations (struct cn_membership, consensus.h): their packed form, their
 * validity, and the quorums over them, joint or not (Raft §6; thesis §4.3).
 *
 * The packed form is one struct cn_members whose ids carry role bits, so that snapshots, the
 * codec and the WAL carry a configuration in the field that always held the voters, and a list
 * of plain ids still reads as "these are the voters". Per node, at most one entry:
 *   no bits                      a voter (in `voters`; while joint, also in `outgoing`
 *                                when CN_MEMBER_OUTGOING is set)
 *   CN_MEMBER_OUTGOING           a voter of the outgoing configuration as well
 *   CN_MEMBER_NOT_INCOMING       not a voter of the incoming configuration (with OUTGOING:
 *                                a voter being removed)
 *   CN_MEMBER_LEARNER            a learner (may combine with OUTGOING | NOT_INCOMING: a voter
 *                                being demoted, as etcd's LearnersNext)
 * Entries are sorted by their packed value, so the codec's "ascending, no zero" rule holds.
 * Node ids in a configuration must stay below CN_MEMBER_ID_LIMIT.
 *
 * A CN_ENTRY_CONFIG entry's data is the packed form: u32 count, then count u32, little-endian.
 */
#ifndef CHORUS_CONSENSUS_MEMBERSHIP_H
#define CHORUS_CONSENSUS_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "consensus/quorum.h"

enum {
    CN_MEMBER_LEARNER = 1u << 31,
    CN_MEMBER_OUTGOING = 1u << 30,
    CN_MEMBER_NOT_INCOMING = 1u << 29,
    CN_MEMBER_ID_LIMIT = 1u << 29,
    CN_MEMBERSHIP_ENTRY_BYTES_MAX = 4 + 4 * CN_MEMBERS_MAX,
};

/* Valid: voters 1..CN_MEMBERS_MAX, every list sorted without duplicates or zero, ids below
 * CN_MEMBER_ID_LIMIT, learners not voters of the incoming configuration, and the union of
 * all three at most CN_MEMBERS_MAX nodes. An empty configuration (all counts 0) is valid only
 * where `allow_empty` (a node created to join a group learns its configuration from the
 * leader). */
bool cn_membership_valid(const struct cn_membership *membership, bool allow_empty);
static inline bool cn_membership_joint(const struct cn_membership *membership)
{
    return membership->outgoing.count > 0;
}
static inline bool cn_membership_empty(const struct cn_membership *membership)
{
    return membership->voters.count == 0 && membership->outgoing.count == 0 &&
           membership->learners.count == 0;
}
/* A voter of either half: may campaign and vote. */
bool cn_membership_is_voter(const struct cn_membership *membership, cn_node_id id);
/* In any list. */
bool cn_membership_contains(const struct cn_membership *membership, cn_node_id id);
/* The union of all three lists, ascending; returns the count (<= CN_MEMBERS_MAX). */
uint32_t cn_membership_nodes(const struct cn_membership *membership,
                             cn_node_id ids[CN_MEMBERS_MAX]);
bool cn_membership_equal(const struct cn_membership *a, const struct cn_membership *b);
/* Whether a node may be made a voter: the caller's judgement of a learner (alive, caught up,
 * staying). */
typedef bool (*cn_member_eligible)(const void *context, cn_node_id id);
/* The learner to promote so that a settled configuration that lost voters (removals) regains
 * up to `voters_max` of them: the lowest-numbered learner `eligible` accepts; 0 when the
 * configuration is joint, already has `voters_max` voters, or has no such learner. One at a
 * time, each its own change (thesis §4.1: a single-server change at a time is always safe). */
cn_node_id cn_membership_learner_to_promote(const struct cn_membership *membership,
                                            uint32_t voters_max, cn_member_eligible eligible,
                                            const void *context);

/* Packed form <-> configuration. unpack returns false on an invalid packed form. A plain
 * list of ids unpacks as voters. */
void cn_membership_pack(const struct cn_membership *membership, struct cn_members *packed);
bool cn_membership_unpack(const struct cn_members *packed, struct cn_membership *membership);
/* Entry data <-> configuration. encode returns the bytes written (<= the bound above). */
uint32_t cn_membership_encode(const struct cn_membership *membership,
                              uint8_t out[CN_MEMBERSHIP_ENTRY_BYTES_MAX]);
bool cn_membership_decode(const uint8_t *data, uint32_t data_len,
                          struct cn_membership *membership);

/* Joint quorums: a majority of `voters` and, while joint, of `outgoing` (Raft §6). */
bool cn_membership_has_quorum(const struct cn_membership *membership, cn_member_test test,
                              const void *context);
enum cn_tally cn_membership_tally(const struct cn_membership *membership, cn_vote_of vote,
                                  const void *context);
/* The highest value both majorities reached (the lower of the two quorum indexes). */
uint64_t cn_membership_index(const struct cn_membership *membership, cn_member_value value,
                             const void *context);

#endif
