'use strict';

// OpenID Connect Back-Channel Logout 1.0 (backchannel_logout_uri).
//
// - Logout tokens minted here (RS256 with a key this file publishes as the
//   provider's jwks_uri; the fake provider answers discovery): a logout by
//   sid ends the sessions with that sid created before it; by sub, the user's
//   sessions created before it; by sid and sub, that sid and the user's
//   sessions without a sid.  nginx runs 2 workers (reuseport): the logout
//   reaches one, the sessions are checked by both.  A replayed jti, and each
//   broken rule of section 2.6 (signature, alg, iss, aud, iat, exp, events,
//   nonce, sub/sid, jti, typ), the method, the content type and the size:
//   400 (405 for GET) with a JSON error and Cache-Control: no-store.  A
//   token signed with a key published after the JWKS was cached: fetched
//   again, accepted.  A revoked session is not refreshed.
// - The real OP: two users log in (their sessions keep the ID tokens'
//   sid); a logout token for one OP session, signed with the OP's key,
//   ends that session and not the other.
//
// nginx on E2E_NGINX_PORT+15, the JWKS on +16 (2001 and 2002 by default).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { rawGet, logCursor, troubleLines } = require('./lib/matrix');
const seal = require('../tools/seal');

const ENV_NAME = '55-backchannel';
const PORT = config.NGINX_PORT + 15;
const JWKS_PORT = config.NGINX_PORT + 16;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

const now = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(x).toString('base64url');
const rand = () => crypto.randomBytes(12).toString('base64url');

// ------------------------------------------------------------ minting

function newKey(kid) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}

