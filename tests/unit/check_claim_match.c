/* Claim matching for authorization (aud_claim.h). Pins: a JSON Pointer
 * with a bad '~' escape is refused at configuration time, never read
 * loosely; a name without a leading '/' is one member even when it holds
 * slashes (Auth0's URL-named claims); array indices are strict (no leading
 * zeros, "-" never matches); numbers and booleans match by their JSON text
 * and a real never equals an integer's text; objects and null never match;
 * scopes come from "scope" before "scp"; and a value for a header never
 * carries CR, LF, another control byte, DEL or a non-ASCII byte. No time is
 * involved. */
#include <stdlib.h>
#include <string.h>

#include "aud_claim.h"
#include "suites.h"
#include "test_support.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    ck_assert_msg(v != NULL, "fixture does not parse: %s", e.text);
    return v;
}

/* Keycloak puts realm roles and per-client roles in nested objects. */
static const char KEYCLOAK[] =
    "{\"sub\":\"u1\",\"realm_access\":{\"roles\":[\"offline_access\",\"orders-admin\"]},"
    "\"resource_access\":{\"account\":{\"roles\":[\"manage-account\",\"view-profile\"]}},"
    "\"a/b\":{\"c~d\":\"escaped\"},\"\":{\"\":\"empty keys\"},"
    "\"list\":[\"zero\",\"one\",\"two\",\"three\",\"four\",\"five\",\"six\",\"seven\",\"eight\",\"nine\",\"ten\"],"
    "\"scope\":\"openid orders.read\"}";

static const char *lookup_string(const char *name, const json_t *claims)
{
    aud_error err;
    aud_claim_ref *ref = aud_claim_ref_parse(name, &err);
    ck_assert_msg(ref != NULL, "%s: %s", name, err.text);
    const json_t *v = aud_claim_ref_get(ref, claims);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    aud_claim_ref_free(ref);
    return s;
}

static bool found(const char *name, const json_t *claims)
{
    aud_error err;
    aud_claim_ref *ref = aud_claim_ref_parse(name, &err);
    ck_assert_msg(ref != NULL, "%s: %s", name, err.text);
    bool hit = aud_claim_ref_get(ref, claims) != NULL;
    aud_claim_ref_free(ref);
    return hit;
}

START_TEST(pointer_lookup_keycloak)
{
    json_t *c = parse(KEYCLOAK);
    const char *roles[] = {"orders-admin"}, *account[] = {"view-profile"}, *other[] = {"orders-admin"};
    aud_error err;
    aud_claim_ref *ref = aud_claim_ref_parse("/realm_access/roles", &err);
    ck_assert_ptr_nonnull(ref);
    ck_assert_str_eq(aud_claim_ref_name(ref), "/realm_access/roles");
    ck_assert(aud_claim_value_matches(aud_claim_ref_get(ref, c), roles, 1));
    aud_claim_ref_free(ref);
    ref = aud_claim_ref_parse("/resource_access/account/roles", &err);
    ck_assert_ptr_nonnull(ref);
    ck_assert(aud_claim_value_matches(aud_claim_ref_get(ref, c), account, 1));
    ck_assert(!aud_claim_value_matches(aud_claim_ref_get(ref, c), other, 1));
    aud_claim_ref_free(ref);
    /* Indices into arrays; "/list/1" is "one". */
    ck_assert_str_eq(lookup_string("/list/0", c), "zero");
    ck_assert_str_eq(lookup_string("/list/10", c), "ten");
    ck_assert_str_eq(lookup_string("/realm_access/roles/1", c), "orders-admin");
    ck_assert(!found("/list/11", c));
    ck_assert(!found("/list/01", c));
    ck_assert(!found("/list/-", c));
    ck_assert(!found("/list/+1", c));
    ck_assert(!found("/list/1a", c));
    ck_assert(!found("/list/", c));
    ck_assert(!found("/list/99999999999999999999999999", c));
    /* Into a scalar, or a member that is absent. */
    ck_assert(!found("/sub/x", c));
    ck_assert(!found("/nope", c));
    ck_assert(!found("/realm_access/roles/0/x", c));
    json_decref(c);
}
END_TEST

