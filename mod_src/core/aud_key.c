/* Verification keys: everything that can go wrong with a key is decided
 * here, once, at load time, so that verification is a short read-only path
 * that many threads can run at once without locks. */
#include "aud_key.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "aud_b64.h"
#include "aud_digest.h"
#include "aud_json.h"
#include "aud_text.h"

/* OpenSSL itself refuses to verify with larger moduli; saying so at load time
 * beats a key that silently never verifies anything. */
#define RSA_MAX_BITS 16384
#define HMAC_MIN_SECRET 32
/* Far above any real JWKS or certificate chain, yet small enough that a
 * wrong path (a log file, /dev/zero) cannot exhaust memory. */
#define KEY_FILE_MAX (4u * 1024u * 1024u)
#define SECRET_FILE_MAX (64u * 1024u)
/* Enough of a kid, kty, crv or alg to recognise it in a message. */
#define SHOWN_CHARS 64

/* Index of SHA-256/384/512 in the tables below. */
enum { HASH_256, HASH_384, HASH_512, HASH_COUNT };

struct aud_key {
    aud_key_type type;
    EVP_PKEY *pkey; /* NULL for HMAC secrets */
    /* For HMAC secrets: one context per hash the secret is long enough for,
     * already keyed. Verification duplicates it, so the secret is hashed into
     * the pads once at load, not on every request, and the raw secret need
     * not be kept at all. */
    EVP_MAC_CTX *hmac[HASH_COUNT];
    size_t secret_len;
    /* For public keys: per algorithm, a context already set up to verify
     * (OpenSSL 3 spends more on a fresh context's provider look-ups than on
     * an RSA-2048 verification). Made on first use and never changed after,
     * so threads only read it; each verification works on a duplicate. */
    _Atomic(EVP_PKEY_CTX *) verify_ready[AUD_ALG_COUNT];
    _Atomic(EVP_MD_CTX *) eddsa_ready;
    unsigned bits;      /* RSA modulus size */
    size_t rsa_sig_len; /* RSA signatures are exactly the modulus size */
    char *kid;
    bool has_alg;
    aud_alg alg;
    char *description;
};

struct aud_keyset {
    /* Pointers, so that an aud_key handed out stays put when the array
     * grows. */
    aud_key **keys;
    size_t count;
    size_t cap;
};

/* ------------------------------------------------------------------------ */
/* Algorithms fetched once per process: an implicit fetch on every request
 * costs a lookup in OpenSSL's method store each time. */

static const char *const hash_names[HASH_COUNT] = {"SHA256", "SHA384", "SHA512"};
static const size_t hash_sizes[HASH_COUNT] = {32, 48, 64};

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *fetched_md[HASH_COUNT];
static EVP_MAC *fetched_hmac;

static void fetch_algorithms(void)
{
    for (int i = 0; i < HASH_COUNT; i++)
        fetched_md[i] = EVP_MD_fetch(NULL, hash_names[i], NULL);
    fetched_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    /* A failed fetch shows up as a NULL here and a refused verification
     * later; its error entries must not linger in this thread's queue. */
    ERR_clear_error();
}

static int hash_index(aud_alg alg)
{
    if (alg == AUD_ALG_EDDSA) /* Ed25519 hashes internally; no EVP_MD */
        return -1;
    switch (aud_alg_hash_len(alg)) {
    case 32:
        return HASH_256;
    case 48:
        return HASH_384;
    case 64:
        return HASH_512;
    default:
        return -1;
    }
}

static const EVP_MD *md_for(aud_alg alg)
{
    int i = hash_index(alg);
    if (i < 0 || pthread_once(&fetch_once, fetch_algorithms) != 0)
        return NULL;
    return fetched_md[i];
}

/* ------------------------------------------------------------------------ */
/* Keys */

/* Everything this file knows about each EC curve; nothing else spells a
 * curve out. */
typedef struct {
    aud_key_type type;
    const char *crv;   /* the JWK "crv" (RFC 7518 6.2.1.1), also the name in messages */
    const char *group; /* OpenSSL's group name */
    int nid;
    size_t coordinate_len; /* bytes of x, of y, and of R and S in a signature */
    const char *phrase;    /* for "alg ... does not fit <phrase>" */
} ec_curve;

static const ec_curve ec_curves[] = {
    {AUD_KEY_EC_P256, "P-256", "prime256v1", NID_X9_62_prime256v1, 32, "an EC P-256 key"},
    {AUD_KEY_EC_P384, "P-384", "secp384r1", NID_secp384r1, 48, "an EC P-384 key"},
    {AUD_KEY_EC_P521, "P-521", "secp521r1", NID_secp521r1, 66, "an EC P-521 key"},
};
#define EC_CURVE_COUNT (sizeof ec_curves / sizeof ec_curves[0])

static const ec_curve *ec_curve_of_type(aud_key_type type)
{
    for (size_t i = 0; i < EC_CURVE_COUNT; i++)
        if (ec_curves[i].type == type)
            return &ec_curves[i];
    return NULL;
}

static const ec_curve *ec_curve_of_crv(const char *crv)
{
    for (size_t i = 0; i < EC_CURVE_COUNT; i++)
        if (strcmp(ec_curves[i].crv, crv) == 0)
            return &ec_curves[i];
    return NULL;
}

static const ec_curve *ec_curve_of_nid(int nid)
{
    for (size_t i = 0; i < EC_CURVE_COUNT; i++)
        if (ec_curves[i].nid == nid)
            return &ec_curves[i];
    return NULL;
}

/* "P-256, P-384 and P-521", for the messages that refuse other curves. */
static const char *ec_curve_list(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < EC_CURVE_COUNT && o < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == EC_CURVE_COUNT ? " and " : ", ";
        int n = snprintf(buf + o, size - o, "%s%s", sep, ec_curves[i].crv);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    return buf;
}

static const char *type_phrase(aud_key_type type)
{
    const ec_curve *curve = ec_curve_of_type(type);
    if (curve != NULL)
        return curve->phrase;
    switch (type) {
    case AUD_KEY_RSA:
        return "an RSA key";
    case AUD_KEY_ED25519:
        return "an Ed25519 key";
    case AUD_KEY_OCT:
        return "an HMAC secret";
    default:
        return "a key";
    }
}

