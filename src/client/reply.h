/*
 * reply.h — a bounded reader for one RESP2 reply, the client side of the Redis protocol.
 *
 * A reply is one of: a status line (+OK), an error line (-ERR ...), an integer (:42), a bulk
 * string ($3\r\nabc, or $-1: nil), or an array (*2\r\n..., or *-1: nil array) of replies,
 * nested to any depth up to the limit. The reader takes the bytes received so far and answers
 * "need more", "here is a reply and it took N bytes" or "protocol error": it does no I/O, so the
 * tests feed it any byte string.
 *
 * Bounds: every length is checked against `client_reply_limits` before anything is allocated,
 * so a hostile "$9999999999" or "*1000000000" costs nothing. Nesting uses an explicit stack of
 * CLIENT_REPLY_DEPTH_MAX levels, never recursion.
 *
 * Memory: a parsed reply is one allocation (all nodes, then all string bytes, each string
 * NUL-terminated), released by client_reply_free. The parse runs in two passes over the same
 * bytes: the first validates and sizes, the second fills the one block.
 */
#ifndef CHORUS_CLIENT_REPLY_H
#define CHORUS_CLIENT_REPLY_H

#include <stddef.h>
#include <stdint.h>

enum {
    CLIENT_REPLY_DEPTH_MAX = 16,                       /* nested arrays, the root included */
    CLIENT_REPLY_LINE_BYTES_MAX_DEFAULT = 64u << 10,   /* a status/error/header line */
    CLIENT_REPLY_BULK_BYTES_MAX_DEFAULT = 4u << 20,    /* one bulk string */
    CLIENT_REPLY_ELEMENTS_MAX_DEFAULT = 1u << 20,      /* one array's elements */
    CLIENT_REPLY_NODES_MAX_DEFAULT = 4u << 20,         /* all replies in one, nested included */
    CLIENT_REPLY_ERROR_BYTES_MAX = 128,                /* a parse error message + NUL */
};

enum client_reply_type {
    CLIENT_REPLY_STATUS = 1,  /* +text */
    CLIENT_REPLY_ERROR = 2,   /* -text */
    CLIENT_REPLY_INTEGER = 3, /* :n */
    CLIENT_REPLY_BULK = 4,    /* $n */
    CLIENT_REPLY_NIL = 5,     /* $-1 */
    CLIENT_REPLY_ARRAY = 6,   /* *n */
    CLIENT_REPLY_NIL_ARRAY = 7, /* *-1 */
};

struct client_reply {
    enum client_reply_type type;
    int64_t integer;                     /* INTEGER */
    const char *string;                  /* STATUS, ERROR, BULK: NUL-terminated (a bulk may
                                            also hold NULs: use length) */
    size_t length;                       /* bytes of string */
    const struct client_reply *elements; /* ARRAY */
    size_t count;                        /* ARRAY: elements */
};

struct client_reply_limits {
    size_t line_bytes_max;  /* >= 16 */
    size_t bulk_bytes_max;
    size_t elements_max;    /* one array */
    size_t nodes_max;       /* >= 1: the whole reply */
    uint32_t depth_max;     /* 1..CLIENT_REPLY_DEPTH_MAX */
};
void client_reply_limits_default(struct client_reply_limits *limits);

enum client_parse_status {
    CLIENT_PARSE_NEED_MORE = 0, /* no complete reply yet; nothing consumed */
    CLIENT_PARSE_COMPLETE = 1,  /* *reply is set; *consumed bytes were used */
    CLIENT_PARSE_ERROR = -1,    /* malformed or over a limit; message in `error` */
    CLIENT_PARSE_NO_MEMORY = -2,
};

/* Reads one reply from data[0..len). On COMPLETE, *reply is a new reply to release with
 * client_reply_free and *consumed its bytes; otherwise *reply is NULL. `error` (at least
 * CLIENT_REPLY_ERROR_BYTES_MAX bytes, may be NULL) gets the reason of an ERROR. `limits` may be
 * NULL (the defaults). */
int client_reply_parse(const char *data, size_t len, const struct client_reply_limits *limits,
                       struct client_reply **reply, size_t *consumed, char *error);

void client_reply_free(struct client_reply *reply);

/* "status", "error", ...: for messages. */
const char *client_reply_type_name(enum client_reply_type type);

/* True when `reply` is an error whose first word is `word` (e.g. "TRYAGAIN"). */
int client_reply_is_error(const struct client_reply *reply, const char *word);

#endif
