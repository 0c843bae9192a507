"""Diagnostics for tokens shaped as identity providers issue them, through a
real server: Entra ID v1.0/v2.0, Keycloak, Auth0, Okta and Google tokens,
encrypted and opaque tokens, DER ECDSA signatures, Ed25519 as an algorithm
name, AudErrorDetail pairing, sanitised quotes and absurd time values. Each
test checks what an operator or client sees: the status, the audit record's
reasons and hints, AUD_HINT, the AUD0101 info line, and the challenge."""
import json
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from conftest import DROP, ISSUER, Httpd, b64u, check_error_log
from test_hints import config_check

GUID = "6f1c2b3a-0000-4000-8000-000000000001"
TENANT = "11111111-2222-3333-4444-555555555555"
AZURE_V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
AZURE_V1 = f"https://sts.windows.net/{TENANT}/"
KEYCLOAK = "https://kc.example/realms/demo"
AUTH0 = "https://tenant.eu.auth0.com/"
OKTA_ORG = "https://dev-1.okta.com"
OKTA_DEFAULT = OKTA_ORG + "/oauth2/default"
GOOGLE = "https://accounts.google.com"
API = "https://api.example.com"
# Four two-byte characters short of the quote limit once a slash is added.
MULTIBYTE = "api://x" + "\u00e9" * 60

LOCATIONS = """
<Location /entra-uri>
    AuthType Bearer
    AuthName "Entra URI API"
    AudAllow api://%(guid)s
    AudIssuer %(v2)s %(v1)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /entra-guid>
    AuthType Bearer
    AuthName "Entra GUID API"
    AudAllow %(guid)s
    AudIssuer %(v2)s %(v1)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /keycloak>
    AuthType Bearer
    AuthName "Keycloak API"
    AudAllow api://orders
    AudIssuer %(kc)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /auth0>
    AuthType Bearer
    AuthName "Auth0 API"
    AudAllow %(api)s
    AudIssuer %(auth0)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /okta>
    AuthType Bearer
    AuthName "Okta API"
    AudAllow api://orders
    AudIssuer %(okta)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /google>
    AuthType Bearer
    AuthName "Google API"
    AudAllow %(api)s
    AudIssuer %(google)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /plain>
    AuthType Bearer
    AuthName "Plain API"
    AudAllow %(api)s
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem {keys}/jwks.json
    Require valid-user
</Location>
<Location /ed>
    AuthType Bearer
    AuthName "Ed API"
    AudAllow %(api)s
    AudIssuer {issuer}
    AudKeyFile {keys}/ed25519-jwks.json
    AudAlgorithms Ed25519
    Require valid-user
</Location>
<Location /detail>
    AuthType Bearer
    AuthName "Detail API"
    AudAllow api://%(guid)s
    AudIssuer %(v2)s
    AudKeyFile {keys}/rsa.pem
    AudErrorDetail on
    Require valid-user
</Location>
<Location /multibyte>
    AuthType Bearer
    AuthName "Multibyte API"
    AudAllow %(multibyte)s
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
""" % {"guid": GUID, "v2": AZURE_V2, "v1": AZURE_V1, "kc": KEYCLOAK, "api": API, "auth0": AUTH0,
       "okta": OKTA_DEFAULT, "google": GOOGLE, "multibyte": MULTIBYTE}

EXTRA = """
Header always set X-Env-Hint "%{AUD_HINT}e"
Header always set X-Env-Hint-Text "%{AUD_HINT_TEXT}e"
"""


@pytest.fixture(scope="module")
def ed_key(keys):
    key = ed25519.Ed25519PrivateKey.generate()
    x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keys.write("ed25519-jwks.json", json.dumps(
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "use": "sig", "x": b64u(x)}]}).encode())
    return key


@pytest.fixture(scope="module")
def vendor_httpd(workdir, keys, ed_key):
    server = Httpd(workdir / "vendor-hints", keys, locations=LOCATIONS, extra=EXTRA)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def vendor_error_log_guard(request):
    """conftest's guard knows only its own servers: apply the same check
    (no crash or sanitizer report, no [error] line) to this one."""
    if "vendor_httpd" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("vendor_httpd")
    offset = server.error_log_size()
    yield
    time.sleep(0.05)
    check_error_log(server.error_log_since(offset), [])


