/*
 * ring_cmd.c — `chorus ring`: the picture of a consistent-hashing ring a person can read.
 *
 *   chorus ring --nodes 1@east,2@east,3@west,4:2@west [--algorithm vnodes|jump|rendezvous|
 *               maglev|bounded] [--vnodes V] [--table M] [--epsilon E] [--shards S]
 *               [--replicas R] [--zones] [--add NODE] [--remove ID] [--key KEY]... [--list N]
 *
 * Prints each node's share of the keyspace (exact for the ring and Maglev, sampled from
 * 65,536 hashes otherwise) and of the shards' replicas, then what moves if a node joins
 * (--add, default the next id) and if one leaves (--remove, default the last listed): the
 * fraction of the keyspace and where it goes, and the shard replicas that move.
 */
#include "client/ring_cmd.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring.h"

enum {
    RING_CMD_EXIT_OK = 0,
    RING_CMD_EXIT_USAGE = 2,
    RING_CMD_SHARDS_DEFAULT = 64,
    RING_CMD_REPLICAS_DEFAULT = 3,
    RING_CMD_KEYS_MAX = 16,
    RING_CMD_LIST_DEFAULT = 10,
    RING_CMD_LIST_MAX = 1000000,
    RING_CMD_BAR_WIDTH = 30,
    RING_CMD_FLOWS_SHOWN = 8,
};

struct ring_cmd_options {
    struct ring_config config;
    struct ring_membership *membership;
    uint32_t shards;
    uint32_t replicas;
    bool replicas_given;
    bool zone_spread;
    const char *add;
    bool remove_given;
    uint64_t remove_id;
    uint32_t key_count;
    const char *keys[RING_CMD_KEYS_MAX];
    uint32_t list;
};

/* What one membership looks like: its ring, the sampled owners and the shard placement. */
struct ring_cmd_view {
    struct ring *ring;
    uint32_t samples; /* evenly spread hashes of the circle */
    uint32_t *owners; /* their owners' indexes */
    struct ring_placement *placement;
};

void ring_cmd_usage(FILE *out)
{
    fputs("  ring --nodes ID[:WEIGHT][@ZONE],... [--algorithm vnodes|jump|rendezvous|maglev|bounded]\n"
          "       [--vnodes V] [--table M] [--epsilon E] [--shards S] [--replicas R] [--zones]\n"
          "       [--add NODE] [--remove ID] [--key KEY]... [--list N]\n"
          "       each node's share of keys and shards, and what moves when a node joins or leaves\n",
          out);
}

static int ring_cmd_usage_error(FILE *err, const char *message, const char *argument)
{
    fprintf(err, "chorus ring: %s%s%s\n", message, argument ? ": " : "", argument ? argument : "");
    fputs("usage: chorus\n", err);
    ring_cmd_usage(err);
    return RING_CMD_EXIT_USAGE;
}

static bool ring_cmd_u64(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) return false;
    *value = v;
    return true;
}