START_TEST(pointer_escapes_and_empty_tokens)
{
    json_t *c = parse(KEYCLOAK);
    ck_assert_str_eq(lookup_string("/a~1b/c~0d", c), "escaped");
    ck_assert_str_eq(lookup_string("//", c), "empty keys");
    ck_assert(found("/", c));
    /* "~01" is "~1" (the escape is decoded once), not "/". */
    json_t *d = parse("{\"~1\":\"tilde-one\",\"/\":\"slash\"}");
    ck_assert_str_eq(lookup_string("/~01", d), "tilde-one");
    ck_assert_str_eq(lookup_string("/~1", d), "slash");
    json_decref(d);
    json_decref(c);
}
END_TEST

START_TEST(pointer_malformed)
{
    static const char *const bad[] = {"/a~", "/a~2", "/~", "/x/~a", "/ok/~~", "/a~/b"};
    aud_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        ck_assert_msg(aud_claim_ref_parse(bad[i], &err) == NULL, "%s was accepted", bad[i]);
        ck_assert_msg(strstr(err.text, "'~' must be followed by '0'") != NULL, "%s: %s", bad[i], err.text);
    }
    ck_assert_ptr_null(aud_claim_ref_parse("", &err));
    ck_assert_str_eq(err.text, "a claim name must not be empty");
    ck_assert_ptr_null(aud_claim_ref_parse(NULL, &err));
    /* The configured text is quoted: a newline never reaches the message. */
    ck_assert_ptr_null(aud_claim_ref_parse("/a\nb~", &err));
    ck_assert_ptr_null(strchr(err.text, '\n'));
    ck_assert_ptr_nonnull(strstr(err.text, "'/a?b~'"));
}
END_TEST

START_TEST(plain_names_verbatim)
{
    /* Auth0: namespaced claims are URLs, taken as one member. */
    json_t *c = parse("{\"https://example.com/roles\":[\"admin\",\"billing\"],\"a~b\":\"t\",\"x\":{\"y\":1}}");
    const char *admin[] = {"admin"};
    aud_error err;
    aud_claim_ref *ref = aud_claim_ref_parse("https://example.com/roles", &err);
    ck_assert_ptr_nonnull(ref);
    ck_assert(aud_claim_value_matches(aud_claim_ref_get(ref, c), admin, 1));
    aud_claim_ref_free(ref);
    /* No escapes in a plain name: "a~b" is that member; "x/y" is not x.y. */
    ck_assert_str_eq(lookup_string("a~b", c), "t");
    ck_assert(!found("x/y", c));
    ck_assert(found("x", c));
    /* Claims that are not an object. */
    json_t *arr = parse("[1]");
    ck_assert(!found("x", arr));
    ck_assert(!found("/0", arr));
    ck_assert(!found("x", NULL));
    json_decref(arr);
    json_decref(c);
}
END_TEST

static bool matches_text(const char *json, const char *want)
{
    json_t *v = parse(json);
    const char *w[] = {"unrelated", want};
    bool r = aud_claim_value_matches(v, w, 2);
    json_decref(v);
    return r;
}

