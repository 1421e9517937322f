/* chorusd — the chorus server. See `chorusd --help`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/rebalance.h"
#include "net/token_bucket.h"
#include "node/auth.h"
#include "node/node.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chorusd --id N --cluster 1=HOST:PORT/HOST:PORT,2=... [options]\n"
            "\n"
            "A chorus node: a replica of a strongly consistent key-value store that speaks RESP\n"
            "(the Redis protocol) to clients and a consensus protocol to its peers.\n"
            "\n"
            "  --id N                 this node's id, one of the --cluster ids (1..255)\n"
            "  --cluster LIST         every node: ID=PEERHOST:PORT/CLIENTHOST:PORT, comma separated\n"
            "  --join HOST:PEERPORT   join a running cluster through any member's peer port (an\n"
            "                         empty --data-dir; a member then runs CLUSTER MEET); restart\n"
            "                         such a node without --join or --cluster\n"
            "                         (the client address may be left out when --shards is 1)\n"
            "  --shards S             shards of the keyspace, each its own consensus group; fixed\n"
            "                         when the data directory is created (default: 16; 1 keeps\n"
            "                         standalone Redis semantics, S > 1 Redis Cluster semantics)\n"
            "  --replicas R           replicas of each shard (default: 3, at most the node count)\n"
            "  --redirect             answer -MOVED for a shard led elsewhere instead of forwarding\n"
            "  --data-dir DIR         where the WAL, LMDB and snapshots live (default: data)\n"
            "  --listen HOST:PORT     client (RESP) address (default: 127.0.0.1:7001)\n"
            "  --peer-listen HOST:PORT  peer address (default: 127.0.0.1:8001)\n"
            "  --http [HOST:]PORT     serve Prometheus metrics at http://HOST:PORT/metrics and\n"
            "                         the live view at http://HOST:PORT/ (off by default; a\n"
            "                         port alone listens on 127.0.0.1)\n"
            "  --http-dev             development mode: the live view may pause a node or cut it\n"
            "                         off from its peers (needs --http on a loopback address)\n"
            "  --protocol raft        consensus protocol (default: raft)\n"
            "  --tick-ms MS           length of one consensus tick (default: 10)\n"
            "  --election-ticks N     election timeout in ticks, randomized in [N, 2N) (default: 15)\n"
            "  --heartbeat-ticks N    leader heartbeat interval in ticks (default: 3)\n"
            "  --request-timeout-ms MS  how long a client request waits at most (default: 5000)\n"
            "  --snapshot-entries N   applied entries between snapshots (default: 100000)\n"
            "  --rebalance-moves-per-node N  replica moves the rebalancer's plan runs at once\n"
            "                         per node, 1..64 (default: 1; S > 1)\n"
            "  --snapshot-bandwidth BYTES  bytes per second of snapshot chunks sent to learners\n"
            "                         (a move's new replica, a joining node), suffix k, m or g\n"
            "                         for KiB, MiB, GiB; 0 or at least 16k (default: 0, no limit)\n"
            "  --cluster-id N         refuse peers of another cluster (default: derived from --cluster)\n"
            "  --log-level LEVEL      error, warn, info or debug (default: info)\n"
            "  --requirepass PASS     clients must AUTH with PASS (user \"default\"); visible to\n"
            "                         other local users while the process starts: prefer the file\n"
            "  --requirepass-file FILE  the password is FILE's content (one trailing newline is\n"
            "                         not part of it)\n"
            "  --protected-mode yes|no  with no password, serve only loopback clients (default: yes)\n"
            "  --cluster-secret-file FILE  peers authenticate each other with HMAC-SHA256 keyed\n"
            "                         by FILE's content (at least 16 bytes); every node needs it\n"
            "  --tls-port [HOST:]PORT  also serve clients over TLS there (HOST: --listen's)\n"
            "  --tls-cert FILE        the server's certificate chain (PEM), for --tls-port\n"
            "  --tls-key FILE         its private key (PEM)\n"
            "  --tls-ca FILE          CA certificates that client certificates must chain to\n"
            "  --tls-auth-clients yes|optional|no  with --tls-ca: require a client certificate,\n"
            "                         check one if sent, or ask for none (default: yes)\n"
            "  --tls-replication yes|no  peer links speak TLS, mutually authenticated: each node\n"
            "                         presents --tls-cert and --tls-key, and refuses a peer whose\n"
            "                         certificate does not chain to --tls-ca (default: no)\n"
            "  --help                 this text\n"
            "\n"
            "Restarting with the same --data-dir rejoins the cluster. SIGTERM or SIGINT stop the\n"
            "node cleanly; a SIGKILL loses nothing that was acknowledged.\n");
}

static int copy_arg(char *dst, size_t cap, const char *src, const char *flag)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "chorusd: %s is too long\n", flag);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

/* A secret given on the command line: copied, then overwritten in argv so that ps and
 * /proc/PID/cmdline show it no longer (they do show it until this runs). */
