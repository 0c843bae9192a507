/* The reports: plain text, AudAllow suggestions, JSON and HTML.
 *
 * Every value shown comes from a token or a request and may be hostile:
 * text output escapes control and bidi characters (a crafted audience must
 * not move a terminal's cursor or reorder what an operator reads), HTML
 * output escapes markup, and the suggestions never emit a configuration
 * line that Apache would read differently from what is printed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit_tool.h"
#include "aud_utf8.h"
#include "aud_time.h"

/* ---- a growable string ---- */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_putn(b, tmp, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    free(big);
}

static void sb_reset(sbuf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* ---- numbers ---- */

/* "1,234,567" */
static const char *count_text(uint64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* One decimal, rounded half up in integer arithmetic so that the text is
 * the same on every machine: "81.0%". */
static const char *pct_text(uint64_t part, uint64_t total, char *buf, size_t len)
{
    if (total == 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    unsigned long long tenths = (unsigned long long)((part * 1000 + total / 2) / total);
    snprintf(buf, len, "%llu.%llu%%", tenths / 10, tenths % 10);
    return buf;
}

/* ---- values shown to people ---- */

/* Appends s for a terminal or a configuration comment: C0, DEL, C1 and the
 * bidi controls become visible escapes. */
static void sb_put_safe(sbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c < 0x20 || c == 0x7f) {
            sb_printf(b, "\\x%02x", c);
        } else if (c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            sb_printf(b, "\\u%04x", p[i + 1]);
            i++;
        } else if (c == 0xE2 && i + 2 < n &&
                   ((p[i + 1] == 0x80 && (p[i + 2] == 0x8E || p[i + 2] == 0x8F ||
                                          (p[i + 2] >= 0xAA && p[i + 2] <= 0xAE))) ||
                    (p[i + 1] == 0x81 && p[i + 2] >= 0xA6 && p[i + 2] <= 0xA9))) {
            unsigned cp = 0x2000u | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            sb_printf(b, "\\u%04x", cp);
            i += 2;
        } else {
            sb_putn(b, (const char *)&p[i], 1);
        }
    }
}

static bool is_null(aa_val v)
{
    return v.n == 0 || v.p[0] == 'N';
}

/* A value as text: strings as they are (made safe), lists joined by ", ",
 * null as the given placeholder. */
static void sb_put_val(sbuf *b, aa_val v, const char *null_text)
{
    if (is_null(v)) {
        sb_puts(b, null_text);
    } else if (v.p[0] == 'S') {
        sb_put_safe(b, (const char *)v.p + 1, v.n - 1);
    } else {
        uint32_t pos = 1;
        aa_str e;
        bool first = true;
        while (aa_list_next(v, &pos, &e)) {
            if (!first)
                sb_puts(b, ", ");
            sb_put_safe(b, e.p, e.n);
            first = false;
        }
        if (first)
            sb_puts(b, "(empty aud)");
    }
}

#define NO_API "(no api name)"
#define NO_AUD "(no audience)"
#define NO_CLIENT "(no client)"
#define NO_TEXT "(no text)"

/* Characters on screen, counted as code points: close enough for the
 * names these reports show. */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xC0) != 0x80;
    return w;
}

static void put_pad(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', out);
}

/* A name column then right-aligned numbers; a name too wide for its column
 * gets a line of its own, so nothing is ever cut. */
static void name_row(FILE *out, const char *indent, const char *name, size_t name_w, const char *const *cols,
                     size_t ncols, size_t col_w)
{
    size_t w = text_width(name);
    fputs(indent, out);
    fputs(name, out);
    if (w > name_w) {
        fputc('\n', out);
        fputs(indent, out);
        w = 0;
    }
    put_pad(out, name_w - w);
    for (size_t i = 0; i < ncols; i++) {
        size_t cw = text_width(cols[i]);
        fputc(' ', out);
        put_pad(out, col_w > cw ? col_w - cw : 0);
        fputs(cols[i], out);
    }
    fputc('\n', out);
}

/* Words wrapped at 79 columns: the first line after first, the others
 * after cont (so a wrapped comment stays a comment). */
static void wrap2(FILE *out, const char *first, const char *cont, const char *text)
{
    const char *indent = cont;
    size_t ind = strlen(indent), col = text_width(first);
    const char *p = text;
    fputs(first, out);
    bool line_start = true;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        char word[1024];
        size_t cpy = n < sizeof word - 1 ? n : sizeof word - 1;
        memcpy(word, p, cpy);
        word[cpy] = '\0';
        size_t w = text_width(word);
        if (!line_start && col + 1 + w > 79) {
            fputc('\n', out);
            fputs(indent, out);
            col = ind;
            line_start = true;
        }
        if (!line_start) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, n, out);
        col += w;
        line_start = false;
        p += n;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void wrap(FILE *out, const char *indent, const char *text)
{
    wrap2(out, indent, indent, text);
}

/* Name column of the one-number tables (reasons, hints, clients): wide
 * enough for most audience URIs, narrow enough to keep the count near. */
#define SINGLE_NAME_W 50

static void duration_text(int64_t ms, char *buf, size_t len)
{
    aud_duration_format((double)ms / 1000.0, buf, len);
}

static const char *mode_text(unsigned modes)
{
    switch (modes) {
    case 0: return "unknown";
    case AA_MODE_ENFORCE: return "enforce";
    case AA_MODE_AUDIT: return "audit";
    case AA_MODE_ENFORCE | AA_MODE_AUDIT: return "enforce and audit (the mode changed)";
    default: return "mixed";
    }
}

