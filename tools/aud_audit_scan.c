/* Reading one audit line.
 *
 * The fast scanner is a complete JSON parser for one object per line that
 * keeps only the members the summary needs and merely validates the rest:
 * no allocation, no tree, strings decoded only when kept (and then in place
 * when they carry no escape). It accepts exactly what jansson accepts for
 * these lines (same refusal of \u0000, lone surrogates, invalid UTF-8,
 * control characters and trailing garbage; last duplicate member wins), so
 * that the answer never depends on which parser ran or on the order of the
 * members; the jansson variant below exists to check that claim. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit_tool.h"
#include "aud_utf8.h"

typedef struct {
    const unsigned char *p, *end;
    char *out; /* next free byte of the scratch buffer */
    const char *err;
} cursor;

/* Bytes that end the quick run through a string: the closing quote, an
 * escape, a control character or the start of a multi-byte sequence. The
 * subtraction wraps control characters to the top of the range, so one
 * compare covers both ends. */
static inline bool string_stop(unsigned char b)
{
    return (unsigned char)(b - 0x20) >= 0x60 || b == '"' || b == '\\';
}

static bool fail(cursor *c, const char *why)
{
    if (c->err == NULL)
        c->err = why;
    return false;
}

static inline void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d;
        unsigned char ch = s[i];
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* c->p is at the opening quote. With dst, the decoded value is stored there
 * (pointing into the line when it needs no decoding). Every decoded form is
 * at most as long as its escaped form, so the scratch buffer, as large as
 * the line, always has room. */
static bool scan_string(cursor *c, aa_str *dst)
{
    const unsigned char *start = ++c->p, *s = start, *end = c->end;
    char *o;

    while (s < end && !string_stop(*s))
        s++;
    if (s >= end)
        return fail(c, "unterminated string");
    if (*s == '"') {
        if (dst != NULL) {
            dst->p = (const char *)start;
            dst->n = (size_t)(s - start);
        }
        c->p = s + 1;
        return true;
    }
    /* The slow path: escapes, non-ASCII or an error. */
    o = c->out;
    if (dst != NULL) {
        memcpy(o, start, (size_t)(s - start));
        o += s - start;
    }
    while (s < end) {
        unsigned char b = *s;
        if (b == '"') {
            if (dst != NULL) {
                dst->p = c->out;
                dst->n = (size_t)(o - c->out);
                c->out = o;
            }
            c->p = s + 1;
            return true;
        }
        if (b < 0x20)
            return fail(c, "control character in a string");
        if (b >= 0x80) {
            size_t n = aud_utf8_char_length(s, (size_t)(end - s));
            if (n == 0)
                return fail(c, "invalid UTF-8 in a string");
            if (dst != NULL) {
                memcpy(o, s, n);
                o += n;
            }
            s += n;
            continue;
        }
        if (b != '\\') {
            if (dst != NULL)
                *o++ = (char)b;
            s++;
            continue;
        }
        if (end - s < 2)
            return fail(c, "unterminated string");
        char e = (char)s[1], simple = 0;
        switch (e) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default: return fail(c, "invalid escape in a string");
        }
        if (simple) {
            if (dst != NULL)
                *o++ = simple;
            s += 2;
            continue;
        }
        if (end - s < 6)
            return fail(c, "invalid \\u escape");
        int hi = hex4(s + 2);
        if (hi < 0)
            return fail(c, "invalid \\u escape");
        uint32_t cp = (uint32_t)hi;
        s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = (end - s >= 6 && s[0] == '\\' && s[1] == 'u') ? hex4(s + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(c, "lone surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            s += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(c, "lone surrogate in a \\u escape");
        } else if (cp == 0) {
            return fail(c, "\\u0000 in a string");
        }
        if (dst != NULL)
            o = put_utf8(o, cp);
    }
    return fail(c, "unterminated string");
}

/* jansson refuses integers outside long long and reals that overflow a
 * double; so must we, or the parsers would disagree on what is malformed.
 * Only long numbers can, so the common short ones never get here. */
static bool number_fits(const unsigned char *s, size_t n, bool is_int)
{
    char small[512], *buf = n < sizeof small ? small : xmalloc(n + 1);
    bool ok;

    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    if (is_int) {
        (void)strtoll(buf, NULL, 10);
        ok = errno != ERANGE;
    } else {
        double v = strtod(buf, NULL);
        ok = !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
    }
    if (buf != small)
        free(buf);
    return ok;
}

