/*
 * compare.c — what `chorus-sim --compare` measures, and its table.
 *
 * A compare run is an ordinary seed with options.stats set. The seed then begins with a fixed
 * script, the same for every protocol: a quiet window (no faults) where the steady-state costs
 * are counted, then whoever leads is isolated from everyone for a fixed time, then the random
 * fault schedule of the seed runs as usual (its times and kinds come from the fault stream only;
 * which node a fault hits may depend on who leads, so two protocols see the same schedule in
 * time and kind, not byte for byte). The hooks below are called from node.c, wire.c, client.c
 * and run.c and return at once when stats is NULL, so that normal runs are unchanged.
 */
#include <assert.h>
#include <inttypes.h>

#include "consensus/codec.h"
#include "sim/world.h"

static bool sim_compare_steady(const struct sim *sim)
{
    return sim->now_us >= SIM_COMPARE_STEADY_US_BEGIN && sim->now_us < SIM_COMPARE_STEADY_US_END;
}

/* Per seed: the script's one event, and no recovery open. */
void sim_compare_begin(struct sim *sim)
{
    sim->recovery_open = false;
    sim->compare_isolated = false;
    if (sim->options.stats == NULL) return;
    sim_schedule(sim, SIM_COMPARE_PARTITION_US_BEGIN, SIM_EV_COMPARE_ISOLATE, 0, 0, NULL);
}

/* The isolation window: the leader, if there is one, loses every link until the window ends
 * (a heal of every link; no random fault runs before then). */
void sim_compare_isolate(struct sim *sim)
{
    struct sim_stats *stats = sim->options.stats;
    assert(stats != NULL);
    int leader = sim_fault_leader(sim, 0);
    if (leader < 0) {
        stats->partition_skipped++;
        return;
    }
    SIM_TRACE(sim, leader, "compare: isolate the leader");
    sim_net_isolate(&sim->net, (uint32_t)leader);
    sim->compare_isolated = true;
    stats->partition_us += SIM_COMPARE_PARTITION_US_END - SIM_COMPARE_PARTITION_US_BEGIN;
    sim_schedule(sim, SIM_COMPARE_PARTITION_US_END - SIM_COMPARE_PARTITION_US_BEGIN,
                 SIM_EV_HEAL_LINKS, 0, 0, NULL);
}

void sim_stats_sent(struct sim *sim, const struct cn_message *message)
{
    struct sim_stats *stats = sim->options.stats;
    if (stats == NULL) return;
    uint64_t bytes = cn_message_encoded_size(message);
    stats->messages++;
    stats->bytes += bytes;
    if (!sim_compare_steady(sim)) return;
    stats->steady_messages++;
    stats->steady_bytes += bytes;
}

void sim_stats_persist(struct sim *sim)
{
    struct sim_stats *stats = sim->options.stats;
    if (stats == NULL) return;
    stats->persist_steps++;
    if (sim_compare_steady(sim)) stats->steady_persist_steps++;
}

void sim_stats_client_commit(struct sim *sim, int64_t proposed_us)
{
    struct sim_stats *stats = sim->options.stats;
    if (stats == NULL) return;
    assert(sim->now_us >= proposed_us);
    uint64_t bucket = (uint64_t)(sim->now_us - proposed_us) / SIM_STATS_LATENCY_BUCKET_US;
    if (bucket >= SIM_STATS_LATENCY_BUCKETS) bucket = SIM_STATS_LATENCY_BUCKETS - 1;
    stats->latency[bucket]++;
    stats->client_commits++;
    if (sim_compare_steady(sim)) stats->steady_commits++;
    if (sim->compare_isolated && sim->now_us < SIM_COMPARE_PARTITION_US_END)
        stats->partition_commits++;
}

void sim_stats_crash(struct sim *sim, uint32_t node)
{
    if (sim->options.stats == NULL || sim->recovery_open) return;
    if (sim_fault_leader(sim, 0) != (int)node) return;
    sim->recovery_open = true;
    sim->recovery_start_us = sim->now_us;
    sim->recovery_applied_floor = sim->checks[0].applied_max;
}

void sim_stats_applied(struct sim *sim, uint32_t node, uint32_t group, uint64_t index)
{
    struct sim_stats *stats = sim->options.stats;
    if (stats == NULL || !sim->recovery_open || group != 0) return; /* --compare: one group */
    if (sim_replica(sim, node, 0)->role != CN_ROLE_LEADER || index <= sim->recovery_applied_floor)
        return;
    uint64_t bucket = (uint64_t)(sim->now_us - sim->recovery_start_us) /
                      SIM_STATS_RECOVERY_BUCKET_US;
    if (bucket >= SIM_STATS_RECOVERY_BUCKETS) bucket = SIM_STATS_RECOVERY_BUCKETS - 1;
    stats->recovery[bucket]++;
    stats->recoveries++;
    sim->recovery_open = false;
}

void sim_stats_seed_end(struct sim *sim)
{
    struct sim_stats *stats = sim->options.stats;
    if (stats == NULL) return;
    stats->runs++;
    stats->violations += sim_failed(sim);
    stats->recoveries_open += sim->recovery_open;
    stats->steady_us += SIM_COMPARE_STEADY_US_END - SIM_COMPARE_STEADY_US_BEGIN;
}

