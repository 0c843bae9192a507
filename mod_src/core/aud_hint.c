#include "aud_hint.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Token-supplied text in a sentence: bounded and free of control characters,
 * so that a hint can go into a log line or a quoted-string as it is. */
static const char *safe(const char *value, char *buf, size_t len)
{
    size_t out = 0, i = 0;
    for (; value[i] != '\0' && out + 4 < len && i < 100; i++) {
        unsigned char c = (unsigned char)value[i];
        buf[out++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (value[i] != '\0') {
        memcpy(buf + out, "...", 3);
        out += 3;
    }
    buf[out] = '\0';
    return buf;
}

/* Appends {"code", "text"} plus extra members given as name/value string
 * pairs (NULL-terminated); returns the object for further members. */
static json_t *hint_add(aud_result *r, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *hint_add(aud_result *r, const char *code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t i;
    json_t *existing;
    json_array_foreach(r->hints, i, existing) {
        /* The same sentence twice helps nobody (e.g. aud listed twice). */
        if (strcmp(json_string_value(json_object_get(existing, "text")), text) == 0)
            return existing;
    }
    json_t *hint = json_pack("{s:s, s:s}", "code", code, "text", text);
    json_array_append_new(r->hints, hint);
    return hint;
}

static void pair_hints(aud_result *r, const char *aud, const char *allowed)
{
    char qa[128];
    const char *version = aud_result_claim_string(r, "ver");
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
        json_t *h = hint_add(r, code, "aud '%s' differs from the allowed '%s' only by %s", safe(aud, qa, sizeof qa),
                             allowed, kind);
        json_object_set_new(h, "aud", json_string(qa));
        json_object_set_new(h, "allowed", json_string(allowed));
        return;
    }
    if (guid_and_its_uri(aud, allowed)) {
        bool bare = is_guid(aud);
        char ver[96] = "", qv[40];
        if (version != NULL)
            snprintf(ver, sizeof ver, " (the token says ver %s)", safe(version, qv, sizeof qv));
        json_t *h = hint_add(r, "azure_guid_vs_uri",
                             "aud '%s' is the %s form of the allowed '%s': Azure AD v1 tokens carry the bare "
                             "application ID, v2 tokens the api:// URI%s; request a token of the version this API "
                             "accepts, or allow both forms during a migration",
                             safe(aud, qa, sizeof qa), bare ? "bare application ID" : "api:// URI", allowed, ver);
        json_object_set_new(h, "aud", json_string(qa));
        json_object_set_new(h, "allowed", json_string(allowed));
        if (version != NULL)
            json_object_set_new(h, "ver", json_string(version));
    }
}

static bool listed(const char *const *values, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(values[i], value) == 0)
            return true;
    }
    return false;
}

