/* log.c — the node's log lines: one line each, with time, node id and level, on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "node/node_internal.h"

static const char *level_names[] = {"error", "warn", "info", "debug"};

static void log_line(const struct node *node, int level, const char *format, va_list args)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld node=%u %s: ", stamp, now.tv_nsec / 1000000L, node->config.id,
            level_names[level]);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
}

void node_log(const struct node *node, int level, const char *format, ...)
{
    if (level > node->config.log_level)
        return;
    va_list args;
    va_start(args, format);
    log_line(node, level, format, args);
    va_end(args);
}

/* A failed fsync or write leaves the node unable to promise durability: it stops at once,
 * acknowledging nothing more (the brief's rule: never retry an fsync and carry on). */
void node_fatal(struct node *node, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_line(node, NODE_LOG_ERROR, format, args);
    va_end(args);
    fflush(stderr);
    _exit(2);
}
