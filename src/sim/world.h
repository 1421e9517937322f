/*
 * world.h — the simulator's internal state shared by its files (not a public interface).
 *
 * One struct sim holds a whole simulated cluster for one seed: the event queue, the network,
 * the nodes (core + disk + state machine), the clients, the invariant checker and the history.
 * It is created once and reset between seeds so that buffers are reused.
 */
#ifndef CHORUS_SIM_WORLD_H
#define CHORUS_SIM_WORLD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consensus/beats.h"
#include "consensus/consensus.h"
#include "lincheck/lincheck.h"
#include "sim/check.h"
#include "sim/disk.h"
#include "sim/kvsm.h"
#include "storage/kv_logclock.h"
#include "sim/net.h"
#include "sim/queue.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/simfs.h"
#include "sim/trace_html.h"
#include "storage/wal.h"

enum {
    SIM_CLIENTS_MAX = 8,
    SIM_READS_WAITING_MAX = 64,      /* reads per node waiting for their index to be applied */
    SIM_PUMP_ROUNDS_MAX = 1024,      /* updates handled back to back without a disk wait */
    SIM_SEND_BUFFER_US = 1500,       /* a crash loses what was sent this recently */
    SIM_PACKETS_LIVE_MAX = 1u << 16, /* messages in flight at once */
    SIM_PACKET_POOLED_BYTES = 8192,  /* packets up to this size are recycled */
    SIM_EVENTS_PER_SEED_MAX = 50u * 1000 * 1000,
    SIM_STRING_KEYS_MAX = 5,
    SIM_COUNTER_KEYS = 2,
    /* Keys written with a time to live (clock.c), outside the linearizability history. */
    SIM_TTL_KEYS = 2,
    SIM_TTL_KEY_FIRST = SIM_STRING_KEYS_MAX + SIM_COUNTER_KEYS,
    SIM_KEYS = SIM_STRING_KEYS_MAX + SIM_COUNTER_KEYS + SIM_TTL_KEYS,
    /* Multi-Paxos with --membership: a configuration chosen in slot s governs from s + 8 on
     * (small, so that changes take effect within a seed; src/paxos/membership.c). */
    SIM_MEMBERSHIP_ALPHA_SLOTS = 8,
};
_Static_assert((int)SIM_KEYS <= (int)SIM_KVSM_KEYS_MAX,
               "the workload's keys fit in the state machine");
_Static_assert(SIM_NODES_MAX <= 31, "partition masks are 32-bit");

enum sim_event_kind {
    SIM_EV_TICK = 1,       /* a = node, b = incarnation */
    SIM_EV_DELIVER,        /* a = destination node, ptr = packet */
    SIM_EV_DISK_DONE,      /* a = node, b = incarnation */
    SIM_EV_RESTART,        /* a = node */
    SIM_EV_FAULT,          /* the next fault action */
    SIM_EV_HEAL_LINKS,     /* a fault's links heal */
    SIM_EV_FAULTS_END,     /* heal everything, restart everyone, start the liveness check */
    SIM_EV_PROBE,          /* the liveness check's periodic look */
    SIM_EV_CLIENT_START,   /* a = client */
    SIM_EV_CLIENT_ARRIVE,  /* a = client, b = op seq: the request reaches its target node */
    SIM_EV_CLIENT_REPLY,   /* a = client, b = op seq */
    SIM_EV_CLIENT_TIMEOUT, /* a = client, b = op seq */
    SIM_EV_CRASH,          /* a = node, b = incarnation (| SIM_CRASH_* flags): a planned crash */
    SIM_EV_COMPARE_ISOLATE, /* --compare: isolate whoever leads (compare.c) */
    SIM_EV_MEMBERSHIP,     /* --membership: the next configuration change (membership.c) */
};

