/*
 * status.c — `chorus status` (see status.h).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/status.h"

static bool field_is(const char *line, size_t line_len, const char *name, const char **value,
                     size_t *value_len)
{
    size_t n = strlen(name);
    if (line_len <= n || memcmp(line, name, n) != 0 || line[n] != ':')
        return false;
    *value = line + n + 1;
    *value_len = line_len - n - 1;
    return true;
}

static uint64_t to_u64(const char *text, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && i < 20 && text[i] >= '0' && text[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(text[i] - '0');
    return v;
}

/* "1=127.0.0.1:8001,2=..." */
static void parse_members(const char *text, size_t len, struct status_node *node)
{
    node->member_count = 0;
    size_t at = 0;
    while (at < len && node->member_count < STATUS_MEMBERS_MAX) { /* bounded by len */
        size_t end = at;
        while (end < len && text[end] != ',')
            end++;
        const char *eq = memchr(text + at, '=', end - at);
        if (eq != NULL) {
            struct status_member *m = &node->members[node->member_count++];
            m->id = (uint32_t)to_u64(text + at, (size_t)(eq - (text + at)));
            size_t address_len = (size_t)(text + end - (eq + 1));
            if (address_len >= sizeof(m->peer_address))
                address_len = sizeof(m->peer_address) - 1;
            memcpy(m->peer_address, eq + 1, address_len);
            m->peer_address[address_len] = '\0';
        }
        at = end + 1;
    }
}

int status_parse_info(const char *text, size_t length, struct status_node *node)
{
    bool have_role = false, have_id = false;
    size_t at = 0;
    while (at < length) { /* one line per round */
        size_t end = at;
        while (end < length && text[end] != '\n')
            end++;
        size_t line_len = end - at;
        if (line_len > 0 && text[at + line_len - 1] == '\r')
            line_len--;
        const char *line = text + at, *v = NULL;
        size_t vl = 0;
        if (field_is(line, line_len, "role", &v, &vl)) {
            size_t n = vl < STATUS_ROLE_BYTES_MAX - 1 ? vl : STATUS_ROLE_BYTES_MAX - 1;
            memcpy(node->role, v, n);
            node->role[n] = '\0';
            have_role = true;
        } else if (field_is(line, line_len, "node_id", &v, &vl)) {
            node->node_id = (uint32_t)to_u64(v, vl);
            have_id = true;
        } else if (field_is(line, line_len, "leader_id", &v, &vl)) {
            node->leader_id = (uint32_t)to_u64(v, vl);
        } else if (field_is(line, line_len, "term", &v, &vl)) {
            node->term = to_u64(v, vl);
        } else if (field_is(line, line_len, "commit_index", &v, &vl)) {
            node->commit_index = to_u64(v, vl);
        } else if (field_is(line, line_len, "applied_index", &v, &vl)) {
            node->applied_index = to_u64(v, vl);
        } else if (field_is(line, line_len, "shards", &v, &vl)) {
            node->shards = (uint32_t)to_u64(v, vl);
        } else if (field_is(line, line_len, "members", &v, &vl)) {
            parse_members(v, vl, node);
        }
        at = end + 1;
    }
    return have_role && have_id ? 0 : -1;
}

static void query(const struct client_endpoint *endpoint, int timeout_ms, struct status_node *node)
{
    memset(node, 0, sizeof(*node));
    client_endpoint_format(endpoint, node->address);
    struct client_conn conn;
    client_conn_init(&conn);
    const char *argv[] = {"INFO", "chorus"};
    struct client_reply *reply = NULL;
    enum client_status status = client_conn_open(&conn, endpoint, timeout_ms);
    if (status == CLIENT_OK)
        status = client_conn_call(&conn, 2, argv, NULL, timeout_ms, &reply);
    if (status != CLIENT_OK) {
        snprintf(node->error, sizeof(node->error), "%s", client_status_name(status));
    } else if (reply->type != CLIENT_REPLY_BULK) {
        snprintf(node->error, sizeof(node->error), "INFO answered with %s%s%.200s",
                 client_reply_type_name(reply->type), reply->type == CLIENT_REPLY_ERROR ? ": " : "",
                 reply->type == CLIENT_REPLY_ERROR ? reply->string : "");
    } else if (status_parse_info(reply->string, reply->length, node) != 0) {
        snprintf(node->error, sizeof(node->error), "INFO chorus lacks role or node_id");
    } else {
        node->reached = true;
    }
    client_reply_free(reply);
    client_conn_destroy(&conn);
}

