#include "aud_verifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aud_text.h"
#include "aud_time.h"
#include "aud_token.h"

struct aud_verifier {
    const aud_keyset **keysets;
    size_t n_keysets;
    aud_key_source *sources;
    size_t n_sources;
    aud_alg_set algorithms;
    char **issuers;
    size_t n_issuers;
    bool has_template;
    char **tenants;
    size_t n_tenants;
    bool any_tenant;
    char **token_types;
    size_t n_token_types;
    char **audiences;
    size_t n_audiences;
    double *audience_until; /* parallel to audiences; 0 = no end */
    double leeway;
    size_t max_token_size;
    aud_now_fn *now;
    void *now_baton;
    aud_header_memo *headers;
};

void aud_verifier_config_init(aud_verifier_config *config)
{
    memset(config, 0, sizeof *config);
    config->leeway = AUD_DEFAULT_LEEWAY;
    config->max_token_size = AUD_DEFAULT_MAX_TOKEN_SIZE;
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; list != NULL && i < n; i++)
        free(list[i]);
    free(list);
}

static bool copy_strings(const char *const *from, size_t n, char ***to)
{
    *to = calloc(n + 1, sizeof **to);
    if (*to == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (from[i] == NULL || ((*to)[i] = strdup(from[i])) == NULL)
            return false;
    }
    return true;
}

void aud_verifier_destroy(aud_verifier *v)
{
    if (v == NULL)
        return;
    free(v->keysets);
    free(v->sources);
    free_strings(v->issuers, v->n_issuers);
    free_strings(v->tenants, v->n_tenants);
    free_strings(v->token_types, v->n_token_types);
    free_strings(v->audiences, v->n_audiences);
    free(v->audience_until);
    aud_header_memo_free(v->headers);
    free(v);
}

#define TENANT_SLOT "{tenantid}"

/* Refuses what could never be meant: a template with the slot twice (which
 * tid would go where?), or one that would accept every tenant without
 * being told to. */
static bool templates_valid(const aud_verifier_config *config, bool *has_template, aud_error *err)
{
    *has_template = false;
    for (size_t i = 0; i < config->n_issuers; i++) {
        const char *slot = config->issuers[i] != NULL ? strstr(config->issuers[i], TENANT_SLOT) : NULL;
        if (slot == NULL)
            continue;
        if (strstr(slot + 1, TENANT_SLOT) != NULL) {
            aud_error_set(err, "issuer template '%s' holds {tenantid} more than once", config->issuers[i]);
            return false;
        }
        *has_template = true;
    }
    if (*has_template && config->n_tenants == 0 && !config->any_tenant) {
        aud_error_set(err, "an issuer template ({tenantid}) needs the tenants it accepts, or any tenant explicitly");
        return false;
    }
    return true;
}

