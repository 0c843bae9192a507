/* Key loading, key/algorithm fit and signature verification. Fixtures are in
 * tests/unit/keys (made once by generate.py there) and tests/vectors. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "aud_alg.h"
#include "aud_b64.h"
#include "aud_key.h"
#include "aud_log.h"
#include "suites.h"

#ifndef AUD_TEST_VECTORS
#error "AUD_TEST_VECTORS must name the absolute path of tests/vectors"
#endif

#define KEYS_DIR AUD_TEST_VECTORS "/../unit/keys"

/* ------------------------------------------------------------- helpers */

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open fixture %s: %s", path, strerror(errno));
    size_t cap = 4096;
    size_t n = 0;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
    }
    ck_assert_msg(!ferror(f), "cannot read fixture %s", path);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static char *path_in(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

/* Keeps every message, one per line, prefixed by its level's initial. */
typedef struct {
    char text[16384];
    size_t len;
    unsigned count[AUD_LOG_DEBUG + 1];
} captured_log;

static void capture(void *baton, aud_log_level level, const char *message)
{
    captured_log *log = baton;
    static const char initial[] = "EWID";
    log->count[level]++;
    int n = snprintf(log->text + log->len, sizeof log->text - log->len, "%c %s\n", initial[level], message);
    if (n > 0)
        log->len += (size_t)n < sizeof log->text - log->len ? (size_t)n : sizeof log->text - log->len - 1;
}

static aud_logger logger_for(captured_log *log)
{
    memset(log, 0, sizeof *log);
    aud_logger logger = {capture, log};
    return logger;
}

static bool logged(const captured_log *log, aud_log_level level, const char *needle)
{
    static const char initial[] = "EWID";
    const char *line = log->text;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        if (buf[0] == initial[level] && strstr(buf, needle) != NULL)
            return true;
        line += len + (end != NULL ? 1 : 0);
    }
    return false;
}

/* A key set from one fixture of tests/unit/keys, which must load. */
static aud_keyset *load_fixture(const char *name, captured_log *log)
{
    char *path = path_in(KEYS_DIR, name);
    aud_logger logger = logger_for(log);
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_file(set, path, &logger, &err), "%s did not load: %s", name, err.text);
    free(path);
    return set;
}

/* Loads a fixture that must be refused, and returns the error text. */
static void refuse_fixture(const char *dir, const char *name, aud_error *err, captured_log *log)
{
    char *path = path_in(dir, name);
    aud_logger logger = logger_for(log);
    aud_keyset *set = aud_keyset_create();
    ck_assert_msg(!aud_keyset_load_file(set, path, &logger, err), "%s loaded but must not", name);
    ck_assert_msg(aud_keyset_count(set) == 0, "a refused file left %zu keys", aud_keyset_count(set));
    ck_assert_msg(strstr(err->text, path) != NULL, "error does not name the file: %s", err->text);
    aud_keyset_destroy(set);
    free(path);
}

static aud_keyset *load_text(const char *text, aud_error *err, captured_log *log)
{
    aud_logger logger = logger_for(log);
    aud_keyset *set = aud_keyset_create();
    if (!aud_keyset_load_buffer(set, text, strlen(text), "inline", &logger, err)) {
        ck_assert_uint_eq(aud_keyset_count(set), 0);
        aud_keyset_destroy(set);
        return NULL;
    }
    return set;
}

#define assert_has(haystack, needle)                                                                    \
    ck_assert_msg(strstr((haystack), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (haystack))

/* A compact JWS split into signing input and decoded signature. */
typedef struct {
    char *input;
    size_t input_len;
    unsigned char *sig;
    size_t sig_len;
} jws;

static void jws_read(const char *path, jws *out)
{
    size_t len;
    char *text = read_whole(path, &len);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    char *dot = strrchr(text, '.');
    ck_assert_msg(dot != NULL && strchr(text, '.') != dot, "%s is not a compact JWS", path);
    ck_assert_msg(aud_b64url_decode(dot + 1, strlen(dot + 1), &out->sig, &out->sig_len),
                  "%s: signature is not base64url", path);
    *dot = '\0';
    out->input = text;
    out->input_len = (size_t)(dot - text);
}

static void jws_free(jws *j)
{
    free(j->input);
    free(j->sig);
}

static bool verify_jws(const aud_key *key, aud_alg alg, const jws *j)
{
    return aud_key_verify(key, alg, (const unsigned char *)j->input, j->input_len, j->sig, j->sig_len);
}

/* Valid as it is; refused after any one bit of signature or input flips. */
static void assert_verifies_only_intact(const aud_key *key, aud_alg alg, jws *j, const char *what)
{
    ck_assert_msg(verify_jws(key, alg, j), "%s: valid signature refused", what);
    ck_assert_msg(ERR_peek_error() == 0, "%s: OpenSSL error queue not empty", what);
    size_t positions[] = {0, j->sig_len / 2, j->sig_len - 1};
    for (size_t i = 0; i < 3; i++) {
        j->sig[positions[i]] ^= 0x01;
        ck_assert_msg(!verify_jws(key, alg, j), "%s: signature with byte %zu flipped accepted", what,
                      positions[i]);
        ck_assert_msg(ERR_peek_error() == 0, "%s: failed verify left an OpenSSL error", what);
        j->sig[positions[i]] ^= 0x01;
    }
    j->input[j->input_len - 1] ^= 0x02;
    ck_assert_msg(!verify_jws(key, alg, j), "%s: changed signing input accepted", what);
    j->input[j->input_len - 1] ^= 0x02;
    ck_assert_msg(verify_jws(key, alg, j), "%s: restored signature refused", what);
}

/* ---------------------------------------------------------- PEM formats */

START_TEST(pem_spki_rsa)
{
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_spki.pem", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_int_eq(aud_key_type_of(key), AUD_KEY_RSA);
    ck_assert_ptr_null(aud_key_kid(key));
    ck_assert_str_eq(aud_key_describe(key), "RSA 2048-bit key (no kid)");
    ck_assert(aud_key_fits_alg(key, AUD_ALG_RS256));
    ck_assert(aud_key_fits_alg(key, AUD_ALG_PS512));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_ES256));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_EDDSA));
    ck_assert_ptr_null(aud_keyset_key(set, 1));
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 0);
    aud_keyset_destroy(set);
}
END_TEST

