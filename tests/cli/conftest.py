"""Fixtures for the aud-inspect tests.

Keys are generated and tokens minted with python3-cryptography and PyJWT, an
implementation independent of ours, so that a test passing means two
implementations agree and not that our code agrees with itself.
"""
import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

REPO = Path(__file__).resolve().parents[2]
SRCDIR = Path(os.environ.get("AUD_SRCDIR") or REPO)
BUILDDIR = Path(os.environ.get("AUD_BUILDDIR") or REPO / "build")
VECTORS = SRCDIR / "tests" / "vectors"

# A fixed "now" (2027-01-15T08:00:00Z) passed with --at, so that dates and
# relative times in the output are exact.
AT = 1_800_000_000
AUDIENCE = "api://x"
ISSUER = "https://issuer.example/"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def int_b64u(value: int, length: int = 0) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64u(value.to_bytes(length, "big"))


def rsa_jwk(public_key, kid):
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": int_b64u(numbers.n), "e": int_b64u(numbers.e)}


def ec_jwk(public_key, kid):
    numbers = public_key.public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256", "x": int_b64u(numbers.x, 32), "y": int_b64u(numbers.y, 32)}


def ed25519_jwk(public_key, kid):
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64u(raw)}


def pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Keys:
    rsa: object
    ec: object
    ed: object
    other_rsa: object  # never published: signs tokens that must not verify
    secret: bytes
    dir: Path

    @property
    def jwks(self) -> str:
        return str(self.dir / "jwks.json")

    def path(self, name: str) -> str:
        return str(self.dir / name)


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    k = Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        other_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        secret=os.urandom(48),
        dir=d,
    )
    jwks = {
        "keys": [
            rsa_jwk(k.rsa.public_key(), "rsa-1"),
            ec_jwk(k.ec.public_key(), "ec-1"),
            ed25519_jwk(k.ed.public_key(), "ed-1"),
        ]
    }
    (d / "jwks.json").write_text(json.dumps(jwks, indent=2))
    (d / "rsa.pem").write_bytes(pem(k.rsa.public_key()))
    (d / "ec.pem").write_bytes(pem(k.ec.public_key()))
    (d / "ed.pem").write_bytes(pem(k.ed.public_key()))
    (d / "secret.bin").write_bytes(k.secret)
    return k


def claims(**overrides):
    """Claims of a good token at AT; an override of None drops the claim."""
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "azp": "client-7",
        "iat": AT - 600,
        "nbf": AT - 600,
        "exp": AT + 3600,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


@pytest.fixture
def mint(keys):
    """mint(alg="RS256", kid=<the key's>, signer=None, **claim_overrides) -> token."""
    signers = {"RS256": (keys.rsa, "rsa-1"), "ES256": (keys.ec, "ec-1"), "EdDSA": (keys.ed, "ed-1"),
               "HS256": (keys.secret, None)}

    def make(alg="RS256", kid="default", signer=None, **overrides):
        default_signer, default_kid = signers[alg]
        headers = {}
        kid = default_kid if kid == "default" else kid
        if kid is not None:
            headers["kid"] = kid
        return jwt.encode(claims(**overrides), signer or default_signer, algorithm=alg, headers=headers)

    return make


@pytest.fixture(scope="session")
def binary() -> str:
    path = BUILDDIR / "aud-inspect"
    # A missing binary fails every test loudly; a skip would hide a broken build.
    assert path.is_file() and os.access(path, os.X_OK), f"aud-inspect not built at {path} (set AUD_BUILDDIR)"
    return str(path)


@pytest.fixture
def inspect(binary):
    """inspect(*args, stdin=None) -> CompletedProcess with text output."""

    def run(*args, stdin=None):
        return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture
def inspect_json(inspect):
    """Runs with --json; returns (exit status, the parsed single JSON object)."""

    def run(*args, stdin=None):
        proc = inspect("--json", *args, stdin=stdin)
        # Exactly one JSON document on stdout: json.loads refuses trailing text.
        return proc.returncode, json.loads(proc.stdout)

    return run
