#!/usr/bin/env node
'use strict';

// A small, scriptable, STATELESS fake OpenID provider for the fault cases a
// real provider never produces.  The first path segment selects the
// scenario, so every test can use its own issuer:
//
//   issuer  http://127.0.0.1:1990/ok
//           http://127.0.0.1:1990/idt-wrong-nonce
//           http://127.0.0.1:1990/discovery-slow-1500
//           http://127.0.0.1:1990/alg-es256+token-slow-200   (modifiers combine with '+')
//
// Endpoints under /<scenario>/: .well-known/openid-configuration, authorize,
// token, userinfo, jwks, logout, revoke.  Plain OAuth 2.0 "GitHub" lives under
// /github/.  Control endpoints: /_stats, /_requests, /_reset, /_rotate,
// /_scenarios.  `node t/fake/provider.js --help` and /_scenarios list it all.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { parseArgs } = require('node:util');

// ------------------------------------------------------------ scenarios

// name -> [takes a numeric parameter ('ms'|'s'|null), description]
const SCENARIOS = {
  ok: [null, 'a well-behaved provider (RS256 ID tokens)'],
  'alg-ps256': [null, 'ID tokens signed PS256 (same RSA key as RS256)'],
  'alg-rs384': [null, 'ID tokens signed RS384'],
  'alg-rs512': [null, 'ID tokens signed RS512'],
  'alg-es256': [null, 'ID tokens signed ES256 (P-256 key)'],
  'alg-es384': [null, 'ID tokens signed ES384 (P-384 key)'],
  'alg-eddsa': [null, 'ID tokens signed EdDSA (Ed25519 key)'],

  'discovery-algs-es256': [null, 'discovery lists only ES256 in id_token_signing_alg_values_supported'],
  'discovery-issuer-mismatch': [null, 'discovery "issuer" differs from the URL it was fetched from'],
  'discovery-500': [null, 'discovery answers 500'],
  'discovery-none': [null, 'no discovery document: it answers 404 (the other endpoints work)'],
  'discovery-badjson': [null, 'discovery body is truncated JSON'],
  'discovery-huge': [null, 'discovery body is valid JSON of 10 MB'],
  'discovery-slow': ['ms', 'discovery answers after <ms> (default 2000)'],
  'discovery-ctype': [null, 'discovery has Content-Type text/html (body still JSON)'],
  'jwks-slow': ['ms', 'JWKS answers after <ms> (default 2000)'],
  'jwks-badjson': [null, 'JWKS body is truncated JSON'],
  'jwks-unsupported': [null, 'JWKS has only unusable keys (an oct key, an RSA key without n)'],
  'token-slow': ['ms', 'token endpoint answers after <ms> (default 2000)'],
  'token-500': [null, 'token endpoint answers 500'],
  'token-badjson': [null, 'token response is truncated JSON'],
  'token-huge': [null, 'token response is valid JSON of 10 MB'],
  'token-error': [null, 'token endpoint answers 400 {"error":"invalid_grant"}'],
  'token-error-markup': [null, 'token endpoint answers 400 with an error code holding markup'],
  'token-crlf': [null, 'the access token holds CR LF and a header line (JSON-escaped)'],
  'token-type-mac': [null, 'token response with token_type "mac"'],
  'token-expires-frac': [null, 'token response expires_in with a fraction (lifetime + 0.5)'],
  'token-expires-string': [null, 'token response expires_in as a string of digits'],

  'idt-alg-none': [null, 'ID token with alg "none" and an empty signature'],
  'idt-hs256': [null, 'ID token HS256-signed with the client secret'],
  'idt-badsig-rs256': [null, 'RS256 ID token with a corrupted signature'],
  'idt-badsig-es256': [null, 'ES256 ID token with a corrupted signature'],
  'idt-unknown-key': [null, 'ID token signed by a key (and kid) that is not in the JWKS'],
  'idt-nokid': [null, 'ID token header without kid; the JWKS has exactly one key'],
  'idt-nokid-multi': [null, 'ID token header without kid; the JWKS has several keys (two RSA)'],
  'idt-wrong-iss': [null, 'ID token iss is another issuer'],
  'idt-wrong-aud': [null, 'ID token aud is another client'],
  'idt-multi-aud-no-azp': [null, 'ID token aud [client, other], no azp'],
  'idt-multi-aud-wrong-azp': [null, 'ID token aud [client, other], azp other'],
  'idt-multi-aud-azp': [null, 'ID token aud [client, other], azp client (valid)'],
  'idt-no-exp': [null, 'ID token without exp'],
  'idt-expired': [null, 'ID token expired an hour ago'],
  'idt-no-iat': [null, 'ID token without iat'],
  'idt-iat-future': [null, 'ID token iat an hour in the future'],
  'idt-nbf-future': [null, 'ID token nbf an hour in the future'],
  'idt-no-sub': [null, 'ID token without sub'],
  'idt-no-nonce': [null, 'ID token without nonce'],
  'idt-wrong-nonce': [null, 'ID token with another nonce'],
  'idt-malformed-b64': [null, 'ID token payload segment is not base64url (signature valid over it)'],
  'idt-malformed-json': [null, 'ID token payload is not JSON (signature valid)'],
  'idt-segments': [null, 'ID token with only 2 segments'],
  'idt-huge': [null, 'ID token with a 100 KB claim "huge" (validly signed)'],
  'idt-big': ['bytes', 'ID token with a claim "big" of <bytes> bytes (default 20000)'],
  'idt-exp-frac': [null, 'ID token exp with a fraction (lifetime + 0.5 s)'],
  'idt-exp-exponent': [null, 'ID token exp in exponent notation (1.7...e9)'],
  'idt-exp-huge': [null, 'ID token exp 99999999999999 (an integer past the year 9999)'],
  'idt-exp-string': [null, 'ID token exp as a string of digits'],
  'idt-iat-frac': [null, 'ID token iat with a fraction, half a second ago'],
  'idt-iat-negative': [null, 'ID token iat -1'],
  'idt-nbf-negative': [null, 'ID token nbf -1'],

  'userinfo-sub-mismatch': [null, 'userinfo sub differs from the ID token sub'],
  'userinfo-slow': ['ms', 'userinfo answers after <ms> (default 2000)'],
  'revoke-slow': ['ms', 'revocation endpoint answers after <ms> (default 2000)'],
  'claims-ctl': [null, 'ID token and userinfo claims holding CR LF, \\u000a, TAB and DEL (a header injection attempt)'],
  'claims-nul': [null, 'an ID token claim holding \\u0000'],
  'sub-ctl': [null, 'sub (ID token and userinfo) holding CR LF'],
  'claims-typed': [null, 'groups is the string "users,admin"; level the number 3, staff true, tags ["a,b","c"]'],
  'email-unverified': [null, 'email_verified is false'],
  'authorize-error': [null, 'authorize redirects back with error=access_denied'],
  'authorize-wrong-iss': [null, 'authorize redirects back with the iss of another issuer'],
  'kid-rotate': [null, 'like ok; meant for /_rotate tests: after /_rotate tokens carry a new kid '
    + 'that appears in the JWKS only from then on'],

  'auth-basic': [null, 'token endpoint accepts only client_secret_basic'],
  'auth-post': [null, 'token endpoint accepts only client_secret_post'],
  ttl: ['s', 'access token expires_in and ID token lifetime of <s> seconds'],
  'refresh-no-idt': [null, 'refresh_token grant answers without an id_token'],
  'refresh-no-rotate': [null, 'refresh_token grant answers without a new refresh_token'],
  'refresh-error': [null, 'refresh_token grant answers 400 invalid_grant'],

  par: [null, 'discovery names /par (RFC 9126) and requires pushed authorization requests; '
    + '/par answers 201 with a request_uri (authorize does not honour it)'],
  'par-500': [null, 'with par: /par answers 500 server_error'],
  'par-refuse': [null, 'with par: /par answers 400 invalid_request'],
  'par-bad-uri': [null, 'with par: /par answers a request_uri holding CR LF and a javascript: scheme'],
  'par-no-expiry': [null, 'with par: /par answers without expires_in'],
  'par-slow': ['ms', 'with par: /par answers after <ms> (default 2000)'],

  github: [null, 'plain OAuth 2.0 like GitHub (see /github/... endpoints); no discovery, no id_token'],

  tenants: ['n', 'multi-tenant like Entra ID: endpoints under /<scenario>/<tenant>/ (discovery at '
    + '/<scenario>/common/), issuer template <base>/<scenario>/{tenantid}; ID tokens of tenant <n> '
    + '(tid 00000000-0000-0000-0000-00000000000<n>), iss filled with it, no iss on the redirect back'],
  'tenant-wrong-iss': [null, 'with tenants: iss names another tenant than the tid claim'],
  'tenant-no-tid': [null, 'with tenants: no tid claim'],
  'tenant-bad-tid': [null, 'with tenants: tid "a.b/c" and iss filled with it'],
};

