/*
 * proxy.c — commands on keys whose shard has no replica on this node (N > R).
 *
 * Every node serves every key. A key of a shard this node hosts goes through that group
 * (route.c); a key of any other shard is relayed to a node holding a replica of it, which runs
 * the command as a stand-in for the client (a client without a socket, exactly as if the
 * command had come from a connection there: it is proposed, forwarded to the shard's leader
 * or read through ReadIndex there) and streams the replies back. The client's node hands
 * each reply to its request in order.
 *
 * Order. A client's relayed commands go to one node in one session at a time, over the
 * peer connection, in the order sent; the stand-in runs them in that order under the usual
 * rules (requests.c), so they take effect in order. A relayed command starts only when none
 * of the client's local commands is in progress, and a local one only when none is relayed
 * (requests.c, order_allows), so order holds across the two.
 *
 * Losses. A session's messages carry sequence numbers and its reply stream byte offsets; a gap
 * (a message dropped with a failed connection or a full queue), a timeout or a restart ends
 * the session: every relayed command of the client still waiting fails, with -UNKNOWN for a
 * write (it may have run) or -TRYAGAIN for a read, and the next command opens a new session.
 * The stand-in of an ended session is dropped when a newer session of the client arrives, the
 * client goes away, or it is idle for NODE_STAND_IN_IDLE_MS.
 *
 * Fields. CN_MSG_PROXY: group = shard, context = the request's id, index = the client's id,
 * hint_term = session, hint_index = sequence number (from 1), commit = RESP protocol (2, 3),
 * reject = the client is gone (end the stand-in), entries[0] = the command as a RESP array.
 * CN_MSG_PROXY_RESPONSE: context = the id of the latest request the stand-in received (it
 * names the client on its node), index = the client's id, hint_term = session, commit = offset
 * of the first byte in the session's reply stream, log_term = the shard's leader as the
 * answering node sees it (a hint for choosing where to relay next time), term = that leader's
 * term (a hint yields only to one of a newer term), reject = the session
 * was refused or ended there, entries = the reply bytes.
 *
 * Not relayed: MULTI/EXEC and WATCH on such keys (they answer -MOVED to a node holding the
 * shard), and the keyless commands that visit every shard (commands_chain.c).
 */
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/commands.h"

enum {
    NODE_PROXY_CHUNK_BYTES = CN_ENTRY_DATA_BYTES_MAX, /* reply bytes per entry */
    NODE_PROXY_CHUNKS_PER_MESSAGE = 4,
    NODE_STAND_IN_IDLE_MS = 60000,
};

static const char ERROR_LOST_WRITE[] =
    "-UNKNOWN outcome unknown (the node holding the key's shard did not answer), retry with care";
static const char ERROR_LOST_READ[] =
    "-TRYAGAIN the node holding the key's shard did not answer, nothing was changed";

/* ---- on the client's node ------------------------------------------------------------ */

/* Where a shard's commands are relayed: its leader as last heard (or its preferred leader),
 * unless that node's connection is down and another replica's is up. *reachable tells whether
 * the node chosen may be reached: its connection is up, or the transport has no word of it
 * (so nothing says it is down). */
static cn_node_id proxy_target_find(struct node *node, uint32_t shard, bool *reachable)
{
    const struct topology_shard *s = &node->topology->shards[shard];
    cn_node_id hint = node->shard_leader_hint[shard];
    if (hint == 0 || !topology_shard_has_replica(s, hint))
        hint = s->replicas[0];
    *reachable = true;
    struct transport_peer_info info;
    if (node->transport == NULL || !transport_peer_info(node->transport, hint, &info) ||
        info.connected)
        return hint;
    for (uint32_t i = 0; i < s->replica_count; i++)
        if (transport_peer_info(node->transport, s->replicas[i], &info) && info.connected)
            return s->replicas[i];
    *reachable = false;
    return hint;
}

static cn_node_id proxy_target_choose(struct node *node, uint32_t shard)
{
    bool reachable = false;
    return proxy_target_find(node, shard, &reachable);
}

bool node_proxy_target_reachable(struct node *node, uint32_t shard)
{
    bool reachable = false;
    proxy_target_find(node, shard, &reachable);
    return reachable;
}

