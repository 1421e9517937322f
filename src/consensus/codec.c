/*
 * codec.c — the versioned binary encoding of struct cn_message (see codec.h for the layout).
 *
 * Encoding is canonical: every message has exactly one encoding, and the decoder rejects any
 * other (bools that are not 0/1, reserved bits set, an all-zero snapshot section, unsorted
 * members, trailing bytes). Hence decode followed by encode reproduces the input byte for byte,
 * which the fuzzer checks, and two nodes never disagree about what a frame means.
 *
 * Integers are stored with explicit shifts rather than memcpy of host values, so the format is
 * little-endian on every host; compilers turn these shifts into single loads and stores.
 */
#include "consensus/codec.h"

#include <assert.h>
#include <string.h>

/* Sizes of the fixed parts of a version-1 frame. */
enum {
    CODEC_PREFIX_BYTES = 4,                         /* u32 body length */
    CODEC_HEADER_BYTES = CODEC_PREFIX_BYTES + 4     /* version, type, reject, sections */
                         + 3 * 4                    /* group, from, to */
                         + 7 * 8                    /* term .. hint_index */
                         + 4,                       /* entry_count */
    CODEC_ENTRY_BYTES = 8 + 8 + 1 + 4,              /* index, term, type, data_len */
    CODEC_SNAPSHOT_BYTES = 8 + 8 + 4 + 8 + 1 + 4,   /* index, term, member count, offset,
                                                       done, chunk_len (+ 4 per member) */
    CODEC_SECTION_SNAPSHOT = 1u << 0,               /* the snapshot section follows */
};

static_assert(CODEC_HEADER_BYTES == 80, "version-1 header layout changed");
static_assert(CN_MESSAGE_BYTES_MAX <= UINT32_MAX, "body length must fit the u32 prefix");
static_assert((uint64_t)CN_MESSAGE_ENTRIES_MAX * CN_ENTRY_DATA_BYTES_MAX < UINT64_MAX / 2,
              "size arithmetic must not overflow");

/* ---- little-endian stores and loads ---------------------------------------------------- */

static inline uint8_t *put_u8(uint8_t *p, uint8_t v)
{
    p[0] = v;
    return p + 1;
}

static inline uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
    return p + 8;
}

static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* ---- validity rules shared by encoder and decoder -------------------------------------- */

/*
 * A type is known when consensus.c names it: that table is the one list of message types, so
 * a type added there (with its name) is carried by the codec without a change here. Built
 * once, on first use, into a 256-entry table so the decoder pays one load per message.
 */
static bool codec_message_type_known(uint8_t type)
{
    static _Atomic int ready; /* 0, then 1 once `known` is filled (idempotent, race-safe) */
    static _Atomic bool known[256];
    if (!ready) {
        const char *unknown = cn_message_type_name(CN_MSG_NONE);
        for (int t = 0; t < 256; t++) { /* bounded: every uint8_t */
            known[t] = t != CN_MSG_NONE && t <= CN_MSG_TYPE_MAX &&
                       strcmp(cn_message_type_name((uint8_t)t), unknown) != 0;
        }
        ready = 1;
    }
    return known[type];
}

static bool codec_entry_type_known(uint8_t type)
{
    return type == CN_ENTRY_NORMAL || type == CN_ENTRY_NOOP || type == CN_ENTRY_CONFIG;
}

/* Members are sorted, without duplicates and without the "none" id 0 (consensus.h). */
static bool codec_members_valid(const struct cn_members *members)
{
    assert(members->count <= CN_MEMBERS_MAX);
    for (uint32_t i = 0; i < members->count; i++) {
        if (members->ids[i] == 0) return false;
        if (i > 0 && members->ids[i] <= members->ids[i - 1]) return false;
    }
    return true;
}

/*
 * The snapshot section is written for CN_MSG_SNAPSHOT, and for any other type only when one of
 * its fields is set, so that every struct round-trips while appends (the hot path) stay small.
 */
static bool codec_snapshot_present(const struct cn_message *m)
{
    return m->type == CN_MSG_SNAPSHOT || m->snapshot.index != 0 || m->snapshot.term != 0 ||
           m->snapshot.members.count != 0 || m->snapshot_offset != 0 ||
           m->snapshot_chunk_len != 0 || m->snapshot_done;
}

/* ---- encoding --------------------------------------------------------------------------- */

