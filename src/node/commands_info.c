/*
 * commands_info.c — INFO, HELLO, COMMAND and CONFIG GET: what redis-cli, redis-benchmark and
 * client libraries ask a server about itself.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/commands.h"
#include "storage/wal.h"

enum { NODE_INFO_BYTES_MAX = 8192 };

static const char CHORUS_VERSION[] = "0.1.0";

static size_t info_server(const struct node *node, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap,
                            "# Server\r\nredis_version:7.0.0\r\nchorus_version:%s\r\n"
                            "redis_mode:standalone\r\nprocess_id:%d\r\ntcp_port:%s\r\n"
                            "uptime_in_seconds:%llu\r\n\r\n",
                            CHORUS_VERSION, (int)getpid(), node->config.listen_addr,
                            (unsigned long long)((node_now_ms(node) - node->start_ms) / 1000));
}

static size_t info_clients(const struct node *node, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "# Clients\r\nconnected_clients:%u\r\n\r\n",
                            node->client_count);
}

static size_t info_stats(const struct node *node, char *buf, size_t cap)
{
    const struct node_stats *s = &node->stats;
    return (size_t)snprintf(
        buf, cap,
        "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
        "proposals:%llu\r\nlinearizable_reads:%llu\r\nforwarded_writes:%llu\r\n"
        "applied_entries:%llu\r\nwal_syncs:%llu\r\nwal_sync_avg_us:%llu\r\n"
        "wal_sync_max_us:%llu\r\nwal_entries_per_sync:%.1f\r\nsnapshots_taken:%llu\r\n"
        "snapshots_installed:%llu\r\npending_requests:%u\r\nloop_busy_max_us:%llu\r\n"
        "loop_busy_over_50ms:%llu\r\n\r\n",
        (unsigned long long)s->clients_total, (unsigned long long)s->commands,
        (unsigned long long)s->proposals, (unsigned long long)s->reads,
        (unsigned long long)s->forwarded, (unsigned long long)s->applied_entries,
        (unsigned long long)s->syncs,
        (unsigned long long)(s->syncs ? s->sync_us_total / s->syncs : 0),
        (unsigned long long)s->sync_us_max,
        s->syncs ? (double)s->synced_entries / (double)s->syncs : 0.0,
        (unsigned long long)s->snapshots_taken,
        (unsigned long long)s->snapshots_installed, node->pending_requests,
        (unsigned long long)s->loop_busy_us_max, (unsigned long long)s->loop_busy_over_50ms);
}

/* The section chorus's own tools read: `chorus status` and the tests parse these lines. */
static size_t info_chorus(const struct node *node, char *buf, size_t cap)
{
    const struct cn_status *st = &node->status;
    char members[256];
    size_t m = 0;
    members[0] = '\0';
    for (uint32_t i = 0; i < node->config.member_count && m < sizeof(members) - 80; i++)
        m += (size_t)snprintf(members + m, sizeof(members) - m, "%s%u=%s", i ? "," : "",
                              node->config.members[i].id, node->config.members[i].peer_addr);
    return (size_t)snprintf(
        buf, cap,
        "# Chorus\r\nrole:%s\r\nnode_id:%u\r\nleader_id:%u\r\nterm:%llu\r\n"
        "commit_index:%llu\r\napplied_index:%llu\r\npersisted_index:%llu\r\n"
        "first_index:%llu\r\nlast_index:%llu\r\nsnapshot_index:%llu\r\nprotocol:%s\r\n"
        "members:%s\r\ncluster_id:%llu\r\n\r\n",
        st->role == CN_ROLE_PRE_CANDIDATE ? "candidate" : cn_role_name(st->role), node->config.id,
        st->leader, (unsigned long long)st->term, (unsigned long long)st->commit_index,
        (unsigned long long)node->applied_index, (unsigned long long)st->persisted_index,
        (unsigned long long)st->first_index, (unsigned long long)st->last_index,
        (unsigned long long)st->snapshot_index, node->ops->name, members,
        (unsigned long long)node->config.cluster_id);
}

