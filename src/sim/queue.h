/*
 * queue.h — the simulator's event queue: a binary min-heap ordered by virtual time.
 *
 * Ties are broken by insertion order (a sequence number), so that a run is a pure function of
 * its seed: two events due at the same microsecond always fire in the order they were scheduled.
 * Push and pop are O(log n); the capacity is fixed at creation (a named bound, never grown), and
 * a push into a full queue is refused so that the caller decides what to lose (a message).
 */
#ifndef CHORUS_SIM_QUEUE_H
#define CHORUS_SIM_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

enum { SIM_QUEUE_EVENTS_MAX = 1u << 18 };

struct sim_event {
    int64_t time_us;
    uint64_t seq;   /* insertion order; assigned by sim_queue_push */
    uint16_t kind;  /* the driver's own event kinds */
    uint32_t a;     /* kind-specific: usually a node or client index */
    uint64_t b;     /* kind-specific: usually an incarnation or operation number */
    void *ptr;      /* kind-specific: an in-flight message */
};

struct sim_queue {
    struct sim_event *heap;
    uint32_t count;
    uint32_t capacity;
    uint64_t seq_next;
};

/* Returns 0, or -1 when memory ran out. capacity <= SIM_QUEUE_EVENTS_MAX. */
int sim_queue_init(struct sim_queue *queue, uint32_t capacity);
void sim_queue_free(struct sim_queue *queue);
/* Empties the queue (the events' pointers are the caller's to release first). */
void sim_queue_clear(struct sim_queue *queue);
/* Adds a copy of `event` (its seq is overwritten). Returns false when the queue is full. */
bool sim_queue_push(struct sim_queue *queue, const struct sim_event *event);
/* Removes the earliest event into `event`. Returns false when the queue is empty. */
bool sim_queue_pop(struct sim_queue *queue, struct sim_event *event);
/* The earliest event without removing it, or NULL. */
const struct sim_event *sim_queue_peek(const struct sim_queue *queue);

#endif