static void print_u64_or_unknown(FILE *out, bool known, uint64_t value, int width)
{
    if (known)
        fprintf(out, "%-*" PRIu64, width, value);
    else
        fprintf(out, "%-*s", width, "?");
}

static void print_row(FILE *out, const struct status_node *node, const char *peer_address,
                      const struct status_node *leader)
{
    bool lag_known = leader != NULL && leader->commit_index >= node->applied_index;
    fprintf(out, "%-4u %-22s %-22s %-10s ", node->node_id, node->address, peer_address,
            node->role);
    print_u64_or_unknown(out, true, node->term, 6);
    fputc(' ', out);
    print_u64_or_unknown(out, true, node->commit_index, 9);
    fputc(' ', out);
    print_u64_or_unknown(out, true, node->applied_index, 9);
    fputc(' ', out);
    print_u64_or_unknown(out, lag_known, lag_known ? leader->commit_index - node->applied_index : 0,
                         0);
    fputc('\n', out);
}

/* The leader as the reached nodes see it: the one that says "leader" with the highest term. */
static const struct status_node *find_leader(const struct status_node *nodes, uint32_t count,
                                             uint32_t *leaders)
{
    const struct status_node *leader = NULL;
    *leaders = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!nodes[i].reached || strcmp(nodes[i].role, "leader") != 0)
            continue;
        (*leaders)++;
        if (leader == NULL || nodes[i].term > leader->term)
            leader = &nodes[i];
    }
    return leader;
}

int status_run(const struct client_endpoint *endpoints, uint32_t count, bool explicit_nodes,
               int timeout_ms, FILE *out)
{
    assert(count >= 1 && count <= STATUS_NODES_MAX);
    struct status_node *nodes = calloc(count, sizeof(*nodes));
    if (nodes == NULL)
        return 2;
    uint32_t reached = 0;
    for (uint32_t i = 0; i < count; i++) {
        query(&endpoints[i], timeout_ms, &nodes[i]);
        reached += nodes[i].reached;
    }
    /* The members list of the first node reached (they agree in a static cluster). */
    const struct status_node *reference = NULL;
    for (uint32_t i = 0; i < count && reference == NULL; i++)
        if (nodes[i].reached)
            reference = &nodes[i];
    uint32_t leaders = 0;
    const struct status_node *leader = find_leader(nodes, count, &leaders);
    fprintf(out, "%-4s %-22s %-22s %-10s %-6s %-9s %-9s %s\n", "ID", "ADDRESS", "PEER ADDRESS",
            "ROLE", "TERM", "COMMIT", "APPLIED", "LAG");
    /* One row per member, in the members list order; then reached nodes not in that list. */
    uint32_t member_count = reference != NULL ? reference->member_count : 0;
    bool shown[STATUS_NODES_MAX] = {false};
    for (uint32_t m = 0; m < member_count; m++) {
        const struct status_member *member = &reference->members[m];
        const struct status_node *node = NULL;
        for (uint32_t i = 0; i < count && node == NULL; i++)
            if (nodes[i].reached && nodes[i].node_id == member->id) {
                node = &nodes[i];
                shown[i] = true;
            }
        if (node != NULL)
            print_row(out, node, member->peer_address, leader);
        else
            fprintf(out, "%-4u %-22s %-22s %-10s %-6s %-9s %-9s %s\n", member->id, "?",
                    member->peer_address, "?", "?", "?", "?", "?");
    }
    for (uint32_t i = 0; i < count; i++) {
        if (nodes[i].reached && !shown[i])
            print_row(out, &nodes[i], "?", leader);
        else if (!nodes[i].reached)
            fprintf(out, "%-4s %-22s %-22s DOWN (%s)\n", "-", nodes[i].address, "-",
                    nodes[i].error);
    }
    if (leader != NULL)
        fprintf(out, "leader: node %u (term %" PRIu64 ")\n", leader->node_id, leader->term);
    else if (reference != NULL && reference->leader_id != 0)
        fprintf(out, "leader: node %u according to node %u (not queried)\n",
                reference->leader_id, reference->node_id);
    else
        fprintf(out, "leader: none known\n");
    if (leaders > 1)
        fprintf(out, "note: %u nodes say they lead (an old leader not yet stepped down, in an "
                     "older term)\n", leaders);
    if (reference != NULL && reference->shards > 1)
        status_shards_print(endpoints, count, timeout_ms, out);
    if (!explicit_nodes && member_count > 1)
        fprintf(out, "(pass --nodes HOST:PORT,... with every node's client address to see all "
                     "members)\n");
    free(nodes);
    return reached == count ? 0 : reached == 0 ? 2 : 1;
}
