/*
 * membership.c — configuration changes by joint consensus (Raft §6; thesis §4.3; etcd's
 * EnterJoint / LeaveJoint with auto-leave).
 *
 * Rules and where they come from:
 *  - A configuration is voters + learners (consensus.h, struct cn_membership). A change is a
 *    CN_ENTRY_CONFIG entry and takes effect on every node as soon as it is appended to its
 *    log, committed or not (§6: "a server always uses the latest configuration in its log");
 *    truncating the entry reverts to the configuration before it.
 *  - A change of voters goes through the joint configuration C(old,new): the leader appends
 *    it, and from then on elections and commits need a majority of both old and new voters
 *    (§6). Once C(old,new) commits, the leader appends C(new) by itself (auto-leave, as
 *    etcd's AutoLeave), which needs only the new majority. A change of learners alone needs
 *    no joint phase: learners never count.
 *  - One change at a time: a leader refuses a change while the last configuration entry is
 *    uncommitted or the configuration is still joint (thesis §4.1).
 *  - A new leader changes nothing before it committed an entry of its own term (its no-op):
 *    before that, a configuration entry of an earlier leader may still be uncommitted in
 *    its log and be overwritten, and two overlapping changes could then both commit (the
 *    bug Ongaro described on raft-dev in 2015, thesis §4.1 errata).
 *  - A leader that is not a voter of C(new) manages the cluster until C(new) commits, without
 *    counting itself toward its majority, then steps down (thesis §4.2.2), handing over to
 *    the most caught-up voter with TimeoutNow (thesis §3.10) so that no election timeout is
 *    lost.
 *  - Learners receive appends, heartbeats and snapshots, and never vote nor campaign.
 */
#include <string.h>

#include "raft/raft_internal.h"

/* Rebuilds the leader's progress for the nodes of `conf`: a node that stays keeps its
 * progress; a new one starts probing at the end of the log (§5.3). Bounded: at most
 * CN_MEMBERS_MAX nodes. */
static void progress_rebuild(struct raft *r)
{
    struct raft_progress old[CN_MEMBERS_MAX];
    uint32_t old_count = r->progress_count;
    memcpy(old, r->progress, sizeof(old));
    cn_node_id ids[CN_MEMBERS_MAX];
    uint32_t count = cn_membership_nodes(&r->conf, ids);
    uint64_t last = raft_log_last(&r->log);
    for (uint32_t i = 0; i < count; i++) {
        struct raft_progress *p = &r->progress[i];
        uint32_t k = 0;
        while (k < old_count && old[k].id != ids[i])
            k++;
        if (k < old_count) {
            *p = old[k];
            continue;
        }
        memset(p, 0, sizeof(*p));
        p->id = ids[i];
        /* From the last entry, not past it: a probe must carry an entry (the configuration
         * entry that added the node, when the leader appended it), or nothing would be sent
         * to a node that has nothing to reject. */
        p->next = last > 0 ? last : 1;
        p->state = RAFT_PROGRESS_PROBE;
        /* A node just added gets one election timeout before check-quorum counts it. */
        p->recent_active = true;
    }
    r->progress_count = count;
}

void raft_conf_set(struct raft *r, const struct cn_membership *conf, uint64_t index)
{
    assert(cn_membership_valid(conf, true));
    r->conf = *conf;
    r->conf_index = index;
    progress_rebuild(r);
}

/* A configuration entry must decode to a non-empty valid configuration. */
bool raft_entry_valid(const struct cn_entry *e)
{
    struct cn_membership conf;
    return e->type != CN_ENTRY_CONFIG || cn_membership_decode(e->data, e->data_len, &conf);
}

/* §6: a configuration takes effect when its entry is appended (log.c calls this for every
 * entry it appends: a proposal, a received append, a restored entry). */
void raft_conf_entry_appended(struct raft *r, const struct cn_entry *e)
{
    if (e->type != CN_ENTRY_CONFIG)
        return;
    struct cn_membership conf;
    if (!cn_membership_decode(e->data, e->data_len, &conf))
        return; /* checked before appending (raft_entry_valid); a restored one is trusted */
    raft_conf_set(r, &conf, e->index);
}

/* The latest configuration at or below `index` among the entries in memory, else the
 * snapshot's. Bounded by the log in memory; runs only on truncations and compactions that
 * reach a configuration entry. */
static void conf_at(const struct raft *r, uint64_t index, struct cn_membership *conf,
                    uint64_t *conf_index)
{
    for (uint64_t i = index; i > r->log.snapshot_index; i--) {
        const struct cn_entry *e = raft_log_get(&r->log, i);
        if (e != NULL && e->type == CN_ENTRY_CONFIG &&
            cn_membership_decode(e->data, e->data_len, conf)) {
            *conf_index = i;
            return;
        }
    }
    *conf = r->snapshot_conf;
    *conf_index = r->log.snapshot_index;
}

