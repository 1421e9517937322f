/*
 * fuzz_handshake.c — the peer handshake's decoders (net/handshake.h) on arbitrary bytes, as
 * an acceptor or a connector reads them from a stranger. The first input byte chooses the
 * decoder, the rest is the input. Properties checked:
 *  - decoding never reads outside the input (ASan) and never trips UB (UBSan);
 *  - a decoder answers the whole message's size, 0 (more needed) or one of its errors, and
 *    0 only for inputs shorter than the message;
 *  - a decoded message re-encodes to exactly the bytes it was decoded from;
 *  - a proof or challenge MAC made of input bytes never verifies against the fixed secret
 *    (a forged MAC of the fuzzer's would be an HMAC break, or a bug in the comparison).
 */
#include "fuzz.h"

#include <string.h>

#include "net/handshake.h"

static const uint8_t fuzz_secret[] = "fuzz-cluster-secret-0123456789";

static void fuzz_hello(const uint8_t *data, size_t size)
{
    struct handshake_hello h;
    int64_t rv = handshake_hello_decode(data, size, &h);
    if (rv < 0) {
        FUZZ_CHECK(rv >= HANDSHAKE_ERR_NODE);
        return;
    }
    if (rv == 0) {
        FUZZ_CHECK(size < HANDSHAKE_HELLO_AUTH_BYTES);
        return;
    }
    FUZZ_CHECK(rv == HANDSHAKE_HELLO_BYTES || rv == HANDSHAKE_HELLO_AUTH_BYTES);
    FUZZ_CHECK((size_t)rv <= size && h.sender != 0);
    uint8_t again[HANDSHAKE_HELLO_AUTH_BYTES];
    FUZZ_CHECK(handshake_hello_encode(&h, again) == (size_t)rv);
    FUZZ_CHECK(memcmp(again, data, (size_t)rv) == 0);
}

static void fuzz_challenge(const uint8_t *data, size_t size)
{
    struct handshake_challenge c;
    int64_t rv = handshake_challenge_decode(data, size, &c);
    if (rv < 0) {
        FUZZ_CHECK(rv == HANDSHAKE_ERR_MAGIC || rv == HANDSHAKE_ERR_NODE);
        return;
    }
    if (rv == 0) {
        FUZZ_CHECK(size < HANDSHAKE_CHALLENGE_BYTES);
        return;
    }
    FUZZ_CHECK(rv == HANDSHAKE_CHALLENGE_BYTES && c.acceptor != 0);
    uint8_t again[HANDSHAKE_CHALLENGE_BYTES];
    handshake_challenge_encode(&c, again);
    FUZZ_CHECK(memcmp(again, data, sizeof again) == 0);
    uint8_t nonce[HANDSHAKE_NONCE_BYTES] = {0};
    FUZZ_CHECK(!handshake_mac_verify(HANDSHAKE_ACCEPTOR, fuzz_secret, sizeof fuzz_secret - 1, 1,
                                     2, c.acceptor, nonce, c.nonce, c.mac));
}

static void fuzz_proof(const uint8_t *data, size_t size)
{
    uint8_t mac[HANDSHAKE_MAC_BYTES];
    int64_t rv = handshake_proof_decode(data, size, mac);
    if (rv < 0) {
        FUZZ_CHECK(rv == HANDSHAKE_ERR_MAGIC);
        return;
    }
    if (rv == 0) {
        FUZZ_CHECK(size < HANDSHAKE_PROOF_BYTES);
        return;
    }
    FUZZ_CHECK(rv == HANDSHAKE_PROOF_BYTES);
    uint8_t again[HANDSHAKE_PROOF_BYTES];
    handshake_proof_encode(mac, again);
    FUZZ_CHECK(memcmp(again, data, sizeof again) == 0);
    uint8_t nonce_c[HANDSHAKE_NONCE_BYTES] = {1}, nonce_a[HANDSHAKE_NONCE_BYTES] = {2};
    FUZZ_CHECK(!handshake_mac_verify(HANDSHAKE_CONNECTOR, fuzz_secret, sizeof fuzz_secret - 1, 7,
                                     3, 4, nonce_c, nonce_a, mac));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* A copy of exactly the input's length, so that ASan sees any read past its end. */
    size_t len = size - 1;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data + 1, len);
    switch (data[0] % 3) {
    case 0: fuzz_hello(copy, len); break;
    case 1: fuzz_challenge(copy, len); break;
    default: fuzz_proof(copy, len); break;
    }
    free(copy);
    return 0;
}
