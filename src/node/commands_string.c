/*
 * commands_string.c — the string and keyspace commands added after the first set, as Redis 7
 * answers them: the parsing of their writes (INCRBYFLOAT, SETRANGE, SETBIT, RENAME, RENAMENX,
 * COPY, FLUSHALL, FLUSHDB) into kv commands, and the serving of their reads (GETRANGE,
 * GETBIT, BITCOUNT, LCS, TYPE, TOUCH, MEMORY USAGE) once ReadIndex made them linearizable.
 *
 * Argument errors of a read are found when it is served, as Redis finds them after its key
 * lookup (BITCOUNT of a missing key is 0 whatever its range says).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"
#include "storage/kv_command.h"

static const char error_not_integer[] = "ERR value is not an integer or out of range";
static const char error_syntax[] = "ERR syntax error";
static const char error_bit_offset[] = "ERR bit offset is not an integer or out of range";
static const char error_bit_value[] = "ERR bit is not an integer or out of range";
static const char error_string_size[] =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

enum {
    /* Redis refuses a bit offset whose byte is beyond proto-max-bulk-len (512 MiB). */
    NODE_BIT_OFFSET_REDIS_MAX_BYTES = 512 * 1024 * 1024,
    /* MEMORY USAGE: what Redis adds to key and value for the dict entry, object and sds
     * headers of a string; an estimate, as Redis's own figure is. */
    NODE_MEMORY_OVERHEAD_BYTES = 56,
    NODE_MEMORY_ELEMENT_BYTES = 64, /* MEMORY USAGE of a collection, per element */
};

static bool arg_int64(const struct resp_arg *arg, int64_t *value)
{
    return resp_string_to_int64(arg->data, arg->len, value);
}

static bool args_equal(const struct resp_arg *a, const struct resp_arg *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Redis's getBitOffsetFromArgument: an integer, not negative, its byte within 512 MiB. */
static bool bit_offset_parse(const struct resp_arg *arg, int64_t *offset)
{
    return arg_int64(arg, offset) && *offset >= 0 &&
           (*offset >> 3) < NODE_BIT_OFFSET_REDIS_MAX_BYTES;
}

/* FLUSHALL / FLUSHDB [SYNC|ASYNC]: both empty the one database chorus has. */
static const char *parse_flush(const struct node_exec *e, struct kv_command *c)
{
    if (e->argc > 2 || (e->argc == 2 && !node_arg_is(&e->argv[1], "SYNC") &&
                        !node_arg_is(&e->argv[1], "ASYNC")))
        return error_syntax;
    c->op = KV_OP_FLUSHALL;
    c->arg_count = 0;
    return NULL;
}

static const char *parse_setbit(const struct node_exec *e, struct kv_command *c)
{
    int64_t offset = 0, bit = 0;
    if (!bit_offset_parse(&e->argv[2], &offset))
        return error_bit_offset;
    if (!arg_int64(&e->argv[3], &bit) || (bit & ~1) != 0)
        return error_bit_value;
    if (offset > KV_BIT_OFFSET_MAX)
        return error_string_size;
    c->op = KV_OP_SETBIT;
    c->delta = offset;
    c->flags = bit ? KV_FLAG_BIT : 0;
    c->arg_count = 1;
    return NULL;
}

/* COPY source destination [DB 0] [REPLACE]: chorus has database 0 only. */
static const char *parse_copy(const struct node_exec *e, struct kv_command *c)
{
    c->op = KV_OP_COPY;
    c->arg_count = 2;
    for (uint32_t i = 3; i < e->argc; i++) {
        if (node_arg_is(&e->argv[i], "REPLACE")) {
            c->flags |= KV_FLAG_REPLACE;
        } else if (node_arg_is(&e->argv[i], "DB") && i + 1 < e->argc) {
            int64_t db = 0;
            if (!arg_int64(&e->argv[i + 1], &db) || db < INT32_MIN || db > INT32_MAX)
                return error_not_integer;
            if (db != 0)
                return "ERR DB index is out of range";
            i++;
        } else {
            return error_syntax;
        }
    }
    if (args_equal(&e->argv[1], &e->argv[2]))
        return "ERR source and destination objects are the same";
    return NULL;
}

/* The writes of this file; *error is the Redis error text when the arguments are wrong.
 * Returns false when the command is not one of them. The caller has filled c->args with
 * the command's arguments (args, which it may rearrange) and zeroed the rest of c. */
bool node_write_parse_string(const struct node_exec *e, struct kv_command *c,
                             struct kv_bytes *args, const char **error)
{
    const struct resp_arg *name = &e->argv[0];
    *error = NULL;
    if (node_arg_is(name, "FLUSHALL") || node_arg_is(name, "FLUSHDB")) {
        *error = parse_flush(e, c);
    } else if (node_arg_is(name, "INCRBYFLOAT")) {
        c->op = KV_OP_INCRBYFLOAT; /* the increment is parsed on apply, with the value */
    } else if (node_arg_is(name, "SETRANGE")) {
        int64_t offset = 0;
        if (!arg_int64(&e->argv[2], &offset))
            *error = error_not_integer;
        else if (offset < 0)
            *error = "ERR offset is out of range";
        c->op = KV_OP_SETRANGE;
        c->delta = offset;
        /* k offset v -> k v */
        args[1] = args[2];
        c->arg_count = 2;
    } else if (node_arg_is(name, "SETBIT")) {
        *error = parse_setbit(e, c);
    } else if (node_arg_is(name, "RENAME") || node_arg_is(name, "RENAMENX")) {
        c->op = KV_OP_RENAME;
        c->flags = node_arg_is(name, "RENAMENX") ? KV_FLAG_NX : 0;
    } else if (node_arg_is(name, "COPY")) {
        *error = parse_copy(e, c);
    } else {
        return false;
    }
    return true;
}

/* The value of a key, copied into the node's get buffer. Returns false after replying an
 * error; *found tells whether the key exists. */
static bool value_read(struct node_group *group, struct resp_out *out, const struct resp_arg *key,
                       size_t *len, bool *found)
{
    int rv = kv_get(group->kv, (const uint8_t *)key->data, key->len, group->node->get_buffer,
                    NODE_GET_BUFFER_BYTES, len, found);
    if (rv == KV_ERR_WRONGTYPE) {
        resp_reply_error(out, node_error_wrongtype, strlen(node_error_wrongtype));
        return false;
    }
    if (rv != KV_OK) {
        resp_reply_error(out, "ERR storage read failed", 23);
        return false;
    }
    return true;
}

/* Redis's range rule of GETRANGE and BITCOUNT: negative indexes count from the end, then
 * both are clamped to [0, len - 1]. Returns false when the range is empty. */
static bool range_clamp(int64_t *start, int64_t *end, int64_t len)
{
    if (*start < 0 && *end < 0 && *start > *end)
        return false;
    if (*start < 0)
        *start += len;
    if (*end < 0)
        *end += len;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= len)
        *end = len - 1;
    return *start <= *end && len > 0;
}