/* Each of these holds the same RSA key, so each verifies the same RS256
 * signature. */
START_TEST(pem_forms_of_one_rsa_key)
{
    static const char *const files[] = {"rsa2048_spki.pem", "rsa2048_pkcs1.pem", "rsa2048_cert.pem",
                                        "rsa2048_pkcs8.pem", "rsa2048_trad.pem"};
    const char *file = files[_i];
    captured_log log;
    aud_keyset *set = load_fixture(file, &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_int_eq(aud_key_type_of(key), AUD_KEY_RSA);
    jws j;
    char *path = path_in(KEYS_DIR, "sig_RS256.jwsc");
    jws_read(path, &j);
    ck_assert_msg(verify_jws(key, AUD_ALG_RS256, &j), "%s: key does not verify", file);
    jws_free(&j);
    free(path);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_certificate_dates_ignored)
{
    /* The fixture expired on 2020-01-02: a certificate only carries a key. */
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_cert.pem", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert_str_eq(aud_key_describe(aud_keyset_key(set, 0)), "RSA 2048-bit key (no kid)");
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_private_key_keeps_public_part_with_warning)
{
    static const char *const files[] = {"rsa2048_pkcs8.pem", "rsa2048_trad.pem", "p256_sec1.pem"};
    captured_log log;
    aud_keyset *set = load_fixture(files[_i], &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 1);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "private key"), "no warning: %s", log.text);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, files[_i]), "warning does not name the file: %s", log.text);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_sec1_with_ec_parameters)
{
    captured_log log;
    aud_keyset *set = load_fixture("p256_sec1.pem", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_int_eq(aud_key_type_of(key), AUD_KEY_EC_P256);
    jws j;
    char *path = path_in(KEYS_DIR, "sig_ES256.jwsc");
    jws_read(path, &j);
    ck_assert(verify_jws(key, AUD_ALG_ES256, &j));
    jws_free(&j);
    free(path);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_encrypted_private_key_refused)
{
    static const char *const files[] = {"rsa2048_pkcs8_encrypted.pem", "rsa2048_trad_encrypted.pem"};
    captured_log log;
    aud_error err = {{0}};
    refuse_fixture(KEYS_DIR, files[_i], &err, &log);
    assert_has(err.text, "encrypted");
}
END_TEST

START_TEST(pem_several_blocks)
{
    captured_log log;
    aud_keyset *set = load_fixture("two_keys.pem", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 2);
    ck_assert_int_eq(aud_key_type_of(aud_keyset_key(set, 0)), AUD_KEY_RSA);
    ck_assert_int_eq(aud_key_type_of(aud_keyset_key(set, 1)), AUD_KEY_EC_P256);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_other_curves_and_ed25519)
{
    static const struct {
        const char *file;
        aud_key_type type;
        aud_alg fits;
        const char *description;
    } cases[] = {
        {"p256_spki.pem", AUD_KEY_EC_P256, AUD_ALG_ES256, "EC P-256 key (no kid)"},
        {"p384_spki.pem", AUD_KEY_EC_P384, AUD_ALG_ES384, "EC P-384 key (no kid)"},
        {"p521_spki.pem", AUD_KEY_EC_P521, AUD_ALG_ES512, "EC P-521 key (no kid)"},
        {"ed25519_spki.pem", AUD_KEY_ED25519, AUD_ALG_EDDSA, "Ed25519 key (no kid)"},
    };
    captured_log log;
    aud_keyset *set = load_fixture(cases[_i].file, &log);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_int_eq(aud_key_type_of(key), cases[_i].type);
    ck_assert_str_eq(aud_key_describe(key), cases[_i].description);
    for (int alg = 0; alg < AUD_ALG_COUNT; alg++)
        ck_assert_msg(aud_key_fits_alg(key, (aud_alg)alg) == (alg == (int)cases[_i].fits), "%s and %s",
                      cases[_i].file, aud_alg_name((aud_alg)alg));
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(pem_unsupported_keys_refused)
{
    static const struct {
        const char *file;
        const char *reason;
    } cases[] = {
        {"rsa1024_spki.pem", "RSA key of 1024 bits is too weak; at least 2048 required"},
        {"secp256k1_spki.pem", "curve secp256k1 is not supported"},
        {"ed448_spki.pem", "Ed448 keys are not supported"},
    };
    captured_log log;
    aud_error err = {{0}};
    refuse_fixture(KEYS_DIR, cases[_i].file, &err, &log);
    assert_has(err.text, cases[_i].reason);
}
END_TEST

START_TEST(pem_bad_later_block_fails_whole_file)
{
    char *good = read_whole(KEYS_DIR "/rsa2048_spki.pem", NULL);
    char *weak = read_whole(KEYS_DIR "/rsa1024_spki.pem", NULL);
    size_t len = strlen(good) + strlen(weak) + 1;
    char *both = malloc(len);
    snprintf(both, len, "%s%s", good, weak);
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text(both, &err, &log));
    assert_has(err.text, "inline: PEM block 2 (PUBLIC KEY): RSA key of 1024 bits");
    free(good);
    free(weak);
    free(both);
}
END_TEST

START_TEST(pem_damaged_or_foreign_blocks_refused)
{
    static const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"-----BEGIN PUBLIC KEY-----\nMIIB\n", "damaged"},
        {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "cannot be parsed"},
        {"-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n", "\"DH PARAMETERS\""},
        {"hello -----BEGIN not really", "not a PEM key, certificate, JWK or JWKS"},
        {"just text", "inline: not a PEM key, certificate, JWK or JWKS"},
        {"  \n", "not a PEM key, certificate, JWK or JWKS"},
    };
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text(cases[_i].text, &err, &log));
    assert_has(err.text, cases[_i].reason);
}
END_TEST

