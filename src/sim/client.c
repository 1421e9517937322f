/*
 * client.c — the simulated clients: a workload of put/get/cas/incr/del over a small key space,
 * one operation outstanding per client, with redirects, timeouts and a recorded history. Each
 * key belongs to one group (keys.c): an operation goes to that group's replica on the node the
 * client believes leads the group, and the client learns leaders per group.
 *
 * Rules that keep the history honest:
 *  - a proposal or read refused by a node (not leader, busy...) had no effect: it is retried
 *    elsewhere as the same operation and the refusal is not recorded;
 *  - an accepted proposal is ours when the node applies an entry at its (index, term) with our
 *    bytes; a different entry there means it was overwritten: outcome unknown (safe);
 *  - a timeout ends the operation: a write that was accepted is recorded with unknown outcome
 *    (it may still apply later); a read, or a write never accepted, changed nothing and is
 *    dropped;
 *  - the return instant is when the reply reaches the client, after a network delay.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/world.h"
#include "storage/kv.h"

static const char *const sim_kind_names[] = {"get", "put", "del", "cas", "incr"};

static int64_t sim_client_latency(struct sim *sim)
{
    return sim_rng_range(&sim->rng_workload, sim->params.client_us_min,
                         sim->params.client_us_max);
}

/* Draws the next operation: counter keys take get/incr/del, string keys get/put/cas/del, so
 * that an INCR never meets a non-integer value. */
static void sim_client_draw(struct sim *sim, struct sim_client *c)
{
    struct sim_rng *rng = &sim->rng_workload;
    struct sim_kv_command *cmd = &c->command;
    memset(cmd, 0, sizeof(*cmd));
    cmd->client = c->index + 1;
    cmd->seq = c->seq;
    c->ttl = false;
    c->coll = false;
    /* --kv-store: a third of the commands go to the real store's collections (kvstore.c);
     * the draw is made in that mode only, so that other runs keep their workload. */
    if (sim->options.kv_store && sim_rng_below(rng, 3) == 0) {
        sim_kvstore_draw(sim, c);
        return;
    }
    if (sim_rng_below(rng, 10) == 0) {
        /* A key with a time to live (clock.c): a put with a TTL, or a read. */
        uint32_t key = SIM_TTL_KEY_FIRST + (uint32_t)sim_rng_below(rng, SIM_TTL_KEYS);
        snprintf(cmd->key, sizeof(cmd->key), "%s", sim->key_names[key]);
        c->group = sim->key_groups[key];
        c->ttl = true;
        c->kind = sim_rng_below(rng, 2) ? LINCHECK_GET : LINCHECK_PUT;
        snprintf(cmd->value, sizeof(cmd->value), "t%u.%" PRIu64, c->index + 1, c->seq);
        snprintf(cmd->expect, sizeof(cmd->expect), "%" PRId64,
                 sim_rng_range(rng, 20, 3000));
        if (c->kind == LINCHECK_GET) cmd->value[0] = cmd->expect[0] = '\0';
    } else if (sim_rng_below(rng, 10) < 3) {
        uint32_t key = SIM_STRING_KEYS_MAX + (uint32_t)sim_rng_below(rng, SIM_COUNTER_KEYS);
        snprintf(cmd->key, sizeof(cmd->key), "%s", sim->key_names[key]);
        c->group = sim->key_groups[key];
        uint64_t r = sim_rng_below(rng, 10);
        c->kind = r < 3 ? LINCHECK_GET : r < 9 ? LINCHECK_INCR : LINCHECK_DEL;
    } else {
        uint32_t key = (uint32_t)sim_rng_below(rng, sim->params.string_keys);
        snprintf(cmd->key, sizeof(cmd->key), "%s", sim->key_names[key]);
        c->group = sim->key_groups[key];
        uint64_t r = sim_rng_below(rng, 20);
        c->kind = r < 6 ? LINCHECK_GET : r < 12 ? LINCHECK_PUT : r < 17 ? LINCHECK_CAS
                                                                        : LINCHECK_DEL;
        snprintf(cmd->value, sizeof(cmd->value), "v%u.%" PRIu64, c->index + 1, c->seq);
        if (c->kind == LINCHECK_CAS) {
            bool known = sim->last_value[key][0] != '\0' && sim_rng_below(rng, 4) != 0;
            snprintf(cmd->expect, sizeof(cmd->expect), "%s", known ? sim->last_value[key] : "v0.0");
        }
        if (c->kind == LINCHECK_PUT || c->kind == LINCHECK_CAS)
            snprintf(sim->last_value[key], sizeof(sim->last_value[key]), "%s", cmd->value);
        else
            cmd->value[0] = '\0';
    }
    cmd->op = c->ttl && c->kind == LINCHECK_PUT ? SIM_KV_PUTEX
            : c->kind == LINCHECK_PUT ? SIM_KV_PUT : c->kind == LINCHECK_DEL ? SIM_KV_DEL
            : c->kind == LINCHECK_CAS ? SIM_KV_CAS : c->kind == LINCHECK_INCR ? SIM_KV_INCR : 0;
    c->data_len = 0;
    if (c->kind != LINCHECK_GET) {
        int len = sim_kv_command_encode(cmd, c->data, sizeof(c->data));
        assert(len > 0);
        c->data_len = (uint32_t)len;
    }
}

