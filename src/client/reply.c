/*
 * reply.c — the bounded RESP2 reply reader (see reply.h).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/reply.h"

void client_reply_limits_default(struct client_reply_limits *limits)
{
    *limits = (struct client_reply_limits){
        .line_bytes_max = CLIENT_REPLY_LINE_BYTES_MAX_DEFAULT,
        .bulk_bytes_max = CLIENT_REPLY_BULK_BYTES_MAX_DEFAULT,
        .elements_max = CLIENT_REPLY_ELEMENTS_MAX_DEFAULT,
        .nodes_max = CLIENT_REPLY_NODES_MAX_DEFAULT,
        .depth_max = CLIENT_REPLY_DEPTH_MAX,
    };
}

/* One walk over the bytes. The sizing pass (nodes == NULL) validates and counts; the build pass
 * fills `nodes` and `strings`, sized by the first, over the same bytes, so it cannot fail. */
struct reply_walk {
    const char *data;
    size_t len;
    size_t pos;
    const struct client_reply_limits *limits;
    struct client_reply *nodes; /* build pass only */
    char *strings;              /* build pass only */
    size_t node_count;          /* nodes reserved so far, the root included */
    size_t string_bytes;        /* string bytes so far, NULs included */
    char *error;                /* may be NULL */
};

struct reply_level {
    struct client_reply *elements; /* build pass: the slots of this array; else NULL */
    size_t next;
    size_t count;
};

