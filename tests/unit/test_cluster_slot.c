/*
 * test_cluster_slot.c — key -> slot as Redis Cluster computes it (values taken from Redis
 * 7.0.15's CLUSTER KEYSLOT), CRC16-XMODEM against its bitwise definition, hash tags, and the
 * split of slots into shards as `redis-cli --cluster create` makes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/shardmap.h"
#include "cluster/slot.h"

/* The bitwise definition of CRC16-XMODEM: polynomial 0x1021, initial 0, MSB first. */
static uint16_t test_crc16_bitwise(const uint8_t *bytes, size_t length)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < length; i++) {
        crc ^= (uint16_t)(bytes[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

static void test_crc16(void **state)
{
    (void)state;
    /* The catalogued check value of CRC-16/XMODEM. */
    assert_int_equal(slot_crc16("123456789", 9), 0x31c3);
    assert_int_equal(slot_crc16(NULL, 0), 0);
    uint8_t bytes[512];
    uint64_t seed = 7;
    for (size_t i = 0; i < sizeof(bytes); i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        bytes[i] = (uint8_t)(seed >> 56);
    }
    for (size_t length = 0; length <= sizeof(bytes); length += 7)
        assert_int_equal(slot_crc16(bytes, length), test_crc16_bitwise(bytes, length));
    for (unsigned b = 0; b < 256; b++) {
        uint8_t one = (uint8_t)b;
        assert_int_equal(slot_crc16(&one, 1), test_crc16_bitwise(&one, 1));
    }
}

/* Every value below is what `redis-cli -p P cluster keyslot KEY` answered on Redis 7.0.15. */
static void test_redis_keyslots(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        uint16_t slot;
    } known[] = {
        {"foo", 12182},
        {"bar", 5061},
        {"", 0},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"foo{}{bar}", 8363},    /* an empty first tag: the whole key */
        {"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
        {"{bar", 4015},
        {"foo{bar}{zap}", 5061}, /* the first tag: "bar" */
        {"{}", 15257},
        {"a", 15495},
        {"{a}b", 15495},
        {"}{a}", 15495},
        {"x{}", 2608},
        {"{{}}", 4092}, /* the tag is "{" */
        {"key:0", 2592},
        {"hello world", 15332},
        {"123456789", 12739},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        uint16_t slot = slot_of_key(known[i].key, strlen(known[i].key));
        if (slot != known[i].slot) fail_msg("key \"%s\": slot %u, Redis says %u", known[i].key, slot, known[i].slot);
    }
}

static void test_hash_tags(void **state)
{
    (void)state;
    size_t offset, length;
    assert_int_equal(slot_hash_span("{user1000}.following", 20, &offset, &length), 1);
    assert_int_equal(offset, 1);
    assert_int_equal(length, 8);
    assert_int_equal(slot_hash_span("foo{}{bar}", 10, &offset, &length), 0);
    assert_int_equal(offset, 0);
    assert_int_equal(length, 10);
    assert_int_equal(slot_hash_span("foo{{bar}}zap", 13, &offset, &length), 1);
    assert_int_equal(offset, 4);
    assert_int_equal(length, 4);
    assert_int_equal(slot_hash_span("abc{", 4, &offset, &length), 0);
    assert_int_equal(slot_hash_span("}abc", 4, &offset, &length), 0);
    assert_int_equal(slot_hash_span("", 0, &offset, &length), 0);
    /* Binary keys: a NUL inside the tag is hashed like any byte, and nothing past the
     * key's length is read (the '}' beyond it does not close the tag). */
    static const char binary[] = {'a', '{', 'x', '\0', 'y', '}', 'b'};
    assert_int_equal(slot_of_key(binary, sizeof(binary)), slot_crc16("x\0y", 3) & 16383);
    assert_int_equal(slot_of_key("a{xy}", 4), slot_crc16("a{xy", 4) & 16383);
    /* Keys sharing a tag share a slot whatever surrounds it. */
    char key[64];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof(key), "%d{tag}%d", i * 7919, i);
        assert_int_equal(slot_of_key(key, (size_t)n), slot_of_key("tag", 3));
    }
}

