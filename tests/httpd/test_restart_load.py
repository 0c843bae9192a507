"""Two graceful restarts (SIGUSR1) in the middle of mixed load, on a server
of its own with two audit logs: a file (the main server's) and a pipe (a
virtual host's).

Pins what an operator relies on when reloading keys or configuration under
traffic: no request fails (no 5xx, no refused or reset connection: every
request opens a fresh connection and is never retried), and each response
has exactly one audit record, in the log of the host it went to, that
matches it by request id (mod_unique_id) with the status and decision the
client saw, each record one valid JSON line. Run twice: with the records
batched per thread (the default AudAuditLogBuffer: each process's batches
must reach both logs when its generation ends, and the pipe must get whole
records however the two processes' batches meet there) and written one by
one.
"""
import http.client
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import AUDIT_FIELDS, GRAPH, Httpd, check_error_log

TOTAL = 4000
CLIENTS = 8
RESTART_AT = (TOTAL // 3, 2 * TOTAL // 3)

LOCATIONS = """
<Location /load>
    AuthType Bearer
    AuthName "Load API"
    AudAllow api://load
    AudIssuer {issuer}
    AudKeyFile {keys}/rsa.pem
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module", params=[None, "Off"], ids=["batched", "one-by-one"])
def load_httpd(workdir, keys, request):
    root = workdir / f"restart-load-{request.param or 'batched'}"
    piped = root / "logs" / "piped-audit.log"
    vhosts = f"""
<VirtualHost 127.0.0.1:*>
    ServerName 127.0.0.1
</VirtualHost>
<VirtualHost 127.0.0.1:*>
    ServerName piped.test
    AudAuditLog "|/bin/sh -c 'cat >> {piped}'"
</VirtualHost>
"""
    server = Httpd(root, keys, locations=LOCATIONS, extra=vhosts, audit_buffer=request.param)
    server.piped = piped
    server.start()
    yield server
    server.stop()


def read_records(path):
    """Every line of an audit log as JSON; a line that does not parse fails."""
    if not path.exists():
        return []
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends in a partial line"
    records = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"{path.name} line {n} is not JSON ({e}): {line[:200]!r}")
        assert isinstance(rec, dict) and list(rec) == AUDIT_FIELDS, f"{path.name} line {n}: {line[:200]!r}"
        records.append(rec)
    return records


def test_graceful_restarts_under_load(load_httpd, mint):
    good = [mint.rs256(aud="api://load", sub=f"user{i}") for i in range(50)]
    wrong_aud = [mint.rs256(aud=GRAPH) for _ in range(10)]
    forged = [mint.rs256(aud="api://load", key=mint.keys.other) for _ in range(10)]
    # (Authorization value or None, expected status, expected decision)
    kinds = [
        (lambda rng: "Bearer " + rng.choice(good), 200, "accept"),
        (lambda rng: "Bearer " + rng.choice(wrong_aud), 401, "reject"),
        (lambda rng: "Bearer " + rng.choice(forged), 401, "reject"),
        (lambda rng: "Bearer x.y.z", 401, "reject"),
        (lambda rng: "Bearer %%%not-a-token%%%", 401, "reject"),
        (lambda rng: None, 401, "reject"),
    ]
    hosts = ["127.0.0.1", "piped.test"]
    plan = random.Random(4711)
    work = [(plan.randrange(len(kinds)), plan.randrange(len(hosts))) for _ in range(TOTAL)]
    chunks = [work[i::CLIENTS] for i in range(CLIENTS)]

    done = [0]
    lock = threading.Lock()
    restarts_done = []
    failures = []

    def client(index):
        rng = random.Random(index)
        seen = []
        for k, h in chunks[index]:
            auth = kinds[k][0](rng)
            headers = {"Host": hosts[h], "Connection": "close"}
            conn = http.client.HTTPConnection("127.0.0.1", load_httpd.port, timeout=30)
            try:
                r = Httpd.request(conn, "/load/x", authorization=auth, headers=headers)
            except (http.client.HTTPException, OSError) as e:
                # No retry: a refused, reset or closed connection is a
                # failure of the restart, not of the client.
                failures.append(f"{type(e).__name__}: {e}")
                continue
            finally:
                conn.close()
            seen.append((k, h, r.status, r.request_id))
            with lock:
                done[0] += 1
        return seen

    def restarter():
        for at in RESTART_AT:
            while True:
                with lock:
                    if done[0] >= at or len(failures) > 0:
                        break
                time.sleep(0.01)
            load_httpd.graceful()
            with lock:
                restarts_done.append(done[0])

    log_offset = load_httpd.error_log_size()
    restarts = threading.Thread(target=restarter)
    restarts.start()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [item for chunk in pool.map(client, range(CLIENTS)) for item in chunk]
    restarts.join(timeout=60)
    assert not restarts.is_alive(), "the restarts did not complete"
    assert len(restarts_done) == 2, restarts_done
    # Each restart completed while clients were still sending (the second
    # one's new children served requests too).
    assert not failures and restarts_done[-1] < TOTAL, f"restarts done after {restarts_done} of {TOTAL} requests"

    assert not failures, f"{len(failures)} failed requests, first: {failures[:5]}"
    assert len(results) == TOTAL
    server_errors = [(kinds[k][1], s) for k, _, s, _ in results if s >= 500]
    assert not server_errors, f"{len(server_errors)} 5xx responses"
    wrong = [(k, s) for k, _, s, _ in results if s != kinds[k][1]]
    assert not wrong, f"{len(wrong)} unexpected statuses, first: {wrong[:5]}"
    ids = [rid for _, _, _, rid in results]
    assert all(rid and rid != "(null)" for rid in ids), "a response without a request id"
    assert len(set(ids)) == TOTAL, "request ids are not unique"

    expected = {0: {}, 1: {}}
    for k, h, status, rid in results:
        expected[h][rid] = (status, kinds[k][2])
    logs = {0: load_httpd.audit_log, 1: load_httpd.piped}

    # Records are written after the response, the piped ones by another
    # process: wait until both logs hold every record.
    deadline = time.time() + 20
    while time.time() < deadline:
        counts = [len(read_records(logs[h])) for h in (0, 1)]
        if counts[0] >= len(expected[0]) and counts[1] >= len(expected[1]):
            break
        time.sleep(0.1)
    time.sleep(0.3)

    for h in (0, 1):
        records = read_records(logs[h])
        by_id = {}
        for rec in records:
            assert rec["request_id"] not in by_id, f"two records for {rec['request_id']} in {logs[h].name}"
            by_id[rec["request_id"]] = rec
        missing = set(expected[h]) - set(by_id)
        extra = set(by_id) - set(expected[h])
        assert not missing, f"{len(missing)} of {len(expected[h])} responses have no record in {logs[h].name}"
        assert not extra, f"{len(extra)} records in {logs[h].name} match no response to that host"
        for rid, (status, decision) in expected[h].items():
            rec = by_id[rid]
            assert (rec["status"], rec["decision"]) == (status, decision), (rid, rec)
            assert rec["api"] == "Load API" and rec["uri"] == "/load/x"

    check_error_log(load_httpd.error_log_since(log_offset), [])
