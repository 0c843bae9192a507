#!/usr/bin/python3
"""mod_auth_aud side by side with mod_auth_openidc and mod_oauth2: httpd CPU per request.

One httpd (event MPM, two processes) on 127.0.0.1 serves the same small
static JSON file from these locations:

  noauth         no authentication
  noauth-403     no authentication, refused by "Require all denied" at the
                 same stage of the request (after the same walks and stat),
                 with authz_core's log line turned off there: the baseline of
                 the refusal mixes, since a refusal skips serving the file
  aud            mod_auth_aud: AuthType Bearer, AudAllow, AudIssuer, a JWKS
                 file with an RS256, an ES256 and an EdDSA key; audit log off
  aud+audit      the same location through a second port whose virtual host
                 has AudAuditLog (the directive is per server, not per location)
  openidc        mod_auth_openidc as an OAuth 2.0 resource server: AuthType
                 oauth20, OIDCOAuthVerifyCertFiles (static certificates, no
                 network), Require claim aud:... and iss:...
  oauth2         mod_oauth2: AuthType oauth2, OAuth2TokenVerify jwk (static
                 keys), Require oauth2_claim aud:... and iss:...

Before any timing, every location is checked: a good token must get 200, a
token for another audience a refusal (401, or 403 where the module answers an
authorization failure so), a token with a bad signature 401. A location that
lets a bad signature or a foreign audience through is left out of the table
altogether; an algorithm a location cannot verify at all is reported "n/a".

Mixes (wrk; Lua scripts rotate rings of distinct tokens, each wrk thread from
its own offset so that no thread replays another's recent tokens):

  one            one RS256 token, repeated
  ring5k         5,000 distinct RS256 tokens (fits mod_auth_aud's 8,192-entry
                 cache; warmed by an untimed run before each timed one)
  ring20k        20,000 distinct RS256 tokens (each process sees ~10,000
                 others before a token comes back: every request verifies)
  es256-20k      20,000 distinct ES256 tokens
  eddsa-20k      20,000 distinct EdDSA (Ed25519) tokens
  foreign        a validly signed token for another API, repeated (refused)
  badsig         a token with a bad signature, repeated (refused)
  garbage        garbage after "Bearer " (malformed, refused)

Measurement: the user+system CPU time of every httpd process (parent and
children, read from /proc while they run) over one wrk run, divided by the
requests wrk completed; minus, from the same round, the figure of the no-auth
location sent the very same requests (the mix's Authorization headers, which
httpd reads and parses whatever the location does): "added CPU per request";
for the refusal mixes the noauth-403 location's instead, sent the same
requests too. Every location/mix runs once per round, the order
rotated from round to round; the table gives medians over rounds and each
peer's added cost as a multiple of mod_auth_aud's (audit log off).

--scale measures instead, for mod_auth_aud only, whether the cost grows with
the number of Bearer <Location> sections (1 against 2,000, the token hitting
one of them: /api1000, and /api0 in a second setup) and with the number of
keys (a JWKS of 1 against 100 keys, the token's key last): three httpds side
by side, each with its own no-auth location, interleaved the same way.

The two peer packages are installed with apt-get when missing and run as
root; they are never test dependencies.

Usage: bench/peer_bench.py [--rounds N] [--duration S] [--connections C]
       [--threads T] [--server-threads N] [--builddir DIR] [--scale]
       [--only LOCS] [--no-install] [--no-openssl] [--keep]
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from httpd_bench import cpu_seconds, free_port  # noqa: E402  (same directory)

REPO = Path(__file__).resolve().parents[1]
ISS = "https://issuer.bench/"
AUD = "api://bench"
PEERS = {"openidc": ("libapache2-mod-auth-openidc", "mod_auth_openidc.so"),
         "oauth2": ("libapache2-mod-oauth2", "mod_oauth2.so")}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def httpd_paths(builddir):
    """httpd and its module directory as configure found them (apxs), else Debian's."""
    paths = {"httpd": "/usr/sbin/apache2", "modules": "/usr/lib/apache2/modules"}
    f = Path(builddir) / "tests" / "httpd" / "httpd-paths"
    if f.exists():
        for line in f.read_text().splitlines():
            k, sep, v = line.partition("=")
            if sep and k.strip() in paths and v.strip():
                paths[k.strip()] = v.strip()
    return paths["httpd"], Path(paths["modules"])


