/*
 * acl.h — ACL users in the Redis 7.0 style (acl.c): the user table, ACL SETUSER's rules,
 * the permission checks, ACL LIST's description, and the table's encoding. Pure: no loop,
 * no socket, no store, so that the unit tests drive every rule; commands_acl.c applies it.
 *
 * Permissions are a bitmap over a catalog of commands (the node's COMMAND table, each with
 * its Redis ACL categories, plus ACL's subcommands), as Redis keeps a bitmap over its command
 * table. ACL LIST describes a user's bitmap as Redis 7.0 does: starting from +@all or -@all,
 * the categories that fit best, then single commands (ACLDescribeUserCommandRules). Redis's
 * choice depends on its whole command table, chorus's on its own, so for mixtures of
 * categories and single commands the two may describe the same permissions in other words.
 *
 * Passwords are kept as SHA-256 hashes only (">password" is hashed where it is parsed: the
 * replicated log carries "#hash"). Every bound is a named constant below.
 */
#ifndef CHORUS_NODE_ACL_H
#define CHORUS_NODE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ACL_USERS_MAX = 64,
    ACL_NAME_BYTES_MAX = 128,
    ACL_PASSWORDS_MAX = 16,
    ACL_PATTERNS_MAX = 32,          /* key patterns, and channel patterns, per user */
    ACL_PATTERN_POOL_BYTES = 2048,  /* all of a user's key (or channel) patterns together */
    ACL_CATALOG_MAX = 512,          /* commands and subcommands a bitmap covers */
    ACL_CATEGORY_COUNT = 21,
    ACL_HASH_BYTES = 32,
    ACL_HASH_HEX_BYTES = 64,
    ACL_RULES_MAX = 256,            /* rules of one ACL SETUSER */
    ACL_RULE_BYTES_MAX = 1024,      /* one rule */
    ACL_ERROR_BYTES = 1400,         /* an error text: the longest message and one rule */
    /* A whole encoded table: every user's rules, generously. */
    ACL_ENCODED_BYTES_MAX = 1u << 20,
    ACL_DESCRIBE_BYTES_MAX = 32768, /* one ACL LIST line */
};

/* Redis's categories, in ACL CAT's order; a catalog entry's categories are a mask of them. */
extern const char *const acl_category_names[ACL_CATEGORY_COUNT];
/* The index of a category name (case-insensitive), or -1. */
int acl_category_find(const char *name, size_t len);
/* The mask of a space-separated list such as "@write @string @slow". */
uint32_t acl_category_mask(const char *list);

struct acl_catalog_entry {
    const char *name;    /* lower case; "parent|sub" for a subcommand */
    uint32_t categories; /* mask of 1 << category index */
    int32_t parent;      /* a subcommand: its container's index, else -1 */
};
struct acl_catalog {
    const struct acl_catalog_entry *entries;
    uint32_t count; /* <= ACL_CATALOG_MAX */
};

struct acl_patterns {
    uint32_t count;
    uint16_t len[ACL_PATTERNS_MAX];
    uint32_t used; /* bytes of pool */
    uint8_t pool[ACL_PATTERN_POOL_BYTES];
};

struct acl_user {
    uint32_t name_len;
    char name[ACL_NAME_BYTES_MAX];
    bool enabled;
    bool nopass;
    bool allkeys;
    bool allchannels;
    bool future_commands; /* set by +@all: commands added later are allowed (Redis's trick) */
    /* Redis's payload flags (RESTORE's checks): kept and shown, chorus has no RESTORE. */
    bool sanitize_payload, skip_sanitize_payload;
    uint32_t password_count;
    uint8_t passwords[ACL_PASSWORDS_MAX][ACL_HASH_BYTES];
    struct acl_patterns keys, channels;
    uint64_t allowed[ACL_CATALOG_MAX / 64];
};

struct acl_table {
    const struct acl_catalog *catalog;
    /* Whether the default user was changed by ACL SETUSER: then it is part of the encoded
     * table; until then it is the flags' (--requirepass), on every node alike. */
    bool default_replicated;
    uint32_t count;
    struct acl_user users[ACL_USERS_MAX]; /* users[0] is "default" */
};

/* A table holding only the default user: on, ~*, &*, +@all, with the password whose
 * hash is given, or nopass (hash NULL). */