def claims(**over):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": API, "sub": "alice", "azp": "client-app", "scope": "read", "iat": now,
         "exp": now + 3600}
    for k, v in over.items():
        if v is DROP:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def rs256(mint, **over):
    return mint._track(jwt.encode(claims(**over), mint.keys.rsa, algorithm="RS256"))


def signing_input(header, payload):
    return b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(payload, separators=(",", ":")).encode())


def hand_rs256(mint, payload):
    """An RS256 JWS over exactly this payload, numbers serialised as Python
    writes them (-1e+300), with a valid signature so that the time checks
    are reached."""
    si = signing_input({"alg": "RS256", "typ": "JWT"}, payload)
    sig = mint.keys.rsa.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
    return mint._track(si + "." + b64u(sig))


def info_line(server, offset, rec):
    log = server.error_log_since(offset)
    lines = [line for line in log.splitlines() if "AUD0101: rejected" in line and rec["token_id"] in line]
    assert len(lines) == 1, log
    return lines[0], log


def as_logged(text):
    """httpd's error log writes each byte above 0x7F as \\xNN."""
    return "".join(chr(b) if b < 0x80 else f"\\x{b:02x}" for b in text.encode("utf-8"))


def refused(server, path, token, reasons, code, status=401):
    """The request is refused for exactly these reasons and carries the hint
    code in the record, AUD_HINT and the info line; returns the response,
    the record and the hint."""
    offset = server.error_log_size()
    r = server.get(path, token=token)
    assert r.status == status
    rec = server.audit_for(r.request_id)
    assert rec["decision"] == "reject"
    assert rec["reasons"] == reasons
    codes = [h["code"] for h in rec["hints"]]
    assert code in codes, rec["hints"]
    env = r.backend_env()
    assert env["HINT"] == ",".join(codes)
    # http.client reads header bytes as Latin-1; the variable holds UTF-8.
    assert env["HINT_TEXT"].encode("latin-1").decode("utf-8") == rec["hints"][0]["text"]
    line, _ = info_line(server, offset, rec)
    assert f"hints={','.join(codes)} " in line
    assert f"hint: {as_logged(rec['hints'][0]['text'])}" in line
    return r, rec, next(h for h in rec["hints"] if h["code"] == code)


def refused_for(server, path, token):
    """A refusal whatever its reasons and hints: (response, record, hints)."""
    r = server.get(path, token=token)
    assert r.status == 401
    rec = server.audit_for(r.request_id)
    assert rec["decision"] == "reject"
    return r, rec, rec["hints"]


def jwe(alg="RSA-OAEP", enc="A256GCM"):
    """A JWE compact serialisation: a real header, random bytes for the
    encrypted key, IV, ciphertext and tag."""
    header = b64u(json.dumps({"alg": alg, "enc": enc, "kid": "enc-1"}).encode())
    return ".".join([header] + [b64u(os.urandom(n)) for n in (256, 12, 40, 16)])


# ---------------------------------------------------------------- Entra ID

def test_entra_v2_token_carries_the_client_id(vendor_httpd, mint):
    token = rs256(mint, iss=AZURE_V2, aud=GUID, ver="2.0", azp="11112222-0000-4000-8000-00000000c11e",
                  scope=DROP, scp="orders.read", tid=TENANT)
    _, _, hint = refused(vendor_httpd, "/entra-uri/x", token, ["aud_mismatch"], "azure_guid_vs_uri")
    text = hint["text"]
    assert text.startswith(f"aud '{GUID}' is the application (client) ID of the allowed App ID URI 'api://{GUID}'")
    assert "Entra ID v2.0 access tokens (this token says ver 2.0) always carry the API's client ID as aud" in text
    assert f"allow '{GUID}' too" in text
    assert hint["ver"] == "2.0"


def test_entra_v1_token_carries_the_app_id_uri(vendor_httpd, mint):
    token = rs256(mint, iss=AZURE_V1, aud=f"api://{GUID}", ver="1.0", azp=DROP,
                  appid="11112222-0000-4000-8000-00000000c11e", scope=DROP, scp="orders.read", tid=TENANT)
    _, _, hint = refused(vendor_httpd, "/entra-guid/x", token, ["aud_mismatch"], "azure_guid_vs_uri")
    text = hint["text"]
    assert text.startswith(f"aud 'api://{GUID}' is the App ID URI form of the allowed application (client) ID "
                           f"'{GUID}' (this token says ver 1.0)")
    assert "only Entra ID v1.0 access tokens carry an App ID URI" in text
    assert hint["ver"] == "1.0"


