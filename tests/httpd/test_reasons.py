"""Every reason code, reached through a real request: the status, the exact
WWW-Authenticate header, the audit record, the error-log line and what a
backend sees."""
import calendar
import hashlib
import time

import pytest

from conftest import AUDIT_FIELDS, DROP, GRAPH, ISSUER

REALM = 'Bearer realm="Users API"'


def invalid(description):
    return f'{REALM}, error="invalid_token", error_description="{description}"'


def token_id(token):
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def check_record(rec, *, api="Users API", uri="/users/x", status, decision="reject", mode="enforce", reasons,
                 token=None, request_id, hints=()):
    assert list(rec) == AUDIT_FIELDS
    assert rec["api"] == api
    assert rec["uri"] == uri
    assert rec["method"] == "GET"
    assert rec["client_ip"] == "127.0.0.1"
    assert rec["status"] == status
    assert rec["mode"] == mode
    assert rec["decision"] == decision
    assert rec["reasons"] == reasons
    assert [h["code"] for h in rec["hints"]] == list(hints)
    assert rec["request_id"] == request_id
    assert rec["token_id"] == (token_id(token) if token else None)
    # RFC 3339, UTC, milliseconds, and close to now.
    assert len(rec["time"]) == 24 and rec["time"].endswith("Z") and rec["time"][19] == "."
    stamp = calendar.timegm(time.strptime(rec["time"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(stamp - time.time()) < 120


def check_rejection_env(r, api, reasons):
    env = r.backend_env()
    assert env["API"] == api
    assert env["DECISION"] == "reject"
    assert env["REASON"] == ",".join(reasons)
    # Token facts reach a backend only when they are facts.
    for name in ("AUD", "ISS", "SUB", "CLIENT", "SCOPE"):
        assert env[name] == "(null)", name


def check_info_line(httpd, offset, api, reasons, token):
    text = httpd.error_log_since(offset)
    tid = token_id(token) if token else "-"
    wanted = f"AUD0101: rejected: api={api} "
    lines = [line for line in text.splitlines() if wanted in line and f"token_id={tid}" in line]
    assert len(lines) == 1, text
    assert "[auth_aud:info]" in lines[0]
    assert f"reasons={','.join(reasons)} " in lines[0]


# name, token factory, reasons, description (None: no error, 400: bad request)
CASES = [
    ("no_token", None, ["no_token"], None),
    ("malformed", lambda m: "abc.def", ["malformed"], "the token is malformed"),
    ("malformed_json", lambda m: m.raw({"alg": "RS256"}, {"aud": "api://users"}, b"x")[:-3] + "not-json",
     None, "the token is malformed"),
    ("alg_none", lambda m: m.raw({"alg": "none"}, m.claims()), None,
     "the token's signing algorithm is not accepted here"),
    ("alg_hs256_not_listed", lambda m: m.hs256(), None, "the token's signing algorithm is not accepted here"),
    ("unknown_key", lambda m: m.rs256(headers={"kid": "nope"}), ["unknown_key"],
     "the token was signed with a key that is not known here"),
    ("bad_signature", lambda m: m.rs256(key=m.keys.other), ["bad_signature"], "the token's signature is not valid"),
    ("expired", lambda m: m.rs256(exp=int(time.time()) - 3600), ["expired"], "the token has expired"),
    ("not_yet_valid", lambda m: m.rs256(nbf=int(time.time()) + 3600), ["not_yet_valid"],
     "the token is not valid yet"),
    ("issuer_mismatch", lambda m: m.rs256(iss="https://evil.test/"), ["issuer_mismatch"],
     "the token's issuer is not accepted here"),
    ("aud_missing", lambda m: m.rs256(aud=DROP), ["aud_missing"], "the token has no audience"),
    ("aud_mismatch", lambda m: m.rs256(aud=GRAPH), ["aud_mismatch"], "the token's audience is not accepted here"),
    ("claim_invalid", lambda m: m.rs256(exp=DROP), ["claim_invalid"], "a claim in the token is not valid"),
    ("claim_invalid_string_exp", lambda m: m.rs256(exp="tomorrow"), ["claim_invalid"],
     "a claim in the token is not valid"),
]


# The hints each case's record carries (test_hints.py covers every hint).
# "abc.def" is no JWS at all: the module now says it looks like an opaque token.
CASE_HINTS = {"expired": ["expired"], "not_yet_valid": ["not_yet_valid"], "aud_mismatch": ["well_known_resource"],
              "malformed": ["opaque_token"]}


@pytest.mark.parametrize("name,factory,reasons,description", CASES, ids=[c[0] for c in CASES])
def test_reason(httpd, mint, name, factory, reasons, description):
    token = factory(mint) if factory else None
    offset = httpd.error_log_size()
    r = httpd.get("/users/x", token=token)
    assert r.status == 401
    assert r.header("WWW-Authenticate") == (invalid(description) if description else REALM)
    rec = httpd.audit_for(r.request_id)
    if reasons is None:
        # Which other checks fail too depends on the token; the one the
        # response names must be there.
        reasons = rec["reasons"]
        assert {"malformed", "alg_not_allowed"} & set(reasons), reasons
    check_record(rec, status=401, reasons=reasons, token=token, request_id=r.request_id,
                 hints=CASE_HINTS.get(name, []))
    check_rejection_env(r, "Users API", reasons)
    check_info_line(httpd, offset, "Users API", reasons, token)
    if token:
        assert token.encode() not in r.body


def test_token_facts_in_a_rejection_record(httpd, mint):
    token = mint.kid_rsa(aud=[GRAPH, "api://other"], sub="bob", azp=DROP, client_id="cli-1")
    r = httpd.get("/users/x", token=token)
    assert r.status == 401
    rec = httpd.audit_for(r.request_id)
    assert rec["aud"] == [GRAPH, "api://other"]
    assert rec["matched"] is None
    assert rec["iss"] == ISSUER
    assert rec["sub"] == "bob"
    assert rec["client"] == "cli-1"
    assert rec["alg"] == "RS256"
    assert rec["kid"] == "k-rsa"
    assert rec["typ"] == "JWT"
    assert isinstance(rec["exp"], int) and rec["exp"] > time.time()


def test_several_reasons_are_all_recorded(httpd, mint):
    token = mint.rs256(key=mint.keys.other, aud=GRAPH, exp=int(time.time()) - 3600, iss="https://evil.test/")
    r = httpd.get("/users/x", token=token)
    assert r.status == 401
    # A forged token is described as forged, whatever its claims say.
    assert r.header("WWW-Authenticate") == invalid("the token's signature is not valid")
    rec = httpd.audit_for(r.request_id)
    assert rec["reasons"] == ["bad_signature", "expired", "issuer_mismatch", "aud_mismatch"]
    assert r.backend_env()["REASON"] == "bad_signature,expired,issuer_mismatch,aud_mismatch"


def test_malformed_header_is_400(httpd, mint):
    for value in ("Bearer", "Bearer    ", "Bearer a b", f"Bearer {mint.rs256()} {mint.rs256()}", "bearer\tx y"):
        r = httpd.get("/users/x", authorization=value)
        assert r.status == 400, value
        assert r.header("WWW-Authenticate") == (
            f'{REALM}, error="invalid_request", '
            'error_description="the Authorization header must carry exactly one bearer token"')
        rec = httpd.audit_for(r.request_id)
        check_record(rec, status=400, reasons=["malformed"], request_id=r.request_id)


def test_two_authorization_headers_are_400(httpd, mint):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=10)
    try:
        conn.putrequest("GET", "/users/x")
        conn.putheader("Authorization", f"Bearer {mint.rs256()}")
        conn.putheader("Authorization", f"Bearer {mint.rs256()}")
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        assert r.status == 400
        assert 'error="invalid_request"' in r.getheader("WWW-Authenticate")
    finally:
        conn.close()


def test_other_scheme_counts_as_no_token(httpd):
    r = httpd.get("/users/x", authorization="Basic YWxpY2U6c2VjcmV0")
    assert r.status == 401
    assert r.header("WWW-Authenticate") == REALM
    assert httpd.audit_for(r.request_id)["reasons"] == ["no_token"]


def test_no_audience_configured(httpd, mint, expect_errors):
    expect_errors.append(r"\[auth_aud:error\] .*AUD0010: No Allow \(/noallow\) has AuthType Bearer but no AudAllow")
    offset = httpd.error_log_size()
    token = mint.rs256()
    r = httpd.get("/noallow/x", token=token)
    assert r.status == 401
    assert r.header("WWW-Authenticate") == ('Bearer realm="No Allow", error="invalid_token", '
                                            'error_description="this API is not configured to accept any token yet"')
    rec = httpd.audit_for(r.request_id)
    check_record(rec, api="No Allow", uri="/noallow/x", status=401, reasons=["no_audience_configured"], token=token,
                 request_id=r.request_id)
    time.sleep(0.1)
    log = httpd.error_log_since(offset)
    # An operator mistake shows at the default level, a client's never does.
    assert "[auth_aud:error]" in log and "AUD0010" in log


def test_keys_unavailable(httpd, mint, expect_errors):
    expect_errors.append(r"\[auth_aud:error\] .*AUD0011: No Keys \(/nokeys\) has AuthType Bearer but no "
                         r"verification keys")
    offset = httpd.error_log_size()
    token = mint.rs256()
    r = httpd.get("/nokeys/x", token=token)
    assert r.status == 503
    assert r.header("Retry-After") == "30"
    assert r.header("WWW-Authenticate") is None
    rec = httpd.audit_for(r.request_id)
    assert "keys_unavailable" in rec["reasons"]
    check_record(rec, api="No Keys", uri="/nokeys/x", status=503, reasons=rec["reasons"], token=token,
                 request_id=r.request_id)
    assert r.backend_env()["REASON"] == ",".join(rec["reasons"])
    time.sleep(0.1)
    assert "AUD0011" in httpd.error_log_since(offset)
    # Without a token the answer is still the plain challenge.
    r = httpd.get("/nokeys/x")
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Bearer realm="No Keys"'


def test_client_mistakes_stay_below_error_level(httpd, mint):
    offset = httpd.error_log_size()
    for token in (mint.rs256(aud=GRAPH), mint.rs256(key=mint.keys.other), "x.y.z", None):
        assert httpd.get("/users/x", token=token).status == 401
    time.sleep(0.1)
    log = httpd.error_log_since(offset)
    assert "AUD0101" in log
    for line in log.splitlines():
        if "auth_aud" in line or "AUD0" in line:
            assert "[auth_aud:info]" in line, line