/* ------------------------------------------------------------------ JWK */

START_TEST(jwk_each_type)
{
    static const struct {
        const char *file;
        aud_key_type type;
        const char *kid;
        const char *description;
    } cases[] = {
        {"rsa2048.jwk", AUD_KEY_RSA, "rsa1", "RSA 2048-bit key 'rsa1'"},
        {"p256.jwk", AUD_KEY_EC_P256, "ec1", "EC P-256 key 'ec1'"},
        {"p384.jwk", AUD_KEY_EC_P384, NULL, "EC P-384 key (no kid)"},
        {"p521.jwk", AUD_KEY_EC_P521, "ec521", "EC P-521 key 'ec521'"},
        {"ed25519.jwk", AUD_KEY_ED25519, "ed1", "Ed25519 key 'ed1'"},
        {"oct.jwk", AUD_KEY_OCT, "hmac1", "HMAC secret of 64 bytes 'hmac1'"},
    };
    captured_log log;
    aud_keyset *set = load_fixture(cases[_i].file, &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_int_eq(aud_key_type_of(key), cases[_i].type);
    if (cases[_i].kid == NULL)
        ck_assert_ptr_null(aud_key_kid(key));
    else
        ck_assert_str_eq(aud_key_kid(key), cases[_i].kid);
    ck_assert_str_eq(aud_key_describe(key), cases[_i].description);
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 0);
    aud_keyset_destroy(set);
}
END_TEST

/* The JWK keys are the PEM keys in another form: they verify the same
 * signatures. */
START_TEST(jwk_keys_verify)
{
    static const struct {
        const char *key;
        const char *sig;
        aud_alg alg;
    } cases[] = {
        {"rsa2048.jwk", "sig_PS384.jwsc", AUD_ALG_PS384}, {"p256.jwk", "sig_ES256.jwsc", AUD_ALG_ES256},
        {"p384.jwk", "sig_ES384.jwsc", AUD_ALG_ES384},    {"p521.jwk", "sig_ES512.jwsc", AUD_ALG_ES512},
        {"ed25519.jwk", "sig_EdDSA.jwsc", AUD_ALG_EDDSA}, {"oct.jwk", "sig_HS512.jwsc", AUD_ALG_HS512},
    };
    captured_log log;
    aud_keyset *set = load_fixture(cases[_i].key, &log);
    char *path = path_in(KEYS_DIR, cases[_i].sig);
    jws j;
    jws_read(path, &j);
    assert_verifies_only_intact(aud_keyset_key(set, 0), cases[_i].alg, &j, cases[_i].sig);
    jws_free(&j);
    free(path);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(jwk_private_members_dropped_with_one_warning)
{
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_private.jwk", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert_str_eq(aud_key_kid(aud_keyset_key(set, 0)), "rsa-private");
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 1);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "private key members"), "%s", log.text);
    aud_keyset_destroy(set);

    /* The RFC examples carry their private keys too. */
    set = aud_keyset_create();
    aud_logger logger = logger_for(&log);
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_file(set, AUD_TEST_VECTORS "/rfc7515_A.2.jwk", &logger, &err), "%s", err.text);
    ck_assert_msg(aud_keyset_load_file(set, AUD_TEST_VECTORS "/rfc7515_A.3.jwk", &logger, &err), "%s", err.text);
    ck_assert_uint_eq(aud_keyset_count(set), 2);
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 2);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(jwk_single_refused)
{
    static const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "not a signature key (use \"enc\""},
        {"{\"kty\":\"oct\",\"k\":\"AAAA\",\"key_ops\":[\"encrypt\"]}", "not a signature key"},
        {"{\"kty\":\"frob\"}", "unsupported kty \"frob\""},
        {"{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}", "EC curve \"secp256k1\" is not supported"},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AA\"}", "OKP curve \"Ed448\" is not supported"},
        {"{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"}", "OKP curve \"X25519\" is not supported"},
        {"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}", "Ed25519 needs exactly 32"},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\"}", "member \"e\" is missing"},
        {"{\"kty\":\"RSA\",\"n\":\"AQ+B\",\"e\":\"AQAB\"}", "member \"n\" is not valid base64url"},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "RSA key of 17 bits is too weak"},
        {"{\"kty\":\"oct\",\"k\":\"\"}", "member \"k\" is empty"},
        {"{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":7}", "member \"kid\" is not a string"},
        {"{\"kid\":\"x\"}", "not a PEM key, certificate, JWK or JWKS"},
        {"{\"kty\":\"oct\",\"kty\":\"RSA\"}", "inline: "},
        {"{\"keys\":{}}", "\"keys\" is not an array"},
        {"[1]", "inline: "},
    };
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text(cases[_i].text, &err, &log));
    assert_has(err.text, cases[_i].reason);
}
END_TEST