static uint64_t rejected(const uint64_t n[AA_NDECISIONS])
{
    return n[AA_REJECT] + n[AA_AUDIT_REJECT];
}

/* ---- header lines shared by text and suggest ---- */

static void put_filters_text(FILE *out, const aa_report_ctx *c, const char *prefix)
{
    const aa_filter *f = c->filter;
    sbuf b = {0};
    if (f->n_apis > 0) {
        sb_puts(&b, "api ");
        for (size_t i = 0; i < f->n_apis; i++) {
            if (i)
                sb_puts(&b, ", ");
            sb_put_safe(&b, f->apis[i], strlen(f->apis[i]));
        }
    }
    if (f->has_since || f->has_until) {
        char t[64];
        if (b.n)
            sb_puts(&b, "; ");
        if (f->has_since) {
            aud_time_format_ms(f->since_ms, t, sizeof t);
            sb_printf(&b, "since %s", t);
        }
        if (f->has_until) {
            aud_time_format_ms(f->until_ms, t, sizeof t);
            sb_printf(&b, "%suntil %s", f->has_since ? " " : "", t);
        }
    }
    if (f->decisions) {
        if (b.n)
            sb_puts(&b, "; ");
        sb_puts(&b, "decision ");
        bool first = true;
        for (int d = 0; d < AA_NDECISIONS; d++) {
            if (f->decisions & (1u << d)) {
                sb_printf(&b, "%s%s", first ? "" : ", ", aa_decision_names[d]);
                first = false;
            }
        }
    }
    if (b.n)
        fprintf(out, "%sfilters     %s\n", prefix, b.p);
    free(b.p);
}

static void put_input_text(FILE *out, const aa_report_ctx *c, const char *prefix)
{
    char a[32], b[32], d[32], e[32], f[32];
    fprintf(out, "%sinput       %zu file%s, %s lines, %s records\n", prefix, c->n_files, c->n_files == 1 ? "" : "s",
            count_text(c->lines, a, sizeof a), count_text(c->records, b, sizeof b));
    fprintf(out, "%sskipped     %s malformed, %s blank, %s filtered out\n", prefix,
            count_text(c->malformed, d, sizeof d), count_text(c->blank, e, sizeof e),
            count_text(c->filtered, f, sizeof f));
}

static void put_bad_text(FILE *out, const aa_report_ctx *c, const char *prefix)
{
    char a[32];
    if (c->malformed == 0)
        return;
    fprintf(out, "%smalformed lines (skipped; %s in all, the first %zu shown):\n", prefix,
            count_text(c->malformed, a, sizeof a), c->n_bad);
    for (size_t i = 0; i < c->n_bad; i++) {
        sbuf b = {0};
        sb_put_safe(&b, c->bad[i].file, strlen(c->bad[i].file));
        fprintf(out, "%s  %s:%" PRIu64 ": %s\n", prefix, b.p, c->bad[i].line, c->bad[i].why);
        free(b.p);
    }
}

/* ---- the text report ---- */

static const aa_aud_sum *order_auds; /* for cmp_by_rejected */

static int cmp_by_rejected(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    uint64_t ra = rejected(order_auds[a].n), rb = rejected(order_auds[b].n);
    if (ra != rb)
        return ra > rb ? -1 : 1;
    return (a > b) - (a < b);
}

