/*
 * consensus.h — the protocol-neutral interface every consensus core implements.
 *
 * A core (Raft in src/raft/, Multi-Paxos in src/paxos/) is a pure state machine: it performs
 * no I/O, reads no clock, draws no random numbers of its own and starts no threads. Everything
 * that happens to it arrives as an event (cn_step), and everything it wants done leaves in one
 * update (cn_update) whose fields state the order in which the driver must carry them out.
 * The drivers — the simulator (src/sim/) and the node (src/node/) — talk to a core only
 * through the table of functions in struct cn_ops, so neither knows which protocol it runs.
 *
 * The driver loop is the one etcd's raft made familiar (Ready/Advance, with its asynchronous
 * storage writes):
 *
 *     cn_step(core, event)            any time, as often as needed
 *     if (cn_has_update(core)) {
 *         cn_get_update(core, &u)     at most one update outstanding at a time
 *         send u.messages             may leave at once, before anything is persisted
 *         persist u.hard_state, u.snapshot, u.entries   (one write + one fdatasync)
 *         send u.messages_after_persist                 only once the sync returned
 *         apply u.committed, answer u.reads             only once the sync returned
 *         cn_ack_update(core, &u)     tells the core that all of the above is done
 *     }
 *
 * Events may keep arriving (cn_step) while an update is being persisted; the core accounts
 * for log truncations that happen in that window, so an ack never claims that entries
 * overwritten meanwhile are durable.
 */
#ifndef CHORUS_CONSENSUS_H
#define CHORUS_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds shared by every core, the codec and the drivers. */
enum {
    CN_MEMBERS_MAX = 7,                       /* voters in one group */
    CN_ENTRY_DATA_BYTES_MAX = 1u << 21,       /* one command: key 4 KiB + value 1 MiB + slack */
    CN_MESSAGE_ENTRIES_MAX = 1024,            /* entries carried by one message */
    CN_MESSAGE_BYTES_MAX = 16u << 20,         /* one encoded message */
    CN_SNAPSHOT_CHUNK_BYTES_MAX = 1u << 20,   /* snapshot bytes carried by one message */
    CN_UPDATE_MESSAGES_MAX = 256,             /* messages in one update, both outboxes together */
};

typedef uint32_t cn_node_id;  /* 1..; 0 means "none" */
typedef uint32_t cn_group_id; /* consensus group (shard); 0 is the first group */

/* Error codes returned by cn_step and by the codec. One table; cn_strerror names them. */
enum cn_error {
    CN_OK = 0,
    CN_ERR_NOT_LEADER = -1,    /* proposal/read on a node that cannot take it; see status.leader */
    CN_ERR_BUSY = -2,          /* a bound (pending proposals, reads, log bytes) is reached */
    CN_ERR_TOO_LARGE = -3,     /* an entry or message exceeds its size bound */
    CN_ERR_MALFORMED = -4,     /* decoding: truncated or inconsistent input */
    CN_ERR_VERSION = -5,       /* decoding: unknown encoding version */
    CN_ERR_TRANSFERRING = -6,  /* leadership transfer in progress: proposals are refused */
    CN_ERR_INVALID = -7,       /* an argument that the caller could not have meant */
};
const char *cn_strerror(int error);

enum cn_role {
    CN_ROLE_FOLLOWER = 0,
    CN_ROLE_PRE_CANDIDATE = 1, /* Raft pre-vote; Paxos: unused */
    CN_ROLE_CANDIDATE = 2,     /* Raft candidate; Paxos: proposer running phase 1 */
    CN_ROLE_LEADER = 3,        /* Raft leader; Paxos: distinguished proposer past phase 1 */
};
const char *cn_role_name(enum cn_role role);

enum cn_entry_type {
    CN_ENTRY_NORMAL = 0, /* an application command (opaque bytes) */
    CN_ENTRY_NOOP = 1,   /* appended by a new leader (Raft §5.4.2) or a Paxos gap filler */
    CN_ENTRY_CONFIG = 2, /* a membership change (data: encoded member list) */
};

