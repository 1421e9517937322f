/* simfs.c — the simulated file system of simfs.h. */
#include "sim/simfs.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void simfs_init(struct simfs *fs)
{
    memset(fs, 0, sizeof(*fs));
    for (int h = 0; h < SIMFS_HANDLES_MAX; h++) fs->handles[h] = -1;
}

static void simfs_inode_forget_writes(struct simfs_inode *file, uint32_t count)
{
    assert(count <= file->write_count);
    for (uint32_t i = 0; i < count; i++) free(file->writes[i].bytes);
    memmove(file->writes, file->writes + count,
            sizeof(file->writes[0]) * (file->write_count - count));
    file->write_count -= count;
}

static void simfs_inode_free(struct simfs_inode *file)
{
    simfs_inode_forget_writes(file, file->write_count);
    free(file->current);
    free(file->durable);
    memset(file, 0, sizeof(*file));
}

void simfs_reset(struct simfs *fs)
{
    for (int i = 0; i < SIMFS_FILES_MAX; i++)
        if (fs->files[i].used) simfs_inode_free(&fs->files[i]);
    struct simfs_stats stats = fs->stats;
    simfs_init(fs);
    fs->stats = stats;
}

void simfs_free(struct simfs *fs) { simfs_reset(fs); }

void simfs_set_deferred(struct simfs *fs, bool deferred) { fs->deferred = deferred; }

bool simfs_dirty(const struct simfs *fs)
{
    if (fs->dir_op_count > 0 || fs->barrier_count > 0) return true;
    for (int i = 0; i < SIMFS_FILES_MAX; i++)
        if (fs->files[i].used && fs->files[i].write_count > 0) return true;
    return false;
}

static struct simfs_inode *simfs_find(struct simfs *fs, const char *path)
{
    for (int i = 0; i < SIMFS_FILES_MAX; i++) {
        struct simfs_inode *f = &fs->files[i];
        if (f->used && f->linked && strcmp(f->name, path) == 0) return f;
    }
    return NULL;
}

static struct simfs_inode *simfs_handle(struct simfs *fs, int handle)
{
    if (handle < 0 || handle >= SIMFS_HANDLES_MAX || fs->handles[handle] < 0) return NULL;
    return &fs->files[fs->handles[handle]];
}

/* Whether a pending directory operation or barrier still names inode i. */
static bool simfs_referenced(const struct simfs *fs, uint32_t i)
{
    for (uint32_t k = 0; k < fs->dir_op_count; k++)
        if (fs->dir_ops[k].inode == i) return true;
    for (uint32_t k = 0; k < fs->barrier_count; k++)
        if (!fs->barriers[k].dir && fs->barriers[k].inode == i) return true;
    return false;
}

/* An inode named nowhere, not open and not referenced by pending operations is gone. */
static void simfs_collect(struct simfs *fs)
{
    for (uint32_t i = 0; i < SIMFS_FILES_MAX; i++) {
        struct simfs_inode *f = &fs->files[i];
        if (f->used && !f->linked && !f->durable_linked && f->handles == 0 &&
            !simfs_referenced(fs, i))
            simfs_inode_free(f);
    }
}

static int simfs_reserve(struct simfs_inode *file, uint64_t len)
{
    if (len <= file->capacity) return 0;
    uint64_t capacity = file->capacity ? file->capacity : 4096;
    while (capacity < len) capacity *= 2;
    uint8_t *current = realloc(file->current, capacity);
    if (current == NULL) return -ENOMEM;
    file->current = current;
    uint8_t *durable = realloc(file->durable, capacity);
    if (durable == NULL) return -ENOMEM;
    file->durable = durable;
    file->capacity = capacity;
    return 0;
}

/* Sets the length of both images (metadata is durable at once), zero-filling growth and
 * clipping unsynced writes that now reach past the end. */
static int simfs_set_len(struct simfs_inode *file, uint64_t len)
{
    int rv = simfs_reserve(file, len);
    if (rv != 0) return rv;
    if (len > file->len) {
        memset(file->current + file->len, 0, len - file->len);
        memset(file->durable + file->len, 0, len - file->len);
    }
    file->len = len;
    for (uint32_t i = 0; i < file->write_count; i++) {
        struct simfs_write *w = &file->writes[i];
        if (w->offset >= len)
            w->len = 0;
        else if (w->offset + w->len > len)
            w->len = len - w->offset;
    }
    return 0;
}

static int simfs_dir_op(struct simfs *fs, uint8_t kind, uint32_t inode, const char *name);
static int simfs_barrier(struct simfs *fs, bool dir, uint32_t inode, uint32_t count);