START_TEST(jwk_alg_restricts_key)
{
    static const struct {
        const char *text;
        aud_alg own;
    } cases[] = {
        {"rsa2048.jwk", AUD_ALG_PS256},
        {"p256.jwk", AUD_ALG_ES256},
    };
    /* Re-emit the fixture JWK with an alg member spliced in. */
    char *path = path_in(KEYS_DIR, cases[_i].text);
    char *jwk = read_whole(path, NULL);
    size_t len = strlen(jwk) + 32;
    char *with_alg = malloc(len);
    snprintf(with_alg, len, "{\"alg\":\"%s\",%s", aud_alg_name(cases[_i].own), jwk + 1);
    aud_error err = {{0}};
    captured_log log;
    aud_keyset *set = load_text(with_alg, &err, &log);
    ck_assert_msg(set != NULL, "%s", err.text);
    const aud_key *key = aud_keyset_key(set, 0);
    for (int alg = 0; alg < AUD_ALG_COUNT; alg++)
        ck_assert_msg(aud_key_fits_alg(key, (aud_alg)alg) == (alg == (int)cases[_i].own), "%s",
                      aud_alg_name((aud_alg)alg));
    assert_has(aud_key_describe(key), aud_alg_name(cases[_i].own));
    aud_keyset_destroy(set);
    free(with_alg);
    free(jwk);
    free(path);
}
END_TEST

START_TEST(jwk_alg_must_fit_key)
{
    static const struct {
        const char *file;
        const char *alg;
        const char *reason;
    } cases[] = {
        {"rsa2048.jwk", "HS256", "alg HS256 does not fit an RSA key"},
        {"rsa2048.jwk", "ES256", "alg ES256 does not fit an RSA key"},
        {"p256.jwk", "ES384", "alg ES384 does not fit an EC P-256 key"},
        {"ed25519.jwk", "HS512", "alg HS512 does not fit an Ed25519 key"},
        {"oct.jwk", "RS256", "alg RS256 does not fit an HMAC secret"},
        {"p256.jwk", "none", "alg \"none\" is not a supported"},
        {"p256.jwk", "es256", "alg \"es256\" is not a supported"},
        {"rsa2048.jwk", "RSA-OAEP", "alg \"RSA-OAEP\" is not a supported"},
    };
    char *path = path_in(KEYS_DIR, cases[_i].file);
    char *jwk = read_whole(path, NULL);
    size_t len = strlen(jwk) + 32;
    char *with_alg = malloc(len);
    snprintf(with_alg, len, "{\"alg\":\"%s\",%s", cases[_i].alg, jwk + 1);
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text(with_alg, &err, &log));
    assert_has(err.text, cases[_i].reason);
    free(with_alg);
    free(jwk);
    free(path);
}
END_TEST

START_TEST(jwk_ec_point_checks)
{
    char *jwk = read_whole(KEYS_DIR "/p256.jwk", NULL);
    aud_error err = {{0}};
    captured_log log;

    /* Change one bit of y: the point leaves the curve. */
    char *off = strdup(jwk);
    char *y = strstr(off, "\"y\": \"");
    ck_assert_ptr_nonnull(y);
    y += 6;
    y[10] = y[10] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null(load_text(off, &err, &log));
    assert_has(err.text, "is not a point on P-256");

    /* A coordinate one byte short: 31 zero bytes are 42 'A's. */
    ck_assert_ptr_null(load_text("{\"kty\":\"EC\",\"crv\":\"P-256\","
                                 "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                                 "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                                 &err, &log));
    assert_has(err.text, "\"x\" is 31 bytes; P-256 needs exactly 32");

    /* The point (0, 0) has the right lengths but is not on the curve. */
    ck_assert_ptr_null(load_text("{\"kty\":\"EC\",\"crv\":\"P-256\","
                                 "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                                 "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                                 &err, &log));
    assert_has(err.text, "is not a point on P-256");

    /* The right point under the wrong curve name. */
    char *wrongcrv = strdup(jwk);
    char *crv = strstr(wrongcrv, "P-256");
    ck_assert_ptr_nonnull(crv);
    memcpy(crv, "P-384", 5);
    ck_assert_ptr_null(load_text(wrongcrv, &err, &log));
    assert_has(err.text, "P-384 needs exactly 48");

    free(off);
    free(wrongcrv);
    free(jwk);
}
END_TEST

/* ----------------------------------------------------------------- JWKS */

