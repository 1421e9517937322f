/*
 * crc32c.h — CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * Debian 12 ships no C library for it (only python3-crc32c), so chorus carries its own:
 * SSE4.2's crc32 instruction when the CPU has it (detected once at run time), and a portable
 * slice-by-8 table implementation otherwise. Both give identical results; the tests check both
 * against the published vectors ("123456789" -> 0xE3069283).
 */
#ifndef CHORUS_CRC32C_H
#define CHORUS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `len` bytes. crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);

/* The portable and hardware paths, exposed so that tests can compare them. */
uint32_t crc32c_extend_portable(uint32_t crc, const void *data, size_t len);
/* Returns crc32c_extend_portable's result when the CPU lacks SSE4.2. */
uint32_t crc32c_extend_hardware(uint32_t crc, const void *data, size_t len);
int crc32c_hardware_available(void);

#endif
