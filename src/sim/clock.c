/*
 * clock.c — the simulated nodes' wall clocks and the log time their leaders stamp on the
 * entries they propose (docs/expiry.md, "What the simulator must prove").
 *
 * Each node's wall clock is the virtual time plus an offset (up to 2 s at the start) that
 * jumps forward or backward by up to an hour, on average every 1.5 s of virtual time, and runs
 * up to 1 % fast or slow. The leader's stamp is storage/kv_logclock.c's, as on a real node,
 * with the virtual time as its monotonic clock. Everything is drawn from a stream of its own
 * (SIM_RNG_CLOCK) and only when a stamp is taken, so the other streams are unchanged.
 *
 * Checked on every apply (replica.c): a Raft leader's stamps never go back within its term
 * (its log is its proposals in order; a Multi-Paxos leader re-proposes older leaders' values
 * with their stamps, so there only the next rule holds); the state machine's log time never
 * goes back along a replica's log; and every replica is at the same log time after the same
 * index (also part of the state machine's digest, which snapshots carry). Reads of the keys
 * written with a time to live are checked in client.c (sim_client_ttl_read).
 */
#include <inttypes.h>
#include <string.h>

#include "sim/world.h"
#include "storage/kv.h"

enum {
    SIM_WALL_BASE_MS = 1700000000000ll / 1, /* the Unix scale, as real wall clocks */
    SIM_WALL_OFFSET_MS_MAX = 2000,
    SIM_WALL_DRIFT_PPM_MAX = 10000,         /* 1 % */
    SIM_WALL_JUMP_MS_MAX = 3600 * 1000,
    SIM_WALL_JUMP_EVERY_MS_MAX = 3000,
};

void sim_clock_start(struct sim *sim)
{
    sim_rng_init(&sim->rng_clock, sim->seed, SIM_RNG_CLOCK);
    for (uint32_t i = 0; i < sim->node_count; i++) {
        struct sim_node *n = &sim->nodes[i];
        n->wall_offset_ms = sim_rng_range(&sim->rng_clock, -SIM_WALL_OFFSET_MS_MAX,
                                          SIM_WALL_OFFSET_MS_MAX);
        n->wall_drift_ppm = (int32_t)sim_rng_range(&sim->rng_clock, -SIM_WALL_DRIFT_PPM_MAX,
                                                   SIM_WALL_DRIFT_PPM_MAX);
        n->wall_next_jump_ms = sim_rng_range(&sim->rng_clock, 1, SIM_WALL_JUMP_EVERY_MS_MAX);
    }
}

static uint64_t sim_wall_ms(struct sim *sim, struct sim_node *n)
{
    int64_t now_ms = sim->now_us / 1000;
    while (now_ms >= n->wall_next_jump_ms) {
        n->wall_offset_ms += sim_rng_range(&sim->rng_clock, -SIM_WALL_JUMP_MS_MAX,
                                           SIM_WALL_JUMP_MS_MAX);
        n->wall_next_jump_ms += sim_rng_range(&sim->rng_clock, 1, SIM_WALL_JUMP_EVERY_MS_MAX);
    }
    int64_t drifted = now_ms + now_ms * n->wall_drift_ppm / 1000000;
    return (uint64_t)(SIM_WALL_BASE_MS + drifted + n->wall_offset_ms);
}

/* The state machine's log time moved: when this replica saw it. */
static void sim_clock_observe(struct sim *sim, struct sim_replica *r)
{
    if (r->kvsm.time_ms != r->clock_seen.time_ms || r->clock_seen.seen_mono_ms == 0) {
        r->clock_seen.time_ms = r->kvsm.time_ms;
        r->clock_seen.seen_mono_ms = (uint64_t)(sim->now_us / 1000) + 1;
    }
}

size_t sim_clock_stamp(struct sim *sim, uint32_t node, uint32_t group, const uint8_t *data,
                       size_t len, uint8_t *entry, size_t cap)
{
    if (len + KV_STAMP_BYTES > cap) return 0;
    struct sim_replica *r = sim_replica(sim, node, group);
    sim_clock_observe(sim, r);
    uint64_t mono = (uint64_t)(sim->now_us / 1000) + 1;
    uint64_t wall = sim_wall_ms(sim, &sim->nodes[node]);
    uint64_t stamp = kv_logclock_stamp(&r->clock, r->term, &r->clock_seen, mono, wall,
                                       r->role == CN_ROLE_LEADER);
    if (sim->options.plant == SIM_PLANT_WALL_STAMP)
        stamp = wall; /* the planted bug: the wall clock's jumps go into the log */
    kv_stamp_write(entry, stamp);
    memcpy(entry + KV_STAMP_BYTES, data, len);
    return len + KV_STAMP_BYTES;
}

void sim_clock_restarted(struct sim_replica *r)
{
    memset(&r->clock, 0, sizeof r->clock);
    memset(&r->clock_seen, 0, sizeof r->clock_seen);
    r->stamp_term = 0;
    r->stamp_last_ms = 0;
}

void sim_clock_applied(struct sim *sim, uint32_t node, struct sim_replica *r,
                       const struct cn_entry *e, uint64_t stamp_ms, uint64_t time_before_ms)
{
    struct sim_check *check = &sim->checks[r->group];
    sim_clock_observe(sim, r);
    if (r->kvsm.time_ms < time_before_ms)
        sim_check_fail(check, "log time", "node %u: log time went back at index %" PRIu64
                       " (%" PRIu64 " after %" PRIu64 ")", node + 1, e->index, r->kvsm.time_ms,
                       time_before_ms);
    bool one_leader_per_log_term = check->protocol != NULL && check->protocol->durable_same_term;
    if (stamp_ms != 0 && one_leader_per_log_term) {
        if (e->term == r->stamp_term && stamp_ms < r->stamp_last_ms)
            sim_check_fail(check, "log time", "node %u: index %" PRIu64 " of term %" PRIu64
                           " is stamped %" PRIu64 ", before the term's earlier %" PRIu64,
                           node + 1, e->index, e->term, stamp_ms, r->stamp_last_ms);
        r->stamp_term = e->term;
        r->stamp_last_ms = stamp_ms;
    }
    sim_check_log_time(check, node, e->index, r->kvsm.time_ms);
}