static void text_api(FILE *out, const aa_api_sum *api, const aa_report_ctx *c)
{
    char t1[64], t2[64], num[32], pct[32];
    sbuf b = {0};

    sb_put_val(&b, api->api, NO_API);
    fprintf(out, "== %s ==\n", b.p);
    aud_time_format_ms(api->first_ms, t1, sizeof t1);
    aud_time_format_ms(api->last_ms, t2, sizeof t2);
    fprintf(out, "period        %s .. %s\n", t1, t2);
    duration_text(api->last_ms - api->first_ms, t1, sizeof t1);
    fprintf(out, "span          %s\n", t1);
    fprintf(out, "mode          %s\n", mode_text(api->modes));
    fprintf(out, "%-13s %12s\n", "requests", count_text(api->requests, num, sizeof num));
    for (int d = 0; d < AA_NDECISIONS; d++)
        fprintf(out, "%-13s %12s %7s\n", aa_decision_names[d], count_text(api->n[d], num, sizeof num),
                pct_text(api->n[d], api->requests, pct, sizeof pct));

    /* Audiences: the column width follows the largest number. */
    size_t col_w = 9;
    count_text(api->requests, num, sizeof num);
    if (strlen(num) > col_w)
        col_w = strlen(num);
    size_t name_w = 75 - 4 * (col_w + 1);
    fputc('\n', out);
    {
        const char *hdr[] = {"requests", "accept", "reject", "audit_rej"};
        name_row(out, "", "audiences", name_w + 4, hdr, 4, col_w);
    }
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        char c0[32], c1[32], c2[32], c3[32];
        const char *cols[] = {count_text(au->requests, c0, sizeof c0), count_text(au->n[0], c1, sizeof c1),
                              count_text(au->n[1], c2, sizeof c2), count_text(au->n[2], c3, sizeof c3)};
        sb_reset(&b);
        sb_put_val(&b, au->aud, NO_AUD);
        name_row(out, au->allowed ? "  * " : "    ", b.p, name_w, cols, 4, col_w);
    }
    fputs("  (* = allowed: it matched an AudAllow audience)\n", out);

    if (api->n_reasons > 0) {
        fputs("\nreasons (rejected and audit_reject requests; one request may have several)\n", out);
        for (size_t r = 0; r < api->n_reasons; r++) {
            const char *cols[] = {count_text(api->reasons[r].n, num, sizeof num)};
            sb_reset(&b);
            sb_put_val(&b, api->reasons[r].v, "?");
            name_row(out, "  ", b.p, SINGLE_NAME_W, cols, 1, col_w);
        }
    }
    if (api->n_hints > 0) {
        fputs("\nhints\n", out);
        for (size_t h = 0; h < api->n_hints; h++) {
            const aa_hint_sum *hs = &api->hints[h];
            const char *cols[] = {count_text(hs->n, num, sizeof num)};
            sb_reset(&b);
            sb_put_val(&b, hs->code, "?");
            name_row(out, "  ", b.p, SINGLE_NAME_W, cols, 1, col_w);
            for (size_t x = 0; x < hs->n_texts; x++) {
                char first[64], cont[64];
                snprintf(first, sizeof first, "    %*s  ", (int)col_w, count_text(hs->texts[x].n, num, sizeof num));
                snprintf(cont, sizeof cont, "%*s", (int)strlen(first), "");
                sb_reset(&b);
                sb_put_val(&b, hs->texts[x].text, NO_TEXT);
                wrap2(out, first, cont, b.p);
            }
        }
    }

    /* Audiences by rejections, the most first (a stable sort keeps the
     * audience order among equals). */
    size_t *order = xmalloc(api->n_auds * sizeof *order);
    for (size_t z = 0; z < api->n_auds; z++)
        order[z] = z;
    order_auds = api->auds;
    sort_n(order, api->n_auds, sizeof *order, cmp_by_rejected);
    bool any = false;
    for (size_t oz = 0; oz < api->n_auds; oz++) {
        const aa_aud_sum *au = &api->auds[order[oz]];
        uint64_t rej = rejected(au->n);
        if (rej == 0)
            continue;
        if (!any) {
            fputs("\nclients behind rejected audiences (reject + audit_reject requests)\n", out);
            any = true;
        }
        sb_reset(&b);
        sb_put_val(&b, au->aud, NO_AUD);
        {
            const char *cols[] = {count_text(rej, num, sizeof num)};
            name_row(out, "  ", b.p, SINGLE_NAME_W, cols, 1, col_w);
        }
        size_t shown = 0;
        uint64_t rest = 0, rest_clients = 0;
        for (size_t k = 0; k < au->n_clients; k++) {
            uint64_t cr = rejected(au->clients[k].n);
            if (cr == 0)
                continue;
            if (shown >= c->top) {
                rest += cr;
                rest_clients++;
                continue;
            }
            sb_reset(&b);
            sb_put_val(&b, au->clients[k].client, NO_CLIENT);
            const char *cols[] = {count_text(cr, num, sizeof num)};
            name_row(out, "    ", b.p, SINGLE_NAME_W - 2, cols, 1, col_w);
            shown++;
        }
        if (rest_clients > 0) {
            char more[64], rn[32];
            snprintf(more, sizeof more, "... %s more client%s", count_text(rest_clients, rn, sizeof rn),
                     rest_clients == 1 ? "" : "s");
            const char *cols[] = {count_text(rest, num, sizeof num)};
            name_row(out, "    ", more, SINGLE_NAME_W - 2, cols, 1, col_w);
        }
    }
    free(order);
    free(b.p);
}

int aa_report_text(FILE *out, const aa_summary *s, const aa_report_ctx *c)
{
    char num[32];
    fputs("aud-audit report\n", out);
    put_input_text(out, c, "");
    put_filters_text(out, c, "");
    fprintf(out, "requests    %s in %zu API%s\n", count_text(s->requests, num, sizeof num), s->n_apis,
            s->n_apis == 1 ? "" : "s");
    put_bad_text(out, c, "");
    if (s->n_apis == 0)
        fputs("\nno audit records to report\n", out);
    for (size_t x = 0; x < s->n_apis; x++) {
        fputc('\n', out);
        text_api(out, &s->apis[x], c);
    }
    return ferror(out) ? -1 : 0;
}

/* ---- suggestions ---- */

/* An argument as Apache's configuration parser reads it back: quoted when
 * it holds a space, a quote or a backslash (a trailing one would continue
 * the line). Returns false when no quoting can carry it (control
 * characters), so that such a value is shown but never offered for
 * pasting. */
static bool config_arg(sbuf *b, const char *s, size_t n)
{
    bool quote = n == 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
        if (ch == ' ' || ch == '"' || ch == '\'' || ch == '\\' || ch == '#')
            quote = true;
    }
    /* C1 and bidi controls would make the line read differently from how
     * it is parsed. */
    sbuf probe = {0};
    sb_put_safe(&probe, s, n);
    bool same = probe.n == n && memcmp(probe.p, s, n) == 0;
    free(probe.p);
    if (!same)
        return false;
    if (!quote) {
        sb_putn(b, s, n);
        return true;
    }
    sb_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            sb_puts(b, "\\\"");
        else
            sb_putn(b, &s[i], 1);
    }
    sb_puts(b, "\"");
    return true;
}

