'use strict';

// Key rotation at the real OP (issue #12): the OP changes its signing key
// between two logins a second apart, within jwks_min_refresh of the
// worker's JWKS fetch; both logins succeed.  The OP is restarted with a
// keys file holding new keys only (the old key gone), which is how a
// deployment rotates them; logins at the dev interaction need no state
// that survives the restart.
//
// Ports: nginx on E2E_NGINX_PORT+26 (2012 by default), the OP on OP_PORT.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 26;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const CALLBACK = `${ORIGIN}/oauth2/callback`;

describe('key rotation at the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let keysA;
  let keysB;

  const startOp = (keys) => env.op({ redirectUris: [CALLBACK], extraArgs: ['--keys', keys] });
  const kidOf = async () => {
    const r = await fetch(`${op.issuer}/jwks`);
    return (await r.json()).keys.filter((k) => k.kty === 'RSA').map((k) => k.kid);
  };

  before(async () => {
    env = await createEnv('08-rotation');
    keysA = path.join(env.dir, 'keys-a.json');
    keysB = path.join(env.dir, 'keys-b.json');
    for (const f of [keysA, keysB]) fs.rmSync(f, { force: true });
    op = await startOp(keysA);
    ({ nginx: ngx } = await env.opLogin({ port: PORT, op, lines: 'jwks_min_refresh 5s;' }));
  });
  after(() => env && env.stop());

  async function loginAs(who, page) {
    const flow = await followLogin(new HttpClient(), `${ORIGIN}${page}`, { login: who });
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}`
      + `\n--- error.log (tail) ---\n${ngx.errorLog().slice(-2500)}`;
    assert.equal(flow.response.status, 200, `${who} logged in${info}`);
    assert.equal(flow.response.url, `${ORIGIN}${page}`, info);
    assert.match(flow.response.body, new RegExp(`hello ${who}@example\\.com`), info);
  }

  test('the OP changes its signing key between two logins a second apart: both succeed', { timeout: 30000 }, async () => {
    await loginAs('alice', '/before');
    const [oldKid] = await kidOf();
    const t0 = Date.now();

    await op.stop();
    op = await startOp(keysB);
    const [newKid] = await kidOf();
    assert.notEqual(newKid, oldKid, 'the OP signs with a new key, the old one is gone');

    const wait = 1000 - (Date.now() - t0);
    if (wait > 0) await new Promise((r) => { setTimeout(r, wait); });
    await loginAs('bob', '/after');
    assert.equal(ngx.errorLog().split('\n').filter((l) => /\[error\]/.test(l)).length, 0,
      `no error line\n${ngx.errorLog().slice(-2500)}`);
  });
});
