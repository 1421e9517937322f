/*
 * commands_types.c — the hash, set and list commands, and OBJECT ENCODING.
 *
 * The node does not parse their arguments: each travels as a kv command of its op with the
 * client's arguments (storage/kv_command.h), and storage/kv_types.c checks and runs it, with
 * Redis's error texts, the same way in a write's apply, in a read, and inside MULTI (where,
 * as in Redis, a bad argument is EXEC's element). Writes go through the log like every
 * write (node_cmd_write); reads through ReadIndex, then kv_read_run on the group's store.
 *
 * Sorted sets (storage/kv_zset.c) travel the same way; ZRANDMEMBER draws its seed as
 * SRANDMEMBER does.
 *
 * Random choices: SPOP's seed is drawn here, on the node that proposes it, and travels in the
 * log entry, so every replica pops the same members. SRANDMEMBER and HRANDFIELD only read:
 * the serving node draws their seed (inside MULTI, the queuing node, into the entry).
 */
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"
#include "storage/kv_command.h"

const char node_error_wrongtype[] =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

struct node_type_command {
    const char *name;
    uint8_t op;
    uint8_t flags;
};

static const struct node_type_command type_commands[] = {
    {"HSET", KV_OP_HSET, 0},
    {"HMSET", KV_OP_HSET, KV_FLAG_OK},
    {"HSETNX", KV_OP_HSET, KV_FLAG_NX},
    {"HDEL", KV_OP_HDEL, 0},
    {"HINCRBY", KV_OP_HINCRBY, 0},
    {"HINCRBYFLOAT", KV_OP_HINCRBYFLOAT, 0},
    {"HGET", KV_OP_HGET, 0},
    {"HMGET", KV_OP_HMGET, 0},
    {"HEXISTS", KV_OP_HEXISTS, 0},
    {"HLEN", KV_OP_HLEN, 0},
    {"HKEYS", KV_OP_HKEYS, 0},
    {"HVALS", KV_OP_HVALS, 0},
    {"HGETALL", KV_OP_HGETALL, 0},
    {"HSTRLEN", KV_OP_HSTRLEN, 0},
    {"HRANDFIELD", KV_OP_HRANDFIELD, 0},
    {"HSCAN", KV_OP_HSCAN, 0},
    {"SADD", KV_OP_SADD, 0},
    {"SREM", KV_OP_SREM, 0},
    {"SISMEMBER", KV_OP_SISMEMBER, 0},
    {"SMISMEMBER", KV_OP_SMISMEMBER, 0},
    {"SMEMBERS", KV_OP_SMEMBERS, 0},
    {"SCARD", KV_OP_SCARD, 0},
    {"SPOP", KV_OP_SPOP, 0},
    {"SRANDMEMBER", KV_OP_SRANDMEMBER, 0},
    {"SMOVE", KV_OP_SMOVE, 0},
    {"SINTER", KV_OP_SINTER, 0},
    {"SUNION", KV_OP_SUNION, 0},
    {"SDIFF", KV_OP_SDIFF, 0},
    {"SINTERSTORE", KV_OP_SINTERSTORE, 0},
    {"SUNIONSTORE", KV_OP_SUNIONSTORE, 0},
    {"SDIFFSTORE", KV_OP_SDIFFSTORE, 0},
    {"SINTERCARD", KV_OP_SINTERCARD, 0},
    {"SSCAN", KV_OP_SSCAN, 0},
    {"LPUSH", KV_OP_LPUSH, 0},
    {"RPUSH", KV_OP_RPUSH, 0},
    {"LPUSHX", KV_OP_LPUSHX, 0},
    {"RPUSHX", KV_OP_RPUSHX, 0},
    {"LPOP", KV_OP_LPOP, 0},
    {"RPOP", KV_OP_RPOP, 0},
    {"LLEN", KV_OP_LLEN, 0},
    {"LRANGE", KV_OP_LRANGE, 0},
    {"LINDEX", KV_OP_LINDEX, 0},
    {"LSET", KV_OP_LSET, 0},
    {"LTRIM", KV_OP_LTRIM, 0},
    {"LREM", KV_OP_LREM, 0},
    {"LINSERT", KV_OP_LINSERT, 0},
    {"LPOS", KV_OP_LPOS, 0},
    {"LMOVE", KV_OP_LMOVE, 0},
    {"RPOPLPUSH", KV_OP_RPOPLPUSH, 0},
    {"ZADD", KV_OP_ZADD, 0},
    {"ZINCRBY", KV_OP_ZINCRBY, 0},
    {"ZREM", KV_OP_ZREM, 0},
    {"ZSCORE", KV_OP_ZSCORE, 0},
    {"ZMSCORE", KV_OP_ZMSCORE, 0},
    {"ZCARD", KV_OP_ZCARD, 0},
    {"ZCOUNT", KV_OP_ZCOUNT, 0},
    {"ZLEXCOUNT", KV_OP_ZLEXCOUNT, 0},
    {"ZRANGE", KV_OP_ZRANGE, 0},
    {"ZRANGEBYSCORE", KV_OP_ZRANGEBYSCORE, 0},
    {"ZREVRANGEBYSCORE", KV_OP_ZREVRANGEBYSCORE, 0},
    {"ZRANGEBYLEX", KV_OP_ZRANGEBYLEX, 0},
    {"ZREVRANGEBYLEX", KV_OP_ZREVRANGEBYLEX, 0},
    {"ZREVRANGE", KV_OP_ZREVRANGE, 0},
    {"ZRANK", KV_OP_ZRANK, 0},
    {"ZREVRANK", KV_OP_ZREVRANK, 0},
    {"ZPOPMIN", KV_OP_ZPOPMIN, 0},
    {"ZPOPMAX", KV_OP_ZPOPMAX, 0},
    {"ZRANGESTORE", KV_OP_ZRANGESTORE, 0},
    {"ZUNIONSTORE", KV_OP_ZUNIONSTORE, 0},
    {"ZINTERSTORE", KV_OP_ZINTERSTORE, 0},
    {"ZRANDMEMBER", KV_OP_ZRANDMEMBER, 0},
    {"ZSCAN", KV_OP_ZSCAN, 0},
    {"ZREMRANGEBYSCORE", KV_OP_ZREMRANGEBYSCORE, 0},
    {"ZREMRANGEBYRANK", KV_OP_ZREMRANGEBYRANK, 0},
    {"ZREMRANGEBYLEX", KV_OP_ZREMRANGEBYLEX, 0},
    /* Expiry: key-level, any type (storage/kv_expiry.c). */
    {"EXPIRE", KV_OP_EXPIRE, 0},
    {"PEXPIRE", KV_OP_PEXPIRE, 0},
    {"EXPIREAT", KV_OP_EXPIREAT, 0},
    {"PEXPIREAT", KV_OP_PEXPIREAT, 0},
    {"PERSIST", KV_OP_PERSIST, 0},
    {"GETEX", KV_OP_GETEX, 0},
    {"TTL", KV_OP_TTL, 0},
    {"PTTL", KV_OP_PTTL, 0},
    {"EXPIRETIME", KV_OP_EXPIRETIME, 0},
    {"PEXPIRETIME", KV_OP_PEXPIRETIME, 0},
};

