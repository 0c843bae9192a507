#include "aud_hint.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aud_audit.h"
#include "aud_text.h"
#include "aud_claim.h"
#include "aud_time.h"

/* Foreign resources whose tokens land on custom APIs by mistake. Kept as
 * data in this one place: hints and start-up lint both read it. A value
 * ending in '*' matches any audience that starts with what precedes it. */
static const struct {
    const char *resource;
    const char *audiences[6];
} well_known[] = {
    {"Microsoft Graph",
     {"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}},
    {"Azure AD Graph",
     {"https://graph.windows.net", "https://graph.windows.net/", "00000002-0000-0000-c000-000000000000"}},
    {"Azure Resource Manager",
     {"https://management.azure.com/", "https://management.azure.com", "https://management.core.windows.net/",
      "https://management.core.windows.net", "797f4846-ba00-4fd7-ba43-dac1f8f63013"}},
    {"Office 365 Exchange Online",
     {"https://outlook.office.com/", "https://outlook.office.com", "https://outlook.office365.com/",
      "https://outlook.office365.com", "00000002-0000-0ff1-ce00-000000000000"}},
    {"Azure Storage", {"https://storage.azure.com/", "https://storage.azure.com",
                       "e406a681-f3d4-42a8-90b6-c2b029497af1"}},
    {"Azure Key Vault", {"https://vault.azure.net", "https://vault.azure.net/",
                         "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"}},
    {"SharePoint Online", {"00000003-0000-0ff1-ce00-000000000000"}},
};

const char *aud_well_known_resource(const char *aud)
{
    for (size_t i = 0; i < sizeof well_known / sizeof *well_known; i++) {
        for (size_t j = 0; j < 6 && well_known[i].audiences[j] != NULL; j++) {
            if (strcmp(aud, well_known[i].audiences[j]) == 0)
                return well_known[i].resource;
        }
    }
    /* SharePoint tenants each have their own host. */
    if (strncmp(aud, "https://", 8) == 0) {
        const char *host = aud + 8;
        size_t host_len = strcspn(host, "/:");
        static const char suffix[] = ".sharepoint.com";
        if (host_len > sizeof suffix - 1 && strncasecmp(host + host_len - (sizeof suffix - 1), suffix,
                                                        sizeof suffix - 1) == 0)
            return "SharePoint Online";
    }
    return NULL;
}

/* ---- Comparing two audiences: "differs only by ..." ---- */

static bool is_guid(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof pattern - 1)
        return false;
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        if (pattern[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool differs_by_trailing_slash(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb + 1)
        return a[la - 1] == '/' && strncmp(a, b, lb) == 0;
    if (lb == la + 1)
        return b[lb - 1] == '/' && strncmp(a, b, la) == 0;
    return false;
}

static bool differs_by_whitespace(const char *a, const char *b)
{
    /* Whichever side carries the whitespace, trimming it gives the other. */
    for (int pass = 0; pass < 2; pass++) {
        const char *padded = pass == 0 ? a : b, *clean = pass == 0 ? b : a;
        size_t start = 0, end = strlen(padded);
        while (start < end && isspace((unsigned char)padded[start]))
            start++;
        while (end > start && isspace((unsigned char)padded[end - 1]))
            end--;
        if ((start > 0 || padded[end] != '\0') && strlen(clean) == end - start &&
            strncmp(padded + start, clean, end - start) == 0)
            return true;
    }
    return false;
}

/* What follows an http(s) scheme, or the whole value when it has none; NULL
 * for other schemes (api://, urn:), which are not "the same host". */
static const char *after_web_scheme(const char *s)
{
    if (strncasecmp(s, "https://", 8) == 0)
        return s + 8;
    if (strncasecmp(s, "http://", 7) == 0)
        return s + 7;
    return strstr(s, "://") == NULL && strchr(s, ':') == NULL ? s : NULL;
}

static bool differs_by_scheme(const char *a, const char *b)
{
    const char *ra = after_web_scheme(a), *rb = after_web_scheme(b);
    return ra != NULL && rb != NULL && strcmp(ra, rb) == 0;
}

/* The value with an explicit default port (:443 for https, :80 for http)
 * removed; false when it has none. */
static bool without_default_port(const char *s, char *out, size_t len)
{
    const char *port;
    size_t scheme_len;
    if (strncasecmp(s, "https://", 8) == 0) {
        port = ":443";
        scheme_len = 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        port = ":80";
        scheme_len = 7;
    } else {
        return false;
    }
    size_t host_len = strcspn(s + scheme_len, "/:?#");
    const char *after_host = s + scheme_len + host_len;
    size_t port_len = strlen(port);
    if (strncmp(after_host, port, port_len) != 0 || (after_host[port_len] != '\0' && after_host[port_len] != '/'))
        return false;
    return snprintf(out, len, "%.*s%s", (int)(scheme_len + host_len), s, after_host + port_len) < (int)len;
}

static bool differs_by_default_port(const char *a, const char *b)
{
    char na[512], nb[512];
    bool ca = without_default_port(a, na, sizeof na), cb = without_default_port(b, nb, sizeof nb);
    return (ca && !cb && strcmp(na, b) == 0) || (cb && !ca && strcmp(nb, a) == 0);
}

static bool guid_and_its_uri(const char *a, const char *b)
{
    return (is_guid(a) && strncmp(b, "api://", 6) == 0 && strcmp(b + 6, a) == 0) ||
           (is_guid(b) && strncmp(a, "api://", 6) == 0 && strcmp(a + 6, b) == 0);
}

/* ---- Building hints ---- */

/* A quote buffer per value in one sentence: token values and configured
 * values alike go through aud_text_quote, so a sentence stays one bounded
 * line of valid UTF-8 whatever either side holds. */
typedef char quote_buf[AUD_TEXT_QUOTE_SIZE];
#define Q(value, buf) aud_text_quote_str((value), (buf))

/* Room for a sentence quoting three values at their longest. */
#define HINT_TEXT_MAX (4 * AUD_TEXT_QUOTE_SIZE)

static void remember_reason(aud_result *r, aud_reason reason)
{
    size_t n = json_array_size(r->hints);
    aud_reason *grown = realloc(r->hint_reasons, n * sizeof *grown);
    if (grown == NULL)
        return;
    for (size_t i = r->n_hint_reasons; i + 1 < n; i++)
        grown[i] = AUD_REASON_OK;
    grown[n - 1] = reason;
    r->hint_reasons = grown;
    r->n_hint_reasons = n;
}

/* Appends {"code", "text"} for the check it explains (reason); returns the
 * object for further members, or NULL when it could not be made. */
static json_t *hint_add(aud_result *r, aud_reason reason, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static json_t *hint_add(aud_result *r, aud_reason reason, const char *code, const char *fmt, ...)
{
    char raw[HINT_TEXT_MAX], text[HINT_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Every part is already quoted; this only makes sure that a sentence
     * cut by the buffer ends between characters. */
    aud_text_quote(raw, strlen(raw), sizeof text, text, sizeof text);
    size_t i;
    json_t *existing;
    json_array_foreach(r->hints, i, existing) {
        /* The same sentence twice helps nobody (e.g. aud listed twice). */
        if (strcmp(json_string_value(json_object_get(existing, "text")), text) == 0)
            return existing;
    }
    json_t *hint = json_pack("{s:s, s:s}", "code", code, "text", text);
    if (hint == NULL || json_array_append_new(r->hints, hint) != 0)
        return NULL;
    remember_reason(r, reason);
    return hint;
}

/* Sets a string member on a hint that may be NULL. */
static void hint_set(json_t *hint, const char *name, const char *quoted)
{
    if (hint != NULL)
        json_object_set_new(hint, name, json_string(quoted));
}

/* The check a hint about the whole token (what kind of token it is, who
 * issued it) explains: the one the module's response is about
 * (aud_audit_primary_reason), leaving out the server-side reasons no token
 * can cause, so that the summary and the hint read as one sentence. */
static aud_reason token_reason(const aud_result *r)
{
    aud_result token_side = *r; /* only the reasons are read */
    token_side.reasons &= ~((UINT32_C(1) << AUD_REASON_KEYS_UNAVAILABLE) |
                            (UINT32_C(1) << AUD_REASON_NO_AUDIENCE_CONFIGURED));
    aud_reason reason = aud_audit_primary_reason(&token_side);
    return reason != AUD_REASON_OK ? reason : aud_audit_primary_reason(r);
}

/* The Entra ID token version a token shows: its ver claim, else the form of
 * its issuer; 0 when it shows none. */
static bool azure_issuer(const char *iss, int *version, char *tenant, size_t len);
static int entra_version(const aud_result *r)
{
    const char *ver = aud_result_claim_string(r, "ver");
    if (ver != NULL)
        return strcmp(ver, "2.0") == 0 ? 2 : strcmp(ver, "1.0") == 0 ? 1 : 0;
    const char *iss = aud_result_claim_string(r, "iss");
    char tenant[128];
    int version = 0;
    return iss != NULL && azure_issuer(iss, &version, tenant, sizeof tenant) ? version : 0;
}

#define ACCEPTED_VERSION_SETTING \
    "the API's accepted token version (accessTokenAcceptedVersion, or api.requestedAccessTokenVersion, in its app " \
    "registration)"

/* Microsoft's access token claims reference: in v2.0 tokens aud is always
 * the API's application (client) ID; in v1.0 tokens it is the resource the
 * client requested, the App ID URI or the client ID. Which version a token
 * has is the API's registration's choice, not the endpoint's. */
static void azure_pair_hint(aud_result *r, const char *aud, const char *allowed)
{
    quote_buf qa, ql, qv;
    const char *ver = aud_result_claim_string(r, "ver");
    int version = entra_version(r);
    char says[AUD_TEXT_QUOTE_SIZE + 32] = "";
    if (ver != NULL)
        snprintf(says, sizeof says, " (this token says ver %s)", Q(ver, qv));
    Q(aud, qa);
    Q(allowed, ql);
    json_t *h;
    if (is_guid(aud) && version == 2)
        h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_guid_vs_uri",
                     "aud '%s' is the application (client) ID of the allowed App ID URI '%s': Entra ID v2.0 access "
                     "tokens%s always carry the API's client ID as aud; allow '%s' too",
                     qa, ql, says, qa);
    else if (is_guid(aud) && version == 1)
        h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_guid_vs_uri",
                     "aud '%s' is the application (client) ID form of the allowed App ID URI '%s': in Entra ID v1.0 "
                     "access tokens%s aud is whichever of the two the client requested; have the client request "
                     "'%s', or allow '%s' too",
                     qa, ql, says, ql, qa);
    else if (is_guid(aud))
        h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_guid_vs_uri",
                     "aud '%s' is the application (client) ID form of the allowed App ID URI '%s'%s: Entra ID v2.0 "
                     "access tokens always carry the client ID, v1.0 tokens whichever of the two the client "
                     "requested; allow '%s' too",
                     qa, ql, says, qa);
    else if (version == 2)
        h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_guid_vs_uri",
                     "aud '%s' is the App ID URI form of the allowed application (client) ID '%s'%s, but Entra ID "
                     "v2.0 access tokens always carry the client ID: check which issuer minted this token",
                     qa, ql, says);
    else
        h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_guid_vs_uri",
                     "aud '%s' is the App ID URI form of the allowed application (client) ID '%s'%s: only Entra ID "
                     "v1.0 access tokens carry an App ID URI, the resource the client requested; allow '%s' too, or "
                     "set " ACCEPTED_VERSION_SETTING " to 2 so that every token carries the client ID",
                     qa, ql, says, qa);
    hint_set(h, "aud", qa);
    hint_set(h, "allowed", ql);
    if (ver != NULL)
        hint_set(h, "ver", qv);
}

