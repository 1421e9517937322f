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
 * probe starts looking for a leader. */
void sim_fault_end(struct sim *sim)
{
    sim_net_heal(&sim->net);
    for (uint32_t i = 0; i < sim->node_count; i++) sim->nodes[i].disk_slow_until_us = 0;
    sim->net.delay_us_max = sim->net.delay_us_min + 1000;
    SIM_TRACE(sim, -1, "faults end: network healed, restarting crashed nodes");
    for (uint32_t i = 0; i < sim->node_count && !sim->check.failed; i++)
        if (!sim->nodes[i].alive) sim_node_start(sim, i);
    memset(&sim->probe, 0, sizeof(sim->probe));
    sim->probe.active = true;
    sim_schedule(sim, sim->params.tick_us, SIM_EV_PROBE, 0, 0, NULL);
}

/* Proposes the probe command on the node that leads, if any. */
static void sim_probe_propose(struct sim *sim)
{
    struct sim_probe *p = &sim->probe;
    int leader = sim_fault_leader(sim);
    if (leader < 0) return;
    struct sim_kv_command command = {.op = SIM_KV_PROBE, .client = SIM_PROBE_CLIENT,
                                     .seq = ++p->attempt};
    int len = sim_kv_command_encode(&command, p->data, sizeof(p->data));
    assert(len > 0);
    p->data_len = (uint32_t)len;
    p->data_hash = sim_disk_data_hash(p->data, p->data_len);
    uint64_t index = 0;
    struct cn_event event = {.type = CN_EVENT_PROPOSE, .data = p->data, .data_len = p->data_len,
                             .out_index = &index};
    if (sim_node_step(sim, (uint32_t)leader, &event) != CN_OK) return;
    p->proposed = true;
    p->node = (uint32_t)leader;
    p->index = index;
    SIM_TRACE(sim, leader, "liveness probe proposed at %" PRIu64, index);
}

/* Every tick after the faults end: done once the probe is applied everywhere; a violation when
 * the deadline passes first. */
void sim_probe_step(struct sim *sim)
{
    struct sim_probe *p = &sim->probe;
    if (p->proposed) {
        const struct sim_check_applied *applied = sim_check_applied_at(&sim->check, p->index);
        if (applied != NULL && applied->data_hash != p->data_hash) {
            p->proposed = false; /* overwritten before it committed: propose again */
        } else if (applied != NULL) {
            bool everywhere = true;
            for (uint32_t i = 0; i < sim->node_count; i++)
                everywhere &= sim->nodes[i].alive && sim->nodes[i].applied_index >= p->index;
            if (everywhere) {
                SIM_TRACE(sim, -1, "liveness: probe %" PRIu64 " applied on every node", p->index);
                sim->done = true;
                return;
            }
        }
    }
    if (!p->proposed) sim_probe_propose(sim);
    if (sim->now_us >= sim->params.faults_end_us + sim->params.liveness_deadline_us) {
        char roles[128] = "";
        size_t at = 0;
        for (uint32_t i = 0; i < sim->node_count && at < sizeof(roles); i++) {
            const struct sim_node *n = &sim->nodes[i];
            int w = snprintf(roles + at, sizeof(roles) - at, " n%u:%s/t%" PRIu64 "/a%" PRIu64,
                             i + 1, cn_role_name(n->role), n->term, n->applied_index);
            if (w < 0) break;
            at += (size_t)w;
        }
        sim_check_fail(&sim->check, "liveness",
                       "no leader committed and applied a probe on every node within %" PRId64
                       " ms of healing (probe %s at %" PRIu64 ");%s",
                       sim->params.liveness_deadline_us / 1000,
                       p->proposed ? "proposed" : "never accepted", p->index, roles);
        return;
    }
    sim_schedule(sim, sim->params.tick_us, SIM_EV_PROBE, 0, 0, NULL);
}
