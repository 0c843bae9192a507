/* The one way token- or document-derived text enters a message, a hint, a
 * log line or a header: bounded, cut only between characters, and free of
 * anything that could break or disguise the line it lands in.
 *
 * Every place that quotes such text calls aud_text_quote; nothing else in
 * the project filters characters for display. */
#ifndef AUD_TEXT_H
#define AUD_TEXT_H

#include <stddef.h>

/* How many characters of a token value a sentence quotes. */
#define AUD_TEXT_QUOTE_CHARS 100
/* A buffer that always holds a quote of AUD_TEXT_QUOTE_CHARS characters:
 * up to 4 bytes each, the "..." and the NUL. */
#define AUD_TEXT_QUOTE_SIZE (AUD_TEXT_QUOTE_CHARS * 4 + 4)

/* Writes into out (out_size bytes, always NUL-terminated) at most max_chars
 * characters of the len bytes at s, with each C0 or C1 control character,
 * DEL, line or paragraph separator (U+2028, U+2029), bidirectional
 * formatting character (U+202A..U+202E, U+2066..U+2069) and each byte that
 * is not part of valid UTF-8 replaced by '?'. A cut (by max_chars or by
 * out_size) falls between characters and is marked with "...". Returns
 * out. */
const char *aud_text_quote(const char *s, size_t len, size_t max_chars, char *out, size_t out_size);

/* aud_text_quote of a NUL-terminated string with AUD_TEXT_QUOTE_CHARS; out
 * must be AUD_TEXT_QUOTE_SIZE bytes. NULL quotes as "". */
const char *aud_text_quote_str(const char *s, char out[AUD_TEXT_QUOTE_SIZE]);

/* URLs (from a redirect or a fetched document) are quoted longer, so
 * that any real key URL shows whole. */
#define AUD_TEXT_URL_CHARS 200
typedef struct {
    char text[AUD_TEXT_URL_CHARS * 4 + 4];
} aud_text_url;

/* aud_text_quote of a NUL-terminated URL (NULL: "") with AUD_TEXT_URL_CHARS. */
const char *aud_text_quote_url(const char *url, aud_text_url *buf);

#endif
