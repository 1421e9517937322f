/*
 * run.c — one seed from start to verdict: parameters drawn from the seed, the event loop, the
 * end-of-run liveness check and the linearizability check of the clients' history.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/shardmap.h"
#include "protocol/registry.h"
#include "sim/world.h"

static const char *const sim_fault_list[] = {"drop",    "dup",   "delay",    "reorder",
                                             "partition", "asym", "isolate", "crash",
                                             "transfer", "disk"};

void sim_options_defaults(struct sim_options *options)
{
    memset(options, 0, sizeof(*options));
    options->protocol = "raft";
    options->node_count = 3;
    options->group_count = 1;
    options->faults = SIM_FAULT_ALL;
    options->duration_ms = 5000;
    options->lincheck_timeout_s = 5.0;
    options->report = stdout;
}

const char *sim_fault_names(void)
{
    return "drop,dup,delay,reorder,partition,asym,isolate,crash,transfer,disk (or all, none)";
}

int sim_faults_parse(const char *list, uint32_t *faults)
{
    enum { SIM_FAULT_NAME_BYTES_MAX = 32 };
    uint32_t mask = 0;
    const char *at = list;
    for (uint32_t items = 0; items < 64; items++) { /* a bound on the list's length */
        size_t len = strcspn(at, ",");
        char name[SIM_FAULT_NAME_BYTES_MAX];
        if (len == 0 || len >= sizeof(name)) return -1;
        memcpy(name, at, len);
        name[len] = '\0';
        uint32_t bit = 0;
        if (strcmp(name, "all") == 0) bit = SIM_FAULT_ALL;
        if (strcmp(name, "none") == 0) bit = 0;
        for (uint32_t i = 0; i < sizeof(sim_fault_list) / sizeof(sim_fault_list[0]); i++)
            if (strcmp(name, sim_fault_list[i]) == 0) bit = 1u << i;
        if (bit == 0 && strcmp(name, "none") != 0) return -1;
        mask |= bit;
        if (at[len] == '\0') {
            *faults = mask;
            return 0;
        }
        at += len + 1;
    }
    return -1;
}

int sim_create(const struct sim_options *options, struct sim **out, char *error,
               size_t error_len)
{
    *out = NULL;
    const struct cn_ops *ops = protocol_find(options->protocol);
    if (ops == NULL) {
        snprintf(error, error_len, "unknown protocol '%s' (known: %s)", options->protocol,
                 protocol_names());
        return -1;
    }
    if (options->node_count < 1 || options->node_count > SIM_NODES_MAX) {
        snprintf(error, error_len, "--nodes must be 1..%d", SIM_NODES_MAX);
        return -1;
    }
    if (options->duration_ms < 1 || options->duration_ms > SIM_DURATION_MS_MAX) {
        snprintf(error, error_len, "--duration-ms must be 1..%d", SIM_DURATION_MS_MAX);
        return -1;
    }
    if (options->stats != NULL &&
        options->duration_ms * 1000 <= (int64_t)SIM_COMPARE_PARTITION_US_END) {
        snprintf(error, error_len, "--compare needs --duration-ms above %d",
                 SIM_COMPARE_PARTITION_US_END / 1000);
        return -1;
    }
    if (options->group_count < 1 || options->group_count > SIM_GROUPS_MAX) {
        snprintf(error, error_len, "--groups must be 1..%d", SIM_GROUPS_MAX);
        return -1;
    }
    if (options->stats != NULL && options->group_count != 1) {
        snprintf(error, error_len, "--compare runs one group");
        return -1;
    }
    if (options->plant == SIM_PLANT_OWN_SEED && !options->kv_store) {
        snprintf(error, error_len, "--plant own-seed needs --kv-store");
        return -1;
    }
    if (options->kv_store && options->membership) {
        /* A joining member catches up from a snapshot, which this mode does not take. */
        snprintf(error, error_len, "--kv-store takes no --membership");
        return -1;
    }
    if (options->plant != SIM_PLANT_NONE && options->plant != SIM_PLANT_WALL_STAMP &&
        options->plant != SIM_PLANT_IGNORE_DEADLINE && options->plant != SIM_PLANT_OWN_SEED &&
        options->group_count < 2) {
        snprintf(error, error_len, "--plant needs --groups 2 or more");
        return -1;
    }
    if (options->plant == SIM_PLANT_EARLY_ACK && options->storage != SIM_STORAGE_WAL) {
        snprintf(error, error_len, "--plant early-ack needs --storage wal");
        return -1;
    }
    struct sim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL) goto oom;
    sim->options = *options;
    sim->ops = ops;
    sim->node_count = options->node_count;
    sim->group_count = options->group_count;
    /* As the node: heartbeats are coalesced only with more than one group (heartbeats.c). */
    sim->coalesce_beats = sim->group_count > 1;
    sim->log_per_slot = strcmp(ops->name, "paxos") == 0;
    sim->shardmap = malloc(sizeof(*sim->shardmap));
    if (sim->shardmap == NULL) goto oom;
    if (shardmap_init(sim->shardmap, sim->group_count) != 0 || sim_keys_init(sim) != 0) {
        snprintf(error, error_len, "no key names for %u groups", sim->group_count);
        sim_destroy(sim);
        return -1;
    }
    if (sim_queue_init(&sim->queue, SIM_QUEUE_EVENTS_MAX) != 0) goto oom;
    for (uint32_t g = 0; g < sim->group_count; g++) {
        if (sim_check_init(&sim->checks[g], sim->node_count,
                           sim_check_protocol_find(ops->name)) != 0)
            goto oom;
        sim_check_share(&sim->checks[g], g, sim->group_count, &sim->verdict);
    }
    for (uint32_t i = 0; i < sim->node_count; i++) {
        struct sim_node *n = &sim->nodes[i];
        n->index = i;
        n->replicas = calloc(sim->group_count, sizeof(*n->replicas));
        if (n->replicas == NULL) goto oom;
        for (uint32_t g = 0; g < sim->group_count; g++) {
            n->replicas[g].group = g;
            if (sim_disk_init(&n->replicas[g].disk) != 0) goto oom;
            sim->disks[g][i] = &n->replicas[g].disk;
        }
        if (options->storage == SIM_STORAGE_WAL && (n->wal = sim_wal_create()) == NULL)
            goto oom;
    }
    sim->scratch_entries = malloc(sizeof(struct cn_entry) * CN_MESSAGE_ENTRIES_MAX);
    sim->snapshot_scratch = malloc(SIM_SNAPSHOT_BYTES_MAX);
    if (!sim->scratch_entries || !sim->snapshot_scratch) goto oom;
    if (options->trace_html != NULL) {
        sim->html = sim_html_create();
        if (sim->html == NULL) goto oom;
    }
    if (options->kv_store && sim_kvstore_create(sim) != 0) {
        snprintf(error, error_len, "--kv-store: no directory for the stores");
        sim_destroy(sim);
        return -1;
    }
    *out = sim;
    return 0;
