/*
 * transport.c — the transport's life cycle: configuration, start (listening socket, flush and
 * sweep handles), stop (closing every handle), counters, logging and address parsing.
 * Outgoing connections are in transport_peer.c, accepted ones in transport_inbound.c.
 */
#include "net/transport_internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static_assert(TRANSPORT_HELLO_BYTES == 4 + 2 + 2 + 4 + 8, "hello layout changed");
static_assert((int)TRANSPORT_HELLO_BYTES == (int)HANDSHAKE_HELLO_BYTES &&
              (unsigned)TRANSPORT_HELLO_MAGIC == (unsigned)HANDSHAKE_HELLO_MAGIC &&
              (int)TRANSPORT_VERSION == (int)HANDSHAKE_VERSION, "the hello is handshake.c's");
static_assert((int)TRANSPORT_SECRET_BYTES_MAX == (int)HANDSHAKE_SECRET_BYTES_MAX,
              "one secret bound");
static_assert(TRANSPORT_WRITE_BUFFERS_MAX >= 1, "a write carries at least one frame");
static_assert((size_t)TRANSPORT_READ_BYTES_INITIAL >= (size_t)TRANSPORT_HELLO_BYTES, "hello fits the buffer");

const char *transport_strerror(int error)
{
    switch (error) {
    case TRANSPORT_OK: return "ok";
    case TRANSPORT_ERR_QUEUE_FULL: return "send queue full";
    case TRANSPORT_ERR_UNKNOWN_PEER: return "unknown peer";
    case TRANSPORT_ERR_ENCODE: return "message cannot be encoded";
    case TRANSPORT_ERR_CONFIG: return "bad configuration";
    case TRANSPORT_ERR_IO: return "system error";
    case TRANSPORT_ERR_NOT_SELF: return "message is not from this node";
    default: return "unknown transport error";
    }
}

void transport_config_defaults(struct transport_config *config)
{
    assert(config != NULL);
    memset(config, 0, sizeof *config);
    config->send_queue_bytes_max = TRANSPORT_SEND_QUEUE_BYTES_MAX_DEFAULT;
    config->send_queue_messages_max = TRANSPORT_SEND_QUEUE_MESSAGES_MAX_DEFAULT;
    config->backoff_ms_initial = TRANSPORT_BACKOFF_MS_INITIAL_DEFAULT;
    config->backoff_ms_max = TRANSPORT_BACKOFF_MS_MAX_DEFAULT;
    config->connect_timeout_ms = TRANSPORT_CONNECT_TIMEOUT_MS_DEFAULT;
    config->hello_timeout_ms = TRANSPORT_HELLO_TIMEOUT_MS_DEFAULT;
    config->inbound_max = TRANSPORT_INBOUND_MAX_DEFAULT;
}

static void transport_error_set(char *err, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void transport_error_set(char *err, size_t errlen, const char *format, ...)
{
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, format);
    vsnprintf(err, errlen, format, ap);
    va_end(ap);
}

void transport_log(struct transport *t, const char *format, ...)
{
    char line[TRANSPORT_LOG_BYTES_MAX];
    int prefix = snprintf(line, sizeof line, "transport %u: ", t->config.self);
    assert(prefix > 0 && (size_t)prefix < sizeof line);
    va_list ap;
    va_start(ap, format);
    vsnprintf(line + prefix, sizeof line - (size_t)prefix, format, ap);
    va_end(ap);
    if (t->callbacks.on_log != NULL)
        t->callbacks.on_log(t->callbacks.ctx, line);
    else
        fprintf(stderr, "%s\n", line);
}

void transport_log_reject(struct transport *t, const char *format, ...)
{
    uint64_t now = uv_now(t->loop);
    if (now - t->reject_window_ms >= TRANSPORT_REJECT_LOG_WINDOW_MS) {
        t->reject_window_ms = now;
        t->reject_window_lines = 0;
    }
    if (t->reject_window_lines >= TRANSPORT_REJECT_LOG_LINES) {
        t->stats.log_lines_suppressed++;
        return;
    }
    t->reject_window_lines++;
    char line[TRANSPORT_LOG_BYTES_MAX];
    va_list ap;
    va_start(ap, format);
    vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    if (t->reject_window_lines == TRANSPORT_REJECT_LOG_LINES)
        transport_log(t, "%s (further refusals in the next %d s are counted, not logged; "
                      "%llu so far)", line, TRANSPORT_REJECT_LOG_WINDOW_MS / 1000,
                      (unsigned long long)t->stats.log_lines_suppressed);
    else
        transport_log(t, "%s", line);
}

