/*
 * drive.c — the consensus update cycle of the node (consensus.h, "the driver loop").
 *
 * Once per loop iteration (a uv_prepare handle, so that everything that arrived in the
 * iteration is batched into one update), the node takes the update of every group it hosts
 * that has one and no update outstanding, and for each:
 *   1. sends update.messages at once (the leader's appends leave in parallel with its own
 *      write: thesis §10.2.1);
 *   2. appends hard state, snapshot marker and entries to the WAL's open batch. The batch
 *      of all groups is then written with one write and one fdatasync on libuv's thread pool,
 *      so the loop never blocks on the disk and S groups cost one fdatasync as one group
 *      does (group commit across groups). While it is written, groups gather in the next
 *      batch, which may go at once as a second batch in flight (wal.h); a third waits;
 *      batches finish in the order they were sealed;
 *   3. when the sync returned, for every group in it: sends messages_after_persist, applies
 *      committed entries to its LMDB in one transaction, answers the writes and reads that
 *      waited for them, and acks. An update with nothing to persist does this at once.
 * A failed write or fdatasync stops the node at once (node_fatal): nothing of that update is
 * acknowledged, to a peer or a client.
 */
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"
#include "storage/kv_tx.h"

enum {
    NODE_DRIVE_ROUNDS_MAX = 16,
    /* Committed entries applied per loop iteration before the drive yields to the loop: an
     * insert in LMDB's hash-ordered store costs 10-15 us, and the loop must get back to
     * heartbeats well within the election timeout. A core hands out at most 1,024 per update
     * (RAFT_UPDATE_COMMITTED_MAX, PAXOS_UPDATE_COMMITTED_MAX). */
    NODE_APPLY_ENTRIES_PER_ITERATION = 2048,
};

/* Whether an event wakes a quiet group: anything but a tick, or the late acknowledgement of
 * a heartbeat or append sent before it went quiet (those arrive after every quiet spell
 * starts; waking for them would keep a leader from ever staying quiet). The core takes them
 * either way. */
static bool event_wakes(const struct cn_event *event)
{
    if (event->type == CN_EVENT_TICK)
        return false;
    if (event->type != CN_EVENT_MESSAGE)
        return true;
    uint8_t type = event->message->type;
    return !(type == CN_MSG_HEARTBEAT_RESPONSE || type == CN_MSG_APPEND_RESPONSE ||
             type == CN_MSG_LEASE_RESPONSE || type == CN_MSG_ACCEPTED) ||
           event->message->reject;
}

int node_step(struct node_group *g, const struct cn_event *event)
{
    if (g->quiet && event_wakes(event))
        node_group_wake(g);
    int rv = g->node->ops->step(g->core, event);
    node_group_ready(g);
    return rv;
}

void node_step_tick(struct node_group *g)
{
    g->node->ops->step(g->core, &(struct cn_event){.type = CN_EVENT_TICK});
    node_group_ready(g);
}

/* The group was stepped (or its update finished): the drive looks at it in this iteration.
 * Only such groups are visited, so a thousand quiet groups cost nothing per iteration. */
void node_group_ready(struct node_group *g)
{
    struct node *node = g->node;
    if (!g->ready) {
        assert(node->ready_count < node->group_slots);
        g->ready = true;
        node->ready[node->ready_count++] = g;
    }
    node_drive_schedule(node);
}

void node_refresh_status(struct node_group *g)
{
    cn_node_id before = g->status.leader;
    g->node->ops->status(g->core, &g->status);
    if (g->status.leader != before && g->status.leader != 0)
        g->counters.leader_changes++;
}

static void log_soft_state(struct node_group *g, const struct cn_update *u)
{
    if (!u->soft_state_changed)
        return;
    node_log(g->node, g->node->cluster_mode ? NODE_LOG_DEBUG : NODE_LOG_INFO,
             "group %u: role %s, term %llu, leader %u", g->id, cn_role_name(u->role),
             (unsigned long long)u->term, u->leader);
}

/* Room for n more results in node->apply_results; returns where they start. The array
 * grows to the most entries one iteration applied and stays (bounded by the groups times
 * NODE_APPLY_BATCH_MAX). */
