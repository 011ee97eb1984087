'use strict';

// A forwarded access token is never expired (issue #12).  The real OP
// issues 5-second access tokens and 1-hour ID tokens; the configuration
// forwards $oauth2_access_token.
//
// - With a refresh token (nginx with 2 workers, reuseport): 30 parallel
//   requests after the access token expired cause one refresh grant, and
//   every request the upstream receives carries an access token that the
//   OP's introspection endpoint calls active at that moment (the backend
//   asks before it answers).
// - Without one ("refresh off"): after the access token expired a page load
//   is sent to log in again and an API call gets 401; the upstream receives
//   nothing.
//
// nginx on E2E_NGINX_PORT+31 (2017 by default), the real OP on OP_PORT.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { rawGet, troubleLines } = require('./lib/matrix');
const seal = require('../tools/seal');

const PORT = config.NGINX_PORT + 31;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const BURST = 30;

const now = () => Date.now() / 1000;

describe('the access token forwarded is refreshed before it expires', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let introspection;
  // what the backend received: { path, token, active }
  const seen = [];

  async function introspect(token) {
    const r = await fetch(introspection, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${config.OP_CLIENT.id}:${config.OP_CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });
    assert.equal(r.status, 200, 'introspection answers');
    return (await r.json()).active === true;
  }

  before(async () => {
    env = await createEnv('51-access-token');
    op = await env.op({
      redirectUris: [`${ORIGIN}/cb/op`, `${ORIGIN}/cb/once`],
      accessTtl: 5,
      idTtl: 3600,
    });
    introspection = (await op.discovery()).introspection_endpoint;
    await env.backend({
      handler: async (req, res) => {
        const token = (req.headers.authorization || '').replace(/^Bearer /, '');
        const active = token ? await introspect(token) : false;
        seen.push({ path: req.url, token, active });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('backend\n');
      },
    });
    const provider = (name, extra) => op.providerConf(name,
      `scope "openid email offline_access"; refresh_margin 1s; ${extra}`);
    const location = (name) => `
    location /${name}/ {
        oauth2 ${name};
        proxy_set_header Authorization "Bearer $oauth2_access_token";
        proxy_pass http://127.0.0.1:${config.BACKEND_PORT};
    }`;
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 2,
      env: { OP_SECRET: config.OP_CLIENT.secret },
      http: `${provider('op', '')}
${provider('once', 'refresh off;')}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT} reuseport;${location('op')}${location('once')}
}`,
    });
  });

  after(() => env && env.stop());

  const tokenPosts = () => (op.proc.stdout().match(/^op: POST \/token -> 200/gm) || []).length;

  /** logs in through `path`; the client and the session it got */
  async function login(path, user) {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}${path}`, { login: user });
    assert.equal(flow.response.status, 200,
      `${describeHops(flow.hops)}\n${ngx.errorLog().slice(-2000)}`);
    const name = `oauth2_${path.split('/')[1]}`;
    const session = seal.openSession([config.COOKIE_SECRET], name, client.jar.header(`${ORIGIN}/`));
    assert.ok(session && session.access_token, 'the session keeps the access token');
    return { client, session };
  }

  test('30 parallel requests after the access token expired: one refresh grant, only active tokens upstream', async () => {
    const { client, session } = await login('/op/page', 'alice');
    assert.ok(session.refresh_token, 'a refresh token is kept');
    assert.ok(session.expires - session.access_expires > 3000,
      `the ID token (${session.expires}) outlives the access token (${session.access_expires}) by an hour`);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].active, true, 'the first request carries an active token');
    const posts = tokenPosts();

    await sleep(Math.max(0, (session.access_expires - now()) * 1000) + 500);
    assert.equal(await introspect(session.access_token), false, 'the first access token has expired');

    seen.length = 0;
    const cookie = client.jar.header(`${ORIGIN}/`);
    const res = await Promise.all(Array.from({ length: BURST }, (_, i) => rawGet(PORT, `/op/api/${i}`, {
      cookie, accept: 'application/json',
    }, { timeoutMs: 20000 })));

    assert.deepEqual(res.map((r) => r.status), Array(BURST).fill(200),
      ngx.errorLog().slice(-3000));
    assert.equal(tokenPosts() - posts, 1, 'one refresh grant for the burst');
    assert.equal(seen.length, BURST, 'every request reached the upstream');
    for (const s of seen) {
      assert.notEqual(s.token, session.access_token, `${s.path}: not the expired access token`);
      assert.equal(s.active, true, `${s.path}: the OP calls its access token active`);
    }
    assert.equal(new Set(seen.map((s) => s.token)).size, 1, 'all with the one refreshed token');
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });

  test('without a refresh token: log in again, or 401, once the access token expired', async () => {
    const { client, session } = await login('/once/page', 'bob');
    assert.ok(!session.refresh_token, '"refresh off": no refresh token kept');

    await sleep(Math.max(0, (session.access_expires - now()) * 1000) + 500);

    seen.length = 0;
    const page = await client.navigate(`${ORIGIN}/once/page`);
    assert.equal(page.status, 302, `a page load logs in again: ${page.status}`);
    assert.ok(page.location.startsWith(op.issuer), `to the OP: ${page.location}`);
    const api = await client.fetchLike(`${ORIGIN}/once/api`);
    assert.equal(api.status, 401, 'an API call gets 401');
    assert.equal(seen.length, 0, 'the upstream received nothing');
  });
});