def ensure_peers(modules, install):
    missing = [pkg for pkg, so in PEERS.values() if not (modules / so).exists()]
    if missing and install and os.geteuid() == 0:
        log(f"installing {' '.join(missing)} ...")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing,
                       check=True, env=env, stdout=subprocess.DEVNULL)
    return {name: modules / so for name, (pkg, so) in PEERS.items() if (modules / so).exists()}


# ---------------------------------------------------------------- keys and tokens

class Keys:
    def __init__(self, root):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        # Same kid, other key: what a forged or corrupted signature looks like.
        self.rsa_bad = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_bad = ec.generate_private_key(ec.SECP256R1())
        self.ed_bad = ed25519.Ed25519PrivateKey.generate()
        self.jwks = {"keys": [self.jwk(self.rsa, "rsa1"), self.jwk(self.ec, "ec1"), self.jwk(self.ed, "ed1")]}
        (root / "keys.jwks").write_text(json.dumps(self.jwks))
        (root / "rsa.crt").write_bytes(self.cert(self.rsa))
        (root / "ec.crt").write_bytes(self.cert(self.ec))
        self.now = int(time.time())

    @staticmethod
    def jwk(key, kid):
        pub = key.public_key()
        if isinstance(key, rsa.RSAPrivateKey):
            d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pub))
            d.update(alg="RS256")
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            d = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(pub))
            d.update(alg="ES256")
        else:
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            d = {"kty": "OKP", "crv": "Ed25519", "x": jwt.utils.base64url_encode(raw).decode(), "alg": "EdDSA"}
        d.update(kid=kid, use="sig")
        return d

    @staticmethod
    def cert(key):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.bench")])
        now = datetime.datetime.now(datetime.timezone.utc)
        c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .sign(key, hashes.SHA256()))
        return c.public_bytes(serialization.Encoding.PEM)

    def token(self, alg, i=0, aud=AUD, bad=False):
        key, kid = {"RS256": (self.rsa_bad if bad else self.rsa, "rsa1"),
                    "ES256": (self.ec_bad if bad else self.ec, "ec1"),
                    "EdDSA": (self.ed_bad if bad else self.ed, "ed1")}[alg]
        return jwt.encode({"iss": ISS, "aud": aud, "sub": f"user{i}", "azp": "bench-client", "scope": "read",
                           "iat": self.now, "exp": self.now + 7200}, key, algorithm=alg, headers={"kid": kid})


def ring_script(root, name, tokens, threads):
    """A wrk script that rotates through TOKENS, each wrk thread from its own offset."""
    data = root / f"{name}.tokens"
    data.write_text("\n".join(tokens) + "\n")
    lua = root / f"{name}.lua"
    lua.write_text(f"""
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  tokens = {{}}
  for line in io.lines("{data}") do tokens[#tokens + 1] = "Bearer " .. line end
  i = math.floor(id * #tokens / {threads})
end
function request()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", nil, {{["Authorization"] = tokens[i]}})
end
""")
    return ["-s", str(lua)]


# ---------------------------------------------------------------- httpd

def common_config(root, ports, modules, server_threads, loads):
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    mods = "\n".join(f"LoadModule {m}_module {modules}/mod_{m}.so"
                     for m in ("mpm_event", "authn_core", "authz_core", "authz_user", "alias", "mime"))
    listen = "\n".join(f"Listen 127.0.0.1:{p}" for p in ports)
    return f"""
ServerRoot "{root}"
ServerName 127.0.0.1
{listen}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
Mutex file:{root} default
ErrorLog "{root}/error.log"
LogLevel warn
{mods}
{loads}
{user}
# A fixed set of processes and threads, so that no process is started or
# stopped while CPU time is being counted.
StartServers 2
ServerLimit 2
ThreadsPerChild {server_threads}
MaxRequestWorkers {2 * server_threads}
MinSpareThreads 1
MaxSpareThreads {2 * server_threads}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
TypesConfig /etc/mime.types
AddType application/json .json
# What the file costs to serve is the same for every location and is
# subtracted, but per-request mmap/munmap (TLB shoot-downs across the
# process's threads) and .htaccess look-ups in every parent directory add
# noise to everything measured beside them.
EnableMMAP Off
DocumentRoot "{root}/htdocs"
<Directory />
    AllowOverride None
</Directory>
<Directory "{root}/htdocs">
    Require all granted
</Directory>
AliasMatch "^/[^.]*$" "{root}/htdocs/api.json"
"""


