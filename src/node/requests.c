/*
 * requests.c — client requests that wait on consensus, and what their errors promise.
 *
 * A write is proposed on the leader, or forwarded to it from a follower (CN_MSG_PROPOSE,
 * answered with the index and term the leader gave it); either way the node that holds the
 * client answers from its own state machine when it applies that index, which gives the same
 * result everywhere. A read asks the core for a read index (ReadIndex, thesis §6.4) and is
 * served once this node applied that far.
 *
 * Errors tell the client what it may assume (README, "Errors"):
 *   -TRYAGAIN ...  the command certainly did not and will not take effect: it was never
 *                  proposed, its entry was overwritten, or it is a read;
 *   -UNKNOWN ...   a write left this node and its fate is unknown (leader lost, timed out):
 *                  it may still commit.
 */
#include <stdlib.h>
#include <string.h>

#include "consensus/codec.h"
#include "node/commands.h"
#include "storage/kv_command.h"
#include "net/transport.h"

static const char ERROR_NO_LEADER[] =
    "-TRYAGAIN no leader (or too busy) within the request timeout, the command was not executed";
static const char ERROR_OVERWRITTEN[] =
    "-TRYAGAIN the leader changed before the write committed; it was not executed";
static const char ERROR_UNKNOWN[] = "-UNKNOWN outcome unknown, retry with care";
static const char ERROR_READ_TIMEOUT[] = "-TRYAGAIN read timed out, nothing was changed";

static void all_link(struct node *node, struct node_request *r)
{
    r->all_prev = node->all_tail;
    r->all_next = NULL;
    if (node->all_tail != NULL)
        node->all_tail->all_next = r;
    else
        node->all_head = r;
    node->all_tail = r;
    node->pending_requests++;
}

static void all_unlink(struct node *node, struct node_request *r)
{
    if (r->all_prev != NULL)
        r->all_prev->all_next = r->all_next;
    else
        node->all_head = r->all_next;
    if (r->all_next != NULL)
        r->all_next->all_prev = r->all_prev;
    else
        node->all_tail = r->all_prev;
    r->all_prev = r->all_next = NULL;
    assert(node->pending_requests > 0);
    node->pending_requests--;
}


static void list_remove(struct node_request_list *list, struct node_request *r)
{
    assert(r->in_wait_list);
    if (r->wait_prev != NULL)
        r->wait_prev->wait_next = r->wait_next;
    else
        list->head = r->wait_next;
    if (r->wait_next != NULL)
        r->wait_next->wait_prev = r->wait_prev;
    else
        list->tail = r->wait_prev;
    r->wait_prev = r->wait_next = NULL;
    r->in_wait_list = false;
    list->count--;
}

static void list_append(struct node_request_list *list, struct node_request *r)
{
    assert(!r->in_wait_list);
    r->wait_prev = list->tail;
    r->wait_next = NULL;
    if (list->tail != NULL)
        list->tail->wait_next = r;
    else
        list->head = r;
    list->tail = r;
    r->in_wait_list = true;
    list->count++;
}

/* Keeps the commit list sorted by index. Proposals arrive in index order, so the walk from the
 * tail almost always stops at once. */
static void list_insert_by_index(struct node_request_list *list, struct node_request *r)
{
    struct node_request *after = list->tail;
    while (after != NULL && after->index > r->index)
        after = after->wait_prev;
    if (after == NULL) {
        r->wait_prev = NULL;
        r->wait_next = list->head;
        if (list->head != NULL)
            list->head->wait_prev = r;
        else
            list->tail = r;
        list->head = r;
    } else {
        r->wait_prev = after;
        r->wait_next = after->wait_next;
        if (after->wait_next != NULL)
            after->wait_next->wait_prev = r;
        else
            list->tail = r;
        after->wait_next = r;
    }
    r->in_wait_list = true;
    list->count++;
}

