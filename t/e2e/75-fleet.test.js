'use strict';

// Fleet mode (oauth2_redis): several nginx hosts share back-channel
// logouts through a real redis-server (Debian's), with the real OP.
//
// - Three hosts A, B, C (two workers each) and one redis-server started
//   here on a loopback port.  alice and bob log in through A (the cookie
//   jar is per host name, so the same cookies reach B and C, as behind a
//   load balancer); a logout token for alice, signed with the OP's key,
//   is posted to A: B and C refuse her session within 1 s (the time is
//   measured and printed); bob goes on.  The same token replayed to B is
//   refused (the jti travelled with the revocation).
// - A fourth host D started after the logout refuses alice too (it reads
//   the revocations kept in Redis when its workers connect).
// - Redis stopped mid-run: requests with bob's session on every host stay
//   under 100 ms and pass (the local mirrors), one error line per Redis
//   connection, not per request; Redis started again (empty: it keeps
//   nothing on disk here): the hosts reconnect and a logout posted to B
//   reaches C within 1 s.
// - A reload of A: its old workers exit at once (their Redis connections
//   keep nothing waiting), the new ones hear a logout posted to C.
//
// - Refresh single flight across hosts (the real OP with 5 s access
//   tokens, rotating refresh tokens): 30 parallel requests with alice's
//   expired session, spread over A, B and C, make exactly one refresh
//   grant at the OP (its "POST /token" lines) and all get 200 with the
//   one new access token.
//
// - Redis with a password: a host with the right one (env:) connects
//   (its four connections are listed by CLIENT LIST); a host with a
//   wrong one logs Redis's refusal once per connection however often it
//   retries, never the password, and serves without waiting.
//
// nginx on E2E_NGINX_PORT+50..+53, redis-server on E2E_NGINX_PORT+54.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
  sleep, startProcess, waitForPort,
} = require('./lib');
const { rawGet, troubleLines } = require('./lib/matrix');
const seal = require('../tools/seal');

const ENV_NAME = '75-fleet';
const PORTS = { A: config.NGINX_PORT + 50, B: config.NGINX_PORT + 51, C: config.NGINX_PORT + 52, D: config.NGINX_PORT + 53 };
const REDIS_PORT = config.NGINX_PORT + 54;
const ORIGIN_A = `http://127.0.0.1:${PORTS.A}`;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const REDIS_BIN = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';

const now = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(x).toString('base64url');

function mint(payload, key) {
  const header = { alg: 'RS256', typ: 'logout+jwt', kid: key.kid };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig = crypto.sign('sha256', Buffer.from(input), key.privateKey).toString('base64url');
  return `${input}.${sig}`;
}

