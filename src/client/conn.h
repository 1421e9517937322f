/*
 * conn.h — a synchronous RESP client connection: connect with a timeout, send one command,
 * read one reply, every wait bounded by a deadline. One request in flight at a time; one
 * connection per thread (nothing here is shared).
 *
 * Failures are classified by what they tell a caller about a request's fate:
 *   CLIENT_E_REFUSED / CLIENT_E_RESOLVE  nothing was sent
 *   CLIENT_E_NOT_SENT  sending failed before any byte left: the server never saw it
 *   CLIENT_E_TIMEOUT / CLIENT_E_CLOSED / CLIENT_E_IO after a send: the outcome is unknown
 *   CLIENT_E_PROTOCOL  the reply was malformed or over a limit (the connection is unusable)
 */
#ifndef CHORUS_CLIENT_CONN_H
#define CHORUS_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "client/reply.h"

enum {
    CLIENT_HOST_BYTES_MAX = 256,
    CLIENT_ADDRESS_BYTES_MAX = CLIENT_HOST_BYTES_MAX + 8, /* "host:port" + NUL */
    CLIENT_ARGS_MAX = 64,                                 /* arguments of one command */
    CLIENT_READ_CHUNK_BYTES = 16u << 10,
    CLIENT_CONN_ERROR_BYTES_MAX = 512,
};

enum client_status {
    CLIENT_OK = 0,
    CLIENT_E_RESOLVE = 1,
    CLIENT_E_REFUSED = 2,
    CLIENT_E_NOT_SENT = 3,
    CLIENT_E_TIMEOUT = 4,
    CLIENT_E_CLOSED = 5,
    CLIENT_E_IO = 6,
    CLIENT_E_PROTOCOL = 7,
    CLIENT_E_NO_MEMORY = 8,
};
const char *client_status_name(enum client_status status);

struct client_endpoint {
    char host[CLIENT_HOST_BYTES_MAX];
    uint16_t port;
};

/* Parses "host:port" (or "[v6]:port"). Returns 0, or -1 when malformed. */
int client_endpoint_parse(const char *text, struct client_endpoint *endpoint);
/* Parses a comma-separated list into endpoints[0..*count), at most `capacity`. Returns 0 or -1. */
int client_endpoint_list_parse(const char *text, struct client_endpoint *endpoints,
                               uint32_t capacity, uint32_t *count);
/* "host:port" into out (CLIENT_ADDRESS_BYTES_MAX). */
void client_endpoint_format(const struct client_endpoint *endpoint, char *out);

struct client_conn {
    int fd;                                   /* -1 when closed */
    char *in;                                 /* received bytes not yet consumed */
    size_t in_len;
    size_t in_capacity;
    struct client_reply_limits limits;
    char error[CLIENT_CONN_ERROR_BYTES_MAX];  /* the last failure, for messages */
};

/* A closed connection with the default reply limits. */
void client_conn_init(struct client_conn *conn);
/* Connects, waiting at most timeout_ms. The connection must be closed. */
enum client_status client_conn_open(struct client_conn *conn,
                                    const struct client_endpoint *endpoint, int timeout_ms);
void client_conn_close(struct client_conn *conn);
/* Releases the buffer too (the connection may be opened again afterwards). */
void client_conn_destroy(struct client_conn *conn);

/* Sends one command (argc <= CLIENT_ARGS_MAX; lengths NULL: strlen). On any failure the
 * connection is closed. */
enum client_status client_conn_send(struct client_conn *conn, uint32_t argc,
                                    const char *const *argv, const size_t *lengths,
                                    int timeout_ms);
/* Reads one reply (release with client_reply_free). On any failure the connection is closed. */
enum client_status client_conn_read(struct client_conn *conn, int timeout_ms,
                                    struct client_reply **reply);
/* send + read. */
enum client_status client_conn_call(struct client_conn *conn, uint32_t argc,
                                    const char *const *argv, const size_t *lengths,
                                    int timeout_ms, struct client_reply **reply);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t client_now_ns(void);

#endif