/*
 * One log entry (Raft) or one chosen/accepted slot value (Paxos). `term` is the Raft term the
 * entry was created in, or the Paxos ballot it was accepted in. Paxos ballots (round, node) are
 * encoded into one totally ordered 64-bit number: round << 8 | node id (see cn_ballot_make).
 * The data bytes are owned by whoever produced the struct; see each field's lifetime rule.
 */
struct cn_entry {
    uint64_t index;
    uint64_t term;
    uint8_t type;      /* enum cn_entry_type */
    uint32_t data_len; /* <= CN_ENTRY_DATA_BYTES_MAX */
    const uint8_t *data;
};

static inline uint64_t cn_ballot_make(uint64_t round, cn_node_id node)
{
    return (round << 8) | (node & 0xffu);
}
static inline uint64_t cn_ballot_round(uint64_t ballot) { return ballot >> 8; }
static inline cn_node_id cn_ballot_node(uint64_t ballot) { return (cn_node_id)(ballot & 0xffu); }

/*
 * The persistent state that must be durable before certain messages leave.
 * Raft: term = currentTerm, vote = votedFor (Figure 2). Paxos: term = the promised ballot,
 * vote unused. commit is persisted as a hint so that a restarted node need not relearn it;
 * it is never trusted beyond what the log holds.
 */
struct cn_hard_state {
    uint64_t term;
    cn_node_id vote;
    uint64_t commit;
};

/* Membership of a group: the voters. Sorted, no duplicates, no zero. */
struct cn_members {
    uint32_t count;
    cn_node_id ids[CN_MEMBERS_MAX];
};

/*
 * A configuration (Raft §6; thesis §4.3; etcd's ConfState): the voters, the outgoing voters
 * while a change is in its joint phase C(old,new) (count 0 otherwise), and the learners, who
 * receive the log and snapshots but never vote nor count toward a quorum. Elections and
 * commits need a majority of `voters` and, while joint, of `outgoing` too. Every node that
 * appears in any of the three lists is a member; their union holds at most CN_MEMBERS_MAX.
 * On the wire and on disk a configuration travels as one struct cn_members with role bits in
 * each id (consensus/membership.h), so that a plain voter list means what it always meant.
 */
struct cn_membership {
    struct cn_members voters;
    struct cn_members outgoing;
    struct cn_members learners;
};

/* What a snapshot covers: every entry up to `index` (whose term was `term`) and the
 * configuration in force at `index` (the latest configuration entry at or below it), in the
 * packed form of consensus/membership.h. */
struct cn_snapshot_meta {
    uint64_t index;
    uint64_t term;
    struct cn_members members;
};

/*
 * Every message type of every core. One tagged struct serves all, in the manner of etcd's
 * raftpb.Message, with field meanings given per type by the core that sends it. The codec
 * (codec.h) encodes any of them; the network and the simulator move them without looking in.
 */
