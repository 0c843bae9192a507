/* Claims: time windows with and without leeway, audience and issuer matching
 * byte for byte, several failures in one result, and the accept path. */
#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aud_token.h"
#include "suites.h"
#include "test_support.h"

#define ES256_HEADER "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"

static EVP_PKEY *signing_key(void)
{
    return ts_load_private_key("test_ec_p256_private.pem");
}

/* The default environment (audience TS_AUDIENCE, issuer TS_ISSUER) with the
 * P-256 key that signing_key() matches. */
static void claims_env(ts_env *env)
{
    ts_env_init_default(env);
    ts_env_key_fixture(env, "test_ec_p256_public.pem");
}

static char *sign_claims(const char *payload)
{
    EVP_PKEY *key = signing_key();
    char *token = ts_mint_key(key, AUD_ALG_ES256, ES256_HEADER, payload);
    EVP_PKEY_free(key);
    return token;
}

/* Claims with the given times; NAN leaves a claim out. %.17g writes whole
 * seconds without a fraction and fractions exactly. */
static char *timed_claims(double exp, double nbf, double iat)
{
    char e[48] = "", n[48] = "", i[48] = "";
    if (!isnan(exp))
        snprintf(e, sizeof e, ",\"exp\":%.17g", exp);
    if (!isnan(nbf))
        snprintf(n, sizeof n, ",\"nbf\":%.17g", nbf);
    if (!isnan(iat))
        snprintf(i, sizeof i, ",\"iat\":%.17g", iat);
    return ts_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"alice\"%s%s%s}", TS_ISSUER, TS_AUDIENCE, e, n, i);
}

static void expect_times(ts_env *env, double exp, double nbf, double iat, uint32_t want)
{
    char *payload = timed_claims(exp, nbf, iat);
    char *token = sign_claims(payload);
    aud_result *r = ts_env_check(env, token);
    char got[256], exp_txt[256];
    ck_assert_msg(r->reasons == want, "exp %.17g nbf %.17g iat %.17g at %.17g leeway %g: %s, expected %s", exp, nbf,
                  iat, env->now, env->config.leeway, ts_reasons_text(r->reasons, got, sizeof got),
                  ts_reasons_text(want, exp_txt, sizeof exp_txt));
    ck_assert(r->signature_verified);
    ts_assert_reasons(r, want);
    aud_result_free(r);
    free(token);
    free(payload);
}

static const double leeways[] = {0, 60};

/* exp: expired once now >= exp + leeway (RFC 7519 4.1.4: the token is valid
 * only before exp). */
START_TEST(exp_boundary)
{
    double leeway = leeways[_i];
    ts_env env;
    claims_env(&env);
    ts_env_leeway(&env, leeway);
    const double now = TS_NOW, iat = TS_NOW - 7200;
    double edge = now - leeway; /* the exp at which now is exactly the end */
    expect_times(&env, edge, NAN, iat, TS_R(EXPIRED));
    expect_times(&env, edge - 1, NAN, iat, TS_R(EXPIRED));
    expect_times(&env, edge + 1, NAN, iat, 0);
    /* Fractions count: half a second either side of the edge. */
    expect_times(&env, edge + 0.5, NAN, iat, 0);
    expect_times(&env, edge - 0.5, NAN, iat, TS_R(EXPIRED));
    expect_times(&env, edge + 0.001, NAN, iat, 0);
    ts_env_free(&env);
}
END_TEST

/* The clock is the fixed one, and moving it moves the verdict: the same
 * token is fine a second before the edge and expired at it. */
START_TEST(exp_follows_clock)
{
    double leeway = leeways[_i];
    ts_env env;
    claims_env(&env);
    ts_env_leeway(&env, leeway);
    double exp = TS_NOW + 100.25;
    char *payload = timed_claims(exp, NAN, TS_NOW);
    char *token = sign_claims(payload);
    const struct {
        double now;
        uint32_t want;
    } steps[] = {
        {exp + leeway - 1, 0},
        {exp + leeway - 0.25, 0},
        {exp + leeway, TS_R(EXPIRED)},
        {exp + leeway + 1, TS_R(EXPIRED)},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        ts_env_now(&env, steps[i].now);
        aud_result *r = ts_env_check(&env, token);
        ts_assert_reasons(r, steps[i].want);
        aud_result_free(r);
    }
    free(token);
    free(payload);
    ts_env_free(&env);
}
END_TEST

