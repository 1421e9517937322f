/*
 * commands_acl.c — ACL users (acl.h) on the node: the ACL command, the check of every
 * command against its user, and the replication of changes.
 *
 * Where the users live: in the state machine of one group, the ACL group — the meta group
 * when S > 1 (every node with a replica of it, the first five by id), group 0 when S = 1 (every
 * node). An ACL SETUSER or DELUSER is checked here against this node's table, its passwords
 * are replaced by their SHA-256 hashes, and it is proposed to the ACL group as a write entry
 * ("ACLE", acl.h) — forwarded to the leader like any write. Every replica applies it to its
 * table, in log order, and stores the whole resulting table in its store as KV_ITEM_ACL (a
 * meta record, apart from the keys, carried by snapshots), in the same LMDB txn as the
 * applied index: a restart reloads it, a snapshot installs it. The client's answer comes when
 * its node applied the entry, as for a write, so after OK the change is in force here, and on
 * every other node once it applied that index.
 *
 * Connections keep their user's name; every command looks its user up again when the table
 * changed (the generation), so a change applies to connections already authenticated as
 * Redis re-checks permissions per command; the connections of a deleted user are closed by
 * the next sweep (node_acl_sweep, from the node's sweep timer), or at their next command.
 * Commands relayed from another node (stand-ins) were checked there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/commands.h"
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

_Static_assert('A' != KV_COMMAND_VERSION && 'A' != KV_TX_MARKER,
               "an ACL entry must not look like a command or a transaction");

static const char noperm_key[] =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
static const char default_name[] = "default";

struct node_group *node_acl_group(struct node *node)
{
    return node->cluster_mode ? node->meta : node->groups[0];
}

/* The flags' default user: --requirepass's hash, or nopass. */
static void table_from_flags(struct node *node, struct acl_table *table)
{
    uint8_t hash[ACL_HASH_BYTES];
    bool password = node->config.requirepass_len > 0;
    if (password)
        acl_hash_password(node->config.requirepass, node->config.requirepass_len, hash);
    acl_table_init(table, node_acl_catalog(), password ? hash : NULL);
}

void node_acl_reload(struct node *node)
{
    table_from_flags(node, node->acl);
    node->acl_generation++;
    struct node_group *g = node_acl_group(node);
    if (g == NULL)
        return;
    uint8_t *blob = malloc(KV_ACL_BYTES_MAX);
    assert(blob != NULL);
    size_t len = 0;
    int rv = kv_acl_get(g->kv, blob, KV_ACL_BYTES_MAX, &len);
    if (rv != KV_OK)
        node_fatal(node, "group %u: reading the ACL users: %s", g->id, kv_last_error());
    else if (len > 0 && acl_decode(node->acl, blob, len) != 0)
        node_fatal(node, "group %u: the stored ACL users are malformed", g->id);
    free(blob);
}

void node_acl_open(struct node *node)
{
    node->acl = malloc(sizeof(*node->acl));
    node->acl_scratch = malloc(sizeof(*node->acl_scratch));
    assert(node->acl != NULL && node->acl_scratch != NULL);
    node_acl_reload(node);
}

void node_acl_close(struct node *node)
{
    /* The hashes are secrets of a kind: they do not outlive the node in freed memory. */
    if (node->acl != NULL)
        memset(node->acl, 0, sizeof(*node->acl));
    if (node->acl_scratch != NULL)
        memset(node->acl_scratch, 0, sizeof(*node->acl_scratch));
    free(node->acl);
    free(node->acl_scratch);
    node->acl = node->acl_scratch = NULL;
}

bool node_acl_default_open(const struct node *node)
{
    const struct acl_user *u = acl_find_const(node->acl, default_name, 7);
    assert(u != NULL);
    return u->enabled && u->nopass;
}

/* ---- applying entries (drive.c) ---- */

/* The ACL entries of the batch being applied: their table blobs and outcomes, at most one
 * per item. One group applies at a time, so one set serves every group. */