static struct node_request_list *list_of(struct node_request *r, enum node_wait wait)
{
    if (wait == NODE_WAIT_COMMIT)
        return &r->group->commits;
    if (wait == NODE_WAIT_APPLY_READ)
        return &r->group->apply_reads;
    if (wait == NODE_WAIT_BLOCKED)
        return &r->group->blocked;
    return NULL;
}

/* By request id: a blocking pop that waits again keeps its place among the waiters. */
static void list_insert_by_id(struct node_request_list *list, struct node_request *r)
{
    struct node_request *after = list->tail;
    while (after != NULL && after->id > r->id)
        after = after->wait_prev;
    r->wait_prev = after;
    r->wait_next = after != NULL ? after->wait_next : list->head;
    if (r->wait_next != NULL)
        r->wait_next->wait_prev = r;
    else
        list->tail = r;
    if (after != NULL)
        after->wait_next = r;
    else
        list->head = r;
    r->in_wait_list = true;
    list->count++;
}

/* Whether the request keeps its group busy (quiesce.c): not a blocking pop that waits for a
 * push, which may wait for hours while its group sleeps. */
static bool wait_is_active(enum node_wait wait)
{
    return wait != NODE_WAIT_NONE && wait != NODE_WAIT_BLOCKED;
}

static bool wait_is_started(enum node_wait wait)
{
    return wait == NODE_WAIT_FORWARD || wait == NODE_WAIT_COMMIT || wait == NODE_WAIT_READ ||
           wait == NODE_WAIT_APPLY_READ || wait == NODE_WAIT_PROXY;
}

/* Keeps the client's order counters (node_internal.h, struct node_client) in step with the
 * request's wait: `delta` is +1 as it enters `wait`, -1 as it leaves it. */
static void client_count(struct node_request *r, enum node_wait wait, int delta)
{
    struct node_client *c = r->client;
    uint32_t *counter = NULL;
    if (c == NULL)
        return;
    if (wait == NODE_WAIT_LEADER)
        counter = &c->unstarted;
    else if (wait == NODE_WAIT_PROXY)
        counter = &c->proxies_started;
    else if (wait_is_started(wait))
        counter = r->read_kind != 0 ? &c->reads_started : &c->writes_started;
    if (counter == NULL)
        return;
    if (delta > 0) {
        (*counter)++;
        if (counter != &c->unstarted && counter != &c->proxies_started) {
            assert(c->started_group == NULL || c->started_group == r->group);
            c->started_group = r->group;
        }
    } else {
        assert(*counter > 0);
        (*counter)--;
    }
    if (c->writes_started == 0 && c->reads_started == 0)
        c->started_group = NULL;
}

/* Moves a request to a new wait, keeping the wait lists and its client's counters right. */
static void set_wait(struct node *node, struct node_request *r, enum node_wait wait)
{
    if (r->in_wait_list)
        list_remove(list_of(r, r->wait), r);
    if (r->wait == NODE_WAIT_LEADER)
        node->waiting_unproposed--;
    if (wait == NODE_WAIT_LEADER)
        node->waiting_unproposed++;
    if (r->wait == NODE_WAIT_APPLY_READ)
        node->apply_reads_total--;
    if (wait == NODE_WAIT_APPLY_READ)
        node->apply_reads_total++;
    client_count(r, r->wait, -1);
    client_count(r, wait, +1);
    if (r->group != NULL && wait_is_active(r->wait) != wait_is_active(wait)) {
        if (wait_is_active(wait)) {
            r->group->active_requests++;
        } else {
            assert(r->group->active_requests > 0);
            r->group->active_requests--;
        }
    }
    r->wait = wait;
    if (wait == NODE_WAIT_COMMIT)
        list_insert_by_index(&r->group->commits, r);
    else if (wait == NODE_WAIT_APPLY_READ)
        list_append(&r->group->apply_reads, r);
    else if (wait == NODE_WAIT_BLOCKED)
        list_insert_by_id(&r->group->blocked, r);
}

static uint32_t map_slot(const struct node_request_map *map, uint64_t id)
{
    return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (map->capacity - 1);
}

