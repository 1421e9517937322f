/*
 * shardmap.h — the 16,384 slots divided into S shards of contiguous slot ranges, and the slot
 * of a multi-key command's keys.
 *
 * The split is the even one Redis users know from `redis-cli --cluster create` (its
 * clusterManagerCommandCreate), computed as it does, in single-precision floats: shard i ends
 * near (i + 1) x 16384 / S - 1, the last at 16383, so S = 3 gives 0-5460, 5461-10922,
 * 10923-16383 (shardmap.c says why the floats are kept and why they are deterministic).
 *
 * A pure library: no I/O, no allocation (a shardmap is a plain struct of about 34 KiB).
 */
#ifndef CHORUS_CLUSTER_SHARDMAP_H
#define CHORUS_CLUSTER_SHARDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/slot.h"
#include "net/resp.h"

enum {
    SHARDMAP_SHARDS_MAX = 1024,
    SHARDMAP_SHARDS_DEFAULT = 16,
};

/* Redis's error for keys of different slots in one command (without the leading '-'). */
#define SHARDMAP_CROSSSLOT_ERROR "CROSSSLOT Keys in request don't hash to the same slot"

struct shardmap {
    uint32_t shard_count;                         /* 1..SHARDMAP_SHARDS_MAX */
    uint16_t first_slot[SHARDMAP_SHARDS_MAX + 1]; /* shard i holds first_slot[i] up to
                                                     first_slot[i + 1] - 1; the entry after the
                                                     last shard is SLOT_COUNT */
    uint16_t shard_of_slot[SLOT_COUNT];           /* the lookup table, 32 KiB */
};

/* The even split into shard_count shards; returns 0, or -1 when shard_count is not 1..1024. */
int shardmap_init(struct shardmap *map, uint32_t shard_count);

/* The shard holding a slot (slot < SLOT_COUNT, asserted). */
uint32_t shardmap_shard_of_slot(const struct shardmap *map, uint32_t slot);
/* The shard holding a key's slot. */
uint32_t shardmap_shard_of_key(const struct shardmap *map, const void *key, size_t length);
/* A shard's slots, first..last inclusive (shard < shard_count, asserted). */
void shardmap_range(const struct shardmap *map, uint32_t shard, uint32_t *first_out,
                    uint32_t *last_out);

enum shardmap_keys_result {
    SHARDMAP_KEYS_ONE_SLOT = 0,  /* every key hashes to *slot_out */
    SHARDMAP_KEYS_CROSS_SLOT = 1, /* two keys differ: reply SHARDMAP_CROSSSLOT_ERROR */
    SHARDMAP_KEYS_NONE = 2,      /* no key at all (count 0) */
};

/*
 * The slot of a command's keys: keys[0], keys[stride], keys[2 x stride], ... below count
 * (stride 1 for MGET and DEL's keys, 2 for MSET's key-value pairs). Stops at the first key of
 * another slot; at most count / stride + 1 keys are hashed.
 */
enum shardmap_keys_result shardmap_keys_slot(const struct resp_arg *keys, uint32_t count,
                                             uint32_t stride, uint32_t *slot_out);

#endif