static struct {
    uint32_t count;
    uint32_t item[NODE_APPLY_BATCH_MAX];
    uint8_t *blob[NODE_APPLY_BATCH_MAX];
    bool failed[NODE_APPLY_BATCH_MAX];
    int64_t integer[NODE_APPLY_BATCH_MAX];
    bool deluser[NODE_APPLY_BATCH_MAX];
} pending;

void node_acl_items_prepare(struct node_group *g, const struct cn_entry *entries,
                            struct kv_apply_item *items, uint32_t count)
{
    struct node *node = g->node;
    assert(pending.count == 0);
    if (g != node_acl_group(node))
        return;
    uint64_t applied = 0, term = 0;
    kv_applied(g->kv, &applied, &term);
    for (uint32_t i = 0; i < count; i++) {
        if (items[i].kind != KV_ITEM_COMMAND || !acl_entry_is(items[i].data, items[i].data_len))
            continue;
        if (entries[i].index <= applied) {
            items[i].kind = KV_ITEM_NOOP; /* applied before: the store has its table */
            continue;
        }
        uint32_t p = pending.count++;
        assert(p < NODE_APPLY_BATCH_MAX);
        pending.item[p] = i;
        char error[ACL_ERROR_BYTES];
        pending.integer[p] = 0;
        pending.deluser[p] = items[i].data[ACL_ENTRY_MAGIC_BYTES] == ACL_OP_DELUSER;
        pending.failed[p] = acl_entry_apply(node->acl, items[i].data, items[i].data_len,
                                            &pending.integer[p], error, sizeof(error)) != 0;
        if (pending.failed[p])
            node_log(node, NODE_LOG_WARN, "ACL entry %llu did not apply",
                     (unsigned long long)entries[i].index);
        node->acl_generation++;
        pending.blob[p] = malloc(KV_ACL_BYTES_MAX);
        assert(pending.blob[p] != NULL);
        int64_t len = acl_encode(node->acl, pending.blob[p], KV_ACL_BYTES_MAX);
        assert(len > 0); /* the table's bounds keep it below KV_ACL_BYTES_MAX */
        items[i].kind = KV_ITEM_ACL;
        items[i].data = pending.blob[p];
        items[i].data_len = (uint32_t)len;
    }
}

void node_acl_items_finish(struct node_group *g, struct kv_result *results, uint32_t count)
{
    (void)g;
    for (uint32_t p = 0; p < pending.count; p++) {
        uint32_t i = pending.item[p];
        assert(i < count);
        free(pending.blob[p]);
        if (results == NULL || results[i].type == KV_RESULT_ERROR)
            continue;
        if (pending.failed[p]) {
            results[i] = (struct kv_result){
                .type = KV_RESULT_ERROR,
                .error = "ERR the ACL change no longer applies: another one came first"};
        } else if (pending.deluser[p]) {
            results[i] = (struct kv_result){.type = KV_RESULT_INTEGER,
                                            .integer = pending.integer[p]};
        } else {
            results[i] = (struct kv_result){.type = KV_RESULT_OK};
        }
    }
    pending.count = 0;
}

/* ---- the check of every command ---- */

/* The client's user in the table, or NULL when it was deleted. */
static const struct acl_user *client_user(struct node_client *client)
{
    struct node *node = client->node;
    if (client->user_generation == node->acl_generation && client->user_index < node->acl->count)
        return &node->acl->users[client->user_index];
    const struct acl_user *u = acl_find_const(node->acl, client->user, client->user_len);
    if (u == NULL)
        return NULL;
    client->user_index = (uint32_t)(u - node->acl->users);
    client->user_generation = node->acl_generation;
    return u;
}

void node_acl_sweep(struct node *node)
{
    if (node->acl_swept_generation == node->acl_generation)
        return;
    node->acl_swept_generation = node->acl_generation;
    /* Bounded by the node's connection limit, and run once per change of the table. As
     * QUIT does: what the connection already ran is answered, nothing after it runs. */
    for (struct node_client *c = node->clients; c != NULL; c = c->next) {
        if (c->stand_in || c->closing || c->quit_seen || !c->authenticated ||
            client_user(c) != NULL)
            continue;
        c->quit_seen = true;
        if (c->head == NULL) {
            c->close_after_write = true;
            node_client_flush(c);
        } else {
            c->tail->quit = true;
        }
    }
}