static int take_secret_arg(uint8_t *dst, uint32_t *dst_len, char *arg, const char *flag)
{
    size_t len = strlen(arg);
    if (len == 0 || len > NODE_SECRET_BYTES_MAX) {
        fprintf(stderr, "chorusd: %s must be 1 to %d bytes\n", flag, NODE_SECRET_BYTES_MAX);
        return -1;
    }
    memcpy(dst, arg, len);
    *dst_len = (uint32_t)len;
    memset(arg, 'x', len);
    return 0;
}

static int read_secret_file(uint8_t *dst, uint32_t *dst_len, const char *path, size_t min_len,
                            const char *flag)
{
    char error[NODE_PATH_BYTES_MAX + 128];
    size_t len = 0;
    if (auth_secret_read_file(path, dst, NODE_SECRET_BYTES_MAX, min_len, &len, error,
                              sizeof(error)) != 0) {
        fprintf(stderr, "chorusd: %s: %s\n", flag, error);
        return -1;
    }
    *dst_len = (uint32_t)len;
    return 0;
}

static int parse_u32(const char *text, const char *flag, uint32_t min, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > UINT32_MAX) {
        fprintf(stderr, "chorusd: %s wants a number >= %u, not '%s'\n", flag, min, text);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* A 64-bit decimal number >= min: no sign, no trailing text, no overflow (strtoull would
 * take "-1" as 2^64 - 1 and stop silently at the first non-digit). */
static int parse_u64(const char *text, const char *flag, uint64_t min, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*text < '0' || *text > '9' || *end != '\0' || errno == ERANGE || v < min) {
        fprintf(stderr, "chorusd: %s wants a number from %llu to %llu, not '%s'\n", flag,
                (unsigned long long)min, (unsigned long long)UINT64_MAX, text);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* --snapshot-bandwidth BYTES[k|m|g]: 0 (no limit), or from NODE_SNAPSHOT_BANDWIDTH_MIN (below
 * it a chunk that fits a quarter of an election timeout gets too small, snapshot_send.c) to
 * TOKEN_BUCKET_RATE_BYTES_PER_S_MAX. */
static int parse_bandwidth(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K') scale = 1024, end++;
    else if (*end == 'm' || *end == 'M') scale = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G') scale = 1024 * 1024 * 1024, end++;
    bool ok = *text >= '0' && *text <= '9' && *end == '\0' && errno != ERANGE &&
              v <= TOKEN_BUCKET_RATE_BYTES_PER_S_MAX / scale;
    v *= scale;
    if (!ok || (v != 0 && v < NODE_SNAPSHOT_BANDWIDTH_MIN)) {
        fprintf(stderr, "chorusd: --snapshot-bandwidth wants 0 (no limit) or %d to %d bytes "
                "per second (suffix k, m, g), not '%s'\n", NODE_SNAPSHOT_BANDWIDTH_MIN,
                TOKEN_BUCKET_RATE_BYTES_PER_S_MAX, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* --http HOST:PORT, or PORT alone for the loopback address: metrics are not for the world
 * unless asked. */
static int parse_http(const char *text, char *dst, size_t cap)
{
    int n = strchr(text, ':') != NULL ? snprintf(dst, cap, "%s", text)
                                      : snprintf(dst, cap, "127.0.0.1:%s", text);
    if (*text == '\0' || n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "chorusd: --http wants HOST:PORT or PORT, not '%s'\n", text);
        return -1;
    }
    return 0;
}

/* --tls-port HOST:PORT, or PORT alone on --listen's host; it needs a certificate and a key. */
static int parse_tls_port(struct node_config *config, const char *text)
{
    int n;
    if (strchr(text, ':') != NULL) {
        n = snprintf(config->tls_listen_addr, sizeof(config->tls_listen_addr), "%s", text);
    } else {
        const char *colon = strrchr(config->listen_addr, ':');
        int host_len = colon != NULL ? (int)(colon - config->listen_addr) : 0;
        n = snprintf(config->tls_listen_addr, sizeof(config->tls_listen_addr), "%.*s:%s",
                     host_len, config->listen_addr, text);
    }
    if (*text == '\0' || n < 0 || (size_t)n >= sizeof(config->tls_listen_addr)) {
        fprintf(stderr, "chorusd: --tls-port wants PORT or HOST:PORT, not '%s'\n", text);
        return -1;
    }
    if (config->tls_cert[0] == '\0' || config->tls_key[0] == '\0') {
        fprintf(stderr, "chorusd: --tls-port needs --tls-cert and --tls-key\n");
        return -1;
    }
    return 0;
}

/* A daemon may be started with 0, 1 or 2 closed; a socket must not take those numbers (libuv
 * refuses to close them, and a log line could land in a client's connection). */
static void ensure_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1)
            continue;
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd != fd && null_fd >= 0)
            close(null_fd); /* not the lowest free number: leave it */
    }
}

