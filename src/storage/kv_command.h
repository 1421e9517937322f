/*
 * kv_command.h — the binary encoding of one client command inside a consensus log entry.
 *
 * Layout (little-endian):
 *     u8  version (KV_COMMAND_VERSION)
 *     u8  op      (enum kv_op)
 *     u8  flags   (KV_FLAG_*; only those the op allows)
 *     u8  reserved, zero
 *     i64 delta   (KV_OP_INCRBY; zero for the other ops)
 *     u32 arg_count
 *     arg_count times: u32 length, then that many bytes
 *
 * Arguments per op (k = key, v = value), with the Redis command each one serves:
 *     SET     k v        flags NX | XX (not both), GET      SET k v [NX|XX] [GET]
 *     SETNX   k v                                           SETNX        -> 1 / 0
 *     GETSET  k v                                           GETSET       -> old / null
 *     GETDEL  k                                             GETDEL       -> old / null
 *     DEL     k...       (1..)                              DEL, UNLINK  -> number deleted
 *     CAS     k expected new                                CAS          -> 1 swapped / 0
 *     INCRBY  k          delta                              INCR, INCRBY, DECR, DECRBY
 *     APPEND  k v                                           APPEND       -> new length
 *     MSET    k v...     (1.. pairs)                        MSET         -> OK
 *     MSETNX  k v...     (1.. pairs)                        MSETNX       -> 1 all set / 0
 *     FLUSHALL           (none)                             FLUSHALL, FLUSHDB -> OK
 *     INCRBYFLOAT k incr (incr as the client's text)        INCRBYFLOAT  -> new value
 *     SETRANGE k v       delta = offset (>= 0)              SETRANGE     -> new length
 *     SETBIT  k          delta = bit offset (>= 0), BIT     SETBIT       -> old bit
 *     RENAME  k newkey   flags NX                           RENAME -> OK, RENAMENX -> 1 / 0
 *     COPY    k newkey   flags REPLACE                      COPY         -> 1 / 0
 * SET's expiry: flag KEEPTTL keeps the key's deadline; flag EXPIRE sets one from delta, in
 * milliseconds: > 0 relative to the entry's log time (EX, PX, SETEX, PSETEX), < 0 the
 * negated absolute time (EXAT, PXAT). Without either, SET clears the deadline, as Redis.
 * Expiry (kv_expiry.c), the client's arguments as given, parsed on apply like collections':
 *     EXPIRE PEXPIRE EXPIREAT PEXPIREAT k n [NX|XX|GT|LT]
 *     PERSIST k                  GETEX k [EX|PX|EXAT|PXAT n | PERSIST]
 *     TTL PTTL EXPIRETIME PEXPIRETIME k (reads)
 *     EXPIRE_DUE (none)          the leader's clock entry: deletes up to
 *                                KV_EXPIRE_DUE_KEYS_MAX keys whose deadline passed
 * Reads, used inside a transaction (kv_tx.h), where they run at the transaction's place in
 * the log and see its earlier writes:
 *     GET     k                                             GET          -> value / null
 *     MGET    k...       (1..)                              MGET         -> array
 *     EXISTS  k...       (1..)                              EXISTS       -> count
 *     STRLEN  k                                             STRLEN       -> length
 *
 * Collections (kv_types.c): the client's arguments as given, key first, parsed and checked on
 * apply (or on read) with Redis's own error replies, so that an error inside MULTI is EXEC's
 * element as in Redis. HSET's flags: NX for HSETNX, OK for HMSET's +OK reply. The ops with a
 * random choice (SPOP, SRANDMEMBER, HRANDFIELD) carry its seed in delta, chosen once by the
 * node that proposed (or served) the command: every replica makes the same choice.
 *     HSET HDEL HINCRBY HINCRBYFLOAT HGET HMGET HEXISTS HLEN HKEYS HVALS HGETALL HSTRLEN
 *     HRANDFIELD HSCAN SADD SREM SISMEMBER SMISMEMBER SMEMBERS SCARD SPOP SRANDMEMBER SMOVE
 *     SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SINTERCARD SSCAN
 *     LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LTRIM LREM LINSERT LPOS
 *     LMOVE RPOPLPUSH
 *     ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANGE ZRANGEBYSCORE
 *     ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREVRANGE ZRANK ZREVRANK ZPOPMIN ZPOPMAX
 *     ZRANGESTORE ZUNIONSTORE ZINTERSTORE ZRANDMEMBER (a seed) ZSCAN ZREMRANGEBYSCORE
 *     ZREMRANGEBYRANK ZREMRANGEBYLEX (ops 100..125: the numbers between are unused)
 *     BLPOP BRPOP: the attempt of a blocking pop, its keys only (the timeout is the node's)
 *
 * The log bytes may be corrupt: kv_command_decode checks every bound and rejects, never reads
 * past the input. Decoded arguments point into the encoded bytes (borrowed from them).
 */
