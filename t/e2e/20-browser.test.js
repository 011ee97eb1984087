'use strict';

// The real-browser login: Debian's chromium (driven by playwright-core) opens
// a page protected by the module, signs in on the OP's dev login page and
// lands on the protected page, which shows the email claim.
// Screenshot: t/servroot-e2e/browser.png.
//
// FAILS until the module lands (E2E_ALLOW_MISSING_MODULE=1: skipped).
//
// The protected page is served by the test backend through proxy_pass (not
// by `return`): `return` runs in nginx's rewrite phase, before the access
// phase, so it would answer without any authentication if the module checks
// in the access phase.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, moduleTestOptions, browser,
} = require('./lib');

const PORT = config.NGINX_PORT + 1; // 1987 by default
const ORIGIN = `http://127.0.0.1:${PORT}`;

describe('real browser login', moduleTestOptions(), () => {
  let env;
  let op;
  let backend;
  let b;

  before(async () => {
    env = await createEnv('20-browser');
    op = await env.op({ redirectUris: [`${ORIGIN}/oauth2/callback`] });
    backend = await env.backend();
    await env.nginx({
      port: PORT,
      http: `
oauth2_provider op {
    issuer         ${op.issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  ${config.OP_CLIENT.secret};
    scope          "openid email profile";
    redirect_uri   /oauth2/callback;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
    b = await browser.launchBrowser();
  });
  after(async () => {
    try { if (b) await b.close(); } finally { if (env) await env.stop(); }
  });

  test('chromium: protected page -> OP login form -> back on the page, which shows the email', async () => {
    const { page } = b;
    await page.goto(`${ORIGIN}/app?tab=1`);
    assert.ok(page.url().startsWith(`${op.issuer}/`), `redirected to the OP, at ${page.url()}`);
    assert.equal(await page.title(), 'Sign-in');

    await browser.opLoginInBrowser(page, { login: 'browser-user', opOrigin: op.issuer });
    assert.equal(page.url(), `${ORIGIN}/app?tab=1`, 'back on the original page');
    assert.equal((await page.textContent('#hello')).trim(), 'hello browser-user@example.com');
    await page.screenshot({ path: path.join(config.SERVROOT, 'browser.png') });

    // the session holds in the real browser: reload without another trip to the OP
    await page.reload();
    assert.equal(page.url(), `${ORIGIN}/app?tab=1`);
    assert.equal((await page.textContent('#hello')).trim(), 'hello browser-user@example.com');

    // the module's cookies for nginx's origin are HttpOnly (invisible to scripts)
    const cookies = await b.context.cookies(ORIGIN);
    const visible = await page.evaluate(() => document.cookie);
    const moduleCookies = cookies.filter((c) => !c.name.startsWith('_session') && !c.name.startsWith('_interaction'));
    assert.ok(moduleCookies.length >= 1, `a session cookie exists: ${JSON.stringify(cookies.map((c) => c.name))}`);
    for (const c of moduleCookies) {
      assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
      assert.ok(!visible.includes(`${c.name}=`), `${c.name} not in document.cookie`);
    }
  });
});
