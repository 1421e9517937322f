/*
 * chorus-sim — the deterministic simulator's command line.
 *
 *   chorus-sim --protocol raft --seeds N [--start S] [--nodes 3|5] [--groups G] [--faults LIST]
 *              [--duration-ms D] [--jobs J] [--storage mem|wal] [--plant BUG] [--verbose]
 *   chorus-sim --protocol raft --seed S [--trace] [--trace-html FILE]
 *   chorus-sim --compare --seeds N [--start S] [--nodes 3|5] [--faults LIST] [--duration-ms D]
 *              [--jobs J]
 *
 * --compare runs every seed on raft and then on paxos and prints one markdown table of what
 * src/sim/compare.c measures (latency, messages, bytes, persistence steps, leader recovery,
 * throughput with the leader isolated), then one line
 *   compare: seeds N, nodes K, faults F, duration_ms D, violations V, elapsed_s T
 * Its --duration-ms defaults to 8000 (the first 3000 ms are the fixed script).
 *
 * --storage wal persists through the real WAL over a simulated file system that tears unsynced
 * writes at crashes (Multi-Paxos in per-slot mode); mem (the default) uses the simulator's own
 * disk.
 *
 * --groups G (1..16, default 1) runs G consensus groups on the same nodes, each node hosting a
 * replica of every group, one disk (one WAL) per node shared by its groups; the clients' keys
 * are spread over the groups by slot, as a sharded node spreads them. Invariants hold per
 * group; the per-seed line then counts the groups in which client operations returned.
 *
 * --plant BUG runs with a bug planted in the simulated node, to show that the checks catch it
 * (every seed should fail): cross-apply (node 1 applies group 1's entries to group 0's state
 * machine) or early-ack (with --storage wal: one group of a batch is acknowledged before the
 * batch's shared sync), both with --groups 2 or more; or wall-stamp (a leader stamps its
 * entries' log time with its jumping wall clock as it reads) or ignore-deadline (reads return
 * keys whose time to live has passed): docs/expiry.md; or own-seed (with --kv-store: node 2
 * draws its own seed for SPOP, SRANDMEMBER, HRANDFIELD and ZRANDMEMBER).
 *
 * --kv-store gives every replica the real state machine too (src/storage, src/sim/kvstore.c):
 * a third of the client commands are hash, list, set and sorted set commands, random ones
 * with the proposer's seed; at every applied index the replicas' real stores (every record,
 * byte for byte) and the results their commands gave must be the same, and again at the
 * seed's end. No snapshots are taken in this mode, and it takes no --membership.
 *
 * --membership starts every group with nodes 1-3 as its voters (the others join with an
 * empty configuration) and changes members at random during the faults: learners added,
 * promoted, demoted and removed, voters removed and replaced (src/sim/membership.c). With
 * Raft, elections and commits are then checked against the configuration they happened in;
 * with Multi-Paxos (alpha = 8), every applied value against the configuration governing its
 * slot.
 *
 * --trace-html FILE (with --seed S) writes the seed's timeline as one self-contained HTML page
 * (src/sim/trace_html.h): nodes as lanes, messages as arrows, faults, leaders, applies and the
 * client operations, and the violation with the operations the checker names when it fails.
 *
 * Runs seeds S..S+N-1 and ends with exactly one summary line:
 *   seeds: N, violations: V, commits: C, elections: E, elapsed_s: T
 * Every failing seed is printed with its violation and the command that replays it. Exits 1
 * when V > 0, 2 on a usage error or when the simulator itself fails.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

enum { SIM_CMD_JOBS_MAX = 64 };

struct sim_cmd {
    struct sim_options options;
    const char *faults_text;
    const char *plant_text; /* --plant's name, or NULL */
    const char *trace_html_path; /* --trace-html's file, or NULL */
    uint64_t start;
    uint64_t seeds;
    uint32_t jobs;
    bool verbose;
    bool compare;
    bool have_seeds, have_seed, have_duration;
};

