"""One audit record per client request, with the final decision and status.

Regression (hostile review): with an ErrorDocument 401 inside a protected
location, the internal redirect to the error page authenticated again and
the request got two identical reject records; when the error page lay in a
nested section, there were records for two APIs, both with status 401.
aud-audit then counted the request twice."""
import pytest

from conftest import bearer, start_server

LOCATIONS = (
    bearer('/errdoc', 'ErrDoc API', 'Require valid-user', 'ErrorDocument 401 /errdoc/401.html')
    + bearer('/errnest', 'Outer API', 'Require user bob', 'ErrorDocument 403 /errnest/inner/403.html')
    + """<Location /errnest/inner>
    AudApiName "Inner API"
    AudAllow api://inner
</Location>
"""
)

def error_pages(server):
    for page in ("errdoc/401.html", "errnest/inner/403.html"):
        f = server.htdocs / page
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("<p>refused</p>\n")


@pytest.fixture(scope="module")
def records_httpd(workdir, keys):
    server = start_server(workdir, keys, "one-record", LOCATIONS, prepare=error_pages)
    yield server
    server.stop()


def records_for(server, request_id):
    server.audit_for(request_id)  # waits for the record, asserts exactly one
    return [r for r in server.audit_records() if r.get("request_id") == request_id]


def test_error_document_in_the_same_location_gives_one_record(records_httpd, mint):
    r = records_httpd.get("/errdoc/x", token=mint.rs256(aud="api://other"))
    assert r.status == 401 and b"refused" in r.body
    (rec,) = records_for(records_httpd, r.request_id)
    assert rec["api"] == "ErrDoc API" and rec["decision"] == "reject" and rec["status"] == 401
    assert rec["reasons"] == ["aud_mismatch"]


def test_error_document_in_a_nested_section_keeps_the_api_the_client_asked(records_httpd, mint, expect_errors):
    expect_errors.append(r"AH01631: user alice: authorization failure")
    # Require user bob refuses alice; the error page lies in another API's
    # section, which would refuse the token again (aud api://users).
    r = records_httpd.get("/errnest/x", token=mint.rs256())
    # The page itself is refused there (its API wants another audience);
    # httpd says so in the body, and the client still gets one record.
    assert r.status == 403
    (rec,) = records_for(records_httpd, r.request_id)
    assert rec["api"] == "Outer API" and rec["status"] == 403 and rec["reasons"] == ["insufficient_scope"]


def test_no_token_with_error_document_gives_one_record(records_httpd):
    r = records_httpd.get("/errdoc/x")
    assert r.status == 401
    (rec,) = records_for(records_httpd, r.request_id)
    assert rec["reasons"] == ["no_token"]
