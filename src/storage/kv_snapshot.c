/*
 * kv_snapshot.c — snapshots of one store: create, send in chunks, stage, install.
 *
 * A snapshot file holds one store (kv.h: many stores share a node's LMDB environment, so a
 * copy of the whole environment is not one group's state). Its payload is the store's
 * configuration and then its records in LMDB key order, read in one read txn (the apply
 * thread keeps writing meanwhile):
 *
 *     u32 config bytes, the configuration blob
 *     (version 4:) u32 ACL bytes, the ACL users' blob (KV_ITEM_ACL; 0 bytes: none)
 *     then per record: u16 LMDB key bytes (1..511), u32 record bytes, the key, the record
 *     (version 3:) then a separator, u16 0 and u32 0, and the records of the store's
 *     elements DB (collections' elements and trash, kv_coll.h) the same way
 *
 * followed by a trailer:
 *
 *     0  magic "CHKVSNAP"        24 u64 index        48 u64 log time (version 5; zero before)
 *     8  u32 version, u32 zero   32 u64 term         56 u64 XXH3-64 of bytes 0..55
 *     16 u64 payload bytes       40 u64 XXH3-64 of the payload
 *
 * Deadlines are records of the elements DB (kv_expiry.c), so they travel with it; the log
 * time of the snapshot's index is in the trailer (version 5), and the count and sum of the
 * deadlines are counted again as the records are installed.
 *
 * A snapshot that crossed the network is checked against both hashes before it is read, and
 * then parsed with every length bounded. Installing replaces the store's DB, configuration
 * and applied index in one LMDB write txn, the one atomic step, and syncs LMDB before it
 * returns (the WAL's snapshot marker, written next, lets the log below it go).
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
    KV_SNAPSHOT_VERSION = 5,         /* 5: the log time in the trailer (expiry) */
    KV_SNAPSHOT_VERSION_ACL = 4,     /* 4: the ACL blob follows the configuration */
    KV_SNAPSHOT_VERSION_ELEMENTS = 3, /* 3: the elements DB follows the keys DB */
    KV_SNAPSHOT_VERSION_KEYS_ONLY = 2, /* still installed: no collections then */
    /* 1 was a copy of a whole LMDB environment */
    KV_SNAPSHOT_IO_BYTES = 1u << 20, /* one read while hashing, one write while creating */
    KV_SNAP_RECORD_HEADER_BYTES = 6, /* u16 key bytes, u32 record bytes */
    /* The largest record a store writes: a long key's suffix and header before the value. */
    KV_SNAP_RECORD_BYTES_MAX = KV_RECORD_HEADER_BYTES + KV_KEY_BYTES_MAX + KV_VALUE_BYTES_MAX,
    /* The reader's buffer holds any record whole. */
    KV_SNAP_READ_BYTES = KV_SNAP_RECORD_HEADER_BYTES + KV_ENCODED_KEY_BYTES_MAX +
                         KV_SNAP_RECORD_BYTES_MAX + KV_SNAPSHOT_IO_BYTES,
};
static const char kv_snapshot_magic[8] = {'C', 'H', 'K', 'V', 'S', 'N', 'A', 'P'};

struct kv_trailer {
    uint64_t version;
    uint64_t payload_bytes;
    uint64_t index;
    uint64_t term;
    uint64_t payload_hash;
    uint64_t time_ms;
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
    kv_put_le64(out + 48, trailer->time_ms);
    kv_put_le64(out + 56, XXH3_64bits(out, 56));
}

