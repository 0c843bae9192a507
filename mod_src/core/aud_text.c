#include "aud_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "aud_utf8.h"

/* Characters that reorder, split or hide the text around them. */
static bool disruptive(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

const char *aud_text_quote(const char *s, size_t len, size_t max_chars, char *out, size_t out_size)
{
    const unsigned char *in = (const unsigned char *)s;
    size_t o = 0, i = 0, chars = 0;

    if (out_size == 0)
        return out;
    /* Room for "..." and the NUL is kept back from the start, so that a
     * cut never has to step back over what was written. */
    size_t room = out_size > 4 ? out_size - 4 : 0;
    while (s != NULL && i < len && chars < max_chars) {
        /* Printable ASCII, nearly all of what is quoted, needs no decoding. */
        if (in[i] >= 0x20 && in[i] < 0x7F) {
            if (o + 1 > room)
                break;
            out[o++] = (char)in[i++];
            chars++;
            continue;
        }
        size_t n = aud_utf8_char_length(in + i, len - i);
        size_t add = (n == 0 || disruptive(aud_utf8_code_point(in + i, n))) ? 1 : n;
        if (o + add > room)
            break;
        if (add == 1 && (n != 1 || disruptive(in[i])))
            out[o] = '?';
        else
            memcpy(out + o, in + i, add);
        o += add;
        i += n ? n : 1;
        chars++;
    }
    if (s != NULL && i < len && out_size >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < out_size ? o : out_size - 1] = '\0';
    return out;
}

const char *aud_text_quote_str(const char *s, char out[AUD_TEXT_QUOTE_SIZE])
{
    return aud_text_quote(s, s ? strlen(s) : 0, AUD_TEXT_QUOTE_CHARS, out, AUD_TEXT_QUOTE_SIZE);
}

const char *aud_text_quote_url(const char *url, aud_text_url *buf)
{
    return aud_text_quote(url, url ? strlen(url) : 0, AUD_TEXT_URL_CHARS, buf->text, sizeof buf->text);
}