static int simfs_open(void *impl, const char *path, unsigned flags, int *handle)
{
    struct simfs *fs = impl;
    if (strlen(path) >= SIMFS_NAME_BYTES_MAX) return -ENAMETOOLONG;
    struct simfs_inode *file = simfs_find(fs, path);
    if (file != NULL && (flags & FILEOPS_CREATE) && (flags & FILEOPS_EXCLUSIVE)) return -EEXIST;
    int h = 0;
    while (h < SIMFS_HANDLES_MAX && fs->handles[h] >= 0) h++;
    if (h == SIMFS_HANDLES_MAX) return -EMFILE;
    if (file == NULL) {
        if (!(flags & FILEOPS_CREATE)) return -ENOENT;
        for (int i = 0; i < SIMFS_FILES_MAX && file == NULL; i++)
            if (!fs->files[i].used) file = &fs->files[i];
        if (file == NULL) return -ENOSPC;
        uint32_t inode = (uint32_t)(file - fs->files);
        int rv = simfs_dir_op(fs, SIMFS_DIR_LINK, inode, path);
        if (rv != 0) return rv;
        file->used = true;
        file->linked = true;
        snprintf(file->name, sizeof(file->name), "%s", path);
    }
    file->handles++;
    fs->handles[h] = (int32_t)(file - fs->files);
    *handle = h;
    return 0;
}

static int simfs_close(void *impl, int handle)
{
    struct simfs *fs = impl;
    struct simfs_inode *file = simfs_handle(fs, handle);
    if (file == NULL) return -EBADF;
    file->handles--;
    fs->handles[handle] = -1;
    simfs_collect(fs);
    return 0;
}

static int simfs_read(void *impl, int handle, uint64_t offset, void *buf, size_t len,
                      size_t *read_bytes)
{
    struct simfs_inode *file = simfs_handle(impl, handle);
    if (file == NULL) return -EBADF;
    *read_bytes = 0;
    if (offset >= file->len) return 0;
    uint64_t n = len < file->len - offset ? len : file->len - offset;
    memcpy(buf, file->current + offset, n);
    *read_bytes = n;
    return 0;
}

static int simfs_write(void *impl, int handle, uint64_t offset, const void *buf, size_t len)
{
    struct simfs *fs = impl;
    struct simfs_inode *file = simfs_handle(fs, handle);
    if (file == NULL) return -EBADF;
    if (file->write_count == SIMFS_PENDING_MAX) return -ENOSPC;
    if (len == 0) return 0;
    uint8_t *copy = malloc(len);
    if (copy == NULL) return -ENOMEM;
    if (offset + len > file->len) {
        int rv = simfs_set_len(file, offset + len);
        if (rv != 0) {
            free(copy);
            return rv;
        }
    }
    memcpy(copy, buf, len);
    memcpy(file->current + offset, buf, len);
    file->writes[file->write_count++] =
        (struct simfs_write){.offset = offset, .len = len, .bytes = copy,
                             .epoch = fs->barrier_count};
    return 0;
}

static int simfs_sync(void *impl, int handle)
{
    struct simfs *fs = impl;
    struct simfs_inode *file = simfs_handle(fs, handle);
    if (file == NULL) return -EBADF;
    return simfs_barrier(fs, false, (uint32_t)(file - fs->files), file->write_count);
}

static int simfs_size(void *impl, int handle, uint64_t *bytes)
{
    struct simfs_inode *file = simfs_handle(impl, handle);
    if (file == NULL) return -EBADF;
    *bytes = file->len;
    return 0;
}

static int simfs_truncate(void *impl, int handle, uint64_t bytes)
{
    struct simfs_inode *file = simfs_handle(impl, handle);
    return file == NULL ? -EBADF : simfs_set_len(file, bytes);
}

static int simfs_allocate(void *impl, int handle, uint64_t bytes)
{
    struct simfs_inode *file = simfs_handle(impl, handle);
    if (file == NULL) return -EBADF;
    return bytes > file->len ? simfs_set_len(file, bytes) : 0;
}

static int simfs_rename(void *impl, const char *from, const char *to)
{
    struct simfs *fs = impl;
    if (strlen(to) >= SIMFS_NAME_BYTES_MAX) return -ENAMETOOLONG;
    struct simfs_inode *file = simfs_find(fs, from);
    if (file == NULL) return -ENOENT;
    struct simfs_inode *old = simfs_find(fs, to);
    if (old == file) return 0;
    int rv = simfs_dir_op(fs, SIMFS_DIR_LINK, (uint32_t)(file - fs->files), to);
    if (rv != 0) return rv;
    if (old != NULL) old->linked = false;
    snprintf(file->name, sizeof(file->name), "%s", to);
    simfs_collect(fs);
    return 0;
}

