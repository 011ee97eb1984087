'use strict';

// The fleet benchmark (./build.sh bench fleet): what oauth2_redis costs and
// how fast a logout travels.
//
// - Hot path: one nginx worker with oauth2_redis set (a local
//   redis-server) and cookie sessions; the requests/s of a protected
//   location with a valid session against the same static file
//   unprotected (same Cookie header), and the same pair on an identical
//   nginx without oauth2_redis.  Rounds alternate the four runs; the
//   figure is the median of the per-round ratios.
// - Revocation propagation: three hosts (two workers each) on that
//   Redis; BENCH_FLEET_LOGOUTS logouts posted to host A, each for a
//   session minted for it, and the time until hosts B and C refuse that
//   session (polled every millisecond or so, each poll a request), p50
//   and p99.
//
// - session_store redis: a third nginx (one worker) whose provider keeps
//   its sessions in that Redis; a session made by a login through the
//   fake provider; the same protected / unprotected pair, alternated with
//   the plain nginx's, so each round also gives protected with the store
//   against protected with cookie sessions.  And the Redis round trip
//   itself: sequential PINGs from node on one connection, median and p99.
//
// Ports: nginx BENCH_NGINX_PORT+20..+24 and +27, redis-server +25, the
// logout keys' JWKS +26, the fake provider BENCH_FAKE_PORT.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const {
  e2e, settings, log, createEnv, mainConf, wrk, median, fmtMs, markdownTable,
  machineText, setupText, report,
} = require('./lib');
const seal = require('../t/tools/seal');

const { config, startProcess, waitForPort, sleep } = e2e;
const net = require('node:net');

const P = settings.NGINX_PORT + 20;
const REDIS_PORT = settings.NGINX_PORT + 25;
const JWKS_PORT = settings.NGINX_PORT + 26;
const STORE_PORT = settings.NGINX_PORT + 27;
const LOGOUTS = Number(process.env.BENCH_FLEET_LOGOUTS || 50);
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const now = () => Math.floor(Date.now() / 1000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function get(port, p, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, headers: { cookie, accept: 'application/json' } },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
  });
}

function post(port, p, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: p, method: 'POST', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

/** n sequential PINGs on one connection: their round trips in ms */
function pings(n) {
  return new Promise((resolve, reject) => {
    const times = [];
    const sock = net.connect(REDIS_PORT, '127.0.0.1');
    let t0;
    let buf = '';
    const send = () => { t0 = process.hrtime.bigint(); sock.write('PING\r\n'); };
    sock.on('connect', send);
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d.toString();
      while (buf.includes('\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n') + 2);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (times.length === n) { sock.end(); resolve(times); return; }
        send();
      }
    });
  });
}

