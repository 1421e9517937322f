/*
 * replica.c — one group's replica on a simulated node, once its update's persistence is done:
 * the sim disk is written in the update's order (hard state, snapshot chunk, snapshot install,
 * entries), then the after-persist messages leave, then committed entries are applied to the
 * group's own state machine, then reads are answered, then the update is acked (consensus.h's
 * driver loop, steps (2) to (5)). node.c decides when that happens: when the node's batch
 * holding the update completes, or at once for an update with nothing to persist.
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
static int64_t sim_snapshot_encode(const struct sim_replica *r, uint8_t *buf, size_t capacity)
{
    assert(capacity >= SIM_SNAPSHOT_HEADER_BYTES);
    for (int i = 0; i < 4; i++) buf[i] = (uint8_t)(SIM_SNAPSHOT_MAGIC >> (8 * i));
    sim_put_u64(buf + 4, r->applied_index);
    sim_put_u64(buf + 12, r->applied_term);
    sim_put_u64(buf + 20, r->applied_rolling);
    int64_t len = sim_kvsm_encode(&r->kvsm, buf + SIM_SNAPSHOT_HEADER_BYTES,
                                  capacity - SIM_SNAPSHOT_HEADER_BYTES);
    return len < 0 ? -1 : len + SIM_SNAPSHOT_HEADER_BYTES;
}

int sim_snapshot_decode(struct sim_replica *r, const uint8_t *buf, uint32_t len)
{
    if (len < SIM_SNAPSHOT_HEADER_BYTES) return -1;
    uint32_t magic = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                     (uint32_t)buf[3] << 24;
    if (magic != SIM_SNAPSHOT_MAGIC) return -1;
    if (sim_kvsm_decode(&r->kvsm, buf + SIM_SNAPSHOT_HEADER_BYTES,
                        len - SIM_SNAPSHOT_HEADER_BYTES) != 0)
        return -1;
    r->applied_index = sim_get_u64(buf + 4);
    r->applied_term = sim_get_u64(buf + 12);
    r->applied_rolling = sim_get_u64(buf + 20);
    return 0;
}

struct cn_members sim_members(const struct sim *sim)
{
    struct cn_members members = {.count = sim->node_count};
    for (uint32_t i = 0; i < sim->node_count; i++) members.ids[i] = i + 1;
    return members;
}

/* Installs the staged snapshot as the state machine (Raft §7) and on the disk. */
static void sim_replica_install(struct sim *sim, uint32_t node, struct sim_replica *r,
                                const struct cn_update *u)
{
    struct sim_check *check = &sim->checks[r->group];
    struct sim_disk *disk = &r->disk;
    if (sim_snapshot_decode(r, disk->staging, disk->staging_len) != 0 ||
        r->applied_index != u->snapshot.index || r->applied_term != u->snapshot.term) {
        sim_check_fail(check, "snapshot", "node %u installs snapshot %" PRIu64 " term %"
                       PRIu64 " but the %u staged bytes are not that snapshot", node + 1,
                       u->snapshot.index, u->snapshot.term, disk->staging_len);
        return;
    }
    /* The WAL's marker keeps the log after it when it holds the snapshot's last entry (Raft
     * §7); with storage "wal" the sim disk follows that rule, else it drops the whole log (as
     * the WAL's per-slot install marker does too). */
    bool keeps = sim->nodes[node].wal != NULL && !sim->log_per_slot;
    int (*install)(struct sim_disk *, const struct cn_snapshot_meta *, uint64_t,
                   const uint8_t *, uint32_t) =
        keeps ? sim_disk_set_snapshot : sim_disk_install_snapshot;
    if (install(disk, &u->snapshot, r->applied_rolling, disk->staging, disk->staging_len) != 0) {
        sim_check_fail(check, "snapshot", "node %u installs snapshot %" PRIu64
                       " older than its disk's %" PRIu64, node + 1, u->snapshot.index,
                       disk->snapshot.index);
        return;
    }
    sim->result->snapshots_installed++;
    if (u->snapshot.members.count > 0)
        sim_membership_restored(sim, r, &u->snapshot.members, u->snapshot.index);
    sim_check_snapshot_installed(check, node, r->applied_index, r->applied_rolling,
                                 sim_kvsm_digest(&r->kvsm));
    sim_check_persisted(check, node, disk, u->snapshot.index + 1);
    SIM_TRACE_GROUP(sim, (int)node, r->group, "install snapshot %" PRIu64 " term %" PRIu64,
                    u->snapshot.index, u->snapshot.term);
}

