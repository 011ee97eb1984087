'use strict';

// "userinfo auto", the default (issue #12): claims from userinfo when the
// ID token does not carry them.
//
// - The real OP in its default, spec-conformant mode (OpenID Connect Core
//   5.4: with an access token issued, the scope's claims are only in
//   userinfo, as with Okta): the default configuration puts the claims the
//   configuration uses ($oauth2_claim_email, the array groups) and the
//   verified address ($oauth2_email, wanted because the scope asks for
//   "email") into the session, with one userinfo call per login; with
//   only $oauth2_email used, the same when the scope asks for "email"; a
//   configuration that uses no claim and asks for no e-mail makes none.
// - The OP in its permissive mode (the ID token carries the claims):
//   "userinfo auto" logs in with the same claims and no userinfo call.
//
// nginx on E2E_NGINX_PORT+30 (2016 by default), the real OP on OP_PORT.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');
const { troubleLines } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 30;
const ORIGIN = `http://127.0.0.1:${PORT}`;

function providerConf(op, name, scope, extra = '') {
  return op.providerConf(name, `scope "${scope}"; ${extra}`);
}

function location(name, backend, headers) {
  return `
    location /${name}/ {
        oauth2 ${name};
${Object.entries(headers).map(([h, v]) => `        proxy_set_header ${h} ${v};`).join('\n')}
        proxy_pass http://127.0.0.1:${backend.port};
    }`;
}

/** the OP, a backend and nginx; conf(op, backend) gives the providers and locations */
async function start(name, opOpts, conf) {
  const env = await createEnv(name);
  try {
    return await startIn(env, opOpts, conf);
  } catch (e) {
    await env.stop();
    throw e;
  }
}

async function startIn(env, opOpts, conf) {
  const op = await env.op({
    redirectUris: ['op', 'mail', 'bare'].map((p) => `${ORIGIN}/cb/${p}`),
    ...opOpts,
  });
  const backend = await env.backend();
  const { providers, locations } = conf(op, backend);
  const ngx = await env.nginx({
    port: PORT,
    env: { OP_SECRET: config.OP_CLIENT.secret },
    http: `${providers}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};${locations}
}`,
  });
  const userinfoCalls = () => (op.proc.stdout().match(/^op: GET \/me -> 200/gm) || []).length;
  return { env, op, backend, ngx, userinfoCalls };
}

const CLAIMS = {
  'X-Email': '$oauth2_email',
  'X-Claim-Email': '$oauth2_claim_email',
  'X-Groups': '$oauth2_claim_groups',
};

/** "op" uses claims; "mail" only $oauth2_email */
function claimsConf(extra) {
  return (op, backend) => ({
    providers: providerConf(op, 'op', 'openid email profile', extra)
      + providerConf(op, 'mail', 'openid email profile', extra),
    locations: location('op', backend, CLAIMS)
      + location('mail', backend, { 'X-Email': '$oauth2_email' }),
  });
}

async function login(s, path, user) {
  const client = new HttpClient();
  const flow = await followLogin(client, `${ORIGIN}${path}`, { login: user });
  assert.equal(flow.response.status, 200,
    `${describeHops(flow.hops)}\n${s.ngx.errorLog().slice(-2000)}`);
  return s.backend.last().headers;
}

describe('userinfo auto with the spec-conformant OP (its default)', moduleTestOptions(), () => {
  let s;

  before(async () => { s = await start('47-userinfo', {}, claimsConf()); });
  after(() => s && s.env.stop());

  test('the default configuration gets the claims it uses from userinfo, once per login', async () => {
    const h = await login(s, '/op/page', 'alice');
    assert.equal(h['x-claim-email'], 'alice@example.com', '$oauth2_claim_email');
    assert.equal(h['x-email'], 'alice@example.com', '$oauth2_email: verified, from userinfo');
    assert.equal(h['x-groups'], 'users', '$oauth2_claim_groups');
    assert.equal(s.userinfoCalls(), 1, 'one userinfo call');

    const admin = await login(s, '/op/page', 'admin');
    assert.equal(admin['x-groups'], 'users,admin');
    assert.equal(s.userinfoCalls(), 2);

    const m = await login(s, '/mail/page', 'bob');
    assert.equal(m['x-email'], 'bob@example.com', 'another provider of the same configuration');
    assert.equal(s.userinfoCalls(), 3);
    assert.deepEqual(troubleLines(s.ngx.errorLog()), []);
  });
});

describe('userinfo auto, spec-conformant OP, only $oauth2_email used', moduleTestOptions(), () => {
  let s;

  before(async () => {
    s = await start('47-userinfo-email', {}, (op, backend) => ({
      providers: providerConf(op, 'mail', 'openid email')
        + providerConf(op, 'bare', 'openid'),
      locations: location('mail', backend, { 'X-Email': '$oauth2_email' })
        + location('bare', backend, { 'X-Sub': '$oauth2_sub', 'X-Email': '$oauth2_email' }),
    }));
  });
  after(() => s && s.env.stop());

  test('"email" in the scope: the address is asked from userinfo; else no call', async () => {
    const h = await login(s, '/mail/page', 'bob');
    assert.equal(h['x-email'], 'bob@example.com');
    assert.equal(s.userinfoCalls(), 1);

    const b = await login(s, '/bare/page', 'carol');
    assert.equal(b['x-sub'], 'carol');
    assert.equal(b['x-email'], undefined, 'no address was asked for');
    assert.equal(s.userinfoCalls(), 1, 'no claim used, no address asked: the ID token is enough');
    assert.deepEqual(troubleLines(s.ngx.errorLog()), []);
  });
});

describe('userinfo auto with the permissive OP', moduleTestOptions(), () => {
  let s;

  before(async () => {
    s = await start('47-userinfo-permissive', { permissive: true }, claimsConf('userinfo auto;'));
  });
  after(() => s && s.env.stop());

  test('the ID token carries the claims: the same claims, no userinfo call', async () => {
    const h = await login(s, '/op/page', 'admin');
    assert.equal(h['x-claim-email'], 'admin@example.com');
    assert.equal(h['x-email'], 'admin@example.com');
    assert.equal(h['x-groups'], 'users,admin');
    const m = await login(s, '/mail/page', 'dave');
    assert.equal(m['x-email'], 'dave@example.com');
    assert.equal(s.userinfoCalls(), 0, 'no userinfo call');
    assert.deepEqual(troubleLines(s.ngx.errorLog()), []);
  });
});
