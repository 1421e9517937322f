/*
 * node.c — drives one simulated node's core through cn_ops, exactly as consensus.h's driver
 * loop says: at most one update outstanding; its messages leave at once; its persistence takes
 * a random disk latency during which other events keep arriving; when the disk completes, the
 * sim disk is written in order (hard state, snapshot chunk, snapshot install, entries), then the
 * after-persist messages leave, then committed entries are applied, then reads are answered,
 * then the update is acked. A crash loses the outstanding persistence and everything volatile.
 * While an update is outstanding, what the core's take_messages releases leaves after each event.
 * With storage "wal" (disk_wal.c) the update's batch also goes to the node's WAL when taken, and
 * a crashed node comes back from what the WAL recovers.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

enum {
    SIM_SNAPSHOT_MAGIC = 0x31504e53u, /* "SNP1" */
    SIM_SNAPSHOT_HEADER_BYTES = 4 + 8 + 8 + 8,
};

static void sim_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t sim_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A snapshot's bytes: a header (magic, index, term, rolling hash of the log prefix it covers)
 * and the state machine. The rolling hash travels with the snapshot so that the log matching
 * check can continue the chain on a node that installs it. */
static int64_t sim_snapshot_encode(const struct sim_node *n, uint8_t *buf, size_t capacity)
{
    assert(capacity >= SIM_SNAPSHOT_HEADER_BYTES);
    for (int i = 0; i < 4; i++) buf[i] = (uint8_t)(SIM_SNAPSHOT_MAGIC >> (8 * i));
    sim_put_u64(buf + 4, n->applied_index);
    sim_put_u64(buf + 12, n->applied_term);
    sim_put_u64(buf + 20, n->applied_rolling);
    int64_t len = sim_kvsm_encode(&n->kvsm, buf + SIM_SNAPSHOT_HEADER_BYTES,
                                  capacity - SIM_SNAPSHOT_HEADER_BYTES);
    return len < 0 ? -1 : len + SIM_SNAPSHOT_HEADER_BYTES;
}

/* Decodes snapshot bytes into the node's state machine and applied position. */
static int sim_snapshot_decode(struct sim_node *n, const uint8_t *buf, uint32_t len)
{
    if (len < SIM_SNAPSHOT_HEADER_BYTES) return -1;
    uint32_t magic = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                     (uint32_t)buf[3] << 24;
    if (magic != SIM_SNAPSHOT_MAGIC) return -1;
    if (sim_kvsm_decode(&n->kvsm, buf + SIM_SNAPSHOT_HEADER_BYTES,
                        len - SIM_SNAPSHOT_HEADER_BYTES) != 0)
        return -1;
    n->applied_index = sim_get_u64(buf + 4);
    n->applied_term = sim_get_u64(buf + 12);
    n->applied_rolling = sim_get_u64(buf + 20);
    return 0;
}

static struct cn_members sim_members(const struct sim *sim)
{
    struct cn_members members = {.count = sim->node_count};
    for (uint32_t i = 0; i < sim->node_count; i++) members.ids[i] = i + 1;
    return members;
}

static void sim_node_pump(struct sim *sim, uint32_t node);
static void sim_node_complete(struct sim *sim, uint32_t node);

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

/* (Re)starts a node from its disk: the core is restored from the persisted hard state, snapshot
 * meta and entries; the state machine from the snapshot bytes. */
