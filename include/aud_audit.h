/* The audit record: one line of JSON per decision.
 *
 * Built from what the core decided (an aud_result) and a few facts about the
 * request that the embedding program supplies as plain values, so that the
 * format can be unit-tested without a web server and stays the same for
 * every embedder. */
#ifndef AUD_AUDIT_H
#define AUD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "aud_result.h"

/* What became of a request, and under which mode: stable words, as the
 * reason codes are, since operators' scripts and aud-audit match them. */
typedef enum {
    AUD_DECISION_ACCEPT,       /* "accept" */
    AUD_DECISION_REJECT,       /* "reject": refused */
    AUD_DECISION_AUDIT_REJECT, /* "audit_reject": would have been refused; let through in audit mode */
    AUD_DECISION_PREFLIGHT,    /* "preflight": a CORS preflight let through unauthenticated (AudPreflight) */
    AUD_DECISION_COUNT
} aud_decision;

typedef enum {
    AUD_MODE_ENFORCE, /* "enforce" */
    AUD_MODE_AUDIT,   /* "audit" */
    AUD_MODE_COUNT
} aud_mode;

const char *aud_decision_word(aud_decision decision);
const char *aud_mode_word(aud_mode mode);
/* Case-insensitive, as httpd directives are; false for anything else. */
bool aud_mode_from_word(const char *word, aud_mode *out);
/* The decision a result leads to under a mode. */
aud_decision aud_decision_of(const aud_result *result, aud_mode mode);

/* Strings may be NULL (written as JSON null) and need not be valid UTF-8:
 * bytes that are not are replaced, so a hostile request line cannot make the
 * record unparsable. */
typedef struct {
    double time;            /* seconds since the epoch, written as RFC 3339 UTC with ms */
    const char *api;        /* the API's name (AudApiName) */
    const char *uri;        /* the path only: callers strip the query string */
    const char *method;
    const char *client_ip;
    int status;             /* the HTTP status sent, 0 when not known (written as null) */
    aud_mode mode;
    aud_decision decision;
    const char *request_id; /* mod_unique_id's UNIQUE_ID, or NULL */
    /* Authorization refused an accepted token (or, in audit mode, would
     * have): the members aud_audit_authz_fields made, which the record adds
     * after request_id, and its reasons then say insufficient_scope. NULL
     * for every other record. */
    const char *authz_fields;
    /* With authz_fields: hints about the refusal (aud_hints_for_requirement)
     * as a JSON array's text, added to the record's hints; NULL: none. */
    const char *authz_hints;
} aud_audit_request;

/* Token-derived strings longer than this many bytes are cut (at a UTF-8
 * character boundary) and at most this many audiences are listed, so that a
 * 16 KB token cannot make a record too long to be written atomically to a
 * pipe. */
#define AUD_AUDIT_MAX_VALUE 256
#define AUD_AUDIT_MAX_AUDIENCES 16
#define AUD_AUDIT_MAX_URI 1024

/* The record as one line: ASCII only (everything else \u-escaped, so not even
 * U+2028 can split it for a log viewer), ending in exactly one "\n" and
 * containing no other line break. Fields, in order: time, api, uri, method,
 * client_ip, status, mode, decision, reasons, hints (the result's hints when
 * aud_hints_add computed them, else []), aud, matched, iss, sub, client, typ,
 * alg, kid, exp, token_id, request_id. Never contains the token,
 * its signature or any claim other than those listed. result may be NULL
 * (then every token field is null). Returns a malloc'd string and its length
 * in *len (which may be NULL), or NULL on memory exhaustion. */
char *aud_audit_record(const aud_result *result, const aud_audit_request *req, size_t *len);

/* The same record in two steps, so that an embedder can keep the token's
 * part of a decision (for a cache of verified tokens, or to free the result
 * before the request's status is known) and add the request's facts later.
 *
 * aud_audit_token_fields: the members that come from the result, "reasons"
 * through "token_id", as JSON text without the enclosing braces
 * ("\"reasons\":[],...,\"token_id\":\"...\""); result may be NULL.
 * aud_audit_record_with_fields: the whole line from the request's facts and
 * such a text. aud_audit_record(r, q) is exactly
 * aud_audit_record_with_fields(q, aud_audit_token_fields(r)). Both return
 * malloc'd strings (length in *len when len is not NULL), NULL on memory
 * exhaustion. */
char *aud_audit_token_fields(const aud_result *result, size_t *len);
char *aud_audit_record_with_fields(const aud_audit_request *req, const char *token_fields, size_t *len);

/* What an authorization refusal adds to the record, as JSON members
 * without braces: "required" (required_json, the unmet requirement as
 * {"scope":[...]}, {"role":[...]}, {"claim":NAME,"values":[...]} or
 * {"client":[...]}; NULL: null, for a Require this module does not own),
 * and the token's "scopes" and "roles" (from claims, which may be NULL),
 * capped like the other token fields. malloc'd; NULL on memory
 * exhaustion. */
char *aud_audit_authz_fields(const char *required_json, const json_t *claims);

/* The reason codes of a result joined by "," ("expired,aud_mismatch"), or
 * "ok" when it has none; for environment variables and log lines. Always
 * NUL-terminates buf (when len > 0); returns the length the full text needs,
 * as snprintf does. */
size_t aud_audit_reasons_text(const aud_result *result, char *buf, size_t len);

/* The token's audiences as compact, ASCII-only JSON ("[\"api://x\"]", or
 * "null"), with the same limits as the record; for the error-log line that
 * accompanies a rejection. malloc'd; NULL on memory exhaustion. */
char *aud_audit_audiences_json(const aud_result *result);

/* The reason a response should be about when several checks failed: the one
 * an operator must fix first (keys_unavailable, no_audience_configured), else
 * the first failed check in the order the verifier makes them. AUD_REASON_OK
 * for an accepted result. */
aud_reason aud_audit_primary_reason(const aud_result *result);

#endif