#ifndef CHORUS_KV_COMMAND_H
#define CHORUS_KV_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/kv.h"

enum {
    KV_COMMAND_VERSION = 1,
    KV_COMMAND_HEADER_BYTES = 16,
    KV_COMMAND_ARGS_MAX = 1u << 16,           /* arguments of one command (MSET, DEL) */
    KV_COMMAND_BYTES_MAX = 2u << 20,          /* = CN_ENTRY_DATA_BYTES_MAX */
};

enum kv_op {
    KV_OP_SET = 1,
    KV_OP_SETNX = 2,
    KV_OP_GETSET = 3,
    KV_OP_GETDEL = 4,
    KV_OP_DEL = 5,
    KV_OP_CAS = 6,
    KV_OP_INCRBY = 7,
    KV_OP_APPEND = 8,
    KV_OP_MSET = 9,
    KV_OP_MSETNX = 10,
    KV_OP_FLUSHALL = 11,
    KV_OP_INCRBYFLOAT = 12,
    KV_OP_SETRANGE = 13,
    KV_OP_SETBIT = 14,
    KV_OP_RENAME = 15,
    KV_OP_COPY = 16,
    KV_OP_GET = 17,
    KV_OP_MGET = 18,
    KV_OP_EXISTS = 19,
    KV_OP_STRLEN = 20,
    KV_OP_HSET = 21,
    KV_OP_HDEL = 22,
    KV_OP_HINCRBY = 23,
    KV_OP_HINCRBYFLOAT = 24,
    KV_OP_HGET = 25,
    KV_OP_HMGET = 26,
    KV_OP_HEXISTS = 27,
    KV_OP_HLEN = 28,
    KV_OP_HKEYS = 29,
    KV_OP_HVALS = 30,
    KV_OP_HGETALL = 31,
    KV_OP_HSTRLEN = 32,
    KV_OP_HRANDFIELD = 33,
    KV_OP_HSCAN = 34,
    KV_OP_SADD = 35,
    KV_OP_SREM = 36,
    KV_OP_SISMEMBER = 37,
    KV_OP_SMISMEMBER = 38,
    KV_OP_SMEMBERS = 39,
    KV_OP_SCARD = 40,
    KV_OP_SPOP = 41,
    KV_OP_SRANDMEMBER = 42,
    KV_OP_SMOVE = 43,
    KV_OP_SINTER = 44,
    KV_OP_SUNION = 45,
    KV_OP_SDIFF = 46,
    KV_OP_SINTERSTORE = 47,
    KV_OP_SUNIONSTORE = 48,
    KV_OP_SDIFFSTORE = 49,
    KV_OP_SINTERCARD = 50,
    KV_OP_SSCAN = 51,
    KV_OP_LPUSH = 52,
    KV_OP_RPUSH = 53,
    KV_OP_LPUSHX = 54,
    KV_OP_RPUSHX = 55,
    KV_OP_LPOP = 56,
    KV_OP_RPOP = 57,
    KV_OP_LLEN = 58,
    KV_OP_LRANGE = 59,
    KV_OP_LINDEX = 60,
    KV_OP_LSET = 61,
    KV_OP_LTRIM = 62,
    KV_OP_LREM = 63,
    KV_OP_LINSERT = 64,
    KV_OP_LPOS = 65,
    KV_OP_LMOVE = 66,
    KV_OP_RPOPLPUSH = 67,
    KV_OP_BLPOP = 68, /* BLPOP's attempt (node/blocking.c): k... -> [k, element] / null array */
    KV_OP_BRPOP = 69,
    /* Sorted sets (kv_zset.c) start at 100, leaving room below for other ops. */
    KV_OP_ZADD = 100,
    KV_OP_ZINCRBY = 101,
    KV_OP_ZREM = 102,
    KV_OP_ZSCORE = 103,
    KV_OP_ZMSCORE = 104,
    KV_OP_ZCARD = 105,
    KV_OP_ZCOUNT = 106,
    KV_OP_ZLEXCOUNT = 107,
    KV_OP_ZRANGE = 108,
    KV_OP_ZRANGEBYSCORE = 109,
    KV_OP_ZREVRANGEBYSCORE = 110,
    KV_OP_ZRANGEBYLEX = 111,
    KV_OP_ZREVRANGEBYLEX = 112,
    KV_OP_ZREVRANGE = 113,
    KV_OP_ZRANK = 114,
    KV_OP_ZREVRANK = 115,
    KV_OP_ZPOPMIN = 116,
    KV_OP_ZPOPMAX = 117,
    KV_OP_ZRANGESTORE = 118,
    KV_OP_ZUNIONSTORE = 119,
    KV_OP_ZINTERSTORE = 120,
    KV_OP_ZRANDMEMBER = 121,
    KV_OP_ZSCAN = 122,
    KV_OP_ZREMRANGEBYSCORE = 123,
    KV_OP_ZREMRANGEBYRANK = 124,
    KV_OP_ZREMRANGEBYLEX = 125,
    /* Expiry (kv_expiry.c): key-level ops of any type, numbered apart. */
    KV_OP_EXPIRE = 140,
    KV_OP_PEXPIRE = 141,
    KV_OP_EXPIREAT = 142,
    KV_OP_PEXPIREAT = 143,
    KV_OP_PERSIST = 144,
    KV_OP_GETEX = 145,
    KV_OP_TTL = 146,
    KV_OP_PTTL = 147,
    KV_OP_EXPIRETIME = 148,
    KV_OP_PEXPIRETIME = 149,
    KV_OP_EXPIRE_DUE = 150,
    KV_OP_COLLECTION_FIRST = KV_OP_HSET,
    KV_OP_LIST_FIRST = KV_OP_LPUSH,
    KV_OP_LIST_LAST = KV_OP_BRPOP,
    KV_OP_ZSET_FIRST = KV_OP_ZADD,
    KV_OP_ZSET_LAST = KV_OP_ZREMRANGEBYLEX,
    KV_OP_EXPIRY_FIRST = KV_OP_EXPIRE,
    KV_OP_EXPIRY_LAST = KV_OP_EXPIRE_DUE,
    KV_OP_MAX = KV_OP_EXPIRE_DUE,
};