void sim_node_start(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(!n->alive);
    struct cn_config config;
    cn_config_defaults(&config);
    config.id = node + 1;
    config.members = sim_members(sim);
    config.election_ticks = sim->params.election_ticks;
    config.heartbeat_ticks = sim->params.heartbeat_ticks;
    config.pre_vote = sim->params.pre_vote;
    config.check_quorum = sim->params.check_quorum;
    config.message_entries_max = sim->params.message_entries_max;
    config.inflight_messages_max = sim->params.inflight_messages_max;
    config.random_seed = sim_rng_mix(sim->seed ^ sim_rng_mix(node + 1) ^
                                     sim_rng_mix(n->incarnation * 0x1000193ull));
    if (sim_restore_reserve(sim, n->disk.count) != 0) {
        sim->sim_failed = true;
        sim_check_fail(&sim->check, "bound", "out of memory restoring node %u", node + 1);
        return;
    }
    struct cn_restore restore;
    struct wal_restore wal_restore;
    if (n->wal != NULL) {
        if (sim_wal_restore(sim, node, &wal_restore, &restore) != 0) return;
    } else {
        sim_disk_restore(&n->disk, &restore, sim->restore_entries);
    }
    int rc = sim->ops->create(&config, &restore, &n->core);
    if (n->wal != NULL) wal_restore_free(&wal_restore);
    if (rc != CN_OK) {
        sim_check_fail(&sim->check, "restart", "node %u: create failed: %s", node + 1,
                       cn_strerror(rc));
        return;
    }
    sim_kvsm_reset(&n->kvsm);
    n->applied_index = 0;
    n->applied_term = 0;
    n->applied_rolling = 0;
    if (n->disk.snapshot.index > 0 &&
        sim_snapshot_decode(n, n->disk.snapshot_bytes, n->disk.snapshot_len) != 0) {
        sim_check_fail(&sim->check, "restart", "node %u: its own snapshot does not decode",
                       node + 1);
        return;
    }
    n->alive = true;
    n->incarnation++;
    n->update_outstanding = false;
    n->snapshot_taken_index = 0;
    n->read_count = 0;
    n->role = CN_ROLE_FOLLOWER;
    n->leader = 0;
    n->term = n->disk.hard_state.term;
    sim_check_restarted(&sim->check, node);
    SIM_TRACE(sim, (int)node, "start: term %" PRIu64 " commit %" PRIu64 " snapshot %" PRIu64
              " entries to %" PRIu64, n->disk.hard_state.term, n->disk.hard_state.commit,
              n->disk.snapshot.index, sim_disk_last_index(&n->disk));
    int64_t first_tick = sim->params.tick_us - (sim->now_us - n->tick_phase_us) %
                                                   sim->params.tick_us;
    sim_schedule(sim, first_tick, SIM_EV_TICK, node, n->incarnation, NULL);
    sim_node_pump(sim, node);
}

/* A crash: the core and everything volatile are gone; the outstanding update's persistence
 * never happened (its disk event is now stale: the incarnation changed). */
void sim_node_crash(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(n->alive);
    sim_stats_crash(sim, node); /* --compare: before it stops being the leader */
    if (n->wal != NULL) sim_wal_crash(sim, node); /* reads the outstanding update */
    sim->ops->destroy(n->core);
    n->core = NULL;
    n->alive = false;
    n->crashed_us = sim->now_us;
    n->crashed_incarnation = n->incarnation;
    n->incarnation++;
    n->update_outstanding = false;
    n->snapshot_taken_index = 0;
    n->read_count = 0;
    n->led_term = 0;
    n->crash_in_write = false;
    sim->result->crashes++;
    SIM_TRACE(sim, (int)node, "CRASH (persisted: term %" PRIu64 " entries to %" PRIu64 ")",
              n->disk.hard_state.term, sim_disk_last_index(&n->disk));
}

/* While the node's update waits for its disk, what update rule (1) allows may leave early
 * (consensus.h take_messages; thesis §10.2.1): the leader's appends of entries proposed since.
 * The array stays valid only until the next call into the core, so every message is sent (and
 * encoded) before anything else is stepped into it. */
static void sim_node_take_messages(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    if (!n->alive || !n->update_outstanding || sim->ops->take_messages == NULL ||
        sim->check.failed)
        return;
    const struct cn_message *messages = NULL;
    uint32_t count = sim->ops->take_messages(n->core, &messages);
    assert(count <= CN_UPDATE_MESSAGES_MAX);
    for (uint32_t i = 0; i < count; i++) sim_node_send(sim, node, &messages[i]);
}

int sim_node_step(struct sim *sim, uint32_t node, const struct cn_event *event)
{
    struct sim_node *n = &sim->nodes[node];
    assert(n->alive);
    int rc = sim->ops->step(n->core, event);
    sim_node_pump(sim, node);
    sim_node_take_messages(sim, node);
    return rc;
}

