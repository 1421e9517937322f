/*
 * resp.c — RESP request parsing and reply encoding (see resp.h).
 *
 * The parser mirrors Redis' networking.c rules and messages, with two deliberate differences
 * that only make it stricter: a bulk string must be followed by "\r\n" (Redis skips two bytes
 * unchecked), and a header line's '\r' must be followed by '\n'. A wrong type byte in place of
 * '$' is reported as soon as it arrives rather than once its line is complete.
 */
#include "net/resp.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RESP_ARGS_CAPACITY_MIN = 8,         /* first allocation of the argument arrays */
    RESP_INLINE_CAPACITY_MIN = 64,      /* first allocation of the inline argument buffer */
    RESP_OUT_CAPACITY_MIN = 4096,       /* first allocation of an output buffer */
    RESP_INT64_CHARS_MAX = 20,          /* "-9223372036854775808" */
    RESP_HEADER_BYTES_MAX = 1 + RESP_INT64_CHARS_MAX + 2, /* type, digits, CRLF */
};

void resp_limits_default(struct resp_limits *limits)
{
    limits->args_max = RESP_ARGS_MAX_DEFAULT;
    limits->bulk_bytes_max = RESP_BULK_BYTES_MAX_DEFAULT;
    limits->inline_bytes_max = RESP_INLINE_BYTES_MAX_DEFAULT;
}

/* Forgets the progress within the current command; keeps allocations and a past error. */
static void resp_progress_reset(struct resp_parser *p)
{
    p->pos = 0;
    p->scan = 0;
    p->args_expected = 0;
    p->bulk_len = -1;
    p->argc = 0;
}

void resp_parser_init(struct resp_parser *parser, const struct resp_limits *limits)
{
    assert(parser != NULL);
    memset(parser, 0, sizeof(*parser));
    if (limits != NULL) {
        parser->limits = *limits;
    } else {
        resp_limits_default(&parser->limits);
    }
    assert(parser->limits.args_max >= 1);
    assert(parser->limits.bulk_bytes_max >= 1);
    assert(parser->limits.bulk_bytes_max <= INT64_MAX / 2);
    assert(parser->limits.inline_bytes_max >= 16);
    resp_progress_reset(parser);
}

void resp_parser_free(struct resp_parser *parser)
{
    free(parser->spans);
    free(parser->argv);
    free(parser->inline_buf);
    struct resp_limits limits = parser->limits;
    resp_parser_init(parser, &limits);
}

void resp_parser_reset(struct resp_parser *parser)
{
    resp_progress_reset(parser);
    parser->failed = false;
    parser->error[0] = '\0';
}

bool resp_string_to_int64(const char *s, size_t len, int64_t *value)
{
    if (len == 0 || len > RESP_INT64_CHARS_MAX) return false;
    if (len == 1 && s[0] == '0') {
        *value = 0;
        return true;
    }
    size_t i = 0;
    bool negative = s[0] == '-';
    if (negative) i = 1;
    if (i >= len || s[i] < '1' || s[i] > '9') return false; /* no "-", "+1", "01", "-0" */
    uint64_t v = 0;
    for (; i < len; i++) { /* bounded by RESP_INT64_CHARS_MAX */
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *value = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *value = (int64_t)v;
    }
    return true;
}

/* ---- parser ----------------------------------------------------------------------------- */

/* Records a protocol error; it stays until resp_parser_reset. '\r', '\n' and NUL become spaces
 * so the message can be sent as an error line (Redis' addReplyErrorFormat does the same). */
__attribute__((format(printf, 2, 3)))
static int resp_fail(struct resp_parser *p, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(p->error, sizeof(p->error), format, args);
    va_end(args);
    assert(n > 0 && (size_t)n < sizeof(p->error));
    for (int i = 0; i < n; i++) {
        if (p->error[i] == '\r' || p->error[i] == '\n' || p->error[i] == '\0') p->error[i] = ' ';
    }
    p->failed = true;
    return RESP_PARSE_ERROR;
}

/* Appends one argument span. The arrays grow geometrically, never beyond args_max, and only as
 * arguments actually arrive: an announced count costs nothing until its bytes are here. */
