/* RFC 6750 on the wire (aud_bearer_parse, aud_bearer_challenge) and the
 * token facts the module hands to backends (scope text, user name), and the
 * decision and mode words of the audit record. */
#include <stdlib.h>
#include <string.h>

#include "aud_audit.h"
#include "aud_bearer.h"
#include "suites.h"
#include "test_support.h"

static aud_credential parse(const char *header, char *token, size_t size)
{
    const char *t = NULL;
    size_t len = 0;
    aud_credential c = aud_bearer_parse(header, &t, &len);
    token[0] = '\0';
    if (c == AUD_CREDENTIAL_TOKEN)
        snprintf(token, size, "%.*s", (int)len, t);
    return c;
}

START_TEST(one_bearer_token_in_any_case_with_blanks)
{
    char token[64];
    ck_assert_int_eq(parse("Bearer abc.def.ghi", token, sizeof token), AUD_CREDENTIAL_TOKEN);
    ck_assert_str_eq(token, "abc.def.ghi");
    ck_assert_int_eq(parse(" \tbEARER \t x.y.z \t", token, sizeof token), AUD_CREDENTIAL_TOKEN);
    ck_assert_str_eq(token, "x.y.z");
}
END_TEST

START_TEST(other_schemes_are_no_token)
{
    char token[64];
    ck_assert_int_eq(parse(NULL, token, sizeof token), AUD_CREDENTIAL_NONE);
    ck_assert_int_eq(parse("", token, sizeof token), AUD_CREDENTIAL_NONE);
    ck_assert_int_eq(parse("Basic dXNlcjpwYXNz", token, sizeof token), AUD_CREDENTIAL_NONE);
    ck_assert_int_eq(parse("Bearerx abc", token, sizeof token), AUD_CREDENTIAL_NONE);
    ck_assert_int_eq(parse("DPoP abc", token, sizeof token), AUD_CREDENTIAL_NONE);
}
END_TEST

START_TEST(empty_or_several_credentials_are_malformed)
{
    char token[64];
    static const char *const bad[] = {"Bearer", "Bearer    ", "Bearer a b", "bearer\tx y", "Bearer a,b c"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(parse(bad[i], token, sizeof token) == AUD_CREDENTIAL_MALFORMED, "%s", bad[i]);
}
END_TEST

START_TEST(challenge_realm_only_without_error)
{
    char *h = aud_bearer_challenge("Users API", NULL, "ignored without an error", NULL);
    ck_assert_str_eq(h, "Bearer realm=\"Users API\"");
    free(h);
}
END_TEST

START_TEST(challenge_realm_is_a_quoted_string)
{
    char *h = aud_bearer_challenge("Say \"hi\" \\ \r\nX-Injected: 1", "invalid_token", "the token has expired", NULL);
    ck_assert_str_eq(h, "Bearer realm=\"Say \\\"hi\\\" \\\\ X-Injected: 1\", error=\"invalid_token\", "
                        "error_description=\"the token has expired\"");
    free(h);
}
END_TEST

START_TEST(challenge_description_and_scope_are_folded)
{
    /* RFC 6750 3: printable ASCII without '"' and '\\'; a hint quoting a
     * token value is folded, not escaped. */
    char *h = aud_bearer_challenge("A", "insufficient_scope", "aud \"x\\y\" caf\xc3\xa9\n", "orders.read \"w\"");
    ck_assert_str_eq(h, "Bearer realm=\"A\", error=\"insufficient_scope\", error_description=\"aud 'x/y' caf???\", "
                        "scope=\"orders.read 'w'\"");
    free(h);
}
END_TEST

static aud_result *with_claims(const char *json)
{
    aud_result *r = aud_result_new_reason(AUD_REASON_OK, NULL);
    json_error_t e;
    r->claims = json_loads(json, 0, &e);
    ck_assert_ptr_nonnull(r->claims);
    return r;
}

START_TEST(scope_text_from_scope_or_scp)
{
    static const struct {
        const char *claims, *want;
    } cases[] = {
        {"{\"scope\":\"a b\",\"scp\":\"c\"}", "a b"},
        {"{\"scp\":\"c d\"}", "c d"},
        {"{\"scp\":[\"Orders.Read\",7,\"Orders.Write\"]}", "Orders.Read Orders.Write"},
        {"{\"scp\":[]}", NULL},
        {"{\"sub\":\"x\"}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aud_result *r = with_claims(cases[i].claims);
        char *text = aud_result_scope_text(r);
        if (cases[i].want == NULL)
            ck_assert_msg(text == NULL, "%s gave '%s'", cases[i].claims, text);
        else
            ck_assert_str_eq(text, cases[i].want);
        free(text);
        aud_result_free(r);
    }
}
END_TEST

START_TEST(user_is_the_claim_else_the_client)
{
    aud_result *r = with_claims("{\"sub\":\"alice\",\"upn\":\"alice@example.com\",\"azp\":\"web\"}");
    ck_assert_str_eq(aud_result_user(r, NULL), "alice");
    ck_assert_str_eq(aud_result_user(r, "upn"), "alice@example.com");
    ck_assert_str_eq(aud_result_user(r, "email"), "web");
    aud_result_free(r);
    r = with_claims("{\"sub\":\"\",\"client_id\":\"daemon\"}");
    ck_assert_str_eq(aud_result_user(r, NULL), "daemon");
    aud_result_free(r);
    r = with_claims("{\"sub\":42}");
    ck_assert_ptr_null(aud_result_user(r, NULL));
    aud_result_free(r);
}
END_TEST

START_TEST(decision_and_mode_words)
{
    aud_result *ok = aud_result_new_reason(AUD_REASON_OK, NULL);
    aud_result *bad = aud_result_new_reason(AUD_REASON_EXPIRED, NULL);
    ck_assert_str_eq(aud_decision_word(aud_decision_of(ok, AUD_MODE_AUDIT)), "accept");
    ck_assert_str_eq(aud_decision_word(aud_decision_of(bad, AUD_MODE_ENFORCE)), "reject");
    ck_assert_str_eq(aud_decision_word(aud_decision_of(bad, AUD_MODE_AUDIT)), "audit_reject");
    aud_mode m;
    ck_assert(aud_mode_from_word("AUDIT", &m) && m == AUD_MODE_AUDIT);
    ck_assert(aud_mode_from_word("enforce", &m) && m == AUD_MODE_ENFORCE);
    ck_assert(!aud_mode_from_word("report", &m));
    ck_assert_str_eq(aud_mode_word(AUD_MODE_AUDIT), "audit");
    aud_result_free(ok);
    aud_result_free(bad);
}
END_TEST

Suite *suite_bearer(void)
{
    const TTest *tests[] = {
        one_bearer_token_in_any_case_with_blanks, other_schemes_are_no_token,
        empty_or_several_credentials_are_malformed, challenge_realm_only_without_error,
        challenge_realm_is_a_quoted_string, challenge_description_and_scope_are_folded,
        scope_text_from_scope_or_scp, user_is_the_claim_else_the_client, decision_and_mode_words, NULL};
    return ts_suite("bearer", "wire", tests);
}
