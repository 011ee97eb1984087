'use strict';

// The worker never waits on the provider.
//
// - No stall: while requests wait on a slow provider (discovery, or the
//   token endpoint), the same single worker answers a static location at
//   once.  With a blocking client (curl_easy_perform in the worker) the
//   worker would sit 2 s in the call and the static requests would take as
//   long: the 100 ms bound fails.
// - Concurrent first requests share one discovery fetch.
// - A client that goes away while it waits (discovery, JWKS or token
//   exchange) ends its request at once (499, an [info] line) without
//   disturbing the other waiters or the worker; under valgrind: no invalid
//   access, no leak from the module.
// - A graceful shutdown is not held up by a fetch in flight.
//
// Ports: nginx on E2E_NGINX_PORT+20, +21 (shutdown) and +22 (valgrind):
// 2006..2008 by default (away from the 1986..1992 of the other files and of
// the providers); the fake provider on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
  NAVIGATE_HEADERS,
} = require('./lib');

const PORT = config.NGINX_PORT + 20;
const QUIT_PORT = config.NGINX_PORT + 21;
const VG_PORT = config.NGINX_PORT + 22;

// the static location must answer within this while logins wait
const FAST_MS = 100;

const ENV_NAME = '05-nonblocking';

/** One oauth2_provider per scenario, each under /p/<name>/ with its own callback. */
function providerConf(fake, name, scenario) {
  return `
oauth2_provider ${name} {
    issuer         ${fake.issuer(scenario)};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    redirect_uri   /p/${name}/callback;
}`;
}

function serverConf(port, root, names) {
  return `
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    root ${root};
    location /static/ {
        oauth2 off;
    }
${names.map((n) => `    location /p/${n}/ {\n        oauth2 ${n};\n    }`).join('\n')}
}`;
}

/** html/static/index.html, and html/p/ok/page: what a logged-in user gets */
function writeStatic(prefix) {
  const html = path.join(prefix, 'html');
  fs.mkdirSync(path.join(html, 'static'), { recursive: true });
  fs.mkdirSync(path.join(html, 'p', 'ok'), { recursive: true });
  fs.writeFileSync(path.join(html, 'static', 'index.html'), 'static\n');
  fs.writeFileSync(path.join(html, 'p', 'ok', 'page'), 'protected page\n');
  for (const d of [html, path.join(html, 'static'), path.join(html, 'p'), path.join(html, 'p', 'ok')]) {
    fs.chmodSync(d, 0o755);
  }
}

/**
 * A GET on its own connection, timed.  Resolves (never rejects) with
 * { status, location, body, headers, ms, error }; abort() closes the socket.
 */
function timedGet(url, headers = {}) {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
  let req;
  let settled = false;
  const done = new Promise((resolve) => {
    req = http.get(url, { headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        resolve({
          status: res.statusCode,
          location: res.headers.location,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: elapsed(),
        });
      });
      res.on('error', (e) => { settled = true; resolve({ error: e.message, ms: elapsed() }); });
    });
    req.on('error', (e) => { settled = true; resolve({ error: e.message, ms: elapsed() }); });
    req.setTimeout(20000, () => req.destroy(new Error('no response within 20 s')));
  });
  return {
    done,
    get settled() { return settled; },
    abort() { req.destroy(); },
  };
}

const navigate = (url, extra = {}) => timedGet(url, { ...NAVIGATE_HEADERS, ...extra });

/** Poll the fake's counter `key` until it reaches `n` (the requests did reach the provider). */
async function waitForHits(fake, key, n, ms = 5000) {
  const deadline = Date.now() + ms;
  let stats;
  for (;;) {
    stats = await fake.stats();
    if ((stats[key] || 0) >= n) return stats;
    if (Date.now() > deadline) {
      throw new Error(`the provider did not see ${n} request(s) to ${key} within ${ms} ms: ${JSON.stringify(stats)}`);
    }
    await sleep(20);
  }
}

/**
 * 20 requests to the static location, 10 one after the other and 10 in two
 * concurrent bursts of 5.  Returns their results.
 */
async function staticRequests(origin) {
  const url = `${origin}/static/index.html`;
  const out = [];
  for (let i = 0; i < 10; i++) out.push(await timedGet(url).done);
  for (let b = 0; b < 2; b++) {
    out.push(...await Promise.all(Array.from({ length: 5 }, () => timedGet(url).done)));
  }
  return out;
}