// with "tenants-<n>": the tenant id of tenant n
const tenantId = (n) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const tenantTemplate = (issuer) => issuer.replace(/\/[^/]*$/, '/{tenantid}');

const DEFAULT_DELAY_MS = 2000;

/**
 * "alg-es256+token-slow-300" -> Map { 'alg-es256' => null, 'token-slow' => 300 }, or null if
 * any part is unknown.
 */
function parseScenario(segment) {
  if (!segment || segment.startsWith('_') || segment.startsWith('.')) return null;
  const mods = new Map();
  for (const part of segment.split('+')) {
    if (SCENARIOS[part] && !SCENARIOS[part][0]) { mods.set(part, null); continue; }
    const m = /^(.+?)(?:-(\d+))?$/.exec(part);
    if (!m || !SCENARIOS[m[1]] || (m[2] !== undefined && !SCENARIOS[m[1]][0])) return null;
    mods.set(m[1], m[2] === undefined ? null : Number(m[2]));
  }
  if (mods.has('github') && mods.size > 1) return null;
  return mods;
}

// ------------------------------------------------------------ CLI

const USAGE = `usage: node t/fake/provider.js [options]

  --port N            http port (env FAKE_OP_PORT, default 1990)
  --host ADDR         listen address (default 127.0.0.1)
  --tls-cert FILE     also serve https (PEM certificate, e.g. from t/tools/gen-certs.sh)
  --tls-key FILE      ... with this key
  --tls-port N        https port (env FAKE_OP_TLS_PORT, default 1992)
  --client-id ID      client id (env FAKE_CLIENT_ID, default fake-client)
  --client-secret S   client secret (env FAKE_CLIENT_SECRET, default fake-secret-0123456789abcdefghijkl)
  --exit-on-stdin-close
  --verbose           one log line per request on stdout
  --help

scenarios (first path segment; combine modifiers with '+'; <n> is a number):
${Object.entries(SCENARIOS).map(([k, [p, d]]) => `  ${(p ? `${k}-<${p}>` : k).padEnd(26)} ${d}`).join('\n')}
`;

function fail(msg) {
  process.stderr.write(`fake: ${msg}\n`);
  process.exit(2);
}

function parseCli(argv) {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-port': { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'exit-on-stdin-close': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail(`${e.message}\n\n${USAGE}`);
  }
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const port = (x, d) => {
    if (x === undefined || x === '') return d;
    const n = Number(x);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) fail(`bad port ${x}`);
    return n;
  };
  const o = {
    port: port(v.port ?? process.env.FAKE_OP_PORT, 1990),
    host: v.host ?? '127.0.0.1',
    tlsCert: v['tls-cert'],
    tlsKey: v['tls-key'],
    tlsPort: port(v['tls-port'] ?? process.env.FAKE_OP_TLS_PORT, 1992),
    clientId: v['client-id'] ?? process.env.FAKE_CLIENT_ID ?? 'fake-client',
    clientSecret: v['client-secret'] ?? process.env.FAKE_CLIENT_SECRET ?? 'fake-secret-0123456789abcdefghijkl',
    exitOnStdinClose: !!v['exit-on-stdin-close'],
    verbose: !!v.verbose,
  };
  if (!!o.tlsCert !== !!o.tlsKey) fail('--tls-cert and --tls-key go together');
  return o;
}

// ------------------------------------------------------------ keys

const b64u = (x) => Buffer.from(x).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const rand = (n = 16) => crypto.randomBytes(n).toString('base64url');

