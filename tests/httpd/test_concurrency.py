"""10,000 requests from concurrent keep-alive clients, good and bad tokens
mixed: exactly 10,000 well-formed audit lines, one per request, each telling
the truth about its request."""
import http.client
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import AUDIT_FIELDS, GRAPH, Httpd

TOTAL = 10_000
CLIENTS = 24


def test_ten_thousand_concurrent_requests(httpd, mint):
    good = [mint.rs256(sub=f"user{i}") for i in range(200)] + [mint.kid_rsa() for _ in range(50)]
    graph = [mint.rs256(aud=GRAPH) for _ in range(20)]
    forged = [mint.rs256(key=mint.keys.other) for _ in range(20)]
    invoices = [mint.rs256(aud="api://invoices") for _ in range(20)]
    # (path, Authorization value or None, expected status, expected decision)
    kinds = [
        ("/users/x", lambda: "Bearer " + random.choice(good), 200, "accept"),
        ("/users/x", lambda: "Bearer " + random.choice(graph), 401, "reject"),
        ("/users/x", lambda: "Bearer " + random.choice(forged), 401, "reject"),
        ("/users/x", lambda: None, 401, "reject"),
        ("/users/x", lambda: "Bearer a b", 400, "reject"),
        ("/users/x", lambda: "Bearer x.y.z", 401, "reject"),
        ("/invoices/x", lambda: "Bearer " + random.choice(invoices), 200, "accept"),
        ("/invoices/x", lambda: "Bearer " + random.choice(graph), 200, "audit_reject"),
        ("/api/orders/strict/x", lambda: "Bearer " + mint_cache(mint), 200, "accept"),
    ]
    rng = random.Random(1234)
    plan = [rng.randrange(len(kinds)) for _ in range(TOTAL)]
    chunks = [plan[i::CLIENTS] for i in range(CLIENTS)]

    time.sleep(0.3)  # let earlier tests' records land
    before = len(httpd.audit_lines())

    def client(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
        seen = []
        for k in chunk:
            path, auth, _, _ = kinds[k]
            value = auth()
            for attempt in range(3):
                try:
                    r = Httpd.request(conn, path, authorization=value)
                    break
                except (http.client.HTTPException, OSError):
                    # A keep-alive connection the server closed: reconnect.
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=30)
            else:
                raise AssertionError("request failed three times")
            seen.append((k, r.status, r.request_id))
        conn.close()
        return seen

    started = time.time()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [item for chunk in pool.map(client, chunks) for item in chunk]
    elapsed = time.time() - started
    assert len(results) == TOTAL

    for k, status, _ in results:
        assert status == kinds[k][2], (kinds[k][0], status)
    ids = {rid: k for k, _, rid in results}
    assert len(ids) == TOTAL, "request ids are not unique"

    deadline = time.time() + 30
    while time.time() < deadline and len(httpd.audit_lines()) < before + TOTAL:
        time.sleep(0.1)
    time.sleep(0.5)
    lines = httpd.audit_lines()[before:]
    assert len(lines) == TOTAL, f"{len(lines)} audit lines for {TOTAL} requests"

    recorded = set()
    for raw in lines:
        rec = json.loads(raw)  # every line is one complete JSON object
        assert list(rec) == AUDIT_FIELDS
        k = ids[rec["request_id"]]
        path, _, status, decision = kinds[k]
        assert (rec["uri"], rec["status"], rec["decision"]) == (path, status, decision), rec
        recorded.add(rec["request_id"])
    assert recorded == set(ids)
    print(f"\n{TOTAL} requests from {CLIENTS} clients in {elapsed:.1f} s")


_strict_token = []


def mint_cache(mint):
    if not _strict_token:
        _strict_token.append(mint.rs256(aud="api://orders"))
    return _strict_token[0]
