/*
 * dev.c — the live view's development controls (--http-dev, off by default): from the page,
 * pause a node or cut it off from its peers for some seconds, and watch the cluster react.
 *
 *   POST /dev/pause?seconds=N            this node stops ticking its groups (no heartbeats,
 *                                        no election timeouts) and drops every peer message,
 *                                        as a SIGSTOP would look from the cluster, while its
 *                                        HTTP side keeps answering (the page shows it paused);
 *   POST /dev/partition?seconds=N&node=I this node drops every message from node I, or from
 *                                        every peer when I is itself (node= left out: itself);
 *   POST /dev/heal                       ends every pause and partition now;
 *   POST /dev/kill                       the node kills itself with SIGKILL 100 ms after
 *                                        answering, as `kill -9` would (nothing is flushed
 *                                        or closed: the WAL's durability is what is shown).
 *
 * Only messages received are dropped, at the one place they all enter (peers.c): a partition
 * of node I is I dropping everything and every other node dropping I's messages, which is
 * what the page asks of each node it watches. N is 1..NODE_DEV_SECONDS_MAX; every control
 * ends by itself, so a page closed midway leaves no node cut off for long. Nothing here is
 * safe to offer beyond the machine: http.c serves these only with --http-dev, on a loopback
 * listener, to loopback peers, and with a header that a browser sends only after a
 * preflight this node allows for loopback origins alone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/dev.h"
#include "node/node_internal.h"

enum {
    NODE_DEV_SECONDS_MAX = 300,
    NODE_DEV_KILL_DELAY_MS = 100, /* time for the answer to leave first */
};

bool node_dev_paused(const struct node *node)
{
    return node->dev.paused_until_ms > node_now_ms(node);
}

bool node_dev_drops(const struct node *node, cn_node_id from)
{
    uint64_t now = node_now_ms(node);
    if (node->dev.paused_until_ms > now || node->dev.isolated_until_ms > now)
        return true;
    return from < 256 && node->dev.drop_from_until_ms[from] > now;
}

/* The value of `key` in a query string "a=1&b=2" as a number in 1..max; false when it is
 * absent, not a decimal number, or out of range. */
static bool query_number(const char *query, const char *key, uint64_t max, uint64_t *value)
{
    size_t key_len = strlen(key);
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > key_len && memcmp(p, key, key_len) == 0 && p[key_len] == '=') {
            uint64_t v = 0;
            size_t digits = len - key_len - 1;
            if (digits == 0 || digits > 9)
                return false;
            for (size_t i = key_len + 1; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                    return false;
                v = v * 10 + (uint64_t)(p[i] - '0');
            }
            if (v < 1 || v > max)
                return false;
            *value = v;
            return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

static bool query_has(const char *query, const char *key)
{
    size_t key_len = strlen(key);
    for (const char *p = query; p != NULL && *p != '\0';) {
        if (strncmp(p, key, key_len) == 0 && p[key_len] == '=')
            return true;
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return false;
}

static void on_kill_timer(uv_timer_t *timer)
{
    (void)timer;
    raise(SIGKILL);
}

int node_dev_act(struct node *node, const char *action, const char *query, char *text,
                 size_t text_cap)
{
    uint64_t now = node_now_ms(node), seconds = 0, target = node->config.id;
    if (strcmp(action, "heal") == 0) {
        memset(&node->dev, 0, sizeof(node->dev));
        node_log(node, NODE_LOG_WARN, "dev: every pause and partition ended");
        snprintf(text, text_cap, "healed");
        return 200;
    }
    if (strcmp(action, "kill") == 0) {
        /* The timer is never freed: the process ends with it. */
        uv_timer_t *timer = malloc(sizeof(*timer));
        assert(timer != NULL);
        uv_timer_init(node->loop, timer);
        uv_timer_start(timer, on_kill_timer, NODE_DEV_KILL_DELAY_MS, 0);
        node_log(node, NODE_LOG_WARN, "dev: killed from the live view (SIGKILL in %u ms)",
                 NODE_DEV_KILL_DELAY_MS);
        snprintf(text, text_cap, "node %u is killed in %u ms", node->config.id,
                 NODE_DEV_KILL_DELAY_MS);
        return 200;
    }
    bool pause = strcmp(action, "pause") == 0;
    if (!pause && strcmp(action, "partition") != 0) {
        snprintf(text, text_cap, "no such control: /dev/%s (pause, partition, heal, kill)",
                 action);
        return 404;
    }
    if (!query_number(query, "seconds", NODE_DEV_SECONDS_MAX, &seconds)) {
        snprintf(text, text_cap, "seconds=N is required, N in 1..%u", NODE_DEV_SECONDS_MAX);
        return 400;
    }
    if (!pause && query_has(query, "node") &&
        (!query_number(query, "node", 255, &target) ||
         node_member_find(node, (cn_node_id)target) == NULL)) {
        snprintf(text, text_cap, "node=I must name a node of the cluster (1..255)");
        return 400;
    }
    uint64_t until = now + seconds * 1000;
    if (pause) {
        node->dev.paused_until_ms = until;
        snprintf(text, text_cap, "node %u paused for %u s", node->config.id, (unsigned)seconds);
    } else if (target == node->config.id) {
        node->dev.isolated_until_ms = until;
        snprintf(text, text_cap, "node %u drops every peer's messages for %u s",
                 node->config.id, (unsigned)seconds);
    } else {
        node->dev.drop_from_until_ms[target] = until;
        snprintf(text, text_cap, "node %u drops node %u's messages for %u s", node->config.id,
                 (unsigned)target, (unsigned)seconds);
    }
    node_log(node, NODE_LOG_WARN, "dev: %s", text);
    return 200;
}

static uint64_t remaining_ms(uint64_t until, uint64_t now)
{
    return until > now ? until - now : 0;
}

void node_dev_write_state(struct json *w, const struct node *node)
{
    uint64_t now = node_now_ms(node);
    json_key(w, "dev");
    json_object_begin(w);
    json_key_bool(w, "enabled", node->config.http_dev);
    json_key_u64(w, "paused_ms", remaining_ms(node->dev.paused_until_ms, now));
    json_key_u64(w, "isolated_ms", remaining_ms(node->dev.isolated_until_ms, now));
    json_key(w, "dropping_from");
    json_array_begin(w);
    for (uint32_t id = 1; id < 256; id++)
        if (node->dev.drop_from_until_ms[id] > now)
            json_u64(w, id);
    json_array_end(w);
    json_object_end(w);
}
