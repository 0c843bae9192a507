/* The text report: fits an 80-column terminal, values made safe for it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aud_audit_report.h"
#include "aud_time.h"

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


/* Name column of the one-number tables (reasons, hints, clients): wide
 * enough for most audience URIs, narrow enough to keep the count near. */
#define SINGLE_NAME_W 50

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

/* "openid 12, orders.read 10, ... 3 more", wrapped under its label. */
static void text_top(FILE *out, const char *label, const aa_vcount *v, size_t n, unsigned top)
{
    char num[32], first[32];
    sbuf b = {0};

    for (size_t i = 0; i < n && i < top; i++) {
        if (i)
            sb_puts(&b, ", ");
        sb_put_val(&b, v[i].v, "?");
        sb_printf(&b, " %s", count_text(v[i].n, num, sizeof num));
    }
    if (n > top)
        sb_printf(&b, ", ... %s more", count_text(n - top, num, sizeof num));
    if (n == 0)
        sb_puts(&b, "(none)");
    snprintf(first, sizeof first, "    %-8s", label);
    wrap2(out, first, "            ", b.p);
    free(b.p);
}

/* Refusals of accepted tokens per unmet requirement, with what those
 * tokens carried. */
static void text_reqs(FILE *out, const aa_api_sum *api, const aa_report_ctx *c, size_t col_w)
{
    size_t name_w = 77 - 2 * (col_w + 1);
    char c0[32], c1[32];
    sbuf b = {0};
    const char *hdr[] = {"reject", "audit_rej"};

    fputc('\n', out);
    name_row(out, "", "unmet requirements (accepted tokens refused)", name_w + 2, hdr, 2, col_w);
    for (size_t q = 0; q < api->n_reqs; q++) {
        const aa_req_sum *r = &api->reqs[q];
        const char *cols[] = {count_text(r->n[AA_REJECT], c0, sizeof c0),
                              count_text(r->n[AA_AUDIT_REJECT], c1, sizeof c1)};
        sb_reset(&b);
        req_text(&b, r->req);
        name_row(out, "  ", b.p, name_w, cols, 2, col_w);
        text_top(out, "scopes", r->scopes, r->n_scopes, c->top);
        text_top(out, "roles", r->roles, r->n_roles, c->top);
    }
    free(b.p);
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
    /* Preflights only where there are some: an API without CORS reads as
     * it always did. */
    for (int d = 0; d < AA_NDECISIONS; d++)
        if (d != AA_PREFLIGHT || api->n[d] > 0)
            fprintf(out, "%-13s %12s %7s\n", aa_decision_names[d], count_text(api->n[d], num, sizeof num),
                    pct_text(api->n[d], api->requests, pct, sizeof pct));

    /* Audiences: the column width follows the largest number. */
    size_t col_w = 9;
    count_text(api->requests, num, sizeof num);
    if (strlen(num) > col_w)
        col_w = strlen(num);
    size_t ncols = api->n[AA_PREFLIGHT] > 0 ? 5 : 4;
    size_t name_w = 75 - ncols * (col_w + 1);
    fputc('\n', out);
    {
        const char *hdr[] = {"requests", "accept", "reject", "audit_rej", "preflight"};
        name_row(out, "", "audiences", name_w + 4, hdr, ncols, col_w);
    }
    for (size_t z = 0; z < api->n_auds; z++) {
        const aa_aud_sum *au = &api->auds[z];
        char c0[32], c1[32], c2[32], c3[32], c4[32];
        const char *cols[] = {count_text(au->requests, c0, sizeof c0), count_text(au->n[0], c1, sizeof c1),
                              count_text(au->n[1], c2, sizeof c2), count_text(au->n[2], c3, sizeof c3),
                              count_text(au->n[AA_PREFLIGHT], c4, sizeof c4)};
        sb_reset(&b);
        sb_put_val(&b, au->aud, NO_AUD);
        name_row(out, au->allowed ? "  * " : "    ", b.p, name_w, cols, ncols, col_w);
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

    if (api->n_reqs > 0)
        text_reqs(out, api, c, col_w);

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
