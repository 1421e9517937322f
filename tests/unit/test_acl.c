/* test_acl.c — ACL users (src/node/acl.c): SETUSER's rules and errors, the checks, ACL
 * LIST's description, and the table's and the log entry's encodings (every truncation and
 * corruption refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/acl.h"

/* A small catalog: get (read string fast), set (write string slow), del (keyspace write),
 * flushall (keyspace write dangerous), acl (slow) with acl|setuser (admin slow dangerous). */
static struct acl_catalog_entry entries[6];
static struct acl_catalog catalog;

static void catalog_init(void)
{
    entries[0] = (struct acl_catalog_entry){"get", acl_category_mask("@read @string @fast"), -1};
    entries[1] = (struct acl_catalog_entry){"set", acl_category_mask("@write @string @slow"), -1};
    entries[2] = (struct acl_catalog_entry){"del", acl_category_mask("@keyspace @write @slow"), -1};
    entries[3] = (struct acl_catalog_entry){
        "flushall", acl_category_mask("@keyspace @write @slow @dangerous"), -1};
    entries[4] = (struct acl_catalog_entry){"acl", acl_category_mask("@slow"), -1};
    entries[5] = (struct acl_catalog_entry){
        "acl|setuser", acl_category_mask("@admin @slow @dangerous"), 4};
    catalog = (struct acl_catalog){.entries = entries, .count = 6};
}

static struct acl_table *table_new(void)
{
    catalog_init();
    struct acl_table *t = malloc(sizeof(*t));
    assert_non_null(t);
    acl_table_init(t, &catalog, NULL);
    return t;
}

/* Runs ACL SETUSER with space-separated rules (none has a space here). */
static int setuser(struct acl_table *t, const char *name, const char *rules, char *error)
{
    static char copy[4096];
    snprintf(copy, sizeof(copy), "%s", rules);
    struct acl_arg args[64];
    uint32_t n = 0;
    for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " "))
        args[n++] = (struct acl_arg){.data = w, .len = strlen(w)};
    char scratch[64][ACL_HASH_HEX_BYTES + 1];
    acl_rules_hide_passwords(args, n, scratch);
    return acl_setuser(t, name, strlen(name), args, n, error, ACL_ERROR_BYTES);
}

static const char *describe(struct acl_table *t, const char *name)
{
    static char text[ACL_DESCRIBE_BYTES_MAX];
    const struct acl_user *u = acl_find_const(t, name, strlen(name));
    assert_non_null(u);
    acl_describe(t, u, text, sizeof(text));
    return text;
}

static void test_new_user_and_default(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    assert_string_equal(describe(t, "default"), "on nopass ~* &* +@all");
    assert_int_equal(setuser(t, "u", "", error), 0);
    assert_string_equal(describe(t, "u"), "off resetchannels -@all");
    /* Sorted by name, as Redis's rax: "a" comes before "default". */
    assert_int_equal(setuser(t, "a", "on", error), 0);
    assert_int_equal(t->count, 3);
    assert_memory_equal(t->users[0].name, "a", 1);
    assert_memory_equal(t->users[1].name, "default", 7);
    free(t);
}

static void test_rules_and_descriptions(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    assert_int_equal(setuser(t, "u", "on >pw ~foo* +@read -get +set &ch +@write -@write allkeys",
                             error), 0);
    /* Redis 7.0's words for these rules (checked against redis-server 7.0.15). */
    assert_string_equal(describe(t, "u"),
                        "on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* "
                        "resetchannels &ch -@all");
    assert_int_equal(setuser(t, "v", "on nopass +@all -@admin resetkeys ~a ~b ~a", error), 0);
    assert_string_equal(describe(t, "v"), "on nopass ~a ~b resetchannels +@all -@admin");
    assert_int_equal(setuser(t, "w", "+get +set", error), 0);
    assert_string_equal(describe(t, "w"), "off resetchannels -@all +@string");
    assert_int_equal(setuser(t, "w", "-set +acl", error), 0);
    /* Best fit: @read (get alone, nothing off) before @fast (the same, found later), then
     * @admin (acl|setuser), then the container by name. */
    assert_string_equal(describe(t, "w"), "off resetchannels -@all +@read +@admin +acl");
    assert_int_equal(setuser(t, "w", "reset allcommands -flushall", error), 0);
    assert_string_equal(describe(t, "w"), "off sanitize-payload resetchannels +@all -flushall");
    free(t);
}