START_TEST(matching_by_json_text)
{
    ck_assert(matches_text("\"admin\"", "admin"));
    ck_assert(!matches_text("\"admin\"", "Admin"));
    ck_assert(!matches_text("\"admin\"", "admin "));
    ck_assert(!matches_text("\"admin\"", "adm"));
    ck_assert(matches_text("\"caf\\u00e9\"", "caf\xc3\xa9"));
    ck_assert(matches_text("5", "5"));
    ck_assert(matches_text("-12", "-12"));
    ck_assert(!matches_text("5", "5.0"));
    ck_assert(!matches_text("5", "05"));
    ck_assert(matches_text("true", "true"));
    ck_assert(matches_text("false", "false"));
    ck_assert(!matches_text("true", "1"));
    ck_assert(!matches_text("true", "True"));
    ck_assert(matches_text("1.5", "1.5"));
    ck_assert(matches_text("5.0", "5.0"));
    ck_assert(!matches_text("5.0", "5"));
    ck_assert(matches_text("0.1", "0.1"));
    ck_assert(matches_text("1.50", "1.5"));
    ck_assert(matches_text("1e2", "100.0"));
    /* The string "5" is a string: it matches "5" as well. */
    ck_assert(matches_text("\"5\"", "5"));
    /* Arrays: any element; nested arrays and objects never. */
    ck_assert(matches_text("[\"a\",\"b\"]", "b"));
    ck_assert(matches_text("[1,2,3]", "3"));
    ck_assert(matches_text("[false,true]", "true"));
    ck_assert(!matches_text("[[\"b\"]]", "b"));
    ck_assert(!matches_text("[]", "b"));
    ck_assert(!matches_text("[{\"b\":\"b\"}]", "b"));
    ck_assert(!matches_text("{\"b\":\"b\"}", "b"));
    ck_assert(!matches_text("{}", "{}"));
    ck_assert(!matches_text("null", "null"));
    ck_assert(!matches_text("[null]", "null"));
    ck_assert(!aud_claim_value_matches(NULL, (const char *const[]){"x"}, 1));
    json_t *v = parse("\"x\"");
    ck_assert(!aud_claim_value_matches(v, NULL, 0));
    json_decref(v);
}
END_TEST

static const char *scalar(const char *json, char *out, size_t size)
{
    json_t *v = parse(json);
    bool ok = aud_claim_scalar_text(v, out, size);
    json_decref(v);
    return ok ? out : NULL;
}

START_TEST(real_text_shortest_round_trip)
{
    char b[AUD_CLAIM_SCALAR_SIZE];
    ck_assert_str_eq(scalar("1.5", b, sizeof b), "1.5");
    ck_assert_str_eq(scalar("0.1", b, sizeof b), "0.1");
    ck_assert_str_eq(scalar("2.0", b, sizeof b), "2.0");
    ck_assert_str_eq(scalar("-0.0", b, sizeof b), "-0.0");
    ck_assert_str_eq(scalar("1e300", b, sizeof b), "1e+300");
    ck_assert_str_eq(scalar("1e2", b, sizeof b), "100.0");
    ck_assert_str_eq(scalar("1.5e16", b, sizeof b), "15000000000000000.0");
    ck_assert_str_eq(scalar("1e17", b, sizeof b), "1e+17");
    ck_assert_str_eq(scalar("0.0001", b, sizeof b), "0.0001");
    ck_assert_str_eq(scalar("-250.0", b, sizeof b), "-250.0");
    ck_assert_str_eq(scalar("1.25e-7", b, sizeof b), "1.25e-07");
    ck_assert_str_eq(scalar("123456789012.5", b, sizeof b), "123456789012.5");
    /* Needs all 17 digits to read back. */
    ck_assert_str_eq(scalar("0.30000000000000004", b, sizeof b), "0.30000000000000004");
    ck_assert_str_eq(scalar("9007199254740993.0", b, sizeof b), "9007199254740992.0");
    ck_assert_str_eq(scalar("9223372036854775807", b, sizeof b), "9223372036854775807");
    ck_assert_str_eq(scalar("-9223372036854775808", b, sizeof b), "-9223372036854775808");
    ck_assert_str_eq(scalar("false", b, sizeof b), "false");
    ck_assert_ptr_null(scalar("null", b, sizeof b));
    ck_assert_ptr_null(scalar("[1]", b, sizeof b));
    ck_assert_ptr_null(scalar("{}", b, sizeof b));
    /* Too small a buffer is refused, never truncated. */
    ck_assert_ptr_null(scalar("12345", b, 5));
    ck_assert_str_eq(scalar("12345", b, 6), "12345");
    ck_assert_ptr_null(scalar("\"abcdef\"", b, 6));
    ck_assert_ptr_null(scalar("true", b, 4));
}
END_TEST

static char *words_text(const aud_claim_word *w, size_t n)
{
    static char buf[512];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s[%.*s]", i ? " " : "", (int)w[i].n, w[i].p);
    return buf;
}

