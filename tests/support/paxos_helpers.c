/* paxos_helpers.c — helpers of paxos_helpers.h. */
#include "paxos_helpers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paxos/paxos.h"

enum { PX_ROUNDS_MAX = 100000 };

void px_config(struct cn_config *config)
{
    cn_config_defaults(config);
    config->election_ticks = 10;
    config->heartbeat_ticks = 1;
    config->random_seed = 7;
}

struct px *px_new_with(uint32_t count, const struct cn_config *config)
{
    struct px *px = calloc(1, sizeof(*px));
    assert(px != NULL);
    cluster_init_with(&px->c, &paxos_ops, count, config);
    for (uint32_t i = 0; i < count; i++)
        px->c.nodes[i].manual_persist = true;
    return px;
}

struct px *px_new_voters(uint32_t count, const struct cn_config *config,
                         const struct cn_members *voters)
{
    struct px *px = calloc(1, sizeof(*px));
    assert(px != NULL);
    cluster_init_voters(&px->c, &paxos_ops, count, config, voters);
    for (uint32_t i = 0; i < count; i++)
        px->c.nodes[i].manual_persist = true;
    return px;
}

int px_change(struct px *px, cn_node_id id, const struct cn_members *voters,
              const struct cn_members *learners, uint64_t *slot)
{
    struct cn_membership target = {.voters = *voters};
    if (learners != NULL)
        target.learners = *learners;
    int rv = px_step(px, id, &(struct cn_event){.type = CN_EVENT_MEMBERSHIP,
                                                 .membership = &target, .out_index = slot});
    px_settle(px);
    return rv;
}

struct px *px_new(uint32_t count)
{
    struct cn_config config;
    px_config(&config);
    return px_new_with(count, &config);
}

void px_free(struct px *px)
{
    cluster_free(&px->c);
    free(px);
}

struct cn_status px_status(struct px *px, cn_node_id id)
{
    struct cn_status s;
    cluster_status(&px->c, id, &s);
    return s;
}

enum cn_role px_role(struct px *px, cn_node_id id) { return px_status(px, id).role; }
uint64_t px_promised(struct px *px, cn_node_id id) { return px_status(px, id).term; }
uint64_t px_commit(struct px *px, cn_node_id id) { return px_status(px, id).commit_index; }

uint64_t px_entry_ballot(struct px *px, cn_node_id id, uint64_t slot)
{
    struct cluster_node *n = cluster_node(&px->c, id);
    assert(n->core != NULL);
    uint64_t ballot = 0;
    if (!px->c.ops->entry_term(n->core, slot, &ballot))
        return 0;
    return ballot;
}

const char *px_applied(struct px *px, cn_node_id id, uint64_t slot)
{
    assert(slot < PX_APPLIED_MAX);
    const char *value = px->applied[id - 1][slot];
    return value[0] == '\0' ? NULL : value;
}

uint64_t px_applied_last(struct px *px, cn_node_id id)
{
    return cluster_node(&px->c, id)->applied_last;
}

const struct cn_entry *px_disk_slot(struct px *px, cn_node_id id, uint64_t slot)
{
    const struct cluster_disk *d = &cluster_node(&px->c, id)->disk;
    for (uint64_t i = 0; i < d->entry_count; i++)
        if (d->entries[i].index == slot)
            return &d->entries[i];
    return NULL;
}

static void disk_persist(struct cluster_disk *d, const struct cn_update *u)
{
    assert(u->entries_per_slot);
    if (u->hard_state_changed) {
        /* A promise is never taken back (Lamport §2.3). */
        assert(u->hard_state.term >= d->hard_state.term);
        d->hard_state = u->hard_state;
    }
    if (u->snapshot_present) {
        cluster_disk_free(d);
        d->snapshot = u->snapshot;
    }
    for (uint32_t i = 0; i < u->entry_count; i++) {
        assert(i == 0 || u->entries[i].index > u->entries[i - 1].index);
        cluster_disk_write_slot(d, &u->entries[i]);
    }
}

/* A copy of the message (entries and data) at the end of the network queue, as cluster.c's
 * own enqueue does for the messages that may leave at once. */
