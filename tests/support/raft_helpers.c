/* raft_helpers.c — helpers of raft_helpers.h. */
#include "raft_helpers.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void rh_config(struct cn_config *config)
{
    cn_config_defaults(config);
    config->election_ticks = 10;
    config->heartbeat_ticks = 1;
    config->random_seed = 7;
}

struct cn_status rh_status(struct cluster *c, cn_node_id id)
{
    struct cn_status s;
    cluster_status(c, id, &s);
    return s;
}

enum cn_role rh_role(struct cluster *c, cn_node_id id) { return rh_status(c, id).role; }
uint64_t rh_term(struct cluster *c, cn_node_id id) { return rh_status(c, id).term; }
uint64_t rh_commit(struct cluster *c, cn_node_id id) { return rh_status(c, id).commit_index; }
uint64_t rh_last(struct cluster *c, cn_node_id id) { return rh_status(c, id).last_index; }

uint64_t rh_entry_term(struct cluster *c, cn_node_id id, uint64_t index)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core != NULL);
    uint64_t term = 0;
    if (!c->ops->entry_term(n->core, index, &term))
        return 0;
    return term;
}

int rh_step(struct cluster *c, cn_node_id id, const struct cn_event *event)
{
    struct cluster_node *n = cluster_node(c, id);
    assert(n->core != NULL);
    return c->ops->step(n->core, event);
}

int rh_propose_raw(struct cluster *c, cn_node_id id, const char *data)
{
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = (const uint8_t *)data,
                         .data_len = (uint32_t)strlen(data)};
    return rh_step(c, id, &e);
}

int rh_read_raw(struct cluster *c, cn_node_id id, uint64_t request_id)
{
    return rh_step(c, id, &(struct cn_event){.type = CN_EVENT_READ, .request_id = request_id});
}

void rh_inject(struct cluster *c, const struct cn_message *message)
{
    rh_step(c, message->to, &(struct cn_event){.type = CN_EVENT_MESSAGE, .message = message});
    cluster_process(c, message->to);
}

void rh_set_disk(struct cluster *c, cn_node_id id, uint64_t term, cn_node_id vote,
                 uint64_t commit, const uint64_t *terms, uint32_t count)
{
    struct cluster_node *n = cluster_node(c, id);
    if (n->core != NULL)
        cluster_crash(c, id);
    struct cluster_disk *d = &n->disk;
    for (uint64_t i = 0; i < d->entry_count; i++)
        free((void *)d->entries[i].data);
    free(d->entries);
    memset(d, 0, sizeof(*d));
    d->hard_state = (struct cn_hard_state){.term = term, .vote = vote, .commit = commit};
    if (count > 0) {
        d->entries = calloc(count, sizeof(*d->entries));
        assert(d->entries != NULL);
    }
    for (uint32_t i = 0; i < count; i++) {
        assert(i == 0 || terms[i] >= terms[i - 1]);
        d->entries[i] = (struct cn_entry){.index = i + 1, .term = terms[i],
                                          .type = CN_ENTRY_NORMAL};
    }
    d->entry_count = count;
    memset(n->applied, 0, sizeof(n->applied));
    n->applied_last = 0;
    n->read_count = 0;
    cluster_restart(c, id);
}

bool rh_save_queued(const struct cluster *c, cn_node_id from, cn_node_id to, uint8_t type,
                    struct rh_saved *saved)
{
    const struct cn_message *m = cluster_peek(c, from, to, type);
    if (m == NULL)
        return false;
    assert(m->entry_count <= RH_SAVED_ENTRIES_MAX);
    memset(saved, 0, sizeof(*saved));
    saved->message = *m;
    uint32_t at = 0;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        saved->entries[i] = m->entries[i];
        assert(at + m->entries[i].data_len <= RH_SAVED_DATA_BYTES_MAX);
        if (m->entries[i].data_len > 0)
            memcpy(saved->data + at, m->entries[i].data, m->entries[i].data_len);
        saved->entries[i].data = saved->data + at;
        at += m->entries[i].data_len;
    }
    saved->message.entries = m->entry_count > 0 ? saved->entries : NULL;
    /* Snapshot chunks are not kept: tests re-deliver appends and votes only. */
    saved->message.snapshot_chunk = NULL;
    saved->message.snapshot_chunk_len = 0;
    return true;
}

uint32_t rh_update_count(const struct cn_update *u, bool after_persist, uint8_t type,
                         cn_node_id to)
{
    const struct cn_message *ms = after_persist ? u->messages_after_persist : u->messages;
    uint32_t n = after_persist ? u->message_after_persist_count : u->message_count;
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++)
        count += (type == 0 || ms[i].type == type) && (to == 0 || ms[i].to == to);
    return count;
}

const struct cn_message *rh_update_find(const struct cn_update *u, bool after_persist,
                                        uint8_t type, cn_node_id to)
{
    const struct cn_message *ms = after_persist ? u->messages_after_persist : u->messages;
    uint32_t n = after_persist ? u->message_after_persist_count : u->message_count;
    for (uint32_t i = 0; i < n; i++)
        if ((type == 0 || ms[i].type == type) && (to == 0 || ms[i].to == to))
            return &ms[i];
    return NULL;
}

bool rh_campaign_and_win(struct cluster *c, cn_node_id id)
{
    cluster_campaign(c, id);
    cluster_stabilize(c);
    return rh_role(c, id) == CN_ROLE_LEADER;
}

void rh_tick_all(struct cluster *c, uint32_t rounds)
{
    for (uint32_t r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < c->node_count; i++)
            if (c->nodes[i].core != NULL)
                cluster_tick(c, c->nodes[i].id, 1);
        cluster_stabilize(c);
    }
}

uint32_t rh_rounds_until_leader(struct cluster *c, uint32_t rounds_max)
{
    for (uint32_t r = 0; r < rounds_max; r++) {
        cluster_stabilize(c);
        if (cluster_leader(c) != 0)
            return r;
        rh_tick_all(c, 1);
    }
    return UINT32_MAX;
}

uint32_t rh_deliver_counting(struct cluster *c, cn_node_id from, cn_node_id to,
                             uint8_t count_type)
{
    uint32_t counted = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        const struct cn_message *m = cluster_peek(c, from, to, 0);
        if (m == NULL)
            return counted;
        counted += m->type == count_type;
        cluster_deliver_one(c, m->from, m->to, m->type);
    }
    assert(!"rh_deliver_counting: no quiescence");
    return counted;
}
