/*
 * commands_info.c — INFO, HELLO, COMMAND and CONFIG GET: what redis-cli, redis-benchmark and
 * client libraries ask a server about itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cluster/rebalance.h"
#include "net/transport.h"
#include "node/commands.h"
#include "storage/wal.h"

enum { NODE_INFO_BYTES_MAX = 16384 };

static const char CHORUS_VERSION[] = "0.1.0";

/* The port of the client listen address "host:port", as a number (0 if it has none). */
static unsigned listen_port(const struct node *node)
{
    const char *colon = strrchr(node->config.listen_addr, ':');
    return colon != NULL ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

static size_t info_server(const struct node *node, char *buf, size_t cap)
{
    uint64_t uptime_s = (node_now_ms(node) - node->start_ms) / 1000;
    return (size_t)snprintf(buf, cap,
                            "# Server\r\nredis_version:7.0.0\r\nchorus_version:%s\r\n"
                            "redis_mode:standalone\r\nprocess_id:%d\r\ntcp_port:%u\r\n"
                            "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\n\r\n",
                            CHORUS_VERSION, (int)getpid(), listen_port(node),
                            (unsigned long long)uptime_s, (unsigned long long)(uptime_s / 86400));
}

static size_t info_clients(const struct node *node, char *buf, size_t cap)
{
    uint32_t blocked = 0; /* a blocking pop in progress, waiting or trying (blocking.c) */
    for (const struct node_client *c = node->clients; c != NULL; c = c->next)
        blocked += c->blocking;
    return (size_t)snprintf(buf, cap,
                            "# Clients\r\nconnected_clients:%u\r\nblocked_clients:%u\r\n\r\n",
                            node->client_count, blocked);
}

/* The process's resident memory, from /proc/self/statm (0 when it cannot be read). */
static uint64_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void human_bytes(uint64_t bytes, char *buf, size_t cap)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, cap, "%.2fG", (double)bytes / (double)(1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(buf, cap, "%.2fM", (double)bytes / (double)(1ull << 20));
    else
        snprintf(buf, cap, "%.2fK", (double)bytes / 1024.0);
}

/* chorus has no allocator of its own to ask: used_memory is the resident set size. */
static size_t info_memory(char *buf, size_t cap)
{
    struct rusage usage;
    memset(&usage, 0, sizeof(usage));
    getrusage(RUSAGE_SELF, &usage);
    uint64_t used = resident_bytes(), peak = (uint64_t)usage.ru_maxrss * 1024;
    char used_human[32], peak_human[32];
    human_bytes(used, used_human, sizeof(used_human));
    human_bytes(peak, peak_human, sizeof(peak_human));
    return (size_t)snprintf(buf, cap,
                            "# Memory\r\nused_memory:%llu\r\nused_memory_human:%s\r\n"
                            "used_memory_rss:%llu\r\nused_memory_peak:%llu\r\n"
                            "used_memory_peak_human:%s\r\nmaxmemory:0\r\n"
                            "maxmemory_policy:noeviction\r\n\r\n",
                            (unsigned long long)used, used_human, (unsigned long long)used,
                            (unsigned long long)peak, peak_human);
}

static size_t info_cpu(char *buf, size_t cap)
{
    struct rusage self, children;
    memset(&self, 0, sizeof(self));
    memset(&children, 0, sizeof(children));
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define SECONDS(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec / 1e6)
    return (size_t)snprintf(buf, cap,
                            "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\n"
                            "used_cpu_sys_children:%.6f\r\nused_cpu_user_children:%.6f\r\n\r\n",
                            SECONDS(self.ru_stime), SECONDS(self.ru_utime),
                            SECONDS(children.ru_stime), SECONDS(children.ru_utime));
#undef SECONDS
}

/* Redis's view of roles: the leader is the master, every other member a replica. */
static size_t info_replication(const struct node *node, char *buf, size_t cap)
{
    bool leader = node_groups_leading(node) > 0;
    return (size_t)snprintf(buf, cap, "# Replication\r\nrole:%s\r\nconnected_slaves:%u\r\n\r\n",
                            leader ? "master" : "slave",
                            leader && node->config.member_count > 0 ? node->config.member_count - 1 : 0);
}

/* As Redis, a database without keys is left out. expires= counts the keys with a deadline
 * (the deadline index of each hosted store, docs/expiry.md) and avg_ttl= their mean time to
 * live in ms at each store's log time, weighted by their count. */
static size_t info_keyspace(const struct node *node, char *buf, size_t cap)
{
    uint64_t keys = 0, expires = 0, ttl_weighted = 0;
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        uint64_t n = 0;
        if (kv_count(node->hosted[i]->kv, &n) == KV_OK)
            keys += n;
        struct kv_expiry_stats stats;
        if (kv_expiry_stats(node->hosted[i]->kv, &stats) == KV_OK) {
            expires += stats.volatile_keys;
            ttl_weighted += stats.avg_ttl_ms * stats.volatile_keys;
        }
    }
    if (keys == 0)
        return (size_t)snprintf(buf, cap, "# Keyspace\r\n\r\n");
    return (size_t)snprintf(buf, cap, "# Keyspace\r\ndb0:keys=%llu,expires=%llu,avg_ttl=%llu\r\n\r\n",
                            (unsigned long long)keys, (unsigned long long)expires,
                            (unsigned long long)(expires > 0 ? ttl_weighted / expires : 0));
}

