'use strict';

// `nginx -s reload` under load (issue #16), against the real OP with 6 s
// tokens and refresh tokens, nginx with two workers: logged-in users keep
// sending requests (their sessions are refreshed during the run), new
// logins run all the time, and the master is told to reload three times.
// No request fails, every login completes, the sessions stay valid, the
// shared zone keeps what it holds across the reloads (a back-channel
// revocation, a refresh result handed to the previous cookie), and the
// old workers exit within worker_shutdown_timeout.  The figures go to
// docs/operations.md.
//
// Ports: nginx on E2E_NGINX_PORT+34, the OP on OP_PORT.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { rawGet, troubleLines } = require('./lib/matrix');
const seal = require('../tools/seal');

const PORT = config.NGINX_PORT + 34;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const SHUTDOWN_TIMEOUT = 10;

const now = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(x).toString('base64url');

// the worker processes of a master (from /proc)
function workersOf(master) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('reload under load', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let opKey;
  let master;

  before(async () => {
    env = await createEnv('65-reload');
    const keysFile = path.join(env.dir, 'op-keys.json');
    fs.rmSync(keysFile, { force: true });
    op = await env.op({
      redirectUris: [`${ORIGIN}/oauth2/callback`],
      backchannelLogoutUri: `${ORIGIN}/oauth2/backchannel`,
      accessTtl: 6,
      idTtl: 6,
      extraArgs: ['--keys', keysFile],
    });
    const jwk = JSON.parse(fs.readFileSync(keysFile, 'utf8')).keys.find((k) => k.alg === 'RS256');
    opKey = { kid: jwk.kid, privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
    const backend = await env.backend();
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 2,
      main: `worker_shutdown_timeout ${SHUTDOWN_TIMEOUT}s;`,
      env: { OP_SECRET: config.OP_CLIENT.secret },
      http: `
oauth2_provider op {
    issuer                  ${op.issuer};
    client_id               ${config.OP_CLIENT.id};
    client_secret           env:OP_SECRET;
    scope                   "openid email profile offline_access";
    refresh_margin          1s;
    backchannel_logout_uri  /oauth2/backchannel;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
    master = Number(fs.readFileSync(path.join(ngx.prefix, 'logs', 'nginx.pid'), 'utf8').trim());
  });
  after(() => env && env.stop());

  const tokenPosts = () => (op.proc.stdout().match(/^op: POST \/token -> 200/gm) || []).length;

  async function login(who) {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`, { login: who });
    assert.equal(flow.response.status, 200, `${who} logged in\n${describeHops(flow.hops)}`);
    return client;
  }

  test('three reloads during requests, refreshes and logins: nothing fails', { timeout: 120000 }, async () => {
    const users = [];
    const rt = (client) => seal.openSession([config.COOKIE_SECRET], 'oauth2_op',
      client.jar.header(`${ORIGIN}/`)).refresh_token;
    for (let i = 0; i < 6; i++) {
      const client = await login(`user${i}`);
      users.push({ name: `user${i}`, client, rt: rt(client) });
    }

    // the victim's session is revoked by a back-channel logout before the
    // reloads: the revocation lives in the shared zone
    const victim = await login('victim');
    const vs = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', victim.jar.header(`${ORIGIN}/`));
    assert.ok(vs && vs.claims.sid, 'the session keeps the OP session id');
    await sleep(1100); // a logout ends the sessions created a second before it
    const header = { alg: 'RS256', typ: 'logout+jwt', kid: opKey.kid };
    const payload = {
      iss: op.issuer, aud: config.OP_CLIENT.id, iat: now(), exp: now() + 120,
      jti: crypto.randomBytes(12).toString('base64url'), sid: vs.claims.sid,
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
    const token = `${input}.${crypto.sign('sha256', Buffer.from(input), opKey.privateKey).toString('base64url')}`;
    const bc = await fetch(`${ORIGIN}/oauth2/backchannel`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${token}`,
    });
    assert.equal(bc.status, 200, 'the logout token is accepted');

    const before = workersOf(master);
    assert.equal(before.length, 2, 'two workers');

    const stats = { requests: 0, failed: [], logins: 0, maxMs: 0 };
    let running = true;
    const loops = users.map(async (u) => {
      while (running) {
        const t0 = Date.now();
        const r = await u.client.fetchLike(`${ORIGIN}/page`);
        stats.maxMs = Math.max(stats.maxMs, Date.now() - t0);
        stats.requests++;
        if (r.status !== 200 || !r.body.includes(`hello ${u.name}@example.com`)) {
          stats.failed.push(`${u.name}: ${r.status} ${r.location || ''}`);
        }
      }
    });
    const logins = (async () => {
      let i = 0;
      while (running) {
        const client = new HttpClient();
        const flow = await followLogin(client, `${ORIGIN}/new${i}`, { login: `new${i}` });
        if (flow.response.status !== 200) stats.failed.push(`login new${i}: ${describeHops(flow.hops)}`);
        else stats.logins++;
        i++;
        await sleep(100);
      }
    })();

    const reloads = [];
    const exitTimes = [];
    for (const at of [3000, 4000, 4000]) {
      await sleep(at);
      const r = { at: Date.now(), workers: workersOf(master) };
      reloads.push(r);
      ngx.reload();
      for (const pid of r.workers) {
        exitTimes.push((async () => {
          while (alive(pid) && Date.now() < r.at + 20000) await sleep(20);
          return alive(pid) ? -1 : Date.now() - r.at;
        })());
      }
    }
    await sleep(4000);
    running = false;
    await Promise.all([...loops, logins]);

    const refreshed = users.filter((u) => rt(u.client) !== u.rt).length;
    const report = `${stats.requests} requests, ${stats.logins} logins, ${refreshed} of ${users.length} sessions refreshed, `
      + `max ${stats.maxMs} ms; failures: ${stats.failed.slice(0, 5).join('; ')}`;
    // the figures of docs/operations.md
    console.log(`# reload under load: ${report}`);
    assert.deepEqual(stats.failed, [], report);
    assert.ok(stats.requests > 100, report);
    assert.ok(stats.logins > 3, report);
    assert.equal(refreshed, users.length, `every session was refreshed during the run: ${report}`);

    // the old workers exited within their graceful timeout
    for (const r of reloads) {
      for (const pid of r.workers) {
        const deadline = r.at + (SHUTDOWN_TIMEOUT + 2) * 1000;
        while (alive(pid) && Date.now() < deadline) await sleep(100);
        assert.ok(!alive(pid), `old worker ${pid} exited within ${SHUTDOWN_TIMEOUT} s`);
      }
    }
    const exits = (await Promise.all(exitTimes)).filter((x) => x >= 0);
    console.log(`# old workers exited ${Math.min(...exits)}..${Math.max(...exits)} ms after the reload`);
    assert.ok(workersOf(master).every((p) => !before.includes(p)), 'new workers serve');

    // the revocation recorded before the reloads still ends the session
    const v = await victim.fetchLike(`${ORIGIN}/page`);
    assert.equal(v.status, 401, 'the revoked session stays refused after the reloads');

    // every user's session is still valid
    for (const u of users) {
      const r = await u.client.fetchLike(`${ORIGIN}/page`);
      assert.equal(r.status, 200, `${u.name} still logged in`);
    }
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });

  test('a refresh result survives a reload: the previous cookie gets it without a token call', { timeout: 60000 }, async () => {
    const client = await login('carol');
    const first = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', client.jar.header(`${ORIGIN}/`));
    const oldCookie = client.jar.header(`${ORIGIN}/`);
    await sleep(Math.max(0, (first.expires - 1 - now()) * 1000) + 1500);

    const posts = tokenPosts();
    const res = await client.fetchLike(`${ORIGIN}/page`);
    assert.equal(res.status, 200);
    assert.equal(tokenPosts(), posts + 1, 'one refresh call');
    const second = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', client.jar.header(`${ORIGIN}/`));

    const workers = workersOf(master);
    ngx.reload();
    for (let i = 0; i < 100 && workersOf(master).some((p) => workers.includes(p)); i++) await sleep(100);
    assert.ok(!workersOf(master).some((p) => workers.includes(p)), 'the workers were replaced');

    const late = await rawGet(PORT, '/page', { cookie: oldCookie, accept: 'application/json' });
    assert.equal(late.status, 200, 'the previous cookie is still served in the grace period');
    const set = [].concat(late.headers['set-cookie'] || []).find((c) => c.startsWith('oauth2_op='));
    assert.ok(set, 'with the refreshed session');
    const handed = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', set.split(';')[0]);
    assert.equal(handed.refresh_token, second.refresh_token, 'the refresh result from before the reload');
    assert.equal(tokenPosts(), posts + 1, 'no second refresh call (the OP would see a reused refresh token)');
  });
});
