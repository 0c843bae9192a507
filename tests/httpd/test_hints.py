"""Diagnostics through a real server: every hint in the audit record, the
info log line, AUD_HINT and (with AudErrorDetail on) the client's
error_description; hints never change a decision; AudAllowUntil before, on
and after its date; start-up lint for bad and good configurations."""
import datetime
import subprocess
import time

import pytest

from conftest import APACHE2, DROP, GRAPH, ISSUER, Httpd, httpd_env

GUID = "6f1c2b3a-0000-4000-8000-000000000001"
TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-2222-3333-4444-555555555555"
AZURE_V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
AZURE_V1 = f"https://sts.windows.net/{TENANT}/"


def day(offset):
    return (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)).isoformat()


LOCATIONS = """
<Location /users>
    AuthType Bearer
    AuthName "Users API"
    AudAllow api://users
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /invoices>
    AuthType Bearer
    AudApiName "Invoices API"
    AudAllow https://api.example.com api://%(guid)s
    AudAllowUntil %(future)s legacy-audience
    AudAllowUntil %(today)s today-audience
    AudAllowUntil %(past)s retired-audience
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /azure>
    AuthType Bearer
    AuthName "Azure API"
    AudAllow api://azure
    AudIssuer %(azure_v2)s
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /detail>
    AuthType Bearer
    AuthName "Detail API"
    AudAllow https://api.example.com
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    AudErrorDetail on
    Require valid-user
</Location>
""" % {"guid": GUID, "future": day(30), "today": day(0), "past": day(-1), "azure_v2": AZURE_V2}

EXTRA = """
Header always set X-Env-Hint "%{AUD_HINT}e"
Header always set X-Env-Hint-Text "%{AUD_HINT_TEXT}e"
"""


@pytest.fixture(scope="module")
def hints_httpd(workdir, keys):
    server = Httpd(workdir / "hints", keys, locations=LOCATIONS, extra=EXTRA)
    server.start()
    yield server
    server.stop()


def refused(server, path, token, reasons, code):
    """The request is refused for exactly these reasons and carries the hint
    code in the record, AUD_HINT and the info line; returns the hint."""
    offset = server.error_log_size()
    r = server.get(path, token=token)
    assert r.status == 401
    rec = server.audit_for(r.request_id)
    assert rec["decision"] == "reject"
    assert rec["reasons"] == reasons
    codes = [h["code"] for h in rec["hints"]]
    assert code in codes, rec["hints"]
    env = r.backend_env()
    assert env["HINT"] == ",".join(codes)
    assert env["HINT_TEXT"] == rec["hints"][0]["text"]
    log = server.error_log_since(offset)
    lines = [line for line in log.splitlines() if "AUD0101: rejected" in line and rec["token_id"] in line]
    assert len(lines) == 1, log
    assert f"hints={','.join(codes)} " in lines[0]
    assert rec["hints"][0]["text"] in lines[0]
    return r, next(h for h in rec["hints"] if h["code"] == code)


NEAR_MISSES = [
    ("trailing_slash", "https://api.example.com/",
     "aud 'https://api.example.com/' differs from the allowed 'https://api.example.com' only by a trailing slash"),
    ("scheme", "http://api.example.com",
     "aud 'http://api.example.com' differs from the allowed 'https://api.example.com' only by its scheme"),
    ("scheme", "api.example.com",
     "aud 'api.example.com' differs from the allowed 'https://api.example.com' only by its scheme"),
    ("case", "https://API.example.com",
     "aud 'https://API.example.com' differs from the allowed 'https://api.example.com' only by letter case"),
    ("default_port", "https://api.example.com:443",
     "aud 'https://api.example.com:443' differs from the allowed 'https://api.example.com' only by an explicit "
     "default port"),
    ("whitespace", "https://api.example.com ",
     "aud 'https://api.example.com ' differs from the allowed 'https://api.example.com' only by surrounding "
     "whitespace"),
]


@pytest.mark.parametrize("code,aud,text", NEAR_MISSES, ids=[f"{c}-{a}" for c, a, _ in NEAR_MISSES])
def test_near_miss_audiences_are_named_but_still_refused(hints_httpd, mint, code, aud, text):
    r, hint = refused(hints_httpd, "/invoices/x", mint.rs256(aud=aud), ["aud_mismatch"], code)
    assert hint["text"] == text
    assert hint["allowed"] == "https://api.example.com"
    # Off by default: the client sees only the generic description.
    assert r.header("WWW-Authenticate") == ('Bearer realm="Invoices API", error="invalid_token", '
                                            'error_description="the token\'s audience is not accepted here"')


