// A real OpenID provider (panva's oidc-provider) on 127.0.0.1, for
// tests/httpd/test_oidc_provider.py. Test-only: it knows one confidential
// client and two resource servers, keeps everything in memory and serves
// plain http, which mod_auth_aud accepts only from loopback.
//
//   node provider.mjs            prints "port=N" on stdout once it listens;
//                                exits when its stdin closes, so that a test
//                                that dies cannot leave it running
//
// Besides the provider's own endpoints (discovery, jwks_uri, token) it
// answers two test-only POSTs under /__test/:
//   /__test/rotate     a new RS256 signing key with a new kid; the provider
//                      is rebuilt to sign with it and publishes both keys
//   /__test/id-token   an ID token signed with the current signing key (see
//                      the comment on mintIdToken for why it is not issued
//                      through a login flow)
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its notices with console.info; stdout carries only
// the port line the test waits for.
console.info = console.error;
console.log = console.error;

const CLIENT_ID = 'orders-client';
// The test gives the secret through the environment, so that it never
// appears in any output.
const CLIENT_SECRET = process.env.OIDC_CLIENT_SECRET || randomBytes(24).toString('base64url');

// RFC 8707 resources this provider issues JWT access tokens for. The
// audience is the resource indicator itself, as the APIs' AudAllow expects.
const RESOURCES = {
  'api://orders': { scope: 'orders.read orders.write' },
  'api://invoices': { scope: 'invoices.read' },
};

let issuer;
let generation = 0;
// Newest first: oidc-provider signs with the first key that fits the alg.
const signingKeys = [];
let current;

async function newSigningKey() {
  generation += 1;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `op-key-${generation}-${randomBytes(4).toString('hex')}`;
  signingKeys.unshift({ ...jwk, kid, alg: 'RS256', use: 'sig' });
  return { kid, privateKey };
}

function buildProvider() {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'orders.read orders.write invoices.read',
    }],
    jwks: { keys: signingKeys },
    scopes: ['orders.read', 'orders.write', 'invoices.read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          const known = RESOURCES[resourceIndicator];
          if (!known) throw new errors.InvalidTarget();
          return {
            scope: known.scope,
            audience: resourceIndicator,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  return provider.callback();
}

// An ID token as an OpenID provider issues it at the end of a code flow
// (OpenID Connect Core 1.0, 2 and 3.1.3.6): aud is the client id, with nonce,
// at_hash and auth_time, signed with the provider's own current key, so that
// mod_auth_aud gets it from the same jwks_uri as the access tokens. A real
// code flow needs a login and consent interaction (forms, cookies and
// redirects) that would test oidc-provider rather than mod_auth_aud; what
// the module sees is the signed token, and this one has every sign of an ID
// token the module looks at.
async function mintIdToken(accessToken) {
  const now = Math.floor(Date.now() / 1000);
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  const atHash = digest.subarray(0, digest.length / 2).toString('base64url');
  return new SignJWT({
    nonce: randomBytes(12).toString('base64url'),
    at_hash: atHash,
    auth_time: now - 5,
    azp: CLIENT_ID,
  })
    .setProtectedHeader({ alg: 'RS256', kid: current.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject('alice')
    .setAudience(CLIENT_ID)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(current.privateKey);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function testEndpoint(req, res) {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' });
  const body = JSON.parse((await readBody(req)) || '{}');
  if (req.url === '/__test/rotate') {
    current = await newSigningKey();
    handler = buildProvider();
    return sendJson(res, 200, { kid: current.kid, kids: signingKeys.map((k) => k.kid) });
  }
  if (req.url === '/__test/id-token') {
    if (typeof body.access_token !== 'string') return sendJson(res, 400, { error: 'access_token needed' });
    return sendJson(res, 200, { id_token: await mintIdToken(body.access_token), kid: current.kid });
  }
  return sendJson(res, 404, { error: 'unknown test endpoint' });
}

let handler;
const server = createServer((req, res) => {
  if (req.url.startsWith('/__test/')) {
    testEndpoint(req, res).catch((err) => sendJson(res, 500, { error: String(err) }));
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', async () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  current = await newSigningKey();
  handler = buildProvider();
  process.stdout.write(`port=${server.address().port}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