static size_t apply_results_reserve(struct node *node, size_t n)
{
    size_t need = node->apply_results_used + n;
    if (need > node->apply_results_cap) {
        size_t cap = node->apply_results_cap ? node->apply_results_cap : NODE_APPLY_BATCH_MAX;
        while (cap < need)
            cap *= 2;
        node->apply_results = realloc(node->apply_results, cap * sizeof(*node->apply_results));
        assert(node->apply_results != NULL);
        node->apply_results_cap = cap;
    }
    size_t at = node->apply_results_used;
    node->apply_results_used = need;
    return at;
}

/* Applies the update's committed entries in the node's LMDB txn; their results wait in
 * node->apply_results for finish_answers, after the commit. */
static void apply_committed(struct node_group *g, const struct cn_update *u)
{
    struct node *node = g->node;
    if (u->committed_count == 0)
        return;
    static struct kv_apply_item items[NODE_APPLY_BATCH_MAX];
    assert(u->committed_count <= NODE_APPLY_BATCH_MAX);
    g->results_at = apply_results_reserve(node, u->committed_count);
    struct kv_result *results = node->apply_results + g->results_at;
    node->applied_entries_iteration += u->committed_count;
    for (uint32_t i = 0; i < u->committed_count; i++) {
        const struct cn_entry *e = &u->committed[i];
        items[i] = (struct kv_apply_item){
            .index = e->index, .term = e->term, .data = e->data, .data_len = e->data_len,
            .kind = e->type == CN_ENTRY_NORMAL ? KV_ITEM_COMMAND
                    : e->type == CN_ENTRY_CONFIG ? KV_ITEM_CONFIG : KV_ITEM_NOOP};
        if (items[i].kind == KV_ITEM_COMMAND) {
            /* A write entry: its tag, its log time stamp (absent from entries of nodes
             * from before expiry), then the kv command (node_internal.h). A shorter one
             * cannot come from a node; the state machine refuses it as malformed. */
            if (e->data_len >= NODE_WRITE_TAG_BYTES) {
                items[i].data += NODE_WRITE_TAG_BYTES;
                items[i].data_len -= NODE_WRITE_TAG_BYTES;
            }
            if (kv_stamp_read(items[i].data, items[i].data_len, &items[i].time_ms)) {
                items[i].data += KV_STAMP_BYTES;
                items[i].data_len -= KV_STAMP_BYTES;
            }
            /* A transaction (MULTI ... EXEC) says so in its first byte. */
            if (kv_tx_is(items[i].data, items[i].data_len))
                items[i].kind = KV_ITEM_TX;
        }
    }
    node_acl_items_prepare(g, u->committed, items, u->committed_count);
    int rv = kv_apply_batch(g->kv, items, u->committed_count, results);
    node_acl_items_finish(g, results, u->committed_count);
    if (rv != KV_OK)
        node_fatal(node, "group %u: applying entries %llu..%llu failed: %s (%s)", g->id,
                   (unsigned long long)items[0].index,
                   (unsigned long long)items[u->committed_count - 1].index, kv_strerror(rv),
                   kv_last_error());
    node->stats.applied_entries += u->committed_count;
}

/* Step 3 of the cycle, once the applies are committed: everything that had to wait for
 * durability and for the state machine. */
static void finish_answers(struct node_group *g)
{
    struct node *node = g->node;
    struct cn_update *u = &g->update;
    kv_applied(g->kv, &g->applied_index, &g->applied_term);
    for (uint32_t i = 0; i < u->committed_count; i++)
        node_requests_on_applied(g, &u->committed[i], &node->apply_results[g->results_at + i]);
    for (uint32_t i = 0; i < u->read_count; i++) {
        if (u->reads[i].failed)
            g->counters.reads_failed++;
        else
            g->counters.reads_confirmed++;
        node_requests_on_read(g, &u->reads[i]);
    }
    node_requests_after_apply(g);
    node->ops->ack_update(g->core, u);
    g->update_outstanding = false;
    g->in_batch = false;
    node_group_ready(g); /* the core may have more */
    cn_node_id old_leader = g->status.leader;
    node_refresh_status(g);
    if (g->status.leader != old_leader) {
        node->quiet_gen++; /* the beats' list of leaderships changed (quiesce.c) */
        node_requests_on_leader(g);
    }
    else
        node_forwards_drain(g); /* the core may have room again */
    node_snapshot_maybe_take(g);
}

