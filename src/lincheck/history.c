/*
 * history.c — storing a history: validated operations, interned strings, model values.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "lincheck/internal.h"

static void history_set_error(struct lincheck_history *history, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void history_set_error(struct lincheck_history *history, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(history->error, sizeof(history->error), format, args);
    va_end(args);
}

int64_t lincheck_clock_ns(void)
{
    struct timespec now;
    int rv = clock_gettime(CLOCK_MONOTONIC, &now);
    assert(rv == 0);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

struct lincheck_history *lincheck_history_create(void)
{
    struct lincheck_history *history = calloc(1, sizeof(*history));
    if (history == NULL) return NULL;
    history->memory_bytes = sizeof(*history);
    return history;
}

void lincheck_history_destroy(struct lincheck_history *history)
{
    if (history == NULL) return;
    for (uint32_t i = 0; i < history->chunk_count; i++) free(history->chunks[i]);
    free(history->chunks);
    for (uint32_t i = 0; i < history->string_count; i++) free(history->strings[i]);
    free(history->strings);
    free(history->string_lengths);
    free(history->slots);
    free(history);
}

const char *lincheck_history_error(const struct lincheck_history *history)
{
    return history->error;
}

uint32_t lincheck_history_count(const struct lincheck_history *history)
{
    return history->count;
}

const struct lincheck_record *lincheck_history_record(const struct lincheck_history *history,
                                                      uint32_t index)
{
    assert(index < history->count);
    return &history->chunks[index >> LINCHECK_RECORDS_PER_CHUNK_LOG2]
                           [index & (LINCHECK_RECORDS_PER_CHUNK - 1)];
}

const struct lincheck_op *lincheck_history_op(const struct lincheck_history *history,
                                              uint32_t index)
{
    return &lincheck_history_record(history, index)->op;
}

/* Doubles the open-addressing table and re-inserts every id; keeps the load under 1/2 so that
 * probe sequences stay short. */
static int history_slots_grow(struct lincheck_history *history)
{
    uint32_t slot_count = history->slot_count ? history->slot_count * 2 : 1024;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL) return -1;
    for (uint32_t id = 0; id < history->string_count; id++) {
        uint64_t hash = XXH3_64bits(history->strings[id], history->string_lengths[id]);
        uint32_t slot = (uint32_t)hash & (slot_count - 1);
        while (slots[slot] != 0) slot = (slot + 1) & (slot_count - 1);
        slots[slot] = id + 1;
    }
    history->memory_bytes += (uint64_t)(slot_count - history->slot_count) * sizeof(*slots);
    free(history->slots);
    history->slots = slots;
    history->slot_count = slot_count;
    return 0;
}

static int history_strings_grow(struct lincheck_history *history)
{
    uint32_t capacity = history->string_capacity ? history->string_capacity * 2 : 1024;
    char **strings = realloc(history->strings, capacity * sizeof(*strings));
    if (strings == NULL) return -1;
    history->strings = strings;
    uint32_t *lengths = realloc(history->string_lengths, capacity * sizeof(*lengths));
    if (lengths == NULL) return -1;
    history->string_lengths = lengths;
    history->memory_bytes += (uint64_t)(capacity - history->string_capacity) *
                             (sizeof(*strings) + sizeof(*lengths));
    history->string_capacity = capacity;
    return 0;
}

/* Returns the id of `string` (length bytes), adding a copy when new; -1 when out of memory. */
static int64_t history_intern(struct lincheck_history *history, const char *string, size_t length)
{
    assert(length <= LINCHECK_VALUE_BYTES_MAX);
    if (history->string_count * 2 + 2 > history->slot_count && history_slots_grow(history) != 0)
        return -1;
    uint64_t hash = XXH3_64bits(string, length);
    uint32_t mask = history->slot_count - 1;
    uint32_t slot = (uint32_t)hash & mask;
    /* Bounded: the table is at most half full, so an empty slot comes within slot_count. */
    for (uint32_t probe = 0; probe < history->slot_count; probe++) {
        uint32_t id_plus_one = history->slots[slot];
        if (id_plus_one == 0) break;
        uint32_t id = id_plus_one - 1;
        if (history->string_lengths[id] == length &&
            memcmp(history->strings[id], string, length) == 0)
            return id;
        slot = (slot + 1) & mask;
    }
    assert(history->slots[slot] == 0);
    if (history->string_count >= LINCHECK_STRINGS_MAX) return -1;
    if (history->string_count == history->string_capacity && history_strings_grow(history) != 0)
        return -1;
    char *copy = malloc(length + 1);
    if (copy == NULL) return -1;
    memcpy(copy, string, length);
    copy[length] = '\0';
    uint32_t id = history->string_count++;
    history->strings[id] = copy;
    history->string_lengths[id] = (uint32_t)length;
    history->slots[slot] = id + 1;
    history->memory_bytes += length + 1;
    return id;
}

