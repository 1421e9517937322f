/*
 * snapshots.c — the node's snapshots: taking them, sending them, receiving them.
 *
 * Every snapshot_entries applied entries the node copies LMDB into data-dir/snap/snapshot
 * on the thread pool (a read transaction: applying goes on meanwhile). Then, in this order:
 * LMDB is synced (kv_sync: the WAL below the snapshot may go only once LMDB holds it durably),
 * the core is told (CN_EVENT_SNAPSHOT_TAKEN: it drops its log below), a snapshot marker joins
 * the next WAL batch, and once that batch is durable the WAL deletes the segments below
 * (drive.c). The same file is what followers behind the compaction receive, chunk by chunk.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "node/node_internal.h"

static struct kv_snapshot_file snapshot_file = {.fd = -1};
/* Taking a snapshot reads the kv on a pool thread; installing one replaces it, which no
 * other thread may see half done (kv.h): the two exclude each other. */
static pthread_mutex_t snapshot_kv_lock = PTHREAD_MUTEX_INITIALIZER;

static void snapshot_path(const struct node *node, char *path, size_t cap)
{
    snprintf(path, cap, "%s/snapshot", node->snapshot_dir);
}

/* Opens the newest snapshot file for sending, if there is one. */
int node_snapshot_load_latest(struct node *node)
{
    char path[NODE_PATH_BYTES_MAX + 32];
    snapshot_path(node, path, sizeof(path));
    if (snapshot_file.fd >= 0)
        kv_snapshot_close(&snapshot_file);
    snapshot_file.fd = -1;
    if (kv_snapshot_open(path, &snapshot_file) != KV_OK) {
        snapshot_file.fd = -1;
        memset(&node->snapshot_latest, 0, sizeof(node->snapshot_latest));
        return -1;
    }
    node->snapshot_latest = snapshot_file.meta;
    return 0;
}

static void take_work(uv_work_t *work)
{
    struct node *node = work->data;
    char path[NODE_PATH_BYTES_MAX + 32];
    snapshot_path(node, path, sizeof(path));
    pthread_mutex_lock(&snapshot_kv_lock);
    node->snapshot_result = kv_snapshot_create(node->kv, path, &node->snapshot_taking);
    pthread_mutex_unlock(&snapshot_kv_lock);
}

static void take_done(uv_work_t *work, int status)
{
    struct node *node = work->data;
    assert(status == 0);
    node->snapshot_running = false;
    if (node->stopping)
        return;
    if (node->snapshot_result != KV_OK) {
        node_log(node, NODE_LOG_WARN, "taking a snapshot failed: %s", kv_last_error());
        return;
    }
    if (kv_sync(node->kv) != KV_OK)
        node_fatal(node, "syncing LMDB failed: %s", kv_last_error());
    node_snapshot_load_latest(node);
    uint64_t index = node->snapshot_taking.index;
    node->stats.snapshots_taken++;
    node_log(node, NODE_LOG_INFO, "snapshot taken at index %llu (%llu bytes)",
             (unsigned long long)index, (unsigned long long)node->snapshot_taking.file_bytes);
    node_refresh_status(node);
    if (index == 0 || index <= node->status.snapshot_index)
        return; /* a snapshot installed meanwhile is newer */
    node_step(node, &(struct cn_event){.type = CN_EVENT_SNAPSHOT_TAKEN, .index = index});
    node->snapshot_pending_marker = index;
    node->snapshot_pending_term = node->snapshot_taking.term;
}

void node_snapshot_maybe_take(struct node *node)
{
    if (node->snapshot_running || node->stopping || node->config.snapshot_entries == 0)
        return;
    /* By entries, or earlier when the core's in-memory log reaches half its bound: past the
     * bound the core refuses proposals, and only a snapshot (compaction) frees it. */
    bool by_entries =
        node->applied_index >= node->snapshot_latest.index + node->config.snapshot_entries;
    bool by_bytes = node->status.log_bytes >= node->config.log_cache_bytes_max / 2 &&
                    node->applied_index > node->status.snapshot_index;
    if (!by_entries && !by_bytes)
        return;
    node->snapshot_running = true;
    node->snapshot_work.data = node;
    int rv = uv_queue_work(node->loop, &node->snapshot_work, take_work, take_done);
    assert(rv == 0);
}

void node_snapshot_fill_chunk(struct node *node, struct cn_message *m, uint8_t *buf, size_t cap)
{
    m->snapshot_chunk = NULL;
    if (snapshot_file.fd < 0)
        return;
    size_t len = 0;
    bool done = false;
    if (m->snapshot_offset > snapshot_file.meta.file_bytes)
        m->snapshot_offset = 0;
    if (kv_snapshot_read(&snapshot_file, m->snapshot_offset, buf, cap, &len, &done) != KV_OK)
        return;
    m->snapshot.index = snapshot_file.meta.index;
    m->snapshot.term = snapshot_file.meta.term;
    m->snapshot.members = node->status.members;
    m->snapshot_chunk = buf;
    m->snapshot_chunk_len = (uint32_t)len;
    m->snapshot_done = done;
}

int node_snapshot_stage(struct node *node, const struct cn_update *u)
{
    return kv_snapshot_stage(node->kv, u->snapshot_chunk_offset, u->snapshot_chunk,
                             u->snapshot_chunk_len) == KV_OK ? 0 : -1;
}

int node_snapshot_install(struct node *node, const struct cn_update *u)
{
    struct kv_snapshot_meta meta;
    pthread_mutex_lock(&snapshot_kv_lock);
    int rv = kv_snapshot_install_staged(node->kv, &meta);
    pthread_mutex_unlock(&snapshot_kv_lock);
    if (rv != KV_OK)
        return -1;
    if (meta.index != u->snapshot.index)
        node_log(node, NODE_LOG_WARN, "installed snapshot index %llu, expected %llu",
                 (unsigned long long)meta.index, (unsigned long long)u->snapshot.index);
    kv_applied(node->kv, &node->applied_index, &node->applied_term);
    node->stats.snapshots_installed++;
    node_log(node, NODE_LOG_INFO, "snapshot installed at index %llu",
             (unsigned long long)meta.index);
    /* This node's own snapshot file, for its followers should it lead: take one now. */
    memset(&node->snapshot_latest, 0, sizeof(node->snapshot_latest));
    return 0;
}
