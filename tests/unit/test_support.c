#include "test_support.h"

#include <pthread.h>

#include "aud_utf8.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aud_b64.h"

/* ------------------------------------------------------------------ clock */

double ts_clock(void *baton)
{
    return baton != NULL ? *(const double *)baton : TS_NOW;
}

/* ----------------------------------------------------------------- logger */

/* Sources fetching in threads of their own (aud_remote_refresh_all) log
 * at once. */
static pthread_mutex_t ts_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void ts_log_fn(void *baton, aud_log_level level, const char *message)
{
    ts_log *log = baton;
    pthread_mutex_lock(&ts_log_lock);
    if (log->count == log->capacity) {
        size_t cap = log->capacity ? log->capacity * 2 : 8;
        char **messages = realloc(log->messages, cap * sizeof *messages);
        ck_assert_ptr_nonnull(messages);
        log->messages = messages;
        aud_log_level *levels = realloc(log->levels, cap * sizeof *levels);
        ck_assert_ptr_nonnull(levels);
        log->levels = levels;
        log->capacity = cap;
    }
    log->messages[log->count] = strdup(message != NULL ? message : "");
    ck_assert_ptr_nonnull(log->messages[log->count]);
    log->levels[log->count] = level;
    log->count++;
    pthread_mutex_unlock(&ts_log_lock);
}

void ts_log_init(ts_log *log)
{
    memset(log, 0, sizeof *log);
}

void ts_log_free(ts_log *log)
{
    for (size_t i = 0; i < log->count; i++)
        free(log->messages[i]);
    free(log->messages);
    free(log->levels);
    memset(log, 0, sizeof *log);
}

aud_logger ts_log_logger(ts_log *log)
{
    aud_logger logger = {ts_log_fn, log};
    return logger;
}

bool ts_log_contains(const ts_log *log, aud_log_level level, const char *needle)
{
    for (size_t i = 0; i < log->count; i++)
        if (log->levels[i] == level && strstr(log->messages[i], needle) != NULL)
            return true;
    return false;
}

size_t ts_log_count_level(const ts_log *log, aud_log_level level)
{
    size_t n = 0;
    for (size_t i = 0; i < log->count; i++)
        if (log->levels[i] == level)
            n++;
    return n;
}

/* --------------------------------------------------------------- fixtures */

char *ts_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    return out;
}

char *ts_vector_path(const char *name)
{
    return ts_fmt("%s/%s", AUD_TEST_VECTORS, name);
}

char *ts_fixture_path(const char *name)
{
    /* The build passes only the vectors directory; the fixtures sit beside
     * the test sources, one level up from it. */
    return ts_fmt("%s/../unit/fixtures/%s", AUD_TEST_VECTORS, name);
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    ck_assert_msg(!ferror(f), "cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *ts_read_fixture(const char *name, size_t *len)
{
    char *path = ts_fixture_path(name);
    char *text = ts_read_file(path, len);
    free(path);
    return text;
}

static EVP_PKEY *load_pem_key(const char *fixture_name, bool private_key)
{
    char *path = ts_fixture_path(fixture_name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    EVP_PKEY *pkey = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(pkey != NULL, "%s holds no %s key", path, private_key ? "private" : "public");
    free(path);
    return pkey;
}

EVP_PKEY *ts_load_private_key(const char *fixture_name)
{
    return load_pem_key(fixture_name, true);
}

EVP_PKEY *ts_load_public_key(const char *fixture_name)
{
    return load_pem_key(fixture_name, false);
}

static char *bn_b64(const BIGNUM *bn, int pad_to)
{
    int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
    unsigned char *bytes = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_int_eq(BN_bn2binpad(bn, bytes, len), len);
    char *out = aud_b64url_encode(bytes, (size_t)len);
    ck_assert_ptr_nonnull(out);
    free(bytes);
    return out;
}

static char *bn_param_b64(EVP_PKEY *pkey, const char *param, int pad_to)
{
    BIGNUM *bn = NULL;
    ck_assert_msg(EVP_PKEY_get_bn_param(pkey, param, &bn) == 1, "key has no %s", param);
    char *out = bn_b64(bn, pad_to);
    BN_free(bn);
    return out;
}

char *ts_public_jwk(EVP_PKEY *pkey, const char *kid)
{
    char *kid_member = kid != NULL ? ts_fmt("\"kid\":\"%s\",", kid) : strdup("");
    char *jwk = NULL;
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: {
        char *n = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        char *e = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        jwk = ts_fmt("{%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", kid_member, n, e);
        free(n);
        free(e);
        break;
    }
    case EVP_PKEY_EC: {
        char group[64];
        ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                                        NULL),
                         1);
        const char *crv;
        int size;
        if (strcmp(group, "prime256v1") == 0) {
            crv = "P-256";
            size = 32;
        } else if (strcmp(group, "secp384r1") == 0) {
            crv = "P-384";
            size = 48;
        } else {
            ck_assert_str_eq(group, "secp521r1");
            crv = "P-521";
            size = 66;
        }
        char *x = bn_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size);
        char *y = bn_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size);
        jwk = ts_fmt("{%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid_member, crv, x, y);
        free(x);
        free(y);
        break;
    }
    case EVP_PKEY_ED25519: {
        unsigned char raw[32];
        size_t raw_len = sizeof raw;
        ck_assert_int_eq(EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len), 1);
        char *x = ts_b64n(raw, raw_len);
        jwk = ts_fmt("{%s\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", kid_member, x);
        free(x);
        break;
    }
    default:
        ck_abort_msg("no JWK form for this key type");
    }
    free(kid_member);
    return jwk;
}

