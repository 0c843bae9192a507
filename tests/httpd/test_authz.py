"""Authorization on what an accepted token grants: Require aud-scope,
aud-role, aud-claim and aud-client, 403 insufficient_scope (RFC 6750 3.1)
with scope=, audited authorization (one record, with what was required),
audit mode, <RequireAll>/<RequireAny>, and httpd -t refusals."""
import subprocess

import pytest

from conftest import APACHE2, Httpd, bearer, httpd_env, start_server

LOCATIONS = (
    bearer('/scope', 'Invoices API', 'Require aud-scope invoices.write orders.read')
    + bearer('/role', 'Roles API', 'Require aud-role Invoices.Admin')
    + bearer('/kc', 'Keycloak API', 'Require aud-claim /realm_access/roles admin')
    + bearer('/auth0', 'Auth0 API', 'Require aud-claim https://example.com/roles editor')
    + bearer('/verified', 'Verified API', 'Require aud-claim email_verified true')
    + bearer('/client', 'Client API', 'Require aud-client billing-daemon web-app')
    + bearer('/both', 'Both API', '<RequireAll>', '    Require aud-scope orders.read', '    Require aud-role Orders.Reader', '</RequireAll>')
    + bearer('/either', 'Either API', '<RequireAny>', '    Require aud-scope orders.read', '    Require aud-role Orders.Reader', '</RequireAny>')
    + bearer('/audited', 'Audited API', 'AudMode audit', 'Require aud-scope invoices.write')
    + bearer('/nested', 'Nested API', 'Require valid-user')
    + """<Location /nested/admin>
    Require aud-role Admin
</Location>
"""
)

CHALLENGE = ('Bearer realm="{api}", error="insufficient_scope", '
             'error_description="the token does not grant access to this resource"')


@pytest.fixture(scope="module")
def authz_httpd(workdir, keys):
    server = start_server(workdir, keys, "authz", LOCATIONS)
    yield server
    server.stop()


@pytest.fixture
def denied_ok(expect_errors):
    # mod_authz_core logs every refused user at error level itself.
    expect_errors.append(r"AH01631: user .*: authorization failure")
    return expect_errors


def refused(server, path, token, api, required, scope=None):
    r = server.get(path, token=token)
    assert r.status == 403, r.body
    want = CHALLENGE.format(api=api) + (f', scope="{scope}"' if scope else "")
    assert r.header("WWW-Authenticate") == want
    rec = server.audit_for(r.request_id)
    assert rec["decision"] == "reject" and rec["status"] == 403 and rec["reasons"] == ["insufficient_scope"]
    assert rec["required"] == required
    return rec


def test_scope_granted_by_scope_or_scp(authz_httpd, mint):
    assert authz_httpd.get("/scope/x", token=mint.rs256(scope="profile orders.read")).status == 200
    # Entra ID: scp, a space-separated string; some issuers: an array.
    assert authz_httpd.get("/scope/x", token=mint.rs256(scope=None, scp="invoices.write")).status == 200
    assert authz_httpd.get("/scope/x", token=mint.rs256(scope=None, scp=["x", "orders.read"])).status == 200


def test_scope_refused_is_403_with_scope(authz_httpd, mint, denied_ok):
    rec = refused(authz_httpd, "/scope/x", mint.rs256(scope="orders.write Orders.Read"), "Invoices API",
                  {"scope": ["invoices.write", "orders.read"]}, scope="invoices.write orders.read")
    assert rec["scopes"] == ["orders.write", "Orders.Read"] and rec["roles"] == []


def test_roles_array_or_string(authz_httpd, mint, denied_ok):
    assert authz_httpd.get("/role/x", token=mint.rs256(roles=["Invoices.Admin"])).status == 200
    assert authz_httpd.get("/role/x", token=mint.rs256(roles="Invoices.Admin")).status == 200
    # A delegated scope of the same name is not an app role.
    rec = refused(authz_httpd, "/role/x", mint.rs256(scope="Invoices.Admin"), "Roles API",
                  {"role": ["Invoices.Admin"]})
    assert rec["scopes"] == ["Invoices.Admin"] and rec["roles"] == []