static size_t ec_coordinate_len(aud_key_type type)
{
    const ec_curve *curve = ec_curve_of_type(type);
    return curve != NULL ? curve->coordinate_len : 0;
}

/* Text from a key file or a fetched document (a kid, a kty, a curve name)
 * as it may appear in a message: through the one sanitiser. */
typedef struct {
    char text[SHOWN_CHARS * 4 + 4];
} shown;

static const char *show(const char *text, shown *buf)
{
    return aud_text_quote(text, text != NULL ? strlen(text) : 0, SHOWN_CHARS, buf->text, sizeof buf->text);
}

/* The type/curve/length rule alone, without the key's own "alg". */
static bool type_fits_alg(aud_key_type type, size_t secret_len, aud_alg alg)
{
    switch (alg) {
    case AUD_ALG_RS256:
    case AUD_ALG_RS384:
    case AUD_ALG_RS512:
    case AUD_ALG_PS256:
    case AUD_ALG_PS384:
    case AUD_ALG_PS512:
        return type == AUD_KEY_RSA;
    case AUD_ALG_ES256:
        return type == AUD_KEY_EC_P256;
    case AUD_ALG_ES384:
        return type == AUD_KEY_EC_P384;
    case AUD_ALG_ES512:
        return type == AUD_KEY_EC_P521;
    case AUD_ALG_EDDSA:
        return type == AUD_KEY_ED25519;
    case AUD_ALG_HS256:
    case AUD_ALG_HS384:
    case AUD_ALG_HS512:
        /* Never a public key as an HMAC secret: that is the classic
         * RS256-to-HS256 confusion attack. */
        return type == AUD_KEY_OCT && secret_len >= aud_alg_hash_len(alg);
    default:
        return false;
    }
}

static aud_key *key_new(aud_key_type type)
{
    aud_key *key = calloc(1, sizeof *key);
    if (key != NULL)
        key->type = type;
    return key;
}

static void key_free(aud_key *key)
{
    if (key == NULL)
        return;
    for (int i = 0; i < AUD_ALG_COUNT; i++)
        EVP_PKEY_CTX_free(atomic_load(&key->verify_ready[i]));
    EVP_MD_CTX_free(atomic_load(&key->eddsa_ready));
    EVP_PKEY_free(key->pkey);
    /* Freeing an HMAC context cleanses the key copy and pads it holds. */
    for (int i = 0; i < HASH_COUNT; i++)
        EVP_MAC_CTX_free(key->hmac[i]);
    free(key->kid);
    free(key->description);
    free(key);
}

static bool key_describe_init(aud_key *key)
{
    char what[64];
    const ec_curve *curve = ec_curve_of_type(key->type);
    switch (key->type) {
    case AUD_KEY_RSA:
        snprintf(what, sizeof what, "RSA %u-bit key", key->bits);
        break;
    case AUD_KEY_EC_P256:
    case AUD_KEY_EC_P384:
    case AUD_KEY_EC_P521:
        snprintf(what, sizeof what, "EC %s key", curve != NULL ? curve->crv : "?");
        break;
    case AUD_KEY_ED25519:
        snprintf(what, sizeof what, "Ed25519 key");
        break;
    case AUD_KEY_OCT:
        /* The length only: never a byte of the secret. */
        snprintf(what, sizeof what, "HMAC secret of %zu bytes", key->secret_len);
        break;
    }
    shown kid;
    if (key->kid != NULL)
        show(key->kid, &kid);
    char text[sizeof what + sizeof kid.text + 32];
    snprintf(text, sizeof text, "%s %s%s%s%s%s", what, key->kid != NULL ? "'" : "(no kid)",
             key->kid != NULL ? kid.text : "", key->kid != NULL ? "'" : "", key->has_alg ? ", alg " : "",
             key->has_alg ? aud_alg_name(key->alg) : "");
    key->description = strdup(text);
    return key->description != NULL;
}

/* The last step for every key, whatever its source: its kid, its own alg
 * and its description. */
static bool key_finish(aud_key *key, const char *kid, const char *alg_name, aud_error *why)
{
    if (alg_name != NULL) {
        aud_alg alg;
        if (!aud_alg_from_name(alg_name, &alg)) {
            shown q;
            aud_error_set(why, "alg \"%s\" is not a supported signature algorithm", show(alg_name, &q));
            return false;
        }
        if (!type_fits_alg(key->type, key->secret_len, alg)) {
            if (key->type == AUD_KEY_OCT && aud_alg_is_hmac(alg))
                aud_error_set(why, "HMAC secret of %zu bytes is too short for %s; at least %u required",
                              key->secret_len, aud_alg_name(alg), aud_alg_hash_len(alg));
            else
                aud_error_set(why, "alg %s does not fit %s", aud_alg_name(alg), type_phrase(key->type));
            return false;
        }
        key->has_alg = true;
        key->alg = alg;
    }
    if (kid != NULL && (key->kid = strdup(kid)) == NULL) {
        aud_error_set(why, "out of memory");
        return false;
    }
    if (!key_describe_init(key)) {
        aud_error_set(why, "out of memory");
        return false;
    }
    return true;
}

/* ROCA (CVE-2017-15361, Nemec et al., CCS 2017): Infineon's RSALib made
 * every prime as k * M + (65537^a mod M), M a primorial. So for each small
 * prime r dividing M, p mod r and q mod r lie in the subgroup that 65537
 * generates in the multiplicative group mod r, and so does n = p * q mod r.
 * Every M that RSALib used is a multiple of the odd primes below, and an
 * ordinary modulus passes all of their tests only with negligible
 * probability: passing all of them marks the key as RSALib's. */