function makeKey(type, label) {
  let pair;
  if (type === 'rsa') pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (type === 'p256') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else if (type === 'p384') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  else if (type === 'ed25519') pair = crypto.generateKeyPairSync('ed25519');
  else throw new Error(type);
  const kid = `${label}-${crypto.randomBytes(4).toString('hex')}`;
  const pub = pair.publicKey.export({ format: 'jwk' });
  const jwk = { ...pub, kid, use: 'sig' };
  // RSA keys serve RS256/384/512 and PS256 alike: no "alg" on them
  if (type === 'p256') jwk.alg = 'ES256';
  if (type === 'p384') jwk.alg = 'ES384';
  if (type === 'ed25519') jwk.alg = 'EdDSA';
  return { kid, privateKey: pair.privateKey, jwk };
}

let keys; // generated at startup by initKeys()
function initKeys() {
  keys = {
    rsa: [makeKey('rsa', 'rsa')], // the last one signs; /_rotate appends
    rsaSpare: makeKey('rsa', 'rsa-spare'), // only in idt-nokid-multi's JWKS
    p256: makeKey('p256', 'ec256'),
    p384: makeKey('p384', 'ec384'),
    ed25519: makeKey('ed25519', 'ed25519'),
    unknown: makeKey('rsa', 'unknown'), // never published
  };
}
const currentRsa = () => keys.rsa[keys.rsa.length - 1];

function jwksFor(mods) {
  if (mods.has('jwks-unsupported')) {
    const { n: _n, ...noN } = currentRsa().jwk;
    return {
      keys: [
        { kty: 'oct', kid: 'oct-1', k: b64u(crypto.randomBytes(32)), alg: 'HS256', use: 'sig' },
        noN,
      ],
    };
  }
  if (mods.has('idt-nokid')) return { keys: [currentRsa().jwk] };
  const list = [...keys.rsa.map((k) => k.jwk), keys.p256.jwk, keys.p384.jwk, keys.ed25519.jwk];
  if (mods.has('idt-nokid-multi')) list.unshift(keys.rsaSpare.jwk);
  return { keys: list };
}

const ALG = {
  RS256: ['sha256', 'rsa'],
  RS384: ['sha384', 'rsa'],
  RS512: ['sha512', 'rsa'],
  PS256: ['sha256', 'rsa-pss'],
  ES256: ['sha256', 'ec'],
  ES384: ['sha384', 'ec'],
  EdDSA: [null, 'ed'],
};

function signWith(alg, key, signingInput) {
  const data = Buffer.from(signingInput);
  const [hash, kind] = ALG[alg];
  if (kind === 'ed') return crypto.sign(null, data, key.privateKey);
  if (kind === 'rsa-pss') {
    return crypto.sign(hash, data, {
      key: key.privateKey,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
    });
  }
  if (kind === 'ec') return crypto.sign(hash, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return crypto.sign(hash, data, key.privateKey);
}

function signingChoice(mods) {
  if (mods.has('alg-ps256')) return ['PS256', currentRsa()];
  if (mods.has('alg-rs384')) return ['RS384', currentRsa()];
  if (mods.has('alg-rs512')) return ['RS512', currentRsa()];
  if (mods.has('alg-es256') || mods.has('idt-badsig-es256')) return ['ES256', keys.p256];
  if (mods.has('alg-es384')) return ['ES384', keys.p384];
  if (mods.has('alg-eddsa')) return ['EdDSA', keys.ed25519];
  if (mods.has('idt-unknown-key')) return ['RS256', keys.unknown];
  return ['RS256', currentRsa()];
}

function flipByte(sigB64u) {
  const sig = Buffer.from(sigB64u, 'base64url');
  sig[Math.floor(sig.length / 2)] ^= 0x5a;
  return sig.toString('base64url');
}

/** Build the ID token for these claims, applying the scenario's encoding defects. */
function makeIdToken(mods, claims, clientSecret) {
  const [alg, key] = signingChoice(mods);
  const header = { alg, typ: 'JWT', kid: key.kid };
  if (mods.has('idt-nokid') || mods.has('idt-nokid-multi')) delete header.kid;
  let payload = JSON.stringify(claims);
  // JSON.stringify never writes an exponent for these: write it here
  if (mods.has('idt-exp-exponent')) payload = payload.replace(/"exp":(\d+)/, (m, n) => `"exp":${Number(n) / 1e9}e9`);
  let payloadSeg = b64u(withU000A(payload));

  if (mods.has('idt-alg-none')) {
    return `${b64u(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payloadSeg}.`;
  }
  if (mods.has('idt-hs256')) {
    const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const mac = crypto.createHmac('sha256', clientSecret).update(`${h}.${payloadSeg}`).digest('base64url');
    return `${h}.${payloadSeg}.${mac}`;
  }
  if (mods.has('idt-malformed-b64')) payloadSeg = `${payloadSeg.slice(0, 10)}*!@${payloadSeg.slice(10)}`;
  if (mods.has('idt-malformed-json')) payloadSeg = b64u('{"iss": "half a JSON object", "sub": ');

  const headerSeg = b64u(JSON.stringify(header));
  const signingInput = `${headerSeg}.${payloadSeg}`;
  let sig = b64u(signWith(alg, key, signingInput));
  if (mods.has('idt-badsig-rs256') || mods.has('idt-badsig-es256')) sig = flipByte(sig);
  if (mods.has('idt-segments')) return signingInput;
  return `${signingInput}.${sig}`;
}

// ------------------------------------------------------------ accounts

function accountClaims(sub) {
  const groups = ['users'];
  if (sub === 'admin') groups.push('admin');
  return {
    email: `${sub}@example.com`,
    email_verified: true,
    name: `User ${sub}`,
    preferred_username: sub,
    groups,
  };
}

// the claims the claim scenarios add to the ID token and to userinfo
function scenarioClaims(mods, sub) {
  const c = {};
  if (mods.has('claims-ctl')) {
    c.name = 'Eve\r\nX-Injected: name';
    c.nick = `eve${U000A}X-Injected: nick`;
    c.title = 'tab\there';
    c.dept = 'del\x7fhere';
    c.groups = ['users', 'admin\r\nX-Injected: group'];
    c.email = 'eve@example.com\r\nX-Injected: email';
    c.city = 'Paris, France';
  }
  if (mods.has('claims-nul')) c.name = 'a\u0000b';
  if (mods.has('sub-ctl')) c.sub = `${sub}\r\nX-Injected: sub`;
  if (mods.has('claims-typed')) {
    c.groups = 'users,admin';
    c.level = 3;
    c.staff = true;
    c.tags = ['a,b', 'c'];
  }
  if (mods.has('email-unverified')) c.email_verified = false;
  return c;
}

// a marker JSON.stringify() leaves alone, replaced by the escape "\u000a"
// (which it would write as "\n") in the JSON text sent
const U000A = '@@U000A@@';
const withU000A = (json) => json.split(U000A).join('\\u000a');

function idTokenClaims(mods, issuer, clientId, grant) {
  const t = now();
  const ttl = mods.has('ttl') ? (mods.get('ttl') || 600) : 600;
  const c = {
    iss: issuer,
    sub: grant.sub,
    aud: clientId,
    exp: t + ttl,
    iat: t,
    auth_time: grant.auth_time,
    ...(grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
    ...accountClaims(grant.sub),
  };
  if (mods.has('idt-wrong-iss')) c.iss = 'https://wrong-issuer.invalid/other';
  if (mods.has('idt-wrong-aud')) c.aud = 'some-other-client';
  if (mods.has('idt-multi-aud-no-azp')) c.aud = [clientId, 'other-client'];
  if (mods.has('idt-multi-aud-wrong-azp')) { c.aud = [clientId, 'other-client']; c.azp = 'other-client'; }
  if (mods.has('idt-multi-aud-azp')) { c.aud = [clientId, 'other-client']; c.azp = clientId; }
  if (mods.has('idt-no-exp')) delete c.exp;
  if (mods.has('idt-expired')) { c.iat = t - 7200; c.exp = t - 3600; c.auth_time = t - 7200; }
  if (mods.has('idt-no-iat')) delete c.iat;
  if (mods.has('idt-iat-future')) { c.iat = t + 3600; c.exp = t + 3600 + ttl; }
  if (mods.has('idt-nbf-future')) c.nbf = t + 3600;
  if (mods.has('idt-no-sub')) delete c.sub;
  if (mods.has('idt-no-nonce')) delete c.nonce;
  if (mods.has('idt-wrong-nonce')) c.nonce = `not-${rand(12)}`;
  if (mods.has('idt-huge')) c.huge = 'x'.repeat(100 * 1024);
  if (mods.has('idt-big')) c.big = 'b'.repeat(mods.get('idt-big') ?? 20000);
  if (mods.has('idt-exp-frac')) c.exp += 0.5;
  if (mods.has('idt-exp-huge')) c.exp = 99999999999999;
  if (mods.has('idt-exp-string')) c.exp = String(c.exp);
  if (mods.has('idt-iat-frac')) c.iat -= 0.5;
  if (mods.has('idt-iat-negative')) c.iat = -1;
  if (mods.has('idt-nbf-negative')) c.nbf = -1;
  if (mods.has('tenants')) {
    c.tid = tenantId(mods.get('tenants') ?? 1);
    c.iss = tenantTemplate(issuer).replace('{tenantid}', c.tid);
    if (mods.has('tenant-wrong-iss')) c.iss = tenantTemplate(issuer).replace('{tenantid}', tenantId(999));
    if (mods.has('tenant-no-tid')) delete c.tid;
    if (mods.has('tenant-bad-tid')) {
      c.tid = 'a.b/c';
      c.iss = tenantTemplate(issuer).replace('{tenantid}', c.tid);
    }
  }
  Object.assign(c, scenarioClaims(mods, c.sub));
  return c;
}

// ------------------------------------------------------------ state (only what must be)

const usedCodes = new Set();
const usedRefreshTokens = new Set();
const revoked = new Set();
const stats = new Map();
const recorded = [];
const MAX_RECORDED = 500;

// ------------------------------------------------------------ HTTP helpers

function send(res, status, body, headers = {}) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
  res.writeHead(status, {
    'content-length': buf.length,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(buf);
}

function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj), { 'content-type': 'application/json; charset=utf-8', ...headers });
}