/* splitmix64: small, seeded and portable, so that a run's backoff jitter replays exactly. */
uint64_t transport_rand(struct transport *t)
{
    uint64_t z = (t->rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- addresses ------------------------------------------------------------------------ */

static int transport_port_parse(const char *text, bool allow_port_zero, uint16_t *port)
{
    if (*text == '\0') return -1;
    uint32_t value = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return -1;
        value = value * 10 + (uint32_t)(*p - '0');
        if (value > 65535) return -1; /* also bounds the loop's arithmetic */
    }
    if (value == 0 && !allow_port_zero) return -1;
    *port = (uint16_t)value;
    return 0;
}

int transport_address_parse(const char *text, bool allow_port_zero, struct sockaddr_storage *out,
                            char *err, size_t errlen)
{
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (text == NULL || *text == '\0') {
        transport_error_set(err, errlen, "empty address: expected HOST:PORT");
        return TRANSPORT_ERR_CONFIG;
    }
    size_t len = strnlen(text, TRANSPORT_ADDR_BYTES_MAX);
    if (len >= TRANSPORT_ADDR_BYTES_MAX) {
        transport_error_set(err, errlen, "address longer than %d bytes",
                            TRANSPORT_ADDR_BYTES_MAX - 1);
        return TRANSPORT_ERR_CONFIG;
    }
    char host[TRANSPORT_ADDR_BYTES_MAX];
    const char *port_text;
    bool ipv6 = text[0] == '[';
    if (ipv6) {
        const char *close = strchr(text, ']');
        if (close == NULL) {
            transport_error_set(err, errlen, "\"%s\": missing ']' after the IPv6 address", text);
            return TRANSPORT_ERR_CONFIG;
        }
        if (close[1] != ':') {
            transport_error_set(err, errlen, "\"%s\": expected [IPV6]:PORT", text);
            return TRANSPORT_ERR_CONFIG;
        }
        size_t host_len = (size_t)(close - text - 1);
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL) {
            transport_error_set(err, errlen, "\"%s\": missing :PORT", text);
            return TRANSPORT_ERR_CONFIG;
        }
        if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
            transport_error_set(err, errlen, "\"%s\": an IPv6 address goes in brackets: "
                                "[IPV6]:PORT", text);
            return TRANSPORT_ERR_CONFIG;
        }
        size_t host_len = (size_t)(colon - text);
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        port_text = colon + 1;
    }
    uint16_t port;
    if (transport_port_parse(port_text, allow_port_zero, &port) != 0) {
        transport_error_set(err, errlen, "\"%s\": bad port \"%s\" (expected %s..65535)", text,
                            port_text, allow_port_zero ? "0" : "1");
        return TRANSPORT_ERR_CONFIG;
    }
    if (ipv6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            transport_error_set(err, errlen, "\"%s\": bad IPv6 address \"%s\"", text, host);
            return TRANSPORT_ERR_CONFIG;
        }
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)out;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            transport_error_set(err, errlen, "\"%s\": bad IPv4 address \"%s\" (host names are "
                                "not resolved)", text, host);
            return TRANSPORT_ERR_CONFIG;
        }
    }
    return TRANSPORT_OK;
}

/* No Nagle: our own batching already gathers small messages, Nagle would only add latency.
 * Best effort: a connection works without these options, only detects a dead peer later, so
 * their failures are ignored on purpose. */
void transport_socket_tune(uv_tcp_t *tcp)
{
    (void)uv_tcp_nodelay(tcp, 1);
    (void)uv_tcp_keepalive(tcp, 1, TRANSPORT_TCP_KEEPALIVE_S);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)tcp, &fd) == 0) {
        unsigned int timeout_ms = TRANSPORT_TCP_USER_TIMEOUT_MS;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof timeout_ms);
    }
}

