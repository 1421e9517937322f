/*
 * kv_expiry.c — key expiry: the store's log time, deadlines and the commands that use them
 * (docs/expiry.md).
 *
 * A deadline belongs to a key whatever its type, so it is kept apart from the key's record,
 * as Redis keeps its expires dictionary apart from its keys: two kinds of records of the
 * store's elements DB, under ids no collection gets (kv_coll_new_id's ids stay below
 * 2^62 - 2^16, so even a sorted set's block id, which sets the two top bits, stays below them):
 *     KV_DEADLINE_ID + the key encoded as a user key (hash, tag, bytes)  -> u64 deadline
 *     KV_INDEX_ID + u64 deadline (big-endian) + the same encoding        -> the user key
 * The second orders the deadlines, so that the leader's clock entry finds the keys due
 * without a scan. Both travel in snapshots with the elements DB. The store's clock (meta
 * record "clock": its log time, and the count and sum of its deadlines for INFO) is written
 * in the same txns.
 *
 * Determinism: "now" is the clock's log time, which only the applied entries' stamps move;
 * every replica applies the same entries, so every replica expires the same keys at the
 * same index. A write deletes the expired keys it names before it runs (Redis's
 * expireIfNeeded on lookupKeyWrite); a read treats them as absent and deletes nothing.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "storage/kv_coll.h"

#define KV_DEADLINE_ID UINT64_C(0xFFFFFFFFFFFFFFFE)
#define KV_INDEX_ID UINT64_C(0xFFFFFFFFFFFFFFFF)

enum {
    KV_INDEX_KEY_BYTES_MAX = 2 * KV_ELEM_ID_BYTES + KV_KEY_HASHED_BYTES,
    KV_EXPIRE_ERROR_BYTES = 96,
};
_Static_assert(KV_INDEX_KEY_BYTES_MAX <= 511, "an index record's key fits LMDB's limit");

static const char kv_error_syntax[] = "ERR syntax error";
static const char kv_error_not_integer[] = "ERR value is not an integer or out of range";

static void kv_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t kv_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* ---- stamps ---- */

void kv_stamp_init(uint8_t *p)
{
    kv_stamp_write(p, 0);
}

void kv_stamp_write(uint8_t *p, uint64_t time_ms)
{
    p[0] = KV_STAMP_MARKER;
    kv_put_le64(p + 1, time_ms);
}

bool kv_stamp_read(const uint8_t *data, size_t len, uint64_t *time_ms)
{
    *time_ms = 0;
    if (len < KV_STAMP_BYTES || data[0] != KV_STAMP_MARKER) {
        return false;
    }
    *time_ms = kv_get_le64(data + 1);
    return true;
}

uint64_t kv_time(const struct kv *kv)
{
    return kv->time_ms;
}

/* ---- deadline records ---- */

/* The deadline record's key: the key encoded as an element of KV_DEADLINE_ID. */
static MDB_val kv_deadline_key(struct kv_slot *slot, const uint8_t *key, size_t key_len)
{
    kv_slot_init_element(slot, KV_DEADLINE_ID, key, key_len);
    return (MDB_val){.mv_size = slot->encoded_len, .mv_data = slot->encoded};
}

/* The index record's key: KV_INDEX_ID, the deadline, then the key's encoding. */
static MDB_val kv_index_key(uint8_t *buf, const struct kv_slot *slot, uint64_t deadline_ms)
{
    assert(slot->encoded_len >= KV_ELEM_ID_BYTES);
    size_t rest = slot->encoded_len - KV_ELEM_ID_BYTES;
    assert(2 * KV_ELEM_ID_BYTES + rest <= KV_INDEX_KEY_BYTES_MAX);
    kv_be64_put(buf, KV_INDEX_ID);
    kv_be64_put(buf + KV_ELEM_ID_BYTES, deadline_ms);
    memcpy(buf + 2 * KV_ELEM_ID_BYTES, slot->encoded + KV_ELEM_ID_BYTES, rest);
    return (MDB_val){.mv_size = 2 * KV_ELEM_ID_BYTES + rest, .mv_data = buf};
}

void kv_expiry_count_record(const MDB_val *key, struct kv_clock *clock)
{
    if (key->mv_size <= 2 * KV_ELEM_ID_BYTES ||
        kv_be64_get(key->mv_data) != KV_INDEX_ID) {
        return;
    }
    clock->count++;
    clock->sum_s += kv_be64_get((const uint8_t *)key->mv_data + KV_ELEM_ID_BYTES) / 1000;
}

