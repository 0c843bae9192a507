/* What every command-line program of the project does the same way: its
 * exit codes, its usage errors, allocation that cannot fail, and sorting.
 * Not a public interface. */
#ifndef AUD_TOOL_H
#define AUD_TOOL_H

#include <stddef.h>

/* One convention for every tool, so that a script can tell a verdict from
 * a failure the same way whichever tool it runs. */
enum {
    TOOL_EXIT_OK = 0,     /* accepted, or the report is complete */
    TOOL_EXIT_FAIL = 1,   /* rejected, or an input could not be read */
    TOOL_EXIT_USAGE = 2,  /* usage error, or an input file the tool needs is unusable */
    TOOL_EXIT_NOMEM = 3,  /* out of memory: there is no verdict and no complete report */
};

/* The program's name for its messages ("aud-audit"); each program defines
 * it once. */
extern const char tool_prog[];

/* "PROG: message" and "Try 'PROG --help' for more information." on
 * standard error, then exit with TOOL_EXIT_USAGE. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* "PROG: out of memory", then exit with TOOL_EXIT_NOMEM. */
void die_oom(void) __attribute__((noreturn));

/* malloc and friends that never return NULL (a size of 0 still gives a
 * unique pointer, so callers need no special case for empty lists). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* qsort, but with no array at all for nothing to sort: glibc declares
 * qsort's array nonnull, and an empty list is often a NULL pointer. */
void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
