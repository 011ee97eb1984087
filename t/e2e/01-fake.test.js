'use strict';

// Sanity of the scriptable fake provider (t/fake/provider.js) alone: the
// happy path, and that every fault scenario really produces its fault (a
// fault test against nginx is only meaningful if the fault is there).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, pkcePair, randomToken, verifyJwt, decodeJwt, fromB64u, s256,
} = require('./lib');

const CB = 'http://127.0.0.1:1/cb';
const { id: CLIENT_ID, secret: CLIENT_SECRET } = config.FAKE_CLIENT;
const basicAuth = (id = CLIENT_ID, secret = CLIENT_SECRET) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('fake provider', () => {
  let env;
  let fake;
  const http = new HttpClient();

  before(async () => {
    env = await createEnv('01-fake');
    fake = await env.fake();
  });
  after(() => env && env.stop());

  const get = (p, opts) => http.get(`${fake.base}${p}`, { cookies: false, ...opts });

  async function discovery(scenario) {
    const r = await get(`/${scenario}/.well-known/openid-configuration`);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    return r.json();
  }

  async function jwks(scenario) {
    const r = await get(`/${scenario}/jwks`);
    assert.equal(r.status, 200);
    return r.json();
  }

  /** authorize -> code (no login page); returns { code, state, iss, location, pkce, nonce } */
  async function authorize(scenario, extra = {}) {
    const pkce = pkcePair();
    const state = randomToken(12);
    const nonce = randomToken(12);
    const u = new URL(`${fake.base}/${scenario}/authorize`);
    const params = {
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: CB,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) if (v !== null) u.searchParams.set(k, v);
    const r = await http.get(u.toString(), { cookies: false });
    assert.equal(r.status, 302, r.body);
    const back = new URL(r.location);
    return {
      location: back,
      code: back.searchParams.get('code'),
      state: back.searchParams.get('state'),
      sentState: state,
      iss: back.searchParams.get('iss'),
      pkce,
      nonce,
    };
  }

  function token(scenario, form, { auth = 'basic', headers = {} } = {}) {
    const h = { ...headers };
    const body = { ...form };
    if (auth === 'basic') h.authorization = basicAuth();
    else if (auth === 'post') Object.assign(body, { client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
    return http.post(`${fake.base}/${scenario}/token`, { form: body, headers: h, cookies: false });
  }

  async function codeFlow(scenario, { auth = 'basic', extra } = {}) {
    const a = await authorize(scenario, extra);
    const r = await token(scenario, {
      grant_type: 'authorization_code', code: a.code, redirect_uri: CB, code_verifier: a.pkce.verifier,
    }, { auth });
    return { a, r };
  }

  async function idToken(scenario) {
    const { a, r } = await codeFlow(scenario);
    assert.equal(r.status, 200, `${scenario}: ${r.body.slice(0, 300)}`);
    return { a, tok: r.json(), idt: r.json().id_token };
  }

  test('discovery per scenario: issuer and endpoints follow the first path segment', async () => {
    for (const sc of ['ok', 'alg-es256', 'idt-wrong-nonce', 'discovery-slow-10', 'alg-es384+token-slow-5']) {
      const d = await discovery(sc);
      const iss = `${fake.base}/${sc}`;
      assert.equal(d.issuer, iss);
      assert.equal(d.authorization_endpoint, `${iss}/authorize`);
      assert.equal(d.token_endpoint, `${iss}/token`);
      assert.equal(d.userinfo_endpoint, `${iss}/userinfo`);
      assert.equal(d.jwks_uri, `${iss}/jwks`);
      assert.equal(d.end_session_endpoint, `${iss}/logout`);
      assert.equal(d.revocation_endpoint, `${iss}/revoke`);
      assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    }
    const unknown = await get('/no-such-scenario/.well-known/openid-configuration');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json().error, 'unknown_scenario');
    const scenarios = (await get('/_scenarios')).json();
    assert.ok(scenarios.ok && scenarios['discovery-slow-<ms>'] && scenarios.github);
  });

  test('authorize redirects straight back with code, state and iss', async () => {
    const a = await authorize('ok');
    assert.equal(`${a.location.origin}${a.location.pathname}`, CB);
    assert.equal(a.state, a.sentState);
    assert.equal(a.iss, `${fake.base}/ok`);
    const code = JSON.parse(fromB64u(a.code).toString());
    assert.equal(code.nonce, a.nonce);
    assert.equal(code.code_challenge, a.pkce.challenge);
    assert.equal(code.sub, 'alice');
    const hinted = await authorize('ok', { login_hint: 'bob' });
    assert.equal(JSON.parse(fromB64u(hinted.code).toString()).sub, 'bob');
    // without PKCE: error back to the client
    const noPkce = await authorize('ok', { code_challenge: null, code_challenge_method: null });
    assert.equal(noPkce.location.searchParams.get('error'), 'invalid_request');
  });

  test('token exchange with PKCE and Basic auth returns a verifiable RS256 ID token', async () => {
    const { a, tok, idt } = await idToken('ok');
    assert.equal(tok.token_type, 'Bearer');
    assert.ok(tok.access_token && tok.refresh_token);
    assert.equal(tok.expires_in, 300);
    const { header, payload } = verifyJwt(idt, await jwks('ok'));
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid);
    assert.equal(payload.iss, `${fake.base}/ok`);
    assert.equal(payload.aud, CLIENT_ID);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.nonce, a.nonce);
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['users']);
    const nowS = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(payload.iat - nowS) < 5);
    assert.equal(payload.exp - payload.iat, 600);

    // userinfo with the access token
    const ui = await get('/ok/userinfo', { headers: { authorization: `Bearer ${tok.access_token}` } });
    assert.equal(ui.status, 200);
    assert.equal(ui.json().sub, 'alice');
    assert.equal(ui.json().email, 'alice@example.com');
    const noTok = await get('/ok/userinfo');
    assert.equal(noTok.status, 401);
    assert.match(noTok.headers['www-authenticate'], /^Bearer/);
  });

  test('client_secret_post works too; bad secret, bad verifier, bad redirect_uri are refused', async () => {
    const { r } = await codeFlow('ok', { auth: 'post' });
    assert.equal(r.status, 200, r.body);

    const a = await authorize('ok');
    const form = {
      grant_type: 'authorization_code', code: a.code, redirect_uri: CB, code_verifier: a.pkce.verifier,
    };
    const badSecret = await http.post(`${fake.base}/ok/token`, {
      form, headers: { authorization: basicAuth(CLIENT_ID, 'nope') }, cookies: false,
    });
    assert.equal(badSecret.status, 401);
    assert.equal(badSecret.json().error, 'invalid_client');
    assert.match(badSecret.headers['www-authenticate'], /^Basic/);
    const noAuth = await token('ok', form, { auth: 'none' });
    assert.equal(noAuth.status, 401);
    const badVerifier = await token('ok', { ...form, code_verifier: pkcePair().verifier });
    assert.equal(badVerifier.status, 400);
    assert.equal(badVerifier.json().error, 'invalid_grant');
    const badRedirect = await token('ok', { ...form, redirect_uri: 'http://127.0.0.1:1/other' });
    assert.equal(badRedirect.status, 400);
    // none of the failures consumed the code
    const good = await token('ok', form);
    assert.equal(good.status, 200, good.body);
    // a code of one scenario is not valid at another
    const b = await authorize('ok');
    const cross = await token('alg-es256', {
      grant_type: 'authorization_code', code: b.code, redirect_uri: CB, code_verifier: b.pkce.verifier,
    });
    assert.equal(cross.status, 400);
  });

  test('auth-basic / auth-post accept only that client authentication', async () => {
    assert.equal((await codeFlow('auth-basic', { auth: 'basic' })).r.status, 200);
    assert.equal((await codeFlow('auth-basic', { auth: 'post' })).r.status, 401);
    assert.equal((await codeFlow('auth-post', { auth: 'post' })).r.status, 200);
    assert.equal((await codeFlow('auth-post', { auth: 'basic' })).r.status, 401);
  });

  test('a replayed code is rejected with invalid_grant', async () => {
    const a = await authorize('ok');
    const form = {
      grant_type: 'authorization_code', code: a.code, redirect_uri: CB, code_verifier: a.pkce.verifier,
    };
    assert.equal((await token('ok', form)).status, 200);
    const again = await token('ok', form);
    assert.equal(again.status, 400);
    assert.equal(again.json().error, 'invalid_grant');
  });

  test('refresh_token grant rotates the refresh token and rejects reuse', async () => {
    const { tok } = await idToken('ok');
    const r1 = await token('ok', { grant_type: 'refresh_token', refresh_token: tok.refresh_token });
    assert.equal(r1.status, 200, r1.body);
    const t1 = r1.json();
    assert.ok(t1.refresh_token && t1.refresh_token !== tok.refresh_token);
    const p = verifyJwt(t1.id_token, await jwks('ok')).payload;
    assert.equal(p.sub, 'alice');
    assert.equal(p.nonce, undefined, 'no nonce in refreshed ID tokens');
    const reuse = await token('ok', { grant_type: 'refresh_token', refresh_token: tok.refresh_token });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json().error, 'invalid_grant');

    const { tok: tokB } = await idToken('refresh-no-idt+refresh-no-rotate');
    const rb = await token('refresh-no-idt+refresh-no-rotate', { grant_type: 'refresh_token', refresh_token: tokB.refresh_token });
    assert.equal(rb.status, 200);
    assert.equal(rb.json().id_token, undefined);
    assert.equal(rb.json().refresh_token, undefined);

    const { tok: tokT } = await idToken('ttl-7');
    assert.equal(tokT.expires_in, 7);
    const pt = decodeJwt(tokT.id_token).payload;
    assert.equal(pt.exp - pt.iat, 7);
  });

  test('revocation: a revoked access token no longer works at userinfo', async () => {
    const { tok } = await idToken('ok');
    const rv = await http.post(`${fake.base}/ok/revoke`, {
      form: { token: tok.access_token }, headers: { authorization: basicAuth() }, cookies: false,
    });
    assert.equal(rv.status, 200);
    const ui = await get('/ok/userinfo', { headers: { authorization: `Bearer ${tok.access_token}` } });
    assert.equal(ui.status, 401);
  });

  test('_stats counts hits per scenario/endpoint; _reset clears; _requests records', async () => {
    await fake.reset();
    await discovery('ok');
    await discovery('ok');
    await jwks('ok');
    await get('/token-500/jwks');
    const s = await fake.stats();
    assert.equal(s['ok/.well-known/openid-configuration'], 2);
    assert.equal(s['ok/jwks'], 1);
    assert.equal(s['token-500/jwks'], 1);
    const reqs = await fake.requests('ok/jwks');
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].method, 'GET');
    await fake.reset();
    assert.deepEqual(await fake.stats(), {});
  });

  test('alg-* scenarios sign with that algorithm and verify against the JWKS', async () => {
    const want = {
      'alg-ps256': 'PS256',
      'alg-rs384': 'RS384',
      'alg-rs512': 'RS512',
      'alg-es256': 'ES256',
      'alg-es384': 'ES384',
      'alg-eddsa': 'EdDSA',
    };
    for (const [sc, alg] of Object.entries(want)) {
      const { idt } = await idToken(sc);
      const { header, payload } = verifyJwt(idt, await jwks(sc));
      assert.equal(header.alg, alg, sc);
      assert.equal(payload.iss, `${fake.base}/${sc}`);
    }
  });

  test('ID token defect scenarios produce exactly their defect', async () => {
    const iss = (sc) => `${fake.base}/${sc}`;
    const payloadOf = async (sc) => {
      const { a, idt } = await idToken(sc);
      const v = verifyJwt(idt, await jwks(sc)); // still correctly signed
      return { a, p: v.payload, h: v.header };
    };
    const nowS = Math.floor(Date.now() / 1000);

    let x = await payloadOf('idt-wrong-iss');
    assert.notEqual(x.p.iss, iss('idt-wrong-iss'));
    x = await payloadOf('idt-wrong-aud');
    assert.equal(x.p.aud, 'some-other-client');
    x = await payloadOf('idt-multi-aud-no-azp');
    assert.deepEqual(x.p.aud, [CLIENT_ID, 'other-client']);
    assert.equal(x.p.azp, undefined);
    x = await payloadOf('idt-multi-aud-wrong-azp');
    assert.equal(x.p.azp, 'other-client');
    x = await payloadOf('idt-multi-aud-azp');
    assert.equal(x.p.azp, CLIENT_ID);
    x = await payloadOf('idt-no-exp');
    assert.equal(x.p.exp, undefined);
    x = await payloadOf('idt-expired');
    assert.ok(x.p.exp < nowS - 3000);
    x = await payloadOf('idt-no-iat');
    assert.equal(x.p.iat, undefined);
    x = await payloadOf('idt-iat-future');
    assert.ok(x.p.iat > nowS + 3000);
    x = await payloadOf('idt-nbf-future');
    assert.ok(x.p.nbf > nowS + 3000);
    x = await payloadOf('idt-no-sub');
    assert.equal(x.p.sub, undefined);
    x = await payloadOf('idt-no-nonce');
    assert.equal(x.p.nonce, undefined);
    x = await payloadOf('idt-wrong-nonce');
    assert.ok(x.p.nonce && x.p.nonce !== x.a.nonce);
    x = await payloadOf('idt-huge');
    assert.ok(x.p.huge.length >= 100 * 1024);
    x = await payloadOf('idt-multi-aud-azp');
    assert.equal(x.p.nonce, x.a.nonce, 'valid multi-aud token keeps the nonce');
  });

  test('ID token signature/encoding defects', async () => {
    const raw = async (sc) => (await idToken(sc)).idt;

    let t = await raw('idt-alg-none');
    assert.equal(decodeJwt(t).header.alg, 'none');
    assert.ok(t.endsWith('.'));

    t = await raw('idt-hs256');
    assert.equal(decodeJwt(t).header.alg, 'HS256');
    const [h, p, sig] = t.split('.');
    const crypto = require('node:crypto');
    assert.equal(crypto.createHmac('sha256', CLIENT_SECRET).update(`${h}.${p}`).digest('base64url'), sig);

    for (const sc of ['idt-badsig-rs256', 'idt-badsig-es256']) {
      t = await raw(sc);
      assert.equal(decodeJwt(t).header.alg, sc.endsWith('rs256') ? 'RS256' : 'ES256');
      assert.throws(() => verifyJwt(t, { keys: [] }), /no key/);
      const ks = await jwks(sc);
      assert.throws(() => verifyJwt(t, ks), /bad signature/, sc);
    }

    t = await raw('idt-unknown-key');
    const kid = decodeJwt(t).header.kid;
    const ks = await jwks('idt-unknown-key');
    assert.ok(kid && !ks.keys.some((k) => k.kid === kid), 'kid not in the JWKS');

    t = await raw('idt-nokid');
    assert.equal(decodeJwt(t).header.kid, undefined);
    const one = await jwks('idt-nokid');
    assert.equal(one.keys.length, 1);
    verifyJwt(t, one);

    t = await raw('idt-nokid-multi');
    assert.equal(decodeJwt(t).header.kid, undefined);
    const many = await jwks('idt-nokid-multi');
    assert.ok(many.keys.filter((k) => k.kty === 'RSA').length >= 2);

    t = await raw('idt-segments');
    assert.equal(t.split('.').length, 2);

    t = await raw('idt-malformed-b64');
    assert.match(t.split('.')[1], /[^A-Za-z0-9_-]/);
    t = await raw('idt-malformed-json');
    assert.throws(() => JSON.parse(fromB64u(t.split('.')[1]).toString()));
  });

  test('discovery / jwks / token transport faults', async () => {
    let r = await get('/discovery-500/.well-known/openid-configuration');
    assert.equal(r.status, 500);
    r = await get('/discovery-badjson/.well-known/openid-configuration');
    assert.throws(() => JSON.parse(r.body));
    r = await get('/discovery-ctype/.well-known/openid-configuration');
    assert.match(r.headers['content-type'], /text\/html/);
    assert.equal(JSON.parse(r.body).issuer, `${fake.base}/discovery-ctype`);
    r = await get('/discovery-issuer-mismatch/.well-known/openid-configuration');
    assert.notEqual(r.json().issuer, `${fake.base}/discovery-issuer-mismatch`);
    r = await get('/discovery-huge/.well-known/openid-configuration');
    assert.ok(r.buffer.length >= 10 * 1024 * 1024);
    assert.equal(r.json().issuer, `${fake.base}/discovery-huge`);

    let t0 = Date.now();
    r = await get('/discovery-slow-300/.well-known/openid-configuration');
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 >= 290, 'discovery-slow delays');
    t0 = Date.now();
    r = await get('/jwks-slow-300/jwks');
    assert.ok(Date.now() - t0 >= 290, 'jwks-slow delays');

    r = await get('/jwks-badjson/jwks');
    assert.throws(() => JSON.parse(r.body));
    const unsup = (await get('/jwks-unsupported/jwks')).json();
    assert.ok(unsup.keys.some((k) => k.kty === 'oct'));
    assert.ok(unsup.keys.some((k) => k.kty === 'RSA' && !k.n));
    assert.ok(!unsup.keys.some((k) => k.kty === 'RSA' && k.n));

    assert.equal((await codeFlow('token-500')).r.status, 500);
    assert.equal((await codeFlow('token-error')).r.json().error, 'invalid_grant');
    const bad = await codeFlow('token-badjson');
    assert.equal(bad.r.status, 200);
    assert.throws(() => JSON.parse(bad.r.body));
    const huge = await codeFlow('token-huge');
    assert.ok(huge.r.buffer.length >= 10 * 1024 * 1024);
    assert.ok(huge.r.json().id_token);
    t0 = Date.now();
    const slow = await codeFlow('token-slow-300');
    assert.equal(slow.r.status, 200);
    assert.ok(Date.now() - t0 >= 290);
  });

  test('authorize faults and userinfo sub mismatch', async () => {
    let a = await authorize('authorize-error');
    assert.equal(a.location.searchParams.get('error'), 'access_denied');
    assert.ok(a.location.searchParams.get('error_description'));
    assert.equal(a.state, a.sentState);
    assert.equal(a.code, null);
    a = await authorize('authorize-wrong-iss');
    assert.ok(a.code);
    assert.notEqual(a.iss, `${fake.base}/authorize-wrong-iss`);

    const { tok, idt } = await idToken('userinfo-sub-mismatch');
    const ui = await get('/userinfo-sub-mismatch/userinfo', { headers: { authorization: `Bearer ${tok.access_token}` } });
    assert.notEqual(ui.json().sub, decodeJwt(idt).payload.sub);
  });

  test('/_rotate: new tokens carry a new kid that the JWKS lists from then on', async () => {
    const before1 = decodeJwt((await idToken('kid-rotate')).idt).header.kid;
    const ksBefore = await jwks('kid-rotate');
    const { kid } = await fake.rotate();
    assert.ok(!ksBefore.keys.some((k) => k.kid === kid), 'new kid unknown before the rotation');
    const { idt } = await idToken('kid-rotate');
    assert.equal(decodeJwt(idt).header.kid, kid);
    assert.notEqual(kid, before1);
    verifyJwt(idt, await jwks('kid-rotate'));
  });

  test('github: plain OAuth 2.0 with form-encoded token response and a User-Agent-checking API', async () => {
    assert.equal((await get('/github/.well-known/openid-configuration')).status, 404);
    const pkce = pkcePair();
    const u = new URL(`${fake.base}/github/login/oauth/authorize`);
    u.searchParams.set('client_id', CLIENT_ID);
    u.searchParams.set('redirect_uri', CB);
    u.searchParams.set('state', 'gh-state');
    u.searchParams.set('scope', 'read:user user:email');
    u.searchParams.set('code_challenge', pkce.challenge);
    u.searchParams.set('code_challenge_method', 'S256');
    const r = await http.get(u.toString(), { cookies: false });
    assert.equal(r.status, 302);
    const back = new URL(r.location);
    assert.equal(back.searchParams.get('state'), 'gh-state');
    assert.equal(back.searchParams.get('iss'), null);
    const code = back.searchParams.get('code');

    const form = {
      client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code, redirect_uri: CB, code_verifier: pkce.verifier,
    };
    const tr = await http.post(`${fake.base}/github/login/oauth/access_token`, { form, cookies: false });
    assert.equal(tr.status, 200);
    assert.match(tr.headers['content-type'], /x-www-form-urlencoded/);
    const tp = new URLSearchParams(tr.body);
    const at = tp.get('access_token');
    assert.ok(at);
    assert.equal(tp.get('token_type'), 'bearer');
    assert.equal(tp.get('id_token'), null);

    // a used code: GitHub-style 200 with an error
    const again = await http.post(`${fake.base}/github/login/oauth/access_token`, {
      form, headers: { accept: 'application/json' }, cookies: false,
    });
    assert.equal(again.status, 200);
    assert.equal(again.json().error, 'bad_verification_code');

    const noUa = await http.get(`${fake.base}/github/api/user`, {
      headers: { authorization: `Bearer ${at}`, 'user-agent': null }, cookies: false,
    });
    assert.equal(noUa.status, 403);
    const user = await http.get(`${fake.base}/github/api/user`, {
      headers: { authorization: `token ${at}` }, cookies: false,
    });
    assert.equal(user.status, 200);
    const uj = user.json();
    assert.equal(uj.login, 'alice');
    assert.equal(typeof uj.id, 'number');
    assert.equal(uj.email, null);
    const emails = await http.get(`${fake.base}/github/api/user/emails`, {
      headers: { authorization: `Bearer ${at}` }, cookies: false,
    });
    const primary = emails.json().find((e) => e.primary);
    assert.equal(primary.email, 'alice@example.com');
    assert.equal(primary.verified, true);
    const badTok = await http.get(`${fake.base}/github/api/user`, {
      headers: { authorization: 'Bearer nope' }, cookies: false,
    });
    assert.equal(badTok.status, 401);
  });
});

