/*
 * kv_types.c — the hash and set commands, run in a write txn by kv_apply.c (and inside
 * MULTI) or in a read txn by kv_read_run. Arguments are the client's (kv_command.h); parsing,
 * checks and error texts follow Redis 7.0's t_hash.c and t_set.c, in the same order, so that
 * a reply is the same byte for byte (tests/redis_diff). Orders differ where Redis's do not
 * promise one: elements come in hash order (kv_coll.h).
 *
 * Random choices (SPOP, SRANDMEMBER, HRANDFIELD) draw from the command's seed with
 * splitmix64: a random pick seeks a random hash in the collection (O(log n)); a pick of
 * `count` distinct elements is the run of `count` elements from a random hash on (wrapping),
 * which keeps it O(count log n) on any size.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kv_coll.h"
#include "storage/kv_command.h"
#include "storage/kv_glob.h"

static const char kv_error_syntax[] = "ERR syntax error";
static const char kv_error_not_integer[] = "ERR value is not an integer or out of range";
static const char kv_error_element_size[] = "ERR element too large for chorus (max 4096 bytes)";
static const char kv_error_key_size[] = "ERR key too large (max 4096 bytes)";
static const char kv_error_reply_size[] =
    "ERR reply too large for chorus (at most 1048576 elements: use HSCAN or SSCAN)";
static const char kv_error_ids[] = "ERR too many collections created in one transaction";

enum {
    KV_SCAN_COUNT_DEFAULT = 10,
    KV_CURSOR_TEXT_BYTES = 21,
    KV_FLOAT_TEXT_BYTES = 5 * 1024 + 1,
};

/* ---- results ---- */

void kv_res_set(struct kv_result *r, enum kv_result_type type)
{
    *r = (struct kv_result){.type = type};
}

void kv_res_int(struct kv_result *r, int64_t v)
{
    kv_res_set(r, KV_RESULT_INTEGER);
    r->integer = v;
}

int kv_res_err(struct kv_result *r, const char *error)
{
    kv_res_set(r, KV_RESULT_ERROR);
    r->error = error;
    return MDB_SUCCESS;
}

int kv_res_bulk(struct kv_ctx *ctx, struct kv_result *r, const uint8_t *data, size_t len)
{
    const uint8_t *copy = kv_arena_copy(ctx->arena, data, len);
    if (copy == NULL && len > 0) {
        return ENOMEM;
    }
    kv_res_set(r, KV_RESULT_BULK);
    r->bulk = copy != NULL ? copy : (const uint8_t *)"";
    r->bulk_len = len;
    return MDB_SUCCESS;
}

/* An aggregate of n elements, each set by the caller. */
struct kv_result *kv_res_aggregate(struct kv_ctx *ctx, struct kv_result *r,
                                       enum kv_result_type type, uint64_t n)
{
    assert(n <= 2ull * KV_REPLY_ELEMENTS_MAX);
    struct kv_result *elements = kv_arena_alloc(ctx->arena, (size_t)n * sizeof *elements + 1);
    if (elements == NULL) {
        return NULL;
    }
    kv_res_set(r, type);
    r->elements = elements;
    r->element_count = (uint32_t)n;
    return elements;
}

/* ---- arguments ---- */

bool kv_arg_is(const struct kv_bytes *arg, const char *word)
{
    size_t len = strlen(word);
    return arg->len == len && strncasecmp((const char *)arg->data, word, len) == 0;
}

bool kv_arg_int64(const struct kv_bytes *arg, int64_t *out)
{
    return kv_parse_int64(arg->data, arg->len, out);
}

