/*
 * membership.c — membership change at the node level, for one group (S = 1): the address
 * book, chorusd --join, CLUSTER MEET / FORGET / MEMBERS, and a removed node standing down
 * (docs/membership.md, "Node level"). The Raft core does the protocol (learners, joint
 * consensus, auto-leave, a leader stepping down after removing itself); this file decides
 * what to ask of it and when.
 *
 * The address book (src/net/memberbook.h) says where every node is: its peer and client
 * addresses. It is replicated through the group's log: before a leader adds a node, it
 * proposes a companion entry holding the whole book with the new node in it (a write entry
 * whose tag is NODE_BOOK_TAG; the state machine does not know its bytes and leaves the store
 * untouched), and every node that applies it learns the addresses, connects, and writes the
 * book to data-dir/members (through a temporary file, fsync and rename). A restarted node
 * reads that file, so it knows every member without --cluster. A node that joins learns the
 * book at once from the member it probes (transport.h, "Probes"), so a snapshot that skips
 * a companion entry loses nothing it needs.
 *
 * A change is driven by the leader, one at a time (the core refuses a second with
 * CN_ERR_BUSY), from node_members_tick: MEET probes the new node, records its addresses,
 * adds it as a learner, waits until its acknowledged index is within
 * NODE_MEMBERS_CATCHUP_ENTRIES of the leader's last index (the learner's append responses
 * say how far it got; a snapshot install is followed by them), then promotes it to voter.
 * Each step is retried while the core answers CN_ERR_BUSY, until NODE_MEMBERS_CHANGE_MS.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "cluster/rebalance.h"
#include "consensus/membership.h"
#include "consensus/progress.h"
#include "net/memberbook.h"
#include "net/transport.h"
#include "node/commands.h"
#include "node/membership_internal.h"
#include "node/node_internal.h"
#include "storage/kv_command.h"
#include "storage/kv_tx.h"

/* The tag of a companion entry: node id byte 0, which no write tag has (ids are 1..255). */
#define NODE_BOOK_TAG 0x00b00c0000000001ull

/* The state machine must refuse a companion entry's bytes as a command it does not know
 * (and leave the store untouched): neither its command encoding nor a transaction's. */
_Static_assert((MEMBERBOOK_MAGIC & 0xff) != KV_COMMAND_VERSION, "book looks like a command");
_Static_assert((MEMBERBOOK_MAGIC & 0xff) != KV_TX_MARKER, "book looks like a transaction");

enum {
    NODE_PROBE_KIND_BOOK = 1,    /* answer: the node's address book, sender = its id */
    NODE_PROBE_KIND_REMOVED = 2, /* notice: you were removed (answer: the book, unused) */
    NODE_PROBE_KIND_TOPOLOGY = 3, /* answer: the node's topology (S > 1), for --join */
};

static const char *step_names[] = {"idle", "probing", "recording-addresses", "adding-learner",
                                   "catching-up", "promoting", "removing", "settling",
                                   "dropping-from-topology", "marking-leaving",
                                   "settling-placement"};

/* ---- the blocking probe (probe_client.c: the thread pool, and chorusd --join before the
 * loop runs) ---- */

/* With --tls-replication, the connecting-side TLS engine of one probe (made here, on the loop
 * thread or before the loop runs, so that a SIGHUP never frees a context under the thread
 * pool); else NULL. Before the loop runs (--join) the peers' context is not loaded yet: one is
 * loaded for the engine and freed at once (the engine keeps what it needs). */
static int probe_tls(struct node *node, struct net_tls_conn **out, char *error, size_t error_len)
{
    *out = NULL;
    if (!node->config.tls_replication)
        return 0;
    struct net_tls_context *context = node->peer_tls_context;
    if (context == NULL)
        context = node_peers_tls_load(node, error, error_len);
    if (context == NULL)
        return -1;
    *out = net_tls_conn_new(context, false);
    if (context != node->peer_tls_context)
        net_tls_context_free(context);
    assert(*out != NULL);
    return 0;
}

static int probe_run(const char *addr, const struct transport_probe *probe, struct net_tls_conn *tls,
                     struct memberbook *book, char *error, size_t error_len)
{
    uint8_t *answer = NULL;
    size_t len = 0;
    if (node_probe_exchange(addr, probe, tls, &answer, &len, error, error_len) != 0)
        return -1;
    int d = memberbook_decode(answer + 4, len, book);
    free(answer);
    if (d != MEMBERBOOK_OK) {
        snprintf(error, error_len, "%s answered: %s", addr, memberbook_strerror(d));
        return -1;
    }
    return 0;
}

/* --join of a sharded cluster: the member's current topology, kept as data-dir/topology so
 * that the node starts with it (groups.c); it hosts no shard until replicas move to it. */
static int probe_topology(struct node *node, const char *addr, char *error, size_t error_len)
{
    struct transport_probe probe = {.kind = NODE_PROBE_KIND_TOPOLOGY, .sender = node->config.id};
    uint8_t *answer = NULL;
    size_t len = 0;
    struct net_tls_conn *tls;
    if (probe_tls(node, &tls, error, error_len) != 0 ||
        node_probe_exchange(addr, &probe, tls, &answer, &len, error, error_len) != 0)
        return -1;
    struct topology *t = malloc(sizeof(*t));
    assert(t != NULL);
    int rv = topology_decode(answer + 4, len, t);
    if (rv != TOPOLOGY_OK)
        snprintf(error, error_len, "%s answered a topology that does not decode: %s", addr,
                 topology_strerror(rv));
    else if (topology_node_find(t, node->config.id) != NULL)
        snprintf(error, error_len, "node %u is already a node of the cluster's topology; "
                 "choose another --id", node->config.id);
    else if (node_topology_file_write(node, answer + 4, len) != 0)
        snprintf(error, error_len, "writing the topology into the data directory: %s",
                 strerror(errno));
    else
        rv = -100; /* success */
    free(t);
    free(answer);
    return rv == -100 ? 0 : -1;
}

