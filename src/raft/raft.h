/*
 * raft.h — the Raft consensus core (Ongaro & Ousterhout 2014; Ongaro's thesis 2014).
 *
 * A pure state machine behind the protocol-neutral interface of consensus/consensus.h:
 * drivers reach it only through `raft_ops`. The core performs no I/O, reads no clock and
 * draws randomness only from a generator seeded by cn_config.random_seed.
 */
#ifndef CHORUS_RAFT_H
#define CHORUS_RAFT_H

#include "consensus/consensus.h"

extern const struct cn_ops raft_ops;

#endif
