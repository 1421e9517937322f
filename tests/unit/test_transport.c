/*
 * test_transport.c — the peer transport on loopback: transports in one loop exchanging every
 * message shape (entries, snapshot chunks, a multi-MiB append), reconnecting after a peer is
 * stopped and restarted, raw TCP clients sending garbage, bad hellos, oversized or undecodable
 * frames (their connection closes, good peers carry on), the send queue bounds, stopping from
 * inside a callback, clean shutdown (uv_loop_close returns 0), and a throughput measurement.
 *
 * Ports: every transport listens on 127.0.0.1:0 and the tests read the port back; peers are
 * wired afterwards with transport_peer_set. Every wait is bounded by TEST_WAIT_MS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/codec.h"
#include "net/transport.h"

enum {
    TEST_WAIT_MS = 10000,       /* the longest any wait may take before the test fails */
    TEST_SEQ_MAX = 256,         /* messages tracked per exchange test */
    TEST_LOG_BYTES = 256,
    TEST_CHUNK_BYTES = 4096,
    TEST_BIG_ENTRY_BYTES = 1u << 20,
    TEST_BIG_ENTRIES = 3,       /* a 3 MiB append: beyond the kept read buffer */
    TEST_CLUSTER = 0x1122334455667788ull,
};

static const uint8_t test_types[] = {
    CN_MSG_APPEND,  CN_MSG_APPEND_RESPONSE, CN_MSG_VOTE,           CN_MSG_VOTE_RESPONSE,
    CN_MSG_PRE_VOTE, CN_MSG_PRE_VOTE_RESPONSE, CN_MSG_HEARTBEAT,   CN_MSG_HEARTBEAT_RESPONSE,
    CN_MSG_SNAPSHOT, CN_MSG_SNAPSHOT_RESPONSE, CN_MSG_TIMEOUT_NOW, CN_MSG_READ_INDEX,
    CN_MSG_READ_INDEX_RESPONSE, CN_MSG_PROPOSE, CN_MSG_PREPARE,   CN_MSG_PROMISE,
    CN_MSG_ACCEPT,  CN_MSG_ACCEPTED,        CN_MSG_CHOSEN,         CN_MSG_CATCHUP,
    CN_MSG_LEASE,   CN_MSG_LEASE_RESPONSE,
};
enum { TEST_TYPE_COUNT = sizeof test_types / sizeof test_types[0] };

/* ---- fixture ---------------------------------------------------------------------------- */

struct test_node {
    uv_loop_t *loop;
    struct transport *t;
    cn_node_id id;
    uint16_t port;
    bool closed;
    bool stop_on_message; /* stop the transport from inside on_message */
    uint64_t received;
    uint64_t received_bytes;
    /* Re-encoded copies of received messages, indexed by their context (a sequence number). */
    uint8_t *got[TEST_SEQ_MAX];
    size_t got_len[TEST_SEQ_MAX];
    uint32_t unreachable;
    uint32_t log_count;
    char last_log[TEST_LOG_BYTES];
};

static void test_on_closed(void *arg);

static void test_on_message(void *ctx, const struct cn_message *m)
{
    struct test_node *n = ctx;
    assert_int_equal(m->to, n->id);
    n->received++;
    size_t size = cn_message_encoded_size(m);
    n->received_bytes += size;
    if (m->context < TEST_SEQ_MAX && n->got[m->context] == NULL) {
        uint8_t *copy = malloc(size);
        assert_non_null(copy);
        assert_int_equal(cn_message_encode(m, copy, size), (int64_t)size);
        n->got[m->context] = copy;
        n->got_len[m->context] = size;
    }
    if (n->stop_on_message) {
        n->stop_on_message = false;
        transport_stop(n->t, test_on_closed, n);
    }
}

static void test_on_closed(void *arg)
{
    struct test_node *n = arg;
    n->closed = true;
    n->t = NULL;
}

static void test_on_unreachable(void *ctx, cn_node_id peer)
{
    struct test_node *n = ctx;
    n->unreachable++;
}

static void test_on_log(void *ctx, const char *line)
{
    struct test_node *n = ctx;
    n->log_count++;
    snprintf(n->last_log, sizeof n->last_log, "%s", line);
}

