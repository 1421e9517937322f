/*
 * transport.h — the peer transport of chorusd: consensus messages between nodes over TCP.
 *
 * Everything runs on one libuv loop that the caller owns (the node's event-loop thread); no
 * function here may be called from another thread. The transport moves struct cn_message
 * values without looking into them: each one travels as one codec frame (consensus/codec.h).
 *
 * Wire, per TCP connection (one direction only: the connecting side writes, the acceptor reads):
 *
 *     hello   u32 magic "CHPT" | u16 transport version | u16 flags (0) | u32 sender node id |
 *             u64 cluster id                                      (20 bytes, little-endian)
 *     frames  cn_message_encode output, back to back (u32 length | u8 version | body)
 *
 * With a cluster secret (config.secret_len > 0) the hello carries a nonce, and the acceptor
 * answers with a challenge that the connector must answer before any frame: a mutual
 * HMAC-SHA256 challenge-response, described with its wire format in net/handshake.h. Those
 * two messages are the only bytes an acceptor ever writes. A peer that fails it (no secret,
 * another secret, another cluster) is closed before any of its frames is decoded; those
 * rejections are logged at most TRANSPORT_REJECT_LOG_LINES times per
 * TRANSPORT_REJECT_LOG_WINDOW_MS, with a count of the lines left out.
 *
 * The acceptor checks the hello (magic, version, flags, a non-zero sender id other than its
 * own, the cluster id, so that two clusters on one machine never talk) and then every frame:
 * its announced size (<= CN_MESSAGE_BYTES_MAX), that it decodes, and that it is from the node
 * the hello named and to this node. Any failure closes that one connection with a log line;
 * nothing else is affected. A node that sends to us uses its own outgoing connection, so each
 * pair of nodes holds two connections, each carrying one direction (as etcd's rafthttp does).
 *
 * TLS (config.tls): every connection, outgoing and accepted, first completes a TLS handshake
 * (1.2 or 1.3) in which each side presents its certificate and verifies the other's against
 * the context's CA (mutual TLS); only then does the hello above travel, inside TLS, followed
 * by the challenge-response and the frames as without it. A connection whose handshake fails
 * (no certificate, one of another CA, a peer speaking plaintext) is closed and logged once,
 * rate-limited as above, with OpenSSL's reason; the certificate's names are not checked
 * against the peer's address (peers are named by address, and the CA is the cluster's own).
 * Probes travel inside TLS too. The engine is net/tls.h, the sealed writes transport_tls.c.
 *
 * Outgoing, per peer: one connection, opened lazily by the first send, reopened after any
 * error with exponential backoff (backoff_ms_initial doubling to backoff_ms_max, with jitter
 * from a seeded generator). Messages are encoded at once into a bounded queue (bytes and
 * messages); a full queue drops the new message and says so (TRANSPORT_ERR_QUEUE_FULL), and
 * the caller then steps CN_EVENT_UNREACHABLE, since consensus tolerates loss and retries.
 * Everything queued while no write is in flight leaves in one uv_write with many buffers:
 * a uv_prepare handle flushes once per loop iteration, just before the loop blocks for I/O.
 * When a connection fails, the messages it held are dropped (counted), and on_unreachable
 * tells the caller.
 *
 * Typical use:
 *
 *     struct transport_config config;
 *     transport_config_defaults(&config);
 *     config.self = 1; config.cluster_id = 42; config.listen_addr = "127.0.0.1:7001";
 *     config.peers[0] = (...){ .id = 2, .addr = "127.0.0.1:7002" }; config.peer_count = 1;
 *     struct transport_callbacks cb = { .ctx = node, .on_message = node_on_message };
 *     if (transport_start(loop, &config, &cb, &t, err, sizeof err) != 0) die(err);
 *     ... transport_send(t, &message) from any loop callback ...
 *     transport_stop(t, on_closed, node);   then uv_run until on_closed ran
 */
#ifndef CHORUS_NET_TRANSPORT_H
#define CHORUS_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "consensus/consensus.h"
#include "net/probe.h"
#include "net/tls.h"

