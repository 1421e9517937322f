/*
 * kv_store.c — opening and closing the LMDB environment, metadata, errors and the result arena.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/kv_command.h"
#include "storage/kv_internal.h"

enum {
    KV_FORMAT_VERSION = 3,          /* 3: the "keys" DB, in hash order (kv.h) */
    KV_FORMAT_KEY_ORDER_FIRST = 1,  /* 1, 2: a "data" DB in key order, moved when opened */
    KV_FORMAT_KEY_ORDER_LAST = 2,
    KV_ENV_DBS_EXTRA = 3,           /* "meta"; "data", "order" while migrating (formats 1, 2) */
    KV_STORES_MAX = 65536,          /* stores of one environment (each a named DB) */
    KV_APPLIED_BYTES = 16,          /* index, term: u64 little-endian each */
};

static const char kv_meta_format[] = "format";
static const char kv_meta_applied[] = "applied";
static const char kv_meta_config[] = "config";
static const char kv_meta_acl[] = "acl";
static const char kv_meta_clock[] = "clock";

static _Thread_local char kv_error_text[KV_ERROR_TEXT_BYTES];

const char *kv_strerror(int error)
{
    switch (error) {
    case KV_OK: return "ok";
    case KV_ERR_IO: return "i/o error";
    case KV_ERR_FULL: return "storage full";
    case KV_ERR_TOO_LARGE: return "too large";
    case KV_ERR_MALFORMED: return "malformed";
    case KV_ERR_VERSION: return "unknown version";
    case KV_ERR_INVALID: return "invalid argument";
    case KV_ERR_BUFFER: return "buffer too small";
    case KV_ERR_CORRUPT: return "corrupt";
    case KV_ERR_WRONGTYPE: return "wrong type";
    default: return "unknown error";
    }
}

const char *kv_last_error(void)
{
    return kv_error_text;
}

void kv_error_set(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(kv_error_text, sizeof kv_error_text, format, args);
    va_end(args);
}

int kv_error_mdb(int rc, const char *what)
{
    assert(rc != MDB_SUCCESS);
    kv_error_set("%s: %s", what, mdb_strerror(rc));
    switch (rc) {
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
        return KV_ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case KV_RC_COLLISION:
        return KV_ERR_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return KV_ERR_VERSION;
    default:
        return KV_ERR_IO;
    }
}

void kv_options_defaults(struct kv_options *options)
{
    options->map_bytes = 4ull << 30;
    options->readers_max = 126;
    options->write_map = true;
}

void kv_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

uint64_t kv_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Store 0 keeps the names of a single store ("applied", "config", DB "keys", the staged
 * snapshot), so a data directory of one group reads the same either way; store N > 0 appends
 * ".N". kv == NULL names what the environment keeps once (its format). */
const char *kv_store_name(const struct kv *kv, const char *base, char *buf, size_t cap)
{
    if (kv == NULL || kv->id == 0) {
        return base;
    }
    int n = snprintf(buf, cap, "%s.%u", base, kv->id);
    assert(n > 0 && (size_t)n < cap);
    return buf;
}

static MDB_val kv_meta_key(const struct kv *kv, const char *name, char *buf, size_t cap)
{
    const char *key = kv_store_name(kv, name, buf, cap);
    return (MDB_val){.mv_size = strlen(key), .mv_data = (void *)key};
}

int kv_meta_put_format(MDB_txn *txn, MDB_dbi meta)
{
    uint8_t format = KV_FORMAT_VERSION;
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(NULL, kv_meta_format, buf, sizeof buf);
    MDB_val value = {.mv_size = 1, .mv_data = &format};
    return mdb_put(txn, meta, &key, &value, 0);
}

int kv_meta_put_applied(MDB_txn *txn, const struct kv *kv, uint64_t index, uint64_t term)
{
    uint8_t bytes[KV_APPLIED_BYTES];
    kv_put_le64(bytes, index);
    kv_put_le64(bytes + 8, term);
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_applied, buf, sizeof buf);
    MDB_val value = {.mv_size = sizeof bytes, .mv_data = bytes};
    return mdb_put(txn, kv->meta_dbi, &key, &value, 0);
}

