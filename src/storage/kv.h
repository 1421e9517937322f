/*
 * kv.h — the key-value state machine of chorus, on LMDB.
 *
 * Keys and values are byte strings (key <= KV_KEY_BYTES_MAX, value <= KV_VALUE_BYTES_MAX).
 * Client commands travel through the consensus log encoded by kv_command.h; the node hands
 * committed entries to kv_apply_batch, which applies a whole batch in one LMDB write
 * transaction and stores the applied index and term in the same transaction. LMDB runs with
 * MDB_NOSYNC | MDB_NOMETASYNC: the WAL is the durability point, so a crash may lose the last
 * applied batches, which the node replays from the WAL after kv_applied(). Before the WAL
 * below the applied index is compacted, the node calls kv_sync().
 *
 * Layout of the environment (a directory holding LMDB's data.mdb and lock.mdb), which holds
 * one store (kv_open) or many (kv_env_open + kv_store_open, one per consensus group):
 *   - the unnamed main DB is unused;
 *   - "keys" holds store 0's user keys, "keys.N" store N's. LMDB keys are at most 511 bytes
 *     (Debian's build), so a key is stored under an encoded LMDB key: the 64-bit XXH3 hash of
 *     the key (big-endian), which keeps the store in hash order for SCAN, then tag 0 + the key
 *     when it is short, or tag 1 + its first KV_KEY_INLINE_BYTES_MAX bytes when it is long; a
 *     long key's record keeps the rest of the key before the value (see kv_internal.h). Two
 *     long keys that share that prefix and hash collide; a write to the second then fails
 *     with "ERR key hash collision" — deterministically, so replicas never diverge. (Formats
 *     1 and 2 kept the keys in key order in a "data" DB; opening such a store moves them, see
 *     kv_keys_migrate.) A DB per store, rather than one DB with keys prefixed by their slot,
 *     keeps DBSIZE O(1) (mdb_stat) and makes a store's copy or removal one walk or one
 *     mdb_drop of its own DB; a shard's slots never move between shards.
 *   - "meta" holds the format version, and per store its applied index/term and its last
 *     applied membership configuration ("applied", "config" for store 0; "applied.N" and
 *     "config.N" for store N), and its ACL users' blob ("acl", "acl.N"), apart from user keys.
 *
 * Threads: one thread (the apply thread) calls kv_apply_batch, kv_sync, the snapshot
 * staging/installation functions and kv_close. Reads (kv_read_*, kv_get, kv_scan...) and
 * kv_snapshot_create may run on other threads at the same time (MDB_NOTLS), each in its own
 * read txn; they never block the writer, and an install (one write txn) never blocks them.
 *
 * Errors: functions return KV_OK or a negative enum kv_error; kv_last_error() gives the
 * calling thread's detailed message for the last failure (like errno + strerror).
 */
#ifndef CHORUS_KV_H
#define CHORUS_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KV_KEY_BYTES_MAX = 4096,                 /* one key */
    KV_VALUE_BYTES_MAX = 1u << 20,           /* one value */
    KV_CONFIG_BYTES_MAX = 4096,              /* the stored membership configuration blob */
    KV_ACL_BYTES_MAX = 1u << 20,             /* the stored ACL users blob (KV_ITEM_ACL) */
    KV_APPLY_TXN_BYTES_MAX = 64u << 20,      /* bytes written by one LMDB txn before a split */
    KV_SCAN_COUNT_MAX = 10000,               /* records examined by one kv_scan call */
    KV_ERROR_TEXT_BYTES = 256,               /* kv_last_error() message */
    KV_ENCODED_KEY_BYTES_MAX = 500,          /* an LMDB key of the data DB (<= 511) */
};

enum kv_error {
    KV_OK = 0,
    KV_ERR_IO = -1,        /* LMDB or the operating system failed: see kv_last_error() */
    KV_ERR_FULL = -2,      /* the map is full even for the metadata: nothing was applied */
    KV_ERR_TOO_LARGE = -3, /* a key, value, command or file exceeds its bound */
    KV_ERR_MALFORMED = -4, /* decoding: truncated or inconsistent input */
    KV_ERR_VERSION = -5,   /* unknown encoding or database format version */
    KV_ERR_INVALID = -6,   /* an argument the caller could not have meant */
    KV_ERR_BUFFER = -7,    /* the caller's buffer is too small; the needed size is reported */
    KV_ERR_CORRUPT = -8,   /* a snapshot failed its checksum or does not match its trailer */
    KV_ERR_WRONGTYPE = -9, /* a string read of a key that holds a collection (Redis WRONGTYPE) */
};
const char *kv_strerror(int error);
/* The calling thread's message for its last failed kv call ("" when none). */
const char *kv_last_error(void);

