/*
 * kv_replay.c — the applies in an environment's open write txn, kept so that they can be done
 * again (kv_internal.h, struct kv_replay).
 *
 * Why: the environment's map is opened with MDB_WRITEMAP (LMDB writes into the mapped file
 * instead of copying every dirty page out of malloc'd memory, about three times the puts per
 * CPU-second: bench/kv_bench), and LMDB forbids nested txns in such an environment. Without
 * them one entry that must leave no trace (the map filled up in the middle of it, a hashed
 * key collided, WRONGTYPE after a first write) can only be rolled back by aborting the whole
 * txn, which also holds every other store's applies since the last commit. Those are done
 * again from this record, in the same order, on the same starting state, so they write the
 * same records: applying is deterministic (kv.h). The failing entry is "poisoned": when its
 * turn comes again it is answered with its error and writes nothing.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "storage/kv_internal.h"

/* Grows *array to hold `need` elements of `size` bytes, at most `max`; false when that would
 * pass the bound or memory ran out. */
static bool kv_replay_reserve(void **array, size_t *cap, size_t need, size_t size, size_t max)
{
    if (need <= *cap) {
        return true;
    }
    if (need > max) {
        return false;
    }
    size_t next = *cap == 0 ? 64 : *cap;
    while (next < need) {
        next *= 2;
    }
    if (next > max) {
        next = max;
    }
    void *grown = realloc(*array, next * size);
    if (grown == NULL) {
        return false;
    }
    *array = grown;
    *cap = next;
    return true;
}

bool kv_replay_record(struct kv_replay *replay, struct kv *kv,
                      const struct kv_apply_item *items, size_t count,
                      uint64_t applied_index_before, uint64_t applied_term_before)
{
    assert(count > 0);
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        bytes += items[i].data_len;
    }
    if (!kv_replay_reserve((void **)&replay->runs, &replay->run_cap, replay->run_count + 1,
                           sizeof *replay->runs, KV_REPLAY_RUNS_MAX) ||
        !kv_replay_reserve((void **)&replay->items, &replay->item_cap,
                           replay->item_count + count, sizeof *replay->items,
                           KV_REPLAY_ITEMS_MAX) ||
        !kv_replay_reserve((void **)&replay->bytes, &replay->byte_cap,
                           replay->byte_count + bytes, 1, KV_REPLAY_BYTES_MAX)) {
        return false;
    }
    /* The items point into the bytes, which may move when they grow: offsets until the
     * run is read back (kv_replay_item). */
    struct kv_replay_run *run = &replay->runs[replay->run_count++];
    *run = (struct kv_replay_run){.kv = kv, .item_first = replay->item_count,
                                  .item_count = count,
                                  .applied_index_before = applied_index_before,
                                  .applied_term_before = applied_term_before};
    for (size_t i = 0; i < count; i++) {
        struct kv_apply_item *copy = &replay->items[replay->item_count++];
        *copy = items[i];
        copy->data = (const uint8_t *)(uintptr_t)replay->byte_count;
        if (items[i].data_len > 0) {
            memcpy(replay->bytes + replay->byte_count, items[i].data, items[i].data_len);
        }
        replay->byte_count += items[i].data_len;
    }
    return true;
}

struct kv_apply_item kv_replay_item(const struct kv_replay *replay, const struct kv_replay_run *run,
                                    size_t i)
{
    assert(i < run->item_count);
    struct kv_apply_item item = replay->items[run->item_first + i];
    item.data = replay->bytes + (uintptr_t)item.data;
    return item;
}

bool kv_replay_poison(struct kv_replay *replay, const struct kv *kv, uint64_t index, int rc)
{
    assert(!kv_replay_poisoned(replay, kv, index, NULL));
    if (!kv_replay_reserve((void **)&replay->poisons, &replay->poison_cap,
                           replay->poison_count + 1, sizeof *replay->poisons,
                           KV_REPLAY_POISONS_MAX)) {
        return false;
    }
    replay->poisons[replay->poison_count++] = (struct kv_replay_poison){kv, index, rc};
    return true;
}

bool kv_replay_poisoned(const struct kv_replay *replay, const struct kv *kv, uint64_t index,
                        int *rc)
{
    for (size_t i = 0; i < replay->poison_count; i++) {
        if (replay->poisons[i].kv == kv && replay->poisons[i].index == index) {
            if (rc != NULL) {
                *rc = replay->poisons[i].rc;
            }
            return true;
        }
    }
    return false;
}

void kv_replay_clear(struct kv_replay *replay)
{
    replay->run_count = 0;
    replay->item_count = 0;
    replay->byte_count = 0;
    replay->poison_count = 0;
}

void kv_replay_free(struct kv_replay *replay)
{
    free(replay->runs);
    free(replay->items);
    free(replay->bytes);
    free(replay->poisons);
    *replay = (struct kv_replay){0};
}