int kv_meta_get_applied(MDB_txn *txn, const struct kv *kv, uint64_t *index, uint64_t *term)
{
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_applied, buf, sizeof buf), value;
    int rc = mdb_get(txn, kv->meta_dbi, &key, &value);
    if (rc == MDB_NOTFOUND) {
        *index = 0;
        *term = 0;
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (value.mv_size != KV_APPLIED_BYTES) {
        return MDB_CORRUPTED;
    }
    *index = kv_get_le64(value.mv_data);
    *term = kv_get_le64((const uint8_t *)value.mv_data + 8);
    return MDB_SUCCESS;
}

/* The ACL users' blob (KV_ITEM_ACL): an empty one is no record. */
int kv_meta_put_acl(MDB_txn *txn, const struct kv *kv, const uint8_t *data, size_t len)
{
    assert(len <= KV_ACL_BYTES_MAX);
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_acl, buf, sizeof buf);
    if (len == 0) {
        int rc = mdb_del(txn, kv->meta_dbi, &key, NULL);
        return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
    }
    MDB_val value = {.mv_size = len, .mv_data = (void *)data};
    return mdb_put(txn, kv->meta_dbi, &key, &value, 0);
}

int kv_meta_put_config(MDB_txn *txn, const struct kv *kv, const uint8_t *data, size_t len)
{
    assert(len <= KV_CONFIG_BYTES_MAX);
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_config, buf, sizeof buf);
    MDB_val value = {.mv_size = len, .mv_data = (void *)data};
    return mdb_put(txn, kv->meta_dbi, &key, &value, 0);
}

/* The store's clock (kv_expiry.c): u64 log time, u64 deadlines, u64 sum of deadlines in
 * seconds, little-endian. Absent: all zero (a store from before expiry). */
int kv_meta_put_clock(MDB_txn *txn, const struct kv *kv, const struct kv_clock *clock)
{
    uint8_t bytes[KV_CLOCK_BYTES];
    kv_put_le64(bytes, clock->time_ms);
    kv_put_le64(bytes + 8, clock->count);
    kv_put_le64(bytes + 16, clock->sum_s);
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_clock, buf, sizeof buf);
    MDB_val value = {.mv_size = sizeof bytes, .mv_data = bytes};
    return mdb_put(txn, kv->meta_dbi, &key, &value, 0);
}

int kv_meta_get_clock(MDB_txn *txn, const struct kv *kv, struct kv_clock *clock)
{
    *clock = (struct kv_clock){0};
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, kv_meta_clock, buf, sizeof buf), value;
    int rc = mdb_get(txn, kv->meta_dbi, &key, &value);
    if (rc == MDB_NOTFOUND) {
        return MDB_SUCCESS;
    }
    if (rc != MDB_SUCCESS) {
        return rc;
    }
    if (value.mv_size != KV_CLOCK_BYTES) {
        return MDB_CORRUPTED;
    }
    const uint8_t *p = value.mv_data;
    clock->time_ms = kv_get_le64(p);
    clock->count = kv_get_le64(p + 8);
    clock->sum_s = kv_get_le64(p + 16);
    return MDB_SUCCESS;
}

/* Opens the meta DB and reads the format of an existing environment, or writes it in a
 * fresh one. */
static int kv_env_prepare(struct kv_env *env)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "begin");
    }
    const char *what = "open meta db";
    rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &env->meta_dbi);
    char buf[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(NULL, kv_meta_format, buf, sizeof buf), value;
    if (rc == MDB_SUCCESS) {
        what = "read format";
        rc = mdb_get(txn, env->meta_dbi, &key, &value);
    }
    env->format = KV_FORMAT_VERSION;
    if (rc == MDB_SUCCESS) {
        env->format = value.mv_size == 1 ? *(uint8_t *)value.mv_data : 0;
        if (env->format != KV_FORMAT_VERSION &&
            (env->format < KV_FORMAT_KEY_ORDER_FIRST || env->format > KV_FORMAT_KEY_ORDER_LAST)) {
            mdb_txn_abort(txn);
            kv_error_set("%s: unknown store format", env->dir);
            return KV_ERR_VERSION;
        }
    }
    if (rc == MDB_NOTFOUND) {
        what = "write format";
        rc = kv_meta_put_format(txn, env->meta_dbi);
    }
    if (rc == MDB_SUCCESS) {
        what = "commit";
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != MDB_SUCCESS) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return kv_error_mdb(rc, what);
    }
    return KV_OK;
}

