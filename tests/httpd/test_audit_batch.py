"""Audit records batched per worker thread (AudAuditLogBuffer, issue 12).

Pins what an operator reading the log relies on: a record waits in its
thread's batch at most the configured seconds with no further traffic, a
batch that fills is written before then, and nothing gathered is lost when
a process ends (stop, graceful restart). test_restart_load.py runs the
batched default through two graceful restarts under load, to a file and to a
piped logger."""
import http.client
import json
import time

import pytest

from conftest import Httpd, bearer

LOCATIONS = bearer("/batch", "Batch API", "Require valid-user", allow="api://batch")


def records_by_id(server):
    return {json.loads(line)["request_id"]: json.loads(line) for line in server.audit_lines()}


def logged(server, request_id, timeout=10):
    """Waits until httpd has logged the request (its access-log line, written
    unbuffered by mod_log_config in the same log_transaction phase as the
    audit record): a process stopped before that never logs the request at
    all, which no audit log can help."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.access_log.exists() and request_id.encode() in server.access_log.read_bytes():
            return
        time.sleep(0.02)
    raise AssertionError(f"httpd did not log request {request_id}")


def started(workdir, keys, name, buffer):
    server = Httpd(workdir / name, keys, locations=LOCATIONS, audit_buffer=buffer)
    server.start()
    return server


def test_the_default_writes_a_record_within_a_second_or_so(workdir, keys, mint):
    server = started(workdir, keys, "batch-default", None)
    try:
        r = server.get("/batch/x", token=mint.rs256(aud="api://batch"))
        assert r.status == 200
        sent = time.time()
        while r.request_id not in records_by_id(server) and time.time() < sent + 10:
            time.sleep(0.05)
        waited = time.time() - sent
        assert r.request_id in records_by_id(server), "no record after 10 s"
        # One flusher tick (1 s) and the time it takes to run; no later
        # request was needed to push it out.
        assert waited < 2.5, f"the record took {waited:.1f} s"
    finally:
        server.stop()


def test_a_record_waits_in_its_batch_until_the_process_ends(workdir, keys, mint):
    server = started(workdir, keys, "batch-stop", "60")
    try:
        r = server.get("/batch/x", token=mint.rs256(aud="api://batch", sub="carol"))
        assert r.status == 200
        logged(server, r.request_id)
        time.sleep(1.5)
        # Batched for up to a minute: not written yet ...
        assert r.request_id not in records_by_id(server)
    finally:
        server.stop()
    # ... and written when the process stops.
    rec = records_by_id(server)[r.request_id]
    assert rec["decision"] == "accept" and rec["sub"] == "carol" and rec["status"] == 200


def test_a_graceful_restart_writes_the_old_generation_s_batches(workdir, keys, mint):
    server = started(workdir, keys, "batch-graceful", "60")
    try:
        before = server.get("/batch/x", token=mint.rs256(aud="api://other"))
        assert before.status == 401
        server.graceful()
        deadline = time.time() + 10
        while before.request_id not in records_by_id(server) and time.time() < deadline:
            time.sleep(0.05)
        rec = records_by_id(server).get(before.request_id)
        assert rec is not None, "the old children's record was not written when they exited"
        assert rec["decision"] == "reject" and rec["reasons"] == ["aud_mismatch"]
        after = server.get("/batch/x", token=mint.rs256(aud="api://batch"))
        assert after.status == 200
        logged(server, after.request_id)
    finally:
        server.stop()
    assert after.request_id in records_by_id(server)


def test_a_full_batch_is_written_before_its_time_and_nothing_is_lost(workdir, keys, mint):
    server = started(workdir, keys, "batch-full", "60")
    token = mint.rs256(aud="api://batch")
    ids = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            for _ in range(3000):
                r = server.request(conn, "/batch/x", token=token)
                assert r.status == 200
                ids.append(r.request_id)
        finally:
            conn.close()
        logged(server, ids[-1])
        # Far fewer than were sent (most wait in their batches for up to a
        # minute), but some: a batch that filled went out at once.
        early = len(server.audit_lines())
        assert 0 < early < len(ids), early
    finally:
        server.stop()
    lines = server.audit_lines()
    assert len(lines) == len(ids)
    assert sorted(json.loads(line)["request_id"] for line in lines) == sorted(ids)
