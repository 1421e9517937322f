/*
 * node.c — drives one simulated node: a replica of every group, each core reached through
 * cn_ops exactly as consensus.h's driver loop says, and one disk the groups share.
 *
 * Per group at most one update is outstanding; its messages leave at once. The node persists
 * in batches, as a node with one WAL does (docs/sharding.md, "Many groups on one node"): it
 * takes the update of every group that has one; an update with nothing to persist is completed
 * at once; the others go into one batch, one write and one sync, which completes after one
 * random disk latency while other events keep arriving. At most one batch is in flight: an
 * update taken meanwhile (its messages already sent, as rule (1) allows) waits for the next
 * batch, issued as soon as the one in flight completes. When a batch completes, each of its
 * groups' updates is completed in group order (replica.c: disk, after-persist messages, apply,
 * reads, ack). A crash loses the batch in flight and everything volatile of every group.
 * While a group's update is outstanding, what its core's take_messages releases leaves after
 * each event. With storage "wal" (disk_wal.c) the batch also goes to the node's WAL when issued,
 * and a crashed node comes back with every group from what the WAL recovers.
 *
 * With one group this is exactly the driver of a single-group node: the batch is that group's
 * update, issued as soon as it is taken.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

static void sim_node_pump(struct sim *sim, uint32_t node);

/* Grows the restore buffer to hold `count` entries (the disk's bound caps it). */
static int sim_restore_reserve(struct sim *sim, uint32_t count)
{
    if (count <= sim->restore_capacity) return 0;
    uint32_t capacity = sim->restore_capacity ? sim->restore_capacity : 256;
    while (capacity < count) capacity *= 2;
    struct cn_entry *grown = realloc(sim->restore_entries, sizeof(*grown) * capacity);
    if (grown == NULL) return -1;
    sim->restore_entries = grown;
    sim->restore_capacity = capacity;
    return 0;
}

/* The core's random seed: group 0's is what a single-group node always had, so that one
 * group replays the seeds of before. */
static uint64_t sim_core_seed(const struct sim *sim, uint32_t node, uint32_t group)
{
    const struct sim_node *n = &sim->nodes[node];
    uint64_t seed = sim_rng_mix(sim->seed ^ sim_rng_mix(node + 1) ^
                                sim_rng_mix(n->incarnation * 0x1000193ull));
    return group == 0 ? seed : sim_rng_mix(seed ^ sim_rng_mix(0x67726f7570ull + group));
}

/* Creates one group's core from its disk (or the WAL) and its state machine from the
 * disk's snapshot. Returns 0, or -1 with a violation recorded. */