static void map_put(struct node_request_map *map, struct node_request *r)
{
    assert(map->count * 2 < map->capacity);
    uint32_t i = map_slot(map, r->id);
    while (map->slots[i] != NULL)
        i = (i + 1) & (map->capacity - 1);
    map->slots[i] = r;
    map->count++;
}

struct node_request *node_request_find(struct node *node, uint64_t id)
{
    const struct node_request_map *map = &node->by_id;
    uint32_t i = map_slot(map, id);
    for (uint32_t n = 0; n < map->capacity; n++, i = (i + 1) & (map->capacity - 1)) {
        if (map->slots[i] == NULL)
            return NULL;
        if (map->slots[i]->id == id)
            return map->slots[i];
    }
    return NULL;
}

/* Backward-shift deletion keeps probe chains unbroken without tombstones. */
static void map_remove(struct node_request_map *map, struct node_request *r)
{
    uint32_t mask = map->capacity - 1;
    uint32_t i = map_slot(map, r->id);
    while (map->slots[i] != r) {
        assert(map->slots[i] != NULL);
        i = (i + 1) & mask;
    }
    map->slots[i] = NULL;
    map->count--;
    for (uint32_t j = (i + 1) & mask; map->slots[j] != NULL; j = (j + 1) & mask) {
        uint32_t home = map_slot(map, map->slots[j]->id);
        /* The entry moves back unless its home lies in the cyclic range (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            map->slots[i] = map->slots[j];
            map->slots[j] = NULL;
            i = j;
        }
    }
}

/* A new request at the tail of its client's FIFO, linked into the node's waiting set. The
 * group is the one it goes through, or NULL for a reply answered at once that only waits for
 * its turn. */
struct node_request *node_request_new(struct node_client *client, struct node_group *group)
{
    struct node *node = client->node;
    struct node_request *r = calloc(1, sizeof(*r));
    assert(r != NULL);
    r->client = client;
    r->group = group;
    r->id = ++node->next_request_id;
    r->deadline_ms = node_now_ms(node) + node->config.request_timeout_ms;
    if (client->tail != NULL)
        client->tail->next_in_client = r;
    else
        client->head = r;
    client->tail = r;
    client->waiting++;
    all_link(node, r);
    map_put(&node->by_id, r);
    return r;
}

/* The request has its reply: it leaves the waiting set, and its client sends what it can. */
void node_request_complete(struct node *node, struct node_request *r)
{
    assert(!r->done);
    r->done = true;
    node_stages_done(node, r, !(r->has_reply_out && r->reply_out.len > 0 &&
                                r->reply_out.data[0] == '-'));
    node_tx_request_done(r);
    node_chain_free(r);
    if (r->has_reply_out)
        node->served_bytes_iteration += r->reply_out.len;
    set_wait(node, r, NODE_WAIT_NONE);
    all_unlink(node, r);
    map_remove(&node->by_id, r);
    if (r->blocking && r->client != NULL && r->client->blocking) {
        /* A blocking pop answered, whatever the answer: its connection goes on (blocking.c). */
        r->client->blocking = false;
        node_client_resume(r->client);
    }
    node_metrics_request_done(node, r);
    node_client_request_done(r);
}

void node_request_fail(struct node *node, struct node_request *r, const char *error)
{
    struct resp_out *out = &r->reply_out;
    if (!r->has_reply_out) {
        resp_out_init(out, 4096, r->client != NULL ? r->client->out.protocol : 2);
        r->has_reply_out = true;
    }
    resp_reply_error(out, error, strlen(error));
    node_request_complete(node, r);
}

static void wait_for_leader(struct node *node, struct node_request *r)
{
    set_wait(node, r, NODE_WAIT_LEADER);
}

void node_request_wait_leader(struct node *node, struct node_request *r)
{
    set_wait(node, r, NODE_WAIT_LEADER);
}

void node_request_set_proxy(struct node *node, struct node_request *r)
{
    assert(r->proxied);
    set_wait(node, r, NODE_WAIT_PROXY);
    r->proposed = true;
}

/*
 * Whether the request may start now (be proposed, forwarded, or ask its read index) without
 * breaking its client's order (node_internal.h, struct node_client): no earlier command of
 * the client is unstarted, and none of the other kind is in progress. A request that is
 * itself unstarted and retried is checked by the retry pass, which visits requests in
 * creation order and stops at a client's first one that may not start.
 */
static bool order_allows(const struct node_request *r)
{
    const struct node_client *c = r->client;
    if (c == NULL)
        return true;
    if (r->wait != NODE_WAIT_LEADER && c->unstarted > 0)
        return false;
    if (c->started_group != NULL && c->started_group != r->group)
        return false;
    if (c->proxies_started > 0)
        return false; /* relayed commands of the client are in flight (proxy.c) */
    return r->read_kind != 0 ? c->writes_started == 0 : c->reads_started == 0;
}

/* Forwards a write to the leader: a node-level message the leader's node answers with the
 * index and term its core gave the entry. */
static enum node_start forward_write(struct node *node, struct node_request *r,
                                     cn_node_id leader)
{
    struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = r->payload,
                             .data_len = r->payload_len};
    /* The term fences the forward (requests_forwarded.c): a leader takes it only in the term
     * this node saw it lead, so that a write rejected by a leader that lost its term cannot be
     * overtaken by a later write of the same client taken when that node leads again. */
    struct cn_message m = {.type = CN_MSG_PROPOSE, .group = r->group->id,
                           .from = node->config.id, .to = leader,
                           .term = r->group->status.term, .context = r->id,
                           .entry_count = 1, .entries = &entry};
    if (transport_send(node->transport, &m) != 0) {
        wait_for_leader(node, r);
        return NODE_START_REFUSED;
    }
    set_wait(node, r, NODE_WAIT_FORWARD);
    r->proposed = true;
    r->forwarded_to = leader;
    node->stats.forwarded++;
    return NODE_START_OK;
}

enum node_start node_request_propose(struct node *node, struct node_request *r)
{
    assert(r->group != NULL);
    if (!order_allows(r)) {
        wait_for_leader(node, r);
        return NODE_START_ORDER;
    }
    if (r->exec_tx != NULL && r->payload == NULL && !node_tx_exec_build(node, r))
        return NODE_START_OK; /* a WATCH of it failed: answered, never proposed */
    uint64_t index = 0, term = 0;
    node_entry_stamp(r->group, r->payload, r->payload_len); /* ignored unless it leads */
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = r->payload, .data_len = r->payload_len,
                         .out_index = &index, .out_term = &term};
    int rv = node_step(r->group, &e);
    if (rv == CN_OK) {
        r->index = index;
        r->term = term;
        r->proposed = true;
        set_wait(node, r, NODE_WAIT_COMMIT);
        node->stats.proposals++;
        r->group->counters.proposals++;
        node_stages_proposed(node, r);
#ifdef CHORUS_PLANT_ACK_ON_PROPOSE
        /* Planted bug for the chaos harness (docs/testing.md): a plain SET acknowledged once
         * proposed, before it is committed. */
        if (r->payload_len > NODE_ENTRY_HEADER_BYTES + 1 &&
            r->payload[NODE_ENTRY_HEADER_BYTES + 1] == KV_OP_SET) {
            resp_out_init(&r->reply_out, 64, r->client != NULL ? r->client->out.protocol : 2);
            r->has_reply_out = true;
            resp_reply_simple(&r->reply_out, "OK", 2);
            node_request_complete(node, r);
        }
#endif
        return NODE_START_OK;
    }
    cn_node_id leader = r->group->status.leader;
    if (rv == CN_ERR_NOT_LEADER && leader != 0 && leader != node->config.id)
        return forward_write(node, r, leader);
    if (rv == CN_ERR_TOO_LARGE) {
        node_request_fail(node, r, "-ERR command too large");
        return NODE_START_OK;
    }
    /* No leader, a transfer, or the core's bound reached (CN_ERR_BUSY: back-pressure): it was
     * not proposed; it is retried after the next update, or fails at its deadline. */
    wait_for_leader(node, r);
    return NODE_START_REFUSED;
}