static void serve_getrange(struct node_group *group, struct resp_out *out, const struct resp_arg *argv)
{
    int64_t start = 0, end = 0;
    if (!arg_int64(&argv[2], &start) || !arg_int64(&argv[3], &end)) {
        resp_reply_error(out, error_not_integer, sizeof(error_not_integer) - 1);
        return;
    }
    size_t len = 0;
    bool found = false;
    if (!value_read(group, out, &argv[1], &len, &found))
        return;
    if (!found || !range_clamp(&start, &end, (int64_t)len)) {
        resp_reply_bulk(out, "", 0);
        return;
    }
    resp_reply_bulk(out, group->node->get_buffer + start, (size_t)(end - start + 1));
}

static void serve_getbit(struct node_group *group, struct resp_out *out, const struct resp_arg *argv)
{
    int64_t offset = 0;
    if (!bit_offset_parse(&argv[2], &offset)) {
        resp_reply_error(out, error_bit_offset, sizeof(error_bit_offset) - 1);
        return;
    }
    size_t len = 0;
    bool found = false;
    if (!value_read(group, out, &argv[1], &len, &found))
        return;
    size_t byte = (size_t)(offset >> 3);
    bool bit = found && byte < len && (group->node->get_buffer[byte] & (1u << (7 - (offset & 7))));
    resp_reply_integer(out, bit ? 1 : 0);
}

static int64_t popcount(const uint8_t *p, size_t len)
{
    int64_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += __builtin_popcount(p[i]);
    return count;
}

