#include "aud_alg.h"

#include <strings.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned hash_len;
} alg_table[AUD_ALG_COUNT] = {
    [AUD_ALG_RS256] = {"RS256", 32}, [AUD_ALG_RS384] = {"RS384", 48}, [AUD_ALG_RS512] = {"RS512", 64},
    [AUD_ALG_PS256] = {"PS256", 32}, [AUD_ALG_PS384] = {"PS384", 48}, [AUD_ALG_PS512] = {"PS512", 64},
    [AUD_ALG_ES256] = {"ES256", 32}, [AUD_ALG_ES384] = {"ES384", 48}, [AUD_ALG_ES512] = {"ES512", 64},
    /* Ed25519 hashes internally with SHA-512. */
    [AUD_ALG_EDDSA] = {"EdDSA", 64},
    [AUD_ALG_HS256] = {"HS256", 32}, [AUD_ALG_HS384] = {"HS384", 48}, [AUD_ALG_HS512] = {"HS512", 64},
};

bool aud_alg_from_name(const char *name, aud_alg *out)
{
    if (name == NULL || aud_alg_name_is_none(name))
        return false;
    for (int i = 0; i < AUD_ALG_COUNT; i++) {
        if (strcmp(name, alg_table[i].name) == 0) {
            *out = (aud_alg)i;
            return true;
        }
    }
    if (strcmp(name, "Ed25519") == 0) {
        *out = AUD_ALG_EDDSA;
        return true;
    }
    return false;
}

const char *aud_alg_name(aud_alg alg)
{
    return (unsigned)alg < AUD_ALG_COUNT ? alg_table[alg].name : "?";
}

bool aud_alg_name_is_none(const char *name)
{
    /* The unsecured JWS must never pass, however an attacker spells it. */
    return name != NULL && strcasecmp(name, "none") == 0;
}

bool aud_alg_is_hmac(aud_alg alg)
{
    return (AUD_ALG_BIT(alg) & AUD_ALG_SET_HMAC) != 0;
}

unsigned aud_alg_hash_len(aud_alg alg)
{
    return (unsigned)alg < AUD_ALG_COUNT ? alg_table[alg].hash_len : 0;
}