/* Totals over the seeds one process ran; children send theirs to the parent through a pipe. */
struct sim_totals {
    uint64_t seeds, violations, commits, elections, ticks, crashes, events, messages, ops,
        ops_unknown, lincheck_unknown, snapshots_installed, sim_failures, torn_writes,
        wal_torn_tails, groups_with_ops, groups_committed, beat_records, beat_messages,
        membership_changes, membership_completed, kv_commands, kv_compared;
};

static void sim_cmd_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus-sim --protocol NAME (--seeds N [--start S] |\n"
            "                  --seed S [--trace] [--trace-html FILE])\n"
            "                  [--nodes 3|5] [--groups G] [--faults LIST] [--duration-ms D]\n"
            "                  [--jobs J] [--storage mem|wal] [--lincheck-timeout-s T]\n"
            "                  [--plant cross-apply|early-ack|wall-stamp|ignore-deadline|own-seed]\n"
            "                  [--membership] [--kv-store] [--verbose]\n"
            "       chorus-sim --compare --seeds N [--start S] [--nodes 3|5] [--faults LIST]\n"
            "                  [--duration-ms D] [--jobs J]\n"
            "faults: %s\n", sim_fault_names());
}

static int sim_cmd_number(const char *text, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return -1;
    *value = v;
    return 0;
}

/* Prints "chorus-sim: <message>" and returns -1, for the parser's error paths. */
static int sim_cmd_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int sim_cmd_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("chorus-sim: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return -1;
}

/* The options: name, whether a value follows, whether that value is a number. */
struct sim_cmd_option {
    const char *name;
    bool takes_value;
    bool numeric;
};

static const struct sim_cmd_option sim_cmd_options[] = {
    {"--protocol", true, false}, {"--seeds", true, true},     {"--start", true, true},
    {"--seed", true, true},      {"--nodes", true, true},     {"--faults", true, false},
    {"--duration-ms", true, true}, {"--jobs", true, true},    {"--lincheck-timeout-s", true, false},
    {"--storage", true, false},  {"--trace", false, false},   {"--verbose", false, false},
    {"--help", false, false},    {"--compare", false, false}, {"--groups", true, true},
    {"--plant", true, false},    {"--trace-html", true, false},
    {"--membership", false, false}, {"--kv-store", false, false},
};

static const struct sim_cmd_option *sim_cmd_option_find(const char *arg)
{
    for (size_t i = 0; i < sizeof(sim_cmd_options) / sizeof(sim_cmd_options[0]); i++)
        if (strcmp(arg, sim_cmd_options[i].name) == 0) return &sim_cmd_options[i];
    return NULL;
}

