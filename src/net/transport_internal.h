/*
 * transport_internal.h — the structures shared by transport.c (life cycle, config, stats),
 * transport_peer.c (outgoing connections and send queues) and transport_inbound.c (the
 * listener and accepted connections). Not part of the API.
 *
 * Handle ownership: every uv handle the transport opens counts in handles_open, and its close
 * callback decrements it; once transport_stop was called and the count reaches zero, the
 * transport calls on_closed and frees itself. Connections (links and inbounds) are allocated
 * one by one and freed by their close callback, so a new connection to a peer can open while
 * the old one is still closing.
 */
#ifndef CHORUS_NET_TRANSPORT_INTERNAL_H
#define CHORUS_NET_TRANSPORT_INTERNAL_H

#include "net/handshake.h"
#include "net/transport.h"

enum {
    TRANSPORT_READ_BYTES_INITIAL = 64u << 10,   /* an inbound read buffer to start with */
    TRANSPORT_READ_BYTES_KEEP = 2u << 20,       /* larger buffers are freed once empty */
    TRANSPORT_SWEEP_MS = 250,                   /* how often hello deadlines are checked */
    TRANSPORT_LINK_READ_BYTES = 64,             /* outgoing links only read to see EOF */
    TRANSPORT_LOG_BYTES_MAX = 256,
    /* A peer host that vanishes without a reset: unacknowledged data fails the connection after
     * this long (TCP_USER_TIMEOUT), and an idle connection is probed after the keepalive delay,
     * instead of the kernel's defaults of many minutes. */
    TRANSPORT_TCP_USER_TIMEOUT_MS = 10000,
    TRANSPORT_TCP_KEEPALIVE_S = 5,
};

/* One encoded message waiting in a peer's queue or being written. */
struct transport_frame {
    struct transport_frame *next;
    uint32_t len;
    uint8_t bytes[];
};

enum transport_peer_state {
    TRANSPORT_PEER_IDLE = 0,   /* no connection; the next send opens one */
    TRANSPORT_PEER_CONNECTING, /* link present, connect pending; timer = connect timeout */
    TRANSPORT_PEER_CONNECTED,  /* link present, hello written first, frames follow */
    TRANSPORT_PEER_BACKOFF,    /* no link; timer = when to try again */
};

struct transport_link;

struct transport_peer {
    struct transport *t;
    cn_node_id id; /* 0: the slot is free */
    char addr[TRANSPORT_ADDR_BYTES_MAX];
    struct sockaddr_storage sockaddr;
    enum transport_peer_state state;
    struct transport_link *link; /* the current connection, NULL when IDLE or BACKOFF */
    uv_timer_t timer;            /* connect timeout or backoff; initialized for every slot */
    /* Frames not yet handed to a write, oldest first. */
    struct transport_frame *queue_head;
    struct transport_frame *queue_tail;
    /* Bound accounting: queued frames plus those of the write in flight. */
    uint32_t queue_messages;
    size_t queue_bytes;
    bool write_in_flight; /* at most one batched write per peer at a time */
    uint32_t backoff_ms;  /* the next backoff's base, before jitter */
    bool failed_before;   /* a connection to this peer failed once: later attempts reconnect */
    uint32_t failures_in_row; /* connection failures since the last established connection */
    bool unreachable_pending; /* on_unreachable is due at the next per-iteration flush */
    uint64_t messages_sent;
    uint64_t messages_dropped;
};

/* An outgoing connection. Owned by its peer until detached (peer = NULL), then by libuv until
 * its close callback frees it. */
struct transport_link {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t hello_req;
    struct transport *t;
    struct transport_peer *peer; /* NULL once detached: callbacks then only clean up */
    struct transport_write *write; /* the batched write in flight, at most one */
    uint64_t connected_ms;       /* uv_now when the connection was established */
    uint8_t hello[HANDSHAKE_HELLO_AUTH_BYTES];
    uint8_t read_buf[TRANSPORT_LINK_READ_BYTES];
    /* With a secret: the challenge is read into challenge_buf until whole, then the proof is
     * written and the link is established (the peer becomes CONNECTED). */
    bool awaiting_challenge;
    size_t challenge_len;
    uint8_t challenge_buf[HANDSHAKE_CHALLENGE_BYTES];
    uint8_t proof[HANDSHAKE_PROOF_BYTES];
    uv_write_t proof_req;
    /* With TLS: the engine, and the socket's reads (TRANSPORT_TLS_READ_BYTES). The hello
     * leaves once its handshake is complete (link_on_tls). */
    struct net_tls_conn *tls;
    uint8_t *tls_read;
};

