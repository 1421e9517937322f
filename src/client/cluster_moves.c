/*
 * cluster_moves.c — the rebalancer's moves gathered from the nodes, shown as a table, and
 * waited for with a progress bar (cluster_moves.h).
 */
#include "client/cluster_moves.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/fields.h"
#include "client/reply.h"
#include "cluster/progress.h"

enum {
    CLUSTER_MOVES_POLL_MS = 500,
    CLUSTER_MOVES_ASK_TIMEOUT_MS = 2000, /* per node of the book: a dead one costs this */
    CLUSTER_MOVES_MISSES_MAX = 60,       /* polls without any answer before giving up (30 s) */
    CLUSTER_MOVES_LINE_EVERY_MS = 2000,  /* not a tty: a line at least this often, if changed */
    CLUSTER_MOVES_BAR_CELLS = 24,
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void parse_move(const char *list, struct cluster_moves *out)
{
    if (out->count == CLUSTER_MOVES_MAX)
        return;
    struct cluster_move_view *m = &out->moves[out->count];
    memset(m, 0, sizeof(*m));
    m->eta_ms = -1;
    if (!client_fields_u32(list, "shard", &m->shard) ||
        !client_fields_u32(list, "from", &m->from) || !client_fields_u32(list, "to", &m->to))
        return;
    client_fields_get(list, "state", m->state, sizeof(m->state));
    if (client_fields_u32(list, "leader", &m->leader)) {
        client_fields_u64(list, "snapshot_sent", &m->sent_bytes);
        client_fields_u64(list, "snapshot_total", &m->total_bytes);
        client_fields_u64(list, "snapshot_streamed", &m->streamed_bytes);
        client_fields_u64(list, "rate", &m->rate_bytes_per_s);
        char eta[32];
        if (client_fields_get(list, "eta_ms", eta, sizeof(eta)))
            m->eta_ms = strtoll(eta, NULL, 10);
    }
    out->count++;
}

static void parse_node(const char *name, const char *list, struct cluster_moves *out)
{
    char *end;
    unsigned long id = strtoul(name, &end, 10);
    if (end == name || *end != ':' || id == 0 || id > UINT32_MAX ||
        out->node_count == CLUSTER_MOVES_NODES_MAX)
        return;
    struct cluster_moves_node *n = &out->nodes[out->node_count++];
    n->id = (uint32_t)id;
    client_fields_get(list, "client", n->client, sizeof(n->client));
    if (strcmp(n->client, "?") == 0)
        n->client[0] = '\0';
    client_fields_get(list, "role", n->role, sizeof(n->role));
}

/* "name:value" lines; the value of the named ones. */
static bool line_value(const char *line, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0 || line[n] != ':')
        return false;
    *value = line + n + 1;
    return true;
}

