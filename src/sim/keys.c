/*
 * keys.c — the workload's keys and their groups. A key's group is found exactly as a sharded
 * node finds it (docs/sharding.md): slot_of_key (CRC16 of the key or its hash tag, mod 16,384),
 * then the shard of that slot in the even split into S shards. With one group the keys are the
 * single-group simulator's ("k0".."k4", "n0", "n1"). With several, each key gets a name that
 * lands in a chosen group, so that every group has keys when there are at least as many keys
 * as groups: string key i in group i mod S, counter j in group S-1-j mod S (so that 3 string
 * keys and 2 counters cover 4 groups). A name that does not land there by itself gets a hash
 * tag: "k1{7}" hashes "7" only.
 */
#include <assert.h>
#include <stdio.h>

#include "cluster/shardmap.h"
#include "cluster/slot.h"
#include "sim/world.h"

enum { SIM_KEY_TAG_TRIES_MAX = 100000 }; /* hash tags tried for one key (S <= 16: a few dozen) */

static uint32_t sim_key_group_meant(const struct sim *sim, uint32_t key)
{
    uint32_t groups = sim->group_count;
    if (key < SIM_STRING_KEYS_MAX) return key % groups;
    if (key >= SIM_TTL_KEY_FIRST) return (key - SIM_TTL_KEY_FIRST) % groups;
    uint32_t counter = key - SIM_STRING_KEYS_MAX;
    return (groups - 1 - counter % groups) % groups;
}

static uint32_t sim_key_group_of(const struct sim *sim, const char *name, size_t len)
{
    return shardmap_shard_of_slot(sim->shardmap, slot_of_key(name, len));
}

int sim_keys_init(struct sim *sim)
{
    for (uint32_t key = 0; key < SIM_KEYS; key++) {
        char *name = sim->key_names[key];
        size_t size = sizeof(sim->key_names[key]);
        bool counter = key >= SIM_STRING_KEYS_MAX && key < SIM_TTL_KEY_FIRST;
        bool ttl = key >= SIM_TTL_KEY_FIRST;
        uint32_t number = ttl ? key - SIM_TTL_KEY_FIRST : counter ? key - SIM_STRING_KEYS_MAX : key;
        char letter = ttl ? 'x' : counter ? 'n' : 'k';
        int len = snprintf(name, size, "%c%u", letter, number);
        assert(len > 0 && (size_t)len < size);
        uint32_t meant = sim->group_count == 1 ? 0 : sim_key_group_meant(sim, key);
        uint32_t tag = 0;
        while (sim_key_group_of(sim, name, (size_t)len) != meant) {
            if (tag == SIM_KEY_TAG_TRIES_MAX) return -1;
            len = snprintf(name, size, "%c%u{%u}", letter, number, tag++);
            assert(len > 0 && (size_t)len < size);
        }
        sim->key_groups[key] = meant;
    }
    return 0;
}

bool sim_keys_in_group(const struct sim *sim, uint32_t group)
{
    for (uint32_t key = 0; key < SIM_KEYS; key++) {
        bool used = (key >= SIM_STRING_KEYS_MAX && key < SIM_TTL_KEY_FIRST) ||
                    key < sim->params.string_keys; /* keys with a TTL are not counted */
        if (used && sim->key_groups[key] == group) return true;
    }
    return false;
}
