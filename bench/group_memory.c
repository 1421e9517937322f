/*
 * group_memory.c — what one idle consensus group costs a node: memory, mappings and fds.
 *
 *   group_memory [--groups N] [--dir DIR] [--mmap-threshold BYTES]
 *
 * chorusd hosts one consensus core, one store of its LMDB environment and one slot of the
 * shared WAL per shard replica (src/node/groups.c). This program creates N of each kind, one kind per child
 * process so that every row starts from the same clean heap, and prints a table of what each
 * one added: resident memory (/proc/self/statm), address space, memory mappings
 * (/proc/self/maps, bounded by vm.max_map_count) and open fds (/proc/self/fd).
 *
 * Rows:
 *   raft/paxos node   cores built as group_create_core builds them (cn_config_defaults, the
 *                     node's election and heartbeat ticks, log_bytes_max = the node's 64 MiB
 *                     cache split over N groups but at least 8 MiB, 3 members) from an empty
 *                     restore;
 *   ...+ticked        the same, ticked through several election timeouts (gm_core_tick);
 *   raft/paxos small  the same, ticked, with pending_reads_max and pending_proposals_max lowered (the
 *                     only fields sized at creation are the read queue and, in Paxos, the
 *                     recovery table);
 *   kv default        stores of one environment with the defaults (4 GiB map, 126 readers),
 *                     as the node has them (kv_env_open, then kv_store_open per group);
 *   kv default+apply  the same after one applied no-op each (one commit for all), which
 *                     every group does once its first leader commits;
 *   kv small+apply    64 MiB map, 16 readers, after one applied no-op;
 *   wal hard state    one WAL, one hard state appended per group, synced once.
 *
 * Every measurement is a difference taken in the same process, divided by N.
 *
 * --mmap-threshold sets glibc's M_MMAP_THRESHOLD (mallopt) first. A long-running process
 * gets the same effect from glibc's dynamic threshold: once it frees an mmapped chunk, the
 * threshold rises to that chunk's size (up to 32 MiB), and the per-group buffers of 128 KiB
 * to 2 MiB then come from the heap, where calloc clears them and they become resident.
 * Passing 131072 (the default value) pins the threshold and disables the dynamic rise.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "consensus/consensus.h"
#include "paxos/paxos.h"
#include "raft/raft.h"
#include "storage/fileops.h"
#include "storage/kv.h"
#include "storage/wal.h"

enum {
    GM_GROUPS_DEFAULT = 1000,
    GM_GROUPS_MAX = 4000, /* fd and mapping limits: 2 fds and several maps per kv */
    GM_PATH_BYTES = 512,
    GM_LINE_BYTES = 4096,
    GM_NODE_ELECTION_TICKS = 15,  /* src/node/node.c defaults */
    GM_NODE_HEARTBEAT_TICKS = 3,
    GM_SMALL_READS_MAX = 64,
    GM_SMALL_PROPOSALS_MAX = 256,
    GM_SMALL_READERS_MAX = 16,
    GM_TICKS = 4 * 2 * GM_NODE_ELECTION_TICKS, /* several randomized election timeouts */
    GM_UPDATES_PER_TICK_MAX = 16,
    GM_MMAP_THRESHOLD_MAX = 32 << 20, /* glibc's HEAP_MAX-derived ceiling on 64-bit */
};

static const uint64_t gm_node_log_cache_bytes = 64ull << 20; /* node.c log_cache_bytes_max */
static const uint64_t gm_group_log_bytes_min = 8ull << 20;   /* NODE_GROUP_LOG_BYTES_MIN */
static const uint64_t gm_small_map_bytes = 64ull << 20;

/* One sample of the process's footprint. */
struct gm_sample {
    uint64_t rss_bytes;
    uint64_t vsz_bytes;
    uint64_t map_count;
    uint64_t fd_count;
    uint64_t heap_bytes; /* malloc'ed and not freed, touched or not (mallinfo2) */
};

/* Joins dir and name into buf (GM_PATH_BYTES); a path that does not fit is a usage error. */
static void gm_path(char *buf, const char *dir, const char *name)
{
    int n = snprintf(buf, GM_PATH_BYTES, "%s/%s", dir, name);
    if (n < 0 || n >= GM_PATH_BYTES) {
        fprintf(stderr, "group_memory: path too long under %s\n", dir);
        exit(2);
    }
}

static uint64_t gm_count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[GM_LINE_BYTES];
    uint64_t n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n++;
    fclose(f);
    return n;
}