/* A borrowed byte string; its lifetime is stated wherever one is handed out. */
struct kv_bytes {
    const uint8_t *data;
    size_t len;
};

struct kv_options {
    uint64_t map_bytes;   /* LMDB map size (sparse); default 4 GiB */
    uint32_t readers_max; /* concurrent read transactions; default 126 */
    bool write_map;       /* MDB_WRITEMAP (kv_store.c); default true */
};
void kv_options_defaults(struct kv_options *options);

struct kv;

/*
 * Opens (creating when missing) the state machine in directory `dir` and reads its applied
 * index. `options` may be NULL for the defaults.
 */
int kv_open(const char *dir, const struct kv_options *options, struct kv **out);
void kv_close(struct kv *kv);

/*
 * One environment for many stores. A node keeps the state machines of all its consensus
 * groups in one LMDB environment (one file, one map, one write txn at a time), each group a
 * store with its own DB and its own applied index, so that the applies of every group in one
 * loop iteration cost one LMDB commit instead of one each. Store 0's DB and records are those
 * of a kv_open store, so a one-group data directory is read by either.
 *
 * In an environment from kv_env_open, kv_apply_batch does not commit: each store's batch
 * goes, flat, into one write txn of the environment, and kv_env_commit commits them all. (A
 * command that must be rolled back aborts that txn, and the other batches in it are applied
 * again from copies: kv_replay.c; MDB_WRITEMAP allows no nested txns.) Readers see a batch only
 * after kv_env_commit: the node commits before it answers any client or read (drive.c).
 * kv_snapshot_install commits what is pending before it installs. Apply thread only.
 */
struct kv_env;
/* Opens (creating when missing) the environment in `dir` for up to stores_max stores. */
int kv_env_open(const char *dir, const struct kv_options *options, uint32_t stores_max,
                struct kv_env **out);
/* Commits the pending applies (if any) and closes the environment: its stores first. */
void kv_env_close(struct kv_env *env);
/* Commits every store's applies since the last commit; KV_OK when there were none. */
int kv_env_commit(struct kv_env *env);
/* Opens store `id` (< stores_max) of the environment, creating its DB when missing. */
int kv_store_open(struct kv_env *env, uint32_t id, struct kv **out);

/* The index and term of the last applied entry (0, 0 for a fresh store). Apply thread only;
 * other threads use kv_read_applied, which is consistent with their read txn. */
void kv_applied(const struct kv *kv, uint64_t *index, uint64_t *term);

/* Forces LMDB's data and meta pages to disk (mdb_env_sync force). Call it before the WAL
 * below kv_applied() is compacted: until then the WAL is what makes applied entries durable. */
int kv_sync(struct kv *kv);

/* ---- Applying committed entries (kv_apply.c) ---- */

enum kv_item_kind {
    KV_ITEM_COMMAND = 0, /* data is a command encoded by kv_command_encode */
    KV_ITEM_NOOP = 1,    /* advances the applied index only */
    KV_ITEM_CONFIG = 2,  /* data (<= KV_CONFIG_BYTES_MAX) is stored as the latest configuration */
    KV_ITEM_TX = 3,      /* data is a transaction encoded by kv_tx_encode (kv_tx.h) */
    /* data (<= KV_ACL_BYTES_MAX) replaces the store's ACL blob: opaque to the store, kept
     * apart from the keys (a meta record) and carried by snapshots; the node makes it. */
    KV_ITEM_ACL = 4,
};

struct kv_apply_item {
    uint64_t index;
    uint64_t term;
    enum kv_item_kind kind;
    const uint8_t *data;
    uint32_t data_len;
    uint64_t time_ms; /* the entry's log time (its stamp, below); 0 when it carries none */
};