void transport_sockaddr_format(const struct sockaddr *addr, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
        port = ntohs(a4->sin_port);
        snprintf(out, outlen, "%s:%u", host, port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        port = ntohs(a6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", host, port);
    } else {
        snprintf(out, outlen, "?");
    }
}

/* ---- start ---------------------------------------------------------------------------- */

static int transport_config_check(const struct transport_config *c, char *err, size_t errlen)
{
    if (c->self == 0) {
        transport_error_set(err, errlen, "self: node id must be non-zero");
        return TRANSPORT_ERR_CONFIG;
    }
    if (c->peer_count > TRANSPORT_PEERS_MAX) {
        transport_error_set(err, errlen, "peer_count %u exceeds %d", c->peer_count,
                            TRANSPORT_PEERS_MAX);
        return TRANSPORT_ERR_CONFIG;
    }
    if (c->send_queue_bytes_max == 0 || c->send_queue_messages_max == 0 ||
        c->backoff_ms_initial == 0 || c->backoff_ms_max < c->backoff_ms_initial ||
        c->connect_timeout_ms == 0 || c->hello_timeout_ms == 0 || c->inbound_max == 0) {
        transport_error_set(err, errlen, "a bound is zero or backoff_ms_max < "
                            "backoff_ms_initial (start from transport_config_defaults)");
        return TRANSPORT_ERR_CONFIG;
    }
    if (c->secret_len != 0 && (c->secret_len < HANDSHAKE_SECRET_BYTES_MIN ||
                               c->secret_len > TRANSPORT_SECRET_BYTES_MAX)) {
        transport_error_set(err, errlen, "the cluster secret must be %d to %d bytes",
                            HANDSHAKE_SECRET_BYTES_MIN, TRANSPORT_SECRET_BYTES_MAX);
        return TRANSPORT_ERR_CONFIG;
    }
    for (uint32_t i = 0; i < c->peer_count; i++) {
        if (c->peers[i].id == 0) {
            transport_error_set(err, errlen, "peer %u: node id must be non-zero", i);
            return TRANSPORT_ERR_CONFIG;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (c->peers[j].id == c->peers[i].id) {
                transport_error_set(err, errlen, "peer %u listed twice", c->peers[i].id);
                return TRANSPORT_ERR_CONFIG;
            }
        }
        if (memchr(c->peers[i].addr, '\0', sizeof c->peers[i].addr) == NULL) {
            transport_error_set(err, errlen, "peer %u: address not terminated", c->peers[i].id);
            return TRANSPORT_ERR_CONFIG;
        }
    }
    return TRANSPORT_OK;
}

/* Opens the listening socket ourselves rather than through uv_tcp_bind, so that every failure
 * (address in use, permission) is reported here, synchronously, before any uv handle exists:
 * a failed start then leaves nothing on the loop to close. */
static int transport_listen_socket(const struct sockaddr_storage *addr, const char *text,
                                   int *fd_out, char *err, size_t errlen)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        transport_error_set(err, errlen, "listen %s: socket: %s", text, strerror(errno));
        return TRANSPORT_ERR_IO;
    }
    /* A restarted node must be able to listen again while old connections sit in TIME_WAIT. */
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail;
    socklen_t addrlen = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                    : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)addr, addrlen) != 0) goto fail;
    if (listen(fd, TRANSPORT_LISTEN_BACKLOG) != 0) goto fail;
    *fd_out = fd;
    return TRANSPORT_OK;
fail:;
    int saved = errno;
    close(fd);
    transport_error_set(err, errlen, "listen %s: %s", text, strerror(saved));
    return TRANSPORT_ERR_IO;
}