/* --trace-html: the operation from call to now, with its outcome and its index in the history
 * (-1: not recorded there, as a read that timed out). */
static void sim_client_html(struct sim *sim, const struct sim_client *c, bool returned,
                            int64_t history_index)
{
    char key[SIM_HTML_TEXT_BYTES_MAX / 4], arg[SIM_HTML_TEXT_BYTES_MAX / 2];
    char out[SIM_HTML_TEXT_BYTES_MAX / 2], text[SIM_HTML_TEXT_BYTES_MAX / 2];
    text[0] = '\0';
    if (c->kind == LINCHECK_CAS)
        snprintf(text, sizeof(text), "%s if %s", c->command.value, c->command.expect);
    else if (c->kind == LINCHECK_PUT)
        snprintf(text, sizeof(text), "%s", c->command.value);
    sim_html_quote(arg, sizeof(arg), text);
    if (!returned)
        snprintf(text, sizeof(text), "%s", history_index < 0 ? "timeout" : "unknown");
    else if (c->kind == LINCHECK_GET)
        snprintf(text, sizeof(text), "%s", c->output_null ? "(nil)" : c->output_value);
    else if (c->kind == LINCHECK_PUT)
        snprintf(text, sizeof(text), "OK");
    else if (c->kind == LINCHECK_CAS)
        snprintf(text, sizeof(text), "%s", c->output_ok ? "OK" : "not swapped");
    else
        snprintf(text, sizeof(text), "%" PRId64, c->output_int);
    sim_html_quote(out, sizeof(out), text);
    sim_html_event(sim, "\"op\",%" PRId64 ",%d,%u,%u,\"%s\",%s,%s,%s,%" PRId64 ",%u", c->call_us,
                   returned ? 1 : 0, c->index + 1, c->group, sim_kind_names[c->kind],
                   sim_html_quote(key, sizeof(key), c->command.key), arg, out, history_index,
                   c->node);
}

/* Appends the operation to the history (returned: with its outputs). */
static void sim_client_record(struct sim *sim, struct sim_client *c, bool returned)
{
    if (c->ttl) return; /* keys with a TTL: their own checks (sim_client_ttl_read) */
    if (c->coll) return; /* the real store's: replicas compared instead (kvstore.c) */
    struct lincheck_op op = {.client = c->index + 1, .kind = c->kind, .key = c->command.key,
                             .call_ns = c->call_us * 1000, .returned = returned};
    if (c->kind == LINCHECK_PUT || c->kind == LINCHECK_CAS) op.value = c->command.value;
    if (c->kind == LINCHECK_CAS) op.expect = c->command.expect;
    if (returned) {
        op.return_ns = sim->now_us * 1000;
        switch (c->kind) {
        case LINCHECK_GET:
            op.output_null = c->output_null;
            op.output_value = c->output_null ? NULL : c->output_value;
            break;
        case LINCHECK_PUT: op.output_ok = true; break;
        case LINCHECK_CAS: op.output_ok = c->output_ok; break;
        case LINCHECK_DEL:
        case LINCHECK_INCR: op.output_int = c->output_int; break;
        case LINCHECK_PUSH:
        case LINCHECK_POP:
        case LINCHECK_SADD:
        case LINCHECK_SREM:
        case LINCHECK_SISMEMBER: assert(0 && "the simulated clients draw no collection ops");
        }
    }
    if (sim->html != NULL) sim_client_html(sim, c, returned, (int64_t)sim->result->ops);
    if (lincheck_history_add(sim->history, &op) != 0) {
        sim_verdict_fail(&sim->verdict, "history", "client %u: %s", c->index + 1,
                         lincheck_history_error(sim->history));
        return;
    }
    sim->result->ops++;
    if (!returned) sim->result->ops_unknown++;
    if (returned) sim->groups_with_ops |= 1u << c->group;
}

