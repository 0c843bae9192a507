/* Key loading hardening: ROCA-vulnerable RSA moduli, duplicate kids, and
 * hostile strings in key documents. Fixtures are in tests/unit/keys (the
 * ROCA ones made by roca_generate.py there). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "aud_key.h"
#include "aud_utf8.h"
#include "suites.h"
#include "test_support.h"

#define KEYS_DIR AUD_TEST_VECTORS "/../unit/keys"

static bool load_path(aud_keyset *set, const char *name, ts_log *log, aud_error *err)
{
    char *path = ts_fmt("%s/%s", KEYS_DIR, name);
    aud_logger logger = ts_log_logger(log);
    memset(err, 0, sizeof *err);
    bool ok = aud_keyset_load_file(set, path, &logger, err);
    free(path);
    return ok;
}

static bool load_text(aud_keyset *set, const char *text, ts_log *log, aud_error *err)
{
    aud_logger logger = ts_log_logger(log);
    memset(err, 0, sizeof *err);
    return aud_keyset_load_buffer(set, text, strlen(text), "inline", &logger, err);
}

/* ------------------------------------------------------------------ ROCA */

/* Pins: RSA keys from Infineon's RSALib (ROCA, CVE-2017-15361) are refused
 * at load like too-short ones, naming the CVE, in every form a key comes
 * in; before, they loaded without a word. */
START_TEST(roca_keys_are_refused_naming_the_cve)
{
    static const char *const files[] = {"roca2048.jwk", "roca2048_spki.pem"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        aud_keyset *set = aud_keyset_create();
        ts_log log;
        aud_error err;
        ts_log_init(&log);
        ck_assert_msg(!load_path(set, files[i], &log, &err), "%s loaded", files[i]);
        ck_assert_uint_eq(aud_keyset_count(set), 0);
        ck_assert_msg(strstr(err.text, "ROCA (CVE-2017-15361)") != NULL && strstr(err.text, files[i]) != NULL,
                      "%s: %s", files[i], err.text);
        ts_log_free(&log);
        aud_keyset_destroy(set);
    }

    /* In a key set, it is skipped with a warning and the others load. */
    char *roca = ts_read_file(KEYS_DIR "/roca2048.jwk", NULL);
    EVP_PKEY *good = ts_load_public_key("test_rsa2048_public.pem");
    char *good_jwk = ts_public_jwk(good, "good");
    const char *jwks[] = {roca, good_jwk};
    char *text = ts_jwks(jwks, 2);
    aud_keyset *set = aud_keyset_create();
    ts_log log;
    aud_error err;
    ts_log_init(&log);
    ck_assert_msg(load_text(set, text, &log, &err), "%s", err.text);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert_str_eq(aud_key_kid(aud_keyset_key(set, 0)), "good");
    ck_assert(ts_log_contains(&log, AUD_LOG_WARNING, "keys[0] (kid 'roca') skipped: RSA key was made by Infineon's "
                                                     "RSALib and is vulnerable to ROCA (CVE-2017-15361)"));
    ts_log_free(&log);
    aud_keyset_destroy(set);
    free(text);
    free(good_jwk);
    EVP_PKEY_free(good);
    free(roca);
}
END_TEST

/* The fingerprint needs every prime's test: a modulus off it mod 167 alone
 * loads, as do freshly made keys and the test keys. */
START_TEST(ordinary_keys_and_a_near_miss_still_load)
{
    aud_keyset *set = aud_keyset_create();
    ts_log log;
    aud_error err;
    ts_log_init(&log);
    ck_assert_msg(load_path(set, "roca2048_near.jwk", &log, &err), "%s", err.text);
    ck_assert_msg(load_path(set, "rsa2048_spki.pem", &log, &err), "%s", err.text);
    for (int i = 0; i < 3; i++) {
        EVP_PKEY *pkey = EVP_RSA_gen(2048);
        ck_assert_ptr_nonnull(pkey);
        char *jwk = ts_public_jwk(pkey, NULL);
        ck_assert_msg(load_text(set, jwk, &log, &err), "fresh key %d: %s", i, err.text);
        free(jwk);
        EVP_PKEY_free(pkey);
    }
    ck_assert_uint_eq(aud_keyset_count(set), 5);
    ts_log_free(&log);
    aud_keyset_destroy(set);
}
END_TEST

/* -------------------------------------------------------- duplicate kids */

/* Pins: two keys with one kid in a key set (in one document or across
 * files) are warned about at load, and the warning says what the verifier
 * does: both are tried. */