def aud_location(path, keyfile):
    return f"""
<Location {path}>
    AuthType Bearer
    AuthName "Bench API"
    AudAllow {AUD}
    AudIssuer {ISS}
    AudKeyFile "{keyfile}"
    Require valid-user
</Location>
"""


def peer_config(root, keys, peers):
    out = []
    if "openidc" in peers:
        out.append(f"""
LoadModule auth_openidc_module "{peers['openidc']}"
# Server-wide only (not allowed in <Location>). RSA only: 2.4.12 crashes at
# start-up (SIGSEGV in oidc_jwk_rsa_bio_to_jwk) when given an EC certificate.
OIDCOAuthVerifyCertFiles rsa1#{root}/rsa.crt
<Location /openidc>
    AuthType oauth20
    <RequireAll>
        Require claim aud:{AUD}
        Require claim iss:{ISS}
    </RequireAll>
</Location>
""")
    if "oauth2" in peers:
        # No Ed25519: its cjose cannot import an OKP key (a syntax error at start-up).
        jwks = [json.dumps(k, separators=(",", ":")) for k in keys.jwks["keys"] if k["kty"] != "OKP"]
        verify = "\n".join(f"    OAuth2TokenVerify jwk '{j}' verify.exp=required&verify.iat=optional&verify.iss=skip"
                           for j in jwks)
        out.append(f"""
LoadModule oauth2_module "{peers['oauth2']}"
<Location /oauth2>
    AuthType oauth2
{verify}
    <RequireAll>
        Require oauth2_claim aud:{AUD}
        Require oauth2_claim iss:{ISS}
    </RequireAll>
</Location>
""")
    return "\n".join(out)


class Httpd:
    def __init__(self, httpd, root, conf_text, ports):
        self.root, self.ports = root, ports
        root.mkdir(parents=True, exist_ok=True)
        (root / "htdocs").mkdir(exist_ok=True)
        (root / "htdocs" / "api.json").write_text('{"ok": true}\n')
        conf = root / "httpd.conf"
        conf.write_text(conf_text)
        self.proc = subprocess.Popen([httpd, "-f", str(conf), "-DFOREGROUND"])
        deadline = time.time() + 30
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.time() > deadline or self.proc.poll() is not None:
                        err = root / "error.log"
                        self.stop()
                        raise SystemExit(err.read_text() if err.exists() else "httpd did not start")
                    time.sleep(0.1)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def status(port, path, header):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": header} if header else {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def run_wrk(args, url, extra, expect_ok, duration=None):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", f"{duration or args.duration}s"] + extra + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    refused = int(m.group(1)) if m else 0
    errors = re.search(r"Socket errors: (.*)", out)
    if expect_ok and refused:
        raise SystemExit(f"{url}: {refused} of {n} responses refused where all should pass:\n{out}")
    if not expect_ok and refused != n:
        raise SystemExit(f"{url}: {n - refused} of {n} responses passed where all should be refused:\n{out}")
    if errors:
        # Seen now and then as "read N" when the event MPM closes idle
        # keep-alive connections under load; wrk reconnects.
        log(f"  (wrk: socket errors {errors.group(1)})")
    return n


