/*
 * kv_coll.c — how a collection is laid out (kv_coll.h): its metadata record, its elements,
 * its id, and the trash that makes deleting a big one cheap.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kv_coll.h"
#include "storage/kv_tx.h"

const char kv_error_wrongtype[] = "WRONGTYPE Operation against a key holding the wrong kind of value";

enum {
    KV_TRASH_KEY_BYTES = 2 * KV_ELEM_ID_BYTES, /* id 0, then the trashed id */
};

const char *kv_type_name(int type)
{
    switch (type) {
    case KV_TYPE_STRING: return "string";
    case KV_TYPE_HASH: return "hash";
    case KV_TYPE_SET: return "set";
    case KV_TYPE_LIST: return "list";
    case KV_TYPE_ZSET: return "zset";
    default: return "none";
    }
}

static void kv_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t kv_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* No collection exists while the elements DB is empty (a collection has at least one
 * element; Redis deletes an emptied one): then a string lookup needs no second search.
 * mdb_stat reads the txn's copy of the DB record, no tree walk. */
bool kv_coll_any(struct kv *kv, MDB_txn *txn)
{
    MDB_stat stat;
    return mdb_stat(txn, kv->elems_dbi, &stat) != MDB_SUCCESS || stat.ms_entries > 0;
}

void kv_coll_meta_decode(const uint8_t *p, struct kv_coll_meta *meta)
{
    meta->type = p[0];
    meta->id = kv_get_le64(p + 8);
    meta->count = kv_get_le64(p + 16);
    meta->version = kv_get_le64(p + 24);
    meta->head = (int64_t)kv_get_le64(p + 32);
}

static void kv_coll_meta_encode(const struct kv_coll_meta *meta, uint8_t *p)
{
    memset(p, 0, KV_COLL_META_BYTES);
    p[0] = meta->type;
    kv_put_le64(p + 8, meta->id);
    kv_put_le64(p + 16, meta->count);
    kv_put_le64(p + 24, meta->version);
    kv_put_le64(p + 32, (uint64_t)meta->head);
}

static bool kv_coll_meta_valid(const struct kv_bytes *bytes)
{
    return bytes->len == KV_COLL_META_BYTES &&
           (bytes->data[0] == KV_TYPE_HASH || bytes->data[0] == KV_TYPE_SET ||
            bytes->data[0] == KV_TYPE_LIST || bytes->data[0] == KV_TYPE_ZSET);
}

/* The string record first (the common case costs one search), then the collection's. A
 * record of another long key (collision) reads as absent here; a write then fails. */