static int kv_deadline_get_slot(struct kv *kv, MDB_txn *txn, struct kv_slot *slot,
                                const uint8_t *key, size_t key_len, uint64_t *deadline_ms,
                                bool *found)
{
    *found = false;
    *deadline_ms = 0;
    MDB_val k = kv_deadline_key(slot, key, key_len), v;
    int rc = mdb_get(txn, kv->elems_dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (v.mv_size != 8) {
        return MDB_CORRUPTED;
    }
    *found = true;
    *deadline_ms = kv_get_le64(v.mv_data);
    return MDB_SUCCESS;
}

int kv_deadline_get(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    uint64_t *deadline_ms, bool *found)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS || clock.count == 0) {
        *found = false;
        *deadline_ms = 0;
        return rc;
    }
    struct kv_slot slot;
    return kv_deadline_get_slot(kv, txn, &slot, key, key_len, deadline_ms, found);
}

/* Removes the deadline's two records (the clock's count is the caller's). */
static int kv_deadline_del(struct kv *kv, MDB_txn *txn, struct kv_slot *slot,
                           uint64_t deadline_ms)
{
    MDB_val k = {.mv_size = slot->encoded_len, .mv_data = slot->encoded};
    int rc = mdb_del(txn, kv->elems_dbi, &k, NULL);
    uint8_t buf[KV_INDEX_KEY_BYTES_MAX];
    MDB_val ik = kv_index_key(buf, slot, deadline_ms);
    if (rc == MDB_SUCCESS) {
        rc = mdb_del(txn, kv->elems_dbi, &ik, NULL);
    }
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

int kv_deadline_set(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    uint64_t deadline_ms)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    struct kv_slot slot;
    uint64_t old = 0;
    bool found = false;
    if (rc == MDB_SUCCESS && clock.count > 0) {
        rc = kv_deadline_get_slot(kv, txn, &slot, key, key_len, &old, &found);
    }
    if (rc == MDB_SUCCESS && found) {
        rc = kv_deadline_del(kv, txn, &slot, old);
        clock.count--;
        clock.sum_s -= old / 1000;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    MDB_val k = kv_deadline_key(&slot, key, key_len);
    uint8_t value[8];
    kv_put_le64(value, deadline_ms);
    MDB_val v = {.mv_size = sizeof value, .mv_data = value};
    rc = mdb_put(txn, kv->elems_dbi, &k, &v, 0);
    uint8_t buf[KV_INDEX_KEY_BYTES_MAX];
    MDB_val ik = kv_index_key(buf, &slot, deadline_ms);
    MDB_val user = {.mv_size = key_len, .mv_data = (void *)key};
    if (rc == MDB_SUCCESS) {
        rc = mdb_put(txn, kv->elems_dbi, &ik, &user, 0);
    }
    clock.count++;
    clock.sum_s += deadline_ms / 1000;
    return rc == MDB_SUCCESS ? kv_meta_put_clock(txn, kv, &clock) : rc;
}

int kv_deadline_clear(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                      bool *had)
{
    *had = false;
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS || clock.count == 0) {
        return rc; /* the fast path of every SET while no key has a deadline */
    }
    struct kv_slot slot;
    uint64_t old = 0;
    rc = kv_deadline_get_slot(kv, txn, &slot, key, key_len, &old, had);
    if (rc != MDB_SUCCESS || !*had) {
        return rc;
    }
    rc = kv_deadline_del(kv, txn, &slot, old);
    clock.count--;
    clock.sum_s -= old / 1000;
    return rc == MDB_SUCCESS ? kv_meta_put_clock(txn, kv, &clock) : rc;
}

static int kv_expired_at(struct kv *kv, MDB_txn *txn, const struct kv_clock *clock,
                         const uint8_t *key, size_t key_len, bool *expired)
{
    *expired = false;
    if (clock->count == 0) {
        return MDB_SUCCESS;
    }
    struct kv_slot slot;
    uint64_t deadline = 0;
    bool found = false;
    int rc = kv_deadline_get_slot(kv, txn, &slot, key, key_len, &deadline, &found);
    *expired = rc == MDB_SUCCESS && found && deadline <= clock->time_ms;
    return rc;
}

