/*
 * commands_tx.c — MULTI, EXEC, DISCARD, WATCH and UNWATCH: Redis transactions, each one log
 * entry (storage/kv_tx.h) that every replica applies atomically at the same place in the log.
 *
 * MULTI opens a queue on the connection; the commands after it are checked and encoded as
 * they come (+QUEUED), and EXEC sends them together. Errors follow Redis: a command unknown or
 * of the wrong arity is refused at once and makes EXEC answer -EXECABORT; any other error (a
 * syntax error, a wrong type) is the element of EXEC's reply in that command's place, the rest
 * running. Reads inside the transaction (GET, MGET, EXISTS, STRLEN and the hash and set
 * reads) run in the log, at the transaction's place, and see its writes. Other commands are refused inside MULTI.
 *
 * WATCH is a linearizable read (ReadIndex, in the connection's order) that records what each
 * key holds: whether it exists and a hash of its value. EXEC carries these records into its
 * entry; when it applies, a key that differs makes the transaction a null array, running
 * nothing. EXEC starts only after every earlier command of its connection is done
 * (requests.c), so its WATCHes have been recorded by then. A WATCH that failed (timed out)
 * fails its EXEC the same way, since what the key held is unknown.
 *
 * Bounds: KV_TX_COMMANDS_MAX commands and CN_ENTRY_DATA_BYTES_MAX bytes per transaction,
 * KV_TX_WATCH_MAX watched keys per connection; past them the command is refused (and the
 * transaction aborted, or the WATCH answered an error).
 */
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

/* One queued command: its encoding, or the error it answers in EXEC's reply. */
struct node_tx_item {
    uint8_t *command; /* kv_command encoding; NULL when error is set */
    uint32_t len;
    const char *error; /* a static Redis error text */
};

/* S > 1: the one slot every key of a transaction must hash to (Redis Cluster's rule: its
 * entry goes through that slot's shard). */
struct node_tx_slot {
    uint32_t slot;
    bool has_slot;
    bool cross_slot; /* keys of two slots: EXEC answers -CROSSSLOT */
};

/* Adds a command's keys to the slot; false (and the command answered -CROSSSLOT) when its own
 * keys are of two slots. */
static bool tx_slot_add(struct node_exec *e, struct node_tx_slot *ts)
{
    uint32_t slot;
    if (!e->node->cluster_mode)
        return true;
    switch (node_command_slot(e->argv, e->argc, &slot)) {
    case SHARDMAP_KEYS_CROSS_SLOT:
        node_exec_error(e, SHARDMAP_CROSSSLOT_ERROR);
        return false;
    case SHARDMAP_KEYS_NONE:
        return true;
    case SHARDMAP_KEYS_ONE_SLOT:
        break;
    }
    if (ts->has_slot && ts->slot != slot)
        ts->cross_slot = true;
    ts->slot = slot;
    ts->has_slot = true;
    return true;
}

/* The slot a transaction with its watches goes to; false when they span two. */
static bool tx_slot_merge(struct node_tx_slot *into, const struct node_tx_slot *other)
{
    if (into->cross_slot || other->cross_slot)
        return false;
    if (!other->has_slot)
        return true;
    if (into->has_slot && into->slot != other->slot)
        return false;
    *into = *other;
    return true;
}

struct node_tx {
    struct node_tx_item *items;
    uint32_t count;
    uint32_t capacity;
    size_t bytes;  /* encoded, as kv_tx_encoded_bytes counts them */
    bool failed;   /* a command was refused: EXEC answers -EXECABORT */
    struct node_tx_slot slot; /* S > 1: the slot of its keys (route.c) */
};

struct node_watch_key {
    uint8_t *key;
    uint32_t len;
    bool exists;
    uint64_t hash;
};

/* A connection's watched keys. Shared with the WATCH reads that fill it and the EXEC that
 * carries it, so UNWATCH or DISCARD only detach it from the connection. */
struct node_watch {
    uint32_t refs;
    uint32_t count;
    bool failed; /* a WATCH of it did not complete */
    struct node_tx_slot slot; /* S > 1: the slot of the watched keys */
    struct node_watch_key keys[KV_TX_WATCH_MAX];
};

