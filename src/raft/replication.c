/*
 * replication.c — log replication and commitment (§5.3, §5.4; thesis §3.5, §10.2).
 *
 *  - The leader tracks each follower's progress: PROBE sends one append at a time until the
 *    match point is found; REPLICATE pipelines appends, at most inflight_messages_max in
 *    flight; SNAPSHOT waits for a snapshot transfer (snapshot.c).
 *  - A rejected append carries a hint (the conflicting term and its first index, or the
 *    follower's last index + 1) so that the leader skips a whole term per round trip.
 *  - A follower truncates only from the first conflicting entry, never an entry that merely
 *    repeats what it has, and never a committed one (asserted in log.c).
 *  - The leader commits an index only when a quorum persisted it and its entry is of the
 *    leader's current term (§5.4.2, Figure 8); its own log counts only once persisted.
 *  - Proposals are batched: appends go out when the driver takes the next update.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

static void inflight_reset(struct raft_progress *p)
{
    p->inflight_head = 0;
    p->inflight_count = 0;
}

static bool inflight_full(const struct raft *r, const struct raft_progress *p)
{
    return p->inflight_count >= r->config.inflight_messages_max;
}

static void inflight_add(struct raft_progress *p, uint64_t last_index)
{
    assert(p->inflight_count < RAFT_INFLIGHT_MAX);
    p->inflight[(p->inflight_head + p->inflight_count) % RAFT_INFLIGHT_MAX] = last_index;
    p->inflight_count++;
}

/* Frees the in-flight slots of every append the follower has now acknowledged. */
static void inflight_free_to(struct raft_progress *p, uint64_t index)
{
    while (p->inflight_count > 0 && p->inflight[p->inflight_head] <= index) {
        p->inflight_head = (p->inflight_head + 1) % RAFT_INFLIGHT_MAX;
        p->inflight_count--;
    }
}

void raft_progress_become_probe(struct raft_progress *p)
{
    p->state = RAFT_PROGRESS_PROBE;
    p->next = p->match + 1;
    p->probe_sent = false;
    inflight_reset(p);
}

static void progress_become_replicate(struct raft_progress *p)
{
    p->state = RAFT_PROGRESS_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    inflight_reset(p);
}

void raft_progress_reset_all(struct raft *r)
{
    uint64_t last = raft_log_last(&r->log);
    for (uint32_t i = 0; i < r->progress_count; i++) {
        struct raft_progress *p = &r->progress[i];
        cn_node_id id = p->id;
        memset(p, 0, sizeof(*p));
        p->id = id;
        p->next = last + 1;
        p->state = RAFT_PROGRESS_PROBE;
        p->recent_active = id == r->config.id;
    }
}

/* How many entries from `from` fit in one append: at least one, then within both bounds. */
static uint32_t append_entry_count(const struct raft *r, uint64_t from)
{
    uint64_t last = raft_log_last(&r->log);
    uint32_t count = 0;
    uint64_t bytes = 0;
    for (uint64_t i = from; i <= last && count < r->config.message_entries_max; i++) {
        uint32_t len = raft_log_get(&r->log, i)->data_len;
        if (count > 0 && bytes + len > r->config.message_bytes_max)
            break;
        bytes += len;
        count++;
    }
    return count;
}

/* Sends the next append to follower `p` if its state allows one. Returns whether it sent. */
static bool send_append_once(struct raft *r, struct raft_progress *p, bool allow_empty)
{
    if (p->state == RAFT_PROGRESS_SNAPSHOT)
        return false;
    if (p->state == RAFT_PROGRESS_PROBE && p->probe_sent)
        return false;
    if (p->state == RAFT_PROGRESS_REPLICATE && inflight_full(r, p))
        return false;
    uint64_t prev = p->next - 1;
    uint64_t prev_term;
    if (!raft_log_term(&r->log, prev, &prev_term)) {
        /* The entries the follower needs are compacted: send the snapshot (§7). */
        raft_send_snapshot(r, p);
        return false;
    }
    uint32_t count = append_entry_count(r, p->next);
    if (count == 0 && !allow_empty)
        return false;
    struct cn_message *m = raft_send(r, CN_MSG_APPEND, p->id);
    if (m == NULL)
        return false;
    m->index = prev;
    m->log_term = prev_term;
    m->commit = r->commit;
    if (count > 0)
        raft_message_attach_entries(r, m, p->next, count);
    p->commit_sent = r->commit;
    if (p->state == RAFT_PROGRESS_REPLICATE && count > 0) {
        p->next += count;
        inflight_add(p, p->next - 1);
    } else if (p->state == RAFT_PROGRESS_PROBE) {
        p->probe_sent = true;
    }
    return count > 0;
}

void raft_send_append(struct raft *r, struct raft_progress *p)
{
    send_append_once(r, p, true);
}

/* Sends every follower what it is missing, as far as its window allows, and an empty append
 * to the caught-up ones when the commit index moved (so that they apply without waiting for
 * the next heartbeat). Bounded by the window and the outbox. */