/* Applies one option with its (validated) value. Returns 0, or -1 after printing why not. */
static int sim_cmd_apply(struct sim_cmd *cmd, const char *arg, const char *value,
                         uint64_t number)
{
    if (strcmp(arg, "--protocol") == 0) {
        cmd->options.protocol = value;
    } else if (strcmp(arg, "--seeds") == 0) {
        cmd->seeds = number;
        cmd->have_seeds = true;
    } else if (strcmp(arg, "--start") == 0) {
        cmd->start = number;
    } else if (strcmp(arg, "--seed") == 0) {
        cmd->start = number;
        cmd->seeds = 1;
        cmd->have_seed = true;
    } else if (strcmp(arg, "--nodes") == 0) {
        if (number != 3 && number != 5) return sim_cmd_error("--nodes must be 3 or 5");
        cmd->options.node_count = (uint32_t)number;
    } else if (strcmp(arg, "--faults") == 0) {
        if (sim_faults_parse(value, &cmd->options.faults) != 0)
            return sim_cmd_error("--faults: unknown fault in '%s'", value);
        cmd->faults_text = value;
    } else if (strcmp(arg, "--duration-ms") == 0) {
        if (number < 1 || number > SIM_DURATION_MS_MAX)
            return sim_cmd_error("--duration-ms must be 1..%d", SIM_DURATION_MS_MAX);
        cmd->options.duration_ms = (int64_t)number;
        cmd->have_duration = true;
    } else if (strcmp(arg, "--jobs") == 0) {
        if (number < 1 || number > SIM_CMD_JOBS_MAX)
            return sim_cmd_error("--jobs must be 1..%d", SIM_CMD_JOBS_MAX);
        cmd->jobs = (uint32_t)number;
    } else if (strcmp(arg, "--lincheck-timeout-s") == 0) {
        char *end = NULL;
        double t = strtod(value, &end);
        if (end == value || *end != '\0' || !(t > 0 && t <= 3600))
            return sim_cmd_error("--lincheck-timeout-s must be in (0, 3600]");
        cmd->options.lincheck_timeout_s = t;
    } else if (strcmp(arg, "--storage") == 0) {
        if (strcmp(value, "mem") == 0)
            cmd->options.storage = SIM_STORAGE_MEM;
        else if (strcmp(value, "wal") == 0)
            cmd->options.storage = SIM_STORAGE_WAL;
        else
            return sim_cmd_error("--storage must be mem or wal");
    } else if (strcmp(arg, "--groups") == 0) {
        if (number < 1 || number > SIM_GROUPS_MAX)
            return sim_cmd_error("--groups must be 1..%d", SIM_GROUPS_MAX);
        cmd->options.group_count = (uint32_t)number;
    } else if (strcmp(arg, "--plant") == 0) {
        if (strcmp(value, "cross-apply") == 0)
            cmd->options.plant = SIM_PLANT_CROSS_APPLY;
        else if (strcmp(value, "early-ack") == 0)
            cmd->options.plant = SIM_PLANT_EARLY_ACK;
        else if (strcmp(value, "wall-stamp") == 0)
            cmd->options.plant = SIM_PLANT_WALL_STAMP;
        else if (strcmp(value, "ignore-deadline") == 0)
            cmd->options.plant = SIM_PLANT_IGNORE_DEADLINE;
        else if (strcmp(value, "own-seed") == 0)
            cmd->options.plant = SIM_PLANT_OWN_SEED;
        else
            return sim_cmd_error("--plant must be cross-apply, early-ack, wall-stamp, "
                                 "ignore-deadline or own-seed");
        cmd->plant_text = value;
    } else if (strcmp(arg, "--membership") == 0) {
        cmd->options.membership = true;
    } else if (strcmp(arg, "--kv-store") == 0) {
        cmd->options.kv_store = true;
    } else if (strcmp(arg, "--trace") == 0) {
        cmd->options.trace = stdout;
    } else if (strcmp(arg, "--trace-html") == 0) {
        cmd->trace_html_path = value;
    } else if (strcmp(arg, "--verbose") == 0) {
        cmd->verbose = true;
    } else if (strcmp(arg, "--compare") == 0) {
        cmd->compare = true;
    } else {
        assert(strcmp(arg, "--help") == 0);
        sim_cmd_usage(stdout);
        exit(0);
    }
    return 0;
}

