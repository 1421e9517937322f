/*
 * jump.c — jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
 * Algorithm", 2014), the paper's Figure 1 verbatim. A key's bucket only ever jumps forward,
 * to the new bucket, when the bucket count grows by one; there is no memory to build.
 * Buckets are numbers, so only the last one can be removed (ring_change_check).
 */
#include <assert.h>

#include "ring/ring_internal.h"

uint32_t ring_jump_bucket(uint64_t hash, uint32_t buckets)
{
    assert(buckets >= 1);
    int64_t bucket = -1, next = 0;
    /* Each round moves `next` forward by an expected factor that keeps the loop at
     * O(ln buckets) rounds; `next` grows strictly, so the loop ends. */
    while (next < (int64_t)buckets) {
        bucket = next;
        hash = hash * 2862933555777941757ull + 1;
        next = (int64_t)((double)(bucket + 1) * ((double)(1ll << 31) / (double)((hash >> 33) + 1)));
    }
    return (uint32_t)bucket;
}
