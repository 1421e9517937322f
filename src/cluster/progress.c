/*
 * progress.c — the transfer progress of progress.h: a window of samples, the rate and the
 * time left, and their words.
 */
#include "cluster/progress.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void progress_window_reset(struct progress_window *w)
{
    memset(w, 0, sizeof(*w));
}

static uint32_t slot_of(const struct progress_window *w, uint32_t i)
{
    return (w->first + i) % PROGRESS_SAMPLES_MAX;
}

void progress_window_note(struct progress_window *w, uint64_t now_ms, uint64_t bytes_total)
{
    if (bytes_total < w->latest_bytes)
        bytes_total = w->latest_bytes; /* cumulative: never goes back */
    if (w->count > 0 && now_ms < w->latest_ms)
        now_ms = w->latest_ms; /* a clock that went back is held where it was */
    w->latest_bytes = bytes_total;
    w->latest_ms = now_ms;
    /* One sample per spacing: notes in between only move latest_bytes, which the rate reads. */
    if (w->count > 0 && now_ms - w->at_ms[slot_of(w, w->count - 1)] < PROGRESS_SAMPLE_SPACING_MS)
        return;
    if (w->count == PROGRESS_SAMPLES_MAX) {
        w->first = (w->first + 1) % PROGRESS_SAMPLES_MAX;
        w->count--;
    }
    uint32_t at = slot_of(w, w->count++);
    w->at_ms[at] = now_ms;
    w->bytes[at] = bytes_total;
}

uint64_t progress_window_rate_bytes_per_s(const struct progress_window *w, uint64_t now_ms)
{
    if (w->count == 0)
        return 0;
    if (now_ms < w->latest_ms)
        now_ms = w->latest_ms;
    if (w->latest_ms + PROGRESS_WINDOW_MS <= now_ms)
        return 0; /* nothing was sent within the window */
    /* The base: the newest sample at or before the window's start, else the oldest (the
     * window is younger than PROGRESS_WINDOW_MS). */
    uint32_t base = 0;
    for (uint32_t i = 1; i < w->count; i++)
        if (w->at_ms[slot_of(w, i)] + PROGRESS_WINDOW_MS <= now_ms)
            base = i;
    uint32_t b = slot_of(w, base);
    uint64_t span_ms = now_ms - w->at_ms[b];
    if (span_ms < PROGRESS_RATE_MIN_SPAN_MS)
        return 0;
    /* After a stall the base is the last sample before it, so the span may exceed the
     * window; the bytes moved since are few or none, and the rate reads near 0, as it is. */
    uint64_t moved = w->latest_bytes - w->bytes[b];
    return moved * 1000 / span_ms;
}

int64_t progress_eta_ms(uint64_t done_bytes, uint64_t total_bytes, uint64_t rate_bytes_per_s)
{
    if (total_bytes == 0)
        return -1;
    if (done_bytes >= total_bytes)
        return 0;
    if (rate_bytes_per_s == 0)
        return -1;
    uint64_t left = total_bytes - done_bytes;
    /* Rounded up to the millisecond; left x 1000 fits: snapshot files are far below 2^54. */
    return (int64_t)((left * 1000 + rate_bytes_per_s - 1) / rate_bytes_per_s);
}

int64_t progress_eta_by_fraction_ms(uint64_t elapsed_ms, uint64_t done_millionths)
{
    if (done_millionths >= 1000000)
        return 0;
    if (done_millionths == 0)
        return -1;
    /* elapsed x (1 - f) / f, in integers: elapsed x (10^6 - d) / d. */
    return (int64_t)(elapsed_ms * (1000000 - done_millionths) / done_millionths);
}

void progress_format_bytes(uint64_t bytes, char out[PROGRESS_BYTES_TEXT_MAX])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, PROGRESS_BYTES_TEXT_MAX, "%llu B", (unsigned long long)bytes);
        return;
    }
    /* Tenths of the unit, rounded down, so that "1.0 MiB" is never shown for 1023.99 KiB. */
    uint32_t u = 0;
    uint64_t scale = 1024;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes >= scale * 1024) {
        scale *= 1024;
        u++;
    }
    uint64_t tenths = bytes * 10 / scale;
    snprintf(out, PROGRESS_BYTES_TEXT_MAX, "%llu.%llu %s", (unsigned long long)(tenths / 10),
             (unsigned long long)(tenths % 10), units[u]);
}

void progress_format_duration(int64_t ms, char out[PROGRESS_DURATION_TEXT_MAX])
{
    if (ms < 0) {
        snprintf(out, PROGRESS_DURATION_TEXT_MAX, "?");
        return;
    }
    /* Rounded up to the second: "0 s" only when nothing is left. */
    uint64_t s = ((uint64_t)ms + 999) / 1000;
    if (s < 60)
        snprintf(out, PROGRESS_DURATION_TEXT_MAX, "%llu s", (unsigned long long)s);
    else if (s < 3600)
        snprintf(out, PROGRESS_DURATION_TEXT_MAX, "%llu min %02llu s",
                 (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else
        snprintf(out, PROGRESS_DURATION_TEXT_MAX, "%llu h %02llu min",
                 (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
}

void progress_format_bar(uint64_t done, uint64_t total, uint32_t width, char *out, size_t cap)
{
    assert(cap >= (size_t)width + 3);
    uint64_t filled = 0;
    if (total > 0)
        filled = (done >= total ? total : done) * width / total;
    out[0] = '[';
    for (uint32_t i = 0; i < width; i++)
        out[1 + i] = i < filled ? '#' : '.';
    out[width + 1] = ']';
    out[width + 2] = '\0';
}