static const unsigned char roca_primes[] = {3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41, 43,
                                            47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103,
                                            107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
#define ROCA_PRIME_COUNT (sizeof roca_primes / sizeof roca_primes[0])

/* Whether value is a power of 65537 modulo the prime r. Walking the
 * subgroup costs at most r - 1 steps, a few thousand per key in all. */
static bool in_subgroup_of_65537(unsigned value, unsigned r)
{
    unsigned g = 65537u % r, x = 1;
    do {
        if (x == value)
            return true;
        x = x * g % r;
    } while (x != 1);
    return false;
}

static bool rsa_is_roca(const BIGNUM *n)
{
    for (size_t i = 0; i < ROCA_PRIME_COUNT; i++) {
        BN_ULONG residue = BN_mod_word(n, roca_primes[i]);
        /* BN_mod_word fails only for a zero divisor; should it ever, the
         * key is not vouched for. */
        if (residue >= roca_primes[i])
            return true;
        if (!in_subgroup_of_65537((unsigned)residue, roca_primes[i]))
            return false;
    }
    return true;
}

static bool rsa_check(const EVP_PKEY *pkey, aud_error *why)
{
    BIGNUM *n = NULL;
    BIGNUM *e = NULL;
    bool ok = false;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        aud_error_set(why, "RSA key without a modulus or exponent");
        goto done;
    }
    int bits = BN_num_bits(n);
    if (bits < AUD_RSA_MIN_BITS) {
        aud_error_set(why, "RSA key of %d bits is too weak; at least %d required", bits, AUD_RSA_MIN_BITS);
        goto done;
    }
    if (bits > RSA_MAX_BITS) {
        aud_error_set(why, "RSA key of %d bits is too large; at most %d supported", bits, RSA_MAX_BITS);
        goto done;
    }
    /* An even modulus or exponent cannot belong to any real RSA key pair. */
    if (!BN_is_odd(n)) {
        aud_error_set(why, "RSA modulus is even, so not a real RSA key");
        goto done;
    }
    if (!BN_is_odd(e) || BN_is_one(e)) {
        aud_error_set(why, "RSA public exponent must be odd and greater than 1");
        goto done;
    }
    if (rsa_is_roca(n)) {
        aud_error_set(why, "RSA key was made by Infineon's RSALib and is vulnerable to ROCA (CVE-2017-15361): its "
                           "private key can be computed from the public key; replace it");
        goto done;
    }
    ok = true;
done:
    BN_free(n);
    BN_free(e);
    return ok;
}

static bool ec_check(EVP_PKEY *pkey, aud_key_type *type, aud_error *why)
{
    char group[80];
    size_t group_len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &group_len) != 1) {
        aud_error_set(why, "EC key without a named curve (explicit curve parameters are not supported)");
        return false;
    }
    const ec_curve *curve = ec_curve_of_nid(OBJ_txt2nid(group));
    if (curve == NULL) {
        shown q;
        char list[64];
        aud_error_set(why, "EC curve %s is not supported; only %s", show(group, &q), ec_curve_list(list, sizeof list));
        return false;
    }
    *type = curve->type;
    /* Parsers generally refuse points off the curve already; this also
     * catches the point at infinity and a point outside the prime-order
     * subgroup, whatever path the key came in by. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok)
        aud_error_set(why, "EC public key is not a valid point on %s", curve->crv);
    return ok;
}

/* Takes ownership of pkey, whether it succeeds or not. */
static aud_key *key_from_pkey(EVP_PKEY *pkey, aud_error *why)
{
    aud_key_type type;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (!rsa_check(pkey, why))
            goto fail;
        type = AUD_KEY_RSA;
    } else if (EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        /* Such keys carry their own PSS restrictions, which JWS has no way
         * to express. */
        aud_error_set(why, "RSA-PSS-restricted keys (id-RSASSA-PSS) are not supported; use a plain RSA key");
        goto fail;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (!ec_check(pkey, &type, why))
            goto fail;
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        type = AUD_KEY_ED25519;
    } else if (EVP_PKEY_is_a(pkey, "ED448")) {
        aud_error_set(why, "Ed448 keys are not supported; only Ed25519");
        goto fail;
    } else if (EVP_PKEY_is_a(pkey, "X25519") || EVP_PKEY_is_a(pkey, "X448")) {
        aud_error_set(why, "%s is a key-agreement key, not a signature key", EVP_PKEY_get0_type_name(pkey));
        goto fail;
    } else {
        const char *name = EVP_PKEY_get0_type_name(pkey);
        aud_error_set(why, "%s keys are not supported", name != NULL ? name : "this type of");
        goto fail;
    }

    aud_key *key = key_new(type);
    if (key == NULL) {
        aud_error_set(why, "out of memory");
        goto fail;
    }
    key->pkey = pkey;
    if (type == AUD_KEY_RSA) {
        key->bits = (unsigned)EVP_PKEY_get_bits(pkey);
        key->rsa_sig_len = (size_t)EVP_PKEY_get_size(pkey);
    }
    return key;
fail:
    EVP_PKEY_free(pkey);
    return NULL;
}

