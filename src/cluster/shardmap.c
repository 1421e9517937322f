/*
 * shardmap.c — the even split of the slots into shards (see shardmap.h).
 */
#include "cluster/shardmap.h"

#include <assert.h>
#include <float.h>
#include <math.h>

/*
 * The split of `redis-cli --cluster create` (clusterManagerCommandCreate), step for step:
 * slots_per_node = 16384 / (float)n, and shard i ends at lround(cursor + slots_per_node - 1)
 * where cursor is the float sum of i steps. The single-precision sum drifts from the exact
 * i x 16384 / n, so from n = 78 on some boundaries differ by one slot from an exact
 * rounding; Redis users' tools and habits expect Redis's boundaries, so these are Redis's.
 * IEEE-754 single precision with no excess precision (FLT_EVAL_METHOD 0, which x86-64 and
 * AArch64 have) and no contraction (-std=c17 turns it off) make it the same on every machine.
 */
#if FLT_EVAL_METHOD != 0
#error "the shard split needs float arithmetic without excess precision (FLT_EVAL_METHOD 0)"
#endif

int shardmap_init(struct shardmap *map, uint32_t shard_count)
{
    if (shard_count < 1 || shard_count > SHARDMAP_SHARDS_MAX) return -1;
    map->shard_count = shard_count;
    float slots_per_shard = SLOT_COUNT / (float)shard_count;
    float cursor = 0.0f;
    uint32_t first = 0;
    for (uint32_t shard = 0; shard < shard_count; shard++) {
        float end = cursor + slots_per_shard - 1;
        long last = lround(end);
        if (last > SLOT_COUNT || shard == shard_count - 1) last = SLOT_LAST;
        if (last < (long)first) last = first;
        /* Each shard gets about 16 slots or more (16384 / 1024), so no range is empty, and
         * the drift of the sum stays far below one slot per shard. */
        assert(last >= (long)first && last <= SLOT_LAST);
        map->first_slot[shard] = (uint16_t)first;
        for (uint32_t slot = first; slot <= last; slot++) map->shard_of_slot[slot] = (uint16_t)shard;
        first = (uint32_t)last + 1;
        cursor += slots_per_shard;
    }
    assert(first == SLOT_COUNT);
    /* SLOT_COUNT fits in 16 bits (16,384 < 65,536): the sentinel is exact. */
    map->first_slot[shard_count] = (uint16_t)SLOT_COUNT;
    return 0;
}

uint32_t shardmap_shard_of_slot(const struct shardmap *map, uint32_t slot)
{
    assert(slot < SLOT_COUNT);
    uint32_t shard = map->shard_of_slot[slot];
    assert(shard < map->shard_count);
    return shard;
}

uint32_t shardmap_shard_of_key(const struct shardmap *map, const void *key, size_t length)
{
    return shardmap_shard_of_slot(map, slot_of_key(key, length));
}

void shardmap_range(const struct shardmap *map, uint32_t shard, uint32_t *first_out,
                    uint32_t *last_out)
{
    assert(shard < map->shard_count);
    *first_out = map->first_slot[shard];
    *last_out = (uint32_t)map->first_slot[shard + 1] - 1;
}

enum shardmap_keys_result shardmap_keys_slot(const struct resp_arg *keys, uint32_t count,
                                             uint32_t stride, uint32_t *slot_out)
{
    assert(stride >= 1);
    assert(keys != NULL || count == 0);
    if (count == 0) return SHARDMAP_KEYS_NONE;
    uint32_t slot = slot_of_key(keys[0].data, keys[0].len);
    for (uint32_t i = stride; i < count; i += stride) {
        if (slot_of_key(keys[i].data, keys[i].len) != slot) return SHARDMAP_KEYS_CROSS_SLOT;
        if (i > UINT32_MAX - stride) break; /* the next index would wrap */
    }
    *slot_out = slot;
    return SHARDMAP_KEYS_ONE_SLOT;
}