enum {
    KV_FLAG_NX = 1u << 0,  /* SET only if the key does not exist */
    KV_FLAG_XX = 1u << 1,  /* SET only if the key exists */
    KV_FLAG_GET = 1u << 2, /* SET replies with the old value */
    KV_FLAG_BIT = 1u << 3, /* SETBIT: the bit is set (else cleared) */
    KV_FLAG_REPLACE = 1u << 4, /* COPY overwrites an existing destination */
    KV_FLAG_OK = 1u << 5,  /* HMSET: reply +OK instead of HSET's count */
    KV_FLAG_KEEPTTL = 1u << 6, /* SET keeps the key's deadline (else SET clears it) */
    KV_FLAG_EXPIRE = 1u << 7,  /* SET gives the key a deadline: delta (kv_command.h) */
    /* SETBIT's largest offset: the value it makes stays within KV_VALUE_BYTES_MAX. */
    KV_BIT_OFFSET_MAX = (int64_t)KV_VALUE_BYTES_MAX * 8 - 1,
};

/*
 * One command. For encoding, the caller fills op, flags, delta and args[arg_count] (borrowed
 * during the call). kv_command_decode fills the same fields, with args pointing into the
 * caller-supplied array, whose entries point into the encoded bytes.
 */
struct kv_command {
    uint8_t op;
    uint8_t flags;
    int64_t delta; /* INCRBY: the increment; SETRANGE, SETBIT: the offset */
    uint32_t arg_count;
    const struct kv_bytes *args;
};

const char *kv_op_name(uint8_t op);
/* Whether argument i of the command may name a key (before a write runs, its keys whose
 * deadline passed are deleted: kv_expiry.c). Errs on the side of yes: an op it does not
 * know treats every argument as a key. */
bool kv_command_key_arg(const struct kv_command *command, uint32_t i);
/* Whether an op's random choice comes from its seed (delta). */
bool kv_op_is_random(uint8_t op);

/*
 * Checks a command against its op's arity, flags and the key/value limits. Returns KV_OK,
 * or KV_ERR_INVALID / KV_ERR_TOO_LARGE with *reason set to a static Redis-style error
 * message ("ERR ..."), which the server may reply verbatim.
 */
int kv_command_check(const struct kv_command *command, const char **reason);

/* The number of bytes kv_command_encode writes for `command`. */
size_t kv_command_encoded_bytes(const struct kv_command *command);

/*
 * Checks and encodes a command into buf. Returns KV_OK with *len set; KV_ERR_BUFFER when cap
 * is too small (*len = bytes needed); or the kv_command_check error with *reason.
 */
int kv_command_encode(const struct kv_command *command, uint8_t *buf, size_t cap, size_t *len,
                      const char **reason);

/*
 * Decodes and checks one command. `args` has room for args_cap entries (KV_COMMAND_ARGS_MAX
 * covers every valid command). Returns KV_OK, KV_ERR_VERSION, KV_ERR_MALFORMED, or a
 * kv_command_check error; *reason is always set on failure.
 */
int kv_command_decode(const uint8_t *data, size_t len, struct kv_command *command,
                      struct kv_bytes *args, size_t args_cap, const char **reason);

#endif
