/*
 * kv_apply.c — applying committed entries: in the environment's LMDB write txn, flat, with
 * the store's applied index. In a shared environment (kv.h) that txn holds every store's
 * batches until kv_env_commit commits them all at once.
 *
 * An entry that would leave the txn half-done — the map filled up (MDB_MAP_FULL), a hashed
 * key collided, WRONGTYPE after a first write — must leave no trace. MDB_WRITEMAP allows no
 * nested txn to roll it back alone, so the whole txn is aborted, the entry marked to be
 * answered with its error, and everything else in the txn applied again (kv_replay.c). This
 * path is rare; the common one pays only for copying each batch's entries into the record.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kv_command.h"
#include "storage/kv_tx.h"
#include "storage/kv_coll.h"
#include "storage/kv_internal.h"

static const char kv_error_not_integer[] = "ERR value is not an integer or out of range";
static const char kv_error_overflow[] = "ERR increment or decrement would overflow";
static const char kv_error_string_size[] =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
static const char kv_error_storage_full[] = "ERR storage full";
static const char kv_error_collision[] = "ERR key hash collision";
static const char kv_error_config[] = "ERR configuration entry too large";
static const char kv_error_not_float[] = "ERR value is not a valid float";
static const char kv_error_nan[] = "ERR increment would produce NaN or Infinity";
static const char kv_error_no_such_key[] = "ERR no such key";

enum {
    KV_INT64_TEXT_BYTES_MAX = 20,        /* "-9223372036854775808" */
    KV_LONG_DOUBLE_TEXT_BYTES = 5 * 1024, /* Redis's MAX_LONG_DOUBLE_CHARS */
};

static void kv_result_set(struct kv_result *result, enum kv_result_type type)
{
    *result = (struct kv_result){.type = type};
}

static void kv_result_integer(struct kv_result *result, int64_t value)
{
    kv_result_set(result, KV_RESULT_INTEGER);
    result->integer = value;
}

static void kv_result_error(struct kv_result *result, const char *error)
{
    kv_result_set(result, KV_RESULT_ERROR);
    result->error = error;
}

/* Copies an old value out of the txn (it may be overwritten by the next write). */
static int kv_result_bulk(struct kv *kv, struct kv_result *result, const struct kv_bytes *value)
{
    const uint8_t *copy = kv_arena_copy(&kv->arena, value->data, value->len);
    if (copy == NULL) {
        return ENOMEM;
    }
    kv_result_set(result, KV_RESULT_BULK);
    result->bulk = copy;
    result->bulk_len = value->len;
    return MDB_SUCCESS;
}

/* A lookup for a command: a record of another key (collision) reads as "not found"; the
 * write that would follow then fails with KV_RC_COLLISION. */
static int kv_apply_get(struct kv *kv, MDB_txn *txn, const struct kv_slot *slot,
                        struct kv_bytes *value, bool *found)
{
    int rc = kv_slot_get(txn, kv->data_dbi, slot, value, found);
    if (rc == KV_RC_COLLISION) {
        *found = false;
        rc = MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS || *found || !kv_coll_any(kv, txn)) {
        return rc;
    }
    /* Not a string: a collection there makes the string command a WRONGTYPE error. */
    struct kv_slot collection = *slot;
    kv_slot_set_collection(&collection, true);
    struct kv_bytes meta;
    bool exists = false;
    rc = kv_slot_get(txn, kv->data_dbi, &collection, &meta, &exists);
    if (rc == KV_RC_COLLISION) {
        return MDB_SUCCESS;
    }
    return rc == MDB_SUCCESS && exists ? KV_RC_WRONGTYPE : rc;
}

/* Before a string overwrites a key whatever it holds (SET, MSET): a collection there goes. */
static int kv_apply_clear_collection(struct kv *kv, MDB_txn *txn, const struct kv_slot *slot,
                                     size_t *written)
{
    if (!kv_coll_any(kv, txn)) {
        return MDB_SUCCESS;
    }
    struct kv_key_info info;
    int rc = kv_key_find(kv, txn, slot->key, slot->key_len, &info);
    if (rc != MDB_SUCCESS || info.type == KV_TYPE_NONE || info.type == KV_TYPE_STRING) {
        return rc;
    }
    bool deleted = false;
    *written += slot->key_len;
    return kv_key_remove(kv, txn, &info, &deleted);
}

static int kv_apply_put(struct kv *kv, MDB_txn *txn, const struct kv_slot *slot,
                        const struct kv_bytes *value, size_t *written)
{
    *written += slot->key_len + value->len;
    return kv_slot_put(txn, kv->data_dbi, slot, value, 1);
}

static int kv_apply_del(struct kv *kv, MDB_txn *txn, const struct kv_slot *slot, bool *deleted)
{
    return kv_slot_del(txn, kv->data_dbi, slot, deleted);
}

/*
 * Redis's string2ll: optional '-', then digits without a leading zero (except "0" itself),
 * no spaces, no '+', within int64.
 */
