/*
 * place.c — replica placement: the R distinct nodes (optionally in R distinct zones) that
 * hold a shard, for one shard (ring_place) or for all of them (ring_placement_create), and
 * the difference between two placements, which is what a migration copies.
 */
#include <assert.h>
#include <stdlib.h>

#include "ring/ring_internal.h"

enum {
    /* Jump and Maglev try this many salted hashes per replica before the fallback scan. */
    PLACE_SALTS_PER_REPLICA = 32,
};

/* The replicas chosen so far for one shard. */
struct place_state {
    const struct ring *ring;
    bool zone_spread;
    uint32_t count;
    uint32_t chosen[RING_REPLICAS_MAX];
};

static bool place_allowed(const void *context, uint32_t node)
{
    const struct place_state *state = context;
    for (uint32_t i = 0; i < state->count; i++) {
        if (state->chosen[i] == node) return false;
        if (state->zone_spread &&
            state->ring->nodes[state->chosen[i]].zone == state->ring->nodes[node].zone)
            return false;
    }
    return true;
}

static void place_take(struct place_state *state, uint32_t node)
{
    assert(state->count < RING_REPLICAS_MAX);
    state->chosen[state->count++] = node;
}

static int place_check(const struct ring *ring, uint32_t replicas, bool zone_spread)
{
    if (replicas < 1 || replicas > RING_REPLICAS_MAX || replicas > ring->node_count)
        return RING_ERROR_BAD_REPLICAS;
    if (zone_spread && ring->zone_count < replicas) return RING_ERROR_FEW_ZONES;
    return RING_OK;
}

/*
 * The vnode walk: the nodes met going clockwise from the shard's hash, skipping any already
 * chosen (or, with zone_spread, of a zone already used). With `loads` (bounded loads) a
 * node whose load reached its capacity for `capacity_items` is skipped too, and a chosen
 * node's load grows. One turn of the circle meets every node, so the walk ends within point_count steps.
 */
static void place_walk(const struct ring *ring, struct place_state *state, uint64_t hash,
                       uint32_t replicas, uint32_t *loads, uint64_t capacity_items)
{
    uint32_t point = ring_vnodes_first_point(ring, hash);
    for (uint32_t step = 0; step < ring->point_count && state->count < replicas; step++) {
        uint32_t node = ring->point_nodes[point];
        bool room = loads == NULL || loads[node] < ring_bounded_capacity(ring, node, capacity_items);
        if (room && place_allowed(state, node)) {
            place_take(state, node);
            if (loads != NULL) loads[node]++;
        }
        point = point + 1 == ring->point_count ? 0 : point + 1;
    }
}

/* Jump and Maglev: lookups of salted hashes, then a scan of every node from hash mod N. */
static void place_salted(const struct ring *ring, struct place_state *state, uint64_t hash,
                         uint32_t replicas)
{
    for (uint32_t salt = 0; salt < PLACE_SALTS_PER_REPLICA * replicas && state->count < replicas;
         salt++) {
        uint64_t salted = salt == 0 ? hash : ring_hash_pair(hash, salt, RING_SEED_SALT);
        uint32_t node = ring_lookup_hash(ring, salted);
        if (place_allowed(state, node)) place_take(state, node);
    }
    for (uint32_t i = 0; i < ring->node_count && state->count < replicas; i++) {
        uint32_t node = (uint32_t)((hash + i) % ring->node_count);
        if (place_allowed(state, node)) place_take(state, node);
    }
}

static void place_one(const struct ring *ring, uint64_t shard_id, uint32_t replicas,
                      struct place_state *state)
{
    uint64_t hash = ring_hash_shard(shard_id);
    switch (ring->config.algorithm) {
    case RING_ALGORITHM_VNODES:
        place_walk(ring, state, hash, replicas, NULL, 0);
        break;
    case RING_ALGORITHM_RENDEZVOUS:
        while (state->count < replicas) {
            int64_t node = ring_rendezvous_best(ring, hash, place_allowed, state);
            assert(node >= 0);
            place_take(state, (uint32_t)node);
        }
        break;
    case RING_ALGORITHM_JUMP:
    case RING_ALGORITHM_MAGLEV:
        place_salted(ring, state, hash, replicas);
        break;
    case RING_ALGORITHM_BOUNDED:
        assert(!"place_one: bounded loads places batches only");
        break;
    }
    assert(state->count == replicas);
}