static uint64_t gm_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    uint64_t n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static struct gm_sample gm_sample_take(void)
{
    struct gm_sample s = {0};
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size_pages = 0, rss_pages = 0;
    if (f == NULL || fscanf(f, "%llu %llu", &size_pages, &rss_pages) != 2) {
        fprintf(stderr, "group_memory: cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    s.rss_bytes = rss_pages * page;
    s.vsz_bytes = size_pages * page;
    s.map_count = gm_count_lines("/proc/self/maps");
    s.fd_count = gm_count_fds();
    struct mallinfo2 m = mallinfo2();
    s.heap_bytes = m.uordblks + m.hblkhd;
    return s;
}

static void gm_row_print(const char *name, uint32_t groups, struct gm_sample before,
                         struct gm_sample after)
{
    double n = groups;
    printf("%-22s %10.1f %10.1f %12.1f %8.2f %6.2f %10.1f\n", name,
           (double)(after.rss_bytes - before.rss_bytes) / n / 1024.0,
           (double)(after.heap_bytes - before.heap_bytes) / n / 1024.0,
           (double)(after.vsz_bytes - before.vsz_bytes) / n / 1048576.0,
           (double)(after.map_count - before.map_count) / n,
           (double)(after.fd_count - before.fd_count) / n,
           (double)(after.rss_bytes - before.rss_bytes) / 1048576.0);
    fflush(stdout);
}

/* The config group_create_core gives a core on a node hosting `groups` groups. */
static void gm_config_node(struct cn_config *config, uint32_t group, uint32_t groups)
{
    cn_config_defaults(config);
    config->group = group;
    config->id = 1;
    config->election_ticks = GM_NODE_ELECTION_TICKS;
    config->heartbeat_ticks = GM_NODE_HEARTBEAT_TICKS;
    config->random_seed = 0x9e3779b97f4a7c15ull * (group + 1);
    uint64_t bytes = gm_node_log_cache_bytes / groups;
    config->log_bytes_max = bytes < gm_group_log_bytes_min ? gm_group_log_bytes_min : bytes;
    config->members.count = 3;
    for (uint32_t i = 0; i < 3; i++)
        config->members.ids[i] = i + 1;
}

/* Ticks a lone core past a few election timeouts, carrying out every update as a driver
 * would without delivering its messages: the core campaigns, fills its outboxes and touches
 * the pages of its struct that an idle core of a live node touches. */
static void gm_core_tick(const struct cn_ops *ops, void *core)
{
    struct cn_event tick = {.type = CN_EVENT_TICK};
    for (uint32_t t = 0; t < GM_TICKS; t++) {
        if (ops->step(core, &tick) != CN_OK) {
            fprintf(stderr, "group_memory: %s tick refused\n", ops->name);
            exit(1);
        }
        for (uint32_t u = 0; u < GM_UPDATES_PER_TICK_MAX && ops->has_update(core); u++) {
            struct cn_update update;
            ops->get_update(core, &update);
            ops->ack_update(core, &update);
        }
    }
}

static void gm_run_cores(const struct cn_ops *ops, bool small, bool ticked, uint32_t groups)
{
    void **cores = calloc(groups, sizeof(*cores));
    if (cores == NULL)
        exit(1);
    struct cn_restore restore;
    memset(&restore, 0, sizeof restore);
    struct gm_sample before = gm_sample_take();
    for (uint32_t g = 0; g < groups; g++) {
        struct cn_config config;
        gm_config_node(&config, g, groups);
        if (small) {
            config.pending_reads_max = GM_SMALL_READS_MAX;
            config.pending_proposals_max = GM_SMALL_PROPOSALS_MAX;
        }
        int rv = ops->create(&config, &restore, &cores[g]);
        if (rv != CN_OK) {
            fprintf(stderr, "group_memory: %s create: %s\n", ops->name, cn_strerror(rv));
            exit(1);
        }
        if (ticked)
            gm_core_tick(ops, cores[g]);
    }
    struct gm_sample after = gm_sample_take();
    char name[64];
    snprintf(name, sizeof name, "%s %s%s", ops->name, small ? "small" : "node",
             ticked ? "+ticked" : "");
    gm_row_print(name, groups, before, after);
    for (uint32_t g = 0; g < groups; g++)
        ops->destroy(cores[g]);
    free(cores);
}

/* Applies one no-op at index 1: the first write transaction of a fresh store. */
static void gm_kv_apply_noop(struct kv *kv)
{
    struct kv_apply_item item = {.index = 1, .term = 1, .kind = KV_ITEM_NOOP};
    struct kv_result result;
    if (kv_apply_batch(kv, &item, 1, &result) != KV_OK) {
        fprintf(stderr, "group_memory: kv_apply_batch: %s\n", kv_last_error());
        exit(1);
    }
}

/* N stores in one environment, as the node keeps its groups (kv.h): the environment is the
 * node's, opened before the first sample; what is measured is what each store adds. */
static void gm_run_kv(const char *dir, const char *name, const struct kv_options *options,
                      bool apply, uint32_t groups)
{
    struct kv **kvs = calloc(groups, sizeof(*kvs));
    if (kvs == NULL)
        exit(1);
    char path[GM_PATH_BYTES];
    gm_path(path, dir, "kv");
    struct kv_env *env = NULL;
    if (kv_env_open(path, options, groups, &env) != KV_OK) {
        fprintf(stderr, "group_memory: kv_env_open %s: %s\n", path, kv_last_error());
        exit(1);
    }
    struct gm_sample before = gm_sample_take();
    for (uint32_t g = 0; g < groups; g++) {
        if (kv_store_open(env, g, &kvs[g]) != KV_OK) {
            fprintf(stderr, "group_memory: kv_store_open %u: %s\n", g, kv_last_error());
            exit(1);
        }
        if (apply)
            gm_kv_apply_noop(kvs[g]);
    }
    if (kv_env_commit(env) != KV_OK) {
        fprintf(stderr, "group_memory: kv_env_commit: %s\n", kv_last_error());
        exit(1);
    }
    struct gm_sample after = gm_sample_take();
    gm_row_print(name, groups, before, after);
    for (uint32_t g = 0; g < groups; g++)
        kv_close(kvs[g]);
    kv_env_close(env);
    free(kvs);
}

static void gm_run_wal(const char *dir, uint32_t groups)
{
    char path[GM_PATH_BYTES];
    gm_path(path, dir, "wal");
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "group_memory: mkdir %s: %s\n", path, strerror(errno));
        exit(1);
    }
    struct wal_options options;
    wal_options_defaults(&options);
    options.dir = path;
    struct wal *wal = NULL;
    struct wal_error err;
    if (wal_open(&options, fileops_posix(), &wal, &err) != WAL_OK) {
        fprintf(stderr, "group_memory: wal_open: %s\n", err.message);
        exit(1);
    }
    struct gm_sample before = gm_sample_take();
    for (uint32_t g = 0; g < groups; g++) {
        struct cn_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
        if (wal_append(wal, g, &hs, NULL, NULL, 0, &err) != WAL_OK) {
            fprintf(stderr, "group_memory: wal_append: %s\n", err.message);
            exit(1);
        }
    }
    if (wal_sync(wal, &err) != WAL_OK) {
        fprintf(stderr, "group_memory: wal_sync: %s\n", err.message);
        exit(1);
    }
    struct gm_sample after = gm_sample_take();
    gm_row_print("wal hard state", groups, before, after);
    wal_close(wal);
}

