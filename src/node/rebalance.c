/*
 * rebalance.c — the rebalancer's moves carried out (issue 11; docs/membership.md, "The
 * rebalancer").
 *
 * The plan (cluster/rebalance.h) is a pure function of the topology, so every node knows the
 * same moves without being told. Each node does its part of each runnable move from its own
 * tick, with the shard group's configuration as the record of a move's progress (it survives
 * leader changes and restarts, Raft §6). Nothing here names a protocol: the steps are asked
 * of the core with CN_EVENT_MEMBERSHIP and CN_EVENT_TRANSFER and read from its cn_status,
 * and a peer's progress comes from consensus/progress.h:
 *
 *  - the move's new node creates its replica of the group, with an empty configuration that
 *    it learns from the leader's first append or snapshot;
 *  - the shard's leader adds it as a learner, waits until it acknowledged nearly the whole
 *    log (thesis §4.2.1), hands leadership to another voter if it is the replica that moves
 *    off (thesis §3.10), then asks for the configuration that swaps the two: with Raft the
 *    core enters the joint configuration and leaves it by itself once committed (§6); with
 *    Multi-Paxos the new configuration is a chosen command that governs alpha slots later
 *    (Lamport, "Paxos Made Simple" §3), which the leader fills with no-ops;
 *  - once the new configuration is complete (committed and not joint; governing), and the new
 *    replica reported that it holds the log through the commit index of that moment, the
 *    shard's leader records the move: it proposes to the meta group a compare-and-swap of the
 *    topology key, from the topology it planned with to the same with the shard's replica
 *    replaced (epoch + 1), forwarded to the meta leader when this node is not it. A stale
 *    proposal fails the swap;
 *  - the node moved off, on adopting that topology, deletes its replica: the WAL forgets the
 *    group (wal_reset_group, durable before anything else goes), then its snapshot directory
 *    and its store's data.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/rebalance.h"
#include "cluster/reconcile.h"
#include "consensus/membership.h"
#include "consensus/progress.h"
#include "net/transport.h"
#include "node/node_internal.h"
#include "storage/kv_command.h"

enum {
    /* A leader proposes a move's record again after this long when the topology did not
     * change (a lost forward, or a swap that failed on a newer topology). */
    REBALANCE_RECORD_RETRY_MS = 1000,
    REBALANCE_HANDOVER_RETRY_MS = 2000,
};

static const char REBALANCE_TOPOLOGY_KEY[] = "chorus:topology"; /* meta.c's key */

/* The shard's first planned move: the only one of the shard that may run. */
static const struct rebalance_move *shard_move(const struct node *node, uint32_t shard)
{
    const struct rebalance_plan *plan = node->rebalance;
    if (plan == NULL)
        return NULL;
    for (uint32_t i = 0; i < plan->move_count; i++)
        if (plan->moves[i].shard == shard)
            return &plan->moves[i];
    return NULL;
}

static bool moving_to(const struct node *node, uint32_t shard, cn_node_id id)
{
    const struct rebalance_plan *plan = node->rebalance;
    for (uint32_t i = 0; plan != NULL && i < plan->move_count; i++)
        if (plan->moves[i].shard == shard && plan->moves[i].to == id)
            return true;
    return false;
}

bool node_rebalance_moving_off(const struct node *node, uint32_t shard, cn_node_id id)
{
    const struct rebalance_plan *plan = node->rebalance;
    for (uint32_t i = 0; plan != NULL && i < plan->move_count; i++)
        if (plan->moves[i].shard == shard && plan->moves[i].from == id)
            return true;
    return false;
}

/* ---- the new replica ------------------------------------------------------------------- */

static void hosted_insert(struct node *node, struct node_group *g)
{
    uint32_t at = node->hosted_count++;
    assert(node->hosted_count <= node->topology->shard_count);
    while (at > 0 && node->hosted[at - 1]->id > g->id) {
        node->hosted[at] = node->hosted[at - 1];
        at--;
    }
    node->hosted[at] = g;
}

static void hosted_remove(struct node *node, struct node_group *g)
{
    uint32_t at = 0;
    while (at < node->hosted_count && node->hosted[at] != g)
        at++;
    assert(at < node->hosted_count);
    memmove(&node->hosted[at], &node->hosted[at + 1],
            (node->hosted_count - at - 1) * sizeof(node->hosted[0]));
    node->hosted_count--;
}

