/*
 * http.c — the node's HTTP listener (--http HOST:PORT), on the node's own loop thread:
 * GET /metrics in the Prometheus text format (metrics.c builds the text), GET / and the files
 * of the live view's page (web/, compiled into the binary: web_assets.h), and GET /events,
 * the page's server-sent-events stream (http_events.c).
 *
 * One request per connection, answered with "Connection: close". Anything on the network is
 * untrusted, so every resource is bounded and nothing a client sends can stop the node:
 *  - at most NODE_HTTP_CONNECTIONS_MAX connections; one more is accepted and closed at once;
 *  - a request (line and headers) of at most NODE_HTTP_REQUEST_BYTES_MAX, read into the
 *    connection's own fixed buffer; a longer one is answered 431;
 *  - every connection closes NODE_HTTP_TIMEOUT_MS after it was accepted, whatever state it is
 *    in: a client that sends slowly, never reads its reply or never closes costs a slot for
 *    that long, never the loop's time. A subscriber of /events is the exception: it stays
 *    while it reads, and http_events.c drops it when it does not;
 *  - at most NODE_HTTP_EVENTS_CLIENTS_MAX subscribers of /events; one more is answered 503;
 *  - a malformed request line or header is answered 400, another method than GET or HEAD
 *    405, a path not served 404.
 * The reply is written in one uv_write; the write side is then shut down and what the client
 * still sends is read and dropped until it closes, so that the kernel does not answer unread
 * input with a reset that could destroy the reply in flight.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/transport.h"
#include "node/dev.h"
#include "node/http_internal.h"
#include "node/node_internal.h"
#include "node/web_assets.h"

/* After the stop, the last of the listener, the events timer and the connections to close
 * frees the state. */
static void http_maybe_free(struct node_http *http)
{
    if (http->handles_open == 0 && http->conn_count == 0)
        free(http);
}

static void conn_on_handle_closed(uv_handle_t *handle)
{
    struct node_http_conn *c = handle->data;
    assert(c->handles_open > 0);
    if (--c->handles_open > 0)
        return;
    struct node_http *http = c->http;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        http->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    http->conn_count--;
    free(c->body);
    free(c);
    http_maybe_free(http);
}

void node_http_conn_close(struct node_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->events) {
        /* Its slot is free at once; the timer stops with the last subscriber. */
        c->events = false;
        assert(c->http->events_count > 0);
        if (--c->http->events_count == 0)
            uv_timer_stop(&c->http->events_timer);
    }
    uv_close((uv_handle_t *)&c->tcp, conn_on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_on_handle_closed);
}

static void conn_on_timeout(uv_timer_t *timer)
{
    node_http_conn_close(timer->data);
}

/* Reads go into the rest of the connection's fixed buffer; once a reply is out, into its
 * start, to be dropped. */
static void conn_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct node_http_conn *c = handle->data;
    (void)suggested;
    if (c->answered)
        *buf = uv_buf_init(c->in, sizeof(c->in));
    else
        *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void conn_on_drain_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        node_http_conn_close(stream->data);
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    struct node_http_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_drain_read) != 0)
        node_http_conn_close(c);
}

static void conn_on_write(uv_write_t *req, int status)
{
    struct node_http_conn *c = req->data;
    if (c->closing)
        return;
    c->shutdown_req.data = c;
    if (status < 0 || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_on_shutdown) != 0)
        node_http_conn_close(c);
}

/* Writes the reply: the status line and headers from c->head, then body_len bytes of c->body
 * unless head_only (HEAD). */
static void conn_reply(struct node_http_conn *c, int status, const char *reason,
                       const char *content_type, const char *extra_headers, size_t body_len,
                       bool head_only)
{
    assert(!c->answered);
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, reason, content_type, body_len, extra_headers);
    assert(n > 0 && (size_t)n < sizeof(c->head));
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                        uv_buf_init(c->body, (unsigned)(head_only ? 0 : body_len))};
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, head_only || body_len == 0 ? 1 : 2,
                 conn_on_write) != 0)
        node_http_conn_close(c);
}

/* An error reply whose body is its reason, one line. */
static void conn_reply_error(struct node_http_conn *c, int status, const char *reason,
                             const char *extra_headers)
{
    size_t len = strlen(reason);
    c->body = malloc(len + 1);
    assert(c->body != NULL);
    memcpy(c->body, reason, len);
    c->body[len] = '\n';
    conn_reply(c, status, reason, "text/plain; charset=utf-8", extra_headers, len + 1, false);
}

