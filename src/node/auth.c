/*
 * auth.c — the pure decisions of client authentication (auth.h): no loop, no socket.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/auth.h"

const char auth_denied_text[] =
    "DENIED chorus is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to chorus you may "
    "adopt one of the following solutions: 1) Set a password: restart chorusd with "
    "'--requirepass-file FILE' (or '--requirepass PASSWORD') and have clients send AUTH. "
    "2) If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option, however MAKE SURE chorus is not publicly accessible from "
    "internet if you do so. NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.";

static const uint64_t bucket_full = (uint64_t)AUTH_BUCKET_TOKENS_MAX * AUTH_BUCKET_MILLI;

void auth_limiter_init(struct auth_limiter *limiter, uint64_t now_ms)
{
    limiter->milli_tokens = bucket_full;
    limiter->updated_ms = now_ms;
}

/* The bucket's content at now_ms. A clock that went back (it does not: uv_now is monotonic)
 * would refill nothing. */
static uint64_t limiter_level(const struct auth_limiter *limiter, uint64_t now_ms)
{
    assert(limiter->milli_tokens <= bucket_full);
    uint64_t elapsed = now_ms > limiter->updated_ms ? now_ms - limiter->updated_ms : 0;
    /* 1 token/s is 1 milli-token per ms: refill per ms is AUTH_BUCKET_REFILL_PER_S. The
     * elapsed time is capped first so that the product cannot overflow. */
    if (elapsed > bucket_full)
        elapsed = bucket_full;
    uint64_t level = limiter->milli_tokens + elapsed * AUTH_BUCKET_REFILL_PER_S;
    return level < bucket_full ? level : bucket_full;
}

bool auth_limiter_may_check(const struct auth_limiter *limiter, uint64_t now_ms)
{
    return limiter_level(limiter, now_ms) >= AUTH_BUCKET_MILLI;
}

void auth_limiter_failed(struct auth_limiter *limiter, uint64_t now_ms)
{
    uint64_t level = limiter_level(limiter, now_ms);
    limiter->milli_tokens = level >= AUTH_BUCKET_MILLI ? level - AUTH_BUCKET_MILLI : 0;
    limiter->updated_ms = now_ms;
}

uint64_t auth_limiter_wait_ms(const struct auth_limiter *limiter, uint64_t now_ms)
{
    uint64_t level = limiter_level(limiter, now_ms);
    if (level >= AUTH_BUCKET_MILLI)
        return 0;
    uint64_t missing = AUTH_BUCKET_MILLI - level;
    return (missing + AUTH_BUCKET_REFILL_PER_S - 1) / AUTH_BUCKET_REFILL_PER_S;
}

uint64_t auth_delay_ms(uint32_t failures)
{
    assert(failures >= 1);
    uint64_t delay = AUTH_DELAY_MS_BASE;
    /* Doubling stops at the cap, so the loop runs at most log2(MAX / BASE) + 1 times. */
    for (uint32_t i = 1; i < failures && delay < AUTH_DELAY_MS_MAX; i++)
        delay *= 2;
    return delay < AUTH_DELAY_MS_MAX ? delay : AUTH_DELAY_MS_MAX;
}

bool auth_password_equal(const uint8_t *expected, size_t expected_len, const uint8_t *given,
                         size_t given_len)
{
    /* Every byte position up to the longer length is visited, whatever the contents, and
     * the length difference is folded into the same accumulator. */
    size_t longest = expected_len > given_len ? expected_len : given_len;
    unsigned diff = expected_len != given_len;
    for (size_t i = 0; i < longest; i++) {
        uint8_t a = i < expected_len ? expected[i] : 0;
        uint8_t b = i < given_len ? given[i] : 0;
        diff |= (unsigned)(a ^ b);
    }
    return diff == 0;
}

bool auth_address_is_loopback(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const uint8_t *b = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
        static const uint8_t loopback[16] = {[15] = 1};
        static const uint8_t mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};
        if (memcmp(b, loopback, 16) == 0)
            return true;
        return memcmp(b, mapped_prefix, 12) == 0 && b[12] == 127;
    }
    return false; /* unknown families are not trusted */
}

bool auth_protected_refuses(bool protected_mode, bool password_set, const struct sockaddr *peer)
{
    if (!protected_mode || password_set)
        return false;
    return !auth_address_is_loopback(peer);
}

int auth_secret_read_file(const char *path, uint8_t *out, size_t capacity, size_t min_len,
                          size_t *out_len, char *error, size_t error_len)
{
    assert(capacity <= AUTH_SECRET_BYTES_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, error_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* One byte more than the capacity plus a CRLF tells a file that is too long. */
    uint8_t buf[AUTH_SECRET_BYTES_MAX + 3];
    size_t len = 0;
    size_t limit = capacity + 3 < sizeof(buf) ? capacity + 3 : sizeof(buf);
    while (len < limit) {
        ssize_t n = read(fd, buf + len, limit - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(error, error_len, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0 || len < min_len || len > capacity) {
        snprintf(error, error_len, "%s: the secret must be %zu to %zu bytes (a trailing newline "
                 "is not counted)", path, min_len > 0 ? min_len : 1, capacity);
        memset(buf, 0, sizeof(buf));
        return -1;
    }
    memcpy(out, buf, len);
    memset(buf, 0, sizeof(buf));
    *out_len = len;
    return 0;
}
