/*
 * kv_zset.c — the sorted set commands, as Redis 7.0's t_zset.c answers them (parsing, checks
 * and error texts in its order, so that replies match byte for byte: tests/redis_diff).
 *
 * A sorted set is a collection (kv_coll.h) with two kinds of records in the elements DB:
 *   - its members, under the collection's id and the member's hash as a set's are (so that
 *     ZSCORE, ZADD's lookup, ZRANDMEMBER and ZSCAN work as for sets), each record holding the
 *     score as 8 bytes (the double's bits, little-endian);
 *   - its score index, under the index id (kv_zset_index_id: the id with bit 63 set, which no
 *     collection id has) followed by the score encoded so that LMDB's byte order is Redis's
 *     score order (zset_score_order) and then the member's bytes. Ties therefore order by
 *     member bytes, as Redis's skiplist does, and a score range or a pop is a seek plus a walk:
 *     O(log n + k).
 * A member longer than ZSET_INLINE_BYTES keeps its first ZSET_INLINE_BYTES bytes and its
 * 64-bit hash in the index key (the key must fit LMDB's limit) and its full bytes in the
 * record: two long members of the same score that share their first 476 bytes order by hash,
 * not by their remaining bytes (a documented divergence from Redis).
 *
 * Scores: -0 is stored as 0, as Redis 7.0 does for every sorted set of up to 128 members
 * (its listpack encoding keeps the score as text, and "-0" reads back as the integer 0).
 * Replies format a score as Redis 7.0's addReplyDouble does: "%.17g", "inf" and "-inf".
 *
 * Rank: LMDB keeps no counts in its tree, so the index is cut into blocks of consecutive
 * entries, each with a count record under the set's block id (kv_zset_block_id), keyed by the
 * index key (after the id) of its first entry; the first block's key is below every other
 * (ZSET_FIRST_BLOCK_BYTES), so every entry has a block: the last block key <= its own. ZADD
 * and ZREM update one count (O(log n); a rescoring within one block none); a block past ZSET_BLOCK_MAX entries splits in two (a
 * walk of ZSET_BLOCK, once per ZSET_BLOCK inserts at least), one below ZSET_BLOCK_MERGE takes
 * in its successor when both fit. A rank
 * is then the counts of the blocks before (or after) plus a walk inside one block:
 * O(n / ZSET_BLOCK + ZSET_BLOCK) instead of O(n), and ranks near either end are walked
 * directly. A sorted set without a first block record (none is made by this version) is
 * walked from the nearer end. ZCOUNT and ZLEXCOUNT walk their range: O(log n + k).
 *
 * kv_zset_index.c keeps these records (kv_zset.h); this file has the commands.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "storage/kv_command.h"
#include "storage/kv_zset.h"

static const char zset_error_syntax[] = "ERR syntax error";
static const char zset_error_not_integer[] = "ERR value is not an integer or out of range";
static const char zset_error_float[] = "ERR value is not a valid float";
static const char zset_error_range[] = "ERR min or max is not a float";
static const char zset_error_lex[] = "ERR min or max not valid string range item";
static const char zset_error_nan[] = "ERR resulting score is not a number (NaN)";
static const char zset_error_element_size[] = "ERR element too large for chorus (max 4096 bytes)";
static const char zset_error_key_size[] = "ERR key too large (max 4096 bytes)";
static const char zset_error_ids[] = "ERR too many collections created in one transaction";
static const char zset_error_reply_size[] =
    "ERR reply too large for chorus (at most 1048576 elements: use ZSCAN or a LIMIT)";
/* A removal of more elements than one command may write (the bound of a STORE's result). */
static const char zset_error_remove_size[] =
    "ERR range too large for chorus (at most 1048576 elements removed by one command)";

/* ---- scores ---- */

