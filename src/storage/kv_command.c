/*
 * kv_command.c — encoding and bounds-checked decoding of client commands (see kv_command.h).
 */
#include "storage/kv_command.h"

#include <assert.h>
#include <string.h>

_Static_assert(KV_COMMAND_HEADER_BYTES == 4 + 8 + 4, "header layout");
_Static_assert(KV_KEY_BYTES_MAX + KV_VALUE_BYTES_MAX + 64 <= KV_COMMAND_BYTES_MAX,
               "a SET of the largest key and value fits in one command");

static const char *const kv_op_names[KV_OP_MAX + 1] = {
    [KV_OP_SET] = "set",       [KV_OP_SETNX] = "setnx",   [KV_OP_GETSET] = "getset",
    [KV_OP_GETDEL] = "getdel", [KV_OP_DEL] = "del",       [KV_OP_CAS] = "cas",
    [KV_OP_INCRBY] = "incrby", [KV_OP_APPEND] = "append", [KV_OP_MSET] = "mset",
    [KV_OP_MSETNX] = "msetnx", [KV_OP_FLUSHALL] = "flushall", [KV_OP_INCRBYFLOAT] = "incrbyfloat",
    [KV_OP_SETRANGE] = "setrange", [KV_OP_SETBIT] = "setbit", [KV_OP_RENAME] = "rename",
    [KV_OP_COPY] = "copy",     [KV_OP_GET] = "get",       [KV_OP_MGET] = "mget",
    [KV_OP_EXISTS] = "exists", [KV_OP_STRLEN] = "strlen",
    [KV_OP_HSET] = "hset", [KV_OP_HDEL] = "hdel", [KV_OP_HINCRBY] = "hincrby",
    [KV_OP_HINCRBYFLOAT] = "hincrbyfloat", [KV_OP_HGET] = "hget", [KV_OP_HMGET] = "hmget",
    [KV_OP_HEXISTS] = "hexists", [KV_OP_HLEN] = "hlen", [KV_OP_HKEYS] = "hkeys",
    [KV_OP_HVALS] = "hvals", [KV_OP_HGETALL] = "hgetall", [KV_OP_HSTRLEN] = "hstrlen",
    [KV_OP_HRANDFIELD] = "hrandfield", [KV_OP_HSCAN] = "hscan", [KV_OP_SADD] = "sadd",
    [KV_OP_SREM] = "srem", [KV_OP_SISMEMBER] = "sismember", [KV_OP_SMISMEMBER] = "smismember",
    [KV_OP_SMEMBERS] = "smembers", [KV_OP_SCARD] = "scard", [KV_OP_SPOP] = "spop",
    [KV_OP_SRANDMEMBER] = "srandmember", [KV_OP_SMOVE] = "smove", [KV_OP_SINTER] = "sinter",
    [KV_OP_SUNION] = "sunion", [KV_OP_SDIFF] = "sdiff", [KV_OP_SINTERSTORE] = "sinterstore",
    [KV_OP_SUNIONSTORE] = "sunionstore", [KV_OP_SDIFFSTORE] = "sdiffstore",
    [KV_OP_SINTERCARD] = "sintercard", [KV_OP_SSCAN] = "sscan",
    [KV_OP_LPUSH] = "lpush", [KV_OP_RPUSH] = "rpush", [KV_OP_LPUSHX] = "lpushx",
    [KV_OP_RPUSHX] = "rpushx", [KV_OP_LPOP] = "lpop", [KV_OP_RPOP] = "rpop",
    [KV_OP_LLEN] = "llen", [KV_OP_LRANGE] = "lrange", [KV_OP_LINDEX] = "lindex",
    [KV_OP_LSET] = "lset", [KV_OP_LTRIM] = "ltrim", [KV_OP_LREM] = "lrem",
    [KV_OP_LINSERT] = "linsert", [KV_OP_LPOS] = "lpos", [KV_OP_LMOVE] = "lmove",
    [KV_OP_RPOPLPUSH] = "rpoplpush", [KV_OP_BLPOP] = "blpop", [KV_OP_BRPOP] = "brpop",
    [KV_OP_ZADD] = "zadd", [KV_OP_ZINCRBY] = "zincrby", [KV_OP_ZREM] = "zrem",
    [KV_OP_ZSCORE] = "zscore", [KV_OP_ZMSCORE] = "zmscore", [KV_OP_ZCARD] = "zcard",
    [KV_OP_ZCOUNT] = "zcount", [KV_OP_ZLEXCOUNT] = "zlexcount", [KV_OP_ZRANGE] = "zrange",
    [KV_OP_ZRANGEBYSCORE] = "zrangebyscore", [KV_OP_ZREVRANGEBYSCORE] = "zrevrangebyscore",
    [KV_OP_ZRANGEBYLEX] = "zrangebylex", [KV_OP_ZREVRANGEBYLEX] = "zrevrangebylex",
    [KV_OP_ZREVRANGE] = "zrevrange", [KV_OP_ZRANK] = "zrank", [KV_OP_ZREVRANK] = "zrevrank",
    [KV_OP_ZPOPMIN] = "zpopmin", [KV_OP_ZPOPMAX] = "zpopmax",
    [KV_OP_ZRANGESTORE] = "zrangestore", [KV_OP_ZUNIONSTORE] = "zunionstore",
    [KV_OP_ZINTERSTORE] = "zinterstore", [KV_OP_ZRANDMEMBER] = "zrandmember",
    [KV_OP_ZSCAN] = "zscan", [KV_OP_ZREMRANGEBYSCORE] = "zremrangebyscore",
    [KV_OP_ZREMRANGEBYRANK] = "zremrangebyrank", [KV_OP_ZREMRANGEBYLEX] = "zremrangebylex",
    [KV_OP_EXPIRE] = "expire", [KV_OP_PEXPIRE] = "pexpire", [KV_OP_EXPIREAT] = "expireat",
    [KV_OP_PEXPIREAT] = "pexpireat", [KV_OP_PERSIST] = "persist", [KV_OP_GETEX] = "getex",
    [KV_OP_TTL] = "ttl", [KV_OP_PTTL] = "pttl", [KV_OP_EXPIRETIME] = "expiretime",
    [KV_OP_PEXPIRETIME] = "pexpiretime", [KV_OP_EXPIRE_DUE] = "expire-due",
};

