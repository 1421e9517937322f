/* progress.c — how far a peer holds a group's log, as its own messages report it
 * (progress.h). */
#include "consensus/progress.h"

bool cn_progress_reported(const struct cn_message *m, uint64_t *index)
{
    if (m->reject)
        return false;
    switch (m->type) {
    case CN_MSG_APPEND_RESPONSE:
        /* Raft: the index the follower's log matches the leader's through (§5.3). */
        *index = m->index;
        return true;
    case CN_MSG_LEASE_RESPONSE:
        /* Multi-Paxos: the answerer's chosen prefix; a learner holds every value in it. */
        *index = m->commit;
        return true;
    default:
        return false;
    }
}
