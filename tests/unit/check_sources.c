/* Keys that change under a live verifier (key sources), and audiences
 * allowed only until a date (AudAllowUntil). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "test_support.h"

/* A source that hands out one set (or none) and counts what it is asked. */
typedef struct {
    aud_keyset *set; /* NULL: nothing can be had */
    int acquired;
    int released;
    int kid_misses;
    char last_kid[64];
    uint64_t generation;
    /* When set: what a kid miss rotates to (a refresh that brought a new
     * key), with the generation bumped. */
    aud_keyset *after_miss;
    aud_keyset *previous; /* the set before that rotation */
} fake_source;

static const aud_keyset *fake_acquire(void *baton, uint64_t *generation)
{
    fake_source *fs = baton;
    if (fs->set != NULL)
        fs->acquired++;
    *generation = fs->generation;
    return fs->set;
}

static bool fake_quiet(void *baton, uint64_t *generation)
{
    fake_source *fs = baton;
    *generation = fs->generation;
    return fs->set != NULL;
}

static void fake_release(void *baton, const aud_keyset *set)
{
    fake_source *fs = baton;
    ck_assert(set == fs->set || (set != NULL && set == fs->previous));
    fs->released++;
}

static void fake_kid_missing(void *baton, const char *kid)
{
    fake_source *fs = baton;
    fs->kid_misses++;
    snprintf(fs->last_kid, sizeof fs->last_kid, "%s", kid);
    if (fs->after_miss != NULL) {
        fs->previous = fs->set;
        fs->set = fs->after_miss;
        fs->after_miss = NULL;
        fs->generation++;
    }
}

static aud_keyset *set_with_fixture(const char *name, const char *kid)
{
    EVP_PKEY *pkey = ts_load_public_key(name);
    char *jwk = ts_public_jwk(pkey, kid);
    aud_keyset *set = aud_keyset_create();
    aud_error err;
    ck_assert_msg(aud_keyset_load_buffer(set, jwk, strlen(jwk), "test", NULL, &err), "%s", err.text);
    free(jwk);
    EVP_PKEY_free(pkey);
    return set;
}

static void env_with_source(ts_env *env, fake_source *fs, aud_key_source *src)
{
    ts_env_init_default(env);
    *src = (aud_key_source){.acquire = fake_acquire,
                            .release = fake_release,
                            .kid_missing = fake_kid_missing,
                            .quiet = fake_quiet,
                            .baton = fs};
    env->config.sources = src;
    env->config.n_sources = 1;
}

