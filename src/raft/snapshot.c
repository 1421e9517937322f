/*
 * snapshot.c — log compaction and InstallSnapshot (§7; thesis §5).
 *
 * The application tells the core when it holds a snapshot (CN_EVENT_SNAPSHOT_TAKEN); the
 * core then drops the log up to it. A follower that needs compacted entries gets the
 * snapshot instead, in chunks, one at a time (stop-and-wait, so a slow follower bounds the
 * leader's work): the core names the snapshot and the offset, and the driver fills in the
 * bytes (consensus.h). The follower stages chunks through its updates and installs the
 * snapshot atomically with the last one; it then answers like an append, so that the
 * leader's progress moves on from the snapshot's index.
 */
#include <string.h>

#include "raft/raft_internal.h"

static void send_snapshot_chunk(struct raft *r, struct raft_progress *p)
{
    struct cn_message *m = raft_send(r, CN_MSG_SNAPSHOT, p->id);
    if (m == NULL)
        return;
    m->snapshot.index = p->snapshot_index;
    raft_log_term(&r->log, p->snapshot_index, &m->snapshot.term);
    cn_membership_pack(&r->snapshot_conf, &m->snapshot.members);
    m->snapshot_offset = p->snapshot_offset;
    m->commit = r->commit;
    p->snapshot_idle_ticks = 0;
}

void raft_send_snapshot(struct raft *r, struct raft_progress *p)
{
    assert(r->role == CN_ROLE_LEADER);
    assert(r->log.snapshot_index > 0);
    p->state = RAFT_PROGRESS_SNAPSHOT;
    p->snapshot_index = r->log.snapshot_index;
    p->snapshot_offset = 0;
    p->probe_sent = false;
    send_snapshot_chunk(r, p);
}

/* A chunk or its answer was lost: start over from the newest snapshot after a while. */
void raft_snapshot_tick(struct raft *r, struct raft_progress *p)
{
    if (++p->snapshot_idle_ticks < r->config.election_ticks)
        return;
    raft_send_snapshot(r, p);
}

void raft_handle_snapshot_response(struct raft *r, const struct cn_message *m)
{
    if (r->role != CN_ROLE_LEADER)
        return;
    struct raft_progress *p = raft_progress_of(r, m->from);
    if (p->state != RAFT_PROGRESS_SNAPSHOT)
        return;
    if (m->index != p->snapshot_index) {
        /* The driver sent a newer snapshot than the one we named: follow it. */
        if (m->index != r->log.snapshot_index)
            return;
        p->snapshot_index = m->index;
    }
    p->snapshot_offset = m->context; /* where the follower wants to go on (0 restarts) */
    send_snapshot_chunk(r, p);
}

static void respond_chunk(struct raft *r, cn_node_id to, uint64_t index, uint64_t next_offset,
                          bool reject)
{
    struct cn_message *out = raft_send_after_persist(r, CN_MSG_SNAPSHOT_RESPONSE, to);
    if (out == NULL)
        return;
    out->index = index;
    out->context = next_offset;
    out->reject = reject;
}

static void respond_installed(struct raft *r, cn_node_id to, uint64_t index)
{
    struct cn_message *out = raft_send_after_persist(r, CN_MSG_APPEND_RESPONSE, to);
    if (out != NULL)
        out->index = index;
}

/* The last chunk arrived: the staged snapshot replaces the log, unless the log already
 * holds the snapshot's last entry, in which case only the commit index moves (as etcd). */
static void finish_snapshot(struct raft *r, cn_node_id from)
{
    const struct cn_snapshot_meta *meta = &r->staging.meta;
    r->staging.active = false;
    uint64_t term;
    if (raft_log_term(&r->log, meta->index, &term) && term == meta->term) {
        if (meta->index > r->commit)
            r->commit = meta->index;
        respond_installed(r, from, meta->index);
        return;
    }
    raft_log_reset(r, meta->index, meta->term);
    /* The snapshot's configuration is in force until a later configuration entry (§6). */
    struct cn_membership conf;
    if (meta->members.count > 0 && cn_membership_unpack(&meta->members, &conf)) {
        r->snapshot_conf = conf;
        raft_conf_set(r, &conf, meta->index);
    } else {
        raft_conf_set(r, &r->snapshot_conf, meta->index);
    }
    r->commit = meta->index;
    r->applied = meta->index;
    r->unstable = meta->index + 1;
    if (r->persisted > meta->index)
        r->persisted = meta->index;
    if (r->update_outstanding && r->handed_truncated_at > meta->index + 1)
        r->handed_truncated_at = meta->index + 1;
    r->staging.install_pending = true;
    respond_installed(r, from, meta->index);
}

static bool snapshot_meta_valid(const struct raft *r, const struct cn_message *m)
{
    const struct cn_snapshot_meta *meta = &m->snapshot;
    if (meta->index == 0 || meta->term == 0 || meta->term > m->term)
        return false;
    if (meta->members.count > CN_MEMBERS_MAX || m->snapshot_chunk_len > CN_SNAPSHOT_CHUNK_BYTES_MAX)
        return false;
    struct cn_membership conf;
    if (meta->members.count > 0 && !cn_membership_unpack(&meta->members, &conf))
        return false;
    return m->snapshot_chunk_len == 0 || m->snapshot_chunk != NULL;
}

void raft_handle_snapshot(struct raft *r, const struct cn_message *m)
{
    assert(r->role != CN_ROLE_LEADER);
    if (r->role != CN_ROLE_FOLLOWER)
        raft_become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    if (!snapshot_meta_valid(r, m))
        return;
    const struct cn_snapshot_meta *meta = &m->snapshot;
    if (meta->index <= r->commit) {
        r->staging.active = false;
        respond_installed(r, m->from, r->commit);
        return;
    }
    uint64_t want;
    switch (cn_staging_accept(&r->staging, m, r->outboxes.pending, &want)) {
    case CN_STAGING_REFUSED:
        respond_chunk(r, m->from, meta->index, want, true);
        break;
    case CN_STAGING_MORE:
        respond_chunk(r, m->from, meta->index, want, false);
        break;
    case CN_STAGING_DONE:
        finish_snapshot(r, m->from);
        break;
    }
}

/* The application holds a snapshot of everything up to `index`: drop the log below it. */
void raft_snapshot_taken(struct raft *r, uint64_t index)
{
    /* Applied entries were handed out with (or after) the update that persists them, so a
     * driver may take a snapshot before acking that update: `persisted` may still lag. */
    assert(index <= r->applied);
    assert(index < r->unstable);
    if (index <= r->log.snapshot_index)
        return;
    uint64_t term;
    bool known = raft_log_term(&r->log, index, &term);
    assert(known);
    raft_conf_compacting(r, index);
    raft_log_compact_to(r, index, term);
}