enum kv_result_type {
    KV_RESULT_NONE = 0,    /* not a command, or already applied before (skipped) */
    KV_RESULT_OK = 1,      /* +OK */
    KV_RESULT_INTEGER = 2, /* :integer */
    KV_RESULT_BULK = 3,    /* $bulk: bulk/bulk_len */
    KV_RESULT_NULL = 4,    /* $-1 */
    KV_RESULT_ERROR = 5,   /* -error: a static string starting with "ERR " */
    KV_RESULT_ARRAY = 6,   /* *count: elements[element_count] (a transaction, MGET in one) */
    KV_RESULT_NULL_ARRAY = 7, /* *-1: a transaction aborted because a watched key changed */
    KV_RESULT_MAP = 8,     /* HGETALL: elements are field, value, ... (RESP3 a map) */
    KV_RESULT_SET = 9,     /* SMEMBERS and friends: an array (RESP3 a set) */
    KV_RESULT_PAIRS = 10,  /* HRANDFIELD WITHVALUES: field, value, ... (RESP3 an array of
                            * [field, value] arrays) */
    KV_RESULT_DOUBLE = 11, /* a sorted set's score: bulk/bulk_len is its text, as Redis 7.0
                            * formats it; RESP2 a bulk string, RESP3 a double */
};

/*
 * The outcome of one applied command. `bulk` points into memory owned by the kv that stays
 * valid until the next kv_apply_batch, kv_snapshot_install* or kv_close; `error` points to a
 * static string. Both are NULL when unused.
 */
struct kv_result {
    enum kv_result_type type;
    int64_t integer;
    const uint8_t *bulk;
    size_t bulk_len;
    const char *error;
    const struct kv_result *elements; /* ARRAY, in the same memory as bulk */
    uint32_t element_count;
};

/*
 * Applies committed entries in index order, in one LMDB write transaction (split only when
 * the batch writes more than KV_APPLY_TXN_BYTES_MAX), together with the applied index and term.
 * Items at or below the applied index are skipped (KV_RESULT_NONE), so replaying the WAL
 * from an older point is harmless. The first item above the applied index must be
 * applied + 1 and the rest contiguous (asserted).
 *
 * A command that cannot be stored because the map is full gets "ERR storage full" and
 * changes nothing; the others of the batch apply. (The txn is aborted, the command marked,
 * and what the txn held applied again: kv_apply.c.) Note: fullness depends on each
 * replica's file, so replicas must be given the same map size and space.
 *
 * Returns KV_OK; KV_ERR_FULL when not even the applied index (or a configuration entry) can
 * be stored, or KV_ERR_IO: then the failing transaction changed nothing and kv_applied() says
 * how far the batch got; the node must stop applying (retrying later is safe).
 * `results` has `count` slots (may be NULL when the caller does not want them).
 */
int kv_apply_batch(struct kv *kv, const struct kv_apply_item *items, size_t count,
                   struct kv_result *results);

/* ---- Log time and expiry (kv_expiry.c, docs/expiry.md) ----
 *
 * Every entry a node proposes carries a stamp before its command or transaction: the log
 * time the leader gave it. The store's "now" is the log time of its applied index: the
 * largest stamp applied so far, so it never goes backwards along the log even when a new
 * leader's first stamps are older than an earlier leader's last. Entries apply with that
 * now; reads see keys as of the now of the state they read. Deadlines are absolute log
 * times in milliseconds, on the Unix scale (the leader starts the log time from its wall
 * clock and slews it toward it).
 *
 * Stamp layout: u8 KV_STAMP_MARKER, u64 log time (little-endian, 0 until the leader fills
 * it in at proposal).
 */
enum {
    KV_STAMP_MARKER = 0xC7,
    KV_STAMP_BYTES = 9,
    /* At most this many keys are deleted by one active-expiry entry (KV_OP_EXPIRE_DUE). */
    KV_EXPIRE_DUE_KEYS_MAX = 1000,
};
void kv_stamp_init(uint8_t *p);
void kv_stamp_write(uint8_t *p, uint64_t time_ms);
/* Whether data begins with a stamp; *time_ms its time. */
bool kv_stamp_read(const uint8_t *data, size_t len, uint64_t *time_ms);
/* The log time of the applied index. Apply thread only. */
uint64_t kv_time(const struct kv *kv);

/* What INFO keyspace and the leader's clock need: keys with a deadline, their mean time to
 * live, the store's log time, and the earliest deadline (0 when none). */