def test_azure_v1_guid_where_the_api_uri_is_allowed(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/invoices/x", mint.rs256(aud=GUID, ver="1.0"), ["aud_mismatch"],
                      "azure_guid_vs_uri")
    assert f"api://{GUID}" in hint["text"] and "ver 1.0" in hint["text"]
    assert hint["ver"] == "1.0"


def test_token_for_another_api_on_this_server(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/invoices/x", mint.rs256(aud="api://users"), ["aud_mismatch"], "other_api")
    assert hint["text"] == "this token was minted for 'Users API', not 'Invoices API' (aud 'api://users')"
    assert hint["api"] == "Users API"


def test_microsoft_graph_token(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(aud=GRAPH), ["aud_mismatch"], "well_known_resource")
    assert hint["text"].startswith("the token is a Microsoft Graph token; request a token for this API's audience")
    assert hint["resource"] == "Microsoft Graph"


def test_id_token(hints_httpd, mint):
    token = mint.rs256(aud="client-app", azp="client-app", nonce="n-1", scope=DROP)
    _, hint = refused(hints_httpd, "/users/x", token, ["aud_mismatch"], "id_token")
    assert hint["text"] == "an ID token was sent where an access token is expected"


def test_client_id_as_audience(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(aud="client-app"), ["aud_mismatch"], "client_id_as_aud")
    assert "its own client id 'client-app'" in hint["text"]


def test_issuer_trailing_slash(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(iss=ISSUER + "/"), ["issuer_mismatch"],
                      "issuer_trailing_slash")
    assert ISSUER in hint["text"]


def test_issuer_of_another_api(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/azure/x", mint.rs256(aud="api://azure"), ["issuer_mismatch"],
                      "issuer_other_api")
    assert "'Users API'" in hint["text"] and "'Azure API'" in hint["text"]


def test_azure_v1_issuer_where_v2_is_allowed(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/azure/x", mint.rs256(aud="api://azure", iss=AZURE_V1), ["issuer_mismatch"],
                      "azure_v1_v2_issuer")
    assert "v1 issuer of the same tenant" in hint["text"]


def test_azure_issuer_of_another_tenant(hints_httpd, mint):
    iss = f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    _, hint = refused(hints_httpd, "/azure/x", mint.rs256(aud="api://azure", iss=iss), ["issuer_mismatch"],
                      "issuer_other_tenant")
    assert OTHER_TENANT in hint["text"] and TENANT in hint["text"]


def test_expired_says_how_long_ago(hints_httpd, mint):
    ago = 3 * 3600 + 12 * 60 + 30
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(exp=int(time.time()) - ago), ["expired"], "expired")
    assert "expired 3 h 12 min ago" in hint["text"]
    assert abs(hint["seconds"] - ago) <= 5


def test_not_yet_valid_mentions_clock_skew_when_close(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(nbf=int(time.time()) + 150), ["not_yet_valid"],
                      "not_yet_valid")
    assert "clock skew" in hint["text"]
    _, hint = refused(hints_httpd, "/users/x", mint.rs256(nbf=int(time.time()) + 7200), ["not_yet_valid"],
                      "not_yet_valid")
    assert "clock skew" not in hint["text"]


def test_error_detail_tells_the_client(hints_httpd, mint):
    r = hints_httpd.get("/detail/x", token=mint.rs256(aud="https://api.example.com/"))
    assert r.status == 401
    assert r.header("WWW-Authenticate") == (
        'Bearer realm="Detail API", error="invalid_token", error_description="the token\'s audience is not accepted '
        "here: aud 'https://api.example.com/' differs from the allowed 'https://api.example.com' only by a "
        'trailing slash"')


def test_error_detail_keeps_hostile_values_harmless(hints_httpd, mint):
    hostile = 'https://api.example.com/"\r\nX-Evil: 1\\' + "\u00e9" + "x" * 500
    r = hints_httpd.get("/detail/x", token=mint.rs256(aud=hostile, azp=hostile))
    assert r.status == 401
    value = r.header("WWW-Authenticate")
    description = value.split('error_description="', 1)[1]
    assert description.endswith('"')
    body = description[:-1]
    # RFC 6750 section 3: printable ASCII without '"' and '\'.
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in body), body
    assert "x-evil" not in {k.lower() for k in r.headers}
    assert len(body) < 600


