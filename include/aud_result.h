/* What the core decided about one token, and every reason why. */
#ifndef AUD_RESULT_H
#define AUD_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stable reason codes: they appear in audit records and are matched by
 * operators' scripts, so existing names never change. */
typedef enum {
    AUD_REASON_OK,
    AUD_REASON_NO_TOKEN,
    AUD_REASON_MALFORMED,
    AUD_REASON_ALG_NOT_ALLOWED,
    AUD_REASON_UNKNOWN_KEY,
    AUD_REASON_BAD_SIGNATURE,
    AUD_REASON_EXPIRED,
    AUD_REASON_NOT_YET_VALID,
    AUD_REASON_ISSUER_MISMATCH,
    AUD_REASON_AUD_MISSING,
    AUD_REASON_AUD_MISMATCH,
    AUD_REASON_NO_AUDIENCE_CONFIGURED,
    AUD_REASON_KEYS_UNAVAILABLE,
    AUD_REASON_CLAIM_INVALID,
    /* Authentication succeeded; the location's requirements (Require) did
     * not grant access. Never set by the verifier. */
    AUD_REASON_INSUFFICIENT_SCOPE,
    /* The header's typ is not a configured token type (AudTokenType). */
    AUD_REASON_TOKEN_TYPE,
    AUD_REASON_COUNT
} aud_reason;

/* "aud_mismatch" */
const char *aud_reason_code(aud_reason reason);
/* A sentence safe to show a client: it never contains token content,
 * e.g. "the token's audience is not accepted here". */
const char *aud_reason_summary(aud_reason reason);
bool aud_reason_from_code(const char *code, aud_reason *out);

#define AUD_TOKEN_ID_HEX 16

/* What a token looks like from outside, as decoding saw it
 * (aud_token_decode); all zero before decoding or without a token. */
typedef struct {
    unsigned segments;   /* dot-separated segments (capped at 64) */
    bool encrypted;      /* a JWE: five segments and "enc" in its header */
    bool opaque;         /* not a JWT at all: its first segment is no base64url JSON */
    bool signature_der;  /* the signature is a DER ECDSA-Sig-Value, not raw R||S */
    size_t signature_len; /* decoded signature bytes */
} aud_token_shape;

typedef struct aud_result {
    /* bit (1u << reason) for each failed check; 0 means accepted. */
    uint32_t reasons;
    /* Plain words for each failed reason (what exactly was wrong); NULL for
     * reasons that did not fail. May quote token content: for operators and
     * the token's owner, never for an HTTP response. */
    char *details[AUD_REASON_COUNT];
    /* True only when a configured key verified the signature. Until then
     * header and claims are what the token says, not facts. */
    bool signature_verified;
    json_t *header; /* NULL when the header did not decode to an object */
    json_t *claims; /* NULL when the payload did not decode to an object */
    /* Which configured key verified the signature ("RSA 2048-bit key 'k1'"),
     * or NULL. Owned by the result. */
    char *verified_by;
    /* The configured audience that matched, or NULL. Owned by the result. */
    char *matched_audience;
    /* When the matched audience is only allowed until a date (AudAllowUntil):
     * the end of that allowance, else 0. */
    double matched_until;
    /* An audience the token carries whose allowance has ended, and when; NULL
     * and 0 otherwise. Owned by the result. */
    char *ended_audience;
    double ended_until;
    /* The generation of the keys the signature was checked with (see
     * aud_verifier_key_generation). */
    uint64_t key_generation;
    /* Hints at the likely cause (aud_hints_add): a JSON array of objects
     * {"code", "text", ...}, or NULL before hints are computed. */
    json_t *hints;
    /* Parallel to hints: the reason (check) each hint explains, or
     * AUD_REASON_OK for a hint about an acceptance. Owned by the result;
     * read it through aud_hints_text_for. */
    aud_reason *hint_reasons;
    size_t n_hint_reasons;
    aud_token_shape shape;
    /* First 16 hex digits of the SHA-256 of the token: a correlation id that
     * is safe to log. Empty when there was no token. */
    char token_id[AUD_TOKEN_ID_HEX + 1];
} aud_result;

/* A reason's bit in aud_result.reasons. */
#define AUD_REASON_BIT(reason) (UINT32_C(1) << (reason))

static inline bool aud_result_accepted(const aud_result *r) { return r->reasons == 0; }
static inline bool aud_result_has(const aud_result *r, aud_reason reason)
{
    return (r->reasons & AUD_REASON_BIT(reason)) != 0;
}

/* A result that carries one reason and nothing else, for decisions made
 * before the core sees a token (no_token, keys_unavailable). */
aud_result *aud_result_new_reason(aud_reason reason, const char *detail);
void aud_result_add_reason(aud_result *r, aud_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void aud_result_free(aud_result *r);

/* A string member of the claims, or NULL. */
const char *aud_result_claim_string(const aud_result *r, const char *name);
/* A string member of the header, or NULL. */
const char *aud_result_header_string(const aud_result *r, const char *name);
/* The client the token was issued to: azp, else client_id (RFC 9068), else
 * appid (Entra ID v1), else cid (Okta); failing those, for a token with the
 * signs of an ID token (nonce, at_hash, c_hash, auth_time), its single aud,
 * which OpenID Connect makes the client's id. NULL when none applies. */
const char *aud_result_client(const aud_result *r);

/* The token's scopes as one space-separated text: scope, else scp (a
 * string, or an array of strings as Entra ID sends it). malloc'd; NULL when
 * the token has neither. */
char *aud_result_scope_text(const aud_result *r);
/* The user name: the claim named (NULL: "sub") when it is a non-empty
 * string, else the client (client-credentials tokens carry no sub); NULL
 * when there is neither. */
const char *aud_result_user(const aud_result *r, const char *claim);

/* Writes the token's correlation id (AUD_TOKEN_ID_HEX hex digits + NUL),
 * the first bytes of its SHA-256 (aud_token_digest); empty if hashing
 * failed. */
void aud_token_id(const char *token, size_t len, char out[AUD_TOKEN_ID_HEX + 1]);
void aud_token_id_of_digest(const unsigned char *digest, char out[AUD_TOKEN_ID_HEX + 1]);

#endif
