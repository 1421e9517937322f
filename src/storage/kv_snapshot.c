/*
 * kv_snapshot.c — snapshots of the state machine: create, send in chunks, stage, install.
 *
 * A snapshot file is a compact LMDB copy (mdb_env_copyfd2 with MDB_CP_COMPACT, which reads
 * from its own read txn, so the apply thread keeps writing) followed by a trailer:
 *
 *     0  magic "CHKVSNAP"        24 u64 index        48 u64 reserved, zero
 *     8  u32 version, u32 zero   32 u64 term         56 u64 XXH3-64 of bytes 0..55
 *     16 u64 payload bytes       40 u64 XXH3-64 of the payload
 *
 * LMDB trusts its file, so a snapshot that crossed the network is checked against both
 * hashes before LMDB ever opens it. Installing replaces data.mdb by rename, the one atomic
 * step: a crash before it leaves the old store, after it the new one.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/kv_internal.h"

enum {
    KV_TRAILER_BYTES = 64,
    KV_SNAPSHOT_VERSION = 1,
    KV_SNAPSHOT_IO_BYTES = 1u << 20, /* one read while hashing */
};
static const char kv_snapshot_magic[8] = {'C', 'H', 'K', 'V', 'S', 'N', 'A', 'P'};

struct kv_trailer {
    uint64_t payload_bytes;
    uint64_t index;
    uint64_t term;
    uint64_t payload_hash;
};

static void kv_trailer_encode(const struct kv_trailer *trailer, uint8_t *out)
{
    memset(out, 0, KV_TRAILER_BYTES);
    memcpy(out, kv_snapshot_magic, sizeof kv_snapshot_magic);
    out[8] = KV_SNAPSHOT_VERSION;
    kv_put_le64(out + 16, trailer->payload_bytes);
    kv_put_le64(out + 24, trailer->index);
    kv_put_le64(out + 32, trailer->term);
    kv_put_le64(out + 40, trailer->payload_hash);
    kv_put_le64(out + 56, XXH3_64bits(out, 56));
}

static int kv_trailer_decode(const uint8_t *in, uint64_t file_bytes, struct kv_trailer *trailer)
{
    if (memcmp(in, kv_snapshot_magic, sizeof kv_snapshot_magic) != 0 ||
        kv_get_le64(in + 56) != XXH3_64bits(in, 56)) {
        kv_error_set("snapshot trailer is corrupt");
        return KV_ERR_CORRUPT;
    }
    if (kv_get_le64(in + 8) != KV_SNAPSHOT_VERSION || kv_get_le64(in + 48) != 0) {
        kv_error_set("snapshot version %llu is unknown", (unsigned long long)kv_get_le64(in + 8));
        return KV_ERR_VERSION;
    }
    trailer->payload_bytes = kv_get_le64(in + 16);
    trailer->index = kv_get_le64(in + 24);
    trailer->term = kv_get_le64(in + 32);
    trailer->payload_hash = kv_get_le64(in + 40);
    if (trailer->payload_bytes != file_bytes - KV_TRAILER_BYTES) {
        kv_error_set("snapshot size does not match its trailer");
        return KV_ERR_CORRUPT;
    }
    return KV_OK;
}

/* pread/pwrite that retry short transfers and EINTR; the loop ends because each pass
 * transfers at least one byte or fails. */
static int kv_pread_all(int fd, uint8_t *buf, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            kv_error_set("pread: %s", n == 0 ? "unexpected end of file" : strerror(errno));
            return KV_ERR_IO;
        }
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return KV_OK;
}

static int kv_pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t offset)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            kv_error_set("pwrite: %s", n == 0 ? "no progress" : strerror(errno));
            return KV_ERR_IO;
        }
        buf += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
    return KV_OK;
}

static int kv_hash_file(int fd, uint64_t bytes, uint64_t *hash)
{
    uint8_t *buf = malloc(KV_SNAPSHOT_IO_BYTES);
    XXH3_state_t *state = XXH3_createState();
    int rv = KV_OK;
    if (buf == NULL || state == NULL) {
        kv_error_set("out of memory");
        rv = KV_ERR_IO;
    } else {
        XXH3_64bits_reset(state);
    }
    for (uint64_t at = 0; rv == KV_OK && at < bytes;) {
        size_t n = bytes - at < KV_SNAPSHOT_IO_BYTES ? (size_t)(bytes - at) : KV_SNAPSHOT_IO_BYTES;
        rv = kv_pread_all(fd, buf, n, at);
        if (rv == KV_OK) {
            XXH3_64bits_update(state, buf, n);
            at += n;
        }
    }
    if (rv == KV_OK) {
        *hash = XXH3_64bits_digest(state);
    }
    XXH3_freeState(state);
    free(buf);
    return rv;
}

static int kv_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        kv_error_set("fsync directory %s: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return KV_ERR_IO;
    }
    close(fd);
    return KV_OK;
}

/* The directory holding `path`, for the fsync that makes a rename in it durable. */
static void kv_dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, cap, ".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
}

