/*
 * search_cache.c — the states the search has visited.
 *
 * The set of linearized operations is a bitset; the operations with a return (required or
 * relaxed) get bits 0..known_count-1 in call order and the unknown ones the words after. The
 * cache stores it compressed: the index of the first word not yet full, then the words up to
 * the last non-zero one of each region. Since calls are linearized roughly in call order, a
 * state costs a few words however long the history is. Its hash is kept incrementally (one
 * random number per operation, xor-ed in and out), so each step costs O(1) besides the rare
 * comparisons.
 *
 * Besides exact matches, a state is pruned when one that failed had the same known set and
 * value and a subset of its unknown-outcome operations (search_dominated).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/search_internal.h"

/* Would growing by `bytes` take the search past its memory budget? Then it does not grow, and
 * the search ends "unknown" (memory) instead of overshooting the bound by a doubling. */
static bool search_grow_too_much(const struct search *s, uint64_t bytes)
{
    return s->memory_bytes_max != 0 && s->memory_bytes + bytes > s->memory_bytes_max;
}

static uint64_t search_word_full(const struct search *s, uint32_t word)
{
    uint32_t valid = s->known_count - word * 64;
    return valid >= 64 ? UINT64_MAX : (UINT64_C(1) << valid) - 1;
}

void search_bit_set(struct search *s, uint32_t bit)
{
    uint32_t word = bit / 64;
    assert((s->words[word] & (UINT64_C(1) << (bit % 64))) == 0);
    s->words[word] |= UINT64_C(1) << (bit % 64);
    s->bits_hash ^= s->zobrist[bit];
    if (word < s->known_words) s->known_hash ^= s->zobrist[bit];
    if (word < s->known_words) {
        if ((int64_t)word > s->top_known) s->top_known = word;
        while (s->floor_word < s->known_words &&
               s->words[s->floor_word] == search_word_full(s, s->floor_word))
            s->floor_word++;
    } else if ((int64_t)word > s->top_unknown) {
        s->top_unknown = word;
    }
}

void search_bit_clear(struct search *s, uint32_t bit)
{
    uint32_t word = bit / 64;
    assert((s->words[word] & (UINT64_C(1) << (bit % 64))) != 0);
    s->words[word] &= ~(UINT64_C(1) << (bit % 64));
    s->bits_hash ^= s->zobrist[bit];
    if (word < s->known_words) s->known_hash ^= s->zobrist[bit];
    if (word < s->known_words) {
        if (word < s->floor_word) s->floor_word = word;
        while (s->top_known >= 0 && s->words[s->top_known] == 0) s->top_known--;
    } else {
        while (s->top_unknown >= (int64_t)s->known_words && s->words[s->top_unknown] == 0)
            s->top_unknown--;
    }
}

/* The compressed form of the current bitset (see the top of the file). */
static void search_segments(const struct search *s, uint32_t *seg1_start, uint32_t *seg1_words,
                            uint32_t *seg2_words)
{
    *seg1_start = s->floor_word;
    *seg1_words = s->top_known >= (int64_t)s->floor_word
                      ? (uint32_t)(s->top_known - s->floor_word + 1) : 0;
    *seg2_words = (uint32_t)(s->top_unknown - (int64_t)s->known_words + 1);
}

static bool search_cache_match(const struct search *s, const struct search_cache_entry *entry,
                               uint64_t hash, struct lincheck_value state)
{
    if (entry->hash != hash || !search_value_equal(entry->state, state)) return false;
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    if (entry->seg1_start != start || entry->seg1_words != words1 || entry->seg2_words != words2)
        return false;
    const uint64_t *stored = &s->arena[entry->words_offset];
    return memcmp(stored, &s->words[start], words1 * sizeof(uint64_t)) == 0 &&
           memcmp(stored + words1, &s->words[s->known_words], words2 * sizeof(uint64_t)) == 0;
}

