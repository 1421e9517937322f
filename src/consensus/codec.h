/*
 * codec.h — the versioned binary encoding of struct cn_message.
 *
 * Layout (little-endian), version 1:
 *   u32 body length (bytes after this field) | u8 version | u8 type | fixed fields | entries |
 *   snapshot meta and chunk.
 * Decoding is bounds-checked at every step: a truncated, oversized or inconsistent input is
 * rejected with CN_ERR_MALFORMED (or CN_ERR_VERSION, CN_ERR_TOO_LARGE) and never read past.
 */
#ifndef CHORUS_CONSENSUS_CODEC_H
#define CHORUS_CONSENSUS_CODEC_H

#include "consensus/consensus.h"

enum { CN_CODEC_VERSION = 1 };

/* Exact number of bytes cn_message_encode writes for `message` (length prefix included). */
size_t cn_message_encoded_size(const struct cn_message *message);

/* Encodes `message` into buf[0..capacity). Returns the bytes written (> 0), or
 * CN_ERR_TOO_LARGE when the message exceeds a bound or does not fit in `capacity`. */
int64_t cn_message_encode(const struct cn_message *message, uint8_t *buf, size_t capacity);

/* Reads the body length of the frame starting at buf, when at least 4 bytes are there:
 * returns the whole frame's size (prefix included), 0 when fewer than 4 bytes are available,
 * or CN_ERR_TOO_LARGE when the announced size exceeds CN_MESSAGE_BYTES_MAX. */
int64_t cn_message_frame_size(const uint8_t *buf, size_t len);

/* Decodes exactly one frame of `len` bytes. Entries are written to entries[0..entries_capacity)
 * and message->entries points there; entry data and the snapshot chunk point into `buf`, which
 * must outlive the message. Returns CN_OK or a negative cn_error. */
int cn_message_decode(const uint8_t *buf, size_t len, struct cn_message *message,
                      struct cn_entry *entries, uint32_t entries_capacity);

#endif