def test_lint_entra_v2_issuer_with_only_app_id_uris(workdir, keys):
    body = f"""
<Location /v2-uris>
    AuthType Bearer
    AudAllow api://{GUID} api://orders
    AudIssuer {AZURE_V2}
    AudKeyFile {keys.dir}/rsa.pem
    Require valid-user
</Location>
"""
    warnings, conf, lines = config_check(workdir, keys, "entra-v2-uris", body)
    mine = [w for w in warnings if "is an Entra ID v2.0 issuer" in w]
    assert len(mine) == 1, "\n".join(warnings)
    assert f"issuer '{AZURE_V2}' is an Entra ID v2.0 issuer, but every allowed audience is an api:// App ID URI" \
        in mine[0]
    assert "allow the API's client ID" in mine[0]
    assert f"{conf}:" in mine[0] and "in <Location /v2-uris>" in mine[0]


def test_lint_quiet_about_v2_when_the_client_id_is_allowed(workdir, keys):
    body = f"""
<Location /v2-guid>
    AuthType Bearer
    AudAllow api://{GUID} {GUID}
    AudIssuer {AZURE_V2}
    AudKeyFile {keys.dir}/rsa.pem
    Require valid-user
</Location>
"""
    warnings, _, _ = config_check(workdir, keys, "entra-v2-guid", body)
    assert not [w for w in warnings if "Entra ID v2.0 issuer" in w], warnings


# ---------------------------------------------------------------- Keycloak

def test_keycloak_default_access_token_names_the_audience_mapper(vendor_httpd, mint):
    token = rs256(mint, iss=KEYCLOAK, aud="account", azp="web", typ="Bearer", scope="openid profile")
    _, _, hint = refused(vendor_httpd, "/keycloak/x", token, ["aud_mismatch"], "keycloak_audience")
    assert hint["text"].startswith("the token's only audience is 'account' and its client is azp 'web': "
                                   "Keycloak puts an API into aud only through an Audience protocol mapper")
    assert "give 'web' a client scope with an Audience mapper" in hint["text"]


def test_keycloak_access_token_without_audience(vendor_httpd, mint):
    token = rs256(mint, iss=KEYCLOAK, aud=DROP, azp="web", typ="Bearer", scope="openid")
    _, _, hint = refused(vendor_httpd, "/keycloak/x", token, ["aud_missing"], "keycloak_audience")
    assert hint["text"].startswith(f"the token has no audience, only its client azp 'web' (issuer '{KEYCLOAK}')")


@pytest.mark.parametrize("typ", ["Refresh", "Offline"])
def test_keycloak_refresh_token_as_bearer(vendor_httpd, mint, typ):
    token = rs256(mint, iss=KEYCLOAK, aud=KEYCLOAK, azp="web", typ=typ, scope="openid")
    _, _, hint = refused(vendor_httpd, "/keycloak/x", token, ["aud_mismatch"], "refresh_token")
    assert f"(typ '{typ}', as Keycloak marks them) was sent as a bearer token" in hint["text"]
    assert "send the access token instead" in hint["text"]


def test_keycloak_hmac_signed_refresh_token(vendor_httpd, mint):
    """Keycloak signs refresh tokens with the realm's HMAC key: the algorithm
    check fails first, and the hint still says what the token is."""
    token = mint._track(jwt.encode(claims(iss=KEYCLOAK, aud=KEYCLOAK, azp="web", typ="Refresh", scope="openid"),
                                   os.urandom(32), algorithm="HS256"))
    _, rec, hint = refused(vendor_httpd, "/keycloak/x", token, ["alg_not_allowed", "aud_mismatch"], "refresh_token")
    assert rec["hints"][0]["code"] == "refresh_token" and rec["alg"] == "HS256"


