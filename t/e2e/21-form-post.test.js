'use strict';

// response_mode form_post in a real browser: Debian's chromium (through
// playwright-core) logs in at the real OP (oidc-provider), which answers
// with its auto-submitting form, a cross-site POST from the OP
// (http://127.0.0.1) to nginx (https://localhost, TLS with a private CA
// made at test time; chromium trusts the server key through
// --ignore-certificate-errors-spki-list, never by ignoring every error).
//
// What fails without the feature: the callback must be a POST carrying the
// state cookie on a request chromium itself marks cross-site, which it only
// does for a SameSite=None; Secure cookie; nginx must take the form.  The
// code, state and iss of the form never reach nginx's logs, even with
// $request_body in the access log and the error log at debug level.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const tls = require('node:tls');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, moduleTestOptions, browser,
} = require('./lib');
const { ensureCerts } = require('./lib/tls');

const PORT = config.NGINX_PORT + 35;
const ORIGIN = `https://localhost:${PORT}`;

// the base64 SHA-256 of the certificate's SubjectPublicKeyInfo
function spkiHash(certFile) {
  const der = new crypto.X509Certificate(fs.readFileSync(certFile)).publicKey
    .export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

describe('response_mode form_post in chromium over https', moduleTestOptions(), () => {
  let env;
  let op;
  let nginx;
  let b;
  let certs;

  before(async () => {
    env = await createEnv('21-form-post');
    certs = ensureCerts();
    // the access log of this run only
    fs.rmSync(`${env.dir}/21-form-post-access.log`, { force: true });
    op = await env.op({ redirectUris: [`${ORIGIN}/oauth2/callback`] });
    const backend = await env.backend();
    nginx = await env.nginx({
      port: PORT,
      logLevel: 'debug',
      http: `
log_format fp '$request_method $uri site=$http_sec_fetch_site st=$fp_state '
              '"$request" body="$request_body" status=$status';
map $http_cookie $fp_state {
    ~oauth2_op_st_  sent;
    default         none;
}
oauth2_provider op {
    issuer         ${op.issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  ${config.OP_CLIENT.secret};
    scope          "openid email profile";
    redirect_uri   /oauth2/callback;
    response_mode  form_post;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT} ssl;
    server_name localhost;
    client_body_timeout 2s;
    ssl_certificate     ${certs.server.cert};
    ssl_certificate_key ${certs.server.key};
    access_log ${env.dir}/21-form-post-access.log fp;
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
    b = await browser.launchBrowser({
      args: [`--ignore-certificate-errors-spki-list=${spkiHash(certs.server.cert)}`],
    });
  });
  after(async () => {
    try { if (b) await b.close(); } finally { if (env) await env.stop(); }
  });

  test('chromium logs in: the OP POSTs the code cross-site, the SameSite=None state cookie comes along', { timeout: 60000 }, async () => {
    const { page } = b;
    const seen = [];
    const toOp = [];
    page.on('request', (req) => {
      if (req.url().startsWith(ORIGIN)) seen.push(req);
      if (req.url().startsWith(op.issuer)) toOp.push(req.url());
    });
    let stateSetCookie = null;
    page.on('response', async (res) => {
      if (res.url().startsWith(`${ORIGIN}/app`) && res.status() === 302) {
        stateSetCookie = await res.headerValue('set-cookie');
      }
    });

    await page.goto(`${ORIGIN}/app?tab=1`);
    assert.ok(page.url().startsWith(`${op.issuer}/`), `redirected to the OP, at ${page.url()}`);
    assert.match(toOp[0], /[?&]response_mode=form_post(&|$)/, `the authorization request asks for form_post: ${toOp[0]}`);
    assert.ok(stateSetCookie, 'the login set a state cookie');
    assert.match(stateSetCookie, /^oauth2_op_st_[^=]{8}=[^;]+;.*; HttpOnly; SameSite=None; Secure/,
      `the state cookie is SameSite=None; Secure: ${stateSetCookie}`);

    await browser.opLoginInBrowser(page, { login: 'form-user', opOrigin: op.issuer });
    assert.equal(page.url(), `${ORIGIN}/app?tab=1`, 'back on the original page');
    assert.equal((await page.textContent('#hello')).trim(), 'hello form-user@example.com');

    const callbacks = seen.filter((r) => new URL(r.url()).pathname === '/oauth2/callback');
    assert.equal(callbacks.length, 1, `one callback: ${callbacks.map((r) => r.url())}`);
    const cb = callbacks[0];
    assert.equal(cb.method(), 'POST', 'the callback is a POST');
    assert.equal(new URL(cb.url()).search, '', 'nothing in the callback URL');
    const headers = await cb.allHeaders();
    assert.match(headers['content-type'], /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(cb.postData());
    const secrets = ['code', 'state', 'iss'].map((k) => form.get(k));
    for (const [i, k] of ['code', 'state'].entries()) assert.ok(secrets[i] && secrets[i].length >= 16, `the form has a ${k}`);
    assert.equal(secrets[2], op.issuer, 'the OP names itself (RFC 9207)');

    // the state cookie came with the cross-site POST (a SameSite=Lax one would not)
    const access = fs.readFileSync(`${env.dir}/21-form-post-access.log`, 'utf8');
    assert.match(access, /^POST \/oauth2\/callback site=cross-site st=sent /m, `access log:\n${access}`);

    // no secret of the form in any log, whatever the operator logs; the
    // state is only in nginx's own debug dump of the login redirect's
    // Location header (the authorization URL, which the browser shows)
    const logs = { access, error: nginx.errorLog() };
    assert.match(logs.error, /\[debug\]/, 'the error log is at debug level');
    for (const [name, text] of Object.entries(logs)) {
      for (const v of [secrets[0], encodeURIComponent(secrets[0])]) {
        assert.ok(!text.includes(v), `the code is not in the ${name} log`);
      }
      const lines = text.split('\n').filter((l) => l.includes(secrets[1]));
      assert.ok(lines.every((l) => /^Location: http:\/\/127\.0\.0\.1:\d+\/auth\?/.test(l)),
        `the state is in the ${name} log only as the authorization URL:\n${lines.join('\n')}`);
    }
    assert.ok(!access.includes(encodeURIComponent(op.issuer)), 'the form (its encoded iss) is not in the access log');
    assert.match(access, /^POST \/oauth2\/callback .*body="-?" status=302$/m, '$request_body is empty for the callback');

    // the session works in the browser; the state cookie is gone
    await page.reload();
    assert.equal((await page.textContent('#hello')).trim(), 'hello form-user@example.com');
    const names = (await b.context.cookies(ORIGIN)).map((c) => c.name);
    assert.ok(names.includes('oauth2_op'), `a session cookie: ${names}`);
    assert.ok(!names.some((n) => n.startsWith('oauth2_op_st_')), `no state cookie left: ${names}`);
  });

  // one TLS connection to nginx, the raw request written by the test
  function connect() {
    return new Promise((resolve, reject) => {
      const sock = tls.connect({
        host: '127.0.0.1', port: PORT, servername: 'localhost', ca: fs.readFileSync(certs.ca),
      }, () => resolve(sock));
      sock.on('error', reject);
    });
  }
  function answer(sock) {
    return new Promise((resolve) => {
      let data = '';
      sock.on('data', (d) => { data += d; });
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
    });
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const FORM = `code=${'c'.repeat(40)}&state=${'s'.repeat(43)}`;
  const head = (len) => 'POST /oauth2/callback HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n'
    + `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${len}\r\n\r\n`;

  test('a form sent slowly does not hold the worker; one that stops meets client_body_timeout; a client that leaves is let go', { timeout: 30000 }, async (t) => {
    // slow: the form a few bytes every 200 ms, while other requests are answered at once
    const slow = await connect();
    const slowAnswer = answer(slow);
    slow.write(head(FORM.length));
    const started = Date.now();
    const other = (async () => {
      const times = [];
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const s = await connect();
        const a = answer(s);
        s.write('GET /app HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n');
        assert.match(await a, /^HTTP\/1\.1 401 /, 'the protected page answers 401 to a script');
        times.push(Date.now() - t0);
        await sleep(150);
      }
      return times;
    })();
    for (let i = 0; i < FORM.length; i += 10) {
      slow.write(FORM.slice(i, i + 10));
      await sleep(200);
    }
    const times = await other;
    const res = await slowAnswer;
    assert.ok(Date.now() - started >= 1000, 'the form took a while');
    assert.ok(Math.max(...times) < 500, `other requests answered while the form was read: ${times} ms`);
    t.diagnostic(`form sent over ${Date.now() - started} ms; other requests meanwhile: ${times.join(', ')} ms`);
    assert.match(res, /^HTTP\/1\.1 401 /, 'the slow form was read whole and its state checked (no cookie: 401)');
    assert.match(res, /not started in this browser/);

    // stopped: half a form, then nothing: nginx's client_body_timeout (2 s) ends it
    const stuck = await connect();
    const stuckAnswer = answer(stuck);
    stuck.write(head(FORM.length) + FORM.slice(0, 10));
    const t1 = Date.now();
    const r2 = await stuckAnswer;
    assert.ok(Date.now() - t1 >= 1500, 'nginx waited for the body');
    assert.ok(!/^HTTP\/1\.1 (200|302|500) /.test(r2), `no login and no 500 for a form that never came: ${r2.slice(0, 40)}`);

    // gone: half a form, then the connection closed
    const gone = await connect();
    gone.write(head(FORM.length) + FORM.slice(0, 10));
    await sleep(100);
    gone.destroy();
    await sleep(300);

    const after = await connect();
    const a3 = answer(after);
    after.write('GET /app HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n');
    assert.match(await a3, /^HTTP\/1\.1 401 /, 'nginx still answers');
    const log = nginx.errorLog();
    const access = fs.readFileSync(`${env.dir}/21-form-post-access.log`, 'utf8');
    assert.match(access, /^POST \/oauth2\/callback .* status=408$/m, 'the stopped form timed out (408)');
    assert.match(log, /client prematurely closed connection/, 'the client that left was noticed');
    assert.doesNotMatch(log, /\[alert\]|\[crit\]|\[emerg\]|exited on signal/, 'no alert, no crash');
  });
});
