/* Hints and start-up lint: the sentence an operator reads for each likely
 * mistake, and proof that hints never touch the decision. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit.h"
#include "aud_hint.h"
#include "aud_token.h"
#include "aud_utf8.h"
#include "suites.h"
#include "test_support.h"

#define NOW 1800000000.0

static const char *const users_aud[] = {"api://users"};
static const char *const users_iss[] = {"https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"};
static const aud_api_view users_api = {"Users API", users_aud, 1, users_iss, 1};

static const char *const invoices_aud[] = {"https://api.example.com", "api://6f1c2b3a-0000-4000-8000-000000000001"};
static const char *const invoices_iss[] = {"https://sts.windows.net/22222222-2222-2222-2222-222222222222/"};
static const aud_api_view invoices_api = {"Invoices API", invoices_aud, 2, invoices_iss, 1};

/* A refused result as the verifier would leave it, from claims text. */
static aud_result *refused(const char *claims, uint32_t reasons)
{
    aud_result *r = calloc(1, sizeof *r);
    json_error_t err;
    r->claims = json_loads(claims, 0, &err);
    ck_assert_ptr_nonnull(r->claims);
    r->reasons = reasons;
    return r;
}

static aud_result *hinted(const char *claims, uint32_t reasons)
{
    aud_result *r = refused(claims, reasons);
    aud_hint_context ctx = {&invoices_api, &users_api, 1, NOW};
    aud_hints_add(r, &ctx);
    return r;
}

#define BIT(reason) (UINT32_C(1) << (reason))

/* The hint with this code, or NULL. */
static json_t *hint(const aud_result *r, const char *code)
{
    size_t i;
    json_t *h;
    json_array_foreach(r->hints, i, h) {
        if (strcmp(json_string_value(json_object_get(h, "code")), code) == 0)
            return h;
    }
    return NULL;
}

static const char *hint_text(const aud_result *r, const char *code)
{
    json_t *h = hint(r, code);
    ck_assert_msg(h != NULL, "no hint '%s' in %s", code, json_dumps(r->hints, 0));
    return json_string_value(json_object_get(h, "text"));
}

START_TEST(trailing_slash_named_with_both_values)
{
    aud_result *r = hinted("{\"aud\":\"https://api.example.com/\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(hint_text(r, "trailing_slash"),
                     "aud 'https://api.example.com/' differs from the allowed 'https://api.example.com' only by a "
                     "trailing slash");
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "trailing_slash"), "allowed")),
                     "https://api.example.com");
    /* A hint explains; it never turns a refusal into an acceptance. */
    ck_assert_uint_eq(r->reasons, BIT(AUD_REASON_AUD_MISMATCH));
    aud_result_free(r);
}
END_TEST

START_TEST(near_misses_each_get_their_own_code)
{
    static const struct {
        const char *aud;
        const char *code;
    } cases[] = {
        {"api.example.com", "scheme"},
        {"http://api.example.com", "scheme"},
        {"HTTPS://API.example.com", "case"},
        {"https://api.example.com:443", "default_port"},
        {" https://api.example.com", "whitespace"},
        {"https://api.example.com\\t", "whitespace"},
        {"6f1c2b3a-0000-4000-8000-000000000001", "azure_guid_vs_uri"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char claims[256];
        snprintf(claims, sizeof claims, "{\"aud\":\"%s\"}", cases[i].aud);
        aud_result *r = hinted(claims, BIT(AUD_REASON_AUD_MISMATCH));
        ck_assert_msg(hint(r, cases[i].code) != NULL, "aud '%s' gave %s, not %s", cases[i].aud,
                      json_dumps(r->hints, 0), cases[i].code);
        aud_result_free(r);
    }
}
END_TEST

START_TEST(unrelated_audience_gets_no_near_miss_hint)
{
    aud_result *r = hinted("{\"aud\":\"https://other.example.org\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_uint_eq(json_array_size(r->hints), 0);
    aud_result_free(r);
}
END_TEST

START_TEST(azure_v1_guid_mentions_ver)
{
    aud_result *r =
        hinted("{\"aud\":\"6f1c2b3a-0000-4000-8000-000000000001\",\"ver\":\"1.0\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "azure_guid_vs_uri"), "ver 1.0"));
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "azure_guid_vs_uri"), "ver")), "1.0");
    aud_result_free(r);
}
END_TEST