START_TEST(jwks_with_kid_use_alg)
{
    captured_log log;
    aud_keyset *set = load_fixture("jwks.json", &log);
    ck_assert_uint_eq(aud_keyset_count(set), 4);
    static const char *const kids[] = {"rsa-sig", "ec-sig", "ed-sig", "rsa-ps"};
    static const aud_alg algs[] = {AUD_ALG_RS256, AUD_ALG_ES256, AUD_ALG_EDDSA, AUD_ALG_PS256};
    for (size_t i = 0; i < 4; i++) {
        const aud_key *key = aud_keyset_key(set, i);
        ck_assert_str_eq(aud_key_kid(key), kids[i]);
        for (int alg = 0; alg < AUD_ALG_COUNT; alg++)
            ck_assert_msg(aud_key_fits_alg(key, (aud_alg)alg) == (alg == (int)algs[i]), "%s and %s", kids[i],
                          aud_alg_name((aud_alg)alg));
    }
    ck_assert_str_eq(aud_key_describe(aud_keyset_key(set, 0)), "RSA 2048-bit key 'rsa-sig', alg RS256");

    /* The encryption key is a note, the broken ones are warnings naming
     * index, kid and reason. */
    ck_assert_msg(logged(&log, AUD_LOG_INFO, "keys[2] (kid 'rsa-enc') skipped: use \"enc\""), "%s", log.text);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING,
                         "keys[3] (kid 'rsa-weak') skipped: RSA key of 1024 bits is too weak; at least 2048 required"),
                  "%s", log.text);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "keys[4] (kid 'alien') skipped: unsupported kty \"frob\""), "%s",
                  log.text);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "jwks.json"), "warnings do not name the file: %s", log.text);
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 2);
    ck_assert_uint_eq(log.count[AUD_LOG_INFO], 1);

    jws j;
    char *path = path_in(KEYS_DIR, "sig_EdDSA.jwsc");
    jws_read(path, &j);
    ck_assert(verify_jws(aud_keyset_key(set, 2), AUD_ALG_EDDSA, &j));
    jws_free(&j);
    free(path);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(jwks_without_usable_key_fails)
{
    captured_log log;
    aud_error err = {{0}};
    refuse_fixture(KEYS_DIR, "jwks_unusable.json", &err, &log);
    assert_has(err.text, "no usable key");
    ck_assert_uint_eq(log.count[AUD_LOG_WARNING], 2);
    ck_assert_uint_eq(log.count[AUD_LOG_INFO], 1);

    ck_assert_ptr_null(load_text("{\"keys\":[]}", &err, &log));
    assert_has(err.text, "inline: the JWKS holds no keys");
    ck_assert_ptr_null(load_text("{\"keys\":[1,\"x\"]}", &err, &log));
    assert_has(err.text, "no usable key");
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "keys[1] skipped: not a JSON object"), "%s", log.text);
}
END_TEST

START_TEST(jwks_hostile_kid_cannot_forge_log_lines)
{
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text("{\"keys\":[{\"kty\":\"frob\",\"kid\":\"a\\nE forged\"}]}", &err, &log));
    ck_assert_msg(strstr(log.text, "\nE forged") == NULL, "kid broke the line: %s", log.text);
    ck_assert_msg(logged(&log, AUD_LOG_WARNING, "kid 'a?E forged'"), "%s", log.text);
}
END_TEST

START_TEST(failed_file_leaves_set_unchanged)
{
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_spki.pem", &log);
    aud_logger logger = logger_for(&log);
    aud_error err = {{0}};
    ck_assert(!aud_keyset_load_file(set, KEYS_DIR "/jwks_unusable.json", &logger, &err));
    ck_assert(!aud_keyset_load_file(set, KEYS_DIR "/rsa1024_spki.pem", &logger, &err));
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert(aud_keyset_load_file(set, KEYS_DIR "/jwks.json", &logger, &err));
    ck_assert_uint_eq(aud_keyset_count(set), 5);
    aud_keyset_destroy(set);
}
END_TEST

/* -------------------------------------------------------------- secrets */

START_TEST(secret_lengths)
{
    unsigned char secret[64];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (unsigned char)(0x41 + i % 26);
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert(!aud_keyset_add_secret(set, secret, 31, "short", &err));
    assert_has(err.text, "HMAC secret of 31 bytes is too short; at least 32 required");
    ck_assert_uint_eq(aud_keyset_count(set), 0);

    ck_assert_msg(aud_keyset_add_secret(set, secret, 32, "k32", &err), "%s", err.text);
    ck_assert_msg(aud_keyset_add_secret(set, secret, 48, NULL, &err), "%s", err.text);
    const aud_key *k32 = aud_keyset_key(set, 0);
    const aud_key *k48 = aud_keyset_key(set, 1);
    ck_assert_int_eq(aud_key_type_of(k32), AUD_KEY_OCT);
    ck_assert_str_eq(aud_key_kid(k32), "k32");
    ck_assert_str_eq(aud_key_describe(k32), "HMAC secret of 32 bytes 'k32'");
    ck_assert_str_eq(aud_key_describe(k48), "HMAC secret of 48 bytes (no kid)");
    ck_assert(aud_key_fits_alg(k32, AUD_ALG_HS256));
    ck_assert(!aud_key_fits_alg(k32, AUD_ALG_HS384));
    ck_assert(!aud_key_fits_alg(k32, AUD_ALG_HS512));
    ck_assert(aud_key_fits_alg(k48, AUD_ALG_HS384));
    ck_assert(!aud_key_fits_alg(k48, AUD_ALG_HS512));
    for (int alg = 0; alg < AUD_ALG_COUNT; alg++)
        ck_assert(aud_alg_is_hmac((aud_alg)alg) || !aud_key_fits_alg(k48, (aud_alg)alg));
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(secret_jwk_with_own_alg_longer_hash)
{
    /* 32 bytes of zeros is 43 'A's. */
    static const char *const texts[] = {
        "{\"kty\":\"oct\",\"alg\":\"HS384\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
    };
    aud_error err = {{0}};
    captured_log log;
    ck_assert_ptr_null(load_text(texts[_i], &err, &log));
    assert_has(err.text, "HMAC secret of 32 bytes is too short for HS");

    aud_keyset *set = load_text("{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", &err, &log);
    ck_assert_ptr_null(set);
    assert_has(err.text, "HMAC secret of 31 bytes is too short; at least 32 required");
}
END_TEST

START_TEST(secret_file)
{
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_secret_file(set, KEYS_DIR "/secret64.bin", NULL, &err), "%s", err.text);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert_str_eq(aud_key_describe(key), "HMAC secret of 64 bytes (no kid)");
    ck_assert(aud_key_fits_alg(key, AUD_ALG_HS512));

    ck_assert(!aud_keyset_load_secret_file(set, KEYS_DIR "/secret31.bin", NULL, &err));
    assert_has(err.text, KEYS_DIR "/secret31.bin: HMAC secret of 31 bytes is too short");
    ck_assert(!aud_keyset_load_secret_file(set, KEYS_DIR "/no-such-secret", NULL, &err));
    ck_assert_str_eq(err.text, "cannot read " KEYS_DIR "/no-such-secret: No such file or directory");
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    aud_keyset_destroy(set);
}
END_TEST