static const struct node_type_command *type_command_find(const struct resp_arg *name)
{
    for (size_t i = 0; i < sizeof(type_commands) / sizeof(type_commands[0]); i++)
        if (node_arg_is(name, type_commands[i].name))
            return &type_commands[i];
    return NULL;
}

bool node_types_parse(const struct node_exec *e, struct kv_command *c)
{
    const struct node_type_command *t = type_command_find(&e->argv[0]);
    if (t == NULL || kv_op_is_collection_read(t->op))
        return false;
    c->op = t->op;
    c->flags = t->flags;
    c->delta = kv_op_is_random(t->op) ? (int64_t)node_random_u64() : 0;
    return true;
}

uint8_t node_types_read_op(const struct resp_arg *name)
{
    const struct node_type_command *t = type_command_find(name);
    return t != NULL && kv_op_is_collection_read(t->op) ? t->op : 0;
}

void node_cmd_types_read(struct node_exec *e)
{
    node_cmd_read(e, NODE_READ_TYPES, 2);
}

void node_types_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                      uint32_t argc)
{
    uint8_t op = node_types_read_op(&argv[0]);
    assert(op != 0 && argc >= 2);
    struct kv_bytes *args = calloc(argc, sizeof(*args));
    assert(args != NULL);
    for (uint32_t i = 1; i < argc; i++)
        args[i - 1] = (struct kv_bytes){.data = (const uint8_t *)argv[i].data, .len = argv[i].len};
    struct kv_command command = {.op = op, .arg_count = argc - 1, .args = args};
    if (kv_op_is_random(op))
        command.delta = (int64_t)node_random_u64();
    struct kv_result result;
    if (kv_read_run(group->kv, &command, &result) != KV_OK)
        resp_reply_error(out, "ERR storage read failed", 23);
    else
        node_reply_kv_result(out, &result);
    free(args);
}

