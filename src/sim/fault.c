/*
 * fault.c — the fault schedule: network faults, crashes, slow disks, leadership moves.
 *
 * Fault actions fire at random gaps drawn from the fault stream only, so the times and kinds of
 * a seed's faults do not depend on the protocol (what --compare needs). Three things do look at
 * the cluster, on purpose: "the leader" is often the target of a crash or an isolation, a new
 * leader is sometimes crashed within milliseconds of its election, and a leader whose commit
 * index rests on an older term's entry is crashed at once. Crashing the leader right after it
 * sent appends that reached some followers, then letting another node win, is how Figure-8
 * style histories (Raft §5.4.2) arise; uniform random crashes almost never produce them.
 */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "sim/world.h"


enum {
    SIM_FAULT_KINDS = 10,
    SIM_FAULT_DRAWS_MAX = 1000, /* draws to find an enabled kind */
    SIM_FAULT_CRASH_KIND = 7,
    SIM_FAULT_LEADER_CRASH_US = 10000,
};

/* A node currently seen as the group's leader (the one with the highest term), or -1. */
int sim_fault_leader(const struct sim *sim, uint32_t group)
{
    int leader = -1;
    uint64_t term = 0;
    for (uint32_t i = 0; i < sim->node_count; i++) {
        const struct sim_replica *r = &sim->nodes[i].replicas[group];
        if (sim->nodes[i].alive && r->role == CN_ROLE_LEADER && r->term >= term) {
            leader = (int)i;
            term = r->term;
        }
    }
    return leader;
}

/* The group whose leader the next leader-directed fault aims at: the groups take turns (no
 * draw, so that the fault stream is the same for any number of groups). */
static uint32_t sim_fault_group_next(struct sim *sim)
{
    uint32_t group = sim->fault_group;
    sim->fault_group = (group + 1) % sim->group_count;
    return group;
}

/* Half the time the leader of a group (when there is one), else a node drawn at random. Both
 * draws are always made so that the fault stream does not shift. */
static uint32_t sim_fault_target(struct sim *sim)
{
    uint32_t random_node = (uint32_t)sim_rng_below(&sim->rng_fault, sim->node_count);
    bool pick_leader = sim_rng_below(&sim->rng_fault, 2) == 0;
    int leader = sim_fault_leader(sim, sim_fault_group_next(sim));
    return pick_leader && leader >= 0 ? (uint32_t)leader : random_node;
}

uint32_t sim_nodes_down(const struct sim *sim)
{
    uint32_t down = 0;
    for (uint32_t i = 0; i < sim->node_count; i++) down += !sim->nodes[i].alive;
    return down;
}

static void sim_fault_schedule_heal(struct sim *sim)
{
    sim_schedule(sim, sim_rng_range(&sim->rng_fault, 50000, 1500000), SIM_EV_HEAL_LINKS, 0, 0,
                 NULL);
}

static void sim_fault_crash(struct sim *sim)
{
    uint32_t node = sim_fault_target(sim);
    int64_t down_us = sim_rng_range(&sim->rng_fault, 5000, 800000);
    /* Up to a majority may be down at once: no progress then, but safety must hold. */
    if (!sim->nodes[node].alive || sim_nodes_down(sim) >= sim->node_count / 2 + 1) return;
    /* Storage "wal": half the crashes of an idle node wait for its next write (the draw is
     * from the disk stream, so that the fault stream stays the same as with "mem"). */
    struct sim_node *n = &sim->nodes[node];
    if (n->wal != NULL && !n->batch_outstanding && sim_rng_below(&sim->rng_disk, 2) == 0) {
        n->crash_in_write = true;
        SIM_TRACE(sim, (int)node, "fault: crash during the next disk write");
        return;
    }
    sim_node_crash(sim, node);
    sim_schedule(sim, down_us, SIM_EV_RESTART, node, 0, NULL);
}

