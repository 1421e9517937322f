/*
 * raft_internal.h — the Raft core's state, shared by the files of src/raft/ only.
 *
 * Files by concern: log.c (the in-memory log), outbox.c (messages and the update being built),
 * raft.c (creation, the update/ack cycle, the ops table), step.c (term rules common to every
 * role, then dispatch by role), election.c (ticks, pre-vote, votes, transfer), replication.c
 * (appends, commit), read.c (ReadIndex), snapshot.c (sending and installing snapshots).
 */
#ifndef CHORUS_RAFT_INTERNAL_H
#define CHORUS_RAFT_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "consensus/garbage.h"
#include "consensus/membership.h"
#include "consensus/outbox.h"
#include "consensus/quorum.h"
#include "consensus/random.h"
#include "consensus/reads.h"
#include "consensus/staging.h"

/* Bounds of the core. Every queue below is limited by one of these or by cn_config. */
enum {
    RAFT_INFLIGHT_MAX = 256,         /* hard cap on cn_config.inflight_messages_max */
    RAFT_UPDATE_ENTRIES_MAX = 4096,  /* entries to persist handed out in one update */
    RAFT_UPDATE_COMMITTED_MAX = 1024,/* committed entries handed out in one update */
    RAFT_OUTBOX_MESSAGES_MAX = CN_OUTBOX_MESSAGES_MAX,
    RAFT_READS_MAX = CN_READS_MAX,   /* hard cap on cn_config.pending_reads_max */
    RAFT_CONTEXT_TRANSFER = 1,       /* vote request context: campaign after TimeoutNow */
};

/* The log: entries first_index..last_index in a ring, with owned data. Entries at or below
 * snapshot_index are gone; snapshot_term is the term of snapshot_index. */
struct raft_log {
    struct cn_entry *ring; /* capacity is a power of two */
    uint64_t capacity;
    uint64_t head;         /* ring slot of first_index */
    uint64_t count;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    uint64_t bytes;        /* sum of data_len held */
};

enum raft_progress_state {
    RAFT_PROGRESS_PROBE = 0,     /* one append at a time until the match point is found */
    RAFT_PROGRESS_REPLICATE = 1, /* pipelined appends, bounded by the in-flight window */
    RAFT_PROGRESS_SNAPSHOT = 2,  /* a snapshot is being sent, chunk by chunk */
};

/* The leader's view of one follower (thesis §3.5, etcd's Progress). */
struct raft_progress {
    cn_node_id id;
    uint64_t match;  /* highest index known replicated (and persisted) there */
    uint64_t next;   /* next index to send; match < next */
    enum raft_progress_state state;
    bool probe_sent; /* PROBE: an append is outstanding; wait for an answer or a heartbeat */
    bool recent_active;
    /* REPLICATE: last index of each in-flight append, oldest first (a ring). */
    uint64_t inflight[RAFT_INFLIGHT_MAX];
    uint32_t inflight_head;
    uint32_t inflight_count;
    /* SNAPSHOT: which snapshot and how far the follower has acknowledged it. */
    uint64_t snapshot_index;
    uint64_t snapshot_offset;
    uint32_t snapshot_idle_ticks;
    uint64_t commit_sent;      /* commit index carried by the last append sent */
    uint64_t read_round_acked; /* highest ReadIndex round this follower confirmed */
    bool vote_granted;
    bool vote_answered;
};

struct raft {
    struct cn_config config;
    /* The configuration in force: the latest in the log, committed or not (§6), else the
     * snapshot's. conf_index is its entry's index (the snapshot's index when it came from
     * there). snapshot_conf is the configuration in force at the snapshot's index. */
    struct cn_membership conf;
    uint64_t conf_index;
    struct cn_membership snapshot_conf;
    bool conf_unreachable; /* leader: see cn_status.membership_unreachable */
    struct cn_random random;

    /* Persistent state (Figure 2) and what of it is known durable. */
    uint64_t term;
    cn_node_id vote;
    struct cn_hard_state durable;  /* as of the last acked update that carried one */
    struct cn_hard_state handed;   /* last hard state handed out (persisted or in flight) */

    enum cn_role role;
    cn_node_id leader;
    struct raft_log log;
    uint64_t commit;
    uint64_t applied;          /* last committed index handed out to apply */
    uint64_t persisted;        /* last index known durable on this node */
    uint64_t unstable;         /* first index not yet handed out to persist */

    /* Election timing, in ticks. */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_election_ticks;
    uint32_t transfer_elapsed;   /* ticks since the transfer started; aborted at election_ticks */
    cn_node_id transfer_target;  /* proposals are refused while set (thesis §3.10) */
    bool transfer_notified;      /* TimeoutNow was sent to the target */

    /* Leader: one progress per node of the configuration (voters, outgoing voters and
     * learners; self included when it is one, unused for sending), in id order. */
    struct raft_progress progress[CN_MEMBERS_MAX];
    uint32_t progress_count;
    bool broadcast_pending;   /* new entries to send at the next update */

    /* ReadIndex (thesis §6.4): reads in arrival order and their rounds (consensus/reads.h). */
    struct cn_reads reads;

    /* Snapshot reception (follower), chunk by chunk (consensus/staging.h). */
    struct cn_staging staging;

