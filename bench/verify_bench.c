/* How long one aud_verifier_check takes for the two token kinds seen most in
 * practice (RS256 from Entra ID / most IdPs, ES256), with everything the
 * module does per request: parsing, key lookup by kid, signature, claims.
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

static unsigned char *sign_sha256(EVP_PKEY *pkey, const char *input, size_t *sig_len)
{
    EVP_MD_CTX *ctx = check_alloc(EVP_MD_CTX_new());
    size_t len = 0;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
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

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run(const aud_verifier *v, const char *token, const char *label, unsigned long iterations)
{
    require_accept(v, token, label);
    round_seconds(v, token, iterations / 10 + 1); /* warm caches and the allocator */
    double per_verify[ROUNDS];
    for (int i = 0; i < ROUNDS; i++)
        per_verify[i] = round_seconds(v, token, iterations) / (double)iterations;
    qsort(per_verify, ROUNDS, sizeof per_verify[0], compare_double);
    double median = per_verify[ROUNDS / 2];
    printf("%-18s %9.2f µs/verification  %10.0f verifications/s  (rounds: %.2f .. %.2f µs)\n", label, median * 1e6,
           1.0 / median, per_verify[0] * 1e6, per_verify[ROUNDS - 1] * 1e6);
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
    if (rsa == NULL || ec == NULL)
        fail("cannot generate keys");

    char *rsa_key = rsa_jwk(rsa, "bench-rsa");
    char *ec_key = p256_jwk(ec, "bench-ec");
    char *jwks = NULL;
    if (asprintf(&jwks, "{\"keys\":[%s,%s]}", rsa_key, ec_key) < 0)
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

    printf("verify_bench: %lu verifications per round, median of %d rounds, %s\n", iterations, ROUNDS,
           OpenSSL_version(OPENSSL_VERSION));
    run(v, rs_token, "RS256 (RSA-2048)", iterations);
    run(v, es_token, "ES256 (P-256)", iterations);

    aud_verifier_destroy(v);
    aud_keyset_destroy(set);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    free(rsa_key);
    free(ec_key);
    free(jwks);
    free(rs_token);
    free(es_token);
    return 0;
}