/* Redis's parseScanCursorOrReply: strtoul on the C string ('+', '-' wrapping, no space). */
static bool arg_cursor(const struct kv_bytes *arg, uint64_t *cursor)
{
    char text[KV_CURSOR_TEXT_BYTES + 1];
    if (arg->len > KV_CURSOR_TEXT_BYTES || memchr(arg->data, '\0', arg->len) != NULL) {
        return false;
    }
    memcpy(text, arg->data, arg->len);
    text[arg->len] = '\0';
    if (isspace((unsigned char)text[0])) {
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (end[0] != '\0' || errno == ERANGE) {
        return false;
    }
    *cursor = value;
    return true;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- keys ---- */

/*
 * Looks up a collection key of type `want`. *wrong: it holds another type (the caller
 * answers WRONGTYPE). A key longer than any stored one reads as absent.
 */
int kv_types_key_get(struct kv_ctx *ctx, const struct kv_bytes *key, int want,
                   struct kv_key_info *info, bool *wrong)
{
    *wrong = false;
    if (key->len > KV_KEY_BYTES_MAX) {
        info->type = KV_TYPE_NONE;
        memset(&info->meta, 0, sizeof info->meta);
        return MDB_SUCCESS;
    }
    int rc = kv_key_find(ctx->kv, ctx->txn, key->data, key->len, info);
    if (rc == MDB_SUCCESS && info->type != KV_TYPE_NONE && info->type != want) {
        *wrong = true;
    }
    return rc;
}

/* A collection about to get its first element: a fresh id (0: too many in this entry). */
bool kv_types_create(struct kv_ctx *ctx, struct kv_key_info *info, int type)
{
    assert(info->type == KV_TYPE_NONE);
    uint64_t id = kv_coll_new_id(ctx->kv);
    if (id == 0) {
        return false;
    }
    info->meta = (struct kv_coll_meta){.type = (uint8_t)type, .id = id};
    return true;
}

/* Stores the metadata after a change: the new count and version, or the key's removal when
 * the collection is empty (no element is left to trash). */
int kv_types_save(struct kv_ctx *ctx, struct kv_key_info *info)
{
    *ctx->written += info->slot.key_len + KV_COLL_META_BYTES;
    if (info->meta.count == 0) {
        kv_slot_set_collection(&info->slot, true);
        bool deleted = false, had = false;
        int rc = kv_slot_del(ctx->txn, ctx->kv->data_dbi, &info->slot, &deleted);
        if (rc == MDB_SUCCESS) { /* an emptied collection's key is gone, its deadline too */
            rc = kv_deadline_clear(ctx->kv, ctx->txn, info->slot.key, info->slot.key_len, &had);
        }
        return rc;
    }
    info->meta.version = ctx->kv->apply_index;
    return kv_coll_meta_put(ctx->kv, ctx->txn, &info->slot, &info->meta);
}

static bool elements_fit(const struct kv_bytes *args, uint32_t first, uint32_t last, uint32_t step)
{
    for (uint32_t i = first; i <= last; i += step) {
        if (args[i].len > KV_ELEMENT_BYTES_MAX) {
            return false;
        }
    }
    return true;
}

/* ---- hashes ---- */

/* HSET k f v [f v ...], HMSET (flag OK), HSETNX (flag NX). */
static int hash_set(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    bool nx = c->flags & KV_FLAG_NX;
    if (c->arg_count < 3 || (c->arg_count - 1) % 2 != 0 || (nx && c->arg_count != 3)) {
        return kv_res_err(r, nx ? "ERR wrong number of arguments for 'hsetnx' command"
                          : (c->flags & KV_FLAG_OK)
                              ? "ERR wrong number of arguments for 'hmset' command"
                              : "ERR wrong number of arguments for 'hset' command");
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], KV_TYPE_HASH, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (a[0].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    if (!elements_fit(a, 1, c->arg_count - 2, 2)) {
        return kv_res_err(r, kv_error_element_size);
    }
    if (info.type == KV_TYPE_NONE && !kv_types_create(ctx, &info, KV_TYPE_HASH)) {
        return kv_res_err(r, kv_error_ids);
    }
    int64_t added = 0;
    for (uint32_t i = 1; i + 1 < c->arg_count; i += 2) {
        struct kv_bytes old;
        bool found = false;
        rc = kv_elem_get(ctx->kv, ctx->txn, info.meta.id, &a[i], &old, &found);
        if (rc == MDB_SUCCESS && !(nx && found)) {
            rc = kv_elem_put(ctx->kv, ctx->txn, info.meta.id, &a[i], &a[i + 1]);
            *ctx->written += a[i].len + a[i + 1].len;
            added += !found;
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    info.meta.count += (uint64_t)added;
    if (info.meta.count > 0 && (added > 0 || !nx)) {
        rc = kv_types_save(ctx, &info);
    }
    if (c->flags & KV_FLAG_OK) {
        kv_res_set(r, KV_RESULT_OK);
    } else {
        kv_res_int(r, added);
    }
    return rc;
}

/* HDEL k f...: how many went; the hash goes with its last field. */
static int hash_del(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &c->args[0], KV_TYPE_HASH, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    int64_t removed = 0;
    for (uint32_t i = 1; info.type != KV_TYPE_NONE && i < c->arg_count; i++) {
        bool deleted = false;
        rc = kv_elem_del(ctx->kv, ctx->txn, info.meta.id, &c->args[i], &deleted);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        removed += deleted;
        *ctx->written += c->args[i].len;
        if (deleted && --info.meta.count == 0) {
            break; /* Redis stops at the last field: the hash is gone */
        }
    }
    kv_res_int(r, removed);
    return removed > 0 ? kv_types_save(ctx, &info) : MDB_SUCCESS;
}

/* HINCRBY k f incr and HINCRBYFLOAT k f incr. */
static int hash_incr(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    bool floating = c->op == KV_OP_HINCRBYFLOAT;
    int64_t incr = 0;
    long double fincr = 0;
    if (!floating && !kv_arg_int64(&a[2], &incr)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    if (floating && !kv_parse_long_double(a[2].data, a[2].len, &fincr)) {
        return kv_res_err(r, "ERR value is not a valid float");
    }
    if (floating && (isnan(fincr) || isinf(fincr))) {
        return kv_res_err(r, "ERR value is NaN or Infinity");
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], KV_TYPE_HASH, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (a[0].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    if (a[1].len > KV_ELEMENT_BYTES_MAX) {
        return kv_res_err(r, kv_error_element_size);
    }
    struct kv_bytes old = {0};
    bool found = false;
    if (info.type != KV_TYPE_NONE) {
        rc = kv_elem_get(ctx->kv, ctx->txn, info.meta.id, &a[1], &old, &found);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    char text[KV_FLOAT_TEXT_BYTES];
    size_t text_len = 0;
    if (!floating) {
        int64_t value = 0, sum = 0;
        if (found && !kv_parse_int64(old.data, old.len, &value)) {
            return kv_res_err(r, "ERR hash value is not an integer");
        }
        if (__builtin_add_overflow(value, incr, &sum)) {
            return kv_res_err(r, "ERR increment or decrement would overflow");
        }
        text_len = (size_t)snprintf(text, sizeof text, "%lld", (long long)sum);
        kv_res_int(r, sum);
    } else {
        long double value = 0;
        if (found && !kv_parse_long_double(old.data, old.len, &value)) {
            return kv_res_err(r, "ERR hash value is not a float");
        }
        value += fincr;
        if (isnan(value) || isinf(value)) {
            return kv_res_err(r, "ERR increment would produce NaN or Infinity");
        }
        text_len = kv_format_long_double(value, text, sizeof text);
        if (text_len == 0) {
            return kv_res_err(r, "ERR increment would produce NaN or Infinity");
        }
        rc = kv_res_bulk(ctx, r, (const uint8_t *)text, text_len);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    if (info.type == KV_TYPE_NONE && !kv_types_create(ctx, &info, KV_TYPE_HASH)) {
        return kv_res_err(r, kv_error_ids);
    }
    struct kv_bytes fresh = {.data = (const uint8_t *)text, .len = text_len};
    rc = kv_elem_put(ctx->kv, ctx->txn, info.meta.id, &a[1], &fresh);
    *ctx->written += a[1].len + text_len;
    info.meta.count += !found;
    return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
}

/* HGET k f, HSTRLEN k f, HEXISTS k f, HMGET k f... */
static int hash_get(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &c->args[0], KV_TYPE_HASH, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    uint32_t n = c->op == KV_OP_HMGET ? c->arg_count - 1 : 1;
    struct kv_result *out = r;
    if (c->op == KV_OP_HMGET && (out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n)) == NULL) {
        return ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct kv_bytes value = {0};
        bool found = false;
        if (info.type != KV_TYPE_NONE) {
            rc = kv_elem_get(ctx->kv, ctx->txn, info.meta.id, &c->args[1 + i], &value, &found);
            if (rc != MDB_SUCCESS) {
                return rc;
            }
        }
        if (c->op == KV_OP_HSTRLEN) {
            kv_res_int(&out[i], found ? (int64_t)value.len : 0);
        } else if (c->op == KV_OP_HEXISTS) {
            kv_res_int(&out[i], found);
        } else if (!found) {
            kv_res_set(&out[i], KV_RESULT_NULL);
        } else if ((rc = kv_res_bulk(ctx, &out[i], value.data, value.len)) != MDB_SUCCESS) {
            return rc;
        }
    }
    return MDB_SUCCESS;
}

/* Whether a reply (or a STORE result) of this many elements is within the bound. */
static bool reply_fits(uint64_t elements)
{
    return elements <= KV_REPLY_ELEMENTS_MAX;
}

/* HKEYS, HVALS, HGETALL, SMEMBERS: every element (and value), in hash order. */
static int coll_all(struct kv_ctx *ctx, const struct kv_command *c, int want, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &c->args[0], want, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    bool keys = c->op != KV_OP_HVALS, values = c->op == KV_OP_HVALS || c->op == KV_OP_HGETALL;
    uint64_t per = (uint64_t)keys + values;
    enum kv_result_type type = c->op == KV_OP_HGETALL ? KV_RESULT_MAP
                               : c->op == KV_OP_SMEMBERS ? KV_RESULT_SET : KV_RESULT_ARRAY;
    if (!reply_fits(info.meta.count * per)) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, type, info.meta.count * per);
    if (out == NULL) {
        return ENOMEM;
    }
    if (info.type == KV_TYPE_NONE) {
        return MDB_SUCCESS;
    }
    struct kv_elem_iter it;
    rc = kv_elem_iter_open(&it, ctx->kv, ctx->txn, info.meta.id, 0);
    uint64_t n = 0;
    while (rc == MDB_SUCCESS && it.valid && n < info.meta.count * per) {
        if (keys) {
            rc = kv_res_bulk(ctx, &out[n++], it.element.data, it.element.len);
        }
        if (rc == MDB_SUCCESS && values) {
            rc = kv_res_bulk(ctx, &out[n++], it.value.data, it.value.len);
        }
        if (rc == MDB_SUCCESS) {
            rc = kv_elem_iter_next(&it);
        }
    }
    kv_elem_iter_close(&it);
    if (rc == MDB_SUCCESS && n != info.meta.count * per) {
        rc = MDB_CORRUPTED; /* the count and the elements disagree */
    }
    return rc;
}

/* HLEN, SCARD. */
static int coll_len(struct kv_ctx *ctx, const struct kv_command *c, int want, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &c->args[0], want, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    kv_res_int(r, (int64_t)info.meta.count);
    return MDB_SUCCESS;
}

/* The element at a random hash of the collection (wrapping to the first). */
static int coll_pick(struct kv_ctx *ctx, uint64_t id, uint64_t *state, struct kv_elem_iter *it)
{
    int rc = kv_elem_iter_open(it, ctx->kv, ctx->txn, id, splitmix64(state));
    if (rc == MDB_SUCCESS && !it->valid) {
        kv_elem_iter_close(it);
        rc = kv_elem_iter_open(it, ctx->kv, ctx->txn, id, 0);
    }
    if (rc == MDB_SUCCESS && !it->valid) {
        rc = MDB_CORRUPTED; /* a collection without elements */
    }
    return rc;
}

/* Appends the iterator's element (and value) to out[*n]. */
static int pick_put(struct kv_ctx *ctx, const struct kv_elem_iter *it, bool values,
                    struct kv_result *out, uint64_t *n)
{
    int rc = kv_res_bulk(ctx, &out[(*n)++], it->element.data, it->element.len);
    if (rc == MDB_SUCCESS && values) {
        rc = kv_res_bulk(ctx, &out[(*n)++], it->value.data, it->value.len);
    }
    return rc;
}

/*
 * `count` random elements of a collection into out: with repeats (each its own pick), or
 * distinct (count < the size: a run from a random hash, wrapping).
 */
static int coll_random(struct kv_ctx *ctx, const struct kv_coll_meta *meta, uint64_t count,
                       bool repeats, bool values, struct kv_result *out)
{
    uint64_t state = ctx->seed;
    uint64_t n = 0;
    struct kv_elem_iter it;
    int rc = MDB_SUCCESS;
    if (repeats) {
        for (uint64_t i = 0; rc == MDB_SUCCESS && i < count; i++) {
            rc = coll_pick(ctx, meta->id, &state, &it);
            if (rc == MDB_SUCCESS) {
                rc = pick_put(ctx, &it, values, out, &n);
            }
            kv_elem_iter_close(&it);
        }
        return rc;
    }
    assert(count <= meta->count);
    rc = coll_pick(ctx, meta->id, &state, &it);
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < count; i++) {
        rc = pick_put(ctx, &it, values, out, &n);
        if (rc == MDB_SUCCESS && i + 1 < count) {
            rc = kv_elem_iter_next(&it);
            if (rc == MDB_SUCCESS && !it.valid) {
                kv_elem_iter_close(&it);
                rc = kv_elem_iter_open(&it, ctx->kv, ctx->txn, meta->id, 0);
            }
        }
    }
    kv_elem_iter_close(&it);
    return rc;
}

/* Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) of a count. */
static const char *count_parse(const struct kv_bytes *arg, int64_t *count)
{
    if (!kv_arg_int64(arg, count)) {
        return kv_error_not_integer;
    }
    if (*count == INT64_MIN) {
        return "ERR value is out of range, value must between -9223372036854775807 and "
               "9223372036854775807";
    }
    return NULL;
}

/* HRANDFIELD k [count [WITHVALUES]] and SRANDMEMBER k [count]. */
static int coll_randmember(struct kv_ctx *ctx, const struct kv_command *c, int want,
                           struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    bool hash = want == KV_TYPE_HASH;
    bool values = false;
    int64_t l = 0;
    if (!hash && c->arg_count > 2) {
        return kv_res_err(r, kv_error_syntax);
    }
    if (c->arg_count >= 2) {
        const char *error = count_parse(&a[1], &l);
        if (error != NULL) {
            return kv_res_err(r, error);
        }
        if (hash && (c->arg_count > 3 || (c->arg_count == 3 && !kv_arg_is(&a[2], "WITHVALUES")))) {
            return kv_res_err(r, kv_error_syntax);
        }
        values = c->arg_count == 3;
        if (values && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) {
            return kv_res_err(r, "ERR value is out of range");
        }
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], want, &info, &wrong);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (c->arg_count == 1) {
        if (wrong) {
            return kv_res_err(r, kv_error_wrongtype);
        }
        if (info.type == KV_TYPE_NONE) {
            kv_res_set(r, KV_RESULT_NULL);
            return MDB_SUCCESS;
        }
        struct kv_elem_iter it;
        uint64_t state = ctx->seed;
        rc = coll_pick(ctx, info.meta.id, &state, &it);
        if (rc == MDB_SUCCESS) {
            rc = kv_res_bulk(ctx, r, it.element.data, it.element.len);
        }
        kv_elem_iter_close(&it);
        return rc;
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 0);
        return r->elements != NULL ? MDB_SUCCESS : ENOMEM;
    }
    if (wrong) {
        return kv_res_err(r, kv_error_wrongtype);
    }
    bool repeats = l < 0;
    uint64_t count = repeats ? (uint64_t)-l : (uint64_t)l;
    if (!repeats && count > info.meta.count) {
        count = info.meta.count;
    }
    uint64_t per = values ? 2 : 1;
    if (count > KV_REPLY_ELEMENTS_MAX || !reply_fits(count * per)) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, values ? KV_RESULT_PAIRS : KV_RESULT_ARRAY,
                                             count * per);
    if (out == NULL) {
        return ENOMEM;
    }
    return coll_random(ctx, &info.meta, count, repeats, values, out);
}

/* HSCAN k cursor [MATCH p] [COUNT n], SSCAN, ZSCAN: the cursor is a hash position (kv_coll.h). */
int kv_types_scan(struct kv_ctx *ctx, const struct kv_command *c, int want, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    uint64_t cursor = 0;
    if (!arg_cursor(&a[1], &cursor)) {
        return kv_res_err(r, "ERR invalid cursor");
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], want, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    struct kv_result *pair = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 2);
    if (pair == NULL) {
        return ENOMEM;
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_aggregate(ctx, &pair[1], KV_RESULT_ARRAY, 0);
        return kv_res_bulk(ctx, &pair[0], (const uint8_t *)"0", 1);
    }
    int64_t count = KV_SCAN_COUNT_DEFAULT;
    const struct kv_bytes *pattern = NULL;
    for (uint32_t i = 2; i < c->arg_count; i += 2) {
        bool more = i + 1 < c->arg_count;
        if (more && kv_arg_is(&a[i], "COUNT")) {
            if (!kv_arg_int64(&a[i + 1], &count)) {
                return kv_res_err(r, kv_error_not_integer);
            }
            if (count < 1) {
                return kv_res_err(r, kv_error_syntax);
            }
        } else if (more && kv_arg_is(&a[i], "MATCH")) {
            pattern = &a[i + 1];
        } else {
            return kv_res_err(r, kv_error_syntax);
        }
    }
    if (pattern != NULL && pattern->len > KV_GLOB_PATTERN_BYTES_MAX) {
        return kv_res_err(r, "ERR pattern too long for chorus");
    }
    if (count > KV_SCAN_COUNT_MAX) {
        count = KV_SCAN_COUNT_MAX; /* Redis's COUNT is a hint */
    }
    bool values = want == KV_TYPE_HASH || want == KV_TYPE_ZSET;
    /* Room for count elements and the rest of the last hash's group (a 2^-64 event). */
    uint64_t room = ((uint64_t)count + KV_SCAN_COUNT_MAX) * (values ? 2 : 1);
    struct kv_result *out = kv_arena_alloc(ctx->arena, (size_t)room * sizeof *out + 1);
    if (out == NULL) {
        return ENOMEM;
    }
    struct kv_elem_iter it;
    rc = kv_elem_iter_open(&it, ctx->kv, ctx->txn, info.meta.id, cursor);
    uint64_t n = 0, examined = 0, last = 0, next = 0;
    while (rc == MDB_SUCCESS && it.valid) {
        if (examined >= (uint64_t)count &&
            (it.position != last || examined >= (uint64_t)count + KV_SCAN_COUNT_MAX)) {
            next = it.position;
            break;
        }
        if (pattern == NULL ||
            kv_glob_match(pattern->data, pattern->len, it.element.data, it.element.len)) {
            rc = want == KV_TYPE_ZSET ? kv_zset_pick_put(ctx, &it, true, KV_RESULT_BULK, out, &n)
                                      : pick_put(ctx, &it, values, out, &n);
        }
        examined++;
        last = it.position;
        if (rc == MDB_SUCCESS) {
            rc = kv_elem_iter_next(&it);
        }
    }
    kv_elem_iter_close(&it);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (next == 0 && it.valid) {
        next = 1; /* an element at hash 0 is next: any cursor but 0 resumes at it */
    }
    char text[KV_CURSOR_TEXT_BYTES];
    int len = snprintf(text, sizeof text, "%llu", (unsigned long long)next);
    rc = kv_res_bulk(ctx, &pair[0], (const uint8_t *)text, (size_t)len);
    kv_res_set(&pair[1], KV_RESULT_ARRAY);
    pair[1].elements = out;
    pair[1].element_count = (uint32_t)n;
    return rc;
}

/* ---- sets ---- */

static const struct kv_bytes kv_empty_value = {.data = (const uint8_t *)"", .len = 0};

/* SADD k m... and SREM k m... */
static int set_add_remove(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    bool add = c->op == KV_OP_SADD;
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], KV_TYPE_SET, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (add && a[0].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    if (add && !elements_fit(a, 1, c->arg_count - 1, 1)) {
        return kv_res_err(r, kv_error_element_size);
    }
    if (!add && info.type == KV_TYPE_NONE) {
        kv_res_int(r, 0);
        return MDB_SUCCESS;
    }
    if (add && info.type == KV_TYPE_NONE && !kv_types_create(ctx, &info, KV_TYPE_SET)) {
        return kv_res_err(r, kv_error_ids);
    }
    int64_t changed = 0;
    for (uint32_t i = 1; i < c->arg_count; i++) {
        bool found = false;
        struct kv_bytes old;
        if (add) {
            rc = kv_elem_get(ctx->kv, ctx->txn, info.meta.id, &a[i], &old, &found);
            if (rc == MDB_SUCCESS && !found) {
                rc = kv_elem_put(ctx->kv, ctx->txn, info.meta.id, &a[i], &kv_empty_value);
                changed++;
                info.meta.count++;
            }
        } else {
            rc = kv_elem_del(ctx->kv, ctx->txn, info.meta.id, &a[i], &found);
            changed += found;
            info.meta.count -= found;
        }
        *ctx->written += a[i].len;
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        if (!add && info.meta.count == 0) {
            break;
        }
    }
    kv_res_int(r, changed);
    return changed > 0 ? kv_types_save(ctx, &info) : MDB_SUCCESS;
}

/* SISMEMBER k m, SMISMEMBER k m... */
static int set_ismember(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &c->args[0], KV_TYPE_SET, &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    bool many = c->op == KV_OP_SMISMEMBER;
    uint32_t n = many ? c->arg_count - 1 : 1;
    struct kv_result *out = many ? kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n) : r;
    if (out == NULL) {
        return ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct kv_bytes value;
        bool found = false;
        if (info.type != KV_TYPE_NONE) {
            rc = kv_elem_get(ctx->kv, ctx->txn, info.meta.id, &c->args[1 + i], &value, &found);
            if (rc != MDB_SUCCESS) {
                return rc;
            }
        }
        kv_res_int(&out[i], found);
    }
    return MDB_SUCCESS;
}

/* SPOP k [count]: the seed's picks, removed. */
static int set_pop(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    if (c->arg_count > 2) {
        return kv_res_err(r, kv_error_syntax);
    }
    int64_t l = 1;
    if (c->arg_count == 2) {
        if (!kv_arg_int64(&a[1], &l) || l < 0) { /* Redis's getPositiveLongFromObjectOrReply */
            return kv_res_err(r, "ERR value is out of range, must be positive");
        }
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], KV_TYPE_SET, &info, &wrong);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (info.type == KV_TYPE_NONE && !wrong) {
        if (c->arg_count == 1) {
            kv_res_set(r, KV_RESULT_NULL);
            return MDB_SUCCESS;
        }
        return kv_res_aggregate(ctx, r, KV_RESULT_SET, 0) != NULL ? MDB_SUCCESS : ENOMEM;
    }
    if (wrong) {
        return kv_res_err(r, kv_error_wrongtype);
    }
    uint64_t count = (uint64_t)l < info.meta.count ? (uint64_t)l : info.meta.count;
    if (count > KV_REPLY_ELEMENTS_MAX) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result one;
    struct kv_result *out = &one;
    if (c->arg_count == 2 && (out = kv_res_aggregate(ctx, r, KV_RESULT_SET, count)) == NULL) {
        return ENOMEM;
    }
    rc = coll_random(ctx, &info.meta, count, false, false, out);
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < count; i++) {
        struct kv_bytes member = {.data = out[i].bulk, .len = out[i].bulk_len};
        bool deleted = false;
        rc = kv_elem_del(ctx->kv, ctx->txn, info.meta.id, &member, &deleted);
        *ctx->written += member.len;
        info.meta.count -= deleted;
    }
    if (c->arg_count == 1) {
        *r = one;
    }
    return rc == MDB_SUCCESS && count > 0 ? kv_types_save(ctx, &info) : rc;
}

