/*
 * test_cluster_reply.c — CLUSTER SLOTS, SHARDS, NODES, INFO and MYID against the bytes Redis
 * 7.0.15 sent for the same layout (captured from a redis-server in cluster mode whose
 * nodes.conf held three masters over 0-5460, 5461-10922, 10923-16383 and one replica of the
 * first; node ids substituted), in RESP2 and RESP3; then what Redis's model cannot say
 * directly (a node leading several shards, an unknown leader, a node leading nothing) and
 * the node ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/cluster_reply.h"

static struct topology_node test_node(uint32_t id)
{
    struct topology_node node = {.id = id, .state = TOPOLOGY_NODE_ACTIVE, .weight = 1};
    snprintf(node.client.host, sizeof(node.client.host), "127.0.0.1");
    node.client.port = (uint16_t)(17000 + id);
    snprintf(node.peer.host, sizeof(node.peer.host), "127.0.0.1");
    node.peer.port = (uint16_t)(18000 + id);
    return node;
}

/* Redis's layout: nodes 1-4; shard 0 = 0-5460 on 1 (replica 4), shard 1 on 2, shard 2 on 3;
 * config epochs 1, 2, 3, current epoch 3. */
static struct topology *test_redis_layout(void)
{
    struct topology *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->cluster_id = 42;
    t->epoch = 3;
    t->replica_count = 2;
    t->vnodes = TOPOLOGY_VNODES_DEFAULT;
    t->node_count = 4;
    for (uint32_t i = 0; i < 4; i++) t->nodes[i] = test_node(i + 1);
    t->shard_count = 3;
    t->shards[0] = (struct topology_shard){.first_slot = 0, .last_slot = 5460, .replica_count = 2,
                                           .config_epoch = 1, .replicas = {1, 4}};
    t->shards[1] = (struct topology_shard){.first_slot = 5461, .last_slot = 10922,
                                           .replica_count = 1, .config_epoch = 2, .replicas = {2}};
    t->shards[2] = (struct topology_shard){.first_slot = 10923, .last_slot = 16383,
                                           .replica_count = 1, .config_epoch = 3, .replicas = {3}};
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
    return t;
}

/* The template with "<N>" replaced by node N's 40-digit id (N one digit). */
static char *test_expand(const struct topology *t, const char *template, size_t *length)
{
    size_t n = strlen(template);
    char *result = malloc(n * 8 + 1);
    assert_non_null(result);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (template[i] == '<' && i + 2 < n && template[i + 2] == '>') {
            cluster_node_name(t->cluster_id, (uint32_t)(template[i + 1] - '0'), result + at);
            at += CLUSTER_NODE_NAME_LENGTH;
            i += 2;
        } else {
            result[at++] = template[i];
        }
    }
    result[at] = '\0';
    *length = at;
    return result;
}

static void test_expect(const struct topology *t, const struct resp_out *out, const char *template)
{
    size_t length;
    char *expected = test_expand(t, template, &length);
    if (out->len != length || memcmp(out->data, expected, length) != 0)
        fail_msg("reply differs:\n got  %.*s\n want %s", (int)out->len, (const char *)out->data, expected);
    free(expected);
}

/* Shards in slot order: Redis sent them in its dictionary's order (0, 2, 1). */
#define TEST_SHARD_NODE(open, id, port, role, health)                                     \
    open "$2\r\nid\r\n$40\r\n" id "\r\n$4\r\nport\r\n:" port "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n" \
    "$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n" role "\r\n$18\r\nreplication-offset\r\n" \
    ":0\r\n$6\r\nhealth\r\n" health "\r\n"

