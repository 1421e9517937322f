/* test_sim_kvsm.c — the simulator's state machine: commands, outputs, snapshots, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/kvsm.h"
#include "sim/rng.h"
#include "storage/kv.h"

static int apply(struct sim_kvsm *sm, uint8_t op, const char *key, const char *value,
                 const char *expect, struct sim_kv_output *out)
{
    static uint64_t seq;
    struct sim_kv_command c = {.op = op, .client = 1, .seq = ++seq};
    snprintf(c.key, sizeof(c.key), "%s", key);
    snprintf(c.value, sizeof(c.value), "%s", value ? value : "");
    snprintf(c.expect, sizeof(c.expect), "%s", expect ? expect : "");
    uint8_t buf[SIM_KV_COMMAND_BYTES_MAX];
    int len = sim_kv_command_encode(&c, buf, sizeof(buf));
    assert_true(len > 0);
    uint64_t stamp = 0;
    return sim_kvsm_apply(sm, buf, (size_t)len, out, &stamp);
}

/* The same, with a log time stamp in front, as a simulated leader proposes it (a PUT, or a
 * PUTEX when ttl is not NULL). */
static int apply_stamped_ttl(struct sim_kvsm *sm, uint64_t time_ms, const char *key,
                             const char *value, const char *ttl, struct sim_kv_output *out)
{
    static uint64_t seq;
    struct sim_kv_command c = {.op = ttl ? SIM_KV_PUTEX : SIM_KV_PUT, .client = 2, .seq = ++seq};
    snprintf(c.key, sizeof(c.key), "%s", key);
    snprintf(c.value, sizeof(c.value), "%s", value);
    snprintf(c.expect, sizeof(c.expect), "%s", ttl ? ttl : "");
    uint8_t buf[SIM_KV_ENTRY_BYTES_MAX];
    kv_stamp_write(buf, time_ms);
    int len = sim_kv_command_encode(&c, buf + KV_STAMP_BYTES, sizeof(buf) - KV_STAMP_BYTES);
    assert_true(len > 0);
    uint64_t stamp = 0;
    int rc = sim_kvsm_apply(sm, buf, (size_t)len + KV_STAMP_BYTES, out, &stamp);
    assert_int_equal(stamp, rc == 0 ? time_ms : 0);
    return rc;
}

static int apply_stamped(struct sim_kvsm *sm, uint64_t time_ms, const char *key,
                         const char *value, struct sim_kv_output *out)
{
    return apply_stamped_ttl(sm, time_ms, key, value, NULL, out);
}

static void test_kvsm_outputs(void **state)
{
    (void)state;
    struct sim_kvsm sm;
    struct sim_kv_output out;
    sim_kvsm_reset(&sm);
    assert_null(sim_kvsm_get(&sm, "k1"));
    assert_int_equal(apply(&sm, SIM_KV_PUT, "k1", "a", NULL, &out), 0);
    assert_true(out.ok);
    assert_string_equal(sim_kvsm_get(&sm, "k1"), "a");
    assert_int_equal(apply(&sm, SIM_KV_CAS, "k1", "b", "x", &out), 0);
    assert_false(out.ok);
    assert_string_equal(sim_kvsm_get(&sm, "k1"), "a");
    assert_int_equal(apply(&sm, SIM_KV_CAS, "k1", "b", "a", &out), 0);
    assert_true(out.ok);
    assert_string_equal(sim_kvsm_get(&sm, "k1"), "b");
    assert_int_equal(apply(&sm, SIM_KV_CAS, "k9", "b", "a", &out), 0);
    assert_false(out.ok); /* absent never equals */
    assert_int_equal(apply(&sm, SIM_KV_DEL, "k1", NULL, NULL, &out), 0);
    assert_int_equal(out.value_int, 1);
    assert_int_equal(apply(&sm, SIM_KV_DEL, "k1", NULL, NULL, &out), 0);
    assert_int_equal(out.value_int, 0);
    assert_int_equal(apply(&sm, SIM_KV_INCR, "n0", NULL, NULL, &out), 0);
    assert_true(out.ok);
    assert_int_equal(out.value_int, 1);
    assert_int_equal(apply(&sm, SIM_KV_INCR, "n0", NULL, NULL, &out), 0);
    assert_int_equal(out.value_int, 2);
    assert_string_equal(sim_kvsm_get(&sm, "n0"), "2");
    assert_int_equal(apply(&sm, SIM_KV_PUT, "s", "text", NULL, &out), 0);
    assert_int_equal(apply(&sm, SIM_KV_INCR, "s", NULL, NULL, &out), 0);
    assert_false(out.ok); /* refused, like Redis' error */
    assert_string_equal(sim_kvsm_get(&sm, "s"), "text");
    uint64_t before = sim_kvsm_digest(&sm);
    assert_int_equal(apply(&sm, SIM_KV_PROBE, "", NULL, NULL, &out), 0);
    assert_int_equal(sim_kvsm_digest(&sm), before);
}

