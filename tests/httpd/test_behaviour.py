"""Accepting tokens: the user name, the variables backends see, authorization
with Require, audit mode, and requests that must never hurt the server."""
import http.client
import time

import pytest

from conftest import DROP, GRAPH, ISSUER, b64u


def test_accepted_request(httpd, mint):
    token = mint.rs256()
    r = httpd.get("/users/x?access_token=query-secret&x=1", token=token)
    assert r.status == 200
    assert r.body == b'{"ok": true}\n'
    assert r.header("WWW-Authenticate") is None
    assert r.header("X-User") == "alice"
    assert r.backend_env() == {
        "API": "Users API", "AUD": "api://users", "ISS": ISSUER, "SUB": "alice", "CLIENT": "client-app",
        "SCOPE": "users.read", "DECISION": "accept", "REASON": "ok",
    }
    rec = httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept" and rec["status"] == 200 and rec["reasons"] == []
    assert rec["matched"] == "api://users" and rec["aud"] == ["api://users"]
    assert rec["sub"] == "alice" and rec["client"] == "client-app"
    # The query string can carry secrets: the record has the path only.
    assert rec["uri"] == "/users/x"
    assert "query-secret" not in httpd.audit_log.read_text()


@pytest.mark.parametrize("factory", ["rs256", "kid_rsa", "es256"])
def test_every_configured_key_works(httpd, mint, factory):
    r = httpd.get("/users/x", token=getattr(mint, factory)())
    assert r.status == 200, r.backend_env()


def test_hmac_only_where_listed(httpd, mint):
    assert httpd.get("/hmac/x", token=mint.hs256(aud="api://hmac")).status == 200
    r = httpd.get("/hmac/x", token=mint.rs256(aud="api://hmac"))
    assert r.status == 401 and "alg_not_allowed" in r.backend_env()["REASON"]


def test_environment_reaches_cgi(httpd, mint):
    r = httpd.get("/cgi/env.cgi", token=mint.rs256(scp=["a.read", "b.write"], scope=DROP))
    assert r.status == 200
    env = dict(line.split("=", 1) for line in r.body.decode().splitlines())
    assert env == {
        "AUD_API": "CGI API", "AUD_AUD": "api://users", "AUD_ISS": ISSUER, "AUD_SUB": "alice",
        "AUD_CLIENT": "client-app", "AUD_SCOPE": "a.read b.write", "AUD_DECISION": "accept", "AUD_REASON": "ok",
        "AUTH_TYPE": "Bearer", "REMOTE_USER": "alice",
    }


@pytest.mark.parametrize("claims,scope", [
    ({"scope": "a b"}, "a b"),
    ({"scope": DROP, "scp": "x y"}, "x y"),
    ({"scope": DROP, "scp": ["x", "y", "z"]}, "x y z"),
    ({"scope": DROP}, "(null)"),
])
def test_scope(httpd, mint, claims, scope):
    r = httpd.get("/users/x", token=mint.rs256(**claims))
    assert r.status == 200
    assert r.backend_env()["SCOPE"] == scope


@pytest.mark.parametrize("path,claims,user,client", [
    ("/users/x", {}, "alice", "client-app"),
    # Client-credentials tokens carry no sub: the client is the user.
    ("/users/x", {"sub": DROP}, "client-app", "client-app"),
    ("/users/x", {"sub": DROP, "azp": DROP, "client_id": "cid"}, "cid", "cid"),
    ("/users/x", {"sub": DROP, "azp": DROP, "appid": "app-guid"}, "app-guid", "app-guid"),
    ("/users/x", {"sub": DROP, "azp": DROP}, "-", "(null)"),
    ("/byupn/x", {"upn": "alice@example.test"}, "alice@example.test", "client-app"),
    ("/byupn/x", {}, "client-app", "client-app"),
])
def test_user_name(httpd, mint, path, claims, user, client):
    r = httpd.get(path, token=mint.rs256(**claims))
    assert r.status == 200
    assert r.header("X-User") == user
    assert r.backend_env()["CLIENT"] == client