/*
 * MDB_NOSYNC | MDB_NOMETASYNC: commits only write to the page cache; the WAL makes entries
 * durable and kv_sync forces LMDB out before the WAL is compacted. MDB_NOTLS lets read
 * transactions move between threads (the server may hand them to a worker). MDB_WRITEMAP
 * (options.write_map, the default): a write txn writes its pages in the map itself instead
 * of malloc'd copies written out at commit, about 3x the puts per CPU-second (bench/kv_bench
 * runs both); it forbids nested txns, hence the replay record of kv_replay.c. The file is
 * then as large as the map, sparse.
 */
static int kv_env_start(struct kv_env *env)
{
    int rc = mdb_env_create(&env->env);
    if (rc != MDB_SUCCESS) {
        env->env = NULL;
        return kv_error_mdb(rc, "mdb_env_create");
    }
    const char *what = "mdb_env_set_mapsize";
    rc = mdb_env_set_mapsize(env->env, env->options.map_bytes);
    if (rc == MDB_SUCCESS) {
        what = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders(env->env, env->options.readers_max);
    }
    if (rc == MDB_SUCCESS) {
        what = "mdb_env_set_maxdbs";
        rc = mdb_env_set_maxdbs(env->env, 2 * env->stores_max + KV_ENV_DBS_EXTRA);
    }
    if (rc == MDB_SUCCESS) {
        what = env->dir;
        rc = mdb_env_open(env->env, env->dir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS | (env->options.write_map ? MDB_WRITEMAP : 0), 0644);
    }
    if (rc != MDB_SUCCESS) {
        mdb_env_close(env->env);
        env->env = NULL;
        return kv_error_mdb(rc, what);
    }
    int key_bytes_max = mdb_env_get_maxkeysize(env->env);
    if (key_bytes_max < KV_ENCODED_KEY_BYTES_MAX) {
        kv_error_set("liblmdb was built with max key size %d < %d", key_bytes_max,
                     KV_ENCODED_KEY_BYTES_MAX);
        return KV_ERR_VERSION;
    }
    return kv_env_prepare(env);
}

int kv_env_open(const char *dir, const struct kv_options *options, uint32_t stores_max,
                struct kv_env **out)
{
    assert(dir != NULL && out != NULL && stores_max > 0);
    *out = NULL;
    if (stores_max > KV_STORES_MAX) {
        kv_error_set("%u stores in one environment, at most %u", stores_max, KV_STORES_MAX);
        return KV_ERR_INVALID;
    }
    if (strlen(dir) >= KV_DIR_BYTES_MAX) {
        kv_error_set("kv directory path too long");
        return KV_ERR_INVALID;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        kv_error_set("mkdir %s: %s", dir, strerror(errno));
        return KV_ERR_IO;
    }
    struct kv_env *env = calloc(1, sizeof *env);
    if (env == NULL) {
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    snprintf(env->dir, sizeof env->dir, "%s", dir);
    if (options != NULL) {
        env->options = *options;
    } else {
        kv_options_defaults(&env->options);
    }
    env->stores_max = stores_max;
    env->defer_commit = true;
    int rv = kv_env_start(env);
    if (rv != KV_OK) {
        kv_env_close(env);
        return rv;
    }
    *out = env;
    return KV_OK;
}

void kv_env_close(struct kv_env *env)
{
    if (env == NULL) {
        return;
    }
    assert(env->stores_open == 0);
    if (env->txn != NULL) {
        (void)kv_env_commit(env); /* the WAL replays whatever this loses */
    }
    if (env->env != NULL) {
        mdb_env_close(env->env);
    }
    kv_replay_free(&env->replay);
    free(env);
}

int kv_env_write_txn(struct kv_env *env, MDB_txn **txn)
{
    if (env->txn == NULL) {
        int rc = mdb_txn_begin(env->env, NULL, 0, &env->txn);
        if (rc != MDB_SUCCESS) {
            env->txn = NULL;
            return rc;
        }
        env->txn_bytes = 0;
    }
    *txn = env->txn;
    return MDB_SUCCESS;
}

void kv_env_abort(struct kv_env *env)
{
    if (env->txn != NULL) {
        mdb_txn_abort(env->txn);
    }
    env->txn = NULL;
    env->txn_bytes = 0;
}

int kv_env_commit(struct kv_env *env)
{
    kv_replay_clear(&env->replay); /* committed or lost: nothing to do again either way */
    if (env->txn == NULL) {
        return KV_OK;
    }
    int rc = mdb_txn_commit(env->txn);
    env->txn = NULL;
    env->txn_bytes = 0;
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "commit applied entries");
}

