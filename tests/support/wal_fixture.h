/* wal_fixture.h — a WAL in a temporary directory for the WAL's cmocka tests: small segments, a
 * log callback that counts lines and keeps the last, reopen on demand, removal at teardown. */
#ifndef CHORUS_TESTS_WAL_FIXTURE_H
#define CHORUS_TESTS_WAL_FIXTURE_H

#include <stdint.h>

#include "storage/wal.h"

struct wal_fixture {
    char dir[64];
    struct wal_options options;
    struct wal *wal;
    char last_log[WAL_ERROR_MESSAGE_BYTES];
    int log_count;
};

/* cmocka group setup/teardown: *state is the fixture. */
int wal_fixture_setup(void **state);
int wal_fixture_teardown(void **state);
/* Closes the WAL if open and opens it again (recovery runs); a failure fails the test. */
void wal_fixture_open(struct wal_fixture *f);
/* Entry data as a function of (group, index, term or ballot), so that any mix-up shows. */
uint32_t wal_fixture_entry_fill(uint8_t *buf, cn_group_id group, uint64_t index, uint64_t term,
                                uint32_t len);

#endif
