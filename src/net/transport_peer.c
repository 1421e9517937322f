/*
 * transport_peer.c — outgoing connections: one per peer, opened lazily, reopened with jittered
 * exponential backoff, each fed from a bounded queue of encoded frames in batched writes.
 *
 * A peer moves IDLE -> CONNECTING -> CONNECTED, and from CONNECTING or CONNECTED to BACKOFF on
 * any error (connect refused or timed out, write error, EOF), then back to CONNECTING when the
 * backoff expires with something queued, or to IDLE when nothing is. One timer per peer serves
 * both the connect timeout and the backoff, as the two never run at once.
 *
 * Batching: at most one write per link is in flight. Whatever is queued while it is in flight
 * leaves in the next write, as one uv_write with up to TRANSPORT_WRITE_BUFFERS_MAX buffers —
 * the next write starts from the write callback or from the per-iteration flush.
 */
#include "net/transport_internal.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/codec.h"

#define TRANSPORT_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static void peer_connect(struct transport_peer *peer);
static void peer_on_timer(uv_timer_t *timer);

struct transport_peer *transport_peer_find(struct transport *t, cn_node_id id)
{
    for (uint32_t i = 0; i < TRANSPORT_PEERS_MAX; i++) {
        if (t->peers[i].id == id) return &t->peers[i];
    }
    return NULL;
}

void transport_peer_init(struct transport *t, struct transport_peer *peer)
{
    peer->t = t;
    peer->state = TRANSPORT_PEER_IDLE;
    peer->backoff_ms = t->config.backoff_ms_initial;
    int uv = uv_timer_init(t->loop, &peer->timer);
    assert(uv == 0);
    peer->timer.data = t; /* for transport_handle_closed; peer_on_timer uses container_of */
    t->handles_open++;
}

/* Frees every frame not yet handed to a write; counts them as dropped. */
void transport_peer_drop_queue(struct transport_peer *peer)
{
    uint32_t dropped = 0;
    size_t bytes = 0;
    while (peer->queue_head != NULL) { /* bounded by send_queue_messages_max */
        struct transport_frame *f = peer->queue_head;
        peer->queue_head = f->next;
        bytes += f->len;
        dropped++;
        free(f);
    }
    peer->queue_tail = NULL;
    assert(peer->queue_messages >= dropped && peer->queue_bytes >= bytes);
    peer->queue_messages -= dropped;
    peer->queue_bytes -= bytes;
    peer->messages_dropped += dropped;
    peer->t->stats.messages_dropped += dropped;
}

/* ---- links ------------------------------------------------------------------------------ */

static void link_on_closed(uv_handle_t *handle)
{
    struct transport_link *link = handle->data;
    struct transport *t = link->t;
    assert(link->peer == NULL && link->write == NULL);
    net_tls_conn_free(link->tls);
    free(link->tls_read);
    free(link);
    transport_release(t);
}

/* Separates the link from its peer and closes it. The frames of its write in flight are lost
 * with it: they are counted as dropped now, and the write callback (which libuv runs with
 * UV_ECANCELED before the close callback) only frees them. */
static void link_detach(struct transport_peer *peer)
{
    struct transport_link *link = peer->link;
    assert(link != NULL && link->peer == peer);
    struct transport_write *w = link->write;
    if (w != NULL) {
        assert(w->peer == peer);
        assert(peer->queue_messages >= w->frame_count && peer->queue_bytes >= w->bytes);
        peer->queue_messages -= w->frame_count;
        peer->queue_bytes -= w->bytes;
        peer->messages_dropped += w->frame_count;
        peer->t->stats.messages_dropped += w->frame_count;
        w->peer = NULL;
    }
    link->peer = NULL;
    peer->link = NULL;
    uv_close((uv_handle_t *)&link->tcp, link_on_closed);
}

/* Closes the peer's connection without backoff (stop, remove, address change). The queue
 * stays; the caller decides about it. */
void transport_peer_close(struct transport_peer *peer)
{
    if (peer->link != NULL) link_detach(peer);
    uv_timer_stop(&peer->timer);
    peer->state = TRANSPORT_PEER_IDLE;
}