static bool scan_number(cursor *c)
{
    const unsigned char *s = c->p, *end = c->end;
    bool is_int = true, has_exp = false;

    if (s < end && *s == '-')
        s++;
    if (s >= end)
        return fail(c, "invalid number");
    if (*s == '0') {
        s++;
    } else if (*s >= '1' && *s <= '9') {
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    } else {
        return fail(c, "invalid number");
    }
    if (s < end && *s == '.') {
        is_int = false;
        s++;
        if (s >= end || *s < '0' || *s > '9')
            return fail(c, "invalid number");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        is_int = false;
        has_exp = true;
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || *s < '0' || *s > '9')
            return fail(c, "invalid number");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    size_t n = (size_t)(s - c->p);
    if (((is_int && n > 18) || (!is_int && (has_exp || n > 300))) && !number_fits(c->p, n, is_int))
        return fail(c, is_int ? "integer too big" : "real number overflow");
    c->p = s;
    return true;
}

static bool scan_literal(cursor *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return fail(c, "invalid literal");
    c->p += n;
    return true;
}

static bool skip_value(cursor *c, int depth);

/* Members of an object or elements of an array, c->p just past the opening
 * bracket; each member's value goes to skip_value. */
static bool scan_name(cursor *c, aa_str *name);

/* Steps over the '[' under the cursor; true (and past the ']') when the
 * array is empty. */
static bool array_opened_empty(cursor *c)
{
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    return false;
}

/* After an element of an array or object: true with *more set when ','
 * (another element follows) or the closing byte (the end) comes next. */
static bool after_element(cursor *c, char close, bool *more)
{
    skip_ws(c);
    if (c->p >= c->end)
        return fail(c, close == '}' ? "unterminated object" : "unterminated array");
    if (*c->p == ',' || *c->p == close) {
        *more = *c->p == ',';
        c->p++;
        return true;
    }
    return fail(c, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* A member name and the ':' after it; the name is decoded into *name when
 * name is not NULL. */
static bool member_name(cursor *c, aa_str *name)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"')
        return fail(c, "expected a member name");
    if (!(name != NULL ? scan_name(c, name) : scan_string(c, NULL)))
        return false;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return fail(c, "expected ':'");
    c->p++;
    return true;
}

static bool skip_container(cursor *c, int depth, bool object)
{
    char close = object ? '}' : ']';

    if (depth >= AA_MAX_DEPTH)
        return fail(c, "nested too deeply");
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return true;
    }
    for (bool more = true; more;) {
        if (object && !member_name(c, NULL))
            return false;
        if (!skip_value(c, depth + 1) || !after_element(c, close, &more))
            return false;
    }
    return true;
}

static bool skip_value(cursor *c, int depth)
{
    skip_ws(c);
    if (c->p >= c->end)
        return fail(c, "expected a value");
    switch (*c->p) {
    case '"': return scan_string(c, NULL);
    case '{': c->p++; return skip_container(c, depth, true);
    case '[': c->p++; return skip_container(c, depth, false);
    case 't': return scan_literal(c, "true", 4);
    case 'f': return scan_literal(c, "false", 5);
    case 'n': return scan_literal(c, "null", 4);
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
            return scan_number(c);
        return fail(c, "expected a value");
    }
}

/* A member that should be a string: anything else is skipped and means
 * "unknown". */
static bool scan_opt(cursor *c, aa_opt *dst, int depth)
{
    if (c->p < c->end && *c->p == '"') {
        dst->is_str = true;
        return scan_string(c, &dst->s);
    }
    dst->is_str = false;
    return skip_value(c, depth);
}

/* The array under the cursor, each element handed to each (with the
 * element's depth); true past the closing ']'. Any other value is
 * validated and skipped: a member that should be an array and is not
 * means "none". */
static inline bool scan_array(cursor *c, int depth, bool (*each)(cursor *, void *, int), void *arg)
{
    if (c->p >= c->end || *c->p != '[')
        return skip_value(c, depth);
    if (array_opened_empty(c))
        return true;
    for (;;) {
        skip_ws(c);
        if (!each(c, arg, depth + 1))
            return false;
        bool more;
        if (!after_element(c, ']', &more))
            return false;
        if (!more)
            return true;
    }
}

typedef struct {
    aa_str *list;
    size_t *n, max;
} string_list;

