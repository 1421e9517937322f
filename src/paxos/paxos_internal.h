/*
 * paxos_internal.h — the Multi-Paxos core's state, shared by the files of src/paxos/ only.
 *
 * Files by concern: log.c (the slot window: accepted values per slot, gaps allowed),
 * outbox.c (messages and the update being built), paxos.c (creation, the update/ack cycle,
 * the ops table), step.c (ballot rules common to every role, then dispatch), election.c
 * (ticks, phase 1: prepare/promise, backoff, transfer), replication.c (phase 2: proposals,
 * accept/accepted, choosing), learn.c (chosen index, catch-up, snapshots), read.c (reads
 * confirmed by a quorum round), membership.c (reconfiguration by the alpha window).
 *
 * Every node plays the three roles of Lamport's "Paxos Made Simple": its acceptor state is
 * `promised` and the accepted (ballot, value) of each slot; its learner state is the `chosen`
 * flag of each slot and `commit`, the chosen prefix; its proposer state is `ballot` with the
 * candidate's promises and the leader's per-slot acceptances.
 */
#ifndef CHORUS_PAXOS_INTERNAL_H
#define CHORUS_PAXOS_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "consensus/garbage.h"
#include "consensus/outbox.h"
#include "consensus/quorum.h"
#include "consensus/random.h"
#include "consensus/reads.h"
#include "consensus/staging.h"

/* Bounds of the core. Every queue below is limited by one of these or by cn_config. */
enum {
    /* Unchosen slots a leader keeps open (its phase 2 pipeline window). Kept at what one
     * promise can carry, so that a caught-up acceptor's promise always fits in one message. */
    PAXOS_WINDOW_SLOTS_MAX = CN_MESSAGE_ENTRIES_MAX,
    /* Unchosen bytes a leader keeps open, for the same reason (at least one value). */
    PAXOS_WINDOW_BYTES_MAX = CN_MESSAGE_BYTES_MAX / 4,
    /* Slots above the prepare index that phase 1 can recover: a promise reporting a value
     * beyond is partial (the candidate lags; it steps down and catches up instead). */
    PAXOS_RECOVERY_SLOTS_MAX = 2 * CN_MESSAGE_ENTRIES_MAX,
    /* Slots an acceptor holds above its chosen prefix; accepts beyond are dropped. */
    PAXOS_AHEAD_SLOTS_MAX = 1u << 16,
    PAXOS_UPDATE_COMMITTED_MAX = 1024, /* chosen values handed out in one update */
    PAXOS_OUTBOX_MESSAGES_MAX = CN_OUTBOX_MESSAGES_MAX, /* both outboxes of an update together */
    PAXOS_READS_MAX = CN_READS_MAX,    /* hard cap on cn_config.pending_reads_max */
    PAXOS_BACKOFF_SHIFT_MAX = 3,       /* election timeout grows to at most e * 2^3 extra */
    PAXOS_CONTEXT_FORCE = 1,           /* prepare after TimeoutNow: overrides leases */
    PAXOS_CONTEXT_PARTIAL = 1,         /* promise: does not carry every accepted value */
    /* Configurations kept (membership.c): the ones governing the slots above the chosen
     * prefix (at most two, changes being alpha apart) and those chosen since the snapshot,
     * from which the configuration at a later snapshot's index is derived. */
    PAXOS_CONFS_MAX = 8,
};

/* A configuration and the slots it governs (Lamport, "Paxos Made Simple" §3, end: the
 * configuration command chosen in slot `slot` governs the slots from slot + alpha on). */
struct paxos_conf {
    uint64_t slot;   /* its command's slot; at most the snapshot index for the first one */
    uint64_t first;  /* the first slot it governs */
    bool uncertain;  /* from a snapshot taken while it was pending: `first` is only an upper
                        bound, so the slots below it need a majority of it as well */
    struct cn_membership m; /* voters and learners (never joint: no outgoing) */
};