/* Jitter keeps peers that failed together from retrying in lockstep: the delay is drawn from
 * [base/2, base] ("equal jitter"), so it never falls below half the base. */
static uint32_t peer_backoff_next(struct transport_peer *peer)
{
    struct transport *t = peer->t;
    uint32_t base = peer->backoff_ms;
    uint32_t delay = base / 2 + (uint32_t)(transport_rand(t) % (base - base / 2 + 1));
    uint64_t doubled = (uint64_t)base * 2;
    peer->backoff_ms = doubled > t->config.backoff_ms_max ? t->config.backoff_ms_max
                                                           : (uint32_t)doubled;
    return delay > 0 ? delay : 1;
}

/*
 * Any error on the peer's connection: log, close the link, drop what was queued (stale by the
 * time a new connection is up; the core resends what still matters), and wait out a backoff.
 * The backoff restarts from backoff_ms_initial only when the failed link had stayed up for
 * backoff_ms_max: a peer that accepts and then drops us at once (a wrong cluster id, say) must
 * not be hammered at the initial rate. on_unreachable is only marked pending here and called
 * from the per-iteration flush, so that it never runs inside transport_send (a caller walking
 * its update's messages must not be re-entered).
 */
static void peer_fail(struct transport_peer *peer, const char *what, int status)
{
    struct transport *t = peer->t;
    assert(!t->stopping);
    if (peer->state == TRANSPORT_PEER_CONNECTED) peer->failures_in_row = 0;
    peer->failures_in_row++;
    /* A peer that stays down would log every backoff_ms_max; logging the 1st, 2nd, 4th, 8th...
     * failure in a row says the same with a bounded rate. */
    if ((peer->failures_in_row & (peer->failures_in_row - 1)) == 0)
        transport_log(t, "peer %u at %s: %s: %s (failure %u in a row)", peer->id, peer->addr,
                      what, uv_strerror(status), peer->failures_in_row);
    if (peer->link != NULL) {
        uint64_t up_ms = peer->state == TRANSPORT_PEER_CONNECTED
                             ? uv_now(t->loop) - peer->link->connected_ms : 0;
        if (up_ms >= t->config.backoff_ms_max) peer->backoff_ms = t->config.backoff_ms_initial;
        link_detach(peer);
    }
    transport_peer_drop_queue(peer);
    peer->failed_before = true;
    peer->state = TRANSPORT_PEER_BACKOFF;
    uv_timer_start(&peer->timer, peer_on_timer, peer_backoff_next(peer), 0);
    peer->unreachable_pending = true;
}

static void peer_on_timer(uv_timer_t *timer)
{
    struct transport_peer *peer = TRANSPORT_CONTAINER_OF(timer, struct transport_peer, timer);
    assert(!peer->t->stopping);
    if (peer->state == TRANSPORT_PEER_CONNECTING) {
        peer_fail(peer, "connect", UV_ETIMEDOUT);
    } else if (peer->state == TRANSPORT_PEER_BACKOFF) {
        peer->state = TRANSPORT_PEER_IDLE;
        if (peer->queue_head != NULL) peer_connect(peer); /* else: lazily, on the next send */
    }
}

static void link_on_write(uv_write_t *req, int status)
{
    struct transport_write *w = TRANSPORT_CONTAINER_OF(req, struct transport_write, req);
    struct transport_link *link = w->link;
    struct transport_peer *peer = w->peer;
    assert(link->write == w);
    link->write = NULL;
    while (w->frames != NULL) { /* bounded by TRANSPORT_WRITE_BUFFERS_MAX */
        struct transport_frame *f = w->frames;
        w->frames = f->next;
        free(f);
    }
    if (peer != NULL) { /* still the peer's link: account here (else link_detach did) */
        struct transport *t = peer->t;
        assert(peer->link == link);
        assert(peer->queue_messages >= w->frame_count && peer->queue_bytes >= w->bytes);
        peer->queue_messages -= w->frame_count;
        peer->queue_bytes -= w->bytes;
        if (status == 0) {
            peer->messages_sent += w->frame_count;
            t->stats.messages_sent += w->frame_count;
            t->stats.bytes_sent += w->bytes;
        } else {
            peer->messages_dropped += w->frame_count;
            t->stats.messages_dropped += w->frame_count;
        }
    }
    free(w);
    if (peer == NULL) return;
    if (status < 0)
        peer_fail(peer, "write", status);
    else
        transport_peer_flush(peer);
}

