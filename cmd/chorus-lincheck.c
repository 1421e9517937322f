/*
 * chorus-lincheck — decides whether key-value histories (JSON lines) are linearizable.
 *
 *   chorus-lincheck [--timeout S] [--memory-mb N] FILE...     ("-" reads standard input)
 *
 * Each FILE is one history, checked on its own. Exit status, the worst over all files:
 *   0 every history is linearizable        1 one is NOT linearizable (key and ops printed)
 *   2 a check ran out of time or memory    3 malformed input, unreadable file or bad usage
 * (3 outranks 1, which outranks 2.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/lincheck.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_VIOLATION = 1,
    CLI_EXIT_UNKNOWN = 2,
    CLI_EXIT_BAD_INPUT = 3,
    CLI_READ_CHUNK_BYTES = 1u << 20,
};
#define CLI_FILE_BYTES_MAX ((size_t)4 << 30) /* one history file */

static void cli_usage(FILE *out)
{
    fputs("usage: chorus-lincheck [--timeout S] [--memory-mb N] FILE...  (- reads stdin)\n"
          "  --timeout S     give up with \"unknown\" after S seconds (default 60)\n"
          "  --memory-mb N   search memory per key before \"unknown\" (default 1024)\n"
          "exit: 0 linearizable, 1 NOT linearizable, 2 unknown, 3 malformed input\n",
          out);
}

/* Reads the whole stream; returns NULL (with errno or a message) on failure or when the file
 * exceeds CLI_FILE_BYTES_MAX. */
static char *cli_read(FILE *in, size_t *length, const char **why)
{
    size_t capacity = CLI_READ_CHUNK_BYTES, used = 0;
    char *data = malloc(capacity);
    *why = NULL;
    if (data == NULL) return NULL;
    for (;;) { /* bounded by CLI_FILE_BYTES_MAX */
        if (used == capacity) {
            if (capacity >= CLI_FILE_BYTES_MAX) {
                *why = "file too large";
                free(data);
                return NULL;
            }
            char *bigger = realloc(data, capacity * 2);
            if (bigger == NULL) {
                free(data);
                return NULL;
            }
            data = bigger;
            capacity *= 2;
        }
        size_t got = fread(data + used, 1, capacity - used, in);
        used += got;
        if (got == 0) break;
    }
    if (ferror(in)) {
        free(data);
        return NULL;
    }
    *length = used;
    return data;
}

static int cli_check_file(const char *path, const struct lincheck_options *options,
                          bool prefix)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "chorus-lincheck: %s: %s\n", path, strerror(errno));
        return CLI_EXIT_BAD_INPUT;
    }
    size_t length = 0;
    const char *why;
    char *text = cli_read(in, &length, &why);
    int saved_errno = errno;
    if (in != stdin) fclose(in);
    if (text == NULL) {
        fprintf(stderr, "chorus-lincheck: %s: %s\n", path, why ? why : strerror(saved_errno));
        return CLI_EXIT_BAD_INPUT;
    }
    struct lincheck_history *history = lincheck_history_create();
    if (history == NULL) {
        free(text);
        fprintf(stderr, "chorus-lincheck: out of memory\n");
        return CLI_EXIT_BAD_INPUT;
    }
    char error[LINCHECK_ERROR_BYTES_MAX];
    int status;
    if (lincheck_history_parse_jsonl(history, text, length, error, sizeof(error)) != 0) {
        fprintf(stderr, "chorus-lincheck: %s: %s\n", path, error);
        printf("%s%smalformed: %s\n", prefix ? path : "", prefix ? ": " : "", error);
        status = CLI_EXIT_BAD_INPUT;
    } else {
        struct lincheck_result *result = malloc(sizeof(*result));
        if (result == NULL) {
            status = CLI_EXIT_BAD_INPUT;
        } else {
            enum lincheck_verdict verdict = lincheck_check(history, options, result);
            if (prefix) printf("%s: ", path);
            lincheck_result_print(history, result, stdout);
            status = verdict == LINCHECK_OK ? CLI_EXIT_OK
                     : verdict == LINCHECK_VIOLATION ? CLI_EXIT_VIOLATION : CLI_EXIT_UNKNOWN;
            free(result);
        }
    }
    lincheck_history_destroy(history);
    free(text);
    return status;
}

static int cli_severity(int status)
{
    switch (status) {
    case CLI_EXIT_BAD_INPUT: return 3;
    case CLI_EXIT_VIOLATION: return 2;
    case CLI_EXIT_UNKNOWN: return 1;
    default: return 0;
    }
}

static bool cli_parse_number(const char *text, double minimum, double *number)
{
    char *end;
    errno = 0;
    *number = strtod(text, &end);
    return errno == 0 && end != text && *end == '\0' && *number >= minimum && *number < 1e12;
}

int main(int argc, char **argv)
{
    struct lincheck_options options = lincheck_options_default();
    int first_file = argc;
    for (int i = 1; i < argc; i++) {
        double number;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((strcmp(argv[i], "--timeout") == 0 || strcmp(argv[i], "--memory-mb") == 0) &&
            i + 1 < argc && cli_parse_number(argv[i + 1], 0, &number)) {
            if (argv[i][2] == 't') options.timeout_s = number;
            else options.memory_bytes_max = (uint64_t)(number * 1048576.0);
            i++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "chorus-lincheck: bad option or value: %s\n", argv[i]);
            cli_usage(stderr);
            return CLI_EXIT_BAD_INPUT;
        }
        first_file = i;
        break;
    }
    if (first_file == argc) {
        cli_usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    int worst = CLI_EXIT_OK;
    bool prefix = argc - first_file > 1;
    for (int i = first_file; i < argc; i++) {
        int status = cli_check_file(argv[i], &options, prefix);
        if (cli_severity(status) > cli_severity(worst)) worst = status;
    }
    fflush(stdout);
    return worst;
}
