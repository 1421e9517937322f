/*
 * kv_key.c — user keys to LMDB keys and back, and the record operations built on them.
 *
 * LMDB keys are at most 511 bytes, user keys up to KV_KEY_BYTES_MAX. Every LMDB key starts
 * with the 64-bit hash of the user key, which puts the store in hash order (SCAN's cursors);
 * then short keys are stored as they are (behind a tag byte), long keys as their prefix,
 * with the rest of the key kept at the front of the record. See kv_internal.h.
 */
#include <assert.h>
#include <string.h>
#include <xxhash.h>

#include "storage/kv_internal.h"

/* prefix (prefix_len bytes) + the key's XXH3 hash + tag + the key or its first bytes. */
static void kv_slot_init_prefixed(struct kv_slot *slot, const uint8_t *prefix, size_t prefix_len,
                                  const uint8_t *key, size_t key_len)
{
    assert(key_len <= KV_KEY_BYTES_MAX);
    assert(key != NULL || key_len == 0);
    assert(prefix_len == 0 || prefix_len == KV_ELEM_ID_BYTES);
    slot->key = key;
    slot->key_len = key_len;
    slot->prefix_len = prefix_len;
    slot->hashed = key_len > KV_KEY_INLINE_BYTES_MAX;
    if (prefix_len > 0) {
        memcpy(slot->encoded, prefix, prefix_len);
    }
    uint8_t *at = slot->encoded + prefix_len;
    uint64_t hash = XXH3_64bits(key, key_len);
    for (int i = 0; i < KV_KEY_HASH_BYTES; i++) {
        at[i] = (uint8_t)(hash >> (56 - 8 * i));
    }
    uint8_t *rest = at + KV_KEY_HASH_BYTES;
    if (!slot->hashed) {
        rest[0] = KV_KEY_TAG_INLINE;
        if (key_len > 0) {
            memcpy(rest + 1, key, key_len);
        }
        slot->encoded_len = prefix_len + KV_KEY_HASH_BYTES + 1 + key_len;
        return;
    }
    rest[0] = KV_KEY_TAG_HASHED;
    memcpy(rest + 1, key, KV_KEY_INLINE_BYTES_MAX);
    slot->encoded_len = prefix_len + KV_KEY_HASHED_BYTES;
}

void kv_slot_init(struct kv_slot *slot, const uint8_t *key, size_t key_len)
{
    kv_slot_init_prefixed(slot, NULL, 0, key, key_len);
}

void kv_slot_init_element(struct kv_slot *slot, uint64_t id, const uint8_t *element, size_t len)
{
    uint8_t prefix[KV_ELEM_ID_BYTES];
    for (int i = 0; i < KV_ELEM_ID_BYTES; i++) {
        prefix[i] = (uint8_t)(id >> (56 - 8 * i));
    }
    kv_slot_init_prefixed(slot, prefix, sizeof prefix, element, len);
}

void kv_slot_set_collection(struct kv_slot *slot, bool collection)
{
    assert(slot->prefix_len == 0);
    uint8_t *tag = &slot->encoded[KV_KEY_HASH_BYTES];
    *tag = (uint8_t)((*tag & ~KV_KEY_TAG_COLLECTION) | (collection ? KV_KEY_TAG_COLLECTION : 0));
}

bool kv_slot_is_collection(const struct kv_slot *slot)
{
    return slot->prefix_len == 0 && (slot->encoded[KV_KEY_HASH_BYTES] & KV_KEY_TAG_COLLECTION);
}

bool kv_record_is_collection(const MDB_val *encoded)
{
    return encoded->mv_size > KV_KEY_HASH_BYTES &&
           (((const uint8_t *)encoded->mv_data)[KV_KEY_HASH_BYTES] & KV_KEY_TAG_COLLECTION);
}

