/*
 * view.c — what the live view's stream (GET /events, http_events.c) says about this node, as
 * JSON written with src/metrics/json.h: its state a few times a second, and the topology once
 * per subscriber.
 *
 * The state is every hosted group's consensus status (role, term, leader, commit, applied,
 * persisted and last index, quiescence), the node's counters (the ones INFO and /metrics
 * show, and the peer messages received by type and by sender, which peers.c counts for this
 * view), and where the node knows the leader of every shard. Counters are sent as totals
 * with the node's clock; the page computes rates from two events, so the node keeps no
 * window of its own. Every number is one the node keeps anyway: rendering reads, it changes
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/rebalance.h"

#include "metrics/json.h"
#include "net/transport.h"
#include "node/dev.h"
#include "node/node_internal.h"

enum {
    /* A state event is first written into a buffer of the fixed part plus a part per group
     * (a group writes about 200 bytes), doubled up to the bound when that does not fit. */
    NODE_VIEW_BYTES_FIXED = 8u << 10,
    NODE_VIEW_BYTES_PER_GROUP = 320,
    /* Also what a subscriber may be sent at once: 1,025 groups (S = 1,024 and the meta
     * group) write about 230 KiB. */
    NODE_VIEW_EVENT_BYTES_MAX = 1u << 20,
};

static void write_group(struct json *w, const struct node_group *g)
{
    const struct cn_status *s = &g->status;
    json_object_begin(w);
    json_key_u64(w, "id", g->id);
    json_key_string(w, "role", cn_role_name(s->role));
    json_key_u64(w, "term", s->term);
    json_key_u64(w, "leader", s->leader);
    json_key_u64(w, "vote", s->vote);
    json_key_u64(w, "commit", s->commit_index);
    json_key_u64(w, "applied", g->applied_index);
    json_key_u64(w, "persisted", s->persisted_index);
    json_key_u64(w, "first", s->first_index);
    json_key_u64(w, "last", s->last_index);
    json_key_u64(w, "snapshot", s->snapshot_index);
    json_key_u64(w, "log_bytes", s->log_bytes);
    json_key_u64(w, "transfer", s->transfer_target);
    /* Snapshot bytes moved for this group so far: the page shows a transfer while they grow. */
    json_key_u64(w, "snap_sent", g->counters.snapshot_bytes_sent);
    json_key_u64(w, "snap_received", g->counters.snapshot_bytes_received);
    json_key_bool(w, "quiet", g->quiet);
    json_key(w, "members");
    json_array_begin(w);
    for (uint32_t i = 0; i < s->members.count; i++)
        json_u64(w, s->members.ids[i]);
    json_array_end(w);
    json_object_end(w);
}

static void write_groups(struct json *w, const struct node *node)
{
    json_key(w, "groups");
    json_array_begin(w);
    for (uint32_t i = 0; i < node->hosted_count; i++)
        write_group(w, node->hosted[i]);
    if (node->meta != NULL)
        write_group(w, node->meta);
    json_array_end(w);
    /* Every shard's leader as this node knows it (hosted: its core's view; others: what
     * peers' beats said, else the preferred leader), so that a node without a replica of a
     * shard still has something to show for it. */
    json_key(w, "shard_leaders");
    json_array_begin(w);
    for (uint32_t s = 0; s < node->topology->shard_count; s++)
        json_u64(w, node_shard_leader(node, s));
    json_array_end(w);
}