/* Flags in a planned crash's incarnation (SIM_EV_CRASH.b). */
#define SIM_CRASH_LONG (1ull << 63)     /* stay down long */
#define SIM_CRASH_IN_WRITE (1ull << 62) /* a crash fault that waited for a disk write */

/* An encoded message in flight; owned by the events that will deliver it (refs). */
struct sim_packet {
    struct sim_packet *next_free;
    uint32_t refs;
    uint32_t len;
    uint32_t capacity;
    uint32_t from;           /* sending node */
    uint64_t from_incarnation;
    int64_t sent_us;
    uint32_t html_id;        /* --trace-html: the send's message id (0: not recorded) */
    uint8_t bytes[];
};

struct sim_pool {
    struct sim_packet *free_list;
    uint32_t live;
};

/* Per-seed parameters, drawn from the seed. */
struct sim_params {
    int64_t tick_us;
    uint32_t election_ticks;
    uint32_t heartbeat_ticks;
    int64_t disk_us_min, disk_us_max;
    int64_t client_us_min, client_us_max; /* client <-> node one-way latency */
    int64_t client_timeout_us;
    uint32_t client_count;
    uint32_t string_keys;
    uint64_t snapshot_every; /* applied entries between snapshots */
    uint32_t message_entries_max; /* small, so that a lagging follower catches up in steps */
    uint32_t inflight_messages_max; /* small windows exercise flow control */
    uint32_t snapshot_chunk_bytes;  /* small, so that transfers take several chunks */
    uint32_t leader_crash_odds;     /* one new leader in this many crashes soon (fault.c) */
    bool pre_vote;                  /* on in 3 seeds of 4: the rest test the plain paths */
    bool check_quorum;
    int64_t fault_gap_us_min, fault_gap_us_max;
    int64_t faults_end_us;
    int64_t faults_start_us;      /* --compare: no random fault before (0 otherwise) */
    int64_t liveness_deadline_us; /* after faults_end */
};

struct sim_read_wait {
    uint64_t request_id;
    uint64_t index;
};

/* Storage mode "wal" (disk_wal.c): the node's one WAL over its simulated file system, shared
 * by every group the node hosts (records tagged by group). */
enum { SIM_WAL_FILLER_BYTES_MAX = 2048 };
struct sim_wal_group {
    uint64_t marker_index;           /* highest snapshot marker appended */
    bool marker_pending;             /* a local snapshot's marker waits for the next batch */
    struct cn_snapshot_meta marker;
    uint64_t compact_index;          /* compact up to here once the batch is durable; 0: none */
};
struct sim_wal {
    struct simfs fs;
    struct fileops fops;
    struct wal *wal;
    struct sim_wal_group groups[SIM_GROUPS_MAX];
    bool issued;                     /* the batch in flight is in the WAL */
    /* One more group, as a node hosting other shards has (its id is the group count): every
     * batch also carries one entry of filler_bytes for it (and a marker dropping the previous
     * one), so that segments fill, roll over and get deleted within a seed. 0: no filler. */
    uint32_t filler_bytes;
    uint64_t filler_last;            /* the filler group's last index */
    uint8_t filler[SIM_WAL_FILLER_BYTES_MAX];
};