static void conn_reply_metrics(struct node_http_conn *c, bool head_only)
{
    size_t len = 0;
    c->body = node_metrics_render(c->http->node, &len);
    if (c->body == NULL) {
        conn_reply_error(c, 500, "Internal Server Error", "");
        return;
    }
    conn_reply(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", len, head_only);
}

/* A file of the page: its bytes are static, so the reply points at them (no copy). */
static void conn_reply_asset(struct node_http_conn *c, const struct web_asset *asset,
                             bool head_only)
{
    assert(!c->answered);
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     asset->content_type, asset->len);
    assert(n > 0 && (size_t)n < sizeof(c->head));
    uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                        uv_buf_init((char *)asset->data, (unsigned)asset->len)};
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, head_only ? 1 : 2,
                 conn_on_write) != 0)
        node_http_conn_close(c);
}

static const struct web_asset *asset_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (unsigned i = 0; i < WEB_ASSET_COUNT; i++)
        if (strcmp(WEB_ASSETS[i].path, path) == 0)
            return &WEB_ASSETS[i];
    return NULL;
}

/* GET /events: the connection becomes a subscriber. Its input is read and dropped from now
 * on (only to see it close), and the request timeout no longer applies. */
static void conn_start_events(struct node_http_conn *c)
{
    struct node_http *http = c->http;
    if (http->events_count >= NODE_HTTP_EVENTS_CLIENTS_MAX) {
        conn_reply_error(c, 503, "Service Unavailable", "Retry-After: 5\r\n");
        return;
    }
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_drain_read) != 0) {
        node_http_conn_close(c);
        return;
    }
    c->events = true;
    if (http->events_count++ == 0)
        uv_timer_start(&http->events_timer, node_http_events_on_timer,
                       NODE_HTTP_EVENTS_INTERVAL_MS, NODE_HTTP_EVENTS_INTERVAL_MS);
    node_http_events_attach(c);
}

static bool is_token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* One header line "Name: value": a token, a colon, then visible characters, spaces or tabs. */
static bool header_line_valid(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && is_token_char(line[i]))
        i++;
    if (i == 0 || i == len || line[i] != ':')
        return false;
    for (i++; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

/* The request line "METHOD SP TARGET SP HTTP/1.x": the method and the path (the target up
 * to a '?') are copied out; false when it is malformed. */
static bool request_line_parse(const char *line, size_t len, char *method, size_t method_cap,
                               char *path, size_t path_cap, char *query_out, size_t query_cap)
{
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line || (size_t)(sp1 - line) >= method_cap)
        return false;
    for (const char *p = line; p < sp1; p++)
        if (!is_token_char(*p))
            return false;
    const char *target = sp1 + 1, *end = line + len;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (sp2 == NULL || sp2 == target || *target != '/')
        return false;
    size_t version_len = (size_t)(end - sp2 - 1);
    if (version_len != 8 || (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 && memcmp(sp2 + 1, "HTTP/1.1", 8) != 0))
        return false;
    for (const char *p = target; p < sp2; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    const char *query = memchr(target, '?', (size_t)(sp2 - target));
    size_t path_len = (size_t)((query != NULL ? query : sp2) - target);
    if (path_len >= path_cap)
        path_len = path_cap - 1; /* longer than any path served: still not found */
    memcpy(method, line, (size_t)(sp1 - line));
    method[sp1 - line] = '\0';
    memcpy(path, target, path_len);
    path[path_len] = '\0';
    /* The query (after the '?'), cut to what the caller keeps: no control takes a long one. */
    size_t query_len = query != NULL ? (size_t)(sp2 - query - 1) : 0;
    if (query_len >= query_cap)
        query_len = query_cap - 1;
    if (query != NULL)
        memcpy(query_out, query + 1, query_len);
    query_out[query_len] = '\0';
    return true;
}

/* Checks every header line of the request head (which ends in the blank line at head_len). */
static bool headers_valid(const char *head, size_t head_len)
{
    const char *p = memchr(head, '\n', head_len);
    assert(p != NULL);
    p++;
    const char *end = head + head_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        assert(eol != NULL);
        size_t len = (size_t)(eol - p);
        if (len == 0 || p[len - 1] != '\r')
            return false;
        if (len > 1 && !header_line_valid(p, len - 1))
            return false;
        p = eol + 1;
    }
    return true;
}

/* The value of header `name` (case-insensitive) in the request head, copied without its
 * surrounding blanks: 1, or 0 when absent, -1 when longer than the caller's buffer. */