# Regression: Keycloak's typ 'ID' was not taken as an ID-token sign when aud
# is the token's own azp, so client_id_as_aud was given (first) besides
# id_token, against README's rule.
@pytest.mark.parametrize("extra", [
    pytest.param({}, id="typ-only"),
    pytest.param({"at_hash": "Ah2Jc4Qb7aJXzqlz1Cz8bA", "sid": "s-1"}, id="with-at_hash"),
])
def test_keycloak_id_token_as_bearer(vendor_httpd, mint, extra):
    """A Keycloak ID token (aud and azp both the client): only id_token, the
    first hint, so AUD_HINT_TEXT names it."""
    token = rs256(mint, iss=KEYCLOAK, aud="web", azp="web", typ="ID", scope=DROP, **extra)
    _, rec, hint = refused(vendor_httpd, "/keycloak/x", token, ["aud_mismatch"], "id_token")
    assert hint["text"] == "an ID token was sent where an access token is expected"
    assert [h["code"] for h in rec["hints"]] == ["id_token"]


# ---------------------------------------------------------------- Auth0, Okta, Google

def test_auth0_userinfo_only_audience(vendor_httpd, mint):
    token = rs256(mint, iss=AUTH0, aud=AUTH0 + "userinfo", azp="abc", scope="openid profile")
    _, _, hint = refused(vendor_httpd, "/auth0/x", token, ["aud_mismatch"], "auth0_userinfo")
    assert hint["text"].startswith(f"the token's only audience is the /userinfo endpoint '{AUTH0}userinfo'")
    assert "request it with audience set to this API's identifier" in hint["text"]


def okta(mint, **over):
    base = {"iss": OKTA_DEFAULT, "aud": "api://orders", "azp": DROP, "cid": "0oa1client", "scope": DROP,
            "scp": ["orders.read"], "ver": 1, "uid": "00u1"}
    base.update(over)
    return rs256(mint, **base)


def test_okta_default_server_audience(vendor_httpd, mint):
    _, _, hint = refused(vendor_httpd, "/okta/x", okta(mint, aud="api://default"), ["aud_mismatch"],
                         "okta_default_audience")
    assert hint["text"].startswith("aud 'api://default' is the audience Okta's pre-configured 'default' "
                                   f"authorization server uses unless it is changed (issuer '{OKTA_DEFAULT}')")


def test_okta_org_server_token(vendor_httpd, mint):
    _, _, hint = refused(vendor_httpd, "/okta/x", okta(mint, iss=OKTA_ORG), ["issuer_mismatch"], "okta_org_server")
    assert hint["text"].startswith(f"iss '{OKTA_ORG}' is an Okta org authorization server (no /oauth2/... in "
                                   "the issuer)")
    assert "request the token from a custom authorization server" in hint["text"]


def test_okta_accepted_token_names_its_cid_client(vendor_httpd, mint):
    r = vendor_httpd.get("/okta/x", token=okta(mint))
    assert r.status == 200
    assert r.backend_env()["CLIENT"] == "0oa1client"
    rec = vendor_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept" and rec["reasons"] == [] and rec["hints"] == []
    assert rec["client"] == "0oa1client"


def test_google_legacy_issuer_spelling(vendor_httpd, mint):
    _, _, hint = refused(vendor_httpd, "/google/x", rs256(mint, iss="accounts.google.com"), ["issuer_mismatch"],
                         "google_issuer")
    assert hint["text"].startswith(f"iss 'accounts.google.com' is the other spelling of the allowed '{GOOGLE}'")


# ---------------------------------------------------------------- token shapes

def test_encrypted_token(vendor_httpd, mint):
    token = mint._track(jwe())
    _, rec, hint = refused(vendor_httpd, "/plain/x", token, ["malformed"], "encrypted_token")
    assert hint["text"].startswith("the token is encrypted (a JWE, alg 'RSA-OAEP', enc 'A256GCM'): this API "
                                   "verifies signed tokens and cannot decrypt")
    assert hint["enc"] == "A256GCM"
    assert rec["hints"][0]["code"] == "encrypted_token"


def test_opaque_token(vendor_httpd, mint):
    token = mint._track(b64u(os.urandom(30)))
    assert len(token) == 40 and "." not in token
    _, _, hint = refused(vendor_httpd, "/plain/x", token, ["malformed"], "opaque_token")
    assert hint["text"].startswith("the token is not a JWT (1 dot-separated segment, not base64url JSON): "
                                   "probably an opaque access token")
    assert "this API needs a JWT access token" in hint["text"]


