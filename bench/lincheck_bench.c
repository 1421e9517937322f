/*
 * lincheck_bench — how fast chorus-lincheck decides generated histories.
 *
 *   lincheck_bench [OPS [CLIENTS [KEYS [OUT.jsonl]]]]     defaults: 100000 50 1000
 *
 * With OUT.jsonl the first history is also written there, to time chorus-lincheck on it.
 *
 * 1. The figure: OPS operations from CLIENTS clients over KEYS keys, 1% with an
 *    unknown outcome, written as JSON lines, parsed back and checked (must be linearizable).
 * 2. Growth with contention: 10,000 operations on ONE key from 2, 5, 10, 20 and 50 clients.
 * Prints ops, clients, keys, seconds, states explored and peak search memory per line.
 * Histories are linearizable by construction (lincheck_generate), so NOT linearizable is a
 * bug: the program then exits 1. "unknown" (the memory bound ran out) is reported as such.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lincheck/lincheck.h"

enum {
    BENCH_CONTENTION_OPS = 10000,
    BENCH_CONTENTION_MEMORY_BYTES_MAX = 256u << 20, /* so that 50 clients on a key ends soon */
};

static double bench_now_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static struct lincheck_history *bench_generate(uint32_t ops, uint32_t clients, uint32_t keys,
                                               uint32_t unknown_permille)
{
    struct lincheck_history *history = lincheck_history_create();
    struct lincheck_generate_options options = {
        .seed = 2026, .op_count = ops, .client_count = clients, .key_count = keys,
        .value_count = 5, .unknown_permille = unknown_permille, .latency_ns_max = 1000000,
    };
    if (history == NULL || lincheck_generate(history, &options) != 0) {
        fprintf(stderr, "lincheck_bench: generation failed\n");
        exit(1);
    }
    return history;
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

int main(int argc, char **argv)
{
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
    return 0;
}