static void pair_hints(aud_result *r, const char *aud, const char *allowed)
{
    quote_buf qa, ql;
    const char *kind = NULL;
    const char *code = NULL;
    if (differs_by_whitespace(aud, allowed)) {
        code = "whitespace";
        kind = "surrounding whitespace";
    } else if (differs_by_trailing_slash(aud, allowed)) {
        code = "trailing_slash";
        kind = "a trailing slash";
    } else if (strcasecmp(aud, allowed) == 0) {
        code = "case";
        kind = "letter case";
    } else if (differs_by_default_port(aud, allowed)) {
        code = "default_port";
        kind = "an explicit default port";
    } else if (differs_by_scheme(aud, allowed)) {
        code = "scheme";
        kind = "its scheme";
    }
    if (code != NULL) {
        json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, code, "aud '%s' differs from the allowed '%s' only by %s",
                             Q(aud, qa), Q(allowed, ql), kind);
        hint_set(h, "aud", qa);
        hint_set(h, "allowed", ql);
        return;
    }
    if (guid_and_its_uri(aud, allowed))
        azure_pair_hint(r, aud, allowed);
}

static bool listed(const char *const *values, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(values[i], value) == 0)
            return true;
    }
    return false;
}

/* A v2.0 token's aud is the API's client ID, which an allow list of App ID
 * URIs (api://orders) never holds; the GUID itself is the hint. */
