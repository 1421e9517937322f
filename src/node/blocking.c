/*
 * blocking.c — BLPOP, BRPOP, BLMOVE and BRPOPLPUSH: a list pop that waits for an element.
 *
 * A blocking pop is a write like any other, proposed as its attempt: BLPOP's and BRPOP's
 * own kv op (the first of its lists that has an element gives one), BLMOVE's and
 * BRPOPLPUSH's the op of LMOVE and RPOPLPUSH. So the element is taken out by a log entry,
 * once, on every replica, and a pop can never be lost by a leader change: like every write,
 * its entry commits or it is answered with an error that says so (requests.c).
 *
 * An attempt that found every list empty does not answer: the request waits in its group's
 * `blocked` list, in arrival order, until an entry applied on this node's replica of the group
 * may have added elements to one of its keys (a push or an insert, the destination of a move,
 * a rename or a copy, those inside a transaction). Then the earliest waiter for that key is
 * proposed again; when it gets an element, the next waiter for its keys is
 * woken in turn (a push may have brought several). A waiter that loses the race to a client of
 * another node waits again, in its place. No entry is written while nothing is pushed.
 *
 * As in Redis, the connection runs nothing else while its blocking pop waits (server.c holds
 * its later commands unparsed); the timeout answers a null array; inside MULTI the command is
 * its attempt alone, which answers at once. A client that goes away is forgotten at once
 * when it waits; an attempt already proposed still pops (as any write in flight would).
 *
 * On a node that holds no replica of the key's shard, the pop is relayed (proxy.c) to one
 * that does, where the stand-in's connection blocks exactly as above; this node's request
 * waits for the stand-in's answer, past the pop's own timeout, and fails with -UNKNOWN if the
 * node it waits on goes out of reach (node_blocking_relay_lost).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/commands.h"
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

enum {
    /* Keys of the waiters woken by one applied entry, one waiter per key (the rest wait for
     * the first to be served: node_blocking_finish wakes them in turn). */
    BLOCKING_WOKEN_KEYS_MAX = 64,
};

/* Redis 7.0's timeout: seconds as a long double, made milliseconds rounding up (so only
 * zero is "no timeout"), checked for sign after the conversion to an integer (so a value too
 * large for it, infinity included, is "negative", as on x86, where Redis runs). */
static const char *timeout_parse(const struct resp_arg *arg, uint64_t *ms)
{
    static const char not_float[] = "ERR timeout is not a float or out of range";
    char text[128];
    if (arg->len == 0 || arg->len >= sizeof(text) || isspace((unsigned char)arg->data[0]))
        return not_float;
    memcpy(text, arg->data, arg->len);
    text[arg->len] = '\0';
    char *end = NULL;
    errno = 0;
    long double seconds = strtold(text, &end);
    if (end != text + arg->len || (errno == ERANGE && !isinf(seconds)) || isnan(seconds))
        return not_float;
    long double millis = seconds * 1000.0L;
    if (!(millis > -9.2233720368547758e18L && millis < 9.2233720368547758e18L))
        return "ERR timeout is negative";
    long long value = (long long)ceill(millis);
    if (value < 0)
        return "ERR timeout is negative";
    *ms = (uint64_t)value;
    return NULL;
}

static bool is_direction(const struct resp_arg *arg)
{
    return node_arg_is(arg, "LEFT") || node_arg_is(arg, "RIGHT");
}

bool node_blocking_is(const struct resp_arg *name)
{
    return node_arg_is(name, "BLPOP") || node_arg_is(name, "BRPOP") ||
           node_arg_is(name, "BLMOVE") || node_arg_is(name, "BRPOPLPUSH");
}

bool node_blocking_parse(const struct node_exec *e, struct kv_command *c, const char **error)
{
    const struct resp_arg *a = e->argv;
    if (!node_blocking_is(&a[0]))
        return false;
    uint64_t ms = 0;
    /* The client's arguments are already in c->args (write_parse): all but the timeout. */
    c->arg_count = e->argc - 2;
    if (node_arg_is(&a[0], "BLMOVE")) {
        c->op = KV_OP_LMOVE;
        if (!is_direction(&a[3]) || !is_direction(&a[4])) {
            *error = "ERR syntax error"; /* Redis checks the directions first */
            return true;
        }
    } else if (node_arg_is(&a[0], "BRPOPLPUSH")) {
        c->op = KV_OP_RPOPLPUSH;
    } else {
        c->op = node_arg_is(&a[0], "BLPOP") ? KV_OP_BLPOP : KV_OP_BRPOP;
    }
    *error = timeout_parse(&a[e->argc - 1], &ms);
    return true;
}