uint64_t kv_key_position(const MDB_val *encoded)
{
    assert(encoded->mv_size >= KV_KEY_HASH_BYTES);
    const uint8_t *p = encoded->mv_data;
    uint64_t hash = 0;
    for (int i = 0; i < KV_KEY_HASH_BYTES; i++) {
        hash = hash << 8 | p[i];
    }
    return hash;
}

/* The suffix length stored at the front of a hashed record, or -1 if the record is too short. */
static long kv_record_suffix_len(const MDB_val *record)
{
    if (record->mv_size < KV_RECORD_HEADER_BYTES) {
        return -1;
    }
    const uint8_t *p = record->mv_data;
    size_t suffix_len = (size_t)p[0] | (size_t)p[1] << 8;
    if (suffix_len > record->mv_size - KV_RECORD_HEADER_BYTES ||
        suffix_len > KV_KEY_BYTES_MAX - KV_KEY_INLINE_BYTES_MAX) {
        return -1;
    }
    return (long)suffix_len;
}

bool kv_record_key_at(const MDB_val *encoded, size_t prefix_len, const MDB_val *record,
                      uint8_t *buf, size_t *key_len)
{
    if (encoded->mv_size < prefix_len + KV_KEY_HASH_BYTES + 1) {
        return false;
    }
    const uint8_t *rest = (const uint8_t *)encoded->mv_data + prefix_len + KV_KEY_HASH_BYTES;
    size_t rest_len = encoded->mv_size - prefix_len - KV_KEY_HASH_BYTES;
    uint8_t tag = rest[0] & ~KV_KEY_TAG_COLLECTION;
    if (prefix_len > 0 && rest[0] > KV_KEY_TAG_HASHED) {
        return false; /* elements are never collections */
    }
    if (tag == KV_KEY_TAG_INLINE && rest_len - 1 <= KV_KEY_INLINE_BYTES_MAX) {
        *key_len = rest_len - 1;
        memcpy(buf, rest + 1, *key_len);
        return true;
    }
    if (rest_len != KV_KEY_HASHED_BYTES - KV_KEY_HASH_BYTES || tag != KV_KEY_TAG_HASHED) {
        return false;
    }
    long suffix_len = kv_record_suffix_len(record);
    if (suffix_len <= 0) {
        return false;
    }
    memcpy(buf, rest + 1, KV_KEY_INLINE_BYTES_MAX);
    memcpy(buf + KV_KEY_INLINE_BYTES_MAX, (const uint8_t *)record->mv_data + KV_RECORD_HEADER_BYTES,
           (size_t)suffix_len);
    *key_len = KV_KEY_INLINE_BYTES_MAX + (size_t)suffix_len;
    return true;
}

bool kv_record_key(const MDB_val *encoded, const MDB_val *record, uint8_t *buf, size_t *key_len)
{
    return kv_record_key_at(encoded, 0, record, buf, key_len);
}

bool kv_record_payload(const MDB_val *encoded, const MDB_val *record, struct kv_bytes *payload)
{
    if (encoded->mv_size <= KV_KEY_HASH_BYTES) {
        return false;
    }
    const uint8_t *tag = (const uint8_t *)encoded->mv_data + KV_KEY_HASH_BYTES;
    if (!(*tag & KV_KEY_TAG_HASHED)) {
        payload->data = record->mv_data;
        payload->len = record->mv_size;
        return true;
    }
    long suffix_len = kv_record_suffix_len(record);
    if (suffix_len <= 0) {
        return false;
    }
    size_t skip = KV_RECORD_HEADER_BYTES + (size_t)suffix_len;
    payload->data = (const uint8_t *)record->mv_data + skip;
    payload->len = record->mv_size - skip;
    return true;
}