function assertAllFast(results, what) {
  const summary = results.map((r) => (r.error ? `error(${r.error})` : `${r.status}/${r.ms.toFixed(1)}ms`)).join(' ');
  for (const r of results) {
    assert.equal(r.error, undefined, `${what}: a static request failed: ${summary}`);
    assert.equal(r.status, 200, `${what}: ${summary}`);
    assert.equal(r.body, 'static\n');
    assert.ok(r.ms < FAST_MS, `${what}: a static request took ${r.ms.toFixed(1)} ms (>= ${FAST_MS}) `
      + `while logins waited on the provider: the worker stalled.\n${summary}`);
  }
}

/**
 * Login with `client` up to the callback (not requested): returns the
 * callback URL; the state cookie is in client.jar.
 */
async function loginUntilCallback(client, origin, name) {
  const callback = `${origin}/p/${name}/callback`;
  const flow = await followLogin(client, `${origin}/p/${name}/page`, {
    stopAt: (u) => u.startsWith(`${callback}?`),
  });
  assert.ok(flow.stoppedAt, `the provider sent the browser back to the callback:\n${describeHops(flow.hops)}`);
  return flow.stoppedAt;
}

function callbackRequest(client, url) {
  return navigate(url, { cookie: client.jar.header(url) || '', 'sec-fetch-site': 'cross-site' });
}

/** The worker pids of a master (its children), from /proc. */
function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The lines of an nginx error log at error level or above. */
function seriousLines(log) {
  return log.split('\n').filter((l) => /\[(emerg|alert|crit|error)\]/.test(l));
}

function accessStatuses(ngx, pathPrefix) {
  return ngx.accessLog().split('\n')
    .map((l) => /"GET (\S+) HTTP\/1\.1" (\d{3}) /.exec(l))
    .filter((m) => m && m[1].startsWith(pathPrefix))
    .map((m) => Number(m[2]));
}