aud_verifier *aud_verifier_create(const aud_verifier_config *config, aud_error *err)
{
    bool has_template;
    if (config->now == NULL) {
        aud_error_set(err, "a verifier needs a clock (config.now)");
        return NULL;
    }
    if (!(config->leeway >= 0 && config->leeway <= 86400)) {
        aud_error_set(err, "leeway must be between 0 and 86400 seconds");
        return NULL;
    }
    if ((config->algorithms & ~AUD_ALG_SET_ALL) != 0) {
        aud_error_set(err, "unknown algorithm in the allowed set");
        return NULL;
    }
    if (!templates_valid(config, &has_template, err))
        return NULL;
    aud_verifier *v = calloc(1, sizeof *v);
    if (v == NULL) {
        aud_error_set(err, "out of memory");
        return NULL;
    }
    v->n_keysets = config->n_keysets;
    v->n_issuers = config->n_issuers;
    v->n_audiences = config->n_audiences;
    v->keysets = calloc(config->n_keysets + 1, sizeof *v->keysets);
    v->audience_until = calloc(config->n_audiences + 1, sizeof *v->audience_until);
    v->n_sources = config->n_sources;
    v->sources = calloc(config->n_sources + 1, sizeof *v->sources);
    v->headers = aud_header_memo_new();
    bool copied = v->headers != NULL && v->keysets != NULL && v->audience_until != NULL && v->sources != NULL &&
                  copy_strings(config->issuers, config->n_issuers, &v->issuers) &&
                  copy_strings(config->tenants, config->n_tenants, &v->tenants) &&
                  copy_strings(config->token_types, config->n_token_types, &v->token_types) &&
                  copy_strings(config->audiences, config->n_audiences, &v->audiences);
    v->n_tenants = config->n_tenants;
    v->n_token_types = config->n_token_types;
    if (!copied) {
        aud_verifier_destroy(v);
        aud_error_set(err, "out of memory, or a NULL issuer, tenant, token type or audience");
        return NULL;
    }
    for (size_t i = 0; i < config->n_keysets; i++)
        v->keysets[i] = config->keysets[i];
    for (size_t i = 0; i < config->n_sources; i++)
        v->sources[i] = config->sources[i];
    for (size_t i = 0; config->audience_until != NULL && i < config->n_audiences; i++)
        v->audience_until[i] = config->audience_until[i];
    v->has_template = has_template;
    v->any_tenant = config->any_tenant;
    v->algorithms = config->algorithms != 0 ? config->algorithms : AUD_ALG_SET_ASYMMETRIC;
    v->leeway = config->leeway;
    v->max_token_size = config->max_token_size != 0 ? config->max_token_size : AUD_DEFAULT_MAX_TOKEN_SIZE;
    v->now = config->now;
    v->now_baton = config->now_baton;
    return v;
}

/* "'a', 'b' and 3 more": configured values, for details. Each is quoted
 * whole or cut short between characters, never by the buffer's end. */
static void list_values(char *const *values, size_t n, char *buf, size_t len)
{
    char q[AUD_TEXT_QUOTE_SIZE];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        if (i == 4 && n > 5) {
            snprintf(buf + used, len - used, " and %zu more", n - i);
            return;
        }
        aud_text_quote_str(values[i], q);
        if (used + strlen(q) + 5 > len) {
            snprintf(buf + used, len - used, " and %zu more", n - i);
            return;
        }
        int w = snprintf(buf + used, len - used, "%s'%s'", i > 0 ? ", " : "", q);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* Returns true and sets *alg when the header names an allowed algorithm and
 * nothing in it forbids verifying. */
static bool check_header(const aud_verifier *v, aud_result *r, aud_alg *alg)
{
    char q[AUD_TEXT_QUOTE_SIZE];
    bool usable = true;
    json_t *alg_value = json_object_get(r->header, "alg");
    const char *alg_name = json_string_value(alg_value);
    if (alg_name == NULL) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the header has no \"alg\" string");
        usable = false;
    } else if (aud_alg_name_is_none(alg_name)) {
        aud_result_add_reason(r, AUD_REASON_ALG_NOT_ALLOWED, "unsigned tokens (alg '%s') are never accepted",
                              aud_text_quote_str(alg_name, q));
        usable = false;
    } else if (!aud_alg_from_name(alg_name, alg)) {
        aud_result_add_reason(r, AUD_REASON_ALG_NOT_ALLOWED, "alg '%s' is not a supported algorithm",
                              aud_text_quote_str(alg_name, q));
        usable = false;
    } else if ((v->algorithms & AUD_ALG_BIT(*alg)) == 0) {
        aud_result_add_reason(r, AUD_REASON_ALG_NOT_ALLOWED, "alg %s is not among the allowed algorithms",
                              alg_name);
        usable = false;
    }
    /* No JWS extension is implemented, so any critical one must refuse the
     * token (RFC 7515 section 4.1.11); b64 changes what is signed (RFC 7797). */
    if (json_object_get(r->header, "crit") != NULL) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the header has critical extensions (crit) that are not supported");
        usable = false;
    }
    if (json_object_get(r->header, "b64") != NULL) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "unencoded payloads (b64) are not supported");
        usable = false;
    }
    json_t *kid = json_object_get(r->header, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the header's kid is not a string");
        usable = false;
    }
    return usable;
}

