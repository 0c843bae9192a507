/* The --json report (schema "aud-audit/2", documented in README.md). */
#include <stdio.h>
#include <string.h>

#include "aud_audit_report.h"
#include "aud_time.h"
#include "aud_utf8.h"

/* ---- JSON ----
 *
 * Written as it goes rather than built as a jansson tree: with many
 * distinct clients (which tokens choose) a tree costs gigabytes, while
 * streaming costs nothing beyond the summary itself. */

#define JW_MAX_DEPTH 16

typedef struct {
    FILE *out;
    int depth;
    bool has_items[JW_MAX_DEPTH]; /* per open container: something written */
    bool after_key;
} jw;

static void jw_indent(jw *w)
{
    putc_unlocked('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs_unlocked("  ", w->out);
}

/* Before any value or key: the comma and the line break it needs. */
static void jw_item(jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->has_items[w->depth - 1])
        putc_unlocked(',', w->out);
    w->has_items[w->depth - 1] = true;
    jw_indent(w);
}

static void jw_open(jw *w, char bracket)
{
    jw_item(w);
    putc_unlocked(bracket, w->out);
    w->has_items[w->depth++] = false;
}

static void jw_close(jw *w, char bracket)
{
    bool had = w->has_items[--w->depth];
    if (had)
        jw_indent(w);
    putc_unlocked(bracket, w->out);
}

/* A JSON string from bytes: quotes, backslashes and control characters
 * escaped; bytes that are not UTF-8 (possible only in file names and
 * arguments, never in values the scanner decoded) become U+FFFD. */
static void jw_bytes(jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    FILE *out = w->out;

    putc_unlocked('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            putc_unlocked('\\', out);
            putc_unlocked(ch, out);
            i++;
        } else if (ch < 0x20) {
            switch (ch) {
            case '\b': fputs_unlocked("\\b", out); break;
            case '\f': fputs_unlocked("\\f", out); break;
            case '\n': fputs_unlocked("\\n", out); break;
            case '\r': fputs_unlocked("\\r", out); break;
            case '\t': fputs_unlocked("\\t", out); break;
            default: fprintf(out, "\\u%04x", ch);
            }
            i++;
        } else if (ch < 0x80) {
            putc_unlocked(ch, out);
            i++;
        } else {
            size_t k = aud_utf8_char_length(p + i, n - i);
            if (k == 0) {
                fputs_unlocked("\xEF\xBF\xBD", out);
                i++;
            } else {
                fwrite_unlocked(p + i, 1, k, out);
                i += k;
            }
        }
    }
    putc_unlocked('"', out);
}

static void jw_key(jw *w, const char *key)
{
    jw_item(w);
    jw_bytes(w, key, strlen(key));
    fputs_unlocked(": ", w->out);
    w->after_key = true;
}

static void jw_str(jw *w, const char *s)
{
    jw_item(w);
    jw_bytes(w, s, strlen(s));
}

static void jw_null(jw *w)
{
    jw_item(w);
    fputs_unlocked("null", w->out);
}

static void jw_bool(jw *w, bool v)
{
    jw_item(w);
    fputs_unlocked(v ? "true" : "false", w->out);
}

static void jw_uint(jw *w, uint64_t v)
{
    char digits[24];
    size_t i = sizeof digits;
    jw_item(w);
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fwrite_unlocked(digits + i, 1, sizeof digits - i, w->out);
}

/* A value: a string, a list of strings, or null. */
static void jw_val(jw *w, aa_val v)
{
    if (is_null(v)) {
        jw_null(w);
    } else if (v.p[0] == 'S') {
        jw_item(w);
        jw_bytes(w, (const char *)v.p + 1, v.n - 1);
    } else {
        uint32_t pos = 1;
        aa_str e;
        jw_open(w, '[');
        while (aa_list_next(v, &pos, &e)) {
            jw_item(w);
            jw_bytes(w, e.p, e.n);
        }
        jw_close(w, ']');
    }
}

static void jw_time(jw *w, int64_t ms)
{
    char t[64];
    aud_time_format_ms(ms, t, sizeof t);
    jw_str(w, t);
}

static void jw_kuint(jw *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    jw_uint(w, v);
}

static void jw_counts(jw *w, const uint64_t n[AA_NDECISIONS])
{
    jw_kuint(w, "requests", aa_total(n));
    for (int d = 0; d < AA_NDECISIONS; d++)
        jw_kuint(w, aa_decision_names[d], n[d]);
}