/* The command as a RESP array of bulk strings, or NULL when it is too large to relay. */
static uint8_t *command_encode(const struct node_exec *e, uint32_t *len)
{
    struct resp_out out;
    resp_out_init(&out, CN_ENTRY_DATA_BYTES_MAX, 2);
    resp_reply_array(&out, e->argc);
    for (uint32_t i = 0; i < e->argc; i++)
        resp_reply_bulk(&out, e->argv[i].data, e->argv[i].len);
    if (out.overflowed) {
        resp_out_free(&out);
        return NULL;
    }
    *len = (uint32_t)out.len;
    return out.data; /* taken over from the output */
}

void node_proxy_command(struct node_exec *e, uint32_t shard, bool read_only)
{
    uint32_t len = 0;
    uint8_t *payload = command_encode(e, &len);
    if (payload == NULL) {
        node_exec_error(e, "ERR command too large to relay to the node holding its shard "
                           "(2 MiB)");
        return;
    }
    struct node_request *r = node_request_new(e->client, NULL);
    r->proxied = true;
    r->proxy_read = read_only;
    r->proxy_shard = shard;
    r->payload = payload;
    r->payload_len = len;
    node_proxy_start(e->node, r);
}

/* Sends the request in the client's session (opening one when none is open). */
static bool proxy_send(struct node *node, struct node_request *r)
{
    struct node_client *c = r->client;
    if (c->proxy_session == 0) {
        c->proxy_session = ++node->proxy_session_next;
        c->proxy_target = proxy_target_choose(node, r->proxy_shard);
        c->proxy_seq = 0;
        c->proxy_received = 0;
        c->proxy_buf_len = 0;
    }
    struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = r->payload,
                             .data_len = r->payload_len};
    if (r->chain != NULL)
        entry.data = node_chain_relay_command(r, &entry.data_len);
    struct cn_message m = {.type = CN_MSG_PROXY, .group = r->proxy_shard,
                           .from = node->config.id, .to = c->proxy_target, .context = r->id,
                           .index = c->id, .hint_term = c->proxy_session,
                           .hint_index = c->proxy_seq + 1, .commit = (uint64_t)c->out.protocol,
                           .log_term = r->chain != NULL, /* keep to this shard */
                           .entry_count = 1, .entries = &entry};
    if (node->transport == NULL || transport_send(node->transport, &m) != 0)
        return false;
    c->proxy_seq++;
    return true;
}

enum node_start node_proxy_start(struct node *node, struct node_request *r)
{
    struct node_client *c = r->client;
    if (c == NULL) {
        node_request_fail(node, r, ERROR_LOST_READ); /* its client is gone: never sent */
        return NODE_START_OK;
    }
    /* In order: no earlier command waits to start (a retried request is visited in order by
     * the retry pass, which stops at a client's first one that may not start), none runs
     * here, and the relayed ones in flight share this one's session target (else it waits
     * for them). */
    bool earlier_unstarted = r->wait != NODE_WAIT_LEADER && c->unstarted > 0;
    bool may = !earlier_unstarted && c->writes_started == 0 && c->reads_started == 0;
    if (may && c->proxies_started > 0 &&
        c->proxy_target != proxy_target_choose(node, r->proxy_shard))
        may = false;
    if (may && c->proxies_started == 0 && c->proxy_session != 0 &&
        c->proxy_target != proxy_target_choose(node, r->proxy_shard))
        c->proxy_session = 0; /* nothing in flight: a new session with the new target */
    if (!may) {
        node_request_wait_leader(node, r);
        return NODE_START_ORDER;
    }
    if (!proxy_send(node, r)) {
        c->proxy_session = 0;
        node_request_wait_leader(node, r);
        return NODE_START_REFUSED;
    }
    node_request_set_proxy(node, r);
    return NODE_START_OK;
}

/* The session ended: every relayed request of the client still waiting fails. */
void node_proxy_session_end(struct node *node, struct node_client *c)
{
    c->proxy_session = 0;
    c->proxy_buf_len = 0;
    for (struct node_request *r = c->head; r != NULL;) {
        struct node_request *next = r->next_in_client;
        if (!r->done && r->wait == NODE_WAIT_PROXY)
            node_request_fail(node, r, r->proxy_read ? ERROR_LOST_READ : ERROR_LOST_WRITE);
        r = next;
    }
}

