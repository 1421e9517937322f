/*
 * fields.h — the "key=value,key=value" lists the nodes answer in CLUSTER MEMBERS (move and
 * node lines) and INFO shards (shard lines), read by `chorus cluster status` and `chorus
 * status`.
 *
 * A value runs to the next comma or to the end of its line, so a list may be handed over with
 * the rest of a reply behind it. Keys match whole (a key "to" is not found in "total=").
 */
#ifndef CHORUS_CLIENT_FIELDS_H
#define CHORUS_CLIENT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies the value of key into out (cap bytes, cap >= 1, cut short to fit); "" and false when
 * the list has no such key. */
bool client_fields_get(const char *list, const char *key, char *out, size_t cap);
/* The value of key as a decimal number of digits only (no sign, no space, nothing after). */
bool client_fields_u64(const char *list, const char *key, uint64_t *out);
bool client_fields_u32(const char *list, const char *key, uint32_t *out);
/* Copies text up to the end of its line (\r or \n) into out, cut short to fit; returns out. */
char *client_fields_line(const char *text, char *out, size_t cap);

#endif
