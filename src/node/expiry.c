/*
 * expiry.c — the log time a leader stamps on the entries it proposes, and its clock entries
 * (docs/expiry.md).
 *
 * Neither consensus core knows about time: every entry the node proposes carries a stamp
 * after its write tag (NODE_ENTRY_HEADER_BYTES), which the proposing leader fills in just
 * before it hands the entry to its core, and which the state machine reads when the entry
 * applies (storage/kv_expiry.c). An entry re-proposed by a new Paxos leader keeps the stamp
 * it had; the store never lets its log time go backwards, so an older stamp only means "no
 * time passed".
 *
 * The stamp (storage/kv_logclock.c, shared with the simulator): the previous stamp plus the
 * monotonic time elapsed (uv_now), corrected toward the wall clock by at most 1 ms per
 * 100 ms, so a wall clock that jumps moves log time by the slew at most. A leader in a new term starts from the store's log
 * time plus the monotonic time since this node saw it (the entry was appended before this
 * node applied it, so that never runs ahead of the previous leader); a cluster's very first
 * stamp is the wall clock, which keeps log time on the Unix scale.
 *
 * Clock entries: every NODE_EXPIRY_TICK_MS a leader whose store holds a deadline that its
 * log time (as it would stamp now) has reached proposes one KV_OP_EXPIRE_DUE entry, and one
 * at least every NODE_CLOCK_IDLE_MS while it holds any deadline (so that TTL counts down on
 * an idle cluster; a store without deadlines costs nothing). Applied,
 * it advances every replica's log time and deletes up to KV_EXPIRE_DUE_KEYS_MAX keys due:
 * reads then see keys expire about one tick late at most, and keys nobody reads are removed.
 * One such entry is in flight per group at a time. Followers never delete on their own.
 */
#include <string.h>
#include <time.h>

#include "node/node_internal.h"
#include "storage/kv_command.h"
#include "storage/kv_logclock.h"

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The store's log time moved (an apply): remember when this node saw it. */
static void clock_observe(struct node_group *g, uint64_t mono_ms)
{
    uint64_t applied = kv_time(g->kv);
    if (applied != g->clock.applied.time_ms || g->clock.applied.seen_mono_ms == 0) {
        g->clock.applied.time_ms = applied;
        g->clock.applied.seen_mono_ms = mono_ms;
    }
}

/* The log time a stamp taken now gets (storage/kv_logclock.c); `commit` makes it the last
 * one given. */
static uint64_t clock_read(struct node_group *g, bool commit)
{
    uint64_t mono = node_now_ms(g->node);
    clock_observe(g, mono);
    return kv_logclock_stamp(&g->clock.leader, g->status.term, &g->clock.applied, mono,
                             wall_ms(), commit);
}

bool node_entry_stamp(struct node_group *g, uint8_t *data, size_t len)
{
    uint64_t unused;
    if (len < NODE_ENTRY_HEADER_BYTES ||
        !kv_stamp_read(data + NODE_WRITE_TAG_BYTES, len - NODE_WRITE_TAG_BYTES, &unused))
        return false;
    kv_stamp_write(data + NODE_WRITE_TAG_BYTES, clock_read(g, true));
    return true;
}

/* Proposes one clock entry (tag 0: no request waits for it). */
static void propose_due(struct node_group *g)
{
    struct kv_bytes none[1] = {{0}};
    struct kv_command command = {.op = KV_OP_EXPIRE_DUE, .args = none};
    uint8_t payload[NODE_ENTRY_HEADER_BYTES + KV_COMMAND_HEADER_BYTES];
    size_t len = 0;
    const char *reason = NULL;
    memset(payload, 0, NODE_WRITE_TAG_BYTES);
    kv_stamp_init(payload + NODE_WRITE_TAG_BYTES);
    int rv = kv_command_encode(&command, payload + NODE_ENTRY_HEADER_BYTES,
                               sizeof payload - NODE_ENTRY_HEADER_BYTES, &len, &reason);
    assert(rv == KV_OK && len == KV_COMMAND_HEADER_BYTES);
    node_entry_stamp(g, payload, sizeof payload);
    uint64_t index = 0, term = 0;
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = payload,
                         .data_len = (uint32_t)sizeof payload, .out_index = &index,
                         .out_term = &term};
    if (node_step(g, &e) == CN_OK) {
        g->clock.due_index = index;
        g->clock.due_term = term;
        g->node->stats.proposals++;
        g->counters.proposals++;
    }
}

/* A leader's look at its deadlines: a clock entry when one is due and none is in flight. */
static void group_expiry_tick(struct node_group *g, uint64_t now_ms)
{
    clock_observe(g, now_ms);
    if (g->status.role != CN_ROLE_LEADER || now_ms - g->clock.checked_ms < NODE_EXPIRY_TICK_MS)
        return;
    g->clock.checked_ms = now_ms;
    if (g->clock.due_index != 0 && g->clock.due_term == g->status.term &&
        g->applied_index < g->clock.due_index)
        return;
    g->clock.due_index = 0;
    struct kv_expiry_stats stats;
    if (kv_expiry_stats(g->kv, &stats) != KV_OK || stats.volatile_keys == 0)
        return;
    uint64_t now = clock_read(g, false);
    if (stats.next_deadline_ms <= now || now >= stats.time_ms + NODE_CLOCK_IDLE_MS)
        propose_due(g);
}

void node_expiry_tick(struct node *node)
{
    uint64_t now = node_now_ms(node);
    for (uint32_t i = 0; i < node->hosted_count; i++)
        group_expiry_tick(node->hosted[i], now);
}
