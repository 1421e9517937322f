/*
 * kv_logclock.c — the leader's log time (kv_logclock.h, docs/expiry.md).
 */
#include "storage/kv_logclock.h"

uint64_t kv_logclock_stamp(struct kv_logclock *clock, uint64_t term,
                           const struct kv_logclock_seen *applied, uint64_t mono_ms,
                           uint64_t wall_ms, bool commit)
{
    struct kv_logclock next = *clock;
    if (next.term != term || next.last_ms < applied->time_ms) {
        /* A new term, or the log's time passed ours (another leader's entries): start from
         * the log, plus what the caller saw elapse since (the entry was appended before the
         * caller applied it, so this is never ahead of the leader that appended it). */
        uint64_t seen = mono_ms >= applied->seen_mono_ms ? mono_ms - applied->seen_mono_ms : 0;
        next.term = term;
        next.anchor_time_ms = applied->time_ms == 0 ? wall_ms : applied->time_ms + seen;
        next.anchor_mono_ms = mono_ms;
        next.last_ms = applied->time_ms;
    }
    uint64_t elapsed = mono_ms >= next.anchor_mono_ms ? mono_ms - next.anchor_mono_ms : 0;
    uint64_t t = next.anchor_time_ms + elapsed;
    int64_t slew_max = (int64_t)(elapsed / KV_LOGCLOCK_SLEW_PER_MS);
    int64_t toward_wall = (int64_t)(wall_ms - t);
    if (toward_wall > slew_max)
        toward_wall = slew_max;
    if (toward_wall < -slew_max)
        toward_wall = -slew_max;
    t = (uint64_t)((int64_t)t + toward_wall);
    if (t < next.last_ms)
        t = next.last_ms; /* never backwards, whatever the wall clock did */
    if (elapsed >= KV_LOGCLOCK_ANCHOR_MS) {
        next.anchor_time_ms = t;
        next.anchor_mono_ms = mono_ms;
    }
    next.last_ms = t;
    if (commit)
        *clock = next;
    return t;
}
