/*
 * kv_list.c — the list commands (not the blocking pops), as Redis 7.0's t_list.c answers them.
 *
 * A list is a collection (kv_coll.h) whose elements are records of the elements DB under
 * u64 id + u64 position (big-endian, the sign bit flipped so that negative positions sort
 * first); the metadata's head is the first element's position, so element i is at head + i.
 * LPUSH writes at head - 1, RPUSH at head + count: O(log n) each, as are LPOP, RPOP, LINDEX,
 * LSET, and LRANGE costs O(log n + k). LINSERT shifts the shorter side by one position and
 * LREM closes the gaps it leaves, O(n) as in Redis; LTRIM costs O(min(kept, trimmed)).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "storage/kv_coll.h"

enum {
    KV_LIST_KEY_BYTES = KV_ELEM_ID_BYTES + 8,
};

static const char kv_error_not_integer[] = "ERR value is not an integer or out of range";
static const char kv_error_syntax[] = "ERR syntax error";
static const char kv_error_reply_size[] =
    "ERR reply too large for chorus (at most 1048576 elements: use LRANGE in parts)";
static const char kv_error_key_size[] = "ERR key too large (max 4096 bytes)";
static const char kv_error_ids[] = "ERR too many collections created in one transaction";

static void list_key(uint8_t *out, uint64_t id, int64_t position)
{
    uint64_t p = (uint64_t)position ^ (1ull << 63);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(id >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(p >> (56 - 8 * i));
    }
}

static bool list_key_is(const MDB_val *key, uint64_t id)
{
    if (key->mv_size != KV_LIST_KEY_BYTES) {
        return false;
    }
    uint8_t want[KV_LIST_KEY_BYTES];
    list_key(want, id, 0);
    return memcmp(key->mv_data, want, KV_ELEM_ID_BYTES) == 0;
}

/* The value of element `index` (0 .. count - 1), borrowed from the txn. */
static int list_get(struct kv_ctx *ctx, const struct kv_coll_meta *m, uint64_t index,
                    struct kv_bytes *value)
{
    assert(index < m->count);
    uint8_t k[KV_LIST_KEY_BYTES];
    list_key(k, m->id, m->head + (int64_t)index);
    MDB_val key = {.mv_size = sizeof k, .mv_data = k}, record;
    int rc = mdb_get(ctx->txn, ctx->kv->elems_dbi, &key, &record);
    if (rc == MDB_NOTFOUND) {
        return MDB_CORRUPTED; /* the count says it is there */
    }
    *value = (struct kv_bytes){.data = record.mv_data, .len = record.mv_size};
    return rc;
}

static int list_put(struct kv_ctx *ctx, uint64_t id, int64_t position, const struct kv_bytes *value)
{
    uint8_t k[KV_LIST_KEY_BYTES];
    list_key(k, id, position);
    MDB_val key = {.mv_size = sizeof k, .mv_data = k};
    MDB_val record = {.mv_size = value->len, .mv_data = (void *)value->data};
    *ctx->written += sizeof k + value->len;
    return mdb_put(ctx->txn, ctx->kv->elems_dbi, &key, &record, 0);
}