static size_t info_stats(const struct node *node, char *buf, size_t cap)
{
    const struct node_stats *s = &node->stats;
    /* The peer links' refusals (net/transport.h): other clusters, missing or other secrets,
     * failed TLS handshakes. */
    struct transport_stats peer;
    memset(&peer, 0, sizeof(peer));
    struct wal_stats wal_stats;
    wal_stats_get(node->wal, &wal_stats);
    if (node->transport != NULL)
        transport_stats(node->transport, &peer);
    return (size_t)snprintf(
        buf, cap,
        "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
        "proposals:%llu\r\nlinearizable_reads:%llu\r\nforwarded_writes:%llu\r\n"
        "writes_retried:%llu\r\nblocking_wakeups:%llu\r\napplied_entries:%llu\r\nwal_syncs:%llu\r\nwal_sync_avg_us:%llu\r\n"
        "wal_sync_max_us:%llu\r\nwal_entries_per_sync:%.1f\r\nwal_syncs_overlapped:%llu\r\n"
        "wal_spare_segments:%llu\r\n"
        "snapshots_taken:%llu\r\n"
        "snapshots_installed:%llu\r\npending_requests:%u\r\nloop_busy_max_us:%llu\r\n"
        "loop_busy_over_50ms:%llu\r\nheartbeats_coalesced:%llu\r\n"
        "heartbeat_messages:%llu\r\nacl_access_denied_auth:%llu\r\n"
        "acl_access_denied_cmd:%llu\r\nacl_access_denied_key:%llu\r\n"
        "protected_mode_refused:%llu\r\npeer_handshake_errors:%llu\r\n"
        "peer_auth_failures:%llu\r\npeer_tls_failures:%llu\r\n"
        "peer_log_lines_suppressed:%llu\r\n\r\n",
        (unsigned long long)s->clients_total, (unsigned long long)s->commands,
        (unsigned long long)s->proposals, (unsigned long long)s->reads,
        (unsigned long long)s->forwarded, (unsigned long long)s->writes_retried,
        (unsigned long long)s->blocking_wakeups,
        (unsigned long long)s->applied_entries,
        (unsigned long long)s->syncs,
        (unsigned long long)(s->syncs ? s->sync_us_total / s->syncs : 0),
        (unsigned long long)s->sync_us_max,
        s->syncs ? (double)s->synced_entries / (double)s->syncs : 0.0,
        (unsigned long long)s->syncs_overlapped, (unsigned long long)wal_stats.spares_used, (unsigned long long)s->snapshots_taken,
        (unsigned long long)s->snapshots_installed, node->pending_requests,
        (unsigned long long)s->loop_busy_us_max, (unsigned long long)s->loop_busy_over_50ms,
        (unsigned long long)s->heartbeats_coalesced, (unsigned long long)s->heartbeat_messages,
        (unsigned long long)s->auth_failures, (unsigned long long)s->acl_denied_cmd,
        (unsigned long long)s->acl_denied_key, (unsigned long long)s->protected_refused,
        (unsigned long long)peer.handshake_errors, (unsigned long long)peer.auth_failures,
        (unsigned long long)peer.tls_failures, (unsigned long long)peer.log_lines_suppressed);
}

/* The section chorus's own tools read: `chorus status` and the tests parse these lines. */
/* Redis's "# Cluster" section: cluster-aware clients look for cluster_enabled. */
/* INFO stages (asked by name only): the averages of stages.c's sampled writes, in µs. */
static size_t info_stages(const struct node *node, char *buf, size_t cap)
{
    const struct node_stages *st = &node->stages;
    uint64_t n = st->completed ? st->completed : 1;
    size_t len = (size_t)snprintf(buf, cap, "# Stages\r\nstage_samples:%llu\r\n",
                                  (unsigned long long)st->completed);
    for (int k = 1; k < NODE_STAGE_COUNT && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "stage_%s_us:%.1f\r\n",
                                node_stage_name((enum node_stage)k),
                                (double)st->stage_ns_total[k] / 1000.0 / (double)n);
    if (len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "stage_total_us:%.1f\r\n\r\n",
                                (double)st->total_ns / 1000.0 / (double)n);
    return len;
}

