/*
 * cluster_cmd.c — `chorus cluster add HOST:PEERPORT`, `chorus cluster remove ID` and
 * `chorus cluster status`; with --wait, add and remove then wait until the rebalancer's moves
 * are done (cluster_moves.c), and status lists the moves in flight as their shards' leaders
 * report them.
 *
 * A change is asked of the leader: a node that is not answers "-TRYAGAIN not the leader: ask
 * node N at HOST:PORT", and the command follows that (at most CLUSTER_CMD_HOPS_MAX times). While
 * another change is in progress the node answers "-TRYAGAIN a membership change is in
 * progress", and the command asks again until its deadline. Once the leader took the change
 * (CLUSTER MEET and FORGET answer OK as soon as it started, as Redis's MEET does), the
 * command follows it in CLUSTER MEMBERS until the leader is idle again, and prints how it
 * ended: "node 4 added as a voter", "node 2 removed", or why it failed (exit 1).
 */
#include "client/cluster_cmd.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cluster_moves.h"
#include "client/reply.h"

enum {
    CLUSTER_CMD_HOPS_MAX = 4,
    CLUSTER_CMD_POLL_MS = 200,
    CLUSTER_CMD_WAIT_MS_DEFAULT = 180000,
    CLUSTER_CMD_BALANCE_WAIT_S_DEFAULT = 3600, /* --wait: moves of a large store take long */
    CLUSTER_CMD_WAIT_S_MAX = 7 * 24 * 3600,
};

void cluster_cmd_usage(FILE *out)
{
    fputs("  cluster add HOST:PEERPORT [--no-wait | --wait] [--wait-timeout S]\n"
          "                                          add a node started with chorusd --join;\n"
          "                                          --wait: then until the moves are done\n"
          "  cluster remove ID [--no-wait | --wait] [--wait-timeout S]\n"
          "                                          remove a node (its replicas move off)\n"
          "  cluster status [--moves]                members, roles, the change in progress,\n"
          "                                          the moves in flight (--moves: only those,\n"
          "                                          as key=value lines)\n"
          "  exit status: 0 done (balanced with --wait), 1 refused or failed, 2 usage or no\n"
          "  answer, 3 not done before the deadline (--wait-timeout, default 3600 s)\n",
          out);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One command on a fresh connection. Returns the reply (free it) or NULL with a message. */
static struct client_reply *call(const struct client_endpoint *endpoint, int timeout_ms,
                                 int argc, const char *const *argv, FILE *err)
{
    struct client_conn conn;
    client_conn_init(&conn);
    struct client_reply *reply = NULL;
    enum client_status status = client_conn_open(&conn, endpoint, timeout_ms);
    if (status == CLIENT_OK)
        status = client_conn_call(&conn, (uint32_t)argc, argv, NULL, timeout_ms, &reply);
    if (status != CLIENT_OK) {
        char address[CLIENT_ADDRESS_BYTES_MAX];
        client_endpoint_format(endpoint, address);
        fprintf(err, "chorus: %s: %s (%s)\n", address, client_status_name(status), conn.error);
        reply = NULL;
    }
    client_conn_destroy(&conn);
    return reply;
}

/* The value of "name:" in CLUSTER MEMBERS' text, copied into out ("" when absent). */
static void field(const char *text, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, "\r\n");
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
}

/* Asks for a change, following the leader and waiting out a change in progress. On success
 * *leader is the node that took it. Returns 0, 1 (refused), 2 (no answer). */
