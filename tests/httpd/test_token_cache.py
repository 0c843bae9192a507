"""The token cache keeps refusals as well as acceptances (issue 12): a
refusal taken from it must be the very answer the verifier gave, and must
not outlive what made it true. Each test sends its requests on one
connection, so that they reach one child and its cache."""
import calendar
import http.client
import os
import time
from pathlib import Path

import pytest

from conftest import ISSUER, Httpd, bearer, check_error_log, start_server

LOCATIONS = (
    bearer("/tc", "Cache API", "AudLeeway 0", "AudErrorDetail On", f"AudIssuer {ISSUER}", "Require valid-user",
           allow="api://tc")
    + bearer("/tc-audit", "Cache Audit API", "AudMode audit", "Require valid-user", allow="api://tc")
    + bearer("/tc-other", "Other API", "Require valid-user", allow="api://other")
)


@pytest.fixture(scope="module")
def tc_httpd(workdir, keys):
    server = start_server(workdir, keys, "token-cache", LOCATIONS)
    yield server
    server.stop()


def on_one_connection(server, path, tokens):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        return [server.request(conn, path, token=t) for t in tokens]
    finally:
        conn.close()


def what_the_client_and_the_record_see(server, r):
    rec = server.audit_for(r.request_id)
    return (r.status, r.header("WWW-Authenticate"), r.backend_env().get("DECISION"),
            r.backend_env().get("SUB"), r.backend_env().get("HINT"),
            {k: rec[k] for k in ("status", "decision", "reasons", "hints", "aud", "token_id", "kid", "sub")})


@pytest.mark.parametrize("kind", ["other_api", "bad_signature", "issuer", "unknown_kid"])
def test_a_refusal_repeated_is_the_same_refusal(tc_httpd, mint, kind):
    token = {
        "other_api": lambda: mint.rs256(aud="api://other"),
        "bad_signature": lambda: mint.rs256(aud="api://tc", key=mint.keys.other),
        "issuer": lambda: mint.rs256(aud="api://tc", iss="https://elsewhere.test/"),
        "unknown_kid": lambda: mint.rs256(aud="api://tc", headers={"kid": "nobody"}),
    }[kind]()
    seen = [what_the_client_and_the_record_see(tc_httpd, r) for r in on_one_connection(tc_httpd, "/tc/x", [token] * 4)]
    assert seen[0][0] == 401 and seen[0][1].startswith("Bearer ") and 'error="invalid_token"' in seen[0][1]
    assert seen[0][5]["decision"] == "reject" and seen[0][5]["reasons"] != []
    if kind == "other_api":
        # The hint that names the other API survives the cache, in the
        # record and in the AudErrorDetail description.
        assert "other_api" in [h["code"] for h in seen[0][5]["hints"]]
        assert "Other API" in seen[0][1]
    assert all(s == seen[0] for s in seen[1:]), seen


def test_an_audit_mode_refusal_from_the_cache_still_carries_no_identity(tc_httpd, mint):
    token = mint.rs256(aud="api://other", sub="alice")
    for r in on_one_connection(tc_httpd, "/tc-audit/x", [token] * 3):
        env = r.backend_env()
        assert r.status == 200 and env["DECISION"] == "audit_reject" and env["REASON"] == "aud_mismatch"
        assert env["SUB"] == "(null)" and env["AUD"] == "(null)"
        assert tc_httpd.audit_for(r.request_id)["decision"] == "audit_reject"


def test_a_refusal_is_judged_again_once_the_token_has_expired(tc_httpd, mint):
    # A refusal for the audience is remembered only until the token's exp
    # (leeway 0 here): after that, the same token is refused for having
    # expired as well, as the verifier would say.
    exp = int(time.time()) + 2
    token = mint.rs256(aud="api://other", exp=exp)
    conn = http.client.HTTPConnection("127.0.0.1", tc_httpd.port, timeout=10)
    try:
        first = tc_httpd.request(conn, "/tc/x", token=token)
        assert tc_httpd.audit_for(first.request_id)["reasons"] == ["aud_mismatch"]
        time.sleep(max(0.0, exp - time.time()) + 0.3)
        later = tc_httpd.request(conn, "/tc/x", token=token)
        assert later.status == 401
        assert sorted(tc_httpd.audit_for(later.request_id)["reasons"]) == ["aud_mismatch", "expired"]
    finally:
        conn.close()


def test_a_verdict_belongs_to_the_location_that_reached_it(tc_httpd, mint):
    # Refused at /tc and accepted at /tc-other, alternately on one
    # connection: neither answer leaks into the other location.
    token = mint.rs256(aud="api://other", sub="bob")
    conn = http.client.HTTPConnection("127.0.0.1", tc_httpd.port, timeout=10)
    try:
        for _ in range(3):
            refused = tc_httpd.request(conn, "/tc/x", token=token)
            accepted = tc_httpd.request(conn, "/tc-other/x", token=token)
            assert refused.status == 401
            assert accepted.status == 200 and accepted.backend_env()["SUB"] == "bob"
    finally:
        conn.close()


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


@pytest.mark.skipif(bool(os.environ.get("AUD_HTTPD_PRELOAD")),
                    reason="httpd does not start with both libfaketime and the sanitizer runtime preloaded; "
                           "the run with the plain module covers this")
def test_an_acceptance_that_ran_out_is_not_stretched_by_the_refusal_after_it(workdir, keys, mint):
    # Pins: an AudAllowUntil audience, accepted and cached on its last day,
    # is refused from the next day on; the refusal then replaces the old
    # acceptance in the cache. An early version of the refusal cache kept
    # the old entry and gave it the refusal's expiry, so the next request
    # was accepted again from the cache. httpd runs on a clock (libfaketime)
    # that reaches midnight five seconds after it starts.
    assert FAKETIME.exists(), "libfaketime is missing: scripts/deps installs it"
    start = calendar.timegm((2026, 12, 31, 23, 59, 55))
    server = Httpd(workdir / "sunset", keys,
                   locations=bearer("/sunset", "Sunset API", "AudAllowUntil 2026-12-31 api://sunset",
                                    "Require valid-user", allow="api://tc"))
    server.extra_env = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": "@2026-12-31 23:59:55",
                        "FAKETIME_DONT_RESET": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    started = time.time()
    server.start()
    try:
        token = mint.rs256(aud="api://sunset", iat=start - 60, exp=start + 3600)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            last_day = server.request(conn, "/sunset/x", token=token)
            assert time.time() - started < 4.5, "too slow to ask before midnight"
            assert last_day.status == 200, last_day.body
            hints = [h["code"] for h in server.audit_for(last_day.request_id)["hints"]]
            assert hints == ["deprecated_audience"], hints
            time.sleep(max(0.0, started + 6.0 - time.time()))
            after = [server.request(conn, "/sunset/x", token=token) for _ in range(3)]
        finally:
            conn.close()
        assert [r.status for r in after] == [401, 401, 401]
        for r in after:
            rec = server.audit_for(r.request_id)
            assert rec["reasons"] == ["aud_mismatch"] and rec["decision"] == "reject"
        check_error_log(server.error_log.read_text(), [])
    finally:
        server.stop()
