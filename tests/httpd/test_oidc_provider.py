"""Interoperability: tokens from a real OpenID provider and from node `jose`.

The provider is panva's oidc-provider (tests/interop/provider.mjs, pinned in
tests/interop/package-lock.json, installed by scripts/deps) on 127.0.0.1. It
issues RFC 9068 JWT access tokens for RFC 8707 resources through the
client_credentials grant; httpd finds its keys through AudDiscovery, as an
operator would configure it. The provider rotates its signing key on request
(a test-only endpoint of the script), and httpd is never restarted.

The ID token is not obtained through a login flow: the script signs an
ID-token-shaped JWT (aud = the client id, nonce, at_hash of a real access
token, auth_time, iss = the provider) with the provider's own current key.
A code flow would need login and consent interactions that exercise the
provider, not the module; the module sees only the signed token.

Tokens minted by node `jose` (tests/interop/mint.mjs; RS256, ES256, EdDSA)
check signatures made by a second implementation independent of PyJWT,
against a JWKS given with AudKeyFile.

Nothing here talks to any address other than 127.0.0.1."""
import base64
import http.client
import json
import os
import select
import shutil
import subprocess
import time
import urllib.parse

import pytest

from conftest import SRCDIR, Httpd, check_error_log

INTEROP = SRCDIR / "tests" / "interop"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip("node (Node.js) is not installed: scripts/deps does not install it; the interoperability "
                "tests with oidc-provider and jose need it", allow_module_level=True)

CLIENT_ID = "orders-client"
JOSE_ISSUER = "https://jose.test/"
JOSE_AUD = "api://jose"

EXTRA = """
Header always set X-Env-Hint "%{AUD_HINT}e"
Header always set X-Env-Hint-Text "%{AUD_HINT_TEXT}e"
"""


def segment(token, index):
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def node_modules_present():
    return all((INTEROP / "node_modules" / name / "package.json").exists() for name in ("oidc-provider", "jose"))


class OpenIdProvider:
    """tests/interop/provider.mjs as a child process. It exits when its stdin
    closes, so even a killed test run cannot leave it behind."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.secret = base64.urlsafe_b64encode(os.urandom(24)).rstrip(b"=").decode()
        self.proc = None
        self.port = None

    @property
    def issuer(self):
        self.wait_ready()
        return f"http://127.0.0.1:{self.port}"

    def launch(self):
        """Starts the script; wait_ready() waits for it, so that other
        start-up work (minting with jose) can run meanwhile."""
        env = dict(os.environ, OIDC_CLIENT_SECRET=self.secret, NODE_NO_WARNINGS="1")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NODE, str(INTEROP / "provider.mjs")], cwd=INTEROP, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)

    def wait_ready(self):
        if self.port is not None:
            return
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("port="):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start:\n{self.log_path.read_text(errors='replace')}")
        self.port = int(line.split("=", 1)[1])

    def stop(self):
        if self.proc is None:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        self.log.close()

    def _post(self, path, body: bytes, content_type):
        self.wait_ready()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": content_type})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            conn.close()

    def token(self, resource, scope=None):
        """A JWT access token for one resource (client_credentials, RFC 8707)."""
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": self.secret,
                "resource": resource}
        if scope:
            form["scope"] = scope
        status, body = self._post("/token", urllib.parse.urlencode(form).encode(),
                                  "application/x-www-form-urlencoded")
        assert status == 200, body
        return body["access_token"]

    def rotate(self):
        status, body = self._post("/__test/rotate", b"{}", "application/json")
        assert status == 200, body
        return body["kid"]

    def id_token(self, access_token):
        status, body = self._post("/__test/id-token", json.dumps({"access_token": access_token}).encode(),
                                  "application/json")
        assert status == 200, body
        return body["id_token"]


def mint_with_jose(jwks_path, requests):
    """Tokens signed by node jose; writes their public JWKS to jwks_path."""
    out = subprocess.run([NODE, str(INTEROP / "mint.mjs"), str(jwks_path)], cwd=INTEROP,
                         input=json.dumps({"tokens": requests}).encode(), capture_output=True, timeout=60,
                         env=dict(os.environ, NODE_NO_WARNINGS="1"))
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return json.loads(out.stdout)


def locations(issuer, jose_jwks):
    api = """