/* Ends the current operation and schedules the next one after a short think time. */
static void sim_client_next(struct sim *sim, struct sim_client *c)
{
    c->state = SIM_CLIENT_IDLE;
    c->seq++; /* stale events of the old operation no longer match */
    sim_schedule(sim, 1 + (int64_t)sim_rng_below(&sim->rng_workload, 2000), SIM_EV_CLIENT_START,
                 c->index, c->seq, NULL);
}

void sim_client_start(struct sim *sim, uint32_t client)
{
    struct sim_client *c = &sim->clients[client];
    assert(c->state == SIM_CLIENT_IDLE);
    sim_client_draw(sim, c);
    c->call_us = sim->now_us;
    c->ttl_floor_ms = sim->ttl_read_floor_ms[c->group]; /* reads completed before this one */
    c->state = SIM_CLIENT_SUBMITTING;
    /* One read in four goes to any node: followers serve reads through the leader (ReadIndex
     * forwarding, thesis §6.4), a path a leader-only workload never takes. */
    uint32_t any = (uint32_t)sim_rng_below(&sim->rng_workload, 4 * sim->node_count);
    if (c->kind == LINCHECK_GET && any < sim->node_count) c->targets[c->group] = any;
    SIM_TRACE(sim, -1, "client %u: %s %s%s%s%s%s -> n%u", client + 1, sim_kind_names[c->kind],
              c->command.key, c->command.value[0] ? " " : "", c->command.value,
              c->command.expect[0] ? " if " : "", c->command.expect, c->targets[c->group] + 1);
    sim_schedule(sim, sim_client_latency(sim), SIM_EV_CLIENT_ARRIVE, client, c->seq, NULL);
    sim_schedule(sim, sim->params.client_timeout_us, SIM_EV_CLIENT_TIMEOUT, client, c->seq, NULL);
}

/* The node refused or is down: try the leader its replica of the key's group names, else a
 * random node, a bit later. */
static void sim_client_redirect(struct sim *sim, struct sim_client *c)
{
    uint32_t target = c->targets[c->group];
    const struct sim_replica *r = sim_replica(sim, target, c->group);
    uint32_t next = (uint32_t)sim_rng_below(&sim->rng_workload, sim->node_count);
    if (sim->nodes[target].alive && r->leader != 0 && r->leader - 1 != target)
        next = r->leader - 1;
    c->targets[c->group] = next;
    c->state = SIM_CLIENT_SUBMITTING;
    int64_t delay = 2 * sim_client_latency(sim) + (int64_t)sim_rng_below(&sim->rng_workload, 5000);
    sim_schedule(sim, delay, SIM_EV_CLIENT_ARRIVE, c->index, c->seq, NULL);
}