static int kv_trailer_decode(const uint8_t *in, uint64_t file_bytes, struct kv_trailer *trailer)
{
    if (memcmp(in, kv_snapshot_magic, sizeof kv_snapshot_magic) != 0 ||
        kv_get_le64(in + 56) != XXH3_64bits(in, 56)) {
        kv_error_set("snapshot trailer is corrupt");
        return KV_ERR_CORRUPT;
    }
    uint64_t version = kv_get_le64(in + 8);
    if (version < KV_SNAPSHOT_VERSION_KEYS_ONLY || version > KV_SNAPSHOT_VERSION ||
        (version < KV_SNAPSHOT_VERSION && kv_get_le64(in + 48) != 0)) {
        kv_error_set("snapshot version %llu is unknown", (unsigned long long)kv_get_le64(in + 8));
        return KV_ERR_VERSION;
    }
    trailer->version = version;
    trailer->payload_bytes = kv_get_le64(in + 16);
    trailer->index = kv_get_le64(in + 24);
    trailer->term = kv_get_le64(in + 32);
    trailer->payload_hash = kv_get_le64(in + 40);
    trailer->time_ms = kv_get_le64(in + 48);
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

/* A buffered writer that hashes what it writes (the payload hash of the trailer). */
struct kv_snap_writer {
    int fd;
    uint8_t *buf;
    size_t used;
    uint64_t written;
    XXH3_state_t *hash;
};

static int kv_snap_flush(struct kv_snap_writer *w)
{
    int rv = kv_pwrite_all(w->fd, w->buf, w->used, w->written);
    if (rv == KV_OK) {
        XXH3_64bits_update(w->hash, w->buf, w->used);
        w->written += w->used;
        w->used = 0;
    }
    return rv;
}

static int kv_snap_write(struct kv_snap_writer *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        if (w->used == KV_SNAPSHOT_IO_BYTES) {
            int rv = kv_snap_flush(w);
            if (rv != KV_OK) {
                return rv;
            }
        }
        size_t n = KV_SNAPSHOT_IO_BYTES - w->used;
        n = n < len ? n : len;
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        p += n;
        len -= n;
    }
    return KV_OK;
}

static int kv_snap_write_u32(struct kv_snap_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return kv_snap_write(w, b, sizeof b);
}

static int kv_snap_write_records(MDB_txn *txn, MDB_dbi dbi, struct kv_snap_writer *w);

/* The ACL blob, in the same read txn as the records: a heap buffer, it may be 1 MiB. */
static int kv_snap_write_acl(struct kv *kv, MDB_txn *txn, struct kv_snap_writer *w)
{
    uint8_t *acl = malloc(KV_ACL_BYTES_MAX);
    if (acl == NULL) {
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    size_t acl_len = 0;
    int rv = kv_acl_read(kv, txn, acl, KV_ACL_BYTES_MAX, &acl_len);
    if (rv == KV_OK) {
        rv = kv_snap_write_u32(w, (uint32_t)acl_len);
    }
    if (rv == KV_OK) {
        rv = kv_snap_write(w, acl, acl_len);
    }
    free(acl);
    return rv;
}

/* The store's configuration and records, from one read txn; its applied index into trailer. */
static int kv_snap_write_store(struct kv *kv, MDB_txn *txn, struct kv_snap_writer *w,
                               struct kv_trailer *trailer)
{
    int rc = kv_meta_get_applied(txn, kv, &trailer->index, &trailer->term);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "read applied index");
    }
    struct kv_clock clock;
    rc = kv_meta_get_clock(txn, kv, &clock);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "read clock");
    }
    trailer->time_ms = clock.time_ms;
    uint8_t config[KV_CONFIG_BYTES_MAX];
    size_t config_len = 0;
    int rv = kv_config_read(kv, txn, config, sizeof config, &config_len);
    if (rv == KV_OK) {
        rv = kv_snap_write_u32(w, (uint32_t)config_len);
    }
    if (rv == KV_OK) {
        rv = kv_snap_write(w, config, config_len);
    }
    if (rv == KV_OK) {
        rv = kv_snap_write_acl(kv, txn, w);
    }
    if (rv == KV_OK) {
        rv = kv_snap_write_records(txn, kv->data_dbi, w);
    }
    if (rv == KV_OK) {
        static const uint8_t separator[KV_SNAP_RECORD_HEADER_BYTES] = {0};
        rv = kv_snap_write(w, separator, sizeof separator);
    }
    if (rv == KV_OK) {
        rv = kv_snap_write_records(txn, kv->elems_dbi, w);
    }
    if (rv == KV_OK) {
        rv = kv_snap_flush(w);
    }
    trailer->payload_bytes = w->written;
    trailer->payload_hash = XXH3_64bits_digest(w->hash);
    return rv;
}

