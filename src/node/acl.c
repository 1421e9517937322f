/*
 * acl.c — ACL users as Redis 7.0 keeps them (acl.h): rules, checks, descriptions, encoding.
 *
 * The rules and their error texts follow Redis 7.0's ACLSetUser and ACLSetSelector; the
 * description follows its ACLDescribeUser and ACLDescribeUserCommandRules (best-fitting
 * categories, then single commands). Users are kept sorted by name, as Redis's rax keeps
 * them, so ACL LIST and ACL USERS come out in Redis's order.
 */
#include <assert.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "node/acl.h"
#include "node/auth.h"
#include "storage/kv_glob.h"

const char *const acl_category_names[ACL_CATEGORY_COUNT] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
};

const uint8_t acl_entry_magic[ACL_ENTRY_MAGIC_BYTES] = {'A', 'C', 'L', 'E'};
static const uint8_t table_magic[4] = {'A', 'C', 'L', 'T'};
enum { TABLE_VERSION = 1, ACL_ALL = -2 };

int acl_category_find(const char *name, size_t len)
{
    for (int i = 0; i < ACL_CATEGORY_COUNT; i++)
        if (strlen(acl_category_names[i]) == len && strncasecmp(acl_category_names[i], name, len) == 0)
            return i;
    return -1;
}

uint32_t acl_category_mask(const char *list)
{
    uint32_t mask = 0;
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end != '\0' && *end != ' ')
            end++;
        if (end > p && *p == '@') {
            int c = acl_category_find(p + 1, (size_t)(end - p - 1));
            if (c >= 0)
                mask |= 1u << c;
        }
        p = end;
    }
    return mask;
}

void acl_hash_password(const uint8_t *password, size_t len, uint8_t out[ACL_HASH_BYTES])
{
    SHA256(password, len, out);
}

static void hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Redis accepts exactly 64 lowercase hexadecimal digits. */
static bool hex_decode(const char *in, size_t len, uint8_t out[ACL_HASH_BYTES])
{
    if (len != ACL_HASH_HEX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return true;
}

/* ---- bits ---- */

static bool bit_get(const uint64_t *bits, uint32_t i)
{
    return (bits[i / 64] >> (i % 64)) & 1;
}

static void bit_put(uint64_t *bits, uint32_t i, bool on)
{
    if (on)
        bits[i / 64] |= 1ull << (i % 64);
    else
        bits[i / 64] &= ~(1ull << (i % 64));
}

/* A command's bit, and its subcommands' when it is a container (Redis's
 * ACLChangeSelectorPerm). */
static void command_put(const struct acl_catalog *catalog, uint64_t *bits, uint32_t i, bool on)
{
    bit_put(bits, i, on);
    for (uint32_t j = 0; j < catalog->count; j++)
        if (catalog->entries[j].parent == (int32_t)i)
            bit_put(bits, j, on);
}

/* Every command of a category (ACL_ALL: all of them). */
static void category_put(const struct acl_catalog *catalog, uint64_t *bits, int category, bool on)
{
    for (uint32_t j = 0; j < catalog->count; j++)
        if (category == ACL_ALL || (catalog->entries[j].categories >> category) & 1)
            bit_put(bits, j, on);
}

/* ---- the table ---- */

static void patterns_clear(struct acl_patterns *p)
{
    p->count = 0;
    p->used = 0;
}

static const uint8_t *pattern_at(const struct acl_patterns *p, uint32_t index, size_t *len)
{
    uint32_t at = 0;
    for (uint32_t i = 0; i < index; i++)
        at += p->len[i];
    *len = p->len[index];
    return p->pool + at;
}

static bool patterns_has(const struct acl_patterns *p, const char *pat, size_t len)
{
    uint32_t at = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        if (p->len[i] == len && memcmp(p->pool + at, pat, len) == 0)
            return true;
        at += p->len[i];
    }
    return false;
}

