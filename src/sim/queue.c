/* queue.c — binary min-heap of simulator events, by (time_us, seq). */
#include "sim/queue.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int sim_queue_init(struct sim_queue *queue, uint32_t capacity)
{
    assert(capacity > 0 && capacity <= SIM_QUEUE_EVENTS_MAX);
    memset(queue, 0, sizeof(*queue));
    queue->heap = malloc(sizeof(*queue->heap) * capacity);
    if (queue->heap == NULL) return -1;
    queue->capacity = capacity;
    return 0;
}

void sim_queue_free(struct sim_queue *queue)
{
    free(queue->heap);
    memset(queue, 0, sizeof(*queue));
}

void sim_queue_clear(struct sim_queue *queue)
{
    queue->count = 0;
    queue->seq_next = 0;
}

static bool sim_queue_before(const struct sim_event *x, const struct sim_event *y)
{
    if (x->time_us != y->time_us) return x->time_us < y->time_us;
    return x->seq < y->seq;
}

bool sim_queue_push(struct sim_queue *queue, const struct sim_event *event)
{
    if (queue->count == queue->capacity) return false;
    struct sim_event item = *event;
    item.seq = queue->seq_next++;
    uint32_t i = queue->count++;
    /* Sift up: the loop runs at most log2(capacity) times. */
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!sim_queue_before(&item, &queue->heap[parent])) break;
        queue->heap[i] = queue->heap[parent];
        i = parent;
    }
    queue->heap[i] = item;
    return true;
}

bool sim_queue_pop(struct sim_queue *queue, struct sim_event *event)
{
    if (queue->count == 0) return false;
    *event = queue->heap[0];
    struct sim_event last = queue->heap[--queue->count];
    uint32_t n = queue->count, i = 0;
    /* Sift down the former last element from the root: at most log2(capacity) levels. */
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && sim_queue_before(&queue->heap[child + 1], &queue->heap[child]))
            child++;
        if (!sim_queue_before(&queue->heap[child], &last)) break;
        queue->heap[i] = queue->heap[child];
        i = child;
    }
    if (n > 0) queue->heap[i] = last;
    return true;
}

const struct sim_event *sim_queue_peek(const struct sim_queue *queue)
{
    return queue->count > 0 ? &queue->heap[0] : NULL;
}