static char *token_with_kid(const char *kid)
{
    EVP_PKEY *priv = ts_load_private_key("test_rsa2048_private.pem");
    char *claims = ts_good_claims();
    char *header = ts_fmt("{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    char *token = ts_mint_key(priv, AUD_ALG_RS256, header, claims);
    free(header);
    free(claims);
    EVP_PKEY_free(priv);
    return token;
}

START_TEST(source_keys_verify_and_are_given_back)
{
    fake_source fs = {.set = set_with_fixture("test_rsa2048_public.pem", "k1")};
    aud_key_source src;
    ts_env env;
    env_with_source(&env, &fs, &src);
    char *token = token_with_kid("k1");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_accepted(r);
    ck_assert_int_eq(fs.acquired, 1);
    ck_assert_int_eq(fs.released, 1);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
    aud_keyset_destroy(fs.set);
}
END_TEST

START_TEST(empty_source_is_keys_unavailable)
{
    fake_source fs = {0};
    aud_key_source src;
    ts_env env;
    env_with_source(&env, &fs, &src);
    char *token = token_with_kid("k1");
    aud_result *r = ts_env_check(&env, token);
    /* Not unknown_key: the token may be fine; the server cannot tell yet. */
    ts_assert_reasons(r, TS_R(KEYS_UNAVAILABLE));
    ck_assert_int_eq(fs.released, 0);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(unknown_kid_asks_the_source_to_refresh)
{
    fake_source fs = {.set = set_with_fixture("test_rsa2048_public.pem", "k1")};
    aud_key_source src;
    ts_env env;
    env_with_source(&env, &fs, &src);
    char *token = token_with_kid("rotated-k2");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(UNKNOWN_KEY));
    ck_assert_int_eq(fs.kid_misses, 1);
    ck_assert_str_eq(fs.last_kid, "rotated-k2");
    ck_assert_int_eq(fs.acquired, fs.released);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
    aud_keyset_destroy(fs.set);
}
END_TEST

/* AudAllowUntil 2023-11-15: accepted through that day (UTC), refused from
 * the midnight after it. TS_NOW is 2023-11-14T22:13:20Z. */
#define END_OF_NOV_15 1700092800.0

static aud_result *check_deprecated_at(double now, const char *aud)
{
    static const char *audiences[] = {"api://new", "guid-old"};
    static const double until[] = {0, END_OF_NOV_15};
    ts_env env;
    ts_env_init(&env);
    ts_env_key_fixture(&env, "test_rsa2048_public.pem");
    ts_env_now(&env, now);
    for (size_t i = 0; i < 2; i++)
        ts_env_audience(&env, audiences[i]);
    env.config.audience_until = until;
    EVP_PKEY *priv = ts_load_private_key("test_rsa2048_private.pem");
    char *claims = ts_fmt("{\"aud\":%s,\"exp\":%.0f}", aud, now + 600);
    char *token = ts_mint_key(priv, AUD_ALG_RS256, "{\"alg\":\"RS256\"}", claims);
    aud_result *r = ts_env_check(&env, token);
    free(token);
    free(claims);
    EVP_PKEY_free(priv);
    ts_env_free(&env);
    return r;
}

START_TEST(allowance_before_on_and_after_its_date)
{
    aud_result *r = check_deprecated_at(TS_NOW, "\"guid-old\"");
    ts_assert_accepted(r);
    ck_assert_str_eq(r->matched_audience, "guid-old");
    ck_assert(r->matched_until == END_OF_NOV_15);
    aud_result_free(r);

    r = check_deprecated_at(END_OF_NOV_15 - 1, "\"guid-old\"");
    ts_assert_accepted(r);
    aud_result_free(r);

    r = check_deprecated_at(END_OF_NOV_15, "\"guid-old\"");
    ts_assert_reasons(r, TS_R(AUD_MISMATCH));
    ck_assert_str_eq(r->ended_audience, "guid-old");
    ck_assert_ptr_nonnull(strstr(r->details[AUD_REASON_AUD_MISMATCH], "allowed only until"));
    aud_result_free(r);
}
END_TEST

START_TEST(permanent_audience_preferred_over_deprecated)
{
    aud_result *r = check_deprecated_at(TS_NOW, "[\"guid-old\",\"api://new\"]");
    ts_assert_accepted(r);
    ck_assert_str_eq(r->matched_audience, "api://new");
    ck_assert(r->matched_until == 0);
    aud_result_free(r);
}
END_TEST

/* The verifier owns key-source consistency: a kid miss that makes the
 * source change its keys (a refresh that brought the new key) gets the
 * token checked once more, and the result says which keys it rests on. */
START_TEST(changed_generation_after_kid_miss_is_checked_again)
{
    fake_source fs = {.set = set_with_fixture("test_rsa2048_other_public.pem", "k1"),
                      .after_miss = set_with_fixture("test_rsa2048_public.pem", "k2"),
                      .generation = 7};
    aud_keyset *before = fs.set;
    aud_key_source src;
    ts_env env;
    env_with_source(&env, &fs, &src);
    uint64_t generation = 0;
    ck_assert(aud_verifier_key_generation(ts_env_verifier(&env), &generation));
    ck_assert_uint_eq(generation, 7);
    char *token = token_with_kid("k2");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_accepted(r);
    ck_assert_int_eq(fs.kid_misses, 1);
    ck_assert_uint_eq(r->key_generation, 8);
    ck_assert(aud_verifier_key_generation(ts_env_verifier(&env), &generation));
    ck_assert_uint_eq(generation, 8);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
    aud_keyset_destroy(before);
    aud_keyset_destroy(fs.set);
}
END_TEST

START_TEST(unchanged_generation_after_kid_miss_is_not_checked_again)
{
    fake_source fs = {.set = set_with_fixture("test_rsa2048_public.pem", "k1"), .generation = 3};
    aud_key_source src;
    ts_env env;
    env_with_source(&env, &fs, &src);
    char *token = token_with_kid("k2");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(UNKNOWN_KEY));
    ck_assert_int_eq(fs.kid_misses, 1);
    ck_assert_uint_eq(r->key_generation, 3);
    ck_assert_int_eq(fs.acquired, fs.released);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
    aud_keyset_destroy(fs.set);
}
END_TEST

/* Regression (hostile review): the verifier's key view held at most 16 key
 * sets, so with 17 AudKeyFile files a token signed by the 17th key was
 * refused as bad_signature, and nothing was logged. Every configured set
 * counts. */
START_TEST(seventeenth_key_set_is_used)
{
    enum { N = 17 };
    const aud_keyset *sets[N];
    aud_keyset *owned[N];
    for (int i = 0; i < N; i++) {
        owned[i] = set_with_fixture(i == N - 1 ? "test_rsa2048_public.pem" : "test_rsa2048_other_public.pem",
                                    NULL);
        sets[i] = owned[i];
    }
    ts_env env;
    ts_env_init_default(&env);
    ts_env_verifier(&env); /* completes env's verifier configuration */
    aud_verifier_config config = env.config;
    config.keysets = sets;
    config.n_keysets = N;
    aud_error err = {{0}};
    aud_verifier *v = aud_verifier_create(&config, &err);
    ck_assert_msg(v != NULL, "%s", err.text);
    EVP_PKEY *priv = ts_load_private_key("test_rsa2048_private.pem");
    char *claims = ts_good_claims();
    char *token = ts_mint_key(priv, AUD_ALG_RS256, "{\"alg\":\"RS256\"}", claims);
    aud_result *r = aud_verifier_check(v, token, strlen(token));
    ts_assert_accepted(r);
    aud_result_free(r);
    free(token);
    free(claims);
    EVP_PKEY_free(priv);
    aud_verifier_destroy(v);
    ts_env_free(&env);
    for (int i = 0; i < N; i++)
        aud_keyset_destroy(owned[i]);
}
END_TEST

Suite *suite_sources(void)
{
    const TTest *tests[] = {
        source_keys_verify_and_are_given_back, empty_source_is_keys_unavailable,
        unknown_kid_asks_the_source_to_refresh, changed_generation_after_kid_miss_is_checked_again,
        unchanged_generation_after_kid_miss_is_not_checked_again, seventeenth_key_set_is_used,
        allowance_before_on_and_after_its_date, permanent_audience_preferred_over_deprecated, NULL};
    return ts_suite("sources", "sources", tests);
}
