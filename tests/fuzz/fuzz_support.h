/* Shared by the libFuzzer harnesses: a fixed clock, a check that a message
 * is printable, a logger that applies it to everything the core says, and a
 * file reader for set-up.
 *
 * A harness states its invariants with FZ_REQUIRE: a violation aborts, so
 * that libFuzzer keeps the input as a crash, exactly as it does for a
 * sanitizer report. */
#ifndef AUD_FUZZ_SUPPORT_H
#define AUD_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aud_log.h"

#ifndef AUD_FUZZ_UNIT
#error "AUD_FUZZ_UNIT must name the absolute path of tests/unit"
#endif

/* 2023-11-14T22:13:20Z, as in the unit tests: the seed tokens are minted
 * to be valid at this instant. */
#define FZ_NOW 1700000000.0

#define FZ_REQUIRE(cond, ...)                                                                            \
    do {                                                                                                 \
        if (!(cond)) {                                                                                   \
            fprintf(stderr, "invariant violated at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                                \
            fputc('\n', stderr);                                                                         \
            abort();                                                                                     \
        }                                                                                                \
    } while (0)

static inline double fz_clock(void *baton)
{
    return baton != NULL ? *(const double *)baton : FZ_NOW;
}

/* Messages may quote a document or a token, but only through aud_text_quote:
 * so no control character (C0, DEL, C1 as UTF-8) may reach an operator's
 * log or terminal. */
static inline bool fz_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
}

static inline void fz_log_fn(void *baton, aud_log_level level, const char *message)
{
    (void)baton;
    (void)level;
    FZ_REQUIRE(message != NULL, "NULL log message");
    FZ_REQUIRE(fz_printable(message), "log message with a control character: %s", message);
}

static inline aud_logger fz_logger(void)
{
    aud_logger log = {fz_log_fn, NULL};
    return log;
}

/* A whole file, NUL-terminated; set-up failures end the process, since a
 * harness without its keys would fuzz nothing. */
static inline char *fz_read(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz set-up: cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "fuzz set-up: out of memory reading %s\n", path);
        exit(2);
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* The input as an exact-size heap block, so that ASan sees any read past
 * its end (libFuzzer's own buffer may have slack). */
static inline char *fz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size > 0 ? size : 1);
    if (p != NULL && size > 0)
        memcpy(p, data, size);
    return p;
}

#endif