def test_keycloak_json_pointer(authz_httpd, mint, denied_ok):
    ok = mint.rs256(realm_access={"roles": ["user", "admin"]})
    assert authz_httpd.get("/kc/x", token=ok).status == 200
    refused(authz_httpd, "/kc/x", mint.rs256(realm_access={"roles": ["user"]}), "Keycloak API",
            {"claim": "/realm_access/roles", "values": ["admin"]})


def test_auth0_namespaced_claim_is_taken_verbatim(authz_httpd, mint, denied_ok):
    assert authz_httpd.get("/auth0/x", token=mint.rs256(**{"https://example.com/roles": ["editor"]})).status == 200
    refused(authz_httpd, "/auth0/x", mint.rs256(**{"https://example.com/roles": "viewer"}), "Auth0 API",
            {"claim": "https://example.com/roles", "values": ["editor"]})


def test_boolean_claim_compares_by_json_text(authz_httpd, mint, denied_ok):
    assert authz_httpd.get("/verified/x", token=mint.rs256(email_verified=True)).status == 200
    refused(authz_httpd, "/verified/x", mint.rs256(email_verified="yes"), "Verified API",
            {"claim": "email_verified", "values": ["true"]})


def test_client(authz_httpd, mint, denied_ok):
    assert authz_httpd.get("/client/x", token=mint.rs256(azp="web-app")).status == 200
    assert authz_httpd.get("/client/x", token=mint.rs256(azp=None, cid="billing-daemon")).status == 200
    refused(authz_httpd, "/client/x", mint.rs256(azp="mobile"), "Client API",
            {"client": ["billing-daemon", "web-app"]})


def test_require_all_and_any(authz_httpd, mint, denied_ok):
    both = mint.rs256(scope="orders.read", roles=["Orders.Reader"])
    scope_only = mint.rs256(scope="orders.read")
    assert authz_httpd.get("/both/x", token=both).status == 200
    refused(authz_httpd, "/both/x", scope_only, "Both API", {"role": ["Orders.Reader"]})
    assert authz_httpd.get("/either/x", token=scope_only).status == 200
    assert authz_httpd.get("/either/x", token=mint.rs256(scope="x", roles=["Orders.Reader"])).status == 200
    refused(authz_httpd, "/either/x", mint.rs256(scope="x"), "Either API", {"scope": ["orders.read"]},
            scope="orders.read")


def test_nested_section_inherits_bearer(authz_httpd, mint, denied_ok):
    assert authz_httpd.get("/nested/admin/x", token=mint.rs256(roles=["Admin"])).status == 200
    refused(authz_httpd, "/nested/admin/x", mint.rs256(), "Nested API", {"role": ["Admin"]})


def test_refused_token_still_gets_401_not_403(authz_httpd, mint):
    r = authz_httpd.get("/scope/x", token=mint.rs256(aud="api://other", scope="orders.read"))
    assert r.status == 401 and 'error="invalid_token"' in r.header("WWW-Authenticate")
    r = authz_httpd.get("/scope/x")
    assert r.status == 401 and r.header("WWW-Authenticate") == 'Bearer realm="Invoices API"'


def test_audit_mode_grants_and_records_what_it_would_refuse(authz_httpd, mint):
    r = authz_httpd.get("/audited/x", token=mint.rs256(scope="orders.read"))
    assert r.status == 200
    rec = authz_httpd.audit_for(r.request_id)
    assert rec["decision"] == "audit_reject" and rec["reasons"] == ["insufficient_scope"]
    assert rec["required"] == {"scope": ["invoices.write"]} and rec["scopes"] == ["orders.read"]
    r = authz_httpd.get("/audited/x", token=mint.rs256(scope="invoices.write"))
    assert r.status == 200
    rec = authz_httpd.audit_for(r.request_id)
    assert rec["decision"] == "accept" and rec["reasons"] == [] and "required" not in rec