static void write_stats(struct json *w, const struct node *node)
{
    const struct node_stats *s = &node->stats;
    json_key(w, "stats");
    json_object_begin(w);
    json_key_u64(w, "commands", s->commands);
    json_key_u64(w, "proposals", s->proposals);
    json_key_u64(w, "reads", s->reads);
    json_key_u64(w, "forwarded", s->forwarded);
    json_key_u64(w, "applied_entries", s->applied_entries);
    json_key_u64(w, "syncs", s->syncs);
    json_key_u64(w, "synced_entries", s->synced_entries);
    json_key_u64(w, "sync_us_total", s->sync_us_total);
    json_key_u64(w, "sync_us_max", s->sync_us_max);
    json_key_u64(w, "snapshots_taken", s->snapshots_taken);
    json_key_u64(w, "snapshots_installed", s->snapshots_installed);
    json_key_u64(w, "clients", node->client_count);
    json_key_u64(w, "clients_total", s->clients_total);
    json_key_u64(w, "pending_requests", node->pending_requests);
    json_key_u64(w, "loop_busy_us_max", s->loop_busy_us_max);
    json_key_u64(w, "groups_leading", node_groups_leading(node));
    json_key_u64(w, "groups_quiet", node_groups_quiet(node));
    json_key_u64(w, "errors", s->errors);
    json_key(w, "errors_by_kind");
    json_object_begin(w);
    for (uint32_t k = 0; k < s->error_kind_count; k++)
        json_key_u64(w, s->error_kinds[k], s->error_kind_counts[k]);
    if (s->errors_other > 0)
        json_key_u64(w, "other", s->errors_other);
    json_object_end(w);
    json_object_end(w);
}

/* Every command's duration histogram summed, bucket by bucket (not cumulative; the last
 * bucket is above every bound): the page takes percentiles from two events' difference. */
static void write_latency(struct json *w, const struct node *node)
{
    const struct metrics_histogram *first = &node->stats.command_seconds[0];
    json_key(w, "latency");
    json_object_begin(w);
    json_key(w, "bounds");
    json_array_begin(w);
    for (uint32_t b = 0; b < first->bound_count; b++)
        json_double(w, first->bounds[b]);
    json_array_end(w);
    json_key(w, "counts");
    json_array_begin(w);
    for (uint32_t b = 0; b <= first->bound_count; b++) {
        uint64_t sum = 0;
        for (uint32_t c = 0; c < node_command_count(); c++)
            sum += node->stats.command_seconds[c].counts[b];
        json_u64(w, sum);
    }
    json_array_end(w);
    json_object_end(w);
}

static void write_peers(struct json *w, const struct node *node)
{
    struct transport_stats ts = {0};
    if (node->transport != NULL)
        transport_stats(node->transport, &ts);
    json_key(w, "peers");
    json_object_begin(w);
    json_key_u64(w, "sent", ts.messages_sent);
    json_key_u64(w, "received", ts.messages_received);
    json_key_u64(w, "dropped", ts.messages_dropped);
    json_key_u64(w, "bytes_sent", ts.bytes_sent);
    json_key_u64(w, "bytes_received", ts.bytes_received);
    /* Messages received by type: the records of a CN_MSG_NODE_HEARTBEATS count as the
     * heartbeats they stand for, and the container counts once under its own name. */
    json_key(w, "received_by_type");
    json_object_begin(w);
    for (uint32_t t = 0; t <= CN_MSG_TYPE_MAX; t++)
        if (node->stats.peer_received_by_type[t] > 0)
            json_key_u64(w, cn_message_type_name((uint8_t)t),
                         node->stats.peer_received_by_type[t]);
    json_object_end(w);
    /* Messages on the wire, by sender and by destination's connection state. */
    json_key(w, "links");
    json_array_begin(w);
    for (uint32_t i = 0; i < node->config.member_count; i++) {
        cn_node_id id = node->config.members[i].id;
        if (id == node->config.id)
            continue;
        struct transport_peer_info info = {0};
        bool known = node->transport != NULL && transport_peer_info(node->transport, id, &info);
        json_object_begin(w);
        json_key_u64(w, "id", id);
        json_key_bool(w, "connected", known && info.connected);
        json_key_u64(w, "sent", info.messages_sent);
        json_key_u64(w, "queued", info.queue_messages);
        json_key_u64(w, "received", id < 256 ? node->stats.peer_received_from[id] : 0);
        json_object_end(w);
    }
    json_array_end(w);
    json_object_end(w);
}