/* One slot of the window above the snapshot: the acceptor's accepted (ballot, value), the
 * learner's knowledge that it is chosen, and the persistence bookkeeping of paxos.c. */
struct paxos_slot {
    uint64_t ballot; /* the ballot it was accepted in; 0: nothing accepted (a gap) */
    uint8_t type;    /* enum cn_entry_type */
    uint32_t data_len;
    uint8_t *data;   /* owned; freed through the garbage rule */
    bool chosen;
    bool unsaved;    /* changed since it was last handed out to persist */
    bool handed;     /* in the outstanding update (durable once acked, unless unsaved again) */
    uint8_t accepted_by; /* leader: members (bit = position) that accepted it in our ballot */
    uint32_t sent_tick;  /* leader: its tick counter when an accept for it last left */
};

/* The slots snapshot_index+1 .. snapshot_index+count in a ring. */
struct paxos_log {
    struct paxos_slot *ring; /* capacity is a power of two */
    uint64_t capacity;
    uint64_t head;
    uint64_t count;
    uint64_t snapshot_index;
    uint64_t snapshot_term;  /* the ballot of the snapshot's last slot */
    uint64_t bytes;
};

/* What this node knows of one member, as candidate or leader. */
struct paxos_peer {
    cn_node_id id;
    bool promised;             /* candidate: promised our ballot (full promise) */
    bool recent_active;        /* leader: answered in our ballot this election period */
    uint64_t read_round_acked; /* leader: highest read round it confirmed */
    bool snapshot_active;      /* leader: a snapshot is being sent to it */
    uint64_t snapshot_index;
    uint64_t snapshot_offset;
    uint32_t snapshot_idle_ticks;
};

/* A value reported by a promise during phase 1: the highest-ballot one per slot. */
struct paxos_recovered {
    uint64_t ballot; /* 0: none reported */
    uint8_t type;
    uint32_t data_len;
    uint8_t *data;   /* owned */
};

struct paxos {
    struct cn_config config;
    /* Every node of the configurations governing a slot above the chosen prefix: the nodes
     * this node talks to and hears answers from; peers[] follows its positions. */
    struct cn_members members;
    struct paxos_conf confs[PAXOS_CONFS_MAX]; /* ascending by slot; confs[0] governs the
                                                 snapshot's next slot */
    uint32_t conf_count;
    bool conf_learned;            /* a configuration was chosen since our last campaign */
    bool conf_history_lost;       /* confs[0] is not the one at the snapshot (overflow) */
    struct cn_members snapshot_members; /* packed configuration at the snapshot's index */
    struct cn_random random;

    /* Acceptor (persistent): the promised ballot, and what of the hard state is durable. */
    uint64_t promised;
    struct cn_hard_state durable; /* as of the last acked update that carried one */
    struct cn_hard_state handed;  /* last hard state handed out */
    uint64_t max_seen;            /* highest ballot heard of (a new ballot goes above it) */
    /* Highest ballot of a leader's accept or lease that we took (at or above our promise).
     * Not a promise: it is never persisted and phase 1 never reads it. It only makes the term
     * we report (paxos_reported_term) the ballot of the leader we follow, which a lease alone
     * does not make our promise. */
    uint64_t leader_ballot;

    /* Proposer. */
    enum cn_role role;
    cn_node_id leader;
    uint64_t ballot;              /* our ballot as candidate or leader, else 0 */
    uint64_t prepare_index;       /* candidate/leader: the first slot phase 1 covered */
    uint64_t recovered_through;   /* leader: last slot re-proposed after phase 1 */
    uint64_t next_slot;           /* leader: the slot the next proposal takes */
    uint64_t sent_through;        /* leader: last slot whose first accepts were sent */
    uint64_t commit_sent;         /* leader: chosen prefix last told to every follower */
    uint64_t fence;               /* leader: first slot governed by a configuration its
                                     phase 1 did not cover (0: none); it proposes nothing
                                     from there on in this ballot (membership.c) */
    uint32_t ticks;               /* leader: tick counter (accept resends) */
    struct paxos_peer peers[CN_MEMBERS_MAX];
    struct paxos_recovered *recovery; /* PAXOS_RECOVERY_SLOTS_MAX, from prepare_index */
    uint64_t recovery_last;       /* highest slot reported, 0 when none */