START_TEST(other_api_names_both_apis)
{
    aud_result *r = hinted("{\"aud\":\"api://users\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(hint_text(r, "other_api"), "this token was minted for 'Users API', not 'Invoices API' (aud "
                                                "'api://users')");
    aud_result_free(r);
}
END_TEST

START_TEST(graph_token_is_named)
{
    aud_result *r = hinted("{\"aud\":\"https://graph.microsoft.com\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "well_known_resource"),
                                 "the token is a Microsoft Graph token; request a token for this API's audience"));
    aud_result_free(r);
    r = hinted("{\"aud\":[\"x\",\"00000003-0000-0000-c000-000000000000\"]}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "well_known_resource"), "resource")),
                     "Microsoft Graph");
    aud_result_free(r);
    ck_assert_str_eq(aud_well_known_resource("https://contoso.sharepoint.com"), "SharePoint Online");
    ck_assert_str_eq(aud_well_known_resource("https://management.core.windows.net/"), "Azure Resource Manager");
    ck_assert_ptr_null(aud_well_known_resource("https://graph.microsoft.com.evil.example"));
}
END_TEST

START_TEST(id_token_and_client_id_as_aud)
{
    aud_result *r = hinted("{\"aud\":\"client-1\",\"azp\":\"client-1\",\"nonce\":\"n\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(hint_text(r, "id_token"), "an ID token was sent where an access token is expected");
    ck_assert_ptr_null(hint(r, "client_id_as_aud"));
    aud_result_free(r);

    r = hinted("{\"aud\":\"client-1\",\"appid\":\"client-1\",\"roles\":[\"x\"]}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_nonnull(hint(r, "client_id_as_aud"));
    ck_assert_ptr_null(hint(r, "id_token"));
    aud_result_free(r);

    /* Scopes make it an access token, whatever else it carries. */
    r = hinted("{\"aud\":\"x\",\"nonce\":\"n\",\"scp\":\"read\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_null(hint(r, "id_token"));
    aud_result_free(r);
}
END_TEST

START_TEST(issuer_hints)
{
    aud_result *r = hinted("{\"iss\":\"https://sts.windows.net/22222222-2222-2222-2222-222222222222\"}",
                           BIT(AUD_REASON_ISSUER_MISMATCH));
    ck_assert_ptr_nonnull(hint(r, "issuer_trailing_slash"));
    aud_result_free(r);

    r = hinted("{\"iss\":\"https://login.microsoftonline.com/22222222-2222-2222-2222-222222222222/v2.0\"}",
               BIT(AUD_REASON_ISSUER_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "azure_v1_v2_issuer"), "Azure AD v2 issuer"));
    aud_result_free(r);

    r = hinted("{\"iss\":\"https://sts.windows.net/33333333-3333-3333-3333-333333333333/\"}",
               BIT(AUD_REASON_ISSUER_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "issuer_other_tenant"), "33333333-3333-3333-3333-333333333333"));
    aud_result_free(r);

    r = hinted("{\"iss\":\"https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0\"}",
               BIT(AUD_REASON_ISSUER_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "issuer_other_api"), "'Users API'"));
    aud_result_free(r);
}
END_TEST

START_TEST(expired_says_how_long_ago)
{
    char claims[64];
    snprintf(claims, sizeof claims, "{\"exp\":%.0f}", NOW - (3 * 3600 + 12 * 60));
    aud_result *r = hinted(claims, BIT(AUD_REASON_EXPIRED));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "expired"), "expired 3 h 12 min ago"));
    ck_assert_int_eq(json_integer_value(json_object_get(hint(r, "expired"), "seconds")), 3 * 3600 + 12 * 60);
    aud_result_free(r);
}
END_TEST

START_TEST(not_yet_valid_mentions_skew_only_when_close)
{
    char claims[64];
    snprintf(claims, sizeof claims, "{\"nbf\":%.0f}", NOW + 120);
    aud_result *r = hinted(claims, BIT(AUD_REASON_NOT_YET_VALID));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "not_yet_valid"), "clock skew"));
    aud_result_free(r);
    snprintf(claims, sizeof claims, "{\"nbf\":%.0f}", NOW + 7200);
    r = hinted(claims, BIT(AUD_REASON_NOT_YET_VALID));
    ck_assert_ptr_null(strstr(hint_text(r, "not_yet_valid"), "clock skew"));
    aud_result_free(r);
}
END_TEST

START_TEST(allowances)
{
    aud_result *r = refused("{\"aud\":\"guid\"}", 0);
    r->matched_audience = strdup("guid");
    r->matched_until = 1798761600.0; /* 2027-01-01T00:00:00Z: allowed through 2026-12-31 */
    aud_hint_context ctx = {&invoices_api, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "deprecated_audience"), "until")), "2026-12-31");
    ck_assert_uint_eq(r->reasons, 0);
    aud_result_free(r);

    r = refused("{\"aud\":\"guid\"}", BIT(AUD_REASON_AUD_MISMATCH));
    r->ended_audience = strdup("guid");
    r->ended_until = 1798761600.0;
    aud_hints_add(r, &ctx);
    ck_assert_ptr_nonnull(strstr(hint_text(r, "allowance_ended"), "until 2026-12-31"));
    aud_result_free(r);
}
END_TEST