/* Every record of one DB, in key order. */
static int kv_snap_write_records(MDB_txn *txn, MDB_dbi dbi, struct kv_snap_writer *w)
{
    int rv = KV_OK;
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "cursor");
    }
    MDB_val key, record;
    rc = rv == KV_OK ? mdb_cursor_get(cursor, &key, &record, MDB_FIRST) : MDB_NOTFOUND;
    while (rv == KV_OK && rc == MDB_SUCCESS) {
        assert(key.mv_size > 0 && key.mv_size <= KV_ENCODED_KEY_BYTES_MAX);
        assert(record.mv_size <= KV_SNAP_RECORD_BYTES_MAX);
        uint8_t header[KV_SNAP_RECORD_HEADER_BYTES] = {
            (uint8_t)key.mv_size, (uint8_t)(key.mv_size >> 8),
            (uint8_t)record.mv_size, (uint8_t)(record.mv_size >> 8),
            (uint8_t)(record.mv_size >> 16), (uint8_t)(record.mv_size >> 24)};
        rv = kv_snap_write(w, header, sizeof header);
        if (rv == KV_OK) {
            rv = kv_snap_write(w, key.mv_data, key.mv_size);
        }
        if (rv == KV_OK) {
            rv = kv_snap_write(w, record.mv_data, record.mv_size);
        }
        rc = mdb_cursor_get(cursor, &key, &record, MDB_NEXT);
    }
    if (cursor != NULL) {
        mdb_cursor_close(cursor);
    }
    if (rv == KV_OK && rc != MDB_NOTFOUND) {
        rv = kv_error_mdb(rc, "read records");
    }
    return rv;
}