int main(int argc, char **argv)
{
    ensure_standard_fds();
    struct node_config config;
    node_config_defaults(&config);
    const char *cluster = NULL;
    const char *tls_port = NULL;
    static const struct option options[] = {
        {"id", required_argument, 0, 'i'},         {"cluster", required_argument, 0, 'c'},
        {"data-dir", required_argument, 0, 'd'},   {"listen", required_argument, 0, 'l'},
        {"peer-listen", required_argument, 0, 'p'},{"protocol", required_argument, 0, 'P'},
        {"tick-ms", required_argument, 0, 't'},    {"election-ticks", required_argument, 0, 'e'},
        {"heartbeat-ticks", required_argument, 0, 'b'},
        {"request-timeout-ms", required_argument, 0, 'r'},
        {"snapshot-entries", required_argument, 0, 's'},
        {"rebalance-moves-per-node", required_argument, 0, 'N'},
        {"snapshot-bandwidth", required_argument, 0, 'B'},
        {"join", required_argument, 0, 'J'},
        {"cluster-id", required_argument, 0, 'C'}, {"log-level", required_argument, 0, 'L'},
        {"shards", required_argument, 0, 'S'},     {"replicas", required_argument, 0, 'R'},
        {"redirect", no_argument, 0, 'M'},         {"http", required_argument, 0, 'H'},
        {"http-dev", no_argument, 0, 'D'},
        {"requirepass", required_argument, 0, 'A'},
        {"requirepass-file", required_argument, 0, 'F'},
        {"protected-mode", required_argument, 0, 'm'},
        {"cluster-secret-file", required_argument, 0, 'K'},
        {"tls-port", required_argument, 0, 'T'},   {"tls-cert", required_argument, 0, 'E'},
        {"tls-key", required_argument, 0, 'Y'},    {"tls-ca", required_argument, 0, 'Q'},
        {"tls-auth-clients", required_argument, 0, 'U'},
        {"tls-replication", required_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
    };
    int c;
    uint32_t value;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int rv = 0;
        switch (c) {
        case 'i': rv = parse_u32(optarg, "--id", 1, &config.id); break;
        case 'c': cluster = optarg; break;
        case 'd': rv = copy_arg(config.data_dir, sizeof(config.data_dir), optarg, "--data-dir"); break;
        case 'l': rv = copy_arg(config.listen_addr, sizeof(config.listen_addr), optarg, "--listen"); break;
        case 'p': rv = copy_arg(config.peer_listen_addr, sizeof(config.peer_listen_addr), optarg, "--peer-listen"); break;
        case 'P': rv = copy_arg(config.protocol, sizeof(config.protocol), optarg, "--protocol"); break;
        case 't': rv = parse_u32(optarg, "--tick-ms", 1, &config.tick_ms); break;
        case 'e': rv = parse_u32(optarg, "--election-ticks", 2, &config.election_ticks); break;
        case 'b': rv = parse_u32(optarg, "--heartbeat-ticks", 1, &config.heartbeat_ticks); break;
        case 'r': rv = parse_u32(optarg, "--request-timeout-ms", 1, &config.request_timeout_ms); break;
        case 's': rv = parse_u32(optarg, "--snapshot-entries", 0, &value), config.snapshot_entries = value; break;
        case 'N':
            rv = parse_u32(optarg, "--rebalance-moves-per-node", 1, &config.rebalance_moves_per_node);
            if (rv == 0 && config.rebalance_moves_per_node > REBALANCE_MOVES_PER_NODE_MAX) {
                fprintf(stderr, "chorusd: --rebalance-moves-per-node: at most %d\n",
                        REBALANCE_MOVES_PER_NODE_MAX);
                rv = -1;
            }
            break;
        case 'B': rv = parse_bandwidth(optarg, &config.snapshot_bandwidth_bytes_per_s); break;
        case 'J': rv = copy_arg(config.join_addr, sizeof(config.join_addr), optarg, "--join"); break;
        case 'C': rv = parse_u64(optarg, "--cluster-id", 1, &config.cluster_id); break;
        case 'S': rv = parse_u32(optarg, "--shards", 1, &config.shards); break;
        case 'R': rv = parse_u32(optarg, "--replicas", 1, &config.replicas); break;
        case 'M': config.redirect = true; break;
        case 'H': rv = parse_http(optarg, config.http_addr, sizeof(config.http_addr)); break;
        case 'D': config.http_dev = true; break;
        case 'L':
            if (strcmp(optarg, "error") == 0) config.log_level = NODE_LOG_ERROR;
            else if (strcmp(optarg, "warn") == 0) config.log_level = NODE_LOG_WARN;
            else if (strcmp(optarg, "info") == 0) config.log_level = NODE_LOG_INFO;
            else if (strcmp(optarg, "debug") == 0) config.log_level = NODE_LOG_DEBUG;
            else { fprintf(stderr, "chorusd: unknown --log-level %s\n", optarg); rv = -1; }
            break;
        case 'A': rv = take_secret_arg(config.requirepass, &config.requirepass_len, optarg, "--requirepass"); break;
        case 'F': rv = read_secret_file(config.requirepass, &config.requirepass_len, optarg, 1, "--requirepass-file"); break;
        case 'K': rv = read_secret_file(config.cluster_secret, &config.cluster_secret_len, optarg, 16, "--cluster-secret-file"); break;
        case 'm':
            if (strcmp(optarg, "yes") == 0) config.protected_mode = true;
            else if (strcmp(optarg, "no") == 0) config.protected_mode = false;
            else { fprintf(stderr, "chorusd: --protected-mode wants yes or no\n"); rv = -1; }
            break;
        case 'T': tls_port = optarg; break;
        case 'E': rv = copy_arg(config.tls_cert, sizeof(config.tls_cert), optarg, "--tls-cert"); break;
        case 'Y': rv = copy_arg(config.tls_key, sizeof(config.tls_key), optarg, "--tls-key"); break;
        case 'Q': rv = copy_arg(config.tls_ca, sizeof(config.tls_ca), optarg, "--tls-ca"); break;
        case 'U':
            if (strcmp(optarg, "yes") == 0) config.tls_auth_clients = 2;
            else if (strcmp(optarg, "optional") == 0) config.tls_auth_clients = 1;
            else if (strcmp(optarg, "no") == 0) config.tls_auth_clients = 0;
            else { fprintf(stderr, "chorusd: --tls-auth-clients wants yes, optional or no\n"); rv = -1; }
            break;
        case 'W':
            if (strcmp(optarg, "yes") == 0) config.tls_replication = true;
            else if (strcmp(optarg, "no") == 0) config.tls_replication = false;
            else { fprintf(stderr, "chorusd: --tls-replication wants yes or no\n"); rv = -1; }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (rv != 0)
            return 2;
    }
    /* Without --cluster: --join learns the cluster from a member, and a data directory that
     * already holds a members file (a node that joined, restarted) knows it. */
    if (optind != argc || (cluster != NULL && config.join_addr[0] != '\0')) {
        fprintf(stderr, "chorusd: give --cluster (a new cluster, or a node of one) or --join "
                        "(a new node joining a running cluster), not both\n");
        usage(stderr);
        return 2;
    }
    if (config.heartbeat_ticks >= config.election_ticks) {
        fprintf(stderr, "chorusd: --heartbeat-ticks must be below --election-ticks\n");
        return 2;
    }
    if (tls_port != NULL && parse_tls_port(&config, tls_port) != 0)
        return 2;
    if (config.tls_replication &&
        (config.tls_cert[0] == '\0' || config.tls_key[0] == '\0' || config.tls_ca[0] == '\0')) {
        fprintf(stderr, "chorusd: --tls-replication yes needs --tls-cert, --tls-key and --tls-ca "
                        "(every peer presents a certificate and checks the other's)\n");
        return 2;
    }
    char error[256];
    if (cluster != NULL &&
        node_config_parse_cluster(&config, cluster, error, sizeof(error)) != 0) {
        fprintf(stderr, "chorusd: %s\n", error);
        return 2;
    }
    return node_run(&config);
}