static bool resp_push_arg(struct resp_parser *p, size_t offset, size_t len)
{
    assert(p->argc < p->limits.args_max);
    if (p->argc == p->args_capacity) {
        uint64_t capacity = p->args_capacity ? 2ull * p->args_capacity : RESP_ARGS_CAPACITY_MIN;
        if (capacity > p->limits.args_max) capacity = p->limits.args_max;
        struct resp_arg_span *spans = realloc(p->spans, capacity * sizeof(*spans));
        if (spans == NULL) return false;
        p->spans = spans;
        struct resp_arg *argv = realloc(p->argv, capacity * sizeof(*argv));
        if (argv == NULL) return false;
        p->argv = argv;
        p->args_capacity = (uint32_t)capacity;
    }
    p->spans[p->argc].offset = offset;
    p->spans[p->argc].len = len;
    p->argc++;
    return true;
}

/* Hands out the command whose arguments live at base + span offsets, and starts the next. */
static int resp_complete(struct resp_parser *p, const uint8_t *base, struct resp_command *cmd)
{
    for (uint32_t i = 0; i < p->argc; i++) {
        p->argv[i].data = (const char *)base + p->spans[i].offset;
        p->argv[i].len = p->spans[i].len;
    }
    cmd->argc = p->argc;
    cmd->argv = p->argc > 0 ? p->argv : NULL;
    cmd->consumed = p->pos;
    resp_progress_reset(p);
    return RESP_PARSE_COMPLETE;
}

/*
 * Finds the "\r\n" ending the header line that starts at `start`. Returns 1 with *cr at the
 * '\r', 0 when more bytes are needed, -1 when the line exceeds inline_bytes_max (Redis' bound
 * on '*' and '$' lines). p->scan remembers how far the line was searched, so a line arriving
 * byte by byte is searched once in all.
 */
static int resp_find_line(struct resp_parser *p, const uint8_t *buf, size_t len, size_t start,
                          size_t *cr)
{
    size_t from = start + p->scan;
    assert(from <= len);
    const uint8_t *hit = memchr(buf + from, '\r', len - from);
    if (hit == NULL) {
        p->scan = len - start;
        return len - start > p->limits.inline_bytes_max ? -1 : 0;
    }
    *cr = (size_t)(hit - buf);
    if (*cr - start > p->limits.inline_bytes_max) return -1;
    if (*cr + 1 >= len) {
        p->scan = *cr - start; /* the '\n' is not here yet */
        return 0;
    }
    p->scan = 0;
    return 1;
}

/* "*<count>\r\n". A count <= 0 is an empty command, consumed with argc 0 (as in Redis). */
static int resp_read_multibulk_header(struct resp_parser *p, const uint8_t *buf, size_t len)
{
    size_t cr = 0;
    int found = resp_find_line(p, buf, len, 0, &cr);
    if (found < 0) return resp_fail(p, "Protocol error: too big mbulk count string");
    if (found == 0) return RESP_PARSE_NEED_MORE;
    int64_t count = 0;
    if (buf[cr + 1] != '\n' || !resp_string_to_int64((const char *)buf + 1, cr - 1, &count) ||
        count > (int64_t)p->limits.args_max) {
        return resp_fail(p, "Protocol error: invalid multibulk length");
    }
    p->pos = cr + 2;
    p->args_expected = count > 0 ? count : 0;
    return RESP_PARSE_COMPLETE;
}

/* "$<len>\r\n" at p->pos. */
static int resp_read_bulk_header(struct resp_parser *p, const uint8_t *buf, size_t len)
{
    if (p->pos >= len) return RESP_PARSE_NEED_MORE;
    if (buf[p->pos] != '$') {
        return resp_fail(p, "Protocol error: expected '$', got '%c'", buf[p->pos]);
    }
    size_t cr = 0;
    int found = resp_find_line(p, buf, len, p->pos, &cr);
    if (found < 0) return resp_fail(p, "Protocol error: too big bulk count string");
    if (found == 0) return RESP_PARSE_NEED_MORE;
    int64_t bulk_len = 0;
    const char *digits = (const char *)buf + p->pos + 1;
    if (buf[cr + 1] != '\n' || !resp_string_to_int64(digits, cr - p->pos - 1, &bulk_len) ||
        bulk_len < 0 || (uint64_t)bulk_len > p->limits.bulk_bytes_max) {
        return resp_fail(p, "Protocol error: invalid bulk length");
    }
    p->bulk_len = bulk_len;
    p->pos = cr + 2;
    return RESP_PARSE_COMPLETE;
}