/* Parses one option with its value; returns 0, or the usage error's exit status. */
static int ring_cmd_option(struct ring_cmd_options *o, const char *option, const char *value, FILE *err)
{
    uint64_t n = 0;
    char error[RING_ERROR_BYTES_MAX];
    if (strcmp(option, "--nodes") == 0) {
        if (ring_membership_parse(value, strlen(value), o->membership, error) != 0)
            return ring_cmd_usage_error(err, "bad --nodes", error);
    } else if (strcmp(option, "--algorithm") == 0) {
        enum ring_algorithm algorithm = ring_algorithm_parse(value);
        if (algorithm == 0) return ring_cmd_usage_error(err, "unknown algorithm", value);
        o->config.algorithm = algorithm;
    } else if (strcmp(option, "--vnodes") == 0 && ring_cmd_u64(value, 1, RING_VNODES_MAX, &n)) {
        o->config.vnodes = (uint32_t)n;
    } else if (strcmp(option, "--table") == 0 && ring_cmd_u64(value, 2, RING_MAGLEV_TABLE_MAX, &n)) {
        o->config.maglev_table_size = (uint32_t)n;
    } else if (strcmp(option, "--epsilon") == 0) {
        char *end = NULL;
        double eps = strtod(value, &end);
        if (end == value || *end != '\0' || !(eps >= 0.001 && eps <= 10))
            return ring_cmd_usage_error(err, "--epsilon must be 0.001 to 10", value);
        o->config.bounded_epsilon_permille = (uint32_t)(eps * 1000 + 0.5);
    } else if (strcmp(option, "--shards") == 0 && ring_cmd_u64(value, 1, RING_SHARDS_MAX, &n)) {
        o->shards = (uint32_t)n;
    } else if (strcmp(option, "--replicas") == 0 && ring_cmd_u64(value, 1, RING_REPLICAS_MAX, &n)) {
        o->replicas = (uint32_t)n;
        o->replicas_given = true;
    } else if (strcmp(option, "--add") == 0) {
        o->add = value;
    } else if (strcmp(option, "--remove") == 0 && ring_cmd_u64(value, 0, UINT64_MAX, &o->remove_id)) {
        o->remove_given = true;
    } else if (strcmp(option, "--key") == 0 && o->key_count < RING_CMD_KEYS_MAX) {
        o->keys[o->key_count++] = value;
    } else if (strcmp(option, "--list") == 0 && ring_cmd_u64(value, 0, RING_CMD_LIST_MAX, &n)) {
        o->list = (uint32_t)n;
    } else {
        return ring_cmd_usage_error(err, "bad option or value", option);
    }
    return 0;
}

static int ring_cmd_parse(struct ring_cmd_options *o, int argc, char **argv, FILE *err)
{
    bool nodes_given = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--zones") == 0) {
            o->zone_spread = true;
            continue;
        }
        if (i + 1 >= argc) return ring_cmd_usage_error(err, "option needs a value", argv[i]);
        nodes_given = nodes_given || strcmp(argv[i], "--nodes") == 0;
        int rv = ring_cmd_option(o, argv[i], argv[i + 1], err);
        if (rv != 0) return rv;
        i++;
    }
    if (!nodes_given) return ring_cmd_usage_error(err, "--nodes is required (reading a running cluster's membership comes with sharding)", NULL);
    if (!o->replicas_given && o->replicas > o->membership->count) o->replicas = o->membership->count;
    return 0;
}

static void ring_cmd_view_free(struct ring_cmd_view *view)
{
    ring_placement_destroy(view->placement);
    free(view->owners);
    ring_destroy(view->ring);
}

/* Builds the view of one membership; returns RING_OK or the ring error, with nothing held. */
static int ring_cmd_view_build(const struct ring_cmd_options *o, const struct ring_node *nodes,
                               uint32_t count, uint32_t samples_max, struct ring_cmd_view *view)
{
    *view = (struct ring_cmd_view){0};
    int rv = ring_create(&o->config, nodes, count, &view->ring);
    if (rv == RING_OK) rv = ring_placement_create(view->ring, o->shards, o->replicas, o->zone_spread, &view->placement);
    /* Evenly spread points of the circle: the sample of the keyspace every view shares. The
     * one rendezvous lookups are costly in gets fewer (ring_share_samples); both views of a
     * comparison use the smaller count. */
    view->samples = RING_SHARE_SAMPLES;
    if (rv == RING_OK && ring_share_samples(view->ring) != 0) view->samples = ring_share_samples(view->ring);
    if (samples_max != 0 && samples_max < view->samples) view->samples = samples_max;
    uint64_t *hashes = malloc(view->samples * sizeof(*hashes));
    view->owners = malloc(view->samples * sizeof(*view->owners));
    if (rv == RING_OK && (hashes == NULL || view->owners == NULL)) rv = RING_ERROR_NO_MEMORY;
    if (rv == RING_OK) {
        for (uint32_t i = 0; i < view->samples; i++) hashes[i] = ring_share_sample_hash(i, view->samples);
        rv = ring_assign(view->ring, hashes, view->samples, view->owners);
    }
    free(hashes);
    if (rv != RING_OK) ring_cmd_view_free(view);
    return rv;
}

