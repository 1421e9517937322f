/*
 * kv_tx.c — the encoding of a transaction (kv_tx.h).
 */
#include <assert.h>
#include <string.h>
#include <xxhash.h>

#include "storage/kv_tx.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t kv_tx_value_hash(const uint8_t *value, size_t len)
{
    return XXH3_64bits(value, len);
}

bool kv_tx_is(const uint8_t *data, size_t len)
{
    return len >= 1 && data[0] == KV_TX_MARKER;
}

size_t kv_tx_encoded_bytes(const struct kv_tx_watch *watches, uint32_t watch_count,
                           const struct kv_bytes *commands, uint32_t command_count)
{
    size_t bytes = KV_TX_HEADER_BYTES;
    for (uint32_t i = 0; i < watch_count; i++)
        bytes += 4 + watches[i].key.len + 1 + 8;
    for (uint32_t i = 0; i < command_count; i++)
        bytes += 4 + commands[i].len;
    return bytes;
}

size_t kv_tx_encode(const struct kv_tx_watch *watches, uint32_t watch_count,
                    const struct kv_bytes *commands, uint32_t command_count, uint8_t *buf,
                    size_t cap)
{
    assert(watch_count <= KV_TX_WATCH_MAX && command_count <= KV_TX_COMMANDS_MAX);
    assert(cap >= kv_tx_encoded_bytes(watches, watch_count, commands, command_count));
    buf[0] = KV_TX_MARKER;
    buf[1] = KV_TX_VERSION;
    buf[2] = buf[3] = 0;
    put_u32(buf + 4, watch_count);
    put_u32(buf + 8, command_count);
    size_t at = KV_TX_HEADER_BYTES;
    for (uint32_t i = 0; i < watch_count; i++) {
        const struct kv_tx_watch *w = &watches[i];
        put_u32(buf + at, (uint32_t)w->key.len);
        memcpy(buf + at + 4, w->key.data, w->key.len);
        at += 4 + w->key.len;
        buf[at] = w->exists ? 1 : 0;
        put_u64(buf + at + 1, w->exists ? w->hash : 0);
        at += 9;
    }
    for (uint32_t i = 0; i < command_count; i++) {
        put_u32(buf + at, (uint32_t)commands[i].len);
        memcpy(buf + at + 4, commands[i].data, commands[i].len);
        at += 4 + commands[i].len;
    }
    return at;
}

int kv_tx_open(struct kv_tx_reader *reader, const uint8_t *data, size_t len)
{
    memset(reader, 0, sizeof(*reader));
    if (len < KV_TX_HEADER_BYTES || data[0] != KV_TX_MARKER || data[1] != KV_TX_VERSION ||
        data[2] != 0 || data[3] != 0)
        return KV_ERR_MALFORMED;
    reader->data = data;
    reader->len = len;
    reader->at = KV_TX_HEADER_BYTES;
    reader->watches_left = get_u32(data + 4);
    reader->commands_left = reader->command_count = get_u32(data + 8);
    if (reader->watches_left > KV_TX_WATCH_MAX || reader->commands_left > KV_TX_COMMANDS_MAX)
        return KV_ERR_MALFORMED;
    return KV_OK;
}

/* A u32 length and that many bytes at the reader's position, within the input. */
static int read_bytes(struct kv_tx_reader *reader, struct kv_bytes *bytes)
{
    if (reader->len - reader->at < 4)
        return KV_ERR_MALFORMED;
    uint32_t n = get_u32(reader->data + reader->at);
    if (reader->len - reader->at - 4 < n)
        return KV_ERR_MALFORMED;
    bytes->data = reader->data + reader->at + 4;
    bytes->len = n;
    reader->at += 4 + (size_t)n;
    return KV_OK;
}

int kv_tx_next_watch(struct kv_tx_reader *reader, struct kv_tx_watch *watch)
{
    assert(reader->watches_left > 0);
    if (read_bytes(reader, &watch->key) != KV_OK || reader->len - reader->at < 9 ||
        reader->data[reader->at] > 1)
        return KV_ERR_MALFORMED;
    watch->exists = reader->data[reader->at] == 1;
    watch->hash = get_u64(reader->data + reader->at + 1);
    reader->at += 9;
    reader->watches_left--;
    return KV_OK;
}

int kv_tx_next_command(struct kv_tx_reader *reader, struct kv_bytes *command)
{
    assert(reader->watches_left == 0 && reader->commands_left > 0);
    if (read_bytes(reader, command) != KV_OK)
        return KV_ERR_MALFORMED;
    reader->commands_left--;
    if (reader->commands_left == 0 && reader->at != reader->len)
        return KV_ERR_MALFORMED; /* trailing bytes: not what an encoder writes */
    return KV_OK;
}