/* Hands every whole reply received to the client's relayed requests, oldest first. */
static void proxy_deliver(struct node *node, struct node_client *c)
{
    uint64_t session = c->proxy_session;
    size_t at = 0;
    struct node_request *r = c->head;
    while (at < c->proxy_buf_len) {
        size_t len = resp_reply_length(c->proxy_buf + at, c->proxy_buf_len - at);
        if (len == 0)
            break;
        while (r != NULL && (r->done || r->wait != NODE_WAIT_PROXY))
            r = r->next_in_client;
        if (r == NULL) {
            node_proxy_session_end(node, c); /* a reply nobody asked for: out of step */
            return;
        }
        struct node_request *next = r->next_in_client;
        if (r->chain != NULL) {
            /* One shard's part of a chained command: the chain goes on (commands_chain.c),
             * possibly in a new session (the buffer then belongs to it: stop here; nothing
             * else of the client was in flight). */
            node_chain_on_relayed(node, r, c->proxy_buf + at, len);
            if (c->proxy_session != session)
                return;
        } else {
            resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX, c->out.protocol);
            r->has_reply_out = true;
            resp_reply_raw(&r->reply_out, c->proxy_buf + at, len);
            node_request_complete(node, r);
        }
        r = next;
        at += len;
    }
    if (at > 0) {
        memmove(c->proxy_buf, c->proxy_buf + at, c->proxy_buf_len - at);
        c->proxy_buf_len -= at;
        node_requests_retry(node); /* the client's next commands may start now */
    }
}

static void proxy_buf_append(struct node_client *c, const uint8_t *data, size_t len)
{
    if (c->proxy_buf_len + len > c->proxy_buf_cap) {
        size_t cap = c->proxy_buf_cap ? c->proxy_buf_cap : 4096;
        while (cap < c->proxy_buf_len + len)
            cap *= 2;
        c->proxy_buf = realloc(c->proxy_buf, cap);
        assert(c->proxy_buf != NULL);
        c->proxy_buf_cap = cap;
    }
    memcpy(c->proxy_buf + c->proxy_buf_len, data, len);
    c->proxy_buf_len += len;
}

void node_proxy_on_response(struct node *node, const struct cn_message *m)
{
    if (m->group < node->topology->shard_count && node->groups[m->group] == NULL)
        node_shard_leader_heard(node, m->group, (cn_node_id)m->log_term, m->term);
    struct node_request *any = node_request_find(node, m->context);
    struct node_client *c = any != NULL ? any->client : NULL;
    if (c == NULL || c->id != m->index || c->proxy_session != m->hint_term)
        return; /* an ended session's, or its client is gone */
    if (m->reject || m->commit != c->proxy_received) {
        node_proxy_session_end(node, c);
        return;
    }
    for (uint32_t i = 0; i < m->entry_count; i++) {
        if (c->proxy_buf_len + m->entries[i].data_len > NODE_REPLY_BYTES_MAX + 64) {
            node_proxy_session_end(node, c); /* bounded: one reply is at most this */
            return;
        }
        proxy_buf_append(c, m->entries[i].data, m->entries[i].data_len);
        c->proxy_received += m->entries[i].data_len;
    }
    proxy_deliver(node, c);
}

/* The client closed: its stand-in, if any, is told to go. */
void node_proxy_client_gone(struct node *node, struct node_client *c)
{
    if (!c->stand_in && c->proxy_session != 0 && node->transport != NULL && !node->stopping) {
        struct cn_message m = {.type = CN_MSG_PROXY, .from = node->config.id,
                               .to = c->proxy_target, .index = c->id,
                               .hint_term = c->proxy_session, .reject = true};
        transport_send(node->transport, &m);
    }
    free(c->proxy_buf);
    c->proxy_buf = NULL;
}

/* ---- on the node holding the shard ---------------------------------------------------- */

static struct node_client *stand_in_find(struct node *node, cn_node_id from, uint64_t client)
{
    for (struct node_client *c = node->clients; c != NULL; c = c->next)
        if (c->stand_in && !c->closing && c->stand_in_from == from &&
            c->stand_in_client == client)
            return c;
    return NULL;
}

static void stand_in_refuse(struct node *node, const struct cn_message *m)
{
    struct cn_message reply = {.type = CN_MSG_PROXY_RESPONSE, .group = m->group,
                               .from = node->config.id, .to = m->from, .context = m->context,
                               .index = m->index, .hint_term = m->hint_term, .reject = true};
    transport_send(node->transport, &reply);
}