async function startRedis(env, extra = []) {
  const dir = path.join(env.dir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const proc = await startProcess(REDIS_BIN, {
    name: 'redis-server',
    args: ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', dir, ...extra],
    logFile: path.join(dir, 'redis.log'),
    stdinPipe: false,
  });
  await waitForPort(REDIS_PORT, { timeoutMs: 10000 });
  return proc;
}

describe('fleet mode: three hosts share back-channel logouts through Redis', moduleTestOptions(), () => {
  let env;
  let op;
  let opKey;
  let redis;
  const hosts = {};
  const alice = new HttpClient();
  const bob = new HttpClient();
  let aliceSid;
  let bobSid;

  const hostConf = (port) => `
oauth2_redis redis://127.0.0.1:${REDIS_PORT}/0;
oauth2_provider op {
    issuer                  ${op.issuer};
    client_id               ${config.OP_CLIENT.id};
    client_secret           env:OP_SECRET;
    scope                   "openid email profile";
    backchannel_logout_uri  /oauth2/backchannel;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${config.BACKEND_PORT};
    }
}`;

  const startHost = async (name) => {
    hosts[name] = await env.nginx({
      name: `${ENV_NAME}-${name.toLowerCase()}`,
      port: PORTS[name],
      workerProcesses: 2,
      env: { OP_SECRET: config.OP_CLIENT.secret },
      http: hostConf(PORTS[name]),
    });
    return hosts[name];
  };

  const status = async (host, client) => {
    const res = await rawGet(PORTS[host], '/page', {
      cookie: client.jar.header(`${ORIGIN_A}/`), accept: 'application/json',
    });
    return res.status;
  };

  /** n requests on separate connections (both workers) */
  const statuses = async (host, client, n = 6) => [...new Set(
    await Promise.all(Array.from({ length: n }, () => status(host, client))),
  )];

  /** ms until every request to host with client's session gets 401 */
  const untilRefused = async (host, client, t0, limit = 3000) => {
    for (;;) {
      const s = await statuses(host, client, 4);
      if (s.length === 1 && s[0] === 401) return Date.now() - t0;
      if (Date.now() - t0 > limit) return Infinity;
      await sleep(10);
    }
  };

  const logoutToken = (sub, sid) => {
    const iat = now();
    return mint({
      iss: op.issuer,
      aud: config.OP_CLIENT.id,
      iat,
      exp: iat + 120,
      jti: crypto.randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} },
      sub,
      sid,
    }, opKey);
  };

  const post = (host, token) => new HttpClient().post(
    `http://127.0.0.1:${PORTS[host]}/oauth2/backchannel`, { form: { logout_token: token } },
  );

  before(async () => {
    env = await createEnv(ENV_NAME);
    redis = await startRedis(env);
    env.own(redis, 'redis');
    const keysFile = path.join(env.dir, 'op-keys.json');
    fs.rmSync(keysFile, { force: true });
    op = await env.op({
      redirectUris: [`${ORIGIN_A}/oauth2/callback`],
      backchannelLogoutUri: `${ORIGIN_A}/oauth2/backchannel`,
      extraArgs: ['--keys', keysFile],
    });
    const jwk = JSON.parse(fs.readFileSync(keysFile, 'utf8')).keys.find((k) => k.alg === 'RS256');
    opKey = { kid: jwk.kid, privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
    await env.backend();
    for (const h of ['A', 'B', 'C']) await startHost(h);

    for (const [client, login] of [[alice, 'alice'], [bob, 'bob']]) {
      const flow = await followLogin(client, `${ORIGIN_A}/page`, { login });
      assert.equal(flow.response.status, 200, describeHops(flow.hops));
    }
    aliceSid = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', alice.jar.header(`${ORIGIN_A}/`)).claims.sid;
    bobSid = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', bob.jar.header(`${ORIGIN_A}/`)).claims.sid;
    assert.ok(aliceSid && bobSid, 'the sessions keep the ID token\'s sid');
  });

  after(() => env && env.stop());

  test('control: the sessions made on A pass on A, B and C', async () => {
    for (const h of ['A', 'B', 'C']) {
      assert.deepEqual(await statuses(h, alice), [200], `alice on ${h}`);
      assert.deepEqual(await statuses(h, bob), [200], `bob on ${h}`);
    }
  });

  test('a logout posted to A ends the session on B and C within 1 s', async () => {
    // a logout ends the sessions created before it (by a second at least)
    await sleep(1100);
    const token = logoutToken('alice', aliceSid);
    const t0 = Date.now();
    const res = await post('A', token);
    assert.equal(res.status, 200, res.body);
    const times = {};
    await Promise.all(['A', 'B', 'C'].map(async (h) => { times[h] = await untilRefused(h, alice, t0); }));
    process.stderr.write(`# revocation propagation from A: B ${times.B} ms, C ${times.C} ms\n`);
    assert.ok(times.B < 1000, `B refused alice after ${times.B} ms`);
    assert.ok(times.C < 1000, `C refused alice after ${times.C} ms`);
    for (const h of ['A', 'B', 'C']) assert.deepEqual(await statuses(h, bob), [200], `bob on ${h}`);

    // the same token replayed to another host: its jti came with it
    const replay = await post('B', token);
    assert.equal(replay.status, 400, `replay on B: ${replay.status} ${replay.body}`);
  });

  test('a fourth host started after the logout refuses the session too', async () => {
    const t0 = Date.now();
    await startHost('D');
    const ms = await untilRefused('D', alice, t0, 2000);
    process.stderr.write(`# host D refused alice ${ms} ms after its start began\n`);
    assert.ok(ms < 2000, 'D learned the revocation from Redis');
    assert.deepEqual(await statuses('D', alice, 8), [401]);
    assert.deepEqual(await statuses('D', bob), [200], 'bob on D');
  });

  test('Redis stopped: no stall, local mirrors; restarted: the fleet reconnects', async () => {
    await redis.stop();
    const t1 = Date.now();
    let slowest = 0;
    while (Date.now() - t1 < 2500) {
      for (const h of ['A', 'B', 'C', 'D']) {
        const t = Date.now();
        assert.equal(await status(h, bob), 200, `bob on ${h} while Redis is down`);
        assert.equal(await status(h, alice), 401, `alice on ${h} while Redis is down`);
        slowest = Math.max(slowest, Date.now() - t);
      }
    }
    process.stderr.write(`# slowest request pair while Redis was down: ${slowest} ms\n`);
    assert.ok(slowest < 200, `two requests took ${slowest} ms`);

    for (const h of ['A', 'B', 'C', 'D']) {
      const lines = hosts[h].errorLog().split('\n').filter((l) => /oauth2 redis .* unavailable/.test(l));
      // one line per outage of each of the two connections of each worker
      assert.ok(lines.length >= 1 && lines.length <= 4, `${h}: ${lines.length} outage lines\n${lines.join('\n')}`);
    }

    redis = await startRedis(env);
    env.own(redis, 'redis');
    // the backoff is at most 2 s
    const t2 = Date.now();
    for (;;) {
      const back = ['B', 'C'].every((h) => /oauth2 redis .* reachable again/.test(hosts[h].errorLog()));
      if (back) break;
      assert.ok(Date.now() - t2 < 5000, 'the hosts reconnected');
      await sleep(50);
    }
    await sleep(300);

    const t0 = Date.now();
    const res = await post('B', logoutToken('bob', bobSid));
    assert.equal(res.status, 200, res.body);
    const ms = await untilRefused('C', bob, t0);
    process.stderr.write(`# after the restart, propagation B -> C: ${ms} ms\n`);
    assert.ok(ms < 1000, `C refused bob after ${ms} ms`);
  });

  test('a reload: the old workers let go of Redis and exit, the new ones connect', async () => {
    const before = hosts.A.errorLog().length;
    hosts.A.reload();
    const t0 = Date.now();
    for (;;) {
      const log = hosts.A.errorLog().slice(before);
      const exited = (log.match(/worker process \d+ exited with code 0/g) || []).length;
      if (exited >= 2) break;
      assert.ok(Date.now() - t0 < 5000, `the old workers exited\n${log}`);
      await sleep(50);
    }
    assert.deepEqual(await statuses('A', alice, 8), [401], 'the zone kept the revocation');
    // the new workers are subscribed: a logout posted to C reaches A
    await sleep(300);
    const carol = new HttpClient();
    const flow = await followLogin(carol, `${ORIGIN_A}/page`, { login: 'carol' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const sid = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', carol.jar.header(`${ORIGIN_A}/`)).claims.sid;
    await sleep(1100);
    const t1 = Date.now();
    assert.equal((await post('C', logoutToken('carol', sid))).status, 200);
    const ms = await untilRefused('A', carol, t1);
    assert.ok(ms < 1000, `A refused carol after ${ms} ms`);
  });

  test('no worker trouble', () => {
    for (const h of Object.keys(hosts)) {
      const trouble = troubleLines(hosts[h].errorLog())
        .filter((l) => !/oauth2 redis .* unavailable/.test(l));
      assert.deepEqual(trouble, [], h);
    }
  });
});

describe('fleet mode: one refresh for the fleet', moduleTestOptions(), () => {
  const BURST = 30;
  let env;
  let op;
  const hosts = {};
  const seen = [];

  before(async () => {
    env = await createEnv(`${ENV_NAME}-refresh`);
    env.own(await startRedis(env), 'redis');
    op = await env.op({ redirectUris: [`${ORIGIN_A}/cb/op`], accessTtl: 5, idTtl: 3600 });
    await env.backend({
      handler: (req, res) => {
        seen.push({ host: req.headers['x-host'], token: (req.headers.authorization || '').replace(/^Bearer /, '') });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('backend\n');
      },
    });
    for (const h of ['A', 'B', 'C']) {
      hosts[h] = await env.nginx({
        name: `${ENV_NAME}-refresh-${h.toLowerCase()}`,
        port: PORTS[h],
        workerProcesses: 2,
        env: { OP_SECRET: config.OP_CLIENT.secret },
        http: `
oauth2_redis redis://127.0.0.1:${REDIS_PORT};
${op.providerConf('op', 'scope "openid email offline_access"; refresh_margin 1s;')}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORTS[h]};
    location / {
        oauth2 op;
        proxy_set_header Authorization "Bearer $oauth2_access_token";
        proxy_set_header X-Host ${h};
        proxy_pass http://127.0.0.1:${config.BACKEND_PORT};
    }
}`,
      });
    }
  });

  after(() => env && env.stop());

  const tokenPosts = () => (op.proc.stdout().match(/^op: POST \/token -> 200/gm) || []).length;

  test('30 parallel requests with an expired session over three hosts: one refresh grant, all 200', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN_A}/page`, { login: 'alice' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const session = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', client.jar.header(`${ORIGIN_A}/`));
    assert.ok(session.refresh_token && session.access_token, 'the session keeps its tokens');
    const posts = tokenPosts();

    await sleep(Math.max(0, (session.access_expires - now()) * 1000) + 500);
    seen.length = 0;
    const cookie = client.jar.header(`${ORIGIN_A}/`);
    const hostOf = (i) => ['A', 'B', 'C'][i % 3];
    const t0 = Date.now();
    const res = await Promise.all(Array.from({ length: BURST }, (_, i) => rawGet(PORTS[hostOf(i)], `/api/${i}`, {
      cookie, accept: 'application/json',
    }, { timeoutMs: 20000 })));
    process.stderr.write(`# fleet refresh burst: ${Date.now() - t0} ms for ${BURST} requests\n`);

    const dump = () => Object.values(hosts).map((h) => h.errorLog().slice(-1500)).join('\n');
    assert.deepEqual(res.map((r) => r.status), Array(BURST).fill(200), dump());
    assert.equal(tokenPosts() - posts, 1, `one refresh grant for the fleet\n${dump()}`);
    assert.equal(seen.length, BURST, 'every request reached the upstream');
    assert.deepEqual([...new Set(seen.map((s) => s.host))].sort(), ['A', 'B', 'C']);
    assert.equal(new Set(seen.map((s) => s.token)).size, 1, 'all with the one refreshed token');
    assert.notEqual(seen[0].token, session.access_token, 'not the expired access token');
    for (const r of res) assert.match(r.headers['set-cookie'] ? r.headers['set-cookie'].join(';') : '', /oauth2_op=/);
  });

  test('no worker trouble', () => {
    for (const h of Object.keys(hosts)) assert.deepEqual(troubleLines(hosts[h].errorLog()), [], h);
  });
});