enum {
    TRANSPORT_VERSION = 1,
    TRANSPORT_HELLO_MAGIC = 0x54504843u, /* "CHPT" as little-endian bytes */
    TRANSPORT_HELLO_BYTES = 20,
    TRANSPORT_PEERS_MAX = 64,   /* peers with an outgoing connection (NODE_NODES_MAX) */
    TRANSPORT_ADDR_BYTES_MAX = 64,          /* "HOST:PORT" text, NUL included */
    TRANSPORT_ERROR_BYTES_MAX = 160,        /* an error message, NUL included */
    TRANSPORT_INBOUND_MAX_DEFAULT = 64,     /* accepted connections open at once */
    TRANSPORT_SEND_QUEUE_BYTES_MAX_DEFAULT = 64u << 20,
    TRANSPORT_SEND_QUEUE_MESSAGES_MAX_DEFAULT = 65536,
    TRANSPORT_BACKOFF_MS_INITIAL_DEFAULT = 50,
    TRANSPORT_BACKOFF_MS_MAX_DEFAULT = 2000,
    TRANSPORT_CONNECT_TIMEOUT_MS_DEFAULT = 2000, /* a SYN to a dead host is not waited out */
    TRANSPORT_HELLO_TIMEOUT_MS_DEFAULT = 5000,   /* an accepted connection must say hello */
    TRANSPORT_WRITE_BUFFERS_MAX = 1024,     /* uv_buf_t in one batched write (IOV_MAX) */
    TRANSPORT_LISTEN_BACKLOG = 128,
    TRANSPORT_SECRET_BYTES_MAX = 512,       /* HANDSHAKE_SECRET_BYTES_MAX */
    TRANSPORT_REJECT_LOG_LINES = 10,
    TRANSPORT_REJECT_LOG_WINDOW_MS = 10000,
    TRANSPORT_TLS_READ_BYTES = 64u << 10,   /* ciphertext fed to the engine per socket read */
};

/* Error codes. One table; transport_strerror names them. */
enum transport_error {
    TRANSPORT_OK = 0,
    TRANSPORT_ERR_QUEUE_FULL = -1,   /* the peer's send queue bound is reached; dropped */
    TRANSPORT_ERR_UNKNOWN_PEER = -2, /* no peer with the message's `to` */
    TRANSPORT_ERR_ENCODE = -3,       /* the codec refused the message (too large, invalid) */
    TRANSPORT_ERR_CONFIG = -4,       /* a bad configuration or address; see the message */
    TRANSPORT_ERR_IO = -5,           /* the system refused (bind, listen, memory) */
    TRANSPORT_ERR_NOT_SELF = -6,     /* the message's `from` is not this node */
};
const char *transport_strerror(int error);

struct transport_peer_config {
    cn_node_id id;                        /* non-zero; an entry equal to self is ignored */
    char addr[TRANSPORT_ADDR_BYTES_MAX];  /* "HOST:PORT" or "[IPV6]:PORT", numeric host */
};

struct transport_config {
    cn_node_id self;         /* non-zero */
    uint64_t cluster_id;     /* both ends of a connection must agree */
    const char *listen_addr; /* "HOST:PORT"; port 0 picks a free port (transport_listen_port) */
    struct transport_peer_config peers[TRANSPORT_PEERS_MAX];
    uint32_t peer_count;
    size_t send_queue_bytes_max;      /* per peer, queued plus being written; >= 1 */
    uint32_t send_queue_messages_max; /* per peer; >= 1 */
    uint32_t backoff_ms_initial;      /* >= 1 */
    uint32_t backoff_ms_max;          /* >= backoff_ms_initial */
    uint32_t connect_timeout_ms;      /* >= 1 */
    uint32_t hello_timeout_ms;        /* >= 1 */
    uint32_t inbound_max;             /* >= 1 */
    uint64_t seed;                    /* seeds the backoff jitter */
    /* The cluster secret: 0 bytes (no authentication), or HANDSHAKE_SECRET_BYTES_MIN to
     * TRANSPORT_SECRET_BYTES_MAX. Never logged. */
    uint8_t secret[TRANSPORT_SECRET_BYTES_MAX];
    size_t secret_len;
    /* TLS on every connection, both ways (see "TLS" above), or NULL. Not owned: the caller
     * keeps it alive until transport_tls_set replaces it or the transport stops (connections
     * keep what they need of it once made). */
    struct net_tls_context *tls;
};
/* Every bound at its default; self, cluster_id, listen_addr and the peers are left zero. */
void transport_config_defaults(struct transport_config *config);

/* Called on the loop thread. `ctx` is passed back unchanged. */
struct transport_callbacks {
    void *ctx;
    /* A decoded message from a peer. The message and everything it points to are valid only
     * during the call. Required. May call transport_send and transport_stop. */
    void (*on_message)(void *ctx, const struct cn_message *message);
    /* Messages to `peer` were lost because its connection failed or could not be opened:
     * step CN_EVENT_UNREACHABLE. Optional. May call transport_send. */
    void (*on_unreachable)(void *ctx, cn_node_id peer);
    /* One log line, without a newline. Optional: by default lines go to stderr. */
    void (*on_log)(void *ctx, const char *line);
    /* A probe arrived (see "Probes" above): writes the answer into out (at most cap bytes)
     * and returns its length, or 0 to refuse (the connection just closes). Optional: without
     * it every probe is refused. */
    size_t (*on_probe)(void *ctx, const struct transport_probe *probe, uint8_t *out, size_t cap);
};

