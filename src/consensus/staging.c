/*
 * staging.c — receiving a snapshot in chunks (staging.h gives the protocol).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/staging.h"

void cn_staging_init(struct cn_staging *staging)
{
    memset(staging, 0, sizeof(*staging));
    staging->buffers[0] = malloc(CN_SNAPSHOT_CHUNK_BYTES_MAX);
    staging->buffers[1] = malloc(CN_SNAPSHOT_CHUNK_BYTES_MAX);
    assert(staging->buffers[0] != NULL && staging->buffers[1] != NULL);
}

void cn_staging_free(struct cn_staging *staging)
{
    free(staging->buffers[0]);
    free(staging->buffers[1]);
    staging->buffers[0] = staging->buffers[1] = NULL;
}

enum cn_staging_verdict cn_staging_accept(struct cn_staging *staging, const struct cn_message *m,
                                          uint32_t pending, uint64_t *want)
{
    assert(pending < 2);
    assert(m->snapshot_chunk_len <= CN_SNAPSHOT_CHUNK_BYTES_MAX);
    const struct cn_snapshot_meta *meta = &m->snapshot;
    bool busy = staging->chunk_pending || staging->install_pending;
    if (m->snapshot_offset == 0 && !busy) {
        staging->meta = *meta;
        staging->offset = 0;
        staging->active = true;
    }
    bool same = staging->active && meta->index == staging->meta.index;
    if (!same || m->snapshot_offset != staging->offset || busy) {
        *want = same ? staging->offset : 0;
        return CN_STAGING_REFUSED;
    }
    if (m->snapshot_chunk_len > 0)
        memcpy(staging->buffers[pending], m->snapshot_chunk, m->snapshot_chunk_len);
    staging->chunk_len = m->snapshot_chunk_len;
    staging->chunk_offset = m->snapshot_offset;
    staging->chunk_pending = true;
    staging->offset += m->snapshot_chunk_len;
    *want = staging->offset;
    return m->snapshot_done ? CN_STAGING_DONE : CN_STAGING_MORE;
}

void cn_staging_fill(struct cn_staging *staging, struct cn_update *u, uint32_t pending)
{
    staging->handed_install = false;
    if (staging->chunk_pending) {
        u->snapshot = staging->meta;
        u->snapshot_chunk = staging->buffers[pending];
        u->snapshot_chunk_len = staging->chunk_len;
        u->snapshot_chunk_offset = staging->chunk_offset;
        staging->chunk_pending = false;
    }
    if (staging->install_pending) {
        u->snapshot_present = true;
        u->snapshot = staging->meta;
        staging->handed_install = true;
        staging->handed_meta = staging->meta;
        staging->install_pending = false;
    }
}