START_TEST(token_values_are_bounded_and_stripped)
{
    char claims[1024] = "{\"aud\":\"https://api.example.com/";
    /* A hostile aud: control characters and great length must not reach a
     * log line or a header as they are. */
    strcat(claims, "\\u001b[31m\\n");
    for (int i = 0; i < 60; i++)
        strcat(claims, "xxxxxxxxxx");
    strcat(claims, "\"}");
    aud_result *r = refused(claims, BIT(AUD_REASON_AUD_MISMATCH));
    json_object_set_new(r->claims, "azp", json_string(json_string_value(json_object_get(r->claims, "aud"))));
    aud_hint_context ctx = {&invoices_api, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    const char *text = hint_text(r, "client_id_as_aud");
    ck_assert_ptr_null(strchr(text, '\n'));
    ck_assert_ptr_null(strchr(text, 0x1b));
    ck_assert_uint_lt(strlen(text), 400);
    aud_result_free(r);
}
END_TEST


/* ---- quoting: every value in a hint goes through aud_text_quote ---- */

/* No line break, no escape, bounded, valid UTF-8: safe for a log line. */
static void assert_one_clean_line(const char *text)
{
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strpbrk(text, "\n\r\x1b") == NULL, "raw control in: %s", text);
    ck_assert_msg(ts_valid_utf8(text), "not valid UTF-8: %s", text);
    ck_assert_uint_lt(strlen(text), 1200);
}

/* Regression: well_known_resource quoted aud raw, so a SharePoint-looking
 * aud carried a line feed and 600 characters into the log line. */
START_TEST(well_known_resource_quotes_aud)
{
    char claims[1024] = "{\"aud\":\"https://contoso.sharepoint.com/\\n";
    for (int i = 0; i < 60; i++)
        strcat(claims, "yyyyyyyyyy");
    strcat(claims, "\"}");
    aud_result *r = hinted(claims, BIT(AUD_REASON_AUD_MISMATCH));
    const char *text = hint_text(r, "well_known_resource");
    assert_one_clean_line(text);
    ck_assert_ptr_nonnull(strstr(text, "...')"));
    aud_result_free(r);
}
END_TEST

/* Regression: issuer_other_tenant quoted the tenant raw (a 1,023-character
 * hint with a raw LF reached a log line). */
START_TEST(issuer_other_tenant_quotes_tenant)
{
    char claims[512] = "{\"iss\":\"https://login.microsoftonline.com/\\n";
    for (int i = 0; i < 12; i++)
        strcat(claims, "zzzzzzzzzz");
    strcat(claims, "/v2.0\"}");
    static const char *const iss[] = {"https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"};
    const aud_api_view self = {"Azure API", users_aud, 1, iss, 1};
    aud_result *r = refused(claims, BIT(AUD_REASON_ISSUER_MISMATCH));
    aud_hint_context ctx = {&self, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    const char *text = hint_text(r, "issuer_other_tenant");
    assert_one_clean_line(text);
    ck_assert_ptr_null(strstr(text, "\n"));
    aud_result_free(r);
}
END_TEST

/* Regression: a quote cut inside a UTF-8 sequence made json_pack refuse the
 * hint, which then silently disappeared (allowed 'api://x' + 60 x "é", a
 * token with a trailing slash). Configured values are quoted too. */
START_TEST(cut_between_characters_keeps_the_hint)
{
    char allowed[256] = "api://x";
    for (int i = 0; i < 60; i++)
        strcat(allowed, "\xc3\xa9");
    char claims[512];
    snprintf(claims, sizeof claims, "{\"aud\":\"%s/\"}", allowed);
    const char *const auds[] = {allowed};
    const aud_api_view self = {"API", auds, 1, NULL, 0};
    aud_result *r = refused(claims, BIT(AUD_REASON_AUD_MISMATCH));
    aud_hint_context ctx = {&self, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    const char *text = hint_text(r, "trailing_slash");
    assert_one_clean_line(text);
    ck_assert(ts_valid_utf8(json_string_value(json_object_get(hint(r, "trailing_slash"), "allowed"))));
    aud_result_free(r);
}
END_TEST

START_TEST(configured_names_are_quoted)
{
    static const char *const other_aud[] = {"api://users"};
    const aud_api_view other = {"Users\nAPI\x1b[2J", other_aud, 1, NULL, 0};
    aud_result *r = refused("{\"aud\":\"api://users\"}", BIT(AUD_REASON_AUD_MISMATCH));
    aud_hint_context ctx = {&invoices_api, &other, 1, NOW};
    aud_hints_add(r, &ctx);
    assert_one_clean_line(hint_text(r, "other_api"));
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "other_api"), "api")), "Users?API?[2J");
    aud_result_free(r);
}
END_TEST

/* ---- each hint says which check it explains ---- */

/* Regression: the module paired the first hint with the primary reason
 * ("the token's issuer is not accepted here: aud 'api://...' is ..."). */
