/*
 * kv_coll.h — what kv_coll.c (the layout of collections) gives kv_apply.c, kv_read.c and
 * kv_types.c (the hash and set commands). Not for other modules.
 *
 * A collection key's record of the keys DB (the collection tag, kv_internal.h) holds, after
 * a long key's suffix, KV_COLL_META_BYTES little-endian:
 *     u8 type (enum kv_type), 7 zero bytes, u64 id, u64 element count, u64 version,
 *     i64 head (a list's first position; 0 for the other types)
 * The version is the log index of the entry that last changed the collection, so that WATCH
 * sees a write that keeps the count. Elements: the "elems" DB, LMDB key = u64 id (big-endian)
 * + the element encoded as a user key (its hash, a tag, its bytes), record = a long element's
 * suffix, then the value (a hash's field value; nothing for a set's member). Elements of one
 * collection are therefore adjacent and in hash order: random picks seek a random hash, and
 * HSCAN/SSCAN cursors are hash positions as SCAN's are. Ids are made from the applying
 * entry's log index (kv_coll_new_id), the same on every replica and never reused.
 *
 * Trash: a deleted collection's metadata record goes at once, its id is recorded under the
 * key id 0 + id (16 bytes) of the elements DB, and kv_coll_reclaim, run after every applied
 * entry, deletes at most KV_RECLAIM_STEP of its elements: bounded work in every apply, the
 * same on every replica, and a snapshot carries the trash as it is.
 */
#ifndef CHORUS_KV_COLL_H
#define CHORUS_KV_COLL_H

#include "storage/kv_command.h"
#include "storage/kv_internal.h"

enum {
    KV_COLL_META_BYTES = 40,
    KV_RECLAIM_STEP = 256,         /* garbage elements removed per applied entry */
    KV_REPLY_ELEMENTS_MAX = 1u << 20, /* elements of one reply (or one STORE result) */
    KV_COPY_ELEMENTS_MAX = 100000, /* COPY of a collection writes each element: bounded */
    KV_COLL_IDS_PER_ENTRY = 1u << 16,
    KV_ELEMENT_BYTES_MAX = KV_KEY_BYTES_MAX, /* a field or member */
};

extern const char kv_error_wrongtype[];

struct kv_coll_meta {
    uint8_t type;
    uint64_t id;
    uint64_t count;
    uint64_t version;
    int64_t head;     /* a list: the position of its first element (kv_list.c) */
};

/* What a key holds, found by kv_key_find. */
struct kv_key_info {
    int type;               /* KV_TYPE_NONE, KV_TYPE_STRING or a collection's */
    struct kv_bytes value;  /* a string's value, borrowed from the txn */
    struct kv_coll_meta meta;
    struct kv_slot slot;    /* the key's slot, its tag that of the record found (if any) */
};

/* The context of one command's run: its txn, where results go, what it wrote. */
struct kv_ctx {
    struct kv *kv;
    MDB_txn *txn;
    struct kv_arena *arena;
    size_t *written;  /* NULL for a read */
    uint64_t seed;    /* the command's random seed */
};

bool kv_coll_any(struct kv *kv, MDB_txn *txn);
int kv_key_find(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                struct kv_key_info *info);
void kv_coll_meta_decode(const uint8_t *p, struct kv_coll_meta *meta);
/* Writes a collection's metadata under slot (switched to the collection tag). */
int kv_coll_meta_put(struct kv *kv, MDB_txn *txn, struct kv_slot *slot,
                     const struct kv_coll_meta *meta);
/* A fresh id, or 0 when this entry made too many. */
uint64_t kv_coll_new_id(struct kv *kv);
/* Deletes whatever the key holds (info from kv_key_find); a collection's elements go to the
 * trash. *deleted: it existed. */
int kv_key_remove(struct kv *kv, MDB_txn *txn, struct kv_key_info *info, bool *deleted);
int kv_coll_trash(struct kv *kv, MDB_txn *txn, uint64_t id);
/* Removes up to KV_RECLAIM_STEP trashed elements. */
int kv_coll_reclaim(struct kv *kv, MDB_txn *txn, size_t *written);
/* Copies every element of collection `from` under collection `to` (COPY). */
int kv_coll_copy_elements(struct kv *kv, MDB_txn *txn, uint64_t from, uint64_t to);

/* Elements. A long element's record that holds another element (a collision of hash and
 * first bytes) is reported as KV_RC_COLLISION by put, as absent by get. */
int kv_elem_get(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                struct kv_bytes *value, bool *found);
int kv_elem_put(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                const struct kv_bytes *value);
int kv_elem_del(struct kv *kv, MDB_txn *txn, uint64_t id, const struct kv_bytes *element,
                bool *deleted);