void sim_client_arrive(struct sim *sim, uint32_t client, uint64_t seq)
{
    struct sim_client *c = &sim->clients[client];
    if (c->seq != seq || c->state != SIM_CLIENT_SUBMITTING) return;
    uint32_t node = c->targets[c->group];
    if (!sim->nodes[node].alive) {
        sim_client_redirect(sim, c);
        return;
    }
    c->node = node;
    int rc;
    if (c->kind == LINCHECK_GET) {
        c->state = SIM_CLIENT_READING; /* set first: the read may complete inside the step */
        c->request_id = ++sim->request_id_next;
        struct cn_event event = {.type = CN_EVENT_READ, .request_id = c->request_id};
        rc = sim_node_step(sim, node, c->group, &event);
    } else {
        c->state = SIM_CLIENT_PROPOSED;
        c->log_index = 0;
        c->proposed_us = sim->now_us;
        uint64_t index = 0, term = 0;
        /* The node stamps the entry's log time as a leader does (clock.c). */
        uint8_t entry[SIM_KV_ENTRY_BYTES_MAX];
        size_t len = sim_clock_stamp(sim, node, c->group, c->data, c->data_len, entry,
                                     sizeof entry);
        assert(len > 0);
        struct cn_event event = {.type = CN_EVENT_PROPOSE, .data = entry,
                                 .data_len = (uint32_t)len, .out_index = &index,
                                 .out_term = &term};
        rc = sim_node_step(sim, node, c->group, &event);
        if (rc == CN_OK && c->state == SIM_CLIENT_PROPOSED) {
            c->log_index = index;
            c->log_term = term;
            SIM_TRACE_GROUP(sim, (int)node, c->group, "client %u: proposed at %" PRIu64
                            " term %" PRIu64, client + 1, index, term);
        }
    }
    if (rc != CN_OK && c->seq == seq) {
        SIM_TRACE_GROUP(sim, (int)node, c->group, "client %u: refused (%s)", client + 1,
                        cn_strerror(rc));
        sim_client_redirect(sim, c);
    }
}

static void sim_client_replying(struct sim *sim, struct sim_client *c)
{
    c->state = SIM_CLIENT_REPLYING;
    sim_schedule(sim, sim_client_latency(sim), SIM_EV_CLIENT_REPLY, c->index, c->seq, NULL);
}

void sim_client_applied(struct sim *sim, uint32_t node, uint32_t group,
                        const struct cn_entry *entry, const struct sim_kv_output *output)
{
    for (uint32_t i = 0; i < sim->client_count; i++) {
        struct sim_client *c = &sim->clients[i];
        if (c->state != SIM_CLIENT_PROPOSED || c->node != node || c->group != group ||
            c->log_index != entry->index)
            continue;
        uint64_t stamp = 0;
        size_t skip = kv_stamp_read(entry->data, entry->data_len, &stamp) ? KV_STAMP_BYTES : 0;
        bool ours = entry->term == c->log_term && entry->data_len == c->data_len + skip &&
                    memcmp(entry->data + skip, c->data, c->data_len) == 0;
        if (!ours) {
            SIM_TRACE_GROUP(sim, (int)node, group, "client %u: index %" PRIu64
                            " overwritten: unknown", i + 1, entry->index);
            sim_client_record(sim, c, false);
            sim_client_next(sim, c);
            continue;
        }
        if (c->kind == LINCHECK_INCR && !output->ok) {
            sim_check_fail(&sim->checks[group], "apply", "incr on %s refused", c->command.key);
            return;
        }
        sim->groups_committed |= 1u << group;
        c->output_ok = output->ok;
        c->output_int = output->value_int;
        sim_stats_client_commit(sim, c->proposed_us);
        sim_client_replying(sim, c);
    }
}

void sim_client_read_done(struct sim *sim, uint32_t node, uint32_t group, uint64_t request_id,
                          bool failed)
{
    for (uint32_t i = 0; i < sim->client_count; i++) {
        struct sim_client *c = &sim->clients[i];
        if (c->state != SIM_CLIENT_READING || c->node != node || c->group != group ||
            c->request_id != request_id)
            continue;
        if (failed) {
            sim_client_redirect(sim, c);
            return;
        }
        const struct sim_replica *r = sim_replica(sim, node, group);
        const char *value = sim_kvsm_get_deadline(&r->kvsm, c->command.key, &c->ttl_deadline_ms);
        c->ttl_held = sim_kvsm_get_any(&r->kvsm, c->command.key, &c->ttl_held_deadline_ms) != NULL;
        if (c->ttl && sim->options.plant == SIM_PLANT_IGNORE_DEADLINE)
            value = sim_kvsm_get_any(&r->kvsm, c->command.key, &c->ttl_deadline_ms);
        c->ttl_served_ms = r->kvsm.time_ms;
        c->output_null = value == NULL;
        snprintf(c->output_value, sizeof(c->output_value), "%s", value ? value : "");
        SIM_TRACE_GROUP(sim, (int)node, group, "client %u: read %s = %s (applied %" PRIu64 ")",
                        i + 1, c->command.key, value ? value : "(nil)", r->applied_index);
        sim_client_replying(sim, c);
        return;
    }
}