static void suggest_api(FILE *out, const aa_api_sum *api)
{
    char num[32], n2[32], pct[32];
    sbuf b = {0}, line = {0};

    sb_put_val(&b, api->api, NO_API);
    fprintf(out, "# API \"%s\": %s request%s, %s accepted (%s)\n", b.p, count_text(api->requests, num, sizeof num),
            api->requests == 1 ? "" : "s",
            count_text(api->n[AA_ACCEPT], n2, sizeof n2), pct_text(api->n[AA_ACCEPT], api->requests, pct, sizeof pct));
    if (api->n_allow == 0) {
        fputs("# No request was accepted: the log shows nothing that AudAllow should allow.\n", out);
    } else {
        bool pastable = true;
        sb_puts(&line, "AudAllow");
        for (size_t i = 0; i < api->n_allow; i++) {
            aa_val v = api->allow[i].v;
            sb_puts(&line, " ");
            if (!config_arg(&line, (const char *)v.p + 1, v.n - 1))
                pastable = false;
        }
        if (pastable)
            fprintf(out, "%s\n", line.p);
        else
            fputs("# (an allowed audience holds control characters: no AudAllow line can carry it)\n", out);
        for (size_t i = 0; i < api->n_allow; i++) {
            sb_reset(&b);
            sb_put_val(&b, api->allow[i].v, "?");
            fprintf(out, "#   %s: %s accepted\n", b.p, count_text(api->allow[i].n, num, sizeof num));
        }
    }

    bool any = false;
    const aa_aud_sum *no_aud = NULL;
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        if (au->allowed || rejected(au->n) == 0)
            continue;
        /* No token, or a token without "aud": nothing AudAllow could
         * allow; said apart below. */
        if (is_null(au->aud)) {
            no_aud = au;
            continue;
        }
        if (!any) {
            fputs("# Do NOT allow:\n", out);
            any = true;
        }
        sb_reset(&b);
        sb_put_val(&b, au->aud, NO_AUD);
        sb_reset(&line);
        sb_printf(&line, "%s: %s request%s (", b.p, count_text(rejected(au->n), num, sizeof num),
                  rejected(au->n) == 1 ? "" : "s");
        bool first = true;
        for (int d = AA_REJECT; d < AA_NDECISIONS; d++) {
            if (au->n[d] == 0)
                continue;
            sb_printf(&line, "%s%s %s", first ? "" : ", ", aa_decision_names[d], count_text(au->n[d], num, sizeof num));
            first = false;
        }
        sb_puts(&line, ")");
        wrap2(out, "#   ", "#       ", line.p);
        for (size_t h = 0; h < au->n_hints; h++) {
            for (size_t x = 0; x < au->hints[h].n_texts; x++) {
                sb_reset(&line);
                if (is_null(au->hints[h].texts[x].text))
                    sb_put_val(&line, au->hints[h].code, "?");
                else
                    sb_put_val(&line, au->hints[h].texts[x].text, NO_TEXT);
                sb_printf(&line, " (%s)", count_text(au->hints[h].texts[x].n, num, sizeof num));
                wrap2(out, "#     why: ", "#       ", line.p);
            }
        }
        if (au->n_reasons > 0) {
            sb_reset(&line);
            sb_puts(&line, "reasons:");
            for (size_t r = 0; r < au->n_reasons; r++) {
                sb_puts(&line, r ? ", " : " ");
                sb_put_val(&line, au->reasons[r].v, "?");
                sb_printf(&line, " %s", count_text(au->reasons[r].n, num, sizeof num));
            }
            wrap(out, "#     ", line.p);
        }
        sb_reset(&line);
        sb_puts(&line, "clients:");
        size_t listed = 0;
        for (size_t k = 0; k < au->n_clients; k++) {
            uint64_t cr = rejected(au->clients[k].n);
            if (cr == 0)
                continue;
            sb_puts(&line, listed ? ", " : " ");
            sb_put_val(&line, au->clients[k].client, NO_CLIENT);
            sb_printf(&line, " %s", count_text(cr, num, sizeof num));
            listed++;
        }
        wrap(out, "#     ", line.p);
    }
    if (no_aud != NULL) {
        sb_reset(&line);
        sb_printf(&line, "Also rejected, with no audience at all: %s request%s (",
                  count_text(rejected(no_aud->n), num, sizeof num), rejected(no_aud->n) == 1 ? "" : "s");
        for (size_t r = 0; r < no_aud->n_reasons; r++) {
            sb_puts(&line, r ? ", " : "");
            sb_put_val(&line, no_aud->reasons[r].v, "?");
            sb_printf(&line, " %s", count_text(no_aud->reasons[r].n, num, sizeof num));
        }
        sb_puts(&line, ")");
        wrap2(out, "# ", "#   ", line.p);
    }
    free(b.p);
    free(line.p);
}

int aa_report_suggest(FILE *out, const aa_summary *s, const aa_report_ctx *c)
{
    char num[32];
    fputs("# AudAllow suggestions from aud-audit: each API's line accepts the audiences\n"
          "# that its accepted requests matched. Paste it into the section that has that\n"
          "# AudApiName (or AuthName), replacing the AudAllow lines there.\n", out);
    put_input_text(out, c, "# ");
    put_filters_text(out, c, "# ");
    fprintf(out, "# requests    %s in %zu API%s\n", count_text(s->requests, num, sizeof num), s->n_apis,
            s->n_apis == 1 ? "" : "s");
    if (s->n_apis == 0)
        fputs("\n# no audit records: nothing to suggest\n", out);
    for (size_t x = 0; x < s->n_apis; x++) {
        fputc('\n', out);
        suggest_api(out, &s->apis[x]);
    }
    return ferror(out) ? -1 : 0;
}

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
    jw_kuint(w, "requests", n[0] + n[1] + n[2]);
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
    jw_str(&w, "aud-audit/1");
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

/* ---- HTML ---- */