void raft_broadcast_appends(struct raft *r)
{
    assert(r->role == CN_ROLE_LEADER);
    uint64_t last = raft_log_last(&r->log);
    for (uint32_t i = 0; i < r->progress_count; i++) {
        struct raft_progress *p = &r->progress[i];
        if (p->id == r->config.id)
            continue;
        if (p->next > last) {
            if (p->commit_sent < r->commit && p->state == RAFT_PROGRESS_REPLICATE)
                send_append_once(r, p, true);
            continue;
        }
        for (uint32_t sent = 0; sent < RAFT_INFLIGHT_MAX && p->next <= last; sent++)
            if (!send_append_once(r, p, false) || p->state != RAFT_PROGRESS_REPLICATE)
                break;
    }
}

void raft_broadcast_heartbeats(struct raft *r, uint64_t read_round)
{
    for (uint32_t i = 0; i < r->progress_count; i++) {
        struct raft_progress *p = &r->progress[i];
        if (p->id == r->config.id)
            continue;
        struct cn_message *m = raft_send(r, CN_MSG_HEARTBEAT, p->id);
        if (m == NULL)
            continue;
        /* Never more than the follower is known to hold: its log may diverge above. */
        m->commit = p->match < r->commit ? p->match : r->commit;
        m->context = read_round;
    }
}

static void respond_append(struct raft *r, cn_node_id to, uint64_t index, bool reject,
                           uint64_t hint_term, uint64_t hint_index)
{
    /* Every append response leaves after the persist of this update (§5.3): an acceptance
     * claims the entries are durable here, and responses must not overtake each other. */
    struct cn_message *out = raft_send_after_persist(r, CN_MSG_APPEND_RESPONSE, to);
    if (out == NULL)
        return;
    out->index = index;
    out->reject = reject;
    out->hint_term = hint_term;
    out->hint_index = hint_index;
}

/* The first index of the run of entries of term `term` ending at `index`, not reaching
 * below what is committed (those entries match the leader anyway). */
static uint64_t first_index_of_term(const struct raft *r, uint64_t index, uint64_t term)
{
    uint64_t floor = r->commit > r->log.snapshot_index ? r->commit : r->log.snapshot_index;
    uint64_t t;
    while (index - 1 > floor && raft_log_term(&r->log, index - 1, &t) && t == term)
        index--;
    return index;
}

static bool append_entries_valid(const struct raft *r, const struct cn_message *m)
{
    uint64_t previous_term = m->log_term;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term < previous_term || e->term > m->term ||
            e->data_len > CN_ENTRY_DATA_BYTES_MAX || !raft_entry_valid(e))
            return false;
        previous_term = e->term;
    }
    return true;
}

/* Figure 2, AppendEntries receiver. */
void raft_handle_append(struct raft *r, const struct cn_message *m)
{
    assert(r->role != CN_ROLE_LEADER); /* two leaders in one term: Election Safety broken */
    if (r->role != CN_ROLE_FOLLOWER)
        raft_become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    if (!append_entries_valid(r, m))
        return;
    if (m->index < r->commit) {
        /* Everything up to our commit matches the leader already. */
        respond_append(r, m->from, r->commit, false, 0, 0);
        return;
    }
    uint64_t prev_term;
    if (!raft_log_term(&r->log, m->index, &prev_term)) {
        respond_append(r, m->from, m->index, true, 0, raft_log_last(&r->log) + 1);
        return;
    }
    if (prev_term != m->log_term) {
        uint64_t hint_index = first_index_of_term(r, m->index, prev_term);
        respond_append(r, m->from, m->index, true, prev_term, hint_index);
        return;
    }
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        uint64_t term;
        if (raft_log_term(&r->log, e->index, &term)) {
            if (term == e->term)
                continue; /* we have it: a stale or duplicated append must not truncate */
            raft_log_truncate_from(r, e->index);
        }
        raft_log_append(r, e->term, e->type, e->data, e->data_len);
    }
    uint64_t last_new = m->index + m->entry_count;
    /* Figure 2: commitIndex = min(leaderCommit, index of last new entry). */
    uint64_t commit = m->commit < last_new ? m->commit : last_new;
    if (commit > r->commit)
        r->commit = commit;
    respond_append(r, m->from, last_new, false, 0, 0);
}

/* Where to probe next after a rejection, from the follower's hint (§5.3, end). */
static uint64_t next_from_hint(const struct raft *r, const struct cn_message *m)
{
    uint64_t next = m->hint_index;
    if (m->hint_term != 0) {
        uint64_t index = m->index < raft_log_last(&r->log) ? m->index : raft_log_last(&r->log);
        uint64_t term;
        while (index > r->log.snapshot_index && raft_log_term(&r->log, index, &term) &&
               term > m->hint_term)
            index--;
        if (raft_log_term(&r->log, index, &term) && term == m->hint_term)
            next = index + 1;
    }
    if (next > m->index)
        next = m->index;
    if (next < 1)
        next = 1;
    return next;
}