/* Redis's rule (string2ll): optional '-', digits without a leading zero, no "-0", fits in
 * int64. Only such strings are integers to INCR; "007" and "+1" are strings. */
static bool history_parse_integer(const char *string, size_t length, int64_t *integer)
{
    if (length == 0 || length > 20) return false;
    size_t i = 0;
    bool negative = string[0] == '-';
    if (negative) i = 1;
    if (i == length) return false;
    if (string[i] == '0') {
        if (length != 1) return false; /* "0" only: no "-0", no "01" */
        *integer = 0;
        return true;
    }
    uint64_t magnitude = 0;
    for (; i < length; i++) {
        if (string[i] < '0' || string[i] > '9') return false;
        uint64_t digit = (uint64_t)(string[i] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) return false;
        magnitude = magnitude * 10 + digit;
    }
    if (negative) {
        if (magnitude > (uint64_t)INT64_MAX + 1) return false;
        *integer = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
    } else {
        if (magnitude > (uint64_t)INT64_MAX) return false;
        *integer = (int64_t)magnitude;
    }
    return true;
}

/* Interns `string` and computes its model value; *copy points to the interned copy. */
static int history_value(struct lincheck_history *history, const char *string,
                         struct lincheck_value *value, const char **copy)
{
    size_t length = strlen(string);
    if (length > LINCHECK_VALUE_BYTES_MAX) {
        history_set_error(history, "value longer than %u bytes", LINCHECK_VALUE_BYTES_MAX);
        return -1;
    }
    int64_t id = history_intern(history, string, length);
    if (id < 0) {
        history_set_error(history, "out of memory");
        return -1;
    }
    *copy = history->strings[id];
    int64_t integer;
    if (history_parse_integer(string, length, &integer))
        *value = (struct lincheck_value){ .payload = integer, .tag = LINCHECK_VALUE_INT };
    else
        *value = (struct lincheck_value){ .payload = id, .tag = LINCHECK_VALUE_STRING };
    return 0;
}

static bool history_is_set_op(enum lincheck_kind kind)
{
    return kind == LINCHECK_SADD || kind == LINCHECK_SREM || kind == LINCHECK_SISMEMBER;
}

/* The fields an operation of each kind must and must not carry. Returns NULL when `op` is
 * consistent, else the reason. */
static const char *history_validate(const struct lincheck_op *op)
{
    if ((unsigned)op->kind > LINCHECK_KIND_LAST) return "unknown kind";
    if (op->key == NULL) return "missing key";
    if (strlen(op->key) > LINCHECK_KEY_BYTES_MAX) return "key too long";
    bool wants_value = op->kind == LINCHECK_PUT || op->kind == LINCHECK_CAS ||
                       op->kind == LINCHECK_PUSH || history_is_set_op(op->kind);
    if (wants_value && op->value == NULL) return "missing value";
    if (!wants_value && op->value != NULL) return "value given to an op that takes none";
    if (op->kind == LINCHECK_CAS && op->expect == NULL) return "missing expect";
    if (op->kind != LINCHECK_CAS && op->expect != NULL) return "expect given to an op that is not cas";
    if (!op->returned) {
        if (op->output_value != NULL) return "output given to an op that did not return";
        return NULL;
    }
    if (op->return_ns <= op->call_ns) return "return is not after call";
    switch (op->kind) {
    case LINCHECK_GET:
    case LINCHECK_POP:
        if (op->output_null != (op->output_value == NULL))
            return "get and pop output must be a value or null";
        break;
    case LINCHECK_PUT:
        if (!op->output_ok) return "put output must be ok";
        break;
    case LINCHECK_DEL:
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER:
        if (op->output_int != 0 && op->output_int != 1)
            return "del, sadd, srem and sismember output must be 0 or 1";
        break;
    case LINCHECK_PUSH:
        if (op->output_int < 1) return "push output must be the new length (>= 1)";
        break;
    case LINCHECK_CAS:
    case LINCHECK_INCR:
        break;
    }
    if (op->kind != LINCHECK_GET && op->kind != LINCHECK_POP &&
        (op->output_null || op->output_value != NULL))
        return "only get and pop output a value or null";
    return NULL;
}