static EVP_MAC_CTX *hmac_template(int hash, const unsigned char *secret, size_t len)
{
    if (pthread_once(&fetch_once, fetch_algorithms) != 0 || fetched_hmac == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(fetched_hmac);
    if (ctx == NULL)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hash_names[hash], 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, secret, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static aud_key *key_from_secret(const unsigned char *secret, size_t len, aud_error *why)
{
    if (len < HMAC_MIN_SECRET) {
        aud_error_set(why, "HMAC secret of %zu bytes is too short; at least %d required", len, HMAC_MIN_SECRET);
        return NULL;
    }
    if (len > INT_MAX) {
        aud_error_set(why, "HMAC secret of %zu bytes is too long", len);
        return NULL;
    }
    aud_key *key = key_new(AUD_KEY_OCT);
    if (key == NULL) {
        aud_error_set(why, "out of memory");
        return NULL;
    }
    key->secret_len = len;
    for (int i = 0; i < HASH_COUNT; i++) {
        if (len < hash_sizes[i])
            continue;
        key->hmac[i] = hmac_template(i, secret, len);
        if (key->hmac[i] == NULL) {
            aud_error_set(why, "cannot set up HMAC-%s", hash_names[i]);
            key_free(key);
            return NULL;
        }
    }
    return key;
}

/* ------------------------------------------------------------------------ */
/* Key sets */

aud_keyset *aud_keyset_create(void)
{
    return calloc(1, sizeof(aud_keyset));
}

/* Drops the keys from index count on: a file that fails leaves the set as
 * it was before. */
static void keyset_truncate(aud_keyset *set, size_t count)
{
    while (set->count > count)
        key_free(set->keys[--set->count]);
}

void aud_keyset_destroy(aud_keyset *set)
{
    if (set == NULL)
        return;
    keyset_truncate(set, 0);
    free(set->keys);
    free(set);
}

static bool keyset_push(aud_keyset *set, aud_key *key)
{
    if (set->count == set->cap) {
        size_t cap = set->cap == 0 ? 8 : set->cap * 2;
        aud_key **keys = realloc(set->keys, cap * sizeof *keys);
        if (keys == NULL)
            return false;
        set->keys = keys;
        set->cap = cap;
    }
    set->keys[set->count++] = key;
    return true;
}

size_t aud_keyset_count(const aud_keyset *set)
{
    return set != NULL ? set->count : 0;
}

const aud_key *aud_keyset_key(const aud_keyset *set, size_t index)
{
    return set != NULL && index < set->count ? set->keys[index] : NULL;
}

bool aud_keyset_add_secret(aud_keyset *set, const unsigned char *secret, size_t len, const char *kid,
                           aud_error *err)
{
    if (set == NULL || (secret == NULL && len > 0)) {
        aud_error_set(err, "no key set or no secret given");
        return false;
    }
    aud_error why;
    aud_key *key = key_from_secret(secret, len, &why);
    if (key == NULL) {
        aud_error_set(err, "%s", why.text);
        return false;
    }
    if (!key_finish(key, kid, NULL, &why)) {
        key_free(key);
        aud_error_set(err, "%s", why.text);
        return false;
    }
    if (!keyset_push(set, key)) {
        key_free(key);
        aud_error_set(err, "out of memory");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* PEM */

/* Re-encodes the public half alone, so that no private number survives in
 * memory for longer than the parse. */
static EVP_PKEY *public_half(EVP_PKEY *priv)
{
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(priv, &der);
    EVP_PKEY_free(priv);
    if (der_len <= 0)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, der_len);
    OPENSSL_free(der);
    return pub;
}

typedef struct {
    aud_keyset *set;
    const char *origin;
    const aud_logger *log;
    aud_error *err;
    size_t added;
    bool private_seen;
} load_state;

static bool pem_block(load_state *st, size_t index, const char *name, const char *header,
                      const unsigned char *der, long der_len)
{
    bool is_private = false;
    if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 || (header != NULL && strstr(header, "ENCRYPTED") != NULL)) {
        aud_error_set(st->err, "%s: PEM block %zu (%s) is an encrypted private key; give the public key instead",
                      st->origin, index, name);
        return false;
    }

    const unsigned char *p = der;
    const unsigned char *end = der + der_len;
    EVP_PKEY *pkey = NULL;
    if (strcmp(name, "PUBLIC KEY") == 0) {
        pkey = d2i_PUBKEY(NULL, &p, der_len);
    } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, der_len);
    } else if (strcmp(name, "CERTIFICATE") == 0) {
        /* The certificate is only a container for the key: its validity
         * dates, issuer and extensions are deliberately not checked, since
         * no chain is built and the operator vouches for the key by
         * configuring it. */
        X509 *cert = d2i_X509(NULL, &p, der_len);
        if (cert != NULL) {
            pkey = X509_get_pubkey(cert);
            X509_free(cert);
        }
    } else if (strcmp(name, "PRIVATE KEY") == 0) {
        pkey = d2i_AutoPrivateKey(NULL, &p, der_len);
        is_private = true;
    } else if (strcmp(name, "RSA PRIVATE KEY") == 0) {
        pkey = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, der_len);
        is_private = true;
    } else if (strcmp(name, "EC PRIVATE KEY") == 0) {
        pkey = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, der_len);
        is_private = true;
    } else if (strcmp(name, "EC PARAMETERS") == 0) {
        /* `openssl ecparam -genkey` writes it ahead of the key; the curve
         * is in the key itself. */
        aud_log_emit(st->log, AUD_LOG_DEBUG, "%s: PEM block %zu (EC PARAMETERS) ignored", st->origin, index);
        return true;
    } else {
        shown q;
        aud_error_set(st->err, "%s: PEM block %zu is \"%s\", not a public key, certificate or private key",
                      st->origin, index, show(name, &q));
        return false;
    }

    if (pkey == NULL) {
        aud_error_set(st->err, "%s: PEM block %zu (%s) cannot be parsed", st->origin, index, name);
        return false;
    }
    if (p != end) {
        EVP_PKEY_free(pkey);
        aud_error_set(st->err, "%s: PEM block %zu (%s) has trailing data", st->origin, index, name);
        return false;
    }
    if (is_private) {
        st->private_seen = true;
        pkey = public_half(pkey);
        if (pkey == NULL) {
            aud_error_set(st->err, "%s: PEM block %zu (%s): cannot extract its public key", st->origin, index,
                          name);
            return false;
        }
    }

    aud_error why;
    aud_key *key = key_from_pkey(pkey, &why);
    if (key == NULL || !key_finish(key, NULL, NULL, &why)) {
        key_free(key);
        aud_error_set(st->err, "%s: PEM block %zu (%s): %s", st->origin, index, name, why.text);
        return false;
    }
    if (!keyset_push(st->set, key)) {
        key_free(key);
        aud_error_set(st->err, "%s: out of memory", st->origin);
        return false;
    }
    st->added++;
    return true;
}

