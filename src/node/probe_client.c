/*
 * probe_client.c — the blocking probe of a peer port (net/probe.h): chorusd --join asks a
 * member for the address book (and a sharded cluster's topology) before the loop runs, and
 * CLUSTER MEET asks the new node from the thread pool. With --tls-replication the probe travels inside TLS like every peer
 * connection: the caller hands in a connecting-side engine (made on the loop thread, so a
 * SIGHUP reload never frees a context under this thread), and the probe completes the
 * handshake over the socket before the request.
 *
 * Bounds: every wait is at most NODE_PROBE_WAIT_MS, at most NODE_PROBE_PASSES_MAX waits are
 * made in all, the answer is at most TRANSPORT_PROBE_ANSWER_BYTES_MAX, and ciphertext is read
 * NODE_PROBE_READ_BYTES at a time, its plaintext taken before the next read.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls.h"
#include "net/transport.h"
#include "node/node_internal.h"

enum {
    NODE_PROBE_WAIT_MS = 2000,
    NODE_PROBE_PASSES_MAX = 10000,
    NODE_PROBE_READ_BYTES = 16 * 1024,
};

struct probe_io {
    int fd;
    struct net_tls_conn *tls; /* NULL: plain */
    const char *addr;
    int passes;               /* waits made so far */
    char *error;
    size_t error_len;
};

/* Waits until fd is ready for `events`. Returns 0, or -1 with the error set. */
static int io_wait(struct probe_io *io, short events, const char *stage)
{
    if (++io->passes > NODE_PROBE_PASSES_MAX) {
        snprintf(io->error, io->error_len, "%s %s: the probe did not finish", stage, io->addr);
        return -1;
    }
    struct pollfd p = {.fd = io->fd, .events = events};
    int n = poll(&p, 1, NODE_PROBE_WAIT_MS);
    if (n > 0)
        return 0;
    snprintf(io->error, io->error_len, "%s %s: %s", stage, io->addr,
             n == 0 ? "timed out" : strerror(errno));
    return -1;
}

/* Sends all of data. Returns 0 or -1 with the error set. */
static int io_send(struct probe_io *io, const uint8_t *data, size_t len)
{
    size_t sent = 0;
    while (sent < len) { /* every pass waits (bounded in number) and moves bytes or ends */
        if (io_wait(io, POLLOUT, "connecting to") != 0)
            return -1;
        ssize_t w = send(io->fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(io->error, io->error_len, "connecting to %s: %s", io->addr, strerror(errno));
            return -1;
        }
        if (w > 0)
            sent += (size_t)w;
    }
    return 0;
}

/* Sends the ciphertext the engine has ready (handshake records, the sealed request). */
static int io_flush_tls(struct probe_io *io)
{
    size_t pending = net_tls_pending(io->tls);
    if (pending == 0)
        return 0;
    uint8_t *ct = malloc(pending);
    if (ct == NULL || net_tls_take(io->tls, ct, pending) != 0) {
        free(ct);
        snprintf(io->error, io->error_len, "TLS to %s: out of memory", io->addr);
        return -1;
    }
    int rv = io_send(io, ct, pending);
    free(ct);
    return rv;
}

/* Receives some bytes from the socket into buf. Returns their count, or -1 with the error set
 * (the other side closed: it refused the probe). */
static ssize_t io_recv(struct probe_io *io, uint8_t *buf, size_t cap)
{
    for (;;) { /* bounded by io_wait's pass limit */
        if (io_wait(io, POLLIN, "waiting for the answer of") != 0)
            return -1;
        ssize_t r = recv(io->fd, buf, cap, 0);
        if (r > 0)
            return r;
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        snprintf(io->error, io->error_len, "%s refused the probe (another cluster, %s, or not a "
                 "chorusd peer port)", io->addr,
                 io->tls != NULL ? "our certificate refused, no --tls-replication there"
                                 : "--tls-replication there");
        return -1;
    }
}

/* Feeds one socket read of ciphertext to the engine. */
static int io_feed(struct probe_io *io)
{
    uint8_t buf[NODE_PROBE_READ_BYTES];
    ssize_t r = io_recv(io, buf, sizeof(buf));
    if (r < 0)
        return -1;
    if (net_tls_feed(io->tls, buf, (size_t)r) != 0) {
        snprintf(io->error, io->error_len, "TLS to %s: %s", io->addr, net_tls_reason(io->tls));
        return -1;
    }
    return 0;
}

