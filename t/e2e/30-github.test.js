'use strict';

// Plain OAuth 2.0 login (no OpenID Connect: no discovery, no ID token)
// against the fake provider's GitHub look-alike, with `preset github`.
//
// FAILS until the module lands (E2E_ALLOW_MISSING_MODULE=1: skipped).
// Assumes the userinfo JSON members become claims ($oauth2_claim_login).

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 2; // 1988 by default
const ORIGIN = `http://127.0.0.1:${PORT}`;

describe('plain OAuth 2.0 login (preset github) against the fake provider', moduleTestOptions(), () => {
  let env;
  let fake;
  let backend;
  const gh = () => `${fake.base}/github`;

  before(async () => {
    env = await createEnv('30-github');
    fake = await env.fake();
    backend = await env.backend();
    await env.nginx({
      port: PORT,
      http: `
oauth2_provider gh {
    preset                 github;
    authorization_endpoint ${gh()}/login/oauth/authorize;
    token_endpoint         ${gh()}/login/oauth/access_token;
    userinfo_endpoint      ${gh()}/api/user;
    client_id              ${config.FAKE_CLIENT.id};
    client_secret          ${config.FAKE_CLIENT.secret};
    redirect_uri           /oauth2/callback;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    location / {
        oauth2 gh;
        proxy_set_header X-Login $oauth2_claim_login;
        proxy_set_header X-Sub   $oauth2_claim_sub;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
  });
  after(() => env && env.stop());

  test('navigation -> 302 to the GitHub-style authorize endpoint (no OIDC parameters needed)', async () => {
    const res = await new HttpClient().navigate(`${ORIGIN}/repo`);
    assert.equal(res.status, 302, res.body.slice(0, 300));
    const loc = new URL(res.location);
    assert.equal(`${loc.origin}${loc.pathname}`, `${gh()}/login/oauth/authorize`);
    assert.equal(loc.searchParams.get('client_id'), config.FAKE_CLIENT.id);
    assert.equal(loc.searchParams.get('redirect_uri'), `${ORIGIN}/oauth2/callback`);
    assert.match(loc.searchParams.get('state') || '', /^[A-Za-z0-9_-]{16,}$/);
    assert.ok(!(loc.searchParams.get('scope') || '').split(/[ ,]/).includes('openid'), 'GitHub is not asked for openid');
  });

  test('full login: code -> form-encoded token -> /api/user with User-Agent -> backend sees the login', async () => {
    await fake.reset();
    backend.clear();
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/repo?tab=code`);
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 800)}`;
    assert.equal(flow.response.status, 200, info);
    assert.equal(flow.response.url, `${ORIGIN}/repo?tab=code`);
    assert.equal(backend.last().headers['x-login'], 'alice', 'claims from the userinfo (GitHub /user) response');

    const stats = await fake.stats();
    assert.equal(stats['github/login/oauth/access_token'], 1, JSON.stringify(stats));
    assert.ok(stats['github/api/user'] >= 1, JSON.stringify(stats));
    assert.equal(stats['github/.well-known/openid-configuration'], undefined, 'no discovery for plain OAuth 2.0');

    const [tokReq] = await fake.requests('github/login/oauth/access_token');
    assert.equal(tokReq.method, 'POST');
    const form = new URLSearchParams(tokReq.body);
    assert.ok(form.get('code'));
    assert.equal(form.get('redirect_uri'), `${ORIGIN}/oauth2/callback`);
    const viaPost = form.get('client_secret') === config.FAKE_CLIENT.secret;
    const viaBasic = /^Basic /i.test(tokReq.headers.authorization || '');
    assert.ok(viaPost || viaBasic, 'the client authenticated');
    const [userReq] = await fake.requests('github/api/user');
    assert.ok(userReq.headers['user-agent'], 'GitHub requires a User-Agent');
    assert.match(userReq.headers.authorization || '', /^(Bearer|token) gho\./i);

    // the session holds
    backend.clear();
    const again = await client.navigate(`${ORIGIN}/repo`);
    assert.equal(again.status, 200);
    assert.equal(backend.last().headers['x-login'], 'alice');
  });
});
