#!/usr/bin/env node
'use strict';

/*
 * Writes the fixed keys of the fuzzers (t/fuzz/keys/) and their seed
 * corpora (t/fuzz/corpus/<harness>/).  Node.js 20, built-in modules only.
 *
 *   node t/fuzz/make-corpus.js [--provider URL] [--new-keys]
 *
 * --provider URL   also take documents, ID tokens and callback queries
 *                  from a running fake provider (node t/fake/provider.js
 *                  --port 2190; URL http://127.0.0.1:2190), by going
 *                  through its login flows
 * --new-keys       make new keys (the committed ones are kept otherwise;
 *                  the tokens of the corpus are signed with them)
 *
 * The constants below are those of the harnesses (fuzz_*.c).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const seal = require('../tools/seal.js');

const DIR = __dirname;
const KEYS = path.join(DIR, 'keys');
const CORPUS = path.join(DIR, 'corpus');

const SECRET = 'fuzz-cookie-secret-0123456789abcdef-0123456789';
const OLD_SECRET = 'fuzz-old-secret-abcdef0123456789-abcdef0123456';
const COOKIE = 'oauth2_op';
const STATES = 'oauth2_op_st_';

const NOW = 1700000000;
const ISS = 'https://op.fuzz.example';
const CLIENT = 'fuzz-client';
const NONCE = 'fuzz-nonce-0S6_WzA2Mj';
const HMAC = 'fuzz-client-secret-0123456789abcdef-0123456789';

const b64u = (b) => Buffer.from(b).toString('base64url');

function parse(argv) {
  const o = { provider: null, newKeys: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--provider') o.provider = argv[++i];
    else if (argv[i] === '--new-keys') o.newKeys = true;
    else {
      process.stderr.write('usage: node t/fuzz/make-corpus.js [--provider URL] [--new-keys]\n');
      process.exit(2);
    }
  }
  return o;
}

// ------------------------------------------------------------ keys

const KEY_SPECS = [
  { kid: 'rsa-1', type: 'rsa', opts: { modulusLength: 2048 } },
  { kid: 'rsa-2', type: 'rsa', opts: { modulusLength: 3072 }, extra: { alg: 'RS512', key_ops: ['verify'] } },
  { kid: 'ec-256', type: 'ec', opts: { namedCurve: 'P-256' }, extra: { alg: 'ES256' } },
  { kid: 'ec-384', type: 'ec', opts: { namedCurve: 'P-384' } },
  { kid: 'ec-521', type: 'ec', opts: { namedCurve: 'P-521' } },
  { kid: 'ed-1', type: 'ed25519', opts: {} },
];

function loadKeys(fresh) {
  const file = path.join(KEYS, 'private.json');
  if (!fresh && fs.existsSync(file)) {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  }
  const keys = KEY_SPECS.map((s) => {
    const { privateKey } = crypto.generateKeyPairSync(s.type, s.opts);
    return { kid: s.kid, extra: s.extra || {}, jwk: privateKey.export({ format: 'jwk' }) };
  });
  fs.mkdirSync(KEYS, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(keys, null, 1)}\n`);
  return keys;
}

function publicJwk(k) {
  const pub = crypto.createPublicKey({ key: k.jwk, format: 'jwk' }).export({ format: 'jwk' });
  return { ...pub, kid: k.kid, use: 'sig', ...k.extra };
}

function signJws(keys, alg, kid, header, claims, opts = {}) {
  const h = { alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header };
  const input = `${b64u(JSON.stringify(h))}.${b64u(typeof claims === 'string' ? claims : JSON.stringify(claims))}`;
  const data = Buffer.from(input);
  const bits = alg.slice(2);
  const md = `sha${bits === 'DSA' ? '' : bits}`;
  let sig;
  if (alg.startsWith('HS')) {
    sig = crypto.createHmac(md, opts.secret || HMAC).update(data).digest();
  } else {
    const k = keys.find((x) => x.kid === (opts.keyKid || kid));
    const key = crypto.createPrivateKey({ key: k.jwk, format: 'jwk' });
    if (alg === 'EdDSA') sig = crypto.sign(null, data, key);
    else if (alg.startsWith('RS')) sig = crypto.sign(md, data, key);
    else if (alg.startsWith('PS')) {
      sig = crypto.sign(md, data, {
        key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8,
      });
    } else sig = crypto.sign(md, data, { key, dsaEncoding: 'ieee-p1363' });
  }
  return `${input}.${b64u(sig)}`;
}

function claims(extra = {}) {
  return {
    iss: ISS,
    sub: 'alice',
    aud: CLIENT,
    exp: NOW + 3600,
    iat: NOW - 10,
    auth_time: NOW - 20,
    nonce: NONCE,
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Liddell',
    groups: ['admins', 'users'],
    ...extra,
  };
}

// ------------------------------------------------------------ output

const written = {};

function put(harness, name, content) {
  const dir = path.join(CORPUS, harness);
  if (!written[harness]) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    written[harness] = 0;
  }
  fs.writeFileSync(path.join(dir, name), content);
  written[harness]++;
}

// ------------------------------------------------------------ cookies

function cookieSeeds() {
  const s = [SECRET];
  const session = {
    sub: 'alice',
    expires: NOW + 3600,
    created: NOW,
    access_expires: NOW + 300,
    claims: { email: 'alice@example.com', name: 'Alice "A" Liddell', groups: ['a', 'b'] },
    access_token: 'at.eyJzdWIiOiJhbGljZSJ9',
    refresh_token: 'rt.eyJqdGkiOiIxIn0',
    id_token: '',
  };
  const state = {
    created: NOW,
    state: 'AbCdEfGh0123456789abcdefghijklmnopqrstuvwxy',
    nonce: 'n-0123456789abcdefghijklmnopqrstuvwxyzABCDEF',
    verifier: 'v-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ',
    return_url: '/app/page?q=1&r=%20x',
  };

  const plainSession = seal.encodeSession(session);
  const plainState = seal.encodeState(state);

  put('cookie', 'session', seal.sessionCookie(s, COOKIE, session));
  put('cookie', 'session-old-key', seal.sessionCookie([OLD_SECRET], COOKIE, { sub: 'bob', claims: {} }));
  put('cookie', 'session-minimal', seal.sessionCookie(s, COOKIE, { sub: 'x', expires: NOW, created: NOW }));
  put('cookie', 'session-among-others',
    `_ga=GA1.2.3; theme="dark"; ${seal.sessionCookie(s, COOKIE, session)}; lang=en`);
  put('cookie', 'session-two-headers',
    `a=b; oauth2_op2=x\n${seal.sessionCookie(s, COOKIE, session)}; c=d`);

  const big = { ...session, id_token: 'x'.repeat(3000), access_token: 'y'.repeat(2500) };
  const chunked = seal.sessionCookie(s, COOKIE, big);
  put('cookie', 'session-chunked', chunked);
  put('cookie', 'session-chunk-missing', chunked.replace(/; oauth2_op_2=[^;]*/, ''));
  put('cookie', 'session-chunks-reordered', chunked.split('; ').reverse().join('; '));
  put('cookie', 'session-chunks-two-headers', chunked.split('; ').join('\n'));
  put('cookie', 'session-chunk-marker-bad', `${COOKIE}=chunks.17; ${COOKIE}_1=abc`);
  put('cookie', 'session-chunk-marker-zero', `${COOKIE}=chunks.01; ${COOKIE}_1=abc; ${COOKIE}_01=def`);

  const v = seal.sessionValue(s, COOKIE, session);
  put('cookie', 'session-quoted', `${COOKIE}="${v}"`);
  put('cookie', 'session-tampered', `${COOKIE}=${v.slice(0, 60)}${v[60] === 'A' ? 'B' : 'A'}${v.slice(61)}`);
  put('cookie', 'session-wrong-name', `oauth2_other=${seal.sessionValue(s, 'oauth2_other', session)}; ${COOKIE}=${seal.sessionValue(s, 'oauth2_other', session)}`);
  put('cookie', 'session-as-state', `${STATES}AbCdEfGh=${v}`);
  put('cookie', 'session-padded', `${COOKIE}=${v}==`);

  const st = seal.stateCookie(s, `${STATES}AbCdEfGh`, state);
  put('cookie', 'state', st);
  put('cookie', 'states-and-session',
    `${st}; ${seal.stateCookie(s, `${STATES}ZyXwVuTs`, { ...state, state: 'ZyXwVuTs-x' })}; ${seal.sessionCookie(s, COOKIE, session)}`);
  put('cookie', 'state-expired', seal.stateCookie(s, `${STATES}Q1w2E3r4`, { ...state, created: 1 }));
  put('cookie', 'whitespace', ` ;;  ${COOKIE} = ${v} ;\t; =x; novalue; ${COOKIE}_1 = ;`);
  put('cookie', 'empty', '');

  put('plain', 'session', plainSession);
  put('plain', 'session-empty', seal.encodeSession({ sub: '', expires: 0, created: 0 }));
  put('plain', 'session-big-times', seal.encodeSession({ sub: 'a', expires: 2 ** 53 - 1, created: 2 ** 40 }));
  put('plain', 'session-claims', seal.encodeSession({
    sub: 'bob', claims: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, `v${i}`])),
  }));
  put('plain', 'state', plainState);
  put('plain', 'state-empty', seal.encodeState({ created: 0 }));
}