<Location /{path}>
    AuthType Bearer
    AudApiName "{name}"
    AudAllow {aud}
{keys}
    Require valid-user
</Location>
"""
    remote = f"    AudDiscovery {issuer}\n    AudKeyRefreshMin 1"
    text = (api.format(path="orders", name="Orders API", aud="api://orders", keys=remote)
            + api.format(path="invoices", name="Invoices API", aud="api://invoices", keys=remote)
            + api.format(path="jose", name="Jose API", aud=JOSE_AUD,
                         keys=f"    AudIssuer {JOSE_ISSUER}\n    AudKeyFile {jose_jwks}"))
    # Httpd formats the text with {issuer} and {keys}; none are used here.
    return text.replace("{", "{{").replace("}", "}}")


@pytest.fixture(scope="module")
def op(workdir):
    if not node_modules_present():
        pytest.fail(f"oidc-provider and jose are not installed in {INTEROP}/node_modules: run scripts/deps")
    root = workdir / "oidc"
    root.mkdir(exist_ok=True)
    provider = OpenIdProvider(root / "provider-stderr.txt")
    provider.launch()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def jose_tokens(workdir, mint, op):  # op: the provider starts meanwhile
    now = int(time.time())
    base = {"iss": JOSE_ISSUER, "aud": JOSE_AUD, "sub": "alice", "azp": "jose-client", "scope": "read",
            "iat": now, "exp": now + 900}
    requests = [{"name": alg, "alg": alg, "claims": base} for alg in ("RS256", "ES256", "EdDSA")]
    requests.append({"name": "foreign", "alg": "ES256", "claims": dict(base, aud="api://elsewhere")})
    requests.append({"name": "list", "alg": "EdDSA", "claims": dict(base, aud=["api://elsewhere", JOSE_AUD])})
    keys_dir = workdir / "oidc" / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    jwks = keys_dir / "jose-jwks.json"
    tokens = mint_with_jose(jwks, requests)
    # test_zz_no_secrets checks that none of them reached any log.
    mint.issued.extend(tokens.values())
    return {"jwks": jwks, "tokens": tokens}


@pytest.fixture(scope="module")
def oidc_httpd(workdir, keys, op, jose_tokens):
    op.wait_ready()
    server = Httpd(workdir / "oidc" / "server", keys, locations=locations(op.issuer, jose_tokens["jwks"]),
                   extra=EXTRA)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def oidc_error_log_guard(request, expect_errors):
    """The conftest guard knows only its own server fixtures; this one checks
    this file's server the same way."""
    if "oidc_httpd" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("oidc_httpd")
    offset = server.error_log_size()
    yield
    time.sleep(0.05)
    check_error_log(server.error_log_since(offset), expect_errors)


@pytest.fixture
def fetch(op, mint):
    """Access tokens from the provider, tracked for test_zz_no_secrets."""

    def get(resource, scope=None):
        token = op.token(resource, scope)
        mint.issued.append(token)
        return token

    return get


def refused(server, path, token, reasons):
    r = server.get(path, token=token)
    assert r.status == 401, r.body
    assert 'error="invalid_token"' in r.header("WWW-Authenticate")
    rec = server.audit_for(r.request_id)
    assert rec["decision"] == "reject"
    assert rec["reasons"] == reasons
    codes = [h["code"] for h in rec["hints"]]
    # AUD_HINT is unset ("(null)" through mod_headers) when there is none.
    assert r.backend_env()["HINT"] == (",".join(codes) or "(null)")
    return r, rec, codes


# -------------------------------------------------------------------- tests

def test_provider_access_token_is_accepted_by_its_api(oidc_httpd, op, fetch):
    token = fetch("api://orders", "orders.read")
    header, claims = segment(token, 0), segment(token, 1)
    # What oidc-provider issues: an RFC 9068 access token for the resource.
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header.get("kid")
    assert claims["aud"] == "api://orders" and claims["iss"] == op.issuer
    r = oidc_httpd.get("/orders/x", token=token)
    assert r.status == 200, r.body
    rec = oidc_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept"
    assert rec["matched"] == "api://orders"
    assert rec["iss"] == op.issuer
    assert rec["kid"] == header["kid"]
    assert rec["client"] == CLIENT_ID
    assert r.backend_env()["ISS"] == op.issuer


