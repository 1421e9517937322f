/*
 * node_internal.h — the node's state, shared by the files of src/node/ only.
 *
 * Files by concern: node.c (start, stop, timers, signals), drive.c (the consensus update
 * cycle: send, persist on the sync thread, apply, answer), server.c (client connections),
 * commands.c (the RESP command table), requests.c (requests waiting on consensus),
 * snapshots.c (taking, sending and receiving snapshots), peers.c (the peer transport glue),
 * log.c (log lines).
 *
 * Threads: everything runs on the loop thread, except the WAL's write+fdatasync and the
 * snapshot copy, which run on libuv's thread pool (uv_queue_work), one at a time each.
 */
#ifndef CHORUS_NODE_INTERNAL_H
#define CHORUS_NODE_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "net/resp.h"
#include "node/node.h"
#include "storage/kv.h"
#include "storage/wal.h"

struct transport;
struct node;

enum {
    NODE_GROUP = 0,                       /* the one consensus group until sharding */
    NODE_READ_BYTES = 64 * 1024,          /* one socket read */
    NODE_CLIENT_IN_BYTES_MAX = 4u << 20,  /* unparsed input held per client */
    NODE_CLIENT_PIPELINE_MAX = 1024,      /* commands parsed per read callback */
    NODE_CLIENT_WAITING_MAX = 4096,       /* commands of one client waiting on consensus */
    NODE_GET_BUFFER_BYTES = (1u << 20) + 64,
    NODE_FORWARD_MAX = 65536,             /* writes forwarded to the leader, waiting */
    /* Every write's log entry starts with a tag naming the request that proposed it (node id,
     * boot nonce, request id), then the kv command. The node knows its own writes by the tag
     * when they apply: neither the index (the entry may be overwritten, Raft §5.3) nor the
     * term (Paxos re-proposes a value under a new ballot) says it alone. */
    NODE_WRITE_TAG_BYTES = 8,
};

/* What a client request waits for. */
enum node_wait {
    NODE_WAIT_NONE = 0,
    NODE_WAIT_LEADER,     /* no leader known: retried when one appears (never proposed) */
    NODE_WAIT_FORWARD,    /* forwarded to the leader: waiting for its index */
    NODE_WAIT_COMMIT,     /* proposed at (index, term): waiting for it to apply */
    NODE_WAIT_READ,       /* ReadIndex asked: waiting for the read index */
    NODE_WAIT_APPLY_READ, /* read index known: waiting for applied >= index */
};

struct node_client;

/*
 * A request waiting on consensus. Replies must leave in the order the client sent its
 * commands, so each client keeps its requests in a FIFO and a finished request only
 * releases its reply when it is at the head (see server.c).
 */
struct node_request {
    struct node_client *client;
    struct node_request *next_in_client;
    uint64_t id;
    enum node_wait wait;
    uint64_t deadline_ms;
    uint64_t index;           /* COMMIT / APPLY_READ */
    uint64_t term;            /* COMMIT */
    bool proposed;            /* a proposal left this node: its fate may be unknown */
    cn_node_id forwarded_to;  /* FORWARD: the leader the write was sent to */
    bool done;
    /* The command, kept so that it can be (re)proposed: encoded entry for writes, or the
     * read's arguments (copied). */
    uint8_t *payload;
    uint32_t payload_len;
    uint8_t read_kind;        /* enum node_read_kind for reads */
    /* The reply, encoded, once done, while requests before it still wait. */
    struct resp_out reply_out;
    bool has_reply_out;
    /* Links: every waiting request (for timeouts), and the request's place in the list of
     * its wait (commits by index, reads waiting for apply). */
    struct node_request *all_prev, *all_next;
    struct node_request *wait_prev, *wait_next;
    bool in_wait_list;
};

/* A doubly linked list of requests through their wait links. */
struct node_request_list {
    struct node_request *head, *tail;
    uint32_t count;
};

/* Requests by id (reads and forwarded writes are answered by id): open addressing with
 * linear probing and backward-shift deletion; capacity a power of two, > 2 x requests. */
struct node_request_map {
    struct node_request **slots;
    uint32_t capacity;
    uint32_t count;
};

struct node_client {
    struct node *node;
    uv_tcp_t tcp;
    uint64_t id;
    char name[128];          /* CLIENT SETNAME, HELLO SETNAME (commands_client.c); no free */
    uint8_t name_len;        /* 0: no name */
    struct resp_parser parser;
    struct resp_out out;
    uint8_t *in;
    size_t in_len;
    size_t in_capacity;
    struct node_request *head; /* oldest waiting request */
    struct node_request *tail;
    uint32_t waiting;
    bool closing;
    bool close_after_write;
    bool writing;
    bool reading_paused;
    bool input_pending;      /* complete commands may wait in `in`: parse them next iteration */
    uv_write_t write_req;
    size_t write_len;
    struct node_client *prev, *next;
};

