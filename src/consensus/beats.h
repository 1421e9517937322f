/*
 * beats.h — the record of a coalesced heartbeat (CockroachDB's scheme; docs/sharding.md,
 * step 6). A node sends the heartbeats and heartbeat answers of every group it shares with a
 * peer as one CN_MSG_NODE_HEARTBEATS whose single entry is a run of fixed-size records; the
 * receiver steps each record into its group as the message it stands for. The node
 * (src/node/heartbeats.c) and the simulator (src/sim/wire.c) share this encoding, so the
 * simulator's faults exercise exactly what the node sends.
 *
 * Only messages whose every field fits a record are coalesced: Raft's CN_MSG_HEARTBEAT and
 * its answer, Multi-Paxos's CN_MSG_LEASE and its answer, with no entries, snapshot, log term
 * or hints. Record (little-endian, CN_BEAT_RECORD_BYTES): u32 group | u8 type | u8 reject |
 * u64 term | u64 index | u64 commit | u64 context.
 */
#ifndef CHORUS_CONSENSUS_BEATS_H
#define CHORUS_CONSENSUS_BEATS_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum { CN_BEAT_RECORD_BYTES = 4 + 1 + 1 + 4 * 8 };

/* Whether every field of m fits a record (from and to travel in the carrying message). */
bool cn_beat_coalescable(const struct cn_message *m);
/* Writes m's record; m must be coalescable. */
void cn_beat_record_encode(const struct cn_message *m, uint8_t record[CN_BEAT_RECORD_BYTES]);
/* The message a record stands for, from `from` to `to`; false for a record no node of this
 * version writes (a type that is not coalesced, a reject flag other than 0 or 1). */
bool cn_beat_record_decode(const uint8_t record[CN_BEAT_RECORD_BYTES], cn_node_id from,
                           cn_node_id to, struct cn_message *m);

#endif