// ------------------------------------------------------------ JWTs

function jwtSeeds(keys) {
  const tokens = [];
  const algs = [
    ['RS256', 'rsa-1'], ['RS384', 'rsa-1'], ['RS512', 'rsa-2'],
    ['PS256', 'rsa-1'], ['PS384', 'rsa-1'], ['PS512', 'rsa-1'],
    ['ES256', 'ec-256'], ['ES384', 'ec-384'], ['ES512', 'ec-521'],
    ['EdDSA', 'ed-1'],
  ];
  for (const [alg, kid] of algs) {
    const t = signJws(keys, alg, kid, {}, claims());
    tokens.push(t);
    put('jwt', `valid-${alg}`, t);
  }
  const edNoKid = signJws(keys, 'EdDSA', null, {}, claims(), { keyKid: 'ed-1' });
  tokens.push(edNoKid);
  put('jwt', 'valid-EdDSA-no-kid', edNoKid);
  put('jwt', 'valid-HS256', signJws(keys, 'HS256', null, {}, claims()));
  put('jwt', 'valid-HS512', signJws(keys, 'HS512', null, {}, claims()));

  const rs = (c, h = {}) => signJws(keys, 'RS256', 'rsa-1', h, c);
  put('jwt', 'multi-aud-azp', rs(claims({ aud: [CLIENT, 'other'], azp: CLIENT })));
  put('jwt', 'multi-aud-no-azp', rs(claims({ aud: ['other', CLIENT] })));
  put('jwt', 'float-times', rs(claims({ exp: NOW + 0.5, iat: NOW - 0.25, nbf: NOW + 59.9 })));
  put('jwt', 'expired', rs(claims({ exp: NOW - 3600 })));
  put('jwt', 'no-nonce', rs(claims({ nonce: undefined })));
  put('jwt', 'unicode-claims', rs(claims({ name: 'Zoë \u00e9\u4e2d\ud83d\ude00', groups: [1, true, null, 'x'] })));
  put('jwt', 'nested-claims', rs(claims({ address: { country: 'FR' }, roles: [['a']] })));
  put('jwt', 'dup-claims', rs(`{"iss":"x","iss":"${ISS}","sub":"a","aud":"${CLIENT}","exp":${NOW + 60},"iat":${NOW}}`));
  put('jwt', 'unknown-kid', signJws(keys, 'RS256', 'nope', {}, claims(), { keyKid: 'rsa-1' }));
  put('jwt', 'kid-wrong-alg', signJws(keys, 'ES256', 'rsa-1', {}, claims(), { keyKid: 'ec-256' }));
  put('jwt', 'crit', rs(claims(), { crit: ['exp'] }));
  put('jwt', 'alg-none', `${b64u('{"alg":"none"}')}.${b64u(JSON.stringify(claims()))}.`);
  put('jwt', 'two-segments', `${b64u('{"alg":"RS256"}')}.${b64u('{}')}`);
  put('jwt', 'padded', `${rs(claims())}==`);

  fs.writeFileSync(path.join(KEYS, 'tokens.txt'), `${tokens.join('\n')}\n`);
}

