/*
 * probe.h — the probe on the peer port (transport.h): its wire form. Pure, no I/O.
 */
#ifndef CHORUS_NET_PROBE_H
#define CHORUS_NET_PROBE_H

#include <stdint.h>
#include <stddef.h>

/*
 * Probes. Instead of a hello, a connection may send one probe and read one answer: this is
 * how a node that is not yet part of the cluster (it does not know the cluster id) learns it
 * from a member (chorusd --join), and how a leader learns a new node's id and addresses
 * (CLUSTER MEET), both through the peer port the operator named.
 *
 *     probe   u32 magic "CHPQ" | u8 kind | u8[3] zero | u64 cluster id (0: unknown) |
 *             u32 sender id (0: unknown)                              (20 bytes, little-endian)
 *     answer  u32 length (<= TRANSPORT_PROBE_ANSWER_BYTES_MAX) | that many bytes
 *
 * The acceptor answers through on_probe and closes the connection; a connection that sent a
 * probe never carries frames. What the answer holds is the caller's (src/net/memberbook.h).
 */
enum {
    TRANSPORT_PROBE_MAGIC = 0x51504843u, /* "CHPQ" as little-endian bytes */
    TRANSPORT_PROBE_BYTES = 20,
    TRANSPORT_PROBE_ANSWER_BYTES_MAX = 262144, /* a topology: TOPOLOGY_ENCODED_BYTES_MAX */
};
struct transport_probe {
    uint8_t kind;
    uint64_t cluster_id;
    uint32_t sender;
    char remote[64];          /* the acceptor fills in who asked ("HOST:PORT") */
};
/* Decodes a probe at the start of in: TRANSPORT_PROBE_BYTES, 0 when more bytes are needed,
 * -1 when it is not a well-formed probe. */
int64_t transport_probe_decode(const uint8_t *in, size_t len, struct transport_probe *out);
void transport_probe_encode(const struct transport_probe *probe,
                            uint8_t out[TRANSPORT_PROBE_BYTES]);

#endif
