/* aud-audit internals: shared by the scanner, the aggregation, the reports
 * and the driver. Not a public interface. */
#ifndef AUD_AUDIT_TOOL_H
#define AUD_AUDIT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aud_tool.h"

#define AA_PROG "aud-audit"

/* A record longer than this is not one the module wrote (its fields are
 * capped far below); refusing it keeps a corrupt or binary file from making
 * us buffer without limit while looking for a newline. */
#define AA_MAX_LINE (1024 * 1024)

/* Per record, at most this many audiences, reasons and hints are kept (the
 * module writes at most 16 audiences); the rest are checked but ignored. */
#define AA_MAX_LIST 64

/* Nesting deeper than jansson accepts is refused, so that both parsers agree
 * on what a valid line is. */
#define AA_MAX_DEPTH 2048

/* preflight: a CORS preflight let through without a token. */
enum { AA_ACCEPT, AA_REJECT, AA_AUDIT_REJECT, AA_PREFLIGHT, AA_NDECISIONS };

/* Per record, at most this many token scopes and roles are kept (the module
 * writes at most 16 of each). */
#define AA_MAX_TOKEN_LIST 16

/* The requirement an accepted token did not meet ("required"). */
typedef enum { AA_REQ_NONE, AA_REQ_SCOPE, AA_REQ_ROLE, AA_REQ_CLAIM, AA_REQ_CLIENT } aa_req_kind;

/* Modes seen for an API, as bits. */
enum { AA_MODE_ENFORCE = 1, AA_MODE_AUDIT = 2, AA_MODE_OTHER = 4 };

/* A decoded JSON string: valid UTF-8 without NUL bytes (both parsers refuse
 * \u0000 and lone surrogates). Points into the line or the scratch buffer. */
typedef struct {
    const char *p;
    size_t n;
} aa_str;

/* A field that should be a string: absent, null and any other type all mean
 * "not known"; only a string is used. */
typedef struct {
    bool is_str;
    aa_str s;
} aa_opt;

typedef struct {
    aa_str code;
    aa_opt text;
} aa_hint;

/* What one line says, as far as the summary needs it. */
typedef struct {
    aa_opt time;
    aa_opt api;
    aa_opt decision;
    aa_opt mode;
    aa_opt client;
    aa_opt matched;
    bool aud_is_list; /* an array, or a single string; otherwise "no audience" */
    size_t n_aud;
    aa_str aud[AA_MAX_LIST];
    size_t n_reasons;
    aa_str reasons[AA_MAX_LIST];
    size_t n_hints;
    aa_hint hints[AA_MAX_LIST];
    /* "required": the first of claim (a string "claim" with a "values"
     * array), scope, role, client (arrays) that the object holds, whatever
     * the member order; AA_REQ_NONE when it holds none of them. */
    aa_req_kind req_kind;
    aa_str req_claim;
    size_t n_req_values;
    aa_str req_values[AA_MAX_LIST];
    size_t n_scopes, n_roles;
    aa_str scopes[AA_MAX_TOKEN_LIST];
    aa_str roles[AA_MAX_TOKEN_LIST];
} aa_record;

/* ---- aud_audit_scan.c ---- */

/* Fills r from one line (without its newline). scratch must hold at least
 * len bytes: decoded strings never grow. Returns NULL on success, else a
 * static description of what is wrong with the line. */
const char *aa_scan_fast(const char *line, size_t len, aa_record *r, char *scratch);

/* The same with jansson parsing the whole line, for cross-checking the fast
 * scanner. *holder receives the parsed document (to be freed with
 * aa_scan_release once r is no longer used). err_buf receives jansson's
 * message. */
const char *aa_scan_jansson(const char *line, size_t len, aa_record *r, void **holder, char *err_buf,
                            size_t err_len);
void aa_scan_release(void *holder);

/* ---- aud_audit_agg.c ---- */

/* Interned values. Each is a tag byte followed by its content:
 *   'N'             null, absent or of another type
 *   'S' bytes       a string
 *   'A' {len bytes} a list of strings, each preceded by its length as a
 *                   LEB128 varint, so that no element can be confused with
 *                   two. */
typedef struct {
    const unsigned char *p;
    uint32_t n;
} aa_val;

typedef struct aa_agg aa_agg;

typedef struct {
    const char *const *apis;
    size_t n_apis;
    unsigned decisions; /* bit per AA_ACCEPT..., 0 = all */
    bool has_since, has_until;
    int64_t since_ms, until_ms; /* since <= t < until */
} aa_filter;

aa_agg *aa_agg_new(void);
void aa_agg_free(aa_agg *a);

/* Outcome of aa_agg_account. */
typedef enum { AA_COUNTED, AA_FILTERED, AA_INVALID } aa_outcome;