struct kv_expiry_stats {
    uint64_t volatile_keys;
    uint64_t avg_ttl_ms;
    uint64_t time_ms;
    uint64_t next_deadline_ms;
};
int kv_expiry_stats(struct kv *kv, struct kv_expiry_stats *stats);

/* Copies the stored configuration blob (set by KV_ITEM_CONFIG) into buf; *len = 0 if none. */
int kv_config_get(struct kv *kv, uint8_t *buf, size_t cap, size_t *len);
/* The store's ACL blob (KV_ITEM_ACL; *len 0 when none), as kv_config_get reads. */
int kv_acl_get(struct kv *kv, uint8_t *buf, size_t cap, size_t *len);

/* ---- Reads (kv_read.c) ---- */

/*
 * A read transaction: a consistent view until kv_read_end. For a linearizable read the node
 * first checks kv_applied() >= the read index. Values handed out are borrowed until
 * kv_read_end. A kv_read belongs to one thread at a time.
 */
struct kv_read {
    struct kv *kv;
    void *txn; /* MDB_txn */
};
int kv_read_begin(struct kv *kv, struct kv_read *read);
void kv_read_end(struct kv_read *read);
int kv_read_get(struct kv_read *read, const uint8_t *key, size_t key_len,
                struct kv_bytes *value, bool *found);
/* The applied index and term of the state this read txn sees: a linearizable read may be
 * answered from it once index >= the read index. */
int kv_read_applied(struct kv_read *read, uint64_t *index, uint64_t *term);

/* Copies the value of key into buf. *found false when absent. KV_ERR_BUFFER when cap is too
 * small, with *value_len set to the size needed. */
int kv_get(struct kv *kv, const uint8_t *key, size_t key_len, uint8_t *buf, size_t cap,
           size_t *value_len, bool *found);
/* Redis EXISTS: how many of the keys exist (a key named twice counts twice). */
int kv_exists(struct kv *kv, const struct kv_bytes *keys, size_t key_count, uint64_t *count);
/* Redis STRLEN: the value's length, 0 when the key is missing. */
int kv_strlen(struct kv *kv, const uint8_t *key, size_t key_len, uint64_t *len);
/* A key near the one at `position` in hash order (the first, from there on, wrapping
 * around): RANDOMKEY with a random position. *found is false when the store is empty. */
int kv_random_key(struct kv *kv, uint64_t position, uint8_t *buf, size_t cap, size_t *key_len,
                  bool *found);
/* Redis DBSIZE. */
int kv_count(struct kv *kv, uint64_t *count);

/*
 * SCAN's resume point, stateless as Redis's cursors are: the keys DB is in hash order (every
 * LMDB key starts with the 64-bit hash of the user key), and `position` is the hash at which
 * the next call resumes. Any 64-bit number is a valid position, the same on every replica and
 * after a restart. Guarantee: a key present for the whole scan is returned at least once
 * (a call ends only between two different hashes; keys added or removed meanwhile may or may
 * not be returned). Zero it to start; `done` is set when the scan reached the end.
 */
struct kv_scan_cursor {
    uint64_t position;
    bool done;
};
/* Called for every key matching the pattern; the key is borrowed during the call. */
typedef void (*kv_scan_fn)(void *ctx, const uint8_t *key, size_t key_len);
/*
 * Examines `count` keys (1..KV_SCAN_COUNT_MAX) from the cursor's position on, and any more
 * that share the hash of the last one, and calls `fn` for those whose key matches the Redis
 * glob `pattern` (NULL: all keys). KV_ERR_INVALID when the pattern is longer than
 * KV_GLOB_PATTERN_BYTES_MAX. Callback last.
 */
int kv_scan(struct kv *kv, struct kv_scan_cursor *cursor, const uint8_t *pattern,
            size_t pattern_len, uint32_t count, void *ctx, kv_scan_fn fn);
/* kv_scan of the keys of one type (enum kv_type, declared below; KV_TYPE_NONE: every key). */
int kv_scan_typed(struct kv *kv, struct kv_scan_cursor *cursor, const uint8_t *pattern,
                  size_t pattern_len, uint32_t count, int type, void *ctx, kv_scan_fn fn);