static int sim_replica_start(struct sim *sim, uint32_t node, uint32_t group)
{
    struct sim_node *n = &sim->nodes[node];
    struct sim_replica *r = sim_replica(sim, node, group);
    struct cn_config config;
    cn_config_defaults(&config);
    config.group = group;
    config.id = node + 1;
    config.members = sim_membership_initial(sim, node);
    config.election_ticks = sim->params.election_ticks;
    config.heartbeat_ticks = sim->params.heartbeat_ticks;
    config.pre_vote = sim->params.pre_vote;
    config.check_quorum = sim->params.check_quorum;
    config.message_entries_max = sim->params.message_entries_max;
    config.inflight_messages_max = sim->params.inflight_messages_max;
    config.random_seed = sim_core_seed(sim, node, group);
    /* A small alpha, so that Multi-Paxos changes take effect within a seed. */
    if (sim->options.membership) config.paxos_alpha_slots = SIM_MEMBERSHIP_ALPHA_SLOTS;
    if (sim_restore_reserve(sim, r->disk.count) != 0) {
        sim->sim_failed = true;
        sim_verdict_fail(&sim->verdict, "bound", "out of memory restoring node %u", node + 1);
        return -1;
    }
    struct cn_restore restore;
    struct wal_restore wal_restore;
    if (n->wal != NULL) {
        if (sim_wal_restore(sim, node, group, &wal_restore, &restore) != 0) return -1;
    } else {
        sim_disk_restore(&r->disk, &restore, sim->restore_entries);
    }
    int rc = sim->ops->create(&config, &restore, &r->core);
    if (n->wal != NULL) wal_restore_free(&wal_restore);
    if (rc != CN_OK) {
        r->core = NULL;
        sim_check_fail(&sim->checks[group], "restart", "node %u: create failed: %s", node + 1,
                       cn_strerror(rc));
        return -1;
    }
    sim_kvsm_reset(&r->kvsm);
    if (sim->options.kv_store && sim_kvstore_reset(sim, node, r) != 0) return -1;
    sim_clock_restarted(r);
    /* The configuration as of the snapshot the state machine starts from, else the one the
     * core was created with (configuration entries applied from here on follow). */
    if (r->disk.snapshot.index > 0 && r->disk.snapshot.members.count > 0)
        sim_membership_restored(sim, r, &r->disk.snapshot.members, r->disk.snapshot.index);
    else
        sim_membership_restored(sim, r, &config.members, 0);
    r->applied_index = 0;
    r->applied_term = 0;
    r->applied_rolling = 0;
    if (r->disk.snapshot.index > 0 &&
        sim_snapshot_decode(r, r->disk.snapshot_bytes, r->disk.snapshot_len) != 0) {
        sim_check_fail(&sim->checks[group], "restart", "node %u: its own snapshot does not "
                       "decode", node + 1);
        return -1;
    }
    r->update_outstanding = false;
    r->in_batch = false;
    r->queued = false;
    r->snapshot_taken_index = 0;
    r->read_count = 0;
    r->role = CN_ROLE_FOLLOWER;
    r->leader = 0;
    r->term = r->disk.hard_state.term;
    sim_check_restarted(&sim->checks[group], node);
    return 0;
}

/* (Re)starts a node from its disk: every group's core is restored from its persisted hard
 * state, snapshot meta and entries; its state machine from the snapshot bytes. */
void sim_node_start(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(!n->alive);
    for (uint32_t g = 0; g < sim->group_count; g++)
        if (sim_replica_start(sim, node, g) != 0) return;
    n->alive = true;
    n->incarnation++;
    n->batch_outstanding = false;
    SIM_HTML(sim, "\"start\",%u", node);
    for (uint32_t g = 0; g < sim->group_count; g++) {
        const struct sim_disk *disk = &sim_replica(sim, node, g)->disk;
        SIM_TRACE_GROUP(sim, (int)node, g, "start: term %" PRIu64 " commit %" PRIu64
                        " snapshot %" PRIu64 " entries to %" PRIu64, disk->hard_state.term,
                        disk->hard_state.commit, disk->snapshot.index, sim_disk_last_index(disk));
    }
    int64_t first_tick = sim->params.tick_us - (sim->now_us - n->tick_phase_us) %
                                                   sim->params.tick_us;
    sim_schedule(sim, first_tick, SIM_EV_TICK, node, n->incarnation, NULL);
    sim_node_pump(sim, node);
}

/* A crash: every core and everything volatile are gone; the batch in flight never completed
 * (its disk event is now stale: the incarnation changed). */
void sim_node_crash(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(n->alive);
    sim_stats_crash(sim, node); /* --compare: before it stops being the leader */
    if (n->wal != NULL) sim_wal_crash(sim, node); /* reads the batch in flight */
    for (uint32_t g = 0; g < sim->group_count; g++) {
        struct sim_replica *r = sim_replica(sim, node, g);
        sim->ops->destroy(r->core);
        r->core = NULL;
        r->update_outstanding = false;
        r->in_batch = false;
        r->queued = false;
        r->snapshot_taken_index = 0;
        r->read_count = 0;
        r->led_term = 0;
    }
    for (uint32_t to = 0; to < sim->node_count; to++) {
        struct sim_beats *b = &sim->beats[node][to];
        if (b->count > 0) sim->beats_pending--; /* heartbeats not yet sent die with it */
        b->count = 0;
    }
    n->alive = false;
    n->crashed_us = sim->now_us;
    n->crashed_incarnation = n->incarnation;
    n->incarnation++;
    n->batch_outstanding = false;
    n->crash_in_write = false;
    sim->result->crashes++;
    SIM_HTML(sim, "\"crash\",%u", node);
    for (uint32_t g = 0; g < sim->group_count; g++) {
        const struct sim_disk *disk = &sim_replica(sim, node, g)->disk;
        SIM_TRACE_GROUP(sim, (int)node, g, "CRASH (persisted: term %" PRIu64 " entries to %"
                        PRIu64 ")", disk->hard_state.term, sim_disk_last_index(disk));
    }
}