int ring_place(const struct ring *ring, uint64_t shard_id, uint32_t replicas, bool zone_spread,
               uint64_t *node_ids_out)
{
    int rv = place_check(ring, replicas, zone_spread);
    if (rv != RING_OK) return rv;
    if (ring->config.algorithm == RING_ALGORITHM_BOUNDED) return RING_ERROR_NEEDS_BATCH;
    struct place_state state = {.ring = ring, .zone_spread = zone_spread};
    place_one(ring, shard_id, replicas, &state);
    for (uint32_t r = 0; r < replicas; r++) node_ids_out[r] = ring->nodes[state.chosen[r]].id;
    return RING_OK;
}

/*
 * Bounded loads: shards in order 0, 1, 2..., each replica taking a unit of capacity. When zone
 * spreading leaves no node with room in an unused zone (possible when zones are few and
 * unequal), the replica takes the first node of an unused zone regardless of its load: spread
 * over zones matters more than the bound.
 */
static void placement_bounded(struct ring *ring, struct ring_placement *placement)
{
    uint64_t items = (uint64_t)placement->shard_count * placement->replicas;
    ring_bounded_begin(ring);
    for (uint32_t s = 0; s < placement->shard_count; s++) {
        struct place_state state = {.ring = ring, .zone_spread = placement->zone_spread};
        uint64_t hash = ring_hash_shard(s);
        place_walk(ring, &state, hash, placement->replicas, ring->loads, items);
        uint32_t before = state.count;
        place_walk(ring, &state, hash, placement->replicas, NULL, 0);
        for (uint32_t r = before; r < state.count; r++) ring->loads[state.chosen[r]]++;
        assert(state.count == placement->replicas);
        for (uint32_t r = 0; r < placement->replicas; r++)
            placement->node_ids[(size_t)s * placement->replicas + r] =
                ring->nodes[state.chosen[r]].id;
    }
}

int ring_placement_create(struct ring *ring, uint32_t shard_count, uint32_t replicas,
                          bool zone_spread, struct ring_placement **placement_out)
{
    *placement_out = NULL;
    if (shard_count < 1 || shard_count > RING_SHARDS_MAX) return RING_ERROR_BAD_SHARDS;
    int rv = place_check(ring, replicas, zone_spread);
    if (rv != RING_OK) return rv;
    struct ring_placement *placement = calloc(1, sizeof(*placement));
    uint64_t *ids = malloc((size_t)shard_count * replicas * sizeof(*ids));
    if (placement == NULL || ids == NULL) {
        free(placement);
        free(ids);
        return RING_ERROR_NO_MEMORY;
    }
    *placement = (struct ring_placement){.shard_count = shard_count, .replicas = replicas,
                                         .zone_spread = zone_spread, .node_ids = ids};
    if (ring->config.algorithm == RING_ALGORITHM_BOUNDED) {
        placement_bounded(ring, placement);
    } else {
        for (uint32_t s = 0; s < shard_count; s++) {
            rv = ring_place(ring, s, replicas, zone_spread, &ids[(size_t)s * replicas]);
            assert(rv == RING_OK);
        }
    }
    *placement_out = placement;
    return RING_OK;
}

void ring_placement_destroy(struct ring_placement *placement)
{
    if (placement == NULL) return;
    free(placement->node_ids);
    free(placement);
}

static bool placement_holds(const uint64_t *ids, uint32_t replicas, uint64_t id)
{
    for (uint32_t r = 0; r < replicas; r++)
        if (ids[r] == id) return true;
    return false;
}

int ring_placement_diff(const struct ring_placement *before, const struct ring_placement *after,
                        struct ring_move *moves, uint32_t moves_max, uint32_t *count_out)
{
    if (before->shard_count != after->shard_count || before->replicas != after->replicas)
        return RING_ERROR_SHAPE;
    uint32_t replicas = before->replicas, count = 0;
    for (uint32_t s = 0; s < before->shard_count; s++) {
        const uint64_t *old_ids = &before->node_ids[(size_t)s * replicas];
        const uint64_t *new_ids = &after->node_ids[(size_t)s * replicas];
        /* Both sides hold `replicas` distinct ids, so as many leave as arrive: pair the k-th
         * leaving node with the k-th arriving one. */
        uint32_t next_new = 0;
        for (uint32_t r = 0; r < replicas; r++) {
            if (placement_holds(new_ids, replicas, old_ids[r])) continue;
            while (next_new < replicas && placement_holds(old_ids, replicas, new_ids[next_new]))
                next_new++;
            assert(next_new < replicas);
            if (count < moves_max)
                moves[count] = (struct ring_move){.shard = s, .from = old_ids[r],
                                                  .to = new_ids[next_new]};
            next_new++;
            count++;
        }
    }
    *count_out = count;
    return count <= moves_max ? RING_OK : RING_ERROR_MOVES_MAX;
}
