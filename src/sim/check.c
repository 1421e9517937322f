/* check.c — protocol-neutral invariants: leaders, commit indexes, applied entries, durability. */
#include "sim/check.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct sim_check_protocol *sim_check_protocol_find(const char *name)
{
    if (strcmp(name, "raft") == 0) return &sim_check_raft;
    if (strcmp(name, "paxos") == 0) return &sim_check_paxos;
    return NULL;
}

int sim_check_init(struct sim_check *check, uint32_t node_count,
                   const struct sim_check_protocol *protocol)
{
    memset(check, 0, sizeof(*check));
    check->protocol = protocol;
    check->verdict = &check->own;
    check->group_count = 1;
    check->applied_capacity = 1024;
    check->applied = calloc(check->applied_capacity, sizeof(*check->applied));
    if (check->applied == NULL || sim_map_init(&check->leader_by_term, 1024) != 0 ||
        sim_map_init(&check->votes, 1024) != 0)
        goto err;
    if (protocol != NULL && protocol->init(&check->protocol_state) != 0) goto err;
    sim_check_clear(check, node_count);
    return 0;
err:
    sim_check_free(check);
    return -1;
}

void sim_check_free(struct sim_check *check)
{
    if (check->protocol != NULL && check->protocol_state != NULL)
        check->protocol->free(check->protocol_state);
    sim_map_free(&check->leader_by_term);
    sim_map_free(&check->votes);
    free(check->applied);
    memset(check, 0, sizeof(*check));
}

void sim_check_clear(struct sim_check *check, uint32_t node_count)
{
    assert(node_count >= 1 && node_count <= SIM_NODES_MAX);
    check->node_count = node_count;
    sim_map_clear(&check->leader_by_term);
    sim_map_clear(&check->votes);
    memset(check->commit_checked, 0, sizeof(check->commit_checked));
    uint64_t used = check->applied_max + 1 < check->applied_capacity ? check->applied_max + 1
                                                                      : check->applied_capacity;
    memset(check->applied, 0, sizeof(*check->applied) * used);
    check->applied_max = 0;
    memset(check->commit_last, 0, sizeof(check->commit_last));
    check->elections = 0;
    check->verdict->failed = false;
    check->verdict->message[0] = '\0';
    if (check->protocol != NULL) check->protocol->clear(check->protocol_state);
}

void sim_check_share(struct sim_check *check, uint32_t group, uint32_t group_count,
                     struct sim_verdict *verdict)
{
    assert(group < group_count);
    check->group = group;
    check->group_count = group_count;
    check->verdict = verdict;
}

/* Writes "invariant: " and the group tag (when there are several groups) and the details. */
static void sim_verdict_vfail(struct sim_verdict *verdict, const char *invariant,
                              const char *group_tag, const char *format, va_list args)
{
    if (verdict->failed) return;
    verdict->failed = true;
    int n = snprintf(verdict->message, sizeof(verdict->message), "%s: %s", invariant, group_tag);
    if (n < 0 || (size_t)n >= sizeof(verdict->message)) return;
    vsnprintf(verdict->message + n, sizeof(verdict->message) - (size_t)n, format, args);
}

void sim_verdict_fail(struct sim_verdict *verdict, const char *invariant, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    sim_verdict_vfail(verdict, invariant, "", format, args);
    va_end(args);
}

void sim_check_fail(struct sim_check *check, const char *invariant, const char *format, ...)
{
    char tag[32] = "";
    if (check->group_count > 1) snprintf(tag, sizeof(tag), "group %u: ", check->group);
    va_list args;
    va_start(args, format);
    sim_verdict_vfail(check->verdict, invariant, tag, format, args);
    va_end(args);
}

void sim_check_leader(struct sim_check *check, uint32_t node, uint64_t term)
{
    uint64_t stored = 0;
    if (sim_map_put_once(&check->leader_by_term, term, 0, node + 1, &stored) != 0) {
        sim_check_fail(check, "bound", "too many terms with a leader");
        return;
    }
    if (stored != node + 1) {
        sim_check_fail(check, "one leader per term", "node %u and node %u both lead term %" PRIu64,
                       (unsigned)stored, node + 1, term);
    }
    check->elections = check->leader_by_term.count;
}

