/* The per-process cache of accepted tokens (see aud_token_cache.h). */
#include "aud_token_cache.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"


/* The verdict's strings, in the order an entry's blob keeps them. */
static const size_t member_offsets[] = {
    offsetof(aud_tc_verdict, token_fields), offsetof(aud_tc_verdict, token_id), offsetof(aud_tc_verdict, matched),
    offsetof(aud_tc_verdict, iss),          offsetof(aud_tc_verdict, sub),      offsetof(aud_tc_verdict, client),
    offsetof(aud_tc_verdict, scope),        offsetof(aud_tc_verdict, user),     offsetof(aud_tc_verdict, hint_codes),
    offsetof(aud_tc_verdict, hint_text),    offsetof(aud_tc_verdict, detail_hint), offsetof(aud_tc_verdict, claims),
};
#define N_STRINGS (sizeof member_offsets / sizeof *member_offsets)

typedef struct entry {
    struct entry *chain;
    aud_tc_key key;
    double valid_until;
    /* Offsets into blob, UINT32_MAX for NULL. */
    uint32_t offset[N_STRINGS];
    size_t blob_len;
    char blob[];
} entry;

static struct {
    apr_thread_mutex_t *lock;
    entry **buckets;
    size_t n_buckets; /* a power of two */
    entry **ring;     /* insertion order, for first-in-first-out eviction */
    size_t capacity;
    size_t next;
    EVP_MD *sha256;
} cache;

static const char **member(aud_tc_verdict *v, size_t i)
{
    return (const char **)((char *)v + member_offsets[i]);
}

static apr_status_t cache_cleanup(void *data)
{
    for (size_t i = 0; cache.ring != NULL && i < cache.capacity; i++)
        free(cache.ring[i]);
    free(cache.ring);
    free(cache.buckets);
    EVP_MD_free(cache.sha256);
    memset(&cache, 0, sizeof cache);
    return APR_SUCCESS;
}

void aud_tc_init(apr_pool_t *pool, size_t capacity)
{
    size_t n = 1;

    cache_cleanup(NULL);
    if (capacity == 0)
        return;
    while (n < capacity)
        n <<= 1;
    cache.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cache.buckets = calloc(n, sizeof *cache.buckets);
    cache.ring = calloc(capacity, sizeof *cache.ring);
    if (cache.sha256 == NULL || cache.buckets == NULL || cache.ring == NULL ||
        apr_thread_mutex_create(&cache.lock, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS) {
        /* No cache is slower, never wrong. */
        cache_cleanup(NULL);
        return;
    }
    cache.n_buckets = n;
    cache.capacity = capacity;
    apr_pool_cleanup_register(pool, NULL, cache_cleanup, apr_pool_cleanup_null);
}

bool aud_tc_enabled(void)
{
    return cache.lock != NULL;
}

bool aud_tc_digest(const char *token, size_t len, unsigned char digest[AUD_TC_DIGEST_LEN])
{
    unsigned int n = 0;

    return cache.sha256 != NULL && EVP_Digest(token, len, digest, &n, cache.sha256, NULL) == 1 &&
           n == AUD_TC_DIGEST_LEN;
}

static size_t bucket_of(const aud_tc_key *key)
{
    size_t h;

    memcpy(&h, key->digest, sizeof h);
    return h & (cache.n_buckets - 1);
}

static bool same_key(const aud_tc_key *a, const aud_tc_key *b)
{
    return a->verifier == b->verifier && a->user_claim == b->user_claim && a->key_generation == b->key_generation &&
           memcmp(a->digest, b->digest, AUD_TC_DIGEST_LEN) == 0;
}

static entry **find(const aud_tc_key *key)
{
    entry **slot = &cache.buckets[bucket_of(key)];

    for (; *slot != NULL; slot = &(*slot)->chain) {
        if (same_key(&(*slot)->key, key))
            return slot;
    }
    return NULL;
}

static void unlink_entry(entry *e)
{
    entry **slot = &cache.buckets[bucket_of(&e->key)];

    for (; *slot != NULL; slot = &(*slot)->chain) {
        if (*slot == e) {
            *slot = e->chain;
            return;
        }
    }
}

bool aud_tc_lookup(const aud_tc_key *key, double now, apr_pool_t *pool, aud_tc_verdict *out)
{
    entry **slot;
    bool hit = false;

    if (cache.lock == NULL || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS)
        return false;
    slot = find(key);
    /* Expired entries stay until pushed out; they are simply not hits. */
    if (slot != NULL && now < (*slot)->valid_until) {
        const entry *e = *slot;
        /* One copy of the whole blob: the lock is held for a memcpy. */
        char *blob = apr_pmemdup(pool, e->blob, e->blob_len);
        for (size_t i = 0; i < N_STRINGS; i++)
            *member(out, i) = e->offset[i] == UINT32_MAX ? NULL : blob + e->offset[i];
        hit = true;
    }
    apr_thread_mutex_unlock(cache.lock);
    return hit;
}

void aud_tc_insert(const aud_tc_key *key, double valid_until, const aud_tc_verdict *verdict)
{
    aud_tc_verdict v = *verdict;
    size_t len[N_STRINGS], total = 0;
    entry *e, *evicted = NULL;
    char *p;

    if (cache.lock == NULL)
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

    if (apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) {
        free(e);
        return;
    }
    entry **old = find(key);
    if (old != NULL) {
        /* Another thread got there first, or an expired entry for this token
         * is still here: keep one entry per token, the later expiry. */
        if ((*old)->valid_until < valid_until)
            (*old)->valid_until = valid_until;
        apr_thread_mutex_unlock(cache.lock);
        free(e);
        return;
    }
    evicted = cache.ring[cache.next];
    if (evicted != NULL)
        unlink_entry(evicted);
    cache.ring[cache.next] = e;
    cache.next = (cache.next + 1) % cache.capacity;
    e->chain = cache.buckets[bucket_of(key)];
    cache.buckets[bucket_of(key)] = e;
    apr_thread_mutex_unlock(cache.lock);
    free(evicted);
}
