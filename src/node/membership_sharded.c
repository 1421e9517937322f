/*
 * membership_sharded.c — membership change of a sharded cluster (S > 1, either core), the
 * part of membership.c that is about the topology (docs/membership.md, "Sharded clusters"
 * and "The rebalancer"): a new node recorded in the topology (CLUSTER MEET), a node removed from it or
 * marked LEAVING (CLUSTER FORGET), the meta leader's removal of a LEAVING node that holds
 * nothing and the settling of the placement after a growth, and the rebalancer's lines of
 * CLUSTER MEMBERS. The steps of a change and the meta group's configuration are membership.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/rebalance.h"
#include "cluster/reconcile.h"
#include "consensus/membership.h"
#include "node/commands.h"
#include "node/membership_internal.h"
#include "node/node_internal.h"

enum {
    NODE_MEMBERS_MOVES_SHOWN = 64, /* CLUSTER MEMBERS lists at most this many planned moves */
};

static uint32_t membership_size(const struct cn_membership *c)
{
    uint32_t n = c->voters.count + c->learners.count;
    for (uint32_t i = 0; i < c->outgoing.count; i++)
        n += !cn_membership_is_voter(c, c->outgoing.ids[i]);
    return n;
}

/* Proposes a topology into the meta group; its index goes to m->book_index, which the tick
 * waits for (STEP_BOOK, STEP_UNRECORD). */
static void propose_topology(struct node *node, struct node_group *g, const struct topology *next)
{
    struct node_members *m = node->members;
    size_t bytes = topology_encoded_bytes(next);
    uint8_t *encoded = malloc(bytes);
    assert(encoded != NULL);
    int64_t len = topology_encode(next, encoded, bytes);
    assert(len > 0 && (size_t)len == bytes);
    if (!node_meta_propose(node, g, encoded, bytes, &m->book_index))
        members_change_fail(node, "node %u: the topology of epoch %llu could not be proposed (not the "
                    "leader any more?)", m->target, (unsigned long long)next->epoch);
    else
        node_log(node, NODE_LOG_INFO, "membership: proposed the topology of epoch %llu (%u "
                 "nodes) at %llu", (unsigned long long)next->epoch, next->node_count,
                 (unsigned long long)m->book_index);
    free(encoded);
}

/* S > 1: the new node goes into the topology, JOINING and given no replica yet, through the
 * meta group's log; every node connects to it when it adopts that topology (meta_topology.c).
 * A node already in the topology (a MEET run again after a failure) goes on to the learner. */
void members_propose_topology_with(struct node *node, struct node_group *g,
                                  const struct memberbook_node *them)
{
    if (topology_node_find(node->topology, them->id) != NULL)
        return; /* book_index 0: found at the next tick */
    if (membership_size(&g->status.membership) >= CN_MEMBERS_MAX) {
        members_change_fail(node, "adding node %u failed: the meta group has %d members, its most; a "
                    "sharded cluster grows to at most %d nodes by membership change", them->id,
                    CN_MEMBERS_MAX, CN_MEMBERS_MAX);
        return;
    }
    struct topology_node added = {.id = them->id, .state = TOPOLOGY_NODE_JOINING, .weight = 1};
    if (node_topology_address_parse(them->peer, &added.peer) != 0 ||
        node_topology_address_parse(them->client, &added.client) != 0) {
        members_change_fail(node, "adding node %u failed: its addresses (%s, %s) do not fit a topology",
                    them->id, them->peer, them->client);
        return;
    }
    struct topology *next = malloc(sizeof(*next));
    assert(next != NULL);
    int rv = node_topology_with_node(node->topology, &added, next);
    if (rv != TOPOLOGY_OK)
        members_change_fail(node, "adding node %u failed: %s", them->id, topology_strerror(rv));
    else
        propose_topology(node, g, next);
    free(next);
}

/* CLUSTER FORGET of a node that holds replicas: the topology marks it LEAVING, so that the
 * rebalancer's plan moves its replicas off (rebalance.c); once it holds none, the meta leader
 * removes it (members_rebalance_tick). */
