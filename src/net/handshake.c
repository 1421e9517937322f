/*
 * handshake.c — the peer hello, challenge and proof (handshake.h): encoding, decoding that
 * never reads past its input, and the HMAC-SHA256 of each side.
 */
#include "net/handshake.h"

#include <assert.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static const char label_acceptor[] = "chorus peer v1 acceptor";
static const char label_connector[] = "chorus peer v1 connector";

const char *handshake_strerror(int error)
{
    switch (error) {
    case HANDSHAKE_OK: return "ok";
    case HANDSHAKE_ERR_MAGIC: return "bad magic (not a chorus peer)";
    case HANDSHAKE_ERR_VERSION: return "unsupported transport version";
    case HANDSHAKE_ERR_FLAGS: return "unknown hello flags";
    case HANDSHAKE_ERR_NODE: return "node id 0";
    case HANDSHAKE_ERR_MAC: return "MAC does not verify (another cluster secret)";
    case HANDSHAKE_ERR_RANDOM: return "random source failed";
    default: return "unknown handshake error";
    }
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    put_u16(p, (uint16_t)v);
    put_u16(p + 2, (uint16_t)(v >> 16));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

size_t handshake_hello_encode(const struct handshake_hello *hello, uint8_t *out)
{
    assert((hello->flags & ~HANDSHAKE_FLAG_AUTH) == 0 && hello->sender != 0);
    put_u32(out, HANDSHAKE_HELLO_MAGIC);
    put_u16(out + 4, HANDSHAKE_VERSION);
    put_u16(out + 6, hello->flags);
    put_u32(out + 8, hello->sender);
    put_u64(out + 12, hello->cluster_id);
    if ((hello->flags & HANDSHAKE_FLAG_AUTH) == 0)
        return HANDSHAKE_HELLO_BYTES;
    memcpy(out + HANDSHAKE_HELLO_BYTES, hello->nonce, HANDSHAKE_NONCE_BYTES);
    return HANDSHAKE_HELLO_AUTH_BYTES;
}

int64_t handshake_hello_decode(const uint8_t *in, size_t len, struct handshake_hello *out)
{
    memset(out, 0, sizeof(*out));
    /* The magic and version are checked as soon as they are there, so that a stranger is
     * refused without waiting for a whole hello. */
    if (len >= 4 && get_u32(in) != HANDSHAKE_HELLO_MAGIC)
        return HANDSHAKE_ERR_MAGIC;
    if (len < HANDSHAKE_HELLO_BYTES)
        return 0;
    if (get_u16(in + 4) != HANDSHAKE_VERSION)
        return HANDSHAKE_ERR_VERSION;
    uint16_t flags = get_u16(in + 6);
    if ((flags & ~HANDSHAKE_FLAG_AUTH) != 0)
        return HANDSHAKE_ERR_FLAGS;
    cn_node_id sender = get_u32(in + 8);
    if (sender == 0)
        return HANDSHAKE_ERR_NODE;
    size_t size = (flags & HANDSHAKE_FLAG_AUTH) ? HANDSHAKE_HELLO_AUTH_BYTES : HANDSHAKE_HELLO_BYTES;
    if (len < size)
        return 0;
    out->flags = flags;
    out->sender = sender;
    out->cluster_id = get_u64(in + 12);
    if (flags & HANDSHAKE_FLAG_AUTH)
        memcpy(out->nonce, in + HANDSHAKE_HELLO_BYTES, HANDSHAKE_NONCE_BYTES);
    return (int64_t)size;
}

void handshake_challenge_encode(const struct handshake_challenge *challenge, uint8_t *out)
{
    put_u32(out, HANDSHAKE_CHALLENGE_MAGIC);
    put_u32(out + 4, challenge->acceptor);
    memcpy(out + 8, challenge->nonce, HANDSHAKE_NONCE_BYTES);
    memcpy(out + 8 + HANDSHAKE_NONCE_BYTES, challenge->mac, HANDSHAKE_MAC_BYTES);
}

int64_t handshake_challenge_decode(const uint8_t *in, size_t len, struct handshake_challenge *out)
{
    memset(out, 0, sizeof(*out));
    if (len >= 4 && get_u32(in) != HANDSHAKE_CHALLENGE_MAGIC)
        return HANDSHAKE_ERR_MAGIC;
    if (len < HANDSHAKE_CHALLENGE_BYTES)
        return 0;
    out->acceptor = get_u32(in + 4);
    if (out->acceptor == 0)
        return HANDSHAKE_ERR_NODE;
    memcpy(out->nonce, in + 8, HANDSHAKE_NONCE_BYTES);
    memcpy(out->mac, in + 8 + HANDSHAKE_NONCE_BYTES, HANDSHAKE_MAC_BYTES);
    return HANDSHAKE_CHALLENGE_BYTES;
}

void handshake_proof_encode(const uint8_t mac[HANDSHAKE_MAC_BYTES], uint8_t *out)
{
    put_u32(out, HANDSHAKE_PROOF_MAGIC);
    memcpy(out + 4, mac, HANDSHAKE_MAC_BYTES);
}

int64_t handshake_proof_decode(const uint8_t *in, size_t len, uint8_t mac[HANDSHAKE_MAC_BYTES])
{
    memset(mac, 0, HANDSHAKE_MAC_BYTES);
    if (len >= 4 && get_u32(in) != HANDSHAKE_PROOF_MAGIC)
        return HANDSHAKE_ERR_MAGIC;
    if (len < HANDSHAKE_PROOF_BYTES)
        return 0;
    memcpy(mac, in + 4, HANDSHAKE_MAC_BYTES);
    return HANDSHAKE_PROOF_BYTES;
}

void handshake_mac(enum handshake_role role, const uint8_t *secret, size_t secret_len,
                   uint64_t cluster_id, cn_node_id connector, cn_node_id acceptor,
                   const uint8_t nonce_connector[HANDSHAKE_NONCE_BYTES],
                   const uint8_t nonce_acceptor[HANDSHAKE_NONCE_BYTES],
                   uint8_t out[HANDSHAKE_MAC_BYTES])
{
    assert(secret_len >= HANDSHAKE_SECRET_BYTES_MIN && secret_len <= HANDSHAKE_SECRET_BYTES_MAX);
    const char *label = role == HANDSHAKE_ACCEPTOR ? label_acceptor : label_connector;
    size_t label_len = role == HANDSHAKE_ACCEPTOR ? sizeof(label_acceptor) : sizeof(label_connector);
    /* The labels differ in length too; their NUL is part of the input, so that no label is
     * a prefix of the other's transcript. */
    uint8_t transcript[sizeof(label_connector) + 16 + 2 * HANDSHAKE_NONCE_BYTES];
    size_t n = 0;
    memcpy(transcript, label, label_len), n += label_len;
    put_u64(transcript + n, cluster_id), n += 8;
    put_u32(transcript + n, connector), n += 4;
    put_u32(transcript + n, acceptor), n += 4;
    memcpy(transcript + n, nonce_connector, HANDSHAKE_NONCE_BYTES), n += HANDSHAKE_NONCE_BYTES;
    memcpy(transcript + n, nonce_acceptor, HANDSHAKE_NONCE_BYTES), n += HANDSHAKE_NONCE_BYTES;
    assert(n <= sizeof(transcript));
    unsigned int out_len = 0;
    const uint8_t *rv = HMAC(EVP_sha256(), secret, (int)secret_len, transcript, n, out, &out_len);
    /* HMAC-SHA256 with a key and input in memory fails only when OpenSSL cannot allocate;
     * a node that cannot compute MACs must not run unauthenticated. */
    assert(rv != NULL && out_len == HANDSHAKE_MAC_BYTES);
    (void)rv;
}

bool handshake_mac_verify(enum handshake_role role, const uint8_t *secret, size_t secret_len,
                          uint64_t cluster_id, cn_node_id connector, cn_node_id acceptor,
                          const uint8_t nonce_connector[HANDSHAKE_NONCE_BYTES],
                          const uint8_t nonce_acceptor[HANDSHAKE_NONCE_BYTES],
                          const uint8_t mac[HANDSHAKE_MAC_BYTES])
{
    uint8_t expected[HANDSHAKE_MAC_BYTES];
    handshake_mac(role, secret, secret_len, cluster_id, connector, acceptor, nonce_connector,
                  nonce_acceptor, expected);
    return CRYPTO_memcmp(expected, mac, HANDSHAKE_MAC_BYTES) == 0;
}

int handshake_nonce(uint8_t out[HANDSHAKE_NONCE_BYTES])
{
    return RAND_bytes(out, HANDSHAKE_NONCE_BYTES) == 1 ? HANDSHAKE_OK : HANDSHAKE_ERR_RANDOM;
}
