/*
 * membership.c — configurations: packed form, validity and joint quorums (membership.h).
 */
#include <assert.h>
#include <string.h>

#include "consensus/membership.h"

static bool list_valid(const struct cn_members *list)
{
    if (list->count > CN_MEMBERS_MAX)
        return false;
    for (uint32_t i = 0; i < list->count; i++) {
        if (list->ids[i] == 0 || list->ids[i] >= CN_MEMBER_ID_LIMIT)
            return false;
        if (i > 0 && list->ids[i] <= list->ids[i - 1])
            return false;
    }
    return true;
}

/* Adds `id` to the ascending set `ids` of `*count`; the caller bounds the count. */
static void set_add(cn_node_id *ids, uint32_t *count, uint32_t capacity, cn_node_id id)
{
    uint32_t at = 0;
    while (at < *count && ids[at] < id)
        at++;
    if (at < *count && ids[at] == id)
        return;
    assert(*count < capacity);
    for (uint32_t i = *count; i > at; i--)
        ids[i] = ids[i - 1];
    ids[at] = id;
    (*count)++;
}

/* The union, into a buffer large enough for three full lists. */
static uint32_t union_of(const struct cn_membership *m, cn_node_id ids[3 * CN_MEMBERS_MAX])
{
    uint32_t count = 0;
    const struct cn_members *lists[3] = {&m->voters, &m->outgoing, &m->learners};
    for (uint32_t l = 0; l < 3; l++)
        for (uint32_t i = 0; i < lists[l]->count; i++)
            set_add(ids, &count, 3 * CN_MEMBERS_MAX, lists[l]->ids[i]);
    return count;
}

bool cn_membership_valid(const struct cn_membership *m, bool allow_empty)
{
    if (!list_valid(&m->voters) || !list_valid(&m->outgoing) || !list_valid(&m->learners))
        return false;
    if (cn_membership_empty(m))
        return allow_empty;
    if (m->voters.count == 0)
        return false;
    for (uint32_t i = 0; i < m->learners.count; i++)
        if (cn_members_contains(&m->voters, m->learners.ids[i]))
            return false;
    cn_node_id ids[3 * CN_MEMBERS_MAX];
    return union_of(m, ids) <= CN_MEMBERS_MAX;
}

bool cn_membership_is_voter(const struct cn_membership *m, cn_node_id id)
{
    return cn_members_contains(&m->voters, id) || cn_members_contains(&m->outgoing, id);
}

bool cn_membership_contains(const struct cn_membership *m, cn_node_id id)
{
    return cn_membership_is_voter(m, id) || cn_members_contains(&m->learners, id);
}

cn_node_id cn_membership_learner_to_promote(const struct cn_membership *m, uint32_t voters_max,
                                            cn_member_eligible eligible, const void *context)
{
    assert(voters_max >= 1 && voters_max <= CN_MEMBERS_MAX);
    if (cn_membership_joint(m) || m->voters.count >= voters_max)
        return 0;
    /* The learners are sorted, so the first eligible one is the lowest-numbered. */
    for (uint32_t i = 0; i < m->learners.count; i++)
        if (eligible(context, m->learners.ids[i]))
            return m->learners.ids[i];
    return 0;
}

uint32_t cn_membership_nodes(const struct cn_membership *m, cn_node_id ids[CN_MEMBERS_MAX])
{
    cn_node_id all[3 * CN_MEMBERS_MAX];
    uint32_t count = union_of(m, all);
    assert(count <= CN_MEMBERS_MAX);
    memcpy(ids, all, count * sizeof(*ids));
    return count;
}

static bool list_equal(const struct cn_members *a, const struct cn_members *b)
{
    return a->count == b->count && memcmp(a->ids, b->ids, a->count * sizeof(a->ids[0])) == 0;
}

bool cn_membership_equal(const struct cn_membership *a, const struct cn_membership *b)
{
    return list_equal(&a->voters, &b->voters) && list_equal(&a->outgoing, &b->outgoing) &&
           list_equal(&a->learners, &b->learners);
}

