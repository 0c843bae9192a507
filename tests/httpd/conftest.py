"""Fixtures for the real-httpd tests of mod_auth_aud.

The suite builds nothing: it takes the freshly built module from
$AUD_BUILDDIR/.libs/mod_auth_aud.so (default <repo>/build), writes an httpd
configuration into a temporary directory and runs Debian's apache2 with the
event MPM on 127.0.0.1. Keys are generated with python3-cryptography and
tokens minted with PyJWT, an implementation independent of ours.

After every test, the part of the error log that the test produced is
checked: an [error] (or worse) line that the test did not declare, or any
sign of a crashed child, fails the test.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REPO = Path(__file__).resolve().parents[2]
SRCDIR = Path(os.environ.get("AUD_SRCDIR") or REPO)
BUILDDIR = Path(os.environ.get("AUD_BUILDDIR") or REPO / "build")
MODULE = BUILDDIR / ".libs" / "mod_auth_aud.so"


def configured_httpd():
    """httpd and its modules directory as configure found them through apxs
    ($AUD_BUILDDIR/tests/httpd/httpd-paths); AUD_HTTPD and AUD_HTTPD_MODULES
    override them."""
    paths = {}
    f = BUILDDIR / "tests" / "httpd" / "httpd-paths"
    if f.exists():
        for line in f.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                paths[k.strip()] = v.strip()
    return (os.environ.get("AUD_HTTPD") or paths.get("httpd"),
            os.environ.get("AUD_HTTPD_MODULES") or paths.get("modules"))


APACHE2, _modules = configured_httpd()
MODULES_DIR = Path(_modules) if _modules else None

ISSUER = "https://issuer.test/"
GRAPH = "https://graph.microsoft.com"

# Error-log lines that always fail a test, whatever it declared.
CRASH_PATTERNS = [r"AH00051", r"Segmentation", r"exit signal", r"AddressSanitizer", r"runtime error"]
# Lines at these levels fail a test unless it declared them.
ERROR_LEVEL = re.compile(r"\] \[[\w]*:?(error|crit|alert|emerg)\] ")

AUDIT_FIELDS = ["time", "api", "uri", "method", "client_ip", "status", "mode", "decision", "reasons", "hints",
                "aud", "matched", "iss", "sub", "client", "typ", "alg", "kid", "exp", "token_id", "request_id"]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def int_b64u(value: int, length: int = 0) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64u(value.to_bytes(length, "big"))


def httpd_env():
    """The environment for apache2. AUD_HTTPD_PRELOAD=$(gcc
    -print-file-name=libasan.so) runs it with a module built with
    --enable-sanitizers; reports then land in the error log, where the guard
    fails the test."""
    env = dict(os.environ)
    if env.get("AUD_HTTPD_PRELOAD"):
        env["LD_PRELOAD"] = env["AUD_HTTPD_PRELOAD"]
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def rsa_jwk(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": int_b64u(n.n), "e": int_b64u(n.e)}


def ec_jwk(key, kid):
    n = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": int_b64u(n.x, 32), "y": int_b64u(n.y, 32)}


class Keys:
    """Every key the suite uses, generated once per session."""

    def __init__(self, directory: Path):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)      # PEM, no kid
        self.rsa_kid = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # JWKS kid k-rsa
        self.ec = ec.generate_private_key(ec.SECP256R1())                              # JWKS kid k-ec
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)    # never configured
        self.weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.secret = os.urandom(48)

        self.rsa_pem = self.write("rsa.pem", public_pem(self.rsa))
        self.other_pem = self.write("other.pem", public_pem(self.other))
        self.weak_pem = self.write("weak1024.pem", public_pem(self.weak))
        self.jwks = self.write("jwks.json", json.dumps(
            {"keys": [rsa_jwk(self.rsa_kid, "k-rsa"), ec_jwk(self.ec, "k-ec")]}).encode())
        self.secret_file = self.write("secret.bin", self.secret, mode=0o600)
        self.garbage = self.write("garbage.pem", b"-----BEGIN PUBLIC KEY-----\nnot base64 at all\n"
                                                 b"-----END PUBLIC KEY-----\n")

    def write(self, name, data: bytes, mode=0o644) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(mode)
        return path


class Minter:
    """Tokens, good and bad. Defaults make a token the Users API accepts."""

    def __init__(self, keys: Keys):
        self.keys = keys
        # Every token handed out, so that the last test can prove none of
        # them reached a log file.
        self.issued = []

    def _track(self, token: str) -> str:
        self.issued.append(token)
        return token

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": ISSUER, "aud": "api://users", "sub": "alice", "azp": "client-app",
             "scope": "users.read", "iat": now, "exp": now + 3600}
        for k, v in over.items():
            if v is DROP:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def rs256(self, key=None, headers=None, **claims):
        return self._track(jwt.encode(self.claims(**claims), key or self.keys.rsa, algorithm="RS256",
                                      headers=headers))

    def kid_rsa(self, **claims):
        return self._track(jwt.encode(self.claims(**claims), self.keys.rsa_kid, algorithm="RS256",
                                      headers={"kid": "k-rsa"}))

    def es256(self, **claims):
        return self._track(jwt.encode(self.claims(**claims), self.keys.ec, algorithm="ES256",
                                      headers={"kid": "k-ec"}))

    def hs256(self, **claims):
        return self._track(jwt.encode(self.claims(**claims), self.keys.secret, algorithm="HS256"))

    def raw(self, header: dict, claims: dict, signature: bytes = b"") -> str:
        h = b64u(json.dumps(header, separators=(",", ":")).encode())
        p = b64u(json.dumps(claims, separators=(",", ":")).encode())
        return self._track(f"{h}.{p}.{b64u(signature)}")


class _Drop:
    def __repr__(self):
        return "DROP"


DROP = _Drop()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def request_id(self):
        return self.headers.get("x-request-id")

    def backend_env(self):
        """AUD_* as mod_headers saw them ("(null)" when unset)."""
        return {k[len("x-env-"):].upper().replace("-", "_"): v
                for k, v in self.headers.items() if k.startswith("x-env-")}


LOCATIONS = """
# --- the Users API: enforcing, PEM key and JWKS
<Location /users>
    AuthType Bearer
    AuthName "Users API"
    AudAllow api://users
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem {keys}/jwks.json
    Require valid-user
