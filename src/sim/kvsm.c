/* kvsm.c — the simulator's key-value state machine: commands, apply, snapshot bytes. */
#include "sim/kvsm.h"
#include "storage/kv.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_KV_COMMAND_VERSION = 1, SIM_KVSM_SNAPSHOT_MAGIC = 0x4b565332u /* "KVS2" */ };

/* A tiny bounds-checked cursor used by every decoder here. */
struct sim_cursor {
    const uint8_t *buf;
    size_t len;
    size_t at;
    bool bad;
};

static uint64_t sim_cursor_uint(struct sim_cursor *c, uint32_t bytes)
{
    if (c->bad || c->len - c->at < bytes) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (uint32_t i = 0; i < bytes; i++) v |= (uint64_t)c->buf[c->at + i] << (8 * i);
    c->at += bytes;
    return v;
}

/* Reads a u8-length-prefixed string of at most `max` bytes into out (NUL-terminated). */
static void sim_cursor_string(struct sim_cursor *c, char *out, uint32_t max)
{
    uint32_t n = (uint32_t)sim_cursor_uint(c, 1);
    if (c->bad || n > max || c->len - c->at < n) {
        c->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, c->buf + c->at, n);
    out[n] = '\0';
    if (memchr(out, '\0', n) != NULL) c->bad = true;
    c->at += n;
}

static size_t sim_put_uint(uint8_t *buf, uint64_t v, uint32_t bytes)
{
    for (uint32_t i = 0; i < bytes; i++) buf[i] = (uint8_t)(v >> (8 * i));
    return bytes;
}

static int64_t sim_put_string(uint8_t *buf, size_t room, const char *s, uint32_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max || room < 1 + n) return -1;
    buf[0] = (uint8_t)n;
    memcpy(buf + 1, s, n);
    return (int64_t)(1 + n);
}

int sim_kv_command_encode(const struct sim_kv_command *command, uint8_t *buf, size_t capacity)
{
    if (capacity < 14 || strnlen(command->key, SIM_KV_KEY_BYTES_MAX + 1) > SIM_KV_KEY_BYTES_MAX)
        return -1;
    size_t at = 0;
    at += sim_put_uint(buf + at, SIM_KV_COMMAND_VERSION, 1);
    at += sim_put_uint(buf + at, command->op, 1);
    at += sim_put_uint(buf + at, command->client, 4);
    at += sim_put_uint(buf + at, command->seq, 8);
    const char *fields[3] = {command->key, command->value, command->expect};
    for (int i = 0; i < 3; i++) {
        int64_t n = sim_put_string(buf + at, capacity - at, fields[i], SIM_KV_VALUE_BYTES_MAX);
        if (n < 0) return -1;
        at += (size_t)n;
    }
    if (command->op == SIM_KV_COLL) {
        if (command->real_len == 0 || command->real_len > SIM_KV_REAL_BYTES_MAX ||
            capacity - at < command->real_len)
            return -1;
        memcpy(buf + at, command->real, command->real_len);
        at += command->real_len;
    }
    return (int)at;
}

int sim_kv_command_decode(const uint8_t *buf, size_t len, struct sim_kv_command *command)
{
    struct sim_cursor c = {.buf = buf, .len = len};
    memset(command, 0, sizeof(*command));
    if (sim_cursor_uint(&c, 1) != SIM_KV_COMMAND_VERSION) return -1;
    command->op = (uint8_t)sim_cursor_uint(&c, 1);
    command->client = (uint32_t)sim_cursor_uint(&c, 4);
    command->seq = sim_cursor_uint(&c, 8);
    sim_cursor_string(&c, command->key, SIM_KV_KEY_BYTES_MAX);
    sim_cursor_string(&c, command->value, SIM_KV_VALUE_BYTES_MAX);
    sim_cursor_string(&c, command->expect, SIM_KV_VALUE_BYTES_MAX);
    if (!c.bad && command->op == SIM_KV_COLL && len - c.at >= 1 &&
        len - c.at <= SIM_KV_REAL_BYTES_MAX) {
        command->real = buf + c.at; /* the rest is the real store's command */
        command->real_len = (uint32_t)(len - c.at);
        c.at = len;
    }
    if (c.bad || c.at != len) return -1;
    if (command->op < SIM_KV_PUT || command->op > SIM_KV_COLL) return -1;
    if (command->op == SIM_KV_COLL && command->real_len == 0) return -1; /* none to apply */
    return 0;
}

