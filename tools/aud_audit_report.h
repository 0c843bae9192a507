/* What the four report formats of aud-audit share: a growable string,
 * numbers as people read them, and hostile values made safe to show.
 * Not a public interface. */
#ifndef AUD_AUDIT_REPORT_H
#define AUD_AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "aud_audit_tool.h"

#define NO_API "(no api name)"
#define NO_AUD "(no audience)"
#define NO_CLIENT "(no client)"
#define NO_TEXT "(no text)"

/* A growable string, always NUL-terminated once written to; {0} is empty. */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

void sb_putn(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_reset(sbuf *b);

/* "1,234,567"; returns buf. */
const char *count_text(uint64_t v, char *buf, size_t len);
/* part of total with one decimal, "81.0%" ("-" for no total); returns buf. */
const char *pct_text(uint64_t part, uint64_t total, char *buf, size_t len);

/* Appends s for a terminal or a configuration comment: C0, DEL, C1, the
 * line and paragraph separators (U+2028, U+2029) and the bidi controls
 * become visible escapes. */
void sb_put_safe(sbuf *b, const char *s, size_t n);
/* A null (or absent) value. */
bool is_null(aa_val v);
/* A value as text, made safe: strings as they are, lists joined by ", ",
 * null as null_text. */
void sb_put_val(sbuf *b, aa_val v, const char *null_text);

/* Characters on screen, counted as code points. */
size_t text_width(const char *s);
/* text wrapped at 79 columns: the first line after first, the others after
 * cont. wrap: the same indent for all lines. */
void wrap2(FILE *out, const char *first, const char *cont, const char *text);
void wrap(FILE *out, const char *indent, const char *text);

void duration_text(int64_t ms, char *buf, size_t len);
const char *mode_text(unsigned modes);
/* A requirement ('A' list: kind, a claim's name, values) for people:
 * "scope orders.write | orders.admin", "claim /realm_access/roles = a | b",
 * made safe as sb_put_val does. */
void req_text(sbuf *b, aa_val req);
/* reject + audit_reject */
uint64_t rejected(const uint64_t n[AA_NDECISIONS]);

/* The report's "input", "skipped" and "filters" lines, each after prefix. */
void put_filters_text(FILE *out, const aa_report_ctx *c, const char *prefix);
void put_input_text(FILE *out, const aa_report_ctx *c, const char *prefix);

#endif
