/*
 * conn.c — the synchronous RESP connection (see conn.h). The socket is non-blocking; every
 * wait is a poll() bounded by the caller's deadline, so no call can hang on a stopped server.
 */
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/conn.h"

int64_t client_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *client_status_name(enum client_status status)
{
    switch (status) {
    case CLIENT_OK: return "ok";
    case CLIENT_E_RESOLVE: return "cannot resolve host";
    case CLIENT_E_REFUSED: return "connection refused";
    case CLIENT_E_NOT_SENT: return "send failed";
    case CLIENT_E_TIMEOUT: return "timed out";
    case CLIENT_E_CLOSED: return "connection closed";
    case CLIENT_E_IO: return "i/o error";
    case CLIENT_E_PROTOCOL: return "protocol error";
    case CLIENT_E_NO_MEMORY: return "out of memory";
    }
    return "?";
}

int client_endpoint_parse(const char *text, struct client_endpoint *endpoint)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0')
        return -1;
    const char *host = text;
    size_t host_len = (size_t)(colon - text);
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len == 0 || host_len >= sizeof(endpoint->host))
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
        return -1;
    memcpy(endpoint->host, host, host_len);
    endpoint->host[host_len] = '\0';
    endpoint->port = (uint16_t)port;
    return 0;
}

int client_endpoint_list_parse(const char *text, struct client_endpoint *endpoints,
                               uint32_t capacity, uint32_t *count)
{
    char item[CLIENT_ADDRESS_BYTES_MAX + 1];
    *count = 0;
    const char *at = text;
    for (;;) { /* one item per comma; bounded by `capacity` */
        const char *comma = strchr(at, ',');
        size_t len = comma != NULL ? (size_t)(comma - at) : strlen(at);
        if (len == 0 || len >= sizeof(item) || *count == capacity)
            return -1;
        memcpy(item, at, len);
        item[len] = '\0';
        if (client_endpoint_parse(item, &endpoints[*count]) != 0)
            return -1;
        (*count)++;
        if (comma == NULL)
            return 0;
        at = comma + 1;
    }
}

void client_endpoint_format(const struct client_endpoint *endpoint, char *out)
{
    int v6 = strchr(endpoint->host, ':') != NULL;
    snprintf(out, CLIENT_ADDRESS_BYTES_MAX, v6 ? "[%s]:%u" : "%s:%u", endpoint->host,
             (unsigned)endpoint->port);
}

void client_conn_init(struct client_conn *conn)
{
    memset(conn, 0, sizeof(*conn));
    conn->fd = -1;
    client_reply_limits_default(&conn->limits);
}

void client_conn_close(struct client_conn *conn)
{
    if (conn->fd >= 0)
        close(conn->fd); /* nothing to do about a close error on a socket we drop */
    conn->fd = -1;
    conn->in_len = 0;
}

void client_conn_destroy(struct client_conn *conn)
{
    client_conn_close(conn);
    free(conn->in);
    conn->in = NULL;
    conn->in_capacity = 0;
}

static int remaining_ms(int64_t deadline_ns)
{
    int64_t left = deadline_ns - client_now_ns();
    if (left <= 0)
        return 0;
    return (int)((left + 999999) / 1000000);
}

/* Waits until fd is ready for `events` or the deadline passes. Returns 1 ready, 0 timeout,
 * -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
    for (;;) { /* EINTR retries end at the deadline */
        int ms = remaining_ms(deadline_ns);
        if (ms == 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;
        if (rc == 0)
            continue; /* re-check the deadline */
        if (errno != EINTR)
            return -1;
    }
}

static enum client_status conn_fail(struct client_conn *conn, enum client_status status,
                                    const char *what, int error_number)
{
    if (error_number != 0)
        snprintf(conn->error, sizeof(conn->error), "%s: %s", what, strerror(error_number));
    else
        snprintf(conn->error, sizeof(conn->error), "%s", what);
    client_conn_close(conn);
    return status;
}