char *ts_jwks(const char *const *jwks, size_t n)
{
    size_t len = 16;
    for (size_t i = 0; i < n; i++)
        len += strlen(jwks[i]) + 1;
    char *out = malloc(len);
    ck_assert_ptr_nonnull(out);
    strcpy(out, "{\"keys\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, jwks[i]);
    }
    strcat(out, "]}");
    return out;
}

/* ---------------------------------------------------------------- minting */

char *ts_b64n(const void *data, size_t len)
{
    char *out = aud_b64url_encode(data, len);
    ck_assert_ptr_nonnull(out);
    return out;
}

char *ts_b64(const char *text)
{
    return ts_b64n(text, strlen(text));
}

char *ts_join(const char *first, ...)
{
    va_list ap;
    size_t len = strlen(first) + 1;
    va_start(ap, first);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *))
        len += strlen(s) + 1;
    va_end(ap);
    char *out = malloc(len);
    ck_assert_ptr_nonnull(out);
    strcpy(out, first);
    va_start(ap, first);
    for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        strcat(out, ".");
        strcat(out, s);
    }
    va_end(ap);
    return out;
}

static const EVP_MD *alg_md(aud_alg alg)
{
    switch (alg) {
    case AUD_ALG_RS256:
    case AUD_ALG_PS256:
    case AUD_ALG_ES256:
    case AUD_ALG_HS256:
        return EVP_sha256();
    case AUD_ALG_RS384:
    case AUD_ALG_PS384:
    case AUD_ALG_ES384:
    case AUD_ALG_HS384:
        return EVP_sha384();
    case AUD_ALG_RS512:
    case AUD_ALG_PS512:
    case AUD_ALG_ES512:
    case AUD_ALG_HS512:
        return EVP_sha512();
    default:
        return NULL; /* EdDSA signs the message itself */
    }
}

static size_t es_half(aud_alg alg)
{
    switch (alg) {
    case AUD_ALG_ES256:
        return 32;
    case AUD_ALG_ES384:
        return 48;
    case AUD_ALG_ES512:
        return 66;
    default:
        return 0;
    }
}

static unsigned char *sign_pkey(EVP_PKEY *pkey, aud_alg alg, int pss_saltlen, const void *input, size_t input_len,
                                size_t *sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(md);
    EVP_PKEY_CTX *pctx = NULL;
    ck_assert_int_eq(EVP_DigestSignInit(md, &pctx, alg_md(alg), NULL, pkey), 1);
    if (alg == AUD_ALG_PS256 || alg == AUD_ALG_PS384 || alg == AUD_ALG_PS512) {
        /* RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the
         * hash. */
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        ck_assert_int_eq(
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_saltlen != 0 ? pss_saltlen : RSA_PSS_SALTLEN_DIGEST), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg_md(alg)), 1);
    }
    size_t len = 0;
    ck_assert_int_eq(EVP_DigestSign(md, NULL, &len, input, input_len), 1);
    unsigned char *sig = malloc(len + 1);
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(EVP_DigestSign(md, sig, &len, input, input_len), 1);
    EVP_MD_CTX_free(md);
    *sig_len = len;
    return sig;
}

unsigned char *ts_sign_der(EVP_PKEY *pkey, aud_alg alg, const void *input, size_t input_len, size_t *sig_len)
{
    ck_assert_uint_ne(es_half(alg), 0);
    return sign_pkey(pkey, alg, 0, input, input_len, sig_len);
}

