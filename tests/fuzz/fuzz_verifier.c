/* Fuzzes the verifier with arbitrary tokens, then hints and the audit record
 * built from its verdict.
 *
 * Set up once: one verifier holding an RSA 2048, a P-256, an Ed25519 key and
 * an HMAC secret (RS256, ES256, EdDSA and HS256 allowed among the rest), one
 * allowed audience and issuer, at the fixed clock FZ_NOW.
 *
 * Invariants, per input:
 * - accepted only if byte-identical to a seed of tests/fuzz/corpus/verifier
 *   that the same verifier accepted at start-up (no mutation of a good token
 *   may pass: signatures, strict base64url, claims);
 * - details[i] is a non-empty string exactly for the failed reasons, and
 *   quotes token content only sanitised (no control characters);
 * - hints (aud_hints_add) are an array of objects with a string "code" and
 *   "text", every number in them finite, and "seconds" an integer;
 * - the audit record is one line of ASCII JSON (no control character but
 *   DEL, which JSON leaves unescaped): exactly one trailing "\n",
 *   no other line break, parsed by jansson into an object whose "reasons"
 *   list the result's reasons; the token itself never appears in it;
 * - the reasons text and the audiences JSON agree with the result.
 * Sanitizers (ASan, UBSan with float-cast-overflow) catch the rest. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>

#include "aud_audit.h"
#include "aud_hint.h"
#include "aud_key.h"
#include "aud_verifier.h"
#include "fuzz_support.h"

#ifndef AUD_FUZZ_DIR
#error "AUD_FUZZ_DIR must name the absolute path of tests/fuzz"
#endif

#define FZ_AUDIENCE "api://fuzz"
#define FZ_ISSUER "https://issuer.fuzz"
/* 32 bytes: the HS256 seeds are signed with exactly this. */
#define FZ_SECRET "fuzz-secret-0123456789abcdefghij"

static aud_keyset *keys;
static aud_verifier *verifier;
static char **accepted;
static size_t *accepted_len;
static size_t n_accepted;

static const char *const audiences[] = {FZ_AUDIENCE, "api://other"};
static const char *const issuers[] = {FZ_ISSUER};
static const aud_api_view self_view = {"fuzz-api", audiences, 1, issuers, 1};
static const char *const other_aud[] = {"api://other", "https://graph.microsoft.com"};
static const aud_api_view other_view = {"other-api", other_aud, 2, NULL, 0};

static void add_key(const char *name)
{
    size_t len;
    char *text = fz_read(AUD_FUZZ_UNIT "/fixtures", name, &len);
    aud_logger log = fz_logger();
    aud_error err;
    if (!aud_keyset_load_buffer(keys, text, len, name, &log, &err)) {
        fprintf(stderr, "fuzz set-up: %s\n", err.text);
        exit(2);
    }
    free(text);
}

static void remember_accepted_seeds(void)
{
    const char *dir = AUD_FUZZ_DIR "/corpus/verifier";
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "fuzz set-up: no seed directory %s\n", dir);
        exit(2);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len;
        char *tok = fz_read(dir, e->d_name, &len);
        aud_result *r = aud_verifier_check(verifier, tok, len);
        if (r != NULL && aud_result_accepted(r)) {
            accepted = realloc(accepted, (n_accepted + 1) * sizeof *accepted);
            accepted_len = realloc(accepted_len, (n_accepted + 1) * sizeof *accepted_len);
            if (accepted == NULL || accepted_len == NULL)
                exit(2);
            accepted[n_accepted] = tok;
            accepted_len[n_accepted++] = len;
        } else {
            free(tok);
        }
        aud_result_free(r);
    }
    closedir(d);
    /* The seeds mint one good token per algorithm family; if none passes,
     * the keys or the clock drifted from the seeds and the accept path
     * would go unfuzzed. */
    if (n_accepted < 4) {
        fprintf(stderr, "fuzz set-up: only %zu accepted seeds in %s\n", n_accepted, dir);
        exit(2);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    keys = aud_keyset_create();
    add_key("test_rsa2048_public.pem");
    add_key("test_ec_p256_public.pem");
    add_key("test_ed25519_public.pem");
    aud_error err;
    if (!aud_keyset_add_secret(keys, (const unsigned char *)FZ_SECRET, strlen(FZ_SECRET), NULL, &err)) {
        fprintf(stderr, "fuzz set-up: %s\n", err.text);
        exit(2);
    }
    static const aud_keyset *sets[1];
    sets[0] = keys;
    static const double until[] = {0, FZ_NOW + 86400};
    aud_verifier_config cfg;
    aud_verifier_config_init(&cfg);
    cfg.keysets = sets;
    cfg.n_keysets = 1;
    cfg.algorithms = AUD_ALG_SET_ALL;
    cfg.issuers = issuers;
    cfg.n_issuers = 1;
    cfg.audiences = audiences;
    cfg.n_audiences = 2;
    cfg.audience_until = until;
    cfg.now = fz_clock;
    verifier = aud_verifier_create(&cfg, &err);
    if (verifier == NULL) {
        fprintf(stderr, "fuzz set-up: %s\n", err.text);
        exit(2);
    }
    remember_accepted_seeds();
    return 0;
}

