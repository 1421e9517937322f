/*
 * wire.c — messages between simulated nodes: encoded with the codec at send time into a packet
 * owned by its delivery events (nothing in flight borrows a core's memory), passed through the
 * network's fault model, decoded at delivery. Outgoing snapshot messages get their chunk from
 * the sender's latest snapshot here, as consensus.h asks of a driver.
 */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "consensus/codec.h"
#include "sim/world.h"

/* Fills an outgoing CN_MSG_SNAPSHOT from the node's latest snapshot: the meta, one chunk of at
 * most snapshot_chunk_bytes from the requested offset, and done when it ends the bytes. */
static void sim_node_fill_snapshot(const struct sim *sim, const struct sim_replica *n,
                                   struct cn_message *m)
{
    uint64_t total = n->disk.snapshot_len;
    uint64_t offset = m->snapshot_offset <= total ? m->snapshot_offset : total;
    uint64_t len = total - offset;
    if (len > sim->params.snapshot_chunk_bytes) len = sim->params.snapshot_chunk_bytes;
    m->snapshot = n->disk.snapshot;
    m->snapshot_offset = offset;
    m->snapshot_chunk = n->disk.snapshot_bytes + offset;
    m->snapshot_chunk_len = (uint32_t)len;
    m->snapshot_done = offset + len == total;
}

/* Puts a message on the simulated network: encoded at send time into a packet owned by its
 * delivery events, so that nothing in flight borrows the core's memory. */
static void sim_wire_send(struct sim *sim, uint32_t node, const struct cn_message *m,
                          struct sim_check *check)
{
    sim->result->messages++;
    sim_stats_sent(sim, m);
    int64_t delays_us[SIM_NET_COPIES_MAX];
    uint32_t copies = sim_net_plan(&sim->net, &sim->rng_network, node, m->to - 1, delays_us);
    if (sim->options.trace != NULL) sim_trace_message(sim, copies ? "send" : "lost", m);
    size_t size = cn_message_encoded_size(m);
    struct sim_packet *packet = copies == 0 ? NULL
        : size <= UINT32_MAX ? sim_pool_get(&sim->pool, (uint32_t)size) : NULL;
    uint32_t html_id = 0;
    if (sim->html != NULL) {
        /* A send without a packet never arrives: the page draws it lost. */
        html_id = sim_html_message_id(sim);
        sim_html_event(sim, "\"s\",%u,%u,%u,%u,\"%s\",%" PRIu64 ",%" PRIu64 ",%u,%d,%d", html_id,
                       node, m->to - 1, m->group, cn_message_type_name(m->type), m->term,
                       m->index, m->entry_count, m->reject ? 1 : 0, packet == NULL ? 1 : 0);
    }
    if (packet == NULL) return; /* lost, or the bound on messages in flight: the network loses it */
    int64_t written = cn_message_encode(m, packet->bytes, packet->capacity);
    if (written <= 0) {
        sim_check_fail(check, "codec", "node %u: %s to %u does not encode: %s", node + 1,
                       cn_message_type_name(m->type), m->to, cn_strerror((int)written));
        sim_pool_put(&sim->pool, packet);
        return;
    }
    packet->len = (uint32_t)written;
    packet->refs = copies;
    packet->from = node;
    packet->from_incarnation = sim->nodes[node].incarnation;
    packet->sent_us = sim->now_us;
    packet->html_id = html_id;
    for (uint32_t i = 0; i < copies; i++)
        sim_schedule(sim, delays_us[i], SIM_EV_DELIVER, m->to - 1, 0, packet);
}

/* A heartbeat or its answer joins its node pair's buffer instead of leaving alone. */
static void sim_beats_add(struct sim *sim, uint32_t node, const struct cn_message *m)
{
    struct sim_beats *b = &sim->beats[node][m->to - 1];
    if (b->count == SIM_BEATS_RECORDS_MAX)
        sim_beats_flush(sim); /* full: what is there leaves now, as the node does */
    if (b->count == 0)
        sim->beats_pending++;
    cn_beat_record_encode(m, b->records + (size_t)b->count * CN_BEAT_RECORD_BYTES);
    b->count++;
    sim->result->beat_records++;
}

void sim_beats_flush(struct sim *sim)
{
    for (uint32_t from = 0; from < sim->node_count && sim->beats_pending > 0; from++) {
        for (uint32_t to = 0; to < sim->node_count; to++) {
            struct sim_beats *b = &sim->beats[from][to];
            if (b->count == 0) continue;
            struct cn_entry entry = {.type = CN_ENTRY_NORMAL, .data = b->records,
                                     .data_len = b->count * CN_BEAT_RECORD_BYTES};
            struct cn_message m = {.type = CN_MSG_NODE_HEARTBEATS, .from = from + 1,
                                   .to = to + 1, .entry_count = 1, .entries = &entry};
            b->count = 0;
            sim->beats_pending--;
            /* A crashed node's buffer dies with it (sim_node_crash empties it). */
            assert(sim->nodes[from].alive);
            sim->result->beat_messages++;
            sim_wire_send(sim, from, &m, &sim->checks[0]);
        }
    }
    assert(sim->beats_pending == 0);
}