/* nbf: not yet valid while nbf > now + leeway (valid from nbf on). */
START_TEST(nbf_boundary)
{
    double leeway = leeways[_i];
    ts_env env;
    claims_env(&env);
    ts_env_leeway(&env, leeway);
    const double exp = TS_NOW + 3600, iat = TS_NOW - 10;
    double edge = TS_NOW + leeway;
    expect_times(&env, exp, edge, iat, 0);
    expect_times(&env, exp, edge - 1, iat, 0);
    expect_times(&env, exp, edge + 1, iat, TS_R(NOT_YET_VALID));
    expect_times(&env, exp, edge + 0.5, iat, TS_R(NOT_YET_VALID));
    expect_times(&env, exp, edge - 0.5, iat, 0);
    ts_env_free(&env);
}
END_TEST

/* iat: a token issued in the future beyond the leeway is not yet valid. */
START_TEST(iat_boundary)
{
    double leeway = leeways[_i];
    ts_env env;
    claims_env(&env);
    ts_env_leeway(&env, leeway);
    const double exp = TS_NOW + 3600;
    double edge = TS_NOW + leeway;
    expect_times(&env, exp, NAN, edge, 0);
    expect_times(&env, exp, NAN, edge - 1, 0);
    expect_times(&env, exp, NAN, edge + 1, TS_R(NOT_YET_VALID));
    expect_times(&env, exp, NAN, edge + 0.5, TS_R(NOT_YET_VALID));
    expect_times(&env, exp, NAN, TS_NOW + 86400, TS_R(NOT_YET_VALID));
    /* Issued long ago is no fault of its own; exp decides. */
    expect_times(&env, exp, NAN, TS_NOW - 365 * 86400.0, 0);
    ts_env_free(&env);
}
END_TEST

/* The default leeway is 60 s. */
START_TEST(default_leeway)
{
    ts_env env;
    claims_env(&env);
    ck_assert(env.config.leeway == AUD_DEFAULT_LEEWAY);
    ck_assert(AUD_DEFAULT_LEEWAY == 60.0);
    expect_times(&env, TS_NOW - 59, NAN, TS_NOW - 3600, 0);
    expect_times(&env, TS_NOW - 60, NAN, TS_NOW - 3600, TS_R(EXPIRED));
    expect_times(&env, TS_NOW + 3600, TS_NOW + 60, NAN, 0);
    expect_times(&env, TS_NOW + 3600, TS_NOW + 61, NAN, TS_R(NOT_YET_VALID));
    ts_env_free(&env);
}
END_TEST

/* nbf and iat are optional, but when present must be numbers. */
START_TEST(time_claims_must_be_numbers)
{
    ts_env env;
    claims_env(&env);
    static const char *const payloads[] = {
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,\"nbf\":\"1699999990\"}",
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,\"iat\":\"1699999990\"}",
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,\"nbf\":null}",
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,\"iat\":false}",
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":\"1700003600\"}",
        "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\"}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *token = sign_claims(payloads[i]);
        aud_result *r = ts_env_check(&env, token);
        ts_assert_reasons(r, TS_R(CLAIM_INVALID));
        aud_result_free(r);
        free(token);
    }
    ts_env_free(&env);
}
END_TEST

static aud_result *check_payload(ts_env *env, const char *payload)
{
    char *token = sign_claims(payload);
    aud_result *r = ts_env_check(env, token);
    free(token);
    return r;
}

/* Signs payload (and frees it), checks it, and asserts exactly the reasons
 * want and the matched audience (NULL: none). */
static void expect_claims(ts_env *env, char *payload, uint32_t want, const char *matched)
{
    aud_result *r = check_payload(env, payload);
    char got[256], w[256];
    ck_assert_msg(r->reasons == want, "%s: %s, expected %s", payload, ts_reasons_text(r->reasons, got, sizeof got),
                  ts_reasons_text(want, w, sizeof w));
    ts_assert_reasons(r, want);
    ck_assert(r->signature_verified);
    if (matched == NULL) {
        ck_assert_ptr_null(r->matched_audience);
    } else {
        ck_assert_ptr_nonnull(r->matched_audience);
        ck_assert_str_eq(r->matched_audience, matched);
        /* Owned by the result (aud_result_free frees it), so never the
         * caller's string; ASan catches a pointer into the verifier. */
        for (size_t i = 0; i < TS_MAX_LIST; i++)
            ck_assert_ptr_ne(r->matched_audience, env->audiences[i]);
    }
    aud_result_free(r);
    free(payload);
}

/* The P-256 key and issuer of claims_env, with these audiences instead of
 * TS_AUDIENCE (a NULL-terminated list, possibly empty). */
static void audience_env(ts_env *env, const char *const *audiences)
{
    ts_env_init(env);
    ts_env_key_fixture(env, "test_ec_p256_public.pem");
    ts_env_issuer(env, TS_ISSUER);
    for (size_t i = 0; audiences[i] != NULL; i++)
        ts_env_audience(env, audiences[i]);
}

static char *aud_claims(const char *aud_json)
{
    return ts_fmt("{\"iss\":\"%s\",\"aud\":%s,\"exp\":%.0f}", TS_ISSUER, aud_json, TS_NOW + 3600);
}