describe('fake provider over https (gen-certs.sh output)', () => {
  let env;
  let fake;
  let certs;
  before(async () => {
    env = await createEnv('01-fake-tls');
    certs = path.join(env.dir, 'certs');
    const g = spawnSync('sh', [config.GEN_CERTS, certs], { encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
    fake = await env.fake({
      tlsCert: path.join(certs, 'server.pem'), tlsKey: path.join(certs, 'server.key'),
    });
  });
  after(() => env && env.stop());

  test('https discovery verifies with the test CA and its issuer is https', async () => {
    const ca = fs.readFileSync(path.join(certs, 'ca.pem'));
    const client = new HttpClient({ ca });
    for (const host of ['localhost', '127.0.0.1']) {
      const r = await client.get(`https://${host}:${config.FAKE_TLS_PORT}/ok/.well-known/openid-configuration`);
      assert.equal(r.status, 200);
      assert.equal(r.json().issuer, `https://${host}:${config.FAKE_TLS_PORT}/ok`);
    }
    const otherCa = fs.readFileSync(path.join(certs, 'other-ca.pem'));
    await assert.rejects(
      new HttpClient({ ca: otherCa }).get(`${fake.tlsBase}/ok/jwks`),
      /self-signed|unable to verify|certificate/i,
    );
  });

  test('s256 helper agrees with the fake PKCE check', () => {
    // RFC 7636 appendix B test vector
    assert.equal(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});
