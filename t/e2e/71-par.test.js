'use strict';

// Pushed authorization requests (RFC 9126, issue #12 item 6).
//
// - The real OP (oidc-provider) with clients registered with
//   require_pushed_authorization_requests: a private_key_jwt client and a
//   client_secret_jwt one log in ("pushed_authorization_requests on"),
//   are refreshed and log out; the browser's redirect to the OP carries
//   client_id and request_uri only; without the push the OP refuses the
//   same client.  With the OP's discovery saying
//   require_pushed_authorization_requests, the default ("auto") pushes.
// - The fake provider for the faults a real one won't make: a push
//   answered 500 or 400, a request_uri that must not reach a Location, no
//   expires_in, an unreachable endpoint, "on" without an endpoint: each a
//   502/503 page and one error line; a slow push blocks nothing else.
//
// nginx on E2E_NGINX_PORT+41 (2027 by default), the real OP on OP_PORT,
// the fake provider on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { troubleLines } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 41;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const SECRET_JWT = 'client-secret-jwt-0123456789abcdef0123456789abcdef';

function location(name, backend) {
  return `
    location /${name}/ {
        oauth2 ${name};
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_set_header X-Token $oauth2_access_token;
        proxy_pass http://127.0.0.1:${backend.port};
    }`;
}

describe('pushed authorization requests with the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  const NAMES = ['pk', 'sjwt', 'nopush'];

  before(async () => {
    env = await createEnv('71-par');
    const dir = path.join(env.dir, 'keys');
    fs.mkdirSync(dir, { recursive: true });
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = path.join(dir, 'rsa.pem');
    fs.writeFileSync(keyFile, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });

    const common = {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: NAMES.map((n) => `${ORIGIN}/cb/${n}`),
      post_logout_redirect_uris: [`${ORIGIN}/`],
      require_pushed_authorization_requests: true,
    };
    const clients = [
      {
        ...common,
        client_id: 'par-pk',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...rsa.publicKey.export({ format: 'jwk' }), use: 'sig', kid: 'k1' }] },
      },
      {
        ...common, client_id: 'par-sjwt', client_secret: SECRET_JWT, token_endpoint_auth_method: 'client_secret_jwt',
      },
    ];
    const clientsFile = path.join(env.dir, 'clients.json');
    fs.writeFileSync(clientsFile, JSON.stringify(clients, null, 2));
    op = await env.op({ accessTtl: 5, idTtl: 5, extraArgs: ['--clients', clientsFile] });
    const backend = await env.backend();
    const provider = (name, clientId, lines) => `
oauth2_provider ${name} {
    issuer          ${op.issuer};
    client_id       ${clientId};
    redirect_uri    /cb/${name};
    scope           "openid email profile offline_access";
    authorization_params "ui_locales=en";
    logout_uri      /${name}/logout;
    post_logout_uri /;
    revoke_tokens   on;
    refresh_margin  1s;
    ${lines}
}`;
    ngx = await env.nginx({
      port: PORT,
      env: { SECRET_JWT },
      http: `${provider('pk', 'par-pk', `client_key file:${keyFile}; client_key_id k1; pushed_authorization_requests on;`)}
${provider('sjwt', 'par-sjwt', 'client_auth_method client_secret_jwt; client_secret env:SECRET_JWT; pushed_authorization_requests on;')}
${provider('nopush', 'par-pk', `client_key file:${keyFile}; client_key_id k1; pushed_authorization_requests off;`)}
oauth2_cookie_secret ${config.COOKIE_SECRET};
server {
    listen 127.0.0.1:${PORT};${NAMES.map((n) => location(n, backend)).join('')}
}`,
    });
  });

  after(() => env && env.stop());

  const opCalls = (re) => (op.proc.stdout().match(re) || []).length;

  for (const name of ['pk', 'sjwt']) {
    test(`${name}: logs in with a pushed request, is refreshed, logs out`, async () => {
      const pushes = opCalls(/^op: POST \/request -> 201/gm);
      const tokens = opCalls(/^op: POST \/token -> 200/gm);
      const client = new HttpClient();
      let first;
      const flow = await followLogin(client, `${ORIGIN}/${name}/page`, {
        login: `par-${name}`,
        onHop: (res) => { if (!first && res.isRedirect) first = res.location; },
      });
      assert.equal(flow.response.status, 200,
        `${describeHops(flow.hops)}\n${ngx.errorLog().slice(-2000)}\n${op.proc.stdout().slice(-2000)}`);
      assert.match(flow.response.body, new RegExp(`hello par-${name}@example\\.com`));

      const url = new URL(first);
      assert.equal(`${url.origin}${url.pathname}`, (await op.discovery()).authorization_endpoint);
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri'],
        'the browser sees client_id and request_uri only');
      assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
      assert.equal(opCalls(/^op: POST \/request -> 201/gm) - pushes, 1, 'one push');

      await sleep(6500);
      const res = await client.fetchLike(`${ORIGIN}/${name}/page`);
      assert.equal(res.status, 200, `refreshed\n${ngx.errorLog().slice(-2000)}`);
      assert.equal(opCalls(/^op: POST \/token -> 200/gm) - tokens, 2, 'code exchange and refresh');

      const revoked = () => opCalls(/^op: POST \/token\/revocation -> 200/gm);
      const before = revoked();
      const out = await client.navigate(`${ORIGIN}/${name}/logout`, {
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(out.status, 303);
      for (let i = 0; i < 50 && revoked() - before < 2; i++) await sleep(100);
      assert.equal(revoked() - before, 2, 'both tokens revoked');
      assert.deepEqual(troubleLines(ngx.errorLog()), []);
    });
  }

  test('without the push the OP refuses the same client (the test OP enforces PAR)', async () => {
    const client = new HttpClient();
    const res = await client.navigate(`${ORIGIN}/nopush/page`);
    assert.equal(res.status, 302);
    assert.ok(new URL(res.location).searchParams.get('scope'), 'a plain authorization request');
    const at = await client.navigate(res.location);
    assert.ok(at.isRedirect, `the OP sends the browser back: ${at.status}`);
    const back = new URL(at.location);
    assert.equal(back.pathname, '/cb/nopush');
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.match(back.searchParams.get('error_description'), /pushed authorization request must be used/i);
  });
});

