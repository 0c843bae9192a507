"""What a user of aud-inspect sees: output, --json shape and exit status."""
import datetime
import json
import os

import jwt
import pytest

from conftest import AT, AUDIENCE, ISSUER, VECTORS, b64u
from conftest import claims as conftest_claims

NOTHING_VERIFIED = "NOTHING WAS VERIFIED"
UNVERIFIED_SIGNATURE = "signature: NOT verified (the header and claims below are unverified)"
JSON_KEYS = {"verdict", "reasons", "details", "hints", "header", "claims", "matched", "signature_verified", "token_id"}


def utc(t):
    """RFC 3339 as the tool prints it, computed here independently."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def reason_lines(stdout):
    """The reason codes listed under the verdict line, in order."""
    lines = stdout.splitlines()
    codes = []
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        codes.append(line.split()[0])
    return codes


def check_json_shape(doc):
    assert set(doc) == JSON_KEYS
    assert doc["verdict"] in ("accept", "reject", "unverified")
    assert isinstance(doc["reasons"], list) and all(isinstance(r, str) for r in doc["reasons"])
    assert isinstance(doc["details"], dict)
    assert set(doc["details"]) == set(doc["reasons"])
    assert all(isinstance(v, str) and v for v in doc["details"].values())
    assert isinstance(doc["hints"], list)
    assert all(isinstance(h["code"], str) and isinstance(h["text"], str) for h in doc["hints"])
    assert doc["header"] is None or isinstance(doc["header"], dict)
    assert doc["claims"] is None or isinstance(doc["claims"], dict)
    assert doc["matched"] is None or isinstance(doc["matched"], str)
    assert isinstance(doc["signature_verified"], bool)
    assert isinstance(doc["token_id"], str)


# ---- accepting ---------------------------------------------------------------


@pytest.mark.parametrize("alg,kid", [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")])
def test_good_token_is_accepted_with_jwks(inspect, keys, mint, alg, kid):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(alg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "ACCEPT"
    assert "audience: matched 'api://x'" in lines
    verified = [line for line in lines if line.startswith("signature: verified with ")]
    assert len(verified) == 1 and f"'{kid}'" in verified[0]
    assert "unverified" not in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("alg,pem", [("RS256", "rsa.pem"), ("ES256", "ec.pem"), ("EdDSA", "ed.pem")])
def test_good_token_is_accepted_with_pem_keys(inspect, keys, mint, alg, pem):
    token = mint(alg, kid=None)
    proc = inspect("--key", keys.path(pem), "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ACCEPT\n")


def test_accepts_against_the_wall_clock_when_no_at(inspect, keys, mint):
    import time

    now = int(time.time())
    token = mint(iat=now - 10, nbf=now - 10, exp=now + 3600)
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, token)
    assert proc.returncode == 0, proc.stdout
    assert "expires in 59 min" in proc.stdout or "expires in 1 h" in proc.stdout


def test_one_of_several_audiences_and_issuers(inspect, keys, mint):
    proc = inspect("--key", keys.jwks, "--allow", "api://other", "--allow", AUDIENCE,
                   "--issuer", "https://nope/", "--issuer", ISSUER, "--at", str(AT), mint(aud=["api://z", AUDIENCE]))
    assert proc.returncode == 0, proc.stdout
    assert "audience: matched 'api://x'" in proc.stdout


def test_secret_file_accepts_hs256(inspect, keys, mint):
    proc = inspect("--secret-file", keys.path("secret.bin"), "--allow", AUDIENCE, "--at", str(AT), mint("HS256"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ACCEPT\n")
    assert "signature: verified with " in proc.stdout


def test_hs256_with_the_wrong_secret_is_a_bad_signature(inspect, keys, mint):
    token = mint("HS256", signer=b"another secret that is long enough for HS256!!")
    proc = inspect("--secret-file", keys.path("secret.bin"), "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["bad_signature"]


def test_hs256_refused_when_alg_list_excludes_it(inspect, keys, mint):
    proc = inspect("--secret-file", keys.path("secret.bin"), "--alg", "RS256", "--allow", AUDIENCE,
                   "--at", str(AT), mint("HS256"))
    assert proc.returncode == 1
    assert "alg_not_allowed" in reason_lines(proc.stdout)


def test_alg_option_restricts_asymmetric_algorithms(inspect, keys, mint):
    args = ["--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), "--alg", "ES256"]
    assert inspect(*args, mint("ES256")).returncode == 0
    proc = inspect(*args, mint("RS256"))
    assert proc.returncode == 1
    assert "alg_not_allowed" in reason_lines(proc.stdout)


# ---- rejecting -----------------------------------------------------------------


def test_wrong_audience_is_aud_mismatch(inspect, keys, mint):
    token = mint(aud="https://graph.microsoft.com")
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "REJECT"
    assert reason_lines(proc.stdout) == ["aud_mismatch"]
    assert "https://graph.microsoft.com" in lines[1]
    assert "audience: none matched" in lines
    # The signature is still good: only the audience is wrong.
    assert any(line.startswith("signature: verified with ") for line in lines)


def test_expired_and_wrong_audience_are_both_reported(inspect_json, keys, mint):
    token = mint(aud="api://elsewhere", iat=AT - 7200, nbf=AT - 7200, exp=AT - 3600)
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert status == 1
    check_json_shape(doc)
    assert doc["verdict"] == "reject"
    assert sorted(doc["reasons"]) == ["aud_mismatch", "expired"]
    assert doc["signature_verified"] is True
    assert doc["matched"] is None


def test_expired_and_wrong_audience_text(inspect, keys, mint):
    token = mint(aud="api://elsewhere", iat=AT - 7200, nbf=AT - 7200, exp=AT - 3600)
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 1
    assert sorted(reason_lines(proc.stdout)) == ["aud_mismatch", "expired"]
    assert "(expired 1 h ago)" in proc.stdout


def test_signature_by_another_key_is_bad_signature(inspect, keys, mint):
    token = mint(signer=keys.other_rsa)  # claims kid rsa-1, signed by a key we do not have
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["bad_signature"]
    assert UNVERIFIED_SIGNATURE in proc.stdout.splitlines()
    assert "claims (unverified):" in proc.stdout.splitlines()
    # Claims are still shown, but marked as unverified.
    assert '"sub": "user-42"' in proc.stdout


def test_bad_signature_json(inspect_json, keys, mint):
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(signer=keys.other_rsa))
    assert status == 1
    check_json_shape(doc)
    assert doc["reasons"] == ["bad_signature"]
    assert doc["signature_verified"] is False


def test_unknown_kid_is_unknown_key(inspect, keys, mint):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(kid="rotated-away"))
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["unknown_key"]
    assert UNVERIFIED_SIGNATURE in proc.stdout


def test_wrong_issuer(inspect, keys, mint):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--issuer", "https://login.example/",
                   "--at", str(AT), mint())
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["issuer_mismatch"]


def test_not_yet_valid(inspect, keys, mint):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(nbf=AT + 1800))
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["not_yet_valid"]
    assert "(becomes valid in 30 min)" in proc.stdout


def test_leeway_is_applied(inspect, keys, mint):
    token = mint(exp=AT - 30)
    args = ["--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT)]
    assert inspect(*args, token).returncode == 0  # default leeway 60 s
    proc = inspect(*args, "--leeway", "10", token)
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["expired"]


def test_key_without_allow_reports_no_audience_configured(inspect_json, keys, mint):
    status, doc = inspect_json("--key", keys.jwks, "--at", str(AT), mint())
    assert status == 1
    check_json_shape(doc)
    assert doc["verdict"] == "reject"
    assert doc["reasons"] == ["no_audience_configured"]
    assert doc["signature_verified"] is True


def test_key_file_warnings_go_to_stderr(inspect, keys, mint, tmp_path):
    good = json.loads(open(keys.jwks).read())["keys"][0]
    bad = {"kty": "RSA", "kid": "broken", "n": "AQAB", "e": "AQAB"}  # far too short a modulus
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"keys": [bad, good]}))
    proc = inspect("--key", str(path), "--allow", AUDIENCE, "--at", str(AT), mint())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.startswith("aud-inspect: warning: ")
    assert "aud-inspect: warning: " not in proc.stdout


def test_control_characters_from_the_token_are_escaped(inspect, keys, mint):
    token = mint(aud="api://\x1b]0;owned\x07\x1b[2J")
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["aud_mismatch"]
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout


# ---- decoding only ---------------------------------------------------------------


def test_decode_only_shows_header_claims_and_times(inspect, mint):
    token = mint(iat=AT - 7200, nbf=AT - 7200, exp=AT + 41 * 60 + 20)
    proc = inspect("--at", str(AT), token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith(NOTHING_VERIFIED)
    assert "ACCEPT" not in out and "REJECT" not in out
    header = out.split("header:\n", 1)[1].split("\nclaims", 1)[0]
    assert json.loads(header) == {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    claims_text = out.split("claims (unverified):\n", 1)[1].split("\ntimes", 1)[0]
    assert json.loads(claims_text)["sub"] == "user-42"
    assert f"exp  {utc(AT + 41 * 60 + 20)}  (expires in 41 min)" in out
    assert f"nbf  {utc(AT - 7200)}  (valid since 2 h ago)" in out
    assert f"iat  {utc(AT - 7200)}  (issued 2 h ago)" in out
    assert utc(AT) in out  # the reference time is stated


def test_decode_only_expired_token(inspect, mint):
    token = mint(iat=AT - 5 * 3600, nbf=None, exp=AT - (3 * 3600 + 12 * 60))
    proc = inspect("--at", str(AT), token)
    assert proc.returncode == 0
    assert f"exp  {utc(AT - 3 * 3600 - 12 * 60)}  (expired 3 h 12 min ago)" in proc.stdout
    assert "nbf  " not in proc.stdout


def test_decode_only_signature_is_never_checked(inspect, keys, mint):
    proc = inspect("--at", str(AT), mint(signer=keys.other_rsa))
    assert proc.returncode == 0
    assert proc.stdout.startswith(NOTHING_VERIFIED)


def test_decode_only_json(inspect_json, mint):
    token = mint()
    status, doc = inspect_json("--at", str(AT), token)
    assert status == 0
    check_json_shape(doc)
    assert doc["verdict"] == "unverified"
    assert doc["reasons"] == [] and doc["details"] == {}
    assert doc["header"] == {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
    assert doc["claims"] == jwt.decode(token, options={"verify_signature": False})
    assert doc["matched"] is None
    assert doc["signature_verified"] is False
    assert len(doc["token_id"]) == 16 and int(doc["token_id"], 16) >= 0


def test_garbage_is_malformed(inspect):
    proc = inspect("this-is-not-a-token")
    assert proc.returncode == 1
    assert reason_lines(proc.stdout) == ["malformed"]
    assert "REJECT" in proc.stdout.splitlines()[0]


def test_garbage_is_malformed_json(inspect_json):
    status, doc = inspect_json("abc.def.ghi")
    assert status == 1
    check_json_shape(doc)
    assert doc["verdict"] == "reject"
    assert doc["reasons"] == ["malformed"]
    assert doc["claims"] is None


def test_garbage_is_malformed_when_verifying(inspect_json, keys):
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), "not.a.jwt")
    assert status == 1
    check_json_shape(doc)
    assert "malformed" in doc["reasons"]
    assert doc["signature_verified"] is False


# ---- --json shape ---------------------------------------------------------------


def test_accept_json(inspect_json, keys, mint):
    token = mint()
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert status == 0
    check_json_shape(doc)
    assert doc["verdict"] == "accept"
    assert doc["reasons"] == [] and doc["details"] == {}
    assert doc["matched"] == AUDIENCE
    assert doc["signature_verified"] is True
    assert doc["claims"]["aud"] == AUDIENCE
    assert doc["header"]["kid"] == "rsa-1"
    # The same token always gets the same id; another token gets another.
    _, again = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    _, other = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(sub="someone-else"))
    assert again["token_id"] == doc["token_id"] != other["token_id"]


def test_reject_json(inspect_json, keys, mint):
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint(aud="api://y"))
    assert status == 1
    check_json_shape(doc)
    assert doc["verdict"] == "reject"
    assert doc["reasons"] == ["aud_mismatch"]
    assert "api://y" in doc["details"]["aud_mismatch"]


# ---- reading the token -------------------------------------------------------------


@pytest.mark.parametrize("wrap", [
    "{}",
    "  {}\n",
    "\n\t{}\r\n\n",
    "Bearer {}\n",
    "bearer   {}",
    "  BEARER {}  \n",
])
def test_token_from_stdin(inspect, keys, mint, wrap):
    token = mint()
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), "-", stdin=wrap.format(token))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ACCEPT\n")


def test_stdin_token_id_matches_the_bare_token(inspect_json, keys, mint):
    token = mint()
    _, direct = inspect_json("--at", str(AT), token)
    _, piped = inspect_json("--at", str(AT), "-", stdin=f"Bearer {token}\n")
    assert direct["token_id"] == piped["token_id"]


def test_token_argument_is_taken_as_is(inspect, keys, mint):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), "Bearer " + mint())
    assert proc.returncode == 1
    assert "malformed" in reason_lines(proc.stdout)


@pytest.mark.parametrize("content", ["{}", "{}\n", "  Bearer {}\r\n"])
def test_token_from_a_file_named_as_token(inspect, keys, mint, tmp_path, content):
    # What a new user does with a saved token: the file name where the token goes.
    token = mint()
    path = tmp_path / "graph.jwt"
    path.write_text(content.format(token))
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ACCEPT\n")
    assert proc.stderr == ""


def test_token_file_decodes_like_the_token_itself(inspect_json, mint, tmp_path):
    token = mint(aud="api://y")
    path = tmp_path / "t.jwt"
    path.write_text(token + "\n")
    status, from_file = inspect_json("--at", str(AT), str(path))
    assert status == 0
    assert from_file == inspect_json("--at", str(AT), token)[1]
    assert from_file["verdict"] == "unverified" and from_file["claims"]["aud"] == "api://y"


def test_token_file_with_garbage_is_malformed(inspect_json, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a token at all\n")
    status, doc = inspect_json(str(path))
    assert status == 1
    assert doc["reasons"] == ["malformed"]


def test_empty_token_file_is_no_token(inspect_json, keys, tmp_path):
    path = tmp_path / "empty.jwt"
    path.write_text(" \n")
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, str(path))
    assert status == 1
    assert doc["reasons"] == ["no_token"]


def test_unusable_token_files_are_input_errors(inspect, tmp_path):
    proc = inspect(str(tmp_path))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "is a directory" in proc.stderr and str(tmp_path) in proc.stderr
    big = tmp_path / "big.jwt"
    big.write_bytes(b"a" * (1024 * 1024 + 1))
    proc = inspect(str(big))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "holds more than 1 MiB" in proc.stderr
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.jwt"
        locked.write_text("x")
        locked.chmod(0)
        proc = inspect(str(locked))
        assert proc.returncode == 2 and "cannot read" in proc.stderr


def test_help_mentions_token_files(inspect):
    assert "names an existing file" in inspect("--help").stdout


def test_empty_stdin_is_no_token(inspect_json, keys):
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "-", stdin="  \n")
    assert status == 1
    assert doc["reasons"] == ["no_token"]


# ---- RFC 7515 appendix A.2 (RS256) -------------------------------------------------


def a2(inspect_json, at):
    token = (VECTORS / "rfc7515_A.2.jwsc").read_text().strip()
    return inspect_json("--key", str(VECTORS / "rfc7515_A.2.jwk"), "--issuer", "joe", "--allow", "x",
                        "--at", str(at), token)


def test_rfc7515_a2_verifies_and_lacks_only_an_audience(inspect_json):
    status, doc = a2(inspect_json, 1300819300)
    assert status == 1
    check_json_shape(doc)
    assert doc["signature_verified"] is True
    assert doc["reasons"] == ["aud_missing"]
    assert doc["claims"]["iss"] == "joe"
    assert doc["claims"]["http://example.com/is_root"] is True


def test_rfc7515_a2_later_is_also_expired(inspect_json):
    status, doc = a2(inspect_json, 1400000000)
    assert status == 1
    assert doc["signature_verified"] is True
    assert sorted(doc["reasons"]) == ["aud_missing", "expired"]


def test_rfc7515_a2_text(inspect):
    token = (VECTORS / "rfc7515_A.2.jwsc").read_text().strip()
    proc = inspect("--key", str(VECTORS / "rfc7515_A.2.jwk"), "--issuer", "joe", "--allow", "x",
                   "--at", "1300819300", token)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "REJECT"
    assert reason_lines(proc.stdout) == ["aud_missing"]
    assert "signature: verified with RSA 2048-bit key" in proc.stdout
    assert f"exp  {utc(1300819380)}  (expires in 1 min)" in proc.stdout


# ---- usage and input errors --------------------------------------------------------


def test_no_argument_is_a_usage_error(inspect):
    proc = inspect()
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no token given" in proc.stderr and "--help" in proc.stderr


def test_help(inspect):
    proc = inspect("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: aud-inspect ")
    for option in ("--allow", "--issuer", "--key", "--secret-file", "--alg", "--leeway", "--at", "--json"):
        assert option in proc.stdout
    assert proc.stderr == ""


def test_missing_key_file_is_named(inspect, mint, tmp_path):
    missing = tmp_path / "nowhere" / "k.pem"
    proc = inspect("--key", str(missing), "--allow", AUDIENCE, mint())
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("aud-inspect: ")
    assert str(missing) in proc.stderr
    assert "No such file or directory" in proc.stderr


def test_missing_secret_file_is_named(inspect, mint, tmp_path):
    missing = tmp_path / "secret.bin"
    proc = inspect("--secret-file", str(missing), "--allow", AUDIENCE, mint("HS256", signer=b"x" * 32))
    assert proc.returncode == 2
    assert str(missing) in proc.stderr


def test_unusable_key_file_is_an_input_error(inspect, mint, tmp_path):
    path = tmp_path / "junk.pem"
    path.write_text("this is not a key\n")
    proc = inspect("--key", str(path), "--allow", AUDIENCE, mint())
    assert proc.returncode == 2
    assert str(path) in proc.stderr


@pytest.mark.parametrize("alg", ["RS999", "rs256", "none", "HS1"])
def test_unknown_alg_is_a_usage_error(inspect, keys, mint, alg):
    proc = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--alg", alg, mint())
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert alg in proc.stderr


@pytest.mark.parametrize("option,value", [
    ("--leeway", "abc"), ("--leeway", "-1"), ("--leeway", "5s"), ("--leeway", "nan"), ("--leeway", "inf"),
    ("--leeway", ""), ("--leeway", "86401"),
    ("--at", "12abc"), ("--at", "1.5"), ("--at", "-5"), ("--at", "99999999999999999999"), ("--at", ""),
])
def test_bad_numbers_are_usage_errors(inspect, mint, option, value):
    proc = inspect(option, value, mint())
    assert proc.returncode == 2
    assert option in proc.stderr


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--allow"],
    ["tok1", "tok2"],
])
def test_other_usage_errors(inspect, args):
    proc = inspect(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("aud-inspect: ")


def hint_lines(stdout):
    """The "code: text" lines under "hints:", in order."""
    lines = stdout.splitlines()
    if "hints:" not in lines:
        return []
    out = []
    for line in lines[lines.index("hints:") + 1:]:
        if not line.startswith("  - "):
            break
        out.append(line[4:])
    return out


def test_hints_explain_a_trailing_slash_and_an_expiry(inspect, keys, mint):
    token = mint("RS256", aud=AUDIENCE + "/", exp=AT - (3 * 3600 + 12 * 60))
    res = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert res.returncode == 1
    assert reason_lines(res.stdout) == ["expired", "aud_mismatch"]
    assert hint_lines(res.stdout) == [
        f"trailing_slash: aud '{AUDIENCE}/' differs from the allowed '{AUDIENCE}' only by a trailing slash",
        "expired: the token expired 3 h 12 min ago; the client should refresh it before use",
    ]


def test_json_hints_name_a_graph_token_and_an_id_token(inspect_json, keys, mint):
    token = mint("RS256", aud="https://graph.microsoft.com", nonce="n", azp="client-1")
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), token)
    assert status == 1 and doc["verdict"] == "reject"
    codes = [h["code"] for h in doc["hints"]]
    assert codes == ["well_known_resource", "id_token"]
    assert doc["hints"][0]["resource"] == "Microsoft Graph"
    assert doc["hints"][0]["text"].startswith(
        "the token is a Microsoft Graph token; request a token for this API's audience")


def test_accepted_token_has_no_hints(inspect_json, keys, mint):
    status, doc = inspect_json("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), mint("RS256"))
    assert status == 0 and doc["verdict"] == "accept"
    assert doc["hints"] == []


# ---- hints for tokens shaped as identity providers issue them ------------------

GUID = "6f1c2b3a-0000-4000-8000-000000000001"
TENANT = "11111111-2222-3333-4444-555555555555"
KEYCLOAK = "https://kc.example/realms/demo"


def judged(inspect_json, keys, token, *extra, allow=AUDIENCE):
    """(status, document, {hint code: hint}) for a token checked against the JWKS."""
    status, doc = inspect_json("--key", keys.jwks, "--allow", allow, "--at", str(AT), *extra, token)
    check_json_shape(doc)
    return status, doc, {h["code"]: h for h in doc["hints"]}


def test_keycloak_access_token_without_this_api(inspect_json, keys, mint):
    token = mint(iss=KEYCLOAK, aud="account", azp="web", typ="Bearer", scope="openid profile")
    status, doc, hints = judged(inspect_json, keys, token)
    assert status == 1 and doc["reasons"] == ["aud_mismatch"]
    text = hints["keycloak_audience"]["text"]
    assert "the token's only audience is 'account' and its client is azp 'web'" in text
    assert "Audience mapper" in text


def test_keycloak_access_token_with_no_audience(inspect_json, keys, mint):
    token = mint(iss=KEYCLOAK, aud=None, azp="web", typ="Bearer", scope="openid")
    status, doc, hints = judged(inspect_json, keys, token)
    assert status == 1 and doc["reasons"] == ["aud_missing"]
    assert hints["keycloak_audience"]["text"].startswith("the token has no audience, only its client azp 'web'")


@pytest.mark.parametrize("typ,code", [("Refresh", "refresh_token"), ("Offline", "refresh_token"), ("ID", "id_token")])
def test_keycloak_token_types(inspect_json, keys, mint, typ, code):
    token = mint(iss=KEYCLOAK, aud=KEYCLOAK, azp="web", typ=typ)
    status, doc, hints = judged(inspect_json, keys, token)
    assert status == 1 and doc["reasons"] == ["aud_mismatch"]
    assert code in hints, doc["hints"]
    if code == "refresh_token":
        assert f"(typ '{typ}', as Keycloak marks them)" in hints[code]["text"]


def test_auth0_token_requested_without_audience(inspect_json, keys, mint):
    tenant = "https://tenant.eu.auth0.com/"
    token = mint(iss=tenant, aud=tenant + "userinfo", azp="abc", scope="openid profile")
    status, doc, hints = judged(inspect_json, keys, token)
    assert status == 1
    assert "Auth0 gives a token that audience alone when the client asks without the audience parameter" in \
        hints["auth0_userinfo"]["text"]


def test_okta_default_authorization_server_audience(inspect_json, keys, mint):
    token = mint(iss="https://dev-1.okta.com/oauth2/default", aud="api://default", azp=None, cid="0oa1", scp=["read"],
                 ver=1)
    status, _, hints = judged(inspect_json, keys, token)
    assert status == 1
    assert "'default' authorization server" in hints["okta_default_audience"]["text"]


def test_okta_org_authorization_server_token(inspect_json, keys, mint):
    org = "https://dev-1.okta.com"
    token = mint(iss=org, aud=org, azp=None, cid="0oa1", scp=["openid"], ver=1)
    status, doc, hints = judged(inspect_json, keys, token, "--issuer", org + "/oauth2/default")
    assert status == 1 and doc["reasons"] == ["issuer_mismatch", "aud_mismatch"]
    assert "Okta documents its access tokens as meant for Okta alone" in hints["okta_org_server"]["text"]


def test_okta_token_requested_for_its_own_client(inspect_json, keys, mint):
    token = mint(iss="https://dev-1.okta.com/oauth2/ausabc", aud="0oa1", azp=None, cid="0oa1", scp=["read"])
    _, _, hints = judged(inspect_json, keys, token)
    assert hints["client_id_as_aud"]["client"] == "0oa1"


def test_google_legacy_issuer_spelling(inspect_json, keys, mint):
    token = mint(iss="accounts.google.com")
    status, doc, hints = judged(inspect_json, keys, token, "--issuer", "https://accounts.google.com")
    assert status == 1 and doc["reasons"] == ["issuer_mismatch"]
    assert "legacy implementations, accounts.google.com" in hints["google_issuer"]["text"]


def jwe():
    header = b64u(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "enc-1"}).encode())
    return ".".join([header, b64u(os.urandom(256)), b64u(os.urandom(12)), b64u(b"ciphertext"), b64u(os.urandom(16))])


def test_encrypted_token_is_named(inspect, inspect_json, keys):
    status, doc, hints = judged(inspect_json, keys, jwe())
    assert status == 1 and doc["reasons"] == ["malformed"]
    assert "encrypted" in doc["details"]["malformed"]
    assert "alg 'RSA-OAEP-256', enc 'A256GCM'" in hints["encrypted_token"]["text"]
    assert doc["claims"] is None
    res = inspect("--key", keys.jwks, "--allow", AUDIENCE, "--at", str(AT), jwe())
    assert any(line.startswith("encrypted_token: the token is encrypted") for line in hint_lines(res.stdout))


@pytest.mark.parametrize("token", ["2YotnFZFEjr1zCsicMWpAA", "abc.def.ghi"])
def test_opaque_token_is_named(inspect_json, keys, token):
    status, doc, hints = judged(inspect_json, keys, token)
    assert status == 1 and doc["reasons"] == ["malformed"]
    assert "this API needs a JWT access token" in hints["opaque_token"]["text"]


def test_der_ecdsa_signature_is_named(inspect_json, keys):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signing_input = b64u(json.dumps({"alg": "ES256", "kid": "ec-1"}).encode()) + "." + \
        b64u(json.dumps(conftest_claims()).encode())
    der = keys.ec.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert der[0] == 0x30 and 68 <= len(der) <= 72
    status, doc, hints = judged(inspect_json, keys, signing_input + "." + b64u(der))
    assert status == 1 and doc["reasons"] == ["bad_signature"]
    assert f"the ES256 signature is {len(der)} bytes of DER" in hints["ecdsa_der_signature"]["text"]


def ed25519_token(keys, alg="Ed25519"):
    signing_input = b64u(json.dumps({"alg": alg, "kid": "ed-1", "typ": "JWT"}).encode()) + "." + \
        b64u(json.dumps(conftest_claims()).encode())
    return signing_input + "." + b64u(keys.ed.sign(signing_input.encode()))


@pytest.mark.parametrize("alg_option", [[], ["--alg", "Ed25519"], ["--alg", "EdDSA"]])
def test_ed25519_algorithm_name_is_accepted(inspect_json, keys, alg_option):
    status, doc, _ = judged(inspect_json, keys, ed25519_token(keys), *alg_option)
    assert status == 0 and doc["verdict"] == "accept", doc
    assert doc["header"]["alg"] == "Ed25519"
    assert doc["signature_verified"] is True


def test_ed25519_refused_when_not_allowed(inspect_json, keys):
    status, doc, _ = judged(inspect_json, keys, ed25519_token(keys), "--alg", "RS256")
    assert status == 1 and doc["reasons"] == ["alg_not_allowed"]


def test_entra_v2_token_where_only_an_app_id_uri_is_allowed(inspect_json, keys, mint):
    token = mint(iss=f"https://login.microsoftonline.com/{TENANT}/v2.0", aud=GUID, ver="2.0", azp="client-guid")
    status, _, hints = judged(inspect_json, keys, token, allow="api://orders")
    assert status == 1
    assert "never an App ID URI such as the allowed 'api://orders'" in hints["azure_v2_client_id"]["text"]


def test_entra_v1_guid_where_its_app_id_uri_is_allowed(inspect_json, keys, mint):
    token = mint(iss=f"https://sts.windows.net/{TENANT}/", aud=GUID, ver="1.0", azp=None, appid="client-guid")
    status, _, hints = judged(inspect_json, keys, token, allow=f"api://{GUID}")
    assert status == 1
    text = hints["azure_guid_vs_uri"]["text"]
    assert "in Entra ID v1.0 access tokens (this token says ver 1.0)" in text
    assert f"have the client request 'api://{GUID}'" in text


def test_decode_only_uses_the_core_wording(inspect_json):
    status, doc = inspect_json("a.b")
    assert status == 1
    assert doc["details"]["malformed"] == "a compact JWS has exactly three segments separated by dots"


def test_hint_survives_a_long_multibyte_audience(inspect_json, keys, mint):
    """Regression: a quote cut inside a UTF-8 sequence made the hint vanish."""
    allowed = "api://x" + "\u00e9" * 60
    status, _, hints = judged(inspect_json, keys, mint(aud=allowed + "/"), allow=allowed)
    assert status == 1
    assert "trailing_slash" in hints
