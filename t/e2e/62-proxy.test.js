'use strict';

// The provider block's `proxy`: every call to the provider goes through the
// configured HTTP proxy (plain HTTP forwarded in absolute form, https in a
// CONNECT tunnel, TLS still verified against the provider's certificate),
// a proxy that is down or refuses gives a 502/503 page and one error-log
// line without secrets, and without `proxy` the http_proxy/https_proxy
// environment that nginx passes through `env` is ignored.
//
// Providers: `op` the real OP over http, `tls` the fake over https (and
// `otherca`, trusting another CA: refused), all
// through the test proxy (t/fake/proxy.js); `closed` through the same
// proxy while it drops connections; `down` through a port nothing listens
// on; `noenv` without `proxy`.
// `tlsproxy` goes through an https proxy (TLS to the proxy, verified with
// ssl_trusted_certificate, and the provider's TLS inside), `badproxy`
// trusts another CA and must not get past the proxy's handshake.
// nginx's environment names a second proxy, which must never see a call.
// A proxy that wants a user name and password: `authproxy` gives them,
// `authwrong` a wrong password; neither password may reach a log.
// nginx on E2E_NGINX_PORT+56, the proxy +57, the dead port +58, the
// environment's proxy +59, the https proxy +60, the proxy with a login +61.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const {
  describe, test, before, after, afterEach,
} = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');
const { ensureCerts } = require('./lib/tls');
const { startProxy } = require('../fake/proxy');

const PORT = config.NGINX_PORT + 56;
const PROXY_PORT = config.NGINX_PORT + 57;
const DEAD_PORT = config.NGINX_PORT + 58;
const ENV_PROXY_PORT = config.NGINX_PORT + 59;
const TLS_PROXY_PORT = config.NGINX_PORT + 60;
const AUTH_PROXY_PORT = config.NGINX_PORT + 61;
// percent-encoded in the URL: user "u@x", password "p:ss w0rd"
const PROXY_PASSWORD = 'p:ss w0rd';
const ORIGIN = `http://127.0.0.1:${PORT}`;

function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(true));
  });
}

