/* The audit record: its fields, that nothing from a token can break its line
 * or leak into it beyond the listed claims, and the helpers the module uses
 * for environment variables, log lines and responses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aud_audit.h"
#include "suites.h"
#include "test_support.h"

static const unsigned char secret[] = "0123456789abcdef0123456789abcdef-audit-tests";

static const char *const field_order[] = {
    "time", "api",  "uri",     "method", "client_ip", "status", "mode",     "decision", "reasons",    "hints", "aud",
    "matched", "iss", "sub", "client", "typ", "alg", "kid", "exp", "token_id", "request_id",
};
#define N_FIELDS (sizeof field_order / sizeof field_order[0])

static aud_audit_request sample_request(void)
{
    aud_audit_request req = {
        .time = 1700000000.123,
        .api = "Users API",
        .uri = "/users/42",
        .method = "GET",
        .client_ip = "192.0.2.7",
        .status = 200,
        .mode = AUD_MODE_ENFORCE,
        .decision = AUD_DECISION_ACCEPT,
        .request_id = "ZW5jb2RlZA",
    };
    return req;
}

/* An HS256 environment that accepts TS_AUDIENCE from TS_ISSUER. */
static void hmac_env(ts_env *env)
{
    ts_env_init_default(env);
    ts_env_secret(env, secret, sizeof secret - 1, NULL);
    ts_env_algorithms(env, AUD_ALG_BIT(AUD_ALG_HS256));
}

static char *mint(const char *header, const char *payload)
{
    return ts_mint_hmac(secret, sizeof secret - 1, AUD_ALG_HS256, header, payload);
}

/* The record's text checked for line safety, then parsed. */
static json_t *record(const aud_result *r, const aud_audit_request *req, char **text_out)
{
    size_t len = 0;
    char *text = aud_audit_record(r, req, &len);
    json_error_t jerr;

    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_msg(len >= 2 && text[len - 1] == '\n', "record does not end in a newline: %s", text);
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned char c = (unsigned char)text[i];
        ck_assert_msg(c >= 0x20 && c < 0x7f, "byte 0x%02x at %zu in the record: %s", c, i, text);
    }
    json_t *obj = json_loadb(text, len - 1, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(obj != NULL, "record is not JSON (%s): %s", jerr.text, text);
    ck_assert(json_is_object(obj));
    if (text_out != NULL)
        *text_out = text;
    else
        free(text);
    return obj;
}

static void assert_string(const json_t *obj, const char *key, const char *want)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    ck_assert_str_eq(json_string_value(v), want);
}

static void assert_null(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "%s is missing", key);
    ck_assert_msg(json_is_null(v), "%s is not null", key);
}