oom:
    snprintf(error, error_len, "out of memory");
    sim_destroy(sim);
    return -1;
}

/* Releases what a seed left behind: cores, packets still in the queue, the history. */
static void sim_teardown(struct sim *sim)
{
    struct sim_event event;
    while (sim_queue_pop(&sim->queue, &event))
        if (event.kind == SIM_EV_DELIVER) sim_pool_put(&sim->pool, event.ptr);
    sim_queue_clear(&sim->queue);
    for (uint32_t i = 0; i < sim->node_count; i++) {
        struct sim_node *n = &sim->nodes[i];
        for (uint32_t g = 0; n->replicas != NULL && g < sim->group_count; g++) {
            struct sim_replica *r = &n->replicas[g];
            if (r->core != NULL) sim->ops->destroy(r->core);
            r->core = NULL;
            sim_kvstore_close(r); /* sim_begin clears the replicas */
        }
        n->alive = false;
    }
    if (sim->history != NULL) lincheck_history_destroy(sim->history);
    sim->history = NULL;
}

void sim_destroy(struct sim *sim)
{
    if (sim == NULL) return;
    sim_teardown(sim);
    sim_kvstore_destroy(sim);
    sim_html_destroy(sim->html);
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++) {
        struct sim_node *n = &sim->nodes[i];
        for (uint32_t g = 0; n->replicas != NULL && g < sim->group_count; g++)
            sim_disk_free(&n->replicas[g].disk);
        free(n->replicas);
        sim_wal_destroy(n->wal);
    }
    for (uint32_t g = 0; g < SIM_GROUPS_MAX; g++)
        if (sim->checks[g].applied != NULL) sim_check_free(&sim->checks[g]);
    free(sim->shardmap);
    sim_queue_free(&sim->queue);
    sim_pool_free(&sim->pool);
    free(sim->scratch_entries);
    free(sim->restore_entries);
    free(sim->snapshot_scratch);
    free(sim);
}