/* Adds a pattern (once); false when the user's bounds are reached. */
static bool patterns_add(struct acl_patterns *p, const char *pat, size_t len)
{
    if (patterns_has(p, pat, len))
        return true;
    if (p->count == ACL_PATTERNS_MAX || len > ACL_PATTERN_POOL_BYTES - p->used)
        return false;
    memcpy(p->pool + p->used, pat, len);
    p->len[p->count++] = (uint16_t)len;
    p->used += (uint32_t)len;
    return true;
}

/* Redis 7.0's new user: off, no password, no keys, no channels (acl-pubsub-default
 * resetchannels), no commands. */
static void user_init(struct acl_user *u, const char *name, size_t len)
{
    assert(len <= ACL_NAME_BYTES_MAX);
    memset(u, 0, sizeof(*u));
    memcpy(u->name, name, len);
    u->name_len = (uint32_t)len;
}

void acl_table_init(struct acl_table *table, const struct acl_catalog *catalog,
                    const uint8_t *default_hash)
{
    assert(catalog->count <= ACL_CATALOG_MAX);
    memset(table, 0, sizeof(*table));
    table->catalog = catalog;
    struct acl_user *u = &table->users[0];
    user_init(u, "default", 7);
    u->enabled = true;
    u->allkeys = true;
    u->allchannels = true;
    u->future_commands = true;
    category_put(catalog, u->allowed, ACL_ALL, true);
    if (default_hash != NULL) {
        memcpy(u->passwords[0], default_hash, ACL_HASH_BYTES);
        u->password_count = 1;
    } else {
        u->nopass = true;
    }
    table->count = 1;
}

/* The position of name in the sorted table, or where it would go (*found false). */
static uint32_t table_position(const struct acl_table *table, const char *name, size_t len,
                               bool *found)
{
    for (uint32_t i = 0; i < table->count; i++) {
        const struct acl_user *u = &table->users[i];
        size_t common = u->name_len < len ? u->name_len : len;
        int c = memcmp(u->name, name, common);
        if (c == 0 && u->name_len == len) {
            *found = true;
            return i;
        }
        if (c > 0 || (c == 0 && u->name_len > len)) {
            *found = false;
            return i;
        }
    }
    *found = false;
    return table->count;
}

const struct acl_user *acl_find_const(const struct acl_table *table, const char *name, size_t len)
{
    bool found = false;
    uint32_t i = table_position(table, name, len, &found);
    return found ? &table->users[i] : NULL;
}

struct acl_user *acl_find(struct acl_table *table, const char *name, size_t len)
{
    return (struct acl_user *)acl_find_const(table, name, len);
}

/* ---- ACL SETUSER ---- */

static bool arg_is(const struct acl_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(a->data, word, a->len) == 0;
}

static int catalog_find(const struct acl_catalog *catalog, const char *name, size_t len)
{
    for (uint32_t i = 0; i < catalog->count; i++) {
        const char *n = catalog->entries[i].name;
        if (strlen(n) == len && strncasecmp(n, name, len) == 0)
            return (int)i;
    }
    return -1;
}

static bool hash_remove(struct acl_user *u, const uint8_t *hash)
{
    for (uint32_t i = 0; i < u->password_count; i++) {
        if (memcmp(u->passwords[i], hash, ACL_HASH_BYTES) == 0) {
            memmove(u->passwords[i], u->passwords[i + 1],
                    (size_t)(u->password_count - i - 1) * ACL_HASH_BYTES);
            u->password_count--;
            return true;
        }
    }
    return false;
}

/* Adds a hash (once); false when the user has ACL_PASSWORDS_MAX already. */
static bool hash_add(struct acl_user *u, const uint8_t *hash)
{
    for (uint32_t i = 0; i < u->password_count; i++)
        if (memcmp(u->passwords[i], hash, ACL_HASH_BYTES) == 0)
            return true;
    if (u->password_count == ACL_PASSWORDS_MAX)
        return false;
    memcpy(u->passwords[u->password_count++], hash, ACL_HASH_BYTES);
    u->nopass = false;
    return true;
}

