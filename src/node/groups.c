/*
 * groups.c — the shards of the keyspace and the consensus groups this node hosts.
 *
 * At start-up every node builds the same topology from the same flags (docs/sharding.md,
 * step 3): the nodes of --cluster, S shards of contiguous slot ranges (--shards), R replicas
 * per shard placed on the consistent-hashing ring with the preferred leaders spread evenly
 * (topology_build). The node then opens one group per shard it replicates: its state machine
 * (one LMDB environment per group), its snapshot directory, and its consensus core restored
 * from the node's one WAL, where every group's records are tagged with its shard index.
 *
 * S and R are chosen when the data directory is created and stored in it (data-dir/cluster):
 * they decide where every key lives, so a restart with other values is refused rather than
 * silently serving a different keyspace. A data directory from before sharding has no such
 * file and is one shard (S = 1), which is what it holds.
 *
 * Layout: group 0 keeps the paths of the single-group node (data-dir/kv, data-dir/snap), so
 * that such a directory opens unchanged; group g > 0 lives in data-dir/groups/<g>/.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/slot.h"
#include "net/transport.h"
#include "node/node_internal.h"

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Reads data-dir/cluster: 1 when absent, 0 when read, -1 when unreadable. */
static int settings_read(const struct node *node, uint32_t *shards, uint32_t *replicas)
{
    char path[NODE_PATH_BYTES_MAX + 16];
    snprintf(path, sizeof(path), "%s/cluster", node->config.data_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 1 : -1;
    int n = fscanf(f, "shards %" SCNu32 " replicas %" SCNu32, shards, replicas);
    fclose(f);
    return n == 2 ? 0 : -1;
}

/* Writes data-dir/cluster through a temporary file and a rename, so it is whole or absent. */
static int settings_write(const struct node *node, uint32_t shards, uint32_t replicas)
{
    char path[NODE_PATH_BYTES_MAX + 16], tmp[NODE_PATH_BYTES_MAX + 24];
    snprintf(path, sizeof(path), "%s/cluster", node->config.data_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "shards %" PRIu32 " replicas %" PRIu32 "\n", shards, replicas);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

/* Whether the data directory already holds a store (a node from before sharding). */
static bool store_exists(const struct node *node)
{
    char path[NODE_PATH_BYTES_MAX + 16];
    struct stat st;
    snprintf(path, sizeof(path), "%s/kv/data.mdb", node->config.data_dir);
    return stat(path, &st) == 0;
}

/* S and R: the stored ones, which the flags must not contradict, or the flags' for a new
 * data directory. */
static int settings_resolve(struct node *node, uint32_t *shards, uint32_t *replicas)
{
    uint32_t stored_shards = 0, stored_replicas = 0;
    int rv = settings_read(node, &stored_shards, &stored_replicas);
    if (rv < 0) {
        node_log(node, NODE_LOG_ERROR, "%s/cluster is unreadable or damaged",
                 node->config.data_dir);
        return -1;
    }
    if (rv == 1 && store_exists(node)) {
        stored_shards = 1; /* made before sharding: one group */
        stored_replicas = node->config.member_count;
        rv = 0;
    }
    if (rv == 0) {
        if (node->config.shards != 0 && node->config.shards != stored_shards) {
            node_log(node, NODE_LOG_ERROR,
                     "--shards %u, but the data directory %s was created with %u shards; the "
                     "number of shards cannot change",
                     node->config.shards, node->config.data_dir, stored_shards);
            return -1;
        }
        /* With one shard R is not used (every node is a voter); with more, another R would
         * place replicas elsewhere than the rest of the cluster does. */
        if (stored_shards > 1 && node->config.replicas != 0 &&
            node->config.replicas != stored_replicas) {
            node_log(node, NODE_LOG_ERROR,
                     "--replicas %u, but the data directory %s was created with %u replicas "
                     "per shard; the number of replicas cannot change",
                     node->config.replicas, node->config.data_dir, stored_replicas);
            return -1;
        }
        *shards = stored_shards;
        *replicas = stored_replicas;
        return 0;
    }
    *shards = node->config.shards != 0 ? node->config.shards : NODE_SHARDS_DEFAULT;
    *replicas = node->config.replicas != 0 ? node->config.replicas : NODE_REPLICAS_DEFAULT;
    if (*shards > TOPOLOGY_SHARDS_MAX) {
        node_log(node, NODE_LOG_ERROR, "--shards %u: at most %d", *shards, TOPOLOGY_SHARDS_MAX);
        return -1;
    }
    return settings_write(node, *shards, *replicas) == 0 ? 0 : -1;
}

/* "host:port" (the host may be a bracketed IPv6 literal) into a topology address. */
int node_topology_address_parse(const char *text, struct topology_address *out)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL)
        return -1;
    const char *host = text;
    size_t len = (size_t)(colon - text);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
        host++, len -= 2;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (len == 0 || len >= TOPOLOGY_HOST_BYTES_MAX || *end != '\0' || port == 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    memcpy(out->host, host, len);
    out->port = (uint16_t)port;
    return 0;
}

/* A sharded node that adopted a topology from the meta group (or learned one through --join)
 * serves with it after a restart, not with what its flags would build (meta_topology.c). */
static int topology_load(struct node *node, uint32_t shards)
{
    node->topology = calloc(1, sizeof(*node->topology));
    assert(node->topology != NULL);
    int rv = shards > 1 ? node_topology_file_read(node, node->topology) : 1;
    if (rv < 0) {
        node_log(node, NODE_LOG_ERROR, "%s/topology is unreadable or damaged",
                 node->config.data_dir);
        return -1;
    }
    if (rv == 1)
        return 1;
    if (node->topology->shard_count != shards ||
        node->topology->cluster_id != node->config.cluster_id) {
        node_log(node, NODE_LOG_ERROR, "%s/topology is of another cluster or shard count (%u "
                 "shards) than the data directory", node->config.data_dir,
                 node->topology->shard_count);
        return -1;
    }
    node_topology_members_sync(node);
    rv = shardmap_init(&node->shardmap, shards);
    assert(rv == 0);
    node->cluster_mode = true;
    node_log(node, NODE_LOG_INFO, "the topology of epoch %llu (%u nodes), from %s/topology",
             (unsigned long long)node->topology->epoch, node->topology->node_count,
             node->config.data_dir);
    return 0;
}

static int topology_make(struct node *node, uint32_t shards, uint32_t replicas)
{
    int loaded = topology_load(node, shards);
    if (loaded <= 0)
        return loaded;
    static struct topology_node nodes[NODE_NODES_MAX];
    const struct node_config *c = &node->config;
    for (uint32_t i = 0; i < c->member_count; i++) {
        const struct node_member *m = &c->members[i];
        struct topology_node *t = &nodes[i];
        memset(t, 0, sizeof(*t));
        t->id = m->id;
        t->state = TOPOLOGY_NODE_ACTIVE;
        t->weight = 1;
        const char *client = m->client_addr;
        if (client[0] == '\0' && m->id == c->id)
            client = c->listen_addr;
        if (client[0] == '\0') {
            if (shards > 1) {
                node_log(node, NODE_LOG_ERROR,
                         "--cluster must give node %u's client address (ID=PEER/CLIENT) when "
                         "there is more than one shard", m->id);
                return -1;
            }
            client = m->peer_addr; /* S = 1: never shown (CLUSTER is disabled) */
        }
        if (node_topology_address_parse(m->peer_addr, &t->peer) != 0 ||
            node_topology_address_parse(client, &t->client) != 0) {
            node_log(node, NODE_LOG_ERROR, "--cluster: node %u: bad address", m->id);
            return -1;
        }
    }
    /* One shard is the single group of old: every node a voter (at most a group's maximum). */
    if (shards == 1)
        replicas = c->member_count;
    if (replicas > c->member_count)
        replicas = c->member_count;
    if (replicas > TOPOLOGY_REPLICAS_MAX)
        replicas = TOPOLOGY_REPLICAS_MAX;
    struct topology_build_input input = {.cluster_id = c->cluster_id, .shard_count = shards,
                                         .replica_count = replicas, .node_count = c->member_count,
                                         .nodes = nodes};
    int rv = topology_build(&input, NULL, node->topology);
    if (rv != TOPOLOGY_OK) {
        node_log(node, NODE_LOG_ERROR, "building the topology: %s", topology_strerror(rv));
        return -1;
    }
    rv = shardmap_init(&node->shardmap, shards);
    assert(rv == 0);
    node->cluster_mode = shards > 1;
    return 0;
}

/* One LMDB environment for every group of the node (kv.h), in data-dir/kv, where the store
 * of group 0 always was: a one-group data dir reads the same. Room for every shard and the
 * meta group. */
static int kv_env_open_node(struct node *node, uint32_t stores)
{
    char dir[NODE_PATH_BYTES_MAX + 8];
    snprintf(dir, sizeof(dir), "%s/kv", node->config.data_dir);
    if (kv_env_open(dir, NULL, stores, &node->kv_env) != KV_OK) {
        node_log(node, NODE_LOG_ERROR, "LMDB in %s: %s", dir, kv_last_error());
        return -1;
    }
    node->finishing = calloc(stores, sizeof(*node->finishing));
    assert(node->finishing != NULL);
    return 0;
}

/* The group's own directory (snapshots; before one LMDB environment per node, also its
 * kv): the data dir for group 0, data-dir/groups/N, or data-dir/groups/meta. */
static int group_paths(struct node *node, struct node_group *g, char *base, size_t cap)
{
    if (g->id == 0) {
        snprintf(base, cap, "%s", node->config.data_dir);
    } else {
        snprintf(base, cap, "%s/groups", node->config.data_dir);
        if (make_dir(base) != 0)
            return -1;
        if (g->id == node->topology->shard_count)
            snprintf(base, cap, "%s/groups/meta", node->config.data_dir);
        else
            snprintf(base, cap, "%s/groups/%u", node->config.data_dir, g->id);
        if (make_dir(base) != 0)
            return -1;
    }
    snprintf(g->snapshot_dir, sizeof(g->snapshot_dir), "%s/snap", base);
    return make_dir(g->snapshot_dir);
}

/*
 * A data dir written before the groups shared one LMDB environment keeps each group's store
 * in data-dir/groups/N/kv. Its state moves into the group's store through a snapshot file
 * (installing one is atomic and synced), and only then is the old directory removed: a crash
 * in between repeats the move, which installs the same state again.
 */
static int group_import_old_kv(struct node *node, struct node_group *g, const char *base)
{
    char old_dir[NODE_PATH_BYTES_MAX + 96], path[NODE_PATH_BYTES_MAX + 128];
    snprintf(old_dir, sizeof(old_dir), "%s/kv", base);
    snprintf(path, sizeof(path), "%s/data.mdb", old_dir);
    if (g->id == 0 || access(path, F_OK) != 0)
        return 0;
    struct kv *old = NULL;
    struct kv_snapshot_meta meta;
    snprintf(path, sizeof(path), "%s/import.snapshot", base);
    int rv = kv_open(old_dir, NULL, &old);
    if (rv == KV_OK)
        rv = kv_snapshot_create(old, path, &meta);
    kv_close(old);
    if (rv == KV_OK)
        rv = kv_snapshot_install(g->kv, path, &meta);
    if (rv != KV_OK) {
        node_log(node, NODE_LOG_ERROR, "group %u: moving %s into the node's LMDB: %s", g->id,
                 old_dir, kv_last_error());
        return -1;
    }
    const char *files[] = {"data.mdb", "lock.mdb", "snapshot.staging"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", old_dir, files[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            node_log(node, NODE_LOG_WARN, "removing %s: %s", path, strerror(errno));
    }
    if (rmdir(old_dir) != 0)
        node_log(node, NODE_LOG_WARN, "removing %s: %s", old_dir, strerror(errno));
    node_log(node, NODE_LOG_INFO, "group %u: moved its store into the node's LMDB (applied %llu)",
             g->id, (unsigned long long)meta.index);
    return 0;
}

/* The in-memory log bound of one group: the node's bound shared out, since S groups must not
 * each hold what one did, but never below what a few of the largest entries need. */
uint64_t node_group_log_bytes_max(const struct node *node)
{
    uint64_t bytes = node->config.log_cache_bytes_max / (node->hosted_count ? node->hosted_count : 1);
    return bytes < NODE_GROUP_LOG_BYTES_MIN ? NODE_GROUP_LOG_BYTES_MIN : bytes;
}

static int group_create_core(struct node *node, struct node_group *g,
                             const struct topology_shard *shard)
{
    struct cn_config config;
    cn_config_defaults(&config);
    config.group = g->id;
    config.id = node->config.id;
    config.election_ticks = node->config.election_ticks;
    config.heartbeat_ticks = node->config.heartbeat_ticks;
    config.random_seed = ((uint64_t)node->config.id << 32) ^ uv_hrtime() ^
                         ((uint64_t)g->id * 0x9e3779b97f4a7c15ull);
    config.log_bytes_max = node_group_log_bytes_max(node);
    config.members.count = 0;
    for (uint32_t i = 0; i < shard->replica_count; i++) {
        uint32_t at = config.members.count++;
        while (at > 0 && config.members.ids[at - 1] > shard->replicas[i]) {
            config.members.ids[at] = config.members.ids[at - 1];
            at--;
        }
        config.members.ids[at] = shard->replicas[i];
    }
    /* A node that joined a running cluster starts with no configuration: it learns its own
     * from the leader's first append or snapshot (docs/membership.md). */
    if (g->start_empty || node_members_joined(node))
        config.members.count = 0;
    struct wal_restore restore;
    struct wal_error err;
    if (wal_restore_load(node->wal, g->id, &restore, &err) != WAL_OK) {
        node_log(node, NODE_LOG_ERROR, "WAL restore of group %u: %s", g->id, err.message);
        return -1;
    }
    int rv = node->ops->create(&config, &restore.restore, &g->core);
    node_log(node, NODE_LOG_DEBUG,
             "group %u restored: term %llu, vote %u, snapshot %llu, %llu entries, applied %llu",
             g->id, (unsigned long long)restore.restore.hard_state.term,
             restore.restore.hard_state.vote, (unsigned long long)restore.restore.snapshot.index,
             (unsigned long long)restore.restore.entry_count,
             (unsigned long long)g->applied_index);
    wal_restore_free(&restore);
    if (rv != CN_OK) {
        node_log(node, NODE_LOG_ERROR, "creating the %s core of group %u: %s", node->ops->name,
                 g->id, cn_strerror(rv));
        return -1;
    }
    node_refresh_status(g);
    if (g->snapshot_members.count == 0)
        g->snapshot_members = g->status.members; /* the configuration never changed */
    return 0;
}

void node_group_close(struct node *node, struct node_group *g)
{
    if (g->core != NULL)
        node->ops->destroy(g->core);
    if (g->kv != NULL)
        kv_close(g->kv);
    node_snapshot_group_free(g);
    free(g);
}

static int group_open(struct node *node, struct node_group *g, const struct topology_shard *shard)
{
    char base[NODE_PATH_BYTES_MAX + 48];
    if (group_paths(node, g, base, sizeof(base)) != 0) {
        node_log(node, NODE_LOG_ERROR, "cannot create the directories of group %u: %s", g->id,
                 strerror(errno));
        return -1;
    }
    if (kv_store_open(node->kv_env, g->id, &g->kv) != KV_OK) {
        node_log(node, NODE_LOG_ERROR, "LMDB store of group %u: %s", g->id, kv_last_error());
        return -1;
    }
    if (group_import_old_kv(node, g, base) != 0)
        return -1;
    kv_applied(g->kv, &g->applied_index, &g->applied_term);
    if (node_snapshot_group_init(g) != 0)
        return -1;
    node_snapshot_load_latest(g);
    return group_create_core(node, g, shard);
}

struct node_group *node_group_open(struct node *node, uint32_t id,
                                   const struct topology_shard *shard, bool start_empty)
{
    struct node_group *g = calloc(1, sizeof(*g));
    assert(g != NULL);
    g->node = node;
    g->start_empty = start_empty;
    g->id = id;
    g->first_slot = shard->first_slot;
    g->last_slot = shard->last_slot;
    if (group_open(node, g, shard) != 0) {
        node_group_close(node, g);
        return NULL;
    }
    assert(node->ready_count < node->group_slots);
    g->ready = true; /* a restored core may have an update at once */
    node->ready[node->ready_count++] = g;
    return g;
}

int node_groups_open(struct node *node)
{
    uint32_t shards, replicas;
    if (settings_resolve(node, &shards, &replicas) != 0 ||
        topology_make(node, shards, replicas) != 0)
        return -1;
    const struct topology *t = node->topology;
    node->groups = calloc(t->shard_count, sizeof(*node->groups));
    node->hosted = calloc(t->shard_count, sizeof(*node->hosted));
    node->shard_leader_hint = calloc(t->shard_count, sizeof(*node->shard_leader_hint));
    node->shard_leader_hint_term = calloc(t->shard_count, sizeof(*node->shard_leader_hint_term));
    /* Room for every shard and the meta group. */
    node->ready = calloc(t->shard_count + 1, sizeof(*node->ready));
    node->ready_work = calloc(t->shard_count + 1, sizeof(*node->ready_work));
    node->awake = calloc(t->shard_count + 1, sizeof(*node->awake));
    assert(node->groups != NULL && node->hosted != NULL && node->shard_leader_hint != NULL &&
           node->shard_leader_hint_term != NULL &&
           node->ready != NULL && node->ready_work != NULL && node->awake != NULL);
    /* A shard's replica is hosted when the topology lists this node, or when a planned move
     * brings it here and its replica was created before a restart (rebalance.c). */
    node_rebalance_refresh(node);
    bool *hosting = calloc(t->shard_count, sizeof(*hosting));
    assert(hosting != NULL);
    for (uint32_t s = 0; s < t->shard_count; s++) {
        hosting[s] = topology_shard_has_replica(&t->shards[s], node->config.id) ||
                     (node->cluster_mode && node_rebalance_open_at_start(node, s));
        node->hosted_count += hosting[s];
    }
    if (kv_env_open_node(node, t->shard_count + 1) != 0) {
        free(hosting);
        return -1;
    }
    uint32_t at = 0;
    node->group_slots = node->hosted_count;
    for (uint32_t s = 0; s < t->shard_count; s++) {
        const struct topology_shard *shard = &t->shards[s];
        if (!hosting[s]) {
            if (node->cluster_mode)
                node_rebalance_sweep(node, s);
            continue;
        }
        bool replica = topology_shard_has_replica(shard, node->config.id);
        struct node_group *g = node_group_open(node, s, shard, !replica);
        if (g == NULL) {
            free(hosting);
            return -1;
        }
        node->groups[s] = g;
        node->hosted[at++] = g;
    }
    free(hosting);
    if (node_meta_open(node) != 0)
        return -1;
    node_acl_open(node);
    node_quiesce_init(node);
    node_log(node, NODE_LOG_INFO, "%u shards of %u replicas; this node hosts %u of them",
             t->shard_count, t->shard_count > 0 ? t->shards[0].replica_count : 0,
             node->hosted_count);
    return 0;
}

void node_groups_close(struct node *node)
{
    for (uint32_t i = 0; i < node->hosted_count; i++)
        if (node->hosted[i] != NULL)
            node_group_close(node, node->hosted[i]);
    if (node->meta != NULL)
        node_group_close(node, node->meta);
    node->meta = NULL;
    node_acl_close(node);
    free(node->groups);
    free(node->hosted);
    free(node->shard_leader_hint);
    free(node->shard_leader_hint_term);
    node->shard_leader_hint_term = NULL;
    free(node->ready);
    free(node->ready_work);
    free(node->awake);
    node->awake = NULL;
    node->awake_count = node->quiet_count = node->waking_count = 0;
    node->shard_leader_hint = NULL;
    node->ready = node->ready_work = NULL;
    node_meta_close(node);
    kv_env_close(node->kv_env);
    node->kv_env = NULL;
    free(node->finishing);
    free(node->apply_results);
    node->finishing = NULL;
    node->apply_results = NULL;
    free(node->topology);
    node->groups = node->hosted = NULL;
    node->hosted_count = 0;
}

struct node_group *node_group_of_slot(const struct node *node, uint32_t slot)
{
    return node->groups[shardmap_shard_of_slot(&node->shardmap, slot)];
}

struct node_group *node_group_of_key(const struct node *node, const void *key, size_t len)
{
    return node_group_of_slot(node, slot_of_key(key, len));
}

cn_node_id node_shard_leader(const struct node *node, uint32_t shard)
{
    assert(shard < node->topology->shard_count);
    const struct node_group *g = node->groups[shard];
    if (g != NULL)
        return g->status.leader;
    if (node->shard_leader_hint[shard] != 0)
        return node->shard_leader_hint[shard];
    return node->topology->shards[shard].replicas[0];
}

void node_shard_leader_heard(struct node *node, uint32_t shard, cn_node_id leader, uint64_t term)
{
    assert(shard < node->topology->shard_count);
    if (leader == 0 || term < node->shard_leader_hint_term[shard] ||
        !topology_shard_has_replica(&node->topology->shards[shard], leader))
        return;
    node->shard_leader_hint[shard] = leader;
    node->shard_leader_hint_term[shard] = term;
}

const struct node_member *node_member_find(const struct node *node, cn_node_id id)
{
    for (uint32_t i = 0; i < node->config.member_count; i++)
        if (node->config.members[i].id == id)
            return &node->config.members[i];
    return NULL;
}

/* The group whose consensus state INFO shows: group 0 where hosted (the only one when S = 1),
 * else the first this node hosts, or NULL when it hosts none (with fewer shards than nodes
 * some nodes hold no replica). */
const struct node_group *node_group_first(const struct node *node)
{
    if (node->hosted_count == 0)
        return NULL;
    return node->groups[0] != NULL ? node->groups[0] : node->hosted[0];
}

uint32_t node_groups_leading(const struct node *node)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < node->hosted_count; i++)
        n += node->hosted[i]->status.role == CN_ROLE_LEADER;
    return n;
}