void sim_schedule(struct sim *sim, int64_t delay_us, enum sim_event_kind kind, uint32_t a,
                  uint64_t b, void *ptr)
{
    assert(delay_us >= 0);
    struct sim_event event = {.time_us = sim->now_us + delay_us, .kind = (uint16_t)kind,
                              .a = a, .b = b, .ptr = ptr};
    if (sim_queue_push(&sim->queue, &event)) return;
    /* The queue's bound: a message is lost; anything else is the simulator's own failure. */
    if (kind == SIM_EV_DELIVER) {
        sim_pool_put(&sim->pool, ptr);
        return;
    }
    sim_verdict_fail(&sim->verdict, "bound", "event queue full (%u events)", sim->queue.count);
}

/* Draws the seed's parameters from their own stream. */
static void sim_params_draw(struct sim *sim)
{
    struct sim_rng rng;
    sim_rng_init(&rng, sim->seed, SIM_RNG_PARAMS);
    struct sim_params *p = &sim->params;
    p->tick_us = 10000;
    p->election_ticks = 10;
    p->heartbeat_ticks = 1 + (uint32_t)sim_rng_below(&rng, 3);
    p->disk_us_min = 200;
    p->disk_us_max = sim_rng_range(&rng, 1000, 3000);
    p->client_us_min = 100;
    p->client_us_max = 1000;
    p->client_timeout_us = sim_rng_range(&rng, 1000000, 2000000);
    p->client_count = (uint32_t)sim_rng_range(&rng, 3, 5);
    p->string_keys = (uint32_t)sim_rng_range(&rng, 3, SIM_STRING_KEYS_MAX);
    p->snapshot_every = (uint64_t)sim_rng_range(&rng, 16, 128);
    /* --kv-store: no snapshots, which would have to carry the real store (kvstore.c). */
    if (sim->options.kv_store) p->snapshot_every = UINT64_MAX / 4;
    static const uint32_t chunks[] = {16, 48, 512};
    p->snapshot_chunk_bytes = chunks[sim_rng_below(&rng, 3)];
    p->leader_crash_odds = sim_rng_below(&rng, 2) ? 2 : 8;
    p->pre_vote = sim_rng_below(&rng, 4) != 0;
    p->check_quorum = sim_rng_below(&rng, 4) != 0;
    /* Membership changes need pre-vote (on in chorusd): without it, a voter whose stale
     * configuration was left behind campaigns in lockstep with the candidate that needs its
     * vote and can starve the election for longer than the liveness deadline (seed 1003744 of
     * --nodes 5 --membership; docs/membership.md). The draw above is kept either way. */
    if (sim->options.membership) p->pre_vote = true;
    /* Appends of a few entries: a follower that lags behind acknowledges old-term entries
     * before the new leader's own, which Figure 8 (Raft §5.4.2) needs. */
    p->message_entries_max = 1u << sim_rng_below(&rng, 4);
    static const uint32_t windows[] = {1, 2, 8, 64};
    p->inflight_messages_max = windows[sim_rng_below(&rng, 4)];
    p->fault_gap_us_min = 20000;
    p->fault_gap_us_max = sim_rng_range(&rng, 150000, 400000);
    p->faults_end_us = sim->options.duration_ms * 1000;
    /* --compare: the fixed script (compare.c) runs first, with no random fault. */
    p->faults_start_us = sim->options.stats != NULL ? SIM_COMPARE_PARTITION_US_END : 0;
    p->liveness_deadline_us = 20 * (int64_t)p->election_ticks * p->tick_us;
    sim_net_init(&sim->net, sim->node_count, 100, sim_rng_range(&rng, 1000, 3000), 60000);
}