static bool load_pem(load_state *st, const char *data, size_t len)
{
    if (len > INT_MAX) {
        aud_error_set(st->err, "%s: too large for a key file", st->origin);
        return false;
    }
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        aud_error_set(st->err, "%s: out of memory", st->origin);
        return false;
    }
    bool ok = true;
    size_t blocks = 0;
    for (;;) {
        char *name = NULL;
        char *header = NULL;
        unsigned char *der = NULL;
        long der_len = 0;
        ERR_clear_error();
        if (PEM_read_bio(bio, &name, &header, &der, &der_len) != 1) {
            unsigned long e = ERR_peek_last_error();
            /* "No start line" is how the end of the blocks looks; any other
             * failure is a damaged block. */
            if (!(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
                aud_error_set(st->err, "%s: PEM block %zu is damaged (bad base64 or no matching END line)",
                              st->origin, blocks + 1);
                ok = false;
            }
            break;
        }
        blocks++;
        ok = pem_block(st, blocks, name, header, der, der_len);
        /* The block may have been a private key. */
        OPENSSL_cleanse(der, (size_t)der_len);
        OPENSSL_free(der);
        OPENSSL_free(name);
        OPENSSL_free(header);
        if (!ok)
            break;
    }
    BIO_free(bio);
    if (ok && blocks == 0) {
        aud_error_set(st->err, "%s: not a PEM key, certificate, JWK or JWKS", st->origin);
        ok = false;
    } else if (ok && st->added == 0) {
        aud_error_set(st->err, "%s: none of its %zu PEM blocks holds a key", st->origin, blocks);
        ok = false;
    }
    if (ok && st->private_seen)
        aud_log_emit(st->log, AUD_LOG_WARNING,
                     "%s: holds a private key; only its public part is kept (a verifier needs no private key)",
                     st->origin);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* JWK and JWKS */

typedef enum {
    JWK_OK,
    JWK_BAD,     /* broken or refused: a warning in a set */
    JWK_NOT_SIG, /* fine, but for encryption: only a note in a set */
} jwk_status;

/* A base64url member, decoded; a missing, empty or undecodable one is an
 * error named after the member. */
static bool jwk_bytes(const json_t *jwk, const char *member, unsigned char **out, size_t *len, aud_error *why)
{
    const json_t *value = json_object_get(jwk, member);
    if (!json_is_string(value)) {
        aud_error_set(why, "member \"%s\" is %s", member, value == NULL ? "missing" : "not a string");
        return false;
    }
    if (!aud_b64url_decode(json_string_value(value), json_string_length(value), out, len)) {
        aud_error_set(why, "member \"%s\" is not valid base64url", member);
        return false;
    }
    if (*len == 0) {
        free(*out);
        *out = NULL;
        aud_error_set(why, "member \"%s\" is empty", member);
        return false;
    }
    return true;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static aud_key *jwk_rsa(const json_t *jwk, aud_error *why)
{
    unsigned char *n = NULL;
    unsigned char *e = NULL;
    size_t n_len = 0;
    size_t e_len = 0;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    aud_key *key = NULL;
    if (!jwk_bytes(jwk, "n", &n, &n_len, why) || !jwk_bytes(jwk, "e", &e, &e_len, why))
        goto done;
    if (n_len > RSA_MAX_BITS / 8 + 1) {
        aud_error_set(why, "RSA key of %zu bytes is too large; at most %d bits supported", n_len, RSA_MAX_BITS);
        goto done;
    }
    if (e_len > n_len) {
        aud_error_set(why, "RSA public exponent is longer than the modulus");
        goto done;
    }
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e)) {
        aud_error_set(why, "out of memory");
        goto done;
    }
    pkey = pkey_from_params("RSA", bld);
    if (pkey == NULL) {
        aud_error_set(why, "\"n\" and \"e\" do not make an RSA key");
        goto done;
    }
    key = key_from_pkey(pkey, why);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return key;
}

static aud_key *jwk_ec(const json_t *jwk, aud_error *why)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (crv == NULL) {
        aud_error_set(why, "member \"crv\" is missing or not a string");
        return NULL;
    }
    const ec_curve *curve = ec_curve_of_crv(crv);
    if (curve == NULL) {
        shown q;
        char list[64];
        aud_error_set(why, "EC curve \"%s\" is not supported; only %s", show(crv, &q),
                      ec_curve_list(list, sizeof list));
        return NULL;
    }

    unsigned char *x = NULL;
    unsigned char *y = NULL;
    unsigned char *point = NULL;
    size_t x_len = 0;
    size_t y_len = 0;
    OSSL_PARAM_BLD *bld = NULL;
    aud_key *key = NULL;
    if (!jwk_bytes(jwk, "x", &x, &x_len, why) || !jwk_bytes(jwk, "y", &y, &y_len, why))
        goto done;
    /* RFC 7518 6.2.1.2: the full coordinate length, leading zeros kept. */
    if (x_len != curve->coordinate_len || y_len != curve->coordinate_len) {
        aud_error_set(why, "\"%s\" is %zu bytes; %s needs exactly %zu", x_len != curve->coordinate_len ? "x" : "y",
                      x_len != curve->coordinate_len ? x_len : y_len, curve->crv, curve->coordinate_len);
        goto done;
    }
    size_t point_len = 1 + 2 * curve->coordinate_len;
    point = malloc(point_len);
    bld = OSSL_PARAM_BLD_new();
    if (point == NULL || bld == NULL) {
        aud_error_set(why, "out of memory");
        goto done;
    }
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, x, x_len);
    memcpy(point + 1 + x_len, y, y_len);
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len)) {
        aud_error_set(why, "out of memory");
        goto done;
    }
    EVP_PKEY *pkey = pkey_from_params("EC", bld);
    if (pkey == NULL) {
        aud_error_set(why, "(x, y) is not a point on %s", curve->crv);
        goto done;
    }
    key = key_from_pkey(pkey, why);
done:
    OSSL_PARAM_BLD_free(bld);
    free(point);
    free(x);
    free(y);
    return key;
}

static aud_key *jwk_okp(const json_t *jwk, aud_error *why)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (crv == NULL) {
        aud_error_set(why, "member \"crv\" is missing or not a string");
        return NULL;
    }
    if (strcmp(crv, "Ed25519") != 0) {
        shown q;
        aud_error_set(why, "OKP curve \"%s\" is not supported; only Ed25519", show(crv, &q));
        return NULL;
    }
    unsigned char *x = NULL;
    size_t x_len = 0;
    if (!jwk_bytes(jwk, "x", &x, &x_len, why))
        return NULL;
    aud_key *key = NULL;
    if (x_len != 32) {
        aud_error_set(why, "\"x\" is %zu bytes; Ed25519 needs exactly 32", x_len);
    } else {
        EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
        if (pkey == NULL)
            aud_error_set(why, "\"x\" is not an Ed25519 public key");
        else
            key = key_from_pkey(pkey, why);
    }
    free(x);
    return key;
}

static aud_key *jwk_oct(const json_t *jwk, aud_error *why)
{
    unsigned char *k = NULL;
    size_t k_len = 0;
    if (!jwk_bytes(jwk, "k", &k, &k_len, why))
        return NULL;
    aud_key *key = key_from_secret(k, k_len, why);
    OPENSSL_cleanse(k, k_len);
    free(k);
    return key;
}