static void html_esc(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                fprintf(out, "\\x%02x", ch);
            else
                fputc(ch, out);
        }
    }
}

/* A value made safe for people (as in text), then for HTML. */
static void html_val(FILE *out, aa_val v, const char *null_text)
{
    sbuf b = {0};
    sb_put_val(&b, v, null_text);
    html_esc(out, b.p, b.n);
    free(b.p);
}

static void html_str(FILE *out, const char *s)
{
    html_esc(out, s, strlen(s));
}

static const char *const colors[AA_NDECISIONS] = {"#2e7d32", "#c62828", "#ef9a00"};

/* The step between the chart's four grid lines: 1, 2 or 5 times a power of
 * ten, so that every label is a round whole number. */
static uint64_t grid_step(uint64_t maxv)
{
    uint64_t need = (maxv + 3) / 4, step = 1;
    if (need == 0)
        return 1;
    for (;;) {
        if (step >= need)
            return step;
        if (2 * step >= need)
            return 2 * step;
        if (5 * step >= need)
            return 5 * step;
        step *= 10;
    }
}

static void bucket_label(int64_t ms, int64_t width, char *buf, size_t len)
{
    char t[64];
    aud_time_format_ms(ms, t, sizeof t);
    if (width < 86400000)
        snprintf(buf, len, "%.5s %.5s", t + 5, t + 11); /* "11-23 10:00" */
    else
        snprintf(buf, len, "%.10s", t); /* "2026-11-23" */
}

static void html_timeline(FILE *out, const aa_api_sum *api)
{
    const int W = 900, H = 240, left = 60, right = 10, top = 10, bottom = 40;
    const int pw = W - left - right, ph = H - top - bottom;
    int64_t first = api->buckets[0].start_ms, last = api->buckets[api->n_buckets - 1].start_ms;
    size_t nb = (size_t)((last - first) / api->bucket_ms) + 1;
    uint64_t maxv = 0;
    char num[32], label[64];

    for (size_t i = 0; i < api->n_buckets; i++) {
        uint64_t t = api->buckets[i].n[0] + api->buckets[i].n[1] + api->buckets[i].n[2];
        if (t > maxv)
            maxv = t;
    }
    uint64_t step = grid_step(maxv);
    maxv = 4 * step;
    /* A few buckets would otherwise be drawn as slabs. */
    double bw = (double)pw / (double)nb;
    if (bw > 48)
        bw = 48;
    double gap = bw > 4 ? 1.0 : 0.0;

    fprintf(out, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"decisions per %s\">\n", W, H,
            api->bucket_ms == 3600000 ? "hour" : api->bucket_ms == 86400000 ? "day" : "period");
    /* Grid and axis. */
    for (int g = 0; g <= 4; g++) {
        double y = top + ph - (double)ph * g / 4.0;
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>", left, y, left + pw, y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" class=\"ylab\">%s</text>\n", left - 6, y + 4,
                count_text(step * (uint64_t)g, num, sizeof num));
    }
    size_t bi = 0;
    for (size_t i = 0; i < nb; i++) {
        int64_t start = first + (int64_t)i * api->bucket_ms;
        while (bi < api->n_buckets && api->buckets[bi].start_ms < start)
            bi++;
        if (bi >= api->n_buckets || api->buckets[bi].start_ms != start)
            continue;
        const aa_bucket *b = &api->buckets[bi];
        double x = left + bw * (double)i;
        double y = top + ph;
        char t[64];
        aud_time_format_ms(start, t, sizeof t);
        fprintf(out, "<g><title>%s: %" PRIu64 " accept, %" PRIu64 " reject, %" PRIu64 " audit_reject</title>", t,
                b->n[AA_ACCEPT], b->n[AA_REJECT], b->n[AA_AUDIT_REJECT]);
        static const int order[] = {AA_ACCEPT, AA_AUDIT_REJECT, AA_REJECT};
        for (int k = 0; k < 3; k++) {
            int d = order[k];
            if (b->n[d] == 0)
                continue;
            double h = (double)ph * (double)b->n[d] / (double)maxv;
            y -= h;
            fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>", x, y,
                    bw - gap > 0.5 ? bw - gap : 0.5, h, colors[d]);
        }
        fputs("</g>\n", out);
    }
    /* Up to six time labels, evenly spread. */
    size_t nlabels = nb < 6 ? nb : 6;
    for (size_t k = 0; k < nlabels; k++) {
        size_t i = nlabels == 1 ? 0 : k * (nb - 1) / (nlabels - 1);
        double x = left + bw * ((double)i + 0.5);
        bucket_label(first + (int64_t)i * api->bucket_ms, api->bucket_ms, label, sizeof label);
        /* The outermost labels hang inwards so that they are not cut. */
        const char *anchor = nlabels > 1 && k == 0 ? " style=\"text-anchor:start\""
                             : nlabels > 1 && k == nlabels - 1 ? " style=\"text-anchor:end\""
                                                               : "";
        if (nlabels > 1 && k == 0)
            x = left + bw * (double)i;
        else if (nlabels > 1 && k == nlabels - 1)
            x = left + bw * ((double)i + 1);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xlab\"%s>%s</text>", x, top + ph + 18, anchor, label);
    }
    fprintf(out, "\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n</svg>\n", left, top + ph,
            left + pw, top + ph);
}

