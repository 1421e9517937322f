/* map.c — open-addressing (k1, k2) -> value map with linear probing. */
#include "sim/map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"

int sim_map_init(struct sim_map *map, uint32_t capacity)
{
    assert(capacity >= 16 && (capacity & (capacity - 1)) == 0 && capacity <= SIM_MAP_SLOTS_MAX);
    map->slots = calloc(capacity, sizeof(*map->slots));
    map->capacity = map->slots ? capacity : 0;
    map->count = 0;
    return map->slots ? 0 : -1;
}

void sim_map_free(struct sim_map *map)
{
    free(map->slots);
    memset(map, 0, sizeof(*map));
}

void sim_map_clear(struct sim_map *map)
{
    if (map->count > 0) memset(map->slots, 0, sizeof(*map->slots) * map->capacity);
    map->count = 0;
}

static uint32_t sim_map_home(const struct sim_map *map, uint64_t k1, uint64_t k2)
{
    return (uint32_t)(sim_rng_mix(k1 * 0x9e3779b97f4a7c15ull ^ k2) & (map->capacity - 1));
}

/* The slot holding (k1, k2), or the empty slot where it would go. The table is never more
 * than half full, so the probe ends within capacity steps. */
static struct sim_map_slot *sim_map_probe(const struct sim_map *map, uint64_t k1, uint64_t k2)
{
    uint32_t i = sim_map_home(map, k1, k2);
    for (uint32_t step = 0; step < map->capacity; step++) {
        struct sim_map_slot *slot = &map->slots[i];
        if (!slot->used || (slot->k1 == k1 && slot->k2 == k2)) return slot;
        i = (i + 1) & (map->capacity - 1);
    }
    assert(!"sim_map: table full");
    return NULL;
}

bool sim_map_get(const struct sim_map *map, uint64_t k1, uint64_t k2, uint64_t *value)
{
    const struct sim_map_slot *slot = sim_map_probe(map, k1, k2);
    if (!slot->used) return false;
    *value = slot->value;
    return true;
}

static int sim_map_grow(struct sim_map *map)
{
    if (map->capacity >= SIM_MAP_SLOTS_MAX) return -1;
    struct sim_map bigger;
    if (sim_map_init(&bigger, map->capacity * 2) != 0) return -1;
    for (uint32_t i = 0; i < map->capacity; i++) {
        const struct sim_map_slot *slot = &map->slots[i];
        if (!slot->used) continue;
        *sim_map_probe(&bigger, slot->k1, slot->k2) = *slot;
        bigger.count++;
    }
    sim_map_free(map);
    *map = bigger;
    return 0;
}

int sim_map_put_once(struct sim_map *map, uint64_t k1, uint64_t k2, uint64_t value,
                     uint64_t *stored)
{
    if ((map->count + 1) * 2 > map->capacity && sim_map_grow(map) != 0) return -1;
    struct sim_map_slot *slot = sim_map_probe(map, k1, k2);
    if (!slot->used) {
        *slot = (struct sim_map_slot){.k1 = k1, .k2 = k2, .value = value, .used = true};
        map->count++;
    }
    *stored = slot->value;
    return 0;
}
