/*
 * test_memberbook.c — the address book's codec (net/memberbook.h) and the peer port's probe
 * (net/probe.h): round trips, every short prefix refused, every malformed byte string
 * refused with its error, put/find/remove keeping ids ascending and bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/memberbook.h"
#include "net/probe.h"

static uint8_t bytes[MEMBERBOOK_BYTES_MAX];
static struct memberbook book, back;

static void fill(struct memberbook *b, uint32_t count)
{
    memset(b, 0, sizeof(*b));
    b->cluster_id = 0x1122334455667788ull;
    b->sender = 3;
    b->shards = 1;
    b->replicas = 3;
    b->flags = MEMBERBOOK_FLAG_JOINED;
    for (uint32_t i = 0; i < count; i++) {
        struct memberbook_node n = {.id = count - i};
        snprintf(n.peer, sizeof(n.peer), "127.0.0.1:%u", 8000 + n.id);
        if (n.id % 2)
            snprintf(n.client, sizeof(n.client), "127.0.0.1:%u", 7000 + n.id);
        assert_int_equal(memberbook_put(b, &n), MEMBERBOOK_OK);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    for (uint32_t count = 0; count <= MEMBERBOOK_NODES_MAX; count += 7) {
        fill(&book, count);
        int64_t len = memberbook_encode(&book, bytes, sizeof(bytes));
        assert_true(len >= MEMBERBOOK_HEADER_BYTES);
        assert_int_equal(memberbook_decode(bytes, (size_t)len, &back), MEMBERBOOK_OK);
        assert_int_equal(back.count, count);
        assert_true(back.cluster_id == book.cluster_id);
        assert_int_equal(back.sender, 3);
        assert_int_equal(back.flags, MEMBERBOOK_FLAG_JOINED);
        for (uint32_t i = 0; i < count; i++) {
            assert_int_equal(back.nodes[i].id, i + 1);
            assert_string_equal(back.nodes[i].peer, book.nodes[i].peer);
            assert_string_equal(back.nodes[i].client, book.nodes[i].client);
        }
        /* Every strict prefix is refused, and so is one byte more. */
        for (int64_t cut = 0; cut < len; cut++)
            assert_int_not_equal(memberbook_decode(bytes, (size_t)cut, &back), MEMBERBOOK_OK);
        bytes[len] = 0;
        assert_int_equal(memberbook_decode(bytes, (size_t)len + 1, &back),
                         MEMBERBOOK_ERR_TRAILING);
        /* A buffer one byte short is refused. */
        assert_int_equal(memberbook_encode(&book, bytes, (size_t)len - 1), MEMBERBOOK_ERR_BUFFER);
    }
}

static void test_malformed(void **state)
{
    (void)state;
    fill(&book, 3);
    int64_t len = memberbook_encode(&book, bytes, sizeof(bytes));
    assert_true(len > 0);
    uint8_t copy[MEMBERBOOK_BYTES_MAX];
    struct {
        size_t at;
        uint8_t value;
        int error;
    } cases[] = {
        {0, 'X', MEMBERBOOK_ERR_MAGIC},      {4, 2, MEMBERBOOK_ERR_VERSION},
        {5, 0x80, MEMBERBOOK_ERR_RESERVED},  {6, 1, MEMBERBOOK_ERR_RESERVED},
        {30, 1, MEMBERBOOK_ERR_RESERVED},    {28, 65, MEMBERBOOK_ERR_COUNT},
        {31, 0, MEMBERBOOK_ERR_ID},          /* node 1's id becomes 0 */
        {35, 64, MEMBERBOOK_ERR_ADDRESS},    /* peer length 64 */
        {35, 0, MEMBERBOOK_ERR_ADDRESS},     /* empty peer */
        {36, ' ', MEMBERBOOK_ERR_ADDRESS},   /* a space in the peer */
        {36, 0, MEMBERBOOK_ERR_ADDRESS},     /* a NUL in the peer */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(copy, bytes, (size_t)len);
        copy[cases[i].at] = cases[i].value;
        assert_int_equal(memberbook_decode(copy, (size_t)len, &back), cases[i].error);
    }
    /* Ids out of order: node 2's id made 1. */
    memcpy(copy, bytes, (size_t)len);
    size_t second = 31 + 4 + 1 + strlen(book.nodes[0].peer) + 1 + strlen(book.nodes[0].client);
    copy[second] = 1;
    assert_int_equal(memberbook_decode(copy, (size_t)len, &back), MEMBERBOOK_ERR_ID);
    /* An id above 255. */
    memcpy(copy, bytes, (size_t)len);
    copy[32] = 1;
    assert_int_equal(memberbook_decode(copy, (size_t)len, &back), MEMBERBOOK_ERR_ID);
}

static void test_put_find_remove(void **state)
{
    (void)state;
    memset(&book, 0, sizeof(book));
    struct memberbook_node n = {.id = 5, .peer = "h:1"};
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_OK);
    n.id = 2;
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_OK);
    strcpy(n.peer, "h:2");
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_OK); /* replaces */
    assert_int_equal(book.count, 2);
    assert_int_equal(book.nodes[0].id, 2);
    assert_string_equal(memberbook_find(&book, 2)->peer, "h:2");
    assert_null(memberbook_find(&book, 3));
    n.id = 0;
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_ERR_ID);
    n.id = 256;
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_ERR_ID);
    n.id = 9;
    n.peer[0] = '\0';
    assert_int_equal(memberbook_put(&book, &n), MEMBERBOOK_ERR_ADDRESS);
    memberbook_remove(&book, 2);
    memberbook_remove(&book, 42);
    assert_int_equal(book.count, 1);
    assert_int_equal(book.nodes[0].id, 5);
    fill(&book, MEMBERBOOK_NODES_MAX);
    struct memberbook_node extra = {.id = 200, .peer = "h:3"};
    assert_int_equal(memberbook_put(&book, &extra), MEMBERBOOK_ERR_COUNT);
}

static void test_probe(void **state)
{
    (void)state;
    struct transport_probe p = {.kind = 2, .cluster_id = 0xfeedfacecafebeefull, .sender = 7};
    uint8_t wire[TRANSPORT_PROBE_BYTES];
    transport_probe_encode(&p, wire);
    struct transport_probe q;
    for (size_t cut = 4; cut < TRANSPORT_PROBE_BYTES; cut++)
        assert_int_equal(transport_probe_decode(wire, cut, &q), 0);
    assert_int_equal(transport_probe_decode(wire, sizeof(wire), &q), TRANSPORT_PROBE_BYTES);
    assert_int_equal(q.kind, 2);
    assert_true(q.cluster_id == p.cluster_id);
    assert_int_equal(q.sender, 7);
    wire[6] = 1;
    assert_int_equal(transport_probe_decode(wire, sizeof(wire), &q), -1);
    wire[0] = 'X';
    assert_int_equal(transport_probe_decode(wire, 4, &q), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_put_find_remove),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
