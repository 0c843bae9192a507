/* How long one aud_verifier_check takes for RS256 (Entra ID and most
 * identity providers), ES256 and EdDSA, with everything the module does per
 * fresh token: parsing, key lookup by kid, signature, claims; beside it, the
 * bare OpenSSL verification of the same signature (hash, then verify with a
 * context set up once, as `openssl speed` does), and the difference: what
 * the core adds beyond the signature itself.
 *
 * Keys are generated fresh and the tokens minted here with OpenSSL directly,
 * so the benchmark depends on no fixture and no other signer. The clock is
 * read only around the loop, never inside the core. Not run by make check. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aud_alg.h"
#include "aud_audit.h"
#include "aud_b64.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"
#include "aud_verifier.h"

#define DEFAULT_ITERATIONS 20000UL
#define MAX_ITERATIONS 100000000UL
#define ROUNDS 5
/* A fixed "now" inside the tokens' lifetime keeps every check on the
 * accepting path, which is the one that costs a full signature check. */
#define BENCH_NOW 1800000000.0
#define BENCH_AUDIENCE "api://bench"
#define BENCH_ISSUER "https://issuer.bench.example/"

static void fail(const char *what)
{
    fprintf(stderr, "verify_bench: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static void *check_alloc(void *p)
{
    if (p == NULL)
        fail("out of memory");
    return p;
}

static char *b64(const unsigned char *data, size_t len)
{
    return check_alloc(aud_b64url_encode(data, len));
}

static char *bn_param_b64(const EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
        fail("cannot read a key parameter");
    int len = BN_num_bytes(bn);
    unsigned char *buf = check_alloc(malloc((size_t)len));
    BN_bn2bin(bn, buf);
    char *out = b64(buf, (size_t)len);
    free(buf);
    BN_free(bn);
    return out;
}

static char *rsa_jwk(const EVP_PKEY *pkey, const char *kid)
{
    char *n = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_N);
    char *e = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_E);
    char *jwk = NULL;
    if (asprintf(&jwk, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"}", kid, n, e) < 0)
        fail("out of memory");
    free(n);
    free(e);
    return jwk;
}

static char *p256_jwk(const EVP_PKEY *pkey, const char *kid)
{
    /* The encoded public key is 0x04 || X || Y, each coordinate 32 bytes. */
    unsigned char point[65];
    size_t point_len = 0;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point,
                                         &point_len) ||
        point_len != sizeof point || point[0] != 0x04)
        fail("cannot read the P-256 public point");
    char *x = b64(point + 1, 32);
    char *y = b64(point + 33, 32);
    char *jwk = NULL;
    if (asprintf(&jwk, "{\"kty\":\"EC\",\"kid\":\"%s\",\"use\":\"sig\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
                 kid, x, y) < 0)
        fail("out of memory");
    free(x);
    free(y);
    return jwk;
}

static char *ed25519_jwk(const EVP_PKEY *pkey, const char *kid)
{
    unsigned char pub[32];
    size_t pub_len = sizeof pub;
    if (!EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) || pub_len != sizeof pub)
        fail("cannot read the Ed25519 public key");
    char *x = b64(pub, pub_len);
    char *jwk = NULL;
    if (asprintf(&jwk, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"use\":\"sig\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", kid,
                 x) < 0)
        fail("out of memory");
    free(x);
    return jwk;
}

/* SHA-256 for RSA and ECDSA; none for Ed25519, which hashes internally. */
static unsigned char *sign_sha256(EVP_PKEY *pkey, const char *input, size_t *sig_len)
{
    EVP_MD_CTX *ctx = check_alloc(EVP_MD_CTX_new());
    size_t len = 0;
    const EVP_MD *md = EVP_PKEY_is_a(pkey, "ED25519") ? NULL : EVP_sha256();
    if (EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input, strlen(input)) != 1)
        fail("cannot start signing");
    unsigned char *sig = check_alloc(malloc(len));
    if (EVP_DigestSign(ctx, sig, &len, (const unsigned char *)input, strlen(input)) != 1)
        fail("cannot sign");
    EVP_MD_CTX_free(ctx);
    *sig_len = len;
    return sig;
}

