'use strict';

// Sanity of the real OP (t/op/server.js) alone: no nginx involved.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, pkcePair, randomToken, verifyJwt, decodeJwt,
} = require('./lib');

// a redirect_uri nobody listens on: the login only has to produce the Location
const REDIRECT_URI = 'http://127.0.0.1:1/oauth2/callback';

describe('real OP (oidc-provider)', () => {
  let env;
  let op;
  let disco;
  let jwks;

  before(async () => {
    env = await createEnv('00-op');
    op = await env.op({ redirectUris: [REDIRECT_URI], accessTtl: 120, idTtl: 240 });
    disco = await op.discovery();
    jwks = await (await fetch(disco.jwks_uri)).json();
  });
  after(() => env && env.stop());

  function authorizeUrl(params = {}) {
    const u = new URL(disco.authorization_endpoint);
    const p = {
      response_type: 'code',
      client_id: config.OP_CLIENT.id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile',
    };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) p[k] = v;
    for (const [k, v] of Object.entries(p)) u.searchParams.set(k, v);
    return u.toString();
  }

  async function tokenRequest(form, client = config.OP_CLIENT, method = 'basic') {
    const http = new HttpClient();
    const headers = {};
    const body = { ...form };
    if (method === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
    } else {
      body.client_id = client.id;
      body.client_secret = client.secret;
    }
    return http.post(disco.token_endpoint, { form: body, headers, cookies: false });
  }

  /** run a whole dev login and return { code, state, iss, pkce, nonce, flow } */
  async function loginForCode({ login = 'alice', clientId = config.OP_CLIENT.id, scope } = {}) {
    const pkce = pkcePair();
    const state = randomToken(16);
    const nonce = randomToken(16);
    const client = new HttpClient();
    const flow = await followLogin(client, authorizeUrl({
      client_id: clientId,
      state,
      nonce,
      scope,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    }), { login, stopAt: (u) => u.startsWith(REDIRECT_URI) });
    assert.ok(flow.stoppedAt, `login did not reach the redirect_uri:\n${flow.hops.map((h) => `${h.status} ${h.url}`).join('\n')}\n${flow.response.body.slice(0, 2000)}`);
    const back = new URL(flow.stoppedAt);
    return {
      code: back.searchParams.get('code'),
      state: back.searchParams.get('state'),
      iss: back.searchParams.get('iss'),
      error: back.searchParams.get('error'),
      sentState: state,
      pkce,
      nonce,
      flow,
    };
  }

  test('discovery describes the provider the module relies on', () => {
    assert.equal(disco.issuer, op.issuer);
    assert.equal(disco.issuer, `http://127.0.0.1:${config.OP_PORT}`);
    for (const ep of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
      'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      assert.ok(disco[ep] && disco[ep].startsWith(`${op.issuer}/`), `${ep}: ${disco[ep]}`);
    }
    assert.deepEqual(disco.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(disco.response_types_supported, ['code']);
    assert.ok(disco.grant_types_supported.includes('refresh_token'));
    assert.ok(disco.scopes_supported.includes('groups'));
    assert.ok(disco.claims_supported.includes('email'));
    assert.equal(disco.backchannel_logout_supported, true);
    assert.equal(disco.authorization_response_iss_parameter_supported, true);
  });

  test('jwks has public RS256 and ES256 keys only', () => {
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 2);
    const algs = jwks.keys.map((k) => k.alg).sort();
    assert.deepEqual(algs, ['ES256', 'RS256']);
    for (const k of jwks.keys) {
      assert.ok(k.kid, 'every key has a kid');
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `private ${priv} leaked`);
    }
  });

  test('authorization without PKCE is refused (PKCE required)', async () => {
    const client = new HttpClient();
    const res = await client.navigate(authorizeUrl({ state: 'st', nonce: 'n' }));
    assert.equal(res.status, 303);
    const back = new URL(res.location);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.match(back.searchParams.get('error_description'), /PKCE|code_challenge/);
    assert.equal(back.searchParams.get('state'), 'st');
  });

  test('a dev login through plain HTTP gets a code at the redirect_uri', async () => {
    const r = await loginForCode({ login: 'alice' });
    assert.equal(r.error, null);
    assert.ok(r.code && r.code.length > 20, `code: ${r.code}`);
    assert.equal(r.state, r.sentState);
    assert.equal(r.iss, op.issuer);
    assert.deepEqual(r.flow.pages, ['login'], 'consent is automatic by default');
  });

  test('the code exchanges (client_secret_basic + PKCE) for verifiable tokens; refresh rotates', async () => {
    const r = await loginForCode({ login: 'admin', scope: 'openid email profile' });
    const res = await tokenRequest({
      grant_type: 'authorization_code', code: r.code, redirect_uri: REDIRECT_URI, code_verifier: r.pkce.verifier,
    });
    assert.equal(res.status, 200, res.body);
    const tok = res.json();
    assert.equal(tok.token_type, 'Bearer');
    assert.ok(tok.access_token && tok.refresh_token && tok.id_token);
    assert.ok(tok.expires_in > 0 && tok.expires_in <= 120, `expires_in ${tok.expires_in}`);

    const { header, payload } = verifyJwt(tok.id_token, jwks);
    assert.equal(header.alg, 'RS256');
    assert.equal(payload.iss, op.issuer);
    assert.equal(payload.aud, config.OP_CLIENT.id);
    assert.equal(payload.sub, 'admin');
    assert.equal(payload.nonce, r.nonce);
    // spec-conformant by default (OpenID Connect Core 5.4): with an access
    // token issued, the scope's claims are in userinfo only
    for (const c of ['email', 'email_verified', 'name', 'groups']) {
      assert.equal(payload[c], undefined, `no ${c} in the ID token`);
    }
    assert.ok(payload.exp - payload.iat <= 240 && payload.exp - payload.iat > 200, 'id-ttl honoured');

    // userinfo
    const ui = await new HttpClient().get(disco.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tok.access_token}` },
    });
    assert.equal(ui.status, 200, ui.body);
    assert.equal(ui.json().sub, 'admin');
    assert.equal(ui.json().email, 'admin@example.com');
    assert.equal(ui.json().email_verified, true);
    assert.equal(ui.json().name, 'User admin');
    assert.deepEqual(ui.json().groups, ['users', 'admin']);

    // refresh: rotated, the old refresh token is dead afterwards
    const ref = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tok.refresh_token });
    assert.equal(ref.status, 200, ref.body);
    const tok2 = ref.json();
    assert.ok(tok2.access_token && tok2.refresh_token && tok2.id_token);
    assert.notEqual(tok2.refresh_token, tok.refresh_token);
    assert.equal(verifyJwt(tok2.id_token, jwks).payload.sub, 'admin');
    const old = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tok.refresh_token });
    assert.equal(old.status, 400);
    assert.equal(old.json().error, 'invalid_grant');

    // replaying the code fails, and revokes what was issued from it
    const again = await tokenRequest({
      grant_type: 'authorization_code', code: r.code, redirect_uri: REDIRECT_URI, code_verifier: r.pkce.verifier,
    });
    assert.equal(again.status, 400);
    assert.equal(again.json().error, 'invalid_grant');

    const revoked = await new HttpClient().get(disco.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tok2.access_token}` },
    });
    assert.equal(revoked.status, 401, 'tokens of a replayed code are revoked');
  });

  test('wrong PKCE verifier and wrong client secret are rejected', async () => {
    const r = await loginForCode({ login: 'bob' });
    const bad = await tokenRequest({
      grant_type: 'authorization_code', code: r.code, redirect_uri: REDIRECT_URI, code_verifier: pkcePair().verifier,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error, 'invalid_grant');

    const r2 = await loginForCode({ login: 'bob' });
    const badSecret = await tokenRequest({
      grant_type: 'authorization_code', code: r2.code, redirect_uri: REDIRECT_URI, code_verifier: r2.pkce.verifier,
    }, { id: config.OP_CLIENT.id, secret: 'wrong-secret' });
    assert.equal(badSecret.status, 401);
    assert.equal(badSecret.json().error, 'invalid_client');
  });

  // note: oidc-provider treats client_secret_basic and client_secret_post as
  // interchangeable; the fake provider's auth-basic/auth-post scenarios are the
  // place to check which one the module really sends.
  test('the client_secret_post client authenticates with client_secret_post', async () => {
    const r = await loginForCode({ login: 'carol', clientId: config.OP_CLIENT_POST.id });
    const form = {
      grant_type: 'authorization_code', code: r.code, redirect_uri: REDIRECT_URI, code_verifier: r.pkce.verifier,
    };
    const res = await tokenRequest(form, config.OP_CLIENT_POST, 'post');
    assert.equal(res.status, 200, res.body);
    const { payload } = decodeJwt(res.json().id_token);
    assert.equal(payload.aud, config.OP_CLIENT_POST.id);
    assert.equal(payload.sub, 'carol');
  });

  test('a second login in the same browser session reuses the OP session (no login page)', async () => {
    const client = new HttpClient();
    const first = pkcePair();
    const f1 = await followLogin(client, authorizeUrl({
      state: 's1', nonce: 'n1', code_challenge: first.challenge, code_challenge_method: 'S256',
    }), { login: 'dave', stopAt: (u) => u.startsWith(REDIRECT_URI) });
    assert.deepEqual(f1.pages, ['login']);
    const second = pkcePair();
    const f2 = await followLogin(client, authorizeUrl({
      state: 's2', nonce: 'n2', code_challenge: second.challenge, code_challenge_method: 'S256',
    }), { login: 'nobody-else', stopAt: (u) => u.startsWith(REDIRECT_URI) });
    assert.deepEqual(f2.pages, [], 'SSO: no login form the second time');
    assert.ok(new URL(f2.stoppedAt).searchParams.get('code'));
  });
});

describe('real OP with --consent prompt', () => {
  let env;
  let op;
  before(async () => {
    env = await createEnv('00-op-consent');
    op = await env.op({ redirectUris: [REDIRECT_URI], consent: 'prompt' });
  });
  after(() => env && env.stop());

  test('the dev consent page is shown and followLogin accepts it', async () => {
    const pkce = pkcePair();
    const u = new URL(`${op.issuer}/auth`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: config.OP_CLIENT.id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      state: 'xyz',
      nonce: 'abc',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    })) u.searchParams.set(k, v);
    const flow = await followLogin(new HttpClient(), u.toString(), {
      login: 'erin', stopAt: (x) => x.startsWith(REDIRECT_URI),
    });
    assert.deepEqual(flow.pages, ['login', 'consent']);
    assert.ok(new URL(flow.stoppedAt).searchParams.get('code'));
  });
});
