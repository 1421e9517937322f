/*
 * progress.h — how far a peer holds a group's log, as its own messages report it.
 *
 * A driver that adds a member waits until the new member caught up before it promotes it
 * (Raft thesis §4.2.1, "catching up new servers"), and the rebalancer waits until the new
 * replica of a shard holds what was chosen under the configuration it replaces. Each core
 * reports a peer's progress in another message: a Raft follower (or learner) acknowledges the
 * index it matched in its append answers (§5.3); a Multi-Paxos learner learns chosen values
 * by catch-up, not by accepts, and reports its chosen prefix in its lease answers
 * (src/paxos/learn.c). This is the one place that knows which, so that node code asks
 * "how far did this peer say it is" without naming a protocol.
 */
#ifndef CHORUS_CONSENSUS_PROGRESS_H
#define CHORUS_CONSENSUS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

/* Whether `m` reports how far its sender holds the group's log, and the highest index it
 * holds through, in *index: a Raft append answer's matched index, a Multi-Paxos lease
 * answer's chosen prefix. A rejection reports nothing. */
bool cn_progress_reported(const struct cn_message *m, uint64_t *index);

#endif