def test_cached_token_is_authorized_the_same(authz_httpd, mint, denied_ok):
    token = mint.rs256(scope="orders.read")
    for _ in range(3):
        assert authz_httpd.get("/scope/x", token=token).status == 200
    other = mint.rs256(scope="nothing")
    for _ in range(3):
        refused(authz_httpd, "/scope/x", other, "Invoices API", {"scope": ["invoices.write", "orders.read"]},
                scope="invoices.write orders.read")


@pytest.fixture
def httpd_t(workdir, keys, request):
    counter = iter(range(100))

    def run(locations):
        name = "".join(c if c.isalnum() else "_" for c in request.node.name)
        h = Httpd(workdir / "authz-t" / f"{name}-{next(counter)}", keys, locations=locations)
        h.write()
        p = subprocess.run([APACHE2, "-t", "-f", str(h.conf)], capture_output=True, text=True, timeout=60,
                           env=httpd_env())
        return p.returncode, p.stdout + p.stderr, h.conf
    return run


def bearer(require):
    return f"""<Location /t>
    AuthType Bearer
    AudAllow api://users
    AudKeyFile {{keys}}/rsa.pem
    {require}
</Location>
"""


@pytest.mark.parametrize("require,needle", [
    ("Require aud-scope", "Require aud-scope: give at least one value"),
    ("Require aud-role", "Require aud-role: give at least one value"),
    ("Require aud-claim groups", "Require aud-claim: give a claim and at least one value"),
    ("Require aud-claim /a~2b x", "aud-claim"),
])
def test_httpd_t_refuses_bad_requirements(httpd_t, require, needle):
    rc, out, conf = httpd_t(bearer(require))
    assert rc != 0 and needle in out and str(conf) in out, out


def test_httpd_t_refuses_aud_requirements_without_bearer(httpd_t):
    rc, out, conf = httpd_t("<Location /basic>\n    AuthType Basic\n    AuthName x\n"
                            "    Require aud-scope orders.read\n</Location>\n")
    assert rc != 0 and "no AuthType Bearer" in out and str(conf) in out, out
    rc, out, conf = httpd_t("<Location /none>\n    Require aud-role Admin\n</Location>\n")
    assert rc != 0 and "no AuthType Bearer" in out, out


def test_httpd_t_accepts_good_requirements(httpd_t):
    rc, out, _ = httpd_t(bearer("Require aud-claim /resource_access/account/roles manage-account"))
    assert rc == 0 and "Syntax OK" in out, out
    rc, out, _ = httpd_t(bearer("<RequireAny>\n        Require aud-scope Invoices.Read\n"
                                "        Require aud-role Invoices.Read.All\n    </RequireAny>\n"
                                "    <Limit POST PUT DELETE>\n        Require aud-scope Invoices.Write\n    </Limit>"))
    assert rc == 0 and "Syntax OK" in out, out


def test_hints_roles_vs_scopes_and_scope_case(authz_httpd, mint, denied_ok):
    # A client-credentials token (Entra ID): application roles, no scp.
    rec = refused(authz_httpd, "/scope/x", mint.rs256(scope=None, roles=["Invoices.Write"]), "Invoices API",
                  {"scope": ["invoices.write", "orders.read"]}, scope="invoices.write orders.read")
    assert [h["code"] for h in rec["hints"]] == ["roles_vs_scopes"]
    assert "application roles ('Invoices.Write')" in rec["hints"][0]["text"]
    # The reverse: a role is required, the token has delegated scopes only.
    rec = refused(authz_httpd, "/role/x", mint.rs256(scope="Invoices.Admin"), "Roles API",
                  {"role": ["Invoices.Admin"]})
    assert [h["code"] for h in rec["hints"]] == ["roles_vs_scopes"]
    # Letter case only: still refused (byte for byte), with the hint.
    rec = refused(authz_httpd, "/scope/x", mint.rs256(scope="Orders.Read"), "Invoices API",
                  {"scope": ["invoices.write", "orders.read"]}, scope="invoices.write orders.read")
    assert [h["code"] for h in rec["hints"]] == ["scope_case"]
    assert "'Orders.Read'" in rec["hints"][0]["text"] and "'orders.read'" in rec["hints"][0]["text"]