function jwksSeeds(keys) {
  const jwks = { keys: keys.map(publicJwk) };
  fs.writeFileSync(path.join(KEYS, 'jwks.json'), `${JSON.stringify(jwks, null, 1)}\n`);
  put('jwks', 'fixed', JSON.stringify(jwks));
  put('jwks', 'one-rsa', JSON.stringify({ keys: [jwks.keys[0]] }));
  put('jwks', 'one-ec', JSON.stringify({ keys: [jwks.keys[2]] }));
  put('jwks', 'one-okp', JSON.stringify({ keys: [jwks.keys[5]] }));
  put('jwks', 'unusable', JSON.stringify({
    keys: [
      { kty: 'oct', kid: 'oct-1', k: b64u('0123456789abcdef'), alg: 'HS256' },
      { kty: 'RSA', kid: 'no-n', e: 'AQAB' },
      { ...jwks.keys[0], use: 'enc' },
      { ...jwks.keys[2], crv: 'P-384' },
      { ...jwks.keys[5], crv: 'X25519' },
      { ...jwks.keys[0], alg: 'ES256' },
      { ...jwks.keys[0], key_ops: ['sign'] },
      { ...jwks.keys[0], n: `${jwks.keys[0].n}=` },
      { ...jwks.keys[0], e: 'AA' },
      { kty: 'EC', crv: 'P-256', x: jwks.keys[2].x, y: jwks.keys[2].x },
      { ...jwks.keys[0], x5c: ['MIIB'], kid: 7 },
    ],
  }));
  put('jwks', 'empty', '{"keys":[]}');
  put('jwks', 'not-jwks', '{"keys":{"kty":"RSA"}}');
}

