/*
 * server.c — client connections: accept, read, parse RESP, execute, write replies in order.
 *
 * Each client's replies leave in the order of its commands (pipelining): a command that
 * waits on consensus holds a place in the client's FIFO of requests, and replies behind it
 * are released when it completes (requests.c keeps the effects in order too). Bounds, each
 * met by back-pressure rather than by closing: commands parsed per iteration, waiting
 * commands per client, pending reply bytes (reading and parsing stop until replies drain).
 * Only a command larger than NODE_CLIENT_IN_BYTES_MAX closes the connection, after an error.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"

static void client_close(struct node_client *client);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Unlinks and frees a closed client. */
static void client_free(struct node_client *client)
{
    struct node *node = client->node;
    /* Requests still waiting answer nobody; a write among them may still commit. */
    for (struct node_request *r = client->head; r != NULL;) {
        struct node_request *next = r->next_in_client;
        if (r->done) {
            if (r->has_reply_out)
                resp_out_free(&r->reply_out);
            free(r->payload);
            free(r);
        } else {
            r->client = NULL;
            r->next_in_client = NULL;
            if (r->wait == NODE_WAIT_BLOCKED)
                node_blocking_sweep(node, r, 0); /* a waiting pop waits for nobody now */
        }
        r = next;
    }
    if (client->prev != NULL)
        client->prev->next = client->next;
    else
        node->clients = client->next;
    if (client->next != NULL)
        client->next->prev = client->prev;
    if (client->denied)
        node->denied_count--;
    if (client->stand_in)
        node->stand_in_count--;
    else
        node->client_count--;
    node_proxy_client_gone(node, client);
    node_tx_client_free(client);
    node_tls_conn_free(client->tls);
    resp_parser_free(&client->parser);
    resp_out_free(&client->out);
    free(client->send_data);
    free(client->in);
    free(client);
}

static void on_client_closed(uv_handle_t *handle)
{
    client_free(handle->data);
}

/* A stand-in (proxy.c) has no socket: it is freed by node_proxy_sweep, outside the loops
 * over clients that may close one. */
static void client_close(struct node_client *client)
{
    if (client->closing)
        return;
    client->closing = true;
    if (!client->stand_in)
        uv_close((uv_handle_t *)&client->tcp, on_client_closed);
}

void node_client_close(struct node_client *client)
{
    client_close(client);
}

/* Frees a stand-in that was closed (proxy.c's sweep). */
void node_client_free_closed(struct node_client *client)
{
    assert(client->stand_in && client->closing);
    client_free(client);
}

/* Whether the client's socket should be read now: not while complete commands wait unparsed,
 * while the client has the most commands waiting, or while its replies pile up unsent
 * (back-pressure: the client's own writes then block, as they would against a busy Redis). */
static bool client_wants_input(const struct node_client *client)
{
    return !client->closing && !client->close_after_write && !client->quit_seen &&
           !client->input_pending && client->waiting < NODE_CLIENT_WAITING_MAX &&
           client->out.len + client->send_len < NODE_CLIENT_OUT_SOFT_BYTES;
}

/* Whether more of the client's commands may be parsed and run now. */
static bool client_may_parse(const struct node_client *client)
{
    return !client->closing && !client->close_after_write && !client->quit_seen &&
           !client->blocking &&
           client->waiting < NODE_CLIENT_WAITING_MAX &&
           client->out.len < NODE_CLIENT_OUT_SOFT_BYTES && !node_auth_holds(client);
}

/* Starts or stops reading the socket to match client_wants_input, and has pending input
 * parsed in the next iteration once that may go on. A stopped socket does not report the
 * peer's close: the next write to it fails (EPIPE; SIGPIPE is ignored) and closes it. */
static void client_update_reading(struct node_client *client)
{
    if (client->closing)
        return;
    if (client->stand_in) {
        if (client->input_pending && client_may_parse(client))
            node_drive_schedule(client->node);
        return;
    }
    bool want = client_wants_input(client);
    if (want && !client->reading) {
        if (uv_read_start((uv_stream_t *)&client->tcp, on_alloc, on_read) != 0) {
            client_close(client);
            return;
        }
        client->reading = true;
    } else if (!want && client->reading) {
        uv_read_stop((uv_stream_t *)&client->tcp);
        client->reading = false;
    }
    if (client->input_pending && client_may_parse(client))
        node_drive_schedule(client->node);
}