START_TEST(test_accepted_record_fields)
{
    ts_env env;
    hmac_env(&env);
    char *token = mint("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":[\"api://other\",\"" TS_AUDIENCE "\"],"
                       "\"sub\":\"alice\",\"azp\":\"app-1\",\"exp\":1700003600,\"scope\":\"read\"}");
    /* kid k1 is not configured; keys without a kid are tried only for
     * tokens without one, so re-add the secret under that kid. */
    ts_env_secret(&env, secret, sizeof secret - 1, "k1");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_accepted(r);

    aud_audit_request req = sample_request();
    json_t *obj = record(r, &req, NULL);

    ck_assert_uint_eq(json_object_size(obj), N_FIELDS);
    size_t i = 0;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it), i++)
        ck_assert_str_eq(json_object_iter_key(it), field_order[i]);

    assert_string(obj, "time", "2023-11-14T22:13:20.123Z");
    assert_string(obj, "api", "Users API");
    assert_string(obj, "uri", "/users/42");
    assert_string(obj, "method", "GET");
    assert_string(obj, "client_ip", "192.0.2.7");
    ck_assert_int_eq(json_integer_value(json_object_get(obj, "status")), 200);
    assert_string(obj, "mode", "enforce");
    assert_string(obj, "decision", "accept");
    ck_assert(json_is_array(json_object_get(obj, "reasons")));
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "reasons")), 0);
    ck_assert(json_is_array(json_object_get(obj, "hints")));
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "hints")), 0);
    const json_t *aud = json_object_get(obj, "aud");
    ck_assert_uint_eq(json_array_size(aud), 2);
    ck_assert_str_eq(json_string_value(json_array_get(aud, 0)), "api://other");
    ck_assert_str_eq(json_string_value(json_array_get(aud, 1)), TS_AUDIENCE);
    assert_string(obj, "matched", TS_AUDIENCE);
    assert_string(obj, "iss", TS_ISSUER);
    assert_string(obj, "sub", "alice");
    assert_string(obj, "client", "app-1");
    assert_string(obj, "typ", "at+jwt");
    assert_string(obj, "alg", "HS256");
    assert_string(obj, "kid", "k1");
    ck_assert(json_is_integer(json_object_get(obj, "exp")));
    ck_assert_int_eq(json_integer_value(json_object_get(obj, "exp")), 1700003600);
    assert_string(obj, "token_id", r->token_id);
    ck_assert_uint_eq(strlen(r->token_id), AUD_TOKEN_ID_HEX);
    assert_string(obj, "request_id", "ZW5jb2RlZA");

    json_decref(obj);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_rejected_record_lists_every_reason)
{
    ts_env env;
    hmac_env(&env);
    char *token = mint("{\"alg\":\"HS256\"}",
                       "{\"iss\":\"https://evil.test\",\"aud\":\"api://other\",\"exp\":1600000000}");
    aud_result *r = ts_env_check(&env, token);
    ts_assert_reasons(r, TS_R(EXPIRED) | TS_R(ISSUER_MISMATCH) | TS_R(AUD_MISMATCH));

    aud_audit_request req = sample_request();
    req.status = 401;
    req.decision = AUD_DECISION_REJECT;
    json_t *obj = record(r, &req, NULL);
    const json_t *reasons = json_object_get(obj, "reasons");
    ck_assert_uint_eq(json_array_size(reasons), 3);
    ck_assert_str_eq(json_string_value(json_array_get(reasons, 0)), "expired");
    ck_assert_str_eq(json_string_value(json_array_get(reasons, 1)), "issuer_mismatch");
    ck_assert_str_eq(json_string_value(json_array_get(reasons, 2)), "aud_mismatch");
    ck_assert_int_eq(json_integer_value(json_object_get(obj, "status")), 401);
    assert_string(obj, "decision", "reject");
    /* A lone string audience is still listed as an array. */
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "aud")), 1);
    assert_string(obj, "iss", "https://evil.test");
    assert_null(obj, "matched");
    assert_null(obj, "sub");
    assert_null(obj, "client");
    assert_null(obj, "typ");
    assert_null(obj, "kid");

    json_decref(obj);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_hostile_claims_stay_on_one_line)
{
    ts_env env;
    hmac_env(&env);
    /* Line breaks, quotes, backslashes, a NUL-free control character,
     * U+2028, a fake second record and non-ASCII text. */
    const char *payload = "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,"
                          "\"sub\":\"a\\nb\\r\\n{\\\"decision\\\":\\\"accept\\\"}\\u2028c\\u0007\\\\\","
                          "\"azp\":\"caf\\u00e9 \\ud83d\\ude00\"}";
    char *token = mint("{\"alg\":\"HS256\",\"kid\":\"x\\ny\"}", payload);
    ts_env_secret(&env, secret, sizeof secret - 1, "x\ny");
    aud_result *r = ts_env_check(&env, token);
    ck_assert_ptr_nonnull(r);

    aud_audit_request req = sample_request();
    char *text = NULL;
    json_t *obj = record(r, &req, &text);
    assert_string(obj, "sub", "a\nb\r\n{\"decision\":\"accept\"}\xE2\x80\xA8" "c\a\\");
    assert_string(obj, "client", "caf\xC3\xA9 \xF0\x9F\x98\x80");
    assert_string(obj, "kid", "x\ny");
    ck_assert_ptr_nonnull(strstr(text, "\\u2028"));
    ck_assert_ptr_null(strstr(text, "\xE2\x80\xA8"));
    /* Exactly one record: the fake one stays inside a string. */
    ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);

    free(text);
    json_decref(obj);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_no_token_content_beyond_listed_claims)
{
    ts_env env;
    hmac_env(&env);
    char *token = mint("{\"alg\":\"HS256\",\"x5u\":\"https://hdr-secret.test\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,"
                       "\"sub\":\"bob\",\"email\":\"bob@claim-secret.test\",\"password\":\"hunter2-claim\"}");
    aud_result *r = ts_env_check(&env, token);
    ck_assert_ptr_nonnull(r);

    aud_audit_request req = sample_request();
    char *text = NULL;
    json_t *obj = record(r, &req, &text);
    const char *first_dot = strchr(token, '.');
    const char *last_dot = strrchr(token, '.');
    char *header_seg = strndup(token, (size_t)(first_dot - token));
    char *payload_seg = strndup(first_dot + 1, (size_t)(last_dot - first_dot - 1));
    const char *sig_seg = last_dot + 1;

    ck_assert_ptr_null(strstr(text, token));
    ck_assert_ptr_null(strstr(text, header_seg));
    ck_assert_ptr_null(strstr(text, payload_seg));
    ck_assert_ptr_null(strstr(text, sig_seg));
    /* Any 12-character run of the signature would be a leak too. */
    for (size_t i = 0; i + 12 <= strlen(sig_seg); i++) {
        char run[13];
        memcpy(run, sig_seg + i, 12);
        run[12] = '\0';
        ck_assert_msg(strstr(text, run) == NULL, "signature fragment %s in the record", run);
    }
    ck_assert_ptr_null(strstr(text, "claim-secret"));
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_null(strstr(text, "hdr-secret"));
    ck_assert_ptr_null(strstr(text, (const char *)secret));

    free(header_seg);
    free(payload_seg);
    free(text);
    json_decref(obj);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_audience_null_and_odd_shapes)
{
    ts_env env;
    hmac_env(&env);
    static const struct {
        const char *aud_member; /* "" for none */
        int want_size;          /* -1: null */
    } cases[] = {
        {"", -1},
        {",\"aud\":42", -1},
        {",\"aud\":{\"a\":1}", -1},
        {",\"aud\":null", -1},
        {",\"aud\":[]", 0},
        {",\"aud\":[1,\"api://y\",null]", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *payload = ts_fmt("{\"iss\":\"%s\",\"exp\":1700003600%s}", TS_ISSUER, cases[i].aud_member);
        char *token = mint("{\"alg\":\"HS256\"}", payload);
        aud_result *r = ts_env_check(&env, token);
        aud_audit_request req = sample_request();
        req.decision = AUD_DECISION_REJECT;
        json_t *obj = record(r, &req, NULL);
        const json_t *aud = json_object_get(obj, "aud");
        if (cases[i].want_size < 0) {
            ck_assert_msg(json_is_null(aud), "aud not null for %s", payload);
        } else {
            ck_assert_msg(json_is_array(aud), "aud not an array for %s", payload);
            ck_assert_uint_eq(json_array_size(aud), (size_t)cases[i].want_size);
        }
        assert_null(obj, "matched");
        char *aud_json = aud_audit_audiences_json(r);
        ck_assert_ptr_nonnull(aud_json);
        if (cases[i].want_size < 0)
            ck_assert_str_eq(aud_json, "null");
        free(aud_json);
        json_decref(obj);
        aud_result_free(r);
        free(token);
        free(payload);
    }
    ts_env_free(&env);
}
END_TEST

START_TEST(test_without_a_token)
{
    aud_audit_request req = sample_request();
    req.status = 401;
    req.decision = AUD_DECISION_REJECT;
    req.request_id = NULL;

    aud_result *r = aud_result_new_reason(AUD_REASON_NO_TOKEN, NULL);
    json_t *obj = record(r, &req, NULL);
    const json_t *reasons = json_object_get(obj, "reasons");
    ck_assert_uint_eq(json_array_size(reasons), 1);
    ck_assert_str_eq(json_string_value(json_array_get(reasons, 0)), "no_token");
    static const char *const token_fields[] = {"aud", "matched", "iss", "sub", "client", "typ",
                                               "alg", "kid", "exp", "token_id", "request_id"};
    for (size_t i = 0; i < sizeof token_fields / sizeof token_fields[0]; i++)
        assert_null(obj, token_fields[i]);
    json_decref(obj);
    aud_result_free(r);

    /* No result at all: every token field null, reasons empty. */
    req.status = 0;
    obj = record(NULL, &req, NULL);
    ck_assert_uint_eq(json_object_size(obj), N_FIELDS);
    assert_null(obj, "status");
    assert_null(obj, "token_id");
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "reasons")), 0);
    json_decref(obj);
}
END_TEST

