/*
 * node_internal.h — the node's state, shared by the files of src/node/ only.
 *
 * Files by concern: node.c (start, stop, timers, signals), groups.c (the topology and the
 * consensus groups this node hosts), drive.c (the update cycle of every group: send, persist
 * all groups in one WAL batch on the sync thread, apply, answer), server.c (client connections),
 * commands.c (the RESP command table), requests.c (requests waiting on consensus),
 * snapshots.c (taking, sending and receiving snapshots), peers.c (the peer transport glue),
 * log.c (log lines), http.c and metrics.c (GET /metrics on --http), http_events.c and view.c
 * (the live view's stream, GET /events).
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

#include "cluster/progress.h"
#include "cluster/shardmap.h"
#include "cluster/topology.h"
#include "consensus/consensus.h"
#include "metrics/metrics_text.h"
#include "net/resp.h"
#include "net/token_bucket.h"
#include "node/acl.h"
#include "node/auth.h"
#include "node/node.h"
#include "node/tls.h"
#include "storage/kv.h"
#include "storage/kv_logclock.h"
#include "storage/wal.h"

struct transport;
struct node;

enum {
    NODE_READ_BYTES = 64 * 1024,          /* one socket read */
    /* Snapshot chunks to learners waiting for --snapshot-bandwidth (snapshot_send.c): one per
     * group and learner at most, so a node leading many shards with moves in flight fits. */
    NODE_SNAPSHOT_WAITING_MAX = 64,
    /* Unparsed input held per client: at least one whole command of the largest size the log
     * takes (an entry, plus the RESP framing of its arguments). A command larger than this
     * gets an error reply, then the connection closes (the stream cannot be resynchronized). */
    NODE_CLIENT_IN_BYTES_MAX = (1u << 22),
    NODE_CLIENT_PIPELINE_MAX = 1024,      /* commands parsed per client per loop iteration */
    NODE_CLIENT_WAITING_MAX = 4096,       /* commands of one client waiting on consensus */
    /* Back-pressure on replies: while more than this is waiting to be sent to a client, its
     * further commands are not parsed and its reads are not served (they wait, in order), and
     * its socket is not read. Redis instead buffers without limit for normal clients. */
    NODE_CLIENT_OUT_SOFT_BYTES = 1u << 20,
    /* One reply: above this it is replaced by an error (MGET of many 1 MiB values). */
    NODE_REPLY_BYTES_MAX = 512u << 20,
    /* A client's pending output: the soft bound above stops new work long before this; only
     * replies of requests already waiting can land beyond it. */
    NODE_CLIENT_OUT_BYTES_MAX = 1u << 30,
    /* Read replies built per loop iteration, across clients: work for one client must never
     * starve heartbeats and peer traffic (the election timeout is 150 ms by default). */
    NODE_SERVE_BYTES_PER_ITERATION = 4u << 20,
    NODE_GET_BUFFER_BYTES = (1u << 20) + 64,
    /* Writes forwarded to this node as leader that its core could not take yet, waiting in
     * order (forwards.c); beyond either bound one is refused, and the forwarding node retries. */
    NODE_FORWARD_MAX = 65536,
    NODE_FORWARD_BYTES_MAX = 256u << 20,
    /* A read whose read index did not come back within this is asked again (the answer or
     * the request was lost with a connection, or dropped by a full outbox). */
    NODE_READ_RESEND_MS = 1000,
    /* A group's in-memory log bound is the node's shared out, but at least this (a few of
     * the largest entries). */
    NODE_GROUP_LOG_BYTES_MIN = 8u << 20,
    /* How often (in ticks) a node hands shards it leads to their preferred leaders. */
    NODE_BALANCE_TICKS = 20,
    /* glibc's mmap threshold while the groups open (node.c says why). */
    NODE_OPEN_MMAP_THRESHOLD_BYTES = 128 << 10,
    /* The meta group's voters: the first this many nodes by id (meta.c). */
    NODE_META_VOTERS = 5,
    /* Committed entries one group applies in one kv_apply_batch (drive.c). */
    NODE_APPLY_BATCH_MAX = 4096,
    /* A leader's group idle for this many ticks goes quiet (quiesce.c). */
    NODE_QUIESCE_TICKS = 30,
    /* Every write's log entry starts with a tag naming the request that proposed it (node id,
     * boot nonce, request id), then the kv command. The node knows its own writes by the tag
     * when they apply: neither the index (the entry may be overwritten, Raft §5.3) nor the
     * term (Paxos re-proposes a value under a new ballot) says it alone. */
    NODE_WRITE_TAG_BYTES = 8,
    /* Then the log time stamp the leader fills in when it proposes the entry (expiry.c,
     * storage/kv.h), then the kv command or transaction. */
    NODE_ENTRY_HEADER_BYTES = NODE_WRITE_TAG_BYTES + KV_STAMP_BYTES,
    /* expiry.c: how often a leader looks for deadlines due (a clock entry then advances the
     * log time and deletes them). */
    NODE_EXPIRY_TICK_MS = 100,
    /* A leader whose store holds deadlines appends a clock entry at least this often, so
     * that TTL counts down on an idle cluster too. */
    NODE_CLOCK_IDLE_MS = 1000,
    /* A write a new leader overwrote is proposed again at most this many times (requests.c,
     * overwritten_may_retry) before the client gets -TRYAGAIN. */
    NODE_WRITE_RETRIES_MAX = 3,
    /* Error replies are counted by kind (metrics.c): this many kinds, of at most this many
     * bytes (with the NUL); Redis and chorus use about a dozen. */
    NODE_ERROR_KINDS_MAX = 24,
    NODE_ERROR_KIND_BYTES_MAX = 24,
    /* membership.c: a learner is promoted once it acknowledged an index this close to the
     * leader's last; a change (each of its steps retried while the core is busy) gives up
     * after this long. */
    NODE_MEMBERS_CATCHUP_ENTRIES = 256,
    NODE_MEMBERS_CHANGE_MS = 120000,
    /* The meta leader's own promotion of a learner (a removed voter's replacement): its
     * learner must have been heard from this recently, the change gets this long, and after
     * a failure the next try waits NODE_MEMBERS_PROMOTE_RETRY_MS, so that it never holds off
     * an operator's CLUSTER MEET or FORGET for long. */
    NODE_MEMBERS_PROMOTE_HEARD_MS = 2000,
    NODE_MEMBERS_PROMOTE_MS = 10000,
    NODE_MEMBERS_PROMOTE_RETRY_MS = 30000,
};