void sim_node_tick(struct sim *sim, uint32_t node)
{
    struct cn_event event = {.type = CN_EVENT_TICK};
    sim_node_step(sim, node, &event);
    if (sim->nodes[node].alive)
        sim_schedule(sim, sim->params.tick_us, SIM_EV_TICK, node, sim->nodes[node].incarnation,
                     NULL);
}

/* Looks at a fresh update: role changes, one leader per term, leader completeness, commit
 * index monotonicity. */
static void sim_node_observe(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_node *n = &sim->nodes[node];
    if (u->role != n->role || u->term != n->term || u->leader != n->leader) {
        SIM_TRACE(sim, (int)node, "role %s term %" PRIu64 " leader %u", cn_role_name(u->role),
                  u->term, u->leader);
    }
    n->role = u->role;
    n->term = u->term;
    n->leader = u->leader;
    if (u->role == CN_ROLE_LEADER) {
        sim_check_leader(&sim->check, node, u->term);
        if (n->led_term != u->term) {
            n->led_term = u->term;
            sim_check_became_leader(&sim->check, node, sim->ops, n->core, u->term);
            sim_fault_new_leader(sim, node);
        }
    }
    sim_check_commit_index(&sim->check, node, u->commit_index);
}

static bool sim_update_persists(const struct cn_update *u)
{
    return u->hard_state_changed || u->snapshot_chunk != NULL || u->snapshot_chunk_len > 0 ||
           u->snapshot_present || u->entry_count > 0;
}

/* Handles updates until the core has none, or one waits for the disk. */
static void sim_node_pump(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    for (uint32_t round = 0; round < SIM_PUMP_ROUNDS_MAX; round++) {
        if (!n->alive || n->update_outstanding || sim->check.failed) return;
        if (!sim->ops->has_update(n->core)) return;
        sim->ops->get_update(n->core, &n->update);
        n->update_outstanding = true;
        sim_node_observe(sim, node, &n->update);
        for (uint32_t i = 0; i < n->update.message_count; i++)
            sim_node_send(sim, node, &n->update.messages[i]);
        if (sim_update_persists(&n->update)) {
            sim_stats_persist(sim);
            if (n->wal != NULL) sim_wal_issue(sim, node, &n->update);
            int64_t high = sim->now_us < n->disk_slow_until_us ? n->disk_slow_us_max
                                                                : sim->params.disk_us_max;
            int64_t latency = sim_rng_range(&sim->rng_disk, sim->params.disk_us_min, high);
            sim_schedule(sim, latency, SIM_EV_DISK_DONE, node, n->incarnation, NULL);
            if (n->crash_in_write) {
                n->crash_in_write = false;
                sim_schedule(sim, (int64_t)sim_rng_below(&sim->rng_disk, (uint64_t)latency),
                             SIM_EV_CRASH, node, n->incarnation | SIM_CRASH_IN_WRITE, NULL);
            }
            return;
        }
        sim_node_complete(sim, node); /* nothing to write: no fsync to wait for */
    }
    sim_check_fail(&sim->check, "livelock", "node %u produced %u updates without pause",
                   node + 1, SIM_PUMP_ROUNDS_MAX);
}