/* OpenSSL signs ECDSA as DER; JWS wants R || S, each padded to 32 bytes. */
static unsigned char *der_to_raw_p256(const unsigned char *der, size_t der_len, size_t *raw_len)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL)
        fail("cannot parse the ECDSA signature");
    unsigned char *raw = check_alloc(malloc(64));
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 || BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32)
        fail("ECDSA signature component too long");
    ECDSA_SIG_free(es);
    *raw_len = 64;
    return raw;
}

static char *mint(EVP_PKEY *pkey, const char *alg, const char *kid, bool ecdsa)
{
    char *header = NULL, *claims = NULL;
    long long now = (long long)BENCH_NOW;
    if (asprintf(&header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid) < 0 ||
        asprintf(&claims,
                 "{\"aud\":\"" BENCH_AUDIENCE "\",\"iss\":\"" BENCH_ISSUER "\",\"iat\":%lld,\"nbf\":%lld,"
                 "\"exp\":%lld,\"sub\":\"bench-subject\",\"azp\":\"bench-client\",\"scp\":\"read write\"}",
                 now - 60, now - 60, now + 3600) < 0)
        fail("out of memory");
    char *h64 = b64((const unsigned char *)header, strlen(header));
    char *c64 = b64((const unsigned char *)claims, strlen(claims));
    char *input = NULL;
    if (asprintf(&input, "%s.%s", h64, c64) < 0)
        fail("out of memory");
    size_t sig_len = 0;
    unsigned char *sig = sign_sha256(pkey, input, &sig_len);
    if (ecdsa) {
        size_t raw_len = 0;
        unsigned char *raw = der_to_raw_p256(sig, sig_len, &raw_len);
        free(sig);
        sig = raw;
        sig_len = raw_len;
    }
    char *s64 = b64(sig, sig_len);
    char *token = NULL;
    if (asprintf(&token, "%s.%s", input, s64) < 0)
        fail("out of memory");
    free(header);
    free(claims);
    free(h64);
    free(c64);
    free(input);
    free(sig);
    free(s64);
    return token;
}

static double bench_now(void *baton)
{
    (void)baton;
    return BENCH_NOW;
}

