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
#include "node/node_internal.h"
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

static struct node_request_list *list_of(struct node *node, enum node_wait wait)
{
    if (wait == NODE_WAIT_COMMIT)
        return &node->commits;
    if (wait == NODE_WAIT_APPLY_READ)
        return &node->apply_reads;
    return NULL;
}

/* Moves a request to a new wait, keeping the wait lists right. */
static void set_wait(struct node *node, struct node_request *r, enum node_wait wait)
{
    if (r->in_wait_list)
        list_remove(list_of(node, r->wait), r);
    if (r->wait == NODE_WAIT_LEADER)
        node->waiting_unproposed--;
    if (wait == NODE_WAIT_LEADER)
        node->waiting_unproposed++;
    r->wait = wait;
    if (wait == NODE_WAIT_COMMIT)
        list_insert_by_index(&node->commits, r);
    else if (wait == NODE_WAIT_APPLY_READ)
        list_append(&node->apply_reads, r);
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

static struct node_request *request_find(struct node *node, uint64_t id)
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

/* A new request at the tail of its client's FIFO, linked into the node's waiting set. */
struct node_request *node_request_new(struct node_client *client)
{
    struct node *node = client->node;
    struct node_request *r = calloc(1, sizeof(*r));
    assert(r != NULL);
    r->client = client;
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
    set_wait(node, r, NODE_WAIT_NONE);
    all_unlink(node, r);
    map_remove(&node->by_id, r);
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

/* Whether a command the same client sent earlier still waits to be proposed or read: then this
 * one waits behind it, so that a client's pipeline goes into the log in the order it was sent. */
static bool earlier_waiting(const struct node_request *r)
{
    if (r->client == NULL)
        return false;
    for (const struct node_request *q = r->client->head; q != NULL && q != r;
         q = q->next_in_client)
        if (q->wait == NODE_WAIT_LEADER)
            return true;
    return false;
}

/* Forwards a write to the leader: a node-level message the leader's node answers with the
 * index and term its core gave the entry. */
static int forward_write(struct node *node, struct node_request *r, cn_node_id leader)
{
    struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = r->payload,
                             .data_len = r->payload_len};
    struct cn_message m = {.type = CN_MSG_PROPOSE, .group = NODE_GROUP, .from = node->config.id,
                           .to = leader, .term = node->status.term, .context = r->id,
                           .entry_count = 1, .entries = &entry};
    if (transport_send(node->transport, &m) != 0) {
        wait_for_leader(node, r);
        return 0;
    }
    set_wait(node, r, NODE_WAIT_FORWARD);
    r->proposed = true;
    r->forwarded_to = leader;
    node->stats.forwarded++;
    return 0;
}

int node_request_propose(struct node *node, struct node_request *r)
{
    if (earlier_waiting(r)) {
        wait_for_leader(node, r);
        return 0;
    }
    uint64_t index = 0, term = 0;
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = r->payload, .data_len = r->payload_len,
                         .out_index = &index, .out_term = &term};
    int rv = node_step(node, &e);
    if (rv == CN_OK) {
        r->index = index;
        r->term = term;
        r->proposed = true;
        set_wait(node, r, NODE_WAIT_COMMIT);
        node->stats.proposals++;
        return 0;
    }
    if (rv == CN_ERR_NOT_LEADER && node->status.leader != 0 &&
        node->status.leader != node->config.id)
        return forward_write(node, r, node->status.leader);
    if (rv == CN_ERR_TOO_LARGE) {
        node_request_fail(node, r, "-ERR command too large");
        return 0;
    }
    /* No leader, a transfer, or the core's bound reached (CN_ERR_BUSY: back-pressure): it was
     * not proposed; it is retried after the next update, or fails at its deadline. */
    wait_for_leader(node, r);
    return 0;
}