/* SMOVE src dst m, in Redis's order of checks. */
static int set_move(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    struct kv_key_info src, dst;
    bool src_wrong = false, dst_wrong = false;
    int rc = kv_types_key_get(ctx, &a[0], KV_TYPE_SET, &src, &src_wrong);
    if (rc == MDB_SUCCESS) {
        rc = kv_types_key_get(ctx, &a[1], KV_TYPE_SET, &dst, &dst_wrong);
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (src.type == KV_TYPE_NONE && !src_wrong) {
        kv_res_int(r, 0);
        return MDB_SUCCESS;
    }
    if (src_wrong || dst_wrong) {
        return kv_res_err(r, kv_error_wrongtype);
    }
    bool same = a[0].len == a[1].len && memcmp(a[0].data, a[1].data, a[0].len) == 0;
    struct kv_bytes value;
    bool found = false;
    if (same) {
        rc = kv_elem_get(ctx->kv, ctx->txn, src.meta.id, &a[2], &value, &found);
        kv_res_int(r, found);
        return rc;
    }
    if (a[1].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    if (a[2].len > KV_ELEMENT_BYTES_MAX) {
        kv_res_int(r, 0); /* no such member can be in src */
        return MDB_SUCCESS;
    }
    /* The id before any write: running out of ids must leave src as it was. */
    if (dst.type == KV_TYPE_NONE && !kv_types_create(ctx, &dst, KV_TYPE_SET)) {
        return kv_res_err(r, kv_error_ids);
    }
    rc = kv_elem_del(ctx->kv, ctx->txn, src.meta.id, &a[2], &found);
    if (rc != MDB_SUCCESS || !found) {
        kv_res_int(r, 0);
        return rc;
    }
    src.meta.count--;
    rc = kv_types_save(ctx, &src);
    if (rc == MDB_SUCCESS) {
        rc = kv_elem_get(ctx->kv, ctx->txn, dst.meta.id, &a[2], &value, &found);
    }
    if (rc == MDB_SUCCESS && !found) {
        rc = kv_elem_put(ctx->kv, ctx->txn, dst.meta.id, &a[2], &kv_empty_value);
        dst.meta.count++;
        if (rc == MDB_SUCCESS) {
            rc = kv_types_save(ctx, &dst);
        }
    }
    *ctx->written += a[2].len;
    kv_res_int(r, 1);
    return rc;
}

/* One operand of SINTER, SUNION, SDIFF: its metadata, NULL-like when missing. */
struct set_operand {
    bool exists;
    struct kv_coll_meta meta;
};

static int set_has(struct kv_ctx *ctx, const struct set_operand *s, const struct kv_bytes *m,
                   bool *found)
{
    *found = false;
    if (!s->exists) {
        return MDB_SUCCESS;
    }
    struct kv_bytes value;
    return kv_elem_get(ctx->kv, ctx->txn, s->meta.id, m, &value, found);
}

/*
 * The members of an intersection, union or difference, copied into the arena (the caller
 * may then overwrite a source, as a STORE does). `limit` stops an intersection early
 * (SINTERCARD); 0 is none. *too_large: more than KV_REPLY_ELEMENTS_MAX.
 */
static int set_combine(struct kv_ctx *ctx, uint8_t kind, struct set_operand *sets, uint32_t n,
                       uint64_t limit, struct kv_bytes **members, uint64_t *count,
                       bool *too_large)
{
    *count = 0;
    *too_large = false;
    uint64_t cap = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (kind == KV_OP_SUNION || j == 0) {
            cap += sets[j].meta.count;
        }
    }
    if (kind == KV_OP_SINTER) {
        for (uint32_t j = 0; j < n; j++) {
            if (!sets[j].exists) {
                return MDB_SUCCESS; /* Redis: an intersection with a missing key is empty */
            }
        }
        /* The smallest set drives: each of its members is looked up in the others. */
        uint32_t smallest = 0;
        for (uint32_t j = 1; j < n; j++) {
            if (sets[j].meta.count < sets[smallest].meta.count) {
                smallest = j;
            }
        }
        struct set_operand swap = sets[0];
        sets[0] = sets[smallest];
        sets[smallest] = swap;
        cap = sets[0].meta.count;
    }
    if (cap > KV_REPLY_ELEMENTS_MAX && kind != KV_OP_SINTER) {
        *too_large = true; /* a bound on the work too: no more than this many are visited */
        return MDB_SUCCESS;
    }
    if (cap > KV_REPLY_ELEMENTS_MAX) {
        cap = KV_REPLY_ELEMENTS_MAX + 1;
    }
    *members = kv_arena_alloc(ctx->arena, (size_t)cap * sizeof **members + 1);
    if (*members == NULL) {
        return ENOMEM;
    }
    uint32_t sources = kind == KV_OP_SUNION ? n : 1;
    int rc = MDB_SUCCESS;
    for (uint32_t j = 0; rc == MDB_SUCCESS && j < sources; j++) {
        if (!sets[j].exists) {
            continue;
        }
        struct kv_elem_iter it;
        rc = kv_elem_iter_open(&it, ctx->kv, ctx->txn, sets[j].meta.id, 0);
        while (rc == MDB_SUCCESS && it.valid) {
            bool keep = true;
            /* union: not in an earlier set; diff: in no other; inter: in every other */
            uint32_t from = kind == KV_OP_SUNION ? 0 : 1, to = kind == KV_OP_SUNION ? j : n;
            for (uint32_t k = from; rc == MDB_SUCCESS && keep && k < to; k++) {
                bool found = false;
                rc = set_has(ctx, &sets[k], &it.element, &found);
                keep = kind == KV_OP_SINTER ? found : !found;
                if (kind == KV_OP_SINTER && !sets[k].exists) {
                    keep = false;
                }
            }
            if (rc == MDB_SUCCESS && keep) {
                if (*count == cap) {
                    *too_large = true;
                    break;
                }
                const uint8_t *copy = kv_arena_copy(ctx->arena, it.element.data, it.element.len);
                if (copy == NULL && it.element.len > 0) {
                    rc = ENOMEM;
                    break;
                }
                (*members)[(*count)++] = (struct kv_bytes){copy, it.element.len};
                if (limit > 0 && *count == limit) {
                    break;
                }
            }
            if (rc == MDB_SUCCESS) {
                rc = kv_elem_iter_next(&it);
            }
        }
        kv_elem_iter_close(&it);
        if (*too_large || (limit > 0 && *count == limit)) {
            break;
        }
    }
    if (*count > KV_REPLY_ELEMENTS_MAX) {
        *too_large = true;
    }
    return rc;
}

/* Looks up the operand keys keys[0..n), all of which must be sets or missing. */
static int set_operands(struct kv_ctx *ctx, const struct kv_bytes *keys, uint32_t n,
                        struct set_operand **sets, bool *wrong)
{
    *wrong = false;
    *sets = kv_arena_alloc(ctx->arena, (size_t)n * sizeof **sets + 1);
    if (*sets == NULL) {
        return ENOMEM;
    }
    for (uint32_t j = 0; j < n; j++) {
        struct kv_key_info info;
        bool w = false;
        int rc = kv_types_key_get(ctx, &keys[j], KV_TYPE_SET, &info, &w);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        if (w) {
            *wrong = true;
            return MDB_SUCCESS;
        }
        (*sets)[j] = (struct set_operand){.exists = info.type == KV_TYPE_SET, .meta = info.meta};
    }
    return MDB_SUCCESS;
}

/* SINTER, SUNION, SDIFF k... and their STORE forms dst k... */
static int set_algebra(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    uint8_t kind = c->op;
    bool store = false;
    if (kind == KV_OP_SINTERSTORE || kind == KV_OP_SUNIONSTORE || kind == KV_OP_SDIFFSTORE) {
        store = true;
        kind = kind == KV_OP_SINTERSTORE ? KV_OP_SINTER
               : kind == KV_OP_SUNIONSTORE ? KV_OP_SUNION : KV_OP_SDIFF;
    }
    uint32_t first = store ? 1 : 0;
    if (c->arg_count <= first) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    struct set_operand *sets = NULL;
    bool wrong = false;
    int rc = set_operands(ctx, c->args + first, c->arg_count - first, &sets, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    struct kv_bytes *members = NULL;
    uint64_t count = 0;
    bool too_large = false;
    rc = set_combine(ctx, kind, sets, c->arg_count - first, 0, &members, &count, &too_large);
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_reply_size);
    }
    if (!store) {
        struct kv_result *out = kv_res_aggregate(ctx, r, KV_RESULT_SET, count);
        if (out == NULL) {
            return ENOMEM;
        }
        for (uint64_t i = 0; i < count; i++) {
            kv_res_set(&out[i], KV_RESULT_BULK);
            out[i].bulk = members[i].data != NULL ? members[i].data : (const uint8_t *)"";
            out[i].bulk_len = members[i].len;
        }
        return MDB_SUCCESS;
    }
    const struct kv_bytes *dst_key = &c->args[0];
    if (dst_key->len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    struct kv_key_info dst;
    rc = kv_key_find(ctx->kv, ctx->txn, dst_key->data, dst_key->len, &dst);
    uint64_t id = count > 0 ? kv_coll_new_id(ctx->kv) : 0;
    if (rc == MDB_SUCCESS && count > 0 && id == 0) {
        return kv_res_err(r, kv_error_ids); /* before any write */
    }
    bool deleted = false;
    if (rc == MDB_SUCCESS) {
        rc = kv_key_remove(ctx->kv, ctx->txn, &dst, &deleted);
        *ctx->written += dst_key->len;
    }
    if (rc == MDB_SUCCESS && count > 0) {
        dst.meta = (struct kv_coll_meta){.type = KV_TYPE_SET, .id = id};
        for (uint64_t i = 0; rc == MDB_SUCCESS && i < count; i++) {
            rc = kv_elem_put(ctx->kv, ctx->txn, dst.meta.id, &members[i], &kv_empty_value);
            *ctx->written += members[i].len + 16;
        }
        dst.meta.count = count;
        if (rc == MDB_SUCCESS) {
            rc = kv_types_save(ctx, &dst);
        }
    }
    kv_res_int(r, (int64_t)count);
    return rc;
}

/* SINTERCARD numkeys k... [LIMIT n] */
static int set_intercard(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    int64_t numkeys = 0, limit = 0;
    if (!kv_arg_int64(&a[0], &numkeys) || numkeys < 1) {
        return kv_res_err(r, "ERR numkeys should be greater than 0");
    }
    if (numkeys > (int64_t)c->arg_count - 1) {
        return kv_res_err(r, "ERR Number of keys can't be greater than number of args");
    }
    for (uint32_t j = 1 + (uint32_t)numkeys; j < c->arg_count; j++) {
        bool more = j + 1 < c->arg_count;
        if (kv_arg_is(&a[j], "LIMIT") && more) {
            j++;
            if (!kv_arg_int64(&a[j], &limit) || limit < 0) {
                return kv_res_err(r, "ERR LIMIT can't be negative");
            }
        } else {
            return kv_res_err(r, kv_error_syntax);
        }
    }
    struct set_operand *sets = NULL;
    bool wrong = false;
    int rc = set_operands(ctx, a + 1, (uint32_t)numkeys, &sets, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    struct kv_bytes *members = NULL;
    uint64_t count = 0;
    bool too_large = false;
    rc = set_combine(ctx, KV_OP_SINTER, sets, (uint32_t)numkeys, (uint64_t)limit, &members,
                     &count, &too_large);
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_reply_size);
    }
    kv_res_int(r, (int64_t)count);
    return MDB_SUCCESS;
}