/* The move's new node creates its replica: empty, its configuration to come from the
 * leader. The WAL first forgets whatever an earlier replica of the group left there. */
static void replica_create(struct node *node, uint32_t shard)
{
    struct wal_error err;
    if (wal_reset_group(node->wal, shard, &err) != WAL_OK)
        return; /* the batch is full: at the next tick */
    node->group_slots++;
    struct node_group *g = node_group_open(node, shard, &node->topology->shards[shard], true);
    if (g == NULL) {
        node->group_slots--;
        node_log(node, NODE_LOG_WARN, "rebalancer: creating a replica of shard %u failed", shard);
        return;
    }
    node->groups[shard] = g;
    hosted_insert(node, g);
    node_quiesce_add(g);
    node->rebalance_created++;
    node_log(node, NODE_LOG_INFO, "rebalancer: created a replica of shard %u; waiting for its "
             "leader to add it", shard);
}

/* ---- the shard leader's steps ------------------------------------------------------------ */

/* Forgets a move's progress when the shard's move is another one now. */
static void move_track(struct node_group *g, cn_node_id to)
{
    if (g->move_to == to)
        return;
    g->move_to = to;
    g->move_match = 0;
    g->move_recorded_ms = 0;
    g->move_settle_index = 0;
    node_move_progress_reset(g, 0);
}

/* The new replica's progress, as its messages report it (Raft: append answers; Multi-Paxos:
 * lease answers), whoever leads the shard: a leader that took over mid-move has heard it by
 * the time its first tick asks. */
void node_rebalance_on_message(struct node *node, const struct cn_message *m)
{
    uint64_t reached = 0;
    if (node->groups == NULL || m->group >= node->topology->shard_count ||
        !cn_progress_reported(m, &reached))
        return;
    struct node_group *g = node->groups[m->group];
    if (g == NULL)
        return;
    /* The planned move's new replica, or with none planned the replica a reconciliation
     * brings back (reconcile_step), whose progress it tracks the same way. */
    const struct rebalance_move *move = shard_move(node, m->group);
    cn_node_id to = move != NULL ? move->to : g->move_to;
    if (to == 0 || to != m->from)
        return;
    move_track(g, to);
    if (reached > g->move_match)
        g->move_match = reached;
}

static bool members_equal(const struct cn_members *a, const uint32_t *ids, uint32_t count)
{
    if (a->count != count)
        return false;
    for (uint32_t i = 0; i < count; i++) {
        bool found = false;
        for (uint32_t k = 0; k < a->count; k++)
            found |= a->ids[k] == ids[i];
        if (!found)
            return false;
    }
    return true;
}

static void members_add(struct cn_members *list, cn_node_id id)
{
    assert(list->count < CN_MEMBERS_MAX);
    uint32_t at = list->count++;
    while (at > 0 && list->ids[at - 1] > id) {
        list->ids[at] = list->ids[at - 1];
        at--;
    }
    list->ids[at] = id;
}

static void members_drop(struct cn_members *list, cn_node_id id)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < list->count; i++)
        if (list->ids[i] != id)
            list->ids[kept++] = list->ids[i];
    list->count = kept;
}

/* The shard's replicas after the move: the topology's, `from` replaced by `to`. */
static uint32_t replicas_after(const struct topology_shard *shard, const struct rebalance_move *m,
                               uint32_t *out)
{
    uint32_t n = 0;
    for (uint32_t r = 0; r < shard->replica_count; r++)
        if (shard->replicas[r] != m->from)
            out[n++] = shard->replicas[r];
    if (m->to != 0)
        out[n++] = m->to;
    return n;
}

static bool step_membership(struct node_group *g, const struct cn_membership *target)
{
    uint64_t index = 0;
    int rv = node_step(g, &(struct cn_event){.type = CN_EVENT_MEMBERSHIP, .membership = target,
                                             .out_index = &index});
    node_refresh_status(g);
    if (rv != CN_OK && rv != CN_ERR_BUSY && rv != CN_ERR_TRANSFERRING)
        node_log(g->node, NODE_LOG_WARN, "rebalancer: shard %u: the change was refused: %s",
                 g->id, cn_strerror(rv));
    return rv == CN_OK;
}

/* Proposes the move's record into the meta group: CAS of the topology key, from this node's
 * topology to the same with the shard's replicas after the move. */
