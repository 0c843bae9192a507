"""A server of its own: keys reloaded on graceful restart, the start-up
warning for a readable secret, a piped audit log and per-vhost audit logs."""
import json
import time

import pytest

from conftest import Httpd, public_pem

LOCATIONS = """
<Location /rot>
    AuthType Bearer
    AuthName "Rotating API"
    AudAllow api://rot
    AudKeyFile {keys}/../restart-keys/rotating.pem
    Require valid-user
</Location>
<Location /sec>
    AuthType Bearer
    AuthName "Secret API"
    AudAllow api://sec
    AudSecretFile {keys}/../restart-keys/open-secret.bin
    AudAlgorithms HS256
    Require valid-user
</Location>
"""


@pytest.fixture(scope="module")
def restart_httpd(workdir, keys):
    kdir = workdir / "restart-keys"
    kdir.mkdir(exist_ok=True)
    (kdir / "rotating.pem").write_bytes(public_pem(keys.rsa))
    secret = kdir / "open-secret.bin"
    secret.write_bytes(keys.secret)
    secret.chmod(0o644)
    root = workdir / "restart"
    piped = root / "logs" / "piped-audit.log"
    # This server runs without the token cache, so that every request here
    # takes the full verification path.
    vhosts = f"""
AudCacheEntries 0
<VirtualHost 127.0.0.1:*>
    ServerName 127.0.0.1
</VirtualHost>
<VirtualHost 127.0.0.1:*>
    ServerName other.test
    AudAuditLog logs/other-audit.log
</VirtualHost>
"""
    server = Httpd(root, keys, locations=LOCATIONS, extra=vhosts, audit_log=f"|/bin/sh -c 'cat >> {piped}'")
    server.piped = piped
    server.start()
    yield server
    server.stop()


def wait_lines(path, count, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            break
        time.sleep(0.05)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_readable_secret_warns_at_startup(restart_httpd):
    log = restart_httpd.error_log.read_text()
    assert "[auth_aud:warn]" in log and "AUD0002: AudSecretFile" in log and "open-secret.bin" in log
    assert "readable by group or others" in log


def test_piped_audit_log(restart_httpd, mint):
    before = len(wait_lines(restart_httpd.piped, 0, timeout=0))
    r = restart_httpd.get("/sec/x", token=mint.hs256(aud="api://sec"))
    assert r.status == 200
    records = wait_lines(restart_httpd.piped, before + 1)
    assert [rec["request_id"] for rec in records][-1] == r.request_id
    assert records[-1]["decision"] == "accept" and records[-1]["api"] == "Secret API"


def test_virtual_host_has_its_own_audit_log(restart_httpd, mint):
    other = restart_httpd.logs / "other-audit.log"
    r = restart_httpd.get("/rot/x", token=mint.rs256(aud="api://rot"), headers={"Host": "other.test"})
    assert r.status == 200
    records = wait_lines(other, 1)
    assert records and records[-1]["request_id"] == r.request_id
    assert all(rec["request_id"] != r.request_id for rec in wait_lines(restart_httpd.piped, 0, timeout=0))


def test_graceful_restart_reloads_keys(restart_httpd, mint, keys):
    old = mint.rs256(aud="api://rot")
    new = mint.rs256(aud="api://rot", key=keys.other)
    assert restart_httpd.get("/rot/x", token=old).status == 200
    assert restart_httpd.get("/rot/x", token=new).status == 401

    (restart_httpd.keys.dir.parent / "restart-keys" / "rotating.pem").write_bytes(public_pem(keys.other))
    # Until the configuration is re-read, the loaded keys stay.
    assert restart_httpd.get("/rot/x", token=old).status == 200
    restart_httpd.graceful()
    deadline = time.time() + 10
    while time.time() < deadline and restart_httpd.get("/rot/x", token=new).status != 200:
        time.sleep(0.1)
    # Old children may linger briefly; every fresh connection now gets new
    # keys.
    time.sleep(0.5)
    for _ in range(10):
        assert restart_httpd.get("/rot/x", token=new).status == 200
        assert restart_httpd.get("/rot/x", token=old).status == 401
    # And the audit logs still work after the restart.
    r = restart_httpd.get("/sec/x", token=mint.hs256(aud="api://sec"))
    records = wait_lines(restart_httpd.piped, 1)
    deadline = time.time() + 10
    while time.time() < deadline and not any(rec["request_id"] == r.request_id for rec in records):
        time.sleep(0.1)
        records = wait_lines(restart_httpd.piped, 1)
    assert any(rec["request_id"] == r.request_id for rec in records)