function oauthError(res, status, error, description, headers = {}) {
  sendJson(res, status, { error, error_description: description }, headers);
}

function redirect(res, location, status = 302) {
  send(res, status, '', { location });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A valid JSON object padded to about `bytes`. */
function hugeJson(obj, bytes = 10 * 1024 * 1024) {
  const head = JSON.stringify(obj);
  const pad = Math.max(0, bytes - head.length + 1); // total slightly above `bytes`
  return `${head.slice(0, -1)},"padding":"${'x'.repeat(pad)}"}`;
}

function formDecode(s) {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/**
 * Client authentication (RFC 6749 2.3.1).  Returns { clientId, method } or
 * an { status, error, description } to send.
 */
function authenticateClient(req, form, o, mods) {
  const auth = req.headers.authorization;
  let basic = null;
  if (auth && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return { status: 401, error: 'invalid_client', description: 'malformed Basic credentials' };
    try {
      basic = { id: formDecode(decoded.slice(0, i)), secret: formDecode(decoded.slice(i + 1)) };
    } catch {
      return { status: 401, error: 'invalid_client', description: 'bad encoding in Basic credentials' };
    }
  }
  const post = form.get('client_secret') !== null
    ? { id: form.get('client_id'), secret: form.get('client_secret') } : null;
  if (basic && post) {
    return { status: 400, error: 'invalid_request', description: 'more than one client authentication method' };
  }
  const cred = basic || post;
  const method = basic ? 'client_secret_basic' : 'client_secret_post';
  if (!cred) {
    return { status: 401, error: 'invalid_client', description: 'no client authentication', basicChallenge: true };
  }
  if (mods && mods.has('auth-basic') && method !== 'client_secret_basic') {
    return { status: 401, error: 'invalid_client', description: 'this client must use client_secret_basic' };
  }
  if (mods && mods.has('auth-post') && method !== 'client_secret_post') {
    return { status: 401, error: 'invalid_client', description: 'this client must use client_secret_post' };
  }
  if (basic && form.get('client_id') !== null && form.get('client_id') !== basic.id) {
    return { status: 400, error: 'invalid_request', description: 'client_id differs from the authenticated client' };
  }
  if (cred.id !== o.clientId || !safeEqual(cred.secret, o.clientSecret)) {
    return {
      status: 401, error: 'invalid_client', description: 'client authentication failed', basicChallenge: !!basic,
    };
  }
  return { clientId: cred.id, method };
}

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function sendAuthFailure(res, r) {
  const headers = r.basicChallenge ? { 'www-authenticate': 'Basic realm="fake"' } : {};
  oauthError(res, r.status, r.error, r.description, headers);
}

// opaque-looking but self-contained tokens: "<prefix>.<b64url JSON>"
const packToken = (prefix, obj) => `${prefix}.${b64u(JSON.stringify(obj))}`;
function unpackToken(prefix, tok) {
  if (typeof tok !== 'string' || !tok.startsWith(`${prefix}.`)) return null;
  try { return JSON.parse(Buffer.from(tok.slice(prefix.length + 1), 'base64url').toString('utf8')); } catch { return null; }
}

// ------------------------------------------------------------ OIDC endpoints

function discoveryDoc(issuer) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    end_session_endpoint: `${issuer}/logout`,
    revocation_endpoint: `${issuer}/revoke`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'email', 'email_verified',
      'name', 'preferred_username', 'groups'],
    authorization_response_iss_parameter_supported: true,
  };
}

