/*
 * http_internal.h — the --http listener's state, shared by http.c (connections, requests,
 * /metrics and the page) and http_events.c (the live view's stream, GET /events) only.
 */
#ifndef CHORUS_NODE_HTTP_INTERNAL_H
#define CHORUS_NODE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum {
    NODE_HTTP_REQUEST_BYTES_MAX = 8192,
    NODE_HTTP_CONNECTIONS_MAX = 64,
    NODE_HTTP_TIMEOUT_MS = 5000,
    NODE_HTTP_HEAD_BYTES_MAX = 512,      /* the status line and headers of a reply */
    NODE_HTTP_QUERY_BYTES_MAX = 128,     /* a request's query kept (/dev/ controls) */
    NODE_HTTP_ORIGIN_BYTES_MAX = 96,     /* an Origin header kept (/dev/ controls) */
    NODE_HTTP_METHOD_BYTES_MAX = 16,
    NODE_HTTP_LISTEN_BACKLOG = 64,
    /* GET /events: subscribers at once (more are answered 503), among the connections. */
    NODE_HTTP_EVENTS_CLIENTS_MAX = 16,
    /* How often the state is sent: often enough to see an election (150 ms and up), rarely
     * enough that rendering costs nothing next to the node's work. */
    NODE_HTTP_EVENTS_INTERVAL_MS = 250,
    /* A subscriber that does not read is dropped, never buffered for: once this many of its
     * events are still being written, or this many bytes wait in libuv's queue for its
     * socket, it is closed. With its socket's send buffer set small, a stalled reader is
     * found within a few seconds. */
    NODE_HTTP_EVENTS_WRITES_MAX = 4,
    NODE_HTTP_EVENTS_QUEUE_BYTES_MAX = 256u << 10,
    NODE_HTTP_EVENTS_SEND_BUFFER_BYTES = 64u << 10,
};

struct node;

struct node_http_conn {
    struct node_http *http;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    uint32_t handles_open;  /* tcp and timer: the connection is freed when both closed */
    bool closing;
    bool answered;          /* a reply was written (or is being written) */
    bool events;            /* a subscriber of GET /events (http_events.c) */
    uint32_t event_writes;  /* its events handed to uv_write, not yet completed */
    uint64_t topology_epoch; /* the epoch of the topology it was last sent */
    char head[NODE_HTTP_HEAD_BYTES_MAX];
    char *body;             /* the reply's body (malloc), or NULL */
    size_t in_len;
    char in[NODE_HTTP_REQUEST_BYTES_MAX];
    struct node_http_conn *prev, *next;
};

struct node_http {
    struct node *node;
    uv_tcp_t listener;
    struct node_http_conn *conns;
    uint32_t conn_count;
    uint32_t events_count;      /* connections with `events` set */
    uv_timer_t events_timer;    /* sends the state to the subscribers while there are any */
    uint32_t handles_open;      /* the listener and events_timer */
};

/* http.c */
void node_http_conn_close(struct node_http_conn *c);

/* http_events.c: makes an accepted GET /events connection a subscriber (the caller checked
 * the bound): the reply's head, the topology and the state now, the state every interval
 * after. */
void node_http_events_attach(struct node_http_conn *c);
void node_http_events_on_timer(uv_timer_t *timer);

#endif