/* Counters since start, for INFO. */
struct transport_stats {
    uint64_t messages_queued;       /* accepted by transport_send */
    uint64_t messages_sent;         /* written to the kernel */
    uint64_t bytes_sent;
    uint64_t messages_dropped;      /* queue full, or lost with a failed connection */
    uint64_t messages_received;     /* decoded and handed to on_message */
    uint64_t bytes_received;
    uint64_t decode_errors;         /* connections closed for a bad frame or a bad sender */
    uint64_t handshake_errors;      /* connections closed for a bad or missing hello */
    uint64_t auth_failures;         /* of those, failed authentication (either side) */
    uint64_t tls_failures;          /* of those, failed TLS handshakes (either side) */
    uint64_t log_lines_suppressed;  /* rejection lines left out by the log's rate limit */
    uint64_t connects;              /* outgoing connections established */
    uint64_t reconnects;            /* outgoing connection attempts after a failure */
    uint64_t connections_accepted;
    uint64_t connections_refused;   /* accepted and closed at once: inbound_max reached */
};

/* One peer's state, for INFO and tests. */
struct transport_peer_info {
    cn_node_id id;
    char addr[TRANSPORT_ADDR_BYTES_MAX];
    bool connected;
    uint32_t queue_messages; /* queued plus being written */
    size_t queue_bytes;
    uint64_t messages_sent;
    uint64_t messages_dropped;
};

struct transport;

/* Binds and listens on config->listen_addr, and prepares the outgoing peers (no connection
 * is opened until the first send). The config is copied. Returns 0, or an error with a message
 * in err (TRANSPORT_ERR_CONFIG, TRANSPORT_ERR_IO); on error nothing was left on the loop. */
int transport_start(uv_loop_t *loop, const struct transport_config *config,
                    const struct transport_callbacks *callbacks, struct transport **out,
                    char *err, size_t errlen);

/* Encodes `message` into the queue of peer message->to (so the caller's pointers need not
 * outlive the call) and opens the connection if there is none. Returns 0, or
 * TRANSPORT_ERR_QUEUE_FULL (dropped and counted: step CN_EVENT_UNREACHABLE),
 * TRANSPORT_ERR_UNKNOWN_PEER, TRANSPORT_ERR_NOT_SELF, TRANSPORT_ERR_ENCODE.
 * Precondition: transport_stop has not been called. */
int transport_send(struct transport *t, const struct cn_message *message);

/* Writes out what is queued now instead of at the end of the loop iteration. Optional. */
void transport_flush(struct transport *t);

/* Replaces the TLS context that new connections use (certificates reloaded); connections
 * already open keep theirs. TLS cannot be turned on or off this way: TRANSPORT_ERR_CONFIG
 * when context is NULL and TLS is on, or the reverse. */
int transport_tls_set(struct transport *t, struct net_tls_context *context);

/* Adds a peer, or changes a known peer's address (its connection is then closed and reopened
 * at the new address on the next send). Returns 0 or TRANSPORT_ERR_CONFIG with a message. */
int transport_peer_set(struct transport *t, cn_node_id id, const char *addr, char *err,
                       size_t errlen);
/* Forgets a peer: closes its connection and drops its queue. Unknown ids are ignored. */
void transport_peer_remove(struct transport *t, cn_node_id id);

/* The port the listener is bound to (useful after listening on port 0). */
uint16_t transport_listen_port(const struct transport *t);

void transport_stats(const struct transport *t, struct transport_stats *stats);
/* Fills `info` for peer `id`; false when there is no such peer. */
bool transport_peer_info(const struct transport *t, cn_node_id id,
                         struct transport_peer_info *info);

/* Closes every handle and connection and drops whatever is queued. on_closed(arg) runs from
 * the loop once all are closed (t is freed by then), after which uv_loop_close succeeds as far
 * as the transport is concerned. May be called from on_message and on_unreachable, not from
 * on_log. */
void transport_stop(struct transport *t, void (*on_closed)(void *arg), void *arg);

/* Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (numeric hosts; port 1..65535, or 0 when
 * allow_port_zero). Returns 0, or TRANSPORT_ERR_CONFIG with a message naming the problem. */
int transport_address_parse(const char *text, bool allow_port_zero, struct sockaddr_storage *out,
                            char *err, size_t errlen);

#endif
