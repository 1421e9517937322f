/* net.c — the simulated network's fault model: link cuts, loss, duplication, delay spikes. */
#include "sim/net.h"

#include <assert.h>
#include <string.h>

void sim_net_init(struct sim_net *net, uint32_t node_count, int64_t delay_us_min,
                  int64_t delay_us_max, int64_t spike_us_max)
{
    assert(node_count >= 1 && node_count <= SIM_NODES_MAX);
    assert(delay_us_min > 0);
    assert(delay_us_min <= delay_us_max);
    assert(spike_us_max >= 0);
    memset(net, 0, sizeof(*net));
    net->node_count = node_count;
    net->delay_us_min = delay_us_min;
    net->delay_us_max = delay_us_max;
    net->spike_us_max = spike_us_max;
}

void sim_net_heal_links(struct sim_net *net)
{
    memset(net->link_down, 0, sizeof(net->link_down));
}

void sim_net_heal(struct sim_net *net)
{
    sim_net_heal_links(net);
    net->drop_ppm = 0;
    net->dup_ppm = 0;
    net->spike_ppm = 0;
}

void sim_net_partition(struct sim_net *net, uint32_t side_mask)
{
    for (uint32_t a = 0; a < net->node_count; a++) {
        for (uint32_t b = 0; b < net->node_count; b++) {
            bool a_in = (side_mask >> a) & 1u, b_in = (side_mask >> b) & 1u;
            if (a_in != b_in) net->link_down[a][b] = true;
        }
    }
}

void sim_net_cut(struct sim_net *net, uint32_t from, uint32_t to)
{
    assert(from < net->node_count && to < net->node_count);
    if (from != to) net->link_down[from][to] = true;
}

void sim_net_isolate(struct sim_net *net, uint32_t node)
{
    assert(node < net->node_count);
    for (uint32_t other = 0; other < net->node_count; other++) {
        if (other == node) continue;
        net->link_down[node][other] = true;
        net->link_down[other][node] = true;
    }
}

bool sim_net_link_up(const struct sim_net *net, uint32_t from, uint32_t to)
{
    assert(from < net->node_count && to < net->node_count);
    return !net->link_down[from][to];
}

uint32_t sim_net_links_down(const struct sim_net *net)
{
    uint32_t down = 0;
    for (uint32_t a = 0; a < net->node_count; a++)
        for (uint32_t b = 0; b < net->node_count; b++) down += net->link_down[a][b];
    return down;
}

static int64_t sim_net_delay(const struct sim_net *net, struct sim_rng *rng)
{
    int64_t delay = sim_rng_range(rng, net->delay_us_min, net->delay_us_max);
    if (net->spike_ppm > 0 && net->spike_us_max > 0 && sim_rng_chance_ppm(rng, net->spike_ppm))
        delay += sim_rng_range(rng, 1, net->spike_us_max);
    assert(delay > 0);
    return delay;
}

/* The number of draws depends only on the rates, never on the message, so the network stream
 * stays aligned between protocols as far as the message counts agree. */
uint32_t sim_net_plan(const struct sim_net *net, struct sim_rng *rng, uint32_t from, uint32_t to,
                      int64_t delays_us[SIM_NET_COPIES_MAX])
{
    assert(from < net->node_count && to < net->node_count);
    if (net->link_down[from][to]) return 0;
    if (net->drop_ppm > 0 && sim_rng_chance_ppm(rng, net->drop_ppm)) return 0;
    uint32_t copies = 1;
    if (net->dup_ppm > 0 && sim_rng_chance_ppm(rng, net->dup_ppm)) copies = 2;
    for (uint32_t i = 0; i < copies; i++) delays_us[i] = sim_net_delay(net, rng);
    return copies;
}