START_TEST(text_for_pairs_a_reason_with_its_own_hint)
{
    aud_result *r = hinted("{\"aud\":\"https://api.example.com/\","
                           "\"iss\":\"https://sts.windows.net/22222222-2222-2222-2222-222222222222\"}",
                           BIT(AUD_REASON_AUD_MISMATCH) | BIT(AUD_REASON_ISSUER_MISMATCH));
    /* The audience hint comes first in the array ... */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r->hints, 0), "code")), "trailing_slash");
    /* ... but the issuer's summary gets the issuer's hint. */
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_ISSUER_MISMATCH), hint_text(r, "issuer_trailing_slash"));
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_AUD_MISMATCH), hint_text(r, "trailing_slash"));
    ck_assert_ptr_null(aud_hints_text_for(r, AUD_REASON_EXPIRED));
    aud_result_free(r);
}
END_TEST

/* ---- Entra ID: what each token version carries ---- */

#define GUID "6f1c2b3a-0000-4000-8000-000000000001"

START_TEST(entra_v2_guid_is_always_the_client_id)
{
    aud_result *r = hinted("{\"aud\":\"" GUID "\",\"ver\":\"2.0\"}", BIT(AUD_REASON_AUD_MISMATCH));
    const char *text = hint_text(r, "azure_guid_vs_uri");
    ck_assert_ptr_nonnull(strstr(text, "v2.0 access tokens (this token says ver 2.0) always carry the API's client ID"));
    ck_assert_ptr_nonnull(strstr(text, "allow '" GUID "' too"));
    ck_assert_ptr_null(strstr(text, "v2 tokens the api:// URI"));
    aud_result_free(r);
}
END_TEST

START_TEST(entra_v1_uri_points_at_the_accepted_version)
{
    static const char *const bare[] = {GUID};
    const aud_api_view self = {"API", bare, 1, NULL, 0};
    aud_result *r = refused("{\"aud\":\"api://" GUID "\",\"ver\":\"1.0\"}", BIT(AUD_REASON_AUD_MISMATCH));
    aud_hint_context ctx = {&self, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    const char *text = hint_text(r, "azure_guid_vs_uri");
    ck_assert_ptr_nonnull(strstr(text, "App ID URI form of the allowed application (client) ID '" GUID "'"));
    ck_assert_ptr_nonnull(strstr(text, "accessTokenAcceptedVersion"));
    ck_assert_ptr_nonnull(strstr(text, "api.requestedAccessTokenVersion"));
    aud_result_free(r);
}
END_TEST

START_TEST(entra_v2_token_for_an_app_id_uri_list)
{
    static const char *const uris[] = {"api://orders"};
    const aud_api_view self = {"Orders", uris, 1, NULL, 0};
    aud_result *r = refused("{\"aud\":\"" GUID "\",\"iss\":\"https://login.microsoftonline.com/"
                            "11111111-1111-1111-1111-111111111111/v2.0\"}",
                            BIT(AUD_REASON_AUD_MISMATCH));
    aud_hint_context ctx = {&self, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    ck_assert_ptr_nonnull(strstr(hint_text(r, "azure_v2_client_id"), "never an App ID URI such as the allowed "
                                                                      "'api://orders'"));
    aud_result_free(r);
    /* Without a sign of v2.0, a GUID is just some other audience. */
    r = refused("{\"aud\":\"" GUID "\"}", BIT(AUD_REASON_AUD_MISMATCH));
    aud_hints_add(r, &ctx);
    ck_assert_ptr_null(hint(r, "azure_v2_client_id"));
    aud_result_free(r);
}
END_TEST

/* ---- time hints stay defined for any number ---- */

/* Regression: json_integer((json_int_t)ahead) was undefined for exp -1e300
 * or nbf 3.67e27, and the record said -9223372036854775808. */
START_TEST(huge_times_are_clamped)
{
    aud_result *r = hinted("{\"exp\":-1e300}", BIT(AUD_REASON_EXPIRED));
    ck_assert_int_eq(json_integer_value(json_object_get(hint(r, "expired"), "seconds")), 1000000000000LL);
    ck_assert_str_eq(hint_text(r, "expired"), "the token expired a very long time ago; the client should refresh "
                                              "it before use");
    aud_result_free(r);
    r = hinted("{\"nbf\":3.67e27}", BIT(AUD_REASON_NOT_YET_VALID));
    ck_assert_int_eq(json_integer_value(json_object_get(hint(r, "not_yet_valid"), "seconds")), 1000000000000LL);
    ck_assert_str_eq(hint_text(r, "not_yet_valid"), "the token becomes valid only in a very long time");
    aud_result_free(r);
    /* The later of nbf and iat is the one that failed. */
    char claims[96];
    snprintf(claims, sizeof claims, "{\"nbf\":%.0f,\"iat\":%.0f}", NOW - 600, NOW + 7200);
    r = hinted(claims, BIT(AUD_REASON_NOT_YET_VALID));
    ck_assert_int_eq(json_integer_value(json_object_get(hint(r, "not_yet_valid"), "seconds")), 7200);
    aud_result_free(r);
}
END_TEST

/* ---- the client a token was issued to ---- */

START_TEST(client_identity)
{
    aud_result *r = refused("{\"aud\":\"0oa1\",\"cid\":\"0oa1\",\"scp\":[\"read\"]}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(aud_result_client(r), "0oa1");
    aud_hint_context ctx = {&invoices_api, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    ck_assert_str_eq(json_string_value(json_object_get(hint(r, "client_id_as_aud"), "client")), "0oa1");
    aud_result_free(r);
    /* An ID token without azp: OpenID Connect makes its aud the client. */
    r = refused("{\"aud\":\"web-app\",\"nonce\":\"n\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_str_eq(aud_result_client(r), "web-app");
    aud_hints_add(r, &ctx);
    ck_assert_ptr_nonnull(hint(r, "id_token"));
    ck_assert_ptr_null(hint(r, "client_id_as_aud"));
    aud_result_free(r);
    /* ... but never several audiences, and never without ID-token signs. */
    r = refused("{\"aud\":[\"a\",\"b\"],\"nonce\":\"n\"}", 0);
    ck_assert_ptr_null(aud_result_client(r));
    aud_result_free(r);
    r = refused("{\"aud\":\"a\"}", 0);
    ck_assert_ptr_null(aud_result_client(r));
    aud_result_free(r);
    /* A client claim wins over aud, in the documented order. */
    r = refused("{\"aud\":\"a\",\"nonce\":\"n\",\"appid\":\"app\",\"cid\":\"c\"}", 0);
    ck_assert_str_eq(aud_result_client(r), "app");
    aud_result_free(r);
}
END_TEST

/* ---- identity providers' own token shapes ---- */

START_TEST(keycloak_token_without_this_api)
{
    aud_result *r = hinted("{\"iss\":\"https://kc.example/realms/demo\",\"aud\":\"account\",\"azp\":\"web\","
                           "\"typ\":\"Bearer\",\"scope\":\"openid profile\"}",
                           BIT(AUD_REASON_AUD_MISMATCH));
    const char *text = hint_text(r, "keycloak_audience");
    ck_assert_ptr_nonnull(strstr(text, "the token's only audience is 'account' and its client is azp 'web'"));
    ck_assert_ptr_nonnull(strstr(text, "Audience mapper"));
    aud_result_free(r);
    r = hinted("{\"iss\":\"https://kc.example/realms/demo\",\"azp\":\"web\",\"typ\":\"Bearer\"}",
               BIT(AUD_REASON_AUD_MISSING));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "keycloak_audience"), "the token has no audience"));
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_AUD_MISSING), hint_text(r, "keycloak_audience"));
    aud_result_free(r);
    /* No Keycloak issuer, no claim about Keycloak. */
    r = hinted("{\"iss\":\"https://other.example\",\"azp\":\"web\"}", BIT(AUD_REASON_AUD_MISSING));
    ck_assert_ptr_null(hint(r, "keycloak_audience"));
    aud_result_free(r);
}
END_TEST

