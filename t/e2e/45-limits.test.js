'use strict';

// A session must never become a cookie that nginx itself refuses.
//
// An HTTP/1.1 browser sends all its cookies in one Cookie line, and nginx
// answers "400 Request Header Or Cookie Too Large" to a line longer than
// a large_client_header_buffers buffer (8 KiB by default): a session
// cookie that large would break every page of the host until it expires.
// The fake provider's idt-big-20000 scenario signs ID tokens with a
// 20,000-byte claim "big".
//
// - Keeping the ID token ($oauth2_id_token is used): it is dropped with a
//   warning, the login completes, the cookie fits, the next request works.
// - Keeping the claim itself ($oauth2_claim_big): nothing optional is
//   left to drop, so the login is refused with a 502 page, never a 500.
//
// Ports: nginx on E2E_NGINX_PORT+24 (2010 by default).

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 24;
const ORIGIN = `http://127.0.0.1:${PORT}`;

// what the module may use of the default 8 KiB buffer
const ROOM = 8192 - 1024;

function grep(nginx, re) {
  return nginx.errorLog().split('\n').filter((l) => re.test(l));
}

function cookieBytes(client) {
  return client.jar.cookies
    .filter((c) => c.name.startsWith('oauth2_'))
    .reduce((n, c) => n + c.name.length + 1 + c.value.length + 2, 0);
}

function start(name, location) {
  let env;
  const ctx = {};

  before(async () => {
    env = await createEnv(name);
    Object.assign(ctx, await env.fakeLogin({
      port: PORT, scenario: 'idt-big-20000', provider: 'big', location,
    }));
  });
  after(() => env && env.stop());

  return ctx;
}

describe('a 20 KB ID token that the session would keep', moduleTestOptions(), () => {
  const ctx = start('45-limits-token', 'proxy_set_header X-Id-Token $oauth2_id_token;');

  test('is dropped with a warning; the cookie fits and the next page loads', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`);
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}`;

    assert.equal(flow.response.status, 200, info);
    assert.ok(cookieBytes(client) <= ROOM,
      `session cookies of ${cookieBytes(client)} bytes, more than ${ROOM}`);

    const again = await client.navigate(`${ORIGIN}/again`);
    assert.equal(again.status, 200, again.body.slice(0, 300));
    assert.equal(ctx.backend.last().headers['x-id-token'], undefined,
      'the ID token was not kept');

    assert.equal(grep(ctx.nginx, /with the ID token, which is not kept/).length, 1,
      ctx.nginx.errorLog());
    assert.deepEqual(grep(ctx.nginx, /\[(alert|crit|emerg)\]/), []);
  });
});

describe('a 20 KB claim that the session must keep', moduleTestOptions(), () => {
  const ctx = start('45-limits-claim', 'proxy_set_header X-Big $oauth2_claim_big;');

  test('refuses the login with a 502 page and one error line, no cookie set', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`);
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}`;

    assert.equal(flow.response.status, 502, info);
    assert.match(flow.response.body, /too large for a session/, info);
    assert.equal(client.jar.cookies.filter((c) => c.name === 'oauth2_big').length, 0,
      'no session cookie');
    assert.equal(grep(ctx.nginx, /\[error\].*the session does not fit in \d+ bytes of cookies \(/).length, 1,
      ctx.nginx.errorLog());
    assert.deepEqual(grep(ctx.nginx, /\[(alert|crit|emerg)\]/), []);
  });
});
