/*
 * transport_inbound.c — the listener and accepted connections: a hello, then frames, each
 * decoded and handed to on_message.
 *
 * Everything a connection sends is untrusted. Each one reads into its own buffer, bounded by
 * the largest frame (CN_MESSAGE_BYTES_MAX): a frame's announced size is checked before the
 * buffer grows for it. A bad hello, an oversized or undecodable frame, or a frame whose sender
 * or addressee is not what the hello promised closes that connection, logged; nothing else is
 * touched. A connection that does not complete its hello within hello_timeout_ms is closed by
 * the sweep, so an idle or slow client cannot hold a slot forever, and at most inbound_max
 * connections are open at once.
 */
#include "net/transport_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/codec.h"

static void inbound_on_closed(uv_handle_t *handle)
{
    struct transport_inbound *in = handle->data;
    struct transport *t = in->t;
    free(in->buf);
    free(in->probe_out);
    net_tls_conn_free(in->tls);
    free(in->tls_read);
    free(in);
    transport_release(t);
}

/* Unlinks the connection at once (so stop and the sweep never see it again) and closes it. */
void transport_inbound_close(struct transport_inbound *in)
{
    struct transport *t = in->t;
    assert(!in->closing);
    in->closing = true;
    if (in->prev != NULL)
        in->prev->next = in->next;
    else
        t->inbound_head = in->next;
    if (in->next != NULL) in->next->prev = in->prev;
    in->prev = in->next = NULL;
    assert(t->inbound_count > 0);
    t->inbound_count--;
    uv_close((uv_handle_t *)&in->tcp, inbound_on_closed);
}

/* Every rejection is logged through the rate limit: whoever reaches the peer port chooses
 * how often this runs. */
static void inbound_reject(struct transport_inbound *in, uint64_t *counter, const char *format,
                           const char *detail)
{
    struct transport *t = in->t;
    (*counter)++;
    /* Before its hello (during TLS, say) a connection has not named its node yet. */
    char who[24] = "node unknown yet";
    if (in->peer != 0)
        snprintf(who, sizeof who, "node %u", in->peer);
    transport_log_reject(t, "inbound %s (%s): %s%s; closing", in->remote, who, format, detail);
    transport_inbound_close(in);
}

static void inbound_auth_reject(struct transport_inbound *in, const char *why)
{
    in->t->stats.auth_failures++;
    inbound_reject(in, &in->t->stats.handshake_errors, why, "; its frames are dropped");
}

static void inbound_on_challenge_written(uv_write_t *req, int status)
{
    struct transport_inbound *in = req->data;
    in->challenge_writing = false;
    /* A close cancels the write (UV_ECANCELED) before the close callback frees `in`. */
    if (status < 0 && !in->closing)
        inbound_reject(in, &in->t->stats.handshake_errors, "writing the challenge: ",
                       uv_strerror(status));
}

/* The hello asked for authentication: draw our nonce, prove the secret over both nonces,
 * and wait for the connector's proof. Returns false when the connection was closed. */
static bool inbound_challenge(struct transport_inbound *in)
{
    struct transport *t = in->t;
    if (handshake_nonce(in->nonce_acceptor) != HANDSHAKE_OK) {
        inbound_reject(in, &t->stats.handshake_errors, "no random nonce", "");
        return false;
    }
    struct handshake_challenge c = {.acceptor = t->config.self};
    memcpy(c.nonce, in->nonce_acceptor, sizeof c.nonce);
    handshake_mac(HANDSHAKE_ACCEPTOR, t->config.secret, t->config.secret_len,
                  t->config.cluster_id, in->peer, t->config.self, in->nonce_connector,
                  in->nonce_acceptor, c.mac);
    handshake_challenge_encode(&c, in->challenge);
    uv_buf_t buf = uv_buf_init((char *)in->challenge, sizeof in->challenge);
    in->challenge_req.data = in;
    int rc = transport_stream_write(in->tls, (uv_stream_t *)&in->tcp, &in->challenge_req, &buf, 1,
                                    inbound_on_challenge_written);
    if (rc != 0) {
        inbound_reject(in, &t->stats.handshake_errors, "writing the challenge: ", uv_strerror(rc));
        return false;
    }
    in->challenge_writing = true;
    in->challenged = true;
    return true;
}