enum node_start node_request_read(struct node *node, struct node_request *r)
{
    assert(r->group != NULL);
    if (!order_allows(r)) {
        wait_for_leader(node, r);
        return NODE_START_ORDER;
    }
#ifdef CHORUS_PLANT_LOCAL_READ
    /* Planted bug for the chaos harness (docs/testing.md): served from this node's state at
     * once, without ReadIndex, so a partitioned node answers stale reads. */
    r->index = r->group->applied_index;
    set_wait(node, r, NODE_WAIT_APPLY_READ);
    node_drive_schedule(node);
    return NODE_START_OK;
#endif
    struct cn_event e = {.type = CN_EVENT_READ, .request_id = r->id};
    int rv = node_step(r->group, &e);
    if (rv == CN_OK) {
        set_wait(node, r, NODE_WAIT_READ);
        r->read_asked_ms = node_now_ms(node);
        node->stats.reads++;
        return NODE_START_OK;
    }
    wait_for_leader(node, r); /* no leader known, or too many reads waiting: retried */
    return NODE_START_REFUSED;
}

/* A write back to unstarted, through `group`: waiting for a leader, as if never proposed. */
static void write_unstart(struct node *node, struct node_request *r, struct node_group *group)
{
    assert(r->read_kind == 0 && group != NULL);
    set_wait(node, r, NODE_WAIT_NONE);
    r->group = group;
    r->index = r->term = 0;
    r->proposed = false;
    r->forwarded_to = 0;
    wait_for_leader(node, r);
}

