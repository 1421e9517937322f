/* registry.c — maps protocol names to cores. The only file that knows every core. */
#include "protocol/registry.h"

#include <string.h>

#include "paxos/paxos.h"
#include "raft/raft.h"

const struct cn_ops *protocol_find(const char *name)
{
    if (strcmp(name, "raft") == 0)
        return &raft_ops;
    if (strcmp(name, "paxos") == 0)
        return &paxos_ops;
    return NULL;
}

const char *protocol_names(void) { return "raft, paxos"; }