/* Figure 8 (Raft §5.4.2) needs a leader that dies soon after its election, while it is
 * re-replicating older-term entries and before its own entries reach a majority. Crashes at
 * random instants rarely land in that window, so a new leader is crashed within
 * SIM_FAULT_LEADER_CRASH_US of its election one time in leader_crash_odds (2 or 8 by seed: many
 * elections, or longer reigns with more commits). With S groups the odds are S times lower:
 * a crash ends the reigns of every group the node leads, and S groups elect S times as often,
 * so that crashes stay as frequent as with one group. */
void sim_fault_new_leader(struct sim *sim, uint32_t node, uint32_t group)
{
    (void)group;
    if (!(sim->options.faults & SIM_FAULT_CRASH) || sim->probing) return;
    if (sim->now_us >= sim->params.faults_end_us || sim->now_us < sim->params.faults_start_us)
        return;
    uint64_t odds = (uint64_t)sim->params.leader_crash_odds * sim->group_count;
    if (sim_rng_below(&sim->rng_fault, odds) != 0) return;
    int64_t delay = (int64_t)sim_rng_below(&sim->rng_fault, SIM_FAULT_LEADER_CRASH_US);
    sim_schedule(sim, delay, SIM_EV_CRASH, node, sim->nodes[node].incarnation, NULL);
}

/* Figure 8's decisive moment: a leader's commit index rests on an entry of an earlier term.
 * A correct core never gets there (old entries commit together with one of its own term), so
 * this costs nothing; a core that commits old-term entries by counting replicas is caught when
 * the leader dies right then, its last messages dying with it, and a node holding a newer
 * conflicting entry wins the next election. */
void sim_fault_old_term_commit(struct sim *sim, uint32_t node, uint32_t group)
{
    if (!(sim->options.faults & SIM_FAULT_CRASH) || sim->probing) return;
    if (sim->now_us >= sim->params.faults_end_us) return;
    SIM_TRACE_GROUP(sim, (int)node, group, "fault: the leader committed up to an older "
                    "term's entry");
    sim_schedule(sim, 0, SIM_EV_CRASH, node, sim->nodes[node].incarnation | SIM_CRASH_LONG, NULL);
}

void sim_fault_crash_planned(struct sim *sim, uint32_t node, uint64_t incarnation)
{
    struct sim_node *n = &sim->nodes[node];
    bool long_down = (incarnation & SIM_CRASH_LONG) != 0;
    bool in_write = (incarnation & SIM_CRASH_IN_WRITE) != 0;
    if (!n->alive || n->incarnation != (incarnation & ~(SIM_CRASH_LONG | SIM_CRASH_IN_WRITE)))
        return;
    if (in_write && sim_nodes_down(sim) >= sim->node_count / 2 + 1) return;
    /* A long absence lets the others elect a leader among themselves. */
    int64_t down_us = long_down ? sim_rng_range(&sim->rng_fault, 300000, 1000000)
                                : sim_rng_range(&sim->rng_fault, 5000, 800000);
    SIM_TRACE(sim, (int)node, in_write ? "fault: crash during a disk write"
                                       : "fault: crash the leader (planned)");
    sim_node_crash(sim, node);
    sim_schedule(sim, down_us, SIM_EV_RESTART, node, 0, NULL);
}

/* Moves one group's leadership around on purpose: its leader is asked to transfer to another
 * node (thesis §3.10), or, when it has no leader, a node is told to campaign now. */
static void sim_fault_transfer(struct sim *sim)
{
    uint32_t other = (uint32_t)sim_rng_below(&sim->rng_fault, sim->node_count);
    uint32_t group = sim_fault_group_next(sim);
    int leader = sim_fault_leader(sim, group);
    if (leader >= 0 && other != (uint32_t)leader) {
        struct cn_event event = {.type = CN_EVENT_TRANSFER, .target = other + 1};
        SIM_TRACE_GROUP(sim, leader, group, "fault: transfer leadership to n%u", other + 1);
        sim_node_step(sim, (uint32_t)leader, group, &event);
    } else if (sim->nodes[other].alive) {
        struct cn_event event = {.type = CN_EVENT_CAMPAIGN};
        SIM_TRACE_GROUP(sim, (int)other, group, "fault: campaign now");
        sim_node_step(sim, other, group, &event);
    }
}

