/*
 * tls.c — TLS for client connections with OpenSSL memory BIOs (tls.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "node/node_internal.h"
#include "node/tls.h"

enum {
    /* The largest plaintext one TLS record carries: the room kept free in client->in for
     * each SSL_read. */
    NODE_TLS_RECORD_BYTES = 16 * 1024,
    /* A ciphertext buffer that grew for one large reply is given back once it is idle. */
    NODE_TLS_CT_KEEP_BYTES = 1u << 20,
};

struct node_tls_context {
    SSL_CTX *ctx;
};

struct node_tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext in: owned by ssl */
    BIO *wbio; /* ciphertext out: owned by ssl */
    uint8_t *ct;  /* the ciphertext handed to the write in flight */
    size_t ct_cap;
    uint8_t read_buf[NODE_TLS_READ_BYTES];
};

/* OpenSSL's first queued error as text, for a log line (it names a file or a reason, never key
 * material), or `fallback`. The queue is emptied so that errors do not leak into the next
 * connection's diagnosis. */
static const char *tls_error_text(const char *fallback)
{
    static char text[256];
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return fallback;
    ERR_error_string_n(e, text, sizeof(text));
    return text;
}

struct node_tls_context *node_tls_context_new(const struct node_tls_files *files, char *error,
                                              size_t error_len)
{
    struct node_tls_context *context = calloc(1, sizeof(*context));
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *what = NULL;
    if (context == NULL || ctx == NULL) {
        what = "SSL_CTX_new";
        goto err;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* No session tickets: nothing is resumed, and no ticket key has to be shared or rotated. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, files->cert) != 1) {
        what = "--tls-cert";
        goto err;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files->key, SSL_FILETYPE_PEM) != 1) {
        what = "--tls-key";
        goto err;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        what = "--tls-key does not match --tls-cert";
        goto err;
    }
    if (files->ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, files->ca, NULL) != 1) {
            what = "--tls-ca";
            goto err;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(files->ca);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
        int mode = files->auth_clients == 0   ? SSL_VERIFY_NONE
                   : files->auth_clients == 1 ? SSL_VERIFY_PEER
                                              : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    context->ctx = ctx;
    return context;
err:
    snprintf(error, error_len, "TLS: %s: %s", what, tls_error_text("failed"));
    SSL_CTX_free(ctx);
    free(context);
    return NULL;
}

void node_tls_context_free(struct node_tls_context *context)
{
    if (context == NULL)
        return;
    /* Connections still open hold their own reference to the SSL_CTX. */
    SSL_CTX_free(context->ctx);
    free(context);
}

struct node_tls_conn *node_tls_conn_new(struct node_tls_context *context)
{
    struct node_tls_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return NULL;
    conn->ssl = SSL_new(context->ctx);
    conn->rbio = BIO_new(BIO_s_mem());
    conn->wbio = BIO_new(BIO_s_mem());
    if (conn->ssl == NULL || conn->rbio == NULL || conn->wbio == NULL) {
        BIO_free(conn->rbio);
        BIO_free(conn->wbio);
        SSL_free(conn->ssl);
        free(conn);
        ERR_clear_error();
        return NULL;
    }
    /* An empty read BIO means "more to come", not end of file. */
    BIO_set_mem_eof_return(conn->rbio, -1);
    SSL_set_bio(conn->ssl, conn->rbio, conn->wbio);
    SSL_set_accept_state(conn->ssl);
    return conn;
}

void node_tls_conn_free(struct node_tls_conn *conn)
{
    if (conn == NULL)
        return;
    SSL_free(conn->ssl); /* frees both BIOs */
    free(conn->ct);
    free(conn);
}

uint8_t *node_tls_read_buffer(struct node_tls_conn *conn, size_t *len)
{
    *len = sizeof(conn->read_buf);
    return conn->read_buf;
}

bool node_tls_established(const struct node_tls_conn *conn)
{
    return SSL_is_init_finished(conn->ssl);
}

/* Room for one more record's plaintext at the end of client->in. */
static void in_reserve(struct node_client *client)
{
    if (client->in_capacity - client->in_len >= NODE_TLS_RECORD_BYTES)
        return;
    size_t capacity = client->in_len + NODE_TLS_RECORD_BYTES + NODE_READ_BYTES;
    client->in = realloc(client->in, capacity);
    assert(client->in != NULL);
    client->in_capacity = capacity;
}

int node_tls_receive(struct node_client *client, size_t len, const char **reason)
{
    struct node_tls_conn *conn = client->tls;
    assert(len <= sizeof(conn->read_buf));
    /* SSL_get_error reads the thread's error queue: it must hold nothing from elsewhere
     * before an I/O call, or a good connection would look failed. */
    ERR_clear_error();
    if (BIO_write(conn->rbio, conn->read_buf, (int)len) != (int)len) {
        *reason = "out of memory";
        return -1;
    }
    if (!SSL_is_init_finished(conn->ssl)) {
        int rv = SSL_do_handshake(conn->ssl);
        if (rv != 1) {
            int e = SSL_get_error(conn->ssl, rv);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            *reason = tls_error_text("handshake failed");
            return -1;
        }
    }
    /* Bounded: every pass takes plaintext out of the read BIO, which holds at most one socket
     * read's ciphertext. */
    for (;;) {
        in_reserve(client);
        size_t room = client->in_capacity - client->in_len;
        int n = SSL_read(conn->ssl, client->in + client->in_len, room > INT_MAX ? INT_MAX : (int)room);
        if (n > 0) {
            client->in_len += (size_t)n;
            continue;
        }
        int e = SSL_get_error(conn->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        *reason = e == SSL_ERROR_ZERO_RETURN ? "closed by the client (close_notify)"
                                             : tls_error_text("record error");
        return -1;
    }
}

int node_tls_seal(struct node_client *client, const uint8_t **data, size_t *len)
{
    struct node_tls_conn *conn = client->tls;
    ERR_clear_error(); /* as in node_tls_receive */
    if (SSL_is_init_finished(conn->ssl) && client->out.len > 0) {
        /* A memory BIO takes everything: SSL_write writes the whole buffer (records of 16 KiB)
         * in one call unless OpenSSL fails outright. */
        size_t off = 0;
        while (off < client->out.len) {
            size_t chunk = client->out.len - off;
            int n = SSL_write(conn->ssl, client->out.data + off, chunk > INT_MAX / 2 ? INT_MAX / 2 : (int)chunk);
            if (n <= 0) {
                ERR_clear_error();
                return -1;
            }
            off += (size_t)n;
        }
        client->out.len = 0;
    }
    size_t pending = BIO_ctrl_pending(conn->wbio);
    if (conn->ct_cap > NODE_TLS_CT_KEEP_BYTES && pending <= NODE_TLS_CT_KEEP_BYTES) {
        free(conn->ct);
        conn->ct = NULL;
        conn->ct_cap = 0;
    }
    if (pending > conn->ct_cap) {
        uint8_t *ct = realloc(conn->ct, pending);
        if (ct == NULL)
            return -1;
        conn->ct = ct;
        conn->ct_cap = pending;
    }
    size_t got = 0;
    while (got < pending) { /* bounded by `pending` bytes */
        size_t chunk = pending - got;
        int n = BIO_read(conn->wbio, conn->ct + got, chunk > INT_MAX ? INT_MAX : (int)chunk);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    *data = conn->ct;
    *len = got;
    return 0;
}
