/*
 * kvstore.c — --kv-store: every simulated replica also applies the real state machine
 * (src/storage), to the collection commands a third of the clients' commands carry.
 *
 * Issue 17's replication rule: every command is applied identically on every replica, and a
 * command with a random choice (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) carries the
 * choice's seed in its log entry, drawn once by whoever proposed it (here the client, standing
 * for the node that took the proposal; kv_command.h) and never by a replica. The string model
 * (kvsm.c) cannot show that rule kept; this file gives each replica a real store in its own
 * directory and, at every applied index, folds a digest of its two DBs' records (every key
 * and element record, byte for byte, in order) and of every result its commands gave into
 * the digest that check.c compares at that index across replicas ("state machine safety").
 * At the seed's end, replicas of a group at one applied index are compared once more.
 *
 * The real store is not carried by the simulator's snapshots, so none are taken in this mode
 * (run.c); a restarted replica's store is emptied and its log applied again from index 1, as
 * its string model is.
 */
#include <assert.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "sim/world.h"
#include "storage/kv.h"
#include "storage/kv_command.h"
#include "storage/kv_internal.h" /* white box: the DBs the digest walks */

enum {
    SIM_KVSTORE_MAP_BYTES = 64u << 20, /* a seed's store holds a few hundred records */
    SIM_KVSTORE_ARGS_MAX = 8,
    SIM_KVSTORE_TEXT_BYTES = 24,
    SIM_KVSTORE_RESULT_DEPTH_MAX = 4,
};

static void sim_kvstore_path(const struct sim *sim, uint32_t node, uint32_t group, char *buf,
                             size_t size)
{
    snprintf(buf, size, "%s/n%u-g%u", sim->kv_dir, node, group);
}

static void sim_kvstore_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d != NULL) closedir(d);
    rmdir(dir);
}

/* The stores' directory: in /dev/shm when there is one (LMDB's files are written on every
 * commit and nothing here needs them to last), else in $TMPDIR or /tmp. */
int sim_kvstore_create(struct sim *sim)
{
    const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (parent == NULL || parent[0] == '\0') parent = "/tmp";
    snprintf(sim->kv_dir, sizeof(sim->kv_dir), "%s/chorus-sim-kv.XXXXXX", parent);
    return mkdtemp(sim->kv_dir) != NULL ? 0 : -1;
}

void sim_kvstore_close(struct sim_replica *r)
{
    if (r->kv != NULL) kv_close(r->kv);
    r->kv = NULL;
}

void sim_kvstore_destroy(struct sim *sim)
{
    if (sim->kv_dir[0] == '\0') return;
    for (uint32_t i = 0; i < SIM_NODES_MAX; i++) {
        for (uint32_t g = 0; sim->nodes[i].replicas != NULL && g < sim->group_count; g++) {
            sim_kvstore_close(&sim->nodes[i].replicas[g]);
            char path[256];
            sim_kvstore_path(sim, i, g, path, sizeof(path));
            sim_kvstore_remove_dir(path);
        }
    }
    rmdir(sim->kv_dir);
    sim->kv_dir[0] = '\0';
}

int sim_kvstore_reset(struct sim *sim, uint32_t node, struct sim_replica *r)
{
    sim_kvstore_close(r);
    r->kv_results = 0;
    char path[256];
    sim_kvstore_path(sim, node, r->group, path, sizeof(path));
    sim_kvstore_remove_dir(path);
    struct kv_options options;
    kv_options_defaults(&options);
    options.map_bytes = SIM_KVSTORE_MAP_BYTES;
    if (kv_open(path, &options, &r->kv) != KV_OK) {
        r->kv = NULL;
        sim->sim_failed = true;
        sim_verdict_fail(&sim->verdict, "kv store", "node %u group %u: open %s: %s", node + 1,
                         r->group, path, kv_last_error());
        return -1;
    }
    return 0;
}

static void sim_kvstore_hash_result(XXH64_state_t *h, const struct kv_result *result, int depth)
{
    int64_t head[3] = {result->type, result->integer, (int64_t)result->bulk_len};
    XXH64_update(h, head, sizeof(head));
    if (result->bulk != NULL) XXH64_update(h, result->bulk, result->bulk_len);
    if (result->error != NULL) XXH64_update(h, result->error, strlen(result->error));
    uint32_t count = result->elements != NULL ? result->element_count : 0;
    XXH64_update(h, &count, sizeof(count));
    for (uint32_t i = 0; i < count && depth < SIM_KVSTORE_RESULT_DEPTH_MAX; i++)
        sim_kvstore_hash_result(h, &result->elements[i], depth + 1);
}

