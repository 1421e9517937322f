/*
 * metrics.c — what GET /metrics answers (http.c): the node's state in the Prometheus text
 * format, written with src/metrics/metrics_text.h.
 *
 * Every number here is one the node keeps anyway, the same ones INFO shows (commands_info.c):
 * each hosted group's status and applied index, node->stats, the transport's counters. The
 * additions are two kinds of histograms: WAL sync durations, fed in drive.c from the duration
 * the sync thread already measures (a clock read, no extra syscall), and each command's
 * duration, from the moment it is executed (parsed) to the moment its reply is complete
 * (answered at once, or its request completed: written, read, relayed, failed or timed out),
 * which costs two reads of the monotonic clock per command (vDSO, no syscall).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/rebalance.h"
#include "metrics/metrics_text.h"
#include "net/transport.h"
#include "node/node_internal.h"

enum {
    /* The text is first written into a buffer of the fixed part plus a part per group (a
     * group writes about 430 bytes), doubled up to the bound when that does not fit: each
     * attempt writes the whole text again. */
    NODE_METRICS_BYTES_FIXED = 64u << 10,
    NODE_METRICS_BYTES_PER_GROUP = 1024,
    NODE_METRICS_BYTES_MAX = 32u << 20,
};

/* WAL batch write + fdatasync, in seconds: 50 us (a fast NVMe device) to 2.5 s (a stalled
 * disk, beyond the default request timeout's half). */
static const double SYNC_SECONDS_BOUNDS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                             0.5,     1,      2.5};

/* A command, in seconds: 50 us (a local reply) to 2.5 s (past a leader election). */
static const double COMMAND_SECONDS_BOUNDS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                0.0025,  0.005,  0.01,    0.025,  0.05,
                                                0.1,     0.25,   0.5,     1,      2.5};

void node_metrics_init(struct node *node)
{
    metrics_histogram_init(&node->stats.sync_seconds, SYNC_SECONDS_BOUNDS,
                           sizeof(SYNC_SECONDS_BOUNDS) / sizeof(SYNC_SECONDS_BOUNDS[0]));
    /* Static for the process's life, like the command table it follows (about 200 bytes a
     * command). */
    uint32_t count = node_command_count();
    node->stats.command_seconds = calloc(count, sizeof(*node->stats.command_seconds));
    assert(node->stats.command_seconds != NULL);
    for (uint32_t i = 0; i < count; i++)
        metrics_histogram_init(&node->stats.command_seconds[i], COMMAND_SECONDS_BOUNDS,
                               sizeof(COMMAND_SECONDS_BOUNDS) / sizeof(COMMAND_SECONDS_BOUNDS[0]));
}

static void command_observe(struct node *node, uint32_t command, uint64_t started_ns)
{
    assert(command < node_command_count());
    uint64_t now_ns = uv_hrtime();
    double seconds = now_ns > started_ns ? (double)(now_ns - started_ns) / 1e9 : 0;
    metrics_histogram_observe(&node->stats.command_seconds[command], seconds);
}

/* Counts an error reply (RESP "-KIND message") under its kind. A kind is letters, digits and
 * '_' only (what Redis and chorus send); anything else counts as other, so that what a
 * client could put in an error's text never names a label. */
