/* Strict base64url (RFC 7515 section 2 / RFC 4648 section 5). */
#ifndef AUD_B64_H
#define AUD_B64_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes base64url with no padding, no '+' or '/', no whitespace and zero
 * trailing bits, so that every byte string has exactly one accepted encoding.
 * On success *out is malloc'd (NUL-terminated for convenience, the NUL not
 * counted in *out_len). */
bool aud_b64url_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len);

/* Unpadded base64url; malloc'd, NUL-terminated. */
char *aud_b64url_encode(const unsigned char *in, size_t in_len);

#endif
