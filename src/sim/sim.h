/*
 * sim.h — chorus-sim, the deterministic simulator: whole clusters of one consensus core in one
 * process, driven from one seed.
 *
 * A run (one seed) builds 3 or 5 nodes, each hosting one replica of each of S consensus
 * groups (--groups S, default 1; a key's group is the shard of its slot, docs/sharding.md);
 * each replica is a core reached only through struct cn_ops, with its own in-memory key-value
 * state machine; a node's groups share one disk that persists their updates in batches (one
 * write, one sync). Around them: a network with faults (loss, duplication, delay spikes,
 * partitions, asymmetric cuts, isolation); crashes and restarts; and clients whose operations
 * over keys of every group are recorded as one history. Invariants hold per group. Every event comes from one queue ordered by
 * virtual time, so a seed replays exactly. Invariants are checked as events happen (check.h);
 * at the end the network heals, crashed nodes restart, liveness is checked, and the history is
 * checked for linearizability (lincheck.h).
 *
 * Storage: "mem" (the default) keeps each node's durable state in the sim disk (disk.h), where a
 * write lands whole when its latency has passed and a crash loses it whole before. "wal" (Raft, and
 * Multi-Paxos in the WAL's per-slot mode) runs the real WAL over a simulated file system per node (simfs.h, disk_wal.c): unsynced
 * writes are lost, kept or torn at a crash, and a node restarts from what its WAL recovers. It
 * is slower, and draws from the disk stream, so "mem" stays the default.
 */
#ifndef CHORUS_SIM_H
#define CHORUS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sim_fault {
    SIM_FAULT_DROP = 1u << 0,
    SIM_FAULT_DUP = 1u << 1,
    SIM_FAULT_DELAY = 1u << 2,
    SIM_FAULT_REORDER = 1u << 3,
    SIM_FAULT_PARTITION = 1u << 4,
    SIM_FAULT_ASYM = 1u << 5,
    SIM_FAULT_ISOLATE = 1u << 6,
    SIM_FAULT_CRASH = 1u << 7,
    SIM_FAULT_TRANSFER = 1u << 8, /* leadership transfers and forced campaigns */
    SIM_FAULT_DISK = 1u << 9,     /* a node's disk turns slow for a while */
    SIM_FAULT_ALL = (1u << 10) - 1,
};

enum {
    SIM_GROUPS_MAX = 16,         /* consensus groups (shards) per simulated cluster */
    SIM_MESSAGE_BYTES_MAX = 512, /* violation details */
    SIM_DURATION_MS_MAX = 3600 * 1000,
};

enum sim_storage {
    SIM_STORAGE_MEM = 0, /* the sim disk only: a write is durable when its latency passed */
    SIM_STORAGE_WAL = 1, /* the real WAL over a simulated file system that tears */
};

/* A bug planted in the simulated node on purpose (--plant), to show that the checks catch
 * it; never on by default. Both need more than one group. */
enum sim_plant {
    SIM_PLANT_NONE = 0,
    /* Node 1 applies group 1's committed entries to group 0's state machine. */
    SIM_PLANT_CROSS_APPLY = 1,
    /* Storage "wal": in a batch of several groups, the highest group's update is acked (and
     * its after-persist messages sent, its entries applied) when the batch is issued, before
     * the shared sync completes. */
    SIM_PLANT_EARLY_ACK = 2,
    /* A leader stamps its entries with its wall clock as it reads, without the monotonic
     * clock, the slew or the floor of storage/kv_logclock.c (clock.c): its jumps then show
     * in the log. Needs no second group. */
    SIM_PLANT_WALL_STAMP = 3,
    /* Reads of keys with a time to live return what the state machine holds, expired or not
     * (client.c), as a follower serving its own expired keys until the leader deletes them
     * would. Needs no second group. */
    SIM_PLANT_IGNORE_DEADLINE = 4,
    /* --kv-store: node 2's replicas replace the seed a command with a random choice carries
     * (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) with one of their own, as a replica that
     * drew its own choice would (kvstore.c). Needs no second group. */
    SIM_PLANT_OWN_SEED = 5,
};

struct sim_options {
    const char *protocol;     /* "raft", ... */
    enum sim_storage storage;
    uint32_t node_count;      /* 3 or 5 */
    uint32_t group_count;     /* consensus groups, every node hosting all (1..SIM_GROUPS_MAX) */
    enum sim_plant plant;
    uint32_t faults;          /* enum sim_fault bits */
    int64_t duration_ms;      /* the fault phase of each seed (virtual time) */
    double lincheck_timeout_s;
    FILE *trace;              /* non-NULL: one line per event */
    /* Non-NULL: each seed's events are recorded and its HTML timeline written here when the
     * seed ends (trace_html.h); meant for one seed. */
    FILE *trace_html;
    FILE *report;             /* where lincheck details of a failing seed go (may be NULL) */
    /* Non-NULL: the run is a --compare run (compare.c). Costs and latencies are added to
     * *stats, and each seed begins with a fixed script (a quiet window, then the leader
     * isolated) before the random faults start; see SIM_COMPARE_* below. */
    struct sim_stats *stats;
    /* Raft: members are added (as learners), promoted, demoted, removed and replaced at
     * random while the faults run (membership.c); the group starts with the first 3 nodes
     * as voters, the others joining with an empty configuration. */
    bool membership;
    /* Every replica also applies a real store (src/storage, kvstore.c) that a third of the
     * client commands go to: hash, list, set and sorted set commands, random choices among
     * them with the proposer's seed. The state a replica reaches at each index is then the
     * string model's and the real store's records, byte for byte, and the results the real
     * commands gave: any two replicas at one index must agree. Snapshots are not taken (the
     * real store would have to travel in them); a restarted replica applies from index 1. */
    bool kv_store;
};