static void probe_work_run(uv_work_t *work)
{
    struct probe_work *p = work->data;
    p->result = probe_run(p->addr, &p->probe, p->tls, &p->book, p->error, sizeof(p->error));
    p->tls = NULL; /* freed by the probe */
}


void members_change_end(struct node *node, bool ok, const char *text)
{
    struct node_members *m = node->members;
    snprintf(m->last_result, sizeof(m->last_result), "%s", text);
    m->last_ok = ok;
    if (ok)
        m->changes_done++;
    else
        m->changes_failed++;
    node_log(node, ok ? NODE_LOG_INFO : NODE_LOG_WARN, "membership: %s", text);
    if (m->promoting && !ok)
        m->promote_after_ms = node_now_ms(node) + NODE_MEMBERS_PROMOTE_RETRY_MS;
    m->promoting = false;
    m->step = STEP_IDLE;
    m->target = 0;
}

void members_change_fail(struct node *node, const char *format, ...)
{
    char text[200];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof(text), format, ap);
    va_end(ap);
    members_change_end(node, false, text);
}

/* The group whose configuration a membership change changes: group 0 of a one-group cluster;
 * the meta group of a sharded one, of which every node is a member (a voter, or a learner
 * beyond NODE_META_VOTERS), so that every node applies the topology's history itself. */
static struct node_group *member_group(const struct node *node)
{
    if (node->groups == NULL)
        return NULL;
    return node->cluster_mode ? node->meta : node->groups[0];
}

/* ---- the address book, its file and the transport ---------------------------------- */

static void book_path(const struct node *node, char *path, size_t cap, bool tmp)
{
    snprintf(path, cap, "%s/members%s", node->config.data_dir, tmp ? ".tmp" : "");
}

static int book_write(const struct node *node, const struct memberbook *book)
{
    char path[NODE_PATH_BYTES_MAX + 16], tmp[NODE_PATH_BYTES_MAX + 16];
    book_path(node, path, sizeof(path), false);
    book_path(node, tmp, sizeof(tmp), true);
    uint8_t *bytes = malloc(MEMBERBOOK_BYTES_MAX);
    assert(bytes != NULL);
    int64_t len = memberbook_encode(book, bytes, MEMBERBOOK_BYTES_MAX);
    assert(len > 0);
    int rv = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        rv = write(fd, bytes, (size_t)len) == len && fsync(fd) == 0 ? 0 : -1;
        close(fd);
        if (rv == 0)
            rv = rename(tmp, path);
    }
    if (rv == 0) {
        /* The rename is durable once the directory is. */
        int dir = open(node->config.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            (void)fsync(dir);
            close(dir);
        }
    }
    free(bytes);
    return rv;
}

/* 1 when absent, 0 when read, -1 when damaged. */
static int book_read(const struct node *node, struct memberbook *book)
{
    char path[NODE_PATH_BYTES_MAX + 16];
    book_path(node, path, sizeof(path), false);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    uint8_t *bytes = malloc(MEMBERBOOK_BYTES_MAX + 1);
    assert(bytes != NULL);
    ssize_t n = read(fd, bytes, MEMBERBOOK_BYTES_MAX + 1);
    close(fd);
    int rv = n > 0 && memberbook_decode(bytes, (size_t)n, book) == MEMBERBOOK_OK ? 0 : -1;
    free(bytes);
    return rv;
}

static void book_node_from_member(const struct node_member *member, struct memberbook_node *out)
{
    memset(out, 0, sizeof(*out));
    out->id = member->id;
    snprintf(out->peer, sizeof(out->peer), "%s", member->peer_addr);
    snprintf(out->client, sizeof(out->client), "%s", member->client_addr);
}

/* The transport connects to every node of the book (lazily, at the first message). */
static void book_connect(struct node *node)
{
    if (node->transport == NULL)
        return;
    for (uint32_t i = 0; i < node->members->book.count; i++) {
        const struct memberbook_node *b = &node->members->book.nodes[i];
        if (b->id == node->config.id)
            continue;
        struct transport_peer_info info;
        if (transport_peer_info(node->transport, b->id, &info) && strcmp(info.addr, b->peer) == 0)
            continue;
        char error[TRANSPORT_ERROR_BYTES_MAX];
        if (transport_peer_set(node->transport, b->id, b->peer, error, sizeof(error)) != 0)
            node_log(node, NODE_LOG_WARN, "membership: node %u at %s: %s", b->id, b->peer, error);
    }
}

/* Whether a data directory holds nothing (absent counts as empty). */
static bool dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT;
    bool empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}

static void config_members_from_book(struct node_config *c, const struct memberbook *book)
{
    c->member_count = 0;
    for (uint32_t i = 0; i < book->count && i < NODE_NODES_MAX; i++) {
        struct node_member *m = &c->members[c->member_count++];
        memset(m, 0, sizeof(*m));
        m->id = book->nodes[i].id;
        snprintf(m->peer_addr, sizeof(m->peer_addr), "%s", book->nodes[i].peer);
        snprintf(m->client_addr, sizeof(m->client_addr), "%s", book->nodes[i].client);
    }
}

/*
 * Before the storage opens: --join learns the cluster from a member (the data directory must
 * be empty), and a data directory's members file gives the book, the cluster id and, for a
 * node started without --cluster, the members.
 */
