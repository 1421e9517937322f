/*
 * kv_zset.h — what kv_zset_index.c (a sorted set's records: its members, its score index and
 * the index's block counts) gives kv_zset.c (the sorted set commands). Not for other modules.
 * The layout is described at the top of kv_zset.c.
 */
#ifndef CHORUS_KV_ZSET_H
#define CHORUS_KV_ZSET_H

#include "storage/kv_coll.h"

enum {
    ZSET_BLOCK = 512,                           /* a split block's size */
    ZSET_BLOCK_MAX = 2 * ZSET_BLOCK,            /* a block larger than this splits */
    ZSET_BLOCK_MERGE = ZSET_BLOCK / 4,          /* one smaller takes in its successor */
    /* The first block's key: the block id and 8 zero bytes, below every other block's (an
     * index key's score, never 0 in the order encoding, and member), and where the elements
     * DB's walks of an id (COPY, the trash's reclaim) start. */
    ZSET_FIRST_BLOCK_BYTES = 2 * KV_ELEM_ID_BYTES,
    ZSET_PREFIX_BYTES = 2 * KV_ELEM_ID_BYTES,   /* index id + score */
    ZSET_INLINE_BYTES = 476,                    /* member bytes in an index key */
    ZSET_HASH_BYTES = 8,
    ZSET_LONG_KEY_BYTES = ZSET_PREFIX_BYTES + ZSET_INLINE_BYTES + ZSET_HASH_BYTES,
    ZSET_SCORE_BYTES = 8,
    ZSET_SCORE_TEXT_BYTES = 32,
};
_Static_assert((int)ZSET_LONG_KEY_BYTES == (int)KV_ENCODED_KEY_BYTES_MAX,
               "a long member's index key fits");
_Static_assert(ZSET_PREFIX_BYTES + ZSET_INLINE_BYTES < ZSET_LONG_KEY_BYTES,
               "a short member's index key is shorter than a long one's");

/* A walk over a sorted set's score index, in score order (or back). */
struct kv_zset_iter {
    struct kv_ctx *ctx;
    MDB_cursor *cursor;
    uint64_t id;              /* the collection's id (not the index id) */
    bool valid;               /* on an index record of this set */
    struct kv_bytes member;   /* borrowed from the txn */
    double score;
    MDB_val key;              /* the index record's key, borrowed from the txn */
};

/* The index key of (score, member) into key[ZSET_LONG_KEY_BYTES]; its length. `seek` builds
 * the smallest key of that score and member prefix, to position a walk. */
size_t kv_zset_index_key(uint64_t id, double score, const struct kv_bytes *member, bool seek,
                         uint8_t *key);
int kv_zset_iter_open(struct kv_zset_iter *it, struct kv_ctx *ctx, uint64_t id);
void kv_zset_iter_close(struct kv_zset_iter *it);
/* Positions on the first record >= seek, or (before) on the last record < seek. */
int kv_zset_iter_position(struct kv_zset_iter *it, const uint8_t *seek, size_t len, bool before);
int kv_zset_iter_first(struct kv_zset_iter *it);
int kv_zset_iter_last(struct kv_zset_iter *it);
/* One step towards higher scores, or lower (reverse). */
int kv_zset_iter_step(struct kv_zset_iter *it, bool reverse);
/* The first element of score >= s (after: > s), or (before) the last one below it. */
int kv_zset_iter_seek_score(struct kv_zset_iter *it, double s, bool after, bool before);
/* The element of rank `rank` from the lowest (from the highest when reverse). */
int kv_zset_iter_seek_rank(struct kv_zset_iter *it, uint64_t count, uint64_t rank, bool reverse);

/* A member's score, *found false when absent. */
int kv_zset_score_get(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member,
                      bool *found, double *score);
/* A member's record and index entry, without their block count (kv_zset_blocks_build). */
int kv_zset_put_records(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member,
                        double score);
/* Sets member's score (had: it was in the set with score `old`), block counts included. */
int kv_zset_write(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member, bool had,
                  double old, double score);
int kv_zset_remove(struct kv_ctx *ctx, uint64_t id, const struct kv_bytes *member, double score);
/* Saves the metadata after a change; an emptied set's first block goes with it. */
int kv_zset_save(struct kv_ctx *ctx, struct kv_key_info *info);
/* A new set's first block count, before its first kv_zset_write. */
int kv_zset_blocks_init(struct kv_ctx *ctx, uint64_t id);
/* The block counts of a set of `count` members written by kv_zset_put_records alone. */
int kv_zset_blocks_build(struct kv_ctx *ctx, uint64_t id, uint64_t count);
/* A member's rank (from the lowest score); the member must be in the set. */
int kv_zset_rank(struct kv_ctx *ctx, const struct kv_coll_meta *meta,
                 const struct kv_bytes *member, double score, uint64_t *rank);

#endif