int transport_start(uv_loop_t *loop, const struct transport_config *config,
                    const struct transport_callbacks *callbacks, struct transport **out,
                    char *err, size_t errlen)
{
    assert(loop != NULL && config != NULL && callbacks != NULL && out != NULL);
    assert(callbacks->on_message != NULL);
    *out = NULL;
    int rv = transport_config_check(config, err, errlen);
    if (rv != 0) return rv;

    /* Parse every address before anything is opened. */
    struct sockaddr_storage listen_addr;
    char perr[TRANSPORT_ERROR_BYTES_MAX];
    if (transport_address_parse(config->listen_addr, true, &listen_addr, perr, sizeof perr)) {
        transport_error_set(err, errlen, "listen_addr: %s", perr);
        return TRANSPORT_ERR_CONFIG;
    }
    struct sockaddr_storage peer_addrs[TRANSPORT_PEERS_MAX];
    for (uint32_t i = 0; i < config->peer_count; i++) {
        if (transport_address_parse(config->peers[i].addr, false, &peer_addrs[i], perr,
                                    sizeof perr)) {
            transport_error_set(err, errlen, "peer %u: %s", config->peers[i].id, perr);
            return TRANSPORT_ERR_CONFIG;
        }
    }

    struct transport *t = calloc(1, sizeof *t);
    if (t == NULL) {
        transport_error_set(err, errlen, "out of memory");
        return TRANSPORT_ERR_IO;
    }
    int fd = -1;
    rv = transport_listen_socket(&listen_addr, config->listen_addr, &fd, err, errlen);
    if (rv != 0) {
        free(t);
        return rv;
    }

    t->loop = loop;
    t->config = *config;
    snprintf(t->listen_text, sizeof t->listen_text, "%s", config->listen_addr);
    t->config.listen_addr = t->listen_text;
    t->callbacks = *callbacks;
    t->rng_state = config->seed;

    /* From here on nothing fails except what would mean a broken libuv: asserted. */
    int uv = uv_tcp_init(loop, &t->listener);
    assert(uv == 0);
    t->listener.data = t;
    t->handles_open++;
    uv = uv_tcp_open(&t->listener, fd);
    assert(uv == 0);
    uv = uv_listen((uv_stream_t *)&t->listener, TRANSPORT_LISTEN_BACKLOG,
                   transport_inbound_on_connection);
    assert(uv == 0);

    uv = uv_prepare_init(loop, &t->flush_prepare);
    assert(uv == 0);
    t->flush_prepare.data = t;
    t->handles_open++;
    uv_prepare_start(&t->flush_prepare, transport_flush_prepare_cb);
    uv_unref((uv_handle_t *)&t->flush_prepare); /* the listener keeps the loop alive */

    uv = uv_timer_init(loop, &t->sweep_timer);
    assert(uv == 0);
    t->sweep_timer.data = t;
    t->handles_open++;
    uv_timer_start(&t->sweep_timer, transport_inbound_sweep, TRANSPORT_SWEEP_MS,
                   TRANSPORT_SWEEP_MS);
    uv_unref((uv_handle_t *)&t->sweep_timer);

    for (uint32_t i = 0; i < TRANSPORT_PEERS_MAX; i++) transport_peer_init(t, &t->peers[i]);
    uint32_t slot = 0;
    for (uint32_t i = 0; i < config->peer_count; i++) {
        if (config->peers[i].id == config->self) continue; /* we never send to ourselves */
        struct transport_peer *peer = &t->peers[slot++];
        peer->id = config->peers[i].id;
        snprintf(peer->addr, sizeof peer->addr, "%s", config->peers[i].addr);
        peer->sockaddr = peer_addrs[i];
    }
    *out = t;
    return TRANSPORT_OK;
}

/* ---- flush, stop ---------------------------------------------------------------------- */

void transport_flush(struct transport *t)
{
    assert(t != NULL);
    if (t->stopping) return;
    for (uint32_t i = 0; i < TRANSPORT_PEERS_MAX; i++) {
        if (t->peers[i].id != 0) transport_peer_flush(&t->peers[i]);
    }
}

/* Runs once per loop iteration, just before the loop blocks for I/O: first the pending
 * on_unreachable notifications (the callback may send, or stop the transport), then one
 * batched write per peer with everything queued during the iteration. */
void transport_flush_prepare_cb(uv_prepare_t *prepare)
{
    struct transport *t = prepare->data;
    for (uint32_t i = 0; i < TRANSPORT_PEERS_MAX && !t->stopping; i++) {
        struct transport_peer *peer = &t->peers[i];
        if (peer->id == 0 || !peer->unreachable_pending) continue;
        peer->unreachable_pending = false;
        if (t->callbacks.on_unreachable != NULL)
            t->callbacks.on_unreachable(t->callbacks.ctx, peer->id);
    }
    transport_flush(t);
}

static void transport_finish(struct transport *t)
{
    assert(t->stopping && t->handles_open == 0);
    assert(t->inbound_head == NULL && t->inbound_count == 0);
    void (*on_closed)(void *) = t->on_closed;
    void *arg = t->on_closed_arg;
    free(t);
    if (on_closed != NULL) on_closed(arg);
}

void transport_release(struct transport *t)
{
    assert(t->handles_open > 0);
    t->handles_open--;
    if (t->stopping && t->handles_open == 0) transport_finish(t);
}

