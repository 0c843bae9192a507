/* Hints: the likely mistake behind a refusal, in plain words.
 *
 * Hints never change a decision (matching stays exact); they explain it.
 * They are computed here, in the core, so that the module's audit record,
 * its log line and aud-inspect all say the same thing. */
#ifndef AUD_HINT_H
#define AUD_HINT_H

#include <stdbool.h>
#include <stddef.h>

#include "aud_result.h"

/* One API as hints see it: its name and what it accepts. */
typedef struct {
    const char *name;
    const char *const *audiences;
    size_t n_audiences;
    const char *const *issuers;
    size_t n_issuers;
} aud_api_view;

typedef struct {
    const aud_api_view *self; /* the API that refused (or accepted) */
    const aud_api_view *others; /* every other API on the same server */
    size_t n_others;
    double now;
} aud_hint_context;

/* Computes the hints for a decision and stores them in r->hints as a JSON
 * array of objects {"code", "text", ...extra fields}, and the check each one
 * explains beside them. Every quoted value, from the token or from the
 * configuration, goes through aud_text_quote. Hints that need only the
 * token's shape (an encrypted, opaque or DER-signed token) are computed even
 * when the claims did not decode. */
void aud_hints_add(aud_result *r, const aud_hint_context *ctx);

/* Hints for an authorization refusal: the token passed every check but
 * did not meet a requirement for one of the wanted scopes (wants_scope) or
 * roles. roles_vs_scopes: the token carries only application roles where a
 * delegated scope is required (Entra ID's client-credentials tokens carry
 * roles, not scp), or the reverse; scope_case: a granted scope or role
 * differs from a wanted one only in letter case. A new JSON array of hint
 * objects {"code", "text"}, possibly empty; NULL on memory exhaustion. */
json_t *aud_hints_for_requirement(bool wants_scope, const char *const *wanted, size_t n, const json_t *claims);

/* The text of the first hint, or NULL. */
const char *aud_hints_first_text(const aud_result *r);

/* The text of the first hint that explains this check (reason), or NULL;
 * AUD_REASON_OK for a hint about an acceptance (deprecated_audience). Use
 * it to pair a reason's summary with its own explanation. */
const char *aud_hints_text_for(const aud_result *r, aud_reason reason);

/* The display name of a well-known foreign resource ("Microsoft Graph") when
 * aud names one, else NULL. */
const char *aud_well_known_resource(const char *aud);

typedef void aud_lint_fn(void *baton, const char *message);

/* One location as start-up lint sees it. */
typedef struct {
    const char *const *audiences;
    size_t n_audiences;
    const double *until; /* parallel to audiences, 0 = no end; may be NULL */
    /* Every issuer the location accepts: its AudIssuer values, or the issuer
     * its AudDiscovery URL names when AudIssuer is not set. */
    const char *const *issuers;
    size_t n_issuers;
    double now;
} aud_lint_location_input;

/* Start-up lint of one location: allowed values that differ only by a
 * trailing slash, case or scheme; surrounding whitespace; well-known foreign
 * resources; a bare GUID without its api:// twin or the reverse; allowances
 * that ended or end within 14 days of now; an Entra ID v2.0 issuer with an
 * allow list of api:// values only (v2.0 tokens carry the client ID). Each
 * warning goes to warn as one sentence, every value quoted through
 * aud_text_quote. */
void aud_lint_location(const aud_lint_location_input *in, aud_lint_fn *warn, void *baton);

/* aud_lint_location without issuers (kept for callers that have none). */
void aud_lint_audiences(const char *const *values, size_t n, const double *until, double now, aud_lint_fn *warn,
                        void *baton);

#endif