/* Redis's addReplyDouble (RESP2 text): "%.17g", with inf spelled as Redis does everywhere. */
static size_t zset_format_score(double score, char *buf, size_t cap)
{
    assert(cap >= ZSET_SCORE_TEXT_BYTES);
    int n = isinf(score) ? snprintf(buf, cap, "%s", score > 0 ? "inf" : "-inf")
                         : snprintf(buf, cap, "%.17g", score);
    assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static int res_score(struct kv_ctx *ctx, struct kv_result *r, double score)
{
    char text[ZSET_SCORE_TEXT_BYTES];
    size_t len = zset_format_score(score, text, sizeof text);
    int rc = kv_res_bulk(ctx, r, (const uint8_t *)text, len);
    r->type = KV_RESULT_DOUBLE;
    return rc;
}

/* A NUL-terminated copy of an argument in the arena (strtod needs one). */
static const char *arg_text(struct kv_ctx *ctx, const struct kv_bytes *arg)
{
    char *text = kv_arena_alloc(ctx->arena, arg->len + 1);
    if (text != NULL) {
        memcpy(text, arg->data, arg->len);
        text[arg->len] = '\0';
    }
    return text;
}

/* Redis's string2d (getDoubleFromObject): the whole argument, no leading space, no NaN, no
 * overflow. *ok false: not a float; returns ENOMEM when the copy fails. */
static int arg_double(struct kv_ctx *ctx, const struct kv_bytes *arg, double *out, bool *ok)
{
    *ok = false;
    const char *text = arg_text(ctx, arg);
    if (text == NULL) {
        return ENOMEM;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (arg->len == 0 || isspace((unsigned char)text[0]) || (size_t)(end - text) != arg->len ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v)) {
        return MDB_SUCCESS;
    }
    *out = v;
    *ok = true;
    return MDB_SUCCESS;
}

/* ---- ranges ---- */

struct zrange_score {
    double min, max;
    bool minex, maxex;
};

/* A lex bound: its bytes, or -1 for "-" and +1 for "+". */
struct zlex_bound {
    struct kv_bytes bytes;
    int infinite;
    bool ex;
};
struct zrange_lex {
    struct zlex_bound min, max;
};

/* zslParseRange's item: "(" for exclusive, then strtod over the C string. */
static int parse_score_item(struct kv_ctx *ctx, const struct kv_bytes *arg, double *v, bool *ex,
                            bool *ok)
{
    const char *text = arg_text(ctx, arg);
    if (text == NULL) {
        return ENOMEM;
    }
    *ex = text[0] == '(';
    char *end = NULL;
    *v = strtod(text + (*ex ? 1 : 0), &end);
    *ok = end[0] == '\0' && !isnan(*v);
    return MDB_SUCCESS;
}

static int parse_score_range(struct kv_ctx *ctx, const struct kv_bytes *min,
                             const struct kv_bytes *max, struct zrange_score *range, bool *ok)
{
    int rc = parse_score_item(ctx, min, &range->min, &range->minex, ok);
    if (rc == MDB_SUCCESS && *ok) {
        rc = parse_score_item(ctx, max, &range->max, &range->maxex, ok);
    }
    return rc;
}

/* zslParseLexRangeItem: "+", "-", "(bytes" or "[bytes" (Redis reads the first two as C
 * strings, so "+" followed by a NUL byte is "+"). */
static bool parse_lex_item(const struct kv_bytes *arg, struct zlex_bound *b)
{
    *b = (struct zlex_bound){0};
    if (arg->len == 0) {
        return false;
    }
    switch (arg->data[0]) {
    case '+':
    case '-':
        if (arg->len > 1 && arg->data[1] != '\0') {
            return false;
        }
        b->infinite = arg->data[0] == '+' ? 1 : -1;
        b->ex = true;
        return true;
    case '(':
    case '[':
        b->ex = arg->data[0] == '(';
        b->bytes = (struct kv_bytes){.data = arg->data + 1, .len = arg->len - 1};
        return true;
    default:
        return false;
    }
}

static bool parse_lex_range(const struct kv_bytes *min, const struct kv_bytes *max,
                            struct zrange_lex *range)
{
    return parse_lex_item(min, &range->min) && parse_lex_item(max, &range->max);
}

/* sdscmp: bytes, then length. */
static int lex_cmp(const struct kv_bytes *a, const struct kv_bytes *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n > 0 ? memcmp(a->data, b->data, n) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static bool lex_gte_min(const struct kv_bytes *m, const struct zlex_bound *min)
{
    if (min->infinite != 0) {
        return min->infinite < 0;
    }
    int c = lex_cmp(m, &min->bytes);
    return min->ex ? c > 0 : c >= 0;
}

static bool lex_lte_max(const struct kv_bytes *m, const struct zlex_bound *max)
{
    if (max->infinite != 0) {
        return max->infinite > 0;
    }
    int c = lex_cmp(m, &max->bytes);
    return max->ex ? c < 0 : c <= 0;
}

static bool score_gte_min(double s, const struct zrange_score *r)
{
    return r->minex ? s > r->min : s >= r->min;
}

static bool score_lte_max(double s, const struct zrange_score *r)
{
    return r->maxex ? s < r->max : s <= r->max;
}

/* Looks up a sorted set key: *stop when the reply is made (WRONGTYPE). */
static int zset_lookup(struct kv_ctx *ctx, const struct kv_bytes *key, struct kv_key_info *info,
                       struct kv_result *r, bool *stop)
{
    bool wrong = false;
    int rc = kv_types_key_get(ctx, key, KV_TYPE_ZSET, info, &wrong);
    *stop = rc != MDB_SUCCESS || wrong;
    if (rc == MDB_SUCCESS && wrong) {
        kv_res_err(r, kv_error_wrongtype);
    }
    return rc;
}

/* An element copied out of the txn, for results and for writes after a walk. */
struct zitem {
    struct kv_bytes member;
    double score;
};

static int zitem_copy(struct kv_ctx *ctx, struct zitem *item, const struct kv_bytes *member,
                      double score)
{
    const uint8_t *copy = kv_arena_copy(ctx->arena, member->data, member->len);
    if (copy == NULL && member->len > 0) {
        return ENOMEM;
    }
    item->member = (struct kv_bytes){.data = copy != NULL ? copy : (const uint8_t *)"",
                                     .len = member->len};
    item->score = score;
    return MDB_SUCCESS;
}

/* ---- ZADD, ZINCRBY, ZREM ---- */

enum {
    ZADD_NX = 1 << 0,
    ZADD_XX = 1 << 1,
    ZADD_GT = 1 << 2,
    ZADD_LT = 1 << 3,
    ZADD_CH = 1 << 4,
    ZADD_INCR = 1 << 5,
};

/* zaddGenericCommand's options, from args[1] on; returns the index of the first score. */
static uint32_t zadd_options(const struct kv_command *c, int *flags)
{
    static const struct {
        const char *word;
        int flag;
    } options[] = {{"nx", ZADD_NX}, {"xx", ZADD_XX}, {"ch", ZADD_CH},
                   {"incr", ZADD_INCR}, {"gt", ZADD_GT}, {"lt", ZADD_LT}};
    uint32_t i = 1;
    for (; i < c->arg_count; i++) {
        int flag = 0;
        for (size_t j = 0; j < sizeof options / sizeof options[0] && flag == 0; j++) {
            if (kv_arg_is(&c->args[i], options[j].word)) {
                flag = options[j].flag;
            }
        }
        if (flag == 0) {
            break;
        }
        *flags |= flag;
    }
    return i;
}

static const char *zadd_check(int flags, uint32_t elements)
{
    bool nx = flags & ZADD_NX, xx = flags & ZADD_XX, gt = flags & ZADD_GT, lt = flags & ZADD_LT;
    if (elements % 2 != 0 || elements == 0) {
        return zset_error_syntax;
    }
    if (nx && xx) {
        return "ERR XX and NX options at the same time are not compatible";
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        return "ERR GT, LT, and/or NX options at the same time are not compatible";
    }
    if ((flags & ZADD_INCR) && elements > 2) {
        return "ERR INCR option supports a single increment-element pair";
    }
    return NULL;
}

/* zsetAdd for one member: what changes (*added, *updated, *nop), its new score. *nan: the
 * increment made NaN. */
static int zadd_one(struct kv_ctx *ctx, struct kv_key_info *info, int flags, double score,
                    const struct kv_bytes *member, double *newscore, int *added, int *updated,
                    bool *nop, bool *nan)
{
    bool found = false;
    double cur = 0;
    *nop = false;
    *nan = false;
    int rc = kv_zset_score_get(ctx, info->meta.id, member, &found, &cur);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (!found) {
        if (flags & ZADD_XX) {
            *nop = true;
            return MDB_SUCCESS;
        }
        *newscore = score;
        (*added)++;
        info->meta.count++;
        return kv_zset_write(ctx, info->meta.id, member, false, 0, score);
    }
    if (flags & ZADD_NX) {
        *nop = true;
        return MDB_SUCCESS;
    }
    if (flags & ZADD_INCR) {
        score += cur;
        if (isnan(score)) {
            *nan = true;
            return MDB_SUCCESS;
        }
    }
    if (((flags & ZADD_LT) && score >= cur) || ((flags & ZADD_GT) && score <= cur)) {
        *nop = true;
        return MDB_SUCCESS;
    }
    *newscore = score;
    if (score != cur) {
        (*updated)++;
        return kv_zset_write(ctx, info->meta.id, member, true, cur, score);
    }
    return MDB_SUCCESS;
}

/* ZADD k [NX|XX] [GT|LT] [CH] [INCR] score member ... and ZINCRBY k incr member. */
static int zset_add(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    int flags = c->op == KV_OP_ZINCRBY ? ZADD_INCR : 0;
    uint32_t first = zadd_options(c, &flags);
    const char *error = zadd_check(flags, c->arg_count - first);
    if (error != NULL) {
        return kv_res_err(r, error);
    }
    uint32_t elements = (c->arg_count - first) / 2;
    double *scores = kv_arena_alloc(ctx->arena, elements * sizeof *scores);
    if (scores == NULL) {
        return ENOMEM;
    }
    for (uint32_t j = 0; j < elements; j++) {
        bool ok = false;
        int rc = arg_double(ctx, &c->args[first + 2 * j], &scores[j], &ok);
        if (rc != MDB_SUCCESS || !ok) {
            return rc != MDB_SUCCESS ? rc : kv_res_err(r, zset_error_float);
        }
    }
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    bool incr = flags & ZADD_INCR;
    int added = 0, updated = 0, processed = 0;
    double score = 0;
    if (info.type == KV_TYPE_NONE && (flags & ZADD_XX)) {
        elements = 0; /* nothing to update, nothing created */
    } else if (c->args[0].len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, zset_error_key_size);
    }
    for (uint32_t j = 0; j < elements; j++) {
        if (c->args[first + 2 * j + 1].len > KV_ELEMENT_BYTES_MAX) {
            return kv_res_err(r, zset_error_element_size);
        }
    }
    if (elements > 0 && info.type == KV_TYPE_NONE) {
        if (!kv_types_create(ctx, &info, KV_TYPE_ZSET)) {
            return kv_res_err(r, zset_error_ids);
        }
        rc = kv_zset_blocks_init(ctx, info.meta.id);
    }
    for (uint32_t j = 0; rc == MDB_SUCCESS && j < elements; j++) {
        bool nop = false, nan = false;
        double newscore = 0;
        rc = zadd_one(ctx, &info, flags, scores[j], &c->args[first + 2 * j + 1], &newscore,
                      &added, &updated, &nop, &nan);
        if (rc == MDB_SUCCESS && nan) {
            kv_res_err(r, zset_error_nan);
            return added + updated > 0 ? kv_types_save(ctx, &info) : MDB_SUCCESS;
        }
        processed += !nop;
        score = newscore;
    }
    if (rc == MDB_SUCCESS && added + updated > 0) {
        rc = kv_types_save(ctx, &info);
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (incr && processed == 0) {
        kv_res_set(r, KV_RESULT_NULL);
        return MDB_SUCCESS;
    }
    if (incr) {
        return res_score(ctx, r, score); /* -0 for a new member, as Redis replies */
    }
    kv_res_int(r, (flags & ZADD_CH) ? added + updated : added);
    return MDB_SUCCESS;
}

/* ZREM k m...: how many went; the set goes with its last member. */
static int zset_rem(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    int64_t removed = 0;
    for (uint32_t i = 1; info.type != KV_TYPE_NONE && i < c->arg_count; i++) {
        bool found = false;
        double score = 0;
        rc = kv_zset_score_get(ctx, info.meta.id, &c->args[i], &found, &score);
        if (rc == MDB_SUCCESS && found) {
            rc = kv_zset_remove(ctx, info.meta.id, &c->args[i], score);
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        removed += found;
        if (found && --info.meta.count == 0) {
            break;
        }
    }
    kv_res_int(r, removed);
    return removed > 0 ? kv_zset_save(ctx, &info) : MDB_SUCCESS;
}

/* ---- ZSCORE, ZMSCORE, ZCARD, ZRANK ---- */

static int zset_score(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    uint32_t n = c->op == KV_OP_ZMSCORE ? c->arg_count - 1 : 1;
    struct kv_result *out = r;
    if (c->op == KV_OP_ZMSCORE && (out = kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, n)) == NULL) {
        return ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        bool found = false;
        double score = 0;
        if (info.type != KV_TYPE_NONE) {
            rc = kv_zset_score_get(ctx, info.meta.id, &c->args[1 + i], &found, &score);
        }
        if (rc == MDB_SUCCESS && found) {
            rc = res_score(ctx, &out[i], score);
        } else {
            kv_res_set(&out[i], KV_RESULT_NULL);
        }
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }
    return MDB_SUCCESS;
}

static int zset_card(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (!stop) {
        kv_res_int(r, (int64_t)info.meta.count);
    }
    return rc;
}

/* ZRANK k m, ZREVRANK k m. */
static int zset_rank(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    bool found = false;
    double score = 0;
    if (info.type != KV_TYPE_NONE) {
        rc = kv_zset_score_get(ctx, info.meta.id, &c->args[1], &found, &score);
    }
    if (rc != MDB_SUCCESS || !found) {
        kv_res_set(r, KV_RESULT_NULL);
        return rc;
    }
    uint64_t rank = 0;
    rc = kv_zset_rank(ctx, &info.meta, &c->args[1], score, &rank);
    assert(rc != MDB_SUCCESS || rank < info.meta.count);
    kv_res_int(r, (int64_t)(c->op == KV_OP_ZREVRANK ? info.meta.count - 1 - rank : rank));
    return rc;
}

/* ---- ranges: one walk for ZRANGE and its family, ZCOUNT, ZLEXCOUNT, ZREMRANGEBY* ---- */

enum zrange_kind { ZRANGE_RANK, ZRANGE_SCORE, ZRANGE_LEX };

struct zrange_spec {
    enum zrange_kind kind;
    bool reverse;
    int64_t start, end;          /* ZRANGE_RANK */
    struct zrange_score score;   /* ZRANGE_SCORE */
    struct zrange_lex lex;       /* ZRANGE_LEX */
    int64_t offset, limit;       /* LIMIT; limit < 0: none */
};

static bool in_range_end(const struct zrange_spec *s, const struct kv_zset_iter *it)
{
    if (s->kind == ZRANGE_SCORE) {
        return s->reverse ? score_gte_min(it->score, &s->score)
                          : score_lte_max(it->score, &s->score);
    }
    return s->reverse ? lex_gte_min(&it->member, &s->lex.min)
                      : lex_lte_max(&it->member, &s->lex.max);
}

/* Positions on the first element of a lex range (the last one when reverse). Redis assumes
 * every score equal for BYLEX: the seek uses the score of the set's first (last) element. */
static int lex_start(struct kv_zset_iter *it, const struct zrange_spec *s)
{
    const struct zlex_bound *b = s->reverse ? &s->lex.max : &s->lex.min;
    int rc = s->reverse ? kv_zset_iter_last(it) : kv_zset_iter_first(it);
    if (rc != MDB_SUCCESS || !it->valid || b->infinite != 0) {
        if (rc == MDB_SUCCESS && b->infinite == (s->reverse ? -1 : 1)) {
            it->valid = false; /* "+" as the minimum or "-" as the maximum: empty */
        }
        return rc;
    }
    uint8_t key[ZSET_LONG_KEY_BYTES];
    size_t len = kv_zset_index_key(it->id, it->score, &b->bytes, true, key);
    rc = kv_zset_iter_position(it, key, len, false);
    /* The seek key holds at most the bound's first bytes: walk past what is still below. */
    while (rc == MDB_SUCCESS && it->valid &&
           (s->reverse ? lex_lte_max(&it->member, b) : !lex_gte_min(&it->member, b))) {
        rc = kv_zset_iter_step(it, false);
    }
    if (rc == MDB_SUCCESS && s->reverse) {
        rc = it->valid ? kv_zset_iter_step(it, true) : kv_zset_iter_last(it);
    }
    return rc;
}

/* Positions on the first element in range in the walk's direction (its other end unchecked). */
static int range_start(struct kv_zset_iter *it, const struct zrange_spec *s)
{
    if (s->kind == ZRANGE_LEX) {
        return lex_start(it, s);
    }
    if (s->reverse) {
        return kv_zset_iter_seek_score(it, s->score.max, !s->score.maxex, true);
    }
    return kv_zset_iter_seek_score(it, s->score.min, s->score.minex, false);
}

/*
 * Walks a range: each element in it, up to `cap`, copied into out (NULL: only counted) in
 * the walk's order; *n is how many. *too_large: more than cap were in range.
 */
static int zset_walk(struct kv_ctx *ctx, const struct kv_coll_meta *meta,
                     const struct zrange_spec *s, struct zitem *out, uint64_t cap, uint64_t *n,
                     bool *too_large)
{
    *n = 0;
    *too_large = false;
    struct kv_zset_iter it;
    int rc = kv_zset_iter_open(&it, ctx, meta->id);
    uint64_t remaining = 0;
    if (rc == MDB_SUCCESS && s->kind == ZRANGE_RANK) {
        int64_t llen = (int64_t)meta->count, start = s->start, end = s->end;
        start = start < 0 ? llen + start : start;
        end = end < 0 ? llen + end : end;
        start = start < 0 ? 0 : start;
        if (start <= end && start < llen) {
            end = end >= llen ? llen - 1 : end;
            remaining = (uint64_t)(end - start + 1);
            rc = kv_zset_iter_seek_rank(&it, meta->count, (uint64_t)start, s->reverse);
        }
    } else if (rc == MDB_SUCCESS) {
        rc = range_start(&it, s);
        if (rc == MDB_SUCCESS && it.valid && !in_range_end(s, &it)) {
            it.valid = false; /* Redis: no element in range, whatever the offset */
        }
        /* A negative offset skips everything (Redis counts it down to past the end). */
        uint64_t skip = s->offset < 0 ? UINT64_MAX : (uint64_t)s->offset;
        for (uint64_t i = 0; rc == MDB_SUCCESS && it.valid && i < skip; i++) {
            rc = kv_zset_iter_step(&it, s->reverse);
        }
        remaining = s->limit < 0 ? UINT64_MAX : (uint64_t)s->limit;
    }
    for (; rc == MDB_SUCCESS && it.valid && remaining > 0; remaining--) {
        if (s->kind != ZRANGE_RANK && !in_range_end(s, &it)) {
            break;
        }
        if (out != NULL && *n == cap) {
            *too_large = true;
            break;
        }
        if (out != NULL) {
            rc = zitem_copy(ctx, &out[*n], &it.member, it.score);
        }
        (*n)++;
        if (rc == MDB_SUCCESS) {
            rc = kv_zset_iter_step(&it, s->reverse);
        }
    }
    if (rc == MDB_SUCCESS && s->kind == ZRANGE_RANK && remaining > 0 && !*too_large) {
        rc = MDB_CORRUPTED; /* the count says there are more */
    }
    kv_zset_iter_close(&it);
    return rc;
}

/* The elements of a range into the arena (at most KV_REPLY_ELEMENTS_MAX). */
static int zset_collect(struct kv_ctx *ctx, const struct kv_coll_meta *meta,
                        const struct zrange_spec *s, struct zitem **items, uint64_t *n,
                        bool *too_large)
{
    uint64_t cap = meta->count < KV_REPLY_ELEMENTS_MAX ? meta->count : KV_REPLY_ELEMENTS_MAX;
    *items = kv_arena_alloc(ctx->arena, (size_t)cap * sizeof **items + 1);
    if (*items == NULL) {
        return ENOMEM;
    }
    return zset_walk(ctx, meta, s, *items, cap, n, too_large);
}

/* Parses min and max of a score or lex range (in the command's order); *error when bad. */
static int parse_bounds(struct kv_ctx *ctx, struct zrange_spec *s, const struct kv_bytes *min,
                        const struct kv_bytes *max, const char **error)
{
    *error = NULL;
    if (s->kind == ZRANGE_LEX) {
        *error = parse_lex_range(min, max, &s->lex) ? NULL : zset_error_lex;
        return MDB_SUCCESS;
    }
    if (s->kind == ZRANGE_RANK) {
        bool ok = kv_arg_int64(min, &s->start) && kv_arg_int64(max, &s->end);
        *error = ok ? NULL : zset_error_not_integer;
        return MDB_SUCCESS;
    }
    bool ok = false;
    int rc = parse_score_range(ctx, min, max, &s->score, &ok);
    *error = ok ? NULL : zset_error_range;
    return rc;
}

/* ZCOUNT k min max, ZLEXCOUNT k min max. */
static int zset_count(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct zrange_spec s = {.kind = c->op == KV_OP_ZLEXCOUNT ? ZRANGE_LEX : ZRANGE_SCORE,
                            .limit = -1};
    const char *error = NULL;
    int rc = parse_bounds(ctx, &s, &c->args[1], &c->args[2], &error);
    if (rc != MDB_SUCCESS || error != NULL) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, error);
    }
    struct kv_key_info info;
    bool stop = false;
    rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    uint64_t n = 0;
    bool too_large = false;
    if (info.type != KV_TYPE_NONE) {
        rc = zset_walk(ctx, &info.meta, &s, NULL, 0, &n, &too_large);
    }
    kv_res_int(r, (int64_t)n);
    return rc;
}