/* Step (2) of the driver loop: the disk write completes, in the update's order. */
static void sim_replica_persist(struct sim *sim, uint32_t node, struct sim_replica *r,
                                const struct cn_update *u)
{
    struct sim_check *check = &sim->checks[r->group];
    char error[SIM_DISK_ERROR_BYTES_MAX];
    if (u->hard_state_changed) {
        sim_check_hard_state(check, node, &r->disk.hard_state, &u->hard_state);
        r->disk.hard_state = u->hard_state;
    }
    if (u->snapshot_chunk != NULL || u->snapshot_chunk_len > 0) {
        if (sim_disk_stage_chunk(&r->disk, u->snapshot_chunk_offset, u->snapshot_chunk,
                                 u->snapshot_chunk_len, error) != 0) {
            sim_check_fail(check, "snapshot", "node %u: %s", node + 1, error);
            return;
        }
    }
    if (u->snapshot_present) sim_replica_install(sim, node, r, u);
    if (u->entry_count > 0 && !sim_failed(sim)) {
        if (sim_disk_write_entries(&r->disk, u->entries, u->entry_count, u->entries_per_slot,
                                   error) != 0) {
            sim_check_fail(check, "disk write", "node %u: %s", node + 1, error);
            return;
        }
        sim_check_persisted(check, node, &r->disk, u->entries[0].index);
        SIM_TRACE_GROUP(sim, (int)node, r->group, "persisted entries %" PRIu64 "..%" PRIu64
                        " term %" PRIu64, u->entries[0].index,
                        u->entries[u->entry_count - 1].index,
                        u->entries[u->entry_count - 1].term);
    }
}

/* Takes a snapshot of the state machine at the applied index, every snapshot_every entries:
 * the disk keeps it and drops the entries it covers; the core hears of it after the ack. */
static void sim_replica_maybe_snapshot(struct sim *sim, uint32_t node, struct sim_replica *r)
{
    if (r->applied_index < r->disk.snapshot.index + sim->params.snapshot_every) return;
    int64_t len = sim_snapshot_encode(r, sim->snapshot_scratch, SIM_SNAPSHOT_BYTES_MAX);
    assert(len > 0);
    /* The configuration in force at the snapshot's index (consensus.h, update rule 2). */
    struct cn_snapshot_meta meta = {.index = r->applied_index, .term = r->applied_term,
                                    .members = sim->options.membership
                                                   ? sim_membership_snapshot(sim, r,
                                                                             r->applied_index)
                                                   : sim_members(sim)};
    /* With the WAL, the sim disk follows its marker rule: per slot (Multi-Paxos), the slots
     * above the snapshot stay, whatever they hold (the acceptor's word on them). */
    int (*set)(struct sim_disk *, const struct cn_snapshot_meta *, uint64_t, const uint8_t *,
               uint32_t) = sim->nodes[node].wal != NULL && sim->log_per_slot
                               ? sim_disk_set_snapshot_slots
                               : sim_disk_set_snapshot;
    int rc = set(&r->disk, &meta, r->applied_rolling, sim->snapshot_scratch, (uint32_t)len);
    assert(rc == 0);
    if (sim->nodes[node].wal != NULL) sim_wal_snapshot_taken(sim, node, r->group, &meta);
    r->snapshot_taken_index = r->applied_index;
    SIM_TRACE_GROUP(sim, (int)node, r->group, "snapshot taken at %" PRIu64, r->applied_index);
}

/* The state machine an entry of this replica's group is applied to: its own, unless the
 * cross-apply bug is planted (node 1 then applies group 1's entries to group 0's). */
static struct sim_kvsm *sim_replica_target_kvsm(struct sim *sim, uint32_t node,
                                                struct sim_replica *r)
{
    if (sim->options.plant == SIM_PLANT_CROSS_APPLY && node == 0 && r->group == 1)
        return &sim_replica(sim, node, 0)->kvsm;
    return &r->kvsm;
}