/* Tries one resolved address. Returns CLIENT_OK with conn->fd set, or a failure. */
static enum client_status open_one(struct client_conn *conn, const struct addrinfo *ai,
                                   int64_t deadline_ns)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return conn_fail(conn, CLIENT_E_IO, "socket", errno);
    conn->fd = fd;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* latency only */
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return CLIENT_OK;
    if (errno == ECONNREFUSED)
        return conn_fail(conn, CLIENT_E_REFUSED, "connect", errno);
    if (errno != EINPROGRESS)
        return conn_fail(conn, CLIENT_E_IO, "connect", errno);
    int ready = wait_fd(fd, POLLOUT, deadline_ns);
    if (ready == 0)
        return conn_fail(conn, CLIENT_E_TIMEOUT, "connect timed out", 0);
    if (ready < 0)
        return conn_fail(conn, CLIENT_E_IO, "poll", errno);
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0)
        return conn_fail(conn, CLIENT_E_IO, "getsockopt", errno);
    if (so_error == ECONNREFUSED)
        return conn_fail(conn, CLIENT_E_REFUSED, "connect", so_error);
    if (so_error != 0)
        return conn_fail(conn, CLIENT_E_IO, "connect", so_error);
    return CLIENT_OK;
}

enum client_status client_conn_open(struct client_conn *conn,
                                    const struct client_endpoint *endpoint, int timeout_ms)
{
    assert(conn->fd < 0);
    assert(timeout_ms > 0);
    int64_t deadline_ns = client_now_ns() + (int64_t)timeout_ms * 1000000;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)endpoint->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(endpoint->host, port, &hints, &list);
    if (rc != 0) {
        snprintf(conn->error, sizeof(conn->error), "%.200s: %s", endpoint->host,
                 gai_strerror(rc));
        return CLIENT_E_RESOLVE;
    }
    enum client_status status = CLIENT_E_RESOLVE;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        status = open_one(conn, ai, deadline_ns);
        if (status == CLIENT_OK || status == CLIENT_E_TIMEOUT)
            break;
    }
    freeaddrinfo(list);
    conn->in_len = 0;
    return status;
}

/* Encodes a multibulk command. Returns a malloc'd buffer and its length, or NULL. */
static char *encode_command(uint32_t argc, const char *const *argv, const size_t *lengths,
                            size_t *out_len)
{
    size_t bytes = 16;
    for (uint32_t i = 0; i < argc; i++)
        bytes += 32 + (lengths != NULL ? lengths[i] : strlen(argv[i]));
    char *buf = malloc(bytes);
    if (buf == NULL)
        return NULL;
    size_t at = (size_t)snprintf(buf, bytes, "*%u\r\n", argc);
    for (uint32_t i = 0; i < argc; i++) {
        size_t len = lengths != NULL ? lengths[i] : strlen(argv[i]);
        at += (size_t)snprintf(buf + at, bytes - at, "$%zu\r\n", len);
        memcpy(buf + at, argv[i], len);
        at += len;
        buf[at++] = '\r';
        buf[at++] = '\n';
    }
    assert(at <= bytes);
    *out_len = at;
    return buf;
}

enum client_status client_conn_send(struct client_conn *conn, uint32_t argc,
                                    const char *const *argv, const size_t *lengths,
                                    int timeout_ms)
{
    assert(argc >= 1 && argc <= CLIENT_ARGS_MAX);
    if (conn->fd < 0)
        return conn_fail(conn, CLIENT_E_NOT_SENT, "not connected", 0);
    int64_t deadline_ns = client_now_ns() + (int64_t)timeout_ms * 1000000;
    size_t len = 0;
    char *buf = encode_command(argc, argv, lengths, &len);
    if (buf == NULL)
        return conn_fail(conn, CLIENT_E_NO_MEMORY, "out of memory", 0);
    size_t sent = 0;
    enum client_status status = CLIENT_OK;
    while (sent < len) { /* each round sends bytes or waits; bounded by the deadline */
        ssize_t n = send(conn->fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ready = wait_fd(conn->fd, POLLOUT, deadline_ns);
            if (ready > 0)
                continue;
            status = conn_fail(conn, sent == 0 ? CLIENT_E_NOT_SENT : CLIENT_E_TIMEOUT,
                               "send timed out", 0);
            break;
        }
        int error_number = n < 0 ? errno : EPIPE;
        status = conn_fail(conn, sent == 0 ? CLIENT_E_NOT_SENT : CLIENT_E_IO, "send",
                           error_number);
        break;
    }
    free(buf);
    return status;
}

