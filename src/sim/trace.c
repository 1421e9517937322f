/* trace.c — the readable event-by-event trace of one seed (--trace). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "sim/world.h"

/* One line: virtual time in ms, the node (or "--" for the cluster) and, with several groups,
 * the group ("n2/g3"), what happened. */
void sim_trace_line(struct sim *sim, int node, int group, const char *format, ...)
{
    if (sim->html != NULL) {
        /* The HTML timeline keeps some lines as notes (faults above all). The line is
         * formatted here and again below for --trace: twice only when both are on. */
        char text[SIM_HTML_TEXT_BYTES_MAX / 2];
        va_list args;
        va_start(args, format);
        vsnprintf(text, sizeof(text), format, args);
        va_end(args);
        sim_html_note(sim, node, group, text);
    }
    FILE *out = sim->options.trace;
    if (out == NULL) return;
    fprintf(out, "%9.3f ", (double)sim->now_us / 1000.0);
    if (node >= 0 && group >= 0 && sim->group_count > 1)
        fprintf(out, "n%d/g%d ", node + 1, group);
    else if (node >= 0)
        fprintf(out, "n%d ", node + 1);
    else
        fputs("-- ", out);
    va_list args;
    va_start(args, format);
    vfprintf(out, format, args);
    va_end(args);
    fputc('\n', out);
}

void sim_trace_message(struct sim *sim, const char *what, const struct cn_message *m)
{
    char extra[96] = "";
    if (m->type == CN_MSG_SNAPSHOT)
        snprintf(extra, sizeof(extra), " snap %" PRIu64 "/%" PRIu64 " off %" PRIu64 " len %u%s",
                 m->snapshot.index, m->snapshot.term, m->snapshot_offset, m->snapshot_chunk_len,
                 m->snapshot_done ? " done" : "");
    else if (m->entry_count > 0)
        snprintf(extra, sizeof(extra), " entries %" PRIu64 "..%" PRIu64,
                 m->entries[0].index, m->entries[m->entry_count - 1].index);
    int node = (int)(what[0] == 'r' ? m->to : m->from) - 1;
    sim_trace_line(sim, node, (int)m->group, "%s %s %u->%u term %" PRIu64 " index %" PRIu64 " log_term %" PRIu64
                   " commit %" PRIu64 "%s%s", what, cn_message_type_name(m->type), m->from, m->to,
                   m->term, m->index, m->log_term, m->commit, m->reject ? " REJECT" : "", extra);
}