@pytest.mark.parametrize("value", ["Bearer {}", "bearer {}", "BEARER {}", "BeArEr   {}", "Bearer\t{}"])
def test_scheme_is_case_insensitive(httpd, mint, value):
    assert httpd.get("/users/x", authorization=value.format(mint.rs256())).status == 200


def test_authtype_is_case_insensitive(httpd, mint):
    # /invoices says "AuthType bearer".
    r = httpd.get("/invoices/x", token=mint.rs256(aud="api://invoices"))
    assert r.status == 200 and r.backend_env()["DECISION"] == "accept"


def test_other_locations_are_untouched(httpd, mint):
    before = len(httpd.audit_lines())
    r = httpd.get("/public/x", token=mint.rs256())
    assert r.status == 200
    assert r.backend_env()["DECISION"] == "(null)"
    assert r.header("X-User") == ""
    time.sleep(0.2)
    assert len(httpd.audit_lines()) == before


def test_require_user(httpd, mint, expect_errors):
    # mod_authz_core logs a refused user at error level itself (AH01631).
    expect_errors.append(r"AH01631: user bob: authorization failure")
    assert httpd.get("/onlyalice/x", token=mint.rs256(sub="alice")).status == 200
    r = httpd.get("/onlyalice/x", token=mint.rs256(sub="bob"))
    # RFC 6750 3.1: an authenticated token the requirements refuse is 403
    # insufficient_scope (it was 401, which tells a client to get another
    # token when another token of the same kind cannot help).
    assert r.status == 403
    assert r.header("WWW-Authenticate") == ('Bearer realm="Alice API", error="insufficient_scope", '
                                            'error_description="the token does not grant access to this resource"')
    rec = httpd.audit_for(r.request_id)
    assert rec["decision"] == "reject" and rec["status"] == 403 and rec["reasons"] == ["insufficient_scope"]
    # Require user is mod_authz_user's: what it wanted is not this module's to say.
    assert rec["required"] is None and rec["scopes"] == ["users.read"] and rec["roles"] == []


def test_require_all_and_any(httpd, mint, expect_errors):
    expect_errors.append(r"AH01631: user carol: authorization failure")
    assert httpd.get("/all/x", token=mint.rs256()).status == 200
    assert httpd.get("/all/x").status == 401
    assert httpd.get("/all/x", token=mint.rs256(aud=GRAPH)).status == 401
    assert httpd.get("/any/x", token=mint.rs256(sub="alice")).status == 200
    assert httpd.get("/any/x", token=mint.rs256(sub="bob")).status == 200
    assert httpd.get("/any/x", token=mint.rs256(sub="carol")).status == 403


