"""Multi-tenant Entra ID issuers (AudIssuer templates with {tenantid},
AudTenant, AudDiscovery of /common/v2.0) and token types (AudTokenType),
through a real httpd: statuses, the exact WWW-Authenticate header, audit
records and httpd -t refusals.

Security properties pinned here: a template accepts only the tenants
AudTenant lists (or any, when AudTenant * says so), a template without
AudTenant stops httpd -t, and the document of a /common discovery URL may
name the {tenantid} template of its own origin and nothing else."""
import subprocess
import time

import jwt
import pytest

from conftest import APACHE2, Httpd, httpd_env, rsa_jwk
from test_remote_keys import KeyServer

T1 = "11111111-1111-4111-8111-111111111111"
T2 = "22222222-2222-4222-8222-222222222222"
V2 = "https://login.microsoftonline.com/{}/v2.0"
V1 = "https://sts.windows.net/{}/"


def realm(name):
    return f'Bearer realm="{name}"'


def invalid(name, description):
    return f'{realm(name)}, error="invalid_token", error_description="{description}"'


LOCATIONS = """
<Location /public-probe>
    Require all granted
</Location>
<Location /mt>
    AuthType Bearer
    AuthName "MT API"
    AudAllow api://mt
    AudIssuer https://login.microsoftonline.com/{{tenantid}}/v2.0
    AudTenant 11111111-1111-4111-8111-111111111111
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /any>
    AuthType Bearer
    AuthName "Any API"
    AudAllow api://mt
    AudIssuer https://login.microsoftonline.com/{{tenantid}}/v2.0
    AudTenant *
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /v1>
    AuthType Bearer
    AuthName "V1 API"
    AudAllow api://mt
    AudIssuer https://sts.windows.net/{{tenantid}}/
    AudTenant 11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /typed>
    AuthType Bearer
    AuthName "Typed API"
    AudAllow api://users
    AudIssuer {issuer}
    AudTokenType at+jwt
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def idp():
    server = KeyServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def issuers_httpd(workdir, keys, idp):
    template = idp.url("/{tenantid}/v2.0")
    idp.route("/common/v2.0/.well-known/openid-configuration",
              {"issuer": template, "jwks_uri": idp.url("/common/discovery/v2.0/keys")})
    idp.jwks("/common/discovery/v2.0/keys", rsa_jwk(keys.rsa_kid, "k-rsa"))
    # A document that names another origin's template is refused.
    idp.route("/organizations/v2.0/.well-known/openid-configuration",
              {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
               "jwks_uri": idp.url("/common/discovery/v2.0/keys")})
    idp.start()
    common = f"""
<Location /common>
    AuthType Bearer
    AuthName "Common API"
    AudAllow api://mt
    AudDiscovery {idp.url('/common/v2.0')}
    AudTenant {T1}
    Require valid-user
</Location>
<Location /foreign>
    AuthType Bearer
    AuthName "Foreign API"
    AudAllow api://mt
    AudDiscovery {idp.url('/organizations/v2.0')}
    AudTenant {T1}
    Require valid-user
