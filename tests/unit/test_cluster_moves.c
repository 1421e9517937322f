/*
 * test_cluster_moves.c — how `chorus cluster status` reads the moves out of CLUSTER MEMBERS
 * (src/client/cluster_moves.h): the counts, the book and the move lines of one node's text, a
 * malformed move line skipped, the progress of a move taken only from the node that says it
 * leads the shard (a stale "leader=" of another node is not), and the merged key=value lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/cluster_moves.h"

static const char ASKED[] =
    "myself:1\r\nremoved:0\r\ntopology_epoch:3\r\ntopology_nodes:4\r\ntopology_joining:1\r\n"
    "topology_leaving:0\r\nrole:leader\r\nchange:idle\r\nrebalance_moves:3\r\n"
    "rebalance_snapshot_bytes_sent:1000\r\nshard_0:replicas=1,2,3\r\n"
    "move:shard=3,from=1,to=4,state=runnable\r\n"
    "move:shard=4,from=1,to=4,state=waiting\r\n"
    "move:shard=x,from=1,to=4,state=waiting\r\n"
    "move:shard=5,from=2,to=4,state=waiting,leader=1,snapshot_sent=0,snapshot_total=0,"
    "snapshot_streamed=0,rate=0,eta_ms=-1\r\n"
    "node1:peer=127.0.0.1:8001,client=127.0.0.1:7001,role=voter\r\n"
    "node4:peer=127.0.0.1:8004,client=?,role=learner\r\n";

static const char LEADER_OF_3[] =
    "myself:3\r\nremoved:0\r\nchange:idle\r\nrebalance_moves:3\r\n"
    "rebalance_snapshot_bytes_sent:70000\r\n"
    "move:shard=3,from=1,to=4,state=sending-snapshot,leader=3,snapshot_sent=71253,"
    "snapshot_total=160680,snapshot_streamed=80000,rate=65520,eta_ms=1365\r\n"
    "move:shard=4,from=1,to=4,state=waiting,leader=2,snapshot_sent=5,snapshot_total=9,"
    "snapshot_streamed=5,rate=1,eta_ms=4000\r\n";

static void parses_one_node(void **state)
{
    (void)state;
    struct cluster_moves *m = malloc(sizeof(*m));
    assert_non_null(m);
    cluster_moves_parse(ASKED, m);
    assert_true(m->sharded);
    assert_false(m->removed);
    assert_int_equal(m->myself, 1);
    assert_int_equal(m->planned, 3);
    assert_int_equal(m->joining, 1);
    assert_string_equal(m->change, "idle");
    assert_int_equal(m->snapshot_bytes_sent, 1000);
    assert_int_equal(m->count, 3); /* the malformed line is skipped */
    assert_int_equal(m->moves[0].shard, 3);
    assert_string_equal(m->moves[0].state, "runnable");
    assert_int_equal(m->moves[0].leader, 0);
    assert_int_equal(m->moves[0].eta_ms, -1);
    assert_int_equal(m->moves[2].shard, 5);
    assert_int_equal(m->moves[2].leader, 1);
    assert_int_equal(m->node_count, 2);
    assert_int_equal(m->nodes[0].id, 1);
    assert_string_equal(m->nodes[0].client, "127.0.0.1:7001");
    assert_string_equal(m->nodes[0].role, "voter");
    assert_int_equal(m->nodes[1].id, 4);
    assert_string_equal(m->nodes[1].client, ""); /* "?": unknown */
    struct cluster_moves *none = malloc(sizeof(*none));
    assert_non_null(none);
    cluster_moves_parse("myself:1\r\nremoved:1\r\nchange:idle\r\n", none);
    assert_false(none->sharded);
    assert_true(none->removed);
    assert_int_equal(none->count, 0);
    free(none);
    free(m);
}

static void merges_the_leaders_view_only(void **state)
{
    (void)state;
    struct cluster_moves *m = malloc(sizeof(*m));
    struct cluster_moves *v = malloc(sizeof(*v));
    assert_non_null(m);
    assert_non_null(v);
    cluster_moves_parse(ASKED, m);
    cluster_moves_parse(LEADER_OF_3, v);
    cluster_moves_merge_leader_view(m, v);
    const struct cluster_move_view *s3 = &m->moves[0];
    assert_int_equal(s3->leader, 3);
    assert_string_equal(s3->state, "sending-snapshot");
    assert_int_equal(s3->sent_bytes, 71253);
    assert_int_equal(s3->total_bytes, 160680);
    assert_int_equal(s3->streamed_bytes, 80000);
    assert_int_equal(s3->rate_bytes_per_s, 65520);
    assert_int_equal(s3->eta_ms, 1365);
    /* Node 3 repeats a line of node 2's: not its own, not taken. */
    assert_int_equal(m->moves[1].leader, 0);
    assert_string_equal(m->moves[1].state, "waiting");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    cluster_moves_print_lines(m, out);
    fclose(out);
    assert_non_null(strstr(text, "move:shard=3,from=1,to=4,state=sending-snapshot,leader=3,"
                                 "snapshot_sent=71253,snapshot_total=160680,"
                                 "snapshot_streamed=80000,rate=65520,eta_ms=1365\n"));
    assert_non_null(strstr(text, "move:shard=4,from=1,to=4,state=waiting,leader=0,"));
    free(text);
    free(v);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_one_node),
        cmocka_unit_test(merges_the_leaders_view_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