/* Replies members (and scores) of items: an array, or pairs with scores. */
static int reply_items(struct kv_ctx *ctx, struct kv_result *r, const struct zitem *items,
                       uint64_t n, bool withscores)
{
    uint64_t per = withscores ? 2 : 1;
    struct kv_result *out = kv_res_aggregate(ctx, r, withscores ? KV_RESULT_PAIRS : KV_RESULT_ARRAY,
                                             n * per);
    if (out == NULL) {
        return ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        kv_res_set(&out[i * per], KV_RESULT_BULK);
        out[i * per].bulk = items[i].member.data;
        out[i * per].bulk_len = items[i].member.len;
        if (withscores) {
            int rc = res_score(ctx, &out[i * per + 1], items[i].score);
            if (rc != MDB_SUCCESS) {
                return rc;
            }
        }
    }
    return MDB_SUCCESS;
}

/* Replaces dst with a new sorted set of items (a member met again is aggregated with
 * `aggregate`, else the last score wins); *stored: its size. The items must not point into
 * the txn: they are read after the writes begin. */
static int zset_store(struct kv_ctx *ctx, const struct kv_bytes *dst, const struct zitem *items,
                      uint64_t n, int aggregate, struct kv_result *r);

/* The ZRANGE family: kind and direction fixed by the legacy names, or from the options. */
static int zset_range(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    bool store = c->op == KV_OP_ZRANGESTORE;
    bool kind_auto = c->op == KV_OP_ZRANGE || store;
    bool direction_auto = kind_auto;
    struct zrange_spec s = {.kind = ZRANGE_RANK, .limit = -1};
    s.kind = c->op == KV_OP_ZRANGEBYSCORE || c->op == KV_OP_ZREVRANGEBYSCORE ? ZRANGE_SCORE
             : c->op == KV_OP_ZRANGEBYLEX || c->op == KV_OP_ZREVRANGEBYLEX  ? ZRANGE_LEX
                                                                           : ZRANGE_RANK;
    s.reverse = c->op == KV_OP_ZREVRANGE || c->op == KV_OP_ZREVRANGEBYSCORE ||
                c->op == KV_OP_ZREVRANGEBYLEX;
    uint32_t key = store ? 1 : 0;
    if (c->arg_count < key + 3) {
        return kv_res_err(r, "ERR wrong number of arguments");
    }
    bool withscores = false, limit = false;
    for (uint32_t j = key + 3; j < c->arg_count; j++) {
        uint32_t left = c->arg_count - j - 1;
        if (!store && kv_arg_is(&a[j], "withscores")) {
            withscores = true;
        } else if (kv_arg_is(&a[j], "limit") && left >= 2) {
            if (!kv_arg_int64(&a[j + 1], &s.offset) || !kv_arg_int64(&a[j + 2], &s.limit)) {
                return kv_res_err(r, zset_error_not_integer);
            }
            limit = true;
            j += 2;
        } else if (direction_auto && kv_arg_is(&a[j], "rev")) {
            s.reverse = true;
            direction_auto = false;
        } else if (kind_auto && kv_arg_is(&a[j], "bylex")) {
            s.kind = ZRANGE_LEX;
            kind_auto = false;
        } else if (kind_auto && kv_arg_is(&a[j], "byscore")) {
            s.kind = ZRANGE_SCORE;
            kind_auto = false;
        } else {
            return kv_res_err(r, zset_error_syntax);
        }
    }
    if (limit && s.limit != -1 && s.kind == ZRANGE_RANK) {
        return kv_res_err(r, "ERR syntax error, LIMIT is only supported in combination with "
                             "either BYSCORE or BYLEX");
    }
    if (withscores && s.kind == ZRANGE_LEX) {
        return kv_res_err(r, "ERR syntax error, WITHSCORES not supported in combination with "
                             "BYLEX");
    }
    bool swap = s.reverse && s.kind != ZRANGE_RANK; /* the range is given as max, min */
    const char *error = NULL;
    int rc = parse_bounds(ctx, &s, &a[key + (swap ? 2 : 1)], &a[key + (swap ? 1 : 2)], &error);
    if (rc != MDB_SUCCESS || error != NULL) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, error);
    }
    struct kv_key_info info;
    bool stop = false;
    rc = zset_lookup(ctx, &a[key], &info, r, &stop);
    if (stop) {
        return rc;
    }
    struct zitem *items = NULL;
    uint64_t n = 0;
    bool too_large = false;
    if (info.type != KV_TYPE_NONE) {
        rc = zset_collect(ctx, &info.meta, &s, &items, &n, &too_large);
    }
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, zset_error_reply_size);
    }
    if (store) {
        return zset_store(ctx, &a[0], items, n, -1, r);
    }
    return reply_items(ctx, r, items, n, withscores);
}

