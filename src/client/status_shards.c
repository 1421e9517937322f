/*
 * status_shards.c — `chorus status`'s table of shards (S > 1): for every shard its slots,
 * replicas, leader, term, commit and applied index, from INFO shards of the nodes queried.
 * A shard's row comes from the node that leads it; a shard no queried node leads is shown
 * from a replica's view, its leader marked "?".
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/fields.h"
#include "client/status.h"

enum { STATUS_SHARDS_MAX = 1024, STATUS_SHARD_LINE_BYTES = 256 };

struct shard_row {
    bool known;
    bool from_leader;
    char line[STATUS_SHARD_LINE_BYTES]; /* "slots=...,role=...,..." */
};

/* The value of `name=` in a "k=v,k=v" line, copied into buf; "?" when it has none. */
static const char *row_field(const char *line, const char *name, char *buf, size_t cap)
{
    if (!client_fields_get(line, name, buf, cap))
        snprintf(buf, cap, "?");
    return buf;
}

static void absorb(struct shard_row *rows, const char *text, size_t length)
{
    size_t at = 0;
    while (at < length) {
        size_t end = at;
        while (end < length && text[end] != '\n')
            end++;
        size_t len = end - at;
        if (len > 0 && text[at + len - 1] == '\r')
            len--;
        if (len > 6 && len < STATUS_SHARD_LINE_BYTES && memcmp(text + at, "shard_", 6) == 0) {
            char line[STATUS_SHARD_LINE_BYTES];
            memcpy(line, text + at, len);
            line[len] = '\0';
            char *colon = strchr(line, ':');
            unsigned long id = strtoul(line + 6, NULL, 10);
            if (colon != NULL && id < STATUS_SHARDS_MAX) {
                bool leads = strstr(colon, "role=leader") != NULL;
                struct shard_row *row = &rows[id];
                if (!row->known || (leads && !row->from_leader)) {
                    row->known = true;
                    row->from_leader = leads;
                    snprintf(row->line, sizeof(row->line), "%s", colon + 1);
                }
            }
        }
        at = end + 1;
    }
}

static void fetch(const struct client_endpoint *endpoint, int timeout_ms, struct shard_row *rows)
{
    struct client_conn conn;
    client_conn_init(&conn);
    const char *argv[] = {"INFO", "shards"};
    struct client_reply *reply = NULL;
    if (client_conn_open(&conn, endpoint, timeout_ms) == CLIENT_OK &&
        client_conn_call(&conn, 2, argv, NULL, timeout_ms, &reply) == CLIENT_OK &&
        reply->type == CLIENT_REPLY_BULK)
        absorb(rows, reply->string, reply->length);
    client_reply_free(reply);
    client_conn_destroy(&conn);
}

void status_shards_print(const struct client_endpoint *endpoints, uint32_t count, int timeout_ms,
                         FILE *out)
{
    struct shard_row *rows = calloc(STATUS_SHARDS_MAX, sizeof(*rows));
    if (rows == NULL)
        return;
    for (uint32_t i = 0; i < count; i++)
        fetch(&endpoints[i], timeout_ms, rows);
    fprintf(out, "\n%-6s %-12s %-14s %-7s %-6s %-9s %s\n", "SHARD", "SLOTS", "REPLICAS", "LEADER",
            "TERM", "COMMIT", "APPLIED");
    for (uint32_t s = 0; s < STATUS_SHARDS_MAX; s++) {
        const struct shard_row *row = &rows[s];
        if (!row->known)
            continue;
        char slots[32], replicas[64], leader[16], term[24], commit[24], applied[24];
        row_field(row->line, "slots", slots, sizeof(slots));
        row_field(row->line, "replicas", replicas, sizeof(replicas));
        row_field(row->line, "leader", leader, sizeof(leader));
        if (!row->from_leader)
            snprintf(leader, sizeof(leader), "?");
        fprintf(out, "%-6u %-12s %-14s %-7s %-6s %-9s %s\n", s, slots, replicas, leader,
                row_field(row->line, "term", term, sizeof(term)),
                row_field(row->line, "commit", commit, sizeof(commit)),
                row_field(row->line, "applied", applied, sizeof(applied)));
    }
    free(rows);
}