static void ring_cmd_bytes(size_t bytes, char *out, size_t out_size)
{
    if (bytes < 10240)
        snprintf(out, out_size, "%zu bytes", bytes);
    else if (bytes < 10u << 20)
        snprintf(out, out_size, "%.1f KiB", bytes / 1024.0);
    else
        snprintf(out, out_size, "%.1f MiB", bytes / 1048576.0);
}

static void ring_cmd_header(const struct ring_cmd_options *o, const struct ring_cmd_view *view, FILE *out)
{
    const struct ring_config *c = &o->config;
    char memory[32];
    ring_cmd_bytes(ring_memory_bytes(view->ring), memory, sizeof(memory));
    fprintf(out, "%u nodes, algorithm %s", ring_node_count(view->ring), ring_algorithm_name(c->algorithm));
    switch (c->algorithm) {
    case RING_ALGORITHM_VNODES:
        fprintf(out, " (%u virtual nodes per unit of weight)", c->vnodes);
        break;
    case RING_ALGORITHM_BOUNDED:
        fprintf(out, " (eps %.3g: no node above %.3g x its share; %u virtual nodes per unit of weight)",
                c->bounded_epsilon_permille / 1000.0, 1 + c->bounded_epsilon_permille / 1000.0, c->vnodes);
        break;
    case RING_ALGORITHM_MAGLEV:
        fprintf(out, " (table of %u entries)", c->maglev_table_size);
        break;
    case RING_ALGORITHM_JUMP:
        fputs(" (nodes are buckets in the order given)", out);
        break;
    case RING_ALGORITHM_RENDEZVOUS:
        break;
    }
    fprintf(out, ", %s\n%u shards x %u replicas%s\n\n", memory, o->shards, o->replicas,
            o->zone_spread ? ", no two replicas of a shard in one zone" : "");
}

/* The table of nodes: share of the keyspace against the fair share, replicas and leaders. */
static void ring_cmd_table(const struct ring_cmd_options *o, struct ring_cmd_view *view, FILE *out)
{
    uint32_t count = ring_node_count(view->ring);
    double *shares = malloc(count * sizeof(*shares));
    uint32_t *replicas = calloc(count, sizeof(*replicas)), *leaders = calloc(count, sizeof(*leaders));
    if (shares == NULL || replicas == NULL || leaders == NULL) abort();
    ring_shares(view->ring, shares);
    uint64_t weight_total = 0;
    for (uint32_t n = 0; n < count; n++) weight_total += ring_node_at(view->ring, n)->weight;
    for (uint32_t s = 0; s < o->shards; s++)
        for (uint32_t r = 0; r < o->replicas; r++) {
            uint32_t n = (uint32_t)ring_node_index(view->ring, view->placement->node_ids[s * o->replicas + r]);
            replicas[n]++;
            leaders[n] += r == 0;
        }
    double peak_share = 0, peak_relative = 0, peak_replicas = 0;
    for (uint32_t n = 0; n < count; n++) peak_share = shares[n] > peak_share ? shares[n] : peak_share;
    bool exact = o->config.algorithm == RING_ALGORITHM_VNODES || o->config.algorithm == RING_ALGORITHM_MAGLEV;
    int id_width = 4;
    for (uint32_t n = 0; n < count; n++) {
        char digits[24];
        int w = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)ring_node_at(view->ring, n)->id);
        id_width = w > id_width ? w : id_width;
    }
    fprintf(out, "%*s %6s %-10s %9s %7s  %-*s %9s %8s\n", id_width, "node", "weight", "zone",
            exact ? "keyspace" : "keyspace~", "fair", RING_CMD_BAR_WIDTH, "(# = share, | = fair share)",
            "replicas", "leaders");
    for (uint32_t n = 0; n < count; n++) {
        const struct ring_node *node = ring_node_at(view->ring, n);
        double fair = (double)node->weight / weight_total;
        char bar[RING_CMD_BAR_WIDTH + 1];
        int filled = (int)(shares[n] / peak_share * RING_CMD_BAR_WIDTH + 0.5);
        int mark = (int)(fair / peak_share * RING_CMD_BAR_WIDTH + 0.5);
        for (int i = 0; i < RING_CMD_BAR_WIDTH; i++) bar[i] = i < filled ? '#' : ' ';
        if (mark >= 1 && mark <= RING_CMD_BAR_WIDTH) bar[mark - 1] = '|';
        bar[RING_CMD_BAR_WIDTH] = '\0';
        fprintf(out, "%*llu %6u %-10s %8.2f%% %6.2f%%  %s %9u %8u\n", id_width, (unsigned long long)node->id,
                node->weight, o->membership->zone_names[node->zone], 100 * shares[n], 100 * fair, bar,
                replicas[n], leaders[n]);
        peak_relative = shares[n] / fair > peak_relative ? shares[n] / fair : peak_relative;
        double replica_fair = fair * o->shards * o->replicas;
        peak_replicas = replicas[n] / replica_fair > peak_replicas ? replicas[n] / replica_fair : peak_replicas;
    }
    fprintf(out, "\nbalance: the fullest node holds %.2f x its fair share of the keyspace and %.2f x its fair"
                 " share of replicas%s\n", peak_relative, peak_replicas,
            exact ? "" : "\n(keyspace~: estimated from evenly spread points of the circle)");
    free(shares);
    free(replicas);
    free(leaders);
}