static bool string_element(cursor *c, void *arg, int depth)
{
    string_list *l = arg;
    if (c->p < c->end && *c->p == '"') {
        aa_str tmp;
        if (!scan_string(c, *l->n < l->max ? &tmp : NULL))
            return false;
        if (*l->n < l->max)
            l->list[(*l->n)++] = tmp;
        return true;
    }
    return skip_value(c, depth);
}

/* An array whose string elements are kept (up to max); other elements are
 * validated and ignored, as the jansson path does. */
static bool scan_string_list_max(cursor *c, aa_str *list, size_t *n, size_t max, int depth)
{
    string_list l = {list, n, max};
    *n = 0;
    return scan_array(c, depth, string_element, &l);
}

static bool scan_string_list(cursor *c, aa_str *list, size_t *n, int depth)
{
    return scan_string_list_max(c, list, n, AA_MAX_LIST, depth);
}

/* Decodes a member name; short names are all we compare against, so a name
 * is decoded only when it has an escape (never in the module's output). */
static bool scan_name(cursor *c, aa_str *name)
{
    return scan_string(c, name);
}

static bool name_is(const aa_str *name, const char *lit, size_t n)
{
    return name->n == n && memcmp(name->p, lit, n) == 0;
}

/* One hint object: "code" and "text" are kept, the rest skipped. */
static bool scan_hint(cursor *c, aa_hint *h, bool *usable, int depth)
{
    aa_opt code = {0}, text = {0};

    c->p++;
    if (depth >= AA_MAX_DEPTH)
        return fail(c, "nested too deeply");
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        *usable = false;
        return true;
    }
    for (bool more = true; more;) {
        aa_str name;
        if (!member_name(c, &name))
            return false;
        skip_ws(c);
        if (name_is(&name, "code", 4)) {
            if (!scan_opt(c, &code, depth + 1))
                return false;
        } else if (name_is(&name, "text", 4)) {
            if (!scan_opt(c, &text, depth + 1))
                return false;
        } else if (!skip_value(c, depth + 1)) {
            return false;
        }
        if (!after_element(c, '}', &more))
            return false;
    }
    *usable = code.is_str;
    h->code = code.s;
    h->text = text;
    return true;
}

static bool hint_element(cursor *c, void *arg, int depth)
{
    aa_record *r = arg;
    if (c->p < c->end && *c->p == '{') {
        aa_hint h;
        bool usable = false;
        if (!scan_hint(c, &h, &usable, depth))
            return false;
        if (usable && r->n_hints < AA_MAX_LIST)
            r->hints[r->n_hints++] = h;
        return true;
    }
    return skip_value(c, depth);
}

static bool scan_hints(cursor *c, aa_record *r, int depth)
{
    r->n_hints = 0;
    return scan_array(c, depth, hint_element, r);
}

/* "required": each candidate member is kept (the last duplicate wins),
 * then one is chosen by a fixed priority, so that member order never
 * matters. */
typedef struct {
    bool is_list[3]; /* scope, role, client */
    size_t n[3];
    aa_str lists[3][AA_MAX_LIST];
    aa_opt claim;
    size_t n_values;
    aa_str values[AA_MAX_LIST];
} req_parts;

static void req_choose(const req_parts *q, aa_record *r)
{
    static const aa_req_kind kinds[3] = {AA_REQ_SCOPE, AA_REQ_ROLE, AA_REQ_CLIENT};
    const aa_str *src = NULL;
    size_t n = 0;

    r->req_kind = AA_REQ_NONE;
    r->n_req_values = 0;
    if (q->claim.is_str) {
        r->req_kind = AA_REQ_CLAIM;
        r->req_claim = q->claim.s;
        src = q->values;
        n = q->n_values;
    } else {
        for (int k = 0; k < 3 && src == NULL; k++) {
            if (q->is_list[k]) {
                r->req_kind = kinds[k];
                src = q->lists[k];
                n = q->n[k];
            }
        }
    }
    if (n > 0)
        memcpy(r->req_values, src, n * sizeof *src);
    r->n_req_values = n;
}

