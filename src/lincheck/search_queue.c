/*
 * search_queue.c — the states of a list used as a queue, interned so that the search can hold
 * one in a struct lincheck_value.
 *
 * The search keeps a model state in one small value and compares states by equality of that
 * value (the cache of visited states relies on it). A queue is a sequence, so every sequence
 * the search reaches is stored once in a table (hash-consing) and the state holds its id: equal
 * ids are equal sequences. The empty queue is the absent value, as an empty list is an absent
 * key in Redis. Every sequence is kept until the search ends; its memory counts in the search's
 * (the budget bounds it like the cache).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/search_internal.h"

enum { SEARCH_QUEUE_SLOTS_MIN = 256 };

static uint64_t search_queue_hash(const struct lincheck_value *elements, uint32_t length)
{
    uint64_t hash = search_mix(length);
    for (uint32_t i = 0; i < length; i++)
        hash = search_mix(hash ^ search_state_hash(elements[i]));
    return hash;
}

static int search_queue_grow_slots(struct search *s)
{
    struct search_queues *q = &s->queues;
    uint32_t slot_count = q->slot_count ? q->slot_count * 2 : SEARCH_QUEUE_SLOTS_MIN;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL) return -1;
    for (uint32_t id = 0; id < q->count; id++) {
        uint32_t slot = (uint32_t)q->entries[id].hash & (slot_count - 1);
        while (slots[slot] != 0) slot = (slot + 1) & (slot_count - 1); /* at most half full */
        slots[slot] = id + 1;
    }
    s->memory_bytes += (uint64_t)(slot_count - q->slot_count) * sizeof(*slots);
    free(q->slots);
    q->slots = slots;
    q->slot_count = slot_count;
    return 0;
}

static int search_queue_reserve(struct search *s, uint32_t length)
{
    struct search_queues *q = &s->queues;
    if (q->count == q->capacity) {
        uint32_t capacity = q->capacity ? q->capacity * 2 : 64;
        struct search_queue_entry *entries = realloc(q->entries, capacity * sizeof(*entries));
        if (entries == NULL) return -1;
        s->memory_bytes += (uint64_t)(capacity - q->capacity) * sizeof(*entries);
        q->entries = entries;
        q->capacity = capacity;
    }
    if (q->arena_used + length > q->arena_capacity) {
        uint64_t capacity = q->arena_capacity ? q->arena_capacity : 1024;
        while (capacity < q->arena_used + length) capacity *= 2;
        struct lincheck_value *arena = realloc(q->arena, capacity * sizeof(*arena));
        if (arena == NULL) return -1;
        s->memory_bytes += (capacity - q->arena_capacity) * sizeof(*arena);
        q->arena = arena;
        q->arena_capacity = capacity;
    }
    if ((q->count + 1) * 2 > q->slot_count && search_queue_grow_slots(s) != 0) return -1;
    return 0;
}

/* The state of the sequence elements[0..length): absent when empty, else its id (added when
 * new). Sets s->queues.failed and returns the absent value when memory runs out; the search
 * then gives up (unknown), never a verdict. */
static struct lincheck_value search_queue_intern(struct search *s,
                                                 const struct lincheck_value *elements,
                                                 uint32_t length)
{
    struct search_queues *q = &s->queues;
    struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    if (length == 0) return absent;
    if (search_queue_reserve(s, length) != 0) {
        q->failed = true;
        return absent;
    }
    uint64_t hash = search_queue_hash(elements, length);
    uint32_t mask = q->slot_count - 1, slot = (uint32_t)hash & mask;
    while (q->slots[slot] != 0) { /* bounded: the table is at most half full */
        const struct search_queue_entry *entry = &q->entries[q->slots[slot] - 1];
        if (entry->hash == hash && entry->length == length &&
            memcmp(&q->arena[entry->offset], elements, length * sizeof(*elements)) == 0)
            return (struct lincheck_value){ .payload = q->slots[slot] - 1,
                                            .tag = LINCHECK_VALUE_QUEUE };
        slot = (slot + 1) & mask;
    }
    uint32_t id = q->count++;
    /* elements is a copy of the caller's (search_queue_push, _pop), never the arena itself,
     * which search_queue_reserve may have moved */
    memcpy(&q->arena[q->arena_used], elements, length * sizeof(*elements));
    q->entries[id] = (struct search_queue_entry){ .hash = hash, .offset = q->arena_used,
                                                  .length = length };
    q->arena_used += length;
    q->slots[slot] = id + 1;
    return (struct lincheck_value){ .payload = id, .tag = LINCHECK_VALUE_QUEUE };
}

uint32_t search_queue_length(const struct search *s, struct lincheck_value state)
{
    if (state.tag == LINCHECK_VALUE_ABSENT) return 0;
    assert(state.tag == LINCHECK_VALUE_QUEUE);
    assert((uint64_t)state.payload < s->queues.count);
    return s->queues.entries[state.payload].length;
}

struct lincheck_value search_queue_head(const struct search *s, struct lincheck_value state)
{
    assert(state.tag == LINCHECK_VALUE_QUEUE);
    const struct search_queue_entry *entry = &s->queues.entries[state.payload];
    return s->queues.arena[entry->offset];
}

struct lincheck_value search_queue_push(struct search *s, struct lincheck_value state,
                                        struct lincheck_value element)
{
    uint32_t length = search_queue_length(s, state);
    struct lincheck_value *elements = malloc(((size_t)length + 1) * sizeof(*elements));
    if (elements == NULL) {
        s->queues.failed = true;
        return state;
    }
    if (length > 0)
        memcpy(elements, &s->queues.arena[s->queues.entries[state.payload].offset],
               length * sizeof(*elements));
    elements[length] = element;
    struct lincheck_value next = search_queue_intern(s, elements, length + 1);
    free(elements);
    return next;
}

struct lincheck_value search_queue_pop(struct search *s, struct lincheck_value state)
{
    uint32_t length = search_queue_length(s, state);
    assert(length > 0);
    const struct search_queue_entry *entry = &s->queues.entries[state.payload];
    if (length == 1) return (struct lincheck_value){ 0, LINCHECK_VALUE_ABSENT };
    /* the tail lies in the arena: copy it out first, interning may move the arena */
    size_t bytes = (size_t)(length - 1) * sizeof(struct lincheck_value);
    struct lincheck_value *tail = malloc(bytes);
    if (tail == NULL) {
        s->queues.failed = true;
        return state;
    }
    memcpy(tail, &s->queues.arena[entry->offset + 1], bytes);
    struct lincheck_value next = search_queue_intern(s, tail, length - 1);
    free(tail);
    return next;
}

void search_queues_free(struct search *s)
{
    free(s->queues.entries);
    free(s->queues.arena);
    free(s->queues.slots);
    memset(&s->queues, 0, sizeof(s->queues));
}