// ------------------------------------------------------------ JSON documents

function jsonSeeds() {
  const iss = 'https://op.fuzz.example';
  put('json', 'discovery', JSON.stringify({
    issuer: iss,
    authorization_endpoint: `${iss}/authorize`,
    token_endpoint: `${iss}/token`,
    userinfo_endpoint: `${iss}/userinfo`,
    jwks_uri: `${iss}/jwks`,
    end_session_endpoint: `${iss}/logout`,
    revocation_endpoint: `${iss}/revoke`,
    response_types_supported: ['code'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
    code_challenge_methods_supported: ['S256'],
  }, null, 2));
  put('json', 'token', JSON.stringify({
    access_token: 'ya29.a0AfH6SM', token_type: 'Bearer', expires_in: 3599, scope: 'openid email',
    refresh_token: '1//0g', id_token: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
  }));
  put('json', 'token-error', '{"error":"invalid_grant","error_description":"Bad Request"}');
  put('json', 'userinfo', JSON.stringify({
    sub: '1100', email: 'alice@example.com', email_verified: true, name: 'Alice', groups: ['a', 'b'],
    picture: null, updated_at: 1.7e9, address: { country: 'FR' },
  }));
  put('json', 'github-user', '{"login":"octocat","id":583231,"name":"The Octocat","email":null,"type":"User"}');
  put('json', 'github-emails', JSON.stringify([
    { email: 'octocat+old@users.noreply.github.com', primary: false, verified: false, visibility: null },
    { email: 'octocat@github.com', primary: true, verified: true, visibility: 'private' },
  ]));
  put('json', 'escapes', '{"sub":"a\\"b\\\\c\\u00e9\\ud83d\\ude00\\/","n":-0.5e-3,"big":123456789012345678901234567890}');
  put('json', 'deep', `${'['.repeat(63)}1${']'.repeat(63)}`);
}

// ------------------------------------------------------------ query strings

function querySeeds() {
  const state = 'AbCdEfGh0123456789abcdefghijklmnopqrstuvwxy';
  put('query', 'callback', `code=eyJqdGkiOiJhYmMifQ&state=${state}&iss=https%3A%2F%2Fop.fuzz.example`);
  put('query', 'callback-error', `error=access_denied&error_description=The+user+said+no%21&state=${state}`);
  put('query', 'callback-no-state', 'code=abc');
  put('query', 'callback-bad-escapes', `state=%zz%4&code=%%41%0a&iss=%E2%82%AC&STATE=${state}`);
  put('query', 'callback-repeated', `state=&state=${state}&code=1&code=2&xstate=x`);
  put('query', 'github-form', 'access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer');
  put('query', 'github-form-error', 'error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com');
  put('query', 'form-expires', 'access_token=a&expires_in=28800&refresh_token=ghr_1&refresh_token_expires_in=15811200');
}

// ------------------------------------------------------------ fake provider

async function providerSeeds(base) {
  const get = async (url, opts = {}) => {
    const res = await fetch(url, { redirect: 'manual', ...opts });
    return { status: res.status, headers: res.headers, body: await res.text() };
  };
  const secret = 'fake-secret-0123456789abcdefghijkl';
  const basic = `Basic ${Buffer.from(`fake-client:${secret}`).toString('base64')}`;
  const redirect = 'http://127.0.0.1:2184/oauth2/callback';

  const login = async (scenario) => {
    const iss = `${base}/${scenario}`;
    const verifier = b64u(crypto.randomBytes(32));
    const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
    const q = new URLSearchParams({
      response_type: 'code', client_id: 'fake-client', redirect_uri: redirect, scope: 'openid email profile groups',
      state: b64u(crypto.randomBytes(32)), nonce: b64u(crypto.randomBytes(32)),
      code_challenge: challenge, code_challenge_method: 'S256',
    });
    const a = await get(`${iss}/authorize?${q}`);
    const loc = new URL(a.headers.get('location'));
    put('query', `fake-${scenario}`, loc.search.slice(1));
    const code = loc.searchParams.get('code');
    if (!code) return;
    const t = await get(`${iss}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier,
      }).toString(),
    });
    const main = ['ok', 'alg-eddsa', 'idt-malformed-json', 'token-error'].includes(scenario);
    if (main) put('json', `fake-token-${scenario}`, t.body);
    let tok;
    try { tok = JSON.parse(t.body); } catch { return; }
    if (tok.id_token) put('jwt', `fake-${scenario}`, tok.id_token);
    if (tok.access_token && main) {
      const u = await get(`${iss}/userinfo`, { headers: { authorization: `Bearer ${tok.access_token}` } });
      put('json', `fake-userinfo-${scenario}`, u.body);
    }
  };

  put('json', 'fake-discovery', (await get(`${base}/ok/.well-known/openid-configuration`)).body);
  for (const s of ['ok', 'jwks-unsupported', 'idt-nokid-multi', 'alg-es256']) {
    put('jwks', `fake-${s}`, (await get(`${base}/${s}/jwks`)).body);
  }
  for (const s of ['ok', 'alg-ps256', 'alg-es384', 'alg-eddsa', 'idt-hs256', 'idt-alg-none',
    'idt-multi-aud-azp', 'idt-malformed-json', 'idt-segments', 'idt-nokid', 'authorize-error',
    'authorize-wrong-iss', 'token-error']) {
    await login(s);
  }

  // GitHub: form and JSON token responses, user, emails
  const gq = new URLSearchParams({ client_id: 'fake-client', redirect_uri: redirect, state: 'st-github-1234567890' });
  for (const accept of ['application/x-www-form-urlencoded', 'application/json']) {
    const a = await get(`${base}/github/login/oauth/authorize?${gq}`);
    const loc = new URL(a.headers.get('location'));
    put('query', 'fake-github', loc.search.slice(1));
    const t = await get(`${base}/github/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: 'fake-client', client_secret: secret, code: loc.searchParams.get('code'), redirect_uri: redirect,
      }).toString(),
    });
    if (accept === 'application/json') {
      put('json', 'fake-github-token', t.body);
      const at = JSON.parse(t.body).access_token;
      const h = { authorization: `token ${at}`, 'user-agent': 'fuzz' };
      put('json', 'fake-github-user', (await get(`${base}/github/api/user`, { headers: h })).body);
      put('json', 'fake-github-emails', (await get(`${base}/github/api/user/emails`, { headers: h })).body);
    } else {
      put('query', 'fake-github-token-form', t.body);
    }
  }
}

async function main() {
  const o = parse(process.argv.slice(2));
  const keys = loadKeys(o.newKeys);
  cookieSeeds();
  jwksSeeds(keys);
  jwtSeeds(keys);
  jsonSeeds();
  querySeeds();
  if (o.provider) await providerSeeds(o.provider.replace(/\/$/, ''));
  for (const [h, n] of Object.entries(written)) process.stdout.write(`t/fuzz/corpus/${h}: ${n} seeds\n`);
}

main().catch((e) => {
  process.stderr.write(`make-corpus: ${e.stack || e}\n`);
  process.exit(1);
});
