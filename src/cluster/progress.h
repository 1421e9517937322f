/*
 * progress.h — the progress of a transfer, as `chorus cluster status` and `cluster add --wait`
 * show it (docs/membership.md, "Progress"): the rate over a recent window, the time left, and
 * the words and bar that print them.
 *
 * The rate is measured, not assumed: a window keeps samples of a transfer's cumulative bytes
 * (one at most every PROGRESS_SAMPLE_SPACING_MS, the last PROGRESS_SAMPLES_MAX of them), and
 * the rate is the bytes sent between the window's oldest sample and now, divided by that time.
 * A transfer that stalls sees its rate fall to 0 within the window; nothing is averaged over
 * the whole transfer, so a limit changed half way shows within seconds.
 *
 * Pure: times are passed in, nothing is allocated.
 */
#ifndef CHORUS_CLUSTER_PROGRESS_H
#define CHORUS_CLUSTER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PROGRESS_SAMPLES_MAX = 16,
    PROGRESS_SAMPLE_SPACING_MS = 250,
    PROGRESS_WINDOW_MS = 4000,     /* samples older than this are dropped (one is kept) */
    PROGRESS_RATE_MIN_SPAN_MS = 200, /* a shorter span gives no rate yet */
    PROGRESS_BYTES_TEXT_MAX = 24,  /* "1023.9 GiB" and the like, with the NUL */
    PROGRESS_DURATION_TEXT_MAX = 24,
};

struct progress_window {
    uint64_t at_ms[PROGRESS_SAMPLES_MAX];
    uint64_t bytes[PROGRESS_SAMPLES_MAX];
    uint32_t first, count;         /* a ring: the oldest sample at first */
    uint64_t latest_bytes;         /* the newest cumulative count, sampled or not */
    uint64_t latest_ms;
};

void progress_window_reset(struct progress_window *w);

/* The transfer has sent bytes_total bytes in all (never less than before) at now_ms. */
void progress_window_note(struct progress_window *w, uint64_t now_ms, uint64_t bytes_total);

/* Bytes per second over the window ending at now_ms; 0 when the window spans less than
 * PROGRESS_RATE_MIN_SPAN_MS (too early to tell) or nothing moved in it. */
uint64_t progress_window_rate_bytes_per_s(const struct progress_window *w, uint64_t now_ms);

/* The time left to send total - done bytes at rate: -1 when it cannot be told (no rate yet,
 * or the total is unknown, 0); 0 when done. */
int64_t progress_eta_ms(uint64_t done_bytes, uint64_t total_bytes, uint64_t rate_bytes_per_s);

/* The time left of a whole made of parts, from the time it took so far: after elapsed_ms,
 * done_millionths of it is done (0..1,000,000), and the rest is assumed to go as fast.
 * -1 when nothing is done yet; 0 when all is. */
int64_t progress_eta_by_fraction_ms(uint64_t elapsed_ms, uint64_t done_millionths);

/* "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB" (binary units, one decimal above bytes). */
void progress_format_bytes(uint64_t bytes, char out[PROGRESS_BYTES_TEXT_MAX]);

/* "0 s", "45 s", "3 min 05 s", "2 h 10 min"; "?" for a negative (unknown) duration. */
void progress_format_duration(int64_t ms, char out[PROGRESS_DURATION_TEXT_MAX]);

/* A bar of width cells between brackets ("[#####.....]"), done of total filled (total 0:
 * empty). out must hold width + 3 bytes. */
void progress_format_bar(uint64_t done, uint64_t total, uint32_t width, char *out, size_t cap);

#endif