void node_request_restart_write(struct node *node, struct node_request *r,
                                struct node_group *group)
{
    write_unstart(node, r, group);
    node_request_propose(node, r);
}

void node_request_block(struct node *node, struct node_request *r)
{
    assert(r->blocking && r->group != NULL && r->read_kind == 0);
    r->index = r->term = 0;
    r->proposed = false;
    r->forwarded_to = 0;
    r->deadline_ms = UINT64_MAX; /* its own timeout is block_deadline_ms (blocking.c) */
    set_wait(node, r, NODE_WAIT_BLOCKED);
}

void node_request_unblock(struct node *node, struct node_request *r)
{
    assert(r->wait == NODE_WAIT_BLOCKED);
    r->deadline_ms = node_now_ms(node) + node->config.request_timeout_ms;
    r->retries = 0;
    /* Proposed by the next retry pass, not from inside the apply loop that woke it. */
    write_unstart(node, r, r->group);
    node_drive_schedule(node);
}

void node_request_unblock_quietly(struct node *node, struct node_request *r)
{
    assert(r->wait == NODE_WAIT_BLOCKED);
    set_wait(node, r, NODE_WAIT_NONE);
}

void node_request_restart_relay(struct node *node, struct node_request *r)
{
    assert(r->proxied);
    set_wait(node, r, NODE_WAIT_NONE);
    r->group = NULL;
    r->index = 0;
    wait_for_leader(node, r);
    node_proxy_start(node, r);
}

void node_request_restart_read(struct node *node, struct node_request *r,
                               struct node_group *group)
{
    assert(r->read_kind != 0 && group != NULL);
    set_wait(node, r, NODE_WAIT_NONE);
    r->group = group;
    r->index = 0;
    wait_for_leader(node, r);
    node_request_read(node, r);
}

uint64_t node_write_tag(const struct node *node, uint64_t request_id)
{
    return ((uint64_t)(node->config.id & 0xff) << 56) | ((node->boot_nonce & 0xffff) << 40) |
           (request_id & 0xffffffffffull);
}

