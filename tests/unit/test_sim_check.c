/* test_sim_check.c — the simulated disk's rolling hashes and the invariant checks, on
 * hand-made logs (including ones that must be caught). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim/check.h"
#include "sim/disk.h"

/* A hand-made entry: data is a short string. */
static struct cn_entry entry(uint64_t index, uint64_t term, const char *data)
{
    return (struct cn_entry){.index = index, .term = term, .type = CN_ENTRY_NORMAL,
                             .data_len = (uint32_t)strlen(data), .data = (const uint8_t *)data};
}

static void write_log(struct sim_disk *disk, const struct cn_entry *entries, uint32_t count)
{
    char error[SIM_DISK_ERROR_BYTES_MAX];
    assert_int_equal(sim_disk_write_entries(disk, entries, count, false, error), 0);
}

static void test_disk_truncates_and_rechains(void **state)
{
    (void)state;
    struct sim_disk a, b;
    assert_int_equal(sim_disk_init(&a), 0);
    assert_int_equal(sim_disk_init(&b), 0);
    struct cn_entry log1[] = {entry(1, 1, "x"), entry(2, 1, "y"), entry(3, 1, "z")};
    write_log(&a, log1, 3);
    assert_int_equal(sim_disk_last_index(&a), 3);
    /* Overwrite from index 2 in term 2 (a Raft §5.3 truncation). */
    struct cn_entry log2[] = {entry(2, 2, "w")};
    write_log(&a, log2, 1);
    assert_int_equal(sim_disk_last_index(&a), 2);
    assert_int_equal(sim_disk_entry_at(&a, 2)->term, 2);
    /* The same log written in one go elsewhere has the same rolling hashes. */
    struct cn_entry same[] = {entry(1, 1, "x"), entry(2, 2, "w")};
    write_log(&b, same, 2);
    assert_int_equal(sim_disk_entry_at(&a, 2)->rolling, sim_disk_entry_at(&b, 2)->rolling);
    assert_true(sim_disk_entry_at(&a, 1)->rolling != sim_disk_entry_at(&a, 2)->rolling);
    /* Gaps and writes below the snapshot are refused. */
    char error[SIM_DISK_ERROR_BYTES_MAX];
    struct cn_entry gap[] = {entry(5, 2, "g")};
    assert_int_equal(sim_disk_write_entries(&a, gap, 1, false, error), -1);
    struct cn_snapshot_meta meta = {.index = 1, .term = 1};
    uint64_t rolling1 = sim_disk_entry_at(&a, 1)->rolling;
    assert_int_equal(sim_disk_set_snapshot(&a, &meta, rolling1, (const uint8_t *)"s", 1), 0);
    assert_null(sim_disk_entry_at(&a, 1));
    assert_int_equal(sim_disk_entry_at(&a, 2)->rolling, sim_disk_entry_at(&b, 2)->rolling);
    struct cn_entry below[] = {entry(1, 3, "q")};
    assert_int_equal(sim_disk_write_entries(&a, below, 1, false, error), -1);
    struct cn_snapshot_meta older = {.index = 0};
    assert_int_equal(sim_disk_set_snapshot(&a, &older, 0, NULL, 0), -1);
    /* An installed snapshot replaces the whole log, even when the disk holds its last entry. */
    struct sim_disk i;
    assert_int_equal(sim_disk_init(&i), 0);
    write_log(&i, log1, 3);
    struct cn_snapshot_meta at1 = {.index = 1, .term = 1};
    assert_int_equal(sim_disk_install_snapshot(&i, &at1, 5, NULL, 0), 0);
    assert_int_equal(sim_disk_last_index(&i), 1);
    sim_disk_free(&i);
    /* A snapshot whose last entry the disk does not hold replaces the whole log (§7). */
    struct sim_disk c;
    assert_int_equal(sim_disk_init(&c), 0);
    write_log(&c, log1, 3);
    struct cn_snapshot_meta other_term = {.index = 2, .term = 5};
    assert_int_equal(sim_disk_set_snapshot(&c, &other_term, 77, NULL, 0), 0);
    assert_int_equal(sim_disk_last_index(&c), 2);
    assert_null(sim_disk_entry_at(&c, 3));
    sim_disk_free(&c);
    /* Restore gives the entries after the snapshot. */
    struct cn_entry restored[4];
    struct cn_restore r;
    sim_disk_restore(&a, &r, restored);
    assert_int_equal(r.snapshot.index, 1);
    assert_int_equal(r.entry_count, 1);
    assert_int_equal(r.entries[0].index, 2);
    assert_memory_equal(r.entries[0].data, "w", 1);
    sim_disk_free(&a);
    sim_disk_free(&b);
}