static void log_stderr(void *baton, aud_log_level level, const char *message)
{
    (void)baton;
    if (level <= AUD_LOG_WARNING)
        fprintf(stderr, "verify_bench: core: %s\n", message);
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        fail("cannot read CLOCK_MONOTONIC");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A benchmark of a path that rejects would measure the wrong thing. */
static void require_accept(const aud_verifier *v, const char *token, const char *label)
{
    aud_result *r = aud_verifier_check(v, token, strlen(token));
    if (r == NULL)
        fail("out of memory");
    if (!aud_result_accepted(r) || !r->signature_verified) {
        fprintf(stderr, "verify_bench: the %s token is not accepted:\n", label);
        for (int i = 1; i < AUD_REASON_COUNT; i++)
            if (aud_result_has(r, (aud_reason)i))
                fprintf(stderr, "  %s: %s\n", aud_reason_code((aud_reason)i),
                        r->details[i] != NULL ? r->details[i] : aud_reason_summary((aud_reason)i));
        exit(1);
    }
    aud_result_free(r);
}

static double round_seconds(const aud_verifier *v, const char *token, unsigned long iterations)
{
    size_t len = strlen(token);
    unsigned long accepted = 0;
    double start = monotonic_seconds();
    for (unsigned long i = 0; i < iterations; i++) {
        aud_result *r = aud_verifier_check(v, token, len);
        /* Counting keeps the compiler from discarding the work. */
        accepted += r != NULL && aud_result_accepted(r);
        aud_result_free(r);
    }
    double elapsed = monotonic_seconds() - start;
    if (accepted != iterations)
        fail("a verification failed during timing");
    return elapsed;
}

/* The floor: the signature of the token verified by OpenSSL alone, with
 * everything set up once outside the loop. */
typedef struct {
    EVP_PKEY *pkey;
    const unsigned char *input;
    size_t input_len;
    unsigned char *sig; /* DER for ECDSA, as OpenSSL wants it */
    size_t sig_len;
} raw_case;

static double raw_round_seconds(const raw_case *c, unsigned long iterations)
{
    unsigned long ok = 0;
    bool eddsa = EVP_PKEY_is_a(c->pkey, "ED25519");
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_PKEY_CTX *pctx = check_alloc(EVP_PKEY_CTX_new_from_pkey(NULL, c->pkey, NULL));
    EVP_MD_CTX *mctx = check_alloc(EVP_MD_CTX_new());
    if (eddsa ? EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, c->pkey) != 1
              : EVP_PKEY_verify_init(pctx) != 1 || EVP_PKEY_CTX_set_signature_md(pctx, md) != 1)
        fail("cannot set up the raw verification");
    double start = monotonic_seconds();
    for (unsigned long i = 0; i < iterations; i++) {
        if (eddsa) {
            ok += EVP_DigestVerify(mctx, c->sig, c->sig_len, c->input, c->input_len) == 1;
        } else {
            unsigned char hash[32];
            unsigned int hash_len = 0;
            ok += EVP_Digest(c->input, c->input_len, hash, &hash_len, md, NULL) == 1 &&
                  EVP_PKEY_verify(pctx, c->sig, c->sig_len, hash, hash_len) == 1;
        }
    }
    double elapsed = monotonic_seconds() - start;
    if (ok != iterations)
        fail("a raw verification failed during timing");
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_CTX_free(pctx);
    EVP_MD_free(md);
    return elapsed;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The token's signing input and signature, as the raw loop wants them. */
static raw_case raw_case_of(EVP_PKEY *pkey, const char *token)
{
    raw_case c = {pkey, (const unsigned char *)token, 0, NULL, 0};
    const char *dot = strrchr(token, '.');
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    c.input_len = (size_t)(dot - token);
    if (!aud_b64url_decode(dot + 1, strlen(dot + 1), &sig, &sig_len))
        fail("cannot decode the signature");
    if (EVP_PKEY_is_a(pkey, "EC")) {
        ECDSA_SIG *es = check_alloc(ECDSA_SIG_new());
        if (ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) != 1)
            fail("cannot rebuild the ECDSA signature");
        unsigned char *der = NULL;
        int der_len = i2d_ECDSA_SIG(es, &der);
        if (der_len <= 0)
            fail("cannot encode the ECDSA signature");
        ECDSA_SIG_free(es);
        free(sig);
        sig = check_alloc(malloc((size_t)der_len));
        memcpy(sig, der, (size_t)der_len);
        OPENSSL_free(der);
        sig_len = (size_t)der_len;
    }
    c.sig = sig;
    c.sig_len = sig_len;
    return c;
}

/* Rounds alternate between the full check and the raw verification, so
 * that both see the same machine; medians of each. */
static void run(const aud_verifier *v, EVP_PKEY *pkey, const char *token, const char *label,
                unsigned long iterations)
{
    raw_case raw = raw_case_of(pkey, token);
    require_accept(v, token, label);
    round_seconds(v, token, iterations / 10 + 1); /* warm caches and the allocator */
    raw_round_seconds(&raw, iterations / 10 + 1);
    double full[ROUNDS], bare[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        full[i] = round_seconds(v, token, iterations) / (double)iterations;
        bare[i] = raw_round_seconds(&raw, iterations) / (double)iterations;
    }
    qsort(full, ROUNDS, sizeof full[0], compare_double);
    qsort(bare, ROUNDS, sizeof bare[0], compare_double);
    double median = full[ROUNDS / 2], floor = bare[ROUNDS / 2];
    printf("%-18s %9.2f µs/check  %10.0f checks/s  (rounds %.2f .. %.2f)   OpenSSL alone %7.2f µs   core adds %6.2f µs\n",
           label, median * 1e6, 1.0 / median, full[0] * 1e6, full[ROUNDS - 1] * 1e6, floor * 1e6,
           (median - floor) * 1e6);
    free(raw.sig);
}