/* Makes room for CLIENT_READ_CHUNK_BYTES more input, within the reply limits. */
static enum client_status grow_input(struct client_conn *conn)
{
    if (conn->in_capacity - conn->in_len >= CLIENT_READ_CHUNK_BYTES)
        return CLIENT_OK;
    size_t cap_max = conn->limits.bulk_bytes_max + conn->limits.line_bytes_max * 4 +
                     CLIENT_READ_CHUNK_BYTES;
    size_t capacity = conn->in_capacity ? conn->in_capacity * 2 : CLIENT_READ_CHUNK_BYTES * 2;
    if (capacity > cap_max + CLIENT_READ_CHUNK_BYTES)
        return conn_fail(conn, CLIENT_E_PROTOCOL, "reply larger than the input limit", 0);
    char *bigger = realloc(conn->in, capacity);
    if (bigger == NULL)
        return conn_fail(conn, CLIENT_E_NO_MEMORY, "out of memory", 0);
    conn->in = bigger;
    conn->in_capacity = capacity;
    return CLIENT_OK;
}

enum client_status client_conn_read(struct client_conn *conn, int timeout_ms,
                                    struct client_reply **reply)
{
    *reply = NULL;
    if (conn->fd < 0)
        return conn_fail(conn, CLIENT_E_CLOSED, "not connected", 0);
    int64_t deadline_ns = client_now_ns() + (int64_t)timeout_ms * 1000000;
    char why[CLIENT_REPLY_ERROR_BYTES_MAX];
    for (;;) { /* each round parses or reads more; bounded by the deadline and input limit */
        size_t consumed = 0;
        int rc = client_reply_parse(conn->in, conn->in_len, &conn->limits, reply, &consumed,
                                    why);
        if (rc == CLIENT_PARSE_COMPLETE) {
            memmove(conn->in, conn->in + consumed, conn->in_len - consumed);
            conn->in_len -= consumed;
            return CLIENT_OK;
        }
        if (rc == CLIENT_PARSE_ERROR)
            return conn_fail(conn, CLIENT_E_PROTOCOL, why, 0);
        if (rc == CLIENT_PARSE_NO_MEMORY)
            return conn_fail(conn, CLIENT_E_NO_MEMORY, "out of memory", 0);
        enum client_status grown = grow_input(conn);
        if (grown != CLIENT_OK)
            return grown;
        ssize_t n = recv(conn->fd, conn->in + conn->in_len, conn->in_capacity - conn->in_len, 0);
        if (n > 0) {
            conn->in_len += (size_t)n;
            continue;
        }
        if (n == 0)
            return conn_fail(conn, CLIENT_E_CLOSED, "connection closed by the server", 0);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return conn_fail(conn, errno == ECONNRESET ? CLIENT_E_CLOSED : CLIENT_E_IO, "recv",
                             errno);
        int ready = wait_fd(conn->fd, POLLIN, deadline_ns);
        if (ready == 0)
            return conn_fail(conn, CLIENT_E_TIMEOUT, "no reply before the timeout", 0);
        if (ready < 0)
            return conn_fail(conn, CLIENT_E_IO, "poll", errno);
    }
}

enum client_status client_conn_call(struct client_conn *conn, uint32_t argc,
                                    const char *const *argv, const size_t *lengths,
                                    int timeout_ms, struct client_reply **reply)
{
    *reply = NULL;
    enum client_status status = client_conn_send(conn, argc, argv, lengths, timeout_ms);
    if (status != CLIENT_OK)
        return status;
    return client_conn_read(conn, timeout_ms, reply);
}
