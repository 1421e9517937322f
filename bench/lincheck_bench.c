/*
 * lincheck_bench — how fast chorus-lincheck decides generated histories.
 *
 *   lincheck_bench [OPS [CLIENTS [KEYS [OUT.jsonl]]]]     defaults: 100000 50 1000
 *   lincheck_bench targets [DIR]                          only part 3
 *
 * With OUT.jsonl the first history is also written there, to time chorus-lincheck on it; with
 * DIR the histories of part 3 are written there as DIR/<name>.jsonl.
 *
 * 1. The figure: OPS operations from CLIENTS clients over KEYS keys, 1% with an
 *    unknown outcome, written as JSON lines, parsed back and checked (must be linearizable).
 * 2. Growth with contention: 10,000 operations on ONE key from 2, 5, 10, 20 and 50 clients
 *    (the MIXED workload: INCR and PUT on the same key, the hardest there is).
 * 3. The targets of issue 13, each as generated (linearizable) and with a planted stale read
 *    (NOT linearizable), all on ONE key from 50 clients: a register (get/put/del/cas, 5 values)
 *    of 10,000 operations; the same with 1% of outcomes unknown, 4,000 operations; a counter
 *    (incr, get) of 4,000 operations with 1% of outcomes unknown. Each must be decided — the
 *    right verdict, not "unknown" — within TARGET_SECONDS_MAX and the default memory bound, or
 *    the program exits 1. A last line measures the register of 10,000 operations with 1%
 *    unknown, which is not a target met yet: its time is printed, not checked.
 * Prints ops, clients, keys, seconds, states explored and peak search memory per line.
 * Histories of parts 1 and 2 are linearizable by construction (lincheck_generate), so NOT
 * linearizable is a bug: the program then exits 1. "unknown" (the memory bound ran out) is
 * reported as such there.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lincheck/lincheck.h"

enum {
    BENCH_CONTENTION_OPS = 10000,
    BENCH_CONTENTION_MEMORY_BYTES_MAX = 256u << 20, /* so that 50 clients on a key ends soon */
    BENCH_TARGET_CLIENTS = 50,
    BENCH_TARGET_UNKNOWN_PERMILLE = 10,
    BENCH_MEASURE_SECONDS_MAX = 10, /* the line that is measured, not a target */
};
#define TARGET_SECONDS_MAX 2.0

static double bench_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static struct lincheck_history *bench_generate_workload(uint32_t ops, uint32_t clients,
                                                        uint32_t keys, uint32_t unknown_permille,
                                                        enum lincheck_workload workload,
                                                        bool plant_stale_read)
{
    struct lincheck_history *history = lincheck_history_create();
    struct lincheck_generate_options options = {
        .workload = workload, .plant_stale_read = plant_stale_read,
        .seed = 2026, .op_count = ops, .client_count = clients, .key_count = keys,
        .value_count = 5, .unknown_permille = unknown_permille, .latency_ns_max = 1000000,
    };
    if (history == NULL || lincheck_generate(history, &options) != 0) {
        fprintf(stderr, "lincheck_bench: generation failed\n");
        exit(1);
    }
    return history;
}

static struct lincheck_history *bench_generate(uint32_t ops, uint32_t clients, uint32_t keys,
                                               uint32_t unknown_permille)
{
    return bench_generate_workload(ops, clients, keys, unknown_permille,
                                   LINCHECK_WORKLOAD_MIXED, false);
}

/* Writes the history as JSON lines and parses it back, as the tool would read it. */
static void bench_write(const struct lincheck_history *history, FILE *out)
{
    for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
        lincheck_op_print_json(lincheck_history_op(history, i), out);
        fputc('\n', out);
    }
}

static struct lincheck_history *bench_roundtrip(const struct lincheck_history *history,
                                                double *parse_s, size_t *bytes)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, bytes);
    if (out == NULL) exit(1);
    bench_write(history, out);
    fclose(out);
    struct lincheck_history *parsed = lincheck_history_create();
    char error[LINCHECK_ERROR_BYTES_MAX];
    double start = bench_now_s();
    if (parsed == NULL ||
        lincheck_history_parse_jsonl(parsed, text, *bytes, error, sizeof(error)) != 0) {
        fprintf(stderr, "lincheck_bench: parse failed: %s\n", error);
        exit(1);
    }
    *parse_s = bench_now_s() - start;
    free(text);
    return parsed;
}

/* Checks and prints one line. UNKNOWN (a budget ran out) is a measurement, not a failure. */
static void bench_check(const char *label, const struct lincheck_history *history,
                        uint32_t clients, uint32_t keys, const struct lincheck_options *options)
{
    static struct lincheck_result result;
    enum lincheck_verdict verdict = lincheck_check(history, options, &result);
    printf("%-10s ops %7u  clients %3u  keys %5u  check %7.3f s  states %9" PRIu64
           "  peak %9.1f KiB  %s%s\n",
           label, lincheck_history_count(history), clients, keys, result.seconds,
           result.states_explored, (double)result.memory_bytes_peak / 1024.0,
           verdict == LINCHECK_OK ? "linearizable"
           : verdict == LINCHECK_UNKNOWN ? "unknown: " : "WRONG VERDICT",
           verdict == LINCHECK_UNKNOWN ? result.message : "");
    if (verdict == LINCHECK_VIOLATION) {
        lincheck_result_print(history, &result, stdout);
        exit(1);
    }
}

/* Part 3: one target history, checked with the default options (or `timeout_s`, when not 0);
 * false when it was not decided right within TARGET_SECONDS_MAX. */