/* stages.c: where a sampled write's time goes. */
enum node_stage {
    NODE_STAGE_RECEIVED = 0,
    NODE_STAGE_PROPOSED,
    NODE_STAGE_APPENDED,
    NODE_STAGE_WAL_START,
    NODE_STAGE_WAL_DONE,
    NODE_STAGE_COMMITTED,
    NODE_STAGE_APPLIED,
    NODE_STAGE_REPLIED,
    NODE_STAGE_COUNT,
};
enum {
    NODE_STAGE_EVERY = 16,          /* one proposal in this many is followed */
    NODE_STAGE_SAMPLES_MAX = 8,     /* followed at once */
};
#define NODE_STAGE_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
struct node_stage_sample {
    uint64_t request_id; /* 0: free */
    uint32_t group;
    uint64_t index;
    uint64_t t[NODE_STAGE_COUNT]; /* uv_hrtime at each stage, 0 until reached */
};
struct node_stages {
    uint64_t proposals;
    uint32_t active;
    struct node_stage_sample samples[NODE_STAGE_SAMPLES_MAX];
    uint64_t completed;
    uint64_t stage_ns_total[NODE_STAGE_COUNT]; /* [k]: from stage k-1 to stage k */
    uint64_t total_ns;
};

/* What a client request waits for. */
enum node_wait {
    NODE_WAIT_NONE = 0,
    NODE_WAIT_LEADER,     /* no leader known: retried when one appears (never proposed) */
    NODE_WAIT_FORWARD,    /* forwarded to the leader: waiting for its index */
    NODE_WAIT_COMMIT,     /* proposed at (index, term): waiting for it to apply */
    NODE_WAIT_READ,       /* ReadIndex asked: waiting for the read index */
    NODE_WAIT_APPLY_READ, /* read index known: waiting for applied >= index */
    NODE_WAIT_PROXY,      /* relayed to a node holding its shard: waiting for the reply */
    NODE_WAIT_BLOCKED,    /* a blocking pop found its lists empty: waiting for a push */
};

struct node_client;

/*
 * A request waiting on consensus. Replies must leave in the order the client sent its
 * commands, so each client keeps its requests in a FIFO and a finished request only
 * releases its reply when it is at the head (see server.c).
 */
struct node_request {
    struct node_client *client;
    struct node_group *group;  /* the shard's group it goes through (routing: groups.c) */
    struct node_request *next_in_client;
    uint64_t id;
    enum node_wait wait;
    /* When node_requests_sweep fails it (UINT64_MAX: never). A local blocking pop's own
     * timeout is block_deadline_ms instead, since its attempts have request deadlines of
     * their own; a relayed one's is folded into this (blocking.c). */
    uint64_t deadline_ms;
    uint64_t read_asked_ms;   /* READ: when the read index was asked (resent if no answer) */
    uint64_t index;           /* COMMIT / APPLY_READ */
    uint64_t term;            /* COMMIT */
    bool proposed;            /* a proposal left this node: its fate may be unknown */
    uint8_t retries;          /* requests.c: proposed again after a new leader overwrote it */
    cn_node_id forwarded_to;  /* FORWARD: the leader the write was sent to */
    bool done;
    bool quit;                /* QUIT: the connection closes once this reply is sent */
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
    struct node_stream *stream; /* stream.c: a reply being streamed, or NULL */
    /* commands_tx.c: EXEC's queued commands, made into its payload when it starts (its
     * client's earlier WATCHes are done by then); the watch a WATCH or an EXEC holds. */
    struct node_tx *exec_tx;
    struct node_watch *watch;
    struct node_chain *chain;   /* commands_chain.c: a keyless read visiting every shard */
    /* metrics.c: the command it answers (its index in the command table, plus one; 0: not
     * timed) and when that command started, for chorus_command_duration_seconds. */
    uint32_t timed_command;
    uint64_t started_ns;
    bool chain_write;           /* S > 1: FLUSHALL, applied shard after shard */
    /* proxy.c: the command (RESP, in payload) goes to a node holding a replica of its shard,
     * since this node holds none. */
    bool proxied;
    bool proxy_read;            /* read-only: a lost reply means "not executed" */
    uint32_t proxy_shard;
    /* blocking.c: BLPOP and friends. Proposed as their attempt (the non-blocking form); an
     * attempt that popped nothing waits in its group's `blocked` list until a push. Its
     * connection runs nothing else until it is answered (relayed or not). */
    bool blocking;
    /* Only for a pop on a shard with a replica here: its own timeout (0: none), read while it
     * waits (NODE_WAIT_BLOCKED, when deadline_ms is never) and when an attempt finds nothing. */
    uint64_t block_deadline_ms;
    /* A pop relayed (proxied) to a stand-in, which blocks there; here only deadline_ms and
     * node_blocking_relay_lost end its wait. */
    bool block_relayed;
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

/*
 * A client connection. Its commands take effect in the order sent (Redis's contract for a
 * connection, pipelined or not), which requests.c keeps with three counters:
 *  - a write starts (is proposed or forwarded) only when no earlier command is unstarted and
 *    no earlier read is in progress: the log then holds the client's writes in order, and a
 *    write never applies before an earlier read was served;
 *  - a read starts (asks its read index) only when no earlier command is unstarted and no
 *    earlier write is in progress: its read index then covers every earlier write;
 *  - a read is served only at the head of the FIFO, when every earlier command is done.
 */
struct node_client {
    struct node *node;
    uv_tcp_t tcp;
    uint64_t id;
    char name[128];          /* CLIENT SETNAME, HELLO SETNAME (commands_client.c); no free */
    uint8_t name_len;        /* 0: no name */
    struct resp_parser parser;
    struct resp_out out;     /* replies not yet handed to the socket */
    uint8_t *send_data;      /* the bytes of the write in flight (swapped with out.data) */
    size_t send_len;
    size_t send_capacity;
    uint8_t *in;
    size_t in_len;
    size_t in_capacity;
    struct node_request *head; /* oldest request whose reply has not been released */
    struct node_request *tail;
    uint32_t waiting;
    uint32_t unstarted;      /* requests in NODE_WAIT_LEADER */
    uint32_t writes_started; /* writes proposed or forwarded, not done */
    uint32_t reads_started;  /* reads that asked their read index, not done */
    /* The group of the started requests (writes_started + reads_started > 0): a request of
     * another group waits until they are done, so that commands on different shards still
     * take effect in the order sent (each group's log orders only its own). */
    struct node_group *started_group;
    bool closing;
    bool close_after_write;
    bool quit_seen;          /* QUIT parsed: nothing after it is executed */
    bool writing;
    bool reading;            /* uv_read_start is in force */
    bool input_pending;      /* complete commands may wait in `in`: parse them next iteration */
    bool blocking;           /* blocking.c: a blocking pop runs; later commands wait (Redis) */
    uint64_t retry_blocked_pass; /* requests.c: the retry pass that met its first held request */
    /* proxy.c, on the client's node: its commands relayed to another node, in one session
     * (one stand-in client there) at a time, in order. */
    uint32_t proxies_started;      /* relayed, reply not complete */
    cn_node_id proxy_target;       /* the node of the current session */
    uint64_t proxy_session;        /* 0: none (or ended by a loss) */
    uint64_t proxy_seq;            /* commands sent in the session */
    uint64_t proxy_received;       /* bytes of the session's replies received */
    uint8_t *proxy_buf;            /* received bytes not yet a whole reply */
    size_t proxy_buf_len, proxy_buf_cap;
    /* proxy.c, on the node holding the shard: this client stands in for a client of
     * another node (no socket; its replies go back as messages). */
    bool stand_in;
    cn_node_id stand_in_from;
    uint64_t stand_in_client;      /* the client's id on its node */
    uint64_t stand_in_session;
    uint64_t stand_in_seq;         /* commands received */
    uint64_t stand_in_sent;        /* reply bytes sent back */
    uint64_t stand_in_request;     /* the latest relayed command's request id there */
    uint32_t stand_in_shard;       /* and its shard */
    uint32_t stand_in_scope;       /* shard + 1: keyless commands cover that shard only */
    uint64_t stand_in_last_ms;     /* for the idle sweep */
    struct node_tx *tx;      /* MULTI open: the queued commands (commands_tx.c), else NULL */
    struct node_watch *watch; /* WATCHed keys (commands_tx.c), else NULL */
    /* commands_auth.c: a connection starts unauthenticated when a password is set (stand-ins
     * are authenticated: their node checked the client); wrong passwords in a row hold its
     * input until auth_hold_until_ms (uv_now). */
    bool authenticated;
    /* Refused by protected mode: its -DENIED error is sent, its input read and dropped
     * (closing with unread input would reset the connection before the client read the
     * error) until it closes or auth_hold_until_ms passes (node_auth_sweep). */
    bool denied;
    struct node_tls_conn *tls; /* tls.c: a connection to the TLS listener, else NULL */
    uint32_t auth_failures;
    uint64_t auth_hold_until_ms;
    /* commands_acl.c: the ACL user the connection is authenticated as ("default" until AUTH
     * names another), looked up again when the node's ACL generation moved. */
    uint32_t user_len;
    char user[ACL_NAME_BYTES_MAX];
    uint32_t user_index;
    uint64_t user_generation;
    uv_write_t write_req;
    struct node_client *prev, *next;
};

/* A forwarded write waiting on the leader for room in its core (forwards.c). */
struct node_forward {
    struct node_forward *next;
    cn_node_id from;
    uint64_t context;
    uint64_t term;
    uint32_t data_len;
    uint8_t data[];
};

/* What starting a request came to. */
enum node_start {
    NODE_START_OK = 0,      /* proposed, forwarded, asked, or answered */
    NODE_START_ORDER,       /* an earlier command of its client must go first */
    NODE_START_REFUSED,     /* the core or the transport could not take it now */
};

/*
 * A consensus group hosted by this node: one shard's replica (docs/sharding.md). Everything
 * that belongs to one replicated log and its state machine is here; what is shared by all
 * groups (the WAL and its one fdatasync per loop iteration, the transport, the clients) is
 * in struct node.
 */
struct node_group {
    struct node *node;
    cn_group_id id;                 /* the shard's index */
    uint16_t first_slot, last_slot; /* the slots it holds */
    void *core;
    /* The update being carried out: taken, its persist part in a WAL batch (in_batch) or
     * needing none, not yet finished. A group has at most one. */
    bool update_outstanding;
    bool in_batch;
    struct cn_update update;
    struct node_group *batch_next;  /* drive.c: the groups of one WAL batch */
    bool ready;                     /* drive.c: in node->ready */
    /* drive.c: the hard state handed last, and the one last written to the WAL (a commit
     * change alone waits for the next write: hard_state_to_write). */
    struct cn_hard_state hs_latest, hs_written;
    bool hs_written_known;