/* One consensus group's replica on one node: its core and what the driver keeps for it. */
struct sim_replica {
    uint32_t group;
    void *core;
    struct sim_disk disk;
    struct sim_kvsm kvsm;
    uint64_t applied_index;
    uint64_t applied_term;
    uint64_t applied_rolling;
    uint64_t snapshot_taken_index; /* to step CN_EVENT_SNAPSHOT_TAKEN after the ack; 0: none */
    /* The update taken from the core and not yet acked. Its persistence, if any, is either in
     * the node's batch in flight (in_batch) or waits for the next batch (queued). */
    bool update_outstanding;
    bool in_batch;
    bool queued;
    struct cn_update update;
    enum cn_role role;
    uint64_t term;
    cn_node_id leader;
    uint64_t led_term; /* last term this replica was seen leading */
    /* The configuration as of applied_index, packed (consensus/membership.h): what a
     * snapshot taken here carries (consensus.h, update rule 2). */
    struct cn_members conf;
    /* Multi-Paxos (the alpha window, src/paxos/membership.c): the configuration before
     * `conf` and the slot of `conf`'s command; `conf` governs from conf_slot + alpha on. */
    struct cn_members conf_before;
    uint64_t conf_slot;
    struct sim_read_wait reads[SIM_READS_WAITING_MAX];
    uint32_t read_count;
    /* clock.c: the log time this replica stamps as leader, the state machine's log time as
     * it last saw it change, and the last stamp applied of the current term (checked). */
    struct kv_logclock clock;
    struct kv_logclock_seen clock_seen;
    uint64_t stamp_term;
    uint64_t stamp_last_ms;
    /* --kv-store (kvstore.c): the replica's real store, and a hash of every result its
     * commands gave since index 1. */
    struct kv *kv;
    uint64_t kv_results;
};

/* A simulated node: one process hosting a replica of every group (R = N), with one disk (one
 * WAL with storage "wal") that all of them share. The node persists in batches, as a node
 * with one WAL does (docs/sharding.md, "Many groups on one node"): the updates of every group
 * that has one go into one write that completes after one disk latency; at most one batch is
 * in flight, and updates taken meanwhile wait for the next one. */
struct sim_node {
    uint32_t index; /* 0-based; the core's id is index + 1 */
    struct sim_wal *wal; /* storage "wal" only, else NULL */
    bool alive;
    uint64_t incarnation;
    struct sim_replica *replicas; /* [group], sim->group_count of them */
    bool batch_outstanding;       /* a batch is in flight (its SIM_EV_DISK_DONE is pending) */
    int64_t crashed_us; /* when the last crash happened */
    uint64_t crashed_incarnation; /* the incarnation that crash ended */
    int64_t tick_phase_us;
    int64_t disk_slow_until_us; /* the disk fault: writes take up to disk_slow_us_max */
    int64_t disk_slow_us_max;
    /* Storage "wal": a crash fault waits for this node's next disk write and strikes while it
     * is in flight, so that unsynced writes are torn (else crashes seldom land there). */
    bool crash_in_write;
    /* clock.c: its wall clock, off the virtual time by an offset that jumps, and drifting. */
    int64_t wall_offset_ms;
    int32_t wall_drift_ppm;
    int64_t wall_next_jump_ms;
};

enum sim_client_state {
    SIM_CLIENT_IDLE = 0,
    SIM_CLIENT_SUBMITTING, /* on its way to a node, or being redirected */
    SIM_CLIENT_PROPOSED,   /* accepted as (node, index, term): waiting for it to apply */
    SIM_CLIENT_READING,    /* accepted as (node, request id) */
    SIM_CLIENT_REPLYING,   /* the outcome is known; the reply is on its way */
};

struct sim_client {
    uint32_t index;
    uint64_t seq; /* operation number; events carry it to spot stale ones */
    enum sim_client_state state;
    uint32_t targets[SIM_GROUPS_MAX]; /* per group, the node it believes leads */
    uint32_t group; /* the current operation's key's group */
    enum lincheck_kind kind;
    struct sim_kv_command command;
    uint8_t data[SIM_KV_COMMAND_BYTES_MAX];
    uint32_t data_len;
    int64_t call_us;
    int64_t proposed_us; /* when the accepting node took the proposal (--compare latency) */
    uint32_t node;
    uint64_t log_index, log_term;
    uint64_t request_id;
    /* An operation on a key with a time to live (clock.c): not in the history; a read's log
     * time floor when it began, and the log time and deadline of what it was served. */
    bool ttl;
    bool coll; /* --kv-store: a real store command (kvstore.c), not in the history */
    uint64_t ttl_floor_ms, ttl_served_ms, ttl_deadline_ms;
    bool ttl_held;             /* the state machine held the key, expired or not, */
    uint64_t ttl_held_deadline_ms; /* with this deadline (0: none) */
    /* The outcome, once known. */
    bool output_null;
    char output_value[SIM_KV_VALUE_BYTES_MAX + 1];
    bool output_ok;
    int64_t output_int;
};