    /* Learner. */
    struct paxos_log log;
    uint64_t commit;              /* every slot up to here is chosen and known here */
    uint64_t applied;             /* last chosen slot handed out to apply */
    uint64_t unsaved_count;       /* slots with `unsaved` set */
    uint64_t dirty_low;           /* lowest slot that is unsaved or handed, else UINT64_MAX */
    bool catchup_inflight;
    uint32_t catchup_elapsed;

    /* Timing, in ticks. */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_election_ticks;
    uint32_t backoff;             /* failed campaigns in a row (widens the random timeout) */
    cn_node_id transfer_target;
    uint32_t transfer_elapsed;

    /* Reads confirmed by a lease round, in arrival order (consensus/reads.h). */
    struct cn_reads reads;

    /* Snapshot reception, chunk by chunk (consensus/staging.h). */
    struct cn_staging staging;

    /* The update being built, and the one handed out and not yet acked. */
    struct cn_outboxes outboxes; /* the pending one is filled; the other is handed out */
    bool update_outstanding;
    uint64_t handed_low;          /* slots handed in the outstanding update: low..high */
    uint64_t handed_high;
    struct cn_garbage garbage; /* data blocks released while updates may still point to them */

    enum cn_role reported_role;
    cn_node_id reported_leader;
    uint64_t reported_term;
};

/* log.c */
void paxos_log_init(struct paxos_log *log, uint64_t snapshot_index, uint64_t snapshot_term);
void paxos_log_free(struct paxos_log *log);
uint64_t paxos_log_last(const struct paxos_log *log);
struct paxos_slot *paxos_slot_get(struct paxos *p, uint64_t slot);
const struct paxos_slot *paxos_slot_peek(const struct paxos_log *log, uint64_t slot);
struct paxos_slot *paxos_slot_ensure(struct paxos *p, uint64_t slot);
void paxos_slot_set(struct paxos *p, uint64_t slot, uint64_t ballot, uint8_t type,
                    const uint8_t *data, uint32_t data_len);
void paxos_slot_set_owned(struct paxos *p, uint64_t slot, uint64_t ballot, uint8_t type,
                          uint8_t *data, uint32_t data_len);
void paxos_slot_mark_unsaved(struct paxos *p, uint64_t slot);
bool paxos_slot_durable(const struct paxos_slot *s);
void paxos_log_compact_to(struct paxos *p, uint64_t index);
void paxos_log_reset(struct paxos *p, uint64_t snapshot_index, uint64_t snapshot_term);
void paxos_recompute_dirty_low(struct paxos *p);

/* outbox.c */
struct cn_outbox *paxos_outbox(struct paxos *p);
struct cn_message *paxos_send(struct paxos *p, uint8_t type, cn_node_id to);
bool paxos_outbox_has_room(struct paxos *p);
struct cn_message *paxos_send_after_persist(struct paxos *p, uint8_t type, cn_node_id to);
uint32_t paxos_attach_slots(struct paxos *p, struct cn_message *m, uint64_t lo, uint64_t hi);

/* paxos.c */
uint64_t paxos_reported_term(const struct paxos *p);
int paxos_member_position(const struct paxos *p, cn_node_id id);
struct paxos_peer *paxos_peer_of(struct paxos *p, cn_node_id id);
struct cn_entry paxos_slot_entry(const struct paxos_slot *s, uint64_t slot);

/* step.c */
int paxos_step_message(struct paxos *p, const struct cn_message *m);