static bool scan_required(cursor *c, aa_record *r, int depth)
{
    static const char *const names[3] = {"scope", "role", "client"};
    req_parts q;

    q.is_list[0] = q.is_list[1] = q.is_list[2] = false;
    q.n[0] = q.n[1] = q.n[2] = q.n_values = 0;
    q.claim.is_str = false;
    r->req_kind = AA_REQ_NONE;
    r->n_req_values = 0;
    if (c->p >= c->end || *c->p != '{')
        return skip_value(c, depth);
    c->p++;
    if (depth >= AA_MAX_DEPTH)
        return fail(c, "nested too deeply");
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (bool more = true; more;) {
        aa_str name;
        bool done = false;
        if (!member_name(c, &name))
            return false;
        skip_ws(c);
        for (int k = 0; k < 3 && !done; k++) {
            if (name_is(&name, names[k], strlen(names[k]))) {
                q.is_list[k] = c->p < c->end && *c->p == '[';
                if (!scan_string_list(c, q.lists[k], &q.n[k], depth + 1))
                    return false;
                done = true;
            }
        }
        if (!done && name_is(&name, "claim", 5)) {
            if (!scan_opt(c, &q.claim, depth + 1))
                return false;
        } else if (!done && name_is(&name, "values", 6)) {
            if (!scan_string_list(c, q.values, &q.n_values, depth + 1))
                return false;
        } else if (!done && !skip_value(c, depth + 1)) {
            return false;
        }
        if (!after_element(c, '}', &more))
            return false;
    }
    req_choose(&q, r);
    return true;
}

static void record_reset(aa_record *r)
{
    r->time.is_str = r->api.is_str = r->decision.is_str = false;
    r->mode.is_str = r->client.is_str = r->matched.is_str = false;
    r->aud_is_list = false;
    r->n_aud = r->n_reasons = r->n_hints = 0;
    r->req_kind = AA_REQ_NONE;
    r->n_req_values = r->n_scopes = r->n_roles = 0;
}

static bool scan_member(cursor *c, const aa_str *name, aa_record *r)
{
    /* Dispatch on length first: most names are skipped after one compare. */
    switch (name->n) {
    case 3:
        if (name_is(name, "api", 3))
            return scan_opt(c, &r->api, 1);
        if (name_is(name, "aud", 3)) {
            if (c->p < c->end && *c->p == '[') {
                r->aud_is_list = true;
                return scan_string_list(c, r->aud, &r->n_aud, 1);
            }
            if (c->p < c->end && *c->p == '"') {
                r->aud_is_list = true;
                r->n_aud = 1;
                return scan_string(c, &r->aud[0]);
            }
            r->aud_is_list = false;
            r->n_aud = 0;
            return skip_value(c, 1);
        }
        break;
    case 4:
        if (name_is(name, "time", 4))
            return scan_opt(c, &r->time, 1);
        if (name_is(name, "mode", 4))
            return scan_opt(c, &r->mode, 1);
        break;
    case 5:
        if (name_is(name, "hints", 5))
            return scan_hints(c, r, 1);
        if (name_is(name, "roles", 5))
            return scan_string_list_max(c, r->roles, &r->n_roles, AA_MAX_TOKEN_LIST, 1);
        break;
    case 6:
        if (name_is(name, "client", 6))
            return scan_opt(c, &r->client, 1);
        if (name_is(name, "scopes", 6))
            return scan_string_list_max(c, r->scopes, &r->n_scopes, AA_MAX_TOKEN_LIST, 1);
        break;
    case 7:
        if (name_is(name, "matched", 7))
            return scan_opt(c, &r->matched, 1);
        if (name_is(name, "reasons", 7))
            return scan_string_list(c, r->reasons, &r->n_reasons, 1);
        break;
    case 8:
        if (name_is(name, "decision", 8))
            return scan_opt(c, &r->decision, 1);
        if (name_is(name, "required", 8))
            return scan_required(c, r, 1);
        break;
    default: break;
    }
    return skip_value(c, 1);
}

const char *aa_scan_fast(const char *line, size_t len, aa_record *r, char *scratch)
{
    cursor c = {(const unsigned char *)line, (const unsigned char *)line + len, scratch, NULL};

    record_reset(r);
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return "not a JSON object";
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            aa_str name;
            skip_ws(&c);
            if (c.p >= c.end || *c.p != '"')
                return c.p >= c.end ? "truncated object" : "expected a member name";
            if (!scan_name(&c, &name))
                return c.err;
            skip_ws(&c);
            if (c.p >= c.end || *c.p != ':')
                return c.p >= c.end ? "truncated object" : "expected ':'";
            c.p++;
            skip_ws(&c);
            if (!scan_member(&c, &name, r))
                return c.err ? c.err : "invalid value";
            skip_ws(&c);
            if (c.p >= c.end)
                return "truncated object";
            if (*c.p == ',') {
                c.p++;
                continue;
            }
            if (*c.p == '}') {
                c.p++;
                break;
            }
            return "expected ',' or '}'";
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return "text after the object";
    return NULL;
}