void sim_check_commit_index(struct sim_check *check, uint32_t node, uint64_t commit_index)
{
    assert(node < check->node_count);
    if (commit_index < check->commit_last[node]) {
        sim_check_fail(check, "commit index decreased", "node %u went from %" PRIu64 " to %" PRIu64,
                       node + 1, check->commit_last[node], commit_index);
    }
    check->commit_last[node] = commit_index;
}

void sim_check_hard_state(struct sim_check *check, uint32_t node,
                          const struct cn_hard_state *old, const struct cn_hard_state *new)
{
    if (new->term < old->term) {
        sim_check_fail(check, "term decreased", "node %u persisted term %" PRIu64
                       " after term %" PRIu64, node + 1, new->term, old->term);
    } else if (new->term == old->term && old->vote != 0 && new->vote != old->vote) {
        sim_check_fail(check, "double vote", "node %u voted for %u then %u in term %" PRIu64,
                       node + 1, old->vote, new->vote, new->term);
    }
    /* A candidate's own vote counts once persisted (thesis §10.2.1). Other grants are
     * recorded when their response leaves, after the persist that makes them good: a vote
     * granted in a term the node left before persisting is good too, since its persisted
     * term is then higher and it will never vote in that term again. */
    if (new->vote == node + 1) sim_check_vote(check, node, new->term, new->vote);
}

void sim_check_restarted(struct sim_check *check, uint32_t node)
{
    assert(node < check->node_count);
    check->commit_last[node] = 0;
}

static struct sim_check_applied *sim_check_slot(struct sim_check *check, uint64_t index)
{
    if (index == 0 || index >= SIM_CHECK_INDEX_MAX) return NULL;
    if (index >= check->applied_capacity) {
        uint64_t capacity = check->applied_capacity;
        while (capacity <= index) capacity *= 2;
        struct sim_check_applied *grown = realloc(check->applied, sizeof(*grown) * capacity);
        if (grown == NULL) return NULL;
        memset(grown + check->applied_capacity, 0,
               sizeof(*grown) * (capacity - check->applied_capacity));
        check->applied = grown;
        check->applied_capacity = capacity;
    }
    if (index > check->applied_max) check->applied_max = index;
    return &check->applied[index];
}

const struct sim_check_applied *sim_check_applied_at(const struct sim_check *check,
                                                     uint64_t index)
{
    if (index == 0 || index > check->applied_max || !check->applied[index].set) return NULL;
    return &check->applied[index];
}

void sim_check_applied(struct sim_check *check, uint32_t node, const struct cn_entry *entry,
                       uint64_t report_term, uint64_t rolling, uint64_t digest)
{
    struct sim_check_applied *slot = sim_check_slot(check, entry->index);
    if (slot == NULL) {
        sim_check_fail(check, "bound", "index %" PRIu64 " beyond the simulator's bound",
                       entry->index);
        return;
    }
    uint64_t data_hash = sim_disk_data_hash(entry->data, entry->data_len);
    if (!slot->set) {
        *slot = (struct sim_check_applied){.term = entry->term, .data_hash = data_hash,
                                           .rolling = rolling, .digest = digest,
                                           .reported_term = report_term,
                                           .type = entry->type, .set = true};
        return;
    }
    if (report_term < slot->reported_term) slot->reported_term = report_term;
    /* Raft entries keep their term everywhere; a Paxos value may be applied under different
     * ballots on different nodes, so only its bytes must agree (and the state they lead to). */
    bool same_term = check->protocol != NULL && check->protocol->durable_same_term;
    if (slot->data_hash != data_hash || slot->type != entry->type ||
        (same_term && slot->term != entry->term)) {
        sim_check_fail(check, "state machine safety",
                       "node %u applied index %" PRIu64 " term %" PRIu64
                       " but another entry (term %" PRIu64 ") was applied there before",
                       node + 1, entry->index, entry->term, slot->term);
    } else if (same_term && slot->rolling != rolling) {
        sim_check_fail(check, "state machine safety",
                       "node %u applied index %" PRIu64 " after a different prefix", node + 1,
                       entry->index);
    } else if (slot->digest != digest) {
        sim_check_fail(check, "state machine safety",
                       "node %u reached a different state after index %" PRIu64, node + 1,
                       entry->index);
    }
}

