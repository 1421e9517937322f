/*
 * fuzz_resp.c — the RESP request parser and the reply encoder on arbitrary connection bytes.
 *
 * Input: byte 0 picks the configuration, the rest is what a client sent.
 *   bit 0     small limits (4 args, 16-byte bulks, 32-byte lines) instead of the defaults
 *   bit 1     replies in RESP3 instead of RESP2
 *   bits 2-7  read size - 1 for the incremental run (1..64 bytes per read)
 * Properties checked:
 *  - no read outside the input, no UB, no leak (sanitizers);
 *  - parsing the whole stream at once and in reads of N bytes, into a buffer that moves on
 *    every read, yields the same commands and ends the same way (same error message);
 *  - arguments respect the limits; every command echoed back as an array of bulk strings
 *    parses to the same arguments; simple and error replies stay one line; an argument that
 *    parses as an integer is re-encoded by resp_reply_integer digit for digit.
 */
#include "fuzz.h"

#include <string.h>

#include "net/resp.h"

enum { FUZZ_OUT_BYTES_MAX = 8u << 20 };

/* What a run saw: commands folded into a hash, and how it ended. */
struct fuzz_trace {
    uint64_t hash;
    uint32_t commands;
    size_t consumed;
    int end; /* RESP_PARSE_NEED_MORE or RESP_PARSE_ERROR */
    char error[RESP_ERROR_BYTES_MAX];
};

static void fuzz_hash(uint64_t *h, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    for (size_t i = 0; i < len; i++) *h = (*h ^ p[i]) * 0x100000001b3ull; /* FNV-1a */
}

static void fuzz_record(struct fuzz_trace *t, const struct resp_command *c)
{
    fuzz_hash(&t->hash, &c->argc, sizeof(c->argc));
    fuzz_hash(&t->hash, &c->consumed, sizeof(c->consumed));
    for (uint32_t i = 0; i < c->argc; i++) {
        fuzz_hash(&t->hash, &c->argv[i].len, sizeof(c->argv[i].len));
        fuzz_hash(&t->hash, c->argv[i].data, c->argv[i].len);
    }
    t->commands++;
    t->consumed += c->consumed;
}

static void fuzz_check_line(const struct resp_out *out, size_t from)
{
    FUZZ_CHECK(out->len >= from + 2);
    for (size_t i = from; i < out->len - 2; i++) {
        FUZZ_CHECK(out->data[i] != '\r' && out->data[i] != '\n');
    }
}

/* The reply buffer and the parser for echoes, set up once per input and reused for every
 * command of it (allocating them per command made the harness 5x slower). */
struct fuzz_echo {
    struct resp_out out;
    struct resp_parser parser;
};

static void fuzz_echo_init(struct fuzz_echo *e, const struct resp_limits *limits, int protocol)
{
    resp_out_init(&e->out, FUZZ_OUT_BYTES_MAX, protocol);
    /* Inline arguments may be longer than the bulk bound: the echo must take them. */
    struct resp_limits echo_limits = *limits;
    if (echo_limits.bulk_bytes_max < limits->inline_bytes_max) {
        echo_limits.bulk_bytes_max = limits->inline_bytes_max;
    }
    resp_parser_init(&e->parser, &echo_limits);
}

static void fuzz_echo_free(struct fuzz_echo *e)
{
    resp_out_free(&e->out);
    resp_parser_free(&e->parser);
}

/* Replies built from a parsed command, and the echo parsed back. */
static void fuzz_replies(struct fuzz_echo *e, const struct resp_command *c)
{
    struct resp_out *out = &e->out;
    FUZZ_CHECK(resp_reply_array(out, c->argc) == 0);
    for (uint32_t i = 0; i < c->argc; i++) {
        FUZZ_CHECK(resp_reply_bulk(out, c->argv[i].data, c->argv[i].len) == 0);
    }
    struct resp_command d;
    FUZZ_CHECK(resp_parse(&e->parser, out->data, out->len, &d) == RESP_PARSE_COMPLETE);
    FUZZ_CHECK(d.consumed == out->len && d.argc == c->argc);
    for (uint32_t i = 0; i < c->argc; i++) {
        FUZZ_CHECK(d.argv[i].len == c->argv[i].len);
        FUZZ_CHECK(memcmp(d.argv[i].data, c->argv[i].data, c->argv[i].len) == 0);
    }
    resp_out_consume(out, out->len);

    if (c->argc > 0) {
        const struct resp_arg *a = &c->argv[0];
        FUZZ_CHECK(resp_reply_simple(out, a->data, a->len) == 0);
        fuzz_check_line(out, 1);
        resp_out_consume(out, out->len);
        FUZZ_CHECK(resp_reply_error(out, a->data, a->len) == 0);
        fuzz_check_line(out, 1);
        resp_out_consume(out, out->len);
        int64_t value;
        if (resp_string_to_int64(a->data, a->len, &value)) {
            FUZZ_CHECK(resp_reply_integer(out, value) == 0);
            FUZZ_CHECK(out->len == a->len + 3 && memcmp(out->data + 1, a->data, a->len) == 0);
            resp_out_consume(out, out->len);
        }
    }
    FUZZ_CHECK(resp_reply_map(out, c->argc) == 0);
    FUZZ_CHECK(resp_reply_null(out) == 0 && resp_reply_null_array(out) == 0);
    FUZZ_CHECK(!out->overflowed);
    resp_out_consume(out, out->len);
}

