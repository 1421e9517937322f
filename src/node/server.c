/*
 * server.c — client connections: accept, read, parse RESP, execute, write replies in order.
 *
 * Each client's replies leave in the order of its commands (pipelining): a command that
 * waits on consensus holds a place in the client's FIFO of requests, and replies behind it
 * are released when it completes. Bounds: unparsed input per client, commands parsed per
 * read, waiting commands per client (reading pauses at the bound), reply bytes (an overflow
 * closes the connection, as Redis does past its output buffer limits).
 */
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "node/node_internal.h"

static void client_close(struct node_client *client);

static void on_client_closed(uv_handle_t *handle)
{
    struct node_client *client = handle->data;
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
        }
        r = next;
    }
    if (client->prev != NULL)
        client->prev->next = client->next;
    else
        node->clients = client->next;
    if (client->next != NULL)
        client->next->prev = client->prev;
    node->client_count--;
    resp_parser_free(&client->parser);
    resp_out_free(&client->out);
    free(client->in);
    free(client);
}

static void client_close(struct node_client *client)
{
    if (client->closing)
        return;
    client->closing = true;
    uv_close((uv_handle_t *)&client->tcp, on_client_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct node_client *client = req->data;
    client->writing = false;
    if (status < 0) {
        client_close(client);
        return;
    }
    resp_out_consume(&client->out, client->write_len);
    node_client_flush(client);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Writes what is pending; one write in flight per client. */
void node_client_flush(struct node_client *client)
{
    if (client->closing || client->writing)
        return;
    if (client->out.overflowed) {
        client_close(client);
        return;
    }
    if (client->out.len == 0) {
        if (client->close_after_write)
            client_close(client);
        else if (client->reading_paused && client->waiting < NODE_CLIENT_WAITING_MAX / 2) {
            client->reading_paused = false;
            uv_read_start((uv_stream_t *)&client->tcp, on_alloc, on_read);
            /* Commands already received wait in the input: no read event will bring them. */
            client->input_pending = client->in_len > 0;
            if (client->input_pending)
                node_drive_schedule(client->node);
        }
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)client->out.data, (unsigned)client->out.len);
    client->write_len = client->out.len;
    client->writing = true;
    client->write_req.data = client;
    if (uv_write(&client->write_req, (uv_stream_t *)&client->tcp, &buf, 1, on_write) != 0) {
        client->writing = false;
        client_close(client);
    }
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
            if (r->reply_out.overflowed) {
                client->out.overflowed = true;
            } else if (r->reply_out.len > 0) {
                size_t room = client->out.bytes_max - client->out.len;
                if (r->reply_out.len > room) {
                    client->out.overflowed = true;
                } else {
                    /* resp_out has no raw append: a bulk-free copy keeps its bookkeeping. */
                    if (client->out.capacity < client->out.len + r->reply_out.len) {
                        size_t capacity = client->out.capacity ? client->out.capacity : 4096;
                        while (capacity < client->out.len + r->reply_out.len)
                            capacity *= 2;
                        client->out.data = realloc(client->out.data, capacity);
                        assert(client->out.data != NULL);
                        client->out.capacity = capacity;
                    }
                    memcpy(client->out.data + client->out.len, r->reply_out.data,
                           r->reply_out.len);
                    client->out.len += r->reply_out.len;
                }
            }
            resp_out_free(&r->reply_out);
        }
        free(r->payload);
        free(r);
    }
    node_client_flush(client);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct node_client *client = handle->data;
    (void)suggested;
    if (client->in_capacity - client->in_len < NODE_READ_BYTES) {
        size_t capacity = client->in_len + NODE_READ_BYTES;
        client->in = realloc(client->in, capacity);
        assert(client->in != NULL);
        client->in_capacity = capacity;
    }
    *buf = uv_buf_init((char *)client->in + client->in_len, NODE_READ_BYTES);
}

/* Parses and runs the complete commands in the input, at most NODE_CLIENT_PIPELINE_MAX per
 * read; a protocol error gets Redis' reply and closes the connection after it. */