/* Computed in 64 bits: with bounds unchecked, 1024 entries of 4 GiB must not wrap. */
static uint64_t codec_encoded_size(const struct cn_message *m)
{
    uint64_t size = CODEC_HEADER_BYTES;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        size += CODEC_ENTRY_BYTES + (uint64_t)m->entries[i].data_len;
    }
    if (codec_snapshot_present(m)) {
        size += CODEC_SNAPSHOT_BYTES + 4ull * m->snapshot.members.count + m->snapshot_chunk_len;
    }
    return size;
}

size_t cn_message_encoded_size(const struct cn_message *message)
{
    assert(message != NULL);
    assert(message->entry_count == 0 || message->entries != NULL);
    return (size_t)codec_encoded_size(message);
}

/* Checks every bound and rule the decoder will check, so that nothing is written that the
 * receiver must reject. Returns CN_OK, CN_ERR_TOO_LARGE or CN_ERR_INVALID. */
static int codec_encode_check(const struct cn_message *m, uint64_t size, size_t capacity)
{
    if (!codec_message_type_known(m->type)) return CN_ERR_INVALID;
    if (m->entry_count > CN_MESSAGE_ENTRIES_MAX) return CN_ERR_TOO_LARGE;
    if (m->snapshot.members.count > CN_MEMBERS_MAX) return CN_ERR_TOO_LARGE;
    if (m->snapshot_chunk_len > CN_SNAPSHOT_CHUNK_BYTES_MAX) return CN_ERR_TOO_LARGE;
    if (!codec_members_valid(&m->snapshot.members)) return CN_ERR_INVALID;
    for (uint32_t i = 0; i < m->entry_count; i++) {
        if (m->entries[i].data_len > CN_ENTRY_DATA_BYTES_MAX) return CN_ERR_TOO_LARGE;
        if (!codec_entry_type_known(m->entries[i].type)) return CN_ERR_INVALID;
    }
    if (size > CN_MESSAGE_BYTES_MAX || size > capacity) return CN_ERR_TOO_LARGE;
    return CN_OK;
}

static uint8_t *codec_put_entries(uint8_t *p, const struct cn_message *m)
{
    for (uint32_t i = 0; i < m->entry_count; i++) {
        const struct cn_entry *e = &m->entries[i];
        assert(e->data_len == 0 || e->data != NULL);
        p = put_u64(p, e->index);
        p = put_u64(p, e->term);
        p = put_u8(p, e->type);
        p = put_u32(p, e->data_len);
        if (e->data_len > 0) memcpy(p, e->data, e->data_len);
        p += e->data_len;
    }
    return p;
}

static uint8_t *codec_put_snapshot(uint8_t *p, const struct cn_message *m)
{
    const struct cn_snapshot_meta *s = &m->snapshot;
    assert(m->snapshot_chunk_len == 0 || m->snapshot_chunk != NULL);
    p = put_u64(p, s->index);
    p = put_u64(p, s->term);
    p = put_u32(p, s->members.count);
    for (uint32_t i = 0; i < s->members.count; i++) p = put_u32(p, s->members.ids[i]);
    p = put_u64(p, m->snapshot_offset);
    p = put_u8(p, m->snapshot_done ? 1 : 0);
    p = put_u32(p, m->snapshot_chunk_len);
    if (m->snapshot_chunk_len > 0) memcpy(p, m->snapshot_chunk, m->snapshot_chunk_len);
    return p + m->snapshot_chunk_len;
}

int64_t cn_message_encode(const struct cn_message *message, uint8_t *buf, size_t capacity)
{
    assert(message != NULL);
    assert(buf != NULL || capacity == 0);
    assert(message->entry_count == 0 || message->entries != NULL);

    const struct cn_message *m = message;
    uint64_t size = codec_encoded_size(m);
    int rv = codec_encode_check(m, size, capacity);
    if (rv != CN_OK) return rv;

    bool snapshot = codec_snapshot_present(m);
    uint8_t *p = buf;
    p = put_u32(p, (uint32_t)(size - CODEC_PREFIX_BYTES));
    p = put_u8(p, CN_CODEC_VERSION);
    p = put_u8(p, m->type);
    p = put_u8(p, m->reject ? 1 : 0);
    p = put_u8(p, snapshot ? CODEC_SECTION_SNAPSHOT : 0);
    p = put_u32(p, m->group);
    p = put_u32(p, m->from);
    p = put_u32(p, m->to);
    p = put_u64(p, m->term);
    p = put_u64(p, m->log_term);
    p = put_u64(p, m->index);
    p = put_u64(p, m->commit);
    p = put_u64(p, m->context);
    p = put_u64(p, m->hint_term);
    p = put_u64(p, m->hint_index);
    p = put_u32(p, m->entry_count);
    assert(p - buf == CODEC_HEADER_BYTES);
    p = codec_put_entries(p, m);
    if (snapshot) p = codec_put_snapshot(p, m);
    assert((uint64_t)(p - buf) == size);
    return (int64_t)size;
}