/* Appends the trailer to a fresh file at tmp_path, then makes it durable as `path`. */
static int kv_snapshot_seal(int fd, const char *tmp_path, const char *path,
                            const struct kv_trailer *trailer, struct kv_snapshot_meta *meta)
{
    uint8_t bytes[KV_TRAILER_BYTES];
    kv_trailer_encode(trailer, bytes);
    int rv = kv_pwrite_all(fd, bytes, sizeof bytes, trailer->payload_bytes);
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
    meta->index = trailer->index;
    meta->term = trailer->term;
    meta->file_bytes = trailer->payload_bytes + KV_TRAILER_BYTES;
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
    struct kv_snap_writer w = {.fd = -1};
    w.buf = malloc(KV_SNAPSHOT_IO_BYTES);
    w.hash = XXH3_createState();
    if (w.buf == NULL || w.hash == NULL) {
        free(w.buf);
        XXH3_freeState(w.hash);
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    XXH3_64bits_reset(w.hash);
    int rv = KV_OK;
    w.fd = open(tmp_path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    if (w.fd < 0) {
        kv_error_set("open %s: %s", tmp_path, strerror(errno));
        rv = KV_ERR_IO;
    }
    MDB_txn *txn = NULL;
    if (rv == KV_OK) {
        int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
        rv = rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "begin read");
    }
    struct kv_trailer trailer = {0};
    if (rv == KV_OK) {
        rv = kv_snap_write_store(kv, txn, &w, &trailer);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (rv == KV_OK) {
        rv = kv_snapshot_seal(w.fd, tmp_path, path, &trailer, meta);
    }
    if (w.fd >= 0) {
        close(w.fd);
    }
    if (rv != KV_OK) {
        unlink(tmp_path);
    }
    free(w.buf);
    XXH3_freeState(w.hash);
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
    char buf[KV_STORE_NAME_BYTES];
    snprintf(path, cap, "%s/%s", kv->dir, kv_store_name(kv, "snapshot.staging", buf, sizeof buf));
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

/* Checks the trailer and the payload hash; the payload is parsed while it is installed. */
static int kv_snapshot_verify(int fd, const char *path, struct kv_trailer *trailer)
{
    int rv = kv_snapshot_check_trailer(fd, path, trailer);
    uint64_t hash = 0;
    if (rv == KV_OK) {
        rv = kv_hash_file(fd, trailer->payload_bytes, &hash);
    }
    if (rv == KV_OK && hash != trailer->payload_hash) {
        kv_error_set("%s: snapshot payload checksum mismatch", path);
        rv = KV_ERR_CORRUPT;
    }
    return rv;
}

/* A buffered reader of the payload that hands out whole records. */
struct kv_snap_reader {
    int fd;
    uint64_t offset; /* of buf[0] in the file */
    uint64_t end;    /* the payload's end */
    uint8_t *buf;
    size_t at, len;
};

/* Makes `need` bytes at the read position contiguous in the buffer; KV_ERR_CORRUPT when the
 * payload ends first. */
static int kv_snap_need(struct kv_snap_reader *r, size_t need)
{
    assert(need <= KV_SNAP_READ_BYTES);
    if (r->len - r->at >= need) {
        return KV_OK;
    }
    memmove(r->buf, r->buf + r->at, r->len - r->at);
    r->offset += r->at;
    r->len -= r->at;
    r->at = 0;
    uint64_t left = r->end - (r->offset + r->len);
    size_t room = KV_SNAP_READ_BYTES - r->len;
    size_t n = left < room ? (size_t)left : room;
    int rv = kv_pread_all(r->fd, r->buf + r->len, n, r->offset + r->len);
    if (rv != KV_OK) {
        return rv;
    }
    r->len += n;
    if (r->len < need) {
        kv_error_set("snapshot payload ends inside a record");
        return KV_ERR_CORRUPT;
    }
    return KV_OK;
}

static uint32_t kv_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The ACL blob of a version 4 snapshot replaces the store's; older ones had none. */
static int kv_snap_load_acl(struct kv *kv, MDB_txn *txn, struct kv_snap_reader *r,
                            const struct kv_trailer *trailer)
{
    uint32_t acl_len = 0;
    if (trailer->version >= KV_SNAPSHOT_VERSION_ACL) {
        int rv = kv_snap_need(r, 4);
        acl_len = rv == KV_OK ? kv_get_le32(r->buf + r->at) : 0;
        if (rv == KV_OK && acl_len > KV_ACL_BYTES_MAX) {
            kv_error_set("snapshot ACL blob of %u bytes", acl_len);
            rv = KV_ERR_CORRUPT;
        }
        if (rv == KV_OK) {
            rv = kv_snap_need(r, 4 + (size_t)acl_len);
        }
        if (rv != KV_OK) {
            return rv;
        }
        r->at += 4;
    }
    int rc = kv_meta_put_acl(txn, kv, r->buf + r->at, acl_len);
    r->at += acl_len;
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "install snapshot ACL");
}

/* Replaces the store's records, configuration and applied index with the payload's, in txn. */
static int kv_snap_load(struct kv *kv, MDB_txn *txn, struct kv_snap_reader *r,
                        const struct kv_trailer *trailer)
{
    int rv = kv_snap_need(r, 4);
    uint32_t config_len = rv == KV_OK ? kv_get_le32(r->buf + r->at) : 0;
    if (rv == KV_OK && config_len > KV_CONFIG_BYTES_MAX) {
        kv_error_set("snapshot configuration of %u bytes", config_len);
        rv = KV_ERR_CORRUPT;
    }
    if (rv == KV_OK) {
        rv = kv_snap_need(r, 4 + (size_t)config_len);
    }
    if (rv != KV_OK) {
        return rv;
    }
    int rc = mdb_drop(txn, kv->data_dbi, 0);
    if (rc == MDB_SUCCESS) {
        rc = mdb_drop(txn, kv->elems_dbi, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_config(txn, kv, r->buf + r->at + 4, config_len);
    }
    MDB_dbi dbi = kv->data_dbi;
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_applied(txn, kv, trailer->index, trailer->term);
    }
    /* A snapshot from before expiry carries no log time: the store's own, older, stands. */
    struct kv_clock clock = {.time_ms = trailer->time_ms > kv->time_ms ? trailer->time_ms
                                                                       : kv->time_ms};
    r->at += 4 + (size_t)config_len;
    if (rc == MDB_SUCCESS) {
        rv = kv_snap_load_acl(kv, txn, r, trailer);
        if (rv != KV_OK) {
            return rv;
        }
    }
    while (rc == MDB_SUCCESS && r->offset + r->at < r->end) {
        rv = kv_snap_need(r, KV_SNAP_RECORD_HEADER_BYTES);
        if (rv != KV_OK) {
            return rv;
        }
        const uint8_t *h = r->buf + r->at;
        size_t key_len = (size_t)h[0] | (size_t)h[1] << 8;
        size_t record_len = kv_get_le32(h + 2);
        if (key_len == 0 && record_len == 0 && dbi == kv->data_dbi &&
            trailer->version >= KV_SNAPSHOT_VERSION_ELEMENTS) {
            dbi = kv->elems_dbi; /* the separator: the elements DB's records follow */
            r->at += KV_SNAP_RECORD_HEADER_BYTES;
            continue;
        }
        if (key_len == 0 || key_len > KV_ENCODED_KEY_BYTES_MAX ||
            record_len > KV_SNAP_RECORD_BYTES_MAX) {
            kv_error_set("snapshot record of %zu + %zu bytes", key_len, record_len);
            return KV_ERR_CORRUPT;
        }
        rv = kv_snap_need(r, KV_SNAP_RECORD_HEADER_BYTES + key_len + record_len);
        if (rv != KV_OK) {
            return rv;
        }
        uint8_t *p = r->buf + r->at + KV_SNAP_RECORD_HEADER_BYTES;
        MDB_val key = {.mv_size = key_len, .mv_data = p};
        MDB_val record = {.mv_size = record_len, .mv_data = p + key_len};
        /* The records come in key order: appending builds the tree without searching it,
         * and a record out of order (MDB_KEYEXIST) means a corrupt file. */
        rc = mdb_put(txn, dbi, &key, &record, MDB_APPEND);
        if (rc == MDB_SUCCESS && dbi == kv->elems_dbi) {
            kv_expiry_count_record(&key, &clock);
        }
        r->at += KV_SNAP_RECORD_HEADER_BYTES + key_len + record_len;
    }
    if (rc == MDB_KEYEXIST) {
        kv_error_set("snapshot records out of order");
        return KV_ERR_CORRUPT;
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_clock(txn, kv, &clock);
        kv->time_ms = clock.time_ms;
    }
    return rc == MDB_SUCCESS ? KV_OK : kv_error_mdb(rc, "install snapshot records");
}

/* One write txn replaces the store; LMDB is synced before the caller may rely on it. */
static int kv_snapshot_replace(struct kv *kv, int fd, const struct kv_trailer *trailer)
{
    int rv = kv_env_commit(kv->shared); /* one write txn at a time */
    if (rv != KV_OK) {
        return rv;
    }
    struct kv_snap_reader r = {.fd = fd, .end = trailer->payload_bytes};
    r.buf = malloc(KV_SNAP_READ_BYTES);
    if (r.buf == NULL) {
        kv_error_set("out of memory");
        return KV_ERR_IO;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
    rv = rc == MDB_SUCCESS ? kv_snap_load(kv, txn, &r, trailer) : kv_error_mdb(rc, "begin");
    free(r.buf);
    if (rv != KV_OK) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return rv;
    }
    rc = mdb_txn_commit(txn);
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "commit snapshot");
    }
    kv->applied_index = trailer->index;
    kv->applied_term = trailer->term;
    return kv_sync(kv);
}