int node_members_load(struct node *node, const char *join_addr)
{
    struct node_config *c = &node->config;
    struct node_members *m = calloc(1, sizeof(*m));
    assert(m != NULL);
    node->members = m;
    if (join_addr != NULL && join_addr[0] != '\0') {
        if (!dir_empty(c->data_dir)) {
            node_log(node, NODE_LOG_ERROR,
                     "--join needs an empty data directory, and %s is not empty: a node that "
                     "already joined restarts without --join (it knows the cluster from "
                     "%s/members); to join afresh, remove the directory first",
                     c->data_dir, c->data_dir);
            return -1;
        }
        struct transport_probe probe = {.kind = NODE_PROBE_KIND_BOOK, .sender = c->id};
        char error[200];
        struct memberbook book;
        struct net_tls_conn *tls;
        if (probe_tls(node, &tls, error, sizeof(error)) != 0 ||
            probe_run(join_addr, &probe, tls, &book, error, sizeof(error)) != 0) {
            node_log(node, NODE_LOG_ERROR, "--join %s: %s", join_addr, error);
            return -1;
        }
        const struct memberbook_node *same = memberbook_find(&book, c->id);
        if (same != NULL && strcmp(same->peer, c->peer_listen_addr) != 0) {
            node_log(node, NODE_LOG_ERROR, "--join %s: node %u is already a member of the "
                     "cluster (at %s); choose another --id", join_addr, c->id, same->peer);
            return -1;
        }
        struct memberbook_node self = {.id = c->id};
        snprintf(self.peer, sizeof(self.peer), "%s", c->peer_listen_addr);
        snprintf(self.client, sizeof(self.client), "%s", c->listen_addr);
        if (memberbook_put(&book, &self) != MEMBERBOOK_OK) {
            node_log(node, NODE_LOG_ERROR, "--join: this node's addresses (--listen %s, "
                     "--peer-listen %s) are not usable", c->listen_addr, c->peer_listen_addr);
            return -1;
        }
        book.flags = MEMBERBOOK_FLAG_JOINED;
        book.sender = 0;
        if (mkdir(c->data_dir, 0755) != 0 && errno != EEXIST) {
            node_log(node, NODE_LOG_ERROR, "cannot create %s: %s", c->data_dir, strerror(errno));
            return -1;
        }
        if (book.shards > 1 && probe_topology(node, join_addr, error, sizeof(error)) != 0) {
            node_log(node, NODE_LOG_ERROR, "--join %s: %s", join_addr, error);
            return -1;
        }
        if (book_write(node, &book) != 0) {
            node_log(node, NODE_LOG_ERROR, "writing %s/members: %s", c->data_dir, strerror(errno));
            return -1;
        }
        c->shards = book.shards;
        c->replicas = book.replicas;
        node_log(node, NODE_LOG_INFO, "joined cluster %016" PRIx64 " through %s (%u nodes known); "
                 "waiting to be added (CLUSTER MEET or chorus cluster add on a member)",
                 book.cluster_id, join_addr, book.count);
    }
    struct memberbook book;
    int rv = book_read(node, &book);
    if (rv < 0) {
        node_log(node, NODE_LOG_ERROR, "%s/members is unreadable or damaged", c->data_dir);
        return -1;
    }
    if (rv == 1) {
        if (c->member_count == 0) {
            node_log(node, NODE_LOG_ERROR, "--cluster or --join is required (the data directory "
                     "%s holds no members file)", c->data_dir);
            return -1;
        }
        m->book.cluster_id = c->cluster_id;
        for (uint32_t i = 0; i < c->member_count; i++) {
            struct memberbook_node b;
            book_node_from_member(&c->members[i], &b);
            if (b.id == c->id && b.client[0] == '\0')
                snprintf(b.client, sizeof(b.client), "%s", c->listen_addr);
            if (memberbook_put(&m->book, &b) != MEMBERBOOK_OK) {
                node_log(node, NODE_LOG_ERROR, "--cluster: node %u: bad address", b.id);
                return -1;
            }
        }
        return 0;
    }
    m->book = book;
    m->joined = (book.flags & MEMBERBOOK_FLAG_JOINED) != 0;
    m->removed = (book.flags & MEMBERBOOK_FLAG_REMOVED) != 0;
    /* The cluster's id is the one recorded: --cluster's text may have changed since. */
    c->cluster_id = book.cluster_id;
    if (c->member_count == 0 || m->joined)
        config_members_from_book(c, &book);
    return 0;
}

/* After the groups opened and the transport started: the book on disk and every peer known. */
int node_members_start(struct node *node)
{
    struct node_members *m = node->members;
    m->book.shards = node->topology->shard_count;
    m->book.replicas = node->topology->replica_count;
    m->book.cluster_id = node->config.cluster_id;
    if (book_write(node, &m->book) != 0) {
        node_log(node, NODE_LOG_ERROR, "writing %s/members: %s", node->config.data_dir,
                 strerror(errno));
        return -1;
    }
    book_connect(node);
    if (node->cluster_mode)
        node_members_on_topology(node); /* a crash may have come between the two files */
    if (m->removed)
        node_log(node, NODE_LOG_WARN, "this node was removed from the cluster: it serves no "
                 "client; its data directory may be deleted");
    return 0;
}

void node_members_free(struct node *node)
{
    free(node->members);
    node->members = NULL;
}

bool node_members_joined(const struct node *node)
{
    return node->members != NULL && node->members->joined;
}

bool node_members_removed(const struct node *node)
{
    return node->members != NULL && node->members->removed;
}

static void mark_removed(struct node *node, const char *how)
{
    struct node_members *m = node->members;
    if (m->removed)
        return;
    m->removed = true;
    m->book.flags |= MEMBERBOOK_FLAG_REMOVED;
    if (book_write(node, &m->book) != 0)
        node_log(node, NODE_LOG_WARN, "writing %s/members: %s", node->config.data_dir,
                 strerror(errno));
    node_log(node, NODE_LOG_WARN, "this node was removed from the cluster (%s): it serves no "
             "client from now on; its data directory may be deleted", how);
}

/* ---- probes answered (transport callback) -------------------------------------------- */