/* ---- Types (kv_coll.c, kv_types.c) ----
 *
 * A key holds a string or a collection: a hash, a set (a list later). A collection is not one
 * value: its metadata is one record of the keys DB (type, id, element count, the log index of
 * its last change) under the key's LMDB key with the collection tag, and each element is its
 * own record of the store's "elems" DB, under the collection's id and the element's hash.
 * A single-element command reads and writes O(1) records, each O(log n). A deleted collection
 * leaves its elements behind a trash record; every applied entry then removes a bounded number
 * of them (KV_RECLAIM_STEP), so that DEL of a million elements is not a million-record apply.
 */
enum kv_type {
    KV_TYPE_NONE = 0,
    KV_TYPE_STRING = 1,
    KV_TYPE_HASH = 2,
    KV_TYPE_SET = 3,
    KV_TYPE_LIST = 4,
    KV_TYPE_ZSET = 5,
};
/* Redis's TYPE names: "none", "string", "hash", "set", "list", "zset". */
const char *kv_type_name(int type);
/* The key's type, and a collection's element count (0 for a string or none). */
int kv_key_type(struct kv *kv, const uint8_t *key, size_t key_len, int *type, uint64_t *count);
/* What WATCH records of a key: whether it exists, and a hash of its value (for a collection,
 * of its metadata, which changes with every write to it). The same as EXEC compares. */
int kv_read_watch(struct kv_read *read, const uint8_t *key, size_t key_len, bool *exists,
                  uint64_t *hash);
struct kv_command;
/* Whether op is a collection read kv_read_run serves (kv_command.h). */
bool kv_op_is_collection_read(uint8_t op);
/*
 * Runs a collection read (HGET, SMEMBERS, ...) in its own read txn. The result's memory is
 * the store's read arena, valid until the next kv_read_run on this store: one thread (the
 * node's loop) calls it. Returns KV_OK with the command's reply (an error reply included), or
 * a storage failure.
 */
int kv_read_run(struct kv *kv, const struct kv_command *command, struct kv_result *result);

/* ---- Snapshots (kv_snapshot.c) ---- */

/* What a snapshot file holds: the state up to `index` (of `term`), and its size in bytes
 * (the whole file, trailer included: what is sent to followers). */
struct kv_snapshot_meta {
    uint64_t index;
    uint64_t term;
    uint64_t file_bytes;
};

/*
 * Writes a compact, consistent copy of the store to `path` (through path.tmp, fsync, rename,
 * fsync of the directory), followed by a checksummed trailer. It reads from an LMDB read txn,
 * so the apply thread keeps writing meanwhile.
 */
int kv_snapshot_create(struct kv *kv, const char *path, struct kv_snapshot_meta *meta);

/* A snapshot file opened for sending in chunks. */
struct kv_snapshot_file {
    int fd;
    struct kv_snapshot_meta meta;
};
/* Opens a snapshot file and checks its trailer (not the payload checksum: install does). */
int kv_snapshot_open(const char *path, struct kv_snapshot_file *file);
/* Reads up to cap bytes at offset; *done is set when the chunk reaches the end of the file. */
int kv_snapshot_read(const struct kv_snapshot_file *file, uint64_t offset, uint8_t *buf,
                     size_t cap, size_t *len, bool *done);
void kv_snapshot_close(struct kv_snapshot_file *file);

/* Receives a chunk into the staging file in the kv directory. Offset 0 starts a new staged
 * snapshot; other chunks must continue exactly where the staged bytes end (else KV_ERR_INVALID). */
int kv_snapshot_stage(struct kv *kv, uint64_t offset, const uint8_t *data, size_t len);
/* Installs the staged snapshot (see kv_snapshot_install). */
int kv_snapshot_install_staged(struct kv *kv, struct kv_snapshot_meta *meta);
/*
 * Replaces the store with the snapshot file at `path` atomically: checks its checksums,
 * strips the trailer, fsyncs, renames it over data.mdb, fsyncs the directory and reopens.
 * The file is consumed. On KV_ERR_CORRUPT/KV_ERR_VERSION the store is untouched; on KV_ERR_IO
 * after the rename the kv can only be closed.
 */
int kv_snapshot_install(struct kv *kv, const char *path, struct kv_snapshot_meta *meta);

/* Deletes everything the store holds: its records, elements, configuration, ACL and applied
 * index (back to 0), in one write txn of its own (the environment's pending one is committed
 * first), synced. For a shard replica the node no longer holds (docs/membership.md, "The
 * rebalancer"). The store stays open and empty. */
int kv_store_drop(struct kv *kv);

#endif
