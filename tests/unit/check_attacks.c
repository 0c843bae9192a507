/* One regression test per known attack on JWT verifiers. Each test pairs the
 * attack with a control (the same token shape, done honestly, is accepted),
 * so that a refusal for some unrelated reason cannot pass for a defence. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rsa.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suites.h"
#include "test_support.h"

/* Claims that the default environment accepts, minus aud (and minus exp,
 * for the tests that vary it). */
#define BASE_NO_EXP "\"iss\":\"" TS_ISSUER "\",\"sub\":\"alice\",\"iat\":1699999990"
#define BASE_NO_AUD BASE_NO_EXP ",\"exp\":1700003600"
#define GOOD_CLAIMS "{\"aud\":\"" TS_AUDIENCE "\"," BASE_NO_AUD "}"
#define RS256_HEADER "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

#define expect(env, token, want, verified)                                                                 \
    do {                                                                                                   \
        aud_result *r_ = ts_env_check((env), (token));                                                     \
        ts_assert_reasons(r_, (want));                                                                     \
        ck_assert_msg(r_->signature_verified == (verified), "signature_verified is %d",                    \
                      (int)r_->signature_verified);                                                        \
        aud_result_free(r_);                                                                               \
    } while (0)

#define expect_accepted(env, token) expect((env), (token), 0, true)

/* The default environment with the victim's RSA key (no kid). */
static void rsa_env(ts_env *env)
{
    ts_env_init_default(env);
    ts_env_key_fixture(env, "test_rsa2048_public.pem");
}

static char *victim_rs256(const char *header, const char *payload)
{
    EVP_PKEY *key = ts_load_private_key("test_rsa2048_private.pem");
    char *token = ts_mint_key(key, AUD_ALG_RS256, header, payload);
    EVP_PKEY_free(key);
    return token;
}

/* Each payload, signed by the victim's key, is refused as malformed: the
 * signature holds, yet nothing in the payload is believed. */
static void expect_payloads_malformed(ts_env *env, const char *const *payloads, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *token = victim_rs256(RS256_HEADER, payloads[i]);
        aud_result *r = ts_env_check(env, token);
        char got[256];
        ck_assert_msg(r->reasons == TS_R(MALFORMED), "payload %s: %s", payloads[i],
                      ts_reasons_text(r->reasons, got, sizeof got));
        ts_assert_reasons(r, TS_R(MALFORMED));
        ck_assert(r->signature_verified);
        ck_assert_ptr_null(r->claims);
        ck_assert_ptr_null(r->matched_audience);
        aud_result_free(r);
        free(token);
    }
}

/* ---------------------------------------------------------------- alg none */

/* Attack: "alg":"none" (RFC 7519 unsecured JWT), spelled in any case, with an
 * empty or a junk signature, and even when every algorithm is allowed. */
START_TEST(alg_none_every_spelling)
{
    static const char *const spellings[] = {"none", "None", "NONE", "nOnE", "NoNe", "nONE"};
    static const char *const signatures[] = {"", "c2lnbmF0dXJl", "AAAA"};
    for (int all = 0; all < 2; all++) {
        ts_env env;
        rsa_env(&env);
        if (all)
            ts_env_algorithms(&env, AUD_ALG_SET_ALL);
        char *control = victim_rs256(RS256_HEADER, GOOD_CLAIMS);
        expect_accepted(&env, control);
        free(control);
        for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
            for (size_t j = 0; j < sizeof signatures / sizeof signatures[0]; j++) {
                char *header = ts_fmt("{\"alg\":\"%s\",\"typ\":\"JWT\"}", spellings[i]);
                char *h = ts_b64(header);
                char *p = ts_b64(GOOD_CLAIMS);
                char *token = ts_join(h, p, signatures[j], NULL);
                expect(&env, token, TS_R(ALG_NOT_ALLOWED), false);
                free(token);
                free(h);
                free(p);
                free(header);
            }
        }
        ts_env_free(&env);
    }
}
END_TEST

/* ------------------------------------------------- RSA public key as HMAC */

/* Attack: HS256 keyed with the server's RSA public key. A verifier that
 * hands "the key" to whatever alg the token names would HMAC with the PEM
 * text, which the attacker knows. Refused whether HS256 is allowed or not. */
START_TEST(hs256_keyed_with_rsa_pem)
{
    size_t pem_len = 0;
    char *pem = ts_read_fixture("test_rsa2048_public.pem", &pem_len);
    /* Attackers try the file as served and with the final newline trimmed. */
    size_t lens[] = {pem_len, pem_len - 1};
    ck_assert_int_eq(pem[pem_len - 1], '\n');
    for (int allow_hs = 0; allow_hs < 2; allow_hs++) {
        ts_env env;
        rsa_env(&env);
        if (allow_hs)
            ts_env_algorithms(&env, AUD_ALG_SET_ALL);
        char *control = victim_rs256(RS256_HEADER, GOOD_CLAIMS);
        expect_accepted(&env, control);
        free(control);
        for (size_t i = 0; i < 2; i++) {
            char *token = ts_mint_hmac(pem, lens[i], AUD_ALG_HS256, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                                       GOOD_CLAIMS);
            /* Allowed or not, no HMAC key exists: the RSA key never fits. */
            expect(&env, token, allow_hs ? TS_R(UNKNOWN_KEY) : TS_R(ALG_NOT_ALLOWED), false);
            free(token);
        }
        ts_env_free(&env);
    }
    free(pem);
}
END_TEST

/* Attack: the same with the JWK text of the RSA key as the HMAC secret, with
 * and without the key's kid, and with a genuine HMAC secret also configured
 * (so that an HMAC key does exist, only not this one). */
