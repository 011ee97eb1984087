'use strict';

// Multi-tenant issuers (Entra ID's common and organizations endpoints):
// `issuer .../{tenantid}` is discovered at the "common" tenant, whose
// document names the template itself, and each ID token's iss must be the
// template filled with the token's own tid, a sane tenant id.  The real OP
// cannot issue tid, so the fake provider plays Entra: `tenants-<n>` signs
// ID tokens of tenant <n>; modifiers break the tenant rules one at a time.
// `oauth2_require tid ...` restricts the tenants a location admits.
//
// nginx on E2E_NGINX_PORT+36; the fake provider on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');
const { logCursor } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 36;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const tid = (n) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

const PROVIDERS = {
  t1: 'tenants-1',
  t2: 'tenants-2',
  wrongiss: 'tenants-1+tenant-wrong-iss',
  notid: 'tenants-1+tenant-no-tid',
  badtid: 'tenants-1+tenant-bad-tid',
};

describe('multi-tenant issuers ({tenantid})', moduleTestOptions(), () => {
  let env;
  let fake;
  let errorLogFile;

  before(async () => {
    env = await createEnv('48-tenants');
    fake = await env.fake();
    const backend = await env.backend();
    const ngx = await env.nginx({
      port: PORT,
      http: `${Object.entries(PROVIDERS).map(([name, scenario]) => `
oauth2_provider ${name} {
    issuer         "${fake.issuer(scenario)}/{tenantid}";
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    redirect_uri   /cb/${name};
}`).join('\n')}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
${Object.keys(PROVIDERS).map((n) => `    location /s/${n}/ {
        oauth2 ${n};
        add_header X-Tid $oauth2_claim_tid always;
        proxy_pass http://127.0.0.1:${backend.port};
    }`).join('\n')}
    location /only1/t1/ {
        oauth2 t1;
        oauth2_require tid ${tid(1)};
        proxy_pass http://127.0.0.1:${backend.port};
    }
    location /only1/t2/ {
        oauth2 t2;
        oauth2_require tid ${tid(1)};
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
    errorLogFile = path.join(ngx.prefix, 'logs', 'error.log');
  });
  after(async () => { if (env) await env.stop(); });

  async function login(url) {
    const cur = logCursor(errorLogFile);
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}${url}`, { maxHops: 8 });
    const info = () => `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 300)}\n`
      + `--- error.log ---\n${cur.since().slice(-2000)}`;
    return {
      client, res: flow.response, cur, info,
    };
  }

  test('tokens of two tenants log in through the template; discovery at the common tenant', async () => {
    for (const [name, n] of [['t1', 1], ['t2', 2]]) {
      const { res, info } = await login(`/s/${name}/page`);
      assert.equal(res.status, 200, `logged in${info()}`);
      assert.equal(res.headers['x-tid'], tid(n), `the session keeps tid${info()}`);
    }
    const stats = await fake.stats();
    const keys = Object.keys(stats.counts || stats);
    assert.ok(keys.some((k) => k === 'tenants-1/common/.well-known/openid-configuration'),
      `discovered at the common tenant: ${keys}`);
  });

  test('an iss that is not the tid\'s, no tid, a tid that is not a tenant id: refused', async () => {
    for (const [name, why] of [
      ['wrongiss', /ID token rejected: id token issuer mismatch \(not its tenant's\)/],
      ['notid', /ID token rejected: id token has no tid \(the issuer is multi-tenant\)/],
      ['badtid', /ID token rejected: id token tid is not a tenant id/],
    ]) {
      const { res, cur, info } = await login(`/s/${name}/page`);
      assert.equal(res.status, 401, `${name} refused${info()}`);
      assert.match(res.body, /The login could not be verified/, `${name}${info()}`);
      assert.match(cur.since(), why, `${name}: the reason is logged${info()}`);
    }
  });

  test('oauth2_require tid admits one tenant and refuses another', async () => {
    const one = await login('/only1/t1/page');
    assert.equal(one.res.status, 200, `tenant 1 admitted${one.info()}`);
    const two = await login('/only1/t2/page');
    assert.equal(two.res.status, 403, `tenant 2 refused${two.info()}`);
  });
});
