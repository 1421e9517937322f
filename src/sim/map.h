/*
 * map.h — an open-addressing hash map from a pair of u64 keys to a u64 value, for the
 * invariant checks (term -> leader, (index, term) -> rolling hash). Linear probing, power-of-two
 * capacity, grown at half load up to a named bound; cleared (not freed) between seeds.
 */
#ifndef CHORUS_SIM_MAP_H
#define CHORUS_SIM_MAP_H

#include <stdbool.h>
#include <stdint.h>

enum { SIM_MAP_SLOTS_MAX = 1u << 22 };

struct sim_map_slot {
    uint64_t k1;
    uint64_t k2;
    uint64_t value;
    bool used;
};

struct sim_map {
    struct sim_map_slot *slots;
    uint32_t capacity; /* power of two */
    uint32_t count;
};

int sim_map_init(struct sim_map *map, uint32_t capacity);
void sim_map_free(struct sim_map *map);
void sim_map_clear(struct sim_map *map);
/* The value stored for (k1, k2), if any. */
bool sim_map_get(const struct sim_map *map, uint64_t k1, uint64_t k2, uint64_t *value);
/* Stores value for (k1, k2) unless a value is stored already; *stored receives the value the
 * map holds afterwards. Returns 0, or -1 when the bound is reached or memory ran out. */
int sim_map_put_once(struct sim_map *map, uint64_t k1, uint64_t k2, uint64_t value,
                     uint64_t *stored);

#endif
