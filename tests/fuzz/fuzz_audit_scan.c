/* Differential fuzzing of aud-audit's fast record scanner against the
 * jansson-based one it must agree with.
 *
 * The input is one line as aud-audit hands it to a scanner (newline already
 * cut). Invariants:
 * - both scanners accept it or both refuse it;
 * - when both accept, the records are equal: the same string/not-string
 *   verdict and bytes for time, api, decision, mode, client and matched; the
 *   same audience list (or none); the same reasons; the same hints (code and
 *   text).
 * The fast scanner decodes into a scratch buffer of exactly the line's
 * length, the most it is documented to need, so ASan catches any overrun. */
#if defined(__has_include)
#if __has_include("../../tools/aud_audit_tool.h")
#include "../../tools/aud_audit_tool.h"
#else
#include "../../tools/aud_audit.h"
#endif
#else
#include "../../tools/aud_audit.h"
#endif
#include "fuzz_support.h"

/* Where the tools share tools/aud_tool.c (x-allocation for the scanner),
 * it is linked in and wants the program's name. */
#if defined(__has_include)
#if __has_include("../../tools/aud_tool.h")
const char tool_prog[] = "fuzz_audit_scan";
#endif
#endif

static aa_record fast, slow;

static bool str_eq(const aa_str *a, const aa_str *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static void same_opt(const aa_opt *a, const aa_opt *b, const char *field)
{
    FZ_REQUIRE(a->is_str == b->is_str, "%s: fast says %s a string, jansson says %s", field,
               a->is_str ? "is" : "is not", b->is_str ? "is" : "is not");
    if (a->is_str)
        FZ_REQUIRE(str_eq(&a->s, &b->s), "%s: fast '%.*s', jansson '%.*s'", field, (int)a->s.n, a->s.p,
                   (int)b->s.n, b->s.p);
}

static void same_list(const aa_str *a, size_t na, const aa_str *b, size_t nb, const char *field)
{
    FZ_REQUIRE(na == nb, "%s: fast has %zu, jansson %zu", field, na, nb);
    for (size_t i = 0; i < na; i++)
        FZ_REQUIRE(str_eq(&a[i], &b[i]), "%s[%zu]: fast '%.*s', jansson '%.*s'", field, i, (int)a[i].n, a[i].p,
                   (int)b[i].n, b[i].p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fz_copy(data, size);
    char *scratch = malloc(size > 0 ? size : 1);
    void *holder = NULL;
    char err_buf[256];
    const char *why_fast = aa_scan_fast(line, size, &fast, scratch);
    const char *why_slow = aa_scan_jansson(line, size, &slow, &holder, err_buf, sizeof err_buf);
    FZ_REQUIRE((why_fast == NULL) == (why_slow == NULL), "fast: %s; jansson: %s", why_fast ? why_fast : "accepted",
               why_slow ? why_slow : "accepted");
    if (why_fast == NULL) {
        same_opt(&fast.time, &slow.time, "time");
        same_opt(&fast.api, &slow.api, "api");
        same_opt(&fast.decision, &slow.decision, "decision");
        same_opt(&fast.mode, &slow.mode, "mode");
        same_opt(&fast.client, &slow.client, "client");
        same_opt(&fast.matched, &slow.matched, "matched");
        FZ_REQUIRE(fast.aud_is_list == slow.aud_is_list, "aud: fast %s a list, jansson %s",
                   fast.aud_is_list ? "is" : "is not", slow.aud_is_list ? "is" : "is not");
        same_list(fast.aud, fast.n_aud, slow.aud, slow.n_aud, "aud");
        same_list(fast.reasons, fast.n_reasons, slow.reasons, slow.n_reasons, "reasons");
        FZ_REQUIRE(fast.n_hints == slow.n_hints, "hints: fast has %zu, jansson %zu", fast.n_hints, slow.n_hints);
        for (size_t i = 0; i < fast.n_hints; i++) {
            FZ_REQUIRE(str_eq(&fast.hints[i].code, &slow.hints[i].code), "hint %zu code differs", i);
            same_opt(&fast.hints[i].text, &slow.hints[i].text, "hint text");
        }
    } else {
        FZ_REQUIRE(*why_fast != '\0' && *why_slow != '\0', "refusal without a reason");
    }
    aa_scan_release(holder);
    free(scratch);
    free(line);
    return 0;
}