static void test_shardmap_redis_split(void **state)
{
    (void)state;
    struct shardmap *map = malloc(sizeof(*map));
    assert_non_null(map);
    uint32_t first, last;
    assert_int_equal(shardmap_init(map, 3), 0);
    shardmap_range(map, 0, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 5460);
    shardmap_range(map, 1, &first, &last);
    assert_int_equal(first, 5461);
    assert_int_equal(last, 10922);
    shardmap_range(map, 2, &first, &last);
    assert_int_equal(first, 10923);
    assert_int_equal(last, 16383);
    assert_int_equal(shardmap_shard_of_slot(map, 5460), 0);
    assert_int_equal(shardmap_shard_of_slot(map, 5461), 1);
    assert_int_equal(shardmap_shard_of_slot(map, 16383), 2);
    assert_int_equal(shardmap_init(map, 1), 0);
    shardmap_range(map, 0, &first, &last);
    assert_int_equal(first, 0);
    assert_int_equal(last, 16383);
    assert_int_equal(shardmap_init(map, 16), 0);
    for (uint32_t s = 0; s < 16; s++) {
        shardmap_range(map, s, &first, &last);
        assert_int_equal(first, s * 1024);
        assert_int_equal(last, s * 1024 + 1023);
    }
    /* Where redis-cli's single-precision sum departs from exact rounding (its loop, run for
     * these S, ends these shards here; exact rounding would end them one slot apart). */
    static const struct { uint32_t shards, shard, last; } drift[] = {
        {78, 67, 14283}, {87, 72, 13747}, {102, 97, 15741}, {107, 102, 15770},
    };
    for (size_t i = 0; i < sizeof(drift) / sizeof(drift[0]); i++) {
        assert_int_equal(shardmap_init(map, drift[i].shards), 0);
        shardmap_range(map, drift[i].shard, &first, &last);
        assert_int_equal(last, drift[i].last);
    }
    free(map);
}

static void test_shardmap_every_count(void **state)
{
    (void)state;
    struct shardmap *map = malloc(sizeof(*map));
    assert_non_null(map);
    assert_int_equal(shardmap_init(map, 0), -1);
    assert_int_equal(shardmap_init(map, SHARDMAP_SHARDS_MAX + 1), -1);
    for (uint32_t count = 1; count <= SHARDMAP_SHARDS_MAX; count++) {
        assert_int_equal(shardmap_init(map, count), 0);
        uint32_t next = 0, floor_size = SLOT_COUNT / count;
        for (uint32_t s = 0; s < count; s++) {
            uint32_t first, last;
            shardmap_range(map, s, &first, &last);
            assert_int_equal(first, next);
            assert_true(last >= first);
            /* Even: within one slot of the fair size, plus the float drift's one. */
            uint32_t size = last - first + 1;
            assert_true(size + 2 >= floor_size && size <= floor_size + 2);
            assert_int_equal(shardmap_shard_of_slot(map, first), s);
            assert_int_equal(shardmap_shard_of_slot(map, last), s);
            next = last + 1;
        }
        assert_int_equal(next, SLOT_COUNT);
    }
    free(map);
}

static void test_keys_slot(void **state)
{
    (void)state;
    struct resp_arg same[] = {{"{u}a", 4}, {"{u}b", 4}, {"u", 1}};
    uint32_t slot = 99999;
    assert_int_equal(shardmap_keys_slot(same, 3, 1, &slot), SHARDMAP_KEYS_ONE_SLOT);
    assert_int_equal(slot, slot_of_key("u", 1));
    struct resp_arg cross[] = {{"foo", 3}, {"bar", 3}};
    assert_int_equal(shardmap_keys_slot(cross, 2, 1, &slot), SHARDMAP_KEYS_CROSS_SLOT);
    /* MSET's key-value pairs: only every second argument is a key. */
    struct resp_arg pairs[] = {{"{k}1", 4}, {"foo", 3}, {"{k}2", 4}, {"bar", 3}};
    assert_int_equal(shardmap_keys_slot(pairs, 4, 2, &slot), SHARDMAP_KEYS_ONE_SLOT);
    assert_int_equal(slot, slot_of_key("k", 1));
    assert_int_equal(shardmap_keys_slot(pairs, 4, 1, &slot), SHARDMAP_KEYS_CROSS_SLOT);
    assert_int_equal(shardmap_keys_slot(NULL, 0, 1, &slot), SHARDMAP_KEYS_NONE);
    assert_string_equal(SHARDMAP_CROSSSLOT_ERROR, "CROSSSLOT Keys in request don't hash to the same slot");
    struct shardmap *map = malloc(sizeof(*map));
    assert_non_null(map);
    assert_int_equal(shardmap_init(map, 3), 0);
    assert_int_equal(shardmap_shard_of_key(map, "foo", 3), 2); /* slot 12182 */
    assert_int_equal(shardmap_shard_of_key(map, "bar", 3), 0); /* slot 5061 */
    free(map);
}

int main(void)
{
    /* The time limit: the binary takes well under a second; a hang past this is a failure,
     * which SIGALRM's default action (the process ends) reports. */
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_redis_keyslots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_shardmap_redis_split),
        cmocka_unit_test(test_shardmap_every_count),
        cmocka_unit_test(test_keys_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
