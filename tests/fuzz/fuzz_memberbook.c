/*
 * fuzz_memberbook.c — the address book's decoder (net/memberbook.h) and the probe decoder
 * (net/transport.h) on arbitrary bytes, as a node reads them from a stranger: a probe answer
 * on --join or CLUSTER MEET, or a probe on its peer port. The first input byte chooses the
 * decoder, the rest is the input. Properties checked:
 *  - decoding never reads outside the input (ASan) and never trips UB (UBSan);
 *  - a decoded book is valid (ids ascending 1..255, addresses valid) and re-encodes to
 *    exactly the bytes it was decoded from;
 *  - a decoded probe re-encodes to its 20 bytes.
 */
#include "fuzz.h"

#include <string.h>

#include "net/memberbook.h"
#include "net/probe.h"

static uint8_t again[MEMBERBOOK_BYTES_MAX];

static void fuzz_book(const uint8_t *data, size_t size)
{
    static struct memberbook book;
    int rv = memberbook_decode(data, size, &book);
    if (rv != MEMBERBOOK_OK) {
        FUZZ_CHECK(rv < 0 && rv >= MEMBERBOOK_ERR_TRAILING);
        return;
    }
    FUZZ_CHECK(book.count <= MEMBERBOOK_NODES_MAX);
    for (uint32_t i = 0; i < book.count; i++) {
        FUZZ_CHECK(book.nodes[i].id >= 1 && book.nodes[i].id <= MEMBERBOOK_ID_MAX);
        FUZZ_CHECK(i == 0 || book.nodes[i].id > book.nodes[i - 1].id);
        FUZZ_CHECK(memberbook_address_valid(book.nodes[i].peer, false));
        FUZZ_CHECK(memberbook_address_valid(book.nodes[i].client, true));
    }
    int64_t len = memberbook_encode(&book, again, sizeof(again));
    FUZZ_CHECK(len >= 0 && (size_t)len == size);
    FUZZ_CHECK(memcmp(again, data, size) == 0);
}

static void fuzz_probe(const uint8_t *data, size_t size)
{
    struct transport_probe probe;
    int64_t rv = transport_probe_decode(data, size, &probe);
    if (rv <= 0) {
        FUZZ_CHECK(rv == -1 || size < TRANSPORT_PROBE_BYTES);
        return;
    }
    FUZZ_CHECK(rv == TRANSPORT_PROBE_BYTES);
    uint8_t bytes[TRANSPORT_PROBE_BYTES];
    transport_probe_encode(&probe, bytes);
    FUZZ_CHECK(memcmp(bytes, data, TRANSPORT_PROBE_BYTES) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_probe(data + 1, size - 1);
    else
        fuzz_book(data + 1, size - 1);
    return 0;
}
