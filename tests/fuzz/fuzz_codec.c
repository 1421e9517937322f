/*
 * fuzz_codec.c — cn_message_decode on arbitrary bytes. Properties checked:
 *  - decoding never reads outside the input (ASan) and never trips UB (UBSan);
 *  - a frame that decodes re-encodes to exactly the same bytes (the encoding is canonical);
 *  - cn_message_frame_size agrees with the decoder about the frame's extent;
 *  - decoded pointers lie inside the input (zero copy) and counts respect their bounds.
 */
#include "fuzz.h"

#include <string.h>

#include "consensus/codec.h"

static struct cn_entry fuzz_entries[CN_MESSAGE_ENTRIES_MAX];

static void fuzz_check_inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
    if (len == 0) {
        FUZZ_CHECK(p == NULL);
        return;
    }
    FUZZ_CHECK(p >= data && p + len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cn_message m;
    int rv = cn_message_decode(data, size, &m, fuzz_entries, CN_MESSAGE_ENTRIES_MAX);
    int64_t frame = cn_message_frame_size(data, size);
    if (rv != CN_OK) {
        FUZZ_CHECK(rv == CN_ERR_MALFORMED || rv == CN_ERR_TOO_LARGE || rv == CN_ERR_VERSION);
        FUZZ_CHECK(m.type == 0 && m.entry_count == 0);
        return 0;
    }
    FUZZ_CHECK(frame == (int64_t)size);
    FUZZ_CHECK(m.entry_count <= CN_MESSAGE_ENTRIES_MAX);
    FUZZ_CHECK(m.snapshot.members.count <= CN_MEMBERS_MAX);
    FUZZ_CHECK(m.snapshot_chunk_len <= CN_SNAPSHOT_CHUNK_BYTES_MAX);
    for (uint32_t i = 0; i < m.entry_count; i++) {
        FUZZ_CHECK(m.entries[i].data_len <= CN_ENTRY_DATA_BYTES_MAX);
        fuzz_check_inside(m.entries[i].data, m.entries[i].data_len, data, size);
    }
    fuzz_check_inside(m.snapshot_chunk, m.snapshot_chunk_len, data, size);

    FUZZ_CHECK(cn_message_encoded_size(&m) == size);
    uint8_t *copy = malloc(size);
    FUZZ_CHECK(copy != NULL);
    FUZZ_CHECK(cn_message_encode(&m, copy, size) == (int64_t)size);
    FUZZ_CHECK(memcmp(copy, data, size) == 0);
    /* One byte less room must be refused, not overrun. */
    FUZZ_CHECK(cn_message_encode(&m, copy, size - 1) == CN_ERR_TOO_LARGE);
    free(copy);
    return 0;
}