enum cn_message_type {
    CN_MSG_NONE = 0,
    /* Raft (§5, thesis §3, §6, §9.6) */
    CN_MSG_APPEND = 1,            /* index=prev index, log_term=prev term, entries, commit */
    CN_MSG_APPEND_RESPONSE = 2,   /* index=match or rejected index, reject, hint_* */
    CN_MSG_VOTE = 3,              /* index/log_term = candidate's last entry */
    CN_MSG_VOTE_RESPONSE = 4,     /* reject */
    CN_MSG_PRE_VOTE = 5,          /* term = the term the sender would campaign in */
    CN_MSG_PRE_VOTE_RESPONSE = 6, /* reject */
    CN_MSG_HEARTBEAT = 7,         /* commit, context = read round */
    CN_MSG_HEARTBEAT_RESPONSE = 8,/* context echoes the read round */
    CN_MSG_SNAPSHOT = 9,          /* snapshot meta, offset, chunk, done */
    CN_MSG_SNAPSHOT_RESPONSE = 10,/* index = snapshot index accepted, reject */
    CN_MSG_TIMEOUT_NOW = 11,      /* leadership transfer: campaign now (thesis §3.10) */
    CN_MSG_READ_INDEX = 12,       /* follower asks leader for a read index; context = request */
    CN_MSG_READ_INDEX_RESPONSE = 13, /* index = read index, context = request, reject */
    /* Node level (the server's, never a core's): a follower forwards a client write to the
     * leader's node (entries[0], context = request id), which answers with the index and
     * term its core gave it (index, log_term, context), or reject. */
    CN_MSG_PROPOSE = 14,
    CN_MSG_PROPOSE_RESPONSE = 15,
    /* Node level: a node that holds no replica of a key's shard relays the client's command
     * (entries[0], RESP) to a node that does, which runs it as the client's stand-in and
     * streams the replies back (src/node/proxy.c gives the fields' meanings). */
    CN_MSG_PROXY = 16,
    CN_MSG_PROXY_RESPONSE = 17,
    /* Node level: one beat per node pair standing in for the heartbeats of quiet groups
     * (src/node/quiesce.c). */
    CN_MSG_NODE_BEAT = 18,
    /* Node level: the heartbeats (and their answers) of every group one node sends another in
     * a loop iteration, in one message: entries[0] holds fixed-size records
     * (src/node/heartbeats.c gives the layout). */
    CN_MSG_NODE_HEARTBEATS = 19,
    /* Multi-Paxos (Lamport 2001; van Renesse & Altinbuken 2015) */
    CN_MSG_PREPARE = 32,          /* phase 1a: term = ballot, index = first slot covered */
    CN_MSG_PROMISE = 33,          /* phase 1b: entries = accepted values >= index, reject = nack */
    CN_MSG_ACCEPT = 34,           /* phase 2a: term = ballot, entries = slot values, commit */
    CN_MSG_ACCEPTED = 35,         /* phase 2b: index = highest slot accepted, reject = nack */
    CN_MSG_CHOSEN = 36,           /* learner catch-up: entries chosen, commit */
    CN_MSG_CATCHUP = 37,          /* learner asks for chosen values from index */
    CN_MSG_LEASE = 38,            /* leader heartbeat: commit, context = read round */
    CN_MSG_LEASE_RESPONSE = 39,
    CN_MSG_TYPE_MAX = 63,
};
const char *cn_message_type_name(uint8_t type);

struct cn_message {
    uint8_t type;        /* enum cn_message_type */
    cn_group_id group;
    cn_node_id from;
    cn_node_id to;
    uint64_t term;       /* sender's term (Raft) or ballot (Paxos) */
    uint64_t log_term;   /* term of the entry at `index` (Raft prev-log term, last-log term) */
    uint64_t index;      /* meaning per type; see the enum */
    uint64_t commit;     /* sender's commit / chosen index */
    uint64_t context;    /* read round, read request id, or 0 */
    uint64_t hint_term;  /* rejection hint: term of the conflicting entry (fast backtracking) */
    uint64_t hint_index; /* rejection hint: first index of that term, or follower's last index */
    bool reject;
    /* Entries: for received messages they point into the receive buffer, valid during cn_step. */
    uint32_t entry_count; /* <= CN_MESSAGE_ENTRIES_MAX */
    const struct cn_entry *entries;
    /* Snapshot transfer, in chunks (CN_MSG_SNAPSHOT). The core that sends one leaves
     * snapshot_chunk NULL: the driver fills in, from the application's latest snapshot, the meta,
     * up to CN_SNAPSHOT_CHUNK_BYTES_MAX bytes from snapshot_offset, and snapshot_done when that
     * chunk ends the snapshot. The receiver answers CN_MSG_SNAPSHOT_RESPONSE with index = the
     * snapshot's index and context = the next offset it wants (reject when out of order). */
    struct cn_snapshot_meta snapshot;
    uint64_t snapshot_offset;
    uint32_t snapshot_chunk_len; /* <= CN_SNAPSHOT_CHUNK_BYTES_MAX */
    const uint8_t *snapshot_chunk;
    bool snapshot_done;
};