def test_allowance_in_force_accepts_and_records_the_deadline(hints_httpd, mint):
    token = mint.rs256(aud="legacy-audience")
    for attempt in range(2):  # the second answer may come from the token cache
        offset = hints_httpd.error_log_size()
        r = hints_httpd.get("/invoices/x", token=token)
        assert r.status == 200, attempt
        rec = hints_httpd.audit_for(r.request_id)
        assert rec["decision"] == "accept" and rec["reasons"] == [] and rec["matched"] == "legacy-audience"
        assert [h["code"] for h in rec["hints"]] == ["deprecated_audience"]
        assert rec["hints"][0]["until"] == day(30)
        assert r.backend_env()["HINT"] == "deprecated_audience"
        assert "AUD0104: accepted with hints" in hints_httpd.error_log_since(offset)


def test_allowance_covers_its_whole_last_day(hints_httpd, mint):
    r = hints_httpd.get("/invoices/x", token=mint.rs256(aud="today-audience"))
    assert r.status == 200
    assert hints_httpd.audit_for(r.request_id)["hints"][0]["until"] == day(0)


def test_allowance_that_ended_is_refused_and_says_so(hints_httpd, mint):
    _, hint = refused(hints_httpd, "/invoices/x", mint.rs256(aud="retired-audience"), ["aud_mismatch"],
                      "allowance_ended")
    assert hint["until"] == day(-1)
    assert f"accepted only until {day(-1)}" in hint["text"]


def test_accepted_token_has_no_hints(hints_httpd, mint):
    r = hints_httpd.get("/invoices/x", token=mint.rs256(aud="https://api.example.com"))
    assert r.status == 200
    assert hints_httpd.audit_for(r.request_id)["hints"] == []
    assert r.backend_env()["HINT"] == "(null)"


# ---------------------------------------------------------------- lint

def config_check(workdir, keys, name, body):
    root = workdir / "lint" / name
    h = Httpd(root, keys, locations=body)
    h.write()
    p = subprocess.run([APACHE2, "-t", "-f", str(h.conf)], capture_output=True, text=True, timeout=60,
                       env=httpd_env())
    assert p.returncode == 0, p.stdout + p.stderr
    lines = h.conf.read_text().splitlines()
    return [line for line in (p.stdout + p.stderr).splitlines() if "AUD0020" in line], h.conf, lines


def line_of(lines, needle):
    return next(i + 1 for i, line in enumerate(lines) if needle in line)


def test_lint_warns_about_likely_mistakes(workdir, keys):
    body = f"""
<Location /lint>
    AuthType Bearer
    AudAllow https://api.example.com https://api.example.com/ "  api://padded" https://graph.microsoft.com
    AudAllow {GUID} API://x api://x
    AudAllowUntil {day(5)} soon-audience
    AudAllowUntil {day(-3)} gone-audience
    AudKeyFile {keys.dir}/rsa.pem
    Require valid-user
</Location>
"""
    warnings, conf, lines = config_check(workdir, keys, "bad", body)
    text = "\n".join(warnings)
    allow_line = line_of(lines, "AudAllow https://api.example.com")
    keys_line = line_of(lines, "AudKeyFile")
    assert all(f"{conf}:{allow_line}: in <Location /lint>" in w for w in warnings if "AudIssuer" not in w), text
    for needle in ["'https://api.example.com' and 'https://api.example.com/' differ only by a trailing slash",
                   "'API://x' and 'api://x' differ only by letter case",
                   "'  api://padded' has surrounding whitespace",
                   "this location accepts Microsoft Graph tokens",
                   f"'{GUID}' is allowed without its api:// twin",
                   f"ends on {day(5)}, within 14 days",
                   f"ended on {day(-3)}"]:
        assert needle in text, f"{needle!r} not in\n{text}"
    assert f"{conf}:{keys_line}: in <Location /lint>: keys but no AudIssuer" in text


def test_lint_is_quiet_for_a_good_configuration(workdir, keys):
    body = f"""
<Location /good>
    AuthType Bearer
    AudAllow https://api.example.com api://{GUID} {GUID}
    AudAllowUntil {day(60)} legacy
    AudIssuer {ISSUER}
    AudKeyFile {keys.dir}/rsa.pem
    Require valid-user
</Location>
"""
    warnings, _, _ = config_check(workdir, keys, "good", body)
    assert warnings == []


def test_lint_runs_at_start_up_too(hints_httpd):
    log = hints_httpd.error_log.read_text()
    assert "AUD0020" in log and f"retired-audience' ended on {day(-1)}" in log