/* Parses argv into cmd. Returns 0, or -1 after printing what is wrong. */
static int sim_cmd_parse(int argc, char **argv, struct sim_cmd *cmd)
{
    sim_options_defaults(&cmd->options);
    cmd->faults_text = "all";
    cmd->seeds = 1;
    cmd->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const struct sim_cmd_option *option = sim_cmd_option_find(argv[i]);
        if (option == NULL) return sim_cmd_error("unknown option %s", argv[i]);
        const char *value = NULL;
        uint64_t number = 0;
        if (option->takes_value) {
            if (i + 1 >= argc) return sim_cmd_error("%s needs a value", argv[i]);
            value = argv[++i];
            if (option->numeric && sim_cmd_number(value, &number) != 0)
                return sim_cmd_error("%s: '%s' is not a number", option->name, value);
        }
        if (sim_cmd_apply(cmd, option->name, value, number) != 0) return -1;
    }
    if (cmd->have_seed && cmd->have_seeds)
        return sim_cmd_error("give --seed or --seeds, not both");
    if (cmd->seeds == 0 || cmd->seeds - 1 > UINT64_MAX - cmd->start)
        return sim_cmd_error("--seeds must be >= 1 (and S+N-1 must fit in 64 bits)");
    if (cmd->options.trace != NULL && cmd->seeds != 1)
        return sim_cmd_error("--trace replays one seed: use --seed S");
    /* One page draws one seed: --seeds 1 would do as well, but the page is a seed's replay. */
    if (cmd->trace_html_path != NULL && (!cmd->have_seed || cmd->compare))
        return sim_cmd_error("--trace-html draws one seed: use --seed S (not --seeds, not "
                             "--compare)");
    if (cmd->compare && (cmd->options.trace != NULL || cmd->options.storage != SIM_STORAGE_MEM))
        return sim_cmd_error("--compare takes neither --trace nor --storage");
    if (cmd->compare && (cmd->options.group_count != 1 || cmd->plant_text != NULL))
        return sim_cmd_error("--compare takes neither --groups nor --plant");
    if (cmd->options.plant == SIM_PLANT_OWN_SEED && !cmd->options.kv_store)
        return sim_cmd_error("--plant own-seed needs --kv-store");
    if (cmd->options.kv_store && cmd->options.membership)
        return sim_cmd_error("--kv-store takes no --membership");
    if (cmd->plant_text != NULL && cmd->options.plant != SIM_PLANT_WALL_STAMP &&
        cmd->options.plant != SIM_PLANT_IGNORE_DEADLINE &&
        cmd->options.plant != SIM_PLANT_OWN_SEED && cmd->options.group_count < 2)
        return sim_cmd_error("--plant needs --groups 2 or more");
    if (cmd->options.plant == SIM_PLANT_EARLY_ACK && cmd->options.storage != SIM_STORAGE_WAL)
        return sim_cmd_error("--plant early-ack needs --storage wal");
    if (cmd->options.membership && cmd->compare)
        return sim_cmd_error("--membership does not run with --compare");
    if (cmd->compare && !cmd->have_duration) cmd->options.duration_ms = 8000;
    if (cmd->compare && cmd->options.duration_ms <= SIM_COMPARE_PARTITION_US_END / 1000)
        return sim_cmd_error("--compare needs --duration-ms above %d",
                             SIM_COMPARE_PARTITION_US_END / 1000);
    return 0;
}

/* The seed being run, for the crash handler: a core's failed assertion (or a fault) must still
 * name the seed that reproduces it. */
static volatile sig_atomic_t sim_cmd_running;
static uint64_t sim_cmd_seed_now;
static char sim_cmd_replay_options[320]; /* " --nodes N --faults F ... --trace\n" */

/* Appends text to buf[at..size-1), keeping room for nothing else; returns the new length. */
static size_t sim_cmd_append(char *buf, size_t at, size_t size, const char *text)
{
    for (size_t i = 0; text[i] != '\0' && at < size - 1; i++) buf[at++] = text[i];
    return at;
}

/* Async-signal-safe: formats the seed by hand and write()s it, then dies of the signal. */
static void sim_cmd_on_fatal(int signal_number)
{
    if (sim_cmd_running) {
        char seed[24], digits[24];
        int n = 0;
        uint64_t v = sim_cmd_seed_now;
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v > 0 && n < (int)sizeof(digits));
        int k = 0;
        while (n > 0) seed[k++] = digits[--n];
        seed[k] = '\0';
        char text[512];
        size_t at = sim_cmd_append(text, 0, sizeof(text), "seed ");
        at = sim_cmd_append(text, at, sizeof(text), seed);
        at = sim_cmd_append(text, at, sizeof(text),
                            ": VIOLATION crash: the process died of a signal (an assertion?)\n"
                            "  replay: chorus-sim --seed ");
        at = sim_cmd_append(text, at, sizeof(text), seed);
        at = sim_cmd_append(text, at, sizeof(text), sim_cmd_replay_options);
        ssize_t ignored = write(STDOUT_FILENO, text, at);
        (void)ignored; /* nothing to do about a failed write while dying */
    }
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

/* The replay options after the seed that name the groups and the plant, when not defaults
 * (a one-group run's replay line stays what it always was). */