static bool is_seed(const char *tok, size_t len)
{
    for (size_t i = 0; i < n_accepted; i++)
        if (accepted_len[i] == len && memcmp(accepted[i], tok, len) == 0)
            return true;
    return false;
}

/* Every number finite; "seconds" an integer (a whole count a script can
 * compare, never a float nor a value cast from one out of range). */
static void check_json_numbers(const json_t *v, const char *name)
{
    if (json_is_real(v))
        FZ_REQUIRE(isfinite(json_real_value(v)), "non-finite number in hint member '%s'", name);
    if (name != NULL && strcmp(name, "seconds") == 0)
        FZ_REQUIRE(json_is_integer(v), "hint member 'seconds' is not an integer");
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) check_json_numbers(m, k);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) check_json_numbers(m, name);
    }
}

static void check_hints(const aud_result *r)
{
    FZ_REQUIRE(json_is_array(r->hints), "hints not an array after aud_hints_add");
    size_t i;
    json_t *h;
    json_array_foreach(r->hints, i, h)
    {
        FZ_REQUIRE(json_is_object(h), "hint %zu not an object", i);
        FZ_REQUIRE(json_is_string(json_object_get(h, "code")), "hint %zu without a string code", i);
        const char *text = json_string_value(json_object_get(h, "text"));
        FZ_REQUIRE(text != NULL, "hint %zu without a string text", i);
        FZ_REQUIRE(fz_printable(text), "hint %zu text with a control character: %s", i, text);
        check_json_numbers(h, NULL);
    }
    if (json_array_size(r->hints) > 0)
        FZ_REQUIRE(aud_hints_first_text(r) != NULL, "hints present but no first text");
}