static int walk_fail(struct reply_walk *w, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int walk_fail(struct reply_walk *w, const char *format, ...)
{
    assert(w->nodes == NULL); /* the build pass sees bytes that the sizing pass accepted */
    if (w->error != NULL) {
        va_list args;
        va_start(args, format);
        vsnprintf(w->error, CLIENT_REPLY_ERROR_BYTES_MAX, format, args);
        va_end(args);
    }
    return CLIENT_PARSE_ERROR;
}

/* Finds the line that starts at w->pos (its type byte included) and ends with "\r\n".
 * On COMPLETE, [*start, *start + *length) is the text after the type byte and w->pos moves past
 * the terminator. A bare '\r' or '\n' inside a line is an error. */
static int walk_line(struct reply_walk *w, const char **start, size_t *length)
{
    size_t limit = w->limits->line_bytes_max;
    size_t available = w->len - w->pos;
    size_t scan_max = available < limit ? available : limit; /* bounded by line_bytes_max */
    for (size_t i = 1; i < scan_max; i++) {
        char c = w->data[w->pos + i];
        if (c == '\n')
            return walk_fail(w, "bare LF in a reply line");
        if (c != '\r')
            continue;
        if (i + 1 >= available)
            return CLIENT_PARSE_NEED_MORE;
        if (w->data[w->pos + i + 1] != '\n')
            return walk_fail(w, "CR not followed by LF in a reply line");
        *start = w->data + w->pos + 1;
        *length = i - 1;
        w->pos += i + 2;
        return CLIENT_PARSE_COMPLETE;
    }
    if (available >= limit)
        return walk_fail(w, "reply line longer than %zu bytes", limit);
    return CLIENT_PARSE_NEED_MORE;
}

/* Strict decimal: an optional '-', then 1..19 digits, no overflow. */
static bool parse_int64(const char *text, size_t length, int64_t *value)
{
    bool negative = length > 0 && text[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i == length || length - i > 19)
        return false;
    uint64_t magnitude = 0;
    for (; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        magnitude = magnitude * 10 + (uint64_t)(text[i] - '0'); /* 19 digits fit in u64 */
    }
    if (magnitude > (negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return false;
    *value = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return true;
}

static void walk_set_string(struct reply_walk *w, struct client_reply *slot,
                            enum client_reply_type type, const char *text, size_t length)
{
    if (slot != NULL) {
        char *copy = w->strings + w->string_bytes;
        memcpy(copy, text, length);
        copy[length] = '\0';
        slot->type = type;
        slot->string = copy;
        slot->length = length;
    }
    w->string_bytes += length + 1;
}

/* Reads one element into `slot` (NULL in the sizing pass). An array with elements pushes a
 * level onto `stack` (*depth levels in use). */
static int walk_element(struct reply_walk *w, struct client_reply *slot,
                        struct reply_level *stack, uint32_t *depth)
{
    if (w->pos >= w->len)
        return CLIENT_PARSE_NEED_MORE;
    char type = w->data[w->pos];
    const char *text = NULL;
    size_t length = 0;
    int64_t n = 0;
    int rc = walk_line(w, &text, &length);
    if (rc != CLIENT_PARSE_COMPLETE)
        return rc;
    switch (type) {
    case '+':
    case '-':
        walk_set_string(w, slot, type == '+' ? CLIENT_REPLY_STATUS : CLIENT_REPLY_ERROR, text,
                        length);
        return CLIENT_PARSE_COMPLETE;
    case ':':
        if (!parse_int64(text, length, &n))
            return walk_fail(w, "bad integer reply");
        if (slot != NULL)
            *slot = (struct client_reply){.type = CLIENT_REPLY_INTEGER, .integer = n};
        return CLIENT_PARSE_COMPLETE;
    case '$':
        if (!parse_int64(text, length, &n) || n < -1)
            return walk_fail(w, "bad bulk length");
        if (n == -1) {
            if (slot != NULL)
                *slot = (struct client_reply){.type = CLIENT_REPLY_NIL};
            return CLIENT_PARSE_COMPLETE;
        }
        if ((uint64_t)n > w->limits->bulk_bytes_max)
            return walk_fail(w, "bulk length %lld over the limit %zu", (long long)n,
                             w->limits->bulk_bytes_max);
        if (w->len - w->pos < (size_t)n + 2)
            return CLIENT_PARSE_NEED_MORE;
        if (w->data[w->pos + (size_t)n] != '\r' || w->data[w->pos + (size_t)n + 1] != '\n')
            return walk_fail(w, "bulk string not followed by CRLF");
        walk_set_string(w, slot, CLIENT_REPLY_BULK, w->data + w->pos, (size_t)n);
        w->pos += (size_t)n + 2;
        return CLIENT_PARSE_COMPLETE;
    case '*':
        if (!parse_int64(text, length, &n) || n < -1)
            return walk_fail(w, "bad array length");
        if (n == -1) {
            if (slot != NULL)
                *slot = (struct client_reply){.type = CLIENT_REPLY_NIL_ARRAY};
            return CLIENT_PARSE_COMPLETE;
        }
        if ((uint64_t)n > w->limits->elements_max)
            return walk_fail(w, "array length %lld over the limit %zu", (long long)n,
                             w->limits->elements_max);
        if ((size_t)n > w->limits->nodes_max - w->node_count)
            return walk_fail(w, "reply has more than %zu elements", w->limits->nodes_max);
        if (n > 0 && *depth + 1 > w->limits->depth_max)
            return walk_fail(w, "arrays nested deeper than %u", w->limits->depth_max);
        struct client_reply *elements = slot != NULL ? w->nodes + w->node_count : NULL;
        if (slot != NULL)
            *slot = (struct client_reply){.type = CLIENT_REPLY_ARRAY, .elements = elements,
                                          .count = (size_t)n};
        w->node_count += (size_t)n;
        if (n > 0) {
            assert(*depth < CLIENT_REPLY_DEPTH_MAX);
            stack[(*depth)++] = (struct reply_level){.elements = elements, .count = (size_t)n};
        }
        return CLIENT_PARSE_COMPLETE;
    default:
        return walk_fail(w, "unknown reply type byte 0x%02x", (unsigned char)type);
    }
}

/* Walks one whole reply, depth first, with an explicit stack. Each step reads one element, so
 * the loop runs at most nodes_max times. */
static int walk_reply(struct reply_walk *w)
{
    struct reply_level stack[CLIENT_REPLY_DEPTH_MAX];
    uint32_t depth = 1;
    stack[0] = (struct reply_level){.elements = w->nodes, .count = 1};
    w->node_count = 1;
    w->string_bytes = 0;
    w->pos = 0;
    while (depth > 0) {
        struct reply_level *level = &stack[depth - 1];
        if (level->next == level->count) {
            depth--;
            continue;
        }
        struct client_reply *slot = level->elements ? &level->elements[level->next] : NULL;
        level->next++;
        int rc = walk_element(w, slot, stack, &depth);
        if (rc != CLIENT_PARSE_COMPLETE)
            return rc;
    }
    return CLIENT_PARSE_COMPLETE;
}

int client_reply_parse(const char *data, size_t len, const struct client_reply_limits *limits,
                       struct client_reply **reply, size_t *consumed, char *error)
{
    struct client_reply_limits defaults;
    if (limits == NULL) {
        client_reply_limits_default(&defaults);
        limits = &defaults;
    }
    assert(limits->line_bytes_max >= 16);
    assert(limits->nodes_max >= 1);
    assert(limits->depth_max >= 1 && limits->depth_max <= CLIENT_REPLY_DEPTH_MAX);
    *reply = NULL;
    *consumed = 0;
    if (error != NULL)
        error[0] = '\0';
    struct reply_walk w = {.data = data, .len = len, .limits = limits, .error = error};
    int rc = walk_reply(&w);
    if (rc != CLIENT_PARSE_COMPLETE)
        return rc;
    size_t nodes_bytes = w.node_count * sizeof(struct client_reply);
    char *block = malloc(nodes_bytes + w.string_bytes);
    if (block == NULL)
        return CLIENT_PARSE_NO_MEMORY;
    size_t sized_nodes = w.node_count, sized_bytes = w.string_bytes, sized_pos = w.pos;
    w.nodes = (struct client_reply *)(void *)block;
    w.strings = block + nodes_bytes;
    rc = walk_reply(&w);
    assert(rc == CLIENT_PARSE_COMPLETE);
    assert(w.node_count == sized_nodes && w.string_bytes == sized_bytes && w.pos == sized_pos);
    *reply = w.nodes;
    *consumed = w.pos;
    return CLIENT_PARSE_COMPLETE;
}

void client_reply_free(struct client_reply *reply)
{
    free(reply); /* one block: the nodes, then the strings */
}

const char *client_reply_type_name(enum client_reply_type type)
{
    switch (type) {
    case CLIENT_REPLY_STATUS: return "status";
    case CLIENT_REPLY_ERROR: return "error";
    case CLIENT_REPLY_INTEGER: return "integer";
    case CLIENT_REPLY_BULK: return "bulk";
    case CLIENT_REPLY_NIL: return "nil";
    case CLIENT_REPLY_ARRAY: return "array";
    case CLIENT_REPLY_NIL_ARRAY: return "nil array";
    }
    return "?";
}

int client_reply_is_error(const struct client_reply *reply, const char *word)
{
    size_t n = strlen(word);
    return reply->type == CLIENT_REPLY_ERROR && reply->length >= n &&
           strncasecmp(reply->string, word, n) == 0 &&
           (reply->length == n || reply->string[n] == ' ');
}
