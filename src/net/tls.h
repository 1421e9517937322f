/*
 * tls.h — a TLS engine over memory BIOs (OpenSSL): the caller moves the ciphertext, OpenSSL
 * never touches a socket. Used by the client listener (node/tls.c, --tls-port) and by the peer
 * transport (transport_tls.c, --tls-replication), both on libuv; no I/O here.
 *
 * One connection's life:
 *
 *   net_tls_feed(ciphertext read from the socket)
 *   net_tls_handshake() until it returns 1 (both roles)
 *   net_tls_read() plaintext out, net_tls_write() plaintext in
 *   after each of those, net_tls_pending() / net_tls_take(): ciphertext to send, in order
 *
 * Bounds: whatever is fed stays inside OpenSSL only until the caller reads it, and a read
 * returns at most what was fed (less the record overhead), so a caller that feeds one socket
 * read at a time and drains the plaintext before the next holds at most one read's worth.
 * The ciphertext waiting to be sent is what the caller wrote, plus the record overhead.
 *
 * Not thread-safe per connection; separate connections may live on separate threads (the
 * probe of chorusd --join runs on the thread pool). An error's reason is kept in the
 * connection and names OpenSSL's reason and the certificate check, never key material.
 */
#ifndef CHORUS_NET_TLS_H
#define CHORUS_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_tls_context;
struct net_tls_conn;

enum {
    NET_TLS_REASON_BYTES = 256,
    /* The largest plaintext one TLS record carries. */
    NET_TLS_RECORD_BYTES = 16 * 1024,
};

/* How a context checks the certificate of the other side. */
enum net_tls_verify {
    NET_TLS_VERIFY_NONE = 0,     /* asks for none (a server), checks none (a client) */
    NET_TLS_VERIFY_OPTIONAL = 1, /* a server checks a client certificate if one is sent */
    NET_TLS_VERIFY_REQUIRE = 2,  /* the other side must present one that chains to the CA */
};

struct net_tls_files {
    const char *cert; /* PEM chain, leaf first */
    const char *key;  /* PEM private key */
    const char *ca;   /* PEM CA bundle the other side's certificate must chain to, or NULL */
    enum net_tls_verify verify; /* with a CA only; without one, NONE */
};

/* Loads the certificate, key and CA into a context that serves both roles (TLS 1.2 and 1.3,
 * no renegotiation, no session tickets or resumption). Returns NULL with a message in error
 * (the file's flag and OpenSSL's reason; no key material). */
struct net_tls_context *net_tls_context_new(const struct net_tls_files *files, char *error,
                                            size_t error_len);
/* Connections still open keep what they need of it (OpenSSL counts references). */
void net_tls_context_free(struct net_tls_context *context);

/* A connection: the accepting side when server, else the connecting side. NULL when out of
 * memory. */
struct net_tls_conn *net_tls_conn_new(struct net_tls_context *context, bool server);
void net_tls_conn_free(struct net_tls_conn *conn);

/* Hands `len` bytes of ciphertext read from the socket to OpenSSL. Returns 0, or -1 when out
 * of memory. */
int net_tls_feed(struct net_tls_conn *conn, const uint8_t *data, size_t len);

/* Advances the handshake with what was fed. Returns 1 once it is complete (the other side's
 * certificate checked), 0 while it needs more input, -1 when it failed (net_tls_reason). Call
 * net_tls_take afterwards either way: a step may have produced records to send, and a
 * failure an alert. */
int net_tls_handshake(struct net_tls_conn *conn);
bool net_tls_established(const struct net_tls_conn *conn);

/* Takes plaintext out of what was fed: the bytes written to out (at most cap), 0 when no
 * more is available now, -1 when the connection is over (the other side's close_notify or
 * an error; net_tls_reason says which). Precondition: established. */
int64_t net_tls_read(struct net_tls_conn *conn, uint8_t *out, size_t cap);
/* Whether the last -1 of net_tls_read was the other side's orderly close_notify. */
bool net_tls_closed_cleanly(const struct net_tls_conn *conn);

/* Encrypts all of `len` bytes into the ciphertext waiting to be sent. Returns 0, or -1 (out
 * of memory or a failed connection). Precondition: established. */
int net_tls_write(struct net_tls_conn *conn, const uint8_t *data, size_t len);

/* The ciphertext waiting to be sent, and taking `len` bytes of it (len <= pending) into out.
 * net_tls_take returns 0, or -1 when the BIO failed. */
size_t net_tls_pending(const struct net_tls_conn *conn);
int net_tls_take(struct net_tls_conn *conn, uint8_t *out, size_t len);

/* Why the last call failed: OpenSSL's reason, with the certificate check's verdict when it
 * was the cause. Valid until the next call on the connection. */
const char *net_tls_reason(const struct net_tls_conn *conn);

#endif
