'use strict';

// The module's calls to the provider: lazy discovery, endpoint overrides,
// the JWKS cache (rotation, unknown-kid refetches that wait for
// jwks_min_refresh), serving
// from the caches while the provider is down, TLS verification with
// `ssl_trusted_certificate`, and timeouts.
//
// One nginx (worker_processes 1, so every count below is the count of one
// worker) with a provider block per case.  It is started BEFORE the fake
// provider, which the first test starts.  Each provider uses its own fake
// scenario segment, so the fake's /_stats counts every provider on its own
// (the `ttl-6xx` scenarios behave like `ok` and are only distinct names).
//
// Two helpers run in this process:
//  - a "gate": a plain HTTP relay to the fake that can refuse connections
//    (as a provider that is down) or answer 500 to chosen paths;
//  - TLS forwarders (lib/tls.js) presenting the certificates under test in
//    front of the fake's https port.
//
// FAILS until the module is built (E2E_ALLOW_MISSING_MODULE=1: skipped).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, moduleTestOptions, sleep,
} = require('./lib');
const { ensureCerts, startTlsForwarder } = require('./lib/tls');

// nginx base port +11 (1997 by default): free of the other files' ports
// (the e2e lock serialises the files anyway)
const PORT = config.NGINX_PORT + 11;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const FAKE = `http://127.0.0.1:${config.FAKE_PORT}`;
const FAKE_TLS = `https://localhost:${config.FAKE_TLS_PORT}`;
const DISCOVERY = '.well-known/openid-configuration';

// ------------------------------------------------------------ the gate

/**
 * Relay plain HTTP to the fake provider on 127.0.0.1.
 *   keepHost: true  -> the fake sees the gate's Host (its issuer is the gate's URL)
 *             false -> Host is rewritten to the fake's (issuer and iss stay the fake's)
 * down(): stop listening (connections are refused), up({ fail }): listen again;
 * requests whose URL matches `fail` get 500 instead of being relayed.
 */