static char *iss_claims(const char *iss_member)
{
    return ts_fmt("{%s\"aud\":\"%s\",\"exp\":%.0f}", iss_member, TS_AUDIENCE, TS_NOW + 3600);
}

/* aud as a string and as an array; a match anywhere in the array counts, and
 * matched_audience is the configured value (a copy owned by the result). */
START_TEST(aud_string_and_array)
{
    ts_env env;
    claims_env(&env);
    static const char *const auds[] = {
        "\"" TS_AUDIENCE "\"",
        "[\"" TS_AUDIENCE "\"]",
        "[\"api://other\",\"" TS_AUDIENCE "\"]",
        "[\"api://a\",\"api://b\",\"" TS_AUDIENCE "\"]",
    };
    for (size_t i = 0; i < sizeof auds / sizeof auds[0]; i++)
        expect_claims(&env, aud_claims(auds[i]), 0, TS_AUDIENCE);
    ts_env_free(&env);

    /* Several configured audiences: the one the token names is reported. */
    static const char *const two[] = {"api://first", "api://second", NULL};
    audience_env(&env, two);
    expect_claims(&env, aud_claims("[\"api://unrelated\",\"api://second\"]"), 0, "api://second");
    expect_claims(&env, aud_claims("\"api://first\""), 0, "api://first");
    ts_env_free(&env);
}
END_TEST

/* Audience comparison is byte for byte: no case folding, no slash, scheme
 * or Unicode normalisation, no trimming. */
START_TEST(aud_no_normalisation)
{
    ts_env env;
    claims_env(&env);
    static const char *const auds[] = {
        "\"API://x\"",   "\"api://X\"",          "\"api://x/\"",           "\"api://x \"",
        "\" api://x\"",  "\"api:/x\"",           "\"https://x\"",          "\"api://x\\/\"",
        "\"api://\\uff58\"", /* fullwidth x */ "\"api://x\\u0301\"", /* combining accent */
        "[\"API://x\",\"api://x/\"]",
        "\"api://\"",    "\"api\"",              "\"\"",
    };
    for (size_t i = 0; i < sizeof auds / sizeof auds[0]; i++)
        expect_claims(&env, aud_claims(auds[i]), TS_R(AUD_MISMATCH), NULL);
    ts_env_free(&env);

    /* And the other way round: a configured "api://x/" does not take
     * "api://x". */
    static const char *const slash[] = {"api://x/", NULL};
    audience_env(&env, slash);
    expect_claims(&env, aud_claims("\"api://x\""), TS_R(AUD_MISMATCH), NULL);
    ts_env_free(&env);
}
END_TEST

START_TEST(aud_missing)
{
    ts_env env;
    claims_env(&env);
    expect_claims(&env, ts_fmt("{\"iss\":\"%s\",\"exp\":%.0f}", TS_ISSUER, TS_NOW + 3600), TS_R(AUD_MISSING), NULL);
    ts_env_free(&env);
}
END_TEST

/* No audience configured means nothing is accepted, however good the token:
 * an unconfigured location must not become an open one. */
START_TEST(no_audience_configured)
{
    ts_env env;
    static const char *const none[] = {NULL};
    audience_env(&env, none);
    expect_claims(&env, ts_good_claims(), TS_R(NO_AUDIENCE_CONFIGURED), NULL);
    /* Nor a token without aud. */
    expect_claims(&env, ts_fmt("{\"iss\":\"%s\",\"exp\":%.0f}", TS_ISSUER, TS_NOW + 3600),
                  TS_R(NO_AUDIENCE_CONFIGURED), NULL);
    ts_env_free(&env);
}
END_TEST

/* Issuers compare byte for byte; iss is required once issuers are
 * configured, and unchecked when none are. */
START_TEST(issuer_exact)
{
    ts_env env;
    claims_env(&env);
    static const char *const issuers[] = {
        "\"https://issuer.test/\"", "\"HTTPS://issuer.test\"", "\"https://Issuer.test\"", "\"https://issuer.test \"",
        "\"http://issuer.test\"",   "\"https://issuer.tes\"",  "\"\"",
    };
    for (size_t i = 0; i < sizeof issuers / sizeof issuers[0]; i++) {
        char *member = ts_fmt("\"iss\":%s,", issuers[i]);
        /* The audience did match, and the result says so even though the
         * token is refused: operators see which API it was meant for. */
        expect_claims(&env, iss_claims(member), TS_R(ISSUER_MISMATCH), TS_AUDIENCE);
        free(member);
    }
    expect_claims(&env, iss_claims(""), TS_R(ISSUER_MISMATCH), TS_AUDIENCE);
    expect_claims(&env, iss_claims("\"iss\":42,"), TS_R(CLAIM_INVALID), TS_AUDIENCE);

    /* A second configured issuer is as good as the first. */
    ts_env_issuer(&env, "https://other-issuer.test");
    expect_claims(&env, iss_claims("\"iss\":\"https://other-issuer.test\","), 0, TS_AUDIENCE);
    ts_env_free(&env);

    /* No issuer configured: whatever iss says, or none. */
    ts_env_init(&env);
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    ts_env_audience(&env, TS_AUDIENCE);
    expect_claims(&env, iss_claims("\"iss\":\"https://anyone.test\","), 0, TS_AUDIENCE);
    expect_claims(&env, iss_claims(""), 0, TS_AUDIENCE);
    ts_env_free(&env);
}
END_TEST