/* Tuning and limits, given at creation. Times are in ticks; the driver decides a tick's length. */
struct cn_config {
    cn_group_id group;
    cn_node_id id;
    struct cn_members members;       /* used when the restored state holds no membership */
    uint32_t election_ticks;         /* base election timeout; randomized in [e, 2e) */
    uint32_t heartbeat_ticks;        /* leader heartbeat interval, < election_ticks */
    bool pre_vote;                   /* Raft §9.6 pre-vote */
    bool check_quorum;               /* leader steps down without a quorum for election_ticks */
    uint32_t inflight_messages_max;  /* pipelined append/accept messages per follower */
    uint32_t message_entries_max;    /* entries per append/accept message */
    uint64_t message_bytes_max;      /* entry bytes per append/accept message */
    uint32_t pending_proposals_max;  /* proposals accepted but not yet persisted-and-sent */
    uint32_t pending_reads_max;      /* linearizable reads waiting for confirmation */
    uint64_t log_bytes_max;          /* in-memory log above the snapshot; beyond it, CN_ERR_BUSY */
    uint64_t random_seed;            /* seeds the core's own deterministic generator */
    /* Multi-Paxos only: alpha of Lamport's reconfiguration ("Paxos Made Simple" §3, end): a
     * configuration chosen in slot s governs the slots from s + alpha on. Every node of a
     * group must use the same value. 0: the core's default (its window, so that a group that
     * never reconfigures runs as it did before reconfiguration existed). */
    uint32_t paxos_alpha_slots;
};
void cn_config_defaults(struct cn_config *config);

/*
 * State restored from storage at creation: the hard state, the last snapshot's meta (index 0 when
 * none) and the log entries after the snapshot, in index order. Pointers are borrowed during
 * create only; the core copies what it keeps.
 */
struct cn_restore {
    struct cn_hard_state hard_state;
    struct cn_snapshot_meta snapshot;
    uint64_t entry_count;
    const struct cn_entry *entries;
};

enum cn_event_type {
    CN_EVENT_TICK = 1,          /* one unit of logical time passed */
    CN_EVENT_MESSAGE = 2,       /* a message arrived from a peer (message) */
    CN_EVENT_PROPOSE = 3,       /* a client command (data, data_len); returns index via out_index */
    CN_EVENT_READ = 4,          /* a linearizable read request (request_id) */
    CN_EVENT_CAMPAIGN = 5,      /* start an election now (tests, operator) */
    CN_EVENT_TRANSFER = 6,      /* transfer leadership to `target` (thesis §3.10) */
    CN_EVENT_SNAPSHOT_TAKEN = 7,/* the application holds a snapshot up to `index`: compact below */
    CN_EVENT_UNREACHABLE = 8,   /* the driver could not deliver to `target`: back off */
    CN_EVENT_MEMBERSHIP = 9,    /* change the configuration to `membership` (its voters and
                                   learners; outgoing ignored); out_index as a proposal */
};

struct cn_event {
    enum cn_event_type type;
    const struct cn_message *message; /* CN_EVENT_MESSAGE; borrowed during cn_step */
    const uint8_t *data;              /* CN_EVENT_PROPOSE; copied by the core */
    uint32_t data_len;
    uint64_t request_id;              /* CN_EVENT_READ: chosen by the driver, echoed in reads */
    cn_node_id target;                /* CN_EVENT_TRANSFER, CN_EVENT_UNREACHABLE */
    uint64_t index;                   /* CN_EVENT_SNAPSHOT_TAKEN */
    uint64_t *out_index;              /* CN_EVENT_PROPOSE: where the entry was placed (optional) */
    uint64_t *out_term;               /* CN_EVENT_PROPOSE: its term/ballot (optional) */
    const struct cn_membership *membership; /* CN_EVENT_MEMBERSHIP; copied by the core */
};

