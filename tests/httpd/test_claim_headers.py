"""Identity for backends: AudClaimHeader and AudClaimEnv, which no client
can spoof (the CVE-2017-6062 / CVE-2017-6413 class: Aud-Sub, AUD_SUB and
aud_sub all become HTTP_AUD_SUB for CGI), with hostile values
percent-encoded so that no header is ever split."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import Httpd, MODULES_DIR, bearer, free_port

LOCATIONS = (
    bearer('/cgi-claims', 'CGI claims', 'AudClaimHeader sub Aud-Sub', 'AudClaimHeader /realm_access/roles X-Roles', 'AudClaimEnv email CLAIM_EMAIL', 'AudClaimEnv name HTTP_X_NAME', 'Require valid-user')
    + bearer('/audit-claims', 'Audit claims', 'AudMode audit', 'AudClaimHeader sub Aud-Sub', 'AudClaimEnv email CLAIM_EMAIL', 'Require valid-user')
    + bearer('/proxied', 'Proxied', 'AudClaimHeader sub X-User-Sub', 'AudClaimHeader groups X-User-Groups', 'AudClaimHeader name X-User-Name', 'Require valid-user')
)


class EchoBackend:
    """Answers every request with the headers it received, as JSON."""

    def __init__(self):
        self.port = free_port()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def backend():
    b = EchoBackend()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def claims_httpd(workdir, keys, backend):
    server = Httpd(workdir / "claim-headers", keys, locations=LOCATIONS)
    server.extra = f"""
LoadModule proxy_module {MODULES_DIR}/mod_proxy.so
LoadModule proxy_http_module {MODULES_DIR}/mod_proxy_http.so
ScriptAlias /cgi-claims/ "{server.root}/cgi/"
ScriptAlias /audit-claims/ "{server.root}/cgi/"
ProxyPass /proxied http://127.0.0.1:{backend.port}/echo
"""
    server.write()
    (server.root / "cgi" / "all.cgi").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv | sort\n")
    (server.root / "cgi" / "all.cgi").chmod(0o755)
    server.start()
    yield server
    server.stop()


SPOOFS = {"Aud-Sub": "admin", "AUD_SUB": "admin", "aud_sub": "admin", "aud-SUB": "admin",
          "X-Roles": "admin", "x_roles": "admin", "Claim-Email": "evil@x", "X-Name": "forged", "x_name": "forged"}


def cgi_env(r):
    return dict(line.split("=", 1) for line in r.body.decode().splitlines() if "=" in line)


def spoofed_get(server, path, token=None):
    # http.client refuses header names with "_"? It does not; but send
    # them on one connection as raw headers to be sure every spelling goes.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path)
        if token:
            conn.putheader("Authorization", f"Bearer {token}")
        for k, v in SPOOFS.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        from conftest import Response
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def test_accepted_token_claims_reach_cgi_and_spoofs_do_not(claims_httpd, mint):
    token = mint.rs256(sub="alice", email="alice@example.test", name="Alice",
                       realm_access={"roles": ["user", "admin"]})
    r = spoofed_get(claims_httpd, "/cgi-claims/all.cgi", token)
    assert r.status == 200
    env = cgi_env(r)
    assert env["HTTP_AUD_SUB"] == "alice"
    assert env["HTTP_X_ROLES"] == '["user","admin"]'
    assert env["CLAIM_EMAIL"] == "alice@example.test"
    assert env["HTTP_X_NAME"] == "Alice"
    assert "admin" not in env["HTTP_AUD_SUB"] and "forged" not in env["HTTP_X_NAME"]


@pytest.mark.parametrize("token_kind", ["none", "refused"])
def test_spoofs_are_removed_without_an_accepted_token(claims_httpd, mint, token_kind):
    token = None if token_kind == "none" else mint.rs256(aud="api://other")
    r = spoofed_get(claims_httpd, "/audit-claims/all.cgi", token)
    assert r.status == 200  # audit mode lets it through
    env = cgi_env(r)
    assert not any(k in env for k in ("HTTP_AUD_SUB", "CLAIM_EMAIL")), env
    assert env["REMOTE_USER"] == "-"


def test_audit_mode_accepted_token_sets_claims(claims_httpd, mint):
    r = spoofed_get(claims_httpd, "/audit-claims/all.cgi", mint.rs256(sub="alice", email="a@x"))
    env = cgi_env(r)
    assert env["HTTP_AUD_SUB"] == "alice" and env["CLAIM_EMAIL"] == "a@x"


def test_proxied_backend_gets_encoded_values(claims_httpd, mint):
    token = mint.rs256(sub="alice\r\nX-Injected: 1", groups=["a", "b"], name="Jos\u00e9 100%")
    r = claims_httpd.get("/proxied", token=token, headers={"X-User-Sub": "admin", "X_User_Sub": "admin"})
    assert r.status == 200, r.body
    got = json.loads(r.body)
    headers = {}
    for k, v in got:
        headers.setdefault(k.lower(), []).append(v)
    assert headers["x-user-sub"] == ["alice%0D%0AX-Injected: 1"]
    assert "x-injected" not in headers and "x_user_sub" not in headers
    assert headers["x-user-groups"] == ['["a","b"]']
    assert headers["x-user-name"] == ["Jos%C3%A9 100%25"]


def test_bad_claim_header_names_stop_httpd_t(workdir, keys):
    import subprocess
    from conftest import APACHE2, httpd_env
    h = Httpd(workdir / "claim-headers-t", keys, locations="""<Location /t>
    AuthType Bearer
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    AudClaimHeader sub "X User"
    Require valid-user
</Location>
""")
    h.write()
    p = subprocess.run([APACHE2, "-t", "-f", str(h.conf)], capture_output=True, text=True, timeout=60, env=httpd_env())
    assert p.returncode != 0 and "AudClaimHeader: 'X User' is not a valid header name" in p.stdout + p.stderr
