/*
 * commands_scan.c — SCAN, KEYS and RANDOMKEY over the store's hash order (kv_scan).
 *
 * SCAN's cursor is stateless, as Redis's is: the number is the 64-bit hash position where the
 * next call resumes (kv.h, struct kv_scan_cursor), so a cursor works on any node, after a
 * restart, and never expires; every 64-bit number is accepted. Guarantee: a key present
 * for the whole iteration is returned at least once. TYPE is honoured: string, hash, set (in
 * any case) return the keys of that type, any other type none.
 *
 * With S > 1 shards one cursor walks the whole cluster from any node: its top 10 bits name
 * the shard it resumes in, the other 54 the hash position there (the position's top 54 bits:
 * a resumed call may return a few keys again, which SCAN allows). Each call is served by one
 * shard's group; when a shard is done the cursor names the next one, and 0 follows the last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <errno.h>

#include "node/commands.h"
#include "storage/kv_glob.h"

enum {
    NODE_SCAN_COUNT_DEFAULT = 10,
    NODE_SCAN_CURSOR_TEXT_MAX = 4096, /* a longer cursor is refused, not parsed */
    /* KEYS runs on the loop thread in one go, so its work is bounded: it refuses a store of
     * more keys than this (about 100 ms of the loop; SCAN has no such bound). */
    NODE_KEYS_EXAMINED_MAX = 262144,
    NODE_SCAN_SHARD_SHIFT = 54,   /* S > 1: cursor = shard << 54 | position >> 10 */
    NODE_SCAN_POSITION_SHIFT = 10,
};

static const char error_syntax[] = "ERR syntax error";
static const char error_not_integer[] = "ERR value is not an integer or out of range";

struct key_list {
    struct resp_arg *keys;
    uint32_t count;
    uint32_t cap;
    bool keep; /* false: TYPE names a type no chorus key has */
};

static void key_list_add(void *ctx, const uint8_t *key, size_t key_len)
{
    struct key_list *l = ctx;
    if (!l->keep)
        return;
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->keys = realloc(l->keys, l->cap * sizeof(*l->keys));
        assert(l->keys != NULL);
    }
    char *copy = malloc(key_len + 1);
    assert(copy != NULL);
    if (key_len > 0)
        memcpy(copy, key, key_len);
    l->keys[l->count++] = (struct resp_arg){.data = copy, .len = key_len};
}

static void key_list_reply_free(struct key_list *l, struct resp_out *out)
{
    if (out != NULL) {
        resp_reply_array(out, l->count);
        for (uint32_t i = 0; i < l->count; i++)
            resp_reply_bulk(out, l->keys[i].data, l->keys[i].len);
    }
    for (uint32_t i = 0; i < l->count; i++)
        free((void *)l->keys[i].data);
    free(l->keys);
    memset(l, 0, sizeof(*l));
}

/* Redis parses the cursor with strtoul on the argument as a C string: leading '+', '-'
 * (which wraps) and zeroes are accepted, leading space and anything after the number not. */