/* For a hashed slot: the value part of a record, or KV_RC_COLLISION if it holds another key. */
static int kv_record_value(const struct kv_slot *slot, const MDB_val *record, struct kv_bytes *value)
{
    if (!slot->hashed) {
        value->data = record->mv_data;
        value->len = record->mv_size;
        return MDB_SUCCESS;
    }
    long suffix_len = kv_record_suffix_len(record);
    if (suffix_len < 0) {
        return MDB_CORRUPTED;
    }
    const uint8_t *suffix = (const uint8_t *)record->mv_data + KV_RECORD_HEADER_BYTES;
    size_t want = slot->key_len - KV_KEY_INLINE_BYTES_MAX;
    if ((size_t)suffix_len != want || memcmp(suffix, slot->key + KV_KEY_INLINE_BYTES_MAX, want) != 0) {
        return KV_RC_COLLISION;
    }
    value->data = suffix + suffix_len;
    value->len = record->mv_size - KV_RECORD_HEADER_BYTES - (size_t)suffix_len;
    return MDB_SUCCESS;
}

int kv_slot_get(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot, struct kv_bytes *value,
                bool *found)
{
    MDB_val key = {.mv_size = slot->encoded_len, .mv_data = (void *)slot->encoded}, record;
    *found = false;
    int rc = mdb_get(txn, dbi, &key, &record);
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    rc = kv_record_value(slot, &record, value);
    if (rc == MDB_SUCCESS) {
        *found = true;
    }
    return rc;
}

int kv_slot_put(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot,
                const struct kv_bytes *parts, size_t part_count)
{
    MDB_val key = {.mv_size = slot->encoded_len, .mv_data = (void *)slot->encoded};
    size_t value_len = 0;
    for (size_t i = 0; i < part_count; i++) {
        value_len += parts[i].len;
    }
    assert(value_len <= KV_VALUE_BYTES_MAX);
    if (!slot->hashed && part_count == 1) {
        MDB_val record = {.mv_size = value_len, .mv_data = (void *)parts[0].data};
        return mdb_put(txn, dbi, &key, &record, 0);
    }
    size_t suffix_len = 0;
    if (slot->hashed) {
        struct kv_bytes old;
        bool found = false;
        int rc = kv_slot_get(txn, dbi, slot, &old, &found);
        if (rc != MDB_SUCCESS) {
            return rc; /* KV_RC_COLLISION included: never overwrite another key */
        }
        suffix_len = slot->key_len - KV_KEY_INLINE_BYTES_MAX;
    }
    size_t header_len = slot->hashed ? KV_RECORD_HEADER_BYTES + suffix_len : 0;
    MDB_val record = {.mv_size = header_len + value_len, .mv_data = NULL};
    int rc = mdb_put(txn, dbi, &key, &record, MDB_RESERVE);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    uint8_t *out = record.mv_data;
    if (slot->hashed) {
        out[0] = (uint8_t)suffix_len;
        out[1] = (uint8_t)(suffix_len >> 8);
        memcpy(out + KV_RECORD_HEADER_BYTES, slot->key + KV_KEY_INLINE_BYTES_MAX, suffix_len);
        out += header_len;
    }
    for (size_t i = 0; i < part_count; i++) {
        if (parts[i].len > 0) {
            memcpy(out, parts[i].data, parts[i].len);
            out += parts[i].len;
        }
    }
    return MDB_SUCCESS;
}

int kv_slot_del(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot, bool *deleted)
{
    *deleted = false;
    if (slot->hashed) {
        struct kv_bytes old;
        bool found = false;
        int rc = kv_slot_get(txn, dbi, slot, &old, &found);
        if (rc == KV_RC_COLLISION) {
            return MDB_SUCCESS; /* another key's record: ours does not exist */
        }
        if (rc != MDB_SUCCESS || !found) {
            return rc;
        }
    }
    MDB_val key = {.mv_size = slot->encoded_len, .mv_data = (void *)slot->encoded};
    int rc = mdb_del(txn, dbi, &key, NULL);
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc == MDB_SUCCESS) {
        *deleted = true;
    }
    return rc;
}

