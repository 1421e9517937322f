/*
 * kv_logclock.h — the log time a leader stamps on the entries it proposes (docs/expiry.md).
 * Pure: the caller hands in its monotonic and wall clocks, so the node (src/node/expiry.c)
 * and the simulator (src/sim/client.c, with drifting and jumping wall clocks) run the same
 * code.
 *
 * A stamp is the anchor time plus the monotonic time elapsed since it was taken, moved toward
 * the wall clock by at most 1 ms per KV_LOGCLOCK_SLEW_PER_MS ms, re-anchored every
 * KV_LOGCLOCK_ANCHOR_MS, and never below the previous stamp. In a new term (or when the
 * store's log time passed the last stamp) it starts again from the store's log time plus the
 * monotonic time seen to pass since the caller saw the store reach it; a store at log time 0
 * (a new cluster) starts from the wall clock, which keeps log time on the Unix scale.
 */
#ifndef CHORUS_KV_LOGCLOCK_H
#define CHORUS_KV_LOGCLOCK_H

#include <stdbool.h>
#include <stdint.h>

enum {
    KV_LOGCLOCK_SLEW_PER_MS = 100,
    KV_LOGCLOCK_ANCHOR_MS = 1000,
};

struct kv_logclock {
    uint64_t term;           /* the term it was started in */
    uint64_t anchor_time_ms; /* a log time and the monotonic time it was taken at */
    uint64_t anchor_mono_ms;
    uint64_t last_ms;        /* the last stamp given */
};

/* The store's log time as the caller last saw it, and when (its monotonic clock). */
struct kv_logclock_seen {
    uint64_t time_ms;
    uint64_t seen_mono_ms;
};

/* The stamp an entry proposed now in `term` gets; `commit` makes it the last one given. */
uint64_t kv_logclock_stamp(struct kv_logclock *clock, uint64_t term,
                           const struct kv_logclock_seen *applied, uint64_t mono_ms,
                           uint64_t wall_ms, bool commit);

#endif