static size_t info_cluster(const struct node *node, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "# Cluster\r\ncluster_enabled:%d\r\n\r\n",
                            node->cluster_mode ? 1 : 0);
}

/* The section chorus's own tools read: `chorus status` and the tests parse these lines. The
 * consensus fields are those of the node's first group (the only one when S = 1); the
 * shards' own are in CLUSTER SHARDS and `chorus status`. */
static size_t info_chorus(const struct node *node, char *buf, size_t cap)
{
    static const struct node_group none;
    const struct node_group *g = node_group_first(node);
    if (g == NULL)
        g = &none;
    const struct cn_status *st = &g->status;
    char members[256];
    size_t m = 0;
    members[0] = '\0';
    for (uint32_t i = 0; i < node->config.member_count && m < sizeof(members) - 80; i++)
        m += (size_t)snprintf(members + m, sizeof(members) - m, "%s%u=%s", i ? "," : "",
                              node->config.members[i].id, node->config.members[i].peer_addr);
    struct node_members_counts mc;
    node_members_counts(node, &mc);
    return (size_t)snprintf(
        buf, cap,
        "# Chorus\r\nrole:%s\r\nnode_id:%u\r\nleader_id:%u\r\nterm:%llu\r\n"
        "commit_index:%llu\r\napplied_index:%llu\r\npersisted_index:%llu\r\n"
        "first_index:%llu\r\nlast_index:%llu\r\nsnapshot_index:%llu\r\nprotocol:%s\r\n"
        "members:%s\r\ncluster_id:%llu\r\nshards:%u\r\nreplicas:%u\r\ngroups_hosted:%u\r\n"
        "groups_leading:%u\r\ngroups_quiet:%u\r\ngroup_id:%u\r\ntopology_epoch:%llu\r\n"
        "topology_verified:%d\r\nmeta_role:%s\r\nmeta_leader_id:%u\r\n"
        "membership_voters:%u\r\nmembership_outgoing:%u\r\nmembership_learners:%u\r\n"
        "membership_pending:%d\r\nmembership_unreachable:%d\r\nmembership_known_nodes:%u\r\n"
        "membership_removed:%d\r\nmembership_change_in_progress:%d\r\n"
        "membership_changes_done:%llu\r\nmembership_changes_failed:%llu\r\n"
        "rebalance_moves:%u\r\nrebalance_runnable:%u\r\nrebalance_replicas_created:%llu\r\n"
        "rebalance_replicas_deleted:%llu\r\nrebalance_moves_recorded:%llu\r\n"
        "rebalance_moves_in_flight:%u\r\nrebalance_snapshot_bytes_sent:%llu\r\n"
        "snapshot_bandwidth_bytes_per_s:%llu\r\nsnapshot_chunks_delayed:%llu\r\n\r\n",
        st->role == CN_ROLE_PRE_CANDIDATE ? "candidate" : cn_role_name(st->role), node->config.id,
        st->leader, (unsigned long long)st->term, (unsigned long long)st->commit_index,
        (unsigned long long)g->applied_index, (unsigned long long)st->persisted_index,
        (unsigned long long)st->first_index, (unsigned long long)st->last_index,
        (unsigned long long)st->snapshot_index, node->ops->name, members,
        (unsigned long long)node->config.cluster_id, node->topology->shard_count,
        node->topology->replica_count, node->hosted_count, node_groups_leading(node),
        node_groups_quiet(node), g->id, (unsigned long long)node->topology->epoch,
        node->topology_verified ? 1 : 0,
        node->meta == NULL ? "none" : cn_role_name(node->meta->status.role),
        node->meta == NULL ? 0 : node->meta->status.leader, mc.voters, mc.outgoing, mc.learners,
        mc.pending, mc.unreachable, mc.known, mc.removed, mc.in_progress,
        (unsigned long long)mc.changes_done, (unsigned long long)mc.changes_failed,
        node->rebalance != NULL ? node->rebalance->move_count : 0,
        node->rebalance != NULL ? node->rebalance->runnable_count : 0,
        (unsigned long long)node->rebalance_created, (unsigned long long)node->rebalance_deleted,
        (unsigned long long)node->rebalance_recorded, node_move_progress_in_flight(node),
        (unsigned long long)node->rebalance_snapshot_bytes,
        (unsigned long long)node->config.snapshot_bandwidth_bytes_per_s,
        (unsigned long long)node->snapshot_chunks_delayed);
}