/* ZREMRANGEBYSCORE, ZREMRANGEBYRANK, ZREMRANGEBYLEX k min max. */
static int zset_remrange(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    struct zrange_spec s = {.limit = -1};
    s.kind = c->op == KV_OP_ZREMRANGEBYRANK ? ZRANGE_RANK
             : c->op == KV_OP_ZREMRANGEBYLEX ? ZRANGE_LEX : ZRANGE_SCORE;
    const char *error = NULL;
    int rc = parse_bounds(ctx, &s, &c->args[1], &c->args[2], &error);
    if (rc != MDB_SUCCESS || error != NULL) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, error);
    }
    struct kv_key_info info;
    bool stop = false;
    rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    struct zitem *items = NULL;
    uint64_t n = 0;
    bool too_large = false;
    if (info.type != KV_TYPE_NONE) {
        rc = zset_collect(ctx, &info.meta, &s, &items, &n, &too_large);
    }
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, zset_error_remove_size);
    }
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < n; i++) {
        rc = kv_zset_remove(ctx, info.meta.id, &items[i].member, items[i].score);
    }
    kv_res_int(r, (int64_t)n);
    if (rc == MDB_SUCCESS && n > 0) {
        info.meta.count -= n;
        rc = kv_zset_save(ctx, &info);
    }
    return rc;
}

