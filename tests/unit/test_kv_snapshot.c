/* test_kv_snapshot.c — snapshot create, chunked transfer, staging and atomic install. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "storage/kv.h"
#include "storage/kv_command.h"

#include "../support/kv_fixture.h"

enum { KEY_COUNT = 2000, CHUNK_BYTES = 3000, VALUE_BYTES_BIG = 100000 };

struct fixture {
    char src_dir[64];
    char dst_dir[64];
    char snapshot_path[128];
    struct kv *src;
    struct kv *dst;
};

/* Applies one SET (or a config entry when key is NULL) at the next index. */
static void apply_set(struct kv *kv, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len)
{
    static uint8_t entry[VALUE_BYTES_BIG + KV_KEY_BYTES_MAX + 64];
    uint64_t index, term;
    kv_applied(kv, &index, &term);
    struct kv_apply_item item = {.index = index + 1, .term = 7, .kind = KV_ITEM_CONFIG,
                                 .data = value, .data_len = (uint32_t)value_len};
    if (key != NULL) {
        struct kv_bytes args[2] = {{key, key_len}, {value, value_len}};
        struct kv_command c = {.op = KV_OP_SET, .arg_count = 2, .args = args};
        size_t len = 0;
        const char *reason = NULL;
        assert_int_equal(kv_command_encode(&c, entry, sizeof entry, &len, &reason), KV_OK);
        item = (struct kv_apply_item){.index = index + 1, .term = 7, .kind = KV_ITEM_COMMAND,
                                      .data = entry, .data_len = (uint32_t)len};
    }
    assert_int_equal(kv_apply_batch(kv, &item, 1, NULL), KV_OK);
}

static size_t make_key(int i, uint8_t *key)
{
    int len = snprintf((char *)key, 32, "key:%d", i);
    if (i % 100 == 0) { /* some long keys */
        memset(key + len, '#', 2000 - (size_t)len);
        return 2000;
    }
    return (size_t)len;
}

static size_t make_value(int i, uint8_t *value)
{
    size_t len = i % 250 == 0 ? VALUE_BYTES_BIG : 20 + (size_t)(i % 50);
    for (size_t j = 0; j < len; j++) {
        value[j] = (uint8_t)(i * 31 + (int)j);
    }
    return len;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->src_dir, sizeof f->src_dir, "/tmp/test_kv_snap_src.XXXXXX");
    snprintf(f->dst_dir, sizeof f->dst_dir, "/tmp/test_kv_snap_dst.XXXXXX");
    assert_non_null(mkdtemp(f->src_dir));
    assert_non_null(mkdtemp(f->dst_dir));
    snprintf(f->snapshot_path, sizeof f->snapshot_path, "%s/snapshot-1", f->src_dir);
    assert_int_equal(kv_open(f->src_dir, NULL, &f->src), KV_OK);
    assert_int_equal(kv_open(f->dst_dir, NULL, &f->dst), KV_OK);
    static uint8_t key[KV_KEY_BYTES_MAX], value[VALUE_BYTES_BIG];
    for (int i = 0; i < KEY_COUNT; i++) {
        apply_set(f->src, key, make_key(i, key), value, make_value(i, value));
    }
    apply_set(f->src, NULL, 0, (const uint8_t *)"members:1,2,3", 13);
    /* The destination holds an older, different state that the snapshot must replace. */
    apply_set(f->dst, (const uint8_t *)"stale", 5, (const uint8_t *)"x", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kv_close(f->src);
    kv_close(f->dst);
    kv_fixture_remove_dir(f->src_dir);
    kv_fixture_remove_dir(f->dst_dir);
    free(f);
    return 0;
}

/* Streams the snapshot file into dst's staging area in CHUNK_BYTES pieces. `corrupt_at`
 * flips one byte at that offset (UINT64_MAX: none); `drop_last` leaves the last chunk out. */