/* A linearizable read that became safe: answer it once the state machine applied `index`. */
struct cn_read {
    uint64_t request_id;
    uint64_t index;
    bool failed; /* leadership was lost; the read must be retried (it changed nothing) */
};

/*
 * Everything a core wants done, in one struct. The order of the fields is the order of the
 * rules; every pointer stays valid until cn_ack_update.
 */
struct cn_update {
    /* Role and leader as of this update; changed says whether they differ from the last one. */
    bool soft_state_changed;
    enum cn_role role;
    cn_node_id leader;
    uint64_t term;

    /* (1) May be sent immediately, before or while (2) is persisted. These carry no promise
     * that depends on this node's disk: pre-vote requests, heartbeats, and the leader's appends,
     * which Raft allows to leave in parallel with the leader's own write (thesis §10.2.1),
     * since the leader counts itself toward a commit only after the ack. */
    uint32_t message_count;
    const struct cn_message *messages;

    /* (2) Persist, in one atomic step (write, then one fdatasync): the hard state if changed,
     * then the snapshot if present, then the entries. Entries whose index is at or below the
     * last persisted index replace the persisted suffix from that index on (a truncation,
     * Raft §5.3: only ever of uncommitted entries).
     * The configuration is persisted by these same rules and needs no field of its own: a
     * change is a CN_ENTRY_CONFIG entry, and a node uses the latest configuration in its log
     * whether or not it is committed (Raft §6; thesis §4.1), so it is durable exactly when
     * its entry is, and a truncation that removes the entry reverts to the configuration
     * before it; a snapshot carries the configuration in force at its index
     * (snapshot.members), which a restart uses until a later configuration entry. A driver
     * that takes a snapshot itself must put there the configuration of the latest
     * CN_ENTRY_CONFIG it applied at or below the snapshot's index (or the one the core was
     * created with). */
    bool hard_state_changed;
    struct cn_hard_state hard_state;
    /* A received snapshot chunk: write `snapshot_chunk_len` bytes at `snapshot_chunk_offset`
     * of the staging copy of the snapshot described by `snapshot` (offset 0 starts a new one). */
    uint32_t snapshot_chunk_len;
    uint64_t snapshot_chunk_offset;
    const uint8_t *snapshot_chunk;
    /* The staged snapshot is complete: install it atomically as the state machine (it holds
     * everything up to snapshot.index), discard the whole persisted log (it now starts after
     * snapshot.index), then persist the entries below, if any. */
    bool snapshot_present;
    struct cn_snapshot_meta snapshot;
    uint32_t entry_count;
    const struct cn_entry *entries;
    /* How `entries` land on disk. false (Raft): an entry at or below the last persisted index
     * truncates the persisted log from there, and entries form one consecutive run (§5.3).
     * true (Multi-Paxos): each entry replaces only the persisted value of its own slot (an
     * acceptor's accepted (ballot, value) per slot, Lamport §2.3); other slots stay, and the
     * entries need not be consecutive, but they are in ascending slot order. */
    bool entries_per_slot;

    /* (3) Only after (2) is durable: responses that promise something about this node's disk —
     * vote grants (Figure 2: persist currentTerm and votedFor before responding), append and
     * accept acknowledgements (§5.3), Paxos promises and accepteds (Lamport §2.3), and a
     * candidate's vote requests (its new term must be durable before it can win it). */
    uint32_t message_after_persist_count;
    const struct cn_message *messages_after_persist;

    /* (4) Only after (2) is durable: committed entries to apply, in index order, each once.
     * Never beyond what this node has persisted. */
    uint32_t committed_count;
    const struct cn_entry *committed;