/* BITCOUNT k [start end [BYTE|BIT]]: a missing key is 0 before any argument is looked at. */
static void serve_bitcount(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                           uint32_t argc)
{
    size_t len = 0;
    bool found = false;
    if (!value_read(group, out, &argv[1], &len, &found))
        return;
    if (!found) {
        resp_reply_integer(out, 0);
        return;
    }
    const uint8_t *p = group->node->get_buffer;
    int64_t start = 0, end = (int64_t)len - 1;
    uint8_t first_mask = 0, last_mask = 0;
    if (argc == 4 || argc == 5) {
        bool bits = false;
        if (!arg_int64(&argv[2], &start) || !arg_int64(&argv[3], &end)) {
            resp_reply_error(out, error_not_integer, sizeof(error_not_integer) - 1);
            return;
        }
        /* Redis answers an empty negative range before it looks at the unit. */
        if (start < 0 && end < 0 && start > end) {
            resp_reply_integer(out, 0);
            return;
        }
        if (argc == 5 && node_arg_is(&argv[4], "BIT"))
            bits = true;
        else if (argc == 5 && !node_arg_is(&argv[4], "BYTE")) {
            resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
            return;
        }
        int64_t total = bits ? (int64_t)len * 8 : (int64_t)len;
        if (!range_clamp(&start, &end, total)) {
            resp_reply_integer(out, 0);
            return;
        }
        if (bits) {
            /* The bits of the edge bytes outside the range are not counted. */
            first_mask = (uint8_t)(~((1u << (8 - (start & 7))) - 1) & 0xFF);
            last_mask = (uint8_t)((1u << (7 - (end & 7))) - 1);
            start >>= 3;
            end >>= 3;
        }
    } else if (argc != 2) {
        resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
        return;
    }
    if (start > end) {
        resp_reply_integer(out, 0);
        return;
    }
    int64_t count = popcount(p + start, (size_t)(end - start + 1));
    uint8_t edges[2] = {(uint8_t)(p[start] & first_mask), (uint8_t)(p[end] & last_mask)};
    count -= popcount(edges, 2);
    resp_reply_integer(out, count);
}

static void serve_type(struct node_group *group, struct resp_out *out, const struct resp_arg *argv)
{
    int type = KV_TYPE_NONE;
    uint64_t count = 0;
    if (kv_key_type(group->kv, (const uint8_t *)argv[1].data, argv[1].len, &type, &count) !=
        KV_OK) {
        resp_reply_error(out, "ERR storage read failed", 23);
        return;
    }
    const char *name = kv_type_name(type);
    resp_reply_simple(out, name, strlen(name));
}

/* MEMORY USAGE key [SAMPLES n]: key, value and the per-key overhead, or null. */
static void serve_memory(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                         uint32_t argc)
{
    if (!node_arg_is(&argv[1], "USAGE")) {
        char text[256];
        int n = snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try MEMORY HELP.",
                         (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].data);
        resp_reply_error(out, text, (size_t)n);
        return;
    }
    if (argc < 3) {
        static const char arity[] = "ERR wrong number of arguments for 'memory|usage' command";
        resp_reply_error(out, arity, sizeof(arity) - 1);
        return;
    }
    for (uint32_t i = 3; i < argc; i++) {
        int64_t samples = 0;
        if (!node_arg_is(&argv[i], "SAMPLES") || i + 1 >= argc) {
            resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
            return;
        }
        if (!arg_int64(&argv[i + 1], &samples)) {
            resp_reply_error(out, error_not_integer, sizeof(error_not_integer) - 1);
            return;
        }
        if (samples < 0) {
            resp_reply_error(out, error_syntax, sizeof(error_syntax) - 1);
            return;
        }
        i++;
    }
    size_t len = 0;
    bool found = false;
    int type = KV_TYPE_NONE;
    uint64_t count = 0;
    if (kv_key_type(group->kv, (const uint8_t *)argv[2].data, argv[2].len, &type, &count) !=
        KV_OK) {
        resp_reply_error(out, "ERR storage read failed", 23);
        return;
    }
    if (type != KV_TYPE_STRING && type != KV_TYPE_NONE) {
        /* A collection: an estimate per element, as Redis's own figure for one is. */
        resp_reply_integer(out, (int64_t)(count * NODE_MEMORY_ELEMENT_BYTES + argv[2].len +
                                          NODE_MEMORY_OVERHEAD_BYTES));
        return;
    }
    if (!value_read(group, out, &argv[2], &len, &found))
        return;
    if (!found)
        resp_reply_null(out);
    else
        resp_reply_integer(out, (int64_t)(len + argv[2].len + NODE_MEMORY_OVERHEAD_BYTES));
}

/* Serves the reads of this file; returns false when kind is not one of them. */
bool node_read_serve_string(struct node_group *group, struct resp_out *out, enum node_read_kind kind,
                            const struct resp_arg *argv, uint32_t argc)
{
    switch (kind) {
    case NODE_READ_GETRANGE:
        serve_getrange(group, out, argv);
        return true;
    case NODE_READ_GETBIT:
        serve_getbit(group, out, argv);
        return true;
    case NODE_READ_BITCOUNT:
        serve_bitcount(group, out, argv, argc);
        return true;
    case NODE_READ_LCS:
        node_lcs_serve(group, out, argv, argc);
        return true;
    case NODE_READ_TYPE:
        serve_type(group, out, argv);
        return true;
    case NODE_READ_MEMORY:
        serve_memory(group, out, argv, argc);
        return true;
    default:
        return false;
    }
}
