/*
 * reads.c — linearizable reads and their forwarding (reads.h gives the rules).
 */
#include <assert.h>
#include <stdlib.h>

#include "consensus/reads.h"

void cn_reads_init(struct cn_reads *reads, uint32_t capacity)
{
    assert(capacity >= 1 && capacity <= CN_READS_MAX);
    *reads = (struct cn_reads){.capacity = capacity};
    reads->ring = calloc(capacity, sizeof(*reads->ring));
    assert(reads->ring != NULL);
}

void cn_reads_free(struct cn_reads *reads)
{
    free(reads->ring);
    reads->ring = NULL;
}

static struct cn_read_wait *read_at(struct cn_reads *reads, uint32_t i)
{
    assert(i < reads->count);
    return &reads->ring[(reads->head + i) % reads->capacity];
}

static void read_pop(struct cn_reads *reads)
{
    assert(reads->count > 0);
    reads->head = (reads->head + 1) % reads->capacity;
    reads->count--;
}

static void read_answer(const struct cn_reads_host *host, const struct cn_read_wait *read,
                        bool failed)
{
    if (read->from == 0) {
        cn_outbox_add_read(host->outbox, read->request_id, read->index, failed);
        return;
    }
    struct cn_message *m = host->send(host->core, CN_MSG_READ_INDEX_RESPONSE, read->from);
    if (m == NULL)
        return; /* only when failing (leadership lost): the follower asks again */
    m->context = read->request_id;
    m->index = read->index;
    m->reject = failed;
}

static void reject_forwarded(const struct cn_reads_host *host, cn_node_id from,
                             uint64_t request_id)
{
    struct cn_message *m = host->send(host->core, CN_MSG_READ_INDEX_RESPONSE, from);
    if (m != NULL) {
        m->context = request_id;
        m->reject = true;
    }
}

int cn_reads_request(struct cn_reads *reads, const struct cn_reads_host *host,
                     uint64_t request_id, cn_node_id from)
{
    if (!host->leader) {
        if (from != 0) {
            reject_forwarded(host, from, request_id);
            return CN_OK;
        }
        if (host->leader_id == 0)
            return CN_ERR_NOT_LEADER;
        struct cn_message *m = host->send(host->core, CN_MSG_READ_INDEX, host->leader_id);
        if (m == NULL)
            return CN_ERR_BUSY;
        m->context = request_id;
        return CN_OK;
    }
    if (reads->count == reads->capacity) {
        if (from != 0)
            reject_forwarded(host, from, request_id);
        return CN_ERR_BUSY;
    }
    struct cn_read_wait *read = &reads->ring[(reads->head + reads->count) % reads->capacity];
    reads->count++;
    read->request_id = request_id;
    read->from = from;
    read->index = host->commit;
    read->round = 0;
    if (host->ready) {
        read->round = reads->round + 1;
        reads->round_wanted = true;
    }
    cn_reads_confirm(reads, host);
    return CN_OK;
}

void cn_reads_release_waiting(struct cn_reads *reads, const struct cn_reads_host *host)
{
    if (!host->leader || !host->ready)
        return;
    for (uint32_t i = 0; i < reads->count; i++) {
        struct cn_read_wait *read = read_at(reads, i);
        if (read->round != 0)
            continue;
        read->index = host->commit;
        read->round = reads->round + 1;
        reads->round_wanted = true;
    }
    cn_reads_confirm(reads, host);
}

void cn_reads_confirm(struct cn_reads *reads, const struct cn_reads_host *host)
{
    if (!host->leader)
        return;
    while (reads->count > 0) {
        struct cn_read_wait *read = read_at(reads, 0);
        if (read->round == 0)
            break;
        if (!host->alone && (read->round > reads->round ||
                             !host->round_confirmed(host->core, read->round)))
            break;
        if (read->from != 0 && !cn_outbox_has_room(host->outbox, 1))
            break;
        read_answer(host, read, false);
        read_pop(reads);
    }
}

void cn_reads_fail_all(struct cn_reads *reads, const struct cn_reads_host *host)
{
    while (reads->count > 0) {
        read_answer(host, read_at(reads, 0), true);
        read_pop(reads);
    }
}

void cn_reads_handle_response(const struct cn_reads_host *host, const struct cn_message *m)
{
    if (host->leader)
        return;
    cn_outbox_add_read(host->outbox, m->context, m->index, m->reject);
}
