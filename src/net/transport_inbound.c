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

static uint32_t inbound_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t inbound_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void inbound_on_closed(uv_handle_t *handle)
{
    struct transport_inbound *in = handle->data;
    struct transport *t = in->t;
    free(in->buf);
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

static void inbound_reject(struct transport_inbound *in, uint64_t *counter, const char *format,
                           const char *detail)
{
    struct transport *t = in->t;
    (*counter)++;
    transport_log(t, "inbound %s (node %u): %s%s; closing", in->remote, in->peer, format,
                  detail);
    transport_inbound_close(in);
}

/* Checks the 20-byte hello. Returns false (connection closed) when it is not acceptable. */
static bool inbound_hello(struct transport_inbound *in, const uint8_t *h)
{
    struct transport *t = in->t;
    uint32_t magic = inbound_get_u32(h);
    uint16_t version = inbound_get_u16(h + 4);
    uint16_t flags = inbound_get_u16(h + 6);
    cn_node_id id = inbound_get_u32(h + 8);
    uint64_t cluster = (uint64_t)inbound_get_u32(h + 12) | (uint64_t)inbound_get_u32(h + 16) << 32;
    const char *why = NULL;
    if (magic != TRANSPORT_HELLO_MAGIC)
        why = "bad hello magic (not a chorus peer)";
    else if (version != TRANSPORT_VERSION)
        why = "unsupported transport version";
    else if (flags != 0)
        why = "unknown hello flags";
    else if (id == 0 || id == t->config.self)
        why = "hello names node 0 or this node";
    else if (cluster != t->config.cluster_id)
        why = "hello from another cluster";
    if (why != NULL) {
        inbound_reject(in, &t->stats.handshake_errors, why, "");
        return false;
    }
    in->peer = id;
    in->hello_done = true;
    return true;
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
        if (!in->hello_done) {
            if (avail < TRANSPORT_HELLO_BYTES) break;
            if (!inbound_hello(in, in->buf + off)) return;
            off += TRANSPORT_HELLO_BYTES;
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
    /* inbound_process leaves room for the rest of any partial frame, so cap > len unless the
     * buffer holds exactly a whole unprocessed frame, which cannot be: it was processed. */
    assert(in->cap > in->len);
    *buf = uv_buf_init((char *)in->buf + in->len, (unsigned)(in->cap - in->len));
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
    if (in == NULL || buf == NULL) {
        /* The pending connection stays in the backlog; the next accept retries it. */
        transport_log(t, "accept: out of memory");
        free(in);
        free(buf);
        return;
    }
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