/* Runs one row in a child process, in its own subdirectory of dir. */
static void gm_row(const char *dir, int row, uint32_t groups)
{
    char sub[GM_PATH_BYTES];
    char name[32];
    snprintf(name, sizeof name, "row%d", row);
    gm_path(sub, dir, name);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "group_memory: mkdir %s: %s\n", sub, strerror(errno));
        exit(1);
    }
    struct kv_options defaults, small;
    kv_options_defaults(&defaults);
    small.map_bytes = gm_small_map_bytes;
    small.readers_max = GM_SMALL_READERS_MAX;
    switch (row) {
    case 0: gm_run_cores(&raft_ops, false, false, groups); break;
    case 1: gm_run_cores(&raft_ops, false, true, groups); break;
    case 2: gm_run_cores(&raft_ops, true, true, groups); break;
    case 3: gm_run_cores(&paxos_ops, false, false, groups); break;
    case 4: gm_run_cores(&paxos_ops, false, true, groups); break;
    case 5: gm_run_cores(&paxos_ops, true, true, groups); break;
    case 6: gm_run_kv(sub, "kv default", &defaults, false, groups); break;
    case 7: gm_run_kv(sub, "kv default+apply", &defaults, true, groups); break;
    case 8: gm_run_kv(sub, "kv small+apply", &small, true, groups); break;
    case 9: gm_run_wal(sub, groups); break;
    default: assert(0);
    }
}

enum { GM_ROW_COUNT = 10 };

static int gm_usage(void)
{
    fprintf(stderr, "usage: group_memory [--groups N (1..%d)] [--dir DIR]"
                    " [--mmap-threshold BYTES (<= 32 MiB)]\n", GM_GROUPS_MAX);
    return 2;
}

int main(int argc, char **argv)
{
    uint32_t groups = GM_GROUPS_DEFAULT;
    const char *dir = NULL;
    unsigned long mmap_threshold = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc) {
            char *end = NULL;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > GM_GROUPS_MAX)
                return gm_usage();
            groups = (uint32_t)v;
        } else if (strcmp(argv[i], "--mmap-threshold") == 0 && i + 1 < argc) {
            char *end = NULL;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || v > GM_MMAP_THRESHOLD_MAX || mallopt(M_MMAP_THRESHOLD, (int)v) != 1)
                return gm_usage();
            mmap_threshold = v;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            return gm_usage();
        }
    }
    char template[] = "/tmp/group_memory.XXXXXX";
    if (dir == NULL && (dir = mkdtemp(template)) == NULL) {
        fprintf(stderr, "group_memory: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    printf("groups: %u, dir: %s, mmap threshold: %s%lu\n", groups, dir,
           mmap_threshold == 0 ? "glibc default, dynamic " : "pinned at ", mmap_threshold);
    printf("%-22s %10s %10s %12s %8s %6s %10s\n", "per group", "RSS KiB", "malloc KiB",
           "VSZ MiB", "maps", "fds", "RSS total MiB");
    fflush(stdout);
    int failed = 0;
    for (int row = 0; row < GM_ROW_COUNT; row++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "group_memory: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid == 0) {
            gm_row(dir, row, groups);
            _exit(0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    return failed == 0 ? 0 : 1;
}
