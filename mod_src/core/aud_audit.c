/* The audit record (see aud_audit.h). */
#include "aud_audit.h"
#include "aud_utf8.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aud_buf.h"
#include "aud_claim.h"
#include "aud_time.h"

/* A JSON string from bytes that may not be UTF-8 and may be too long: each
 * invalid byte becomes U+FFFD, and the value is cut at a character boundary
 * once it reaches max bytes. jansson refuses invalid UTF-8 outright, and a
 * field that silently went missing would hide exactly the hostile input an
 * operator wants to see. */
static json_t *safe_string(const char *in, size_t in_len, size_t max)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *)in;
    size_t cap = in_len < max ? in_len : max;
    /* Each input byte becomes at most 3 output bytes. */
    char *out = malloc(cap * 3 + 1);
    size_t o = 0;
    json_t *value;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < in_len;) {
        size_t n = aud_utf8_char_length(s + i, in_len - i);
        size_t add = n ? n : sizeof replacement - 1;
        if (o + add > max)
            break;
        if (n) {
            memcpy(out + o, s + i, n);
            i += n;
        } else {
            memcpy(out + o, replacement, add);
            i++;
        }
        o += add;
    }
    value = json_stringn(out, o);
    free(out);
    return value;
}

/* json_object_set_new that tolerates a NULL value (memory exhaustion) by
 * writing null, so that the record keeps every field. */
static void put(json_t *obj, const char *key, json_t *value)
{
    json_object_set_new(obj, key, value ? value : json_null());
}

/* Compact output never contains a raw line break (jansson escapes control
 * characters in strings); ENSURE_ASCII also escapes U+2028/U+2029, which
 * some viewers treat as line ends. */
#define AUD_AUDIT_DUMP_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY)

/* The record's head is written here directly rather than through jansson:
 * it is built for every request (a cached token's fields are kept), and
 * jansson's object building and callback-driven dump cost more than the
 * rest of a cached request. The output is byte for byte what
 * json_dumps(safe_string(...), AUD_AUDIT_DUMP_FLAGS) gives (a unit test
 * compares the two on hostile strings). */
static void record_escape(aud_buf *b, uint32_t cp)
{
    char seq[16];
    int n;

    if (cp >= 0x10000) {
        cp -= 0x10000;
        n = snprintf(seq, sizeof seq, "\\u%04X\\u%04X", (unsigned)(0xD800 | (cp >> 10)),
                     (unsigned)(0xDC00 | (cp & 0x3FF)));
    } else {
        n = snprintf(seq, sizeof seq, "\\u%04X", (unsigned)cp);
    }
    aud_buf_put(b, seq, (size_t)n);
}

/* s as safe_string would keep it, as a JSON string with only ASCII; null
 * for NULL. */
static void record_string(aud_buf *b, const char *in, size_t max)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t in_len, kept = 0;

    if (in == NULL) {
        aud_buf_put(b, "null", 4);
        return;
    }
    in_len = strlen(in);
    aud_buf_put(b, "\"", 1);
    for (size_t i = 0; i < in_len;) {
        /* A run of printable ASCII other than the two that need a backslash. */
        size_t run = 0;
        while (i + run < in_len && kept + run < max && s[i + run] >= 0x20 && s[i + run] < 0x80 &&
               s[i + run] != '"' && s[i + run] != '\\')
            run++;
        if (run > 0) {
            aud_buf_put(b, in + i, run);
            i += run;
            kept += run;
            continue;
        }
        size_t n = aud_utf8_char_length(s + i, in_len - i);
        size_t add = n ? n : 3; /* U+FFFD takes three bytes */
        if (kept + add > max)
            break;
        kept += add;
        if (n == 0) {
            record_escape(b, 0xFFFD);
            i++;
            continue;
        }
        unsigned char c = s[i];
        i += n;
        if (n == 1) {
            static const char *const named[0x20] = {['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n",
                                                    ['\r'] = "\\r", ['\t'] = "\\t"};
            if (c == '"')
                aud_buf_put(b, "\\\"", 2);
            else if (c == '\\')
                aud_buf_put(b, "\\\\", 2);
            else if (named[c] != NULL)
                aud_buf_put(b, named[c], 2);
            else
                record_escape(b, c);
            continue;
        }
        record_escape(b, aud_utf8_code_point(s + i - n, n));
    }
    aud_buf_put(b, "\"", 1);
}