    /* (5) After (4) is applied: reads that are now safe (thesis §6.4), in request order. */
    uint32_t read_count;
    const struct cn_read *reads;

    uint64_t commit_index; /* the core's commit index when the update was taken */
};

/* A read-only view of a core, for drivers, status commands and invariant checks. */
struct cn_status {
    cn_node_id id;
    enum cn_role role;
    cn_node_id leader;
    uint64_t term;
    cn_node_id vote;
    uint64_t commit_index;
    uint64_t applied_index;   /* highest index handed out in `committed` */
    uint64_t persisted_index; /* highest index the core knows to be durable */
    uint64_t first_index;     /* first entry held in memory (snapshot index + 1) */
    uint64_t last_index;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    struct cn_members members; /* the voters (incoming voters while joint), plain ids */
    struct cn_membership membership; /* the configuration in force (Raft §6) */
    uint64_t membership_index;  /* index of its configuration entry (or of the snapshot) */
    bool membership_pending;    /* a change is not yet complete: its entry is uncommitted,
                                   or the configuration is still joint */
    uint64_t membership_from_index; /* Multi-Paxos: the first slot the pending configuration
                                       governs (alpha after its command's slot), 0 when none */
    bool membership_unreachable; /* leader: a change is pending and the incoming voters have
                                   no quorum that answered in the last election timeout; the
                                   change cannot complete until they do (the operator must
                                   see this, not wait on it) */
    cn_node_id transfer_target; /* 0 when no transfer is in progress */
    uint64_t log_bytes;         /* entry data held in memory above the snapshot; the driver
                                   takes a snapshot before it reaches cn_config.log_bytes_max */
};

/*
 * The operations table. A driver holds a `const struct cn_ops *` and a `void *core`.
 * Preconditions are asserted: a violation is a programmer error, not an operating failure.
 */
struct cn_ops {
    const char *name; /* "raft", "paxos" */
    /* Allocates a core. Returns CN_OK or an error (bad config). */
    int (*create)(const struct cn_config *config, const struct cn_restore *restore, void **core);
    void (*destroy)(void *core);
    /* Feeds one event. Returns CN_OK, or an error for proposals/reads that were refused
     * (nothing was changed then). Messages that are stale or malformed are dropped, CN_OK. */
    int (*step)(void *core, const struct cn_event *event);
    bool (*has_update)(const void *core);
    /* Precondition: has_update, and no update outstanding. */
    void (*get_update)(void *core, struct cn_update *update);
    /* Precondition: `update` is the outstanding one and every rule in it was carried out. */
    void (*ack_update)(void *core, const struct cn_update *update);
    void (*status)(const void *core, struct cn_status *status);
    /* Messages that may leave now although an update is outstanding: only what update rule 1
     * allows (the leader's appends of entries proposed since, heartbeats, vote requests), so
     * that the leader's replication need not wait for its own fdatasync (thesis §10.2.1).
     * Optional: NULL in a core without it, and drivers may simply not call it. Returns the
     * count; the array stays valid until the next call into the core. */
    uint32_t (*take_messages)(void *core, const struct cn_message **messages);
    /* Term of the entry at index, if the core holds it (or it is the snapshot's index). */
    bool (*entry_term)(const void *core, uint64_t index, uint64_t *term);
    /* The configuration at the core's compaction point (status.snapshot_index), packed
     * (consensus/membership.h), for a driver that took the snapshot of that index: what it
     * must write as snapshot.members. Optional: NULL in a core whose configuration there is
     * always the latest CN_ENTRY_CONFIG applied at or below the index (Raft §6), which the
     * driver knows from what it applied. Multi-Paxos has it: a configuration chosen at or
     * below the index may govern only later slots (the alpha window), and then the packed
     * form is joint. count 0 when the core cannot tell. */
    void (*snapshot_members)(const void *core, struct cn_members *out);
};

#endif
