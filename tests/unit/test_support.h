/* Shared scaffolding for the unit tests: a fixed clock, a logger that keeps
 * what it is told, a token minter that signs whatever bytes a test writes
 * (so that tests can craft duplicates, escapes and broken JSON), and a
 * verifier builder. */
#ifndef AUD_TEST_SUPPORT_H
#define AUD_TEST_SUPPORT_H

#include <check.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aud_alg.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"
#include "aud_verifier.h"

#ifndef AUD_TEST_VECTORS
#error "AUD_TEST_VECTORS must name the absolute path of tests/vectors"
#endif

/* 2023-11-14T22:13:20Z: the instant every minted token is judged at unless a
 * test says otherwise. */
#define TS_NOW 1700000000.0

/* 2011-03-22T18:36:40Z: a little before the RFC 7515 examples expire
 * (exp 1300819380), so that they can be verified at all. */
#define TS_RFC_NOW 1300819000.0

#define TS_AUDIENCE "api://x"
#define TS_ISSUER "https://issuer.test"

/* One bit per reason, for building expected sets: TS_R(EXPIRED) | ... */
#define TS_R(name) (UINT32_C(1) << AUD_REASON_##name)

/* ------------------------------------------------------------------ clock */

/* baton: a const double * holding the time, or NULL for TS_NOW. */
double ts_clock(void *baton);

/* ----------------------------------------------------------------- logger */

typedef struct {
    size_t count;
    size_t capacity;
    aud_log_level *levels;
    char **messages;
} ts_log;

void ts_log_init(ts_log *log);
void ts_log_free(ts_log *log);
aud_logger ts_log_logger(ts_log *log);
/* True when some message at this level contains needle. */
bool ts_log_contains(const ts_log *log, aud_log_level level, const char *needle);
size_t ts_log_count_level(const ts_log *log, aud_log_level level);

/* --------------------------------------------------------------- fixtures */

/* malloc'd absolute paths. */
char *ts_vector_path(const char *name);
char *ts_fixture_path(const char *name);
/* Whole file, malloc'd and NUL-terminated; fails the test when unreadable. */
char *ts_read_file(const char *path, size_t *len);
char *ts_read_fixture(const char *name, size_t *len);
/* A test-only private key from tests/unit/fixtures; fails the test when the
 * file does not hold one. */
EVP_PKEY *ts_load_private_key(const char *fixture_name);
EVP_PKEY *ts_load_public_key(const char *fixture_name);
/* The public half of pkey as a JWK (kid omitted when NULL), malloc'd. */
char *ts_public_jwk(EVP_PKEY *pkey, const char *kid);
/* {"keys":[jwk1,jwk2,...]} from n JWK texts, malloc'd. */
char *ts_jwks(const char *const *jwks, size_t n);

/* ---------------------------------------------------------------- minting */

/* base64url of a text, malloc'd. */
char *ts_b64(const char *text);
char *ts_b64n(const void *data, size_t len);
/* a.b.c from any number of segments (NULL-terminated), malloc'd. */
char *ts_join(const char *first, ...) __attribute__((sentinel));

typedef struct {
    aud_alg alg;
    EVP_PKEY *pkey; /* RS*, PS*, ES*, EdDSA */
    const unsigned char *secret; /* HS* */
    size_t secret_len;
    /* PS*: 0 for the hash length that RFC 7518 prescribes, else an OpenSSL
     * salt length (RSA_PSS_SALTLEN_MAX, or a byte count) to sign off-spec. */
    int pss_saltlen;
} ts_signer;

/* The JWS signature over input as a verifier expects it (ES*: raw R||S).
 * malloc'd. */
unsigned char *ts_sign(const ts_signer *signer, const void *input, size_t input_len, size_t *sig_len);
/* ES*: the signature exactly as OpenSSL produces it (ASN.1 DER). */
unsigned char *ts_sign_der(EVP_PKEY *pkey, aud_alg alg, const void *input, size_t input_len, size_t *sig_len);

/* header and payload are the exact JSON (or non-JSON) texts to encode. */
char *ts_mint(const ts_signer *signer, const char *header, const char *payload);
char *ts_mint_n(const ts_signer *signer, const void *header, size_t header_len, const void *payload,
                size_t payload_len);
char *ts_mint_key(EVP_PKEY *pkey, aud_alg alg, const char *header, const char *payload);
char *ts_mint_hmac(const void *secret, size_t secret_len, aud_alg alg, const char *header, const char *payload);
/* Signs the two segments exactly as given, so that a test can present
 * non-canonical base64url under a signature that is valid over it. */