/* Every failing check is reported, not just the first. */
START_TEST(several_failures_together)
{
    ts_env env;
    claims_env(&env);
    char *payload =
        ts_fmt("{\"iss\":\"https://evil.test\",\"aud\":\"api://other\",\"exp\":%.0f}", TS_NOW - 3600);
    aud_result *r = check_payload(&env, payload);
    ts_assert_reasons(r, TS_R(EXPIRED) | TS_R(AUD_MISMATCH) | TS_R(ISSUER_MISMATCH));
    ck_assert(r->signature_verified);
    aud_result_free(r);
    free(payload);

    payload = ts_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%.0f,\"nbf\":%.0f,\"iat\":%.0f}", TS_ISSUER,
                     TS_AUDIENCE, TS_NOW - 3600, TS_NOW + 3600, TS_NOW + 3600);
    r = check_payload(&env, payload);
    ts_assert_reasons(r, TS_R(EXPIRED) | TS_R(NOT_YET_VALID));
    aud_result_free(r);
    free(payload);

    payload = ts_fmt("{\"iss\":\"https://evil.test\",\"aud\":[]}");
    r = check_payload(&env, payload);
    ts_assert_reasons(r, TS_R(CLAIM_INVALID) | TS_R(ISSUER_MISMATCH) | TS_R(MALFORMED));
    aud_result_free(r);
    free(payload);

    /* A header that cannot be read stops the signature check, not the
     * claims checks: the result still names what is wrong with the claims. */
    payload = ts_fmt("{\"iss\":\"%s\",\"aud\":\"api://other\",\"exp\":%.0f}", TS_ISSUER, TS_NOW - 3600);
    EVP_PKEY *key = signing_key();
    char *token = ts_mint_key(key, AUD_ALG_ES256, "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", payload);
    r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(MALFORMED) | TS_R(EXPIRED) | TS_R(AUD_MISMATCH));
    ck_assert(!r->signature_verified);
    ck_assert_ptr_null(r->header);
    ck_assert_ptr_nonnull(r->claims);
    aud_result_free(r);
    free(token);
    EVP_PKEY_free(key);
    free(payload);
    ts_env_free(&env);
}
END_TEST

/* A bad signature does not hide the claim failures: the result has them all,
 * marked unverified. */
START_TEST(bad_signature_still_reports_claims)
{
    ts_env env;
    claims_env(&env);
    EVP_PKEY *other = ts_load_private_key("test_ec_p256_other_private.pem");
    char *payload =
        ts_fmt("{\"iss\":\"https://evil.test\",\"aud\":\"api://other\",\"exp\":%.0f}", TS_NOW - 3600);
    char *token = ts_mint_key(other, AUD_ALG_ES256, ES256_HEADER, payload);
    aud_result *r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(BAD_SIGNATURE) | TS_R(EXPIRED) | TS_R(AUD_MISMATCH) | TS_R(ISSUER_MISMATCH));
    ck_assert(!r->signature_verified);
    ck_assert_ptr_null(r->verified_by);
    ck_assert_ptr_nonnull(r->claims);
    ck_assert_str_eq(aud_result_claim_string(r, "iss"), "https://evil.test");
    aud_result_free(r);
    free(token);
    free(payload);

    /* With good claims the signature alone is the fault. */
    char *good = ts_good_claims();
    token = ts_mint_key(other, AUD_ALG_ES256, ES256_HEADER, good);
    r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(BAD_SIGNATURE));
    ck_assert(!r->signature_verified);
    aud_result_free(r);
    free(token);
    free(good);
    EVP_PKEY_free(other);
    ts_env_free(&env);
}
END_TEST