static void azure_v2_client_id_hint(aud_result *r, const aud_api_view *self, const char *aud)
{
    if (self == NULL || !is_guid(aud) || entra_version(r) != 2)
        return;
    const char *uri = NULL;
    for (size_t j = 0; j < self->n_audiences; j++) {
        const char *allowed = self->audiences[j];
        if (guid_and_its_uri(aud, allowed))
            return; /* azure_guid_vs_uri says it better */
        if (uri == NULL && strncmp(allowed, "api://", 6) == 0)
            uri = allowed;
    }
    if (uri == NULL)
        return;
    quote_buf qa, qu;
    json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, "azure_v2_client_id",
                         "aud '%s' is what Entra ID v2.0 access tokens always carry, the API's application (client) "
                         "ID, never an App ID URI such as the allowed '%s'; if '%s' is this API's client ID, allow it",
                         Q(aud, qa), Q(uri, qu), qa);
    hint_set(h, "aud", qa);
}

static void audience_hints(aud_result *r, const aud_hint_context *ctx)
{
    json_t *aud = json_object_get(r->claims, "aud");
    size_t count = json_is_array(aud) ? json_array_size(aud) : (json_is_string(aud) ? 1 : 0);
    /* A token with hundreds of audiences must not cost hundreds of hints. */
    if (count > 16)
        count = 16;
    quote_buf qa, qn, qs;
    for (size_t i = 0; i < count; i++) {
        const char *value = json_string_value(json_is_array(aud) ? json_array_get(aud, i) : aud);
        if (value == NULL)
            continue;
        for (size_t j = 0; ctx->self != NULL && j < ctx->self->n_audiences; j++)
            pair_hints(r, value, ctx->self->audiences[j]);
        azure_v2_client_id_hint(r, ctx->self, value);
        for (size_t k = 0; k < ctx->n_others; k++) {
            const aud_api_view *other = &ctx->others[k];
            if (listed(other->audiences, other->n_audiences, value)) {
                json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, "other_api",
                                     "this token was minted for '%s', not '%s' (aud '%s')", Q(other->name, qn),
                                     Q(ctx->self != NULL ? ctx->self->name : "this API", qs), Q(value, qa));
                hint_set(h, "api", qn);
            }
        }
        const char *resource = aud_well_known_resource(value);
        if (resource != NULL) {
            json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, "well_known_resource",
                                 "the token is a %s token; request a token for this API's audience (aud '%s')",
                                 resource, Q(value, qa));
            hint_set(h, "resource", resource);
        }
    }
}

static bool token_aud_contains(const aud_result *r, const char *value)
{
    json_t *aud = json_object_get(r->claims, "aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), value) == 0;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) {
        if (json_is_string(item) && strcmp(json_string_value(item), value) == 0)
            return true;
    }
    return false;
}

/* True when every audience the token carries satisfies fit (and it carries
 * at least one). */
static bool every_aud(const aud_result *r, bool (*fit)(const char *value, const aud_result *r))
{
    json_t *aud = json_object_get(r->claims, "aud");
    if (json_is_string(aud))
        return fit(json_string_value(aud), r);
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return false;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) {
        if (!json_is_string(item) || !fit(json_string_value(item), r))
            return false;
    }
    return true;
}

static bool is_account(const char *value, const aud_result *r)
{
    (void)r;
    return strcmp(value, "account") == 0;
}

