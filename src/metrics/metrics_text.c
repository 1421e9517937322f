/*
 * metrics_text.c — the Prometheus text exposition format 0.0.4, written into a bounded buffer.
 *
 * The format, as the Prometheus documentation gives it: lines end in "\n"; "# HELP name text"
 * (text with backslash and newline escaped) and "# TYPE name counter|gauge|histogram" come
 * before the family's samples; a sample is `name{label="value",...} value`, label values
 * escaped for backslash, double quote and newline; a histogram's buckets are cumulative and
 * the last is le="+Inf", whose count equals name_count.
 */
#include "metrics/metrics_text.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest text of one number: a double at 17 significant digits with sign and exponent
 * ("-1.2345678901234567e-308") or a uint64 (20 digits). */
enum { METRICS_NUMBER_BYTES_MAX = 32 };

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
                            uint32_t bound_count)
{
    assert(bound_count <= METRICS_HISTOGRAM_BOUNDS_MAX);
    memset(h, 0, sizeof(*h));
    for (uint32_t i = 0; i < bound_count; i++) {
        assert(isfinite(bounds[i]));
        assert(i == 0 || bounds[i] > bounds[i - 1]);
        h->bounds[i] = bounds[i];
    }
    h->bound_count = bound_count;
}

void metrics_histogram_observe(struct metrics_histogram *h, double value)
{
    assert(h->bound_count <= METRICS_HISTOGRAM_BOUNDS_MAX);
    uint32_t i = 0;
    while (i < h->bound_count && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += value;
    h->count++;
}

void metrics_text_init(struct metrics_text *w, char *buf, size_t cap)
{
    assert(buf != NULL || cap == 0);
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
}

/* Appends len bytes, or nothing at all (and marks the overflow) when they do not fit. */
static void append(struct metrics_text *w, const char *data, size_t len)
{
    if (w->overflow || len > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

static void append_str(struct metrics_text *w, const char *s)
{
    append(w, s, strlen(s));
}

/* Appends text with backslash and newline escaped, and double quotes too when `quote` (label
 * values); HELP text keeps its quotes. */
static void append_escaped(struct metrics_text *w, const char *s, bool quote)
{
    for (const char *p = s; *p != '\0' && !w->overflow; p++) {
        if (*p == '\\')
            append(w, "\\\\", 2);
        else if (*p == '\n')
            append(w, "\\n", 2);
        else if (*p == '"' && quote)
            append(w, "\\\"", 2);
        else
            append(w, p, 1);
    }
}

static bool name_char_ok(char c, bool first, bool colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (c == ':')
        return colon_ok;
    return !first && c >= '0' && c <= '9';
}

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label name (no colon, no "__" prefix, which
 * Prometheus reserves). */
static bool name_valid(const char *name, bool metric)
{
    if (name == NULL || name[0] == '\0')
        return false;
    if (!metric && name[0] == '_' && name[1] == '_')
        return false;
    for (const char *p = name; *p != '\0'; p++)
        if (!name_char_ok(*p, p == name, metric))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static const char *type_name(enum metrics_type type)
{
    switch (type) {
    case METRICS_COUNTER: return "counter";
    case METRICS_GAUGE: return "gauge";
    case METRICS_HISTOGRAM: return "histogram";
    }
    assert(!"unknown metrics type");
    return "untyped";
}

void metrics_text_header(struct metrics_text *w, const char *name, enum metrics_type type,
                         const char *help)
{
    assert(name_valid(name, true));
    assert(type != METRICS_COUNTER || ends_with(name, "_total"));
    assert(help != NULL);
    append_str(w, "# HELP ");
    append_str(w, name);
    append_str(w, " ");
    append_escaped(w, help, false);
    append_str(w, "\n# TYPE ");
    append_str(w, name);
    append_str(w, " ");
    append_str(w, type_name(type));
    append_str(w, "\n");
}

/* The shortest text that reads back as the same double (so that 0.001 is "0.001", not
 * "0.0010000000000000000208"), or +Inf, -Inf, NaN as Prometheus spells them. */
static void format_double(double value, char *out, size_t cap)
{
    assert(cap >= METRICS_NUMBER_BYTES_MAX);
    if (isnan(value)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(value)) {
        snprintf(out, cap, value > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(out, cap, "%.*g", digits, value);
        if (strtod(out, NULL) == value)
            return;
    }
}

/* {name="value",...} with an optional extra `le` label last; nothing when there are none. */
static void append_labels(struct metrics_text *w, const struct metrics_label *labels,
                          uint32_t label_count, const char *le)
{
    assert(label_count <= METRICS_LABELS_MAX);
    assert(label_count == 0 || labels != NULL);
    if (label_count == 0 && le == NULL)
        return;
    append_str(w, "{");
    for (uint32_t i = 0; i < label_count; i++) {
        assert(name_valid(labels[i].name, false));
        assert(labels[i].value != NULL);
        append_str(w, i > 0 ? ",": "");
        append_str(w, labels[i].name);
        append_str(w, "=\"");
        append_escaped(w, labels[i].value, true);
        append_str(w, "\"");
    }
    if (le != NULL) {
        append_str(w, label_count > 0 ? ",le=\"" : "le=\"");
        append_str(w, le);
        append_str(w, "\"");
    }
    append_str(w, "}");
}

/* One sample: name, the labels (and `le`), then the value's text. */
static void append_sample(struct metrics_text *w, const char *name, const char *suffix,
                          const struct metrics_label *labels, uint32_t label_count,
                          const char *le, const char *value)
{
    assert(name_valid(name, true));
    append_str(w, name);
    append_str(w, suffix);
    append_labels(w, labels, label_count, le);
    append_str(w, " ");
    append_str(w, value);
    append_str(w, "\n");
}

void metrics_text_u64(struct metrics_text *w, const char *name,
                      const struct metrics_label *labels, uint32_t label_count, uint64_t value)
{
    char text[METRICS_NUMBER_BYTES_MAX];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
    append_sample(w, name, "", labels, label_count, NULL, text);
}

void metrics_text_double(struct metrics_text *w, const char *name,
                         const struct metrics_label *labels, uint32_t label_count, double value)
{
    char text[METRICS_NUMBER_BYTES_MAX];
    format_double(value, text, sizeof(text));
    append_sample(w, name, "", labels, label_count, NULL, text);
}

void metrics_text_histogram(struct metrics_text *w, const char *name,
                            const struct metrics_label *labels, uint32_t label_count,
                            const struct metrics_histogram *h)
{
    assert(h->bound_count <= METRICS_HISTOGRAM_BOUNDS_MAX);
    assert(label_count < METRICS_LABELS_MAX); /* room for `le` */
    char le[METRICS_NUMBER_BYTES_MAX], value[METRICS_NUMBER_BYTES_MAX];
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i <= h->bound_count; i++) {
        cumulative += h->counts[i];
        if (i < h->bound_count)
            format_double(h->bounds[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        snprintf(value, sizeof(value), "%llu", (unsigned long long)cumulative);
        append_sample(w, name, "_bucket", labels, label_count, le, value);
    }
    /* Every observation is in exactly one bucket. */
    assert(cumulative == h->count);
    format_double(h->sum, value, sizeof(value));
    append_sample(w, name, "_sum", labels, label_count, NULL, value);
    snprintf(value, sizeof(value), "%llu", (unsigned long long)h->count);
    append_sample(w, name, "_count", labels, label_count, NULL, value);
}

long metrics_text_finish(const struct metrics_text *w)
{
    assert(w->len <= w->cap);
    return w->overflow ? -1 : (long)w->len;
}
