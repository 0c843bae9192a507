/* Hints and start-up lint: the sentence an operator reads for each likely
 * mistake, and proof that hints never touch the decision. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aud_hint.h"
#include "suites.h"

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

Suite *suite_hints(void)
{
    Suite *s = suite_create("hints");
    TCase *tc = tcase_create("hints");
    tcase_add_test(tc, trailing_slash_named_with_both_values);
    tcase_add_test(tc, near_misses_each_get_their_own_code);
    tcase_add_test(tc, unrelated_audience_gets_no_near_miss_hint);
    tcase_add_test(tc, azure_v1_guid_mentions_ver);
    tcase_add_test(tc, other_api_names_both_apis);
    tcase_add_test(tc, graph_token_is_named);
    tcase_add_test(tc, id_token_and_client_id_as_aud);
    tcase_add_test(tc, issuer_hints);
    tcase_add_test(tc, expired_says_how_long_ago);
    tcase_add_test(tc, not_yet_valid_mentions_skew_only_when_close);
    tcase_add_test(tc, allowances);
    tcase_add_test(tc, token_values_are_bounded_and_stripped);
    tcase_add_test(tc, lint_flags_bad_allow_lists);
    tcase_add_test(tc, lint_is_quiet_for_good_lists);
    suite_add_tcase(s, tc);
    return s;
}
