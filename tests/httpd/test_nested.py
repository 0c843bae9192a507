"""Nested <Location> sections inherit and override like core directives;
two APIs on one server keep their own audiences."""
import time

import pytest

from conftest import GRAPH


def status_and_reason(httpd, path, token):
    r = httpd.get(path, token=token)
    return r.status, r.backend_env()["REASON"], r.backend_env()["API"]


def test_two_apis_different_audiences(httpd, mint):
    users, invoices = mint.rs256(aud="api://users"), mint.rs256(aud="api://invoices")
    assert httpd.get("/users/x", token=users).status == 200
    r = httpd.get("/users/x", token=invoices)
    assert r.status == 401 and r.backend_env()["REASON"] == "aud_mismatch"
    r = httpd.get("/invoices/x", token=invoices)
    assert r.status == 200 and r.backend_env()["DECISION"] == "accept" and r.backend_env()["AUD"] == "api://invoices"
    # Audit mode: passes, but recorded as a rejection.
    r = httpd.get("/invoices/x", token=users)
    assert r.status == 200 and r.backend_env()["DECISION"] == "audit_reject"


def test_base_location(httpd, mint):
    assert status_and_reason(httpd, "/api/x", mint.rs256(aud="api://base")) == (200, "ok", "Base API")
    # AudAllow repeated in one section adds.
    assert status_and_reason(httpd, "/api/x", mint.rs256(aud="api://base2")) == (200, "ok", "Base API")
    assert status_and_reason(httpd, "/api/x", mint.rs256(aud="api://orders"))[:2] == (401, "aud_mismatch")


def test_child_overrides_audience_and_inherits_the_rest(httpd, mint):
    path = "/api/orders/x"
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders")) == (200, "ok", "Orders API")
    # Lists replace across sections: the parent's audiences are gone here.
    assert status_and_reason(httpd, path, mint.rs256(aud="api://base"))[:2] == (401, "aud_mismatch")
    # Keys and issuer come from /api.
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders", iss="https://evil.test/"))[:2] == (
        401, "issuer_mismatch")
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders", key=mint.keys.other))[:2] == (
        401, "bad_signature")
    # The default leeway of 60 s applies here ...
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders", exp=int(time.time()) - 5))[0] == 200


def test_grandchild_combines_three_sections(httpd, mint):
    path = "/api/orders/strict/x"
    # Audience from /api/orders, keys and issuer from /api, leeway and size
    # limit its own.
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders")) == (200, "ok", "Orders API")
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders", exp=int(time.time()) - 5))[:2] == (
        401, "expired")
    assert status_and_reason(httpd, path, mint.rs256(aud="api://orders", pad="p" * 1100))[:2] == (401, "malformed")
    assert status_and_reason(httpd, path, mint.rs256(aud="api://base"))[:2] == (401, "aud_mismatch")


def test_child_changes_mode_only(httpd, mint):
    path = "/api/audited/x"
    r = httpd.get(path, token=mint.rs256(aud="api://base"))
    assert r.status == 200 and r.backend_env()["DECISION"] == "accept"
    assert r.backend_env()["API"] == "Base API"
    r = httpd.get(path, token=mint.rs256(aud=GRAPH))
    assert r.status == 200 and r.backend_env()["DECISION"] == "audit_reject"
    rec = httpd.audit_for(r.request_id)
    assert rec["mode"] == "audit" and rec["reasons"] == ["aud_mismatch"]
    # The parent still enforces.
    assert httpd.get("/api/x", token=mint.rs256(aud=GRAPH)).status == 401


def test_child_replaces_keys_and_algorithms(httpd, mint):
    path = "/api/es-only/x"
    assert status_and_reason(httpd, path, mint.es256(aud="api://base"))[:2] == (200, "ok")
    # RS256 is no longer allowed, even with a key the child's JWKS holds.
    assert "alg_not_allowed" in status_and_reason(httpd, path, mint.kid_rsa(aud="api://base"))[1]
    assert "alg_not_allowed" in status_and_reason(httpd, path, mint.rs256(aud="api://base"))[1]
    # ... and the parent is unaffected.
    assert status_and_reason(httpd, "/api/x", mint.rs256(aud="api://base"))[:2] == (200, "ok")
    assert status_and_reason(httpd, "/api/x", mint.es256(aud="api://base"))[:2] == (401, "unknown_key")


def test_child_turns_authentication_off(httpd, mint):
    r = httpd.get("/api/public/x")
    assert r.status == 200 and r.backend_env()["DECISION"] == "(null)"


@pytest.mark.parametrize("round_", range(3))
def test_repeated_nested_requests_are_stable(httpd, mint, round_):
    # The combined verifier is built once per process and reused; repeating
    # must not change any answer.
    for _ in range(20):
        assert httpd.get("/api/orders/strict/x", token=mint.rs256(aud="api://orders")).status == 200
        assert httpd.get("/api/orders/strict/x", token=mint.rs256(aud="api://base")).status == 401


def test_cached_acceptance_ends_when_the_token_expires(httpd, mint):
    # Leeway 0 here: the token stops being valid at exp, cached or not.
    token = mint.rs256(aud="api://orders", exp=int(time.time()) + 2)
    for _ in range(5):
        assert httpd.get("/api/orders/strict/x", token=token).status == 200
    time.sleep(3.2)
    r = httpd.get("/api/orders/strict/x", token=token)
    assert r.status == 401 and r.backend_env()["REASON"] == "expired"


def test_cached_acceptance_is_identical(httpd, mint):
    token = mint.rs256(aud="api://orders", scp=["s1", "s2"], scope=None)
    responses = [httpd.get("/api/orders/x", token=token) for _ in range(6)]
    records = [httpd.audit_for(r.request_id) for r in responses]
    for r in responses:
        assert r.status == 200
        assert r.backend_env() == responses[0].backend_env()
        assert r.header("X-User") == "alice"
    strip = ("time", "request_id")
    assert all({k: v for k, v in rec.items() if k not in strip} ==
               {k: v for k, v in records[0].items() if k not in strip} for rec in records)
    # The same token under other settings is judged by those settings.
    assert httpd.get("/api/x", token=token).status == 401
    assert httpd.get("/api/orders/x", token=token).status == 200