/*
 * Leadership balance (docs/sharding.md, "Placement and leaders"): the topology names each
 * shard's preferred leader so that every node leads about S/N shards. A node that leads a
 * shard whose preferred leader is another node it is connected to hands the leadership over
 * (CN_EVENT_TRANSFER: the core waits until the target is caught up, then makes it campaign at
 * once, thesis §3.10; it gives up after an election timeout). Once per term and shard, so a
 * target that cannot take it is not asked again and again; a new term (an election) asks
 * again. Called every NODE_BALANCE_TICKS ticks.
 */
void node_groups_balance(struct node *node)
{
    if (!node->cluster_mode || node->transport == NULL)
        return;
    for (uint32_t i = 0; i < node->hosted_count; i++) {
        struct node_group *g = node->hosted[i];
        cn_node_id preferred = node->topology->shards[g->id].replicas[0];
        /* Not to a replica that is moving off: the move hands leadership away from it. */
        if (g->retiring || node_rebalance_moving_off(node, g->id, preferred) ||
            g->status.role != CN_ROLE_LEADER || preferred == node->config.id ||
            g->status.transfer_target != 0 || g->balance_term == g->status.term)
            continue;
        struct transport_peer_info info;
        if (!transport_peer_info(node->transport, preferred, &info) || !info.connected)
            continue;
        g->balance_term = g->status.term;
        node_step(g, &(struct cn_event){.type = CN_EVENT_TRANSFER, .target = preferred});
    }
}