/* Messages that make an election, a leadership transfer or a snapshot transfer: each one is
 * kept, as they are few and they are what the page animates. */
static bool message_is_notable(const struct cn_message *m)
{
    switch (m->type) {
    case CN_MSG_VOTE: case CN_MSG_VOTE_RESPONSE: case CN_MSG_PRE_VOTE:
    case CN_MSG_PRE_VOTE_RESPONSE: case CN_MSG_TIMEOUT_NOW: case CN_MSG_SNAPSHOT:
    case CN_MSG_SNAPSHOT_RESPONSE: case CN_MSG_PREPARE: case CN_MSG_PROMISE:
        return true;
    default:
        return m->reject;
    }
}

/* The node's own messages (beats, forwarded writes, the relay) are not a group's protocol:
 * they are counted by type, never sampled. */
static bool message_is_node_level(const struct cn_message *m)
{
    return m->type >= CN_MSG_PROPOSE && m->type <= CN_MSG_NODE_HEARTBEATS;
}

void node_view_on_message(struct node *node, const struct cn_message *m)
{
    struct node_view_samples *v = &node->view_samples;
    uint64_t now = node_now_ms(node);
    if (message_is_node_level(m))
        return;
    if (!message_is_notable(m)) {
        if (now < v->routine_last_ms + NODE_VIEW_SAMPLE_ROUTINE_MS)
            return;
        v->routine_last_ms = now;
    }
    uint64_t seq = ++v->taken;
    v->ring[seq % NODE_VIEW_SAMPLES] = (struct node_view_sample){
        .seq = seq, .at_ms = now, .term = m->term, .index = m->index, .from = m->from,
        .group = m->group, .entries = m->entry_count, .type = m->type, .reject = m->reject};
}

static void write_samples(struct json *w, const struct node *node)
{
    const struct node_view_samples *v = &node->view_samples;
    json_key(w, "samples");
    json_array_begin(w);
    uint64_t first = v->taken >= NODE_VIEW_SAMPLES ? v->taken - NODE_VIEW_SAMPLES + 1 : 1;
    for (uint64_t seq = first; seq <= v->taken; seq++) {
        const struct node_view_sample *s = &v->ring[seq % NODE_VIEW_SAMPLES];
        assert(s->seq == seq);
        json_object_begin(w);
        json_key_u64(w, "seq", s->seq);
        json_key_u64(w, "at_ms", s->at_ms);
        json_key_u64(w, "from", s->from);
        json_key_u64(w, "group", s->group);
        json_key_string(w, "type", cn_message_type_name(s->type));
        json_key_u64(w, "term", s->term);
        json_key_u64(w, "index", s->index);
        json_key_u64(w, "entries", s->entries);
        json_key_bool(w, "reject", s->reject);
        json_object_end(w);
    }
    json_array_end(w);
}

/* The rebalancer's moves as this node knows them (its plan of the topology it has), the
 * first NODE_VIEW_MOVES_MAX; "moves_total" says how many there are in all. */
static void write_moves(struct json *w, const struct node *node)
{
    const struct rebalance_plan *plan = node->rebalance;
    uint32_t count = plan != NULL ? plan->move_count : 0;
    json_key_u64(w, "moves_total", count);
    json_key(w, "moves");
    json_array_begin(w);
    for (uint32_t i = 0; i < count && i < NODE_VIEW_MOVES_MAX; i++) {
        const struct rebalance_move *m = &plan->moves[i];
        json_object_begin(w);
        json_key_u64(w, "shard", m->shard);
        json_key_u64(w, "from", m->from);
        json_key_u64(w, "to", m->to);
        json_key_bool(w, "running", m->runnable);
        json_object_end(w);
    }
    json_array_end(w);
}