/* The tag of a write entry, or 0 for any other entry. */
uint64_t node_entry_tag(const struct cn_entry *entry)
{
    uint64_t tag = 0;
    if (entry->type == CN_ENTRY_NORMAL && entry->data_len >= NODE_WRITE_TAG_BYTES)
        memcpy(&tag, entry->data, NODE_WRITE_TAG_BYTES);
    return tag;
}

/*
 * A write whose entry a new leader overwrote certainly did not take effect, so proposing it
 * again is safe — as long as that cannot reorder it with the client's later commands: none
 * of them may have started (it is the client's only write in progress, and a later read
 * would wait for it). Then the client sees its write done, not -TRYAGAIN, as an etcd client
 * sees its put retried; at most NODE_WRITE_RETRIES_MAX times, within its deadline.
 */
static bool overwritten_may_retry(const struct node_request *r)
{
    const struct node_client *c = r->client;
    return c != NULL && c->writes_started == 1 && c->reads_started == 0 &&
           c->proxies_started == 0 && r->retries < NODE_WRITE_RETRIES_MAX &&
           !r->chain_write && !r->proxied && r->payload != NULL;
}

static void retry_overwritten(struct node *node, struct node_request *r)
{
    r->retries++;
    node->stats.writes_retried++;
    /* Proposed again by the next retry pass (node_requests_retry), not from inside the
     * apply loop that found it overwritten. */
    write_unstart(node, r, r->group);
}

/* An entry was applied: the writes waiting for its index (the head of the sorted commit
 * list) learn their fate: theirs if the entry carries their tag, else overwritten. */
void node_requests_on_applied(struct node_group *g, const struct cn_entry *entry,
                              const struct kv_result *result)
{
    struct node *node = g->node;
    (void)node_members_on_applied(g, entry); /* the address book, if it is one */
    node_blocking_on_applied(g, entry);      /* blocking pops waiting for a push */
    while (g->commits.head != NULL && g->commits.head->index <= entry->index) {
        struct node_request *r = g->commits.head;
        uint64_t tag;
        memcpy(&tag, r->payload, NODE_WRITE_TAG_BYTES);
        if (r->index == entry->index && node_entry_tag(entry) == tag)
            node_request_finish_write(node, r, result);
        else if (r->index < entry->index)
            /* Its index was never applied one entry at a time: a snapshot covered it
             * (node_requests_on_snapshot answers these first), and the write may be inside. */
            node_request_fail(node, r, ERROR_UNKNOWN);
        else if (overwritten_may_retry(r))
            retry_overwritten(node, r);
        else
            node_request_fail(node, r, ERROR_OVERWRITTEN);
    }
}

/* A snapshot was installed: the state jumped to its index without applying the entries below
 * it here. A write waiting for one of them cannot learn its fate from its entry: it may be
 * in the snapshot (chosen and applied elsewhere) or not. Telling its client -TRYAGAIN, or
 * proposing it again as an overwritten write, could apply it twice (a Multi-Paxos follower
 * that lags is caught up by snapshots often: a configuration change's alpha no-ops alone pass
 * --snapshot-entries); its outcome is unknown. */
void node_requests_on_snapshot(struct node_group *g, uint64_t index)
{
    struct node *node = g->node;
    while (g->commits.head != NULL && g->commits.head->index <= index)
        node_request_fail(node, g->commits.head, ERROR_UNKNOWN);
}

void node_requests_on_read(struct node_group *g, const struct cn_read *read)
{
    struct node *node = g->node;
    struct node_request *r = node_request_find(node, read->request_id);
    if (r == NULL || r->wait != NODE_WAIT_READ || r->group != g)
        return;
    if (read->failed) {
        wait_for_leader(node, r);
        return;
    }
    r->index = read->index;
    set_wait(node, r, NODE_WAIT_APPLY_READ);
}

/* Whether an applied read may be served now: at the head of its client's FIFO (every earlier
 * command is done) and while the client's replies are not piling up. */
static bool read_may_serve(const struct node_request *r)
{
    const struct node_client *c = r->client;
    return c == NULL || (c->head == r && c->out.len < NODE_CLIENT_OUT_SOFT_BYTES);
}