size_t node_members_on_probe(struct node *node, const struct transport_probe *probe, uint8_t *out,
                             size_t cap)
{
    struct node_members *m = node->members;
    if (m == NULL)
        return 0;
    /* A notice of removal must come from this cluster and, with a cluster secret, is not
     * taken at all (a probe is not authenticated): the node then learns it from its log. */
    if (probe->kind == NODE_PROBE_KIND_REMOVED) {
        if (probe->cluster_id != node->config.cluster_id || node->config.cluster_secret_len > 0)
            return 0;
        const struct node_group *g = member_group(node);
        if (g != NULL && !cn_membership_contains(&g->status.membership, node->config.id) &&
            !cn_membership_empty(&g->status.membership))
            mark_removed(node, "told by the leader");
        else if (g != NULL && g->status.role != CN_ROLE_LEADER)
            mark_removed(node, "told by the leader");
    } else if (probe->kind == NODE_PROBE_KIND_TOPOLOGY) {
        if (!node->cluster_mode || node->topology_encoded_len > cap)
            return 0;
        memcpy(out, node->topology_encoded, node->topology_encoded_len);
        return node->topology_encoded_len;
    } else if (probe->kind != NODE_PROBE_KIND_BOOK) {
        return 0;
    }
    struct memberbook book = m->book;
    book.sender = node->config.id;
    book.cluster_id = node->config.cluster_id;
    book.flags &= MEMBERBOOK_FLAG_JOINED;
    const struct node_group *g = member_group(node);
    if (m->joined && g != NULL && g->applied_index == 0 &&
        cn_membership_empty(&g->status.membership))
        book.flags |= MEMBERBOOK_FLAG_EMPTY;
    int64_t len = memberbook_encode(&book, out, cap);
    return len > 0 ? (size_t)len : 0;
}

/* ---- the companion entry: the book through the log ----------------------------------- */

bool node_members_on_applied(struct node_group *g, const struct cn_entry *entry)
{
    if (node_entry_tag(entry) != NODE_BOOK_TAG || g->id != 0)
        return false;
    struct node *node = g->node;
    struct node_members *m = node->members;
    struct memberbook book;
    int rv = memberbook_decode(entry->data + NODE_WRITE_TAG_BYTES,
                               entry->data_len - NODE_WRITE_TAG_BYTES, &book);
    if (rv != MEMBERBOOK_OK) {
        node_log(node, NODE_LOG_WARN, "membership: a companion entry at %llu: %s",
                 (unsigned long long)entry->index, memberbook_strerror(rv));
        return true;
    }
    bool changed = false;
    for (uint32_t i = 0; i < book.count; i++) {
        const struct memberbook_node *b = &book.nodes[i];
        const struct memberbook_node *known = memberbook_find(&m->book, b->id);
        if (known != NULL && strcmp(known->peer, b->peer) == 0 &&
            strcmp(known->client, b->client) == 0)
            continue;
        if (b->id == node->config.id)
            continue; /* this node's own addresses are its flags' */
        if (memberbook_put(&m->book, b) == MEMBERBOOK_OK)
            changed = true;
    }
    if (changed) {
        if (book_write(node, &m->book) != 0)
            node_log(node, NODE_LOG_WARN, "writing %s/members: %s", node->config.data_dir,
                     strerror(errno));
        book_connect(node);
        node_log(node, NODE_LOG_INFO, "membership: address book at %llu: %u nodes",
                 (unsigned long long)entry->index, m->book.count);
    }
    return true;
}

/* A sharded node adopted a topology (meta_topology.c): its nodes' addresses go into the book,
 * which probes answer and CLUSTER MEMBERS lists. Nodes that left the topology stay in the
 * book, as a one-group cluster's removed nodes do (the leader's removal notice needs them). */
void node_members_on_topology(struct node *node)
{
    struct node_members *m = node->members;
    if (m == NULL)
        return;
    bool changed = false;
    for (uint32_t i = 0; i < node->config.member_count; i++) {
        const struct node_member *n = &node->config.members[i];
        if (n->id == node->config.id)
            continue; /* this node's own addresses are its flags' */
        struct memberbook_node b;
        book_node_from_member(n, &b);
        const struct memberbook_node *known = memberbook_find(&m->book, b.id);
        if (known != NULL && strcmp(known->peer, b.peer) == 0 &&
            strcmp(known->client, b.client) == 0)
            continue;
        if (memberbook_put(&m->book, &b) == MEMBERBOOK_OK)
            changed = true;
    }
    if (!changed)
        return;
    if (book_write(node, &m->book) != 0)
        node_log(node, NODE_LOG_WARN, "writing %s/members: %s", node->config.data_dir,
                 strerror(errno));
    book_connect(node);
}

static bool propose_book(struct node *node, struct node_group *g, const struct memberbook *book,
                         uint64_t *index)
{
    size_t cap = NODE_WRITE_TAG_BYTES + MEMBERBOOK_BYTES_MAX;
    uint8_t *payload = malloc(cap);
    assert(payload != NULL);
    uint64_t tag = NODE_BOOK_TAG;
    memcpy(payload, &tag, NODE_WRITE_TAG_BYTES);
    int64_t len = memberbook_encode(book, payload + NODE_WRITE_TAG_BYTES,
                                    cap - NODE_WRITE_TAG_BYTES);
    assert(len > 0);
    uint64_t term = 0;
    struct cn_event e = {.type = CN_EVENT_PROPOSE, .data = payload,
                         .data_len = (uint32_t)(NODE_WRITE_TAG_BYTES + (size_t)len),
                         .out_index = index, .out_term = &term};
    int rv = node_step(g, &e);
    free(payload);
    return rv == CN_OK;
}

/* ---- catch-up progress ------------------------------------------------------------------ */