static void transfer(struct fixture *f, uint64_t corrupt_at, bool drop_last)
{
    struct kv_snapshot_file file;
    assert_int_equal(kv_snapshot_open(f->snapshot_path, &file), KV_OK);
    uint8_t chunk[CHUNK_BYTES];
    uint64_t offset = 0;
    bool done = false;
    for (int chunks = 0; !done; chunks++) {
        assert_true(chunks <= (int)(file.meta.file_bytes / CHUNK_BYTES) + 1);
        size_t len = 0;
        assert_int_equal(kv_snapshot_read(&file, offset, chunk, sizeof chunk, &len, &done), KV_OK);
        if (corrupt_at >= offset && corrupt_at < offset + len) {
            chunk[corrupt_at - offset] ^= 0x40;
        }
        if (!(done && drop_last)) {
            assert_int_equal(kv_snapshot_stage(f->dst, offset, chunk, len), KV_OK);
        }
        offset += len;
    }
    assert_int_equal(offset, file.meta.file_bytes);
    size_t len = 0;
    assert_int_equal(kv_snapshot_read(&file, offset + 1, chunk, sizeof chunk, &len, &done), KV_ERR_INVALID);
    kv_snapshot_close(&file);
}

static void assert_same_content(struct kv *a, struct kv *b)
{
    uint64_t count_a = 0, count_b = 0;
    assert_int_equal(kv_count(a, &count_a), KV_OK);
    assert_int_equal(kv_count(b, &count_b), KV_OK);
    assert_int_equal(count_a, count_b);
    static uint8_t key[KV_KEY_BYTES_MAX], value_a[VALUE_BYTES_BIG], value_b[VALUE_BYTES_BIG];
    for (int i = 0; i < KEY_COUNT; i++) {
        size_t key_len = make_key(i, key), len_a = 0, len_b = 0;
        bool found_a = false, found_b = false;
        assert_int_equal(kv_get(a, key, key_len, value_a, sizeof value_a, &len_a, &found_a), KV_OK);
        assert_int_equal(kv_get(b, key, key_len, value_b, sizeof value_b, &len_b, &found_b), KV_OK);
        assert_true(found_a && found_b);
        assert_int_equal(len_a, len_b);
        assert_memory_equal(value_a, value_b, len_a);
    }
    uint8_t config_a[KV_CONFIG_BYTES_MAX], config_b[KV_CONFIG_BYTES_MAX];
    size_t config_len_a = 0, config_len_b = 0;
    assert_int_equal(kv_config_get(a, config_a, sizeof config_a, &config_len_a), KV_OK);
    assert_int_equal(kv_config_get(b, config_b, sizeof config_b, &config_len_b), KV_OK);
    assert_int_equal(config_len_a, config_len_b);
    assert_memory_equal(config_a, config_b, config_len_a);
}