describe('the worker never waits on the provider', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  let workers;
  const origin = `http://127.0.0.1:${PORT}`;
  // name -> fake scenario (each its own issuer, so its own caches and counters)
  const providers = {
    stall: 'discovery-slow-2000',
    tokstall: 'token-slow-2000',
    shared: 'discovery-slow-500',
    gone: 'discovery-slow-1500',
    tokgone: 'token-slow-3000',
    jwksgone: 'jwks-slow-3000',
    ok: 'ok',
  };

  before(async () => {
    env = await createEnv(ENV_NAME);
    fake = await env.fake();
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 1,
      http: Object.entries(providers).map(([n, s]) => providerConf(fake, n, s)).join('\n')
        + serverConf(PORT, `${config.SERVROOT}/${ENV_NAME}/html`, Object.keys(providers)),
    });
    writeStatic(ngx.prefix);
    workers = childrenOf(ngx.proc.pid);
    assert.equal(workers.length, 1, `one worker process: ${workers}`);
  });
  after(() => env && env.stop());

  test('no stall: a static location answers within 100 ms while logins wait 2 s on discovery', { timeout: 30000 }, async () => {
    const t0 = Date.now();
    const logins = Array.from({ length: 3 }, (_, i) => navigate(`${origin}/p/stall/page${i}`));
    // the discovery request is at the provider: the fetch is in flight
    await waitForHits(fake, 'discovery-slow-2000/.well-known/openid-configuration', 1);

    const results = await staticRequests(origin);
    const elapsed = Date.now() - t0;
    assertAllFast(results, 'discovery-slow-2000');
    assert.ok(logins.every((l) => !l.settled),
      `the logins still waited while the 20 static requests ran (${elapsed} ms after they started)`);

    for (const l of logins) {
      const r = await l.done;
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.status, 302, `login redirect, got ${r.status} ${r.body}`);
      assert.ok(r.location.startsWith(`${fake.issuer('discovery-slow-2000')}/authorize?`), r.location);
      assert.ok(r.ms >= 1800 && r.ms < 5000, `the login waited for the slow discovery: ${r.ms.toFixed(0)} ms`);
    }
    const stats = await fake.stats();
    assert.equal(stats['discovery-slow-2000/.well-known/openid-configuration'], 1, JSON.stringify(stats));
  });

  test('no stall: a static location answers within 100 ms while code exchanges wait 2 s on the token endpoint', { timeout: 30000 }, async () => {
    const clients = Array.from({ length: 3 }, () => new HttpClient());
    const urls = [];
    for (const c of clients) urls.push(await loginUntilCallback(c, origin, 'tokstall'));
    const callbacks = clients.map((c, i) => callbackRequest(c, urls[i]));
    // three token requests in flight at once
    await waitForHits(fake, 'token-slow-2000/token', 3);

    const results = await staticRequests(origin);
    assertAllFast(results, 'token-slow-2000');
    assert.ok(callbacks.every((c) => !c.settled), 'the callbacks still waited while the static requests ran');

    for (const [i, cb] of callbacks.entries()) {
      const r = await cb.done;
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.status, 302, `callback ${i}: ${r.status} ${r.body}`);
      assert.equal(r.location, `${origin}/p/tokstall/page`, 'back to the page the login started from');
      assert.ok((r.headers['set-cookie'] || []).some((c) => /^oauth2_tokstall=[^;]+/.test(c)),
        `a session cookie: ${r.headers['set-cookie']}`);
      assert.ok(r.ms >= 1800 && r.ms < 6000, `the callback waited for the slow token endpoint: ${r.ms.toFixed(0)} ms`);
    }
  });

  test('20 concurrent first requests share ONE discovery fetch', { timeout: 30000 }, async () => {
    const key = 'discovery-slow-500/.well-known/openid-configuration';
    assert.equal((await fake.stats())[key], undefined, 'nothing fetched this issuer yet');
    const reqs = Array.from({ length: 20 }, (_, i) => navigate(`${origin}/p/shared/r${i}`));
    const results = await Promise.all(reqs.map((r) => r.done));
    const states = new Set();
    for (const [i, r] of results.entries()) {
      assert.equal(r.error, undefined, `request ${i}: ${r.error}`);
      assert.equal(r.status, 302, `request ${i}: ${r.status} ${r.body}`);
      const loc = new URL(r.location);
      assert.equal(`${loc.origin}${loc.pathname}`, `${fake.issuer('discovery-slow-500')}/authorize`);
      states.add(loc.searchParams.get('state'));
      // each request waited for the fetch: none was answered from a cache
      assert.ok(r.ms >= 350, `request ${i} waited for the discovery: ${r.ms.toFixed(0)} ms`);
    }
    assert.equal(states.size, 20, 'each request got its own login (state)');
    const stats = await fake.stats();
    assert.equal(stats[key], 1, `exactly one discovery request for 20 waiting requests: ${JSON.stringify(stats)}`);
  });

  test('a client that goes away during the discovery wait: 499, other waiters served, worker unharmed', { timeout: 30000 }, async () => {
    const before = ngx.errorLog().length;
    const a = navigate(`${origin}/p/gone/first`);
    await waitForHits(fake, 'discovery-slow-1500/.well-known/openid-configuration', 1);
    const b = navigate(`${origin}/p/gone/middle`);
    const c = navigate(`${origin}/p/gone/last`);
    await sleep(200); // b and c are parked behind the fetch too
    b.abort(); // the middle one of three waiters leaves

    // the log line comes when the worker notices, long before the provider answers
    const deadline = Date.now() + 1000;
    while (!/client prematurely closed connection.*GET \/p\/gone\/middle/.test(ngx.errorLog().slice(before))) {
      assert.ok(Date.now() < deadline, `no "client prematurely closed connection" for /p/gone/middle:\n${ngx.errorLog().slice(before)}`);
      await sleep(20);
    }
    assert.ok(!a.settled && !c.settled, 'the other two still wait');

    for (const [n, r] of [['first', await a.done], ['last', await c.done]]) {
      assert.equal(r.status, 302, `${n}: ${r.error || r.status}`);
      assert.ok(r.location.startsWith(`${fake.issuer('discovery-slow-1500')}/authorize?`));
    }
    assert.deepEqual(accessStatuses(ngx, '/p/gone/middle'), [499], 'the request that left is logged as 499');

    const log = ngx.errorLog().slice(before);
    assert.deepEqual(seriousLines(log), [], 'no error, alert or crit line');
    // the worker is the same process and serves a full login
    const r = await new HttpClient().navigate(`${origin}/static/index.html`);
    assert.equal(r.status, 200);
    assert.deepEqual(childrenOf(ngx.proc.pid), workers, 'the worker did not crash and was not respawned');
  });

  test('a client that goes away during the token exchange (and during the JWKS wait): 499, worker unharmed', { timeout: 30000 }, async () => {
    const before = ngx.errorLog().length;
    for (const [name, key] of [['tokgone', 'token-slow-3000/token'], ['jwksgone', 'jwks-slow-3000/jwks']]) {
      const client = new HttpClient();
      const url = await loginUntilCallback(client, origin, name);
      const cb = callbackRequest(client, url);
      await waitForHits(fake, key, 1);
      await sleep(100);
      assert.ok(!cb.settled, `${name}: the callback waits on ${key}`);
      cb.abort();
      const deadline = Date.now() + 1000;
      const re = new RegExp(`client prematurely closed connection.*GET /p/${name}/callback`);
      while (!re.test(ngx.errorLog().slice(before))) {
        assert.ok(Date.now() < deadline, `${name}: no "client prematurely closed connection":\n${ngx.errorLog().slice(before)}`);
        await sleep(20);
      }
      assert.deepEqual(accessStatuses(ngx, `/p/${name}/callback`), [499], `${name}: the callback is logged as 499`);
    }
    // let the provider answer the abandoned requests: nothing may happen then
    await sleep(3200);
    assert.deepEqual(seriousLines(ngx.errorLog().slice(before)), [], 'no error, alert or crit line');

    // the worker still does a whole login (token exchange, JWKS, session)
    const client = new HttpClient();
    const flow = await followLogin(client, `${origin}/p/ok/page`);
    const last = flow.hops.find((h) => h.url.startsWith(`${origin}/p/ok/callback?`));
    assert.ok(last && last.status === 302, `callback of a later login:\n${describeHops(flow.hops)}`);
    assert.equal(flow.response.status, 200, `logged in:\n${describeHops(flow.hops)}`);
    assert.equal(flow.response.body, 'protected page\n');
    assert.deepEqual(childrenOf(ngx.proc.pid), workers, 'the worker did not crash and was not respawned');
  });
});

