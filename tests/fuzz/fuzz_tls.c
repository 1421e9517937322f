/*
 * fuzz_tls.c — the TLS engine (net/tls.h) as the accepting side of a peer or client
 * connection, fed arbitrary bytes as a stranger on the peer port (--tls-replication) or the
 * TLS client port sends them. The first input byte chooses how the rest is cut into socket
 * reads (1 + 16 * byte bytes each). Properties checked:
 *  - feeding, the handshake and taking the ciphertext never read or write out of bounds (ASan)
 *    nor trip UB (UBSan), and a failed handshake stays failed;
 *  - the handshake never completes: the context requires a client certificate of its CA,
 *    whose key the fuzzer does not have (a completion would be a bypass of mutual TLS);
 *  - what the engine answers is bounded: at most a server flight (hello, certificate,
 *    certificate request) and an alert, under NET_TLS_FUZZ_ANSWER_BYTES_MAX in all.
 * The context (a self-signed CA certificate that is its own node certificate) is made once.
 */
#include "fuzz.h"

#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "net/tls.h"

enum { NET_TLS_FUZZ_ANSWER_BYTES_MAX = 64 * 1024 };

/* Writes `cert` or `key` as PEM into a fresh temporary file whose name goes to path. */
static void fuzz_pem(char *path, X509 *cert, EVP_PKEY *key)
{
    strcpy(path, "/tmp/fuzz_tls.XXXXXX");
    int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    FUZZ_CHECK(f != NULL);
    if (cert != NULL) PEM_write_X509(f, cert);
    if (key != NULL) PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

static struct net_tls_context *fuzz_context(void)
{
    static struct net_tls_context *context;
    if (context != NULL) return context;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    FUZZ_CHECK(key != NULL);
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    FUZZ_CHECK(X509_sign(cert, key, EVP_sha256()) > 0);
    char cert_path[32], key_path[32];
    fuzz_pem(cert_path, cert, NULL);
    fuzz_pem(key_path, NULL, key);
    struct net_tls_files files = {.cert = cert_path, .key = key_path, .ca = cert_path,
                                  .verify = NET_TLS_VERIFY_REQUIRE};
    char error[256];
    context = net_tls_context_new(&files, error, sizeof error);
    unlink(cert_path);
    unlink(key_path);
    X509_free(cert);
    EVP_PKEY_free(key);
    FUZZ_CHECK(context != NULL);
    return context;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    struct net_tls_conn *conn = net_tls_conn_new(fuzz_context(), true);
    FUZZ_CHECK(conn != NULL);
    size_t chunk = 1 + 16 * (size_t)data[0];
    size_t answered = 0;
    static uint8_t answer[NET_TLS_FUZZ_ANSWER_BYTES_MAX];
    /* Bounded by the input: every pass feeds at least one byte. */
    for (size_t off = 1; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        FUZZ_CHECK(net_tls_feed(conn, data + off, len) == 0);
        int rv = net_tls_handshake(conn);
        FUZZ_CHECK(rv != 1 && !net_tls_established(conn));
        size_t pending = net_tls_pending(conn);
        FUZZ_CHECK(pending <= sizeof answer - answered);
        FUZZ_CHECK(net_tls_take(conn, answer + answered, pending) == 0);
        answered += pending;
        if (rv < 0) {
            FUZZ_CHECK(net_tls_handshake(conn) == -1); /* failed stays failed */
            FUZZ_CHECK(net_tls_reason(conn)[0] != '\0');
            break;
        }
    }
    net_tls_conn_free(conn);
    return 0;
}