describe('fleet mode: a Redis that asks for a password', moduleTestOptions(), () => {
  let env;
  const hosts = {};
  const PW = 'fleet-test-s3cret';
  const WRONG = 'not-the-Password-9';

  const conf = (port, pw) => `
oauth2_redis redis://127.0.0.1:${REDIS_PORT}/3;
oauth2_redis_password ${pw};
oauth2_redis_prefix test-fleet:;
oauth2_provider op {
    issuer         http://127.0.0.1:${config.OP_PORT};
    client_id      ${config.OP_CLIENT.id};
    client_secret  x;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    location /public { oauth2 off; return 200 "public\\n"; }
}`;

  before(async () => {
    env = await createEnv(`${ENV_NAME}-auth`);
    env.own(await startRedis(env, ['--requirepass', PW]), 'redis');
    hosts.A = await env.nginx({
      name: `${ENV_NAME}-auth-a`, port: PORTS.A, workerProcesses: 2, env: { REDIS_PW: PW }, http: conf(PORTS.A, 'env:REDIS_PW'),
    });
    hosts.B = await env.nginx({
      name: `${ENV_NAME}-auth-b`, port: PORTS.B, workerProcesses: 2, http: conf(PORTS.B, WRONG),
    });
  });

  after(() => env && env.stop());

  test('the right password: connected; a wrong one: one line per connection, no wait', async () => {
    const t0 = Date.now();
    let slowest = 0;
    // B retries with backoff (100 ms, doubling to 2 s) meanwhile
    while (Date.now() - t0 < 3000) {
      const t = Date.now();
      const res = await rawGet(PORTS.B, '/public', {});
      assert.equal(res.status, 200);
      slowest = Math.max(slowest, Date.now() - t);
      await sleep(50);
    }
    assert.ok(slowest < 100, `a request to B took ${slowest} ms`);

    const cli = spawnSync('/usr/bin/redis-cli', ['-p', String(REDIS_PORT), '--no-auth-warning', '-a', PW, 'CLIENT', 'LIST'],
      { encoding: 'utf8' });
    const inDb3 = cli.stdout.split('\n').filter((l) => / db=3 /.test(l));
    assert.equal(inDb3.length, 4, `A's 2 workers x 2 connections, in database 3:\n${cli.stdout}`);
    assert.ok(inDb3.some((l) => /cmd=subscribe/.test(l)), 'the subscribers');
    assert.deepEqual(hosts.A.errors(), [], 'A connected without trouble');

    const refused = hosts.B.errorLog().split('\n').filter((l) => /oauth2 redis .* refused the connection: WRONGPASS/.test(l));
    assert.ok(refused.length >= 1 && refused.length <= 4, `${refused.length} lines:\n${refused.join('\n')}`);
    assert.ok(!hosts.B.errorLog().includes(WRONG), 'the password is never logged');
    assert.ok(!hosts.A.errorLog().includes(PW), 'the password is never logged');
  });
});
