#!/usr/bin/python3
"""Makes the ROCA-shaped moduli of tests/unit/check_keys.c (roca_*).

ROCA (CVE-2017-15361; Nemec, Sys, Svenda, Klinec, Matyas, "The Return of
Coppersmith's Attack", CCS 2017): Infineon's RSALib drew each prime as
k * M + (65537^a mod M), with M the product of the first 126 primes for
2048-bit keys. This builds such primes from that description, tests them
with Miller-Rabin, and writes:

  roca2048.jwk       n = p * q, both primes of RSALib's form: refused.
  roca2048_spki.pem  the same key as a PEM public key: refused.
  roca2048_near.jwk  that n moved off the fingerprint mod 167 alone (an odd
                     2048-bit number, not a real key): loads, so the check
                     looks at every prime, not some.

Run once from this directory; the outputs are committed. No private key is
kept. A fixed seed makes the run repeatable.
"""
import base64
import json
import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

rng = random.Random(15361)


def first_primes(count):
    found, n = [], 2
    while len(found) < count:
        if all(n % p for p in found if p * p <= n):
            found.append(n)
        n += 1
    return found


def probably_prime(n, rounds=40):
    if n < 4:
        return n in (2, 3)
    for p in first_primes(50):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


M = 1
for p in first_primes(126):
    M *= p


def rsalib_prime(bits):
    while True:
        k = rng.randrange(2 ** (bits - 1) // M + 1, 2 ** bits // M)
        a = rng.randrange(1, 2 ** 32)
        p = k * M + pow(65537, a, M)
        if p.bit_length() == bits and probably_prime(p):
            return p


def in_subgroup(value, r):
    g, x = 65537 % r, 1
    while True:
        if x == value % r:
            return True
        x = x * g % r
        if x == 1:
            return False


def b64u_int(n):
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def jwk(n, kid):
    return json.dumps({"kty": "RSA", "kid": kid, "n": b64u_int(n), "e": "AQAB"}, indent=1) + "\n"


while True:
    p, q = rsalib_prime(1024), rsalib_prime(1024)
    n = p * q
    if n.bit_length() == 2048:
        break

test_primes = [r for r in first_primes(39) if r != 2]
assert all(in_subgroup(n, r) for r in test_primes)

# Off the fingerprint mod 167 only: adding multiples of 2 * (the other test
# primes) keeps n odd and every other residue.
step = 2
for r in test_primes[:-1]:
    step *= r
near = n
while in_subgroup(near, 167):
    near += step
assert near.bit_length() == 2048 and near % 2 == 1
assert all(in_subgroup(near, r) for r in test_primes[:-1])

with open("roca2048.jwk", "w") as f:
    f.write(jwk(n, "roca"))
with open("roca2048_near.jwk", "w") as f:
    f.write(jwk(near, "near-miss"))
with open("roca2048_spki.pem", "wb") as f:
    f.write(rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