START_TEST(test_hostile_request_fields)
{
    aud_audit_request req = sample_request();
    req.uri = "/a\n\"b\xff\xfe\xc0\xaf\xed\xa0\x80/caf\xc3\xa9";
    req.method = "GE\rT";
    req.api = "API \"quoted\"\t";
    req.client_ip = NULL;

    aud_result *r = aud_result_new_reason(AUD_REASON_NO_TOKEN, NULL);
    json_t *obj = record(r, &req, NULL);
    /* Invalid UTF-8 (stray bytes, an overlong '/', a surrogate) becomes
     * U+FFFD; valid text stays. */
    const char *uri = json_string_value(json_object_get(obj, "uri"));
    ck_assert_ptr_nonnull(uri);
    ck_assert_ptr_nonnull(strstr(uri, "/a\n\"b\xEF\xBF\xBD"));
    ck_assert_ptr_nonnull(strstr(uri, "/caf\xc3\xa9"));
    ck_assert_ptr_null(strstr(uri, "\xc0\xaf"));
    assert_string(obj, "method", "GE\rT");
    assert_string(obj, "api", "API \"quoted\"\t");
    assert_null(obj, "client_ip");
    json_decref(obj);
    aud_result_free(r);
}
END_TEST

START_TEST(test_long_values_are_bounded)
{
    ts_env env;
    hmac_env(&env);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* A multi-byte character straddling the cut must not be split. */
    memcpy(big + AUD_AUDIT_MAX_VALUE - 1, "\xc3\xa9", 2);
    char auds[4096] = "";
    for (int i = 0; i < 40; i++)
        snprintf(auds + strlen(auds), sizeof auds - strlen(auds), "%s\"a%d\"", i ? "," : "", i);
    char *payload = ts_fmt("{\"iss\":\"" TS_ISSUER "\",\"aud\":[%s],\"exp\":1700003600,\"sub\":\"%s\"}", auds, big);
    char *token = mint("{\"alg\":\"HS256\"}", payload);
    aud_result *r = ts_env_check(&env, token);
    aud_audit_request req = sample_request();
    char *longuri = malloc(5000);
    memset(longuri, '/', 4999);
    longuri[4999] = '\0';
    req.uri = longuri;
    json_t *obj = record(r, &req, NULL);

    const char *sub = json_string_value(json_object_get(obj, "sub"));
    ck_assert_ptr_nonnull(sub);
    ck_assert_uint_eq(strlen(sub), AUD_AUDIT_MAX_VALUE - 1);
    ck_assert_uint_eq(json_array_size(json_object_get(obj, "aud")), AUD_AUDIT_MAX_AUDIENCES);
    ck_assert_uint_le(strlen(json_string_value(json_object_get(obj, "uri"))), AUD_AUDIT_MAX_URI);

    free(longuri);
    json_decref(obj);
    aud_result_free(r);
    free(token);
    free(payload);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_fractional_exp_and_time)
{
    ts_env env;
    hmac_env(&env);
    char *token = mint("{\"alg\":\"HS256\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600.5}");
    aud_result *r = ts_env_check(&env, token);
    aud_audit_request req = sample_request();
    req.time = 0.999;
    json_t *obj = record(r, &req, NULL);
    ck_assert(json_is_real(json_object_get(obj, "exp")));
    ck_assert_double_eq(json_real_value(json_object_get(obj, "exp")), 1700003600.5);
    assert_string(obj, "time", "1970-01-01T00:00:00.999Z");
    json_decref(obj);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_record_in_two_steps)
{
    ts_env env;
    hmac_env(&env);
    char *token = mint("{\"alg\":\"HS256\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":\"" TS_AUDIENCE "\",\"exp\":1700003600,\"sub\":\"s\"}");
    aud_result *r = ts_env_check(&env, token);
    aud_audit_request req = sample_request();
    size_t whole_len = 0, fields_len = 0, joined_len = 0;
    char *whole = aud_audit_record(r, &req, &whole_len);
    char *fields = aud_audit_token_fields(r, &fields_len);
    char *joined = aud_audit_record_with_fields(&req, fields, &joined_len);

    ck_assert_ptr_nonnull(whole);
    ck_assert_ptr_nonnull(fields);
    ck_assert_ptr_nonnull(joined);
    ck_assert_str_eq(whole, joined);
    ck_assert_uint_eq(whole_len, joined_len);
    ck_assert_uint_eq(fields_len, strlen(fields));
    ck_assert_msg(strncmp(fields, "\"reasons\":[]", 12) == 0, "fields start: %s", fields);
    ck_assert_ptr_nonnull(strstr(fields, "\"token_id\":\""));
    ck_assert_ptr_null(strstr(fields, "request_id"));
    ck_assert_ptr_null(strchr(fields, '{'));

    /* The fields of no result at all still make a complete record. */
    char *none = aud_audit_token_fields(NULL, NULL);
    char *line = aud_audit_record_with_fields(&req, none, NULL);
    json_t *obj = record(NULL, &req, NULL);
    json_error_t jerr;
    json_t *again = json_loads(line, 0, &jerr);
    ck_assert_ptr_nonnull(again);
    ck_assert(json_equal(obj, again));
    ck_assert_ptr_null(aud_audit_record_with_fields(&req, NULL, NULL));

    json_decref(obj);
    json_decref(again);
    free(none);
    free(line);
    free(whole);
    free(fields);
    free(joined);
    aud_result_free(r);
    free(token);
    ts_env_free(&env);
}
END_TEST

