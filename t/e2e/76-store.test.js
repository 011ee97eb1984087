'use strict';

// session_store redis: server-side sessions in a real redis-server
// (Debian's), three nginx hosts (two workers each) with the real OP.
//
// - alice logs in through A: her cookie is a small ticket (asserted
//   size), it works on A, B and C (the jar is per host name, as behind a
//   load balancer).  Redis holds one PREFIXsession:{32 hex} key with a
//   TTL; its value holds none of her tokens, sub, email or sid in clear.
// - RP-initiated logout on B: a copy of the old cookie is refused on A
//   and C at once (the key is gone from Redis).
// - Back-channel logout of bob posted to C: A and B refuse his session
//   within 1 s (the fleet's revocations; the session opened from Redis is
//   checked as a cookie session is).
// - Redis stopped: carol's requests get 503 quickly (< 100 ms), never a
//   pass, and each worker logs the outage once however many requests
//   come; Redis started again: a new login works and passes on B.
// - A 20 KB ID token kept in the session (the fake provider's
//   idt-big-20000, $oauth2_id_token): the login completes, the cookie
//   stays small, the upstream gets the whole token on the next request.
//
// nginx on E2E_NGINX_PORT+62..+64 and +66, redis-server on +65.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
  sleep, startProcess, waitForPort,
} = require('./lib');
const { rawGet, troubleLines } = require('./lib/matrix');

const ENV_NAME = '76-store';
const PORTS = { A: config.NGINX_PORT + 62, B: config.NGINX_PORT + 63, C: config.NGINX_PORT + 64 };
const BIG_PORT = config.NGINX_PORT + 66;
const REDIS_PORT = config.NGINX_PORT + 65;
const ORIGIN_A = `http://127.0.0.1:${PORTS.A}`;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const REDIS_BIN = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN || '/usr/bin/redis-cli';

// a ticket: base64url of version, nonce, 49 bytes, tag, plus the name
const TICKET_MAX = 160;

const now = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(x).toString('base64url');

function mint(payload, key) {
  const header = { alg: 'RS256', typ: 'logout+jwt', kid: key.kid };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig = crypto.sign('sha256', Buffer.from(input), key.privateKey).toString('base64url');
  return `${input}.${sig}`;
}