static void test_errors_change_nothing(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    assert_int_equal(setuser(t, "u", "on ~a", error), 0);
    const char *before = "on ~a resetchannels -@all";
    assert_string_equal(describe(t, "u"), before);
    struct {
        const char *rules, *error;
    } cases[] = {
        {"off bogus", "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"},
        {"+nosuch", "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category "
                    "name in ACL"},
        {"+@nosuch", "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category "
                     "name in ACL"},
        {"#abc", "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
                 "characters and contain only lowercase hexadecimal characters"},
        {"allkeys ~x", "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * "
                       "pattern (or the 'allkeys' flag) is not valid and does not have any "
                       "effect. Try 'resetkeys' to start with an empty list of patterns"},
        {"&* &x", "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern "
                  "(or the 'allchannels' flag) is not valid and does not have any effect. Try "
                  "'resetchannels' to start with an empty list of channels"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(setuser(t, "u", cases[i].rules, error), -1);
        assert_string_equal(error, cases[i].error);
        assert_string_equal(describe(t, "u"), before);
    }
    /* A password to remove that the user does not have: the reply shows its hash, not it. */
    assert_int_equal(setuser(t, "u", "<hunter2", error), -1);
    assert_null(strstr(error, "hunter2"));
    assert_non_null(strstr(error, "The password you are trying to remove from the user does "
                                  "not exist"));
    assert_int_equal(acl_setuser(t, "a b", 3, NULL, 0, error, sizeof(error)), -1);
    assert_string_equal(error, "ERR Usernames can't contain spaces or null characters");
    assert_int_equal(t->count, 2);
    free(t);
}

static void test_checks(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    assert_int_equal(setuser(t, "r", "on >one >two ~app:* ~x?y +@read", error), 0);
    const struct acl_user *u = acl_find_const(t, "r", 1);
    assert_false(acl_user_unrestricted(t, u));
    assert_true(acl_user_unrestricted(t, acl_find_const(t, "default", 7)));
    assert_true(acl_command_allowed(u, 0));  /* get */
    assert_false(acl_command_allowed(u, 1)); /* set */
    assert_true(acl_key_allowed(u, (const uint8_t *)"app:1", 5));
    assert_true(acl_key_allowed(u, (const uint8_t *)"xzy", 3));
    assert_false(acl_key_allowed(u, (const uint8_t *)"other", 5));
    assert_true(acl_password_ok(u, (const uint8_t *)"one", 3));
    assert_true(acl_password_ok(u, (const uint8_t *)"two", 3));
    assert_false(acl_password_ok(u, (const uint8_t *)"three", 5));
    assert_false(acl_password_ok(u, (const uint8_t *)"", 0));
    assert_int_equal(setuser(t, "r", "<one resetpass", error), 0);
    assert_false(acl_password_ok(u, (const uint8_t *)"two", 3)); /* no password: nobody */
    assert_int_equal(setuser(t, "r", "nopass", error), 0);
    assert_true(acl_password_ok(u, (const uint8_t *)"anything", 8));
    /* -@all and +acl|setuser: the subcommand alone. */
    assert_int_equal(setuser(t, "s", "+acl|setuser", error), 0);
    u = acl_find_const(t, "s", 1);
    assert_true(acl_command_allowed(u, 5));
    assert_false(acl_command_allowed(u, 4));
    /* (u moves when a user is added before it: found again after each change) */
    assert_int_equal(setuser(t, "all", "+@all ~*", error), 0);
    assert_true(acl_user_unrestricted(t, acl_find_const(t, "all", 3)));
    assert_int_equal(setuser(t, "all", "-acl|setuser", error), 0);
    assert_false(acl_user_unrestricted(t, acl_find_const(t, "all", 3)));
    free(t);
}

static void test_encoding_round_trip(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    assert_int_equal(setuser(t, "u", "on >pw ~a* ~b &ch +@read -get +set", error), 0);
    assert_int_equal(setuser(t, "v", "+@all -@dangerous nopass", error), 0);
    static uint8_t blob[1 << 16];
    int64_t len = acl_encode(t, blob, sizeof(blob));
    assert_true(len > 0);
    /* No default user in it until ACL SETUSER default: a node's flags make that one. */
    assert_null(memmem(blob, (size_t)len, "default", 7));
    struct acl_table *back = malloc(sizeof(*back));
    acl_table_init(back, &catalog, NULL);
    assert_int_equal(acl_decode(back, blob, (size_t)len), 0);
    assert_int_equal(back->count, 3);
    assert_string_equal(describe(back, "u"), describe(t, "u"));
    static char v[ACL_DESCRIBE_BYTES_MAX];
    memcpy(v, describe(t, "v"), sizeof(v));
    assert_string_equal(describe(back, "v"), v);
    /* Every truncation, and every single corrupted byte, is refused or decodes to a table
     * within its bounds (never a read past the input). */
    for (int64_t cut = 0; cut < len; cut++) {
        acl_table_init(back, &catalog, NULL);
        assert_int_equal(acl_decode(back, blob, (size_t)cut), -1);
    }
    for (int64_t at = 0; at < len; at++) {
        uint8_t saved = blob[at];
        blob[at] ^= 0xff;
        acl_table_init(back, &catalog, NULL);
        (void)acl_decode(back, blob, (size_t)len);
        assert_true(back->count <= ACL_USERS_MAX);
        blob[at] = saved;
    }
    /* SETUSER default: it is part of the table from then on. */
    assert_int_equal(setuser(t, "default", ">pw", error), 0);
    len = acl_encode(t, blob, sizeof(blob));
    acl_table_init(back, &catalog, NULL);
    assert_int_equal(acl_decode(back, blob, (size_t)len), 0);
    assert_true(back->default_replicated);
    assert_false(acl_find_const(back, "default", 7)->nopass);
    free(back);
    free(t);
}

static void test_entries(void **state)
{
    (void)state;
    struct acl_table *t = table_new();
    char error[ACL_ERROR_BYTES];
    struct acl_arg set[] = {{"u", 1}, {"on", 2}, {"#30c952fab122c3f9759f02a6d95c3758b246b4fee23995"
                                                  "7b2d4fee46e26170c4", 65}, {"+get", 4}};
    uint8_t entry[512];
    int64_t len = acl_entry_encode(ACL_OP_SETUSER, set, 4, entry, sizeof(entry));
    assert_int_equal(len, (int64_t)acl_entry_encoded_bytes(set, 4));
    assert_true(acl_entry_is(entry, (size_t)len));
    int64_t integer = -1;
    assert_int_equal(acl_entry_apply(t, entry, (size_t)len, &integer, error, sizeof(error)), 0);
    assert_true(acl_password_ok(acl_find_const(t, "u", 1), (const uint8_t *)"pw", 2));
    for (int64_t cut = 0; cut < len; cut++)
        assert_int_equal(acl_entry_apply(t, entry, (size_t)cut, &integer, error, sizeof(error)),
                         -1);
    struct acl_arg del[] = {{"u", 1}, {"nosuch", 6}, {"default", 7}};
    len = acl_entry_encode(ACL_OP_DELUSER, del, 3, entry, sizeof(entry));
    assert_int_equal(acl_entry_apply(t, entry, (size_t)len, &integer, error, sizeof(error)), 0);
    assert_int_equal(integer, 1); /* default is never removed */
    assert_int_equal(t->count, 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_user_and_default),
        cmocka_unit_test(test_rules_and_descriptions),
        cmocka_unit_test(test_errors_change_nothing),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_encoding_round_trip),
        cmocka_unit_test(test_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