async function handleDiscovery(ctx) {
  const { res, mods, issuer } = ctx;
  if (mods.has('discovery-slow')) await sleep(mods.get('discovery-slow') ?? DEFAULT_DELAY_MS);
  if (mods.has('discovery-500')) return oauthError(res, 500, 'server_error', 'discovery is broken (scenario)');
  if (mods.has('discovery-none')) return send(res, 404, 'no discovery document (scenario)\n', { 'content-type': 'text/plain' });
  const doc = discoveryDoc(issuer);
  if (mods.has('discovery-issuer-mismatch')) doc.issuer = `${issuer}-mismatch`;
  if (mods.has('discovery-algs-es256')) doc.id_token_signing_alg_values_supported = ['ES256'];
  if (mods.has('par')) {
    doc.pushed_authorization_request_endpoint = `${issuer}/par`;
    doc.require_pushed_authorization_requests = true;
  }
  if (mods.has('tenants')) {
    doc.issuer = tenantTemplate(issuer);
    delete doc.authorization_response_iss_parameter_supported;
  }
  if (mods.has('discovery-badjson')) {
    return send(res, 200, JSON.stringify(doc).slice(0, 120), { 'content-type': 'application/json' });
  }
  if (mods.has('discovery-huge')) {
    return send(res, 200, hugeJson(doc), { 'content-type': 'application/json' });
  }
  if (mods.has('discovery-ctype')) {
    return send(res, 200, JSON.stringify(doc), { 'content-type': 'text/html; charset=utf-8' });
  }
  return sendJson(res, 200, doc);
}

async function handleJwks(ctx) {
  const { res, mods } = ctx;
  if (mods.has('jwks-slow')) await sleep(mods.get('jwks-slow') ?? DEFAULT_DELAY_MS);
  const body = JSON.stringify(jwksFor(mods));
  if (mods.has('jwks-badjson')) return send(res, 200, body.slice(0, 100), { 'content-type': 'application/json' });
  return send(res, 200, body, { 'content-type': 'application/jwk-set+json' });
}

function validRedirectUri(u) {
  try {
    const x = new URL(u);
    return (x.protocol === 'http:' || x.protocol === 'https:') && !x.hash;
  } catch {
    return false;
  }
}

function handleAuthorize(ctx) {
  const {
    res, url, mods, issuer, o,
  } = ctx;
  const q = url.searchParams;
  const clientId = q.get('client_id');
  const redirectUri = q.get('redirect_uri');
  if (!clientId || clientId !== o.clientId) return oauthError(res, 400, 'invalid_client', 'unknown client_id');
  if (!redirectUri || !validRedirectUri(redirectUri)) {
    return oauthError(res, 400, 'invalid_request', 'redirect_uri missing or invalid');
  }
  const back = (params) => {
    const u = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, v);
    return redirect(res, u.toString());
  };
  const state = q.get('state') ?? undefined;
  let issParam = mods.has('authorize-wrong-iss') ? 'https://wrong-issuer.invalid/other' : issuer;
  if (mods.has('tenants')) issParam = undefined; // like Entra ID
  const errorBack = (error, description) => back({
    error, error_description: description, state, iss: issParam,
  });

  if (q.get('response_type') !== 'code') return errorBack('unsupported_response_type', 'only response_type=code');
  if (mods.has('authorize-error')) return errorBack('access_denied', 'The user said no (scenario authorize-error)');
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method');
  if (!challenge) return errorBack('invalid_request', 'PKCE code_challenge is required');
  if (method !== 'S256') return errorBack('invalid_request', 'code_challenge_method must be S256');
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) return errorBack('invalid_request', 'malformed code_challenge');

  const scope = q.get('scope') || '';
  if (!scope.split(' ').includes('openid')) return errorBack('invalid_scope', 'scope must include openid');
  const code = b64u(JSON.stringify({
    jti: rand(12),
    iat: now(),
    nonce: q.get('nonce') ?? undefined,
    code_challenge: challenge,
    code_challenge_method: method,
    redirect_uri: redirectUri,
    client_id: clientId,
    scope,
    scenario: ctx.segment,
    sub: q.get('login_hint') || 'alice',
  }));
  return back({ code, state, iss: issParam });
}

function decodeCode(code) {
  try {
    const c = JSON.parse(Buffer.from(code, 'base64url').toString('utf8'));
    return c && typeof c === 'object' && c.jti ? c : null;
  } catch {
    return null;
  }
}

function issueTokens(ctx, clientId, grant, { refresh, includeIdToken = true, includeRefresh = true }) {
  const { mods, issuer, o } = ctx;
  const ttl = mods.has('ttl') ? (mods.get('ttl') || 300) : 300;
  const out = {
    access_token: packToken('at', {
      sub: grant.sub, client_id: clientId, scope: grant.scope, scenario: ctx.segment, exp: now() + ttl, jti: rand(9),
    }),
    token_type: 'Bearer',
    expires_in: ttl,
    scope: grant.scope,
  };
  if (mods.has('token-expires-frac')) out.expires_in = ttl + 0.5;
  if (mods.has('token-expires-string')) out.expires_in = String(ttl);
  if (mods.has('token-crlf')) out.access_token += '\r\nX-Injected: 1';
  if (includeIdToken) {
    const claims = idTokenClaims(mods, issuer, clientId, refresh ? { ...grant, nonce: undefined } : grant);
    out.id_token = makeIdToken(mods, claims, o.clientSecret);
  }
  if (includeRefresh) {
    out.refresh_token = packToken('rt', {
      sub: grant.sub,
      client_id: clientId,
      scope: grant.scope,
      scenario: ctx.segment,
      auth_time: grant.auth_time,
      jti: rand(12),
    });
  }
  return out;
}

