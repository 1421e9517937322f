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
    KV_DBS_MAX = 5,                 /* "keys", "meta"; "data", "order" while migrating */
    KV_APPLIED_BYTES = 16,          /* index, term: u64 little-endian each */
};

static const char kv_meta_format[] = "format";
static const char kv_meta_applied[] = "applied";
static const char kv_meta_config[] = "config";

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

static MDB_val kv_meta_key(const char *name)
{
    return (MDB_val){.mv_size = strlen(name), .mv_data = (void *)name};
}

int kv_meta_put_format(MDB_txn *txn, MDB_dbi meta)
{
    uint8_t format = KV_FORMAT_VERSION;
    MDB_val key = kv_meta_key(kv_meta_format);
    MDB_val value = {.mv_size = 1, .mv_data = &format};
    return mdb_put(txn, meta, &key, &value, 0);
}

int kv_meta_put_applied(MDB_txn *txn, MDB_dbi meta, uint64_t index, uint64_t term)
{
    uint8_t bytes[KV_APPLIED_BYTES];
    kv_put_le64(bytes, index);
    kv_put_le64(bytes + 8, term);
    MDB_val key = kv_meta_key(kv_meta_applied);
    MDB_val value = {.mv_size = sizeof bytes, .mv_data = bytes};
    return mdb_put(txn, meta, &key, &value, 0);
}

int kv_meta_get_applied(MDB_txn *txn, MDB_dbi meta, uint64_t *index, uint64_t *term)
{
    MDB_val key = kv_meta_key(kv_meta_applied), value;
    int rc = mdb_get(txn, meta, &key, &value);
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

int kv_meta_put_config(MDB_txn *txn, MDB_dbi meta, const uint8_t *data, size_t len)
{
    assert(len <= KV_CONFIG_BYTES_MAX);
    MDB_val key = kv_meta_key(kv_meta_config);
    MDB_val value = {.mv_size = len, .mv_data = (void *)data};
    return mdb_put(txn, meta, &key, &value, 0);
}

/* Creates the named DBs of a fresh store, or checks the format of an existing one. */
static int kv_env_prepare(struct kv *kv)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "begin");
    }
    const char *what = "open keys db";
    rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &kv->data_dbi);
    if (rc == MDB_SUCCESS) {
        what = "open meta db";
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &kv->meta_dbi);
    }
    MDB_val key = kv_meta_key(kv_meta_format), value;
    if (rc == MDB_SUCCESS) {
        what = "read format";
        rc = mdb_get(txn, kv->meta_dbi, &key, &value);
    }
    uint8_t format = KV_FORMAT_VERSION;
    if (rc == MDB_SUCCESS) {
        format = value.mv_size == 1 ? *(uint8_t *)value.mv_data : 0;
        if (format != KV_FORMAT_VERSION &&
            (format < KV_FORMAT_KEY_ORDER_FIRST || format > KV_FORMAT_KEY_ORDER_LAST)) {
            mdb_txn_abort(txn);
            kv_error_set("%s: unknown store format", kv->dir);
            return KV_ERR_VERSION;
        }
    }
    if (rc == MDB_NOTFOUND) {
        what = "write format";
        rc = kv_meta_put_format(txn, kv->meta_dbi);
    }
    if (rc == MDB_SUCCESS) {
        what = "read applied index";
        rc = kv_meta_get_applied(txn, kv->meta_dbi, &kv->applied_index, &kv->applied_term);
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
    /* A store in key order (formats 1, 2) is moved into the keys DB before it serves. */
    if (format != KV_FORMAT_VERSION) {
        return kv_keys_migrate(kv);
    }
    return KV_OK;
}

/*
 * MDB_NOSYNC | MDB_NOMETASYNC: commits only write to the page cache; the WAL makes entries
 * durable and kv_sync forces LMDB out before the WAL is compacted. MDB_NOTLS lets read
 * transactions move between threads (the server may hand them to a worker).
 */