/* https://<host>/userinfo, the form of Auth0's OIDC /userinfo audience; when
 * the token names its issuer, on the issuer's own host. */
static bool is_userinfo(const char *value, const aud_result *r)
{
    if (strncmp(value, "https://", 8) != 0)
        return false;
    const char *host = value + 8;
    size_t host_len = strcspn(host, "/");
    if (host_len == 0 || strcmp(host + host_len, "/userinfo") != 0)
        return false;
    const char *iss = aud_result_claim_string(r, "iss");
    return iss == NULL || (strncmp(iss, value, 8 + host_len) == 0 && (iss[8 + host_len] == '/' || iss[8 + host_len] == '\0'));
}

/* Keycloak adds an API to aud only through an Audience protocol mapper or
 * Audience Resolve (from the API client's roles); the client the token was
 * issued to is in azp, never added by itself. */
static void keycloak_audience_hint(aud_result *r, aud_reason reason)
{
    const char *azp = aud_result_claim_string(r, "azp");
    const char *iss = aud_result_claim_string(r, "iss");
    if (azp == NULL)
        return;
    quote_buf qc, qi;
    json_t *h = NULL;
#define KEYCLOAK_ADVICE                                                                                          \
    "Keycloak puts an API into aud only through an Audience protocol mapper (or Audience Resolve, from the API " \
    "client's roles); give '%s' a client scope with an Audience mapper whose Included Client Audience is this "  \
    "API's client"
    if (json_object_get(r->claims, "aud") == NULL && iss != NULL && strstr(iss, "/realms/") != NULL)
        h = hint_add(r, reason, "keycloak_audience",
                     "the token has no audience, only its client azp '%s' (issuer '%s'): " KEYCLOAK_ADVICE, Q(azp, qc),
                     Q(iss, qi), qc);
    else if (every_aud(r, is_account))
        h = hint_add(r, reason, "keycloak_audience",
                     "the token's only audience is 'account' and its client is azp '%s': " KEYCLOAK_ADVICE, Q(azp, qc),
                     qc);
#undef KEYCLOAK_ADVICE
    hint_set(h, "client", qc);
}

/* An ID token is meant for the client that asked for it: it carries
 * nonce/at_hash/c_hash/auth_time and no scopes or roles. An audience equal
 * to the token's own client id without those signs is the related mistake
 * of requesting a token for the client itself. */
static bool looks_like_id_token(const aud_result *r)
{
    static const char *const id_signs[] = {"nonce", "at_hash", "c_hash", "auth_time"};
    static const char *const access_signs[] = {"scp", "scope", "roles"};
    bool id_sign = false, access_sign = false;
    for (size_t i = 0; i < 4; i++)
        id_sign |= json_object_get(r->claims, id_signs[i]) != NULL;
    for (size_t i = 0; i < 3; i++)
        access_sign |= json_object_get(r->claims, access_signs[i]) != NULL;
    return id_sign && !access_sign;
}

/* Keycloak names its ID tokens in the typ claim; the whole-token hint says
 * so (id_token), and aud being the client is what an ID token's aud is, not
 * a second mistake. */
static bool keycloak_id_token(const aud_result *r)
{
    const char *typ = aud_result_claim_string(r, "typ");
    return typ != NULL && strcmp(typ, "ID") == 0;
}

static void token_kind_hints(aud_result *r, const aud_hint_context *ctx)
{
    aud_reason reason = aud_result_has(r, AUD_REASON_AUD_MISMATCH) ? AUD_REASON_AUD_MISMATCH : AUD_REASON_AUD_MISSING;
    /* The same client as everywhere else (aud_result_client); but when that
     * client was read from aud itself (an ID token without azp), saying that
     * aud is the client would only repeat it. */
    const char *client = aud_result_client(r);
    bool from_aud = client != NULL && client == aud_result_claim_string(r, "aud");
    bool aud_is_client = client != NULL && !from_aud && token_aud_contains(r, client);
    quote_buf q, qa;
    if (looks_like_id_token(r)) {
        hint_add(r, reason, "id_token", "an ID token was sent where an access token is expected");
    } else if (aud_is_client && !keycloak_id_token(r)) {
        json_t *h = hint_add(r, reason, "client_id_as_aud",
                             "the token's audience is its own client id '%s': the client asked for a token for "
                             "itself; it should request one with this API's audience (scope)",
                             Q(client, q));
        hint_set(h, "client", q);
    }
    keycloak_audience_hint(r, reason);
    if (aud_result_has(r, AUD_REASON_AUD_MISMATCH) && every_aud(r, is_userinfo)) {
        json_t *aud = json_object_get(r->claims, "aud");
        const char *value = json_string_value(json_is_array(aud) ? json_array_get(aud, 0) : aud);
        json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, "auth0_userinfo",
                             "the token's only audience is the /userinfo endpoint '%s': Auth0 gives a token that "
                             "audience alone when the client asks without the audience parameter; request it with "
                             "audience set to this API's identifier",
                             Q(value, qa));
        hint_set(h, "aud", qa);
    }
    if (aud_result_has(r, AUD_REASON_AUD_MISMATCH) && token_aud_contains(r, "api://default") &&
        (ctx->self == NULL || !listed(ctx->self->audiences, ctx->self->n_audiences, "api://default"))) {
        quote_buf qi;
        const char *iss = aud_result_claim_string(r, "iss");
        hint_add(r, AUD_REASON_AUD_MISMATCH, "okta_default_audience",
                 "aud 'api://default' is the audience Okta's pre-configured 'default' authorization server "
                 "uses unless it is changed (issuer '%s'): the client requested its token there; request it from "
                 "the authorization server whose audience is this API's",
                 Q(iss != NULL ? iss : "?", qi));
    }
}