/* Opens (creating) the store's keys DB and reads its applied index. A format-1/2 environment
 * (one store, keys in key order) is moved into hash order when store 0 opens. */
static int kv_store_prepare(struct kv *kv)
{
    struct kv_env *env = kv->shared;
    int rv = kv_env_commit(env); /* one write txn at a time */
    if (rv != KV_OK) {
        return rv;
    }
    char buf[KV_STORE_NAME_BYTES];
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
    const char *what = "begin";
    if (rc == MDB_SUCCESS) {
        what = "open keys db";
        rc = mdb_dbi_open(txn, kv_store_name(kv, "keys", buf, sizeof buf), MDB_CREATE,
                          &kv->data_dbi);
    }
    if (rc == MDB_SUCCESS) {
        what = "open elements db"; /* collections' elements (kv_coll.h); new in format 3 */
        rc = mdb_dbi_open(txn, kv_store_name(kv, "elems", buf, sizeof buf), MDB_CREATE,
                          &kv->elems_dbi);
    }
    if (rc == MDB_SUCCESS) {
        what = "read applied index";
        rc = kv_meta_get_applied(txn, kv, &kv->applied_index, &kv->applied_term);
    }
    struct kv_clock clock;
    if (rc == MDB_SUCCESS) {
        what = "read clock";
        rc = kv_meta_get_clock(txn, kv, &clock);
        kv->time_ms = clock.time_ms;
    }
    if (rc == MDB_SUCCESS) {
        what = "commit";
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != MDB_SUCCESS) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return kv_error_mdb(rc, what);
    }
    if (env->format != KV_FORMAT_VERSION) {
        if (kv->id != 0) {
            kv_error_set("%s: a store of format %u holds one group only", env->dir, env->format);
            return KV_ERR_VERSION;
        }
        rv = kv_keys_migrate(kv);
        if (rv == KV_OK) {
            env->format = KV_FORMAT_VERSION;
        }
        return rv;
    }
    return KV_OK;
}

int kv_store_open(struct kv_env *env, uint32_t id, struct kv **out)
{
    assert(env != NULL && env->env != NULL && out != NULL);
    *out = NULL;
    if (id >= env->stores_max) {
        kv_error_set("store %u in an environment of %u", id, env->stores_max);
        return KV_ERR_INVALID;
    }
    struct kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL) {
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    kv->shared = env;
    kv->id = id;
    kv->env = env->env;
    kv->meta_dbi = env->meta_dbi;
    kv->options = env->options;
    kv->stage_fd = -1;
    snprintf(kv->dir, sizeof kv->dir, "%s", env->dir);
    env->stores_open++;
    kv->decode_args = calloc(KV_COMMAND_ARGS_MAX, sizeof *kv->decode_args);
    kv->scratch = malloc(KV_VALUE_BYTES_MAX);
    if (kv->decode_args == NULL || kv->scratch == NULL) {
        kv_close(kv);
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    int rv = kv_store_prepare(kv);
    if (rv != KV_OK) {
        kv_close(kv);
        return rv;
    }
    *out = kv;
    return KV_OK;
}

int kv_open(const char *dir, const struct kv_options *options, struct kv **out)
{
    struct kv_env *env = NULL;
    int rv = kv_env_open(dir, options, 1, &env);
    if (rv != KV_OK) {
        return rv;
    }
    env->defer_commit = false; /* a store alone commits each batch */
    rv = kv_store_open(env, 0, out);
    if (rv != KV_OK) {
        kv_env_close(env);
        return rv;
    }
    (*out)->owns_env = true;
    return KV_OK;
}

void kv_close(struct kv *kv)
{
    if (kv == NULL) {
        return;
    }
    if (kv->stage_fd >= 0) {
        close(kv->stage_fd); /* an unfinished staged snapshot is simply dropped */
    }
    kv_arena_reset(&kv->arena);
    free(kv->arena.head);
    kv_arena_reset(&kv->read_arena);
    free(kv->read_arena.head);
    free(kv->decode_args);
    free(kv->scratch);
    struct kv_env *env = kv->shared;
    /* The replay record may name this store: what it applied is committed first (the WAL
     * would replay it anyway). */
    (void)kv_env_commit(env);
    assert(env->stores_open > 0);
    env->stores_open--;
    if (kv->owns_env) {
        kv_env_close(env);
    }
    free(kv);
}

void kv_applied(const struct kv *kv, uint64_t *index, uint64_t *term)
{
    *index = kv->applied_index;
    *term = kv->applied_term;
}

/* Makes what is committed durable. Applies still pending in a deferred txn are not: the
 * WAL is compacted only below a snapshot, which was read from committed state. */
int kv_sync(struct kv *kv)
{
    assert(kv->env != NULL);
    int rc = mdb_env_sync(kv->env, 1);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "mdb_env_sync");
    }
    return KV_OK;
}