void node_members_on_message(struct node *node, const struct cn_message *msg)
{
    struct node_members *m = node->members;
    uint32_t group = node->cluster_mode ? node->topology->shard_count : 0;
    if (m == NULL || m->target == 0 || msg->group != group || msg->from != m->target)
        return;
    /* Raft: the learner's acknowledged index. Multi-Paxos: the chosen prefix it reports in
     * its lease answers (it learns chosen values by catch-up, not by appends). */
    uint64_t reached = 0;
    if (cn_progress_reported(msg, &reached) && reached > m->target_match)
        m->target_match = reached;
}

/* ---- the change, step by step ------------------------------------------------------------ */

static void probe_done(uv_work_t *work, int status)
{
    struct probe_work *p = work->data;
    struct node *node = p->node;
    (void)status;
    if (p->notice || node->stopping || node->members == NULL) {
        free(p);
        return;
    }
    struct node_members *m = node->members;
    m->probing = NULL;
    if (m->step != STEP_PROBING) {
        free(p);
        return;
    }
    if (p->result != 0) {
        members_change_fail(node, "adding %s failed: %s", p->addr, p->error);
        free(p);
        return;
    }
    const struct memberbook_node *them = memberbook_find(&p->book, p->book.sender);
    struct node_group *g = member_group(node);
    if (p->book.cluster_id != node->config.cluster_id) {
        members_change_fail(node, "adding %s failed: it belongs to another cluster (start it with "
                    "--join and an empty data directory)", p->addr);
    } else if (them == NULL) {
        members_change_fail(node, "adding %s failed: it did not name its addresses", p->addr);
    } else if (g != NULL && cn_membership_is_voter(&g->status.membership, them->id)) {
        members_change_end(node, true, "the node is already a voter");
    } else if (g != NULL && !cn_membership_contains(&g->status.membership, them->id) &&
               (p->book.flags & MEMBERBOOK_FLAG_EMPTY) == 0) {
        members_change_fail(node, "adding %s failed: node %u is not a new node (it holds data, or "
                    "was not started with --join)", p->addr, them->id);
    } else {
        m->target = them->id;
        m->target_match = 0;
        struct memberbook book = m->book;
        book.flags = 0;
        book.sender = 0;
        if (memberbook_put(&book, them) != MEMBERBOOK_OK) {
            members_change_fail(node, "adding %s failed: the address book is full", p->addr);
        } else if (node->cluster_mode) {
            m->step = STEP_BOOK;
            m->book_index = 0;
            members_propose_topology_with(node, g, them);
        } else {
            m->step = STEP_BOOK;
            m->book_index = 0;
            if (!propose_book(node, g, &book, &m->book_index))
                members_change_fail(node, "adding node %u failed: its addresses could not be proposed "
                            "(not the leader any more?)", them->id);
        }
    }
    free(p);
}

static void probe_start(struct node *node, const char *addr, uint8_t kind, bool notice)
{
    struct probe_work *p = calloc(1, sizeof(*p));
    assert(p != NULL);
    p->node = node;
    p->notice = notice;
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    p->probe = (struct transport_probe){.kind = kind, .cluster_id = node->config.cluster_id,
                                        .sender = node->config.id};
    p->work.data = p;
    char error[200];
    if (probe_tls(node, &p->tls, error, sizeof(error)) != 0) /* the files loaded at start */
        node_log(node, NODE_LOG_ERROR, "probe of %s: %s", addr, error);
    if (!notice)
        node->members->probing = p;
    int rv = uv_queue_work(node->loop, &p->work, probe_work_run, probe_done);
    assert(rv == 0);
}

/* The target configuration: the current one with `id` added as learner, promoted, or
 * removed. Returns false when the change makes no sense in it. */
static bool target_membership(const struct cn_membership *now, cn_node_id id, enum member_step step,
                              struct cn_membership *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < now->voters.count; i++)
        if (now->voters.ids[i] != id)
            out->voters.ids[out->voters.count++] = now->voters.ids[i];
    for (uint32_t i = 0; i < now->learners.count; i++)
        if (now->learners.ids[i] != id)
            out->learners.ids[out->learners.count++] = now->learners.ids[i];
    struct cn_members *into = step == STEP_LEARNER ? &out->learners
                              : step == STEP_PROMOTE ? &out->voters : NULL;
    if (into != NULL) {
        if (into->count == CN_MEMBERS_MAX)
            return false;
        uint32_t at = into->count++;
        while (at > 0 && into->ids[at - 1] > id) {
            into->ids[at] = into->ids[at - 1];
            at--;
        }
        into->ids[at] = id;
    }
    return out->voters.count >= 1 && cn_membership_valid(out, false);
}

/* Steps a configuration change into the core: true when accepted (or already in force). */
static bool step_change(struct node *node, struct node_group *g, enum member_step step)
{
    struct node_members *m = node->members;
    struct cn_membership target;
    if (!target_membership(&g->status.membership, m->target, step, &target)) {
        members_change_fail(node, "node %u: the configuration would be invalid (at most %d members, "
                    "at least one voter)", m->target, CN_MEMBERS_MAX);
        return false;
    }
    if (cn_membership_equal(&target, &g->status.membership))
        return true;
    uint64_t index = 0;
    int rv = node_step(g, &(struct cn_event){.type = CN_EVENT_MEMBERSHIP, .membership = &target,
                                             .out_index = &index});
    node_refresh_status(g);
    if (rv == CN_OK)
        return true;
    if (rv != CN_ERR_BUSY && rv != CN_ERR_TRANSFERRING)
        members_change_fail(node, "node %u: the change was refused: %s", m->target, cn_strerror(rv));
    return false; /* busy: asked again at the next tick */
}

