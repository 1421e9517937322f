/* cluster.c — the scripted test cluster of cluster.h. */
#include "cluster.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLUSTER_SNAPSHOT_BYTES = 40, CLUSTER_CHUNK_BYTES = 16, CLUSTER_ROUNDS_MAX = 10000 };

struct cluster_node *cluster_node(struct cluster *c, cn_node_id id)
{
    assert(id >= 1 && id <= c->node_count);
    return &c->nodes[id - 1];
}

static void node_config(struct cluster *c, cn_node_id id, struct cn_config *config)
{
    *config = c->config;
    config->id = id;
    if (c->joining[id - 1])
        config->members.count = 0;
    config->random_seed = c->config.random_seed * 1000 + id;
}

static void node_start(struct cluster *c, struct cluster_node *n)
{
    struct cn_config config;
    node_config(c, n->id, &config);
    struct cn_restore restore = {
        .hard_state = n->disk.hard_state,
        .snapshot = n->disk.snapshot,
        .entry_count = n->disk.entry_count,
        .entries = n->disk.entries,
    };
    int rv = c->ops->create(&config, &restore, &n->core);
    assert(rv == CN_OK);
    n->holding = false;
    n->applied_last = n->disk.snapshot.index;
}

void cluster_init_with(struct cluster *c, const struct cn_ops *ops, uint32_t count,
                       const struct cn_config *config)
{
    assert(count >= 1 && count <= CLUSTER_NODES_MAX);
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->node_count = count;
    c->config = *config;
    c->config.members.count = count;
    for (uint32_t i = 0; i < count; i++)
        c->config.members.ids[i] = i + 1;
    for (uint32_t i = 0; i < count; i++) {
        c->nodes[i].id = i + 1;
        node_start(c, &c->nodes[i]);
    }
}

void cluster_init_voters(struct cluster *c, const struct cn_ops *ops, uint32_t count,
                         const struct cn_config *config, const struct cn_members *voters)
{
    assert(count >= 1 && count <= CLUSTER_NODES_MAX);
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->node_count = count;
    c->config = *config;
    c->config.members = *voters;
    for (uint32_t i = 0; i < count; i++) {
        c->joining[i] = true;
        for (uint32_t k = 0; k < voters->count; k++)
            if (voters->ids[k] == i + 1)
                c->joining[i] = false;
        c->nodes[i].id = i + 1;
        node_start(c, &c->nodes[i]);
    }
}

void cluster_init(struct cluster *c, const struct cn_ops *ops, uint32_t count)
{
    struct cn_config config;
    cn_config_defaults(&config);
    config.election_ticks = 10;
    config.heartbeat_ticks = 1;
    config.random_seed = 7;
    cluster_init_with(c, ops, count, &config);
}

void cluster_disk_free(struct cluster_disk *d)
{
    for (uint64_t i = 0; i < d->entry_count; i++)
        free((void *)d->entries[i].data);
    free(d->entries);
    d->entries = NULL;
    d->entry_count = 0;
}

void cluster_free(struct cluster *c)
{
    for (uint32_t i = 0; i < c->node_count; i++) {
        if (c->nodes[i].core != NULL)
            c->ops->destroy(c->nodes[i].core);
        cluster_disk_free(&c->nodes[i].disk);
    }
    for (uint32_t i = 0; i < c->queue_count; i++) {
        free(c->queue[i].entries);
        free(c->queue[i].payload);
    }
}

void cluster_status(struct cluster *c, cn_node_id id, struct cn_status *status)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core != NULL);
    c->ops->status(n->core, status);
}

/* The fixture's snapshot of node n at index: deterministic bytes that encode the index. */
static void snapshot_bytes(uint64_t index, uint8_t *out)
{
    for (uint32_t i = 0; i < CLUSTER_SNAPSHOT_BYTES; i++)
        out[i] = (uint8_t)(index * 31 + i);
}

/* Copies a message with its entries and chunk into the queue (the update's pointers die at
 * ack). A snapshot message gets its chunk filled here, as a driver would. */