/* ZPOPMIN k [count], ZPOPMAX k [count]. */
static int zset_pop(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    if (c->arg_count > 2) {
        return kv_res_err(r, zset_error_syntax);
    }
    int64_t count = -1;
    if (c->arg_count == 2 && (!kv_arg_int64(&c->args[1], &count) || count < 0)) {
        return kv_res_err(r, "ERR value is out of range, must be positive");
    }
    struct kv_key_info info;
    bool stop = false;
    int rc = zset_lookup(ctx, &c->args[0], &info, r, &stop);
    if (stop) {
        return rc;
    }
    if (info.type == KV_TYPE_NONE || count == 0) {
        return kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 0) != NULL ? MDB_SUCCESS : ENOMEM;
    }
    struct zrange_spec s = {.kind = ZRANGE_RANK, .reverse = c->op == KV_OP_ZPOPMAX,
                            .start = 0, .end = count < 0 ? 0 : count - 1, .limit = -1};
    if ((uint64_t)s.end >= info.meta.count) {
        s.end = (int64_t)info.meta.count - 1;
    }
    struct zitem *items = NULL;
    uint64_t n = 0;
    bool too_large = false;
    rc = zset_collect(ctx, &info.meta, &s, &items, &n, &too_large);
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, zset_error_reply_size);
    }
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < n; i++) {
        rc = kv_zset_remove(ctx, info.meta.id, &items[i].member, items[i].score);
    }
    if (rc == MDB_SUCCESS) {
        info.meta.count -= n;
        rc = kv_zset_save(ctx, &info);
    }
    if (rc == MDB_SUCCESS) {
        /* Without a count, a flat [member, score] in RESP3 too; with one, pairs. */
        rc = reply_items(ctx, r, items, n, true);
        if (count < 0) {
            r->type = KV_RESULT_ARRAY;
        }
    }
    return rc;
}