/*
 * Checks the hello at the start of `h` (avail bytes). Returns the bytes it took, 0 when more
 * are needed, or -1 when the connection was closed. With a secret the hello must ask for
 * authentication; the challenge then leaves, and hello_done waits for the proof.
 */
static int64_t inbound_hello(struct transport_inbound *in, const uint8_t *h, size_t avail)
{
    struct transport *t = in->t;
    struct handshake_hello hello;
    int64_t rv = handshake_hello_decode(h, avail, &hello);
    if (rv == 0) return 0;
    const char *why = NULL;
    if (rv == HANDSHAKE_ERR_MAGIC && in->tls == NULL && h[0] == 0x16)
        why = "peer speaks TLS (--tls-replication yes there, not here)";
    else if (rv < 0)
        why = handshake_strerror((int)rv);
    else if (hello.sender == t->config.self)
        why = "hello names this node";
    else if (hello.cluster_id != t->config.cluster_id)
        why = "hello from another cluster (another --cluster list or --cluster-id)";
    if (why != NULL) {
        inbound_reject(in, &t->stats.handshake_errors, why, "");
        return -1;
    }
    in->peer = hello.sender;
    bool wants_auth = (hello.flags & HANDSHAKE_FLAG_AUTH) != 0;
    if (t->config.secret_len > 0 && !wants_auth) {
        inbound_auth_reject(in, "peer did not authenticate (no --cluster-secret-file there)");
        return -1;
    }
    if (t->config.secret_len == 0 && wants_auth) {
        inbound_auth_reject(in, "peer authenticates, but this node has no --cluster-secret-file");
        return -1;
    }
    if (!wants_auth) {
        in->hello_done = true;
        return rv;
    }
    memcpy(in->nonce_connector, hello.nonce, sizeof in->nonce_connector);
    return inbound_challenge(in) ? rv : -1;
}

/* The connector's proof, over both nonces. Returns the bytes it took, 0 when more are needed,
 * or -1 when the connection was closed. */
static int64_t inbound_proof(struct transport_inbound *in, const uint8_t *p, size_t avail)
{
    struct transport *t = in->t;
    uint8_t mac[HANDSHAKE_MAC_BYTES];
    int64_t rv = handshake_proof_decode(p, avail, mac);
    if (rv == 0) return 0;
    if (rv > 0 && !handshake_mac_verify(HANDSHAKE_CONNECTOR, t->config.secret,
                                        t->config.secret_len, t->config.cluster_id, in->peer,
                                        t->config.self, in->nonce_connector,
                                        in->nonce_acceptor, mac))
        rv = HANDSHAKE_ERR_MAC;
    if (rv < 0) {
        inbound_auth_reject(in, rv == HANDSHAKE_ERR_MAC
                                    ? "proof does not verify (another --cluster-secret-file)"
                                    : "no proof where one was due");
        return -1;
    }
    in->hello_done = true;
    return rv;
}

/* Decodes one complete frame and delivers it. Returns false when the connection was closed. */
static bool inbound_frame(struct transport_inbound *in, const uint8_t *frame, size_t size)
{
    struct transport *t = in->t;
    struct cn_message m;
    int rv = cn_message_decode(frame, size, &m, t->decode_entries, CN_MESSAGE_ENTRIES_MAX);
    if (rv != CN_OK) {
        inbound_reject(in, &t->stats.decode_errors, "frame does not decode: ", cn_strerror(rv));
        return false;
    }
    /* A frame must come from the node that said hello and be meant for us: anything else is a
     * misrouted or forged message, which consensus must never see. */
    if (m.from != in->peer || m.to != t->config.self) {
        inbound_reject(in, &t->stats.decode_errors, "frame from or to the wrong node", "");
        return false;
    }
    t->stats.messages_received++;
    t->stats.bytes_received += size;
    t->callbacks.on_message(t->callbacks.ctx, &m);
    /* The callback may have stopped the transport, which closed this connection. */
    return !in->closing;
}

