/*
 * test_ring_cmd.c — `chorus ring` (src/client/ring_cmd.c) as a user meets it: the table of
 * shares, the join and leave sections with their moves, jump hash refusing to remove a node
 * in the middle, key lookups, and a clear error with exit status 2 for every bad input.
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

#include "client/ring_cmd.h"

enum { TEST_ARGS_MAX = 24 };

struct test_run {
    int status;
    char *out;
    char *err;
};

/* Runs `chorus ring` with the NULL-terminated arguments, capturing both streams. */
static struct test_run test_ring_cmd(const char *first, ...)
{
    char *argv[TEST_ARGS_MAX];
    int argc = 0;
    va_list args;
    va_start(args, first);
    for (const char *a = first; a != NULL; a = va_arg(args, const char *)) {
        assert_true(argc < TEST_ARGS_MAX);
        argv[argc++] = (char *)a;
    }
    va_end(args);
    struct test_run run = {0};
    size_t out_size = 0, err_size = 0;
    FILE *out = open_memstream(&run.out, &out_size), *err = open_memstream(&run.err, &err_size);
    assert_non_null(out);
    assert_non_null(err);
    run.status = ring_cmd_run(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return run;
}

static void test_run_free(struct test_run *run)
{
    free(run->out);
    free(run->err);
}

static void test_contains(const char *text, const char *fragment)
{
    if (strstr(text, fragment) == NULL) fail_msg("output lacks '%s':\n%s", fragment, text);
}

/* Default ring: every node listed with its share, then a join and a leave with their moves. */
static void test_report(void **unused)
{
    struct test_run run = test_ring_cmd("--nodes", "1@east,2@east,3@west,4@west,5@north,6@north",
                                        "--zones", "--key", "user:42", NULL);
    assert_int_equal(run.status, 0);
    test_contains(run.out, "6 nodes, algorithm vnodes (256 virtual nodes per unit of weight)");
    test_contains(run.out, "64 shards x 3 replicas, no two replicas of a shard in one zone");
    test_contains(run.out, "   3      1 west          19.05%  16.67%");
    test_contains(run.out, "key 'user:42': hash 9fc1e605fa7174aa, owner node 1");
    test_contains(run.out, "if node 7 joins (weight 1, zone -):");
    test_contains(run.out, "(consistent hashing's ideal: 14.29%)");
    test_contains(run.out, "if node 6 leaves:");
    test_contains(run.out, "(consistent hashing's ideal: 16.67%)");
    /* Every move on a leave comes from the leaving node. */
    const char *leave = strstr(run.out, "if node 6 leaves:");
    for (const char *line = strstr(leave, "    shard "); line != NULL; line = strstr(line + 1, "    shard "))
        assert_true(strncmp(strstr(line, ": node "), ": node 6 -> ", 12) == 0);
    assert_string_equal(run.err, "");
    test_run_free(&run);
}

/* Jump hash: the requested removal of a middle node is refused, and says why. */
static void test_jump_refusal(void **unused)
{
    struct test_run run = test_ring_cmd("--nodes", "1,2,3,4", "--algorithm", "jump", "--remove", "2", NULL);
    assert_int_equal(run.status, 0);
    test_contains(run.out, "if node 2 leaves:\n  refused: jump hash can only add or remove nodes at the end");
    test_contains(run.out, "keyspace~");
    test_run_free(&run);
    run = test_ring_cmd("--nodes", "1,2,3,4", "--algorithm", "jump", NULL);
    test_contains(run.out, "if node 4 leaves:\n  keyspace moved: 25.");
    test_run_free(&run);
}

/* Every algorithm runs on a weighted membership, bounded loads without single-key lookups. */
static void test_every_algorithm(void **unused)
{
    static const char *const names[] = {"vnodes", "rendezvous", "maglev", "bounded"};
    for (size_t a = 0; a < 4; a++) {
        struct test_run run = test_ring_cmd("--nodes", "1:2,2,3:3,4", "--algorithm", names[a], "--shards",
                                            "100", "--replicas", "2", "--key", "k", "--add", "9:2@new", NULL);
        assert_int_equal(run.status, 0);
        test_contains(run.out, "100 shards x 2 replicas");
        test_contains(run.out, "if node 9 joins (weight 2, zone new):");
        test_contains(run.out, "(consistent hashing's ideal: 22.22%)");
        if (a == 3) test_contains(run.out, "key 'k': bounded loads places a whole batch at once");
        test_run_free(&run);
    }
}

static void test_usage_error(const char *fragment, const char *first, ...)
{
    char *argv[TEST_ARGS_MAX];
    int argc = 0;
    va_list args;
    va_start(args, first);
    for (const char *a = first; a != NULL; a = va_arg(args, const char *)) argv[argc++] = (char *)a;
    va_end(args);
    char *out_text = NULL, *err_text = NULL;
    size_t out_size = 0, err_size = 0;
    FILE *out = open_memstream(&out_text, &out_size), *err = open_memstream(&err_text, &err_size);
    int status = ring_cmd_run(argc, argv, out, err);
    fclose(out);
    fclose(err);
    assert_int_equal(status, 2);
    test_contains(err_text, fragment);
    free(out_text);
    free(err_text);
}

/* Bad input: a sentence naming the problem on standard error, exit status 2, no crash. */
static void test_bad_input(void **unused)
{
    test_usage_error("--nodes is required", "--shards", "4", NULL);
    test_usage_error("bad --nodes: node 'x': expected a decimal id", "--nodes", "1,x", NULL);
    test_usage_error("unknown algorithm: ketama", "--nodes", "1", "--algorithm", "ketama", NULL);
    test_usage_error("bad option or value: --vnodes", "--nodes", "1", "--vnodes", "0", NULL);
    test_usage_error("option needs a value: --shards", "--nodes", "1", "--shards", NULL);
    test_usage_error("replicas must be 1 to 16", "--nodes", "1,2", "--replicas", "3", NULL);
    test_usage_error("the Maglev table size must be a prime", "--nodes", "1,2", "--algorithm", "maglev",
                     "--table", "65536", NULL);
    test_usage_error("jump hash has no weights", "--nodes", "1:2,2", "--algorithm", "jump", NULL);
    test_usage_error("--remove: no such node: 9", "--nodes", "1,2,3", "--remove", "9", NULL);
    test_usage_error("bad --add: node 2 appears twice", "--nodes", "1,2,3", "--add", "2", NULL);
    test_usage_error("--epsilon must be 0.001 to 10", "--nodes", "1", "--algorithm", "bounded", "--epsilon",
                     "0", NULL);
    test_usage_error("fewer zones than replicas", "--nodes", "1@a,2@a,3@b", "--zones", NULL);
}

int main(void)
{
    /* The time limit: the whole binary takes about a second (three under ASan); a hang past
     * this is a failure, which SIGALRM's default action (the process ends) reports. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_jump_refusal),
        cmocka_unit_test(test_every_algorithm),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