/* ---- ZRANDMEMBER, ZSCAN ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The member at a random hash of the set (wrapping to the first). */
static int zset_pick(struct kv_ctx *ctx, uint64_t id, uint64_t *state, struct kv_elem_iter *it)
{
    int rc = kv_elem_iter_open(it, ctx->kv, ctx->txn, id, splitmix64(state));
    if (rc == MDB_SUCCESS && !it->valid) {
        kv_elem_iter_close(it);
        rc = kv_elem_iter_open(it, ctx->kv, ctx->txn, id, 0);
    }
    if (rc == MDB_SUCCESS && !it->valid) {
        rc = MDB_CORRUPTED;
    }
    return rc;
}

/* Appends a member record's member (and formatted score) to out[*n]. */
int kv_zset_pick_put(struct kv_ctx *ctx, const struct kv_elem_iter *it, bool scores,
                     enum kv_result_type score_type, struct kv_result *out, uint64_t *n)
{
    int rc = kv_res_bulk(ctx, &out[(*n)++], it->element.data, it->element.len);
    if (rc != MDB_SUCCESS || !scores) {
        return rc;
    }
    if (it->value.len != ZSET_SCORE_BYTES) {
        return MDB_CORRUPTED;
    }
    uint64_t bits = kv_get_le64(it->value.data);
    double score;
    memcpy(&score, &bits, sizeof score);
    rc = res_score(ctx, &out[*n], score);
    out[(*n)++].type = score_type;
    return rc;
}

/* `count` random members: with repeats (each its own pick) or distinct (a run from a random
 * hash, wrapping), as kv_types.c picks for sets. */
