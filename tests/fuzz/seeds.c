/*
 * seeds.c — writes the seed corpora committed in tests/fuzz/corpus/ (run by hand:
 * `tests/fuzz/run.sh --seeds`). Codec seeds are valid frames of every message type, with and
 * without entries and snapshot sections; RESP seeds are a control byte (see fuzz_resp.c)
 * followed by request streams of every shape, valid and not; ring seeds are three control
 * bytes (see fuzz_ring.c) followed by memberships, valid and not; topology seeds are a mode
 * byte (see fuzz_topology.c) followed by encoded topologies (mode 0) or memberships (mode 1).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/topology.h"
#include "consensus/codec.h"

enum { SEEDS_FRAME_BYTES_MAX = 4096 };

static int seeds_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "seeds: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL) fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int seeds_codec(const char *dir)
{
    uint8_t types[CN_MSG_TYPE_MAX];
    size_t type_count = 0;
    for (int t = 1; t <= CN_MSG_TYPE_MAX; t++) { /* every type consensus.c names */
        if (strcmp(cn_message_type_name((uint8_t)t), "unknown") != 0) types[type_count++] = (uint8_t)t;
    }
    static const uint8_t data[] = "SET key value";
    static const uint8_t chunk[] = "snapshot-bytes";
    struct cn_entry entries[3] = {
        {.index = 7, .term = 2, .type = CN_ENTRY_NORMAL, .data_len = 13, .data = data},
        {.index = 8, .term = 2, .type = CN_ENTRY_NOOP},
        {.index = 9, .term = 3, .type = CN_ENTRY_CONFIG, .data_len = 3, .data = data},
    };
    for (size_t i = 0; i < type_count; i++) {
        struct cn_message m = {.type = types[i], .group = (uint32_t)i, .from = 1, .to = 2,
                               .term = 5 + i, .log_term = 4, .index = 6, .commit = 5,
                               .context = i % 3, .hint_term = i % 2, .hint_index = i % 4,
                               .reject = i % 2, .entry_count = (uint32_t)(i % 4),
                               .entries = i % 4 ? entries : NULL};
        if (types[i] == CN_MSG_SNAPSHOT || i % 5 == 0) {
            m.snapshot = (struct cn_snapshot_meta){.index = 6, .term = 2,
                                                   .members = {.count = 3, .ids = {1, 2, 3}}};
            m.snapshot_offset = i;
            m.snapshot_chunk = chunk;
            m.snapshot_chunk_len = (uint32_t)(i % 2 ? sizeof(chunk) - 1 : 0);
            m.snapshot_done = i % 3 == 0;
        }
        uint8_t frame[SEEDS_FRAME_BYTES_MAX];
        int64_t n = cn_message_encode(&m, frame, sizeof(frame));
        if (n <= 0) return -1;
        char name[64];
        snprintf(name, sizeof(name), "%s-%zu", cn_message_type_name(types[i]), i);
        if (seeds_write(dir, name, frame, (size_t)n) != 0) return -1;
    }
    return 0;
}

static int seeds_resp(const char *dir)
{
    static const char *streams[] = {
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
        "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        "*0\r\n*-1\r\n",
        "PING\r\n",
        "set a 1\nget a\n",
        "set \"a b\" 'c d'\r\n",
        "echo \"\\x41\\n\\r\\t\\b\\a\\\\\\\"\"\r\n",
        "echo 'it\\'s'\r\n",
        "\r\n\n  \r\n",
        "*1\r\n$3\r\nabcd\r\n",
        "*3\r\nx",
        "*abc\r\n",
        "*1\r\n$-1\r\n",
        "*1\r\n$99999999999999999999\r\n",
        "*2\r\n$3\r\nGET\r\n:1\r\n",
        "set \"a\r\n",
        "set 'a'b\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\n",
        "*1\r\n$1\rxx",
        "PING\r\n*1\r\n$4\r\nPING\r\nquit\n*5\r\n",
        "set a b\0c\r\n",
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n",
        "*1\r\n$17\r\n01234567890123456\r\n",
        "incrby k -9223372036854775808\r\n",
        "*2\r\n$6\r\nINCRBY\r\n$19\r\n9223372036854775807\r\n",
    };
    static const uint8_t controls[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x0d, 0xfe, 0x1f};
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        size_t len = i == 21 ? 12 : strlen(streams[i]); /* stream 21 holds a NUL byte */
        uint8_t input[256];
        if (len + 1 > sizeof(input)) return -1;
        input[0] = controls[i % sizeof(controls)];
        memcpy(input + 1, streams[i], len);
        char name[32];
        snprintf(name, sizeof(name), "stream-%02zu", i);
        if (seeds_write(dir, name, input, len + 1) != 0) return -1;
    }
    return 0;
}

/* Ring seeds: three control bytes (algorithm and zones, replicas, virtual nodes; see
 * fuzz_ring.c) and a membership text, valid and not, for every algorithm. */
