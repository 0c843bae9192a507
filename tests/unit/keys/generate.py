#!/usr/bin/python3
"""Regenerates the key fixtures of tests/unit/check_keys.c.

Run once from this directory; the outputs are committed so that the tests
never depend on key generation. Every key here is a throwaway test key.
Re-running replaces every key, and with it every signature below.
"""
import base64
import datetime
import json
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, length=None):
    if length is None:
        length = (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(name, mode) as f:
        f.write(data)


PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS1 = serialization.PublicFormat.PKCS1
PKCS8 = serialization.PrivateFormat.PKCS8
TRAD = serialization.PrivateFormat.TraditionalOpenSSL
NOENC = serialization.NoEncryption()

rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
p256 = ec.generate_private_key(ec.SECP256R1())
p384 = ec.generate_private_key(ec.SECP384R1())
p521 = ec.generate_private_key(ec.SECP521R1())
k256 = ec.generate_private_key(ec.SECP256K1())
ed = ed25519.Ed25519PrivateKey.generate()
ed4 = ed448.Ed448PrivateKey.generate()
secret = bytes(range(0x40, 0x80))  # 64 bytes: fits HS256, HS384 and HS512

write("rsa2048_spki.pem", rsa2048.public_key().public_bytes(PEM, SPKI))
write("rsa2048_pkcs1.pem", rsa2048.public_key().public_bytes(PEM, PKCS1))
write("rsa2048_pkcs8.pem", rsa2048.private_bytes(PEM, PKCS8, NOENC))
write("rsa2048_trad.pem", rsa2048.private_bytes(PEM, TRAD, NOENC))
write("rsa2048_pkcs8_encrypted.pem",
      rsa2048.private_bytes(PEM, PKCS8, serialization.BestAvailableEncryption(b"test")))
write("rsa1024_spki.pem", rsa1024.public_key().public_bytes(PEM, SPKI))
write("p256_spki.pem", p256.public_key().public_bytes(PEM, SPKI))
write("p384_spki.pem", p384.public_key().public_bytes(PEM, SPKI))
write("p521_spki.pem", p521.public_key().public_bytes(PEM, SPKI))
write("secp256k1_spki.pem", k256.public_key().public_bytes(PEM, SPKI))
write("ed25519_spki.pem", ed.public_key().public_bytes(PEM, SPKI))
write("ed448_spki.pem", ed4.public_key().public_bytes(PEM, SPKI))
# Two keys in one file, with text around them as openssl writes it.
write("two_keys.pem", b"RSA key\n" + rsa2048.public_key().public_bytes(PEM, SPKI)
      + b"P-256 key\n" + p256.public_key().public_bytes(PEM, SPKI))
write("secret64.bin", secret)
write("secret31.bin", secret[:31])

# "EC PARAMETERS" ahead of "EC PRIVATE KEY", as `openssl ecparam -genkey` writes.
write("p256_sec1.pem", subprocess.run(
    ["openssl", "ec", "-param_out"], input=p256.private_bytes(PEM, TRAD, NOENC),
    capture_output=True, check=True).stdout + p256.private_bytes(PEM, TRAD, NOENC))
# Legacy encryption: a Proc-Type header on an "RSA PRIVATE KEY" block.
write("rsa2048_trad_encrypted.pem", subprocess.run(
    ["openssl", "rsa", "-traditional", "-aes128", "-passout", "pass:test"],
    input=rsa2048.private_bytes(PEM, TRAD, NOENC), capture_output=True, check=True).stdout)

# Already expired: the certificate is only a container for its key.
now = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mod_auth_aud test")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(rsa2048.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa2048, hashes.SHA256()))
write("rsa2048_cert.pem", cert.public_bytes(PEM))


def rsa_jwk(key, **extra):
    pub = key.public_key().public_numbers()
    return dict(kty="RSA", n=b64u(uint(pub.n)), e=b64u(uint(pub.e)), **extra)


def ec_jwk(key, crv, size, **extra):
    pub = key.public_key().public_numbers()
    return dict(kty="EC", crv=crv, x=b64u(uint(pub.x, size)), y=b64u(uint(pub.y, size)), **extra)


def ed_jwk(key, **extra):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return dict(kty="OKP", crv="Ed25519", x=b64u(raw), **extra)


priv = rsa2048.private_numbers()
rsa_private_jwk = rsa_jwk(rsa2048, kid="rsa-private", d=b64u(uint(priv.d)), p=b64u(uint(priv.p)),
                          q=b64u(uint(priv.q)), dp=b64u(uint(priv.dmp1)), dq=b64u(uint(priv.dmq1)),
                          qi=b64u(uint(priv.iqmp)))
write("rsa2048.jwk", json.dumps(rsa_jwk(rsa2048, kid="rsa1")))
write("rsa2048_private.jwk", json.dumps(rsa_private_jwk))
write("p256.jwk", json.dumps(ec_jwk(p256, "P-256", 32, kid="ec1")))
write("p384.jwk", json.dumps(ec_jwk(p384, "P-384", 48)))
write("p521.jwk", json.dumps(ec_jwk(p521, "P-521", 66, kid="ec521")))
write("ed25519.jwk", json.dumps(ed_jwk(ed, kid="ed1")))
write("oct.jwk", json.dumps(dict(kty="oct", k=b64u(secret), kid="hmac1")))
write("jwks.json", json.dumps({"keys": [
    rsa_jwk(rsa2048, kid="rsa-sig", use="sig", alg="RS256"),
    ec_jwk(p256, "P-256", 32, kid="ec-sig", use="sig", alg="ES256"),
    rsa_jwk(rsa2048, kid="rsa-enc", use="enc", alg="RSA-OAEP"),
    rsa_jwk(rsa1024, kid="rsa-weak", use="sig"),
    {"kty": "frob", "kid": "alien"},
    ed_jwk(ed, kid="ed-sig", alg="EdDSA"),
    rsa_jwk(rsa2048, kid="rsa-ps", alg="PS256"),
]}, indent=2))
write("jwks_unusable.json", json.dumps({"keys": [
    rsa_jwk(rsa2048, kid="rsa-enc", use="enc"),
    rsa_jwk(rsa1024, kid="rsa-weak"),
    {"kty": "frob", "kid": "alien"},
]}, indent=2))

# A compact JWS per algorithm, signed with the keys above. The verifier
# never sees these headers: the test checks only the signature.
SIGNING = {
    "RS256": lambda m: rsa2048.sign(m, padding.PKCS1v15(), hashes.SHA256()),
    "RS384": lambda m: rsa2048.sign(m, padding.PKCS1v15(), hashes.SHA384()),
    "RS512": lambda m: rsa2048.sign(m, padding.PKCS1v15(), hashes.SHA512()),
    "PS256": lambda m: rsa2048.sign(m, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()),
    "PS384": lambda m: rsa2048.sign(m, padding.PSS(padding.MGF1(hashes.SHA384()), 48), hashes.SHA384()),
    "PS512": lambda m: rsa2048.sign(m, padding.PSS(padding.MGF1(hashes.SHA512()), 64), hashes.SHA512()),
    "ES256": lambda m: p256.sign(m, ec.ECDSA(hashes.SHA256())),
    "ES384": lambda m: p384.sign(m, ec.ECDSA(hashes.SHA384())),
    "ES512": lambda m: p521.sign(m, ec.ECDSA(hashes.SHA512())),
    "EdDSA": ed.sign,
}
for alg, sign in SIGNING.items():
    header = b64u(json.dumps({"alg": alg}).encode())
    payload = b64u(b'{"sub":"key test"}')
    signing_input = (header + "." + payload).encode()
    sig = sign(signing_input)
    if alg.startswith("ES"):
        size = {"ES256": 32, "ES384": 48, "ES512": 66}[alg]
        r, s = utils.decode_dss_signature(sig)
        sig = uint(r, size) + uint(s, size)
    write("sig_%s.jwsc" % alg, "%s.%s\n" % (signing_input.decode(), b64u(sig)))
for alg, h in (("HS256", hashes.SHA256()), ("HS384", hashes.SHA384()), ("HS512", hashes.SHA512())):
    header = b64u(json.dumps({"alg": alg}).encode())
    signing_input = (header + "." + b64u(b'{"sub":"key test"}')).encode()
    mac = hmac.HMAC(secret, h)
    mac.update(signing_input)
    write("sig_%s.jwsc" % alg, "%s.%s\n" % (signing_input.decode(), b64u(mac.finalize())))

# PSS with the largest salt rather than the hash length that RFC 7518 fixes.
signing_input = (b64u(b'{"alg":"PS256"}') + "." + b64u(b'{"sub":"key test"}')).encode()
sig = rsa2048.sign(signing_input, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH),
                   hashes.SHA256())
write("sig_PS256_maxsalt.jwsc", "%s.%s\n" % (signing_input.decode(), b64u(sig)))