    /* Consensus view, refreshed after each update. */
    struct cn_status status;
    /* rebalance.c: a replica created for a move (its core started with no configuration);
     * one being deleted (no longer in node->groups, waiting to be idle); the move's new node
     * and the highest index it reported holding (a leader's view of its catch-up); the
     * commit index when the leader first saw the move's configuration complete, which the
     * new node must reach before the move is recorded; when this node last proposed the
     * move's record. */
    bool start_empty;
    bool retiring;
    cn_node_id move_to;
    uint64_t move_match;
    uint64_t move_settle_index;
    uint64_t move_recorded_ms;
    uint64_t reset_syncs;           /* retiring: node->stats.syncs when the WAL forgot it */
    uint64_t handover_ms;           /* when the move last asked for a leadership transfer */
    /* move_progress.c: the snapshot this node, leading the shard, streams to the move's new
     * node, for CLUSTER MEMBERS' move lines (bytes, rate, time left). Reset with move_to. */
    struct node_move_progress {
        cn_node_id to;              /* the node the bytes below went to (0: none yet) */
        uint64_t streamed_bytes;    /* chunk bytes sent to it, restarts of the transfer included */
        uint64_t offset_bytes;      /* how far into the current snapshot file */
        uint64_t total_bytes;       /* that file's size (0: no chunk sent yet) */
        uint64_t last_chunk_ms;
        struct progress_window window; /* streamed_bytes over time: the rate */
    } move_progress;
    struct kv *kv;                  /* its state machine: a store in node->kv_env */
    size_t results_at;              /* drive.c: its results in node->apply_results */
    uint64_t applied_index;
    uint64_t applied_term;

    struct node_request_list commits;     /* WAIT_COMMIT, sorted by index */
    struct node_request_list apply_reads; /* WAIT_APPLY_READ, in arrival order */
    struct node_request_list blocked;     /* WAIT_BLOCKED, in arrival order (blocking.c) */
    uint64_t retry_blocked_pass;          /* requests.c: the retry pass its core refused */
    uint64_t balance_term;                /* groups.c: the term it last handed leadership in */
    /* quiesce.c: a quiet group is not ticked. */
    bool quiet;
    uint32_t idle_ticks;                  /* a leader's ticks with nothing going on */
    uint64_t idle_commit;
    uint32_t wake_in_ticks;               /* quiet, waking after this many ticks (0: not) */
    uint32_t awake_pos;                   /* index in node->awake while not quiet */
    cn_node_id quiet_leader;              /* quiet as a follower of this node's leader (or 0) */
    uint64_t beat_seen;                   /* the last beat of its leader's node that listed it */
    uint32_t active_requests;             /* requests.c: requests going through it */
    struct node_forward *forwards_head, *forwards_tail; /* forwards.c */
    uint32_t forward_count;
    size_t forward_bytes;

