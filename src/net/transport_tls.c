/*
 * transport_tls.c — writes on a peer connection, plain or through TLS (--tls-replication).
 *
 * With TLS, a connection's TLS handshake runs first, and everything the transport sends after
 * it (hello, challenge, proof, frames, a probe's answer) is sealed by the engine (net/tls.h)
 * into one ciphertext buffer per write, which lives until that write completes. The caller's
 * write request and callback work as with uv_write: the callback gets the caller's request.
 * Writes on a stream complete in order, and each takes all the ciphertext pending when it is
 * made, so the ciphertext leaves in the order the engine produced it.
 */
#include "net/transport_internal.h"

#include <assert.h>
#include <stdlib.h>

/* One sealed write: the ciphertext and the caller's request it stands for. */
struct transport_sealed {
    uv_write_t req;
    uv_write_t *caller; /* NULL for handshake records and alerts: nobody waits for them */
    uv_write_cb cb;
    uint8_t bytes[];
};

static void sealed_on_written(uv_write_t *req, int status)
{
    struct transport_sealed *s = (struct transport_sealed *)req;
    if (s->cb != NULL)
        s->cb(s->caller, status);
    free(s);
}

/* Sends every pending ciphertext byte in one write. Returns 0 (also when there was nothing),
 * or a libuv error (then the callback does not run). */
static int sealed_send(struct net_tls_conn *tls, uv_stream_t *stream, uv_write_t *caller,
                       uv_write_cb cb)
{
    size_t pending = net_tls_pending(tls);
    if (pending == 0) {
        assert(cb == NULL); /* a caller's write always has ciphertext */
        return 0;
    }
    if (pending > UINT32_MAX)
        return UV_ENOBUFS;
    struct transport_sealed *s = malloc(sizeof(*s) + pending);
    if (s == NULL)
        return UV_ENOMEM;
    if (net_tls_take(tls, s->bytes, pending) != 0) {
        free(s);
        return UV_EPROTO;
    }
    s->caller = caller;
    s->cb = cb;
    uv_buf_t buf = uv_buf_init((char *)s->bytes, (unsigned)pending);
    int rc = uv_write(&s->req, stream, &buf, 1, sealed_on_written);
    if (rc != 0)
        free(s);
    return rc;
}

int transport_stream_write(struct net_tls_conn *tls, uv_stream_t *stream, uv_write_t *req,
                           const uv_buf_t *bufs, unsigned count, uv_write_cb cb)
{
    assert(cb != NULL);
    if (tls == NULL)
        return uv_write(req, stream, bufs, count, cb);
    assert(net_tls_established(tls));
    for (unsigned i = 0; i < count; i++) { /* bounded by TRANSPORT_WRITE_BUFFERS_MAX */
        if (net_tls_write(tls, (const uint8_t *)bufs[i].base, bufs[i].len) != 0)
            return UV_EPROTO;
    }
    return sealed_send(tls, stream, req, cb);
}

int transport_tls_flush(struct net_tls_conn *tls, uv_stream_t *stream)
{
    return sealed_send(tls, stream, NULL, NULL);
}

int transport_tls_set(struct transport *t, struct net_tls_context *context)
{
    assert(t != NULL && !t->stopping);
    /* TLS on or off is decided at start: a node does not switch protocols under its peers. */
    if ((t->config.tls == NULL) != (context == NULL))
        return TRANSPORT_ERR_CONFIG;
    t->config.tls = context;
    return TRANSPORT_OK;
}