struct ring_cmd_flow {
    uint64_t from, to;
    uint32_t samples;
};

static int ring_cmd_flow_compare(const void *a, const void *b)
{
    const struct ring_cmd_flow *x = a, *y = b;
    return (x->samples < y->samples) - (x->samples > y->samples);
}

/* Where the keyspace goes between two views: total moved and the largest flows. */
static void ring_cmd_keyspace_moves(const struct ring_cmd_view *before, const struct ring_cmd_view *after,
                                    double ideal, FILE *out)
{
    struct ring_cmd_flow flows[RING_CMD_FLOWS_SHOWN * 8];
    uint32_t flow_count = 0, moved = 0, other = 0;
    /* Both sides must be asked about the same points: when the changed ring took fewer
     * samples (rendezvous, heavier), the base answers again for those. */
    uint32_t samples = after->samples;
    uint32_t *base_owners = before->owners, *again = NULL;
    if (before->samples != samples) {
        uint64_t *hashes = malloc(samples * sizeof(*hashes));
        again = malloc(samples * sizeof(*again));
        if (hashes == NULL || again == NULL) abort();
        for (uint32_t i = 0; i < samples; i++) hashes[i] = ring_share_sample_hash(i, samples);
        ring_assign(before->ring, hashes, samples, again);
        free(hashes);
        base_owners = again;
    }
    for (uint32_t i = 0; i < samples; i++) {
        uint64_t from = ring_node_at(before->ring, base_owners[i])->id;
        uint64_t to = ring_node_at(after->ring, after->owners[i])->id;
        if (from == to) continue;
        moved++;
        uint32_t f = 0;
        while (f < flow_count && (flows[f].from != from || flows[f].to != to)) f++;
        if (f == flow_count && flow_count == sizeof(flows) / sizeof(flows[0])) {
            other++; /* more distinct flows than the table holds: counted, not itemized */
            continue;
        }
        if (f == flow_count) flows[flow_count++] = (struct ring_cmd_flow){from, to, 0};
        flows[f].samples++;
    }
    free(again);
    fprintf(out, "  keyspace moved: %.2f%% (consistent hashing's ideal: %.2f%%)\n",
            100.0 * moved / samples, 100 * ideal);
    qsort(flows, flow_count, sizeof(flows[0]), ring_cmd_flow_compare);
    for (uint32_t f = 0; f < flow_count && f < RING_CMD_FLOWS_SHOWN; f++)
        fprintf(out, "    %6.2f%% from node %llu to node %llu\n", 100.0 * flows[f].samples / samples,
                (unsigned long long)flows[f].from, (unsigned long long)flows[f].to);
    if (flow_count > RING_CMD_FLOWS_SHOWN || other > 0)
        fprintf(out, "    (and %u smaller flows)\n", flow_count > RING_CMD_FLOWS_SHOWN ? flow_count - RING_CMD_FLOWS_SHOWN : 0);
}