void sim_check_log_time(struct sim_check *check, uint32_t node, uint64_t index,
                        uint64_t time_ms)
{
    struct sim_check_applied *slot = sim_check_slot(check, index);
    if (slot == NULL) return; /* sim_check_applied reported the bound */
    if (!slot->log_time_set) {
        slot->log_time_set = true;
        slot->log_time_ms = time_ms;
    } else if (slot->log_time_ms != time_ms) {
        sim_check_fail(check, "log time", "node %u is at log time %" PRIu64 " after index %"
                       PRIu64 ", another node was at %" PRIu64, node + 1, time_ms, index,
                       slot->log_time_ms);
    }
}

void sim_check_snapshot_installed(struct sim_check *check, uint32_t node, uint64_t index,
                                  uint64_t rolling, uint64_t digest)
{
    const struct sim_check_applied *slot = sim_check_applied_at(check, index);
    if (slot == NULL) {
        sim_check_fail(check, "snapshot", "node %u installed a snapshot at index %" PRIu64
                       " which no node applied", node + 1, index);
    } else if (slot->digest != digest || (check->protocol != NULL &&
                                          check->protocol->durable_same_term &&
                                          slot->rolling != rolling)) {
        sim_check_fail(check, "snapshot", "node %u installed a snapshot at index %" PRIu64
                       " that differs from the applied state", node + 1, index);
    }
}

void sim_check_committed_durable(struct sim_check *check, uint32_t node,
                                 const struct cn_entry *entry,
                                 const struct sim_disk *const *disks)
{
    uint64_t data_hash = sim_disk_data_hash(entry->data, entry->data_len);
    bool same_term = check->protocol != NULL && check->protocol->durable_same_term;
    uint32_t holders = 0;
    for (uint32_t i = 0; i < check->node_count; i++) {
        const struct sim_disk *disk = disks[i];
        if (disk->snapshot.index >= entry->index) {
            holders++;
            continue;
        }
        const struct sim_disk_entry *on_disk = sim_disk_entry_at(disk, entry->index);
        if (on_disk != NULL && on_disk->data_hash == data_hash && on_disk->type == entry->type &&
            (!same_term || on_disk->term == entry->term))
            holders++;
    }
    if (holders < check->node_count / 2 + 1) {
        sim_check_fail(check, "committed but not durable",
                       "node %u reported index %" PRIu64 " term %" PRIu64
                       " committed but only %u of %u disks hold it", node + 1, entry->index,
                       entry->term, holders, check->node_count);
    }
}

void sim_check_chosen_quorum(struct sim_check *check, uint32_t node,
                             const struct cn_entry *entry, const struct cn_members *voters,
                             const struct sim_disk *const *disks)
{
    uint64_t data_hash = sim_disk_data_hash(entry->data, entry->data_len);
    uint32_t holders = 0;
    for (uint32_t i = 0; i < voters->count; i++) {
        cn_node_id id = voters->ids[i];
        if (id == 0 || id > check->node_count) continue;
        const struct sim_disk *disk = disks[id - 1];
        if (disk->snapshot.index >= entry->index) {
            holders++;
            continue;
        }
        const struct sim_disk_entry *on_disk = sim_disk_entry_at(disk, entry->index);
        holders += on_disk != NULL && on_disk->data_hash == data_hash &&
                   on_disk->type == entry->type;
    }
    if (holders < voters->count / 2 + 1) {
        sim_check_fail(check, "chosen without a majority of its slot's configuration",
                       "node %u applied slot %" PRIu64 " ballot %" PRIu64 " but only %u of"
                       " the %u voters governing it hold it", node + 1, entry->index,
                       entry->term, holders, voters->count);
    }
}

void sim_check_set_membership(struct sim_check *check, bool membership)
{
    check->membership = membership;
}

