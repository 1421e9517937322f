/*
 * wal_spare.c — the spare segment: the next segment's file, written with zeroes and synced
 * before it is needed.
 *
 * Why zeroes and not only fallocate: fallocate reserves blocks as "unwritten" extents, and the
 * first write into such a block changes the extent to "written". On ext4 that change is
 * metadata, so each fdatasync after a write into it must also commit the filesystem journal.
 * Measured on this project's machines (ext4 on a virtual disk, 2026-12-04, one writer doing
 * 4 KiB pwrite + fdatasync): 4,500-5,600 syncs/s into fallocated blocks, 8,700-10,100 into
 * blocks written with zeroes beforehand. PostgreSQL zero-fills its WAL segments for the same
 * reason. Writing 64 MiB of zeroes takes about 60 ms here, too long for the sync thread at a
 * roll, so the node prepares the spare on another thread while the current segment fills, and
 * the batch that rolls takes it (wal_batch_seal decides, wal_segment_create renames it).
 *
 * The spare is named like a temporary segment with sequence 0, which no segment has; recovery
 * deletes leftover ".tmp" files, so a spare never outlives its process and a crash while one
 * is prepared leaves nothing behind that matters.
 */
#include "storage/wal_internal.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

enum { WAL_SPARE_ZERO_CHUNK_BYTES = 1u << 20 };

/* Read only, by one preparing thread at a time. */
static uint8_t wal_spare_zeroes[WAL_SPARE_ZERO_CHUNK_BYTES];

int wal_spare_path(const struct wal *wal, char *path, size_t path_bytes)
{
    return wal_path(wal, path, path_bytes, 0, true);
}

bool wal_spare_begin(struct wal *wal)
{
    if (wal->spare.ready || wal->spare.preparing || atomic_load(&wal->failed)) return false;
    /* A new log takes the spare as its first segment. Otherwise preparing starts once the
     * current segment is half full: a node that writes little never pays for a second file,
     * and one that writes much has the spare long before the roll. */
    bool wanted = wal->cursor_seq == 0 ||
        wal->cursor_offset >= wal->options.segment_bytes / 2;
    if (!wanted) return false;
    wal->spare.preparing = true;
    wal->spare.bytes = wal->options.segment_bytes;
    return true;
}

int wal_spare_prepare(struct wal *wal, struct wal_error *err)
{
    assert(wal->spare.preparing && !wal->spare.ready);
    const struct fileops *fops = wal->fops;
    char path[FILEOPS_PATH_BYTES_MAX];
    if (wal_spare_path(wal, path, sizeof(path)) != 0)
        return wal_error_set(err, WAL_ERR_INVALID, "%s: spare path too long", wal->dir);
    /* A spare left by a failed attempt of this process is replaced. */
    int rv = fops->remove(fops->impl, path);
    if (rv != 0 && rv != -ENOENT)
        return wal_error_set(err, WAL_ERR_IO, "%s: remove: %s", path, strerror(-rv));
    int handle = -1;
    rv = fops->open(fops->impl, path, FILEOPS_READ_WRITE | FILEOPS_CREATE | FILEOPS_EXCLUSIVE,
                    &handle);
    if (rv != 0) return wal_error_set(err, WAL_ERR_IO, "%s: open: %s", path, strerror(-rv));
    const char *what = "fallocate";
    rv = fops->allocate(fops->impl, handle, wal->spare.bytes);
    /* Bounded by the segment size: at most WAL_SEGMENT_BYTES_MAX / 1 MiB = 1,024 writes. Each
     * megabyte is synced on its own, so that the zeroing never queues 64 MiB ahead of the log's
     * own fdatasyncs (no effect on p99 was measured either way). */
    for (uint64_t at = 0; rv == 0 && at < wal->spare.bytes; at += WAL_SPARE_ZERO_CHUNK_BYTES) {
        uint64_t left = wal->spare.bytes - at;
        size_t len = left < WAL_SPARE_ZERO_CHUNK_BYTES ? (size_t)left : WAL_SPARE_ZERO_CHUNK_BYTES;
        what = "write";
        rv = fops->write(fops->impl, handle, at, wal_spare_zeroes, len);
        if (rv == 0) {
            what = "fdatasync";
            rv = fops->sync(fops->impl, handle);
        }
    }
    fops->close(fops->impl, handle);
    if (rv == 0) return WAL_OK;
    fops->remove(fops->impl, path);
    return wal_error_set(err, WAL_ERR_IO, "%s: %s: %s", path, what, strerror(-rv));
}

void wal_spare_complete(struct wal *wal, int result)
{
    assert(wal->spare.preparing && !wal->spare.ready);
    wal->spare.preparing = false;
    /* A spare that could not be made is not an error of the log: the next segment is then
     * fallocated, as it would be without spares, and a later roll tries again. */
    wal->spare.ready = result == WAL_OK;
}