int kv_env_open(struct kv *kv)
{
    assert(kv->env == NULL);
    int rc = mdb_env_create(&kv->env);
    if (rc != MDB_SUCCESS) {
        kv->env = NULL;
        return kv_error_mdb(rc, "mdb_env_create");
    }
    const char *what = "mdb_env_set_mapsize";
    rc = mdb_env_set_mapsize(kv->env, kv->options.map_bytes);
    if (rc == MDB_SUCCESS) {
        what = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders(kv->env, kv->options.readers_max);
    }
    if (rc == MDB_SUCCESS) {
        what = "mdb_env_set_maxdbs";
        rc = mdb_env_set_maxdbs(kv->env, KV_DBS_MAX);
    }
    if (rc == MDB_SUCCESS) {
        what = kv->dir;
        rc = mdb_env_open(kv->env, kv->dir, MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0644);
    }
    if (rc != MDB_SUCCESS) {
        mdb_env_close(kv->env);
        kv->env = NULL;
        return kv_error_mdb(rc, what);
    }
    int key_bytes_max = mdb_env_get_maxkeysize(kv->env);
    if (key_bytes_max < KV_ENCODED_KEY_BYTES_MAX) {
        kv_env_close(kv);
        kv_error_set("liblmdb was built with max key size %d < %d", key_bytes_max,
                     KV_ENCODED_KEY_BYTES_MAX);
        return KV_ERR_VERSION;
    }
    int result = kv_env_prepare(kv);
    if (result != KV_OK) {
        kv_env_close(kv);
    }
    return result;
}

void kv_env_close(struct kv *kv)
{
    if (kv->env != NULL) {
        mdb_env_close(kv->env);
        kv->env = NULL;
    }
}

int kv_open(const char *dir, const struct kv_options *options, struct kv **out)
{
    assert(dir != NULL && out != NULL);
    *out = NULL;
    if (strlen(dir) >= KV_DIR_BYTES_MAX) {
        kv_error_set("kv directory path too long");
        return KV_ERR_INVALID;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        kv_error_set("mkdir %s: %s", dir, strerror(errno));
        return KV_ERR_IO;
    }
    struct kv *kv = calloc(1, sizeof *kv);
    if (kv == NULL) {
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    kv->stage_fd = -1;
    snprintf(kv->dir, sizeof kv->dir, "%s", dir);
    if (options != NULL) {
        kv->options = *options;
    } else {
        kv_options_defaults(&kv->options);
    }
    kv->decode_args = calloc(KV_COMMAND_ARGS_MAX, sizeof *kv->decode_args);
    kv->scratch = malloc(KV_VALUE_BYTES_MAX);
    if (kv->decode_args == NULL || kv->scratch == NULL) {
        kv_close(kv);
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    int rv = kv_env_open(kv);
    if (rv != KV_OK) {
        kv_close(kv);
        return rv;
    }
    *out = kv;
    return KV_OK;
}

void kv_close(struct kv *kv)
{
    if (kv == NULL) {
        return;
    }
    kv_env_close(kv);
    if (kv->stage_fd >= 0) {
        close(kv->stage_fd); /* an unfinished staged snapshot is simply dropped */
    }
    kv_arena_reset(&kv->arena);
    free(kv->arena.head);
    free(kv->decode_args);
    free(kv->scratch);
    free(kv);
}

void kv_applied(const struct kv *kv, uint64_t *index, uint64_t *term)
{
    *index = kv->applied_index;
    *term = kv->applied_term;
}

int kv_sync(struct kv *kv)
{
    assert(kv->env != NULL);
    int rc = mdb_env_sync(kv->env, 1);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "mdb_env_sync");
    }
    return KV_OK;
}

int kv_config_get(struct kv *kv, uint8_t *buf, size_t cap, size_t *len)
{
    assert(kv->env != NULL);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "begin read");
    }
    MDB_val key = kv_meta_key(kv_meta_config), value = {0};
    rc = mdb_get(txn, kv->meta_dbi, &key, &value);
    int rv = KV_OK;
    *len = 0;
    if (rc == MDB_SUCCESS) {
        *len = value.mv_size;
        if (value.mv_size > cap) {
            kv_error_set("config of %zu bytes does not fit in %zu", value.mv_size, cap);
            rv = KV_ERR_BUFFER;
        } else if (value.mv_size > 0) {
            memcpy(buf, value.mv_data, value.mv_size);
        }
    } else if (rc != MDB_NOTFOUND) {
        rv = kv_error_mdb(rc, "read config");
    }
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
