/*
 * test_tls.c — the client TLS layer (src/node/tls.c) without sockets: an OpenSSL client over
 * memory BIOs talks to the server side through node_tls_receive and node_tls_seal, with a CA,
 * a server and client certificates made in memory. Checked: the handshake and plaintext both
 * ways (records beyond 16 KiB, a 1 MiB reply), output held until the handshake is done, a
 * client certificate required and verified (none, or one of another CA, is refused), garbage
 * and plaintext refused, and loading errors that name the flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cmocka.h>

#include "node/node_internal.h"
#include "node/tls.h"

/* ---- certificates ---------------------------------------------------------------------- */

struct pki {
    EVP_PKEY *ca_key, *server_key, *client_key;
    X509 *ca, *server, *client;
    char dir[64];
    char ca_path[128], cert_path[128], key_path[128];
};

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       bool is_ca, long serial)
{
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600 * 24);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer != NULL ? issuer : cert;
    if (is_ca) {
        add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert, signer, NID_subject_alt_name, "IP:127.0.0.1");
    }
    assert_true(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert != NULL) PEM_write_X509(f, cert);
    if (key != NULL) PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

/* A CA with a server and a client certificate, written to a temporary directory. */
static void pki_make(struct pki *p, const char *tag)
{
    memset(p, 0, sizeof(*p));
    p->ca_key = EVP_EC_gen("P-256");
    p->server_key = EVP_EC_gen("P-256");
    p->client_key = EVP_EC_gen("P-256");
    assert_non_null(p->ca_key);
    p->ca = make_cert(p->ca_key, tag, NULL, NULL, true, 1);
    p->server = make_cert(p->server_key, "server", p->ca, p->ca_key, false, 2);
    p->client = make_cert(p->client_key, "client", p->ca, p->ca_key, false, 3);
    snprintf(p->dir, sizeof(p->dir), "/tmp/test_tls.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->ca_path, sizeof(p->ca_path), "%s/ca.crt", p->dir);
    snprintf(p->cert_path, sizeof(p->cert_path), "%s/server.crt", p->dir);
    snprintf(p->key_path, sizeof(p->key_path), "%s/server.key", p->dir);
    write_pem(p->ca_path, p->ca, NULL);
    write_pem(p->cert_path, p->server, NULL);
    write_pem(p->key_path, NULL, p->server_key);
}

static void pki_free(struct pki *p)
{
    unlink(p->ca_path);
    unlink(p->cert_path);
    unlink(p->key_path);
    rmdir(p->dir);
    X509_free(p->ca), X509_free(p->server), X509_free(p->client);
    EVP_PKEY_free(p->ca_key), EVP_PKEY_free(p->server_key), EVP_PKEY_free(p->client_key);
}

/* ---- a client over memory BIOs, and the server side's client ------------------------------ */

struct pair {
    SSL_CTX *client_ctx;
    SSL *client;
    BIO *to_server;   /* the client's output (its wbio) */
    BIO *from_server; /* the client's input (its rbio) */
    struct node_client server;
    struct net_tls_context *context;
};

static void pair_start(struct pair *t, struct pki *server_pki, struct pki *client_pki,
                       bool send_cert, int auth_clients)
{
    memset(t, 0, sizeof(*t));
    char error[256] = "";
    struct node_tls_files files = {.cert = server_pki->cert_path, .key = server_pki->key_path,
                                   .ca = server_pki->ca_path, .auth_clients = auth_clients};
    t->context = node_tls_context_new(&files, error, sizeof(error));
    if (t->context == NULL) fail_msg("context: %s", error);
    t->server.tls = node_tls_conn_new(t->context);
    assert_non_null(t->server.tls);
    resp_out_init(&t->server.out, 64u << 20, 2);

    t->client_ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(t->client_ctx), server_pki->ca);
    SSL_CTX_set_verify(t->client_ctx, SSL_VERIFY_PEER, NULL);
    if (send_cert) {
        assert_int_equal(SSL_CTX_use_certificate(t->client_ctx, client_pki->client), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(t->client_ctx, client_pki->client_key), 1);
    }
    t->client = SSL_new(t->client_ctx);
    t->to_server = BIO_new(BIO_s_mem());
    t->from_server = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(t->from_server, -1);
    SSL_set_bio(t->client, t->from_server, t->to_server);
    SSL_set_connect_state(t->client);
}

static void pair_free(struct pair *t)
{
    SSL_free(t->client);
    SSL_CTX_free(t->client_ctx);
    node_tls_conn_free(t->server.tls);
    net_tls_context_free(t->context);
    resp_out_free(&t->server.out);
    free(t->server.in);
    ERR_clear_error();
}

/* Moves the client's pending bytes to the server in socket-read-sized pieces. Returns 0, or
 * -1 when the server refused them. */
static int client_to_server(struct pair *t)
{
    for (;;) {
        size_t room = 0;
        uint8_t *buf = node_tls_read_buffer(t->server.tls, &room);
        int n = BIO_read(t->to_server, buf, (int)room);
        if (n <= 0) return 0;
        const char *reason = NULL;
        if (node_tls_receive(&t->server, (size_t)n, &reason) != 0) {
            if (getenv("TLS_DEBUG")) fprintf(stderr, "server refused: %s\n", reason);
            return -1;
        }
    }
}

/* Seals the server's output and hands it to the client. */
static void server_to_client(struct pair *t)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(node_tls_seal(&t->server, &data, &len), 0);
    if (len > 0) assert_int_equal(BIO_write(t->from_server, data, (int)len), (int)len);
}