static void jw_reasons(jw *w, const char *key, const aa_vcount *r, size_t n)
{
    jw_key(w, key);
    jw_open(w, '[');
    for (size_t i = 0; i < n; i++) {
        jw_open(w, '{');
        jw_key(w, "reason");
        jw_val(w, r[i].v);
        jw_kuint(w, "count", r[i].n);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void jw_hints(jw *w, const char *key, const aa_hint_sum *h, size_t n)
{
    jw_key(w, key);
    jw_open(w, '[');
    for (size_t i = 0; i < n; i++) {
        jw_open(w, '{');
        jw_key(w, "code");
        jw_val(w, h[i].code);
        jw_kuint(w, "count", h[i].n);
        jw_key(w, "texts");
        jw_open(w, '[');
        for (size_t x = 0; x < h[i].n_texts; x++) {
            jw_open(w, '{');
            jw_key(w, "text");
            jw_val(w, h[i].texts[x].text);
            jw_kuint(w, "count", h[i].texts[x].n);
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* A requirement in the record's own shape: {"scope": [...]} or
 * {"claim": NAME, "values": [...]}. */
static void jw_req(jw *w, aa_val req)
{
    uint32_t pos = 1;
    aa_str e;
    bool claim = false;
    size_t i = 0;

    jw_open(w, '{');
    while (aa_list_next(req, &pos, &e)) {
        if (i == 0) {
            claim = e.n == 5 && memcmp(e.p, "claim", 5) == 0;
            jw_item(w);
            jw_bytes(w, e.p, e.n);
            fputs_unlocked(": ", w->out);
            w->after_key = true;
            if (!claim)
                jw_open(w, '[');
        } else if (i == 1 && claim) {
            jw_item(w);
            jw_bytes(w, e.p, e.n);
            jw_key(w, "values");
            jw_open(w, '[');
        } else {
            jw_item(w);
            jw_bytes(w, e.p, e.n);
        }
        i++;
    }
    if (i > 0)
        jw_close(w, ']');
    jw_close(w, '}');
}

static void jw_words(jw *w, const char *key, const char *member, const aa_vcount *v, size_t n)
{
    jw_key(w, key);
    jw_open(w, '[');
    for (size_t i = 0; i < n; i++) {
        jw_open(w, '{');
        jw_key(w, member);
        jw_val(w, v[i].v);
        jw_kuint(w, "count", v[i].n);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void jw_reqs(jw *w, const aa_api_sum *api)
{
    jw_key(w, "requirements");
    jw_open(w, '[');
    for (size_t q = 0; q < api->n_reqs; q++) {
        const aa_req_sum *r = &api->reqs[q];
        jw_open(w, '{');
        jw_key(w, "required");
        jw_req(w, r->req);
        jw_kuint(w, "requests", rejected(r->n));
        jw_kuint(w, "reject", r->n[AA_REJECT]);
        jw_kuint(w, "audit_reject", r->n[AA_AUDIT_REJECT]);
        jw_words(w, "scopes", "scope", r->scopes, r->n_scopes);
        jw_words(w, "roles", "role", r->roles, r->n_roles);
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

static void jw_api(jw *w, const aa_api_sum *api)
{
    static const char *const mode_names[] = {"enforce", "audit", "other"};

    jw_open(w, '{');
    jw_key(w, "api");
    jw_val(w, api->api);
    jw_key(w, "modes");
    jw_open(w, '[');
    for (int m = 0; m < 3; m++) {
        if (api->modes & (1u << m))
            jw_str(w, mode_names[m]);
    }
    jw_close(w, ']');
    jw_key(w, "first");
    jw_time(w, api->first_ms);
    jw_key(w, "last");
    jw_time(w, api->last_ms);
    jw_counts(w, api->n);

    jw_key(w, "audiences");
    jw_open(w, '[');
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        jw_open(w, '{');
        jw_key(w, "aud");
        jw_val(w, au->aud);
        jw_key(w, "allowed");
        jw_bool(w, au->allowed);
        jw_key(w, "matched");
        jw_open(w, '[');
        for (size_t m = 0; m < au->n_matched; m++) {
            jw_open(w, '{');
            jw_key(w, "audience");
            jw_val(w, au->matched[m].v);
            jw_kuint(w, "requests", au->matched[m].n);
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_counts(w, au->n);
        jw_reasons(w, "reasons", au->reasons, au->n_reasons);
        jw_hints(w, "hints", au->hints, au->n_hints);
        jw_key(w, "clients");
        jw_open(w, '[');
        for (size_t k = 0; k < au->n_clients; k++) {
            const aa_client_sum *cl = &au->clients[k];
            jw_open(w, '{');
            jw_key(w, "client");
            jw_val(w, cl->client);
            jw_counts(w, cl->n);
            jw_reasons(w, "reasons", cl->reasons, cl->n_reasons);
            jw_hints(w, "hints", cl->hints, cl->n_hints);
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_reasons(w, "reasons", api->reasons, api->n_reasons);
    jw_hints(w, "hints", api->hints, api->n_hints);
    jw_reqs(w, api);

    jw_key(w, "suggest");
    jw_open(w, '{');
    jw_key(w, "allow");
    jw_open(w, '[');
    for (size_t i = 0; i < api->n_allow; i++) {
        jw_open(w, '{');
        jw_key(w, "audience");
        jw_val(w, api->allow[i].v);
        jw_kuint(w, "accepted", api->allow[i].n);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_key(w, "deny");
    jw_open(w, '[');
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        if (au->allowed || rejected(au->n) == 0 || is_null(au->aud))
            continue;
        jw_open(w, '{');
        jw_key(w, "aud");
        jw_val(w, au->aud);
        jw_kuint(w, "requests", rejected(au->n));
        jw_kuint(w, "reject", au->n[AA_REJECT]);
        jw_kuint(w, "audit_reject", au->n[AA_AUDIT_REJECT]);
        jw_reasons(w, "reasons", au->reasons, au->n_reasons);
        jw_hints(w, "hints", au->hints, au->n_hints);
        jw_key(w, "clients");
        jw_open(w, '[');
        for (size_t k = 0; k < au->n_clients; k++) {
            uint64_t cr = rejected(au->clients[k].n);
            if (cr == 0)
                continue;
            jw_open(w, '{');
            jw_key(w, "client");
            jw_val(w, au->clients[k].client);
            jw_kuint(w, "requests", cr);
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_close(w, '}');

    jw_key(w, "timeline");
    jw_open(w, '{');
    jw_kuint(w, "bucket_seconds", (uint64_t)(api->bucket_ms / 1000));
    jw_key(w, "buckets");
    jw_open(w, '[');
    for (size_t i = 0; i < api->n_buckets; i++) {
        jw_open(w, '{');
        jw_key(w, "start");
        jw_time(w, api->buckets[i].start_ms);
        for (int d = 0; d < AA_NDECISIONS; d++)
            jw_kuint(w, aa_decision_names[d], api->buckets[i].n[d]);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    jw_close(w, '}');
    jw_close(w, '}');
}

int aa_report_json(FILE *out, const aa_summary *s, const aa_report_ctx *c)
{
    jw w = {.out = out};
    const aa_filter *f = c->filter;

    /* One lock for the whole document; the writer then uses the unlocked
     * stdio calls, which are most of the cost of a large report. */
    flockfile(out);

    jw_open(&w, '{');
    jw_key(&w, "schema");
    jw_str(&w, "aud-audit/2");
    jw_key(&w, "generated");
    jw_time(&w, c->generated_ms);

    jw_key(&w, "input");
    jw_open(&w, '{');
    jw_key(&w, "files");
    jw_open(&w, '[');
    for (size_t i = 0; i < c->n_files; i++) {
        const aa_file_stat *fs = &c->files[i];
        jw_open(&w, '{');
        jw_key(&w, "name");
        jw_str(&w, fs->name);
        jw_kuint(&w, "lines", fs->lines);
        jw_kuint(&w, "records", fs->records);
        jw_kuint(&w, "malformed", fs->malformed);
        jw_kuint(&w, "blank", fs->blank);
        jw_kuint(&w, "filtered", fs->filtered);
        jw_key(&w, "read_error");
        jw_bool(&w, fs->read_error);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_kuint(&w, "lines", c->lines);
    jw_kuint(&w, "records", c->records);
    jw_kuint(&w, "malformed", c->malformed);
    jw_kuint(&w, "blank", c->blank);
    jw_kuint(&w, "filtered", c->filtered);
    jw_key(&w, "malformed_examples");
    jw_open(&w, '[');
    for (size_t i = 0; i < c->n_bad; i++) {
        jw_open(&w, '{');
        jw_key(&w, "file");
        jw_str(&w, c->bad[i].file);
        jw_kuint(&w, "line", c->bad[i].line);
        jw_key(&w, "error");
        jw_str(&w, c->bad[i].why);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_close(&w, '}');

    jw_key(&w, "filters");
    jw_open(&w, '{');
    jw_key(&w, "api");
    jw_open(&w, '[');
    for (size_t i = 0; i < f->n_apis; i++)
        jw_str(&w, f->apis[i]);
    jw_close(&w, ']');
    jw_key(&w, "since");
    if (f->has_since)
        jw_time(&w, f->since_ms);
    else
        jw_null(&w);
    jw_key(&w, "until");
    if (f->has_until)
        jw_time(&w, f->until_ms);
    else
        jw_null(&w);
    jw_key(&w, "decision");
    jw_open(&w, '[');
    for (int d = 0; d < AA_NDECISIONS; d++) {
        if (f->decisions & (1u << d))
            jw_str(&w, aa_decision_names[d]);
    }
    jw_close(&w, ']');
    jw_close(&w, '}');

    jw_key(&w, "totals");
    jw_open(&w, '{');
    jw_counts(&w, s->n);
    jw_close(&w, '}');
    jw_key(&w, "apis");
    jw_open(&w, '[');
    for (size_t x = 0; x < s->n_apis; x++)
        jw_api(&w, &s->apis[x]);
    jw_close(&w, ']');
    jw_close(&w, '}');
    putc_unlocked('\n', out);
    funlockfile(out);
    return ferror(out) ? -1 : 0;
}
