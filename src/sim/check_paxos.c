/*
 * check_paxos.c — invariants that hold for Multi-Paxos only (Lamport, "Paxos Made Simple"
 * 2001, §2.2), checked against every acceptor's persisted state, not against what a leader
 * believes:
 *  - Chosen: a value is chosen in a slot when a majority of disks held the same (slot, ballot,
 *    value): an acceptance is a fact once persisted, even when a higher ballot later replaces
 *    it on that disk (§2.2 counts acceptances; a disk may already hold the next leader's
 *    ballot of that same value when the last acceptance of the majority lands). Computed
 *    incrementally: every (slot, ballot) ever persisted has one record with its value and the
 *    set of nodes that persisted it; a write touches one record.
 *  - One value per ballot: no two disks ever hold different values in one slot under one
 *    ballot (a proposer proposes one value per slot per ballot).
 *  - Safety (P2b): once v is chosen in ballot b, every disk that holds the slot under a
 *    ballot above b holds v; hence no two different values are ever chosen in a slot, and a
 *    chosen value never changes (checked both when a value becomes chosen, against every
 *    disk, and on every later write).
 *  - Acceptors keep their word: an accepted value above the disk's snapshot never disappears
 *    from its disk (it may be replaced by a higher ballot's value, or compacted once chosen).
 *  - Learners apply only chosen values: every index some node applied holds the chosen value
 *    (the neutral checks make every other applier agree with the first one).
 *  - Promises never go backwards, across restarts too: a disk's promised ballot never
 *    decreases, and a node leads only in a ballot of its own at or above its persisted promise.
 *  - A new leader holds every slot chosen in a lower ballot above its snapshot (phase 1 recovers
 *    them through the quorum intersection).
 *
 * The views of compacted slots are kept: a slot is compacted only once chosen and applied, and
 * the acceptor's answer for it is then the chosen value. Applied indexes are checked at the next
 * hook call after they are applied (the hooks run after every disk write and every new leader).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/check.h"
#include "sim/map.h"

enum {
    SIM_CHECK_PAXOS_SLOTS_MIN = 1024,
    SIM_CHECK_PAXOS_SLOTS_MAX = SIM_CHECK_INDEX_MAX, /* slots a seed may use */
};

/* One node's last persisted (ballot, value) of one slot. */
struct paxos_view {
    uint64_t ballot;
    uint64_t data_hash;
    uint8_t type;
    bool present;
};

/* Every node that ever persisted one (slot, ballot), and the value. */
struct paxos_accepted {
    uint64_t data_hash;
    uint8_t type;
    uint32_t nodes; /* bit = node index */
};

/* The value chosen in one slot, with the lowest ballot it was seen chosen in. */
struct paxos_chosen {
    uint64_t ballot;
    uint64_t data_hash;
    uint8_t type;
    bool set;
};

struct paxos_check {
    struct paxos_view *views[SIM_NODES_MAX]; /* [node][slot], capacity slots each */
    struct paxos_chosen *chosen;             /* [slot] */
    uint64_t capacity;
    uint64_t slot_max;                       /* highest slot any view or record holds */
    uint64_t view_max[SIM_NODES_MAX];        /* highest slot of each node's view */
    const struct sim_disk *disks[SIM_NODES_MAX];
    uint64_t snapshot_seen[SIM_NODES_MAX];   /* the disk's snapshot index at the last look */
    bool rescan_pending[SIM_NODES_MAX];      /* look at every slot above the snapshot again */
    uint64_t promise_max[SIM_NODES_MAX];     /* highest promise persisted, any incarnation */
    uint64_t applied_checked;                /* applied indexes 1..this are checked */
    struct sim_map accepted_by_slot_ballot;  /* (slot, ballot) -> index into accepted */
    struct paxos_accepted *accepted;
    uint64_t accepted_count;
    uint64_t accepted_capacity;
};

static int sim_check_paxos_grow(struct paxos_check *s, uint64_t slot)
{
    if (slot < s->capacity) return 0;
    if (slot >= SIM_CHECK_PAXOS_SLOTS_MAX) return -1;
    uint64_t capacity = s->capacity;
    while (capacity <= slot) capacity *= 2;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++) {
        struct paxos_view *grown = realloc(s->views[i], sizeof(*grown) * capacity);
        if (grown == NULL) return -1;
        memset(grown + s->capacity, 0, sizeof(*grown) * (capacity - s->capacity));
        s->views[i] = grown;
    }
    struct paxos_chosen *chosen = realloc(s->chosen, sizeof(*chosen) * capacity);
    if (chosen == NULL) return -1;
    memset(chosen + s->capacity, 0, sizeof(*chosen) * (capacity - s->capacity));
    s->chosen = chosen;
    s->capacity = capacity;
    return 0;
}

