/*
 * status.h — `chorus status`: asks nodes for INFO chorus and prints one table of the members.
 *
 * chorusd knows its peers' peer addresses only, so the client addresses of the other members
 * come from the caller (--nodes). A member that no queried node is shows "?"; a queried address
 * that did not answer shows as DOWN with the reason.
 */
#ifndef CHORUS_CLIENT_STATUS_H
#define CHORUS_CLIENT_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/conn.h"

enum {
    STATUS_NODES_MAX = 16,
    STATUS_MEMBERS_MAX = 16,
    STATUS_ROLE_BYTES_MAX = 16,
    STATUS_MEMBERS_BYTES_MAX = 1024,
};

struct status_member {
    uint32_t id;
    char peer_address[CLIENT_ADDRESS_BYTES_MAX];
};

/* What one node said about itself in INFO chorus. */
struct status_node {
    char address[CLIENT_ADDRESS_BYTES_MAX]; /* the client address queried */
    bool reached;
    char error[CLIENT_CONN_ERROR_BYTES_MAX]; /* when !reached */
    uint32_t node_id;
    uint32_t leader_id;
    char role[STATUS_ROLE_BYTES_MAX];
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint32_t shards;           /* INFO chorus shards: 0 from a node before sharding */
    struct status_member members[STATUS_MEMBERS_MAX];
    uint32_t member_count;
};

/* Parses the text of INFO (any sections; "field:value" lines) into `node`. Returns 0, or -1
 * when role or node_id is missing. */
int status_parse_info(const char *text, size_t length, struct status_node *node);

/* Queries every endpoint and prints the table. `explicit_nodes`: the endpoints are the whole
 * cluster's client addresses (from --nodes). Returns the exit status: 0 every endpoint
 * answered, 1 some did not, 2 none did. */
int status_run(const struct client_endpoint *endpoints, uint32_t count, bool explicit_nodes,
               int timeout_ms, FILE *out);

/* status_shards.c: with S > 1, a row per shard (from INFO shards of every endpoint). */
void status_shards_print(const struct client_endpoint *endpoints, uint32_t count, int timeout_ms,
                         FILE *out);

#endif