/*
 * Reads whose index is applied are served, each at the head of its client's order; serving
 * one may put the next of the same client at the head, so passes repeat while they serve.
 * At most NODE_SERVE_BYTES_PER_ITERATION of replies are built per loop iteration: the rest
 * waits for the next one (node_requests_serve_held), so no client starves the heartbeats.
 */
void node_requests_after_apply(struct node_group *g)
{
    struct node *node = g->node;
    bool served = true;
    while (served && g->apply_reads.count > 0) {
        served = false;
        struct node_request *r = g->apply_reads.head;
        while (r != NULL) {
            struct node_request *next = r->wait_next;
            if (r->index <= g->applied_index && read_may_serve(r)) {
                if (node->served_bytes_iteration >= NODE_SERVE_BYTES_PER_ITERATION) {
                    node_drive_schedule(node);
                    return;
                }
                if (r->client == NULL) {
                    node_stream_abandon(r);
                    node_request_fail(node, r, ERROR_READ_TIMEOUT);
                } else if (r->read_kind == NODE_READ_WATCH) {
                    node_tx_serve_watch(node, r);
                } else if (r->stream != NULL || node_stream_wanted(r)) {
                    if (!node_stream_step(node, r)) {
                        /* Held by the budget (the next iteration goes on) or by its own
                         * client's output (on_write schedules an iteration). */
                        r = next;
                        continue;
                    }
                } else {
                    node_request_finish_read(node, r);
                }
                served = true;
            }
            r = next;
        }
    }
}

/* Once per loop iteration: a new serving budget, and the reads that waited for their turn,
 * for room in their client's output, or for the budget. */
void node_requests_serve_held(struct node *node)
{
    node->served_bytes_iteration = 0;
    if (node->apply_reads_total == 0)
        return;
    for (uint32_t i = 0; i < node->hosted_count; i++)
        if (node->hosted[i]->apply_reads.count > 0)
            node_requests_after_apply(node->hosted[i]);
}

/* The leader changed. Writes forwarded to the old one and not yet placed have an unknown fate
 * (it may have proposed them before it went): they are answered so at once rather than at
 * their deadline, and the client decides. Requests never proposed try the new leader. */
void node_requests_on_leader(struct node_group *g)
{
    struct node *node = g->node;
    if (g->status.leader != node->config.id)
        node_forwards_reject_all(g);
    struct node_request *r = node->all_head;
    for (uint32_t guard = 0; r != NULL && guard <= node->config.pending_requests_max; guard++) {
        struct node_request *next = r->all_next;
        if (r->group != g) {
            /* another group's request: its own leader did not change */
        } else if (r->wait == NODE_WAIT_FORWARD && r->forwarded_to != g->status.leader) {
            node_request_fail(node, r, ERROR_UNKNOWN);
        } else if (r->wait == NODE_WAIT_READ) {
            wait_for_leader(node, r); /* its answer may never come: ask the new leader */
        }
        r = next;
    }
    node_requests_retry(node);
}

/* Requests not yet started (no leader was known, the core pushed back, or an earlier
 * command of the client had to finish first) try again, oldest first. The pass stops at the
 * first one the core refuses (the rest would be refused too, and this bounds the work), and
 * skips the rest of a client whose request may not start yet (order_allows). */
void node_requests_retry(struct node *node)
{
    if (node->waiting_unproposed == 0)
        return;
    uint64_t pass = ++node->retry_pass;
    struct node_request *r = node->all_head;
    for (uint32_t guard = 0; r != NULL && guard <= node->config.pending_requests_max; guard++) {
        struct node_request *next = r->all_next;
        bool group_ready = r->proxied || (r->group->status.leader != 0 &&
                                          r->group->retry_blocked_pass != pass);
        if (r->wait == NODE_WAIT_LEADER && group_ready &&
            (r->client == NULL || r->client->retry_blocked_pass != pass)) {
            enum node_start started = r->proxied            ? node_proxy_start(node, r)
                                      : r->read_kind != 0 ? node_request_read(node, r)
                                                          : node_request_propose(node, r);
            /* A refusal by the core holds the rest of its group (they would be refused too,
             * and this bounds the work); other groups go on. */
            if (started == NODE_START_REFUSED && !r->proxied)
                r->group->retry_blocked_pass = pass;
            if (started == NODE_START_ORDER)
                r->client->retry_blocked_pass = pass;
        }
        r = next;
    }
}