int kv_key_expired(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                   bool *expired)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS) {
        *expired = false;
        return rc;
    }
    return kv_expired_at(kv, txn, &clock, key, key_len, expired);
}

/* ---- applying ---- */

int kv_clock_advance(struct kv *kv, MDB_txn *txn, uint64_t time_ms)
{
    if (time_ms == 0) {
        return MDB_SUCCESS; /* an entry from before stamps, or one no node stamped */
    }
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS || time_ms <= clock.time_ms) {
        return rc; /* never backwards: a new leader's first stamps may be older */
    }
    clock.time_ms = time_ms;
    kv->time_ms = time_ms;
    return kv_meta_put_clock(txn, kv, &clock);
}

/* Deletes the key if its deadline passed. */
static int kv_expiry_purge(struct kv *kv, MDB_txn *txn, const struct kv_clock *clock,
                           const uint8_t *key, size_t key_len, size_t *written)
{
    if (key_len > KV_KEY_BYTES_MAX) {
        return MDB_SUCCESS;
    }
    bool expired = false;
    int rc = kv_expired_at(kv, txn, clock, key, key_len, &expired);
    if (rc != MDB_SUCCESS || !expired) {
        return rc;
    }
    struct kv_key_info info;
    rc = kv_key_find_raw(kv, txn, key, key_len, &info);
    bool deleted = false;
    if (rc == MDB_SUCCESS && info.type != KV_TYPE_NONE) {
        rc = kv_key_remove(kv, txn, &info, &deleted); /* its deadline with it */
    } else if (rc == MDB_SUCCESS) {
        rc = kv_deadline_clear(kv, txn, key, key_len, &deleted); /* cannot happen; harmless */
    }
    *written += key_len;
    return rc;
}

int kv_expiry_purge_command(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                            size_t *written)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    for (uint32_t i = 0; rc == MDB_SUCCESS && clock.count > 0 && i < command->arg_count; i++) {
        if (kv_command_key_arg(command, i)) {
            rc = kv_expiry_purge(kv, txn, &clock, command->args[i].data, command->args[i].len,
                                 written);
            if (rc == MDB_SUCCESS) {
                rc = kv_meta_get_clock(txn, kv, &clock); /* the count may have dropped */
            }
        }
    }
    return rc;
}

int kv_expiry_flushed(struct kv *kv, MDB_txn *txn)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS || clock.count == 0) {
        return rc;
    }
    clock.count = 0;
    clock.sum_s = 0;
    return kv_meta_put_clock(txn, kv, &clock);
}

/* ---- the commands ---- */

/* An error reply of our own text, in the arena (Redis's formatted errors). */
static int kv_expiry_error(struct kv_ctx *ctx, struct kv_result *r, const char *format,
                           const char *word, size_t word_len)
{
    char text[KV_EXPIRE_ERROR_BYTES + 64];
    int n = snprintf(text, sizeof text, format, (int)word_len, word);
    assert(n > 0);
    size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    char *copy = kv_arena_alloc(ctx->arena, len + 1);
    if (copy == NULL) {
        return ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    return kv_res_err(r, copy);
}

static int kv_expire_time_error(struct kv_ctx *ctx, struct kv_result *r, const char *command)
{
    return kv_expiry_error(ctx, r, "ERR invalid expire time in '%.*s' command", command,
                           strlen(command));
}

static int64_t kv_now(const struct kv_clock *clock)
{
    return clock->time_ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)clock->time_ms;
}

enum { EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8 };