/* The members of obj as JSON text without the enclosing braces. */
static char *members_text(json_t *obj, size_t *len)
{
    char *text = json_dumps(obj, AUD_AUDIT_DUMP_FLAGS);
    size_t n;

    if (text == NULL)
        return NULL;
    n = strlen(text);
    /* "{...}" -> "..." */
    memmove(text, text + 1, n - 2);
    text[n - 2] = '\0';
    if (len != NULL)
        *len = n - 2;
    return text;
}

/* A string member of a token object, or null when it is absent or not a
 * string. */
static void record_member(aud_buf *b, const json_t *object, const char *name)
{
    const json_t *v = object ? json_object_get(object, name) : NULL;
    record_string(b, json_is_string(v) ? json_string_value(v) : NULL, AUD_AUDIT_MAX_VALUE);
}

/* "aud" as an array of its strings (a lone string becomes a one-element
 * array; elements that are not strings are left out, the reason codes
 * already say the claim was malformed), or null. */
static void record_audiences(aud_buf *b, const aud_result *r)
{
    const json_t *aud = r && r->claims ? json_object_get(r->claims, "aud") : NULL;

    if (json_is_string(aud)) {
        aud_buf_put(b, "[", 1);
        record_string(b, json_string_value(aud), AUD_AUDIT_MAX_VALUE);
        aud_buf_put(b, "]", 1);
        return;
    }
    if (!json_is_array(aud)) {
        aud_buf_put(b, "null", 4);
        return;
    }
    aud_buf_put(b, "[", 1);
    for (size_t i = 0, kept = 0; i < json_array_size(aud) && kept < AUD_AUDIT_MAX_AUDIENCES; i++) {
        const json_t *e = json_array_get(aud, i);
        if (!json_is_string(e))
            continue;
        if (kept++ > 0)
            aud_buf_put(b, ",", 1);
        record_string(b, json_string_value(e), AUD_AUDIT_MAX_VALUE);
    }
    aud_buf_put(b, "]", 1);
}

/* A value only jansson should spell (hints' nested objects, a fractional
 * exp), in the record's flags. */
static void record_jansson(aud_buf *b, const json_t *value)
{
    char *text = value ? json_dumps(value, AUD_AUDIT_DUMP_FLAGS) : NULL;

    if (text == NULL) {
        aud_buf_put(b, "null", 4);
        return;
    }
    aud_buf_str(b, text);
    free(text);
}

static void record_expiry(aud_buf *b, const aud_result *r)
{
    const json_t *exp = r && r->claims ? json_object_get(r->claims, "exp") : NULL;
    char digits[24];

    if (json_is_integer(exp)) {
        int n = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(exp));
        aud_buf_put(b, digits, (size_t)n);
    } else if (json_is_real(exp)) {
        record_jansson(b, exp);
    } else {
        aud_buf_put(b, "null", 4);
    }
}

/* Written directly, as the head is, rather than built as a jansson object
 * and dumped: a new token's verdict carries these fields whenever the audit
 * log is on, and jansson's building and dump cost about 4 µs of it. Member
 * order and spelling are what that object gave (tests/unit/check_audit.c
 * parses the record; the strings are record_string's, checked against
 * jansson's own escaping). */
