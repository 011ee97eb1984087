'use strict';

// The negative matrix: for each rule of the login, one case where the
// provider (a t/fake/provider.js scenario) or an attacker breaks it.  Every
// case asserts that
//   (a) no session is created: no Set-Cookie oauth2_<provider>=<non-empty>,
//       and the protected page still redirects (navigation) / 401s (fetch);
//   (b) the user gets a clear page: 401/403 (400 for a malformed callback),
//       502/503/504 for provider faults; never 500;
//   (c) error.log has a line naming the provider and the reason (a stable
//       substring of the module's message);
//   (d) the worker keeps serving: an `oauth2 off` location answers 200 from
//       the same worker pid, and no [alert]/[crit]/[emerg]/signal lines.
// Positive controls (one per algorithm family, and the valid odd shapes
// idt-nokid and idt-multi-aud-azp) prove the matrix is not vacuous: the
// same configuration does log in when nothing is broken.
//
// One nginx, one oauth2_provider per scenario (location /s/<name>/,
// redirect_uri /cb/<name>, cookie oauth2_<name>); the fake provider on
// FAKE_OP_PORT.  nginx on E2E_NGINX_PORT+10 (1996 by default).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, NAVIGATE_HEADERS,
} = require('./lib');
const {
  rawGet, logCursor, linesAt, troubleLines, flipDecodedBit, flipChar, pool,
} = require('./lib/matrix');
const seal = require('../tools/seal');

const ENV_NAME = '40-negative';
const PORT = config.NGINX_PORT + 10;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const OTHER_SECRET = 'another-cookie-secret-0123456789abcdefghijkl';

// ------------------------------------------------------------ the matrix

// positive controls: id_token_algs allows exactly the alg under test
const POSITIVE = [
  { name: 'ok', algs: 'RS256' },
  { name: 'alg-ps256', algs: 'PS256' },
  { name: 'alg-es256', algs: 'ES256' },
  { name: 'alg-es384', algs: 'ES384' },
  { name: 'alg-eddsa', algs: 'EdDSA' },
  { name: 'idt-nokid' }, // no kid, one key in the JWKS: accepted
  { name: 'idt-multi-aud-azp' }, // aud [client, other], azp client: valid
];

const REJECT = [401, 403];
const PROVIDER_FAULT = [502, 503, 504];