static int resp_parse_multibulk(struct resp_parser *p, const uint8_t *buf, size_t len,
                                struct resp_command *cmd)
{
    if (p->pos == 0) {
        int rc = resp_read_multibulk_header(p, buf, len);
        if (rc != RESP_PARSE_COMPLETE) return rc;
        if (p->args_expected == 0) return resp_complete(p, buf, cmd);
    }
    /* Bounded: args_expected <= args_max, and each pass adds an argument or returns. */
    while (p->argc < p->args_expected) {
        if (p->bulk_len < 0) {
            int rc = resp_read_bulk_header(p, buf, len);
            if (rc != RESP_PARSE_COMPLETE) return rc;
        }
        size_t bulk_len = (size_t)p->bulk_len;
        if (len - p->pos < bulk_len + 2) return RESP_PARSE_NEED_MORE;
        if (buf[p->pos + bulk_len] != '\r' || buf[p->pos + bulk_len + 1] != '\n') {
            return resp_fail(p, "Protocol error: bulk string not terminated by CRLF");
        }
        if (!resp_push_arg(p, p->pos, bulk_len)) {
            return resp_fail(p, "Protocol error: out of memory for arguments");
        }
        p->pos += bulk_len + 2;
        p->bulk_len = -1;
    }
    return resp_complete(p, buf, cmd);
}

/* The byte at i of a line, or 0 past its end: sdssplitargs reads a NUL-terminated string. */
static uint8_t resp_at(const uint8_t *line, size_t n, size_t i)
{
    return i < n ? line[i] : 0;
}

static bool resp_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool resp_is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint8_t resp_hex_value(uint8_t c)
{
    if (c <= '9') return (uint8_t)(c - '0');
    if (c <= 'F') return (uint8_t)(c - 'A' + 10);
    return (uint8_t)(c - 'a' + 10);
}

static uint8_t resp_unescape(uint8_t c)
{
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
    }
}

/*
 * One argument of an inline line, from line[*i], written to dst[*out..]: sdssplitargs' rules.
 * Unquoted, it ends at ' ', '\t', '\r', '\n' or NUL. In "double quotes" \xHH and \n \r \t \b \a
 * are escapes (any other escaped byte is itself); in 'single quotes' only \' is. A closing
 * quote must be followed by whitespace or the end. Returns false for unbalanced quotes.
 * Each pass consumes at least one byte and writes at most one, so the loop ends within n + 1
 * passes and the output is never longer than the input.
 */
static bool resp_split_one(const uint8_t *line, size_t n, size_t *i, uint8_t *dst, size_t *out)
{
    uint8_t quote = 0;
    for (;;) {
        uint8_t c = resp_at(line, n, *i), c1 = resp_at(line, n, *i + 1);
        if (quote == '"') {
            if (c == '\\' && c1 == 'x' && resp_is_hex(resp_at(line, n, *i + 2)) &&
                resp_is_hex(resp_at(line, n, *i + 3))) {
                dst[(*out)++] = (uint8_t)(resp_hex_value(line[*i + 2]) * 16 +
                                          resp_hex_value(line[*i + 3]));
                *i += 4;
            } else if (c == '\\' && c1 != 0) {
                dst[(*out)++] = resp_unescape(c1);
                *i += 2;
            } else if (c == '"') {
                if (c1 != 0 && !resp_is_space(c1)) return false;
                *i += 1;
                return true;
            } else if (c == 0) {
                return false;
            } else {
                dst[(*out)++] = c;
                *i += 1;
            }
        } else if (quote == '\'') {
            if (c == '\\' && c1 == '\'') {
                dst[(*out)++] = '\'';
                *i += 2;
            } else if (c == '\'') {
                if (c1 != 0 && !resp_is_space(c1)) return false;
                *i += 1;
                return true;
            } else if (c == 0) {
                return false;
            } else {
                dst[(*out)++] = c;
                *i += 1;
            }
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == 0) {
            if (c != 0) *i += 1;
            return true;
        } else if (c == '"' || c == '\'') {
            quote = c;
            *i += 1;
        } else {
            dst[(*out)++] = c;
            *i += 1;
        }
    }
}