void node_client_resume(struct node_client *client)
{
    client_update_reading(client);
}

static void on_write(uv_write_t *req, int status)
{
    struct node_client *client = req->data;
    client->writing = false;
    client->send_len = 0;
    /* A buffer that grew for one large reply is not kept by an idle connection. */
    if (client->send_capacity > (1u << 20)) {
        free(client->send_data);
        client->send_data = NULL;
        client->send_capacity = 0;
    }
    if (status < 0) {
        client_close(client);
        return;
    }
    node_client_flush(client);
    /* Room in the output may let held reads be served and held input be parsed. */
    node_drive_schedule(client->node);
}

/* Starts the client's one write in flight of `len` bytes at `data` (which stay put until
 * on_write), or closes the client when libuv refuses it. */
static void client_write(struct node_client *client, const uint8_t *data, size_t len)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    client->writing = true;
    client->send_len = len;
    client->write_req.data = client;
    if (uv_write(&client->write_req, (uv_stream_t *)&client->tcp, &buf, 1, on_write) != 0) {
        client->writing = false;
        client_close(client);
        return;
    }
    client_update_reading(client);
}

/* node_client_flush for a TLS connection: its output is encrypted (once the handshake is
 * done) into a buffer of its own (tls.c), which one write sends with any handshake records.
 * The plaintext output is emptied by the encryption, so the bounds on it work as on a plain
 * connection, and send_len counts the ciphertext in flight. */
static void client_flush_tls(struct node_client *client)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    if (node_tls_seal(client, &data, &len) != 0) {
        client_close(client);
        return;
    }
    if (len == 0) {
        if (client->close_after_write && client->out.len == 0)
            client_close(client);
        else
            client_update_reading(client);
        return;
    }
    client_write(client, data, len);
}

/*
 * Writes what is pending; one write in flight per client. The pending bytes move to the
 * send buffer (a swap, no copy) so that replies added while the write is in flight never
 * move the memory libuv is writing from.
 */
void node_client_flush(struct node_client *client)
{
    if (client->closing || client->writing)
        return;
    if (client->out.overflowed) {
        client_close(client);
        return;
    }
    if (client->stand_in && client->out.len > 0)
        node_proxy_stand_in_flush(client);
    if (client->tls != NULL) {
        client_flush_tls(client);
        return;
    }
    if (client->out.len == 0) {
        if (client->close_after_write)
            client_close(client);
        else
            client_update_reading(client);
        return;
    }
    uint8_t *data = client->send_data;
    size_t capacity = client->send_capacity;
    client->send_data = client->out.data;
    client->send_capacity = client->out.capacity;
    size_t len = client->out.len;
    client->out.data = data;
    client->out.capacity = capacity;
    client->out.len = 0;
    client_write(client, client->send_data, len);
}

/* Appends a finished request's reply to the client's output: a swap when the output is
 * empty (large replies are not copied again), else a copy. */
static void client_take_reply(struct node_client *client, struct resp_out *reply)
{
    if (reply->overflowed) {
        /* Built whole or not at all: the reply became too large, and the client gets an error
         * in its place, in its place in the order. */
        static const char error[] = "-ERR reply too large (over 512 MiB), not sent";
        resp_reply_error(&client->out, error, sizeof(error) - 1);
        return;
    }
    if (reply->len == 0)
        return;
    if (client->out.len == 0 && reply->len <= client->out.bytes_max) {
        uint8_t *data = client->out.data;
        size_t capacity = client->out.capacity;
        client->out.data = reply->data;
        client->out.capacity = reply->capacity;
        client->out.len = reply->len;
        reply->data = data;
        reply->capacity = capacity;
        reply->len = 0;
        return;
    }
    if (reply->len > client->out.bytes_max - client->out.len) {
        client->out.overflowed = true;
        return;
    }
    if (client->out.capacity < client->out.len + reply->len) {
        size_t capacity = client->out.capacity ? client->out.capacity : 4096;
        while (capacity < client->out.len + reply->len)
            capacity *= 2;
        client->out.data = realloc(client->out.data, capacity);
        assert(client->out.data != NULL);
        client->out.capacity = capacity;
    }
    memcpy(client->out.data + client->out.len, reply->data, reply->len);
    client->out.len += reply->len;
}