static const char *scopes_of(const char *json, size_t max)
{
    aud_claim_word w[16];
    json_t *c = parse(json);
    size_t n = aud_claim_scopes(c, w, max);
    const char *t = words_text(w, n);
    json_decref(c);
    return t;
}

static const char *roles_of(const char *json)
{
    aud_claim_word w[16];
    json_t *c = parse(json);
    size_t n = aud_claim_roles(c, w, 16);
    const char *t = words_text(w, n);
    json_decref(c);
    return t;
}

START_TEST(scopes_and_roles)
{
    ck_assert_str_eq(scopes_of("{\"scope\":\"openid  orders.read \"}", 16), "[openid] [orders.read]");
    /* Entra ID: scp is a space-separated string, roles an array. */
    ck_assert_str_eq(scopes_of("{\"scp\":\"User.Read Orders.Write\"}", 16), "[User.Read] [Orders.Write]");
    ck_assert_str_eq(scopes_of("{\"scp\":[\"a b\",\"c\",7,\"\"]}", 16), "[a b] [c]");
    /* scope wins over scp; a non-string scope falls back to scp. */
    ck_assert_str_eq(scopes_of("{\"scope\":\"x\",\"scp\":\"y\"}", 16), "[x]");
    ck_assert_str_eq(scopes_of("{\"scope\":[\"x\"],\"scp\":\"y\"}", 16), "[y]");
    ck_assert_str_eq(scopes_of("{\"scope\":\"\",\"scp\":\"y\"}", 16), "");
    ck_assert_str_eq(scopes_of("{\"scp\":{\"a\":1}}", 16), "");
    ck_assert_str_eq(scopes_of("{}", 16), "");
    /* Tabs are not separators (RFC 6749 separates with SP only). */
    ck_assert_str_eq(scopes_of("{\"scope\":\"a\\tb c\"}", 16), "[a\tb] [c]");
    /* Bounded by max. */
    ck_assert_str_eq(scopes_of("{\"scope\":\"a b c d\"}", 2), "[a] [b]");
    ck_assert_str_eq(scopes_of("{\"scp\":[\"a\",\"b\",\"c\"]}", 2), "[a] [b]");
    ck_assert_str_eq(scopes_of("{\"scope\":\"a b\"}", 0), "");
    ck_assert_str_eq(roles_of("{\"roles\":[\"Orders.Admin\",\"Reader\",1,\"\"]}"), "[Orders.Admin] [Reader]");
    ck_assert_str_eq(roles_of("{\"roles\":\"Task Writer\"}"), "[Task Writer]");
    ck_assert_str_eq(roles_of("{\"roles\":true}"), "");
    ck_assert_str_eq(roles_of("{\"role\":\"x\"}"), "");
    ck_assert_uint_eq(aud_claim_scopes(NULL, NULL, 0), 0);
}
END_TEST

START_TEST(has_any_and_case_near)
{
    aud_claim_word w[8];
    json_t *c = parse("{\"scp\":\"User.Read orders.read\"}");
    size_t n = aud_claim_scopes(c, w, 8);
    const char *want[] = {"orders.write", "orders.read"}, *upper[] = {"Orders.Read"}, *prefix[] = {"orders"};
    aud_claim_word g;

    ck_assert_uint_eq(n, 2);
    ck_assert(aud_claim_has_any(w, n, want, 2));
    ck_assert(!aud_claim_has_any(w, n, want, 1));
    ck_assert(!aud_claim_has_any(w, n, upper, 1));
    ck_assert(!aud_claim_has_any(w, n, prefix, 1));
    ck_assert(!aud_claim_has_any(w, 0, want, 2));
    ck_assert(aud_claim_case_near(w, n, "Orders.Read", &g));
    ck_assert_uint_eq(g.n, 11);
    ck_assert(memcmp(g.p, "orders.read", 11) == 0);
    ck_assert(aud_claim_case_near(w, n, "user.read", NULL));
    /* Equal bytes is a match, not a near miss; other words are neither. */
    ck_assert(!aud_claim_case_near(w, n, "orders.read", &g));
    ck_assert(!aud_claim_case_near(w, n, "orders.reads", &g));
    ck_assert(!aud_claim_case_near(w, n, "orders.rea", &g));
    ck_assert(!aud_claim_case_near(w, n, NULL, &g));
    json_decref(c);
}
END_TEST