static void error_count(struct node *node, const uint8_t *reply, size_t len)
{
    struct node_stats *s = &node->stats;
    s->errors++;
    char kind[NODE_ERROR_KIND_BYTES_MAX];
    size_t n = 0;
    for (size_t i = 1; i < len && reply[i] != ' ' && reply[i] != '\r'; i++, n++) {
        uint8_t ch = reply[i];
        bool word = (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
        if (!word || n + 1 >= sizeof(kind)) {
            s->errors_other++;
            return;
        }
        kind[n] = (char)ch;
    }
    kind[n] = '\0';
    if (n == 0) {
        s->errors_other++;
        return;
    }
    for (uint32_t k = 0; k < s->error_kind_count; k++) {
        if (strcmp(s->error_kinds[k], kind) == 0) {
            s->error_kind_counts[k]++;
            return;
        }
    }
    if (s->error_kind_count == NODE_ERROR_KINDS_MAX) {
        s->errors_other++;
        return;
    }
    memcpy(s->error_kinds[s->error_kind_count], kind, n + 1);
    s->error_kind_counts[s->error_kind_count++] = 1;
}

void node_metrics_command_ran(struct node_client *client, int32_t command, uint64_t started_ns,
                              const struct node_request *tail_before, size_t out_before)
{
    struct node_request *r = client->tail;
    if (r != NULL && r != tail_before && !r->done) {
        if (command < 0)
            return; /* its error reply is looked at when it completes */
        /* It waits on consensus (or behind earlier replies): timed, and its reply looked
         * at, when it completes. A command that leaves several requests is timed by its
         * last. */
        r->timed_command = (uint32_t)command + 1;
        r->started_ns = started_ns;
        return;
    }
    if (command >= 0)
        command_observe(client->node, (uint32_t)command, started_ns);
    /* Answered at once: in the client's output after what was there before (a reply queued
     * behind earlier ones completed its request already and was looked at there). */
    if (r == tail_before && client->out.len > out_before && client->out.data[out_before] == '-')
        error_count(client->node, client->out.data + out_before, client->out.len - out_before);
}

void node_metrics_request_done(struct node *node, const struct node_request *r)
{
    if (r->timed_command > 0)
        command_observe(node, r->timed_command - 1, r->started_ns);
    if (r->has_reply_out && r->reply_out.len > 0 && r->reply_out.data[0] == '-')
        error_count(node, r->reply_out.data, r->reply_out.len);
}

/* A per-group number: its name, help text and how to read it from the group. */
struct group_metric {
    const char *name;
    const char *help;
    uint64_t (*get)(const struct node_group *g);
};

static uint64_t group_term(const struct node_group *g) { return g->status.term; }
static uint64_t group_leader(const struct node_group *g) { return g->status.leader; }
static uint64_t group_commit(const struct node_group *g) { return g->status.commit_index; }
static uint64_t group_applied(const struct node_group *g) { return g->applied_index; }
static uint64_t group_persisted(const struct node_group *g) { return g->status.persisted_index; }
static uint64_t group_last(const struct node_group *g) { return g->status.last_index; }
static uint64_t group_snapshot(const struct node_group *g) { return g->status.snapshot_index; }

static uint64_t group_leader_changes(const struct node_group *g)
{
    return g->counters.leader_changes;
}
static uint64_t group_proposals(const struct node_group *g) { return g->counters.proposals; }
static uint64_t group_reads(const struct node_group *g) { return g->counters.reads_confirmed; }
static uint64_t group_reads_failed(const struct node_group *g) { return g->counters.reads_failed; }
static uint64_t group_snap_sent(const struct node_group *g)
{
    return g->counters.snapshot_bytes_sent;
}
static uint64_t group_snap_received(const struct node_group *g)
{
    return g->counters.snapshot_bytes_received;
}

/* Counters per group (the _total names): their families are typed counter. */
static const struct group_metric GROUP_COUNTERS[] = {
    {"chorus_group_leader_changes_total",
     "Times this node learned of a new leader of the group (elections it saw end).",
     group_leader_changes},
    {"chorus_group_proposals_total", "Entries proposed through this node's core of the group.",
     group_proposals},
    {"chorus_group_read_index_reads_total",
     "Linearizable reads the group's core confirmed on this node (ReadIndex or lease).",
     group_reads},
    {"chorus_group_read_index_failures_total",
     "Linearizable reads the group's core refused because leadership was lost (retried).",
     group_reads_failed},
    {"chorus_group_snapshot_sent_bytes_total",
     "Snapshot bytes this node sent to followers of the group.", group_snap_sent},
    {"chorus_group_snapshot_received_bytes_total",
     "Snapshot bytes this node received for the group.", group_snap_received},
};

static const struct group_metric GROUP_METRICS[] = {
    {"chorus_group_term", "Current term (Raft) or ballot round (Multi-Paxos) of the group.",
     group_term},
    {"chorus_group_leader_id", "Node id of the group's leader as this node knows it (0: none).",
     group_leader},
    {"chorus_group_commit_index", "Highest log index known committed in the group.",
     group_commit},
    {"chorus_group_applied_index", "Highest log index applied to this node's state machine.",
     group_applied},
    {"chorus_group_persisted_index", "Highest log index durable in this node's WAL.",
     group_persisted},
    {"chorus_group_last_index", "Last index of this node's log of the group.", group_last},
    {"chorus_group_snapshot_index", "Log index of the group's latest snapshot (0: none).",
     group_snapshot},
};

/* The groups this node hosts, the meta group last (its id is the shard count S). */
static const struct node_group *group_at(const struct node *node, uint32_t i)
{
    return i < node->hosted_count ? node->hosted[i] : node->meta;
}

static uint32_t groups_count(const struct node *node)
{
    return node->hosted_count + (node->meta != NULL ? 1 : 0);
}

static void write_group_roles(struct metrics_text *w, const struct node *node)
{
    static const char *const roles[] = {"follower", "candidate", "leader"};
    metrics_text_header(w, "chorus_group_role", METRICS_GAUGE,
                        "1 for the group's role on this node (a pre-candidate counts as "
                        "candidate), 0 for the others.");
    for (uint32_t i = 0; i < groups_count(node); i++) {
        const struct node_group *g = group_at(node, i);
        enum cn_role role = g->status.role == CN_ROLE_PRE_CANDIDATE ? CN_ROLE_CANDIDATE
                                                                     : g->status.role;
        char id[16];
        snprintf(id, sizeof(id), "%u", g->id);
        for (uint32_t r = 0; r < 3; r++) {
            struct metrics_label labels[2] = {{"group", id}, {"role", roles[r]}};
            bool is = strcmp(cn_role_name(role), roles[r]) == 0;
            metrics_text_u64(w, "chorus_group_role", labels, 2, is ? 1 : 0);
        }
    }
}

static void write_group_family(struct metrics_text *w, const struct node *node,
                               const struct group_metric *gm, enum metrics_type type)
{
    metrics_text_header(w, gm->name, type, gm->help);
    for (uint32_t i = 0; i < groups_count(node); i++) {
        const struct node_group *g = group_at(node, i);
        char id[16];
        snprintf(id, sizeof(id), "%u", g->id);
        struct metrics_label label = {"group", id};
        metrics_text_u64(w, gm->name, &label, 1, gm->get(g));
    }
}

static void write_groups(struct metrics_text *w, const struct node *node)
{
    write_group_roles(w, node);
    for (size_t m = 0; m < sizeof(GROUP_METRICS) / sizeof(GROUP_METRICS[0]); m++)
        write_group_family(w, node, &GROUP_METRICS[m], METRICS_GAUGE);
    for (size_t m = 0; m < sizeof(GROUP_COUNTERS) / sizeof(GROUP_COUNTERS[0]); m++)
        write_group_family(w, node, &GROUP_COUNTERS[m], METRICS_COUNTER);
}

/* One family of one unlabelled sample. */
static void write_one(struct metrics_text *w, const char *name, enum metrics_type type,
                      const char *help, uint64_t value)
{
    metrics_text_header(w, name, type, help);
    metrics_text_u64(w, name, NULL, 0, value);
}

static void write_node(struct metrics_text *w, const struct node *node)
{
    const struct node_stats *s = &node->stats;
    char id[16];
    snprintf(id, sizeof(id), "%u", node->config.id);
    struct metrics_label info[2] = {{"node_id", id}, {"protocol", node->ops->name}};
    metrics_text_header(w, "chorus_node_info", METRICS_GAUGE,
                        "Always 1; the labels name this node and its consensus protocol.");
    metrics_text_u64(w, "chorus_node_info", info, 2, 1);
    write_one(w, "chorus_shards", METRICS_GAUGE, "Shards of the keyspace (S).",
              node->topology->shard_count);
    write_one(w, "chorus_groups_hosted", METRICS_GAUGE, "Shards this node holds a replica of.",
              node->hosted_count);
    write_one(w, "chorus_groups_leading", METRICS_GAUGE, "Hosted shards this node leads.",
              node_groups_leading(node));
    write_one(w, "chorus_groups_quiet", METRICS_GAUGE, "Hosted groups that are quiet.",
              node_groups_quiet(node));
    write_one(w, "chorus_clients_connected", METRICS_GAUGE, "Client (RESP) connections open.",
              node->client_count);
    uint64_t blocked = 0;
    for (const struct node_client *c = node->clients; c != NULL; c = c->next)
        blocked += c->blocking;
    write_one(w, "chorus_clients_blocked", METRICS_GAUGE,
              "Clients in a blocking pop (BLPOP and friends).", blocked);
    const struct rebalance_plan *plan = node->rebalance;
    write_one(w, "chorus_rebalance_moves", METRICS_GAUGE,
              "Shard replica moves in the rebalancer's plan, in flight or waiting their turn.",
              plan != NULL ? plan->move_count : 0);
    write_one(w, "chorus_rebalance_moves_runnable", METRICS_GAUGE,
              "Moves of the plan that may run now (the in-flight bounds allow them).",
              plan != NULL ? plan->runnable_count : 0);
    write_one(w, "chorus_rebalance_replicas_created_total", METRICS_COUNTER,
              "Shard replicas this node created for a move (learners that then catch up).",
              node->rebalance_created);
    write_one(w, "chorus_rebalance_replicas_deleted_total", METRICS_COUNTER,
              "Shard replicas this node deleted after a move took them off it.",
              node->rebalance_deleted);
    write_one(w, "chorus_rebalance_moves_in_flight", METRICS_GAUGE,
              "Moves this node carries out now (it leads the shard; the new replica is in it).",
              node_move_progress_in_flight(node));
    write_one(w, "chorus_rebalance_snapshot_sent_bytes_total", METRICS_COUNTER,
              "Snapshot bytes this node streamed to moves' new replicas.",
              node->rebalance_snapshot_bytes);
    write_one(w, "chorus_snapshot_bandwidth_bytes_per_second", METRICS_GAUGE,
              "--snapshot-bandwidth: the limit on snapshot chunks to learners (0: none).",
              node->config.snapshot_bandwidth_bytes_per_s);
    write_one(w, "chorus_snapshot_chunks_delayed_total", METRICS_COUNTER,
              "Snapshot chunks to learners that waited for --snapshot-bandwidth.",
              node->snapshot_chunks_delayed);
    write_one(w, "chorus_clients_accepted_total", METRICS_COUNTER,
              "Client (RESP) connections accepted.", s->clients_total);
    write_one(w, "chorus_commands_processed_total", METRICS_COUNTER,
              "Client commands executed.", s->commands);
    write_one(w, "chorus_proposals_total", METRICS_COUNTER, "Writes proposed by this node.",
              s->proposals);
    write_one(w, "chorus_linearizable_reads_total", METRICS_COUNTER,
              "Reads served through ReadIndex.", s->reads);
    write_one(w, "chorus_forwarded_writes_total", METRICS_COUNTER,
              "Writes forwarded to a shard's leader on another node.", s->forwarded);
    write_one(w, "chorus_writes_retried_total", METRICS_COUNTER,
              "Writes proposed again after a new leader overwrote their entry.",
              s->writes_retried);
    write_one(w, "chorus_applied_entries_total", METRICS_COUNTER,
              "Log entries applied to the state machines.", s->applied_entries);
    write_one(w, "chorus_pending_requests", METRICS_GAUGE,
              "Client requests waiting on consensus.", node->pending_requests);
    write_one(w, "chorus_snapshots_taken_total", METRICS_COUNTER, "Snapshots taken.",
              s->snapshots_taken);
    write_one(w, "chorus_snapshots_installed_total", METRICS_COUNTER,
              "Snapshots received and installed.", s->snapshots_installed);
}

static void write_wal(struct metrics_text *w, const struct node *node)
{
    const struct node_stats *s = &node->stats;
    write_one(w, "chorus_wal_syncs_total", METRICS_COUNTER,
              "WAL batches written with one write and one fdatasync.", s->syncs);
    write_one(w, "chorus_wal_synced_entries_total", METRICS_COUNTER,
              "Log entries made durable by WAL syncs.", s->synced_entries);
    metrics_text_header(w, "chorus_wal_sync_duration_seconds", METRICS_HISTOGRAM,
                        "Duration of one WAL batch's write and fdatasync, in seconds.");
    metrics_text_histogram(w, "chorus_wal_sync_duration_seconds", NULL, 0, &s->sync_seconds);
}

static void write_peers(struct metrics_text *w, const struct node *node)
{
    struct transport_stats ts = {0};
    if (node->transport != NULL)
        transport_stats(node->transport, &ts);
    write_one(w, "chorus_peer_messages_sent_total", METRICS_COUNTER,
              "Consensus and node messages written to peers.", ts.messages_sent);
    write_one(w, "chorus_peer_messages_received_total", METRICS_COUNTER,
              "Messages received from peers.", ts.messages_received);
    write_one(w, "chorus_peer_messages_dropped_total", METRICS_COUNTER,
              "Messages to peers dropped (queue full or connection lost).", ts.messages_dropped);
    write_one(w, "chorus_peer_sent_bytes_total", METRICS_COUNTER, "Bytes written to peers.",
              ts.bytes_sent);
    write_one(w, "chorus_peer_received_bytes_total", METRICS_COUNTER, "Bytes received from peers.",
              ts.bytes_received);
    /* By type, as peers.c counts them for the live view: a heartbeat record inside a
     * node-heartbeats message counts as the heartbeat it stands for. */
    metrics_text_header(w, "chorus_peer_messages_received_by_type_total", METRICS_COUNTER,
                        "Messages received from peers, by type (the records of a "
                        "node-heartbeats message each count as their own type too).");
    for (uint32_t t = 0; t <= CN_MSG_TYPE_MAX; t++) {
        if (node->stats.peer_received_by_type[t] == 0)
            continue;
        struct metrics_label label = {"type", cn_message_type_name((uint8_t)t)};
        metrics_text_u64(w, "chorus_peer_messages_received_by_type_total", &label, 1,
                         node->stats.peer_received_by_type[t]);
    }
}

/* chorus_error_replies_total{kind="ERR"}: error replies by their first word. */
static void write_errors(struct metrics_text *w, const struct node *node)
{
    const struct node_stats *s = &node->stats;
    metrics_text_header(w, "chorus_error_replies_total", METRICS_COUNTER,
                        "Error replies sent to clients, by kind (the error's first word; "
                        "\"other\" past the kinds counted).");
    for (uint32_t k = 0; k < s->error_kind_count; k++) {
        struct metrics_label label = {"kind", s->error_kinds[k]};
        metrics_text_u64(w, "chorus_error_replies_total", &label, 1, s->error_kind_counts[k]);
    }
    struct metrics_label other = {"kind", "other"};
    metrics_text_u64(w, "chorus_error_replies_total", &other, 1, s->errors_other);
}

/* chorus_command_duration_seconds{command="get"}: the commands that ran at least once. */
static void write_commands(struct metrics_text *w, const struct node *node)
{
    metrics_text_header(w, "chorus_command_duration_seconds", METRICS_HISTOGRAM,
                        "Duration of a client command, from its execution to its complete "
                        "reply, in seconds.");
    for (uint32_t i = 0; i < node_command_count(); i++) {
        const struct metrics_histogram *h = &node->stats.command_seconds[i];
        if (h->count == 0)
            continue;
        char name[32];
        const char *upper = node_command_name(i);
        size_t n = 0;
        for (; upper[n] != '\0' && n + 1 < sizeof(name); n++)
            name[n] = (char)(upper[n] >= 'A' && upper[n] <= 'Z' ? upper[n] - 'A' + 'a' : upper[n]);
        name[n] = '\0';
        struct metrics_label label = {"command", name};
        metrics_text_histogram(w, "chorus_command_duration_seconds", &label, 1, h);
    }
}

static long metrics_write(const struct node *node, char *buf, size_t cap)
{
    struct metrics_text w;
    metrics_text_init(&w, buf, cap);
    write_node(&w, node);
    write_groups(&w, node);
    write_wal(&w, node);
    write_peers(&w, node);
    write_commands(&w, node);
    write_errors(&w, node);
    return metrics_text_finish(&w);
}

char *node_metrics_render(const struct node *node, size_t *len)
{
    size_t cap = NODE_METRICS_BYTES_FIXED + (size_t)groups_count(node) * NODE_METRICS_BYTES_PER_GROUP;
    for (; cap <= NODE_METRICS_BYTES_MAX; cap *= 2) {
        char *buf = malloc(cap);
        assert(buf != NULL);
        long n = metrics_write(node, buf, cap);
        if (n >= 0) {
            *len = (size_t)n;
            return buf;
        }
        free(buf);
    }
    node_log(node, NODE_LOG_WARN, "/metrics: the text exceeds %u bytes", NODE_METRICS_BYTES_MAX);
    return NULL;
}
