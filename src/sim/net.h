/*
 * net.h — the simulated network's fault model.
 *
 * A pure model: given the current link states and rates it decides, for one message, how many
 * copies arrive and after which delays (none when the link is cut or the message is lost; two
 * when it is duplicated; a delay spike reorders it behind later messages). It owns no messages
 * and knows no protocol; the driver (run.c) moves the bytes. Nodes are indices 0..count-1.
 */
#ifndef CHORUS_SIM_NET_H
#define CHORUS_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "sim/rng.h"

enum {
    SIM_NODES_MAX = CN_MEMBERS_MAX,
    SIM_NET_COPIES_MAX = 2, /* a message arrives at most twice (one duplicate) */
};

struct sim_net {
    uint32_t node_count;
    bool link_down[SIM_NODES_MAX][SIM_NODES_MAX]; /* [from][to]: messages from->to are lost */
    uint32_t drop_ppm;     /* loss probability, parts per million */
    uint32_t dup_ppm;      /* duplication probability */
    uint32_t spike_ppm;    /* probability of a delay spike (reordering) */
    int64_t delay_us_min;  /* ordinary one-way delay range */
    int64_t delay_us_max;
    int64_t spike_us_max;  /* a spike adds up to this much */
};

/* A healthy network of `node_count` nodes with the given ordinary delay range. */
void sim_net_init(struct sim_net *net, uint32_t node_count, int64_t delay_us_min,
                  int64_t delay_us_max, int64_t spike_us_max);
/* Every link up, no loss, no duplication, no spikes. */
void sim_net_heal(struct sim_net *net);
/* Heals the links only (rates stay). */
void sim_net_heal_links(struct sim_net *net);
/* Cuts every link between the nodes whose bit is set in side_mask and the others, both ways. */
void sim_net_partition(struct sim_net *net, uint32_t side_mask);
/* Cuts the one direction from -> to (an asymmetric fault). */
void sim_net_cut(struct sim_net *net, uint32_t from, uint32_t to);
/* Cuts every link to and from `node`. */
void sim_net_isolate(struct sim_net *net, uint32_t node);
bool sim_net_link_up(const struct sim_net *net, uint32_t from, uint32_t to);
/* Number of links currently cut (for traces). */
uint32_t sim_net_links_down(const struct sim_net *net);

/* Decides the fate of one message from -> to: returns the number of copies that will arrive
 * (0..SIM_NET_COPIES_MAX) and writes their delays (> 0) into delays_us. Draws from `rng` only. */
uint32_t sim_net_plan(const struct sim_net *net, struct sim_rng *rng, uint32_t from, uint32_t to,
                      int64_t delays_us[SIM_NET_COPIES_MAX]);

#endif