bool kv_parse_int64(const uint8_t *text, size_t len, int64_t *out)
{
    if (len == 0 || len > KV_INT64_TEXT_BYTES_MAX) {
        return false;
    }
    if (len == 1 && text[0] == '0') {
        *out = 0;
        return true;
    }
    bool negative = text[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i == len || text[i] < '1' || text[i] > '9') {
        return false;
    }
    uint64_t magnitude = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) {
            return false;
        }
        magnitude = magnitude * 10 + digit;
    }
    if (negative) {
        if (magnitude > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
        return true;
    }
    if (magnitude > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = (int64_t)magnitude;
    return true;
}

/* The key's deadline after SET: kept (KEEPTTL), set (EX, PX, EXAT, PXAT: delta, kv_command.h)
 * or cleared, as Redis. A deadline already passed deletes the key at once. */
static int kv_apply_set_deadline(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                                 struct kv_slot *slot, bool had, uint64_t kept)
{
    bool cleared = false;
    if (command->flags & KV_FLAG_KEEPTTL) {
        return had ? kv_deadline_set(kv, txn, slot->key, slot->key_len, kept) : MDB_SUCCESS;
    }
    if (!(command->flags & KV_FLAG_EXPIRE)) {
        return kv_deadline_clear(kv, txn, slot->key, slot->key_len, &cleared);
    }
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    uint64_t now = clock.time_ms;
    uint64_t deadline = command->delta > 0 ? now + (uint64_t)command->delta
                                           : (uint64_t)-command->delta;
    if (deadline <= now) {
        rc = kv_deadline_clear(kv, txn, slot->key, slot->key_len, &cleared);
        return rc == MDB_SUCCESS ? kv_slot_del(txn, kv->data_dbi, slot, &cleared) : rc;
    }
    return kv_deadline_set(kv, txn, slot->key, slot->key_len, deadline);
}

/* SET's write: whatever the key held goes (a collection's deadline with it: KEEPTTL reads it
 * first), then the value and its deadline. */
static int kv_apply_set_value(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                              struct kv_slot *slot, size_t *written)
{
    uint64_t kept = 0;
    bool had = false;
    int rc = MDB_SUCCESS;
    if (command->flags & KV_FLAG_KEEPTTL) {
        rc = kv_deadline_get(kv, txn, slot->key, slot->key_len, &kept, &had);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_apply_clear_collection(kv, txn, slot, written);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_apply_put(kv, txn, slot, &command->args[1], written);
    }
    return rc == MDB_SUCCESS ? kv_apply_set_deadline(kv, txn, command, slot, had, kept) : rc;
}

/* SET k v [NX|XX] [GET] [EX..|KEEPTTL]: OK / null when the condition failed; with GET the old
 * value. */
static int kv_apply_set(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                        struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    bool found = false;
    struct kv_bytes old = {0};
    if (command->flags != 0) { /* plain SET needs no lookup: the fast path of the benchmark */
        int rc = kv_apply_get(kv, txn, &slot, &old, &found);
        if (rc == KV_RC_WRONGTYPE && !(command->flags & KV_FLAG_GET)) {
            found = true; /* SET NX / XX treat a collection as an existing key */
            rc = MDB_SUCCESS;
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    bool condition = !((command->flags & KV_FLAG_NX) && found) &&
                     !((command->flags & KV_FLAG_XX) && !found);
    kv_result_set(result, condition ? KV_RESULT_OK : KV_RESULT_NULL);
    if ((command->flags & KV_FLAG_GET) && found) {
        int rc = kv_result_bulk(kv, result, &old); /* before the put: old may be overwritten */
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    } else if (command->flags & KV_FLAG_GET) {
        kv_result_set(result, KV_RESULT_NULL);
    }
    if (!condition) {
        return MDB_SUCCESS;
    }
    return kv_apply_set_value(kv, txn, command, &slot, written);
}

/* SETNX k v (1 set / 0 existed) and MSETNX k v... (1 all set / 0 none: one key existed). */
static int kv_apply_setnx(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                          struct kv_result *result, size_t *written)
{
    assert(command->arg_count % 2 == 0);
    for (uint32_t i = 0; i < command->arg_count; i += 2) {
        struct kv_slot slot;
        kv_slot_init(&slot, command->args[i].data, command->args[i].len);
        struct kv_bytes old;
        bool found = false;
        int rc = kv_apply_get(kv, txn, &slot, &old, &found);
        if (rc != MDB_SUCCESS && rc != KV_RC_WRONGTYPE) {
            return rc;
        }
        if (found || rc == KV_RC_WRONGTYPE) { /* a key of any type exists */
            kv_result_integer(result, 0);
            return MDB_SUCCESS;
        }
    }
    for (uint32_t i = 0; i < command->arg_count; i += 2) {
        struct kv_slot slot;
        kv_slot_init(&slot, command->args[i].data, command->args[i].len);
        int rc = kv_apply_put(kv, txn, &slot, &command->args[i + 1], written);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    kv_result_integer(result, 1);
    return MDB_SUCCESS;
}

/* GETSET k v and GETDEL k: the old value (or null), then the write or the delete. */
static int kv_apply_getset(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old;
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (found) {
        rc = kv_result_bulk(kv, result, &old);
    } else {
        kv_result_set(result, KV_RESULT_NULL);
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    bool cleared = false; /* GETSET clears the deadline as SET does; GETDEL with the key */
    rc = command->op == KV_OP_GETSET ? kv_apply_put(kv, txn, &slot, &command->args[1], written)
         : found                     ? kv_apply_del(kv, txn, &slot, &cleared)
                                     : MDB_SUCCESS;
    return rc == MDB_SUCCESS ? kv_deadline_clear(kv, txn, slot.key, slot.key_len, &cleared) : rc;
}

static int kv_apply_delete(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    int64_t deleted_count = 0;
    for (uint32_t i = 0; i < command->arg_count; i++) {
        struct kv_key_info info;
        int rc = kv_key_find(kv, txn, command->args[i].data, command->args[i].len, &info);
        bool deleted = false;
        if (rc == MDB_SUCCESS) {
            rc = kv_key_remove(kv, txn, &info, &deleted);
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        deleted_count += deleted;
        *written += command->args[i].len;
    }
    kv_result_integer(result, deleted_count);
    return MDB_SUCCESS;
}

/* CAS k expected new: 1 when k held exactly `expected` and now holds `new`, else 0. */
static int kv_apply_cas(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                        struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old;
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    const struct kv_bytes *expected = &command->args[1];
    bool equal = found && old.len == expected->len &&
                 (old.len == 0 || memcmp(old.data, expected->data, old.len) == 0);
    kv_result_integer(result, equal ? 1 : 0);
    return equal ? kv_apply_put(kv, txn, &slot, &command->args[2], written) : MDB_SUCCESS;
}

static int kv_apply_incrby(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old;
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    int64_t value = 0;
    if (found && !kv_parse_int64(old.data, old.len, &value)) {
        kv_result_error(result, kv_error_not_integer);
        return MDB_SUCCESS;
    }
    int64_t sum = 0;
    if (__builtin_add_overflow(value, command->delta, &sum)) {
        kv_result_error(result, kv_error_overflow);
        return MDB_SUCCESS;
    }
    char text[KV_INT64_TEXT_BYTES_MAX + 1];
    int text_len = snprintf(text, sizeof text, "%lld", (long long)sum);
    assert(text_len > 0 && text_len <= KV_INT64_TEXT_BYTES_MAX);
    struct kv_bytes fresh = {.data = (const uint8_t *)text, .len = (size_t)text_len};
    kv_result_integer(result, sum);
    return kv_apply_put(kv, txn, &slot, &fresh, written);
}

/* APPEND k v: the new length, which must stay within the value limit. */
static int kv_apply_append(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old = {0};
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    const struct kv_bytes *tail = &command->args[1];
    if (!found) {
        kv_result_integer(result, (int64_t)tail->len);
        return kv_apply_put(kv, txn, &slot, tail, written);
    }
    if (old.len + tail->len > KV_VALUE_BYTES_MAX) {
        kv_result_error(result, kv_error_string_size);
        return MDB_SUCCESS;
    }
    /* The old value lives in a page the put may rewrite: build the new one aside first. */
    if (old.len > 0) {
        memcpy(kv->scratch, old.data, old.len);
    }
    if (tail->len > 0) {
        memcpy(kv->scratch + old.len, tail->data, tail->len);
    }
    struct kv_bytes fresh = {.data = kv->scratch, .len = old.len + tail->len};
    kv_result_integer(result, (int64_t)fresh.len);
    return kv_apply_put(kv, txn, &slot, &fresh, written);
}

static int kv_apply_mset(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                         struct kv_result *result, size_t *written)
{
    assert(command->arg_count % 2 == 0);
    for (uint32_t i = 0; i < command->arg_count; i += 2) {
        struct kv_slot slot;
        kv_slot_init(&slot, command->args[i].data, command->args[i].len);
        int rc = kv_apply_clear_collection(kv, txn, &slot, written);
        if (rc == MDB_SUCCESS) {
            rc = kv_apply_put(kv, txn, &slot, &command->args[i + 1], written);
        }
        bool cleared = false;
        if (rc == MDB_SUCCESS) {
            rc = kv_deadline_clear(kv, txn, slot.key, slot.key_len, &cleared);
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    kv_result_set(result, KV_RESULT_OK);
    return MDB_SUCCESS;
}

/* FLUSHALL / FLUSHDB: every user key goes, in the same txn as the applied index. */
static int kv_apply_flushall(struct kv *kv, MDB_txn *txn, struct kv_result *result)
{
    int rc = mdb_drop(txn, kv->data_dbi, 0);
    if (rc == MDB_SUCCESS) {
        rc = mdb_drop(txn, kv->elems_dbi, 0); /* every collection's elements and the trash */
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_expiry_flushed(kv, txn); /* the deadlines were records of the elements DB */
    }
    kv_result_set(result, KV_RESULT_OK);
    return rc;
}

/*
 * Redis's string2ld: the whole text (a NUL byte inside makes it invalid) is a long double for
 * strtold, no leading space, not NaN, and no overflow to infinity or underflow to zero.
 */
bool kv_parse_long_double(const uint8_t *text, size_t len, long double *out)
{
    char buf[KV_LONG_DOUBLE_TEXT_BYTES];
    if (len == 0 || len >= sizeof buf) {
        return false;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    char *end = NULL;
    long double value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        errno == EINVAL || isnan(value) ||
        (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL ||
                             fpclassify(value) == FP_ZERO))) {
        return false;
    }
    *out = value;
    return true;
}

/* Redis's ld2string in LD_STR_HUMAN mode: %.17Lf, trailing zeroes (and a bare '.') trimmed,
 * "-0" written "0". Deterministic on every replica: the same long double arithmetic and the
 * same libc run the same apply. Returns the length, 0 when the text does not fit. */
size_t kv_format_long_double(long double value, char *buf, size_t cap)
{
    if (isinf(value)) {
        return (size_t)snprintf(buf, cap, "%s", value > 0 ? "inf" : "-inf");
    }
    int n = snprintf(buf, cap, "%.17Lf", value);
    if (n < 0 || (size_t)n + 1 > cap) {
        return 0;
    }
    size_t len = (size_t)n;
    if (memchr(buf, '.', len) != NULL) {
        while (buf[len - 1] == '0') {
            len--;
        }
        if (buf[len - 1] == '.') {
            len--;
        }
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    return len;
}

/* INCRBYFLOAT k incr: the new value as text, which is also stored. */
static int kv_apply_incrbyfloat(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                                struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old = {0};
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    long double value = 0, increment = 0;
    if ((found && !kv_parse_long_double(old.data, old.len, &value)) ||
        !kv_parse_long_double(command->args[1].data, command->args[1].len, &increment)) {
        kv_result_error(result, kv_error_not_float);
        return MDB_SUCCESS;
    }
    value += increment;
    if (isnan(value) || isinf(value)) {
        kv_result_error(result, kv_error_nan);
        return MDB_SUCCESS;
    }
    char text[KV_LONG_DOUBLE_TEXT_BYTES];
    struct kv_bytes fresh = {.data = (const uint8_t *)text,
                             .len = kv_format_long_double(value, text, sizeof text)};
    rc = kv_result_bulk(kv, result, &fresh);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    return kv_apply_put(kv, txn, &slot, &fresh, written);
}

/* SETRANGE k offset v: the new length. An empty v changes nothing (and creates no key). */
static int kv_apply_setrange(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                             struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old = {0};
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    const struct kv_bytes *patch = &command->args[1];
    assert(command->delta >= 0);
    uint64_t offset = (uint64_t)command->delta;
    if (patch->len == 0) {
        kv_result_integer(result, found ? (int64_t)old.len : 0);
        return MDB_SUCCESS;
    }
    if (offset > KV_VALUE_BYTES_MAX || offset + patch->len > KV_VALUE_BYTES_MAX) {
        kv_result_error(result, kv_error_string_size);
        return MDB_SUCCESS;
    }
    size_t end = (size_t)offset + patch->len;
    size_t len = old.len > end ? old.len : end;
    /* Built aside: the old value lives in a page that the put may rewrite. */
    memset(kv->scratch, 0, len);
    if (old.len > 0) {
        memcpy(kv->scratch, old.data, old.len);
    }
    memcpy(kv->scratch + offset, patch->data, patch->len);
    struct kv_bytes fresh = {.data = kv->scratch, .len = len};
    kv_result_integer(result, (int64_t)len);
    return kv_apply_put(kv, txn, &slot, &fresh, written);
}

/* SETBIT k offset bit: the bit's old value; the string grows (zero-filled) to hold it. */
static int kv_apply_setbit(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes old = {0};
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &old, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    assert(command->delta >= 0 && command->delta <= KV_BIT_OFFSET_MAX);
    size_t byte = (size_t)command->delta >> 3;
    uint8_t mask = (uint8_t)(1u << (7 - (command->delta & 7)));
    size_t len = old.len > byte + 1 ? old.len : byte + 1;
    memset(kv->scratch, 0, len);
    if (old.len > 0) {
        memcpy(kv->scratch, old.data, old.len);
    }
    kv_result_integer(result, (kv->scratch[byte] & mask) ? 1 : 0);
    if (command->flags & KV_FLAG_BIT) {
        kv->scratch[byte] |= mask;
    } else {
        kv->scratch[byte] &= (uint8_t)~mask;
    }
    struct kv_bytes fresh = {.data = kv->scratch, .len = len};
    return kv_apply_put(kv, txn, &slot, &fresh, written);
}

/* Writes what `from` holds (a string copied aside, or a collection's metadata) under the
 * key of `to`, which holds nothing any more. */
static int kv_apply_put_as(struct kv *kv, MDB_txn *txn, const struct kv_key_info *from,
                           struct kv_key_info *to, const struct kv_bytes *string,
                           uint64_t id, size_t *written)
{
    if (from->type == KV_TYPE_STRING) {
        kv_slot_set_collection(&to->slot, false);
        return kv_apply_put(kv, txn, &to->slot, string, written);
    }
    struct kv_coll_meta meta = from->meta;
    meta.id = id;
    meta.version = kv->apply_index;
    *written += to->slot.key_len + KV_COLL_META_BYTES;
    return kv_coll_meta_put(kv, txn, &to->slot, &meta);
}

/*
 * RENAME k newkey (OK, "ERR no such key") and RENAMENX (1 renamed, 0 newkey exists): as
 * Redis, renaming a key onto itself changes nothing but still needs the key to exist. Any
 * type: a collection moves as its metadata record alone (its id, so its elements, stay).
 */
static int kv_apply_rename(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                           struct kv_result *result, size_t *written)
{
    bool nx = (command->flags & KV_FLAG_NX) != 0;
    struct kv_key_info from, to;
    int rc = kv_key_find(kv, txn, command->args[0].data, command->args[0].len, &from);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (from.type == KV_TYPE_NONE) {
        kv_result_error(result, kv_error_no_such_key);
        return MDB_SUCCESS;
    }
    bool same = command->args[0].len == command->args[1].len &&
                (command->args[0].len == 0 ||
                 memcmp(command->args[0].data, command->args[1].data, command->args[0].len) == 0);
    if (same) {
        if (nx) {
            kv_result_integer(result, 0);
        } else {
            kv_result_set(result, KV_RESULT_OK);
        }
        return MDB_SUCCESS;
    }
    /* The value aside first: the writes below may move the page it lies in. */
    struct kv_bytes value = {.data = kv->scratch, .len = from.value.len};
    if (from.type == KV_TYPE_STRING && from.value.len > 0) {
        memcpy(kv->scratch, from.value.data, from.value.len);
    }
    rc = kv_key_find(kv, txn, command->args[1].data, command->args[1].len, &to);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (nx && to.type != KV_TYPE_NONE) {
        kv_result_integer(result, 0);
        return MDB_SUCCESS;
    }
    bool deleted = false, had = false;
    uint64_t deadline = 0;
    rc = kv_deadline_get(kv, txn, from.slot.key, from.slot.key_len, &deadline, &had);
    if (rc == MDB_SUCCESS) {
        rc = kv_key_remove(kv, txn, &to, &deleted);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_apply_put_as(kv, txn, &from, &to, &value, from.meta.id, written);
    }
    if (rc == MDB_SUCCESS) {
        /* The old name's record goes; a collection's elements are now the new name's. */
        kv_slot_set_collection(&from.slot, from.type != KV_TYPE_STRING);
        rc = kv_slot_del(txn, kv->data_dbi, &from.slot, &deleted);
    }
    if (rc == MDB_SUCCESS && had) { /* the deadline moves with the key, as Redis */
        rc = kv_deadline_clear(kv, txn, from.slot.key, from.slot.key_len, &deleted);
        if (rc == MDB_SUCCESS) {
            rc = kv_deadline_set(kv, txn, to.slot.key, to.slot.key_len, deadline);
        }
    }
    if (nx) {
        kv_result_integer(result, 1);
    } else {
        kv_result_set(result, KV_RESULT_OK);
    }
    return rc;
}

/* COPY k newkey [REPLACE]: 1 copied, 0 when k is missing or newkey exists (without REPLACE).
 * The same key twice is refused by the node before it reaches the log. A collection is
 * copied element by element, so its size is bounded (KV_COPY_ELEMENTS_MAX). */
static int kv_apply_copy(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                         struct kv_result *result, size_t *written)
{
    struct kv_key_info from, to;
    int rc = kv_key_find(kv, txn, command->args[0].data, command->args[0].len, &from);
    if (rc == MDB_SUCCESS && from.type != KV_TYPE_NONE) {
        rc = kv_key_find(kv, txn, command->args[1].data, command->args[1].len, &to);
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (from.type == KV_TYPE_NONE ||
        (to.type != KV_TYPE_NONE && !(command->flags & KV_FLAG_REPLACE))) {
        kv_result_integer(result, 0);
        return MDB_SUCCESS;
    }
    struct kv_bytes value = {.data = kv->scratch, .len = from.value.len};
    uint64_t id = 0;
    if (from.type == KV_TYPE_STRING && from.value.len > 0) {
        memcpy(kv->scratch, from.value.data, from.value.len);
    } else if (from.type != KV_TYPE_STRING) {
        if (from.meta.count > KV_COPY_ELEMENTS_MAX) {
            kv_result_error(result, "ERR COPY of a collection of more than 100000 elements is "
                                    "not supported by chorus");
            return MDB_SUCCESS;
        }
        id = kv_coll_new_id(kv);
        if (id == 0) {
            kv_result_error(result, "ERR too many collections created in one transaction");
            return MDB_SUCCESS;
        }
    }
    bool deleted = false;
    rc = kv_key_remove(kv, txn, &to, &deleted);
    if (rc == MDB_SUCCESS && id != 0) {
        rc = kv_coll_copy_elements(kv, txn, from.meta.id, id);
        *written += from.meta.count * 64;
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_apply_put_as(kv, txn, &from, &to, &value, id, written);
    }
    uint64_t deadline = 0;
    bool had = false;
    if (rc == MDB_SUCCESS) { /* the copy gets the source's deadline, as Redis */
        rc = kv_deadline_get(kv, txn, from.slot.key, from.slot.key_len, &deadline, &had);
    }
    if (rc == MDB_SUCCESS && had) {
        rc = kv_deadline_set(kv, txn, to.slot.key, to.slot.key_len, deadline);
    }
    kv_result_integer(result, 1);
    return rc;
}

/* Returns an LMDB code; command-level failures (bad encoding, not an integer) are results. */
/* GET k and STRLEN k inside a transaction: at its place in the log, seeing its own writes. */
static int kv_apply_read_one(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                             struct kv_result *result)
{
    struct kv_slot slot;
    kv_slot_init(&slot, command->args[0].data, command->args[0].len);
    struct kv_bytes value = {0};
    bool found = false;
    int rc = kv_apply_get(kv, txn, &slot, &value, &found);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (command->op == KV_OP_STRLEN) {
        kv_result_integer(result, found ? (int64_t)value.len : 0);
        return MDB_SUCCESS;
    }
    if (!found) {
        kv_result_set(result, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    return kv_result_bulk(kv, result, &value);
}

/* MGET k... (an array of values) and EXISTS k... (a count; a key named twice counts twice). */
static int kv_apply_read_many(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                              struct kv_result *result)
{
    struct kv_result *elements = NULL;
    if (command->op == KV_OP_MGET) {
        elements = kv_arena_alloc(&kv->arena, command->arg_count * sizeof(*elements));
        if (elements == NULL) {
            return ENOMEM;
        }
    }
    int64_t count = 0;
    for (uint32_t i = 0; i < command->arg_count; i++) {
        struct kv_slot slot;
        kv_slot_init(&slot, command->args[i].data, command->args[i].len);
        struct kv_bytes value = {0};
        bool found = false;
        int rc = kv_apply_get(kv, txn, &slot, &value, &found);
        if (rc == KV_RC_WRONGTYPE) {
            count++; /* EXISTS counts a key of any type; MGET answers null for it */
            rc = MDB_SUCCESS;
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        count += found;
        if (elements == NULL) {
            continue;
        }
        kv_result_set(&elements[i], KV_RESULT_NULL);
        if (found && (rc = kv_result_bulk(kv, &elements[i], &value)) != MDB_SUCCESS) {
            return rc;
        }
    }
    if (elements == NULL) {
        kv_result_integer(result, count);
        return MDB_SUCCESS;
    }
    kv_result_set(result, KV_RESULT_ARRAY);
    result->elements = elements;
    result->element_count = command->arg_count;
    return MDB_SUCCESS;
}

static int kv_apply_op(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                       struct kv_result *result, size_t *written);

/* A string command that met a collection answers WRONGTYPE: at once when it wrote nothing
 * yet (its first lookup), else by rolling the entry back (kv_apply_roll_back). */
static int kv_apply_command(struct kv *kv, MDB_txn *txn, const struct kv_apply_item *item,
                            struct kv_result *result, size_t *written)
{
    struct kv_command command;
    const char *reason = NULL;
    int rv = kv_command_decode(item->data, item->data_len, &command, kv->decode_args,
                               KV_COMMAND_ARGS_MAX, &reason);
    if (rv != KV_OK) {
        kv_result_error(result, reason);
        return MDB_SUCCESS;
    }
    /* Its keys whose deadline passed go first: the command finds them absent. */
    int rc = kv_expiry_purge_command(kv, txn, &command, written);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    size_t before = *written;
    rc = kv_apply_op(kv, txn, &command, result, written);
    if (rc == KV_RC_WRONGTYPE && *written == before) {
        kv_result_error(result, kv_error_wrongtype);
        return MDB_SUCCESS;
    }
    return rc;
}

static int kv_apply_op(struct kv *kv, MDB_txn *txn, const struct kv_command *cmd,
                       struct kv_result *result, size_t *written)
{
    const struct kv_command command = *cmd;
    if (command.op >= KV_OP_COLLECTION_FIRST) {
        struct kv_ctx ctx = {.kv = kv, .txn = txn, .arena = &kv->arena, .written = written,
                             .seed = (uint64_t)command.delta};
        return kv_types_run(&ctx, &command, result);
    }
    switch (command.op) {
    case KV_OP_SET:
        return kv_apply_set(kv, txn, &command, result, written);
    case KV_OP_SETNX:
    case KV_OP_MSETNX:
        return kv_apply_setnx(kv, txn, &command, result, written);
    case KV_OP_GETSET:
    case KV_OP_GETDEL:
        return kv_apply_getset(kv, txn, &command, result, written);
    case KV_OP_DEL:
        return kv_apply_delete(kv, txn, &command, result, written);
    case KV_OP_CAS:
        return kv_apply_cas(kv, txn, &command, result, written);
    case KV_OP_INCRBY:
        return kv_apply_incrby(kv, txn, &command, result, written);
    case KV_OP_APPEND:
        return kv_apply_append(kv, txn, &command, result, written);
    case KV_OP_MSET:
        return kv_apply_mset(kv, txn, &command, result, written);
    case KV_OP_FLUSHALL:
        return kv_apply_flushall(kv, txn, result);
    case KV_OP_INCRBYFLOAT:
        return kv_apply_incrbyfloat(kv, txn, &command, result, written);
    case KV_OP_SETRANGE:
        return kv_apply_setrange(kv, txn, &command, result, written);
    case KV_OP_SETBIT:
        return kv_apply_setbit(kv, txn, &command, result, written);
    case KV_OP_RENAME:
        return kv_apply_rename(kv, txn, &command, result, written);
    case KV_OP_COPY:
        return kv_apply_copy(kv, txn, &command, result, written);
    case KV_OP_GET:
    case KV_OP_STRLEN:
        return kv_apply_read_one(kv, txn, &command, result);
    case KV_OP_MGET:
    case KV_OP_EXISTS:
        return kv_apply_read_many(kv, txn, &command, result);
    default:
        assert(!"kv_command_decode let an unknown op through");
        return MDB_SUCCESS;
    }
}

/* Whether a transaction entry is framed as kv_tx_encode writes it, checked whole before any
 * of it runs (the log may hold corrupt bytes; half a transaction must never apply). */
static bool kv_apply_tx_well_formed(const struct kv_apply_item *item)
{
    struct kv_tx_reader reader;
    if (kv_tx_open(&reader, item->data, item->data_len) != KV_OK) {
        return false;
    }
    while (reader.watches_left > 0) {
        struct kv_tx_watch watch;
        if (kv_tx_next_watch(&reader, &watch) != KV_OK) {
            return false;
        }
    }
    while (reader.commands_left > 0) {
        struct kv_bytes command;
        if (kv_tx_next_command(&reader, &command) != KV_OK) {
            return false;
        }
    }
    return reader.at == reader.len;
}

/* Whether every watched key still is as its client saw it (kv_tx.h). */
static int kv_apply_tx_watches_hold(struct kv *kv, MDB_txn *txn, struct kv_tx_reader *reader,
                                    bool *hold)
{
    *hold = true;
    while (reader->watches_left > 0) {
        struct kv_tx_watch watch;
        int rv = kv_tx_next_watch(reader, &watch);
        assert(rv == KV_OK); /* kv_apply_tx_well_formed */
        bool found = false;
        uint64_t hash = 0;
        int rc = kv_key_watch_state(kv, txn, watch.key.data, watch.key.len, &found, &hash);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        if (found != watch.exists || (found && hash != watch.hash)) {
            *hold = false;
        }
    }
    return MDB_SUCCESS;
}

/*
 * A transaction: its commands in order, in the batch's write txn, so that no reader sees part
 * of it and a crash keeps all or none; each gets its own result (a failing one does not stop
 * the rest, as in Redis). A changed watched key makes it a null array, running nothing.
 */
static int kv_apply_tx(struct kv *kv, MDB_txn *txn, const struct kv_apply_item *item,
                       struct kv_result *result, size_t *written)
{
    if (!kv_apply_tx_well_formed(item)) {
        kv_result_error(result, "ERR malformed transaction entry");
        return MDB_SUCCESS;
    }
    struct kv_tx_reader reader;
    int rv = kv_tx_open(&reader, item->data, item->data_len);
    assert(rv == KV_OK);
    bool hold = false;
    int rc = kv_apply_tx_watches_hold(kv, txn, &reader, &hold);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (!hold) {
        kv_result_set(result, KV_RESULT_NULL_ARRAY);
        return MDB_SUCCESS;
    }
    struct kv_result *elements = kv_arena_alloc(&kv->arena,
                                                reader.command_count * sizeof(*elements) + 1);
    if (elements == NULL) {
        return ENOMEM;
    }
    for (uint32_t i = 0; i < reader.command_count; i++) {
        struct kv_bytes command;
        rv = kv_tx_next_command(&reader, &command);
        assert(rv == KV_OK);
        struct kv_apply_item sub = {.index = item->index, .term = item->term,
                                    .kind = KV_ITEM_COMMAND, .data = command.data,
                                    .data_len = (uint32_t)command.len};
        rc = kv_apply_command(kv, txn, &sub, &elements[i], written);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    kv_result_set(result, KV_RESULT_ARRAY);
    result->elements = elements;
    result->element_count = reader.command_count;
    return MDB_SUCCESS;
}

/* A command or a transaction: what one log entry of the client's asks. */
static int kv_apply_entry(struct kv *kv, MDB_txn *txn, const struct kv_apply_item *item,
                          struct kv_result *result, size_t *written)
{
    kv->apply_index = item->index; /* new collection ids come from it (kv_coll_new_id) */
    kv->apply_ids = 0;
    int rc = item->kind == KV_ITEM_TX ? kv_apply_tx(kv, txn, item, result, written)
                                      : kv_apply_command(kv, txn, item, result, written);
    /* Deleted collections' elements, a bounded step per entry, the same on every replica. */
    return rc == MDB_SUCCESS ? kv_coll_reclaim(kv, txn, written) : rc;
}

static bool kv_rc_needs_rollback(int rc)
{
    return rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == KV_RC_COLLISION ||
           rc == KV_RC_WRONGTYPE;
}

static const char *kv_rollback_error(int rc)
{
    return rc == KV_RC_COLLISION    ? kv_error_collision
           : rc == KV_RC_WRONGTYPE ? kv_error_wrongtype
                                   : kv_error_storage_full;
}

static int kv_apply_item(struct kv *kv, MDB_txn *txn, const struct kv_apply_item *item,
                         struct kv_result *result, size_t *written)
{
    kv_result_set(result, KV_RESULT_NONE);
    switch (item->kind) {
    case KV_ITEM_NOOP:
        return MDB_SUCCESS;
    case KV_ITEM_CONFIG:
        if (item->data_len > KV_CONFIG_BYTES_MAX) {
            kv_result_error(result, kv_error_config); /* corrupt entry: keep the old config */
            return MDB_SUCCESS;
        }
        *written += item->data_len;
        return kv_meta_put_config(txn, kv, item->data, item->data_len);
    case KV_ITEM_ACL:
        if (item->data_len > KV_ACL_BYTES_MAX) {
            kv_result_error(result, "ERR ACL table too large"); /* the node bounds it */
            return MDB_SUCCESS;
        }
        *written += item->data_len;
        return kv_meta_put_acl(txn, kv, item->data, item->data_len);
    case KV_ITEM_COMMAND:
    case KV_ITEM_TX: {
        int rc = 0;
        if (kv_replay_poisoned(&kv->shared->replay, kv, item->index, &rc)) {
            kv_result_error(result, kv_rollback_error(rc)); /* rolled back: see kv_replay.c */
            return MDB_SUCCESS;
        }
        /* The entry's log time is "now" for it (docs/expiry.md). */
        rc = kv_clock_advance(kv, txn, item->time_ms);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        return kv_apply_entry(kv, txn, item, result, written);
    }
    }
    kv_result_error(result, "ERR unknown entry kind");
    return MDB_SUCCESS;
}

/* Only a client's entry may be answered with an error instead; a configuration entry or the
 * applied index that cannot be written stops the node (KV_ERR_FULL). */
static bool kv_item_may_fail(const struct kv_apply_item *item)
{
    return item->kind == KV_ITEM_COMMAND || item->kind == KV_ITEM_TX;
}

/*
 * Applies items[0..count) in the environment's write txn, flat, until the end, or until the
 * txn has written KV_APPLY_TXN_BYTES_MAX (which keeps it far from LMDB's dirty-page limit),
 * or, with stop_after_poison, right after an entry answered as rolled back (so that the
 * caller commits at once: kv_apply_batch). The applied index is written first, as a
 * placeholder, so that its page is already dirty: the final rewrite of the same size then
 * needs no free page even when the map is full. *done: the items applied; on an error (the
 * txn must then be aborted) *item_failed tells whether items[*done] failed, or the index.
 */
static int kv_apply_run(struct kv *kv, MDB_txn *txn, const struct kv_apply_item *items,
                        size_t count, struct kv_result *results, bool stop_after_poison,
                        size_t *done, bool *item_failed)
{
    *item_failed = false;
    struct kv_env *env = kv->shared;
    int rc = kv_meta_put_applied(txn, kv, items[0].index, items[0].term);
    size_t i = 0;
    struct kv_result unused;
    while (rc == MDB_SUCCESS && i < count &&
           (i == 0 || env->txn_bytes < KV_APPLY_TXN_BYTES_MAX)) {
        assert(items[i].index == kv->applied_index + 1 + i);
        struct kv_result *result = results != NULL ? &results[i] : &unused;
        size_t written = 0;
        bool poisoned = stop_after_poison &&
                        kv_replay_poisoned(&env->replay, kv, items[i].index, NULL);
        rc = kv_apply_item(kv, txn, &items[i], result, &written);
        env->txn_bytes += written;
        *item_failed = rc != MDB_SUCCESS;
        if (rc == MDB_SUCCESS) {
            i++;
            if (poisoned) {
                break;
            }
        }
    }
    *done = i;
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_applied(txn, kv, items[i - 1].index, items[i - 1].term);
    }
    if (rc == MDB_SUCCESS) {
        kv->applied_index = items[i - 1].index;
        kv->applied_term = items[i - 1].term;
    }
    return rc;
}

/*
 * The write txn is aborted, and every recorded run (kv_replay.c) applied again, in order,
 * from the state of the last commit. Their results were handed out already and come out the
 * same (the same entries on the same state), so they go to a scratch result; their arenas
 * are not reset, so the results handed out keep pointing at live memory.
 */
static int kv_apply_replay(struct kv_env *env)
{
    kv_env_abort(env);
    struct kv_replay *replay = &env->replay;
    for (size_t r = replay->run_count; r-- > 0;) {
        replay->runs[r].kv->applied_index = replay->runs[r].applied_index_before;
        replay->runs[r].kv->applied_term = replay->runs[r].applied_term_before;
        replay->runs[r].kv->time_ms = replay->runs[r].time_before_ms; /* kv_clock_advance */
    }
    MDB_txn *txn = NULL;
    int rc = kv_env_write_txn(env, &txn);
    for (size_t r = 0; rc == MDB_SUCCESS && r < replay->run_count; r++) {
        const struct kv_replay_run *run = &replay->runs[r];
        for (size_t at = 0; rc == MDB_SUCCESS && at < run->item_count; at++) {
            struct kv_apply_item item = kv_replay_item(replay, run, at);
            size_t done = 0;
            bool item_failed = false;
            rc = kv_apply_run(run->kv, txn, &item, 1, NULL, false, &done, &item_failed);
        }
    }
    if (rc != MDB_SUCCESS) {
        /* What applied once on this state failed the second time (a reader held pages that
         * were free the first time): the results handed out can no longer be made true. */
        kv_env_abort(env);
        kv_replay_clear(replay);
    }
    return rc;
}

/* One entry must leave no trace: it is poisoned, the txn aborted and the other runs done
 * again (kv_apply_replay); the caller then applies its own run again from its start. */
static int kv_apply_roll_back(struct kv *kv, const struct kv_apply_item *item, int rc)
{
    struct kv_env *env = kv->shared;
    if (!kv_replay_poison(&env->replay, kv, item->index, rc)) {
        kv_env_abort(env);
        kv_replay_clear(&env->replay);
        kv_error_set("too many entries rolled back in one write txn");
        return KV_ERR_IO;
    }
    rc = kv_apply_replay(env);
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "apply again after a rollback");
}

/*
 * The batch in the environment's write txn. A run ends at the batch's end, at the txn's byte
 * bound, or right after a rolled-back entry; the last two commit at once, so that the next
 * rollback has nothing of this batch to redo (each entry is redone at most once: linear).
 * What remains uncommitted is recorded for kv_apply_replay.
 */
int kv_apply_batch(struct kv *kv, const struct kv_apply_item *items, size_t count,
                   struct kv_result *results)
{
    assert(kv != NULL && kv->env != NULL);
    assert(items != NULL || count == 0);
    struct kv_env *env = kv->shared;
    kv_arena_reset(&kv->arena);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        assert(i == 0 || items[i].index == items[i - 1].index + 1);
        if (results != NULL) {
            kv_result_set(&results[i], KV_RESULT_NONE);
        }
        if (items[i].index <= kv->applied_index) {
            at = i + 1; /* replayed from an older point: already in the store */
        }
    }
    size_t run_first = at;
    uint64_t index_before = kv->applied_index, term_before = kv->applied_term;
    uint64_t time_before = kv->time_ms;
    bool after_rollback = false;
    while (at < count) {
        MDB_txn *txn = NULL;
        int rc = kv_env_write_txn(env, &txn);
        size_t done = 0;
        bool item_failed = false;
        if (rc == MDB_SUCCESS) {
            rc = kv_apply_run(kv, txn, items + at, count - at,
                              results != NULL ? results + at : NULL, after_rollback, &done,
                              &item_failed);
        }
        if (kv_rc_needs_rollback(rc) && item_failed && kv_item_may_fail(&items[at + done])) {
            int rv = kv_apply_roll_back(kv, &items[at + done], rc);
            if (rv != KV_OK) {
                return rv;
            }
            after_rollback = true;
            continue;
        }
        if (rc != MDB_SUCCESS) {
            kv_env_abort(env);
            kv_replay_clear(&env->replay);
            return kv_error_mdb(rc, "apply batch");
        }
        at += done;
        if (after_rollback || env->txn_bytes >= KV_APPLY_TXN_BYTES_MAX || !env->defer_commit) {
            int rv = kv_env_commit(env);
            if (rv != KV_OK) {
                return rv;
            }
            after_rollback = false;
            run_first = at;
            index_before = kv->applied_index;
            term_before = kv->applied_term;
            time_before = kv->time_ms;
        }
    }
    if (env->txn != NULL && run_first < count &&
        !kv_replay_record(&env->replay, kv, items + run_first, count - run_first, index_before,
                          term_before)) {
        return kv_env_commit(env); /* no room to redo it later: then nothing to redo */
    }
    if (env->txn != NULL && run_first < count) {
        env->replay.runs[env->replay.run_count - 1].time_before_ms = time_before;
    }
    return KV_OK;
}
