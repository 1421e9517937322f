/*
 * kv_zset_index.c — a sorted set's records (kv_zset.h; the layout is at the top of kv_zset.c):
 * the member records, the score index in Redis's order, and the index's block counts that
 * make ranks O(n / ZSET_BLOCK + ZSET_BLOCK).
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <xxhash.h>

#include "storage/kv_zset.h"

/* The order-preserving encoding: the sign bit flipped for positive numbers, every bit for
 * negative ones, so that unsigned comparison is numeric comparison (-inf first, +inf last). */
static uint64_t zset_score_order(double score)
{
    assert(!isnan(score));
    if (score == 0) {
        score = 0.0; /* -0 sorts, and is kept, as 0 */
    }
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    return (bits & (1ull << 63)) ? ~bits : bits | (1ull << 63);
}

static double zset_score_from_order(uint64_t order)
{
    uint64_t bits = (order & (1ull << 63)) ? order ^ (1ull << 63) : ~order;
    double score;
    memcpy(&score, &bits, sizeof score);
    return score;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* ---- the score index ---- */

/* The index key of (score, member) into key[ZSET_LONG_KEY_BYTES]; its length. A member
 * longer than ZSET_INLINE_BYTES is cut there and followed by its hash (unless `seek`, which
 * builds the smallest key of that score and prefix, to position a walk). */
size_t kv_zset_index_key(uint64_t id, double score, const struct kv_bytes *member, bool seek,
                         uint8_t *key)
{
    put_be64(key, kv_zset_index_id(id));
    put_be64(key + KV_ELEM_ID_BYTES, zset_score_order(score));
    size_t len = member->len < ZSET_INLINE_BYTES ? member->len : ZSET_INLINE_BYTES;
    if (len > 0) {
        memcpy(key + ZSET_PREFIX_BYTES, member->data, len);
    }
    if (member->len <= ZSET_INLINE_BYTES || seek) {
        return ZSET_PREFIX_BYTES + len;
    }
    put_be64(key + ZSET_PREFIX_BYTES + ZSET_INLINE_BYTES, XXH3_64bits(member->data, member->len));
    return ZSET_LONG_KEY_BYTES;
}


static int zidx_load(struct kv_zset_iter *it, int rc, const MDB_val *key, const MDB_val *record)
{
    it->valid = false;
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (key->mv_size < ZSET_PREFIX_BYTES || get_be64(key->mv_data) != kv_zset_index_id(it->id)) {
        return MDB_SUCCESS; /* past this set's index */
    }
    const uint8_t *k = key->mv_data;
    it->key = *key;
    it->score = zset_score_from_order(get_be64(k + KV_ELEM_ID_BYTES));
    if (key->mv_size == ZSET_LONG_KEY_BYTES) {
        if (record->mv_size <= ZSET_INLINE_BYTES) {
            return MDB_CORRUPTED;
        }
        it->member = (struct kv_bytes){.data = record->mv_data, .len = record->mv_size};
    } else {
        it->member = (struct kv_bytes){.data = k + ZSET_PREFIX_BYTES,
                                       .len = key->mv_size - ZSET_PREFIX_BYTES};
    }
    it->valid = true;
    return MDB_SUCCESS;
}

int kv_zset_iter_open(struct kv_zset_iter *it, struct kv_ctx *ctx, uint64_t id)
{
    *it = (struct kv_zset_iter){.ctx = ctx, .id = id};
    int rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &it->cursor);
    if (rc != MDB_SUCCESS) {
        it->cursor = NULL;
    }
    return rc;
}

void kv_zset_iter_close(struct kv_zset_iter *it)
{
    if (it->cursor != NULL) {
        mdb_cursor_close(it->cursor);
    }
    it->cursor = NULL;
    it->valid = false;
}

/* Positions on the first record >= seek, or (before) on the last record < seek. */
int kv_zset_iter_position(struct kv_zset_iter *it, const uint8_t *seek, size_t len, bool before)
{
    MDB_val key = {.mv_size = len, .mv_data = (void *)seek}, record;
    int rc = mdb_cursor_get(it->cursor, &key, &record, MDB_SET_RANGE);
    if (before && rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(it->cursor, &key, &record, MDB_LAST);
    } else if (before && rc == MDB_SUCCESS) {
        rc = mdb_cursor_get(it->cursor, &key, &record, MDB_PREV);
    }
    return zidx_load(it, rc, &key, &record);
}