static int header_value(const char *head, size_t head_len, const char *name, char *out,
                         size_t out_cap)
{
    size_t name_len = strlen(name);
    const char *p = memchr(head, '\n', head_len);
    const char *end = head + head_len;
    for (p = p != NULL ? p + 1 : end; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        assert(eol != NULL);
        size_t len = (size_t)(eol - p);
        if (len > name_len + 1 && strncasecmp(p, name, name_len) == 0 && p[name_len] == ':') {
            const char *v = p + name_len + 1, *v_end = eol;
            while (v < v_end && (*v == ' ' || *v == '\t'))
                v++;
            while (v_end > v && (v_end[-1] == '\r' || v_end[-1] == ' ' || v_end[-1] == '\t'))
                v_end--;
            if ((size_t)(v_end - v) >= out_cap)
                return -1;
            memcpy(out, v, (size_t)(v_end - v));
            out[v_end - v] = '\0';
            return 1;
        }
        p = eol + 1;
    }
    return 0;
}

/* An Origin naming this machine: http://127.0.0.1, http://localhost or http://[::1], with or
 * without a port. */
static bool origin_is_loopback(const char *origin)
{
    static const char *const hosts[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(origin, hosts[i], n) != 0)
            continue;
        const char *rest = origin + n;
        if (*rest == '\0')
            return true;
        if (*rest != ':' || rest[1] == '\0')
            return false;
        for (rest++; *rest != '\0'; rest++)
            if (*rest < '0' || *rest > '9')
                return false;
        return true;
    }
    return false;
}

static bool address_is_loopback(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(in6->sin6_addr.s6_addr, v4_mapped, 12) == 0)
            return in6->sin6_addr.s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static bool conn_peer_is_loopback(struct node_http_conn *c)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    return uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) == 0 &&
           address_is_loopback(&addr);
}

/* /dev/ACTION: the live view's development controls (dev.c). Served only with --http-dev, to
 * a loopback peer; a browser's request must carry X-Chorus-Dev, a header it sends across
 * origins only after a preflight (OPTIONS) that this node answers for loopback origins
 * alone, so that no web page from elsewhere can pause a node through a local browser. */
static void conn_handle_dev(struct node_http_conn *c, size_t head_len, const char *method,
                            const char *action, const char *query)
{
    struct node *node = c->http->node;
    if (!node->config.http_dev) {
        conn_reply_error(c, 404, "Not Found", "");
        return;
    }
    char origin[NODE_HTTP_ORIGIN_BYTES_MAX], marker[8];
    int origin_found = header_value(c->in, head_len, "Origin", origin, sizeof(origin));
    bool has_origin = origin_found == 1;
    if (!conn_peer_is_loopback(c) || origin_found < 0 ||
        (has_origin && !origin_is_loopback(origin))) {
        conn_reply_error(c, 403, "Forbidden", "");
        return;
    }
    char cors[NODE_HTTP_ORIGIN_BYTES_MAX + 288] = ""; /* the CORS lines, origin included */
    if (has_origin)
        snprintf(cors, sizeof(cors), "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n",
                 origin);
    if (strcmp(method, "OPTIONS") == 0) {
        size_t n = strlen(cors);
        snprintf(cors + n, sizeof(cors) - n,
                 "Access-Control-Allow-Methods: POST\r\n"
                 "Access-Control-Allow-Headers: X-Chorus-Dev\r\nAccess-Control-Max-Age: 600\r\n");
        conn_reply(c, 204, "No Content", "text/plain; charset=utf-8", cors, 0, false);
        return;
    }
    if (strcmp(method, "POST") != 0) {
        conn_reply_error(c, 405, "Method Not Allowed", "Allow: POST, OPTIONS\r\n");
        return;
    }
    if (header_value(c->in, head_len, "X-Chorus-Dev", marker, sizeof(marker)) != 1) {
        conn_reply_error(c, 403, "Forbidden", cors);
        return;
    }
    char text[160];
    int status = node_dev_act(node, action, query, text, sizeof(text));
    static const char *const reasons[] = {"OK", "Bad Request", "Not Found"};
    const char *reason = status == 200 ? reasons[0] : status == 400 ? reasons[1] : reasons[2];
    size_t len = strlen(text);
    c->body = malloc(len + 1);
    assert(c->body != NULL);
    memcpy(c->body, text, len);
    c->body[len] = '\n';
    conn_reply(c, status, reason, "text/plain; charset=utf-8", cors, len + 1, false);
}

