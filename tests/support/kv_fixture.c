/* kv_fixture.c — see kv_fixture.h. */
#include "kv_fixture.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

void kv_fixture_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

struct kv_bytes kv_fixture_text(const char *s)
{
    return (struct kv_bytes){.data = (const uint8_t *)s, .len = strlen(s)};
}

uint64_t kv_fixture_next_index(const struct kv *kv)
{
    uint64_t index = 0, term = 0;
    kv_applied(kv, &index, &term);
    return index + 1;
}

struct kv_result kv_fixture_apply(struct kv *kv, uint8_t *entry, size_t cap,
                                  const struct kv_command *command)
{
    size_t len = 0;
    const char *reason = NULL;
    assert_int_equal(kv_command_encode(command, entry, cap, &len, &reason), KV_OK);
    struct kv_apply_item item = {.index = kv_fixture_next_index(kv), .term = 1,
                                 .kind = KV_ITEM_COMMAND, .data = entry,
                                 .data_len = (uint32_t)len};
    struct kv_result result;
    assert_int_equal(kv_apply_batch(kv, &item, 1, &result), KV_OK);
    return result;
}