static void enqueue(struct cluster *c, const struct cn_message *m)
{
    assert(c->queue_count < CLUSTER_QUEUE_MAX);
    struct cluster_message *q = &c->queue[c->queue_count++];
    memset(q, 0, sizeof(*q));
    q->message = *m;
    q->after_persist = true;
    size_t bytes = 0;
    for (uint32_t i = 0; i < m->entry_count; i++)
        bytes += m->entries[i].data_len;
    q->payload = malloc(bytes + 1);
    q->entries = m->entry_count ? calloc(m->entry_count, sizeof(*q->entries)) : NULL;
    assert(q->payload != NULL && (m->entry_count == 0 || q->entries != NULL));
    size_t at = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        q->entries[i] = m->entries[i];
        if (m->entries[i].data_len > 0)
            memcpy(q->payload + at, m->entries[i].data, m->entries[i].data_len);
        q->entries[i].data = q->payload + at;
        at += m->entries[i].data_len;
    }
    q->message.entries = q->entries;
    q->message.snapshot_chunk = NULL;
    q->message.snapshot_chunk_len = 0;
    if (c->trace)
        printf("  send %u->%u %s term=%lu index=%lu commit=%lu n=%u%s (after persist)\n",
               m->from, m->to, cn_message_type_name(m->type), (unsigned long)m->term,
               (unsigned long)m->index, (unsigned long)m->commit, m->entry_count,
               m->reject ? " reject" : "");
}

static void record_value(struct px *px, cn_node_id id, uint64_t slot, const char *value,
                         uint32_t len)
{
    if (slot >= PX_APPLIED_MAX)
        return;
    char *out = px->applied[id - 1][slot];
    if (len >= PX_VALUE_BYTES)
        len = PX_VALUE_BYTES - 1;
    memcpy(out, value, len);
    out[len] = '\0';
}

static void apply(struct px *px, struct cluster_node *n, const struct cn_update *u)
{
    if (u->snapshot_present) {
        for (uint64_t i = n->applied_last + 1; i <= u->snapshot.index; i++) {
            if (i < CLUSTER_APPLIED_MAX)
                n->applied[i] = UINT64_MAX;
            record_value(px, n->id, i, "snap", 4);
        }
        n->applied_last = u->snapshot.index;
    }
    for (uint32_t i = 0; i < u->committed_count; i++) {
        const struct cn_entry *e = &u->committed[i];
        assert(e->index == n->applied_last + 1);
        if (e->index < CLUSTER_APPLIED_MAX)
            n->applied[e->index] = e->term;
        if (e->type == CN_ENTRY_NOOP)
            record_value(px, n->id, e->index, "noop", 4);
        else
            record_value(px, n->id, e->index, (const char *)e->data, e->data_len);
        n->applied_last = e->index;
    }
    for (uint32_t i = 0; i < u->read_count && n->read_count < CLUSTER_READS_MAX; i++)
        n->reads[n->read_count++] = u->reads[i];
}

static void complete(struct px *px, struct cluster_node *n)
{
    assert(n->holding);
    const struct cn_update *u = &n->update;
    disk_persist(&n->disk, u);
    for (uint32_t i = 0; i < u->message_after_persist_count; i++)
        enqueue(&px->c, &u->messages_after_persist[i]);
    apply(px, n, u);
    px->c.ops->ack_update(n->core, u);
    n->holding = false;
}

void px_settle(struct px *px)
{
    for (uint32_t round = 0; round < PX_ROUNDS_MAX; round++) {
        bool busy = false;
        for (uint32_t i = 0; i < px->c.node_count; i++) {
            struct cluster_node *n = &px->c.nodes[i];
            if (n->core == NULL)
                continue;
            if (n->holding && !px->hold[i]) {
                complete(px, n);
                busy = true;
            }
            if (!n->holding && px->c.ops->has_update(n->core)) {
                cluster_process(&px->c, n->id);
                busy = true;
            }
        }
        if (!busy)
            return;
    }
    assert(!"px_settle: no quiet point");
}

void px_hold(struct px *px, cn_node_id id, bool hold)
{
    px->hold[id - 1] = hold;
    if (!hold)
        px_settle(px);
}

bool px_persist(struct px *px, cn_node_id id)
{
    struct cluster_node *n = cluster_node(&px->c, id);
    if (!n->holding)
        return false;
    complete(px, n);
    px_settle(px);
    return true;
}

int px_step(struct px *px, cn_node_id id, const struct cn_event *event)
{
    struct cluster_node *n = cluster_node(&px->c, id);
    assert(n->core != NULL);
    return px->c.ops->step(n->core, event);
}

void px_inject(struct px *px, const struct cn_message *message)
{
    px_step(px, message->to, &(struct cn_event){.type = CN_EVENT_MESSAGE, .message = message});
    px_settle(px);
}

