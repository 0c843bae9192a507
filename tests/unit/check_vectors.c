/* The published examples of RFC 7515 appendix A and RFC 8037 appendix A.4,
 * verified through the whole verifier with keys loaded from their JWKs (which
 * carry private parts that the key set must drop). */
#include <stdlib.h>
#include <string.h>

#include "aud_b64.h"
#include "suites.h"
#include "test_support.h"

typedef struct {
    const char *name;
    aud_alg alg;
    /* The signing examples sign claims; the ES512 and Ed25519 ones sign the
     * plain text "Payload" / "Example of Ed25519 signing". */
    bool json_payload;
    const char *payload_text;
} vector;

static const vector vectors[] = {
    {"rfc7515_A.1", AUD_ALG_HS256, true, NULL},
    {"rfc7515_A.2", AUD_ALG_RS256, true, NULL},
    {"rfc7515_A.3", AUD_ALG_ES256, true, NULL},
    {"rfc7515_A.4", AUD_ALG_ES512, false, "Payload"},
    {"rfc8037_A.4", AUD_ALG_EDDSA, false, "Example of Ed25519 signing"},
};
#define N_VECTORS (sizeof vectors / sizeof vectors[0])

static char *read_vector(const vector *vec, const char *ext)
{
    char *name = ts_fmt("%s.%s", vec->name, ext);
    char *path = ts_vector_path(name);
    char *text = ts_read_file(path, NULL);
    free(path);
    free(name);
    /* The files may end in a newline that is no part of the token. */
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    return text;
}

/* A verifier holding the vector's key, at a time before the examples' exp,
 * with only the vector's algorithm allowed (HS256 must be listed to be
 * allowed at all). */
static void vector_env(ts_env *env, const vector *vec, bool with_audience)
{
    ts_env_init(env);
    char *name = ts_fmt("%s.jwk", vec->name);
    char *path = ts_vector_path(name);
    ts_env_key_file(env, path);
    free(path);
    free(name);
    ts_env_algorithms(env, AUD_ALG_BIT(vec->alg));
    ts_env_now(env, TS_RFC_NOW);
    ts_env_issuer(env, "joe");
    if (with_audience)
        ts_env_audience(env, TS_AUDIENCE);
}

static void assert_vector_verifies(const vector *vec, bool with_audience)
{
    ts_env env;
    vector_env(&env, vec, with_audience);
    ck_assert_uint_eq(aud_keyset_count(env.keys), 1);
    char *token = read_vector(vec, "jwsc");
    aud_result *r = ts_env_check(&env, token);

    ck_assert_msg(r->signature_verified, "%s: signature not verified (%s)", vec->name,
                  r->details[AUD_REASON_BAD_SIGNATURE] ? r->details[AUD_REASON_BAD_SIGNATURE] : "-");
    ck_assert_ptr_nonnull(r->verified_by);
    ck_assert_ptr_nonnull(r->header);
    ck_assert_str_eq(aud_result_header_string(r, "alg"), aud_alg_name(vec->alg));
    ck_assert_ptr_null(r->matched_audience);
    ck_assert_uint_eq(strlen(r->token_id), AUD_TOKEN_ID_HEX);
    if (vec->json_payload) {
        /* iss "joe" matches; the examples carry no aud. */
        ts_assert_reasons(r, with_audience ? TS_R(AUD_MISSING) : TS_R(NO_AUDIENCE_CONFIGURED));
        ck_assert_ptr_nonnull(r->claims);
        ck_assert_str_eq(aud_result_claim_string(r, "iss"), "joe");
        ck_assert_int_eq(json_integer_value(json_object_get(r->claims, "exp")), 1300819380);
        ck_assert(json_is_true(json_object_get(r->claims, "http://example.com/is_root")));
    } else {
        /* A valid signature over a payload that is no claims set: only
         * malformed, and no claim check can run. */
        ts_assert_reasons(r, TS_R(MALFORMED));
        ck_assert_ptr_null(r->claims);
        ck_assert_ptr_nonnull(r->details[AUD_REASON_MALFORMED]);
    }
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}