static void test_snapshot_transfer_and_install(void **state)
{
    struct fixture *f = *state;
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->src, f->snapshot_path, &meta), KV_OK);
    uint64_t index, term;
    kv_applied(f->src, &index, &term);
    assert_int_equal(meta.index, index);
    assert_int_equal(meta.term, 7);
    assert_true(meta.file_bytes > 0);
    transfer(f, UINT64_MAX, false);
    struct kv_snapshot_meta installed;
    assert_int_equal(kv_snapshot_install_staged(f->dst, &installed), KV_OK);
    assert_int_equal(installed.index, meta.index);
    assert_int_equal(installed.term, meta.term);
    assert_int_equal(installed.file_bytes, meta.file_bytes);
    kv_applied(f->dst, &index, &term);
    assert_int_equal(index, meta.index);
    assert_int_equal(term, meta.term);
    assert_same_content(f->src, f->dst);
    uint8_t buf[8];
    size_t len = 0;
    bool found = true;
    assert_int_equal(kv_get(f->dst, (const uint8_t *)"stale", 5, buf, sizeof buf, &len, &found), KV_OK);
    assert_false(found);

    /* The installed store goes on from the snapshot's index, and survives a reopen. */
    apply_set(f->dst, (const uint8_t *)"after", 5, (const uint8_t *)"1", 1);
    kv_close(f->dst);
    assert_int_equal(kv_open(f->dst_dir, NULL, &f->dst), KV_OK);
    kv_applied(f->dst, &index, &term);
    assert_int_equal(index, meta.index + 1);
    assert_int_equal(kv_get(f->dst, (const uint8_t *)"after", 5, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
}

static void assert_dst_untouched(struct fixture *f)
{
    uint64_t index, term;
    kv_applied(f->dst, &index, &term);
    assert_int_equal(index, 1);
    uint8_t buf[8];
    size_t len = 0;
    bool found = false;
    assert_int_equal(kv_get(f->dst, (const uint8_t *)"stale", 5, buf, sizeof buf, &len, &found), KV_OK);
    assert_true(found);
}

static void test_snapshot_rejects_corruption(void **state)
{
    struct fixture *f = *state;
    struct kv_snapshot_meta meta, installed;
    assert_int_equal(kv_snapshot_create(f->src, f->snapshot_path, &meta), KV_OK);
    /* A flipped byte in the payload, in the trailer, or a missing tail: refused, store kept. */
    const uint64_t flips[] = {0, meta.file_bytes / 2, meta.file_bytes - 30, meta.file_bytes - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        transfer(f, flips[i], false);
        int rv = kv_snapshot_install_staged(f->dst, &installed);
        assert_true(rv == KV_ERR_CORRUPT || rv == KV_ERR_VERSION);
        assert_dst_untouched(f);
    }
    transfer(f, UINT64_MAX, true);
    assert_int_equal(kv_snapshot_install_staged(f->dst, &installed), KV_ERR_CORRUPT);
    assert_dst_untouched(f);
    /* Chunks out of order, and nothing staged. */
    uint8_t chunk[16] = {0};
    assert_int_equal(kv_snapshot_stage(f->dst, 16, chunk, sizeof chunk), KV_ERR_INVALID);
    assert_int_equal(kv_snapshot_stage(f->dst, 0, chunk, sizeof chunk), KV_OK);
    assert_int_equal(kv_snapshot_stage(f->dst, 32, chunk, sizeof chunk), KV_ERR_INVALID);
    assert_int_equal(kv_snapshot_install_staged(f->dst, &installed), KV_ERR_CORRUPT);
    assert_int_equal(kv_snapshot_install_staged(f->dst, &installed), KV_ERR_INVALID);
    assert_dst_untouched(f);
    struct kv_snapshot_file file;
    assert_int_equal(kv_snapshot_open("/nonexistent/snapshot", &file), KV_ERR_IO);
    assert_true(strlen(kv_last_error()) > 0);
}

struct writer {
    struct kv *kv;
    int batches;
    _Atomic int progress; /* batches applied so far */
};

/* Each batch sets "counter" to the batch's own index, so a consistent copy must hold
 * counter == its applied index. */
static void *writer_run(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < w->batches; i++) {
        uint64_t index, term;
        kv_applied(w->kv, &index, &term);
        char text[32];
        int len = snprintf(text, sizeof text, "%llu", (unsigned long long)(index + 1));
        apply_set(w->kv, (const uint8_t *)"counter", 7, (const uint8_t *)text, (size_t)len);
        w->progress = i + 1;
    }
    return NULL;
}

static void test_snapshot_during_writes(void **state)
{
    struct fixture *f = *state;
    uint64_t before, term;
    kv_applied(f->src, &before, &term);
    struct writer w = {.kv = f->src, .batches = 3000};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, writer_run, &w), 0);
    for (int spins = 0; w.progress < 100; spins++) { /* the copy starts amid the writes */
        assert_true(spins < 10000000);
        sched_yield();
    }
    struct kv_snapshot_meta meta;
    assert_int_equal(kv_snapshot_create(f->src, f->snapshot_path, &meta), KV_OK);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(meta.index >= before + 100);
    assert_true(meta.index <= before + 3000);
    struct kv_snapshot_meta installed;
    char path[160];
    snprintf(path, sizeof path, "%s/incoming", f->dst_dir);
    assert_int_equal(rename(f->snapshot_path, path), 0);
    assert_int_equal(kv_snapshot_install(f->dst, path, &installed), KV_OK);
    assert_int_equal(installed.index, meta.index);
    {
        char text[32];
        uint8_t buf[32];
        size_t len = 0;
        bool found = false;
        int text_len = snprintf(text, sizeof text, "%llu", (unsigned long long)meta.index);
        assert_int_equal(kv_get(f->dst, (const uint8_t *)"counter", 7, buf, sizeof buf, &len, &found), KV_OK);
        assert_true(found);
        assert_int_equal(len, (size_t)text_len);
        assert_memory_equal(buf, text, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_transfer_and_install, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_rejects_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_during_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
