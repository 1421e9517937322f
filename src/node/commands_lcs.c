/*
 * commands_lcs.c — LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN], as Redis 7 does
 * it: the classic dynamic-programming table, walked back from its end, with the same
 * tie-breaking and the same match ranges, so that replies are byte for byte Redis's.
 *
 * The table has (len1 + 1) * (len2 + 1) cells of 4 bytes; it is bounded by
 * NODE_LCS_TABLE_BYTES_MAX and refused with an error beyond (Redis's bound is 512 MiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"

enum { NODE_LCS_TABLE_BYTES_MAX = 64u << 20 };

struct lcs_options {
    bool len;
    bool idx;
    bool with_match_len;
    int64_t min_match_len;
};

struct lcs_range {
    uint32_t a_start, a_end, b_start, b_end;
};

/* Parses the options; replies the error and returns false when they are wrong. */
static bool lcs_options_parse(struct resp_out *out, const struct resp_arg *argv, uint32_t argc,
                              struct lcs_options *o)
{
    static const char syntax[] = "ERR syntax error";
    static const char not_integer[] = "ERR value is not an integer or out of range";
    memset(o, 0, sizeof(*o));
    for (uint32_t i = 3; i < argc; i++) {
        if (node_arg_is(&argv[i], "IDX")) {
            o->idx = true;
        } else if (node_arg_is(&argv[i], "LEN")) {
            o->len = true;
        } else if (node_arg_is(&argv[i], "WITHMATCHLEN")) {
            o->with_match_len = true;
        } else if (node_arg_is(&argv[i], "MINMATCHLEN") && i + 1 < argc) {
            if (!resp_string_to_int64(argv[i + 1].data, argv[i + 1].len, &o->min_match_len)) {
                resp_reply_error(out, not_integer, sizeof(not_integer) - 1);
                return false;
            }
            if (o->min_match_len < 0)
                o->min_match_len = 0;
            i++;
        } else {
            resp_reply_error(out, syntax, sizeof(syntax) - 1);
            return false;
        }
    }
    if (o->idx && o->len) {
        static const char both[] = "ERR If you want both the length and indexes, please just use IDX.";
        resp_reply_error(out, both, sizeof(both) - 1);
        return false;
    }
    return true;
}

/* Reads a key's value into a fresh buffer (an absent key is the empty string). */
static uint8_t *lcs_value(struct node_group *group, const struct resp_arg *key, size_t *len, bool *ok,
                          bool *wrongtype)
{
    bool found = false;
    int rv = kv_get(group->kv, (const uint8_t *)key->data, key->len, group->node->get_buffer,
                    NODE_GET_BUFFER_BYTES, len, &found);
    *ok = rv == KV_OK;
    *wrongtype = rv == KV_ERR_WRONGTYPE;
    if (!found)
        *len = 0;
    uint8_t *copy = malloc(*len + 1);
    assert(copy != NULL);
    if (*len > 0)
        memcpy(copy, group->node->get_buffer, *len);
    return copy;
}

static void lcs_table_fill(uint32_t *t, const uint8_t *a, uint32_t alen, const uint8_t *b,
                           uint32_t blen)
{
#define LCS(i, j) t[(size_t)(j) + (size_t)(i) * (blen + 1)]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
}

/*
 * Walks the table back from (alen, blen) as Redis's lcsCommand does: writes the common
 * string into result (idx bytes) and the match ranges (at most alen + 1) into ranges.
 */
static uint32_t lcs_walk(const uint32_t *t, const uint8_t *a, uint32_t alen, const uint8_t *b,
                         uint32_t blen, uint8_t *result, struct lcs_range *ranges,
                         const struct lcs_options *o)
{
    uint32_t idx = LCS(alen, blen), count = 0;
    uint32_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
    uint32_t i = alen, j = blen;
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = true;
            }
            if (as == 0 || bs == 0)
                emit = true;
            idx--, i--, j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (as != alen)
                emit = true;
        }
        uint32_t match_len = ae - as + 1;
        if (emit) {
            if (o->min_match_len == 0 || match_len >= (uint64_t)o->min_match_len)
                ranges[count++] = (struct lcs_range){as, ae, bs, be};
            as = alen;
        }
    }
    return count;
#undef LCS
}

static void lcs_reply_ranges(struct resp_out *out, const struct lcs_range *ranges,
                             uint32_t count, uint32_t total, const struct lcs_options *o)
{
    resp_reply_map(out, 2);
    resp_reply_bulk(out, "matches", 7);
    resp_reply_array(out, count);
    for (uint32_t k = 0; k < count; k++) {
        const struct lcs_range *r = &ranges[k];
        resp_reply_array(out, o->with_match_len ? 3 : 2);
        resp_reply_array(out, 2);
        resp_reply_integer(out, r->a_start);
        resp_reply_integer(out, r->a_end);
        resp_reply_array(out, 2);
        resp_reply_integer(out, r->b_start);
        resp_reply_integer(out, r->b_end);
        if (o->with_match_len)
            resp_reply_integer(out, (int64_t)(r->a_end - r->a_start + 1));
    }
    resp_reply_bulk(out, "len", 3);
    resp_reply_integer(out, total);
}

void node_lcs_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                    uint32_t argc)
{
    size_t alen = 0, blen = 0;
    bool ok_a = false, ok_b = false, wrong_a = false, wrong_b = false;
    uint8_t *a = lcs_value(group, &argv[1], &alen, &ok_a, &wrong_a);
    uint8_t *b = lcs_value(group, &argv[2], &blen, &ok_b, &wrong_b);
    struct lcs_options o;
    uint32_t *table = NULL;
    if (wrong_a || wrong_b) { /* Redis's text, before the options are looked at */
        static const char text[] = "ERR The specified keys must contain string values";
        resp_reply_error(out, text, sizeof(text) - 1);
        goto out;
    }
    if (!ok_a || !ok_b) {
        resp_reply_error(out, "ERR storage read failed", 23);
        goto out;
    }
    if (!lcs_options_parse(out, argv, argc, &o))
        goto out;
    uint64_t cells = (uint64_t)(alen + 1) * (blen + 1);
    if (cells > NODE_LCS_TABLE_BYTES_MAX / sizeof(uint32_t)) {
        static const char big[] = "ERR LCS table exceeds chorus's bound of 64 MiB: the strings are too long";
        resp_reply_error(out, big, sizeof(big) - 1);
        goto out;
    }
    table = malloc(cells * sizeof(uint32_t));
    assert(table != NULL);
    lcs_table_fill(table, a, (uint32_t)alen, b, (uint32_t)blen);
    uint32_t total = table[cells - 1];
    if (o.len && !o.idx) {
        resp_reply_integer(out, total);
        goto out;
    }
    uint8_t *result = malloc(total + 1);
    struct lcs_range *ranges = malloc((alen + 1) * sizeof(*ranges));
    assert(result != NULL && ranges != NULL);
    uint32_t count = lcs_walk(table, a, (uint32_t)alen, b, (uint32_t)blen, result, ranges, &o);
    if (o.idx)
        lcs_reply_ranges(out, ranges, count, total, &o);
    else
        resp_reply_bulk(out, result, total);
    free(result);
    free(ranges);
out:
    free(table);
    free(a);
    free(b);
}
