/*
 * bench.c — `chorus bench`: starts the client threads, waits for them, merges their counters
 * and prints the report (the clients themselves are in workload.c).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/workload.h"

static const char *const workload_names[] = {
    [BENCH_WORKLOAD_SET] = "set",   [BENCH_WORKLOAD_GET] = "get", [BENCH_WORKLOAD_MIXED] = "mixed",
    [BENCH_WORKLOAD_CAS] = "cas",   [BENCH_WORKLOAD_INCR] = "incr", [BENCH_WORKLOAD_ALL] = "all",
    [BENCH_WORKLOAD_QUEUE] = "queue", [BENCH_WORKLOAD_SETS] = "sets",
};

int bench_workload_parse(const char *name, enum bench_workload *workload)
{
    for (size_t i = 0; i < sizeof(workload_names) / sizeof(workload_names[0]); i++) {
        if (strcmp(name, workload_names[i]) == 0) {
            *workload = (enum bench_workload)i;
            return 0;
        }
    }
    return -1;
}

const char *bench_workload_name(enum bench_workload workload)
{
    return workload_names[workload];
}

const char *bench_error_name(enum bench_error error)
{
    static const char *const names[] = {
        [BENCH_ERROR_TRYAGAIN] = "tryagain", [BENCH_ERROR_UNKNOWN] = "unknown",
        [BENCH_ERROR_BUSY] = "busy",         [BENCH_ERROR_OTHER] = "other",
        [BENCH_ERROR_TIMEOUT] = "timeout",   [BENCH_ERROR_CONNECTION] = "connection-lost",
        [BENCH_ERROR_NOT_SENT] = "not-sent", [BENCH_ERROR_BAD_REPLY] = "bad-reply",
    };
    _Static_assert(sizeof(names) / sizeof(names[0]) == BENCH_ERROR_KINDS, "one name per kind");
    return names[error];
}

void bench_config_default(struct bench_config *config)
{
    memset(config, 0, sizeof(*config));
    strcpy(config->nodes[0].host, "127.0.0.1");
    config->nodes[0].port = 6379;
    config->node_count = 1;
    config->clients = 50;
    config->requests = 100000;
    config->value_bytes = 16;
    config->keyspace = 1000;
    config->workload = BENCH_WORKLOAD_SET;
    config->read_ratio = 0.5;
    config->timeout_ms = 2000;
    config->seed = 1;
}

static void report(const struct bench_config *config, const char *key_prefix,
                   const struct histogram *latency,
                   const struct bench_result *r, FILE *out)
{
    char nodes[BENCH_NODES_MAX * CLIENT_ADDRESS_BYTES_MAX];
    size_t at = 0;
    for (uint32_t i = 0; i < config->node_count; i++) {
        char one[CLIENT_ADDRESS_BYTES_MAX];
        client_endpoint_format(&config->nodes[i], one);
        at += (size_t)snprintf(nodes + at, sizeof(nodes) - at, "%s%s", i ? "," : "", one);
    }
    fprintf(out, "workload %s", bench_workload_name(config->workload));
    if (config->workload == BENCH_WORKLOAD_MIXED || config->workload == BENCH_WORKLOAD_ALL)
        fprintf(out, " (read ratio %.2f)", config->read_ratio);
    fprintf(out, ", %u clients, %u-byte values, %u keys%s%s, nodes %s\n", config->clients,
            config->value_bytes, config->keyspace, key_prefix[0] ? " prefixed " : "", key_prefix,
            nodes);
    fprintf(out, "throughput: %" PRIu64 " ok in %.3f s = %.0f ops/s\n", r->ok, r->seconds,
            r->seconds > 0 ? (double)r->ok / r->seconds : 0.0);
    fprintf(out, "latency ms: mean %.3f p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
            histogram_mean(latency) / 1e6, (double)histogram_quantile(latency, 0.50) / 1e6,
            (double)histogram_quantile(latency, 0.90) / 1e6,
            (double)histogram_quantile(latency, 0.99) / 1e6,
            (double)histogram_quantile(latency, 0.999) / 1e6, (double)latency->max / 1e6);
    uint64_t errors = 0;
    for (int i = 0; i < BENCH_ERROR_KINDS; i++)
        errors += r->errors[i];
    fprintf(out, "errors: %" PRIu64, errors);
    for (int i = 0; i < BENCH_ERROR_KINDS; i++)
        fprintf(out, "%s%s %" PRIu64, i ? ", " : " (", bench_error_name((enum bench_error)i),
                r->errors[i]);
    fprintf(out, "); connect failures %" PRIu64 "\n", r->connect_failures);
    if (config->history_path != NULL)
        fprintf(out, "history: %s: %" PRIu64 " operations, %" PRIu64 " unknown%s\n",
                config->history_path, r->history_operations, r->history_unknown,
                r->history_failed ? " (WRITE FAILED: incomplete)" : "");
}

/* SIGTERM or SIGINT end a run early as its deadline would: every client finishes the call
 * it has in flight (recording its outcome), the queue workload drains its queues, and the
 * history is closed complete. A test then
 * stops its load the moment its faults are over instead of waiting out a length chosen for
 * the slowest machine. The handler only stores to a lock-free atomic. */
