/* commands.h — the RESP command table of chorusd, shared by the files of commands*.c. */
#ifndef CHORUS_NODE_COMMANDS_H
#define CHORUS_NODE_COMMANDS_H

#include "node/acl.h"
#include "node/node_internal.h"

/* Reads served through ReadIndex, replayed from their stored arguments once safe. */
enum node_read_kind {
    NODE_READ_NONE = 0,
    NODE_READ_GET = 1,
    NODE_READ_MGET = 2,
    NODE_READ_EXISTS = 3,
    NODE_READ_STRLEN = 4,
    NODE_READ_DBSIZE = 5,
    NODE_READ_SCAN = 6,
    NODE_READ_GETRANGE = 7,
    NODE_READ_GETBIT = 8,
    NODE_READ_BITCOUNT = 9,
    NODE_READ_LCS = 10,
    NODE_READ_TYPE = 11,
    NODE_READ_MEMORY = 12,
    NODE_READ_KEYS = 13,
    NODE_READ_RANDOMKEY = 14,
    NODE_READ_COUNTKEYSINSLOT = 15, /* CLUSTER COUNTKEYSINSLOT (commands_cluster.c) */
    NODE_READ_GETKEYSINSLOT = 16,   /* CLUSTER GETKEYSINSLOT */
    NODE_READ_TYPES = 17,           /* a hash or set read (commands_types.c) */
    NODE_READ_OBJECT = 18,          /* OBJECT ENCODING and friends */
    NODE_READ_WATCH = 64,   /* WATCH: records what its keys hold (commands_tx.c) */
};

enum {
    /* CLUSTER GETKEYSINSLOT returns at most this many keys, and COUNTKEYSINSLOT and
     * GETKEYSINSLOT examine at most this many keys of the shard (they run on the loop thread
     * in one go; the store is in hash order, not slot order). */
    NODE_SLOT_KEYS_MAX = 65536,
    NODE_SLOT_EXAMINED_MAX = 1u << 20,
};

/* A command's execution context: where its reply goes. */
struct node_exec {
    struct node_client *client;
    struct node *node;
    const struct resp_arg *argv;
    uint32_t argc;
    /* Routing (route.c): a read (a relayed one that is lost was not executed), and whether
     * it may be relayed when this node holds no replica of its shard (proxy.c). */
    bool read_only;
    bool no_proxy;
};

/* The reply buffer for a command answered now: the client's own output when nothing of that
 * client waits, else a done request queued behind the waiting ones. */
struct resp_out *node_exec_out(struct node_exec *exec);
/* Completes the queued reply that node_exec_out may have created. */
void node_exec_done(struct node_exec *exec, struct resp_out *out);
void node_exec_error(struct node_exec *exec, const char *error);
void node_exec_wrong_arity(struct node_exec *exec);
bool node_arg_is(const struct resp_arg *arg, const char *word);

/* commands_kv.c */
void node_cmd_write(struct node_exec *exec);
/* node_write_encode's answer when the argument count is wrong for the command. */
#define NODE_ARITY_ERROR ((const char *)1)
const char *node_write_encode(const struct node_exec *exec, uint8_t **payload, size_t *len);
void node_cmd_read(struct node_exec *exec, enum node_read_kind kind, uint32_t args_min);
/* Starts a read on a group chosen by the caller. */
void node_read_start(struct node_exec *exec, enum node_read_kind kind, struct node_group *group);
struct resp_arg *node_read_args_unpack(const struct node_request *request, uint32_t *argc);
void node_read_serve(struct node_group *group, struct resp_out *out, enum node_read_kind kind,
                     const struct resp_arg *argv, uint32_t argc);

/* commands_string.c */
struct kv_command;
bool node_write_parse_string(const struct node_exec *e, struct kv_command *c,
                             struct kv_bytes *args, const char **error);
bool node_read_serve_string(struct node_group *group, struct resp_out *out, enum node_read_kind kind,
                            const struct resp_arg *argv, uint32_t argc);

/* commands_types.c: hashes and sets, run by storage/kv_types.c */
extern const char node_error_wrongtype[];
/* Fills c (op, seed) when argv[0] names a hash or set command; false otherwise. The caller
 * has put the client's arguments in c->args. */
bool node_types_parse(const struct node_exec *e, struct kv_command *c);
/* The kv op of a hash or set read (0: not one), for MULTI (commands_tx.c). */
uint8_t node_types_read_op(const struct resp_arg *name);
void node_cmd_types_read(struct node_exec *e);
void node_cmd_object(struct node_exec *e);
void node_types_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                      uint32_t argc);
void node_object_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                       uint32_t argc);
/* SINTERCARD's, ZUNIONSTORE's and ZINTERSTORE's keys, for routing and COMMAND GETKEYS: argv[first]
 * on, count of them, and argv[extra] before them when extra > 0 (a destination); false when
 * numkeys is not valid. */
bool node_types_movable_keys(const struct resp_arg *argv, uint32_t argc, uint32_t *first,
                             uint32_t *count, uint32_t *extra);