static const char err_syntax[] = "Syntax error";
static const char err_unknown[] = "Unknown command or category name in ACL";
static const char err_hash[] =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters";
static const char err_nopass[] = "The password you are trying to remove from the user does not exist";
static const char err_allkeys[] =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns";
static const char err_allchannels[] =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels";
static const char err_bound[] = "chorus keeps at most 16 passwords and 32 patterns (2048 bytes) "
                                "of keys and of channels per user";

/* +cmd, -cmd, +cmd|sub, +@cat, -@cat (op is '+' or '-'). */
static const char *rule_commands(const struct acl_catalog *catalog, struct acl_user *u,
                                 const struct acl_arg *r)
{
    bool on = r->data[0] == '+';
    const char *name = r->data + 1;
    size_t len = r->len - 1;
    if (len > 0 && name[0] == '@') {
        int category = len == 4 && strncasecmp(name + 1, "all", 3) == 0
                           ? ACL_ALL
                           : acl_category_find(name + 1, len - 1);
        if (category == -1)
            return err_unknown;
        category_put(catalog, u->allowed, category, on);
        if (category == ACL_ALL)
            u->future_commands = on;
        return NULL;
    }
    int i = catalog_find(catalog, name, len);
    if (i < 0)
        return err_unknown;
    command_put(catalog, u->allowed, (uint32_t)i, on);
    return NULL;
}

/* One rule on the user; NULL or the reason it failed (Redis's text). */
static const char *rule_apply(const struct acl_catalog *catalog, struct acl_user *u,
                              const struct acl_arg *r)
{
    if (r->len == 0)
        return err_syntax;
    char op = r->data[0];
    uint8_t hash[ACL_HASH_BYTES];
    if (arg_is(r, "on")) {
        u->enabled = true;
    } else if (arg_is(r, "off")) {
        u->enabled = false;
    } else if (arg_is(r, "nopass")) {
        u->nopass = true;
        u->password_count = 0;
    } else if (arg_is(r, "resetpass")) {
        u->nopass = false;
        u->password_count = 0;
    } else if (arg_is(r, "allkeys") || (r->len == 2 && memcmp(r->data, "~*", 2) == 0)) {
        u->allkeys = true;
        patterns_clear(&u->keys);
    } else if (arg_is(r, "resetkeys")) {
        u->allkeys = false;
        patterns_clear(&u->keys);
    } else if (arg_is(r, "allchannels") || (r->len == 2 && memcmp(r->data, "&*", 2) == 0)) {
        u->allchannels = true;
        patterns_clear(&u->channels);
    } else if (arg_is(r, "resetchannels")) {
        u->allchannels = false;
        patterns_clear(&u->channels);
    } else if (arg_is(r, "allcommands") || arg_is(r, "nocommands")) {
        bool on = arg_is(r, "allcommands");
        category_put(catalog, u->allowed, ACL_ALL, on);
        u->future_commands = on;
    } else if (arg_is(r, "sanitize-payload") || arg_is(r, "skip-sanitize-payload")) {
        u->sanitize_payload = arg_is(r, "sanitize-payload");
        u->skip_sanitize_payload = !u->sanitize_payload;
    } else if (arg_is(r, "clearselectors")) {
        /* chorus has no selectors: nothing to clear */
    } else if (arg_is(r, "reset")) {
        char name[ACL_NAME_BYTES_MAX];
        uint32_t len = u->name_len;
        memcpy(name, u->name, len);
        user_init(u, name, len);
        u->sanitize_payload = true; /* Redis 7.0's reset says so */
    } else if (op == '>' || op == '<') {
        acl_hash_password((const uint8_t *)r->data + 1, r->len - 1, hash);
        if (op == '>' && !hash_add(u, hash))
            return err_bound;
        if (op == '<' && !hash_remove(u, hash))
            return err_nopass;
    } else if (op == '#' || op == '!') {
        if (!hex_decode(r->data + 1, r->len - 1, hash))
            return err_hash;
        if (op == '#' && !hash_add(u, hash))
            return err_bound;
        if (op == '!' && !hash_remove(u, hash))
            return err_nopass;
    } else if (op == '~') {
        if (u->allkeys)
            return err_allkeys;
        if (!patterns_add(&u->keys, r->data + 1, r->len - 1))
            return err_bound;
    } else if (op == '&') {
        if (u->allchannels)
            return err_allchannels;
        if (!patterns_add(&u->channels, r->data + 1, r->len - 1))
            return err_bound;
    } else if (op == '+' || op == '-') {
        return rule_commands(catalog, u, r);
    } else {
        return err_syntax;
    }
    return NULL;
}