static void sim_cmd_groups_text(const struct sim_cmd *cmd, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *membership = cmd->options.membership ? " --membership"
                             : cmd->options.kv_store ? " --kv-store" : "";
    if (cmd->options.group_count == 1) {
        snprintf(buf, size, "%s", membership);
        return;
    }
    snprintf(buf, size, " --groups %u%s%s%s", cmd->options.group_count,
             cmd->plant_text != NULL ? " --plant " : "",
             cmd->plant_text != NULL ? cmd->plant_text : "", membership);
}

static void sim_cmd_report_failure(const struct sim_cmd *cmd, const struct sim_seed_result *r)
{
    char groups[64];
    sim_cmd_groups_text(cmd, groups, sizeof(groups));
    printf("seed %" PRIu64 ": VIOLATION %s\n", r->seed, r->message);
    printf("  replay: chorus-sim --protocol %s --seed %" PRIu64 " --nodes %u%s --faults %s"
           " --duration-ms %" PRId64 " --storage %s --trace\n", cmd->options.protocol, r->seed,
           cmd->options.node_count, groups, cmd->faults_text, cmd->options.duration_ms,
           cmd->options.storage == SIM_STORAGE_WAL ? "wal" : "mem");
    fflush(stdout);
}

/* Runs every seed s in [start, start+seeds) with (s - start) % jobs == job. */
static int sim_cmd_run(const struct sim_cmd *cmd, uint32_t job, struct sim_totals *totals)
{
    char error[256];
    struct sim *sim = NULL;
    if (sim_create(&cmd->options, &sim, error, sizeof(error)) != 0) {
        fprintf(stderr, "chorus-sim: %s\n", error);
        return -1;
    }
    memset(totals, 0, sizeof(*totals));
    for (uint64_t i = job; i < cmd->seeds; i += cmd->jobs) {
        struct sim_seed_result r;
        sim_cmd_seed_now = cmd->start + i;
        sim_cmd_running = 1;
        int rc = sim_run_seed(sim, cmd->start + i, &r);
        sim_cmd_running = 0;
        if (rc != 0) {
            fprintf(stderr, "chorus-sim: seed %" PRIu64 ": %s\n", cmd->start + i, r.message);
            totals->sim_failures++;
            continue;
        }
        totals->seeds++;
        totals->violations += r.violation;
        totals->commits += r.commits;
        totals->elections += r.elections;
        totals->ticks += r.ticks;
        totals->crashes += r.crashes;
        totals->events += r.events;
        totals->messages += r.messages;
        totals->ops += r.ops;
        totals->ops_unknown += r.ops_unknown;
        totals->lincheck_unknown += r.lincheck_unknown;
        totals->snapshots_installed += r.snapshots_installed;
        totals->torn_writes += r.torn_writes;
        totals->wal_torn_tails += r.wal_torn_tails;
        totals->groups_with_ops += r.groups_with_ops;
        totals->groups_committed += r.groups_committed;
        totals->beat_records += r.beat_records;
        totals->beat_messages += r.beat_messages;
        totals->membership_changes += r.membership_changes;
        totals->membership_completed += r.membership_completed;
        totals->kv_commands += r.kv_commands;
        totals->kv_compared += r.kv_compared;
        if (cmd->verbose) {
            char groups[64] = "";
            if (cmd->options.group_count > 1)
                snprintf(groups, sizeof(groups), ", groups with ops %" PRIu64 ", committed %"
                         PRIu64, r.groups_with_ops, r.groups_committed);
            printf("seed %" PRIu64 ": ticks %" PRIu64 ", commits %" PRIu64 ", elections %" PRIu64
                   ", crashes %" PRIu64 ", ops %" PRIu64 " (%" PRIu64 " unknown), messages %"
                   PRIu64 ", events %" PRIu64 ", snapshots installed %" PRIu64 "%s%s\n", r.seed,
                   r.ticks, r.commits, r.elections, r.crashes, r.ops, r.ops_unknown, r.messages,
                   r.events, r.snapshots_installed, groups, r.violation ? ", VIOLATION" : "");
            fflush(stdout);
        }
        if (r.violation) sim_cmd_report_failure(cmd, &r);
    }
    sim_destroy(sim);
    return 0;
}

