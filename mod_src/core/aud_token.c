#include "aud_token.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "aud_b64.h"
#include "aud_digest.h"
#include "aud_json.h"

static json_t *decode_segment(aud_result *r, const char *what, const char *seg, size_t len, bool report)
{
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    if (!aud_b64url_decode(seg, len, &raw, &raw_len)) {
        if (report)
            aud_result_add_reason(r, AUD_REASON_MALFORMED, "the %s is not unpadded base64url", what);
        return NULL;
    }
    aud_error err;
    json_t *object = aud_json_parse_object((const char *)raw, raw_len, &err);
    free(raw);
    if (object == NULL && report)
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the %s: %s", what, err.text);
    return object;
}

/* One DER length (short or long form) at *p; false when it runs past end. */
static bool der_length(const unsigned char **p, const unsigned char *end, size_t *len)
{
    if (*p >= end)
        return false;
    unsigned char first = *(*p)++;
    if (first < 0x80) {
        *len = first;
        return true;
    }
    size_t n = first & 0x7f;
    if (n == 0 || n > 2 || (size_t)(end - *p) < n)
        return false;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        *len = (*len << 8) | *(*p)++;
    return true;
}

static bool der_integer(const unsigned char **p, const unsigned char *end)
{
    size_t len;
    if (*p >= end || *(*p)++ != 0x02 || !der_length(p, end, &len) || len == 0 || (size_t)(end - *p) < len)
        return false;
    *p += len;
    return true;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, the form OpenSSL
 * and most crypto libraries produce, where JOSE wants raw R||S. */
static bool is_der_ecdsa(const unsigned char *sig, size_t len)
{
    const unsigned char *p = sig, *end = sig + len;
    size_t body;
    if (len < 8 || *p++ != 0x30 || !der_length(&p, end, &body) || body != (size_t)(end - p))
        return false;
    return der_integer(&p, end) && der_integer(&p, end) && p == end;
}

static unsigned count_segments(const char *token, size_t len)
{
    unsigned n = 1;
    for (const char *p = token, *end = token + len; (p = memchr(p, '.', (size_t)(end - p))) != NULL; p++) {
        if (n < 64)
            n++;
    }
    return n;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ERR_clear_error();
}

bool aud_token_digest(const char *token, size_t len, unsigned char out[AUD_TOKEN_DIGEST_LEN])
{
    unsigned int n = 0;

    /* SHA-256 writes exactly AUD_TOKEN_DIGEST_LEN bytes. */
    return pthread_once(&sha256_once, fetch_sha256) == 0 && sha256 != NULL && token != NULL &&
           aud_digest_compute(sha256, token, len, out, &n) && n == AUD_TOKEN_DIGEST_LEN;
}

#define MEMO_SLOTS 4
/* Real headers are well under this; longer ones are decoded each time. */
#define MEMO_SEGMENT_MAX 512

typedef struct {
    json_t *header;
    size_t len;
    char segment[];
} memo_entry;

struct aud_header_memo {
    _Atomic(memo_entry *) slots[MEMO_SLOTS];
};

aud_header_memo *aud_header_memo_new(void)
{
    aud_header_memo *memo = malloc(sizeof *memo);

    for (size_t i = 0; memo != NULL && i < MEMO_SLOTS; i++)
        atomic_init(&memo->slots[i], NULL);
    return memo;
}

void aud_header_memo_free(aud_header_memo *memo)
{
    if (memo == NULL)
        return;
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        memo_entry *e = atomic_load(&memo->slots[i]);
        if (e != NULL)
            json_decref(e->header);
        free(e);
    }
    free(memo);
}