static int search_cache_grow(struct search *s)
{
    uint32_t slot_count = s->slot_count * 2;
    if (search_grow_too_much(s, (uint64_t)(slot_count - s->slot_count) * sizeof(uint32_t)))
        return -1;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL) return -1;
    for (uint32_t i = 0; i < s->entry_count; i++) {
        uint32_t slot = (uint32_t)s->entries[i].hash & (slot_count - 1);
        while (slots[slot] != 0) slot = (slot + 1) & (slot_count - 1);
        slots[slot] = i + 1;
    }
    s->memory_bytes += (uint64_t)(slot_count - s->slot_count) * sizeof(*slots);
    free(s->slots);
    s->slots = slots;
    s->slot_count = slot_count;
    return 0;
}

static int search_reserve(struct search *s, uint32_t words)
{
    if (s->entry_count == s->entry_capacity) {
        uint32_t capacity = s->entry_capacity ? s->entry_capacity * 2 : 1024;
        if (search_grow_too_much(s, (uint64_t)(capacity - s->entry_capacity) *
                                        sizeof(struct search_cache_entry)))
            return -1;
        struct search_cache_entry *entries = realloc(s->entries, capacity * sizeof(*entries));
        if (entries == NULL) return -1;
        s->memory_bytes += (uint64_t)(capacity - s->entry_capacity) * sizeof(*entries);
        s->entries = entries;
        s->entry_capacity = capacity;
    }
    if (s->arena_words + words > s->arena_capacity) {
        uint64_t capacity = s->arena_capacity * 2;
        while (capacity < s->arena_words + words) capacity *= 2;
        if (search_grow_too_much(s, (capacity - s->arena_capacity) * sizeof(uint64_t))) return -1;
        uint64_t *arena = realloc(s->arena, capacity * sizeof(*arena));
        if (arena == NULL) return -1;
        s->memory_bytes += (capacity - s->arena_capacity) * sizeof(*arena);
        s->arena = arena;
        s->arena_capacity = capacity;
    }
    if ((uint64_t)(s->entry_count + 1) * 2 > s->slot_count) return search_cache_grow(s);
    return 0;
}

static uint64_t search_known_key(const struct search *s, struct lincheck_value state)
{
    return search_mix(s->known_hash ^ search_state_hash(state)) | 1; /* never 0: empty */
}

/* The slot of `key` in the known index: where it is, or the empty slot where it goes. */
static uint32_t search_known_slot(const uint64_t *keys, uint32_t slot_count, uint64_t key)
{
    uint32_t mask = slot_count - 1, slot = (uint32_t)(key >> 32) & mask;
    while (keys[slot] != 0 && keys[slot] != key) slot = (slot + 1) & mask; /* load <= 1/2 */
    return slot;
}

static int search_known_grow(struct search *s)
{
    uint32_t slot_count = s->known_slot_count * 2;
    if (search_grow_too_much(s, (uint64_t)(slot_count - s->known_slot_count) *
                                    (sizeof(uint64_t) + sizeof(uint32_t))))
        return -1;
    uint64_t *keys = calloc(slot_count, sizeof(*keys));
    uint32_t *heads = calloc(slot_count, sizeof(*heads));
    if (keys == NULL || heads == NULL) {
        free(keys);
        free(heads);
        return -1;
    }
    for (uint32_t i = 0; i < s->known_slot_count; i++) {
        if (s->known_keys[i] == 0) continue;
        uint32_t slot = search_known_slot(keys, slot_count, s->known_keys[i]);
        keys[slot] = s->known_keys[i];
        heads[slot] = s->known_heads[i];
    }
    s->memory_bytes += (uint64_t)(slot_count - s->known_slot_count) *
                       (sizeof(*keys) + sizeof(*heads));
    free(s->known_keys);
    free(s->known_heads);
    s->known_keys = keys;
    s->known_heads = heads;
    s->known_slot_count = slot_count;
    return 0;
}

