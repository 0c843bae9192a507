"""Fixtures for the aud-audit tests.

Logs are generated here, in Python, with known totals: the records are built
with the module's field order and compact ASCII-only JSON, and the expected
summary is computed by a small reference aggregator written independently of
the tool (Python's json module parses nothing here; it only writes). The
headline numbers of the main scenario are also written out by hand in the
tests, so that the tool and the reference cannot be wrong together.
"""
import gzip
import json
import os
import random
import subprocess
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRCDIR = Path(os.environ.get("AUD_SRCDIR") or REPO)
BUILDDIR = Path(os.environ.get("AUD_BUILDDIR") or REPO / "build")
BIN = BUILDDIR / "aud-audit"

# A fixed "now" for relative times and for the report's "generated" stamp.
NOW = "2026-11-26T00:00:00Z"
START = datetime(2026, 11, 23, 0, 0, 0, tzinfo=timezone.utc)
STEP = timedelta(seconds=10)

FIELDS = ["time", "api", "uri", "method", "client_ip", "status", "mode", "decision", "reasons", "hints",
          "aud", "matched", "iss", "sub", "client", "typ", "alg", "kid", "exp", "token_id", "request_id"]

DECISIONS = ("accept", "reject", "audit_reject", "preflight")


def rfc3339(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def record(time, api, decision, aud=None, matched=None, client=None, reasons=(), hints=(), mode="enforce"):
    """A record as the module writes it (field order included)."""
    token = aud is not None
    return {
        "time": rfc3339(time) if isinstance(time, datetime) else time,
        "api": api,
        "uri": "/v1/items/42",
        "method": "GET",
        "client_ip": "127.0.0.1",
        "status": 200 if decision != "reject" else 401,
        "mode": mode,
        "decision": decision,
        "reasons": list(reasons),
        "hints": [dict(h) for h in hints],
        "aud": list(aud) if aud is not None else None,
        "matched": matched,
        "iss": "https://issuer.example/" if token else None,
        "sub": "user-1" if token else None,
        "client": client,
        "typ": "JWT" if token else None,
        "alg": "RS256" if token else None,
        "kid": "k1" if token else None,
        "exp": 1800000000 if token else None,
        "token_id": "0123456789abcdef" if token else None,
        "request_id": None,
    }


def dumps(rec) -> str:
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=True)


def write_log(path: Path, records, compress=False):
    data = "".join(dumps(r) + "\n" for r in records).encode("ascii")
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


GRAPH = "https://graph.microsoft.com"


def graph_hint(client):
    return {"code": "graph_token", "text": f"Microsoft Graph token from {client}: fix the client"}


# The main scenario: (count, fields). Totals are spelled out in the tests.
SCENARIO = [
    # Users API, enforcing; AudAllow api://users api://users-v2.
    (12000, dict(api="Users API", decision="accept", aud=["api://users"], matched="api://users", client="app-web")),
    (3000, dict(api="Users API", decision="accept", aud=["api://users"], matched="api://users", client="app-mobile")),
    (45, dict(api="Users API", decision="accept", aud=["api://users-v2"], matched="api://users-v2",
              client="app-mobile")),
    (1500, dict(api="Users API", decision="reject", aud=[GRAPH], client="client-app-2", reasons=["aud_mismatch"],
                hints=[graph_hint("client-app-2")])),
    (400, dict(api="Users API", decision="reject", aud=[GRAPH], client="client-app-3", reasons=["aud_mismatch"],
               hints=[graph_hint("client-app-3")])),
    (250, dict(api="Users API", decision="reject", aud=["api://users"], matched="api://users", client="app-web",
               reasons=["expired"])),
    (100, dict(api="Users API", decision="reject", reasons=["no_token"])),
    # Invoices API, in audit mode.
    (5000, dict(api="Invoices API", decision="accept", aud=["api://invoices"], matched="api://invoices",
                client="billing", mode="audit")),
    (700, dict(api="Invoices API", decision="audit_reject", aud=["api://users"], client="app-web",
               reasons=["aud_mismatch"], mode="audit",
               hints=[{"code": "other_api", "text": "token for api://users sent to Invoices API"}])),
    (300, dict(api="Invoices API", decision="audit_reject", aud=["api://old-invoices", "api://x"], client="legacy",
               reasons=["expired", "aud_mismatch"], mode="audit", hints=[{"code": "old_audience"}])),
    # A location without AudApiName or AuthName would still have a name;
    # null is what an older or foreign writer may leave.
    (5, dict(api=None, decision="reject", reasons=["no_token"])),
]
SCENARIO_TOTAL = sum(n for n, _ in SCENARIO)  # 23,300