static void ring_cmd_shard_moves(const struct ring_cmd_options *o, const struct ring_cmd_view *before,
                                 const struct ring_cmd_view *after, double ideal, FILE *out)
{
    uint32_t count = 0;
    size_t max = (size_t)o->shards * o->replicas;
    struct ring_move *moves = malloc(max * sizeof(*moves));
    if (moves == NULL) abort();
    int rv = ring_placement_diff(before->placement, after->placement, moves, (uint32_t)max, &count);
    if (rv != RING_OK) abort(); /* same shape, and room for every replica: cannot fail */
    fprintf(out, "  shard replicas moved: %u of %zu (%.2f%%; the node's fair share: %.1f)\n", count, max,
            100.0 * count / max, ideal * (double)max);
    for (uint32_t i = 0; i < count && i < o->list; i++)
        fprintf(out, "    shard %u: node %llu -> node %llu\n", moves[i].shard,
                (unsigned long long)moves[i].from, (unsigned long long)moves[i].to);
    if (count > o->list) fprintf(out, "    ... %u more (--list N shows more)\n", count - o->list);
    free(moves);
}

/* Builds the changed membership's view and prints what moves; returns the exit status. */
static int ring_cmd_change(const struct ring_cmd_options *o, const struct ring_cmd_view *base,
                           const struct ring_membership *changed, const char *title, double ideal,
                           FILE *out)
{
    fprintf(out, "\n%s\n", title);
    int rv = ring_change_check(o->config.algorithm, o->membership->nodes, o->membership->count,
                               changed->nodes, changed->count);
    if (rv != RING_OK) {
        fprintf(out, "  refused: %s\n", ring_strerror(rv));
        return RING_CMD_EXIT_OK;
    }
    if (changed->count == 0 || o->replicas > changed->count) {
        fprintf(out, "  nothing to compare: %u node(s) left for %u replicas\n", changed->count, o->replicas);
        return RING_CMD_EXIT_OK;
    }
    struct ring_cmd_view view;
    rv = ring_cmd_view_build(o, changed->nodes, changed->count, base->samples, &view);
    if (rv != RING_OK) {
        fprintf(out, "  cannot place the shards then: %s\n", ring_strerror(rv));
        return RING_CMD_EXIT_OK;
    }
    ring_cmd_keyspace_moves(base, &view, ideal, out);
    ring_cmd_shard_moves(o, base, &view, ideal, out);
    ring_cmd_view_free(&view);
    return RING_CMD_EXIT_OK;
}

static void ring_cmd_keys(const struct ring_cmd_options *o, const struct ring_cmd_view *view, FILE *out)
{
    if (o->key_count > 0) fputc('\n', out);
    for (uint32_t k = 0; k < o->key_count; k++) {
        uint64_t owner = 0;
        int rv = ring_lookup(view->ring, o->keys[k], strlen(o->keys[k]), &owner);
        if (rv == RING_OK)
            fprintf(out, "key '%s': hash %016llx, owner node %llu\n", o->keys[k],
                    (unsigned long long)ring_hash_key(o->keys[k], strlen(o->keys[k])), (unsigned long long)owner);
        else
            fprintf(out, "key '%s': %s\n", o->keys[k], ring_strerror(rv));
    }
}

static int64_t ring_cmd_member_index(const struct ring_membership *m, uint64_t id)
{
    for (uint32_t n = 0; n < m->count; n++)
        if (m->nodes[n].id == id) return n;
    return -1;
}

/* The id a node joining by default gets: one above the largest, or the smallest unused. */
static uint64_t ring_cmd_next_id(const struct ring_membership *m)
{
    uint64_t largest = 0;
    for (uint32_t n = 0; n < m->count; n++) largest = m->nodes[n].id > largest ? m->nodes[n].id : largest;
    if (largest < UINT64_MAX) return largest + 1;
    /* At most count + 1 candidates: one of them is free. */
    for (uint64_t id = 0;; id++) {
        bool used = false;
        for (uint32_t n = 0; n < m->count && !used; n++) used = m->nodes[n].id == id;
        if (!used) return id;
    }
}

