/*
 * membership_internal.h — the state of a membership change, shared by membership.c (the
 * steps, the address book, the commands) and membership_sharded.c (the topology's part).
 */
#ifndef CHORUS_NODE_MEMBERSHIP_INTERNAL_H
#define CHORUS_NODE_MEMBERSHIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/memberbook.h"
#include "net/probe.h"
#include "node/node_internal.h"

struct net_tls_conn;

enum member_step {
    STEP_IDLE = 0,
    STEP_PROBING,   /* MEET: the probe of the new node runs on the thread pool */
    STEP_BOOK,      /* its addresses were proposed in a companion entry: wait to apply */
    STEP_LEARNER,   /* ask the core to add it as a learner */
    STEP_CATCHUP,   /* wait until it holds nearly the whole log */
    STEP_PROMOTE,   /* ask the core to make it a voter */
    STEP_REMOVE,    /* FORGET: ask the core to remove the node */
    STEP_SETTLE,    /* wait until the configuration is no longer pending */
    STEP_UNRECORD,  /* FORGET, S > 1: the topology without the node was proposed: wait */
    STEP_LEAVING,   /* FORGET, S > 1, of a replica holder: the topology marking it LEAVING */
    STEP_SETTLE_PLACEMENT, /* S > 1: a growth's moves done: new nodes ACTIVE, leaders balanced */
};

struct probe_work {
    uv_work_t work;
    struct node *node;
    char addr[NODE_ADDR_BYTES_MAX];
    struct transport_probe probe;
    int result;            /* 0, or -1 with error */
    char error[160];
    struct memberbook book;
    bool notice;           /* fire and forget */
    struct net_tls_conn *tls; /* --tls-replication: made on the loop thread, NULL otherwise */
};

struct node_members {
    struct memberbook book;
    bool joined;
    bool removed;
    /* A configuration this node learned named it (since it started). With Multi-Paxos a
     * joining node learns the configurations chosen before it was added, none of which names
     * it: only one that follows one naming it says that it was removed. */
    bool seen_member;
    /* The change in progress (leader only). */
    enum member_step step;
    cn_node_id target;
    char target_addr[NODE_ADDR_BYTES_MAX];
    uint64_t deadline_ms;
    uint64_t book_index;
    uint64_t started_term;
    uint64_t started_epoch;      /* the topology's epoch when the change began */
    uint64_t target_match;       /* the highest index the target acknowledged */
    char last_result[200];       /* how the last change ended */
    /* Whether the last change ended as asked (members_change_end's `ok`): what `chorus cluster
     * add/remove` decides by, never the text, which is for people. */
    bool last_ok;
    uint64_t changes_done, changes_failed;
    struct probe_work *probing;  /* the MEET probe in flight, or NULL */
    /* S > 1: the change in progress is the meta leader's own promotion of a learner to
     * replace a removed voter; after one fails, none is tried before promote_after_ms. */
    bool promoting;
    uint64_t promote_after_ms;
};

/* The change's bookkeeping (membership.c). */
void members_change_begin(struct node *node, struct node_group *g, enum member_step step,
                          cn_node_id target);
void members_change_end(struct node *node, bool ok, const char *text);
void members_change_fail(struct node *node, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* membership_sharded.c */
/* MEET, S > 1: proposes the topology with the probed node added (JOINING). */
void members_propose_topology_with(struct node *node, struct node_group *g,
                                   const struct memberbook_node *them);
/* FORGET, S > 1, of a node of the topology: removed, or marked LEAVING when it holds replicas. */
void members_forget_sharded(struct node_exec *e, struct node_group *g, cn_node_id id);
/* The meta leader, no change in progress: resumes an addition a leader change interrupted,
 * settles a growth's placement, or removes a LEAVING node that holds nothing. */
void members_rebalance_tick(struct node *node, struct node_group *g);
/* The meta leader, no change in progress: promotes a learner of the meta group when removals
 * left it fewer than NODE_META_VOTERS voters. Returns whether a change began. */
bool members_meta_voters_tick(struct node *node, struct node_group *g);
/* CLUSTER MEMBERS' rebalancer lines. */
void members_render_rebalance(const struct node *node, char *text, size_t cap, size_t *at);

#endif
