/*
 * resp.h — the Redis protocol (RESP2 and RESP3) as the server speaks it: an incremental request
 * parser and a reply encoder into a capped output buffer. No I/O here: the server feeds the
 * bytes it received and writes out the bytes encoded.
 *
 * Requests follow Redis' networking.c (processMultibulkBuffer, processInlineBuffer): either a
 * multibulk array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or, when the first byte is
 * not '*', an inline command line ("GET k\r\n", split on spaces with sdssplitargs' quoting).
 * Errors carry Redis' exact messages; after one the server replies with it (resp_reply_error)
 * and closes the connection, as Redis does.
 *
 * Parsing a connection's input:
 *
 *     struct resp_command cmd;
 *     for (size_t guard = 0; guard < pipeline_max; guard++) {
 *         int rc = resp_parse(&parser, in + off, in_len - off, &cmd);
 *         if (rc == RESP_PARSE_NEED_MORE) break;      // keep in[off..in_len), read more
 *         if (rc == RESP_PARSE_ERROR) { reply parser.error; close after reply; break; }
 *         if (cmd.argc > 0) execute(cmd.argv, cmd.argc);
 *         off += cmd.consumed;
 *     }
 *
 * The parser keeps its progress through a partly received command, so a large bulk string
 * arriving in many reads is scanned once. Between calls the caller may move its buffer, but
 * must pass the same unconsumed bytes again, at the start, with any new bytes appended.
 */
#ifndef CHORUS_NET_RESP_H
#define CHORUS_NET_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default limits (Redis: proto-max-bulk-len is larger; ours is sized to CN_ENTRY_DATA_BYTES_MAX). */
enum {
    RESP_REPLY_DEPTH_MAX = 64, /* nesting of aggregate replies resp_reply_length follows */
    RESP_ARGS_MAX_DEFAULT = 65536,                 /* arguments in one command */
    RESP_BULK_BYTES_MAX_DEFAULT = 2u << 20,        /* one bulk string argument */
    RESP_INLINE_BYTES_MAX_DEFAULT = 64u << 10,     /* an inline line, or a '*'/'$' header line */
    RESP_ERROR_BYTES_MAX = 96,                     /* the longest parse error message + NUL */
    RESP_OUT_BYTES_MAX_DEFAULT = 64u << 20,        /* a connection's pending reply bytes */
};

struct resp_limits {
    uint32_t args_max;       /* >= 1 */
    size_t bulk_bytes_max;   /* >= 1 */
    size_t inline_bytes_max; /* >= 16 */
};
void resp_limits_default(struct resp_limits *limits);

enum resp_parse_status {
    RESP_PARSE_NEED_MORE = 0, /* no complete command yet; nothing consumed */
    RESP_PARSE_COMPLETE = 1,  /* a command is in `command` */
    RESP_PARSE_ERROR = -1,    /* a protocol error; message in parser->error */
};

/* One argument. Bytes are not NUL-terminated. */
struct resp_arg {
    const char *data;
    size_t len;
};

struct resp_command {
    uint32_t argc;               /* 0 for an empty line or "*0": nothing to execute */
    const struct resp_arg *argv; /* valid until the next resp_parse or resp_parser_free, and
                                    while the input bytes stay where they were */
    size_t consumed;             /* bytes of input this command took, its terminator included */
};

/* Where a parse is within one command, kept across NEED_MORE. Offsets count from the first
 * byte of the command, so the caller may move its buffer between calls. */
struct resp_arg_span {
    size_t offset; /* into the input (multibulk) or into inline_buf (inline) */
    size_t len;
};

struct resp_parser {
    struct resp_limits limits;
    /* Progress within the current command. */
    size_t pos;            /* next byte to look at */
    size_t scan;           /* bytes already searched for a line end, from the line's start */
    int64_t args_expected; /* multibulk count; 0 when its header line is not read yet */
    int64_t bulk_len;      /* length of the bulk being read; -1 before its '$' line */
    uint32_t argc;         /* arguments complete so far */
    /* Argument storage, grown on demand up to limits.args_max (never to a count announced but
     * not yet received). */
    uint32_t args_capacity;
    struct resp_arg_span *spans;
    struct resp_arg *argv;
    uint8_t *inline_buf;   /* unquoted inline arguments; grown to the longest line seen */
    size_t inline_capacity; /* <= limits.inline_bytes_max */
    bool failed;           /* sticky after an error, until resp_parser_reset */
    char error[RESP_ERROR_BYTES_MAX]; /* the Redis message, without "-ERR " and CRLF */
};

