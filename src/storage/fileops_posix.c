/* fileops_posix.c — struct fileops over the Linux system calls. */
#include "storage/fileops.h"

#include <stdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A write or read of more than this is split into several calls (Linux caps one at ~2 GiB). */
enum { FILEOPS_POSIX_IO_BYTES_MAX = 1 << 30 };

static int posix_open(void *impl, const char *path, unsigned flags, int *handle)
{
    (void)impl;
    int os_flags = O_CLOEXEC | ((flags & FILEOPS_READ_WRITE) ? O_RDWR : O_RDONLY);
    if (flags & FILEOPS_CREATE) os_flags |= O_CREAT;
    if (flags & FILEOPS_EXCLUSIVE) os_flags |= O_EXCL;
    int fd;
    do {
        fd = open(path, os_flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    *handle = fd;
    return 0;
}

static int posix_close(void *impl, int handle)
{
    (void)impl;
    /* close is not retried on EINTR: on Linux the descriptor is released either way. */
    return close(handle) == 0 ? 0 : -errno;
}

static int posix_read(void *impl, int handle, uint64_t offset, void *buf, size_t len,
                      size_t *read_bytes)
{
    (void)impl;
    size_t done = 0;
    /* Bounded: each pass reads at least one byte or ends the loop. */
    while (done < len) {
        size_t chunk =
            len - done < FILEOPS_POSIX_IO_BYTES_MAX ? len - done : FILEOPS_POSIX_IO_BYTES_MAX;
        ssize_t n = pread(handle, (uint8_t *)buf + done, chunk, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) break;
        done += (size_t)n;
    }
    *read_bytes = done;
    return 0;
}

static int posix_write(void *impl, int handle, uint64_t offset, const void *buf, size_t len)
{
    (void)impl;
    size_t done = 0;
    while (done < len) {
        size_t chunk =
            len - done < FILEOPS_POSIX_IO_BYTES_MAX ? len - done : FILEOPS_POSIX_IO_BYTES_MAX;
        ssize_t n = pwrite(handle, (const uint8_t *)buf + done, chunk, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -EIO; /* no progress: treat as an I/O failure rather than loop */
        done += (size_t)n;
    }
    return 0;
}

/* fdatasync is never retried: after a failure Linux may have dropped the dirty pages and a
 * second call could succeed without the data being on disk ("fsyncgate", PostgreSQL 2018). */
static int posix_sync(void *impl, int handle)
{
    (void)impl;
    return fdatasync(handle) == 0 ? 0 : -errno;
}

static int posix_size(void *impl, int handle, uint64_t *bytes)
{
    (void)impl;
    struct stat st;
    if (fstat(handle, &st) != 0) return -errno;
    *bytes = (uint64_t)st.st_size;
    return 0;
}

static int posix_truncate(void *impl, int handle, uint64_t bytes)
{
    (void)impl;
    int rv;
    do {
        rv = ftruncate(handle, (off_t)bytes);
    } while (rv != 0 && errno == EINTR);
    return rv == 0 ? 0 : -errno;
}

/* fallocate reserves blocks so that later writes do not fail for space and fdatasync need
 * not update the file size; filesystems without it (tmpfs before 3.5, some FUSE) fall back to
 * ftruncate, which still gives zeroes but no reservation. */
static int posix_allocate(void *impl, int handle, uint64_t bytes)
{
    (void)impl;
    int rv;
    do {
        rv = fallocate(handle, 0, 0, (off_t)bytes);
    } while (rv != 0 && errno == EINTR);
    if (rv == 0) return 0;
    if (errno != EOPNOTSUPP) return -errno;
    uint64_t size;
    int err = posix_size(impl, handle, &size);
    if (err != 0) return err;
    return size >= bytes ? 0 : posix_truncate(impl, handle, bytes);
}

static int posix_rename(void *impl, const char *from, const char *to)
{
    (void)impl;
    return rename(from, to) == 0 ? 0 : -errno;
}

static int posix_remove(void *impl, const char *path)
{
    (void)impl;
    return unlink(path) == 0 ? 0 : -errno;
}

static int posix_sync_dir(void *impl, const char *dir)
{
    (void)impl;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rv = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rv;
}

static int posix_make_dir(void *impl, const char *dir)
{
    (void)impl;
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

static int posix_list_dir(void *impl, const char *dir, fileops_visit_fn visit, void *context)
{
    (void)impl;
    DIR *d = opendir(dir);
    if (d == NULL) return -errno;
    int rv = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(d);
        if (entry == NULL) {
            rv = errno != 0 ? -errno : 0;
            break;
        }
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        rv = visit(context, entry->d_name);
        if (rv != 0) break;
    }
    closedir(d);
    return rv;
}

static const struct fileops fileops_posix_table = {
    .impl = NULL,
    .open = posix_open,
    .close = posix_close,
    .read = posix_read,
    .write = posix_write,
    .sync = posix_sync,
    .size = posix_size,
    .truncate = posix_truncate,
    .allocate = posix_allocate,
    .rename = posix_rename,
    .remove = posix_remove,
    .sync_dir = posix_sync_dir,
    .make_dir = posix_make_dir,
    .list_dir = posix_list_dir,
};

const struct fileops *fileops_posix(void) { return &fileops_posix_table; }