START_TEST(test_reasons_text)
{
    char buf[64];
    aud_result *r = aud_result_new_reason(AUD_REASON_OK, NULL);
    ck_assert_uint_eq(aud_audit_reasons_text(r, buf, sizeof buf), 2);
    ck_assert_str_eq(buf, "ok");

    aud_result_add_reason(r, AUD_REASON_AUD_MISMATCH, "x");
    aud_result_add_reason(r, AUD_REASON_EXPIRED, "y");
    ck_assert_uint_eq(aud_audit_reasons_text(r, buf, sizeof buf), strlen("expired,aud_mismatch"));
    ck_assert_str_eq(buf, "expired,aud_mismatch");

    /* Truncated like snprintf: terminated, full length returned. */
    char small[8];
    ck_assert_uint_eq(aud_audit_reasons_text(r, small, sizeof small), strlen("expired,aud_mismatch"));
    ck_assert_str_eq(small, "expired");
    ck_assert_uint_eq(aud_audit_reasons_text(r, small, 0), strlen("expired,aud_mismatch"));
    aud_result_free(r);
}
END_TEST

START_TEST(test_primary_reason)
{
    aud_result *r = aud_result_new_reason(AUD_REASON_OK, NULL);
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_OK);
    ck_assert_int_eq(aud_audit_primary_reason(NULL), AUD_REASON_OK);
    aud_result_add_reason(r, AUD_REASON_AUD_MISMATCH, "a");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_AUD_MISMATCH);
    aud_result_add_reason(r, AUD_REASON_EXPIRED, "b");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_EXPIRED);
    aud_result_add_reason(r, AUD_REASON_CLAIM_INVALID, "c");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_CLAIM_INVALID);
    aud_result_add_reason(r, AUD_REASON_BAD_SIGNATURE, "d");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_BAD_SIGNATURE);
    aud_result_add_reason(r, AUD_REASON_MALFORMED, "e");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_MALFORMED);
    aud_result_add_reason(r, AUD_REASON_NO_AUDIENCE_CONFIGURED, "f");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_NO_AUDIENCE_CONFIGURED);
    aud_result_add_reason(r, AUD_REASON_KEYS_UNAVAILABLE, "g");
    ck_assert_int_eq(aud_audit_primary_reason(r), AUD_REASON_KEYS_UNAVAILABLE);
    aud_result_free(r);
}
END_TEST