START_TEST(duplicate_kids_warn_and_both_are_tried)
{
    EVP_PKEY *one = ts_load_private_key("test_rsa2048_private.pem");
    EVP_PKEY *two = ts_load_private_key("test_rsa2048_other_private.pem");
    char *jwk_one = ts_public_jwk(one, "same");
    char *jwk_two = ts_public_jwk(two, "same");
    const char *jwks[] = {jwk_one, jwk_two};
    char *text = ts_jwks(jwks, 2);

    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_text(&env, text);
    ck_assert_uint_eq(ts_log_count_level(&env.log, AUD_LOG_WARNING), 1);
    ck_assert(ts_log_contains(&env.log, AUD_LOG_WARNING,
                              "test key: keys[1] has kid 'same', as an earlier key in the set has; both are kept and "
                              "both are tried"));
    /* What the warning promises: a token from either key verifies. */
    char *claims = ts_good_claims();
    for (int i = 0; i < 2; i++) {
        char *token = ts_mint_key(i == 0 ? one : two, AUD_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":\"same\"}", claims);
        aud_result *r = ts_env_check(&env, token);
        ck_assert_msg(aud_result_accepted(r), "token from key %d refused", i + 1);
        aud_result_free(r);
        free(token);
    }
    free(claims);
    ts_env_free(&env);

    /* Across two loads into one set, and for a single JWK file. */
    aud_keyset *set = aud_keyset_create();
    ts_log log;
    aud_error err;
    ts_log_init(&log);
    ck_assert_msg(load_text(set, jwk_one, &log, &err), "%s", err.text);
    ck_assert_uint_eq(ts_log_count_level(&log, AUD_LOG_WARNING), 0);
    ck_assert_msg(load_text(set, jwk_two, &log, &err), "%s", err.text);
    ck_assert(ts_log_contains(&log, AUD_LOG_WARNING, "inline: the JWK has kid 'same', as an earlier key"));
    ts_log_free(&log);
    aud_keyset_destroy(set);

    /* Distinct kids: no warning. */
    free(jwk_two);
    jwk_two = ts_public_jwk(two, "other");
    const char *distinct[] = {jwk_one, jwk_two};
    free(text);
    text = ts_jwks(distinct, 2);
    set = aud_keyset_create();
    ts_log_init(&log);
    ck_assert_msg(load_text(set, text, &log, &err), "%s", err.text);
    ck_assert_uint_eq(ts_log_count_level(&log, AUD_LOG_WARNING), 0);
    ts_log_free(&log);
    aud_keyset_destroy(set);

    free(text);
    free(jwk_one);
    free(jwk_two);
    EVP_PKEY_free(one);
    EVP_PKEY_free(two);
}
END_TEST

/* ------------------------------------------------------- hostile strings */

/* Fails the test unless text could sit in a log line without breaking or
 * disguising it: valid UTF-8, no control, separator or bidi character, and
 * bounded however long the hostile value was. */
static void assert_clean(const char *what, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text);
    ck_assert_msg(len < 700, "%s: %zu bytes: %s", what, len, text);
    for (size_t i = 0; i < len;) {
        size_t n = aud_utf8_char_length(s + i, len - i);
        ck_assert_msg(n > 0, "%s: invalid UTF-8 at byte %zu: %s", what, i, text);
        ck_assert_msg(!(n == 1 && (s[i] < 0x20 || s[i] == 0x7f)), "%s: control byte %u: %s", what, s[i], text);
        if (n == 2)
            ck_assert_msg(!(s[i] == 0xc2 && s[i + 1] < 0xa0), "%s: C1 control: %s", what, text);
        if (n == 3 && s[i] == 0xe2 && s[i + 1] == 0x80)
            ck_assert_msg(s[i + 2] < 0xa8 || s[i + 2] > 0xae, "%s: separator or bidi: %s", what, text);
        if (n == 3 && s[i] == 0xe2 && s[i + 1] == 0x81)
            ck_assert_msg(s[i + 2] < 0xa6 || s[i + 2] > 0xa9, "%s: bidi isolate: %s", what, text);
        i += n;
    }
}

/* A JSON string value: CR/LF and a forged line, bidi overrides, C1 and
 * DEL, then 1,000 bytes of 'A'. (JSON text cannot carry invalid UTF-8; the
 * PEM case below does.) */
static char *hostile_json_string(void)
{
    char *tail = malloc(1001);
    memset(tail, 'A', 1000);
    tail[1000] = '\0';
    char *s = ts_fmt("x\\r\\nE forged\\u202e\\u2066\\u2028\\u0085\\u007f\\u001b[31m%s", tail);
    free(tail);
    return s;
}

/* Pins: every JWKS string quoted in a key-loading message (kid, kty, crv,
 * use, alg) goes through aud_text_quote; before, all but kid were quoted
 * raw up to 32 or 40 bytes. */
