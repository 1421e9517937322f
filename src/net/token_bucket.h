/*
 * token_bucket.h — a token bucket (the classic traffic shaper: tokens accrue at a fixed rate
 * up to a bounded burst, and sending n bytes spends n tokens) that chorusd uses to hold the
 * snapshot chunks it streams to a learner to --snapshot-bandwidth (docs/membership.md, "Limits").
 *
 * Pure: the caller passes the time in milliseconds, so the bucket never reads a clock and the
 * tests drive it by hand. Tokens are kept in thousandths of a byte, so that a rate in bytes per
 * second accrues exactly per millisecond (rate x ms thousandths) with no rounding drift.
 */
#ifndef CHORUS_NET_TOKEN_BUCKET_H
#define CHORUS_NET_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

enum {
    /* The bounds of the rate, so that rate x 1000 and burst x 1000 never overflow. */
    TOKEN_BUCKET_RATE_BYTES_PER_S_MAX = 1 << 30, /* 1 GiB/s; 0 means "no limit" */
};

struct token_bucket {
    uint64_t rate_bytes_per_s;   /* 0: unlimited, every take succeeds */
    uint64_t burst_bytes;        /* the most tokens it holds, > 0 when limited */
    uint64_t tokens_millibytes;  /* <= burst_bytes x 1000 */
    uint64_t refilled_ms;        /* the time the tokens were last brought up to date */
};

/* A bucket of rate_bytes_per_s (0: unlimited; else at most TOKEN_BUCKET_RATE_BYTES_PER_S_MAX)
 * holding at most burst_bytes (>= 1 when limited), full at now_ms. */
void token_bucket_init(struct token_bucket *bucket, uint64_t rate_bytes_per_s,
                       uint64_t burst_bytes, uint64_t now_ms);

/* Spends bytes tokens if the bucket holds that many at now_ms, and says whether it did. A
 * request above the burst can never be met: the caller sizes its chunks to the burst. A clock
 * that went backwards accrues nothing. Unlimited: always true. */
bool token_bucket_take(struct token_bucket *bucket, uint64_t bytes, uint64_t now_ms);

/* How many whole bytes the bucket holds at now_ms (the burst when unlimited). */
uint64_t token_bucket_available_bytes(struct token_bucket *bucket, uint64_t now_ms);

/* Milliseconds from now_ms until bytes tokens are there (0 if they are now; rounded up).
 * bytes must not exceed the burst. */
uint64_t token_bucket_wait_ms(struct token_bucket *bucket, uint64_t bytes, uint64_t now_ms);

#endif
