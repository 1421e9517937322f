/*
 * histogram.c — fixed log-linear latency buckets (see histogram.h).
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "client/histogram.h"

_Static_assert(HISTOGRAM_BUCKETS == 1920, "60 groups of 32 buckets cover all of uint64");

void histogram_init(struct histogram *histogram)
{
    memset(histogram, 0, sizeof(*histogram));
    histogram->min = UINT64_MAX;
}

/* Group g >= 1 holds [2^(g+SUB_BITS-1), 2^(g+SUB_BITS)), split into SUB_COUNT buckets of
 * 2^(g-1) each; group 0 holds 0..SUB_COUNT-1 exactly. */
uint32_t histogram_bucket_of(uint64_t value)
{
    if (value < HISTOGRAM_SUB_COUNT)
        return (uint32_t)value;
    uint32_t top_bit = 63u - (uint32_t)__builtin_clzll(value); /* >= SUB_BITS */
    uint32_t shift = top_bit - HISTOGRAM_SUB_BITS;
    uint32_t sub = (uint32_t)(value >> shift) - HISTOGRAM_SUB_COUNT;
    uint32_t bucket = (shift + 1) * HISTOGRAM_SUB_COUNT + sub;
    assert(bucket < HISTOGRAM_BUCKETS);
    return bucket;
}

uint64_t histogram_bucket_low(uint32_t bucket)
{
    assert(bucket < HISTOGRAM_BUCKETS);
    if (bucket < HISTOGRAM_SUB_COUNT)
        return bucket;
    uint32_t shift = bucket / HISTOGRAM_SUB_COUNT - 1;
    uint64_t sub = bucket % HISTOGRAM_SUB_COUNT;
    return (HISTOGRAM_SUB_COUNT + sub) << shift;
}

uint64_t histogram_bucket_high(uint32_t bucket)
{
    if (bucket < HISTOGRAM_SUB_COUNT)
        return bucket;
    uint32_t shift = bucket / HISTOGRAM_SUB_COUNT - 1;
    return histogram_bucket_low(bucket) + ((uint64_t)1 << shift) - 1;
}

void histogram_record(struct histogram *histogram, uint64_t value)
{
    histogram->counts[histogram_bucket_of(value)]++;
    histogram->total++;
    histogram->sum += (long double)value;
    if (value < histogram->min)
        histogram->min = value;
    if (value > histogram->max)
        histogram->max = value;
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
    for (uint32_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t histogram_quantile(const struct histogram *histogram, double quantile)
{
    assert(quantile > 0 && quantile <= 1);
    if (histogram->total == 0)
        return 0;
    uint64_t rank = (uint64_t)ceill((long double)quantile * (long double)histogram->total);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += histogram->counts[i];
        if (seen >= rank) {
            uint64_t high = histogram_bucket_high(i);
            return high < histogram->max ? high : histogram->max;
        }
    }
    return histogram->max;
}

double histogram_mean(const struct histogram *histogram)
{
    if (histogram->total == 0)
        return 0;
    return (double)(histogram->sum / (long double)histogram->total);
}