static uint64_t ring_cmd_weight_total(const struct ring_membership *m)
{
    uint64_t total = 0;
    for (uint32_t n = 0; n < m->count; n++) total += m->nodes[n].weight;
    return total;
}

/* What moves if a node joins; the ideal is its fair share, all of which moves to it. */
static int ring_cmd_join(const struct ring_cmd_options *o, const struct ring_cmd_view *base,
                         struct ring_membership *changed, FILE *out, FILE *err)
{
    char error[RING_ERROR_BYTES_MAX], text[32], title[160];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)ring_cmd_next_id(o->membership));
    const char *add = o->add != NULL ? o->add : text;
    *changed = *o->membership;
    if (ring_membership_add(changed, add, strlen(add), error) != 0) return ring_cmd_usage_error(err, "bad --add", error);
    const struct ring_node *joining = &changed->nodes[changed->count - 1];
    snprintf(title, sizeof(title), "if node %llu joins (weight %u, zone %s):", (unsigned long long)joining->id,
             joining->weight, changed->zone_names[joining->zone]);
    double ideal = (double)joining->weight / (double)(ring_cmd_weight_total(o->membership) + joining->weight);
    return ring_cmd_change(o, base, changed, title, ideal, out);
}

/* What moves if a node leaves: --remove, or the last node listed (the one jump can remove). */
static int ring_cmd_leave(const struct ring_cmd_options *o, const struct ring_cmd_view *base,
                          struct ring_membership *changed, FILE *out)
{
    const struct ring_membership *m = o->membership;
    uint64_t leaving = o->remove_given ? o->remove_id : m->nodes[m->count - 1].id;
    *changed = *m;
    int removed = ring_membership_remove(changed, leaving);
    assert(removed == 0); /* checked by ring_cmd_run before anything was printed */
    int64_t index = ring_node_index(base->ring, leaving);
    double ideal = (double)ring_node_at(base->ring, (uint32_t)index)->weight / (double)ring_cmd_weight_total(m);
    char title[64];
    snprintf(title, sizeof(title), "if node %llu leaves:", (unsigned long long)leaving);
    return ring_cmd_change(o, base, changed, title, ideal, out);
}

static int ring_cmd_report(struct ring_cmd_options *o, FILE *out, FILE *err)
{
    struct ring_cmd_view base;
    int rv = ring_cmd_view_build(o, o->membership->nodes, o->membership->count, 0, &base);
    if (rv != RING_OK) {
        fprintf(err, "chorus ring: %s\n", ring_strerror(rv));
        return RING_CMD_EXIT_USAGE;
    }
    ring_cmd_header(o, &base, out);
    ring_cmd_table(o, &base, out);
    ring_cmd_keys(o, &base, out);
    struct ring_membership *changed = malloc(sizeof(*changed));
    if (changed == NULL) abort();
    rv = ring_cmd_join(o, &base, changed, out, err);
    if (rv == 0) rv = ring_cmd_leave(o, &base, changed, out);
    free(changed);
    ring_cmd_view_free(&base);
    return rv;
}

int ring_cmd_run(int argc, char **argv, FILE *out, FILE *err)
{
    struct ring_cmd_options o = {.config = ring_config_default(RING_ALGORITHM_VNODES),
                                 .shards = RING_CMD_SHARDS_DEFAULT,
                                 .replicas = RING_CMD_REPLICAS_DEFAULT,
                                 .list = RING_CMD_LIST_DEFAULT};
    o.membership = malloc(sizeof(*o.membership));
    if (o.membership == NULL) return RING_CMD_EXIT_USAGE;
    o.membership->count = 0;
    int rv = ring_cmd_parse(&o, argc, argv, err);
    if (rv == 0 && o.remove_given && ring_cmd_member_index(o.membership, o.remove_id) < 0) {
        char text[32];
        snprintf(text, sizeof(text), "%llu", (unsigned long long)o.remove_id);
        rv = ring_cmd_usage_error(err, "--remove: no such node", text);
    }
    if (rv == 0) rv = ring_cmd_report(&o, out, err);
    free(o.membership);
    return rv;
}