// reason: a stable substring of the module's error.log line (after `oauth2 provider "NAME"`)
const NEGATIVE = [
  { name: 'idt-alg-none', reason: 'ID token rejected: alg none is not allowed' },
  { name: 'idt-hs256', algs: 'RS256 ES256', reason: 'ID token rejected: alg not allowed' },
  { name: 'idt-badsig-rs256', reason: 'ID token rejected: signature verification failed' },
  { name: 'idt-badsig-es256', algs: 'RS256 ES256', reason: 'ID token rejected: signature verification failed' },
  // after one JWKS refetch (or none, when the JWKS is too fresh to refetch)
  { name: 'idt-unknown-key', reason: /ID token rejected: (unknown kid|no key (for|with the token's) kid)/ },
  { name: 'idt-nokid-multi', reason: 'ID token rejected: token has no kid and several keys match' },
  { name: 'idt-wrong-iss', reason: 'ID token rejected: id token issuer mismatch' },
  { name: 'idt-wrong-aud', reason: 'ID token rejected: id token audience mismatch' },
  { name: 'idt-multi-aud-no-azp', reason: 'ID token rejected: id token has several audiences and no azp' },
  { name: 'idt-multi-aud-wrong-azp', reason: 'ID token rejected: id token azp mismatch' },
  { name: 'idt-no-exp', reason: 'ID token rejected: id token has no valid exp' },
  { name: 'idt-expired', reason: 'ID token rejected: id token expired' },
  { name: 'idt-no-iat', reason: 'ID token rejected: id token has no valid iat' },
  { name: 'idt-iat-future', reason: 'ID token rejected: id token issued in the future' },
  { name: 'idt-nbf-future', reason: 'ID token rejected: id token not yet valid' },
  { name: 'idt-no-sub', reason: 'ID token rejected: id token has no valid sub' },
  { name: 'idt-no-nonce', reason: 'ID token rejected: id token has no valid nonce' },
  { name: 'idt-wrong-nonce', reason: 'ID token rejected: id token nonce mismatch' },
  { name: 'idt-malformed-b64', reason: 'invalid ID token: token is not valid base64url' },
  { name: 'idt-malformed-json', reason: 'invalid ID token: token payload is not valid JSON' },
  { name: 'idt-segments', reason: 'invalid ID token: token is not a JWS' },
  { name: 'idt-huge', reason: 'invalid ID token: token too large' },
  // NumericDates that are not numbers, negative, or past the year 9999
  { name: 'idt-exp-huge', reason: 'ID token rejected: id token has no valid exp' },
  { name: 'idt-exp-string', reason: 'ID token rejected: id token has no valid exp' },
  { name: 'idt-iat-negative', reason: 'ID token rejected: id token has no valid iat' },
  { name: 'idt-nbf-negative', reason: 'ID token rejected: id token has an invalid nbf' },
  {
    name: 'discovery-issuer-mismatch',
    statuses: PROVIDER_FAULT,
    noLogin: true, // the provider is unusable: no redirect to it at all
    reason: /discovery request to "[^"]+" failed: the discovery document's "issuer" differs from the configured issuer/,
  },
  {
    name: 'jwks-unsupported',
    statuses: PROVIDER_FAULT,
    reason: /jwks request to "[^"]+" failed: the JWKS has no usable signature key/,
    // and each key it skipped, with the provider's name
    alsoLogged: /JWKS key #0 skipped: .* while reading the JWKS of oauth2 provider "jwks-unsupported"/,
  },
  { name: 'jwks-badjson', statuses: PROVIDER_FAULT, reason: /jwks request to "[^"]+" failed: \S/ },
  { name: 'userinfo-sub-mismatch', extra: 'userinfo on;', reason: 'userinfo "sub" differs from the ID token\'s' },
  { name: 'token-500', statuses: PROVIDER_FAULT, reason: /token request to "[^"]+" failed: HTTP status 500/ },
  { name: 'token-badjson', statuses: PROVIDER_FAULT, reason: 'token response is not a JSON object' },
  { name: 'token-huge', statuses: PROVIDER_FAULT, reason: /token request to "[^"]+" failed: response too large/ },
  { name: 'token-error', reason: 'token request refused: "invalid_grant"' },
  // neither logged nor shown as sent
  {
    name: 'token-error-markup',
    reason: 'token request refused: "invalid"',
    body: /<code>invalid<\/code>/,
  },
  { name: 'token-type-mac', statuses: PROVIDER_FAULT, reason: 'unsupported token type' },
  {
    name: 'token-slow',
    scenario: 'token-slow-3000',
    extra: 'timeout 1s;',
    statuses: PROVIDER_FAULT,
    reason: /token request to "[^"]+" failed: timed out/,
  },
  {
    name: 'authorize-error',
    statuses: [403],
    reason: 'returned error "access_denied"',
    body: /<code>access_denied<\/code>/,
  },
  { name: 'authorize-wrong-iss', reason: 'the callback\'s "iss" is not the provider\'s issuer' },
];

// another provider on the `ok` scenario: its cookie name differs (oauth2_ok-b)
const EXTRA = [{ name: 'ok-b', scenario: 'ok' }];

// numbers that are valid but not plain integers: the login passes, and the
// session ends when the token does (exp rounded down; expires_in rounded
// down, or read from a string of digits), not session_lifetime (8h) later.
// The fake's ID tokens last 600 s, its access tokens 300 s.
const NUMERIC = [
  { name: 'idt-exp-frac', expires: 600 },
  { name: 'idt-exp-exponent', expires: 600 },
  { name: 'idt-iat-frac', expires: 600 },
  { name: 'token-expires-frac', expires: 600, accessExpires: 300 },
  { name: 'token-expires-string', expires: 600, accessExpires: 300 },
];

const ALL = [...POSITIVE, ...NEGATIVE, ...EXTRA, ...NUMERIC];

function providerConf(fake, c) {
  return `
oauth2_provider ${c.name} {
    issuer         ${fake.issuer(c.scenario || c.name)};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    scope          "openid email";
    redirect_uri   /cb/${c.name};${c.algs ? `\n    id_token_algs  ${c.algs};` : ''}${c.extra ? `\n    ${c.extra}` : ''}
}`;
}

function serverConf(root) {
  return `
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    root ${root};
    # the module's Location reaches the client as written (no scheme://host
    # prefix that would hide a "//host" return URL)
    absolute_redirect off;
    add_header X-Sub $oauth2_sub always;
    add_header X-Email $oauth2_email always;

    location = /public {
        oauth2 off;
        return 200 "$pid\\n";
    }
    location / {
        oauth2 ok;
    }
${ALL.map((c) => `    location /s/${c.name}/ {\n        oauth2 ${c.name};\n    }`).join('\n')}
}`;
}