/* The ops that exist: 1 .. the last list op, the sorted set ops and the expiry ops
 * (kv_command.h). */
static bool kv_op_known(uint8_t op)
{
    return (op >= 1 && op <= KV_OP_LIST_LAST) ||
           (op >= KV_OP_ZSET_FIRST && op <= KV_OP_ZSET_LAST) ||
           (op >= KV_OP_EXPIRY_FIRST && op <= KV_OP_EXPIRY_LAST);
}

bool kv_op_is_random(uint8_t op)
{
    return op == KV_OP_SPOP || op == KV_OP_SRANDMEMBER || op == KV_OP_HRANDFIELD ||
           op == KV_OP_ZRANDMEMBER;
}

const char *kv_op_name(uint8_t op)
{
    if (!kv_op_known(op)) {
        return "unknown";
    }
    return kv_op_names[op];
}

/* Which argument positions hold keys and which hold values, per op. */
enum kv_arg_shape {
    KV_SHAPE_KEY_VALUE,      /* k v */
    KV_SHAPE_KEY,            /* k */
    KV_SHAPE_KEYS,           /* k... */
    KV_SHAPE_KEY_VALUE_VALUE,/* k v v */
    KV_SHAPE_PAIRS,          /* k v ... */
    KV_SHAPE_NONE,           /* no argument */
    KV_SHAPE_KEY_KEY,        /* k k */
    KV_SHAPE_RAW,            /* a collection command's client arguments, key first (1..) */
};

static enum kv_arg_shape kv_command_shape(uint8_t op)
{
    if (op == KV_OP_EXPIRE_DUE) {
        return KV_SHAPE_NONE;
    }
    if (op >= KV_OP_COLLECTION_FIRST) {
        return KV_SHAPE_RAW;
    }
    switch (op) {
    case KV_OP_SET:
    case KV_OP_SETNX:
    case KV_OP_GETSET:
    case KV_OP_APPEND:
    case KV_OP_INCRBYFLOAT:
    case KV_OP_SETRANGE:
        return KV_SHAPE_KEY_VALUE;
    case KV_OP_GETDEL:
    case KV_OP_INCRBY:
    case KV_OP_SETBIT:
    case KV_OP_GET:
    case KV_OP_STRLEN:
        return KV_SHAPE_KEY;
    case KV_OP_FLUSHALL:
        return KV_SHAPE_NONE;
    case KV_OP_RENAME:
    case KV_OP_COPY:
        return KV_SHAPE_KEY_KEY;
    case KV_OP_DEL:
    case KV_OP_MGET:
    case KV_OP_EXISTS:
        return KV_SHAPE_KEYS;
    case KV_OP_CAS:
        return KV_SHAPE_KEY_VALUE_VALUE;
    default:
        assert(op == KV_OP_MSET || op == KV_OP_MSETNX);
        return KV_SHAPE_PAIRS;
    }
}