static void enqueue(struct cluster *c, const struct cn_message *m, bool after_persist)
{
    assert(c->queue_count < CLUSTER_QUEUE_MAX);
    struct cluster_message *q = &c->queue[c->queue_count++];
    memset(q, 0, sizeof(*q));
    q->message = *m;
    q->after_persist = after_persist;
    size_t bytes = 0;
    for (uint32_t i = 0; i < m->entry_count; i++)
        bytes += m->entries[i].data_len;
    bytes += CLUSTER_SNAPSHOT_BYTES;
    q->payload = malloc(bytes + 1);
    q->entries = m->entry_count ? calloc(m->entry_count, sizeof(*q->entries)) : NULL;
    size_t at = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        q->entries[i] = m->entries[i];
        if (m->entries[i].data_len > 0)
            memcpy(q->payload + at, m->entries[i].data, m->entries[i].data_len);
        q->entries[i].data = q->payload + at;
        at += m->entries[i].data_len;
    }
    q->message.entries = q->entries;
    if (m->type == CN_MSG_SNAPSHOT && m->snapshot_chunk == NULL) {
        uint8_t all[CLUSTER_SNAPSHOT_BYTES];
        snapshot_bytes(m->snapshot.index, all);
        uint64_t offset = m->snapshot_offset;
        uint32_t len = 0;
        if (offset < CLUSTER_SNAPSHOT_BYTES) {
            len = CLUSTER_SNAPSHOT_BYTES - (uint32_t)offset;
            if (len > CLUSTER_CHUNK_BYTES)
                len = CLUSTER_CHUNK_BYTES;
            memcpy(q->payload + at, all + offset, len);
        }
        q->message.snapshot_chunk = q->payload + at;
        q->message.snapshot_chunk_len = len;
        q->message.snapshot_done = offset + len >= CLUSTER_SNAPSHOT_BYTES;
    }
    if (c->trace)
        printf("  send %u->%u %s term=%lu index=%lu commit=%lu n=%u%s\n", m->from, m->to,
               cn_message_type_name(m->type), (unsigned long)m->term, (unsigned long)m->index,
               (unsigned long)m->commit, m->entry_count, m->reject ? " reject" : "");
}

/* consensus.h, entries_per_slot (Multi-Paxos): the entry replaces only its own slot; the
 * disk stays sorted by index, with gaps. */
void cluster_disk_write_slot(struct cluster_disk *d, const struct cn_entry *e)
{
    assert(e->index > d->snapshot.index);
    uint64_t at = 0;
    while (at < d->entry_count && d->entries[at].index < e->index)
        at++;
    struct cn_entry copy = *e;
    uint8_t *data = malloc(e->data_len + 1);
    assert(data != NULL);
    if (e->data_len > 0)
        memcpy(data, e->data, e->data_len);
    copy.data = data;
    if (at < d->entry_count && d->entries[at].index == e->index) {
        free((void *)d->entries[at].data);
        d->entries[at] = copy;
        return;
    }
    d->entries = realloc(d->entries, (d->entry_count + 1) * sizeof(*d->entries));
    assert(d->entries != NULL);
    memmove(&d->entries[at + 1], &d->entries[at], (d->entry_count - at) * sizeof(*d->entries));
    d->entries[at] = copy;
    d->entry_count++;
}

static void disk_persist(struct cluster_disk *d, const struct cn_update *u)
{
    if (u->hard_state_changed)
        d->hard_state = u->hard_state;
    if (u->snapshot_present) {
        cluster_disk_free(d);
        d->snapshot = u->snapshot;
    }
    for (uint32_t i = 0; i < u->entry_count; i++) {
        const struct cn_entry *e = &u->entries[i];
        assert(e->index > d->snapshot.index);
        if (u->entries_per_slot) {
            assert(i == 0 || e->index > u->entries[i - 1].index);
            cluster_disk_write_slot(d, e);
            continue;
        }
        uint64_t slot = e->index - d->snapshot.index - 1;
        assert(slot <= d->entry_count);
        while (d->entry_count > slot)
            free((void *)d->entries[--d->entry_count].data);
        d->entries = realloc(d->entries, (d->entry_count + 1) * sizeof(*d->entries));
        struct cn_entry copy = *e;
        uint8_t *data = malloc(e->data_len + 1);
        if (e->data_len > 0)
            memcpy(data, e->data, e->data_len);
        copy.data = data;
        d->entries[d->entry_count++] = copy;
    }
}

