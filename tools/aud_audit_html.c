/* The HTML report: one self-contained page (inline CSS and SVG, no
 * script); values made safe as in text, then escaped for markup. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit_report.h"
#include "aud_time.h"

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

/* "aud_mismatch 12, expired 3" */
static void html_reasons(FILE *out, const aa_vcount *reasons, size_t n)
{
    char num[32];
    for (size_t r = 0; r < n; r++) {
        if (r)
            fputs(", ", out);
        html_val(out, reasons[r].v, "?");
        fprintf(out, " %s", count_text(reasons[r].n, num, sizeof num));
    }
}

static const char *const colors[AA_NDECISIONS] = {"#2e7d32", "#c62828", "#ef9a00", "#607d8b"};

/* Preflights are shown only where there are some, so that a report of an
 * API without CORS looks as it always did. */
static bool shows_decision(const aa_api_sum *api, int d)
{
    return d != AA_PREFLIGHT || api->n[AA_PREFLIGHT] > 0;
}

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
        uint64_t t = aa_total(api->buckets[i].n);
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
        fprintf(out, "<g><title>%s: %" PRIu64 " accept, %" PRIu64 " reject, %" PRIu64 " audit_reject", t,
                b->n[AA_ACCEPT], b->n[AA_REJECT], b->n[AA_AUDIT_REJECT]);
        if (b->n[AA_PREFLIGHT] > 0)
            fprintf(out, ", %" PRIu64 " preflight", b->n[AA_PREFLIGHT]);
        fputs("</title>", out);
        static const int order[] = {AA_ACCEPT, AA_AUDIT_REJECT, AA_REJECT, AA_PREFLIGHT};
        for (int k = 0; k < AA_NDECISIONS; k++) {
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

/* The top entries of a scope or role list, "openid (12)", one per line. */
static void html_top(FILE *out, const aa_vcount *v, size_t n, unsigned top)
{
    char num[32];
    for (size_t i = 0; i < n && i < top; i++) {
        if (i)
            fputs("<br>", out);
        html_val(out, v[i].v, "?");
        fprintf(out, " (%s)", count_text(v[i].n, num, sizeof num));
    }
    if (n > top)
        fprintf(out, "<br>&hellip; %s more", count_text(n - top, num, sizeof num));
}

static void html_reqs(FILE *out, const aa_api_sum *api, const aa_report_ctx *c)
{
    char num[32];
    sbuf b = {0};

    fputs("<h3>Unmet requirements</h3>\n<table class=\"reqs\"><thead><tr><th>requirement</th>"
          "<th class=\"n\">reject</th><th class=\"n\">audit_reject</th><th>scopes the tokens carried</th>"
          "<th>roles the tokens carried</th></tr></thead><tbody>\n",
          out);
    for (size_t q = 0; q < api->n_reqs; q++) {
        const aa_req_sum *r = &api->reqs[q];
        sb_reset(&b);
        req_text(&b, r->req);
        fputs("<tr><td class=\"v\">", out);
        html_esc(out, b.p, b.n);
        fprintf(out, "</td><td class=\"n\">%s</td>", count_text(r->n[AA_REJECT], num, sizeof num));
        fprintf(out, "<td class=\"n\">%s</td><td class=\"v\">", count_text(r->n[AA_AUDIT_REJECT], num, sizeof num));
        html_top(out, r->scopes, r->n_scopes, c->top);
        fputs("</td><td class=\"v\">", out);
        html_top(out, r->roles, r->n_roles, c->top);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    free(b.p);
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
        if (shows_decision(api, d))
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
        if (shows_decision(api, d))
            fprintf(out, "<span><i style=\"background:%s\"></i>%s</span>", colors[d], aa_decision_names[d]);
    fputs("</p>\n", out);

    fputs("<h3>Audiences</h3>\n", out);
    html_audience_chart(out, api, 12);
    fputs("<table><thead><tr><th>audience</th><th>allowed</th><th class=\"n\">requests</th><th class=\"n\">accept</th>"
          "<th class=\"n\">reject</th><th class=\"n\">audit_reject</th>",
          out);
    if (shows_decision(api, AA_PREFLIGHT))
        fputs("<th class=\"n\">preflight</th>", out);
    fputs("<th>reasons</th></tr></thead><tbody>\n", out);
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        fputs("<tr><td class=\"v\">", out);
        html_val(out, au->aud, NO_AUD);
        fprintf(out, "</td><td>%s</td>", au->allowed ? "\xE2\x9C\x93 yes" : "no");
        fprintf(out, "<td class=\"n\">%s</td>", count_text(au->requests, num, sizeof num));
        for (int d = 0; d < AA_NDECISIONS; d++)
            if (shows_decision(api, d))
                fprintf(out, "<td class=\"n\">%s</td>", count_text(au->n[d], num, sizeof num));
        fputs("<td>", out);
        html_reasons(out, au->reasons, au->n_reasons);
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

    if (api->n_reqs > 0)
        html_reqs(out, api, c);

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
            if (!any)
                html_reasons(out, cl->reasons, cl->n_reasons);
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