/*
 * Step 3 begins: the answers that waited for durability leave, and the committed entries are
 * applied — into the node's one LMDB write txn, shared by every group finishing in this
 * pass, so that sixteen groups cost one LMDB commit and not sixteen (kv.h). The rest waits
 * in node->finishing for node_finish_flush, which commits first: nothing is answered, and no
 * read served, from state that readers could not yet see.
 */
static void finish_update(struct node_group *g)
{
    struct node *node = g->node;
    struct cn_update *u = &g->update;
    node_peers_send(g, u->messages_after_persist, u->message_after_persist_count);
    apply_committed(g, u);
    assert(node->finishing_count < node->group_slots);
    node->finishing[node->finishing_count++] = g;
}

void node_finish_flush(struct node *node)
{
    if (node->finishing_count == 0)
        return;
    if (kv_env_commit(node->kv_env) != KV_OK)
        node_fatal(node, "committing applied entries to LMDB failed: %s", kv_last_error());
    /* Finishing may make a group ready again but never finishes another one: the list is
     * taken whole. */
    uint32_t n = node->finishing_count;
    for (uint32_t i = 0; i < n; i++) {
        const struct cn_update *u = &node->finishing[i]->update;
        if (u->committed_count > 0)
            node_stages_mark(node, node->finishing[i]->id,
                             u->committed[u->committed_count - 1].index, NODE_STAGE_APPLIED,
                             NODE_STAGE_COMMITTED);
    }
    for (uint32_t i = 0; i < n; i++)
        finish_answers(node->finishing[i]);
    assert(node->finishing_count == n);
    node->finishing_count = 0;
    node->apply_results_used = 0;
}

static void sync_work(uv_work_t *work)
{
    struct node_flight *flight = work->data;
    uint64_t start = uv_hrtime();
    flight->result = wal_batch_write(flight->node->wal, flight->batch, &flight->error);
    flight->us = (uv_hrtime() - start) / 1000;
}

static void spare_work(uv_work_t *work)
{
    struct node *node = work->data;
    node->spare_result = wal_spare_prepare(node->wal, &node->spare_error);
}

static void spare_done(uv_work_t *work, int status)
{
    struct node *node = work->data;
    assert(status == 0);
    node->spare_running = false;
    if (node->spare_result != WAL_OK)
        node_log(node, NODE_LOG_WARN, "WAL spare segment: %s (the next segment is fallocated)",
                 node->spare_error.message);
    wal_spare_complete(node->wal, node->spare_result);
}

/* Starts zero-filling the WAL's next segment on the thread pool when the WAL wants one
 * (wal_spare.c says why: syncs into written blocks are about twice as fast). */
static void spare_start(struct node *node)
{
    if (node->spare_running || node->stopping || !wal_spare_begin(node->wal))
        return;
    node->spare_running = true;
    node->spare_work.data = node;
    int rv = uv_queue_work(node->loop, &node->spare_work, spare_work, spare_done);
    assert(rv == 0);
}

/* The oldest batch in flight is durable, and so is every one before it: its groups finish
 * (step 3). A later batch whose write returned first waits for this (wal.h: completion in
 * seal order), so nothing is acknowledged from a batch that recovery could still drop. */
static void flight_finish(struct node *node, struct node_flight *flight)
{
    int rv = wal_batch_complete(node->wal, flight->batch);
    if (flight->result != WAL_OK || rv != WAL_OK) {
#ifdef CHORUS_PLANT_IGNORE_SYNC_ERROR
        /* Planted bug for the chaos harness (docs/testing.md): never built by default. */
        node_log(node, NODE_LOG_ERROR, "planted: ignoring a failed WAL sync: %s",
                 flight->error.message);
#else
        node_fatal(node, "WAL write/fdatasync failed, stopping: %s", flight->error.message);
#endif
    }
    node->stats.syncs++;
    node->stats.sync_us_total += flight->us;
    if (flight->us > node->stats.sync_us_max)
        node->stats.sync_us_max = flight->us;
    metrics_histogram_observe(&node->stats.sync_seconds, (double)flight->us / 1e6);
    struct node_group *g = flight->groups;
    flight->groups = NULL;
    flight->batch = NULL;
    while (g != NULL) {
        struct node_group *next = g->batch_next;
        g->batch_next = NULL;
        const struct cn_update *u = &g->update;
        if (u->entry_count > 0)
            node_stages_mark(node, g->id, u->entries[u->entry_count - 1].index,
                             NODE_STAGE_WAL_DONE, NODE_STAGE_WAL_START);
        if (g->snapshot_compact_index > 0) {
            struct wal_error err;
            if (wal_compact(node->wal, g->id, g->snapshot_compact_index, &err) != WAL_OK)
                node_log(node, NODE_LOG_WARN, "WAL compaction of group %u: %s", g->id,
                         err.message);
            g->snapshot_compact_index = 0;
        }
        finish_update(g);
        g = next;
    }
}