/* Pins: the record's request fields are written by the module itself, not
 * by jansson (issue 12, for speed), and must read byte for byte as jansson
 * writes them (JSON_ENSURE_ASCII: every non-ASCII character as \\uXXXX,
 * surrogate pairs above U+FFFF, control characters escaped, DEL as is). */
static void assert_uri_as_jansson_writes(const char *uri)
{
    aud_audit_request req = sample_request();
    req.uri = uri;
    aud_result *r = aud_result_new_reason(AUD_REASON_NO_TOKEN, NULL);
    char *text = aud_audit_record(r, &req, NULL);
    json_t *value = json_string(uri);
    ck_assert_ptr_nonnull(value);
    char *want = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(text);
    const char *at = strstr(text, ",\"uri\":");
    ck_assert_ptr_nonnull(at);
    at += strlen(",\"uri\":");
    ck_assert_msg(strncmp(at, want, strlen(want)) == 0 && strncmp(at + strlen(want), ",\"method\":", 10) == 0,
                  "uri written as %.*s, jansson writes %s", (int)strlen(want) + 12, at, want);
    free(want);
    json_decref(value);
    free(text);
    aud_result_free(r);
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

START_TEST(test_request_fields_written_as_jansson_writes_them)
{
    static const char *const fixed[] = {
        "/plain/path?q=1&r=2", "/q\"uote\\back/slash", "\x01\x02\x1f\b\f\n\r\t\x7f", "/caf\xc3\xa9",
        "/\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xae", "/\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "", "\"", "\\",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        assert_uri_as_jansson_writes(fixed[i]);
    /* Random valid UTF-8 from a fixed seed: every length class of
     * character, ASCII controls and the surrogate-free ranges. */
    uint32_t state = 12345;
    for (int n = 0; n < 2000; n++) {
        char uri[AUD_AUDIT_MAX_URI / 2];
        size_t len = 0;
        while (len + 4 < sizeof uri - 1) {
            state = state * 1103515245u + 12345u;
            uint32_t pick = state >> 8;
            uint32_t cp;
            switch (pick % 5) {
            case 0: cp = pick % 0x80; break;
            case 1: cp = 0x80 + pick % 0x780; break;
            case 2: cp = 0x800 + pick % (0xD800 - 0x800); break;
            case 3: cp = 0xE000 + pick % 0x2000; break;
            default: cp = 0x10000 + pick % 0x100000; break;
            }
            if (cp == 0)
                cp = 'z';
            len += put_utf8(uri + len, cp);
            if (pick % 7 == 0)
                break;
        }
        uri[len] = '\0';
        assert_uri_as_jansson_writes(uri);
    }
}
END_TEST

/* Pins: the record's token fields are written by the module itself since
 * issue 12 (jansson's object building and dump were 4 µs of every new
 * token's cost with the audit log on), and read byte for byte as the jansson
 * object gave them: member order, separators, escaping, audiences, a
 * fractional exp, hints. The expected texts are what the jansson version
 * (commit f9df3e2) wrote for these tokens. */
static void assert_fields_text(ts_env *env, const char *header, const char *payload, const char *want)
{
    char *token = mint(header, payload);
    aud_result *r = ts_env_check(env, token);
    ck_assert_ptr_nonnull(r);
    if (!aud_result_accepted(r)) {
        if (r->hints == NULL)
            r->hints = json_array();
        ck_assert(json_array_append_new(r->hints, json_pack("{s:s,s:s}", "code", "x\ny", "text", "caf\xc3\xa9")) == 0);
    }
    r->token_id[0] = '\0'; /* the digest of an HMAC token minted here; its spelling is tested elsewhere */
    char *fields = aud_audit_token_fields(r, NULL);
    ck_assert_ptr_nonnull(fields);
    ck_assert_str_eq(fields, want);
    free(fields);
    aud_result_free(r);
    free(token);
}

START_TEST(test_token_fields_written_as_jansson_wrote_them)
{
    ts_env env;
    hmac_env(&env);
    assert_fields_text(&env, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":[\"api://y\",\"" TS_AUDIENCE "\"],\"exp\":1700003600,"
                       "\"sub\":\"caf\\u00e9\\n\\ud83d\\ude00\",\"azp\":\"c\"}",
                       "\"reasons\":[],\"hints\":[],\"aud\":[\"api://y\",\"api://x\"],\"matched\":\"api://x\",\"iss\":\"https://issuer.test\",\"sub\":\"caf\\u00E9\\n\\uD83D\\uDE00\",\"client\":\"c\",\"typ\":\"at+jwt\",\"alg\":\"HS256\",\"kid\":null,\"exp\":1700003600,\"token_id\":null");
    assert_fields_text(&env, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k\\\"1\"}",
                       "{\"iss\":\"" TS_ISSUER "\",\"aud\":[\"api://y\",7,\"" TS_AUDIENCE "\"],\"exp\":1700003600,"
                       "\"sub\":\"caf\\u00e9\\n\\ud83d\\ude00\",\"azp\":\"c\"}",
                       "\"reasons\":[\"malformed\",\"unknown_key\"],\"hints\":[{\"code\":\"x\\ny\",\"text\":\"caf\\u00E9\"}],\"aud\":[\"api://y\",\"api://x\"],\"matched\":null,\"iss\":\"https://issuer.test\",\"sub\":\"caf\\u00E9\\n\\uD83D\\uDE00\",\"client\":\"c\",\"typ\":\"at+jwt\",\"alg\":\"HS256\",\"kid\":\"k\\\"1\",\"exp\":1700003600,\"token_id\":null");
    assert_fields_text(&env, "{\"alg\":\"HS256\"}",
                       "{\"iss\":\"https://other\",\"aud\":\"api://z\",\"exp\":1700003600.5}",
                       "\"reasons\":[\"issuer_mismatch\",\"aud_mismatch\"],\"hints\":[{\"code\":\"x\\ny\",\"text\":\"caf\\u00E9\"}],\"aud\":[\"api://z\"],\"matched\":null,\"iss\":\"https://other\",\"sub\":null,\"client\":null,\"typ\":null,\"alg\":\"HS256\",\"kid\":null,\"exp\":1700003600.5,\"token_id\":null");
    ts_env_free(&env);
}
END_TEST

Suite *suite_audit(void)
{
    const TTest *tests[] = {
        test_accepted_record_fields, test_rejected_record_lists_every_reason,
        test_hostile_claims_stay_on_one_line, test_no_token_content_beyond_listed_claims,
        test_audience_null_and_odd_shapes, test_without_a_token, test_hostile_request_fields,
        test_long_values_are_bounded, test_fractional_exp_and_time, test_record_in_two_steps,
        test_reasons_text, test_primary_reason, test_request_fields_written_as_jansson_writes_them,
        test_token_fields_written_as_jansson_wrote_them, NULL};
    return ts_suite("audit", "record", tests);
}