static int ask_change(struct client_endpoint *leader, int timeout_ms, int argc,
                      const char *const *argv, int64_t deadline_ns, FILE *out, FILE *err)
{
    for (int hops = 0;;) {
        struct client_reply *reply = call(leader, timeout_ms, argc, argv, err);
        if (reply == NULL)
            return 2;
        if (reply->type != CLIENT_REPLY_ERROR) {
            client_reply_free(reply);
            return 0;
        }
        const char *text = reply->string;
        const char *ask = strstr(text, " at ");
        if (strncmp(text, "TRYAGAIN not the leader: ask node", 33) == 0 && ask != NULL &&
            hops < CLUSTER_CMD_HOPS_MAX) {
            struct client_endpoint next;
            if (client_endpoint_parse(ask + 4, &next) == 0) {
                fprintf(out, "asking the leader, %s\n", ask + 4);
                *leader = next;
                hops++;
                client_reply_free(reply);
                continue;
            }
        }
        bool retry = strncmp(text, "TRYAGAIN", 8) == 0 && client_now_ns() < deadline_ns;
        if (!retry) {
            fprintf(err, "chorus: (error) %s\n", text);
            client_reply_free(reply);
            return 1;
        }
        client_reply_free(reply);
        sleep_ms(CLUSTER_CMD_POLL_MS);
    }
}

/* Follows the change on the leader until it is idle; prints how it ended. */
static int follow_change(const struct client_endpoint *leader, int timeout_ms, int64_t deadline_ns,
                         FILE *out, FILE *err)
{
    static const char *const members[] = {"CLUSTER", "MEMBERS"};
    char step[64] = "", last[256] = "", seen[64] = "", last_ok[8] = "";
    int misses = 0;
    while (client_now_ns() < deadline_ns) {
        struct client_reply *reply = call(leader, timeout_ms, 2, members, err);
        if (reply == NULL || reply->type != CLIENT_REPLY_BULK) {
            client_reply_free(reply);
            /* The leader may be restarting or stepping down: a few misses are waited out. */
            if (++misses > 25)
                return 2;
            sleep_ms(CLUSTER_CMD_POLL_MS);
            continue;
        }
        misses = 0;
        field(reply->string, "change", step, sizeof(step));
        field(reply->string, "last_change", last, sizeof(last));
        field(reply->string, "last_change_ok", last_ok, sizeof(last_ok));
        client_reply_free(reply);
        if (strcmp(step, seen) != 0 && strcmp(step, "idle") != 0) {
            fprintf(out, "%s\n", step);
            snprintf(seen, sizeof(seen), "%s", step);
        }
        if (strcmp(step, "idle") == 0) {
            /* The leader may have begun its next change of its own (settling a growth's
             * placement, promoting a meta learner) before this poll: its endings count too. */
            /* last_change_ok is the outcome the leader recorded where the change ended; a
             * server older than that field is judged by its text, as before. */
            bool ok = strcmp(last_ok, "1") == 0;
            if (last_ok[0] == '\0')
                ok = strstr(last, "added as a voter") != NULL ||
                     strstr(last, "added (a learner") != NULL ||
                     strstr(last, "already a voter") != NULL || strstr(last, "removed") != NULL ||
                     strstr(last, "the moves are done") != NULL ||
                     strstr(last, "is leaving") != NULL;
            fprintf(ok ? out : err, "%s%s\n", ok ? "" : "chorus: ", last);
            return ok ? 0 : 1;
        }
        sleep_ms(CLUSTER_CMD_POLL_MS);
    }
    fprintf(err, "chorus: the change did not finish in time (last step: %s)\n", step);
    return 3;
}

/* `cluster status [--moves]`: the asked node's CLUSTER MEMBERS, then the moves as every
 * node's leader reports them. */
static int status(const struct client_endpoint *endpoint, int timeout_ms, bool moves_only,
                  FILE *out, FILE *err)
{
    static const char *const members[] = {"CLUSTER", "MEMBERS"};
    if (!moves_only) {
        struct client_reply *reply = call(endpoint, timeout_ms, 2, members, err);
        if (reply == NULL)
            return 2;
        int rv = reply->type == CLIENT_REPLY_BULK ? 0 : 1;
        fprintf(rv == 0 ? out : err, "%s%s", reply->string, rv == 0 ? "" : "\n");
        client_reply_free(reply);
        if (rv != 0)
            return rv;
    }
    struct cluster_moves *moves = malloc(sizeof(*moves));
    if (moves == NULL)
        return 2;
    int rv = cluster_moves_gather(endpoint, timeout_ms, moves, err) == 0 ? 0 : 2;
    if (rv == 0 && moves_only)
        cluster_moves_print_lines(moves, out);
    else if (rv == 0)
        cluster_moves_print_table(moves, out);
    free(moves);
    return rv;
}