static void test_node_start_config(struct test_node *n, uv_loop_t *loop, cn_node_id id,
                                   struct transport_config *config, uint16_t port)
{
    char listen[TRANSPORT_ADDR_BYTES_MAX];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    config->self = id;
    config->listen_addr = listen;
    n->loop = loop;
    n->id = id;
    n->closed = false;
    struct transport_callbacks cb = {.ctx = n, .on_message = test_on_message,
                                     .on_unreachable = test_on_unreachable,
                                     .on_log = test_on_log};
    char err[TRANSPORT_ERROR_BYTES_MAX] = "";
    int rv = transport_start(loop, config, &cb, &n->t, err, sizeof err);
    if (rv != 0) fail_msg("transport_start: %s", err);
    n->port = transport_listen_port(n->t);
    assert_true(n->port != 0);
}

static void test_node_start(struct test_node *n, uv_loop_t *loop, cn_node_id id, uint16_t port)
{
    struct transport_config config;
    transport_config_defaults(&config);
    config.cluster_id = TEST_CLUSTER;
    config.seed = id;
    config.backoff_ms_initial = 10;
    config.backoff_ms_max = 100;
    test_node_start_config(n, loop, id, &config, port);
}

static void test_node_free(struct test_node *n)
{
    for (uint32_t i = 0; i < TEST_SEQ_MAX; i++) {
        free(n->got[i]);
        n->got[i] = NULL;
    }
}

/* Makes `from` know `to` at its listening port. */
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

/* Runs the loop until pred(arg) holds; false when TEST_WAIT_MS passed first. A repeating
 * 1 ms timer bounds how long one iteration may block, so the predicate is checked often. */
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

static bool test_node_closed(void *arg) { return ((struct test_node *)arg)->closed; }

static void test_node_stop(struct test_node *n)
{
    if (n->t != NULL) transport_stop(n->t, test_on_closed, n);
    assert_true(test_run_until(n->loop, test_node_closed, n));
}

