#!/usr/bin/python3
"""What mod_auth_aud costs httpd per request, in CPU time.

Starts one httpd (event MPM) on 127.0.0.1 with two locations serving the
same static JSON file: /noauth (no authentication) and /auth (AuthType
Bearer, RS256, audit log on, as deployed). wrk from Debian drives them in
interleaved rounds:

  noauth       no Authorization header
  one-token    one RS256 token, repeated
  distinct     5,000 distinct RS256 tokens, rotated (a wrk Lua script)

After each wrk run the user+system CPU time of every httpd process (from
/proc/<pid>/stat, parent and children) is divided by the number of requests
wrk completed. The report gives the median over rounds of that figure and of
its difference to the no-auth run of the same round.

Usage: bench/httpd_bench.py [--rounds N] [--duration S] [--connections C]
       [--threads T] [--tokens N] [--builddir DIR] [--no-audit] [--no-cache]
       [--keep]
"""
import argparse
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parents[1]
APACHE2 = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(root, port, module, threads, audit, cache):
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    mods = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so"
                     for m in ("mpm_event", "authn_core", "authz_core", "authz_user", "alias", "mime"))
    return f"""
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
Mutex file:{root} default
ErrorLog "{root}/error.log"
LogLevel warn
{mods}
LoadModule auth_aud_module "{module}"
{user}
# A fixed set of processes and threads, so that no process is started or
# stopped while CPU time is being counted.
StartServers 2
ServerLimit 2
ThreadsPerChild {threads}
MaxRequestWorkers {2 * threads}
MinSpareThreads 1
MaxSpareThreads {2 * threads}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
TypesConfig /etc/mime.types
AddType application/json .json
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Require all granted
</Directory>
AliasMatch "^/[^.]*$" "{root}/htdocs/api.json"
{f'AudAuditLog "{root}/audit.log"' if audit else ""}
{"" if cache else "AudCacheEntries 0"}

<Location /auth>
    AuthType Bearer
    AuthName "Bench API"
    AudAllow api://bench
    AudIssuer https://issuer.bench/
    AudKeyFile "{root}/rsa.pem"
    Require valid-user
</Location>
"""


def httpd_pids(parent):
    pids = [parent]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_seconds(parent):
    total = 0
    for pid in httpd_pids(parent):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK_TCK


def run_wrk(args, url, extra):
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s"] + extra + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk saw {non2xx.group(1)} failed responses:\n{out}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=5000)
    ap.add_argument("--server-threads", type=int, default=25)
    ap.add_argument("--builddir", default=os.environ.get("AUD_BUILDDIR") or str(REPO / "build"))
    ap.add_argument("--no-audit", action="store_true", help="run without AudAuditLog")
    ap.add_argument("--no-cache", action="store_true", help="AudCacheEntries 0: verify every token")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    module = Path(args.builddir).resolve() / ".libs" / "mod_auth_aud.so"
    if not module.exists():
        raise SystemExit(f"{module} not found: build first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    root = Path(tempfile.mkdtemp(prefix="aud-bench-"))
    os.chmod(root, 0o755)
    (root / "htdocs").mkdir()
    (root / "htdocs" / "api.json").write_text('{"ok": true}\n')
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "rsa.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    now = int(time.time())

    def token(i):
        return jwt.encode({"iss": "https://issuer.bench/", "aud": "api://bench", "sub": f"user{i}",
                           "azp": "bench-client", "scope": "read", "iat": now, "exp": now + 7200},
                          key, algorithm="RS256")

    print(f"minting {args.tokens} RS256 tokens ...", file=sys.stderr)
    tokens = [token(i) for i in range(args.tokens)]
    lua = root / "rotate.lua"
    lua.write_text("tokens = {\n" + ",\n".join(json.dumps(t) for t in tokens) + "\n}\n" + """
local i = 0
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]})
end
""")

    port = free_port()
    conf = root / "httpd.conf"
    conf.write_text(config(root, port, module, args.server_threads, not args.no_audit, not args.no_cache))
    proc = subprocess.Popen([APACHE2, "-f", str(conf), "-DFOREGROUND"])
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit((root / "error.log").read_text() if (root / "error.log").exists() else
                                     "httpd did not start")
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        scenarios = {
            "noauth": (f"{base}/noauth/x", []),
            "one-token": (f"{base}/auth/x", ["-H", f"Authorization: Bearer {tokens[0]}"]),
            "distinct": (f"{base}/auth/x", ["-s", str(lua)]),
        }
        # Warm-up: every process has loaded and seen the location.
        for name, (url, extra) in scenarios.items():
            subprocess.run(["wrk", "-t1", "-c4", "-d1s"] + extra + [url], capture_output=True, check=True)

        per_req = {name: [] for name in scenarios}
        for rnd in range(args.rounds):
            for name, (url, extra) in scenarios.items():
                before = cpu_seconds(proc.pid)
                n = run_wrk(args, url, extra)
                after = cpu_seconds(proc.pid)
                per_req[name].append((after - before) / n * 1e6)
                print(f"round {rnd + 1} {name:10s} {n:8d} requests  {per_req[name][-1]:7.1f} µs CPU/request",
                      file=sys.stderr)

        print(f"\nhttpd CPU time per request, median of {args.rounds} interleaved rounds "
              f"(wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.tokens} distinct tokens, "
              f"audit log {'off' if args.no_audit else 'on'}, token cache {'off' if args.no_cache else 'on'}):")
        for name in scenarios:
            med = statistics.median(per_req[name])
            deltas = [a - b for a, b in zip(per_req[name], per_req["noauth"])]
            extra = "" if name == "noauth" else f"   +{statistics.median(deltas):6.1f} µs over no auth"
            print(f"  {name:10s} {med:7.1f} µs{extra}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