static void test_redis_bytes(void **state)
{
    (void)state;
    struct topology *t = test_redis_layout();
    uint32_t leaders[3] = {1, 2, 3};
    uint64_t offsets[3 * TOPOLOGY_REPLICAS_MAX] = {0}; /* as Redis had them: all 0 */
    struct cluster_view view = {.topology = t, .leaders = leaders, .replication_offsets = offsets,
                                .myself = 1};
    for (int protocol = 2; protocol <= 3; protocol++) {
        const char *empty_map = protocol == 2 ? "*0" : "%0";
        const char *map2 = protocol == 2 ? "*4" : "%2";
        const char *map7 = protocol == 2 ? "*14" : "%7";
        struct resp_out out;
        resp_out_init(&out, 1 << 20, protocol);
        assert_int_equal(cluster_reply_slots(&out, &view), 0);
        char slots[1024];
        snprintf(slots, sizeof(slots),
                 "*3\r\n"
                 "*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n<1>\r\n%s\r\n"
                 "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:17002\r\n$40\r\n<2>\r\n%s\r\n"
                 "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n<3>\r\n%s\r\n",
                 empty_map, empty_map, empty_map);
        test_expect(t, &out, slots);
        out.len = 0;
        assert_int_equal(cluster_reply_shards(&out, &view), 0);
        char shards[4096];
        snprintf(shards, sizeof(shards),
                 "*3\r\n"
                 "%s\r\n$5\r\nslots\r\n*2\r\n:0\r\n:5460\r\n$5\r\nnodes\r\n*2\r\n"
                 TEST_SHARD_NODE("%s\r\n", "<1>", "17001", "$6\r\nmaster", "$6\r\nonline")
                 TEST_SHARD_NODE("%s\r\n", "<4>", "17004", "$7\r\nreplica", "$7\r\nloading")
                 "%s\r\n$5\r\nslots\r\n*2\r\n:5461\r\n:10922\r\n$5\r\nnodes\r\n*1\r\n"
                 TEST_SHARD_NODE("%s\r\n", "<2>", "17002", "$6\r\nmaster", "$6\r\nonline")
                 "%s\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n"
                 TEST_SHARD_NODE("%s\r\n", "<3>", "17003", "$6\r\nmaster", "$6\r\nonline"),
                 map2, map7, map7, map2, map7, map2, map7);
        test_expect(t, &out, shards);
        out.len = 0;
        /* Redis's own line for itself, byte for byte; the other lines differ from its capture
         * only in what chorus prints as constants (ping 0, pong 0, connected). */
        assert_int_equal(cluster_reply_nodes(&out, &view), 0);
        test_expect(t, &out,
                    "$427\r\n"
                    "<1> 127.0.0.1:17001@18001 myself,master - 0 0 1 connected 0-5460\n"
                    "<2> 127.0.0.1:17002@18002 master - 0 0 2 connected 5461-10922\n"
                    "<3> 127.0.0.1:17003@18003 master - 0 0 3 connected 10923-16383\n"
                    "<4> 127.0.0.1:17004@18004 slave <1> 0 0 1 connected\n"
                    "\r\n");
        out.len = 0;
        /* Redis added "cluster_stats_messages_ping_sent:3" (per message type, when not 0);
         * chorus has no Redis message types and prints the totals only. */
        struct cluster_info_stats stats = {.messages_sent = 3, .messages_received = 0};
        assert_int_equal(cluster_reply_info(&out, &view, &stats), 0);
        test_expect(t, &out,
                    "$312\r\n"
                    "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
                    "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:4\r\n"
                    "cluster_size:3\r\ncluster_current_epoch:3\r\ncluster_my_epoch:1\r\n"
                    "cluster_stats_messages_sent:3\r\ncluster_stats_messages_received:0\r\n"
                    "total_cluster_links_buffer_limit_exceeded:0\r\n\r\n");
        out.len = 0;
        assert_int_equal(cluster_reply_myid(&out, &view), 0);
        test_expect(t, &out, "$40\r\n<1>\r\n");
        resp_out_free(&out);
    }
    free(t);
}

/* Replicas that replicated something are listed in CLUSTER SLOTS and online in SHARDS; with
 * no offsets at all every replica is shown; with slots_leaders_only none is. */
