/*
 * quiesce.c — idle groups go quiet, and one beat per node pair stands in for their heartbeats.
 *
 * A node hosting a thousand shards cannot tick a thousand cores a hundred times a second and
 * send their heartbeats (CockroachDB's lesson, docs/sharding.md "Quiescence"). So:
 *
 *  - A leader whose group has been idle for NODE_QUIESCE_TICKS ticks (nothing proposed,
 *    everything committed and applied, no request, forward, transfer or snapshot in progress,
 *    no learner and no configuration change) stops ticking it: no heartbeats leave, no timer
 *    runs.
 *  - Every NODE_BEAT_TICKS each node sends each peer one node-level beat (CN_MSG_NODE_BEAT)
 *    listing the quiet groups it leads that the peer replicates, with their term and commit
 *    index. A follower that is caught up to that commit index, in that term, under that
 *    leader, stops ticking the group too. A group the beat no longer lists wakes.
 *  - Any event for a group other than a tick (a message, a proposal, a read, a transfer)
 *    wakes it at once, so the first command after a quiet spell costs one round trip.
 *  - A node that has heard nothing from a peer for an election timeout wakes the groups that
 *    peer leads, each after its own random delay of up to an election timeout, so that a lost
 *    node (or a flapping link) does not start every election at the same moment.
 *
 * Safety never rests on ticks: reads are confirmed by a round of messages (ReadIndex, or a
 * Paxos lease round) and elections by votes, so a group that does not tick can only be slow to
 * notice a failure, never wrong. Liveness is kept by the beat: a follower stays quiet only
 * while the leader's node is heard from.
 *
 * The beat also tells every peer which shards the sending node leads (entries[1]), so that a
 * node holding no replica of a shard knows its leader: CLUSTER NODES and CLUSTER SLOTS show
 * the same leaders on every node, and relayed commands go straight to the leader. A hint is
 * replaced only by one of an equal or newer term, so beats that cross a leader change cannot
 * bring back the old leader.
 *
 * Every beat also carries, in `index`, the hash of the topology its sender verified against
 * the meta group (meta.c), or 0.
 *
 * A beat that would repeat the previous one is sent short ("as before": commit = 0, no
 * entries); see node_quiesce_beat.
 *
 * Beat payload (commit = 1), little-endian: entries[0] per quiet group u32 group, u64 term, u64 commit;
 * entries[1] per shard led u32 shard, u64 term.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"

enum {
    NODE_BEAT_ENTRY_BYTES = 20,
    NODE_BEAT_LEAD_BYTES = 12,
    /* Every this many beats (about a second at the default 30 ms) a beat lists everything,
     * changed or not. */
    NODE_BEAT_FULL_EVERY = 32,
};