void sim_stats_add(struct sim_stats *into, const struct sim_stats *from)
{
    _Static_assert(sizeof(struct sim_stats) % sizeof(uint64_t) == 0, "only uint64_t fields");
    uint64_t *to = (uint64_t *)into;
    const uint64_t *add = (const uint64_t *)from;
    for (size_t i = 0; i < sizeof(*from) / sizeof(uint64_t); i++) to[i] += add[i];
}

/* The q-quantile (0 < q < 1) of a histogram, as the upper edge of its bucket in `unit`s;
 * -1 when it is empty. */
static double sim_stats_quantile(const uint64_t *buckets, uint32_t count, double q,
                                 double bucket_units)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) total += buckets[i];
    if (total == 0) return -1;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < count; i++) {
        seen += buckets[i];
        if (seen > rank) return (double)(i + 1) * bucket_units;
    }
    return (double)count * bucket_units;
}

static double sim_ratio(uint64_t a, uint64_t b)
{
    return b == 0 ? 0 : (double)a / (double)b;
}

/* One table row: a label, then one cell per protocol from `cell`. */
static void sim_stats_row(FILE *out, const char *label, const struct sim_stats *stats,
                          uint32_t count, void (*cell)(char *, size_t, const struct sim_stats *))
{
    fprintf(out, "| %s |", label);
    for (uint32_t i = 0; i < count; i++) {
        char text[96];
        cell(text, sizeof(text), &stats[i]);
        fprintf(out, " %s |", text);
    }
    fputc('\n', out);
}

/* Commit latency: ticks are 10 ms (sim params tick_us), so also shown in ms. */
static void sim_cell_latency(char *t, size_t n, const struct sim_stats *s)
{
    double unit_ms = SIM_STATS_LATENCY_BUCKET_US / 1000.0;
    double p50 = sim_stats_quantile(s->latency, SIM_STATS_LATENCY_BUCKETS, 0.50, unit_ms);
    double p99 = sim_stats_quantile(s->latency, SIM_STATS_LATENCY_BUCKETS, 0.99, unit_ms);
    snprintf(t, n, "%.2f / %.2f ticks (%.1f / %.1f ms)", p50 / 10, p99 / 10, p50, p99);
}
static void sim_cell_steady_messages(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.2f msgs, %.0f B", sim_ratio(s->steady_messages, s->steady_commits),
             sim_ratio(s->steady_bytes, s->steady_commits));
}
static void sim_cell_messages(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.2f msgs, %.0f B", sim_ratio(s->messages, s->client_commits),
             sim_ratio(s->bytes, s->client_commits));
}
static void sim_cell_steady_persist(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.2f", sim_ratio(s->steady_persist_steps, s->steady_commits));
}
static void sim_cell_persist(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.2f", sim_ratio(s->persist_steps, s->client_commits));
}
static void sim_cell_recovery(char *t, size_t n, const struct sim_stats *s)
{
    double unit_ms = SIM_STATS_RECOVERY_BUCKET_US / 1000.0;
    snprintf(t, n, "%.0f / %.0f ms (%" PRIu64 " crashes, %" PRIu64 " open at end)",
             sim_stats_quantile(s->recovery, SIM_STATS_RECOVERY_BUCKETS, 0.50, unit_ms),
             sim_stats_quantile(s->recovery, SIM_STATS_RECOVERY_BUCKETS, 0.99, unit_ms),
             s->recoveries, s->recoveries_open);
}
static void sim_cell_steady_throughput(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.0f cmd/s", sim_ratio(s->steady_commits * 1000000, s->steady_us));
}
static void sim_cell_partition_throughput(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%.0f cmd/s (%" PRIu64 " windows without a leader)",
             sim_ratio(s->partition_commits * 1000000, s->partition_us), s->partition_skipped);
}
static void sim_cell_commits(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%" PRIu64, s->client_commits);
}
static void sim_cell_violations(char *t, size_t n, const struct sim_stats *s)
{
    snprintf(t, n, "%" PRIu64 " in %" PRIu64 " seeds", s->violations, s->runs);
}

void sim_stats_print_table(FILE *out, const char *const *names, const struct sim_stats *stats,
                           uint32_t count)
{
    fprintf(out, "| measure (simulated) |");
    for (uint32_t i = 0; i < count; i++) fprintf(out, " %s |", names[i]);
    fprintf(out, "\n|---|");
    for (uint32_t i = 0; i < count; i++) fprintf(out, "---|");
    fputc('\n', out);
    sim_stats_row(out, "commit latency p50 / p99, proposal to apply on the proposer", stats,
                  count, sim_cell_latency);
    sim_stats_row(out, "messages and bytes per committed command, quiet window", stats, count,
                  sim_cell_steady_messages);
    sim_stats_row(out, "messages and bytes per committed command, whole run", stats, count,
                  sim_cell_messages);
    sim_stats_row(out, "persistence steps per committed command, quiet window", stats, count,
                  sim_cell_steady_persist);
    sim_stats_row(out, "persistence steps per committed command, whole run", stats, count,
                  sim_cell_persist);
    sim_stats_row(out, "leader recovery after a leader crash, p50 / p99", stats, count,
                  sim_cell_recovery);
    sim_stats_row(out, "throughput, quiet window", stats, count, sim_cell_steady_throughput);
    sim_stats_row(out, "throughput, leader isolated for 1.5 s", stats, count,
                  sim_cell_partition_throughput);
    sim_stats_row(out, "client writes committed", stats, count, sim_cell_commits);
    sim_stats_row(out, "violations", stats, count, sim_cell_violations);
}