static void test_replicas_shown(void **state)
{
    (void)state;
    struct topology *t = test_redis_layout();
    uint32_t leaders[3] = {1, 2, 3};
    uint64_t offsets[3 * TOPOLOGY_REPLICAS_MAX] = {0};
    offsets[0] = 120;
    offsets[1] = 118; /* shard 0's replica, node 4 */
    struct cluster_view view = {.topology = t, .leaders = leaders, .replication_offsets = offsets};
    struct resp_out out;
    resp_out_init(&out, 1 << 20, 2);
    assert_int_equal(cluster_reply_slots(&out, &view), 0);
    test_expect(t, &out,
                "*3\r\n"
                "*4\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n<1>\r\n*0\r\n"
                "*4\r\n$9\r\n127.0.0.1\r\n:17004\r\n$40\r\n<4>\r\n*0\r\n"
                "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:17002\r\n$40\r\n<2>\r\n*0\r\n"
                "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n<3>\r\n*0\r\n");
    out.len = 0;
    assert_int_equal(cluster_reply_shards(&out, &view), 0);
    static const char online[] = ":118\r\n$6\r\nhealth\r\n$6\r\nonline\r\n";
    assert_non_null(memmem(out.data, out.len, online, sizeof(online) - 1));
    out.len = 0;
    view.replication_offsets = NULL;
    assert_int_equal(cluster_reply_slots(&out, &view), 0);
    assert_non_null(memmem(out.data, out.len, ":17004\r\n", 8));
    /* Leaders only: every entry is [first, last, leader]. */
    out.len = 0;
    view.slots_leaders_only = true;
    assert_int_equal(cluster_reply_slots(&out, &view), 0);
    test_expect(t, &out,
                "*3\r\n"
                "*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17001\r\n$40\r\n<1>\r\n*0\r\n"
                "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:17002\r\n$40\r\n<2>\r\n*0\r\n"
                "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17003\r\n$40\r\n<3>\r\n*0\r\n");
    resp_out_free(&out);
    free(t);
}

/* The leader of shard 0 moved to node 4: it becomes a master, node 1 its replica; node 2
 * also leads shard 2 (adjacent ranges are merged only when contiguous); shard 1's leader is
 * unknown: its preferred leader is shown, its slots are pfail, the state is fail. */
static void test_chorus_roles(void **state)
{
    (void)state;
    struct topology *t = test_redis_layout();
    t->shards[1].replica_count = 2;
    t->shards[1].replicas[1] = 3;
    t->shards[2].replica_count = 2;
    t->shards[2].replicas[1] = 2;
    uint32_t leaders[3] = {4, 0, 2};
    struct cluster_view view = {.topology = t, .leaders = leaders, .myself = 3};
    char text[4096];
    size_t length = cluster_nodes_text(&view, text, sizeof(text));
    assert_true(length < sizeof(text));
    char *expected = test_expand(t,
                                 "<1> 127.0.0.1:17001@18001 slave <4> 0 0 1 connected\n"
                                 "<2> 127.0.0.1:17002@18002 master - 0 0 3 connected 5461-16383\n"
                                 "<3> 127.0.0.1:17003@18003 myself,slave <2> 0 0 3 connected\n"
                                 "<4> 127.0.0.1:17004@18004 master - 0 0 1 connected 0-5460\n",
                                 &length);
    assert_int_equal(cluster_nodes_text(&view, text, sizeof(text)), length);
    assert_memory_equal(text, expected, length);
    free(expected);
    /* snprintf's contract: a short buffer gets a prefix, the full length is returned. */
    char small[10];
    assert_int_equal(cluster_nodes_text(&view, small, sizeof(small)), length);
    assert_memory_equal(small, text, sizeof(small));
    /* Without "myself" the text is the same on every node. */
    view.myself = 0;
    char plain[4096];
    size_t plain_length = cluster_nodes_text(&view, plain, sizeof(plain));
    assert_int_equal(plain_length, length - strlen("myself,"));
    assert_null(memmem(plain, plain_length, "myself", 6));
    view.myself = 3;
    length = cluster_info_text(&view, &(struct cluster_info_stats){0}, text, sizeof(text));
    text[length] = '\0';
    assert_non_null(strstr(text, "cluster_state:fail\r\ncluster_slots_assigned:16384\r\n"
                                 "cluster_slots_ok:10922\r\ncluster_slots_pfail:5462\r\n"));
    assert_non_null(strstr(text, "cluster_size:2\r\n"));
    assert_non_null(strstr(text, "cluster_my_epoch:3\r\n")); /* its master's */
    /* A leader that is not a replica of the shard is not believed. */
    leaders[1] = 1;
    length = cluster_info_text(&view, &(struct cluster_info_stats){0}, text, sizeof(text));
    text[length] = '\0';
    assert_non_null(strstr(text, "cluster_slots_pfail:5462\r\n"));
    /* A node holding no replica is a master without slots. */
    t->shards[0].replica_count = 1;
    leaders[0] = 1;
    length = cluster_nodes_text(&view, text, sizeof(text));
    text[length] = '\0';
    char name[CLUSTER_NODE_NAME_LENGTH + 1], line[128];
    cluster_node_name(42, 4, name);
    snprintf(line, sizeof(line), "%s 127.0.0.1:17004@18004 master - 0 0 0 connected\n", name);
    assert_non_null(strstr(text, line));
    free(t);
}