static void sync_done(uv_work_t *work, int status)
{
    struct node_flight *flight = work->data;
    struct node *node = flight->node;
    assert(status == 0);
    flight->written = true;
    bool finished = false;
    while (node->flight_count > 0 && node->flights[node->flight_head].written) {
        struct node_flight *oldest = &node->flights[node->flight_head];
        oldest->written = false;
        node->flight_head = (node->flight_head + 1) % WAL_BATCHES_IN_FLIGHT_MAX;
        node->flight_count--;
        flight_finish(node, oldest);
        finished = true;
    }
    if (!finished)
        return; /* an older batch is still on disk: this one waits for it */
    spare_start(node);
    node_finish_flush(node);
    node_requests_retry(node);
    /* The next batch is not sealed here: the groups just finished have gathered entries
     * while their update was on disk, and they can only join once the drive has taken their
     * next update. Sealing now would send the groups that happened to be in the open batch
     * alone and keep the busiest ones a whole fdatasync longer (with 16 groups a node, batches
     * shrank to 8 entries a sync from 20). The drive runs before the loop next waits, and
     * seals the batch with everyone in it. */
    node_drive_schedule(node);
}

/* Seals the open batch and writes it on the thread pool: one write and one fdatasync for
 * every group in it (group commit across groups). A second batch may go while one is on
 * disk (wal.h): the groups that were not in the first need not wait for its fdatasync, and
 * two fdatasyncs of one file at once made 1.8 times the syncs of one on this disk. A group
 * is never in two (it has one update outstanding), so its updates stay in order. */
static void sync_start(struct node *node)
{
    /* Not sealable also when WAL_BATCHES_IN_FLIGHT_MAX batches are in flight: the WAL's count
     * of them is the node's flight_count (asserted below by the free slot). */
    if ((node->batch_open == NULL && !node->wal_records_pending) || node->stopping ||
        !wal_batch_sealable(node->wal))
        return;
    node->wal_records_pending = false;
    if (node->flight_count > 0)
        node->stats.syncs_overlapped++;
    uint32_t at = (node->flight_head + node->flight_count) % WAL_BATCHES_IN_FLIGHT_MAX;
    struct node_flight *flight = &node->flights[at];
    assert(flight->batch == NULL && flight->groups == NULL && !flight->written);
    flight->batch = wal_batch_seal(node->wal);
    assert(flight->batch != NULL);
    flight->node = node;
    flight->groups = node->batch_open;
    node->batch_open = NULL;
    node->flight_count++;
    node_stages_mark_all(node, NODE_STAGE_WAL_START, NODE_STAGE_APPENDED);
    flight->work.data = flight;
    int rv = uv_queue_work(node->loop, &flight->work, sync_work, sync_done);
    assert(rv == 0);
}

/* The snapshot marker this update must persist, if any: a received snapshot installed now,
 * or one this node took. */
