/*
 * simfs.h — a simulated file system behind struct fileops, whose unsynced state is lost, kept
 * or torn at a crash (SQLite's crash-test layer, TigerBeetle's storage simulator).
 *
 * Every file (inode) has a current image (what reads see) and a durable image. Writes change
 * the current image and are remembered, with a copy of their bytes, until a sync makes them
 * durable. Creations, renames and removals change the current namespace at once and the
 * durable one only at sync_dir. File lengths (write past the end, allocate, truncate) are
 * metadata made durable at once, zero-filled: stricter about data than about lengths, which is
 * what the WAL relies on (it preallocates and syncs after truncating).
 *
 * Syncs are barriers. Outside deferred mode a barrier takes effect at once. In deferred mode
 * (the simulator issues one update's write + fdatasync, and the disk takes a while) barriers
 * queue until simfs_settle (the disk finished); a crash before that picks how many of the
 * queued barriers completed, in issue order. The program was blocked in the next one, so what
 * it issued after that barrier never happened; what it issued before is unsynced unless a
 * completed barrier covers it: each write independently dropped, kept, or torn to a prefix of
 * its bytes; a random prefix of the directory operations kept. Inodes no longer named durably
 * are gone.
 *
 * Thread rule: one thread. Bounds: SIMFS_FILES_MAX files, SIMFS_PENDING_MAX pending writes
 * per file, pending directory operations and barriers; beyond them operations fail (-ENOSPC).
 */
#ifndef CHORUS_SIM_SIMFS_H
#define CHORUS_SIM_SIMFS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/rng.h"
#include "storage/fileops.h"

enum {
    SIMFS_FILES_MAX = 64,
    SIMFS_HANDLES_MAX = 64,
    SIMFS_PENDING_MAX = 256,   /* unsynced writes per file; dir ops; barriers */
    SIMFS_NAME_BYTES_MAX = 96, /* whole paths */
};

struct simfs_write {
    uint64_t offset;
    uint64_t len;
    uint8_t *bytes; /* a copy of what was written */
    uint32_t epoch; /* queued barriers when it was issued (deferred mode) */
};

struct simfs_inode {
    bool used;
    bool linked;          /* named in the current namespace */
    bool durable_linked;  /* named in the durable namespace */
    char name[SIMFS_NAME_BYTES_MAX];
    char durable_name[SIMFS_NAME_BYTES_MAX];
    uint8_t *current, *durable;
    uint64_t len, capacity; /* len: both images (lengths are durable at once) */
    uint32_t handles;       /* open handles */
    struct simfs_write writes[SIMFS_PENDING_MAX];
    uint32_t write_count;   /* unsynced writes, in issue order */
};

enum simfs_dir_op_kind { SIMFS_DIR_LINK = 1, SIMFS_DIR_UNLINK = 2 };

struct simfs_dir_op {
    uint8_t kind;
    uint32_t inode;
    uint32_t epoch; /* queued barriers when it was issued */
    char name[SIMFS_NAME_BYTES_MAX]; /* LINK: the new name */
};

struct simfs_barrier {
    bool dir;       /* sync_dir, else a file sync */
    uint32_t inode; /* file sync: which file */
    uint32_t count; /* writes (file) or dir ops (dir) it covers */
};

struct simfs_stats {
    uint64_t writes_dropped, writes_kept, writes_torn;
    uint64_t writes_never; /* issued after the barrier the program was blocked in */
    uint64_t dir_ops_dropped;
    uint64_t barriers_lost; /* syncs issued but not completed at a crash */
};

struct simfs {
    struct simfs_inode files[SIMFS_FILES_MAX];
    int32_t handles[SIMFS_HANDLES_MAX]; /* inode index, or -1 */
    struct simfs_dir_op dir_ops[SIMFS_PENDING_MAX];
    uint32_t dir_op_count;
    struct simfs_barrier barriers[SIMFS_PENDING_MAX];
    uint32_t barrier_count;
    bool deferred;
    struct simfs_stats stats;
};

void simfs_init(struct simfs *fs);
/* Frees every file: an empty disk. */
void simfs_reset(struct simfs *fs);
void simfs_free(struct simfs *fs);
/* The fileops table over fs (impl = fs). */
struct fileops simfs_fileops(struct simfs *fs);
/* Deferred mode on or off: see above. Turning it off does not settle what is queued. */
void simfs_set_deferred(struct simfs *fs, bool deferred);
/* The disk completes every queued barrier. */
void simfs_settle(struct simfs *fs);
/* The power fails: a prefix of the queued barriers completes, the rest is lost, kept or torn,
 * as `rng` draws; every handle is gone. */
void simfs_crash(struct simfs *fs, struct sim_rng *rng);
/* Whether anything is unsynced (writes, directory operations or barriers). */
bool simfs_dirty(const struct simfs *fs);

#endif