static void fuzz_check_command(const struct resp_command *c, const struct resp_limits *limits)
{
    FUZZ_CHECK(c->consumed > 0);
    FUZZ_CHECK(c->argc <= limits->args_max);
    for (uint32_t i = 0; i < c->argc; i++) {
        FUZZ_CHECK(c->argv[i].len <= limits->bulk_bytes_max ||
                   c->argv[i].len <= limits->inline_bytes_max);
    }
}

/* The whole stream in one buffer, commands consumed as a server would. */
static void fuzz_run_whole(const uint8_t *data, size_t size, const struct resp_limits *limits,
                           int protocol, struct fuzz_trace *t)
{
    struct resp_parser p;
    resp_parser_init(&p, limits);
    struct fuzz_echo echo;
    fuzz_echo_init(&echo, limits, protocol);
    size_t off = 0;
    for (size_t guard = 0; guard <= size; guard++) { /* each command consumes a byte or more */
        struct resp_command c;
        int rc = resp_parse(&p, data + off, size - off, &c);
        if (rc != RESP_PARSE_COMPLETE) {
            t->end = rc;
            memcpy(t->error, p.error, sizeof(t->error));
            break;
        }
        fuzz_check_command(&c, limits);
        fuzz_record(t, &c);
        fuzz_replies(&echo, &c);
        off += c.consumed;
        FUZZ_CHECK(off <= size);
    }
    fuzz_echo_free(&echo);
    resp_parser_free(&p);
}

/* The same stream arriving `step` bytes per read, each time in a freshly allocated buffer. */
static void fuzz_run_chunked(const uint8_t *data, size_t size, size_t step,
                             const struct resp_limits *limits, struct fuzz_trace *t)
{
    struct resp_parser p;
    resp_parser_init(&p, limits);
    size_t received = 0, off = 0;
    int rc = RESP_PARSE_NEED_MORE;
    for (size_t guard = 0; guard <= size && rc != RESP_PARSE_ERROR; guard++) {
        received += size - received < step ? size - received : step;
        uint8_t *buf = malloc(received - off + 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, data + off, received - off);
        size_t base = off;
        struct resp_command c;
        while ((rc = resp_parse(&p, buf + (off - base), received - off, &c)) ==
               RESP_PARSE_COMPLETE) { /* bounded: each command consumes a byte or more */
            fuzz_check_command(&c, limits);
            fuzz_record(t, &c);
            off += c.consumed;
        }
        free(buf);
        if (received == size) break;
    }
    t->end = rc;
    memcpy(t->error, p.error, sizeof(t->error));
    resp_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t control = data[0];
    data++;
    size--;
    struct resp_limits limits;
    resp_limits_default(&limits);
    if (control & 1) limits = (struct resp_limits){.args_max = 4, .bulk_bytes_max = 16,
                                                   .inline_bytes_max = 32};
    int protocol = (control & 2) ? 3 : 2;
    size_t step = 1 + (control >> 2);

    struct fuzz_trace whole = {.hash = 0xcbf29ce484222325ull};
    struct fuzz_trace chunked = {.hash = 0xcbf29ce484222325ull};
    fuzz_run_whole(data, size, &limits, protocol, &whole);
    fuzz_run_chunked(data, size, step, &limits, &chunked);
    FUZZ_CHECK(whole.commands == chunked.commands);
    FUZZ_CHECK(whole.hash == chunked.hash);
    FUZZ_CHECK(whole.consumed == chunked.consumed);
    FUZZ_CHECK(whole.end == chunked.end);
    FUZZ_CHECK(strcmp(whole.error, chunked.error) == 0);
    return 0;
}