void node_cmd_blocking(struct node_exec *e)
{
    uint64_t timeout_ms = 0;
    if (timeout_parse(&e->argv[e->argc - 1], &timeout_ms) != NULL) {
        node_cmd_write(e); /* answers the error, as its parse does */
        return;
    }
    struct node_request *tail = e->client->tail;
    node_cmd_write(e);
    struct node_request *r = e->client->tail;
    if (r == tail || r == NULL || r->done)
        return; /* answered at once: an error, MOVED */
    if (r->proxied) {
        /* A shard without a replica here: the pop is relayed (proxy.c) and waits there, in
         * the stand-in's connection, as any client's would; the stand-in keeps the pop's own
         * timeout and answers it. So here the request has one deadline, its deadline_ms: the
         * pop's timeout and a request timeout more, or never with a timeout of 0
         * (block_deadline_ms, a local waiter's, stays unset). A relay that loses its
         * connection fails it (node_blocking_relay_lost, checked by node_requests_sweep). */
        r->blocking = true; /* its answer lets its connection go on (requests.c) */
        r->block_relayed = true;
        r->deadline_ms = timeout_ms == 0 ? UINT64_MAX
                                         : node_now_ms(e->node) + timeout_ms +
                                               e->node->config.request_timeout_ms;
        e->client->blocking = true;
        return;
    }
    if (r->group == NULL)
        return;
    r->blocking = true;
    r->block_deadline_ms = timeout_ms == 0 ? 0 : node_now_ms(e->node) + timeout_ms;
    e->client->blocking = true;
}

/* The waiter's keys: its attempt's arguments (BLMOVE's and BRPOPLPUSH's source only). */
static uint32_t waiter_keys(const struct node_request *r, struct kv_command *c,
                            struct kv_bytes *args, uint32_t args_cap)
{
    const char *reason = NULL;
    if (kv_command_decode(r->payload + NODE_ENTRY_HEADER_BYTES,
                          r->payload_len - NODE_ENTRY_HEADER_BYTES, c, args, args_cap,
                          &reason) != KV_OK)
        return 0;
    return c->op == KV_OP_BLPOP || c->op == KV_OP_BRPOP ? c->arg_count : 1;
}

static bool bytes_in(const struct kv_bytes *key, const struct kv_bytes *set, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        if (set[i].len == key->len && memcmp(set[i].data, key->data, key->len) == 0)
            return true;
    return false;
}

static void wake(struct node *node, struct node_request *r)
{
    node_request_unblock(node, r);
    node->stats.blocking_wakeups++;
}

/* Wakes the earliest waiter of each key in `names` (count of them; NULL: every waiter). A
 * waiter is woken once even when several of its keys are named. */
static void wake_for(struct node_group *g, const struct kv_bytes *names, uint32_t count)
{
    struct node *node = g->node;
    struct kv_bytes claimed[BLOCKING_WOKEN_KEYS_MAX];
    uint32_t claimed_count = 0;
    struct kv_bytes *args = malloc(KV_COMMAND_ARGS_MAX * sizeof(*args));
    assert(args != NULL);
    struct node_request *r = g->blocked.head;
    while (r != NULL) {
        struct node_request *next = r->wait_next;
        struct kv_command c;
        uint32_t keys = waiter_keys(r, &c, args, KV_COMMAND_ARGS_MAX);
        bool woken = false;
        for (uint32_t k = 0; k < keys && !woken; k++) {
            if (names != NULL && (!bytes_in(&args[k], names, count) ||
                                  bytes_in(&args[k], claimed, claimed_count)))
                continue;
            woken = true;
            for (uint32_t j = 0; j < keys && claimed_count < BLOCKING_WOKEN_KEYS_MAX; j++)
                claimed[claimed_count++] = args[j]; /* its keys are taken for this entry */
        }
        if (woken)
            wake(node, r);
        r = next;
    }
    free(args);
}

/* The key a command may have added list elements to, or NULL: pushes and inserts name their
 * key, moves, renames and copies their destination. Nothing else can give a waiter an
 * element; in particular not the attempts of other waiters, which would wake each other in
 * turn for ever. */
static const struct kv_bytes *pushed_key(const struct kv_command *c)
{
    switch (c->op) {
    case KV_OP_LPUSH:
    case KV_OP_RPUSH:
    case KV_OP_LPUSHX:
    case KV_OP_RPUSHX:
    case KV_OP_LINSERT:
        return c->arg_count >= 1 ? &c->args[0] : NULL;
    case KV_OP_LMOVE:
    case KV_OP_RPOPLPUSH:
    case KV_OP_RENAME:
    case KV_OP_COPY:
        return c->arg_count >= 2 ? &c->args[1] : NULL;
    default:
        return NULL;
    }
}

