/* Multi-tenant issuer templates (AudIssuer with {tenantid}, AudTenant) and
 * token types (AudTokenType), at a fixed clock (TS_NOW). These pin the
 * security properties of templates: a token of a tenant nobody listed, a
 * token whose iss names another tenant than its tid, and the template text
 * itself are never accepted; accepting every tenant is never implied. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit.h"
#include "aud_hint.h"
#include "aud_remote.h"
#include "suites.h"
#include "test_support.h"

#define T1 "11111111-1111-4111-8111-111111111111"
#define T2 "22222222-2222-4222-8222-222222222222"
#define V2_TEMPLATE "https://login.microsoftonline.com/{tenantid}/v2.0"
#define V1_TEMPLATE "https://sts.windows.net/{tenantid}/"
#define V2(t) "https://login.microsoftonline.com/" t "/v2.0"

static EVP_PKEY *key;
static const char *const one_tenant[] = {T1};

static void setup(void)
{
    key = ts_load_private_key("test_rsa2048_private.pem");
}

static void teardown(void)
{
    EVP_PKEY_free(key);
}

/* An environment whose only issuer is template, accepting tenants (NULL:
 * any tenant). */
static void env_template(ts_env *env, const char *template, const char *const *tenants, size_t n)
{
    ts_env_init(env);
    ts_env_key_fixture(env, "test_rsa2048_public.pem");
    ts_env_audience(env, TS_AUDIENCE);
    ts_env_issuer(env, template);
    env->config.tenants = tenants;
    env->config.n_tenants = n;
    env->config.any_tenant = tenants == NULL;
}

/* claims_tail: extra members after iss, e.g. ",\"tid\":\"...\"" */
static aud_result *check_iss(ts_env *env, const char *iss, const char *claims_tail)
{
    char *claims = ts_fmt("{\"iss\":\"%s\"%s,\"aud\":\"%s\",\"sub\":\"alice\",\"exp\":%.0f}", iss, claims_tail,
                          TS_AUDIENCE, TS_NOW + 3600);
    char *token = ts_mint_key(key, AUD_ALG_RS256, "{\"alg\":\"RS256\"}", claims);
    aud_result *r = ts_env_check(env, token);
    free(token);
    free(claims);
    return r;
}

static void assert_detail(const aud_result *r, aud_reason reason, const char *needle)
{
    ck_assert_msg(r->details[reason] != NULL, "no detail for %s", aud_reason_code(reason));
    ck_assert_msg(strstr(r->details[reason], needle) != NULL, "'%s' not in '%s'", needle, r->details[reason]);
}

START_TEST(template_accepts_listed_tenant)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, one_tenant, 1);
    aud_result *r = check_iss(&env, V2(T1), ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(template_refuses_other_tenant)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, one_tenant, 1);
    aud_result *r = check_iss(&env, V2(T2), ",\"tid\":\"" T2 "\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "tenant '" T2 "' is not one of the allowed tenants: '" T1 "'");

    /* The hint names the tenant that is not listed. */
    const char *const auds[] = {TS_AUDIENCE};
    const char *const iss[] = {V2_TEMPLATE};
    aud_api_view self = {"API", auds, 1, iss, 1};
    aud_hint_context ctx = {&self, NULL, 0, TS_NOW};
    aud_hints_add(r, &ctx);
    const char *text = aud_hints_text_for(r, AUD_REASON_ISSUER_MISMATCH);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "tenant '" T2 "'") != NULL, "%s", text);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r->hints, 0), "code")), "issuer_other_tenant");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r->hints, 0), "tenant")), T2);
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(template_needs_tid)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, one_tenant, 1);
    aud_result *r = check_iss(&env, V2(T1), "");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "no tid claim");
    aud_result_free(r);

    r = check_iss(&env, V2(T1), ",\"tid\":11111111");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "tid is not a string");
    aud_result_free(r);

    r = check_iss(&env, V2(T1), ",\"tid\":[\"" T1 "\"]");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "tid is not a string");
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