static void record_move(struct node *node, struct node_group *g, const struct rebalance_move *m)
{
    uint64_t now = node_now_ms(node);
    if (g->move_recorded_ms != 0 && now - g->move_recorded_ms < REBALANCE_RECORD_RETRY_MS)
        return;
    struct node_group *meta = node->meta;
    if (meta == NULL || meta->status.leader == 0)
        return;
    g->move_recorded_ms = now;
    struct topology *next = malloc(sizeof(*next));
    assert(next != NULL);
    *next = *node->topology;
    next->epoch++;
    struct topology_shard *shard = &next->shards[g->id];
    for (uint32_t r = 0; r < shard->replica_count; r++)
        if (shard->replicas[r] == m->from)
            shard->replicas[r] = m->to;
    shard->config_epoch = next->epoch;
    size_t bytes = topology_encoded_bytes(next);
    uint8_t *encoded = malloc(bytes);
    assert(encoded != NULL);
    int64_t len = topology_encode(next, encoded, bytes);
    assert(len > 0 && (size_t)len == bytes);
    struct kv_bytes args[3] = {
        {.data = (const uint8_t *)REBALANCE_TOPOLOGY_KEY, .len = sizeof(REBALANCE_TOPOLOGY_KEY) - 1},
        {.data = node->topology_encoded, .len = node->topology_encoded_len},
        {.data = encoded, .len = bytes},
    };
    struct kv_command command = {.op = KV_OP_CAS, .arg_count = 3, .args = args};
    size_t cap = kv_command_encoded_bytes(&command);
    uint8_t *payload = malloc(NODE_WRITE_TAG_BYTES + cap);
    assert(payload != NULL);
    memset(payload, 0, NODE_WRITE_TAG_BYTES); /* tag 0: nobody waits for it */
    size_t command_len = 0;
    const char *reason = NULL;
    int rv = kv_command_encode(&command, payload + NODE_WRITE_TAG_BYTES, cap, &command_len,
                               &reason);
    assert(rv == KV_OK);
    uint32_t data_len = (uint32_t)(NODE_WRITE_TAG_BYTES + command_len);
    if (meta->status.leader == node->config.id) {
        uint64_t index = 0, term = 0;
        node_step(meta, &(struct cn_event){.type = CN_EVENT_PROPOSE, .data = payload,
                                           .data_len = data_len, .out_index = &index,
                                           .out_term = &term});
    } else {
        struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = payload, .data_len = data_len};
        struct cn_message msg = {.type = CN_MSG_PROPOSE, .group = meta->id,
                                 .from = node->config.id, .to = meta->status.leader,
                                 .term = meta->status.term, .context = 0, .entry_count = 1,
                                 .entries = &entry};
        transport_send(node->transport, &msg);
    }
    node->rebalance_recorded++;
    node_log(node, NODE_LOG_INFO, "rebalancer: shard %u moved from node %u to node %u; "
             "recording the topology of epoch %llu", g->id, m->from, m->to,
             (unsigned long long)next->epoch);
    free(payload);
    free(encoded);
    free(next);
}

/* Hands the shard's leadership to another voter before the leader's own replica goes:
 * the topology's preferred leader if it stays, else the first other voter. */
static void hand_over(struct node *node, struct node_group *g, const struct rebalance_move *m)
{
    /* Once per REBALANCE_HANDOVER_RETRY_MS: a transfer the core gave up (the target was not
     * caught up within an election timeout) is asked again, not once per term as the
     * balancer does, or the move would wait for the next election. */
    uint64_t now = node_now_ms(node);
    if (g->status.transfer_target != 0 ||
        (g->handover_ms != 0 && now - g->handover_ms < REBALANCE_HANDOVER_RETRY_MS))
        return;
    const struct cn_members *voters = &g->status.membership.voters;
    cn_node_id target = node->topology->shards[g->id].replicas[0];
    if (target == m->from || !cn_membership_is_voter(&g->status.membership, target)) {
        target = 0;
        for (uint32_t i = 0; i < voters->count && target == 0; i++)
            if (voters->ids[i] != m->from)
                target = voters->ids[i];
    }
    if (target == 0)
        return;
    g->balance_term = g->status.term;
    g->handover_ms = now;
    node_log(node, NODE_LOG_INFO, "rebalancer: shard %u: handing leadership to node %u before "
             "this replica moves off", g->id, target);
    node_step(g, &(struct cn_event){.type = CN_EVENT_TRANSFER, .target = target});
}

/* One step of the shard's move, on its leader, towards the voters `after`. A planned move
 * is recorded in the topology once complete (`record`); a reconciliation (reconcile_step)
 * brings the configuration back to what the topology already records, so it ends there. */