/* ---- the jansson variant ---- */

static void opt_from(aa_opt *dst, const json_t *v)
{
    dst->is_str = json_is_string(v);
    if (dst->is_str) {
        dst->s.p = json_string_value(v);
        dst->s.n = json_string_length(v);
    }
}

static void list_from_max(const json_t *arr, aa_str *list, size_t *n, size_t max)
{
    size_t i;
    json_t *e;

    *n = 0;
    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e) && *n < max) {
            list[*n].p = json_string_value(e);
            list[*n].n = json_string_length(e);
            (*n)++;
        }
    }
}

static void list_from(const json_t *arr, aa_str *list, size_t *n)
{
    list_from_max(arr, list, n, AA_MAX_LIST);
}

static void required_from(const json_t *req, aa_record *r)
{
    static const char *const names[3] = {"scope", "role", "client"};
    req_parts q;
    const json_t *claim = json_object_get(req, "claim");

    for (int k = 0; k < 3; k++) {
        const json_t *v = json_object_get(req, names[k]);
        q.is_list[k] = json_is_array(v);
        list_from(v, q.lists[k], &q.n[k]);
    }
    opt_from(&q.claim, claim);
    list_from(json_object_get(req, "values"), q.values, &q.n_values);
    req_choose(&q, r);
}

const char *aa_scan_jansson(const char *line, size_t len, aa_record *r, void **holder, char *err_buf,
                            size_t err_len)
{
    json_error_t err;
    json_t *doc;
    const json_t *v;

    *holder = NULL;
    record_reset(r);
    /* jansson drops a NUL byte that it reads just after a number or a
     * literal (its lexer takes a pushed-back NUL for an empty buffer), so
     * "1\0," parses as "1,". No JSON text holds a raw NUL anywhere, and
     * the fast scanner refuses one wherever it is: so must this path. */
    if (memchr(line, '\0', len) != NULL)
        return "raw NUL byte in the line";
    doc = json_loadb(line, len, 0, &err);
    if (doc == NULL) {
        snprintf(err_buf, err_len, "%s", err.text);
        return err_buf;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return "not a JSON object";
    }
    *holder = doc;
    opt_from(&r->time, json_object_get(doc, "time"));
    opt_from(&r->api, json_object_get(doc, "api"));
    opt_from(&r->decision, json_object_get(doc, "decision"));
    opt_from(&r->mode, json_object_get(doc, "mode"));
    opt_from(&r->client, json_object_get(doc, "client"));
    opt_from(&r->matched, json_object_get(doc, "matched"));
    v = json_object_get(doc, "aud");
    if (json_is_array(v)) {
        r->aud_is_list = true;
        list_from(v, r->aud, &r->n_aud);
    } else if (json_is_string(v)) {
        r->aud_is_list = true;
        r->n_aud = 1;
        r->aud[0].p = json_string_value(v);
        r->aud[0].n = json_string_length(v);
    }
    v = json_object_get(doc, "reasons");
    if (json_is_array(v))
        list_from(v, r->reasons, &r->n_reasons);
    v = json_object_get(doc, "required");
    if (json_is_object(v))
        required_from(v, r);
    list_from_max(json_object_get(doc, "scopes"), r->scopes, &r->n_scopes, AA_MAX_TOKEN_LIST);
    list_from_max(json_object_get(doc, "roles"), r->roles, &r->n_roles, AA_MAX_TOKEN_LIST);
    v = json_object_get(doc, "hints");
    if (json_is_array(v)) {
        size_t i;
        json_t *h;
        json_array_foreach(v, i, h)
        {
            const json_t *code = json_object_get(h, "code");
            if (!json_is_object(h) || !json_is_string(code) || r->n_hints >= AA_MAX_LIST)
                continue;
            aa_hint *dst = &r->hints[r->n_hints++];
            dst->code.p = json_string_value(code);
            dst->code.n = json_string_length(code);
            opt_from(&dst->text, json_object_get(h, "text"));
        }
    }
    return NULL;
}

void aa_scan_release(void *holder)
{
    json_decref((json_t *)holder);
}