static int io_handshake(struct probe_io *io)
{
    for (;;) { /* bounded by io_wait's pass limit: each pass reads or ends */
        int rv = net_tls_handshake(io->tls);
        if (io_flush_tls(io) != 0)
            return -1;
        if (rv > 0)
            return 0;
        if (rv < 0) {
            snprintf(io->error, io->error_len, "TLS to %s: %s", io->addr, net_tls_reason(io->tls));
            return -1;
        }
        if (io_feed(io) != 0)
            return -1;
    }
}

/* Reads exactly len bytes of plaintext. */
static int io_read(struct probe_io *io, uint8_t *out, size_t len)
{
    size_t got = 0;
    while (got < len) { /* bounded by io_wait's pass limit */
        if (io->tls == NULL) {
            ssize_t r = io_recv(io, out + got, len - got);
            if (r < 0)
                return -1;
            got += (size_t)r;
            continue;
        }
        int64_t n = net_tls_read(io->tls, out + got, len - got);
        if (n < 0) {
            snprintf(io->error, io->error_len, "TLS from %s: %s", io->addr, net_tls_reason(io->tls));
            return -1;
        }
        if (n > 0)
            got += (size_t)n;
        else if (io_feed(io) != 0)
            return -1;
    }
    return 0;
}

/* Connects, and with TLS completes the handshake. */
static int io_open(struct probe_io *io, const struct sockaddr_storage *sa)
{
    io->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (io->fd < 0) {
        snprintf(io->error, io->error_len, "socket: %s", strerror(errno));
        return -1;
    }
    socklen_t sa_len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : sizeof(struct sockaddr_in);
    if (connect(io->fd, (const struct sockaddr *)sa, sa_len) != 0 && errno != EINPROGRESS) {
        snprintf(io->error, io->error_len, "connecting to %s: %s", io->addr, strerror(errno));
        return -1;
    }
    if (io_wait(io, POLLOUT, "connecting to") != 0)
        return -1;
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0 || so_error != 0) {
        snprintf(io->error, io->error_len, "connecting to %s: %s", io->addr,
                 strerror(so_error != 0 ? so_error : errno));
        return -1;
    }
    return io->tls != NULL ? io_handshake(io) : 0;
}

/* The request, then the answer: a length and that many bytes (an address book, a topology). */
static int io_exchange(struct probe_io *io, const struct transport_probe *probe, uint8_t *answer,
                       size_t *answer_len)
{
    uint8_t request[TRANSPORT_PROBE_BYTES];
    transport_probe_encode(probe, request);
    if (io->tls != NULL) {
        if (net_tls_write(io->tls, request, sizeof(request)) != 0 || io_flush_tls(io) != 0) {
            snprintf(io->error, io->error_len, "TLS to %s: %s", io->addr, net_tls_reason(io->tls));
            return -1;
        }
    } else if (io_send(io, request, sizeof(request)) != 0) {
        return -1;
    }
    if (io_read(io, answer, 4) != 0)
        return -1;
    uint32_t n_bytes = (uint32_t)answer[0] | (uint32_t)answer[1] << 8 |
                       (uint32_t)answer[2] << 16 | (uint32_t)answer[3] << 24;
    if (n_bytes == 0 || n_bytes > TRANSPORT_PROBE_ANSWER_BYTES_MAX) {
        snprintf(io->error, io->error_len, "%s answered a bad length", io->addr);
        return -1;
    }
    if (io_read(io, answer + 4, n_bytes) != 0)
        return -1;
    *answer_len = n_bytes;
    return 0;
}

int node_probe_exchange(const char *addr, const struct transport_probe *probe,
                        struct net_tls_conn *tls, uint8_t **answer_out, size_t *answer_len,
                        char *error, size_t error_len)
{
    struct probe_io io = {.fd = -1, .tls = tls, .addr = addr, .error = error,
                          .error_len = error_len};
    struct sockaddr_storage sa;
    char why[TRANSPORT_ERROR_BYTES_MAX];
    int rv = -1;
    uint8_t *answer = malloc(4 + TRANSPORT_PROBE_ANSWER_BYTES_MAX);
    assert(answer != NULL);
    if (transport_address_parse(addr, false, &sa, why, sizeof(why)) != 0) {
        snprintf(error, error_len, "%s", why);
        goto out;
    }
    if (io_open(&io, &sa) == 0 && io_exchange(&io, probe, answer, answer_len) == 0) {
        *answer_out = answer;
        answer = NULL;
        rv = 0;
    }
out:
    if (io.fd >= 0)
        close(io.fd);
    net_tls_conn_free(tls);
    free(answer);
    return rv;
}