/* Horizontal bars, stacked by decision, one per audience. */
static void html_audience_chart(FILE *out, const aa_api_sum *api, size_t max_rows)
{
    size_t rows = api->n_auds < max_rows ? api->n_auds : max_rows;
    const int W = 900, label_w = 330, row_h = 24, count_w = 90;
    int H = (int)rows * row_h + 8;
    uint64_t maxv = 1;
    char num[32];

    for (size_t z = 0; z < rows; z++)
        if (api->auds[z].requests > maxv)
            maxv = api->auds[z].requests;
    fprintf(out, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"requests per audience\">\n",
            W, H);
    for (size_t z = 0; z < rows; z++) {
        const aa_aud_sum *au = &api->auds[z];
        int y = 4 + (int)z * row_h;
        sbuf b = {0};
        sb_put_val(&b, au->aud, NO_AUD);
        /* Long names are shortened in the chart only; the table below has
         * them in full. */
        size_t cut = b.n, chars = 0;
        for (size_t i = 0; i < b.n; i++) {
            if (((unsigned char)b.p[i] & 0xC0) != 0x80 && ++chars > 44) {
                cut = i;
                break;
            }
        }
        fprintf(out, "<g><title>");
        html_esc(out, b.p, b.n);
        fprintf(out, ": %" PRIu64 " requests</title><text x=\"%d\" y=\"%d\" class=\"blab\">%s", au->requests,
                label_w - 8, y + 16, au->allowed ? "\xE2\x9C\x93 " : "");
        html_esc(out, b.p, cut);
        if (cut < b.n)
            fputs("\xE2\x80\xA6", out);
        fputs("</text>", out);
        double x = label_w;
        for (int d = 0; d < AA_NDECISIONS; d++) {
            if (au->n[d] == 0)
                continue;
            double w = (double)(W - label_w - count_w) * (double)au->n[d] / (double)maxv;
            fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>", x, y + 3,
                    w < 0.5 ? 0.5 : w, row_h - 6, colors[d]);
            x += w;
        }
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"cnt\">%s</text></g>\n", x + 6, y + 16,
                count_text(au->requests, num, sizeof num));
        free(b.p);
    }
    fputs("</svg>\n", out);
}

static void html_bar_cell(FILE *out, uint64_t v, uint64_t maxv, const char *color)
{
    double w = maxv ? 200.0 * (double)v / (double)maxv : 0;
    fprintf(out, "<td class=\"bar\"><svg viewBox=\"0 0 200 12\" width=\"200\" height=\"12\" aria-hidden=\"true\">"
                 "<rect x=\"0\" y=\"1\" width=\"%.2f\" height=\"10\" fill=\"%s\"/></svg></td>",
            w < 0.5 ? 0.5 : w, color);
}

typedef struct {
    const aa_aud_sum *aud;
    const aa_client_sum *client;
    uint64_t rejected;
} fix_pair;

static int cmp_fix_pair(const void *x, const void *y)
{
    const fix_pair *a = x, *b = y;
    if (a->rejected != b->rejected)
        return a->rejected > b->rejected ? -1 : 1;
    /* Audiences that are not allowed first: those are the AudAllow
     * decisions; then a stable order. */
    if (a->aud->allowed != b->aud->allowed)
        return a->aud->allowed ? 1 : -1;
    size_t n = a->client->client.n < b->client->client.n ? a->client->client.n : b->client->client.n;
    int c = memcmp(a->client->client.p, b->client->client.p, n);
    if (c != 0)
        return c;
    if (a->client->client.n != b->client->client.n)
        return a->client->client.n < b->client->client.n ? -1 : 1;
    n = a->aud->aud.n < b->aud->aud.n ? a->aud->aud.n : b->aud->aud.n;
    c = memcmp(a->aud->aud.p, b->aud->aud.p, n);
    if (c != 0)
        return c;
    return (a->aud->aud.n > b->aud->aud.n) - (a->aud->aud.n < b->aud->aud.n);
}