/* Adds the key command `data` may have pushed to, if any, to names (at most cap). */
static void collect_pushed(const uint8_t *data, size_t len, struct kv_bytes *args,
                           struct kv_bytes *names, uint32_t *count, uint32_t cap)
{
    struct kv_command c;
    const char *reason = NULL;
    if (*count == cap ||
        kv_command_decode(data, len, &c, args, KV_COMMAND_ARGS_MAX, &reason) != KV_OK)
        return;
    const struct kv_bytes *key = pushed_key(&c);
    if (key != NULL)
        names[(*count)++] = *key;
}

void node_blocking_on_applied(struct node_group *g, const struct cn_entry *entry)
{
    if (g->blocked.count == 0 || entry->type != CN_ENTRY_NORMAL ||
        entry->data_len < NODE_WRITE_TAG_BYTES)
        return;
    const uint8_t *data = entry->data + NODE_WRITE_TAG_BYTES;
    size_t len = entry->data_len - NODE_WRITE_TAG_BYTES;
    uint64_t time_ms = 0;
    if (kv_stamp_read(data, len, &time_ms)) { /* the log time (expiry.c), then the command */
        data += KV_STAMP_BYTES;
        len -= KV_STAMP_BYTES;
    }
    struct kv_bytes *args = malloc(KV_COMMAND_ARGS_MAX * sizeof(*args));
    assert(args != NULL);
    struct kv_bytes names[BLOCKING_WOKEN_KEYS_MAX];
    uint32_t count = 0;
    struct kv_tx_reader reader;
    if (!kv_tx_is(data, len)) {
        collect_pushed(data, len, args, names, &count, BLOCKING_WOKEN_KEYS_MAX);
    } else if (kv_tx_open(&reader, data, len) == KV_OK) {
        /* A transaction: the pushes among its commands (its watches change nothing). */
        struct kv_tx_watch watch;
        bool ok = true;
        while (ok && reader.watches_left > 0)
            ok = kv_tx_next_watch(&reader, &watch) == KV_OK;
        struct kv_bytes command;
        while (ok && reader.commands_left > 0 && kv_tx_next_command(&reader, &command) == KV_OK)
            collect_pushed(command.data, command.len, args, names, &count,
                           BLOCKING_WOKEN_KEYS_MAX);
    }
    if (count > 0)
        wake_for(g, names, count);
    free(args);
}

void node_blocking_wake_all(struct node_group *g)
{
    if (g->blocked.count > 0)
        wake_for(g, NULL, 0);
}

/* What Redis answers a blocking pop that timed out: a null array, for every one of these
 * (BLMOVE's and BRPOPLPUSH's too, although their attempt's own empty answer is a null). */
static void answer_timeout(struct node *node, struct node_request *r)
{
    resp_out_init(&r->reply_out, 64, r->client != NULL ? r->client->out.protocol : 2);
    r->has_reply_out = true;
    resp_reply_null_array(&r->reply_out);
    node_request_complete(node, r);
}

bool node_blocking_finish(struct node *node, struct node_request *r,
                          const struct kv_result *result)
{
    assert(r->blocking);
    bool empty = result->type == KV_RESULT_NULL || result->type == KV_RESULT_NULL_ARRAY;
    bool expired = r->block_deadline_ms != 0 && node_now_ms(node) >= r->block_deadline_ms;
    if (empty && !expired && r->client != NULL) {
        node_request_block(node, r);
        return true;
    }
    if (empty) {
        answer_timeout(node, r);
        return true;
    }
    if (r->group->blocked.count > 0) {
        /* An element was taken: others waiting on the same keys may find more. */
        struct kv_command c;
        struct kv_bytes *args = malloc(KV_COMMAND_ARGS_MAX * sizeof(*args));
        assert(args != NULL);
        uint32_t keys = waiter_keys(r, &c, args, KV_COMMAND_ARGS_MAX);
        if (keys > 0)
            wake_for(r->group, args, keys);
        free(args);
    }
    return false;
}

static void time_out(struct node *node, struct node_request *r)
{
    node_request_unblock_quietly(node, r);
    answer_timeout(node, r);
}

bool node_blocking_relay_lost(struct node *node, const struct node_request *r)
{
    assert(r->block_relayed && r->proxied);
    const struct node_client *c = r->client;
    if (c == NULL || node->transport == NULL)
        return false;
    struct transport_peer_info info;
    if (r->wait == NODE_WAIT_PROXY && c->proxy_session != 0)
        return transport_peer_info(node->transport, c->proxy_target, &info) && !info.connected;
    /* Not sent yet: lost only when there is no replica of its shard to send it to. */
    return !node_proxy_target_reachable(node, r->proxy_shard);
}

void node_blocking_sweep(struct node *node, struct node_request *r, uint64_t now_ms)
{
    assert(r->wait == NODE_WAIT_BLOCKED);
    if (r->client == NULL || (r->block_deadline_ms != 0 && now_ms >= r->block_deadline_ms))
        time_out(node, r);
}