static void handle_append_reject(struct raft *r, struct raft_progress *p,
                                 const struct cn_message *m)
{
    if (p->state == RAFT_PROGRESS_REPLICATE && m->index <= p->match)
        return; /* stale */
    if (p->state == RAFT_PROGRESS_PROBE && m->index != p->next - 1)
        return; /* an answer to an older probe */
    if (p->state == RAFT_PROGRESS_SNAPSHOT)
        return;
    raft_progress_become_probe(p);
    uint64_t next = next_from_hint(r, m);
    p->next = next > p->match + 1 ? next : p->match + 1;
    raft_send_append(r, p);
}

void raft_handle_append_response(struct raft *r, const struct cn_message *m)
{
    if (r->role != CN_ROLE_LEADER)
        return;
    struct raft_progress *p = raft_progress_of(r, m->from);
    if (m->reject) {
        handle_append_reject(r, p, m);
        return;
    }
    p->probe_sent = false;
    if (m->index > raft_log_last(&r->log))
        return; /* cannot be an answer to this leader */
    if (m->index > p->match) {
        p->match = m->index;
        if (p->next <= p->match)
            p->next = p->match + 1;
        if (p->state == RAFT_PROGRESS_PROBE ||
            (p->state == RAFT_PROGRESS_SNAPSHOT && p->match >= p->snapshot_index))
            progress_become_replicate(p);
        if (raft_maybe_commit(r))
            r->broadcast_pending = true;
        raft_maybe_send_timeout_now(r, p);
    }
    inflight_free_to(p, m->index);
    if (p->next <= raft_log_last(&r->log))
        r->broadcast_pending = true;
}

void raft_handle_heartbeat(struct raft *r, const struct cn_message *m)
{
    assert(r->role != CN_ROLE_LEADER);
    if (r->role != CN_ROLE_FOLLOWER)
        raft_become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    uint64_t last = raft_log_last(&r->log);
    uint64_t commit = m->commit < last ? m->commit : last;
    if (commit > r->commit)
        r->commit = commit;
    struct cn_message *out = raft_send(r, CN_MSG_HEARTBEAT_RESPONSE, m->from);
    if (out != NULL)
        out->context = m->context;
}

void raft_handle_heartbeat_response(struct raft *r, const struct cn_message *m)
{
    if (r->role != CN_ROLE_LEADER)
        return;
    struct raft_progress *p = raft_progress_of(r, m->from);
    p->probe_sent = false;
    /* Appends or their answers may have been lost with the window full: free one slot, so
     * that one more append leaves; the follower then rejects its gap and the leader probes
     * (etcd's Inflights.FreeFirstOne). Without this a follower can stall forever. */
    if (p->state == RAFT_PROGRESS_REPLICATE && p->match < raft_log_last(&r->log)) {
        if (inflight_full(r, p)) {
            p->inflight_head = (p->inflight_head + 1) % RAFT_INFLIGHT_MAX;
            p->inflight_count--;
        }
        /* With nothing new to propose, an append (empty when next is past the end) is what
         * makes a follower that lost appends reject its gap. */
        send_append_once(r, p, true);
    } else if (p->match < raft_log_last(&r->log)) {
        r->broadcast_pending = true;
    }
    if (m->context > p->read_round_acked && m->context <= r->reads.round) {
        p->read_round_acked = m->context;
        raft_read_confirm(r);
    }
}

static uint64_t match_of(const void *context, cn_node_id id)
{
    struct raft *r = (struct raft *)context;
    if (id == r->config.id)
        return r->persisted; /* our own log counts once durable (thesis §10.2.1) */
    const struct raft_progress *p = raft_progress_of(r, id);
    assert(p != NULL);
    return p->match;
}

/* §5.4.2: the highest index persisted on a quorum commits only if its entry is of this term;
 * earlier entries then commit with it (Log Matching). While joint, the quorum is a majority
 * of each half (§6); a leader that is not a voter does not count itself (thesis §4.2.2). */
bool raft_maybe_commit(struct raft *r)
{
    uint64_t candidate = cn_membership_index(&r->conf, match_of, r);
    uint64_t term;
    if (candidate <= r->commit || !raft_log_term(&r->log, candidate, &term))
        return false;
    if (term != r->term)
        return false;
    r->commit = candidate;
    raft_read_release_waiting(r);
    raft_conf_committed(r);
    return true;
}

int raft_propose(struct raft *r, const uint8_t *data, uint32_t data_len, uint64_t *index,
                 uint64_t *term)
{
    if (r->role != CN_ROLE_LEADER)
        return CN_ERR_NOT_LEADER;
    if (r->transfer_target != 0)
        return CN_ERR_TRANSFERRING;
    if (data_len > CN_ENTRY_DATA_BYTES_MAX)
        return CN_ERR_TOO_LARGE;
    if (r->log.bytes + data_len > r->config.log_bytes_max)
        return CN_ERR_BUSY;
    if (raft_log_last(&r->log) - r->persisted >= r->config.pending_proposals_max)
        return CN_ERR_BUSY;
    raft_log_append(r, r->term, CN_ENTRY_NORMAL, data, data_len);
    if (index != NULL)
        *index = raft_log_last(&r->log);
    if (term != NULL)
        *term = r->term;
    r->broadcast_pending = true;
    return CN_OK;
}