int kv_zset_iter_first(struct kv_zset_iter *it)
{
    uint8_t seek[KV_ELEM_ID_BYTES];
    put_be64(seek, kv_zset_index_id(it->id));
    return kv_zset_iter_position(it, seek, sizeof seek, false);
}

int kv_zset_iter_last(struct kv_zset_iter *it)
{
    uint8_t seek[KV_ELEM_ID_BYTES];
    put_be64(seek, kv_zset_index_id(it->id) + 1);
    return kv_zset_iter_position(it, seek, sizeof seek, true);
}

/* One step towards higher scores, or lower (reverse). */
int kv_zset_iter_step(struct kv_zset_iter *it, bool reverse)
{
    assert(it->valid);
    MDB_val key, record;
    int rc = mdb_cursor_get(it->cursor, &key, &record, reverse ? MDB_PREV : MDB_NEXT);
    return zidx_load(it, rc, &key, &record);
}

/* The first element of score >= s (after: > s), or (before) the last one below it. */
int kv_zset_iter_seek_score(struct kv_zset_iter *it, double s, bool after, bool before)
{
    if (after && s == INFINITY) {
        return before ? kv_zset_iter_last(it) : (it->valid = false, MDB_SUCCESS);
    }
    if (after) {
        s = nextafter(s == 0 ? 0.0 : s, INFINITY);
    }
    uint8_t seek[ZSET_PREFIX_BYTES];
    put_be64(seek, kv_zset_index_id(it->id));
    put_be64(seek + KV_ELEM_ID_BYTES, zset_score_order(s));
    return kv_zset_iter_position(it, seek, sizeof seek, before);
}

/* ---- block counts (ranks) ---- */

static bool zblock_is(const MDB_val *key, uint64_t id)
{
    return key->mv_size >= KV_ELEM_ID_BYTES && get_be64(key->mv_data) == kv_zset_block_id(id);
}

/* A block's key from an index key: the block id, then the index key's score and member. */
static size_t zblock_key(uint64_t id, const uint8_t *index_key, size_t len, uint8_t *out)
{
    assert(len >= KV_ELEM_ID_BYTES && len <= KV_ENCODED_KEY_BYTES_MAX);
    put_be64(out, kv_zset_block_id(id));
    memcpy(out + KV_ELEM_ID_BYTES, index_key + KV_ELEM_ID_BYTES, len - KV_ELEM_ID_BYTES);
    return len;
}

static int zblock_put(struct kv_ctx *ctx, const uint8_t *key, size_t len, uint64_t count)
{
    uint8_t bytes[8];
    kv_put_le64(bytes, count);
    MDB_val k = {.mv_size = len, .mv_data = (void *)key};
    MDB_val v = {.mv_size = sizeof bytes, .mv_data = bytes};
    *ctx->written += len + sizeof bytes;
    return mdb_put(ctx->txn, ctx->kv->elems_dbi, &k, &v, 0);
}