static void rule_error(char *error, size_t error_len, const struct acl_arg *r, const char *why)
{
    int shown = r->len > ACL_RULE_BYTES_MAX ? ACL_RULE_BYTES_MAX : (int)r->len;
    /* Redis formats the rule as a C string: it ends at a NUL byte. */
    const char *nul = memchr(r->data, '\0', (size_t)shown);
    if (nul != NULL)
        shown = (int)(nul - r->data);
    /* A password never reaches here: the caller replaced '>' and '<' rules by their hashes,
     * and a '>' rule cannot fail but for the bound, which says nothing of it. */
    if (shown > 0 && (r->data[0] == '>' || r->data[0] == '<'))
        shown = 1;
    snprintf(error, error_len, "ERR Error in ACL SETUSER modifier '%.*s': %s", shown, r->data, why);
}

int acl_setuser(struct acl_table *table, const char *name, size_t name_len,
                const struct acl_arg *rules, uint32_t rule_count, char *error, size_t error_len)
{
    if (memchr(name, ' ', name_len) != NULL || memchr(name, '\0', name_len) != NULL) {
        snprintf(error, error_len, "ERR Usernames can't contain spaces or null characters");
        return -1;
    }
    if (name_len > ACL_NAME_BYTES_MAX) {
        snprintf(error, error_len, "ERR chorus allows user names of at most %d bytes",
                 ACL_NAME_BYTES_MAX);
        return -1;
    }
    if (rule_count > ACL_RULES_MAX) {
        snprintf(error, error_len, "ERR chorus allows at most %d rules in one ACL SETUSER",
                 ACL_RULES_MAX);
        return -1;
    }
    bool found = false;
    uint32_t at = table_position(table, name, name_len, &found);
    if (!found && table->count == ACL_USERS_MAX) {
        snprintf(error, error_len, "ERR chorus keeps at most %d ACL users", ACL_USERS_MAX);
        return -1;
    }
    /* All or nothing: the rules go to a copy, which replaces the user when all applied. */
    struct acl_user candidate;
    if (found)
        candidate = table->users[at];
    else
        user_init(&candidate, name, name_len);
    for (uint32_t i = 0; i < rule_count; i++) {
        const char *why = rule_apply(table->catalog, &candidate, &rules[i]);
        if (why != NULL) {
            rule_error(error, error_len, &rules[i], why);
            memset(&candidate, 0, sizeof(candidate));
            return -1;
        }
    }
    if (!found) {
        memmove(&table->users[at + 1], &table->users[at],
                (size_t)(table->count - at) * sizeof(table->users[0]));
        table->count++;
    }
    table->users[at] = candidate;
    memset(&candidate, 0, sizeof(candidate));
    if (name_len == 7 && memcmp(name, "default", 7) == 0)
        table->default_replicated = true;
    return 0;
}

bool acl_deluser(struct acl_table *table, const char *name, size_t len)
{
    bool found = false;
    uint32_t at = table_position(table, name, len, &found);
    if (!found || (len == 7 && memcmp(name, "default", 7) == 0))
        return false;
    memset(&table->users[at], 0, sizeof(table->users[at]));
    memmove(&table->users[at], &table->users[at + 1],
            (size_t)(table->count - at - 1) * sizeof(table->users[0]));
    table->count--;
    return true;
}

