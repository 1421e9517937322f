/*
 * liveness.c — the end of a run: everything heals, every crashed node restarts, and a probe
 * command must be committed and applied on every node within a bounded time (20 election
 * timeouts), or the run fails with the violation "liveness".
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/world.h"

enum { SIM_PROBE_CLIENT = 0xffffffffu };

/* The end of the fault phase: everything heals, every crashed node restarts, and the liveness
 * probes (one per group) start looking for leaders. */
void sim_fault_end(struct sim *sim)
{
    sim_net_heal(&sim->net);
    for (uint32_t i = 0; i < sim->node_count; i++) sim->nodes[i].disk_slow_until_us = 0;
    sim->net.delay_us_max = sim->net.delay_us_min + 1000;
    SIM_TRACE(sim, -1, "faults end: network healed, restarting crashed nodes");
    for (uint32_t i = 0; i < sim->node_count && !sim_failed(sim); i++)
        if (!sim->nodes[i].alive) sim_node_start(sim, i);
    memset(sim->probes, 0, sizeof(sim->probes));
    sim->probing = true;
    sim_schedule(sim, sim->params.tick_us, SIM_EV_PROBE, 0, 0, NULL);
}

/* Proposes the group's probe command on the node that leads it, if any. */
static void sim_probe_propose(struct sim *sim, uint32_t group)
{
    struct sim_probe *p = &sim->probes[group];
    int leader = sim_fault_leader(sim, group);
    if (leader < 0) return;
    struct sim_kv_command command = {.op = SIM_KV_PROBE, .client = SIM_PROBE_CLIENT,
                                     .seq = ++p->attempt};
    int len = sim_kv_command_encode(&command, p->data, sizeof(p->data));
    assert(len > 0);
    p->data_len = (uint32_t)len;
    p->data_hash = sim_disk_data_hash(p->data, p->data_len);
    uint64_t index = 0, term = 0;
    struct cn_event event = {.type = CN_EVENT_PROPOSE, .data = p->data, .data_len = p->data_len,
                             .out_index = &index, .out_term = &term};
    if (sim_node_step(sim, (uint32_t)leader, group, &event) != CN_OK) return;
    p->proposed = true;
    p->node = (uint32_t)leader;
    p->index = index;
    p->term = term;
    SIM_TRACE_GROUP(sim, leader, group, "liveness probe proposed at %" PRIu64, index);
}

/* One look at a group's probe: done once it is applied on every node; proposed (again) when
 * it is not, or was overwritten before it committed. */
static void sim_probe_look(struct sim *sim, uint32_t group)
{
    struct sim_probe *p = &sim->probes[group];
    if (p->done) return;
    if (p->proposed) {
        const struct sim_check_applied *applied =
            sim_check_applied_at(&sim->checks[group], p->index);
        int leader = sim_fault_leader(sim, group);
        if (applied != NULL && applied->data_hash != p->data_hash) {
            p->proposed = false; /* overwritten before it committed: propose again */
        } else if (applied == NULL && leader >= 0 && !sim_keys_in_group(sim, group) &&
                   sim_replica(sim, (uint32_t)leader, group)->term > p->term) {
            /* The probe's leader lost its reign before the probe committed, and the new leader
             * may never commit anything at its index: in a group that holds none of the
             * clients' keys no other entry comes to overwrite it (in the others one does). */
            p->proposed = false;
        } else if (applied != NULL) {
            bool everywhere = true;
            for (uint32_t i = 0; i < sim->node_count; i++)
                everywhere &= !sim_membership_probe_needs(sim, group, i) ||
                              (sim->nodes[i].alive &&
                               sim_replica(sim, i, group)->applied_index >= p->index);
            if (everywhere) {
                SIM_TRACE_GROUP(sim, -1, group, "liveness: probe %" PRIu64
                                " applied on every node", p->index);
                p->done = true;
                return;
            }
        }
    }
    if (!p->proposed) sim_probe_propose(sim, group);
}

/* The liveness violation of a group whose probe did not make it in time. */
static void sim_probe_fail(struct sim *sim, uint32_t group)
{
    const struct sim_probe *p = &sim->probes[group];
    char roles[128] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < sim->node_count && at < sizeof(roles); i++) {
        const struct sim_replica *r = sim_replica(sim, i, group);
        int w = snprintf(roles + at, sizeof(roles) - at, " n%u:%s/t%" PRIu64 "/a%" PRIu64,
                         i + 1, cn_role_name(r->role), r->term, r->applied_index);
        if (w < 0) break;
        at += (size_t)w;
    }
    sim_check_fail(&sim->checks[group], "liveness",
                   "no leader committed and applied a probe on every node within %" PRId64
                   " ms of healing (probe %s at %" PRIu64 ");%s",
                   sim->params.liveness_deadline_us / 1000,
                   p->proposed ? "proposed" : "never accepted", p->index, roles);
}

/* Every tick after the faults end: done once every group's probe is applied everywhere; a
 * violation when the deadline passes first. */
void sim_probe_step(struct sim *sim)
{
    bool all_done = true;
    for (uint32_t g = 0; g < sim->group_count && !sim_failed(sim); g++) {
        sim_probe_look(sim, g);
        all_done &= sim->probes[g].done;
    }
    if (sim_failed(sim)) return;
    if (all_done) {
        sim->done = true;
        return;
    }
    if (sim->now_us >= sim->params.faults_end_us + sim->params.liveness_deadline_us) {
        for (uint32_t g = 0; g < sim->group_count; g++)
            if (!sim->probes[g].done) {
                sim_probe_fail(sim, g);
                return;
            }
    }
    sim_schedule(sim, sim->params.tick_us, SIM_EV_PROBE, 0, 0, NULL);
}