bool node_types_movable_keys(const struct resp_arg *argv, uint32_t argc, uint32_t *first,
                             uint32_t *count, uint32_t *extra)
{
    int64_t numkeys = 0;
    *extra = 0;
    if (argc >= 4 && (node_arg_is(&argv[0], "ZUNIONSTORE") ||
                      node_arg_is(&argv[0], "ZINTERSTORE"))) {
        /* dst numkeys key...: the destination, then the inputs after numkeys. */
        if (!resp_string_to_int64(argv[2].data, argv[2].len, &numkeys) || numkeys < 1 ||
            numkeys > (int64_t)argc - 3)
            return false;
        *extra = 1;
        *first = 3;
        *count = (uint32_t)numkeys;
        return true;
    }
    if (argc < 3 || !node_arg_is(&argv[0], "SINTERCARD") ||
        !resp_string_to_int64(argv[1].data, argv[1].len, &numkeys) || numkeys < 1 ||
        numkeys > (int64_t)argc - 2)
        return false;
    *first = 2;
    *count = (uint32_t)numkeys;
    return true;
}

/* OBJECT ENCODING key: the honest name of how chorus keeps the value. A string is bytes as
 * given ("raw"); a hash or a set is one LMDB record per element, reached through a hash
 * order, which is Redis's "hashtable" and not its compact "listpack" or "intset"; a list is
 * one record per element at consecutive positions, a node per element as in Redis's old
 * "linkedlist", not its "quicklist" of packed nodes; a sorted set is a record per member
 * plus an ordered score index, Redis's "skiplist" encoding (a dict and an ordered index),
 * never its "listpack". */
void node_cmd_object(struct node_exec *e)
{
    if (node_arg_is(&e->argv[1], "ENCODING")) {
        if (e->argc != 3) {
            node_exec_error(e, "ERR wrong number of arguments for 'object|encoding' command");
            return;
        }
        node_cmd_read(e, NODE_READ_OBJECT, 3);
        return;
    }
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                     "chorus has OBJECT ENCODING only.",
                     (int)(e->argv[1].len > 128 ? 128 : e->argv[1].len), e->argv[1].data);
    (void)n;
    node_exec_error(e, text);
}

void node_object_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                       uint32_t argc)
{
    assert(argc == 3);
    int type = KV_TYPE_NONE;
    uint64_t count = 0;
    if (kv_key_type(group->kv, (const uint8_t *)argv[2].data, argv[2].len, &type, &count) !=
        KV_OK) {
        resp_reply_error(out, "ERR storage read failed", 23);
        return;
    }
    if (type == KV_TYPE_NONE) {
        resp_reply_null(out);
        return;
    }
    const char *encoding = type == KV_TYPE_STRING ? "raw"
                           : type == KV_TYPE_LIST ? "linkedlist"
                           : type == KV_TYPE_ZSET ? "skiplist" : "hashtable";
    resp_reply_bulk(out, encoding, strlen(encoding));
}