static int zset_random(struct kv_ctx *ctx, const struct kv_coll_meta *meta, uint64_t count,
                       bool repeats, bool scores, struct kv_result *out)
{
    uint64_t state = ctx->seed, n = 0;
    struct kv_elem_iter it;
    int rc = MDB_SUCCESS;
    for (uint64_t i = 0; repeats && rc == MDB_SUCCESS && i < count; i++) {
        rc = zset_pick(ctx, meta->id, &state, &it);
        if (rc == MDB_SUCCESS) {
            rc = kv_zset_pick_put(ctx, &it, scores, KV_RESULT_DOUBLE, out, &n);
        }
        kv_elem_iter_close(&it);
    }
    if (repeats) {
        return rc;
    }
    assert(count <= meta->count);
    rc = zset_pick(ctx, meta->id, &state, &it);
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < count; i++) {
        rc = kv_zset_pick_put(ctx, &it, scores, KV_RESULT_DOUBLE, out, &n);
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

/* ZRANDMEMBER k [count [WITHSCORES]]: as HRANDFIELD (Redis's zrandmemberCommand). */
static int zset_randmember(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    const struct kv_bytes *a = c->args;
    int64_t l = 0;
    bool scores = false;
    if (c->arg_count >= 2) {
        if (!kv_arg_int64(&a[1], &l)) {
            return kv_res_err(r, zset_error_not_integer);
        }
        if (l == INT64_MIN) {
            return kv_res_err(r, "ERR value is out of range, value must between "
                                 "-9223372036854775807 and 9223372036854775807");
        }
        if (c->arg_count > 3 || (c->arg_count == 3 && !kv_arg_is(&a[2], "withscores"))) {
            return kv_res_err(r, zset_error_syntax);
        }
        scores = c->arg_count == 3;
        if (scores && (l < -INT64_MAX / 2 || l > INT64_MAX / 2)) {
            return kv_res_err(r, "ERR value is out of range");
        }
    }
    struct kv_key_info info;
    bool stop = false;
    int rc = MDB_SUCCESS;
    if (c->arg_count == 1) {
        rc = zset_lookup(ctx, &a[0], &info, r, &stop);
        if (stop) {
            return rc;
        }
        if (info.type == KV_TYPE_NONE) {
            kv_res_set(r, KV_RESULT_NULL);
            return MDB_SUCCESS;
        }
        struct kv_elem_iter it;
        uint64_t state = ctx->seed, n = 0;
        rc = zset_pick(ctx, info.meta.id, &state, &it);
        if (rc == MDB_SUCCESS) {
            rc = kv_zset_pick_put(ctx, &it, false, KV_RESULT_BULK, r, &n);
        }
        kv_elem_iter_close(&it);
        return rc;
    }
    bool wrong = false;
    rc = kv_types_key_get(ctx, &a[0], KV_TYPE_ZSET, &info, &wrong);
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (info.type == KV_TYPE_NONE && !wrong) {
        return kv_res_aggregate(ctx, r, KV_RESULT_ARRAY, 0) != NULL ? MDB_SUCCESS : ENOMEM;
    }
    if (wrong) {
        return kv_res_err(r, kv_error_wrongtype);
    }
    bool repeats = l < 0;
    uint64_t count = repeats ? (uint64_t)-l : (uint64_t)l;
    if (!repeats && count > info.meta.count) {
        count = info.meta.count;
    }
    if (count > KV_REPLY_ELEMENTS_MAX) {
        return kv_res_err(r, zset_error_reply_size);
    }
    struct kv_result *out = kv_res_aggregate(ctx, r, scores ? KV_RESULT_PAIRS : KV_RESULT_ARRAY,
                                             count * (scores ? 2 : 1));
    if (out == NULL) {
        return ENOMEM;
    }
    return zset_random(ctx, &info.meta, count, repeats, scores, out);
}

/* ---- ZUNIONSTORE, ZINTERSTORE ---- */

enum { AGGREGATE_SUM, AGGREGATE_MIN, AGGREGATE_MAX };

/* zunionInterAggregate: a sum of inf and -inf is 0. */
static double aggregate_apply(int aggregate, double target, double value)
{
    switch (aggregate) {
    case AGGREGATE_SUM:
        target += value;
        return isnan(target) ? 0.0 : target;
    case AGGREGATE_MIN:
        return value < target ? value : target;
    default:
        assert(aggregate == AGGREGATE_MAX);
        return value > target ? value : target;
    }
}

/* Orders items by member bytes, then by their place (a stable sort: repeats aggregate in
 * the order of the inputs, as Redis's accumulator does). */
struct zsorted {
    const struct zitem *item;
    uint64_t place;
};

static int zsorted_compare(const void *x, const void *y)
{
    const struct zsorted *a = x, *b = y;
    int c = lex_cmp(&a->item->member, &b->item->member);
    if (c != 0) {
        return c;
    }
    return a->place < b->place ? -1 : a->place > b->place;
}

/*
 * Replaces dst with a new sorted set of items (a member met again is aggregated with
 * `aggregate` in the items' order, else the last score wins). The members are sorted and
 * aggregated in memory, each written once (its record and its index entry), and the block
 * counts built in one walk afterwards: no lookup per element.
 */
static int zset_store(struct kv_ctx *ctx, const struct kv_bytes *dst, const struct zitem *items,
                      uint64_t n, int aggregate, struct kv_result *r)
{
    if (dst->len > KV_KEY_BYTES_MAX) {
        return kv_res_err(r, zset_error_key_size);
    }
    for (uint64_t i = 0; i < n; i++) {
        if (items[i].member.len > KV_ELEMENT_BYTES_MAX) {
            return kv_res_err(r, zset_error_element_size); /* from a set: before any write */
        }
    }
    struct zsorted *sorted = kv_arena_alloc(ctx->arena, (size_t)n * sizeof *sorted + 1);
    if (sorted == NULL) {
        return ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        sorted[i] = (struct zsorted){.item = &items[i], .place = i};
    }
    qsort(sorted, (size_t)n, sizeof *sorted, zsorted_compare);
    struct kv_key_info info;
    int rc = kv_key_find(ctx->kv, ctx->txn, dst->data, dst->len, &info);
    uint64_t id = n > 0 ? kv_coll_new_id(ctx->kv) : 0;
    if (rc == MDB_SUCCESS && n > 0 && id == 0) {
        return kv_res_err(r, zset_error_ids);
    }
    bool deleted = false;
    if (rc == MDB_SUCCESS) {
        rc = kv_key_remove(ctx->kv, ctx->txn, &info, &deleted);
        *ctx->written += dst->len;
    }
    info.meta = (struct kv_coll_meta){.type = KV_TYPE_ZSET, .id = id};
    for (uint64_t i = 0; rc == MDB_SUCCESS && i < n;) {
        const struct kv_bytes *member = &sorted[i].item->member;
        double score = sorted[i].item->score;
        uint64_t j = i + 1;
        for (; j < n && lex_cmp(&sorted[j].item->member, member) == 0; j++) {
            score = aggregate >= 0 ? aggregate_apply(aggregate, score, sorted[j].item->score)
                                   : sorted[j].item->score;
        }
        rc = kv_zset_put_records(ctx, id, member, score);
        info.meta.count++;
        i = j;
    }
    if (rc == MDB_SUCCESS && info.meta.count > 0) {
        rc = kv_zset_blocks_build(ctx, id, info.meta.count);
    }
    if (rc == MDB_SUCCESS && info.meta.count > 0) {
        rc = kv_types_save(ctx, &info);
    }
    kv_res_int(r, (int64_t)info.meta.count);
    return rc;
}

/* One input of ZUNIONSTORE / ZINTERSTORE: a sorted set, a set (every score 1) or missing. */
struct zsrc {
    int type;
    struct kv_coll_meta meta;
    double weight;
    uint32_t position; /* in the command, to sort stably */
};

static int zsrc_compare(const void *x, const void *y)
{
    const struct zsrc *a = x, *b = y;
    uint64_t ca = a->type == KV_TYPE_NONE ? 0 : a->meta.count;
    uint64_t cb = b->type == KV_TYPE_NONE ? 0 : b->meta.count;
    if (ca != cb) {
        return ca < cb ? -1 : 1;
    }
    return a->position < b->position ? -1 : a->position > b->position;
}

/* zuiFind: the member's score in src (1 in a set). */
static int zsrc_find(struct kv_ctx *ctx, const struct zsrc *src, const struct kv_bytes *member,
                     bool *found, double *score)
{
    *found = false;
    if (src->type == KV_TYPE_ZSET) {
        return kv_zset_score_get(ctx, src->meta.id, member, found, score);
    }
    if (src->type != KV_TYPE_SET) {
        return MDB_SUCCESS;
    }
    struct kv_bytes value;
    *score = 1.0;
    return kv_elem_get(ctx->kv, ctx->txn, src->meta.id, member, &value, found);
}

/* The element the iterator is on, with its score (1 for a set's member). */
static double zsrc_score(const struct zsrc *src, const struct kv_elem_iter *it, bool *ok)
{
    *ok = true;
    if (src->type == KV_TYPE_SET) {
        return 1.0;
    }
    if (it->value.len != ZSET_SCORE_BYTES) {
        *ok = false;
        return 0;
    }
    uint64_t bits = kv_get_le64(it->value.data);
    double score;
    memcpy(&score, &bits, sizeof score);
    return score;
}

/*
 * The union's items (each source's elements, weighted, in the order of the sorted sources:
 * zset_store aggregates repeats) or the intersection's (the smallest source's members found in
 * every other, aggregated here). At most KV_REPLY_ELEMENTS_MAX are visited.
 */
static int zsrc_combine(struct kv_ctx *ctx, bool inter, const struct zsrc *src, uint32_t n,
                        int aggregate, struct zitem **items, uint64_t *count, bool *too_large)
{
    *count = 0;
    *too_large = false;
    uint64_t cap = 0;
    for (uint32_t j = 0; j < (inter ? 1 : n); j++) {
        cap += src[j].type == KV_TYPE_NONE ? 0 : src[j].meta.count;
    }
    if (cap > KV_REPLY_ELEMENTS_MAX) {
        *too_large = true;
        return MDB_SUCCESS;
    }
    *items = kv_arena_alloc(ctx->arena, (size_t)cap * sizeof **items + 1);
    if (*items == NULL) {
        return ENOMEM;
    }
    int rc = MDB_SUCCESS;
    for (uint32_t j = 0; rc == MDB_SUCCESS && j < (inter ? 1 : n); j++) {
        if (src[j].type == KV_TYPE_NONE) {
            continue;
        }
        struct kv_elem_iter it;
        rc = kv_elem_iter_open(&it, ctx->kv, ctx->txn, src[j].meta.id, 0);
        while (rc == MDB_SUCCESS && it.valid && *count < cap) {
            bool ok = true, keep = true;
            double score = src[j].weight * zsrc_score(&src[j], &it, &ok);
            score = isnan(score) ? 0 : score;
            for (uint32_t k = 1; inter && ok && keep && rc == MDB_SUCCESS && k < n; k++) {
                double value = 0;
                rc = zsrc_find(ctx, &src[k], &it.element, &keep, &value);
                if (keep) {
                    score = aggregate_apply(aggregate, score, value * src[k].weight);
                }
            }
            if (!ok) {
                rc = MDB_CORRUPTED;
            }
            if (rc == MDB_SUCCESS && keep) {
                rc = zitem_copy(ctx, &(*items)[(*count)++], &it.element, score);
            }
            if (rc == MDB_SUCCESS) {
                rc = kv_elem_iter_next(&it);
            }
        }
        kv_elem_iter_close(&it);
    }
    return rc;
}

/* zunionInterDiffGenericCommand's options after the keys: WEIGHTS, AGGREGATE. */
static const char *zsrc_options(struct kv_ctx *ctx, const struct kv_command *c, uint32_t j,
                                struct zsrc *src, uint32_t n, int *aggregate, int *rc)
{
    const struct kv_bytes *a = c->args;
    *rc = MDB_SUCCESS;
    while (j < c->arg_count) {
        uint32_t remaining = c->arg_count - j;
        if (remaining >= n + 1 && kv_arg_is(&a[j], "weights")) {
            j++;
            for (uint32_t i = 0; i < n; i++, j++) {
                bool ok = false;
                *rc = arg_double(ctx, &a[j], &src[i].weight, &ok);
                if (*rc != MDB_SUCCESS || !ok) {
                    return *rc != MDB_SUCCESS ? "" : "ERR weight value is not a float";
                }
            }
        } else if (remaining >= 2 && kv_arg_is(&a[j], "aggregate")) {
            j++;
            if (kv_arg_is(&a[j], "sum")) {
                *aggregate = AGGREGATE_SUM;
            } else if (kv_arg_is(&a[j], "min")) {
                *aggregate = AGGREGATE_MIN;
            } else if (kv_arg_is(&a[j], "max")) {
                *aggregate = AGGREGATE_MAX;
            } else {
                return zset_error_syntax;
            }
            j++;
        } else {
            return zset_error_syntax;
        }
    }
    return NULL;
}

/* ZUNIONSTORE dst numkeys k... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX], ZINTERSTORE. */
static int zset_unionstore(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    bool inter = c->op == KV_OP_ZINTERSTORE;
    int64_t numkeys = 0;
    if (!kv_arg_int64(&c->args[1], &numkeys)) {
        return kv_res_err(r, zset_error_not_integer);
    }
    if (numkeys < 1) {
        return kv_res_err(r, inter
                                 ? "ERR at least 1 input key is needed for 'zinterstore' command"
                                 : "ERR at least 1 input key is needed for 'zunionstore' command");
    }
    if (numkeys > (int64_t)c->arg_count - 2) {
        return kv_res_err(r, zset_error_syntax);
    }
    uint32_t n = (uint32_t)numkeys;
    struct zsrc *src = kv_arena_alloc(ctx->arena, n * sizeof *src);
    if (src == NULL) {
        return ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct kv_key_info info;
        bool wrong = false;
        int rc = kv_types_key_get(ctx, &c->args[2 + i], KV_TYPE_ZSET, &info, &wrong);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
        if (wrong && info.type != KV_TYPE_SET) {
            return kv_res_err(r, kv_error_wrongtype);
        }
        src[i] = (struct zsrc){.type = info.type, .meta = info.meta, .weight = 1.0, .position = i};
    }
    int aggregate = AGGREGATE_SUM, rc = MDB_SUCCESS;
    const char *error = zsrc_options(ctx, c, 2 + n, src, n, &aggregate, &rc);
    if (rc != MDB_SUCCESS || error != NULL) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, error);
    }
    qsort(src, n, sizeof *src, zsrc_compare);
    struct zitem *items = NULL;
    uint64_t count = 0;
    bool too_large = false;
    if (!inter || src[0].type != KV_TYPE_NONE) {
        rc = zsrc_combine(ctx, inter, src, n, aggregate, &items, &count, &too_large);
    }
    if (rc != MDB_SUCCESS || too_large) {
        return rc != MDB_SUCCESS ? rc : kv_res_err(r, zset_error_reply_size);
    }
    return zset_store(ctx, &c->args[0], items, count, aggregate, r);
}