/* While a group's update is outstanding, what update rule (1) allows may leave early
 * (consensus.h take_messages; thesis §10.2.1): the leader's appends of entries proposed since.
 * The array stays valid only until the next call into the core, so every message is sent (and
 * encoded) before anything else is stepped into it. */
static void sim_node_take_messages(struct sim *sim, uint32_t node, uint32_t group)
{
    struct sim_replica *r = sim_replica(sim, node, group);
    if (!sim->nodes[node].alive || !r->update_outstanding || sim->ops->take_messages == NULL ||
        sim_failed(sim))
        return;
    const struct cn_message *messages = NULL;
    uint32_t count = sim->ops->take_messages(r->core, &messages);
    assert(count <= CN_UPDATE_MESSAGES_MAX);
    for (uint32_t i = 0; i < count; i++) sim_node_send(sim, node, &messages[i]);
}

int sim_node_step(struct sim *sim, uint32_t node, uint32_t group, const struct cn_event *event)
{
    assert(sim->nodes[node].alive && group < sim->group_count);
    int rc = sim->ops->step(sim_replica(sim, node, group)->core, event);
    sim_node_pump(sim, node);
    sim_node_take_messages(sim, node, group);
    return rc;
}

/* One tick of the node's clock reaches every group's core. */
void sim_node_tick(struct sim *sim, uint32_t node)
{
    struct cn_event event = {.type = CN_EVENT_TICK};
    for (uint32_t g = 0; g < sim->group_count && sim->nodes[node].alive; g++)
        sim_node_step(sim, node, g, &event);
    if (sim->nodes[node].alive)
        sim_schedule(sim, sim->params.tick_us, SIM_EV_TICK, node, sim->nodes[node].incarnation,
                     NULL);
}

/* Looks at a fresh update: role changes, one leader per term, leader completeness, commit
 * index monotonicity (all per group). */
static void sim_node_observe(struct sim *sim, uint32_t node, uint32_t group,
                             const struct cn_update *u)
{
    struct sim_replica *r = sim_replica(sim, node, group);
    struct sim_check *check = &sim->checks[group];
    if (u->role != r->role || u->term != r->term || u->leader != r->leader) {
        SIM_TRACE_GROUP(sim, (int)node, group, "role %s term %" PRIu64 " leader %u",
                        cn_role_name(u->role), u->term, u->leader);
        SIM_HTML(sim, "\"role\",%u,%u,\"%s\",%" PRIu64 ",%u", node, group,
                 cn_role_name(u->role), u->term, u->leader);
    }
    r->role = u->role;
    r->term = u->term;
    r->leader = u->leader;
    if (u->role == CN_ROLE_LEADER) {
        sim_check_leader(check, node, u->term);
        bool new_term = r->led_term != u->term;
        if (new_term) {
            r->led_term = u->term;
            sim_check_became_leader(check, node, sim->ops, r->core, u->term);
            sim_fault_new_leader(sim, node, group);
        }
        sim_membership_observe(sim, node, group, u, new_term);
    }
    sim_check_commit_index(check, node, u->commit_index);
}

static bool sim_update_persists(const struct cn_update *u)
{
    return u->hard_state_changed || u->snapshot_chunk != NULL || u->snapshot_chunk_len > 0 ||
           u->snapshot_present || u->entry_count > 0;
}

/* The early-ack bug (--plant early-ack): the highest group of a batch of several whose update
 * went to the WAL when the batch was issued (not a snapshot install, written at completion)
 * is completed as if the shared sync had already finished. */