describe('pushed_authorization_requests auto follows the OP discovery', moduleTestOptions(), () => {
  let env;
  let op;

  before(async () => {
    env = await createEnv('71-par-auto');
    op = await env.op({
      redirectUris: [`${ORIGIN}/oauth2/callback`],
      extraArgs: ['--require-par'],
    });
    await env.opLogin({ port: PORT, op });
  });

  after(() => env && env.stop());

  test('the discovery says require_pushed_authorization_requests: the default pushes', async () => {
    assert.equal((await op.discovery()).require_pushed_authorization_requests, true);
    const client = new HttpClient();
    let first;
    const flow = await followLogin(client, `${ORIGIN}/page`, {
      login: 'auto',
      onHop: (res) => { if (!first && res.isRedirect) first = res.location; },
    });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    assert.deepEqual([...new URL(first).searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(op.proc.stdout(), /^op: POST \/request -> 201/m);
  });
});

describe('pushed authorization requests that fail', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  const CLOSED = config.NGINX_PORT + 42;
  const SCENARIOS = ['par', 'par+par-500', 'par+par-refuse', 'par+par-bad-uri', 'par+par-no-expiry',
    'par+par-slow-1500'];
  // provider names whose cookies do not clash: par, f500, frefuse, ...
  const name = (s) => s.replace('par+par-', 'f').replace(/[^a-z0-9]+/g, '');

  before(async () => {
    env = await createEnv('71-par-faults');
    fake = await env.fake();
    const provider = (n, issuer, lines = '') => `
oauth2_provider ${n} {
    issuer         ${issuer};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    redirect_uri   /cb/${n};
    ${lines}
}`;
    ngx = await env.nginx({
      port: PORT,
      http: `${SCENARIOS.map((s) => provider(name(s), fake.issuer(s), 'authorization_params "prompt=login&ui_locales=de";')).join('\n')}
${provider('unreachable', fake.issuer('ok'), `pushed_authorization_requests on; pushed_authorization_request_endpoint http://127.0.0.1:${CLOSED}/par;`)}
${provider('noendpoint', fake.issuer('ok'), 'pushed_authorization_requests on;')}
${provider('nopar', fake.issuer('par'), 'pushed_authorization_requests off;')}
oauth2_cookie_secret ${config.COOKIE_SECRET};
server {
    listen 127.0.0.1:${PORT};
    ${[...SCENARIOS.map(name), 'unreachable', 'noendpoint', 'nopar'].map((n) => `location /${n}/ { oauth2 ${n}; }`).join('\n    ')}
    location = /health { return 200 "ok\\n"; }
}`,
    });
  });

  after(() => env && env.stop());

  test('the push carries what the redirect would have, the redirect only client_id and request_uri', async () => {
    await fake.reset();
    const res = await new HttpClient().navigate(`${ORIGIN}/par/page`);
    assert.equal(res.status, 302);
    const url = new URL(res.location);
    assert.equal(`${url.origin}${url.pathname}`, `${fake.issuer('par')}/authorize`);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:[\w-]+$/);
    assert.ok(res.setCookies.some((c) => /_st_/.test(c.name)), 'the state cookie is set');

    const [push] = await fake.requests('par/par');
    const body = new URLSearchParams(push.body);
    for (const k of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce',
      'code_challenge', 'code_challenge_method']) {
      assert.ok(body.get(k), `${k} in the push`);
    }
    assert.equal(body.getAll('client_id').length, 1, 'client_id once');
    assert.equal(body.get('prompt'), 'login', 'authorization_params too');
    assert.equal(body.get('ui_locales'), 'de');
    assert.match(push.headers.authorization, /^Basic /, 'the client authenticated');
  });

  const faults = [
    ['par+par-500', 502, /pushed authorization request to ".*\/par" failed: HTTP status 500 "server_error"/],
    ['par+par-refuse', 502, /pushed authorization request to ".*\/par" failed: HTTP status 400 "invalid_request"/],
    ['par+par-bad-uri', 502, /pushed authorization request to ".*\/par" failed: no valid "request_uri"/],
    ['par+par-no-expiry', 502, /pushed authorization request to ".*\/par" failed: no valid "expires_in"/],
    ['unreachable', 502, /pushed authorization request to "http:\/\/127\.0\.0\.1:\d+\/par" failed: connection refused/],
    ['noendpoint', 503, /has no pushed authorization request endpoint/],
  ];

  for (const [scenario, status, line] of faults) {
    test(`${scenario}: a ${status} page and one error line`, async () => {
      const before = ngx.errors().length;
      const res = await new HttpClient().navigate(`${ORIGIN}/${name(scenario)}/page`);
      assert.equal(res.status, status, res.body);
      assert.match(res.body, /<html/i);
      assert.equal(res.location, undefined, 'no redirect');
      assert.doesNotMatch(JSON.stringify(res.headers), /X-Injected|javascript:/i);
      const errors = ngx.errors().slice(before);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], line);
    });
  }

  test('"off" sends the parameters in the redirect even when the provider requires a push', async () => {
    const res = await new HttpClient().navigate(`${ORIGIN}/nopar/page`);
    assert.equal(res.status, 302);
    assert.ok(new URL(res.location).searchParams.get('code_challenge'));
  });

  test('a slow push waits without blocking the worker', async () => {
    const t0 = Date.now();
    const login = new HttpClient().navigate(`${ORIGIN}/${name('par+par-slow-1500')}/page`);
    await sleep(200);
    const t1 = Date.now();
    const health = await new HttpClient().get(`${ORIGIN}/health`);
    assert.equal(health.status, 200);
    assert.ok(Date.now() - t1 < 500, `another request is served while the push waits (${Date.now() - t1} ms)`);
    const res = await login;
    assert.equal(res.status, 302);
    assert.ok(Date.now() - t0 >= 1500, 'the redirect came after the push');
    assert.deepEqual([...new URL(res.location).searchParams.keys()].sort(), ['client_id', 'request_uri']);
  });

  test('a browser that goes away during the push: the push is dropped, the worker goes on', async () => {
    await fake.reset();
    await new Promise((resolve) => {
      const req = http.get(`${ORIGIN}/${name('par+par-slow-1500')}/page`, {
        headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
      });
      req.on('error', () => resolve());
      setTimeout(() => { req.destroy(); resolve(); }, 300);
    });
    await sleep(1800);
    assert.equal((await fake.requests('par+par-slow-1500/par')).length, 1, 'the push was under way');
    const health = await new HttpClient().get(`${ORIGIN}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });
});
