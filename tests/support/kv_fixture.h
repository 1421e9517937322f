/*
 * kv_fixture.h — what the storage tests share: a temporary directory removed, a C string as
 * a kv_bytes, and one command applied as a store's next log entry.
 */
#ifndef CHORUS_TESTS_KV_FIXTURE_H
#define CHORUS_TESTS_KV_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kv.h"
#include "storage/kv_command.h"

/* Removes the files in dir, then dir (a store's directory has no subdirectories). */
void kv_fixture_remove_dir(const char *dir);
/* The bytes of a NUL-terminated string, without the NUL. */
struct kv_bytes kv_fixture_text(const char *s);
/* The index after the store's applied one. */
uint64_t kv_fixture_next_index(const struct kv *kv);
/* Encodes `command` into entry (cap bytes) and applies it alone as the store's next entry, in
 * term 1; asserts both worked and returns the result (valid until the store's next apply). */
struct kv_result kv_fixture_apply(struct kv *kv, uint8_t *entry, size_t cap,
                                  const struct kv_command *command);

#endif
