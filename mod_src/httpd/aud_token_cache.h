/* A per-process cache of accepted tokens, so that a token a client presents
 * again is not verified again (an RSA or ECDSA verification costs tens of
 * microseconds; a lookup well under one).
 *
 * Keyed by the token's SHA-256, by the verifier that accepted it (plus the
 * user claim the module named the user by), so a token accepted by one
 * location's settings is never taken as accepted by another's, and by the
 * generation of the keys it was verified with, so that an acceptance never
 * outlives a change of remote keys. An entry
 * lives until the token expires (exp + leeway, as the verifier judges it),
 * until it is pushed out by newer entries (first in, first out, fixed
 * capacity), or until the process ends; a graceful restart starts new
 * processes and so an empty cache. Only accepted tokens are kept: a
 * rejection is always decided afresh. */
#ifndef AUD_TOKEN_CACHE_H
#define AUD_TOKEN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apr_pools.h"

#define AUD_TC_DIGEST_LEN 32

/* What a request needs from an accepted token. Every string is plain text
 * (NULL when the token had no such value) and, when returned by a lookup,
 * allocated in the caller's pool. */
typedef struct {
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
} aud_tc_verdict;

/* Sets the cache up for this process, cleared with pool (the child's pool).
 * capacity 0 leaves it off. Not thread-safe: call from child_init. */
void aud_tc_init(apr_pool_t *pool, size_t capacity);
bool aud_tc_enabled(void);

/* The cache key of a token; false if hashing failed (then do not cache). */
bool aud_tc_digest(const char *token, size_t len, unsigned char digest[AUD_TC_DIGEST_LEN]);

/* Whose acceptance an entry records: the verifier and the user claim
 * (compared by address) and the generation of the verifier's keys
 * (aud_verifier_key_generation). */
typedef struct {
    const void *verifier;
    const void *user_claim;
    uint64_t key_generation;
    unsigned char digest[AUD_TC_DIGEST_LEN];
} aud_tc_key;

/* True and *out filled on a hit that is still valid at now. */
bool aud_tc_lookup(const aud_tc_key *key, double now, apr_pool_t *pool, aud_tc_verdict *out);

/* Keeps a verdict until valid_until (seconds since the epoch). */
void aud_tc_insert(const aud_tc_key *key, double valid_until, const aud_tc_verdict *verdict);

#endif
