/*
 * driver.c — a main() for the fuzz harnesses without libFuzzer: replays every file named on
 * the command line, or every regular file in a named directory, through
 * LLVMFuzzerTestOneInput. Used by tests/checks/fuzz_smoke.sh so that `make test` checks that
 * no committed corpus input crashes, with the compiler and sanitizers of the normal build.
 */
#include "fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

enum {
    DRIVER_FILE_BYTES_MAX = 32u << 20, /* larger than any input a harness reads */
    DRIVER_PATH_BYTES_MAX = 4096,
    DRIVER_DIR_ENTRIES_MAX = 1u << 20,
};

/* Runs one file; returns 0, or -1 when it cannot be read. */
static int driver_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "driver: cannot open %s\n", path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > DRIVER_FILE_BYTES_MAX) {
        fprintf(stderr, "driver: cannot size %s (or larger than %u bytes)\n", path,
                (unsigned)DRIVER_FILE_BYTES_MAX);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* An exact-size heap copy, so that a read one past the end is caught by ASan. */
    uint8_t *data = malloc(size > 0 ? size : 1);
    if (data == NULL || fread(data, 1, size, f) != size) {
        fprintf(stderr, "driver: cannot read %s\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

/* Runs every regular file of a directory; returns the number of files run, or -1. */
static long driver_run_dir(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    if (dir == NULL) return -1;
    long count = 0;
    struct dirent *entry;
    for (long guard = 0; guard < DRIVER_DIR_ENTRIES_MAX && (entry = readdir(dir)) != NULL; guard++) {
        if (entry->d_name[0] == '.') continue;
        char path[DRIVER_PATH_BYTES_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
        if (n < 0 || (size_t)n >= sizeof(path)) continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (driver_run_file(path) != 0) {
            closedir(dir);
            return -1;
        }
        count++;
    }
    closedir(dir);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "driver: no such file or directory: %s\n", argv[i]);
            return 2;
        }
        long n = S_ISDIR(st.st_mode) ? driver_run_dir(argv[i]) : driver_run_file(argv[i]) + 1;
        if (n < 0) return 2;
        total += n;
    }
    printf("driver: %ld inputs ran without a failure\n", total);
    return 0;
}
