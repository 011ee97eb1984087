'use strict';

// Checks of the e2e harness itself that do not need the module: nginx
// start/stop from a generated config (without load_module), the cookie jar,
// and the real browser completing the OP's dev login (landing on the test
// backend instead of nginx).  If these fail, the module tests' failures mean
// nothing.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, CookieJar, parseForms, portFree, pkcePair, browser,
} = require('./lib');

// the e2e lock serialises test files, so the harness can share the first nginx port
const NGINX_PORT = config.NGINX_PORT;

describe('harness: nginx without the module', () => {
  let env;
  let ngx;
  let backend;

  before(async () => {
    env = await createEnv('02-harness');
    backend = await env.backend();
    ngx = await env.nginx({
      port: NGINX_PORT,
      loadModule: false,
      env: { HARNESS_VAR: 'from-env' },
      http: `
server {
    listen 127.0.0.1:${NGINX_PORT};
    location / {
        proxy_set_header X-Email harness@example.com;
        proxy_pass http://127.0.0.1:${backend.port};
    }
    location = /cookies {
        add_header Set-Cookie "plain=1; Path=/; HttpOnly; SameSite=Lax";
        add_header Set-Cookie "scoped=2; Path=/cookies";
        add_header Set-Cookie "__Host-sec=3; Path=/; Secure";
        add_header Set-Cookie "__Host-bad=4; Path=/sub; Secure";
        add_header Set-Cookie "gone=5; Path=/; Max-Age=0";
        return 200 "cookies\\n";
    }
    location = /echo-cookie { return 200 "cookie=[$http_cookie]\\n"; }
    location = /redirect { return 302 /somewhere?x=1; }
}`,
    });
  });
  after(() => env && env.stop());

  test('nginx serves the generated config and proxies to the backend', async () => {
    const c = new HttpClient();
    const r = await c.get(ngx.url('/hello?q=1'));
    assert.equal(r.status, 200);
    assert.match(r.body, /hello harness@example\.com/);
    assert.equal(backend.last().url, '/hello?q=1');
    assert.equal(backend.last().headers['x-email'], 'harness@example.com');
    assert.match(fs.readFileSync(ngx.confFile, 'utf8'), /env HARNESS_VAR;/);
  });

  test('redirects are not followed; Location is resolved', async () => {
    const r = await new HttpClient().get(ngx.url('/redirect'));
    assert.equal(r.status, 302);
    assert.equal(r.location, `http://127.0.0.1:${NGINX_PORT}/somewhere?x=1`);
  });

  test('the cookie jar keeps, scopes and refuses cookies like a browser', async () => {
    const c = new HttpClient();
    const r = await c.get(ngx.url('/cookies'));
    assert.equal(r.cookie('plain').attrs.httponly, true);
    assert.equal(r.cookie('plain').attrs.samesite, 'Lax');
    assert.equal(r.cookie('__Host-bad').rejected, '__Host- prefix without Path=/');
    assert.equal(c.jar.get('__Host-sec').value, '3', 'Secure cookies are kept on loopback http');
    assert.equal(c.jar.get('gone'), undefined);
    const e1 = await c.get(ngx.url('/echo-cookie'));
    assert.equal(e1.body, 'cookie=[plain=1; __Host-sec=3]\n');
    // a path-scoped cookie comes first where it applies
    const jar = new CookieJar();
    jar.setFromResponse('http://127.0.0.1/a/b', ['x=1; Path=/a', 'y=2; Path=/']);
    assert.equal(jar.header('http://127.0.0.1/a/c'), 'x=1; y=2');
    assert.equal(jar.header('http://127.0.0.1/ab'), 'y=2');
    // cookies are per host, not per port
    assert.equal(jar.header('http://127.0.0.1:9999/a'), 'x=1; y=2');
    assert.equal(jar.header('http://localhost/a'), undefined);
    // strict mode: no Secure cookies over http
    const strict = new CookieJar({ strictSecure: true });
    strict.setFromResponse('http://127.0.0.1/', ['s=1; Secure']);
    assert.equal(strict.header('http://127.0.0.1/'), undefined);
    // 4096-byte limit
    jar.setFromResponse('http://127.0.0.1/', [`big=${'x'.repeat(4100)}`]);
    assert.equal(jar.get('big'), undefined);
  });

  test('forms are parsed with entities decoded and outside buttons attached', () => {
    const forms = parseForms(`<form id="f" action="/x?a=1&amp;b=2" method="post">
      <input type="hidden" name="xsrf" value="t&quot;k"><input name="login" required></form>
      <button form="f" name="logout" value="yes">Yes</button>`, 'http://127.0.0.1:1/base/');
    assert.equal(forms.length, 1);
    assert.equal(forms[0].action, 'http://127.0.0.1:1/x?a=1&b=2');
    assert.equal(forms[0].method, 'POST');
    assert.deepEqual(forms[0].fields, { xsrf: 't"k', login: '' });
    assert.equal(forms[0].buttons[0].name, 'logout');
  });

  test('stop() ends nginx and frees the port', async () => {
    const pid = ngx.proc.pid;
    await ngx.stop();
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.equal(await portFree(NGINX_PORT), true);
  });
});

describe('harness: chromium completes the OP dev login', () => {
  let env;
  let op;
  let backend;
  let b;

  before(async () => {
    env = await createEnv('02-harness-browser');
    backend = await env.backend();
    op = await env.op({ redirectUris: [`${backend.url}/cb`] });
  });
  after(async () => {
    if (b) await b.close();
    if (env) await env.stop();
  });

  test('login form -> redirect to the client with a code', async () => {
    b = await browser.launchBrowser();
    const pkce = pkcePair();
    const u = new URL(`${op.issuer}/auth`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: config.OP_CLIENT.id,
      redirect_uri: `${backend.url}/cb`,
      scope: 'openid email',
      state: 'st-browser',
      nonce: 'n-browser',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    })) u.searchParams.set(k, v);
    await b.page.goto(u.toString());
    assert.equal(await b.page.title(), 'Sign-in');
    await browser.opLoginInBrowser(b.page, { login: 'browser-user', opOrigin: op.issuer });
    const landed = new URL(b.page.url());
    assert.equal(`${landed.origin}${landed.pathname}`, `${backend.url}/cb`);
    assert.equal(landed.searchParams.get('state'), 'st-browser');
    assert.ok(landed.searchParams.get('code'));
    // the browser really made that request (as a navigation)
    const req = backend.requests.find((r) => r.url.startsWith('/cb?'));
    assert.ok(req);
    assert.equal(req.headers['sec-fetch-mode'], 'navigate');
    await b.page.screenshot({ path: path.join(config.SERVROOT, 'harness-browser.png') });
  });
});