/* Splits line[0..n) into arguments in p->inline_buf. Stops at a NUL byte, as Redis does. */
static int resp_split_inline(struct resp_parser *p, const uint8_t *line, size_t n)
{
    size_t i = 0, out = 0;
    for (;;) { /* bounded: every argument consumes at least one byte of the line */
        while (i < n && resp_is_space(line[i])) i++;
        if (i >= n || line[i] == 0) return RESP_PARSE_COMPLETE;
        if (p->argc >= p->limits.args_max) {
            return resp_fail(p, "Protocol error: too big inline request");
        }
        size_t start = out;
        if (!resp_split_one(line, n, &i, p->inline_buf, &out)) {
            return resp_fail(p, "Protocol error: unbalanced quotes in request");
        }
        assert(out <= i && out <= p->inline_capacity);
        if (!resp_push_arg(p, start, out - start)) {
            return resp_fail(p, "Protocol error: out of memory for arguments");
        }
    }
}

/* Unquoting never lengthens an argument, so a line's length is room enough. The buffer grows
 * to the longest line seen (at most inline_bytes_max), so PING costs 64 bytes, not 64 KiB. */
static bool resp_reserve_inline(struct resp_parser *p, size_t line_len)
{
    assert(line_len <= p->limits.inline_bytes_max);
    if (line_len <= p->inline_capacity && p->inline_buf != NULL) return true;
    size_t capacity = p->inline_capacity ? p->inline_capacity : RESP_INLINE_CAPACITY_MIN;
    while (capacity < line_len) capacity *= 2; /* bounded: line_len <= inline_bytes_max */
    if (capacity > p->limits.inline_bytes_max) capacity = p->limits.inline_bytes_max;
    uint8_t *buf = realloc(p->inline_buf, capacity);
    if (buf == NULL) return false;
    p->inline_buf = buf;
    p->inline_capacity = capacity;
    return true;
}

