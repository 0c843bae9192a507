/* Claims as authorization sees them: where a claim is (a name or a JSON
 * Pointer, parsed once at configuration time), whether it holds a wanted
 * value, the scopes and roles a token grants, and a claim's value written
 * so that it can travel in a request header or an environment variable.
 *
 * Nothing here allocates per request except aud_claim_value_text: scopes
 * and roles are handed out as words pointing into the claims. */
#ifndef AUD_CLAIM_H
#define AUD_CLAIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aud_log.h"

/* Where a claim is.
 *
 * A name that does not start with '/' is one top-level member, taken
 * verbatim: Auth0 puts custom claims under URLs such as
 * "https://example.com/roles", and those must not be split at their
 * slashes.
 *
 * A name that starts with '/' is an RFC 6901 JSON Pointer:
 * "/realm_access/roles". In a reference token "~1" stands for '/' and "~0"
 * for '~'; any other '~' makes the pointer malformed. Empty tokens are
 * allowed ("/" names the member ""). Against an array a token must be a
 * decimal index without leading zeros ("0", "12"); "-" (RFC 6901's "past
 * the end") never matches anything. */
typedef struct aud_claim_ref aud_claim_ref;

/* NULL with err set when name is empty or a malformed pointer. */
aud_claim_ref *aud_claim_ref_parse(const char *name, aud_error *err);
void aud_claim_ref_free(aud_claim_ref *ref);
/* The name as configured (for messages; quote it before showing it). */
const char *aud_claim_ref_name(const aud_claim_ref *ref);
/* The value the reference names inside claims (borrowed from claims), or
 * NULL when it is absent or claims is not an object. */
const json_t *aud_claim_ref_get(const aud_claim_ref *ref, const json_t *claims);

/* A claim's scalar written as JSON text, the way values are compared:
 *   string   its bytes (no quotes, no escaping)
 *   integer  decimal, "-5", "0"
 *   true     "true", false "false"
 *   real     the shortest "%.Ng" (N = 1..17) that reads back as the same
 *            double, except that a number from 1e-4 up to below 1e17 is
 *            written without an exponent (100.0, not 1e+02), with ".0"
 *            added when that has neither '.' nor an exponent:
 *            1.5 -> "1.5", 0.1 -> "0.1", 2.0 -> "2.0", 1e2 -> "100.0",
 *            1e300 -> "1e+300", 1.25e-7 -> "1.25e-07". A real therefore
 *            never equals an integer's text: 5.0 is "5.0", not "5".
 * Objects, arrays and null have no scalar text. Writes into out (always
 * NUL-terminated when out_size > 0) and returns false when value is not a
 * scalar or out is too small. Strings are not copied: use
 * json_string_value for them; this returns false for a string only when
 * out is too small to hold it. */
#define AUD_CLAIM_SCALAR_SIZE 32
bool aud_claim_scalar_text(const json_t *value, char *out, size_t out_size);

/* True when value equals one of the n wanted strings, or is an array with
 * an element that does. Strings compare byte for byte; numbers and
 * booleans by their text (aud_claim_scalar_text). Objects, null and
 * nested arrays never match. */
bool aud_claim_value_matches(const json_t *value, const char *const *wanted, size_t n);

/* One scope or role: a word inside the claims (not NUL-terminated when it
 * came from a space-separated string). Valid as long as the claims are. */
typedef struct {
    const char *p;
    size_t n;
} aud_claim_word;

/* The scopes a token grants, into out (at most max; further ones are not
 * seen, which can only refuse, never grant). From "scope" when it is a
 * string (space-separated, RFC 8693 / RFC 9068), else from "scp": a
 * space-separated string or an array of strings (Entra ID sends the
 * string, some issuers the array). Words are split at spaces only; empty
 * words and non-string array elements are skipped. Returns the number
 * stored. */
size_t aud_claim_scopes(const json_t *claims, aud_claim_word *out, size_t max);

/* The roles a token carries, from "roles": an array of strings (Entra ID
 * application roles) or one string, which is one role (never split). */
size_t aud_claim_roles(const json_t *claims, aud_claim_word *out, size_t max);

/* True when one of the n words equals one of the n_wanted strings byte for
 * byte. */
bool aud_claim_has_any(const aud_claim_word *list, size_t n, const char *const *wanted, size_t n_wanted);

/* For a "scope_case" hint: true when some word equals wanted in ASCII
 * letters compared without case but not byte for byte; *granted (when not
 * NULL) receives that word. Only a hint: authorization never uses it. */
bool aud_claim_case_near(const aud_claim_word *list, size_t n, const char *wanted, aud_claim_word *granted);

/* A claim's value for a backend (request header, environment variable):
 * a string as it is, an array or object as compact JSON (members in token
 * order, reals as in aud_claim_scalar_text, strings with JSON escapes),
 * other scalars as aud_claim_scalar_text. Then every byte outside
 * printable ASCII (0x20..0x7E) and '%' itself becomes "%XX" (upper-case
 * hex): a CR is "%0D", LF "%0A", DEL "%7F", "é" "%C3%A9", '%' "%25". So
 * the result is printable ASCII and never ends or splits a header line;
 * a backend that wants the original bytes percent-decodes it.
 * NULL value (or no memory) gives NULL. The result is malloc'd; the
 * caller frees it. */
char *aud_claim_value_text(const json_t *value);

#endif