def measure(args, runs, warm):
    """RUNS: [(server, key, url, extra, expect_ok, base)]; BASE is the key of the run whose figure is
    subtracted (a no-auth location sent the same requests), None for such a baseline itself.
    Returns medians {key: added µs} (runs with a base), {key: µs}, and {key: error-log lines per request}."""
    loglines = {}
    per_req = {r[1]: [] for r in runs}
    added = {r[1]: [] for r in runs if r[5] is not None}
    for rnd in range(args.rounds):
        shift = (rnd * len(runs)) // args.rounds
        order = runs[shift:] + runs[:shift]
        this = {}
        for server, key, url, extra, ok, _ in order:
            errlog = server.root / "error.log"
            if key in warm:
                run_wrk(args, url, extra, ok, duration=warm[key])
            # The logs are never truncated while httpd writes them: on this
            # machine's ext4 (mounted with discard) appending to a file just
            # truncated cost httpd several µs more per request than appending
            # to a long one, which is what a server's logs are. The lines a
            # run wrote are counted from where the file ended before it.
            start = errlog.stat().st_size if errlog.exists() else 0
            before = server.cpu()
            n = run_wrk(args, url, extra, ok)
            after = server.cpu()
            this[key] = (after - before) / n * 1e6
            with open(errlog, "rb") as f:
                f.seek(start)
                lines = f.read().count(b"\n")
            loglines[key] = max(loglines.get(key, 0), lines / n)
            log(f"round {rnd + 1}/{args.rounds} {'/'.join(key):28s} {n:8d} requests {this[key]:8.1f} µs CPU/request"
                f"  {lines / n:.2f} error-log lines/request")
        for _, key, _, _, _, base in runs:
            per_req[key].append(this[key])
            if base is not None:
                added[key].append(this[key] - this[base])
    return ({k: statistics.median(v) for k, v in added.items()},
            {k: statistics.median(v) for k, v in per_req.items()}, loglines)


def keep_only(runs, only):
    """The runs ONLY names (locations or location/mix keys), with the baselines they need."""
    if not only:
        return runs
    names = set(only.split(","))
    kept = [r for r in runs if r[5] is not None and (r[1][0] in names or "/".join(r[1]) in names)]
    bases = {r[5] for r in kept}
    return [r for r in runs if r[1] in bases] + kept


