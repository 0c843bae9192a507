/* A verifier: built once from a location's configuration, then used to check
 * tokens from any number of threads at once, without locks. */
#ifndef AUD_VERIFIER_H
#define AUD_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aud_alg.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"

#define AUD_DEFAULT_LEEWAY 60.0
#define AUD_DEFAULT_MAX_TOKEN_SIZE 16384

/* Seconds since the epoch. The core never reads a clock itself, so that a
 * test can fix time and the module can use the request's time. */
typedef double aud_now_fn(void *baton);

/* Keys that change while a verifier lives (a remote JWKS that rotates). The
 * verifier asks for the current set once per token and gives it back when
 * done, so a source can swap sets under concurrent checks.
 *
 * Each set a source hands out carries a generation that grows whenever the
 * source's keys change, so that whoever remembers a verdict (the module's
 * token cache) can tell whether it was reached with the keys in use now. */
typedef struct {
    /* The current key set and its generation, or NULL when none can be had
     * (no fetch has succeeded, or the last good set is too stale):
     * keys_unavailable. */
    const aud_keyset *(*acquire)(void *baton, uint64_t *generation);
    void (*release)(void *baton, const aud_keyset *set);
    /* A token named a kid the current set lacks: a chance to refresh early.
     * The source decides how often that may cost a fetch. */
    void (*kid_missing)(void *baton, const char *kid);
    /* The generation acquire would hand out now; false when that may change
     * before then (a refresh is due, or another process fetched news).
     * Never fetches, never waits. */
    bool (*quiet)(void *baton, uint64_t *generation);
    /* A key of this source fitted a token but did not verify its signature:
     * the identity provider may have put a new key under an old kid. The
     * same chance to refresh early as kid_missing, at the same rate. May be
     * NULL. */
    void (*signature_failed)(void *baton, const char *kid);
    void *baton;
} aud_key_source;

typedef struct {
    /* Borrowed: they must outlive the verifier. Several verifiers may share
     * one key set. */
    const aud_keyset *const *keysets;
    size_t n_keysets;
    /* Borrowed, like keysets; consulted after them. */
    const aud_key_source *sources;
    size_t n_sources;
    /* 0 means every asymmetric algorithm; HS* only when listed. */
    aud_alg_set algorithms;
    /* None configured: iss is not checked. An issuer holding the literal
     * {tenantid} once is a template (Entra ID multi-tenant): iss matches it
     * when iss equals it with the token's tid claim in that place, byte for
     * byte, and that tid is allowed (tenants, any_tenant). */
    const char *const *issuers;
    size_t n_issuers;
    /* The tenants (tid values) a template accepts; any_tenant: every tid
     * that is a tenant id (a lower-case GUID, as Microsoft asks to check).
     * A template with neither is refused by aud_verifier_create, so that
     * accepting every tenant is always said explicitly. */
    const char *const *tenants;
    size_t n_tenants;
    bool any_tenant;
    /* None configured: typ is not checked. Otherwise the header's typ must
     * be one of these media types (RFC 7515 4.1.9: compared without regard
     * to case, "application/" implied when there is no '/'). */
    const char *const *token_types;
    size_t n_token_types;
    /* None configured: every token is refused (no_audience_configured). */
    const char *const *audiences;
    size_t n_audiences;
    /* Optional, parallel to audiences: the time (exclusive) until which each
     * audience is accepted (AudAllowUntil), or 0 for no end. NULL: no ends. */
    const double *audience_until;
    double leeway;
    size_t max_token_size;
    aud_now_fn *now; /* required */
    void *now_baton;
} aud_verifier_config;

typedef struct aud_verifier aud_verifier;

/* Sets the defaults (leeway, size limit); the caller fills in the rest. */
void aud_verifier_config_init(aud_verifier_config *config);

/* Copies everything it needs from config except the key sets. */
aud_verifier *aud_verifier_create(const aud_verifier_config *config, aud_error *err);
void aud_verifier_destroy(aud_verifier *v);

/* The generation of the keys a check would use now (the sum of the
 * sources' generations, 0 without sources), for keying remembered verdicts;
 * false when some source is not quiet, and then nothing should be looked up
 * or remembered. */
bool aud_verifier_key_generation(const aud_verifier *v, uint64_t *generation);

/* Checks a compact JWS. Never returns NULL except on memory exhaustion.
 * Every failing check is reported, not only the first, and claims are
 * checked even when the signature is not valid (signature_verified says
 * whether they can be believed). reasons == 0 means accepted; details[]
 * holds plain words for each failure.
 *
 * no_token         the token is empty.
 * malformed        over max_token_size; not three strict base64url segments
 *                  (no '=', '+', '/', whitespace, non-zero trailing bits);
 *                  header or payload not a JSON object; duplicate names,
 *                  \u0000, overflowing numbers, nesting over 20; "alg" or
 *                  "kid" not a string; any "crit" or "b64" (no extension is
 *                  implemented); "aud" not a string or a non-empty array of
 *                  strings. A bad header does not stop the claim checks.
 * alg_not_allowed  "none" in any spelling; an unknown name (case-sensitive);
 *                  not in config.algorithms.
 * unknown_key      the kid names no configured key, or none that fits the
 *                  alg (never a fallback to other keys); no kid and no key
 *                  fits the alg (type, curve, the key's own alg, HMAC
 *                  secret length).
 * bad_signature    no fitting key verifies (ES* must be raw R||S of exact
 *                  length; DER and r = 0 or s = 0 fail). Keys in the header
 *                  (jwk, jku, x5u, x5c) are never used.
 * keys_unavailable a key source has nothing and no other key fits.
 *                  When a kid is unknown (kid_missing), or a source's key
 *                  fitted and failed (signature_failed), the sources are
 *                  told; if that changed their keys, the signature is
 *                  checked once more with the new ones. r->key_generation says which
 *                  keys the verdict rests on.
 * claim_invalid    exp missing or not a number; nbf/iat/iss of the wrong
 *                  type.
 * expired          now >= exp + leeway.
 * not_yet_valid    nbf > now + leeway, or iat > now + leeway.
 * issuer_mismatch  issuers configured and iss absent or not byte-equal;
 *                  for a template: no tid, tid not a string, iss not
 *                  naming tid, or tid not an allowed tenant.
 * token_type       token_types configured and the header's typ absent, not
 *                  a string or not one of them.
 * no_audience_configured  nothing is allowed, so nothing is accepted.
 * aud_missing, aud_mismatch  no aud, or no value byte-equal to an allowed
 *                  audience still in its allowance (audience_until); a
 *                  permanent audience is preferred over an expiring one. */
aud_result *aud_verifier_check(const aud_verifier *v, const char *token, size_t token_len);
/* aud_verifier_check for a caller that has hashed the token already
 * (aud_token_digest; NULL: hash it here), so that it is hashed once. */
aud_result *aud_verifier_check_digested(const aud_verifier *v, const char *token, size_t token_len,
                                        const unsigned char *digest);

#endif