/* Makes room for a frame of `need` bytes at the start of the buffer (need bounded by the
 * codec's frame-size check). Returns false when memory ran out (connection closed). */
static bool inbound_reserve(struct transport_inbound *in, size_t need)
{
    if (need <= in->cap) return true;
    assert(need <= CN_MESSAGE_BYTES_MAX);
    uint8_t *buf = realloc(in->buf, need);
    if (buf == NULL) {
        inbound_reject(in, &in->t->stats.decode_errors, "out of memory for a frame", "");
        return false;
    }
    in->buf = buf;
    in->cap = need;
    return true;
}

static void inbound_on_probe_written(uv_write_t *req, int status)
{
    struct transport_inbound *in = req->data;
    (void)status; /* written or not, the connection is done */
    if (!in->closing)
        transport_inbound_close(in);
}

/* The connection began with a probe's magic instead of a hello's. Returns the bytes it took,
 * 0 when more are needed, or -1 when the connection was closed or is closing. */
static int64_t inbound_probe(struct transport_inbound *in, const uint8_t *p, size_t avail)
{
    struct transport *t = in->t;
    struct transport_probe probe;
    int64_t rv = transport_probe_decode(p, avail, &probe);
    if (rv == 0) return 0;
    if (rv < 0 || t->callbacks.on_probe == NULL) {
        inbound_reject(in, &t->stats.handshake_errors, "bad or unwanted probe", "");
        return -1;
    }
    memcpy(probe.remote, in->remote, sizeof(probe.remote));
    in->probe_out = malloc(4 + TRANSPORT_PROBE_ANSWER_BYTES_MAX);
    if (in->probe_out == NULL) {
        inbound_reject(in, &t->stats.handshake_errors, "out of memory for a probe", "");
        return -1;
    }
    size_t n = t->callbacks.on_probe(t->callbacks.ctx, &probe, in->probe_out + 4,
                                     TRANSPORT_PROBE_ANSWER_BYTES_MAX);
    assert(n <= TRANSPORT_PROBE_ANSWER_BYTES_MAX);
    if (n == 0 || in->closing) {
        if (!in->closing)
            transport_inbound_close(in);
        return -1;
    }
    for (int i = 0; i < 4; i++)
        in->probe_out[i] = (uint8_t)(n >> (8 * i));
    uv_read_stop((uv_stream_t *)&in->tcp);
    uv_buf_t buf = uv_buf_init((char *)in->probe_out, (unsigned)(4 + n));
    in->probe_req.data = in;
    if (transport_stream_write(in->tls, (uv_stream_t *)&in->tcp, &in->probe_req, &buf, 1,
                               inbound_on_probe_written) != 0)
        transport_inbound_close(in);
    in->hello_done = true; /* nothing more is read from it */
    return -1;
}

/*
 * Consumes every complete hello or frame in the buffer, then keeps the partial rest at its
 * start, with room for the whole of the frame it begins. The loop is bounded by the bytes in
 * the buffer: every pass consumes at least a hello or a frame header, or stops.
 */
