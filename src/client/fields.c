/*
 * fields.c — reading "key=value,key=value" lists (fields.h).
 */
#include "client/fields.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Copies text up to the first of stop (or its end) into out, cut short to fit. */
static char *copy_until(const char *text, const char *stop, char *out, size_t cap)
{
    assert(cap >= 1);
    size_t len = strcspn(text, stop);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

bool client_fields_get(const char *list, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    /* A list ends at its line's end: a key of the next line is not this list's. */
    for (const char *p = list; p != NULL && *p != '\0' && *p != '\r' && *p != '\n';) {
        if (strncmp(p, key, n) == 0 && p[n] == '=') {
            copy_until(p + n + 1, ",\r\n", out, cap);
            return true;
        }
        p += strcspn(p, ",\r\n");
        p = *p == ',' ? p + 1 : NULL;
    }
    copy_until("", "", out, cap);
    return false;
}

bool client_fields_u64(const char *list, const char *key, uint64_t *out)
{
    char text[32];
    char *end;
    if (!client_fields_get(list, key, text, sizeof(text)) || text[0] < '0' || text[0] > '9')
        return false;
    *out = strtoull(text, &end, 10);
    return *end == '\0';
}

bool client_fields_u32(const char *list, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!client_fields_u64(list, key, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

char *client_fields_line(const char *text, char *out, size_t cap)
{
    return copy_until(text, "\r\n", out, cap);
}