/* Installs the staged snapshot as the state machine (Raft §7) and on the disk. */
static void sim_node_install(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_node *n = &sim->nodes[node];
    struct sim_disk *disk = &n->disk;
    if (sim_snapshot_decode(n, disk->staging, disk->staging_len) != 0 ||
        n->applied_index != u->snapshot.index || n->applied_term != u->snapshot.term) {
        sim_check_fail(&sim->check, "snapshot", "node %u installs snapshot %" PRIu64 " term %"
                       PRIu64 " but the %u staged bytes are not that snapshot", node + 1,
                       u->snapshot.index, u->snapshot.term, disk->staging_len);
        return;
    }
    /* The WAL's marker keeps the log after it when it holds the snapshot's last entry (Raft
     * §7); with storage "wal" the sim disk follows that rule, else it drops the whole log. */
    int (*install)(struct sim_disk *, const struct cn_snapshot_meta *, uint64_t,
                   const uint8_t *, uint32_t) =
        n->wal != NULL ? sim_disk_set_snapshot : sim_disk_install_snapshot;
    if (install(disk, &u->snapshot, n->applied_rolling, disk->staging, disk->staging_len) != 0) {
        sim_check_fail(&sim->check, "snapshot", "node %u installs snapshot %" PRIu64
                       " older than its disk's %" PRIu64, node + 1, u->snapshot.index,
                       disk->snapshot.index);
        return;
    }
    sim->result->snapshots_installed++;
    sim_check_snapshot_installed(&sim->check, node, n->applied_index, n->applied_rolling,
                                 sim_kvsm_digest(&n->kvsm));
    sim_check_persisted(&sim->check, node, disk, u->snapshot.index + 1);
    SIM_TRACE(sim, (int)node, "install snapshot %" PRIu64 " term %" PRIu64, u->snapshot.index,
              u->snapshot.term);
}

/* Step (2) of the driver loop: the disk write completes, in the update's order. */
static void sim_node_persist(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_node *n = &sim->nodes[node];
    char error[SIM_DISK_ERROR_BYTES_MAX];
    if (u->hard_state_changed) {
        sim_check_hard_state(&sim->check, node, &n->disk.hard_state, &u->hard_state);
        n->disk.hard_state = u->hard_state;
    }
    if (u->snapshot_chunk != NULL || u->snapshot_chunk_len > 0) {
        if (sim_disk_stage_chunk(&n->disk, u->snapshot_chunk_offset, u->snapshot_chunk,
                                 u->snapshot_chunk_len, error) != 0) {
            sim_check_fail(&sim->check, "snapshot", "node %u: %s", node + 1, error);
            return;
        }
    }
    if (u->snapshot_present) sim_node_install(sim, node, u);
    if (u->entry_count > 0 && !sim->check.failed) {
        if (sim_disk_write_entries(&n->disk, u->entries, u->entry_count, u->entries_per_slot,
                                   error) != 0) {
            sim_check_fail(&sim->check, "disk write", "node %u: %s", node + 1, error);
            return;
        }
        sim_check_persisted(&sim->check, node, &n->disk, u->entries[0].index);
        SIM_TRACE(sim, (int)node, "persisted entries %" PRIu64 "..%" PRIu64 " term %" PRIu64,
                  u->entries[0].index, u->entries[u->entry_count - 1].index,
                  u->entries[u->entry_count - 1].term);
    }
}

/* Takes a snapshot of the state machine at the applied index, every snapshot_every entries:
 * the disk keeps it and drops the entries it covers; the core hears of it after the ack. */
static void sim_node_maybe_snapshot(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    if (n->applied_index < n->disk.snapshot.index + sim->params.snapshot_every) return;
    int64_t len = sim_snapshot_encode(n, sim->snapshot_scratch, SIM_SNAPSHOT_BYTES_MAX);
    assert(len > 0);
    struct cn_snapshot_meta meta = {.index = n->applied_index, .term = n->applied_term,
                                    .members = sim_members(sim)};
    int rc = sim_disk_set_snapshot(&n->disk, &meta, n->applied_rolling, sim->snapshot_scratch,
                                   (uint32_t)len);
    assert(rc == 0);
    if (n->wal != NULL) sim_wal_snapshot_taken(sim, node, &meta);
    n->snapshot_taken_index = n->applied_index;
    SIM_TRACE(sim, (int)node, "snapshot taken at %" PRIu64, n->applied_index);
}