    /* Snapshots (snapshots.c). */
    char snapshot_dir[NODE_PATH_BYTES_MAX + 64];
    bool snapshot_running;
    uv_work_t snapshot_work;
    struct kv_snapshot_meta snapshot_latest; /* index 0: none */
    struct kv_snapshot_meta snapshot_taking;
    int snapshot_result;
    uint64_t snapshot_pending_marker; /* marker to append to the WAL, 0 when none */
    uint64_t snapshot_pending_term;
    /* The configuration at the latest snapshot's index (read from the snapshot file's
     * configuration blob; the voters in force when the file has none), which the snapshots
     * this node sends and the markers it writes carry (consensus.h, cn_snapshot_meta). */
    struct cn_members snapshot_members;
    uint64_t snapshot_compact_index;  /* WAL compaction allowed up to here after next sync */
    struct kv_snapshot_file *snapshot_file; /* the latest, open for sending, or NULL */

    /* expiry.c: the log time this node stamps on the entries it proposes as leader. */
    struct node_clock {
        struct kv_logclock leader;        /* storage/kv_logclock.h */
        struct kv_logclock_seen applied;  /* the store's log time as last seen, and when */
        uint64_t due_index;       /* the clock entry in flight (0: none) */
        uint64_t due_term;
        uint64_t checked_ms;      /* when deadlines were last looked at */
    } clock;

    /* Counters of /metrics (metrics.c), per group since the node started. */
    struct node_group_counters {
        uint64_t leader_changes;  /* a new leader became known (node_refresh_status) */
        uint64_t proposals;       /* entries proposed through this node's core */
        uint64_t reads_confirmed; /* linearizable reads the core confirmed (ReadIndex/lease) */
        uint64_t reads_failed;    /* ... that it refused because leadership was lost */
        uint64_t snapshot_bytes_sent;
        uint64_t snapshot_bytes_received;
    } counters;
};

struct node_stats {
    uint64_t commands;
    uint64_t proposals;
    uint64_t reads;
    uint64_t applied_entries;
    uint64_t syncs;
    uint64_t sync_us_total;     /* time in WAL write + fdatasync, on the sync thread */
    uint64_t sync_us_max;
    uint64_t syncs_overlapped;  /* batches whose write began while another was in flight */
    struct metrics_histogram sync_seconds; /* metrics.c; observed on the loop thread */
    /* metrics.c: each command's duration, from its parsing to its reply's completion, by
     * index in the command table (node_command_count entries). */
    struct metrics_histogram *command_seconds;
    /* metrics.c: error replies by kind, the reply's first word ("ERR", "WRONGTYPE", ...): the
     * first NODE_ERROR_KINDS_MAX kinds seen each have a counter, later ones count as other. */
    char error_kinds[NODE_ERROR_KINDS_MAX][NODE_ERROR_KIND_BYTES_MAX];
    uint64_t error_kind_counts[NODE_ERROR_KINDS_MAX];
    uint32_t error_kind_count;
    uint64_t errors_other;
    uint64_t errors;
    uint64_t synced_entries;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    uint64_t forwarded;
    uint64_t writes_retried;    /* requests.c: proposed again after being overwritten */
    uint64_t blocking_wakeups;  /* blocking.c: waiting pops proposed again after a push */
    uint64_t clients_total;
    uint64_t loop_busy_us_max;  /* longest loop iteration, not counting the wait in poll */
    uint64_t loop_busy_over_50ms; /* iterations that took longer than 50 ms */
    uint64_t heartbeats_coalesced; /* heartbeats and answers sent inside node messages */
    uint64_t heartbeat_messages;   /* CN_MSG_NODE_HEARTBEATS sent (heartbeats.c) */
    /* peers.c, for the live view (view.c): messages received by type (a heartbeat record
     * counts as the message it stands for) and by sender's node id (1..255). */
    uint64_t peer_received_by_type[CN_MSG_TYPE_MAX + 1];
    uint64_t peer_received_from[256];
    uint64_t auth_failures;        /* wrong passwords (AUTH, HELLO AUTH) */
    uint64_t acl_denied_cmd;       /* -NOPERM for a command (commands_acl.c) */
    uint64_t acl_denied_key;       /* -NOPERM for a key */
    uint64_t protected_refused;    /* connections refused by protected mode */
};

/* view.c: the groups' messages received, sampled for the live view: every message of an
 * election, of a leadership transfer or of a snapshot transfer, and every refusal; of the
 * others (appends, heartbeats, reads and their answers) one per NODE_VIEW_SAMPLE_ROUTINE_MS.
 * Newest last. */
enum {
    NODE_VIEW_SAMPLES = 32,
    NODE_VIEW_SAMPLE_ROUTINE_MS = 200,
    NODE_VIEW_MOVES_MAX = 64, /* rebalancer moves listed in one state event */
};
struct node_view_sample {
    uint64_t seq;              /* 1.. in the order taken */
    uint64_t at_ms;            /* node_now_ms */
    uint64_t term;
    uint64_t index;
    cn_node_id from;
    cn_group_id group;
    uint32_t entries;
    uint8_t type;
    bool reject;
};
struct node_view_samples {
    struct node_view_sample ring[NODE_VIEW_SAMPLES]; /* sample seq at ring[seq % N] */
    uint64_t taken;
    uint64_t routine_last_ms;
};

/* dev.c: the live view's development controls (--http-dev), as deadlines in node_now_ms. */
struct node_dev {
    uint64_t paused_until_ms;          /* no ticks, and every peer message dropped */
    uint64_t isolated_until_ms;        /* every peer message dropped */
    uint64_t drop_from_until_ms[256];  /* by sender's node id: its messages dropped */
};

/* One WAL batch in flight (drive.c): written and synced on the thread pool, finished on the
 * loop in seal order. The pool thread writes only result, error and us, which the loop reads
 * after the work's completion callback (uv_queue_work orders the two). */
struct node_flight {
    uv_work_t work;
    struct node *node;
    struct wal_batch *batch;
    struct node_group *groups; /* whose update is in the batch, linked by batch_next */
    bool written;              /* the work completed; finished once every older one is */
    int result;
    struct wal_error error;
    uint64_t us;
};

struct node {
    struct node_config config;
    uv_loop_t *loop;
    const struct cn_ops *ops;
    struct wal *wal;
    struct transport *transport;
    uv_tcp_t listener;
    struct node_http *http;     /* http.c: the --http listener, or NULL */
    uv_timer_t tick_timer;
    uint64_t ticks;
    /* quiesce.c */
    uint64_t quiesce_rng;
    uint64_t beat_seq;
    uint64_t peer_heard_ms[256];          /* by node id (1..255): the last message from it */
    struct node_group **awake;            /* the hosted groups not quiet (the tick's list) */
    uint32_t awake_count;
    uint32_t quiet_count;
    uint32_t waking_count;                /* quiet groups counting down to a spread wake-up */
    uint32_t quiet_followers[256];        /* by leader's node id: quiet followers of it here */
    uint64_t quiet_gen;                   /* grows when a beat's lists may have changed */
    uint64_t beat_gen_sent[256];          /* by peer: quiet_gen of the last full beat to it */
    uint64_t beat_count;
    uv_timer_t sweep_timer;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_prepare_t drive_prepare; /* runs the update cycle once per loop iteration */
    uv_idle_t drive_idle;       /* keeps the loop from blocking while work remains */
    bool drive_idle_active;
    uint64_t loop_last_prepare_ns;  /* drive.c: when the previous iteration ended */
    uint64_t loop_last_idle_ns;     /* uv_metrics_idle_time then */
    bool stopping;
    int exit_status;