static bool bench_target(const char *name, enum lincheck_workload workload, uint32_t ops,
                         uint32_t unknown_permille, bool plant_stale_read,
                         const char *directory, double timeout_s)
{
    struct lincheck_history *history =
        bench_generate_workload(ops, BENCH_TARGET_CLIENTS, 1, unknown_permille, workload,
                                plant_stale_read);
    if (directory != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.jsonl", directory, name);
        FILE *out = fopen(path, "w");
        if (out == NULL) {
            perror(path);
            exit(2);
        }
        bench_write(history, out);
        fclose(out);
    }
    static struct lincheck_result result;
    struct lincheck_options options = lincheck_options_default();
    if (timeout_s > 0) options.timeout_s = timeout_s;
    enum lincheck_verdict want = plant_stale_read ? LINCHECK_VIOLATION : LINCHECK_OK;
    enum lincheck_verdict verdict = lincheck_check(history, &options, &result);
    bool right = verdict == want && result.seconds < TARGET_SECONDS_MAX;
    printf("%-20s ops %5u  clients %u  unknown %2u%%  check %7.3f s  states %9" PRIu64
           "  peak %9.1f KiB  %s%s%s\n",
           name, ops, BENCH_TARGET_CLIENTS, unknown_permille / 10, result.seconds,
           result.states_explored,
           (double)result.memory_bytes_peak / 1024.0,
           verdict == LINCHECK_OK ? "linearizable"
           : verdict == LINCHECK_VIOLATION ? "NOT linearizable" : "unknown: ",
           verdict == LINCHECK_UNKNOWN ? result.message : "",
           right                        ? ""
           : verdict == LINCHECK_UNKNOWN ? "  <- NOT DECIDED"
           : verdict != want            ? "  <- WRONG"
                                        : "  <- TOO SLOW");
    if (verdict == LINCHECK_VIOLATION && verdict == want)
        printf("%-20s   %u ops shown (%s)\n", "", result.op_count,
               result.minimal ? "minimal" : "not shrunk to a minimum");
    lincheck_history_destroy(history);
    return right;
}

/* Part 3: the targets. Returns 0 when all were met, else 1. */
static int bench_targets(const char *directory)
{
    printf("targets: one key, %u clients, decided in under %.0f s\n", BENCH_TARGET_CLIENTS,
           TARGET_SECONDS_MAX);
    const enum lincheck_workload reg = LINCHECK_WORKLOAD_REGISTER;
    const enum lincheck_workload counter = LINCHECK_WORKLOAD_COUNTER;
    const uint32_t unknown = BENCH_TARGET_UNKNOWN_PERMILLE;
    bool met = true;
    met &= bench_target("register", reg, 10000, 0, false, directory, 0);
    met &= bench_target("register-stale", reg, 10000, 0, true, directory, 0);
    met &= bench_target("register-unk", reg, 4000, unknown, false, directory, 0);
    met &= bench_target("register-unk-stale", reg, 4000, unknown, true, directory, 0);
    met &= bench_target("counter-unk", counter, 4000, unknown, false, directory, 0);
    met &= bench_target("counter-unk-stale", counter, 4000, unknown, true, directory, 0);
    printf("targets: %s\nmeasured, not a target yet:\n", met ? "all met" : "NOT MET");
    bench_target("register-unk-10k", reg, 10000, unknown, false, directory,
                 BENCH_MEASURE_SECONDS_MAX);
    return met ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "targets") == 0)
        return bench_targets(argc > 2 ? argv[2] : NULL);
    uint32_t ops = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
    uint32_t clients = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 50;
    uint32_t keys = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1000;
    if (ops == 0 || ops > LINCHECK_OPS_MAX || clients == 0 || keys == 0) {
        fprintf(stderr, "usage: lincheck_bench [OPS [CLIENTS [KEYS [OUT.jsonl]]]]\n");
        return 2;
    }
    double start = bench_now_s();
    struct lincheck_history *generated = bench_generate(ops, clients, keys, 10);
    double generate_s = bench_now_s() - start;
    if (argc > 4) {
        FILE *out = fopen(argv[4], "w");
        if (out == NULL) {
            perror(argv[4]);
            return 2;
        }
        bench_write(generated, out);
        fclose(out);
    }
    double parse_s;
    size_t bytes;
    struct lincheck_history *history = bench_roundtrip(generated, &parse_s, &bytes);
    printf("generated %u ops in %.3f s; %.1f MiB of JSON lines parsed in %.3f s\n", ops,
           generate_s, (double)bytes / 1048576.0, parse_s);
    struct lincheck_options options = lincheck_options_default();
    bench_check("history", history, clients, keys, &options);
    lincheck_history_destroy(history);
    lincheck_history_destroy(generated);

    options.memory_bytes_max = BENCH_CONTENTION_MEMORY_BYTES_MAX;
    printf("contention: %u ops on one key, no unknown outcomes / 1%% unknown, memory bound %u MiB\n",
           BENCH_CONTENTION_OPS, BENCH_CONTENTION_MEMORY_BYTES_MAX >> 20);
    static const uint32_t per_key[] = { 2, 5, 10, 20, 50 };
    for (size_t i = 0; i < sizeof(per_key) / sizeof(per_key[0]); i++) {
        for (uint32_t unknown = 0; unknown <= 10; unknown += 10) {
            struct lincheck_history *one_key =
                bench_generate(BENCH_CONTENTION_OPS, per_key[i], 1, unknown);
            bench_check(unknown ? "1key+unk" : "1key", one_key, per_key[i], 1, &options);
            lincheck_history_destroy(one_key);
        }
    }
    return bench_targets(NULL);
}