/* Resets the world for `seed` and schedules the first events. */
static int sim_begin(struct sim *sim, uint64_t seed)
{
    sim->seed = seed;
    sim->now_us = 0;
    sim->done = false;
    sim->request_id_next = 0;
    sim->probing = false;
    memset(sim->probes, 0, sizeof(sim->probes));
    sim->fault_group = 0;
    sim->groups_with_ops = 0;
    sim->groups_committed = 0;
    memset(sim->beats, 0, sizeof(sim->beats));
    sim->beats_pending = 0;
    memset(sim->last_value, 0, sizeof(sim->last_value));
    memset(sim->ttl_read_floor_ms, 0, sizeof(sim->ttl_read_floor_ms));
    if (sim->html != NULL) sim_html_reset(sim->html);
    sim_rng_init(&sim->rng_fault, seed, SIM_RNG_FAULT);
    sim_rng_init(&sim->rng_workload, seed, SIM_RNG_WORKLOAD);
    sim_rng_init(&sim->rng_network, seed, SIM_RNG_NETWORK);
    sim_rng_init(&sim->rng_disk, seed, SIM_RNG_DISK);
    sim_rng_init(&sim->rng_core, seed, SIM_RNG_CORE);
    sim_params_draw(sim);
    sim_clock_start(sim); /* after the nodes' reset below too: see there */
    for (uint32_t g = 0; g < sim->group_count; g++)
        sim_check_clear(&sim->checks[g], sim->node_count);
    sim->history = lincheck_history_create();
    if (sim->history == NULL) return -1;
    for (uint32_t i = 0; i < sim->node_count; i++) {
        struct sim_node *n = &sim->nodes[i];
        struct sim_replica *replicas = n->replicas;
        struct sim_wal *wal = n->wal;
        for (uint32_t g = 0; g < sim->group_count; g++) {
            struct sim_disk disk = replicas[g].disk;
            sim_disk_reset(&disk);
            memset(&replicas[g], 0, sizeof(replicas[g]));
            replicas[g].group = g;
            replicas[g].disk = disk;
        }
        memset(n, 0, sizeof(*n));
        n->index = i;
        n->replicas = replicas;
        n->wal = wal;
        if (wal != NULL) sim_wal_reset(sim, i);
        n->tick_phase_us = (int64_t)sim_rng_below(&sim->rng_core, (uint64_t)sim->params.tick_us);
    }
    sim_clock_start(sim); /* the reset above cleared the nodes' wall clocks */
    for (uint32_t i = 0; i < sim->node_count && !sim_failed(sim); i++) sim_node_start(sim, i);
    sim->client_count = sim->params.client_count;
    for (uint32_t i = 0; i < sim->client_count; i++) {
        struct sim_client *c = &sim->clients[i];
        memset(c, 0, sizeof(*c));
        c->index = i;
        c->seq = 1;
        uint32_t target = (uint32_t)sim_rng_below(&sim->rng_workload, sim->node_count);
        for (uint32_t g = 0; g < sim->group_count; g++) c->targets[g] = target;
        sim_schedule(sim, 1 + (int64_t)sim_rng_below(&sim->rng_workload, 20000),
                     SIM_EV_CLIENT_START, i, c->seq, NULL);
    }
    sim_compare_begin(sim);
    sim_membership_begin(sim);
    if (sim->options.faults != 0)
        sim_schedule(sim, sim->params.faults_start_us +
                              sim_rng_range(&sim->rng_fault, sim->params.fault_gap_us_min,
                                            sim->params.fault_gap_us_max),
                     SIM_EV_FAULT, 0, 0, NULL);
    sim_schedule(sim, sim->params.faults_end_us, SIM_EV_FAULTS_END, 0, 0, NULL);
    return 0;
}

static bool sim_node_current(const struct sim *sim, uint32_t node, uint64_t incarnation)
{
    return sim->nodes[node].alive && sim->nodes[node].incarnation == incarnation;
}

static void sim_dispatch(struct sim *sim, const struct sim_event *e)
{
    bool faulting = sim->now_us < sim->params.faults_end_us;
    switch ((enum sim_event_kind)e->kind) {
    case SIM_EV_TICK:
        if (sim_node_current(sim, e->a, e->b)) sim_node_tick(sim, e->a);
        break;
    case SIM_EV_DELIVER: sim_node_deliver(sim, e->a, e->ptr); break;
    case SIM_EV_DISK_DONE:
        if (sim_node_current(sim, e->a, e->b)) sim_node_disk_done(sim, e->a);
        break;
    case SIM_EV_RESTART:
        if (!sim->nodes[e->a].alive) sim_node_start(sim, e->a);
        break;
    case SIM_EV_FAULT:
        if (faulting) sim_fault_next(sim);
        break;
    case SIM_EV_HEAL_LINKS:
        if (faulting) sim_fault_heal_links(sim);
        break;
    case SIM_EV_FAULTS_END: sim_fault_end(sim); break;
    case SIM_EV_PROBE: sim_probe_step(sim); break;
    case SIM_EV_MEMBERSHIP: sim_membership_next(sim); break;
    case SIM_EV_CRASH:
        if (faulting) sim_fault_crash_planned(sim, e->a, e->b);
        break;
    case SIM_EV_COMPARE_ISOLATE:
        if (faulting) sim_compare_isolate(sim);
        break;
    case SIM_EV_CLIENT_START:
        if (sim->clients[e->a].seq == e->b) sim_client_start(sim, e->a);
        break;
    case SIM_EV_CLIENT_ARRIVE: sim_client_arrive(sim, e->a, e->b); break;
    case SIM_EV_CLIENT_REPLY: sim_client_reply(sim, e->a, e->b); break;
    case SIM_EV_CLIENT_TIMEOUT: sim_client_timeout(sim, e->a, e->b); break;
    }
}

