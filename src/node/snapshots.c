/*
 * snapshots.c — the node's snapshots: taking them, sending them, receiving them.
 *
 * Per group: every snapshot_entries applied entries the node copies the group's LMDB into
 * its snapshot directory (data-dir/snap/snapshot for group 0)
 * on the thread pool (a read transaction: applying goes on meanwhile). Then, in this order:
 * LMDB is synced (kv_sync: the WAL below the snapshot may go only once LMDB holds it durably),
 * the core is told (CN_EVENT_SNAPSHOT_TAKEN: it drops its log below), a snapshot marker joins
 * the next WAL batch, and once that batch is durable the WAL deletes the segments below
 * (drive.c). The same file is what followers behind the compaction receive, chunk by chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/membership.h"
#include "node/node_internal.h"

/* Taking a snapshot reads the group's store from its own LMDB read txn on a pool thread, and
 * installing one is a write txn on the loop thread (kv.h): the two need no lock, and the loop
 * never waits for a snapshot being written. take_done drops a snapshot taken from a state
 * older than one installed meanwhile. */
int node_snapshot_group_init(struct node_group *g)
{
    g->snapshot_file = malloc(sizeof(*g->snapshot_file));
    assert(g->snapshot_file != NULL);
    g->snapshot_file->fd = -1;
    return 0;
}

void node_snapshot_group_free(struct node_group *g)
{
    if (g->snapshot_file != NULL && g->snapshot_file->fd >= 0)
        kv_snapshot_close(g->snapshot_file);
    free(g->snapshot_file);
    g->snapshot_file = NULL;
}

static void snapshot_path(const struct node_group *g, char *path, size_t cap)
{
    snprintf(path, cap, "%s/snapshot", g->snapshot_dir);
}

/* Opens the newest snapshot file for sending, if there is one. */
/*
 * The configuration at the snapshot's index: the store's configuration blob, which the
 * snapshot file carries first (kv_snapshot.c: u32 length, then the blob, read in the same
 * transaction as the applied index), is the data of the latest CN_ENTRY_CONFIG applied at or
 * below it. A file without one (the configuration never changed) gets the voters in force.
 */
/* A core that derives the configuration at its compaction point itself (cn_ops
 * snapshot_members; Multi-Paxos, whose configuration there is the joint packed form while a
 * change chosen at or below it governs only later slots, src/paxos/membership.c): when that
 * point is the snapshot's index, its answer, since the store's blob holds only the latest
 * configuration applied. Returns false when the core cannot tell. */
static bool core_members_at(struct node_group *g, uint64_t index)
{
    if (g->node->ops->snapshot_members == NULL || g->core == NULL)
        return false;
    node_refresh_status(g);
    if (g->status.snapshot_index != index)
        return false;
    struct cn_members packed;
    g->node->ops->snapshot_members(g->core, &packed);
    if (packed.count == 0)
        return false;
    g->snapshot_members = packed;
    return true;
}

static void snapshot_read_members(struct node_group *g)
{
    static uint8_t head[4 + KV_CONFIG_BYTES_MAX];
    size_t len = 0;
    bool done = false;
    struct cn_membership membership;
    g->snapshot_members = g->status.members;
    if (kv_snapshot_read(g->snapshot_file, 0, head, sizeof(head), &len, &done) != KV_OK || len < 4)
        return;
    uint32_t blob = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                    (uint32_t)head[3] << 24;
    if (blob == 0 || blob > len - 4 || !cn_membership_decode(head + 4, blob, &membership))
        return;
    if (core_members_at(g, g->snapshot_file->meta.index))
        return;
    cn_membership_pack(&membership, &g->snapshot_members);
}

int node_snapshot_load_latest(struct node_group *g)
{
    char path[NODE_PATH_BYTES_MAX + 96];
    snapshot_path(g, path, sizeof(path));
    if (g->snapshot_file->fd >= 0)
        kv_snapshot_close(g->snapshot_file);
    g->snapshot_file->fd = -1;
    if (kv_snapshot_open(path, g->snapshot_file) != KV_OK) {
        g->snapshot_file->fd = -1;
        memset(&g->snapshot_latest, 0, sizeof(g->snapshot_latest));
        return -1;
    }
    g->snapshot_latest = g->snapshot_file->meta;
    snapshot_read_members(g);
    return 0;
}

static void take_work(uv_work_t *work)
{
    struct node_group *g = work->data;
    char path[NODE_PATH_BYTES_MAX + 96];
    snapshot_path(g, path, sizeof(path));
    g->snapshot_result = kv_snapshot_create(g->kv, path, &g->snapshot_taking);
}