/* Sends one message of a group through the simulated network. The message names its group
 * (the core's config.group); the receiving node hands it to that group's core. With more
 * than one group, heartbeats and their answers are coalesced per node pair (beats.h). */
void sim_node_send(struct sim *sim, uint32_t node, const struct cn_message *message)
{
    struct cn_message m = *message;
    if (m.group >= sim->group_count) {
        sim_verdict_fail(&sim->verdict, "message", "node %u sent %s of group %u (of %u)",
                         node + 1, cn_message_type_name(m.type), m.group, sim->group_count);
        return;
    }
    if (m.type == CN_MSG_SNAPSHOT && m.snapshot_chunk == NULL)
        sim_node_fill_snapshot(sim, sim_replica(sim, node, m.group), &m);
    if (m.type == CN_MSG_VOTE_RESPONSE && !m.reject)
        sim_check_vote(&sim->checks[m.group], node, m.term, m.to);
    if (m.from != node + 1 || m.to == 0 || m.to > sim->node_count || m.to == node + 1) {
        sim_check_fail(&sim->checks[m.group], "message", "node %u sent %s from %u to %u",
                       node + 1, cn_message_type_name(m.type), m.from, m.to);
        return;
    }
    if (sim->coalesce_beats && cn_beat_coalescable(&m)) {
        sim_beats_add(sim, node, &m);
        return;
    }
    sim_wire_send(sim, node, &m, &sim->checks[m.group]);
}

/* Whether the packet was still in its sender's send buffer when the sender crashed: what a
 * crash loses besides the disk's unsynced writes. */
static bool sim_packet_lost_in_crash(const struct sim *sim, const struct sim_packet *packet)
{
    const struct sim_node *from = &sim->nodes[packet->from];
    return from->crashed_incarnation == packet->from_incarnation &&
           from->crashed_us - packet->sent_us < SIM_SEND_BUFFER_US;
}

/* A coalesced heartbeats message: each record is stepped into its group as the message it
 * stands for, as the node does (src/node/heartbeats.c). */
static void sim_beats_deliver(struct sim *sim, uint32_t node, const struct cn_message *m)
{
    const struct cn_entry *e = m->entry_count == 1 ? &m->entries[0] : NULL;
    if (!sim->coalesce_beats || e == NULL || e->data_len % CN_BEAT_RECORD_BYTES != 0 ||
        e->data_len / CN_BEAT_RECORD_BYTES > SIM_BEATS_RECORDS_MAX || m->to != node + 1) {
        sim_verdict_fail(&sim->verdict, "codec", "node %u got a malformed heartbeats message",
                         node + 1);
        return;
    }
    for (uint32_t i = 0; i < e->data_len / CN_BEAT_RECORD_BYTES; i++) {
        struct cn_message one;
        if (!cn_beat_record_decode(e->data + (size_t)i * CN_BEAT_RECORD_BYTES, m->from, m->to,
                                   &one) || one.group >= sim->group_count) {
            sim_verdict_fail(&sim->verdict, "codec", "node %u got a heartbeat record it cannot "
                             "read (record %u of a message from %u)", node + 1, i, m->from);
            return;
        }
        if (!sim->nodes[node].alive || sim_failed(sim)) return;
        if (sim->options.trace != NULL) sim_trace_message(sim, "recv", &one);
        struct cn_event event = {.type = CN_EVENT_MESSAGE, .message = &one};
        sim_node_step(sim, node, one.group, &event);
    }
}

void sim_node_deliver(struct sim *sim, uint32_t node, struct sim_packet *packet)
{
    /* State 0: delivered to a live node; 1: reached a down node; 2: died with its sender. */
    bool lost_in_crash = sim_packet_lost_in_crash(sim, packet);
    SIM_HTML(sim, "\"r\",%u,%u,%d", packet->html_id, node,
             lost_in_crash ? 2 : sim->nodes[node].alive ? 0 : 1);
    if (lost_in_crash) {
        SIM_TRACE(sim, (int)packet->from, "a message to n%u died with its sender", node + 1);
        sim_pool_put(&sim->pool, packet);
        return;
    }
    struct cn_message message;
    int rc = cn_message_decode(packet->bytes, packet->len, &message, sim->scratch_entries,
                               CN_MESSAGE_ENTRIES_MAX);
    if (rc != CN_OK) {
        sim_verdict_fail(&sim->verdict, "codec", "a message to node %u does not decode: %s",
                         node + 1, cn_strerror(rc));
    } else if (message.type == CN_MSG_NODE_HEARTBEATS) {
        sim_beats_deliver(sim, node, &message);
    } else if (message.group >= sim->group_count) {
        sim_verdict_fail(&sim->verdict, "codec", "a message to node %u names group %u (of %u)",
                         node + 1, message.group, sim->group_count);
    } else if (sim->nodes[node].alive) {
        if (sim->options.trace != NULL) sim_trace_message(sim, "recv", &message);
        struct cn_event event = {.type = CN_EVENT_MESSAGE, .message = &message};
        sim_node_step(sim, node, message.group, &event);
    }
    sim_pool_put(&sim->pool, packet);
}
