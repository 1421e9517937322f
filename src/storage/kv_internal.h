/*
 * kv_internal.h — what the kv_*.c files share: the struct kv, the per-thread error text,
 * the result arena and the encoding of user keys into LMDB keys. Not for other modules.
 */
#ifndef CHORUS_KV_INTERNAL_H
#define CHORUS_KV_INTERNAL_H

#include <limits.h>
#include <lmdb.h>

#include "storage/kv.h"

enum {
    /* Every LMDB key of the "keys" DB starts with the XXH3-64 hash of the user key, big-endian,
     * so that the store is in hash order: SCAN's cursor is a position in it (kv.h). */
    KV_KEY_HASH_BYTES = 8,
    /* User keys up to this length are stored inline: LMDB key = hash + tag 0 + key. */
    KV_KEY_INLINE_BYTES_MAX = 480,
    KV_KEY_TAG_INLINE = 0,
    /* Longer keys: LMDB key = hash + tag 1 + first KV_KEY_INLINE_BYTES_MAX bytes; the record
     * starts with u16 suffix length + the suffix of the key. */
    KV_KEY_TAG_HASHED = 1,
    KV_KEY_HASHED_BYTES = KV_KEY_HASH_BYTES + 1 + KV_KEY_INLINE_BYTES_MAX,
    /* A collection's metadata record (kv_coll.c) has the same LMDB key as a string of that
     * key would, with this bit set in the tag: 2 inline, 3 hashed. So a key is one record of
     * the keys DB whatever its type (DBSIZE, SCAN, RANDOMKEY see every key once), and
     * the tag tells the type without reading the record. */
    KV_KEY_TAG_COLLECTION = 2,
    /* Elements live in the store's "elems" DB under an 8-byte collection id (big-endian)
     * followed by the element encoded as a user key is (hash, tag, bytes): see kv_coll.c. */
    KV_ELEM_ID_BYTES = 8,
    KV_RECORD_HEADER_BYTES = 2,
    KV_ARENA_BLOCK_BYTES = 64u << 10,
    KV_DIR_BYTES_MAX = PATH_MAX - 64, /* leaves room for "/snapshot.staging" and the like */
    KV_STORE_NAME_BYTES = 32,        /* kv_store_name: "snapshot.staging.4294967295" fits */
    /* Returned by kv_slot_* when the record under a hashed key belongs to another key. Not an
     * LMDB code (those are -30800..-30780) nor an errno (positive). */
    KV_RC_COLLISION = -29000,
    /* Returned by a string command's lookup when the key holds a collection (kv_apply.c turns
     * it into Redis's WRONGTYPE error, rolling the command back if it wrote already). */
    KV_RC_WRONGTYPE = -29001,
};
_Static_assert((int)KV_ELEM_ID_BYTES + (int)KV_KEY_HASHED_BYTES <= (int)KV_ENCODED_KEY_BYTES_MAX,
               "an element's LMDB key fits");
_Static_assert((int)KV_KEY_HASHED_BYTES <= (int)KV_ENCODED_KEY_BYTES_MAX, "hashed key fits");
_Static_assert(KV_ENCODED_KEY_BYTES_MAX <= 511, "LMDB's default MDB_MAXKEYSIZE");
_Static_assert((int)KV_KEY_BYTES_MAX - (int)KV_KEY_INLINE_BYTES_MAX <= UINT16_MAX, "suffix length fits u16");

/* Memory for results that outlive the write txn (old values): blocks that never move. */
struct kv_arena_block {
    struct kv_arena_block *next;
    size_t cap;
    size_t used;
    uint8_t data[];
};
struct kv_arena {
    struct kv_arena_block *head;    /* first block, kept across batches */
    struct kv_arena_block *current; /* last block, the one being filled */
};

/* The applies in an environment's open write txn, to be done again when one entry must be
 * rolled back (kv_replay.c). Items' data are copied: the caller's buffers do not live that
 * long. Bounded; a run that does not fit makes the caller commit instead. */
enum {
    KV_REPLAY_RUNS_MAX = 4096,
    KV_REPLAY_ITEMS_MAX = 1u << 16,
    KV_REPLAY_BYTES_MAX = 16u << 20,
    KV_REPLAY_POISONS_MAX = 1024,
};
struct kv_replay_run {
    struct kv *kv;
    size_t item_first;
    size_t item_count;
    uint64_t applied_index_before; /* the store's, before the run: restored on an abort */
    uint64_t applied_term_before;
    uint64_t time_before_ms;       /* its log time (kv_expiry.c), restored the same way */
};
struct kv_replay_poison {
    const struct kv *kv;
    uint64_t index;
    int rc; /* why it was rolled back: MDB_MAP_FULL, KV_RC_COLLISION, KV_RC_WRONGTYPE... */
};
struct kv_replay {
    struct kv_replay_run *runs;
    size_t run_count, run_cap;
    struct kv_apply_item *items; /* data: offsets into bytes until read (kv_replay_item) */
    size_t item_count, item_cap;
    uint8_t *bytes;
    size_t byte_count, byte_cap;
    struct kv_replay_poison *poisons; /* entries to answer with their error, writing nothing */
    size_t poison_count, poison_cap;
};
/* Records a store's run (copying items and their data); false when a bound would be passed
 * or memory ran out: the caller then commits, which makes the record unnecessary. */
