/*
 * tls.h — TLS for client connections (--tls-port), with the engine of net/tls.h (OpenSSL over
 * memory BIOs, shared with the peer transport): libuv moves the ciphertext, OpenSSL never
 * touches a socket. server.c calls these for a connection
 * accepted on the TLS listener; everything else (parsing, commands, back-pressure) sees the
 * plaintext exactly as on a plain connection.
 *
 * Data path of one connection:
 *
 *   socket --uv_read--> read_buf --node_tls_receive: BIO_write(rbio), SSL_read--> client->in
 *   client->out --node_tls_seal: SSL_write--> wbio --BIO_read--> ciphertext --uv_write--> socket
 *
 * Bounds: one socket read (NODE_TLS_READ_BYTES) is fed at a time and all of its plaintext is
 * taken at once (never more than the ciphertext), so nothing waits inside OpenSSL while
 * reading is stopped for back-pressure; the ciphertext buffer holds one write's worth (the
 * client's output is itself bounded).
 */
#ifndef CHORUS_NODE_TLS_H
#define CHORUS_NODE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/tls.h"

struct node;
struct node_client;
struct node_tls_conn;

enum {
    NODE_TLS_READ_BYTES = 64 * 1024,
};

/* What --tls-cert, --tls-key, --tls-ca and --tls-auth-clients name. */
struct node_tls_files {
    const char *cert; /* PEM chain, leaf first */
    const char *key;  /* PEM private key */
    const char *ca;   /* PEM CA bundle for client certificates, or NULL */
    /* With a CA: 2 requires a client certificate (Redis's default "yes"), 1 verifies one if
     * sent ("optional"), 0 asks for none ("no"). */
    int auth_clients;
};

/* Loads the certificate, key and CA. Returns NULL with a message (no key material in it).
 * Freed with net_tls_context_free. */
struct net_tls_context *node_tls_context_new(const struct node_tls_files *files, char *error,
                                             size_t error_len);

/* A connection's TLS state, server side. NULL when out of memory. */
struct node_tls_conn *node_tls_conn_new(struct net_tls_context *context);
void node_tls_conn_free(struct node_tls_conn *conn);

/* Where libuv reads the next ciphertext into. */
uint8_t *node_tls_read_buffer(struct node_tls_conn *conn, size_t *len);

/* Feeds `len` bytes just read into the read buffer, advances the handshake, and appends every
 * plaintext byte to client->in (growing it). Returns 0, or -1 when the connection must close
 * (a protocol error, a failed certificate check, a close_notify), with a reason for the log. */
int node_tls_receive(struct node_client *client, size_t len, const char **reason);

/* Encrypts the client's pending output (once the handshake is done; before that it waits),
 * then hands back everything to send: handshake records and ciphertext, in order. *data stays
 * valid until the next call. Returns 0, or -1 when the connection must close. */
int node_tls_seal(struct node_client *client, const uint8_t **data, size_t *len);

/* Whether the handshake is complete (a client's output may be sealed). */
bool node_tls_established(const struct node_tls_conn *conn);

#endif