static int kv_meta_blob_read(struct kv *kv, MDB_txn *txn, const char *base, uint8_t *buf,
                             size_t cap, size_t *len)
{
    char name[KV_STORE_NAME_BYTES];
    MDB_val key = kv_meta_key(kv, base, name, sizeof name), value = {0};
    int rc = mdb_get(txn, kv->meta_dbi, &key, &value);
    *len = 0;
    if (rc == MDB_NOTFOUND) {
        return KV_OK;
    }
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "read config");
    }
    *len = value.mv_size;
    if (value.mv_size > cap) {
        kv_error_set("config of %zu bytes does not fit in %zu", value.mv_size, cap);
        return KV_ERR_BUFFER;
    }
    if (value.mv_size > 0) {
        memcpy(buf, value.mv_data, value.mv_size);
    }
    return KV_OK;
}

int kv_config_read(struct kv *kv, MDB_txn *txn, uint8_t *buf, size_t cap, size_t *len)
{
    return kv_meta_blob_read(kv, txn, kv_meta_config, buf, cap, len);
}

int kv_acl_read(struct kv *kv, MDB_txn *txn, uint8_t *buf, size_t cap, size_t *len)
{
    return kv_meta_blob_read(kv, txn, kv_meta_acl, buf, cap, len);
}

int kv_acl_get(struct kv *kv, uint8_t *buf, size_t cap, size_t *len)
{
    assert(kv->env != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "begin read");
    }
    int rv = kv_acl_read(kv, txn, buf, cap, len);
    mdb_txn_abort(txn);
    return rv;
}

int kv_config_get(struct kv *kv, uint8_t *buf, size_t cap, size_t *len)
{
    assert(kv->env != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "begin read");
    }
    int rv = kv_config_read(kv, txn, buf, cap, len);
    mdb_txn_abort(txn);
    return rv;
}

/* Keeps the first block for the next batch, so small batches allocate nothing. */
void kv_arena_reset(struct kv_arena *arena)
{
    if (arena->head == NULL) {
        return;
    }
    struct kv_arena_block *block = arena->head->next;
    while (block != NULL) {
        struct kv_arena_block *next = block->next;
        free(block);
        block = next;
    }
    arena->head->next = NULL;
    arena->head->used = 0;
    arena->current = arena->head;
}

/* Blocks never move once handed out, so earlier results stay valid as the arena grows. */
void *kv_arena_alloc(struct kv_arena *arena, size_t len)
{
    enum { ALIGN = 8 }; /* blocks start 8-aligned: pointers and 64-bit integers */
    struct kv_arena_block *block = arena->current;
    size_t at = block != NULL ? (block->used + ALIGN - 1) & ~(size_t)(ALIGN - 1) : 0;
    if (block == NULL || at > block->cap || block->cap - at < len) {
        size_t cap = len > KV_ARENA_BLOCK_BYTES ? len : KV_ARENA_BLOCK_BYTES;
        struct kv_arena_block *fresh = malloc(sizeof *fresh + cap);
        if (fresh == NULL) {
            return NULL;
        }
        fresh->cap = cap;
        fresh->used = 0;
        fresh->next = NULL;
        if (block == NULL) {
            arena->head = fresh;
        } else {
            assert(block->next == NULL);
            block->next = fresh;
        }
        arena->current = fresh;
        block = fresh;
        at = 0;
    }
    uint8_t *memory = block->data + at;
    block->used = at + len;
    return memory;
}

const uint8_t *kv_arena_copy(struct kv_arena *arena, const uint8_t *data, size_t len)
{
    uint8_t *copy = kv_arena_alloc(arena, len);
    if (copy != NULL && len > 0) {
        memcpy(copy, data, len);
    }
    return copy;
}