static void forget_leaving(struct node_exec *e, struct node_group *g, cn_node_id id)
{
    struct node *node = e->node;
    const struct topology_node *n = topology_node_find(node->topology, id);
    assert(n != NULL);
    if (n->state == TOPOLOGY_NODE_LEAVING) {
        node_exec_error(e, "ERR the node is already leaving (its replicas are moving off)");
        return;
    }
    struct topology *next = malloc(sizeof(*next));
    struct rebalance_plan *plan = malloc(sizeof(*plan));
    assert(next != NULL && plan != NULL);
    *next = *node->topology;
    next->epoch++;
    ((struct topology_node *)topology_node_find(next, id))->state = TOPOLOGY_NODE_LEAVING;
    int rv = rebalance_plan(next, node->config.rebalance_moves_per_node, plan);
    free(plan);
    if (rv != TOPOLOGY_OK) {
        char text[200];
        snprintf(text, sizeof(text), "ERR node %u cannot leave: %s", id, topology_strerror(rv));
        node_exec_error(e, text);
        free(next);
        return;
    }
    members_change_begin(node, g, STEP_LEAVING, id);
    node->members->book_index = 0;
    propose_topology(node, g, next);
    free(next);
    if (node->members->step != STEP_LEAVING) {
        node_exec_error(e, "ERR the change was refused");
        return;
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

/* Whether two topologies have the same nodes in the same states and the same replica lists,
 * order included (epochs aside). */
static bool same_placement_and_states(const struct topology *a, const struct topology *b)
{
    if (a->node_count != b->node_count || a->shard_count != b->shard_count)
        return false;
    for (uint32_t i = 0; i < a->node_count; i++)
        if (a->nodes[i].id != b->nodes[i].id || a->nodes[i].state != b->nodes[i].state)
            return false;
    for (uint32_t s = 0; s < a->shard_count; s++)
        if (a->shards[s].replica_count != b->shards[s].replica_count ||
            memcmp(a->shards[s].replicas, b->shards[s].replicas,
                   a->shards[s].replica_count * sizeof(a->shards[s].replicas[0])) != 0)
            return false;
    return true;
}

/* Once a growth's moves are done: its JOINING nodes become ACTIVE, and each shard's preferred
 * leader is the one topology_build balances for the placement (a move puts the new replica in
 * the old one's place in the list, so a new node would otherwise be preferred for nothing and
 * lead nothing). One topology change, by the meta leader (STEP_UNRECORD's wait). */
static bool settle_tick(struct node *node, struct node_group *g)
{
    const struct topology *t = node->topology;
    bool joining = false;
    for (uint32_t i = 0; i < t->node_count; i++)
        joining |= t->nodes[i].state == TOPOLOGY_NODE_JOINING;
    if (!joining || node->rebalance == NULL || node->rebalance_error != TOPOLOGY_OK ||
        node->rebalance->move_count > 0)
        return false;
    struct topology_node *nodes = malloc(t->node_count * sizeof(*nodes));
    struct topology *next = malloc(sizeof(*next));
    assert(nodes != NULL && next != NULL);
    memcpy(nodes, t->nodes, t->node_count * sizeof(*nodes));
    for (uint32_t i = 0; i < t->node_count; i++)
        if (nodes[i].state == TOPOLOGY_NODE_JOINING)
            nodes[i].state = TOPOLOGY_NODE_ACTIVE;
    struct topology_build_input input = {
        .cluster_id = t->cluster_id, .shard_count = t->shard_count,
        .replica_count = t->replica_count, .vnodes = t->vnodes, .zone_spread = t->zone_spread,
        .node_count = t->node_count, .nodes = nodes};
    bool started = false;
    if (topology_build(&input, t, next) == TOPOLOGY_OK && !same_placement_and_states(t, next)) {
        members_change_begin(node, g, STEP_SETTLE_PLACEMENT, 0);
        node->members->book_index = 0;
        propose_topology(node, g, next);
        started = true;
    }
    free(next);
    free(nodes);
    return started;
}

/* An addition that a change of meta leader interrupted. CLUSTER MEET records the new node in
 * the topology (JOINING) before it adds the node to the meta group, so a leader lost between
 * the two leaves a recorded topology naming a node that is no member of the meta group. That
 * node never learns the topology (a node learns it only from the meta log, as a member), so
 * the moves planned to it wait for ever, and a MEET run again is refused while moves are
 * planned: nothing would end it. The recorded topology is what consensus decided, so the meta
 * leader, idle, carries the addition on from the learner step (then catch-up and promotion, as
 * MEET would). Only with everything committed applied and the topology adopted from it: the
 * topology entry precedes the configuration entry in the log, and a configuration ahead of the
 * topology must not make a member look missing. A JOINING node is always one MEET recorded
 * (the nodes of a cluster created with more than NODE_META_VOTERS nodes, outside the meta group
 * by design, are ACTIVE). */
static bool resume_tick(struct node *node, struct node_group *g)
{
    const struct cn_status *st = &g->status;
    if (g->applied_index < st->commit_index)
        return false;
    node_meta_check_now(node);
    const struct topology *t = node->topology;
    for (uint32_t i = 0; i < t->node_count; i++) {
        const struct topology_node *n = &t->nodes[i];
        if (n->state != TOPOLOGY_NODE_JOINING || cn_membership_contains(&st->membership, n->id))
            continue;
        if (membership_size(&st->membership) >= CN_MEMBERS_MAX)
            return false; /* MEET refuses this before it records the node */
        members_change_begin(node, g, STEP_LEARNER, n->id);
        node_log(node, NODE_LOG_INFO, "membership: resuming the addition of node %u (the topology "
                 "names it, the meta group does not: a leader change interrupted it)", n->id);
        return true;
    }
    return false;
}

/* A removal that a change of meta leader interrupted: FORGET (or the meta leader's removal of
 * a LEAVING node that holds nothing) proposes the topology without the node before it removes
 * the node from the meta group, so a leader lost between the two leaves a committed topology
 * without a node that is still a member of the meta group. Nothing else would end it: the
 * node is in no topology, so no FORGET of the topology finds it, and the meta group keeps a
 * member (a voter, often dead) that its majorities count. The meta leader, idle, carries the
 * removal on from the configuration step, as FORGET would. As with resume_tick, only with
 * everything committed applied and the topology adopted from it: a topology behind the log
 * could lack a node that MEET recorded since (it records the topology before the
 * configuration, so a member missing from an up-to-date topology was removed from it). */
static bool resume_removal_tick(struct node *node, struct node_group *g)
{
    const struct cn_status *st = &g->status;
    if (g->applied_index < st->commit_index)
        return false;
    node_meta_check_now(node);
    cn_node_id id = reconcile_meta_removal(node->topology, &st->membership);
    if (id == 0)
        return false;
    members_change_begin(node, g, STEP_REMOVE, id);
    node_log(node, NODE_LOG_INFO, "membership: resuming the removal of node %u (the meta group "
             "names it, the topology does not: a leader change interrupted it)", id);
    return true;
}

/* The meta leader, idle, resumes an interrupted addition or removal, settles the placement after a growth,
 * and removes a LEAVING node once it holds no replica and no move is planned off it: the
 * topology without it, then the meta group without it (STEP_UNRECORD). */
void members_rebalance_tick(struct node *node, struct node_group *g)
{
    if (resume_tick(node, g) || resume_removal_tick(node, g) || settle_tick(node, g))
        return;
    const struct topology *t = node->topology;
    for (uint32_t i = 0; i < t->node_count; i++) {
        const struct topology_node *n = &t->nodes[i];
        if (n->state != TOPOLOGY_NODE_LEAVING)
            continue;
        bool holding = false;
        for (uint32_t s = 0; s < t->shard_count && !holding; s++)
            holding = topology_shard_has_replica(&t->shards[s], n->id) ||
                      node_rebalance_moving_off(node, s, n->id);
        if (holding)
            continue;
        struct topology *next = malloc(sizeof(*next));
        assert(next != NULL);
        if (node_topology_without_node(t, n->id, next) == TOPOLOGY_OK) {
            members_change_begin(node, g, STEP_UNRECORD, n->id);
            node->members->book_index = 0;
            propose_topology(node, g, next);
        }
        free(next);
        return;
    }
}

/* Whether a learner of the meta group may become a voter: a node of the topology that is not
 * leaving and was heard from lately (a dead one would only hold up the change). */
static bool meta_learner_eligible(const void *context, cn_node_id id)
{
    const struct node *node = context;
    const struct topology_node *n = topology_node_find(node->topology, id);
    uint64_t now = node_now_ms(node);
    return n != NULL && n->state != TOPOLOGY_NODE_LEAVING && node->peer_heard_ms[id] != 0 &&
           now - node->peer_heard_ms[id] < NODE_MEMBERS_PROMOTE_HEARD_MS;
}

bool members_meta_voters_tick(struct node *node, struct node_group *g)
{
    struct node_members *m = node->members;
    if (node_now_ms(node) < m->promote_after_ms)
        return false;
    const struct cn_membership *now = &g->status.membership;
    cn_node_id id = cn_membership_learner_to_promote(now, NODE_META_VOTERS,
                                                     meta_learner_eligible, node);
    if (id == 0)
        return false;
    /* With two voters or more, the voters there are still make a majority of the larger
     * configuration, so a learner that lags cannot stall the group and is promoted at once
     * (its lag only delays its own vote). A lone voter first waits for its learner to hold
     * nearly the whole log (thesis §4.2.1), as a MEET does. */
    members_change_begin(node, g, now->voters.count >= 2 ? STEP_PROMOTE : STEP_CATCHUP, id);
    m->promoting = true;
    m->deadline_ms = node_now_ms(node) + NODE_MEMBERS_PROMOTE_MS;
    node_log(node, NODE_LOG_INFO, "membership: the meta group has %u voters of %d: promoting "
             "its learner %u", now->voters.count, NODE_META_VOTERS, id);
    return true;
}

/* CLUSTER FORGET of a node of a sharded cluster's topology: only once it holds no replica
 * (moving them off is the rebalancer's, not built); then the topology without it, and then
 * its removal from the meta group's configuration (STEP_UNRECORD, STEP_REMOVE). */
void members_forget_sharded(struct node_exec *e, struct node_group *g, cn_node_id id)
{
    struct node *node = e->node;
    uint32_t holding = 0;
    for (uint32_t s = 0; s < node->topology->shard_count; s++)
        holding += topology_shard_has_replica(&node->topology->shards[s], id);
    if (holding > 0) {
        forget_leaving(e, g, id);
        return;
    }
    const struct cn_membership *now = &g->status.membership;
    if (cn_membership_is_voter(now, id) && now->voters.count == 1) {
        node_exec_error(e, "ERR cannot remove the last voter");
        return;
    }
    struct topology *next = malloc(sizeof(*next));
    assert(next != NULL);
    int rv = node_topology_without_node(node->topology, id, next);
    if (rv != TOPOLOGY_OK) {
        char text[200];
        snprintf(text, sizeof(text), "ERR the topology without node %u is invalid: %s", id,
                 topology_strerror(rv));
        node_exec_error(e, text);
        free(next);
        return;
    }
    members_change_begin(node, g, STEP_UNRECORD, id);
    node->members->book_index = 0;
    propose_topology(node, g, next);
    free(next);
    if (node->members->step != STEP_UNRECORD) {
        node_exec_error(e, "ERR the change was refused");
        return;
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

/* The rebalancer's plan (S > 1): its counts, then one line per move, at most
 * NODE_MEMBERS_MOVES_SHOWN of them (the counts say how many there are). */
void members_render_rebalance(const struct node *node, char *text, size_t cap, size_t *at)
{
    const struct rebalance_plan *plan = node->rebalance;
    if (plan == NULL)
        return;
    *at += (size_t)snprintf(text + *at, cap - *at, "rebalance_moves:%u\r\n"
                            "rebalance_runnable:%u\r\nrebalance_moves_per_node:%u\r\n"
                            "rebalance_error:%s\r\n", plan->move_count, plan->runnable_count,
                            node->config.rebalance_moves_per_node,
                            node->rebalance_error == TOPOLOGY_OK
                                ? "" : topology_strerror(node->rebalance_error));
    *at += (size_t)snprintf(text + *at, cap - *at, "rebalance_replicas_created:%llu\r\n"
                            "rebalance_replicas_deleted:%llu\r\nrebalance_moves_recorded:%llu\r\n",
                            (unsigned long long)node->rebalance_created,
                            (unsigned long long)node->rebalance_deleted,
                            (unsigned long long)node->rebalance_recorded);
    /* The limits and this node's part in the moves (move_progress.c, snapshot_send.c). */
    *at += (size_t)snprintf(text + *at, cap - *at, "rebalance_moves_in_flight:%u\r\n"
                            "rebalance_snapshot_bytes_sent:%llu\r\n"
                            "snapshot_bandwidth_bytes_per_s:%llu\r\n",
                            node_move_progress_in_flight(node),
                            (unsigned long long)node->rebalance_snapshot_bytes,
                            (unsigned long long)node->config.snapshot_bandwidth_bytes_per_s);
    /* The placement the topology records, a line per shard (as far as the reply's bound). */
    const struct topology *t = node->topology;
    for (uint32_t s = 0; s < t->shard_count && *at < cap - 400; s++) {
        *at += (size_t)snprintf(text + *at, cap - *at, "shard_%u:replicas=", s);
        for (uint32_t r = 0; r < t->shards[s].replica_count; r++)
            *at += (size_t)snprintf(text + *at, cap - *at, "%s%u", r ? "," : "",
                                    t->shards[s].replicas[r]);
        *at += (size_t)snprintf(text + *at, cap - *at, "\r\n");
    }
    for (uint32_t i = 0; i < plan->move_count && i < NODE_MEMBERS_MOVES_SHOWN && *at < cap - 400;
         i++) {
        const struct rebalance_move *mv = &plan->moves[i];
        *at += (size_t)snprintf(text + *at, cap - *at, "move:shard=%u,from=%u,to=%u,state=%s",
                                mv->shard, mv->from, mv->to, node_rebalance_stage(node, mv));
        /* On the shard's leader: the snapshot's bytes, rate and time left. */
        *at += node_move_progress_render(node, mv, text + *at, cap - *at);
        *at += (size_t)snprintf(text + *at, cap - *at, "\r\n");
    }
}