static char *text_of(const char *json)
{
    static char buf[1024];
    json_t *v = parse(json);
    char *t = aud_claim_value_text(v);
    ck_assert_ptr_nonnull(t);
    snprintf(buf, sizeof buf, "%s", t);
    free(t);
    json_decref(v);
    return buf;
}

START_TEST(value_text_encoding)
{
    ck_assert_str_eq(text_of("\"orders-admin\""), "orders-admin");
    ck_assert_str_eq(text_of("\"a b\""), "a b");
    ck_assert_str_eq(text_of("\"x\\r\\nSet-Cookie: y\""), "x%0D%0ASet-Cookie: y");
    ck_assert_str_eq(text_of("\"t\\tu\\u007fv\\u0001\""), "t%09u%7Fv%01");
    ck_assert_str_eq(text_of("\"caf\\u00e9 \\u2028\""), "caf%C3%A9 %E2%80%A8");
    ck_assert_str_eq(text_of("\"100%\""), "100%25");
    ck_assert_str_eq(text_of("\"%0A\""), "%250A");
    ck_assert_str_eq(text_of("\"\""), "");
    ck_assert_str_eq(text_of("5"), "5");
    ck_assert_str_eq(text_of("1.5"), "1.5");
    ck_assert_str_eq(text_of("true"), "true");
    ck_assert_str_eq(text_of("null"), "null");
    ck_assert_str_eq(text_of("[\"a\",1,2.0,true,null]"), "[\"a\",1,2.0,true,null]");
    ck_assert_str_eq(text_of("{\"b\":[1],\"a\":{\"c\":\"d\"}}"), "{\"b\":[1],\"a\":{\"c\":\"d\"}}");
    ck_assert_str_eq(text_of("[]"), "[]");
    ck_assert_str_eq(text_of("{}"), "{}");
    /* Inside JSON, a string's controls are JSON escapes first, then the
     * non-ASCII bytes and '%' are encoded. */
    ck_assert_str_eq(text_of("[\"a\\nb\",\"\\u00e9%\"]"), "[\"a\\nb\",\"%C3%A9%25\"]");
    ck_assert_str_eq(text_of("{\"k\\r\":0.1}"), "{\"k\\r\":0.1}");
    ck_assert_ptr_null(aud_claim_value_text(NULL));
}
END_TEST

START_TEST(value_text_every_byte_safe)
{
    /* Every byte 1..255 (as a decoded string, which is what a claim can be
     * once jansson has read it; raw bytes >= 0x80 need not be UTF-8 for
     * this check) comes out as printable ASCII only. */
    char raw[256];
    for (int i = 1; i < 256; i++)
        raw[i - 1] = (char)i;
    json_t *v = json_stringn_nocheck(raw, 255);
    char *t = aud_claim_value_text(v);
    ck_assert_ptr_nonnull(t);
    for (const char *p = t; *p; p++)
        ck_assert_msg(*p >= 0x20 && *p <= 0x7E, "byte 0x%02x passed", (unsigned char)*p);
    /* 0x20..0x7E minus '%' pass as one byte each, the other 161 as three. */
    ck_assert_uint_eq(strlen(t), 94 + 161 * 3);
    ck_assert_ptr_nonnull(strstr(t, "%01%02"));
    ck_assert_ptr_nonnull(strstr(t, "$%25&"));
    ck_assert_ptr_nonnull(strstr(t, "}~%7F%80"));
    ck_assert_str_eq(t + strlen(t) - 6, "%FE%FF");
    free(t);
    json_decref(v);
}
END_TEST

Suite *suite_claim_match(void)
{
    const TTest *tests[] = {
        pointer_lookup_keycloak, pointer_escapes_and_empty_tokens, pointer_malformed, plain_names_verbatim,
        matching_by_json_text, real_text_shortest_round_trip, scopes_and_roles, has_any_and_case_near,
        value_text_encoding, value_text_every_byte_safe, NULL};
    return ts_suite("claim_match", "core", tests);
}