START_TEST(keycloak_refresh_offline_and_id_tokens)
{
    static const struct {
        const char *typ;
        const char *code;
    } cases[] = {{"Refresh", "refresh_token"}, {"Offline", "refresh_token"}, {"ID", "id_token"}};
    for (size_t i = 0; i < 3; i++) {
        char claims[256];
        snprintf(claims, sizeof claims, "{\"iss\":\"https://kc.example/realms/demo\",\"aud\":\"https://kc.example/"
                                        "realms/demo\",\"azp\":\"web\",\"typ\":\"%s\"}", cases[i].typ);
        /* Keycloak signs refresh tokens with the realm's HMAC key, so the
         * algorithm check fails first, and that is what the response names. */
        aud_result *r = hinted(claims, BIT(AUD_REASON_AUD_MISMATCH) | BIT(AUD_REASON_ALG_NOT_ALLOWED));
        ck_assert_msg(hint(r, cases[i].code) != NULL, "typ %s gave %s", cases[i].typ, json_dumps(r->hints, 0));
        ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_ALG_NOT_ALLOWED);
        ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_ALG_NOT_ALLOWED), hint_text(r, cases[i].code));
        aud_result_free(r);
    }
    aud_result *r = hinted("{\"aud\":\"api://x\",\"typ\":\"Bearer\"}", BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_null(hint(r, "refresh_token"));
    aud_result_free(r);
}
END_TEST

START_TEST(auth0_userinfo_only)
{
    aud_result *r = hinted("{\"iss\":\"https://tenant.eu.auth0.com/\",\"aud\":\"https://tenant.eu.auth0.com/"
                           "userinfo\",\"azp\":\"abc\"}",
                           BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "auth0_userinfo"), "without the audience parameter"));
    aud_result_free(r);
    /* With this API's audience as well, /userinfo is not the mistake. */
    r = hinted("{\"iss\":\"https://tenant.eu.auth0.com/\",\"aud\":[\"https://tenant.eu.auth0.com/userinfo\","
               "\"https://other\"]}",
               BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_null(hint(r, "auth0_userinfo"));
    aud_result_free(r);
}
END_TEST

