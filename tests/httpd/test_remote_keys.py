"""Remote keys (AudJwksUri, AudDiscovery) through a real httpd.

Key servers run inside the test process on 127.0.0.1 (Python's http.server,
one of them over TLS with a test CA given through AudCAFile); the tests
change what they serve and count what httpd asks for. Nothing here talks to
any address that is not on this machine: the redirect tests, which need a
server that is not loopback, add a TEST-NET-2 address (198.51.100.0/24) to
the lo interface for their duration (as root) and remove it afterwards."""
import datetime
import http.client
import ipaddress
import json
import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import Httpd, check_error_log, ec_jwk, free_port

AUD = "api://remote"
# The tag of the module's remote-key messages, and the line a location that
# cannot get its keys logs.
NO_KEYS_LINE = r"AUD0031"


# ------------------------------------------------------------------ servers

class KeyServer:
    """A key server whose answers the tests set per path: status, body,
    headers and a delay. Counts the requests it gets per path."""

    def __init__(self, tls_context=None, port=None, host="127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.tls = tls_context
        self.routes = {}
        self.counts = Counter()
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.stopping = threading.Event()

    def url(self, path):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def route(self, path, body=b"", status=200, headers=None, delay=0.0):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[path] = (status, body, dict(headers or {}), delay)

    def jwks(self, path, *jwks, max_age=None):
        headers = {"Content-Type": "application/json"}
        if max_age is not None:
            headers["Cache-Control"] = f"public, max-age={max_age}"
        self.route(path, {"keys": list(jwks)}, headers=headers)

    def count(self, path):
        with self.lock:
            return self.counts[path]

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with owner.lock:
                    owner.counts[self.path] += 1
                    status, body, headers, delay = owner.routes.get(self.path, (404, b"", {}, 0.0))
                if delay:
                    owner.stopping.wait(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a size cap or a timeout)
                self.close_connection = True

        self.stopping.clear()
        server_class = ThreadingHTTPServer
        if self.host == "::":
            class DualStack(ThreadingHTTPServer):
                """[::] for IPv6 and IPv4 alike: every spelling of loopback
                reaches it."""
                address_family = socket.AF_INET6

                def server_bind(self):
                    self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    super().server_bind()
            server_class = DualStack
        self.server = server_class((self.host, self.port), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is None:
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.server = None


class SigningCA:
    """A CA and a certificate for 127.0.0.1 / localhost that it signed."""

    def __init__(self, directory, name):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = directory / f"{name}-ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
                .issuer_name(subject).public_key(leaf_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_file = directory / f"{name}-server.pem"
        self.key_file = directory / f"{name}-server.key"
        self.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


# --------------------------------------------------------------------- keys

class RemoteKeys:
    def __init__(self):
        self.k = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("k1", "k2", "k3", "evil")}

    def jwk(self, kid):
        return ec_jwk(self.k[kid], kid)

    def token(self, kid, key_name=None, iss=None, headers=None, **claims):
        now = int(time.time())
        body = {"aud": AUD, "sub": "alice", "iat": now, "exp": now + 3600}
        if iss is not None:
            body["iss"] = iss
        body.update(claims)
        h = {"kid": kid}
        h.update(headers or {})
        return jwt.encode(body, self.k[key_name or kid], algorithm="ES256", headers=h)


def location(path, directives):
    return f"""
<Location {path}>
    AuthType Bearer
    AuthName "{path[1:]}"
    AudAllow {AUD}
{directives}
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def rk():
    return RemoteKeys()


@pytest.fixture(scope="module")
def cas(workdir):
    d = workdir / "remote-tls"
    d.mkdir(exist_ok=True)
    return {"good": SigningCA(d, "good"), "other": SigningCA(d, "other")}


@pytest.fixture(scope="module")
def servers(cas):
    s = {
        "plain": KeyServer(),
        "stale": KeyServer(),
        "late": KeyServer(),  # not started before httpd
        "tls": KeyServer(tls_context=cas["good"].server_context()),
        "untrusted": KeyServer(tls_context=cas["other"].server_context()),
    }
    yield s
    for server in s.values():
        server.stop()


@pytest.fixture(scope="module")
def remote_httpd(workdir, keys, rk, servers, cas):
    plain, stale, late = servers["plain"], servers["stale"], servers["late"]
    tls, untrusted = servers["tls"], servers["untrusted"]
    for name in ("rot", "flood", "shared", "cc", "nocc", "jku"):
        plain.jwks(f"/{name}/jwks", rk.jwk("k1"), max_age=2 if name == "cc" else None)
    plain.route("/e500/jwks", "oops", status=500)
    plain.route("/garbage/jwks", "<html>this is no key set</html>", headers={"Content-Type": "text/html"})
    plain.route("/big/jwks", b"{\"keys\":[" + b" " * (2 * 1024 * 1024) + b"]}")
    plain.route("/empty/jwks", {"keys": []})
    plain.jwks("/slow/jwks", rk.jwk("k1"))
    plain.jwks("/rekey/jwks", rk.jwk("k1"))
    plain.jwks("/latekid/jwks", rk.jwk("k1"))
    issuer = plain.url("/idp")
    plain.route("/idp/.well-known/openid-configuration", {"issuer": issuer, "jwks_uri": plain.url("/idp/keys")})
    plain.jwks("/idp/keys", rk.jwk("k2"))
    plain.route("/foreign/.well-known/openid-configuration",
                {"issuer": "https://evil.test/", "jwks_uri": plain.url("/foreign/keys")})
    plain.jwks("/foreign/keys", rk.jwk("evil"))
    plain.jwks("/evil/jwks", rk.jwk("evil"))
    stale.jwks("/stale/jwks", rk.jwk("k1"))
    stale.jwks("/expire/jwks", rk.jwk("k1"))
    late.jwks("/late/jwks", rk.jwk("k1"))
    tls.jwks("/jwks", rk.jwk("k1"))
    untrusted.jwks("/jwks", rk.jwk("k1"))
    for server in (plain, stale, tls, untrusted):
        server.start()

    locations = "".join([
        location("/rot", f"    AudJwksUri {plain.url('/rot/jwks')}\n    AudKeyRefreshMin 1"),
        location("/flood", f"    AudJwksUri {plain.url('/flood/jwks')}\n    AudKeyRefreshMin 2"),
        location("/shared", f"    AudJwksUri {plain.url('/shared/jwks')}"),
        location("/shared2", f"    AudJwksUri {plain.url('/shared/jwks')}"),
        location("/cc", f"    AudJwksUri {plain.url('/cc/jwks')}\n    AudKeyRefreshMin 1"),
        location("/nocc", f"    AudJwksUri {plain.url('/nocc/jwks')}\n    AudKeyRefreshMin 1"),
        location("/jku", f"    AudJwksUri {plain.url('/jku/jwks')}\n    AudKeyRefreshMin 1"),
        location("/e500", f"    AudJwksUri {plain.url('/e500/jwks')}"),
        location("/garbage", f"    AudJwksUri {plain.url('/garbage/jwks')}"),
        location("/big", f"    AudJwksUri {plain.url('/big/jwks')}"),
        location("/empty", f"    AudJwksUri {plain.url('/empty/jwks')}"),
        location("/slow", f"    AudJwksUri {plain.url('/slow/jwks')}\n    AudKeyRefreshMin 1\n"
                          f"    AudKeyFetchTimeout 3"),
        location("/disc", f"    AudDiscovery {issuer}"),
        location("/rekey", f"    AudJwksUri {plain.url('/rekey/jwks')}\n    AudKeyRefreshMin 1"),
        location("/latekid", f"    AudJwksUri {plain.url('/latekid/jwks')}\n    AudKeyRefreshMin 1"),
        location("/foreign", f"    AudDiscovery {plain.url('/foreign')}"),
        location("/stale", f"    AudJwksUri {stale.url('/stale/jwks')}\n    AudKeyRefresh 2\n"
                           f"    AudKeyRefreshMin 1"),
        location("/expire", f"    AudJwksUri {stale.url('/expire/jwks')}\n    AudKeyRefresh 2\n"
                            f"    AudKeyRefreshMin 1\n    AudKeyMaxStale 1"),
        location("/late", f"    AudJwksUri {late.url('/late/jwks')}\n    AudKeyRefreshMin 1"),
        location("/tls", f"    AudJwksUri {tls.url('/jwks')}"),
        location("/untrusted", f"    AudJwksUri {untrusted.url('/jwks')}"),
    ])
    server = Httpd(workdir / "remote", keys, locations=locations, extra=f'AudCAFile "{cas["good"].ca_file}"\n')
    # The slow source is made slow only now: at start-up it answered, so
    # that start-up is quick and the test sees the bounded wait itself.
    server.start()
    server.issuer = issuer
    yield server
    server.stop()


def wait_until(predicate, timeout=15, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def assert_keys_unavailable(httpd, r):
    assert r.status == 503
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit() and int(retry) >= 1
    assert r.header("WWW-Authenticate") is None
    rec = httpd.audit_for(r.request_id)
    assert rec["status"] == 503
    assert "keys_unavailable" in rec["reasons"]


# -------------------------------------------------------------------- tests

def test_keys_from_a_jwks_uri(remote_httpd, rk):
    r = remote_httpd.get("/rot/x", token=rk.token("k1"))
    assert r.status == 200
    assert remote_httpd.get("/rot/x", token=rk.token("k2")).status == 401
    assert remote_httpd.get("/rot/x", token=rk.token("k1", key_name="k2")).status == 401


def test_one_fetch_serves_every_location_thread_and_child(remote_httpd, servers, rk):
    plain = servers["plain"]
    # Fetched once at start-up, by the parent, for both locations.
    assert plain.count("/shared/jwks") == 1
    token = rk.token("k1")
    results = []

    def hammer(path):
        for _ in range(10):
            results.append(remote_httpd.get(path, token=token).status)

    threads = [threading.Thread(target=hammer, args=(p,)) for p in ("/shared/a", "/shared2/b") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 60
    assert plain.count("/shared/jwks") == 1


def test_rotation_new_kid_accepted_after_the_refresh_it_triggers(remote_httpd, servers, rk):
    plain = servers["plain"]
    assert remote_httpd.get("/rot/x", token=rk.token("k1")).status == 200
    before = plain.count("/rot/jwks")
    plain.jwks("/rot/jwks", rk.jwk("k1"), rk.jwk("k2"))
    time.sleep(1.2)  # AudKeyRefreshMin since the last fetch
    token = rk.token("k2")
    first = remote_httpd.get("/rot/x", token=token)
    # The token that reveals the new kid triggers the refresh; the module
    # checks it again against the new set.
    assert first.status == 200, first.body
    assert plain.count("/rot/jwks") == before + 1
    # Every child has it now, from the shared store: no further fetches.
    for _ in range(20):
        assert remote_httpd.get("/rot/x", token=token).status == 200
        assert remote_httpd.get("/rot/x", token=rk.token("k1")).status == 200
    assert plain.count("/rot/jwks") == before + 1


def test_key_removal(remote_httpd, servers, rk):
    plain = servers["plain"]
    old = rk.token("k3")
    plain.jwks("/rot/jwks", rk.jwk("k3"), rk.jwk("k2"))
    time.sleep(1.2)
    # A kid the set lacks forces the refresh that brings k3.
    assert wait_until(lambda: remote_httpd.get("/rot/x", token=old).status == 200, timeout=5)
    assert remote_httpd.get("/rot/x", token=old).status == 200  # remembered by the token cache too
    plain.jwks("/rot/jwks", rk.jwk("k2"))
    time.sleep(1.2)
    # Another unknown kid triggers the refresh that drops k3...
    r = remote_httpd.get("/rot/x", token=rk.token("k1", key_name="k1", headers={"kid": "unheard-of"}))
    assert r.status == 401
    # ...and the same token that was accepted (and cached) is refused now.
    r = remote_httpd.get("/rot/x", token=old)
    assert r.status == 401
    rec = remote_httpd.audit_for(r.request_id)
    assert rec["reasons"] == ["unknown_key"]
    assert remote_httpd.get("/rot/x", token=rk.token("k2")).status == 200


def test_flood_of_random_kids_costs_one_fetch_per_interval(remote_httpd, servers, rk):
    plain = servers["plain"]
    time.sleep(2.1)
    before = plain.count("/flood/jwks")
    start = time.time()
    statuses = Counter()

    def flood():
        for _ in range(40):
            kid = "rnd-%016x" % random.getrandbits(64)
            statuses[remote_httpd.get("/flood/x", token=rk.token("k1", headers={"kid": kid})).status] += 1

    threads = [threading.Thread(target=flood) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    fetched = plain.count("/flood/jwks") - before
    assert statuses == Counter({401: 200})
    # At most one fetch per AudKeyRefreshMin (2 s) of flooding, and at
    # least the first one happened.
    assert 1 <= fetched <= 1 + int(elapsed / 2) + 1, (fetched, elapsed)
    assert remote_httpd.get("/flood/x", token=rk.token("k1")).status == 200


def test_server_down_at_start_up_then_recovery(remote_httpd, servers, rk, expect_errors):
    expect_errors.append(NO_KEYS_LINE)
    late = servers["late"]
    token = rk.token("k1")
    r = remote_httpd.get("/late/x", token=token)
    assert_keys_unavailable(remote_httpd, r)
    late.start()
    assert wait_until(lambda: remote_httpd.get("/late/x", token=token).status == 200, timeout=10)
    assert late.count("/late/jwks") >= 1


def test_server_down_after_a_good_fetch_keeps_stale_keys(remote_httpd, servers, rk, expect_errors):
    expect_errors.append(NO_KEYS_LINE)
    expect_errors.append(r"no longer used")
    stale = servers["stale"]
    token = rk.token("k1")
    assert remote_httpd.get("/stale/x", token=token).status == 200
    assert remote_httpd.get("/expire/x", token=token).status == 200
    offset = remote_httpd.error_log_size()
    stale.stop()
    time.sleep(2.2)  # AudKeyRefresh: the next request tries to refresh
    # /stale keeps serving with the last good keys (AudKeyMaxStale default)...
    for _ in range(5):
        assert remote_httpd.get("/stale/x", token=token).status == 200
    assert wait_until(lambda: "keeping the last good keys" in remote_httpd.error_log_since(offset), timeout=5)
    log = remote_httpd.error_log_since(offset)
    assert re.search(r"\[auth_aud:warn\].*keys from http://127\.0\.0\.1:\d+/stale/jwks: fetch failed", log), log
    # ...while /expire (AudKeyMaxStale 1) gives up on them a second later.
    assert wait_until(lambda: remote_httpd.get("/expire/x", token=token).status == 503, timeout=10)
    assert_keys_unavailable(remote_httpd, remote_httpd.get("/expire/x", token=token))


@pytest.mark.parametrize("path,why", [
    ("/e500", "HTTP 500"),
    ("/garbage", "not a JSON object"),
    ("/big", "larger than 1048576 bytes"),
    ("/empty", "no usable key|no key"),
    ("/untrusted", "SSL|certificate"),
])
def test_bad_answers_mean_no_keys(remote_httpd, rk, expect_errors, path, why):
    expect_errors.append(NO_KEYS_LINE)
    r = remote_httpd.get(f"{path}/x", token=rk.token("k1"))
    assert_keys_unavailable(remote_httpd, r)
    # The reason is in the error log (from the start-up fetch).
    log = remote_httpd.error_log_since(0)
    lines = [line for line in log.splitlines() if f"{path}/jwks" in line or (path == "/untrusted" and "/jwks:" in
                                                                              line and "https://" in line)]
    assert any(re.search(why, line) for line in lines), "\n".join(lines)


def test_slow_server_delays_only_its_own_requests_and_boundedly(remote_httpd, servers, rk, expect_errors):
    expect_errors.append(NO_KEYS_LINE)
    plain = servers["plain"]
    plain.route("/slow/jwks", "{}", delay=30)
    time.sleep(1.1)
    # Unknown kid: the refresh it triggers hangs; this one request waits for
    # at most AudKeyFetchTimeout (3 s).
    done = {}

    def slow_request():
        t = time.time()
        done["status"] = remote_httpd.get("/slow/x", token=rk.token("k1", headers={"kid": "new"}),
                                          timeout=30).status
        done["elapsed"] = time.time() - t

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.3)
    # Meanwhile other locations, and even the slow location's known keys,
    # are served.
    assert remote_httpd.get("/rot/x", token=rk.token("k2")).status == 200
    assert remote_httpd.get("/slow/x", token=rk.token("k1")).status == 200
    assert t.is_alive(), "the request that triggered the slow fetch should still be waiting"
    t.join(timeout=30)
    assert done["status"] == 401
    assert done["elapsed"] < 3 + 7, done  # bounded by the timeout, with a generous margin


def test_discovery(remote_httpd, servers, rk):
    plain = servers["plain"]
    # The issuer comes from AudDiscovery (no AudIssuer here).
    assert remote_httpd.get("/disc/x", token=rk.token("k2", iss=remote_httpd.issuer)).status == 200
    r = remote_httpd.get("/disc/x", token=rk.token("k2", iss="https://evil.test/"))
    assert r.status == 401
    assert remote_httpd.audit_for(r.request_id)["reasons"] == ["issuer_mismatch"]
    assert plain.count("/idp/.well-known/openid-configuration") == 1
    assert plain.count("/idp/keys") == 1


def test_discovery_issuer_counts_as_the_locations_issuer_for_hints(remote_httpd, rk):
    # Regression: hints saw no issuer at AudDiscovery locations (only the
    # verifier did), so an extra trailing slash got issuer_mismatch and no
    # hint, while the same token at an AudIssuer location got one.
    r = remote_httpd.get("/disc/x", token=rk.token("k2", iss=remote_httpd.issuer + "/"))
    assert r.status == 401
    rec = remote_httpd.audit_for(r.request_id)
    assert rec["reasons"] == ["issuer_mismatch"]
    assert [h["code"] for h in rec["hints"]] == ["issuer_trailing_slash"]


def test_new_key_under_an_old_kid_is_followed(remote_httpd, servers, rk):
    # The identity provider replaced the key behind kid k1. A token signed
    # with the new key used to get bad_signature until the scheduled refresh
    # (AudKeyRefresh, an hour by default); now the failed signature triggers
    # the same rate-limited refresh as an unknown kid, and the request that
    # revealed it is checked again.
    plain = servers["plain"]
    assert remote_httpd.get("/rekey/x", token=rk.token("k1")).status == 200
    before = plain.count("/rekey/jwks")
    plain.jwks("/rekey/jwks", ec_jwk(rk.k["k2"], "k1"))
    time.sleep(1.2)  # AudKeyRefreshMin since the last fetch
    r = remote_httpd.get("/rekey/x", token=rk.token("k1", key_name="k2"))
    assert r.status == 200, r.body
    assert plain.count("/rekey/jwks") == before + 1
    # The replaced key's tokens are refused now, without a fetch each.
    for _ in range(10):
        r = remote_httpd.get("/rekey/x", token=rk.token("k1"))
        assert r.status == 401 and remote_httpd.audit_for(r.request_id)["reasons"] == ["bad_signature"]
    assert plain.count("/rekey/jwks") <= before + 2


def test_a_refusal_for_a_key_that_may_yet_arrive_is_not_remembered(remote_httpd, servers, rk):
    # Pins: the token cache keeps refusals (issue 12), but not unknown_key
    # or bad_signature from a remote source. A cached one would skip the
    # verifier, and with it the rate-limited refresh that an unknown kid
    # triggers: the token below would stay refused until AudKeyRefresh.
    # One connection, so both requests reach the same child and its cache.
    plain = servers["plain"]
    token = rk.token("k2")
    conn = http.client.HTTPConnection("127.0.0.1", remote_httpd.port, timeout=10)
    try:
        # The first refusal triggers a refresh (so its keys' generation is
        # not the one it started with, and it is not cached); the second,
        # within AudKeyRefreshMin, does not, and is the one a cache would
        # keep.
        for _ in range(2):
            refused = remote_httpd.request(conn, "/latekid/x", token=token)
            assert refused.status == 401
            assert remote_httpd.audit_for(refused.request_id)["reasons"] == ["unknown_key"]
        plain.jwks("/latekid/jwks", rk.jwk("k1"), rk.jwk("k2"))
        time.sleep(1.2)  # AudKeyRefreshMin since the fetch the first request triggered
        again = remote_httpd.request(conn, "/latekid/x", token=token)
        assert again.status == 200, again.body
    finally:
        conn.close()


def test_discovery_with_a_foreign_issuer(remote_httpd, servers, rk, expect_errors):
    expect_errors.append(NO_KEYS_LINE)
    expect_errors.append(r"is not the configured issuer")
    plain = servers["plain"]
    r = remote_httpd.get("/foreign/x", token=rk.token("evil", iss="https://evil.test/"))
    assert_keys_unavailable(remote_httpd, r)
    log = remote_httpd.error_log_since(0)
    assert re.search(r"\[auth_aud:error\].*document's issuer 'https://evil.test/' is not the configured issuer", log)
    assert plain.count("/foreign/keys") == 0


def test_https_with_the_configured_ca(remote_httpd, rk):
    assert remote_httpd.get("/tls/x", token=rk.token("k1")).status == 200


def test_cache_control_max_age_is_honoured(remote_httpd, servers, rk):
    plain = servers["plain"]
    token = rk.token("k1")
    assert remote_httpd.get("/cc/x", token=token).status == 200
    assert remote_httpd.get("/nocc/x", token=token).status == 200
    cc, nocc = plain.count("/cc/jwks"), plain.count("/nocc/jwks")
    time.sleep(2.2)  # max-age=2 has passed; AudKeyRefresh (3600) has not
    assert remote_httpd.get("/cc/x", token=token).status == 200
    assert remote_httpd.get("/nocc/x", token=token).status == 200
    assert plain.count("/cc/jwks") == cc + 1
    assert plain.count("/nocc/jwks") == nocc


def test_urls_in_tokens_are_never_fetched(remote_httpd, servers, rk):
    plain = servers["plain"]
    time.sleep(1.1)
    evil = plain.url("/evil/jwks")
    token = rk.token("evil", headers={"jku": evil, "x5u": evil})
    assert remote_httpd.get("/jku/x", token=token).status == 401
    assert plain.count("/evil/jwks") == 0


def test_graceful_restart_fetches_afresh(remote_httpd, servers, rk, expect_errors):
    expect_errors.append(r"is not the configured issuer")  # /foreign, fetched again
    plain = servers["plain"]
    before = plain.count("/shared/jwks")
    remote_httpd.graceful()
    assert plain.count("/shared/jwks") == before + 1
    assert remote_httpd.get("/shared/x", token=rk.token("k1")).status == 200
    assert remote_httpd.get("/disc/x", token=rk.token("k2", iss=remote_httpd.issuer)).status == 200


# --------------------------------------------------------- configuration

@pytest.mark.parametrize("directive,message", [
    ("AudJwksUri http://idp.example/keys", "https is required"),
    ("AudJwksUri not-a-url", "not a valid URL"),
    ("AudDiscovery ftp://127.0.0.1/idp", "only https"),
    ("AudJwksUri https://127.0.0.1:1/keys\n    AudKeyRefreshMin 0", "AudKeyRefreshMin"),
])
def test_malformed_urls_and_settings_stop_start_up(workdir, keys, directive, message):
    root = workdir / f"bad-remote-{abs(hash(directive))}"
    server = Httpd(root, keys, locations=location("/x", "    " + directive))
    with pytest.raises(RuntimeError) as info:
        server.start()
    server.stop()
    assert message in str(info.value)


def test_unreachable_idp_does_not_stop_start_up(workdir, keys):
    port = free_port()  # nothing listens there
    server = Httpd(workdir / "unreachable", keys,
                   locations=location("/x", f"    AudJwksUri http://127.0.0.1:{port}/keys\n"
                                            f"    AudKeyFetchTimeout 1"))
    server.start()
    try:
        log = server.error_log.read_text()
        assert re.search(r"\[auth_aud:warn\].*keys from http://127\.0\.0\.1:\d+/keys: fetch failed", log), log
        r = server.get("/x/y", token="a.b.c")
        assert r.status in (401, 503)
    finally:
        server.stop()


# ------------------------------------------------ loopback by address

def issue_leaf(ca, directory, name, dns=(), ips=()):
    """A server certificate from ca (a SigningCA) for these names and
    addresses; returns an SSL server context."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.key, hashes.SHA256()))
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


@pytest.fixture(scope="module")
def testnet_address():
    """A TEST-NET-2 address on lo: on this machine, reachable, and not
    loopback. Removed at the end."""
    if os.geteuid() != 0:
        pytest.skip("adding an address to lo needs root")
    for last in [20 + os.getpid() % 200 + i for i in range(20)]:
        address = f"198.51.100.{last % 254 + 1}"
        if subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True).returncode == 0:
            break
    else:
        pytest.skip("cannot add a TEST-NET-2 address to lo")
    try:
        yield address
    finally:
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True)