/* ------------------------------------------------------------------ fit */

START_TEST(public_keys_never_fit_hmac)
{
    static const char *const files[] = {"rsa2048_spki.pem", "p256_spki.pem", "p384_spki.pem",
                                        "p521_spki.pem",    "ed25519_spki.pem", "rsa2048.jwk"};
    captured_log log;
    aud_keyset *set = load_fixture(files[_i], &log);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_HS256));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_HS384));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_HS512));

    /* Even a correct HMAC over the key's own bytes does not verify: the
     * alg-confusion attack. */
    size_t len;
    char *pem = read_whole(KEYS_DIR "/rsa2048_spki.pem", &len);
    ck_assert(!aud_key_verify(key, AUD_ALG_HS256, (const unsigned char *)"a.b", 3, (const unsigned char *)pem, 32));
    free(pem);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(ec_curve_must_match_alg)
{
    captured_log log;
    aud_keyset *set = load_fixture("p256_spki.pem", &log);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert(aud_key_fits_alg(key, AUD_ALG_ES256));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_ES384));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_ES512));
    ck_assert(!aud_key_fits_alg(key, AUD_ALG_COUNT));

    /* A caller that skips the fit check still gets false. */
    jws j;
    jws_read(KEYS_DIR "/sig_ES256.jwsc", &j);
    ck_assert(verify_jws(key, AUD_ALG_ES256, &j));
    ck_assert(!verify_jws(key, AUD_ALG_ES384, &j));
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

/* ------------------------------------------------------------ verifying */

static const struct {
    const char *name;
    aud_alg alg;
} rfc_vectors[] = {
    {"rfc7515_A.1", AUD_ALG_HS256}, {"rfc7515_A.2", AUD_ALG_RS256}, {"rfc7515_A.3", AUD_ALG_ES256},
    {"rfc7515_A.4", AUD_ALG_ES512}, {"rfc8037_A.4", AUD_ALG_EDDSA},
};

START_TEST(verify_rfc_vectors)
{
    char name[64];
    snprintf(name, sizeof name, "%s.jwk", rfc_vectors[_i].name);
    captured_log log;
    char *key_path = path_in(AUD_TEST_VECTORS, name);
    aud_logger logger = logger_for(&log);
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_file(set, key_path, &logger, &err), "%s", err.text);
    const aud_key *key = aud_keyset_key(set, 0);
    ck_assert(aud_key_fits_alg(key, rfc_vectors[_i].alg));

    snprintf(name, sizeof name, "%s.jwsc", rfc_vectors[_i].name);
    char *jws_path = path_in(AUD_TEST_VECTORS, name);
    jws j;
    jws_read(jws_path, &j);
    assert_verifies_only_intact(key, rfc_vectors[_i].alg, &j, rfc_vectors[_i].name);
    jws_free(&j);
    free(jws_path);
    free(key_path);
    aud_keyset_destroy(set);
}
END_TEST

static const struct {
    aud_alg alg;
    const char *key;
} own_vectors[] = {
    {AUD_ALG_RS256, "rsa2048_spki.pem"}, {AUD_ALG_RS384, "rsa2048_spki.pem"}, {AUD_ALG_RS512, "rsa2048_spki.pem"},
    {AUD_ALG_PS256, "rsa2048_spki.pem"}, {AUD_ALG_PS384, "rsa2048_spki.pem"}, {AUD_ALG_PS512, "rsa2048_spki.pem"},
    {AUD_ALG_ES256, "p256_spki.pem"},    {AUD_ALG_ES384, "p384_spki.pem"},    {AUD_ALG_ES512, "p521_spki.pem"},
    {AUD_ALG_EDDSA, "ed25519_spki.pem"}, {AUD_ALG_HS256, NULL},               {AUD_ALG_HS384, NULL},
    {AUD_ALG_HS512, NULL},
};

static aud_keyset *own_key(size_t i, captured_log *log)
{
    if (own_vectors[i].key != NULL)
        return load_fixture(own_vectors[i].key, log);
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_secret_file(set, KEYS_DIR "/secret64.bin", NULL, &err), "%s", err.text);
    return set;
}

static void own_jws(size_t i, jws *j)
{
    char name[64];
    snprintf(name, sizeof name, "sig_%s.jwsc", aud_alg_name(own_vectors[i].alg));
    char *path = path_in(KEYS_DIR, name);
    jws_read(path, j);
    free(path);
}