START_TEST(vector_verifies)
{
    assert_vector_verifies(&vectors[_i], true);
}
END_TEST

START_TEST(vector_verifies_without_audience)
{
    assert_vector_verifies(&vectors[_i], false);
}
END_TEST

/* The plain-text payloads really are the texts the RFCs sign: guards against
 * a vector file that was altered into something that merely verifies. */
START_TEST(vector_payload_text)
{
    const vector *vec = &vectors[_i];
    if (vec->json_payload)
        return;
    char *token = read_vector(vec, "jwsc");
    char *dot1 = strchr(token, '.');
    ck_assert_ptr_nonnull(dot1);
    char *dot2 = strchr(dot1 + 1, '.');
    ck_assert_ptr_nonnull(dot2);
    unsigned char *payload = NULL;
    size_t len = 0;
    ck_assert(aud_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload, &len));
    ck_assert_uint_eq(len, strlen(vec->payload_text));
    ck_assert_mem_eq(payload, vec->payload_text, len);
    free(payload);
    free(token);
}
END_TEST

/* The verifier's clock, not the wall clock, decides: at exp the examples
 * are expired, while the signature still verifies. */
START_TEST(vector_expires_at_exp)
{
    const vector *vec = &vectors[_i];
    if (!vec->json_payload)
        return;
    ts_env env;
    vector_env(&env, vec, true);
    ts_env_leeway(&env, 0);
    ts_env_now(&env, 1300819380.0);
    char *token = read_vector(vec, "jwsc");
    aud_result *r = ts_env_check(&env, token);
    ck_assert(r->signature_verified);
    ts_assert_reasons(r, TS_R(EXPIRED) | TS_R(AUD_MISSING));
    aud_result_free(r);
    ts_env_now(&env, 1300819379.0);
    r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(AUD_MISSING));
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

/* The token with one bit of one segment's decoded bytes inverted, the
 * segment re-encoded canonically so that only the content differs. */
static char *flip_bit(const char *token, int segment, size_t byte, int bit, bool *in_range)
{
    const char *start[3], *end[3];
    start[0] = token;
    end[0] = strchr(token, '.');
    start[1] = end[0] + 1;
    end[1] = strchr(start[1], '.');
    start[2] = end[1] + 1;
    end[2] = token + strlen(token);
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    ck_assert(aud_b64url_decode(start[segment], (size_t)(end[segment] - start[segment]), &raw, &raw_len));
    *in_range = byte < raw_len;
    if (!*in_range) {
        free(raw);
        return NULL;
    }
    raw[byte] ^= (unsigned char)(1u << bit);
    char *seg = ts_b64n(raw, raw_len);
    free(raw);
    char *parts[3];
    for (int i = 0; i < 3; i++) {
        if (i == segment)
            parts[i] = seg;
        else
            parts[i] = strndup(start[i], (size_t)(end[i] - start[i]));
    }
    char *out = ts_join(parts[0], parts[1], parts[2], NULL);
    for (int i = 0; i < 3; i++)
        free(parts[i]);
    return out;
}