static void html_api(FILE *out, const aa_api_sum *api, size_t idx, const aa_report_ctx *c)
{
    char num[32], pct[32], t1[64], t2[64], span[64];

    fprintf(out, "<section class=\"api\" id=\"api-%zu\">\n<h2>", idx + 1);
    html_val(out, api->api, NO_API);
    aud_time_format_ms(api->first_ms, t1, sizeof t1);
    aud_time_format_ms(api->last_ms, t2, sizeof t2);
    duration_text(api->last_ms - api->first_ms, span, sizeof span);
    fprintf(out, "</h2>\n<p class=\"meta\">%s to %s (%s) &middot; mode: %s</p>\n", t1, t2, span,
            mode_text(api->modes));
    fprintf(out, "<div class=\"kpis\"><div class=\"kpi\"><b>%s</b><span>requests</span></div>",
            count_text(api->requests, num, sizeof num));
    for (int d = 0; d < AA_NDECISIONS; d++)
        fprintf(out, "<div class=\"kpi\" style=\"border-color:%s\"><b>%s</b><span>%s &middot; %s</span></div>",
                colors[d], count_text(api->n[d], num, sizeof num), aa_decision_names[d],
                pct_text(api->n[d], api->requests, pct, sizeof pct));
    fputs("</div>\n", out);

    fprintf(out, "<h3>Decisions per %s</h3>\n",
            api->bucket_ms == 3600000    ? "hour"
            : api->bucket_ms == 86400000 ? "day"
            : api->bucket_ms == 604800000 ? "week"
                                          : "period");
    html_timeline(out, api);
    fputs("<p class=\"legend\">", out);
    for (int d = 0; d < AA_NDECISIONS; d++)
        fprintf(out, "<span><i style=\"background:%s\"></i>%s</span>", colors[d], aa_decision_names[d]);
    fputs("</p>\n", out);

    fputs("<h3>Audiences</h3>\n", out);
    html_audience_chart(out, api, 12);
    fputs("<table><thead><tr><th>audience</th><th>allowed</th><th class=\"n\">requests</th><th class=\"n\">accept</th>"
          "<th class=\"n\">reject</th><th class=\"n\">audit_reject</th><th>reasons</th></tr></thead><tbody>\n",
          out);
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        fputs("<tr><td class=\"v\">", out);
        html_val(out, au->aud, NO_AUD);
        fprintf(out, "</td><td>%s</td>", au->allowed ? "\xE2\x9C\x93 yes" : "no");
        fprintf(out, "<td class=\"n\">%s</td>", count_text(au->requests, num, sizeof num));
        for (int d = 0; d < AA_NDECISIONS; d++)
            fprintf(out, "<td class=\"n\">%s</td>", count_text(au->n[d], num, sizeof num));
        fputs("<td>", out);
        for (size_t r = 0; r < au->n_reasons; r++) {
            if (r)
                fputs(", ", out);
            html_val(out, au->reasons[r].v, "?");
            fprintf(out, " %s", count_text(au->reasons[r].n, num, sizeof num));
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);

    fputs("<h3>Reasons and hints</h3>\n", out);
    if (api->n_reasons == 0 && api->n_hints == 0) {
        fputs("<p>No request was rejected.</p>\n", out);
    } else {
        uint64_t maxv = 0;
        for (size_t r = 0; r < api->n_reasons; r++)
            maxv = api->reasons[r].n > maxv ? api->reasons[r].n : maxv;
        for (size_t h = 0; h < api->n_hints; h++)
            maxv = api->hints[h].n > maxv ? api->hints[h].n : maxv;
        fputs("<table><thead><tr><th>reason or hint</th><th class=\"n\">requests</th><th></th><th>what it says</th>"
              "</tr></thead><tbody>\n", out);
        for (size_t r = 0; r < api->n_reasons && r < 15; r++) {
            fputs("<tr><td class=\"v\">", out);
            html_val(out, api->reasons[r].v, "?");
            fprintf(out, "</td><td class=\"n\">%s</td>", count_text(api->reasons[r].n, num, sizeof num));
            html_bar_cell(out, api->reasons[r].n, maxv, colors[AA_REJECT]);
            fputs("<td>reason</td></tr>\n", out);
        }
        for (size_t h = 0; h < api->n_hints && h < 15; h++) {
            fputs("<tr><td class=\"v\">hint: ", out);
            html_val(out, api->hints[h].code, "?");
            fprintf(out, "</td><td class=\"n\">%s</td>", count_text(api->hints[h].n, num, sizeof num));
            html_bar_cell(out, api->hints[h].n, maxv, "#5c6bc0");
            fputs("<td>", out);
            for (size_t x = 0; x < api->hints[h].n_texts && x < 5; x++) {
                if (x)
                    fputs("<br>", out);
                html_val(out, api->hints[h].texts[x].text, NO_TEXT);
                fprintf(out, " (%s)", count_text(api->hints[h].texts[x].n, num, sizeof num));
            }
            fputs("</td></tr>\n", out);
        }
        fputs("</tbody></table>\n", out);
    }

    fputs("<h3>Clients that need fixing</h3>\n", out);
    /* Every (audience, client) pair with rejections, the most first. */
    size_t n_pairs = 0, cap = 0;
    fix_pair *pairs = NULL;
    for (size_t z = 0; z < api->n_auds; z++) {
        for (size_t k = 0; k < api->auds[z].n_clients; k++) {
            uint64_t cr = rejected(api->auds[z].clients[k].n);
            if (cr == 0)
                continue;
            if (n_pairs == cap) {
                cap = cap ? cap * 2 : 16;
                pairs = xrealloc(pairs, cap * sizeof *pairs);
            }
            pairs[n_pairs].aud = &api->auds[z];
            pairs[n_pairs].client = &api->auds[z].clients[k];
            pairs[n_pairs].rejected = cr;
            n_pairs++;
        }
    }
    sort_n(pairs, n_pairs, sizeof *pairs, cmp_fix_pair);
    size_t limit = (size_t)c->top * 5;
    if (n_pairs == 0) {
        fputs("<p>None: no request was rejected.</p>\n", out);
    } else {
        fputs("<table class=\"fix\"><thead><tr><th>client</th><th>audience it sends</th><th class=\"n\">rejected</th>"
              "<th class=\"n\">of which audit_reject</th><th>why</th></tr></thead><tbody>\n", out);
        for (size_t i = 0; i < n_pairs && i < limit; i++) {
            const aa_client_sum *cl = pairs[i].client;
            fputs("<tr><td class=\"v\">", out);
            html_val(out, cl->client, NO_CLIENT);
            fputs("</td><td class=\"v\">", out);
            html_val(out, pairs[i].aud->aud, NO_AUD);
            fprintf(out, "</td><td class=\"n\">%s</td>", count_text(pairs[i].rejected, num, sizeof num));
            fprintf(out, "<td class=\"n\">%s</td><td>", count_text(cl->n[AA_AUDIT_REJECT], num, sizeof num));
            bool any = false;
            for (size_t h = 0; h < cl->n_hints; h++) {
                for (size_t x = 0; x < cl->hints[h].n_texts && x < 3; x++) {
                    if (any)
                        fputs("<br>", out);
                    html_val(out, is_null(cl->hints[h].texts[x].text) ? cl->hints[h].code : cl->hints[h].texts[x].text,
                             NO_TEXT);
                    any = true;
                }
            }
            if (!any) {
                for (size_t r = 0; r < cl->n_reasons; r++) {
                    if (r)
                        fputs(", ", out);
                    html_val(out, cl->reasons[r].v, "?");
                    fprintf(out, " %s", count_text(cl->reasons[r].n, num, sizeof num));
                }
            }
            fputs("</td></tr>\n", out);
        }
        fputs("</tbody></table>\n", out);
        if (n_pairs > limit)
            fprintf(out, "<p class=\"meta\">and %s more client and audience pairs (see --json)</p>\n",
                    count_text(n_pairs - limit, num, sizeof num));
    }
    free(pairs);
    fputs("</section>\n", out);
}