/* Moves the replies of completed requests at the head of the client's FIFO to its output. */
void node_client_request_done(struct node_request *request)
{
    struct node_client *client = request->client;
    if (client == NULL) {
        if (request->has_reply_out)
            resp_out_free(&request->reply_out);
        free(request->payload);
        free(request);
        return;
    }
    while (client->head != NULL && client->head->done) {
        struct node_request *r = client->head;
        client->head = r->next_in_client;
        if (client->head == NULL)
            client->tail = NULL;
        client->waiting--;
        if (r->has_reply_out) {
            client_take_reply(client, &r->reply_out);
            resp_out_free(&r->reply_out);
        }
        if (r->quit)
            client->close_after_write = true;
        free(r->payload);
        free(r);
    }
    node_client_flush(client);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct node_client *client = handle->data;
    (void)suggested;
    if (client->tls != NULL) {
        size_t len = 0;
        uint8_t *ciphertext = node_tls_read_buffer(client->tls, &len);
        *buf = uv_buf_init((char *)ciphertext, (unsigned)len);
        return;
    }
    if (client->in_capacity - client->in_len < NODE_READ_BYTES) {
        size_t capacity = client->in_len + NODE_READ_BYTES;
        client->in = realloc(client->in, capacity);
        assert(client->in != NULL);
        client->in_capacity = capacity;
    }
    *buf = uv_buf_init((char *)client->in + client->in_len, NODE_READ_BYTES);
}

/* A protocol error: Redis's reply, in order behind what waits, then the connection closes. */
static void client_protocol_error(struct node_client *client, const char *message)
{
    char text[RESP_ERROR_BYTES_MAX + 64];
    size_t len = (size_t)snprintf(text, sizeof(text), "ERR %s", message);
    if (client->head == NULL) {
        resp_reply_error(&client->out, text, len);
    } else {
        struct node_request *r = node_request_new(client, NULL);
        resp_out_init(&r->reply_out, 4096, client->out.protocol);
        r->has_reply_out = true;
        resp_reply_error(&r->reply_out, text, len);
        r->quit = true;
        node_request_complete(client->node, r);
    }
    client->quit_seen = true;
    if (client->head == NULL)
        client->close_after_write = true;
    client->in_len = 0;
    client->input_pending = false;
}

/* Parses and runs the complete commands in the input, at most NODE_CLIENT_PIPELINE_MAX per
 * call and none while the client is held back (client_may_parse); what is left is parsed in
 * a later loop iteration (node_clients_process_pending). */
static void client_process_input(struct node_client *client)
{
    size_t offset = 0;
    uint32_t n = 0;
    bool need_more = false;
    for (; n < NODE_CLIENT_PIPELINE_MAX && client_may_parse(client); n++) {
        struct resp_command command;
        int rc = resp_parse(&client->parser, client->in + offset, client->in_len - offset,
                            &command);
        if (rc == RESP_PARSE_NEED_MORE) {
            need_more = true;
            break;
        }
        if (rc == RESP_PARSE_ERROR) {
            client_protocol_error(client, client->parser.error);
            return;
        }
        if (command.argc > 0)
            node_command_execute(client, &command);
        offset += command.consumed;
    }
    if (offset > 0) {
        memmove(client->in, client->in + offset, client->in_len - offset);
        client->in_len -= offset;
    }
    client->input_pending = !need_more && client->in_len > 0 && !client->quit_seen;
    if (need_more && client->in_len > NODE_CLIENT_IN_BYTES_MAX)
        client_protocol_error(client, "Protocol error: command larger than 4 MiB (chorus's "
                                      "limit: keys 4 KiB, values 1 MiB)");
}