/* Requests past their deadline get the error that says what the client may assume. */
void node_requests_sweep(struct node *node, uint64_t now_ms)
{
    struct node_request *r = node->all_head;
    while (r != NULL) {
        struct node_request *next = r->all_next;
        if (r->stream != NULL) {
            /* Part of its reply is out: it finishes (or its client goes) but cannot fail. */
        } else if (r->wait == NODE_WAIT_BLOCKED) {
            node_blocking_sweep(node, r, now_ms);
        } else if (r->block_relayed && node_blocking_relay_lost(node, r)) {
            /* The pop waits on a node now out of reach: nothing says whether it popped, so
             * the session ends (-UNKNOWN, a write that may have run) rather than the client
             * waiting for ever; not sent yet, it fails as not executed. */
            if (r->wait == NODE_WAIT_PROXY && r->client != NULL) {
                node_proxy_session_end(node, r->client);
                next = node->all_head;
                continue;
            }
            node_request_fail(node, r, ERROR_NO_LEADER);
        } else if (r->proxied && r->deadline_ms <= now_ms) {
            if (r->wait == NODE_WAIT_PROXY && r->client != NULL) {
                /* Its session is out of step now: every relayed request of the client fails
                 * (proxy.c), this one with them. The list may lose several entries. */
                node_proxy_session_end(node, r->client);
                next = node->all_head;
                continue;
            }
            node_request_fail(node, r, r->proxy_read || r->wait != NODE_WAIT_PROXY
                                           ? ERROR_NO_LEADER : ERROR_UNKNOWN);
        } else if (r->wait == NODE_WAIT_READ && now_ms - r->read_asked_ms >= NODE_READ_RESEND_MS &&
            r->deadline_ms > now_ms) {
            /* The read index answer was lost (a dropped message, a lost connection): reads
             * are idempotent, so ask again rather than wait for the deadline. */
            wait_for_leader(node, r);
        } else if (r->deadline_ms <= now_ms) {
            if (r->read_kind != 0)
                node_request_fail(node, r, ERROR_READ_TIMEOUT);
#ifndef CHORUS_PLANT_TIMEOUT_TRYAGAIN
            else if (r->proposed)
                node_request_fail(node, r, ERROR_UNKNOWN);
#endif
            /* (Planted bug, chaos harness: a proposed write told "not executed".) */
            else
                node_request_fail(node, r, ERROR_NO_LEADER);
        }
        r = next;
    }
    node_requests_retry(node);
}

void node_requests_on_forward_response(struct node *node, const struct cn_message *m)
{
    struct node_request *r = node_request_find(node, m->context);
    if (r == NULL || r->wait != NODE_WAIT_FORWARD)
        return;
    if (m->reject) {
        /* The leader refused it: it was certainly not proposed. */
        r->proposed = false;
        wait_for_leader(node, r);
        return;
    }
    r->index = m->index;
    r->term = m->log_term;
    set_wait(node, r, NODE_WAIT_COMMIT);
    if (r->index <= r->group->applied_index) {
        /* Applied before the answer came back: we cannot tell its result any more. */
        node_request_fail(node, r, ERROR_UNKNOWN);
    }
}

/* The client went away: its requests go on (a write may still commit) but answer nobody. */
void node_requests_forget_client(struct node *node, struct node_client *client)
{
    for (struct node_request *r = node->all_head; r != NULL; r = r->all_next)
        if (r->client == client)
            r->client = NULL;
}