/* Stops nothing: every transport must be stopped already. The loop must close cleanly. */
static void test_loop_close(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- messages --------------------------------------------------------------------------- */

struct test_msg {
    struct cn_message m;
    struct cn_entry entries[3];
    uint8_t data[3][100];
    uint8_t chunk[TEST_CHUNK_BYTES];
};

/* A message of `type` with every field set, entries, and (for snapshots) a chunk. */
static void test_msg_fill(struct test_msg *tm, uint8_t type, cn_node_id from, cn_node_id to,
                          uint64_t seq)
{
    memset(tm, 0, sizeof *tm);
    struct cn_message *m = &tm->m;
    m->type = type;
    m->group = (cn_group_id)(seq % 3);
    m->from = from;
    m->to = to;
    m->term = 1000 + seq;
    m->log_term = 999 + seq;
    m->index = UINT64_MAX - seq;
    m->commit = seq * 7;
    m->context = seq;
    m->hint_term = seq * 3;
    m->hint_index = seq * 5;
    m->reject = seq % 2 == 1;
    if (type == CN_MSG_APPEND || type == CN_MSG_ACCEPT || type == CN_MSG_PROMISE ||
        type == CN_MSG_CHOSEN) {
        m->entry_count = 3;
        for (uint32_t i = 0; i < 3; i++) {
            tm->entries[i].index = seq * 10 + i;
            tm->entries[i].term = 1000 + seq;
            tm->entries[i].type = (uint8_t)(i % 3);
            tm->entries[i].data_len = i == 1 ? 0 : (uint32_t)(10 + seq % 90);
            for (uint32_t j = 0; j < tm->entries[i].data_len; j++)
                tm->data[i][j] = (uint8_t)(seq + i + j);
            tm->entries[i].data = tm->entries[i].data_len > 0 ? tm->data[i] : NULL;
        }
        m->entries = tm->entries;
    }
    if (type == CN_MSG_SNAPSHOT) {
        m->snapshot.index = 500 + seq;
        m->snapshot.term = 7;
        m->snapshot.members.count = 3;
        m->snapshot.members.ids[0] = 1;
        m->snapshot.members.ids[1] = 2;
        m->snapshot.members.ids[2] = 3;
        m->snapshot_offset = seq * TEST_CHUNK_BYTES;
        m->snapshot_done = seq % 2 == 0;
        m->snapshot_chunk_len = TEST_CHUNK_BYTES;
        for (uint32_t j = 0; j < TEST_CHUNK_BYTES; j++) tm->chunk[j] = (uint8_t)(j * 31 + seq);
        m->snapshot_chunk = tm->chunk;
    }
}

static void test_expect_same(const struct test_node *receiver, const struct cn_message *sent)
{
    size_t size = cn_message_encoded_size(sent);
    uint8_t *want = malloc(size);
    assert_non_null(want);
    assert_int_equal(cn_message_encode(sent, want, size), (int64_t)size);
    assert_non_null(receiver->got[sent->context]);
    assert_int_equal(receiver->got_len[sent->context], size);
    assert_memory_equal(receiver->got[sent->context], want, size);
    free(want);
}

struct test_count_wait {
    const struct test_node *node;
    uint64_t received;
};

static bool test_received_at_least(void *arg)
{
    const struct test_count_wait *w = arg;
    return w->node->received >= w->received;
}

static void test_wait_received(const struct test_node *n, uint64_t count)
{
    struct test_count_wait w = {.node = n, .received = count};
    if (!test_run_until(n->loop, test_received_at_least, &w))
        fail_msg("node %u received %llu of %llu", n->id, (unsigned long long)n->received,
                 (unsigned long long)count);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_address_parse(void **state)
{
    struct sockaddr_storage a;
    char err[TRANSPORT_ERROR_BYTES_MAX];
    assert_int_equal(transport_address_parse("127.0.0.1:7001", false, &a, err, sizeof err), 0);
    assert_int_equal(a.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 7001);
    assert_int_equal(transport_address_parse("[::1]:65535", false, &a, err, sizeof err), 0);
    assert_int_equal(a.ss_family, AF_INET6);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&a)->sin6_port), 65535);
    assert_int_equal(transport_address_parse("0.0.0.0:0", true, &a, err, sizeof err), 0);

    static const struct {
        const char *text;
        bool zero_ok;
        const char *error_part;
    } bad[] = {
        {"", false, "empty"},
        {"127.0.0.1", false, "missing :PORT"},
        {"127.0.0.1:", false, "bad port"},
        {"127.0.0.1:0", false, "bad port"},
        {"127.0.0.1:65536", true, "bad port"},
        {"127.0.0.1:12x", true, "bad port"},
        {"127.0.0.1:-1", true, "bad port"},
        {"::1:7000", false, "brackets"},
        {"[::1:7000", false, "missing ']'"},
        {"[::1]7000", false, "expected [IPV6]:PORT"},
        {"[zz::1]:7000", false, "bad IPv6"},
        {"localhost:7000", false, "not resolved"},
        {"300.1.1.1:7000", false, "bad IPv4"},
        {"1234567890123456789012345678901234567890123456789012345678901234:1", false,
         "longer than"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rv = transport_address_parse(bad[i].text, bad[i].zero_ok, &a, err, sizeof err);
        if (rv != TRANSPORT_ERR_CONFIG || strstr(err, bad[i].error_part) == NULL)
            fail_msg("\"%s\": rv %d, error \"%s\", expected \"%s\"", bad[i].text, rv, err,
                     bad[i].error_part);
    }
}

static void test_start_errors(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct transport_config config;
    transport_config_defaults(&config);
    struct transport_callbacks cb = {.on_message = test_on_message};
    struct transport *t = NULL;
    char err[TRANSPORT_ERROR_BYTES_MAX];

    config.listen_addr = "127.0.0.1:0";
    assert_int_equal(transport_start(&loop, &config, &cb, &t, err, sizeof err),
                     TRANSPORT_ERR_CONFIG); /* self 0 */
    config.self = 1;
    config.listen_addr = "127.0.0.1";
    assert_int_equal(transport_start(&loop, &config, &cb, &t, err, sizeof err),
                     TRANSPORT_ERR_CONFIG);
    assert_non_null(strstr(err, "listen_addr"));
    config.listen_addr = "127.0.0.1:0";
    config.peer_count = 1;
    config.peers[0].id = 2;
    snprintf(config.peers[0].addr, sizeof config.peers[0].addr, "127.0.0.1:0");
    assert_int_equal(transport_start(&loop, &config, &cb, &t, err, sizeof err),
                     TRANSPORT_ERR_CONFIG);
    assert_non_null(strstr(err, "peer 2"));
    config.peer_count = 0;
    config.backoff_ms_max = 1;
    assert_int_equal(transport_start(&loop, &config, &cb, &t, err, sizeof err),
                     TRANSPORT_ERR_CONFIG);
    config.backoff_ms_max = TRANSPORT_BACKOFF_MS_MAX_DEFAULT;

    /* Address in use: reported at once, and nothing is left on the loop. */
    struct test_node a = {0};
    test_node_start(&a, &loop, 1, 0);
    char busy[TRANSPORT_ADDR_BYTES_MAX];
    snprintf(busy, sizeof busy, "127.0.0.1:%u", a.port);
    config.listen_addr = busy;
    config.self = 2;
    assert_int_equal(transport_start(&loop, &config, &cb, &t, err, sizeof err),
                     TRANSPORT_ERR_IO);
    assert_non_null(strstr(err, "in use"));
    assert_null(t);
    test_node_stop(&a);
    test_loop_close(&loop);
}

