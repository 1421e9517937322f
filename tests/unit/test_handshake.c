/*
 * test_handshake.c — the peer handshake (net/handshake.h): the hello, challenge and proof
 * codecs (round trips, every short prefix, every refusal), the MACs against known answers
 * computed with Python's hmac module, and every change of input that must break a MAC; then
 * transports on loopback with cluster secrets: the same secret carries messages both ways,
 * another secret, a missing secret on either side, another cluster id, and raw clients that
 * skip or forge the proof deliver nothing, and their log lines are rate-limited.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/codec.h"
#include "net/handshake.h"
#include "net/transport.h"

enum { TEST_WAIT_MS = 10000, TEST_LOG_BYTES = 256 };
static const uint64_t test_cluster = 0x1122334455667788ull;
static const char test_secret[] = "0123456789abcdef-secret";
static const char other_secret[] = "0123456789abcdef-SECRET";

/* ---- codecs ------------------------------------------------------------------------------ */

static void test_hello_codec(void **state)
{
    (void)state;
    struct handshake_hello h = {.flags = HANDSHAKE_FLAG_AUTH, .sender = 7,
                                .cluster_id = test_cluster};
    for (int i = 0; i < HANDSHAKE_NONCE_BYTES; i++) h.nonce[i] = (uint8_t)(i * 3 + 1);
    uint8_t buf[HANDSHAKE_HELLO_AUTH_BYTES];
    assert_int_equal(handshake_hello_encode(&h, buf), HANDSHAKE_HELLO_AUTH_BYTES);
    struct handshake_hello d;
    for (size_t len = 0; len < HANDSHAKE_HELLO_AUTH_BYTES; len++)
        assert_int_equal(handshake_hello_decode(buf, len, &d), 0);
    assert_int_equal(handshake_hello_decode(buf, sizeof buf, &d), HANDSHAKE_HELLO_AUTH_BYTES);
    assert_int_equal(d.flags, HANDSHAKE_FLAG_AUTH);
    assert_int_equal(d.sender, 7);
    assert_true(d.cluster_id == test_cluster);
    assert_memory_equal(d.nonce, h.nonce, HANDSHAKE_NONCE_BYTES);
    /* Without the flag the hello is the 20 bytes of before authentication. */
    h.flags = 0;
    assert_int_equal(handshake_hello_encode(&h, buf), HANDSHAKE_HELLO_BYTES);
    static const uint8_t plain[HANDSHAKE_HELLO_BYTES] = {
        'C', 'H', 'P', 'T', 1, 0, 0, 0, 7, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    assert_memory_equal(buf, plain, sizeof plain);
    assert_int_equal(handshake_hello_decode(buf, HANDSHAKE_HELLO_BYTES, &d), HANDSHAKE_HELLO_BYTES);
    assert_int_equal(d.flags, 0);
    /* Refusals. */
    uint8_t bad[HANDSHAKE_HELLO_BYTES];
    memcpy(bad, plain, sizeof bad);
    bad[0] = 'X';
    assert_int_equal(handshake_hello_decode(bad, 4, &d), HANDSHAKE_ERR_MAGIC);
    memcpy(bad, plain, sizeof bad);
    bad[4] = 2;
    assert_int_equal(handshake_hello_decode(bad, sizeof bad, &d), HANDSHAKE_ERR_VERSION);
    memcpy(bad, plain, sizeof bad);
    bad[6] = 2;
    assert_int_equal(handshake_hello_decode(bad, sizeof bad, &d), HANDSHAKE_ERR_FLAGS);
    memcpy(bad, plain, sizeof bad);
    bad[8] = 0;
    assert_int_equal(handshake_hello_decode(bad, sizeof bad, &d), HANDSHAKE_ERR_NODE);
    assert_string_equal(handshake_strerror(HANDSHAKE_ERR_MAC),
                        "MAC does not verify (another cluster secret)");
}

static void test_challenge_and_proof_codec(void **state)
{
    (void)state;
    struct handshake_challenge c = {.acceptor = 5};
    for (int i = 0; i < HANDSHAKE_NONCE_BYTES; i++) c.nonce[i] = (uint8_t)i;
    for (int i = 0; i < HANDSHAKE_MAC_BYTES; i++) c.mac[i] = (uint8_t)(255 - i);
    uint8_t buf[HANDSHAKE_CHALLENGE_BYTES];
    handshake_challenge_encode(&c, buf);
    struct handshake_challenge d;
    for (size_t len = 0; len < sizeof buf; len++)
        assert_int_equal(handshake_challenge_decode(buf, len, &d), 0);
    assert_int_equal(handshake_challenge_decode(buf, sizeof buf, &d), HANDSHAKE_CHALLENGE_BYTES);
    assert_int_equal(d.acceptor, 5);
    assert_memory_equal(d.nonce, c.nonce, sizeof c.nonce);
    assert_memory_equal(d.mac, c.mac, sizeof c.mac);
    buf[4] = 0;
    assert_int_equal(handshake_challenge_decode(buf, sizeof buf, &d), HANDSHAKE_ERR_NODE);
    buf[1] = 'X';
    assert_int_equal(handshake_challenge_decode(buf, sizeof buf, &d), HANDSHAKE_ERR_MAGIC);

    uint8_t proof[HANDSHAKE_PROOF_BYTES], mac[HANDSHAKE_MAC_BYTES];
    handshake_proof_encode(c.mac, proof);
    for (size_t len = 0; len < sizeof proof; len++)
        assert_int_equal(handshake_proof_decode(proof, len, mac), 0);
    assert_int_equal(handshake_proof_decode(proof, sizeof proof, mac), HANDSHAKE_PROOF_BYTES);
    assert_memory_equal(mac, c.mac, sizeof mac);
    /* A hello or a frame where the proof is due is refused by its first 4 bytes. */
    uint8_t hello[HANDSHAKE_HELLO_BYTES];
    struct handshake_hello h = {.sender = 1};
    handshake_hello_encode(&h, hello);
    assert_int_equal(handshake_proof_decode(hello, sizeof hello, mac), HANDSHAKE_ERR_MAGIC);
}

/* ---- MACs -------------------------------------------------------------------------------- */

static void nonces(uint8_t nc[HANDSHAKE_NONCE_BYTES], uint8_t na[HANDSHAKE_NONCE_BYTES])
{
    for (int i = 0; i < HANDSHAKE_NONCE_BYTES; i++) {
        nc[i] = (uint8_t)i;
        na[i] = (uint8_t)(32 + i);
    }
}

static void hex(const uint8_t *bytes, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", bytes[i]);
}

static void test_mac_known_answers(void **state)
{
    (void)state;
    /* python3: hmac.new(secret, label + b"\0" + struct.pack("<QII", cluster, 3, 5) + nc + na,
     * hashlib.sha256).hexdigest() */
    uint8_t nc[HANDSHAKE_NONCE_BYTES], na[HANDSHAKE_NONCE_BYTES], mac[HANDSHAKE_MAC_BYTES];
    nonces(nc, na);
    char text[2 * HANDSHAKE_MAC_BYTES + 1];
    handshake_mac(HANDSHAKE_ACCEPTOR, (const uint8_t *)test_secret, strlen(test_secret),
                  test_cluster, 3, 5, nc, na, mac);
    hex(mac, sizeof mac, text);
    assert_string_equal(text, "7644c2843b7f70592ae09f698c6de06c7bbc2b870d0ae0b84b0383eacbbf0528");
    handshake_mac(HANDSHAKE_CONNECTOR, (const uint8_t *)test_secret, strlen(test_secret),
                  test_cluster, 3, 5, nc, na, mac);
    hex(mac, sizeof mac, text);
    assert_string_equal(text, "a220b5b6d70e4eebacc0e500278d7660c79c4875eb365ac5b8511cdc27c7a5b2");
}

static void test_mac_binds_everything(void **state)
{
    (void)state;
    const uint8_t *key = (const uint8_t *)test_secret;
    size_t key_len = strlen(test_secret);
    uint8_t nc[HANDSHAKE_NONCE_BYTES], na[HANDSHAKE_NONCE_BYTES], mac[HANDSHAKE_MAC_BYTES];
    nonces(nc, na);
    handshake_mac(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 5, nc, na, mac);
    assert_true(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 5, nc,
                                     na, mac));
    /* The other role's label (reflection), another secret, cluster, pair of ids, nonce. */
    assert_false(handshake_mac_verify(HANDSHAKE_ACCEPTOR, key, key_len, test_cluster, 3, 5, nc,
                                      na, mac));
    assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, (const uint8_t *)other_secret,
                                      strlen(other_secret), test_cluster, 3, 5, nc, na, mac));
    assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster + 1, 3, 5,
                                      nc, na, mac));
    assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 5, 3, nc,
                                      na, mac));
    assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 4, nc,
                                      na, mac));
    assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 5, na,
                                      nc, mac));
    for (int bit = 0; bit < 8 * HANDSHAKE_NONCE_BYTES; bit += 37) {
        na[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 5,
                                          nc, na, mac));
        na[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(handshake_mac_verify(HANDSHAKE_CONNECTOR, key, key_len, test_cluster, 3, 5,
                                          nc, na, mac));
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Nonces are fresh: two draws differ. */
    uint8_t a[HANDSHAKE_NONCE_BYTES], b[HANDSHAKE_NONCE_BYTES];
    assert_int_equal(handshake_nonce(a), HANDSHAKE_OK);
    assert_int_equal(handshake_nonce(b), HANDSHAKE_OK);
    assert_memory_not_equal(a, b, sizeof a);
}

