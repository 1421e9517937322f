/*
 * memberbook.c — the address book's binary form (memberbook.h). Every length is checked
 * before it is used, so a decoder fed network bytes never reads past them.
 */
#include "net/memberbook.h"

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

const char *memberbook_strerror(int error)
{
    switch (error) {
    case MEMBERBOOK_OK: return "ok";
    case MEMBERBOOK_ERR_TRUNCATED: return "address book truncated";
    case MEMBERBOOK_ERR_MAGIC: return "not an address book";
    case MEMBERBOOK_ERR_VERSION: return "address book of an unknown version";
    case MEMBERBOOK_ERR_RESERVED: return "address book with unknown flags or reserved bytes";
    case MEMBERBOOK_ERR_COUNT: return "address book with too many nodes";
    case MEMBERBOOK_ERR_ID: return "address book node ids must be 1..255, unique, ascending";
    case MEMBERBOOK_ERR_ADDRESS: return "address book with a bad address";
    case MEMBERBOOK_ERR_TRAILING: return "address book followed by other bytes";
    case MEMBERBOOK_ERR_BUFFER: return "address book buffer too small";
    }
    return "unknown address book error";
}

bool memberbook_address_valid(const char *address, bool allow_empty)
{
    size_t len = strnlen(address, MEMBERBOOK_ADDR_BYTES_MAX);
    if (len == MEMBERBOOK_ADDR_BYTES_MAX)
        return false;
    if (len == 0)
        return allow_empty;
    for (size_t i = 0; i < len; i++)
        if (address[i] <= ' ' || address[i] > '~')
            return false;
    return true;
}

static bool node_valid(const struct memberbook_node *node)
{
    return node->id >= 1 && node->id <= MEMBERBOOK_ID_MAX;
}

int memberbook_put(struct memberbook *book, const struct memberbook_node *node)
{
    if (!node_valid(node))
        return MEMBERBOOK_ERR_ID;
    if (!memberbook_address_valid(node->peer, false) ||
        !memberbook_address_valid(node->client, true))
        return MEMBERBOOK_ERR_ADDRESS;
    uint32_t at = 0;
    while (at < book->count && book->nodes[at].id < node->id)
        at++;
    if (at < book->count && book->nodes[at].id == node->id) {
        book->nodes[at] = *node;
        return MEMBERBOOK_OK;
    }
    if (book->count == MEMBERBOOK_NODES_MAX)
        return MEMBERBOOK_ERR_COUNT;
    memmove(&book->nodes[at + 1], &book->nodes[at], (book->count - at) * sizeof(*node));
    book->nodes[at] = *node;
    book->count++;
    return MEMBERBOOK_OK;
}

const struct memberbook_node *memberbook_find(const struct memberbook *book, uint32_t id)
{
    for (uint32_t i = 0; i < book->count; i++)
        if (book->nodes[i].id == id)
            return &book->nodes[i];
    return NULL;
}

void memberbook_remove(struct memberbook *book, uint32_t id)
{
    for (uint32_t i = 0; i < book->count; i++)
        if (book->nodes[i].id == id) {
            memmove(&book->nodes[i], &book->nodes[i + 1],
                    (book->count - i - 1) * sizeof(book->nodes[0]));
            book->count--;
            return;
        }
}