int cluster_cmd_run(const struct client_endpoint *endpoint, int timeout_ms, int argc,
                    char **argv, FILE *out, FILE *err)
{
    if (argc < 1) {
        cluster_cmd_usage(err);
        return 2;
    }
    if (strcmp(argv[0], "status") == 0 && argc <= 2) {
        bool moves_only = argc == 2 && strcmp(argv[1], "--moves") == 0;
        if (argc == 2 && !moves_only) {
            fprintf(err, "chorus: cluster status: unknown option %s\n", argv[1]);
            return 2;
        }
        return status(endpoint, timeout_ms, moves_only, out, err);
    }
    bool wait = true, balance = false;
    uint64_t wait_s = 0;
    for (int i = 2; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--no-wait") == 0) {
            wait = false;
        } else if (strcmp(argv[i], "--wait") == 0) {
            balance = true;
        } else if (strcmp(argv[i], "--wait-timeout") == 0 && i + 1 < argc &&
                   argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' &&
                   (wait_s = strtoull(argv[i + 1], &end, 10)) > 0 && *end == '\0' &&
                   wait_s <= CLUSTER_CMD_WAIT_S_MAX) {
            i++;
        } else {
            fprintf(err, "chorus: cluster: unknown option or bad value: %s\n", argv[i]);
            return 2;
        }
    }
    if (balance && !wait) {
        fprintf(err, "chorus: cluster: --wait and --no-wait exclude each other\n");
        return 2;
    }
    if (wait_s == 0)
        wait_s = balance ? CLUSTER_CMD_BALANCE_WAIT_S_DEFAULT : CLUSTER_CMD_WAIT_MS_DEFAULT / 1000;
    int64_t deadline_ns = client_now_ns() + (int64_t)wait_s * 1000000000;
    struct client_endpoint leader = *endpoint;
    struct cluster_wait until = {.deadline_ns = deadline_ns, .tty = isatty(fileno(out)) == 1};
    if (strcmp(argv[0], "add") == 0 && argc >= 2) {
        char host[CLIENT_HOST_BYTES_MAX];
        const char *colon = strrchr(argv[1], ':');
        if (colon == NULL || colon == argv[1] || (size_t)(colon - argv[1]) >= sizeof(host)) {
            fprintf(err, "chorus: cluster add HOST:PEERPORT (the new node's --peer-listen)\n");
            return 2;
        }
        memcpy(host, argv[1], (size_t)(colon - argv[1]));
        host[colon - argv[1]] = '\0';
        const char *meet[] = {"CLUSTER", "MEET", host, colon + 1};
        int rv = ask_change(&leader, timeout_ms, 4, meet, deadline_ns, out, err);
        if (rv != 0 || !wait)
            return rv;
        rv = follow_change(&leader, timeout_ms, deadline_ns, out, err);
        if (rv != 0 || !balance)
            return rv;
        return cluster_moves_wait(&leader, timeout_ms, &until, out, err);
    }
    if (strcmp(argv[0], "remove") == 0 && argc >= 2) {
        const char *forget[] = {"CLUSTER", "FORGET", argv[1]};
        char *end;
        unsigned long id = strtoul(argv[1], &end, 10);
        int rv = ask_change(&leader, timeout_ms, 3, forget, deadline_ns, out, err);
        if (rv != 0 || !wait)
            return rv;
        rv = follow_change(&leader, timeout_ms, deadline_ns, out, err);
        if (rv != 0 || !balance)
            return rv;
        until.removing = true;
        until.target = *end == '\0' && id <= UINT32_MAX ? (uint32_t)id : 0;
        return cluster_moves_wait(&leader, timeout_ms, &until, out, err);
    }
    cluster_cmd_usage(err);
    return 2;
}
