/* The per-process cache of verdicts (see aud_token_cache.h). */
#include "aud_token_cache.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "aud_result.h"

/* Threads of one process spread over this many locks; more than an event
 * MPM child's usual ThreadsPerChild would gain nothing. */
#define N_SHARDS 64

/* The verdict's strings, in the order an entry's blob keeps them; token_fields
 * first (TOKEN_FIELDS), which a verdict may lack. */
static const size_t member_offsets[] = {
    offsetof(aud_tc_verdict, token_fields), offsetof(aud_tc_verdict, token_id),    offsetof(aud_tc_verdict, matched),
    offsetof(aud_tc_verdict, iss),          offsetof(aud_tc_verdict, sub),         offsetof(aud_tc_verdict, client),
    offsetof(aud_tc_verdict, scope),        offsetof(aud_tc_verdict, user),        offsetof(aud_tc_verdict, hint_codes),
    offsetof(aud_tc_verdict, hint_text),    offsetof(aud_tc_verdict, detail_hint), offsetof(aud_tc_verdict, claims),
    offsetof(aud_tc_verdict, aud_json),
};
#define N_STRINGS (sizeof member_offsets / sizeof *member_offsets)
#define TOKEN_FIELDS 0

enum { KIND_ACCEPTED, KIND_REFUSED, N_KINDS };

typedef struct entry {
    struct entry *chain;
    aud_tc_key key;
    double valid_until;
    uint32_t reasons;
    int kind;         /* KIND_ACCEPTED or KIND_REFUSED: which ring holds it */
    size_t ring_slot; /* and where */
    /* Offsets into blob, UINT32_MAX for NULL. */
    uint32_t offset[N_STRINGS];
    size_t blob_len;
    char blob[];
} entry;

/* An entry's room: first in, first out. */
typedef struct {
    entry **slots;
    size_t capacity;
    size_t next;
} ring;

typedef struct {
    apr_thread_mutex_t *lock;
    entry **buckets;
    size_t bucket_mask; /* buckets - 1, a power of two less one */
    ring rings[N_KINDS];
} shard;

static shard shards[N_SHARDS];
static bool enabled;

static const char **member(aud_tc_verdict *v, size_t i)
{
    return (const char **)((char *)v + member_offsets[i]);
}

static apr_status_t cache_cleanup(void *data)
{
    (void)data;
    for (size_t s = 0; s < N_SHARDS; s++) {
        for (int k = 0; k < N_KINDS; k++) {
            ring *rg = &shards[s].rings[k];
            for (size_t i = 0; rg->slots != NULL && i < rg->capacity; i++)
                free(rg->slots[i]);
            free(rg->slots);
        }
        free(shards[s].buckets);
    }
    memset(shards, 0, sizeof shards);
    enabled = false;
    return APR_SUCCESS;
}

void aud_tc_init(apr_pool_t *pool, size_t capacity)
{
    cache_cleanup(NULL);
    if (capacity == 0)
        return;
    /* Every shard holds at least one of each kind. */
    size_t per_shard[N_KINDS] = {(capacity + N_SHARDS - 1) / N_SHARDS, (capacity / 4 + N_SHARDS - 1) / N_SHARDS};
    for (size_t s = 0; s < N_SHARDS; s++) {
        shard *sh = &shards[s];
        size_t n = 1;
        while (n < per_shard[KIND_ACCEPTED] + per_shard[KIND_REFUSED])
            n <<= 1;
        sh->buckets = calloc(n, sizeof *sh->buckets);
        sh->bucket_mask = n - 1;
        bool ok = sh->buckets != NULL &&
                  apr_thread_mutex_create(&sh->lock, APR_THREAD_MUTEX_DEFAULT, pool) == APR_SUCCESS;
        for (int k = 0; ok && k < N_KINDS; k++) {
            sh->rings[k].capacity = per_shard[k] > 0 ? per_shard[k] : 1;
            sh->rings[k].slots = calloc(sh->rings[k].capacity, sizeof *sh->rings[k].slots);
            ok = sh->rings[k].slots != NULL;
        }
        if (!ok) {
            /* No cache is slower, never wrong. */
            cache_cleanup(NULL);
            return;
        }
    }
    enabled = true;
    apr_pool_cleanup_register(pool, NULL, cache_cleanup, apr_pool_cleanup_null);
}

bool aud_tc_enabled(void)
{
    return enabled;
}

bool aud_tc_refusal_cacheable(uint32_t reasons, bool remote_keys)
{
    uint32_t changing = AUD_REASON_BIT(AUD_REASON_NO_TOKEN) | AUD_REASON_BIT(AUD_REASON_EXPIRED) |
                        AUD_REASON_BIT(AUD_REASON_NOT_YET_VALID) | AUD_REASON_BIT(AUD_REASON_KEYS_UNAVAILABLE) |
                        AUD_REASON_BIT(AUD_REASON_INSUFFICIENT_SCOPE);
    if (remote_keys)
        changing |= AUD_REASON_BIT(AUD_REASON_UNKNOWN_KEY) | AUD_REASON_BIT(AUD_REASON_BAD_SIGNATURE);
    return reasons != 0 && (reasons & changing) == 0;
}