void sim_kvsm_reset(struct sim_kvsm *sm)
{
    sm->count = 0;
    sm->time_ms = 0;
}

static struct sim_kvsm_item *sim_kvsm_find(const struct sim_kvsm *sm, const char *key)
{
    for (uint32_t i = 0; i < sm->count; i++)
        if (strcmp(sm->items[i].key, key) == 0) return (struct sim_kvsm_item *)&sm->items[i];
    return NULL;
}

static bool sim_kvsm_expired(const struct sim_kvsm *sm, const struct sim_kvsm_item *item)
{
    return item->deadline_ms != 0 && item->deadline_ms <= sm->time_ms;
}

const char *sim_kvsm_get_deadline(const struct sim_kvsm *sm, const char *key,
                                  uint64_t *deadline_ms)
{
    const struct sim_kvsm_item *item = sim_kvsm_find(sm, key);
    *deadline_ms = 0;
    if (item == NULL || sim_kvsm_expired(sm, item)) return NULL;
    *deadline_ms = item->deadline_ms;
    return item->value;
}

const char *sim_kvsm_get_any(const struct sim_kvsm *sm, const char *key, uint64_t *deadline_ms)
{
    const struct sim_kvsm_item *item = sim_kvsm_find(sm, key);
    *deadline_ms = item != NULL ? item->deadline_ms : 0;
    return item != NULL ? item->value : NULL;
}

const char *sim_kvsm_get(const struct sim_kvsm *sm, const char *key)
{
    uint64_t deadline_ms;
    return sim_kvsm_get_deadline(sm, key, &deadline_ms);
}

/* Sets key to value; returns false when the key space is full (the command is refused). */
static bool sim_kvsm_set(struct sim_kvsm *sm, const char *key, const char *value)
{
    struct sim_kvsm_item *item = sim_kvsm_find(sm, key);
    if (item == NULL) {
        if (sm->count == SIM_KVSM_KEYS_MAX) return false;
        item = &sm->items[sm->count++];
        snprintf(item->key, sizeof(item->key), "%s", key);
    }
    item->deadline_ms = 0; /* a plain write clears it, as SET */
    snprintf(item->value, sizeof(item->value), "%s", value);
    return true;
}

static void sim_kvsm_remove(struct sim_kvsm *sm, struct sim_kvsm_item *item)
{
    *item = sm->items[--sm->count];
}

/* INCR on an absent key counts from 0; a non-integer or overflowing value refuses the command
 * (ok = false, nothing changes), as Redis answers an error. */
static void sim_kvsm_incr(struct sim_kvsm *sm, const char *key, struct sim_kv_output *output)
{
    const char *old = sim_kvsm_get(sm, key);
    long long v = 0;
    if (old != NULL) {
        char *end = NULL;
        errno = 0;
        v = strtoll(old, &end, 10);
        if (errno != 0 || end == old || *end != '\0' || v == LLONG_MAX) return;
    }
    char text[SIM_KV_VALUE_BYTES_MAX + 1];
    snprintf(text, sizeof(text), "%lld", v + 1);
    if (!sim_kvsm_set(sm, key, text)) return;
    output->ok = true;
    output->value_int = v + 1;
}

/* PUTEX's time to live: 1 to 10^9 ms in decimal. */
static bool sim_ttl_parse(const char *text, uint64_t *ttl_ms)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v == 0 || v > 1000000000ull)
        return false;
    *ttl_ms = v;
    return true;
}