/* BYTES as N pairs of lower-case hex digits; OUT has room for 2N + 1. */
static void hex_of(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* The accept path: no reasons, no details, the matched audience, the key
 * that verified, and a correlation id that is the SHA-256 prefix. */
START_TEST(accept_path)
{
    ts_env env;
    claims_env(&env);
    char *good = ts_good_claims();
    char *token = sign_claims(good);
    aud_result *r = ts_env_check(&env, token);
    ck_assert_uint_eq(r->reasons, 0);
    ck_assert(aud_result_accepted(r));
    ts_assert_accepted(r);
    ck_assert(r->signature_verified);
    ck_assert_ptr_nonnull(r->verified_by);
    ck_assert_str_eq(r->matched_audience, TS_AUDIENCE);
    ck_assert_str_eq(aud_result_claim_string(r, "sub"), "alice");
    ck_assert_str_eq(aud_result_header_string(r, "alg"), "ES256");
    ck_assert_str_eq(aud_result_header_string(r, "typ"), "JWT");

    ck_assert_uint_eq(strlen(r->token_id), AUD_TOKEN_ID_HEX);
    for (size_t i = 0; i < AUD_TOKEN_ID_HEX; i++)
        ck_assert_msg(isxdigit((unsigned char)r->token_id[i]), "token_id '%s' is not hex", r->token_id);
    unsigned char digest[32];
    unsigned int digest_len = 0;
    ck_assert_int_eq(EVP_Digest(token, strlen(token), digest, &digest_len, EVP_sha256(), NULL), 1);
    char want[AUD_TOKEN_ID_HEX + 1];
    hex_of(digest, AUD_TOKEN_ID_HEX / 2, want);
    ck_assert_msg(strcasecmp(r->token_id, want) == 0, "token_id %s, SHA-256 prefix %s", r->token_id, want);
    char again[AUD_TOKEN_ID_HEX + 1];
    aud_token_id(token, strlen(token), again);
    ck_assert_str_eq(again, r->token_id);
    aud_result_free(r);

    /* A different token, a different id. */
    char *other = sign_claims("{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003601}");
    r = ts_env_check(&env, other);
    ts_assert_accepted(r);
    ck_assert_str_ne(r->token_id, again);
    aud_result_free(r);
    free(other);
    free(token);
    free(good);
    ts_env_free(&env);
}
END_TEST

START_TEST(empty_token)
{
    ts_env env;
    claims_env(&env);
    aud_result *r = ts_env_check_n(&env, "", 0);
    ts_assert_reasons(r, TS_R(NO_TOKEN));
    ck_assert_str_eq(r->token_id, "");
    ck_assert_ptr_null(r->header);
    ck_assert_ptr_null(r->claims);
    ck_assert(!r->signature_verified);
    aud_result_free(r);
    r = ts_env_check_n(&env, NULL, 0);
    ts_assert_reasons(r, TS_R(NO_TOKEN));
    aud_result_free(r);
    /* A length of zero means no token, whatever the pointer points at. */
    r = ts_env_check_n(&env, "abc.def.ghi", 0);
    ts_assert_reasons(r, TS_R(NO_TOKEN));
    aud_result_free(r);
    ts_env_free(&env);
}
END_TEST

/* The allow-list: an algorithm outside it fails even with a fitting key;
 * HS* only when listed; names are case-sensitive. */
START_TEST(algorithm_allow_list)
{
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
    EVP_PKEY *rsa = ts_load_private_key("test_rsa2048_private.pem");
    char *good = ts_good_claims();
    char *rs256 = ts_mint_key(rsa, AUD_ALG_RS256, "{\"alg\":\"RS256\"}", good);
    char *hs256 = ts_mint_hmac(secret, sizeof secret, AUD_ALG_HS256, "{\"alg\":\"HS256\"}", good);

    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_fixture(&env, "test_rsa2048_public.pem");
    ts_env_secret(&env, secret, sizeof secret, NULL);

    /* Default set: every asymmetric algorithm, no HMAC. */
    aud_result *r = ts_env_check(&env, rs256);
    ts_assert_accepted(r);
    aud_result_free(r);
    r = ts_env_check(&env, hs256);
    ts_assert_reasons(r, TS_R(ALG_NOT_ALLOWED));
    ck_assert(!r->signature_verified);
    aud_result_free(r);

    ts_env_algorithms(&env, AUD_ALG_BIT(AUD_ALG_ES256));
    r = ts_env_check(&env, rs256);
    ts_assert_reasons(r, TS_R(ALG_NOT_ALLOWED));
    ck_assert(!r->signature_verified);
    aud_result_free(r);

    ts_env_algorithms(&env, AUD_ALG_BIT(AUD_ALG_HS256));
    r = ts_env_check(&env, hs256);
    ts_assert_accepted(r);
    aud_result_free(r);
    r = ts_env_check(&env, rs256);
    ts_assert_reasons(r, TS_R(ALG_NOT_ALLOWED));
    aud_result_free(r);

    /* Spellings that are not RS256 are not RS256. */
    ts_env_algorithms(&env, AUD_ALG_SET_ALL);
    static const char *const spellings[] = {"rs256", "Rs256", "RS256 ", " RS256", "RS-256", "RSA256", ""};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        char *header = ts_fmt("{\"alg\":\"%s\"}", spellings[i]);
        char *t = ts_mint_key(rsa, AUD_ALG_RS256, header, good);
        r = ts_env_check(&env, t);
        ts_assert_reasons(r, TS_R(ALG_NOT_ALLOWED));
        aud_result_free(r);
        free(t);
        free(header);
    }
    /* No alg, or alg that is not a string: the header itself is wrong. */
    static const char *const headers[] = {"{}", "{\"typ\":\"JWT\"}", "{\"alg\":256}", "{\"alg\":[\"RS256\"]}",
                                          "{\"alg\":null}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *t = ts_mint_key(rsa, AUD_ALG_RS256, headers[i], good);
        r = ts_env_check(&env, t);
        ts_assert_reasons(r, TS_R(MALFORMED));
        aud_result_free(r);
        free(t);
    }
    ts_env_free(&env);
    free(rs256);
    free(hs256);
    free(good);
    EVP_PKEY_free(rsa);
}
END_TEST