bool node_acl_permits(struct node_exec *e)
{
    struct node_client *client = e->client;
    if (client->stand_in)
        return true; /* checked on the client's own node */
    const struct acl_user *u = client_user(client);
    if (u == NULL) {
        /* Redis disconnects the clients of a deleted user. */
        node_client_close(client);
        return false;
    }
    /* The default user of a node without ACL users, and any +@all ~* user: nothing to look
     * up per command. */
    if (acl_user_unrestricted(client->node->acl, u))
        return true;
    char name[64];
    int32_t id = node_acl_command_id(e->argv, e->argc, name, sizeof(name));
    if (id == NODE_ACL_ARITY)
        return true; /* the command answers its arity error */
    bool allowed = id >= 0 ? acl_command_allowed(u, (uint32_t)id) : u->future_commands;
    if (!allowed) {
        char text[128];
        snprintf(text, sizeof(text), "NOPERM this user has no permissions to run the '%s' command",
                 name);
        client->node->stats.acl_denied_cmd++;
        node_exec_error(e, text);
        return false;
    }
    if (!node_acl_keys_permitted(u, e->argv, e->argc)) {
        client->node->stats.acl_denied_key++;
        node_exec_error(e, noperm_key);
        return false;
    }
    return true;
}

/* ---- ACL subcommands ---- */

static void reply_bulk_text(struct resp_out *out, const char *text, size_t len)
{
    resp_reply_bulk(out, text, len);
}

static void acl_list(struct node_exec *e, struct resp_out *out)
{
    const struct acl_table *t = e->node->acl;
    static char line[6 + ACL_NAME_BYTES_MAX + ACL_DESCRIBE_BYTES_MAX];
    resp_reply_array(out, t->count);
    for (uint32_t i = 0; i < t->count; i++) {
        const struct acl_user *u = &t->users[i];
        size_t n = (size_t)snprintf(line, sizeof(line), "user %.*s ", (int)u->name_len, u->name);
        n += acl_describe(t, u, line + n, sizeof(line) - n);
        assert(n < sizeof(line));
        reply_bulk_text(out, line, n);
    }
}

static void acl_users(struct node_exec *e, struct resp_out *out)
{
    const struct acl_table *t = e->node->acl;
    resp_reply_array(out, t->count);
    for (uint32_t i = 0; i < t->count; i++)
        reply_bulk_text(out, t->users[i].name, t->users[i].name_len);
}

/* ACL GETUSER: Redis 7.0's map of flags, passwords, commands, keys, channels, selectors. */
static void acl_getuser(struct node_exec *e, struct resp_out *out)
{
    const struct acl_table *t = e->node->acl;
    const struct acl_user *u = acl_find_const(t, e->argv[2].data, e->argv[2].len);
    if (u == NULL) {
        resp_reply_null(out);
        return;
    }
    static char text[ACL_DESCRIBE_BYTES_MAX];
    resp_reply_map(out, 6);
    reply_bulk_text(out, "flags", 5);
    /* a set in RESP3; chorus writes an array */
    resp_reply_array(out, 1 + u->nopass + u->sanitize_payload + u->skip_sanitize_payload);
    reply_bulk_text(out, u->enabled ? "on" : "off", u->enabled ? 2 : 3);
    if (u->nopass)
        reply_bulk_text(out, "nopass", 6);
    if (u->skip_sanitize_payload)
        reply_bulk_text(out, "skip-sanitize-payload", 21);
    if (u->sanitize_payload)
        reply_bulk_text(out, "sanitize-payload", 16);
    reply_bulk_text(out, "passwords", 9);
    resp_reply_array(out, u->password_count);
    for (uint32_t i = 0; i < u->password_count; i++) {
        static const char digits[] = "0123456789abcdef";
        char hex[ACL_HASH_HEX_BYTES];
        for (int b = 0; b < ACL_HASH_BYTES; b++) {
            hex[2 * b] = digits[u->passwords[i][b] >> 4];
            hex[2 * b + 1] = digits[u->passwords[i][b] & 15];
        }
        reply_bulk_text(out, hex, sizeof(hex));
    }
    reply_bulk_text(out, "commands", 8);
    reply_bulk_text(out, text, acl_describe_commands(t, u, text, sizeof(text)));
    reply_bulk_text(out, "keys", 4);
    reply_bulk_text(out, text, acl_describe_keys(u, text, sizeof(text)));
    reply_bulk_text(out, "channels", 8);
    reply_bulk_text(out, text, acl_describe_channels(u, text, sizeof(text)));
    reply_bulk_text(out, "selectors", 9);
    resp_reply_array(out, 0);
}