/* Three transports: 1 sends every shape to 2 and 3; 2 and 3 answer 1; all arrive intact and
 * in order per sender (TCP keeps order and so does the queue). */
static void test_exchange_every_shape(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node n[3] = {0};
    for (uint32_t i = 0; i < 3; i++) test_node_start(&n[i], &loop, i + 1, 0);
    for (uint32_t i = 0; i < 3; i++)
        for (uint32_t j = 0; j < 3; j++)
            if (i != j) test_link(&n[i], &n[j]);

    struct test_msg *tm = malloc(sizeof *tm);
    assert_non_null(tm);
    for (uint32_t k = 0; k < TEST_TYPE_COUNT; k++) {
        for (uint32_t to = 2; to <= 3; to++) {
            test_msg_fill(tm, test_types[k], 1, to, k);
            assert_int_equal(transport_send(n[0].t, &tm->m), 0);
        }
        test_msg_fill(tm, test_types[k], 2, 1, k);
        assert_int_equal(transport_send(n[1].t, &tm->m), 0);
        test_msg_fill(tm, test_types[k], 3, 1, 100 + k);
        assert_int_equal(transport_send(n[2].t, &tm->m), 0);
    }
    test_wait_received(&n[1], TEST_TYPE_COUNT);
    test_wait_received(&n[2], TEST_TYPE_COUNT);
    test_wait_received(&n[0], 2 * TEST_TYPE_COUNT);
    for (uint32_t k = 0; k < TEST_TYPE_COUNT; k++) {
        test_msg_fill(tm, test_types[k], 1, 2, k);
        test_expect_same(&n[1], &tm->m);
        test_msg_fill(tm, test_types[k], 1, 3, k);
        test_expect_same(&n[2], &tm->m);
        test_msg_fill(tm, test_types[k], 2, 1, k);
        test_expect_same(&n[0], &tm->m);
        test_msg_fill(tm, test_types[k], 3, 1, 100 + k);
        test_expect_same(&n[0], &tm->m);
    }
    free(tm);

    /* A 3 MiB append grows the read buffer past what is kept; then small ones still flow. */
    uint8_t *big = malloc(TEST_BIG_ENTRY_BYTES);
    assert_non_null(big);
    for (uint32_t j = 0; j < TEST_BIG_ENTRY_BYTES; j++) big[j] = (uint8_t)(j * 7);
    struct cn_entry entries[TEST_BIG_ENTRIES];
    for (uint32_t i = 0; i < TEST_BIG_ENTRIES; i++)
        entries[i] = (struct cn_entry){.index = i + 1, .term = 2, .type = CN_ENTRY_NORMAL,
                                       .data_len = TEST_BIG_ENTRY_BYTES, .data = big};
    struct cn_message m = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .term = 2,
                           .context = 200, .entry_count = TEST_BIG_ENTRIES,
                           .entries = entries};
    assert_int_equal(transport_send(n[0].t, &m), 0);
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 2,
                            .context = 201};
    assert_int_equal(transport_send(n[0].t, &hb), 0);
    test_wait_received(&n[1], TEST_TYPE_COUNT + 2);
    test_expect_same(&n[1], &m);
    test_expect_same(&n[1], &hb);
    free(big);

    struct transport_stats s;
    transport_stats(n[0].t, &s);
    assert_int_equal(s.messages_sent, 2 * TEST_TYPE_COUNT + 2);
    assert_int_equal(s.messages_received, 2 * TEST_TYPE_COUNT);
    assert_int_equal(s.messages_dropped, 0);
    assert_int_equal(s.decode_errors + s.handshake_errors, 0);
    assert_int_equal(s.connects, 2);
    struct transport_peer_info info;
    assert_true(transport_peer_info(n[0].t, 2, &info));
    assert_true(info.connected);
    assert_int_equal(info.queue_messages, 0);
    assert_int_equal(info.queue_bytes, 0);
    assert_false(transport_peer_info(n[0].t, 9, &info));

    for (uint32_t i = 0; i < 3; i++) {
        test_node_stop(&n[i]);
        test_node_free(&n[i]);
    }
    test_loop_close(&loop);
}