void acl_table_init(struct acl_table *table, const struct acl_catalog *catalog,
                    const uint8_t *default_hash);
struct acl_user *acl_find(struct acl_table *table, const char *name, size_t len);
const struct acl_user *acl_find_const(const struct acl_table *table, const char *name,
                                      size_t len);

/* SHA-256 of a password. */
void acl_hash_password(const uint8_t *password, size_t len, uint8_t out[ACL_HASH_BYTES]);

struct acl_arg {
    const char *data;
    size_t len;
};

/*
 * ACL SETUSER name rule...: applies the rules, in order, to the user (created when missing),
 * all or none. 0, or -1 with Redis's error text (without '-') in `error`. A ">password" or
 * "<password" rule is never copied into an error.
 */
int acl_setuser(struct acl_table *table, const char *name, size_t name_len,
                const struct acl_arg *rules, uint32_t rule_count, char *error, size_t error_len);
/* ACL DELUSER: true when the user existed (default cannot be removed: the caller checks). */
bool acl_deluser(struct acl_table *table, const char *name, size_t len);

/* Rewrites the rules so that no password appears in them: ">p" becomes "#sha256(p)" and
 * "<p" "!sha256(p)", into `scratch` (64 + 1 bytes per such rule). Returns the rules to log. */
void acl_rules_hide_passwords(struct acl_arg *rules, uint32_t count,
                              char (*scratch)[ACL_HASH_HEX_BYTES + 1]);

/* Whether the user may run every command on every key (then no check is needed). */
bool acl_user_unrestricted(const struct acl_table *table, const struct acl_user *user);
/* Whether the user may run catalog entry `command`. */
bool acl_command_allowed(const struct acl_user *user, uint32_t command);
/* Whether the user may access `key`. */
bool acl_key_allowed(const struct acl_user *user, const uint8_t *key, size_t len);
/* Whether `password` is one of the user's (or the user is nopass). Constant time per hash. */
bool acl_password_ok(const struct acl_user *user, const uint8_t *password, size_t len);

/* The user's rules as ACL LIST writes them after "user NAME " (NUL-terminated). Returns the
 * length. Parts: flags and passwords, keys, channels, commands (for ACL GETUSER). */
size_t acl_describe(const struct acl_table *table, const struct acl_user *user, char *out,
                    size_t cap);
size_t acl_describe_commands(const struct acl_table *table, const struct acl_user *user,
                             char *out, size_t cap);
size_t acl_describe_keys(const struct acl_user *user, char *out, size_t cap);
size_t acl_describe_channels(const struct acl_user *user, char *out, size_t cap);

/*
 * The table, encoded for the store and snapshots: "ACLT" u8 version 1, u32 users, then per
 * user u32 rule count and each rule (u32 bytes, the bytes), the first rule being the name.
 * The default user is written only when default_replicated. Decoding replays the rules with
 * acl_setuser on a table made by acl_table_init, every length bounded; -1 on malformed input.
 */
int64_t acl_encode(const struct acl_table *table, uint8_t *out, size_t cap);
int acl_decode(struct acl_table *table, const uint8_t *in, size_t len);

/* A log entry of an ACL change: "ACLE" u8 op, u32 args, then each arg (u32 bytes, bytes):
 * SETUSER name rules..., or DELUSER names.... */
enum acl_op { ACL_OP_SETUSER = 1, ACL_OP_DELUSER = 2 };
enum { ACL_ENTRY_MAGIC_BYTES = 4 };
extern const uint8_t acl_entry_magic[ACL_ENTRY_MAGIC_BYTES];
int64_t acl_entry_encode(enum acl_op op, const struct acl_arg *args, uint32_t count,
                         uint8_t *out, size_t cap);
size_t acl_entry_encoded_bytes(const struct acl_arg *args, uint32_t count);
bool acl_entry_is(const uint8_t *in, size_t len);
/*
 * Applies an entry to the table: the result is 0 and *integer the users removed (DELUSER),
 * or -1 with an error text (a malformed entry, or rules that no longer apply). Deterministic:
 * every replica that applies the same entries to the same table gets the same table.
 */
int acl_entry_apply(struct acl_table *table, const uint8_t *in, size_t len, int64_t *integer,
                    char *error, size_t error_len);

#endif
