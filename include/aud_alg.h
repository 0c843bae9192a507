/* JWS algorithms (RFC 7518, RFC 8037, RFC 9864) the core can verify. */
#ifndef AUD_ALG_H
#define AUD_ALG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    AUD_ALG_RS256,
    AUD_ALG_RS384,
    AUD_ALG_RS512,
    AUD_ALG_PS256,
    AUD_ALG_PS384,
    AUD_ALG_PS512,
    AUD_ALG_ES256,
    AUD_ALG_ES384,
    AUD_ALG_ES512,
    AUD_ALG_EDDSA,
    AUD_ALG_HS256,
    AUD_ALG_HS384,
    AUD_ALG_HS512,
    AUD_ALG_COUNT
} aud_alg;

/* A set of algorithms: bit (1u << alg). */
typedef uint32_t aud_alg_set;

#define AUD_ALG_BIT(alg) ((aud_alg_set)1u << (alg))
#define AUD_ALG_SET_HMAC (AUD_ALG_BIT(AUD_ALG_HS256) | AUD_ALG_BIT(AUD_ALG_HS384) | AUD_ALG_BIT(AUD_ALG_HS512))
#define AUD_ALG_SET_ALL (AUD_ALG_BIT(AUD_ALG_COUNT) - 1u)
#define AUD_ALG_SET_ASYMMETRIC (AUD_ALG_SET_ALL & ~AUD_ALG_SET_HMAC)

/* Case-sensitive, as RFC 7515 requires. "none" in any spelling is never an
 * algorithm. Returns false for anything unknown. "Ed25519", RFC 9864's
 * fully-specified name, is AUD_ALG_EDDSA: the core's EdDSA is Ed25519 only,
 * so the two names sign alike with every key that fits either, and one
 * value keeps key fitting and allowed sets to one bit. aud_alg_name gives
 * "EdDSA"; a record that must show the token's own name reads its header. */
bool aud_alg_from_name(const char *name, aud_alg *out);
const char *aud_alg_name(aud_alg alg);
bool aud_alg_name_is_none(const char *name);
bool aud_alg_is_hmac(aud_alg alg);
/* Digest length in bytes of the algorithm's hash (also the least HMAC key
 * length accepted for HS*). */
unsigned aud_alg_hash_len(aud_alg alg);

#endif