int kv_key_find_raw(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    struct kv_key_info *info)
{
    memset(&info->meta, 0, sizeof info->meta);
    info->type = KV_TYPE_NONE;
    info->value = (struct kv_bytes){0};
    kv_slot_init(&info->slot, key, key_len);
    bool found = false;
    int rc = kv_slot_get(txn, kv->data_dbi, &info->slot, &info->value, &found);
    if (rc != MDB_SUCCESS && rc != KV_RC_COLLISION) {
        return rc;
    }
    if (rc == MDB_SUCCESS && found) {
        info->type = KV_TYPE_STRING;
        return MDB_SUCCESS;
    }
    if (!kv_coll_any(kv, txn)) {
        return MDB_SUCCESS;
    }
    kv_slot_set_collection(&info->slot, true);
    struct kv_bytes meta = {0};
    rc = kv_slot_get(txn, kv->data_dbi, &info->slot, &meta, &found);
    if (rc == KV_RC_COLLISION || (rc == MDB_SUCCESS && !found)) {
        kv_slot_set_collection(&info->slot, false);
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (!kv_coll_meta_valid(&meta)) {
        return MDB_CORRUPTED;
    }
    kv_coll_meta_decode(meta.data, &info->meta);
    info->type = info->meta.type;
    return MDB_SUCCESS;
}

/* What the key holds at the txn's log time: a key whose deadline passed reads as absent
 * (kv_expiry.c; a write deleted it before it ran, a read leaves it to the leader). */
int kv_key_find(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                struct kv_key_info *info)
{
    int rc = kv_key_find_raw(kv, txn, key, key_len, info);
    if (rc != MDB_SUCCESS || info->type == KV_TYPE_NONE || !kv_coll_any(kv, txn)) {
        return rc; /* a deadline is a record of the elements DB: none, none due */
    }
    bool expired = false;
    rc = kv_key_expired(kv, txn, key, key_len, &expired);
    if (rc == MDB_SUCCESS && expired) {
        info->type = KV_TYPE_NONE;
        memset(&info->meta, 0, sizeof info->meta);
        info->value = (struct kv_bytes){0};
        kv_slot_set_collection(&info->slot, false);
    }
    return rc;
}

int kv_coll_meta_put(struct kv *kv, MDB_txn *txn, struct kv_slot *slot,
                     const struct kv_coll_meta *meta)
{
    assert(meta->id != 0 && meta->count > 0);
    kv_slot_set_collection(slot, true);
    uint8_t bytes[KV_COLL_META_BYTES];
    kv_coll_meta_encode(meta, bytes);
    struct kv_bytes part = {.data = bytes, .len = sizeof bytes};
    return kv_slot_put(txn, kv->data_dbi, slot, &part, 1);
}

/* The entry's log index in the high bits, a count of the ids it made in the low: unique
 * for ever (indexes only grow) and the same on every replica. Id 0 is the trash's prefix. */
uint64_t kv_coll_new_id(struct kv *kv)
{
    /* Below 2^46 - 1, so that ids stay below 2^62 - 2^16: a sorted set's index and block ids
     * set the two top bits (kv_coll.h), and the two highest ids of all are the deadlines'
     * (kv_expiry.c), which no block id then reaches. */
    assert(kv->apply_index > 0 && kv->apply_index < (1ull << 46) - 1);
    if (kv->apply_ids + 1 >= KV_COLL_IDS_PER_ENTRY) {
        return 0;
    }
    kv->apply_ids++;
    return kv->apply_index << 16 | kv->apply_ids;
}

int kv_coll_trash(struct kv *kv, MDB_txn *txn, uint64_t id)
{
    assert(id != 0);
    uint8_t key_bytes[KV_TRASH_KEY_BYTES] = {0};
    kv_put_be64(key_bytes + KV_ELEM_ID_BYTES, id);
    MDB_val key = {.mv_size = sizeof key_bytes, .mv_data = key_bytes}, none = {0};
    return mdb_put(txn, kv->elems_dbi, &key, &none, 0);
}

int kv_key_remove(struct kv *kv, MDB_txn *txn, struct kv_key_info *info, bool *deleted)
{
    *deleted = false;
    if (info->type == KV_TYPE_NONE) {
        return MDB_SUCCESS;
    }
    kv_slot_set_collection(&info->slot, info->type != KV_TYPE_STRING);
    int rc = kv_slot_del(txn, kv->data_dbi, &info->slot, deleted);
    if (rc == MDB_SUCCESS && info->type != KV_TYPE_STRING) {
        rc = kv_coll_trash(kv, txn, info->meta.id);
    }
    if (rc == MDB_SUCCESS && info->type == KV_TYPE_ZSET) {
        rc = kv_coll_trash(kv, txn, kv_zset_index_id(info->meta.id)); /* its score index */
    }
    if (rc == MDB_SUCCESS && info->type == KV_TYPE_ZSET) {
        rc = kv_coll_trash(kv, txn, kv_zset_block_id(info->meta.id)); /* its block counts */
    }
    bool had = false;
    if (rc == MDB_SUCCESS) {
        rc = kv_deadline_clear(kv, txn, info->slot.key, info->slot.key_len, &had);
    }
    info->type = KV_TYPE_NONE;
    kv_slot_set_collection(&info->slot, false);
    return rc;
}

/* Positions cursor on the first record whose key is >= the 8-byte big-endian prefix. */
static int kv_seek_id(MDB_cursor *cursor, uint64_t id, uint64_t position, MDB_val *key,
                      MDB_val *record)
{
    uint8_t start[KV_ELEM_ID_BYTES + KV_KEY_HASH_BYTES];
    kv_put_be64(start, id);
    kv_put_be64(start + KV_ELEM_ID_BYTES, position);
    *key = (MDB_val){.mv_size = sizeof start, .mv_data = start};
    return mdb_cursor_get(cursor, key, record, MDB_SET_RANGE);
}

static bool kv_key_has_id(const MDB_val *key, uint64_t id)
{
    return key->mv_size > KV_ELEM_ID_BYTES && kv_get_be64(key->mv_data) == id;
}

/*
 * The first trashed collection loses up to KV_RECLAIM_STEP elements; once none is left its
 * trash record goes too. Each delete re-seeks (O(log n)) rather than trusting a cursor
 * across deletes: simple, and bounded by the step.
 */
int kv_coll_reclaim(struct kv *kv, MDB_txn *txn, size_t *written)
{
    MDB_stat stat;
    int rc = mdb_stat(txn, kv->elems_dbi, &stat);
    if (rc != MDB_SUCCESS || stat.ms_entries == 0) {
        return rc;
    }
    MDB_cursor *cursor = NULL;
    rc = mdb_cursor_open(txn, kv->elems_dbi, &cursor);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    MDB_val key, record;
    rc = mdb_cursor_get(cursor, &key, &record, MDB_FIRST);
    if (rc != MDB_SUCCESS || key.mv_size != KV_TRASH_KEY_BYTES ||
        kv_get_be64(key.mv_data) != 0) {
        mdb_cursor_close(cursor);
        return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? MDB_SUCCESS : rc;
    }
    uint8_t trash[KV_TRASH_KEY_BYTES];
    memcpy(trash, key.mv_data, sizeof trash);
    uint64_t id = kv_get_be64(trash + KV_ELEM_ID_BYTES);
    uint32_t removed = 0;
    for (; removed < KV_RECLAIM_STEP; removed++) {
        rc = kv_seek_id(cursor, id, 0, &key, &record);
        if (rc != MDB_SUCCESS || !kv_key_has_id(&key, id)) {
            break;
        }
        rc = mdb_cursor_del(cursor, 0);
        if (rc != MDB_SUCCESS) {
            break;
        }
    }
    mdb_cursor_close(cursor);
    *written += removed * 16;
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (removed < KV_RECLAIM_STEP) {
        MDB_val trash_key = {.mv_size = sizeof trash, .mv_data = trash};
        rc = mdb_del(txn, kv->elems_dbi, &trash_key, NULL);
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    }
    return MDB_SUCCESS;
}

int kv_elem_get(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                struct kv_bytes *value, bool *found)
{
    *found = false;
    if (element->len > KV_ELEMENT_BYTES_MAX) {
        return MDB_SUCCESS; /* no such element can be stored */
    }
    struct kv_slot slot;
    kv_slot_init_element(&slot, id, element->data, element->len);
    int rc = kv_slot_get(txn, kv->elems_dbi, &slot, value, found);
    if (rc == KV_RC_COLLISION) {
        *found = false;
        return MDB_SUCCESS;
    }
    return rc;
}

int kv_elem_put(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                const struct kv_bytes *value)
{
    assert(element->len <= KV_ELEMENT_BYTES_MAX);
    struct kv_slot slot;
    kv_slot_init_element(&slot, id, element->data, element->len);
    return kv_slot_put(txn, kv->elems_dbi, &slot, value, 1);
}

int kv_elem_del(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                bool *deleted)
{
    *deleted = false;
    if (element->len > KV_ELEMENT_BYTES_MAX) {
        return MDB_SUCCESS;
    }
    struct kv_slot slot;
    kv_slot_init_element(&slot, id, element->data, element->len);
    return kv_slot_del(txn, kv->elems_dbi, &slot, deleted);
}

/* Decodes the record the cursor is on, or marks the walk done past the collection. */
static int kv_elem_iter_load(struct kv_elem_iter *it, int rc, const MDB_val *key,
                             const MDB_val *record)
{
    it->valid = false;
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS || !kv_key_has_id(key, it->id)) {
        return rc;
    }
    size_t len = 0;
    if (!kv_record_key_at(key, KV_ELEM_ID_BYTES, record, it->buf, &len)) {
        return MDB_CORRUPTED;
    }
    const uint8_t *k = key->mv_data;
    const uint8_t *tag = k + KV_ELEM_ID_BYTES + KV_KEY_HASH_BYTES;
    /* An inline element is read where it lies, without the copy. */
    it->element.data = (*tag == KV_KEY_TAG_INLINE) ? tag + 1 : it->buf;
    it->element.len = len;
    it->position = kv_get_be64(k + KV_ELEM_ID_BYTES);
    if (*tag == KV_KEY_TAG_INLINE) {
        it->value = (struct kv_bytes){.data = record->mv_data, .len = record->mv_size};
    } else {
        size_t skip = KV_RECORD_HEADER_BYTES + (len - KV_KEY_INLINE_BYTES_MAX);
        it->value = (struct kv_bytes){.data = (const uint8_t *)record->mv_data + skip,
                                      .len = record->mv_size - skip};
    }
    it->valid = true;
    return MDB_SUCCESS;
}