def scenario_records(seed=7):
    """The scenario's records, shuffled, one every 10 s from START."""
    items = []
    for n, fields in SCENARIO:
        items.extend([fields] * n)
    random.Random(seed).shuffle(items)
    return [record(START + i * STEP, **f) for i, f in enumerate(items)]


def aud_key(aud):
    return None if aud is None else tuple(aud)


def reference(records, apis=None, since=None, until=None, decisions=None):
    """An independent summary of records, in the shape of --json's "apis"
    (keyed by name rather than listed)."""
    out = {}
    for r in records:
        t = parse_time(r["time"])
        if decisions and r["decision"] not in decisions:
            continue
        if since and t < since:
            continue
        if until and t >= until:
            continue
        if apis and r["api"] not in apis:
            continue
        a = out.setdefault(r["api"], {
            "n": dict.fromkeys(DECISIONS, 0), "first": t, "last": t, "modes": set(),
            "auds": {}, "reasons": defaultdict(int), "hints": {}, "allow": defaultdict(int),
            "buckets": defaultdict(lambda: dict.fromkeys(DECISIONS, 0)),
        })
        d = r["decision"]
        a["n"][d] += 1
        a["first"] = min(a["first"], t)
        a["last"] = max(a["last"], t)
        a["modes"].add(r["mode"])
        key = aud_key(r["aud"])
        au = a["auds"].setdefault(key, {"n": dict.fromkeys(DECISIONS, 0), "allowed": False,
                                        "matched": defaultdict(int), "reasons": defaultdict(int),
                                        "clients": {}, "hints": {}})
        au["n"][d] += 1
        if r["matched"] is not None:
            au["allowed"] = True
            au["matched"][r["matched"]] += 1
            if d == "accept":
                a["allow"][r["matched"]] += 1
        cl = au["clients"].setdefault(r["client"], {"n": dict.fromkeys(DECISIONS, 0),
                                                    "reasons": defaultdict(int), "hints": {}})
        cl["n"][d] += 1
        for reason in dict.fromkeys(r["reasons"]):
            a["reasons"][reason] += 1
            au["reasons"][reason] += 1
            cl["reasons"][reason] += 1
        seen = set()
        for h in r["hints"]:
            hk = (h["code"], h.get("text"))
            if hk in seen:
                continue
            seen.add(hk)
            for target in (a["hints"], au["hints"], cl["hints"]):
                entry = target.setdefault(h["code"], {"count": 0, "texts": defaultdict(int)})
                entry["count"] += 1
                entry["texts"][h.get("text")] += 1
        hour = t.replace(minute=0, second=0, microsecond=0)
        a["buckets"][hour][d] += 1
    return out


def run(*args, stdin=None, now=True, check=None, env=None):
    """Runs aud-audit; check is the exit status expected (None: any)."""
    cmd = [str(BIN)]
    if now:
        cmd += ["--now", NOW]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=300, env=env)
    if check is not None:
        assert p.returncode == check, (p.returncode, p.stderr.decode(errors="replace"))
    return p


def run_json(*args, **kw):
    p = run("--json", *args, check=0, **kw)
    return json.loads(p.stdout)


def fmt(n: int) -> str:
    return f"{n:,}"


def pct(part: int, total: int) -> str:
    tenths = (part * 1000 + total // 2) // total
    return f"{tenths // 10}.{tenths % 10}%"


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    if not BIN.is_file():
        pytest.fail(f"{BIN} is missing: build first (make) or set AUD_BUILDDIR")


@pytest.fixture(scope="session")
def scenario(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenario")
    recs = scenario_records()
    return {"records": recs, "path": write_log(d / "audit.log", recs), "dir": d}
