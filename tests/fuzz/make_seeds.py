#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/ (committed; re-run only to
change them). Tokens are minted with python3-jwt from the throwaway keys of
tests/unit/fixtures and judged by fuzz_verifier at its fixed clock
(1700000000); the HMAC secret is the harness's FZ_SECRET.

Run from anywhere: /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import hashlib
import json
import pathlib

import jwt

HERE = pathlib.Path(__file__).resolve().parent
UNIT = HERE.parent / "unit"
NOW = 1700000000
SECRET = b"fuzz-secret-0123456789abcdefghij"
AUD = "api://fuzz"
ISS = "https://issuer.fuzz"


def clear(corpus):
    d = HERE / "corpus" / corpus
    if d.is_dir():
        for f in d.iterdir():
            f.unlink()


for name in ("verifier", "keys", "remote", "audit_scan"):
    clear(name)


def put(corpus, data):
    if isinstance(data, str):
        data = data.encode()
    d = HERE / "corpus" / corpus
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def private(name):
    return (UNIT / "fixtures" / name).read_bytes()


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": "user-1", "azp": "client-1", "iat": NOW - 60, "nbf": NOW - 60,
         "exp": NOW + 3600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


signers = [
    ("RS256", private("test_rsa2048_private.pem")),
    ("ES256", private("test_ec_p256_private.pem")),
    ("EdDSA", private("test_ed25519_private.pem")),
    ("HS256", SECRET),
]

# One accepted token per algorithm, then refusals of every kind.
for alg, key in signers:
    put("verifier", jwt.encode(claims(), key, algorithm=alg))
variants = [
    claims(exp=NOW - 7200),
    claims(nbf=NOW + 7200, iat=NOW + 7200),
    claims(aud="api://elsewhere"),
    claims(aud=["api://elsewhere", AUD]),
    claims(aud=["https://graph.microsoft.com"]),
    claims(aud="api://other"),
    claims(aud=None),
    claims(iss="https://other.issuer"),
    claims(exp=1.5e300),
    claims(exp="tomorrow"),
    claims(exp=-1e15, nbf=1e15),
    claims(sub="x" * 300, azp="\u202e\u0007evil"),
    # Time claims beyond any integer second count: the hints' "seconds".
    claims(exp=-1e300),
    claims(nbf=1e300, iat=None),
]
for i, c in enumerate(variants):
    alg, key = signers[i % len(signers)]
    put("verifier", jwt.encode(c, key, algorithm=alg))
put("verifier", jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "no-such-kid"}))
put("verifier", jwt.encode(claims(), private("test_rsa2048_private.pem"), algorithm="PS256"))
put("verifier", jwt.encode(claims(), private("test_rsa2048_private.pem"), algorithm="RS256",
                           headers={"crit": ["exp"], "typ": "at+jwt"}))
put("verifier", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJhcGk6Ly9mdXp6In0.")
put("verifier", "not-a-token")
put("verifier", "")

# Keys: byte 0 even = a key document, odd = an HMAC secret (byte 1: kid length).
for f in sorted((UNIT / "keys").iterdir()):
    if f.suffix in (".pem", ".jwk", ".json"):
        put("keys", b"\0" + f.read_bytes())
for f in ("secret64.bin", "secret31.bin"):
    put("keys", b"\1\0" + (UNIT / "keys" / f).read_bytes())
put("keys", b"\1\3k-1" + SECRET)

# Remote: byte 0 bit 0 = discovery (document NUL JWKS), bits 1-3 = max-age.
jwks = (UNIT / "keys" / "jwks.json").read_bytes()
put("remote", b"\0" + jwks)
put("remote", b"\6" + jwks)
put("remote", b"\2" + (UNIT / "keys" / "jwks_unusable.json").read_bytes())
disco = json.dumps({"issuer": "https://idp.fuzz", "jwks_uri": "https://idp.fuzz/keys",
                    "id_token_signing_alg_values_supported": ["RS256"]}).encode()
put("remote", b"\1" + disco + b"\0" + jwks)
put("remote", b"\7" + json.dumps({"issuer": "https://evil.fuzz", "jwks_uri": "https://idp.fuzz/keys"}).encode()
    + b"\0" + jwks)
put("remote", b"\3" + json.dumps({"issuer": "https://idp.fuzz", "jwks_uri": "http://idp.fuzz/keys"}).encode())

# Audit lines as the module writes them (ASCII, fields in order), and a few
# that stray from that.
def record(decision, reasons=(), hints=(), aud=None, matched=None, client=None, api="orders"):
    return json.dumps({
        "time": "2026-11-23T10:15:02.123Z", "api": api, "uri": "/orders", "method": "GET",
        "client_ip": "192.0.2.1", "status": 200 if decision == "accept" else 401, "mode": "enforce",
        "decision": decision, "reasons": list(reasons), "hints": list(hints), "aud": aud,
        "matched": matched, "iss": ISS, "sub": "u", "client": client, "typ": None, "alg": "RS256",
        "kid": None, "exp": "2026-11-23T11:15:02.000Z", "token_id": "0123456789abcdef",
        "request_id": "Z2V0LXVwLTE"}, separators=(",", ":"))


put("audit_scan", record("accept", aud=[AUD], matched=AUD, client="c1"))
put("audit_scan", record("reject", ["aud_mismatch"], [{"code": "aud_other_api", "text": "used by \u00e9 api",
                                                        "api": "x"}], aud=["api://x"], client="c2"))
put("audit_scan", record("audit_reject", ["expired", "aud_missing"],
                         [{"code": "expired", "text": "expired 2 hours ago", "seconds": 7200}]))
put("audit_scan", record("reject", ["no_token"], api=None))
put("audit_scan", '{"time":"2026-01-01","aud":"single","hints":[1,{"code":"c"}],"reasons":[null,"x"]}')
put("audit_scan", '{"api":"\\ud83d\\ude00\\u00e9","decision":"accept","x":[[{}],-1.5e3,true,false,null]}')
put("audit_scan", '{"api":"a","api":"b"}')
put("audit_scan", ' { } ')