static void test_kvsm_command_roundtrip_and_truncation(void **state)
{
    (void)state;
    struct sim_kv_command c = {.op = SIM_KV_CAS, .client = 7, .seq = 1234567};
    snprintf(c.key, sizeof(c.key), "k3");
    snprintf(c.value, sizeof(c.value), "v7.1234567");
    snprintf(c.expect, sizeof(c.expect), "v2.9");
    uint8_t buf[SIM_KV_COMMAND_BYTES_MAX];
    int len = sim_kv_command_encode(&c, buf, sizeof(buf));
    assert_true(len > 0);
    struct sim_kv_command d;
    assert_int_equal(sim_kv_command_decode(buf, (size_t)len, &d), 0);
    assert_int_equal(d.op, c.op);
    assert_int_equal(d.client, 7);
    assert_int_equal(d.seq, 1234567);
    assert_string_equal(d.key, "k3");
    assert_string_equal(d.expect, "v2.9");
    for (int cut = 0; cut < len; cut++)
        assert_int_equal(sim_kv_command_decode(buf, (size_t)cut, &d), -1);
    uint8_t longer[SIM_KV_COMMAND_BYTES_MAX + 1];
    memcpy(longer, buf, (size_t)len);
    longer[len] = 0;
    assert_int_equal(sim_kv_command_decode(longer, (size_t)len + 1, &d), -1);
    memset(c.value, 'x', sizeof(c.value)); /* no NUL within the bound: refused */
    assert_int_equal(sim_kv_command_encode(&c, buf, sizeof(buf)), -1);
    c.value[SIM_KV_VALUE_BYTES_MAX] = '\0'; /* exactly the bound: fits */
    assert_true(sim_kv_command_encode(&c, buf, sizeof(buf)) > 0);
    assert_int_equal(sim_kv_command_encode(&c, buf, 10), -1);
}

/* Random bytes and random corruptions of valid commands never crash and, when refused, change
 * nothing. */
/* COLL (--kv-store) carries the real store's command after its fields: it round-trips, the
 * string model applies it as a no-op, and one without a command, or with one over the bound,
 * is refused. */
static void test_kvsm_coll_carries_real_command(void **state)
{
    (void)state;
    static const uint8_t real[] = {1, 41, 0, 0, 9, 9, 9, 9};
    struct sim_kv_command c = {.op = SIM_KV_COLL, .client = 2, .seq = 5, .real = real,
                               .real_len = sizeof(real)};
    snprintf(c.key, sizeof(c.key), "k1");
    uint8_t buf[SIM_KV_COMMAND_BYTES_MAX];
    int len = sim_kv_command_encode(&c, buf, sizeof(buf));
    assert_true(len > (int)sizeof(real));
    struct sim_kv_command d;
    assert_int_equal(sim_kv_command_decode(buf, (size_t)len, &d), 0);
    assert_int_equal(d.op, SIM_KV_COLL);
    assert_int_equal(d.real_len, sizeof(real));
    assert_memory_equal(d.real, real, sizeof(real));
    struct sim_kvsm sm;
    sim_kvsm_reset(&sm);
    struct sim_kv_output out;
    uint64_t stamp = 0;
    assert_int_equal(sim_kvsm_apply(&sm, buf, (size_t)len, &out, &stamp), 0);
    assert_true(out.ok);
    assert_int_equal(sm.count, 0);
    assert_int_equal(sim_kv_command_decode(buf, (size_t)len - sizeof(real), &d), -1);
    c.real_len = 0;
    assert_int_equal(sim_kv_command_encode(&c, buf, sizeof(buf)), -1);
    c.real_len = SIM_KV_REAL_BYTES_MAX + 1;
    assert_int_equal(sim_kv_command_encode(&c, buf, sizeof(buf)), -1);
}

