/*
 * handshake.h — the peer links' hello and, with a cluster secret, their challenge-response
 * authentication (HMAC-SHA256, OpenSSL's libcrypto). Pure functions: encoding, bounds-checked
 * decoding and the MACs; the transport (transport_peer.c, transport_inbound.c) does the I/O.
 *
 * Wire, little-endian, on each TCP connection (the connecting side C, the accepting side A):
 *
 *   C -> A  hello      u32 magic "CHPT" | u16 version 1 | u16 flags | u32 C's node id |
 *                      u64 cluster id                                            20 bytes
 *                      with flags = HANDSHAKE_FLAG_AUTH: followed by nonce_c[32]  52 bytes
 *   A -> C  challenge  u32 magic "CHPC" | u32 A's node id | nonce_a[32] |
 *                      mac_a[32] = HMAC(secret, "chorus peer v1 acceptor" | T)    72 bytes
 *   C -> A  proof      u32 magic "CHPP" | mac_c[32] = HMAC(secret,
 *                      "chorus peer v1 connector" | T)                            36 bytes
 *   C -> A  frames (codec.h), only after the proof
 *
 * where T = u64 cluster id | u32 C's id | u32 A's id | nonce_c | nonce_a. Each side proves it
 * holds the secret over a nonce the other side just drew (no replay), with a label of its
 * role (no reflection of one side's MAC as the other's), bound to both node ids and the
 * cluster id (a MAC of one connection or one cluster is worth nothing on another). Without a
 * secret (flags = 0) the hello is the whole handshake, as before authentication existed. A
 * node with a secret refuses a hello without HANDSHAKE_FLAG_AUTH, and a node without one
 * refuses a hello with it: mixed configurations fail loudly instead of half-working.
 *
 * The frames after the handshake are not authenticated one by one: someone able to take over
 * an established TCP connection (on the path between two nodes) could still inject. TLS
 * (--tls-replication yes, net/transport.h) is the answer to that: this whole exchange then runs
 * inside a mutually authenticated TLS session. Without TLS, this handshake keeps out every
 * process that merely reaches a peer port.
 */
#ifndef CHORUS_NET_HANDSHAKE_H
#define CHORUS_NET_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"

enum {
    HANDSHAKE_VERSION = 1,
    HANDSHAKE_HELLO_MAGIC = 0x54504843u,     /* "CHPT" as little-endian bytes */
    HANDSHAKE_CHALLENGE_MAGIC = 0x43504843u, /* "CHPC" */
    HANDSHAKE_PROOF_MAGIC = 0x50504843u,     /* "CHPP" */
    HANDSHAKE_FLAG_AUTH = 1,
    HANDSHAKE_NONCE_BYTES = 32,
    HANDSHAKE_MAC_BYTES = 32,
    HANDSHAKE_HELLO_BYTES = 20,
    HANDSHAKE_HELLO_AUTH_BYTES = HANDSHAKE_HELLO_BYTES + HANDSHAKE_NONCE_BYTES,
    HANDSHAKE_CHALLENGE_BYTES = 8 + HANDSHAKE_NONCE_BYTES + HANDSHAKE_MAC_BYTES,
    HANDSHAKE_PROOF_BYTES = 4 + HANDSHAKE_MAC_BYTES,
    HANDSHAKE_SECRET_BYTES_MIN = 16,
    HANDSHAKE_SECRET_BYTES_MAX = 512,
};

/* Errors of the decoders. One table; handshake_strerror names them. */
enum handshake_error {
    HANDSHAKE_OK = 0,
    HANDSHAKE_ERR_MAGIC = -1,    /* not a chorus peer (or not this message) */
    HANDSHAKE_ERR_VERSION = -2,  /* another transport version */
    HANDSHAKE_ERR_FLAGS = -3,    /* unknown flag bits */
    HANDSHAKE_ERR_NODE = -4,     /* node id 0 */
    HANDSHAKE_ERR_MAC = -5,      /* a MAC that does not verify: another secret */
    HANDSHAKE_ERR_RANDOM = -6,   /* the system's random source failed */
};
const char *handshake_strerror(int error);

struct handshake_hello {
    uint16_t flags;
    cn_node_id sender;
    uint64_t cluster_id;
    uint8_t nonce[HANDSHAKE_NONCE_BYTES]; /* only with HANDSHAKE_FLAG_AUTH */
};

struct handshake_challenge {
    cn_node_id acceptor;
    uint8_t nonce[HANDSHAKE_NONCE_BYTES];
    uint8_t mac[HANDSHAKE_MAC_BYTES];
};

/* Writes the hello (20 or 52 bytes, by its flags) into out (capacity >= 52). Returns its size. */
size_t handshake_hello_encode(const struct handshake_hello *hello, uint8_t *out);
/* Decodes a hello from the start of `in`. Returns the bytes it takes (20 or 52), 0 when more
 * bytes are needed to tell, or a handshake_error. Reads at most len bytes. */
int64_t handshake_hello_decode(const uint8_t *in, size_t len, struct handshake_hello *out);

/* Challenge: out has HANDSHAKE_CHALLENGE_BYTES. Decode returns the same conventions as the
 * hello's (HANDSHAKE_CHALLENGE_BYTES, 0 or an error). */
void handshake_challenge_encode(const struct handshake_challenge *challenge, uint8_t *out);
int64_t handshake_challenge_decode(const uint8_t *in, size_t len,
                                   struct handshake_challenge *out);
/* Proof: out has HANDSHAKE_PROOF_BYTES. */
void handshake_proof_encode(const uint8_t mac[HANDSHAKE_MAC_BYTES], uint8_t *out);
int64_t handshake_proof_decode(const uint8_t *in, size_t len, uint8_t mac[HANDSHAKE_MAC_BYTES]);

/* Which side's MAC: each signs with its own label. */
enum handshake_role { HANDSHAKE_ACCEPTOR = 0, HANDSHAKE_CONNECTOR = 1 };

/* The MAC a side sends (see the wire above). secret_len in [MIN, MAX]. */
void handshake_mac(enum handshake_role role, const uint8_t *secret, size_t secret_len,
                   uint64_t cluster_id, cn_node_id connector, cn_node_id acceptor,
                   const uint8_t nonce_connector[HANDSHAKE_NONCE_BYTES],
                   const uint8_t nonce_acceptor[HANDSHAKE_NONCE_BYTES],
                   uint8_t out[HANDSHAKE_MAC_BYTES]);
/* Recomputes the MAC and compares in constant time. */
bool handshake_mac_verify(enum handshake_role role, const uint8_t *secret, size_t secret_len,
                          uint64_t cluster_id, cn_node_id connector, cn_node_id acceptor,
                          const uint8_t nonce_connector[HANDSHAKE_NONCE_BYTES],
                          const uint8_t nonce_acceptor[HANDSHAKE_NONCE_BYTES],
                          const uint8_t mac[HANDSHAKE_MAC_BYTES]);

/* A fresh nonce from the system's CSPRNG. Returns 0, or HANDSHAKE_ERR_RANDOM. */
int handshake_nonce(uint8_t out[HANDSHAKE_NONCE_BYTES]);

#endif