static void node_apply(struct cluster_node *n, const struct cn_update *u)
{
    if (u->snapshot_present) {
        for (uint64_t i = n->applied_last + 1; i <= u->snapshot.index && i < CLUSTER_APPLIED_MAX; i++)
            n->applied[i] = UINT64_MAX;
        n->applied_last = u->snapshot.index;
    }
    for (uint32_t i = 0; i < u->committed_count; i++) {
        const struct cn_entry *e = &u->committed[i];
        assert(e->index == n->applied_last + 1);
        if (e->index < CLUSTER_APPLIED_MAX)
            n->applied[e->index] = e->term;
        n->applied_last = e->index;
    }
    for (uint32_t i = 0; i < u->read_count && n->read_count < CLUSTER_READS_MAX; i++)
        n->reads[n->read_count++] = u->reads[i];
}

/* Completes the held update: persist, after-persist messages, apply, reads, ack. */
static void node_complete(struct cluster *c, struct cluster_node *n)
{
    assert(n->holding);
    const struct cn_update *u = &n->update;
    disk_persist(&n->disk, u);
    for (uint32_t i = 0; i < u->message_after_persist_count; i++)
        enqueue(c, &u->messages_after_persist[i], true);
    node_apply(n, u);
    c->ops->ack_update(n->core, u);
    n->holding = false;
}

static void node_process(struct cluster *c, struct cluster_node *n)
{
    for (uint32_t rounds = 0; rounds < 64 && n->core != NULL && !n->holding &&
                              c->ops->has_update(n->core); rounds++) {
        c->ops->get_update(n->core, &n->update);
        n->holding = true;
        if (c->trace && n->update.soft_state_changed)
            printf("  node %u: %s term=%lu leader=%u\n", n->id, cn_role_name(n->update.role),
                   (unsigned long)n->update.term, n->update.leader);
        for (uint32_t i = 0; i < n->update.message_count; i++)
            enqueue(c, &n->update.messages[i], false);
        if (n->manual_persist)
            return;
        node_complete(c, n);
    }
}

void cluster_process(struct cluster *c, cn_node_id id)
{
    if (id != 0) {
        node_process(c, cluster_node(c, id));
        return;
    }
    for (uint32_t i = 0; i < c->node_count; i++)
        node_process(c, &c->nodes[i]);
}

bool cluster_persist(struct cluster *c, cn_node_id id)
{
    struct cluster_node *n = cluster_node(c, id);
    if (!n->holding)
        return false;
    node_complete(c, n);
    return true;
}

static int step_event(struct cluster *c, cn_node_id id, const struct cn_event *e)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core != NULL);
    int rv = c->ops->step(n->core, e);
    cluster_process(c, id);
    return rv;
}

void cluster_tick(struct cluster *c, cn_node_id id, uint32_t ticks)
{
    for (uint32_t i = 0; i < ticks; i++)
        step_event(c, id, &(struct cn_event){.type = CN_EVENT_TICK});
}

int cluster_campaign(struct cluster *c, cn_node_id id)
{
    return step_event(c, id, &(struct cn_event){.type = CN_EVENT_CAMPAIGN});
}

int cluster_propose(struct cluster *c, cn_node_id id, const char *data, uint64_t *index)
{
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = (const uint8_t *)data,
                         .data_len = (uint32_t)strlen(data), .out_index = index};
    return step_event(c, id, &e);
}

int cluster_read(struct cluster *c, cn_node_id id, uint64_t request_id)
{
    return step_event(c, id, &(struct cn_event){.type = CN_EVENT_READ, .request_id = request_id});
}

int cluster_transfer(struct cluster *c, cn_node_id id, cn_node_id target)
{
    return step_event(c, id, &(struct cn_event){.type = CN_EVENT_TRANSFER, .target = target});
}

int cluster_change(struct cluster *c, cn_node_id id, const struct cn_members *voters,
                   const struct cn_members *learners, uint64_t *index)
{
    struct cn_membership target = {.voters = *voters};
    if (learners != NULL)
        target.learners = *learners;
    return step_event(c, id, &(struct cn_event){.type = CN_EVENT_MEMBERSHIP,
                                                .membership = &target, .out_index = index});
}

void cluster_snapshot_taken(struct cluster *c, cn_node_id id, uint64_t index)
{
    struct cluster_node *n = cluster_node(c, id);
    step_event(c, id, &(struct cn_event){.type = CN_EVENT_SNAPSHOT_TAKEN, .index = index});
    /* The disk drops what the snapshot covers. */
    struct cluster_disk *d = &n->disk;
    uint64_t term = 0;
    for (uint64_t i = 0; i < d->entry_count; i++)
        if (d->entries[i].index == index)
            term = d->entries[i].term;
    /* By index, not by count: a Multi-Paxos disk may have gaps (entries_per_slot). */
    uint64_t drop = 0;
    while (drop < d->entry_count && d->entries[drop].index <= index)
        free((void *)d->entries[drop++].data);
    memmove(d->entries, d->entries + drop, (d->entry_count - drop) * sizeof(*d->entries));
    d->entry_count -= drop;
    d->snapshot.index = index;
    d->snapshot.term = term;
    d->snapshot.members = c->config.members;
}