/* ---- transports with secrets ------------------------------------------------------------ */

struct node {
    uv_loop_t *loop;
    struct transport *t;
    cn_node_id id;
    uint16_t port;
    bool closed;
    uint64_t received;
    uint32_t log_count;
    char last_log[TEST_LOG_BYTES];
};

static void on_message(void *ctx, const struct cn_message *m)
{
    struct node *n = ctx;
    assert_int_equal(m->to, n->id);
    n->received++;
}

static void on_closed(void *arg)
{
    struct node *n = arg;
    n->closed = true;
    n->t = NULL;
}

static void on_log(void *ctx, const char *line)
{
    struct node *n = ctx;
    n->log_count++;
    snprintf(n->last_log, sizeof n->last_log, "%s", line);
    /* The secret never reaches a log line. */
    assert_null(strstr(line, test_secret));
    assert_null(strstr(line, other_secret));
}

static void node_start(struct node *n, uv_loop_t *loop, cn_node_id id, const char *secret,
                       uint64_t cluster)
{
    struct transport_config config;
    transport_config_defaults(&config);
    config.self = id;
    config.cluster_id = cluster;
    config.seed = id;
    config.backoff_ms_initial = 10;
    config.backoff_ms_max = 50;
    config.listen_addr = "127.0.0.1:0";
    if (secret != NULL) {
        config.secret_len = strlen(secret);
        memcpy(config.secret, secret, config.secret_len);
    }
    memset(n, 0, sizeof *n);
    n->loop = loop;
    n->id = id;
    struct transport_callbacks cb = {.ctx = n, .on_message = on_message, .on_log = on_log};
    char err[TRANSPORT_ERROR_BYTES_MAX] = "";
    if (transport_start(loop, &config, &cb, &n->t, err, sizeof err) != 0)
        fail_msg("transport_start: %s", err);
    n->port = transport_listen_port(n->t);
}