/* Every algorithm the core lists verifies a token minted for it, and the
 * name table matches RFC 7518 / RFC 8037 spelling. */
START_TEST(every_algorithm_round_trip)
{
    static const struct {
        aud_alg alg;
        const char *name;
        const char *private_key, *public_key;
    } cases[] = {
        {AUD_ALG_RS256, "RS256", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_RS384, "RS384", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_RS512, "RS512", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_PS256, "PS256", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_PS384, "PS384", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_PS512, "PS512", "test_rsa2048_private.pem", "test_rsa2048_public.pem"},
        {AUD_ALG_ES256, "ES256", "test_ec_p256_private.pem", "test_ec_p256_public.pem"},
        {AUD_ALG_ES384, "ES384", "test_ec_p384_private.pem", "test_ec_p384_public.pem"},
        {AUD_ALG_ES512, "ES512", "test_ec_p521_private.pem", "test_ec_p521_public.pem"},
        {AUD_ALG_EDDSA, "EdDSA", "test_ed25519_private.pem", "test_ed25519_public.pem"},
    };
    char *good = ts_good_claims();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_str_eq(aud_alg_name(cases[i].alg), cases[i].name);
        aud_alg parsed;
        ck_assert(aud_alg_from_name(cases[i].name, &parsed));
        ck_assert_int_eq(parsed, cases[i].alg);
        ts_env env;
        ts_env_init_default(&env);
        ts_env_key_fixture(&env, cases[i].public_key);
        ts_env_algorithms(&env, AUD_ALG_BIT(cases[i].alg));
        EVP_PKEY *key = ts_load_private_key(cases[i].private_key);
        char *header = ts_fmt("{\"alg\":\"%s\"}", cases[i].name);
        char *token = ts_mint_key(key, cases[i].alg, header, good);
        aud_result *r = ts_env_check(&env, token);
        ck_assert_msg(r->reasons == 0, "%s refused: %s", cases[i].name,
                      r->details[AUD_REASON_BAD_SIGNATURE] ? r->details[AUD_REASON_BAD_SIGNATURE] : "-");
        ts_assert_accepted(r);
        aud_result_free(r);
        free(token);
        free(header);
        EVP_PKEY_free(key);
        ts_env_free(&env);
    }
    free(good);
}
END_TEST

/* HS384 and HS512 with secrets long enough for them. */
START_TEST(hmac_round_trip)
{
    unsigned char secret[64];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (unsigned char)(i * 37 + 11);
    static const aud_alg algs[] = {AUD_ALG_HS256, AUD_ALG_HS384, AUD_ALG_HS512};
    char *good = ts_good_claims();
    for (size_t i = 0; i < 3; i++) {
        ts_env env;
        ts_env_init_default(&env);
        ts_env_secret(&env, secret, sizeof secret, NULL);
        ts_env_algorithms(&env, AUD_ALG_SET_HMAC);
        char *header = ts_fmt("{\"alg\":\"%s\"}", aud_alg_name(algs[i]));
        char *token = ts_mint_hmac(secret, sizeof secret, algs[i], header, good);
        aud_result *r = ts_env_check(&env, token);
        ts_assert_accepted(r);
        aud_result_free(r);
        /* One secret byte different, and the MAC fails. */
        secret[5] ^= 1;
        char *forged = ts_mint_hmac(secret, sizeof secret, algs[i], header, good);
        secret[5] ^= 1;
        r = ts_env_check(&env, forged);
        ts_assert_reasons(r, TS_R(BAD_SIGNATURE));
        aud_result_free(r);
        free(forged);
        free(token);
        free(header);
        ts_env_free(&env);
    }
    free(good);
}
END_TEST