/* RFC 7515 4.1.9: typ is a media type, whose "application/" may be left
 * out when there is no other '/'; media types compare without regard to
 * case (RFC 2045 5.1). So at+jwt is application/at+jwt and the reverse. */
static bool media_type_equal(const char *a, const char *b)
{
    static const char app[] = "application/";
    const size_t app_len = sizeof app - 1;
    if (strchr(a, '/') == NULL && strncasecmp(b, app, app_len) == 0)
        b += app_len;
    else if (strchr(b, '/') == NULL && strncasecmp(a, app, app_len) == 0)
        a += app_len;
    return strcasecmp(a, b) == 0;
}

static void check_token_type(const aud_verifier *v, aud_result *r)
{
    if (v->n_token_types == 0 || r->header == NULL)
        return;
    char list[1024], q[AUD_TEXT_QUOTE_SIZE];
    json_t *typ = json_object_get(r->header, "typ");
    list_values(v->token_types, v->n_token_types, list, sizeof list);
    if (typ == NULL) {
        aud_result_add_reason(r, AUD_REASON_TOKEN_TYPE, "the header has no typ; expected %s", list);
        return;
    }
    if (!json_is_string(typ)) {
        aud_result_add_reason(r, AUD_REASON_TOKEN_TYPE, "the header's typ is not a string; expected %s", list);
        return;
    }
    const char *value = json_string_value(typ);
    /* An embedded NUL would let "at+jwt\u0000..." compare equal. */
    if (strlen(value) == json_string_length(typ)) {
        for (size_t i = 0; i < v->n_token_types; i++) {
            if (media_type_equal(value, v->token_types[i]))
                return;
        }
    }
    aud_result_add_reason(r, AUD_REASON_TOKEN_TYPE, "typ '%s' is not %s", aud_text_quote_str(value, q), list);
}

/* The key sets one check uses: the fixed ones plus what each source holds
 * right now, held until the check ends. Every configured set counts: most
 * locations have a handful, and a view of more than that is allocated. */
#define KEY_VIEW_INLINE 16
#define FIXED_SET ((size_t)-1)
typedef struct {
    const aud_keyset **sets;
    size_t *source_of; /* index into v->sources, or FIXED_SET */
    size_t n_sets;
    bool source_empty;
    uint64_t generation; /* the sum of the sources' generations */
    const aud_keyset *inline_sets[KEY_VIEW_INLINE];
    size_t inline_source_of[KEY_VIEW_INLINE];
} key_view;

static bool key_view_open(const aud_verifier *v, key_view *kv)
{
    size_t cap = v->n_keysets + v->n_sources;

    kv->n_sets = 0;
    kv->source_empty = false;
    kv->generation = 0;
    kv->sets = kv->inline_sets;
    kv->source_of = kv->inline_source_of;
    if (cap > KEY_VIEW_INLINE) {
        kv->sets = malloc(cap * sizeof *kv->sets);
        kv->source_of = malloc(cap * sizeof *kv->source_of);
        if (kv->sets == NULL || kv->source_of == NULL) {
            free(kv->sets);
            free(kv->source_of);
            kv->sets = NULL;
            kv->source_of = NULL;
            return false;
        }
    }
    for (size_t i = 0; i < v->n_keysets; i++) {
        kv->source_of[kv->n_sets] = FIXED_SET;
        kv->sets[kv->n_sets++] = v->keysets[i];
    }
    for (size_t i = 0; i < v->n_sources; i++) {
        uint64_t generation = 0;
        const aud_keyset *set = v->sources[i].acquire(v->sources[i].baton, &generation);
        kv->generation += generation;
        if (set == NULL) {
            kv->source_empty = true;
            continue;
        }
        kv->source_of[kv->n_sets] = i;
        kv->sets[kv->n_sets++] = set;
    }
    return true;
}

