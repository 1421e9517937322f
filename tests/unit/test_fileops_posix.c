/* test_fileops_posix.c — the POSIX file operations: errors as negative errno, full reads and
 * writes, preallocation that reads as zeroes, truncation, rename, listing, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/fileops.h"

struct listing {
    int count;
    bool saw_b;
};

static int visit(void *context, const char *name)
{
    struct listing *l = context;
    l->count++;
    if (strcmp(name, "b") == 0) l->saw_b = true;
    return strcmp(name, "stop") == 0 ? 42 : 0;
}

static void test_posix_file_life(void **state)
{
    (void)state;
    const struct fileops *fops = fileops_posix();
    char dir[64], a[96], b[96], sub[96];
    snprintf(dir, sizeof(dir), "/tmp/chorus-test-fileops-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    int h = -1;
    assert_int_equal(fops->open(fops->impl, a, 0, &h), -ENOENT);
    assert_int_equal(fops->open(fops->impl, a, FILEOPS_READ_WRITE | FILEOPS_CREATE, &h), 0);
    int h2 = -1;
    assert_int_equal(
        fops->open(fops->impl, a, FILEOPS_READ_WRITE | FILEOPS_CREATE | FILEOPS_EXCLUSIVE, &h2),
        -EEXIST);
    assert_int_equal(fops->allocate(fops->impl, h, 1 << 16), 0);
    uint64_t size = 0;
    assert_int_equal(fops->size(fops->impl, h, &size), 0);
    assert_int_equal(size, 1 << 16);
    assert_int_equal(fops->write(fops->impl, h, 100, "hello", 5), 0);
    assert_int_equal(fops->sync(fops->impl, h), 0);
    uint8_t buf[200];
    size_t got = 0;
    assert_int_equal(fops->read(fops->impl, h, 0, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, sizeof(buf));
    for (int i = 0; i < 100; i++) assert_int_equal(buf[i], 0); /* preallocated: zeroes */
    assert_memory_equal(buf + 100, "hello", 5);
    assert_int_equal(fops->truncate(fops->impl, h, 103), 0);
    assert_int_equal(fops->read(fops->impl, h, 100, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 3); /* short only at the end of the file */
    assert_int_equal(fops->read(fops->impl, h, 5000, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(fops->close(fops->impl, h), 0);
    assert_int_equal(fops->rename(fops->impl, a, b), 0);
    assert_int_equal(fops->sync_dir(fops->impl, dir), 0);
    assert_int_equal(fops->make_dir(fops->impl, sub), 0);
    assert_int_equal(fops->make_dir(fops->impl, sub), 0); /* exists: fine */
    struct listing l = {0};
    assert_int_equal(fops->list_dir(fops->impl, dir, visit, &l), 0);
    assert_int_equal(l.count, 2);
    assert_true(l.saw_b);
    assert_int_equal(fops->list_dir(fops->impl, a, visit, &l), -ENOENT);
    assert_int_equal(fops->remove(fops->impl, b), 0);
    assert_int_equal(fops->remove(fops->impl, b), -ENOENT);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(fops->sync_dir(fops->impl, sub), -ENOENT);
    assert_int_equal(rmdir(dir), 0);
}

/* A read-only handle refuses writes with an error, not a crash. */
static void test_posix_read_only_write_fails(void **state)
{
    (void)state;
    const struct fileops *fops = fileops_posix();
    char path[64];
    snprintf(path, sizeof(path), "/tmp/chorus-test-fileops-ro-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int h = -1;
    assert_int_equal(fops->open(fops->impl, path, 0, &h), 0);
    assert_int_equal(fops->write(fops->impl, h, 0, "x", 1), -EBADF);
    assert_int_equal(fops->close(fops->impl, h), 0);
    assert_int_equal(fops->remove(fops->impl, path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posix_file_life),
        cmocka_unit_test(test_posix_read_only_write_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