/* An optional member that, when present, must be a string. */
static bool jwk_optional_string(const json_t *jwk, const char *member, const char **out, aud_error *why)
{
    const json_t *value = json_object_get(jwk, member);
    *out = NULL;
    if (value == NULL)
        return true;
    if (!json_is_string(value)) {
        aud_error_set(why, "member \"%s\" is not a string", member);
        return false;
    }
    *out = json_string_value(value);
    return true;
}

static jwk_status jwk_parse(const json_t *jwk, aud_key **out, bool *private_seen, aud_error *why)
{
    *out = NULL;
    const char *kty;
    const char *kid;
    const char *use;
    const char *alg;
    if (!jwk_optional_string(jwk, "kty", &kty, why) || !jwk_optional_string(jwk, "kid", &kid, why) ||
        !jwk_optional_string(jwk, "use", &use, why) || !jwk_optional_string(jwk, "alg", &alg, why))
        return JWK_BAD;
    if (kty == NULL) {
        aud_error_set(why, "member \"kty\" is missing");
        return JWK_BAD;
    }
    /* Checked before "alg": an encryption key's alg (RSA-OAEP, ...) is
     * rightly unknown here, and the key is simply not for us. */
    if (use != NULL && strcmp(use, "sig") != 0) {
        shown q;
        aud_error_set(why, "use \"%s\", not \"sig\"", show(use, &q));
        return strcmp(use, "enc") == 0 ? JWK_NOT_SIG : JWK_BAD;
    }
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        bool verify = false;
        size_t i;
        const json_t *op;
        if (!json_is_array(ops)) {
            aud_error_set(why, "member \"key_ops\" is not an array");
            return JWK_BAD;
        }
        json_array_foreach(ops, i, op) {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = true;
        }
        if (!verify) {
            aud_error_set(why, "key_ops does not include \"verify\"");
            return JWK_NOT_SIG;
        }
    }

    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth"};
    for (size_t i = 0; i < sizeof private_members / sizeof private_members[0]; i++) {
        if (json_object_get(jwk, private_members[i]) != NULL)
            *private_seen = true;
    }

    aud_key *key;
    if (strcmp(kty, "RSA") == 0) {
        key = jwk_rsa(jwk, why);
    } else if (strcmp(kty, "EC") == 0) {
        key = jwk_ec(jwk, why);
    } else if (strcmp(kty, "OKP") == 0) {
        key = jwk_okp(jwk, why);
    } else if (strcmp(kty, "oct") == 0) {
        key = jwk_oct(jwk, why);
    } else {
        shown q;
        aud_error_set(why, "unsupported kty \"%s\"", show(kty, &q));
        return JWK_BAD;
    }
    if (key == NULL)
        return JWK_BAD;
    if (!key_finish(key, kid, alg, why)) {
        key_free(key);
        return JWK_BAD;
    }
    *out = key;
    return JWK_OK;
}

/* After key became the set's last: a kid already in the set (from this
 * document or an earlier file) is legal JWKS but usually a mistake in a
 * rotation. The verifier does not pick one of them: it tries each key with
 * the token's kid that fits the token's alg until one verifies. */
static void warn_duplicate_kid(const load_state *st, const aud_key *key, const char *which)
{
    if (key->kid == NULL)
        return;
    for (size_t i = 0; i + 1 < st->set->count; i++) {
        const char *other = st->set->keys[i]->kid;
        if (other != NULL && strcmp(other, key->kid) == 0) {
            shown q;
            aud_log_emit(st->log, AUD_LOG_WARNING,
                         "%s: %s has kid '%s', as an earlier key in the set has; both are kept and both are tried: "
                         "a token with this kid is checked against each key with it that fits its alg, in order, "
                         "until one verifies",
                         st->origin, which, show(key->kid, &q));
            return;
        }
    }
}

static void warn_private_members(const load_state *st)
{
    if (st->private_seen)
        aud_log_emit(st->log, AUD_LOG_WARNING,
                     "%s: private key members (d, p, q, dp, dq, qi, oth) ignored; only public parts are kept",
                     st->origin);
}

static bool load_jwks(load_state *st, const json_t *keys)
{
    size_t index;
    const json_t *jwk;
    size_t skipped = 0;
    json_array_foreach(keys, index, jwk) {
        char label[sizeof(shown) + 16] = "";
        const json_t *kid = json_object_get(jwk, "kid");
        if (json_is_string(kid)) {
            shown q;
            snprintf(label, sizeof label, " (kid '%s')", show(json_string_value(kid), &q));
        }
        aud_error why;
        aud_key *key = NULL;
        jwk_status status = JWK_BAD;
        if (!json_is_object(jwk))
            aud_error_set(&why, "not a JSON object");
        else
            status = jwk_parse(jwk, &key, &st->private_seen, &why);
        if (status != JWK_OK) {
            skipped++;
            aud_log_emit(st->log, status == JWK_NOT_SIG ? AUD_LOG_INFO : AUD_LOG_WARNING,
                         "%s: keys[%zu]%s skipped: %s", st->origin, index, label, why.text);
            continue;
        }
        if (!keyset_push(st->set, key)) {
            key_free(key);
            aud_error_set(st->err, "%s: out of memory", st->origin);
            return false;
        }
        st->added++;
        char which[32];
        snprintf(which, sizeof which, "keys[%zu]", index);
        warn_duplicate_kid(st, key, which);
    }
    warn_private_members(st);
    if (st->added == 0) {
        if (skipped == 0)
            aud_error_set(st->err, "%s: the JWKS holds no keys", st->origin);
        else
            aud_error_set(st->err, "%s: the JWKS holds no usable key (all %zu skipped; see the warnings above)",
                          st->origin, skipped);
        return false;
    }
    return true;
}