static void key_view_close(const aud_verifier *v, key_view *kv)
{
    for (size_t i = 0; i < kv->n_sets; i++) {
        if (kv->source_of[i] != FIXED_SET)
            v->sources[kv->source_of[i]].release(v->sources[kv->source_of[i]].baton, kv->sets[i]);
    }
    if (kv->sets != kv->inline_sets) {
        free(kv->sets);
        free(kv->source_of);
    }
    kv->n_sets = 0;
}

bool aud_verifier_key_generation(const aud_verifier *v, uint64_t *generation)
{
    *generation = 0;
    for (size_t i = 0; i < v->n_sources; i++) {
        uint64_t g = 0;
        if (v->sources[i].quiet == NULL || !v->sources[i].quiet(v->sources[i].baton, &g))
            return false;
        *generation += g;
    }
    return true;
}

/* What one pass over a view found. */
typedef struct {
    bool verified;
    bool kid_seen;
    size_t n_fitting;
    const aud_key *fitting;
    bool source_key_failed; /* a fitting key from a source did not verify */
} signature_scan;

static void scan_keys(const key_view *kv, const char *kid, aud_alg alg, const char *input, size_t input_len,
                      const unsigned char *sig, size_t sig_len, aud_result *r, signature_scan *scan)
{
    memset(scan, 0, sizeof *scan);
    for (size_t s = 0; s < kv->n_sets && !scan->verified; s++) {
        for (size_t i = 0; i < aud_keyset_count(kv->sets[s]); i++) {
            const aud_key *key = aud_keyset_key(kv->sets[s], i);
            const char *key_kid = aud_key_kid(key);
            if (kid != NULL && (key_kid == NULL || strcmp(kid, key_kid) != 0))
                continue;
            scan->kid_seen = true;
            if (!aud_key_fits_alg(key, alg))
                continue;
            scan->fitting = key;
            scan->n_fitting++;
            if (aud_key_verify(key, alg, (const unsigned char *)input, input_len, sig, sig_len)) {
                scan->verified = true;
                r->signature_verified = true;
                r->verified_by = strdup(aud_key_describe(key));
                break;
            }
            if (kv->source_of[s] != FIXED_SET)
                scan->source_key_failed = true;
        }
    }
}

/* Only keys from the configuration are candidates; jwk, jku, x5u and x5c in
 * the header are never looked at, so a token cannot bring its own key. */
/* True when the signature verified. */
static bool check_signature(const aud_verifier *v, aud_result *r, aud_alg alg, const char *input, size_t input_len,
                            const unsigned char *sig, size_t sig_len)
{
    const char *kid = aud_result_header_string(r, "kid");
    signature_scan scan;
    key_view kv;

    if (!key_view_open(v, &kv)) {
        aud_result_add_reason(r, AUD_REASON_KEYS_UNAVAILABLE, "out of memory while gathering the keys");
        return false;
    }
    scan_keys(&kv, kid, alg, input, input_len, sig, sig_len, r, &scan);
    /* A new kid, or a new key under an old kid, is the sign of a rotation:
     * the sources may refresh, and if that changed their keys, the token
     * deserves one more look. */
    bool unknown_kid = kid != NULL && !scan.kid_seen && !kv.source_empty;
    if (!scan.verified && (unknown_kid || scan.source_key_failed) && v->n_sources > 0) {
        for (size_t i = 0; i < v->n_sources; i++) {
            if (unknown_kid && v->sources[i].kid_missing != NULL)
                v->sources[i].kid_missing(v->sources[i].baton, kid);
            else if (!unknown_kid && v->sources[i].signature_failed != NULL)
                v->sources[i].signature_failed(v->sources[i].baton, kid);
        }
        uint64_t before = kv.generation;
        key_view_close(v, &kv);
        if (!key_view_open(v, &kv)) {
            aud_result_add_reason(r, AUD_REASON_KEYS_UNAVAILABLE, "out of memory while gathering the keys");
            return false;
        }
        if (kv.generation != before)
            scan_keys(&kv, kid, alg, input, input_len, sig, sig_len, r, &scan);
    }
    r->key_generation = kv.generation;
    char q[AUD_TEXT_QUOTE_SIZE];
    if (scan.verified) {
        /* nothing to report */
    } else if (scan.n_fitting == 0 && kv.source_empty) {
        aud_result_add_reason(r, AUD_REASON_KEYS_UNAVAILABLE, "the keys to verify %s tokens are not available",
                              aud_alg_name(alg));
    } else if (kid != NULL && !scan.kid_seen) {
        aud_result_add_reason(r, AUD_REASON_UNKNOWN_KEY, "no configured key has kid '%s'", aud_text_quote_str(kid, q));
    } else if (kid != NULL && scan.n_fitting == 0) {
        aud_result_add_reason(r, AUD_REASON_UNKNOWN_KEY, "the key with kid '%s' cannot verify %s",
                              aud_text_quote_str(kid, q), aud_alg_name(alg));
    } else if (scan.n_fitting == 0) {
        aud_result_add_reason(r, AUD_REASON_UNKNOWN_KEY, "no configured key can verify %s", aud_alg_name(alg));
    } else if (scan.n_fitting == 1) {
        aud_result_add_reason(r, AUD_REASON_BAD_SIGNATURE, "the %s signature does not verify with the %s",
                              aud_alg_name(alg), aud_key_describe(scan.fitting));
    } else {
        aud_result_add_reason(r, AUD_REASON_BAD_SIGNATURE, "the %s signature does not verify with any of %zu keys",
                              aud_alg_name(alg), scan.n_fitting);
    }
    /* Descriptions point into the sets, so report before giving them back. */
    key_view_close(v, &kv);
    return scan.verified;
}