/* Opens an LMDB file read-only, without a lock file, and reads its applied index/term. */
static int kv_probe_file(const char *path, uint64_t *index, uint64_t *term)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    int rc = mdb_env_create(&env);
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_maxdbs(env, 4);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_dbi_open(txn, "meta", 0, &meta);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_get_applied(txn, meta, index, term);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (env != NULL) {
        mdb_env_close(env);
    }
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "snapshot payload");
}

/* Appends the trailer to a fresh copy at tmp_path, then makes it durable as `path`. */
static int kv_snapshot_seal(int fd, const char *tmp_path, const char *path,
                            struct kv_snapshot_meta *meta)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        kv_error_set("fstat %s: %s", tmp_path, strerror(errno));
        return KV_ERR_IO;
    }
    struct kv_trailer trailer = {.payload_bytes = (uint64_t)st.st_size};
    int rv = kv_probe_file(tmp_path, &trailer.index, &trailer.term);
    if (rv == KV_OK) {
        rv = kv_hash_file(fd, trailer.payload_bytes, &trailer.payload_hash);
    }
    uint8_t bytes[KV_TRAILER_BYTES];
    kv_trailer_encode(&trailer, bytes);
    if (rv == KV_OK) {
        rv = kv_pwrite_all(fd, bytes, sizeof bytes, trailer.payload_bytes);
    }
    if (rv == KV_OK && fsync(fd) != 0) {
        kv_error_set("fsync %s: %s", tmp_path, strerror(errno));
        rv = KV_ERR_IO;
    }
    if (rv == KV_OK && rename(tmp_path, path) != 0) {
        kv_error_set("rename %s: %s", tmp_path, strerror(errno));
        rv = KV_ERR_IO;
    }
    char dir[PATH_MAX];
    kv_dir_of(path, dir, sizeof dir);
    if (rv == KV_OK) {
        rv = kv_fsync_dir(dir);
    }
    meta->index = trailer.index;
    meta->term = trailer.term;
    meta->file_bytes = trailer.payload_bytes + KV_TRAILER_BYTES;
    return rv;
}

int kv_snapshot_create(struct kv *kv, const char *path, struct kv_snapshot_meta *meta)
{
    assert(kv != NULL && kv->env != NULL && path != NULL && meta != NULL);
    char tmp_path[PATH_MAX];
    if ((size_t)snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path) >= sizeof tmp_path) {
        kv_error_set("snapshot path too long");
        return KV_ERR_INVALID;
    }
    int fd = open(tmp_path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) {
        kv_error_set("open %s: %s", tmp_path, strerror(errno));
        return KV_ERR_IO;
    }
    int rc = mdb_env_copyfd2(kv->env, fd, MDB_CP_COMPACT);
    int rv = rc == MDB_SUCCESS ? kv_snapshot_seal(fd, tmp_path, path, meta)
                               : kv_error_mdb(rc, "mdb_env_copyfd2");
    close(fd);
    if (rv != KV_OK) {
        unlink(tmp_path);
    }
    return rv;
}

static int kv_snapshot_check_trailer(int fd, const char *path, struct kv_trailer *trailer)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        kv_error_set("fstat %s: %s", path, strerror(errno));
        return KV_ERR_IO;
    }
    if ((uint64_t)st.st_size <= KV_TRAILER_BYTES) {
        kv_error_set("%s: too short for a snapshot", path);
        return KV_ERR_CORRUPT;
    }
    uint8_t bytes[KV_TRAILER_BYTES];
    int rv = kv_pread_all(fd, bytes, sizeof bytes, (uint64_t)st.st_size - KV_TRAILER_BYTES);
    if (rv == KV_OK) {
        rv = kv_trailer_decode(bytes, (uint64_t)st.st_size, trailer);
    }
    return rv;
}

int kv_snapshot_open(const char *path, struct kv_snapshot_file *file)
{
    file->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (file->fd < 0) {
        kv_error_set("open %s: %s", path, strerror(errno));
        return KV_ERR_IO;
    }
    struct kv_trailer trailer;
    int rv = kv_snapshot_check_trailer(file->fd, path, &trailer);
    if (rv != KV_OK) {
        kv_snapshot_close(file);
        return rv;
    }
    file->meta = (struct kv_snapshot_meta){
        .index = trailer.index,
        .term = trailer.term,
        .file_bytes = trailer.payload_bytes + KV_TRAILER_BYTES,
    };
    return KV_OK;
}

int kv_snapshot_read(const struct kv_snapshot_file *file, uint64_t offset, uint8_t *buf,
                     size_t cap, size_t *len, bool *done)
{
    assert(file->fd >= 0);
    if (offset > file->meta.file_bytes) {
        kv_error_set("snapshot offset %llu beyond its %llu bytes", (unsigned long long)offset,
                     (unsigned long long)file->meta.file_bytes);
        return KV_ERR_INVALID;
    }
    uint64_t left = file->meta.file_bytes - offset;
    *len = left < cap ? (size_t)left : cap;
    *done = offset + *len == file->meta.file_bytes;
    return kv_pread_all(file->fd, buf, *len, offset);
}