START_TEST(okta_default_and_org_servers)
{
    aud_result *r = hinted("{\"iss\":\"https://dev-1.okta.com/oauth2/default\",\"aud\":\"api://default\","
                           "\"cid\":\"0oa1\",\"scp\":[\"read\"]}",
                           BIT(AUD_REASON_AUD_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "okta_default_audience"), "'default' authorization server"));
    ck_assert_ptr_null(hint(r, "okta_org_server"));
    aud_result_free(r);
    r = hinted("{\"iss\":\"https://dev-1.okta.com\",\"aud\":\"https://dev-1.okta.com\",\"cid\":\"0oa1\"}",
               BIT(AUD_REASON_AUD_MISMATCH) | BIT(AUD_REASON_ISSUER_MISMATCH));
    ck_assert_ptr_nonnull(strstr(hint_text(r, "okta_org_server"), "Okta org authorization server"));
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_ISSUER_MISMATCH), hint_text(r, "okta_org_server"));
    aud_result_free(r);
}
END_TEST

START_TEST(google_issuer_spellings)
{
    static const char *const google[] = {"https://accounts.google.com"};
    const aud_api_view self = {"API", users_aud, 1, google, 1};
    aud_hint_context ctx = {&self, NULL, 0, NOW};
    aud_result *r = refused("{\"iss\":\"accounts.google.com\"}", BIT(AUD_REASON_ISSUER_MISMATCH));
    aud_hints_add(r, &ctx);
    ck_assert_ptr_nonnull(strstr(hint_text(r, "google_issuer"), "legacy implementations"));
    aud_result_free(r);
    r = refused("{\"iss\":\"https://accounts.google.com/\"}", BIT(AUD_REASON_ISSUER_MISMATCH));
    aud_hints_add(r, &ctx);
    ck_assert_ptr_null(hint(r, "google_issuer"));
    ck_assert_ptr_nonnull(hint(r, "issuer_trailing_slash"));
    aud_result_free(r);
}
END_TEST

/* ---- tokens that do not decode still get hints from their shape ---- */

static aud_result *decoded_hints(const char *token)
{
    aud_result *r = aud_token_decode(token, strlen(token), 0);
    aud_hint_context ctx = {&invoices_api, NULL, 0, NOW};
    aud_hints_add(r, &ctx);
    return r;
}

START_TEST(encrypted_and_opaque_tokens)
{
    char *header = ts_b64("{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\",\"kid\":\"k\"}");
    char *jwe = ts_join(header, "", "aXY", "Y2lwaGVy", "dGFn", NULL);
    aud_result *r = decoded_hints(jwe);
    ck_assert_uint_eq(r->reasons, BIT(AUD_REASON_MALFORMED));
    ck_assert(r->shape.encrypted && r->shape.segments == 5 && !r->shape.opaque);
    ck_assert_ptr_null(r->claims);
    ck_assert_ptr_nonnull(strstr(hint_text(r, "encrypted_token"), "alg 'RSA-OAEP-256', enc 'A256GCM'"));
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_MALFORMED), hint_text(r, "encrypted_token"));
    aud_result_free(r);
    free(jwe);
    free(header);

    static const char *const opaque[] = {"2YotnFZFEjr1zCsicMWpAA", "abc.def.ghi", "v2.local.c2VjcmV0"};
    for (size_t i = 0; i < 3; i++) {
        r = decoded_hints(opaque[i]);
        ck_assert_msg(hint(r, "opaque_token") != NULL, "%s gave %s", opaque[i], json_dumps(r->hints, 0));
        ck_assert_ptr_null(hint(r, "encrypted_token"));
        aud_result_free(r);
    }
    /* A JWT with a broken payload is malformed, not opaque. */
    char *good_header = ts_b64("{\"alg\":\"RS256\"}");
    char *broken = ts_join(good_header, "bm90IGpzb24", "c2ln", NULL);
    r = decoded_hints(broken);
    ck_assert_uint_eq(r->reasons, BIT(AUD_REASON_MALFORMED));
    ck_assert_uint_eq(json_array_size(r->hints), 0);
    aud_result_free(r);
    free(broken);
    free(good_header);
}
END_TEST