/* Reason codes appear in audit records and operators' scripts: they must
 * not change. */
START_TEST(reason_codes_stable)
{
    static const char *const codes[AUD_REASON_COUNT] = {
        "ok",           "no_token",      "malformed",       "alg_not_allowed",        "unknown_key",
        "bad_signature", "expired",      "not_yet_valid",   "issuer_mismatch",        "aud_missing",
        "aud_mismatch", "no_audience_configured", "keys_unavailable", "claim_invalid",
        "insufficient_scope", "token_type",
    };
    for (int i = 0; i < AUD_REASON_COUNT; i++) {
        ck_assert_str_eq(aud_reason_code((aud_reason)i), codes[i]);
        aud_reason back;
        ck_assert(aud_reason_from_code(codes[i], &back));
        ck_assert_int_eq(back, i);
        const char *summary = aud_reason_summary((aud_reason)i);
        ck_assert_ptr_nonnull(summary);
        ck_assert_str_ne(summary, "");
    }
    aud_reason unused;
    ck_assert(!aud_reason_from_code("Expired", &unused));
    ck_assert(!aud_reason_from_code("", &unused));
}
END_TEST

typedef struct {
    const aud_verifier *verifier;
    const char *good;
    const char *bad;
    int failures;
} race;

static void *race_worker(void *arg)
{
    race *w = arg;
    for (int i = 0; i < 200; i++) {
        aud_result *r = aud_verifier_check(w->verifier, w->good, strlen(w->good));
        if (r == NULL || r->reasons != 0 || r->matched_audience == NULL)
            w->failures++;
        aud_result_free(r);
        r = aud_verifier_check(w->verifier, w->bad, strlen(w->bad));
        if (r == NULL || r->reasons != (TS_R(EXPIRED) | TS_R(AUD_MISMATCH)))
            w->failures++;
        aud_result_free(r);
    }
    return NULL;
}

/* FIPS 180-2, appendix B.1 and B.2: SHA-256 of "abc" and of the 56-byte
 * two-block message. */
