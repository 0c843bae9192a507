/* A per-process cache of verdicts on tokens, so that a token a client
 * presents again is not verified again (an RSA or ECDSA verification costs
 * tens of microseconds; a lookup well under one).
 *
 * Keyed by the token's SHA-256 (aud_token_digest), by the verifier that
 * judged it (plus the user claim the module named the user by), so a token
 * judged under one location's settings is never taken as judged under
 * another's, and by the generation of the keys it was verified with, so that
 * a verdict never outlives a change of remote keys.
 *
 * Two kinds of entry, each with its own room so that a flood of one cannot
 * push out the other: acceptances (AudCacheEntries of them), kept until the
 * token expires (exp + leeway, as the verifier judges it); and refusals that
 * time cannot change (a quarter as many, aud_tc_refusal_cacheable), kept
 * until the token would expire and never more than AUD_TC_REFUSAL_SECONDS.
 * Both are first in, first out at a fixed capacity, and gone when the
 * process ends; a graceful restart starts new processes and so an empty
 * cache.
 *
 * Locks: the cache is split into shards by digest; a shard's mutex protects
 * its hash chains and its two eviction rings, and is held for one chain walk
 * and one copy (or one link and unlink). No lock covers the whole cache. */
#ifndef AUD_TOKEN_CACHE_H
#define AUD_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apr_pools.h"

#include "aud_token.h"

#define AUD_TC_REFUSAL_SECONDS 300.0

/* What a request needs from a verdict. Every string is plain text (NULL
 * when the token had no such value) and, when returned by a lookup,
 * allocated in the caller's pool. */
typedef struct {
    uint32_t reasons;         /* as in aud_result; 0 for an acceptance */
    const char *token_fields; /* the token's part of the audit record */
    const char *token_id;
    const char *matched;
    const char *iss;
    const char *sub;
    const char *client;
    const char *scope;
    const char *user;
    const char *hint_codes; /* "deprecated_audience", for AUD_HINT */
    const char *hint_text;  /* the first hint's sentence, for AUD_HINT_TEXT */
    /* The hint about the check a refusal's description names
     * (AudErrorDetail); NULL when none is about it. */
    const char *detail_hint;
    /* The claims as compact JSON, kept only for locations whose
     * authorization reads them (Require aud-*). */
    const char *claims;
    const char *aud_json; /* a refusal's audiences, for its log line */
} aud_tc_verdict;

/* Sets the cache up for this process, cleared with pool (the child's pool).
 * capacity (acceptances) 0 leaves it off. Not thread-safe: call from
 * child_init. */
void aud_tc_init(apr_pool_t *pool, size_t capacity);
bool aud_tc_enabled(void);

/* Whose verdict an entry records: the verifier and the user claim
 * (compared by address) and the generation of the verifier's keys
 * (aud_verifier_key_generation). */
typedef struct {
    const void *verifier;
    const void *user_claim;
    uint64_t key_generation;
    unsigned char digest[AUD_TOKEN_DIGEST_LEN];
} aud_tc_key;

/* Whether a refusal with these reasons stays the same refusal until the
 * token expires. Not when the passing of time is part of it (expired, not
 * yet valid), nor when keys may yet arrive (keys unavailable), nor, with
 * remote key sources, when a refresh could bring the key (unknown key, bad
 * signature: the verifier asks the sources to refresh on each of those). */
bool aud_tc_refusal_cacheable(uint32_t reasons, bool remote_keys);

/* True and *out filled on a hit that is still valid at now. */
bool aud_tc_lookup(const aud_tc_key *key, double now, apr_pool_t *pool, aud_tc_verdict *out);

/* Keeps a verdict until valid_until (seconds since the epoch). */
void aud_tc_insert(const aud_tc_key *key, double valid_until, const aud_tc_verdict *verdict);

#endif
