/* A verifier: built once from a location's configuration, then used to check
 * tokens from any number of threads at once, without locks. */
#ifndef AUD_VERIFIER_H
#define AUD_VERIFIER_H

#include <stddef.h>

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
 * done, so a source can swap sets under concurrent checks. */
typedef struct {
    /* The current key set, or NULL when none can be had (no fetch has
     * succeeded, or the last good set is too stale): keys_unavailable. */
    const aud_keyset *(*acquire)(void *baton);
    void (*release)(void *baton, const aud_keyset *set);
    /* A token named a kid the current set lacks: a chance to refresh early.
     * The source decides how often that may cost a fetch. */
    void (*kid_missing)(void *baton, const char *kid);
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
    /* None configured: iss is not checked. */
    const char *const *issuers;
    size_t n_issuers;
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
    aud_logger logger;
} aud_verifier_config;

typedef struct aud_verifier aud_verifier;

/* Sets the defaults (leeway, size limit); the caller fills in the rest. */
void aud_verifier_config_init(aud_verifier_config *config);

/* Copies everything it needs from config except the key sets. */
aud_verifier *aud_verifier_create(const aud_verifier_config *config, aud_error *err);
void aud_verifier_destroy(aud_verifier *v);

/* Checks a compact JWS. Never returns NULL except on memory exhaustion.
 * Every failing check is reported, not only the first; claims are checked
 * even when the signature is not valid, and the result says so. */
/* What aud_verifier_check decides (reasons form a bitmask; every failing
 * check is reported, not only the first):
 * - token length 0 -> no_token. Longer than config.max_token_size (default 16384) -> malformed.
 * - Not exactly 3 dot-separated segments; any segment not strict base64url (no padding '=', no '+' or '/', no whitespace, zero trailing bits); header or payload not a JSON object; duplicate member names; \u0000 in any string; number overflow (1e400, huge ints); nesting deeper than AUD_JSON_MAX_DEPTH (20) -> malformed. (If the header is malformed the payload is still decoded and its claims checked, marked unverified.)
 * - header "alg" missing or not a string -> malformed. "none" in any case spelling -> alg_not_allowed. alg unknown, or not in config.algorithms (0 = all asymmetric: RS*, PS*, ES*, EdDSA; HS* only when listed) -> alg_not_allowed. Names are case-sensitive ("rs256" is unknown).
 * - header "crit" present (anything) -> malformed (we implement no extensions); header "b64" present -> malformed.
 * - header jwk/jku/x5u/x5c are ignored, never used or fetched: a token signed by an attacker key embedded in "jwk" fails with bad_signature (no kid) or unknown_key (kid not configured).
 * - "kid" present but not a string -> malformed. kid present and no configured key has it, or none with that kid fits the alg -> unknown_key (never falls back to other keys). No kid: every configured key fitting the alg (type/curve, key's own alg, HMAC secret at least hash-length) is tried; none fits -> unknown_key; none verifies -> bad_signature. ES signature not exactly 64/96/132 bytes (e.g. DER) -> bad_signature; r=0 or s=0 -> bad_signature. RS/PS keys < 2048 bits are refused at load time.
 * - signature_verified is true only if a configured key verified the signature.
 * - Claims are checked whenever the payload is a JSON object, even if the signature failed:
 * exp missing or not a JSON number -> claim_invalid; nbf/iat present and not a number -> claim_invalid.
 * now >= exp + leeway -> expired. nbf > now + leeway -> not_yet_valid. iat > now + leeway -> not_yet_valid. (leeway default 60; fractions allowed.)
 * issuers configured: iss missing or not byte-equal to one -> issuer_mismatch (iss present but not a string -> claim_invalid). No issuers configured: iss unchecked.
 * no audiences configured -> no_audience_configured (never accept). Else aud missing -> aud_missing; aud not a string or a non-empty array of strings (number, object, null, [], [1]) -> malformed; no element byte-equal to a configured audience -> aud_mismatch; else matched_audience = that configured audience (case-sensitive, no normalisation of slashes/schemes/Unicode).
 * - reasons == 0 means accepted. result->details[reason] holds plain words for each failure. header/claims hold the decoded JSON (NULL when not an object).
 */
aud_result *aud_verifier_check(const aud_verifier *v, const char *token, size_t token_len);

#endif
