/*
 * chorus — the command-line client of chorus.
 *
 *   chorus [-h HOST] [-p PORT] [--timeout MS] COMMAND [ARGS...]
 *     get KEY | set KEY VALUE | del KEY... | cas KEY EXPECTED NEW | incr KEY | ping
 *     status [--nodes HOST:PORT,...]
 *     bench [-c CLIENTS] [-n REQUESTS | -t SECONDS] [-d VALUE_BYTES] [-k KEYSPACE]
 *           [--workload set|get|mixed|cas|incr|all|queue|sets] [--read-ratio R] [--nodes LIST]
 *           [--history FILE] [--key-prefix P] [--seed N]
 *     ring --nodes ID[:WEIGHT][@ZONE],... [...]   consistent hashing, shown (no server needed)
 *     cluster add HOST:PEERPORT | cluster remove ID | cluster status   membership change
 *
 * Replies print as redis-cli prints them when not on a terminal, with the type shown:
 * strings plain, (nil), (integer) N, (error) TEXT.
 * Exit status: 0 success, 1 an error reply (status: some node down; bench: no operation
 * succeeded), 2 connection or usage error (status: no node answered).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/bench.h"
#include "client/cluster_cmd.h"
#include "client/conn.h"
#include "client/ring_cmd.h"
#include "client/status.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR_REPLY = 1,
    CLI_EXIT_FAILURE = 2,
    CLI_TIMEOUT_MS_DEFAULT = 5000,
    CLI_PORT_DEFAULT = 7001, /* the first node of `make run` */
};

static void usage(FILE *out)
{
    fputs("usage: chorus [-h HOST] [-p PORT] [--timeout MS] COMMAND [ARGS...]\n"
          "commands:\n"
          "  get KEY | set KEY VALUE | del KEY... | cas KEY EXPECTED NEW | incr KEY | ping\n"
          "  status [--nodes HOST:PORT,...]     one row per member (client addresses: --nodes)\n"
          "  bench [-c CLIENTS] [-n REQUESTS | -t SECONDS] [-d VALUE_BYTES] [-k KEYSPACE]\n"
          "        [--workload set|get|mixed|cas|incr|all|queue|sets] [--read-ratio R]\n"
          "        [--nodes HOST:PORT,...] [--history FILE] [--key-prefix P] [--seed N]\n",
          out);
    ring_cmd_usage(out);
    cluster_cmd_usage(out);
    fputs("defaults: -h 127.0.0.1 -p 7001 --timeout 5000 (bench: 2000 per request)\n"
          "exit: 0 ok, 1 error reply (status: a node is down), 2 connection or usage error\n",
          out);
}

static int usage_error(const char *message, const char *argument)
{
    fprintf(stderr, "chorus: %s%s%s\n", message, argument ? ": " : "", argument ? argument : "");
    usage(stderr);
    return CLI_EXIT_FAILURE;
}

static bool parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max)
        return false;
    *value = v;
    return true;
}

static bool parse_double(const char *text, double min, double max, double *value)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max))
        return false;
    *value = v;
    return true;
}

/* Prints one reply; arrays one level deep (nested ones as a count). Returns the exit status. */
static int print_reply(const struct client_reply *reply)
{
    switch (reply->type) {
    case CLIENT_REPLY_STATUS:
    case CLIENT_REPLY_BULK:
        fwrite(reply->string, 1, reply->length, stdout);
        fputc('\n', stdout);
        return CLI_EXIT_OK;
    case CLIENT_REPLY_ERROR:
        printf("(error) %s\n", reply->string);
        return CLI_EXIT_ERROR_REPLY;
    case CLIENT_REPLY_INTEGER:
        printf("(integer) %" PRId64 "\n", reply->integer);
        return CLI_EXIT_OK;
    case CLIENT_REPLY_NIL:
    case CLIENT_REPLY_NIL_ARRAY:
        printf("(nil)\n");
        return CLI_EXIT_OK;
    case CLIENT_REPLY_ARRAY:
        if (reply->count == 0)
            printf("(empty array)\n");
        for (size_t i = 0; i < reply->count; i++) {
            const struct client_reply *e = &reply->elements[i];
            printf("%zu) ", i + 1);
            if (e->type == CLIENT_REPLY_ARRAY)
                printf("(array of %zu)\n", e->count);
            else
                print_reply(e);
        }
        return CLI_EXIT_OK;
    }
    return CLI_EXIT_FAILURE;
}

/* Sends argv to the node and prints the reply. */
static int run_simple(const struct client_endpoint *endpoint, int timeout_ms, int argc,
                      char **argv)
{
    struct client_conn conn;
    client_conn_init(&conn);
    struct client_reply *reply = NULL;
    char address[CLIENT_ADDRESS_BYTES_MAX];
    client_endpoint_format(endpoint, address);
    enum client_status status = client_conn_open(&conn, endpoint, timeout_ms);
    if (status == CLIENT_OK)
        status = client_conn_call(&conn, (uint32_t)argc, (const char *const *)argv, NULL,
                                  timeout_ms, &reply);
    int rv;
    if (status != CLIENT_OK) {
        fprintf(stderr, "chorus: %s: %s (%s)\n", address, client_status_name(status), conn.error);
        rv = CLI_EXIT_FAILURE;
    } else {
        rv = print_reply(reply);
    }
    client_reply_free(reply);
    client_conn_destroy(&conn);
    return rv;
}

struct simple_command {
    const char *name;
    const char *wire_name;
    int args_min; /* after the name */
    int args_max; /* -1: any */
    const char *synopsis;
};