/* `limits` may be NULL for the defaults. Allocates nothing yet; cannot fail. */
void resp_parser_init(struct resp_parser *parser, const struct resp_limits *limits);
void resp_parser_free(struct resp_parser *parser);
/* Forgets a partly parsed command and a past error (the caller dropped its input). */
void resp_parser_reset(struct resp_parser *parser);

/* Parses at most one command from buf[0..len). See the status enum and the example above.
 * After RESP_PARSE_ERROR the parser returns the same error until reset. */
int resp_parse(struct resp_parser *parser, const uint8_t *buf, size_t len,
               struct resp_command *command);

/* Parses a decimal int64 as Redis' string2ll does: optional '-', no leading zeros, no '+',
 * no spaces, no overflow. Exposed for the server's numeric arguments. */
bool resp_string_to_int64(const char *s, size_t len, int64_t *value);

/* ---- replies ---------------------------------------------------------------------------- */

/*
 * A connection's output: a growable buffer with a hard cap. Each resp_reply_* call writes all
 * of its bytes or none, and returns 0, or -1 when the cap (or memory) would be exceeded; the
 * failure is also remembered in `overflowed`, because a reply cut in the middle desynchronizes
 * the client: a server that sees it set closes the connection, as Redis does for clients over
 * their output buffer limit.
 */
struct resp_out {
    uint8_t *data;
    size_t len;        /* bytes pending to be written */
    size_t capacity;   /* allocated */
    size_t bytes_max;  /* hard cap on len */
    int protocol;      /* 2 or 3 (HELLO switches it) */
    bool overflowed;
};

void resp_out_init(struct resp_out *out, size_t bytes_max, int protocol);
void resp_out_free(struct resp_out *out);
/* Drops the first `bytes` pending bytes (they were written to the socket). */
void resp_out_consume(struct resp_out *out, size_t bytes);
void resp_out_set_protocol(struct resp_out *out, int protocol);

/* +OK. '\r' and '\n' in the text are replaced by spaces so the reply stays one line. */
int resp_reply_simple(struct resp_out *out, const char *text, size_t len);
/* "-" + text: the text starts with its error code, "ERR syntax error", "WRONGTYPE ...".
 * A leading '-' in text is not doubled; an empty text sends "-ERR". A parse error goes out as
 * resp_reply_error(out, "ERR " + parser.error), which is Redis' "-ERR Protocol error: ...". */
int resp_reply_error(struct resp_out *out, const char *text, size_t len);
int resp_reply_integer(struct resp_out *out, int64_t value);
int resp_reply_bulk(struct resp_out *out, const void *data, size_t len);
/* RESP2 "$-1", RESP3 "_". */
int resp_reply_null(struct resp_out *out);
/* RESP2 "*-1", RESP3 "_". */
int resp_reply_null_array(struct resp_out *out);
/* "*count": the count elements follow as further replies. */
int resp_reply_array(struct resp_out *out, uint64_t count);
/* Bytes that are already whole replies (or whole elements of one), encoded for this
 * output's protocol: a reply gathered from several parts. */
int resp_reply_raw(struct resp_out *out, const void *bytes, size_t len);
/* The length of the one whole reply (RESP2 or RESP3) at the start of buf, or 0 when buf
 * holds only part of one or something that is not a reply (nesting deeper than
 * RESP_REPLY_DEPTH_MAX counts as that). Used to split a stream of relayed replies. */
size_t resp_reply_length(const uint8_t *buf, size_t len);
/* RESP3 "%pairs"; RESP2 a flat array "*2pairs" of key, value, key, value... */
int resp_reply_map(struct resp_out *out, uint64_t pairs);
/* RESP3 "~count" (a set, SMEMBERS); RESP2 "*count". */
int resp_reply_set(struct resp_out *out, uint64_t count);

#endif
