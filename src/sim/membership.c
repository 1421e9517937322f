/*
 * membership.c — --membership: the simulator adds, removes and replaces members at random
 * (Raft §6; docs/membership.md), and checks every election and commit against the
 * configuration it happened in.
 *
 * A run starts with the first three nodes as the voters of every group; the other nodes (with
 * --nodes 5) start with an empty configuration, as new nodes do, and learn theirs from the
 * leader once added. Every few hundred milliseconds of the fault phase, drawn from a stream of
 * its own (so that a run without --membership replays every seed as before), one group's
 * leader is asked for one change: add a node as a learner, promote a learner, demote or remove
 * a voter, remove a learner, or replace a voter by another node in one joint change. The core
 * refuses what it must (a change in progress, a leader that has not committed in its term):
 * those are counted apart. Removed nodes keep running, usually unaware of their removal, which
 * is what tests that they do not disrupt the cluster.
 *
 * The checks (check.c): a leader must hold persisted votes of a majority of each half of its
 * configuration in its term; each index a leader's commit index covers must be on the disks
 * of a majority of each half of the configuration it committed under; one leader per term
 * holds across configurations as before. Nodes outside a configuration never count.
 *
 * With Multi-Paxos (the alpha window, src/paxos/membership.c; Lamport, "Paxos Made Simple"
 * §3) a configuration chosen in slot s governs the slots from s + alpha on, and the check is
 * per slot: every value a node applies is on the disks of a majority of the voters of the
 * configuration governing its slot, known exactly from the configuration commands as first
 * applied (the check's record, by slot). Elections are not checked per configuration (a
 * ballot needs no votes of a term).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consensus/membership.h"
#include "sim/world.h"

enum {
    SIM_MEMBERSHIP_VOTERS_INITIAL = 3,
    SIM_MEMBERSHIP_GAP_US_MIN = 60 * 1000,
    SIM_MEMBERSHIP_GAP_US_MAX = 400 * 1000,
    SIM_MEMBERSHIP_KINDS = 6,
};

struct cn_members sim_membership_initial(const struct sim *sim, uint32_t node)
{
    if (!sim->options.membership) return sim_members(sim);
    struct cn_members none = {0};
    uint32_t voters = sim->node_count < SIM_MEMBERSHIP_VOTERS_INITIAL
                          ? sim->node_count : SIM_MEMBERSHIP_VOTERS_INITIAL;
    if (node >= voters) return none;
    struct cn_members members = {.count = voters};
    for (uint32_t i = 0; i < voters; i++) members.ids[i] = i + 1;
    return members;
}

void sim_membership_begin(struct sim *sim)
{
    sim_rng_init(&sim->rng_membership, sim->seed, SIM_RNG_MEMBERSHIP);
    for (uint32_t g = 0; g < sim->group_count; g++) {
        struct sim_check *check = &sim->checks[g];
        sim_check_set_membership(check, sim->options.membership);
        check->conf_count = 1;
        check->conf_slots[0] = 0;
        check->conf_voters[0] = sim_membership_initial(sim, 0);
    }
    if (!sim->options.membership) return;
    sim_schedule(sim, sim_rng_range(&sim->rng_membership, SIM_MEMBERSHIP_GAP_US_MIN,
                                    SIM_MEMBERSHIP_GAP_US_MAX),
                 SIM_EV_MEMBERSHIP, 0, 0, NULL);
}

/* Removes `id` from `list` (if there). */
static void list_remove(struct cn_members *list, cn_node_id id)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < list->count; i++)
        if (list->ids[i] != id) list->ids[kept++] = list->ids[i];
    list->count = kept;
}

/* Adds `id` to the ascending `list` (if not there). */
static void list_add(struct cn_members *list, cn_node_id id)
{
    if (cn_members_contains(list, id) || list->count == CN_MEMBERS_MAX) return;
    uint32_t at = list->count++;
    while (at > 0 && list->ids[at - 1] > id) {
        list->ids[at] = list->ids[at - 1];
        at--;
    }
    list->ids[at] = id;
}

/* A node drawn from those `pick` says yes to, or 0. */
static cn_node_id draw_node(struct sim *sim, const struct cn_membership *m, int pick)
{
    cn_node_id candidates[SIM_NODES_MAX];
    uint32_t count = 0;
    for (uint32_t i = 0; i < sim->node_count; i++) {
        cn_node_id id = i + 1;
        bool voter = cn_members_contains(&m->voters, id);
        bool learner = cn_members_contains(&m->learners, id);
        bool ok = pick == 0 ? voter : pick == 1 ? learner : !voter && !learner;
        if (ok) candidates[count++] = id;
    }
    /* Always one draw, whatever the count, so that the stream does not shift. */
    uint64_t at = sim_rng_below(&sim->rng_membership, SIM_NODES_MAX);
    return count == 0 ? 0 : candidates[at % count];
}

