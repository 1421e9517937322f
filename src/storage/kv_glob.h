/*
 * kv_glob.h — Redis-style glob matching of keys, for SCAN MATCH.
 *
 * Supports * (any sequence), ? (any byte), [abc], [^abc], [a-z] (a reversed range [z-a] is
 * the same range), and a backslash that makes the next byte literal, inside or outside a
 * class. An unterminated class extends to the end of the pattern; a trailing backslash is a
 * literal backslash (both as Redis's stringmatchlen does). Byte-wise, case-sensitive.
 */
#ifndef CHORUS_KV_GLOB_H
#define CHORUS_KV_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    KV_GLOB_PATTERN_BYTES_MAX = 4096 + 256, /* longest pattern kv_scan accepts */
};

/* Whether `string` matches `pattern`. No recursion; time O(pattern_len * string_len). */
bool kv_glob_match(const uint8_t *pattern, size_t pattern_len, const uint8_t *string,
                   size_t string_len);

#endif