/* election.c */
void paxos_reset_election_timer(struct paxos *p);
void paxos_become_follower(struct paxos *p, cn_node_id leader);
void paxos_campaign(struct paxos *p, bool force);
void paxos_tick(struct paxos *p);
void paxos_handle_prepare(struct paxos *p, const struct cn_message *m);
void paxos_handle_promise(struct paxos *p, const struct cn_message *m);
void paxos_maybe_finish_phase1(struct paxos *p);
void paxos_heard_from_leader(struct paxos *p, const struct cn_message *m);
int paxos_transfer_start(struct paxos *p, cn_node_id target);

/* replication.c */
int paxos_propose(struct paxos *p, const uint8_t *data, uint32_t data_len, uint64_t *index,
                  uint64_t *term);
void paxos_broadcast_accepts(struct paxos *p);
void paxos_resend_accepts(struct paxos *p);
void paxos_broadcast_leases(struct paxos *p, uint64_t read_round);
void paxos_handle_accept(struct paxos *p, const struct cn_message *m);
void paxos_handle_accepted(struct paxos *p, const struct cn_message *m);
void paxos_handle_lease(struct paxos *p, const struct cn_message *m);
void paxos_handle_lease_response(struct paxos *p, const struct cn_message *m);
bool paxos_maybe_choose(struct paxos *p);

/* learn.c */
void paxos_advance_commit(struct paxos *p);
void paxos_learn_commit(struct paxos *p, uint64_t commit, uint64_t ballot, cn_node_id leader);
void paxos_catchup_tick(struct paxos *p);
void paxos_handle_catchup(struct paxos *p, const struct cn_message *m);
void paxos_handle_catchup_from_outsider(struct paxos *p, const struct cn_message *m);
void paxos_teach_outsider(struct paxos *p, cn_node_id to, uint64_t from);
void paxos_handle_chosen(struct paxos *p, const struct cn_message *m);
void paxos_send_snapshot(struct paxos *p, struct paxos_peer *peer);
void paxos_snapshot_tick(struct paxos *p, struct paxos_peer *peer);
void paxos_handle_snapshot(struct paxos *p, const struct cn_message *m);
void paxos_handle_snapshot_response(struct paxos *p, const struct cn_message *m);
void paxos_snapshot_taken(struct paxos *p, uint64_t index);

/* membership.c */
uint64_t paxos_alpha(const struct paxos *p);
bool paxos_conf_init(struct paxos *p, const struct cn_members *packed, uint64_t index);
void paxos_conf_chosen(struct paxos *p, uint64_t slot);
bool paxos_conf_is_voter(const struct paxos *p, cn_node_id id);
bool paxos_slot_quorum(const struct paxos *p, uint64_t slot, cn_member_test test,
                       const void *context);
bool paxos_window_quorum(const struct paxos *p, cn_member_test test, const void *context);
uint64_t paxos_conf_fence(const struct paxos *p, uint64_t lo, uint64_t hi);
uint64_t paxos_leader_last(const struct paxos *p);
void paxos_conf_settle(struct paxos *p);
int paxos_conf_change(struct paxos *p, const struct cn_membership *target, uint64_t *index,
                      uint64_t *term);
bool paxos_conf_compacting(struct paxos *p, uint64_t index);
void paxos_conf_status(const struct paxos *p, struct cn_status *s);

/* read.c */
struct cn_reads_host paxos_reads_host(struct paxos *p);
int paxos_read_request(struct paxos *p, uint64_t request_id, cn_node_id from);
void paxos_read_fail_all(struct paxos *p);
void paxos_read_confirm(struct paxos *p);
void paxos_read_release_waiting(struct paxos *p);
void paxos_handle_read_index(struct paxos *p, const struct cn_message *m);
void paxos_handle_read_index_response(struct paxos *p, const struct cn_message *m);

#endif