static void check_record(const aud_result *r, const char *tok, size_t len)
{
    /* mode and decision are left zero: the harness checks the record's
     * shape, and their types differ between tree versions (strings, then
     * enums). */
    aud_audit_request req = {
        .time = FZ_NOW,
        .api = "fuzz-api",
        .uri = "/fuzz",
        .method = "GET",
        .client_ip = "127.0.0.1",
        .status = aud_result_accepted(r) ? 200 : 401,
        .request_id = "fuzz-1",
    };
    size_t rec_len = 0;
    char *rec = aud_audit_record(r, &req, &rec_len);
    FZ_REQUIRE(rec != NULL, "no audit record");
    FZ_REQUIRE(rec_len == strlen(rec), "record length %zu, strlen %zu", rec_len, strlen(rec));
    FZ_REQUIRE(rec_len >= 2 && rec[rec_len - 1] == '\n', "record does not end in a newline");
    for (size_t i = 0; i + 1 < rec_len; i++) {
        unsigned char c = (unsigned char)rec[i];
        FZ_REQUIRE(c != '\n' && c != '\r', "line break at byte %zu of the record", i);
        /* ASCII as documented; DEL is ASCII and jansson leaves it raw (JSON
         * needs no escape for it), so it is allowed here. */
        FZ_REQUIRE(c >= 0x20 && c <= 0x7f, "byte 0x%02x at %zu of the record is not ASCII text", c, i);
    }
    json_error_t jerr;
    json_t *doc = json_loadb(rec, rec_len - 1, JSON_REJECT_DUPLICATES, &jerr);
    FZ_REQUIRE(json_is_object(doc), "record is not a JSON object: %s\n  %s", jerr.text, rec);
    json_t *reasons = json_object_get(doc, "reasons");
    FZ_REQUIRE(json_is_array(reasons), "record reasons not an array");
    size_t n_failed = 0;
    for (unsigned i = 0; i < AUD_REASON_COUNT; i++)
        n_failed += aud_result_has(r, (aud_reason)i);
    FZ_REQUIRE(json_array_size(reasons) == n_failed, "record lists %zu reasons, result has %zu",
               json_array_size(reasons), n_failed);
    size_t i;
    json_t *code;
    json_array_foreach(reasons, i, code)
    {
        aud_reason reason;
        FZ_REQUIRE(json_is_string(code) && aud_reason_from_code(json_string_value(code), &reason) &&
                       aud_result_has(r, reason),
                   "record reason %zu not one of the result's", i);
    }
    json_t *none = json_array();
    FZ_REQUIRE(json_equal(json_object_get(doc, "hints"), r->hints != NULL ? r->hints : none),
               "record hints differ from the result's");
    json_decref(none);
    /* A token long enough to be told apart from the record's own text must
     * never be copied into it. */
    if (len >= 24 && memchr(tok, '\0', len) == NULL)
        FZ_REQUIRE(memmem(rec, rec_len, tok, len) == NULL, "the token appears in the record");
    json_decref(doc);
    free(rec);

    char *auds = aud_audit_audiences_json(r);
    FZ_REQUIRE(auds != NULL, "no audiences JSON");
    json_t *a = json_loads(auds, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    FZ_REQUIRE(a != NULL && (json_is_array(a) || json_is_null(a)), "audiences JSON invalid: %s", auds);
    json_decref(a);
    free(auds);

    char text[512];
    size_t need = aud_audit_reasons_text(r, text, sizeof text);
    FZ_REQUIRE(need == strlen(text), "reasons text length %zu, strlen %zu", need, strlen(text));
    FZ_REQUIRE(aud_result_accepted(r) == (strcmp(text, "ok") == 0), "reasons text '%s'", text);
    aud_reason primary = aud_audit_primary_reason(r);
    FZ_REQUIRE(aud_result_accepted(r) ? primary == AUD_REASON_OK : aud_result_has(r, primary),
               "primary reason %d not failed", (int)primary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = fz_copy(data, size);
    if (tok == NULL)
        return 0;
    aud_result *r = aud_verifier_check(verifier, tok, size);
    FZ_REQUIRE(r != NULL, "aud_verifier_check returned NULL");
    if (aud_result_accepted(r))
        FZ_REQUIRE(is_seed(tok, size), "a token that is no accepted seed was accepted (%zu bytes)", size);
    FZ_REQUIRE(r->reasons < (UINT32_C(1) << AUD_REASON_COUNT) && !aud_result_has(r, AUD_REASON_OK),
               "reason bits 0x%x out of range", (unsigned)r->reasons);
    for (unsigned i = 0; i < AUD_REASON_COUNT; i++) {
        bool failed = aud_result_has(r, (aud_reason)i);
        bool described = r->details[i] != NULL && r->details[i][0] != '\0';
        FZ_REQUIRE(failed == (r->details[i] != NULL), "reason %s failed=%d but details %s",
                   aud_reason_code((aud_reason)i), failed, r->details[i] ? "set" : "NULL");
        FZ_REQUIRE(failed == described, "reason %s failed with an empty detail", aud_reason_code((aud_reason)i));
        if (failed)
            FZ_REQUIRE(fz_printable(r->details[i]), "detail of %s with a control character: %s",
                       aud_reason_code((aud_reason)i), r->details[i]);
    }
    if (r->signature_verified)
        FZ_REQUIRE(r->verified_by != NULL, "signature verified by no key");
    if (size > 0)
        FZ_REQUIRE(strlen(r->token_id) == AUD_TOKEN_ID_HEX, "token id '%s'", r->token_id);

    aud_hint_context ctx = {&self_view, &other_view, 1, FZ_NOW};
    aud_hints_add(r, &ctx);
    check_hints(r);
    check_record(r, tok, size);
    aud_result_free(r);
    free(tok);
    return 0;
}