static void link_to(struct node *from, const struct node *to)
{
    char addr[TRANSPORT_ADDR_BYTES_MAX], err[TRANSPORT_ERROR_BYTES_MAX] = "";
    snprintf(addr, sizeof addr, "127.0.0.1:%u", to->port);
    if (transport_peer_set(from->t, to->id, addr, err, sizeof err) != 0)
        fail_msg("transport_peer_set: %s", err);
}

static void tick(uv_timer_t *timer) { (void)timer; }

typedef bool (*predicate)(void *arg);

/* Runs the loop until pred(arg) or for_ms; returns whether pred held. */
static bool run_until(uv_loop_t *loop, predicate pred, void *arg, uint64_t for_ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 1, 1);
    uv_update_time(loop);
    uint64_t deadline = uv_now(loop) + for_ms;
    bool ok = false;
    while (uv_now(loop) < deadline) {
        if (pred != NULL && pred(arg)) {
            ok = true;
            break;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static bool is_closed(void *arg) { return ((struct node *)arg)->closed; }
static bool got_one(void *arg) { return ((struct node *)arg)->received >= 1; }

static bool auth_failed(void *arg)
{
    struct transport_stats s;
    transport_stats(((struct node *)arg)->t, &s);
    return s.auth_failures >= 1;
}

static bool handshake_failed(void *arg)
{
    struct transport_stats s;
    transport_stats(((struct node *)arg)->t, &s);
    return s.handshake_errors >= 1;
}

static void node_stop(struct node *n)
{
    transport_stop(n->t, on_closed, n);
    assert_true(run_until(n->loop, is_closed, n, TEST_WAIT_MS));
}

static void send_vote(struct node *from, cn_node_id to)
{
    struct cn_message m = {.type = CN_MSG_VOTE, .from = from->id, .to = to, .term = 9};
    assert_int_equal(transport_send(from->t, &m), TRANSPORT_OK);
}

static void test_same_secret_talks(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, 1, test_secret, test_cluster);
    node_start(&b, &loop, 2, test_secret, test_cluster);
    link_to(&a, &b);
    link_to(&b, &a);
    send_vote(&a, 2);
    send_vote(&b, 1);
    assert_true(run_until(&loop, got_one, &b, TEST_WAIT_MS));
    assert_true(run_until(&loop, got_one, &a, TEST_WAIT_MS));
    struct transport_stats s;
    transport_stats(a.t, &s);
    assert_int_equal(s.auth_failures, 0);
    assert_int_equal(s.handshake_errors, 0);
    node_stop(&a);
    node_stop(&b);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* `a` (connector, secret_a) sends votes to `b` (acceptor, secret_b) for a while: nothing may
 * arrive, and `judge` (the side that detects the mismatch) counts an authentication failure. */
static void expect_refused(const char *secret_a, uint64_t cluster_a, const char *secret_b,
                           bool acceptor_judges, const char *log_part)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node a, b;
    node_start(&a, &loop, 1, secret_a, cluster_a);
    node_start(&b, &loop, 2, secret_b, test_cluster);
    link_to(&a, &b);
    for (int i = 0; i < 3; i++) send_vote(&a, 2);
    struct node *judge = acceptor_judges ? &b : &a;
    if (log_part == NULL)
        assert_true(run_until(&loop, handshake_failed, judge, TEST_WAIT_MS));
    else
        assert_true(run_until(&loop, auth_failed, judge, TEST_WAIT_MS));
    /* Keep trying (the connector reconnects after its backoff) for a little while. */
    for (int i = 0; i < 5; i++) {
        send_vote(&a, 2);
        run_until(&loop, NULL, NULL, 40);
    }
    assert_int_equal(b.received, 0);
    if (log_part != NULL && strstr(judge->last_log, log_part) == NULL)
        fail_msg("log \"%s\" lacks \"%s\"", judge->last_log, log_part);
    node_stop(&a);
    node_stop(&b);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_mismatches_are_refused(void **state)
{
    (void)state;
    /* Another secret: the connector finds the acceptor's challenge does not verify. */
    expect_refused(other_secret, test_cluster, test_secret, false, "challenge refused");
    /* No secret on the connector, or none on the acceptor. */
    expect_refused(NULL, test_cluster, test_secret, true, "did not authenticate");
    expect_refused(test_secret, test_cluster, NULL, true, "has no --cluster-secret-file");
    /* Another cluster with the same secret: refused at the hello. */
    expect_refused(test_secret, test_cluster + 1, test_secret, true, NULL);
}

/* ---- raw clients --------------------------------------------------------------------------- */

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

struct raw_wait {
    struct node *node;
    uint64_t handshake_errors;
};

static bool errors_reached(void *arg)
{
    struct raw_wait *w = arg;
    struct transport_stats s;
    transport_stats(w->node->t, &s);
    return s.handshake_errors >= w->handshake_errors;
}

static void test_raw_clients_deliver_nothing(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node b;
    node_start(&b, &loop, 2, test_secret, test_cluster);
    /* An authenticating hello, then a frame where the proof is due; a forged proof then a
     * frame; each 10 times, so that the log's rate limit shows. */
    struct handshake_hello h = {.flags = HANDSHAKE_FLAG_AUTH, .sender = 1,
                                .cluster_id = test_cluster};
    uint8_t hello[HANDSHAKE_HELLO_AUTH_BYTES];
    size_t hello_len = handshake_hello_encode(&h, hello);
    struct cn_message vote = {.type = CN_MSG_VOTE, .from = 1, .to = 2, .term = 9};
    uint8_t frame[256];
    int64_t frame_len = cn_message_encode(&vote, frame, sizeof frame);
    assert_true(frame_len > 0);
    uint8_t forged[HANDSHAKE_PROOF_BYTES], zero_mac[HANDSHAKE_MAC_BYTES] = {0};
    handshake_proof_encode(zero_mac, forged);
    int fds[20];
    for (int i = 0; i < 20; i++) {
        fds[i] = raw_connect(b.port);
        assert_int_equal(write(fds[i], hello, hello_len), (ssize_t)hello_len);
        if (i % 2 == 1)
            assert_int_equal(write(fds[i], forged, sizeof forged), (ssize_t)sizeof forged);
        assert_int_equal(write(fds[i], frame, (size_t)frame_len), frame_len);
    }
    struct raw_wait w = {.node = &b, .handshake_errors = 20};
    assert_true(run_until(&loop, errors_reached, &w, TEST_WAIT_MS));
    for (int i = 0; i < 20; i++) close(fds[i]);
    assert_int_equal(b.received, 0);
    struct transport_stats s;
    transport_stats(b.t, &s);
    assert_int_equal(s.auth_failures, 20);
    assert_int_equal(s.messages_received, 0);
    /* At most TRANSPORT_REJECT_LOG_LINES lines; the rest are counted. */
    assert_true(b.log_count <= TRANSPORT_REJECT_LOG_LINES);
    assert_true(s.log_lines_suppressed >= 20 - TRANSPORT_REJECT_LOG_LINES);
    node_stop(&b);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_codec),
        cmocka_unit_test(test_challenge_and_proof_codec),
        cmocka_unit_test(test_mac_known_answers),
        cmocka_unit_test(test_mac_binds_everything),
        cmocka_unit_test(test_same_secret_talks),
        cmocka_unit_test(test_mismatches_are_refused),
        cmocka_unit_test(test_raw_clients_deliver_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