void acl_rules_hide_passwords(struct acl_arg *rules, uint32_t count,
                              char (*scratch)[ACL_HASH_HEX_BYTES + 1])
{
    for (uint32_t i = 0; i < count; i++) {
        struct acl_arg *r = &rules[i];
        if (r->len == 0 || (r->data[0] != '>' && r->data[0] != '<'))
            continue;
        uint8_t hash[ACL_HASH_BYTES];
        acl_hash_password((const uint8_t *)r->data + 1, r->len - 1, hash);
        scratch[i][0] = r->data[0] == '>' ? '#' : '!';
        hex_encode(hash, ACL_HASH_BYTES, scratch[i] + 1);
        /* '#' + 64 digits: the hex ends with a NUL at 65, which the length leaves out. */
        r->data = scratch[i];
        r->len = 1 + ACL_HASH_HEX_BYTES;
    }
}

/* ---- checks ---- */

bool acl_user_unrestricted(const struct acl_table *table, const struct acl_user *user)
{
    if (!user->allkeys || !user->future_commands)
        return false;
    uint32_t count = table->catalog->count;
    for (uint32_t w = 0; w < (count + 63) / 64; w++) {
        uint64_t want = count - w * 64 >= 64 ? ~0ull : (1ull << (count - w * 64)) - 1;
        if ((user->allowed[w] & want) != want)
            return false;
    }
    return true;
}

bool acl_command_allowed(const struct acl_user *user, uint32_t command)
{
    assert(command < ACL_CATALOG_MAX);
    return bit_get(user->allowed, command);
}

bool acl_key_allowed(const struct acl_user *user, const uint8_t *key, size_t len)
{
    if (user->allkeys)
        return true;
    for (uint32_t i = 0; i < user->keys.count; i++) {
        size_t pattern_len = 0;
        const uint8_t *pattern = pattern_at(&user->keys, i, &pattern_len);
        if (kv_glob_match(pattern, pattern_len, key, len))
            return true;
    }
    return false;
}

bool acl_password_ok(const struct acl_user *user, const uint8_t *password, size_t len)
{
    if (user->nopass)
        return true;
    uint8_t hash[ACL_HASH_BYTES];
    acl_hash_password(password, len, hash);
    bool ok = false;
    /* Every hash is compared, in constant time each. */
    for (uint32_t i = 0; i < user->password_count; i++)
        ok |= auth_password_equal(user->passwords[i], ACL_HASH_BYTES, hash, ACL_HASH_BYTES);
    return ok;
}

/* ---- descriptions ---- */

struct text {
    char *out;
    size_t cap, len;
};

static void text_put(struct text *t, const char *s, size_t len)
{
    if (t->cap > 0 && t->len + len < t->cap)
        memcpy(t->out + t->len, s, len);
    t->len += len;
    if (t->cap > 0)
        t->out[t->len < t->cap ? t->len : t->cap - 1] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* Counts a category's commands on and off in bits (Redis's ACLCountCategoryBitsForUser). */
static void category_count(const struct acl_catalog *catalog, const uint64_t *bits, int category,
                           uint32_t *on, uint32_t *off)
{
    *on = *off = 0;
    for (uint32_t j = 0; j < catalog->count; j++) {
        if (!((catalog->entries[j].categories >> category) & 1))
            continue;
        if (bit_get(bits, j))
            (*on)++;
        else
            (*off)++;
    }
}

/* Redis 7.0's ACLDescribeUserCommandRules: +@all or -@all, then while a category has more
 * commands in common with the user than different ones, the best such category, then the
 * single commands that still differ. Replaying the result gives the user's bitmap exactly. */