/* Step (4): apply committed entries in order, each once, answering the clients. */
static void sim_node_apply(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_node *n = &sim->nodes[node];
    for (uint32_t i = 0; i < u->committed_count && !sim->check.failed; i++) {
        const struct cn_entry *e = &u->committed[i];
        if (e->index != n->applied_index + 1) {
            sim_check_fail(&sim->check, "apply order", "node %u applied %" PRIu64
                           " then was given %" PRIu64, node + 1, n->applied_index, e->index);
            return;
        }
        sim_check_committed_durable(&sim->check, node, e, sim->disks);
        struct sim_kv_output output = {0};
        if (e->type == CN_ENTRY_NORMAL &&
            sim_kvsm_apply(&n->kvsm, e->data, e->data_len, &output) != 0) {
            sim_check_fail(&sim->check, "apply", "node %u: entry %" PRIu64
                           " holds no command the clients proposed", node + 1, e->index);
            return;
        }
        n->applied_index = e->index;
        n->applied_term = e->term;
        n->applied_rolling = sim_disk_chain(n->applied_rolling, e->term, e->type,
                                            sim_disk_data_hash(e->data, e->data_len));
        sim_check_applied(&sim->check, node, e, u->term, n->applied_rolling,
                          sim_kvsm_digest(&n->kvsm));
        SIM_TRACE(sim, (int)node, "apply %" PRIu64 " term %" PRIu64 " %s", e->index, e->term,
                  e->type == CN_ENTRY_NORMAL ? "command" : e->type == CN_ENTRY_NOOP ? "noop"
                                                                                  : "config");
        if (e->type == CN_ENTRY_NORMAL) sim_client_applied(sim, node, e, &output);
        sim_stats_applied(sim, node, e->index);

        sim_node_maybe_snapshot(sim, node);
    }
    /* A leader's commit index resting on an entry of an earlier term is the moment of Figure 8
     * (with a correct core it only moves to entries of its own term). */
    uint32_t count = u->committed_count;
    if (count > 0 && n->role == CN_ROLE_LEADER && u->committed[count - 1].term < n->term)
        sim_fault_old_term_commit(sim, node);
}

/* Answers the waiting reads whose index is now applied. */
static void sim_node_answer_reads(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n->read_count; i++) {
        if (n->reads[i].index <= n->applied_index)
            sim_client_read_done(sim, node, n->reads[i].request_id, false);
        else
            n->reads[kept++] = n->reads[i];
    }
    n->read_count = kept;
}

/* Step (5): reads that became safe wait until the state machine applied their index. */
static void sim_node_reads(struct sim *sim, uint32_t node, const struct cn_update *u)
{
    struct sim_node *n = &sim->nodes[node];
    for (uint32_t i = 0; i < u->read_count; i++) {
        const struct cn_read *r = &u->reads[i];
        if (r->failed || n->read_count == SIM_READS_WAITING_MAX) {
            sim_client_read_done(sim, node, r->request_id, true);
            continue;
        }
        n->reads[n->read_count++] = (struct sim_read_wait){.request_id = r->request_id,
                                                           .index = r->index};
    }
    sim_node_answer_reads(sim, node);
}

/* Steps (2) to (5) and the ack, once the update's persistence is done. */
static void sim_node_complete(struct sim *sim, uint32_t node)
{
    struct sim_node *n = &sim->nodes[node];
    assert(n->alive && n->update_outstanding);
    const struct cn_update *u = &n->update;
    if (n->wal != NULL && sim_update_persists(u)) sim_wal_complete(sim, node, u);
    if (sim->check.failed) return;
    sim_node_persist(sim, node, u);
    if (sim->check.failed) return;
    for (uint32_t i = 0; i < u->message_after_persist_count; i++)
        sim_node_send(sim, node, &u->messages_after_persist[i]);
    sim_node_apply(sim, node, u);
    if (sim->check.failed) return;
    sim_node_reads(sim, node, u);
    sim->ops->ack_update(n->core, u);
    n->update_outstanding = false;
    if (n->snapshot_taken_index > 0) {
        struct cn_event event = {.type = CN_EVENT_SNAPSHOT_TAKEN,
                                 .index = n->snapshot_taken_index};
        n->snapshot_taken_index = 0;
        sim->ops->step(n->core, &event);
    }
    struct cn_status status;
    sim->ops->status(n->core, &status);
    sim_check_commit_index(&sim->check, node, status.commit_index);
}

void sim_node_disk_done(struct sim *sim, uint32_t node)
{
    sim_node_complete(sim, node);
    sim_node_pump(sim, node);
}