    /* The update being built, and the one handed out and not yet acked. */
    struct cn_outboxes outboxes; /* the pending one is filled; the other is handed out */
    bool update_outstanding;
    uint64_t handed_last_index;   /* last entry index in the outstanding update, 0 if none */
    uint64_t handed_truncated_at; /* lowest truncation since the outstanding update, else max */
    bool handed_hard_state;
    struct cn_garbage garbage; /* data blocks released while updates may still point to them */
    /* Messages handed out early by raft_take_messages, with copies of their entry structs. */
    struct cn_message taken[RAFT_OUTBOX_MESSAGES_MAX];
    struct cn_entry *taken_pool;
    uint32_t taken_pool_capacity;

    /* Soft state last reported. */
    enum cn_role reported_role;
    cn_node_id reported_leader;
    uint64_t reported_term;
};

/* log.c */
void raft_log_init(struct raft_log *log, uint64_t snapshot_index, uint64_t snapshot_term);
void raft_log_free(struct raft *r);
uint64_t raft_log_first(const struct raft_log *log);
uint64_t raft_log_last(const struct raft_log *log);
uint64_t raft_log_last_term(const struct raft_log *log);
bool raft_log_term(const struct raft_log *log, uint64_t index, uint64_t *term);
const struct cn_entry *raft_log_get(const struct raft_log *log, uint64_t index);
int raft_log_append(struct raft *r, uint64_t term, uint8_t type, const uint8_t *data,
                    uint32_t data_len);
void raft_log_truncate_from(struct raft *r, uint64_t index);
void raft_log_compact_to(struct raft *r, uint64_t index, uint64_t term);
void raft_log_reset(struct raft *r, uint64_t snapshot_index, uint64_t snapshot_term);
bool raft_log_up_to_date(const struct raft_log *log, uint64_t last_index, uint64_t last_term);

/* outbox.c */
struct cn_outbox *raft_outbox(struct raft *r);
struct cn_message *raft_send(struct raft *r, uint8_t type, cn_node_id to);
struct cn_message *raft_send_after_persist(struct raft *r, uint8_t type, cn_node_id to);
void raft_message_attach_entries(struct raft *r, struct cn_message *m, uint64_t from,
                                 uint32_t count);

/* raft.c */
bool raft_is_member(const struct raft *r, cn_node_id id);
bool raft_promotable(const struct raft *r);
bool raft_alone(const struct raft *r);
struct raft_progress *raft_progress_of(struct raft *r, cn_node_id id);
bool raft_committed_in_term(const struct raft *r);

/* membership.c */
void raft_conf_set(struct raft *r, const struct cn_membership *conf, uint64_t index);
void raft_conf_entry_appended(struct raft *r, const struct cn_entry *e);
void raft_conf_truncated(struct raft *r, uint64_t index);
void raft_conf_compacting(struct raft *r, uint64_t index);
int raft_conf_change(struct raft *r, const struct cn_membership *target, uint64_t *index,
                     uint64_t *term);
void raft_conf_committed(struct raft *r);
void raft_conf_tick(struct raft *r);
bool raft_entry_valid(const struct cn_entry *e);

/* step.c */
int raft_step_message(struct raft *r, const struct cn_message *m);

/* election.c */
void raft_become_follower(struct raft *r, uint64_t term, cn_node_id leader);
void raft_become_pre_candidate(struct raft *r);
void raft_become_candidate(struct raft *r);
void raft_become_leader(struct raft *r);
void raft_campaign(struct raft *r, bool transfer);
void raft_tick(struct raft *r);
void raft_reset_election_timer(struct raft *r);
void raft_handle_vote_request(struct raft *r, const struct cn_message *m);
void raft_handle_vote_response(struct raft *r, const struct cn_message *m);
void raft_maybe_win_election(struct raft *r);
int raft_transfer_start(struct raft *r, cn_node_id target);
void raft_maybe_send_timeout_now(struct raft *r, struct raft_progress *p);

/* replication.c */
void raft_progress_reset_all(struct raft *r);
void raft_send_append(struct raft *r, struct raft_progress *p);
void raft_broadcast_appends(struct raft *r);
void raft_broadcast_heartbeats(struct raft *r, uint64_t read_round);
void raft_handle_append(struct raft *r, const struct cn_message *m);
void raft_handle_append_response(struct raft *r, const struct cn_message *m);
void raft_handle_heartbeat(struct raft *r, const struct cn_message *m);
void raft_handle_heartbeat_response(struct raft *r, const struct cn_message *m);
bool raft_maybe_commit(struct raft *r);
int raft_propose(struct raft *r, const uint8_t *data, uint32_t data_len, uint64_t *index,
                 uint64_t *term);
void raft_progress_become_probe(struct raft_progress *p);

/* read.c */
struct cn_reads_host raft_reads_host(struct raft *r);
int raft_read_request(struct raft *r, uint64_t request_id, cn_node_id from);
void raft_read_fail_all(struct raft *r);
void raft_read_confirm(struct raft *r);
void raft_read_release_waiting(struct raft *r);
void raft_handle_read_index(struct raft *r, const struct cn_message *m);
void raft_handle_read_index_response(struct raft *r, const struct cn_message *m);

/* snapshot.c */
void raft_send_snapshot(struct raft *r, struct raft_progress *p);
void raft_handle_snapshot(struct raft *r, const struct cn_message *m);
void raft_handle_snapshot_response(struct raft *r, const struct cn_message *m);
void raft_snapshot_tick(struct raft *r, struct raft_progress *p);
void raft_snapshot_taken(struct raft *r, uint64_t index);

#endif