static const char html_css[] =
    ":root{color-scheme:light}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;"
    "margin:0 auto;max-width:960px;padding:16px 20px;color:#1d1d1f;background:#fff;line-height:1.4}"
    "h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.35em;margin:0 0 .2em;border-bottom:2px solid #ddd}"
    "h3{font-size:1.05em;margin:1.2em 0 .4em}"
    ".meta{color:#555;font-size:.9em;margin:.2em 0}"
    "nav ul{padding-left:1.2em}section.api{margin:24px 0 40px}"
    ".kpis{display:flex;gap:10px;flex-wrap:wrap;margin:10px 0}"
    ".kpi{border-left:5px solid #999;padding:4px 10px;background:#f6f6f6;min-width:130px}"
    ".kpi b{display:block;font-size:1.3em}.kpi span{color:#444;font-size:.85em}"
    "svg.chart{width:100%;height:auto;display:block}"
    "svg .grid{stroke:#e4e4e4;stroke-width:1}svg .axis{stroke:#888;stroke-width:1}"
    "svg text{font-family:inherit;font-size:12px;fill:#333}"
    "svg .ylab{text-anchor:end}svg .xlab{text-anchor:middle}svg .blab{text-anchor:end}"
    ".legend span{margin-right:14px;font-size:.9em}"
    ".legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}"
    "table{border-collapse:collapse;width:100%;font-size:.9em;margin:6px 0}"
    "th,td{border-bottom:1px solid #e2e2e2;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.v{overflow-wrap:anywhere;min-width:12ch;font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace}"
    "td.bar{width:205px}"
    ".bad{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.85em}"
    "@media print{body{max-width:none;padding:0}nav{display:none}"
    "section.api{break-before:page}section.api:first-of-type{break-before:auto}"
    "svg,table,.kpis{break-inside:avoid}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

int aa_report_html(FILE *out, const aa_summary *s, const aa_report_ctx *c)
{
    char num[32], t[64];

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>aud-audit report</title>\n<style>",
          out);
    fputs(html_css, out);
    fputs("</style>\n</head>\n<body>\n<header>\n<h1>aud-audit report</h1>\n", out);
    aud_time_format_ms(c->generated_ms, t, sizeof t);
    fprintf(out, "<p class=\"meta\">Generated %s from %zu file%s: ", t, c->n_files, c->n_files == 1 ? "" : "s");
    for (size_t i = 0; i < c->n_files; i++) {
        if (i)
            fputs(", ", out);
        fputs("<code>", out);
        html_str(out, c->files[i].name);
        fputs("</code>", out);
    }
    fprintf(out, ".<br>%s lines, %s records", count_text(c->lines, num, sizeof num),
            count_text(c->records, t, sizeof t));
    fprintf(out, ", %s malformed", count_text(c->malformed, num, sizeof num));
    fprintf(out, ", %s filtered out.", count_text(c->filtered, num, sizeof num));
    {
        sbuf b = {0};
        FILE *mem = open_memstream(&b.p, &b.n);
        if (mem != NULL) {
            put_filters_text(mem, c, "");
            fclose(mem);
            if (b.n > 0) {
                fputs("<br>", out);
                html_esc(out, b.p, b.n - 1);
            }
            free(b.p);
        }
    }
    fputs("</p>\n</header>\n", out);

    if (s->n_apis > 1) {
        fputs("<nav><h2>APIs</h2><ul>\n", out);
        for (size_t x = 0; x < s->n_apis; x++) {
            fprintf(out, "<li><a href=\"#api-%zu\">", x + 1);
            html_val(out, s->apis[x].api, NO_API);
            fprintf(out, "</a> &middot; %s request%s</li>\n", count_text(s->apis[x].requests, num, sizeof num),
                    s->apis[x].requests == 1 ? "" : "s");
        }
        fputs("</ul></nav>\n", out);
    }
    if (s->n_apis == 0)
        fputs("<p>No audit records to report.</p>\n", out);
    for (size_t x = 0; x < s->n_apis; x++)
        html_api(out, &s->apis[x], x, c);

    if (c->malformed > 0) {
        fprintf(out, "<section><h2>Malformed lines</h2><p>%s lines were skipped; the first ones:</p><ul class=\"bad\">\n",
                count_text(c->malformed, num, sizeof num));
        for (size_t i = 0; i < c->n_bad; i++) {
            fputs("<li>", out);
            html_str(out, c->bad[i].file);
            fprintf(out, ":%" PRIu64 ": ", c->bad[i].line);
            html_str(out, c->bad[i].why);
            fputs("</li>\n", out);
        }
        fputs("</ul></section>\n", out);
    }
    fputs("</body>\n</html>\n", out);
    return ferror(out) ? -1 : 0;
}
