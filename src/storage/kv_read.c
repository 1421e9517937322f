/*
 * kv_read.c — reads in LMDB read transactions: GET, EXISTS, STRLEN, DBSIZE and SCAN.
 * Readers never block the apply thread and see the state as of their txn's start.
 */
#include <assert.h>
#include <string.h>

#include "storage/kv_glob.h"
#include "storage/kv_internal.h"

int kv_read_begin(struct kv *kv, struct kv_read *read)
{
    assert(kv != NULL && kv->env != NULL && read != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        read->kv = NULL;
        read->txn = NULL;
        return kv_error_mdb(rc, "begin read");
    }
    read->kv = kv;
    read->txn = txn;
    return KV_OK;
}

void kv_read_end(struct kv_read *read)
{
    if (read->txn != NULL) {
        mdb_txn_abort(read->txn);
    }
    read->txn = NULL;
    read->kv = NULL;
}

int kv_read_get(struct kv_read *read, const uint8_t *key, size_t key_len,
                struct kv_bytes *value, bool *found)
{
    assert(read->txn != NULL);
    *found = false;
    if (key_len > KV_KEY_BYTES_MAX) {
        return KV_OK; /* no such key can exist */
    }
    struct kv_slot slot;
    kv_slot_init(&slot, key, key_len);
    int rc = kv_slot_get(read->txn, read->kv->data_dbi, &slot, value, found);
    if (rc == KV_RC_COLLISION) {
        return KV_OK; /* the record belongs to another key: ours is absent */
    }
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "get");
    }
    return KV_OK;
}

int kv_read_applied(struct kv_read *read, uint64_t *index, uint64_t *term)
{
    assert(read->txn != NULL);
    int rc = kv_meta_get_applied(read->txn, read->kv->meta_dbi, index, term);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "read applied index");
}

int kv_get(struct kv *kv, const uint8_t *key, size_t key_len, uint8_t *buf, size_t cap,
           size_t *value_len, bool *found)
{
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_bytes value = {0};
    rv = kv_read_get(&read, key, key_len, &value, found);
    *value_len = 0;
    if (rv == KV_OK && *found) {
        *value_len = value.len;
        if (value.len > cap) {
            kv_error_set("value of %zu bytes does not fit in %zu", value.len, cap);
            rv = KV_ERR_BUFFER;
        } else if (value.len > 0) {
            memcpy(buf, value.data, value.len);
        }
    }
    kv_read_end(&read);
    return rv;
}

int kv_exists(struct kv *kv, const struct kv_bytes *keys, size_t key_count, uint64_t *count)
{
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    *count = 0;
    for (size_t i = 0; rv == KV_OK && i < key_count; i++) {
        struct kv_bytes value;
        bool found = false;
        rv = kv_read_get(&read, keys[i].data, keys[i].len, &value, &found);
        *count += found;
    }
    kv_read_end(&read);
    return rv;
}

int kv_strlen(struct kv *kv, const uint8_t *key, size_t key_len, uint64_t *len)
{
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_bytes value = {0};
    bool found = false;
    rv = kv_read_get(&read, key, key_len, &value, &found);
    *len = found ? value.len : 0;
    kv_read_end(&read);
    return rv;
}

int kv_count(struct kv *kv, uint64_t *count)
{
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    MDB_stat stat;
    int rc = mdb_stat(read.txn, kv->data_dbi, &stat);
    kv_read_end(&read);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "stat");
    }
    *count = stat.ms_entries;
    return KV_OK;
}

static uint64_t kv_order_hash(const MDB_val *order_key)
{
    const uint8_t *p = order_key->mv_data;
    uint64_t hash = 0;
    for (int i = 0; i < 8; i++) {
        hash = hash << 8 | p[i];
    }
    return hash;
}

/* The user key of an order DB entry: inline keys are in the entry itself, hashed ones need
 * their record for the rest of the key. Returns an LMDB code (MDB_CORRUPTED for an entry
 * that this module does not write). */
static int kv_order_user_key(MDB_txn *txn, MDB_dbi data, const MDB_val *order_key, uint8_t *buf,
                             size_t *len)
{
    if (order_key->mv_size < 9 || order_key->mv_size > KV_ORDER_KEY_BYTES_MAX) {
        return MDB_CORRUPTED;
    }
    MDB_val encoded = {.mv_size = order_key->mv_size - 8,
                       .mv_data = (uint8_t *)order_key->mv_data + 8};
    MDB_val record = {.mv_size = 0, .mv_data = NULL};
    if (((const uint8_t *)encoded.mv_data)[0] != KV_KEY_TAG_INLINE) {
        int rc = mdb_get(txn, data, &encoded, &record);
        if (rc != MDB_SUCCESS) {
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }
    }
    return kv_record_key(&encoded, &record, buf, len) ? MDB_SUCCESS : MDB_CORRUPTED;
}