/* Redis's parseExtendedExpireArgumentsOrReply. Returns false with the error set. */
static bool kv_expire_flags(struct kv_ctx *ctx, const struct kv_command *c, int *flags,
                            struct kv_result *r, int *rc)
{
    *flags = 0;
    *rc = MDB_SUCCESS;
    for (uint32_t i = 2; i < c->arg_count; i++) {
        const struct kv_bytes *a = &c->args[i];
        if (kv_arg_is(a, "NX")) {
            *flags |= EXPIRE_NX;
        } else if (kv_arg_is(a, "XX")) {
            *flags |= EXPIRE_XX;
        } else if (kv_arg_is(a, "GT")) {
            *flags |= EXPIRE_GT;
        } else if (kv_arg_is(a, "LT")) {
            *flags |= EXPIRE_LT;
        } else {
            size_t shown = a->len < KV_EXPIRE_ERROR_BYTES ? a->len : KV_EXPIRE_ERROR_BYTES;
            *rc = kv_expiry_error(ctx, r, "ERR Unsupported option %.*s",
                                  (const char *)a->data, shown);
            return false;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        kv_res_err(r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        kv_res_err(r, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether NX/XX/GT/LT let a new deadline `when` replace `current` (-1: none), as Redis. */
static bool kv_expire_allowed(int flags, int64_t when, int64_t current)
{
    if ((flags & EXPIRE_NX) && current != -1) {
        return false;
    }
    if ((flags & EXPIRE_XX) && current == -1) {
        return false;
    }
    if ((flags & EXPIRE_GT) && (when <= current || current == -1)) {
        return false;
    }
    if ((flags & EXPIRE_LT) && current != -1 && when >= current) {
        return false;
    }
    return true;
}

/* Gives a found key the deadline `when`, or deletes it when that has passed already. */
static int kv_expire_apply(struct kv_ctx *ctx, struct kv_key_info *info,
                           const struct kv_clock *clock, int64_t when)
{
    *ctx->written += info->slot.key_len + 16;
    if (when <= kv_now(clock)) {
        bool deleted = false;
        return kv_key_remove(ctx->kv, ctx->txn, info, &deleted);
    }
    return kv_deadline_set(ctx->kv, ctx->txn, info->slot.key, info->slot.key_len,
                           (uint64_t)when);
}

/* EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT k n [NX|XX|GT|LT]: Redis's expireGenericCommand. */
static int kv_expire(struct kv_ctx *ctx, const struct kv_command *c, const struct kv_clock *clock,
                     struct kv_result *r)
{
    static const char *const names[4] = {"expire", "pexpire", "expireat", "pexpireat"};
    int flags = 0, rc = MDB_SUCCESS;
    if (c->arg_count < 2) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    if (!kv_expire_flags(ctx, c, &flags, r, &rc)) {
        return rc;
    }
    int64_t when = 0;
    if (!kv_arg_int64(&c->args[1], &when)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    int variant = c->op - KV_OP_EXPIRE; /* seconds or ms, relative or absolute */
    bool seconds = variant == 0 || variant == 2;
    int64_t base = variant < 2 ? kv_now(clock) : 0;
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
            return kv_expire_time_error(ctx, r, names[variant]);
        }
        when *= 1000;
    }
    if (when > INT64_MAX - base) {
        return kv_expire_time_error(ctx, r, names[variant]);
    }
    when += base;
    struct kv_key_info info;
    rc = kv_key_find(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &info);
    if (rc != MDB_SUCCESS || info.type == KV_TYPE_NONE) {
        kv_res_int(r, 0);
        return rc;
    }
    uint64_t deadline = 0;
    bool found = false;
    rc = kv_deadline_get(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &deadline, &found);
    int64_t current = found ? (int64_t)deadline : -1;
    if (rc != MDB_SUCCESS || !kv_expire_allowed(flags, when, current)) {
        kv_res_int(r, 0);
        return rc;
    }
    kv_res_int(r, 1);
    return kv_expire_apply(ctx, &info, clock, when);
}

/* PERSIST k: 1 when a deadline was removed. */
static int kv_persist(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    if (c->arg_count != 1) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    struct kv_key_info info;
    int rc = kv_key_find(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &info);
    bool had = false;
    if (rc == MDB_SUCCESS && info.type != KV_TYPE_NONE) {
        rc = kv_deadline_clear(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &had);
        *ctx->written += c->args[0].len;
    }
    kv_res_int(r, had ? 1 : 0);
    return rc;
}

enum { GETEX_EX = 1, GETEX_PX = 2, GETEX_EXAT = 4, GETEX_PXAT = 8, GETEX_PERSIST = 16 };

/* Redis's parseExtendedStringArgumentsOrReply for GETEX: one of EX/PX/EXAT/PXAT n (the
 * same one again replaces it) or PERSIST. */
static bool kv_getex_flags(const struct kv_command *c, int *flags, const struct kv_bytes **n)
{
    static const char *const words[4] = {"EX", "PX", "EXAT", "PXAT"};
    *flags = 0;
    *n = NULL;
    for (uint32_t i = 1; i < c->arg_count; i++) {
        const struct kv_bytes *a = &c->args[i];
        bool last = i + 1 == c->arg_count;
        if (kv_arg_is(a, "PERSIST") && (*flags & ~GETEX_PERSIST) == 0) {
            *flags |= GETEX_PERSIST;
            continue;
        }
        bool matched = false;
        for (int w = 0; w < 4 && !matched; w++) {
            int flag = 1 << w;
            if (kv_arg_is(a, words[w]) && (*flags & ~flag) == 0 && !last) {
                *flags = flag;
                *n = &c->args[++i];
                matched = true;
            }
        }
        if (!matched) {
            return false;
        }
    }
    return true;
}

/* GETEX k [EX s|PX ms|EXAT t|PXAT t|PERSIST]: the value, and the key's deadline changed. */
static int kv_getex(struct kv_ctx *ctx, const struct kv_command *c, const struct kv_clock *clock,
                    struct kv_result *r)
{
    int flags = 0;
    const struct kv_bytes *n = NULL;
    if (!kv_getex_flags(c, &flags, &n)) {
        return kv_res_err(r, kv_error_syntax);
    }
    struct kv_key_info info;
    int rc = kv_key_find(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &info);
    if (rc != MDB_SUCCESS || info.type == KV_TYPE_NONE) {
        kv_res_set(r, KV_RESULT_NULL);
        return rc;
    }
    if (info.type != KV_TYPE_STRING) {
        return kv_res_err(r, kv_error_wrongtype);
    }
    int64_t when = 0;
    if (n != NULL) {
        bool seconds = flags & (GETEX_EX | GETEX_EXAT);
        if (!kv_arg_int64(n, &when)) {
            return kv_res_err(r, kv_error_not_integer);
        }
        if (when <= 0 || (seconds && when > INT64_MAX / 1000)) {
            return kv_expire_time_error(ctx, r, "getex");
        }
        when = seconds ? when * 1000 : when;
        if ((flags & (GETEX_EX | GETEX_PX)) && when > INT64_MAX - kv_now(clock)) {
            return kv_expire_time_error(ctx, r, "getex");
        }
        when += (flags & (GETEX_EX | GETEX_PX)) ? kv_now(clock) : 0;
    }
    rc = kv_res_bulk(ctx, r, info.value.data, info.value.len); /* before any delete */
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (n != NULL) {
        return kv_expire_apply(ctx, &info, clock, when);
    }
    if (flags & GETEX_PERSIST) {
        bool had = false;
        return kv_deadline_clear(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &had);
    }
    return MDB_SUCCESS;
}

/* TTL / PTTL / EXPIRETIME / PEXPIRETIME k: -2 no key, -1 no deadline, else Redis's
 * rounding ((ms + 500) / 1000 in seconds), never below 0. */
static int kv_ttl(struct kv_ctx *ctx, const struct kv_command *c, const struct kv_clock *clock,
                  struct kv_result *r)
{
    if (c->arg_count != 1) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    struct kv_key_info info;
    int rc = kv_key_find(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &info);
    if (rc != MDB_SUCCESS || info.type == KV_TYPE_NONE) {
        kv_res_int(r, -2);
        return rc;
    }
    uint64_t deadline = 0;
    bool found = false;
    rc = kv_deadline_get(ctx->kv, ctx->txn, c->args[0].data, c->args[0].len, &deadline, &found);
    if (rc != MDB_SUCCESS || !found) {
        kv_res_int(r, -1);
        return rc;
    }
    int variant = c->op - KV_OP_TTL;
    bool absolute = variant >= 2, ms = variant == 1 || variant == 3;
    int64_t ttl = absolute ? (int64_t)deadline : (int64_t)deadline - kv_now(clock);
    ttl = ttl < 0 ? 0 : ttl;
    kv_res_int(r, ms ? ttl : (ttl + 500) / 1000);
    return MDB_SUCCESS;
}

/* The earliest index record, if any: its deadline and user key (borrowed from the txn). */
static int kv_index_first(struct kv *kv, MDB_txn *txn, uint64_t *deadline_ms,
                          struct kv_bytes *key, bool *found)
{
    *found = false;
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open(txn, kv->elems_dbi, &cursor);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    uint8_t start[KV_ELEM_ID_BYTES];
    kv_be64_put(start, KV_INDEX_ID);
    MDB_val k = {.mv_size = sizeof start, .mv_data = start}, v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS && k.mv_size > 2 * KV_ELEM_ID_BYTES &&
        kv_be64_get(k.mv_data) == KV_INDEX_ID) {
        *found = true;
        *deadline_ms = kv_be64_get((const uint8_t *)k.mv_data + KV_ELEM_ID_BYTES);
        *key = (struct kv_bytes){.data = v.mv_data, .len = v.mv_size};
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The leader's clock entry: deletes up to KV_EXPIRE_DUE_KEYS_MAX keys whose deadline passed,
 * earliest first, each found again from the start of the index (a delete moves the rest). */
static int kv_expire_due(struct kv_ctx *ctx, const struct kv_clock *clock, struct kv_result *r)
{
    int64_t deleted = 0;
    int rc = MDB_SUCCESS;
    uint8_t key[KV_KEY_BYTES_MAX];
    while (deleted < KV_EXPIRE_DUE_KEYS_MAX) {
        uint64_t deadline = 0;
        struct kv_bytes found_key = {0};
        bool found = false;
        rc = kv_index_first(ctx->kv, ctx->txn, &deadline, &found_key, &found);
        if (rc != MDB_SUCCESS || !found || deadline > clock->time_ms) {
            break;
        }
        if (found_key.len > KV_KEY_BYTES_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        size_t key_len = found_key.len;
        memcpy(key, found_key.data, key_len); /* the deletes below may move its page */
        struct kv_key_info info;
        rc = kv_key_find_raw(ctx->kv, ctx->txn, key, key_len, &info);
        bool gone = false;
        if (rc == MDB_SUCCESS && info.type != KV_TYPE_NONE) {
            rc = kv_key_remove(ctx->kv, ctx->txn, &info, &gone);
        } else if (rc == MDB_SUCCESS) {
            rc = kv_deadline_clear(ctx->kv, ctx->txn, key, key_len, &gone);
        }
        if (rc != MDB_SUCCESS) {
            break;
        }
        *ctx->written += key_len + 32;
        deleted++;
    }
    kv_res_int(r, deleted);
    return rc;
}

int kv_expiry_run(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_clock clock;
    int rc = kv_meta_get_clock(ctx->txn, ctx->kv, &clock);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (c->op >= KV_OP_TTL && c->op <= KV_OP_PEXPIRETIME) {
        return kv_ttl(ctx, c, &clock, r);
    }
    assert(ctx->written != NULL); /* the others write */
    switch (c->op) {
    case KV_OP_EXPIRE:
    case KV_OP_PEXPIRE:
    case KV_OP_EXPIREAT:
    case KV_OP_PEXPIREAT:
        return kv_expire(ctx, c, &clock, r);
    case KV_OP_PERSIST:
        return kv_persist(ctx, c, r);
    case KV_OP_GETEX:
        if (c->arg_count < 1) {
            return kv_res_err(r, "ERR wrong number of arguments");
        }
        return kv_getex(ctx, c, &clock, r);
    case KV_OP_EXPIRE_DUE:
        return kv_expire_due(ctx, &clock, r);
    default:
        return kv_res_err(r, "ERR unknown command");
    }
}

/* ---- statistics ---- */

int kv_expiry_stats(struct kv *kv, struct kv_expiry_stats *stats)
{
    *stats = (struct kv_expiry_stats){0};
    struct kv_read read;
    int rv = kv_read_begin(kv, &read);
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_clock clock;
    int rc = kv_meta_get_clock(read.txn, kv, &clock);
    uint64_t deadline = 0;
    struct kv_bytes key;
    bool found = false;
    if (rc == MDB_SUCCESS && clock.count > 0) {
        rc = kv_index_first(kv, read.txn, &deadline, &key, &found);
    }
    kv_read_end(&read);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "expiry stats");
    }
    stats->volatile_keys = clock.count;
    stats->time_ms = clock.time_ms;
    stats->next_deadline_ms = found ? deadline : 0;
    if (clock.count > 0) {
        uint64_t mean_ms = clock.sum_s / clock.count * 1000;
        stats->avg_ttl_ms = mean_ms > clock.time_ms ? mean_ms - clock.time_ms : 0;
    }
    return KV_OK;
}