static void sim_totals_add(struct sim_totals *into, const struct sim_totals *t)
{
    const uint64_t *from = (const uint64_t *)t;
    uint64_t *to = (uint64_t *)into;
    for (size_t i = 0; i < sizeof(*t) / sizeof(uint64_t); i++) to[i] += from[i];
}

/* Forks one process per job; each writes its totals to its pipe when done. */
static int sim_cmd_run_jobs(const struct sim_cmd *cmd, struct sim_totals *totals)
{
    int fds[SIM_CMD_JOBS_MAX];
    pid_t pids[SIM_CMD_JOBS_MAX];
    fflush(stdout);
    for (uint32_t j = 0; j < cmd->jobs; j++) {
        int pipefd[2];
        if (pipe(pipefd) != 0) return -1;
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            close(pipefd[0]);
            struct sim_totals mine;
            int rc = sim_cmd_run(cmd, j, &mine);
            ssize_t n = rc == 0 ? write(pipefd[1], &mine, sizeof(mine)) : -1;
            fflush(stdout);
            _exit(n == (ssize_t)sizeof(mine) ? 0 : 2);
        }
        close(pipefd[1]);
        fds[j] = pipefd[0];
        pids[j] = pid;
    }
    int rc = 0;
    for (uint32_t j = 0; j < cmd->jobs; j++) {
        struct sim_totals part;
        ssize_t n = read(fds[j], &part, sizeof(part));
        close(fds[j]);
        int status = 0;
        waitpid(pids[j], &status, 0);
        if (n != (ssize_t)sizeof(part) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "chorus-sim: job %u failed\n", j);
            rc = -1;
            continue;
        }
        sim_totals_add(totals, &part);
    }
    return rc;
}

/* --compare: the protocols every seed runs on, in this order. */
enum { SIM_COMPARE_PROTOCOLS = 2 };
static const char *const sim_compare_protocols[SIM_COMPARE_PROTOCOLS] = {"raft", "paxos"};

/* Runs every seed s in [start, start+seeds) with (s - start) % jobs == job on each protocol,
 * adding to stats[protocol]. Returns 0, or -1 when the simulator itself failed. */
static int sim_cmd_compare_run(const struct sim_cmd *cmd, uint32_t job, struct sim_stats *stats)
{
    struct sim *sims[SIM_COMPARE_PROTOCOLS] = {NULL};
    int rc = 0;
    for (uint32_t p = 0; p < SIM_COMPARE_PROTOCOLS; p++) {
        char error[256];
        struct sim_options options = cmd->options;
        options.protocol = sim_compare_protocols[p];
        options.stats = &stats[p];
        options.report = NULL;
        if (sim_create(&options, &sims[p], error, sizeof(error)) != 0) {
            fprintf(stderr, "chorus-sim: %s\n", error);
            rc = -1;
            goto out;
        }
    }
    for (uint64_t i = job; i < cmd->seeds; i += cmd->jobs) {
        uint64_t seed = cmd->start + i;
        for (uint32_t p = 0; p < SIM_COMPARE_PROTOCOLS; p++) {
            struct sim_seed_result r;
            snprintf(sim_cmd_replay_options, sizeof(sim_cmd_replay_options),
                     " --compare --nodes %u --faults %s --duration-ms %" PRId64
                     " (fails on %s)\n", cmd->options.node_count, cmd->faults_text,
                     cmd->options.duration_ms, sim_compare_protocols[p]);
            sim_cmd_seed_now = seed;
            sim_cmd_running = 1;
            int run_rc = sim_run_seed(sims[p], seed, &r);
            sim_cmd_running = 0;
            if (run_rc != 0) {
                fprintf(stderr, "chorus-sim: %s seed %" PRIu64 ": %s\n",
                        sim_compare_protocols[p], seed, r.message);
                rc = -1;
                goto out;
            }
            if (r.violation) {
                printf("seed %" PRIu64 ": VIOLATION (%s) %s\n  replay: chorus-sim --compare"
                       " --seed %" PRIu64 " --nodes %u --faults %s --duration-ms %" PRId64 "\n",
                       seed, sim_compare_protocols[p], r.message, seed, cmd->options.node_count,
                       cmd->faults_text, cmd->options.duration_ms);
                fflush(stdout);
            }
        }
    }
out:
    for (uint32_t p = 0; p < SIM_COMPARE_PROTOCOLS; p++) sim_destroy(sims[p]);
    return rc;
}