void aud_header_memo_keep(aud_header_memo *memo, const char *segment, size_t len, json_t *header)
{
    memo_entry *e;

    if (memo == NULL || header == NULL || len > MEMO_SEGMENT_MAX ||
        atomic_load_explicit(&memo->slots[MEMO_SLOTS - 1], memory_order_acquire) != NULL)
        return;
    e = malloc(sizeof *e + len);
    if (e == NULL)
        return;
    memcpy(e->segment, segment, len);
    e->len = len;
    /* jansson counts references atomically, and nobody changes a decoded
     * header: threads may share it. */
    e->header = json_incref(header);
    for (size_t i = 0; i < MEMO_SLOTS; i++) {
        memo_entry *there = atomic_load_explicit(&memo->slots[i], memory_order_acquire);
        if (there == NULL && atomic_compare_exchange_strong_explicit(&memo->slots[i], &there, e, memory_order_release,
                                                                     memory_order_acquire))
            return;
        /* The slot's entry, read or just put there by another thread: the
         * same header need not be kept twice. */
        if (there->len == len && memcmp(there->segment, segment, len) == 0)
            break;
    }
    json_decref(e->header);
    free(e);
}

static json_t *memo_lookup(aud_header_memo *memo, const char *segment, size_t len)
{
    for (size_t i = 0; memo != NULL && i < MEMO_SLOTS; i++) {
        const memo_entry *e = atomic_load_explicit(&memo->slots[i], memory_order_acquire);
        if (e == NULL)
            return NULL;
        if (e->len == len && memcmp(e->segment, segment, len) == 0)
            return json_incref(e->header);
    }
    return NULL;
}

aud_result *aud_token_decode_parts(const char *token, size_t len, size_t max_size, const unsigned char *digest,
                                   aud_header_memo *memo, aud_token_parts *parts)
{
    if (parts != NULL)
        memset(parts, 0, sizeof *parts);
    aud_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (token == NULL || len == 0) {
        aud_result_add_reason(r, AUD_REASON_NO_TOKEN, "no token was presented");
        return r;
    }
    if (digest != NULL)
        aud_token_id_of_digest(digest, r->token_id);
    else
        aud_token_id(token, len, r->token_id);
    if (max_size != 0 && len > max_size) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the token is %zu bytes, over the limit of %zu", len, max_size);
        return r;
    }
    r->shape.segments = count_segments(token, len);
    const char *end = token + len;
    const char *dot1 = memchr(token, '.', len);
    size_t first_len = dot1 != NULL ? (size_t)(dot1 - token) : len;
    if (r->shape.segments != 3) {
        /* Not a JWS, but its first segment still tells an encrypted token
         * (RFC 7516: five segments, "enc" in the header) from an opaque one. */
        json_t *header = decode_segment(r, "header", token, first_len, false);
        if (r->shape.segments == 5 && json_is_object(header) && json_object_get(header, "enc") != NULL) {
            r->shape.encrypted = true;
            r->header = header;
            aud_result_add_reason(r, AUD_REASON_MALFORMED,
                                  "the token is encrypted (a JWE: five segments and \"enc\" in its header), "
                                  "not a signed JWS");
        } else {
            r->shape.opaque = header == NULL;
            json_decref(header);
            aud_result_add_reason(r, AUD_REASON_MALFORMED,
                                  "a compact JWS has exactly three segments separated by dots");
        }
        return r;
    }
    const char *dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    r->header = memo_lookup(memo, token, first_len);
    if (parts != NULL) {
        parts->header_len = first_len;
        parts->header_from_memo = r->header != NULL;
    }
    if (r->header == NULL)
        r->header = decode_segment(r, "header", token, first_len, true);
    r->shape.opaque = r->header == NULL;
    r->claims = decode_segment(r, "payload", dot1 + 1, (size_t)(dot2 - dot1 - 1), true);
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    bool sig_decoded = aud_b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), &sig, &sig_len);
    if (!sig_decoded) {
        aud_result_add_reason(r, AUD_REASON_MALFORMED, "the signature is not unpadded base64url");
    } else {
        r->shape.signature_len = sig_len;
        r->shape.signature_der = is_der_ecdsa(sig, sig_len);
    }
    if (parts != NULL && sig_decoded) {
        parts->signing_input_len = (size_t)(dot2 - token);
        parts->signature = sig;
        parts->signature_len = sig_len;
        parts->signature_decoded = true;
    } else {
        free(sig);
    }
    return r;
}

aud_result *aud_token_decode(const char *token, size_t len, size_t max_size)
{
    return aud_token_decode_parts(token, len, max_size, NULL, NULL, NULL);
}
