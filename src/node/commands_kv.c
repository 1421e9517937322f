/*
 * commands_kv.c — the key-value commands: writes go through consensus as kv commands
 * (storage/kv_command.h), reads through ReadIndex, then the local state machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/commands.h"
#include "storage/kv_command.h"


/* Redis's getExpireMillisecondsOrReply: the deadline in ms, as SET's delta (kv_command.h):
 * relative ones positive, absolute ones negated. The log time a relative deadline is added to
 * is the entry's, unknown here: the wall clock stands in for the overflow check. */
static const char *set_expire_delta(const struct resp_arg *arg, bool seconds, bool relative,
                                    const char *command, int64_t *delta)
{
    int64_t ms = 0;
    if (!resp_string_to_int64(arg->data, arg->len, &ms))
        return "ERR value is not an integer or out of range";
    const char *invalid = strcmp(command, "setex") == 0 ? "ERR invalid expire time in 'setex' command"
                          : strcmp(command, "psetex") == 0
                              ? "ERR invalid expire time in 'psetex' command"
                              : "ERR invalid expire time in 'set' command";
    if (ms <= 0 || (seconds && ms > INT64_MAX / 1000))
        return invalid;
    ms = seconds ? ms * 1000 : ms;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (relative && ms > INT64_MAX - (int64_t)now.tv_sec * 1000)
        return invalid;
    *delta = relative ? ms : -ms;
    return NULL;
}

/* SET's options after the key and value, as Redis's parseExtendedStringArgumentsOrReply. */
static const char *set_parse_options(const struct node_exec *e, struct kv_command *c)
{
    static const char *const words[4] = {"EX", "PX", "EXAT", "PXAT"};
    const struct resp_arg *a = e->argv;
    const struct resp_arg *expire = NULL;
    int unit = -1; /* the index in words of the expiry option given */
    for (uint32_t i = 3; i < e->argc; i++) {
        bool last = i + 1 == e->argc;
        int w = 0;
        while (w < 4 && !node_arg_is(&a[i], words[w]))
            w++;
        if (node_arg_is(&a[i], "NX") && !(c->flags & KV_FLAG_XX)) {
            c->flags |= KV_FLAG_NX;
        } else if (node_arg_is(&a[i], "XX") && !(c->flags & KV_FLAG_NX)) {
            c->flags |= KV_FLAG_XX;
        } else if (node_arg_is(&a[i], "GET")) {
            c->flags |= KV_FLAG_GET;
        } else if (node_arg_is(&a[i], "KEEPTTL") && unit < 0) {
            c->flags |= KV_FLAG_KEEPTTL;
        } else if (w < 4 && !(c->flags & KV_FLAG_KEEPTTL) && (unit < 0 || unit == w) && !last) {
            unit = w;
            expire = &a[++i];
        } else {
            return "ERR syntax error";
        }
    }
    if (expire == NULL)
        return NULL;
    c->flags |= KV_FLAG_EXPIRE;
    return set_expire_delta(expire, unit == 0 || unit == 2, unit < 2, "set", &c->delta);
}

/* Builds the kv command for a write. Returns a static Redis error text on bad syntax. */
static const char *write_parse(const struct node_exec *e, struct kv_command *c,
                               struct kv_bytes *args)
{
    const struct resp_arg *a = e->argv;
    const char *error = NULL;
    memset(c, 0, sizeof(*c));
    c->args = args;
    for (uint32_t i = 1; i < e->argc; i++)
        args[i - 1] = (struct kv_bytes){.data = (const uint8_t *)a[i].data, .len = a[i].len};
    c->arg_count = e->argc - 1;
    if (node_arg_is(&a[0], "SET")) {
        c->op = KV_OP_SET;
        c->arg_count = 2;
        return set_parse_options(e, c);
    } else if (node_arg_is(&a[0], "SETEX") || node_arg_is(&a[0], "PSETEX")) {
        bool seconds = node_arg_is(&a[0], "SETEX");
        c->op = KV_OP_SET;
        c->arg_count = 2;
        args[1] = args[2]; /* SETEX k seconds v: the kv command is SET k v with a deadline */
        c->flags = KV_FLAG_EXPIRE;
        return set_expire_delta(&a[2], seconds, true, seconds ? "setex" : "psetex", &c->delta);
    } else if (node_arg_is(&a[0], "SETNX")) {
        c->op = KV_OP_SETNX;
    } else if (node_arg_is(&a[0], "GETSET")) {
        c->op = KV_OP_GETSET;
    } else if (node_arg_is(&a[0], "GETDEL")) {
        c->op = KV_OP_GETDEL;
    } else if (node_arg_is(&a[0], "DEL") || node_arg_is(&a[0], "UNLINK")) {
        c->op = KV_OP_DEL;
    } else if (node_arg_is(&a[0], "CAS")) {
        c->op = KV_OP_CAS;
    } else if (node_arg_is(&a[0], "APPEND")) {
        c->op = KV_OP_APPEND;
    } else if (node_arg_is(&a[0], "MSET") || node_arg_is(&a[0], "MSETNX")) {
        if ((e->argc - 1) % 2 != 0)
            return NULL; /* arity: reported by the caller */
        c->op = node_arg_is(&a[0], "MSET") ? KV_OP_MSET : KV_OP_MSETNX;
    } else if (node_blocking_parse(e, c, &error)) {
        return error; /* its attempt (blocking.c); inside MULTI, the command itself */
    } else if (node_write_parse_string(e, c, args, &error)) {
        return error;
    } else if (node_types_parse(e, c)) {
        return NULL; /* its arguments are checked on apply (storage/kv_types.c) */
    } else {
        c->op = KV_OP_INCRBY;
        c->arg_count = 1;
        bool decrement = node_arg_is(&a[0], "DECR") || node_arg_is(&a[0], "DECRBY");
        int64_t delta = 1;
        if (e->argc == 3 && !resp_string_to_int64(a[2].data, a[2].len, &delta))
            return "ERR value is not an integer or out of range";
        if (decrement) {
            if (delta == INT64_MIN)
                return "ERR decrement would overflow";
            delta = -delta;
        }
        c->delta = delta;
    }
    return NULL;
}