/* Applies one fault action of the enabled kind `kind` (an index into the fault bits). */
static void sim_fault_apply(struct sim *sim, uint32_t kind)
{
    struct sim_rng *rng = &sim->rng_fault;
    struct sim_net *net = &sim->net;
    uint32_t rate = (uint32_t)sim_rng_below(rng, 3) == 0 ? 0 : (uint32_t)sim_rng_below(rng, 1000);
    switch (1u << kind) {
    case SIM_FAULT_DROP: net->drop_ppm = rate * 50; break;          /* 0-5% */
    case SIM_FAULT_DUP: net->dup_ppm = rate * 20; break;            /* 0-2% */
    case SIM_FAULT_DELAY: net->delay_us_max = net->delay_us_min + 1000 + rate * 20; break;
    case SIM_FAULT_REORDER: net->spike_ppm = rate * 100; break;     /* 0-10% spikes */
    case SIM_FAULT_PARTITION: {
        uint32_t mask = 1 + (uint32_t)sim_rng_below(rng, (1u << sim->node_count) - 2);
        sim_net_partition(net, mask);
        sim_fault_schedule_heal(sim);
        break;
    }
    case SIM_FAULT_ASYM: {
        uint32_t from = (uint32_t)sim_rng_below(rng, sim->node_count);
        uint32_t to = (from + 1 + (uint32_t)sim_rng_below(rng, sim->node_count - 1)) %
                      sim->node_count;
        sim_net_cut(net, from, to);
        sim_fault_schedule_heal(sim);
        break;
    }
    case SIM_FAULT_ISOLATE:
        sim_net_isolate(net, sim_fault_target(sim));
        sim_fault_schedule_heal(sim);
        break;
    case SIM_FAULT_CRASH: sim_fault_crash(sim); break;
    case SIM_FAULT_TRANSFER: sim_fault_transfer(sim); break;
    case SIM_FAULT_DISK: {
        uint32_t node = (uint32_t)sim_rng_below(rng, sim->node_count);
        sim->nodes[node].disk_slow_until_us =
            sim->now_us + sim_rng_range(rng, 50000, 1000000);
        sim->nodes[node].disk_slow_us_max = sim_rng_range(rng, 5000, 60000);
        break;
    }
    default: assert(!"unknown fault kind");
    }
}

static const char *const sim_fault_kind_names[SIM_FAULT_KINDS] = {
    "drop", "dup", "delay", "reorder", "partition", "asym", "isolate", "crash", "transfer", "disk"};

void sim_fault_next(struct sim *sim)
{
    if (sim->options.faults == 0) return;
    uint32_t kind = SIM_FAULT_KINDS;
    /* Crashes are drawn twice as often as each other kind: they make the elections. */
    for (uint32_t draw = 0; draw < SIM_FAULT_DRAWS_MAX; draw++) {
        uint32_t k = (uint32_t)sim_rng_below(&sim->rng_fault, SIM_FAULT_KINDS + 2);
        if (k >= SIM_FAULT_KINDS) k = SIM_FAULT_CRASH_KIND;
        if (sim->options.faults & (1u << k)) {
            kind = k;
            break;
        }
    }
    if (kind < SIM_FAULT_KINDS) sim_fault_apply(sim, kind);
    else kind = SIM_FAULT_CRASH_KIND; /* for the trace only: nothing was enabled */
    SIM_TRACE(sim, -1, "fault %s: drop %u ppm, dup %u ppm, spikes %u ppm, delay <= %" PRId64
              " us, %u links down, %u nodes down", sim_fault_kind_names[kind],
              sim->net.drop_ppm, sim->net.dup_ppm, sim->net.spike_ppm, sim->net.delay_us_max,
              sim_net_links_down(&sim->net), sim_nodes_down(sim));
    sim_schedule(sim, sim_rng_range(&sim->rng_fault, sim->params.fault_gap_us_min,
                                    sim->params.fault_gap_us_max),
                 SIM_EV_FAULT, 0, 0, NULL);
}

void sim_fault_heal_links(struct sim *sim)
{
    if (sim->probing) return;
    sim_net_heal_links(&sim->net);
    SIM_TRACE(sim, -1, "fault heal: every link up");
}

