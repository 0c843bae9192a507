#include "aud_result.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aud_token.h"

static const struct {
    const char *code;
    const char *summary;
} reason_table[AUD_REASON_COUNT] = {
    [AUD_REASON_OK] = {"ok", "the token was accepted"},
    [AUD_REASON_NO_TOKEN] = {"no_token", "no bearer token was presented"},
    [AUD_REASON_MALFORMED] = {"malformed", "the token is malformed"},
    [AUD_REASON_ALG_NOT_ALLOWED] = {"alg_not_allowed", "the token's signing algorithm is not accepted here"},
    [AUD_REASON_UNKNOWN_KEY] = {"unknown_key", "the token was signed with a key that is not known here"},
    [AUD_REASON_BAD_SIGNATURE] = {"bad_signature", "the token's signature is not valid"},
    [AUD_REASON_EXPIRED] = {"expired", "the token has expired"},
    [AUD_REASON_NOT_YET_VALID] = {"not_yet_valid", "the token is not valid yet"},
    [AUD_REASON_ISSUER_MISMATCH] = {"issuer_mismatch", "the token's issuer is not accepted here"},
    [AUD_REASON_AUD_MISSING] = {"aud_missing", "the token has no audience"},
    [AUD_REASON_AUD_MISMATCH] = {"aud_mismatch", "the token's audience is not accepted here"},
    [AUD_REASON_NO_AUDIENCE_CONFIGURED] = {"no_audience_configured",
                                           "this API is not configured to accept any token yet"},
    [AUD_REASON_KEYS_UNAVAILABLE] = {"keys_unavailable", "the keys to verify tokens are not available right now"},
    [AUD_REASON_CLAIM_INVALID] = {"claim_invalid", "a claim in the token is not valid"},
    [AUD_REASON_INSUFFICIENT_SCOPE] = {"insufficient_scope", "the token does not grant access to this resource"},
    [AUD_REASON_TOKEN_TYPE] = {"token_type", "the token is not of a type accepted here"},
};

const char *aud_reason_code(aud_reason reason)
{
    return (unsigned)reason < AUD_REASON_COUNT ? reason_table[reason].code : "unknown";
}

const char *aud_reason_summary(aud_reason reason)
{
    return (unsigned)reason < AUD_REASON_COUNT ? reason_table[reason].summary : "the token was refused";
}

bool aud_reason_from_code(const char *code, aud_reason *out)
{
    for (int i = 0; i < AUD_REASON_COUNT; i++) {
        if (strcmp(code, reason_table[i].code) == 0) {
            *out = (aud_reason)i;
            return true;
        }
    }
    return false;
}

aud_result *aud_result_new_reason(aud_reason reason, const char *detail)
{
    aud_result *r = calloc(1, sizeof *r);
    if (r != NULL && reason != AUD_REASON_OK)
        aud_result_add_reason(r, reason, "%s", detail != NULL ? detail : aud_reason_summary(reason));
    return r;
}

void aud_result_add_reason(aud_result *r, aud_reason reason, const char *fmt, ...)
{
    if (reason == AUD_REASON_OK || (unsigned)reason >= AUD_REASON_COUNT)
        return;
    r->reasons |= UINT32_C(1) << reason;
    /* The first detail of a reason is the most specific one; later checks
     * that land on the same reason only add to the count. */
    if (r->details[reason] != NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&r->details[reason], fmt, ap) < 0)
        r->details[reason] = NULL;
    va_end(ap);
}

void aud_result_free(aud_result *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < AUD_REASON_COUNT; i++)
        free(r->details[i]);
    json_decref(r->header);
    json_decref(r->claims);
    free(r->matched_audience);
    free(r->verified_by);
    free(r->ended_audience);
    json_decref(r->hints);
    free(r->hint_reasons);
    free(r);
}

static const char *object_string(const json_t *object, const char *name)
{
    return object != NULL ? json_string_value(json_object_get(object, name)) : NULL;
}

const char *aud_result_claim_string(const aud_result *r, const char *name)
{
    return object_string(r->claims, name);
}

const char *aud_result_header_string(const aud_result *r, const char *name)
{
    return object_string(r->header, name);
}

const char *aud_result_client(const aud_result *r)
{
    static const char *const client_claims[] = {"azp", "client_id", "appid", "cid"};
    for (size_t i = 0; i < sizeof client_claims / sizeof *client_claims; i++) {
        const char *value = aud_result_claim_string(r, client_claims[i]);
        if (value != NULL)
            return value;
    }
    /* OpenID Connect Core 1.0 section 2: an ID token's aud holds the
     * client_id of the relying party it was issued to. */
    static const char *const id_signs[] = {"nonce", "at_hash", "c_hash", "auth_time"};
    for (size_t i = 0; i < sizeof id_signs / sizeof *id_signs; i++) {
        if (r->claims != NULL && json_object_get(r->claims, id_signs[i]) != NULL)
            return aud_result_claim_string(r, "aud");
    }
    return NULL;
}

char *aud_result_scope_text(const aud_result *r)
{
    const char *scope = aud_result_claim_string(r, "scope");
    const json_t *scp;
    size_t len = 0, i;
    json_t *item;
    char *joined;

    if (scope == NULL)
        scope = aud_result_claim_string(r, "scp");
    if (scope != NULL)
        return strdup(scope);
    scp = r->claims ? json_object_get(r->claims, "scp") : NULL;
    if (!json_is_array(scp))
        return NULL;
    json_array_foreach(scp, i, item) {
        if (json_is_string(item))
            len += json_string_length(item) + 1;
    }
    if (len == 0 || (joined = malloc(len)) == NULL)
        return NULL;
    len = 0;
    json_array_foreach(scp, i, item) {
        if (!json_is_string(item))
            continue;
        if (len > 0)
            joined[len++] = ' ';
        memcpy(joined + len, json_string_value(item), json_string_length(item));
        len += json_string_length(item);
    }
    joined[len] = '\0';
    return joined;
}

const char *aud_result_user(const aud_result *r, const char *claim)
{
    const char *user = aud_result_claim_string(r, claim ? claim : "sub");

    if (user == NULL || *user == '\0')
        user = aud_result_client(r);
    return (user != NULL && *user != '\0') ? user : NULL;
}

void aud_token_id(const char *token, size_t len, char out[AUD_TOKEN_ID_HEX + 1])
{
    unsigned char digest[AUD_TOKEN_DIGEST_LEN];
    if (!aud_token_digest(token, len, digest)) {
        out[0] = '\0';
        return;
    }
    aud_token_id_of_digest(digest, out);
}

void aud_token_id_of_digest(const unsigned char *digest, char out[AUD_TOKEN_ID_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < AUD_TOKEN_ID_HEX / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[AUD_TOKEN_ID_HEX] = '\0';
}