async function handleToken(ctx) {
  const {
    req, res, mods, o,
  } = ctx;
  if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'POST required', { allow: 'POST' });
  const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ctype !== 'application/x-www-form-urlencoded') {
    return oauthError(res, 400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(ctx.body);
  if (mods.has('token-slow')) await sleep(mods.get('token-slow') ?? DEFAULT_DELAY_MS);
  if (mods.has('token-500')) return oauthError(res, 500, 'server_error', 'token endpoint is broken (scenario)');
  if (mods.has('token-error')) return oauthError(res, 400, 'invalid_grant', 'scenario token-error');
  if (mods.has('token-error-markup')) return oauthError(res, 400, '<b>x</b>', 'scenario token-error-markup');

  const auth = authenticateClient(req, form, o, mods);
  if (auth.error) return sendAuthFailure(res, auth);

  const grantType = form.get('grant_type');
  let body;
  if (grantType === 'authorization_code') {
    const codeStr = form.get('code');
    const code = codeStr && decodeCode(codeStr);
    if (!code) return oauthError(res, 400, 'invalid_grant', 'unknown code');
    if (usedCodes.has(code.jti)) return oauthError(res, 400, 'invalid_grant', 'code already used');
    if (code.scenario !== ctx.segment) return oauthError(res, 400, 'invalid_grant', 'code issued by another issuer');
    if (now() - code.iat > 600) return oauthError(res, 400, 'invalid_grant', 'code expired');
    if (code.client_id !== auth.clientId) return oauthError(res, 400, 'invalid_grant', 'code issued to another client');
    if (form.get('redirect_uri') !== code.redirect_uri) {
      return oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    }
    const verifier = form.get('code_verifier');
    if (!verifier) return oauthError(res, 400, 'invalid_grant', 'code_verifier required');
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return oauthError(res, 400, 'invalid_grant', 'malformed code_verifier');
    const computed = crypto.createHash('sha256').update(verifier).digest('base64url');
    if (computed !== code.code_challenge) return oauthError(res, 400, 'invalid_grant', 'PKCE verification failed');
    usedCodes.add(code.jti);
    body = issueTokens(ctx, auth.clientId, {
      sub: code.sub, scope: code.scope, nonce: code.nonce, auth_time: code.iat,
    }, { refresh: false });
  } else if (grantType === 'refresh_token') {
    if (mods.has('refresh-error')) return oauthError(res, 400, 'invalid_grant', 'scenario refresh-error');
    const rtStr = form.get('refresh_token');
    const rt = unpackToken('rt', rtStr);
    if (!rt) return oauthError(res, 400, 'invalid_grant', 'unknown refresh token');
    if (revoked.has(rtStr)) return oauthError(res, 400, 'invalid_grant', 'refresh token revoked');
    if (rt.scenario !== ctx.segment) return oauthError(res, 400, 'invalid_grant', 'refresh token of another issuer');
    if (rt.client_id !== auth.clientId) return oauthError(res, 400, 'invalid_grant', 'refresh token of another client');
    const rotate = !mods.has('refresh-no-rotate');
    if (rotate) {
      if (usedRefreshTokens.has(rt.jti)) return oauthError(res, 400, 'invalid_grant', 'refresh token already used');
      usedRefreshTokens.add(rt.jti);
    }
    body = issueTokens(ctx, auth.clientId, rt, {
      refresh: true,
      includeIdToken: !mods.has('refresh-no-idt'),
      includeRefresh: rotate,
    });
  } else if (grantType === 'client_credentials') {
    // an RFC 9068 JWT access token for the API https://api.example.com,
    // signed as the scenario signs ID tokens
    const [alg, key] = signingChoice(mods);
    const t = now();
    const h = b64u(JSON.stringify({ alg, typ: 'at+jwt', kid: key.kid }));
    const c = b64u(JSON.stringify({
      iss: ctx.issuer, sub: auth.clientId, aud: 'https://api.example.com', client_id: auth.clientId,
      scope: form.get('scope') || 'read', iat: t, exp: t + 600, jti: crypto.randomBytes(8).toString('hex'),
    }));
    body = {
      access_token: `${h}.${c}.${b64u(signWith(alg, key, `${h}.${c}`))}`, token_type: 'Bearer', expires_in: 600,
    };
  } else {
    return oauthError(res, 400, 'unsupported_grant_type', `grant_type ${grantType} not supported`);
  }

  if (mods.has('token-type-mac')) body.token_type = 'mac';
  if (mods.has('token-badjson')) {
    return send(res, 200, JSON.stringify(body).slice(0, 80), { 'content-type': 'application/json' });
  }
  if (mods.has('token-huge')) {
    return send(res, 200, hugeJson(body), { 'content-type': 'application/json', 'cache-control': 'no-store' });
  }
  return sendJson(res, 200, body, { pragma: 'no-cache' });
}

function bearer(req) {
  const a = req.headers.authorization || '';
  const m = /^(?:bearer|token)\s+(\S+)$/i.exec(a);
  return m ? m[1] : null;
}

function checkAccessToken(ctx) {
  const tok = bearer(ctx.req);
  const at = unpackToken('at', tok);
  if (!tok || !at || revoked.has(tok) || at.exp < now()) return null;
  return at;
}

async function handleUserinfo(ctx) {
  const { res, mods } = ctx;
  if (mods.has('userinfo-slow')) await sleep(mods.get('userinfo-slow') ?? DEFAULT_DELAY_MS);
  const at = checkAccessToken(ctx);
  if (!at || at.scenario !== ctx.segment) {
    return sendJson(res, 401, { error: 'invalid_token', error_description: 'access token missing, invalid or expired' }, {
      'www-authenticate': 'Bearer error="invalid_token"',
    });
  }
  const sub = mods.has('userinfo-sub-mismatch') ? `not-${at.sub}` : at.sub;
  const body = { sub, ...accountClaims(at.sub), ...scenarioClaims(mods, sub) };
  return send(res, 200, withU000A(JSON.stringify(body)), { 'content-type': 'application/json; charset=utf-8' });
}

/** RFC 9126 pushed authorization requests, for the faults a real OP won't make */
async function handlePar(ctx) {
  const { req, res, o, mods } = ctx;
  if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'POST required', { allow: 'POST' });
  const form = new URLSearchParams(ctx.body);
  const auth = authenticateClient(req, form, o, mods);
  if (auth.error) return sendAuthFailure(res, auth);
  if (mods.has('par-slow')) await sleep(mods.get('par-slow') ?? DEFAULT_DELAY_MS);
  if (mods.has('par-500')) return oauthError(res, 500, 'server_error', 'PAR is broken (scenario)');
  if (mods.has('par-refuse')) return oauthError(res, 400, 'invalid_request', 'refused (scenario)');
  const answer = { request_uri: `urn:ietf:params:oauth:request_uri:${crypto.randomBytes(12).toString('base64url')}`, expires_in: 60 };
  if (mods.has('par-bad-uri')) answer.request_uri = 'javascript:alert(1)\r\nX-Injected: 1';
  if (mods.has('par-no-expiry')) delete answer.expires_in;
  return sendJson(res, 201, answer);
}