int kv_elem_iter_open(struct kv_elem_iter *it, struct kv *kv, MDB_txn *txn, uint64_t id,
                      uint64_t position)
{
    it->id = id;
    it->valid = false;
    it->cursor = NULL;
    int rc = mdb_cursor_open(txn, kv->elems_dbi, &it->cursor);
    if (rc != MDB_SUCCESS) {
        it->cursor = NULL;
        return rc;
    }
    MDB_val key, record;
    rc = kv_seek_id(it->cursor, id, position, &key, &record);
    return kv_elem_iter_load(it, rc, &key, &record);
}

int kv_elem_iter_next(struct kv_elem_iter *it)
{
    assert(it->valid);
    MDB_val key, record;
    int rc = mdb_cursor_get(it->cursor, &key, &record, MDB_NEXT);
    return kv_elem_iter_load(it, rc, &key, &record);
}

void kv_elem_iter_close(struct kv_elem_iter *it)
{
    if (it->cursor != NULL) {
        mdb_cursor_close(it->cursor);
    }
    it->cursor = NULL;
    it->valid = false;
}

/* COPY: bounded by the caller (KV_COPY_ELEMENTS_MAX). The records are copied as they are,
 * their id replaced (so a hash's, a set's and a list's alike), a batch at a time, re-seeking
 * after each: a put into the same DB may move the pages a cursor reads. */