static void sim_node_plant_early_ack(struct sim *sim, uint32_t node)
{
    uint32_t members = 0, last = SIM_GROUPS_MAX;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        const struct sim_replica *r = sim_replica(sim, node, g);
        if (!r->in_batch) continue;
        members++;
        if (!r->update.snapshot_present) last = g;
    }
    if (members < 2 || last == SIM_GROUPS_MAX) return;
    SIM_TRACE_GROUP(sim, (int)node, last, "PLANTED: acked before the batch's sync");
    sim_replica(sim, node, last)->in_batch = false;
    sim_replica_complete(sim, node, last);
}

/* Issues the next batch when none is in flight: every queued update joins it, one write and
 * one sync for all, completing after one disk latency. */
static void sim_node_issue(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    if (n->batch_outstanding || !n->alive || sim_failed(sim)) return;
    uint32_t members = 0;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        struct sim_replica *r = sim_replica(sim, node, g);
        if (!r->queued) continue;
        r->queued = false;
        r->in_batch = true;
        members++;
    }
    if (members == 0) return;
    n->batch_outstanding = true;
    sim_stats_persist(sim);
    if (n->wal != NULL) sim_wal_issue(sim, node);
    int64_t high = sim->now_us < n->disk_slow_until_us ? n->disk_slow_us_max
                                                        : sim->params.disk_us_max;
    int64_t latency = sim_rng_range(&sim->rng_disk, sim->params.disk_us_min, high);
    sim_schedule(sim, latency, SIM_EV_DISK_DONE, node, n->incarnation, NULL);
    if (n->crash_in_write) {
        n->crash_in_write = false;
        sim_schedule(sim, (int64_t)sim_rng_below(&sim->rng_disk, (uint64_t)latency),
                     SIM_EV_CRASH, node, n->incarnation | SIM_CRASH_IN_WRITE, NULL);
    }
    if (members > 1 && sim->options.plant == SIM_PLANT_EARLY_ACK && n->wal != NULL)
        sim_node_plant_early_ack(sim, node);
}

/* Takes one group's update: observed, its messages sent; queued for the next batch when it
 * persists something, else completed at once (nothing to write, no sync to wait for). */
static void sim_node_take(struct sim *sim, uint32_t node, uint32_t group)
{
    struct sim_replica *r = sim_replica(sim, node, group);
    sim->ops->get_update(r->core, &r->update);
    r->update_outstanding = true;
    sim_node_observe(sim, node, group, &r->update);
    for (uint32_t i = 0; i < r->update.message_count; i++)
        sim_node_send(sim, node, &r->update.messages[i]);
    if (sim_update_persists(&r->update)) {
        r->queued = true;
        return;
    }
    sim_replica_complete(sim, node, group);
}

/* Takes updates until no group without one outstanding has one, then issues the batch. */
static void sim_node_pump(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    for (uint32_t round = 0; round < SIM_PUMP_ROUNDS_MAX; round++) {
        bool took = false;
        for (uint32_t g = 0; g < sim->group_count; g++) {
            if (!n->alive || sim_failed(sim)) return;
            struct sim_replica *r = sim_replica(sim, node, g);
            if (r->update_outstanding || !sim->ops->has_update(r->core)) continue;
            sim_node_take(sim, node, g);
            took = true;
        }
        if (!took) {
            sim_node_issue(sim, node);
            return;
        }
    }
    sim_verdict_fail(&sim->verdict, "livelock", "node %u produced %u updates without pause",
                     node + 1, SIM_PUMP_ROUNDS_MAX);
}

/* The batch's disk latency passed: it is durable; each of its groups' updates completes. */
void sim_node_disk_done(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(n->alive && n->batch_outstanding);
    n->batch_outstanding = false;
    if (n->wal != NULL) sim_wal_complete(sim, node);
    for (uint32_t g = 0; g < sim->group_count && !sim_failed(sim); g++) {
        struct sim_replica *r = sim_replica(sim, node, g);
        if (!r->in_batch) continue;
        r->in_batch = false;
        sim_replica_complete(sim, node, g);
    }
    sim_node_pump(sim, node);
}