/* Every record of the store's keys DB and elements DB, in order: equal digests mean
 * byte-identical state machines (the applied index is compared by check.c already). */
static int sim_kvstore_records_digest(struct kv *kv, uint64_t *digest)
{
    XXH64_state_t *h = XXH64_createState();
    MDB_txn *txn = NULL;
    int rc = h == NULL ? -1 : mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_SUCCESS) XXH64_reset(h, 0);
    MDB_dbi dbis[2] = {kv->data_dbi, kv->elems_dbi};
    for (int d = 0; d < 2 && rc == MDB_SUCCESS; d++) {
        MDB_cursor *cursor = NULL;
        rc = mdb_cursor_open(txn, dbis[d], &cursor);
        if (rc != MDB_SUCCESS) break;
        MDB_val key, value;
        int walk = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
        for (; walk == MDB_SUCCESS; walk = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
            uint64_t sizes[2] = {key.mv_size, value.mv_size};
            XXH64_update(h, sizes, sizeof(sizes));
            XXH64_update(h, key.mv_data, key.mv_size);
            XXH64_update(h, value.mv_data, value.mv_size);
        }
        mdb_cursor_close(cursor);
        if (walk != MDB_NOTFOUND) rc = walk;
        uint32_t end = 0xdb0000u + (uint32_t)d; /* one DB's records never pass for the other's */
        XXH64_update(h, &end, sizeof(end));
    }
    if (txn != NULL) mdb_txn_abort(txn);
    if (rc == MDB_SUCCESS) *digest = XXH64_digest(h);
    if (h != NULL) XXH64_freeState(h);
    return rc == MDB_SUCCESS ? 0 : -1;
}

/* The planted bug own-seed: node 2 re-encodes a random command with a seed of its own. */
static bool sim_kvstore_own_seed(uint32_t node, const struct cn_entry *e, const uint8_t *real,
                                 uint32_t real_len, uint8_t *out, size_t *out_len)
{
    struct kv_command command;
    struct kv_bytes args[SIM_KVSTORE_ARGS_MAX];
    const char *reason = NULL;
    if (kv_command_decode(real, real_len, &command, args, SIM_KVSTORE_ARGS_MAX, &reason) != KV_OK ||
        !kv_op_is_random(command.op))
        return false;
    command.delta = (int64_t)(sim_rng_mix(e->index * 31 + node) >> 1);
    return kv_command_encode(&command, out, SIM_KV_REAL_BYTES_MAX, out_len, &reason) == KV_OK;
}

int sim_kvstore_apply(struct sim *sim, uint32_t node, struct sim_replica *r,
                      const struct cn_entry *e, uint64_t *digest)
{
    struct sim_check *check = &sim->checks[r->group];
    uint64_t applied = 0, term = 0;
    if (r->kv == NULL) return -1;
    kv_applied(r->kv, &applied, &term);
    if (e->index != applied + 1) {
        sim_check_fail(check, "kv store", "node %u: the store applied %" PRIu64 ", then was "
                       "given %" PRIu64, node + 1, applied, e->index);
        return -1;
    }
    struct kv_apply_item item = {.index = e->index, .term = e->term, .kind = KV_ITEM_NOOP};
    struct sim_kv_command command;
    uint64_t stamp = 0;
    size_t skip = 0;
    if (e->type == CN_ENTRY_NORMAL) {
        skip = kv_stamp_read(e->data, e->data_len, &stamp) ? KV_STAMP_BYTES : 0;
    }
    uint8_t own[SIM_KV_REAL_BYTES_MAX];
    if (e->type == CN_ENTRY_NORMAL &&
        sim_kv_command_decode(e->data + skip, e->data_len - skip, &command) == 0 &&
        command.op == SIM_KV_COLL) {
        item.kind = KV_ITEM_COMMAND;
        item.data = command.real;
        item.data_len = command.real_len;
        item.time_ms = stamp;
        size_t own_len = 0;
        if (sim->options.plant == SIM_PLANT_OWN_SEED && node == 1 &&
            sim_kvstore_own_seed(node, e, command.real, command.real_len, own, &own_len)) {
            item.data = own;
            item.data_len = (uint32_t)own_len;
        }
        sim->result->kv_commands++;
    }
    struct kv_result result;
    if (kv_apply_batch(r->kv, &item, 1, &result) != KV_OK) {
        sim_check_fail(check, "kv store", "node %u: apply %" PRIu64 ": %s", node + 1, e->index,
                       kv_last_error());
        return -1;
    }
    XXH64_state_t *h = XXH64_createState();
    if (h == NULL) return -1;
    XXH64_reset(h, r->kv_results);
    sim_kvstore_hash_result(h, &result, 0);
    r->kv_results = XXH64_digest(h);
    XXH64_freeState(h);
    uint64_t records = 0;
    if (sim_kvstore_records_digest(r->kv, &records) != 0) {
        sim_check_fail(check, "kv store", "node %u: its store cannot be read", node + 1);
        return -1;
    }
    *digest = records * 0x9e3779b97f4a7c15ull ^ r->kv_results;
    return 0;
}