static void take_done(uv_work_t *work, int status)
{
    struct node_group *g = work->data;
    struct node *node = g->node;
    assert(status == 0);
    g->snapshot_running = false;
    assert(node->snapshots_running > 0);
    node->snapshots_running--;
    if (node->stopping)
        return;
    if (g->snapshot_result != KV_OK) {
        node_log(node, NODE_LOG_WARN, "group %u: taking a snapshot failed: %s", g->id,
                 kv_last_error());
        return;
    }
    if (kv_sync(g->kv) != KV_OK)
        node_fatal(node, "syncing LMDB failed: %s", kv_last_error());
    node_snapshot_load_latest(g);
    uint64_t index = g->snapshot_taking.index;
    node->stats.snapshots_taken++;
    node_log(node, NODE_LOG_INFO, "group %u: snapshot taken at index %llu (%llu bytes)", g->id,
             (unsigned long long)index, (unsigned long long)g->snapshot_taking.file_bytes);
    node_refresh_status(g);
    if (index == 0 || index <= g->status.snapshot_index)
        return; /* a snapshot installed meanwhile is newer */
    node_step(g, &(struct cn_event){.type = CN_EVENT_SNAPSHOT_TAKEN, .index = index});
    core_members_at(g, index); /* the WAL marker and the chunks sent carry it */
    g->snapshot_pending_marker = index;
    g->snapshot_pending_term = g->snapshot_taking.term;
}

void node_snapshot_maybe_take(struct node_group *g)
{
    struct node *node = g->node;
    /* One snapshot at a time on the node: the thread pool also runs the WAL's fdatasync,
     * which must never wait behind several copies. */
    if (g->snapshot_running || node->snapshots_running > 0 || node->stopping ||
        node->config.snapshot_entries == 0)
        return;
    /* By entries, or earlier when the core's in-memory log reaches half its bound: past the
     * bound the core refuses proposals, and only a snapshot (compaction) frees it. */
    uint64_t log_bytes_max = node_group_log_bytes_max(node);
    bool by_entries =
        g->applied_index >= g->snapshot_latest.index + node->config.snapshot_entries;
    bool by_bytes = g->status.log_bytes >= log_bytes_max / 2 &&
                    g->applied_index > g->status.snapshot_index;
    if (!by_entries && !by_bytes)
        return;
    g->snapshot_running = true;
    node->snapshots_running++;
    g->snapshot_work.data = g;
    int rv = uv_queue_work(node->loop, &g->snapshot_work, take_work, take_done);
    assert(rv == 0);
}

void node_snapshot_fill_chunk(struct node_group *g, struct cn_message *m, uint8_t *buf,
                              size_t cap)
{
    struct kv_snapshot_file *file = g->snapshot_file;
    m->snapshot_chunk = NULL;
    if (file->fd < 0)
        return;
    size_t len = 0;
    bool done = false;
    if (m->snapshot_offset > file->meta.file_bytes)
        m->snapshot_offset = 0;
    if (kv_snapshot_read(file, m->snapshot_offset, buf, cap, &len, &done) != KV_OK)
        return;
    m->snapshot.index = file->meta.index;
    m->snapshot.term = file->meta.term;
    m->snapshot.members = g->snapshot_members;
    m->snapshot_chunk = buf;
    m->snapshot_chunk_len = (uint32_t)len;
    m->snapshot_done = done;
}

int node_snapshot_stage(struct node_group *g, const struct cn_update *u)
{
    return kv_snapshot_stage(g->kv, u->snapshot_chunk_offset, u->snapshot_chunk,
                             u->snapshot_chunk_len) == KV_OK ? 0 : -1;
}

int node_snapshot_install(struct node_group *g, const struct cn_update *u)
{
    struct node *node = g->node;
    struct kv_snapshot_meta meta;
    int rv = kv_snapshot_install_staged(g->kv, &meta);
    if (rv != KV_OK)
        return -1;
    if (meta.index != u->snapshot.index)
        node_log(node, NODE_LOG_WARN, "group %u: installed snapshot index %llu, expected %llu",
                 g->id, (unsigned long long)meta.index, (unsigned long long)u->snapshot.index);
    kv_applied(g->kv, &g->applied_index, &g->applied_term);
    node_requests_on_snapshot(g, g->applied_index);
    if (g == node_acl_group(node))
        node_acl_reload(node); /* the snapshot's users replace this node's */
    node_blocking_wake_all(g); /* pushes inside the snapshot named no key one by one */
    node->stats.snapshots_installed++;
    node_log(node, NODE_LOG_INFO, "group %u: snapshot installed at index %llu", g->id,
             (unsigned long long)meta.index);
    /* This node's own snapshot file, for its followers should it lead: take one now. */
    memset(&g->snapshot_latest, 0, sizeof(g->snapshot_latest));
    return 0;
}