/* Reads exactly len bytes (a pipe hands large structs over in pieces). */
static int sim_cmd_read_full(int fd, void *buf, size_t len)
{
    uint8_t *at = buf;
    while (len > 0) {
        ssize_t n = read(fd, at, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        at += n;
        len -= (size_t)n;
    }
    return 0;
}

/* --compare over cmd->jobs processes; each child writes its stats to a pipe when done. */
static int sim_cmd_compare(const struct sim_cmd *cmd, struct sim_stats *stats)
{
    size_t bytes = sizeof(struct sim_stats) * SIM_COMPARE_PROTOCOLS;
    if (cmd->jobs == 1) return sim_cmd_compare_run(cmd, 0, stats);
    int fds[SIM_CMD_JOBS_MAX];
    pid_t pids[SIM_CMD_JOBS_MAX];
    fflush(stdout);
    for (uint32_t j = 0; j < cmd->jobs; j++) {
        int pipefd[2];
        if (pipe(pipefd) != 0) return -1;
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            close(pipefd[0]);
            struct sim_stats *mine = calloc(SIM_COMPARE_PROTOCOLS, sizeof(*mine));
            int rc = mine != NULL ? sim_cmd_compare_run(cmd, j, mine) : -1;
            size_t left = rc == 0 ? bytes : 0;
            const uint8_t *at = (const uint8_t *)mine;
            while (left > 0) {
                ssize_t n = write(pipefd[1], at, left);
                if (n <= 0) break;
                at += n;
                left -= (size_t)n;
            }
            fflush(stdout);
            _exit(rc == 0 && left == 0 ? 0 : 2);
        }
        close(pipefd[1]);
        fds[j] = pipefd[0];
        pids[j] = pid;
    }
    int rc = 0;
    struct sim_stats *part = calloc(SIM_COMPARE_PROTOCOLS, sizeof(*part));
    for (uint32_t j = 0; j < cmd->jobs; j++) {
        int read_rc = part != NULL ? sim_cmd_read_full(fds[j], part, bytes) : -1;
        close(fds[j]);
        int status = 0;
        waitpid(pids[j], &status, 0);
        if (read_rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "chorus-sim: job %u failed\n", j);
            rc = -1;
            continue;
        }
        for (uint32_t p = 0; p < SIM_COMPARE_PROTOCOLS; p++) sim_stats_add(&stats[p], &part[p]);
    }
    free(part);
    return rc;
}