function cli(...args) {
  const r = spawnSync(REDIS_CLI, ['-p', String(REDIS_PORT), '--raw', ...args], { encoding: 'latin1' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.replace(/\n$/, '');
}

async function startRedis(env) {
  const dir = path.join(env.dir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const proc = await startProcess(REDIS_BIN, {
    name: 'redis-server',
    args: ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', dir],
    logFile: path.join(dir, 'redis.log'),
    stdinPipe: false,
  });
  await waitForPort(REDIS_PORT, { timeoutMs: 10000 });
  return proc;
}

function sessionCookie(client, origin) {
  return client.jar.cookies.find((c) => c.name === 'oauth2_op' && c.value);
}

describe('session_store redis: three hosts, sessions in Redis', moduleTestOptions(), () => {
  let env;
  let op;
  let opKey;
  let redis;
  let backend;
  const hosts = {};
  const seen = {};
  const alice = new HttpClient();
  const bob = new HttpClient();

  const hostConf = (port) => `
oauth2_redis redis://127.0.0.1:${REDIS_PORT}/0;
oauth2_provider op {
    issuer                  ${op.issuer};
    client_id               ${config.OP_CLIENT.id};
    client_secret           env:OP_SECRET;
    scope                   "openid email profile";
    backchannel_logout_uri  /oauth2/backchannel;
    logout_uri              /logout;
    post_logout_uri         /bye;
    session_store           redis;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_set_header X-Sid $oauth2_claim_sid;
        proxy_set_header X-Sub $oauth2_claim_sub;
        proxy_set_header X-Token $oauth2_access_token;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`;

  const status = async (host, cookie) => {
    const t = Date.now();
    const res = await rawGet(PORTS[host], '/page', { cookie, accept: 'application/json' });
    return { status: res.status, ms: Date.now() - t, body: res.body };
  };

  const statuses = async (host, cookie, n = 6) => [...new Set(
    (await Promise.all(Array.from({ length: n }, () => status(host, cookie)))).map((r) => r.status),
  )];

  const cookieOf = (client) => client.jar.header(`${ORIGIN_A}/`);

  before(async () => {
    env = await createEnv(ENV_NAME);
    redis = await startRedis(env);
    env.own(redis, 'redis');
    const keysFile = path.join(env.dir, 'op-keys.json');
    fs.rmSync(keysFile, { force: true });
    op = await env.op({
      redirectUris: [`${ORIGIN_A}/oauth2/callback`],
      postLogoutRedirectUris: [`${ORIGIN_A}/bye`],
      backchannelLogoutUri: `${ORIGIN_A}/oauth2/backchannel`,
      extraArgs: ['--keys', keysFile],
    });
    const jwk = JSON.parse(fs.readFileSync(keysFile, 'utf8')).keys.find((k) => k.alg === 'RS256');
    opKey = { kid: jwk.kid, privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
    backend = await env.backend();
    for (const h of ['A', 'B', 'C']) {
      hosts[h] = await env.nginx({
        name: `${ENV_NAME}-${h.toLowerCase()}`,
        port: PORTS[h],
        workerProcesses: 2,
        env: { OP_SECRET: config.OP_CLIENT.secret },
        http: hostConf(PORTS[h]),
      });
    }
    for (const [client, login] of [[alice, 'alice'], [bob, 'bob']]) {
      const flow = await followLogin(client, `${ORIGIN_A}/page`, { login });
      assert.equal(flow.response.status, 200, describeHops(flow.hops));
      seen[login] = { ...backend.last().headers };
    }
  });

  after(() => env && env.stop());

  test('the cookie is a small ticket that works on every host', async () => {
    const c = sessionCookie(alice);
    assert.ok(c, 'a session cookie');
    assert.ok(c.value.length <= TICKET_MAX, `a ticket of ${c.value.length} bytes`);
    assert.ok(seen.alice['x-token'] && seen.alice['x-sid'], 'the upstream got the token and sid');
    for (const h of ['A', 'B', 'C']) {
      assert.deepEqual(await statuses(h, cookieOf(alice)), [200], `alice on ${h}`);
      assert.deepEqual(await statuses(h, cookieOf(bob)), [200], `bob on ${h}`);
    }
  });

  test('Redis holds the sessions sealed: no token, sub, email or sid in clear', () => {
    const keys = cli('KEYS', '*').split('\n').filter((k) => k.startsWith('oauth2:session:'));
    assert.equal(keys.length, 2, `keys: ${keys.join(', ')}`);
    for (const k of keys) {
      assert.match(k, /^oauth2:session:\{[0-9a-f]{32}\}$/);
      const ttl = Number(cli('PTTL', k));
      assert.ok(ttl > 0 && ttl <= 8 * 3600 * 1000, `TTL ${ttl}`);
      const value = cli('GET', k);
      assert.ok(value.length > 200, 'the whole session is there');
      for (const who of ['alice', 'bob']) {
        for (const h of ['x-token', 'x-sid', 'x-sub', 'x-email']) {
          const secret = seen[who][h];
          assert.ok(secret, `${who} ${h}`);
          // too short to be told from chance in 2 KB of base64url
          if (secret.length < 5) continue;
          assert.ok(!value.includes(secret), `${who}'s ${h} in the Redis value`);
          assert.ok(!value.includes(b64u(secret)), `${who}'s ${h} (base64url) in the Redis value`);
        }
      }
    }
    // the key is not the ticket
    assert.ok(!keys.some((k) => sessionCookie(alice).value.includes(k.slice(16, 48))));
  });

  test('RP-initiated logout on B: the old cookie is refused on A and C at once', async () => {
    const old = cookieOf(alice);
    const res = await rawGet(PORTS.B, '/logout', { cookie: old, 'sec-fetch-site': 'same-origin' });
    assert.ok([302, 303].includes(res.status), `${res.status} ${res.body}`);
    assert.match(res.location, /id_token_hint=/, 'the session was read for the hint');
    for (const h of ['A', 'C', 'B']) {
      assert.deepEqual(await statuses(h, old), [401], `alice's old cookie on ${h}`);
    }
    const left = cli('KEYS', 'oauth2:session:*').split('\n').filter(Boolean);
    assert.equal(left.length, 1, 'only bob\'s session is left');
    assert.deepEqual(await statuses('A', cookieOf(bob)), [200], 'bob goes on');
  });

  test('back-channel logout posted to C: A and B refuse the session within 1 s', async () => {
    await sleep(1100); // a logout ends the sessions created before it
    const iat = now();
    const token = mint({
      iss: op.issuer, aud: config.OP_CLIENT.id, iat, exp: iat + 120,
      jti: crypto.randomBytes(12).toString('base64url'),
      events: { [EVENT]: {} }, sub: seen.bob['x-sub'], sid: seen.bob['x-sid'],
    }, opKey);
    const t0 = Date.now();
    const res = await new HttpClient().post(`http://127.0.0.1:${PORTS.C}/oauth2/backchannel`,
      { form: { logout_token: token } });
    assert.equal(res.status, 200, res.body);
    const times = {};
    for (const h of ['A', 'B', 'C']) {
      for (;;) {
        const s = await statuses(h, cookieOf(bob), 4);
        if (s.length === 1 && s[0] === 401) { times[h] = Date.now() - t0; break; }
        assert.ok(Date.now() - t0 < 1000, `${h} still accepts bob: ${s}`);
        await sleep(10);
      }
    }
    process.stderr.write(`# back-channel logout from C refused on A ${times.A} ms, B ${times.B} ms\n`);
  });

  test('Redis stopped: 503 at once, one error line per worker; restarted: logins work', async () => {
    const carol = new HttpClient();
    const flow = await followLogin(carol, `${ORIGIN_A}/page`, { login: 'carol' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    await redis.stop();
    await sleep(100);
    let slowest = 0;
    for (let i = 0; i < 20; i++) {
      for (const h of ['A', 'B', 'C']) {
        const r = await status(h, cookieOf(carol));
        assert.equal(r.status, 503, `carol on ${h} while Redis is down: ${r.body.slice(0, 200)}`);
        slowest = Math.max(slowest, r.ms);
      }
    }
    process.stderr.write(`# slowest 503 while Redis was down: ${slowest} ms\n`);
    assert.ok(slowest < 100, `a refusal took ${slowest} ms`);
    for (const h of ['A', 'B', 'C']) {
      const lines = hosts[h].errorLog().split('\n').filter((l) => /session_store redis: .*503/.test(l));
      assert.ok(lines.length >= 1 && lines.length <= 2, `${h}: ${lines.length} lines\n${lines.join('\n')}`);
    }

    redis = await startRedis(env);
    env.own(redis, 'redis');
    const t0 = Date.now();
    for (;;) {
      const back = ['A', 'B'].every((h) => /oauth2 redis .*commands.* reachable again/.test(hosts[h].errorLog()));
      if (back) break;
      assert.ok(Date.now() - t0 < 6000, 'the hosts reconnected');
      await sleep(50);
    }
    // Redis restarted empty: carol's session is gone, a new login works
    assert.deepEqual(await statuses('A', cookieOf(carol)), [401]);
    const dave = new HttpClient();
    const again = await followLogin(dave, `${ORIGIN_A}/page`, { login: 'dave' });
    assert.equal(again.response.status, 200, describeHops(again.hops));
    assert.deepEqual(await statuses('B', cookieOf(dave)), [200], 'dave on B');
  });

  test('no worker trouble', () => {
    for (const h of Object.keys(hosts)) {
      const trouble = troubleLines(hosts[h].errorLog())
        .filter((l) => !/oauth2 redis .* unavailable|session_store redis: /.test(l));
      assert.deepEqual(trouble, [], h);
    }
  });
});

describe('session_store redis: a session bigger than any cookie', moduleTestOptions(), () => {
  let env;
  let fake;
  let backend;
  let nginx;
  const ORIGIN = `http://127.0.0.1:${BIG_PORT}`;

  before(async () => {
    env = await createEnv(`${ENV_NAME}-big`);
    env.own(await startRedis(env), 'redis');
    fake = await env.fake();
    backend = await env.backend();
    nginx = await env.nginx({
      port: BIG_PORT,
      http: `
oauth2_redis redis://127.0.0.1:${REDIS_PORT};
oauth2_provider big {
    issuer         ${fake.issuer('idt-big-20000')};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    session_store  redis;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${BIG_PORT};
    location / {
        oauth2 big;
        proxy_pass http://127.0.0.1:${backend.port};
    }
    location = /token {
        oauth2 big;
        proxy_method POST;
        proxy_set_body $oauth2_id_token;
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
    });
  });
  after(() => env && env.stop());

  test('a 20 KB ID token is kept; the cookie stays small', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`);
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const c = client.jar.cookies.filter((x) => x.name.startsWith('oauth2_big') && x.value);
    assert.equal(c.length, 1, 'one cookie, no chunks');
    assert.ok(c[0].value.length <= TICKET_MAX, `a ticket of ${c[0].value.length} bytes`);
    const again = await client.navigate(`${ORIGIN}/token`);
    assert.equal(again.status, 200, again.body.slice(0, 300));
    const idt = backend.last().body;
    assert.ok(idt.length > 20000, `nginx has an ID token of ${idt.length} bytes`);
    assert.equal(idt.split('.').length, 3, 'a JWS');
    assert.doesNotMatch(nginx.errorLog(), /not kept|does not fit/);
  });
});
