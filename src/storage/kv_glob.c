/*
 * kv_glob.c — iterative glob matcher (see kv_glob.h).
 *
 * Every token other than * matches exactly one byte, so the classic greedy algorithm is
 * exact: on a mismatch, go back to the last * and let it swallow one more byte. Only the
 * last * matters, because an earlier * could only take bytes the later one can take too.
 */
#include "storage/kv_glob.h"

#include <assert.h>

/* Matches the class starting at pattern[at] == '[' against byte c; *consumed = class length. */
static bool kv_glob_class(const uint8_t *pattern, size_t pattern_len, size_t at, uint8_t c,
                          size_t *consumed)
{
    assert(pattern[at] == '[');
    size_t j = at + 1;
    bool negate = j < pattern_len && pattern[j] == '^';
    if (negate) {
        j++;
    }
    bool match = false;
    while (j < pattern_len && pattern[j] != ']') {
        if (pattern[j] == '\\' && j + 1 < pattern_len) {
            match |= pattern[j + 1] == c;
            j += 2;
        } else if (j + 2 < pattern_len && pattern[j + 1] == '-') {
            uint8_t low = pattern[j], high = pattern[j + 2];
            if (low > high) {
                uint8_t swap = low;
                low = high;
                high = swap;
            }
            match |= c >= low && c <= high;
            j += 3;
        } else {
            match |= pattern[j] == c;
            j++;
        }
    }
    if (j < pattern_len) {
        j++; /* the closing ']' */
    }
    *consumed = j - at;
    return negate ? !match : match;
}

/* Matches the one-byte token at pattern[at] (not '*') against c; *consumed = token length. */
static bool kv_glob_token(const uint8_t *pattern, size_t pattern_len, size_t at, uint8_t c,
                          size_t *consumed)
{
    assert(at < pattern_len && pattern[at] != '*');
    switch (pattern[at]) {
    case '?':
        *consumed = 1;
        return true;
    case '[':
        return kv_glob_class(pattern, pattern_len, at, c, consumed);
    case '\\':
        if (at + 1 < pattern_len) {
            *consumed = 2;
            return pattern[at + 1] == c;
        }
        *consumed = 1;
        return c == '\\';
    default:
        *consumed = 1;
        return pattern[at] == c;
    }
}

bool kv_glob_match(const uint8_t *pattern, size_t pattern_len, const uint8_t *string,
                   size_t string_len)
{
    assert(pattern != NULL || pattern_len == 0);
    assert(string != NULL || string_len == 0);
    size_t p = 0, s = 0;
    bool have_star = false;
    size_t star_p = 0, star_s = 0;
    /* Bound: s only moves forward between backtracks, and each backtrack advances star_s,
     * so the loop runs at most (string_len + 1) * (pattern_len + 1) times. */
    while (s < string_len) {
        if (p < pattern_len && pattern[p] == '*') {
            while (p < pattern_len && pattern[p] == '*') {
                p++;
            }
            if (p == pattern_len) {
                return true;
            }
            have_star = true;
            star_p = p;
            star_s = s;
            continue;
        }
        size_t consumed = 0;
        if (p < pattern_len && kv_glob_token(pattern, pattern_len, p, string[s], &consumed)) {
            p += consumed;
            s++;
            continue;
        }
        if (!have_star) {
            return false;
        }
        star_s++;
        s = star_s;
        p = star_p;
    }
    while (p < pattern_len && pattern[p] == '*') {
        p++;
    }
    return p == pattern_len;
}