/* ---- decoding --------------------------------------------------------------------------- */

int64_t cn_message_frame_size(const uint8_t *buf, size_t len)
{
    assert(buf != NULL || len == 0);
    if (len < CODEC_PREFIX_BYTES) return 0;
    uint64_t size = (uint64_t)get_u32(buf) + CODEC_PREFIX_BYTES;
    if (size > CN_MESSAGE_BYTES_MAX) return CN_ERR_TOO_LARGE;
    /* Every version starts its body with the version byte and the type byte. */
    if (size < CODEC_PREFIX_BYTES + 2) return CN_ERR_MALFORMED;
    return (int64_t)size;
}

/* A cursor over the input: every read is preceded by a check of what remains. */
struct codec_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos; /* invariant: pos <= len */
};

static bool reader_has(const struct codec_reader *r, uint64_t bytes)
{
    assert(r->pos <= r->len);
    return (uint64_t)(r->len - r->pos) >= bytes;
}

/* Readers assume a prior reader_has() for their size; they assert rather than check. */
static uint8_t reader_u8(struct codec_reader *r)
{
    assert(reader_has(r, 1));
    return r->buf[r->pos++];
}

static uint32_t reader_u32(struct codec_reader *r)
{
    assert(reader_has(r, 4));
    uint32_t v = get_u32(r->buf + r->pos);
    r->pos += 4;
    return v;
}

static uint64_t reader_u64(struct codec_reader *r)
{
    assert(reader_has(r, 8));
    uint64_t v = get_u64(r->buf + r->pos);
    r->pos += 8;
    return v;
}

static int reader_bool(struct codec_reader *r, bool *out)
{
    uint8_t v = reader_u8(r);
    if (v > 1) return CN_ERR_MALFORMED;
    *out = v == 1;
    return CN_OK;
}

/* Returns a pointer to the next `bytes` bytes (NULL when none) and skips them. */
static const uint8_t *reader_bytes(struct codec_reader *r, uint32_t bytes)
{
    assert(reader_has(r, bytes));
    const uint8_t *p = bytes > 0 ? r->buf + r->pos : NULL;
    r->pos += bytes;
    return p;
}

/* Prefix, version and the fixed fields. Sets *sections to the section flags. */
static int codec_decode_header(struct codec_reader *r, struct cn_message *m, uint8_t *sections)
{
    if (!reader_has(r, CODEC_PREFIX_BYTES)) return CN_ERR_MALFORMED;
    uint64_t body_len = reader_u32(r);
    if (body_len + CODEC_PREFIX_BYTES > CN_MESSAGE_BYTES_MAX) return CN_ERR_TOO_LARGE;
    if (body_len != r->len - CODEC_PREFIX_BYTES) return CN_ERR_MALFORMED;
    if (!reader_has(r, 1)) return CN_ERR_MALFORMED;
    if (reader_u8(r) != CN_CODEC_VERSION) return CN_ERR_VERSION;
    if (!reader_has(r, CODEC_HEADER_BYTES - CODEC_PREFIX_BYTES - 1)) return CN_ERR_MALFORMED;

    m->type = reader_u8(r);
    if (!codec_message_type_known(m->type)) return CN_ERR_MALFORMED;
    if (reader_bool(r, &m->reject) != CN_OK) return CN_ERR_MALFORMED;
    *sections = reader_u8(r);
    if ((*sections & ~CODEC_SECTION_SNAPSHOT) != 0) return CN_ERR_MALFORMED;
    m->group = reader_u32(r);
    m->from = reader_u32(r);
    m->to = reader_u32(r);
    m->term = reader_u64(r);
    m->log_term = reader_u64(r);
    m->index = reader_u64(r);
    m->commit = reader_u64(r);
    m->context = reader_u64(r);
    m->hint_term = reader_u64(r);
    m->hint_index = reader_u64(r);
    m->entry_count = reader_u32(r);
    return CN_OK;
}