static const struct cn_snapshot_meta *update_marker(struct node_group *g,
                                                    struct cn_snapshot_meta *marker)
{
    struct node *node = g->node;
    struct cn_update *u = &g->update;
    g->counters.snapshot_bytes_received += u->snapshot_chunk_len;
    if (u->snapshot_chunk_len > 0 || (u->snapshot_chunk != NULL && u->snapshot_present))
        if (node_snapshot_stage(g, u) != 0)
            node_fatal(node, "group %u: staging a received snapshot chunk failed: %s", g->id,
                       kv_last_error());
    if (u->snapshot_present) {
        if (node_snapshot_install(g, u) != 0)
            node_fatal(node, "group %u: installing a received snapshot failed: %s", g->id,
                       kv_last_error());
        *marker = u->snapshot;
        g->snapshot_pending_marker = 0;
        return marker;
    }
    if (g->snapshot_pending_marker > 0) {
        *marker = (struct cn_snapshot_meta){.index = g->snapshot_pending_marker,
                                            .term = g->snapshot_pending_term,
                                            .members = g->snapshot_members};
        g->snapshot_compact_index = g->snapshot_pending_marker;
        g->snapshot_pending_marker = 0;
        return marker;
    }
    return NULL;
}

/*
 * The hard state this update must write, or NULL. A new term or vote must be durable before
 * the messages that depend on it leave (Raft Figure 2; a Paxos promise, Lamport 2001 §2.2),
 * so it is written and synced at once. The commit index is only a hint (consensus.h: never
 * trusted beyond the log), so a change of it alone costs no fdatasync: it rides along with
 * the group's next write, as etcd's raft.MustSync decides. Without this rule every commit
 * cost each node one more fdatasync before it could apply and answer: two syncs per write
 * on an idle cluster, and a forwarded write waiting for its node's extra sync.
 */
static const struct cn_hard_state *hard_state_to_write(struct node_group *g,
                                                       const struct cn_update *u, bool marker)
{
    if (u->hard_state_changed)
        g->hs_latest = u->hard_state;
    else if (!g->hs_written_known)
        return NULL; /* nothing handed yet: the recovered state stands */
    const struct cn_hard_state *latest = &g->hs_latest;
    const struct cn_hard_state *written = &g->hs_written;
    bool same_vote = g->hs_written_known && latest->term == written->term &&
                     latest->vote == written->vote;
    if (!same_vote)
        return latest;
    if (latest->commit == written->commit)
        return NULL;
    return u->entry_count > 0 || marker ? latest : NULL;
}

/* Step 2: what the update asks to persist joins the open WAL batch. Returns whether there
 * was anything (the rest of the update then waits for that batch's fdatasync). */
static bool persist_update(struct node_group *g)
{
    struct node *node = g->node;
    struct cn_update *u = &g->update;
    struct cn_snapshot_meta marker;
    const struct cn_snapshot_meta *snap = update_marker(g, &marker);
    const struct cn_hard_state *hs = hard_state_to_write(g, u, snap != NULL);
    node->stats.synced_entries += u->entry_count;
    if (hs == NULL && snap == NULL && u->entry_count == 0)
        return false;
    if (hs != NULL) {
        g->hs_written = *hs;
        g->hs_written_known = true;
    }
    /* Multi-Paxos (entries_per_slot): each entry replaces its own slot; an installed snapshot
     * drops every slot (the core rewrites what it keeps in this update), one the node took
     * itself only those up to its index. Raft: the suffix rule of §5.3 and §7. */
    uint32_t flags = 0;
    if (u->entries_per_slot)
        flags = WAL_APPEND_PER_SLOT | (u->snapshot_present ? WAL_APPEND_INSTALL : 0);
    struct wal_error err;
    if (wal_append_mode(node->wal, g->id, flags, hs, snap, u->entries, u->entry_count, &err) !=
        WAL_OK)
        node_fatal(node, "WAL append failed: %s", err.message);
    g->in_batch = true;
    g->batch_next = node->batch_open;
    node->batch_open = g;
    if (u->entry_count > 0)
        node_stages_mark(node, g->id, u->entries[u->entry_count - 1].index,
                         NODE_STAGE_APPENDED, NODE_STAGE_PROPOSED);
    return true;
}

/* Takes and carries out one group's update, if it has one and none is outstanding. Returns
 * whether it took one. */
static bool drive_group(struct node_group *g)
{
    struct node *node = g->node;
    if (g->update_outstanding || !node->ops->has_update(g->core))
        return false;
    struct cn_update *u = &g->update;
    node->ops->get_update(g->core, u);
    g->update_outstanding = true;
    if (u->committed_count > 0)
        node_stages_mark(node, g->id, u->committed[u->committed_count - 1].index,
                         NODE_STAGE_COMMITTED, NODE_STAGE_PROPOSED);
    log_soft_state(g, u);
    node_peers_send(g, u->messages, u->message_count);
    if (!persist_update(g))
        finish_update(g);
    return true;
}