/* Entries from `index` on were truncated (§5.3): if the configuration in force came from one
 * of them, the one before it is in force again (§6). */
void raft_conf_truncated(struct raft *r, uint64_t index)
{
    if (r->conf_index < index)
        return;
    struct cn_membership conf;
    uint64_t conf_index;
    conf_at(r, index - 1, &conf, &conf_index);
    raft_conf_set(r, &conf, conf_index);
}

/* The log is about to be compacted up to `index`: remember the configuration in force there,
 * which snapshots of that index carry (thesis §5.1). */
void raft_conf_compacting(struct raft *r, uint64_t index)
{
    uint64_t conf_index;
    conf_at(r, index, &r->snapshot_conf, &conf_index);
}

static void append_conf(struct raft *r, const struct cn_membership *conf)
{
    uint8_t data[CN_MEMBERSHIP_ENTRY_BYTES_MAX];
    uint32_t len = cn_membership_encode(conf, data);
    raft_log_append(r, r->term, CN_ENTRY_CONFIG, data, len);
    r->broadcast_pending = true;
}

static bool lists_equal(const struct cn_members *a, const struct cn_members *b)
{
    return a->count == b->count && memcmp(a->ids, b->ids, a->count * sizeof(a->ids[0])) == 0;
}

/* CN_EVENT_MEMBERSHIP on the leader: the target's voters and learners. */
int raft_conf_change(struct raft *r, const struct cn_membership *target, uint64_t *index,
                     uint64_t *term)
{
    if (r->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (r->transfer_target != 0)
        return CN_ERR_TRANSFERRING;
    struct cn_membership next = {.voters = target->voters, .learners = target->learners};
    if (!cn_membership_valid(&next, false))
        return CN_ERR_INVALID;
    /* A new leader waits for its first commit (see the file comment), and one change at a
     * time: the previous one must be committed and out of its joint phase. */
    if (!raft_committed_in_term(r))
        return CN_ERR_BUSY;
    if (r->conf_index > r->commit || cn_membership_joint(&r->conf))
        return CN_ERR_BUSY;
    if (!lists_equal(&next.voters, &r->conf.voters)) {
        next.outgoing = r->conf.voters; /* enter C(old,new) */
        if (!cn_membership_valid(&next, false))
            return CN_ERR_INVALID; /* old and new together exceed CN_MEMBERS_MAX nodes */
    }
    if (raft_log_last(&r->log) - r->persisted >= r->config.pending_proposals_max)
        return CN_ERR_BUSY;
    append_conf(r, &next);
    if (index != NULL)
        *index = raft_log_last(&r->log);
    if (term != NULL)
        *term = r->term;
    return CN_OK;
}

/* Hands leadership to the voter that holds the whole log, if any (thesis §3.10), so that a
 * leader leaving the configuration costs no election timeout. */
static void hand_over(struct raft *r)
{
    uint64_t last = raft_log_last(&r->log);
    for (uint32_t i = 0; i < r->conf.voters.count; i++) {
        struct raft_progress *p = raft_progress_of(r, r->conf.voters.ids[i]);
        if (p != NULL && p->id != r->config.id && p->match == last) {
            raft_send(r, CN_MSG_TIMEOUT_NOW, p->id);
            return;
        }
    }
}

/* The leader's commit index moved: leave a committed joint configuration (auto-leave), and
 * step down once a configuration without this node as a voter committed (thesis §4.2.2). */
void raft_conf_committed(struct raft *r)
{
    if (r->role != CN_ROLE_LEADER || r->conf_index > r->commit)
        return;
    if (cn_membership_joint(&r->conf)) {
        struct cn_membership next = {.voters = r->conf.voters, .learners = r->conf.learners};
        append_conf(r, &next);
        return;
    }
    if (!cn_members_contains(&r->conf.voters, r->config.id)) {
        hand_over(r);
        raft_become_follower(r, r->term, 0);
    }
}

static bool recently_active(const void *context, cn_node_id id)
{
    struct raft *r = (struct raft *)context;
    const struct raft_progress *p = raft_progress_of(r, id);
    return id == r->config.id || (p != NULL && p->recent_active);
}

/* Every election timeout on the leader, before check-quorum resets the activity marks: a
 * pending change whose incoming voters did not answer as a quorum cannot complete. */
void raft_conf_tick(struct raft *r)
{
    bool pending = r->conf_index > r->commit || cn_membership_joint(&r->conf);
    r->conf_unreachable = pending && !cn_quorum_has(&r->conf.voters, recently_active, r);
}
