/* registry.h — the consensus protocols compiled into chorus, looked up by name. */
#ifndef CHORUS_PROTOCOL_REGISTRY_H
#define CHORUS_PROTOCOL_REGISTRY_H

#include "consensus/consensus.h"

/* Returns the operations table of protocol `name` ("raft", "paxos"), or NULL when unknown. */
const struct cn_ops *protocol_find(const char *name);

/* A comma-separated list of the known protocol names, for help texts. */
const char *protocol_names(void);

#endif
