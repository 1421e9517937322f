/*
 * http_events.c — GET /events: the live view's server-sent-events stream (the page in web/
 * reads it with an EventSource). A subscriber gets, in this order:
 *   retry: 2000                       (reconnect after 2 s when the stream ends)
 *   event: topology  data: {...}      the nodes, the shards with their slots and replicas
 *   event: state     data: {...}      this node's state (view.c), now and every
 *                                     NODE_HTTP_EVENTS_INTERVAL_MS after
 * and an `event: problem` in place of a state that would exceed view.c's bound on one event
 * (not `event: error`: an EventSource reports its own connection errors under that name).
 * The JSON never holds a raw newline (json.h escapes them), so each event is one data line.
 *
 * The state is rendered once per interval, whatever the number of subscribers, into one
 * buffer that every subscriber's write shares (counted references): memory is at most
 * NODE_HTTP_EVENTS_WRITES_MAX events per subscriber, and a subscriber that falls that far
 * behind, or whose unsent bytes in libuv's queue pass NODE_HTTP_EVENTS_QUEUE_BYTES_MAX, is
 * closed (it reconnects when it reads again, and misses nothing that matters: every event
 * is a whole state). libuv would otherwise queue without limit for a client that never reads.
 *
 * The stream carries Access-Control-Allow-Origin: * so that the page served by one node can
 * subscribe to its peers' streams. It says nothing /metrics does not: the same numbers, to
 * whoever can reach the port (loopback unless --http names another address).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/json.h"
#include "node/http_internal.h"
#include "node/node_internal.h"

/* One event's JSON, shared by the writes that send it. */
struct event_data {
    uint32_t refs;
    size_t len;
    char *json;
};

struct event_write {
    uv_write_t req;
    struct event_data *data;
};

static const char STREAM_HEAD[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/event-stream\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "Access-Control-Allow-Origin: *\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "retry: 2000\n\n";

static void event_data_release(struct event_data *d)
{
    assert(d->refs > 0);
    if (--d->refs > 0)
        return;
    free(d->json);
    free(d);
}

static struct event_data *event_data_new(char *json, size_t len)
{
    struct event_data *d = malloc(sizeof(*d));
    assert(d != NULL);
    d->refs = 1; /* the creator's, released once every write was handed out */
    d->len = len;
    d->json = json;
    return d;
}

/* In place of an event that exceeds the bound: an error the page shows. */
static struct event_data *event_data_error(const char *message)
{
    char *buf = malloc(256);
    assert(buf != NULL);
    struct json w;
    json_init(&w, buf, 256);
    json_object_begin(&w);
    json_key_string(&w, "error", message);
    json_object_end(&w);
    long len = json_finish(&w);
    assert(len > 0);
    return event_data_new(buf, (size_t)len);
}

static void on_event_written(uv_write_t *req, int status)
{
    struct event_write *ew = (struct event_write *)req;
    struct node_http_conn *c = req->data;
    assert(c->event_writes > 0);
    c->event_writes--;
    event_data_release(ew->data);
    free(ew);
    if (status < 0)
        node_http_conn_close(c); /* the subscriber went away: nothing to retry */
}

/* "event: NAME\ndata: JSON\n\n", written from the shared JSON. False when the subscriber
 * was closed instead (it is too far behind, or the write failed). */
static bool send_event(struct node_http_conn *c, const char *prefix, struct event_data *d)
{
    if (c->closing)
        return false;
    if (c->event_writes >= NODE_HTTP_EVENTS_WRITES_MAX ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) >
            NODE_HTTP_EVENTS_QUEUE_BYTES_MAX) {
        node_log(c->http->node, NODE_LOG_INFO,
                 "/events: dropping a subscriber that does not read (%u events, %zu bytes "
                 "unsent)",
                 c->event_writes, uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp));
        node_http_conn_close(c);
        return false;
    }
    static const char suffix[] = "\n\n";
    struct event_write *ew = malloc(sizeof(*ew));
    assert(ew != NULL);
    ew->data = d;
    ew->req.data = c;
    uv_buf_t bufs[3] = {uv_buf_init((char *)prefix, (unsigned)strlen(prefix)),
                        uv_buf_init(d->json, (unsigned)d->len),
                        uv_buf_init((char *)suffix, sizeof(suffix) - 1)};
    if (uv_write(&ew->req, (uv_stream_t *)&c->tcp, bufs, 3, on_event_written) != 0) {
        free(ew);
        node_http_conn_close(c);
        return false;
    }
    d->refs++;
    c->event_writes++;
    return true;
}