/* One change for one group's leader, of a kind drawn at random; returns false when the kind
 * does not apply to the configuration (nothing to promote, too few voters, ...). */
static bool sim_membership_draw(struct sim *sim, const struct cn_membership *now,
                                struct cn_membership *next, const char **what)
{
    *next = (struct cn_membership){.voters = now->voters, .learners = now->learners};
    uint32_t kind = (uint32_t)sim_rng_below(&sim->rng_membership, SIM_MEMBERSHIP_KINDS);
    cn_node_id voter = draw_node(sim, now, 0);
    cn_node_id learner = draw_node(sim, now, 1);
    cn_node_id outsider = draw_node(sim, now, 2);
    switch (kind) {
    case 0: /* add a learner */
        if (outsider == 0) return false;
        list_add(&next->learners, outsider);
        *what = "add learner";
        return true;
    case 1: /* promote a learner */
        if (learner == 0) return false;
        list_remove(&next->learners, learner);
        list_add(&next->voters, learner);
        *what = "promote learner";
        return true;
    case 2: /* demote a voter to learner */
        if (voter == 0 || now->voters.count <= 2) return false;
        list_remove(&next->voters, voter);
        list_add(&next->learners, voter);
        *what = "demote voter";
        return true;
    case 3: /* remove a voter */
        if (voter == 0 || now->voters.count <= 2) return false;
        list_remove(&next->voters, voter);
        *what = "remove voter";
        return true;
    case 4: /* remove a learner */
        if (learner == 0) return false;
        list_remove(&next->learners, learner);
        *what = "remove learner";
        return true;
    default: { /* replace a voter by a learner or an outsider */
        cn_node_id in = learner != 0 ? learner : outsider;
        if (voter == 0 || in == 0) return false;
        list_remove(&next->voters, voter);
        list_remove(&next->learners, in);
        list_add(&next->voters, in);
        *what = "replace voter";
        return true;
    }
    }
}