    /* Sharding (groups.c): the topology built at start-up, the slot -> shard map, and the
     * groups this node hosts, by shard index (NULL where it holds no replica). */
    struct topology *topology;
    struct shardmap shardmap;
    struct node_group **groups;       /* topology->shard_count entries */
    struct node_group **hosted;       /* the non-NULL ones, ascending */
    uint32_t hosted_count;
    uint32_t group_slots;             /* hosted_count, plus one with the meta group */
    /* meta.c: the meta group (NULL when this node holds no replica of it, or S = 1), this
     * node's topology encoded and hashed, and whether it was found to be the cluster's. */
    struct node_group *meta;
    uint8_t *topology_encoded;
    size_t topology_encoded_len;
    uint64_t topology_hash;
    bool topology_verified;
    struct node_members *members;       /* membership.c */
    /* meta_topology.c: the rebalancer's plan for the topology (S > 1; NULL with one shard),
     * or the error of computing it (rebalance_error, a topology_error). */
    struct rebalance_plan *rebalance;
    int rebalance_error;
    uint64_t rebalance_created, rebalance_deleted, rebalance_recorded; /* rebalance.c */
    /* snapshot_send.c: --snapshot-bandwidth's bucket, the chunks to learners waiting for it
     * (at most one per group and learner: the cores send chunks stop-and-wait), and counts. */
    struct token_bucket snapshot_bucket;
    struct cn_message snapshot_waiting[NODE_SNAPSHOT_WAITING_MAX];
    uint32_t snapshot_waiting_count;
    uint64_t snapshot_chunks_delayed;     /* chunks that waited for the bucket */
    uint64_t snapshot_chunks_dropped;     /* ... that found the waiting list full */
    uint64_t rebalance_snapshot_bytes;    /* chunk bytes sent to moves' new replicas */
    /* A record that no group's update carries (a group's WAL reset, rebalance.c) waits in the
     * WAL's open batch: the drive seals it even with no group in the batch. */
    bool wal_records_pending;
    bool meta_key_found;
    uint64_t meta_checked_index;
    uint64_t meta_proposed_term;
    struct node_group **ready;        /* drive.c: groups stepped since the drive last looked */
    struct node_group **ready_work;
    uint32_t ready_count;
    bool cluster_mode;                /* S > 1: Redis Cluster semantics */

    /* The WAL batches being written (drive.c), oldest first, at most
     * WAL_BATCHES_IN_FLIGHT_MAX: one write and one fdatasync each for every group whose
     * update is in it; the next batch gathers meanwhile. They finish in this order. */
    struct node_flight flights[WAL_BATCHES_IN_FLIGHT_MAX];
    uint32_t flight_head, flight_count;
    struct node_group *batch_open;    /* groups appended to the open batch */
    uint32_t snapshots_running;       /* at most one at a time: the pool also runs the syncs */
    /* The WAL's spare segment being zero-filled on the pool (wal_spare.c, drive.c). */
    bool spare_running;
    uv_work_t spare_work;
    int spare_result;
    struct wal_error spare_error;

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
    uint32_t apply_reads_total;           /* WAIT_APPLY_READ over all groups */
    uint64_t proxy_session_next;          /* proxy.c */
    uint32_t stand_in_count;
    cn_node_id *shard_leader_hint;        /* per shard not hosted: its leader, as last heard */
    uint64_t *shard_leader_hint_term;     /* ... and the term it was heard for */
    struct node_request_map by_id;
    uint8_t *get_buffer;
    uint64_t retry_pass;                  /* numbers node_requests_retry's passes */
    size_t served_bytes_iteration;        /* replies built in this loop iteration */
    uint32_t applied_entries_iteration;   /* drive.c: entries applied in this iteration */
    /* drive.c: one LMDB environment for every group's store (kv.h). Groups whose committed
     * entries are applied in its open txn wait in `finishing` (at most one entry per group)
     * for the commit that makes them visible, with their results in apply_results. */
    struct kv_env *kv_env;
    struct node_group **finishing;
    uint32_t finishing_count;
    struct kv_result *apply_results;
    size_t apply_results_cap, apply_results_used;
    struct node_stages stages;            /* stages.c */

