/*
 * metrics_text.h — a writer for the Prometheus text exposition format, version 0.0.4, into a
 * caller's buffer of fixed size, and the histogram it writes.
 *
 * The writer never writes past its buffer: an append that does not fit sets a sticky overflow
 * flag and writes nothing more, and metrics_text_finish then reports the overflow (the caller
 * may retry with a larger buffer). Metric and label names come from the program, not the
 * network, so a bad one is a programmer error (an assert); label values may be anything and
 * are escaped (backslash, double quote, newline), as HELP text is (backslash, newline).
 *
 * Typical use:
 *
 *     struct metrics_text w;
 *     metrics_text_init(&w, buf, sizeof(buf));
 *     metrics_text_header(&w, "chorus_commands_processed_total", METRICS_COUNTER, "Commands.");
 *     metrics_text_u64(&w, "chorus_commands_processed_total", NULL, 0, commands);
 *     struct metrics_label group = {"group", "3"};
 *     metrics_text_header(&w, "chorus_group_term", METRICS_GAUGE, "Current term.");
 *     metrics_text_u64(&w, "chorus_group_term", &group, 1, term);
 *     if (metrics_text_finish(&w) < 0) ... too small ...
 *
 * No allocation, no I/O: the module is pure and tested alone (tests/unit/test_metrics_text.c).
 */
#ifndef CHORUS_METRICS_TEXT_H
#define CHORUS_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    METRICS_HISTOGRAM_BOUNDS_MAX = 16, /* finite bucket bounds; +Inf is always added */
    METRICS_LABELS_MAX = 8,            /* labels on one sample (a histogram adds `le`) */
};

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_label {
    const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" */
    const char *value; /* any bytes but NUL: escaped on output */
};

/*
 * A histogram of observations: counts per bucket (not cumulative: the writer adds them up),
 * their sum and their count. The bounds are strictly increasing and finite; the last bucket
 * (counts[bound_count]) holds what is above every bound (le="+Inf").
 */
struct metrics_histogram {
    double bounds[METRICS_HISTOGRAM_BOUNDS_MAX];
    uint32_t bound_count;
    uint64_t counts[METRICS_HISTOGRAM_BOUNDS_MAX + 1];
    double sum;
    uint64_t count;
};

void metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
                            uint32_t bound_count);
/* Counts one observation in the first bucket whose bound is >= value (Prometheus's `le`). */
void metrics_histogram_observe(struct metrics_histogram *h, double value);

struct metrics_text {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow; /* sticky: once set, nothing more is written */
};

void metrics_text_init(struct metrics_text *w, char *buf, size_t cap);
/* "# HELP name help" and "# TYPE name type". A counter's name ends in "_total"; a
 * histogram's is the base name its samples extend with _bucket, _sum and _count. */
void metrics_text_header(struct metrics_text *w, const char *name, enum metrics_type type,
                         const char *help);
/* One sample line: name{labels} value. */
void metrics_text_u64(struct metrics_text *w, const char *name,
                      const struct metrics_label *labels, uint32_t label_count, uint64_t value);
void metrics_text_double(struct metrics_text *w, const char *name,
                         const struct metrics_label *labels, uint32_t label_count, double value);
/* A histogram's samples: cumulative name_bucket{labels,le="..."} lines ending with le="+Inf",
 * then name_sum and name_count. */
void metrics_text_histogram(struct metrics_text *w, const char *name,
                            const struct metrics_label *labels, uint32_t label_count,
                            const struct metrics_histogram *h);
/* The length written, or -1 if anything did not fit (the buffer then holds a prefix that
 * must not be served). */
long metrics_text_finish(const struct metrics_text *w);

#endif