/* ---- dispatch ---- */

bool kv_op_is_collection_read(uint8_t op)
{
    switch (op) {
    case KV_OP_HGET: case KV_OP_HMGET: case KV_OP_HEXISTS: case KV_OP_HLEN: case KV_OP_HKEYS:
    case KV_OP_HVALS: case KV_OP_HGETALL: case KV_OP_HSTRLEN: case KV_OP_HRANDFIELD:
    case KV_OP_HSCAN: case KV_OP_SISMEMBER: case KV_OP_SMISMEMBER: case KV_OP_SMEMBERS:
    case KV_OP_SCARD: case KV_OP_SRANDMEMBER: case KV_OP_SINTER: case KV_OP_SUNION:
    case KV_OP_SDIFF: case KV_OP_SINTERCARD: case KV_OP_SSCAN: case KV_OP_LLEN:
    case KV_OP_LRANGE: case KV_OP_LINDEX: case KV_OP_LPOS:
    case KV_OP_ZSCORE: case KV_OP_ZMSCORE: case KV_OP_ZCARD: case KV_OP_ZCOUNT:
    case KV_OP_ZLEXCOUNT: case KV_OP_ZRANGE: case KV_OP_ZRANGEBYSCORE:
    case KV_OP_ZREVRANGEBYSCORE: case KV_OP_ZRANGEBYLEX: case KV_OP_ZREVRANGEBYLEX:
    case KV_OP_ZREVRANGE: case KV_OP_ZRANK: case KV_OP_ZREVRANK: case KV_OP_ZRANDMEMBER:
    case KV_OP_ZSCAN:
    case KV_OP_TTL: case KV_OP_PTTL: case KV_OP_EXPIRETIME: case KV_OP_PEXPIRETIME:
        return true;
    default:
        return false;
    }
}