static int zblock_del(struct kv_ctx *ctx, const uint8_t *key, size_t len)
{
    MDB_val k = {.mv_size = len, .mv_data = (void *)key};
    *ctx->written += len;
    int rc = mdb_del(ctx->txn, ctx->kv->elems_dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* A new sorted set's first block (no entry yet). */
int kv_zset_blocks_init(struct kv_ctx *ctx, uint64_t id)
{
    uint8_t key[ZSET_FIRST_BLOCK_BYTES] = {0};
    put_be64(key, kv_zset_block_id(id));
    return zblock_put(ctx, key, sizeof key, 0);
}

/* An emptied sorted set's first block goes with it (a set made before blocks has none). */
static int zblock_drop(struct kv_ctx *ctx, uint64_t id)
{
    uint8_t key[ZSET_FIRST_BLOCK_BYTES] = {0};
    put_be64(key, kv_zset_block_id(id));
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    int rc = mdb_del(ctx->txn, ctx->kv->elems_dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Positions c on the block of an index key (the last block key <= its own). *found false:
 * the set keeps no blocks. */
static int zblock_seek(MDB_cursor *c, uint64_t id, const uint8_t *index_key, size_t len,
                       MDB_val *key, MDB_val *record, bool *found)
{
    uint8_t seek[KV_ENCODED_KEY_BYTES_MAX];
    size_t seek_len = zblock_key(id, index_key, len, seek);
    *key = (MDB_val){.mv_size = seek_len, .mv_data = seek};
    int rc = mdb_cursor_get(c, key, record, MDB_SET_RANGE);
    bool exact = rc == MDB_SUCCESS && key->mv_size == seek_len &&
                 memcmp(key->mv_data, seek, seek_len) == 0;
    if (rc == MDB_SUCCESS && !exact) {
        rc = mdb_cursor_get(c, key, record, MDB_PREV);
    } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(c, key, record, MDB_LAST);
    }
    *found = rc == MDB_SUCCESS && zblock_is(key, id);
    if (*found && record->mv_size != 8) {
        return MDB_CORRUPTED;
    }
    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Positions the walk on a block's first entry (or past it when the block is empty). */
static int zidx_block_start(struct kv_zset_iter *it, const uint8_t *block, size_t len)
{
    uint8_t seek[KV_ENCODED_KEY_BYTES_MAX];
    put_be64(seek, kv_zset_index_id(it->id));
    memcpy(seek + KV_ELEM_ID_BYTES, block + KV_ELEM_ID_BYTES, len - KV_ELEM_ID_BYTES);
    return kv_zset_iter_position(it, seek, len, false);
}

/* Cuts a block of count > ZSET_BLOCK_MAX entries after its first ZSET_BLOCK. */
static int zblock_split(struct kv_ctx *ctx, uint64_t id, const uint8_t *block, size_t len,
                        uint64_t count)
{
    assert(count > ZSET_BLOCK_MAX);
    struct kv_zset_iter it;
    int rc = kv_zset_iter_open(&it, ctx, id);
    if (rc == MDB_SUCCESS) {
        rc = zidx_block_start(&it, block, len);
    }
    for (uint32_t i = 0; rc == MDB_SUCCESS && it.valid && i < ZSET_BLOCK; i++) {
        rc = kv_zset_iter_step(&it, false);
    }
    if (rc == MDB_SUCCESS && !it.valid) {
        rc = MDB_CORRUPTED; /* the count says there are more */
    }
    uint8_t next[KV_ENCODED_KEY_BYTES_MAX];
    size_t next_len = rc == MDB_SUCCESS ? zblock_key(id, it.key.mv_data, it.key.mv_size, next) : 0;
    kv_zset_iter_close(&it);
    if (rc == MDB_SUCCESS) {
        rc = zblock_put(ctx, block, len, ZSET_BLOCK);
    }
    return rc == MDB_SUCCESS ? zblock_put(ctx, next, next_len, count - ZSET_BLOCK) : rc;
}

/* Counts an index entry in (delta 1) or out (-1) of its block, after the index record was
 * put (or before or after it was deleted): splits a full block, merges a small one with its
 * successor, drops an emptied one (but the first). */
static int zblock_adjust(struct kv_ctx *ctx, uint64_t id, const uint8_t *index_key, size_t len,
                         int delta)
{
    assert(delta == 1 || delta == -1);
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &c);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    MDB_val key, record;
    bool found = false;
    rc = zblock_seek(c, id, index_key, len, &key, &record, &found);
    uint8_t block[KV_ENCODED_KEY_BYTES_MAX], next[KV_ENCODED_KEY_BYTES_MAX];
    size_t block_len = 0, next_len = 0;
    uint64_t count = 0, next_count = 0;
    if (rc == MDB_SUCCESS && found) {
        block_len = key.mv_size;
        memcpy(block, key.mv_data, block_len);
        count = kv_get_le64(record.mv_data);
        if (delta < 0 && count == 0) {
            rc = MDB_CORRUPTED;
        }
        count = delta > 0 ? count + 1 : count - 1;
    }
    if (rc == MDB_SUCCESS && found && delta < 0 && count < ZSET_BLOCK_MERGE) {
        rc = mdb_cursor_get(c, &key, &record, MDB_NEXT);
        if (rc == MDB_SUCCESS && zblock_is(&key, id) && record.mv_size == 8) {
            next_len = key.mv_size;
            memcpy(next, key.mv_data, next_len);
            next_count = kv_get_le64(record.mv_data);
        }
        rc = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    }
    bool moved = delta < 0 && count < ZSET_BLOCK_MERGE; /* the cursor looked at the next */
    bool in_place = rc == MDB_SUCCESS && found && !moved && count > 0 &&
                    count <= ZSET_BLOCK_MAX;
    if (in_place) {
        /* The common case: the count is rewritten where the seek left the cursor, without
         * a second descent (LMDB overwrites a same-size record in place, after copying the
         * page on its first write in the txn). */
        uint8_t bytes[8];
        kv_put_le64(bytes, count);
        MDB_val k = {.mv_size = block_len, .mv_data = block};
        MDB_val v = {.mv_size = sizeof bytes, .mv_data = bytes};
        *ctx->written += block_len + sizeof bytes;
        rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT);
    }
    mdb_cursor_close(c);
    if (rc != MDB_SUCCESS || !found || in_place) {
        return rc;
    }
    if (next_len > 0 && count + next_count <= ZSET_BLOCK_MAX) {
        rc = zblock_del(ctx, next, next_len);
        count += next_count;
    }
    if (rc == MDB_SUCCESS && count == 0 && block_len > ZSET_FIRST_BLOCK_BYTES) {
        return zblock_del(ctx, block, block_len);
    }
    if (rc == MDB_SUCCESS) {
        rc = zblock_put(ctx, block, block_len, count);
    }
    if (rc == MDB_SUCCESS && count > ZSET_BLOCK_MAX) {
        rc = zblock_split(ctx, id, block, block_len, count);
    }
    return rc;
}

/*
 * Finds the block holding forward rank `rank` from the block counts, walking them from the
 * nearer end; positions it at the entry. *counted false: the set keeps no blocks.
 */
static int zidx_seek_rank_counted(struct kv_zset_iter *it, uint64_t count, uint64_t rank,
                                  bool *counted)
{
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(it->ctx->txn, it->ctx->kv->elems_dbi, &c);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    bool backward = rank >= count / 2;
    uint64_t target = backward ? count - 1 - rank : rank; /* counted from the walk's end */
    uint8_t seek[KV_ELEM_ID_BYTES];
    put_be64(seek, kv_zset_block_id(it->id) + (backward ? 1 : 0));
    MDB_val key = {.mv_size = sizeof seek, .mv_data = seek}, record;
    rc = mdb_cursor_get(c, &key, &record, MDB_SET_RANGE);
    if (backward) {
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &key, &record, MDB_LAST)
             : rc == MDB_SUCCESS ? mdb_cursor_get(c, &key, &record, MDB_PREV) : rc;
    }
    *counted = rc == MDB_SUCCESS && zblock_is(&key, it->id);
    uint64_t before = 0, in_block = 0;
    uint8_t block[KV_ENCODED_KEY_BYTES_MAX];
    size_t block_len = 0;
    for (uint64_t blocks = 0; rc == MDB_SUCCESS && *counted; blocks++) {
        if (!zblock_is(&key, it->id) || record.mv_size != 8 || blocks > count) {
            rc = MDB_CORRUPTED; /* the counts sum to less than the set's size */
            break;
        }
        uint64_t n = kv_get_le64(record.mv_data);
        if (before + n > target) {
            in_block = backward ? n - 1 - (target - before) : target - before;
            block_len = key.mv_size;
            memcpy(block, key.mv_data, block_len);
            break;
        }
        before += n;
        rc = mdb_cursor_get(c, &key, &record, backward ? MDB_PREV : MDB_NEXT);
        rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }
    mdb_cursor_close(c);
    if (rc != MDB_SUCCESS || !*counted) {
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    }
    rc = zidx_block_start(it, block, block_len);
    for (uint64_t i = 0; rc == MDB_SUCCESS && it->valid && i < in_block; i++) {
        rc = kv_zset_iter_step(it, false);
    }
    return rc == MDB_SUCCESS && !it->valid ? MDB_CORRUPTED : rc;
}

/* The element of rank `rank` counted from the lowest (from the highest when reverse): walked
 * to from the nearer end when that is within a block's length, else found by the block
 * counts (walked from the nearer end for a set without them). */
int kv_zset_iter_seek_rank(struct kv_zset_iter *it, uint64_t count, uint64_t rank, bool reverse)
{
    assert(rank < count);
    uint64_t forward = reverse ? count - 1 - rank : rank;
    uint64_t from_end_steps = count - 1 - forward;
    if (forward >= ZSET_BLOCK && from_end_steps >= ZSET_BLOCK) {
        bool counted = false;
        int rc = zidx_seek_rank_counted(it, count, forward, &counted);
        if (rc != MDB_SUCCESS || counted) {
            return rc;
        }
    }
    bool from_end = forward > from_end_steps;
    int rc = from_end ? kv_zset_iter_last(it) : kv_zset_iter_first(it);
    uint64_t steps = from_end ? from_end_steps : forward;
    for (uint64_t i = 0; rc == MDB_SUCCESS && it->valid && i < steps; i++) {
        rc = kv_zset_iter_step(it, from_end);
    }
    if (rc == MDB_SUCCESS && !it->valid) {
        rc = MDB_CORRUPTED; /* the count says there are more */
    }
    return rc;
}

/* ---- members ---- */

int kv_zset_score_get(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member,
                      bool *found, double *score)
{
    struct kv_bytes value = {0};
    int rc = kv_elem_get(ctx->kv, ctx->txn, id, member, &value, found);
    if (rc != MDB_SUCCESS || !*found) {
        return rc;
    }
    if (value.len != ZSET_SCORE_BYTES) {
        return MDB_CORRUPTED;
    }
    uint64_t bits = kv_get_le64(value.data);
    memcpy(score, &bits, sizeof *score);
    return MDB_SUCCESS;
}

/* A member's record and its index entry, without their block count. */
int kv_zset_put_records(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member,
                        double score)
{
    assert(member->len <= KV_ELEMENT_BYTES_MAX && !isnan(score));
    if (score == 0) {
        score = 0.0; /* -0 is kept as 0 */
    }
    uint8_t raw[ZSET_SCORE_BYTES];
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    kv_put_le64(raw, bits);
    struct kv_bytes value = {.data = raw, .len = sizeof raw};
    int rc = kv_elem_put(ctx->kv, ctx->txn, id, member, &value);
    if (rc == MDB_SUCCESS) {
        uint8_t key[ZSET_LONG_KEY_BYTES];
        MDB_val k = {.mv_size = kv_zset_index_key(id, score, member, false, key), .mv_data = key};
        bool long_member = k.mv_size == ZSET_LONG_KEY_BYTES;
        MDB_val record = {.mv_size = long_member ? member->len : 0,
                          .mv_data = long_member ? (void *)member->data : NULL};
        rc = mdb_put(ctx->txn, ctx->kv->elems_dbi, &k, &record, 0);
    }
    *ctx->written += 2 * member->len + 48;
    return rc;
}

/* Whether two index keys fall in the same block (the last block key <= each is the same
 * one); true too for a set that keeps no blocks, where there is nothing to count. */
static int zblock_same(struct kv_ctx *ctx, uint64_t id, const uint8_t *a, size_t a_len,
                       const uint8_t *b, size_t b_len, bool *same)
{
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &c);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    MDB_val key, record;
    bool found = false;
    uint8_t block[KV_ENCODED_KEY_BYTES_MAX];
    size_t block_len = 0;
    rc = zblock_seek(c, id, a, a_len, &key, &record, &found);
    *same = rc == MDB_SUCCESS && !found;
    if (rc == MDB_SUCCESS && found) {
        block_len = key.mv_size;
        memcpy(block, key.mv_data, block_len);
        rc = zblock_seek(c, id, b, b_len, &key, &record, &found);
        *same = rc == MDB_SUCCESS && found && key.mv_size == block_len &&
                memcmp(key.mv_data, block, block_len) == 0;
    }
    mdb_cursor_close(c);
    return rc;
}