static uint64_t quiesce_random(struct node *node)
{
    /* xorshift64*: spreads wake-ups; not for anything that must be unpredictable. */
    uint64_t x = node->quiesce_rng ? node->quiesce_rng : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    node->quiesce_rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/*
 * Bookkeeping that keeps a quiet group free: the tick visits only node->awake (a quiet group
 * is swapped out of it), and node->quiet_followers[leader] counts the quiet followers of each
 * leader's node, so that a beat listing all of them needs no pass over the groups.
 */
static void awake_remove(struct node *node, struct node_group *g)
{
    assert(node->awake_count > 0 && node->awake[g->awake_pos] == g);
    struct node_group *last = node->awake[--node->awake_count];
    node->awake[g->awake_pos] = last;
    last->awake_pos = g->awake_pos;
}

static void quiet_enter(struct node_group *g)
{
    struct node *node = g->node;
    assert(!g->quiet);
    g->quiet = true;
    node->quiet_count++;
    node->quiet_gen++;
    awake_remove(node, g);
    g->quiet_leader = g->status.role == CN_ROLE_LEADER ? 0 : g->status.leader;
    assert(g->quiet_leader <= 255);
    if (g->quiet_leader != 0)
        node->quiet_followers[g->quiet_leader]++;
}

void node_group_wake(struct node_group *g)
{
    struct node *node = g->node;
    g->idle_ticks = 0;
    if (g->wake_in_ticks > 0) {
        assert(node->waking_count > 0);
        node->waking_count--;
        g->wake_in_ticks = 0;
    }
    if (!g->quiet)
        return;
    g->quiet = false;
    node->quiet_gen++;
    assert(node->quiet_count > 0);
    node->quiet_count--;
    g->awake_pos = node->awake_count;
    node->awake[node->awake_count++] = g;
    if (g->quiet_leader != 0) {
        assert(node->quiet_followers[g->quiet_leader] > 0);
        node->quiet_followers[g->quiet_leader]--;
        g->quiet_leader = 0;
    }
}

void node_quiesce_add(struct node_group *g)
{
    struct node *node = g->node;
    assert(!g->quiet);
    g->awake_pos = node->awake_count;
    node->awake[node->awake_count++] = g;
}

void node_quiesce_forget(struct node_group *g)
{
    node_group_wake(g); /* out of the quiet counts, back into node->awake */
    awake_remove(g->node, g);
}

void node_quiesce_init(struct node *node)
{
    node->awake_count = node->quiet_count = node->waking_count = 0;
    memset(node->quiet_followers, 0, sizeof(node->quiet_followers));
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        struct node_group *g = node->hosted[i];
        g->awake_pos = node->awake_count;
        node->awake[node->awake_count++] = g;
    }
    if (node->meta != NULL) {
        node->meta->awake_pos = node->awake_count;
        node->awake[node->awake_count++] = node->meta;
    }
}

/* Whether a leader's group has nothing going on. */
static bool leader_idle(const struct node_group *g)
{
    const struct node *node = g->node;
    const struct cn_status *st = &g->status;
    (void)node;
    /* Not has_update: a tick's heartbeats are an update too. A proposal shows as an entry
     * above the commit index. A learner, or a configuration change in progress, keeps the
     * group awake: a learner is caught up (from a snapshot when the log was compacted) only
     * by the leader's resends, which run on ticks (§7, the thesis §4.2.1), and it never
     * campaigns, so unlike a lagging voter it would not wake a quiet leader by itself. A
     * rebalancer move whose new node missed the first chunks then waited for whatever next
     * woke the group (tests/checks/cluster_view_moves.sh, with no client load, saw 23 s and
     * once more than 150 s). */
    return st->role == CN_ROLE_LEADER && st->commit_index == st->last_index &&
           g->applied_index == st->commit_index && g->active_requests == 0 &&
           g->forward_count == 0 && st->transfer_target == 0 && !g->snapshot_running &&
           st->membership.learners.count == 0 && !st->membership_pending;
}

/* After a tick of an awake group: a leader idle long enough goes quiet. */
static void quiesce_consider(struct node_group *g)
{
    /* The meta group stays awake: one group's heartbeats are cheap, and no beat lists it. */
    if (!leader_idle(g) || g == g->node->meta) {
        g->idle_ticks = 0;
        return;
    }
    if (g->idle_commit != g->status.commit_index) {
        g->idle_commit = g->status.commit_index;
        g->idle_ticks = 0;
        return;
    }
    if (++g->idle_ticks >= NODE_QUIESCE_TICKS)
        quiet_enter(g);
}

/* Counts down the spread wake-ups (only while some are pending: a peer was lost). */
static void quiesce_wakeups(struct node *node)
{
    for (uint32_t i = 0; i < node->hosted_count && node->waking_count > 0; i++) {
        struct node_group *g = node->hosted[i];
        if (g->wake_in_ticks > 0 && --g->wake_in_ticks == 0) {
            node->waking_count--;
            node_group_wake(g);
        }
    }
}

/* One tick: awake groups tick; quiet ones wait (or count down to a spread wake-up). The walk
 * goes backwards so that a group going quiet, swapped out for the last one, which was already
 * ticked, leaves nothing unvisited. */
void node_quiesce_tick(struct node *node)
{
    if (node->waking_count > 0)
        quiesce_wakeups(node);
    for (uint32_t i = node->awake_count; i-- > 0;) {
        struct node_group *g = node->awake[i];
        assert(!g->quiet);
        node_step_tick(g);
        if (node->cluster_mode) {
            node_refresh_status(g);
            quiesce_consider(g);
        }
    }
}