/* A walk over one collection's elements in hash order. */
struct kv_elem_iter {
    MDB_cursor *cursor;
    uint64_t id;
    bool valid;               /* positioned on an element of id */
    struct kv_bytes element;  /* borrowed: the LMDB key or buf */
    struct kv_bytes value;    /* borrowed from the txn */
    uint64_t position;        /* the element's hash */
    uint8_t buf[KV_ELEMENT_BYTES_MAX];
};
/* Positions on the first element whose hash >= position (valid false when none). */
int kv_elem_iter_open(struct kv_elem_iter *it, struct kv *kv, MDB_txn *txn, uint64_t id,
                      uint64_t position);
int kv_elem_iter_next(struct kv_elem_iter *it);
void kv_elem_iter_close(struct kv_elem_iter *it);

/* The WATCH state of a key (kv.h, kv_read_watch). */
int kv_key_watch_state(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                       bool *exists, uint64_t *hash);

/* kv_apply.c: Redis's string2ll, string2ld and ld2string (human), shared with kv_types.c. */
bool kv_parse_int64(const uint8_t *text, size_t len, int64_t *out);
bool kv_parse_long_double(const uint8_t *text, size_t len, long double *out);
size_t kv_format_long_double(long double value, char *buf, size_t cap);

/* kv_types.c's helpers, shared with kv_list.c: results in ctx's arena, Redis's argument
 * parsing, and a collection key's lookup (*wrong: it holds another type), creation (a fresh
 * id; false when the entry made too many) and saving after a change (removal when empty). */
void kv_res_set(struct kv_result *r, enum kv_result_type type);
void kv_res_int(struct kv_result *r, int64_t v);
int kv_res_err(struct kv_result *r, const char *error);
int kv_res_bulk(struct kv_ctx *ctx, struct kv_result *r, const uint8_t *data, size_t len);
struct kv_result *kv_res_aggregate(struct kv_ctx *ctx, struct kv_result *r,
                                   enum kv_result_type type, uint64_t n);
bool kv_arg_is(const struct kv_bytes *arg, const char *word);
bool kv_arg_int64(const struct kv_bytes *arg, int64_t *out);
int kv_types_key_get(struct kv_ctx *ctx, const struct kv_bytes *key, int want,
                     struct kv_key_info *info, bool *wrong);
bool kv_types_create(struct kv_ctx *ctx, struct kv_key_info *info, int type);
int kv_types_save(struct kv_ctx *ctx, struct kv_key_info *info);
/* kv_list.c: the list commands (kv_types_run hands them over). */
int kv_list_run(struct kv_ctx *ctx, const struct kv_command *command, struct kv_result *result);

/* kv_zset.c: the sorted set commands (kv_types_run hands them over). A sorted set's score
 * index and its block counts live in the elements DB under these ids (kv_zset.c), which no
 * collection has: collection ids are below 2^62 (kv_coll_new_id). */
static inline uint64_t kv_zset_index_id(uint64_t id)
{
    return id | 2ull << 62;
}
static inline uint64_t kv_zset_block_id(uint64_t id)
{
    return id | 3ull << 62;
}
int kv_zset_run(struct kv_ctx *ctx, const struct kv_command *command, struct kv_result *result);
/* ZSCAN's element: a member record's member and (scores) its score as text of score_type. */
int kv_zset_pick_put(struct kv_ctx *ctx, const struct kv_elem_iter *it, bool scores,
                     enum kv_result_type score_type, struct kv_result *out, uint64_t *n);
/* kv_types.c: HSCAN, SSCAN, ZSCAN (want: the collection type). */
int kv_types_scan(struct kv_ctx *ctx, const struct kv_command *command, int want,
                  struct kv_result *result);
/* kv_expiry.c (docs/expiry.md): deadlines, in the elements DB under two reserved ids. */
/* kv_key_find without the deadline check: what the record holds, expired or not. */
int kv_key_find_raw(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    struct kv_key_info *info);
/* Whether the key's deadline passed at the txn's log time (false when it has none). */
int kv_key_expired(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                   bool *expired);
int kv_deadline_get(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    uint64_t *deadline_ms, bool *found);
int kv_deadline_set(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                    uint64_t deadline_ms);
int kv_deadline_clear(struct kv *kv, MDB_txn *txn, const uint8_t *key, size_t key_len,
                      bool *had);
/* Apply: the entry's log time (0: none) advances the store's clock; then the command's
 * keys whose deadline passed are deleted, so that the command finds them absent. */
int kv_clock_advance(struct kv *kv, MDB_txn *txn, uint64_t time_ms);
int kv_expiry_purge_command(struct kv *kv, MDB_txn *txn, const struct kv_command *command,
                            size_t *written);
/* FLUSHALL dropped the elements DB: no deadline is left. */
int kv_expiry_flushed(struct kv *kv, MDB_txn *txn);
/* EXPIRE, PERSIST, GETEX, TTL and EXPIRE_DUE (kv_command.h). */
int kv_expiry_run(struct kv_ctx *ctx, const struct kv_command *command, struct kv_result *result);

/* kv_types.c: a collection command (reads and writes) in ctx. Returns an LMDB code; the
 * command's own errors are results. */
int kv_types_run(struct kv_ctx *ctx, const struct kv_command *command, struct kv_result *result);

#endif
