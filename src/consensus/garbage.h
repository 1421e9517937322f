/*
 * garbage.h — deferred freeing of entry data blocks, the rule both cores share.
 *
 * A core's log owns its entries' data. An update hands the driver pointers to those blocks
 * (entries to persist, committed entries, appends), valid until cn_ack_update. A block that
 * leaves the log meanwhile (truncation, compaction, a slot overwritten) may still be referenced
 * by the update being built or by the one outstanding, so it goes to `next`; when an update is
 * taken, `next` becomes `handed` (everything released before that update may be referenced by
 * it), and `handed` is freed at that update's ack. Each list is bounded by the blocks one log
 * can release between two acks, that is by the log's own bound (cn_config.log_bytes_max).
 */
#ifndef CHORUS_CONSENSUS_GARBAGE_H
#define CHORUS_CONSENSUS_GARBAGE_H

#include <stdint.h>

struct cn_garbage_list {
    void **blocks;
    uint32_t count;
    uint32_t capacity;
};

struct cn_garbage {
    struct cn_garbage_list next;   /* released since the last update was taken */
    struct cn_garbage_list handed; /* released before the outstanding update was taken */
};

/* Queues `block` (NULL is ignored) to be freed after the ack of the next update taken. */
void cn_garbage_add(struct cn_garbage *garbage, void *block);
/* An update is being taken: what was released so far may be referenced by it. */
void cn_garbage_hand(struct cn_garbage *garbage);
/* The outstanding update was acked: nothing references its blocks any more. */
void cn_garbage_release(struct cn_garbage *garbage);
/* Frees every block and the lists themselves (the core is being destroyed). */
void cn_garbage_destroy(struct cn_garbage *garbage);

#endif
