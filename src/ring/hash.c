/*
 * hash.c — the ring's hashes. Values are laid out little-endian before hashing so that every
 * machine computes the same ring; XXH3 is the one function (Debian's libxxhash).
 */
#include <xxhash.h>

#include "ring/ring_internal.h"

static void hash_put_le64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(value >> (8 * i));
}

uint64_t ring_hash_pair(uint64_t a, uint32_t b, uint64_t seed)
{
    uint8_t bytes[12];
    hash_put_le64(bytes, a);
    for (int i = 0; i < 4; i++) bytes[8 + i] = (uint8_t)(b >> (8 * i));
    return XXH3_64bits_withSeed(bytes, sizeof(bytes), seed);
}

uint64_t ring_hash_u64(uint64_t value, uint64_t seed)
{
    uint8_t bytes[8];
    hash_put_le64(bytes, value);
    return XXH3_64bits_withSeed(bytes, sizeof(bytes), seed);
}

uint64_t ring_hash_key(const void *key, size_t length)
{
    /* XXH3 reads nothing when length is 0, but a NULL pointer for an empty key is still odd
     * enough to be worth allowing explicitly: an empty key is a valid key. */
    static const uint8_t empty[1] = {0};
    return XXH3_64bits(length > 0 ? key : empty, length);
}

uint64_t ring_hash_shard(uint64_t shard_id)
{
    return ring_hash_u64(shard_id, RING_SEED_SHARD);
}