static bool load_json(load_state *st, const char *data, size_t len)
{
    aud_error why;
    json_t *root = aud_json_parse_object(data, len, &why);
    if (root == NULL) {
        /* The parser's message can repeat bytes of the document. */
        char q[sizeof why.text * 4 + 4];
        aud_error_set(st->err, "%s: %s", st->origin, aud_text_quote(why.text, strlen(why.text), sizeof why.text, q, sizeof q));
        return false;
    }
    bool ok = false;
    const json_t *keys = json_object_get(root, "keys");
    const json_t *kty = json_object_get(root, "kty");
    if (keys != NULL && kty != NULL) {
        aud_error_set(st->err, "%s: has both \"keys\" and \"kty\": neither clearly a JWKS nor a JWK", st->origin);
    } else if (keys != NULL) {
        if (!json_is_array(keys))
            aud_error_set(st->err, "%s: \"keys\" is not an array, so not a JWKS", st->origin);
        else
            ok = load_jwks(st, keys);
    } else if (kty != NULL) {
        aud_key *key = NULL;
        jwk_status status = jwk_parse(root, &key, &st->private_seen, &why);
        if (status == JWK_NOT_SIG) {
            aud_error_set(st->err, "%s: the JWK is not a signature key (%s)", st->origin, why.text);
        } else if (status == JWK_BAD) {
            aud_error_set(st->err, "%s: %s", st->origin, why.text);
        } else if (!keyset_push(st->set, key)) {
            key_free(key);
            aud_error_set(st->err, "%s: out of memory", st->origin);
        } else {
            st->added++;
            warn_duplicate_kid(st, key, "the JWK");
            warn_private_members(st);
            ok = true;
        }
    } else {
        aud_error_set(st->err, "%s: not a PEM key, certificate, JWK or JWKS (a JSON object with neither \"keys\" nor \"kty\")",
                      st->origin);
    }
    json_decref(root);
    return ok;
}

bool aud_keyset_load_buffer(aud_keyset *set, const char *data, size_t len, const char *origin,
                            const aud_logger *log, aud_error *err)
{
    if (origin == NULL)
        origin = "key data";
    if (set == NULL || (data == NULL && len > 0)) {
        aud_error_set(err, "%s: no key set or no data given", origin);
        return false;
    }
    load_state st = {.set = set, .origin = origin, .log = log, .err = err};
    size_t start = set->count;

    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) /* a BOM some editors add */
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    bool ok;
    if (i == len) {
        aud_error_set(err, "%s: not a PEM key, certificate, JWK or JWKS (it is empty)", origin);
        ok = false;
    } else if (data[i] == '{' || data[i] == '[') {
        ok = load_json(&st, data, len);
    } else if (memmem(data, len, "-----BEGIN ", 11) != NULL) {
        ok = load_pem(&st, data, len);
    } else {
        aud_error_set(err, "%s: not a PEM key, certificate, JWK or JWKS", origin);
        ok = false;
    }
    if (!ok)
        keyset_truncate(set, start);
    /* Parsing leaves entries in this thread's queue; they must not surface
     * later as the apparent cause of an unrelated failure. */
    ERR_clear_error();
    return ok;
}

/* Reads a whole file, refusing more than max bytes. The buffer is grown by
 * copying and cleansing rather than realloc, because it may hold a secret. */
static bool read_file(const char *path, size_t max, unsigned char **out, size_t *out_len, aud_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        aud_error_set(err, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 4096;
    size_t len = 0;
    unsigned char *buf = malloc(cap);
    bool ok = buf != NULL;
    if (!ok)
        aud_error_set(err, "cannot read %s: out of memory", path);
    while (ok) {
        if (len == cap) {
            unsigned char *bigger = malloc(cap * 2);
            if (bigger == NULL) {
                aud_error_set(err, "cannot read %s: out of memory", path);
                ok = false;
                break;
            }
            memcpy(bigger, buf, len);
            OPENSSL_cleanse(buf, len);
            free(buf);
            buf = bigger;
            cap *= 2;
        }
        errno = 0;
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len > max) {
            aud_error_set(err, "%s: larger than %zu bytes, too large for a key file", path, max);
            ok = false;
        } else if (n == 0) {
            if (ferror(f)) {
                aud_error_set(err, "cannot read %s: %s", path, strerror(errno != 0 ? errno : EIO));
                ok = false;
            }
            break;
        }
    }
    fclose(f);
    if (!ok) {
        if (buf != NULL)
            OPENSSL_cleanse(buf, len);
        free(buf);
        return false;
    }
    *out = buf;
    *out_len = len;
    return true;
}

bool aud_keyset_load_file(aud_keyset *set, const char *path, const aud_logger *log, aud_error *err)
{
    if (set == NULL || path == NULL) {
        aud_error_set(err, "no key set or no file given");
        return false;
    }
    unsigned char *data;
    size_t len;
    if (!read_file(path, KEY_FILE_MAX, &data, &len, err))
        return false;
    bool ok = aud_keyset_load_buffer(set, (const char *)data, len, path, log, err);
    /* The file may have held a private key or an HMAC secret. */
    OPENSSL_cleanse(data, len);
    free(data);
    return ok;
}

/* The bytes are used exactly as they are: a trailing newline, as most editors
 * and `echo` add, is part of the secret and counts towards its length. */
bool aud_keyset_load_secret_file(aud_keyset *set, const char *path, const char *kid, aud_error *err)
{
    if (set == NULL || path == NULL) {
        aud_error_set(err, "no key set or no file given");
        return false;
    }
    unsigned char *data;
    size_t len;
    if (!read_file(path, SECRET_FILE_MAX, &data, &len, err))
        return false;
    aud_error why;
    bool ok = aud_keyset_add_secret(set, data, len, kid, &why);
    if (!ok)
        aud_error_set(err, "%s: %s", path, why.text);
    OPENSSL_cleanse(data, len);
    free(data);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Accessors */

const char *aud_key_kid(const aud_key *key)
{
    return key != NULL ? key->kid : NULL;
}

aud_key_type aud_key_type_of(const aud_key *key)
{
    return key->type;
}

bool aud_key_fits_alg(const aud_key *key, aud_alg alg)
{
    if (key == NULL || (unsigned)alg >= AUD_ALG_COUNT)
        return false;
    if (key->has_alg && key->alg != alg)
        return false;
    return type_fits_alg(key->type, key->secret_len, alg);
}

const char *aud_key_describe(const aud_key *key)
{
    return key != NULL && key->description != NULL ? key->description : "no key";
}

/* ------------------------------------------------------------------------ */
/* Verification. A key is shared by every thread: what a verification
 * changes is a duplicate of the key's ready context, and the ready contexts
 * are published once with a compare-and-swap. */

/* The PKEY context this key verifies alg with (hash and padding set), made
 * on the first call; NULL if OpenSSL cannot make one. */
static EVP_PKEY_CTX *ready_context(const aud_key *key, aud_alg alg, const EVP_MD *md)
{
    _Atomic(EVP_PKEY_CTX *) *slot = (_Atomic(EVP_PKEY_CTX *) *)&key->verify_ready[alg];
    EVP_PKEY_CTX *ctx = atomic_load_explicit(slot, memory_order_acquire);
    if (ctx != NULL)
        return ctx;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    bool ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1;
    if (ok && key->type == AUD_KEY_RSA) {
        bool pss = alg == AUD_ALG_PS256 || alg == AUD_ALG_PS384 || alg == AUD_ALG_PS512;
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1;
        /* RFC 7518 3.5 fixes the salt to the hash length; accepting any
         * other length would accept signatures no conforming signer makes. */
        if (ok && pss)
            ok = EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)aud_alg_hash_len(alg)) == 1;
    }
    ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    if (!ok) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    EVP_PKEY_CTX *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &expected, ctx, memory_order_acq_rel, memory_order_acquire)) {
        /* Another thread published one first. */
        EVP_PKEY_CTX_free(ctx);
        return expected;
    }
    return ctx;
}