static struct event_data *render_state(struct node *node)
{
    size_t len = 0;
    char *json = node_view_render_state(node, &len);
    if (json == NULL)
        return event_data_error("the node's state exceeds the bound on one event");
    return event_data_new(json, len);
}

static const char *event_prefix(const struct event_data *d, const char *name_prefix)
{
    /* An error event is recognised by its JSON: it is the only one starting so. */
    static const char error_json[] = "{\"error\":";
    if (d->len >= sizeof(error_json) - 1 && memcmp(d->json, error_json, sizeof(error_json) - 1) == 0)
        return "event: problem\ndata: ";
    return name_prefix;
}

void node_http_events_attach(struct node_http_conn *c)
{
    struct node *node = c->http->node;
    assert(c->events && c->event_writes == 0);
    /* A small send buffer: a subscriber that stops reading fills it, and then libuv's
     * queue, within seconds, and is dropped; the default (megabytes on loopback) would hide
     * it for minutes. Best effort: without it the bounds above still hold. */
    int send_buffer = NODE_HTTP_EVENTS_SEND_BUFFER_BYTES;
    (void)uv_send_buffer_size((uv_handle_t *)&c->tcp, &send_buffer);
    uv_buf_t head = uv_buf_init((char *)STREAM_HEAD, sizeof(STREAM_HEAD) - 1);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &head, 1, NULL) != 0) {
        node_http_conn_close(c);
        return;
    }
    size_t len = 0;
    c->topology_epoch = node->topology->epoch;
    char *json = node_view_render_topology(node, &len);
    struct event_data *topology = json != NULL
        ? event_data_new(json, len)
        : event_data_error("the topology exceeds the bound on one event");
    bool open = send_event(c, event_prefix(topology, "event: topology\ndata: "), topology);
    event_data_release(topology);
    if (!open)
        return;
    struct event_data *state = render_state(node);
    send_event(c, event_prefix(state, "event: state\ndata: "), state);
    event_data_release(state);
}

/* A topology with a new epoch (a node joined or left, a replica moved) goes to every
 * subscriber that has an older one, before the state that may refer to it. */
static void send_topology_updates(struct node_http *http)
{
    uint64_t epoch = http->node->topology->epoch;
    struct event_data *topology = NULL;
    const char *prefix = NULL;
    for (struct node_http_conn *c = http->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!c->events || c->topology_epoch == epoch)
            continue;
        if (topology == NULL) {
            size_t len = 0;
            char *json = node_view_render_topology(http->node, &len);
            topology = json != NULL
                ? event_data_new(json, len)
                : event_data_error("the topology exceeds the bound on one event");
            prefix = event_prefix(topology, "event: topology\ndata: ");
        }
        c->topology_epoch = epoch;
        send_event(c, prefix, topology);
    }
    if (topology != NULL)
        event_data_release(topology);
}

void node_http_events_on_timer(uv_timer_t *timer)
{
    struct node_http *http = timer->data;
    if (http->events_count == 0)
        return;
    send_topology_updates(http);
    struct event_data *state = render_state(http->node);
    const char *prefix = event_prefix(state, "event: state\ndata: ");
    for (struct node_http_conn *c = http->conns, *next; c != NULL; c = next) {
        next = c->next; /* a closed connection stays on the list until its handles close */
        if (c->events)
            send_event(c, prefix, state);
    }
    event_data_release(state);
}