static const struct simple_command simple_commands[] = {
    {"get", "GET", 1, 1, "get KEY"},
    {"set", "SET", 2, 2, "set KEY VALUE"},
    {"del", "DEL", 1, CLIENT_ARGS_MAX - 1, "del KEY..."},
    {"cas", "CAS", 3, 3, "cas KEY EXPECTED NEW"},
    {"incr", "INCR", 1, 1, "incr KEY"},
    {"ping", "PING", 0, 1, "ping [MESSAGE]"},
};

static int run_status(const struct client_endpoint *endpoint, int timeout_ms, int argc,
                      char **argv)
{
    struct client_endpoint nodes[STATUS_NODES_MAX];
    uint32_t count = 1;
    bool explicit_nodes = false;
    nodes[0] = *endpoint;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
            if (client_endpoint_list_parse(argv[++i], nodes, STATUS_NODES_MAX, &count) != 0)
                return usage_error("bad --nodes list", argv[i]);
            explicit_nodes = true;
        } else {
            return usage_error("unknown status option", argv[i]);
        }
    }
    return status_run(nodes, count, explicit_nodes, timeout_ms, stdout);
}

static int run_bench(const struct client_endpoint *endpoint, int timeout_ms, bool timeout_given,
                     int argc, char **argv)
{
    struct bench_config config;
    bench_config_default(&config);
    config.nodes[0] = *endpoint;
    if (timeout_given)
        config.timeout_ms = timeout_ms;
    for (int i = 0; i < argc; i++) {
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (value == NULL)
            return usage_error("bench option needs a value", option);
        i++;
        if (strcmp(option, "-c") == 0 && parse_u64(value, 1, BENCH_CLIENTS_MAX, &n))
            config.clients = (uint32_t)n;
        else if (strcmp(option, "-n") == 0 && parse_u64(value, 1, UINT64_MAX / 2, &n))
            config.requests = n;
        else if (strcmp(option, "-t") == 0 && parse_double(value, 0.001, 86400, &config.seconds))
            ;
        else if (strcmp(option, "-d") == 0 && parse_u64(value, 0, BENCH_VALUE_BYTES_MAX, &n))
            config.value_bytes = (uint32_t)n;
        else if (strcmp(option, "-k") == 0 && parse_u64(value, 1, BENCH_KEYSPACE_MAX, &n))
            config.keyspace = (uint32_t)n;
        else if (strcmp(option, "--workload") == 0 &&
                 bench_workload_parse(value, &config.workload) == 0)
            ;
        else if (strcmp(option, "--read-ratio") == 0 &&
                 parse_double(value, 0, 1, &config.read_ratio))
            ;
        else if (strcmp(option, "--nodes") == 0 &&
                 client_endpoint_list_parse(value, config.nodes, BENCH_NODES_MAX,
                                            &config.node_count) == 0)
            ;
        else if (strcmp(option, "--history") == 0)
            config.history_path = value;
        else if (strcmp(option, "--key-prefix") == 0 &&
                 strlen(value) <= BENCH_KEY_PREFIX_BYTES_MAX)
            config.key_prefix = value;
        else if (strcmp(option, "--seed") == 0 && parse_u64(value, 0, UINT64_MAX, &n))
            config.seed = n;
        else if (strcmp(option, "--timeout") == 0 && parse_u64(value, 1, 3600000, &n))
            config.timeout_ms = (int)n;
        else
            return usage_error("bad bench option or value", option);
    }
    struct bench_result result;
    if (bench_run(&config, stdout, &result) != 0)
        return CLI_EXIT_FAILURE;
    return result.ok > 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR_REPLY; /* nothing succeeded: say so */
}

int main(int argc, char **argv)
{
    struct client_endpoint endpoint = {.host = "127.0.0.1", .port = CLI_PORT_DEFAULT};
    uint64_t timeout_ms = CLI_TIMEOUT_MS_DEFAULT;
    bool timeout_given = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t port = 0;
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (value == NULL)
            return usage_error("option needs a value", argv[i]);
        if (strcmp(argv[i], "-h") == 0 && strlen(value) < sizeof(endpoint.host))
            strcpy(endpoint.host, value);
        else if (strcmp(argv[i], "-p") == 0 && parse_u64(value, 1, 65535, &port))
            endpoint.port = (uint16_t)port;
        else if (strcmp(argv[i], "--timeout") == 0 && parse_u64(value, 1, 3600000, &timeout_ms))
            timeout_given = true;
        else
            return usage_error("bad option or value", argv[i]);
        i++;
    }
    if (i == argc)
        return usage_error("no command", NULL);
    const char *command = argv[i];
    int rest = argc - i - 1;
    char **rest_argv = argv + i + 1;
    if (strcmp(command, "status") == 0)
        return run_status(&endpoint, (int)timeout_ms, rest, rest_argv);
    if (strcmp(command, "cluster") == 0)
        return cluster_cmd_run(&endpoint, (int)timeout_ms, rest, rest_argv, stdout, stderr);
    if (strcmp(command, "ring") == 0)
        return ring_cmd_run(rest, rest_argv, stdout, stderr);
    if (strcmp(command, "bench") == 0)
        return run_bench(&endpoint, (int)timeout_ms, timeout_given, rest, rest_argv);
    for (size_t c = 0; c < sizeof(simple_commands) / sizeof(simple_commands[0]); c++) {
        const struct simple_command *s = &simple_commands[c];
        if (strcmp(command, s->name) != 0)
            continue;
        if (rest < s->args_min || (s->args_max >= 0 && rest > s->args_max))
            return usage_error("usage", s->synopsis);
        char *wire[CLIENT_ARGS_MAX];
        wire[0] = (char *)s->wire_name;
        for (int a = 0; a < rest; a++)
            wire[a + 1] = rest_argv[a];
        return run_simple(&endpoint, (int)timeout_ms, rest + 1, wire);
    }
    return usage_error("unknown command", command);
}
