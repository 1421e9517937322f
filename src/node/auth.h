/*
 * auth.h — the pure parts of client authentication (auth.c): the password comparison, the
 * protected-mode decision, the limiter of wrong passwords, and reading a secret from a file.
 * Nothing here touches the loop or a socket, so that the unit tests can drive every decision
 * with chosen addresses and times; commands_auth.c applies them to connections.
 *
 * Rate limiting of wrong passwords has two parts, both of constant memory:
 *   - per connection: after its n-th wrong password in a row, a connection's next command is
 *     held (not parsed) for AUTH_DELAY_MS_BASE * 2^(n-1) ms, at most AUTH_DELAY_MS_MAX;
 *   - per node: a token bucket of AUTH_BUCKET_TOKENS_MAX wrong passwords, refilled at
 *     AUTH_BUCKET_REFILL_PER_S; while it is empty, no unauthenticated connection has a command
 *     parsed, so that opening new connections does not buy new guesses. Authenticated
 *     connections are never held by the bucket, so an attack does not stop the node's users.
 */
#ifndef CHORUS_NODE_AUTH_H
#define CHORUS_NODE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    /* A password or secret, in bytes. Redis has no bound; chorus keeps one in the config. */
    AUTH_SECRET_BYTES_MAX = 512,
    AUTH_DELAY_MS_BASE = 100,
    AUTH_DELAY_MS_MAX = 5000,
    AUTH_BUCKET_TOKENS_MAX = 32,
    AUTH_BUCKET_REFILL_PER_S = 16,
    /* The bucket counts thousandths of a token, so that refill needs no floating point. */
    AUTH_BUCKET_MILLI = 1000,
};

/* The node-wide bucket of wrong passwords. */
struct auth_limiter {
    uint64_t milli_tokens;   /* at most AUTH_BUCKET_TOKENS_MAX * AUTH_BUCKET_MILLI */
    uint64_t updated_ms;     /* when milli_tokens was last brought up to date */
};

/* A full bucket at now_ms. */
void auth_limiter_init(struct auth_limiter *limiter, uint64_t now_ms);
/* Whether a password may be checked at now_ms (a whole token is there). Does not change the
 * bucket. */
bool auth_limiter_may_check(const struct auth_limiter *limiter, uint64_t now_ms);
/* A wrong password at now_ms: one token less (none below zero). */
void auth_limiter_failed(struct auth_limiter *limiter, uint64_t now_ms);
/* Milliseconds from now_ms until a whole token is there (0 when one is). */
uint64_t auth_limiter_wait_ms(const struct auth_limiter *limiter, uint64_t now_ms);

/* How long a connection is held after its `failures`-th wrong password in a row (>= 1). */
uint64_t auth_delay_ms(uint32_t failures);

/* Compares a candidate password with the configured one in time that depends only on their
 * lengths' maximum, not on where they first differ. */
bool auth_password_equal(const uint8_t *expected, size_t expected_len, const uint8_t *given,
                         size_t given_len);

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. Redis 7 compares the text with "127.0.0.1" and
 * "::1" only; all of 127/8 is the loopback interface too. */
bool auth_address_is_loopback(const struct sockaddr *addr);

/* Protected mode (as Redis): with no password and protected mode on, only loopback clients
 * are served. Returns true when a connection from `peer` must be refused. */
bool auth_protected_refuses(bool protected_mode, bool password_set, const struct sockaddr *peer);

/* The -DENIED error (without the leading '-' and the CRLF) a refused connection receives. */
extern const char auth_denied_text[];

/* Reads a secret from a file: its bytes, less one trailing "\n" or "\r\n". Fails (-1, with a
 * message that never contains the secret) when the file cannot be read, is empty, or holds
 * more than `capacity` bytes or fewer than `min_len`. */
int auth_secret_read_file(const char *path, uint8_t *out, size_t capacity, size_t min_len,
                          size_t *out_len, char *error, size_t error_len);

#endif