/* Returns false when the claim is absent; a present non-number is reported. */
static bool time_claim(aud_result *r, const char *name, double *value)
{
    json_t *claim = json_object_get(r->claims, name);
    if (claim == NULL)
        return false;
    if (!json_is_number(claim)) {
        aud_result_add_reason(r, AUD_REASON_CLAIM_INVALID, "%s is not a number", name);
        return false;
    }
    *value = json_number_value(claim);
    return true;
}

static void check_times(const aud_verifier *v, aud_result *r, double now)
{
    char when[40], span[40];
    double exp, nbf, iat;
    if (time_claim(r, "exp", &exp)) {
        if (now >= exp + v->leeway) {
            aud_time_format_rfc3339(exp, when, sizeof when);
            aud_duration_format(now - exp, span, sizeof span);
            aud_result_add_reason(r, AUD_REASON_EXPIRED, "expired at %s (%s ago)", when, span);
        }
    } else if (json_object_get(r->claims, "exp") == NULL) {
        aud_result_add_reason(r, AUD_REASON_CLAIM_INVALID, "the token has no exp claim");
    }
    if (time_claim(r, "nbf", &nbf) && nbf > now + v->leeway) {
        aud_time_format_rfc3339(nbf, when, sizeof when);
        aud_duration_format(nbf - now, span, sizeof span);
        aud_result_add_reason(r, AUD_REASON_NOT_YET_VALID, "not valid before %s (in %s)", when, span);
    }
    if (time_claim(r, "iat", &iat) && iat > now + v->leeway) {
        aud_time_format_rfc3339(iat, when, sizeof when);
        aud_duration_format(iat - now, span, sizeof span);
        aud_result_add_reason(r, AUD_REASON_NOT_YET_VALID, "issued in the future, at %s (%s from now)", when, span);
    }
}

static long find_exact(char *const *allowed, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(allowed[i], value) == 0)
            return (long)i;
    }
    return -1;
}

/* A tenant id as Entra ID writes tid: a GUID in lower case. */
static bool is_tenant_id(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == '-' ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
            return false;
    }
    return s[sizeof shape - 1] == '\0';
}

/* Where iss has the template's tenant part: true when iss begins with the
 * text before {tenantid} and ends with the text after it. */
