/*
 * kv_tx.h — a transaction (MULTI ... EXEC) as one log entry: applied atomically on every
 * replica, at one position of the log.
 *
 * Layout (little-endian):
 *     u8  marker  KV_TX_MARKER (never a kv_command version, so an entry says what it is)
 *     u8  version KV_TX_VERSION
 *     u16 reserved, zero
 *     u32 watch_count   (<= KV_TX_WATCH_MAX)
 *     u32 command_count (<= KV_TX_COMMANDS_MAX)
 *     watch_count times:   u32 key length, the key, u8 exists (0/1), u64 value hash
 *     command_count times: u32 length, then one command encoded by kv_command_encode
 *
 * WATCH: each watched key carries what the client saw when it watched it (whether it existed,
 * and the XXH3-64 hash of its value). At apply time, if any watched key differs from that,
 * nothing runs and the result is a null array (Redis's aborted EXEC). Unlike Redis, a key
 * rewritten with the very value it had is not seen as changed.
 *
 * Decoding checks every bound and never reads past the input (log bytes may be corrupt).
 */
#ifndef CHORUS_KV_TX_H
#define CHORUS_KV_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/kv.h"

enum {
    KV_TX_MARKER = 0xA7,
    KV_TX_VERSION = 1,
    KV_TX_HEADER_BYTES = 12,
    KV_TX_WATCH_MAX = 1024,      /* watched keys of one transaction */
    KV_TX_COMMANDS_MAX = 4096,   /* commands queued in one transaction */
};

struct kv_tx_watch {
    struct kv_bytes key;
    bool exists;
    uint64_t hash; /* kv_tx_value_hash of the value; 0 when !exists */
};

/* The hash a watch records and the apply compares. */
uint64_t kv_tx_value_hash(const uint8_t *value, size_t len);

/* Whether an entry's data is a transaction (else a single command). */
bool kv_tx_is(const uint8_t *data, size_t len);

size_t kv_tx_encoded_bytes(const struct kv_tx_watch *watches, uint32_t watch_count,
                           const struct kv_bytes *commands, uint32_t command_count);

/* Encodes into buf (cap >= kv_tx_encoded_bytes). Returns the length written. */
size_t kv_tx_encode(const struct kv_tx_watch *watches, uint32_t watch_count,
                    const struct kv_bytes *commands, uint32_t command_count, uint8_t *buf,
                    size_t cap);

/* Walks an encoded transaction: open, then every watch, then every command. */
struct kv_tx_reader {
    const uint8_t *data;
    size_t len;
    size_t at;
    uint32_t watches_left;
    uint32_t commands_left;
    uint32_t command_count;
};
int kv_tx_open(struct kv_tx_reader *reader, const uint8_t *data, size_t len);
/* KV_OK with *watch set, or KV_ERR_MALFORMED. Call exactly watches_left times. */
int kv_tx_next_watch(struct kv_tx_reader *reader, struct kv_tx_watch *watch);
/* KV_OK with *command set (its bytes, to kv_command_decode), or KV_ERR_MALFORMED. */
int kv_tx_next_command(struct kv_tx_reader *reader, struct kv_bytes *command);

#endif