/* ---- the workload ---- */

struct sim_kvstore_args {
    struct kv_bytes args[SIM_KVSTORE_ARGS_MAX];
    char texts[SIM_KVSTORE_ARGS_MAX][SIM_KVSTORE_TEXT_BYTES];
    uint32_t count;
};

static void sim_kvstore_arg(struct sim_kvstore_args *a, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void sim_kvstore_arg(struct sim_kvstore_args *a, const char *format, ...)
{
    assert(a->count < SIM_KVSTORE_ARGS_MAX);
    va_list ap;
    va_start(ap, format);
    vsnprintf(a->texts[a->count], SIM_KVSTORE_TEXT_BYTES, format, ap);
    va_end(ap);
    a->args[a->count] = (struct kv_bytes){.data = (const uint8_t *)a->texts[a->count],
                                          .len = strlen(a->texts[a->count])};
    a->count++;
}

/*
 * One command on the collections of string key `name` (each type its own key, a second of
 * each for the two-key commands), with small element names so that collections stay small
 * and commands meet what earlier ones left: hashes, lists (pushes, pops, the blocking pops'
 * attempts, LMOVE, LTRIM keeping a list short), sets (SPOP, SRANDMEMBER, SMOVE, SINTERSTORE)
 * and sorted sets (ZRANDMEMBER, pops, rank removal). A random choice's seed is drawn here.
 */
static uint8_t sim_kvstore_pick(struct sim_rng *rng, const char *name, struct sim_kvstore_args *a,
                                int64_t *delta)
{
    uint32_t x = (uint32_t)sim_rng_below(rng, 24), e = (uint32_t)sim_rng_below(rng, 6);
    *delta = 0;
    a->count = 0;
    static const uint8_t ops[24] = {
        KV_OP_HSET,  KV_OP_HDEL,   KV_OP_HINCRBY, KV_OP_HRANDFIELD, KV_OP_LPUSH, KV_OP_RPUSH,
        KV_OP_LPOP,  KV_OP_RPOP,   KV_OP_BLPOP,   KV_OP_BRPOP,      KV_OP_LMOVE, KV_OP_LTRIM,
        KV_OP_SADD,  KV_OP_SREM,   KV_OP_SPOP,    KV_OP_SRANDMEMBER, KV_OP_SMOVE,
        KV_OP_SINTERSTORE, KV_OP_ZADD, KV_OP_ZINCRBY, KV_OP_ZREM, KV_OP_ZPOPMIN,
        KV_OP_ZRANDMEMBER, KV_OP_ZREMRANGEBYRANK};
    uint8_t op = ops[x];
    char type = x < 4 ? 'h' : x < 12 ? 'l' : x < 18 ? 's' : 'z'; /* the table's four parts */
    sim_kvstore_arg(a, "%c:%s", type, name);
    switch (op) {
    case KV_OP_HSET: sim_kvstore_arg(a, "f%u", e); sim_kvstore_arg(a, "v%u", x * 7 + e); break;
    case KV_OP_HDEL: sim_kvstore_arg(a, "f%u", e); break;
    case KV_OP_HINCRBY: sim_kvstore_arg(a, "n%u", e % 2); sim_kvstore_arg(a, "%u", e); break;
    case KV_OP_HRANDFIELD:
    case KV_OP_SRANDMEMBER:
    case KV_OP_ZRANDMEMBER: sim_kvstore_arg(a, "%d", (int)e - 3); break;
    case KV_OP_LPUSH:
    case KV_OP_RPUSH: sim_kvstore_arg(a, "e%u", e); break;
    case KV_OP_BLPOP:
    case KV_OP_BRPOP: sim_kvstore_arg(a, "l2:%s", name); break;
    case KV_OP_LMOVE:
        sim_kvstore_arg(a, "l2:%s", name);
        sim_kvstore_arg(a, e % 2 ? "LEFT" : "RIGHT");
        sim_kvstore_arg(a, e % 3 ? "RIGHT" : "LEFT");
        break;
    case KV_OP_LTRIM: sim_kvstore_arg(a, "0"); sim_kvstore_arg(a, "7"); break;
    case KV_OP_SADD:
    case KV_OP_SREM: sim_kvstore_arg(a, "m%u", e); break;
    case KV_OP_SPOP: if (e % 2) sim_kvstore_arg(a, "%u", e / 2 + 1); break;
    case KV_OP_SMOVE: sim_kvstore_arg(a, "s2:%s", name); sim_kvstore_arg(a, "m%u", e); break;
    case KV_OP_SINTERSTORE: /* s3 = s & s2: the destination first */
        a->count = 0;
        sim_kvstore_arg(a, "s3:%s", name);
        sim_kvstore_arg(a, "s:%s", name);
        sim_kvstore_arg(a, "s2:%s", name);
        break;
    case KV_OP_ZADD: sim_kvstore_arg(a, "%u.5", x % 5); sim_kvstore_arg(a, "m%u", e); break;
    case KV_OP_ZINCRBY: sim_kvstore_arg(a, "%d", (int)e - 2); sim_kvstore_arg(a, "m%u", e); break;
    case KV_OP_ZREM: sim_kvstore_arg(a, "m%u", e); break;
    case KV_OP_ZPOPMIN: break;
    case KV_OP_ZREMRANGEBYRANK: sim_kvstore_arg(a, "0"); sim_kvstore_arg(a, "0"); break;
    default: break;
    }
    if (kv_op_is_random(op)) *delta = (int64_t)(sim_rng_next(rng) >> 1);
    return op;
}

void sim_kvstore_draw(struct sim *sim, struct sim_client *c)
{
    struct sim_rng *rng = &sim->rng_workload;
    struct sim_kv_command *cmd = &c->command;
    uint32_t key = (uint32_t)sim_rng_below(rng, sim->params.string_keys);
    snprintf(cmd->key, sizeof(cmd->key), "%s", sim->key_names[key]);
    c->group = sim->key_groups[key];
    c->coll = true;
    c->kind = LINCHECK_PUT; /* a write, for the client's bookkeeping; not in the history */
    cmd->op = SIM_KV_COLL;
    static struct sim_kvstore_args args;
    struct kv_command real = {0};
    real.op = sim_kvstore_pick(rng, cmd->key, &args, &real.delta);
    real.arg_count = args.count;
    real.args = args.args;
    static uint8_t bytes[SIM_KV_REAL_BYTES_MAX];
    size_t len = 0;
    const char *reason = NULL;
    int rc = kv_command_encode(&real, bytes, sizeof(bytes), &len, &reason);
    assert(rc == KV_OK && "the workload draws valid commands only");
    (void)rc;
    snprintf(cmd->value, sizeof(cmd->value), "%s", kv_op_name(real.op));
    cmd->real = bytes;
    cmd->real_len = (uint32_t)len;
    int n = sim_kv_command_encode(cmd, c->data, sizeof(c->data));
    assert(n > 0);
    c->data_len = (uint32_t)n;
}

void sim_kvstore_seed_end(struct sim *sim)
{
    for (uint32_t g = 0; g < sim->group_count && !sim_failed(sim); g++) {
        for (uint32_t a = 0; a < sim->node_count; a++) {
            struct sim_replica *ra = sim_replica(sim, a, g);
            uint64_t index_a = 0, term_a = 0, digest_a = 0;
            if (ra->kv == NULL) continue;
            kv_applied(ra->kv, &index_a, &term_a);
            if (sim_kvstore_records_digest(ra->kv, &digest_a) != 0) continue;
            for (uint32_t b = a + 1; b < sim->node_count; b++) {
                struct sim_replica *rb = sim_replica(sim, b, g);
                uint64_t index_b = 0, term_b = 0, digest_b = 0;
                if (rb->kv == NULL) continue;
                kv_applied(rb->kv, &index_b, &term_b);
                if (index_b != index_a || sim_kvstore_records_digest(rb->kv, &digest_b) != 0)
                    continue;
                if (digest_a != digest_b || ra->kv_results != rb->kv_results) {
                    sim_check_fail(&sim->checks[g], "kv store", "nodes %u and %u applied %"
                                   PRIu64 " entries and hold different stores", a + 1, b + 1,
                                   index_a);
                    return;
                }
                sim->result->kv_compared++;
            }
        }
    }
}