/* "1,2,3" for the trace. */
static void sim_membership_list(const struct cn_members *list, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < list->count && at < size; i++) {
        int w = snprintf(buf + at, size - at, "%s%u", i > 0 ? "," : "", list->ids[i]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

void sim_membership_next(struct sim *sim)
{
    if (sim->now_us >= sim->params.faults_end_us || sim->probing) return;
    uint32_t group = (uint32_t)sim_rng_below(&sim->rng_membership, sim->group_count);
    int leader = sim_fault_leader(sim, group);
    struct cn_membership next;
    const char *what = "";
    if (leader >= 0) {
        struct cn_status status;
        sim->ops->status(sim_replica(sim, (uint32_t)leader, group)->core, &status);
        if (sim_membership_draw(sim, &status.membership, &next, &what)) {
            uint64_t index = 0;
            struct cn_event event = {.type = CN_EVENT_MEMBERSHIP, .membership = &next,
                                     .out_index = &index};
            int rc = sim_node_step(sim, (uint32_t)leader, group, &event);
            if (rc == CN_OK) sim->result->membership_changes++;
            char voters[64], learners[64];
            sim_membership_list(&next.voters, voters, sizeof(voters));
            sim_membership_list(&next.learners, learners, sizeof(learners));
            SIM_TRACE_GROUP(sim, leader, group, "membership: %s -> voters {%s} learners {%s}:"
                            " %s (index %" PRIu64 ")", what, voters, learners, cn_strerror(rc),
                            index);
        }
    }
    sim_schedule(sim, sim_rng_range(&sim->rng_membership, SIM_MEMBERSHIP_GAP_US_MIN,
                                    SIM_MEMBERSHIP_GAP_US_MAX),
                 SIM_EV_MEMBERSHIP, 0, 0, NULL);
}

void sim_membership_restored(struct sim *sim, struct sim_replica *r,
                             const struct cn_members *packed, uint64_t index)
{
    struct cn_membership m;
    r->conf = *packed;
    r->conf_before = *packed;
    r->conf_slot = 0;
    /* A Raft joint configuration is one configuration, kept whole. */
    if (!sim->log_per_slot || !cn_membership_unpack(packed, &m) || !cn_membership_joint(&m))
        return;
    /* A Multi-Paxos snapshot taken while a change was pending: outgoing = the one in force. */
    struct cn_membership before = {.voters = m.outgoing};
    struct cn_membership after = {.voters = m.voters, .learners = m.learners};
    cn_membership_pack(&before, &r->conf_before);
    cn_membership_pack(&after, &r->conf);
    r->conf_slot = index;
}

struct cn_members sim_membership_snapshot(const struct sim *sim, const struct sim_replica *r,
                                          uint64_t index)
{
    if (!sim->log_per_slot || r->conf_slot == 0 ||
        r->conf_slot + SIM_MEMBERSHIP_ALPHA_SLOTS <= index + 1)
        return r->conf;
    struct cn_membership before, after;
    bool ok = cn_membership_unpack(&r->conf_before, &before) &&
              cn_membership_unpack(&r->conf, &after);
    assert(ok);
    after.outgoing = before.voters;
    struct cn_members packed;
    cn_membership_pack(&after, &packed);
    return packed;
}

void sim_membership_check_chosen(struct sim *sim, uint32_t node, struct sim_replica *r,
                                 const struct cn_entry *entry)
{
    struct sim_check *check = &sim->checks[r->group];
    if (check->conf_count == SIM_CHECK_CONFS_MAX) return; /* past what is recorded */
    uint32_t k = check->conf_count - 1;
    while (k > 0 && check->conf_slots[k] + SIM_MEMBERSHIP_ALPHA_SLOTS > entry->index) k--;
    sim_check_chosen_quorum(check, node, entry, &check->conf_voters[k], sim->disks[r->group]);
}

void sim_membership_applied(struct sim *sim, uint32_t node, struct sim_replica *r,
                            const struct cn_entry *entry)
{
    if (entry->type != CN_ENTRY_CONFIG) return;
    struct cn_membership m;
    if (!cn_membership_decode(entry->data, entry->data_len, &m)) {
        sim_check_fail(&sim->checks[r->group], "apply", "node %u: configuration entry %"
                       PRIu64 " does not decode", node + 1, entry->index);
        return;
    }
    r->conf_before = r->conf;
    r->conf_slot = entry->index;
    cn_membership_pack(&m, &r->conf);
    /* Counted once, by the first node to apply it. */
    const struct sim_check_applied *seen = sim_check_applied_at(&sim->checks[r->group],
                                                                entry->index);
    if (seen != NULL) return;
    sim->result->membership_completed++;
    struct sim_check *check = &sim->checks[r->group];
    if (check->conf_count < SIM_CHECK_CONFS_MAX) {
        check->conf_slots[check->conf_count] = entry->index;
        check->conf_voters[check->conf_count++] = m.voters;
    }
}

/* The halves a leader's commit at `commit` needed a majority of, as far as can be told from
 * its configuration now (at most one configuration entry lies above its commit index, since
 * a leader refuses a change until the last one committed): while that entry is uncommitted,
 * the commit may have been made under the configuration before it, so only what both have in
 * common is required: the outgoing voters of a joint one being entered, the voters of a
 * final one being left to (the joint one before it needed them too). */
static void sim_membership_commit_halves(const struct cn_status *s, uint64_t commit,
                                         const struct cn_members **voters,
                                         const struct cn_members **outgoing)
{
    bool joint = cn_membership_joint(&s->membership);
    bool settled = s->membership_index <= commit;
    *voters = &s->membership.voters;
    *outgoing = joint ? &s->membership.outgoing : NULL;
    if (!settled && joint) {
        *voters = &s->membership.outgoing;
        *outgoing = NULL;
    } else if (!settled) {
        *outgoing = NULL;
    }
}

void sim_membership_observe(struct sim *sim, uint32_t node, uint32_t group,
                            const struct cn_update *u, bool new_term)
{
    struct sim_check *check = &sim->checks[group];
    /* Multi-Paxos is checked per slot when applied (sim_membership_check_chosen). */
    if (!sim->options.membership || u->role != CN_ROLE_LEADER || sim->log_per_slot) return;
    struct sim_replica *r = sim_replica(sim, node, group);
    struct cn_status status;
    sim->ops->status(r->core, &status);
    const struct cn_members *voters, *outgoing;
    sim_membership_commit_halves(&status, u->commit_index, &voters, &outgoing);
    if (new_term) {
        /* Its first update as leader. It may already have committed its no-op and taken a
         * change (its appends leave before its update, take_messages): the same halves as
         * for a commit are what it was surely elected by. */
        struct cn_membership elected = {.voters = *voters};
        if (outgoing != NULL) elected.outgoing = *outgoing;
        sim_check_elected(check, node, u->term, &elected);
        check->commit_checked[node] = u->commit_index;
        return;
    }
    uint64_t from = check->commit_checked[node] + 1;
    if (from <= status.snapshot_index) from = status.snapshot_index + 1;
    for (uint64_t index = from; index <= u->commit_index && !sim_check_failed(check); index++) {
        uint64_t term = 0;
        if (!sim->ops->entry_term(r->core, index, &term)) continue;
        sim_check_commit_quorum(check, node, index, term, voters, outgoing, sim->disks[group]);
    }
    if (u->commit_index > check->commit_checked[node])
        check->commit_checked[node] = u->commit_index;
}

bool sim_membership_probe_needs(struct sim *sim, uint32_t group, uint32_t node)
{
    if (!sim->options.membership) return true;
    int leader = sim_fault_leader(sim, group);
    if (leader < 0) return true;
    struct cn_status status;
    sim->ops->status(sim_replica(sim, (uint32_t)leader, group)->core, &status);
    return cn_membership_contains(&status.membership, node + 1);
}