static int list_del(struct kv_ctx *ctx, uint64_t id, int64_t position)
{
    uint8_t k[KV_LIST_KEY_BYTES];
    list_key(k, id, position);
    MDB_val key = {.mv_size = sizeof k, .mv_data = k};
    *ctx->written += sizeof k;
    int rc = mdb_del(ctx->txn, ctx->kv->elems_dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* Moves element `from` (an index) to position `to`: the value goes through the scratch
 * buffer, as the put may move the page it lies in. */
static int list_move(struct kv_ctx *ctx, const struct kv_coll_meta *m, uint64_t from, int64_t to)
{
    struct kv_bytes value;
    int rc = list_get(ctx, m, from, &value);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    memcpy(ctx->kv->scratch, value.data, value.len);
    struct kv_bytes copy = {.data = ctx->kv->scratch, .len = value.len};
    return list_put(ctx, m->id, to, &copy);
}

static bool bytes_equal(const struct kv_bytes *a, const uint8_t *data, size_t len)
{
    return a->len == len && (len == 0 || memcmp(a->data, data, len) == 0);
}

/* A walk over a list's records with one cursor, from an index towards the tail or the head:
 * what LREM, LINSERT and LPOS scan, at the cost of a step per element rather than a search. */
struct list_walk {
    MDB_cursor *cursor;
    uint64_t id;
    bool backward;
    struct kv_bytes value; /* the current element's, borrowed from the txn */
};

static int list_walk_load(struct list_walk *w, int rc, const MDB_val *key, const MDB_val *record)
{
    if (rc == MDB_SUCCESS && !list_key_is(key, w->id)) {
        rc = MDB_CORRUPTED; /* callers step only within the count */
    }
    if (rc == MDB_SUCCESS) {
        w->value = (struct kv_bytes){.data = record->mv_data, .len = record->mv_size};
    }
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

static int list_walk_open(struct kv_ctx *ctx, const struct kv_coll_meta *m, uint64_t index,
                          bool backward, struct list_walk *w)
{
    assert(index < m->count);
    *w = (struct list_walk){.id = m->id, .backward = backward};
    int rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &w->cursor);
    if (rc != MDB_SUCCESS) {
        w->cursor = NULL;
        return rc;
    }
    uint8_t k[KV_LIST_KEY_BYTES];
    list_key(k, m->id, m->head + (int64_t)index);
    MDB_val key = {.mv_size = sizeof k, .mv_data = k}, record;
    rc = mdb_cursor_get(w->cursor, &key, &record, MDB_SET_KEY);
    return list_walk_load(w, rc, &key, &record);
}

static int list_walk_next(struct list_walk *w)
{
    MDB_val key, record;
    int rc = mdb_cursor_get(w->cursor, &key, &record, w->backward ? MDB_PREV : MDB_NEXT);
    return list_walk_load(w, rc, &key, &record);
}

static void list_walk_close(struct list_walk *w)
{
    if (w->cursor != NULL) {
        mdb_cursor_close(w->cursor);
    }
    w->cursor = NULL;
}

/* Redis's index: negative counts from the tail. False when outside the list. */
static bool list_index(const struct kv_coll_meta *m, int64_t index, uint64_t *out)
{
    if (index < 0) {
        index += (int64_t)m->count;
    }
    if (index < 0 || (uint64_t)index >= m->count) {
        return false;
    }
    *out = (uint64_t)index;
    return true;
}

static int list_lookup(struct kv_ctx *ctx, const struct kv_bytes *key, struct kv_key_info *info,
                       bool *wrong)
{
    return kv_types_key_get(ctx, key, KV_TYPE_LIST, info, wrong);
}

/* LPUSH, RPUSH, LPUSHX, RPUSHX k v...: the new length. */
static int list_push(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool left = c->op == KV_OP_LPUSH || c->op == KV_OP_LPUSHX;
    bool existing = c->op == KV_OP_LPUSHX || c->op == KV_OP_RPUSHX;
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE && existing) {
        kv_res_int(r, 0);
        return MDB_SUCCESS;
    }
    if (c->args[0].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    if (info.type == KV_TYPE_NONE && !kv_types_create(ctx, &info, KV_TYPE_LIST)) {
        return kv_res_err(r, kv_error_ids);
    }
    for (uint32_t i = 1; rc == MDB_SUCCESS && i < c->arg_count; i++) {
        int64_t position = left ? --info.meta.head : info.meta.head + (int64_t)info.meta.count;
        rc = list_put(ctx, info.meta.id, position, &c->args[i]);
        info.meta.count++;
    }
    kv_res_int(r, (int64_t)info.meta.count);
    return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
}

/* Takes the head's (left) or the tail's element out into the result r (copied). */
static int list_pop_one(struct kv_ctx *ctx, struct kv_key_info *info, bool left,
                        struct kv_result *r)
{
    assert(info->meta.count > 0);
    uint64_t index = left ? 0 : info->meta.count - 1;
    struct kv_bytes value;
    int rc = list_get(ctx, &info->meta, index, &value);
    if (rc == MDB_SUCCESS) {
        rc = kv_res_bulk(ctx, r, value.data, value.len);
    }
    if (rc == MDB_SUCCESS) {
        rc = list_del(ctx, info->meta.id, info->meta.head + (int64_t)index);
    }
    if (left) {
        info->meta.head++;
    }
    info->meta.count--;
    return rc;
}

/* LPOP, RPOP k [count] */
static int list_pop(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool left = c->op == KV_OP_LPOP;
    if (c->arg_count > 2) {
        return kv_res_err(r, left ? "ERR wrong number of arguments for 'lpop' command"
                                  : "ERR wrong number of arguments for 'rpop' command");
    }
    bool has_count = c->arg_count == 2;
    int64_t count = 0;
    if (has_count && (!kv_arg_int64(&c->args[1], &count) || count < 0)) {
        return kv_res_err(r, "ERR value is out of range, must be positive");
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_set(r, has_count ? KV_RESULT_NULL_ARRAY : KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    if (!has_count) {
        rc = list_pop_one(ctx, &info, left, r);
        return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
    }
    uint64_t n = (uint64_t)count < info.meta.count ? (uint64_t)count : info.meta.count;
    if (n > KV_REPLY_ELEMENTS_MAX) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n);
    if (out == NULL) {
        return ENOMEM;
    }
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < n; i++) {
        rc = list_pop_one(ctx, &info, left, &out[i]);
    }
    return rc == MDB_SUCCESS && n > 0 ? kv_types_save(ctx, &info) : rc;
}

/* Redis's range rule of LRANGE and LTRIM: [*start, *end] within the list, or false. */
static bool list_range(uint64_t len, int64_t *start, int64_t *end)
{
    int64_t llen = (int64_t)len;
    if (*start < 0) {
        *start += llen;
    }
    if (*end < 0) {
        *end += llen;
    }
    if (*start < 0) {
        *start = 0;
    }
    if (*start > *end || *start >= llen) {
        return false;
    }
    if (*end >= llen) {
        *end = llen - 1;
    }
    return true;
}

/* LRANGE k start stop: a walk of the records from head + start. */
static int list_lrange(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    int64_t start = 0, end = 0;
    if (!kv_arg_int64(&c->args[1], &start) || !kv_arg_int64(&c->args[2], &end)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE || !list_range(info.meta.count, &start, &end)) {
        return kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 0) != NULL ? MDB_SUCCESS : ENOMEM;
    }
    uint64_t n = (uint64_t)(end - start + 1);
    if (n > KV_REPLY_ELEMENTS_MAX) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n);
    if (out == NULL) {
        return ENOMEM;
    }
    MDB_cursor *cursor = NULL;
    rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &cursor);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    uint8_t k[KV_LIST_KEY_BYTES];
    list_key(k, info.meta.id, info.meta.head + start);
    MDB_val key = {.mv_size = sizeof k, .mv_data = k}, record;
    rc = mdb_cursor_get(cursor, &key, &record, MDB_SET_KEY);
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < n; i++) {
        if (!list_key_is(&key, info.meta.id)) {
            rc = MDB_CORRUPTED;
            break;
        }
        rc = kv_res_bulk(ctx, &out[i], record.mv_data, record.mv_size);
        if (rc == MDB_SUCCESS && i + 1 < n) {
            rc = mdb_cursor_get(cursor, &key, &record, MDB_NEXT);
        }
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* LINDEX k index (the key first, then the index, as Redis) and LLEN k. */
static int list_lindex(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (c->op == KV_OP_LLEN) {
        kv_res_int(r, (int64_t)info.meta.count);
        return MDB_SUCCESS;
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_set(r, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    int64_t index = 0;
    uint64_t at = 0;
    if (!kv_arg_int64(&c->args[1], &index)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    if (!list_index(&info.meta, index, &at)) {
        kv_res_set(r, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    struct kv_bytes value;
    rc = list_get(ctx, &info.meta, at, &value);
    return rc == MDB_SUCCESS ? kv_res_bulk(ctx, r, value.data, value.len) : rc;
}

/* LSET k index v */
static int list_lset(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE) {
        return kv_res_err(r, "ERR no such key");
    }
    int64_t index = 0;
    uint64_t at = 0;
    if (!kv_arg_int64(&c->args[1], &index)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    if (!list_index(&info.meta, index, &at)) {
        return kv_res_err(r, "ERR index out of range");
    }
    rc = list_put(ctx, info.meta.id, info.meta.head + (int64_t)at, &c->args[2]);
    kv_res_set(r, KV_RESULT_OK);
    return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
}

/* LTRIM k start stop: what is outside goes, one delete per element, or, when fewer are kept
 * than trimmed, the kept ones move to a new id and the rest goes to the trash. */
static int list_ltrim(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    int64_t start = 0, end = 0;
    if (!kv_arg_int64(&c->args[1], &start) || !kv_arg_int64(&c->args[2], &end)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    kv_res_set(r, KV_RESULT_OK);
    if (info.type == KV_TYPE_NONE) {
        return MDB_SUCCESS;
    }
    uint64_t ltrim = info.meta.count, rtrim = 0;
    if (list_range(info.meta.count, &start, &end)) {
        ltrim = (uint64_t)start;
        rtrim = info.meta.count - (uint64_t)end - 1;
    }
    uint64_t kept = info.meta.count - ltrim - rtrim;
    uint64_t id = kept > 0 && kept < ltrim + rtrim && ltrim + rtrim > KV_RECLAIM_STEP
                      ? kv_coll_new_id(ctx->kv) : 0;
    if (id != 0) {
        /* Fewer kept than trimmed: the kept ones move to a fresh id and the old one goes to
         * the trash, reclaimed a bounded step per entry. O(min(kept, trimmed)) here. */
        for (uint64_t i = 0; rc == MDB_SUCCESS && i < kept; i++) {
            struct kv_bytes value;
            rc = list_get(ctx, &info.meta, ltrim + i, &value);
            if (rc == MDB_SUCCESS) {
                memcpy(ctx->kv->scratch, value.data, value.len);
                struct kv_bytes copy = {.data = ctx->kv->scratch, .len = value.len};
                rc = list_put(ctx, id, (int64_t)i, &copy);
            }
        }
        if (rc == MDB_SUCCESS) {
            rc = kv_coll_trash(ctx->kv, ctx->txn, info.meta.id);
        }
        info.meta.id = id;
        info.meta.head = 0;
        info.meta.count = kept;
        return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
    }
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < ltrim; i++) {
        rc = list_del(ctx, info.meta.id, info.meta.head + (int64_t)i);
    }
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < rtrim; i++) {
        rc = list_del(ctx, info.meta.id, info.meta.head + (int64_t)(info.meta.count - 1 - i));
    }
    if (ltrim + rtrim == 0) {
        return rc;
    }
    info.meta.head += (int64_t)ltrim;
    info.meta.count -= ltrim + rtrim;
    return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
}

/*
 * LREM k count v: the matching indexes (from the head for count >= 0, from the tail for
 * count < 0, at most |count|, 0 is all) are found first; then the survivors after the first
 * of them move down to close the gaps and the tail's now unused positions go.
 */
static int list_lrem(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    int64_t count = 0;
    if (!kv_arg_int64(&c->args[1], &count)) {
        return kv_res_err(r, kv_error_not_integer);
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_int(r, 0);
        return MDB_SUCCESS;
    }
    uint64_t len = info.meta.count;
    uint64_t limit = count == 0 ? len : count > 0 ? (uint64_t)count : (uint64_t)-(count + 1) + 1;
    bool *gone = kv_arena_alloc(ctx->arena, (size_t)len + 1);
    if (gone == NULL) {
        return ENOMEM;
    }
    memset(gone, 0, (size_t)len);
    uint64_t removed = 0, first = len;
    struct list_walk w;
    rc = list_walk_open(ctx, &info.meta, count < 0 ? len - 1 : 0, count < 0, &w);
    for (uint64_t step = 0; rc == MDB_SUCCESS && removed < limit;) {
        uint64_t i = count < 0 ? len - 1 - step : step;
        if (bytes_equal(&c->args[2], w.value.data, w.value.len)) {
            gone[i] = true;
            removed++;
            first = i < first ? i : first;
        }
        if (++step == len) {
            break;
        }
        rc = list_walk_next(&w);
    }
    list_walk_close(&w);
    uint64_t write = first;
    for (uint64_t read = first; rc == MDB_SUCCESS && read < len; read++) {
        if (gone[read]) {
            continue;
        }
        rc = list_move(ctx, &info.meta, read, info.meta.head + (int64_t)write);
        write++;
    }
    for (uint64_t i = write; rc == MDB_SUCCESS && i < len; i++) {
        rc = list_del(ctx, info.meta.id, info.meta.head + (int64_t)i);
    }
    kv_res_int(r, (int64_t)removed);
    if (rc != MDB_SUCCESS || removed == 0) {
        return rc;
    }
    info.meta.count = write;
    return kv_types_save(ctx, &info);
}

/* LINSERT k BEFORE|AFTER pivot v: the new length, -1 without the pivot, 0 without the key. */
static int list_linsert(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool after = kv_arg_is(&c->args[1], "AFTER");
    if (!after && !kv_arg_is(&c->args[1], "BEFORE")) {
        return kv_res_err(r, kv_error_syntax);
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (info.type == KV_TYPE_NONE) {
        kv_res_int(r, 0);
        return MDB_SUCCESS;
    }
    uint64_t len = info.meta.count, pivot = len;
    struct list_walk w;
    rc = list_walk_open(ctx, &info.meta, 0, false, &w);
    for (uint64_t i = 0; rc == MDB_SUCCESS;) {
        if (bytes_equal(&c->args[2], w.value.data, w.value.len)) {
            pivot = i;
            break;
        }
        if (++i == len) {
            break;
        }
        rc = list_walk_next(&w);
    }
    list_walk_close(&w);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (pivot == len) {
        kv_res_int(r, -1);
        return MDB_SUCCESS;
    }
    uint64_t at = after ? pivot + 1 : pivot; /* the new element's index */
    if (at < len - at) {
        /* The head side is shorter: elements 0 .. at - 1 move one position down. */
        for (uint64_t i = 0; rc == MDB_SUCCESS && i < at; i++) {
            rc = list_move(ctx, &info.meta, i, info.meta.head + (int64_t)i - 1);
        }
        info.meta.head--;
    } else {
        for (uint64_t i = len; rc == MDB_SUCCESS && i > at; i--) {
            rc = list_move(ctx, &info.meta, i - 1, info.meta.head + (int64_t)i);
        }
    }
    if (rc == MDB_SUCCESS) {
        rc = list_put(ctx, info.meta.id, info.meta.head + (int64_t)at, &c->args[3]);
    }
    info.meta.count++;
    kv_res_int(r, (int64_t)info.meta.count);
    return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
}

/* LPOS k v [RANK r] [COUNT n] [MAXLEN m], options checked first as Redis does. */
static int list_lpos(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    int64_t rank = 1, count = -1, maxlen = 0;
    for (uint32_t j = 2; j < c->arg_count; j++) {
        bool more = j + 1 < c->arg_count;
        if (kv_arg_is(&c->args[j], "RANK") && more) {
            j++;
            if (!kv_arg_int64(&c->args[j], &rank)) {
                return kv_res_err(r, kv_error_not_integer);
            }
            if (rank == 0) {
                return kv_res_err(r, "ERR RANK can't be zero: use 1 to start from the first match, "
                                     "2 from the second ... or use negative to start from the "
                                     "end of the list");
            }
        } else if (kv_arg_is(&c->args[j], "COUNT") && more) {
            j++;
            if (!kv_arg_int64(&c->args[j], &count) || count < 0) {
                return kv_res_err(r, "ERR COUNT can't be negative");
            }
        } else if (kv_arg_is(&c->args[j], "MAXLEN") && more) {
            j++;
            if (!kv_arg_int64(&c->args[j], &maxlen) || maxlen < 0) {
                return kv_res_err(r, "ERR MAXLEN can't be negative");
            }
        } else {
            return kv_res_err(r, kv_error_syntax);
        }
    }
    if (rank == INT64_MIN) {
        return kv_res_err(r, "ERR value is out of range, value must between "
                             "-9223372036854775807 and 9223372036854775807");
    }
    struct kv_key_info info;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &info, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    bool many = count != -1;
    if (info.type == KV_TYPE_NONE) {
        if (many) {
            return kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 0) != NULL ? MDB_SUCCESS : ENOMEM;
        }
        kv_res_set(r, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    bool backward = rank < 0;
    uint64_t skip = (uint64_t)(backward ? -rank : rank) - 1; /* matches passed over */
    uint64_t len = info.meta.count;
    uint64_t want = !many ? 1 : count == 0 ? len : (uint64_t)count;
    if (want > len) {
        want = len;
    }
    int64_t *found = kv_arena_alloc(ctx->arena, (size_t)want * sizeof *found + 1);
    if (found == NULL) {
        return ENOMEM;
    }
    uint64_t n = 0, matches = 0;
    struct list_walk w;
    rc = list_walk_open(ctx, &info.meta, backward ? len - 1 : 0, backward, &w);
    for (uint64_t step = 0; rc == MDB_SUCCESS && n < want;) {
        uint64_t i = backward ? len - 1 - step : step;
        if (bytes_equal(&c->args[1], w.value.data, w.value.len) && matches++ >= skip) {
            found[n++] = (int64_t)i;
        }
        if (++step == len || (maxlen != 0 && step >= (uint64_t)maxlen) || n == want) {
            break;
        }
        rc = list_walk_next(&w);
    }
    list_walk_close(&w);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (!many) {
        if (n == 0) {
            kv_res_set(r, KV_RESULT_NULL);
        } else {
            kv_res_int(r, found[0]);
        }
        return MDB_SUCCESS;
    }
    if (n > KV_REPLY_ELEMENTS_MAX) {
        return kv_res_err(r, kv_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n);
    if (out == NULL) {
        return ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        kv_res_int(&out[i], found[i]);
    }
    return MDB_SUCCESS;
}

/* LMOVE src dst LEFT|RIGHT LEFT|RIGHT and RPOPLPUSH src dst: the element moved, or null. */
static int list_lmove(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool from_left = false, to_left = true;
    if (c->op == KV_OP_LMOVE) {
        bool from_right = kv_arg_is(&c->args[2], "RIGHT"), to_right = kv_arg_is(&c->args[3], "RIGHT");
        from_left = kv_arg_is(&c->args[2], "LEFT");
        to_left = kv_arg_is(&c->args[3], "LEFT");
        if ((!from_left && !from_right) || (!to_left && !to_right)) {
            return kv_res_err(r, kv_error_syntax);
        }
    }
    struct kv_key_info src, dst;
    bool wrong = false;
    int rc = list_lookup(ctx, &c->args[0], &src, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (src.type == KV_TYPE_NONE) {
        kv_res_set(r, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    rc = list_lookup(ctx, &c->args[1], &dst, &wrong);
    if (rc != MDB_SUCCESS || wrong) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
    }
    if (c->args[1].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, kv_error_key_size);
    }
    bool same = bytes_equal(&c->args[0], c->args[1].data, c->args[1].len);
    /* An id for a new destination before any write: running out leaves src as it was. */
    if (!same && dst.type == KV_TYPE_NONE && !kv_types_create(ctx, &dst, KV_TYPE_LIST)) {
        return kv_res_err(r, kv_error_ids);
    }
    rc = list_pop_one(ctx, &src, from_left, r);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    struct kv_key_info *to = same ? &src : &dst;
    struct kv_bytes value = {.data = r->bulk, .len = r->bulk_len}; /* the arena's copy */
    int64_t position = to_left ? --to->meta.head : to->meta.head + (int64_t)to->meta.count;
    rc = list_put(ctx, to->meta.id, position, &value);
    to->meta.count++;
    if (rc == MDB_SUCCESS && !same) {
        rc = kv_types_save(ctx, &src);
    }
    return rc == MDB_SUCCESS ? kv_types_save(ctx, to) : rc;
}

/*
 * BLPOP's and BRPOP's attempt, k...: [key, element] from the first of the lists that has an
 * element, or a null array when none has (the node then waits for a push: node/blocking.c).
 * Keys are looked at in order, as Redis does: one holding another type answers WRONGTYPE
 * unless an earlier list had an element.
 */
static int list_bpop(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool left = c->op == KV_OP_BLPOP;
    for (uint32_t i = 0; i < c->arg_count; i++) {
        struct kv_key_info info;
        bool wrong = false;
        int rc = list_lookup(ctx, &c->args[i], &info, &wrong);
        if (rc != MDB_SUCCESS || wrong) {
            return rc != MDB_SUCCESS ? rc : kv_res_err(r, kv_error_wrongtype);
        }
        if (info.type == KV_TYPE_NONE) {
            continue;
        }
        struct kv_result *out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 2);
        if (out == NULL) {
            return ENOMEM;
        }
        rc = kv_res_bulk(ctx, &out[0], c->args[i].data, c->args[i].len);
        if (rc == MDB_SUCCESS) {
            rc = list_pop_one(ctx, &info, left, &out[1]);
        }
        return rc == MDB_SUCCESS ? kv_types_save(ctx, &info) : rc;
    }
    kv_res_set(r, KV_RESULT_NULL_ARRAY);
    return MDB_SUCCESS;
}

int kv_list_run(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    switch (c->op) {
    case KV_OP_LPUSH:
    case KV_OP_RPUSH:
    case KV_OP_LPUSHX:
    case KV_OP_RPUSHX:
        return list_push(ctx, c, r);
    case KV_OP_LPOP:
    case KV_OP_RPOP:
        return list_pop(ctx, c, r);
    case KV_OP_LLEN:
    case KV_OP_LINDEX:
        return list_lindex(ctx, c, r);
    case KV_OP_LRANGE:
        return list_lrange(ctx, c, r);
    case KV_OP_LSET:
        return list_lset(ctx, c, r);
    case KV_OP_LTRIM:
        return list_ltrim(ctx, c, r);
    case KV_OP_LREM:
        return list_lrem(ctx, c, r);
    case KV_OP_LINSERT:
        return list_linsert(ctx, c, r);
    case KV_OP_LPOS:
        return list_lpos(ctx, c, r);
    case KV_OP_LMOVE:
    case KV_OP_RPOPLPUSH:
        return list_lmove(ctx, c, r);
    case KV_OP_BLPOP:
    case KV_OP_BRPOP:
        return list_bpop(ctx, c, r);
    default:
        return kv_res_err(r, "ERR unknown command");
    }
}