START_TEST(hs256_keyed_with_rsa_jwk)
{
    EVP_PKEY *rsa = ts_load_private_key("test_rsa2048_private.pem");
    char *jwk = ts_public_jwk(rsa, "rsa-1");
    static const unsigned char real_secret[32] = "0123456789abcdef0123456789abcde";
    for (int mode = 0; mode < 3; mode++) {
        ts_env env;
        ts_env_init_default(&env);
        ts_env_key_text(&env, jwk);
        if (mode >= 1)
            ts_env_algorithms(&env, AUD_ALG_SET_ALL);
        if (mode == 2)
            ts_env_secret(&env, real_secret, sizeof real_secret, "hmac-1");
        char *control = ts_mint_key(rsa, AUD_ALG_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", GOOD_CLAIMS);
        expect_accepted(&env, control);
        free(control);

        char *with_kid =
            ts_mint_hmac(jwk, strlen(jwk), AUD_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", GOOD_CLAIMS);
        char *without_kid = ts_mint_hmac(jwk, strlen(jwk), AUD_ALG_HS256, "{\"alg\":\"HS256\"}", GOOD_CLAIMS);
        if (mode == 0) {
            expect(&env, with_kid, TS_R(ALG_NOT_ALLOWED), false);
            expect(&env, without_kid, TS_R(ALG_NOT_ALLOWED), false);
        } else {
            /* kid names the RSA key, which cannot verify HS256. */
            expect(&env, with_kid, TS_R(UNKNOWN_KEY), false);
            /* Without kid only real HMAC secrets are tried. */
            expect(&env, without_kid, mode == 2 ? TS_R(BAD_SIGNATURE) : TS_R(UNKNOWN_KEY), false);
        }
        if (mode == 2) {
            char *honest = ts_mint_hmac(real_secret, sizeof real_secret, AUD_ALG_HS256,
                                        "{\"alg\":\"HS256\",\"kid\":\"hmac-1\"}", GOOD_CLAIMS);
            expect_accepted(&env, honest);
            free(honest);
        }
        free(with_kid);
        free(without_kid);
        ts_env_free(&env);
    }
    free(jwk);
    EVP_PKEY_free(rsa);
}
END_TEST

/* ---------------------------------------------------------- ECDSA forgeries */

typedef struct {
    aud_alg alg;
    const char *name;
    const char *private_key;
    const char *public_key;
    size_t sig_len;
} es_case;

static const es_case es_cases[] = {
    {AUD_ALG_ES256, "ES256", "test_ec_p256_private.pem", "test_ec_p256_public.pem", 64},
    {AUD_ALG_ES384, "ES384", "test_ec_p384_private.pem", "test_ec_p384_public.pem", 96},
    {AUD_ALG_ES512, "ES512", "test_ec_p521_private.pem", "test_ec_p521_public.pem", 132},
};

/* The verifier holding the case's public key, and the genuine raw R||S
 * signature over header.GOOD_CLAIMS for the forgeries to start from. */
typedef struct {
    ts_env env;
    char *header;
    unsigned char *sig;
    size_t sig_len;
    EVP_PKEY *key;
    char *input;
} es_fixture;

static void es_setup(es_fixture *f, const es_case *c)
{
    ts_env_init_default(&f->env);
    ts_env_key_fixture(&f->env, c->public_key);
    f->header = ts_fmt("{\"alg\":\"%s\"}", c->name);
    f->key = ts_load_private_key(c->private_key);
    char *h = ts_b64(f->header), *p = ts_b64(GOOD_CLAIMS);
    f->input = ts_join(h, p, NULL);
    free(h);
    free(p);
    ts_signer signer = {.alg = c->alg, .pkey = f->key};
    f->sig = ts_sign(&signer, f->input, strlen(f->input), &f->sig_len);
    ck_assert_uint_eq(f->sig_len, c->sig_len);
    /* The untouched signature passes: every refusal below is the forgery's. */
    char *control = ts_mint_sig(f->header, GOOD_CLAIMS, f->sig, f->sig_len);
    expect_accepted(&f->env, control);
    free(control);
}

static void es_teardown(es_fixture *f)
{
    free(f->input);
    free(f->sig);
    EVP_PKEY_free(f->key);
    free(f->header);
    ts_env_free(&f->env);
}

static void es_expect_refused(es_fixture *f, const unsigned char *sig, size_t len)
{
    char *token = ts_mint_sig(f->header, GOOD_CLAIMS, sig, len);
    expect(&f->env, token, TS_R(BAD_SIGNATURE), false);
    free(token);
}

/* Attack: ECDSA signature with r = s = 0 ("psychic signatures",
 * CVE-2022-21449): a verifier that skips the range check accepts it for any
 * message. Also r = 0 or s = 0 alone, next to a genuine other half. */
START_TEST(ecdsa_zero_signature)
{
    es_fixture f;
    es_setup(&f, &es_cases[_i]);
    unsigned char forged[132] = {0};
    es_expect_refused(&f, forged, f.sig_len);
    size_t half = f.sig_len / 2;
    for (int zeroed = 0; zeroed < 2; zeroed++) {
        memcpy(forged, f.sig, f.sig_len);
        memset(forged + zeroed * half, 0, half);
        es_expect_refused(&f, forged, f.sig_len);
    }
    es_teardown(&f);
}
END_TEST

/* Attack: a DER-encoded ECDSA signature (what OpenSSL and many libraries
 * emit) instead of JWS's raw R||S. Accepting both gives one signature two
 * encodings and lets length confusion in. Refused even though it is a
 * genuine signature by the right key. */
START_TEST(ecdsa_der_signature)
{
    es_fixture f;
    es_setup(&f, &es_cases[_i]);
    size_t der_len = 0;
    unsigned char *der = ts_sign_der(f.key, es_cases[_i].alg, f.input, strlen(f.input), &der_len);
    ck_assert_uint_ne(der_len, f.sig_len);
    ck_assert_int_eq(der[0], 0x30); /* an ASN.1 SEQUENCE, so really DER */
    es_expect_refused(&f, der, der_len);
    free(der);
    es_teardown(&f);
}
END_TEST

/* Attack: ECDSA signatures of the wrong length: truncated, extended by a
 * byte at either end, empty, doubled, one half only, and the other curves'
 * lengths. A lenient verifier that reads the halves by offset, or strips
 * zeros, could be steered by them. */
START_TEST(ecdsa_wrong_length_signature)
{
    es_fixture f;
    es_setup(&f, &es_cases[_i]);
    size_t n = f.sig_len;
    unsigned char buf[2 * 132 + 2];

    memset(buf, 0, sizeof buf);
    memcpy(buf, f.sig, n);
    es_expect_refused(&f, buf, n - 1);     /* truncated */
    es_expect_refused(&f, buf, n - 2);     /* two bytes short */
    es_expect_refused(&f, buf, n + 1);     /* a zero byte appended */
    es_expect_refused(&f, buf, n / 2);     /* r alone */
    es_expect_refused(&f, buf, 0);         /* empty */
    memcpy(buf + n, f.sig, n);
    es_expect_refused(&f, buf, 2 * n);     /* the signature twice */
    memset(buf, 0, sizeof buf);
    memcpy(buf + 1, f.sig, n);
    es_expect_refused(&f, buf, n + 1);     /* a zero byte prepended */

    for (size_t o = 0; o < sizeof es_cases / sizeof es_cases[0]; o++) {
        if (es_cases[o].sig_len == n)
            continue;
        memset(buf, 0, sizeof buf);
        memcpy(buf, f.sig, n < es_cases[o].sig_len ? n : es_cases[o].sig_len);
        es_expect_refused(&f, buf, es_cases[o].sig_len);
    }
    es_teardown(&f);
}
END_TEST

/* --------------------------------------------------- keys named by the token */

/* Attack: an embedded "jwk" header carrying the attacker's own public key
 * (CVE-2018-0114 style): the token verifies against the key it brings. */
START_TEST(embedded_jwk_header)
{
    EVP_PKEY *attacker = ts_load_private_key("test_ec_p256_other_private.pem");
    char *attacker_jwk = ts_public_jwk(attacker, "attacker");
    char *no_kid = ts_fmt("{\"alg\":\"ES256\",\"jwk\":%s}", attacker_jwk);
    char *with_kid = ts_fmt("{\"alg\":\"ES256\",\"kid\":\"attacker\",\"jwk\":%s}", attacker_jwk);
    char *t_no_kid = ts_mint_key(attacker, AUD_ALG_ES256, no_kid, GOOD_CLAIMS);
    char *t_with_kid = ts_mint_key(attacker, AUD_ALG_ES256, with_kid, GOOD_CLAIMS);

    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    expect(&env, t_no_kid, TS_R(BAD_SIGNATURE), false);
    expect(&env, t_with_kid, TS_R(UNKNOWN_KEY), false);
    ts_env_free(&env);

    /* Control: the very same tokens pass where the attacker's key is
     * configured, so the refusal above is about trust, not the token. */
    ts_env_init_default(&env);
    ts_env_key_text(&env, attacker_jwk);
    expect_accepted(&env, t_no_kid);
    expect_accepted(&env, t_with_kid);
    ts_env_free(&env);

    free(t_no_kid);
    free(t_with_kid);
    free(no_kid);
    free(with_kid);
    free(attacker_jwk);
    EVP_PKEY_free(attacker);
}
END_TEST

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Attack: "jku" / "x5u" headers pointing at a key set the attacker serves,
 * and "x5c" carrying the attacker's certificate. The URLs point at a socket
 * this test listens on: nothing may connect to it, and the attacker's
 * signature must fail against the configured key. */
START_TEST(jku_x5u_x5c_not_followed)
{
    int port = 0;
    int fd = listen_local(&port);
    EVP_PKEY *attacker = ts_load_private_key("test_rsa2048_other_private.pem");

    size_t cert_len = 0;
    char *cert_pem = ts_read_fixture("test_ec_p256_other_cert.pem", &cert_len);
    /* x5c holds standard base64 DER: the PEM body with its lines joined. */
    char *b64 = malloc(cert_len + 1);
    ck_assert_ptr_nonnull(b64);
    size_t b = 0;
    for (const char *line = strchr(cert_pem, '\n') + 1; *line != '\0' && strncmp(line, "-----END", 8) != 0;
         line++)
        if (*line != '\n' && *line != '\r')
            b64[b++] = *line;
    b64[b] = '\0';
    ck_assert_uint_gt(b, 100);

    char *headers[] = {
        ts_fmt("{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:%d/jwks.json\"}", port),
        ts_fmt("{\"alg\":\"RS256\",\"x5u\":\"http://127.0.0.1:%d/cert.pem\"}", port),
        ts_fmt("{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:%d/jwks.json\",\"x5u\":\"http://127.0.0.1:%d/c\"}",
               port, port),
        ts_fmt("{\"alg\":\"RS256\",\"x5c\":[\"%s\"]}", b64),
    };
    ts_env env;
    rsa_env(&env);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = ts_mint_key(attacker, AUD_ALG_RS256, headers[i], GOOD_CLAIMS);
        expect(&env, token, TS_R(BAD_SIGNATURE), false);
        free(token);
        /* The same header, honestly signed, is fine: the members are
         * ignored, not a reason to refuse. */
        char *honest = victim_rs256(headers[i], GOOD_CLAIMS);
        expect_accepted(&env, honest);
        free(honest);
        free(headers[i]);
    }
    /* A fetch, even an asynchronous one, would have connected by now. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ck_assert_msg(poll(&pfd, 1, 200) == 0, "something connected to the jku/x5u address");
    close(fd);
    ts_env_free(&env);
    free(b64);
    free(cert_pem);
    EVP_PKEY_free(attacker);
}
END_TEST

/* ------------------------------------------------------------ crit and b64 */

/* Attack: a critical extension the verifier does not implement (RFC 7515
 * section 4.1.11 says such a token must be refused): a verifier that ignores
 * crit lets the issuer's restriction be silently dropped. */
START_TEST(unknown_crit)
{
    ts_env env;
    rsa_env(&env);
    static const char *const headers[] = {
        "{\"alg\":\"RS256\",\"crit\":[\"exp-custom\"],\"exp-custom\":true}",
        "{\"alg\":\"RS256\",\"crit\":[\"http://example.com/x\"],\"http://example.com/x\":1}",
        "{\"alg\":\"RS256\",\"crit\":[]}",
        "{\"alg\":\"RS256\",\"crit\":\"exp-custom\"}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = victim_rs256(headers[i], GOOD_CLAIMS);
        expect(&env, token, TS_R(MALFORMED), false);
        free(token);
    }
    /* Control: an unknown header member that is not critical is harmless. */
    char *token = victim_rs256("{\"alg\":\"RS256\",\"exp-custom\":true}", GOOD_CLAIMS);
    expect_accepted(&env, token);
    free(token);
    ts_env_free(&env);
}
END_TEST

/* Attack: "b64":false (RFC 7797) changes what the signature covers; a
 * verifier that does not implement it must not treat such a token as an
 * ordinary one. Refused with and without crit, even though the signature is
 * valid under the ordinary reading. */
START_TEST(b64_false)
{
    ts_env env;
    rsa_env(&env);
    static const char *const headers[] = {
        "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}",
        "{\"alg\":\"RS256\",\"b64\":false}",
        "{\"alg\":\"RS256\",\"b64\":true,\"crit\":[\"b64\"]}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = victim_rs256(headers[i], GOOD_CLAIMS);
        expect(&env, token, TS_R(MALFORMED), false);
        free(token);
    }
    /* And in RFC 7797's own form, the payload unencoded in the token. */
    EVP_PKEY *key = ts_load_private_key("test_rsa2048_private.pem");
    char *h = ts_b64("{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}");
    const char *raw_payload = "$-02";
    char *input = ts_join(h, raw_payload, NULL);
    ts_signer signer = {.alg = AUD_ALG_RS256, .pkey = key};
    size_t sig_len = 0;
    unsigned char *sig = ts_sign(&signer, input, strlen(input), &sig_len);
    char *s = ts_b64n(sig, sig_len);
    char *token = ts_join(input, s, NULL);
    aud_result *r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(MALFORMED));
    ck_assert(!r->signature_verified);
    aud_result_free(r);
    free(token);
    free(s);
    free(sig);
    free(input);
    free(h);
    EVP_PKEY_free(key);
    ts_env_free(&env);
}
END_TEST

/* ------------------------------------------------------------ weak keys */

/* Attack: a 1024-bit RSA key (factorable with enough money) configured by
 * mistake: refused when loaded, as a PEM file, as a JWK, and skipped with a
 * warning inside a JWKS that also has a good key. */
START_TEST(rsa_1024_refused)
{
    aud_keyset *set = aud_keyset_create();
    aud_error err;
    memset(&err, 0, sizeof err);
    ts_log log;
    ts_log_init(&log);
    aud_logger logger = ts_log_logger(&log);

    char *path = ts_fixture_path("test_rsa1024_weak_public.pem");
    ck_assert(!aud_keyset_load_file(set, path, &logger, &err));
    ck_assert_msg(strstr(err.text, "test_rsa1024_weak_public.pem") != NULL, "error does not name the file: %s",
                  err.text);
    ck_assert_uint_eq(aud_keyset_count(set), 0);
    free(path);

    EVP_PKEY *weak = ts_load_public_key("test_rsa1024_weak_public.pem");
    ck_assert_int_eq(EVP_PKEY_get_bits(weak), 1024);
    char *weak_jwk = ts_public_jwk(weak, "weak");
    memset(&err, 0, sizeof err);
    ck_assert(!aud_keyset_load_buffer(set, weak_jwk, strlen(weak_jwk), "weak.jwk", &logger, &err));
    ck_assert_str_ne(err.text, "");
    ck_assert_uint_eq(aud_keyset_count(set), 0);

    EVP_PKEY *good = ts_load_public_key("test_rsa2048_public.pem");
    char *good_jwk = ts_public_jwk(good, "good");
    const char *both[] = {weak_jwk, good_jwk};
    char *jwks = ts_jwks(both, 2);
    ck_assert(aud_keyset_load_buffer(set, jwks, strlen(jwks), "jwks.json", &logger, &err));
    ck_assert_uint_eq(aud_keyset_count(set), 1);
    ck_assert_str_eq(aud_key_kid(aud_keyset_key(set, 0)), "good");
    ck_assert_uint_ge(ts_log_count_level(&log, AUD_LOG_WARNING), 1);

    free(jwks);
    free(good_jwk);
    free(weak_jwk);
    EVP_PKEY_free(good);
    EVP_PKEY_free(weak);
    ts_log_free(&log);
    aud_keyset_destroy(set);
}
END_TEST

/* Attack: a short HMAC secret, brute-forceable offline from any one token.
 * Refused below 32 bytes; a 32-byte secret serves HS256 but not HS384, whose
 * hash is longer than it. */
START_TEST(short_hmac_secret)
{
    static const unsigned char secret[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
    aud_keyset *set = aud_keyset_create();
    static const size_t too_short[] = {0, 1, 16, 31};
    for (size_t i = 0; i < sizeof too_short / sizeof too_short[0]; i++) {
        aud_error err;
        memset(&err, 0, sizeof err);
        ck_assert_msg(!aud_keyset_add_secret(set, secret, too_short[i], NULL, &err), "%zu-byte secret accepted",
                      too_short[i]);
        ck_assert_str_ne(err.text, "");
    }
    ck_assert_uint_eq(aud_keyset_count(set), 0);
    aud_keyset_destroy(set);

    /* The same rule for an oct JWK of 16 bytes. */
    set = aud_keyset_create();
    aud_error err;
    memset(&err, 0, sizeof err);
    ts_log log;
    ts_log_init(&log);
    aud_logger logger = ts_log_logger(&log);
    char *k16 = ts_b64n(secret, 16);
    char *jwk = ts_fmt("{\"kty\":\"oct\",\"k\":\"%s\"}", k16);
    ck_assert(!aud_keyset_load_buffer(set, jwk, strlen(jwk), "short.jwk", &logger, &err));
    ck_assert_str_ne(err.text, "");
    ts_log_free(&log);
    ck_assert_uint_eq(aud_keyset_count(set), 0);
    free(jwk);
    free(k16);
    aud_keyset_destroy(set);

    ts_env env;
    ts_env_init_default(&env);
    ts_env_algorithms(&env, AUD_ALG_SET_HMAC);
    ts_env_secret(&env, secret, 32, NULL);
    char *hs256 = ts_mint_hmac(secret, 32, AUD_ALG_HS256, "{\"alg\":\"HS256\"}", GOOD_CLAIMS);
    expect_accepted(&env, hs256);
    char *hs384 = ts_mint_hmac(secret, 32, AUD_ALG_HS384, "{\"alg\":\"HS384\"}", GOOD_CLAIMS);
    expect(&env, hs384, TS_R(UNKNOWN_KEY), false);
    free(hs256);
    free(hs384);
    ts_env_free(&env);
}
END_TEST

/* ---------------------------------------------------- parser differentials */

/* Attack: duplicate member names. Parsers disagree on which one wins, so a
 * proxy may see "alg":"RS256" or "aud":"api://x" while the backend sees the
 * other. Refused in header and payload alike. */
START_TEST(duplicate_member_names)
{
    ts_env env;
    rsa_env(&env);
    static const char *const headers[] = {
        "{\"alg\":\"RS256\",\"alg\":\"none\"}",
        "{\"alg\":\"none\",\"alg\":\"RS256\"}",
        "{\"alg\":\"RS256\",\"alg\":\"RS256\"}",
        "{\"alg\":\"RS256\",\"kid\":\"a\",\"kid\":\"b\"}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *token = victim_rs256(headers[i], GOOD_CLAIMS);
        aud_result *r = ts_env_check(&env, token);
        ts_assert_reasons(r, TS_R(MALFORMED));
        ck_assert(!r->signature_verified);
        ck_assert_ptr_null(r->header);
        aud_result_free(r);
        free(token);
    }
    static const char *const payloads[] = {
        "{\"aud\":\"api://evil\"," BASE_NO_AUD ",\"aud\":\"" TS_AUDIENCE "\"}",
        "{\"aud\":\"" TS_AUDIENCE "\"," BASE_NO_AUD ",\"aud\":\"api://evil\"}",
        "{\"aud\":\"" TS_AUDIENCE "\"," BASE_NO_AUD ",\"exp\":9999999999}",
        "{\"aud\":\"" TS_AUDIENCE "\"," BASE_NO_AUD ",\"sub\":\"alice\"}",
    };
    expect_payloads_malformed(&env, payloads, sizeof payloads / sizeof payloads[0]);
    ts_env_free(&env);
}
END_TEST

/* Attack: \u0000 inside aud or iss. "api://x\u0000.evil.example" compares
 * equal to "api://x" in C string code downstream. */
START_TEST(nul_in_aud_and_iss)
{
    ts_env env;
    rsa_env(&env);
    static const char *const payloads[] = {
        "{\"aud\":\"api://x\\u0000.evil.example\"," BASE_NO_AUD "}",
        "{\"aud\":[\"api://x\\u0000\"]," BASE_NO_AUD "}",
        "{\"aud\":\"" TS_AUDIENCE "\",\"iss\":\"" TS_ISSUER "\\u0000.evil\",\"sub\":\"alice\",\"iat\":1699999990,"
        "\"exp\":1700003600}",
    };
    expect_payloads_malformed(&env, payloads, sizeof payloads / sizeof payloads[0]);
    ts_env_free(&env);
}
END_TEST

/* -------------------------------------------------------- token structure */

/* Attack: tokens with other than three segments: two (signature stripped),
 * four and five (JWE-shaped, or a segment smuggled in). */
START_TEST(wrong_segment_counts)
{
    ts_env env;
    rsa_env(&env);
    char *good = victim_rs256(RS256_HEADER, GOOD_CLAIMS);
    expect_accepted(&env, good);
    char *last_dot = strrchr(good, '.');
    char *two = strndup(good, (size_t)(last_dot - good));
    char *four = ts_join(good, "AAAA", NULL);
    char *four_empty = ts_join(good, "", NULL);
    char *five = ts_join(good, "AAAA", "AAAA", NULL);
    char *jwe_header = ts_b64("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}");
    char *jwe = ts_join(jwe_header, "AAAA", "AAAAAAAAAAAAAAAA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA", NULL);
    const char *const bad[] = {two, four, four_empty, five, jwe, "AAAA", "..", "...", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aud_result *r = ts_env_check(&env, bad[i]);
        ts_assert_reasons(r, TS_R(MALFORMED));
        ck_assert(!r->signature_verified);
        aud_result_free(r);
    }
    free(jwe);
    free(jwe_header);
    free(five);
    free(four_empty);
    free(four);
    free(two);
    free(good);
    ts_env_free(&env);
}
END_TEST

/* base64url of text, with '=' appended to a multiple of 4; the segment must
 * actually need padding, or the test would prove nothing. */
static char *padded_b64(const char *text)
{
    char *b = ts_b64(text);
    size_t len = strlen(b);
    ck_assert_msg(len % 4 != 0, "'%s' needs no padding", text);
    char *out = malloc(len + 4);
    ck_assert_ptr_nonnull(out);
    memcpy(out, b, len);
    while (len % 4 != 0)
        out[len++] = '=';
    out[len] = '\0';
    free(b);
    return out;
}

/* The standard-alphabet spelling of a base64url segment. */
static char *standard_alphabet(const char *seg)
{
    char *out = strdup(seg);
    ck_assert_ptr_nonnull(out);
    size_t changed = 0;
    for (char *c = out; *c != '\0'; c++) {
        if (*c == '-') {
            *c = '+';
            changed++;
        } else if (*c == '_') {
            *c = '/';
            changed++;
        }
    }
    ck_assert_msg(changed > 0, "segment '%s' has no '-' or '_' to respell", seg);
    return out;
}

/* Attack: padded base64 and standard-alphabet base64 ('+', '/'). Lenient
 * decoders accept several spellings of one token, which defeats replay
 * caches and revocation lists keyed on the token text. The signature is
 * valid over the exact text presented, so only the encoding is at fault. */
START_TEST(non_canonical_base64)
{
    ts_env env;
    rsa_env(&env);
    EVP_PKEY *key = ts_load_private_key("test_rsa2048_private.pem");
    ts_signer signer = {.alg = AUD_ALG_RS256, .pkey = key};
    /* Lengths that are not multiples of 3, so padding is due (padded_b64
     * checks); the runs of '?' and '~' make '_' and '-' appear whatever the
     * alignment. */
    const char *header = "{\"alg\":\"RS256\",\"x\":\"??????~~~~~~\"}";
    const char *payload = "{\"aud\":\"" TS_AUDIENCE "\"," BASE_NO_AUD ",\"x\":\"??????~~~~~~\"}";
    char *h = ts_b64(header), *p = ts_b64(payload);

    char *control = ts_mint_segments(&signer, h, p);
    expect_accepted(&env, control);

    char *hp = padded_b64(header), *pp = padded_b64(payload);
    char *hs = standard_alphabet(h), *ps = standard_alphabet(p);

    /* Header respelled: nothing can be verified, the claims still are read. */
    char *t = ts_mint_segments(&signer, hp, p);
    expect(&env, t, TS_R(MALFORMED), false);
    free(t);
    t = ts_mint_segments(&signer, hs, p);
    expect(&env, t, TS_R(MALFORMED), false);
    free(t);
    /* Payload respelled: the signature over the exact text is good, the
     * payload is not believed. */
    t = ts_mint_segments(&signer, h, pp);
    expect(&env, t, TS_R(MALFORMED), true);
    free(t);
    t = ts_mint_segments(&signer, h, ps);
    expect(&env, t, TS_R(MALFORMED), true);
    free(t);

    /* Signature respelled. */
    const char *sig = strrchr(control, '.') + 1;
    ck_assert_uint_ne(strlen(sig) % 4, 0);
    char *sig_padded = ts_fmt("%s%.*s", sig, (int)(4 - strlen(sig) % 4), "===");
    char *sig_std = standard_alphabet(sig);
    char *input = ts_join(h, p, NULL);
    t = ts_join(input, sig_padded, NULL);
    expect(&env, t, TS_R(MALFORMED), false);
    free(t);
    t = ts_join(input, sig_std, NULL);
    expect(&env, t, TS_R(MALFORMED), false);
    free(t);

    free(input);
    free(sig_std);
    free(sig_padded);
    free(hs);
    free(ps);
    free(hp);
    free(pp);
    free(control);
    free(h);
    free(p);
    EVP_PKEY_free(key);
    ts_env_free(&env);
}
END_TEST

/* ------------------------------------------------------------ claim types */

/* Attack: exp that is not a usable number. As a string, libraries that
 * compare loosely may treat it as 0 or as "no expiry"; 1e400 overflows to
 * infinity; missing means "never expires" in libraries that make it
 * optional. */
START_TEST(exp_not_a_number)
{
    ts_env env;
    rsa_env(&env);
    static const struct {
        const char *exp_member;
        uint32_t reasons;
        bool verified;
    } cases[] = {
        {",\"exp\":\"1700003600\"", TS_R(CLAIM_INVALID), true},
        {",\"exp\":1e400", TS_R(MALFORMED), true},
        {",\"exp\":-1e400", TS_R(MALFORMED), true},
        {",\"exp\":99999999999999999999999", TS_R(MALFORMED), true},
        {"", TS_R(CLAIM_INVALID), true},
        {",\"exp\":null", TS_R(CLAIM_INVALID), true},
        {",\"exp\":true", TS_R(CLAIM_INVALID), true},
        {",\"exp\":[1700003600]", TS_R(CLAIM_INVALID), true},
        {",\"exp\":{\"v\":1700003600}", TS_R(CLAIM_INVALID), true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *payload = ts_fmt("{\"aud\":\"%s\",%s%s}", TS_AUDIENCE, BASE_NO_EXP, cases[i].exp_member);
        char *token = victim_rs256(RS256_HEADER, payload);
        expect(&env, token, cases[i].reasons, cases[i].verified);
        free(token);
        free(payload);
    }
    char *payload = ts_fmt("{\"aud\":\"%s\",%s,\"exp\":1700003600}", TS_AUDIENCE, BASE_NO_EXP);
    char *token = victim_rs256(RS256_HEADER, payload);
    expect_accepted(&env, token);
    free(token);
    free(payload);
    ts_env_free(&env);
}
END_TEST

/* Attack: aud of a type the checker does not expect. A number or object can
 * slip past code that only handles strings and arrays ("no string aud, so no
 * restriction"); an empty array or one holding a number likewise. */
START_TEST(aud_wrong_type)
{
    ts_env env;
    rsa_env(&env);
    static const char *const auds[] = {
        "42",    "{\"api://x\":true}", "null", "[]", "[1]", "[\"" TS_AUDIENCE "\",1]", "[null]",
        "true",  "[[\"" TS_AUDIENCE "\"]]", "[{\"aud\":\"" TS_AUDIENCE "\"}]",
    };
    for (size_t i = 0; i < sizeof auds / sizeof auds[0]; i++) {
        char *payload = ts_fmt("{\"aud\":%s,%s}", auds[i], BASE_NO_AUD);
        char *token = victim_rs256(RS256_HEADER, payload);
        aud_result *r = ts_env_check(&env, token);
        ts_assert_reasons(r, TS_R(MALFORMED));
        ck_assert(r->signature_verified);
        ck_assert_ptr_nonnull(r->claims);
        ck_assert_ptr_null(r->matched_audience);
        aud_result_free(r);
        free(token);
        free(payload);
    }
    ts_env_free(&env);
}
END_TEST

/* Attack: a payload that is not a claims set at all: a JSON array (holding
 * a valid claims object, for code that takes the first element), a JSON
 * string, plain text, or nothing. */
START_TEST(payload_not_an_object)
{
    ts_env env;
    rsa_env(&env);
    static const char *const payloads[] = {
        "[" GOOD_CLAIMS "]",
        "[]",
        "\"" TS_AUDIENCE "\"",
        "Payload",
        "aud=api://x",
        "",
        "42",
        "null",
    };
    expect_payloads_malformed(&env, payloads, sizeof payloads / sizeof payloads[0]);
    ts_env_free(&env);
}
END_TEST

static char *brackets(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

/* Attack: 10,000-deep nesting ([[[[...]]]]) in a claim and in the header,
 * which exhausts the stack of a recursive parser. The size limit is raised
 * so that it is the depth, not the length, that gets the token refused. */
START_TEST(deep_nesting)
{
    ts_env env;
    rsa_env(&env);
    ts_env_max_size(&env, 1u << 20);
    /* 19 brackets inside the claims object: 20 levels, the most allowed. */
    char *ok = brackets(19);
    char *payload = ts_fmt("{\"aud\":\"%s\",%s,\"x\":%s}", TS_AUDIENCE, BASE_NO_AUD, ok);
    char *token = victim_rs256(RS256_HEADER, payload);
    expect_accepted(&env, token);
    free(token);
    free(payload);
    free(ok);

    char *deep = brackets(10000);
    payload = ts_fmt("{\"aud\":\"%s\",%s,\"x\":%s}", TS_AUDIENCE, BASE_NO_AUD, deep);
    token = victim_rs256(RS256_HEADER, payload);
    ck_assert_uint_gt(strlen(token), AUD_DEFAULT_MAX_TOKEN_SIZE);
    expect(&env, token, TS_R(MALFORMED), true);
    free(token);
    free(payload);

    char *header = ts_fmt("{\"alg\":\"RS256\",\"x\":%s}", deep);
    token = victim_rs256(header, GOOD_CLAIMS);
    expect(&env, token, TS_R(MALFORMED), false);
    free(token);
    free(header);
    free(deep);
    ts_env_free(&env);
}
END_TEST

/* base64url length of n bytes, unpadded. */
static size_t b64_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* An RS256 token of exactly target bytes: a filler claim sets the bulk, and
 * spaces in the header reach the lengths that the payload's 4-per-3 steps
 * skip. */
static char *token_of_length(size_t target)
{
    for (size_t spaces = 0; spaces < 3; spaces++) {
        char *header = ts_fmt("{%*s\"alg\":\"RS256\"}", (int)spaces, "");
        size_t fixed = b64_len(strlen(header)) + 1 + 1 + b64_len(256);
        char *empty = ts_fmt("{\"aud\":\"%s\",%s,\"pad\":\"\"}", TS_AUDIENCE, BASE_NO_AUD);
        size_t base = strlen(empty);
        free(empty);
        for (size_t fill = 0; fill < target; fill++) {
            size_t total = fixed + b64_len(base + fill);
            if (total > target)
                break;
            if (total != target)
                continue;
            char *pad = malloc(fill + 1);
            ck_assert_ptr_nonnull(pad);
            memset(pad, 'a', fill);
            pad[fill] = '\0';
            char *payload = ts_fmt("{\"aud\":\"%s\",%s,\"pad\":\"%s\"}", TS_AUDIENCE, BASE_NO_AUD, pad);
            char *token = victim_rs256(header, payload);
            ck_assert_uint_eq(strlen(token), target);
            free(payload);
            free(pad);
            free(header);
            return token;
        }
        free(header);
    }
    ck_abort_msg("no token of length %zu", target);
    return NULL;
}

/* Attack: an oversized token, to make every request cost parsing and
 * hashing megabytes. The default limit is 16 KiB, exactly; a configured
 * limit applies exactly too. */
START_TEST(oversized_token)
{
    ts_env env;
    rsa_env(&env);
    ck_assert_uint_eq(env.config.max_token_size, 16384);
    char *at_limit = token_of_length(16384);
    expect_accepted(&env, at_limit);
    char *over = token_of_length(16385);
    expect(&env, over, TS_R(MALFORMED), false);

    /* A megabyte of junk is refused for its size before anything else. */
    size_t big = 1u << 20;
    char *junk = malloc(big + 1);
    ck_assert_ptr_nonnull(junk);
    memset(junk, 'A', big);
    junk[big] = '\0';
    expect(&env, junk, TS_R(MALFORMED), false);
    free(junk);

    /* A custom limit: exactly the size of an ordinary token. */
    char *normal = victim_rs256(RS256_HEADER, GOOD_CLAIMS);
    size_t len = strlen(normal);
    ts_env_max_size(&env, len);
    expect_accepted(&env, normal);
    ts_env_max_size(&env, len - 1);
    expect(&env, normal, TS_R(MALFORMED), false);
    free(normal);

    free(over);
    free(at_limit);
    ts_env_free(&env);
}
END_TEST

/* ------------------------------------------------------------------- kid */

/* Attack: a token whose kid is unknown, signed by a key the verifier does
 * hold under another kid. Falling back to "try every key" would accept it
 * and defeat key separation (e.g. a key meant for another tenant). */
START_TEST(unknown_kid_no_fallback)
{
    EVP_PKEY *k1 = ts_load_private_key("test_rsa2048_private.pem");
    EVP_PKEY *k2 = ts_load_private_key("test_rsa2048_other_private.pem");
    char *j1 = ts_public_jwk(k1, "k1");
    char *j2 = ts_public_jwk(k2, "k2");
    const char *both[] = {j1, j2};
    char *jwks = ts_jwks(both, 2);
    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_text(&env, jwks);
    ck_assert_uint_eq(aud_keyset_count(env.keys), 2);

    /* Every token is signed by k2. */
    const struct {
        const char *header;
        uint32_t want;
    } cases[] = {
        /* Controls: without kid, and with its own kid, k2's token verifies. */
        {"{\"alg\":\"RS256\"}", 0},
        {"{\"alg\":\"RS256\",\"kid\":\"k2\"}", 0},
        {"{\"alg\":\"RS256\",\"kid\":\"k3\"}", TS_R(UNKNOWN_KEY)},
        {"{\"alg\":\"RS256\",\"kid\":\"\"}", TS_R(UNKNOWN_KEY)},
        {"{\"alg\":\"RS256\",\"kid\":\"K2\"}", TS_R(UNKNOWN_KEY)},
        /* kid names the other key: that key alone is tried. */
        {"{\"alg\":\"RS256\",\"kid\":\"k1\"}", TS_R(BAD_SIGNATURE)},
        /* kid of the wrong type is not "no kid". */
        {"{\"alg\":\"RS256\",\"kid\":2}", TS_R(MALFORMED)},
        {"{\"alg\":\"RS256\",\"kid\":null}", TS_R(MALFORMED)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = ts_mint_key(k2, AUD_ALG_RS256, cases[i].header, GOOD_CLAIMS);
        expect(&env, t, cases[i].want, cases[i].want == 0);
        free(t);
    }

    ts_env_free(&env);
    free(jwks);
    free(j1);
    free(j2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}
END_TEST

/* Attack: kid as a path or a query ("../../dev/null", SQL) for verifiers
 * that look keys up in files or databases by kid; here kid is only ever
 * compared with configured kids. */
START_TEST(kid_injection)
{
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
    ts_env env;
    ts_env_init_default(&env);
    ts_env_algorithms(&env, AUD_ALG_SET_HMAC);
    ts_env_secret(&env, secret, sizeof secret, "hmac-1");
    static const char *const kids[] = {"../../../../../../dev/null", "/dev/null", "' OR '1'='1", "hmac-1/../x"};
    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
        char *header = ts_fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kids[i]);
        /* /dev/null reads as the empty key. */
        char *t = ts_mint_hmac("", 0, AUD_ALG_HS256, header, GOOD_CLAIMS);
        expect(&env, t, TS_R(UNKNOWN_KEY), false);
        free(t);
        free(header);
    }
    ts_env_free(&env);
}
END_TEST

/* Attack: algorithm substitution between families that share a key type:
 * an RS256 signature presented as PS256 (and back), an ES256 header over an
 * RSA signature, EdDSA against an EC key. */
START_TEST(algorithm_substitution)
{
    ts_env env;
    rsa_env(&env);
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    EVP_PKEY *rsa = ts_load_private_key("test_rsa2048_private.pem");
    EVP_PKEY *ec = ts_load_private_key("test_ec_p256_private.pem");
    /* ts_mint signs with the signer's algorithm, whatever the header says. */
    const struct {
        const char *header;
        ts_signer signer;
        uint32_t want;
    } cases[] = {
        {"{\"alg\":\"PS256\"}", {.alg = AUD_ALG_RS256, .pkey = rsa}, TS_R(BAD_SIGNATURE)},
        {"{\"alg\":\"RS256\"}", {.alg = AUD_ALG_PS256, .pkey = rsa}, TS_R(BAD_SIGNATURE)},
        {"{\"alg\":\"ES256\"}", {.alg = AUD_ALG_RS256, .pkey = rsa}, TS_R(BAD_SIGNATURE)},
        {"{\"alg\":\"RS256\"}", {.alg = AUD_ALG_ES256, .pkey = ec}, TS_R(BAD_SIGNATURE)},
        /* No Ed25519 key is configured, so EdDSA finds no key at all. */
        {"{\"alg\":\"EdDSA\"}", {.alg = AUD_ALG_ES256, .pkey = ec}, TS_R(UNKNOWN_KEY)},
        /* Controls: the honest pairings pass. */
        {"{\"alg\":\"PS256\"}", {.alg = AUD_ALG_PS256, .pkey = rsa}, 0},
        {"{\"alg\":\"RS256\"}", {.alg = AUD_ALG_RS256, .pkey = rsa}, 0},
        {"{\"alg\":\"ES256\"}", {.alg = AUD_ALG_ES256, .pkey = ec}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = ts_mint(&cases[i].signer, cases[i].header, GOOD_CLAIMS);
        expect(&env, t, cases[i].want, cases[i].want == 0);
        free(t);
    }
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    ts_env_free(&env);
}
END_TEST

/* Attack: RSA-PSS with a salt length other than the hash length. RFC 7518
 * section 3.5 fixes it; a verifier that auto-detects the salt accepts
 * signatures that no conforming signer makes, and two spellings of one
 * signed message. */
START_TEST(pss_salt_length)
{
    ts_env env;
    rsa_env(&env);
    EVP_PKEY *rsa = ts_load_private_key("test_rsa2048_private.pem");
    static const aud_alg algs[] = {AUD_ALG_PS256, AUD_ALG_PS384, AUD_ALG_PS512};
    for (size_t i = 0; i < 3; i++) {
        char *header = ts_fmt("{\"alg\":\"%s\"}", aud_alg_name(algs[i]));
        ts_signer signer = {.alg = algs[i], .pkey = rsa};
        char *t = ts_mint(&signer, header, GOOD_CLAIMS);
        expect_accepted(&env, t);
        free(t);
        /* The longest salt the key allows, a one-byte salt, and SHA-1's
         * length (a common leftover default). */
        const int salts[] = {RSA_PSS_SALTLEN_MAX, 1, 20};
        for (size_t j = 0; j < 3; j++) {
            signer.pss_saltlen = salts[j];
            t = ts_mint(&signer, header, GOOD_CLAIMS);
            expect(&env, t, TS_R(BAD_SIGNATURE), false);
            free(t);
        }
        free(header);
    }
    EVP_PKEY_free(rsa);
    ts_env_free(&env);
}
END_TEST

/* Token malleability and hostile bytes in general: thousands of random
 * mutations of accepted tokens (bit flips, inserted, deleted and
 * duplicated bytes, truncation, segment swaps) must never crash, must
 * always give a result whose details match its reasons, and must never be
 * accepted unless the mutation happened to give back the original token
 * byte for byte: an acceptance of anything else would be a forgery. */
static uint64_t prng_state;

static uint32_t prng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    prng_state ^= prng_state >> 12;
    prng_state ^= prng_state << 25;
    prng_state ^= prng_state >> 27;
    return (uint32_t)((prng_state * UINT64_C(2685821657736338717)) >> 32);
}

static size_t mutate(const char *in, size_t len, char *out, size_t cap)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"\0\x80\xff";
    memcpy(out, in, len);
    size_t n = len;
    for (unsigned k = 1 + prng() % 3; k > 0 && n > 0; k--) {
        size_t at = prng() % n;
        switch (prng() % 6) {
        case 0: /* flip a bit */
            out[at] ^= (char)(1u << (prng() % 8));
            break;
        case 1: /* replace with an interesting byte */
            out[at] = alphabet[prng() % (sizeof alphabet - 1)];
            break;
        case 2: /* insert */
            if (n < cap) {
                memmove(out + at + 1, out + at, n - at);
                out[at] = alphabet[prng() % (sizeof alphabet - 1)];
                n++;
            }
            break;
        case 3: /* delete */
            memmove(out + at, out + at + 1, n - at - 1);
            n--;
            break;
        case 4: /* truncate */
            n = at;
            break;
        default: { /* duplicate a run */
            size_t run = 1 + prng() % 16;
            if (at + run <= n && n + run <= cap) {
                memmove(out + at + run, out + at, n - at);
                n += run;
            }
            break;
        }
        }
    }
    return n;
}

START_TEST(random_mutations_never_crash_or_forge)
{
    EVP_PKEY *rsa = ts_load_private_key("test_rsa2048_private.pem");
    EVP_PKEY *ec = ts_load_private_key("test_ec_p256_private.pem");
    static const unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    ts_env env;
    ts_env_init_default(&env);
    ts_env_key_fixture(&env, "test_rsa2048_public.pem");
    ts_env_key_fixture(&env, "test_ec_p256_public.pem");
    ts_env_secret(&env, secret, sizeof secret, NULL);
    ts_env_algorithms(&env, AUD_ALG_BIT(AUD_ALG_RS256) | AUD_ALG_BIT(AUD_ALG_ES256) | AUD_ALG_BIT(AUD_ALG_HS256));
    char *claims = ts_good_claims();
    char *originals[3] = {
        ts_mint_key(rsa, AUD_ALG_RS256, "{\"alg\":\"RS256\"}", claims),
        ts_mint_key(ec, AUD_ALG_ES256, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", claims),
        ts_mint_hmac(secret, sizeof secret, AUD_ALG_HS256, "{\"alg\":\"HS256\"}", claims),
    };
    char buf[4096], why[512];
    prng_state = UINT64_C(0x9E3779B97F4A7C15);
    for (int i = 0; i < 3; i++) {
        aud_result *r = ts_env_check(&env, originals[i]);
        ts_assert_accepted(r);
        aud_result_free(r);
    }
    for (int round = 0; round < 6000; round++) {
        const char *orig = originals[round % 3];
        size_t orig_len = strlen(orig);
        size_t n = mutate(orig, orig_len, buf, sizeof buf);
        aud_result *r = ts_env_check_n(&env, buf, n);
        ck_assert_msg(ts_details_consistent(r, why, sizeof why), "round %d: %s", round, why);
        if (aud_result_accepted(r))
            ck_assert_msg(n == orig_len && memcmp(buf, orig, n) == 0, "round %d: a mutated token was accepted",
                          round);
        aud_result_free(r);
    }
    for (int i = 0; i < 3; i++)
        free(originals[i]);
    free(claims);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    ts_env_free(&env);
}
END_TEST

Suite *suite_attacks(void)
{
    Suite *s = suite_create("attacks");
    TCase *tc = tcase_create("attacks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, alg_none_every_spelling);
    tcase_add_test(tc, hs256_keyed_with_rsa_pem);
    tcase_add_test(tc, hs256_keyed_with_rsa_jwk);
    tcase_add_loop_test(tc, ecdsa_zero_signature, 0, 3);
    tcase_add_loop_test(tc, ecdsa_der_signature, 0, 3);
    tcase_add_loop_test(tc, ecdsa_wrong_length_signature, 0, 3);
    tcase_add_test(tc, embedded_jwk_header);
    tcase_add_test(tc, jku_x5u_x5c_not_followed);
    tcase_add_test(tc, unknown_crit);
    tcase_add_test(tc, b64_false);
    tcase_add_test(tc, rsa_1024_refused);
    tcase_add_test(tc, short_hmac_secret);
    tcase_add_test(tc, duplicate_member_names);
    tcase_add_test(tc, nul_in_aud_and_iss);
    tcase_add_test(tc, wrong_segment_counts);
    tcase_add_test(tc, non_canonical_base64);
    tcase_add_test(tc, exp_not_a_number);
    tcase_add_test(tc, aud_wrong_type);
    tcase_add_test(tc, payload_not_an_object);
    tcase_add_test(tc, deep_nesting);
    tcase_add_test(tc, oversized_token);
    tcase_add_test(tc, unknown_kid_no_fallback);
    tcase_add_test(tc, kid_injection);
    tcase_add_test(tc, algorithm_substitution);
    tcase_add_test(tc, pss_salt_length);
    tcase_add_test(tc, random_mutations_never_crash_or_forge);
    suite_add_tcase(s, tc);
    return s;
}