/* Sets member's score (had: it was in the set with score `old`): its record, its index
 * entry and the block counts. A member rescored within its block changes no count: the
 * block records (two seeks on pages every such command keeps in cache) are only read. */
int kv_zset_write(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member, bool had,
                  double old, double score)
{
    uint8_t key[ZSET_LONG_KEY_BYTES], new_key[ZSET_LONG_KEY_BYTES];
    size_t new_len = kv_zset_index_key(id, score == 0 ? 0.0 : score, member, false, new_key);
    int rc = MDB_SUCCESS;
    bool same_block = false;
    if (had) {
        MDB_val k = {.mv_size = kv_zset_index_key(id, old, member, false, key), .mv_data = key};
        rc = zblock_same(ctx, id, key, k.mv_size, new_key, new_len, &same_block);
        if (rc == MDB_SUCCESS) {
            rc = mdb_del(ctx->txn, ctx->kv->elems_dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        }
        if (rc == MDB_SUCCESS && !same_block) {
            rc = zblock_adjust(ctx, id, key, k.mv_size, -1);
        }
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_zset_put_records(ctx, id, member, score);
    }
    if (rc == MDB_SUCCESS && !same_block) {
        rc = zblock_adjust(ctx, id, new_key, new_len, 1);
    }
    return rc;
}

int kv_zset_remove(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member, double score)
{
    bool deleted = false;
    int rc = kv_elem_del(ctx->kv, ctx->txn, id, member, &deleted);
    if (rc == MDB_SUCCESS && !deleted) {
        rc = MDB_CORRUPTED;
    }
    uint8_t key[ZSET_LONG_KEY_BYTES];
    MDB_val k = {.mv_size = kv_zset_index_key(id, score, member, false, key), .mv_data = key};
    if (rc == MDB_SUCCESS) {
        rc = mdb_del(ctx->txn, ctx->kv->elems_dbi, &k, NULL);
        rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    }
    if (rc == MDB_SUCCESS) {
        rc = zblock_adjust(ctx, id, key, k.mv_size, -1);
    }
    *ctx->written += 2 * member->len + 32;
    return rc;
}

/* Saves the metadata after a change; an emptied set's first block goes with it. */
int kv_zset_save(struct kv_ctx *ctx, struct kv_key_info *info)
{
    int rc = info->meta.count == 0 ? zblock_drop(ctx, info->meta.id) : MDB_SUCCESS;
    return rc == MDB_SUCCESS ? kv_types_save(ctx, info) : rc;
}

/* A member's rank from the block counts: those of the blocks before its own, walked, and
 * its place in its block. *counted false: the set keeps no blocks. */
static int zset_rank_counted(struct kv_ctx *ctx, uint64_t id, const uint8_t *index_key,
                             size_t len, uint64_t *rank, bool *counted)
{
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(ctx->txn, ctx->kv->elems_dbi, &c);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    MDB_val key, record;
    rc = zblock_seek(c, id, index_key, len, &key, &record, counted);
    uint8_t block[KV_ENCODED_KEY_BYTES_MAX];
    size_t block_len = *counted ? key.mv_size : 0;
    if (*counted) {
        memcpy(block, key.mv_data, block_len);
    }
    uint64_t before = 0;
    while (rc == MDB_SUCCESS && *counted) {
        rc = mdb_cursor_get(c, &key, &record, MDB_PREV);
        if (rc != MDB_SUCCESS || !zblock_is(&key, id)) {
            break;
        }
        if (record.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        before += kv_get_le64(record.mv_data);
    }
    mdb_cursor_close(c);
    rc = rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    if (rc != MDB_SUCCESS || !*counted) {
        return rc;
    }
    struct kv_zset_iter it;
    rc = kv_zset_iter_open(&it, ctx, id);
    if (rc == MDB_SUCCESS) {
        rc = zidx_block_start(&it, block, block_len);
    }
    uint64_t steps = 0;
    while (rc == MDB_SUCCESS && it.valid &&
           !(it.key.mv_size == len && memcmp(it.key.mv_data, index_key, len) == 0)) {
        rc = kv_zset_iter_step(&it, false);
        steps++;
    }
    if (rc == MDB_SUCCESS && !it.valid) {
        rc = MDB_CORRUPTED; /* the member's index entry is missing */
    }
    kv_zset_iter_close(&it);
    *rank = before + steps;
    return rc;
}

/* A member's rank: walks from it towards both ends at once, which is quick near either end;
 * past a block's length it asks the block counts (a set without them is walked on). */
int kv_zset_rank(struct kv_ctx *ctx, const struct kv_coll_meta *meta,
                 const struct kv_bytes *member, double score, uint64_t *rank)
{
    uint8_t key[ZSET_LONG_KEY_BYTES];
    size_t len = kv_zset_index_key(meta->id, score, member, false, key);
    struct kv_zset_iter down, up;
    int rc = kv_zset_iter_open(&down, ctx, meta->id);
    int rc_up = kv_zset_iter_open(&up, ctx, meta->id);
    rc = rc != MDB_SUCCESS ? rc : rc_up;
    if (rc == MDB_SUCCESS) {
        rc = kv_zset_iter_position(&down, key, len, false);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_zset_iter_position(&up, key, len, false);
    }
    if (rc == MDB_SUCCESS && !down.valid) {
        rc = MDB_CORRUPTED;
    }
    bool counted = false;
    for (uint64_t i = 1; rc == MDB_SUCCESS; i++) {
        if (i == ZSET_BLOCK) {
            rc = zset_rank_counted(ctx, meta->id, key, len, rank, &counted);
            if (rc != MDB_SUCCESS || counted) {
                break;
            }
        }
        rc = kv_zset_iter_step(&down, true);
        if (rc == MDB_SUCCESS && !down.valid) {
            *rank = i - 1;
            break;
        }
        if (rc == MDB_SUCCESS) {
            rc = kv_zset_iter_step(&up, false);
        }
        if (rc == MDB_SUCCESS && !up.valid) {
            *rank = meta->count - i;
            break;
        }
    }
    kv_zset_iter_close(&down);
    kv_zset_iter_close(&up);
    return rc;
}

/* The block counts of a set whose index was just written whole: a block every ZSET_BLOCK
 * entries, found by one walk (the keys copied out before any write). */
int kv_zset_blocks_build(struct kv_ctx *ctx, uint64_t id, uint64_t count)
{
    assert(count > 0);
    uint64_t cuts = (count - 1) / ZSET_BLOCK; /* blocks after the first */
    uint8_t *keys = kv_arena_alloc(ctx->arena, (size_t)cuts * KV_ENCODED_KEY_BYTES_MAX + 1);
    size_t *lens = kv_arena_alloc(ctx->arena, (size_t)cuts * sizeof *lens + 1);
    if (keys == NULL || lens == NULL) {
        return ENOMEM;
    }
    struct kv_zset_iter it;
    int rc = kv_zset_iter_open(&it, ctx, id);
    if (rc == MDB_SUCCESS) {
        rc = kv_zset_iter_first(&it);
    }
    uint64_t seen = 0;
    for (; rc == MDB_SUCCESS && it.valid; seen++) {
        if (seen > 0 && seen % ZSET_BLOCK == 0) {
            uint64_t j = seen / ZSET_BLOCK - 1;
            assert(j < cuts);
            lens[j] = zblock_key(id, it.key.mv_data, it.key.mv_size,
                                 keys + j * KV_ENCODED_KEY_BYTES_MAX);
        }
        rc = kv_zset_iter_step(&it, false);
    }
    kv_zset_iter_close(&it);
    if (rc == MDB_SUCCESS && seen != count) {
        rc = MDB_CORRUPTED;
    }
    uint8_t first[ZSET_FIRST_BLOCK_BYTES] = {0};
    put_be64(first, kv_zset_block_id(id));
    if (rc == MDB_SUCCESS) {
        rc = zblock_put(ctx, first, sizeof first, count < ZSET_BLOCK ? count : ZSET_BLOCK);
    }
    for (uint64_t j = 0; rc == MDB_SUCCESS && j < cuts; j++) {
        uint64_t left = count - (j + 1) * ZSET_BLOCK;
        rc = zblock_put(ctx, keys + j * KV_ENCODED_KEY_BYTES_MAX, lens[j],
                        left < ZSET_BLOCK ? left : ZSET_BLOCK);
    }
    return rc;
}