/* The digest is SHA-256, so any of its bytes is as good as any other: the
 * shard from the last one, the bucket from the first eight. */
static shard *shard_of(const aud_tc_key *key)
{
    return &shards[key->digest[AUD_TOKEN_DIGEST_LEN - 1] % N_SHARDS];
}

static size_t bucket_of(const shard *sh, const aud_tc_key *key)
{
    size_t h;

    memcpy(&h, key->digest, sizeof h);
    return h & sh->bucket_mask;
}

static bool same_key(const aud_tc_key *a, const aud_tc_key *b)
{
    return a->verifier == b->verifier && a->user_claim == b->user_claim && a->key_generation == b->key_generation &&
           memcmp(a->digest, b->digest, AUD_TOKEN_DIGEST_LEN) == 0;
}

static entry **find(shard *sh, const aud_tc_key *key)
{
    entry **slot = &sh->buckets[bucket_of(sh, key)];

    for (; *slot != NULL; slot = &(*slot)->chain) {
        if (same_key(&(*slot)->key, key))
            return slot;
    }
    return NULL;
}

static void unlink_entry(shard *sh, entry *e)
{
    entry **slot = &sh->buckets[bucket_of(sh, &e->key)];

    for (; *slot != NULL; slot = &(*slot)->chain) {
        if (*slot == e) {
            *slot = e->chain;
            return;
        }
    }
}

bool aud_tc_lookup(const aud_tc_key *key, double now, apr_pool_t *pool, aud_tc_verdict *out)
{
    shard *sh;
    entry **slot;
    char *blob = NULL;
    const entry *e = NULL;

    if (!enabled)
        return false;
    sh = shard_of(key);
    if (apr_thread_mutex_lock(sh->lock) != APR_SUCCESS)
        return false;
    slot = find(sh, key);
    /* Expired entries stay until pushed out; they are simply not hits. */
    if (slot != NULL && now < (*slot)->valid_until) {
        e = *slot;
        /* One copy of the whole blob: the lock is held for a memcpy. */
        blob = apr_pmemdup(pool, e->blob, e->blob_len);
        out->reasons = e->reasons;
        for (size_t i = 0; i < N_STRINGS; i++)
            *member(out, i) = e->offset[i] == UINT32_MAX ? NULL : blob + e->offset[i];
    }
    apr_thread_mutex_unlock(sh->lock);
    return e != NULL;
}

void aud_tc_insert(const aud_tc_key *key, double valid_until, const aud_tc_verdict *verdict)
{
    aud_tc_verdict v = *verdict;
    size_t len[N_STRINGS], total = 0;
    entry *e, *evicted = NULL;
    shard *sh;
    ring *rg;
    char *p;

    if (!enabled)
        return;
    for (size_t i = 0; i < N_STRINGS; i++) {
        const char *s = *member(&v, i);
        len[i] = s ? strlen(s) + 1 : 0;
        total += len[i];
    }
    if (total > UINT32_MAX / 2)
        return;
    e = malloc(sizeof *e + total);
    if (e == NULL)
        return;
    e->chain = NULL;
    e->key = *key;
    e->valid_until = valid_until;
    e->reasons = v.reasons;
    e->kind = v.reasons == 0 ? KIND_ACCEPTED : KIND_REFUSED;
    e->blob_len = total;
    p = e->blob;
    for (size_t i = 0; i < N_STRINGS; i++) {
        const char *s = *member(&v, i);
        if (s == NULL) {
            e->offset[i] = UINT32_MAX;
            continue;
        }
        e->offset[i] = (uint32_t)(p - e->blob);
        memcpy(p, s, len[i]);
        p += len[i];
    }

    sh = shard_of(key);
    rg = &sh->rings[e->kind];
    if (apr_thread_mutex_lock(sh->lock) != APR_SUCCESS) {
        free(e);
        return;
    }
    entry **old = find(sh, key);
    if (old != NULL && (*old)->reasons == e->reasons && (*old)->valid_until >= valid_until &&
        ((*old)->offset[TOKEN_FIELDS] != UINT32_MAX || e->offset[TOKEN_FIELDS] == UINT32_MAX)) {
        /* Another thread got there first with the same verdict. */
        apr_thread_mutex_unlock(sh->lock);
        free(e);
        return;
    }
    if (old != NULL) {
        /* The newer judgement wins: the old entry has run out (a verdict
         * on the same token under the same settings and keys changes only
         * then, as when an AudAllowUntil day has passed: accepted before,
         * refused now; an old verdict must never be stretched to the new
         * one's expiry), or it lacks the record's token fields. It goes
         * from its chain and from its own ring. */
        entry *gone = *old;
        *old = gone->chain;
        sh->rings[gone->kind].slots[gone->ring_slot] = NULL;
        free(gone);
    }
    evicted = rg->slots[rg->next];
    if (evicted != NULL)
        unlink_entry(sh, evicted);
    rg->slots[rg->next] = e;
    e->ring_slot = rg->next;
    rg->next = (rg->next + 1) % rg->capacity;
    e->chain = sh->buckets[bucket_of(sh, key)];
    sh->buckets[bucket_of(sh, key)] = e;
    apr_thread_mutex_unlock(sh->lock);
    free(evicted);
}