/* Redis's arity of each op, counted without the command's name: > 0 exact, < 0 at least. A
 * corrupt log entry that breaks it gets an error, never a read past the arguments. */
static int kv_types_arity(uint8_t op)
{
    switch (op) {
    case KV_OP_LINSERT: case KV_OP_LMOVE:
        return 4;
    case KV_OP_ZRANGESTORE:
        return -4;
    case KV_OP_ZINCRBY: case KV_OP_ZCOUNT: case KV_OP_ZLEXCOUNT: case KV_OP_ZREMRANGEBYSCORE:
    case KV_OP_ZREMRANGEBYRANK: case KV_OP_ZREMRANGEBYLEX:
        return 3;
    case KV_OP_ZADD: case KV_OP_ZRANGE: case KV_OP_ZRANGEBYSCORE: case KV_OP_ZREVRANGEBYSCORE:
    case KV_OP_ZRANGEBYLEX: case KV_OP_ZREVRANGEBYLEX: case KV_OP_ZREVRANGE:
    case KV_OP_ZUNIONSTORE: case KV_OP_ZINTERSTORE:
        return -3;
    case KV_OP_ZSCORE: case KV_OP_ZRANK: case KV_OP_ZREVRANK:
        return 2;
    case KV_OP_ZCARD:
        return 1;
    case KV_OP_ZREM: case KV_OP_ZMSCORE: case KV_OP_ZSCAN:
        return -2;
    case KV_OP_HINCRBY: case KV_OP_HINCRBYFLOAT: case KV_OP_SMOVE: case KV_OP_LRANGE:
    case KV_OP_LSET: case KV_OP_LTRIM: case KV_OP_LREM:
        return 3;
    case KV_OP_HGET: case KV_OP_HEXISTS: case KV_OP_HSTRLEN: case KV_OP_SISMEMBER:
    case KV_OP_LINDEX: case KV_OP_RPOPLPUSH:
        return 2;
    case KV_OP_HLEN: case KV_OP_HKEYS: case KV_OP_HVALS: case KV_OP_HGETALL:
    case KV_OP_SMEMBERS: case KV_OP_SCARD: case KV_OP_LLEN:
        return 1;
    case KV_OP_HSET:
        return -3;
    case KV_OP_HDEL: case KV_OP_HMGET: case KV_OP_HSCAN: case KV_OP_SADD: case KV_OP_SREM:
    case KV_OP_SMISMEMBER: case KV_OP_SINTERSTORE: case KV_OP_SUNIONSTORE:
    case KV_OP_SDIFFSTORE: case KV_OP_SINTERCARD: case KV_OP_SSCAN: case KV_OP_LPUSH:
    case KV_OP_RPUSH: case KV_OP_LPUSHX: case KV_OP_RPUSHX: case KV_OP_LPOS:
        return -2;
    default:
        return -1;
    }
}