describe('graceful shutdown with a fetch in flight', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  let quit;
  let waiting;
  const origin = `http://127.0.0.1:${QUIT_PORT}`;

  before(async () => {
    env = await createEnv(`${ENV_NAME}-quit`);
    fake = await env.fake();
    ngx = await env.nginx({
      name: `${ENV_NAME}-quit`,
      port: QUIT_PORT,
      http: providerConf(fake, 'slow', 'discovery-slow-5000')
        + serverConf(QUIT_PORT, `${config.SERVROOT}/${ENV_NAME}-quit/html`, ['slow']),
    });
    writeStatic(ngx.prefix);
  });
  after(() => env && env.stop());

  test('SIGQUIT while a request waits on discovery-slow-5000: nginx exits within 1 s', { timeout: 20000 }, async () => {
    waiting = navigate(`${origin}/p/slow/page`);
    await waitForHits(fake, 'discovery-slow-5000/.well-known/openid-configuration', 1);
    await sleep(100);
    assert.ok(!waiting.settled, 'the request waits on the provider');
    quit = await ngx.quit(10000);
    assert.equal(quit.signal, null, `nginx exited by itself: ${JSON.stringify(quit)}`);
    assert.equal(quit.code, 0, `nginx exit code: ${JSON.stringify(quit)}`);
    assert.ok(quit.ms < 1000, `graceful shutdown took ${quit.ms} ms: held up by the fetch in flight`);
    const r = await Promise.race([waiting.done, sleep(1000).then(() => 'pending')]);
    assert.notEqual(r, 'pending', 'the waiting client is not left hanging after nginx exited');
  });

  test('... and the waiting request is closed cleanly (no "open socket left" alert)', { timeout: 5000 }, async () => {
    assert.ok(quit, 'the previous test stopped nginx');
    const log = ngx.errorLog();
    assert.match(log, /gracefully shutting down/, 'it was a graceful shutdown');
    assert.deepEqual(seriousLines(log), [], 'no error, alert or crit line at shutdown');
  });
});

// ------------------------------------------------------------ valgrind

const VALGRIND = process.env.VALGRIND_BIN || 'valgrind';