/* Hash, then verify the hash: RSA (PKCS #1 v1.5 and PSS) and ECDSA. */
static bool hash_verify(const aud_key *key, aud_alg alg, const unsigned char *sig, size_t sig_len,
                        const unsigned char *in, size_t in_len)
{
    const EVP_MD *md = md_for(alg);
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    EVP_PKEY_CTX *ready = md != NULL ? ready_context(key, alg, md) : NULL;
    if (ready == NULL || !aud_digest_compute(md, in, in_len, hash, &hash_len))
        return false;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_dup(ready);
    bool ok = ctx != NULL && EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Ed25519 signs the message itself (no pre-hash), so its ready context is
 * a digest-verify one, copied per call. */
static bool eddsa_verify(const aud_key *key, const unsigned char *sig, size_t sig_len, const unsigned char *in,
                         size_t in_len)
{
    _Atomic(EVP_MD_CTX *) *slot = (_Atomic(EVP_MD_CTX *) *)&key->eddsa_ready;
    EVP_MD_CTX *ready = atomic_load_explicit(slot, memory_order_acquire);
    if (ready == NULL) {
        EVP_MD_CTX *made = EVP_MD_CTX_new();
        if (made == NULL || EVP_DigestVerifyInit(made, NULL, NULL, NULL, key->pkey) != 1) {
            EVP_MD_CTX_free(made);
            return false;
        }
        EVP_MD_CTX *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(slot, &expected, made, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            ready = made;
        } else {
            EVP_MD_CTX_free(made);
            ready = expected;
        }
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_MD_CTX_copy_ex(ctx, ready) == 1 && EVP_DigestVerify(ctx, sig, sig_len, in, in_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool verify_rsa(const aud_key *key, aud_alg alg, const unsigned char *in, size_t in_len,
                       const unsigned char *sig, size_t sig_len)
{
    return sig_len == key->rsa_sig_len && hash_verify(key, alg, sig, sig_len, in, in_len);
}

static bool verify_ecdsa(const aud_key *key, aud_alg alg, const unsigned char *in, size_t in_len,
                         const unsigned char *sig, size_t sig_len)
{
    size_t n = ec_coordinate_len(key->type);
    /* JWS ECDSA signatures are R || S at the full curve size (RFC 7518
     * 3.4); a DER signature, however valid, is a different encoding. */
    if (n == 0 || sig_len != 2 * n)
        return false;
    BIGNUM *r = BN_bin2bn(sig, (int)n, NULL);
    BIGNUM *s = BN_bin2bn(sig + n, (int)n, NULL);
    ECDSA_SIG *ecdsa = ECDSA_SIG_new();
    /* Zero r or s would verify against any message with some broken
     * implementations (CVE-2022-21449); refuse it before OpenSSL sees it. */
    if (r == NULL || s == NULL || ecdsa == NULL || BN_is_zero(r) || BN_is_zero(s) ||
        ECDSA_SIG_set0(ecdsa, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(ecdsa);
        return false;
    }
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(ecdsa, &der);
    ECDSA_SIG_free(ecdsa); /* frees r and s too */
    bool ok = der_len > 0 && hash_verify(key, alg, der, (size_t)der_len, in, in_len);
    OPENSSL_free(der);
    return ok;
}

static bool verify_hmac(const aud_key *key, aud_alg alg, const unsigned char *in, size_t in_len,
                        const unsigned char *sig, size_t sig_len)
{
    int i = hash_index(alg);
    if (i < 0 || key->hmac[i] == NULL || sig_len != hash_sizes[i])
        return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    /* Duplicating only reads the shared, already keyed template (a const
     * use that OpenSSL allows from many threads); updates go to the copy. */
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->hmac[i]);
    bool ok = ctx != NULL && EVP_MAC_update(ctx, in, in_len) == 1 &&
              EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) == 1 && mac_len == sig_len &&
              CRYPTO_memcmp(mac, sig, sig_len) == 0;
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

bool aud_key_verify(const aud_key *key, aud_alg alg, const unsigned char *signing_input, size_t input_len,
                    const unsigned char *sig, size_t sig_len)
{
    /* The caller has checked this, but a wrong pairing here would be a
     * forgery, so it is cheap insurance. */
    if (!aud_key_fits_alg(key, alg) || sig == NULL || (signing_input == NULL && input_len > 0))
        return false;
    static const unsigned char empty[1];
    if (signing_input == NULL)
        signing_input = empty;
    bool ok = false;
    switch (key->type) {
    case AUD_KEY_RSA:
        ok = verify_rsa(key, alg, signing_input, input_len, sig, sig_len);
        break;
    case AUD_KEY_EC_P256:
    case AUD_KEY_EC_P384:
    case AUD_KEY_EC_P521:
        ok = verify_ecdsa(key, alg, signing_input, input_len, sig, sig_len);
        break;
    case AUD_KEY_ED25519:
        ok = sig_len == 64 && eddsa_verify(key, sig, sig_len, signing_input, input_len);
        break;
    case AUD_KEY_OCT:
        ok = verify_hmac(key, alg, signing_input, input_len, sig, sig_len);
        break;
    }
    /* A failed verification leaves entries in this thread's error queue;
     * the next request on the thread must not inherit them. */
    ERR_clear_error();
    return ok;
}