/* Multi-Paxos writes (entries_per_slot): slots are replaced one by one, gaps stay empty. */
static void test_disk_per_slot_writes(void **state)
{
    (void)state;
    struct sim_disk d;
    char error[SIM_DISK_ERROR_BYTES_MAX];
    assert_int_equal(sim_disk_init(&d), 0);
    struct cn_entry first[] = {entry(1, 10, "a"), entry(4, 10, "d")};
    assert_int_equal(sim_disk_write_entries(&d, first, 2, true, error), 0);
    assert_int_equal(sim_disk_last_index(&d), 4);
    assert_null(sim_disk_entry_at(&d, 2));
    assert_memory_equal(sim_disk_entry_at(&d, 4)->data, "d", 1);
    struct cn_entry again[] = {entry(2, 20, "b"), entry(4, 20, "D")};
    assert_int_equal(sim_disk_write_entries(&d, again, 2, true, error), 0);
    assert_int_equal(sim_disk_last_index(&d), 4); /* no truncation */
    assert_int_equal(sim_disk_entry_at(&d, 1)->term, 10);
    assert_int_equal(sim_disk_entry_at(&d, 4)->term, 20);
    assert_memory_equal(sim_disk_entry_at(&d, 4)->data, "D", 1);
    struct cn_entry restored[8];
    struct cn_restore r;
    sim_disk_restore(&d, &r, restored);
    assert_int_equal(r.entry_count, 3); /* slots 1, 2, 4 */
    assert_int_equal(r.entries[2].index, 4);
    struct cn_entry descending[] = {entry(6, 20, "f"), entry(5, 20, "e")};
    assert_int_equal(sim_disk_write_entries(&d, descending, 2, true, error), -1);
    struct cn_entry far[] = {entry(sim_disk_last_index(&d) + SIM_DISK_SLOT_GAP_MAX + 1, 20, "z")};
    assert_int_equal(sim_disk_write_entries(&d, far, 1, true, error), -1);
    sim_disk_free(&d);
}

static void test_disk_many_entries_and_compaction(void **state)
{
    (void)state;
    struct sim_disk d;
    assert_int_equal(sim_disk_init(&d), 0);
    char big[300];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    uint64_t rolling_at[8] = {0}; /* the rolling hashes survive compaction unchanged */
    for (uint64_t i = 1; i <= 2000; i++) {
        struct cn_entry e = entry(i, 1 + i / 500, i % 7 == 0 ? big : "small");
        write_log(&d, &e, 1);
        rolling_at[i % 8] = sim_disk_entry_at(&d, i)->rolling;
        if (i % 300 == 0) {
            struct cn_snapshot_meta meta = {.index = i - 100,
                                            .term = sim_disk_entry_at(&d, i - 100)->term};
            uint64_t rolling = sim_disk_entry_at(&d, i - 100)->rolling;
            assert_int_equal(sim_disk_set_snapshot(&d, &meta, rolling, NULL, 0), 0);
            assert_int_equal(sim_disk_entry_at(&d, i)->rolling, rolling_at[i % 8]);
        }
        rolling_at[(i + 1) % 8] = 0;
    }
    assert_int_equal(sim_disk_last_index(&d), 2000);
    const struct sim_disk_entry *e = sim_disk_entry_at(&d, 1996);
    assert_non_null(e);
    assert_int_equal(e->data_len, 5);
    assert_memory_equal(e->data, "small", 5);
    e = sim_disk_entry_at(&d, 1995);
    assert_int_equal(e->data_len, sizeof(big) - 1);
    assert_memory_equal(e->data, big, sizeof(big) - 1);
    sim_disk_free(&d);
}

static void test_check_log_matching_accepts_equal_logs(void **state)
{
    (void)state;
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, sim_check_protocol_find("raft")), 0);
    struct sim_disk a, b;
    sim_disk_init(&a);
    sim_disk_init(&b);
    struct cn_entry log[] = {entry(1, 1, "x"), entry(2, 1, "y"), entry(3, 2, "z")};
    write_log(&a, log, 3);
    sim_check_persisted(&check, 0, &a, 1);
    write_log(&b, log, 2);
    sim_check_persisted(&check, 1, &b, 1);
    write_log(&b, log + 2, 1);
    sim_check_persisted(&check, 1, &b, 3);
    assert_false(check.verdict->failed);
    sim_disk_free(&a);
    sim_disk_free(&b);
    sim_check_free(&check);
}