void cluster_moves_parse(const char *text, struct cluster_moves *out)
{
    char list[512]; /* a move or node line: ~220 bytes at most */
    memset(out, 0, sizeof(*out));
    snprintf(out->change, sizeof(out->change), "idle");
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *v;
        if (line_value(line, "move", &v)) {
            parse_move(client_fields_line(v, list, sizeof(list)), out);
        } else if (line_value(line, "rebalance_moves", &v)) {
            out->sharded = true;
            out->planned = (uint32_t)strtoul(v, NULL, 10);
        } else if (line_value(line, "topology_joining", &v)) {
            out->joining = (uint32_t)strtoul(v, NULL, 10);
        } else if (line_value(line, "topology_leaving", &v)) {
            out->leaving = (uint32_t)strtoul(v, NULL, 10);
        } else if (line_value(line, "removed", &v)) {
            out->removed = *v == '1';
        } else if (line_value(line, "myself", &v)) {
            out->myself = (uint32_t)strtoul(v, NULL, 10);
        } else if (line_value(line, "rebalance_snapshot_bytes_sent", &v)) {
            out->snapshot_bytes_sent = strtoull(v, NULL, 10);
        } else if (line_value(line, "change", &v)) {
            size_t len = strcspn(v, "\r\n");
            if (len >= sizeof(out->change))
                len = sizeof(out->change) - 1;
            memcpy(out->change, v, len);
            out->change[len] = '\0';
        } else if (strncmp(line, "node", 4) == 0 && line[4] >= '1' && line[4] <= '9') {
            const char *colon = strchr(line, ':');
            const char *eol = strchr(line, '\n');
            if (colon != NULL && (eol == NULL || colon < eol))
                parse_node(line + 4, client_fields_line(colon + 1, list, sizeof(list)), out);
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
}

/* ---- gathering ----------------------------------------------------------------------------- */

static char *members_text(const struct client_endpoint *endpoint, int timeout_ms, FILE *err)
{
    static const char *const argv[] = {"CLUSTER", "MEMBERS"};
    struct client_conn conn;
    client_conn_init(&conn);
    struct client_reply *reply = NULL;
    enum client_status status = client_conn_open(&conn, endpoint, timeout_ms);
    if (status == CLIENT_OK)
        status = client_conn_call(&conn, 2, argv, NULL, timeout_ms, &reply);
    char *text = NULL;
    if (status != CLIENT_OK) {
        if (err != NULL) {
            char address[CLIENT_ADDRESS_BYTES_MAX];
            client_endpoint_format(endpoint, address);
            fprintf(err, "chorus: %s: %s (%s)\n", address, client_status_name(status), conn.error);
        }
    } else if (reply->type == CLIENT_REPLY_BULK) {
        text = malloc(reply->length + 1);
        if (text != NULL) {
            memcpy(text, reply->string, reply->length);
            text[reply->length] = '\0';
        }
    } else if (err != NULL) {
        fprintf(err, "chorus: (error) %s\n", reply->string);
    }
    client_reply_free(reply);
    client_conn_destroy(&conn);
    return text;
}

void cluster_moves_merge_leader_view(struct cluster_moves *into, const struct cluster_moves *from)
{
    for (uint32_t i = 0; i < from->count; i++) {
        const struct cluster_move_view *v = &from->moves[i];
        if (v->leader == 0 || v->leader != from->myself)
            continue;
        for (uint32_t k = 0; k < into->count; k++) {
            struct cluster_move_view *m = &into->moves[k];
            if (m->shard == v->shard && m->from == v->from && m->to == v->to) {
                *m = *v;
                break;
            }
        }
    }
}

int cluster_moves_gather(const struct client_endpoint *endpoint, int timeout_ms,
                         struct cluster_moves *out, FILE *err)
{
    char *text = members_text(endpoint, timeout_ms, err);
    if (text == NULL)
        return -1;
    cluster_moves_parse(text, out);
    free(text);
    /* Progress lines are reported as the reporter's own (leader=), so the asked node's own
     * view is merged like any other's; the counts are summed over every node that answered. */
    uint64_t bytes = 0;
    struct cluster_moves *node_view = malloc(sizeof(*node_view));
    if (node_view == NULL)
        return 0;
    int ask_ms = timeout_ms < CLUSTER_MOVES_ASK_TIMEOUT_MS ? timeout_ms : CLUSTER_MOVES_ASK_TIMEOUT_MS;
    for (uint32_t i = 0; i < out->node_count; i++) {
        struct client_endpoint e;
        if (out->nodes[i].client[0] == '\0' || client_endpoint_parse(out->nodes[i].client, &e) != 0)
            continue;
        char *t = members_text(&e, ask_ms, NULL);
        if (t == NULL)
            continue;
        cluster_moves_parse(t, node_view);
        free(t);
        if (node_view->removed)
            continue;
        out->nodes_answered++;
        out->nodes[i].answered = true;
        out->nodes[i].snapshot_bytes_sent = node_view->snapshot_bytes_sent;
        bytes += node_view->snapshot_bytes_sent;
        cluster_moves_merge_leader_view(out, node_view);
    }
    free(node_view);
    out->snapshot_bytes_sent = bytes;
    return 0;
}

/* ---- showing ------------------------------------------------------------------------------- */

void cluster_moves_print_table(const struct cluster_moves *moves, FILE *out)
{
    if (!moves->sharded)
        return;
    uint32_t in_flight = 0;
    for (uint32_t i = 0; i < moves->count; i++)
        in_flight += moves->moves[i].leader != 0 && strcmp(moves->moves[i].state, "waiting") != 0 &&
                     strcmp(moves->moves[i].state, "runnable") != 0;
    char sent[PROGRESS_BYTES_TEXT_MAX];
    progress_format_bytes(moves->snapshot_bytes_sent, sent);
    fprintf(out, "moves: %u planned, %u in flight; %s of snapshots sent for moves (%u of %u "
            "nodes answered)\n", moves->planned, in_flight, sent, moves->nodes_answered,
            moves->node_count);
    if (moves->count == 0)
        return;
    fprintf(out, "  %-5s %-4s %-4s %-18s %-28s %-13s %s\n", "shard", "from", "to", "phase",
            "snapshot sent", "rate", "eta");
    for (uint32_t i = 0; i < moves->count; i++) {
        const struct cluster_move_view *m = &moves->moves[i];
        char bytes[80] = "-", rate[32] = "-", eta[PROGRESS_DURATION_TEXT_MAX] = "-";
        if (m->leader != 0 && m->total_bytes > 0) {
            char a[PROGRESS_BYTES_TEXT_MAX], b[PROGRESS_BYTES_TEXT_MAX];
            progress_format_bytes(m->sent_bytes, a);
            progress_format_bytes(m->total_bytes, b);
            snprintf(bytes, sizeof(bytes), "%s / %s (%llu%%)", a, b,
                     (unsigned long long)(m->sent_bytes * 100 / m->total_bytes));
            progress_format_bytes(m->rate_bytes_per_s, a);
            snprintf(rate, sizeof(rate), "%s/s", a);
            progress_format_duration(m->eta_ms, eta);
        }
        fprintf(out, "  %-5u %-4u %-4u %-18s %-28s %-13s %s\n", m->shard, m->from, m->to,
                m->state, bytes, rate, eta);
    }
    if (moves->planned > moves->count)
        fprintf(out, "  (%u more moves not listed)\n", moves->planned - moves->count);
}

void cluster_moves_print_lines(const struct cluster_moves *moves, FILE *out)
{
    for (uint32_t i = 0; i < moves->count; i++) {
        const struct cluster_move_view *m = &moves->moves[i];
        fprintf(out, "move:shard=%u,from=%u,to=%u,state=%s,leader=%u,snapshot_sent=%llu,"
                "snapshot_total=%llu,snapshot_streamed=%llu,rate=%llu,eta_ms=%lld\n", m->shard,
                m->from, m->to, m->state, m->leader, (unsigned long long)m->sent_bytes,
                (unsigned long long)m->total_bytes, (unsigned long long)m->streamed_bytes,
                (unsigned long long)m->rate_bytes_per_s, (long long)m->eta_ms);
    }
}

/* ---- waiting ------------------------------------------------------------------------------- */

static bool balanced(const struct cluster_moves *m, const struct cluster_wait *wait)
{
    if (m->planned > 0 || m->joining > 0 || m->leaving > 0 || strcmp(m->change, "idle") != 0)
        return false;
    if (!wait->removing)
        return true;
    for (uint32_t i = 0; i < m->node_count; i++)
        if (m->nodes[i].id == wait->target &&
            (strcmp(m->nodes[i].role, "voter") == 0 || strcmp(m->nodes[i].role, "learner") == 0))
            return false; /* still in the meta group: its removal is the last step */
    return true;
}

/* Millionths of the whole done: the moves done, and of those in flight the share of their
 * snapshot sent. */
static uint64_t done_millionths(const struct cluster_moves *m, uint32_t total_moves)
{
    if (total_moves == 0)
        return 1000000;
    uint32_t done = total_moves > m->planned ? total_moves - m->planned : 0;
    uint64_t parts = (uint64_t)done * 1000000;
    for (uint32_t i = 0; i < m->count; i++)
        if (m->moves[i].leader != 0 && m->moves[i].total_bytes > 0)
            parts += (m->moves[i].sent_bytes >= m->moves[i].total_bytes ? 1000000
                      : m->moves[i].sent_bytes * 1000000 / m->moves[i].total_bytes);
    uint64_t f = parts / total_moves;
    return f > 1000000 ? 1000000 : f;
}

static void show(const struct cluster_moves *m, uint32_t total_moves, uint64_t bytes,
                 uint64_t elapsed_ms, const struct cluster_wait *wait, FILE *out)
{
    uint32_t done = total_moves > m->planned ? total_moves - m->planned : 0;
    uint64_t rate = 0;
    for (uint32_t i = 0; i < m->count; i++)
        rate += m->moves[i].leader != 0 ? m->moves[i].rate_bytes_per_s : 0;
    char bar[CLUSTER_MOVES_BAR_CELLS + 3], sent[PROGRESS_BYTES_TEXT_MAX],
        speed[PROGRESS_BYTES_TEXT_MAX], eta[PROGRESS_DURATION_TEXT_MAX];
    uint64_t f = done_millionths(m, total_moves);
    progress_format_bar(f, 1000000, CLUSTER_MOVES_BAR_CELLS, bar, sizeof(bar));
    progress_format_bytes(bytes, sent);
    progress_format_bytes(rate, speed);
    progress_format_duration(progress_eta_by_fraction_ms(elapsed_ms, f), eta);
    char line[200];
    snprintf(line, sizeof(line), "%s %u/%u moves  %s sent  %s/s  ETA %s", bar, done, total_moves,
             sent, speed, eta);
    if (wait->tty)
        fprintf(out, "\r%-79s", line);
    else
        fprintf(out, "%s\n", line);
    fflush(out);
}

int cluster_moves_wait(const struct client_endpoint *endpoint, int timeout_ms,
                       const struct cluster_wait *wait, FILE *out, FILE *err)
{
    struct cluster_moves *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return 2;
    /* The node asked, and the others of its book to fall back on (it may be the one removed,
     * or restart). */
    struct client_endpoint asked = *endpoint;
    struct client_endpoint others[CLUSTER_MOVES_NODES_MAX];
    uint32_t other_count = 0, next_other = 0;
    int64_t start_ns = client_now_ns();
    int64_t shown_ns = 0;
    uint32_t total_moves = 0, shown_done = UINT32_MAX;
    uint64_t shown_bytes = 0;
    bool shown = false;
    /* Each node's count when first seen and when last seen, by id: the bytes sent since the
     * command began are their differences, so that a node that leaves (a removal) or stops
     * answering keeps what it sent. */
    static uint64_t first_bytes[256], last_bytes[256];
    static bool seen[256];
    memset(seen, 0, sizeof(seen));
    int misses = 0, rv = 3;
    while (client_now_ns() < wait->deadline_ns) {
        if (cluster_moves_gather(&asked, timeout_ms, m, NULL) != 0 || m->removed) {
            if (++misses > CLUSTER_MOVES_MISSES_MAX) {
                rv = 2;
                break;
            }
            if (other_count > 0)
                asked = others[next_other++ % other_count];
            sleep_ms(CLUSTER_MOVES_POLL_MS);
            continue;
        }
        misses = 0;
        other_count = 0;
        for (uint32_t i = 0; i < m->node_count; i++)
            if (m->nodes[i].id != wait->target && m->nodes[i].client[0] != '\0' &&
                client_endpoint_parse(m->nodes[i].client, &others[other_count]) == 0)
                other_count++;
        for (uint32_t i = 0; i < m->node_count; i++) {
            uint32_t id = m->nodes[i].id;
            if (!m->nodes[i].answered || id >= 256)
                continue;
            if (!seen[id])
                first_bytes[id] = m->nodes[i].snapshot_bytes_sent;
            seen[id] = true;
            last_bytes[id] = m->nodes[i].snapshot_bytes_sent;
        }
        if (m->planned > total_moves)
            total_moves = m->planned;
        uint64_t bytes = 0;
        for (uint32_t id = 0; id < 256; id++)
            if (seen[id] && last_bytes[id] > first_bytes[id])
                bytes += last_bytes[id] - first_bytes[id];
        uint64_t elapsed_ms = (uint64_t)(client_now_ns() - start_ns) / 1000000;
        if (balanced(m, wait)) {
            if (shown || total_moves > 0)
                show(m, total_moves, bytes, elapsed_ms, wait, out);
            if (wait->tty)
                fputc('\n', out);
            char sent[PROGRESS_BYTES_TEXT_MAX], took[PROGRESS_DURATION_TEXT_MAX];
            progress_format_bytes(bytes, sent);
            progress_format_duration((int64_t)elapsed_ms, took);
            fprintf(out, "balanced: %u moves done in %s, %s of snapshots sent\n", total_moves,
                    took, sent);
            rv = 0;
            break;
        }
        uint32_t done = total_moves > m->planned ? total_moves - m->planned : 0;
        int64_t now = client_now_ns();
        bool changed = done != shown_done || bytes != shown_bytes;
        if (wait->tty || (changed && (done != shown_done ||
                                      now - shown_ns >= (int64_t)CLUSTER_MOVES_LINE_EVERY_MS * 1000000))) {
            show(m, total_moves, bytes, elapsed_ms, wait, out);
            shown = true;
            shown_done = done;
            shown_bytes = bytes;
            shown_ns = now;
        }
        sleep_ms(CLUSTER_MOVES_POLL_MS);
    }
    if (rv != 0) {
        if (wait->tty && shown)
            fputc('\n', out);
        if (rv == 3)
            fprintf(err, "chorus: not balanced before the deadline (--wait-timeout): %u moves "
                    "left, %u nodes joining, %u leaving, change %s\n", m->planned, m->joining,
                    m->leaving, m->change);
        else
            fprintf(err, "chorus: no node answered for %d s\n",
                    CLUSTER_MOVES_MISSES_MAX * CLUSTER_MOVES_POLL_MS / 1000);
    }
    free(m);
    return rv;
}