static bool template_fits(const char *template, const char *iss, size_t iss_len, const char **tenant,
                          size_t *tenant_len)
{
    const char *slot = strstr(template, TENANT_SLOT);
    size_t before = (size_t)(slot - template), after = strlen(slot + sizeof TENANT_SLOT - 1);
    if (iss_len < before + after || memcmp(iss, template, before) != 0 ||
        memcmp(iss + iss_len - after, slot + sizeof TENANT_SLOT - 1, after) != 0)
        return false;
    *tenant = iss + before;
    *tenant_len = iss_len - before - after;
    return true;
}

/* Microsoft's rule for tenant-independent metadata: iss must be the
 * template with the token's own tid in it, byte for byte, and that tid
 * must be a tenant this location accepts. Returns true when a template
 * accepted iss; otherwise it may have reported why (true in *reported). */
static bool check_templates(const aud_verifier *v, aud_result *r, const char *iss, size_t iss_len, bool *reported)
{
    char q[AUD_TEXT_QUOTE_SIZE], qt[AUD_TEXT_QUOTE_SIZE], list[1024];
    json_t *tid = json_object_get(r->claims, "tid");
    const char *tid_value = json_string_value(tid);
    bool tid_ok = tid_value != NULL && strlen(tid_value) == json_string_length(tid);
    *reported = false;
    for (size_t i = 0; i < v->n_issuers; i++) {
        const char *tenant;
        size_t tenant_len;
        if (strstr(v->issuers[i], TENANT_SLOT) == NULL || !template_fits(v->issuers[i], iss, iss_len, &tenant, &tenant_len))
            continue;
        if (*reported)
            continue;
        *reported = true;
        if (tid == NULL) {
            aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH,
                                  "the token has no tid claim, so issuer '%s' cannot match the template '%s'",
                                  aud_text_quote_str(iss, q), v->issuers[i]);
        } else if (!tid_ok) {
            aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH,
                                  "the token's tid is not a string, so issuer '%s' cannot match the template '%s'",
                                  aud_text_quote_str(iss, q), v->issuers[i]);
        } else if (tenant_len != strlen(tid_value) || memcmp(tenant, tid_value, tenant_len) != 0) {
            aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH, "issuer '%s' does not name the token's tenant (tid '%s')",
                                  aud_text_quote_str(iss, q), aud_text_quote_str(tid_value, qt));
        } else if (v->any_tenant ? is_tenant_id(tid_value) : find_exact(v->tenants, v->n_tenants, tid_value) >= 0) {
            *reported = false;
            return true;
        } else if (v->any_tenant) {
            aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH, "tid '%s' is not a tenant id (a lower-case GUID)",
                                  aud_text_quote_str(tid_value, qt));
        } else {
            list_values(v->tenants, v->n_tenants, list, sizeof list);
            aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH, "tenant '%s' is not one of the allowed tenants: %s",
                                  aud_text_quote_str(tid_value, qt), list);
        }
    }
    return false;
}

static void check_issuer(const aud_verifier *v, aud_result *r)
{
    if (v->n_issuers == 0)
        return;
    char list[1024], q[AUD_TEXT_QUOTE_SIZE];
    json_t *iss = json_object_get(r->claims, "iss");
    if (iss == NULL) {
        list_values(v->issuers, v->n_issuers, list, sizeof list);
        aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH, "the token has no iss claim; expected %s", list);
        return;
    }
    if (!json_is_string(iss)) {
        aud_result_add_reason(r, AUD_REASON_CLAIM_INVALID, "iss is not a string");
        return;
    }
    const char *value = json_string_value(iss);
    size_t len = json_string_length(iss);
    /* A template never matches exactly: its braces are no part of a URL. */
    if (strlen(value) == len && find_exact(v->issuers, v->n_issuers, value) >= 0 &&
        strstr(value, TENANT_SLOT) == NULL)
        return;
    bool reported = false;
    if (v->has_template && check_templates(v, r, value, len, &reported))
        return;
    list_values(v->issuers, v->n_issuers, list, sizeof list);
    if (!reported)
        aud_result_add_reason(r, AUD_REASON_ISSUER_MISMATCH, "issuer '%s' is not %s", aud_text_quote_str(value, q),
                              list);
}