def test_provider_access_token_for_another_api_is_refused_with_other_api_hint(oidc_httpd, fetch):
    token = fetch("api://orders")
    _, rec, codes = refused(oidc_httpd, "/invoices/x", token, ["aud_mismatch"])
    assert "other_api" in codes, rec["hints"]
    hint = next(h for h in rec["hints"] if h["code"] == "other_api")
    assert hint["api"] == "Orders API"
    assert "'Orders API'" in hint["text"] and "'Invoices API'" in hint["text"]
    # The token the provider issued for the Invoices API is fine there.
    r = oidc_httpd.get("/invoices/x", token=fetch("api://invoices"))
    assert r.status == 200
    assert oidc_httpd.audit_for(r.request_id)["matched"] == "api://invoices"


def test_id_token_signed_by_the_provider_is_refused_with_id_token_hint(oidc_httpd, op, fetch, mint):
    access = fetch("api://orders")
    id_token = op.id_token(access)
    mint.issued.append(id_token)
    claims = segment(id_token, 1)
    assert claims["aud"] == CLIENT_ID and claims["iss"] == op.issuer and "nonce" in claims and "at_hash" in claims
    # Only the audience is wrong: the provider's key verified it, the issuer
    # matched, and the hint names the mistake.
    _, rec, codes = refused(oidc_httpd, "/orders/x", id_token, ["aud_mismatch"])
    assert "id_token" in codes, rec["hints"]
    assert "client_id_as_aud" not in codes
    assert rec["kid"] == segment(id_token, 0)["kid"]


def test_key_rotation_at_the_provider_is_followed_without_restart(oidc_httpd, op, fetch):
    before = fetch("api://orders")
    old_kid = segment(before, 0)["kid"]
    assert oidc_httpd.get("/orders/x", token=before).status == 200
    pid = oidc_httpd.proc.pid
    restarts = oidc_httpd.error_log.read_text(errors="replace").count("resuming normal operations")

    new_kid = op.rotate()
    assert new_kid != old_kid
    time.sleep(1.2)  # AudKeyRefreshMin since the last fetch
    after = fetch("api://orders")
    assert segment(after, 0)["kid"] == new_kid
    # The unknown kid makes the module fetch the provider's keys again.
    r = oidc_httpd.get("/orders/x", token=after)
    assert r.status == 200, r.body
    rec = oidc_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept" and rec["kid"] == new_kid
    # The other API on the same provider follows too, and the provider still
    # publishes the old key, so tokens issued before the rotation stay good.
    assert oidc_httpd.get("/invoices/x", token=fetch("api://invoices")).status == 200
    assert oidc_httpd.get("/orders/x", token=before).status == 200
    assert oidc_httpd.proc.pid == pid and oidc_httpd.proc.poll() is None
    assert oidc_httpd.error_log.read_text(errors="replace").count("resuming normal operations") == restarts


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_tokens_signed_by_node_jose_are_accepted(oidc_httpd, jose_tokens, alg):
    token = jose_tokens["tokens"][alg]
    assert segment(token, 0)["alg"] == alg
    r = oidc_httpd.get("/jose/x", token=token)
    assert r.status == 200, r.body
    rec = oidc_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept"
    assert rec["alg"] == alg and rec["kid"] == f"jose-{alg.lower()}"
    assert rec["matched"] == JOSE_AUD and rec["iss"] == JOSE_ISSUER


def test_node_jose_token_with_an_audience_list_is_accepted(oidc_httpd, jose_tokens):
    r = oidc_httpd.get("/jose/x", token=jose_tokens["tokens"]["list"])
    assert r.status == 200, r.body
    assert oidc_httpd.audit_for(r.request_id)["matched"] == JOSE_AUD


def test_node_jose_token_with_a_foreign_audience_is_refused(oidc_httpd, jose_tokens):
    _, rec, _ = refused(oidc_httpd, "/jose/x", jose_tokens["tokens"]["foreign"], ["aud_mismatch"])
    assert rec["aud"] == ["api://elsewhere"]
    assert rec["matched"] is None and rec["alg"] == "ES256"


def test_node_jose_token_with_its_signature_changed_is_refused(oidc_httpd, jose_tokens):
    h, p, s = jose_tokens["tokens"]["ES256"].split(".")
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    _, rec, _ = refused(oidc_httpd, "/jose/x", f"{h}.{p}.{flipped}", ["bad_signature"])