/* The event loop: until the liveness check passes or an invariant fails. */
static void sim_loop(struct sim *sim)
{
    struct sim_event event;
    for (uint64_t events = 0; !sim->done && !sim_failed(sim); events++) {
        if (events >= SIM_EVENTS_PER_SEED_MAX) {
            sim_verdict_fail(&sim->verdict, "bound", "more than %u events",
                             SIM_EVENTS_PER_SEED_MAX);
            break;
        }
        if (!sim_queue_pop(&sim->queue, &event)) {
            sim_verdict_fail(&sim->verdict, "stalled", "the event queue ran dry");
            break;
        }
        assert(event.time_us >= sim->now_us);
        sim->now_us = event.time_us;
        sim_dispatch(sim, &event);
        /* The end of the event's handling is the end of a node's loop iteration: the
         * heartbeats gathered in it leave, one message per node pair (beats.h). */
        if (sim->beats_pending > 0 && !sim_failed(sim)) sim_beats_flush(sim);
        sim->result->events++;
    }
}

/* Checks the history; a violation prints the offending operations to the report stream. */
static void sim_lincheck(struct sim *sim)
{
    struct lincheck_options options = lincheck_options_default();
    options.timeout_s = sim->options.lincheck_timeout_s;
    options.memory_bytes_max = 256u << 20;
    struct lincheck_result *result = malloc(sizeof(*result));
    if (result == NULL) {
        sim->sim_failed = true;
        return;
    }
    enum lincheck_verdict verdict = lincheck_check(sim->history, &options, result);
    FILE *report = sim->options.report;
    if (verdict == LINCHECK_VIOLATION) {
        if (sim->html != NULL)
            sim_html_culprits(sim, result->op_index,
                              result->op_count < LINCHECK_RESULT_OPS_MAX ? result->op_count
                                                                         : LINCHECK_RESULT_OPS_MAX,
                              result->op_count);
        sim_verdict_fail(&sim->verdict, "linearizability",
                         "key %s: %u operations cannot be ordered", result->key,
                         result->op_count);
        if (report != NULL) {
            fprintf(report, "seed %" PRIu64 ": history not linearizable:\n", sim->seed);
            lincheck_result_print(sim->history, result, report);
        }
    } else if (verdict == LINCHECK_UNKNOWN) {
        sim->result->lincheck_unknown = true;
        if (report != NULL)
            fprintf(report, "seed %" PRIu64 ": lincheck UNKNOWN (%s) on key %s\n", sim->seed,
                    result->message, result->key);
    }
    free(result);
}

int sim_run_seed(struct sim *sim, uint64_t seed, struct sim_seed_result *result)
{
    memset(result, 0, sizeof(*result));
    result->seed = seed;
    sim->result = result;
    sim->sim_failed = false;
    if (sim_begin(sim, seed) != 0) {
        sim_teardown(sim);
        snprintf(result->message, sizeof(result->message), "out of memory");
        return -1;
    }
    sim_loop(sim);
    sim_client_finish(sim);
    if (sim->options.kv_store && !sim_failed(sim)) sim_kvstore_seed_end(sim);
    if (!sim_failed(sim)) sim_lincheck(sim);
    result->ticks = (uint64_t)(sim->now_us / sim->params.tick_us);
    for (uint32_t g = 0; g < sim->group_count; g++) {
        result->commits += sim->checks[g].applied_max;
        result->elections += sim->checks[g].elections;
    }
    result->groups_committed = (uint64_t)__builtin_popcount(sim->groups_committed);
    result->groups_with_ops = (uint64_t)__builtin_popcount(sim->groups_with_ops);
    sim_stats_seed_end(sim);
    if (sim_failed(sim)) {
        result->violation = true;
        snprintf(result->message, sizeof(result->message), "%s", sim->verdict.message);
        SIM_TRACE(sim, -1, "VIOLATION %s", sim->verdict.message);
    }
    /* The page is written before teardown, while the seed's verdict and clock still stand. */
    if (sim->html != NULL && sim_html_write(sim, sim->options.trace_html) != 0) {
        sim_teardown(sim);
        sim->result = NULL;
        snprintf(result->message, sizeof(result->message), "--trace-html: write failed");
        return -1;
    }
    sim_teardown(sim);
    sim->result = NULL;
    if (sim->sim_failed) {
        snprintf(result->message, sizeof(result->message), "out of memory");
        return -1;
    }
    return 0;
}