char *aud_audit_token_fields(const aud_result *result, size_t *len)
{
    const aud_result *r = result;
    aud_buf b = {0};

    aud_buf_str(&b, "\"reasons\":[");
    for (int i = AUD_REASON_OK + 1, n = 0; r != NULL && i < AUD_REASON_COUNT; i++) {
        if (!aud_result_has(r, (aud_reason)i))
            continue;
        if (n++ > 0)
            aud_buf_put(&b, ",", 1);
        record_string(&b, aud_reason_code((aud_reason)i), AUD_AUDIT_MAX_VALUE);
    }
    /* Hints are the core's (aud_hints_add) when the embedder asked for
     * them; the record always has the array. */
    aud_buf_str(&b, "],\"hints\":");
    if (r != NULL && json_is_array(r->hints) && json_array_size(r->hints) > 0)
        record_jansson(&b, r->hints);
    else
        aud_buf_put(&b, "[]", 2);
    aud_buf_str(&b, ",\"aud\":");
    record_audiences(&b, r);
    aud_buf_str(&b, ",\"matched\":");
    record_string(&b, r ? r->matched_audience : NULL, AUD_AUDIT_MAX_VALUE);
    aud_buf_str(&b, ",\"iss\":");
    record_member(&b, r ? r->claims : NULL, "iss");
    aud_buf_str(&b, ",\"sub\":");
    record_member(&b, r ? r->claims : NULL, "sub");
    aud_buf_str(&b, ",\"client\":");
    record_string(&b, r ? aud_result_client(r) : NULL, AUD_AUDIT_MAX_VALUE);
    aud_buf_str(&b, ",\"typ\":");
    record_member(&b, r ? r->header : NULL, "typ");
    aud_buf_str(&b, ",\"alg\":");
    record_member(&b, r ? r->header : NULL, "alg");
    aud_buf_str(&b, ",\"kid\":");
    record_member(&b, r ? r->header : NULL, "kid");
    aud_buf_str(&b, ",\"exp\":");
    record_expiry(&b, r);
    aud_buf_str(&b, ",\"token_id\":");
    record_string(&b, r && r->token_id[0] ? r->token_id : NULL, AUD_AUDIT_MAX_VALUE);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.p;
}