def loopback_host_name():
    """A name (not localhost) that this machine resolves to loopback, such as
    its host name from /etc/hosts, or None: only the address shows it is
    loopback."""
    for name in (socket.gethostname(), "ip6-localhost", "ip6-loopback"):
        plain = name.lower().rstrip(".")
        if not plain or plain == "localhost" or plain.endswith(".localhost"):
            continue
        try:
            infos = socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)
        except OSError:
            continue
        addresses = {info[4][0] for info in infos}
        if addresses and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
            return name
    return None


# Every spelling of this host's own services that a remote server might
# redirect to. Before the fix all but the first were followed.
LOOPBACK_SPELLINGS = ["127.0.0.1", "0.0.0.0", "[::ffff:127.0.0.1]", "[::]", "0", "[::ffff:7f00:1]", "localhost."]


def test_remote_redirect_to_loopback_is_refused_in_every_spelling(workdir, keys, rk, cas, testnet_address):
    """Pins: a key URL on a remote host that redirects to this host's
    loopback services is refused, whatever the spelling of the loopback
    address and also when only the address connected to shows it (a host
    name that resolves to 127.0.0.1). Controls: the same loopback server is
    reachable under each spelling when configured directly, and a redirect
    from remote to remote is followed, so a refusal is the rule at work."""
    d = workdir / "redirect-tls"
    d.mkdir(exist_ok=True)
    name = loopback_host_name()
    loop_names = ["localhost", "localhost."] + ([name] if name else [])
    loop_ips = ["127.0.0.1", "0.0.0.0", "::", "::1", "::ffff:127.0.0.1"]
    ca = cas["good"]
    internal = KeyServer(tls_context=issue_leaf(ca, d, "internal", loop_names, loop_ips), host="::")
    remote = KeyServer(tls_context=issue_leaf(ca, d, "remote", ips=[testnet_address]), host=testnet_address)
    internal.jwks("/jwks", rk.jwk("evil"))
    remote.jwks("/jwks", rk.jwk("k1"))
    spellings = LOOPBACK_SPELLINGS + ([name] if name else [])
    for i, host in enumerate(spellings):
        remote.route(f"/to/{i}", status=302, headers={"Location": f"https://{host}:{internal.port}/jwks"})
    remote.route("/to-remote", status=302, headers={"Location": remote.url("/jwks")})
    locations = [location("/via-remote", f"    AudJwksUri {remote.url('/to-remote')}")]
    for i, host in enumerate(spellings):
        locations.append(location(f"/redirect{i}", f"    AudJwksUri {remote.url(f'/to/{i}')}"))
        locations.append(location(f"/direct{i}", f"    AudJwksUri https://{host}:{internal.port}/jwks"))
    internal.start()
    remote.start()
    server = Httpd(workdir / "redirects", keys, locations="".join(locations),
                   extra=f'AudCAFile "{ca.ca_file}"\n')
    server.start()
    try:
        assert server.get("/via-remote/x", token=rk.token("k1")).status == 200
        log = server.error_log.read_text()
        reached = 0
        for i, host in enumerate(spellings):
            direct = server.get(f"/direct{i}/x", token=rk.token("evil")).status
            # localhost. is not resolvable everywhere; every other spelling
            # reaches the internal server when configured.
            assert direct == 200 or host == "localhost.", (host, direct)
            reached += direct == 200
            assert_keys_unavailable(server, server.get(f"/redirect{i}/x", token=rk.token("evil")))
            shown = "0.0.0.0" if host == "0" else host  # libcurl's spelling of the Location
            refused = [line for line in log.splitlines() if f"/to/{i}: refused redirect from a remote host to a "
                       f"loopback address ('https://{shown}:{internal.port}/jwks'" in line]
            assert refused, (host, log)
            if host == name:
                assert "leads to 127.0.0.1" in refused[0] or "leads to ::1" in refused[0], refused[0]
        # Only the direct locations asked it for anything: no request went
        # out on a refused connection.
        assert internal.count("/jwks") == reached
        check_error_log(server.error_log_since(0), [NO_KEYS_LINE])
    finally:
        server.stop()
        internal.stop()
        remote.stop()


def test_start_up_waits_once_for_many_hung_key_servers(workdir, keys):
    """Pins: the start-up fetch runs every source at once, so 20 sources
    behind a key server that accepts and never answers delay start-up by
    about one AudKeyFetchTimeout (2 s), not 20 of them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    held, stop = [], threading.Event()

    def accept_and_hold():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    locations = "".join(location(f"/hung{i}", f"    AudJwksUri http://127.0.0.1:{port}/keys{i}\n"
                                              f"    AudKeyFetchTimeout 2") for i in range(20))
    server = Httpd(workdir / "hung", keys, locations=locations)
    t = time.time()
    try:
        server.start()
        elapsed = time.time() - t
        # One after the other: 40 s. The slack is for a loaded host.
        assert elapsed < 2 * 2 + 4, elapsed
        log = server.error_log.read_text()
        failed = set(re.findall(r"keys from http://127\.0\.0\.1:\d+/keys(\d+): fetch failed \(.*no complete answer",
                                log))
        assert failed == {str(i) for i in range(20)}, log
        assert len(held) >= 20
    finally:
        server.stop()
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()
