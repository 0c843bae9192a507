/* A growing NUL-terminated text buffer, for output built piece by piece
 * (the audit record's head, claim values for backends). Appending after a
 * failed allocation does nothing, so a caller checks once at the end. */
#ifndef AUD_BUF_H
#define AUD_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *p;    /* malloc'd; NULL until something is appended */
    size_t len; /* bytes in p, not counting the NUL */
    size_t cap;
    bool failed; /* an allocation failed: p is incomplete */
} aud_buf;

void aud_buf_put(aud_buf *b, const char *s, size_t n);
void aud_buf_str(aud_buf *b, const char *s);

#endif