/* Parses and encodes a write into a payload with room for the write tag and the stamp in front
 * (NODE_ENTRY_HEADER_BYTES, the stamp initialised). Returns
 * NULL with *payload (malloc'd) and *len (the command's bytes, without the tag) set, or the
 * Redis error text (NODE_ARITY_ERROR: the caller replies the arity error). */
const char *node_write_encode(const struct node_exec *e, uint8_t **payload, size_t *len)
{
    struct kv_bytes args_small[8];
    struct kv_bytes *args = e->argc <= 8 ? args_small : calloc(e->argc, sizeof(*args));
    assert(args != NULL);
    struct kv_command command;
    const char *error = write_parse(e, &command, args);
    *payload = NULL;
    if (error == NULL && command.op == 0)
        error = NODE_ARITY_ERROR;
    size_t bytes = error == NULL ? kv_command_encoded_bytes(&command) : 0;
    if (error == NULL && bytes + NODE_ENTRY_HEADER_BYTES > CN_ENTRY_DATA_BYTES_MAX)
        error = "ERR command too large";
    if (error == NULL) {
        *payload = malloc(NODE_ENTRY_HEADER_BYTES + bytes);
        assert(*payload != NULL);
        kv_stamp_init(*payload + NODE_WRITE_TAG_BYTES);
        if (kv_command_encode(&command, *payload + NODE_ENTRY_HEADER_BYTES, bytes, len, &error) !=
            KV_OK) {
            free(*payload);
            *payload = NULL;
            if (error == NULL)
                error = "ERR invalid command";
        }
    }
    if (args != args_small)
        free(args);
    return error;
}

void node_cmd_write(struct node_exec *e)
{
    uint8_t *payload;
    size_t len = 0;
    const char *error = node_write_encode(e, &payload, &len);
    if (error == NODE_ARITY_ERROR) {
        node_exec_wrong_arity(e);
        return;
    }
    if (error != NULL) {
        node_exec_error(e, error);
        return;
    }
    if (e->node->pending_requests >= e->node->config.pending_requests_max) {
        free(payload);
        node_exec_error(e, "-BUSY too many pending requests, the command was not executed");
        return;
    }
    /* S > 1: FLUSHALL and FLUSHDB empty every shard, one after another (node_cmd_write's
     * request moves on to the next shard as each applies). */
    bool flush = e->node->cluster_mode &&
                 (node_arg_is(&e->argv[0], "FLUSHALL") || node_arg_is(&e->argv[0], "FLUSHDB"));
    bool chain = flush && e->client->stand_in_scope == 0;
    if (flush && !chain) {
        /* One shard's part of another node's FLUSHALL (proxy.c): that shard alone. */
        struct node_group *scoped = e->node->groups[e->client->stand_in_scope - 1];
        if (scoped == NULL) {
            free(payload);
            node_exec_error(e, "ERR no replica of that shard here");
            return;
        }
        struct node_request *r = node_request_new(e->client, scoped);
        uint64_t tag = node_write_tag(e->node, r->id);
        memcpy(payload, &tag, NODE_WRITE_TAG_BYTES);
        r->payload = payload;
        r->payload_len = (uint32_t)(NODE_ENTRY_HEADER_BYTES + len);
        node_request_propose(e->node, r);
        return;
    }
    if (chain && e->node->groups[0] == NULL && !e->node->config.redirect) {
        /* Shard 0 has no replica here: the whole FLUSHALL goes shard by shard, relayed. */
        struct node_request *r = node_request_new(e->client, NULL);
        r->chain_write = true;
        r->payload = payload;
        r->payload_len = (uint32_t)(NODE_ENTRY_HEADER_BYTES + len);
        node_chain_write_relay(e->node, r, 0);
        return;
    }
    struct node_group *group = node_route(e);
    if (group == NULL) {
        free(payload);
        return;
    }
    struct node_request *r = node_request_new(e->client, group);
    r->chain_write = chain;
    uint64_t tag = node_write_tag(e->node, r->id);
    memcpy(payload, &tag, NODE_WRITE_TAG_BYTES);
    r->payload = payload;
    r->payload_len = (uint32_t)(NODE_ENTRY_HEADER_BYTES + len);
    node_request_propose(e->node, r);
}

