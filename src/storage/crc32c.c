/* crc32c.c — CRC-32C: slice-by-8 tables, plus the SSE4.2 instruction on x86-64. */
#include "storage/crc32c.h"

#include <pthread.h>
#include <string.h>

enum { CRC32C_POLY_REFLECTED = 0x82F63B78u, CRC32C_SLICES = 8 };

static uint32_t crc32c_table[CRC32C_SLICES][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static int crc32c_has_sse42;

/* Builds the eight tables of slice-by-8: table[k][b] is the CRC of byte b followed by k zero
 * bytes, so that eight input bytes fold into the state with eight lookups and no branches. */
static void crc32c_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1u) ? (crc >> 1) ^ CRC32C_POLY_REFLECTED : crc >> 1;
        }
        crc32c_table[0][b] = crc;
    }
    for (uint32_t b = 0; b < 256; b++) {
        for (int k = 1; k < CRC32C_SLICES; k++) {
            uint32_t prev = crc32c_table[k - 1][b];
            crc32c_table[k][b] = (prev >> 8) ^ crc32c_table[0][prev & 0xffu];
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc32c_has_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xffu];
        len--;
    }
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        /* Little-endian host assumed (x86-64, aarch64): the low byte is the first byte. */
        uint32_t lo = (uint32_t)word ^ crc;
        uint32_t hi = (uint32_t)(word >> 32);
        crc = crc32c_table[7][lo & 0xffu] ^ crc32c_table[6][(lo >> 8) & 0xffu] ^
            crc32c_table[5][(lo >> 16) & 0xffu] ^ crc32c_table[4][lo >> 24] ^
            crc32c_table[3][hi & 0xffu] ^ crc32c_table[2][(hi >> 8) & 0xffu] ^
            crc32c_table[1][(hi >> 16) & 0xffu] ^ crc32c_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xffu];
        len--;
    }
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
                                                               size_t len)
{
    uint64_t state = ~crc;
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        state = __builtin_ia32_crc32qi((uint32_t)state, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        state = __builtin_ia32_crc32di(state, word);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        state = __builtin_ia32_crc32qi((uint32_t)state, *p++);
        len--;
    }
    return ~(uint32_t)state;
}
#endif

int crc32c_hardware_available(void)
{
    pthread_once(&crc32c_once, crc32c_init);
    return crc32c_has_sse42;
}

uint32_t crc32c_extend_hardware(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
    if (crc32c_hardware_available()) {
        return crc32c_sse42(crc, data, len);
    }
#endif
    return crc32c_extend_portable(crc, data, len);
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len)
{
    return crc32c_extend_hardware(crc, data, len);
}
