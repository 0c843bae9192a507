/* Fuzzes key parsing: PEM (SPKI, PKCS#1, certificates), JWK, JWKS and HMAC
 * secrets.
 *
 * The first byte picks the entry point: even, aud_keyset_load_buffer on the
 * rest (format detected from content, as for AudKeyFile); odd,
 * aud_keyset_add_secret on the rest with a kid taken from the second byte's
 * worth of the input (so kids are fuzzed too).
 *
 * Invariants:
 * - success yields at least one key, failure an error message; neither
 *   message nor log line nor key description carries a control character
 *   (document-derived text goes through aud_text_quote);
 * - a secret is refused exactly when shorter than 32 bytes;
 * - every key fits at least one algorithm and reports a known type; no key
 *   verifies an all-zero signature over a fixed input (and asking must not
 *   crash for any algorithm, fitting or not). */
#include "aud_alg.h"
#include "aud_key.h"
#include "fuzz_support.h"

static void check_set(const aud_keyset *set)
{
    static const unsigned char input[] = "eyJhbGciOiJub25lIn0.e30";
    static const unsigned char zeros[512];
    for (size_t i = 0; i < aud_keyset_count(set); i++) {
        const aud_key *k = aud_keyset_key(set, i);
        FZ_REQUIRE(k != NULL, "key %zu of %zu is NULL", i, aud_keyset_count(set));
        aud_key_type t = aud_key_type_of(k);
        FZ_REQUIRE(t >= AUD_KEY_RSA && t <= AUD_KEY_OCT, "key type %d", (int)t);
        const char *d = aud_key_describe(k);
        FZ_REQUIRE(d != NULL && fz_printable(d), "key description with a control character: %s", d ? d : "NULL");
        const char *kid = aud_key_kid(k);
        (void)kid;
        bool fits_any = false;
        for (int a = 0; a < AUD_ALG_COUNT; a++) {
            if (!aud_key_fits_alg(k, (aud_alg)a))
                continue;
            fits_any = true;
            for (size_t len = 0; len <= sizeof zeros; len += 32)
                FZ_REQUIRE(!aud_key_verify(k, (aud_alg)a, input, sizeof input - 1, zeros, len),
                           "%s verified a zero %s signature of %zu bytes", d, aud_alg_name((aud_alg)a), len);
        }
        FZ_REQUIRE(fits_any, "%s fits no algorithm", d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    aud_keyset *set = aud_keyset_create();
    FZ_REQUIRE(set != NULL, "no key set");
    aud_logger log = fz_logger();
    aud_error err;
    err.text[0] = '\0';
    if ((data[0] & 1) == 0) {
        char *doc = fz_copy(data + 1, size - 1);
        bool ok = aud_keyset_load_buffer(set, doc, size - 1, "fuzz.key", &log, &err);
        if (ok)
            FZ_REQUIRE(aud_keyset_count(set) > 0, "a document loaded with no key");
        else
            FZ_REQUIRE(err.text[0] != '\0', "failure without a message");
        free(doc);
    } else {
        /* Second byte: how many of the following bytes form the kid (0:
         * none); the rest is the secret. */
        size_t kid_len = size > 1 ? data[1] % 40 : 0;
        size_t off = 2 + kid_len;
        if (off > size) {
            aud_keyset_destroy(set);
            return 0;
        }
        char *kid = NULL;
        if (kid_len > 0) {
            kid = malloc(kid_len + 1);
            memcpy(kid, data + 2, kid_len);
            kid[kid_len] = '\0';
        }
        unsigned char *secret = (unsigned char *)fz_copy(data + off, size - off);
        bool ok = aud_keyset_add_secret(set, secret, size - off, kid, &err);
        FZ_REQUIRE(ok == (size - off >= 32), "secret of %zu bytes %s", size - off, ok ? "accepted" : "refused");
        if (ok)
            FZ_REQUIRE(aud_keyset_count(set) == 1, "one secret, %zu keys", aud_keyset_count(set));
        else
            FZ_REQUIRE(err.text[0] != '\0', "failure without a message");
        free(secret);
        free(kid);
    }
    FZ_REQUIRE(fz_printable(err.text), "error message with a control character: %s", err.text);
    check_set(set);
    aud_keyset_destroy(set);
    return 0;
}
