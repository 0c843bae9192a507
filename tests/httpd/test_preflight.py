"""CORS preflight: browsers never send Authorization on one, so a bearer
location refuses every preflight unless AudPreflight pass says otherwise;
default off, so that nothing opens without a word in the configuration."""
import pytest

from conftest import bearer, start_server

LOCATIONS = (
    bearer('/cors', 'CORS API', 'AudPreflight pass', 'Require aud-scope orders.read')
    + bearer('/strict', 'Strict API', 'Require valid-user')
)

PREFLIGHT = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization"}


@pytest.fixture(scope="module")
def cors_httpd(workdir, keys):
    server = start_server(workdir, keys, "preflight", LOCATIONS)
    yield server
    server.stop()


def test_preflight_passes_and_is_recorded(cors_httpd):
    r = cors_httpd.get("/cors/x", method="OPTIONS", headers=PREFLIGHT)
    assert r.status == 200
    assert r.backend_env()["DECISION"] == "preflight"
    rec = cors_httpd.audit_for(r.request_id)
    assert rec["decision"] == "preflight" and rec["method"] == "OPTIONS" and rec["status"] == 200


def test_only_real_preflights_pass(cors_httpd, mint):
    # Not OPTIONS, or no Origin, or no Access-Control-Request-Method: a token is needed.
    assert cors_httpd.get("/cors/x", headers=PREFLIGHT).status == 401
    assert cors_httpd.get("/cors/x", method="OPTIONS", headers={"Origin": "https://app.example"}).status == 401
    assert cors_httpd.get("/cors/x", method="OPTIONS",
                          headers={"Access-Control-Request-Method": "POST"}).status == 401
    # With a credential it is an ordinary request, judged as one.
    r = cors_httpd.get("/cors/x", method="OPTIONS", headers=PREFLIGHT, token=mint.rs256(aud="api://other"))
    assert r.status == 401


def test_default_is_off(cors_httpd):
    r = cors_httpd.get("/strict/x", method="OPTIONS", headers=PREFLIGHT)
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Bearer realm="Strict API"'