static void move_step(struct node *node, struct node_group *g, const struct rebalance_move *m,
                      const uint32_t *after, uint32_t after_count, bool record)
{
    node_refresh_status(g);
    const struct cn_status *st = &g->status;
    const struct cn_membership *now = &st->membership;
    if (st->role != CN_ROLE_LEADER || m->to == 0 || m->from == 0)
        return; /* only replacements are carried out (R stays as it was created) */
    move_track(g, m->to);
    /* The leader's heartbeats must keep flowing while the move runs: they are how a
     * Multi-Paxos learner hears the chosen prefix and reports its own (a quiet group sends
     * none, quiesce.c), and how any leader notices a lost message in time. */
    if (m->runnable || cn_membership_contains(now, m->to))
        node_group_wake(g);
    if (st->membership_pending)
        return; /* one change at a time; the core completes the one under way by itself */
    if (members_equal(&now->voters, after, after_count) && now->outgoing.count == 0) {
        if (!record)
            return;
        /* The old replica is deleted once the move is recorded. Before that, the new one must
         * hold everything committed so far. With Raft, C(new)'s commit already put the log on
         * a majority of the new voters (§6). With Multi-Paxos the slots below the first one
         * the new configuration governs were chosen by the old voters, and a phase 1 covers
         * every slot above the proposer's own chosen prefix: were the leader lost after the
         * old replica is gone, a voter that has not learned those slots would need the old
         * configuration's majority, which no longer exists. A voter that learned them needs
         * only the new one's, leads, and catches the others up. So the leader waits until the
         * new replica reports the commit index of this moment (its lease answers). */
        if (g->move_settle_index == 0)
            g->move_settle_index = st->commit_index;
        if (g->move_match < g->move_settle_index)
            return;
        record_move(node, g, m);
        return;
    }
    if (!cn_membership_contains(now, m->to)) {
        if (!m->runnable)
            return;
        struct cn_membership target = *now;
        members_add(&target.learners, m->to);
        if (step_membership(g, &target))
            node_log(node, NODE_LOG_INFO, "rebalancer: shard %u: node %u added as a learner "
                     "(moving from node %u)", g->id, m->to, m->from);
        return;
    }
    if (cn_membership_is_voter(now, m->to))
        return; /* a configuration this plan did not make: left as it is */
    /* A learner: promoted once it holds nearly the whole log (thesis §4.2.1). */
    if (g->move_match == 0 ||
        g->move_match + NODE_MEMBERS_CATCHUP_ENTRIES < st->last_index)
        return;
    if (m->from == node->config.id) {
        hand_over(node, g, m);
        return;
    }
    struct cn_membership target = *now;
    members_drop(&target.learners, m->to);
    members_drop(&target.voters, m->from);
    members_add(&target.voters, m->to);
    if (step_membership(g, &target))
        node_log(node, NODE_LOG_INFO, "rebalancer: shard %u: joint configuration, node %u in "
                 "and node %u out", g->id, m->to, m->from);
}

/* Whether this node's meta replica applied everything it knows committed, and its topology
 * is the one adopted from it: a topology read behind the meta log could make a node that
 * joins since look like one that was forgotten. */
static bool topology_current(struct node *node)
{
    struct node_group *meta = node->meta;
    if (meta == NULL)
        return false;
    node_refresh_status(meta);
    if (meta->applied_index < meta->status.commit_index)
        return false;
    uint64_t epoch = node->topology->epoch;
    node_meta_check_now(node);
    return node->topology->epoch == epoch; /* else the plan is redone: at the next tick */
}

/* On the shard's leader: a configuration change the topology still owes (reconcile.h), after
 * a move was abandoned because the node it went to was forgotten. A learner left behind is
 * removed; a swap that completed but was never recorded is reversed by the move's own steps
 * (learner, catch-up, joint configuration), towards the replicas the topology lists. The
 * joint configuration needs a majority of the old voters, which the survivors are as long as
 * the shard lost only the forgotten node (§6). */