/* Hands up to TRANSPORT_WRITE_BUFFERS_MAX queued frames to one uv_write. */
static void peer_write_batch(struct transport_peer *peer)
{
    struct transport_link *link = peer->link;
    uint32_t count = 0;
    for (struct transport_frame *f = peer->queue_head;
         f != NULL && count < TRANSPORT_WRITE_BUFFERS_MAX; f = f->next)
        count++;
    assert(count > 0);
    struct transport_write *w = malloc(sizeof *w + count * sizeof(uv_buf_t));
    if (w == NULL) return; /* the frames stay queued; the next flush tries again */
    w->link = link;
    w->peer = peer;
    w->frames = peer->queue_head;
    w->frame_count = count;
    w->bytes = 0;
    struct transport_frame *last = NULL;
    struct transport_frame *f = peer->queue_head;
    for (uint32_t i = 0; i < count; i++) {
        w->bufs[i] = uv_buf_init((char *)f->bytes, f->len);
        w->bytes += f->len;
        last = f;
        f = f->next;
    }
    last->next = NULL;
    peer->queue_head = f;
    if (f == NULL) peer->queue_tail = NULL;
    link->write = w;
    int rc = transport_stream_write(link->tls, (uv_stream_t *)&link->tcp, &w->req, w->bufs, count,
                                    link_on_write);
    if (rc != 0) {
        /* No callback will come: account and free here, as link_on_write would. */
        link_on_write(&w->req, rc);
    }
}

void transport_peer_flush(struct transport_peer *peer)
{
    if (peer->t->stopping || peer->queue_head == NULL) return;
    if (peer->state == TRANSPORT_PEER_IDLE) {
        peer_connect(peer);
        return;
    }
    if (peer->state != TRANSPORT_PEER_CONNECTED || peer->link->write != NULL) return;
    peer_write_batch(peer);
}

/* ---- connecting ------------------------------------------------------------------------- */

static void link_on_hello_written(uv_write_t *req, int status)
{
    struct transport_link *link = TRANSPORT_CONTAINER_OF(req, struct transport_link, hello_req);
    if (link->peer != NULL && status < 0) peer_fail(link->peer, "hello", status);
}

/* While the challenge is awaited, reads go to its buffer and never past it: the acceptor
 * writes nothing else, so a byte more is a violation that the next read reports. */
static void link_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct transport_link *link = handle->data;
    if (link->tls != NULL) {
        *buf = uv_buf_init((char *)link->tls_read, TRANSPORT_TLS_READ_BYTES);
        return;
    }
    if (link->awaiting_challenge) {
        assert(link->challenge_len < sizeof link->challenge_buf);
        *buf = uv_buf_init((char *)link->challenge_buf + link->challenge_len,
                           (unsigned)(sizeof link->challenge_buf - link->challenge_len));
        return;
    }
    *buf = uv_buf_init((char *)link->read_buf, sizeof link->read_buf);
}

static void peer_established(struct transport_peer *peer);
static void link_tls_receive(struct transport_link *link, size_t nread);
static void link_tls_reject(struct transport_link *link, const char *stage, const char *why);

static void link_on_proof_written(uv_write_t *req, int status)
{
    struct transport_link *link = TRANSPORT_CONTAINER_OF(req, struct transport_link, proof_req);
    if (link->peer != NULL && status < 0) peer_fail(link->peer, "proof", status);
}

/* The acceptor's challenge is whole: it must name the node we meant to reach and prove the
 * secret over our nonce. Then our proof leaves, and frames may follow it at once (writes on
 * a stream leave in order). */