void node_cmd_info(struct node_exec *e)
{
    char text[NODE_INFO_BYTES_MAX];
    size_t n = 0;
    bool all = e->argc == 1 || node_arg_is(&e->argv[1], "all") ||
               node_arg_is(&e->argv[1], "everything") || node_arg_is(&e->argv[1], "default");
    for (uint32_t i = all ? 0 : 1; i < (all ? 1 : e->argc); i++) {
        const struct resp_arg *s = all ? NULL : &e->argv[i];
        if (all || node_arg_is(s, "server"))
            n += info_server(e->node, text + n, sizeof(text) - n);
        if (all || node_arg_is(s, "clients"))
            n += info_clients(e->node, text + n, sizeof(text) - n);
        if (all || node_arg_is(s, "stats"))
            n += info_stats(e->node, text + n, sizeof(text) - n);
        if (all || node_arg_is(s, "chorus") || node_arg_is(s, "replication"))
            n += info_chorus(e->node, text + n, sizeof(text) - n);
    }
    assert(n < sizeof(text));
    struct resp_out *out = node_exec_out(e);
    resp_reply_bulk(out, text, n);
    node_exec_done(e, out);
}

static void reply_bulk_str(struct resp_out *out, const char *s)
{
    resp_reply_bulk(out, s, strlen(s));
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: switches RESP2/RESP3 (Redis 6+). */
void node_cmd_hello(struct node_exec *e)
{
    int64_t version = e->client->out.protocol;
    if (e->argc >= 2 && (!resp_string_to_int64(e->argv[1].data, e->argv[1].len, &version) ||
                         version < 2 || version > 3)) {
        node_exec_error(e, "-NOPROTO unsupported protocol version");
        return;
    }
    for (uint32_t i = 2; i < e->argc; i++) {
        if (node_arg_is(&e->argv[i], "AUTH")) {
            node_exec_error(e, "ERR AUTH is not supported by chorus");
            return;
        }
        if (!node_arg_is(&e->argv[i], "SETNAME") || i + 1 >= e->argc) {
            node_exec_error(e, "ERR syntax error");
            return;
        }
        i++;
    }
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
    reply_bulk_str(out, "standalone");
    reply_bulk_str(out, "role");
    reply_bulk_str(out, e->node->status.role == CN_ROLE_LEADER ? "master" : "replica");
    reply_bulk_str(out, "modules");
    resp_reply_array(out, 0);
    node_exec_done(e, out);
}

/* COMMAND, COMMAND COUNT, COMMAND DOCS: redis-cli asks for DOCS at start; an empty answer
 * only turns off its hints. */
void node_cmd_command(struct node_exec *e)
{
    struct resp_out *out = node_exec_out(e);
    if (e->argc >= 2 && node_arg_is(&e->argv[1], "COUNT"))
        resp_reply_integer(out, 30);
    else if (e->argc >= 2 && node_arg_is(&e->argv[1], "DOCS"))
        resp_reply_map(out, 0);
    else
        resp_reply_array(out, 0);
    node_exec_done(e, out);
}

/* CONFIG GET name: redis-benchmark reads "save" and "appendonly" before it starts. */
void node_cmd_config(struct node_exec *e)
{
    if (!node_arg_is(&e->argv[1], "GET") || e->argc != 3) {
        node_exec_error(e, "ERR chorus supports only CONFIG GET <name>");
        return;
    }
    const struct resp_arg *name = &e->argv[2];
    struct resp_out *out = node_exec_out(e);
    if (node_arg_is(name, "save") || node_arg_is(name, "appendonly")) {
        resp_reply_map(out, 1);
        resp_reply_bulk(out, name->data, name->len);
        reply_bulk_str(out, node_arg_is(name, "save") ? "" : "yes");
    } else {
        resp_reply_map(out, 0);
    }
    node_exec_done(e, out);
}