char *ts_mint_segments(const ts_signer *signer, const char *header_seg, const char *payload_seg);
/* header.payload.<given signature bytes> */
char *ts_mint_sig(const char *header, const char *payload, const void *sig, size_t sig_len);

/* A claims set that every default test environment accepts; exp is
 * TS_NOW + 3600. malloc'd. */
char *ts_good_claims(void);
/* printf into a malloc'd string. */
char *ts_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --------------------------------------------------------------- verifier */

#define TS_MAX_LIST 8

/* A verifier under construction. Fill it with the ts_env_* calls; the first
 * ts_env_check builds it, and a later change rebuilds it. */
typedef struct {
    aud_keyset *keys;
    const aud_keyset *keysets[1];
    const char *audiences[TS_MAX_LIST];
    const char *issuers[TS_MAX_LIST];
    aud_verifier_config config;
    double now;
    ts_log log;
    aud_verifier *verifier;
} ts_env;

/* Empty key set, TS_NOW, default leeway and size, all asymmetric algorithms,
 * no audiences, no issuers. */
void ts_env_init(ts_env *env);
/* The usual environment: audience TS_AUDIENCE, issuer TS_ISSUER. */
void ts_env_init_default(ts_env *env);
void ts_env_free(ts_env *env);
/* These fail the test when the core refuses what they add. */
void ts_env_key_file(ts_env *env, const char *path);
void ts_env_key_fixture(ts_env *env, const char *name);
void ts_env_key_text(ts_env *env, const char *text);
void ts_env_secret(ts_env *env, const void *secret, size_t len, const char *kid);
void ts_env_audience(ts_env *env, const char *audience);
void ts_env_issuer(ts_env *env, const char *issuer);
void ts_env_algorithms(ts_env *env, aud_alg_set algorithms);
void ts_env_leeway(ts_env *env, double leeway);
void ts_env_max_size(ts_env *env, size_t max);
void ts_env_now(ts_env *env, double now);
/* The verifier, built now if it was not yet. */
const aud_verifier *ts_env_verifier(ts_env *env);
/* Never NULL; the caller frees it. */
aud_result *ts_env_check(ts_env *env, const char *token);
aud_result *ts_env_check_n(ts_env *env, const char *token, size_t len);

/* A suite with one test case (tcase) holding tests, in order; the list
 * ends with NULL. */
Suite *ts_suite(const char *suite, const char *tcase, const TTest *const *tests);

/* Whether s is valid UTF-8 all through (aud_utf8_char_length). */
bool ts_valid_utf8(const char *s);

/* ------------------------------------------------------------- assertions */

/* "{expired, aud_mismatch}" into buf. Own table, so that a broken
 * aud_reason_code cannot hide a failure. */
const char *ts_reasons_text(uint32_t reasons, char *buf, size_t len);
/* Every detail present for a failed reason and absent for the others. */
bool ts_details_consistent(const aud_result *r, char *why, size_t len);

#define ts_assert_reasons(result, expected)                                                              \
    do {                                                                                                 \
        const aud_result *ts_r_ = (result);                                                              \
        uint32_t ts_want_ = (expected);                                                                  \
        char ts_got_txt_[512], ts_want_txt_[512], ts_why_[512];                                          \
        ck_assert_msg(ts_r_ != NULL, "no result");                                                       \
        ck_assert_msg(ts_r_->reasons == ts_want_, "reasons %s, expected %s",                             \
                      ts_reasons_text(ts_r_->reasons, ts_got_txt_, sizeof ts_got_txt_),                  \
                      ts_reasons_text(ts_want_, ts_want_txt_, sizeof ts_want_txt_));                     \
        ck_assert_msg(ts_details_consistent(ts_r_, ts_why_, sizeof ts_why_), "%s", ts_why_);             \
    } while (0)

/* At least these reasons (and so: not accepted). */
#define ts_assert_reasons_include(result, required)                                                      \
    do {                                                                                                 \
        const aud_result *ts_r_ = (result);                                                              \
        uint32_t ts_want_ = (required);                                                                  \
        char ts_got_txt_[512], ts_want_txt_[512];                                                        \
        ck_assert_msg(ts_r_ != NULL, "no result");                                                       \
        ck_assert_msg(ts_want_ != 0 && (ts_r_->reasons & ts_want_) == ts_want_,                          \
                      "reasons %s, expected at least %s",                                                \
                      ts_reasons_text(ts_r_->reasons, ts_got_txt_, sizeof ts_got_txt_),                  \
                      ts_reasons_text(ts_want_, ts_want_txt_, sizeof ts_want_txt_));                     \
    } while (0)

#define ts_assert_accepted(result) ts_assert_reasons((result), 0)

#endif
