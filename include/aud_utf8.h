/* UTF-8 validation shared by everything that writes token- or
 * request-supplied text into JSON, HTML or a terminal. */
#ifndef AUD_UTF8_H
#define AUD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 character starting at s (at most n bytes; 1 for
 * ASCII), or 0 when the bytes there are not one. Overlong forms, surrogates
 * and code points above U+10FFFF are invalid, as RFC 3629 says. */
size_t aud_utf8_char_length(const unsigned char *s, size_t n);

/* The code point of the n-byte character at s, which aud_utf8_char_length
 * has found valid. */
uint32_t aud_utf8_code_point(const unsigned char *s, size_t n);

#endif