static bool group_has_member(const struct node_group *g, cn_node_id id)
{
    for (uint32_t k = 0; k < g->status.members.count; k++)
        if (g->status.members.ids[k] == id)
            return true;
    return false;
}

/* entries[1]: every shard this node leads, with its term (the same for every peer). */
static uint32_t beat_leads_encode(const struct node *node, uint8_t *buf)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        const struct node_group *g = node->hosted[i];
        if (g->status.role != CN_ROLE_LEADER)
            continue;
        uint8_t *p = buf + (size_t)n * NODE_BEAT_LEAD_BYTES;
        uint32_t id = g->id;
        memcpy(p, &id, 4);
        memcpy(p + 4, &g->status.term, 8);
        n++;
    }
    return n * NODE_BEAT_LEAD_BYTES;
}

static void beat_send(struct node *node, cn_node_id peer, uint8_t *buf, const uint8_t *leads,
                      uint32_t leads_len)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        const struct node_group *g = node->hosted[i];
        if (!g->quiet || g->status.role != CN_ROLE_LEADER || !group_has_member(g, peer))
            continue;
        uint8_t *p = buf + (size_t)n * NODE_BEAT_ENTRY_BYTES;
        uint32_t id = g->id;
        memcpy(p, &id, 4);
        memcpy(p + 4, &g->status.term, 8);
        memcpy(p + 12, &g->status.commit_index, 8);
        n++;
    }
    struct cn_entry entries[2] = {
        {.type = CN_ENTRY_NORMAL, .data = buf, .data_len = n * NODE_BEAT_ENTRY_BYTES},
        {.type = CN_ENTRY_NORMAL, .data = (uint8_t *)leads, .data_len = leads_len},
    };
    struct cn_message m = {.type = CN_MSG_NODE_BEAT, .from = node->config.id, .to = peer,
                           .commit = 1, .index = node_meta_beat_hash(node),
                           .entry_count = 2, .entries = entries};
    transport_send(node->transport, &m);
}

/* Every NODE_BEAT_TICKS: a beat to every peer; and groups led by a peer not heard from for an
 * election timeout wake, spread out. */
/* Groups led by `peer`, not heard from for an election timeout, wake, each after its own
 * random delay. */
static void peer_lost_spread_wakeups(struct node *node, cn_node_id peer)
{
    if (node->quiet_followers[peer] == 0)
        return;
    for (uint32_t k = 0; k < node->hosted_count; k++) {
        struct node_group *g = node->hosted[k];
        if (g->quiet && g->wake_in_ticks == 0 && g->quiet_leader == peer) {
            g->wake_in_ticks = 1 + (uint32_t)(quiesce_random(node) % node->config.election_ticks);
            node->waking_count++;
        }
    }
}

/*
 * Every heartbeat interval: a beat to every peer. A beat lists the quiet groups and the
 * leaderships only when they changed since the last list that peer got (node->quiet_gen), or
 * every NODE_BEAT_FULL_EVERY beats in case one was lost; otherwise it is a short beat that
 * says "as before", which costs neither side a pass over the groups.
 */
void node_quiesce_beat(struct node *node)
{
    if (node->transport == NULL || !node->cluster_mode)
        return;
    static uint8_t buf[TOPOLOGY_SHARDS_MAX * NODE_BEAT_ENTRY_BYTES];
    static uint8_t leads[TOPOLOGY_SHARDS_MAX * NODE_BEAT_LEAD_BYTES];
    bool periodic = node->beat_count++ % NODE_BEAT_FULL_EVERY == 0;
    int64_t leads_len = -1; /* encoded once, when the first peer needs it */
    uint64_t now = node_now_ms(node);
    uint64_t timeout_ms = (uint64_t)node->config.tick_ms * node->config.election_ticks;
    for (uint32_t i = 0; i < node->config.member_count; i++) {
        cn_node_id peer = node->config.members[i].id;
        if (peer == node->config.id)
            continue;
        if (periodic || node->beat_gen_sent[peer] != node->quiet_gen) {
            if (leads_len < 0)
                leads_len = beat_leads_encode(node, leads);
            beat_send(node, peer, buf, leads, (uint32_t)leads_len);
            node->beat_gen_sent[peer] = node->quiet_gen;
        } else {
            struct cn_message m = {.type = CN_MSG_NODE_BEAT, .from = node->config.id,
                                   .to = peer, .commit = 0, .index = node_meta_beat_hash(node)};
            transport_send(node->transport, &m);
        }
        if (now - node->peer_heard_ms[peer] >= timeout_ms)
            peer_lost_spread_wakeups(node, peer);
    }
}