static void inbound_process(struct transport_inbound *in)
{
    struct transport *t = in->t;
    size_t off = 0;
    size_t need = 0; /* bytes the partial frame at `off` needs in all, when known */
    while (!in->closing) {
        size_t avail = in->len - off;
        if (!in->hello_done && !in->challenged && avail >= 4 &&
            (in->buf[off] | in->buf[off + 1] << 8 | in->buf[off + 2] << 16 |
             (uint32_t)in->buf[off + 3] << 24) == TRANSPORT_PROBE_MAGIC) {
            int64_t took = inbound_probe(in, in->buf + off, avail);
            if (took <= 0) return;
        }
        if (!in->hello_done) {
            int64_t took = in->challenged ? inbound_proof(in, in->buf + off, avail)
                                          : inbound_hello(in, in->buf + off, avail);
            if (took < 0) return;
            if (took == 0) break;
            off += (size_t)took;
            continue;
        }
        int64_t size = cn_message_frame_size(in->buf + off, avail);
        if (size == 0) break;
        if (size < 0) {
            inbound_reject(in, &t->stats.decode_errors, "bad frame length: ", cn_strerror(
                           (int)size));
            return;
        }
        if ((size_t)size > avail) {
            need = (size_t)size;
            break;
        }
        if (!inbound_frame(in, in->buf + off, (size_t)size)) return;
        off += (size_t)size;
    }
    if (in->closing) return;
    in->len -= off;
    if (in->len > 0 && off > 0) memmove(in->buf, in->buf + off, in->len);
    if (in->len == 0 && in->cap > TRANSPORT_READ_BYTES_KEEP) {
        /* A snapshot-sized buffer is not kept for a connection that has gone back to
         * heartbeats. */
        uint8_t *small = realloc(in->buf, TRANSPORT_READ_BYTES_INITIAL);
        if (small != NULL) {
            in->buf = small;
            in->cap = TRANSPORT_READ_BYTES_INITIAL;
        }
    }
    if (need > 0) (void)inbound_reserve(in, need);
}

static void inbound_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct transport_inbound *in = handle->data;
    if (in->tls != NULL) {
        *buf = uv_buf_init((char *)in->tls_read, TRANSPORT_TLS_READ_BYTES);
        return;
    }
    /* inbound_process leaves room for the rest of any partial frame, so cap > len unless the
     * buffer holds exactly a whole unprocessed frame, which cannot be: it was processed. */
    assert(in->cap > in->len);
    *buf = uv_buf_init((char *)in->buf + in->len, (unsigned)(in->cap - in->len));
}

/* A TLS handshake that failed: logged once for the connection, with OpenSSL's reason (a
 * certificate of another CA, none at all), or the plain hello of a peer without TLS. */
static void inbound_tls_reject(struct transport_inbound *in, const uint8_t *read, size_t len)
{
    struct transport *t = in->t;
    t->stats.tls_failures++;
    bool plain = len >= 4 && (read[0] | read[1] << 8 | read[2] << 16 | (uint32_t)read[3] << 24) ==
                                 TRANSPORT_HELLO_MAGIC;
    inbound_reject(in, &t->stats.handshake_errors, "TLS handshake failed: ",
                   plain ? "peer speaks plaintext (no --tls-replication there)"
                         : net_tls_reason(in->tls));
}

/*
 * With TLS: feeds one socket read to the engine, advances the handshake, and moves the
 * plaintext into buf, processing it as a plain connection's bytes whenever buf is full. The
 * loop is bounded by the plaintext of one read (TRANSPORT_TLS_READ_BYTES of ciphertext), and
 * every pass moves bytes or stops: inbound_process always leaves room in buf.
 */
static void inbound_tls_receive(struct transport_inbound *in, size_t nread)
{
    assert(nread <= TRANSPORT_TLS_READ_BYTES);
    if (net_tls_feed(in->tls, in->tls_read, nread) != 0) {
        inbound_reject(in, &in->t->stats.decode_errors, "TLS: ", net_tls_reason(in->tls));
        return;
    }
    int rv = net_tls_handshake(in->tls);
    /* The alert of a failure leaves before the close (best effort: the close cancels it). */
    (void)transport_tls_flush(in->tls, (uv_stream_t *)&in->tcp);
    if (rv < 0) {
        inbound_tls_reject(in, in->tls_read, nread);
        return;
    }
    while (rv > 0 && !in->closing && in->probe_out == NULL) {
        assert(in->cap > in->len);
        int64_t n = net_tls_read(in->tls, in->buf + in->len, in->cap - in->len);
        if (n == 0)
            break;
        if (n < 0) {
            if (net_tls_closed_cleanly(in->tls))
                transport_inbound_close(in);
            else
                inbound_reject(in, &in->t->stats.decode_errors, "TLS: ", net_tls_reason(in->tls));
            return;
        }
        in->len += (size_t)n;
        inbound_process(in);
    }
    if (!in->closing)
        (void)transport_tls_flush(in->tls, (uv_stream_t *)&in->tcp);
}

