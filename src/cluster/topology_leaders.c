/*
 * topology_leaders.c — spreading the preferred leaders of the shards evenly over the nodes.
 *
 * The ring puts each shard's replicas on nodes; its first replica, taken as the leader, gives
 * nodes uneven leader counts (docs/ring.md measures a peak of 1.2-2.9 times the mean). A
 * leader must be one of the shard's replicas, so this is a transportation problem on the
 * bipartite graph of shards and their replica nodes. It is solved by augmenting paths, as in
 * bipartite matching: a node below the goal "pulls" a leadership from a node above it, either
 * directly (a shard led by that node has the puller among its replicas) or through a chain of
 * nodes, each handing one shard to the previous one, so that only the two ends change count.
 *
 * Two phases. First the busiest count comes down one level at a time towards ceil(S/P):
 * at level c, nodes below c pull from nodes above c until no path is left. When none is left
 * and a node is still above c, no choice of leaders has every node at c or below (the
 * residual-graph argument of max-flow: the pulls are augmenting paths), so the busiest node
 * leads as few shards as the placement allows. Then the idlest count comes up the same way
 * towards floor(S/P) (givers stay at or above the level, so the ceiling holds). Even shares
 * can be out of reach when the ring left a node fewer replicas than its share of leaders.
 * The search is breadth-first over nodes, in index order, so the result is the same on
 * every process; there is no recursion.
 */
#include "cluster/topology_internal.h"

#include <assert.h>
#include <string.h>

static void topology_leaders_index(struct topology_leaders *leaders)
{
    uint32_t nodes = leaders->node_count, shards = leaders->shard_count;
    memset(leaders->led, 0, nodes * sizeof(leaders->led[0]));
    memset(leaders->replica_of_start, 0, (nodes + 1) * sizeof(leaders->replica_of_start[0]));
    for (uint32_t s = 0; s < shards; s++) {
        leaders->led[leaders->leader[s]]++;
        for (uint32_t r = 0; r < leaders->replica_count[s]; r++)
            leaders->replica_of_start[leaders->replicas[s][r] + 1]++;
    }
    for (uint32_t n = 0; n < nodes; n++) leaders->replica_of_start[n + 1] += leaders->replica_of_start[n];
    /* A counting sort: each node's shards go to its range of replica_of, in shard order. */
    uint32_t cursor[TOPOLOGY_NODES_MAX];
    memcpy(cursor, leaders->replica_of_start, nodes * sizeof(cursor[0]));
    for (uint32_t s = 0; s < shards; s++)
        for (uint32_t r = 0; r < leaders->replica_count[s]; r++)
            leaders->replica_of[cursor[leaders->replicas[s][r]]++] = (uint16_t)s;
}

enum { TOPOLOGY_LEADERS_SEED = UINT16_MAX }; /* via_node of a search's starting node */

/* Hands the shards along the path found by the search, from `giver` back to the puller it
 * started from; returns that puller. */
static uint32_t topology_leaders_shift(struct topology_leaders *leaders, uint32_t giver)
{
    uint32_t at = giver;
    for (uint32_t steps = 0; leaders->via_node[at] != TOPOLOGY_LEADERS_SEED; steps++) {
        assert(steps < leaders->node_count);
        uint32_t shard = leaders->via_shard[at];
        uint32_t taker = leaders->via_node[at];
        assert(leaders->leader[shard] == at);
        leaders->leader[shard] = (uint16_t)taker;
        at = taker;
    }
    leaders->led[giver]--;
    leaders->led[at]++;
    return at;
}

/*
 * One pull: a breadth-first search starting from every node that leads fewer than `goal`
 * shards at once, over "x replicates shard t, which w leads" edges, to the first node w that
 * leads more than `above`; then the shift along the path. Returns whether a path was found.
 * Starting from all pullers together makes a search cost one pass over the replica lists
 * whether or not it succeeds, so a phase costs O(S x R) per leadership moved.
 */
static bool topology_leaders_pull(struct topology_leaders *leaders, uint32_t goal, uint32_t above)
{
    uint32_t nodes = leaders->node_count;
    memset(leaders->seen, 0, nodes * sizeof(leaders->seen[0]));
    uint32_t head = 0, tail = 0;
    for (uint32_t n = 0; n < nodes; n++) {
        if (leaders->led[n] >= goal) continue;
        leaders->queue[tail++] = (uint16_t)n;
        leaders->seen[n] = true;
        leaders->via_node[n] = TOPOLOGY_LEADERS_SEED;
    }
    while (head < tail) {
        uint32_t x = leaders->queue[head++];
        for (uint32_t i = leaders->replica_of_start[x]; i < leaders->replica_of_start[x + 1]; i++) {
            uint32_t shard = leaders->replica_of[i];
            uint32_t w = leaders->leader[shard];
            if (leaders->seen[w]) continue;
            leaders->seen[w] = true;
            leaders->via_shard[w] = (uint16_t)shard;
            leaders->via_node[w] = (uint16_t)x;
            if (leaders->led[w] > above) {
                topology_leaders_shift(leaders, w);
                return true;
            }
            assert(tail < nodes); /* each node is queued at most once */
            leaders->queue[tail++] = (uint16_t)w;
        }
    }
    return false;
}

/* Pulls until no path is left. Each pull lowers the total excess over `above` by one, so
 * there are at most S. */
static void topology_leaders_phase(struct topology_leaders *leaders, uint32_t goal, uint32_t above)
{
    for (uint32_t pulls = 0; topology_leaders_pull(leaders, goal, above); pulls++)
        assert(pulls < leaders->shard_count);
}

static uint32_t topology_leaders_extreme(const struct topology_leaders *leaders, bool highest)
{
    uint32_t value = leaders->led[0];
    for (uint32_t n = 1; n < leaders->node_count; n++) {
        uint32_t led = leaders->led[n];
        if (highest ? led > value : led < value) value = led;
    }
    return value;
}

void topology_leaders_balance(struct topology_leaders *leaders)
{
    assert(leaders->node_count >= 1 && leaders->node_count <= TOPOLOGY_NODES_MAX);
    assert(leaders->shard_count >= 1 && leaders->shard_count <= TOPOLOGY_SHARDS_MAX);
    topology_leaders_index(leaders);
    uint32_t floor_share = leaders->shard_count / leaders->node_count;
    uint32_t ceiling_share = floor_share + (leaders->shard_count % leaders->node_count != 0);
    /* The ceiling comes down one level at a time: when even shares are out of reach (a node
     * holds too few replicas), each level still settles as low as the placement allows. */
    for (uint32_t cap = topology_leaders_extreme(leaders, true); cap > ceiling_share; cap--) {
        topology_leaders_phase(leaders, cap - 1, cap - 1);
        if (topology_leaders_extreme(leaders, true) > cap - 1) break;
    }
    /* Then the floor comes up, one level at a time, never lifting a node over the ceiling
     * reached (a giver keeps at least the level; a taker reaches at most it). */
    for (uint32_t level = topology_leaders_extreme(leaders, false) + 1; level <= floor_share; level++) {
        topology_leaders_phase(leaders, level, level);
        if (topology_leaders_extreme(leaders, false) < level) break;
    }
}
