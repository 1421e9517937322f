/* consensus.c — names, error strings and default tuning shared by every core. */
#include "consensus/consensus.h"

#include <string.h>

const char *cn_strerror(int error)
{
    switch (error) {
    case CN_OK: return "ok";
    case CN_ERR_NOT_LEADER: return "not the leader";
    case CN_ERR_BUSY: return "too many pending requests";
    case CN_ERR_TOO_LARGE: return "too large";
    case CN_ERR_MALFORMED: return "malformed input";
    case CN_ERR_VERSION: return "unknown encoding version";
    case CN_ERR_TRANSFERRING: return "leadership transfer in progress";
    case CN_ERR_INVALID: return "invalid argument";
    }
    return "unknown error";
}

const char *cn_role_name(enum cn_role role)
{
    switch (role) {
    case CN_ROLE_FOLLOWER: return "follower";
    case CN_ROLE_PRE_CANDIDATE: return "pre-candidate";
    case CN_ROLE_CANDIDATE: return "candidate";
    case CN_ROLE_LEADER: return "leader";
    }
    return "unknown";
}

const char *cn_message_type_name(uint8_t type)
{
    switch (type) {
    case CN_MSG_APPEND: return "append";
    case CN_MSG_APPEND_RESPONSE: return "append-resp";
    case CN_MSG_VOTE: return "vote";
    case CN_MSG_VOTE_RESPONSE: return "vote-resp";
    case CN_MSG_PRE_VOTE: return "pre-vote";
    case CN_MSG_PRE_VOTE_RESPONSE: return "pre-vote-resp";
    case CN_MSG_HEARTBEAT: return "heartbeat";
    case CN_MSG_HEARTBEAT_RESPONSE: return "heartbeat-resp";
    case CN_MSG_SNAPSHOT: return "snapshot";
    case CN_MSG_SNAPSHOT_RESPONSE: return "snapshot-resp";
    case CN_MSG_TIMEOUT_NOW: return "timeout-now";
    case CN_MSG_READ_INDEX: return "read-index";
    case CN_MSG_READ_INDEX_RESPONSE: return "read-index-resp";
    case CN_MSG_PROPOSE: return "propose";
    case CN_MSG_PROPOSE_RESPONSE: return "propose-resp";
    case CN_MSG_PROXY: return "proxy";
    case CN_MSG_PROXY_RESPONSE: return "proxy-resp";
    case CN_MSG_NODE_BEAT: return "node-beat";
    case CN_MSG_NODE_HEARTBEATS: return "node-heartbeats";
    case CN_MSG_PREPARE: return "prepare";
    case CN_MSG_PROMISE: return "promise";
    case CN_MSG_ACCEPT: return "accept";
    case CN_MSG_ACCEPTED: return "accepted";
    case CN_MSG_CHOSEN: return "chosen";
    case CN_MSG_CATCHUP: return "catchup";
    case CN_MSG_LEASE: return "lease";
    case CN_MSG_LEASE_RESPONSE: return "lease-resp";
    }
    return "unknown";
}

/* Defaults in the spirit of etcd's: a tick is meant to be ~10 ms in the server, so the election
 * timeout is 100-200 ms and heartbeats go every 10 ms... (the server chooses the tick length). */
void cn_config_defaults(struct cn_config *config)
{
    memset(config, 0, sizeof(*config));
    config->election_ticks = 10;
    config->heartbeat_ticks = 1;
    config->pre_vote = true;
    config->check_quorum = true;
    config->inflight_messages_max = 64;
    config->message_entries_max = 256;
    config->message_bytes_max = 1u << 20;
    config->pending_proposals_max = 4096;
    config->pending_reads_max = 4096;
    config->log_bytes_max = 64ull << 20;
    config->random_seed = 1;
}