void node_members_tick(struct node *node)
{
    struct node_members *m = node->members;
    struct node_group *g = member_group(node);
    if (m == NULL || g == NULL)
        return;
    node_refresh_status(g);
    const struct cn_status *st = &g->status;
    /* A node that sees a configuration, complete and without it, was removed. */
    if (cn_membership_contains(&st->membership, node->config.id))
        m->seen_member = true;
    /* Not yet named by any configuration it saw: a joining node catching up, not a removed
     * one. With Multi-Paxos it replays the configurations chosen before it was added; with
     * Raft a node that joined may install a snapshot taken before the entry that made it a
     * learner, and hold that older configuration until the entry arrives (seen by
     * cluster_membership.sh: node 6 took itself for removed 17 ms after its snapshot). */
    bool replays = !m->seen_member && (strcmp(node->ops->name, "paxos") == 0 || m->joined);
    if (!m->removed && !replays && !cn_membership_empty(&st->membership) &&
        !st->membership_pending && !cn_membership_contains(&st->membership, node->config.id))
        mark_removed(node, "its configuration no longer names it");
    if (m->step == STEP_IDLE && node->cluster_mode && st->role == CN_ROLE_LEADER &&
        !st->membership_pending && !members_meta_voters_tick(node, g))
        members_rebalance_tick(node, g);
    if (m->step == STEP_IDLE || m->step == STEP_PROBING)
        return;
    /* A leader that removed itself has stepped down by the time its change is complete. */
    if (m->step == STEP_SETTLE && !st->membership_pending &&
        !cn_membership_contains(&st->membership, m->target)) {
        char text[80];
        snprintf(text, sizeof(text), "node %u removed", m->target);
        const struct memberbook_node *b = memberbook_find(&m->book, m->target);
        if (b != NULL && m->target != node->config.id)
            probe_start(node, b->peer, NODE_PROBE_KIND_REMOVED, true);
        members_change_end(node, true, text);
        return;
    }
    /* Multi-Paxos: a leader starts a new ballot of its own each time a configuration is
     * chosen (src/paxos/membership.c), a phase 1 it normally wins; that is no leadership
     * moving. Only losing it is. */
    if (strcmp(node->ops->name, "paxos") == 0 && st->role == CN_ROLE_CANDIDATE &&
        node_now_ms(node) <= m->deadline_ms)
        return;
    if (strcmp(node->ops->name, "paxos") == 0 && st->role == CN_ROLE_LEADER &&
        st->leader == node->config.id)
        m->started_term = st->term;
    if (st->role != CN_ROLE_LEADER || st->term != m->started_term) {
        members_change_fail(node, "node %u: leadership moved during the change (the configuration is "
                    "now what the new leader has; run the command again on it)", m->target);
        return;
    }
    if (node_now_ms(node) > m->deadline_ms) {
        members_change_fail(node, "node %u: the change did not finish in time (%s); run it again",
                    m->target, step_names[m->step]);
        return;
    }
    switch (m->step) {
    case STEP_BOOK:
        if (node->cluster_mode && g->applied_index >= m->book_index)
            node_meta_check_now(node); /* adopts the proposed topology once applied */
        if (g->applied_index >= m->book_index && memberbook_find(&m->book, m->target) != NULL &&
            (!node->cluster_mode || topology_node_find(node->topology, m->target) != NULL))
            m->step = cn_membership_contains(&st->membership, m->target) ? STEP_CATCHUP
                                                                           : STEP_LEARNER;
        break;
    case STEP_SETTLE_PLACEMENT:
        if (g->applied_index < m->book_index)
            break;
        node_meta_check_now(node);
        if (node->topology->epoch >= m->started_epoch + 1)
            members_change_end(node, true, "the moves are done: new nodes active, leaders balanced");
        break;
    case STEP_LEAVING:
        if (g->applied_index < m->book_index)
            break;
        node_meta_check_now(node);
        if (topology_node_find(node->topology, m->target) != NULL &&
            topology_node_find(node->topology, m->target)->state == TOPOLOGY_NODE_LEAVING) {
            char text[120];
            snprintf(text, sizeof(text), "node %u is leaving: its replicas move off, then it is "
                     "removed", m->target);
            members_change_end(node, true, text);
        }
        break;
    case STEP_UNRECORD:
        if (g->applied_index < m->book_index)
            break;
        node_meta_check_now(node);
        if (topology_node_find(node->topology, m->target) != NULL)
            break;
        if (cn_membership_contains(&st->membership, m->target)) {
            m->step = STEP_REMOVE;
        } else {
            char text[80];
            snprintf(text, sizeof(text), "node %u removed", m->target);
            members_change_end(node, true, text);
        }
        break;
    case STEP_LEARNER:
        if (step_change(node, g, STEP_LEARNER))
            m->step = STEP_CATCHUP;
        break;
    case STEP_CATCHUP:
        /* Promoted only once the learner's configuration entry committed and the learner
         * acknowledged nearly the whole log: a voter far behind would leave the new majority
         * unable to commit until it caught up (thesis §4.2.1). */
        if (st->membership_pending ||
            m->target_match + NODE_MEMBERS_CATCHUP_ENTRIES < st->last_index)
            break;
        /* The meta group keeps at most NODE_META_VOTERS voters: a node beyond them follows
         * its log as a learner, which is all it needs to learn the topology. */
        if (node->cluster_mode && st->membership.voters.count >= NODE_META_VOTERS) {
            char text[96];
            snprintf(text, sizeof(text), "node %u added (a learner of the meta group)", m->target);
            members_change_end(node, true, text);
            break;
        }
        m->step = STEP_PROMOTE;
        break;
    case STEP_PROMOTE:
        if (step_change(node, g, STEP_PROMOTE))
            m->step = STEP_SETTLE;
        break;
    case STEP_REMOVE:
        if (step_change(node, g, STEP_REMOVE))
            m->step = STEP_SETTLE;
        break;
    case STEP_SETTLE:
        if (!st->membership_pending) {
            char text[120];
            bool member = cn_membership_contains(&st->membership, m->target);
            if (!member) {
                const struct memberbook_node *b = memberbook_find(&m->book, m->target);
                if (b != NULL)
                    probe_start(node, b->peer, NODE_PROBE_KIND_REMOVED, true);
                snprintf(text, sizeof(text), "node %u removed", m->target);
            } else {
                snprintf(text, sizeof(text), "node %u added as a voter", m->target);
            }
            members_change_end(node, true, text);
        }
        break;
    default:
        break;
    }
}