START_TEST(decoder_wording_and_limits)
{
    aud_result *r = aud_token_decode("a.b", 3, 0);
    ck_assert_str_eq(r->details[AUD_REASON_MALFORMED], "a compact JWS has exactly three segments separated by dots");
    ck_assert_uint_eq(r->shape.segments, 2);
    aud_result_free(r);
    r = aud_token_decode("aaaa.bbbb.cccc", 14, 10);
    ck_assert_str_eq(r->details[AUD_REASON_MALFORMED], "the token is 14 bytes, over the limit of 10");
    aud_result_free(r);
    r = aud_token_decode("", 0, 0);
    ck_assert_uint_eq(r->reasons, BIT(AUD_REASON_NO_TOKEN));
    aud_result_free(r);
}
END_TEST

START_TEST(der_ecdsa_signature)
{
    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    EVP_PKEY *key = ts_load_private_key("test_ec_p256_private.pem");
    char *header = ts_b64("{\"alg\":\"ES256\"}");
    char *claims = ts_good_claims();
    char *payload = ts_b64(claims);
    char *input = ts_join(header, payload, NULL);
    size_t der_len = 0;
    unsigned char *der = ts_sign_der(key, AUD_ALG_ES256, input, strlen(input), &der_len);
    char *sig = ts_b64n(der, der_len);
    char *token = ts_join(header, payload, sig, NULL);
    aud_result *r = ts_env_check(&env, token);
    ck_assert_uint_eq(r->reasons, BIT(AUD_REASON_BAD_SIGNATURE));
    aud_hint_context ctx = {NULL, NULL, 0, TS_NOW};
    aud_hints_add(r, &ctx);
    ck_assert_ptr_nonnull(strstr(hint_text(r, "ecdsa_der_signature"), "raw 64-byte R||S"));
    ck_assert_str_eq(aud_hints_text_for(r, AUD_REASON_BAD_SIGNATURE), hint_text(r, "ecdsa_der_signature"));
    aud_result_free(r);
    /* A raw signature that merely fails gets no such hint. */
    char *raw_token = ts_mint_key(key, AUD_ALG_ES256, "{\"alg\":\"ES256\"}", "{\"aud\":\"api://other\"}");
    r = ts_env_check(&env, raw_token);
    aud_hints_add(r, &ctx);
    ck_assert_ptr_null(hint(r, "ecdsa_der_signature"));
    aud_result_free(r);
    free(raw_token);
    free(token);
    free(sig);
    free(der);
    free(input);
    free(payload);
    free(claims);
    free(header);
    EVP_PKEY_free(key);
    ts_env_free(&env);
}
END_TEST

/* RFC 9864's "Ed25519" is accepted wherever EdDSA is, and the record shows
 * the token's own name. */
START_TEST(ed25519_fully_specified_name)
{
    aud_alg alg;
    ck_assert(aud_alg_from_name("Ed25519", &alg));
    ck_assert_int_eq(alg, AUD_ALG_EDDSA);
    ck_assert(!aud_alg_from_name("ed25519", &alg));
    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_fixture(&env, "test_ed25519_public.pem");
    ts_env_algorithms(&env, AUD_ALG_BIT(AUD_ALG_EDDSA));
    EVP_PKEY *key = ts_load_private_key("test_ed25519_private.pem");
    char *claims = ts_good_claims();
    char *token = ts_mint_key(key, AUD_ALG_EDDSA, "{\"alg\":\"Ed25519\"}", claims);
    aud_result *r = ts_env_check(&env, token);
    ts_assert_accepted(r);
    char *fields = aud_audit_token_fields(r, NULL);
    ck_assert_ptr_nonnull(strstr(fields, "\"alg\":\"Ed25519\""));
    free(fields);
    aud_result_free(r);
    /* Only with an Ed25519 key, as for EdDSA. */
    ts_env env_ec;
    ts_env_init_default(&env_ec);
    ts_env_key_fixture(&env_ec, "test_ec_p256_public.pem");
    r = ts_env_check(&env_ec, token);
    ts_assert_reasons(r, TS_R(UNKNOWN_KEY));
    aud_result_free(r);
    ts_env_free(&env_ec);
    free(token);
    free(claims);
    EVP_PKEY_free(key);
    ts_env_free(&env);
}
END_TEST

struct lint_log {
    char messages[16][1024];
    int count;
};

static void capture(void *baton, const char *message)
{
    struct lint_log *log = baton;
    if (log->count < 16)
        snprintf(log->messages[log->count++], sizeof log->messages[0], "%s", message);
}

static bool logged(const struct lint_log *log, const char *needle)
{
    for (int i = 0; i < log->count; i++) {
        if (strstr(log->messages[i], needle) != NULL)
            return true;
    }
    return false;
}

