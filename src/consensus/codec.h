/*
 * codec.h — the versioned binary encoding of struct cn_message.
 *
 * Layout (little-endian), version 1:
 *   u32 body length (bytes after this field) | u8 version | u8 type | u8 reject (0/1) |
 *   u8 sections (bit 0: snapshot section present; other bits 0) |
 *   u32 group, from, to | u64 term, log_term, index, commit, context, hint_term, hint_index |
 *   u32 entry_count | entry_count x { u64 index, u64 term, u8 type, u32 data_len, data } |
 *   [snapshot section: u64 index, u64 term, u32 member count, count x u32 id,
 *    u64 offset, u8 done (0/1), u32 chunk_len, chunk]
 * The fixed part is 80 bytes, each entry 21 bytes + data. The snapshot section is present for
 * CN_MSG_SNAPSHOT, and for other types only when one of its fields is non-zero.
 *
 * The encoding is canonical: the decoder rejects every input that encode would not produce, so
 * decode-then-encode reproduces the input byte for byte. Decoding is bounds-checked at every
 * step: a truncated, oversized or inconsistent input is rejected with CN_ERR_MALFORMED (or
 * CN_ERR_VERSION, CN_ERR_TOO_LARGE) and never read past.
 */
#ifndef CHORUS_CONSENSUS_CODEC_H
#define CHORUS_CONSENSUS_CODEC_H

#include "consensus/consensus.h"

enum { CN_CODEC_VERSION = 1 };

/* Exact number of bytes cn_message_encode writes for `message` (length prefix included). */
size_t cn_message_encoded_size(const struct cn_message *message);

/* Encodes `message` into buf[0..capacity). Returns the bytes written (> 0), or
 * CN_ERR_TOO_LARGE when the message exceeds a bound or does not fit in `capacity`, or
 * CN_ERR_INVALID for what no receiver would accept (unknown message or entry type, snapshot
 * members not sorted and non-zero). Nothing useful is in buf after an error.
 * Cost: one pass over the entry headers for the size, one memcpy per entry's data. */
int64_t cn_message_encode(const struct cn_message *message, uint8_t *buf, size_t capacity);

/* Reads the body length of the frame starting at buf, when at least 4 bytes are there:
 * returns the whole frame's size (prefix included), 0 when fewer than 4 bytes are available,
 * CN_ERR_TOO_LARGE when the announced size exceeds CN_MESSAGE_BYTES_MAX, or CN_ERR_MALFORMED
 * when the body is too short to hold even a version and a type (2 bytes). A stream reader
 * waits for that many bytes, then hands exactly them to cn_message_decode. */
int64_t cn_message_frame_size(const uint8_t *buf, size_t len);

/* Decodes exactly one frame of `len` bytes. Entries are written to entries[0..entries_capacity)
 * and message->entries points there (NULL when there are none); entry data and the snapshot
 * chunk point into `buf` (NULL when empty), which must outlive the message. Returns CN_OK, or a
 * negative cn_error with *message zeroed: CN_ERR_VERSION, CN_ERR_TOO_LARGE (a count or length
 * beyond its bound, or more entries than entries_capacity), CN_ERR_MALFORMED otherwise. */
int cn_message_decode(const uint8_t *buf, size_t len, struct cn_message *message,
                      struct cn_entry *entries, uint32_t entries_capacity);

#endif