/* The liveness check's probe proposal in one group. */
struct sim_probe {
    bool done;     /* applied on every node */
    bool proposed;
    uint32_t node;
    uint64_t index;
    uint64_t term;     /* the leader's term when it took the proposal */
    uint64_t attempt;
    uint8_t data[SIM_KV_COMMAND_BYTES_MAX];
    uint32_t data_len;
    uint64_t data_hash;
};

/* Coalesced heartbeats (beats.h), as the node sends them with more than one group: the
 * records one node gathered for one peer since the last event, leaving as one message when
 * the event's handling ends (sim_beats_flush), as the node's leave once per loop iteration. */
enum { SIM_BEATS_RECORDS_MAX = 4 * SIM_GROUPS_MAX };
struct sim_beats {
    uint32_t count;
    uint8_t records[SIM_BEATS_RECORDS_MAX * CN_BEAT_RECORD_BYTES];
};

struct sim {
    struct sim_options options;
    const struct cn_ops *ops;
    uint64_t seed;
    struct sim_params params;
    int64_t now_us;
    bool done;
    struct sim_queue queue;
    struct sim_net net;
    struct sim_rng rng_fault, rng_workload, rng_network, rng_disk, rng_core, rng_membership;
    struct sim_rng rng_clock; /* clock.c: its own stream, so the others are unchanged */
    uint32_t node_count;
    uint32_t group_count;           /* --groups: every node hosts every group */
    /* The protocol persists entries per slot (Multi-Paxos, cn_update.entries_per_slot): the
     * WAL is appended in per-slot mode and the sim disk follows its rules. */
    bool log_per_slot;
    struct shardmap *shardmap;      /* group_count shards: key -> slot -> shard = group */
    /* The workload's keys: string keys 0..SIM_STRING_KEYS_MAX-1, then the counters; each
     * key's group is the shard of its slot (keys.c). */
    char key_names[SIM_KEYS][SIM_KV_KEY_BYTES_MAX + 1];
    uint32_t key_groups[SIM_KEYS];
    uint32_t groups_with_ops;       /* bit g: a client operation on a key of group g returned */
    uint32_t groups_committed;      /* bit g: a client write of group g was applied */
    uint32_t fault_group;           /* whose leader the next leader-directed fault targets */
    struct sim_node nodes[SIM_NODES_MAX];
    bool coalesce_beats;            /* more than one group: heartbeats coalesced (beats.h) */
    struct sim_beats beats[SIM_NODES_MAX][SIM_NODES_MAX]; /* [from][to] */
    uint32_t beats_pending;         /* buffers with records */
    const struct sim_disk *disks[SIM_GROUPS_MAX][SIM_NODES_MAX]; /* [group][node] */
    uint32_t client_count;
    struct sim_client clients[SIM_CLIENTS_MAX];
    char last_value[SIM_STRING_KEYS_MAX][SIM_KV_VALUE_BYTES_MAX + 1]; /* for CAS expects */
    /* clock.c: per group, the largest log time a completed read of a key with a time to live
     * was served at: a later read must not return a key whose deadline it reached. */
    uint64_t ttl_read_floor_ms[SIM_GROUPS_MAX];
    uint64_t request_id_next;
    bool probing; /* the liveness check runs (faults ended) */
    struct sim_probe probes[SIM_GROUPS_MAX];
    struct sim_verdict verdict;               /* the first violation, of any group */
    struct sim_check checks[SIM_GROUPS_MAX];  /* one checker per group */
    struct lincheck_history *history;
    struct sim_pool pool;
    struct cn_entry *scratch_entries;    /* CN_MESSAGE_ENTRIES_MAX, for decoding */
    struct cn_entry *restore_entries;    /* for restores; grown to the longest disk */
    uint32_t restore_capacity;
    uint8_t *snapshot_scratch;           /* SIM_SNAPSHOT_BYTES_MAX */
    struct sim_seed_result *result;
    /* --compare (compare.c): this seed's leader-recovery and isolation bookkeeping. */
    bool recovery_open;             /* a leader crashed; no leader has committed anew since */
    int64_t recovery_start_us;
    uint64_t recovery_applied_floor; /* the highest index applied anywhere at that crash */
    bool compare_isolated;          /* the leader-isolation window is running */
    bool sim_failed;                     /* the simulator itself failed (not the core) */
    struct sim_html *html;               /* --trace-html: the event recorder, else NULL */
    char kv_dir[128];                    /* --kv-store: the stores' directory */
};

