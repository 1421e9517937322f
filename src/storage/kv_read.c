/*
 * kv_read.c — reads in LMDB read transactions: GET, EXISTS, STRLEN, DBSIZE and SCAN.
 * Readers never block the apply thread and see the state as of their txn's start.
 */
#include <assert.h>
#include <string.h>

#include "storage/kv_glob.h"
#include "storage/kv_coll.h"
#include "storage/kv_internal.h"

enum { KV_RANDOM_KEY_TRIES = 1000 };

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
    struct kv_key_info info;
    int rc = kv_key_find(read->kv, read->txn, key, key_len, &info);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "get");
    }
    if (info.type != KV_TYPE_NONE && info.type != KV_TYPE_STRING) {
        kv_error_set("the key holds a %s", kv_type_name(info.type));
        return KV_ERR_WRONGTYPE;
    }
    *found = info.type == KV_TYPE_STRING;
    *value = info.value;
    return KV_OK;
}

int kv_read_watch(struct kv_read *read, const uint8_t *key, size_t key_len, bool *exists,
                  uint64_t *hash)
{
    assert(read->txn != NULL);
    int rc = kv_key_watch_state(read->kv, read->txn, key, key_len, exists, hash);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "watch");
}

int kv_key_type(struct kv *kv, const uint8_t *key, size_t key_len, int *type, uint64_t *count)
{
    *type = KV_TYPE_NONE;
    *count = 0;
    if (key_len > KV_KEY_BYTES_MAX) {
        return KV_OK;
    }
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_key_info info;
    int rc = kv_key_find(kv, read.txn, key, key_len, &info);
    if (rc == MDB_SUCCESS) {
        *type = info.type;
        *count = info.type == KV_TYPE_STRING ? 0 : info.meta.count;
    }
    kv_read_end(&read);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "type");
}

int kv_read_run(struct kv *kv, const struct kv_command *command, struct kv_result *result)
{
    kv_arena_reset(&kv->read_arena);
    *result = (struct kv_result){.type = KV_RESULT_ERROR, .error = "ERR not a read"};
    if (!kv_op_is_collection_read(command->op)) {
        return KV_OK;
    }
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_ctx ctx = {.kv = kv, .txn = read.txn, .arena = &kv->read_arena,
                         .seed = (uint64_t)command->delta};
    int rc = kv_types_run(&ctx, command, result);
    kv_read_end(&read);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "read");
}

int kv_read_applied(struct kv_read *read, uint64_t *index, uint64_t *term)
{
    assert(read->txn != NULL);
    int rc = kv_meta_get_applied(read->txn, read->kv, index, term);
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
        if (rv == KV_ERR_WRONGTYPE) {
            rv = KV_OK; /* a collection exists too */
            found = true;
        }
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

/* Positions a cursor of the keys DB on the first key whose hash is >= position. */
static int kv_position_seek(MDB_cursor *cursor, uint64_t position, MDB_val *key, MDB_val *record)
{
    uint8_t start[KV_KEY_HASH_BYTES];
    for (int i = 0; i < KV_KEY_HASH_BYTES; i++) {
        start[i] = (uint8_t)(position >> (56 - 8 * i));
    }
    *key = (MDB_val){.mv_size = sizeof start, .mv_data = start};
    return mdb_cursor_get(cursor, key, record, MDB_SET_RANGE);
}

/*
 * Walks the keys DB from the cursor's position. It stops after `count` keys, but never
 * between two keys of the same hash (then the next call, resuming at the next hash, could not
 * return the rest of them): a group of equal 64-bit hashes is one step. The group is bounded
 * by KV_SCAN_COUNT_MAX more keys as a guard; equal hashes of different keys are a 2^-64 event.
 */
int kv_scan(struct kv *kv, struct kv_scan_cursor *cursor, const uint8_t *pattern,
            size_t pattern_len, uint32_t count, void *ctx, kv_scan_fn fn)
{
    return kv_scan_typed(kv, cursor, pattern, pattern_len, count, KV_TYPE_NONE, ctx, fn);
}

/* The type of the record a scan is on: from the tag, and a collection's from its record. */
static int kv_record_type(const MDB_val *key, const MDB_val *record)
{
    if (!kv_record_is_collection(key)) {
        return KV_TYPE_STRING;
    }
    struct kv_bytes payload;
    if (!kv_record_payload(key, record, &payload) || payload.len != KV_COLL_META_BYTES) {
        return KV_TYPE_NONE;
    }
    return payload.data[0];
}

int kv_scan_typed(struct kv *kv, struct kv_scan_cursor *cursor, const uint8_t *pattern,
                  size_t pattern_len, uint32_t count, int type, void *ctx, kv_scan_fn fn)
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
    int rc = mdb_cursor_open(read.txn, kv->data_dbi, &lmdb_cursor);
    MDB_val key, record;
    if (rc == MDB_SUCCESS) {
        rc = kv_position_seek(lmdb_cursor, cursor->position, &key, &record);
    }
    uint8_t user_key[KV_KEY_BYTES_MAX];
    uint64_t last_hash = 0;
    for (uint32_t examined = 0; rc == MDB_SUCCESS; examined++) {
        if (key.mv_size < KV_KEY_HASH_BYTES || key.mv_size > KV_ENCODED_KEY_BYTES_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint64_t hash = kv_key_position(&key);
        if (examined >= count && (hash != last_hash || examined >= count + KV_SCAN_COUNT_MAX)) {
            cursor->position = hash;
            break;
        }
        size_t user_key_len = 0;
        if (!kv_record_key(&key, &record, user_key, &user_key_len)) {
            rc = MDB_CORRUPTED;
            break;
        }
        bool expired = false;
        if ((type == KV_TYPE_NONE || kv_record_type(&key, &record) == type) &&
            (pattern == NULL || kv_glob_match(pattern, pattern_len, user_key, user_key_len)) &&
            (rc = kv_key_expired(kv, read.txn, user_key, user_key_len, &expired)) ==
                MDB_SUCCESS &&
            !expired) { /* a key whose deadline passed is not listed, as Redis */
            fn(ctx, user_key, user_key_len);
        }
        if (rc != MDB_SUCCESS) {
            break;
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
    int rc = mdb_cursor_open(read.txn, kv->data_dbi, &lmdb_cursor);
    MDB_val key, record;
    if (rc == MDB_SUCCESS) {
        rc = kv_position_seek(lmdb_cursor, position, &key, &record);
        if (rc == MDB_NOTFOUND) {
            rc = mdb_cursor_get(lmdb_cursor, &key, &record, MDB_FIRST);
        }
    }
    /* The first key from there whose deadline has not passed, wrapping around, looking at
     * KV_RANDOM_KEY_TRIES keys at most (all of them expired: none is reported). */
    for (int tries = 0; rc == MDB_SUCCESS && tries < KV_RANDOM_KEY_TRIES; tries++) {
        rc = kv_record_key(&key, &record, buf, key_len) ? MDB_SUCCESS : MDB_CORRUPTED;
        bool expired = false;
        if (rc == MDB_SUCCESS) {
            rc = kv_key_expired(kv, read.txn, buf, *key_len, &expired);
        }
        if (rc == MDB_SUCCESS && !expired) {
            *found = true;
            break;
        }
        if (rc == MDB_SUCCESS) {
            rc = mdb_cursor_get(lmdb_cursor, &key, &record, MDB_NEXT);
            if (rc == MDB_NOTFOUND) {
                rc = mdb_cursor_get(lmdb_cursor, &key, &record, MDB_FIRST);
            }
        }
    }
    if (!*found) {
        *key_len = 0;
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