static const struct {
    const char *message;
    const char *sha256_hex;
} sha256_vectors[] = {
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void *digest_worker(void *arg)
{
    int *failures = arg;
    for (int i = 0; i < 2000; i++) {
        size_t v = (size_t)i % (sizeof sha256_vectors / sizeof sha256_vectors[0]);
        unsigned char got[AUD_TOKEN_DIGEST_LEN];
        char hex[2 * AUD_TOKEN_DIGEST_LEN + 1];
        if (!aud_token_digest(sha256_vectors[v].message, strlen(sha256_vectors[v].message), got)) {
            (*failures)++;
            continue;
        }
        hex_of(got, AUD_TOKEN_DIGEST_LEN, hex);
        if (strcmp(hex, sha256_vectors[v].sha256_hex) != 0)
            (*failures)++;
    }
    return NULL;
}

/* Each thread hashes through a context of its own (aud_digest_compute):
 * threads interleaving two messages, each digest right every time. */
START_TEST(token_digests_across_threads)
{
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    int failures[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, digest_worker, &failures[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(failures[i], 0);
    }
    /* And the calling thread, after the others have ended. */
    digest_worker(&failures[0]);
    ck_assert_int_eq(failures[0], 0);
}
END_TEST

/* One verifier, several threads, no locks: every thread gets the verdict
 * it would get alone. */
START_TEST(concurrent_checks)
{
    ts_env env;
    claims_env(&env);
    char *good_claims = ts_good_claims();
    char *good = sign_claims(good_claims);
    char *bad_claims = ts_fmt("{\"iss\":\"%s\",\"aud\":\"api://y\",\"exp\":%.0f}", TS_ISSUER, TS_NOW - 3600);
    char *bad = sign_claims(bad_claims);
    aud_result *warm = ts_env_check(&env, good); /* builds the verifier */
    ts_assert_accepted(warm);
    aud_result_free(warm);

    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    race work[THREADS];
    for (int i = 0; i < THREADS; i++) {
        work[i] = (race){env.verifier, good, bad, 0};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, race_worker, &work[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(work[i].failures, 0);
    }
    free(bad);
    free(bad_claims);
    free(good);
    free(good_claims);
    ts_env_free(&env);
}
END_TEST

/* A verifier keeps the headers of tokens that verified, to skip decoding
 * the same header segment again (issue 12): it must serve a header only to
 * a token whose first segment is the same bytes, never a near one. */
START_TEST(header_memo_serves_only_the_same_bytes)
{
    unsigned char secret[32];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (unsigned char)(i * 29 + 3);
    ts_env env;
    ts_env_init_default(&env);
    ts_env_secret(&env, secret, sizeof secret, "a");
    ts_env_secret(&env, secret, sizeof secret, "b");
    ts_env_algorithms(&env, AUD_ALG_SET_HMAC);
    char *good = ts_good_claims();
    struct {
        const char *header;
        const char *kid;
        bool forged;
        uint32_t reasons;
    } steps[] = {
        {"{\"alg\":\"HS256\",\"kid\":\"a\"}", "a", false, 0},
        {"{\"alg\":\"HS256\",\"kid\":\"b\"}", "b", false, 0},                 /* same length, one byte off */
        {"{\"alg\":\"HS256\",\"kid\":\"a\"}", "a", false, 0},                 /* from the memo */
        {"{\"alg\":\"HS256\",\"kid\":\"z\"}", "z", false, TS_R(UNKNOWN_KEY)}, /* never memoised: z is no key */
        {"{\"alg\":\"HS256\",\"kid\":\"a\"}", "a", true, TS_R(BAD_SIGNATURE)},
        {"{\"alg\":\"HS256\",\"kid\":\"a\",\"typ\":\"JWT\"}", "a", false, 0}, /* a longer header, its own typ */
        {"{\"alg\":\"HS256\",\"kid\":\"b\"}", "b", false, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (steps[i].forged)
            secret[0] ^= 1;
        char *token = ts_mint_hmac(secret, sizeof secret, AUD_ALG_HS256, steps[i].header, good);
        if (steps[i].forged)
            secret[0] ^= 1;
        aud_result *r = ts_env_check(&env, token);
        ck_assert_msg(r->reasons == steps[i].reasons, "step %zu: reasons %x", i, r->reasons);
        ck_assert_str_eq(aud_result_header_string(r, "kid"), steps[i].kid);
        if (strstr(steps[i].header, "typ") != NULL)
            ck_assert_str_eq(aud_result_header_string(r, "typ"), "JWT");
        else
            ck_assert_ptr_null(aud_result_header_string(r, "typ"));
        aud_result_free(r);
        free(token);
    }
    free(good);
    ts_env_free(&env);
}
END_TEST

/* A verifier copies what it needs: changing or freeing the caller's lists
 * after creation changes nothing. */
START_TEST(verifier_copies_config)
{
    ts_env env;
    ts_env_init(&env);
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    char *aud = strdup(TS_AUDIENCE);
    char *iss = strdup(TS_ISSUER);
    ts_env_audience(&env, aud);
    ts_env_issuer(&env, iss);
    char *good = ts_good_claims();
    char *token = sign_claims(good);
    aud_result *r = ts_env_check(&env, token); /* verifier built now */
    ts_assert_accepted(r);
    aud_result_free(r);
    memset(aud, 'z', strlen(aud));
    memset(iss, 'z', strlen(iss));
    free(aud);
    free(iss);
    env.audiences[0] = NULL;
    env.issuers[0] = NULL;
    r = aud_verifier_check(env.verifier, token, strlen(token));
    ts_assert_accepted(r);
    ck_assert_str_eq(r->matched_audience, TS_AUDIENCE);
    aud_result_free(r);
    free(token);
    free(good);
    ts_env_free(&env);
}
END_TEST

Suite *suite_claims(void)
{
    Suite *s = suite_create("claims");
    TCase *times = tcase_create("times");
    tcase_add_loop_test(times, exp_boundary, 0, 2);
    tcase_add_loop_test(times, exp_follows_clock, 0, 2);
    tcase_add_loop_test(times, nbf_boundary, 0, 2);
    tcase_add_loop_test(times, iat_boundary, 0, 2);
    tcase_add_test(times, default_leeway);
    tcase_add_test(times, time_claims_must_be_numbers);
    suite_add_tcase(s, times);

    TCase *who = tcase_create("audience and issuer");
    tcase_add_test(who, aud_string_and_array);
    tcase_add_test(who, aud_no_normalisation);
    tcase_add_test(who, aud_missing);
    tcase_add_test(who, no_audience_configured);
    tcase_add_test(who, issuer_exact);
    suite_add_tcase(s, who);

    TCase *verdict = tcase_create("verdict");
    tcase_add_test(verdict, several_failures_together);
    tcase_add_test(verdict, bad_signature_still_reports_claims);
    tcase_add_test(verdict, accept_path);
    tcase_add_test(verdict, empty_token);
    tcase_add_test(verdict, algorithm_allow_list);
    tcase_add_test(verdict, every_algorithm_round_trip);
    tcase_add_test(verdict, hmac_round_trip);
    tcase_add_test(verdict, reason_codes_stable);
    tcase_add_test(verdict, concurrent_checks);
    tcase_add_test(verdict, token_digests_across_threads);
    tcase_add_test(verdict, header_memo_serves_only_the_same_bytes);
    tcase_add_test(verdict, verifier_copies_config);
    suite_add_tcase(s, verdict);
    return s;
}
