/*
 * test_transport_tls.c — the peer transport with TLS (config.tls, --tls-replication) on
 * loopback, with CAs and certificates made in memory: messages both ways with a cluster
 * secret inside TLS (a 1 MiB entry among them: many records in one sealed write); a
 * peer whose certificate is of another CA, and a peer without TLS, are refused on both sides
 * (counted in tls_failures, logged) and deliver nothing; a reloaded context (transport_tls_set)
 * serves new connections, and TLS cannot be switched off that way.
 *
 * Every wait is bounded by TEST_WAIT_MS.
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
#include <openssl/x509v3.h>

#include <cmocka.h>

#include "consensus/codec.h"
#include "net/tls.h"
#include "net/transport.h"

enum {
    TEST_WAIT_MS = 10000,
    TEST_CLUSTER = 0x5566778899aabbccull,
    TEST_BIG_BYTES = 1u << 20, /* 64 full TLS records in one write */
};

/* ---- certificates ---------------------------------------------------------------------- */

struct test_pki {
    char dir[64];
    char ca[128], cert[128], key[128];
};

static void test_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

static X509 *test_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), issuer == NULL ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600 * 24);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer != NULL ? issuer : cert;
    if (issuer == NULL) {
        test_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        test_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        /* As tools/tls-test-ca.sh issues a node's: both roles. */
        test_ext(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    assert_true(X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

static void test_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert != NULL) PEM_write_X509(f, cert);
    if (key != NULL) PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

/* A CA and a node certificate signed by it, in a temporary directory. */
static void test_pki_make(struct test_pki *p, const char *tag)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(ca_key);
    assert_non_null(key);
    X509 *ca = test_cert(ca_key, tag, NULL, NULL);
    X509 *cert = test_cert(key, "node", ca, ca_key);
    snprintf(p->dir, sizeof p->dir, "/tmp/test_transport_tls.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->ca, sizeof p->ca, "%s/ca.crt", p->dir);
    snprintf(p->cert, sizeof p->cert, "%s/node.crt", p->dir);
    snprintf(p->key, sizeof p->key, "%s/node.key", p->dir);
    test_pem(p->ca, ca, NULL);
    test_pem(p->cert, cert, NULL);
    test_pem(p->key, NULL, key);
    X509_free(ca), X509_free(cert);
    EVP_PKEY_free(ca_key), EVP_PKEY_free(key);
}

static void test_pki_free(struct test_pki *p)
{
    unlink(p->ca), unlink(p->cert), unlink(p->key);
    rmdir(p->dir);
}

/* The context of a node presenting `own`'s certificate and trusting `trusted`'s CA. */
static struct net_tls_context *test_context(const struct test_pki *own, const struct test_pki *trusted)
{
    struct net_tls_files files = {.cert = own->cert, .key = own->key, .ca = trusted->ca,
                                  .verify = NET_TLS_VERIFY_REQUIRE};
    char error[256] = "";
    struct net_tls_context *context = net_tls_context_new(&files, error, sizeof error);
    if (context == NULL) fail_msg("context: %s", error);
    return context;
}

/* ---- nodes ------------------------------------------------------------------------------- */

struct test_node {
    uv_loop_t *loop;
    struct transport *t;
    cn_node_id id;
    uint16_t port;
    bool closed;
    uint64_t received;
    uint64_t received_bytes;
    uint32_t log_count;
    char last_log[256];
    const char *log_word; /* when set, log_word_seen tells whether a line had it */
    bool log_word_seen;
};

static void test_on_message(void *ctx, const struct cn_message *m)
{
    struct test_node *n = ctx;
    assert_int_equal(m->to, n->id);
    n->received++;
    n->received_bytes += cn_message_encoded_size(m);
    /* Every entry's bytes are what test_send put there. */
    for (uint32_t i = 0; i < m->entry_count; i++)
        for (uint32_t j = 0; j < m->entries[i].data_len; j += 4099)
            assert_int_equal(m->entries[i].data[j], (uint8_t)(j * 7 + m->context));
}

static void test_on_log(void *ctx, const char *line)
{
    struct test_node *n = ctx;
    n->log_count++;
    snprintf(n->last_log, sizeof n->last_log, "%s", line);
    if (n->log_word != NULL && strstr(line, n->log_word) != NULL)
        n->log_word_seen = true;
}

static void test_on_closed(void *arg)
{
    struct test_node *n = arg;
    n->closed = true;
    n->t = NULL;
}

/* A node with a cluster secret and, unless context is NULL, TLS with that context. */
static void test_start(struct test_node *n, uv_loop_t *loop, cn_node_id id,
                       struct net_tls_context *context)
{
    memset(n, 0, sizeof *n);
    struct transport_config config;
    transport_config_defaults(&config);
    config.self = id;
    config.cluster_id = TEST_CLUSTER;
    config.listen_addr = "127.0.0.1:0";
    config.seed = id;
    config.backoff_ms_initial = 10;
    config.backoff_ms_max = 100;
    memcpy(config.secret, "a cluster secret of 32 bytes....", 32);
    config.secret_len = 32;
    config.tls = context;
    n->loop = loop;
    n->id = id;
    struct transport_callbacks cb = {.ctx = n, .on_message = test_on_message, .on_log = test_on_log};
    char err[TRANSPORT_ERROR_BYTES_MAX] = "";
    if (transport_start(loop, &config, &cb, &n->t, err, sizeof err) != 0)
        fail_msg("transport_start: %s", err);
    n->port = transport_listen_port(n->t);
}

static void test_link(struct test_node *from, const struct test_node *to)
{
    char addr[TRANSPORT_ADDR_BYTES_MAX];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", to->port);
    char err[TRANSPORT_ERROR_BYTES_MAX] = "";
    if (transport_peer_set(from->t, to->id, addr, err, sizeof err) != 0)
        fail_msg("transport_peer_set: %s", err);
}

typedef bool (*test_predicate)(void *arg);
static void test_tick(uv_timer_t *timer) {}

/* Runs the loop until pred(arg) holds; false when TEST_WAIT_MS passed first. */
static bool test_run_until(uv_loop_t *loop, test_predicate pred, void *arg)
{
    uv_timer_t tick;
    assert_int_equal(uv_timer_init(loop, &tick), 0);
    assert_int_equal(uv_timer_start(&tick, test_tick, 1, 1), 0);
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + TEST_WAIT_MS;
    bool ok = false;
    while (uv_now(loop) < deadline) { /* bounded by the deadline */
        if (pred(arg)) {
            ok = true;
            break;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static bool test_closed(void *arg) { return ((struct test_node *)arg)->closed; }

static void test_stop(struct test_node *n)
{
    if (n->t != NULL) transport_stop(n->t, test_on_closed, n);
    assert_true(test_run_until(n->loop, test_closed, n));
}

static void test_loop_close(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* Sends an append from `from` to `to` with one entry of `bytes` bytes. */
static void test_send(struct test_node *from, cn_node_id to, uint64_t seq, uint32_t bytes)
{
    uint8_t *data = malloc(bytes > 0 ? bytes : 1);
    assert_non_null(data);
    for (uint32_t j = 0; j < bytes; j++) data[j] = (uint8_t)(j * 7 + seq);
    struct cn_entry entry = {.index = seq, .term = 1, .type = 0, .data = data, .data_len = bytes};
    struct cn_message m = {.type = CN_MSG_APPEND, .from = from->id, .to = to, .term = 1,
                           .context = seq, .entries = &entry, .entry_count = 1};
    assert_int_equal(transport_send(from->t, &m), 0);
    free(data);
}

struct test_count {
    const struct test_node *node;
    uint64_t at_least;
};
static bool test_received(void *arg)
{
    const struct test_count *c = arg;
    return c->node->received >= c->at_least;
}
static void test_wait_received(const struct test_node *n, uint64_t count)
{
    struct test_count c = {.node = n, .at_least = count};
    if (!test_run_until(n->loop, test_received, &c))
        fail_msg("node %u received %llu of %llu (last log: %s)", n->id,
                 (unsigned long long)n->received, (unsigned long long)count, n->last_log);
}

struct test_failures {
    struct test_node *node;
    uint64_t at_least;
};
static bool test_tls_failed(void *arg)
{
    struct test_failures *f = arg;
    struct transport_stats stats;
    transport_stats(f->node->t, &stats);
    return stats.tls_failures >= f->at_least;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_exchange(void **state)
{
    struct test_pki pki;
    test_pki_make(&pki, "CA one");
    struct net_tls_context *context = test_context(&pki, &pki);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a, b;
    test_start(&a, &loop, 1, context);
    test_start(&b, &loop, 2, context);
    test_link(&a, &b);
    test_link(&b, &a);
    for (uint64_t s = 0; s < 50; s++) {
        test_send(&a, 2, s, (uint32_t)(s * 97));
        test_send(&b, 1, s, 10);
    }
    test_send(&a, 2, 50, TEST_BIG_BYTES); /* many TLS records, one sealed write */
    test_wait_received(&b, 51);
    test_wait_received(&a, 50);
    assert_true(b.received_bytes > TEST_BIG_BYTES);
    struct transport_stats stats;
    transport_stats(a.t, &stats);
    assert_int_equal(stats.tls_failures, 0);
    assert_int_equal(stats.auth_failures, 0);
    transport_stats(b.t, &stats);
    assert_int_equal(stats.tls_failures, 0);
    test_stop(&a);
    test_stop(&b);
    test_loop_close(&loop);
    net_tls_context_free(context);
    test_pki_free(&pki);
}

struct test_word {
    const struct test_node *a, *b;
};
static bool test_words_seen(void *arg)
{
    const struct test_word *w = arg;
    return w->a->log_word_seen && w->b->log_word_seen;
}

/* Node 2 is refused by node 1 and the reverse; nothing is delivered either way, and each
 * side logs a line with its word. */
static void test_refused(struct net_tls_context *context_a, struct net_tls_context *context_b,
                         const char *word_a, const char *word_b)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a, b;
    test_start(&a, &loop, 1, context_a);
    test_start(&b, &loop, 2, context_b);
    a.log_word = word_a;
    b.log_word = word_b;
    test_link(&a, &b);
    test_link(&b, &a);
    for (uint64_t s = 0; s < 5; s++) {
        test_send(&a, 2, s, 100);
        test_send(&b, 1, s, 100);
    }
    /* Each refusal is a connection attempt; the sends above start them, backoff repeats them. */
    struct test_failures fa = {.node = context_a != NULL ? &a : &b, .at_least = 2};
    if (!test_run_until(&loop, test_tls_failed, &fa))
        fail_msg("no TLS refusal counted (last logs: %s | %s)", a.last_log, b.last_log);
    if (context_a != NULL && context_b != NULL) {
        struct test_failures fb = {.node = &b, .at_least = 2};
        assert_true(test_run_until(&loop, test_tls_failed, &fb));
    }
    assert_int_equal(a.received, 0);
    assert_int_equal(b.received, 0);
    /* Each side says why, once the other has tried to connect too. */
    struct test_word w = {&a, &b};
    if (!test_run_until(&loop, test_words_seen, &w))
        fail_msg("no log line says '%s' (node 1: %d) or '%s' (node 2: %d); last: %s | %s",
                 word_a, a.log_word_seen, word_b, b.log_word_seen, a.last_log, b.last_log);
    test_stop(&a);
    test_stop(&b);
    test_loop_close(&loop);
}

static void test_other_ca_refused(void **state)
{
    struct test_pki one, two;
    test_pki_make(&one, "CA one");
    test_pki_make(&two, "CA two");
    struct net_tls_context *a = test_context(&one, &one);
    /* Node 2 presents CA two's certificate, and trusts CA one: node 1 refuses it, and it
     * refuses node 1 in return only because its own certificate is refused. */
    struct net_tls_context *b = test_context(&two, &one);
    test_refused(a, b, "certificate verify failed", "unknown ca");
    net_tls_context_free(a);
    net_tls_context_free(b);
    test_pki_free(&one);
    test_pki_free(&two);
}

static void test_plain_refused(void **state)
{
    struct test_pki one;
    test_pki_make(&one, "CA one");
    struct net_tls_context *a = test_context(&one, &one);
    test_refused(a, NULL, "peer speaks plaintext", "peer speaks TLS");
    net_tls_context_free(a);
    test_pki_free(&one);
}

static void test_reload(void **state)
{
    struct test_pki one;
    test_pki_make(&one, "CA one");
    struct net_tls_context *first = test_context(&one, &one);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a, b;
    test_start(&a, &loop, 1, first);
    test_start(&b, &loop, 2, first);
    test_link(&a, &b);
    test_send(&a, 2, 0, 10);
    test_wait_received(&b, 1);
    /* TLS cannot be turned off by a reload. */
    assert_int_equal(transport_tls_set(a.t, NULL), TRANSPORT_ERR_CONFIG);
    /* A new context: the old one is freed at once (the open connection keeps what it needs),
     * and the next connection, after b restarts on the same port, uses the new one. */
    struct net_tls_context *second = test_context(&one, &one);
    assert_int_equal(transport_tls_set(a.t, second), TRANSPORT_OK);
    test_send(&a, 2, 1, 10);
    test_wait_received(&b, 2);
    uint16_t port = b.port;
    test_stop(&b);
    net_tls_context_free(first);
    test_start(&b, &loop, 2, second);
    if (b.port != port) /* the listener took a new port: tell a */
        test_link(&a, &b);
    for (uint64_t s = 2; s < 6; s++) test_send(&a, 2, s, 10);
    test_wait_received(&b, 1);
    test_stop(&a);
    test_stop(&b);
    test_loop_close(&loop);
    net_tls_context_free(second);
    test_pki_free(&one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_other_ca_refused),
        cmocka_unit_test(test_plain_refused),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