/* A built topology: every slot is owned by exactly one master in CLUSTER NODES, the masters
 * are the nodes that lead, and the output fits the stated bounds. */
static void test_built_topology(void **state)
{
    (void)state;
    struct topology_node nodes[5];
    for (uint32_t i = 0; i < 5; i++) nodes[i] = test_node(i + 1);
    struct topology_build_input input = {.cluster_id = 9, .shard_count = 16, .replica_count = 3,
                                         .node_count = 5, .nodes = nodes};
    struct topology *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_OK);
    uint32_t leaders[16];
    for (uint32_t s = 0; s < 16; s++) leaders[s] = t->shards[s].replicas[0];
    struct cluster_view view = {.topology = t, .leaders = leaders};
    static char text[CLUSTER_NODES_TEXT_BYTES_MAX];
    size_t length = cluster_nodes_text(&view, text, sizeof(text));
    assert_true(length < sizeof(text));
    text[length] = '\0';
    static uint8_t owned[SLOT_COUNT];
    memset(owned, 0, sizeof(owned));
    uint32_t masters = 0, lines = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        if (strstr(line, " master - ") == NULL) continue;
        masters++;
        char *ranges = strstr(line, " connected");
        assert_non_null(ranges);
        ranges += strlen(" connected");
        unsigned first, last;
        int consumed;
        while (sscanf(ranges, " %u-%u%n", &first, &last, &consumed) == 2) {
            for (unsigned slot = first; slot <= last; slot++) owned[slot]++;
            ranges += consumed;
        }
    }
    assert_int_equal(lines, 5);
    assert_int_equal(masters, 5); /* every node leads 3 or 4 of the 16 shards */
    for (uint32_t slot = 0; slot < SLOT_COUNT; slot++) assert_int_equal(owned[slot], 1);
    /* A cap too small for the reply: -1 and the output marked overflowed. */
    struct resp_out out;
    resp_out_init(&out, 64, 2);
    assert_int_equal(cluster_reply_slots(&out, &view), -1);
    assert_true(out.overflowed);
    resp_out_free(&out);
    resp_out_init(&out, 64, 2);
    assert_int_equal(cluster_reply_nodes(&out, &view), -1);
    assert_true(out.overflowed);
    resp_out_free(&out);
    free(t);
}

static void test_node_names(void **state)
{
    (void)state;
    char a[CLUSTER_NODE_NAME_LENGTH + 1], b[CLUSTER_NODE_NAME_LENGTH + 1];
    cluster_node_name(42, 1, a);
    assert_int_equal(strlen(a), 40);
    assert_int_equal(strspn(a, "0123456789abcdef"), 40);
    /* Pinned: clients and operators see these ids, and they must never change. */
    assert_string_equal(a, "52b22c970dda54289b8948b47498819a2525c948");
    cluster_node_name(42, 2, b);
    assert_string_not_equal(a, b);
    cluster_node_name(43, 1, b);
    assert_string_not_equal(a, b);
    cluster_node_name(42, 1, b);
    assert_string_equal(a, b);
}

int main(void)
{
    /* The time limit: the binary takes well under a second; a hang past this is a failure,
     * which SIGALRM's default action (the process ends) reports. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_bytes),
        cmocka_unit_test(test_replicas_shown),
        cmocka_unit_test(test_chorus_roles),
        cmocka_unit_test(test_built_topology),
        cmocka_unit_test(test_node_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
