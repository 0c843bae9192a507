"""`httpd -t` refuses bad configurations with a message that names the
directive, the file and the reason."""
import json
import subprocess

import pytest

from conftest import APACHE2, Httpd, httpd_env, rsa_jwk


@pytest.fixture
def config_test(workdir, keys, request):
    counter = iter(range(1000))

    def run(body, extra=""):
        name = "".join(c if c.isalnum() else "_" for c in request.node.name)
        root = workdir / "configtest" / f"{name}-{next(counter)}"
        h = Httpd(root, keys, locations="<Location /t>\n    AuthType Bearer\n" + body + "\n    Require valid-user\n"
                                        "</Location>\n", extra=extra)
        h.write()
        p = subprocess.run([APACHE2, "-t", "-f", str(h.conf)], capture_output=True, text=True, timeout=60,
                           env=httpd_env())
        return p.returncode, p.stdout + p.stderr, h.conf
    return run


def refused(config_test, body, *needles, extra=""):
    rc, out, conf = config_test(body, extra)
    assert rc != 0, out
    assert str(conf) in out, out          # httpd names the configuration file and line
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    return out


def test_valid_configuration(config_test, keys):
    rc, out, _ = config_test(f"AudAllow api://x\nAudKeyFile {keys.rsa_pem}\nAudLeeway 30.5\nAudMaxTokenSize 8192\n"
                             f"AudAlgorithms RS256 ES256 HS256\nAudSecretFile {keys.secret_file}\nAudMode audit\n"
                             f"AudUserClaim oid\nAudApiName Test\nAudIssuer https://a https://b")
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("value", ["abc", "12x", "-1", "1e9", "1e3", "nan", "inf", "0x10", " 1", "1.2.3", "7200"])
def test_bad_leeway(config_test, value):
    refused(config_test, f'AudLeeway "{value}"', "AudLeeway", f"'{value}' is not a number of seconds")


@pytest.mark.parametrize("value", ["abc", "1k", "12.5", "-5", "10", "99999999999999999999", " 100", "+100",
                                   "2000000"])
def test_bad_max_token_size(config_test, value):
    refused(config_test, f'AudMaxTokenSize "{value}"', "AudMaxTokenSize", "is not a whole number of bytes")


@pytest.mark.parametrize("alg", ["RS257", "rs256", "HS1", "ES256K"])
def test_unknown_algorithm(config_test, alg):
    refused(config_test, f"AudAlgorithms RS256 {alg}", "AudAlgorithms", f"unknown algorithm '{alg}'")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_none_is_never_an_algorithm(config_test, alg):
    refused(config_test, f"AudAlgorithms {alg}", "AudAlgorithms", "is never accepted")


@pytest.mark.parametrize("directive", ["AudLeeway", "AudMaxTokenSize", "AudMode", "AudUserClaim", "AudApiName"])
def test_empty_value(config_test, directive):
    refused(config_test, f'{directive} ""', directive)


def test_bad_mode(config_test):
    refused(config_test, "AudMode report", "AudMode", "'report' is neither 'enforce' nor 'audit'")


def test_missing_key_file(config_test, keys):
    missing = keys.dir / "does-not-exist.pem"
    refused(config_test, f"AudAllow api://x\nAudKeyFile {missing}", "AudKeyFile", str(missing),
            "No such file or directory")


def test_unreadable_key_file_is_a_directory(config_test, keys):
    refused(config_test, f"AudAllow api://x\nAudKeyFile {keys.dir}", "AudKeyFile", str(keys.dir))


def test_weak_rsa_key(config_test, keys):
    refused(config_test, f"AudAllow api://x\nAudKeyFile {keys.weak_pem}", "AudKeyFile", str(keys.weak_pem),
            "1024 bits is too weak")


def test_unparsable_key_file(config_test, keys):
    refused(config_test, f"AudAllow api://x\nAudKeyFile {keys.garbage}", "AudKeyFile", str(keys.garbage))


def test_not_a_key_at_all(config_test, keys):
    bad = keys.write("notakey.txt", b"hello\n")
    refused(config_test, f"AudAllow api://x\nAudKeyFile {bad}", "AudKeyFile", str(bad),
            "not a PEM key, certificate, JWK or JWKS")


def test_short_secret(config_test, keys):
    short = keys.write("short.bin", b"too short", mode=0o600)
    refused(config_test, f"AudAllow api://x\nAudSecretFile {short}", "AudSecretFile", str(short), "too short")


def test_relative_key_path_is_under_server_root(config_test, keys):
    refused(config_test, "AudAllow api://x\nAudKeyFile keys/none.pem", "AudKeyFile", "/keys/none.pem",
            "No such file or directory")


@pytest.mark.parametrize("directive", ["AudAllow", "AudIssuer"])
def test_empty_list_value(config_test, directive):
    refused(config_test, f'{directive} ""', directive, "empty")


def test_directory_directive_at_server_level(config_test):
    refused(config_test, "", "AudAllow", "not allowed here", extra="AudAllow api://x\n")


def test_audit_log_only_at_server_level(config_test):
    refused(config_test, "AudAuditLog logs/x.log", "AudAuditLog", "not allowed in <Location>")


@pytest.mark.parametrize("value", ["0", "61", "abc", "1.5", "-1", "on"])
def test_bad_audit_log_buffer(config_test, value):
    refused(config_test, "AudAllow api://x", "AudAuditLogBuffer", f"'{value}' is not a whole number",
            extra=f"AudAuditLogBuffer {value}\n")


def test_audit_log_buffer_only_in_main_server(config_test):
    refused(config_test, "AudAllow api://x", "AudAuditLogBuffer", "cannot occur within",
            extra="<VirtualHost 127.0.0.1:*>\n    AudAuditLogBuffer 5\n</VirtualHost>\n")


def test_identical_key_files_are_loaded_once(config_test, keys):
    """A JWKS with one unusable key warns while loading: shared by two
    sections, it must warn once (one load), not twice."""
    jwks = keys.write("mixed.json", json.dumps(
        {"keys": [rsa_jwk(keys.weak, "weak"), rsa_jwk(keys.rsa, "good")]}).encode())
    other_section = (f"<Location /t2>\n    AuthType Bearer\n    AudAllow api://y\n    AudKeyFile {jwks}\n"
                     "    Require valid-user\n</Location>\n")
    rc, out, _ = config_test(f"AudAllow api://x\nAudKeyFile {jwks}", extra=other_section)
    assert rc == 0, out
    assert out.count("skipped") == 1, out
    assert "keys[0] (kid 'weak') skipped" in out and "AUD0001" in out, out


@pytest.mark.parametrize("value", ["abc", "-1", "1000001", "1.5"])
def test_bad_cache_entries(config_test, value):
    refused(config_test, "AudAllow api://x", "AudCacheEntries", f"'{value}' is not a whole number",
            extra=f"AudCacheEntries {value}\n")


def test_cache_entries_is_global(config_test):
    rc, out, _ = config_test("AudAllow api://x", extra="AudCacheEntries 0\n")
    assert rc == 0, out
    refused(config_test, "AudAllow api://x", "AudCacheEntries", "cannot occur within",
            extra="<VirtualHost 127.0.0.1:*>\n    AudCacheEntries 10\n</VirtualHost>\n")
