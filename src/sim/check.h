/*
 * check.h — the simulator's invariant checks.
 *
 * The driver reports what happens (a leader in a term, a commit index, a persisted write, an
 * applied entry, an entry reported committed, a snapshot installed) and the checks compare it
 * with what the whole cluster has done so far. Every check is incremental and O(1) per reported
 * index (the maps are hash tables; prefixes are compared by rolling hash), so the checks can
 * run after every event. The first violation is kept with its invariant's name and details.
 *
 * Protocol-neutral checks live in check.c. Checks that only hold for one protocol (Raft's log
 * matching and leader completeness) live in their own file behind struct sim_check_protocol,
 * looked up by protocol name, so that Multi-Paxos can plug in its own.
 */
#ifndef CHORUS_SIM_CHECK_H
#define CHORUS_SIM_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "sim/disk.h"
#include "sim/map.h"
#include "sim/net.h"

enum {
    SIM_CHECK_MESSAGE_BYTES_MAX = 512,
    SIM_CHECK_INDEX_MAX = 1u << 22, /* highest log index a seed may apply */
};

/* What the cluster applied at one index: the first node to apply it sets it. */
struct sim_check_applied {
    uint64_t term;
    uint64_t data_hash;
    uint64_t rolling; /* rolling hash of the prefix up to this index */
    uint64_t digest;  /* state machine digest after applying it */
    /* The lowest term a node was in when it reported this index committed: an upper bound
     * of the term in which it was committed (every reporter is at or past that term). */
    uint64_t reported_term;
    uint8_t type;
    bool set;
    bool log_time_set;
    uint64_t log_time_ms; /* the state machine's log time after it (clock.c) */
};

struct sim_check;

/* The first violation of a run: its invariant's name and details. Several checkers (one per
 * consensus group) and the simulator itself report into one verdict, so that the run stops at
 * the first violation of any of them. */
struct sim_verdict {
    bool failed;
    char message[SIM_CHECK_MESSAGE_BYTES_MAX];
};

