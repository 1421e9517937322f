/* test_auth.c — the pure decisions of client authentication (src/node/auth.c): the password
 * comparison, protected mode by address, the per-connection delay, the node's bucket of
 * wrong passwords, and reading a secret from a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "node/auth.h"

static bool equal(const char *a, const char *b)
{
    return auth_password_equal((const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b));
}

static void test_password_equal(void **state)
{
    (void)state;
    assert_true(equal("secret", "secret"));
    assert_false(equal("secret", "secreT"));
    assert_false(equal("secret", "secret2"));
    assert_false(equal("secret", "secre"));
    assert_false(equal("secret", ""));
    /* A shorter candidate that matches the stored prefix padded with NULs is still wrong. */
    assert_false(auth_password_equal((const uint8_t *)"ab\0", 3, (const uint8_t *)"ab", 2));
    assert_true(auth_password_equal((const uint8_t *)"a\0b", 3, (const uint8_t *)"a\0b", 3));
}

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    return ss;
}

static void test_loopback_addresses(void **state)
{
    (void)state;
    const char *local4[] = {"127.0.0.1", "127.0.0.2", "127.255.255.254"};
    const char *remote4[] = {"10.0.0.1", "192.168.1.7", "128.0.0.1", "0.0.0.0", "126.255.255.255"};
    for (size_t i = 0; i < 3; i++) {
        struct sockaddr_storage ss = v4(local4[i]);
        assert_true(auth_address_is_loopback((struct sockaddr *)&ss));
    }
    for (size_t i = 0; i < 5; i++) {
        struct sockaddr_storage ss = v4(remote4[i]);
        assert_false(auth_address_is_loopback((struct sockaddr *)&ss));
    }
    struct sockaddr_storage a = v6("::1"), b = v6("::ffff:127.0.0.9"), c = v6("::2"),
                            d = v6("::ffff:10.0.0.1"), e = v6("fe80::1");
    assert_true(auth_address_is_loopback((struct sockaddr *)&a));
    assert_true(auth_address_is_loopback((struct sockaddr *)&b));
    assert_false(auth_address_is_loopback((struct sockaddr *)&c));
    assert_false(auth_address_is_loopback((struct sockaddr *)&d));
    assert_false(auth_address_is_loopback((struct sockaddr *)&e));
    struct sockaddr_storage unknown;
    memset(&unknown, 0, sizeof(unknown));
    unknown.ss_family = AF_UNIX;
    assert_false(auth_address_is_loopback((struct sockaddr *)&unknown));
}

static void test_protected_mode_decision(void **state)
{
    (void)state;
    struct sockaddr_storage local = v4("127.0.0.1"), remote = v4("10.1.2.3");
    /* Protected, no password: only loopback is served. */
    assert_false(auth_protected_refuses(true, false, (struct sockaddr *)&local));
    assert_true(auth_protected_refuses(true, false, (struct sockaddr *)&remote));
    /* A password, or protected mode off, serves everyone. */
    assert_false(auth_protected_refuses(true, true, (struct sockaddr *)&remote));
    assert_false(auth_protected_refuses(false, false, (struct sockaddr *)&remote));
    /* The message says how to fix it, and starts as Redis's does. */
    assert_true(strncmp(auth_denied_text, "DENIED ", 7) == 0);
    assert_non_null(strstr(auth_denied_text, "--protected-mode no"));
    assert_non_null(strstr(auth_denied_text, "--requirepass"));
    assert_null(strchr(auth_denied_text, '\r'));
    assert_null(strchr(auth_denied_text, '\n'));
}

static void test_delay_doubles_to_a_cap(void **state)
{
    (void)state;
    assert_int_equal(auth_delay_ms(1), AUTH_DELAY_MS_BASE);
    assert_int_equal(auth_delay_ms(2), 2 * AUTH_DELAY_MS_BASE);
    assert_int_equal(auth_delay_ms(3), 4 * AUTH_DELAY_MS_BASE);
    for (uint32_t f = 1; f < 100; f++)
        assert_true(auth_delay_ms(f + 1) >= auth_delay_ms(f));
    assert_int_equal(auth_delay_ms(30), AUTH_DELAY_MS_MAX);
    assert_int_equal(auth_delay_ms(UINT32_MAX), AUTH_DELAY_MS_MAX);
}