/* The id that splits the history: the key itself, or for a set operation the pair (key,
 * member) — with a NUL between them, which no key contains, so that it never names a plain key.
 * Each member of a set is then checked on its own (lincheck.h). */
static int64_t history_split_id(struct lincheck_history *history, const struct lincheck_op *op)
{
    size_t key_length = strlen(op->key);
    if (!history_is_set_op(op->kind)) return history_intern(history, op->key, key_length);
    size_t member_length = strlen(op->value);
    size_t length = key_length + 1 + member_length;
    if (length > LINCHECK_VALUE_BYTES_MAX) return -1;
    char *pair = malloc(length);
    if (pair == NULL) return -1;
    memcpy(pair, op->key, key_length);
    pair[key_length] = '\0';
    memcpy(pair + key_length + 1, op->value, member_length);
    int64_t id = history_intern(history, pair, length);
    free(pair);
    return id;
}

static struct lincheck_record *history_slot_next(struct lincheck_history *history)
{
    uint32_t chunk = history->count >> LINCHECK_RECORDS_PER_CHUNK_LOG2;
    if (chunk == history->chunk_count) {
        struct lincheck_record **chunks =
            realloc(history->chunks, (chunk + 1) * sizeof(*chunks));
        if (chunks == NULL) return NULL;
        history->chunks = chunks;
        chunks[chunk] = malloc(LINCHECK_RECORDS_PER_CHUNK * sizeof(**chunks));
        if (chunks[chunk] == NULL) return NULL;
        history->chunk_count++;
        history->memory_bytes += LINCHECK_RECORDS_PER_CHUNK * sizeof(**chunks) + sizeof(*chunks);
    }
    return &history->chunks[chunk][history->count & (LINCHECK_RECORDS_PER_CHUNK - 1)];
}

int lincheck_history_add(struct lincheck_history *history, const struct lincheck_op *op)
{
    assert(history != NULL);
    assert(op != NULL);
    const char *reason = history_validate(op);
    if (reason != NULL) {
        history_set_error(history, "%s", reason);
        return -1;
    }
    if (history->count >= LINCHECK_OPS_MAX) {
        history_set_error(history, "more than %u operations", LINCHECK_OPS_MAX);
        return -1;
    }
    struct lincheck_record *record = history_slot_next(history);
    if (record == NULL) {
        history_set_error(history, "out of memory");
        return -1;
    }
    struct lincheck_record built = { .op = *op };
    struct lincheck_value key_value;
    if (history_value(history, op->key, &key_value, &built.op.key) != 0) return -1;
    int64_t key_id = history_split_id(history, op);
    if (key_id < 0) {
        history_set_error(history, "out of memory, or set member too long");
        return -1;
    }
    built.key_id = (uint32_t)key_id;
    if (op->value != NULL && history_value(history, op->value, &built.value, &built.op.value) != 0)
        return -1;
    if (op->expect != NULL &&
        history_value(history, op->expect, &built.expect, &built.op.expect) != 0)
        return -1;
    if (!op->returned) {
        built.op.output_null = false;
        built.op.output_ok = false;
        built.op.output_int = 0;
        built.op.return_ns = 0;
    } else if (op->output_value != NULL &&
               history_value(history, op->output_value, &built.output, &built.op.output_value) != 0) {
        return -1;
    }
    *record = built;
    history->count++;
    history->error[0] = '\0';
    return 0;
}