static void tx_free(struct node_tx *tx)
{
    if (tx == NULL)
        return;
    for (uint32_t i = 0; i < tx->count; i++)
        free(tx->items[i].command);
    free(tx->items);
    free(tx);
}

static void watch_release(struct node_watch *watch)
{
    if (watch == NULL)
        return;
    assert(watch->refs > 0);
    if (--watch->refs > 0)
        return;
    for (uint32_t i = 0; i < watch->count; i++)
        free(watch->keys[i].key);
    free(watch);
}

/* The connection's watch, made when it first watches. */
static struct node_watch *client_watch(struct node_client *client)
{
    if (client->watch == NULL) {
        client->watch = calloc(1, sizeof(*client->watch));
        assert(client->watch != NULL);
        client->watch->refs = 1;
    }
    return client->watch;
}

static void client_unwatch(struct node_client *client)
{
    watch_release(client->watch);
    client->watch = NULL;
}

void node_tx_client_free(struct node_client *client)
{
    tx_free(client->tx);
    client->tx = NULL;
    client_unwatch(client);
}

static void reply_ok(struct node_exec *e)
{
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

void node_cmd_multi(struct node_exec *e)
{
    if (e->client->tx != NULL) {
        node_exec_error(e, "ERR MULTI calls can not be nested");
        return;
    }
    e->client->tx = calloc(1, sizeof(*e->client->tx));
    assert(e->client->tx != NULL);
    e->client->tx->bytes = KV_TX_HEADER_BYTES;
    reply_ok(e);
}

void node_cmd_discard(struct node_exec *e)
{
    if (e->client->tx == NULL) {
        node_exec_error(e, "ERR DISCARD without MULTI");
        return;
    }
    tx_free(e->client->tx);
    e->client->tx = NULL;
    client_unwatch(e->client);
    reply_ok(e);
}

void node_cmd_unwatch(struct node_exec *e)
{
    client_unwatch(e->client);
    reply_ok(e);
}

void node_tx_fail(struct node_client *client)
{
    if (client->tx != NULL)
        client->tx->failed = true;
}

/* A read that runs inside the transaction, as a kv read op; 0 for any other command. */
static uint8_t tx_read_op(const struct resp_arg *name)
{
    if (node_arg_is(name, "GET"))
        return KV_OP_GET;
    if (node_arg_is(name, "MGET"))
        return KV_OP_MGET;
    if (node_arg_is(name, "EXISTS"))
        return KV_OP_EXISTS;
    if (node_arg_is(name, "STRLEN"))
        return KV_OP_STRLEN;
    return node_types_read_op(name); /* HGET, SMEMBERS, ...: 0 when not one */
}

/* Encodes a read of the transaction. Returns NULL, or the error to queue in its place. */
static const char *tx_encode_read(const struct node_exec *e, uint8_t op, uint8_t **command,
                                  size_t *len)
{
    struct kv_bytes *args = calloc(e->argc, sizeof(*args));
    assert(args != NULL);
    for (uint32_t i = 1; i < e->argc; i++)
        args[i - 1] = (struct kv_bytes){.data = (const uint8_t *)e->argv[i].data,
                                        .len = e->argv[i].len};
    struct kv_command c = {.op = op, .arg_count = e->argc - 1, .args = args};
    if (kv_op_is_random(op))
        c.delta = (int64_t)node_random_u64(); /* SRANDMEMBER, HRANDFIELD: one seed, here */
    size_t bytes = kv_command_encoded_bytes(&c);
    const char *error = NULL;
    *command = malloc(bytes);
    assert(*command != NULL);
    if (kv_command_encode(&c, *command, bytes, len, &error) != KV_OK) {
        free(*command);
        *command = NULL;
        if (error == NULL)
            error = "ERR invalid command";
    }
    free(args);
    return error;
}

static void tx_append(struct node_tx *tx, struct node_tx_item item)
{
    if (tx->count == tx->capacity) {
        tx->capacity = tx->capacity ? tx->capacity * 2 : 8;
        tx->items = realloc(tx->items, tx->capacity * sizeof(*tx->items));
        assert(tx->items != NULL);
    }
    tx->items[tx->count++] = item;
    if (item.command != NULL)
        tx->bytes += 4 + item.len;
}

bool node_tx_queue(struct node_exec *e, bool is_write)
{
    const struct resp_arg *name = &e->argv[0];
    if (node_arg_is(name, "EXEC") || node_arg_is(name, "DISCARD") ||
        node_arg_is(name, "MULTI") || node_arg_is(name, "WATCH") ||
        node_arg_is(name, "QUIT") || node_arg_is(name, "RESET"))
        return false;
    struct node_tx *tx = e->client->tx;
    uint8_t read_op = tx_read_op(name);
    if (!is_write && read_op == 0) {
        tx->failed = true;
        node_exec_error(e, "ERR chorus runs only its key-value reads and writes inside MULTI");
        return true;
    }
    if (!tx_slot_add(e, &tx->slot)) {
        tx->failed = true;
        return true;
    }
    struct node_tx_item item = {0};
    size_t len = 0;
    if (is_write) {
        uint8_t *payload;
        item.error = node_write_encode(e, &payload, &len);
        if (item.error == NULL) {
            /* The tag's room in front is not needed here: keep the command alone. */
            item.command = malloc(len);
            assert(item.command != NULL);
            memcpy(item.command, payload + NODE_ENTRY_HEADER_BYTES, len);
            free(payload);
        }
    } else {
        item.error = tx_encode_read(e, read_op, &item.command, &len);
    }
    if (item.error == NODE_ARITY_ERROR) {
        tx->failed = true;
        node_exec_wrong_arity(e);
        return true;
    }
    item.len = (uint32_t)len;
    if (tx->count == KV_TX_COMMANDS_MAX ||
        tx->bytes + 4 + len + NODE_ENTRY_HEADER_BYTES > CN_ENTRY_DATA_BYTES_MAX) {
        free(item.command);
        tx->failed = true;
        node_exec_error(e, "ERR transaction too large for chorus (4096 commands, 2 MiB)");
        return true;
    }
    tx_append(tx, item);
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "QUEUED", 6);
    node_exec_done(e, out);
    return true;
}

