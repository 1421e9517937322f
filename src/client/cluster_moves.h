/*
 * cluster_moves.h — the rebalancer's moves as `chorus cluster status` and `cluster add|remove
 * --wait` show them (docs/membership.md, "Progress").
 *
 * Every node knows the plan (the moves are a function of the topology), but only a moving
 * shard's leader knows how its move goes: the bytes of the snapshot it streamed to the new
 * replica, the rate, the time left (CLUSTER MEMBERS' move lines on that node carry
 * "leader=" and those fields). So the status asks the node it was given for the plan and the
 * address book, then every node of the book for its move lines, and shows each move as its
 * shard's leader reported it. Nothing is estimated on the client but the whole's time left in
 * --wait (from the share of the moves done).
 */
#ifndef CHORUS_CLIENT_CLUSTER_MOVES_H
#define CHORUS_CLIENT_CLUSTER_MOVES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/conn.h"

enum {
    CLUSTER_MOVES_MAX = 64,        /* CLUSTER MEMBERS lists at most this many moves */
    CLUSTER_MOVES_NODES_MAX = 64,  /* the address book's bound */
    CLUSTER_MOVES_STATE_BYTES = 32,
};

struct cluster_move_view {
    uint32_t shard, from, to;
    char state[CLUSTER_MOVES_STATE_BYTES]; /* the leader's stage, else runnable or waiting */
    uint32_t leader;               /* the node that reported the progress (0: none did) */
    uint64_t sent_bytes;           /* into the snapshot file being sent */
    uint64_t total_bytes;          /* its size (0: unknown, no chunk sent yet) */
    uint64_t streamed_bytes;       /* sent in all, restarts included */
    uint64_t rate_bytes_per_s;
    int64_t eta_ms;                /* -1: unknown */
};

struct cluster_moves_node {
    uint32_t id;
    char client[64];               /* "host:port", "" when unknown */
    char role[16];                 /* in the asked node's group: voter, learner, "-" */
    bool answered;                 /* cluster_moves_gather reached it */
    uint64_t snapshot_bytes_sent;  /* its rebalance_snapshot_bytes_sent, when it answered */
};

struct cluster_moves {
    bool sharded;                  /* the reply had the rebalancer's lines (S > 1) */
    bool removed;                  /* the asked node says it was removed */
    uint32_t myself;
    uint32_t planned;              /* rebalance_moves: the plan's length (may exceed count) */
    uint32_t joining, leaving;     /* topology_joining, topology_leaving */
    char change[64];               /* the asked node's membership step ("idle" when none) */
    uint32_t count;
    struct cluster_move_view moves[CLUSTER_MOVES_MAX];
    uint32_t node_count;
    struct cluster_moves_node nodes[CLUSTER_MOVES_NODES_MAX];
    uint32_t nodes_answered;       /* of the book's nodes asked for progress */
    uint64_t snapshot_bytes_sent;  /* rebalance_snapshot_bytes_sent summed over them */
};

/* Parses one node's CLUSTER MEMBERS text into out (cleared first). Lines it does not know are
 * skipped; a malformed move line is skipped. */
void cluster_moves_parse(const char *text, struct cluster_moves *out);

/* Takes, from one node's parsed reply, the moves it reports as its shards' leader (leader=
 * its own id) into the same moves of `into`; the others are left as they are. */
void cluster_moves_merge_leader_view(struct cluster_moves *into, const struct cluster_moves *from);

/* Asks endpoint for CLUSTER MEMBERS, then every node of its book for the progress of the
 * moves its shards' leaders run. Returns 0, or -1 when endpoint did not answer (a message on
 * err). Nodes of the book that do not answer are left out (nodes_answered says how many did). */
int cluster_moves_gather(const struct client_endpoint *endpoint, int timeout_ms,
                         struct cluster_moves *out, FILE *err);

/* The moves as a table, one line per move, with a heading line of counts. */
void cluster_moves_print_table(const struct cluster_moves *moves, FILE *out);

/* The moves as CLUSTER MEMBERS' move lines, merged ("move:shard=S,from=A,...,eta_ms=N"), for
 * scripts: `chorus cluster status --moves`. */
void cluster_moves_print_lines(const struct cluster_moves *moves, FILE *out);

/* What `--wait` waits for after a change. */
struct cluster_wait {
    bool removing;                 /* remove: the node must also leave the meta group */
    uint32_t target;               /* the node removed (0 for an add) */
    int64_t deadline_ns;           /* client_now_ns() clock */
    bool tty;                      /* a bar rewritten in place, else a line per update */
};

/* Polls until the cluster is balanced: no move left, no node joining or leaving, no change
 * in progress (and a removed node out of the meta group). Shows the progress on out. Returns
 * 0 balanced, 2 no node answered for long, 3 the deadline passed. */
int cluster_moves_wait(const struct client_endpoint *endpoint, int timeout_ms,
                       const struct cluster_wait *wait, FILE *out, FILE *err);

#endif
