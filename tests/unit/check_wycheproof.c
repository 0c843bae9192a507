/* Google's Wycheproof vectors for JSON Web Signature, JSON Web Key and JSON
 * Web Crypto (tests/vectors/wycheproof, origin and licence in its README),
 * run through the core: keys through aud_keyset_load_buffer, tokens through
 * aud_verifier_check at a fixed clock with every algorithm allowed.
 *
 * What "valid" means here. The vectors sign payloads that are no JWT claims
 * set ("foo", RFC 7520's quotation), which the verifier always refuses as
 * malformed claims, so acceptance of the whole token says nothing about the
 * JWS layer. A case counts as valid for the module when
 *   - the group's key loads (the public JWK when the group has one, else the
 *     private one, whose private parts the key set drops), and
 *   - the verifier says signature_verified for the token, and
 *   - the payload segment is strict base64url (aud_b64url_decode): the
 *     verifier checks the signature over the segments as sent even when the
 *     payload does not decode, and then refuses the token as malformed.
 * That is the module's whole JWS verdict; the claim checks after it are
 * covered by check_claims.c. Every case of the three files is run, JWE and
 * JSON serialisation included (the module refuses both as not a compact
 * JWS); each must match the vector's result except the cases listed in
 * `deliberate` below, which must differ (so the list cannot go stale). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aud_b64.h"
#include "suites.h"
#include "test_support.h"

#ifndef AUD_WYCHEPROOF_DIR
#error "AUD_WYCHEPROOF_DIR must name the absolute path of tests/vectors/wycheproof"
#endif

typedef struct {
    const char *file; /* without _test.json */
    int tc_id;
    const char *why;
} deliberate_case;

/* Where the module decides otherwise than the vector, on purpose. */
static const deliberate_case deliberate[] = {
    /* RFC 7520 figures whose key carries an "alg" that the token does not
     * use: the key's own alg is binding (aud_key_fits_alg), as RFC 7517
     * 4.4 intends, so a PS256 key verifies no PS384 token. */
    {"json_web_signature", 346, "key alg PS256, token PS384"},
    {"json_web_signature", 350, "key alg PS256, token PS384"},
    /* The RFC 7520 EC key says "alg":"ES521", which names no algorithm; a
     * JWK with an unknown alg is refused as a whole (fail closed), so its
     * ES512 token finds no key. */
    {"json_web_signature", 347, "key alg ES521 is no algorithm; the key is refused"},
    {"json_web_signature", 351, "key alg ES521 is no algorithm; the key is refused"},
    /* Byte-identical to case 357 ("ValidMac", valid) with the same key: the
     * stored tokens lack the '=' padding the comments name, so the file
     * contradicts itself and the module, seeing the same bytes, says valid
     * for all three. */
    {"json_web_signature", 367, "token identical to valid case 357"},
    {"json_web_signature", 370, "token identical to valid case 357"},
    /* A '?' inserted into a segment: lenient decoders skip it, the module's
     * base64url is strict (no character outside the alphabet), so the
     * header does not decode, or the payload does not and the HMAC over the
     * altered bytes fails. */
    {"json_web_signature", 372, "strict base64url: '?' in the header"},
    {"json_web_signature", 373, "strict base64url: '?' in the payload"},
    /* A set with an oct key beside an EC key. The vectors refuse mixed sets
     * against algorithm confusion; the module prevents that per key instead:
     * HS* only when the operator lists it (AudAlgorithms), an oct key fits
     * only HS*, an EC key only its curve's ES*. So the HS256 token verifies
     * with the oct key when HS256 is allowed, as here. */
    {"json_web_key", 1, "mixed oct + EC set: confusion is prevented per key, not by refusing the set"},
    /* Two oct keys with one kid: the module tries every configured key of
     * that kid that fits the alg (keys roll over under one kid at some
     * providers) and accepts only what one of them verifies; both are the
     * operator's keys, so nothing an attacker controls is chosen. */
    {"json_web_key", 4, "duplicate kid: each key of the kid is tried"},
    /* The mixed-set case again, in the JSON Web Crypto file. (The ROCA
     * cases there and in the JWK file match: the module refuses ROCA
     * moduli, CVE-2017-15361.) */
    {"json_web_crypto", 47, "mixed oct + EC set: confusion is prevented per key, not by refusing the set"},
    /* Valid JWE (A256KW, ECDH-ES+A128KW): the module implements no JWE; its
     * use "enc" key is refused as not a signature key and a five-segment
     * token is no compact JWS. The invalid JWE cases are refused, as the
     * vectors expect. */
    {"json_web_crypto", 50, "JWE is not implemented"},
    {"json_web_crypto", 67, "JWE is not implemented"},
    {NULL, 0, NULL},
};

static const deliberate_case *find_deliberate(const char *file, int tc_id)
{
    for (size_t i = 0; deliberate[i].file != NULL; i++)
        if (strcmp(deliberate[i].file, file) == 0 && deliberate[i].tc_id == tc_id)
            return &deliberate[i];
    return NULL;
}

static bool payload_decodes(const char *jws)
{
    const char *dot1 = strchr(jws, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL)
        return false;
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    bool ok = aud_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &raw_len);
    free(raw);
    return ok;
}