/* iss must be the template with the token's own tid in it: a listed tid
 * does not lend its approval to an issuer that names another tenant. */
START_TEST(template_iss_must_name_tid)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, one_tenant, 1);
    aud_result *r = check_iss(&env, V2(T2), ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "does not name the token's tenant (tid '" T1 "')");
    aud_result_free(r);

    /* Byte for byte: case, a trailing slash, a longer path. */
    const char *near[] = {"https://login.microsoftonline.com/" T1 "/V2.0", V2(T1) "/",
                          "https://login.microsoftonline.com/x/" T1 "/v2.0", "HTTPS://login.microsoftonline.com/" T1 "/v2.0"};
    for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
        r = check_iss(&env, near[i], ",\"tid\":\"" T1 "\"");
        ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
        aud_result_free(r);
    }
    /* The template's own text is no issuer, whatever tid says. */
    r = check_iss(&env, V2_TEMPLATE, ",\"tid\":\"{tenantid}\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(any_tenant)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, NULL, 0);
    aud_result *r = check_iss(&env, V2(T2), ",\"tid\":\"" T2 "\"");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    /* Microsoft asks that tid be checked to be a GUID. */
    r = check_iss(&env, V2("contoso.onmicrosoft.com"), ",\"tid\":\"contoso.onmicrosoft.com\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "is not a tenant id");
    aud_result_free(r);
    r = check_iss(&env, V2("11111111-1111-4111-8111-11111111111A"), ",\"tid\":\"11111111-1111-4111-8111-11111111111A\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    aud_result_free(r);
    r = check_iss(&env, V2(""), ",\"tid\":\"\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(v1_template)
{
    ts_env env;
    env_template(&env, V1_TEMPLATE, one_tenant, 1);
    aud_result *r = check_iss(&env, "https://sts.windows.net/" T1 "/", ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    r = check_iss(&env, "https://sts.windows.net/" T1, ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    aud_result_free(r);
    r = check_iss(&env, V2(T1), ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    assert_detail(r, AUD_REASON_ISSUER_MISMATCH, "is not '" V1_TEMPLATE "'");
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

/* A template beside exact issuers: each still matches as before. */
START_TEST(template_beside_exact_issuer)
{
    ts_env env;
    env_template(&env, V2_TEMPLATE, one_tenant, 1);
    ts_env_issuer(&env, TS_ISSUER);
    aud_result *r = check_iss(&env, TS_ISSUER, "");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    r = check_iss(&env, V2(T1), ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    r = check_iss(&env, "https://evil.test", ",\"tid\":\"" T1 "\"");
    ts_assert_reasons(r, TS_R(ISSUER_MISMATCH));
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(template_config_refused)
{
    const char *const twice[] = {"https://h/{tenantid}/{tenantid}"};
    const char *const plain[] = {V2_TEMPLATE};
    aud_verifier_config c;
    aud_error err = {{0}};
    aud_verifier_config_init(&c);
    c.now = ts_clock;
    c.issuers = plain;
    c.n_issuers = 1;
    /* No tenants and not any_tenant: every tenant would be accepted. */
    ck_assert_ptr_null(aud_verifier_create(&c, &err));
    ck_assert_msg(strstr(err.text, "tenants") != NULL, "%s", err.text);
    c.issuers = twice;
    c.tenants = one_tenant;
    c.n_tenants = 1;
    memset(&err, 0, sizeof err);
    ck_assert_ptr_null(aud_verifier_create(&c, &err));
    ck_assert_msg(strstr(err.text, "more than once") != NULL, "%s", err.text);
}
END_TEST

/* header: the JWS header's members after alg, e.g. ",\"typ\":\"JWT\"". */
static aud_result *check_typ(ts_env *env, const char *header_tail, const char *claims_tail)
{
    char *header = ts_fmt("{\"alg\":\"RS256\"%s}", header_tail);
    char *claims = ts_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"alice\",\"exp\":%.0f%s}", TS_ISSUER, TS_AUDIENCE,
                          TS_NOW + 3600, claims_tail);
    char *token = ts_mint_key(key, AUD_ALG_RS256, header, claims);
    aud_result *r = ts_env_check(env, token);
    free(token);
    free(claims);
    free(header);
    return r;
}

static void env_types(ts_env *env, const char *const *types, size_t n)
{
    ts_env_init_default(env);
    ts_env_key_fixture(env, "test_rsa2048_public.pem");
    env->config.token_types = types;
    env->config.n_token_types = n;
}

START_TEST(token_type_at_jwt)
{
    static const char *const at[] = {"at+jwt"};
    static const char *const app_at[] = {"application/at+jwt"};
    const char *accepted[] = {"at+jwt", "application/at+jwt", "AT+JWT", "Application/At+JWT"};
    const char *refused[] = {"JWT", "jwt", "application/jwt", "at+jwt ", "x/at+jwt", "application/at+jwtx",
                             "applicationat+jwt", ""};
    const char *const *configs[] = {at, app_at};
    for (size_t c = 0; c < 2; c++) {
        ts_env env;
        env_types(&env, configs[c], 1);
        for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
            char *tail = ts_fmt(",\"typ\":\"%s\"", accepted[i]);
            aud_result *r = check_typ(&env, tail, "");
            ck_assert_msg(r->reasons == 0, "typ '%s' refused under '%s'", accepted[i], configs[c][0]);
            aud_result_free(r);
            free(tail);
        }
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
            char *tail = ts_fmt(",\"typ\":\"%s\"", refused[i]);
            aud_result *r = check_typ(&env, tail, "");
            ts_assert_reasons(r, TS_R(TOKEN_TYPE));
            assert_detail(r, AUD_REASON_TOKEN_TYPE, "is not '");
            aud_result_free(r);
            free(tail);
        }
        aud_result *r = check_typ(&env, "", "");
        ts_assert_reasons(r, TS_R(TOKEN_TYPE));
        assert_detail(r, AUD_REASON_TOKEN_TYPE, "no typ");
        aud_result_free(r);
        r = check_typ(&env, ",\"typ\":1", "");
        ts_assert_reasons(r, TS_R(TOKEN_TYPE));
        assert_detail(r, AUD_REASON_TOKEN_TYPE, "not a string");
        aud_result_free(r);
        ts_env_free(&env);
    }
}
END_TEST

START_TEST(token_type_several_and_unset)
{
    static const char *const types[] = {"at+jwt", "JWT"};
    ts_env env;
    env_types(&env, types, 2);
    aud_result *r = check_typ(&env, ",\"typ\":\"application/jwt\"", "");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    r = check_typ(&env, ",\"typ\":\"Refresh\"", "");
    ts_assert_reasons(r, TS_R(TOKEN_TYPE));
    assert_detail(r, AUD_REASON_TOKEN_TYPE, "typ 'Refresh' is not 'at+jwt', 'JWT'");
    aud_result_free(r);
    ts_env_free(&env);

    /* Not configured: typ is not looked at. */
    env_types(&env, NULL, 0);
    r = check_typ(&env, ",\"typ\":\"anything/at-all\"", "");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    r = check_typ(&env, ",\"typ\":7", "");
    ts_assert_reasons(r, 0);
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

START_TEST(token_type_reason_and_hints)
{
    ck_assert_str_eq(aud_reason_code(AUD_REASON_TOKEN_TYPE), "token_type");
    ck_assert_str_eq(aud_reason_summary(AUD_REASON_TOKEN_TYPE), "the token is not of a type accepted here");
    aud_reason back;
    ck_assert(aud_reason_from_code("token_type", &back) && back == AUD_REASON_TOKEN_TYPE);

    static const char *const at[] = {"at+jwt"};
    ts_env env;
    env_types(&env, at, 1);
    ts_env_audience(&env, "api://other");
    /* An ID token (typ JWT, nonce, no scopes) for another audience: the
     * type is what the response names, and the hint explains it. */
    aud_result *r = check_typ(&env, ",\"typ\":\"JWT\"", ",\"nonce\":\"n\"");
    ck_assert(aud_result_has(r, AUD_REASON_TOKEN_TYPE));
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_TOKEN_TYPE);
    aud_hint_context ctx = {NULL, NULL, 0, TS_NOW};
    aud_hints_add(r, &ctx);
    const char *text = aud_hints_text_for(r, AUD_REASON_TOKEN_TYPE);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "an ID token was sent where an access token is expected");
    aud_result_free(r);

    /* A Keycloak refresh token (typ Refresh in the claims). */
    r = check_typ(&env, ",\"typ\":\"JWT\"", ",\"typ\":\"Refresh\"");
    aud_hints_add(r, &ctx);
    text = aud_hints_text_for(r, AUD_REASON_TOKEN_TYPE);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "a refresh token") != NULL, "%s", text);
    aud_result_free(r);

    /* An access token refused only by type gets no ID-token hint. */
    r = check_typ(&env, ",\"typ\":\"JWT\"", ",\"scp\":\"read\"");
    aud_hints_add(r, &ctx);
    ck_assert_ptr_null(aud_hints_text_for(r, AUD_REASON_TOKEN_TYPE));
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

/* Entra's tenant-independent metadata names the {tenantid} template as its
 * issuer; only that exact path shape implies it, on any host. */
START_TEST(discovery_of_common)
{
    static const struct {
        const char *url, *issuer, *metadata;
    } cases[] = {
        {"https://login.microsoftonline.com/common/v2.0", V2_TEMPLATE,
         "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"},
        {"https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration", V2_TEMPLATE,
         "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"},
        {"https://login.microsoftonline.com/consumers/v2.0", V2_TEMPLATE,
         "https://login.microsoftonline.com/consumers/v2.0/.well-known/openid-configuration"},
        {"http://127.0.0.1:8080/common/v2.0", "http://127.0.0.1:8080/{tenantid}/v2.0",
         "http://127.0.0.1:8080/common/v2.0/.well-known/openid-configuration"},
        /* Not that shape: the issuer is what the URL says. */
        {"https://login.microsoftonline.com/" T1 "/v2.0", V2(T1),
         "https://login.microsoftonline.com/" T1 "/v2.0/.well-known/openid-configuration"},
        {"https://login.microsoftonline.com/common/v2.0/", "https://login.microsoftonline.com/common/v2.0/",
         "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"},
        {"https://idp.example/common", "https://idp.example/common",
         "https://idp.example/common/.well-known/openid-configuration"},
        {"https://idp.example/x/common/v2.0", "https://idp.example/x/common/v2.0",
         "https://idp.example/x/common/v2.0/.well-known/openid-configuration"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *issuer, *metadata;
        aud_error err = {{0}};
        ck_assert_msg(aud_remote_discovery_urls(cases[i].url, &issuer, &metadata, &err), "%s: %s", cases[i].url,
                      err.text);
        ck_assert_str_eq(issuer, cases[i].issuer);
        ck_assert_str_eq(metadata, cases[i].metadata);
        free(issuer);
        free(metadata);
    }
}
END_TEST

Suite *suite_issuers(void)
{
    Suite *s = suite_create("issuers");
    TCase *tc = tcase_create("templates");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, template_accepts_listed_tenant);
    tcase_add_test(tc, template_refuses_other_tenant);
    tcase_add_test(tc, template_needs_tid);
    tcase_add_test(tc, template_iss_must_name_tid);
    tcase_add_test(tc, any_tenant);
    tcase_add_test(tc, v1_template);
    tcase_add_test(tc, template_beside_exact_issuer);
    tcase_add_test(tc, template_config_refused);
    tcase_add_test(tc, discovery_of_common);
    suite_add_tcase(s, tc);
    tc = tcase_create("token_types");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, token_type_at_jwt);
    tcase_add_test(tc, token_type_several_and_unset);
    tcase_add_test(tc, token_type_reason_and_hints);
    suite_add_tcase(s, tc);
    return s;
}
