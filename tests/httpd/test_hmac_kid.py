"""AudSecretFile PATH KID: an issuer that sets kid on its HMAC tokens
(Keycloak does) could not use AudSecretFile, since a token's kid only ever
reaches a key with that kid and a raw secret had none: every such token was
unknown_key without a signature check."""
import jwt
import pytest

from conftest import bearer, start_server

LOCATIONS = (
    """<Location /hs-kid>
    AuthType Bearer
    AuthName "HMAC kid API"
    AudAllow api://users
    AudSecretFile {keys}/secret.bin hmac-key-1
    AudAlgorithms HS256
    Require valid-user
</Location>
<Location /hs-nokid>
    AuthType Bearer
    AuthName "HMAC API"
    AudAllow api://users
    AudSecretFile {keys}/secret.bin
    AudAlgorithms HS256
    Require valid-user
</Location>
"""
)


@pytest.fixture(scope="module")
def hmac_httpd(workdir, keys):
    server = start_server(workdir, keys, "hmac-kid", LOCATIONS)
    yield server
    server.stop()


def hs256(mint, kid=None):
    headers = {"kid": kid} if kid else None
    return mint._track(jwt.encode(mint.claims(), mint.keys.secret, algorithm="HS256", headers=headers))


def test_secret_under_a_kid_verifies_tokens_naming_it(hmac_httpd, mint):
    r = hmac_httpd.get("/hs-kid/x", token=hs256(mint, "hmac-key-1"))
    assert r.status == 200 and r.header("X-User") == "alice"


def test_other_kid_is_unknown_key(hmac_httpd, mint):
    r = hmac_httpd.get("/hs-kid/x", token=hs256(mint, "other-kid"))
    assert r.status == 401
    assert hmac_httpd.audit_for(r.request_id)["reasons"] == ["unknown_key"]


def test_secret_without_kid_serves_only_tokens_without_one(hmac_httpd, mint):
    assert hmac_httpd.get("/hs-nokid/x", token=hs256(mint)).status == 200
    r = hmac_httpd.get("/hs-nokid/x", token=hs256(mint, "hmac-key-1"))
    assert r.status == 401 and hmac_httpd.audit_for(r.request_id)["reasons"] == ["unknown_key"]