/** A signed JWT; opts: { key, alg ('RS256'|'HS256'|'none'), header (merged), kid } */
function mint(payload, opts = {}) {
  const key = opts.key;
  const alg = opts.alg || 'RS256';
  const header = { alg, typ: 'logout+jwt', ...(key ? { kid: key.kid } : {}), ...(opts.header || {}) };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  let sig = '';
  if (alg === 'RS256') sig = crypto.sign('sha256', Buffer.from(input), key.privateKey).toString('base64url');
  if (alg === 'HS256') sig = crypto.createHmac('sha256', config.FAKE_CLIENT.secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** logout token claims; a field set to undefined is left out */
function claims(issuer, over = {}) {
  const c = {
    iss: issuer,
    aud: config.FAKE_CLIENT.id,
    iat: now(),
    exp: now() + 120,
    jti: rand(),
    events: { [EVENT]: {} },
    ...over,
  };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete c[k];
  return c;
}

function postLogout(url, token, opts = {}) {
  const client = new HttpClient();
  if (opts.body !== undefined || opts.headers) {
    return client.request(opts.method || 'POST', url, { body: opts.body, headers: opts.headers });
  }
  return client.post(url, { form: { logout_token: token } });
}

function sessionCookie(name, fields) {
  return seal.sessionCookie([config.COOKIE_SECRET], name, {
    created: now() - 100,
    expires: now() + 600,
    claims: { email: `${fields.sub}@example.com`, ...(fields.sid ? { sid: fields.sid } : {}) },
    ...fields,
  });
}

/** n requests with the session, over separate connections (both workers) */
async function statuses(cookie, n = 8) {
  const res = await Promise.all(Array.from({ length: n }, () => rawGet(PORT, '/p/x', {
    cookie, accept: 'application/json',
  })));
  return [...new Set(res.map((r) => r.status))];
}

function assertRejected(res, what) {
  assert.equal(res.status, 400, `${what}: ${res.status} ${res.body}`);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  assert.equal(JSON.parse(res.body).error, 'invalid_request');
}

// ------------------------------------------------------------ minted tokens

describe('back-channel logout with minted logout tokens', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  let issuer;
  let jwksServer;
  let errorLogFile;
  const keys = [newKey('bc-1')];
  const key = keys[0];
  const URL_BC = `${ORIGIN}/oauth2/backchannel`;
  let jwksHits = 0;

  before(async () => {
    env = await createEnv(ENV_NAME);
    fake = await env.fake();
    await env.backend();
    jwksServer = http.createServer((req, res) => {
      jwksHits += 1;
      const body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise((resolve) => jwksServer.listen(JWKS_PORT, '127.0.0.1', resolve));
    env.own({ close: () => new Promise((resolve) => { jwksServer.close(resolve); jwksServer.closeAllConnections(); }) }, 'jwks');

    issuer = fake.issuer('ok');
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 2,
      http: `
oauth2_provider bc {
    issuer                  ${issuer};
    jwks_uri                http://127.0.0.1:${JWKS_PORT}/jwks;
    client_id               ${config.FAKE_CLIENT.id};
    client_secret           ${config.FAKE_CLIENT.secret};
    scope                   "openid email";
    backchannel_logout_uri  /oauth2/backchannel;
    jwks_min_refresh        0;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT} reuseport;
    location / {
        oauth2 bc;
        proxy_pass http://127.0.0.1:${config.BACKEND_PORT};
    }
}`,
    });
    errorLogFile = path.join(ngx.prefix, 'logs', 'error.log');
  });

  after(() => env && env.stop());

  test('control: minted sessions pass', async () => {
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'zoe', sid: 'sid-z' })), [200]);
  });

  test('by sid: only the sessions with that sid end; 200, no-store', async () => {
    const s1 = sessionCookie('oauth2_bc', { sub: 'alice', sid: 'sid-a1' });
    const s2 = sessionCookie('oauth2_bc', { sub: 'alice', sid: 'sid-a2' });
    const s3 = sessionCookie('oauth2_bc', { sub: 'alice' });
    const cur = logCursor(errorLogFile);

    const res = await postLogout(URL_BC, mint(claims(issuer, { sid: 'sid-a1' }), { key }));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(cur.since(), /\[info\].*oauth2 provider "bc": back-channel logout of a provider session \(sid\)/);

    assert.deepEqual(await statuses(s1), [401], 'the session with that sid ended, in both workers');
    assert.deepEqual(await statuses(s2), [200], 'another sid of the same user');
    assert.deepEqual(await statuses(s3), [200], 'a session without sid: not named by this logout');

    const nav = await rawGet(PORT, '/p/x', { cookie: s1, accept: 'text/html', 'sec-fetch-mode': 'navigate' });
    assert.equal(nav.status, 302, 'navigation logs in again');
    assert.match(cur.since(), /the session was ended by a back-channel logout/);
  });

  test('by sub: the user\'s sessions created before end, later ones and other users\' do not', async () => {
    const old = sessionCookie('oauth2_bc', { sub: 'bob', sid: 'sid-b1' });
    const other = sessionCookie('oauth2_bc', { sub: 'carol' });
    const res = await postLogout(URL_BC, mint(claims(issuer, { sub: 'bob' }), { key }));
    assert.equal(res.status, 200, res.body);
    const later = sessionCookie('oauth2_bc', { sub: 'bob', created: now() + 2 });
    assert.deepEqual(await statuses(old), [401]);
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'bob' })), [401]);
    assert.deepEqual(await statuses(later), [200], 'a login after the logout');
    assert.deepEqual(await statuses(other), [200]);
  });

  test('by sid and sub: that sid, and the user\'s sessions without a sid', async () => {
    const res = await postLogout(URL_BC, mint(claims(issuer, { sub: 'dave', sid: 'sid-d1' }), { key }));
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'dave', sid: 'sid-d1' })), [401]);
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'dave', sid: 'sid-d2' })), [200]);
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'dave' })), [401]);
  });

  test('a replayed logout token (same jti) is refused', async () => {
    const token = mint(claims(issuer, { sid: 'sid-e1' }), { key });
    assert.equal((await postLogout(URL_BC, token)).status, 200);
    assertRejected(await postLogout(URL_BC, token), 'replay');
  });

  test('a revoked session with a refresh token is not refreshed', async () => {
    const before = (await fake.stats())['ok/token'] || 0;
    const res = await postLogout(URL_BC, mint(claims(issuer, { sid: 'sid-f1' }), { key }));
    assert.equal(res.status, 200);
    const cookie = sessionCookie('oauth2_bc', {
      sub: 'frank', sid: 'sid-f1', expires: now() - 5, refresh_token: 'rt.whatever',
    });
    assert.deepEqual(await statuses(cookie, 2), [401]);
    assert.equal((await fake.stats())['ok/token'] || 0, before, 'no token call');
  });

  const other = newKey('bc-unpublished');
  const NEGATIVE = [
    ['a corrupted signature', () => {
      const t = mint(claims(issuer, { sid: 's' }), { key });
      return `${t.slice(0, -6)}${t.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    }],
    ['alg none', () => mint(claims(issuer, { sid: 's' }), { alg: 'none' })],
    ['HS256 (not in id_token_algs)', () => mint(claims(issuer, { sid: 's' }), { alg: 'HS256' })],
    ['a key that is not published', () => mint(claims(issuer, { sid: 's' }), { key: other })],
    ['another issuer', () => mint(claims('https://evil.example', { sid: 's' }), { key })],
    ['another audience', () => mint(claims(issuer, { sid: 's', aud: 'other-client' }), { key })],
    ['iat long ago', () => mint(claims(issuer, { sid: 's', iat: now() - 600, exp: now() + 60 }), { key })],
    ['iat in the future', () => mint(claims(issuer, { sid: 's', iat: now() + 600, exp: now() + 900 }), { key })],
    ['no iat', () => mint(claims(issuer, { sid: 's', iat: undefined }), { key })],
    ['iat a string', () => mint(claims(issuer, { sid: 's', iat: String(now()) }), { key })],
    ['exp past the year 9999', () => mint(claims(issuer, { sid: 's', exp: 99999999999999 }), { key })],
    ['expired', () => mint(claims(issuer, { sid: 's', exp: now() - 300 }), { key })],
    ['no events', () => mint(claims(issuer, { sid: 's', events: undefined }), { key })],
    ['another event', () => mint(claims(issuer, { sid: 's', events: { 'http://example.com/other': {} } }), { key })],
    ['the event is not an object', () => mint(claims(issuer, { sid: 's', events: { [EVENT]: true } }), { key })],
    ['a nonce (an ID token)', () => mint(claims(issuer, { sid: 's', nonce: 'n' }), { key })],
    ['neither sub nor sid', () => mint(claims(issuer), { key })],
    ['a sid that is not a string', () => mint(claims(issuer, { sid: 42 }), { key })],
    ['no jti', () => mint(claims(issuer, { sid: 's', jti: undefined }), { key })],
    ['typ of an access token', () => mint(claims(issuer, { sid: 's' }), { key, header: { typ: 'at+jwt' } })],
    ['not a JWT', () => 'not.a-jwt'],
  ];

  for (const [what, make] of NEGATIVE) {
    test(`rejected: ${what}`, async () => {
      const cur = logCursor(errorLogFile);
      assertRejected(await postLogout(URL_BC, make()), what);
      assert.match(cur.since(), /\[info\].*oauth2 provider "bc": back-channel logout token rejected: /);
    });
  }

  test('rejected: no logout_token, the wrong content type, a body too large; GET is 405', async () => {
    assertRejected(await postLogout(URL_BC, null, {
      body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }), 'no logout_token');
    const token = mint(claims(issuer, { sid: 's-ct' }), { key });
    assertRejected(await postLogout(URL_BC, null, {
      body: JSON.stringify({ logout_token: token }), headers: { 'content-type': 'application/json' },
    }), 'JSON');
    assertRejected(await postLogout(URL_BC, null, {
      body: `logout_token=${'a'.repeat(70000)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }), 'too large');
    const get = await postLogout(URL_BC, null, { method: 'GET', headers: {} });
    assert.equal(get.status, 405);
    assert.equal(get.headers['cache-control'], 'no-store');
  });

  test('iat and exp with a fraction are accepted (NumericDates)', async () => {
    const t = now();
    const res = await postLogout(URL_BC, mint(claims(issuer, {
      sid: 'sid-n1', iat: t - 0.25, exp: t + 60.5,
    }), { key }));
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await statuses(sessionCookie('oauth2_bc', { sub: 'nina', sid: 'sid-n1' })), [401]);
  });

  test('the aud may be an array holding the client', async () => {
    const res = await postLogout(URL_BC, mint(claims(issuer, {
      sid: 'sid-g1', aud: ['other', config.FAKE_CLIENT.id],
    }), { key }));
    assert.equal(res.status, 200, res.body);
  });

  test('a key published after the JWKS was cached: fetched again, accepted', async () => {
    const hits = jwksHits;
    const rotated = newKey('bc-2');
    keys.push(rotated);
    const res = await postLogout(URL_BC, mint(claims(issuer, { sid: 'sid-h1' }), { key: rotated }));
    assert.equal(res.status, 200, res.body);
    assert.ok(jwksHits > hits, 'the JWKS was fetched again');
  });

  test('no worker trouble', () => {
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });
});