bool kv_replay_record(struct kv_replay *replay, struct kv *kv,
                      const struct kv_apply_item *items, size_t count,
                      uint64_t applied_index_before, uint64_t applied_term_before);
/* Item i of a recorded run, its data pointing into the record. */
struct kv_apply_item kv_replay_item(const struct kv_replay *replay,
                                    const struct kv_replay_run *run, size_t i);
/* Marks a store's entry to be answered with `rc`'s error; false when the bound is reached. */
bool kv_replay_poison(struct kv_replay *replay, const struct kv *kv, uint64_t index, int rc);
bool kv_replay_poisoned(const struct kv_replay *replay, const struct kv *kv, uint64_t index,
                        int *rc);
/* After a commit or an abort that is not redone: nothing to do again. Keeps the memory. */
void kv_replay_clear(struct kv_replay *replay);
void kv_replay_free(struct kv_replay *replay);

/*
 * The LMDB environment that stores share (kv.h, "One environment for many stores"). The
 * write txn is where kv_apply_batch applies: when the environment defers commits, every
 * store's batch of one loop iteration lands in it, flat (MDB_WRITEMAP allows no nested txns),
 * and kv_env_commit makes them visible (and written to the page cache) together.
 */
struct kv_env {
    MDB_env *env;
    MDB_dbi meta_dbi;
    struct kv_options options;
    char dir[KV_DIR_BYTES_MAX];
    uint32_t stores_max;
    uint32_t stores_open;
    uint8_t format;      /* the format the environment was opened with (kv_store.c) */
    bool defer_commit;   /* kv_env_open: true; kv_open's private environment: false */
    MDB_txn *txn;        /* the write txn of the applies, NULL when none is open */
    size_t txn_bytes;    /* what the stores wrote into it */
    struct kv_replay replay; /* the applies in txn, and the entries to roll back */
};

struct kv {
    struct kv_env *shared;   /* the environment this store lives in */
    bool owns_env;           /* kv_open: a private environment, closed with the store */
    uint32_t id;             /* names its DB and its meta records (kv_store.c) */
    MDB_env *env;            /* shared->env, for brevity */
    MDB_dbi data_dbi;        /* the store's keys DB: user keys in hash order (kv.h) */
    MDB_dbi elems_dbi;       /* the store's elements DB: collections' elements (kv_coll.c) */
    MDB_dbi meta_dbi;        /* the environment's meta DB */
    struct kv_options options;
    char dir[KV_DIR_BYTES_MAX];   /* the environment's directory */
    uint64_t applied_index;  /* as committed in meta; only the apply thread changes it */
    uint64_t applied_term;
    struct kv_bytes *decode_args; /* KV_COMMAND_ARGS_MAX, for kv_command_decode */
    uint8_t *scratch;             /* KV_VALUE_BYTES_MAX, to build APPEND values */
    struct kv_arena arena;
    struct kv_arena read_arena;   /* results of kv_read_run, until its next call */
    uint64_t time_ms;             /* the log time of the applied index (kv_expiry.c), as of
                                   * the open write txn (restored when it is rolled back) */
    uint64_t apply_index;         /* the entry being applied: new collection ids come from */
    uint32_t apply_ids;           /* it and the ids it handed out so far (kv_coll_new_id) */
    int stage_fd;                 /* staged incoming snapshot, -1 when none */
    uint64_t stage_bytes;
};

/* kv_store.c */
__attribute__((format(printf, 1, 2))) void kv_error_set(const char *format, ...);
/* Maps an LMDB/errno code to a kv error and records "what: lmdb message". */
int kv_error_mdb(int rc, const char *what);
/* The environment's write txn for applies, begun if none is open. */
int kv_env_write_txn(struct kv_env *env, MDB_txn **txn);
/* Aborts the write txn: everything since the last commit is gone (the caller redoes it). */
void kv_env_abort(struct kv_env *env);
void kv_arena_reset(struct kv_arena *arena);
/* Copies len bytes into the arena; NULL when out of memory. */
const uint8_t *kv_arena_copy(struct kv_arena *arena, const uint8_t *data, size_t len);
/* len bytes of arena memory aligned to 8 (structs of pointers and 64-bit integers); NULL when
 * out of memory. */