struct test_retry {
    struct test_node *from;
    struct test_node *to;
    uint64_t want;
    uint64_t sent;
};

/* Keeps sending a heartbeat each pass until `to` has received `want`: sends made while the
 * peer is down are lost, as they would be for the core, which retries on its next tick. */
static bool test_retry_send(void *arg)
{
    struct test_retry *r = arg;
    if (r->to->received >= r->want) return true;
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = r->from->id, .to = r->to->id,
                            .context = TEST_SEQ_MAX + r->sent};
    int rv = transport_send(r->from->t, &hb);
    assert_true(rv == 0 || rv == TRANSPORT_ERR_QUEUE_FULL);
    r->sent++;
    return false;
}

static bool test_unreachable_seen(void *arg) { return ((struct test_node *)arg)->unreachable > 0; }

/* The peer's transport stops and restarts on the same port: the sender notices (on_unreachable,
 * drops counted), backs off, reconnects and delivers again. */
static void test_reconnect(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a = {0}, b = {0};
    test_node_start(&a, &loop, 1, 0);
    test_node_start(&b, &loop, 2, 0);
    test_link(&a, &b);
    struct test_retry r = {.from = &a, .to = &b, .want = 1};
    assert_true(test_run_until(&loop, test_retry_send, &r));

    uint16_t port = b.port;
    test_node_stop(&b);
    test_node_free(&b);
    /* Sends now fail: EOF on the link, then refused connects, each reported. */
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = 1, .to = 2};
    assert_int_equal(transport_send(a.t, &hb), 0);
    assert_true(test_run_until(&loop, test_unreachable_seen, &a));
    struct transport_peer_info info;
    assert_true(transport_peer_info(a.t, 2, &info));
    assert_false(info.connected);
    /* The next send meets a refused connect (after the backoff) and is dropped. */
    a.unreachable = 0;
    assert_int_equal(transport_send(a.t, &hb), 0);
    assert_true(test_run_until(&loop, test_unreachable_seen, &a));
    struct transport_stats s;
    transport_stats(a.t, &s);
    assert_true(s.messages_dropped >= 1); /* the heartbeat above may also have been lost */
    assert_non_null(strstr(a.last_log, "connect"));

    memset(&b, 0, sizeof b);
    test_node_start(&b, &loop, 2, port);
    r = (struct test_retry){.from = &a, .to = &b, .want = 3};
    assert_true(test_run_until(&loop, test_retry_send, &r));
    transport_stats(a.t, &s);
    assert_true(s.reconnects >= 2);
    assert_true(s.connects >= 2);

    test_node_stop(&a);
    test_node_stop(&b);
    test_node_free(&a);
    test_node_free(&b);
    test_loop_close(&loop);
}

/* ---- raw clients ------------------------------------------------------------------------ */

