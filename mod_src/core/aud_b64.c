#include "aud_b64.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Each byte's 6-bit value, or -1, made from the alphabet once: every
 * request decodes hundreds of characters, and a look-up beats five range
 * tests per character. */
static signed char url_values[256];
static pthread_once_t url_values_once = PTHREAD_ONCE_INIT;

static void url_values_build(void)
{
    memset(url_values, -1, sizeof url_values);
    for (int i = 0; i < 64; i++)
        url_values[(unsigned char)url_alphabet[i]] = (signed char)i;
}

bool aud_b64url_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
    /* One leftover character carries only 6 bits: no byte can end there. */
    if (in_len % 4 == 1)
        return false;
    if (pthread_once(&url_values_once, url_values_build) != 0)
        return false;
    size_t len = in_len / 4 * 3 + (in_len % 4 == 0 ? 0 : in_len % 4 - 1);
    unsigned char *buf = malloc(len + 1);
    if (buf == NULL)
        return false;
    const unsigned char *src = (const unsigned char *)in;
    size_t pos = 0;
    size_t i = 0;
    /* Four characters make three bytes: a whole group per step, with one
     * test for an invalid character among the four (-1 sets the sign bit). */
    for (; i + 4 <= in_len; i += 4) {
        int a = url_values[src[i]], b = url_values[src[i + 1]];
        int c = url_values[src[i + 2]], d = url_values[src[i + 3]];
        if ((a | b | c | d) < 0)
            goto refuse;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        buf[pos++] = (unsigned char)(v >> 16);
        buf[pos++] = (unsigned char)(v >> 8);
        buf[pos++] = (unsigned char)v;
    }
    if (i < in_len) {
        /* Two or three characters left: one or two bytes, and the bits past
         * them must be zero, or one byte string would have two encodings. */
        size_t left = in_len - i;
        int a = url_values[src[i]], b = url_values[src[i + 1]];
        int c = left == 3 ? url_values[src[i + 2]] : 0;
        if ((a | b | c) < 0)
            goto refuse;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
        uint32_t spare = left == 2 ? (v & 0xffff) : (v & 0xff);
        if (spare != 0)
            goto refuse;
        buf[pos++] = (unsigned char)(v >> 16);
        if (left == 3)
            buf[pos++] = (unsigned char)(v >> 8);
    }
    buf[pos] = '\0';
    *out = buf;
    *out_len = pos;
    return true;
refuse:
    free(buf);
    return false;
}

char *aud_b64url_encode(const unsigned char *in, size_t in_len)
{
    char *out = malloc((in_len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t pos = 0;
    size_t i = 0;
    for (; i + 2 < in_len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[pos++] = url_alphabet[v >> 18];
        out[pos++] = url_alphabet[(v >> 12) & 63];
        out[pos++] = url_alphabet[(v >> 6) & 63];
        out[pos++] = url_alphabet[v & 63];
    }
    if (in_len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[pos++] = url_alphabet[v >> 18];
        out[pos++] = url_alphabet[(v >> 12) & 63];
    } else if (in_len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[pos++] = url_alphabet[v >> 18];
        out[pos++] = url_alphabet[(v >> 12) & 63];
        out[pos++] = url_alphabet[(v >> 6) & 63];
    }
    out[pos] = '\0';
    return out;
}