static void sim_check_paxos_free(void *state)
{
    struct paxos_check *s = state;
    if (s == NULL) return;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++) free(s->views[i]);
    free(s->chosen);
    free(s->accepted);
    sim_map_free(&s->accepted_by_slot_ballot);
    free(s);
}

static int sim_check_paxos_init(void **state)
{
    struct paxos_check *s = calloc(1, sizeof(*s));
    if (s == NULL) return -1;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++) {
        s->views[i] = calloc(SIM_CHECK_PAXOS_SLOTS_MIN, sizeof(*s->views[i]));
        if (s->views[i] == NULL) goto err;
    }
    s->chosen = calloc(SIM_CHECK_PAXOS_SLOTS_MIN, sizeof(*s->chosen));
    if (s->chosen == NULL) goto err;
    s->accepted_capacity = SIM_CHECK_PAXOS_SLOTS_MIN;
    s->accepted = calloc(s->accepted_capacity, sizeof(*s->accepted));
    if (s->accepted == NULL || sim_map_init(&s->accepted_by_slot_ballot, 4096) != 0) goto err;
    s->capacity = SIM_CHECK_PAXOS_SLOTS_MIN;
    *state = s;
    return 0;
err:
    sim_check_paxos_free(s);
    return -1;
}

static void sim_check_paxos_clear(void *state)
{
    struct paxos_check *s = state;
    uint64_t used = s->slot_max + 1 < s->capacity ? s->slot_max + 1 : s->capacity;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++)
        memset(s->views[i], 0, sizeof(*s->views[i]) * used);
    memset(s->chosen, 0, sizeof(*s->chosen) * used);
    s->slot_max = 0;
    memset(s->view_max, 0, sizeof(s->view_max));
    memset(s->disks, 0, sizeof(s->disks));
    memset(s->snapshot_seen, 0, sizeof(s->snapshot_seen));
    memset(s->rescan_pending, 0, sizeof(s->rescan_pending));
    memset(s->promise_max, 0, sizeof(s->promise_max));
    s->applied_checked = 0;
    sim_map_clear(&s->accepted_by_slot_ballot);
    s->accepted_count = 0;
}

/* The record of (slot, ballot), created with `e`'s value when new; NULL at the bound. */
static struct paxos_accepted *accepted_record(struct paxos_check *s, uint64_t slot,
                                              const struct sim_disk_entry *e)
{
    if (s->accepted_count == s->accepted_capacity) {
        uint64_t capacity = s->accepted_capacity * 2;
        struct paxos_accepted *grown = realloc(s->accepted, sizeof(*grown) * capacity);
        if (grown == NULL) return NULL;
        s->accepted = grown;
        s->accepted_capacity = capacity;
    }
    uint64_t stored = 0;
    if (sim_map_put_once(&s->accepted_by_slot_ballot, slot, e->term, s->accepted_count,
                         &stored) != 0)
        return NULL;
    if (stored == s->accepted_count) {
        s->accepted[stored] = (struct paxos_accepted){.data_hash = e->data_hash, .type = e->type};
        s->accepted_count++;
    }
    return &s->accepted[stored];
}

static bool same_value(uint64_t hash_a, uint8_t type_a, uint64_t hash_b, uint8_t type_b)
{
    return hash_a == hash_b && type_a == type_b;
}

/* P2b against every disk as it is now: no disk holds the slot under a ballot above the
 * chosen one with another value (later writes are checked as they happen, in view_set). */
static void check_above_chosen(struct sim_check *check, struct paxos_check *s, uint64_t slot)
{
    const struct paxos_chosen *c = &s->chosen[slot];
    for (uint32_t j = 0; j < check->node_count; j++) {
        const struct paxos_view *v = &s->views[j][slot];
        if (!v->present || v->ballot <= c->ballot) continue;
        if (!same_value(v->data_hash, v->type, c->data_hash, c->type)) {
            sim_check_fail(check, "paxos chosen value changed",
                           "slot %" PRIu64 " was chosen in ballot %" PRIu64 " (round %" PRIu64
                           " node %u) but node %u persisted another value in higher ballot %"
                           PRIu64 " (round %" PRIu64 " node %u)", slot, c->ballot,
                           cn_ballot_round(c->ballot), cn_ballot_node(c->ballot), j + 1,
                           v->ballot, cn_ballot_round(v->ballot), cn_ballot_node(v->ballot));
            return;
        }
    }
}

