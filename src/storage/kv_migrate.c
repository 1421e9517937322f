/*
 * kv_migrate.c — moving a store of format 1 or 2 (keys in key order in the "data" DB) into
 * the hash-ordered "keys" DB of format 3, when such a store is opened.
 *
 * Each write txn moves at most KV_MIGRATE_RECORDS_MAX records or KV_MIGRATE_TXN_BYTES_MAX
 * bytes (LMDB bounds the dirty pages of one txn), deleting each record from the old DB in the
 * txn that adds it to the new one: a crash between txns leaves every key in exactly one of
 * the two DBs, and the next open continues. The last txn drops the old DBs and writes the new
 * format. Nothing else uses the kv meanwhile (kv_open, kv_snapshot_install).
 */
#include <assert.h>
#include <string.h>

#include "storage/kv_internal.h"

enum {
    KV_MIGRATE_RECORDS_MAX = 10000,
    KV_MIGRATE_TXN_BYTES_MAX = 64u << 20,
    /* Format 1 and 2 keys: tag 0 + key, or tag 1 + 480-byte prefix + 8-byte hash. */
    KV_V1_HASHED_BYTES = 1 + KV_KEY_INLINE_BYTES_MAX + 8,
};

/* The user key and value of a format-1 record; false when it is not one that format wrote. */
static bool kv_v1_record(const MDB_val *encoded, const MDB_val *record, uint8_t *key,
                         size_t *key_len, struct kv_bytes *value)
{
    const uint8_t *e = encoded->mv_data;
    if (encoded->mv_size >= 1 && e[0] == KV_KEY_TAG_INLINE &&
        encoded->mv_size - 1 <= KV_KEY_INLINE_BYTES_MAX) {
        *key_len = encoded->mv_size - 1;
        memcpy(key, e + 1, *key_len);
        *value = (struct kv_bytes){.data = record->mv_data, .len = record->mv_size};
        return true;
    }
    if (encoded->mv_size != KV_V1_HASHED_BYTES || e[0] != KV_KEY_TAG_HASHED ||
        record->mv_size < KV_RECORD_HEADER_BYTES) {
        return false;
    }
    const uint8_t *r = record->mv_data;
    size_t suffix_len = (size_t)r[0] | (size_t)r[1] << 8;
    if (suffix_len == 0 || suffix_len > record->mv_size - KV_RECORD_HEADER_BYTES ||
        suffix_len > KV_KEY_BYTES_MAX - KV_KEY_INLINE_BYTES_MAX) {
        return false;
    }
    memcpy(key, e + 1, KV_KEY_INLINE_BYTES_MAX);
    memcpy(key + KV_KEY_INLINE_BYTES_MAX, r + KV_RECORD_HEADER_BYTES, suffix_len);
    *key_len = KV_KEY_INLINE_BYTES_MAX + suffix_len;
    *value = (struct kv_bytes){.data = r + KV_RECORD_HEADER_BYTES + suffix_len,
                               .len = record->mv_size - KV_RECORD_HEADER_BYTES - suffix_len};
    return true;
}

/* Drops a named DB if it exists (the "order" DB of format 2). */
static int kv_migrate_drop(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, name, 0, &dbi);
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    return rc == MDB_SUCCESS ? mdb_drop(txn, dbi, 1) : rc;
}

/* Moves one bounded batch; *done is set by the txn that found the old DB empty. */
static int kv_migrate_batch(struct kv *kv, MDB_txn *txn, bool *done)
{
    MDB_dbi old;
    int rc = mdb_dbi_open(txn, "data", 0, &old);
    if (rc == MDB_NOTFOUND) {
        *done = true;
        return MDB_SUCCESS;
    }
    MDB_cursor *cursor = NULL;
    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(txn, old, &cursor);
    }
    MDB_val key, record;
    uint8_t user_key[KV_KEY_BYTES_MAX];
    size_t bytes = 0;
    for (uint32_t moved = 0; rc == MDB_SUCCESS && moved < KV_MIGRATE_RECORDS_MAX &&
                             bytes < KV_MIGRATE_TXN_BYTES_MAX; moved++) {
        rc = mdb_cursor_get(cursor, &key, &record, MDB_FIRST);
        if (rc != MDB_SUCCESS) {
            break;
        }
        size_t key_len = 0;
        struct kv_bytes value;
        if (!kv_v1_record(&key, &record, user_key, &key_len, &value) ||
            value.len > KV_VALUE_BYTES_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(kv->scratch, value.data, value.len); /* the put may move the old page */
        struct kv_bytes copy = {.data = kv->scratch, .len = value.len};
        struct kv_slot slot;
        kv_slot_init(&slot, user_key, key_len);
        rc = kv_slot_put(txn, kv->data_dbi, &slot, &copy, 1);
        if (rc == MDB_SUCCESS) {
            rc = mdb_cursor_del(cursor, 0);
        }
        bytes += key_len + value.len;
    }
    if (cursor != NULL) {
        mdb_cursor_close(cursor);
    }
    if (rc == MDB_NOTFOUND) {
        rc = mdb_drop(txn, old, 1);
        *done = true;
    }
    return rc;
}

int kv_keys_migrate(struct kv *kv)
{
    bool done = false;
    /* Each round moves up to KV_MIGRATE_RECORDS_MAX records: it ends with the old DB. */
    while (!done) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
        if (rc == MDB_SUCCESS) {
            rc = kv_migrate_batch(kv, txn, &done);
        }
        if (rc == MDB_SUCCESS && done) {
            rc = kv_migrate_drop(txn, "order");
        }
        if (rc == MDB_SUCCESS && done) {
            rc = kv_meta_put_format(txn, kv->meta_dbi);
        }
        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_commit(txn);
            txn = NULL;
        }
        if (rc != MDB_SUCCESS) {
            if (txn != NULL) {
                mdb_txn_abort(txn);
            }
            return kv_error_mdb(rc, "migrate keys to hash order");
        }
    }
    return KV_OK;
}