/* ---- the commands ------------------------------------------------------------------------- */

/* Whether the plan moves replicas to `id`: its addition is under way. */
static bool moves_go_to(const struct node *node, cn_node_id id)
{
    const struct rebalance_plan *plan = node->rebalance;
    for (uint32_t i = 0; id != 0 && plan != NULL && i < plan->move_count; i++)
        if (plan->moves[i].to == id)
            return true;
    return false;
}

/* Whether this node may start a change now; answers the error when not. `forgetting` is the
 * node a FORGET removes, 0 for a MEET. */
static struct node_group *change_may_start(struct node_exec *e, cn_node_id forgetting)
{
    struct node *node = e->node;
    struct node_group *g = member_group(node);
    if (g == NULL || g->status.role != CN_ROLE_LEADER) {
        char text[200];
        cn_node_id leader = g != NULL ? g->status.leader : 0;
        const struct memberbook_node *b = memberbook_find(&node->members->book, leader);
        if (leader != 0 && b != NULL && b->client[0] != '\0')
            snprintf(text, sizeof(text), "TRYAGAIN not the leader: ask node %u at %s", leader,
                     b->client);
        else
            snprintf(text, sizeof(text), "TRYAGAIN not the leader (no leader known)");
        node_exec_error(e, text);
        return NULL;
    }
    if (node->members->step != STEP_IDLE || g->status.membership_pending) {
        node_exec_error(e, "TRYAGAIN a membership change is in progress");
        return NULL;
    }
    /* A change of the node list changes the plan: one at a time, after the last one's moves
     * (a move planned for one placement must not be cut short by the next). Except FORGET of
     * a node that moves go to: a node that died for good while it joined would otherwise hold
     * the cluster for ever. Its moves are abandoned: the plan of the topology without it (or
     * with it LEAVING) has none, and each shard's leader brings its configuration back to the
     * topology's replicas (reconcile_step in rebalance.c). */
    if (node->cluster_mode && node->rebalance != NULL && node->rebalance->move_count > 0 &&
        !moves_go_to(node, forgetting)) {
        char text[120];
        snprintf(text, sizeof(text), "TRYAGAIN the rebalancer is moving replicas (%u moves "
                 "left)", node->rebalance->move_count);
        node_exec_error(e, text);
        return NULL;
    }
    /* A sharded cluster's nodes learn the topology through the meta group's log: each must be
     * a member of it (true of clusters created with at most NODE_META_VOTERS nodes). */
    for (uint32_t i = 0; node->cluster_mode && i < node->topology->node_count; i++)
        if (!cn_membership_contains(&g->status.membership, node->topology->nodes[i].id)) {
            char text[200];
            snprintf(text, sizeof(text), "ERR node %u is not a member of the meta group: "
                     "membership change of a sharded cluster needs every node in it (clusters "
                     "created with at most %d nodes)", node->topology->nodes[i].id,
                     NODE_META_VOTERS);
            node_exec_error(e, text);
            return NULL;
        }
    return g;
}

void members_change_begin(struct node *node, struct node_group *g, enum member_step step,
                         cn_node_id target)
{
    struct node_members *m = node->members;
    m->step = step;
    m->target = target;
    m->target_match = 0;
    m->started_term = g->status.term;
    m->started_epoch = node->topology->epoch;
    m->deadline_ms = node_now_ms(node) + NODE_MEMBERS_CHANGE_MS;
    snprintf(m->last_result, sizeof(m->last_result), "in progress");
    m->last_ok = false;
}

/* CLUSTER MEET host port: answers OK as Redis does once the change has started; CLUSTER
 * MEMBERS (chorus cluster status) shows how it goes. */
