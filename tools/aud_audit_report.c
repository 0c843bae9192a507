/* What the report formats share. Every value shown comes from a token or
 * a request and may be hostile: text output escapes control and bidi
 * characters (a crafted audience must not move a terminal's cursor or
 * reorder what an operator reads). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit_report.h"
#include "aud_time.h"

/* ---- a growable string ---- */

void sb_putn(sbuf *b, const char *s, size_t n)
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

void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_printf(sbuf *b, const char *fmt, ...)
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

void sb_reset(sbuf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* ---- numbers ---- */

/* "1,234,567" */
const char *count_text(uint64_t v, char *buf, size_t len)
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
const char *pct_text(uint64_t part, uint64_t total, char *buf, size_t len)
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

/* Appends s for a terminal or a configuration comment: C0, DEL, C1, the
 * line and paragraph separators (U+2028, U+2029) and the bidi controls
 * become visible escapes. */
void sb_put_safe(sbuf *b, const char *s, size_t n)
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
                                          (p[i + 2] >= 0xA8 && p[i + 2] <= 0xAE))) ||
                    (p[i + 1] == 0x81 && p[i + 2] >= 0xA6 && p[i + 2] <= 0xA9))) {
            unsigned cp = 0x2000u | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            sb_printf(b, "\\u%04x", cp);
            i += 2;
        } else {
            sb_putn(b, (const char *)&p[i], 1);
        }
    }
}

bool is_null(aa_val v)
{
    return v.n == 0 || v.p[0] == 'N';
}

/* A value as text: strings as they are (made safe), lists joined by ", ",
 * null as the given placeholder. */
void sb_put_val(sbuf *b, aa_val v, const char *null_text)
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


/* Characters on screen, counted as code points: close enough for the
 * names these reports show. */
size_t text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xC0) != 0x80;
    return w;
}

/* Words wrapped at 79 columns: the first line after first, the others
 * after cont (so a wrapped comment stays a comment). */
void wrap2(FILE *out, const char *first, const char *cont, const char *text)
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

void wrap(FILE *out, const char *indent, const char *text)
{
    wrap2(out, indent, indent, text);
}

void duration_text(int64_t ms, char *buf, size_t len)
{
    aud_duration_format((double)ms / 1000.0, buf, len);
}

const char *mode_text(unsigned modes)
{
    switch (modes) {
    case 0: return "unknown";
    case AA_MODE_ENFORCE: return "enforce";
    case AA_MODE_AUDIT: return "audit";
    case AA_MODE_ENFORCE | AA_MODE_AUDIT: return "enforce and audit (the mode changed)";
    default: return "mixed";
    }
}

void req_text(sbuf *b, aa_val req)
{
    uint32_t pos = 1;
    aa_str e;
    bool claim = false;
    size_t i = 0;

    while (aa_list_next(req, &pos, &e)) {
        if (i == 0) {
            sb_put_safe(b, e.p, e.n);
            claim = e.n == 5 && memcmp(e.p, "claim", 5) == 0;
            sb_puts(b, " ");
        } else if (i == 1 && claim) {
            sb_put_safe(b, e.p, e.n);
            sb_puts(b, " =");
            sb_puts(b, " ");
        } else {
            if (i > (claim ? 2u : 1u))
                sb_puts(b, " | ");
            sb_put_safe(b, e.p, e.n);
        }
        i++;
    }
    if (i == (claim ? 2u : 1u))
        sb_puts(b, "(no values)");
}

uint64_t rejected(const uint64_t n[AA_NDECISIONS])
{
    return n[AA_REJECT] + n[AA_AUDIT_REJECT];
}

/* ---- header lines shared by text, suggest and HTML ---- */

void put_filters_text(FILE *out, const aa_report_ctx *c, const char *prefix)
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

void put_input_text(FILE *out, const aa_report_ctx *c, const char *prefix)
{
    char a[32], b[32], d[32], e[32], f[32];
    fprintf(out, "%sinput       %zu file%s, %s lines, %s records\n", prefix, c->n_files, c->n_files == 1 ? "" : "s",
            count_text(c->lines, a, sizeof a), count_text(c->records, b, sizeof b));
    fprintf(out, "%sskipped     %s malformed, %s blank, %s filtered out\n", prefix,
            count_text(c->malformed, d, sizeof d), count_text(c->blank, e, sizeof e),
            count_text(c->filtered, f, sizeof f));
}