static void describe_commands(const struct acl_catalog *catalog, const struct acl_user *u,
                              struct text *t)
{
    uint64_t fake[ACL_CATALOG_MAX / 64] = {0}, temp[ACL_CATALOG_MAX / 64];
    bool additive = !u->future_commands;
    text_str(t, additive ? "-@all " : "+@all ");
    if (!additive)
        category_put(catalog, fake, ACL_ALL, true);
    memcpy(temp, u->allowed, sizeof(temp));
    bool applied[ACL_CATEGORY_COUNT] = {false};
    /* At most one category per pass, each once: ACL_CATEGORY_COUNT passes. */
    for (int pass = 0; pass < ACL_CATEGORY_COUNT; pass++) {
        int best = -1;
        uint32_t mindiff = UINT32_MAX, maxsame = 0;
        for (int j = 0; j < ACL_CATEGORY_COUNT; j++) {
            if (applied[j])
                continue;
            uint32_t on, off;
            category_count(catalog, temp, j, &on, &off);
            uint32_t diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best == -1)
            break;
        text_str(t, additive ? "+@" : "-@");
        text_str(t, acl_category_names[best]);
        text_str(t, " ");
        category_put(catalog, fake, best, additive);
        category_put(catalog, temp, best, !additive);
        applied[best] = true;
    }
    for (uint32_t j = 0; j < catalog->count; j++) {
        bool user_bit = bit_get(u->allowed, j);
        if (user_bit == bit_get(fake, j))
            continue;
        text_str(t, user_bit ? "+" : "-");
        text_str(t, catalog->entries[j].name);
        text_str(t, " ");
        command_put(catalog, fake, j, user_bit);
    }
    assert(memcmp(fake, u->allowed, sizeof(fake)) == 0);
    /* The last space goes (Redis's sdsrange(rules, 0, -2)). */
    t->len--;
    if (t->cap > 0)
        t->out[t->len < t->cap ? t->len : t->cap - 1] = '\0';
}

static void describe_patterns(const struct acl_patterns *p, char prefix, struct text *t)
{
    for (uint32_t i = 0; i < p->count; i++) {
        size_t len = 0;
        const uint8_t *pattern = pattern_at(p, i, &len);
        text_put(t, &prefix, 1);
        text_put(t, (const char *)pattern, len);
        text_str(t, " ");
    }
}

static void describe_keys(const struct acl_user *u, struct text *t)
{
    if (u->allkeys)
        text_str(t, "~* ");
    else
        describe_patterns(&u->keys, '~', t);
}

static void describe_channels(const struct acl_user *u, struct text *t)
{
    if (u->allchannels) {
        text_str(t, "&* ");
        return;
    }
    text_str(t, "resetchannels ");
    describe_patterns(&u->channels, '&', t);
}

size_t acl_describe(const struct acl_table *table, const struct acl_user *u, char *out, size_t cap)
{
    struct text t = {.out = out, .cap = cap};
    text_str(&t, u->enabled ? "on " : "off ");
    if (u->nopass)
        text_str(&t, "nopass ");
    if (u->skip_sanitize_payload)
        text_str(&t, "skip-sanitize-payload ");
    if (u->sanitize_payload)
        text_str(&t, "sanitize-payload ");
    for (uint32_t i = 0; i < u->password_count; i++) {
        char hex[ACL_HASH_HEX_BYTES + 1];
        hex_encode(u->passwords[i], ACL_HASH_BYTES, hex);
        text_str(&t, "#");
        text_str(&t, hex);
        text_str(&t, " ");
    }
    describe_keys(u, &t);
    describe_channels(u, &t);
    describe_commands(table->catalog, u, &t);
    return t.len;
}

size_t acl_describe_commands(const struct acl_table *table, const struct acl_user *u, char *out,
                             size_t cap)
{
    struct text t = {.out = out, .cap = cap};
    describe_commands(table->catalog, u, &t);
    return t.len;
}

/* Without the trailing space (ACL GETUSER's "keys" and "channels" strings). */
static size_t trimmed(struct text *t)
{
    if (t->len > 0) {
        t->len--;
        if (t->cap > 0)
            t->out[t->len < t->cap ? t->len : t->cap - 1] = '\0';
    }
    return t->len;
}

size_t acl_describe_keys(const struct acl_user *u, char *out, size_t cap)
{
    struct text t = {.out = out, .cap = cap};
    if (cap > 0)
        out[0] = '\0';
    describe_keys(u, &t);
    return trimmed(&t);
}

size_t acl_describe_channels(const struct acl_user *u, char *out, size_t cap)
{
    struct text t = {.out = out, .cap = cap};
    if (cap > 0)
        out[0] = '\0';
    if (u->allchannels)
        text_str(&t, "&* ");
    else
        describe_patterns(&u->channels, '&', &t);
    return trimmed(&t);
}

/* ---- encoding ---- */

struct writer {
    uint8_t *out;
    size_t cap, len;
};