static bool kv_command_arity_ok(enum kv_arg_shape shape, uint32_t count)
{
    switch (shape) {
    case KV_SHAPE_KEY_VALUE:
        return count == 2;
    case KV_SHAPE_KEY:
        return count == 1;
    case KV_SHAPE_KEYS:
        return count >= 1;
    case KV_SHAPE_KEY_VALUE_VALUE:
        return count == 3;
    case KV_SHAPE_PAIRS:
        return count >= 2 && count % 2 == 0;
    case KV_SHAPE_NONE:
        return count == 0;
    case KV_SHAPE_KEY_KEY:
        return count == 2;
    case KV_SHAPE_RAW:
        return count >= 1;
    }
    return false;
}

/* Position i is a key for every shape except the value slots of pairs and k v [v]. */
static bool kv_command_arg_is_key(enum kv_arg_shape shape, uint32_t i)
{
    if (shape == KV_SHAPE_KEYS || shape == KV_SHAPE_KEY_KEY) {
        return true;
    }
    if (shape == KV_SHAPE_PAIRS) {
        return i % 2 == 0;
    }
    return i == 0;
}

bool kv_command_key_arg(const struct kv_command *command, uint32_t i)
{
    uint8_t op = command->op;
    enum kv_arg_shape shape = kv_command_shape(op);
    if (shape != KV_SHAPE_RAW) {
        return kv_command_arg_is_key(shape, i);
    }
    /* The collection ops of one key: the rest of their arguments are fields, members,
     * values or options. */
    bool one_key = (op >= KV_OP_HSET && op <= KV_OP_HSCAN) ||
                   (op >= KV_OP_SADD && op <= KV_OP_SRANDMEMBER) || op == KV_OP_SSCAN ||
                   (op >= KV_OP_LPUSH && op <= KV_OP_LPOS) ||
                   (op >= KV_OP_ZADD && op <= KV_OP_ZPOPMAX) ||
                   (op >= KV_OP_ZRANDMEMBER && op <= KV_OP_ZSET_LAST) ||
                   (op >= KV_OP_EXPIRY_FIRST && op <= KV_OP_EXPIRY_LAST);
    return one_key ? i == 0 : true;
}

static uint8_t kv_command_flags_allowed(uint8_t op)
{
    switch (op) {
    case KV_OP_SET:
        return KV_FLAG_NX | KV_FLAG_XX | KV_FLAG_GET | KV_FLAG_KEEPTTL | KV_FLAG_EXPIRE;
    case KV_OP_SETBIT:
        return KV_FLAG_BIT;
    case KV_OP_RENAME:
        return KV_FLAG_NX;
    case KV_OP_COPY:
        return KV_FLAG_REPLACE;
    case KV_OP_HSET:
        return KV_FLAG_NX | KV_FLAG_OK;
    default:
        return 0;
    }
}

/* The delta field: INCRBY's increment (any value), SETRANGE's byte offset and SETBIT's bit
 * offset (never negative; SETBIT's bounded so that the value stays within the limit), zero
 * for the other ops. */
static bool kv_command_delta_ok(uint8_t op, uint8_t flags, int64_t delta)
{
    switch (op) {
    case KV_OP_SET:
        return (flags & KV_FLAG_EXPIRE) ? delta != 0 && delta != INT64_MIN : delta == 0;
    case KV_OP_INCRBY:
        return true;
    case KV_OP_SETRANGE:
        return delta >= 0;
    case KV_OP_SETBIT:
        return delta >= 0 && delta <= KV_BIT_OFFSET_MAX;
    case KV_OP_SPOP:
    case KV_OP_SRANDMEMBER:
    case KV_OP_HRANDFIELD:
    case KV_OP_ZRANDMEMBER:
        return true; /* the seed of the random choice */
    default:
        return delta == 0;
    }
}