static void test_bucket_empties_and_refills(void **state)
{
    (void)state;
    struct auth_limiter l;
    auth_limiter_init(&l, 1000);
    for (int i = 0; i < AUTH_BUCKET_TOKENS_MAX; i++) {
        assert_true(auth_limiter_may_check(&l, 1000));
        assert_int_equal(auth_limiter_wait_ms(&l, 1000), 0);
        auth_limiter_failed(&l, 1000);
    }
    /* Empty: nothing may be checked until one token came back (1000 / rate ms). */
    assert_false(auth_limiter_may_check(&l, 1000));
    uint64_t wait = auth_limiter_wait_ms(&l, 1000);
    assert_int_equal(wait, (AUTH_BUCKET_MILLI + AUTH_BUCKET_REFILL_PER_S - 1) /
                               AUTH_BUCKET_REFILL_PER_S);
    assert_false(auth_limiter_may_check(&l, 1000 + wait - 1));
    assert_true(auth_limiter_may_check(&l, 1000 + wait));
    /* Failing while empty does not go below zero, and does not overflow with a long gap. */
    auth_limiter_failed(&l, 1000);
    auth_limiter_failed(&l, 1000);
    assert_false(auth_limiter_may_check(&l, 1000));
    assert_true(auth_limiter_may_check(&l, UINT64_MAX / 2));
    /* A long idle time refills to the maximum, never above it. */
    auth_limiter_init(&l, 0);
    auth_limiter_failed(&l, 10u * 1000 * 1000);
    int checks = 0;
    while (auth_limiter_may_check(&l, 10u * 1000 * 1000)) {
        auth_limiter_failed(&l, 10u * 1000 * 1000);
        checks++;
        assert_true(checks <= AUTH_BUCKET_TOKENS_MAX);
    }
    assert_int_equal(checks, AUTH_BUCKET_TOKENS_MAX - 1);
}

static char *write_temp(const void *data, size_t len)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/test_auth.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_secret_file(void **state)
{
    (void)state;
    uint8_t out[AUTH_SECRET_BYTES_MAX];
    size_t len = 0;
    char error[256];
    char *path = write_temp("hunter2-hunter2-x\r\n", 19);
    assert_int_equal(auth_secret_read_file(path, out, sizeof(out), 16, &len, error, sizeof(error)), 0);
    assert_int_equal(len, 17);
    assert_memory_equal(out, "hunter2-hunter2-x", 17);
    unlink(path);
    /* Too short for the minimum: refused, and the message does not repeat the secret. */
    path = write_temp("short-secret\n", 13);
    assert_int_equal(auth_secret_read_file(path, out, sizeof(out), 16, &len, error, sizeof(error)), -1);
    assert_null(strstr(error, "short-secret"));
    unlink(path);
    path = write_temp("\n", 1);
    assert_int_equal(auth_secret_read_file(path, out, sizeof(out), 1, &len, error, sizeof(error)), -1);
    unlink(path);
    /* One byte over the capacity is refused; exactly the capacity is taken. */
    char big[AUTH_SECRET_BYTES_MAX + 1];
    memset(big, 'k', sizeof(big));
    path = write_temp(big, sizeof(big));
    assert_int_equal(auth_secret_read_file(path, out, sizeof(out), 1, &len, error, sizeof(error)), -1);
    unlink(path);
    path = write_temp(big, AUTH_SECRET_BYTES_MAX);
    assert_int_equal(auth_secret_read_file(path, out, sizeof(out), 1, &len, error, sizeof(error)), 0);
    assert_int_equal(len, AUTH_SECRET_BYTES_MAX);
    unlink(path);
    assert_int_equal(auth_secret_read_file("/nonexistent/x", out, sizeof(out), 1, &len, error,
                                           sizeof(error)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_equal),
        cmocka_unit_test(test_loopback_addresses),
        cmocka_unit_test(test_protected_mode_decision),
        cmocka_unit_test(test_delay_doubles_to_a_cap),
        cmocka_unit_test(test_bucket_empties_and_refills),
        cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