static int codec_decode_entries(struct codec_reader *r, struct cn_message *m,
                                struct cn_entry *entries, uint32_t entries_capacity)
{
    if (m->entry_count > CN_MESSAGE_ENTRIES_MAX) return CN_ERR_TOO_LARGE;
    if (m->entry_count > entries_capacity) return CN_ERR_TOO_LARGE;
    /* Cheap early rejection of a count the remaining bytes cannot possibly hold. */
    if (!reader_has(r, (uint64_t)m->entry_count * CODEC_ENTRY_BYTES)) return CN_ERR_MALFORMED;

    for (uint32_t i = 0; i < m->entry_count; i++) { /* bounded by CN_MESSAGE_ENTRIES_MAX */
        struct cn_entry *e = &entries[i];
        if (!reader_has(r, CODEC_ENTRY_BYTES)) return CN_ERR_MALFORMED;
        e->index = reader_u64(r);
        e->term = reader_u64(r);
        e->type = reader_u8(r);
        if (!codec_entry_type_known(e->type)) return CN_ERR_MALFORMED;
        e->data_len = reader_u32(r);
        if (e->data_len > CN_ENTRY_DATA_BYTES_MAX) return CN_ERR_TOO_LARGE;
        if (!reader_has(r, e->data_len)) return CN_ERR_MALFORMED;
        e->data = reader_bytes(r, e->data_len);
    }
    m->entries = m->entry_count > 0 ? entries : NULL;
    return CN_OK;
}

static int codec_decode_snapshot(struct codec_reader *r, struct cn_message *m)
{
    struct cn_snapshot_meta *s = &m->snapshot;
    if (!reader_has(r, 8 + 8 + 4)) return CN_ERR_MALFORMED;
    s->index = reader_u64(r);
    s->term = reader_u64(r);
    s->members.count = reader_u32(r);
    if (s->members.count > CN_MEMBERS_MAX) return CN_ERR_TOO_LARGE;
    if (!reader_has(r, 4ull * s->members.count + 8 + 1 + 4)) return CN_ERR_MALFORMED;
    for (uint32_t i = 0; i < s->members.count; i++) s->members.ids[i] = reader_u32(r);
    if (!codec_members_valid(&s->members)) return CN_ERR_MALFORMED;
    m->snapshot_offset = reader_u64(r);
    if (reader_bool(r, &m->snapshot_done) != CN_OK) return CN_ERR_MALFORMED;
    m->snapshot_chunk_len = reader_u32(r);
    if (m->snapshot_chunk_len > CN_SNAPSHOT_CHUNK_BYTES_MAX) return CN_ERR_TOO_LARGE;
    if (!reader_has(r, m->snapshot_chunk_len)) return CN_ERR_MALFORMED;
    m->snapshot_chunk = reader_bytes(r, m->snapshot_chunk_len);
    /* Canonical form: the section is absent on other types when all of it is zero. */
    if (!codec_snapshot_present(m)) return CN_ERR_MALFORMED;
    return CN_OK;
}

int cn_message_decode(const uint8_t *buf, size_t len, struct cn_message *message,
                      struct cn_entry *entries, uint32_t entries_capacity)
{
    assert(buf != NULL || len == 0);
    assert(message != NULL);
    assert(entries != NULL || entries_capacity == 0);

    struct codec_reader r = {.buf = buf, .len = len, .pos = 0};
    uint8_t sections = 0;
    memset(message, 0, sizeof(*message));

    int rv = codec_decode_header(&r, message, &sections);
    if (rv != CN_OK) goto err;
    rv = codec_decode_entries(&r, message, entries, entries_capacity);
    if (rv != CN_OK) goto err;
    bool snapshot = (sections & CODEC_SECTION_SNAPSHOT) != 0;
    if (message->type == CN_MSG_SNAPSHOT && !snapshot) {
        rv = CN_ERR_MALFORMED;
        goto err;
    }
    if (snapshot) {
        rv = codec_decode_snapshot(&r, message);
        if (rv != CN_OK) goto err;
    }
    if (r.pos != r.len) {
        rv = CN_ERR_MALFORMED; /* trailing bytes */
        goto err;
    }
    return CN_OK;

err:
    assert(rv != CN_OK);
    /* Leave nothing half-decoded behind that a careless caller could act on. */
    memset(message, 0, sizeof(*message));
    return rv;
}