void node_proxy_on_message(struct node *node, const struct cn_message *m)
{
    struct node_client *c = stand_in_find(node, m->from, m->index);
    if (c != NULL && m->hint_term > c->stand_in_session) {
        node_client_close(c); /* a newer session replaces it */
        c = NULL;
    } else if (c != NULL && m->hint_term < c->stand_in_session) {
        return; /* an ended session's */
    }
    if (m->reject) {
        if (c != NULL)
            node_client_close(c);
        return;
    }
    if (m->entry_count != 1 || m->group >= node->topology->shard_count ||
        node->groups[m->group] == NULL || (m->commit != 2 && m->commit != 3)) {
        stand_in_refuse(node, m);
        return;
    }
    if (c == NULL) {
        if (m->hint_index != 1 || node->stand_in_count >= node->config.clients_max) {
            stand_in_refuse(node, m);
            return;
        }
        c = node_client_new(node);
        c->stand_in = true;
        c->stand_in_from = m->from;
        c->stand_in_client = m->index;
        c->stand_in_session = m->hint_term;
        node->stand_in_count++;
    }
    if (m->hint_index != c->stand_in_seq + 1 ||
        c->in_len + m->entries[0].data_len > 2 * NODE_CLIENT_IN_BYTES_MAX) {
        stand_in_refuse(node, m); /* a gap: the session cannot go on in order */
        node_client_close(c);
        return;
    }
    c->stand_in_seq++;
    c->stand_in_request = m->context;
    c->stand_in_shard = m->group;
    /* A chain's part (one shard of DBSIZE, KEYS, RANDOMKEY) is the only command of its
     * client in flight, so the scope set here is the one it runs under. */
    c->stand_in_scope = m->log_term == 1 ? m->group + 1 : 0;
    c->stand_in_last_ms = node_now_ms(node);
    resp_out_set_protocol(&c->out, (int)m->commit);
    if (c->in_capacity < c->in_len + m->entries[0].data_len) {
        size_t cap = c->in_capacity ? c->in_capacity : 4096;
        while (cap < c->in_len + m->entries[0].data_len)
            cap *= 2;
        c->in = realloc(c->in, cap);
        assert(c->in != NULL);
        c->in_capacity = cap;
    }
    memcpy(c->in + c->in_len, m->entries[0].data, m->entries[0].data_len);
    c->in_len += m->entries[0].data_len;
    node_client_input(c);
}

/* A stand-in's replies go back to the client's node, in chunks of at most an entry. */
void node_proxy_stand_in_flush(struct node_client *c)
{
    struct node *node = c->node;
    if (c->closing || node->transport == NULL)
        return;
    size_t at = 0;
    while (at < c->out.len) {
        struct cn_entry entries[NODE_PROXY_CHUNKS_PER_MESSAGE];
        uint32_t count = 0;
        size_t start = at;
        while (at < c->out.len && count < NODE_PROXY_CHUNKS_PER_MESSAGE) {
            size_t len = c->out.len - at;
            if (len > NODE_PROXY_CHUNK_BYTES)
                len = NODE_PROXY_CHUNK_BYTES;
            entries[count++] = (struct cn_entry){.type = CN_ENTRY_NORMAL,
                                                 .data = c->out.data + at,
                                                 .data_len = (uint32_t)len};
            at += len;
        }
        const struct node_group *g = node->groups[c->stand_in_shard];
        struct cn_message m = {.type = CN_MSG_PROXY_RESPONSE, .group = c->stand_in_shard,
                               .from = node->config.id, .to = c->stand_in_from,
                               .context = c->stand_in_request, .index = c->stand_in_client,
                               .hint_term = c->stand_in_session, .commit = c->stand_in_sent,
                               .log_term = g != NULL ? g->status.leader : 0,
                               .term = g != NULL ? g->status.term : 0,
                               .entry_count = count, .entries = entries};
        if (transport_send(node->transport, &m) != 0) {
            node_client_close(c); /* the client's node sees the gap and ends the session */
            break;
        }
        c->stand_in_sent += at - start;
    }
    c->out.len = 0;
}

/* Frees closed stand-ins and closes idle ones (every sweep, and at shutdown). */
void node_proxy_sweep(struct node *node, uint64_t now_ms)
{
    struct node_client *c = node->clients;
    while (c != NULL) {
        struct node_client *next = c->next;
        if (c->stand_in && !c->closing && c->head == NULL && c->in_len == 0 &&
            now_ms - c->stand_in_last_ms >= NODE_STAND_IN_IDLE_MS)
            node_client_close(c);
        if (c->stand_in && c->closing)
            node_client_free_closed(c);
        c = next;
    }
}