static int test_raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The listener's backlog completes the handshake without the loop running. */
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void test_raw_send(int fd, const void *bytes, size_t len)
{
    assert_int_equal(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void test_hello(uint8_t *h, uint32_t magic, uint16_t version, cn_node_id id,
                       uint64_t cluster)
{
    for (int i = 0; i < 4; i++) h[i] = (uint8_t)(magic >> (8 * i));
    h[4] = (uint8_t)version;
    h[5] = (uint8_t)(version >> 8);
    h[6] = h[7] = 0;
    for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(id >> (8 * i));
    for (int i = 0; i < 8; i++) h[12 + i] = (uint8_t)(cluster >> (8 * i));
}

/* True once the server closed the raw connection (EOF or reset seen without blocking). */
static bool test_raw_closed(void *arg)
{
    int fd = *(int *)arg;
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Every kind of bad input closes just its own connection; a good peer keeps delivering. */
static void test_bad_clients(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a = {0}, b = {0};
    struct transport_config config;
    transport_config_defaults(&config);
    config.cluster_id = TEST_CLUSTER;
    config.hello_timeout_ms = 100;
    test_node_start_config(&a, &loop, 1, &config, 0);
    test_node_start(&b, &loop, 2, 0);
    test_link(&b, &a);

    uint8_t good[TRANSPORT_HELLO_BYTES];
    test_hello(good, TRANSPORT_HELLO_MAGIC, TRANSPORT_VERSION, 3, TEST_CLUSTER);
    uint8_t frame[512];
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = 3, .to = 1};
    int64_t frame_len = cn_message_encode(&hb, frame, sizeof frame);
    assert_true(frame_len > 0);

    enum { CASES = 9 };
    struct {
        const char *name;
        uint8_t bytes[600];
        size_t len;
        bool handshake; /* counted as a handshake error, else a decode error */
    } cases[CASES] = {0};
    /* 0: an HTTP request. */
    cases[0].name = "garbage";
    memcpy(cases[0].bytes, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    cases[0].len = 27;
    cases[0].handshake = true;
    /* 1: another cluster. */
    cases[1].name = "cluster";
    test_hello(cases[1].bytes, TRANSPORT_HELLO_MAGIC, TRANSPORT_VERSION, 3, TEST_CLUSTER + 1);
    cases[1].len = TRANSPORT_HELLO_BYTES;
    cases[1].handshake = true;
    /* 2: a future transport version. */
    cases[2].name = "version";
    test_hello(cases[2].bytes, TRANSPORT_HELLO_MAGIC, TRANSPORT_VERSION + 1, 3, TEST_CLUSTER);
    cases[2].len = TRANSPORT_HELLO_BYTES;
    cases[2].handshake = true;
    /* 3: a hello claiming to be the acceptor itself. */
    cases[3].name = "self";
    test_hello(cases[3].bytes, TRANSPORT_HELLO_MAGIC, TRANSPORT_VERSION, 1, TEST_CLUSTER);
    cases[3].len = TRANSPORT_HELLO_BYTES;
    cases[3].handshake = true;
    /* 4: a good hello, then a length of 4 GiB. */
    cases[4].name = "oversized";
    memcpy(cases[4].bytes, good, sizeof good);
    memset(cases[4].bytes + sizeof good, 0xff, 4);
    cases[4].len = sizeof good + 4;
    /* 5: a good hello, then a length just above CN_MESSAGE_BYTES_MAX. */
    cases[5].name = "just-oversized";
    memcpy(cases[5].bytes, good, sizeof good);
    uint32_t body = CN_MESSAGE_BYTES_MAX - 3;
    for (int i = 0; i < 4; i++) cases[5].bytes[sizeof good + i] = (uint8_t)(body >> (8 * i));
    cases[5].len = sizeof good + 4;
    /* 6: a good hello, then a frame with a bad codec version. */
    cases[6].name = "undecodable";
    memcpy(cases[6].bytes, good, sizeof good);
    memcpy(cases[6].bytes + sizeof good, frame, (size_t)frame_len);
    cases[6].bytes[sizeof good + 4] = 99;
    cases[6].len = sizeof good + (size_t)frame_len;
    /* 7: a good hello, then a frame claiming another sender. */
    cases[7].name = "forged";
    memcpy(cases[7].bytes, good, sizeof good);
    struct cn_message forged = {.type = CN_MSG_HEARTBEAT, .from = 5, .to = 1};
    int64_t flen = cn_message_encode(&forged, cases[7].bytes + sizeof good, 512);
    assert_true(flen > 0);
    cases[7].len = sizeof good + (size_t)flen;
    /* 8: silence: the hello deadline closes it. */
    cases[8].name = "silent";
    cases[8].len = 0;
    cases[8].handshake = true;

    uint64_t good_received = 0;
    for (int c = 0; c < CASES; c++) {
        struct transport_stats before, after;
        transport_stats(a.t, &before);
        int fd = test_raw_connect(a.port);
        if (cases[c].len > 0) test_raw_send(fd, cases[c].bytes, cases[c].len);
        if (!test_run_until(&loop, test_raw_closed, &fd)) fail_msg("case %s: not closed",
                                                                  cases[c].name);
        close(fd);
        transport_stats(a.t, &after);
        if (cases[c].handshake)
            assert_int_equal(after.handshake_errors, before.handshake_errors + 1);
        else
            assert_int_equal(after.decode_errors, before.decode_errors + 1);
        assert_non_null(strstr(a.last_log, "closing"));
        /* The good peer is not affected. */
        struct test_retry r = {.from = &b, .to = &a, .want = ++good_received};
        if (!test_run_until(&loop, test_retry_send, &r)) fail_msg("case %s: good peer stuck",
                                                                 cases[c].name);
        good_received = a.received;
    }
    /* A good raw client: hello + frame arrives, proving the raw encoding above is right. */
    int fd = test_raw_connect(a.port);
    test_raw_send(fd, good, sizeof good);
    test_raw_send(fd, frame, (size_t)frame_len);
    test_wait_received(&a, good_received + 1);
    close(fd);

    struct transport_stats s;
    transport_stats(a.t, &s);
    assert_int_equal(s.connections_accepted, CASES + 2);
    test_node_stop(&a);
    test_node_stop(&b);
    test_node_free(&a);
    test_node_free(&b);
    test_loop_close(&loop);
}

/* Bounds: messages and bytes per peer; a full queue drops, counts, and says so. */
static void test_queue_bounds(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a = {0}, b = {0};
    struct transport_config config;
    transport_config_defaults(&config);
    config.cluster_id = TEST_CLUSTER;
    config.send_queue_messages_max = 4;
    config.send_queue_bytes_max = 1000;
    config.backoff_ms_initial = 10;
    config.backoff_ms_max = 20;
    test_node_start_config(&a, &loop, 1, &config, 0);
    test_node_start(&b, &loop, 2, 0);
    test_link(&a, &b);

    /* The loop does not run between these sends, so nothing leaves. */
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = 1, .to = 2};
    for (int i = 0; i < 4; i++) assert_int_equal(transport_send(a.t, &hb), 0);
    assert_int_equal(transport_send(a.t, &hb), TRANSPORT_ERR_QUEUE_FULL);
    struct transport_peer_info info;
    assert_true(transport_peer_info(a.t, 2, &info));
    assert_int_equal(info.queue_messages, 4);
    assert_int_equal(info.messages_dropped, 1);
    test_wait_received(&b, 4);

    /* Bytes: appends of 80 + 21 + 300 bytes fit in 1000 only twice. */
    uint8_t data[300] = {0};
    struct cn_entry e = {.index = 1, .term = 1, .data_len = sizeof data, .data = data};
    struct cn_message app = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .entry_count = 1,
                             .entries = &e};
    size_t size = cn_message_encoded_size(&app);
    uint32_t fit = (uint32_t)(1000 / size);
    assert_int_equal(fit, 2);
    for (uint32_t i = 0; i < fit; i++) assert_int_equal(transport_send(a.t, &app), 0);
    assert_int_equal(transport_send(a.t, &app), TRANSPORT_ERR_QUEUE_FULL);
    test_wait_received(&b, 4 + fit);

    /* Errors that are not bounds. */
    struct cn_message stranger = {.type = CN_MSG_HEARTBEAT, .from = 1, .to = 9};
    assert_int_equal(transport_send(a.t, &stranger), TRANSPORT_ERR_UNKNOWN_PEER);
    struct cn_message not_me = {.type = CN_MSG_HEARTBEAT, .from = 2, .to = 2};
    assert_int_equal(transport_send(a.t, &not_me), TRANSPORT_ERR_NOT_SELF);
    struct cn_message unknown_type = {.type = 60, .from = 1, .to = 2};
    assert_int_equal(transport_send(a.t, &unknown_type), TRANSPORT_ERR_ENCODE);

    struct transport_stats s;
    transport_stats(a.t, &s);
    assert_int_equal(s.messages_dropped, 2);
    assert_int_equal(s.messages_sent, 4 + fit);

    /* A peer where nothing listens: queued messages are dropped on the failed connect, the
     * caller hears on_unreachable, and the retries are counted as reconnects. */
    b.port = 1; /* privileged and unused on a test machine: connection refused */
    test_link(&a, &b);
    assert_int_equal(transport_send(a.t, &hb), 0);
    a.unreachable = 0;
    assert_true(test_run_until(&loop, test_unreachable_seen, &a));
    assert_true(transport_peer_info(a.t, 2, &info));
    assert_int_equal(info.queue_messages, 0);
    transport_stats(a.t, &s);
    assert_int_equal(s.messages_dropped, 3);

    /* Removing a peer forgets it. */
    transport_peer_remove(a.t, 2);
    assert_int_equal(transport_send(a.t, &hb), TRANSPORT_ERR_UNKNOWN_PEER);

    test_node_stop(&a);
    test_node_stop(&b);
    test_node_free(&a);
    test_node_free(&b);
    test_loop_close(&loop);
}

/* Stopping from inside on_message, with messages still queued and connections open both
 * ways, closes everything: the loop closes cleanly. */
static void test_stop_in_callback(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a = {0}, b = {0};
    test_node_start(&a, &loop, 1, 0);
    test_node_start(&b, &loop, 2, 0);
    test_link(&a, &b);
    test_link(&b, &a);
    b.stop_on_message = true;
    struct cn_message hb = {.type = CN_MSG_HEARTBEAT, .from = 1, .to = 2};
    for (int i = 0; i < 100; i++) assert_int_equal(transport_send(a.t, &hb), 0);
    struct cn_message back = {.type = CN_MSG_HEARTBEAT, .from = 2, .to = 1};
    assert_int_equal(transport_send(b.t, &back), 0);
    assert_true(test_run_until(&loop, test_node_closed, &b));
    assert_true(b.received >= 1);
    test_node_stop(&a);
    test_node_free(&a);
    test_node_free(&b);
    test_loop_close(&loop);
}

/* ---- throughput ------------------------------------------------------------------------- */

enum { TEST_THROUGHPUT_MESSAGES = 200000, TEST_THROUGHPUT_WINDOW = 20000 };

struct test_pump {
    struct test_node *from;
    struct test_node *to;
    uint64_t sent;
};

/* Keeps at most a window of messages outstanding so the queue bound is never hit. */
static bool test_pump(void *arg)
{
    struct test_pump *p = arg;
    if (p->to->received >= TEST_THROUGHPUT_MESSAGES) return true;
    uint8_t data[64] = {1};
    struct cn_entry e = {.index = 1, .term = 1, .data_len = sizeof data, .data = data};
    struct cn_message m = {.type = CN_MSG_APPEND, .from = 1, .to = 2, .entry_count = 1,
                           .entries = &e, .context = TEST_SEQ_MAX};
    while (p->sent < TEST_THROUGHPUT_MESSAGES && p->sent - p->to->received < TEST_THROUGHPUT_WINDOW) {
        e.index = p->sent + 1;
        assert_int_equal(transport_send(p->from->t, &m), 0);
        p->sent++;
    }
    return false;
}

static void test_throughput(void **state)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct test_node a = {0}, b = {0};
    test_node_start(&a, &loop, 1, 0);
    test_node_start(&b, &loop, 2, 0);
    test_link(&a, &b);
    struct test_pump p = {.from = &a, .to = &b};
    uv_update_time(&loop);
    uint64_t start_ns = uv_hrtime();
    assert_true(test_run_until(&loop, test_pump, &p));
    double seconds = (double)(uv_hrtime() - start_ns) / 1e9;
    printf("throughput: %u append messages (64-byte entry, %zu-byte frames) in %.3f s: "
           "%.0f messages/s, %.1f MB/s\n", TEST_THROUGHPUT_MESSAGES,
           (size_t)(b.received_bytes / b.received), seconds,
           TEST_THROUGHPUT_MESSAGES / seconds, (double)b.received_bytes / seconds / 1e6);
    test_node_stop(&a);
    test_node_stop(&b);
    test_node_free(&a);
    test_node_free(&b);
    test_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_parse),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_exchange_every_shape),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_bad_clients),
        cmocka_unit_test(test_queue_bounds),
        cmocka_unit_test(test_stop_in_callback),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