char *aud_audit_record_with_fields(const aud_audit_request *req, const char *token_fields, size_t *len)
{
    char when[64], status[24];
    aud_buf hb = {0}, tb = {0};
    char *head, *tail, *line = NULL;
    size_t head_len = 0, fields_len, tail_len;

    if (token_fields == NULL)
        return NULL;
    aud_time_format_rfc3339(req->time, when, sizeof when);
    aud_buf_str(&hb, "\"time\":");
    record_string(&hb, when, sizeof when);
    aud_buf_str(&hb, ",\"api\":");
    record_string(&hb, req->api, AUD_AUDIT_MAX_VALUE);
    aud_buf_str(&hb, ",\"uri\":");
    record_string(&hb, req->uri, AUD_AUDIT_MAX_URI);
    aud_buf_str(&hb, ",\"method\":");
    record_string(&hb, req->method, AUD_AUDIT_MAX_VALUE);
    aud_buf_str(&hb, ",\"client_ip\":");
    record_string(&hb, req->client_ip, AUD_AUDIT_MAX_VALUE);
    snprintf(status, sizeof status, "%d", req->status);
    aud_buf_str(&hb, ",\"status\":");
    aud_buf_str(&hb, req->status > 0 ? status : "null");
    aud_buf_str(&hb, ",\"mode\":");
    record_string(&hb, aud_mode_word(req->mode), AUD_AUDIT_MAX_VALUE);
    aud_buf_str(&hb, ",\"decision\":");
    record_string(&hb, aud_decision_word(req->decision), AUD_AUDIT_MAX_VALUE);
    record_string(&tb, req->request_id, AUD_AUDIT_MAX_VALUE);
    head = hb.failed ? NULL : hb.p;
    head_len = hb.len;
    tail = tb.failed ? NULL : tb.p;
    if (hb.failed)
        free(hb.p);
    if (tb.failed)
        free(tb.p);
    /* An authorization refusal: the token passed every check, so its
     * reasons were empty; now they say why the request was refused. */
    static const char no_reasons[] = "\"reasons\":[]";
    static const char authz_reasons[] = "\"reasons\":[\"insufficient_scope\"]";
    const char *authz = req->authz_fields;
    size_t authz_len = authz ? strlen(authz) + 1 : 0;
    bool swap_reasons = authz != NULL && strncmp(token_fields, no_reasons, sizeof no_reasons - 1) == 0;
    if (swap_reasons)
        token_fields += sizeof no_reasons - 1;
    size_t reasons_len = swap_reasons ? sizeof authz_reasons - 1 : 0;
    /* The refusal's hints go first in the hints array, which follows the
     * reasons: ',"hints":[' then the token's own, if any. */
    static const char hints_open[] = ",\"hints\":[";
    const char *extra = swap_reasons ? req->authz_hints : NULL;
    size_t extra_len = 0;
    if (extra != NULL && strlen(extra) > 2 && strncmp(token_fields, hints_open, sizeof hints_open - 1) == 0) {
        extra += 1; /* inside its brackets */
        extra_len = strlen(extra) - 1;
    } else {
        extra = NULL;
    }
    bool extra_comma = extra != NULL && token_fields[sizeof hints_open - 1] != ']';
    if (head != NULL && tail != NULL) {
        fields_len = strlen(token_fields);
        tail_len = strlen(tail);
        /* "{" head "," [reasons] fields ",\"request_id\":" tail ["," authz] "}\n" */
        size_t total = 1 + head_len + 1 + reasons_len + fields_len + 14 + tail_len + authz_len + 2 +
                       (extra ? extra_len + (extra_comma ? 1 : 0) : 0);
        line = malloc(total + 1);
        if (line != NULL) {
            char *p = line;
            *p++ = '{';
            memcpy(p, head, head_len);
            p += head_len;
            *p++ = ',';
            memcpy(p, authz_reasons, reasons_len);
            p += reasons_len;
            if (extra != NULL) {
                memcpy(p, hints_open, sizeof hints_open - 1);
                p += sizeof hints_open - 1;
                memcpy(p, extra, extra_len);
                p += extra_len;
                if (extra_comma)
                    *p++ = ',';
                memcpy(p, token_fields + sizeof hints_open - 1, fields_len - (sizeof hints_open - 1));
                p += fields_len - (sizeof hints_open - 1);
            } else {
                memcpy(p, token_fields, fields_len);
                p += fields_len;
            }
            memcpy(p, ",\"request_id\":", 14);
            p += 14;
            memcpy(p, tail, tail_len);
            p += tail_len;
            if (authz != NULL) {
                *p++ = ',';
                memcpy(p, authz, authz_len - 1);
                p += authz_len - 1;
            }
            *p++ = '}';
            *p++ = '\n';
            *p = '\0';
            if (len != NULL)
                *len = total;
        }
    }
    free(head);
    free(tail);
    return line;
}

char *aud_audit_record(const aud_result *result, const aud_audit_request *req, size_t *len)
{
    char *fields = aud_audit_token_fields(result, NULL);
    char *line = fields ? aud_audit_record_with_fields(req, fields, len) : NULL;

    free(fields);
    return line;
}

/* Words from the claims as a bounded JSON array. */
static json_t *word_list(const aud_claim_word *words, size_t n)
{
    json_t *list = json_array();

    for (size_t i = 0; list != NULL && i < n; i++) {
        json_t *w = safe_string(words[i].p, words[i].n, AUD_AUDIT_MAX_VALUE);
        if (w != NULL)
            json_array_append_new(list, w);
    }
    return list;
}

char *aud_audit_authz_fields(const char *required_json, const json_t *claims)
{
    aud_claim_word words[AUD_AUDIT_MAX_AUDIENCES];
    json_t *obj = json_object(), *required = NULL;
    json_error_t jerr;
    char *text;

    if (obj == NULL)
        return NULL;
    if (required_json != NULL)
        required = json_loads(required_json, JSON_DECODE_ANY, &jerr);
    put(obj, "required", required ? required : json_null());
    put(obj, "scopes", word_list(words, claims ? aud_claim_scopes(claims, words, AUD_AUDIT_MAX_AUDIENCES) : 0));
    put(obj, "roles", word_list(words, claims ? aud_claim_roles(claims, words, AUD_AUDIT_MAX_AUDIENCES) : 0));
    text = members_text(obj, NULL);
    json_decref(obj);
    return text;
}

