'use strict';

// End-to-end login through nginx + ngx_http_oauth2_module against the real OP.
//
// Written against the module's intended configuration; it FAILS (clearly: the
// .so is missing, or nginx -t rejects the directives) until the module lands.
// E2E_ALLOW_MISSING_MODULE=1 turns "module not built" into a skip.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT; // 1986 by default
const ORIGIN = `http://127.0.0.1:${PORT}`;
const CALLBACK = `${ORIGIN}/oauth2/callback`;

describe('login through nginx with the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let disco;
  let backend;
  let ngx;

  before(async () => {
    env = await createEnv('10-login');
    op = await env.op({
      redirectUris: [CALLBACK],
      postLogoutRedirectUris: [`${ORIGIN}/`, `${ORIGIN}/oauth2/logged-out`],
    });
    disco = await op.discovery();
    ({ backend, nginx: ngx } = await env.opLogin({
      port: PORT,
      op,
      location: 'add_header X-Email $oauth2_claim_email;',
      server: `location /public {
        oauth2 off;
        return 200 "public\\n";
    }`,
    }));
  });
  after(() => env && env.stop());

  /** assert that `res` is the module's redirect to the OP and return the query */
  function assertLoginRedirect(res) {
    assert.equal(res.status, 302, `expected a redirect to the OP, got ${res.status}: ${res.body.slice(0, 500)}`);
    const loc = new URL(res.location);
    assert.equal(`${loc.origin}${loc.pathname}`, disco.authorization_endpoint);
    const q = loc.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), config.OP_CLIENT.id);
    assert.equal(q.get('redirect_uri'), CALLBACK);
    assert.deepEqual(new Set(q.get('scope').split(' ')), new Set(['openid', 'email', 'profile']));
    assert.match(q.get('state') || '', /^[A-Za-z0-9_-]{16,}$/, 'state: unguessable, URL-safe');
    assert.match(q.get('nonce') || '', /^[A-Za-z0-9_-]{16,}$/, 'nonce: unguessable, URL-safe');
    assert.match(q.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/, 'code_challenge: base64url SHA-256');
    assert.equal(q.get('code_challenge_method'), 'S256');
    return q;
  }

  test('unauthenticated navigation -> 302 to the OP with state, nonce, PKCE and a state cookie', async () => {
    backend.clear();
    const client = new HttpClient();
    const res = await client.navigate(`${ORIGIN}/private/page?x=1`);
    const q = assertLoginRedirect(res);

    assert.ok(res.setCookies.length >= 1, 'a state cookie is set');
    for (const c of res.setCookies) {
      assert.equal(c.attrs.httponly, true, `HttpOnly on ${c.raw}`);
      assert.equal(String(c.attrs.samesite).toLowerCase(), 'lax', `SameSite=Lax on ${c.raw}`);
      assert.equal(c.rejected, undefined, `a browser would refuse ${c.raw}: ${c.rejected}`);
    }
    assert.equal(backend.requests.length, 0, 'nothing reached the backend');

    // fresh values on every login attempt
    const q2 = assertLoginRedirect(await new HttpClient().navigate(`${ORIGIN}/private/page?x=1`));
    for (const p of ['state', 'nonce', 'code_challenge']) assert.notEqual(q2.get(p), q.get(p), `${p} is random`);
  });

  test('a location with `oauth2 off` is served without login', async () => {
    const client = new HttpClient();
    const res = await client.navigate(`${ORIGIN}/public`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'public\n');
    assert.equal(res.setCookies.length, 0);
  });

  test('full login: OP dev login -> callback -> original URL with a session; the backend gets X-Email', async () => {
    backend.clear();
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/private/page?x=1`, { login: 'alice' });
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 1000)}`;
    assert.deepEqual(flow.pages, ['login'], `the OP login form was filled once${info}`);

    const cb = flow.hops.find((h) => h.url.startsWith(`${CALLBACK}?`));
    assert.ok(cb, `the OP redirected back to the callback${info}`);
    const cbq = new URL(cb.url).searchParams;
    assert.ok(cbq.get('code') && cbq.get('state'), 'callback carries code and state');
    assert.equal(cb.status, 302, `callback answers with a redirect${info}`);
    assert.equal(cb.location, `${ORIGIN}/private/page?x=1`, 'back to the original URL');
    assert.ok(cb.setCookies.some((c) => c.value && !c.rejected), `the callback sets a session cookie${info}`);
    for (const c of cb.setCookies.filter((x) => x.value)) {
      assert.equal(c.attrs.httponly, true, `HttpOnly on ${c.raw}`);
    }

    const last = flow.response;
    assert.equal(last.status, 200, `final response${info}`);
    assert.equal(last.url, `${ORIGIN}/private/page?x=1`);
    assert.match(last.body, /hello alice@example\.com/);
    assert.equal(last.headers['x-email'], 'alice@example.com', 'add_header X-Email $oauth2_claim_email');
    const seen = backend.last();
    assert.equal(seen.url, '/private/page?x=1');
    assert.equal(seen.headers['x-email'], 'alice@example.com');

    // the session is used as is: no second trip to the OP
    backend.clear();
    const again = await client.navigate(`${ORIGIN}/other`);
    assert.equal(again.status, 200, `with the session cookie: ${again.status} ${again.location || ''}`);
    assert.equal(backend.last().headers['x-email'], 'alice@example.com');
    // and a fetch() with the session is served too
    const api = await client.fetchLike(`${ORIGIN}/api/data`);
    assert.equal(api.status, 200);

    // another browser is not logged in, and another user gets their own claims
    const other = new HttpClient();
    const flowBob = await followLogin(other, `${ORIGIN}/`, { login: 'bob' });
    assert.equal(flowBob.response.status, 200, describeHops(flowBob.hops));
    assert.equal(backend.last().headers['x-email'], 'bob@example.com');
  });

  test('fetch-style request without a session -> 401 with WWW-Authenticate and no cookie', async () => {
    backend.clear();
    const client = new HttpClient();
    const res = await client.fetchLike(`${ORIGIN}/api/data`);
    assert.equal(res.status, 401, `got ${res.status} ${res.location || ''}`);
    assert.ok(res.headers['www-authenticate'], 'WWW-Authenticate present');
    assert.equal(res.setCookies.length, 0, 'no state cookie for a request that cannot log in');
    assert.equal(backend.requests.length, 0);
  });

  test('a forged callback (unknown state, no state cookie) creates no session', async () => {
    backend.clear();
    const client = new HttpClient();
    const res = await client.navigate(`${CALLBACK}?code=forged-code&state=forged-state&iss=${encodeURIComponent(op.issuer)}`);
    assert.ok(res.status !== 200 || !/hello/.test(res.body), 'not served as authenticated');
    assert.equal(backend.requests.length, 0, 'the backend was not reached');
    const after = await client.navigate(`${ORIGIN}/private`);
    assertLoginRedirect(after);
  });

  test('a tampered session cookie is not accepted', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/tamper`, { login: 'mallory' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const cb = flow.hops.find((h) => h.url.startsWith(`${CALLBACK}?`));
    const sessionNames = cb.setCookies.filter((c) => c.value).map((c) => c.name);
    assert.ok(sessionNames.length);
    for (const name of sessionNames) {
      const c = client.jar.get(name);
      // flip one character in the middle of the sealed value
      const i = Math.floor(c.value.length / 2);
      const flipped = c.value[i] === 'A' ? 'B' : 'A';
      c.value = c.value.slice(0, i) + flipped + c.value.slice(i + 1);
    }
    backend.clear();
    const res = await client.navigate(`${ORIGIN}/tamper`);
    assertLoginRedirect(res);
    assert.equal(backend.requests.length, 0);
  });
});
