/*
 * fuzz_acl.c — the ACL decoders (src/node/acl.h) on arbitrary bytes: the stored table (as a
 * node reads it from its store or from a snapshot another node sent) and a log entry of an
 * ACL change applied to a table. The first input byte chooses the decoder, the rest is the
 * input. Properties checked:
 *  - decoding never reads outside the input (ASan) and never trips UB (UBSan);
 *  - a decoded or changed table keeps its bounds (users, passwords, patterns), its users in
 *    name order and "default" among them;
 *  - the table re-encodes, and decoding that gives a table that describes every user the
 *    same way (ACL LIST's words): what a snapshot carries is what the sender had.
 */
#include "fuzz.h"

#include <string.h>

#include "node/acl.h"

static struct acl_catalog_entry entries[8];
static struct acl_catalog catalog;
static struct acl_table table, again;
static uint8_t blob[ACL_ENCODED_BYTES_MAX];
static char text_a[ACL_DESCRIBE_BYTES_MAX], text_b[ACL_DESCRIBE_BYTES_MAX];

static void catalog_init(void)
{
    if (catalog.count > 0)
        return;
    entries[0] = (struct acl_catalog_entry){"get", acl_category_mask("@read @string @fast"), -1};
    entries[1] = (struct acl_catalog_entry){"set", acl_category_mask("@write @string @slow"), -1};
    entries[2] = (struct acl_catalog_entry){"del", acl_category_mask("@keyspace @write @slow"), -1};
    entries[3] = (struct acl_catalog_entry){
        "flushall", acl_category_mask("@keyspace @write @slow @dangerous"), -1};
    entries[4] = (struct acl_catalog_entry){"acl", acl_category_mask("@slow"), -1};
    entries[5] = (struct acl_catalog_entry){
        "acl|setuser", acl_category_mask("@admin @slow @dangerous"), 4};
    entries[6] = (struct acl_catalog_entry){"acl|whoami", acl_category_mask("@slow"), 4};
    entries[7] = (struct acl_catalog_entry){"ping", acl_category_mask("@fast @connection"), -1};
    catalog = (struct acl_catalog){.entries = entries, .count = 8};
}

static void check_table(const struct acl_table *t)
{
    FUZZ_CHECK(t->count >= 1 && t->count <= ACL_USERS_MAX);
    FUZZ_CHECK(acl_find_const(t, "default", 7) != NULL);
    for (uint32_t i = 0; i < t->count; i++) {
        const struct acl_user *u = &t->users[i];
        FUZZ_CHECK(u->name_len <= ACL_NAME_BYTES_MAX);
        FUZZ_CHECK(u->password_count <= ACL_PASSWORDS_MAX);
        FUZZ_CHECK(u->keys.count <= ACL_PATTERNS_MAX && u->keys.used <= ACL_PATTERN_POOL_BYTES);
        FUZZ_CHECK(u->channels.count <= ACL_PATTERNS_MAX &&
                   u->channels.used <= ACL_PATTERN_POOL_BYTES);
        if (i > 0) {
            const struct acl_user *p = &t->users[i - 1];
            size_t common = p->name_len < u->name_len ? p->name_len : u->name_len;
            int c = memcmp(p->name, u->name, common);
            FUZZ_CHECK(c < 0 || (c == 0 && p->name_len < u->name_len));
        }
    }
    /* The round trip a snapshot makes. */
    int64_t len = acl_encode(t, blob, sizeof(blob));
    FUZZ_CHECK(len > 0);
    acl_table_init(&again, &catalog, NULL);
    FUZZ_CHECK(acl_decode(&again, blob, (size_t)len) == 0);
    for (uint32_t i = 0; i < t->count; i++) {
        const struct acl_user *u = &t->users[i];
        bool is_default = u->name_len == 7 && memcmp(u->name, "default", 7) == 0;
        if (is_default && !t->default_replicated)
            continue;
        const struct acl_user *v = acl_find_const(&again, u->name, u->name_len);
        FUZZ_CHECK(v != NULL);
        size_t a = acl_describe(t, u, text_a, sizeof(text_a));
        size_t b = acl_describe(&again, v, text_b, sizeof(text_b));
        FUZZ_CHECK(a == b && a < sizeof(text_a) && memcmp(text_a, text_b, a) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    catalog_init();
    acl_table_init(&table, &catalog, NULL);
    if (data[0] & 1) {
        char error[ACL_ERROR_BYTES];
        int64_t integer = 0;
        (void)acl_entry_apply(&table, data + 1, size - 1, &integer, error, sizeof(error));
        FUZZ_CHECK(integer >= 0 && integer <= ACL_RULES_MAX + 1);
    } else {
        (void)acl_decode(&table, data + 1, size - 1);
    }
    check_table(&table);
    return 0;
}