/* Positions an order DB cursor on the first entry whose hash is >= position. */
static int kv_order_seek(MDB_cursor *cursor, uint64_t position, MDB_val *key, MDB_val *record)
{
    uint8_t start[8];
    for (int i = 0; i < 8; i++) {
        start[i] = (uint8_t)(position >> (56 - 8 * i));
    }
    *key = (MDB_val){.mv_size = sizeof start, .mv_data = start};
    return mdb_cursor_get(cursor, key, record, MDB_SET_RANGE);
}

/*
 * Walks the order DB from the cursor's position. It stops after `count` entries, but never
 * between two entries of the same hash (then the next call, resuming at the next hash, could
 * not return the rest of them): a group of equal 64-bit hashes is one step. The group is
 * bounded by KV_SCAN_COUNT_MAX more entries as a guard; equal hashes of different keys are
 * a 2^-64 event.
 */
int kv_scan(struct kv *kv, struct kv_scan_cursor *cursor, const uint8_t *pattern,
            size_t pattern_len, uint32_t count, void *ctx, kv_scan_fn fn)
{
    assert(cursor != NULL && fn != NULL);
    if (count == 0 || count > KV_SCAN_COUNT_MAX || pattern_len > KV_GLOB_PATTERN_BYTES_MAX) {
        kv_error_set("scan: count must be 1..%d and the pattern at most %d bytes",
                     KV_SCAN_COUNT_MAX, KV_GLOB_PATTERN_BYTES_MAX);
        return KV_ERR_INVALID;
    }
    if (cursor->done) {
        return KV_OK;
    }
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    MDB_cursor *lmdb_cursor = NULL;
    int rc = mdb_cursor_open(read.txn, kv->order_dbi, &lmdb_cursor);
    MDB_val key, record;
    if (rc == MDB_SUCCESS) {
        rc = kv_order_seek(lmdb_cursor, cursor->position, &key, &record);
    }
    uint8_t user_key[KV_KEY_BYTES_MAX];
    uint64_t last_hash = 0;
    for (uint32_t examined = 0; rc == MDB_SUCCESS; examined++) {
        uint64_t hash = kv_order_hash(&key);
        if (examined >= count && (hash != last_hash || examined >= count + KV_SCAN_COUNT_MAX)) {
            cursor->position = hash;
            break;
        }
        size_t user_key_len = 0;
        rc = kv_order_user_key(read.txn, kv->data_dbi, &key, user_key, &user_key_len);
        if (rc != MDB_SUCCESS) {
            break;
        }
        if (pattern == NULL || kv_glob_match(pattern, pattern_len, user_key, user_key_len)) {
            fn(ctx, user_key, user_key_len);
        }
        last_hash = hash;
        rc = mdb_cursor_get(lmdb_cursor, &key, &record, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
        cursor->done = true;
        rc = MDB_SUCCESS;
    }
    if (lmdb_cursor != NULL) {
        mdb_cursor_close(lmdb_cursor);
    }
    kv_read_end(&read);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "scan");
}

int kv_random_key(struct kv *kv, uint64_t position, uint8_t *buf, size_t cap, size_t *key_len,
                  bool *found)
{
    assert(cap >= KV_KEY_BYTES_MAX);
    *found = false;
    *key_len = 0;
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    MDB_cursor *lmdb_cursor = NULL;
    int rc = mdb_cursor_open(read.txn, kv->order_dbi, &lmdb_cursor);
    MDB_val key, record;
    if (rc == MDB_SUCCESS) {
        rc = kv_order_seek(lmdb_cursor, position, &key, &record);
        if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(lmdb_cursor, &key, &record, MDB_FIRST);
        }
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_order_user_key(read.txn, kv->data_dbi, &key, buf, key_len);
        *found = rc == MDB_SUCCESS;
    }
    if (rc == MDB_NOTFOUND) {
        rc = MDB_SUCCESS;
    }
    if (lmdb_cursor != NULL) {
        mdb_cursor_close(lmdb_cursor);
    }
    kv_read_end(&read);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "random key");
}