START_TEST(lint_flags_bad_allow_lists)
{
    static const char *const bad[] = {"https://api.example.com", "https://api.example.com/", " api://x",
                                      "https://graph.microsoft.com", "6f1c2b3a-0000-4000-8000-000000000001",
                                      "API://users", "api://users"};
    double until[7] = {0, 0, 0, 0, NOW + 3 * 86400.0, 0, NOW - 86400.0};
    struct lint_log log = {0};
    aud_lint_audiences(bad, 7, until, NOW, capture, &log);
    ck_assert(logged(&log, "'https://api.example.com' and 'https://api.example.com/' differ only by a trailing slash"));
    ck_assert(logged(&log, "' api://x' has surrounding whitespace"));
    ck_assert(logged(&log, "this location accepts Microsoft Graph tokens"));
    ck_assert(logged(&log, "without its api:// twin 'api://6f1c2b3a-0000-4000-8000-000000000001'"));
    ck_assert(logged(&log, "'API://users' and 'api://users' differ only by letter case"));
    ck_assert(logged(&log, "within 14 days"));
    ck_assert(logged(&log, "ended on"));
}
END_TEST

START_TEST(lint_is_quiet_for_good_lists)
{
    static const char *const good[] = {"api://6f1c2b3a-0000-4000-8000-000000000001",
                                       "6f1c2b3a-0000-4000-8000-000000000001", "https://api.example.com"};
    double until[3] = {0, NOW + 60 * 86400.0, 0};
    struct lint_log log = {0};
    aud_lint_audiences(good, 3, until, NOW, capture, &log);
    ck_assert_msg(log.count == 0, "unexpected warning: %s", log.messages[0]);
}
END_TEST


START_TEST(lint_entra_v2_issuer_with_app_id_uris_only)
{
    static const char *const uris[] = {"api://orders"};
    static const char *const v2[] = {"https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"};
    static const char *const v1[] = {"https://sts.windows.net/11111111-1111-1111-1111-111111111111/"};
    struct lint_log log = {0};
    aud_lint_location_input in = {uris, 1, NULL, v2, 1, NOW};
    aud_lint_location(&in, capture, &log);
    ck_assert_int_eq(log.count, 1);
    ck_assert(logged(&log, "is an Entra ID v2.0 issuer, but every allowed audience is an api:// App ID URI"));
    /* The client ID among them, or a v1.0 issuer: nothing to say. */
    static const char *const mixed[] = {"api://orders", "6f1c2b3a-0000-4000-8000-000000000001"};
    struct lint_log quiet = {0};
    aud_lint_location_input with_guid = {mixed, 2, NULL, v2, 1, NOW};
    aud_lint_location(&with_guid, capture, &quiet);
    aud_lint_location_input v1_issuer = {uris, 1, NULL, v1, 1, NOW};
    aud_lint_location(&v1_issuer, capture, &quiet);
    ck_assert_msg(!logged(&quiet, "Entra ID v2.0 issuer"), "%s", quiet.messages[0]);
}
END_TEST

START_TEST(lint_twin_text_matches_the_token_versions)
{
    static const char *const bare[] = {"6f1c2b3a-0000-4000-8000-000000000001"};
    static const char *const uri[] = {"api://6f1c2b3a-0000-4000-8000-000000000001"};
    struct lint_log log = {0};
    aud_lint_audiences(bare, 1, NULL, NOW, capture, &log);
    aud_lint_audiences(uri, 1, NULL, NOW, capture, &log);
    ck_assert_int_eq(log.count, 2);
    ck_assert(logged(&log, "Entra ID v2.0 access tokens carry the application (client) ID as here"));
    ck_assert(logged(&log, "without its bare GUID twin '6f1c2b3a-0000-4000-8000-000000000001': Entra ID v2.0 "
                           "access tokens always carry the application (client) ID"));
    ck_assert(!logged(&log, "v2 tokens the api:// URI"));
}
END_TEST

Suite *suite_hints(void)
{
    const TTest *tests[] = {
        trailing_slash_named_with_both_values, near_misses_each_get_their_own_code,
        unrelated_audience_gets_no_near_miss_hint, azure_v1_guid_mentions_ver, other_api_names_both_apis,
        graph_token_is_named, id_token_and_client_id_as_aud, issuer_hints, expired_says_how_long_ago,
        not_yet_valid_mentions_skew_only_when_close, allowances, token_values_are_bounded_and_stripped,
        lint_flags_bad_allow_lists, lint_is_quiet_for_good_lists, well_known_resource_quotes_aud,
        issuer_other_tenant_quotes_tenant, cut_between_characters_keeps_the_hint, configured_names_are_quoted,
        text_for_pairs_a_reason_with_its_own_hint, entra_v2_guid_is_always_the_client_id,
        entra_v1_uri_points_at_the_accepted_version, entra_v2_token_for_an_app_id_uri_list,
        huge_times_are_clamped, client_identity, keycloak_token_without_this_api,
        keycloak_refresh_offline_and_id_tokens, auth0_userinfo_only, okta_default_and_org_servers,
        google_issuer_spellings, encrypted_and_opaque_tokens, decoder_wording_and_limits, der_ecdsa_signature,
        ed25519_fully_specified_name, lint_entra_v2_issuer_with_app_id_uris_only,
        lint_twin_text_matches_the_token_versions, NULL};
    return ts_suite("hints", "hints", tests);
}
