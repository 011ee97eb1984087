'use strict';

// Logout against the real OP: RP-Initiated Logout through the OP's
// end_session_endpoint, after which the session cookie is gone and the
// protected page asks for a login again; a cross-site logout is refused.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 3;
const ORIGIN = `http://127.0.0.1:${PORT}`;

describe('logout with the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let disco;

  before(async () => {
    env = await createEnv('15-logout');
    op = await env.op({
      redirectUris: [`${ORIGIN}/oauth2/callback`],
      postLogoutRedirectUris: [`${ORIGIN}/bye.html`],
    });
    disco = await op.discovery();
    const ngx = await env.nginx({
      port: PORT,
      http: `
oauth2_provider op {
    issuer           ${op.issuer};
    client_id        ${config.OP_CLIENT.id};
    client_secret    ${config.OP_CLIENT.secret};
    scope            "openid email";
    logout_uri       /logout;
    post_logout_uri  /bye.html;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    location / {
        oauth2 op;
    }
    location = /bye.html {
        oauth2 off;
    }
}`,
    });
    fs.writeFileSync(path.join(ngx.prefix, 'html', 'bye.html'), 'bye\n');
    fs.writeFileSync(path.join(ngx.prefix, 'html', 'index.html'), 'secret page\n');
  });
  after(() => env && env.stop());

  test('RP-initiated logout ends the session here and at the OP', async () => {
    const client = new HttpClient();
    const login = await followLogin(client, `${ORIGIN}/index.html`, { login: 'leaver' });
    assert.equal(login.response.status, 200);
    assert.match(login.response.body, /secret page/);
    assert.ok(client.jar.get('oauth2_op', '127.0.0.1'), 'a session cookie after login');

    const first = await client.navigate(`${ORIGIN}/logout`, {
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(first.status, 303);
    const loc = new URL(first.location);
    assert.equal(`${loc.origin}${loc.pathname}`, disco.end_session_endpoint);
    assert.equal(loc.searchParams.get('client_id'), config.OP_CLIENT.id);
    assert.equal(loc.searchParams.get('post_logout_redirect_uri'), `${ORIGIN}/bye.html`);
    assert.match(loc.searchParams.get('id_token_hint') || '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const deleted = first.cookie('oauth2_op');
    assert.ok(deleted && deleted.value === '', 'the session cookie is deleted');

    // through the OP's confirmation back to post_logout_uri
    const rest = await followLogin(client, first.location);
    assert.equal(rest.response.status, 200);
    assert.equal(new URL(rest.response.url).pathname, '/bye.html');

    const again = await client.navigate(`${ORIGIN}/index.html`);
    assert.equal(again.status, 302, 'logged out: a page load goes to the OP again');
    assert.match(again.location, new RegExp(`^${disco.authorization_endpoint}`));
  });

  test('a cross-site logout request leaves the session alone', async () => {
    const client = new HttpClient();
    const login = await followLogin(client, `${ORIGIN}/index.html`, { login: 'stayer' });
    assert.equal(login.response.status, 200);

    const forced = await client.navigate(`${ORIGIN}/logout`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forced.status, 200);
    assert.match(forced.body, /<form method="post">/);
    assert.equal(forced.setCookies.length, 0);

    const page = await client.navigate(`${ORIGIN}/index.html`);
    assert.equal(page.status, 200, 'still logged in');
  });
});