/* A caught-up follower of `from`'s group goes quiet. Returns whether the group is (now) a
 * quiet follower of `from`, seen in this beat. */
static bool beat_entry(struct node *node, cn_node_id from, uint32_t id, uint64_t term,
                       uint64_t commit)
{
    if (id >= node->topology->shard_count || node->groups[id] == NULL)
        return false;
    struct node_group *g = node->groups[id];
    if (g->beat_seen == node->beat_seq)
        return false; /* listed twice: counted once */
    g->beat_seen = node->beat_seq;
    if (g->quiet)
        return g->quiet_leader == from;
    const struct cn_status *st = &g->status;
    if (st->role != CN_ROLE_FOLLOWER || st->leader != from || st->term != term ||
        st->commit_index < commit || st->last_index < commit || g->update_outstanding ||
        g->active_requests > 0)
        return false;
    quiet_enter(g);
    return true;
}

/* entries[1]: the shards `from` leads; hints of shards not hosted here follow them. */
static void beat_leads_take(struct node *node, cn_node_id from, const struct cn_entry *e)
{
    if (e->data_len % NODE_BEAT_LEAD_BYTES != 0 ||
        e->data_len > TOPOLOGY_SHARDS_MAX * NODE_BEAT_LEAD_BYTES)
        return;
    const uint8_t *p = e->data;
    for (uint32_t n = e->data_len / NODE_BEAT_LEAD_BYTES; n > 0; n--, p += NODE_BEAT_LEAD_BYTES) {
        uint32_t id;
        uint64_t term;
        memcpy(&id, p, 4);
        memcpy(&term, p + 4, 8);
        if (id < node->topology->shard_count && node->groups[id] == NULL)
            node_shard_leader_heard(node, id, from, term);
    }
}

void node_quiesce_on_beat(struct node *node, const struct cn_message *m)
{
    if (m->from == 0 || m->from > 255)
        return; /* node ids are 1..255 (node.c); the transport names only members anyway */
    node_meta_on_beat(node, m->from, m->index);
    if (m->commit == 0)
        return; /* a short beat: the quiet groups and leaderships are as last listed */
    node->beat_seq++;
    if (m->entry_count == 2)
        beat_leads_take(node, m->from, &m->entries[1]);
    uint32_t seen = 0;
    if (m->entry_count >= 1 && m->entries[0].data_len % NODE_BEAT_ENTRY_BYTES == 0 &&
        m->entries[0].data_len <= TOPOLOGY_SHARDS_MAX * NODE_BEAT_ENTRY_BYTES) {
        const uint8_t *p = m->entries[0].data;
        for (uint32_t n = m->entries[0].data_len / NODE_BEAT_ENTRY_BYTES; n > 0; n--) {
            uint32_t id;
            uint64_t term, commit;
            memcpy(&id, p, 4);
            memcpy(&term, p + 4, 8);
            memcpy(&commit, p + 12, 8);
            seen += beat_entry(node, m->from, id, term, commit);
            p += NODE_BEAT_ENTRY_BYTES;
        }
    }
    /* Quiet followers of `from`'s groups that the beat no longer lists wake up; when the beat
     * listed every one of them, there is none to look for. */
    if (seen == node->quiet_followers[m->from])
        return;
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        struct node_group *g = node->hosted[i];
        if (g->quiet && g->quiet_leader == m->from && g->beat_seen != node->beat_seq)
            node_group_wake(g);
    }
}

uint32_t node_groups_quiet(const struct node *node)
{
    return node->quiet_count;
}
