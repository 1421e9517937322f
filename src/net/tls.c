/*
 * tls.c — the TLS engine over memory BIOs (tls.h).
 */
#include "net/tls.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct net_tls_context {
    SSL_CTX *ctx;
};

struct net_tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext in: owned by ssl */
    BIO *wbio; /* ciphertext out: owned by ssl */
    bool closed_cleanly;
    char reason[NET_TLS_REASON_BYTES];
};

/* OpenSSL's first queued error of this thread as text (it names a file or a reason, never key
 * material), or `fallback`. The queue is emptied so that errors do not leak into the next
 * connection's diagnosis. */
static void tls_error_text(char *out, size_t out_len, const char *fallback)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        snprintf(out, out_len, "%s", fallback);
        return;
    }
    ERR_error_string_n(e, out, out_len);
}

struct net_tls_context *net_tls_context_new(const struct net_tls_files *files, char *error,
                                            size_t error_len)
{
    assert(files != NULL && files->cert != NULL && files->key != NULL);
    struct net_tls_context *context = calloc(1, sizeof(*context));
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
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
        /* FAIL_IF_NO_PEER_CERT concerns the server role only; a client always fails on a
         * server certificate that does not verify once VERIFY_PEER is set. */
        int mode = files->verify == NET_TLS_VERIFY_NONE       ? SSL_VERIFY_NONE
                   : files->verify == NET_TLS_VERIFY_OPTIONAL ? SSL_VERIFY_PEER
                                                              : SSL_VERIFY_PEER |
                                                                    SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    context->ctx = ctx;
    return context;
err:;
    char reason[NET_TLS_REASON_BYTES];
    tls_error_text(reason, sizeof(reason), "failed");
    snprintf(error, error_len, "TLS: %s: %s", what, reason);
    SSL_CTX_free(ctx);
    free(context);
    return NULL;
}

void net_tls_context_free(struct net_tls_context *context)
{
    if (context == NULL)
        return;
    SSL_CTX_free(context->ctx); /* a reference: open connections hold theirs */
    free(context);
}

struct net_tls_conn *net_tls_conn_new(struct net_tls_context *context, bool server)
{
    assert(context != NULL);
    struct net_tls_conn *conn = calloc(1, sizeof(*conn));
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
    if (server)
        SSL_set_accept_state(conn->ssl);
    else
        SSL_set_connect_state(conn->ssl);
    return conn;
}

void net_tls_conn_free(struct net_tls_conn *conn)
{
    if (conn == NULL)
        return;
    SSL_free(conn->ssl); /* frees both BIOs */
    free(conn);
}

int net_tls_feed(struct net_tls_conn *conn, const uint8_t *data, size_t len)
{
    assert(len <= INT_MAX);
    if (len == 0)
        return 0;
    if (BIO_write(conn->rbio, data, (int)len) != (int)len) {
        ERR_clear_error();
        snprintf(conn->reason, sizeof(conn->reason), "out of memory");
        return -1;
    }
    return 0;
}

/* The reason of a failed handshake: OpenSSL's, and the certificate check's verdict when the
 * other side's certificate did not verify (the usual cause between peers: another CA). */
static void tls_handshake_reason(struct net_tls_conn *conn)
{
    char openssl[NET_TLS_REASON_BYTES / 2];
    tls_error_text(openssl, sizeof(openssl), "handshake failed");
    long verify = SSL_get_verify_result(conn->ssl);
    if (verify != X509_V_OK)
        snprintf(conn->reason, sizeof(conn->reason), "%s (certificate: %.100s)", openssl,
                 X509_verify_cert_error_string(verify));
    else
        snprintf(conn->reason, sizeof(conn->reason), "%s", openssl);
}

int net_tls_handshake(struct net_tls_conn *conn)
{
    if (SSL_is_init_finished(conn->ssl))
        return 1;
    /* SSL_get_error reads the thread's error queue: it must hold nothing from elsewhere
     * before an I/O call, or a good connection would look failed. */
    ERR_clear_error();
    int rv = SSL_do_handshake(conn->ssl);
    if (rv == 1)
        return 1;
    int e = SSL_get_error(conn->ssl, rv);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    tls_handshake_reason(conn);
    return -1;
}

bool net_tls_established(const struct net_tls_conn *conn)
{
    return SSL_is_init_finished(conn->ssl);
}

int64_t net_tls_read(struct net_tls_conn *conn, uint8_t *out, size_t cap)
{
    assert(cap > 0);
    ERR_clear_error(); /* as in net_tls_handshake */
    int n = SSL_read(conn->ssl, out, cap > INT_MAX ? INT_MAX : (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(conn->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    conn->closed_cleanly = e == SSL_ERROR_ZERO_RETURN;
    if (conn->closed_cleanly)
        snprintf(conn->reason, sizeof(conn->reason), "closed by the other side (close_notify)");
    else
        tls_error_text(conn->reason, sizeof(conn->reason), "record error");
    return -1;
}

bool net_tls_closed_cleanly(const struct net_tls_conn *conn)
{
    return conn->closed_cleanly;
}

int net_tls_write(struct net_tls_conn *conn, const uint8_t *data, size_t len)
{
    assert(SSL_is_init_finished(conn->ssl));
    ERR_clear_error(); /* as in net_tls_handshake */
    /* A memory BIO takes everything: SSL_write writes the whole chunk (records of 16 KiB) in
     * one call unless OpenSSL fails outright. Bounded by len / chunk passes. */
    size_t off = 0;
    while (off < len) {
        size_t chunk = len - off;
        int n = SSL_write(conn->ssl, data + off, chunk > INT_MAX / 2 ? INT_MAX / 2 : (int)chunk);
        if (n <= 0) {
            tls_error_text(conn->reason, sizeof(conn->reason), "write failed");
            return -1;
        }
        off += (size_t)n;
    }
    return 0;
}

size_t net_tls_pending(const struct net_tls_conn *conn)
{
    return BIO_ctrl_pending(conn->wbio);
}

int net_tls_take(struct net_tls_conn *conn, uint8_t *out, size_t len)
{
    assert(len <= BIO_ctrl_pending(conn->wbio));
    size_t got = 0;
    while (got < len) { /* bounded by len bytes */
        size_t chunk = len - got;
        int n = BIO_read(conn->wbio, out + got, chunk > INT_MAX ? INT_MAX : (int)chunk);
        if (n <= 0) {
            ERR_clear_error();
            snprintf(conn->reason, sizeof(conn->reason), "ciphertext buffer failed");
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

const char *net_tls_reason(const struct net_tls_conn *conn)
{
    return conn->reason[0] != '\0' ? conn->reason : "unknown";
}
