/*
 * history.c — JSON-lines histories for chorus-lincheck (see history.h).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/history.h"

int history_writer_open(struct history_writer *writer, const char *path)
{
    memset(writer, 0, sizeof(*writer));
    writer->file = fopen(path, "w");
    if (writer->file == NULL)
        return -1;
    pthread_mutex_init(&writer->lock, NULL);
    return 0;
}

int history_writer_close(struct history_writer *writer)
{
    if (writer->file == NULL)
        return -1;
    if (fclose(writer->file) != 0)
        writer->failed = true;
    writer->file = NULL;
    pthread_mutex_destroy(&writer->lock);
    return writer->failed ? -1 : 0;
}

/* A tiny bounded appender: once full, every later append is dropped and `full` stays set. */
struct line {
    char *buf;
    size_t capacity;
    size_t len;
    bool full;
};

static void line_bytes(struct line *l, const char *bytes, size_t n)
{
    if (l->full || l->capacity - l->len < n + 1) {
        l->full = true;
        return;
    }
    memcpy(l->buf + l->len, bytes, n);
    l->len += n;
}

static void line_text(struct line *l, const char *text)
{
    line_bytes(l, text, strlen(text));
}

static void line_int(struct line *l, int64_t value)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRId64, value);
    line_bytes(l, text, (size_t)n);
}

/* A JSON string: quotes, the two mandatory escapes, and \u00XX for control bytes. Other bytes
 * pass as they are (chorus values are bytes; the checker compares bytes). */
static void line_string(struct line *l, const char *s, size_t n)
{
    line_bytes(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            line_bytes(l, escaped, 2);
        } else if (c < 0x20) {
            char escaped[8];
            snprintf(escaped, sizeof(escaped), "\\u%04x", c);
            line_bytes(l, escaped, 6);
        } else {
            line_bytes(l, (const char *)&s[i], 1);
        }
    }
    line_bytes(l, "\"", 1);
}

static const char *const kind_names[] = {
    [HISTORY_GET] = "get", [HISTORY_PUT] = "put", [HISTORY_DEL] = "del",
    [HISTORY_CAS] = "cas", [HISTORY_INCR] = "incr", [HISTORY_PUSH] = "push",
    [HISTORY_POP] = "pop", [HISTORY_SADD] = "sadd", [HISTORY_SREM] = "srem",
    [HISTORY_SISMEMBER] = "sismember",
};

size_t history_format(const struct history_entry *e, char *buf, size_t capacity)
{
    assert(!e->returned || e->return_ns > e->call_ns);
    struct line l = {.buf = buf, .capacity = capacity};
    line_text(&l, "{\"client\":");
    line_int(&l, (int64_t)e->client);
    line_text(&l, ",\"op\":\"");
    line_text(&l, kind_names[e->kind]);
    line_text(&l, "\",\"key\":");
    line_string(&l, e->key, e->key_len);
    if (e->kind == HISTORY_CAS) {
        line_text(&l, ",\"expect\":");
        line_string(&l, e->expect, e->expect_len);
    }
    if (e->kind == HISTORY_PUT || e->kind == HISTORY_CAS || e->kind == HISTORY_PUSH ||
        e->kind == HISTORY_SADD || e->kind == HISTORY_SREM || e->kind == HISTORY_SISMEMBER) {
        line_text(&l, ",\"value\":");
        line_string(&l, e->value, e->value_len);
    }
    line_text(&l, ",\"call\":");
    line_int(&l, e->call_ns);
    if (!e->returned) {
        line_text(&l, ",\"return\":null,\"output\":null}\n");
    } else {
        line_text(&l, ",\"return\":");
        line_int(&l, e->return_ns);
        line_text(&l, ",\"output\":");
        switch (e->kind) {
        case HISTORY_GET:
        case HISTORY_POP:
            if (e->output_null)
                line_text(&l, "null");
            else
                line_string(&l, e->output_value, e->output_len);
            break;
        case HISTORY_PUT: line_text(&l, "\"ok\""); break;
        case HISTORY_CAS: line_text(&l, e->output_ok ? "\"ok\"" : "\"fail\""); break;
        case HISTORY_DEL:
        case HISTORY_INCR:
        case HISTORY_PUSH:
        case HISTORY_SADD:
        case HISTORY_SREM:
        case HISTORY_SISMEMBER: line_int(&l, e->output_int); break;
        }
        line_text(&l, "}\n");
    }
    if (l.full)
        return 0;
    buf[l.len] = '\0';
    return l.len;
}

int history_writer_add(struct history_writer *writer, const struct history_entry *entry,
                       char *buf, size_t capacity)
{
    size_t n = history_format(entry, buf, capacity);
    pthread_mutex_lock(&writer->lock);
    if (n == 0 || fwrite(buf, 1, n, writer->file) != n)
        writer->failed = true;
    else {
        writer->operations++;
        if (!entry->returned)
            writer->unknown++;
    }
    bool failed = writer->failed;
    pthread_mutex_unlock(&writer->lock);
    return failed ? -1 : 0;
}