unsigned char *ts_sign(const ts_signer *signer, const void *input, size_t input_len, size_t *sig_len)
{
    if (aud_alg_is_hmac(signer->alg)) {
        unsigned char *mac = malloc(EVP_MAX_MD_SIZE);
        ck_assert_ptr_nonnull(mac);
        unsigned int mac_len = 0;
        /* An empty key is legitimate here: attacks sign with whatever they
         * like. HMAC() wants a non-NULL pointer even for zero bytes. */
        static const unsigned char empty[1];
        const unsigned char *key = signer->secret != NULL ? signer->secret : empty;
        ck_assert_ptr_nonnull(HMAC(alg_md(signer->alg), key, (int)signer->secret_len, input, input_len, mac,
                                   &mac_len));
        *sig_len = mac_len;
        return mac;
    }
    ck_assert_ptr_nonnull(signer->pkey);
    size_t der_len = 0;
    unsigned char *der = sign_pkey(signer->pkey, signer->alg, signer->pss_saltlen, input, input_len, &der_len);
    size_t half = es_half(signer->alg);
    if (half == 0) {
        *sig_len = der_len;
        return der;
    }
    /* JWS wants the two integers side by side at the curve's width, not
     * the DER that OpenSSL produces. */
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    ck_assert_ptr_nonnull(es);
    unsigned char *raw = malloc(2 * half);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)half), (int)half);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + half, (int)half), (int)half);
    ECDSA_SIG_free(es);
    free(der);
    *sig_len = 2 * half;
    return raw;
}

char *ts_mint_segments(const ts_signer *signer, const char *header_seg, const char *payload_seg)
{
    char *input = ts_join(header_seg, payload_seg, NULL);
    size_t sig_len = 0;
    unsigned char *sig = ts_sign(signer, input, strlen(input), &sig_len);
    char *s = ts_b64n(sig, sig_len);
    char *token = ts_join(input, s, NULL);
    free(input);
    free(sig);
    free(s);
    return token;
}

char *ts_mint_n(const ts_signer *signer, const void *header, size_t header_len, const void *payload,
                size_t payload_len)
{
    char *h = ts_b64n(header, header_len);
    char *p = ts_b64n(payload, payload_len);
    char *token = ts_mint_segments(signer, h, p);
    free(h);
    free(p);
    return token;
}

char *ts_mint(const ts_signer *signer, const char *header, const char *payload)
{
    return ts_mint_n(signer, header, strlen(header), payload, strlen(payload));
}

char *ts_mint_key(EVP_PKEY *pkey, aud_alg alg, const char *header, const char *payload)
{
    ts_signer signer = {.alg = alg, .pkey = pkey};
    return ts_mint(&signer, header, payload);
}

char *ts_mint_hmac(const void *secret, size_t secret_len, aud_alg alg, const char *header, const char *payload)
{
    ts_signer signer = {.alg = alg, .secret = secret, .secret_len = secret_len};
    return ts_mint(&signer, header, payload);
}

char *ts_mint_sig(const char *header, const char *payload, const void *sig, size_t sig_len)
{
    char *h = ts_b64(header);
    char *p = ts_b64(payload);
    char *s = ts_b64n(sig, sig_len);
    char *token = ts_join(h, p, s, NULL);
    free(h);
    free(p);
    free(s);
    return token;
}

char *ts_good_claims(void)
{
    return ts_fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"alice\",\"iat\":%.0f,\"nbf\":%.0f,\"exp\":%.0f}",
                  TS_ISSUER, TS_AUDIENCE, TS_NOW - 10, TS_NOW - 10, TS_NOW + 3600);
}

/* --------------------------------------------------------------- verifier */

static void env_invalidate(ts_env *env)
{
    aud_verifier_destroy(env->verifier);
    env->verifier = NULL;
}

void ts_env_init(ts_env *env)
{
    memset(env, 0, sizeof *env);
    env->keys = aud_keyset_create();
    ck_assert_ptr_nonnull(env->keys);
    env->keysets[0] = env->keys;
    aud_verifier_config_init(&env->config);
    env->now = TS_NOW;
    ts_log_init(&env->log);
}

void ts_env_init_default(ts_env *env)
{
    ts_env_init(env);
    ts_env_audience(env, TS_AUDIENCE);
    ts_env_issuer(env, TS_ISSUER);
}

void ts_env_free(ts_env *env)
{
    env_invalidate(env);
    aud_keyset_destroy(env->keys);
    ts_log_free(&env->log);
    memset(env, 0, sizeof *env);
}

void ts_env_key_file(ts_env *env, const char *path)
{
    aud_error err = {{0}};
    aud_logger logger = ts_log_logger(&env->log);
    ck_assert_msg(aud_keyset_load_file(env->keys, path, &logger, &err), "loading %s: %s", path, err.text);
    env_invalidate(env);
}

void ts_env_key_fixture(ts_env *env, const char *name)
{
    char *path = ts_fixture_path(name);
    ts_env_key_file(env, path);
    free(path);
}