static int kv_coll_copy_records(struct kv *kv, MDB_txn *txn, uint64_t from, uint64_t to)
{
    enum { BATCH = 256 };
    struct kv_arena arena = {0};
    uint8_t last[KV_ENCODED_KEY_BYTES_MAX];
    size_t last_len = 0;
    int rc = MDB_SUCCESS;
    for (bool more = true; rc == MDB_SUCCESS && more;) {
        MDB_val *copies = kv_arena_alloc(&arena, 2 * BATCH * sizeof *copies);
        MDB_cursor *cursor = NULL;
        if (copies == NULL) {
            rc = ENOMEM;
            break;
        }
        rc = mdb_cursor_open(txn, kv->elems_dbi, &cursor);
        MDB_val key, record;
        if (rc == MDB_SUCCESS && last_len == 0) {
            rc = kv_seek_id(cursor, from, 0, &key, &record);
        } else if (rc == MDB_SUCCESS) {
            key = (MDB_val){.mv_size = last_len, .mv_data = last};
            rc = mdb_cursor_get(cursor, &key, &record, MDB_SET_RANGE);
            if (rc == MDB_SUCCESS && key.mv_size == last_len &&
                memcmp(key.mv_data, last, last_len) == 0) {
                rc = mdb_cursor_get(cursor, &key, &record, MDB_NEXT);
            }
        }
        uint32_t n = 0;
        while (rc == MDB_SUCCESS && n < BATCH && kv_key_has_id(&key, from)) {
            uint8_t *k = (uint8_t *)kv_arena_copy(&arena, key.mv_data, key.mv_size);
            const uint8_t *v = kv_arena_copy(&arena, record.mv_data, record.mv_size);
            if (k == NULL || (v == NULL && record.mv_size > 0)) {
                rc = ENOMEM;
                break;
            }
            memcpy(last, key.mv_data, key.mv_size);
            last_len = key.mv_size;
            kv_put_be64(k, to);
            copies[2 * n] = (MDB_val){.mv_size = key.mv_size, .mv_data = k};
            copies[2 * n + 1] = (MDB_val){.mv_size = record.mv_size, .mv_data = (void *)v};
            n++;
            rc = mdb_cursor_get(cursor, &key, &record, MDB_NEXT);
        }
        more = rc == MDB_SUCCESS && kv_key_has_id(&key, from);
        if (rc == MDB_NOTFOUND) {
            rc = MDB_SUCCESS;
        }
        if (cursor != NULL) {
            mdb_cursor_close(cursor);
        }
        for (uint32_t i = 0; rc == MDB_SUCCESS && i < n; i++) {
            rc = mdb_put(txn, kv->elems_dbi, &copies[2 * i], &copies[2 * i + 1], 0);
        }
        kv_arena_reset(&arena);
    }
    free(arena.head);
    return rc;
}

/* A sorted set's score index and block counts are copied too; for the other types those
 * ranges are empty (a seek each). */
int kv_coll_copy_elements(struct kv *kv, MDB_txn *txn, uint64_t from, uint64_t to)
{
    int rc = kv_coll_copy_records(kv, txn, from, to);
    if (rc == MDB_SUCCESS) {
        rc = kv_coll_copy_records(kv, txn, kv_zset_index_id(from), kv_zset_index_id(to));
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_coll_copy_records(kv, txn, kv_zset_block_id(from), kv_zset_block_id(to));
    }
    return rc;
}

int kv_key_watch_state(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                       bool *exists, uint64_t *hash)
{
    *exists = false;
    *hash = 0;
    if (key_len > KV_KEY_BYTES_MAX) {
        return MDB_SUCCESS;
    }
    struct kv_key_info info;
    int rc = kv_key_find(kv, txn, key, key_len, &info);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    *exists = info.type != KV_TYPE_NONE;
    if (info.type == KV_TYPE_STRING) {
        *hash = kv_tx_value_hash(info.value.data, info.value.len);
    } else if (info.type != KV_TYPE_NONE) {
        uint8_t bytes[KV_COLL_META_BYTES];
        kv_coll_meta_encode(&info.meta, bytes);
        *hash = kv_tx_value_hash(bytes, sizeof bytes) ^ 0x636f6c6c65637431ull; /* "collect1" */
    }
    return MDB_SUCCESS;
}