/* With the audit log on, a new token's verdict also carries the record's
 * token fields, built once and then kept in the token cache. */
static void run_audit_fields(const aud_verifier *v, const char *token, unsigned long iterations)
{
    aud_result *r = aud_verifier_check(v, token, strlen(token));
    double rounds[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        double t0 = monotonic_seconds();
        for (unsigned long n = 0; n < iterations; n++) {
            char *fields = aud_audit_token_fields(r, NULL);
            if (fields == NULL)
                fail("no audit fields");
            free(fields);
        }
        rounds[i] = (monotonic_seconds() - t0) / (double)iterations;
    }
    qsort(rounds, ROUNDS, sizeof rounds[0], compare_double);
    printf("%-18s %9.2f µs per new token with the audit log on (aud_audit_token_fields)\n", "audit record fields",
           rounds[ROUNDS / 2] * 1e6);
    aud_result_free(r);
}

static unsigned long parse_iterations(int argc, char **argv)
{
    if (argc < 2)
        return DEFAULT_ITERATIONS;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(argv[1], &end, 10);
    if (argc > 2 || end == argv[1] || *end != '\0' || errno != 0 || argv[1][0] == '-' || n == 0 ||
        n > MAX_ITERATIONS) {
        fprintf(stderr, "usage: verify_bench [ITERATIONS]   (1 to %lu, default %lu)\n", MAX_ITERATIONS,
                DEFAULT_ITERATIONS);
        exit(2);
    }
    return (unsigned long)n;
}

int main(int argc, char **argv)
{
    unsigned long iterations = parse_iterations(argc, argv);

    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (rsa == NULL || ec == NULL || ed == NULL)
        fail("cannot generate keys");

    char *rsa_key = rsa_jwk(rsa, "bench-rsa");
    char *ec_key = p256_jwk(ec, "bench-ec");
    char *ed_key = ed25519_jwk(ed, "bench-ed");
    char *jwks = NULL;
    if (asprintf(&jwks, "{\"keys\":[%s,%s,%s]}", rsa_key, ec_key, ed_key) < 0)
        fail("out of memory");

    aud_logger logger = {log_stderr, NULL};
    aud_error err = {{0}};
    aud_keyset *set = check_alloc(aud_keyset_create());
    if (!aud_keyset_load_buffer(set, jwks, strlen(jwks), "benchmark JWKS", &logger, &err)) {
        fprintf(stderr, "verify_bench: %s\n", err.text);
        return 1;
    }

    const aud_keyset *sets[] = {set};
    const char *audiences[] = {BENCH_AUDIENCE};
    const char *issuers[] = {BENCH_ISSUER};
    aud_verifier_config config;
    aud_verifier_config_init(&config);
    config.keysets = sets;
    config.n_keysets = 1;
    config.audiences = audiences;
    config.n_audiences = 1;
    config.issuers = issuers;
    config.n_issuers = 1;
    config.now = bench_now;
    aud_verifier *v = aud_verifier_create(&config, &err);
    if (v == NULL) {
        fprintf(stderr, "verify_bench: %s\n", err.text);
        return 1;
    }

    char *rs_token = mint(rsa, "RS256", "bench-rsa", false);
    char *es_token = mint(ec, "ES256", "bench-ec", true);
    char *ed_token = mint(ed, "EdDSA", "bench-ed", false);

    printf("verify_bench: %lu verifications per round, median of %d rounds, %s\n", iterations, ROUNDS,
           OpenSSL_version(OPENSSL_VERSION));
    run(v, rsa, rs_token, "RS256 (RSA-2048)", iterations);
    run(v, ec, es_token, "ES256 (P-256)", iterations);
    run(v, ed, ed_token, "EdDSA (Ed25519)", iterations);
    run_audit_fields(v, rs_token, iterations);

    aud_verifier_destroy(v);
    aud_keyset_destroy(set);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    free(rsa_key);
    free(ec_key);
    free(ed_key);
    free(ed_token);
    free(jwks);
    free(rs_token);
    free(es_token);
    return 0;
}