static void link_on_challenge(struct transport_link *link)
{
    struct transport_peer *peer = link->peer;
    struct transport *t = link->t;
    struct handshake_challenge c;
    int64_t rv = handshake_challenge_decode(link->challenge_buf, link->challenge_len, &c);
    if (rv == 0) return; /* not whole yet */
    const uint8_t *nonce_connector = link->hello + HANDSHAKE_HELLO_BYTES;
    if (rv > 0 && c.acceptor != peer->id)
        rv = HANDSHAKE_ERR_NODE;
    else if (rv > 0 && !handshake_mac_verify(HANDSHAKE_ACCEPTOR, t->config.secret,
                                             t->config.secret_len, t->config.cluster_id,
                                             t->config.self, peer->id, nonce_connector, c.nonce,
                                             c.mac))
        rv = HANDSHAKE_ERR_MAC;
    if (rv < 0) {
        t->stats.handshake_errors++;
        t->stats.auth_failures++;
        transport_log_reject(t, "peer %u at %s: challenge refused: %s%s", peer->id, peer->addr,
                             handshake_strerror((int)rv), rv == HANDSHAKE_ERR_NODE
                             ? " (another node answers at that address)" : "");
        peer_fail(peer, "handshake", UV_EACCES);
        return;
    }
    link->awaiting_challenge = false;
    uint8_t mac[HANDSHAKE_MAC_BYTES];
    handshake_mac(HANDSHAKE_CONNECTOR, t->config.secret, t->config.secret_len,
                  t->config.cluster_id, t->config.self, peer->id, nonce_connector, c.nonce, mac);
    handshake_proof_encode(mac, link->proof);
    uv_buf_t buf = uv_buf_init((char *)link->proof, sizeof link->proof);
    int rc = transport_stream_write(link->tls, (uv_stream_t *)&link->tcp, &link->proof_req, &buf,
                                    1, link_on_proof_written);
    if (rc != 0) {
        peer_fail(peer, "proof", rc);
        return;
    }
    peer_established(peer);
}

/* Apart from the challenge the acceptor never writes: bytes are a protocol violation, EOF or
 * an error mean the connection is gone. Reading is how a silent close is noticed before the
 * next write. */
static void link_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct transport_link *link = stream->data;
    if (nread == 0 || link->peer == NULL) return;
    if (nread > 0 && link->tls != NULL) {
        link_tls_receive(link, (size_t)nread);
        return;
    }
    if (nread < 0 && link->tls != NULL && !net_tls_established(link->tls)) {
        /* The acceptor closed during the TLS handshake: it refused our certificate, or it
         * does not speak TLS. Its own log says which. */
        link_tls_reject(link, "handshake", "the peer closed the connection (our certificate "
                              "refused, or no --tls-replication there)");
        return;
    }
    if (nread > 0 && link->awaiting_challenge) {
        link->challenge_len += (size_t)nread;
        assert(link->challenge_len <= sizeof link->challenge_buf);
        link_on_challenge(link);
        return;
    }
    if (nread > 0) {
        peer_fail(link->peer, "read", UV_EPROTO);
    } else {
        /* An acceptor that closes during the handshake refused us (no secret, another
         * secret or cluster): its own log says why. */
        if (link->awaiting_challenge) link->t->stats.handshake_errors++;
        peer_fail(link->peer, link->awaiting_challenge ? "handshake" : "read", (int)nread);
    }
}

static void link_send_hello(struct transport_link *link);

/* A failed TLS handshake or session: logged once for the connection (rate-limited), then the
 * peer fails as on any error. Under TLS 1.3 the connector's handshake ends before the
 * acceptor has checked its certificate, so a refusal of ours arrives as the session's first
 * record: an alert ("unknown ca"). */
static void link_tls_reject(struct transport_link *link, const char *stage, const char *why)
{
    struct transport_peer *peer = link->peer;
    struct transport *t = link->t;
    t->stats.handshake_errors++;
    t->stats.tls_failures++;
    transport_log_reject(t, "peer %u at %s: TLS %s failed: %s", peer->id, peer->addr, stage, why);
    peer_fail(peer, "TLS handshake", UV_EPROTO);
}

/*
 * With TLS: feeds one socket read to the engine and advances the handshake; once it is
 * complete the hello leaves. Then the plaintext is what the plain link reads: the challenge
 * (into challenge_buf, never past it), and nothing else. Bounded by one read's plaintext.
 */
