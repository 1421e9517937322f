/*
 * fileops.h — the file operations the WAL (and other storage) needs, behind a table of function
 * pointers so that the simulator can plug in a simulated disk whose unsynced writes are lost,
 * kept or torn at a crash (SQLite's crash-test layer, TigerBeetle's storage simulator).
 *
 * Every operation returns 0 on success or a negative errno value (-EIO, -ENOSPC, ...). A
 * handle is a small non-negative integer chosen by the implementation. Paths are plain
 * strings (at most FILEOPS_PATH_BYTES_MAX bytes with the terminating zero).
 *
 * Thread rule: the POSIX implementation may be used from several threads at once on different
 * handles, and for reads on the same handle; a simulated implementation states its own rule.
 */
#ifndef CHORUS_FILEOPS_H
#define CHORUS_FILEOPS_H

#include <stddef.h>
#include <stdint.h>

enum {
    FILEOPS_PATH_BYTES_MAX = 4096,
    FILEOPS_NAME_BYTES_MAX = 256,
};

/* Flags for open. Without FILEOPS_CREATE the file must exist. */
enum fileops_open_flags {
    FILEOPS_READ_WRITE = 1u << 0, /* else read-only */
    FILEOPS_CREATE = 1u << 1, /* create if missing */
    FILEOPS_EXCLUSIVE = 1u << 2, /* with CREATE: fail with -EEXIST if it exists */
};

/* Called once per directory entry (not "." or ".."); a non-zero return stops the listing and
 * becomes list_dir's return value. */
typedef int (*fileops_visit_fn)(void *context, const char *name);

struct fileops {
    void *impl;
    int (*open)(void *impl, const char *path, unsigned flags, int *handle);
    int (*close)(void *impl, int handle);
    /* Reads up to len bytes at offset; *read_bytes < len only at end of file. */
    int (*read)(void *impl, int handle, uint64_t offset, void *buf, size_t len, size_t *read_bytes);
    /* Writes all len bytes at offset, or fails. A failure leaves the range's content unknown. */
    int (*write)(void *impl, int handle, uint64_t offset, const void *buf, size_t len);
    /* Makes the file's data (and the metadata needed to read it back) durable: fdatasync. */
    int (*sync)(void *impl, int handle);
    int (*size)(void *impl, int handle, uint64_t *bytes);
    int (*truncate)(void *impl, int handle, uint64_t bytes);
    /* Reserves space so the file is at least `bytes` long; new bytes read as zero. */
    int (*allocate)(void *impl, int handle, uint64_t bytes);
    int (*rename)(void *impl, const char *from, const char *to);
    int (*remove)(void *impl, const char *path);
    /* Makes creations, renames and removals in the directory durable: fsync of the directory. */
    int (*sync_dir)(void *impl, const char *dir);
    /* Creates the directory; succeeds when it already exists. */
    int (*make_dir)(void *impl, const char *dir);
    int (*list_dir)(void *impl, const char *dir, fileops_visit_fn visit, void *context);
};

/* The real implementation over POSIX/Linux system calls. Stateless; impl is NULL. */
const struct fileops *fileops_posix(void);

#endif