START_TEST(hostile_jwk_strings_are_sanitised_in_messages)
{
    char *h = hostile_json_string();
    EVP_PKEY *rsa = ts_load_public_key("test_rsa2048_public.pem");
    char *rsa_jwk = ts_public_jwk(rsa, NULL); /* a real key, so that its alg is looked at */
    char *docs[] = {
        ts_fmt("{\"kty\":\"%s\"}", h),
        ts_fmt("{\"use\":\"%s\",%s", h, rsa_jwk + 1),
        ts_fmt("{\"alg\":\"%s\",%s", h, rsa_jwk + 1),
        ts_fmt("{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", h),
        ts_fmt("{\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"AQAB\"}", h),
        ts_fmt("{\"kty\":\"frob\",\"kid\":\"%s\"}", h),
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        /* Alone, the reason is the error; in a set, it is a warning. */
        aud_keyset *set = aud_keyset_create();
        ts_log log;
        aud_error err;
        ts_log_init(&log);
        ck_assert(!load_text(set, docs[i], &log, &err));
        char *what = ts_fmt("JWK %zu error", i);
        assert_clean(what, err.text);
        /* (The error for a lone JWK does not name its kid.) */
        if (i != 5)
            ck_assert_msg(strstr(err.text, "x??E forged") != NULL, "%s: %s", what, err.text);
        free(what);

        char *jwks = ts_fmt("{\"keys\":[%s]}", docs[i]);
        ck_assert(!load_text(set, jwks, &log, &err));
        ck_assert_uint_ge(log.count, 1);
        for (size_t m = 0; m < log.count; m++) {
            what = ts_fmt("JWK %zu message %zu", i, m);
            assert_clean(what, log.messages[m]);
            free(what);
        }
        ck_assert(ts_log_contains(&log, AUD_LOG_WARNING, "x??E forged"));
        free(jwks);
        ts_log_free(&log);
        aud_keyset_destroy(set);
        free(docs[i]);
    }

    /* A kid that loads shows up sanitised in the key's description and in
     * the duplicate-kid warning. */
    EVP_PKEY *pkey = ts_load_public_key("test_rsa2048_public.pem");
    char *jwk = ts_public_jwk(pkey, "placeholder");
    char *at = strstr(jwk, "placeholder");
    ck_assert_ptr_nonnull(at);
    *at = '\0';
    char *hostile_jwk = ts_fmt("%s%s%s", jwk, h, at + strlen("placeholder"));
    const char *two[] = {hostile_jwk, hostile_jwk};
    char *jwks = ts_jwks(two, 2);
    aud_keyset *set = aud_keyset_create();
    ts_log log;
    aud_error err;
    ts_log_init(&log);
    ck_assert_msg(load_text(set, jwks, &log, &err), "%s", err.text);
    assert_clean("description", aud_key_describe(aud_keyset_key(set, 0)));
    ck_assert_uint_eq(ts_log_count_level(&log, AUD_LOG_WARNING), 1);
    assert_clean("duplicate warning", log.messages[0]);
    ts_log_free(&log);
    aud_keyset_destroy(set);
    free(jwks);
    free(hostile_jwk);
    free(jwk);
    EVP_PKEY_free(pkey);
    free(rsa_jwk);
    EVP_PKEY_free(rsa);
    free(h);
}
END_TEST

/* A PEM block's name is the file's text too, and may be any bytes
 * (invalid UTF-8 included). */
START_TEST(hostile_pem_block_name_is_sanitised)
{
    char name[1100];
    size_t o = (size_t)snprintf(name, sizeof name, "X\xff\xfe\x1b[31m\xe2\x80\xae\xc2\x85");
    /* OpenSSL reads a PEM line of at most 255 bytes or so. */
    memset(name + o, 'A', 200);
    name[o + 200] = '\0';
    char *pem = ts_fmt("-----BEGIN %s-----\nAAAA\n-----END %s-----\n", name, name);
    aud_keyset *set = aud_keyset_create();
    ts_log log;
    aud_error err;
    ts_log_init(&log);
    ck_assert(!load_text(set, pem, &log, &err));
    assert_clean("PEM error", err.text);
    ck_assert_msg(strstr(err.text, "PEM block 1 is \"X???[31m??AAA") != NULL, "%s", err.text);
    ts_log_free(&log);
    aud_keyset_destroy(set);
    free(pem);
}
END_TEST

Suite *suite_keyload(void)
{
    Suite *s = suite_create("keyload");
    TCase *roca = tcase_create("roca");
    tcase_add_test(roca, roca_keys_are_refused_naming_the_cve);
    tcase_add_test(roca, ordinary_keys_and_a_near_miss_still_load);
    suite_add_tcase(s, roca);

    TCase *kids = tcase_create("kids");
    tcase_add_test(kids, duplicate_kids_warn_and_both_are_tried);
    suite_add_tcase(s, kids);

    TCase *hostile = tcase_create("hostile");
    tcase_add_test(hostile, hostile_jwk_strings_are_sanitised_in_messages);
    tcase_add_test(hostile, hostile_pem_block_name_is_sanitised);
    suite_add_tcase(s, hostile);
    return s;
}
