// Tokens signed by node `jose`, a JOSE implementation independent of both
// mod_auth_aud and the python3-jwt the other real-httpd tests use. Test-only.
//
//   node mint.mjs JWKS_OUT < request.json > tokens.json
//
// request.json: {"tokens": [{"name": "...", "alg": "RS256"|"ES256"|"EdDSA",
// "claims": {...}}, ...]}. One fresh key pair per algorithm; the public keys
// (kid "jose-<alg>") are written to JWKS_OUT for AudKeyFile, the private
// keys never leave this process. Prints {"<name>": "<compact JWS>", ...}.
import { writeFileSync } from 'node:fs';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const ALGS = ['RS256', 'ES256', 'EdDSA'];

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const out = process.argv[2];
if (!out) {
  console.error('usage: node mint.mjs JWKS_OUT < request.json');
  process.exit(2);
}
const request = JSON.parse(await readStdin());

const keys = {};
const jwks = [];
for (const alg of ALGS) {
  // EdDSA: jose makes an Ed25519 pair (crv Ed25519, kty OKP).
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `jose-${alg.toLowerCase()}`;
  keys[alg] = { kid, privateKey };
  jwks.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
}
writeFileSync(out, `${JSON.stringify({ keys: jwks }, null, 2)}\n`);

const tokens = {};
for (const { name, alg, claims } of request.tokens) {
  const key = keys[alg];
  if (!key) throw new Error(`no key for alg ${alg}`);
  tokens[name] = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}
process.stdout.write(`${JSON.stringify(tokens)}\n`);
