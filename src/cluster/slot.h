/*
 * slot.h — which of the 16,384 hash slots a key belongs to, computed exactly as Redis Cluster
 * computes it (cluster.c keyHashSlot), so that every cluster-aware client, which computes the
 * slot itself, agrees with the server.
 *
 * The slot is CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection; Redis's
 * crc16.c) of the key, modulo 16,384. When the key holds a '{' and, after it, a '}' with at
 * least one byte between them, only the bytes between the first '{' and the first '}' after
 * it (the hash tag) are hashed, so that "{user1000}.following" and "{user1000}.followers" share
 * a slot. "foo{}{bar}" has an empty first tag and hashes whole; "foo{{bar}}zap" hashes "{bar".
 *
 * A pure library: no I/O, no allocation.
 */
#ifndef CHORUS_CLUSTER_SLOT_H
#define CHORUS_CLUSTER_SLOT_H

#include <stddef.h>
#include <stdint.h>

enum {
    SLOT_COUNT = 16384, /* Redis Cluster's slot count; slots are 0..SLOT_COUNT-1 */
    SLOT_LAST = SLOT_COUNT - 1,
};

/* CRC16-XMODEM of bytes[0..length) (length 0 gives 0). */
uint16_t slot_crc16(const void *bytes, size_t length);

/*
 * The part of a key that is hashed: the hash tag when there is a non-empty one, else the whole
 * key. Writes its offset and length; returns 1 when a tag was found, 0 otherwise.
 */
int slot_hash_span(const void *key, size_t length, size_t *offset_out, size_t *length_out);

/* The slot of a key, 0..SLOT_LAST. Any bytes, any length, including none. */
uint16_t slot_of_key(const void *key, size_t length);

#endif