static void test_kvsm_garbage_is_refused(void **state)
{
    (void)state;
    struct sim_kvsm sm;
    sim_kvsm_reset(&sm);
    struct sim_kv_output out;
    assert_int_equal(apply(&sm, SIM_KV_PUT, "k", "v", NULL, &out), 0);
    struct sim_rng rng;
    sim_rng_init(&rng, 5, SIM_RNG_WORKLOAD);
    uint8_t buf[SIM_KV_COMMAND_BYTES_MAX];
    for (int i = 0; i < 20000; i++) {
        size_t len = sim_rng_below(&rng, sizeof(buf));
        for (size_t b = 0; b < len; b++) buf[b] = (uint8_t)sim_rng_next(&rng);
        if (len > 0 && sim_rng_below(&rng, 2)) buf[0] = 1; /* right version */
        uint64_t before = sim_kvsm_digest(&sm);
        uint64_t stamp = 0;
        if (sim_kvsm_apply(&sm, buf, len, &out, &stamp) != 0)
            assert_int_equal(sim_kvsm_digest(&sm), before);
    }
    uint64_t stamp = 0;
    assert_int_equal(sim_kvsm_apply(&sm, NULL, 0, &out, &stamp), -1);
}

static void test_kvsm_snapshot_roundtrip(void **state)
{
    (void)state;
    struct sim_kvsm sm, copy;
    struct sim_kv_output out;
    sim_kvsm_reset(&sm);
    apply(&sm, SIM_KV_PUT, "k1", "a", NULL, &out);
    apply(&sm, SIM_KV_PUT, "k2", "b", NULL, &out);
    apply(&sm, SIM_KV_INCR, "n0", NULL, NULL, &out);
    uint8_t buf[SIM_KVSM_SNAPSHOT_BYTES_MAX];
    int64_t len = sim_kvsm_encode(&sm, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(sim_kvsm_decode(&copy, buf, (size_t)len), 0);
    assert_int_equal(sim_kvsm_digest(&copy), sim_kvsm_digest(&sm));
    assert_string_equal(sim_kvsm_get(&copy, "k2"), "b");
    for (int64_t cut = 0; cut < len; cut++)
        assert_int_equal(sim_kvsm_decode(&copy, buf, (size_t)cut), -1);
    assert_int_equal(copy.count, 0);
    assert_int_equal(sim_kvsm_encode(&sm, buf, 5), -1);
    /* The digest depends on contents, not on insertion order. */
    struct sim_kvsm other;
    sim_kvsm_reset(&other);
    apply(&other, SIM_KV_INCR, "n0", NULL, NULL, &out);
    apply(&other, SIM_KV_PUT, "k2", "b", NULL, &out);
    apply(&other, SIM_KV_PUT, "k1", "a", NULL, &out);
    assert_int_equal(sim_kvsm_digest(&other), sim_kvsm_digest(&sm));
    apply(&other, SIM_KV_PUT, "k1", "c", NULL, &out);
    assert_true(sim_kvsm_digest(&other) != sim_kvsm_digest(&sm));
}

/* A stamp advances the log time, an older one leaves it (docs/expiry.md), and the log time
 * is part of the digest and of a snapshot. */
static void test_kvsm_log_time(void **state)
{
    (void)state;
    struct sim_kvsm sm, copy;
    struct sim_kv_output out;
    sim_kvsm_reset(&sm);
    assert_int_equal(apply_stamped(&sm, 1000, "k", "a", &out), 0);
    assert_int_equal(sm.time_ms, 1000);
    uint64_t digest = sim_kvsm_digest(&sm);
    assert_int_equal(apply_stamped(&sm, 900, "k", "a", &out), 0);
    assert_int_equal(sm.time_ms, 1000);
    assert_int_equal(sim_kvsm_digest(&sm), digest);
    assert_int_equal(apply(&sm, SIM_KV_PUT, "k", "a", NULL, &out), 0); /* unstamped */
    assert_int_equal(sm.time_ms, 1000);
    assert_int_equal(apply_stamped(&sm, 1500, "k", "a", &out), 0);
    assert_int_equal(sm.time_ms, 1500);
    assert_true(sim_kvsm_digest(&sm) != digest); /* same contents, later time */
    uint8_t buf[SIM_KVSM_SNAPSHOT_BYTES_MAX];
    int64_t len = sim_kvsm_encode(&sm, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(sim_kvsm_decode(&copy, buf, (size_t)len), 0);
    assert_int_equal(copy.time_ms, 1500);
    assert_int_equal(sim_kvsm_digest(&copy), sim_kvsm_digest(&sm));
}

/* PUTEX: the key reads as absent once the log time reaches its deadline, the next write
 * naming it deletes it, a plain PUT clears a deadline, snapshots carry it; a bad TTL is
 * refused. */
static void test_kvsm_ttl(void **state)
{
    (void)state;
    struct sim_kvsm sm, copy;
    struct sim_kv_output out;
    sim_kvsm_reset(&sm);
    assert_int_equal(apply_stamped_ttl(&sm, 1000, "x", "a", "50", &out), 0);
    uint64_t deadline = 0;
    assert_string_equal(sim_kvsm_get_deadline(&sm, "x", &deadline), "a");
    assert_int_equal(deadline, 1050);
    uint8_t buf[SIM_KVSM_SNAPSHOT_BYTES_MAX];
    int64_t len = sim_kvsm_encode(&sm, buf, sizeof(buf));
    assert_true(len > 0);
    assert_int_equal(sim_kvsm_decode(&copy, buf, (size_t)len), 0);
    assert_string_equal(sim_kvsm_get_deadline(&copy, "x", &deadline), "a");
    assert_int_equal(deadline, 1050);
    assert_int_equal(apply_stamped(&sm, 1049, "y", "b", &out), 0);
    assert_non_null(sim_kvsm_get(&sm, "x"));
    assert_int_equal(apply_stamped(&sm, 1050, "y", "b", &out), 0);
    assert_null(sim_kvsm_get(&sm, "x")); /* expired, still held until a write names it */
    assert_non_null(sim_kvsm_get_any(&sm, "x", &deadline));
    assert_int_equal(apply(&sm, SIM_KV_DEL, "x", NULL, NULL, &out), 0);
    assert_int_equal(out.value_int, 0); /* the DEL found it absent */
    assert_null(sim_kvsm_get_any(&sm, "x", &deadline));
    assert_int_equal(apply_stamped_ttl(&sm, 2000, "z", "c", "10", &out), 0);
    assert_int_equal(apply_stamped(&sm, 2001, "z", "d", &out), 0); /* PUT clears it */
    assert_string_equal(sim_kvsm_get_deadline(&sm, "z", &deadline), "d");
    assert_int_equal(deadline, 0);
    assert_int_equal(apply_stamped_ttl(&sm, 3000, "z", "e", "0", &out), -1);
    assert_int_equal(apply_stamped_ttl(&sm, 3000, "z", "e", "-5", &out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvsm_outputs),
        cmocka_unit_test(test_kvsm_command_roundtrip_and_truncation),
        cmocka_unit_test(test_kvsm_coll_carries_real_command),
        cmocka_unit_test(test_kvsm_garbage_is_refused),
        cmocka_unit_test(test_kvsm_snapshot_roundtrip),
        cmocka_unit_test(test_kvsm_log_time),
        cmocka_unit_test(test_kvsm_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
