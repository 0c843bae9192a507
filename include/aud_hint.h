/* Hints: the likely mistake behind a refusal, in plain words.
 *
 * Hints never change a decision (matching stays exact); they explain it.
 * They are computed here, in the core, so that the module's audit record,
 * its log line and aud-inspect all say the same thing. */
#ifndef AUD_HINT_H
#define AUD_HINT_H

#include <stddef.h>

#include "aud_result.h"

/* One API as hints see it: its name and what it accepts. */
typedef struct {
    const char *name;
    const char *const *audiences;
    size_t n_audiences;
    const char *const *issuers;
    size_t n_issuers;
} aud_api_view;

typedef struct {
    const aud_api_view *self; /* the API that refused (or accepted) */
    const aud_api_view *others; /* every other API on the same server */
    size_t n_others;
    double now;
} aud_hint_context;

/* Computes the hints for a decision and stores them in r->hints as a JSON
 * array of objects {"code", "text", ...extra fields}. Values quoted from the
 * token are cut to a safe length and stripped of control characters. */
void aud_hints_add(aud_result *r, const aud_hint_context *ctx);

/* The text of the first hint, or NULL. */
const char *aud_hints_first_text(const aud_result *r);

/* The display name of a well-known foreign resource ("Microsoft Graph") when
 * aud names one, else NULL. */
const char *aud_well_known_resource(const char *aud);

/* Start-up lint of one allow list: values that differ only by a trailing
 * slash, case or scheme; surrounding whitespace; well-known foreign
 * resources; a bare GUID without its api:// twin or the reverse; allowances
 * (until, parallel to values, 0 = none; may be NULL) that ended or end
 * within 14 days of now. Each warning goes to warn as one sentence. */
typedef void aud_lint_fn(void *baton, const char *message);
void aud_lint_audiences(const char *const *values, size_t n, const double *until, double now, aud_lint_fn *warn,
                        void *baton);

#endif
