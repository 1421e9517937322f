/*
 * kvsm.h — the in-memory key-value state machine the simulator applies, and its commands.
 *
 * A command (put, del, cas, incr, or a probe that changes nothing) is encoded into an entry's
 * bytes together with the client and sequence number that issued it, so that every command is
 * unique and a client can recognise its own entry when it is applied. Applying is deterministic
 * and yields the output a client sees (put "ok", del 0/1, cas ok/fail, incr the new value).
 * Malformed bytes never crash: they are refused with -1 and change nothing. The whole state
 * serialises into a snapshot and back (bounds-checked).
 */
#ifndef CHORUS_SIM_KVSM_H
#define CHORUS_SIM_KVSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SIM_KV_KEY_BYTES_MAX = 15,    /* without the NUL */
    SIM_KV_VALUE_BYTES_MAX = 31,  /* without the NUL */
    SIM_KVSM_KEYS_MAX = 32,       /* distinct keys held at once */
    /* A COLL command's real store command (storage/kv_command.h) after the fields. */
    SIM_KV_REAL_BYTES_MAX = 192,
    SIM_KV_COMMAND_BYTES_MAX = 1 + 1 + 4 + 8 + 3 * (1 + SIM_KV_VALUE_BYTES_MAX) +
                               SIM_KV_REAL_BYTES_MAX,
    SIM_KVSM_SNAPSHOT_BYTES_MAX = 16 + SIM_KVSM_KEYS_MAX * (2 + 8 + SIM_KV_KEY_BYTES_MAX +
                                                            SIM_KV_VALUE_BYTES_MAX),
    /* A proposed entry: a log time stamp (storage/kv.h, KV_STAMP_BYTES), then the command. */
    SIM_KV_STAMP_BYTES = 9,
    SIM_KV_ENTRY_BYTES_MAX = SIM_KV_STAMP_BYTES + SIM_KV_COMMAND_BYTES_MAX,
};

enum sim_kv_op {
    SIM_KV_PUT = 1,
    SIM_KV_DEL = 2,
    SIM_KV_CAS = 3,
    SIM_KV_INCR = 4,
    SIM_KV_PROBE = 5, /* changes nothing: the liveness check's proposal */
    /* PUT with a time to live: `expect` holds it in ms, in decimal; the key's deadline is the
     * entry's log time plus that (docs/expiry.md). A plain PUT clears a deadline. */
    SIM_KV_PUTEX = 6,
    /* --kv-store (kvstore.c): the fields are followed by a command of the real store
     * (storage/kv_command.h: a hash, list, set or sorted set command), which every replica
     * applies to its own real store; this state machine changes nothing for it. */
    SIM_KV_COLL = 7,
};

struct sim_kv_command {
    uint8_t op; /* enum sim_kv_op */
    uint32_t client;
    uint64_t seq;
    char key[SIM_KV_KEY_BYTES_MAX + 1];
    char value[SIM_KV_VALUE_BYTES_MAX + 1];  /* PUT, CAS */
    char expect[SIM_KV_VALUE_BYTES_MAX + 1]; /* CAS */
    /* COLL: the real command's bytes (encode: borrowed; decode: into the decoded buffer). */
    const uint8_t *real;
    uint32_t real_len;
};

struct sim_kv_output {
    bool ok;           /* PUT: true; CAS: swapped; DEL: removed; INCR: true unless refused */
    int64_t value_int; /* INCR: the new value; DEL: 0 or 1 */
};

struct sim_kvsm_item {
    char key[SIM_KV_KEY_BYTES_MAX + 1];
    char value[SIM_KV_VALUE_BYTES_MAX + 1];
    uint64_t deadline_ms; /* 0: none; absent for every command once the log time reaches it */
};

struct sim_kvsm {
    uint64_t time_ms; /* the log time: the largest stamp applied (docs/expiry.md) */
    uint32_t count;
    struct sim_kvsm_item items[SIM_KVSM_KEYS_MAX];
};

/* Returns the encoded length (> 0), or -1 when a field is too long or buf too small. */
int sim_kv_command_encode(const struct sim_kv_command *command, uint8_t *buf, size_t capacity);
/* Returns 0, or -1 on malformed input (never reads outside buf[0..len)). */
int sim_kv_command_decode(const uint8_t *buf, size_t len, struct sim_kv_command *command);

void sim_kvsm_reset(struct sim_kvsm *sm);
/* Applies one encoded command, which may begin with a log time stamp (storage/kv.h) that
 * advances the state machine's log time. Returns 0 with its output, or -1 (malformed:
 * nothing changed). *stamp_ms: the stamp's time (0: none). */
int sim_kvsm_apply(struct sim_kvsm *sm, const uint8_t *data, size_t len,
                   struct sim_kv_output *output, uint64_t *stamp_ms);
/* The value of `key`, or NULL when absent (or its deadline passed at the log time). */
const char *sim_kvsm_get(const struct sim_kvsm *sm, const char *key);
/* The same, and the key's deadline (0: none or absent). */
const char *sim_kvsm_get_deadline(const struct sim_kvsm *sm, const char *key,
                                  uint64_t *deadline_ms);
/* What the state machine holds for `key`, expired or not (the planted bug ignore-deadline). */
const char *sim_kvsm_get_any(const struct sim_kvsm *sm, const char *key, uint64_t *deadline_ms);
/* Order-independent digest of the contents and the log time (for comparing replicas). */
uint64_t sim_kvsm_digest(const struct sim_kvsm *sm);
/* Serialises into buf. Returns the length, or -1 when capacity is too small. */
int64_t sim_kvsm_encode(const struct sim_kvsm *sm, uint8_t *buf, size_t capacity);
/* Replaces the contents from a serialisation. Returns 0, or -1 on malformed input (sm is
 * then left empty). */
int sim_kvsm_decode(struct sim_kvsm *sm, const uint8_t *buf, size_t len);

#endif
