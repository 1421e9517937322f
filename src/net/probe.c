/*
 * probe.c — the probe's wire form (probe.h). Every byte is checked before it is used.
 */
#include "net/probe.h"

#include <string.h>

int64_t transport_probe_decode(const uint8_t *in, size_t len, struct transport_probe *out)
{
    memset(out, 0, sizeof(*out));
    if (len >= 4 && (in[0] | in[1] << 8 | in[2] << 16 | (uint32_t)in[3] << 24) !=
                        TRANSPORT_PROBE_MAGIC)
        return -1;
    if (len < TRANSPORT_PROBE_BYTES)
        return 0;
    if (in[5] != 0 || in[6] != 0 || in[7] != 0)
        return -1;
    out->kind = in[4];
    for (int i = 0; i < 8; i++)
        out->cluster_id |= (uint64_t)in[8 + i] << (8 * i);
    for (int i = 0; i < 4; i++)
        out->sender |= (uint32_t)in[16 + i] << (8 * i);
    return TRANSPORT_PROBE_BYTES;
}

void transport_probe_encode(const struct transport_probe *probe,
                            uint8_t out[TRANSPORT_PROBE_BYTES])
{
    memset(out, 0, TRANSPORT_PROBE_BYTES);
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(TRANSPORT_PROBE_MAGIC >> (8 * i));
    out[4] = probe->kind;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(probe->cluster_id >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[16 + i] = (uint8_t)(probe->sender >> (8 * i));
}

