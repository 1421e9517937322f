/*
 * fuzz.h — what every chorus fuzz harness provides, built either with libFuzzer
 * (clang -fsanitize=fuzzer, see run.sh) or with driver.c, which replays corpus files
 * (tests/checks/fuzz_smoke.sh).
 */
#ifndef CHORUS_FUZZ_H
#define CHORUS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Feeds one input; returns 0. A property violation aborts, which both drivers report. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A violated property is a bug: say which, then abort so the input is kept as a crash. */
#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#endif
