/*
 * staging.h — receiving a snapshot in chunks, the follower's side both cores share.
 *
 * A leader sends its snapshot one chunk at a time, in order (stop-and-wait). The receiver
 * copies each chunk it accepts into the buffer of the pending outbox and hands it to its
 * driver in the next update (consensus.h rule 2: write the chunk to the staging copy); the
 * last chunk also asks the driver to install the staged snapshot atomically, in the same
 * update. A chunk that arrives while one is still waiting to be handed out, or out of order,
 * is refused with the offset the receiver wants next. Two buffers of
 * CN_SNAPSHOT_CHUNK_BYTES_MAX, one per outbox, bound the memory.
 */
#ifndef CHORUS_CONSENSUS_STAGING_H
#define CHORUS_CONSENSUS_STAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

struct cn_staging {
    struct cn_snapshot_meta meta; /* the snapshot being staged */
    uint64_t offset;              /* next offset expected */
    bool active;
    uint8_t *buffers[2];          /* the pending outbox's copy of a chunk, and the handed one */
    uint32_t chunk_len;
    uint64_t chunk_offset;
    bool chunk_pending;           /* a chunk waits for the next update */
    bool install_pending;         /* the staged snapshot completes in the next update */
    bool handed_install;          /* the outstanding update installs `handed_meta` */
    struct cn_snapshot_meta handed_meta;
};

enum cn_staging_verdict {
    CN_STAGING_REFUSED = 0, /* out of order or busy: answer with *want as the next offset */
    CN_STAGING_MORE = 1,    /* accepted; the snapshot goes on from staging->offset */
    CN_STAGING_DONE = 2,    /* accepted, and it was the last chunk: finish the install */
};

void cn_staging_init(struct cn_staging *staging);
void cn_staging_free(struct cn_staging *staging);
/* Takes chunk `m` (its meta already validated) into buffer `pending` (the pending outbox). */
enum cn_staging_verdict cn_staging_accept(struct cn_staging *staging, const struct cn_message *m,
                                          uint32_t pending, uint64_t *want);
/* Whether the next update has a chunk or an install to hand out. */
static inline bool cn_staging_has_update(const struct cn_staging *staging)
{
    return staging->chunk_pending || staging->install_pending;
}
/* Hands the pending chunk and install (if any) to update `u` (rule 2). */
void cn_staging_fill(struct cn_staging *staging, struct cn_update *u, uint32_t pending);

#endif