/* snprintf-style append: truncates, always terminates, counts the full
 * length. */
static void append(char *buf, size_t len, size_t *pos, const char *s)
{
    size_t n = strlen(s);

    if (len > 0 && *pos < len - 1) {
        size_t room = len - 1 - *pos;
        size_t k = n < room ? n : room;
        memcpy(buf + *pos, s, k);
        buf[*pos + k] = '\0';
    }
    *pos += n;
}

size_t aud_audit_reasons_text(const aud_result *result, char *buf, size_t len)
{
    size_t pos = 0;

    if (len > 0)
        buf[0] = '\0';
    for (int i = AUD_REASON_OK + 1; result != NULL && i < AUD_REASON_COUNT; i++) {
        if (!aud_result_has(result, (aud_reason)i))
            continue;
        if (pos > 0)
            append(buf, len, &pos, ",");
        append(buf, len, &pos, aud_reason_code((aud_reason)i));
    }
    if (pos == 0)
        append(buf, len, &pos, aud_reason_code(AUD_REASON_OK));
    return pos;
}

char *aud_audit_audiences_json(const aud_result *result)
{
    aud_buf b = {0};

    record_audiences(&b, result);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

aud_reason aud_audit_primary_reason(const aud_result *result)
{
    /* Server-side problems first, because no token can fix them; then the
     * order in which a token is checked, so that a forged token is described
     * as forged rather than by the claims it happens to carry. */
    static const aud_reason order[] = {
        AUD_REASON_KEYS_UNAVAILABLE, AUD_REASON_NO_AUDIENCE_CONFIGURED,
        AUD_REASON_NO_TOKEN,         AUD_REASON_MALFORMED,
        AUD_REASON_ALG_NOT_ALLOWED,  AUD_REASON_UNKNOWN_KEY,
        AUD_REASON_BAD_SIGNATURE,    AUD_REASON_TOKEN_TYPE,
        AUD_REASON_CLAIM_INVALID,
        AUD_REASON_EXPIRED,          AUD_REASON_NOT_YET_VALID,
        AUD_REASON_ISSUER_MISMATCH,  AUD_REASON_AUD_MISSING,
        AUD_REASON_AUD_MISMATCH,
    };

    if (result == NULL)
        return AUD_REASON_OK;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (aud_result_has(result, order[i]))
            return order[i];
    }
    /* A reason added after this list was written still counts as a failure. */
    for (int i = AUD_REASON_OK + 1; i < AUD_REASON_COUNT; i++) {
        if (aud_result_has(result, (aud_reason)i))
            return (aud_reason)i;
    }
    return AUD_REASON_OK;
}

static const char *const decision_words[AUD_DECISION_COUNT] = {
    [AUD_DECISION_ACCEPT] = "accept",
    [AUD_DECISION_REJECT] = "reject",
    [AUD_DECISION_AUDIT_REJECT] = "audit_reject",
    [AUD_DECISION_PREFLIGHT] = "preflight",
};
static const char *const mode_words[AUD_MODE_COUNT] = {
    [AUD_MODE_ENFORCE] = "enforce",
    [AUD_MODE_AUDIT] = "audit",
};

const char *aud_decision_word(aud_decision decision)
{
    return (unsigned)decision < AUD_DECISION_COUNT ? decision_words[decision] : "unknown";
}

const char *aud_mode_word(aud_mode mode)
{
    return (unsigned)mode < AUD_MODE_COUNT ? mode_words[mode] : "unknown";
}

bool aud_mode_from_word(const char *word, aud_mode *out)
{
    for (int i = 0; i < AUD_MODE_COUNT; i++) {
        if (strcasecmp(word, mode_words[i]) == 0) {
            *out = (aud_mode)i;
            return true;
        }
    }
    return false;
}

aud_decision aud_decision_of(const aud_result *result, aud_mode mode)
{
    if (result != NULL && aud_result_accepted(result))
        return AUD_DECISION_ACCEPT;
    return mode == AUD_MODE_AUDIT ? AUD_DECISION_AUDIT_REJECT : AUD_DECISION_REJECT;
}
