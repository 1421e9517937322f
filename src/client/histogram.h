/*
 * histogram.h — a latency histogram with fixed log-linear buckets (HdrHistogram's layout):
 * values below 2^HISTOGRAM_SUB_BITS are exact; above, each power of two is split into
 * 2^HISTOGRAM_SUB_BITS equal buckets, so a recorded value is known within 1/32 (~3%). The whole
 * uint64 range fits in HISTOGRAM_BUCKETS counters: memory is fixed, whatever is recorded.
 */
#ifndef CHORUS_CLIENT_HISTOGRAM_H
#define CHORUS_CLIENT_HISTOGRAM_H

#include <stdint.h>

enum {
    HISTOGRAM_SUB_BITS = 5,
    HISTOGRAM_SUB_COUNT = 1 << HISTOGRAM_SUB_BITS,
    /* groups: one exact group, then one per bit position from SUB_BITS to 63 */
    HISTOGRAM_BUCKETS = (64 - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB_COUNT,
};

struct histogram {
    uint64_t counts[HISTOGRAM_BUCKETS];
    uint64_t total;
    uint64_t min;
    uint64_t max;
    long double sum; /* for the mean */
};

void histogram_init(struct histogram *histogram);
void histogram_record(struct histogram *histogram, uint64_t value);
/* Adds every count of `from` into `into`. */
void histogram_merge(struct histogram *into, const struct histogram *from);
/* The smallest bucket upper bound at or below which `quantile` (0..1] of the values lie,
 * clamped to the exact max; 0 when empty. */
uint64_t histogram_quantile(const struct histogram *histogram, double quantile);
double histogram_mean(const struct histogram *histogram);

/* Bucket arithmetic, exposed for the tests. */
uint32_t histogram_bucket_of(uint64_t value);
uint64_t histogram_bucket_low(uint32_t bucket);
uint64_t histogram_bucket_high(uint32_t bucket);

#endif