/* Two disks agree on (3, term 2) but differ at index 2: the prefix differs, which Log Matching
 * forbids. This MUST be caught. */
static void test_check_log_matching_catches_prefix_divergence(void **state)
{
    (void)state;
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, sim_check_protocol_find("raft")), 0);
    struct sim_disk a, b;
    sim_disk_init(&a);
    sim_disk_init(&b);
    struct cn_entry log_a[] = {entry(1, 1, "x"), entry(2, 1, "y"), entry(3, 2, "z")};
    struct cn_entry log_b[] = {entry(1, 1, "x"), entry(2, 1, "OTHER"), entry(3, 2, "z")};
    write_log(&a, log_a, 3);
    sim_check_persisted(&check, 0, &a, 1);
    write_log(&b, log_b, 3);
    sim_check_persisted(&check, 1, &b, 1);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "log matching"));
    sim_disk_free(&a);
    sim_disk_free(&b);
    sim_check_free(&check);
}

/* Same (index, term), different bytes: also caught; and clearing forgets it for a new seed. */
static void test_check_log_matching_catches_same_term_other_entry(void **state)
{
    (void)state;
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, sim_check_protocol_find("raft")), 0);
    struct sim_disk a, b;
    sim_disk_init(&a);
    sim_disk_init(&b);
    struct cn_entry ea = entry(1, 1, "x"), eb = entry(1, 1, "not x");
    write_log(&a, &ea, 1);
    write_log(&b, &eb, 1);
    sim_check_persisted(&check, 0, &a, 1);
    assert_false(check.verdict->failed);
    sim_check_persisted(&check, 1, &b, 1);
    assert_true(check.verdict->failed);
    sim_check_clear(&check, 3);
    assert_false(check.verdict->failed);
    sim_check_persisted(&check, 1, &b, 1);
    assert_false(check.verdict->failed);
    sim_disk_free(&a);
    sim_disk_free(&b);
    sim_check_free(&check);
}

static void test_check_leaders_commit_and_apply(void **state)
{
    (void)state;
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, NULL), 0);
    sim_check_leader(&check, 0, 1);
    sim_check_leader(&check, 0, 1);
    sim_check_leader(&check, 1, 2);
    assert_false(check.verdict->failed);
    assert_int_equal(check.elections, 2);
    sim_check_leader(&check, 2, 2);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "one leader per term"));

    sim_check_clear(&check, 3);
    sim_check_commit_index(&check, 1, 5);
    sim_check_commit_index(&check, 1, 5);
    sim_check_restarted(&check, 1);
    sim_check_commit_index(&check, 1, 2);
    assert_false(check.verdict->failed);
    sim_check_commit_index(&check, 1, 1);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "commit index decreased"));

    sim_check_clear(&check, 3);
    struct cn_hard_state h0 = {0}, h1 = {.term = 2, .vote = 3};
    struct cn_hard_state h2 = {.term = 2, .vote = 3, .commit = 5};
    struct cn_hard_state h3 = {.term = 3}, other_vote = {.term = 2, .vote = 1};
    sim_check_hard_state(&check, 0, &h0, &h1);
    sim_check_hard_state(&check, 0, &h1, &h2);
    sim_check_hard_state(&check, 0, &h2, &h3);
    assert_false(check.verdict->failed);
    sim_check_hard_state(&check, 0, &h1, &other_vote);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "double vote"));
    sim_check_clear(&check, 3);
    sim_check_hard_state(&check, 0, &h3, &h1);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "term decreased"));

    sim_check_clear(&check, 3);
    struct cn_entry e1 = entry(1, 1, "a"), e1_other = entry(1, 1, "b");
    sim_check_applied(&check, 0, &e1, 1, 11, 21);
    sim_check_applied(&check, 1, &e1, 1, 11, 21);
    assert_false(check.verdict->failed);
    sim_check_snapshot_installed(&check, 2, 1, 11, 21);
    assert_false(check.verdict->failed);
    sim_check_snapshot_installed(&check, 2, 1, 11, 22);
    assert_true(check.verdict->failed);
    sim_check_clear(&check, 3);
    sim_check_applied(&check, 0, &e1, 1, 11, 21);
    sim_check_applied(&check, 2, &e1_other, 1, 12, 21);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "state machine safety"));
    /* Without Raft's rule, the same value under another ballot is the same choice (Paxos). */
    sim_check_clear(&check, 3);
    struct cn_entry e1_later_ballot = entry(1, 9, "a");
    sim_check_applied(&check, 0, &e1, 1, 11, 21);
    sim_check_applied(&check, 1, &e1_later_ballot, 9, 99, 21);
    assert_false(check.verdict->failed);
    sim_check_applied(&check, 1, &e1_later_ballot, 9, 99, 22); /* another state after it */
    assert_true(check.verdict->failed);
    sim_check_free(&check);
}