def openssl_speed():
    try:
        out = subprocess.run(["openssl", "speed", "-seconds", "1", "rsa2048", "ecdsap256", "ed25519"],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    res = {}
    m = re.search(r"^rsa 2048 bits\s+\S+\s+\S+\s+\S+\s+(\S+)", out, re.M)
    if m:
        res["RSA-2048 verify/s"] = m.group(1)
    m = re.search(r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+\S+\s+(\S+)", out, re.M)
    if m:
        res["ECDSA P-256 verify/s"] = m.group(1)
    m = re.search(r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+\s+\S+\s+\S+\s+(\S+)", out, re.M)
    if m:
        res["Ed25519 verify/s"] = m.group(1)
    return res


# ---------------------------------------------------------------- the two modes

LOC_NAMES = {"aud": "mod_auth_aud", "aud+audit": "mod_auth_aud + audit log", "openidc": "mod_auth_openidc",
             "oauth2": "mod_oauth2"}
MIXES = [("one", "one RS256 token repeated", True), ("ring5k", "5,000 distinct RS256 (cached)", True),
         ("ring20k", "20,000 distinct RS256", True), ("es256-20k", "20,000 distinct ES256", True),
         ("eddsa-20k", "20,000 distinct EdDSA", True), ("foreign", "other API's token (refused)", False),
         ("badsig", "bad signature (refused)", False), ("garbage", "garbage after Bearer (refused)", False)]


# The floor (bench/mod_bench_verify.c): one bare verification per request.
FLOORS = [("ring20k", "RS256"), ("es256-20k", "ES256"), ("eddsa-20k", "EdDSA")]
# The calibration: locations that spend a known amount of thread CPU and
# nothing else; what the bench reports for them shows what it adds around a
# longer request.
BURNS_US = [8, 16, 32]


def floor_path(alg):
    return f"/floor-{alg.lower()}"


def floor_config(floor_module):
    if floor_module is None:
        return ""
    out = [f'LoadModule bench_verify_module "{floor_module}"']
    for _, alg in FLOORS:
        out.append(f"<Location {floor_path(alg)}>\n    AuthType BenchVerify\n    BenchVerify {alg}\n"
                   "    Require valid-user\n</Location>")
    for us in BURNS_US:
        out.append(f"<Location /burn{us}>\n    AuthType BenchVerify\n    BenchBurn {us}\n"
                   "    Require valid-user\n</Location>")
    return "\n".join(out) + "\n"


def check_locations(ports, keys, locations):
    """{loc: set of algorithms it verifies}; a location that accepts what it must refuse is dropped."""
    port_of = {"aud": ports[0], "aud+audit": ports[1], "openidc": ports[0], "oauth2": ports[0]}
    path_of = {"aud": "/aud/x", "aud+audit": "/aud/x", "openidc": "/openidc/x", "oauth2": "/oauth2/x"}
    usable, report = {}, []
    for loc in locations:
        port, path = port_of[loc], path_of[loc]
        algs, broken = set(), []
        for alg in ("RS256", "ES256", "EdDSA"):
            good = status(port, path, "Bearer " + keys.token(alg))
            foreign = status(port, path, "Bearer " + keys.token(alg, aud="api://other"))
            bad = status(port, path, "Bearer " + keys.token(alg, bad=True))
            report.append(f"  {loc:10s} {alg:6s} good {good}  foreign audience {foreign}  bad signature {bad}")
            if bad == 200 or foreign == 200:
                broken.append(alg)
            elif good == 200 and bad == 401 and foreign in (401, 403):
                algs.add(alg)
        garbage = status(port, path, "Bearer !!not*a*token**")
        none = status(port, path, None)
        report.append(f"  {loc:10s} garbage {garbage}  no token {none}")
        if garbage == 200 or none == 200:
            broken.append("garbage/none")
        if broken:
            log(f"{loc}: lets through what it must refuse ({', '.join(broken)}): left out of the table")
        elif "RS256" not in algs:
            log(f"{loc}: does not accept a good RS256 token: left out of the table")
        else:
            usable[loc] = algs
    return usable, report


def peers_mode(args, httpd, modules, module, root):
    peers = ensure_peers(modules, not args.no_install)
    for name in PEERS:
        if name not in peers:
            log(f"{name}: module not installed, left out")
    log("generating keys ...")
    keys = Keys(root)
    ports = [free_port(), free_port()]
    conf = common_config(root, ports, modules, args.server_threads, f'LoadModule auth_aud_module "{module}"')
    conf += aud_location("/aud", root / "keys.jwks")
    conf += "<Location /noauth-403>\n    Require all denied\n    LogLevel authz_core:crit\n</Location>\n"
    floor_module = module.parent.parent / "bench" / ".libs" / "mod_bench_verify.so"
    if not floor_module.exists():
        log(f"{floor_module} not found (make bench): no floor rows")
        floor_module = None
    conf += floor_config(floor_module)
    conf += peer_config(root, keys, peers)
    # The audit log is a per-server setting: a second port, same locations.
    conf += f"""
<VirtualHost 127.0.0.1:{ports[1]}>
    AudAuditLog "{root}/audit.log"
</VirtualHost>
"""
    server = Httpd(httpd, root, conf, ports)
    try:
        locations = ["aud", "aud+audit"] + list(peers)
        usable, report = check_locations(ports, keys, locations)
        log("behaviour checks (HTTP status):\n" + "\n".join(report))
        if floor_module is not None:
            for _, alg in FLOORS:
                got = status(ports[0], f"{floor_path(alg)}/x", None)
                if got != 200:
                    raise SystemExit(f"{floor_path(alg)}: {got}, not 200")
        audit = root / "audit.log"
        # Records wait up to AudAuditLogBuffer (1 s) in their thread's batch.
        deadline = time.time() + 5
        while "aud+audit" in usable and not (audit.exists() and audit.read_text().count("\n") >= 3):
            if time.time() > deadline:
                raise SystemExit("the audit-log port wrote no audit records")
            time.sleep(0.1)

        log("minting tokens (20,000 each of RS256, ES256, EdDSA) ...")
        rs = [keys.token("RS256", i) for i in range(20000)]
        es = [keys.token("ES256", i) for i in range(20000)]
        ed = [keys.token("EdDSA", i) for i in range(20000)]
        extra = {
            "one": ["-H", f"Authorization: Bearer {rs[0]}"],
            "ring5k": ring_script(root, "rs5k", rs[:5000], args.threads),
            "ring20k": ring_script(root, "rs20k", rs, args.threads),
            "es256-20k": ring_script(root, "es20k", es, args.threads),
            "eddsa-20k": ring_script(root, "ed20k", ed, args.threads),
            "foreign": ["-H", f"Authorization: Bearer {keys.token('RS256', aud='api://other')}"],
            "badsig": ["-H", f"Authorization: Bearer {keys.token('RS256', bad=True)}"],
            "garbage": ["-H", "Authorization: Bearer !!not*a*token**"],
        }
        need = {"es256-20k": "ES256", "eddsa-20k": "EdDSA"}
        base = {"aud": f"http://127.0.0.1:{ports[0]}/aud/x", "aud+audit": f"http://127.0.0.1:{ports[1]}/aud/x",
                "openidc": f"http://127.0.0.1:{ports[0]}/openidc/x", "oauth2": f"http://127.0.0.1:{ports[0]}/oauth2/x"}
        # Each mix is measured against a no-auth location sent the same
        # requests (the Authorization header included): reading a 700-byte
        # header is httpd's work, paid whatever module is in the location.
        # Refused mixes against the no-auth location that refuses at the same
        # stage; the audit-log column against its own port's locations.
        plain = ("noauth", "-")
        runs = [(server, plain, f"http://127.0.0.1:{ports[0]}/noauth/x", [], True, None)]

        def baseline(audit_port, mix, ok):
            name = "noauth@audit" if audit_port else "noauth"
            if not any(r[1] == (name, mix) for r in runs):
                path = "/noauth/x" if ok else "/noauth-403/x"
                runs.append((server, (name, mix), f"http://127.0.0.1:{ports[1 if audit_port else 0]}{path}",
                             extra[mix], ok, None))
            return (name, mix)

        for loc in usable:
            for mix, _, ok in MIXES:
                if mix in need and need[mix] not in usable[loc]:
                    continue
                runs.append((server, (loc, mix), base[loc], extra[mix], ok, baseline(loc == "aud+audit", mix, ok)))
        # The same requests as the new-token mixes (the floor ignores them).
        for mix, alg in FLOORS if floor_module is not None else []:
            runs.append((server, ("floor", mix), f"http://127.0.0.1:{ports[0]}{floor_path(alg)}/x", extra[mix], True,
                         baseline(False, mix, True)))
        for us in BURNS_US if floor_module is not None else []:
            runs.append((server, ("burn", str(us)), f"http://127.0.0.1:{ports[0]}/burn{us}/x", [], True, plain))
        runs = keep_only(runs, args.only)
        # Long enough that each process has seen nearly every token of the ring
        # (at ~7,000 requests/s, each token ~3.5 times per process).
        warm = {(loc, "ring5k"): 5 for loc in usable}
        seen = set()
        for _, key, url, ex, ok, _ in runs:  # every process has loaded its keys and seen each location
            if key[0] not in seen:
                seen.add(key[0])
                run_wrk(args, url, ex, ok, duration=1)
        errlog = root / "error.log"
        startup_errors = errlog.read_text()
        os.truncate(errlog, 0)
        added, per_req, loglines = measure(args, runs, warm)
    finally:
        server.stop()
    return usable, added, per_req, loglines, startup_errors


def table_peers(args, usable, added, per_req, loglines):
    cols = [c for c in LOC_NAMES if c in usable]
    peers = [c for c in ("openidc", "oauth2") if c in usable]
    head = ["mix"] + [LOC_NAMES[c] for c in cols] + [f"{LOC_NAMES[p]} ÷ mod_auth_aud" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for mix, label, _ in MIXES:
        row = [label]
        for c in cols:
            row.append(f"{added[(c, mix)]:+.1f} µs" if (c, mix) in added else "n/a")
        for p in peers:
            a, b = added.get(("aud", mix)), added.get((p, mix))
            if a is None or b is None:
                row.append("—")
            elif a >= 5.0:
                row.append(f"{b / a:.1f}x")
            else:
                # Below 5 µs the noise dominates mod_auth_aud's figure: the
                # ratio is given as the bound that 5 µs would give.
                row.append(f"≥ {b / 5.0:.1f}x" if b > 0 else "—")
        lines.append("| " + " | ".join(row) + " |")
    bases = [f"{mix} {per_req[('noauth', mix)]:.1f}" for mix, _, _ in MIXES if ("noauth", mix) in per_req]
    plain = per_req.get(("noauth", "-"))
    lines.append((f"\nno-auth location without a token: {plain:.1f} µs httpd CPU per request. " if plain else "\n") +
                 f"Every cell is the added CPU per request over a no-auth location sent the same requests, the "
                 f"refused mixes over one that refuses them at the same stage (Require all denied), the audit-log "
                 f"column over its own port's: " + ", ".join(bases) + f" µs (median of {args.rounds} interleaved "
                 f"rounds of {args.duration} s, wrk -t{args.threads} -c{args.connections}). Where mod_auth_aud adds "
                 f"less than 5 µs (below that the noise dominates) the ratio is the lower bound that 5 µs gives.")
    noisy = []
    for c in cols:
        worst = max((loglines.get((c, m), 0), m) for m, _, _ in MIXES)
        noisy.append(f"{LOC_NAMES[c]} {worst[0]:.1f} ({worst[1]})")
    lines.append("Error-log lines per request at LogLevel warn, the most of any mix (they are part of the cost): "
                 + ", ".join(noisy) + ".")
    if any(k[0] == "floor" for k in added):
        lines += ["", "New tokens against the floor: a location whose only work is one bare verification per request "
                  "(bench/mod_bench_verify.c: hash, then EVP_PKEY_verify on a ready context; EVP_DigestVerify for "
                  "Ed25519), sent the same requests:", "",
                  "| new token | floor (bare verification) | mod_auth_aud | mod_auth_aud beyond the floor |",
                  "|---|---|---|---|"]
        for mix, alg in FLOORS:
            f, a = added.get(("floor", mix)), added.get(("aud", mix))
            if f is not None and a is not None:
                lines.append(f"| {alg}, 20,000 distinct | {f:+.1f} µs | {a:+.1f} µs | {a - f:+.1f} µs |")
    if any(k[0] == "burn" for k in added):
        lines += ["", "Calibration: locations that spend a known amount of thread CPU per request and do nothing "
                  "else (BenchBurn); what the bench reports beyond that is what a longer request costs httpd and "
                  "the kernel around it:", "", "| CPU spent | reported | reported beyond it |", "|---|---|---|"]
        for us in BURNS_US:
            b = added.get(("burn", str(us)))
            if b is not None:
                lines.append(f"| {us} µs | {b:+.1f} µs | {b - us:+.1f} µs |")
    return "\n".join(lines)


def scale_mode(args, httpd, modules, module, root):
    log("generating keys (100 RSA-2048) ...")
    keys = Keys(root)
    # The token's key last in the set: a linear search would pay for all 100.
    many = [Keys.jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), f"other{i}")
            for i in range(99)] + [Keys.jwk(keys.rsa, "rsa1")]
    (root / "one.jwks").write_text(json.dumps({"keys": [Keys.jwk(keys.rsa, "rsa1")]}))
    (root / "many.jwks").write_text(json.dumps({"keys": many}))
    load = f'LoadModule auth_aud_module "{module}"'
    sections = "".join(aud_location(f"/api{i}", root / "one.jwks") for i in range(2000))
    # One httpd per configuration; several setups may share one (paths differ).
    servers_conf = {"one": aud_location("/api", root / "one.jwks"), "many-sections": sections,
                    "many-keys": aud_location("/api", root / "many.jwks")}
    setups = {
        "1 section, 1 key": ("one", "/api/x"),
        "2,000 sections, 1 key, token to /api1000": ("many-sections", "/api1000/x"),
        "2,000 sections, 1 key, token to /api0": ("many-sections", "/api0/x"),
        "1 section, 100 keys (token's key last)": ("many-keys", "/api/x"),
    }
    log("minting 20,000 RS256 tokens ...")
    rs = [keys.token("RS256", i) for i in range(20000)]
    mixes = {"one": ["-H", f"Authorization: Bearer {rs[0]}"],
             "ring20k": ring_script(root, "rs20k", rs, args.threads)}
    servers, runs, base_of = {}, [], {}
    try:
        for n, (sname, locs) in enumerate(servers_conf.items()):
            port = free_port()
            sroot = root / f"s{n}"
            servers[sname] = Httpd(httpd, sroot,
                                   common_config(sroot, [port], modules, args.server_threads, load) + locs, [port])
            runs.append((servers[sname], ("noauth", sname), f"http://127.0.0.1:{port}/noauth/x", [], True, None))
            # The baselines of the mixes: the same requests, token included.
            for mix, extra in mixes.items():
                runs.append((servers[sname], (f"noauth@{sname}", mix), f"http://127.0.0.1:{port}/noauth/x", extra,
                             True, None))
        for name, (sname, path) in setups.items():
            server = servers[sname]
            port = server.ports[0]
            good = status(port, path, "Bearer " + rs[0])
            bad = status(port, path, "Bearer " + keys.token("RS256", bad=True))
            foreign = status(port, path, "Bearer " + keys.token("RS256", aud="api://other"))
            log(f"  {name:42s} good {good}  foreign audience {foreign}  bad signature {bad}")
            if (good, foreign, bad) != (200, 401, 401):
                raise SystemExit(f"{name}: does not validate as it must")
            base_of[name] = ("noauth", sname)
            for mix, extra in mixes.items():
                runs.append((server, (name, mix), f"http://127.0.0.1:{port}{path}", extra, True,
                             (f"noauth@{sname}", mix)))
        for _, key, url, ex, ok, _ in runs:
            run_wrk(args, url, ex, ok, duration=1)
        added, per_req, _ = measure(args, runs, {})
    finally:
        for s in servers.values():
            s.stop()
    lines = ["| setup | no auth, CPU per request | one token repeated | 20,000 distinct tokens |", "|---|---|---|---|"]
    for name in setups:
        lines.append(f"| {name} | {per_req[base_of[name]]:.1f} µs | {added[(name, 'one')]:+.1f} µs "
                     f"| {added[(name, 'ring20k')]:+.1f} µs |")
    lines.append(f"\nmod_auth_aud only, RS256; added CPU per request over the same httpd's no-auth location sent "
                 f"the same requests; the second column is that location without a token "
                 f"(median of {args.rounds} interleaved rounds of {args.duration} s, wrk -t{args.threads} "
                 f"-c{args.connections}).")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=3, help="seconds per timed wrk run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--server-threads", type=int, default=25, help="threads per httpd process (2 processes)")
    ap.add_argument("--builddir", default=os.environ.get("AUD_BUILDDIR") or str(REPO / "build"))
    ap.add_argument("--scale", action="store_true", help="sections and keys, mod_auth_aud only")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get the peer modules")
    ap.add_argument("--no-openssl", action="store_true", help="skip openssl speed")
    ap.add_argument("--only", help="comma-separated location names or location/mix keys to time (and baselines)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    builddir = Path(args.builddir).resolve()
    module = builddir / ".libs" / "mod_auth_aud.so"
    if not module.exists():
        raise SystemExit(f"{module} not found: build first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    httpd, modules = httpd_paths(builddir)

    root = Path(tempfile.mkdtemp(prefix="aud-peer-bench-"))
    os.chmod(root, 0o755)
    started = time.time()
    try:
        if args.scale:
            table = scale_mode(args, httpd, modules, module, root)
        else:
            usable, added, per_req, loglines, errors = peers_mode(args, httpd, modules, module, root)
            table = table_peers(args, usable, added, per_req, loglines)
            if errors.strip():
                log("httpd error log before timing (last lines):\n" + "\n".join(errors.splitlines()[-10:]))
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    speed = None if args.no_openssl else openssl_speed()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{when}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"run took {time.time() - started:.0f} s\n")
    print(table)
    if speed:
        print("\nopenssl speed -seconds 1 rsa2048 ecdsap256 ed25519 (one core): " +
              ", ".join(f"{k} {v}" for k, v in speed.items()))


if __name__ == "__main__":
    main()