static int simfs_remove(void *impl, const char *path)
{
    struct simfs *fs = impl;
    struct simfs_inode *file = simfs_find(fs, path);
    if (file == NULL) return -ENOENT;
    int rv = simfs_dir_op(fs, SIMFS_DIR_UNLINK, (uint32_t)(file - fs->files), path);
    if (rv != 0) return rv;
    file->linked = false;
    simfs_collect(fs);
    return 0;
}

static int simfs_sync_dir(void *impl, const char *dir)
{
    struct simfs *fs = impl;
    (void)dir; /* one directory per file system in the simulator */
    return simfs_barrier(fs, true, 0, fs->dir_op_count);
}

static int simfs_make_dir(void *impl, const char *dir)
{
    (void)impl;
    (void)dir;
    return 0;
}

static int simfs_list_dir(void *impl, const char *dir, fileops_visit_fn visit, void *context)
{
    struct simfs *fs = impl;
    size_t dir_len = strlen(dir);
    for (int i = 0; i < SIMFS_FILES_MAX; i++) {
        const struct simfs_inode *f = &fs->files[i];
        if (!f->used || !f->linked || strncmp(f->name, dir, dir_len) != 0 ||
            f->name[dir_len] != '/')
            continue;
        int rv = visit(context, f->name + dir_len + 1);
        if (rv != 0) return rv;
    }
    return 0;
}

struct fileops simfs_fileops(struct simfs *fs)
{
    return (struct fileops){
        .impl = fs,
        .open = simfs_open,
        .close = simfs_close,
        .read = simfs_read,
        .write = simfs_write,
        .sync = simfs_sync,
        .size = simfs_size,
        .truncate = simfs_truncate,
        .allocate = simfs_allocate,
        .rename = simfs_rename,
        .remove = simfs_remove,
        .sync_dir = simfs_sync_dir,
        .make_dir = simfs_make_dir,
        .list_dir = simfs_list_dir,
    };
}

/* ---------------- durability ---------------- */

static int simfs_dir_op(struct simfs *fs, uint8_t kind, uint32_t inode, const char *name)
{
    if (fs->dir_op_count == SIMFS_PENDING_MAX) return -ENOSPC;
    struct simfs_dir_op *op = &fs->dir_ops[fs->dir_op_count++];
    op->kind = kind;
    op->inode = inode;
    op->epoch = fs->barrier_count;
    snprintf(op->name, sizeof(op->name), "%s", name);
    return 0;
}

/* Applies one directory operation to the durable namespace. */
static void simfs_dir_op_apply(struct simfs *fs, const struct simfs_dir_op *op)
{
    struct simfs_inode *file = &fs->files[op->inode];
    if (op->kind == SIMFS_DIR_UNLINK) {
        file->durable_linked = false;
        return;
    }
    for (int i = 0; i < SIMFS_FILES_MAX; i++) { /* a rename over an existing name */
        struct simfs_inode *other = &fs->files[i];
        if (other->used && other->durable_linked && strcmp(other->durable_name, op->name) == 0)
            other->durable_linked = false;
    }
    file->durable_linked = true;
    snprintf(file->durable_name, sizeof(file->durable_name), "%s", op->name);
}

/* Makes the first `count` pending dir ops durable. */
static void simfs_dir_ops_complete(struct simfs *fs, uint32_t count)
{
    assert(count <= fs->dir_op_count);
    for (uint32_t i = 0; i < count; i++) simfs_dir_op_apply(fs, &fs->dir_ops[i]);
    memmove(fs->dir_ops, fs->dir_ops + count, sizeof(fs->dir_ops[0]) * (fs->dir_op_count - count));
    fs->dir_op_count -= count;
    for (uint32_t b = 0; b < fs->barrier_count; b++) /* later dir barriers cover fewer now */
        if (fs->barriers[b].dir) fs->barriers[b].count -= fs->barriers[b].count < count
                                                              ? fs->barriers[b].count : count;
}

static void simfs_write_apply(struct simfs_inode *file, const struct simfs_write *w, uint64_t len)
{
    assert(len <= w->len && w->offset + w->len <= file->len);
    if (len > 0) memcpy(file->durable + w->offset, w->bytes, len);
}