describe('provider calls through an outbound proxy', moduleTestOptions(), () => {
  let env;
  let op;
  let fake;
  let proxy;
  let envProxy;
  let tlsProxy;
  let authProxy;
  let ngx;
  let caPem;

  const provider = (name, lines) => `
oauth2_provider ${name} {
    redirect_uri   /cb/${name};
${lines.trim().split('\n').map((l) => `    ${l.trim()}`).join('\n')}
}`;

  before(async () => {
    env = await createEnv('62-proxy');
    const certs = ensureCerts(path.join(env.dir, 'certs'));
    caPem = fs.readFileSync(certs.ca);
    op = await env.op({ redirectUris: [`${ORIGIN}/cb/op`] });
    fake = await env.fake({
      tlsCert: certs.server.cert, tlsKey: certs.server.key, tlsPort: config.FAKE_TLS_PORT,
    });
    proxy = env.own(await startProxy({ port: PROXY_PORT }), 'proxy');
    envProxy = env.own(await startProxy({ port: ENV_PROXY_PORT }), 'environment proxy');
    tlsProxy = env.own(await startProxy({ port: TLS_PROXY_PORT, tls: certs.server }), 'https proxy');
    authProxy = env.own(await startProxy({ port: AUTH_PROXY_PORT, auth: `u@x:${PROXY_PASSWORD}` }), 'proxy with auth');
    assert.ok(await refused(DEAD_PORT), `nothing may listen on ${DEAD_PORT}`);
    const backend = await env.backend();
    const fakeClient = `client_id ${config.FAKE_CLIENT.id};\nclient_secret ${config.FAKE_CLIENT.secret};`;
    const names = ['op', 'tls', 'otherca', 'closed', 'down', 'noenv', 'tlsproxy', 'badproxy', 'authproxy', 'authwrong'];
    ngx = await env.nginx({
      port: PORT,
      // what libcurl would read by itself: the module must not
      env: {
        OP_SECRET: config.OP_CLIENT.secret,
        http_proxy: envProxy.url,
        https_proxy: envProxy.url,
        HTTPS_PROXY: envProxy.url,
        all_proxy: envProxy.url,
      },
      http: `
${provider('op', `
    issuer         ${op.issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  env:OP_SECRET;
    scope          "openid email profile";
    pushed_authorization_requests on;
    logout_uri     /logout/op;
    revoke_tokens  on;
    proxy          ${proxy.url};`)}
${provider('tls', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.ca};
    proxy          ${proxy.url}/;`)}
${provider('otherca', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.otherCa};
    proxy          ${proxy.url};`)}
${provider('closed', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.ca};
    proxy          ${proxy.url};`)}
${provider('down', `
    issuer         ${fake.issuer('ok')};
    ${fakeClient}
    proxy          http://127.0.0.1:${DEAD_PORT};`)}
${provider('tlsproxy', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.ca};
    proxy          ${tlsProxy.url};`)}
${provider('badproxy', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.otherCa};
    proxy          ${tlsProxy.url};`)}
${provider('authproxy', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.ca};
    proxy          http://u%40x:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${AUTH_PROXY_PORT};`)}
${provider('authwrong', `
    issuer         ${fake.issuer('ok', { tls: true })};
    ${fakeClient}
    ssl_trusted_certificate ${certs.ca};
    proxy          http://u%40x:wr0ng-pw@127.0.0.1:${AUTH_PROXY_PORT};`)}
${provider('noenv', `
    issuer         ${fake.issuer('ok')};
    ${fakeClient}`)}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
${names.map((n) => `    location /s/${n}/ {
        oauth2 ${n};
        proxy_set_header X-Email $oauth2_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }`).join('\n')}
}`,
    });
  });
  after(() => env && env.stop());

  // whatever the test, the environment's proxy is not used
  afterEach(() => {
    assert.deepEqual(envProxy.stats(), { requests: [], connects: [] }, 'the environment\'s proxy is ignored');
  });

  const errTail = () => `\n--- error.log (tail) ---\n${ngx.errorLog().slice(-2500)}`;

  /** nginx -> 302 to the fake's authorize -> 302 back -> callback -> page */
  async function fakeLogin(client, name) {
    const start = await client.navigate(`${ORIGIN}/s/${name}/page`);
    assert.equal(start.status, 302, `${name}: redirect to the provider: ${start.status} ${start.body.slice(0, 300)}${errTail()}`);
    const authorize = await client.navigate(start.location, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(authorize.status, 302, authorize.body.slice(0, 300));
    const callback = await client.navigate(authorize.location, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(callback.status, 302, `${name}: callback ${callback.status} ${callback.body.slice(0, 300)}${errTail()}`);
    const page = await client.navigate(callback.location);
    assert.equal(page.status, 200, `${name}: page ${page.status}${errTail()}`);
    assert.match(page.body, /hello alice@example\.com/);
  }

  test('the real OP over http: discovery, JWKS, PAR, token, userinfo and revocation all go through the proxy', async () => {
    proxy.reset();
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/s/op/page`, { login: 'alice' });
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}${errTail()}`;
    assert.equal(flow.response.status, 200, info);
    assert.match(flow.response.body, /hello alice@example\.com/, info);

    const disco = await op.discovery();
    const seen = proxy.stats().requests.map((r) => `${r.method} ${r.url}`);
    assert.ok(seen.includes(`GET ${op.issuer}/.well-known/openid-configuration`), seen.join('\n'));
    assert.ok(seen.includes(`GET ${disco.jwks_uri}`), seen.join('\n'));
    assert.ok(seen.includes(`POST ${disco.pushed_authorization_request_endpoint}`), seen.join('\n'));
    assert.ok(seen.includes(`POST ${disco.token_endpoint}`), seen.join('\n'));
    assert.ok(seen.includes(`GET ${disco.userinfo_endpoint}`), seen.join('\n'));
    assert.equal(proxy.stats().connects.length, 0, 'plain http is forwarded, not tunnelled');

    // the logout's revocation calls, in the background, as well
    proxy.reset();
    const out = await client.request('POST', `${ORIGIN}/logout/op`, {
      headers: { origin: ORIGIN, 'sec-fetch-site': 'same-origin' }, body: '',
    });
    assert.ok([302, 303].includes(out.status), `logout: ${out.status} ${out.body.slice(0, 300)}`);
    const deadline = Date.now() + 5000;
    const revoked = () => proxy.stats().requests.filter((r) => r.method === 'POST'
      && r.url === disco.revocation_endpoint).length;
    while (revoked() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(revoked() >= 1, `revocation through the proxy: ${JSON.stringify(proxy.stats())}${errTail()}`);
  });

  test('the fake over https: CONNECT tunnels to the provider, its certificate still verified', async () => {
    proxy.reset();
    const before = (await fake.stats());
    await fakeLogin(new HttpClient({ ca: caPem }), 'tls');
    const { requests, connects } = proxy.stats();
    const target = `localhost:${config.FAKE_TLS_PORT}`;
    // discovery, JWKS and token at least; libcurl may reuse a tunnel
    assert.ok(connects.length >= 1, `CONNECTs seen: ${connects.join(', ')}`);
    assert.ok(connects.every((c) => c === target), `only the provider: ${connects.join(', ')}`);
    assert.equal(requests.length, 0, 'nothing in clear through the proxy');
    const after = await fake.stats();
    assert.ok((after['ok/token'] || 0) > (before['ok/token'] || 0), 'the token call reached the provider');
  });

  async function assertFailsClearly(name, via, reason) {
    const mark = ngx.errorLog().length;
    const res = await new HttpClient().navigate(`${ORIGIN}/s/${name}/page`);
    assert.ok([502, 503].includes(res.status), `${name}: 502/503, got ${res.status}${errTail()}`);
    assert.doesNotMatch(res.body, /500 Internal/);
    const lines = ngx.errorLog().slice(mark).split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    assert.equal(lines.length, 1, `one error-log line:\n${lines.join('\n')}`);
    assert.match(lines[0], new RegExp(`oauth2 provider "${name}": discovery request to "[^"]+" `
      + `through proxy "${via}" failed: ${reason}`));
    assert.doesNotMatch(lines[0], new RegExp(config.FAKE_CLIENT.secret));
    return lines[0];
  }

  test('TLS ends at the provider: a tunnel to a certificate of another CA is refused', async () => {
    proxy.reset();
    await assertFailsClearly('otherca', proxy.url, 'TLS certificate verification failed');
    assert.deepEqual(proxy.stats().connects, [`localhost:${config.FAKE_TLS_PORT}`]);
  });

  test('a proxy that drops the connection: 502/503 page and one log line', async () => {
    proxy.reset();
    proxy.mode('close');
    try {
      await assertFailsClearly('closed', proxy.url, '\\S');
    } finally {
      proxy.mode('ok');
    }
  });

  test('a proxy that is down: 502/503 page and one log line naming the proxy', async () => {
    const line = await assertFailsClearly('down', `http://127.0.0.1:${DEAD_PORT}`, 'proxy connection refused');
    assert.match(line, new RegExp(`port ${DEAD_PORT}`), 'libcurl\'s detail names the proxy');
  });

  test('an https proxy: TLS to the proxy, checked with ssl_trusted_certificate, and CONNECT inside', async () => {
    tlsProxy.reset();
    proxy.reset();
    await fakeLogin(new HttpClient({ ca: caPem }), 'tlsproxy');
    const { requests, connects } = tlsProxy.stats();
    assert.ok(connects.length >= 1 && connects.every((c) => c === `localhost:${config.FAKE_TLS_PORT}`),
      `CONNECTs through the https proxy: ${connects.join(', ')}`);
    assert.equal(requests.length, 0);
    assert.deepEqual(proxy.stats(), { requests: [], connects: [] }, 'not through the plain proxy');
  });

  test('an https proxy whose certificate is not trusted gets nothing: 502/503 and one log line', async () => {
    tlsProxy.reset();
    await assertFailsClearly('badproxy', tlsProxy.url, 'the https proxy\'s TLS certificate verification failed');
    assert.deepEqual(tlsProxy.stats().connects, [], 'no CONNECT was sent to an unverified proxy');
  });

  test('a proxy that wants credentials gets them from the URL, decoded; no log shows them', async () => {
    authProxy.reset();
    await fakeLogin(new HttpClient({ ca: caPem }), 'authproxy');
    const st = authProxy.stats();
    assert.ok(st.connects.length >= 1, `authorized CONNECTs: ${JSON.stringify(st)}`);
    const log = ngx.errorLog();
    assert.ok(!log.includes(PROXY_PASSWORD) && !log.includes(encodeURIComponent(PROXY_PASSWORD)),
      'the password is in no log line');
  });

  test('wrong proxy credentials: 502/503, one log line naming the proxy without them', async () => {
    authProxy.reset();
    const line = await assertFailsClearly('authwrong', `http://127.0.0.1:${AUTH_PROXY_PORT}`,
      'the proxy refused the credentials \\(407\\)');
    assert.ok(authProxy.stats().refused >= 1, 'the proxy refused with 407');
    assert.equal(authProxy.stats().connects.length, 0);
    assert.doesNotMatch(line, /wr0ng-pw|u%40x|u@x/);
    assert.ok(!ngx.errorLog().includes('wr0ng-pw'), 'the wrong password is in no log line');
  });

  test('without `proxy`, http_proxy/https_proxy/all_proxy from the environment are ignored', async () => {
    proxy.reset();
    await fakeLogin(new HttpClient(), 'noenv');
    assert.deepEqual(proxy.stats(), { requests: [], connects: [] });
    assert.deepEqual(envProxy.stats(), { requests: [], connects: [] });
  });
});