/* Files entry `index` (the current state) under its known key. Returns 0, or -1 (memory). */
static int search_known_link(struct search *s, uint32_t index, struct lincheck_value state)
{
    if ((uint64_t)(s->known_used + 1) * 2 > s->known_slot_count && search_known_grow(s) != 0)
        return -1;
    uint64_t key = search_known_key(s, state);
    uint32_t slot = search_known_slot(s->known_keys, s->known_slot_count, key);
    if (s->known_keys[slot] == 0) {
        s->known_keys[slot] = key;
        s->known_used++;
    }
    s->entries[index].known_key = key;
    s->entries[index].known_next = s->known_heads[slot];
    s->known_heads[slot] = index + 1;
    return 0;
}

/* Is the current (set, state) dominated by one whose subtree already failed: the same state,
 * the same operations with a return linearized or killed, and a subset of the operations with
 * an unknown outcome? Then it fails too: any way on from here is a way on from there, the
 * extra unknown operations never happening (which they may). Without this, every combination
 * of timed-out writes that the search placed before a dead end is a new state to explore.
 * Looks at SEARCH_DOMINANCE_CHAIN_MAX entries at most (looking at fewer only prunes less). */
bool search_dominated(const struct search *s, struct lincheck_value state)
{
    if (s->top_unknown < (int64_t)s->known_words) return false; /* the exact match will do */
    uint64_t key = search_known_key(s, state);
    uint32_t slot = search_known_slot(s->known_keys, s->known_slot_count, key);
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    uint32_t index = s->known_heads[slot];
    for (uint32_t seen = 0; index != 0 && seen < SEARCH_DOMINANCE_CHAIN_MAX; seen++) {
        const struct search_cache_entry *entry = &s->entries[index - 1];
        index = entry->known_next;
        if (!entry->failed || entry->known_key != key || !search_value_equal(entry->state, state) ||
            entry->seg1_start != start || entry->seg1_words != words1 ||
            entry->seg2_words > words2)
            continue;
        const uint64_t *stored = &s->arena[entry->words_offset];
        if (memcmp(stored, &s->words[start], words1 * sizeof(uint64_t)) != 0) continue;
        bool subset = true;
        for (uint32_t i = 0; i < entry->seg2_words && subset; i++)
            subset = (stored[words1 + i] & ~s->words[s->known_words + i]) == 0;
        if (subset) return true;
    }
    return false;
}

/* Adds the current (bitset, state) to the cache unless it is there. Returns 1 when added, 0
 * when already visited, -1 when out of memory. */
int search_cache_add(struct search *s, struct lincheck_value state)
{
    uint64_t hash = s->bits_hash ^ search_state_hash(state);
    uint32_t mask = s->slot_count - 1;
    uint32_t slot = (uint32_t)hash & mask;
    for (uint32_t probe = 0; probe < s->slot_count && s->slots[slot] != 0; probe++) {
        if (search_cache_match(s, &s->entries[s->slots[slot] - 1], hash, state)) return 0;
        slot = (slot + 1) & mask;
    }
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    uint32_t slot_count_before = s->slot_count;
    if (search_reserve(s, words1 + words2) != 0) return -1;
    if (s->slot_count != slot_count_before) {
        slot = (uint32_t)hash & (s->slot_count - 1);
        while (s->slots[slot] != 0) slot = (slot + 1) & (s->slot_count - 1);
    }
    struct search_cache_entry *entry = &s->entries[s->entry_count];
    *entry = (struct search_cache_entry){ .hash = hash, .state = state,
                                          .words_offset = s->arena_words, .seg1_start = start,
                                          .seg1_words = words1, .seg2_words = words2 };
    memcpy(&s->arena[s->arena_words], &s->words[start], words1 * sizeof(uint64_t));
    memcpy(&s->arena[s->arena_words + words1], &s->words[s->known_words],
           words2 * sizeof(uint64_t));
    s->arena_words += words1 + words2;
    s->slots[slot] = ++s->entry_count;
    return search_known_link(s, s->entry_count - 1, state) == 0 ? 1 : -1;
}