static void audience_hints(aud_result *r, const aud_hint_context *ctx)
{
    json_t *aud = json_object_get(r->claims, "aud");
    size_t count = json_is_array(aud) ? json_array_size(aud) : (json_is_string(aud) ? 1 : 0);
    /* A token with hundreds of audiences must not cost hundreds of hints. */
    if (count > 16)
        count = 16;
    char qa[128];
    for (size_t i = 0; i < count; i++) {
        const char *value = json_string_value(json_is_array(aud) ? json_array_get(aud, i) : aud);
        if (value == NULL)
            continue;
        for (size_t j = 0; ctx->self != NULL && j < ctx->self->n_audiences; j++)
            pair_hints(r, value, ctx->self->audiences[j]);
        for (size_t k = 0; k < ctx->n_others; k++) {
            const aud_api_view *other = &ctx->others[k];
            if (listed(other->audiences, other->n_audiences, value)) {
                json_t *h = hint_add(r, "other_api", "this token was minted for '%s', not '%s' (aud '%s')",
                                     other->name, ctx->self != NULL ? ctx->self->name : "this API",
                                     safe(value, qa, sizeof qa));
                json_object_set_new(h, "api", json_string(other->name));
            }
        }
        const char *resource = aud_well_known_resource(value);
        if (resource != NULL) {
            json_t *h = hint_add(r, "well_known_resource",
                                 "the token is a %s token; request a token for this API's audience (aud '%s')",
                                 resource, value);
            json_object_set_new(h, "resource", json_string(resource));
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

/* An ID token is meant for the client that asked for it: it carries
 * nonce/at_hash/c_hash/auth_time and no scopes or roles. An audience equal
 * to the token's own client id without those signs is the related mistake
 * of requesting a token for the client itself. */
static void token_kind_hints(aud_result *r)
{
    static const char *const id_signs[] = {"nonce", "at_hash", "c_hash", "auth_time"};
    static const char *const access_signs[] = {"scp", "scope", "roles"};
    bool id_sign = false, access_sign = false;
    for (size_t i = 0; i < 4; i++)
        id_sign |= json_object_get(r->claims, id_signs[i]) != NULL;
    for (size_t i = 0; i < 3; i++)
        access_sign |= json_object_get(r->claims, access_signs[i]) != NULL;
    const char *client = aud_result_client(r);
    bool aud_is_client = client != NULL && token_aud_contains(r, client);
    char q[128];
    if (id_sign && !access_sign) {
        hint_add(r, "id_token", "an ID token was sent where an access token is expected");
    } else if (aud_is_client) {
        json_t *h = hint_add(r, "client_id_as_aud",
                             "the token's audience is its own client id '%s': the client asked for a token for "
                             "itself; it should request one with this API's audience (scope)",
                             safe(client, q, sizeof q));
        json_object_set_new(h, "client", json_string(q));
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

static void issuer_hints(aud_result *r, const aud_hint_context *ctx)
{
    const char *iss = aud_result_claim_string(r, "iss");
    if (iss == NULL)
        return;
    char q[128];
    char token_tenant[128], tenant[128];
    int token_version = 0, version = 0;
    bool token_azure = azure_issuer(iss, &token_version, token_tenant, sizeof token_tenant);
    for (size_t i = 0; ctx->self != NULL && i < ctx->self->n_issuers; i++) {
        const char *allowed = ctx->self->issuers[i];
        if (differs_by_trailing_slash(iss, allowed)) {
            hint_add(r, "issuer_trailing_slash", "iss '%s' differs from the allowed issuer '%s' only by a trailing slash",
                     safe(iss, q, sizeof q), allowed);
        } else if (token_azure && azure_issuer(allowed, &version, tenant, sizeof tenant)) {
            if (strcmp(tenant, token_tenant) == 0 && version != token_version)
                hint_add(r, "azure_v1_v2_issuer",
                         "iss '%s' is the Azure AD v%d issuer of the same tenant as the allowed v%d issuer '%s': "
                         "the token is a v%d token (see the application's accessTokenAcceptedVersion)",
                         safe(iss, q, sizeof q), token_version, version, allowed, token_version);
            else if (strcmp(tenant, token_tenant) != 0 && version == token_version)
                hint_add(r, "issuer_other_tenant",
                         "iss '%s' is from Azure AD tenant '%s', but this API accepts tenant '%s'",
                         safe(iss, q, sizeof q), token_tenant, tenant);
        }
    }
    for (size_t k = 0; k < ctx->n_others; k++) {
        if (listed(ctx->others[k].issuers, ctx->others[k].n_issuers, iss)) {
            json_t *h = hint_add(r, "issuer_other_api", "issuer '%s' is accepted by '%s' on this server, not by '%s'",
                                 safe(iss, q, sizeof q), ctx->others[k].name,
                                 ctx->self != NULL ? ctx->self->name : "this API");
            json_object_set_new(h, "api", json_string(ctx->others[k].name));
        }
    }
}

static void time_hints(aud_result *r, const aud_hint_context *ctx)
{
    char words[64];
    json_t *exp = json_object_get(r->claims, "exp");
    if (aud_result_has(r, AUD_REASON_EXPIRED) && json_is_number(exp)) {
        double ago = ctx->now - json_number_value(exp);
        aud_duration_format(ago, words, sizeof words);
        json_t *h = hint_add(r, "expired", "the token expired %s ago; the client should refresh it before use", words);
        json_object_set_new(h, "seconds", json_integer((json_int_t)ago));
    }
    if (!aud_result_has(r, AUD_REASON_NOT_YET_VALID))
        return;
    json_t *nbf = json_object_get(r->claims, "nbf"), *iat = json_object_get(r->claims, "iat");
    double start = json_is_number(nbf) ? json_number_value(nbf) : json_number_value(iat);
    double ahead = start - ctx->now;
    aud_duration_format(ahead, words, sizeof words);
    json_t *h = ahead <= 300
                    ? hint_add(r, "not_yet_valid",
                               "the token becomes valid in %s: so small a gap is usually clock skew between this "
                               "server and the token issuer; check that both keep time (NTP)",
                               words)
                    : hint_add(r, "not_yet_valid", "the token becomes valid only in %s", words);
    json_object_set_new(h, "seconds", json_integer((json_int_t)ahead));
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
    if (r->matched_audience != NULL && r->matched_until != 0) {
        allowance_day(r->matched_until, day, sizeof day);
        json_t *h = hint_add(r, "deprecated_audience",
                             "audience '%s' is accepted only until %s (AudAllowUntil); move the client to a "
                             "permanent audience before then",
                             r->matched_audience, day);
        json_object_set_new(h, "until", json_string(day));
    }
    if (r->ended_audience != NULL && r->matched_audience == NULL) {
        allowance_day(r->ended_until, day, sizeof day);
        json_t *h = hint_add(r, "allowance_ended", "audience '%s' was accepted only until %s; that allowance has ended",
                             r->ended_audience, day);
        json_object_set_new(h, "until", json_string(day));
    }
}

void aud_hints_add(aud_result *r, const aud_hint_context *ctx)
{
    json_decref(r->hints);
    r->hints = json_array();
    if (r->hints == NULL || r->claims == NULL)
        return;
    allowance_hints(r);
    if (aud_result_has(r, AUD_REASON_AUD_MISMATCH) || aud_result_has(r, AUD_REASON_AUD_MISSING)) {
        if (aud_result_has(r, AUD_REASON_AUD_MISMATCH))
            audience_hints(r, ctx);
        token_kind_hints(r);
    }
    if (aud_result_has(r, AUD_REASON_ISSUER_MISMATCH))
        issuer_hints(r, ctx);
    time_hints(r, ctx);
}

const char *aud_hints_first_text(const aud_result *r)
{
    return json_string_value(json_object_get(json_array_get(r->hints, 0), "text"));
}

/* ---- Start-up lint ---- */

static void lint(aud_lint_fn *warn, void *baton, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lint(aud_lint_fn *warn, void *baton, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    warn(baton, message);
}

void aud_lint_audiences(const char *const *values, size_t n, const double *until, double now, aud_lint_fn *warn,
                        void *baton)
{
    char twin[512], day[16];
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        if (v[0] != '\0' && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[strlen(v) - 1])))
            lint(warn, baton, "audience '%s' has surrounding whitespace: no token's aud will match it", v);
        const char *resource = aud_well_known_resource(v);
        if (resource != NULL)
            lint(warn, baton, "audience '%s' is %s's: this location accepts %s tokens, which are minted for %s, "
                 "not for this API", v, resource, resource, resource);
        for (size_t j = i + 1; j < n; j++) {
            const char *w = values[j];
            const char *how = differs_by_trailing_slash(v, w) ? "a trailing slash"
                              : strcmp(v, w) != 0 && strcasecmp(v, w) == 0 ? "letter case"
                              : strcmp(v, w) != 0 && differs_by_scheme(v, w) ? "scheme"
                                                                              : NULL;
            if (how != NULL)
                lint(warn, baton, "audiences '%s' and '%s' differ only by %s: a token carries one exact value, so "
                     "one of them is probably a mistake", v, w, how);
        }
        bool bare = is_guid(v), uri = strncmp(v, "api://", 6) == 0 && is_guid(v + 6);
        if (bare || uri) {
            snprintf(twin, sizeof twin, bare ? "api://%s" : "%s", bare ? v : v + 6);
            if (!listed(values, n, twin) && resource == NULL)
                lint(warn, baton, "audience '%s' is allowed without its %s twin '%s': Azure AD v1 tokens carry the "
                     "bare application ID and v2 tokens the api:// URI", v, bare ? "api://" : "bare GUID", twin);
        }
        if (until != NULL && until[i] != 0) {
            allowance_day(until[i], day, sizeof day);
            if (until[i] <= now)
                lint(warn, baton, "the allowance for audience '%s' ended on %s: it is refused now", v, day);
            else if (until[i] - now <= 14 * 86400.0)
                lint(warn, baton, "the allowance for audience '%s' ends on %s, within 14 days", v, day);
        }
    }
}
