/*
 * random.h — the deterministic generator both cores draw from (splitmix64).
 *
 * A core never calls rand() (docs/architecture.md, rule 1): its randomness comes from this
 * generator, seeded through cn_config.random_seed and the node id, so that a simulator seed
 * replays exactly and two nodes of one cluster draw different election timeouts.
 */
#ifndef CHORUS_CONSENSUS_RANDOM_H
#define CHORUS_CONSENSUS_RANDOM_H

#include <stdint.h>

#include "consensus/consensus.h"

struct cn_random {
    uint64_t state;
};

/* The seed every core uses: the configured seed with the node id in the high half. */
static inline void cn_random_seed(struct cn_random *random, const struct cn_config *config)
{
    random->state = config->random_seed ^ ((uint64_t)config->id << 32);
}

/* splitmix64 (Steele, Lea and Flood 2014): one add and three mixes per draw. */
static inline uint64_t cn_random_next(struct cn_random *random)
{
    uint64_t z = (random->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
