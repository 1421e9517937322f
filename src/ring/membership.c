/*
 * membership.c — a membership as text, "ID[:WEIGHT][@ZONE],...", for the command line and
 * configuration. Input comes from people and files: every malformed piece gets a sentence
 * naming it, never an assert.
 */
#include <stdio.h>
#include <string.h>

#include "ring/ring_internal.h"

static bool membership_is_digit(char c) { return c >= '0' && c <= '9'; }

static bool membership_is_zone_char(char c)
{
    return membership_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '_' || c == '.';
}

/* Parses decimal digits at text[*at..end) into *value (at most `max`); false if none or over. */
static bool membership_number(const char *text, size_t end, size_t *at, uint64_t max,
                              uint64_t *value)
{
    size_t start = *at;
    uint64_t v = 0;
    while (*at < end && membership_is_digit(text[*at])) {
        uint64_t digit = (uint64_t)(text[*at] - '0');
        if (v > (max - digit) / 10) return false;
        v = v * 10 + digit;
        (*at)++;
    }
    *value = v;
    return *at > start;
}

/* The zone number of a name, adding it when new; 0 when the table is full. */
static uint32_t membership_zone(struct ring_membership *m, const char *name, size_t length)
{
    for (uint32_t z = 1; z <= m->zone_count; z++)
        if (strlen(m->zone_names[z]) == length && memcmp(m->zone_names[z], name, length) == 0)
            return z;
    if (m->zone_count == RING_ZONES_MAX) return 0;
    m->zone_count++;
    memcpy(m->zone_names[m->zone_count], name, length);
    m->zone_names[m->zone_count][length] = '\0';
    return m->zone_count;
}

/* The node's text as an error may quote it: at most 40 bytes, anything unprintable as '?'
 * (an error message stays one line whatever the input held). */
static void membership_quote(const char *text, size_t start, size_t end, char out[48])
{
    size_t length = end - start < 40 ? end - start : 40;
    for (size_t i = 0; i < length; i++) {
        char c = text[start + i];
        out[i] = c >= 32 && c < 127 ? c : '?';
    }
    out[length] = '\0';
}

/* Parses one node, text[start..end), and appends it. Returns 0, or -1 with `error` set. */
static int membership_node(struct ring_membership *m, const char *text, size_t start, size_t end,
                           char error[RING_ERROR_BYTES_MAX])
{
    size_t at = start;
    struct ring_node node = {.weight = 1};
    char shown[48];
    membership_quote(text, start, end, shown);
    if (!membership_number(text, end, &at, UINT64_MAX, &node.id)) {
        snprintf(error, RING_ERROR_BYTES_MAX, "node '%s': expected a decimal id", shown);
        return -1;
    }
    uint64_t weight = 1;
    if (at < end && text[at] == ':') {
        at++;
        if (!membership_number(text, end, &at, RING_WEIGHT_MAX, &weight) || weight < 1) {
            snprintf(error, RING_ERROR_BYTES_MAX, "node '%s': weight must be 1 to %u", shown,
                     (unsigned)RING_WEIGHT_MAX);
            return -1;
        }
    }
    node.weight = (uint32_t)weight;
    if (at < end && text[at] == '@') {
        size_t name = ++at;
        while (at < end && membership_is_zone_char(text[at])) at++;
        size_t length = at - name;
        if (length == 0 || length >= RING_ZONE_NAME_BYTES_MAX) {
            snprintf(error, RING_ERROR_BYTES_MAX, "node '%s': a zone is 1 to %u letters, digits, "
                     "'-', '_' or '.'", shown, (unsigned)RING_ZONE_NAME_BYTES_MAX - 1);
            return -1;
        }
        node.zone = membership_zone(m, text + name, length);
        if (node.zone == 0) {
            snprintf(error, RING_ERROR_BYTES_MAX, "too many zones (at most %u)", (unsigned)RING_ZONES_MAX);
            return -1;
        }
    }
    if (at != end) {
        snprintf(error, RING_ERROR_BYTES_MAX, "node '%s': unexpected '%c' (syntax: ID[:WEIGHT][@ZONE])",
                 shown, text[at] >= 32 && text[at] < 127 ? text[at] : '?');
        return -1;
    }
    for (uint32_t i = 0; i < m->count; i++)
        if (m->nodes[i].id == node.id) {
            snprintf(error, RING_ERROR_BYTES_MAX, "node %llu appears twice", (unsigned long long)node.id);
            return -1;
        }
    if (m->count == RING_NODES_MAX) {
        snprintf(error, RING_ERROR_BYTES_MAX, "too many nodes (at most %u)", (unsigned)RING_NODES_MAX);
        return -1;
    }
    m->nodes[m->count++] = node;
    return 0;
}

int ring_membership_parse(const char *text, size_t length, struct ring_membership *membership,
                          char error[RING_ERROR_BYTES_MAX])
{
    membership->count = 0;
    membership->zone_count = 0;
    strcpy(membership->zone_names[0], "-");
    if (length > RING_MEMBERSHIP_TEXT_BYTES_MAX) {
        snprintf(error, RING_ERROR_BYTES_MAX, "membership text longer than %u bytes",
                 (unsigned)RING_MEMBERSHIP_TEXT_BYTES_MAX);
        return -1;
    }
    size_t start = 0;
    for (size_t at = 0; at <= length; at++) {
        if (at < length && text[at] != ',') continue;
        if (membership_node(membership, text, start, at, error) != 0) return -1;
        start = at + 1;
    }
    return 0;
}

int ring_membership_add(struct ring_membership *membership, const char *text, size_t length,
                        char error[RING_ERROR_BYTES_MAX])
{
    if (length > RING_MEMBERSHIP_TEXT_BYTES_MAX || memchr(text, ',', length) != NULL) {
        snprintf(error, RING_ERROR_BYTES_MAX, "one node expected: ID[:WEIGHT][@ZONE]");
        return -1;
    }
    return membership_node(membership, text, 0, length, error);
}

int ring_membership_remove(struct ring_membership *membership, uint64_t id)
{
    for (uint32_t i = 0; i < membership->count; i++) {
        if (membership->nodes[i].id != id) continue;
        memmove(&membership->nodes[i], &membership->nodes[i + 1],
                (membership->count - i - 1) * sizeof(membership->nodes[0]));
        membership->count--;
        return 0;
    }
    return -1;
}
