/*
 * json.c — the bounded JSON writer (json.h).
 */
#include "metrics/json.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *w, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = cap;
}

static void append(struct json *w, const char *bytes, size_t len)
{
    if (w->overflow)
        return;
    if (len > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, bytes, len);
    w->len += len;
}

static void append_char(struct json *w, char ch)
{
    append(w, &ch, 1);
}

/* Before any value: the separator it needs, and the check that a value may stand here (at
 * the top once, in an array, or in an object after its key). */
static void value_begin(struct json *w)
{
    if (w->depth == 0) {
        assert(!w->complete); /* one top-level value */
        return;
    }
    uint32_t top = w->depth - 1;
    if (w->in_object[top]) {
        assert(w->key_written); /* a member's value follows its key */
        w->key_written = false;
        return;
    }
    if (w->has_items[top])
        append_char(w, ',');
    w->has_items[top] = true;
}

/* After a value that is not a container's beginning. */
static void value_end(struct json *w)
{
    if (w->depth == 0)
        w->complete = true;
}

static void container_begin(struct json *w, bool object)
{
    value_begin(w);
    assert(w->depth < JSON_DEPTH_MAX);
    w->in_object[w->depth] = object;
    w->has_items[w->depth] = false;
    w->depth++;
    append_char(w, object ? '{' : '[');
}

static void container_end(struct json *w, bool object)
{
    assert(w->depth > 0);
    assert(w->in_object[w->depth - 1] == object);
    assert(!w->key_written); /* a key without its value */
    w->depth--;
    append_char(w, object ? '}' : ']');
    value_end(w);
}

void json_object_begin(struct json *w) { container_begin(w, true); }
void json_object_end(struct json *w) { container_end(w, true); }
void json_array_begin(struct json *w) { container_begin(w, false); }
void json_array_end(struct json *w) { container_end(w, false); }

/* The length of the valid UTF-8 sequence at s (of at most len bytes), or 0 when the bytes
 * there are not one (a stray continuation byte, an overlong form, a surrogate, a code point
 * above U+10FFFF, or a sequence cut short). */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

/* A string's quoted, escaped form. */
static void append_string(struct json *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    append_char(w, '"');
    size_t i = 0;
    while (i < len && !w->overflow) {
        /* The longest run that needs no escape goes in one append. */
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        append(w, s + i, run - i);
        i = run;
        if (i == len)
            break;
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_sequence_length(p + i, len - i);
            if (n == 0) {
                append(w, "\\ufffd", 6);
                i++;
            } else {
                append(w, s + i, n);
                i += n;
            }
            continue;
        }
        char escaped[6] = {'\\', 0, 0, 0, 0, 0};
        size_t escaped_len = 2;
        switch (c) {
        case '"': escaped[1] = '"'; break;
        case '\\': escaped[1] = '\\'; break;
        case '\n': escaped[1] = 'n'; break;
        case '\r': escaped[1] = 'r'; break;
        case '\t': escaped[1] = 't'; break;
        case '\b': escaped[1] = 'b'; break;
        case '\f': escaped[1] = 'f'; break;
        default:
            memcpy(escaped + 1, "u00", 3);
            escaped[4] = hex[c >> 4];
            escaped[5] = hex[c & 0xf];
            escaped_len = 6;
        }
        append(w, escaped, escaped_len);
        i++;
    }
    append_char(w, '"');
}

void json_key(struct json *w, const char *key)
{
    assert(key != NULL);
    assert(w->depth > 0 && w->in_object[w->depth - 1]);
    assert(!w->key_written);
    uint32_t top = w->depth - 1;
    if (w->has_items[top])
        append_char(w, ',');
    w->has_items[top] = true;
    append_string(w, key, strlen(key));
    append_char(w, ':');
    w->key_written = true;
}

void json_string_len(struct json *w, const char *s, size_t len)
{
    assert(s != NULL || len == 0);
    value_begin(w);
    append_string(w, s, len);
    value_end(w);
}

void json_string(struct json *w, const char *s)
{
    assert(s != NULL);
    json_string_len(w, s, strlen(s));
}

/* A number or literal already formatted. */
static void append_literal(struct json *w, const char *text, int len)
{
    assert(len > 0);
    value_begin(w);
    append(w, text, (size_t)len);
    value_end(w);
}

void json_u64(struct json *w, uint64_t value)
{
    char text[24];
    append_literal(w, text, snprintf(text, sizeof(text), "%" PRIu64, value));
}

void json_i64(struct json *w, int64_t value)
{
    char text[24];
    append_literal(w, text, snprintf(text, sizeof(text), "%" PRId64, value));
}

/* %.15g: 15 significant digits survive any double -> text -> double trip, and the forms it
 * writes (1.5, 1e+20, -0) are all JSON numbers. */
void json_double(struct json *w, double value)
{
    if (!isfinite(value)) {
        json_null(w);
        return;
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%.15g", value);
    assert(len > 0 && (size_t)len < sizeof(text));
    append_literal(w, text, len);
}

void json_bool(struct json *w, bool value)
{
    append_literal(w, value ? "true" : "false", value ? 4 : 5);
}

void json_null(struct json *w)
{
    append_literal(w, "null", 4);
}

void json_key_string(struct json *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_key_u64(struct json *w, const char *key, uint64_t value)
{
    json_key(w, key);
    json_u64(w, value);
}

void json_key_double(struct json *w, const char *key, double value)
{
    json_key(w, key);
    json_double(w, value);
}

void json_key_bool(struct json *w, const char *key, bool value)
{
    json_key(w, key);
    json_bool(w, value);
}

long json_finish(const struct json *w)
{
    assert(w->depth == 0 && w->complete);
    return w->overflow ? -1 : (long)w->len;
}
