/* Verification keys: parsed once into OpenSSL objects, then shared read-only
 * by every thread. */
#ifndef AUD_KEY_H
#define AUD_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "aud_alg.h"
#include "aud_log.h"

typedef enum {
    AUD_KEY_RSA,
    AUD_KEY_EC_P256,
    AUD_KEY_EC_P384,
    AUD_KEY_EC_P521,
    AUD_KEY_ED25519,
    AUD_KEY_OCT
} aud_key_type;

#define AUD_RSA_MIN_BITS 2048

typedef struct aud_key aud_key;
typedef struct aud_keyset aud_keyset;

aud_keyset *aud_keyset_create(void);
void aud_keyset_destroy(aud_keyset *set);

/* Adds every key in a file, its format detected from content: PEM public key
 * (SPKI or PKCS#1), PEM certificate, single JWK or JWKS. Private key material
 * is never kept: only public parts are. A bad key inside a JWKS is skipped
 * with a warning through log; anything else wrong fails the whole file, with
 * the file name and reason in err. A file that yields no usable key fails. */
bool aud_keyset_load_file(aud_keyset *set, const char *path, const aud_logger *log, aud_error *err);

/* The same, from memory; origin names the source in messages. */
bool aud_keyset_load_buffer(aud_keyset *set, const char *data, size_t len, const char *origin,
                            const aud_logger *log, aud_error *err);

/* An HMAC secret: the bytes as they are. Refused when shorter than the
 * shortest HMAC hash (32 bytes); HS384/HS512 use it only when it is at least
 * as long as their hash. kid may be NULL. */
bool aud_keyset_add_secret(aud_keyset *set, const unsigned char *secret, size_t len, const char *kid,
                           aud_error *err);

/* Reads a whole file as an HMAC secret (AudSecretFile, --secret-file),
 * under kid (NULL: none, and then only tokens without a kid can use it). */
bool aud_keyset_load_secret_file(aud_keyset *set, const char *path, const char *kid, aud_error *err);

size_t aud_keyset_count(const aud_keyset *set);
const aud_key *aud_keyset_key(const aud_keyset *set, size_t index);

const char *aud_key_kid(const aud_key *key); /* NULL when the key has none */
aud_key_type aud_key_type_of(const aud_key *key);
/* Type, curve, hash length, the key's own "alg" if it has one. */
bool aud_key_fits_alg(const aud_key *key, aud_alg alg);
/* "RSA 2048-bit key 'kid'", for messages. */
const char *aud_key_describe(const aud_key *key);

/* Verifies a JWS signature over signing_input. The caller has already
 * checked aud_key_fits_alg. ES* signatures must be raw R||S of exactly the
 * curve's length (DER is refused); HMAC compares in constant time. */
bool aud_key_verify(const aud_key *key, aud_alg alg, const unsigned char *signing_input, size_t input_len,
                    const unsigned char *sig, size_t sig_len);

#endif