/* https://<org>.okta.com with no path: Okta's org authorization server,
 * whose access tokens Okta documents as meant for Okta alone. */
static bool okta_org_issuer(const char *iss)
{
    static const char *const suffixes[] = {".okta.com", ".oktapreview.com", ".okta-emea.com"};
    if (strncmp(iss, "https://", 8) != 0)
        return false;
    const char *host = iss + 8;
    size_t host_len = strlen(host);
    if (host_len == 0 || strcspn(host, "/:?#") != host_len)
        return false;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t sl = strlen(suffixes[i]);
        if (host_len > sl && strcasecmp(host + host_len - sl, suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* What the token says it is, for any refusal: Keycloak's typ claim names
 * refresh, offline and ID tokens; an Okta org issuer names tokens no API but
 * Okta's can use. */
static void token_type_hints(aud_result *r)
{
    aud_reason reason = token_reason(r);
    const char *typ = aud_result_claim_string(r, "typ");
    quote_buf qt, qi;
    if (typ != NULL && (strcmp(typ, "Refresh") == 0 || strcmp(typ, "Offline") == 0)) {
        json_t *h = hint_add(r, reason, "refresh_token",
                             "%s (typ '%s', as Keycloak marks them) was sent as a bearer token: it is for the "
                             "token endpoint only; send the access token instead",
                             strcmp(typ, "Refresh") == 0 ? "a refresh token" : "an offline token (a long-lived "
                                                                               "refresh token)",
                             Q(typ, qt));
        hint_set(h, "typ", qt);
    } else if ((typ != NULL && strcmp(typ, "ID") == 0) ||
               (aud_result_has(r, AUD_REASON_TOKEN_TYPE) && looks_like_id_token(r))) {
        /* With AudTokenType the header already refused it; the claims say
         * why the client had such a token (typ JWT, as ID tokens have). */
        hint_add(r, reason, "id_token", "an ID token was sent where an access token is expected");
    }
    const char *iss = aud_result_claim_string(r, "iss");
    if (iss != NULL && okta_org_issuer(iss)) {
        hint_add(r, reason, "okta_org_server",
                 "iss '%s' is an Okta org authorization server (no /oauth2/... in the issuer): Okta documents its "
                 "access tokens as meant for Okta alone, not for validation by your own API; request the token from "
                 "a custom authorization server (https://<your Okta domain>/oauth2/<server id>, e.g. "
                 "/oauth2/default)",
                 Q(iss, qi));
    }
}

/* Azure AD issuers: https://sts.windows.net/<tenant>/ (v1) and
 * https://login.microsoftonline.com/<tenant>/v2.0 (v2). */
static bool azure_issuer(const char *iss, int *version, char *tenant, size_t len)
{
    static const struct {
        const char *prefix;
        const char *suffix;
        int version;
    } forms[] = {{"https://sts.windows.net/", "/", 1}, {"https://login.microsoftonline.com/", "/v2.0", 2}};
    for (size_t i = 0; i < 2; i++) {
        size_t pl = strlen(forms[i].prefix);
        if (strncmp(iss, forms[i].prefix, pl) != 0)
            continue;
        const char *t = iss + pl;
        size_t tl = strcspn(t, "/");
        if (tl == 0 || tl >= len || strcmp(t + tl, forms[i].suffix) != 0)
            continue;
        memcpy(tenant, t, tl);
        tenant[tl] = '\0';
        *version = forms[i].version;
        return true;
    }
    return false;
}

/* Google's OpenID Connect reference: the issuer is https://accounts.google.com,
 * and accounts.google.com is also returned for legacy implementations. */
static bool google_spellings(const char *a, const char *b)
{
    return (strcmp(a, "accounts.google.com") == 0 && strcmp(b, "https://accounts.google.com") == 0) ||
           (strcmp(b, "accounts.google.com") == 0 && strcmp(a, "https://accounts.google.com") == 0);
}

static void issuer_hints(aud_result *r, const aud_hint_context *ctx)
{
    const char *iss = aud_result_claim_string(r, "iss");
    if (iss == NULL)
        return;
    const aud_reason why = AUD_REASON_ISSUER_MISMATCH;
    quote_buf q, ql, qt, qu;
    char token_tenant[128], tenant[128];
    int token_version = 0, version = 0;
    bool token_azure = azure_issuer(iss, &token_version, token_tenant, sizeof token_tenant);
    for (size_t i = 0; ctx->self != NULL && i < ctx->self->n_issuers; i++) {
        const char *allowed = ctx->self->issuers[i];
        const char *slot = strstr(allowed, "{tenantid}");
        if (slot != NULL) {
            /* A template refused an issuer of its own form that names the
             * token's tid: the tenant is the one thing not accepted. */
            const char *tid = aud_result_claim_string(r, "tid");
            size_t before = (size_t)(slot - allowed), after = strlen(slot + 10), il = strlen(iss);
            if (tid != NULL && il == before + strlen(tid) + after && strncmp(iss, allowed, before) == 0 &&
                strncmp(iss + before, tid, strlen(tid)) == 0 && strcmp(iss + il - after, slot + 10) == 0) {
                json_t *h = hint_add(r, why, "issuer_other_tenant",
                                     "iss '%s' is from tenant '%s', which this API does not accept (AudTenant "
                                     "lists the tenants its issuer template '%s' accepts)",
                                     Q(iss, q), Q(tid, qt), Q(allowed, ql));
                hint_set(h, "tenant", qt);
            }
            continue;
        }
        if (differs_by_trailing_slash(iss, allowed)) {
            hint_add(r, why, "issuer_trailing_slash",
                     "iss '%s' differs from the allowed issuer '%s' only by a trailing slash", Q(iss, q),
                     Q(allowed, ql));
        } else if (google_spellings(iss, allowed)) {
            hint_add(r, why, "google_issuer",
                     "iss '%s' is the other spelling of the allowed '%s': Google documents its issuer as "
                     "https://accounts.google.com and, for legacy implementations, accounts.google.com; allow both",
                     Q(iss, q), Q(allowed, ql));
        } else if (token_azure && azure_issuer(allowed, &version, tenant, sizeof tenant)) {
            if (strcmp(tenant, token_tenant) == 0 && version != token_version)
                hint_add(r, why, "azure_v1_v2_issuer",
                         "iss '%s' is the Azure AD v%d issuer of the same tenant as the allowed v%d issuer '%s': "
                         "Entra ID issues v%d.0 tokens for this API, as " ACCEPTED_VERSION_SETTING " says; allow "
                         "this issuer too, or change that setting",
                         Q(iss, q), token_version, version, Q(allowed, ql), token_version);
            else if (strcmp(tenant, token_tenant) != 0 && version == token_version)
                hint_add(r, why, "issuer_other_tenant",
                         "iss '%s' is from Azure AD tenant '%s', but this API accepts tenant '%s'", Q(iss, q),
                         Q(token_tenant, qt), Q(tenant, qu));
        }
    }
    for (size_t k = 0; k < ctx->n_others; k++) {
        if (listed(ctx->others[k].issuers, ctx->others[k].n_issuers, iss)) {
            json_t *h = hint_add(r, why, "issuer_other_api", "issuer '%s' is accepted by '%s' on this server, not by '%s'",
                                 Q(iss, q), Q(ctx->others[k].name, qt),
                                 Q(ctx->self != NULL ? ctx->self->name : "this API", qu));
            hint_set(h, "api", qt);
        }
    }
}

/* Token-supplied times reach an integer member: past this, the conversion
 * would be undefined, and no span that long means anything anyway. */
#define HINT_MAX_SECONDS 1e12

static json_int_t clamped_seconds(double seconds)
{
    if (!(seconds > -HINT_MAX_SECONDS))
        return (json_int_t)-HINT_MAX_SECONDS;
    if (!(seconds < HINT_MAX_SECONDS))
        return (json_int_t)HINT_MAX_SECONDS;
    return (json_int_t)seconds;
}

static void time_hints(aud_result *r, const aud_hint_context *ctx)
{
    char words[64];
    json_t *exp = json_object_get(r->claims, "exp");
    if (aud_result_has(r, AUD_REASON_EXPIRED) && json_is_number(exp)) {
        double ago = ctx->now - json_number_value(exp);
        aud_duration_format(ago, words, sizeof words);
        json_t *h = hint_add(r, AUD_REASON_EXPIRED, "expired",
                             "the token expired %s ago; the client should refresh it before use", words);
        if (h != NULL)
            json_object_set_new(h, "seconds", json_integer(clamped_seconds(ago)));
    }
    if (!aud_result_has(r, AUD_REASON_NOT_YET_VALID))
        return;
    /* The later of nbf and iat is the one that failed. */
    json_t *nbf = json_object_get(r->claims, "nbf"), *iat = json_object_get(r->claims, "iat");
    double start = -HINT_MAX_SECONDS;
    if (json_is_number(nbf))
        start = json_number_value(nbf);
    if (json_is_number(iat) && json_number_value(iat) > start)
        start = json_number_value(iat);
    double ahead = start - ctx->now;
    aud_duration_format(ahead, words, sizeof words);
    json_t *h = ahead <= 300
                    ? hint_add(r, AUD_REASON_NOT_YET_VALID, "not_yet_valid",
                               "the token becomes valid in %s: so small a gap is usually clock skew between this "
                               "server and the token issuer; check that both keep time (NTP)",
                               words)
                    : hint_add(r, AUD_REASON_NOT_YET_VALID, "not_yet_valid", "the token becomes valid only in %s",
                               words);
    if (h != NULL)
        json_object_set_new(h, "seconds", json_integer(clamped_seconds(ahead)));
}

/* Hints from the token's shape, which need no claims: an encrypted token,
 * an opaque one, a DER-encoded ECDSA signature. */
static void shape_hints(aud_result *r)
{
    quote_buf qa, qe;
    if (aud_result_has(r, AUD_REASON_MALFORMED) && r->shape.encrypted) {
        json_t *h = hint_add(r, AUD_REASON_MALFORMED, "encrypted_token",
                             "the token is encrypted (a JWE, alg '%s', enc '%s'): this API verifies signed tokens "
                             "and cannot decrypt; ask the identity provider to issue this API's access tokens "
                             "signed but not encrypted",
                             Q(aud_result_header_string(r, "alg"), qa), Q(aud_result_header_string(r, "enc"), qe));
        hint_set(h, "enc", qe);
    } else if (aud_result_has(r, AUD_REASON_MALFORMED) && r->shape.opaque) {
        json_t *h = hint_add(r, AUD_REASON_MALFORMED, "opaque_token",
                             "the token is not a JWT (%u dot-separated segment%s, not base64url JSON): probably an "
                             "opaque access token, which only its issuer can check; this API needs a JWT access "
                             "token, which clients usually get by naming this API as the resource or audience of "
                             "their token request (Auth0, for one, returns an opaque token when none is named)",
                             r->shape.segments, r->shape.segments == 1 ? "" : "s");
        if (h != NULL)
            json_object_set_new(h, "segments", json_integer(r->shape.segments));
    }
    static const struct {
        const char *alg;
        size_t raw;
    } ecdsa[] = {{"ES256", 64}, {"ES384", 96}, {"ES512", 132}};
    const char *alg = aud_result_header_string(r, "alg");
    for (size_t i = 0; alg != NULL && i < 3; i++) {
        if (strcmp(alg, ecdsa[i].alg) == 0 && aud_result_has(r, AUD_REASON_BAD_SIGNATURE) &&
            r->shape.signature_der && r->shape.signature_len != ecdsa[i].raw)
            hint_add(r, AUD_REASON_BAD_SIGNATURE, "ecdsa_der_signature",
                     "the %s signature is %zu bytes of DER (an ASN.1 SEQUENCE of r and s); JOSE (RFC 7518 section "
                     "3.4) requires the raw %zu-byte R||S, so the signer must convert it",
                     ecdsa[i].alg, r->shape.signature_len, ecdsa[i].raw);
    }
}

/* The last day an allowance covers: it ends at the midnight after it. */
static void allowance_day(double until, char *buf, size_t len)
{
    char stamp[40];
    aud_time_format_rfc3339(until - 1, stamp, sizeof stamp);
    snprintf(buf, len, "%.10s", stamp);
}

static void allowance_hints(aud_result *r)
{
    char day[16];
    quote_buf q;
    if (r->matched_audience != NULL && r->matched_until != 0) {
        allowance_day(r->matched_until, day, sizeof day);
        json_t *h = hint_add(r, AUD_REASON_OK, "deprecated_audience",
                             "audience '%s' is accepted only until %s (AudAllowUntil); move the client to a "
                             "permanent audience before then",
                             Q(r->matched_audience, q), day);
        hint_set(h, "until", day);
    }
    if (r->ended_audience != NULL && r->matched_audience == NULL) {
        allowance_day(r->ended_until, day, sizeof day);
        json_t *h = hint_add(r, AUD_REASON_AUD_MISMATCH, "allowance_ended",
                             "audience '%s' was accepted only until %s; that allowance has ended",
                             Q(r->ended_audience, q), day);
        hint_set(h, "until", day);
    }
}

void aud_hints_add(aud_result *r, const aud_hint_context *ctx)
{
    json_decref(r->hints);
    free(r->hint_reasons);
    r->hint_reasons = NULL;
    r->n_hint_reasons = 0;
    r->hints = json_array();
    if (r->hints == NULL)
        return;
    /* A token that did not decode has no claims, but its shape still tells
     * what it is. */
    shape_hints(r);
    if (r->claims == NULL)
        return;
    allowance_hints(r);
    if (aud_result_has(r, AUD_REASON_AUD_MISMATCH) || aud_result_has(r, AUD_REASON_AUD_MISSING)) {
        if (aud_result_has(r, AUD_REASON_AUD_MISMATCH))
            audience_hints(r, ctx);
        token_kind_hints(r, ctx);
    }
    if (!aud_result_accepted(r))
        token_type_hints(r);
    if (aud_result_has(r, AUD_REASON_ISSUER_MISMATCH))
        issuer_hints(r, ctx);
    time_hints(r, ctx);
}

const char *aud_hints_first_text(const aud_result *r)
{
    return json_string_value(json_object_get(json_array_get(r->hints, 0), "text"));
}

const char *aud_hints_text_for(const aud_result *r, aud_reason reason)
{
    size_t n = json_array_size(r->hints);
    for (size_t i = 0; i < n && i < r->n_hint_reasons; i++) {
        if (r->hint_reasons[i] == reason)
            return json_string_value(json_object_get(json_array_get(r->hints, i), "text"));
    }
    return NULL;
}

/* ---- Start-up lint ---- */

static void lint(aud_lint_fn *warn, void *baton, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lint(aud_lint_fn *warn, void *baton, const char *fmt, ...)
{
    char raw[HINT_TEXT_MAX], message[HINT_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    aud_text_quote(raw, strlen(raw), sizeof message, message, sizeof message);
    warn(baton, message);
}

static void lint_audience_list(const char *const *values, size_t n, const double *until, double now,
                               aud_lint_fn *warn, void *baton)
{
    char twin[512], day[16];
    quote_buf qv, qw, qt;
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        Q(v, qv);
        if (v[0] != '\0' && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[strlen(v) - 1])))
            lint(warn, baton, "audience '%s' has surrounding whitespace: no token's aud will match it", qv);
        const char *resource = aud_well_known_resource(v);
        if (resource != NULL)
            lint(warn, baton, "audience '%s' is %s's: this location accepts %s tokens, which are minted for %s, "
                 "not for this API", qv, resource, resource, resource);
        for (size_t j = i + 1; j < n; j++) {
            const char *w = values[j];
            const char *how = differs_by_trailing_slash(v, w) ? "a trailing slash"
                              : strcmp(v, w) != 0 && strcasecmp(v, w) == 0 ? "letter case"
                              : strcmp(v, w) != 0 && differs_by_scheme(v, w) ? "scheme"
                                                                              : NULL;
            if (how != NULL)
                lint(warn, baton, "audiences '%s' and '%s' differ only by %s: a token carries one exact value, so "
                     "one of them is probably a mistake", qv, Q(w, qw), how);
        }
        bool bare = is_guid(v), uri = strncmp(v, "api://", 6) == 0 && is_guid(v + 6);
        if ((bare || uri) && resource == NULL) {
            snprintf(twin, sizeof twin, bare ? "api://%s" : "%s", bare ? v : v + 6);
            Q(twin, qt);
            if (!listed(values, n, twin) && bare)
                lint(warn, baton, "audience '%s' is allowed without its api:// twin '%s': Entra ID v2.0 access "
                     "tokens carry the application (client) ID as here, but v1.0 tokens carry whichever resource "
                     "the client requested, so a v1.0 token requested for '%s' is refused", qv, qt, qt);
            else if (!listed(values, n, twin))
                lint(warn, baton, "audience '%s' is allowed without its bare GUID twin '%s': Entra ID v2.0 access "
                     "tokens always carry the application (client) ID, so only v1.0 tokens requested for the App ID "
                     "URI match here", qv, qt);
        }
        if (until != NULL && until[i] != 0) {
            allowance_day(until[i], day, sizeof day);
            if (until[i] <= now)
                lint(warn, baton, "the allowance for audience '%s' ended on %s: it is refused now", qv, day);
            else if (until[i] - now <= 14 * 86400.0)
                lint(warn, baton, "the allowance for audience '%s' ends on %s, within 14 days", qv, day);
        }
    }
}

void aud_lint_location(const aud_lint_location_input *in, aud_lint_fn *warn, void *baton)
{
    lint_audience_list(in->audiences, in->n_audiences, in->until, in->now, warn, baton);
    bool only_uris = in->n_audiences > 0;
    for (size_t i = 0; i < in->n_audiences; i++)
        only_uris = only_uris && strncmp(in->audiences[i], "api://", 6) == 0;
    for (size_t i = 0; only_uris && i < in->n_issuers; i++) {
        char tenant[128];
        int version = 0;
        quote_buf qi;
        if (azure_issuer(in->issuers[i], &version, tenant, sizeof tenant) && version == 2) {
            lint(warn, baton, "issuer '%s' is an Entra ID v2.0 issuer, but every allowed audience is an api:// App "
                 "ID URI: v2.0 access tokens always carry the API's application (client) ID as aud, so none will "
                 "match; allow the API's client ID", Q(in->issuers[i], qi));
            break;
        }
    }
}

void aud_lint_audiences(const char *const *values, size_t n, const double *until, double now, aud_lint_fn *warn,
                        void *baton)
{
    aud_lint_location_input in = {values, n, until, NULL, 0, now};
    aud_lint_location(&in, warn, baton);
}

/* ---- Authorization ---- */

/* Words joined as "'a', 'b'", quoted, for a sentence. */
static void words_text(const aud_claim_word *w, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < 4 && used + 8 < len; i++) {
        char q[AUD_TEXT_QUOTE_SIZE];
        aud_text_quote(w[i].p, w[i].n, 40, q, sizeof q);
        int k = snprintf(buf + used, len - used, "%s'%s'", i ? ", " : "", q);
        if (k < 0 || (size_t)k >= len - used)
            break;
        used += (size_t)k;
    }
    if (n > 4 && used + 12 < len)
        snprintf(buf + used, len - used, " and more");
}

json_t *aud_hints_for_requirement(bool wants_scope, const char *const *wanted, size_t n, const json_t *claims)
{
    aud_claim_word scopes[64], roles[64];
    size_t n_scopes = claims ? aud_claim_scopes(claims, scopes, 64) : 0;
    size_t n_roles = claims ? aud_claim_roles(claims, roles, 64) : 0;
    aud_result view;
    char have[512], q[AUD_TEXT_QUOTE_SIZE], qw[AUD_TEXT_QUOTE_SIZE];

    memset(&view, 0, sizeof view);
    view.hints = json_array();
    if (view.hints == NULL)
        return NULL;
    if (wants_scope && n_scopes == 0 && n_roles > 0) {
        words_text(roles, n_roles, have, sizeof have);
        hint_add(&view, AUD_REASON_INSUFFICIENT_SCOPE, "roles_vs_scopes",
                 "a delegated scope is required, but the token carries only application roles (%s): tokens a "
                 "client gets for itself (client credentials) carry roles, not scopes, in Microsoft Entra ID; "
                 "require the role (Require aud-role) for such callers, or have the client act for a user",
                 have);
    } else if (!wants_scope && n_roles == 0 && n_scopes > 0) {
        words_text(scopes, n_scopes, have, sizeof have);
        hint_add(&view, AUD_REASON_INSUFFICIENT_SCOPE, "roles_vs_scopes",
                 "an application role is required, but the token carries only delegated scopes (%s): it was "
                 "issued for a user; require the scope (Require aud-scope), or assign the role", have);
    }
    for (size_t i = 0; i < n; i++) {
        aud_claim_word granted;
        const aud_claim_word *list = wants_scope ? scopes : roles;
        if (aud_claim_case_near(list, wants_scope ? n_scopes : n_roles, wanted[i], &granted)) {
            aud_text_quote(granted.p, granted.n, AUD_TEXT_QUOTE_CHARS, q, sizeof q);
            aud_text_quote_str(wanted[i], qw);
            hint_add(&view, AUD_REASON_INSUFFICIENT_SCOPE, "scope_case",
                     "the token grants '%s', which differs from the required '%s' only in letter case; %s are "
                     "compared byte for byte", q, qw, wants_scope ? "scopes" : "roles");
            break;
        }
    }
    free(view.hint_reasons);
    return view.hints;
}
