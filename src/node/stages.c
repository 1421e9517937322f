/*
 * stages.c — where one write's time goes, stage by stage (issue 12, "Measure first").
 *
 * One write in NODE_STAGE_EVERY proposed on this node (it leads the shard) is followed
 * through the update cycle, at most NODE_STAGE_SAMPLES_MAX at a time, by the request id (a
 * request that is freed without completing leaves a sample that times out). Each sample
 * stamps the loop's clock (uv_hrtime) at:
 *
 *   received   the command was read and run (commands.c, the request's started_ns)
 *   proposed   the core took the proposal (requests.c)
 *   appended   its entry joined the open WAL batch (drive.c persist_update)
 *   wal start  that batch was sealed and its write began (drive.c sync_start)
 *   wal done   the batch's write and fdatasync returned (drive.c sync_done)
 *   committed  the core handed the entry as committed (an update taken in drive.c)
 *   applied    the applies of that pass were committed to LMDB (drive.c node_finish_flush)
 *   replied    the reply was queued for the client (requests.c node_request_complete)
 *
 * A completed sample adds each stage's length to a running total: INFO "# Stages" reports
 * the averages. Commit may come before this node's own sync (followers were faster), so a
 * stage never counts below zero; the stages then overlap and the total is the sum of the
 * parts that did not. The cost is a few comparisons per update and per batch.
 */
#include <string.h>

#include "node/node_internal.h"

static const char *const stage_names[NODE_STAGE_COUNT] = {
    "received", "proposed", "appended", "wal_start", "wal_done",
    "committed", "applied", "replied",
};

const char *node_stage_name(enum node_stage stage)
{
    assert(stage < NODE_STAGE_COUNT);
    return stage_names[stage];
}

void node_stages_proposed(struct node *node, const struct node_request *r)
{
    struct node_stages *st = &node->stages;
    if (++st->proposals % NODE_STAGE_EVERY != 0)
        return;
    uint64_t now = uv_hrtime();
    for (uint32_t i = 0; i < NODE_STAGE_SAMPLES_MAX; i++) {
        struct node_stage_sample *s = &st->samples[i];
        /* A sample whose request was freed without completing times out. */
        if (s->request_id != 0 && now - s->t[NODE_STAGE_PROPOSED] > NODE_STAGE_TIMEOUT_NS)
            s->request_id = 0;
        if (s->request_id != 0)
            continue;
        memset(s, 0, sizeof(*s));
        s->request_id = r->id;
        s->group = r->group->id;
        s->index = r->index;
        s->t[NODE_STAGE_PROPOSED] = now;
        st->active++;
        return;
    }
}

/* Stamps `stage` now, once, on the samples that reached `after` before, and (unless
 * any_group) belong to `group` with their entry at or below `index`. */
static void stages_stamp(struct node_stages *st, bool any_group, uint32_t group, uint64_t index,
                         enum node_stage stage, enum node_stage after)
{
    if (st->active == 0)
        return;
    uint64_t now = 0;
    for (uint32_t i = 0; i < NODE_STAGE_SAMPLES_MAX; i++) {
        struct node_stage_sample *s = &st->samples[i];
        if (s->request_id == 0 || s->t[stage] != 0 || s->t[after] == 0 ||
            (!any_group && (s->group != group || s->index > index)))
            continue;
        if (now == 0)
            now = uv_hrtime();
        s->t[stage] = now;
    }
}

/* A step of one group's update: its samples at or below `index`. */
void node_stages_mark(struct node *node, uint32_t group, uint64_t index, enum node_stage stage,
                      enum node_stage after)
{
    stages_stamp(&node->stages, false, group, index, stage, after);
}

/* A node-wide step: a batch sealed or synced holds every group's appended entries. */
void node_stages_mark_all(struct node *node, enum node_stage stage, enum node_stage after)
{
    stages_stamp(&node->stages, true, 0, 0, stage, after);
}

void node_stages_done(struct node *node, const struct node_request *r, bool ok)
{
    struct node_stages *st = &node->stages;
    if (st->active == 0)
        return;
    for (uint32_t i = 0; i < NODE_STAGE_SAMPLES_MAX; i++) {
        struct node_stage_sample *s = &st->samples[i];
        if (s->request_id != r->id)
            continue;
        s->request_id = 0;
        st->active--;
        s->t[NODE_STAGE_RECEIVED] = r->started_ns;
        s->t[NODE_STAGE_REPLIED] = uv_hrtime();
        bool complete = ok && r->started_ns != 0;
        for (int k = 0; k < NODE_STAGE_COUNT; k++)
            complete = complete && s->t[k] != 0;
        if (!complete)
            return; /* failed, or a stage was skipped (say, a snapshot installed meanwhile) */
        /* Each stage from the latest stamp before it, so that overlapping stages (a commit
         * before the local sync) count once. */
        uint64_t latest = s->t[NODE_STAGE_RECEIVED];
        for (int k = 1; k < NODE_STAGE_COUNT; k++) {
            uint64_t at = s->t[k] > latest ? s->t[k] : latest;
            st->stage_ns_total[k] += at - latest;
            latest = at;
        }
        st->total_ns += latest - s->t[NODE_STAGE_RECEIVED];
        st->completed++;
        return;
    }
}