static int sim_cmd_compare_main(struct sim_cmd *cmd)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cmd->jobs > cmd->seeds) cmd->jobs = (uint32_t)cmd->seeds;
    struct sim_stats *stats = calloc(SIM_COMPARE_PROTOCOLS, sizeof(*stats));
    if (stats == NULL || sim_cmd_compare(cmd, stats) != 0) {
        fprintf(stderr, "chorus-sim: the simulator failed\n");
        free(stats);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    sim_stats_print_table(stdout, sim_compare_protocols, stats, SIM_COMPARE_PROTOCOLS);
    uint64_t violations = 0;
    for (uint32_t p = 0; p < SIM_COMPARE_PROTOCOLS; p++) violations += stats[p].violations;
    printf("compare: seeds %" PRIu64 " (from %" PRIu64 "), nodes %u, faults %s, duration_ms %"
           PRId64 ", violations %" PRIu64 ", elapsed_s %.2f\n", cmd->seeds, cmd->start,
           cmd->options.node_count, cmd->faults_text, cmd->options.duration_ms, violations,
           elapsed);
    free(stats);
    return violations > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct sim_cmd cmd = {0};
    if (sim_cmd_parse(argc, argv, &cmd) != 0) {
        sim_cmd_usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char groups[64];
    sim_cmd_groups_text(&cmd, groups, sizeof(groups));
    snprintf(sim_cmd_replay_options, sizeof(sim_cmd_replay_options),
             " --protocol %s --nodes %u%s --faults %s --duration-ms %" PRId64
             " --storage %s --trace\n",
             cmd.options.protocol, cmd.options.node_count, groups, cmd.faults_text,
             cmd.options.duration_ms, cmd.options.storage == SIM_STORAGE_WAL ? "wal" : "mem");
    signal(SIGABRT, sim_cmd_on_fatal);
    signal(SIGSEGV, sim_cmd_on_fatal);
    signal(SIGFPE, sim_cmd_on_fatal);
    signal(SIGBUS, sim_cmd_on_fatal);
    if (cmd.compare) return sim_cmd_compare_main(&cmd);
    if (cmd.trace_html_path != NULL) {
        cmd.options.trace_html = fopen(cmd.trace_html_path, "w");
        if (cmd.options.trace_html == NULL) {
            fprintf(stderr, "chorus-sim: --trace-html %s: %s\n", cmd.trace_html_path,
                    strerror(errno));
            return 2;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct sim_totals totals = {0};
    if (cmd.jobs > cmd.seeds) cmd.jobs = (uint32_t)cmd.seeds;
    int rc = cmd.jobs > 1 ? sim_cmd_run_jobs(&cmd, &totals) : sim_cmd_run(&cmd, 0, &totals);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (cmd.options.trace_html != NULL && fclose(cmd.options.trace_html) != 0) {
        fprintf(stderr, "chorus-sim: --trace-html %s: %s\n", cmd.trace_html_path,
                strerror(errno));
        return 2;
    }
    if (rc != 0 || totals.sim_failures > 0) {
        fprintf(stderr, "chorus-sim: the simulator failed (%" PRIu64 " seeds)\n",
                totals.sim_failures);
        return 2;
    }
    double per = totals.seeds > 0 ? (double)totals.seeds : 1.0;
    char groups_line[320] = "";
    if (cmd.options.group_count > 1)
        snprintf(groups_line, sizeof(groups_line), " groups %u, with client ops %.2f, "
                 "with client writes committed %.2f, heartbeat records %.0f in %.0f "
                 "messages;", cmd.options.group_count,
                 (double)totals.groups_with_ops / per, (double)totals.groups_committed / per,
                 (double)totals.beat_records / per, (double)totals.beat_messages / per);
    if (cmd.options.membership) {
        size_t at = strlen(groups_line);
        snprintf(groups_line + at, sizeof(groups_line) - at, " membership changes %.2f, "
                 "configurations committed %.2f;", (double)totals.membership_changes / per,
                 (double)totals.membership_completed / per);
    }
    if (cmd.options.kv_store) {
        size_t at = strlen(groups_line);
        snprintf(groups_line + at, sizeof(groups_line) - at, " kv store commands %.1f, "
                 "stores compared at the end %.2f;", (double)totals.kv_commands / per,
                 (double)totals.kv_compared / per);
    }
    printf("per seed: ticks %.0f, commits %.1f, elections %.1f, crashes %.1f, ops %.1f "
           "(%.1f unknown), messages %.0f, events %.0f, snapshots installed %.2f; "
           "torn writes %.2f, torn tails truncated %.2f; "
           "lincheck unknown: %" PRIu64 ";%s seeds/s %.1f\n",
           (double)totals.ticks / per, (double)totals.commits / per,
           (double)totals.elections / per, (double)totals.crashes / per,
           (double)totals.ops / per, (double)totals.ops_unknown / per,
           (double)totals.messages / per, (double)totals.events / per,
           (double)totals.snapshots_installed / per, (double)totals.torn_writes / per,
           (double)totals.wal_torn_tails / per, totals.lincheck_unknown, groups_line,
           elapsed > 0 ? (double)totals.seeds / elapsed : 0.0);
    printf("seeds: %" PRIu64 ", violations: %" PRIu64 ", commits: %" PRIu64 ", elections: %" PRIu64
           ", elapsed_s: %.2f\n", totals.seeds, totals.violations, totals.commits,
           totals.elections, elapsed);
    return totals.violations > 0 ? 1 : 0;
}