/* Node `node`'s disk now holds (ballot, value) at `slot`: update its view and the slot's
 * chosen state. */
static void view_set(struct sim_check *check, struct paxos_check *s, uint32_t node,
                     uint64_t slot, const struct sim_disk_entry *e)
{
    struct paxos_view *mine = &s->views[node][slot];
    if (mine->present && mine->ballot == e->term &&
        same_value(mine->data_hash, mine->type, e->data_hash, e->type))
        return;
    if (e->term == 0) {
        sim_check_fail(check, "paxos ballot", "node %u persisted slot %" PRIu64 " in ballot 0",
                       node + 1, slot);
        return;
    }
    *mine = (struct paxos_view){.ballot = e->term, .data_hash = e->data_hash, .type = e->type,
                                .present = true};
    if (slot > s->view_max[node]) s->view_max[node] = slot;
    if (slot > s->slot_max) s->slot_max = slot;
    struct paxos_accepted *a = accepted_record(s, slot, e);
    if (a == NULL) {
        sim_check_fail(check, "bound", "too many (slot, ballot) pairs for the Paxos check");
        return;
    }
    if (!same_value(a->data_hash, a->type, e->data_hash, e->type)) {
        sim_check_fail(check, "paxos one value per ballot",
                       "node %u persisted slot %" PRIu64 " in ballot %" PRIu64 " with another "
                       "value than nodes (mask 0x%x) did", node + 1, slot, e->term, a->nodes);
        return;
    }
    a->nodes |= 1u << node;
    uint32_t holders = (uint32_t)__builtin_popcount(a->nodes);
    struct paxos_chosen *c = &s->chosen[slot];
    if (c->set && e->term > c->ballot &&
        !same_value(c->data_hash, c->type, e->data_hash, e->type)) {
        check_above_chosen(check, s, slot);
        return;
    }
    /* With membership changes a majority of all nodes says nothing: the configuration that
     * governs the slot does (checked when applied, sim_membership_check_chosen). */
    if (check->membership || holders < check->node_count / 2 + 1) return;
    if (!c->set) {
        *c = (struct paxos_chosen){.ballot = e->term, .data_hash = e->data_hash, .type = e->type,
                                   .set = true};
    } else if (!same_value(c->data_hash, c->type, e->data_hash, e->type)) {
        sim_check_fail(check, "paxos two values chosen",
                       "slot %" PRIu64 " was chosen in ballot %" PRIu64 ", and a majority "
                       "accepted another value in ballot %" PRIu64 " (last: node %u)",
                       slot, c->ballot, e->term, node + 1);
        return;
    } else if (e->term < c->ballot) {
        c->ballot = e->term;
    } else {
        return;
    }
    check_above_chosen(check, s, slot);
}

/* Every slot lo..hi of node's disk: present ones update the view; a slot the view holds that
 * the disk lost (above its snapshot) is an acceptor that broke its word. */
static void scan(struct sim_check *check, struct paxos_check *s, uint32_t node,
                 const struct sim_disk *disk, uint64_t lo, uint64_t hi)
{
    if (lo <= disk->snapshot.index) lo = disk->snapshot.index + 1;
    if (hi > 0 && sim_check_paxos_grow(s, hi) != 0) {
        sim_check_fail(check, "bound", "slot %" PRIu64 " beyond the Paxos check's bound", hi);
        return;
    }
    for (uint64_t slot = lo; slot <= hi && !sim_check_failed(check); slot++) {
        const struct sim_disk_entry *e = sim_disk_entry_at(disk, slot);
        if (e != NULL) {
            view_set(check, s, node, slot, e);
        } else if (s->views[node][slot].present) {
            const struct paxos_view *v = &s->views[node][slot];
            sim_check_fail(check, "paxos acceptor forgot",
                           "node %u's disk lost slot %" PRIu64 " (accepted in ballot %" PRIu64
                           ") above its snapshot %" PRIu64, node + 1, slot, v->ballot,
                           disk->snapshot.index);
        }
    }
}