int sim_kvsm_apply(struct sim_kvsm *sm, const uint8_t *data, size_t len,
                   struct sim_kv_output *output, uint64_t *stamp_ms)
{
    struct sim_kv_command command;
    uint64_t ttl_ms = 0;
    memset(output, 0, sizeof(*output));
    uint64_t stamp = 0;
    *stamp_ms = 0;
    if (kv_stamp_read(data, len, &stamp)) {
        data += KV_STAMP_BYTES;
        len -= KV_STAMP_BYTES;
    }
    if (sim_kv_command_decode(data, len, &command) != 0) return -1;
    if (command.op == SIM_KV_PUTEX && !sim_ttl_parse(command.expect, &ttl_ms)) return -1;
    *stamp_ms = stamp;
    if (stamp > sm->time_ms) sm->time_ms = stamp; /* never backwards, as kv_expiry.c */
    struct sim_kvsm_item *item = sim_kvsm_find(sm, command.key);
    if (item != NULL && sim_kvsm_expired(sm, item)) { /* the write deletes it first */
        sim_kvsm_remove(sm, item);
        item = NULL;
    }
    switch (command.op) {
    case SIM_KV_PUT: output->ok = sim_kvsm_set(sm, command.key, command.value); break;
    case SIM_KV_DEL:
        output->ok = item != NULL;
        output->value_int = item != NULL;
        if (item != NULL) sim_kvsm_remove(sm, item);
        break;
    case SIM_KV_CAS:
        if (item != NULL && strcmp(item->value, command.expect) == 0) {
            snprintf(item->value, sizeof(item->value), "%s", command.value);
            output->ok = true;
        }
        break;
    case SIM_KV_INCR: sim_kvsm_incr(sm, command.key, output); break;
    case SIM_KV_PROBE: output->ok = true; break;
    case SIM_KV_COLL: output->ok = true; break; /* the real store's (kvstore.c) */
    case SIM_KV_PUTEX:
        output->ok = sim_kvsm_set(sm, command.key, command.value);
        item = output->ok ? sim_kvsm_find(sm, command.key) : NULL;
        if (item != NULL) item->deadline_ms = sm->time_ms + ttl_ms;
        break;
    default: return -1;
    }
    return 0;
}

static uint64_t sim_kvsm_string_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

uint64_t sim_kvsm_digest(const struct sim_kvsm *sm)
{
    uint64_t digest = sm->count + sim_kvsm_string_hash("t") * (sm->time_ms + 1);
    for (uint32_t i = 0; i < sm->count; i++) {
        uint64_t h = sim_kvsm_string_hash(sm->items[i].key) * 31 +
                     sim_kvsm_string_hash(sm->items[i].value) + sm->items[i].deadline_ms * 17;
        digest += h ^ (h >> 29); /* a sum: independent of the item order */
    }
    return digest;
}

int64_t sim_kvsm_encode(const struct sim_kvsm *sm, uint8_t *buf, size_t capacity)
{
    if (capacity < 8) return -1;
    if (capacity < 16) return -1;
    size_t at = sim_put_uint(buf, SIM_KVSM_SNAPSHOT_MAGIC, 4);
    at += sim_put_uint(buf + at, sm->count, 4);
    at += sim_put_uint(buf + at, sm->time_ms, 8);
    for (uint32_t i = 0; i < sm->count; i++) {
        int64_t n = sim_put_string(buf + at, capacity - at, sm->items[i].key,
                                   SIM_KV_KEY_BYTES_MAX);
        if (n < 0) return -1;
        at += (size_t)n;
        n = sim_put_string(buf + at, capacity - at, sm->items[i].value, SIM_KV_VALUE_BYTES_MAX);
        if (n < 0 || capacity - at - (size_t)n < 8) return -1;
        at += (size_t)n;
        at += sim_put_uint(buf + at, sm->items[i].deadline_ms, 8);
    }
    return (int64_t)at;
}

int sim_kvsm_decode(struct sim_kvsm *sm, const uint8_t *buf, size_t len)
{
    struct sim_cursor c = {.buf = buf, .len = len};
    sim_kvsm_reset(sm);
    if (sim_cursor_uint(&c, 4) != SIM_KVSM_SNAPSHOT_MAGIC) return -1;
    uint64_t count = sim_cursor_uint(&c, 4);
    uint64_t time_ms = sim_cursor_uint(&c, 8);
    if (c.bad || count > SIM_KVSM_KEYS_MAX) return -1;
    for (uint64_t i = 0; i < count; i++) {
        struct sim_kvsm_item *item = &sm->items[i];
        sim_cursor_string(&c, item->key, SIM_KV_KEY_BYTES_MAX);
        sim_cursor_string(&c, item->value, SIM_KV_VALUE_BYTES_MAX);
        item->deadline_ms = sim_cursor_uint(&c, 8);
    }
    if (c.bad || c.at != len) return -1;
    sm->time_ms = time_ms;
    sm->count = (uint32_t)count;
    for (uint32_t i = 0; i < sm->count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(sm->items[i].key, sm->items[j].key) == 0) {
                sim_kvsm_reset(sm);
                return -1;
            }
        }
    }
    return 0;
}