static void assert_every_bit_matters(int segment)
{
    static const char *const segment_names[] = {"header", "payload", "signature"};
    for (size_t v = 0; v < N_VECTORS; v++) {
        const vector *vec = &vectors[v];
        ts_env env;
        vector_env(&env, vec, true);
        char *token = read_vector(vec, "jwsc");
        size_t flips = 0;
        for (size_t byte = 0;; byte++) {
            bool in_range = false;
            for (int bit = 0; bit < 8; bit++) {
                char *bad = flip_bit(token, segment, byte, bit, &in_range);
                if (!in_range)
                    break;
                aud_result *r = ts_env_check(&env, bad);
                char got[256];
                ck_assert_msg(!r->signature_verified && !aud_result_accepted(r),
                              "%s: %s byte %zu bit %d flipped, still verified (%s)", vec->name,
                              segment_names[segment], byte, bit, ts_reasons_text(r->reasons, got, sizeof got));
                /* With the header intact the algorithm and key are found, so
                 * the failure must be the signature itself. */
                if (segment != 0)
                    ck_assert_msg(aud_result_has(r, AUD_REASON_BAD_SIGNATURE),
                                  "%s: %s byte %zu bit %d flipped gives %s", vec->name, segment_names[segment],
                                  byte, bit, ts_reasons_text(r->reasons, got, sizeof got));
                aud_result_free(r);
                free(bad);
                flips++;
            }
            if (!in_range)
                break;
        }
        /* The loop must have run: a flip test over nothing proves nothing. */
        ck_assert_uint_ge(flips, 8 * 7);
        free(token);
        ts_env_free(&env);
    }
}

START_TEST(flipped_header_bit_fails)
{
    assert_every_bit_matters(0);
}
END_TEST

START_TEST(flipped_payload_bit_fails)
{
    assert_every_bit_matters(1);
}
END_TEST

START_TEST(flipped_signature_bit_fails)
{
    assert_every_bit_matters(2);
}
END_TEST

/* A vector presented to a verifier that does not allow its algorithm fails
 * as alg_not_allowed even though the key would verify it. */
START_TEST(vector_alg_must_be_allowed)
{
    const vector *vec = &vectors[_i];
    ts_env env;
    vector_env(&env, vec, true);
    aud_alg other = vec->alg == AUD_ALG_ES256 ? AUD_ALG_RS256 : AUD_ALG_ES256;
    ts_env_algorithms(&env, AUD_ALG_BIT(other));
    char *token = read_vector(vec, "jwsc");
    aud_result *r = ts_env_check(&env, token);
    ck_assert(!r->signature_verified);
    ts_assert_reasons_include(r, TS_R(ALG_NOT_ALLOWED));
    ck_assert(!aud_result_has(r, AUD_REASON_BAD_SIGNATURE));
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

/* Each JWK becomes the key type its algorithm needs; the A.1 oct key is an
 * HMAC secret, which must never be mistaken for a public key or vice versa. */
START_TEST(vector_key_type)
{
    const vector *vec = &vectors[_i];
    ts_env env;
    vector_env(&env, vec, true);
    const aud_key *key = aud_keyset_key(env.keys, 0);
    ck_assert_ptr_nonnull(key);
    ck_assert(aud_key_fits_alg(key, vec->alg));
    static const aud_key_type types[] = {AUD_KEY_OCT, AUD_KEY_RSA, AUD_KEY_EC_P256, AUD_KEY_EC_P521,
                                         AUD_KEY_ED25519};
    ck_assert_int_eq(aud_key_type_of(key), types[_i]);
    ts_env_free(&env);
}
END_TEST

Suite *suite_vectors(void)
{
    Suite *s = suite_create("vectors");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, vector_verifies, 0, N_VECTORS);
    tcase_add_loop_test(tc, vector_verifies_without_audience, 0, N_VECTORS);
    tcase_add_loop_test(tc, vector_payload_text, 0, N_VECTORS);
    tcase_add_loop_test(tc, vector_expires_at_exp, 0, N_VECTORS);
    tcase_add_loop_test(tc, vector_alg_must_be_allowed, 0, N_VECTORS);
    tcase_add_loop_test(tc, vector_key_type, 0, N_VECTORS);
    suite_add_tcase(s, tc);

    TCase *flips = tcase_create("bit flips");
    /* Thousands of verifications; still a few seconds under sanitizers. */
    tcase_set_timeout(flips, 120);
    tcase_add_test(flips, flipped_header_bit_fails);
    tcase_add_test(flips, flipped_payload_bit_fails);
    tcase_add_test(flips, flipped_signature_bit_fails);
    suite_add_tcase(s, flips);
    return s;
}