/* Stores the read's arguments, so that it can be served when its read index is applied:
 * u32 argc, then per argument u32 length and the bytes. */
static uint8_t *read_args_pack(const struct node_exec *e, uint32_t *len)
{
    size_t bytes = 4;
    for (uint32_t i = 0; i < e->argc; i++)
        bytes += 4 + e->argv[i].len;
    uint8_t *p = malloc(bytes);
    assert(p != NULL);
    size_t at = 0;
    memcpy(p + at, &e->argc, 4), at += 4;
    for (uint32_t i = 0; i < e->argc; i++) {
        uint32_t l = (uint32_t)e->argv[i].len;
        memcpy(p + at, &l, 4), at += 4;
        memcpy(p + at, e->argv[i].data, l), at += l;
    }
    *len = (uint32_t)bytes;
    return p;
}

void node_cmd_read(struct node_exec *e, enum node_read_kind kind, uint32_t args_min)
{
    e->read_only = true;
    (void)args_min;
    if (e->node->pending_requests >= e->node->config.pending_requests_max) {
        node_exec_error(e, "-BUSY too many pending requests");
        return;
    }
    struct node_group *group;
    struct node_client *client = e->client;
    if (node_chain_wanted(e->node, client, kind)) {
        uint32_t shard = node_chain_first_shard(e->node, kind);
        group = e->node->groups[shard];
        if (group == NULL && !e->node->config.redirect) {
            struct node_request *r = node_request_new(client, NULL);
            r->read_kind = (uint8_t)kind;
            r->payload = read_args_pack(e, &r->payload_len);
            node_chain_start_relayed(e->node, r, shard);
            return;
        }
        uint32_t first, last;
        shardmap_range(&e->node->shardmap, shard, &first, &last);
        group = node_route_slot(e, first);
    } else if (client->stand_in_scope != 0) {
        /* A chain's part relayed here: the one shard it names (proxy.c). */
        uint32_t first, last;
        shardmap_range(&e->node->shardmap, client->stand_in_scope - 1, &first, &last);
        e->no_proxy = true;
        group = node_route_slot(e, first);
    } else if (kind == NODE_READ_SCAN && e->node->cluster_mode) {
        group = node_scan_route(e);
    } else {
        group = node_route(e);
    }
    if (group != NULL)
        node_read_start(e, kind, group);
}

void node_read_start(struct node_exec *e, enum node_read_kind kind, struct node_group *group)
{
    struct node_request *r = node_request_new(e->client, group);
    r->read_kind = (uint8_t)kind;
    r->payload = read_args_pack(e, &r->payload_len);
    node_request_read(e->node, r);
}

static void serve_get(struct node_group *group, struct resp_out *out, const struct resp_arg *key,
                      bool in_mget)
{
    size_t len = 0;
    bool found = false;
    int rv = kv_get(group->kv, (const uint8_t *)key->data, key->len, group->node->get_buffer,
                    NODE_GET_BUFFER_BYTES, &len, &found);
    if (rv == KV_ERR_WRONGTYPE && !in_mget)
        resp_reply_error(out, node_error_wrongtype, strlen(node_error_wrongtype));
    else if (rv == KV_ERR_WRONGTYPE)
        resp_reply_null(out); /* MGET: a key of another type is null, as in Redis */
    else if (rv != KV_OK)
        resp_reply_error(out, "ERR storage read failed", 23);
    else if (!found)
        resp_reply_null(out);
    else
        resp_reply_bulk(out, group->node->get_buffer, len);
}