int node_request_read(struct node *node, struct node_request *r)
{
    if (earlier_waiting(r)) {
        wait_for_leader(node, r);
        return 0;
    }
    struct cn_event e = {.type = CN_EVENT_READ, .request_id = r->id};
    int rv = node_step(node, &e);
    if (rv == CN_OK) {
        set_wait(node, r, NODE_WAIT_READ);
        node->stats.reads++;
        return 0;
    }
    wait_for_leader(node, r); /* no leader known, or too many reads waiting: retried */
    return 0;
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

/* An entry was applied: the writes waiting for its index (the head of the sorted commit
 * list) learn their fate: theirs if the entry carries their tag, else overwritten. */
void node_requests_on_applied(struct node *node, const struct cn_entry *entry,
                              const struct kv_result *result)
{
    while (node->commits.head != NULL && node->commits.head->index <= entry->index) {
        struct node_request *r = node->commits.head;
        uint64_t tag;
        memcpy(&tag, r->payload, NODE_WRITE_TAG_BYTES);
        if (r->index == entry->index && node_entry_tag(entry) == tag)
            node_request_finish_write(node, r, result);
        else
            node_request_fail(node, r, ERROR_OVERWRITTEN);
    }
}

void node_requests_on_read(struct node *node, const struct cn_read *read)
{
    struct node_request *r = request_find(node, read->request_id);
    if (r == NULL || r->wait != NODE_WAIT_READ)
        return;
    if (read->failed) {
        wait_for_leader(node, r);
        return;
    }
    r->index = read->index;
    set_wait(node, r, NODE_WAIT_APPLY_READ);
}

/* Reads whose index is now applied are served, in arrival order. */
void node_requests_after_apply(struct node *node)
{
    struct node_request *r = node->apply_reads.head;
    while (r != NULL) {
        struct node_request *next = r->wait_next;
        if (r->index <= node->applied_index)
            node_request_finish_read(node, r);
        r = next;
    }
}

/* The leader changed. Writes forwarded to the old one and not yet placed have an unknown fate
 * (it may have proposed them before it went): they are answered so at once rather than at
 * their deadline, and the client decides. Requests never proposed try the new leader. */
void node_requests_on_leader(struct node *node)
{
    struct node_request *r = node->all_head;
    for (uint32_t guard = 0; r != NULL && guard <= node->config.pending_requests_max; guard++) {
        struct node_request *next = r->all_next;
        if (r->wait == NODE_WAIT_FORWARD && r->forwarded_to != node->status.leader)
            node_request_fail(node, r, ERROR_UNKNOWN);
        r = next;
    }
    node_requests_retry(node);
}

/* Requests not yet proposed (no leader was known, or the core pushed back) try again, oldest
 * first; a client's later commands stay behind its earlier ones (earlier_waiting). */
void node_requests_retry(struct node *node)
{
    if (node->status.leader == 0 || node->waiting_unproposed == 0)
        return;
    struct node_request *r = node->all_head;
    for (uint32_t guard = 0; r != NULL && guard <= node->config.pending_requests_max; guard++) {
        struct node_request *next = r->all_next;
        if (r->wait == NODE_WAIT_LEADER) {
            if (r->read_kind != 0)
                node_request_read(node, r);
            else
                node_request_propose(node, r);
            /* Still not taken: the core has no room (or no leader); the rest waits too. This
             * also bounds the work of one retry to what the core accepts. */
            if (r->wait == NODE_WAIT_LEADER)
                break;
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
        if (r->deadline_ms <= now_ms) {
            if (r->read_kind != 0)
                node_request_fail(node, r, ERROR_READ_TIMEOUT);
            else if (r->proposed)
                node_request_fail(node, r, ERROR_UNKNOWN);
            else
                node_request_fail(node, r, ERROR_NO_LEADER);
        }
        r = next;
    }
    node_requests_retry(node);
}

/* A follower forwarded a write (node level; the core never sees CN_MSG_PROPOSE). */
void node_requests_on_forward(struct node *node, const struct cn_message *m)
{
    struct cn_message reply = {.type = CN_MSG_PROPOSE_RESPONSE, .group = NODE_GROUP,
                               .from = node->config.id, .to = m->from,
                               .term = node->status.term, .context = m->context};
    if (m->entry_count != 1) {
        reply.reject = true;
    } else {
        uint64_t index = 0, term = 0;
        struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = m->entries[0].data,
                             .data_len = m->entries[0].data_len, .out_index = &index,
                             .out_term = &term};
        int rv = node_step(node, &e);
        reply.reject = rv != CN_OK;
        reply.index = index;
        reply.log_term = term;
        if (rv == CN_OK)
            node->stats.proposals++;
    }
    transport_send(node->transport, &reply);
}

void node_requests_on_forward_response(struct node *node, const struct cn_message *m)
{
    struct node_request *r = request_find(node, m->context);
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
    if (r->index <= node->applied_index) {
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