/* A line ending in "\n" or "\r\n", at most inline_bytes_max bytes before that ending. */
static int resp_parse_inline(struct resp_parser *p, const uint8_t *buf, size_t len,
                             struct resp_command *cmd)
{
    assert(p->scan <= len);
    const uint8_t *newline = memchr(buf + p->scan, '\n', len - p->scan);
    if (newline == NULL) {
        p->scan = len;
        /* One more byte than the bound may be the '\r' of a line exactly at the bound. */
        if (len > p->limits.inline_bytes_max + 1) {
            return resp_fail(p, "Protocol error: too big inline request");
        }
        return RESP_PARSE_NEED_MORE;
    }
    size_t line_len = (size_t)(newline - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r') line_len--;
    if (line_len > p->limits.inline_bytes_max) {
        return resp_fail(p, "Protocol error: too big inline request");
    }
    if (!resp_reserve_inline(p, line_len)) {
        return resp_fail(p, "Protocol error: out of memory for arguments");
    }
    int rc = resp_split_inline(p, buf, line_len);
    if (rc != RESP_PARSE_COMPLETE) return rc;
    p->pos = (size_t)(newline - buf) + 1;
    return resp_complete(p, p->inline_buf, cmd);
}

int resp_parse(struct resp_parser *parser, const uint8_t *buf, size_t len,
               struct resp_command *command)
{
    assert(parser != NULL && command != NULL);
    assert(buf != NULL || len == 0);
    memset(command, 0, sizeof(*command));
    if (parser->failed) return RESP_PARSE_ERROR;
    /* The caller passes at least the bytes it passed before (see resp.h). */
    assert(len >= parser->pos && len >= parser->scan);
    if (len == 0) return RESP_PARSE_NEED_MORE;
    if (buf[0] == '*') return resp_parse_multibulk(parser, buf, len, command);
    return resp_parse_inline(parser, buf, len, command);
}

/* ---- replies ---------------------------------------------------------------------------- */

void resp_out_init(struct resp_out *out, size_t bytes_max, int protocol)
{
    assert(out != NULL);
    assert(bytes_max >= RESP_HEADER_BYTES_MAX);
    memset(out, 0, sizeof(*out));
    out->bytes_max = bytes_max;
    resp_out_set_protocol(out, protocol);
}

void resp_out_free(struct resp_out *out)
{
    free(out->data);
    out->data = NULL;
    out->len = 0;
    out->capacity = 0;
}

void resp_out_consume(struct resp_out *out, size_t bytes)
{
    assert(bytes <= out->len);
    memmove(out->data, out->data + bytes, out->len - bytes);
    out->len -= bytes;
}

void resp_out_set_protocol(struct resp_out *out, int protocol)
{
    assert(protocol == 2 || protocol == 3);
    out->protocol = protocol;
}

/* Makes room for `bytes` more, within bytes_max. On failure nothing changes except the sticky
 * `overflowed`, so a reply is written whole or not at all. */
static bool resp_out_reserve(struct resp_out *out, size_t bytes)
{
    if (out->overflowed) return false;
    if (bytes > out->bytes_max - out->len) {
        out->overflowed = true;
        return false;
    }
    size_t needed = out->len + bytes;
    if (needed <= out->capacity) return true;
    size_t capacity = out->capacity ? out->capacity : RESP_OUT_CAPACITY_MIN;
    while (capacity < needed) capacity = capacity > SIZE_MAX / 2 ? SIZE_MAX : capacity * 2;
    if (capacity > out->bytes_max) capacity = out->bytes_max;
    uint8_t *data = realloc(out->data, capacity);
    if (data == NULL) {
        out->overflowed = true;
        return false;
    }
    out->data = data;
    out->capacity = capacity;
    return true;
}

static void resp_out_put(struct resp_out *out, const void *bytes, size_t len)
{
    assert(out->capacity - out->len >= len);
    if (len > 0) memcpy(out->data + out->len, bytes, len);
    out->len += len;
}

/* Writes `value` in decimal to digits (RESP_INT64_CHARS_MAX bytes); returns the length. */
static size_t resp_format_uint(char *digits, uint64_t value, bool negative)
{
    char reversed[RESP_INT64_CHARS_MAX];
    size_t n = 0;
    do {
        reversed[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0); /* at most 20 digits */
    size_t len = 0;
    if (negative) digits[len++] = '-';
    while (n > 0) digits[len++] = reversed[--n];
    assert(len <= RESP_INT64_CHARS_MAX);
    return len;
}

/* A header line: type byte, number, CRLF (":5", "*3", "$-1"...). */
static int resp_reply_header(struct resp_out *out, char type, uint64_t value, bool negative)
{
    char line[RESP_HEADER_BYTES_MAX];
    line[0] = type;
    size_t len = 1 + resp_format_uint(line + 1, value, negative);
    line[len++] = '\r';
    line[len++] = '\n';
    if (!resp_out_reserve(out, len)) return -1;
    resp_out_put(out, line, len);
    return 0;
}

/* prefix + text with CR/LF replaced by spaces + CRLF, all or nothing. */
static int resp_reply_line(struct resp_out *out, const char *prefix, const char *text, size_t len)
{
    assert(text != NULL || len == 0);
    size_t prefix_len = strlen(prefix);
    if (len > SIZE_MAX - prefix_len - 2) {
        out->overflowed = true;
        return -1;
    }
    if (!resp_out_reserve(out, prefix_len + len + 2)) return -1;
    resp_out_put(out, prefix, prefix_len);
    uint8_t *dst = out->data + out->len;
    resp_out_put(out, text, len);
    for (size_t i = 0; i < len; i++) {
        if (dst[i] == '\r' || dst[i] == '\n') dst[i] = ' ';
    }
    resp_out_put(out, "\r\n", 2);
    return 0;
}

int resp_reply_simple(struct resp_out *out, const char *text, size_t len)
{
    return resp_reply_line(out, "+", text, len);
}

int resp_reply_error(struct resp_out *out, const char *text, size_t len)
{
    if (len > 0 && text[0] == '-') return resp_reply_line(out, "", text, len);
    if (len == 0) return resp_reply_line(out, "-ERR", NULL, 0);
    return resp_reply_line(out, "-", text, len);
}

int resp_reply_integer(struct resp_out *out, int64_t value)
{
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    return resp_reply_header(out, ':', magnitude, value < 0);
}

int resp_reply_raw(struct resp_out *out, const void *bytes, size_t len)
{
    if (!resp_out_reserve(out, len))
        return -1;
    resp_out_put(out, bytes, len);
    return 0;
}

int resp_reply_bulk(struct resp_out *out, const void *data, size_t len)
{
    assert(data != NULL || len == 0);
    char header[RESP_HEADER_BYTES_MAX];
    header[0] = '$';
    size_t header_len = 1 + resp_format_uint(header + 1, len, false);
    header[header_len++] = '\r';
    header[header_len++] = '\n';
    if (len > SIZE_MAX - header_len - 2) {
        out->overflowed = true;
        return -1;
    }
    if (!resp_out_reserve(out, header_len + len + 2)) return -1;
    resp_out_put(out, header, header_len);
    resp_out_put(out, data, len);
    resp_out_put(out, "\r\n", 2);
    return 0;
}

int resp_reply_null(struct resp_out *out)
{
    if (out->protocol == 3) return resp_reply_line(out, "_", NULL, 0);
    return resp_reply_header(out, '$', 1, true);
}

int resp_reply_null_array(struct resp_out *out)
{
    if (out->protocol == 3) return resp_reply_line(out, "_", NULL, 0);
    return resp_reply_header(out, '*', 1, true);
}

int resp_reply_array(struct resp_out *out, uint64_t count)
{
    return resp_reply_header(out, '*', count, false);
}

int resp_reply_map(struct resp_out *out, uint64_t pairs)
{
    assert(pairs <= UINT64_MAX / 2);
    if (out->protocol == 3) return resp_reply_header(out, '%', pairs, false);
    return resp_reply_header(out, '*', 2 * pairs, false);
}

int resp_reply_set(struct resp_out *out, uint64_t count)
{
    return resp_reply_header(out, out->protocol == 3 ? '~' : '*', count, false);
}

/* ---- reply boundaries ---------------------------------------------------------------------- */

/* The end of the line that starts at `at` (the index after its "\r\n"), or 0 when the bytes
 * end first. */
static size_t resp_line_end(const uint8_t *buf, size_t len, size_t at)
{
    for (size_t i = at; i + 1 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n')
            return i + 2;
    return 0;
}

/* A signed decimal between `from` and the line's "\r\n" (bounded by 19 digits). */
static bool resp_line_number(const uint8_t *buf, size_t from, size_t end, int64_t *value)
{
    size_t i = from;
    bool negative = i < end - 2 && buf[i] == '-';
    i += negative;
    if (i >= end - 2 || end - 2 - i > 19)
        return false;
    int64_t v = 0;
    for (; i < end - 2; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return false;
        v = v * 10 + (buf[i] - '0');
    }
    *value = negative ? -v : v;
    return true;
}

static size_t resp_reply_end(const uint8_t *buf, size_t len, size_t at, uint32_t depth)
{
    if (at >= len || depth > RESP_REPLY_DEPTH_MAX)
        return 0;
    size_t line = resp_line_end(buf, len, at);
    if (line == 0)
        return 0;
    int64_t n = 0;
    switch (buf[at]) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return line;
    case '$': case '=': case '!':
        if (!resp_line_number(buf, at + 1, line, &n))
            return 0;
        if (n < 0)
            return line; /* $-1 */
        if ((uint64_t)n > len - line || len - line - (size_t)n < 2)
            return 0;
        return line + (size_t)n + 2;
    case '*': case '~': case '>': case '%': case '|': {
        if (!resp_line_number(buf, at + 1, line, &n))
            return 0;
        if (n < 0)
            return line; /* *-1 */
        uint64_t elements = (uint64_t)n * (buf[at] == '%' || buf[at] == '|' ? 2 : 1);
        size_t end = line;
        for (uint64_t i = 0; i < elements; i++) { /* bounded: each element takes >= 3 bytes */
            end = resp_reply_end(buf, len, end, depth + 1);
            if (end == 0)
                return 0;
        }
        /* An attribute (|) precedes the reply it describes. */
        return buf[at] == '|' ? resp_reply_end(buf, len, end, depth + 1) : end;
    }
    default:
        return 0;
    }
}

size_t resp_reply_length(const uint8_t *buf, size_t len)
{
    return resp_reply_end(buf, len, 0, 0);
}