class TestAuditMode:
    def test_accept(self, httpd, mint):
        r = httpd.get("/invoices/x", token=mint.rs256(aud="api://invoices"))
        assert r.status == 200
        assert r.header("X-User") == "alice"
        assert r.backend_env()["SUB"] == "alice"
        rec = httpd.audit_for(r.request_id)
        assert (rec["mode"], rec["decision"], rec["status"], rec["api"]) == ("audit", "accept", 200, "Invoices API")

    def test_no_token_passes(self, httpd):
        offset = httpd.error_log_size()
        r = httpd.get("/invoices/x")
        assert r.status == 200 and r.body == b'{"ok": true}\n'
        assert r.header("WWW-Authenticate") is None
        assert r.header("X-User") == "-"
        env = r.backend_env()
        assert (env["DECISION"], env["REASON"], env["API"]) == ("audit_reject", "no_token", "Invoices API")
        rec = httpd.audit_for(r.request_id)
        assert (rec["mode"], rec["decision"], rec["status"], rec["reasons"]) == ("audit", "audit_reject", 200,
                                                                                 ["no_token"])
        time.sleep(0.1)
        assert "AUD0102: audit mode, would reject: api=Invoices API" in httpd.error_log_since(offset)

    def test_wrong_audience_passes_with_every_reason(self, httpd, mint):
        token = mint.rs256(aud=GRAPH, exp=int(time.time()) - 3600)
        r = httpd.get("/invoices/x", token=token)
        assert r.status == 200
        # The signature is good, but the token would be refused: it is
        # nobody's, and none of its claims reach the backend as if accepted.
        assert r.header("X-User") == "-"
        env = r.backend_env()
        assert env["DECISION"] == "audit_reject" and env["REASON"] == "expired,aud_mismatch"
        assert env["SUB"] == "(null)" and env["AUD"] == "(null)"
        rec = httpd.audit_for(r.request_id)
        assert rec["decision"] == "audit_reject" and rec["reasons"] == ["expired", "aud_mismatch"]
        assert rec["aud"] == [GRAPH] and rec["sub"] == "alice"

    def test_forged_token_gets_no_user(self, httpd, mint):
        r = httpd.get("/invoices/x", token=mint.rs256(key=mint.keys.other, aud="api://invoices", sub="admin"))
        assert r.status == 200
        assert r.header("X-User") == "-"
        assert r.backend_env()["REASON"] == "bad_signature"

    def test_malformed_header_passes(self, httpd):
        r = httpd.get("/invoices/x", authorization="Bearer a b")
        assert r.status == 200
        assert httpd.audit_for(r.request_id)["reasons"] == ["malformed"]


def test_realm_is_a_safe_quoted_string(httpd):
    r = httpd.get("/quoted/x")
    assert r.status == 401
    assert r.header("WWW-Authenticate") == 'Bearer realm="Say \\"hi\\""'
    assert httpd.audit_for(r.request_id)["api"] == 'Say "hi"'
    assert r.backend_env()["API"] == 'Say "hi"'
    r = httpd.get("/quoted2/x", token="x.y.z")
    assert r.header("WWW-Authenticate").startswith('Bearer realm="back\\\\slash \\"q\\"", error=')
    assert httpd.audit_for(r.request_id)["api"] == 'back\\slash "q"'


HOSTILE = [
    "",
    ".",
    "..",
    "a.b.c.d",
    "." * 5000,
    "A" * 7000,
    b64u(b'{"alg":"RS256"') + "." + b64u(b"{}") + ".",
    b64u(b"[" * 5000) + "." + b64u(b"{}") + ".x",
    b64u(b'{"alg":"RS256","crit":["b64"],"b64":false}') + "." + b64u(b'{"aud":"api://users"}') + ".AAAA",
    b64u(b'{"alg":"RS256","kid":"../../../../etc/passwd"}') + "." + b64u(b'{"aud":"api://users"}') + ".AAAA",
    b64u(b'{"alg":"RS256","jku":"http://127.0.0.1:1/x"}') + "." + b64u(b'{"aud":"api://users","exp":1e400}') + ".",
    b64u(b'{"alg":"ES256","kid":"k-ec"}') + "." + b64u(b'{"aud":"api://users","exp":99999999999}') + "." + b64u(
        b"\x00" * 64),
    b64u(b'{"alg":"RS256"}') + "." + b64u(b'{"aud":"\\u0000"}') + ".AAA",
    b64u(b'{"alg":"RS256","alg":"none"}') + "." + b64u(b'{"aud":"api://users"}') + ".",
    "%00%0d%0a",
    "\u00e9\u2028",
]


@pytest.mark.parametrize("token", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_tokens_never_hurt(httpd, token):
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=10)
    try:
        conn.putrequest("GET", "/users/x")
        conn.putheader("Authorization", ("Bearer " + token).encode("utf-8"))
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        assert r.status in (400, 401), r.status
    finally:
        conn.close()
    assert httpd.get("/users/x").status == 401


def test_oversized_token(httpd, mint):
    big = mint.rs256(padding="x" * 17000)
    r = httpd.get("/users/x", token=big)
    # httpd's own header limit (8190 bytes) or ours: never a 500.
    assert r.status == 400