/* Appends a section as Redis lays them out: one blank line between sections, none after the
 * last. A section that does not fit whole is left out (the buffer's bound is only reached
 * when a client names the same sections again and again). */
static void info_append(char *text, size_t *n, const char *section, size_t len)
{
    if (len >= 4 && memcmp(section + len - 4, "\r\n\r\n", 4) == 0)
        len -= 2;
    size_t separator = *n > 0 ? 2 : 0;
    if (*n + separator + len < NODE_INFO_BYTES_MAX) {
        memcpy(text + *n, "\r\n", separator);
        memcpy(text + *n + separator, section, len);
        *n += separator + len;
    }
}

/* INFO shards (asked alone, never part of INFO all): a line per group this node hosts, for
 * `chorus status`. At most TOPOLOGY_SHARDS_MAX lines of NODE_INFO_SHARD_LINE_BYTES. */
enum { NODE_INFO_SHARD_LINE_BYTES = 256 };

/* A configuration's list as ids joined by '/' (the separator of a shard line's lists). */
static void info_ids(const struct cn_members *list, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < list->count && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%u", i ? "/" : "", list->ids[i]);
}

static void info_shards(struct node_exec *e)
{
    const struct node *node = e->node;
    size_t cap = 32 + (size_t)node->hosted_count * NODE_INFO_SHARD_LINE_BYTES;
    char *text = malloc(cap);
    assert(text != NULL);
    size_t n = (size_t)snprintf(text, cap, "# Shards\r\n");
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        const struct node_group *g = node->hosted[i];
        const struct topology_shard *shard = &node->topology->shards[g->id];
        char replicas[64];
        size_t r = 0;
        replicas[0] = '\0';
        for (uint32_t k = 0; k < shard->replica_count; k++)
            r += (size_t)snprintf(replicas + r, sizeof(replicas) - r, "%s%u", k ? "/" : "",
                                  shard->replicas[k]);
        /* The group's own configuration as this replica knows it, next to the topology's
         * replicas: after a move or an abandoned one they must agree (voters = replicas, no
         * learner, nothing outgoing). */
        const struct cn_membership *c = &g->status.membership;
        char voters[48], learners[48], outgoing[48];
        info_ids(&c->voters, voters, sizeof(voters));
        info_ids(&c->learners, learners, sizeof(learners));
        info_ids(&c->outgoing, outgoing, sizeof(outgoing));
        n += (size_t)snprintf(
            text + n, cap - n,
            "shard_%u:slots=%u-%u,role=%s,leader=%u,term=%llu,commit=%llu,applied=%llu,"
            "replicas=%s,voters=%s,learners=%s,outgoing=%s\r\n",
            g->id, g->first_slot, g->last_slot,
            g->status.role == CN_ROLE_PRE_CANDIDATE ? "candidate" : cn_role_name(g->status.role),
            g->status.leader, (unsigned long long)g->status.term,
            (unsigned long long)g->status.commit_index, (unsigned long long)g->applied_index,
            replicas, voters, learners, outgoing);
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_bulk(out, text, n);
    node_exec_done(e, out);
    free(text);
}