/* blocking.c */
bool node_blocking_is(const struct resp_arg *name);
/* Fills c's op and argument count with a blocking pop's attempt when argv[0] names one (the
 * arguments are the client's, in c->args); *error: the Redis error its arguments deserve. */
bool node_blocking_parse(const struct node_exec *e, struct kv_command *c, const char **error);
void node_cmd_blocking(struct node_exec *exec);

/* commands_lcs.c */
void node_lcs_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                    uint32_t argc);

/* commands_scan.c: SCAN, KEYS and RANDOMKEY */
void node_scan_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv,
                     uint32_t argc);
void node_keys_serve(struct node_group *group, struct resp_out *out, const struct resp_arg *argv);
void node_randomkey_serve(struct node_group *group, struct resp_out *out);
uint64_t node_random_u64(void);
/* S > 1: the group of the shard a SCAN cursor resumes in (NULL: answered). */
struct node_group *node_scan_route(struct node_exec *exec);

/* commands_command.c */
void node_cmd_command(struct node_exec *exec);
enum shardmap_keys_result node_command_slot(const struct resp_arg *argv, uint32_t argc,
                                            uint32_t *slot);

/* route.c: which group a command goes to (S > 1: its keys' slot's shard) */
/* The group for a command of the connection, or NULL when it was answered here instead
 * (CROSSSLOT, MOVED). */
struct node_group *node_route(struct node_exec *exec);
struct node_group *node_route_slot(struct node_exec *exec, uint32_t slot);

/* commands_client.c */
void node_cmd_client(struct node_exec *e);
const char *node_client_name_check(const struct resp_arg *name);
void node_client_name_set(struct node_client *client, const struct resp_arg *name);

/* commands_tx.c: MULTI, EXEC, DISCARD, WATCH, UNWATCH */
void node_cmd_multi(struct node_exec *exec);
void node_cmd_exec(struct node_exec *exec);
void node_cmd_discard(struct node_exec *exec);
void node_cmd_watch(struct node_exec *exec);
void node_cmd_unwatch(struct node_exec *exec);
/* Inside MULTI: queues the command (true), or leaves it to run now (false: EXEC, DISCARD,
 * MULTI, WATCH, QUIT, RESET). is_write: the command is one of node_cmd_write's. */
bool node_tx_queue(struct node_exec *exec, bool is_write);
/* Inside MULTI, a command that failed to queue (unknown, wrong arity) fails the EXEC. */
void node_tx_fail(struct node_client *client);
void node_reply_kv_result(struct resp_out *out, const struct kv_result *result);

/* commands_chain.c: DBSIZE, KEYS, RANDOMKEY over every shard (S > 1) */
bool node_chain_wanted(const struct node *node, const struct node_client *client,
                       enum node_read_kind kind);
uint32_t node_chain_first_shard(const struct node *node, enum node_read_kind kind);
void node_chain_step(struct node *node, struct node_request *request,
                     const struct resp_arg *argv, uint32_t argc);
void node_chain_start_relayed(struct node *node, struct node_request *request, uint32_t shard);
void node_chain_write_relay(struct node *node, struct node_request *request, uint32_t done);

/* commands_cluster.c */
void node_cmd_cluster(struct node_exec *exec);
void node_cmd_cluster_flag(struct node_exec *exec);
void node_cluster_slot_serve(struct node_group *group, struct resp_out *out,
                             enum node_read_kind kind, const struct resp_arg *argv,
                             uint32_t argc);

/* commands_info.c */
void node_cmd_info(struct node_exec *exec);
void node_cmd_hello(struct node_exec *exec);

/* commands_auth.c */
void node_cmd_auth(struct node_exec *exec);
/* Authenticates the client as `user` with `password`: true, or false after replying
 * -WRONGPASS (and holding the connection, counting toward the node's limit). */
bool node_auth_attempt(struct node_exec *exec, const struct resp_arg *user,
                       const struct resp_arg *password);
void node_cmd_config(struct node_exec *exec);

/* commands_acl.c: ACL users (acl.h), replicated through the ACL group's log */
void node_cmd_acl(struct node_exec *exec);
/* Whether the client's user may run the command with these keys; false after replying
 * -NOPERM (or closing the connection of a user that was deleted). */
bool node_acl_permits(struct node_exec *exec);

/* commands_command.c: the catalog ACL permissions are kept over, a command's id in it (-1:
 * not in it; NODE_ACL_ARITY: a subcommand of the wrong arity, which its command refuses
 * before permissions are looked at, as Redis does) and its name as NOPERM says it, and
 * whether the user may touch every key. */
#define NODE_ACL_ARITY (-2)
const struct acl_catalog *node_acl_catalog(void);
int32_t node_acl_command_id(const struct resp_arg *argv, uint32_t argc, char *name, size_t cap);
bool node_acl_keys_permitted(const struct acl_user *user, const struct resp_arg *argv,
                             uint32_t argc);

#endif