static long state_write(const struct node *node, char *buf, size_t cap)
{
    struct json w;
    json_init(&w, buf, cap);
    json_object_begin(&w);
    json_key_u64(&w, "node", node->config.id);
    json_key_string(&w, "protocol", node->ops->name);
    json_key_u64(&w, "now_ms", node_now_ms(node));
    json_key_u64(&w, "uptime_ms", node_now_ms(node) - node->start_ms);
    json_key_u64(&w, "ticks", node->ticks);
    json_key_u64(&w, "shards", node->topology->shard_count);
    write_groups(&w, node);
    write_stats(&w, node);
    write_latency(&w, node);
    write_peers(&w, node);
    write_samples(&w, node);
    write_moves(&w, node);
    node_dev_write_state(&w, node);
    json_object_end(&w);
    return json_finish(&w);
}

static void write_address(struct json *w, const char *key, const struct topology_address *a)
{
    char text[TOPOLOGY_HOST_BYTES_MAX + 8];
    if (a->port == 0)
        snprintf(text, sizeof(text), "%s", a->host);
    else
        snprintf(text, sizeof(text), "%s:%u", a->host, (unsigned)a->port);
    json_key_string(w, key, text);
}

static long topology_write(const struct node *node, char *buf, size_t cap)
{
    const struct topology *t = node->topology;
    struct json w;
    json_init(&w, buf, cap);
    json_object_begin(&w);
    json_key_u64(&w, "node", node->config.id);
    json_key_string(&w, "protocol", node->ops->name);
    json_key_u64(&w, "epoch", t->epoch);
    json_key_u64(&w, "replicas", t->replica_count);
    json_key_u64(&w, "slots", SLOT_COUNT);
    json_key(&w, "nodes");
    json_array_begin(&w);
    for (uint32_t i = 0; i < t->node_count; i++) {
        const struct topology_node *n = &t->nodes[i];
        json_object_begin(&w);
        json_key_u64(&w, "id", n->id);
        write_address(&w, "client", &n->client);
        write_address(&w, "peer", &n->peer);
        json_key_string(&w, "zone", n->zone);
        json_key_u64(&w, "weight", n->weight);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_key(&w, "shards");
    json_array_begin(&w);
    for (uint32_t s = 0; s < t->shard_count; s++) {
        const struct topology_shard *sh = &t->shards[s];
        json_object_begin(&w);
        json_key_u64(&w, "id", s);
        json_key_u64(&w, "first_slot", sh->first_slot);
        json_key_u64(&w, "last_slot", sh->last_slot);
        json_key(&w, "replicas"); /* the preferred leader first */
        json_array_begin(&w);
        for (uint32_t r = 0; r < sh->replica_count; r++)
            json_u64(&w, sh->replicas[r]);
        json_array_end(&w);
        json_object_end(&w);
    }
    json_array_end(&w);
    /* The meta group (S > 1): not a shard of the keyspace, on the first voters by id. */
    json_key_bool(&w, "meta", t->shard_count > 1);
    json_object_end(&w);
    return json_finish(&w);
}

/* Writes with `write` into buffers from `cap` up, doubled, to the event bound. */
static char *render(const struct node *node, long (*write)(const struct node *, char *, size_t),
                    size_t cap, size_t *len)
{
    for (; cap <= NODE_VIEW_EVENT_BYTES_MAX; cap *= 2) {
        char *buf = malloc(cap);
        assert(buf != NULL);
        long n = write(node, buf, cap);
        if (n >= 0) {
            *len = (size_t)n;
            return buf;
        }
        free(buf);
    }
    return NULL;
}

char *node_view_render_state(const struct node *node, size_t *len)
{
    size_t groups = node->hosted_count + (node->meta != NULL ? 1u : 0u);
    return render(node, state_write,
                  NODE_VIEW_BYTES_FIXED + groups * NODE_VIEW_BYTES_PER_GROUP, len);
}

char *node_view_render_topology(const struct node *node, size_t *len)
{
    return render(node, topology_write,
                  NODE_VIEW_BYTES_FIXED + (size_t)node->topology->node_count * 256 +
                      (size_t)node->topology->shard_count * 96,
                  len);
}