// ------------------------------------------------------------ the real OP

// oidc-provider 9 refuses to send requests to loopback and private
// addresses (SSRF protection), so its own back-channel POST cannot reach
// this nginx on 127.0.0.1.  The logout token is made here instead, as
// oidc-provider makes it (typ logout+jwt, iss, aud, iat, exp = iat + 120,
// jti, events, sub, sid), and signed with the OP's own key (--keys).
describe('back-channel logout with the real OP\'s sessions and keys', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let disco;
  let opKey;

  before(async () => {
    env = await createEnv(`${ENV_NAME}-op`);
    const keysFile = path.join(env.dir, 'op-keys.json');
    fs.rmSync(keysFile, { force: true });
    op = await env.op({
      redirectUris: [`${ORIGIN}/oauth2/callback`],
      backchannelLogoutUri: `${ORIGIN}/oauth2/backchannel`,
      extraArgs: ['--keys', keysFile],
    });
    const jwk = JSON.parse(fs.readFileSync(keysFile, 'utf8')).keys.find((k) => k.alg === 'RS256');
    opKey = { kid: jwk.kid, privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
    disco = await op.discovery();
    ({ nginx: ngx } = await env.opLogin({ port: PORT, op, lines: 'backchannel_logout_uri /oauth2/backchannel;' }));
  });

  after(() => env && env.stop());

  test('two users log in; a logout token for one OP session ends that session only', async () => {
    const alice = new HttpClient();
    const bob = new HttpClient();
    for (const [client, login] of [[alice, 'alice'], [bob, 'bob']]) {
      const flow = await followLogin(client, `${ORIGIN}/page`, { login });
      assert.equal(flow.response.status, 200, describeHops(flow.hops));
    }
    const a = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', alice.jar.header(`${ORIGIN}/`));
    const b = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', bob.jar.header(`${ORIGIN}/`));
    assert.ok(a.claims.sid && b.claims.sid, 'the sessions keep the ID token\'s sid');
    assert.notEqual(a.claims.sid, b.claims.sid);

    // a logout ends the sessions created before it (by a second at least)
    await sleep(1100);

    const cur = logCursor(path.join(ngx.prefix, 'logs', 'error.log'));
    const iat = now();
    const token = mint({
      iss: op.issuer,
      aud: config.OP_CLIENT.id,
      iat,
      exp: iat + 120,
      jti: rand(),
      events: { [EVENT]: {} },
      sub: 'alice',
      sid: a.claims.sid,
    }, { key: opKey });
    const res = await postLogout(`${ORIGIN}/oauth2/backchannel`, token);
    assert.equal(res.status, 200, res.body);
    assert.match(cur.since(), /back-channel logout of a provider session \(sid, sub\)/);

    const gone = await alice.fetchLike(`${ORIGIN}/page`);
    assert.equal(gone.status, 401, 'alice\'s session ended');
    const nav = await alice.navigate(`${ORIGIN}/page`);
    assert.equal(nav.status, 302, 'navigation goes to the OP again');
    assert.ok(nav.location.startsWith(disco.authorization_endpoint));

    const other = await bob.fetchLike(`${ORIGIN}/page`);
    assert.equal(other.status, 200, 'bob is still logged in');
    assert.match(other.body, /hello bob@example\.com/);

    // alice logs in again: a new OP session, a new sid, a working session
    const again = await followLogin(alice, `${ORIGIN}/page`, { login: 'alice' });
    assert.equal(again.response.status, 200, describeHops(again.hops));
    assert.equal((await alice.fetchLike(`${ORIGIN}/page`)).status, 200);
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });
});
