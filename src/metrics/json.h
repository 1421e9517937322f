/*
 * json.h — a writer of JSON text (RFC 8259) into a caller's buffer of fixed size: what the
 * node's live view streams (src/node/view.c, GET /events).
 *
 * Like metrics_text.h, the writer never writes past its buffer: an append that does not fit
 * sets a sticky overflow flag and writes nothing more, and json_finish then reports it (the
 * caller may retry with a larger buffer, or send something smaller). The structure (objects,
 * arrays, keys, commas) is kept by the writer, so no caller formats JSON by hand. Its shape
 * comes from the program, so a misuse (a value where a key is due, an end that does not
 * match, nesting deeper than JSON_DEPTH_MAX) is a programmer error: an assert. String values
 * may be anything and are escaped: '"' and '\\', control characters, and bytes that are not
 * valid UTF-8 (each becomes U+FFFD), so the output is always valid UTF-8 and valid JSON.
 * A double that is not finite (JSON has no NaN or infinity) is written as null.
 *
 * Typical use:
 *
 *     struct json w;
 *     json_init(&w, buf, sizeof(buf));
 *     json_object_begin(&w);
 *     json_key_u64(&w, "term", 7);
 *     json_key(&w, "roles");
 *     json_array_begin(&w);
 *     json_string(&w, "leader");
 *     json_array_end(&w);
 *     json_object_end(&w);
 *     long len = json_finish(&w);   -1: it did not fit
 *
 * No allocation, no I/O: the module is pure and tested alone (tests/unit/test_json.c).
 */
#ifndef CHORUS_METRICS_JSON_H
#define CHORUS_METRICS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    JSON_DEPTH_MAX = 16, /* objects and arrays open at once */
};

struct json {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;           /* sticky: once set, nothing more is written */
    uint32_t depth;          /* containers open */
    bool in_object[JSON_DEPTH_MAX]; /* by depth - 1: an object (else an array) */
    bool has_items[JSON_DEPTH_MAX]; /* by depth - 1: the next item needs a comma */
    bool key_written;        /* in an object: a key was written, its value is due */
    bool complete;           /* the top-level value was written */
};

void json_init(struct json *w, char *buf, size_t cap);

void json_object_begin(struct json *w);
void json_object_end(struct json *w);
void json_array_begin(struct json *w);
void json_array_end(struct json *w);
/* A member's name, in an object only; its value is the next thing written. */
void json_key(struct json *w, const char *key);

void json_string(struct json *w, const char *s);
void json_string_len(struct json *w, const char *s, size_t len);
void json_u64(struct json *w, uint64_t value);
void json_i64(struct json *w, int64_t value);
void json_double(struct json *w, double value);
void json_bool(struct json *w, bool value);
void json_null(struct json *w);

/* A key and its value in one call, for the common members. */
void json_key_string(struct json *w, const char *key, const char *s);
void json_key_u64(struct json *w, const char *key, uint64_t value);
void json_key_double(struct json *w, const char *key, double value);
void json_key_bool(struct json *w, const char *key, bool value);

/* The length written, or -1 if anything did not fit (the buffer then holds a prefix that
 * must not be sent). Asserts that the top-level value is complete. */
long json_finish(const struct json *w);

#endif