void cn_membership_pack(const struct cn_membership *m, struct cn_members *packed)
{
    assert(cn_membership_valid(m, true));
    cn_node_id ids[CN_MEMBERS_MAX];
    uint32_t count = cn_membership_nodes(m, ids);
    memset(packed, 0, sizeof(*packed));
    for (uint32_t i = 0; i < count; i++) {
        cn_node_id v = ids[i];
        if (cn_members_contains(&m->outgoing, ids[i]))
            v |= CN_MEMBER_OUTGOING;
        if (!cn_members_contains(&m->voters, ids[i]))
            v |= CN_MEMBER_NOT_INCOMING;
        if (cn_members_contains(&m->learners, ids[i]))
            v |= CN_MEMBER_LEARNER;
        set_add(packed->ids, &packed->count, CN_MEMBERS_MAX, v);
    }
}

bool cn_membership_unpack(const struct cn_members *packed, struct cn_membership *m)
{
    memset(m, 0, sizeof(*m));
    if (packed->count > CN_MEMBERS_MAX)
        return false;
    const uint32_t bits = CN_MEMBER_LEARNER | CN_MEMBER_OUTGOING | CN_MEMBER_NOT_INCOMING;
    for (uint32_t i = 0; i < packed->count; i++) {
        cn_node_id id = packed->ids[i] & ~bits;
        uint32_t role = packed->ids[i] & bits;
        if (id == 0)
            return false;
        if (cn_membership_contains(m, id))
            return false; /* one entry per node */
        bool incoming = !(role & CN_MEMBER_NOT_INCOMING);
        bool outgoing = role & CN_MEMBER_OUTGOING;
        bool learner = role & CN_MEMBER_LEARNER;
        if (learner && incoming)
            return false;
        if (!incoming && !outgoing && !learner)
            return false; /* a node in no list */
        if (incoming)
            set_add(m->voters.ids, &m->voters.count, CN_MEMBERS_MAX, id);
        if (outgoing)
            set_add(m->outgoing.ids, &m->outgoing.count, CN_MEMBERS_MAX, id);
        if (learner)
            set_add(m->learners.ids, &m->learners.count, CN_MEMBERS_MAX, id);
    }
    return cn_membership_valid(m, true);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t cn_membership_encode(const struct cn_membership *m,
                              uint8_t out[CN_MEMBERSHIP_ENTRY_BYTES_MAX])
{
    struct cn_members packed;
    cn_membership_pack(m, &packed);
    put_u32(out, packed.count);
    for (uint32_t i = 0; i < packed.count; i++)
        put_u32(out + 4 + 4 * i, packed.ids[i]);
    return 4 + 4 * packed.count;
}

bool cn_membership_decode(const uint8_t *data, uint32_t data_len, struct cn_membership *m)
{
    if (data_len < 4 || data == NULL)
        return false;
    struct cn_members packed = {.count = get_u32(data)};
    if (packed.count > CN_MEMBERS_MAX || data_len != 4 + 4 * packed.count)
        return false;
    for (uint32_t i = 0; i < packed.count; i++)
        packed.ids[i] = get_u32(data + 4 + 4 * i);
    return cn_membership_unpack(&packed, m) && !cn_membership_empty(m);
}

bool cn_membership_has_quorum(const struct cn_membership *m, cn_member_test test,
                              const void *context)
{
    if (!cn_quorum_has(&m->voters, test, context))
        return false;
    return !cn_membership_joint(m) || cn_quorum_has(&m->outgoing, test, context);
}

enum cn_tally cn_membership_tally(const struct cn_membership *m, cn_vote_of vote,
                                  const void *context)
{
    enum cn_tally incoming = cn_quorum_tally(&m->voters, vote, context);
    if (!cn_membership_joint(m))
        return incoming;
    enum cn_tally outgoing = cn_quorum_tally(&m->outgoing, vote, context);
    if (incoming == CN_TALLY_LOST || outgoing == CN_TALLY_LOST)
        return CN_TALLY_LOST;
    if (incoming == CN_TALLY_WON && outgoing == CN_TALLY_WON)
        return CN_TALLY_WON;
    return CN_TALLY_PENDING;
}

uint64_t cn_membership_index(const struct cn_membership *m, cn_member_value value,
                             const void *context)
{
    uint64_t incoming = cn_quorum_index(&m->voters, value, context);
    if (!cn_membership_joint(m))
        return incoming;
    uint64_t outgoing = cn_quorum_index(&m->outgoing, value, context);
    return incoming < outgoing ? incoming : outgoing;
}