static void link_tls_receive(struct transport_link *link, size_t nread)
{
    struct transport_peer *peer = link->peer;
    bool was_established = net_tls_established(link->tls);
    if (net_tls_feed(link->tls, link->tls_read, nread) != 0) {
        peer_fail(peer, "TLS", UV_ENOMEM);
        return;
    }
    int rv = net_tls_handshake(link->tls);
    int rc = transport_tls_flush(link->tls, (uv_stream_t *)&link->tcp);
    if (rv < 0) {
        link_tls_reject(link, "handshake", net_tls_reason(link->tls));
        return;
    }
    if (rc != 0) {
        peer_fail(peer, "TLS handshake", rc);
        return;
    }
    if (rv == 0) return;
    if (!was_established) {
        link_send_hello(link);
        if (link->peer == NULL) return;
    }
    for (;;) {
        uint8_t *dst = link->read_buf;
        size_t cap = sizeof link->read_buf;
        if (link->awaiting_challenge) {
            dst = link->challenge_buf + link->challenge_len;
            cap = sizeof link->challenge_buf - link->challenge_len;
        }
        int64_t n = net_tls_read(link->tls, dst, cap);
        if (n == 0) break;
        if (n < 0 && net_tls_closed_cleanly(link->tls)) {
            peer_fail(peer, "TLS read", UV_EOF);
            return;
        }
        if (n < 0) {
            link_tls_reject(link, "session", net_tls_reason(link->tls));
            return;
        }
        if (!link->awaiting_challenge) {
            peer_fail(peer, "read", UV_EPROTO);
            return;
        }
        link->challenge_len += (size_t)n;
        link_on_challenge(link);
        if (link->peer == NULL) return;
    }
    if (transport_tls_flush(link->tls, (uv_stream_t *)&link->tcp) != 0)
        peer_fail(peer, "TLS", UV_EPROTO);
}

static void link_on_connect(uv_connect_t *req, int status)
{
    struct transport_link *link = TRANSPORT_CONTAINER_OF(req, struct transport_link,
                                                         connect_req);
    struct transport_peer *peer = link->peer;
    if (peer == NULL) return; /* detached while connecting: the close frees the link */
    assert(peer->state == TRANSPORT_PEER_CONNECTING);
    if (status < 0) {
        peer_fail(peer, "connect", status);
        return;
    }
    transport_socket_tune(&link->tcp);
    if (link->tls == NULL) {
        link_send_hello(link);
        return;
    }
    /* TLS first: the hello leaves inside it once the handshake is complete (link_tls_receive),
     * still under the connect timeout. */
    int rc = uv_read_start((uv_stream_t *)&link->tcp, link_alloc, link_on_read);
    if (rc == 0 && net_tls_handshake(link->tls) < 0)
        rc = UV_EPROTO;
    if (rc == 0) rc = transport_tls_flush(link->tls, (uv_stream_t *)&link->tcp);
    if (rc != 0) peer_fail(peer, "TLS handshake", rc);
}

/* The connection is open (and, with TLS, its handshake complete): the hello leaves, and
 * without a secret the link is established at once. */
static void link_send_hello(struct transport_link *link)
{
    struct transport_peer *peer = link->peer;
    struct transport *t = link->t;
    struct handshake_hello hello = {.flags = 0, .sender = t->config.self,
                                    .cluster_id = t->config.cluster_id};
    if (t->config.secret_len > 0) {
        hello.flags = HANDSHAKE_FLAG_AUTH;
        if (handshake_nonce(hello.nonce) != HANDSHAKE_OK) {
            peer_fail(peer, "hello", UV_EIO);
            return;
        }
    }
    size_t hello_len = handshake_hello_encode(&hello, link->hello);
    uv_buf_t buf = uv_buf_init((char *)link->hello, (unsigned)hello_len);
    link->awaiting_challenge = t->config.secret_len > 0;
    /* Writes on a stream leave in order, so frames may be queued right behind the hello. */
    int rc = transport_stream_write(link->tls, (uv_stream_t *)&link->tcp, &link->hello_req, &buf,
                                    1, link_on_hello_written);
    if (rc == 0 && link->tls == NULL)
        rc = uv_read_start((uv_stream_t *)&link->tcp, link_alloc, link_on_read);
    if (rc != 0) {
        peer_fail(peer, "hello", rc);
        return;
    }
    /* With a secret the peer stays CONNECTING, under the connect timeout, until the
     * acceptor's challenge has verified (link_on_challenge). */
    if (!link->awaiting_challenge) peer_established(peer);
}

