/*
 * parse.c — the JSON-lines history format.
 *
 * Each line is one flat object whose values are strings, integers or null:
 *   {"client":1,"op":"cas","key":"k","expect":"a","value":"b","call":5,"return":9,"output":"ok"}
 * This is a small strict parser for exactly that, not a general JSON reader: nested values,
 * floats, true/false, unknown or repeated fields are rejected with the line and the reason,
 * because a history that is silently misread would give a verdict about something else.
 * Strings take every JSON escape; \uXXXX (with surrogate pairs) becomes UTF-8. \u0000 is
 * refused: keys and values are C strings.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

enum {
    PARSE_LINE_BYTES_MAX = 8u << 20,  /* a 1 MiB value written with escapes fits */
    PARSE_FIELD_NAME_BYTES_MAX = 16,
    PARSE_FIELDS_PER_LINE_MAX = 8,    /* = PARSE_FIELD_COUNT: no field twice */
};

enum parse_field { PARSE_CLIENT, PARSE_OP, PARSE_KEY, PARSE_VALUE, PARSE_EXPECT, PARSE_CALL,
                   PARSE_RETURN, PARSE_OUTPUT, PARSE_FIELD_COUNT };
static const char *const parse_field_names[PARSE_FIELD_COUNT] = {
    "client", "op", "key", "value", "expect", "call", "return", "output",
};

enum parse_type { PARSE_STRING, PARSE_INTEGER, PARSE_NULL };

struct parse_value {
    bool present;
    enum parse_type type;
    char *string;     /* PARSE_STRING: malloc-ed, NUL-terminated */
    size_t length;
    int64_t integer;
};

struct parser {
    const char *at;
    const char *end;  /* end of the current line */
    char *error;
    size_t error_len;
    uint32_t line;
    bool failed;
};