async function handleRevoke(ctx) {
  const { req, res, o } = ctx;
  if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'POST required', { allow: 'POST' });
  const form = new URLSearchParams(ctx.body);
  const auth = authenticateClient(req, form, o, ctx.mods);
  if (auth.error) return sendAuthFailure(res, auth);
  const token = form.get('token');
  if (!token) return oauthError(res, 400, 'invalid_request', 'token required');
  if (ctx.mods.has('revoke-slow')) await sleep(ctx.mods.get('revoke-slow') ?? DEFAULT_DELAY_MS);
  revoked.add(token);
  return send(res, 200, '');
}

/**
 * RFC 7662 introspection, for what the real OP won't do on demand: any
 * token "act-<DELAY>-<ID>" is active for an hour with sub "u-<ID>", after
 * <DELAY> ms; "aud-<ID>" is active for another audience; others inactive.
 */
async function handleIntrospect(ctx) {
  const { req, res, o } = ctx;
  if (req.method !== 'POST') return oauthError(res, 405, 'invalid_request', 'POST required', { allow: 'POST' });
  const form = new URLSearchParams(ctx.body);
  const auth = authenticateClient(req, form, o, ctx.mods);
  if (auth.error) return sendAuthFailure(res, auth);
  const token = form.get('token') || '';
  let m = /^act-([0-9]{1,5})-([A-Za-z0-9]{1,64})$/.exec(token);
  const aud = m ? 'https://api.example.com' : 'https://other.example.com';
  if (!m) m = /^aud-()([A-Za-z0-9]{1,64})$/.exec(token);
  if (!m) return sendJson(res, 200, { active: false });
  if (m[1]) await sleep(Number(m[1]));
  return sendJson(res, 200, {
    active: true, sub: `u-${m[2]}`, aud, iss: ctx.issuer, scope: 'read',
    client_id: o.clientId || 'client', exp: now() + 3600, token_type: 'Bearer',
  });
}

function handleLogout(ctx) {
  const { res, url } = ctx;
  const q = url.searchParams;
  const target = q.get('post_logout_redirect_uri');
  if (target && validRedirectUri(target)) {
    const u = new URL(target);
    if (q.get('state')) u.searchParams.set('state', q.get('state'));
    return redirect(res, u.toString());
  }
  return send(res, 200, '<!DOCTYPE html><html><head><title>Signed out</title></head>'
    + '<body><h1>Signed out</h1></body></html>\n', { 'content-type': 'text/html; charset=utf-8' });
}

// ------------------------------------------------------------ GitHub-like

const GH_SCOPE = 'read:user,user:email';

function githubId(login) {
  return crypto.createHash('sha256').update(login).digest().readUInt32BE(0) % 90000000 + 1000000;
}

function ghFormOrJson(req, res, obj) {
  if (/application\/json/i.test(req.headers.accept || '')) return sendJson(res, 200, obj);
  return send(res, 200, new URLSearchParams(obj).toString(), {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  });
}