/* trace.c */
/* node -1: the cluster; group -1: the node (or, with one group, its only replica). With
 * --trace-html the line may also become a note on the timeline (sim_html_note). */
void sim_trace_line(struct sim *sim, int node, int group, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
void sim_trace_message(struct sim *sim, const char *what, const struct cn_message *message);
#define SIM_TRACE(sim, node, ...)                                                             \
    do {                                                                                      \
        if ((sim)->options.trace != NULL || (sim)->html != NULL)                              \
            sim_trace_line((sim), (node), -1, __VA_ARGS__);                                   \
    } while (0)
#define SIM_TRACE_GROUP(sim, node, group, ...)                                                \
    do {                                                                                      \
        if ((sim)->options.trace != NULL || (sim)->html != NULL)                              \
            sim_trace_line((sim), (node), (int)(group), __VA_ARGS__);                         \
    } while (0)

/* pool.c */
struct sim_packet *sim_pool_get(struct sim_pool *pool, uint32_t bytes);
void sim_pool_put(struct sim_pool *pool, struct sim_packet *packet);
void sim_pool_free(struct sim_pool *pool);

/* run.c */
void sim_schedule(struct sim *sim, int64_t delay_us, enum sim_event_kind kind, uint32_t a,
                  uint64_t b, void *ptr);

/* node.c */
void sim_node_start(struct sim *sim, uint32_t node);
void sim_node_crash(struct sim *sim, uint32_t node);
void sim_node_tick(struct sim *sim, uint32_t node);
void sim_node_disk_done(struct sim *sim, uint32_t node);
void sim_node_deliver(struct sim *sim, uint32_t node, struct sim_packet *packet);
/* Sends one of node's messages through the simulated network (wire.c). */
void sim_node_send(struct sim *sim, uint32_t node, const struct cn_message *message);
/* Sends every node's gathered heartbeat records, one message per node pair (wire.c). */
void sim_beats_flush(struct sim *sim);
/* Steps an event into the core of one group's replica on a live node, and handles the updates
 * that follow. */
int sim_node_step(struct sim *sim, uint32_t node, uint32_t group, const struct cn_event *event);
/* The replica of `group` on `node`. */
static inline struct sim_replica *sim_replica(struct sim *sim, uint32_t node, uint32_t group)
{
    return &sim->nodes[node].replicas[group];
}
/* Whether a violation was recorded (by a group's checks or the simulator itself). */
static inline bool sim_failed(const struct sim *sim) { return sim->verdict.failed; }

/* replica.c */
/* Steps (2) to (5) and the ack of a group's outstanding update, once its persistence is done
 * (or at once when it has nothing to persist). */
void sim_replica_complete(struct sim *sim, uint32_t node, uint32_t group);
/* Decodes snapshot bytes into the replica's state machine and applied position (0 or -1). */
int sim_snapshot_decode(struct sim_replica *r, const uint8_t *buf, uint32_t len);
/* Every node is a voter of every group (R = N). */
struct cn_members sim_members(const struct sim *sim);

/* client.c */
/* clock.c: the nodes' wall clocks, drawn at a seed's start; the stamped entry a node
 * proposes (0: cap too small); a replica restarted; an entry applied (the log time checks). */
void sim_clock_start(struct sim *sim);
size_t sim_clock_stamp(struct sim *sim, uint32_t node, uint32_t group, const uint8_t *data,
                       size_t len, uint8_t *entry, size_t cap);
void sim_clock_restarted(struct sim_replica *replica);
void sim_clock_applied(struct sim *sim, uint32_t node, struct sim_replica *replica,
                       const struct cn_entry *entry, uint64_t stamp_ms, uint64_t time_before_ms);
/* kvstore.c (--kv-store) */
int sim_kvstore_create(struct sim *sim);
void sim_kvstore_destroy(struct sim *sim);
/* A replica (re)starts: its store is emptied (opened anew). */
int sim_kvstore_reset(struct sim *sim, uint32_t node, struct sim_replica *r);
void sim_kvstore_close(struct sim_replica *r);
/* Applies an entry to the replica's store; *digest: its records and results so far. */
int sim_kvstore_apply(struct sim *sim, uint32_t node, struct sim_replica *r,
                      const struct cn_entry *e, uint64_t *digest);
/* Draws a real store command for a client into c->command (op COLL) and c->data. */
void sim_kvstore_draw(struct sim *sim, struct sim_client *c);
/* The seed's end: replicas of a group at one applied index have byte-identical stores. */
void sim_kvstore_seed_end(struct sim *sim);
void sim_client_start(struct sim *sim, uint32_t client);
void sim_client_arrive(struct sim *sim, uint32_t client, uint64_t seq);
void sim_client_reply(struct sim *sim, uint32_t client, uint64_t seq);
void sim_client_timeout(struct sim *sim, uint32_t client, uint64_t seq);
/* A node applied `entry` with `output`; clients waiting for that index learn their fate. */
void sim_client_applied(struct sim *sim, uint32_t node, uint32_t group,
                        const struct cn_entry *entry,
                        const struct sim_kv_output *output);
/* A node's read became safe (or failed). */
void sim_client_read_done(struct sim *sim, uint32_t node, uint32_t group, uint64_t request_id,
                          bool failed);
/* Names the workload's keys and finds their groups (at creation; keys.c). Returns 0, or -1
 * when no name for some key lands in the group meant for it (a bug). */
int sim_keys_init(struct sim *sim);
/* Whether some key this seed's clients use belongs to the group. */
bool sim_keys_in_group(const struct sim *sim, uint32_t group);
/* End of the run: record every operation still open as outcome unknown. */
void sim_client_finish(struct sim *sim);

/* fault.c */
void sim_fault_next(struct sim *sim);
/* A node just became leader: sometimes plan its crash soon after (Figure 8 needs it). */
void sim_fault_new_leader(struct sim *sim, uint32_t node, uint32_t group);
/* A leader applied an entry of an earlier term: sometimes crash it right there. */
void sim_fault_old_term_commit(struct sim *sim, uint32_t node, uint32_t group);
void sim_fault_crash_planned(struct sim *sim, uint32_t node, uint64_t incarnation);
void sim_fault_heal_links(struct sim *sim);
/* The live node whose replica of `group` leads with the highest term, or -1. */
int sim_fault_leader(const struct sim *sim, uint32_t group);
uint32_t sim_nodes_down(const struct sim *sim);

/* disk_wal.c (storage "wal") */
struct sim_wal *sim_wal_create(void);
void sim_wal_destroy(struct sim_wal *w);
/* An empty disk and a fresh WAL for a new seed. Returns 0, or -1 (a violation is recorded). */
int sim_wal_reset(struct sim *sim, uint32_t node);
/* The node's batch was issued: the updates of its replicas in_batch are appended and synced
 * (one sync), the disk completing it later. */
void sim_wal_issue(struct sim *sim, uint32_t node);
/* The batch's disk latency passed: it is durable (then compaction, if due). Call before the
 * replicas in_batch are completed. */
void sim_wal_complete(struct sim *sim, uint32_t node);
void sim_wal_snapshot_taken(struct sim *sim, uint32_t node, uint32_t group,
                            const struct cn_snapshot_meta *meta);
/* The node crashed (its cores still exist): unsynced state is torn, the WAL reopened and
 * every group checked against its acknowledged disk plus its update in the batch in flight. */
void sim_wal_crash(struct sim *sim, uint32_t node);
/* One group's restore for a restart, from the WAL; release with wal_restore_free.
 * Returns 0 or -1. */
int sim_wal_restore(struct sim *sim, uint32_t node, uint32_t group, struct wal_restore *restore,
                    struct cn_restore *out);
/* wal_compare.c: what the WAL recovered for a group (r) against its acknowledged disk plus a
 * prefix of its update in the batch in flight (u, or NULL), by Raft's run discipline or per
 * slot. Returns how many of u's entries survived, or -1 with the reason in `why`. */
int64_t sim_wal_compare(const struct sim_disk *disk, const struct cn_restore *r,
                        const struct cn_update *u, bool per_slot, char *why, size_t why_len);

/* compare.c: hooks that add to options.stats when it is set (each returns at once if not). */
void sim_compare_begin(struct sim *sim);
void sim_compare_isolate(struct sim *sim);
void sim_stats_sent(struct sim *sim, const struct cn_message *message);
void sim_stats_persist(struct sim *sim);
void sim_stats_client_commit(struct sim *sim, int64_t proposed_us);
/* Before a crash: a leader going down opens a recovery. */
void sim_stats_crash(struct sim *sim, uint32_t node);
/* A node applied `index`: a leader committing past the crash's floor closes the recovery. */
void sim_stats_applied(struct sim *sim, uint32_t node, uint32_t group, uint64_t index);
void sim_stats_seed_end(struct sim *sim);

/* membership.c (--membership) */
/* The configuration node's cores are created with when their disk has none. */
struct cn_members sim_membership_initial(const struct sim *sim, uint32_t node);
void sim_membership_begin(struct sim *sim);
void sim_membership_next(struct sim *sim);
/* A replica applied a configuration entry: its packed configuration follows. */
void sim_membership_applied(struct sim *sim, uint32_t node, struct sim_replica *r,
                            const struct cn_entry *entry);
/* A replica's configuration restored from a snapshot of `index` (or the initial one). */
void sim_membership_restored(struct sim *sim, struct sim_replica *r,
                             const struct cn_members *packed, uint64_t index);
/* Multi-Paxos: the packed configuration a snapshot at `index` carries (joint while a change
 * chosen at or below it governs only later slots). */
struct cn_members sim_membership_snapshot(const struct sim *sim, const struct sim_replica *r,
                                          uint64_t index);
/* Multi-Paxos: `node` applies `entry`: a majority of the voters of the configuration
 * governing its slot hold it on their disks. */
void sim_membership_check_chosen(struct sim *sim, uint32_t node, struct sim_replica *r,
                                 const struct cn_entry *entry);
/* A fresh update of a leader: its election and its commits against its configuration. */
void sim_membership_observe(struct sim *sim, uint32_t node, uint32_t group,
                            const struct cn_update *u, bool new_term);
/* Whether `node` must apply the liveness probe of `group`: with --membership, only the
 * members of the configuration its leader has. */
bool sim_membership_probe_needs(struct sim *sim, uint32_t group, uint32_t node);

/* liveness.c */
void sim_fault_end(struct sim *sim);
void sim_probe_step(struct sim *sim);

#endif