void node_cmd_exec(struct node_exec *e)
{
    struct node_client *client = e->client;
    struct node_tx *tx = client->tx;
    if (tx == NULL) {
        node_exec_error(e, "ERR EXEC without MULTI");
        return;
    }
    client->tx = NULL;
    if (tx->failed) {
        tx_free(tx);
        client_unwatch(client);
        node_exec_error(e, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    if (e->node->pending_requests >= e->node->config.pending_requests_max) {
        tx_free(tx);
        client_unwatch(client);
        node_exec_error(e, "-BUSY too many pending requests, the command was not executed");
        return;
    }
    struct node_tx_slot slot = tx->slot;
    struct node_group *group;
    if (!tx_slot_merge(&slot, client->watch != NULL ? &client->watch->slot : &slot)) {
        tx_free(tx);
        client_unwatch(client);
        node_exec_error(e, SHARDMAP_CROSSSLOT_ERROR);
        return;
    }
    e->no_proxy = true; /* a transaction is not relayed (proxy.c): MOVED instead */
    group = slot.has_slot ? node_route_slot(e, slot.slot) : node_route(e);
    if (group == NULL) {
        tx_free(tx);
        client_unwatch(client);
        return;
    }
    struct node_request *r = node_request_new(client, group);
    r->exec_tx = tx;
    r->watch = client->watch; /* EXEC unwatches: the connection's reference moves here */
    client->watch = NULL;
    node_request_propose(e->node, r);
}

bool node_tx_exec_build(struct node *node, struct node_request *r)
{
    struct node_tx *tx = r->exec_tx;
    struct node_watch *watch = r->watch;
    assert(tx != NULL && r->payload == NULL);
    if (watch != NULL && watch->failed) {
        resp_out_init(&r->reply_out, 64, r->client != NULL ? r->client->out.protocol : 2);
        r->has_reply_out = true;
        resp_reply_null_array(&r->reply_out);
        node_request_complete(node, r);
        return false;
    }
    uint32_t watch_count = watch != NULL ? watch->count : 0;
    struct kv_tx_watch *watches = calloc(watch_count + 1, sizeof(*watches));
    struct kv_bytes *commands = calloc(tx->count + 1, sizeof(*commands));
    assert(watches != NULL && commands != NULL);
    for (uint32_t i = 0; i < watch_count; i++)
        watches[i] = (struct kv_tx_watch){
            .key = {.data = watch->keys[i].key, .len = watch->keys[i].len},
            .exists = watch->keys[i].exists, .hash = watch->keys[i].hash};
    uint32_t command_count = 0;
    for (uint32_t i = 0; i < tx->count; i++)
        if (tx->items[i].command != NULL)
            commands[command_count++] = (struct kv_bytes){.data = tx->items[i].command,
                                                          .len = tx->items[i].len};
    size_t bytes = kv_tx_encoded_bytes(watches, watch_count, commands, command_count);
    r->payload = malloc(NODE_ENTRY_HEADER_BYTES + bytes);
    assert(r->payload != NULL);
    uint64_t tag = node_write_tag(node, r->id);
    memcpy(r->payload, &tag, NODE_WRITE_TAG_BYTES);
    kv_stamp_init(r->payload + NODE_WRITE_TAG_BYTES);
    size_t len = kv_tx_encode(watches, watch_count, commands, command_count,
                              r->payload + NODE_ENTRY_HEADER_BYTES, bytes);
    r->payload_len = (uint32_t)(NODE_ENTRY_HEADER_BYTES + len);
    free(watches);
    free(commands);
    return true;
}

void node_cmd_watch(struct node_exec *e)
{
    if (e->client->tx != NULL) {
        node_exec_error(e, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    struct node_watch *watch = client_watch(e->client);
    if (watch->count + (e->argc - 1) > KV_TX_WATCH_MAX) {
        node_exec_error(e, "ERR too many watched keys for chorus (1024 per connection)");
        return;
    }
    struct node_tx_slot slot = watch->slot;
    if (!tx_slot_add(e, &slot))
        return;
    watch->slot = slot;
    e->no_proxy = true;
    node_cmd_read(e, NODE_READ_WATCH, 2);
    /* node_cmd_read queued the read as the client's last request (or answered -BUSY). */
    struct node_request *r = e->client->tail;
    if (r != NULL && !r->done && r->read_kind == NODE_READ_WATCH && r->watch == NULL) {
        r->watch = watch;
        watch->refs++;
    }
}

/* The WATCH's read index is applied: record what each key holds now. */
void node_tx_serve_watch(struct node *node, struct node_request *r)
{
    struct node_watch *watch = r->watch;
    uint32_t argc;
    struct resp_arg *argv = node_read_args_unpack(r, &argc);
    struct kv_read read;
    bool begun = watch != NULL && kv_read_begin(r->group->kv, &read) == KV_OK;
    bool ok = begun;
    for (uint32_t i = 1; ok && i < argc; i++) {
        const uint8_t *key = (const uint8_t *)argv[i].data;
        uint32_t len = (uint32_t)argv[i].len;
        bool found = false;
        uint64_t hash = 0;
        /* Any type: a collection's state is its metadata, which every write to it changes. */
        ok = kv_read_watch(&read, key, len, &found, &hash) == KV_OK &&
             watch->count < KV_TX_WATCH_MAX;
        if (!ok)
            break;
        struct node_watch_key *k = &watch->keys[watch->count++];
        k->key = malloc(len + 1);
        assert(k->key != NULL);
        memcpy(k->key, key, len);
        k->len = len;
        k->exists = found;
        k->hash = found ? hash : 0;
    }
    free(argv);
    if (begun)
        kv_read_end(&read);
    resp_out_init(&r->reply_out, 64, r->client != NULL ? r->client->out.protocol : 2);
    r->has_reply_out = true;
    if (ok) {
        resp_reply_simple(&r->reply_out, "OK", 2);
    } else {
        if (watch != NULL)
            watch->failed = true;
        resp_reply_error(&r->reply_out, "ERR storage read failed", 23);
    }
    watch_release(r->watch);
    r->watch = NULL;
    node_request_complete(node, r);
}

void node_tx_request_done(struct node_request *r)
{
    if (r->watch != NULL && r->read_kind == NODE_READ_WATCH)
        r->watch->failed = true; /* completed without being served: it timed out */
    watch_release(r->watch);
    r->watch = NULL;
    tx_free(r->exec_tx);
    r->exec_tx = NULL;
}

void node_reply_kv_result(struct resp_out *out, const struct kv_result *result)
{
    switch (result->type) {
    case KV_RESULT_OK:
        resp_reply_simple(out, "OK", 2);
        return;
    case KV_RESULT_INTEGER:
        resp_reply_integer(out, result->integer);
        return;
    case KV_RESULT_BULK:
        resp_reply_bulk(out, result->bulk, result->bulk_len);
        return;
    case KV_RESULT_NULL:
        resp_reply_null(out);
        return;
    case KV_RESULT_DOUBLE:
        /* A score: Redis 7.0 writes it as a bulk string in RESP2, a double in RESP3. */
        if (out->protocol == 2) {
            resp_reply_bulk(out, result->bulk, result->bulk_len);
        } else {
            resp_reply_raw(out, ",", 1);
            resp_reply_raw(out, result->bulk, result->bulk_len);
            resp_reply_raw(out, "\r\n", 2);
        }
        return;
    case KV_RESULT_ERROR:
        resp_reply_error(out, result->error, strlen(result->error));
        return;
    case KV_RESULT_MAP:
        assert(result->element_count % 2 == 0);
        resp_reply_map(out, result->element_count / 2);
        for (uint32_t i = 0; i < result->element_count; i++)
            node_reply_kv_result(out, &result->elements[i]);
        return;
    case KV_RESULT_PAIRS:
        assert(result->element_count % 2 == 0);
        if (out->protocol == 2) {
            resp_reply_array(out, result->element_count);
        } else {
            resp_reply_array(out, result->element_count / 2);
        }
        for (uint32_t i = 0; i < result->element_count; i++) {
            if (out->protocol == 3 && i % 2 == 0)
                resp_reply_array(out, 2);
            node_reply_kv_result(out, &result->elements[i]);
        }
        return;
    case KV_RESULT_SET:
        resp_reply_set(out, result->element_count);
        for (uint32_t i = 0; i < result->element_count; i++)
            node_reply_kv_result(out, &result->elements[i]);
        return;
    case KV_RESULT_ARRAY:
        resp_reply_array(out, result->element_count);
        for (uint32_t i = 0; i < result->element_count; i++) {
            assert(result->elements[i].type != KV_RESULT_ARRAY ||
                   result->type == KV_RESULT_ARRAY); /* nesting is bounded by kv: 2 levels */
            node_reply_kv_result(out, &result->elements[i]);
        }
        return;
    case KV_RESULT_NULL_ARRAY:
        resp_reply_null_array(out);
        return;
    case KV_RESULT_NONE:
        break;
    }
    resp_reply_error(out, "ERR internal: no result", 23);
}

/* EXEC's reply: the queued errors in their places, the applied commands' results between. */
void node_tx_reply(struct resp_out *out, const struct node_tx *tx, const struct kv_result *result)
{
    if (result->type != KV_RESULT_ARRAY) {
        node_reply_kv_result(out, result); /* aborted by WATCH, or an error of the entry */
        return;
    }
    resp_reply_array(out, tx->count);
    uint32_t next = 0;
    for (uint32_t i = 0; i < tx->count; i++) {
        if (tx->items[i].command == NULL) {
            resp_reply_error(out, tx->items[i].error, strlen(tx->items[i].error));
        } else if (next < result->element_count) {
            node_reply_kv_result(out, &result->elements[next++]);
        } else {
            resp_reply_error(out, "ERR internal: missing result", 28);
        }
    }
}