static void test_check_committed_needs_quorum(void **state)
{
    (void)state;
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, NULL), 0);
    struct sim_disk d[3];
    const struct sim_disk *disks[3];
    for (int i = 0; i < 3; i++) {
        sim_disk_init(&d[i]);
        disks[i] = &d[i];
    }
    struct cn_entry e1 = entry(1, 1, "a"), e2 = entry(2, 1, "b");
    write_log(&d[0], &e1, 1);
    sim_check_committed_durable(&check, 0, &e1, disks);
    assert_true(check.verdict->failed); /* 1 of 3 */
    assert_non_null(strstr(check.verdict->message, "committed but not durable"));
    sim_check_clear(&check, 3);
    /* A snapshot covering the index counts as holding it. */
    struct cn_snapshot_meta meta = {.index = 1, .term = 1};
    sim_disk_set_snapshot(&d[1], &meta, 0, NULL, 0);
    sim_check_committed_durable(&check, 0, &e1, disks);
    assert_false(check.verdict->failed);
    write_log(&d[0], &e2, 1);
    struct cn_entry other = entry(2, 1, "c");
    write_log(&d[1], &other, 1);
    sim_check_committed_durable(&check, 0, &e2, disks);
    assert_true(check.verdict->failed); /* d[1] holds another entry at 2 */
    for (int i = 0; i < 3; i++) sim_disk_free(&d[i]);
    sim_check_free(&check);
}

/* A fake core whose log is a term array, for the leader completeness check. */
static uint64_t fake_terms[8];
static uint64_t fake_last;
static void fake_status(const void *core, struct cn_status *status)
{
    (void)core;
    memset(status, 0, sizeof(*status));
    status->last_index = fake_last;
}
static bool fake_entry_term(const void *core, uint64_t index, uint64_t *term)
{
    (void)core;
    if (index == 0 || index > fake_last) return false;
    *term = fake_terms[index];
    return true;
}

static void test_check_leader_completeness(void **state)
{
    (void)state;
    struct cn_ops ops = {.name = "fake", .status = fake_status, .entry_term = fake_entry_term};
    struct sim_check check;
    assert_int_equal(sim_check_init(&check, 3, sim_check_protocol_find("raft")), 0);
    struct cn_entry e1 = entry(1, 1, "a"), e2 = entry(2, 2, "b");
    sim_check_applied(&check, 0, &e1, 1, 1, 1);
    sim_check_applied(&check, 0, &e2, 2, 2, 2);
    fake_last = 3;
    fake_terms[1] = 1;
    fake_terms[2] = 2;
    fake_terms[3] = 3;
    sim_check_became_leader(&check, 1, &ops, NULL, 3);
    assert_false(check.verdict->failed);
    /* A leader elected late in term 1 need not hold what term 2 committed. */
    fake_terms[2] = 1;
    sim_check_became_leader(&check, 1, &ops, NULL, 1);
    assert_false(check.verdict->failed);
    /* The committed entry of term 2 was replaced: Figure 8's outcome. */
    sim_check_became_leader(&check, 1, &ops, NULL, 4);
    assert_true(check.verdict->failed);
    assert_non_null(strstr(check.verdict->message, "leader completeness"));
    sim_check_clear(&check, 3);
    sim_check_applied(&check, 0, &e1, 1, 1, 1);
    sim_check_applied(&check, 0, &e2, 2, 2, 2);
    fake_last = 1; /* lacks index 2 */
    sim_check_became_leader(&check, 2, &ops, NULL, 5);
    assert_true(check.verdict->failed);
    sim_check_free(&check);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_truncates_and_rechains),
        cmocka_unit_test(test_disk_per_slot_writes),
        cmocka_unit_test(test_disk_many_entries_and_compaction),
        cmocka_unit_test(test_check_log_matching_accepts_equal_logs),
        cmocka_unit_test(test_check_log_matching_catches_prefix_divergence),
        cmocka_unit_test(test_check_log_matching_catches_same_term_other_entry),
        cmocka_unit_test(test_check_leaders_commit_and_apply),
        cmocka_unit_test(test_check_committed_needs_quorum),
        cmocka_unit_test(test_check_leader_completeness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