void ts_env_key_text(ts_env *env, const char *text)
{
    aud_error err = {{0}};
    aud_logger logger = ts_log_logger(&env->log);
    ck_assert_msg(aud_keyset_load_buffer(env->keys, text, strlen(text), "test key", &logger, &err),
                  "loading key text: %s", err.text);
    env_invalidate(env);
}

void ts_env_secret(ts_env *env, const void *secret, size_t len, const char *kid)
{
    aud_error err = {{0}};
    ck_assert_msg(aud_keyset_add_secret(env->keys, secret, len, kid, &err), "adding secret: %s", err.text);
    env_invalidate(env);
}

static void list_add(const char **list, const char *value)
{
    for (size_t i = 0; i < TS_MAX_LIST; i++) {
        if (list[i] == NULL) {
            list[i] = value;
            return;
        }
    }
    ck_abort_msg("too many list entries for ts_env");
}

static size_t list_len(const char *const *list)
{
    size_t n = 0;
    while (n < TS_MAX_LIST && list[n] != NULL)
        n++;
    return n;
}

void ts_env_audience(ts_env *env, const char *audience)
{
    list_add(env->audiences, audience);
    env_invalidate(env);
}

void ts_env_issuer(ts_env *env, const char *issuer)
{
    list_add(env->issuers, issuer);
    env_invalidate(env);
}

void ts_env_algorithms(ts_env *env, aud_alg_set algorithms)
{
    env->config.algorithms = algorithms;
    env_invalidate(env);
}

void ts_env_leeway(ts_env *env, double leeway)
{
    env->config.leeway = leeway;
    env_invalidate(env);
}

void ts_env_max_size(ts_env *env, size_t max)
{
    env->config.max_token_size = max;
    env_invalidate(env);
}

void ts_env_now(ts_env *env, double now)
{
    /* The verifier reads the clock through the baton on every check, so no
     * rebuild is needed. */
    env->now = now;
}

const aud_verifier *ts_env_verifier(ts_env *env)
{
    if (env->verifier == NULL) {
        env->config.keysets = env->keysets;
        env->config.n_keysets = 1;
        env->config.audiences = env->audiences;
        env->config.n_audiences = list_len(env->audiences);
        env->config.issuers = env->issuers;
        env->config.n_issuers = list_len(env->issuers);
        env->config.now = ts_clock;
        env->config.now_baton = &env->now;
        aud_error err = {{0}};
        env->verifier = aud_verifier_create(&env->config, &err);
        ck_assert_msg(env->verifier != NULL, "aud_verifier_create: %s", err.text);
    }
    return env->verifier;
}

aud_result *ts_env_check_n(ts_env *env, const char *token, size_t len)
{
    aud_result *r = aud_verifier_check(ts_env_verifier(env), token, len);
    ck_assert_ptr_nonnull(r);
    return r;
}

aud_result *ts_env_check(ts_env *env, const char *token)
{
    return ts_env_check_n(env, token, strlen(token));
}

/* ------------------------------------------------------------- assertions */

static const char *const reason_names[AUD_REASON_COUNT] = {
    "ok",
    "no_token",
    "malformed",
    "alg_not_allowed",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issuer_mismatch",
    "aud_missing",
    "aud_mismatch",
    "no_audience_configured",
    "keys_unavailable",
    "claim_invalid",
    "insufficient_scope",
    "token_type",
};

const char *ts_reasons_text(uint32_t reasons, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf + used, len - used, "{");
    bool first = true;
    for (unsigned i = 0; i < 32 && used < len; i++) {
        if (!(reasons & (UINT32_C(1) << i)))
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", first ? "" : ", ",
                                 i < AUD_REASON_COUNT ? reason_names[i] : "?");
        first = false;
    }
    if (used < len)
        snprintf(buf + used, len - used, "}");
    return buf;
}

bool ts_details_consistent(const aud_result *r, char *why, size_t len)
{
    for (unsigned i = 0; i < AUD_REASON_COUNT; i++) {
        bool failed = (r->reasons & (UINT32_C(1) << i)) != 0;
        bool described = r->details[i] != NULL && r->details[i][0] != '\0';
        if (failed != described) {
            snprintf(why, len, "reason %s %s but its detail is %s", reason_names[i],
                     failed ? "failed" : "did not fail", r->details[i] == NULL ? "NULL" : "set");
            return false;
        }
    }
    why[0] = '\0';
    return true;
}

bool ts_valid_utf8(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = aud_utf8_char_length((const unsigned char *)s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

Suite *ts_suite(const char *suite, const char *tcase, const TTest *const *tests)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(tcase);
    for (size_t i = 0; tests[i] != NULL; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}