static int seeds_ring(const char *dir)
{
    static const char *const memberships[] = {
        "1,2,3",
        "1@east,2@east,3@west,4@west,5:2@north",
        "10:3@a,20:1@b,30:2@c,40@a,50@b,60@c",
        "18446744073709551615,0,7:1000",
        "1",
        "5@z1,6@z2,7@z3,8@z4,9@z5,10@z6,11@z7,12@z8",
        "1:2,2:2,3:2,4:2",
        "1,,2",
        "1:0",
        "1@",
        "3,3",
        "1@a b",
        "18446744073709551616",
        "1@abcdefghijklmnopqrstuvwxyz0123456",
        "",
    };
    static const uint8_t controls[][3] = {{0, 2, 16}, {8, 2, 4}, {1, 1, 0}, {2, 2, 0}, {3, 2, 0},
                                          {4, 2, 10}, {10, 3, 1}, {11, 2, 0}, {12, 1, 32}, {13, 3, 63}};
    enum { CONTROLS = sizeof(controls) / sizeof(controls[0]) };
    for (size_t i = 0; i < sizeof(memberships) / sizeof(memberships[0]); i++)
        for (size_t c = 0; c < CONTROLS; c += 3) {
            size_t len = strlen(memberships[i]);
            uint8_t input[128];
            if (len + 3 > sizeof(input)) return -1;
            memcpy(input, controls[(i + c) % CONTROLS], 3);
            memcpy(input + 3, memberships[i], len);
            char name[32];
            snprintf(name, sizeof(name), "membership-%02zu-%zu", i, c);
            if (seeds_write(dir, name, input, len + 3) != 0) return -1;
        }
    return 0;
}

/* Topology seeds: encodings of built topologies of 1 to 9 nodes (mode byte 0), the same with
 * one byte changed, and memberships for the build mode (mode byte 1; see fuzz_topology.c). */
static int seeds_topology(const char *dir)
{
    static struct topology topology;
    static struct topology_node nodes[9];
    static uint8_t input[1 + 8192];
    static const char *const zones[] = {"", "east", "west", "north"};
    for (uint32_t n = 1; n <= 9; n += 2) {
        for (uint32_t i = 0; i < n; i++) {
            nodes[i] = (struct topology_node){.id = 3 * i + 1, .state = TOPOLOGY_NODE_ACTIVE,
                                              .weight = (uint16_t)(1 + i % 2)};
            snprintf(nodes[i].zone, sizeof(nodes[i].zone), "%s", zones[i % 4]);
            snprintf(nodes[i].client.host, sizeof(nodes[i].client.host), i % 2 ? "::1" : "127.0.0.1");
            snprintf(nodes[i].peer.host, sizeof(nodes[i].peer.host), "node-%u.local", i);
            nodes[i].client.port = (uint16_t)(7001 + i);
            nodes[i].peer.port = (uint16_t)(8001 + i);
        }
        if (n > 3) nodes[n - 1].state = TOPOLOGY_NODE_LEAVING;
        struct topology_build_input build = {.cluster_id = n, .shard_count = 4 * n,
                                             .replica_count = n < 3 ? n : 3, .node_count = n,
                                             .nodes = nodes};
        if (topology_build(&build, NULL, &topology) != TOPOLOGY_OK) return -1;
        input[0] = 0;
        int64_t length = topology_encode(&topology, input + 1, sizeof(input) - 1);
        if (length <= 0) return -1;
        char name[32];
        snprintf(name, sizeof(name), "encoded-%u", n);
        if (seeds_write(dir, name, input, (size_t)length + 1) != 0) return -1;
        input[1 + (n * 7) % (size_t)length] ^= 0x10;
        snprintf(name, sizeof(name), "changed-%u", n);
        if (seeds_write(dir, name, input, (size_t)length + 1) != 0) return -1;
    }
    static const uint8_t memberships[][1 + 4 + 4 * 6] = {
        {1, 2, 15, 2, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0},
        {1, 4, 63, 2, 1, 1, 1, 0, 0, 2, 2, 1, 0, 3, 3, 0, 0, 4, 4, 0, 0, 5, 1, 0, 1},
        {1, 5, 3, 1, 1, 9, 1, 3, 1, 8, 2, 0, 2, 7, 3, 0, 0, 6, 1, 0, 0, 5, 2, 0, 0, 4, 3, 0, 0},
        {1, 0, 0, 0, 0},
        {1, 3, 7, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(memberships) / sizeof(memberships[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "membership-%zu", i);
        if (seeds_write(dir, name, memberships[i], sizeof(memberships[i])) != 0) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s CODEC_CORPUS_DIR RESP_CORPUS_DIR [RING_CORPUS_DIR "
                        "[TOPOLOGY_CORPUS_DIR]]\n", argv[0]);
        return 2;
    }
    if (seeds_codec(argv[1]) != 0 || seeds_resp(argv[2]) != 0) return 1;
    if (argc >= 4 && seeds_ring(argv[3]) != 0) return 1;
    if (argc == 5 && seeds_topology(argv[4]) != 0) return 1;
    return 0;
}