int kv_command_check(const struct kv_command *command, const char **reason)
{
    assert(command != NULL);
    assert(reason != NULL);
    if (!kv_op_known(command->op)) {
        *reason = "ERR unknown command";
        return KV_ERR_INVALID;
    }
    if ((command->flags & ~kv_command_flags_allowed(command->op)) != 0 ||
        ((command->flags & KV_FLAG_NX) && (command->flags & KV_FLAG_XX)) ||
        ((command->flags & KV_FLAG_KEEPTTL) && (command->flags & KV_FLAG_EXPIRE))) {
        *reason = "ERR syntax error";
        return KV_ERR_INVALID;
    }
    if (!kv_command_delta_ok(command->op, command->flags, command->delta)) {
        *reason = "ERR syntax error";
        return KV_ERR_INVALID;
    }
    enum kv_arg_shape shape = kv_command_shape(command->op);
    if (command->arg_count > KV_COMMAND_ARGS_MAX || !kv_command_arity_ok(shape, command->arg_count)) {
        *reason = "ERR wrong number of arguments";
        return KV_ERR_INVALID;
    }
    assert(command->args != NULL);
    for (uint32_t i = 0; i < command->arg_count; i++) {
        const struct kv_bytes *arg = &command->args[i];
        assert(arg->data != NULL || arg->len == 0);
        if (kv_command_arg_is_key(shape, i) && arg->len > KV_KEY_BYTES_MAX) {
            *reason = "ERR key too large (max 4096 bytes)";
            return KV_ERR_TOO_LARGE;
        }
        if (!kv_command_arg_is_key(shape, i) && arg->len > KV_VALUE_BYTES_MAX) {
            *reason = "ERR value too large (max 1048576 bytes)";
            return KV_ERR_TOO_LARGE;
        }
    }
    return KV_OK;
}

size_t kv_command_encoded_bytes(const struct kv_command *command)
{
    size_t bytes = KV_COMMAND_HEADER_BYTES;
    for (uint32_t i = 0; i < command->arg_count; i++) {
        bytes += 4 + command->args[i].len;
    }
    return bytes;
}

static void kv_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t kv_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void kv_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t kv_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

int kv_command_encode(const struct kv_command *command, uint8_t *buf, size_t cap, size_t *len,
                      const char **reason)
{
    assert(len != NULL);
    int rv = kv_command_check(command, reason);
    if (rv != KV_OK) {
        return rv;
    }
    size_t bytes = kv_command_encoded_bytes(command);
    *len = bytes;
    if (bytes > KV_COMMAND_BYTES_MAX) {
        *reason = "ERR command too large";
        return KV_ERR_TOO_LARGE;
    }
    if (bytes > cap) {
        *reason = "ERR command buffer too small";
        return KV_ERR_BUFFER;
    }
    buf[0] = KV_COMMAND_VERSION;
    buf[1] = command->op;
    buf[2] = command->flags;
    buf[3] = 0;
    kv_put_u64(buf + 4, (uint64_t)command->delta);
    kv_put_u32(buf + 12, command->arg_count);
    size_t at = KV_COMMAND_HEADER_BYTES;
    for (uint32_t i = 0; i < command->arg_count; i++) {
        const struct kv_bytes *arg = &command->args[i];
        kv_put_u32(buf + at, (uint32_t)arg->len);
        at += 4;
        if (arg->len > 0) {
            memcpy(buf + at, arg->data, arg->len);
        }
        at += arg->len;
    }
    assert(at == bytes);
    return KV_OK;
}

/*
 * Every length is compared with what remains before it is used, so a corrupt entry ends in
 * KV_ERR_MALFORMED, never in a read past `len`; trailing bytes are malformed too, so one
 * encoding has exactly one meaning.
 */
int kv_command_decode(const uint8_t *data, size_t len, struct kv_command *command,
                      struct kv_bytes *args, size_t args_cap, const char **reason)
{
    assert(command != NULL && reason != NULL);
    assert(data != NULL || len == 0);
    *reason = "ERR malformed command";
    if (len < KV_COMMAND_HEADER_BYTES || len > KV_COMMAND_BYTES_MAX) {
        return KV_ERR_MALFORMED;
    }
    if (data[0] != KV_COMMAND_VERSION) {
        *reason = "ERR unknown command encoding version";
        return KV_ERR_VERSION;
    }
    if (data[3] != 0) {
        return KV_ERR_MALFORMED;
    }
    command->op = data[1];
    command->flags = data[2];
    command->delta = (int64_t)kv_get_u64(data + 4);
    command->arg_count = kv_get_u32(data + 12);
    command->args = args;
    if (command->arg_count > KV_COMMAND_ARGS_MAX || command->arg_count > args_cap ||
        command->arg_count > (len - KV_COMMAND_HEADER_BYTES) / 4) {
        return KV_ERR_MALFORMED;
    }
    size_t at = KV_COMMAND_HEADER_BYTES;
    for (uint32_t i = 0; i < command->arg_count; i++) {
        if (len - at < 4) {
            return KV_ERR_MALFORMED;
        }
        size_t arg_len = kv_get_u32(data + at);
        at += 4;
        if (arg_len > len - at) {
            return KV_ERR_MALFORMED;
        }
        args[i].data = data + at;
        args[i].len = arg_len;
        at += arg_len;
    }
    if (at != len) {
        return KV_ERR_MALFORMED;
    }
    return kv_command_check(command, reason);
}