/* ACL CAT [category]: the caller checked the category (acl_cat_known). */
static void acl_cat(struct node_exec *e, struct resp_out *out)
{
    if (e->argc == 2) {
        resp_reply_array(out, ACL_CATEGORY_COUNT);
        for (int i = 0; i < ACL_CATEGORY_COUNT; i++)
            reply_bulk_text(out, acl_category_names[i], strlen(acl_category_names[i]));
        return;
    }
    int c = acl_category_find(e->argv[2].data, e->argv[2].len);
    assert(c >= 0);
    const struct acl_catalog *catalog = node_acl_catalog();
    uint32_t n = 0;
    for (uint32_t i = 0; i < catalog->count; i++)
        n += (catalog->entries[i].categories >> c) & 1;
    resp_reply_array(out, n);
    for (uint32_t i = 0; i < catalog->count; i++)
        if ((catalog->entries[i].categories >> c) & 1)
            reply_bulk_text(out, catalog->entries[i].name, strlen(catalog->entries[i].name));
}

static bool acl_cat_known(struct node_exec *e)
{
    if (e->argc == 2 || acl_category_find(e->argv[2].data, e->argv[2].len) >= 0)
        return true;
    char text[ACL_ERROR_BYTES];
    int shown = e->argv[2].len > 256 ? 256 : (int)e->argv[2].len;
    snprintf(text, sizeof(text), "ERR Unknown category '%.*s'", shown, e->argv[2].data);
    node_exec_error(e, text);
    return false;
}

/* Proposes an ACL entry to the ACL group; the reply comes when this node applied it. */
static void acl_propose(struct node_exec *e, enum acl_op op, const struct acl_arg *args,
                        uint32_t count)
{
    struct node *node = e->node;
    struct node_group *g = node_acl_group(node);
    if (g == NULL) {
        node_exec_error(e, "ERR this node holds no replica of the meta group, which keeps the "
                           "ACL users: run ACL SETUSER and ACL DELUSER on one of the first five "
                           "nodes by id");
        return;
    }
    if (node->pending_requests >= node->config.pending_requests_max) {
        node_exec_error(e, "-BUSY too many pending requests, the command was not executed");
        return;
    }
    size_t bytes = acl_entry_encoded_bytes(args, count);
    if (bytes + NODE_WRITE_TAG_BYTES > CN_ENTRY_DATA_BYTES_MAX) {
        node_exec_error(e, "ERR command too large");
        return;
    }
    uint8_t *payload = malloc(NODE_WRITE_TAG_BYTES + bytes);
    assert(payload != NULL);
    int64_t len = acl_entry_encode(op, args, count, payload + NODE_WRITE_TAG_BYTES, bytes);
    assert(len == (int64_t)bytes);
    struct node_request *r = node_request_new(e->client, g);
    uint64_t tag = node_write_tag(node, r->id);
    memcpy(payload, &tag, NODE_WRITE_TAG_BYTES);
    r->payload = payload;
    r->payload_len = (uint32_t)(NODE_WRITE_TAG_BYTES + bytes);
    node_request_propose(node, r);
}

