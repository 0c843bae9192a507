"""No identity from a refused token ever reaches a backend, in any mode.

Regression (hostile review): in audit mode a token that would be refused
(expired, or for another API) but whose signature verified reached a CGI as
REMOTE_USER=mallory and satisfied `Require user mallory`; and an SSI include
of an audit-mode location saw the main request's AUD_SUB, AUD_AUD and
REMOTE_USER."""
import time

import pytest

from conftest import Httpd, bearer

LOCATIONS = (
    bearer('/acgi', 'Audit CGI', 'AudMode audit', 'Require valid-user')
    + bearer('/amallory', 'Audit Mallory', 'AudMode audit', 'Require user mallory')
    + bearer('/aother', 'Other audit API', 'AudMode audit', 'Require valid-user', allow='api://other')
    + bearer('/ssi', 'Pages', 'Require valid-user')
)


@pytest.fixture(scope="module")
def id_httpd(workdir, keys):
    server = Httpd(workdir / "identity", keys, locations=LOCATIONS)
    server.extra = f"""
LoadModule include_module {server_modules()}/mod_include.so
ScriptAlias /acgi/ "{server.root}/cgi/"
ScriptAlias /amallory/ "{server.root}/cgi/"
ScriptAlias /aother/ "{server.root}/cgi/"
<Directory "{server.htdocs}/ssi">
    Options +Includes
    AddOutputFilter INCLUDES .shtml
</Directory>
"""
    server.write()
    page = server.htdocs / "ssi" / "page.shtml"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text('main\n<!--#include virtual="/aother/env.cgi" -->\nend\n')
    server.start()
    yield server
    server.stop()


def server_modules():
    from conftest import MODULES_DIR
    return MODULES_DIR


def cgi_env(body: bytes):
    return dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def test_refused_but_verified_token_is_nobody_in_audit_mode(id_httpd, mint):
    token = mint.rs256(sub="mallory", exp=int(time.time()) - 3600)
    r = id_httpd.get("/acgi/env.cgi", token=token)
    assert r.status == 200
    env = cgi_env(r.body)
    assert env["REMOTE_USER"] == "-" and env["AUD_DECISION"] == "audit_reject"
    assert "AUD_SUB" not in env and "AUD_CLIENT" not in env


def test_refused_token_satisfies_no_require_user(id_httpd, mint, expect_errors):
    expect_errors.append(r"AH01631: user -: authorization failure")
    ok = id_httpd.get("/amallory/env.cgi", token=mint.rs256(sub="mallory"))
    assert ok.status == 200 and cgi_env(ok.body)["REMOTE_USER"] == "mallory"
    r = id_httpd.get("/amallory/env.cgi", token=mint.rs256(sub="mallory", aud="api://other"))
    assert r.status in (401, 403)


def test_subrequest_does_not_inherit_the_main_requests_identity(id_httpd, mint):
    r = id_httpd.get("/ssi/page.shtml", token=mint.rs256(sub="alice"))
    assert r.status == 200, r.body
    assert b"main" in r.body and b"end" in r.body
    env = cgi_env(r.body)
    # The include ran at /aother, in audit mode, where this token's audience
    # is refused: decision and reasons, no identity.
    assert env["AUD_DECISION"] == "audit_reject" and env["AUD_API"] == "Other audit API"
    assert "AUD_SUB" not in env and "AUD_AUD" not in env and "AUD_ISS" not in env
    assert env.get("REMOTE_USER") in ("-", None)