async function handleGithub(ctx, rest) {
  const {
    req, res, url, o,
  } = ctx;
  const notFound = () => sendJson(res, 404, {
    message: 'Not Found', documentation_url: 'https://docs.github.com/rest',
  });

  if (rest === 'login/oauth/authorize') {
    const q = url.searchParams;
    if (q.get('client_id') !== o.clientId) return oauthError(res, 400, 'invalid_client', 'unknown client_id');
    const redirectUri = q.get('redirect_uri');
    if (!redirectUri || !validRedirectUri(redirectUri)) {
      return oauthError(res, 400, 'invalid_request', 'redirect_uri missing or invalid');
    }
    const code = b64u(JSON.stringify({
      jti: rand(12),
      iat: now(),
      redirect_uri: redirectUri,
      client_id: o.clientId,
      scope: q.get('scope') || '',
      scenario: 'github',
      sub: q.get('login') || q.get('login_hint') || 'alice',
      code_challenge: q.get('code_challenge') || undefined,
    }));
    const u = new URL(redirectUri);
    u.searchParams.set('code', code);
    if (q.get('state') !== null) u.searchParams.set('state', q.get('state'));
    return redirect(res, u.toString());
  }

  if (rest === 'login/oauth/access_token') {
    if (req.method !== 'POST') return notFound();
    const form = new URLSearchParams(ctx.body);
    const auth = authenticateClient(req, form, o, null);
    // GitHub answers 200 with an error body for most failures
    const ghError = (error, description) => ghFormOrJson(req, res, {
      error, error_description: description, error_uri: 'https://docs.github.com/apps/troubleshooting',
    });
    if (auth.error) return ghError('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    const code = decodeCode(form.get('code') || '');
    if (!code || code.scenario !== 'github' || usedCodes.has(code.jti) || now() - code.iat > 600) {
      return ghError('bad_verification_code', 'The code passed is incorrect or expired.');
    }
    if (form.get('redirect_uri') !== null && form.get('redirect_uri') !== code.redirect_uri) {
      return ghError('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    if (code.code_challenge) {
      const v = form.get('code_verifier') || '';
      if (crypto.createHash('sha256').update(v).digest('base64url') !== code.code_challenge) {
        return ghError('bad_verification_code', 'The code_verifier does not match the code_challenge.');
      }
    }
    usedCodes.add(code.jti);
    return ghFormOrJson(req, res, {
      access_token: packToken('gho', {
        sub: code.sub, client_id: code.client_id, scope: GH_SCOPE, scenario: 'github', exp: now() + 28800, jti: rand(9),
      }),
      scope: GH_SCOPE,
      token_type: 'bearer',
    });
  }

  if (rest === 'api/user' || rest === 'api/user/emails') {
    if (!req.headers['user-agent']) {
      return send(res, 403, 'Request forbidden by administrative rules. '
        + 'Please make sure your request has a User-Agent header.\n', { 'content-type': 'text/plain; charset=utf-8' });
    }
    const tok = bearer(req);
    const at = unpackToken('gho', tok);
    if (!at || revoked.has(tok) || at.exp < now()) {
      return sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    if (rest === 'api/user') {
      return sendJson(res, 200, {
        login: at.sub,
        id: githubId(at.sub),
        name: at.sub === 'ctl' ? 'User\r\nX-Injected: name' : `User ${at.sub}`,
        // "pub" shows a public address, not the primary verified one
        email: at.sub === 'pub' ? 'pub.public@example.com' : null,
        type: 'User',
      });
    }
    if (at.sub === 'ctl') {
      return sendJson(res, 200, [{
        email: 'ctl@example.com\r\nX-Injected: email', primary: true, verified: true, visibility: 'private',
      }]);
    }
    return sendJson(res, 200, [
      {
        email: `${at.sub}+old@users.example.com`, primary: false, verified: false, visibility: null,
      },
      {
        email: `${at.sub}@example.com`, primary: true, verified: true, visibility: 'private',
      },
    ]);
  }
  return notFound();
}

// ------------------------------------------------------------ control

function handleControl(ctx, name) {
  const { res, url } = ctx;
  switch (name) {
    case '_stats':
      return sendJson(res, 200, Object.fromEntries([...stats.entries()].sort()));
    case '_requests': {
      const key = url.searchParams.get('key');
      return sendJson(res, 200, key ? recorded.filter((r) => r.key === key) : recorded);
    }
    case '_reset':
      stats.clear();
      recorded.length = 0;
      return sendJson(res, 200, { reset: true });
    case '_rotate': {
      const k = makeKey('rsa', `rsa-r${keys.rsa.length}`);
      keys.rsa.push(k);
      return sendJson(res, 200, { kid: k.kid, kids: keys.rsa.map((x) => x.kid) });
    }
    case '_scenarios':
      return sendJson(res, 200, Object.fromEntries(Object.entries(SCENARIOS)
        .map(([k, [p, d]]) => [p ? `${k}-<${p}>` : k, d])));
    case '_health':
      return sendJson(res, 200, { ok: true });
    default:
      return sendJson(res, 404, { error: 'not_found', error_description: `no control endpoint ${name}` });
  }
}

// ------------------------------------------------------------ dispatch

const OIDC_ROUTES = {
  '.well-known/openid-configuration': handleDiscovery,
  authorize: handleAuthorize,
  token: handleToken,
  userinfo: handleUserinfo,
  jwks: handleJwks,
  logout: handleLogout,
  revoke: handleRevoke,
  par: handlePar,
  introspect: handleIntrospect,
};

function makeHandler(o, scheme) {
  return async (req, res) => {
    const t0 = Date.now();
    if (o.verbose) {
      res.on('finish', () => {
        process.stdout.write(`fake: ${scheme} ${req.method} ${req.url} -> ${res.statusCode} (${Date.now() - t0} ms)\n`);
      });
    }
    try {
      const host = req.headers.host || `127.0.0.1:${scheme === 'https' ? o.tlsPort : o.port}`;
      const url = new URL(req.url, `${scheme}://${host}`);
      const base = `${scheme}://${host}`;
      const segs = url.pathname.split('/').filter((s, i) => i > 0);
      const segment = decodeURIComponent(segs[0] || '');
      let rest = segs.slice(1).join('/');

      if (segment.startsWith('_')) {
        handleControl({ req, res, url }, segment);
        return;
      }
      const mods = parseScenario(segment);
      const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : '';
      const key = `${segment}/${rest}`;
      stats.set(key, (stats.get(key) || 0) + 1);
      recorded.push({
        key,
        time: Date.now(),
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: body.length > 4096 ? `${body.slice(0, 4096)}...` : body,
      });
      if (recorded.length > MAX_RECORDED) recorded.splice(0, recorded.length - MAX_RECORDED);

      if (!mods) {
        sendJson(res, 404, {
          error: 'unknown_scenario',
          error_description: `"${segment}" is not a scenario; GET /_scenarios lists them`,
        });
        return;
      }
      const ctx = {
        req, res, url, body, o, mods, segment, issuer: `${base}/${segment}`,
      };
      if (mods.has('tenants')) {
        // the tenant segment after the scenario, as Entra's /common/ or /<tid>/
        ctx.issuer = `${base}/${segment}/${segs[1] || 'common'}`;
        rest = segs.slice(2).join('/');
      }
      if (mods.has('github')) {
        await handleGithub(ctx, rest);
        return;
      }
      const route = OIDC_ROUTES[rest];
      if (!route) {
        sendJson(res, 404, { error: 'not_found', error_description: `no endpoint /${rest}` });
        return;
      }
      await route(ctx);
    } catch (e) {
      if (!res.headersSent) {
        if (e.status === 413) oauthError(res, 413, 'invalid_request', 'request body too large');
        else oauthError(res, 500, 'server_error', String(e.message || e));
      }
      if (!e.status) process.stderr.write(`fake: ${req.method} ${req.url}: ${e.stack || e}\n`);
    }
  };
}

function main() {
  const o = parseCli(process.argv.slice(2));
  initKeys();
  const servers = [];
  const plain = http.createServer(makeHandler(o, 'http'));
  servers.push(plain);
  let tls = null;
  if (o.tlsCert) {
    tls = https.createServer({ cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) },
      makeHandler(o, 'https'));
    servers.push(tls);
  }
  for (const s of servers) s.keepAliveTimeout = 5000;

  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    let n = servers.length;
    for (const s of servers) {
      s.close(() => { n -= 1; if (n === 0) process.exit(0); });
      s.closeAllConnections();
    }
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (o.exitOnStdinClose) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }

  let pending = servers.length;
  const ready = () => {
    pending -= 1;
    if (pending === 0) process.stdout.write(`FAKE ready ${o.port}${tls ? ` tls ${o.tlsPort}` : ''}\n`);
  };
  plain.on('error', (e) => fail(`cannot listen on ${o.host}:${o.port}: ${e.message}`));
  plain.listen(o.port, o.host, ready);
  if (tls) {
    tls.on('error', (e) => fail(`cannot listen on ${o.host}:${o.tlsPort}: ${e.message}`));
    tls.listen(o.tlsPort, o.host, ready);
  }
}

if (require.main === module) main();

module.exports = { parseScenario, SCENARIOS };