void px_tick(struct px *px, cn_node_id id, uint32_t ticks)
{
    for (uint32_t i = 0; i < ticks; i++) {
        px_step(px, id, &(struct cn_event){.type = CN_EVENT_TICK});
        px_settle(px);
    }
}

int px_campaign(struct px *px, cn_node_id id)
{
    int rv = px_step(px, id, &(struct cn_event){.type = CN_EVENT_CAMPAIGN});
    px_settle(px);
    return rv;
}

int px_propose(struct px *px, cn_node_id id, const char *data, uint64_t *slot)
{
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = (const uint8_t *)data,
                         .data_len = (uint32_t)strlen(data), .out_index = slot};
    int rv = px_step(px, id, &e);
    px_settle(px);
    return rv;
}

int px_read(struct px *px, cn_node_id id, uint64_t request_id)
{
    int rv = px_step(px, id, &(struct cn_event){.type = CN_EVENT_READ, .request_id = request_id});
    px_settle(px);
    return rv;
}

void px_snapshot_taken(struct px *px, cn_node_id id, uint64_t index)
{
    struct cluster_node *n = cluster_node(&px->c, id);
    px_step(px, id, &(struct cn_event){.type = CN_EVENT_SNAPSHOT_TAKEN, .index = index});
    px_settle(px);
    struct cluster_disk *d = &n->disk;
    const struct cn_entry *last = px_disk_slot(px, id, index);
    assert(last != NULL); /* applied, hence persisted */
    uint64_t ballot = last->term;
    uint64_t drop = 0;
    while (drop < d->entry_count && d->entries[drop].index <= index)
        free((void *)d->entries[drop++].data);
    memmove(d->entries, d->entries + drop, (d->entry_count - drop) * sizeof(*d->entries));
    d->entry_count -= drop;
    d->snapshot.index = index;
    d->snapshot.term = ballot;
    /* The configuration at the index, as the core's compaction left it (it may be joint:
     * a change chosen at or below the index that governs later slots, membership.c). */
    paxos_snapshot_members(n->core, &d->snapshot.members);
}

bool px_deliver_one(struct px *px, cn_node_id from, cn_node_id to, uint8_t type)
{
    bool delivered = cluster_deliver_one(&px->c, from, to, type);
    px_settle(px);
    return delivered;
}

uint32_t px_deliver(struct px *px, cn_node_id from, cn_node_id to, uint8_t type)
{
    uint32_t delivered = 0;
    while (delivered < PX_ROUNDS_MAX && px_deliver_one(px, from, to, type))
        delivered++;
    assert(delivered < PX_ROUNDS_MAX);
    return delivered;
}

void px_stabilize(struct px *px)
{
    px_settle(px);
    px_deliver(px, 0, 0, 0);
}

void px_tick_all(struct px *px, uint32_t rounds)
{
    for (uint32_t r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < px->c.node_count; i++)
            if (px->c.nodes[i].core != NULL)
                px_tick(px, px->c.nodes[i].id, 1);
        px_stabilize(px);
    }
}

cn_node_id px_elect(struct px *px)
{
    for (uint32_t round = 0; round < 500; round++) {
        px_stabilize(px);
        cn_node_id leader = cluster_leader(&px->c);
        if (leader != 0)
            return leader;
        for (uint32_t i = 0; i < px->c.node_count; i++)
            if (px->c.nodes[i].core != NULL && !px->c.nodes[i].isolated)
                px_tick(px, px->c.nodes[i].id, 1);
    }
    return 0;
}

bool px_campaign_and_win(struct px *px, cn_node_id id)
{
    px_campaign(px, id);
    px_stabilize(px);
    return px_role(px, id) == CN_ROLE_LEADER;
}

void px_crash(struct px *px, cn_node_id id)
{
    cluster_crash(&px->c, id);
    px->hold[id - 1] = false;
}

void px_restart(struct px *px, cn_node_id id)
{
    cluster_restart(&px->c, id);
    cluster_node(&px->c, id)->manual_persist = true;
    px_settle(px);
}

uint32_t px_update_count(const struct cn_update *u, bool after_persist, uint8_t type,
                         cn_node_id to)
{
    uint32_t count = after_persist ? u->message_after_persist_count : u->message_count;
    const struct cn_message *messages = after_persist ? u->messages_after_persist : u->messages;
    uint32_t found = 0;
    for (uint32_t i = 0; i < count; i++)
        found += messages[i].type == type && (to == 0 || messages[i].to == to);
    return found;
}