/** html/s/<name>/page: what a logged-in user gets; html/index.html */
function writeStatic(root) {
  const dirs = [root, path.join(root, 's')];
  fs.mkdirSync(path.join(root, 's'), { recursive: true });
  fs.writeFileSync(path.join(root, 'index.html'), 'index\n');
  for (const c of ALL) {
    const d = path.join(root, 's', c.name);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'page'), `protected ${c.name}\n`);
    dirs.push(d);
  }
  for (const d of dirs) fs.chmodSync(d, 0o755);
}

// ------------------------------------------------------------ the tests

describe('negative matrix: broken providers and attackers never get a session', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  let errorLogFile;
  let workerPid;

  before(async () => {
    env = await createEnv(ENV_NAME);
    fake = await env.fake();
    const root = path.join(config.SERVROOT, ENV_NAME, 'html');
    writeStatic(root);
    ngx = await env.nginx({
      port: PORT,
      http: ALL.map((c) => providerConf(fake, c)).join('\n') + serverConf(root),
    });
    errorLogFile = path.join(ngx.prefix, 'logs', 'error.log');
    workerPid = await publicPid();
  });
  after(() => env && env.stop());

  // ---------------------------------------------------------- helpers

  async function publicPid() {
    const r = await new HttpClient().get(`${ORIGIN}/public`);
    assert.equal(r.status, 200, `the oauth2 off location answers: ${r.status} ${r.body.slice(0, 200)}`);
    return r.body.trim();
  }

  /** (d): the same worker still serves, and it logged nothing alarming */
  async function assertWorkerHealthy(cur) {
    assert.equal(await publicPid(), workerPid, 'the worker that served before still serves (no crash, no respawn)');
    const trouble = troubleLines(cur.since());
    assert.deepEqual(trouble, [], 'no [alert]/[crit]/[emerg]/signal lines');
  }

  const issuerOf = (name) => fake.issuer((ALL.find((c) => c.name === name) || {}).scenario || name);
  const sessionName = (name) => `oauth2_${name}`;
  const isSessionCookie = (name, c) => (c.name === sessionName(name) || c.name.startsWith(`${sessionName(name)}_`))
    && !c.name.startsWith(`${sessionName(name)}_st_`) && c.value !== '';

  /** (a), first half: no response set a session cookie for `name`, and the jar has none */
  function assertNoSessionSet(client, name, responses, info = '') {
    for (const r of responses) {
      const bad = (r.setCookies || []).filter((c) => isSessionCookie(name, c));
      assert.deepEqual(bad.map((c) => c.raw), [], `no session cookie set by ${r.method || 'GET'} ${r.url}${info}`);
    }
    const inJar = client.jar.cookies.filter((c) => isSessionCookie(name, c));
    assert.deepEqual(inJar.map((c) => c.name), [], `no session cookie in the jar${info}`);
  }

  /** (a), second half: the protected page still wants a login */
  async function assertStillLoggedOut(client, name, { providerDown = false } = {}) {
    const nav = await client.navigate(`${ORIGIN}/s/${name}/page`);
    assert.notEqual(nav.status, 500);
    if (providerDown) {
      assert.ok(PROVIDER_FAULT.includes(nav.status), `follow-up navigation: ${nav.status}`);
    } else {
      assert.equal(nav.status, 302, `follow-up navigation redirects to the provider: ${nav.status} ${nav.body.slice(0, 200)}`);
      assert.ok(nav.location.startsWith(`${issuerOf(name)}/authorize?`), `to the provider: ${nav.location}`);
    }
    const api = await client.fetchLike(`${ORIGIN}/s/${name}/page`);
    assert.equal(api.status, 401, `follow-up fetch: ${api.status}`);
    assertNoSessionSet(client, name, [nav, api]);
  }

  /** (c): a line naming the provider and the reason (polls briefly: the line may trail the response) */
  async function assertLogged(cur, name, reason) {
    const re = reason instanceof RegExp ? reason : new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const who = `provider "${name}"`;
    let text = '';
    for (let i = 0; i < 20; i++) {
      text = cur.since();
      if (text.split('\n').some((l) => l.includes(who) && re.test(l))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`error.log has no line with ${who} and ${re}; new lines:\n${text.slice(-3000)}`);
  }

  /** (b): a clear html page, with a status among `statuses` */
  function assertPage(res, statuses, info) {
    assert.notEqual(res.status, 500, `never 500${info}`);
    assert.ok(statuses.includes(res.status), `status ${res.status}, expected one of ${statuses}${info}`);
    assert.match(res.headers['content-type'] || '', /text\/html/, `an html page${info}`);
    assert.match(res.body, /<h1>[^<]+<\/h1>/, `the page says what happened${info}`);
  }

  /** navigate to /s/<name>/page: 302 to the provider; returns the authorize URL, state and state cookie */
  async function startLogin(client, name, startPath = `/s/${name}/page`) {
    const res = await client.navigate(`${ORIGIN}${startPath}`);
    assert.equal(res.status, 302, `login redirect: ${res.status} ${res.body.slice(0, 200)}`);
    const u = new URL(res.location);
    assert.equal(`${u.origin}${u.pathname}`, `${issuerOf(name)}/authorize`);
    assert.equal(u.searchParams.get('redirect_uri'), `${ORIGIN}/cb/${name}`);
    const state = u.searchParams.get('state');
    const stateCookie = res.setCookies.find((c) => c.name.startsWith(`${sessionName(name)}_st_`) && c.value);
    assert.ok(stateCookie, `a state cookie: ${res.setCookies.map((c) => c.raw).join(' | ')}`);
    return { authorizeUrl: res.location, state, stateCookie };
  }

  /** the fake's authorize endpoint: returns the callback URL it redirects to */
  async function callbackUrlFromFake(client, authorizeUrl) {
    const res = await client.navigate(authorizeUrl, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(res.status, 302, `fake authorize: ${res.status} ${res.body.slice(0, 300)}`);
    return res.location;
  }

  // ---------------------------------------------------------- positive controls

  for (const c of POSITIVE) {
    test(`control: ${c.name}${c.algs ? ` (id_token_algs ${c.algs})` : ''} logs in`, async () => {
      const cur = logCursor(errorLogFile);
      const client = new HttpClient();
      const flow = await followLogin(client, `${ORIGIN}/s/${c.name}/page?x=1`);
      const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}\n${cur.since().slice(-2000)}`;
      assert.ok(flow.hops.every((h) => h.status !== 500), `never 500${info}`);
      assert.equal(flow.response.status, 200, `logged in${info}`);
      assert.equal(flow.response.url, `${ORIGIN}/s/${c.name}/page?x=1`, 'back to the page');
      assert.equal(flow.response.body, `protected ${c.name}\n`);
      assert.equal(flow.response.headers['x-sub'], 'alice', '$oauth2_sub');
      assert.equal(flow.response.headers['x-email'], 'alice@example.com', '$oauth2_email');
      const cb = flow.hops.find((h) => h.url.startsWith(`${ORIGIN}/cb/${c.name}?`));
      assert.ok(cb && cb.setCookies.some((x) => isSessionCookie(c.name, x)), `the callback set the session${info}`);
      await assertLogged(cur, c.name, 'user "alice" logged in');

      const again = await client.fetchLike(`${ORIGIN}/s/${c.name}/page`);
      assert.equal(again.status, 200, 'with the session, a fetch passes');
      const page = await client.navigate(`${ORIGIN}/s/${c.name}/page`);
      assert.equal(page.status, 200, 'and so does a navigation');
      await assertWorkerHealthy(cur);
    });
  }

  // ---------------------------------------------------------- numeric dates and durations

  for (const c of NUMERIC) {
    test(`numeric: ${c.name} logs in, the session ends with the token`, async () => {
      const cur = logCursor(errorLogFile);
      const client = new HttpClient();
      const t0 = Math.floor(Date.now() / 1000);
      const flow = await followLogin(client, `${ORIGIN}/s/${c.name}/page`);
      const t1 = Math.ceil(Date.now() / 1000);
      const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}\n${cur.since().slice(-2000)}`;
      assert.equal(flow.response.status, 200, `logged in${info}`);
      assert.equal(flow.response.body, `protected ${c.name}\n`);

      const cookie = client.jar.cookies.find((x) => x.name === sessionName(c.name) && x.value);
      assert.ok(cookie, `a session cookie${info}`);
      const plain = seal.open([config.COOKIE_SECRET], 'session', sessionName(c.name), cookie.value);
      assert.ok(plain, 'the session cookie opens');
      const s = seal.decodeSession(plain);
      assert.ok(s.expires >= t0 + c.expires && s.expires <= t1 + c.expires,
        `the session ends with the ID token, ${c.expires} s after the login: expires ${s.expires}, `
        + `login between ${t0} and ${t1}`);
      if (c.accessExpires) {
        assert.ok(s.access_expires >= t0 + c.accessExpires && s.access_expires <= t1 + c.accessExpires,
          `the access token expires ${c.accessExpires} s after the login: ${s.access_expires}, `
          + `login between ${t0} and ${t1}`);
      }
      await assertWorkerHealthy(cur);
    });
  }

  // ---------------------------------------------------------- provider faults and bad ID tokens

  for (const c of NEGATIVE) {
    const label = `${c.scenario || c.name}${c.algs ? ` (id_token_algs ${c.algs})` : ''}${c.extra ? ` (${c.extra})` : ''}`;
    test(`negative: ${label} -> no session`, async () => {
      const cur = logCursor(errorLogFile);
      const client = new HttpClient();
      const flow = await followLogin(client, `${ORIGIN}/s/${c.name}/page`, { maxHops: 6 });
      const info = () => `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}\n--- error.log ---\n${cur.since().slice(-2000)}`;

      assert.ok(flow.hops.every((h) => h.status !== 500), `never 500${info()}`);
      if (!c.noLogin) {
        assert.ok(flow.hops.some((h) => h.url.startsWith(`${ORIGIN}/cb/${c.name}?`)), `the provider sent the browser back${info()}`);
      }
      assertPage(flow.response, c.statuses || REJECT, info());
      if (c.body) assert.match(flow.response.body, c.body, info());
      assert.ok(!flow.response.body.includes(`protected ${c.name}`), `the protected page was not served${info()}`);
      assertNoSessionSet(client, c.name, flow.hops, info());
      await assertLogged(cur, c.name, c.reason);
      if (c.alsoLogged) await assertLogged(cur, c.name, c.alsoLogged);
      await assertStillLoggedOut(client, c.name, { providerDown: !!c.noLogin });
      await assertWorkerHealthy(cur);
    });
  }

  // ---------------------------------------------------------- callback faults (provider ok)

  test('callback without state (or with a too short one) -> 400/401, no session', async () => {
    const cur = logCursor(errorLogFile);
    const client = new HttpClient();
    await startLogin(client, 'ok');
    for (const q of ['code=abc', 'code=abc&state=', 'code=abc&state=short']) {
      const res = await client.navigate(`${ORIGIN}/cb/ok?${q}`);
      assertPage(res, [400, 401], ` (?${q})`);
      assertNoSessionSet(client, 'ok', [res]);
    }
    await assertLogged(cur, 'ok', 'callback without a valid "state"');
    await assertStillLoggedOut(client, 'ok');
    await assertWorkerHealthy(cur);
  });

  test('callback with a wrong state (unknown, or sharing the cookie-name prefix) -> 401, no session', async () => {
    const cur = logCursor(errorLogFile);
    for (const keepPrefix of [false, true]) {
      const client = new HttpClient();
      const { authorizeUrl, state } = await startLogin(client, 'ok');
      const cb = new URL(await callbackUrlFromFake(client, authorizeUrl));
      assert.equal(cb.searchParams.get('state'), state);
      const forged = keepPrefix
        ? state.slice(0, 8) + crypto.randomBytes(24).toString('base64url').slice(0, state.length - 8)
        : crypto.randomBytes(32).toString('base64url');
      assert.notEqual(forged, state);
      cb.searchParams.set('state', forged);
      const res = await client.navigate(cb.toString());
      assertPage(res, REJECT, ` (keepPrefix ${keepPrefix})`);
      assertNoSessionSet(client, 'ok', [res]);
      await assertStillLoggedOut(client, 'ok');
    }
    await assertLogged(cur, 'ok', 'callback state does not match a login started in this browser');
    await assertWorkerHealthy(cur);
  });

  test('state cookie from another client: B cannot complete A\'s login; A still can', async () => {
    const cur = logCursor(errorLogFile);
    const a = new HttpClient();
    const b = new HttpClient();
    const la = await startLogin(a, 'ok');
    const cbA = await callbackUrlFromFake(a, la.authorizeUrl);
    await startLogin(b, 'ok'); // B has a state cookie of its own
    const res = await b.navigate(cbA);
    assertPage(res, REJECT, '');
    assertNoSessionSet(b, 'ok', [res]);
    await assertLogged(cur, 'ok', 'callback state does not match a login started in this browser');
    await assertStillLoggedOut(b, 'ok');

    // the rejection was about B's cookies: A, with its own state cookie, logs in with the same URL
    const resA = await a.navigate(cbA);
    assert.equal(resA.status, 302, `A completes its login: ${resA.status} ${resA.body.slice(0, 300)}`);
    assert.equal(resA.location, `${ORIGIN}/s/ok/page`);
    assert.ok(resA.setCookies.some((c) => isSessionCookie('ok', c)), 'A got a session');
    await assertWorkerHealthy(cur);
  });

  test('replayed code: the same callback again, with the state cookie re-attached -> 401, no session', async () => {
    const cur = logCursor(errorLogFile);
    const c = new HttpClient();
    const { authorizeUrl, stateCookie } = await startLogin(c, 'ok');
    const cbUrl = await callbackUrlFromFake(c, authorizeUrl);
    const first = await c.navigate(cbUrl);
    assert.equal(first.status, 302, `first use: ${first.status} ${first.body.slice(0, 300)}`);
    assert.ok(first.setCookies.some((x) => isSessionCookie('ok', x)), 'first use logs in');
    const deleted = first.setCookies.find((x) => x.name === stateCookie.name);
    assert.ok(deleted && deleted.value === '', 'the state cookie is deleted after its first use');

    // another browser that somehow got both the URL and the state cookie
    const d = new HttpClient();
    d.jar.set(stateCookie.name, stateCookie.value);
    const replay = await d.navigate(cbUrl);
    assertPage(replay, REJECT, '');
    assertNoSessionSet(d, 'ok', [replay]);
    await assertLogged(cur, 'ok', 'token request refused: "invalid_grant"');
    await assertStillLoggedOut(d, 'ok');

    // and the first browser itself, replaying: no new session cookie either
    c.jar.set(stateCookie.name, stateCookie.value);
    const replay2 = await c.navigate(cbUrl);
    assertPage(replay2, REJECT, ' (replay by the first browser)');
    assert.ok(!replay2.setCookies.some((x) => isSessionCookie('ok', x)), 'no new session cookie');
    await assertWorkerHealthy(cur);
  });

  test('provider error in the callback is shown HTML-escaped (never as markup), 401', async () => {
    const cur = logCursor(errorLogFile);
    const client = new HttpClient();
    const { state } = await startLogin(client, 'ok');
    const u = new URL(`${ORIGIN}/cb/ok`);
    u.searchParams.set('error', '<script>alert(1)</script>');
    u.searchParams.set('error_description', '<b>bold</b>');
    u.searchParams.set('state', state);
    const res = await client.navigate(u.toString());
    assertPage(res, REJECT, '');
    assert.ok(!/<script|<b>/i.test(res.body), `no markup from the provider in the page:\n${res.body}`);
    assertNoSessionSet(client, 'ok', [res]);
    await assertLogged(cur, 'ok', /returned error "[^"<>]*"/);
    await assertStillLoggedOut(client, 'ok');
    await assertWorkerHealthy(cur);
  });

  test('oversized code parameter (> 4096 bytes) -> 400/401, no token request, no session', async () => {
    const cur = logCursor(errorLogFile);
    await fake.reset();
    const client = new HttpClient();
    const { authorizeUrl } = await startLogin(client, 'ok');
    const cb = new URL(await callbackUrlFromFake(client, authorizeUrl));
    cb.searchParams.set('code', 'A'.repeat(5000));
    const res = await client.navigate(cb.toString());
    assertPage(res, [400, 401], '');
    assertNoSessionSet(client, 'ok', [res]);
    await assertLogged(cur, 'ok', 'callback without "code"');
    const stats = await fake.stats();
    assert.equal(stats['ok/token'], undefined, `the code was not sent to the token endpoint: ${JSON.stringify(stats)}`);
    await assertStillLoggedOut(client, 'ok');
    await assertWorkerHealthy(cur);
  });

  // ---------------------------------------------------------- return URL / open redirect

  const RETURN_TARGETS = [
    '//evil.example/x',
    '///evil.example/x',
    '/\\evil.example',
    '/\\/evil.example',
    '/%2F%2Fevil.example',
    '/%5Cevil',
    '/%5C%5Cevil.example',
    '/a%0d%0aSet-Cookie:%20x=y',
    '/%0d%0aLocation:%20http://evil.example/',
  ];

  for (const target of RETURN_TARGETS) {
    test(`return URL ${JSON.stringify(target)}: the final redirect stays on this host, no injected header`, async () => {
      const cur = logCursor(errorLogFile);
      const first = await rawGet(PORT, target, { ...NAVIGATE_HEADERS, host: `127.0.0.1:${PORT}` });
      assert.equal(first.status, 302, `login redirect: ${first.status} ${first.body.slice(0, 200)}`);
      assert.ok(first.location.startsWith(`${issuerOf('ok')}/authorize?`), first.location);
      const client = new HttpClient();
      client.jar.setFromResponse(`${ORIGIN}/`, first.setCookies);
      const cbUrl = await callbackUrlFromFake(client, first.location);
      const cb = await client.navigate(cbUrl);
      const info = `\n${cb.status} ${JSON.stringify(cb.headers)}\n${cur.since().slice(-1500)}`;
      assert.equal(cb.status, 302, `the login completes${info}`);
      assert.ok(cb.setCookies.some((x) => isSessionCookie('ok', x)), `a session${info}`);

      const loc = cb.headers.location;
      assert.equal(typeof loc, 'string', `one Location header${info}`);
      assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(loc), `no scheme (absolute_redirect off): ${loc}`);
      assert.match(loc, /^\/(?![/\\])/, `a path on this host, not "//" or "/\\"${info}`);
      assert.ok(!/[\x00-\x20\x7f\\]/.test(loc), `no control characters, spaces or backslashes: ${JSON.stringify(loc)}`);
      assert.equal(new URL(loc, ORIGIN).origin, ORIGIN, `resolves on this origin: ${loc}`);
      assert.ok(!/evil\.example/.test(new URL(loc, ORIGIN).host), loc);

      // no header was injected into any response
      for (const r of [first, cb]) {
        const names = [];
        for (let i = 0; i < r.rawHeaders.length; i += 2) names.push(r.rawHeaders[i].toLowerCase());
        assert.equal(names.filter((n) => n === 'location').length, 1, `one Location: ${names}`);
        const setCookie = r.rawHeaders.filter((v, i) => i % 2 === 1 && r.rawHeaders[i - 1].toLowerCase() === 'set-cookie');
        for (const sc of setCookie) assert.match(sc, /^oauth2_ok(_st_[A-Za-z0-9_-]{8})?=/, `only the module's cookies: ${sc}`);
      }
      await assertWorkerHealthy(cur);
    });
  }

  // ---------------------------------------------------------- session cookie tampering

  describe('session cookie tampering', () => {
    let good; // a real session cookie value of provider ok
    let stateValue; // a real state cookie value of provider ok
    let cur;

    before(async () => {
      const client = new HttpClient();
      const flow = await followLogin(client, `${ORIGIN}/s/ok/page`);
      assert.equal(flow.response.status, 200, describeHops(flow.hops));
      good = client.jar.get('oauth2_ok').value;
      assert.match(good, /^[A-Za-z0-9_-]{39,}$/, `one unchunked sealed value: ${good}`);
      const st = await startLogin(new HttpClient(), 'ok');
      stateValue = st.stateCookie.value;
      cur = logCursor(errorLogFile);
    });

    /** Send `oauth2_ok=value` (or the raw `cookie` header) and expect no session. */
    async function expectNoSession(cookie, { fetch = false, where = '/s/ok/page', provider = 'ok' } = {}) {
      const client = new HttpClient();
      const headers = { cookie };
      const res = fetch
        ? await client.fetchLike(`${ORIGIN}${where}`, { headers })
        : await client.navigate(`${ORIGIN}${where}`, { headers });
      const what = `${fetch ? 'fetch' : 'navigation'} with ${cookie.slice(0, 120)}${cookie.length > 120 ? '...' : ''}`;
      assert.notEqual(res.status, 500, `never 500: ${what}`);
      if (fetch) {
        assert.equal(res.status, 401, `401: ${what}`);
      } else {
        assert.equal(res.status, 302, `302 to the provider: ${what} -> ${res.status}`);
        assert.ok(res.location.startsWith(`${issuerOf(provider)}/authorize?`), `${what} -> ${res.location}`);
      }
      assert.ok(!res.body.includes('protected'), `not served: ${what}`);
      assert.ok(!res.setCookies.some((c) => isSessionCookie(provider, c)), `no session cookie: ${what}`);
      return res;
    }

    test('controls: the real cookie, and one sealed by t/tools/seal.js with the right secret, are accepted', async () => {
      const client = new HttpClient();
      const r1 = await client.navigate(`${ORIGIN}/s/ok/page`, { headers: { cookie: `oauth2_ok=${good}` } });
      assert.equal(r1.status, 200);
      assert.equal(r1.headers['x-sub'], 'alice');
      const minted = seal.sessionValue([config.COOKIE_SECRET], 'oauth2_ok', {
        sub: 'minted-user', claims: { email: 'minted@example.com' },
      });
      const r2 = await client.fetchLike(`${ORIGIN}/s/ok/page`, { headers: { cookie: `oauth2_ok=${minted}` } });
      assert.equal(r2.status, 200, 'seal.js agrees with the module (so the other-secret case below is meaningful)');
      assert.equal(r2.headers['x-sub'], 'minted-user');
    });

    test('every single bit of the sealed bytes flipped -> no session', async () => {
      const nbits = Buffer.from(good, 'base64url').length * 8;
      const bits = Array.from({ length: nbits }, (_, i) => i);
      await pool(bits, 16, (bit) => expectNoSession(`oauth2_ok=${flipDecodedBit(good, bit)}`, { fetch: bit % 4 === 3 }));
    });

    test('every base64url character changed -> no session', async () => {
      const idx = Array.from({ length: good.length }, (_, i) => i);
      await pool(idx, 16, (i) => expectNoSession(`oauth2_ok=${flipChar(good, i)}`, { fetch: i % 2 === 1 }));
    });

    test('characters outside base64url, truncations and appended garbage -> no session', async () => {
      const n = good.length;
      const variants = [];
      for (const ch of ['=', '+', '/', '.', '*', '%']) {
        for (const i of [0, 1, Math.floor(n / 2), n - 1]) variants.push(good.slice(0, i) + ch + good.slice(i + 1));
      }
      for (let len = 0; len < n; len++) variants.push(good.slice(0, len));
      for (const tail of ['A', 'AA', 'AAAA', '=', '==', '.x', '-', good, 'A'.repeat(5000)]) variants.push(good + tail);
      variants.push(`A${good}`, `${good.slice(1)}A`);
      await pool(variants, 16, (v, i) => expectNoSession(`oauth2_ok=${v}`, { fetch: i % 3 === 2 }));
    });

    test('the cookie under another name, another purpose, or sealed with another secret -> no session', async () => {
      // the value of oauth2_ok in oauth2_ok-b (same issuer, other provider): the cookie name is authenticated
      await expectNoSession(`oauth2_ok-b=${good}`, { where: '/s/ok-b/page', provider: 'ok-b' });
      await expectNoSession(`oauth2_ok-b=${good}`, { where: '/s/ok-b/page', provider: 'ok-b', fetch: true });
      // a state cookie's value as the session
      await expectNoSession(`oauth2_ok=${stateValue}`);
      await expectNoSession(`oauth2_ok=${stateValue}`, { fetch: true });
      // sealed with another secret
      const other = seal.sessionValue([OTHER_SECRET], 'oauth2_ok', { sub: 'alice', claims: { email: 'alice@example.com' } });
      await expectNoSession(`oauth2_ok=${other}`);
      await expectNoSession(`oauth2_ok=${other}`, { fetch: true });
      // the right secret, the state purpose
      const statePurpose = seal.seal([config.COOKIE_SECRET], 'state', 'oauth2_ok',
        seal.encodeSession({ sub: 'alice', claims: { email: 'alice@example.com' } }));
      await expectNoSession(`oauth2_ok=${statePurpose}`);
      // the right secret, an expired session
      const t = Math.floor(Date.now() / 1000);
      const expired = seal.sessionValue([config.COOKIE_SECRET], 'oauth2_ok', {
        sub: 'alice', created: t - 7200, expires: t - 10, claims: { email: 'alice@example.com' },
      });
      await expectNoSession(`oauth2_ok=${expired}`);
      // the right secret, a plaintext that is not a session (garbage, trailing bytes)
      const garbage = seal.seal([config.COOKIE_SECRET], 'session', 'oauth2_ok', Buffer.from('not a session'));
      await expectNoSession(`oauth2_ok=${garbage}`);
      const trailing = seal.seal([config.COOKIE_SECRET], 'session', 'oauth2_ok',
        Buffer.concat([seal.encodeSession({ sub: 'alice' }), Buffer.from([0])]));
      await expectNoSession(`oauth2_ok=${trailing}`);
      // the good value under a name that only resembles the session cookie
      await expectNoSession(`oauth2_ok_=${good}`);
      await expectNoSession(`oauth2_OK=${good}`);
      await expectNoSession(`xoauth2_ok=${good}`);
    });

    test('tampering logged [info] only: no [error] (or worse), same worker', async () => {
      const text = cur.since();
      assert.deepEqual(linesAt(text, ['emerg', 'alert', 'crit', 'error']), [], 'no [error] for a bad cookie');
      assert.ok(linesAt(text, ['info']).some((l) => l.includes('session cookie "oauth2_ok" does not open')),
        `an [info] line: ${text.slice(-1000)}`);
      await assertWorkerHealthy(cur);
    });
  });

  test('the whole run: no [alert]/[crit]/[emerg] or signal lines, the first worker still serves', async () => {
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
    assert.equal(await publicPid(), workerPid);
  });
});