/* The module's verdict on one case, as defined in the header comment. */
static bool module_valid(json_t *key, const char *jws, char *why, size_t why_len)
{
    aud_keyset *set = aud_keyset_create();
    ck_assert_ptr_nonnull(set);
    char *key_text = json_dumps(key, JSON_COMPACT);
    ck_assert_ptr_nonnull(key_text);
    aud_error err;
    ts_log log;
    ts_log_init(&log);
    aud_logger logger = ts_log_logger(&log);
    bool loaded = aud_keyset_load_buffer(set, key_text, strlen(key_text), "wycheproof", &logger, &err);
    free(key_text);
    bool valid = false;
    if (!loaded) {
        snprintf(why, why_len, "key refused: %.400s", err.text);
    } else {
        const aud_keyset *sets[1] = {set};
        static const char *const audiences[] = {TS_AUDIENCE};
        aud_verifier_config cfg;
        aud_verifier_config_init(&cfg);
        cfg.keysets = sets;
        cfg.n_keysets = 1;
        cfg.algorithms = AUD_ALG_SET_ALL;
        cfg.audiences = audiences;
        cfg.n_audiences = 1;
        cfg.now = ts_clock;
        aud_verifier *v = aud_verifier_create(&cfg, &err);
        ck_assert_msg(v != NULL, "%s", err.text);
        aud_result *r = aud_verifier_check(v, jws, strlen(jws));
        ck_assert_ptr_nonnull(r);
        char reasons[256];
        ts_reasons_text(r->reasons, reasons, sizeof reasons);
        if (!r->signature_verified) {
            const char *d = r->details[AUD_REASON_BAD_SIGNATURE] ? r->details[AUD_REASON_BAD_SIGNATURE]
                            : r->details[AUD_REASON_MALFORMED]   ? r->details[AUD_REASON_MALFORMED]
                            : r->details[AUD_REASON_UNKNOWN_KEY] ? r->details[AUD_REASON_UNKNOWN_KEY]
                            : r->details[AUD_REASON_ALG_NOT_ALLOWED] ? r->details[AUD_REASON_ALG_NOT_ALLOWED]
                                                                     : "-";
            snprintf(why, why_len, "signature not verified, %.100s: %.300s", reasons, d);
        } else if (!payload_decodes(jws)) {
            snprintf(why, why_len, "signature verified, payload not strict base64url");
        } else {
            valid = true;
            snprintf(why, why_len, "signature verified by %.300s", r->verified_by ? r->verified_by : "?");
        }
        aud_result_free(r);
        aud_verifier_destroy(v);
    }
    aud_keyset_destroy(set);
    ts_log_free(&log);
    return valid;
}

static void run_file(const char *name)
{
    char *path = ts_fmt("%s/%s_test.json", AUD_WYCHEPROOF_DIR, name);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", path, jerr.text);
    size_t cases = 0, mismatches = 0, listed_seen = 0;
    char report[8192] = "";
    size_t used = 0;
    size_t gi;
    json_t *group;
    json_array_foreach(json_object_get(doc, "testGroups"), gi, group)
    {
        json_t *key = json_object_get(group, "public");
        if (key == NULL)
            key = json_object_get(group, "private");
        ck_assert_msg(json_is_object(key), "%s group %zu has no key", name, gi);
        size_t ti;
        json_t *tc;
        json_array_foreach(json_object_get(group, "tests"), ti, tc)
        {
            json_t *id_v = json_object_get(tc, "tcId");
            int id = (int)json_integer_value(id_v);
            const char *result = json_string_value(json_object_get(tc, "result"));
            json_t *jws_v = json_object_get(tc, "jws");
            if (jws_v == NULL)
                jws_v = json_object_get(tc, "jwe");
            ck_assert_msg(json_is_integer(id_v) && result != NULL && jws_v != NULL,
                          "%s: a case without id, result or token", name);
            ck_assert_msg(strcmp(result, "valid") == 0 || strcmp(result, "invalid") == 0,
                          "%s case %d: result '%s' (acceptable results would need a decision here)", name, id,
                          result);
            cases++;
            char why[512];
            /* A JSON serialisation given as an object is presented as the
             * text a client would send. */
            char *token = json_is_string(jws_v) ? strdup(json_string_value(jws_v)) : json_dumps(jws_v, JSON_COMPACT);
            ck_assert_ptr_nonnull(token);
            bool got = module_valid(key, token, why, sizeof why);
            free(token);
            bool want = strcmp(result, "valid") == 0;
            const deliberate_case *d = find_deliberate(name, id);
            if (d != NULL)
                listed_seen++;
            if ((got != want) != (d != NULL)) {
                mismatches++;
                if (used < sizeof report - 1) {
                    int w = snprintf(report + used, sizeof report - used, "\n  case %d (%s): vector %s, module %s%s: %s",
                                     id, json_string_value(json_object_get(tc, "comment")), result,
                                     got ? "valid" : "invalid", d != NULL ? " (listed as deliberate)" : "", why);
                    if (w > 0)
                        used += (size_t)w;
                }
            }
        }
    }
    size_t listed = 0;
    for (size_t i = 0; deliberate[i].file != NULL; i++)
        listed += strcmp(deliberate[i].file, name) == 0;
    ck_assert_msg(listed_seen == listed, "%s: %zu deliberate cases listed, %zu found", name, listed, listed_seen);
    ck_assert_msg(cases > 0, "%s: no cases", name);
    ck_assert_msg(mismatches == 0, "%s: %zu of %zu cases differ from the vectors:%s", name, mismatches, cases, report);
    json_decref(doc);
    free(path);
}

START_TEST(json_web_signature)
{
    run_file("json_web_signature");
}
END_TEST

START_TEST(json_web_key)
{
    run_file("json_web_key");
}
END_TEST

START_TEST(json_web_crypto)
{
    run_file("json_web_crypto");
}
END_TEST

Suite *suite_wycheproof(void)
{
    const TTest *tests[] = {
        json_web_signature, json_web_key, json_web_crypto, NULL};
    return ts_suite("wycheproof", "wycheproof", tests);
}