static bool matches(const struct cluster_message *q, cn_node_id from, cn_node_id to,
                    uint8_t type)
{
    return (from == 0 || q->message.from == from) && (to == 0 || q->message.to == to) &&
           (type == 0 || q->message.type == type);
}

static void queue_remove(struct cluster *c, uint32_t i)
{
    free(c->queue[i].entries);
    free(c->queue[i].payload);
    memmove(&c->queue[i], &c->queue[i + 1], (c->queue_count - i - 1) * sizeof(c->queue[0]));
    c->queue_count--;
}

bool cluster_deliver_one(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type)
{
    for (uint32_t i = 0; i < c->queue_count; i++) {
        if (!matches(&c->queue[i], from, to, type))
            continue;
        struct cluster_message q = c->queue[i];
        memmove(&c->queue[i], &c->queue[i + 1], (c->queue_count - i - 1) * sizeof(c->queue[0]));
        c->queue_count--;
        struct cluster_node *src = cluster_node(c, q.message.from);
        struct cluster_node *dst = cluster_node(c, q.message.to);
        if (!src->isolated && !dst->isolated && dst->core != NULL) {
            if (c->trace)
                printf("  recv %u->%u %s term=%lu index=%lu\n", q.message.from, q.message.to,
                       cn_message_type_name(q.message.type), (unsigned long)q.message.term,
                       (unsigned long)q.message.index);
            step_event(c, dst->id, &(struct cn_event){.type = CN_EVENT_MESSAGE,
                                                      .message = &q.message});
        }
        free(q.entries);
        free(q.payload);
        return true;
    }
    return false;
}

uint32_t cluster_deliver(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type)
{
    uint32_t delivered = 0;
    while (delivered < CLUSTER_ROUNDS_MAX && cluster_deliver_one(c, from, to, type))
        delivered++;
    assert(delivered < CLUSTER_ROUNDS_MAX);
    return delivered;
}

uint32_t cluster_drop(struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type)
{
    uint32_t dropped = 0;
    for (uint32_t i = 0; i < c->queue_count;) {
        if (matches(&c->queue[i], from, to, type)) {
            queue_remove(c, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

uint32_t cluster_count(const struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < c->queue_count; i++)
        count += matches(&c->queue[i], from, to, type);
    return count;
}

const struct cn_message *cluster_peek(const struct cluster *c, cn_node_id from, cn_node_id to,
                                      uint8_t type)
{
    for (uint32_t i = 0; i < c->queue_count; i++)
        if (matches(&c->queue[i], from, to, type))
            return &c->queue[i].message;
    return NULL;
}

void cluster_stabilize(struct cluster *c)
{
    cluster_process(c, 0);
    cluster_deliver(c, 0, 0, 0);
}

cn_node_id cluster_leader(struct cluster *c)
{
    for (uint32_t i = 0; i < c->node_count; i++) {
        struct cluster_node *n = &c->nodes[i];
        struct cn_status s;
        if (n->core == NULL || n->isolated)
            continue;
        c->ops->status(n->core, &s);
        if (s.role == CN_ROLE_LEADER)
            return n->id;
    }
    return 0;
}

cn_node_id cluster_elect(struct cluster *c)
{
    for (uint32_t round = 0; round < 200; round++) {
        cluster_stabilize(c);
        cn_node_id leader = cluster_leader(c);
        if (leader != 0)
            return leader;
        for (uint32_t i = 0; i < c->node_count; i++)
            if (c->nodes[i].core != NULL)
                cluster_tick(c, c->nodes[i].id, 1);
    }
    return 0;
}

void cluster_isolate(struct cluster *c, cn_node_id id, bool isolated)
{
    cluster_node(c, id)->isolated = isolated;
}

void cluster_crash(struct cluster *c, cn_node_id id)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core != NULL);
    c->ops->destroy(n->core);
    n->core = NULL;
    n->holding = false; /* the held update never reached the disk */
    n->read_count = 0;
}

void cluster_restart(struct cluster *c, cn_node_id id)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core == NULL);
    node_start(c, n);
}