/* ---- dispatch ---- */

int kv_zset_run(struct kv_ctx *ctx, const struct kv_command *c, struct kv_result *r)
{
    switch (c->op) {
    case KV_OP_ZADD:
    case KV_OP_ZINCRBY:
        return zset_add(ctx, c, r);
    case KV_OP_ZREM:
        return zset_rem(ctx, c, r);
    case KV_OP_ZSCORE:
    case KV_OP_ZMSCORE:
        return zset_score(ctx, c, r);
    case KV_OP_ZCARD:
        return zset_card(ctx, c, r);
    case KV_OP_ZCOUNT:
    case KV_OP_ZLEXCOUNT:
        return zset_count(ctx, c, r);
    case KV_OP_ZRANGE:
    case KV_OP_ZRANGEBYSCORE:
    case KV_OP_ZREVRANGEBYSCORE:
    case KV_OP_ZRANGEBYLEX:
    case KV_OP_ZREVRANGEBYLEX:
    case KV_OP_ZREVRANGE:
    case KV_OP_ZRANGESTORE:
        return zset_range(ctx, c, r);
    case KV_OP_ZRANK:
    case KV_OP_ZREVRANK:
        return zset_rank(ctx, c, r);
    case KV_OP_ZPOPMIN:
    case KV_OP_ZPOPMAX:
        return zset_pop(ctx, c, r);
    case KV_OP_ZUNIONSTORE:
    case KV_OP_ZINTERSTORE:
        return zset_unionstore(ctx, c, r);
    case KV_OP_ZRANDMEMBER:
        return zset_randmember(ctx, c, r);
    case KV_OP_ZSCAN:
        return kv_types_scan(ctx, c, KV_TYPE_ZSET, r);
    case KV_OP_ZREMRANGEBYSCORE:
    case KV_OP_ZREMRANGEBYRANK:
    case KV_OP_ZREMRANGEBYLEX:
        return zset_remrange(ctx, c, r);
    default:
        return kv_res_err(r, "ERR unknown command");
    }
}
