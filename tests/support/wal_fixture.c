/* wal_fixture.c — the WAL tests' fixture (wal_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "wal_fixture.h"

static void fixture_log(void *context, const char *message)
{
    struct wal_fixture *f = context;
    snprintf(f->last_log, sizeof(f->last_log), "%s", message);
    f->log_count++;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int wal_fixture_setup(void **state)
{
    struct wal_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/chorus-test-wal-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    wal_options_defaults(&f->options);
    f->options.dir = f->dir;
    f->options.segment_bytes = WAL_SEGMENT_BYTES_MIN;
    f->options.log = fixture_log;
    f->options.log_context = f;
    *state = f;
    return 0;
}

int wal_fixture_teardown(void **state)
{
    struct wal_fixture *f = *state;
    wal_close(f->wal);
    nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

void wal_fixture_open(struct wal_fixture *f)
{
    struct wal_error err = {0};
    wal_close(f->wal);
    f->wal = NULL;
    int rv = wal_open(&f->options, fileops_posix(), &f->wal, &err);
    if (rv != WAL_OK)
        fail_msg("wal_open: %s", err.message);
}

uint32_t wal_fixture_entry_fill(uint8_t *buf, cn_group_id group, uint64_t index, uint64_t term,
                                uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(group * 131 + index * 31 + term * 7 + i);
    return len;
}