static void client_process_input(struct node_client *client)
{
    size_t offset = 0;
    uint32_t n = 0;
    client->input_pending = false;
    for (; n < NODE_CLIENT_PIPELINE_MAX && !client->close_after_write; n++) {
        if (client->waiting >= NODE_CLIENT_WAITING_MAX)
            break;
        struct resp_command command;
        int rc = resp_parse(&client->parser, client->in + offset, client->in_len - offset,
                            &command);
        if (rc == RESP_PARSE_NEED_MORE)
            break;
        if (rc == RESP_PARSE_ERROR) {
            char text[RESP_ERROR_BYTES_MAX + 8];
            size_t len = (size_t)snprintf(text, sizeof(text), "ERR %s", client->parser.error);
            if (client->head == NULL) {
                resp_reply_error(&client->out, text, len);
            } else {
                struct node_request *r = node_request_new(client);
                resp_out_init(&r->reply_out, 4096, client->out.protocol);
                r->has_reply_out = true;
                resp_reply_error(&r->reply_out, text, len);
                node_request_complete(client->node, r);
            }
            client->close_after_write = true;
            client->in_len = 0;
            offset = 0;
            break;
        }
        if (command.argc > 0)
            node_command_execute(client, &command);
        offset += command.consumed;
    }
    if (offset > 0) {
        memmove(client->in, client->in + offset, client->in_len - offset);
        client->in_len -= offset;
    }
    /* The per-read bound was reached with input left: go on in the next loop iteration
     * (node_clients_process_pending), so one client cannot hold the loop. */
    if (n == NODE_CLIENT_PIPELINE_MAX && client->in_len > 0) {
        client->input_pending = true;
        node_drive_schedule(client->node);
    }
}

/* Runs the input that clients received but that a bound left unparsed (see above and
 * node_client_flush). Once per loop iteration, before the update is taken. */
void node_clients_process_pending(struct node *node)
{
    for (struct node_client *c = node->clients; c != NULL; c = c->next) {
        if (!c->input_pending || c->closing || c->waiting >= NODE_CLIENT_WAITING_MAX)
            continue;
        client_process_input(c);
        if (!c->closing && c->waiting >= NODE_CLIENT_WAITING_MAX && !c->reading_paused) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading_paused = true;
        }
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
    client->in_len += (size_t)nread;
    client_process_input(client);
    if (client->in_len > NODE_CLIENT_IN_BYTES_MAX) {
        client->close_after_write = true; /* the parser bounds should have caught it */
    }
    if (!client->closing && (client->waiting >= NODE_CLIENT_WAITING_MAX || client->close_after_write)) {
        uv_read_stop(stream);
        client->reading_paused = !client->close_after_write;
    }
    node_client_flush(client);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct node *node = server->data;
    if (status < 0)
        return;
    struct node_client *client = calloc(1, sizeof(*client));
    assert(client != NULL);
    client->node = node;
    client->id = ++node->next_client_id;
    resp_parser_init(&client->parser, NULL);
    resp_out_init(&client->out, RESP_OUT_BYTES_MAX_DEFAULT, 2);
    client->next = node->clients;
    if (node->clients != NULL)
        node->clients->prev = client;
    node->clients = client;
    node->client_count++;
    node->stats.clients_total++;
    uv_tcp_init(node->loop, &client->tcp);
    client->tcp.data = client;
    if (uv_accept(server, (uv_stream_t *)&client->tcp) != 0) {
        client_close(client);
        return;
    }
    if (node->client_count > node->config.clients_max) {
        resp_reply_error(&client->out, "ERR max number of clients reached", 33);
        client->close_after_write = true;
        node_client_flush(client);
        return;
    }
    uv_tcp_nodelay(&client->tcp, 1);
    uv_read_start((uv_stream_t *)&client->tcp, on_alloc, on_read);
}

int node_server_start(struct node *node, char *error, size_t error_len)
{
    struct sockaddr_storage addr;
    if (transport_address_parse(node->config.listen_addr, false, &addr, error, error_len) != 0)
        return -1;
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
    for (struct node_client *c = node->clients; c != NULL; c = c->next)
        client_close(c);
}