/* How many of `list` hold (index, term) on disk or under their snapshot. */
static uint32_t holders_in(const struct sim_check *check, const struct cn_members *list,
                           uint64_t index, uint64_t term, const struct sim_disk *const *disks)
{
    uint32_t holders = 0;
    for (uint32_t i = 0; i < list->count; i++) {
        cn_node_id id = list->ids[i];
        if (id == 0 || id > check->node_count) continue;
        const struct sim_disk *disk = disks[id - 1];
        if (disk->snapshot.index >= index) {
            holders++;
            continue;
        }
        const struct sim_disk_entry *on_disk = sim_disk_entry_at(disk, index);
        holders += on_disk != NULL && on_disk->term == term;
    }
    return holders;
}

void sim_check_commit_quorum(struct sim_check *check, uint32_t leader, uint64_t index,
                             uint64_t term, const struct cn_members *voters,
                             const struct cn_members *outgoing,
                             const struct sim_disk *const *disks)
{
    const struct cn_members *lists[2] = {voters, outgoing};
    for (uint32_t l = 0; l < 2; l++) {
        if (lists[l] == NULL || lists[l]->count == 0) continue;
        uint32_t holders = holders_in(check, lists[l], index, term, disks);
        if (holders < lists[l]->count / 2 + 1) {
            sim_check_fail(check, "committed without a quorum of its configuration",
                           "node %u committed index %" PRIu64 " term %" PRIu64
                           " but only %u of the %u %s voters hold it", leader + 1, index,
                           term, holders, lists[l]->count, l == 0 ? "incoming" : "outgoing");
            return;
        }
    }
}

void sim_check_vote(struct sim_check *check, uint32_t node, uint64_t term,
                    cn_node_id candidate)
{
    if (!check->membership) return;
    uint64_t stored = 0;
    if (sim_map_put_once(&check->votes, term, node + 1, candidate, &stored) != 0) {
        sim_check_fail(check, "bound", "too many votes");
    } else if (stored != candidate) {
        sim_check_fail(check, "double vote", "node %u granted its vote in term %" PRIu64
                       " to %u and to %u", node + 1, term, (unsigned)stored, candidate);
    }
}

void sim_check_elected(struct sim_check *check, uint32_t node, uint64_t term,
                       const struct cn_membership *membership)
{
    const struct cn_members *lists[2] = {&membership->voters, &membership->outgoing};
    for (uint32_t l = 0; l < 2; l++) {
        const struct cn_members *list = lists[l];
        if (list->count == 0) continue;
        uint32_t votes = 0;
        char seen[128] = "";
        size_t at = 0;
        for (uint32_t i = 0; i < list->count; i++) {
            uint64_t vote = 0;
            bool voted = sim_map_get(&check->votes, term, list->ids[i], &vote);
            votes += voted && vote == node + 1;
            int w = snprintf(seen + at, sizeof(seen) - at, " n%u:%s%u", list->ids[i],
                             voted ? "" : "-", voted ? (unsigned)vote : 0u);
            if (w > 0 && (size_t)w < sizeof(seen) - at) at += (size_t)w;
        }
        if (votes < list->count / 2 + 1) {
            sim_check_fail(check, "elected without a quorum of its configuration",
                           "node %u leads term %" PRIu64 " with %u persisted votes of the %u %s"
                           " voters (votes:%s)", node + 1, term, votes, list->count,
                           l == 0 ? "incoming" : "outgoing", seen);
            return;
        }
    }
}

void sim_check_persisted(struct sim_check *check, uint32_t node, const struct sim_disk *disk,
                         uint64_t from_index)
{
    if (check->protocol != NULL && check->protocol->persisted != NULL)
        check->protocol->persisted(check, check->protocol_state, node, disk, from_index);
}

void sim_check_became_leader(struct sim_check *check, uint32_t node, const struct cn_ops *ops,
                             const void *core, uint64_t term)
{
    if (check->protocol != NULL && check->protocol->became_leader != NULL)
        check->protocol->became_leader(check, check->protocol_state, node, ops, core, term);
}
