/*
 * token_bucket.c — the token bucket of token_bucket.h.
 */
#include "net/token_bucket.h"

#include <assert.h>

void token_bucket_init(struct token_bucket *bucket, uint64_t rate_bytes_per_s,
                       uint64_t burst_bytes, uint64_t now_ms)
{
    assert(rate_bytes_per_s <= TOKEN_BUCKET_RATE_BYTES_PER_S_MAX);
    assert(rate_bytes_per_s == 0 || (burst_bytes >= 1 && burst_bytes <= UINT64_MAX / 1000));
    bucket->rate_bytes_per_s = rate_bytes_per_s;
    bucket->burst_bytes = burst_bytes;
    bucket->tokens_millibytes = burst_bytes * 1000;
    bucket->refilled_ms = now_ms;
}

/* Brings the tokens up to now_ms: rate bytes per second is rate thousandths per millisecond. */
static void refill(struct token_bucket *bucket, uint64_t now_ms)
{
    if (now_ms <= bucket->refilled_ms)
        return; /* the same millisecond, or a clock that went back: nothing accrues */
    uint64_t full = bucket->burst_bytes * 1000;
    uint64_t missing = full - bucket->tokens_millibytes;
    uint64_t elapsed_ms = now_ms - bucket->refilled_ms;
    bucket->refilled_ms = now_ms;
    /* Compared by division first: rate x elapsed could overflow after a long idle time. */
    if (elapsed_ms >= missing / bucket->rate_bytes_per_s + 1)
        bucket->tokens_millibytes = full;
    else
        bucket->tokens_millibytes += elapsed_ms * bucket->rate_bytes_per_s;
    assert(bucket->tokens_millibytes <= full);
}

bool token_bucket_take(struct token_bucket *bucket, uint64_t bytes, uint64_t now_ms)
{
    if (bucket->rate_bytes_per_s == 0)
        return true;
    refill(bucket, now_ms);
    if (bytes > bucket->burst_bytes || bytes * 1000 > bucket->tokens_millibytes)
        return false;
    bucket->tokens_millibytes -= bytes * 1000;
    return true;
}

uint64_t token_bucket_available_bytes(struct token_bucket *bucket, uint64_t now_ms)
{
    if (bucket->rate_bytes_per_s == 0)
        return bucket->burst_bytes;
    refill(bucket, now_ms);
    return bucket->tokens_millibytes / 1000;
}

uint64_t token_bucket_wait_ms(struct token_bucket *bucket, uint64_t bytes, uint64_t now_ms)
{
    if (bucket->rate_bytes_per_s == 0)
        return 0;
    assert(bytes <= bucket->burst_bytes);
    refill(bucket, now_ms);
    uint64_t want = bytes * 1000;
    if (want <= bucket->tokens_millibytes)
        return 0;
    uint64_t short_by = want - bucket->tokens_millibytes;
    return (short_by + bucket->rate_bytes_per_s - 1) / bucket->rate_bytes_per_s;
}