/* A read of a key with a TTL returned (docs/expiry.md, "What the simulator must prove"): it
 * must not return a key whose deadline is at or before the log time an earlier read of the
 * group, completed before this one began, was served at (log time only grows along the log,
 * and a later read's index is at least an earlier one's); a key it returned must not have
 * been expired at the log time it was served at; and a key it found absent must not have
 * been held with a deadline still ahead of that log time (expired early). */
static void sim_client_ttl_read(struct sim *sim, struct sim_client *c)
{
    struct sim_check *check = &sim->checks[c->group];
    uint64_t deadline = c->ttl_deadline_ms;
    if (!c->output_null && deadline != 0 && deadline <= c->ttl_floor_ms)
        sim_check_fail(check, "expiry", "client %u read %s (deadline %" PRIu64 ") after a "
                       "read completed at log time %" PRIu64, c->index + 1, c->command.key,
                       deadline, c->ttl_floor_ms);
    if (!c->output_null && deadline != 0 && deadline <= c->ttl_served_ms)
        sim_check_fail(check, "expiry", "client %u read %s (deadline %" PRIu64 ") served at "
                       "log time %" PRIu64, c->index + 1, c->command.key, deadline,
                       c->ttl_served_ms);
    uint64_t held = c->ttl_held_deadline_ms;
    if (c->output_null && c->ttl_held && (held == 0 || held > c->ttl_served_ms))
        sim_check_fail(check, "expiry", "client %u found %s absent at log time %" PRIu64
                       " though its deadline is %" PRIu64, c->index + 1, c->command.key,
                       c->ttl_served_ms, held);
    if (c->ttl_served_ms > sim->ttl_read_floor_ms[c->group])
        sim->ttl_read_floor_ms[c->group] = c->ttl_served_ms;
}

void sim_client_reply(struct sim *sim, uint32_t client, uint64_t seq)
{
    struct sim_client *c = &sim->clients[client];
    if (c->seq != seq || c->state != SIM_CLIENT_REPLYING) return;
    SIM_TRACE(sim, -1, "client %u: %s %s returns ok=%d int=%" PRId64 " %s", client + 1,
              sim_kind_names[c->kind], c->command.key, c->output_ok, c->output_int,
              c->kind == LINCHECK_GET ? (c->output_null ? "(nil)" : c->output_value) : "");
    if (c->ttl && c->kind == LINCHECK_GET) sim_client_ttl_read(sim, c);
    sim_client_record(sim, c, true);
    sim_client_next(sim, c);
}

void sim_client_timeout(struct sim *sim, uint32_t client, uint64_t seq)
{
    struct sim_client *c = &sim->clients[client];
    if (c->seq != seq || c->state == SIM_CLIENT_IDLE || c->state == SIM_CLIENT_REPLYING) return;
    SIM_TRACE(sim, -1, "client %u: timeout", client + 1);
    if (c->state == SIM_CLIENT_PROPOSED) sim_client_record(sim, c, false);
    else if (sim->html != NULL) sim_client_html(sim, c, false, -1);
    sim_client_next(sim, c);
}

void sim_client_finish(struct sim *sim)
{
    for (uint32_t i = 0; i < sim->client_count; i++) {
        struct sim_client *c = &sim->clients[i];
        bool write = c->kind != LINCHECK_GET;
        if (write && (c->state == SIM_CLIENT_PROPOSED || c->state == SIM_CLIENT_REPLYING))
            sim_client_record(sim, c, false);
        c->state = SIM_CLIENT_IDLE;
    }
}