/* Takes the updates of every group, appends what they persist to one WAL batch, and starts
 * its write unless one is in flight (then it goes when that one is done). */
void node_drive(struct node *node)
{
    if (node->stopping)
        return;
    bool budget_left = true, took_any = false;
    for (uint32_t round = 0; round < NODE_DRIVE_ROUNDS_MAX && budget_left; round++) {
        uint32_t n = node->ready_count;
        if (n == 0)
            break;
        memcpy(node->ready_work, node->ready, n * sizeof(*node->ready));
        node->ready_count = 0;
        for (uint32_t i = 0; i < n; i++)
            node->ready_work[i]->ready = false;
        for (uint32_t i = 0; i < n; i++) {
            struct node_group *g = node->ready_work[i];
            if (!budget_left || node->applied_entries_iteration >= NODE_APPLY_ENTRIES_PER_ITERATION) {
                budget_left = false; /* enough applied in this iteration: the rest next */
                node_group_ready(g);
                continue;
            }
            took_any |= drive_group(g);
        }
        node_finish_flush(node);
    }
    if (took_any)
        node_requests_retry(node); /* the cores may have room again */
    sync_start(node);
    if (!budget_left)
        node_drive_schedule(node);
}

/* How long the loop worked (not waiting in poll) since the last iteration: the figure that
 * must stay well under the election timeout, or peers would think this node gone. */
static void loop_measure(struct node *node)
{
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(node->loop);
    if (node->loop_last_prepare_ns != 0) {
        uint64_t busy_ns = now - node->loop_last_prepare_ns;
        uint64_t idle_ns = idle - node->loop_last_idle_ns;
        busy_ns = busy_ns > idle_ns ? busy_ns - idle_ns : 0;
        if (busy_ns / 1000 > node->stats.loop_busy_us_max)
            node->stats.loop_busy_us_max = busy_ns / 1000;
        if (busy_ns > 50u * 1000 * 1000)
            node->stats.loop_busy_over_50ms++;
    }
    node->loop_last_prepare_ns = now;
    node->loop_last_idle_ns = idle;
}

static void on_prepare(uv_prepare_t *handle)
{
    struct node *node = handle->data;
    loop_measure(node);
    node->applied_entries_iteration = 0;
    if (!node->stopping) {
        node_requests_serve_held(node);
        node_clients_process_pending(node);
    }
    node_drive(node);
    /* While an update waits for the disk, what may leave early leaves now: the leader's
     * appends of entries proposed meanwhile reach the followers one fdatasync sooner. */
    if (node->ops->take_messages != NULL && !node->stopping) {
        for (uint32_t list = 0; list <= node->flight_count; list++) {
            struct node_group *g = list == node->flight_count ? node->batch_open
                : node->flights[(node->flight_head + list) % WAL_BATCHES_IN_FLIGHT_MAX].groups;
            for (; g != NULL; g = g->batch_next) {
                const struct cn_message *messages;
                uint32_t count = node->ops->take_messages(g->core, &messages);
                node_peers_send(g, messages, count);
            }
        }
    }
    node_heartbeats_flush(node);
    if (node->transport != NULL)
        transport_flush(node->transport);
}

static void on_idle(uv_idle_t *handle)
{
    struct node *node = handle->data;
    uv_idle_stop(handle);
    node->drive_idle_active = false;
}

/* The drive runs once per loop iteration (on_prepare), after every callback of the iteration
 * stepped its events into the core: that is what batches many requests into one update.
 * Scheduling only makes sure the loop does not block in poll while work is left. */
void node_drive_schedule(struct node *node)
{
    if (node->drive_idle_active || node->stopping)
        return;
    node->drive_idle_active = true;
    uv_idle_start(&node->drive_idle, on_idle);
}

void node_drive_init(struct node *node)
{
    uv_prepare_init(node->loop, &node->drive_prepare);
    node->drive_prepare.data = node;
    uv_prepare_start(&node->drive_prepare, on_prepare);
    uv_idle_init(node->loop, &node->drive_idle);
    node->drive_idle.data = node;
}