static void reconcile_step(struct node *node, struct node_group *g)
{
    node_refresh_status(g);
    const struct cn_status *st = &g->status;
    if (st->role != CN_ROLE_LEADER || st->membership_pending)
        return;
    struct reconcile_action action;
    reconcile_shard(node->topology, node->rebalance, g->id, &st->membership, &action);
    if (action.kind == RECONCILE_NONE || !topology_current(node))
        return;
    node_group_wake(g);
    if (action.kind == RECONCILE_DROP_LEARNER) {
        struct cn_membership target = st->membership;
        members_drop(&target.learners, action.from);
        if (step_membership(g, &target))
            node_log(node, NODE_LOG_INFO, "rebalancer: shard %u: learner %u removed (no move "
                     "goes to it any more)", g->id, action.from);
        return;
    }
    const struct topology_shard *placed = &node->topology->shards[g->id];
    struct rebalance_move m = {.shard = g->id, .from = action.from, .to = action.to,
                               .runnable = true};
    if (g->move_to != action.to)
        node_log(node, NODE_LOG_INFO, "rebalancer: shard %u: voter %u is no replica the "
                 "topology lists; bringing node %u back in its place", g->id, action.from,
                 action.to);
    move_step(node, g, &m, placed->replicas, placed->replica_count, false);
}

/* The move's stage as this node sees it: its step when this node leads the shard, else
 * whether the plan lets it run now. */
const char *node_rebalance_stage(const struct node *node, const struct rebalance_move *m)
{
    const struct node_group *g = node->groups != NULL ? node->groups[m->shard] : NULL;
    if (g == NULL || g->status.role != CN_ROLE_LEADER || m->from == 0 || m->to == 0)
        return m->runnable ? "runnable" : "waiting";
    const struct cn_status *st = &g->status;
    const struct cn_membership *now = &st->membership;
    uint32_t after[TOPOLOGY_REPLICAS_MAX];
    uint32_t after_count = replicas_after(&node->topology->shards[m->shard], m, after);
    if (cn_membership_joint(now))
        return "joint";
    if (members_equal(&now->voters, after, after_count)) {
        if (st->membership_pending)
            return "joint";
        return g->move_to == m->to && g->move_settle_index != 0 &&
                       g->move_match >= g->move_settle_index
                   ? "recording"
                   : "settling";
    }
    if (!cn_membership_contains(now, m->to))
        return m->runnable ? "adding-learner" : "waiting";
    if (cn_membership_is_voter(now, m->to))
        return "other-configuration";
    if (g->move_to != m->to || g->move_match == 0 ||
        g->move_match + NODE_MEMBERS_CATCHUP_ENTRIES < st->last_index)
        return node_move_progress_sending(node, g, m->to) ? "sending-snapshot" : "catching-up";
    return m->from == node->config.id ? "moving-leadership" : "promoting";
}

/* ---- deleting a replica that moved off ------------------------------------------------- */

static bool replica_idle(const struct node_group *g)
{
    return !g->update_outstanding && !g->in_batch && !g->ready && !g->snapshot_running &&
           g->active_requests == 0 && g->forward_count == 0 && g->commits.count == 0 &&
           g->apply_reads.count == 0;
}

/* Removes the files of a directory, then the directory (one level: a snapshot directory). */
static void remove_dir(struct node *node, const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[NODE_PATH_BYTES_MAX + 128];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            node_log(node, NODE_LOG_WARN, "rebalancer: removing %s: %s", path, strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) != 0 && errno != ENOENT)
        node_log(node, NODE_LOG_WARN, "rebalancer: removing %s: %s", dir, strerror(errno));
}

/* The replica's files: its snapshot directory, and its group directory (not group 0's,
 * which is the data directory itself). */