int kv_types_run(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    if (c->op >= KV_OP_EXPIRY_FIRST) {
        return kv_expiry_run(ctx, c, r); /* key-level: any type */
    }
    int arity = kv_types_arity(c->op);
    if ((arity > 0 && c->arg_count != (uint32_t)arity) ||
        (arity < 0 && c->arg_count < (uint32_t)-arity)) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    assert(ctx->written != NULL || kv_op_is_collection_read(c->op));
    if (c->op >= KV_OP_ZSET_FIRST) {
        return kv_zset_run(ctx, c, r);
    }
    if (c->op >= KV_OP_LIST_FIRST) {
        return kv_list_run(ctx, c, r);
    }
    switch (c->op) {
    case KV_OP_HSET:
        return hash_set(ctx, c, r);
    case KV_OP_HDEL:
        return hash_del(ctx, c, r);
    case KV_OP_HINCRBY:
    case KV_OP_HINCRBYFLOAT:
        return hash_incr(ctx, c, r);
    case KV_OP_HGET:
    case KV_OP_HMGET:
    case KV_OP_HEXISTS:
    case KV_OP_HSTRLEN:
        return hash_get(ctx, c, r);
    case KV_OP_HLEN:
        return coll_len(ctx, c, KV_TYPE_HASH, r);
    case KV_OP_HKEYS:
    case KV_OP_HVALS:
    case KV_OP_HGETALL:
        return coll_all(ctx, c, KV_TYPE_HASH, r);
    case KV_OP_HRANDFIELD:
        return coll_randmember(ctx, c, KV_TYPE_HASH, r);
    case KV_OP_HSCAN:
        return kv_types_scan(ctx, c, KV_TYPE_HASH, r);
    case KV_OP_SADD:
    case KV_OP_SREM:
        return set_add_remove(ctx, c, r);
    case KV_OP_SISMEMBER:
    case KV_OP_SMISMEMBER:
        return set_ismember(ctx, c, r);
    case KV_OP_SMEMBERS:
        return coll_all(ctx, c, KV_TYPE_SET, r);
    case KV_OP_SCARD:
        return coll_len(ctx, c, KV_TYPE_SET, r);
    case KV_OP_SPOP:
        return set_pop(ctx, c, r);
    case KV_OP_SRANDMEMBER:
        return coll_randmember(ctx, c, KV_TYPE_SET, r);
    case KV_OP_SMOVE:
        return set_move(ctx, c, r);
    case KV_OP_SINTER:
    case KV_OP_SUNION:
    case KV_OP_SDIFF:
    case KV_OP_SINTERSTORE:
    case KV_OP_SUNIONSTORE:
    case KV_OP_SDIFFSTORE:
        return set_algebra(ctx, c, r);
    case KV_OP_SINTERCARD:
        return set_intercard(ctx, c, r);
    case KV_OP_SSCAN:
        return kv_types_scan(ctx, c, KV_TYPE_SET, r);
    default:
        return kv_res_err(r, "ERR unknown command");
    }
}