START_TEST(verify_every_alg)
{
    captured_log log;
    aud_keyset *set = own_key((size_t)_i, &log);
    jws j;
    own_jws((size_t)_i, &j);
    assert_verifies_only_intact(aud_keyset_key(set, 0), own_vectors[_i].alg, &j, aud_alg_name(own_vectors[_i].alg));
    /* One byte short or long is refused before any arithmetic. */
    ck_assert(!aud_key_verify(aud_keyset_key(set, 0), own_vectors[_i].alg, (const unsigned char *)j.input,
                              j.input_len, j.sig, j.sig_len - 1));
    unsigned char *longer = calloc(1, j.sig_len + 1);
    memcpy(longer, j.sig, j.sig_len);
    ck_assert(!aud_key_verify(aud_keyset_key(set, 0), own_vectors[_i].alg, (const unsigned char *)j.input,
                              j.input_len, longer, j.sig_len + 1));
    free(longer);
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(verify_hash_must_match)
{
    /* A signature made with one hash does not pass as another alg of the
     * same family. */
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_spki.pem", &log);
    jws j;
    jws_read(KEYS_DIR "/sig_RS256.jwsc", &j);
    ck_assert(!verify_jws(aud_keyset_key(set, 0), AUD_ALG_RS384, &j));
    ck_assert(!verify_jws(aud_keyset_key(set, 0), AUD_ALG_PS256, &j));
    jws_free(&j);
    aud_keyset_destroy(set);

    set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert(aud_keyset_load_secret_file(set, KEYS_DIR "/secret64.bin", NULL, &err));
    jws_read(KEYS_DIR "/sig_HS256.jwsc", &j);
    ck_assert(!verify_jws(aud_keyset_key(set, 0), AUD_ALG_HS512, &j));
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(verify_pss_salt_must_be_hash_length)
{
    captured_log log;
    aud_keyset *set = load_fixture("rsa2048_spki.pem", &log);
    jws j;
    jws_read(KEYS_DIR "/sig_PS256_maxsalt.jwsc", &j);
    ck_assert(!verify_jws(aud_keyset_key(set, 0), AUD_ALG_PS256, &j));
    ck_assert_uint_eq(ERR_peek_error(), 0);
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(verify_es256_der_refused)
{
    captured_log log;
    aud_keyset *set = load_fixture("p256_spki.pem", &log);
    const aud_key *key = aud_keyset_key(set, 0);
    jws j;
    jws_read(KEYS_DIR "/sig_ES256.jwsc", &j);
    ck_assert(verify_jws(key, AUD_ALG_ES256, &j));

    /* The same r and s, DER-encoded as OpenSSL would produce them. */
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ck_assert(ECDSA_SIG_set0(sig, BN_bin2bn(j.sig, 32, NULL), BN_bin2bn(j.sig + 32, 32, NULL)) == 1);
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    ck_assert_int_gt(der_len, 0);
    ck_assert(!aud_key_verify(key, AUD_ALG_ES256, (const unsigned char *)j.input, j.input_len, der,
                              (size_t)der_len));
    /* Padded to the raw length it is still not R || S. */
    unsigned char padded[64] = {0};
    if (der_len <= 64) {
        memcpy(padded, der, (size_t)der_len);
        ck_assert(!aud_key_verify(key, AUD_ALG_ES256, (const unsigned char *)j.input, j.input_len, padded, 64));
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(verify_ecdsa_zero_r_or_s_refused)
{
    captured_log log;
    aud_keyset *set = load_fixture("p256_spki.pem", &log);
    const aud_key *key = aud_keyset_key(set, 0);
    jws j;
    jws_read(KEYS_DIR "/sig_ES256.jwsc", &j);
    unsigned char zeros[64] = {0};
    ck_assert(!aud_key_verify(key, AUD_ALG_ES256, (const unsigned char *)j.input, j.input_len, zeros, 64));
    unsigned char half[64];
    memcpy(half, j.sig, 64);
    memset(half, 0, 32);
    ck_assert(!aud_key_verify(key, AUD_ALG_ES256, (const unsigned char *)j.input, j.input_len, half, 64));
    memcpy(half, j.sig, 64);
    memset(half + 32, 0, 32);
    ck_assert(!aud_key_verify(key, AUD_ALG_ES256, (const unsigned char *)j.input, j.input_len, half, 64));
    ck_assert_uint_eq(ERR_peek_error(), 0);
    jws_free(&j);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(verify_empty_and_null_inputs)
{
    captured_log log;
    aud_keyset *set = load_fixture("ed25519_spki.pem", &log);
    const aud_key *key = aud_keyset_key(set, 0);
    unsigned char sig[64] = {0};
    ck_assert(!aud_key_verify(key, AUD_ALG_EDDSA, NULL, 0, sig, sizeof sig));
    ck_assert(!aud_key_verify(key, AUD_ALG_EDDSA, (const unsigned char *)"x", 1, NULL, 0));
    ck_assert(!aud_key_verify(NULL, AUD_ALG_EDDSA, (const unsigned char *)"x", 1, sig, sizeof sig));
    ck_assert(!aud_key_fits_alg(NULL, AUD_ALG_EDDSA));
    aud_keyset_destroy(set);
}
END_TEST

typedef struct {
    const aud_key *key;
    aud_alg alg;
    const jws *j;
    int failures;
} thread_job;

static void *verify_many(void *arg)
{
    thread_job *job = arg;
    for (int i = 0; i < 200; i++) {
        if (!verify_jws(job->key, job->alg, job->j))
            job->failures++;
    }
    return NULL;
}

START_TEST(verify_from_many_threads)
{
    enum { N = 13, PER = 3 };
    captured_log log;
    aud_keyset *sets[N];
    jws jwss[N];
    thread_job jobs[N * PER];
    pthread_t threads[N * PER];
    for (size_t i = 0; i < N; i++) {
        sets[i] = own_key(i, &log);
        own_jws(i, &jwss[i]);
    }
    for (size_t t = 0; t < N * PER; t++) {
        jobs[t] = (thread_job){aud_keyset_key(sets[t % N], 0), own_vectors[t % N].alg, &jwss[t % N], 0};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, verify_many, &jobs[t]), 0);
    }
    for (size_t t = 0; t < N * PER; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_msg(jobs[t].failures == 0, "%s failed %d times across threads",
                      aud_alg_name(jobs[t].alg), jobs[t].failures);
    }
    for (size_t i = 0; i < N; i++) {
        jws_free(&jwss[i]);
        aud_keyset_destroy(sets[i]);
    }
}
END_TEST

/* ---------------------------------------------------------------- files */

START_TEST(missing_file_names_path)
{
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    captured_log log;
    aud_logger logger = logger_for(&log);
    ck_assert(!aud_keyset_load_file(set, "/nonexistent/dir/keys.pem", &logger, &err));
    ck_assert_str_eq(err.text, "cannot read /nonexistent/dir/keys.pem: No such file or directory");
    ck_assert(!aud_keyset_load_file(set, KEYS_DIR, &logger, &err));
    assert_has(err.text, "cannot read " KEYS_DIR ": Is a directory");
    ck_assert(!aud_keyset_load_file(set, KEYS_DIR "/secret64.bin", &logger, &err));
    ck_assert_str_eq(err.text, KEYS_DIR "/secret64.bin: not a PEM key, certificate, JWK or JWKS");
    ck_assert(!aud_keyset_load_file(set, KEYS_DIR "/generate.py", &logger, &err));
    assert_has(err.text, KEYS_DIR "/generate.py: ");
    ck_assert_uint_eq(aud_keyset_count(set), 0);
    aud_keyset_destroy(set);
}
END_TEST

START_TEST(null_logger_is_fine)
{
    aud_keyset *set = aud_keyset_create();
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_load_file(set, KEYS_DIR "/jwks.json", NULL, &err), "%s", err.text);
    ck_assert_msg(aud_keyset_load_file(set, KEYS_DIR "/rsa2048_pkcs8.pem", NULL, &err), "%s", err.text);
    ck_assert_uint_eq(aud_keyset_count(set), 5);
    aud_keyset_destroy(set);
    aud_keyset_destroy(NULL);
}
END_TEST

#define N_OF(array) ((int)(sizeof(array) / sizeof((array)[0])))

Suite *suite_keys(void)
{
    Suite *s = suite_create("keys");

    TCase *pem = tcase_create("pem");
    tcase_add_test(pem, pem_spki_rsa);
    tcase_add_loop_test(pem, pem_forms_of_one_rsa_key, 0, 5);
    tcase_add_test(pem, pem_certificate_dates_ignored);
    tcase_add_loop_test(pem, pem_private_key_keeps_public_part_with_warning, 0, 3);
    tcase_add_test(pem, pem_sec1_with_ec_parameters);
    tcase_add_loop_test(pem, pem_encrypted_private_key_refused, 0, 2);
    tcase_add_test(pem, pem_several_blocks);
    tcase_add_loop_test(pem, pem_other_curves_and_ed25519, 0, 4);
    tcase_add_loop_test(pem, pem_unsupported_keys_refused, 0, 3);
    tcase_add_test(pem, pem_bad_later_block_fails_whole_file);
    tcase_add_loop_test(pem, pem_damaged_or_foreign_blocks_refused, 0, 6);
    suite_add_tcase(s, pem);

    TCase *jwk = tcase_create("jwk");
    tcase_add_loop_test(jwk, jwk_each_type, 0, 6);
    tcase_add_loop_test(jwk, jwk_keys_verify, 0, 6);
    tcase_add_test(jwk, jwk_private_members_dropped_with_one_warning);
    tcase_add_loop_test(jwk, jwk_single_refused, 0, 16);
    tcase_add_loop_test(jwk, jwk_alg_restricts_key, 0, 2);
    tcase_add_loop_test(jwk, jwk_alg_must_fit_key, 0, 8);
    tcase_add_test(jwk, jwk_ec_point_checks);
    tcase_add_test(jwk, jwks_with_kid_use_alg);
    tcase_add_test(jwk, jwks_without_usable_key_fails);
    tcase_add_test(jwk, jwks_hostile_kid_cannot_forge_log_lines);
    tcase_add_test(jwk, failed_file_leaves_set_unchanged);
    suite_add_tcase(s, jwk);

    TCase *secret = tcase_create("secret");
    tcase_add_test(secret, secret_lengths);
    tcase_add_loop_test(secret, secret_jwk_with_own_alg_longer_hash, 0, 2);
    tcase_add_test(secret, secret_file);
    suite_add_tcase(s, secret);

    TCase *fit = tcase_create("fit");
    tcase_add_loop_test(fit, public_keys_never_fit_hmac, 0, 6);
    tcase_add_test(fit, ec_curve_must_match_alg);
    suite_add_tcase(s, fit);

    TCase *verify = tcase_create("verify");
    tcase_add_loop_test(verify, verify_rfc_vectors, 0, N_OF(rfc_vectors));
    tcase_add_loop_test(verify, verify_every_alg, 0, N_OF(own_vectors));
    tcase_add_test(verify, verify_hash_must_match);
    tcase_add_test(verify, verify_pss_salt_must_be_hash_length);
    tcase_add_test(verify, verify_es256_der_refused);
    tcase_add_test(verify, verify_ecdsa_zero_r_or_s_refused);
    tcase_add_test(verify, verify_empty_and_null_inputs);
    tcase_add_test(verify, verify_from_many_threads);
    suite_add_tcase(s, verify);

    TCase *files = tcase_create("files");
    tcase_add_test(files, missing_file_names_path);
    tcase_add_test(files, null_logger_is_fine);
    suite_add_tcase(s, files);

    return s;
}