void transport_handle_closed(uv_handle_t *handle)
{
    transport_release(handle->data);
}

void transport_stop(struct transport *t, void (*on_closed)(void *arg), void *arg)
{
    assert(t != NULL);
    assert(!t->stopping);
    t->stopping = true;
    t->on_closed = on_closed;
    t->on_closed_arg = arg;
    for (uint32_t i = 0; i < TRANSPORT_PEERS_MAX; i++) {
        struct transport_peer *peer = &t->peers[i];
        if (peer->id != 0) {
            transport_peer_close(peer);
            transport_peer_drop_queue(peer);
        }
        uv_close((uv_handle_t *)&peer->timer, transport_handle_closed);
    }
    /* Bounded by inbound_max; each close unlinks the connection at once. */
    while (t->inbound_head != NULL) transport_inbound_close(t->inbound_head);
    uv_close((uv_handle_t *)&t->listener, transport_handle_closed);
    uv_close((uv_handle_t *)&t->flush_prepare, transport_handle_closed);
    uv_close((uv_handle_t *)&t->sweep_timer, transport_handle_closed);
}

/* ---- peers, stats --------------------------------------------------------------------- */

int transport_peer_set(struct transport *t, cn_node_id id, const char *addr, char *err,
                       size_t errlen)
{
    assert(t != NULL && !t->stopping);
    if (id == 0 || id == t->config.self) {
        transport_error_set(err, errlen, "peer id %u: must be non-zero and not self", id);
        return TRANSPORT_ERR_CONFIG;
    }
    struct sockaddr_storage sockaddr;
    char perr[TRANSPORT_ERROR_BYTES_MAX];
    if (transport_address_parse(addr, false, &sockaddr, perr, sizeof perr) != 0) {
        transport_error_set(err, errlen, "peer %u: %s", id, perr);
        return TRANSPORT_ERR_CONFIG;
    }
    struct transport_peer *peer = transport_peer_find(t, id);
    if (peer == NULL) {
        peer = transport_peer_find(t, 0); /* a free slot */
        if (peer == NULL) {
            transport_error_set(err, errlen, "peer %u: already %d peers", id,
                                TRANSPORT_PEERS_MAX);
            return TRANSPORT_ERR_CONFIG;
        }
        peer->id = id;
    } else if (strcmp(peer->addr, addr) != 0) {
        /* Keep the queue; it goes to the new address once the next flush reconnects. */
        transport_peer_close(peer);
    }
    snprintf(peer->addr, sizeof peer->addr, "%s", addr);
    peer->sockaddr = sockaddr;
    return TRANSPORT_OK;
}

void transport_peer_remove(struct transport *t, cn_node_id id)
{
    assert(t != NULL && !t->stopping);
    struct transport_peer *peer = id == 0 ? NULL : transport_peer_find(t, id);
    if (peer == NULL) return;
    transport_peer_close(peer);
    transport_peer_drop_queue(peer);
    peer->id = 0;
    peer->addr[0] = '\0';
    peer->failed_before = false;
    peer->unreachable_pending = false;
    peer->backoff_ms = t->config.backoff_ms_initial;
}

uint16_t transport_listen_port(const struct transport *t)
{
    struct sockaddr_storage addr;
    int len = sizeof addr;
    if (uv_tcp_getsockname(&t->listener, (struct sockaddr *)&addr, &len) != 0) return 0;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return 0;
}

void transport_stats(const struct transport *t, struct transport_stats *stats)
{
    assert(t != NULL && stats != NULL);
    *stats = t->stats;
}

bool transport_peer_info(const struct transport *t, cn_node_id id,
                         struct transport_peer_info *info)
{
    assert(t != NULL && info != NULL);
    memset(info, 0, sizeof *info);
    if (id == 0) return false;
    const struct transport_peer *peer = transport_peer_find((struct transport *)t, id);
    if (peer == NULL) return false;
    info->id = peer->id;
    snprintf(info->addr, sizeof info->addr, "%s", peer->addr);
    info->connected = peer->state == TRANSPORT_PEER_CONNECTED;
    info->queue_messages = peer->queue_messages;
    info->queue_bytes = peer->queue_bytes;
    info->messages_sent = peer->messages_sent;
    info->messages_dropped = peer->messages_dropped;
    return true;
}