static void inbound_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct transport_inbound *in = stream->data;
    if (in->closing || nread == 0) return;
    if (nread < 0) {
        /* EOF or a reset: the peer went away, the normal end of a connection. */
        if (nread != UV_EOF)
            transport_log(in->t, "inbound %s (node %u): %s", in->remote, in->peer,
                          uv_strerror((int)nread));
        transport_inbound_close(in);
        return;
    }
    if (in->tls != NULL) {
        inbound_tls_receive(in, (size_t)nread);
        return;
    }
    assert((size_t)nread <= in->cap - in->len);
    in->len += (size_t)nread;
    inbound_process(in);
}

void transport_inbound_on_connection(uv_stream_t *server, int status)
{
    struct transport *t = server->data;
    if (t->stopping) return;
    if (status < 0) {
        transport_log(t, "accept: %s", uv_strerror(status));
        return;
    }
    struct transport_inbound *in = calloc(1, sizeof *in);
    uint8_t *buf = malloc(TRANSPORT_READ_BYTES_INITIAL);
    struct net_tls_conn *tls = t->config.tls != NULL ? net_tls_conn_new(t->config.tls, true) : NULL;
    uint8_t *tls_read = t->config.tls != NULL ? malloc(TRANSPORT_TLS_READ_BYTES) : NULL;
    if (in == NULL || buf == NULL || (t->config.tls != NULL && (tls == NULL || tls_read == NULL))) {
        /* The pending connection stays in the backlog; the next accept retries it. */
        transport_log(t, "accept: out of memory");
        free(in);
        free(buf);
        net_tls_conn_free(tls);
        free(tls_read);
        return;
    }
    in->tls = tls;
    in->tls_read = tls_read;
    int uv = uv_tcp_init(t->loop, &in->tcp);
    assert(uv == 0);
    in->tcp.data = in;
    in->t = t;
    in->buf = buf;
    in->cap = TRANSPORT_READ_BYTES_INITIAL;
    in->accepted_ms = uv_now(t->loop);
    snprintf(in->remote, sizeof in->remote, "?");
    t->handles_open++;
    in->next = t->inbound_head;
    if (in->next != NULL) in->next->prev = in;
    t->inbound_head = in;
    t->inbound_count++;

    int rc = uv_accept(server, (uv_stream_t *)&in->tcp);
    if (rc != 0) {
        transport_log(t, "accept: %s", uv_strerror(rc));
        transport_inbound_close(in);
        return;
    }
    struct sockaddr_storage addr;
    int addrlen = sizeof addr;
    if (uv_tcp_getpeername(&in->tcp, (struct sockaddr *)&addr, &addrlen) == 0)
        transport_sockaddr_format((struct sockaddr *)&addr, in->remote, sizeof in->remote);
    t->stats.connections_accepted++;
    transport_socket_tune(&in->tcp);
    if (t->inbound_count > t->config.inbound_max) {
        t->stats.connections_refused++;
        transport_log(t, "inbound %s: %u connections open already; closing", in->remote,
                      t->config.inbound_max);
        transport_inbound_close(in);
        return;
    }
    rc = uv_read_start((uv_stream_t *)&in->tcp, inbound_alloc, inbound_on_read);
    if (rc != 0) {
        transport_log(t, "inbound %s: read: %s", in->remote, uv_strerror(rc));
        transport_inbound_close(in);
    }
}

/* Closes accepted connections that did not complete their hello in time. */
void transport_inbound_sweep(uv_timer_t *timer)
{
    struct transport *t = timer->data;
    uint64_t now = uv_now(t->loop);
    struct transport_inbound *in = t->inbound_head;
    while (in != NULL) { /* bounded by inbound_max + 1 */
        struct transport_inbound *next = in->next;
        if (!in->hello_done && now - in->accepted_ms >= t->config.hello_timeout_ms)
            inbound_reject(in, &t->stats.handshake_errors, "no hello in time", "");
        in = next;
    }
}