/* Records a violation ("invariant: details") unless one is already recorded. */
void sim_verdict_fail(struct sim_verdict *verdict, const char *invariant, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Per-protocol checks. Each hook may call sim_check_fail. */
struct sim_check_protocol {
    const char *name;
    /* Whether a replica of a committed entry must carry the same term (Raft: an entry never
     * changes term; Paxos: an acceptor may hold the chosen value under another ballot). */
    bool durable_same_term;
    int (*init)(void **state);
    void (*clear)(void *state);
    void (*free)(void *state);
    /* Entries from_index..last of `disk` were (re)written. */
    void (*persisted)(struct sim_check *check, void *state, uint32_t node,
                      const struct sim_disk *disk, uint64_t from_index);
    /* `node` reports role leader in `term` for the first time (core readable via ops). */
    void (*became_leader)(struct sim_check *check, void *state, uint32_t node,
                          const struct cn_ops *ops, const void *core, uint64_t term);
};

/* The table for a protocol name, or NULL when there is none. */
const struct sim_check_protocol *sim_check_protocol_find(const char *name);
extern const struct sim_check_protocol sim_check_raft;
extern const struct sim_check_protocol sim_check_paxos;

/* The checks of one consensus group. */
enum { SIM_CHECK_CONFS_MAX = 64 }; /* configurations recorded per group per seed */

struct sim_check {
    uint32_t node_count;
    /* Which group this checker watches, and how many there are: with more than one, every
     * violation's details start with "group G: ". */
    uint32_t group;
    uint32_t group_count;
    const struct sim_check_protocol *protocol;
    void *protocol_state;
    struct sim_map leader_by_term; /* (term, 0) -> node + 1 */
    struct sim_check_applied *applied; /* [index], index 1..applied_max */
    uint64_t applied_capacity;
    uint64_t applied_max;
    uint64_t commit_last[SIM_NODES_MAX]; /* per node, within the current incarnation */
    uint64_t elections;                  /* terms that had a leader */
    /* Membership changes (--membership): the vote each node persisted in each term,
     * (term, node) -> vote, so that an election can be checked against the configuration the
     * leader was elected in; and the highest index each leader's commit was checked up to. */
    bool membership;
    struct sim_map votes;
    uint64_t commit_checked[SIM_NODES_MAX];
    /* Multi-Paxos: the configurations chosen, by their command's slot, as first applied
     * (the voters; conf_voters[0] is the initial one, slot 0), so that a slot's governing
     * configuration is known exactly whatever the applying node knows. */
    struct cn_members conf_voters[SIM_CHECK_CONFS_MAX];
    uint64_t conf_slots[SIM_CHECK_CONFS_MAX];
    uint32_t conf_count;
    /* Where violations go: `own` unless the driver points it at a verdict shared by every
     * group's checker (sim_check_share). */
    struct sim_verdict *verdict;
    struct sim_verdict own;
};

/* Returns 0 or -1 (memory). `protocol` may be NULL (neutral checks only). */
int sim_check_init(struct sim_check *check, uint32_t node_count,
                   const struct sim_check_protocol *protocol);
void sim_check_free(struct sim_check *check);
/* Forgets everything (a new seed) and sets the cluster size; clears the verdict too. */
void sim_check_clear(struct sim_check *check, uint32_t node_count);
/* Makes this checker watch `group` of `group_count` and report into `verdict`. */
void sim_check_share(struct sim_check *check, uint32_t group, uint32_t group_count,
                     struct sim_verdict *verdict);
/* Whether a violation was recorded (by this checker or any sharing its verdict). */
static inline bool sim_check_failed(const struct sim_check *check)
{
    return check->verdict->failed;
}

/* Records a violation ("invariant: [group G: ]details"); only the first one is kept. */
void sim_check_fail(struct sim_check *check, const char *invariant, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* At most one leader per term. */
void sim_check_leader(struct sim_check *check, uint32_t node, uint64_t term);
/* A node's commit index never decreases within an incarnation. */
void sim_check_commit_index(struct sim_check *check, uint32_t node, uint64_t commit_index);
/* A node's persisted hard state changes from `old` to `new`: the term never decreases, and a
 * vote once persisted never changes within its term (else a node could vote twice, Raft
 * Figure 2; Paxos leaves vote 0). */
void sim_check_hard_state(struct sim_check *check, uint32_t node,
                          const struct cn_hard_state *old, const struct cn_hard_state *new);
/* A node restarted: its commit index starts over. */
void sim_check_restarted(struct sim_check *check, uint32_t node);
/* No two nodes apply different entries (or reach different states) at the same index.
 * report_term: the node's term when it reported the entry committed. */
void sim_check_applied(struct sim_check *check, uint32_t node, const struct cn_entry *entry,
                       uint64_t report_term, uint64_t rolling, uint64_t digest);
/* A snapshot installed at index must hold the state the cluster applied there. */
void sim_check_snapshot_installed(struct sim_check *check, uint32_t node, uint64_t index,
                                  uint64_t rolling, uint64_t digest);
/* An entry reported committed is persisted (or covered by a snapshot) on a quorum of disks. */
void sim_check_committed_durable(struct sim_check *check, uint32_t node,
                                 const struct cn_entry *entry,
                                 const struct sim_disk *const *disks);
/* With membership changes (--membership): a committed entry is checked against the
 * configuration the committing leader used instead of a majority of all nodes, and elections
 * against the voters of the leader's configuration. */
void sim_check_set_membership(struct sim_check *check, bool membership);
/* A leader's commit index covers `index`, whose entry has term `term` in its log: it must be
 * on the disks (or under the snapshots) of a majority of `voters` and, when `outgoing` is not
 * NULL, of `outgoing` too (Raft §6). Disks of nodes outside those lists never count. */
void sim_check_commit_quorum(struct sim_check *check, uint32_t leader, uint64_t index,
                             uint64_t term, const struct cn_members *voters,
                             const struct cn_members *outgoing,
                             const struct sim_disk *const *disks);
/* `node` granted its vote in `term` to `candidate` (a vote response left it, or its own vote
 * was persisted): one candidate per node and term (Figure 2). Recorded with --membership. */
void sim_check_vote(struct sim_check *check, uint32_t node, uint64_t term,
                    cn_node_id candidate);
/* `node` leads `term` under `membership`: a majority of each half of it must have granted it
 * a vote in that term (a removed node's vote never counts; Raft §6). */
void sim_check_elected(struct sim_check *check, uint32_t node, uint64_t term,
                       const struct cn_membership *membership);
/* Forwards to the protocol's hooks, when it has them. */
void sim_check_persisted(struct sim_check *check, uint32_t node, const struct sim_disk *disk,
                         uint64_t from_index);
void sim_check_became_leader(struct sim_check *check, uint32_t node, const struct cn_ops *ops,
                             const void *core, uint64_t term);
/* The record for index, or NULL when nothing was applied there yet. */
/* Every replica is at the same log time after the same index (docs/expiry.md). */
void sim_check_log_time(struct sim_check *check, uint32_t node, uint64_t index,
                        uint64_t time_ms);
/* Multi-Paxos with membership changes: a majority of `voters` (the configuration governing
 * the entry's slot) hold the entry's value on their disks (or under their snapshots). */
void sim_check_chosen_quorum(struct sim_check *check, uint32_t node,
                             const struct cn_entry *entry, const struct cn_members *voters,
                             const struct sim_disk *const *disks);
const struct sim_check_applied *sim_check_applied_at(const struct sim_check *check,
                                                     uint64_t index);

#endif