/* Makes the first `count` pending writes of a file durable. */
static void simfs_writes_complete(struct simfs *fs, uint32_t inode, uint32_t count)
{
    struct simfs_inode *file = &fs->files[inode];
    if (count > file->write_count) count = file->write_count;
    for (uint32_t i = 0; i < count; i++)
        simfs_write_apply(file, &file->writes[i], file->writes[i].len);
    simfs_inode_forget_writes(file, count);
    for (uint32_t b = 0; b < fs->barrier_count; b++) {
        struct simfs_barrier *barrier = &fs->barriers[b];
        if (!barrier->dir && barrier->inode == inode)
            barrier->count -= barrier->count < count ? barrier->count : count;
    }
}

static void simfs_barrier_complete(struct simfs *fs, struct simfs_barrier barrier)
{
    if (barrier.dir)
        simfs_dir_ops_complete(fs, barrier.count);
    else if (fs->files[barrier.inode].used)
        simfs_writes_complete(fs, barrier.inode, barrier.count);
}

/* Completes the first `count` queued barriers, in order. */
static void simfs_barriers_complete(struct simfs *fs, uint32_t count)
{
    assert(count <= fs->barrier_count);
    for (uint32_t b = 0; b < count; b++) {
        struct simfs_barrier barrier = fs->barriers[0];
        memmove(fs->barriers, fs->barriers + 1, sizeof(fs->barriers[0]) * (fs->barrier_count - 1));
        fs->barrier_count--;
        simfs_barrier_complete(fs, barrier);
    }
}

static int simfs_barrier(struct simfs *fs, bool dir, uint32_t inode, uint32_t count)
{
    if (fs->barrier_count == SIMFS_PENDING_MAX) return -ENOSPC;
    fs->barriers[fs->barrier_count++] = (struct simfs_barrier){dir, inode, count};
    if (!fs->deferred) simfs_settle(fs);
    return 0;
}

void simfs_settle(struct simfs *fs)
{
    simfs_barriers_complete(fs, fs->barrier_count);
    for (uint32_t k = 0; k < fs->dir_op_count; k++) fs->dir_ops[k].epoch = 0;
    for (int i = 0; i < SIMFS_FILES_MAX; i++)
        for (uint32_t k = 0; k < fs->files[i].write_count; k++) fs->files[i].writes[k].epoch = 0;
    simfs_collect(fs);
}

void simfs_crash(struct simfs *fs, struct sim_rng *rng)
{
    uint32_t completed = (uint32_t)sim_rng_below(rng, fs->barrier_count + 1);
    fs->stats.barriers_lost += fs->barrier_count - completed;
    simfs_barriers_complete(fs, completed);
    fs->barrier_count = 0;
    /* The program was blocked in barrier `completed` (counted from the first queued one):
     * nothing it issued after that happened. */
    for (int i = 0; i < SIMFS_FILES_MAX; i++) {
        struct simfs_inode *file = &fs->files[i];
        if (!file->used) continue;
        for (uint32_t k = 0; k < file->write_count; k++) {
            const struct simfs_write *w = &file->writes[k];
            if (w->epoch > completed) {
                fs->stats.writes_never++;
                continue;
            }
            uint64_t roll = sim_rng_below(rng, 3);
            if (roll == 0 || w->len == 0) {
                fs->stats.writes_dropped++;
            } else if (roll == 1) {
                fs->stats.writes_kept++;
                simfs_write_apply(file, w, w->len);
            } else {
                fs->stats.writes_torn++; /* a prefix: what reached the platter before the cut */
                simfs_write_apply(file, w, sim_rng_below(rng, w->len));
            }
        }
        simfs_inode_forget_writes(file, file->write_count);
    }
    uint32_t issued = 0;
    while (issued < fs->dir_op_count && fs->dir_ops[issued].epoch <= completed) issued++;
    uint32_t kept = (uint32_t)sim_rng_below(rng, issued + 1);
    fs->stats.dir_ops_dropped += fs->dir_op_count - kept;
    for (uint32_t k = 0; k < kept; k++) simfs_dir_op_apply(fs, &fs->dir_ops[k]);
    fs->dir_op_count = 0;
    for (int h = 0; h < SIMFS_HANDLES_MAX; h++) fs->handles[h] = -1;
    for (int i = 0; i < SIMFS_FILES_MAX; i++) {
        struct simfs_inode *file = &fs->files[i];
        if (!file->used) continue;
        file->handles = 0;
        file->linked = file->durable_linked;
        snprintf(file->name, sizeof(file->name), "%s", file->durable_name);
        if (file->len > 0) memcpy(file->current, file->durable, file->len);
    }
    simfs_collect(fs);
}