def test_der_encoded_es256_signature(vendor_httpd, mint):
    good = jwt.encode(claims(), mint.keys.ec, algorithm="ES256", headers={"kid": "k-ec"})
    si, raw = good.rsplit(".", 1)
    rs = jwt.utils.base64url_decode(raw)
    assert len(rs) == 64
    der = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
    token = mint._track(si + "." + b64u(der))
    # The same signature in JOSE form is accepted: only the encoding is wrong.
    assert vendor_httpd.get("/plain/x", token=mint._track(good)).status == 200
    _, _, hint = refused(vendor_httpd, "/plain/x", token, ["bad_signature"], "ecdsa_der_signature")
    assert hint["text"].startswith(f"the ES256 signature is {len(der)} bytes of DER")
    assert "requires the raw 64-byte R||S" in hint["text"]


def ed25519_token(mint, key, **over):
    si = signing_input({"alg": "Ed25519", "kid": "ed-1", "typ": "JWT"}, claims(**over))
    return mint._track(si + "." + b64u(key.sign(si.encode())))


def test_ed25519_algorithm_name_is_accepted(vendor_httpd, mint, ed_key):
    r = vendor_httpd.get("/ed/x", token=ed25519_token(mint, ed_key))
    assert r.status == 200
    rec = vendor_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept" and rec["alg"] == "Ed25519" and rec["kid"] == "ed-1"
    # Another Ed25519 key's signature is not: the key really is checked.
    other = ed25519.Ed25519PrivateKey.generate()
    _, rec, _ = refused_for(vendor_httpd, "/ed/x", ed25519_token(mint, other))
    assert rec["reasons"] == ["bad_signature"] and rec["alg"] == "Ed25519"
    # AudAlgorithms Ed25519 is the whole list: an RS256 token is refused.
    _, rec, _ = refused_for(vendor_httpd, "/ed/x", rs256(mint))
    assert rec["reasons"] == ["alg_not_allowed"]


# ---------------------------------------------------------------- AudErrorDetail

SUMMARY_ISSUER = "the token's issuer is not accepted here"


def challenge(description):
    return f'Bearer realm="Detail API", error="invalid_token", error_description="{description}"'


def test_error_detail_issuer_summary_is_not_paired_with_an_audience_hint(vendor_httpd, mint):
    """Regression: the issuer summary used to be followed by the audience
    hint (here the GUID-vs-URI one), which read as one wrong sentence."""
    token = rs256(mint, iss="https://login.example.org/other", aud=GUID, ver="2.0")
    r, _, _ = refused(vendor_httpd, "/detail/x", token, ["issuer_mismatch", "aud_mismatch"], "azure_guid_vs_uri")
    assert r.header("WWW-Authenticate") == challenge(SUMMARY_ISSUER)
    assert GUID not in r.header("WWW-Authenticate")


def test_error_detail_appends_the_hint_of_the_summarised_check(vendor_httpd, mint):
    token = rs256(mint, iss=AZURE_V2 + "/", aud=GUID, ver="2.0")
    r, rec, hint = refused(vendor_httpd, "/detail/x", token, ["issuer_mismatch", "aud_mismatch"],
                           "issuer_trailing_slash")
    assert hint["text"] == f"iss '{AZURE_V2}/' differs from the allowed issuer '{AZURE_V2}' only by a trailing slash"
    assert "azure_guid_vs_uri" in [h["code"] for h in rec["hints"]]
    assert r.header("WWW-Authenticate") == challenge(f"{SUMMARY_ISSUER}: {hint['text']}")


def test_error_detail_names_an_encrypted_token(vendor_httpd, mint):
    r, _, hint = refused(vendor_httpd, "/detail/x", mint._track(jwe()), ["malformed"], "encrypted_token")
    assert r.header("WWW-Authenticate") == challenge(f"the token is malformed: {hint['text']}")


# ---------------------------------------------------------------- sanitising