</Location>

# --- the Invoices API: audit mode, same keys (loaded once)
<Location /invoices>
    AuthType bearer
    AudApiName "Invoices API"
    AudAllow api://invoices
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem {keys}/jwks.json
    AudMode audit
    Require valid-user
</Location>

# --- HMAC, only where listed
<Location /hmac>
    AuthType Bearer
    AuthName "HMAC API"
    AudAllow api://hmac
    AudSecretFile {keys}/secret.bin
    AudAlgorithms HS256
    Require valid-user
</Location>

# --- operator mistakes
<Location /noallow>
    AuthType Bearer
    AuthName "No Allow"
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /nokeys>
    AuthType Bearer
    AuthName "No Keys"
    AudAllow api://users
    Require valid-user
</Location>

# --- nested sections: inheritance and override
<Location /api>
    AuthType Bearer
    AudApiName "Base API"
    AudAllow api://base
    AudAllow api://base2
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /api/orders>
    AudApiName "Orders API"
    AudAllow api://orders
</Location>
<Location /api/audited>
    AudMode audit
</Location>
<Location /api/es-only>
    AudKeyFile {keys}/jwks.json
    AudAlgorithms ES256
</Location>
<Location /api/orders/strict>
    AudLeeway 0
    AudMaxTokenSize 1024
</Location>
<Location /api/public>
    AuthType None
    Require all granted
</Location>

# --- user names and authorization
<Location /byupn>
    AuthType Bearer
    AuthName "UPN API"
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    AudUserClaim upn
    Require valid-user
</Location>
<Location /onlyalice>
    AuthType Bearer
    AuthName "Alice API"
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    Require user alice
</Location>
<Location /all>
    AuthType Bearer
    AuthName "All API"
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    <RequireAll>
        Require valid-user
        Require ip 127.0.0.1
    </RequireAll>
</Location>
<Location /any>
    AuthType Bearer
    AuthName "Any API"
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    <RequireAny>
        Require user alice
        Require user bob
    </RequireAny>
</Location>

# --- a realm that needs escaping
<Location /quoted>
    AuthType Bearer
    AuthName "Say \\"hi\\""
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
<Location /quoted2>
    AuthType Bearer
    AudApiName "back\\slash \\"q\\""
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>

# --- a CGI backend
<Location /cgi>
    AuthType Bearer
    AuthName "CGI API"
    AudAllow api://users
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
"""


def bearer(path, api, *directives, allow="api://users"):
    """A <Location> with AuthType Bearer, the API's name, one allowed
    audience and the suite's RSA key, then directives, one a line."""
    body = "".join(f"    {d}\n" for d in directives)
    return (f'<Location {path}>\n    AuthType Bearer\n    AuthName "{api}"\n    AudAllow {allow}\n'
            f"    AudKeyFile {{keys}}/rsa.pem\n{body}</Location>\n")


