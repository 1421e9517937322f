/*
 * garbage.c — deferred freeing of entry data blocks (garbage.h gives the rule).
 */
#include <assert.h>
#include <stdlib.h>

#include "consensus/garbage.h"

void cn_garbage_add(struct cn_garbage *garbage, void *block)
{
    if (block == NULL)
        return;
    struct cn_garbage_list *g = &garbage->next;
    if (g->count == g->capacity) {
        g->capacity = g->capacity ? g->capacity * 2 : 64;
        g->blocks = realloc(g->blocks, g->capacity * sizeof(*g->blocks));
        assert(g->blocks != NULL);
    }
    g->blocks[g->count++] = block;
}

static void list_free_blocks(struct cn_garbage_list *g)
{
    for (uint32_t i = 0; i < g->count; i++)
        free(g->blocks[i]);
    g->count = 0;
}

void cn_garbage_hand(struct cn_garbage *garbage)
{
    /* The previous update was acked before this one is taken, so `handed` is empty. */
    assert(garbage->handed.count == 0);
    struct cn_garbage_list swap = garbage->handed;
    garbage->handed = garbage->next;
    garbage->next = swap;
    assert(garbage->next.count == 0);
}

void cn_garbage_release(struct cn_garbage *garbage) { list_free_blocks(&garbage->handed); }

void cn_garbage_destroy(struct cn_garbage *garbage)
{
    list_free_blocks(&garbage->next);
    list_free_blocks(&garbage->handed);
    free(garbage->next.blocks);
    free(garbage->handed.blocks);
    garbage->next = (struct cn_garbage_list){0};
    garbage->handed = (struct cn_garbage_list){0};
}