/* Runs the input that clients received but could not parse yet (a bound, or back-pressure),
 * once per loop iteration before the update is taken. */
void node_clients_process_pending(struct node *node)
{
    for (struct node_client *c = node->clients; c != NULL; c = c->next) {
        if (!c->input_pending || !client_may_parse(c))
            continue;
        client_process_input(c);
        node_client_flush(c);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct node_client *client = stream->data;
    (void)buf;
    if (nread < 0) {
        client_close(client);
        return;
    }
    if (client->tls != NULL) {
        const char *reason = NULL;
        if (nread > 0 && node_tls_receive(client, (size_t)nread, &reason) != 0) {
            /* The alert OpenSSL queued (a bad certificate, say) leaves, then the close. */
            node_log(client->node, NODE_LOG_DEBUG, "TLS client %llu: %s",
                     (unsigned long long)client->id, reason);
            client->quit_seen = true;
            client->close_after_write = true;
            client->in_len = 0;
            node_client_flush(client);
            return;
        }
    } else {
        client->in_len += (size_t)nread;
    }
    if (client->denied) {
        client->in_len = 0; /* commands_auth.c: nothing of a refused connection is parsed */
        node_client_flush(client);
        return;
    }
    client_process_input(client);
    node_client_flush(client);
}

/* A new client in the node's list (a connection's, or a stand-in's: proxy.c). */
struct node_client *node_client_new(struct node *node)
{
    struct node_client *client = calloc(1, sizeof(*client));
    assert(client != NULL);
    client->node = node;
    client->id = ++node->next_client_id;
    client->authenticated = true; /* a connection's is set at accept (node_auth_accept) */
    memcpy(client->user, "default", 7);
    client->user_len = 7;
    resp_parser_init(&client->parser, NULL);
    resp_out_init(&client->out, NODE_CLIENT_OUT_BYTES_MAX, 2);
    client->next = node->clients;
    if (node->clients != NULL)
        node->clients->prev = client;
    node->clients = client;
    return client;
}

/* Runs what a stand-in received (proxy.c put it into client->in). */
void node_client_input(struct node_client *client)
{
    client_process_input(client);
    node_client_flush(client);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node *node = server->data;
    if (status < 0)
        return;
    struct node_client *client = node_client_new(node);
    node->client_count++;
    node->stats.clients_total++;
    uv_tcp_init(node->loop, &client->tcp);
    client->tcp.data = client;
    if (uv_accept(server, (uv_stream_t *)&client->tcp) != 0) {
        client_close(client);
        return;
    }
    if (server == (uv_stream_t *)&node->tls_listener) {
        client->tls = node_tls_conn_new(node->tls_context);
        /* Over the limit a TLS client could only read the error after a handshake: it is
         * closed instead. */
        if (client->tls == NULL || node->client_count > node->config.clients_max) {
            client_close(client);
            return;
        }
    }
    if (node->client_count > node->config.clients_max) {
        resp_reply_error(&client->out, "ERR max number of clients reached", 33);
        client->close_after_write = true;
        node_client_flush(client);
        return;
    }
    if (!node_auth_accept(client))
        return;
    uv_tcp_nodelay(&client->tcp, 1);
    client_update_reading(client);
}

static struct net_tls_context *tls_context_load(const struct node *node, char *error,
                                                 size_t error_len)
{
    const struct node_config *c = &node->config;
    struct node_tls_files files = {.cert = c->tls_cert, .key = c->tls_key,
                                   .ca = c->tls_ca[0] != '\0' ? c->tls_ca : NULL,
                                   .auth_clients = c->tls_auth_clients};
    return node_tls_context_new(&files, error, error_len);
}

/* SIGHUP: the certificate, key and CA files are read again. New connections get the new
 * ones, connections already open keep theirs; if anything fails to load, nothing changes. */
static void on_tls_sighup(uv_signal_t *handle, int signum)
{
    (void)signum;
    struct node *node = handle->data;
    if (node->stopping)
        return;
    char error[256];
    if (node->tls_context != NULL) {
        struct net_tls_context *fresh = tls_context_load(node, error, sizeof(error));
        if (fresh == NULL) {
            node_log(node, NODE_LOG_ERROR, "SIGHUP: the TLS files were not reloaded, the old "
                     "ones stay in use: %s", error);
            return;
        }
        net_tls_context_free(node->tls_context);
        node->tls_context = fresh;
    }
    /* The files are the same: if the client side loaded them, so does this. */
    if (node->peer_tls_context != NULL && node->transport != NULL &&
        node_peers_tls_reload(node, error, sizeof(error)) != 0) {
        node_log(node, NODE_LOG_ERROR, "SIGHUP: the peers' TLS files were not reloaded, the "
                 "old ones stay in use: %s", error);
        return;
    }
    node_log(node, NODE_LOG_INFO, "SIGHUP: TLS certificate, key and CA reloaded%s",
             node->peer_tls_context != NULL ? " (new peer connections use them)" : "");
}

/* SIGHUP reloads the TLS files, for clients (--tls-port) and peers (--tls-replication). */
static void tls_sighup_start(struct node *node)
{
    if (node->tls_sighup_started)
        return;
    uv_signal_init(node->loop, &node->tls_sighup);
    node->tls_sighup.data = node;
    uv_signal_start(&node->tls_sighup, on_tls_sighup, SIGHUP);
    node->tls_sighup_started = true;
}

/* --tls-port: a second listener whose connections speak TLS (tls.c). */
static int tls_server_start(struct node *node, char *error, size_t error_len)
{
    const struct node_config *c = &node->config;
    node->tls_context = tls_context_load(node, error, error_len);
    if (node->tls_context == NULL)
        return -1;
    struct sockaddr_storage addr;
    if (transport_address_parse(c->tls_listen_addr, false, &addr, error, error_len) != 0)
        return -1;
    uv_tcp_init(node->loop, &node->tls_listener);
    node->tls_listener.data = node;
    int rv = uv_tcp_bind(&node->tls_listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&node->tls_listener, 511, on_connection);
    if (rv != 0) {
        snprintf(error, error_len, "listening on %s (TLS): %s", c->tls_listen_addr,
                 uv_strerror(rv));
        return -1;
    }
    return 0;
}

int node_server_start(struct node *node, char *error, size_t error_len)
{
    if (node->config.tls_listen_addr[0] != '\0' && tls_server_start(node, error, error_len) != 0)
        return -1;
    if (node->tls_context != NULL || node->peer_tls_context != NULL)
        tls_sighup_start(node);
    struct sockaddr_storage addr;
    if (transport_address_parse(node->config.listen_addr, false, &addr, error, error_len) != 0)
        return -1;
    auth_limiter_init(&node->auth_limiter, uv_now(node->loop));
    uv_tcp_init(node->loop, &node->listener);
    node->listener.data = node;
    int rv = uv_tcp_bind(&node->listener, (const struct sockaddr *)&addr, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&node->listener, 511, on_connection);
    if (rv != 0) {
        snprintf(error, error_len, "listening on %s: %s", node->config.listen_addr,
                 uv_strerror(rv));
        return -1;
    }
    return 0;
}

void node_server_stop(struct node *node)
{
    if (!uv_is_closing((uv_handle_t *)&node->listener))
        uv_close((uv_handle_t *)&node->listener, NULL);
    if (node->tls_context != NULL && !uv_is_closing((uv_handle_t *)&node->tls_listener))
        uv_close((uv_handle_t *)&node->tls_listener, NULL);
    if (node->tls_sighup_started && !uv_is_closing((uv_handle_t *)&node->tls_sighup))
        uv_close((uv_handle_t *)&node->tls_sighup, NULL);
    /* Open TLS connections keep their own reference to OpenSSL's context. */
    net_tls_context_free(node->tls_context);
    node->tls_context = NULL;
    for (struct node_client *c = node->clients; c != NULL; c = c->next)
        client_close(c); /* a stand-in is only marked: the list stays intact */
}