def test_trailing_slash_hint_survives_a_long_multibyte_audience(vendor_httpd, mint):
    """Regression: a quote cut inside a UTF-8 sequence made the hint vanish."""
    offset = vendor_httpd.audit_log.stat().st_size if vendor_httpd.audit_log.exists() else 0
    _, rec, hint = refused(vendor_httpd, "/multibyte/x", rs256(mint, aud=MULTIBYTE + "/"), ["aud_mismatch"],
                           "trailing_slash")
    assert hint["text"] == f"aud '{MULTIBYTE}/' differs from the allowed '{MULTIBYTE}' only by a trailing slash"
    assert hint["allowed"] == MULTIBYTE
    raw = vendor_httpd.audit_log.read_bytes()[offset:]
    line = next(line for line in raw.split(b"\n") if rec["token_id"].encode() in line)
    assert line.isascii(), line
    assert json.loads(line.decode("utf-8", errors="strict")) == rec


def test_long_token_text_with_a_line_feed_is_quoted_harmlessly(vendor_httpd, mint):
    """Pins the sanitiser on a hint that quotes token text: a raw LF cannot
    forge a second log line, and 1,000 characters are cut to 100."""
    hostile = "web\nFAKE: AUD0101 accepted " + "x" * 1000
    offset = vendor_httpd.error_log_size()
    _, rec, hint = refused(vendor_httpd, "/plain/x", rs256(mint, aud=hostile, azp=hostile), ["aud_mismatch"],
                           "client_id_as_aud")
    head = "the token's audience is its own client id '"
    assert hint["text"].startswith(head)
    quoted = hint["text"][len(head):].split("'", 1)[0]
    assert quoted.startswith("web?FAKE: AUD0101 accepted xxx") and quoted.endswith("...")
    assert len(quoted) <= 100 + len("...")
    assert "\n" not in hint["text"] and "x" * 101 not in hint["text"]
    line, log = info_line(vendor_httpd, offset, rec)
    assert hint["text"] in line
    # No raw LF reached the log: every line is an httpd log line.
    assert all(l.startswith("[") for l in log.splitlines() if l), log
    assert not any(l.startswith("FAKE") for l in log.splitlines())


def test_issuer_tenant_with_a_line_feed_is_quoted_harmlessly(vendor_httpd, mint):
    """Pins the sanitiser on the issuer hints, in the record, the log and
    (AudErrorDetail) the client's challenge."""
    tenant = "evil\ntenant" + "t" * 110
    iss = f"https://login.microsoftonline.com/{tenant}/v2.0"
    offset = vendor_httpd.error_log_size()
    r, rec, hint = refused(vendor_httpd, "/detail/x", rs256(mint, iss=iss, aud=f"api://{GUID}"), ["issuer_mismatch"],
                           "issuer_other_tenant")
    text = hint["text"]
    assert "\n" not in text
    quoted_iss = text[len("iss '"):].split("'", 1)[0]
    assert quoted_iss.startswith("https://login.microsoftonline.com/evil?tenanttt") and quoted_iss.endswith("...")
    assert len(quoted_iss) <= 100 + len("...")
    quoted_tenant = text.split("is from Azure AD tenant '", 1)[1].split("'", 1)[0]
    assert quoted_tenant.startswith("evil?tenant") and len(quoted_tenant) <= 100 + len("...")
    assert text.endswith(f"but this API accepts tenant '{TENANT}'")
    # The client's copy of the sentence is folded into RFC 6750's characters.
    value = r.header("WWW-Authenticate")
    assert value.startswith(challenge(SUMMARY_ISSUER + ": iss 'https://login.microsoftonline.com/evil")[:-1])
    assert all(0x20 <= ord(c) <= 0x7E for c in value), value
    _, log = info_line(vendor_httpd, offset, rec)
    assert all(line.startswith("[") for line in log.splitlines() if line), log


# ---------------------------------------------------------------- absurd times

@pytest.mark.parametrize("claim,value,reason", [("exp", -1e300, "expired"), ("nbf", 3.67e27, "not_yet_valid")])
def test_absurd_times_give_bounded_seconds(vendor_httpd, mint, claim, value, reason):
    """Pins the clamp on hint seconds: converting such a span to an integer
    unclamped is undefined behaviour (typically -9223372036854775808)."""
    payload = claims(**{claim: value})
    token = hand_rs256(mint, payload)
    _, rec, hint = refused(vendor_httpd, "/plain/x", token, [reason], reason)
    assert isinstance(hint["seconds"], int)
    assert 0 < abs(hint["seconds"]) <= 10 ** 12
    assert hint["seconds"] != -9223372036854775808
    assert "a very long time" in hint["text"]
