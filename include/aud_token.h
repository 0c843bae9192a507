/* Taking a compact token apart, without judging it: the decoding half of a
 * verification, shared by the verifier and aud-inspect so that one fact is
 * said in one wording. */
#ifndef AUD_TOKEN_H
#define AUD_TOKEN_H

#include <stddef.h>

#include "aud_result.h"

/* SHA-256: the token cache's key and, cut short, the token_id. */
#define AUD_TOKEN_DIGEST_LEN 32

/* The token's SHA-256, with a digest fetched once per process (an implicit
 * fetch costs a look-up in OpenSSL's method store on every call); false if
 * hashing failed. */
bool aud_token_digest(const char *token, size_t len, unsigned char out[AUD_TOKEN_DIGEST_LEN]);

/* What a verification needs beyond the result: where the signing input ends
 * and the decoded signature (malloc'd, the caller frees it). */
typedef struct {
    size_t signing_input_len;
    unsigned char *signature;
    size_t signature_len;
    bool signature_decoded;
    size_t header_len;     /* the first segment's */
    bool header_from_memo; /* the header came from the memo, not from this token's bytes */
} aud_token_parts;

/* Headers already decoded, for a verifier: the tokens one issuer signs with
 * one key share one header segment byte for byte, and decoding it (base64url
 * and a JSON parse) is a fifth of what a new token costs beyond its
 * signature. A few slots, each filled once from a token whose signature
 * verified and kept until the memo is freed: bounded, and never changed
 * while other threads read it. */
typedef struct aud_header_memo aud_header_memo;

aud_header_memo *aud_header_memo_new(void);
void aud_header_memo_free(aud_header_memo *memo);
/* Remembers header as the decoding of segment (the token's first segment)
 * if a slot is free and the segment is short enough. */
void aud_header_memo_keep(aud_header_memo *memo, const char *segment, size_t len, json_t *header);

/* Decodes a compact JWS: at most max_size bytes (0: no limit), exactly three
 * dot-separated segments, header and payload strict base64url of a strict
 * JSON object (aud_json_parse_object), signature strict base64url. Each
 * failure is a malformed detail; a bad header does not stop the payload
 * from being decoded. r->shape records what the token looks like (segment
 * count, an encrypted JWE, an opaque string, a DER ECDSA signature) so that
 * hints can name the likely mistake. Never returns NULL except on memory
 * exhaustion. An empty token is no_token. */
aud_result *aud_token_decode(const char *token, size_t len, size_t max_size);

/* aud_token_decode that also hands back the parts a signature check needs;
 * parts may be NULL. digest, when not NULL, is the token's
 * aud_token_digest, which the caller already has. memo, when not NULL, may
 * supply the header of a three-segment token. */
aud_result *aud_token_decode_parts(const char *token, size_t len, size_t max_size, const unsigned char *digest,
                                   aud_header_memo *memo, aud_token_parts *parts);

#endif