static void replica_remove_files(struct node *node, uint32_t shard, const char *snapshot_dir)
{
    remove_dir(node, snapshot_dir);
    if (shard == 0)
        return;
    char dir[NODE_PATH_BYTES_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/groups/%u", node->config.data_dir, shard);
    remove_dir(node, dir);
}

static void replica_retire(struct node *node, struct node_group *g)
{
    struct wal_error err;
    if (wal_reset_group(node->wal, g->id, &err) != WAL_OK)
        return; /* the batch is full: at the next tick */
    node->wal_records_pending = true;
    node_drive_schedule(node);
    node->groups[g->id] = NULL;
    g->retiring = true;
    /* Durable once the batches in flight now and then the open one holding it completed. */
    g->reset_syncs = node->stats.syncs + node->flight_count + 1;
    node_quiesce_forget(g);
    node_forwards_reject_all(g);
    node_log(node, NODE_LOG_INFO, "rebalancer: shard %u moved off this node; deleting its "
             "replica", g->id);
}

/* Once idle, and the WAL's reset durable: the files, the store's data, the group. */
static void replica_delete(struct node *node, struct node_group *g)
{
    if (!replica_idle(g) || node->stats.syncs < g->reset_syncs)
        return;
    uint32_t shard = g->id;
    hosted_remove(node, g);
    /* The store first: a crash before the files go leaves a directory that the next start
     * sweeps (node_rebalance_sweep), never data without one. */
    if (kv_store_drop(g->kv) != KV_OK)
        node_log(node, NODE_LOG_WARN, "rebalancer: deleting the store of shard %u: %s", shard,
                 kv_last_error());
    char snapshot_dir[sizeof(g->snapshot_dir)];
    memcpy(snapshot_dir, g->snapshot_dir, sizeof(snapshot_dir));
    node_group_close(node, g);
    replica_remove_files(node, shard, snapshot_dir);
    node->group_slots--;
    node->rebalance_deleted++;
    node_log(node, NODE_LOG_INFO, "rebalancer: the replica of shard %u is deleted", shard);
}

/* ---- the tick -------------------------------------------------------------------------- */

void node_rebalance_tick(struct node *node)
{
    if (!node->cluster_mode || node->rebalance == NULL || node->groups == NULL)
        return;
    const struct topology *t = node->topology;
    cn_node_id me = node->config.id;
    /* Replicas this node is to receive (a removed node receives none, but still deletes). */
    const struct rebalance_plan *plan = node->rebalance;
    bool removed = node_members_removed(node);
    for (uint32_t i = 0; i < plan->move_count && !removed; i++) {
        const struct rebalance_move *m = &plan->moves[i];
        if (m->runnable && m->to == me && node->groups[m->shard] == NULL) {
            bool retiring = false;
            for (uint32_t k = 0; k < node->hosted_count; k++)
                retiring |= node->hosted[k]->id == m->shard && node->hosted[k]->retiring;
            if (!retiring)
                replica_create(node, m->shard);
        }
    }
    /* Moves of the shards this node leads; replicas that moved off. Backwards: a deletion
     * removes its entry. */
    for (uint32_t i = node->hosted_count; i-- > 0;) {
        struct node_group *g = node->hosted[i];
        if (g->retiring) {
            replica_delete(node, g);
            continue;
        }
        const struct rebalance_move *m = shard_move(node, g->id);
        if (m != NULL && !removed) {
            uint32_t after[TOPOLOGY_REPLICAS_MAX];
            uint32_t after_count = replicas_after(&t->shards[g->id], m, after);
            move_step(node, g, m, after, after_count, true);
        }
        if (!removed && !g->retiring)
            reconcile_step(node, g);
        if (!topology_shard_has_replica(&t->shards[g->id], me) && !moving_to(node, g->id, me))
            replica_retire(node, g);
    }
}

/* ---- at start ---------------------------------------------------------------------------- */

static void snapshot_dir_of(const struct node *node, uint32_t shard, char *out, size_t cap)
{
    if (shard == 0)
        snprintf(out, cap, "%s/snap", node->config.data_dir);
    else
        snprintf(out, cap, "%s/groups/%u/snap", node->config.data_dir, shard);
}

bool node_rebalance_open_at_start(const struct node *node, uint32_t shard)
{
    char dir[NODE_PATH_BYTES_MAX + 48];
    struct stat st;
    snapshot_dir_of(node, shard, dir, sizeof(dir));
    return moving_to(node, shard, node->config.id) && stat(dir, &st) == 0;
}

/* A shard this node does not host at start but whose replica directory is there: a deletion
 * that a crash interrupted (the store was dropped first, or is dropped now). */
void node_rebalance_sweep(struct node *node, uint32_t shard)
{
    char dir[NODE_PATH_BYTES_MAX + 48];
    struct stat st;
    snapshot_dir_of(node, shard, dir, sizeof(dir));
    if (stat(dir, &st) != 0)
        return;
    struct wal_error err;
    struct kv *kv = NULL;
    if (wal_reset_group(node->wal, shard, &err) != WAL_OK ||
        kv_store_open(node->kv_env, shard, &kv) != KV_OK || kv_store_drop(kv) != KV_OK) {
        node_log(node, NODE_LOG_WARN, "rebalancer: the leftover replica of shard %u could not "
                 "be deleted", shard);
        kv_close(kv);
        return;
    }
    kv_close(kv);
    replica_remove_files(node, shard, dir);
    node_log(node, NODE_LOG_INFO, "rebalancer: deleted the leftover replica of shard %u", shard);
}