int kv_store_drop(struct kv *kv)
{
    assert(kv != NULL && kv->env != NULL);
    int rv = kv_env_commit(kv->shared); /* one write txn at a time */
    if (rv != KV_OK) {
        return rv;
    }
    kv_arena_reset(&kv->arena); /* results of earlier batches die with the old state */
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(kv->env, NULL, 0, &txn);
    if (rc == MDB_SUCCESS) {
        rc = mdb_drop(txn, kv->data_dbi, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_drop(txn, kv->elems_dbi, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_config(txn, kv, NULL, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_acl(txn, kv, NULL, 0);
    }
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_applied(txn, kv, 0, 0);
    }
    const struct kv_clock fresh = {0}; /* a log replayed from index 1 must meet time 0 */
    if (rc == MDB_SUCCESS) {
        rc = kv_meta_put_clock(txn, kv, &fresh);
    }
    if (rc == MDB_SUCCESS) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (rc != MDB_SUCCESS) {
        return kv_error_mdb(rc, "drop store");
    }
    kv->applied_index = 0;
    kv->applied_term = 0;
    kv->time_ms = 0;
    return kv_sync(kv);
}

int kv_snapshot_install(struct kv *kv, const char *path, struct kv_snapshot_meta *meta)
{
    assert(kv != NULL && kv->env != NULL && path != NULL && meta != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        kv_error_set("open %s: %s", path, strerror(errno));
        return KV_ERR_IO;
    }
    struct kv_trailer trailer = {0};
    int rv = kv_snapshot_verify(fd, path, &trailer);
    *meta = (struct kv_snapshot_meta){
        .index = trailer.index,
        .term = trailer.term,
        .file_bytes = trailer.payload_bytes + KV_TRAILER_BYTES,
    };
    kv_arena_reset(&kv->arena); /* results of earlier batches die with the old state */
    if (rv == KV_OK) {
        rv = kv_snapshot_replace(kv, fd, &trailer);
    }
    close(fd);
    unlink(path);
    return rv;
}
