/*
 * paxos.h — the Multi-Paxos consensus core (Lamport, "Paxos Made Simple" 2001, §3;
 * van Renesse & Altinbuken, "Paxos Made Moderately Complex" 2015).
 *
 * A pure state machine behind the protocol-neutral interface of consensus/consensus.h:
 * drivers reach it only through `paxos_ops`, exactly as they reach the Raft core. The core
 * performs no I/O, reads no clock and draws randomness only from a generator seeded by
 * cn_config.random_seed.
 *
 * Mapping onto consensus.h:
 *  - hard_state.term is the acceptor's promised ballot; hard_state.commit the chosen-prefix
 *    hint (never beyond what this node persisted); hard_state.vote is unused (0).
 *  - update.entries are accepted (slot, ballot, value) triples with entries_per_slot set: each
 *    replaces only its own slot on disk; ascending, not necessarily consecutive. Values learned
 *    as chosen (CN_MSG_CHOSEN) are persisted the same way before they are applied.
 *  - cn_restore.entries are the persisted accepted values after the snapshot, ascending by
 *    slot, possibly with gaps (an extension of consensus.h's "in index order").
 *  - entry_term(index) is the ballot the value at that slot was accepted in.
 *  - Roles: CANDIDATE runs phase 1, LEADER is the distinguished proposer past phase 1.
 */
#ifndef CHORUS_PAXOS_H
#define CHORUS_PAXOS_H

#include "consensus/consensus.h"

extern const struct cn_ops paxos_ops;

/* The packed configuration at the core's snapshot index (consensus/membership.h), as its
 * compaction left it: what a driver writes as snapshot.members with a snapshot of that index.
 * Joint when a change was chosen at or below the index and governs only later slots (the
 * alpha window, src/paxos/membership.c). */
void paxos_snapshot_members(const void *core, struct cn_members *out);

#endif
