/*
 * trace_html.h — the picture of one seed (chorus-sim --seed N --trace-html FILE): a recorder of
 * structured events (messages sent, lost and delivered, role changes, crashes and restarts,
 * faults, applies, client operations, the violation) and the writer of one self-contained HTML
 * page that draws them as a timeline, nodes as lanes (inline JSON, SVG and JS; nothing fetched).
 *
 * The recorder only reads the simulator's state: it draws no randomness and schedules nothing,
 * so a seed runs the same events in the same order with or without it. It is bounded: at most
 * SIM_HTML_EVENTS_MAX events and SIM_HTML_BYTES_MAX bytes of them; later ones are counted,
 * dropped, and the page says so.
 */
#ifndef CHORUS_SIM_TRACE_HTML_H
#define CHORUS_SIM_TRACE_HTML_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    SIM_HTML_EVENTS_MAX = 200 * 1000,
    SIM_HTML_BYTES_MAX = 48 << 20,  /* the events' JSON text */
    SIM_HTML_CULPRITS_MAX = 64,     /* operations the linearizability checker names */
    SIM_HTML_TEXT_BYTES_MAX = 600,  /* one quoted string (a violation is under 512 bytes) */
};

struct sim;
struct sim_html;

struct sim_html *sim_html_create(void);
void sim_html_destroy(struct sim_html *html);
/* Forgets the previous seed's events. */
void sim_html_reset(struct sim_html *html);

/* Appends one event: the JSON array [now_us, <format>] (format and arguments make the rest of
 * its elements, strings already quoted with sim_html_quote). Dropped, and counted, past the
 * bounds. */
void sim_html_event(struct sim *sim, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A trace line (trace.c): kept as a note when it tells a fault, the end of faults, a planted
 * bug, a snapshot or the liveness check; the other lines have structured events of their own. */
void sim_html_note(struct sim *sim, int node, int group, const char *text);
/* A new message id for a send (never 0). */
uint32_t sim_html_message_id(struct sim *sim);
/* The operations (history indices) the linearizability checker names. */
void sim_html_culprits(struct sim *sim, const uint32_t *op_index, uint32_t count,
                       uint32_t total);

/* Writes `text` as a JSON string literal (quoted, escaped; '<' as \u003c so that the JSON can
 * sit inside a <script> element), cut to fit `len`. Returns out. */
char *sim_html_quote(char *out, size_t len, const char *text);

/* Writes the page of the seed that just ran (the violation, if any, from the verdict).
 * Returns 0, or -1 when the stream failed. */
int sim_html_write(struct sim *sim, FILE *out);

#define SIM_HTML(sim, ...)                                                                    \
    do {                                                                                      \
        if ((sim)->html != NULL) sim_html_event((sim), __VA_ARGS__);                          \
    } while (0)

#endif