/* Step (4): apply committed entries in order, each once, answering the clients. */
static void sim_replica_apply(struct sim *sim, uint32_t node, struct sim_replica *r,
                              const struct cn_update *u)
{
    struct sim_check *check = &sim->checks[r->group];
    for (uint32_t i = 0; i < u->committed_count && !sim_failed(sim); i++) {
        const struct cn_entry *e = &u->committed[i];
        if (e->index != r->applied_index + 1) {
            sim_check_fail(check, "apply order", "node %u applied %" PRIu64
                           " then was given %" PRIu64, node + 1, r->applied_index, e->index);
            return;
        }
        /* With membership changes, a majority of all nodes is not what a commit needs: the
         * leader's commits are checked against its configuration instead (membership.c). */
        if (!sim->options.membership)
            sim_check_committed_durable(check, node, e, sim->disks[r->group]);
        else if (sim->log_per_slot)
            sim_membership_check_chosen(sim, node, r, e);
        if (e->type == CN_ENTRY_CONFIG) sim_membership_applied(sim, node, r, e);
        struct sim_kv_output output = {0};
        uint64_t stamp_ms = 0, time_before_ms = r->kvsm.time_ms;
        if (e->type == CN_ENTRY_NORMAL &&
            sim_kvsm_apply(sim_replica_target_kvsm(sim, node, r), e->data, e->data_len,
                           &output, &stamp_ms) != 0) {
            sim_check_fail(check, "apply", "node %u: entry %" PRIu64
                           " holds no command the clients proposed", node + 1, e->index);
            return;
        }
        /* --kv-store: the real store's records and results join the state compared. */
        uint64_t store_digest = 0;
        if (sim->options.kv_store && sim_kvstore_apply(sim, node, r, e, &store_digest) != 0)
            return;
        r->applied_index = e->index;
        r->applied_term = e->term;
        r->applied_rolling = sim_disk_chain(r->applied_rolling, e->term, e->type,
                                            sim_disk_data_hash(e->data, e->data_len));
        sim_check_applied(check, node, e, u->term, r->applied_rolling,
                          sim_kvsm_digest(&r->kvsm) ^ store_digest);
        sim_clock_applied(sim, node, r, e, stamp_ms, time_before_ms);
        SIM_TRACE_GROUP(sim, (int)node, r->group, "apply %" PRIu64 " term %" PRIu64 " %s",
                        e->index, e->term,
                        e->type == CN_ENTRY_NORMAL ? "command"
                        : e->type == CN_ENTRY_NOOP ? "noop"
                                                   : "config");
        SIM_HTML(sim, "\"apply\",%u,%u,%" PRIu64 ",%" PRIu64, node, r->group, e->index,
                 e->term);
        if (e->type == CN_ENTRY_NORMAL) sim_client_applied(sim, node, r->group, e, &output);
        sim_stats_applied(sim, node, r->group, e->index);

        sim_replica_maybe_snapshot(sim, node, r);
    }
    /* A leader's commit index resting on an entry of an earlier term is the moment of Figure 8
     * (with a correct core it only moves to entries of its own term). */
    uint32_t count = u->committed_count;
    if (count > 0 && r->role == CN_ROLE_LEADER && u->committed[count - 1].term < r->term)
        sim_fault_old_term_commit(sim, node, r->group);
}

/* Answers the waiting reads whose index is now applied. */
static void sim_replica_answer_reads(struct sim *sim, uint32_t node, struct sim_replica *r)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < r->read_count; i++) {
        if (r->reads[i].index <= r->applied_index)
            sim_client_read_done(sim, node, r->group, r->reads[i].request_id, false);
        else
            r->reads[kept++] = r->reads[i];
    }
    r->read_count = kept;
}

/* Step (5): reads that became safe wait until the state machine applied their index. */
static void sim_replica_reads(struct sim *sim, uint32_t node, struct sim_replica *r,
                              const struct cn_update *u)
{
    for (uint32_t i = 0; i < u->read_count; i++) {
        const struct cn_read *read = &u->reads[i];
        if (read->failed || r->read_count == SIM_READS_WAITING_MAX) {
            sim_client_read_done(sim, node, r->group, read->request_id, true);
            continue;
        }
        r->reads[r->read_count++] = (struct sim_read_wait){.request_id = read->request_id,
                                                           .index = read->index};
    }
    sim_replica_answer_reads(sim, node, r);
}

void sim_replica_complete(struct sim *sim, uint32_t node, uint32_t group)
{
    struct sim_replica *r = sim_replica(sim, node, group);
    assert(sim->nodes[node].alive && r->update_outstanding && !r->in_batch && !r->queued);
    const struct cn_update *u = &r->update;
    sim_replica_persist(sim, node, r, u);
    if (sim_failed(sim)) return;
    for (uint32_t i = 0; i < u->message_after_persist_count; i++)
        sim_node_send(sim, node, &u->messages_after_persist[i]);
    sim_replica_apply(sim, node, r, u);
    if (sim_failed(sim)) return;
    sim_replica_reads(sim, node, r, u);
    sim->ops->ack_update(r->core, u);
    r->update_outstanding = false;
    if (r->snapshot_taken_index > 0) {
        struct cn_event event = {.type = CN_EVENT_SNAPSHOT_TAKEN,
                                 .index = r->snapshot_taken_index};
        r->snapshot_taken_index = 0;
        sim->ops->step(r->core, &event);
    }
    struct cn_status status;
    sim->ops->status(r->core, &status);
    sim_check_commit_index(&sim->checks[group], node, status.commit_index);
}