function valgrindAvailable() {
  const r = spawnSync(VALGRIND, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/**
 * Parse a valgrind memcheck log: { errors: [text of each non-leak error],
 * definitelyLost: [text of each "definitely lost" record] }.
 */
function parseValgrind(text) {
  const lines = text.split('\n').map((l) => l.replace(/^==\d+== ?/, ''));
  const blocks = [];
  let cur = [];
  for (const l of lines) {
    if (l.trim() === '') {
      if (cur.length) blocks.push(cur.join('\n'));
      cur = [];
    } else {
      cur.push(l);
    }
  }
  if (cur.length) blocks.push(cur.join('\n'));
  const errorRe = /^(Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument '.*' of function)/;
  return {
    errors: blocks.filter((b) => errorRe.test(b)),
    definitelyLost: blocks.filter((b) => /are definitely lost in loss record/.test(b)),
  };
}

const vgOptions = () => {
  const o = moduleTestOptions();
  if (o.skip) return o;
  if (!valgrindAvailable()) return { skip: `${VALGRIND} not found (apt-get install valgrind)` };
  return {};
};

describe('under valgrind: clients leaving while they wait', vgOptions(), () => {
  let env;
  let fake;
  let ngx;
  let vgLog;
  const name = `${ENV_NAME}-valgrind`;
  const origin = `http://127.0.0.1:${VG_PORT}`;
  const providers = {
    gone: 'discovery-slow-1000',
    tokgone: 'token-slow-3000',
    ok: 'ok',
  };

  before(async () => {
    env = await createEnv(name);
    fake = await env.fake();
    // logs/ is emptied when nginx starts, before valgrind writes there
    vgLog = path.join(config.SERVROOT, name, 'logs', 'valgrind.log');
    ngx = await env.nginx({
      name,
      port: VG_PORT,
      masterProcess: false,
      startTimeoutMs: 30000,
      wrapper: [VALGRIND, '--error-exitcode=99', '--leak-check=full', '--show-leak-kinds=definite',
        '--errors-for-leak-kinds=definite', '--num-callers=40',
        // module symbols stay readable after nginx dlclose()s the .so at exit
        '--keep-debuginfo=yes', `--log-file=${vgLog}`],
      http: Object.entries(providers).map(([n, s]) => providerConf(fake, n, s)).join('\n')
        + serverConf(VG_PORT, `${config.SERVROOT}/${name}/html`, Object.keys(providers)),
    });
    writeStatic(ngx.prefix);
  });
  after(() => env && env.stop());

  test('discovery wait and token exchange abandoned, then a login, then SIGQUIT: no invalid access, no leak from the module', { timeout: 60000 }, async () => {
    // discovery: two waiters, one leaves
    const a = navigate(`${origin}/p/gone/a`, {});
    await waitForHits(fake, 'discovery-slow-1000/.well-known/openid-configuration', 1, 10000);
    const b = navigate(`${origin}/p/gone/b`);
    await sleep(200);
    b.abort();
    const ra = await a.done;
    assert.equal(ra.status, 302, `the waiter that stayed: ${ra.error || ra.status}`);

    // token exchange in flight, client leaves
    const client = new HttpClient({ timeoutMs: 20000 });
    const url = await loginUntilCallback(client, origin, 'tokgone');
    const cb = callbackRequest(client, url);
    await waitForHits(fake, 'token-slow-3000/token', 1, 10000);
    await sleep(200);
    assert.ok(!cb.settled, 'the callback waits on the token endpoint');
    cb.abort();
    await sleep(300);

    // a whole login still works
    const okClient = new HttpClient({ timeoutMs: 20000 });
    const flow = await followLogin(okClient, `${origin}/p/ok/page`);
    assert.equal(flow.response.status, 200, `logged in:\n${describeHops(flow.hops)}`);
    assert.equal(flow.response.body, 'protected page\n');

    // the provider answers the abandoned token request meanwhile
    await sleep(3000);
    const log = ngx.errorLog();
    assert.match(log, /client prematurely closed connection.*GET \/p\/gone\/b/);
    assert.match(log, /client prematurely closed connection.*GET \/p\/tokgone\/callback/);
    assert.deepEqual(seriousLines(log), [], 'no error, alert or crit line');

    const q = await ngx.quit(30000);
    const text = fs.readFileSync(vgLog, 'utf8');
    const info = `\nnginx exit ${JSON.stringify(q)}; valgrind log: ${vgLog}`;
    assert.match(text, /ERROR SUMMARY/, `valgrind finished its report${info}`);
    const vg = parseValgrind(text);
    assert.deepEqual(vg.errors, [], `invalid accesses or uses of uninitialised memory${info}`);
    const ours = vg.definitelyLost.filter((b2) => /ngx_http_oauth2_/.test(b2));
    assert.deepEqual(ours, [], `memory "definitely lost" from the module's code${info}`);
  });
});