    struct node_stats stats;
    struct node_dev dev;        /* dev.c: all zero unless --http-dev's controls were used */
    struct node_view_samples view_samples; /* view.c */
    uint64_t start_ms;
    uint64_t boot_nonce;       /* distinguishes this run's write tags from an earlier run's */
    struct node_heartbeats *heartbeats; /* heartbeats.c: per peer, this iteration's records */
    struct auth_limiter auth_limiter;   /* commands_auth.c: the node's wrong passwords */
    /* commands_acl.c: the users as the ACL group (the meta group when S > 1, else group 0)
     * applied them here; the generation moves with every change (the clients' cache). */
    struct acl_table *acl;
    struct acl_table *acl_scratch;      /* ACL SETUSER's trial run */
    uint64_t acl_generation;
    uint64_t acl_swept_generation;      /* node_acl_sweep looked at this table */
    uint32_t denied_count;              /* clients with `denied` set, not yet freed */
    uv_tcp_t tls_listener;              /* --tls-port (server.c, tls.c) */
    uv_signal_t tls_sighup;             /* SIGHUP reloads the TLS files (server.c) */
    bool tls_sighup_started;            /* with --tls-port or --tls-replication */
    struct net_tls_context *tls_context; /* NULL when TLS is off */
    struct net_tls_context *peer_tls_context; /* --tls-replication (peers.c), else NULL */
};

/* membership.c: the address book, --join, CLUSTER MEET / FORGET / MEMBERS (S = 1). */
struct transport_probe;
struct node_exec;
struct node_members_counts {
    uint32_t voters, outgoing, learners, known;
    bool pending, unreachable, removed, in_progress;
    uint64_t changes_done, changes_failed;
};
int node_members_load(struct node *node, const char *join_addr);
int node_members_start(struct node *node);
void node_members_free(struct node *node);
bool node_members_joined(const struct node *node);
bool node_members_removed(const struct node *node);
size_t node_members_on_probe(struct node *node, const struct transport_probe *probe,
                             uint8_t *out, size_t cap);
/* A companion entry (the address book) applied on group 0: true when the entry was one. */
bool node_members_on_applied(struct node_group *group, const struct cn_entry *entry);
void node_members_on_message(struct node *node, const struct cn_message *message);
void node_members_tick(struct node *node);
void node_members_meet(struct node_exec *exec);
void node_members_forget(struct node_exec *exec);
void node_members_status(struct node_exec *exec);
void node_members_counts(const struct node *node, struct node_members_counts *counts);
void node_members_on_topology(struct node *node);

/* log.c */
void node_log(const struct node *node, int level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void node_fatal(struct node *node, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* commands_acl.c */
void node_acl_open(struct node *node);
void node_acl_close(struct node *node);
/* Reloads the users from the ACL group's store (start, a snapshot installed). */
void node_acl_reload(struct node *node);
struct node_group *node_acl_group(struct node *node);
/* Whether the default user lets a connection in without AUTH (on and nopass). */
bool node_acl_default_open(const struct node *node);
/* Closes, as QUIT would, the connections whose user was deleted since the last sweep. */
void node_acl_sweep(struct node *node);
/* Around kv_apply_batch (drive.c): ACL entries of the ACL group become KV_ITEM_ACL items
 * holding the table after them; then their results are set. */
void node_acl_items_prepare(struct node_group *g, const struct cn_entry *entries,
                            struct kv_apply_item *items, uint32_t count);
void node_acl_items_finish(struct node_group *g, struct kv_result *results, uint32_t count);

/* meta.c */
int node_meta_open(struct node *node);
void node_meta_close(struct node *node);
void node_meta_tick(struct node *node);
uint64_t node_meta_beat_hash(const struct node *node);
void node_meta_on_beat(struct node *node, cn_node_id from, uint64_t hash);
bool node_meta_propose(struct node *node, struct node_group *meta, const uint8_t *encoded,
                       size_t encoded_len, uint64_t *index);
void node_meta_check_now(struct node *node);

/* meta_topology.c: the topology recorded by the meta group, adopted and kept on disk. A beat's
 * topology hash: the epoch's low 16 bits, then 48 bits of the encoding's hash. */
#define NODE_TOPOLOGY_HASH_MASK 0x0000ffffffffffffull
int node_topology_file_write(const struct node *node, const uint8_t *bytes, size_t len);
/* 1 when there is no data-dir/topology, 0 when read, -1 when damaged. */
int node_topology_file_read(const struct node *node, struct topology *out);
void node_topology_members_sync(struct node *node);
void node_topology_encode_own(struct node *node);
void node_topology_adopt(struct node *node, const struct topology *next);
/* Recomputes node->rebalance from the topology (at start and on every adoption). */
void node_rebalance_refresh(struct node *node);
int node_topology_with_node(const struct topology *now, const struct topology_node *added,
                            struct topology *out);
int node_topology_without_node(const struct topology *now, uint32_t id, struct topology *out);
/* "host:port" (the host may be a bracketed IPv6 literal) into a topology address (groups.c). */
int node_topology_address_parse(const char *text, struct topology_address *out);
/* groups.c: opens one group (its store, snapshots and core) and puts it on the ready list;
 * with start_empty its core starts with an empty configuration (a new replica that learns its
 * configuration from the leader). node_group_close frees what it opened. */
struct node_group *node_group_open(struct node *node, uint32_t id,
                                   const struct topology_shard *shard, bool start_empty);
void node_group_close(struct node *node, struct node_group *g);

/* rebalance.c: the rebalancer's moves carried out (docs/membership.md, "The rebalancer"). */
void node_rebalance_tick(struct node *node);
void node_rebalance_on_message(struct node *node, const struct cn_message *message);
/* At start: whether the shard's replica, not in the topology, is a move's new replica to
 * open again (its directory is there); node_rebalance_sweep deletes an interrupted deletion's
 * leftovers of a shard not hosted. */
bool node_rebalance_open_at_start(const struct node *node, uint32_t shard);
void node_rebalance_sweep(struct node *node, uint32_t shard);
struct rebalance_move;
/* A planned move's stage for CLUSTER MEMBERS: runnable or waiting, or on the shard's leader
 * adding-learner, catching-up, moving-leadership, promoting, joint or recording. */
const char *node_rebalance_stage(const struct node *node, const struct rebalance_move *move);
/* Whether the shard has a planned move off `id` (leadership is not handed to it). */
bool node_rebalance_moving_off(const struct node *node, uint32_t shard, cn_node_id id);
/* quiesce.c: a group added while the node runs starts ticking; one being deleted stops. */
void node_quiesce_add(struct node_group *g);
void node_quiesce_forget(struct node_group *g);

/* quiesce.c */
void node_group_wake(struct node_group *group);
void node_quiesce_init(struct node *node);
void node_quiesce_tick(struct node *node);
void node_quiesce_beat(struct node *node);
void node_quiesce_on_beat(struct node *node, const struct cn_message *m);
uint32_t node_groups_quiet(const struct node *node);

/* drive.c */
void node_drive_init(struct node *node);
void node_drive_schedule(struct node *node);
void node_drive(struct node *node);
/* Steps an event into the group's core; anything but a tick wakes a quiet group. */
int node_step(struct node_group *group, const struct cn_event *event);
void node_step_tick(struct node_group *group);
void node_group_ready(struct node_group *group);
/* stages.c: a sampled write's stages (see there). */
const char *node_stage_name(enum node_stage stage);
void node_stages_proposed(struct node *node, const struct node_request *r);
void node_stages_mark(struct node *node, uint32_t group, uint64_t index, enum node_stage stage,
                      enum node_stage after);
void node_stages_mark_all(struct node *node, enum node_stage stage, enum node_stage after);
void node_stages_done(struct node *node, const struct node_request *r, bool ok);
/* drive.c: commits the applies of the groups finishing in this pass and sends their answers. */
void node_finish_flush(struct node *node);
void node_refresh_status(struct node_group *group);

/* groups.c: the topology, the hosted groups, and which group a command goes to */
int node_groups_open(struct node *node);
void node_groups_close(struct node *node);
struct node_group *node_group_of_slot(const struct node *node, uint32_t slot);
/* The group of a key (of its slot's shard), or NULL when this node holds no replica of it. */
struct node_group *node_group_of_key(const struct node *node, const void *key, size_t len);
/* The node that leads the shard now as far as this node knows (0 when unknown): its own
 * core's view for a hosted group, else the shard's preferred leader. */
cn_node_id node_shard_leader(const struct node *node, uint32_t shard);
/* A peer says `leader` leads `shard` (not hosted here) in `term`: the hint follows unless it
 * already names a leader of a newer term. */
void node_shard_leader_heard(struct node *node, uint32_t shard, cn_node_id leader, uint64_t term);
const struct node_member *node_member_find(const struct node *node, cn_node_id id);
uint64_t node_group_log_bytes_max(const struct node *node);
const struct node_group *node_group_first(const struct node *node);
uint32_t node_groups_leading(const struct node *node);
void node_groups_balance(struct node *node);

/* server.c */
int node_server_start(struct node *node, char *error, size_t error_len);
void node_server_stop(struct node *node);
void node_client_flush(struct node_client *client);
void node_clients_process_pending(struct node *node);

/* commands_auth.c: at accept, whether the connection is served (false: protected mode
 * refused it, with Redis's -DENIED, and it closes); and whether a client's input is held
 * after wrong passwords. */
bool node_auth_accept(struct node_client *client);
bool node_auth_holds(const struct node_client *client);
/* Closes the denied connections whose time is up (node.c's sweep timer). */
void node_auth_sweep(struct node *node, uint64_t now_ms);
void node_client_request_done(struct node_request *request);

/* http.c: GET /metrics on --http (nothing when the flag was not given) */
int node_http_start(struct node *node, char *error, size_t error_len);
void node_http_stop(struct node *node);

/* metrics.c: the histogram's buckets, and the Prometheus text (malloc'd; NULL if it would
 * exceed its bound). */
void node_metrics_init(struct node *node);
char *node_metrics_render(const struct node *node, size_t *len);
/* metrics.c: a command of the table (index `command`; -1: no command of the table ran) was
 * executed from started_ns: timed now if it was answered at once, else when the request it
 * left at its client's tail completes (node_metrics_request_done; tail_before is the
 * client's tail before it ran). Its reply, once complete, is counted if it is an error
 * (out_before: the client's output length before it ran, where a reply given at once
 * starts). */
void node_metrics_command_ran(struct node_client *client, int32_t command, uint64_t started_ns,
                              const struct node_request *tail_before, size_t out_before);
void node_metrics_request_done(struct node *node, const struct node_request *r);

/* view.c: the live view's JSON (GET /events): the node's state and the topology (malloc'd;
 * NULL if it would exceed the bound on one event). */
char *node_view_render_state(const struct node *node, size_t *len);
char *node_view_render_topology(const struct node *node, size_t *len);
/* view.c: a message received from a peer (peers.c), which the view may keep as a sample. */
void node_view_on_message(struct node *node, const struct cn_message *m);

/* dev.c: whether --http-dev's pause holds the node's ticks now, and whether a message from
 * a peer is to be dropped (pause, partition). */
bool node_dev_paused(const struct node *node);
bool node_dev_drops(const struct node *node, cn_node_id from);

/* commands.c */
void node_command_execute(struct node_client *client, const struct resp_command *command);
/* The command table: its size, and a command's name by index (metrics.c's histograms). */
uint32_t node_command_count(void);
const char *node_command_name(uint32_t index);
void node_request_finish_write(struct node *node, struct node_request *request,
                               const struct kv_result *result);
void node_request_finish_read(struct node *node, struct node_request *request);

/* expiry.c: fills in the log time stamp of an entry this node proposes as leader (false:
 * the entry has none, an entry of an older node); and, every tick, a leader's clock entry
 * when a deadline is due (docs/expiry.md). */
bool node_entry_stamp(struct node_group *group, uint8_t *data, size_t len);
void node_expiry_tick(struct node *node);

/* requests.c */
uint64_t node_write_tag(const struct node *node, uint64_t request_id);
uint64_t node_entry_tag(const struct cn_entry *entry);
struct node_request *node_request_new(struct node_client *client, struct node_group *group);
void node_request_fail(struct node *node, struct node_request *request, const char *error);
/* The request's reply_out holds its reply: it leaves the waiting sets, and its client sends
 * what is ready. */
void node_request_complete(struct node *node, struct node_request *request);
enum node_start node_request_propose(struct node *node, struct node_request *request);
enum node_start node_request_read(struct node *node, struct node_request *request);
/* A write applied on its group is proposed again on another (FLUSHALL with S > 1). */
void node_request_restart_write(struct node *node, struct node_request *request,
                                struct node_group *group);
struct node_request *node_request_find(struct node *node, uint64_t id);
/* The request waits to start (is retried, in order): NODE_WAIT_LEADER. */
void node_request_wait_leader(struct node *node, struct node_request *request);
/* The request was relayed (proxy.c): NODE_WAIT_PROXY. */
void node_request_set_proxy(struct node *node, struct node_request *request);
/* blocking.c's waits: a blocking pop that popped nothing waits (NODE_WAIT_BLOCKED) until
 * unblocked (proposed again by the retry pass) or unblocked quietly (to be answered now). */
void node_request_block(struct node *node, struct node_request *request);
void node_request_unblock(struct node *node, struct node_request *request);
void node_request_unblock_quietly(struct node *node, struct node_request *request);
/* A chained request goes on to a shard without a replica here (proxy.c). */
void node_request_restart_relay(struct node *node, struct node_request *request);
/* A read served on its group starts again on another (commands_chain.c). */
void node_request_restart_read(struct node *node, struct node_request *request,
                               struct node_group *group);
void node_requests_on_applied(struct node_group *group, const struct cn_entry *entry,
                              const struct kv_result *result);
/* A snapshot up to `index` was installed: writes waiting for an index it covers are answered
 * -UNKNOWN (they may be inside it; requests.c). */
void node_requests_on_snapshot(struct node_group *group, uint64_t index);
void node_requests_on_read(struct node_group *group, const struct cn_read *read);
void node_requests_after_apply(struct node_group *group);
void node_requests_serve_held(struct node *node);
void node_requests_on_leader(struct node_group *group);
void node_requests_retry(struct node *node);
void node_requests_sweep(struct node *node, uint64_t now_ms);
void node_requests_forget_client(struct node *node, struct node_client *client);
void node_requests_on_forward_response(struct node *node, const struct cn_message *m);

/* blocking.c: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH */
/* An applied entry may name keys that blocked pops wait for: the first waiter of each. */
void node_blocking_on_applied(struct node_group *group, const struct cn_entry *entry);
/* The group's state changed wholesale (a snapshot installed): every waiter tries again. */
void node_blocking_wake_all(struct node_group *group);
/* A blocking pop's attempt applied: true when it was handled here (it found nothing: waits
 * again, or answers its timeout), false when the caller answers its result. */
bool node_blocking_finish(struct node *node, struct node_request *request,
                          const struct kv_result *result);
/* A waiting pop at the sweep: answered when its timeout passed or its client is gone. */
void node_blocking_sweep(struct node *node, struct node_request *request, uint64_t now_ms);
/* A relayed blocking pop (block_relayed): whether the node it waits on (or, not sent yet,
 * the node it would be sent to: node_proxy_target_reachable) is out of reach, so that it
 * must fail rather than wait. */
bool node_blocking_relay_lost(struct node *node, const struct node_request *request);

/* server.c: a client whose blocking pop answered parses its next commands again. */
void node_client_resume(struct node_client *client);

/* proxy.c */
/* Relays the command to a node holding its shard (the shard has no replica here). Answers
 * an error itself when it cannot. */
struct node_exec;
void node_proxy_command(struct node_exec *exec, uint32_t shard, bool read_only);
enum node_start node_proxy_start(struct node *node, struct node_request *request);
void node_proxy_on_message(struct node *node, const struct cn_message *m);
void node_proxy_on_response(struct node *node, const struct cn_message *m);
/* The client's relayed requests are lost (a timeout, a gap): all of them fail. */
void node_proxy_session_end(struct node *node, struct node_client *client);
void node_proxy_client_gone(struct node *node, struct node_client *client);
void node_proxy_sweep(struct node *node, uint64_t now_ms);
void node_proxy_stand_in_flush(struct node_client *client);
/* Whether the shard's commands can be relayed now: the replica they would go to (proxy.c's
 * choice, the shard's leader first) is not known to be out of reach. */
bool node_proxy_target_reachable(struct node *node, uint32_t shard);

/* server.c, for proxy.c's stand-in clients */
struct node_client *node_client_new(struct node *node);
void node_client_input(struct node_client *client);
void node_client_close(struct node_client *client);
void node_client_free_closed(struct node_client *client);

/* forwards.c */
void node_forwards_on_propose(struct node_group *group, const struct cn_message *m);
void node_forwards_drain(struct node_group *group);
void node_forwards_reject_all(struct node_group *group);

/* commands_tx.c */
struct node_tx;
struct node_watch;
void node_tx_reply(struct resp_out *out, const struct node_tx *tx,
                   const struct kv_result *result);
/* Makes EXEC's payload. Returns false when a WATCH of it failed: EXEC then answered a null
 * array (the transaction did not run). */
bool node_tx_exec_build(struct node *node, struct node_request *request);
void node_tx_serve_watch(struct node *node, struct node_request *request);
/* A request holding EXEC's commands or a watch is done: they are released. */
void node_tx_request_done(struct node_request *request);
void node_tx_client_free(struct node_client *client);

/* commands_chain.c */
struct node_chain;
void node_chain_free(struct node_request *request);
void node_chain_on_relayed(struct node *node, struct node_request *request,
                           const uint8_t *reply, size_t len);
const uint8_t *node_chain_relay_command(const struct node_request *request, uint32_t *len);

/* stream.c */
struct node_stream;
bool node_stream_wanted(const struct node_request *request);
bool node_stream_step(struct node *node, struct node_request *request);
void node_stream_abandon(struct node_request *request);

/* snapshot_send.c: a snapshot chunk the core asked for (snapshot_chunk NULL), filled from
 * the group's latest snapshot and sent now, or, to a learner under --snapshot-bandwidth, once
 * the bucket allows. Returns the transport's answer (TRANSPORT_OK when it waits). */
int node_snapshot_send(struct node_group *group, const struct cn_message *m);
void node_snapshot_send_init(struct node *node);
void node_snapshot_send_tick(struct node *node);
/* The largest chunk the limit lets one transfer send at once (0: no limit). */
uint64_t node_snapshot_chunk_bytes_max(const struct node *node);

/* move_progress.c */
void node_move_progress_note(struct node_group *group, cn_node_id to, uint64_t offset,
                             uint64_t len, uint64_t total);
void node_move_progress_reset(struct node_group *group, cn_node_id to);
/* Whether the move's new replica is being sent a snapshot now (the leader's view). */
bool node_move_progress_sending(const struct node *node, const struct node_group *group,
                                cn_node_id to);
/* The move's fields after "state=" on the node that leads its shard: ",leader=..." and the
 * snapshot's bytes, rate and time left; "" elsewhere. Returns the bytes written. */
size_t node_move_progress_render(const struct node *node, const struct rebalance_move *move,
                                 char *text, size_t cap);
/* Moves this node carries out now: it leads the shard and the new node is in its group. */
uint32_t node_move_progress_in_flight(const struct node *node);

/* snapshots.c */
int node_snapshot_group_init(struct node_group *group);
void node_snapshot_group_free(struct node_group *group);
void node_snapshot_maybe_take(struct node_group *group);
void node_snapshot_fill_chunk(struct node_group *group, struct cn_message *m, uint8_t *buf,
                              size_t cap);
int node_snapshot_stage(struct node_group *group, const struct cn_update *u);
int node_snapshot_install(struct node_group *group, const struct cn_update *u);
int node_snapshot_load_latest(struct node_group *group);

/* peers.c */
int node_peers_start(struct node *node, char *error, size_t error_len);
void node_peers_stop(struct node *node);
/* SIGHUP with --tls-replication: new peer connections use the files read again. Returns 0,
 * or -1 with a message (the old certificates stay in use). */
int node_peers_tls_reload(struct node *node, char *error, size_t error_len);
/* The peers' TLS context from --tls-cert, --tls-key and --tls-ca: both roles, the other side's
 * certificate required. NULL with a message. */
struct net_tls_context *node_peers_tls_load(const struct node *node, char *error,
                                            size_t error_len);

/* probe_client.c: probes the peer port at addr (net/probe.h), blocking (every wait at most
 * 2 s), and hands back the answer: *answer_out (malloc'd, freed by the caller) holds its
 * 4-byte length and then its *answer_len bytes. With tls (a connecting-side engine, which this
 * frees) the probe travels inside TLS. Returns 0, or -1 with a message. Any thread. */
int node_probe_exchange(const char *addr, const struct transport_probe *probe,
                        struct net_tls_conn *tls, uint8_t **answer_out, size_t *answer_len,
                        char *error, size_t error_len);
void node_peers_send(struct node_group *group, const struct cn_message *messages,
                     uint32_t count);
/* A message from a peer, to its group's core (or the node-level handler of its type). */
void node_peers_deliver(struct node *node, const struct cn_message *m);

/* heartbeats.c: coalesced heartbeats (S > 1). take: whether the message was kept for this
 * iteration's CN_MSG_NODE_HEARTBEATS to its peer (else the caller sends it); flush: those
 * messages leave (once per loop iteration, before the transport's flush). */
bool node_heartbeats_take(struct node *node, const struct cn_message *m);
void node_heartbeats_flush(struct node *node);
void node_heartbeats_free(struct node *node);
void node_heartbeats_on_message(struct node *node, const struct cn_message *m);

uint64_t node_now_ms(const struct node *node);

#endif