static void acl_setuser_cmd(struct node_exec *e)
{
    uint32_t count = e->argc - 3; /* ACL SETUSER name rule... */
    if (count > ACL_RULES_MAX) {
        node_exec_error(e, "ERR chorus allows at most 256 rules in one ACL SETUSER");
        return;
    }
    static struct acl_arg args[ACL_RULES_MAX + 1];
    static char hashes[ACL_RULES_MAX + 1][ACL_HASH_HEX_BYTES + 1];
    for (uint32_t i = 0; i < count + 1; i++) {
        if (e->argv[2 + i].len > ACL_RULE_BYTES_MAX) {
            node_exec_error(e, "ERR chorus allows ACL rules of at most 1024 bytes");
            return;
        }
        args[i] = (struct acl_arg){.data = e->argv[2 + i].data, .len = e->argv[2 + i].len};
    }
    /* The log, the WAL and any error below see hashes, never a password. */
    acl_rules_hide_passwords(args + 1, count, hashes);
    char error[ACL_ERROR_BYTES];
    memcpy(e->node->acl_scratch, e->node->acl, sizeof(*e->node->acl));
    int rv = acl_setuser(e->node->acl_scratch, args[0].data, args[0].len, args + 1, count, error,
                         sizeof(error));
    if (rv == 0)
        acl_propose(e, ACL_OP_SETUSER, args, count + 1);
    else
        node_exec_error(e, error);
    memset(hashes, 0, sizeof(hashes));
}

static void acl_deluser_cmd(struct node_exec *e)
{
    static struct acl_arg args[ACL_RULES_MAX + 1];
    uint32_t count = e->argc - 2;
    if (count > ACL_RULES_MAX + 1) {
        node_exec_error(e, "ERR chorus removes at most 257 users in one ACL DELUSER");
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        const struct resp_arg *a = &e->argv[2 + i];
        if (a->len == 7 && memcmp(a->data, default_name, 7) == 0) {
            node_exec_error(e, "ERR The 'default' user cannot be removed");
            return;
        }
        if (a->len > ACL_RULE_BYTES_MAX) {
            node_exec_error(e, "ERR chorus allows user names of at most 128 bytes");
            return;
        }
        args[i] = (struct acl_arg){.data = a->data, .len = a->len};
    }
    acl_propose(e, ACL_OP_DELUSER, args, count);
}

struct acl_subcommand {
    const char *name;
    int arity; /* counted from ACL, as Redis's */
};
static const struct acl_subcommand acl_subcommands[] = {
    {"cat", -2}, {"deluser", -3}, {"getuser", 3}, {"list", 2},
    {"setuser", -3}, {"users", 2}, {"whoami", 2},
};

void node_cmd_acl(struct node_exec *e)
{
    const struct resp_arg *sub = &e->argv[1];
    const struct acl_subcommand *s = NULL;
    for (size_t i = 0; i < sizeof(acl_subcommands) / sizeof(acl_subcommands[0]); i++)
        if (node_arg_is(sub, acl_subcommands[i].name))
            s = &acl_subcommands[i];
    char text[ACL_ERROR_BYTES];
    if (s == NULL) {
        int shown = sub->len > 128 ? 128 : (int)sub->len;
        snprintf(text, sizeof(text), "ERR unknown subcommand '%.*s'. Try ACL HELP.", shown,
                 sub->data);
        node_exec_error(e, text);
        return;
    }
    if ((s->arity > 0 && e->argc != (uint32_t)s->arity) ||
        (s->arity < 0 && e->argc < (uint32_t)-s->arity) ||
        (strcmp(s->name, "cat") == 0 && e->argc > 3)) {
        snprintf(text, sizeof(text), "ERR wrong number of arguments for 'acl|%s' command", s->name);
        node_exec_error(e, text);
        return;
    }
    if (strcmp(s->name, "setuser") == 0) {
        acl_setuser_cmd(e);
        return;
    }
    if (strcmp(s->name, "deluser") == 0) {
        acl_deluser_cmd(e);
        return;
    }
    if (strcmp(s->name, "cat") == 0 && !acl_cat_known(e))
        return;
    struct resp_out *out = node_exec_out(e);
    if (strcmp(s->name, "whoami") == 0)
        reply_bulk_text(out, e->client->user, e->client->user_len);
    else if (strcmp(s->name, "list") == 0)
        acl_list(e, out);
    else if (strcmp(s->name, "users") == 0)
        acl_users(e, out);
    else if (strcmp(s->name, "getuser") == 0)
        acl_getuser(e, out);
    else
        acl_cat(e, out);
    node_exec_done(e, out);
}