/* One batched write: the frames it carries and their buffers. */
struct transport_write {
    uv_write_t req;
    struct transport_link *link;
    struct transport_peer *peer;
    struct transport_frame *frames;
    uint32_t frame_count;
    size_t bytes;
    uv_buf_t bufs[];
};

/* An accepted connection: it reads a hello, then frames. */
struct transport_inbound {
    uv_tcp_t tcp;
    struct transport *t;
    struct transport_inbound *prev;
    struct transport_inbound *next;
    bool closing;
    bool hello_done;       /* and, with a secret, the proof verified: frames may follow */
    bool challenged;       /* with a secret: the challenge was sent, the proof is awaited */
    bool challenge_writing; /* challenge_req is in flight */
    cn_node_id peer;       /* from the hello */
    uint8_t nonce_connector[HANDSHAKE_NONCE_BYTES];
    uint8_t nonce_acceptor[HANDSHAKE_NONCE_BYTES];
    uint8_t challenge[HANDSHAKE_CHALLENGE_BYTES];
    uv_write_t challenge_req;
    uint64_t accepted_ms;  /* uv_now at accept; the hello deadline counts from here */
    uint8_t *buf;          /* unconsumed bytes at [0, len); capacity cap */
    size_t len;
    size_t cap;
    char remote[TRANSPORT_ADDR_BYTES_MAX];
    /* A probe (transport.h): its answer, being written, after which the connection closes. */
    uint8_t *probe_out;
    uv_write_t probe_req;
    /* With TLS: the engine, and the socket's reads (TRANSPORT_TLS_READ_BYTES), whose
     * plaintext goes to buf as a plain connection's bytes do. */
    struct net_tls_conn *tls;
    uint8_t *tls_read;
};

struct transport {
    uv_loop_t *loop;
    struct transport_config config; /* listen_addr points at listen_text */
    char listen_text[TRANSPORT_ADDR_BYTES_MAX];
    struct transport_callbacks callbacks;
    uv_tcp_t listener;
    uv_prepare_t flush_prepare;
    uv_timer_t sweep_timer;
    struct transport_peer peers[TRANSPORT_PEERS_MAX];
    struct transport_inbound *inbound_head;
    uint32_t inbound_count;
    uint32_t handles_open;
    bool stopping;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
    uint64_t rng_state;
    struct transport_stats stats;
    /* The rate limit of rejection log lines (transport_log_reject). */
    uint64_t reject_window_ms;
    uint32_t reject_window_lines;
    /* Decoding scratch: a single thread decodes one frame at a time. */
    struct cn_entry decode_entries[CN_MESSAGE_ENTRIES_MAX];
};

/* transport.c */
void transport_log(struct transport *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* A line about a refused peer: logged at most TRANSPORT_REJECT_LOG_LINES per window, so that
 * a stranger knocking at the peer port cannot flood the log. */
void transport_log_reject(struct transport *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void transport_handle_closed(uv_handle_t *handle); /* close callback of handles with data = t */
void transport_release(struct transport *t);       /* one handle less; finishes a stop */
void transport_flush_prepare_cb(uv_prepare_t *prepare);
uint64_t transport_rand(struct transport *t);
void transport_socket_tune(uv_tcp_t *tcp); /* keepalive, user timeout, no Nagle */
void transport_sockaddr_format(const struct sockaddr *addr, char *out, size_t outlen);

/* transport_peer.c */
struct transport_peer *transport_peer_find(struct transport *t, cn_node_id id);
void transport_peer_init(struct transport *t, struct transport_peer *peer);
void transport_peer_flush(struct transport_peer *peer);
void transport_peer_close(struct transport_peer *peer); /* for stop and remove: no backoff */
void transport_peer_drop_queue(struct transport_peer *peer);

/* transport_tls.c */
/* uv_write, or with tls: the buffers sealed into one ciphertext write; cb gets req either
 * way. Returns 0 or a libuv error (then cb does not run). Precondition: tls established. */
int transport_stream_write(struct net_tls_conn *tls, uv_stream_t *stream, uv_write_t *req,
                           const uv_buf_t *bufs, unsigned count, uv_write_cb cb);
/* Sends the records the engine produced by itself (handshake, alerts). 0 or a libuv error. */
int transport_tls_flush(struct net_tls_conn *tls, uv_stream_t *stream);

/* transport_inbound.c */
void transport_inbound_on_connection(uv_stream_t *server, int status);
void transport_inbound_sweep(uv_timer_t *timer);
void transport_inbound_close(struct transport_inbound *in);

#endif