</Location>
"""
    server = Httpd(workdir / "issuers", keys, locations=LOCATIONS + common.replace("{", "{{").replace("}", "}}"))
    server.start()
    yield server
    server.stop()


def mt_token(keys, iss, tid, key=None, headers=None, aud="api://mt", **extra):
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "sub": "alice", "azp": "client-app", "scp": "read", "iat": now,
              "exp": now + 3600, **extra}
    if tid is not None:
        claims["tid"] = tid
    return jwt.encode(claims, key or keys.rsa, algorithm="RS256", headers=headers)


def test_template_accepts_a_listed_tenant(issuers_httpd, keys):
    r = issuers_httpd.get("/mt/x", mt_token(keys, V2.format(T1), T1))
    assert r.status == 200, r.headers
    rec = issuers_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept"


@pytest.mark.parametrize("iss,tid", [(V2.format(T2), T2), (V2.format(T2), T1), (V2.format(T1), None),
                                     (V2.format(T1), 42), ("https://login.microsoftonline.com/{tenantid}/v2.0",
                                                           "{tenantid}")])
def test_template_refuses(issuers_httpd, keys, iss, tid):
    r = issuers_httpd.get("/mt/x", mt_token(keys, iss, tid))
    assert r.status == 401
    assert r.header("www-authenticate") == invalid("MT API", "the token's issuer is not accepted here")
    rec = issuers_httpd.audit_for(r.request_id)
    assert rec["reasons"] == ["issuer_mismatch"]


def test_other_tenant_hint_names_the_tenant(issuers_httpd, keys):
    r = issuers_httpd.get("/mt/x", mt_token(keys, V2.format(T2), T2))
    rec = issuers_httpd.audit_for(r.request_id)
    hints = [h for h in rec["hints"] if h["code"] == "issuer_other_tenant"]
    assert len(hints) == 1 and hints[0]["tenant"] == T2 and f"tenant '{T2}'" in hints[0]["text"], rec["hints"]


def test_any_tenant(issuers_httpd, keys):
    assert issuers_httpd.get("/any/x", mt_token(keys, V2.format(T2), T2)).status == 200
    r = issuers_httpd.get("/any/x", mt_token(keys, V2.format("contoso.com"), "contoso.com"))
    assert r.status == 401
    assert issuers_httpd.audit_for(r.request_id)["reasons"] == ["issuer_mismatch"]


def test_v1_template(issuers_httpd, keys):
    assert issuers_httpd.get("/v1/x", mt_token(keys, V1.format(T2), T2)).status == 200
    assert issuers_httpd.get("/v1/x", mt_token(keys, V2.format(T2), T2)).status == 401


def test_discovery_of_common(issuers_httpd, keys, idp):
    template = idp.url("/{tenantid}/v2.0")
    good = mt_token(keys, template.replace("{tenantid}", T1), T1, key=keys.rsa_kid, headers={"kid": "k-rsa"})
    r = issuers_httpd.get("/common/x", good)
    assert r.status == 200, r.headers
    other = mt_token(keys, template.replace("{tenantid}", T2), T2, key=keys.rsa_kid, headers={"kid": "k-rsa"})
    r = issuers_httpd.get("/common/x", other)
    assert r.status == 401
    assert r.header("www-authenticate") == invalid("Common API", "the token's issuer is not accepted here")
    assert issuers_httpd.audit_for(r.request_id)["reasons"] == ["issuer_mismatch"]
    # The issuer of the URL itself is not what tokens carry.
    common = mt_token(keys, idp.url("/common/v2.0"), "common", key=keys.rsa_kid, headers={"kid": "k-rsa"})
    assert issuers_httpd.get("/common/x", common).status == 401


def test_discovery_document_of_another_origin_is_refused(issuers_httpd, keys, idp):
    token = mt_token(keys, V2.format(T1), T1, key=keys.rsa_kid, headers={"kid": "k-rsa"})
    r = issuers_httpd.get("/foreign/x", token)
    assert r.status == 503
    log = issuers_httpd.error_log.read_text()
    assert "is not the configured issuer" in log and idp.url("/{tenantid}/v2.0") in log


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_token_type_accepted(issuers_httpd, keys, typ):
    now = int(time.time())
    from conftest import ISSUER
    token = jwt.encode({"iss": ISSUER, "aud": "api://users", "sub": "a", "exp": now + 600}, keys.rsa,
                       algorithm="RS256", headers={"typ": typ})
    assert issuers_httpd.get("/typed/x", token).status == 200


@pytest.mark.parametrize("typ,claims,hint", [("JWT", {"scp": "read"}, None),
                                             ("JWT", {"nonce": "n"}, "id_token"),
                                             ("JWT", {"typ": "Refresh"}, "refresh_token")])
def test_token_type_refused(issuers_httpd, keys, typ, claims, hint):
    now = int(time.time())
    from conftest import ISSUER
    token = jwt.encode({"iss": ISSUER, "aud": "api://users", "sub": "a", "exp": now + 600, **claims}, keys.rsa,
                       algorithm="RS256", headers={"typ": typ})
    r = issuers_httpd.get("/typed/x", token)
    assert r.status == 401
    assert r.header("www-authenticate") == invalid("Typed API", "the token is not of a type accepted here")
    rec = issuers_httpd.audit_for(r.request_id)
    assert rec["reasons"] == ["token_type"]
    codes = [h["code"] for h in rec["hints"]]
    assert (hint in codes) if hint else codes == [], codes


# ------------------------------------------------------------ httpd -t

def config_test(workdir, keys, name, body):
    root = workdir / "configtest-issuers" / name
    h = Httpd(root, keys, locations="<Location /t>\n    AuthType Bearer\n" + body + "\n    Require valid-user\n"
                                    "</Location>\n")
    h.write()
    p = subprocess.run([APACHE2, "-t", "-f", str(h.conf)], capture_output=True, text=True, timeout=60,
                       env=httpd_env())
    return p.returncode, p.stdout + p.stderr, h.conf


def test_template_without_tenant_is_refused(workdir, keys):
    rc, out, conf = config_test(workdir, keys, "no-tenant",
                                "AudAllow api://x\nAudKeyFile {keys}/rsa.pem\n"
                                "AudIssuer https://login.microsoftonline.com/{{tenantid}}/v2.0")
    assert rc != 0, out
    assert f"{conf}:" in out and "AudIssuer" in out and "AudTenant" in out and "multi-tenant template" in out, out


def test_discovery_of_common_without_tenant_is_refused(workdir, keys):
    rc, out, conf = config_test(workdir, keys, "no-tenant-discovery",
                                "AudAllow api://x\nAudDiscovery https://login.microsoftonline.com/common/v2.0")
    assert rc != 0, out
    assert f"{conf}:" in out and "AudDiscovery" in out and "{tenantid}" in out, out


@pytest.mark.parametrize("body", ["AudTenant *", f"AudTenant {T1} {T2}", f"AudTenant {T1}\nAudTokenType at+jwt JWT"])
def test_template_with_tenant_passes(workdir, keys, body):
    rc, out, _ = config_test(workdir, keys, f"ok-{abs(hash(body))}",
                             "AudAllow api://x\nAudKeyFile {keys}/rsa.pem\n"
                             "AudIssuer https://login.microsoftonline.com/{{tenantid}}/v2.0\n" + body)
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("body,needle", [
    ("AudTenant contoso.onmicrosoft.com", "is not a tenant id"),
    ("AudTenant 11111111-1111-4111-8111-11111111111A", "is not a tenant id"),
    (f"AudTenant * {T1}", "stands alone"),
    (f"AudTenant {T1} *", "stands alone"),
    ("AudIssuer https://h/{{tenantid}}/{{tenantid}}", "more than once"),
    ("AudIssuer https://h/{{TenantId}}/v2.0", "write the tenant placeholder as {tenantid}"),
    ('AudTokenType "at+jwt; x"', "is not a media type"),
])
def test_bad_values_are_refused(workdir, keys, body, needle):
    rc, out, conf = config_test(workdir, keys, f"bad-{abs(hash(body))}", "AudAllow api://x\n" + body)
    assert rc != 0, out
    assert str(conf) in out and needle in out, out