void node_cmd_info(struct node_exec *e)
{
    if (e->argc == 2 && node_arg_is(&e->argv[1], "shards")) {
        info_shards(e);
        return;
    }
    char *text = malloc(NODE_INFO_BYTES_MAX);
    char section[2048];
    assert(text != NULL);
    size_t n = 0;
    bool all = e->argc == 1 || node_arg_is(&e->argv[1], "all") ||
               node_arg_is(&e->argv[1], "everything") || node_arg_is(&e->argv[1], "default");
    for (uint32_t i = all ? 0 : 1; i < (all ? 1 : e->argc); i++) {
        const struct resp_arg *s = all ? NULL : &e->argv[i];
#define SECTION(word, call)                                                                  \
    if (all || node_arg_is(s, word)) {                                                        \
        size_t len = call;                                                                     \
        info_append(text, &n, section, len < sizeof(section) ? len : sizeof(section) - 1);     \
    }
        SECTION("server", info_server(e->node, section, sizeof(section)));
        SECTION("clients", info_clients(e->node, section, sizeof(section)));
        SECTION("memory", info_memory(section, sizeof(section)));
        SECTION("stats", info_stats(e->node, section, sizeof(section)));
        SECTION("replication", info_replication(e->node, section, sizeof(section)));
        SECTION("cpu", info_cpu(section, sizeof(section)));
        SECTION("cluster", info_cluster(e->node, section, sizeof(section)));
        SECTION("chorus", info_chorus(e->node, section, sizeof(section)));
        SECTION("keyspace", info_keyspace(e->node, section, sizeof(section)));
        if (!all && node_arg_is(s, "stages")) {
            size_t len = info_stages(e->node, section, sizeof(section));
            info_append(text, &n, section, len < sizeof(section) ? len : sizeof(section) - 1);
        }
#undef SECTION
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_bulk(out, text, n);
    node_exec_done(e, out);
    free(text);
}

static void reply_bulk_str(struct resp_out *out, const char *s)
{
    resp_reply_bulk(out, s, strlen(s));
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: switches RESP2/RESP3 (Redis 6+). */
void node_cmd_hello(struct node_exec *e)
{
    int64_t version = e->client->out.protocol;
    if (e->argc >= 2 && !resp_string_to_int64(e->argv[1].data, e->argv[1].len, &version)) {
        node_exec_error(e, "ERR Protocol version is not an integer or out of range");
        return;
    }
    if (version < 2 || version > 3) {
        node_exec_error(e, "-NOPROTO unsupported protocol version");
        return;
    }
    const struct resp_arg *name = NULL, *user = NULL, *password = NULL;
    for (uint32_t i = 2; i < e->argc; i++) {
        uint32_t more = e->argc - 1 - i;
        if (node_arg_is(&e->argv[i], "AUTH") && more >= 2) {
            user = &e->argv[i + 1];
            password = &e->argv[i + 2];
            i += 2;
            continue;
        }
        if (node_arg_is(&e->argv[i], "SETNAME") && more >= 1) {
            name = &e->argv[++i];
            continue;
        }
        char text[256];
        snprintf(text, sizeof(text), "ERR Syntax error in HELLO option '%.*s'",
                 (int)(e->argv[i].len > 128 ? 128 : e->argv[i].len), e->argv[i].data);
        node_exec_error(e, text);
        return;
    }
    /* Redis 7's order: the options' syntax, then AUTH, then whether the connection may go
     * on (commands_auth.c), then the name. */
    if (user != NULL && !node_auth_attempt(e, user, password))
        return;
    if (!e->client->authenticated) {
        node_exec_error(e, "NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at "
                           "the same time");
        return;
    }
    const char *name_error = name != NULL ? node_client_name_check(name) : NULL;
    if (name_error != NULL) {
        node_exec_error(e, name_error);
        return;
    }
    if (name != NULL)
        node_client_name_set(e->client, name);
    resp_out_set_protocol(&e->client->out, (int)version);
    struct resp_out *out = node_exec_out(e);
    resp_out_set_protocol(out, (int)version);
    resp_reply_map(out, 7);
    reply_bulk_str(out, "server");
    reply_bulk_str(out, "chorus");
    reply_bulk_str(out, "version");
    reply_bulk_str(out, CHORUS_VERSION);
    reply_bulk_str(out, "proto");
    resp_reply_integer(out, version);
    reply_bulk_str(out, "id");
    resp_reply_integer(out, (int64_t)e->client->id);
    reply_bulk_str(out, "mode");
    reply_bulk_str(out, e->node->cluster_mode ? "cluster" : "standalone");
    reply_bulk_str(out, "role");
    reply_bulk_str(out, node_groups_leading(e->node) > 0 ? "master" : "replica");
    reply_bulk_str(out, "modules");
    resp_reply_array(out, 0);
    node_exec_done(e, out);
}

/* CONFIG GET name: redis-benchmark reads "save" and "appendonly" before it starts. */
void node_cmd_config(struct node_exec *e)
{
    if (node_arg_is(&e->argv[1], "GET") && e->argc < 3) {
        node_exec_error(e, "ERR wrong number of arguments for 'config|get' command");
        return;
    }
    if (!node_arg_is(&e->argv[1], "GET")) {
        node_exec_error(e, "ERR chorus supports only CONFIG GET <name>...");
        return;
    }
    /* Redis 7 takes several names; a name twice is answered once. */
    bool save = false, appendonly = false;
    for (uint32_t i = 2; i < e->argc; i++) {
        save = save || node_arg_is(&e->argv[i], "save");
        appendonly = appendonly || node_arg_is(&e->argv[i], "appendonly");
    }
    struct resp_out *out = node_exec_out(e);
    resp_reply_map(out, (uint64_t)save + (uint64_t)appendonly);
    if (save) {
        reply_bulk_str(out, "save");
        reply_bulk_str(out, "");
    }
    if (appendonly) {
        reply_bulk_str(out, "appendonly");
        reply_bulk_str(out, "yes");
    }
    node_exec_done(e, out);
}