def start_server(workdir, keys, name, locations, extra="", prepare=None):
    """An Httpd of its own for a test module: written, prepared (files the
    test needs under its root), started."""
    server = Httpd(workdir / name, keys, locations=locations, extra=extra)
    server.write()
    if prepare is not None:
        prepare(server)
    server.start()
    return server


class Httpd:
    def __init__(self, root: Path, keys: Keys, locations: str = LOCATIONS, extra: str = "",
                 audit_log: str = "logs/audit.log", audit_buffer: str = "Off"):
        self.root = root
        self.keys = keys
        self.port = free_port()
        self.logs = root / "logs"
        self.htdocs = root / "htdocs"
        self.conf = root / "httpd.conf"
        self.error_log = self.logs / "error.log"
        self.audit_log = self.logs / "audit.log"
        self.access_log = self.logs / "access.log"
        self.proc = None
        self.locations = locations
        self.extra = extra
        self.audit_log_directive = audit_log
        # Records written as each request ends, so that a test reads them at
        # once; test_audit_batch.py runs the batched default (None: no line).
        self.audit_buffer = audit_buffer
        self.stderr_path = self.logs / "stderr.txt"
        # More environment for apache2; a preload here comes after
        # AUD_HTTPD_PRELOAD's (the sanitizer runtime must be first).
        self.extra_env = {}

    # ---------------------------------------------------------- config
    def base_config(self) -> str:
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        mods = ["mpm_event", "authn_core", "authz_core", "authz_user", "authz_host", "alias", "mime",
                "headers", "env", "cgid", "unique_id"]
        loads = "\n".join(f"LoadModule {m}_module {MODULES_DIR}/mod_{m}.so" for m in mods)
        return f"""
ServerRoot "{self.root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{self.root}/run/httpd.pid"
DefaultRuntimeDir "{self.root}/run"
Mutex file:{self.root}/run default
ScriptSock "{self.root}/run/cgid.sock"
ErrorLog "{self.error_log}"
LogLevel warn auth_aud:info
{loads}
LoadModule auth_aud_module "{MODULE}"
{user}
StartServers 2
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30

TypesConfig /etc/mime.types
AddType application/json .json
DocumentRoot "{self.htdocs}"
<Directory "{self.htdocs}">
    Require all granted
    Options None
</Directory>
<Directory "{self.root}/cgi">
    Require all granted
    Options +ExecCGI
</Directory>
ScriptAlias /cgi/ "{self.root}/cgi/"
AliasMatch "^/(?!cgi/)[^.]*$" "{self.htdocs}/api.json"

LogFormat "%h \\"%u\\" \\"%r\\" %>s %{{AUD_DECISION}}e %{{AUD_REASON}}e %{{UNIQUE_ID}}e" aud
CustomLog "{self.access_log}" aud
{f'AudAuditLog "{self.audit_log_directive}"' if self.audit_log_directive else ""}
{f'AudAuditLogBuffer {self.audit_buffer}' if self.audit_buffer else ""}

Header always set X-Request-Id "%{{UNIQUE_ID}}e"
Header always set X-User "expr=%{{REMOTE_USER}}"
Header always set X-Env-Api "%{{AUD_API}}e"
Header always set X-Env-Aud "%{{AUD_AUD}}e"
Header always set X-Env-Iss "%{{AUD_ISS}}e"
Header always set X-Env-Sub "%{{AUD_SUB}}e"
Header always set X-Env-Client "%{{AUD_CLIENT}}e"
Header always set X-Env-Scope "%{{AUD_SCOPE}}e"
Header always set X-Env-Decision "%{{AUD_DECISION}}e"
Header always set X-Env-Reason "%{{AUD_REASON}}e"
"""

    def write(self):
        for d in (self.logs, self.htdocs, self.root / "run", self.root / "cgi"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        (self.htdocs / "api.json").write_text('{"ok": true}\n')
        cgi = self.root / "cgi" / "env.cgi"
        cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                       "env | grep -E '^(AUD_|REMOTE_USER=|AUTH_TYPE=)' | sort\n")
        cgi.chmod(0o755)
        text = self.base_config() + self.locations.format(issuer=ISSUER, keys=self.keys.dir) + self.extra
        self.conf.write_text(text)

    # ------------------------------------------------------- lifecycle
    def start(self):
        self.write()
        self.stderr = open(self.stderr_path, "ab")
        env = httpd_env()
        for name, value in self.extra_env.items():
            env[name] = f"{env[name]} {value}" if name == "LD_PRELOAD" and env.get(name) else value
        self.proc = subprocess.Popen([APACHE2, "-f", str(self.conf), "-DFOREGROUND"],
                                     stdout=self.stderr, stderr=self.stderr, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"httpd exited with {self.proc.returncode}:\n{self.startup_output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"httpd did not listen on {self.port}:\n{self.startup_output()}")
        # Listening starts in the parent; wait until a child answers.
        self.wait_ready()

    def wait_ready(self, path="/public-probe"):
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.get(path)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("httpd does not answer")

    def startup_output(self):
        out = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        log = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
        return out + log

    def graceful(self):
        generation = self.error_log.read_text(errors="replace").count("resuming normal operations")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.error_log.read_text(errors="replace").count("resuming normal operations") > generation:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"httpd died on graceful restart:\n{self.startup_output()}")
            time.sleep(0.05)
        else:
            raise RuntimeError("graceful restart did not complete")
        self.wait_ready()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.stderr.close()

    # ---------------------------------------------------------- requests
    def get(self, path, token=None, authorization=None, headers=None, method="GET", timeout=10) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            return self.request(conn, path, token, authorization, headers, method)
        finally:
            conn.close()

    @staticmethod
    def request(conn, path, token=None, authorization=None, headers=None, method="GET") -> Response:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if authorization is not None:
            h["Authorization"] = authorization
        conn.request(method, path, headers=h)
        r = conn.getresponse()
        body = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body)

    # -------------------------------------------------------------- logs
    def audit_lines(self):
        if not self.audit_log.exists():
            return []
        return self.audit_log.read_bytes().split(b"\n")[:-1]

    def audit_records(self):
        return [json.loads(line) for line in self.audit_lines()]

    def audit_for(self, request_id, timeout=10):
        """The audit record of one request: written after the response, so
        wait for it."""
        assert request_id and request_id != "(null)", "no request id (mod_unique_id)"
        deadline = time.time() + timeout
        while True:
            found = [r for r in self.audit_records() if r.get("request_id") == request_id]
            if found or time.time() > deadline:
                break
            time.sleep(0.02)
        assert len(found) == 1, f"{len(found)} audit records for request {request_id}"
        return found[0]

    def error_log_size(self):
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def error_log_since(self, offset):
        with open(self.error_log, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")


@pytest.fixture(scope="session")
def workdir():
    if not MODULE.exists():
        pytest.exit(f"{MODULE} not found: build first (AUD_BUILDDIR={BUILDDIR})", returncode=2)
    if not APACHE2 or MODULES_DIR is None:
        pytest.exit(f"no httpd known: configure writes {BUILDDIR}/tests/httpd/httpd-paths "
                    "(or set AUD_HTTPD and AUD_HTTPD_MODULES)", returncode=2)
    d = Path(tempfile.mkdtemp(prefix="aud-httpd-"))
    os.chmod(d, 0o755)
    yield d
    if not os.environ.get("AUD_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def keys(workdir):
    return Keys(workdir / "keys")


@pytest.fixture(scope="session")
def mint(keys):
    return Minter(keys)


@pytest.fixture(scope="session")
def httpd(workdir, keys):
    server = Httpd(workdir / "server", keys)
    server.start()
    yield server
    server.stop()


# Fixtures that are running servers: the error-log guard checks each.
SERVER_FIXTURES = ["httpd", "restart_httpd", "remote_httpd"]


@pytest.fixture
def expect_errors():
    """Patterns of [error] lines a test expects (operator mistakes it
    provokes on purpose)."""
    return []


@pytest.fixture(autouse=True)
def error_log_guard(request, expect_errors):
    servers = [request.getfixturevalue(name) for name in SERVER_FIXTURES if name in request.fixturenames]
    offsets = [(s, s.error_log_size()) for s in servers]
    request.node.aud_servers = servers
    yield
    for server, offset in offsets:
        # Records and log lines are written after the response; give the
        # children a moment to finish them.
        time.sleep(0.05)
        check_error_log(server.error_log_since(offset), expect_errors)


def check_error_log(text, expected):
    bad = []
    for line in text.splitlines():
        if any(re.search(p, line) for p in CRASH_PATTERNS):
            bad.append(line)
        elif ERROR_LEVEL.search(line) and not any(re.search(p, line) for p in expected):
            bad.append(line)
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad)