/* Runs the handshake to its end: true when both sides finished. */
static bool handshake(struct pair *t)
{
    for (int round = 0; round < 10; round++) {
        ERR_clear_error();
        int rv = SSL_do_handshake(t->client);
        int e = rv == 1 ? SSL_ERROR_NONE : SSL_get_error(t->client, rv);
        if (client_to_server(t) != 0) return false;
        server_to_client(t);
        if (rv == 1 && node_tls_established(t->server.tls)) return true;
        if (rv != 1 && e != SSL_ERROR_WANT_READ) {
            if (getenv("TLS_DEBUG")) ERR_print_errors_fp(stderr);
            return false;
        }
    }
    return false;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_roundtrip(void **state)
{
    (void)state;
    struct pki pki;
    pki_make(&pki, "ca one");
    struct pair t;
    pair_start(&t, &pki, &pki, true, 2);
    /* Output before the handshake waits: nothing is sealed yet but handshake records. */
    resp_reply_simple(&t.server.out, "EARLY", 5);
    assert_true(handshake(&t));
    /* Client -> server: 100 KiB (several records) arrives whole, in order. */
    size_t big = 100 * 1024;
    uint8_t *msg = malloc(big);
    for (size_t i = 0; i < big; i++) msg[i] = (uint8_t)(i * 7);
    assert_int_equal(SSL_write(t.client, msg, (int)big), (int)big);
    assert_int_equal(client_to_server(&t), 0);
    assert_int_equal(t.server.in_len, big);
    assert_memory_equal(t.server.in, msg, big);
    /* Server -> client: the early reply, then 1 MiB. */
    size_t reply = 1u << 20;
    uint8_t *data = malloc(reply);
    for (size_t i = 0; i < reply; i++) data[i] = (uint8_t)(i * 13 + 1);
    resp_reply_bulk(&t.server.out, (const char *)data, reply);
    /* The early reply left with the end of the handshake (the first seal after it). */
    size_t expect = 8 + t.server.out.len;
    server_to_client(&t);
    assert_int_equal(t.server.out.len, 0);
    uint8_t *got = malloc(expect);
    size_t have = 0;
    while (have < expect) {
        int n = SSL_read(t.client, got + have, (int)(expect - have));
        assert_true(n > 0);
        have += (size_t)n;
    }
    assert_memory_equal(got, "+EARLY\r\n", 8);
    assert_memory_equal(got + 8, "$1048576\r\n", 10);
    assert_memory_equal(got + 18, data, reply);
    free(msg), free(data), free(got);
    pair_free(&t);
    pki_free(&pki);
}

static void test_client_certificates(void **state)
{
    (void)state;
    struct pki pki, other;
    pki_make(&pki, "ca one");
    pki_make(&other, "ca two");
    struct pair t;
    /* Required and not sent. */
    pair_start(&t, &pki, &pki, false, 2);
    assert_false(handshake(&t));
    pair_free(&t);
    /* Sent, but from another CA. */
    pair_start(&t, &pki, &other, true, 2);
    assert_false(handshake(&t));
    pair_free(&t);
    /* Not asked for ("no"), or optional and not sent: served. */
    pair_start(&t, &pki, &pki, false, 0);
    assert_true(handshake(&t));
    pair_free(&t);
    pair_start(&t, &pki, &pki, false, 1);
    assert_true(handshake(&t));
    pair_free(&t);
    pki_free(&pki);
    pki_free(&other);
}

static void test_garbage_and_plaintext(void **state)
{
    (void)state;
    struct pki pki;
    pki_make(&pki, "ca one");
    struct pair t;
    pair_start(&t, &pki, &pki, true, 2);
    size_t room = 0;
    uint8_t *buf = node_tls_read_buffer(t.server.tls, &room);
    assert_true(room >= 64);
    memcpy(buf, "*1\r\n$4\r\nPING\r\n", 14);
    const char *reason = NULL;
    assert_int_equal(node_tls_receive(&t.server, 14, &reason), -1);
    assert_non_null(reason);
    assert_int_equal(t.server.in_len, 0);
    pair_free(&t);
    /* Garbage after an established session. */
    pair_start(&t, &pki, &pki, true, 2);
    assert_true(handshake(&t));
    buf = node_tls_read_buffer(t.server.tls, &room);
    memset(buf, 0x17, 64); /* an application-data record header with a bogus length and MAC */
    assert_int_equal(node_tls_receive(&t.server, 64, &reason), -1);
    pair_free(&t);
    pki_free(&pki);
}

static void test_loading_errors(void **state)
{
    (void)state;
    struct pki pki;
    pki_make(&pki, "ca one");
    char error[256];
    struct node_tls_files files = {.cert = "/nonexistent.crt", .key = pki.key_path};
    assert_null(node_tls_context_new(&files, error, sizeof(error)));
    assert_non_null(strstr(error, "--tls-cert"));
    files.cert = pki.cert_path;
    files.key = pki.ca_path; /* a certificate where the key should be */
    assert_null(node_tls_context_new(&files, error, sizeof(error)));
    assert_non_null(strstr(error, "--tls-key"));
    files.key = pki.key_path;
    files.ca = "/nonexistent-ca.crt";
    assert_null(node_tls_context_new(&files, error, sizeof(error)));
    assert_non_null(strstr(error, "--tls-ca"));
    pki_free(&pki);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_garbage_and_plaintext),
        cmocka_unit_test(test_loading_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