static bool cursor_parse(const struct resp_arg *arg, uint64_t *cursor)
{
    char text[NODE_SCAN_CURSOR_TEXT_MAX + 1];
    if (arg->len > NODE_SCAN_CURSOR_TEXT_MAX)
        return false;
    memcpy(text, arg->data, arg->len);
    text[arg->len] = '\0';
    if (isspace((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (end[0] != '\0' || errno == ERANGE)
        return false;
    *cursor = value;
    return true;
}

static void reply_pattern_too_long(struct resp_out *out)
{
    char text[128];
    int n = snprintf(text, sizeof(text), "ERR pattern too long: chorus accepts at most %d bytes",
                     KV_GLOB_PATTERN_BYTES_MAX);
    resp_reply_error(out, text, (size_t)n);
}

/* S > 1: the cursor after a call in the group's shard that started at `from`. */
static uint64_t scan_cursor_next(const struct node_group *group, uint64_t shard_bits,
                                 uint64_t from, const struct kv_scan_cursor *cursor)
{
    if (cursor->done) {
        if (group->id + 1 >= group->node->topology->shard_count)
            return 0;
        return (uint64_t)(group->id + 1) << NODE_SCAN_SHARD_SHIFT;
    }
    uint64_t resume = cursor->position >> NODE_SCAN_POSITION_SHIFT;
    /* Every key examined lay within one 1,024-wide window of hashes (never seen in practice
     * with 64-bit hashes): step past it, or the cursor would not move. */
    if (resume <= from >> NODE_SCAN_POSITION_SHIFT)
        resume = (from >> NODE_SCAN_POSITION_SHIFT) + 1;
    return shard_bits | resume;
}

struct node_group *node_scan_route(struct node_exec *e)
{
    uint64_t cursor = 0;
    uint32_t shard = 0;
    if (cursor_parse(&e->argv[1], &cursor))
        shard = (uint32_t)(cursor >> NODE_SCAN_SHARD_SHIFT);
    if (shard >= e->node->topology->shard_count) {
        node_exec_error(e, "ERR invalid cursor");
        return NULL;
    }
    uint32_t first, last;
    shardmap_range(&e->node->shardmap, shard, &first, &last);
    return node_route_slot(e, first);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type], errors in Redis's order. */
void node_scan_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                     uint32_t argc)
{
    uint64_t position = 0;
    int64_t count = NODE_SCAN_COUNT_DEFAULT;
    const struct resp_arg *match = NULL, *type = NULL;
    if (!cursor_parse(&argv[1], &position)) {
        resp_reply_error(out, "ERR invalid cursor", 18);
        return;
    }
    for (uint32_t i = 2; i < argc; i += 2) {
        bool more = i + 1 < argc;
        if (more && node_arg_is(&argv[i], "COUNT")) {
            if (!resp_string_to_int64(argv[i + 1].data, argv[i + 1].len, &count)) {
                resp_reply_error(out, error_not_integer, sizeof(error_not_integer) - 1);
                return;
            }
            if (count < 1) {
                resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
                return;
            }
        } else if (more && node_arg_is(&argv[i], "MATCH")) {
            match = &argv[i + 1];
        } else if (more && node_arg_is(&argv[i], "TYPE")) {
            type = &argv[i + 1];
        } else {
            resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
            return;
        }
    }
    if (match != NULL && match->len > KV_GLOB_PATTERN_BYTES_MAX) {
        reply_pattern_too_long(out);
        return;
    }
    if (count > KV_SCAN_COUNT_MAX)
        count = KV_SCAN_COUNT_MAX;
    uint64_t shard_bits = 0;
    if (group->node->cluster_mode) {
        if ((position >> NODE_SCAN_SHARD_SHIFT) != group->id) {
            resp_reply_error(out, "ERR invalid cursor", 18);
            return;
        }
        shard_bits = position & ~((1ull << NODE_SCAN_SHARD_SHIFT) - 1);
        position = (position - shard_bits) << NODE_SCAN_POSITION_SHIFT;
    }
    struct kv_scan_cursor cursor = {.position = position, .done = false};
    /* TYPE: a type no key can have (Redis knows stream; chorus has none yet)
     * returns no key, as Redis does for an unknown type name. */
    int type_wanted = KV_TYPE_NONE;
    bool keep = true;
    if (type != NULL) {
        keep = false;
        for (int t = KV_TYPE_STRING; t <= KV_TYPE_ZSET; t++)
            if (node_arg_is(type, kv_type_name(t))) {
                type_wanted = t;
                keep = true;
            }
    }
    struct key_list list = {.keep = keep};
    int rv = kv_scan_typed(group->kv, &cursor, match ? (const uint8_t *)match->data : NULL,
                           match ? match->len : 0, (uint32_t)count, type_wanted, &list,
                           key_list_add);
    if (rv != KV_OK) {
        key_list_reply_free(&list, NULL);
        resp_reply_error(out, "ERR storage scan failed", 23);
        return;
    }
    uint64_t next = cursor.done ? 0 : cursor.position;
    if (group->node->cluster_mode)
        next = scan_cursor_next(group, shard_bits, position, &cursor);
    char text[24];
    int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)next);
    resp_reply_array(out, 2);
    resp_reply_bulk(out, text, (size_t)n);
    key_list_reply_free(&list, out);
}

/* KEYS pattern: the whole keyspace in one reply, for stores of at most NODE_KEYS_EXAMINED_MAX
 * keys. */
void node_keys_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv)
{
    if (argv[1].len > KV_GLOB_PATTERN_BYTES_MAX) {
        reply_pattern_too_long(out);
        return;
    }
    uint64_t keys = 0;
    if (kv_count(group->kv, &keys) != KV_OK) {
        resp_reply_error(out, "ERR storage read failed", 23);
        return;
    }
    if (keys > NODE_KEYS_EXAMINED_MAX) {
        char text[160];
        int n = snprintf(text, sizeof(text),
                         "ERR KEYS is limited to stores of %d keys in chorus (this one has %llu): "
                         "use SCAN", NODE_KEYS_EXAMINED_MAX, (unsigned long long)keys);
        resp_reply_error(out, text, (size_t)n);
        return;
    }
    struct kv_scan_cursor cursor = {0};
    struct key_list list = {.keep = true};
    int rv = KV_OK;
    /* Each call examines KV_SCAN_COUNT_MAX keys; the loop ends with the store, or at the bound
     * when keys were added meanwhile. */
    for (uint64_t examined = 0; rv == KV_OK && !cursor.done && examined <= NODE_KEYS_EXAMINED_MAX;
         examined += KV_SCAN_COUNT_MAX)
        rv = kv_scan(group->kv, &cursor, (const uint8_t *)argv[1].data, argv[1].len,
                     KV_SCAN_COUNT_MAX, &list, key_list_add);
    if (rv != KV_OK) {
        key_list_reply_free(&list, NULL);
        resp_reply_error(out, "ERR storage scan failed", 23);
        return;
    }
    key_list_reply_free(&list, out);
}

/* A random number (xorshift64*, seeded from the clock once): not for security, only for
 * RANDOMKEY's choices (the position in a shard, and the shard a chained RANDOMKEY starts
 * in), which need not agree between nodes. */
uint64_t node_random_u64(void)
{
    static uint64_t state;
    if (state == 0)
        state = uv_hrtime() | 1;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
}

void node_randomkey_serve(struct node_group *group, struct resp_out *out)
{
    uint8_t key[KV_KEY_BYTES_MAX];
    size_t len = 0;
    bool found = false;
    if (kv_random_key(group->kv, node_random_u64(), key, sizeof(key), &len, &found) != KV_OK)
        resp_reply_error(out, "ERR storage read failed", 23);
    else if (!found)
        resp_reply_null(out);
    else
        resp_reply_bulk(out, key, len);
}