/* Defaults: raft, 3 nodes, 1 group, all faults, 5000 ms, lincheck 5 s, no trace, report to
 * stdout, nothing planted. */
void sim_options_defaults(struct sim_options *options);

/* Parses a fault list ("drop,dup,...", "all", "none"). Returns 0 or -1 (unknown name). */
int sim_faults_parse(const char *list, uint32_t *faults);
/* The fault names, comma separated, for help texts. */
const char *sim_fault_names(void);

struct sim_seed_result {
    uint64_t seed;
    bool violation;
    char message[SIM_MESSAGE_BYTES_MAX]; /* "<invariant>: <details>" when violation */
    bool lincheck_unknown;               /* the history check ran out of budget */
    uint64_t ticks;      /* virtual ticks the run lasted */
    uint64_t commits;    /* log indices committed (and applied somewhere), all groups */
    uint64_t elections;  /* terms that had a leader, all groups */
    uint64_t crashes;
    uint64_t events;
    uint64_t messages;   /* messages sent */
    uint64_t ops;        /* client operations recorded */
    uint64_t ops_unknown;/* of those, with unknown outcome */
    uint64_t snapshots_installed;
    uint64_t groups_committed; /* groups that committed a client write */
    uint64_t groups_with_ops;  /* groups whose keys saw a client operation return */
    uint64_t torn_writes;    /* storage "wal": unsynced writes torn to a prefix at crashes */
    uint64_t wal_torn_tails; /* storage "wal": opens that truncated a torn tail */
    uint64_t beat_records;   /* heartbeats and answers coalesced (more than one group) */
    uint64_t beat_messages;  /* messages that carried them */
    uint64_t membership_changes;   /* --membership: changes a leader accepted */
    uint64_t membership_completed; /* --membership: configuration entries committed */
    uint64_t kv_commands;    /* --kv-store: real store commands applied, all replicas */
    uint64_t kv_compared;    /* --kv-store: replica pairs whose stores matched at the end */
};

/* --compare: the fixed script at the start of every seed, identical for every protocol. */
enum {
    SIM_COMPARE_STEADY_US_BEGIN = 500 * 1000,   /* a quiet window: no faults, a leader */
    SIM_COMPARE_STEADY_US_END = 1500 * 1000,
    SIM_COMPARE_PARTITION_US_BEGIN = 1500 * 1000, /* whoever leads is isolated... */
    SIM_COMPARE_PARTITION_US_END = 3000 * 1000,   /* ...until here; random faults start after */
    SIM_STATS_LATENCY_BUCKETS = 4096,  /* commit latency, 100 us each; the last is overflow */
    SIM_STATS_LATENCY_BUCKET_US = 100,
    SIM_STATS_RECOVERY_BUCKETS = 2048, /* leader recovery, 10 ms each; the last is overflow */
    SIM_STATS_RECOVERY_BUCKET_US = 10000,
};

/* What --compare measures, summed over seeds (plain counters, so that jobs can add them). */
struct sim_stats {
    uint64_t runs;
    uint64_t violations;
    uint64_t client_commits;     /* client writes applied on the node that accepted them */
    uint64_t messages, bytes;    /* sent (encoded frame bytes), whole run */
    uint64_t persist_steps;      /* updates that persisted something, whole run */
    uint64_t steady_commits, steady_messages, steady_bytes, steady_persist_steps;
    uint64_t steady_us;          /* the quiet windows' total length */
    uint64_t partition_commits;  /* client writes committed while the leader was isolated */
    uint64_t partition_us;       /* the isolation windows' total length */
    uint64_t partition_skipped;  /* no leader at the start of the window */
    uint64_t recoveries;         /* leader crashes followed by a leader committing anew */
    uint64_t recoveries_open;    /* ... and those the seed ended before */
    uint64_t latency[SIM_STATS_LATENCY_BUCKETS];
    uint64_t recovery[SIM_STATS_RECOVERY_BUCKETS];
};

struct sim;

/* Creates a simulator for `options` (copied). Returns 0, or -1 with a reason in `error`. */
int sim_create(const struct sim_options *options, struct sim **sim, char *error,
               size_t error_len);
void sim_destroy(struct sim *sim);
/* Runs one seed from scratch. Returns 0 (see result->violation), or -1 when the simulator
 * itself failed (memory); result->message then says why. */
int sim_run_seed(struct sim *sim, uint64_t seed, struct sim_seed_result *result);

/* compare.c: adds `from` into `into` (every counter and histogram bucket). */
void sim_stats_add(struct sim_stats *into, const struct sim_stats *from);
/* Prints the --compare table (markdown) of `count` protocols named in `names`, side by side. */
void sim_stats_print_table(FILE *out, const char *const *names, const struct sim_stats *stats,
                           uint32_t count);

#endif