void kv_snapshot_close(struct kv_snapshot_file *file)
{
    if (file->fd >= 0) {
        close(file->fd);
    }
    file->fd = -1;
}

static void kv_stage_path(const struct kv *kv, char *path, size_t cap)
{
    snprintf(path, cap, "%s/snapshot.staging", kv->dir);
}

int kv_snapshot_stage(struct kv *kv, uint64_t offset, const uint8_t *data, size_t len)
{
    assert(data != NULL || len == 0);
    char path[PATH_MAX];
    kv_stage_path(kv, path, sizeof path);
    if (offset == 0) {
        if (kv->stage_fd >= 0) {
            close(kv->stage_fd);
        }
        kv->stage_bytes = 0;
        kv->stage_fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
        if (kv->stage_fd < 0) {
            kv_error_set("open %s: %s", path, strerror(errno));
            return KV_ERR_IO;
        }
    } else if (kv->stage_fd < 0 || offset != kv->stage_bytes) {
        kv_error_set("snapshot chunk at %llu, expected %llu", (unsigned long long)offset,
                     (unsigned long long)kv->stage_bytes);
        return KV_ERR_INVALID;
    }
    if (len > kv->options.map_bytes + KV_TRAILER_BYTES - kv->stage_bytes) {
        kv_error_set("staged snapshot exceeds the map size");
        return KV_ERR_TOO_LARGE;
    }
    int rv = kv_pwrite_all(kv->stage_fd, data, len, offset);
    if (rv == KV_OK) {
        kv->stage_bytes += len;
    }
    return rv;
}

int kv_snapshot_install_staged(struct kv *kv, struct kv_snapshot_meta *meta)
{
    if (kv->stage_fd < 0) {
        kv_error_set("no staged snapshot");
        return KV_ERR_INVALID;
    }
    close(kv->stage_fd);
    kv->stage_fd = -1;
    char path[PATH_MAX];
    kv_stage_path(kv, path, sizeof path);
    return kv_snapshot_install(kv, path, meta);
}

/* Checks both hashes and the LMDB payload, then strips the trailer and syncs the file. */
static int kv_snapshot_verify(int fd, const char *path, struct kv_snapshot_meta *meta)
{
    struct kv_trailer trailer;
    int rv = kv_snapshot_check_trailer(fd, path, &trailer);
    uint64_t hash = 0;
    if (rv == KV_OK) {
        rv = kv_hash_file(fd, trailer.payload_bytes, &hash);
    }
    if (rv == KV_OK && hash != trailer.payload_hash) {
        kv_error_set("%s: snapshot payload checksum mismatch", path);
        rv = KV_ERR_CORRUPT;
    }
    if (rv == KV_OK && (ftruncate(fd, (off_t)trailer.payload_bytes) != 0 || fsync(fd) != 0)) {
        kv_error_set("truncate/fsync %s: %s", path, strerror(errno));
        rv = KV_ERR_IO;
    }
    uint64_t index = 0, term = 0;
    if (rv == KV_OK) {
        rv = kv_probe_file(path, &index, &term);
    }
    if (rv == KV_OK && (index != trailer.index || term != trailer.term)) {
        kv_error_set("%s: snapshot payload does not match its trailer", path);
        rv = KV_ERR_CORRUPT;
    }
    *meta = (struct kv_snapshot_meta){
        .index = trailer.index,
        .term = trailer.term,
        .file_bytes = trailer.payload_bytes + KV_TRAILER_BYTES,
    };
    return rv;
}

int kv_snapshot_install(struct kv *kv, const char *path, struct kv_snapshot_meta *meta)
{
    assert(kv != NULL && kv->env != NULL && path != NULL && meta != NULL);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        kv_error_set("open %s: %s", path, strerror(errno));
        return KV_ERR_IO;
    }
    int rv = kv_snapshot_verify(fd, path, meta);
    close(fd);
    if (rv != KV_OK) {
        unlink(path);
        return rv;
    }
    char data_path[PATH_MAX];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", kv->dir);
    kv_arena_reset(&kv->arena); /* results of earlier batches die with the old store */
    kv_env_close(kv);
    if (rename(path, data_path) != 0) {
        kv_error_set("rename %s: %s", path, strerror(errno));
        unlink(path);
        /* The old store is intact: reopen it. Should that fail too, kv->env stays NULL and
         * kv_last_error() tells why; the kv can then only be closed. */
        (void)kv_env_open(kv);
        return KV_ERR_IO;
    }
    rv = kv_fsync_dir(kv->dir);
    if (rv == KV_OK) {
        rv = kv_env_open(kv);
    }
    if (rv == KV_OK && kv->applied_index != meta->index) {
        kv_error_set("installed snapshot reads applied index %llu, expected %llu",
                     (unsigned long long)kv->applied_index, (unsigned long long)meta->index);
        rv = KV_ERR_CORRUPT;
    }
    return rv;
}