int64_t memberbook_encode(const struct memberbook *book, uint8_t *out, size_t cap)
{
    if (book->count > MEMBERBOOK_NODES_MAX)
        return MEMBERBOOK_ERR_COUNT;
    if ((book->flags & ~MEMBERBOOK_FLAGS_ALL) != 0)
        return MEMBERBOOK_ERR_RESERVED;
    if (cap < MEMBERBOOK_HEADER_BYTES)
        return MEMBERBOOK_ERR_BUFFER;
    put_u32(out, MEMBERBOOK_MAGIC);
    out[4] = MEMBERBOOK_VERSION;
    out[5] = book->flags;
    put_u16(out + 6, 0);
    put_u64(out + 8, book->cluster_id);
    put_u32(out + 16, book->sender);
    put_u32(out + 20, book->shards);
    put_u32(out + 24, book->replicas);
    put_u16(out + 28, (uint16_t)book->count);
    out[30] = 0; /* reserved */
    size_t at = MEMBERBOOK_HEADER_BYTES;
    for (uint32_t i = 0; i < book->count; i++) {
        const struct memberbook_node *n = &book->nodes[i];
        if (!node_valid(n) || (i > 0 && n->id <= book->nodes[i - 1].id))
            return MEMBERBOOK_ERR_ID;
        if (!memberbook_address_valid(n->peer, false) ||
            !memberbook_address_valid(n->client, true))
            return MEMBERBOOK_ERR_ADDRESS;
        size_t peer_len = strlen(n->peer), client_len = strlen(n->client);
        if (cap - at < 4 + 1 + peer_len + 1 + client_len)
            return MEMBERBOOK_ERR_BUFFER;
        put_u32(out + at, n->id);
        out[at + 4] = (uint8_t)peer_len;
        memcpy(out + at + 5, n->peer, peer_len);
        at += 5 + peer_len;
        out[at] = (uint8_t)client_len;
        memcpy(out + at + 1, n->client, client_len);
        at += 1 + client_len;
    }
    return (int64_t)at;
}

/* One address: a length byte and that many bytes, copied NUL-terminated. */
static int address_read(const uint8_t *in, size_t len, size_t *at, char *out, bool allow_empty)
{
    if (len - *at < 1)
        return MEMBERBOOK_ERR_TRUNCATED;
    size_t n = in[*at];
    if (n >= MEMBERBOOK_ADDR_BYTES_MAX)
        return MEMBERBOOK_ERR_ADDRESS;
    if (len - *at - 1 < n)
        return MEMBERBOOK_ERR_TRUNCATED;
    memcpy(out, in + *at + 1, n);
    out[n] = '\0';
    *at += 1 + n;
    if (memchr(out, '\0', n) != NULL || !memberbook_address_valid(out, allow_empty))
        return MEMBERBOOK_ERR_ADDRESS;
    return MEMBERBOOK_OK;
}

int memberbook_decode(const uint8_t *in, size_t len, struct memberbook *out)
{
    memset(out, 0, sizeof(*out));
    if (len >= 4 && get_u32(in) != MEMBERBOOK_MAGIC)
        return MEMBERBOOK_ERR_MAGIC;
    if (len < MEMBERBOOK_HEADER_BYTES)
        return MEMBERBOOK_ERR_TRUNCATED;
    if (in[4] != MEMBERBOOK_VERSION)
        return MEMBERBOOK_ERR_VERSION;
    if ((in[5] & ~MEMBERBOOK_FLAGS_ALL) != 0 || get_u16(in + 6) != 0 || in[30] != 0)
        return MEMBERBOOK_ERR_RESERVED;
    out->flags = in[5];
    out->cluster_id = get_u64(in + 8);
    out->sender = get_u32(in + 16);
    out->shards = get_u32(in + 20);
    out->replicas = get_u32(in + 24);
    uint32_t count = get_u16(in + 28);
    if (count > MEMBERBOOK_NODES_MAX)
        return MEMBERBOOK_ERR_COUNT;
    size_t at = MEMBERBOOK_HEADER_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        struct memberbook_node *n = &out->nodes[i];
        if (len - at < 4)
            return MEMBERBOOK_ERR_TRUNCATED;
        n->id = get_u32(in + at);
        at += 4;
        if (!node_valid(n) || (i > 0 && n->id <= out->nodes[i - 1].id))
            return MEMBERBOOK_ERR_ID;
        int rv = address_read(in, len, &at, n->peer, false);
        if (rv == MEMBERBOOK_OK)
            rv = address_read(in, len, &at, n->client, true);
        if (rv != MEMBERBOOK_OK)
            return rv;
        out->count = i + 1;
    }
    if (at != len)
        return MEMBERBOOK_ERR_TRAILING;
    return MEMBERBOOK_OK;
}