/* The indexes applied since the last look hold their slot's chosen value. */
static void check_applied(struct sim_check *check, struct paxos_check *s)
{
    for (;;) {
        uint64_t index = s->applied_checked + 1;
        const struct sim_check_applied *applied = sim_check_applied_at(check, index);
        if (applied == NULL) return;
        const struct paxos_chosen *c = index < s->capacity ? &s->chosen[index] : NULL;
        if ((c == NULL || !c->set) && check->membership) {
            s->applied_checked = index; /* per configuration: sim_membership_check_chosen */
            continue;
        }
        if (c == NULL || !c->set) {
            sim_check_fail(check, "paxos applied but not chosen",
                           "index %" PRIu64 " (ballot %" PRIu64 ") was applied but no majority of "
                           "disks accepted it in one ballot", index, applied->term);
            return;
        }
        if (!same_value(c->data_hash, c->type, applied->data_hash, applied->type)) {
            sim_check_fail(check, "paxos applied but not chosen",
                           "index %" PRIu64 " was applied with a value other than the one "
                           "chosen in ballot %" PRIu64, index, c->ballot);
            return;
        }
        s->applied_checked = index;
    }
}

static void sim_check_paxos_persisted(struct sim_check *check, void *state, uint32_t node,
                                      const struct sim_disk *disk, uint64_t from_index)
{
    struct paxos_check *s = state;
    if (node >= check->node_count) return;
    s->disks[node] = disk;
    if (disk->hard_state.term < s->promise_max[node]) {
        sim_check_fail(check, "paxos promise went backwards",
                       "node %u persisted promise %" PRIu64 " after promise %" PRIu64, node + 1,
                       disk->hard_state.term, s->promise_max[node]);
        return;
    }
    s->promise_max[node] = disk->hard_state.term;
    uint64_t last = sim_disk_last_index(disk);
    if (disk->snapshot.index != s->snapshot_seen[node]) {
        s->snapshot_seen[node] = disk->snapshot.index;
        s->rescan_pending[node] = true;
        /* An install empties the disk above the snapshot; the same update then writes every
         * accepted value above it again, in the call that follows. Look after that one. */
        if (last == disk->snapshot.index && from_index == disk->snapshot.index + 1) return;
    }
    if (s->rescan_pending[node]) {
        s->rescan_pending[node] = false;
        uint64_t hi = last > s->view_max[node] ? last : s->view_max[node];
        scan(check, s, node, disk, disk->snapshot.index + 1, hi);
    } else {
        scan(check, s, node, disk, from_index, last);
    }
    if (!sim_check_failed(check)) check_applied(check, s);
}

static void sim_check_paxos_became_leader(struct sim_check *check, void *state, uint32_t node,
                                          const struct cn_ops *ops, const void *core,
                                          uint64_t term)
{
    struct paxos_check *s = state;
    if (node >= check->node_count) return;
    if (cn_ballot_node(term) != node + 1) {
        sim_check_fail(check, "paxos ballot", "node %u leads in ballot %" PRIu64
                       " of node %u", node + 1, term, cn_ballot_node(term));
        return;
    }
    uint64_t promised = s->promise_max[node];
    if (s->disks[node] != NULL && s->disks[node]->hard_state.term > promised)
        promised = s->disks[node]->hard_state.term;
    if (term < promised) {
        sim_check_fail(check, "paxos promise went backwards",
                       "node %u leads in ballot %" PRIu64 " below its persisted promise %"
                       PRIu64, node + 1, term, promised);
        return;
    }
    struct cn_status status;
    ops->status(core, &status);
    for (uint64_t slot = status.snapshot_index + 1; slot <= s->slot_max; slot++) {
        const struct paxos_chosen *c = &s->chosen[slot];
        if (!c->set || c->ballot >= term) continue;
        uint64_t held = 0;
        if (!ops->entry_term(core, slot, &held)) {
            sim_check_fail(check, "paxos leader completeness",
                           "node %u leads ballot %" PRIu64 " but lacks slot %" PRIu64
                           ", chosen in ballot %" PRIu64, node + 1, term, slot, c->ballot);
            return;
        }
    }
    check_applied(check, s);
}

const struct sim_check_protocol sim_check_paxos = {
    .name = "paxos",
    .durable_same_term = false,
    .init = sim_check_paxos_init,
    .clear = sim_check_paxos_clear,
    .free = sim_check_paxos_free,
    .persisted = sim_check_paxos_persisted,
    .became_leader = sim_check_paxos_became_leader,
};