async function main() {
  const env = await createEnv('bench-fleet');
  try {
    const dir = path.join(env.dir, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    env.own(await startProcess('/usr/bin/redis-server', {
      name: 'redis-server',
      args: ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      stdinPipe: false,
    }), 'redis');
    await waitForPort(REDIS_PORT);

    const fake = await env.fake({ port: settings.FAKE_PORT });
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', use: 'sig', alg: 'RS256' };
    const jwks = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise((r) => jwks.listen(JWKS_PORT, '127.0.0.1', r));
    env.own({ close: () => new Promise((r) => { jwks.close(r); jwks.closeAllConnections(); }) }, 'jwks');
    const issuer = fake.issuer('ok');

    const conf = (port, redis, extraServer = '', store = '') => `
${redis ? `oauth2_redis redis://127.0.0.1:${REDIS_PORT};` : ''}
oauth2_provider bc {
    ${store}
    issuer                  ${issuer};
    ${store ? '' : `jwks_uri                http://127.0.0.1:${JWKS_PORT}/jwks;`}
    client_id               ${config.FAKE_CLIENT.id};
    client_secret           ${config.FAKE_CLIENT.secret};
    backchannel_logout_uri  /oauth2/backchannel;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};
access_log off;

server {
    listen 127.0.0.1:${port};
    location /plain/ { oauth2 off; alias html/; }
    location /p/ { oauth2 bc; alias html/; }
    ${extraServer}
}`;

    const cookie = (sub, sid) => seal.sessionCookie([config.COOKIE_SECRET], 'oauth2_bc', {
      sub,
      created: now() - 100,
      expires: now() + 3600,
      claims: { email: `${sub}@example.com`, sid },
    });

    // ---------------------------------------------------- hot path
    const hot = {};
    for (const [name, port, redis] of [['redis', P, true], ['plain', P + 1, false]]) {
      hot[name] = await env.nginx({ name: `bench-fleet-${name}`, port, main: mainConf(), http: conf(port, redis) });
      fs.writeFileSync(path.join(hot[name].prefix, 'html', 'index.html'), 'hello\n');
    }
    const c = cookie('hot', 'sid-hot');
    for (const port of [P, P + 1]) {
      if (await get(port, '/p/index.html', c) !== 200) throw new Error(`port ${port}: the session is refused`);
    }
    hot.store = await env.nginx({
      name: 'bench-fleet-store', port: STORE_PORT, main: mainConf(),
      http: conf(STORE_PORT, true, 'location /oauth2/ { oauth2 bc; }', 'session_store redis;'),
    });
    fs.writeFileSync(path.join(hot.store.prefix, 'html', 'index.html'), 'hello\n');
    const client = new e2e.HttpClient();
    const flow = await e2e.followLogin(client, `http://127.0.0.1:${STORE_PORT}/p/index.html`);
    if (flow.response.status !== 200) throw new Error(`session_store redis: login ${flow.response.status}\n${e2e.describeHops(flow.hops)}`);
    const ticket = client.jar.header(`http://127.0.0.1:${STORE_PORT}/`);
    if (await get(STORE_PORT, '/p/index.html', ticket) !== 200) throw new Error('the stored session is refused');
    const extra = ['-H', `Cookie: ${c}`];
    const extraFor = { redis: extra, plain: extra, store: ['-H', `Cookie: ${ticket}`] };
    const rounds = { redis: [], plain: [], store: [] };
    const rps = {
      redisP: [], redisU: [], plainP: [], plainU: [], storeP: [], storeU: [],
    };
    for (let i = 0; i < settings.RUNS; i += 1) {
      for (const [name, port] of [['redis', P], ['plain', P + 1], ['store', STORE_PORT]]) {
        const u = await wrk(`http://127.0.0.1:${port}/plain/index.html`, { extra: extraFor[name] });
        const p = await wrk(`http://127.0.0.1:${port}/p/index.html`, { extra: extraFor[name] });
        if (u.errors || p.errors) throw new Error(`${name}: wrk errors`);
        rounds[name].push(p.rps / u.rps);
        rps[`${name}P`].push(p.rps);
        rps[`${name}U`].push(u.rps);
      }
      log(`round ${i + 1}/${settings.RUNS}: with Redis ${rounds.redis[i].toFixed(3)}, without ${rounds.plain[i].toFixed(3)}, session_store redis ${rounds.store[i].toFixed(3)}`);
    }
    const rtt = await pings(2000);
    for (const n of Object.values(hot)) await n.stop();

    // ---------------------------------------------------- propagation
    const hosts = [];
    for (let i = 0; i < 3; i += 1) {
      hosts.push(await env.nginx({
        name: `bench-fleet-host${i}`, port: P + 2 + i, workerProcesses: 2, http: conf(P + 2 + i, true),
      }));
      fs.writeFileSync(path.join(hosts[i].prefix, 'html', 'index.html'), 'hello\n');
    }
    await sleep(500);
    const times = { B: [], C: [] };
    for (let i = 0; i < LOGOUTS; i += 1) {
      const sid = `sid-${i}-${crypto.randomBytes(4).toString('hex')}`;
      const s = cookie(`u${i}`, sid);
      for (const h of [1, 2]) {
        if (await get(P + 2 + h, '/p/index.html', s) !== 200) throw new Error('the session is refused before');
      }
      await sleep(1100 - (Date.now() % 1000));   // a second after "created"
      const iat = now();
      const hdr = { alg: 'RS256', typ: 'logout+jwt', kid: 'bench' };
      const payload = {
        iss: issuer, aud: config.FAKE_CLIENT.id, iat, exp: iat + 120,
        jti: crypto.randomBytes(12).toString('base64url'), events: { [EVENT]: {} }, sid,
      };
      const input = `${Buffer.from(JSON.stringify(hdr)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      const token = `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
      const t0 = process.hrtime.bigint();
      const st = await post(P + 2, '/oauth2/backchannel', `logout_token=${token}`);
      if (st !== 200) throw new Error(`logout: ${st}`);
      const done = {};
      while (!done.B || !done.C) {
        for (const [k, h] of [['B', 1], ['C', 2]]) {
          if (done[k]) continue;
          if (await get(P + 2 + h, '/p/index.html', s) === 401) {
            done[k] = true;
            times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (ms > 5000) throw new Error('a logout did not propagate in 5 s');
      }
    }
    const all = [...times.B, ...times.C];

    const md = [
      '# Fleet mode (oauth2_redis)',
      '',
      machineText(),
      setupText() ? `\n${setupText()}` : '',
      '',
      `## Hot path: valid cookie session vs the same file unprotected, ${settings.RUNS} rounds of ${settings.DURATION} s`,
      '',
      markdownTable(['nginx', 'protected req/s (median)', 'unprotected req/s (median)', 'ratio (median of rounds)'], [
        ['with oauth2_redis', median(rps.redisP).toFixed(0), median(rps.redisU).toFixed(0), median(rounds.redis).toFixed(3)],
        ['without', median(rps.plainP).toFixed(0), median(rps.plainU).toFixed(0), median(rounds.plain).toFixed(3)],
      ]),
      '',
      `Protected location, with oauth2_redis against without (median of the per-round ratios): ${median(rps.redisP.map((x, i) => x / rps.plainP[i])).toFixed(3)}.`,
      '',
      `## Revocation propagation, ${LOGOUTS} logouts posted to host A (two workers per host)`,
      '',
      markdownTable(['refused on', 'p50', 'p99', 'max'], [
        ['host B', fmtMs(percentile(times.B, 50)), fmtMs(percentile(times.B, 99)), fmtMs(Math.max(...times.B))],
        ['host C', fmtMs(percentile(times.C, 50)), fmtMs(percentile(times.C, 99)), fmtMs(Math.max(...times.C))],
        ['both', fmtMs(percentile(all, 50)), fmtMs(percentile(all, 99)), fmtMs(Math.max(...all))],
      ]),
      '',
      'The times include the POST to A (its answer comes after the logout is recorded, kept and published) and the polling requests.',
      '',
      `## session_store redis: the same pair with sessions in Redis (one GET per request), ${settings.RUNS} rounds`,
      '',
      markdownTable(['nginx', 'protected req/s (median)', 'unprotected req/s (median)', 'ratio (median of rounds)'], [
        ['session_store redis', median(rps.storeP).toFixed(0), median(rps.storeU).toFixed(0), median(rounds.store).toFixed(3)],
      ]),
      '',
      `Protected with session_store redis against protected with cookie sessions and no oauth2_redis (median of the per-round ratios): ${median(rps.storeP.map((x, i) => x / rps.plainP[i])).toFixed(3)}.`,
      '',
      `Redis round trip (2000 sequential PINGs from node on one connection): p50 ${fmtMs(percentile(rtt, 50))}, p99 ${fmtMs(percentile(rtt, 99))}.`,
    ].join('\n');
    report('fleet', md);
  } finally {
    agent.destroy();
    await env.stop();
  }
}

main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(1); });