static bool aud_well_formed(const json_t *aud)
{
    if (json_is_string(aud))
        return true;
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return false;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) {
        if (!json_is_string(item))
            return false;
    }
    return true;
}

/* Picks the configured audience the token matches, preferring one allowed
 * for good over one whose allowance (AudAllowUntil) is running out, and
 * remembers an audience whose allowance has ended so that the refusal can
 * say so. */
static void check_audience(const aud_verifier *v, aud_result *r, double now)
{
    json_t *aud = json_object_get(r->claims, "aud");
    if (aud != NULL && !aud_well_formed(aud)) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "aud must be a string or a non-empty array of strings");
        return;
    }
    if (v->n_audiences == 0) {
        aud_result_add_reason(r, AUD_REASON_NO_AUDIENCE_CONFIGURED,
                              "no audience is configured here, so no token can be accepted");
        return;
    }
    if (aud == NULL) {
        aud_result_add_reason(r, AUD_REASON_AUD_MISSING, "the token has no aud claim");
        return;
    }
    long best = -1;
    const char *first = NULL;
    size_t count = json_is_array(aud) ? json_array_size(aud) : 1;
    for (size_t i = 0; i < count; i++) {
        const char *value = json_string_value(json_is_array(aud) ? json_array_get(aud, i) : aud);
        if (first == NULL)
            first = value;
        long match = find_exact(v->audiences, v->n_audiences, value);
        if (match < 0)
            continue;
        double until = v->audience_until[match];
        if (until != 0 && now >= until) {
            if (r->ended_audience == NULL) {
                r->ended_audience = strdup(v->audiences[match]);
                r->ended_until = until;
            }
            continue;
        }
        if (best < 0 || (v->audience_until[best] != 0 && until == 0))
            best = match;
    }
    if (best >= 0) {
        r->matched_audience = strdup(v->audiences[best]);
        r->matched_until = v->audience_until[best];
        return;
    }
    char list[1024], q[AUD_TEXT_QUOTE_SIZE];
    if (r->ended_audience != NULL) {
        aud_time_format_rfc3339(r->ended_until, list, sizeof list);
        aud_result_add_reason(r, AUD_REASON_AUD_MISMATCH, "audience '%s' was allowed only until %s",
                              r->ended_audience, list);
        return;
    }
    list_values(v->audiences, v->n_audiences, list, sizeof list);
    if (count == 1)
        aud_result_add_reason(r, AUD_REASON_AUD_MISMATCH, "the token's audience '%s' is not one of: %s",
                              aud_text_quote_str(first, q), list);
    else
        aud_result_add_reason(r, AUD_REASON_AUD_MISMATCH,
                              "none of the token's %zu audiences (first '%s') is one of: %s", count,
                              aud_text_quote_str(first, q), list);
}

aud_result *aud_verifier_check(const aud_verifier *v, const char *token, size_t token_len)
{
    return aud_verifier_check_digested(v, token, token_len, NULL);
}

aud_result *aud_verifier_check_digested(const aud_verifier *v, const char *token, size_t token_len,
                                        const unsigned char *digest)
{
    aud_token_parts parts;
    aud_result *r = aud_token_decode_parts(token, token_len, v->max_token_size, digest, v->headers, &parts);
    if (r == NULL || r->shape.segments != 3) {
        free(parts.signature);
        return r;
    }
    aud_alg alg;
    check_token_type(v, r);
    if (r->header != NULL && check_header(v, r, &alg) && parts.signature_decoded &&
        check_signature(v, r, alg, token, parts.signing_input_len, parts.signature, parts.signature_len) &&
        !parts.header_from_memo)
        aud_header_memo_keep(v->headers, token, parts.header_len, r->header);
    free(parts.signature);

    if (r->claims != NULL) {
        double now = v->now(v->now_baton);
        check_times(v, r, now);
        check_issuer(v, r);
        check_audience(v, r, now);
    }
    return r;
}