/* Serves a read on the local state machine; the caller made sure it is linearizable. */
void node_read_serve(struct node_group *group, struct resp_out *out, enum node_read_kind kind,
                     const struct resp_arg *argv, uint32_t argc)
{
    uint64_t n = 0;
    switch (kind) {
    case NODE_READ_GET:
        serve_get(group, out, &argv[1], false);
        return;
    case NODE_READ_MGET:
        resp_reply_array(out, argc - 1);
        for (uint32_t i = 1; i < argc; i++)
            serve_get(group, out, &argv[i], true);
        return;
    case NODE_READ_EXISTS: {
        struct kv_bytes *keys = calloc(argc, sizeof(*keys));
        assert(keys != NULL);
        for (uint32_t i = 1; i < argc; i++)
            keys[i - 1] = (struct kv_bytes){.data = (const uint8_t *)argv[i].data,
                                            .len = argv[i].len};
        int rv = kv_exists(group->kv, keys, argc - 1, &n);
        free(keys);
        if (rv != KV_OK)
            resp_reply_error(out, "ERR storage read failed", 23);
        else
            resp_reply_integer(out, (int64_t)n);
        return;
    }
    case NODE_READ_STRLEN: {
        int rv = kv_strlen(group->kv, (const uint8_t *)argv[1].data, argv[1].len, &n);
        if (rv == KV_ERR_WRONGTYPE)
            resp_reply_error(out, node_error_wrongtype, strlen(node_error_wrongtype));
        else if (rv != KV_OK)
            resp_reply_error(out, "ERR storage read failed", 23);
        else
            resp_reply_integer(out, (int64_t)n);
        return;
    }
    case NODE_READ_DBSIZE:
        if (kv_count(group->kv, &n) != KV_OK)
            resp_reply_error(out, "ERR storage read failed", 23);
        else
            resp_reply_integer(out, (int64_t)n);
        return;
    case NODE_READ_SCAN:
        node_scan_serve(group, out, argv, argc);
        return;
    case NODE_READ_KEYS:
        node_keys_serve(group, out, argv);
        return;
    case NODE_READ_RANDOMKEY:
        node_randomkey_serve(group, out);
        return;
    case NODE_READ_TYPES:
        node_types_serve(group, out, argv, argc);
        return;
    case NODE_READ_OBJECT:
        node_object_serve(group, out, argv, argc);
        return;
    case NODE_READ_COUNTKEYSINSLOT:
    case NODE_READ_GETKEYSINSLOT:
        node_cluster_slot_serve(group, out, kind, argv, argc);
        return;
    case NODE_READ_NONE:
        break;
    default:
        if (node_read_serve_string(group, out, kind, argv, argc))
            return;
        break;
    }
    assert(!"unknown read kind");
}

/* The read index is applied: unpack the arguments and serve. */
/* The read's arguments as read_args_pack stored them; they point into the payload. The
 * caller frees the array. */
struct resp_arg *node_read_args_unpack(const struct node_request *r, uint32_t *argc)
{
    memcpy(argc, r->payload, 4);
    assert(*argc >= 1);
    struct resp_arg *argv = calloc(*argc, sizeof(*argv));
    assert(argv != NULL);
    size_t at = 4;
    for (uint32_t i = 0; i < *argc; i++) {
        uint32_t l;
        assert(at + 4 <= r->payload_len);
        memcpy(&l, r->payload + at, 4), at += 4;
        argv[i] = (struct resp_arg){.data = (const char *)r->payload + at, .len = l};
        at += l;
    }
    assert(at == r->payload_len);
    return argv;
}

void node_request_finish_read(struct node *node, struct node_request *r)
{
    uint32_t argc;
    struct resp_arg *argv = node_read_args_unpack(r, &argc);
    if (node_chain_wanted(node, r->client, (enum node_read_kind)r->read_kind)) {
        node_chain_step(node, r, argv, argc);
        free(argv);
        return;
    }
    resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX,
                  r->client != NULL ? r->client->out.protocol : 2);
    r->has_reply_out = true;
    node_read_serve(r->group, &r->reply_out, (enum node_read_kind)r->read_kind, argv, argc);
    free(argv);
    node_request_complete(node, r);
}

/* The write applied here: its result, from this node's own state machine, is the reply. */
void node_request_finish_write(struct node *node, struct node_request *r,
                               const struct kv_result *result)
{
    if (r->blocking && node_blocking_finish(node, r, result))
        return; /* popped nothing: waits for a push */
    uint32_t next = r->group->id + 1;
    if (r->chain_write && next < node->topology->shard_count &&
        result->type == KV_RESULT_OK) {
        if (node->groups[next] != NULL)
            node_request_restart_write(node, r, node->groups[next]);
        else
            node_chain_write_relay(node, r, next);
        return;
    }
    resp_out_init(&r->reply_out, NODE_REPLY_BYTES_MAX,
                  r->client != NULL ? r->client->out.protocol : 2);
    r->has_reply_out = true;
    if (r->exec_tx != NULL)
        node_tx_reply(&r->reply_out, r->exec_tx, result);
    else
        node_reply_kv_result(&r->reply_out, result);
    node_request_complete(node, r);
}