void *kv_arena_alloc(struct kv_arena *arena, size_t len);
/* The name of a store's DB, meta record or file from its base name: `base` for store 0 (and
 * for kv == NULL), "base.N" in buf for store N. */
const char *kv_store_name(const struct kv *kv, const char *base, char *buf, size_t cap);
int kv_meta_put_applied(MDB_txn *txn, const struct kv *kv, uint64_t index, uint64_t term);
int kv_meta_get_applied(MDB_txn *txn, const struct kv *kv, uint64_t *index, uint64_t *term);
int kv_meta_put_config(MDB_txn *txn, const struct kv *kv, const uint8_t *data, size_t len);
int kv_meta_put_acl(MDB_txn *txn, const struct kv *kv, const uint8_t *data, size_t len);
/* The store's ACL blob as of txn (empty when none). */
int kv_acl_read(struct kv *kv, MDB_txn *txn, uint8_t *buf, size_t cap, size_t *len);
/* The store's configuration blob as of txn (kv_config_get's). */
int kv_config_read(struct kv *kv, MDB_txn *txn, uint8_t *buf, size_t cap, size_t *len);
int kv_meta_put_format(MDB_txn *txn, MDB_dbi meta);
/* The store's clock: its log time and its deadlines' count and sum (kv_expiry.c). */
struct kv_clock {
    uint64_t time_ms;
    uint64_t count;
    uint64_t sum_s;
};
enum { KV_CLOCK_BYTES = 24 };
int kv_meta_put_clock(MDB_txn *txn, const struct kv *kv, const struct kv_clock *clock);
int kv_meta_get_clock(MDB_txn *txn, const struct kv *kv, struct kv_clock *clock);
/* A snapshot installs a record of the elements DB: a deadline's index record counts. */
void kv_expiry_count_record(const MDB_val *key, struct kv_clock *clock);
void kv_put_le64(uint8_t *p, uint64_t v);
uint64_t kv_get_le64(const uint8_t *p);

/* kv_key.c: a user key and its LMDB key. */
struct kv_slot {
    const uint8_t *key;
    size_t key_len;
    bool hashed;
    size_t prefix_len;    /* 0 for a user key, KV_ELEM_ID_BYTES for an element */
    size_t encoded_len;
    uint8_t encoded[KV_ENCODED_KEY_BYTES_MAX];
};
void kv_slot_init(struct kv_slot *slot, const uint8_t *key, size_t key_len);
/* An element of collection `id`: its LMDB key in the elements DB. */
void kv_slot_init_element(struct kv_slot *slot, uint64_t id, const uint8_t *element, size_t len);
/* Switches a user key's slot between its string record and its collection record. */
void kv_slot_set_collection(struct kv_slot *slot, bool collection);
bool kv_slot_is_collection(const struct kv_slot *slot);
/* Whether an LMDB key of the keys DB is a collection's metadata record. */
bool kv_record_is_collection(const MDB_val *encoded);
/* The value part of any record of the keys DB (after a long key's suffix), or false. */
bool kv_record_payload(const MDB_val *encoded, const MDB_val *record, struct kv_bytes *payload);
/* The user key of a record (encoded key + record), into buf[KV_KEY_BYTES_MAX]; an element's
 * record with prefix_len = KV_ELEM_ID_BYTES (kv_record_key_at).
 * Returns false when the record is not one this module writes (corrupt). */
bool kv_record_key(const MDB_val *encoded, const MDB_val *record, uint8_t *buf, size_t *key_len);
bool kv_record_key_at(const MDB_val *encoded, size_t prefix_len, const MDB_val *record,
                      uint8_t *buf, size_t *key_len);
/* Looks a key up. The value is borrowed from the txn (until its next write or its end). */
int kv_slot_get(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot, struct kv_bytes *value,
                bool *found);
/* Stores the concatenation of parts (which must not point into the database) as the value. */
int kv_slot_put(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot,
                const struct kv_bytes *parts, size_t part_count);
int kv_slot_del(MDB_txn *txn, MDB_dbi dbi, const struct kv_slot *slot, bool *deleted);

/* The hash-order position of an LMDB key of the keys DB (its first 8 bytes, big-endian). */
uint64_t kv_key_position(const MDB_val *encoded);
/* Moves the keys of a format-1 or format-2 store (the "data" DB, key order) into the keys DB,
 * in transactions of bounded size, and drops the old DBs. Crash-safe: each txn moves whole
 * records, and a restart continues. */
int kv_keys_migrate(struct kv *kv);

#endif