static void put_bytes(struct writer *w, const void *data, size_t len)
{
    if (w->len + len <= w->cap)
        memcpy(w->out + w->len, data, len);
    w->len += len;
}

static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_bytes(w, b, 4);
}

static void put_arg(struct writer *w, const void *data, size_t len)
{
    put_u32(w, (uint32_t)len);
    put_bytes(w, data, len);
}

/* A user as the rules that make it from nothing: resets, flags, hashes, keys, channels and
 * the commands as ACL LIST describes them. */
static void encode_user(const struct acl_table *table, const struct acl_user *u, struct writer *w)
{
    uint32_t rules = 1 + 5 + (u->nopass ? 1 : 0) + u->password_count +
                     (u->sanitize_payload || u->skip_sanitize_payload ? 1 : 0) +
                     (u->allkeys ? 1 : u->keys.count) + (u->allchannels ? 1 : u->channels.count);
    static char commands[ACL_DESCRIBE_BYTES_MAX];
    size_t commands_len = acl_describe_commands(table, u, commands, sizeof(commands));
    assert(commands_len < sizeof(commands));
    for (size_t i = 0; i < commands_len; i++)
        rules += commands[i] == ' ';
    rules++;
    put_u32(w, rules);
    put_arg(w, u->name, u->name_len);
    /* reset's parts, without the payload flag that reset sets in Redis 7.0 */
    put_arg(w, "resetpass", 9);
    put_arg(w, "resetkeys", 9);
    put_arg(w, "resetchannels", 13);
    put_arg(w, "nocommands", 10);
    put_arg(w, u->enabled ? "on" : "off", u->enabled ? 2 : 3);
    if (u->nopass)
        put_arg(w, "nopass", 6);
    if (u->sanitize_payload)
        put_arg(w, "sanitize-payload", 16);
    if (u->skip_sanitize_payload)
        put_arg(w, "skip-sanitize-payload", 21);
    for (uint32_t i = 0; i < u->password_count; i++) {
        char rule[1 + ACL_HASH_HEX_BYTES + 1] = "#";
        hex_encode(u->passwords[i], ACL_HASH_BYTES, rule + 1);
        put_arg(w, rule, 1 + ACL_HASH_HEX_BYTES);
    }
    const struct acl_patterns *sets[2] = {&u->keys, &u->channels};
    const bool all[2] = {u->allkeys, u->allchannels};
    const char prefix[2] = {'~', '&'};
    for (int s = 0; s < 2; s++) {
        if (all[s]) {
            char rule[2] = {prefix[s], '*'};
            put_arg(w, rule, 2);
            continue;
        }
        for (uint32_t i = 0; i < sets[s]->count; i++) {
            size_t len = 0;
            const uint8_t *pattern = pattern_at(sets[s], i, &len);
            put_u32(w, (uint32_t)(len + 1));
            put_bytes(w, &prefix[s], 1);
            put_bytes(w, pattern, len);
        }
    }
    const char *p = commands;
    while (p < commands + commands_len) {
        const char *end = memchr(p, ' ', (size_t)(commands + commands_len - p));
        if (end == NULL)
            end = commands + commands_len;
        put_arg(w, p, (size_t)(end - p));
        p = end + 1;
    }
}

int64_t acl_encode(const struct acl_table *table, uint8_t *out, size_t cap)
{
    struct writer w = {.out = out, .cap = cap};
    put_bytes(&w, table_magic, 4);
    uint8_t version = TABLE_VERSION;
    put_bytes(&w, &version, 1);
    uint32_t count = 0;
    for (uint32_t i = 0; i < table->count; i++) {
        const struct acl_user *u = &table->users[i];
        bool is_default = u->name_len == 7 && memcmp(u->name, "default", 7) == 0;
        count += !is_default || table->default_replicated;
    }
    put_u32(&w, count);
    for (uint32_t i = 0; i < table->count; i++) {
        const struct acl_user *u = &table->users[i];
        bool is_default = u->name_len == 7 && memcmp(u->name, "default", 7) == 0;
        if (!is_default || table->default_replicated)
            encode_user(table, u, &w);
    }
    return w.len <= cap ? (int64_t)w.len : -1;
}