void node_members_meet(struct node_exec *e)
{
    struct node *node = e->node;
    if (e->argc != 4) {
        node_exec_error(e, "ERR wrong number of arguments for 'cluster|meet' command");
        return;
    }
    char host[64], port[8];
    if (e->argv[2].len == 0 || e->argv[2].len >= sizeof(host) || e->argv[3].len == 0 ||
        e->argv[3].len >= sizeof(port)) {
        node_exec_error(e, "ERR Invalid node address specified");
        return;
    }
    memcpy(host, e->argv[2].data, e->argv[2].len);
    host[e->argv[2].len] = '\0';
    memcpy(port, e->argv[3].data, e->argv[3].len);
    port[e->argv[3].len] = '\0';
    char addr[NODE_ADDR_BYTES_MAX];
    snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    struct sockaddr_storage sa;
    char why[TRANSPORT_ERROR_BYTES_MAX];
    if (transport_address_parse(addr, false, &sa, why, sizeof(why)) != 0) {
        char text[240];
        snprintf(text, sizeof(text), "ERR Invalid node address specified: %s", why);
        node_exec_error(e, text);
        return;
    }
    struct node_group *g = change_may_start(e, 0);
    if (g == NULL)
        return;
    members_change_begin(node, g, STEP_PROBING, 0);
    snprintf(node->members->target_addr, sizeof(node->members->target_addr), "%s", addr);
    probe_start(node, addr, NODE_PROBE_KIND_BOOK, false);
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

/* CLUSTER FORGET id: removes a voter or a learner. */
void node_members_forget(struct node_exec *e)
{
    struct node *node = e->node;
    if (e->argc != 3) {
        node_exec_error(e, "ERR wrong number of arguments for 'cluster|forget' command");
        return;
    }
    char text[16];
    size_t len = e->argv[2].len < sizeof(text) - 1 ? e->argv[2].len : sizeof(text) - 1;
    memcpy(text, e->argv[2].data, len);
    text[len] = '\0';
    char *end;
    unsigned long id = strtoul(text, &end, 10);
    if (len == 0 || *end != '\0' || id == 0 || id > MEMBERBOOK_ID_MAX) {
        node_exec_error(e, "ERR Unknown node id");
        return;
    }
    struct node_group *g = change_may_start(e, (cn_node_id)id);
    if (g == NULL)
        return;
    const struct cn_membership *now = &g->status.membership;
    if (node->cluster_mode && topology_node_find(node->topology, (uint32_t)id) != NULL) {
        members_forget_sharded(e, g, (cn_node_id)id);
        return;
    }
    if (!cn_membership_contains(now, (cn_node_id)id)) {
        char reply[80];
        snprintf(reply, sizeof(reply), "ERR Unknown node %lu", id);
        node_exec_error(e, reply);
        return;
    }
    if (cn_membership_is_voter(now, (cn_node_id)id) && now->voters.count == 1) {
        node_exec_error(e, "ERR cannot remove the last voter");
        return;
    }
    members_change_begin(node, g, STEP_REMOVE, (cn_node_id)id);
    if (!step_change(node, g, STEP_REMOVE)) {
        if (node->members->step == STEP_REMOVE) {
            node->members->step = STEP_IDLE; /* busy: nothing started */
            node_exec_error(e, "TRYAGAIN a membership change is in progress");
        } else {
            node_exec_error(e, "ERR the change was refused");
        }
        return;
    }
    node->members->step = STEP_SETTLE;
    struct resp_out *out = node_exec_out(e);
    resp_reply_simple(out, "OK", 2);
    node_exec_done(e, out);
}

static void render_list(char *text, size_t cap, size_t *at, const char *name,
                        const struct cn_members *list)
{
    *at += (size_t)snprintf(text + *at, cap - *at, "%s:", name);
    for (uint32_t i = 0; i < list->count && *at < cap; i++)
        *at += (size_t)snprintf(text + *at, cap - *at, "%s%u", i ? "," : "", list->ids[i]);
    if (*at < cap)
        *at += (size_t)snprintf(text + *at, cap - *at, "\r\n");
}

/* CLUSTER MEMBERS: the configuration and the address book, as INFO-like lines. */
void node_members_status(struct node_exec *e)
{
    struct node *node = e->node;
    struct node_members *m = node->members;
    const struct node_group *g = member_group(node);
    enum { CAP = 16384 }; /* a move line on a shard's leader is up to ~170 bytes, 64 of them */
    char *text = malloc(CAP);
    assert(text != NULL);
    size_t at = 0;
    at += (size_t)snprintf(text + at, CAP - at, "myself:%u\r\nremoved:%d\r\n", node->config.id,
                           m->removed);
    if (node->cluster_mode) {
        uint32_t joining = 0, leaving = 0;
        for (uint32_t i = 0; i < node->topology->node_count; i++) {
            joining += node->topology->nodes[i].state == TOPOLOGY_NODE_JOINING;
            leaving += node->topology->nodes[i].state == TOPOLOGY_NODE_LEAVING;
        }
        at += (size_t)snprintf(text + at, CAP - at, "topology_epoch:%llu\r\ntopology_nodes:%u\r\n"
                               "topology_joining:%u\r\ntopology_leaving:%u\r\n",
                               (unsigned long long)node->topology->epoch,
                               node->topology->node_count, joining, leaving);
    }
    if (g != NULL) {
        const struct cn_status *st = &g->status;
        at += (size_t)snprintf(text + at, CAP - at, "role:%s\r\nleader:%u\r\nterm:%llu\r\n",
                               cn_role_name(st->role), st->leader,
                               (unsigned long long)st->term);
        render_list(text, CAP, &at, "voters", &st->membership.voters);
        render_list(text, CAP, &at, "outgoing", &st->membership.outgoing);
        render_list(text, CAP, &at, "learners", &st->membership.learners);
        at += (size_t)snprintf(text + at, CAP - at,
                               "joint:%d\r\npending:%d\r\nunreachable_majority:%d\r\n",
                               cn_membership_joint(&st->membership), st->membership_pending,
                               st->membership_unreachable);
    }
    at += (size_t)snprintf(text + at, CAP - at, "change:%s\r\nchange_target:%u\r\n"
                           "last_change:%s\r\nlast_change_ok:%d\r\n", step_names[m->step],
                           m->target, m->last_result, m->last_ok);
    members_render_rebalance(node, text, CAP, &at);
    for (uint32_t i = 0; i < m->book.count && at < CAP - 200; i++) {
        const struct memberbook_node *b = &m->book.nodes[i];
        const char *role = "-";
        if (g != NULL) {
            if (cn_membership_is_voter(&g->status.membership, b->id))
                role = "voter";
            else if (cn_membership_contains(&g->status.membership, b->id))
                role = "learner";
        }
        at += (size_t)snprintf(text + at, CAP - at, "node%u:peer=%s,client=%s,role=%s\r\n",
                               b->id, b->peer, b->client[0] ? b->client : "?", role);
    }
    if (at > CAP - 1)
        at = CAP - 1;
    struct resp_out *out = node_exec_out(e);
    resp_reply_bulk(out, text, at);
    node_exec_done(e, out);
    free(text);
}

/* INFO's counts (commands_info.c). */
void node_members_counts(const struct node *node, struct node_members_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    const struct node_group *g = member_group(node);
    if (g != NULL) {
        counts->voters = g->status.membership.voters.count;
        counts->outgoing = g->status.membership.outgoing.count;
        counts->learners = g->status.membership.learners.count;
        counts->pending = g->status.membership_pending;
        counts->unreachable = g->status.membership_unreachable;
    }
    if (node->members != NULL) {
        counts->known = node->members->book.count;
        counts->removed = node->members->removed;
        counts->changes_done = node->members->changes_done;
        counts->changes_failed = node->members->changes_failed;
        counts->in_progress = node->members->step != STEP_IDLE;
    }
}
