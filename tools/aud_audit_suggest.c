/* AudAllow suggestions: never a configuration line that Apache would read
 * differently from what is printed. */
#include <stdlib.h>
#include <string.h>

#include "aud_audit_report.h"

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
        for (int d = AA_REJECT; d <= AA_AUDIT_REJECT; d++) {
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