struct node_stats {
    uint64_t commands;
    uint64_t proposals;
    uint64_t reads;
    uint64_t applied_entries;
    uint64_t syncs;
    uint64_t sync_us_total;     /* time in WAL write + fdatasync, on the sync thread */
    uint64_t sync_us_max;
    uint64_t synced_entries;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    uint64_t forwarded;
    uint64_t clients_total;
};

struct node {
    struct node_config config;
    uv_loop_t *loop;
    const struct cn_ops *ops;
    void *core;
    struct wal *wal;
    struct kv *kv;
    struct transport *transport;
    uv_tcp_t listener;
    uv_timer_t tick_timer;
    uv_timer_t sweep_timer;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_prepare_t drive_prepare; /* runs the update cycle once per loop iteration */
    uv_idle_t drive_idle;       /* keeps the loop from blocking while work remains */
    bool drive_idle_active;
    bool stopping;
    int exit_status;

    /* The update being carried out. */
    bool update_outstanding;
    struct cn_update update;
    uv_work_t sync_work;
    struct wal_batch *sync_batch;
    int sync_result;
    struct wal_error sync_error;

    /* Consensus view, refreshed after each update. */
    struct cn_status status;
    uint64_t applied_index;
    uint64_t applied_term;

    /* Clients and requests. */
    struct node_client *clients;
    uint32_t client_count;
    uint64_t next_client_id;
    uint64_t next_request_id;
    uint32_t pending_requests;
    /* Every request not yet done, oldest first (a list: a request is found by scanning, and
     * the scans are bounded by pending_requests_max). */
    struct node_request *all_head, *all_tail;
    uint32_t waiting_unproposed;          /* requests in NODE_WAIT_LEADER */
    struct node_request_list commits;     /* WAIT_COMMIT, sorted by index */
    struct node_request_list apply_reads; /* WAIT_APPLY_READ, in arrival order */
    struct node_request_map by_id;
    uint8_t *get_buffer;

    /* Snapshots. */
    char snapshot_dir[NODE_PATH_BYTES_MAX + 16];
    bool snapshot_running;
    uv_work_t snapshot_work;
    struct kv_snapshot_meta snapshot_latest; /* index 0: none */
    struct kv_snapshot_meta snapshot_taking;
    int snapshot_result;
    uint64_t snapshot_pending_marker; /* marker to append to the WAL, 0 when none */
    uint64_t snapshot_pending_term;
    uint64_t snapshot_compact_index;  /* WAL compaction allowed up to here after next sync */

    struct node_stats stats;
    uint64_t start_ms;
    uint64_t boot_nonce;       /* distinguishes this run's write tags from an earlier run's */
};

/* log.c */
void node_log(const struct node *node, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void node_fatal(struct node *node, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* drive.c */
void node_drive_init(struct node *node);
void node_drive_schedule(struct node *node);
void node_drive(struct node *node);
int node_step(struct node *node, const struct cn_event *event);
void node_refresh_status(struct node *node);

/* server.c */
int node_server_start(struct node *node, char *error, size_t error_len);
void node_server_stop(struct node *node);
void node_client_flush(struct node_client *client);
void node_clients_process_pending(struct node *node);
void node_client_request_done(struct node_request *request);

/* commands.c */
void node_command_execute(struct node_client *client, const struct resp_command *command);
void node_request_finish_write(struct node *node, struct node_request *request,
                               const struct kv_result *result);
void node_request_finish_read(struct node *node, struct node_request *request);

/* requests.c */
uint64_t node_write_tag(const struct node *node, uint64_t request_id);
uint64_t node_entry_tag(const struct cn_entry *entry);
struct node_request *node_request_new(struct node_client *client);
void node_request_fail(struct node *node, struct node_request *request, const char *error);
/* The request's reply_out holds its reply: it leaves the waiting sets, and its client sends
 * what is ready. */
void node_request_complete(struct node *node, struct node_request *request);
int node_request_propose(struct node *node, struct node_request *request);
int node_request_read(struct node *node, struct node_request *request);
void node_requests_on_applied(struct node *node, const struct cn_entry *entry,
                              const struct kv_result *result);
void node_requests_on_read(struct node *node, const struct cn_read *read);
void node_requests_after_apply(struct node *node);
void node_requests_on_leader(struct node *node);
void node_requests_retry(struct node *node);
void node_requests_sweep(struct node *node, uint64_t now_ms);
void node_requests_forget_client(struct node *node, struct node_client *client);
void node_requests_on_forward(struct node *node, const struct cn_message *m);
void node_requests_on_forward_response(struct node *node, const struct cn_message *m);

/* snapshots.c */
void node_snapshot_maybe_take(struct node *node);
void node_snapshot_fill_chunk(struct node *node, struct cn_message *m, uint8_t *buf,
                              size_t cap);
int node_snapshot_stage(struct node *node, const struct cn_update *u);
int node_snapshot_install(struct node *node, const struct cn_update *u);
int node_snapshot_load_latest(struct node *node);

/* peers.c */
int node_peers_start(struct node *node, char *error, size_t error_len);
void node_peers_stop(struct node *node);
void node_peers_send(struct node *node, const struct cn_message *messages, uint32_t count);

uint64_t node_now_ms(const struct node *node);

#endif