/* The connection is usable: queued frames may leave. */
static void peer_established(struct transport_peer *peer)
{
    struct transport *t = peer->t;
    struct transport_link *link = peer->link;
    assert(peer->state == TRANSPORT_PEER_CONNECTING && link != NULL);
    uv_timer_stop(&peer->timer);
    peer->state = TRANSPORT_PEER_CONNECTED;
    link->connected_ms = uv_now(t->loop);
    t->stats.connects++;
    if (peer->failures_in_row > 0)
        transport_log(t, "peer %u at %s: connected after %u failures", peer->id, peer->addr,
                      peer->failures_in_row);
    transport_peer_flush(peer);
}

static void peer_connect(struct transport_peer *peer)
{
    struct transport *t = peer->t;
    assert(peer->state == TRANSPORT_PEER_IDLE && peer->link == NULL && !t->stopping);
    if (peer->failed_before) t->stats.reconnects++;
    struct transport_link *link = calloc(1, sizeof *link);
    if (link != NULL && t->config.tls != NULL) {
        link->tls = net_tls_conn_new(t->config.tls, false);
        link->tls_read = malloc(TRANSPORT_TLS_READ_BYTES);
        if (link->tls == NULL || link->tls_read == NULL) {
            net_tls_conn_free(link->tls);
            free(link->tls_read);
            free(link);
            link = NULL;
        }
    }
    if (link == NULL) {
        peer_fail(peer, "connect", UV_ENOMEM);
        return;
    }
    int uv = uv_tcp_init(t->loop, &link->tcp);
    assert(uv == 0);
    link->tcp.data = link;
    link->t = t;
    link->peer = peer;
    t->handles_open++;
    peer->link = link;
    peer->state = TRANSPORT_PEER_CONNECTING;
    int rc = uv_tcp_connect(&link->connect_req, &link->tcp,
                            (const struct sockaddr *)&peer->sockaddr, link_on_connect);
    if (rc != 0) {
        peer_fail(peer, "connect", rc);
        return;
    }
    uv_timer_start(&peer->timer, peer_on_timer, t->config.connect_timeout_ms, 0);
}

/* ---- sending ---------------------------------------------------------------------------- */

int transport_send(struct transport *t, const struct cn_message *message)
{
    assert(t != NULL && message != NULL);
    assert(!t->stopping);
    if (message->from != t->config.self) return TRANSPORT_ERR_NOT_SELF;
    struct transport_peer *peer = message->to == 0 ? NULL : transport_peer_find(t, message->to);
    if (peer == NULL) return TRANSPORT_ERR_UNKNOWN_PEER;
    size_t size = cn_message_encoded_size(message);
    if (size > CN_MESSAGE_BYTES_MAX) return TRANSPORT_ERR_ENCODE;
    if (peer->queue_messages >= t->config.send_queue_messages_max ||
        size > t->config.send_queue_bytes_max - peer->queue_bytes) {
        peer->messages_dropped++;
        t->stats.messages_dropped++;
        return TRANSPORT_ERR_QUEUE_FULL;
    }
    struct transport_frame *f = malloc(sizeof *f + size);
    if (f == NULL) {
        peer->messages_dropped++;
        t->stats.messages_dropped++;
        return TRANSPORT_ERR_QUEUE_FULL; /* out of memory is a bound too */
    }
    int64_t written = cn_message_encode(message, f->bytes, size);
    if (written < 0) {
        free(f);
        return TRANSPORT_ERR_ENCODE;
    }
    assert((size_t)written == size);
    f->len = (uint32_t)size;
    f->next = NULL;
    if (peer->queue_tail != NULL)
        peer->queue_tail->next = f;
    else
        peer->queue_head = f;
    peer->queue_tail = f;
    peer->queue_messages++;
    peer->queue_bytes += size;
    t->stats.messages_queued++;
    /* Connect now so the handshake overlaps the rest of this iteration; the frames themselves
     * wait for the flush at its end, to leave in one write with their neighbours. */
    if (peer->state == TRANSPORT_PEER_IDLE) peer_connect(peer);
    return TRANSPORT_OK;
}