static void parse_fail(struct parser *parser, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void parse_fail(struct parser *parser, const char *format, ...)
{
    if (parser->failed) return;
    parser->failed = true;
    if (parser->error_len == 0) return;
    int used = snprintf(parser->error, parser->error_len, "line %u: ", parser->line);
    if (used < 0 || (size_t)used >= parser->error_len) return;
    va_list args;
    va_start(args, format);
    vsnprintf(parser->error + used, parser->error_len - (size_t)used, format, args);
    va_end(args);
}

static void parse_skip_space(struct parser *parser)
{
    while (parser->at < parser->end &&
           (*parser->at == ' ' || *parser->at == '\t' || *parser->at == '\r'))
        parser->at++;
}

static bool parse_expect_char(struct parser *parser, char c, const char *what)
{
    parse_skip_space(parser);
    if (parser->at < parser->end && *parser->at == c) {
        parser->at++;
        return true;
    }
    if (parser->at == parser->end) parse_fail(parser, "line ends where %s was expected", what);
    else parse_fail(parser, "expected %s, found '%c'", what, *parser->at);
    return false;
}

static int parse_hex4(struct parser *parser, uint32_t *code)
{
    if (parser->end - parser->at < 4) return -1;
    *code = 0;
    for (int i = 0; i < 4; i++) {
        char c = *parser->at++;
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') digit = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = (uint32_t)(c - 'A' + 10);
        else return -1;
        *code = *code * 16 + digit;
    }
    return 0;
}

/* Decodes \uXXXX (and its low surrogate when it is a high one) to UTF-8 in out[0..4). */
static size_t parse_unicode(struct parser *parser, char *out)
{
    uint32_t code;
    if (parse_hex4(parser, &code) != 0) {
        parse_fail(parser, "bad \\u escape");
        return 0;
    }
    if (code >= 0xDC00 && code <= 0xDFFF) {
        parse_fail(parser, "lone low surrogate in \\u escape");
        return 0;
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
        uint32_t low;
        if (parser->end - parser->at < 2 || parser->at[0] != '\\' || parser->at[1] != 'u') {
            parse_fail(parser, "high surrogate without its low surrogate");
            return 0;
        }
        parser->at += 2;
        if (parse_hex4(parser, &low) != 0 || low < 0xDC00 || low > 0xDFFF) {
            parse_fail(parser, "high surrogate without its low surrogate");
            return 0;
        }
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    if (code == 0) {
        parse_fail(parser, "\\u0000 is not allowed in keys and values");
        return 0;
    }
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

/* Parses a string at parser->at (the opening quote) into a malloc-ed copy. The decoded text is
 * never longer than the escaped one, so one allocation of the remaining line length suffices
 * (bounded by PARSE_LINE_BYTES_MAX). */
static char *parse_string(struct parser *parser, size_t *length)
{
    assert(*parser->at == '"');
    parser->at++;
    char *out = malloc((size_t)(parser->end - parser->at) + 1);
    if (out == NULL) {
        parse_fail(parser, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (!parser->failed) {
        if (parser->at == parser->end) {
            parse_fail(parser, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*parser->at++;
        if (c == '"') {
            out[n] = '\0';
            *length = n;
            return out;
        }
        if (c < 0x20) {
            parse_fail(parser, "control character in string");
            break;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        if (parser->at == parser->end) {
            parse_fail(parser, "unterminated string");
            break;
        }
        char escape = *parser->at++;
        switch (escape) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': n += parse_unicode(parser, &out[n]); break;
        default: parse_fail(parser, "bad escape \\%c", escape);
        }
    }
    free(out);
    return NULL;
}

static void parse_integer(struct parser *parser, struct parse_value *value)
{
    const char *start = parser->at;
    if (parser->at < parser->end && *parser->at == '-') parser->at++;
    const char *digits = parser->at;
    while (parser->at < parser->end && *parser->at >= '0' && *parser->at <= '9') parser->at++;
    if (parser->at == digits) {
        parse_fail(parser, "bad number");
        return;
    }
    if (parser->at < parser->end &&
        (*parser->at == '.' || *parser->at == 'e' || *parser->at == 'E')) {
        parse_fail(parser, "numbers must be integers");
        return;
    }
    if (parser->at - digits > 1 && *digits == '0') {
        parse_fail(parser, "number with a leading zero");
        return;
    }
    char buffer[32];
    if (parser->at - start >= (ptrdiff_t)sizeof(buffer)) {
        parse_fail(parser, "integer out of range");
        return;
    }
    memcpy(buffer, start, (size_t)(parser->at - start));
    buffer[parser->at - start] = '\0';
    errno = 0;
    long long integer = strtoll(buffer, NULL, 10);
    if (errno != 0) {
        parse_fail(parser, "integer out of range");
        return;
    }
    value->type = PARSE_INTEGER;
    value->integer = integer;
}

static void parse_value(struct parser *parser, struct parse_value *value)
{
    parse_skip_space(parser);
    if (parser->at == parser->end) {
        parse_fail(parser, "line ends where a value was expected");
        return;
    }
    char c = *parser->at;
    if (c == '"') {
        value->string = parse_string(parser, &value->length);
        value->type = PARSE_STRING;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        parse_integer(parser, value);
    } else if (parser->end - parser->at >= 4 && memcmp(parser->at, "null", 4) == 0) {
        parser->at += 4;
        value->type = PARSE_NULL;
    } else {
        parse_fail(parser, "values must be strings, integers or null (found '%c')", c);
    }
}

static int parse_field_lookup(const char *name)
{
    for (int i = 0; i < PARSE_FIELD_COUNT; i++)
        if (strcmp(name, parse_field_names[i]) == 0) return i;
    return -1;
}

/* Parses one object into fields[]. Bounded by PARSE_FIELDS_PER_LINE_MAX: a repeated field is an
 * error, so a line has at most that many members. */
static void parse_object(struct parser *parser, struct parse_value fields[PARSE_FIELD_COUNT])
{
    if (!parse_expect_char(parser, '{', "'{'")) return;
    parse_skip_space(parser);
    if (parser->at < parser->end && *parser->at == '}') {
        parser->at++;
        return;
    }
    for (int members = 0; members < PARSE_FIELDS_PER_LINE_MAX && !parser->failed; members++) {
        parse_skip_space(parser);
        if (parser->at == parser->end || *parser->at != '"') {
            parse_fail(parser, "expected a field name");
            return;
        }
        size_t length;
        char *name = parse_string(parser, &length);
        if (name == NULL) return;
        int field = parse_field_lookup(name);
        if (field < 0) parse_fail(parser, "unknown field \"%.*s\"", PARSE_FIELD_NAME_BYTES_MAX, name);
        else if (fields[field].present) parse_fail(parser, "field \"%s\" given twice", name);
        free(name);
        if (parser->failed || !parse_expect_char(parser, ':', "':'")) return;
        fields[field].present = true;
        parse_value(parser, &fields[field]);
        if (parser->failed) return;
        parse_skip_space(parser);
        if (parser->at < parser->end && *parser->at == '}') {
            parser->at++;
            parse_skip_space(parser);
            if (parser->at != parser->end) parse_fail(parser, "text after the object");
            return;
        }
        if (!parse_expect_char(parser, ',', "',' or '}'")) return;
    }
    if (!parser->failed) parse_fail(parser, "too many fields");
}

static bool parse_require(struct parser *parser, const struct parse_value *fields, int field,
                          enum parse_type type, bool null_allowed)
{
    const struct parse_value *value = &fields[field];
    const char *name = parse_field_names[field];
    if (!value->present) {
        parse_fail(parser, "missing field \"%s\"", name);
        return false;
    }
    if (value->type == type || (null_allowed && value->type == PARSE_NULL)) return true;
    parse_fail(parser, "field \"%s\" must be %s%s", name,
               type == PARSE_STRING ? "a string" : "an integer", null_allowed ? " or null" : "");
    return false;
}

static const char *parse_kind_name(enum lincheck_kind kind)
{
    switch (kind) {
    case LINCHECK_DEL: return "del";
    case LINCHECK_SADD: return "sadd";
    case LINCHECK_SREM: return "srem";
    case LINCHECK_SISMEMBER: return "sismember";
    default: return "op";
    }
}

static bool parse_kind(struct parser *parser, const char *name, enum lincheck_kind *kind)
{
    static const char *const names[] = { "get", "put", "del", "cas", "incr", "push", "pop",
                                         "sadd", "srem", "sismember" };
    static_assert(sizeof(names) / sizeof(names[0]) == LINCHECK_KIND_LAST + 1, "a name per kind");
    for (int i = 0; i <= LINCHECK_KIND_LAST; i++)
        if (strcmp(name, names[i]) == 0) {
            *kind = (enum lincheck_kind)i;
            return true;
        }
    parse_fail(parser, "unknown op \"%.16s\"", name);
    return false;
}

/* Sets the outputs of `op` from the "output" field, which must suit the kind. */
static void parse_output(struct parser *parser, const struct parse_value *output,
                         struct lincheck_op *op)
{
    if (!op->returned) {
        if (output->type != PARSE_NULL)
            parse_fail(parser, "output must be null when return is null");
        return;
    }
    bool is_string = output->type == PARSE_STRING;
    switch (op->kind) {
    case LINCHECK_GET:
    case LINCHECK_POP:
        if (output->type == PARSE_INTEGER)
            parse_fail(parser, "get and pop output must be a string or null");
        op->output_null = output->type == PARSE_NULL;
        op->output_value = is_string ? output->string : NULL;
        return;
    case LINCHECK_PUT:
        if (!is_string || strcmp(output->string, "ok") != 0)
            parse_fail(parser, "put output must be \"ok\"");
        op->output_ok = true;
        return;
    case LINCHECK_CAS:
        if (is_string && strcmp(output->string, "ok") == 0) op->output_ok = true;
        else if (!is_string || strcmp(output->string, "fail") != 0)
            parse_fail(parser, "cas output must be \"ok\" or \"fail\"");
        return;
    case LINCHECK_DEL:
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER:
        if (output->type != PARSE_INTEGER || (output->integer != 0 && output->integer != 1))
            parse_fail(parser, "%s output must be 0 or 1", parse_kind_name(op->kind));
        op->output_int = output->integer;
        return;
    case LINCHECK_PUSH:
        if (output->type != PARSE_INTEGER || output->integer < 1)
            parse_fail(parser, "push output must be the new length (an integer >= 1)");
        op->output_int = output->integer;
        return;
    case LINCHECK_INCR:
        if (output->type != PARSE_INTEGER) parse_fail(parser, "incr output must be an integer");
        op->output_int = output->integer;
        return;
    }
}

/* Turns parsed fields into an operation and adds it. */
static void parse_add(struct parser *parser, struct lincheck_history *history,
                      const struct parse_value *fields)
{
    if (!parse_require(parser, fields, PARSE_CLIENT, PARSE_INTEGER, false) ||
        !parse_require(parser, fields, PARSE_OP, PARSE_STRING, false) ||
        !parse_require(parser, fields, PARSE_KEY, PARSE_STRING, false) ||
        !parse_require(parser, fields, PARSE_CALL, PARSE_INTEGER, false) ||
        !parse_require(parser, fields, PARSE_RETURN, PARSE_INTEGER, true))
        return;
    if (!fields[PARSE_OUTPUT].present) { /* its type depends on the op: parse_output */
        parse_fail(parser, "missing field \"output\"");
        return;
    }
    struct lincheck_op op = { .line = parser->line };
    if (fields[PARSE_CLIENT].integer < 0) {
        parse_fail(parser, "client must not be negative");
        return;
    }
    op.client = (uint64_t)fields[PARSE_CLIENT].integer;
    if (!parse_kind(parser, fields[PARSE_OP].string, &op.kind)) return;
    op.key = fields[PARSE_KEY].string;
    for (int field = PARSE_VALUE; field <= PARSE_EXPECT; field++) {
        bool takes_value = op.kind == LINCHECK_PUT || op.kind == LINCHECK_PUSH ||
                           op.kind == LINCHECK_SADD || op.kind == LINCHECK_SREM ||
                           op.kind == LINCHECK_SISMEMBER;
        bool wanted = op.kind == LINCHECK_CAS || (field == PARSE_VALUE && takes_value);
        if (!wanted && fields[field].present) {
            parse_fail(parser, "%s takes no \"%s\"", fields[PARSE_OP].string,
                       parse_field_names[field]);
            return;
        }
        if (wanted && !parse_require(parser, fields, field, PARSE_STRING, false)) return;
    }
    op.value = fields[PARSE_VALUE].present ? fields[PARSE_VALUE].string : NULL;
    op.expect = fields[PARSE_EXPECT].present ? fields[PARSE_EXPECT].string : NULL;
    op.call_ns = fields[PARSE_CALL].integer;
    op.returned = fields[PARSE_RETURN].type == PARSE_INTEGER;
    op.return_ns = fields[PARSE_RETURN].integer;
    if (op.returned && op.return_ns <= op.call_ns) {
        parse_fail(parser, "return must be after call");
        return;
    }
    parse_output(parser, &fields[PARSE_OUTPUT], &op);
    if (parser->failed) return;
    if (lincheck_history_add(history, &op) != 0)
        parse_fail(parser, "%s", lincheck_history_error(history));
}

static void parse_line(struct parser *parser, struct lincheck_history *history)
{
    struct parse_value fields[PARSE_FIELD_COUNT];
    memset(fields, 0, sizeof(fields));
    parse_object(parser, fields);
    if (!parser->failed) parse_add(parser, history, fields);
    for (int i = 0; i < PARSE_FIELD_COUNT; i++) free(fields[i].string);
}

int lincheck_history_parse_jsonl(struct lincheck_history *history, const char *text, size_t len,
                                 char *error, size_t error_len)
{
    assert(history != NULL);
    assert(text != NULL || len == 0);
    struct parser parser = { .error = error, .error_len = error_len };
    if (error_len > 0) error[0] = '\0';
    const char *end = text + len;
    /* Bounded by len: every iteration consumes one line. */
    for (const char *line = text; line < end && !parser.failed;) {
        const char *newline = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = newline ? newline : end;
        parser.line++;
        parser.at = line;
        parser.end = line_end;
        if ((size_t)(line_end - line) > PARSE_LINE_BYTES_MAX) {
            parse_fail(&parser, "line longer than %u bytes", PARSE_LINE_BYTES_MAX);
            break;
        }
        parse_skip_space(&parser);
        if (parser.at != parser.end) parse_line(&parser, history);
        line = newline ? newline + 1 : end;
    }
    if (parser.failed) {
        snprintf(history->error, sizeof(history->error), "%s", error_len > 0 ? error : "parse error");
        return -1;
    }
    return 0;
}
