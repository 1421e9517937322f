/*
 * rng.h — the simulator's deterministic random streams.
 *
 * Every source of randomness in a simulated run (faults, workload, network, disk, the cores'
 * own seeds) is a separate stream derived from the run's seed, so that one stream's draws never
 * shift another's: the fault schedule of a seed stays the same whatever the protocol does with
 * it (what --compare needs). The generator is splitmix64 (Steele, Lea, Flood 2014): tiny, fast
 * and good enough for test schedules; it is not meant for anything else.
 */
#ifndef CHORUS_SIM_RNG_H
#define CHORUS_SIM_RNG_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t state;
};

/* Stream identifiers: mixed into the seed so that streams are independent. */
enum sim_rng_stream {
    SIM_RNG_FAULT = 1,
    SIM_RNG_WORKLOAD = 2,
    SIM_RNG_NETWORK = 3,
    SIM_RNG_DISK = 4,
    SIM_RNG_CORE = 5,
    SIM_RNG_PARAMS = 6,
    SIM_RNG_MEMBERSHIP = 7,
    SIM_RNG_CLOCK = 8, /* the nodes' wall clocks (clock.c) */
};

static inline uint64_t sim_rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline void sim_rng_init(struct sim_rng *rng, uint64_t seed, enum sim_rng_stream stream)
{
    rng->state = sim_rng_mix(seed ^ sim_rng_mix((uint64_t)stream * 0x632be59bd9b4e019ull));
}

static inline uint64_t sim_rng_next(struct sim_rng *rng)
{
    rng->state += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng->state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), bound > 0 (Lemire's multiply-shift; the bias is negligible here). */
static inline uint64_t sim_rng_below(struct sim_rng *rng, uint64_t bound)
{
    assert(bound > 0);
    return (uint64_t)(((unsigned __int128)sim_rng_next(rng) * bound) >> 64);
}

/* Uniform in [low, high], low <= high. */
static inline int64_t sim_rng_range(struct sim_rng *rng, int64_t low, int64_t high)
{
    assert(low <= high);
    return low + (int64_t)sim_rng_below(rng, (uint64_t)(high - low) + 1);
}

/* True with probability ppm / 1e6. */
static inline bool sim_rng_chance_ppm(struct sim_rng *rng, uint32_t ppm)
{
    return sim_rng_below(rng, 1000000) < ppm;
}

#endif