async function startGate({ targetPort, keepHost }) {
  const hits = [];
  let fail = null;
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    if (fail && fail.test(req.url)) {
      const body = JSON.stringify({ error: 'server_error', error_description: 'gate: failing on purpose' });
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const headers = { ...req.headers };
    if (!keepHost) headers.host = `127.0.0.1:${targetPort}`;
    const up = http.request({
      host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, agent: false,
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`gate: ${e.message}\n`);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 5000;
  const listen = (port) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  await listen(0);
  const { port } = server.address();
  let listening = true;
  const gate = {
    port,
    base: `http://127.0.0.1:${port}`,
    hits,
    hitsFor: (re) => hits.filter((u) => re.test(u)).length,
    async down() {
      if (!listening) return;
      listening = false;
      await new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
    async up({ fail: f = null } = {}) {
      fail = f;
      if (listening) return;
      await listen(port);
      listening = true;
    },
    stop: () => gate.down(),
  };
  return gate;
}

// ------------------------------------------------------------ helpers

function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (e) => { s.destroy(); resolve(e.code === 'ECONNREFUSED'); });
  });
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('provider calls: discovery, JWKS cache, outages, TLS, timeouts', moduleTestOptions(), () => {
  let env;
  let ngx;
  let fake;
  let backend;
  let certs;
  let caPem;
  let overrideGate;
  let cachedGate;
  const fwd = {};

  const logLines = (re) => ngx.errorLog().split('\n').filter((l) => re.test(l));
  async function waitForLog(re, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const lines = logLines(re);
      if (lines.length) return lines;
      if (Date.now() > deadline) {
        assert.fail(`no error.log line matches ${re} within ${ms} ms:\n${ngx.errorLog().slice(-3000)}`);
      }
      await sleep(50);
    }
  }
  const errTail = () => `\n--- error.log (tail) ---\n${ngx.errorLog().slice(-2500)}`;

  async function ensureFake() {
    if (!fake) {
      fake = await env.fake({
        tlsCert: certs.server.cert, tlsKey: certs.server.key, tlsPort: config.FAKE_TLS_PORT,
      });
    }
    return fake;
  }
  const stat = async (key) => (await fake.stats())[key] || 0;

  const provider = (name, body) => `
oauth2_provider ${name} {
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    redirect_uri   /cb/${name};
${body.trim().split('\n').map((l) => `    ${l.trim()}`).join('\n')}
}`;

  /**
   * One login, hop by hop: nginx -> 302 authorize -> fake -> 302 callback -> nginx
   * -> (302 -> page).  Stops early (returning what it has) when a hop does not
   * redirect where expected.
   */
  async function login(client, pagePath, { authorizeBase } = {}) {
    const out = {};
    out.start = await client.navigate(`${ORIGIN}${pagePath}`);
    if (out.start.status !== 302) return out;
    if (authorizeBase) {
      const loc = new URL(out.start.location);
      assert.equal(`${loc.origin}${loc.pathname}`, `${authorizeBase}/authorize`,
        `redirected to the authorization endpoint: ${out.start.location}`);
    }
    out.authorize = await client.navigate(out.start.location, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(out.authorize.status, 302, `the fake's authorize redirects back: ${out.authorize.body.slice(0, 300)}`);
    assert.ok(out.authorize.location.startsWith(`${ORIGIN}/cb/`), out.authorize.location);
    const t0 = Date.now();
    out.callback = await client.navigate(out.authorize.location, { headers: { 'sec-fetch-site': 'cross-site' } });
    out.callbackMs = Date.now() - t0;
    if (out.callback.status === 302 && out.callback.location.startsWith(ORIGIN)) {
      out.page = await client.navigate(out.callback.location);
    }
    return out;
  }

  function assertLoggedIn(r, pagePath, what) {
    const info = `${what}: start ${r.start.status} ${r.start.location || r.start.body.slice(0, 200)}; `
      + `callback ${r.callback && r.callback.status} ${r.callback ? (r.callback.location || r.callback.body.slice(0, 300)) : ''}`
      + `${errTail()}`;
    assert.equal(r.start.status, 302, info);
    assert.ok(r.callback, info);
    assert.equal(r.callback.status, 302, info);
    assert.equal(r.callback.location, `${ORIGIN}${pagePath}`, info);
    assert.ok(r.page, info);
    assert.equal(r.page.status, 200, info);
    assert.match(r.page.body, /hello alice@example\.com/, info);
  }

  before(async () => {
    env = await createEnv('06-provider');
    certs = ensureCerts(path.join(env.dir, 'certs'));
    caPem = fs.readFileSync(certs.ca);
    backend = await env.backend();
    overrideGate = env.own(await startGate({ targetPort: config.FAKE_PORT, keepHost: false }), 'gate');
    cachedGate = env.own(await startGate({ targetPort: config.FAKE_PORT, keepHost: true }), 'gate');
    const target = { port: config.FAKE_TLS_PORT, ca: caPem };
    for (const [k, pair] of Object.entries({
      good: certs.server, untrusted: certs.untrusted, wronghost: certs.wronghost, expired: certs.expired,
    })) {
      fwd[k] = env.own(await startTlsForwarder({ ...pair, target }), `tls forwarder ${k}`);
    }

    const providers = {
      // 1: lazy discovery
      lazy: `issuer ${FAKE}/ok;`,
      down: `issuer ${FAKE}/ttl-601;`,
      // 2: explicit endpoints win over discovery, which fills in the rest
      override: `
        issuer                 ${FAKE}/ttl-602;
        authorization_endpoint ${overrideGate.base}/ttl-602/authorize;
        jwks_uri               ${FAKE}/ttl-612/jwks;`,
      // 2b: every endpoint a login needs is named: no discovery at all
      nodisco: `
        issuer                 ${FAKE}/discovery-none;
        authorization_endpoint ${FAKE}/discovery-none/authorize;
        token_endpoint         ${FAKE}/discovery-none/token;
        jwks_uri               ${FAKE}/discovery-none/jwks;`,
      // 3, 4: the JWKS cache
      rotate: `
        issuer           ${FAKE}/kid-rotate;
        jwks_min_refresh 3s;`,
      unknownkid: `
        issuer           ${FAKE}/idt-unknown-key;
        jwks_min_refresh 2s;`,
      // 5: everything through the gate, metadata expiring after 1 s
      cached: `
        issuer              ${cachedGate.base}/ttl-605;
        metadata_cache_time 1s;
        jwks_cache_time     1h;`,
      // 6: TLS
      tls_ok: `
        issuer                  ${FAKE_TLS}/ttl-606;
        ssl_trusted_certificate ${certs.ca};`,
      tls_system: `issuer ${FAKE_TLS}/ttl-607;`,
      tls_otherca: `
        issuer                  ${FAKE_TLS}/ttl-608;
        ssl_trusted_certificate ${certs.otherCa};`,
      tls_untrusted: `
        issuer                  https://localhost:${fwd.untrusted.port}/ttl-609;
        ssl_trusted_certificate ${certs.ca};`,
      tls_wronghost: `
        issuer                  https://localhost:${fwd.wronghost.port}/ttl-610;
        ssl_trusted_certificate ${certs.ca};`,
      tls_expired: `
        issuer                  https://localhost:${fwd.expired.port}/ttl-611;
        ssl_trusted_certificate ${certs.ca};`,
      tls_fwd: `
        issuer                  https://localhost:${fwd.good.port}/ttl-613;
        ssl_trusted_certificate ${certs.ca};`,
      // 7: a JWKS slower than the timeout
      slowjwks: `
        issuer  ${FAKE}/jwks-slow-3000;
        timeout 1s;`,
    };

    // the fake provider is not running: nginx must start all the same
    assert.ok(await connectRefused(config.FAKE_PORT), `nothing may listen on ${FAKE} yet`);
    assert.ok(await connectRefused(config.FAKE_TLS_PORT), `nothing may listen on ${FAKE_TLS} yet`);

    ngx = await env.nginx({
      port: PORT,
      http: `
${Object.entries(providers).map(([name, body]) => provider(name, body)).join('\n')}

oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
${Object.keys(providers).map((name) => `
    location /${name}/ {
        oauth2 ${name};
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }`).join('\n')}
}`,
    });
  });
  after(() => env && env.stop());

  test('1. discovery is lazy: nginx starts with the provider down; then one discovery for many logins', async () => {
    // nginx is up (its `nginx -t` passed) while nothing listens on the fake's ports
    const refused = await new HttpClient().navigate(`${ORIGIN}/down/page`);
    assert.equal(refused.status, 503, `provider down -> 503 page: ${refused.status} ${refused.body.slice(0, 200)}`);
    assert.match(refused.headers['content-type'] || '', /text\/html/);
    const line = new RegExp(`oauth2 provider "down": discovery request to "${escapeRe(FAKE)}/ttl-601/${escapeRe(DISCOVERY)}" failed: connection refused`);
    assert.equal(logLines(line).length, 1, `one error line for the refused discovery${errTail()}`);

    await ensureFake();
    // nothing is fetched in the background, not even now that the provider is up
    await sleep(300);
    assert.deepEqual(await fake.stats(), {}, 'no request reached the provider by itself');

    // a burst of first navigations shares one discovery
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => new HttpClient().navigate(`${ORIGIN}/lazy/b${i}`)));
    for (const r of burst) {
      assert.equal(r.status, 302, `${r.status} ${r.body.slice(0, 200)}${errTail()}`);
      assert.ok(r.location.startsWith(`${FAKE}/ok/authorize?`), r.location);
    }
    for (let i = 0; i < 4; i++) {
      assertLoggedIn(await login(new HttpClient(), `/lazy/page${i}`, { authorizeBase: `${FAKE}/ok` }), `/lazy/page${i}`, `login ${i}`);
    }
    const s = await fake.stats();
    assert.equal(s[`ok/${DISCOVERY}`], 1, `one discovery for 6 redirects and 4 logins: ${JSON.stringify(s)}`);
    assert.equal(s['ok/jwks'], 1, `one JWKS fetch for 4 logins: ${JSON.stringify(s)}`);
    assert.equal(s['ok/token'], 4, JSON.stringify(s));
  });

  test('2. authorization_endpoint and jwks_uri override the discovered ones; discovery gives the token endpoint', async () => {
    await ensureFake();
    const client = new HttpClient();
    const r = await login(client, '/override/x', { authorizeBase: `${overrideGate.base}/ttl-602` });
    assertLoggedIn(r, '/override/x', 'login with overridden endpoints');
    assert.equal(overrideGate.hitsFor(/^\/ttl-602\/authorize\?/), 1, `the browser went to the configured authorization endpoint: ${overrideGate.hits}`);
    assert.equal(overrideGate.hitsFor(/^\/ttl-602\/token$/), 0, `no token request through the gate: ${overrideGate.hits}`);
    const s = await fake.stats();
    assert.equal(s[`ttl-602/${DISCOVERY}`], 1, `discovery fetched for the token endpoint not named: ${JSON.stringify(s)}`);
    assert.equal(s['ttl-602/token'], 1, `the code went to the discovered token endpoint: ${JSON.stringify(s)}`);
    assert.equal(s['ttl-612/jwks'], 1, `keys from the configured jwks_uri: ${JSON.stringify(s)}`);
    assert.equal(s['ttl-602/jwks'], undefined, `not from the discovered jwks_uri: ${JSON.stringify(s)}`);
  });

  test('2b. issuer and the endpoints named, no discovery document: logins work, discovery never asked', async () => {
    await ensureFake();
    const base = `${FAKE}/discovery-none`;
    for (let i = 0; i < 2; i++) {
      assertLoggedIn(await login(new HttpClient(), `/nodisco/p${i}`, { authorizeBase: base }), `/nodisco/p${i}`, `login ${i} without discovery`);
    }
    const s = await fake.stats();
    assert.equal(s[`discovery-none/${DISCOVERY}`], undefined, `no discovery request: ${JSON.stringify(s)}${errTail()}`);
    assert.equal(s['discovery-none/token'], 2, JSON.stringify(s));
    assert.equal(s['discovery-none/jwks'], 1, JSON.stringify(s));
    assert.equal(logLines(/\[error\].*oauth2 provider "nodisco"/).length, 0, `no error line${errTail()}`);
    const nodisco = await new HttpClient().navigate(`${base}/${DISCOVERY}`);
    assert.equal(nodisco.status, 404, 'the provider has no discovery document indeed');
  });

  test('3. key rotation between two logins a second apart: both succeed, the second waits for one JWKS refetch', async () => {
    await ensureFake();
    const t0 = Date.now();
    assertLoggedIn(await login(new HttpClient(), '/rotate/a'), '/rotate/a', 'login before the rotation');
    assert.equal(await stat('kid-rotate/jwks'), 1);

    const { kid } = await fake.rotate();
    // tokens are now signed with `kid`, which the worker's cached JWKS
    // lacks, and the JWKS was fetched less than jwks_min_refresh (3s) ago
    await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    const r = await login(new HttpClient(), '/rotate/b');
    assertLoggedIn(r, '/rotate/b', `login after the rotation (new kid ${kid})`);
    assert.equal(await stat('kid-rotate/jwks'), 2, 'one more JWKS fetch: the unknown-kid refetch');
    const [first, second] = (await fake.requests('kid-rotate/jwks')).map((q) => q.time);
    assert.ok(second - first >= 2900, `the refetch waited for jwks_min_refresh: ${second - first} ms apart`);
    assert.ok(r.callbackMs < 3500, `the callback waited at most jwks_min_refresh: ${r.callbackMs} ms`);

    // the new key is cached now
    assertLoggedIn(await login(new HttpClient(), '/rotate/c'), '/rotate/c', 'second login after the rotation');
    assert.equal(await stat('kid-rotate/jwks'), 2, 'no further fetch once the kid is known');
    assert.equal(logLines(/provider "rotate".*rejected/).length, 0, `no rejected ID token${errTail()}`);
  });

  test('4. unknown-kid refetches: at most one per jwks_min_refresh, the tokens wait for it and are refused', async () => {
    await ensureFake();
    const attempt = async (i) => {
      const r = await login(new HttpClient(), `/unknownkid/${i}`);
      assert.equal(r.start.status, 302, `attempt ${i}: ${r.start.status}${errTail()}`);
      assert.equal(r.callback.status, 401, `attempt ${i}: an ID token with an unknown kid -> 401, got ${r.callback.status}${errTail()}`);
      assert.ok(!r.callback.setCookies.some((c) => c.name === 'oauth2_unknownkid' && c.value), 'no session cookie');
      assert.ok(r.callbackMs < 2600, `attempt ${i}: waited at most jwks_min_refresh (2s): ${r.callbackMs} ms`);
    };
    // the first fetch, then the refetch 2 s later
    await attempt(0);
    assert.equal(await stat('idt-unknown-key/jwks'), 2, 'the first fetch and one refetch');
    // a flood: 10 parallel logins share one more refetch, 2 s after the last
    await Promise.all(Array.from({ length: 10 }, (_, i) => attempt(i + 1)));
    const times = (await fake.requests('idt-unknown-key/jwks')).map((q) => q.time);
    assert.equal(times.length, 3, `11 tokens with an unknown kid: 3 JWKS fetches, got ${times.length}`);
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] >= 1900, `fetches at least jwks_min_refresh apart: ${times.map((t) => t - times[0])}`);
    }
    // the wording varies ("no key with the token's kid", "unknown kid, and the JWKS was fetched too recently ...")
    const rejected = logLines(/\[error\].*oauth2 provider "unknownkid": ID token rejected: .*\bkid\b/);
    assert.equal(rejected.length, 11, `one error line per attempt${errTail()}`);
  });

  test('5. provider down after the caches are warm: stale metadata and cached keys keep logins working', async () => {
    await ensureFake();
    const base = `${cachedGate.base}/ttl-605`;
    assertLoggedIn(await login(new HttpClient(), '/cached/warm', { authorizeBase: base }), '/cached/warm', 'warm-up login');
    assert.equal(await stat('ttl-605/jwks'), 1);

    // the provider goes away: connections are refused
    await cachedGate.down();
    assert.ok(await connectRefused(cachedGate.port));
    const r1 = await new HttpClient().navigate(`${ORIGIN}/cached/a`);
    assert.equal(r1.status, 302, `cached metadata -> 302 with the provider down: ${r1.status}${errTail()}`);
    assert.ok(r1.location.startsWith(`${base}/authorize?`), r1.location);

    // metadata_cache_time 1s: now it is stale, its refetch fails, it stays in use
    await sleep(1100);
    const r2 = await new HttpClient().navigate(`${ORIGIN}/cached/b`);
    assert.equal(r2.status, 302, `stale metadata -> still 302: ${r2.status}${errTail()}`);
    assert.ok(r2.location.startsWith(`${base}/authorize?`), r2.location);
    const disco = `oauth2 provider "cached": discovery request to "${escapeRe(base)}/${escapeRe(DISCOVERY)}" failed: `;
    await waitForLog(new RegExp(`${disco}connection refused, keeping cached data`));

    // the provider is back, but its discovery and JWKS answer 500: a whole
    // login works with the stale metadata and the cached keys
    await cachedGate.up({ fail: /\/(\.well-known\/|jwks)/ });
    const r3 = await login(new HttpClient(), '/cached/c', { authorizeBase: base });
    assertLoggedIn(r3, '/cached/c', 'login with stale metadata and cached keys');
    assert.equal(await stat('ttl-605/jwks'), 1, 'the keys came from the cache');

    // once the retry delay is over, the next stale use refetches, gets 500 and keeps the data
    const refused = logLines(new RegExp(disco)).length;
    const deadline = Date.now() + 8000;
    let seen = [];
    while (!seen.length && Date.now() < deadline) {
      const r = await new HttpClient().navigate(`${ORIGIN}/cached/d`);
      assert.equal(r.status, 302, `stale metadata after a 500 -> still 302: ${r.status}${errTail()}`);
      await sleep(250);
      seen = logLines(new RegExp(`${disco}HTTP status 500, keeping cached data`));
    }
    assert.equal(seen.length, 1, `a refetch answered 500 is logged once and the data kept${errTail()}`);
    assert.equal(logLines(new RegExp(disco)).length, refused + 1, 'no other discovery failure meanwhile');
    assert.ok(cachedGate.hitsFor(/\/\.well-known\//) >= 1);
    await cachedGate.up({ fail: null });
  });

  test('6. TLS: ssl_trusted_certificate, and every certificate problem refused', { timeout: 30000 }, async () => {
    await ensureFake();

    // the test CA is trusted: a whole login over https
    const client = new HttpClient({ ca: caPem });
    const r = await login(client, '/tls_ok/x', { authorizeBase: `${FAKE_TLS}/ttl-606` });
    assertLoggedIn(r, '/tls_ok/x', 'login over https with the test CA');
    const s = await fake.stats();
    assert.equal(s[`ttl-606/${DISCOVERY}`], 1, JSON.stringify(s));
    assert.equal(s['ttl-606/token'], 1, JSON.stringify(s));
    assert.equal(s['ttl-606/jwks'], 1, JSON.stringify(s));

    // the forwarder itself is sound: with the good certificate it works
    const good = await new HttpClient().navigate(`${ORIGIN}/tls_fwd/x`);
    assert.equal(good.status, 302, `through the forwarder with the good certificate: ${good.status}${errTail()}`);
    assert.ok(good.location.startsWith(`https://localhost:${fwd.good.port}/ttl-613/authorize?`), good.location);

    const cases = [
      ['tls_system', FAKE_TLS, 'ttl-607', 'no ssl_trusted_certificate: the system store lacks the test CA'],
      ['tls_otherca', FAKE_TLS, 'ttl-608', 'only the unrelated CA trusted'],
      ['tls_untrusted', `https://localhost:${fwd.untrusted.port}`, 'ttl-609', 'a server certificate of the unrelated CA'],
      ['tls_wronghost', `https://localhost:${fwd.wronghost.port}`, 'ttl-610', 'a certificate for wrong-host.invalid'],
      ['tls_expired', `https://localhost:${fwd.expired.port}`, 'ttl-611', 'an expired certificate'],
    ];
    for (const [name, origin, sc, what] of cases) {
      const res = await new HttpClient().navigate(`${ORIGIN}/${name}/x`);
      assert.equal(res.status, 503, `${what}: 503 page expected, got ${res.status} ${res.location || ''}${errTail()}`);
      assert.match(res.body, /unavailable/i);
      const re = new RegExp(`\\[error\\].*oauth2 provider "${name}": discovery request to "${escapeRe(origin)}/${sc}/${escapeRe(DISCOVERY)}" failed: .*certificate`, 'i');
      assert.equal(logLines(re).length, 1, `${what}: one error line about the certificate${errTail()}`);
      assert.equal((await fake.stats())[`${sc}/${DISCOVERY}`], undefined, `${what}: no HTTP request got through`);
    }
  });

  test('7. a JWKS slower than `timeout` -> a clear error page and one error line', async () => {
    await ensureFake();
    const r = await login(new HttpClient(), '/slowjwks/x');
    assert.equal(r.start.status, 302, `discovery is fast: ${r.start.status}${errTail()}`);
    assert.ok(r.callback, 'reached the callback');
    assert.ok([502, 503, 504].includes(r.callback.status), `callback -> 502/503/504, got ${r.callback.status}${errTail()}`);
    assert.match(r.callback.headers['content-type'] || '', /text\/html/);
    assert.match(r.callback.body, /<h1>[^<]+<\/h1>/, 'an error page with a title');
    assert.ok(!r.callback.setCookies.some((c) => c.name === 'oauth2_slowjwks' && c.value), 'no session cookie');
    assert.ok(r.callbackMs >= 900 && r.callbackMs < 2900,
      `the callback waited for the 1s timeout, not the 3s answer: ${r.callbackMs} ms`);
    const re = new RegExp(`\\[error\\].*oauth2 provider "slowjwks": jwks request to "${escapeRe(FAKE)}/jwks-slow-3000/jwks" failed: .*timed out`);
    assert.equal(logLines(re).length, 1, `one error line naming the provider, the jwks endpoint and the timeout${errTail()}`);
    assert.equal(logLines(/oauth2 provider "slowjwks"/).length, 1, `no other error line for it${errTail()}`);
  });
});