/* A complete request head of head_len bytes (the blank line included) is in c->in. */
static void conn_handle_request(struct node_http_conn *c, size_t head_len)
{
    const char *line_end = memchr(c->in, '\n', head_len);
    assert(line_end != NULL);
    size_t line_len = (size_t)(line_end - c->in);
    char method[NODE_HTTP_METHOD_BYTES_MAX], path[64], query[NODE_HTTP_QUERY_BYTES_MAX];
    if (line_len == 0 || c->in[line_len - 1] != '\r' ||
        !request_line_parse(c->in, line_len - 1, method, sizeof(method), path, sizeof(path),
                            query, sizeof(query)) ||
        !headers_valid(c->in, head_len)) {
        conn_reply_error(c, 400, "Bad Request", "");
        return;
    }
    if (strncmp(path, "/dev/", 5) == 0) {
        conn_handle_dev(c, head_len, method, path + 5, query);
        return;
    }
    bool head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0) {
        conn_reply_error(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        conn_reply_metrics(c, head_only);
        return;
    }
    if (strcmp(path, "/events") == 0 && !head_only) {
        conn_start_events(c);
        return;
    }
    const struct web_asset *asset = asset_find(path);
    if (asset != NULL) {
        conn_reply_asset(c, asset, head_only);
        return;
    }
    conn_reply_error(c, 404, "Not Found", "");
}

/* The end of the request head ("\r\n\r\n"), searched from where the last read could have
 * completed it; 0 while it is not complete. */
static size_t head_end(const struct node_http_conn *c, size_t old_len)
{
    size_t from = old_len >= 3 ? old_len - 3 : 0;
    for (size_t i = from; i + 4 <= c->in_len; i++)
        if (memcmp(c->in + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct node_http_conn *c = stream->data;
    (void)buf;
    if (nread < 0) {
        node_http_conn_close(c);
        return;
    }
    size_t old_len = c->in_len;
    c->in_len += (size_t)nread;
    assert(c->in_len <= sizeof(c->in));
    if (memchr(c->in + old_len, '\0', (size_t)nread) != NULL) {
        conn_reply_error(c, 400, "Bad Request", "");
        return;
    }
    size_t end = head_end(c, old_len);
    if (end > 0)
        conn_handle_request(c, end);
    else if (c->in_len == sizeof(c->in))
        conn_reply_error(c, 431, "Request Header Fields Too Large", "");
}

static void http_on_connection(uv_stream_t *server, int status)
{
    struct node_http *http = server->data;
    if (status < 0)
        return;
    struct node_http_conn *c = calloc(1, sizeof(*c));
    assert(c != NULL);
    c->http = http;
    c->next = http->conns;
    if (http->conns != NULL)
        http->conns->prev = c;
    http->conns = c;
    http->conn_count++;
    c->handles_open = 2;
    uv_tcp_init(http->node->loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(http->node->loop, &c->timer);
    c->timer.data = c;
    /* Over the bound, the connection is accepted only to be closed: left in the backlog, it
     * would stop libuv from accepting the ones after it. */
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        http->conn_count > NODE_HTTP_CONNECTIONS_MAX ||
        uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0) {
        node_http_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, conn_on_timeout, NODE_HTTP_TIMEOUT_MS, 0);
}

int node_http_start(struct node *node, char *error, size_t error_len)
{
    if (node->config.http_addr[0] == '\0')
        return 0;
    struct sockaddr_storage addr;
    if (transport_address_parse(node->config.http_addr, false, &addr, error, error_len) != 0)
        return -1;
    if (node->config.http_dev && !address_is_loopback(&addr)) {
        snprintf(error, error_len, "--http-dev needs --http on a loopback address, not %s",
                 node->config.http_addr);
        return -1;
    }
    struct node_http *http = calloc(1, sizeof(*http));
    assert(http != NULL);
    http->node = node;
    uv_tcp_init(node->loop, &http->listener);
    http->listener.data = http;
    uv_timer_init(node->loop, &http->events_timer);
    http->events_timer.data = http;
    http->handles_open = 2;
    node->http = http;
    int rv = uv_tcp_bind(&http->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&http->listener, NODE_HTTP_LISTEN_BACKLOG,
                       http_on_connection);
    if (rv != 0) {
        snprintf(error, error_len, "--http %s: %s", node->config.http_addr, uv_strerror(rv));
        return -1;
    }
    return 0;
}

static void http_on_handle_closed(uv_handle_t *handle)
{
    struct node_http *http = handle->data;
    assert(http->handles_open > 0);
    http->handles_open--;
    http_maybe_free(http);
}

/* Stops listening and closes every connection; their memory is freed by the loop as the
 * handles close, before uv_run returns. */
void node_http_stop(struct node *node)
{
    struct node_http *http = node->http;
    if (http == NULL)
        return;
    node->http = NULL;
    for (struct node_http_conn *c = http->conns; c != NULL; c = c->next)
        node_http_conn_close(c);
    if (!uv_is_closing((uv_handle_t *)&http->listener))
        uv_close((uv_handle_t *)&http->listener, http_on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&http->events_timer))
        uv_close((uv_handle_t *)&http->events_timer, http_on_handle_closed);
}