struct reader {
    const uint8_t *in;
    size_t len, at;
};

static bool get_u32(struct reader *r, uint32_t *v)
{
    if (r->len - r->at < 4)
        return false;
    const uint8_t *p = r->in + r->at;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->at += 4;
    return true;
}

/* count arguments, each bounded by ACL_RULE_BYTES_MAX and by the input. */
static bool get_args(struct reader *r, struct acl_arg *args, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = 0;
        if (!get_u32(r, &len) || len > ACL_RULE_BYTES_MAX || r->len - r->at < len)
            return false;
        args[i] = (struct acl_arg){.data = (const char *)r->in + r->at, .len = len};
        r->at += len;
    }
    return true;
}

int acl_decode(struct acl_table *table, const uint8_t *in, size_t len)
{
    struct reader r = {.in = in, .len = len};
    uint32_t count = 0;
    if (len < 5 || memcmp(in, table_magic, 4) != 0 || in[4] != TABLE_VERSION)
        return -1;
    r.at = 5;
    if (!get_u32(&r, &count) || count > ACL_USERS_MAX)
        return -1;
    static struct acl_arg args[ACL_RULES_MAX + 1];
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = 0;
        if (!get_u32(&r, &n) || n == 0 || n > ACL_RULES_MAX + 1 || !get_args(&r, args, n))
            return -1;
        char error[ACL_ERROR_BYTES];
        if (acl_setuser(table, args[0].data, args[0].len, args + 1, n - 1, error,
                        sizeof(error)) != 0)
            return -1;
    }
    return r.at == len ? 0 : -1;
}

size_t acl_entry_encoded_bytes(const struct acl_arg *args, uint32_t count)
{
    size_t bytes = ACL_ENTRY_MAGIC_BYTES + 1 + 4;
    for (uint32_t i = 0; i < count; i++)
        bytes += 4 + args[i].len;
    return bytes;
}

int64_t acl_entry_encode(enum acl_op op, const struct acl_arg *args, uint32_t count, uint8_t *out,
                         size_t cap)
{
    struct writer w = {.out = out, .cap = cap};
    put_bytes(&w, acl_entry_magic, ACL_ENTRY_MAGIC_BYTES);
    uint8_t o = (uint8_t)op;
    put_bytes(&w, &o, 1);
    put_u32(&w, count);
    for (uint32_t i = 0; i < count; i++)
        put_arg(&w, args[i].data, args[i].len);
    return w.len <= cap ? (int64_t)w.len : -1;
}

bool acl_entry_is(const uint8_t *in, size_t len)
{
    return len >= ACL_ENTRY_MAGIC_BYTES && memcmp(in, acl_entry_magic, ACL_ENTRY_MAGIC_BYTES) == 0;
}

int acl_entry_apply(struct acl_table *table, const uint8_t *in, size_t len, int64_t *integer,
                    char *error, size_t error_len)
{
    struct reader r = {.in = in, .len = len, .at = ACL_ENTRY_MAGIC_BYTES + 1};
    uint32_t count = 0;
    static struct acl_arg args[ACL_RULES_MAX + 1];
    if (!acl_entry_is(in, len) || len < ACL_ENTRY_MAGIC_BYTES + 1 || !get_u32(&r, &count) ||
        count == 0 || count > ACL_RULES_MAX + 1 || !get_args(&r, args, count) || r.at != len) {
        snprintf(error, error_len, "ERR malformed ACL entry");
        return -1;
    }
    *integer = 0;
    uint8_t op = in[ACL_ENTRY_MAGIC_BYTES];
    if (op == ACL_OP_SETUSER)
        return acl_setuser(table, args[0].data, args[0].len, args + 1, count - 1, error,
                           error_len);
    if (op == ACL_OP_DELUSER) {
        for (uint32_t i = 0; i < count; i++)
            *integer += acl_deluser(table, args[i].data, args[i].len);
        return 0;
    }
    snprintf(error, error_len, "ERR malformed ACL entry");
    return -1;
}