/* Adds a parsed record. AA_INVALID (with *why set) when the record lacks
 * what every record has (a valid time, a known decision). */
aa_outcome aa_agg_account(aa_agg *a, const aa_record *r, const aa_filter *f, const char **why);

/* Moves everything from src into dst; src is left empty but usable. */
void aa_agg_merge(aa_agg *dst, aa_agg *src);

/* ---- the summary, built from an aggregate for the reports ---- */

typedef struct {
    aa_val v;
    uint64_t n;
} aa_vcount;

typedef struct {
    aa_val text;
    uint64_t n;
} aa_text_count;

typedef struct {
    aa_val code;
    uint64_t n;
    size_t n_texts;
    aa_text_count *texts; /* most frequent first */
} aa_hint_sum;

typedef struct {
    aa_val client;
    uint32_t id; /* the value's id in the aggregate */
    uint64_t n[AA_NDECISIONS];
    size_t n_reasons;
    aa_vcount *reasons;
    size_t n_hints;
    aa_hint_sum *hints;
} aa_client_sum;

typedef struct {
    aa_val aud; /* 'A' list or 'N' */
    uint32_t id;
    uint64_t n[AA_NDECISIONS];
    uint64_t requests;
    bool allowed; /* some record with this audience matched an AudAllow */
    size_t n_matched;
    aa_vcount *matched;
    size_t n_reasons;
    aa_vcount *reasons;
    size_t n_clients;
    aa_client_sum *clients; /* most rejections first, then most requests */
    size_t n_hints;
    aa_hint_sum *hints;
} aa_aud_sum;

typedef struct {
    int64_t start_ms;
    uint64_t n[AA_NDECISIONS];
} aa_bucket;

/* Refusals of accepted tokens for one unmet requirement. */
typedef struct {
    aa_val req; /* 'A': kind word ("scope", "role", "claim", "client"), for a
                 * claim its name, then the wanted values */
    uint64_t n[AA_NDECISIONS]; /* reject and audit_reject */
    size_t n_scopes, n_roles;
    aa_vcount *scopes, *roles; /* what those tokens carried, most first */
} aa_req_sum;

typedef struct {
    aa_val api;
    uint64_t n[AA_NDECISIONS];
    uint64_t requests;
    size_t n_reqs;
    aa_req_sum *reqs; /* most refusals first */
    int64_t first_ms, last_ms;
    unsigned modes;
    size_t n_auds;
    aa_aud_sum *auds; /* most requests first */
    size_t n_reasons;
    aa_vcount *reasons;
    size_t n_hints;
    aa_hint_sum *hints;
    size_t n_allow;
    aa_vcount *allow; /* matched audiences of accepted requests, as 'S' */
    int64_t bucket_ms;  /* width of the timeline's buckets */
    size_t n_buckets;
    aa_bucket *buckets; /* non-empty ones, oldest first */
} aa_api_sum;

typedef struct {
    size_t n_apis;
    aa_api_sum *apis; /* by name; the unnamed API last */
    uint64_t requests;
    uint64_t n[AA_NDECISIONS];
} aa_summary;

/* Builds the summary. The aggregate must outlive it (values point into its
 * string storage). */
aa_summary *aa_summary_build(aa_agg *a);
void aa_summary_free(aa_summary *s);

/* n[0] + ... + n[AA_NDECISIONS - 1] */
uint64_t aa_total(const uint64_t n[AA_NDECISIONS]);

/* Iterates over the elements of an 'A' value: *pos starts at 1. */
bool aa_list_next(aa_val list, uint32_t *pos, aa_str *elem);

/* ---- the reports (aud_audit_text.c, _suggest.c, _json.c, _html.c) ---- */

typedef struct {
    const char *name;
    uint64_t lines, records, malformed, blank, filtered;
    bool read_error;
} aa_file_stat;

typedef struct {
    const char *file;
    uint64_t line;
    char why[120];
} aa_bad_line;

#define AA_MAX_BAD_EXAMPLES 5

/* Everything a report shows besides the summary itself. */
typedef struct {
    const aa_filter *filter;
    size_t n_files;
    const aa_file_stat *files;
    uint64_t lines, records, malformed, blank, filtered;
    size_t n_bad;
    const aa_bad_line *bad;
    unsigned top; /* clients shown per audience in text and HTML */
    int64_t generated_ms;
} aa_report_ctx;

int aa_report_text(FILE *out, const aa_summary *s, const aa_report_ctx *c);
int aa_report_suggest(FILE *out, const aa_summary *s, const aa_report_ctx *c);
int aa_report_json(FILE *out, const aa_summary *s, const aa_report_ctx *c);
int aa_report_html(FILE *out, const aa_summary *s, const aa_report_ctx *c);

extern const char *const aa_decision_names[AA_NDECISIONS];

#endif