static atomic_bool *volatile bench_stop_on_signal;

static void bench_on_signal(int signo)
{
    (void)signo;
    atomic_bool *stop = bench_stop_on_signal;
    if (stop != NULL)
        atomic_store(stop, true);
}

static void bench_signals_catch(atomic_bool *stop, struct sigaction saved[2])
{
    bench_stop_on_signal = stop;
    struct sigaction sa = {.sa_handler = bench_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &saved[0]);
    sigaction(SIGINT, &sa, &saved[1]);
}

static void bench_signals_restore(const struct sigaction saved[2])
{
    sigaction(SIGTERM, &saved[0], NULL);
    sigaction(SIGINT, &saved[1], NULL);
    bench_stop_on_signal = NULL;
}

int bench_run(const struct bench_config *config, FILE *out, struct bench_result *result)
{
    assert(config->node_count >= 1 && config->node_count <= BENCH_NODES_MAX);
    assert(config->clients >= 1 && config->clients <= BENCH_CLIENTS_MAX);
    assert(config->keyspace >= 1 && config->value_bytes <= BENCH_VALUE_BYTES_MAX);
    assert(config->timeout_ms > 0);
    int rv = -1;
    struct history_writer history;
    struct bench_shared shared = {.config = config};
    atomic_init(&shared.requests_claimed, 0);
    atomic_init(&shared.next_client_id, 1);
    atomic_init(&shared.stop, false);
    atomic_init(&shared.ended, false);
    struct bench_client *clients = calloc(config->clients, sizeof(*clients));
    pthread_t *threads = calloc(config->clients, sizeof(*threads));
    struct histogram *latency = malloc(sizeof(*latency));
    uint32_t started = 0, initialized = 0;
    int64_t start_ns = client_now_ns();
    struct bench_result r = {0};
    if (clients == NULL || threads == NULL || latency == NULL) {
        fprintf(stderr, "chorus bench: out of memory\n");
        goto out;
    }
    if (config->key_prefix != NULL)
        snprintf(shared.key_prefix, sizeof(shared.key_prefix), "%s", config->key_prefix);
    else if (config->history_path != NULL)
        snprintf(shared.key_prefix, sizeof(shared.key_prefix), "h%" PRIx64 ".",
                 (uint64_t)time(NULL) * 1000003u ^ (uint64_t)client_now_ns());
    if (config->history_path != NULL) {
        if (history_writer_open(&history, config->history_path) != 0) {
            fprintf(stderr, "chorus bench: %s: %s\n", config->history_path, strerror(errno));
            goto out;
        }
        shared.history = &history;
    }
    for (; initialized < config->clients; initialized++) {
        if (bench_client_init(&clients[initialized], &shared, initialized) != 0) {
            fprintf(stderr, "chorus bench: out of memory\n");
            goto join;
        }
    }
    static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "the signal handler needs a lock-free flag");
    struct sigaction saved[2];
    bench_signals_catch(&shared.ended, saved);
    start_ns = client_now_ns();
    if (config->seconds > 0)
        shared.deadline_ns = start_ns + (int64_t)(config->seconds * 1e9);
    for (; started < config->clients; started++) {
        int error = pthread_create(&threads[started], NULL, bench_client_main, &clients[started]);
        if (error != 0) {
            fprintf(stderr, "chorus bench: pthread_create: %s\n", strerror(error));
            atomic_store(&shared.stop, true);
            goto join;
        }
    }
    rv = 0;
join:
    for (uint32_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (initialized == config->clients)
        bench_signals_restore(saved);
    r.seconds = (double)(client_now_ns() - start_ns) / 1e9;
    histogram_init(latency);
    for (uint32_t i = 0; i < initialized; i++) {
        histogram_merge(latency, &clients[i].latency_ns);
        r.ok += clients[i].ok;
        r.connect_failures += clients[i].connect_failures;
        for (int k = 0; k < BENCH_ERROR_KINDS; k++)
            r.errors[k] += clients[i].errors[k];
        bench_client_destroy(&clients[i]);
    }
    if (shared.history != NULL) {
        r.history_operations = history.operations;
        r.history_unknown = history.unknown;
        r.history_failed = history_writer_close(&history) != 0;
        if (r.history_failed)
            rv = -1;
    }
    if (rv == 0)
        report(config, shared.key_prefix, latency, &r, out);
out:
    if (result != NULL)
        *result = r;
    free(clients);
    free(threads);
    free(latency);
    return rv;
}
