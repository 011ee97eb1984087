'use strict';

// A call to the provider must not outlive the memory it reads.
//
// The discovery document of a provider lives in a pool that a metadata
// refetch replaces (metadata_cache_time).  A call in flight (the
// callback's token request, the JWKS fetch, the userinfo request, a
// background revocation) used to keep pointing into the old pool for its
// URL, and read it (to log it) after the refetch had freed it.
//
// Each case, under valgrind, with metadata_cache_time 1s and an endpoint
// that answers after 3 s: browser 1 starts the call, more than 1 s later
// browser 2 arrives and makes the worker fetch the metadata again, which
// completes before the slow answer; then the slow call completes.  The
// login (or logout) must complete and valgrind must report no invalid
// access.
//
// Ports: nginx on E2E_NGINX_PORT+23 (2009 by default); the fake provider
// on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');

const VG_PORT = config.NGINX_PORT + 23;
const ENV_NAME = '07-lifetime';
const VALGRIND = process.env.VALGRIND_BIN || 'valgrind';

// the slow answers, and how long after the slow call starts browser 2
// comes: past metadata_cache_time (1 s), well before the answer
const SLOW_MS = 3000;
const SECOND_BROWSER_MS = 1300;

const PROVIDERS = {
  tok: { scenario: `token-slow-${SLOW_MS}`, slow: 'token' },
  jwks: { scenario: `jwks-slow-${SLOW_MS}`, slow: 'jwks' },
  ui: { scenario: `userinfo-slow-${SLOW_MS}`, slow: 'userinfo', extra: 'userinfo on;' },
  rv: {
    scenario: `revoke-slow-${SLOW_MS}`,
    slow: 'revoke',
    extra: 'revoke_tokens on;\n    logout_uri /p/rv/logout;\n'
      + '    post_logout_uri /static/index.html;',
  },
};

function providerConf(fake, name, { scenario, extra }) {
  return `
oauth2_provider ${name} {
    issuer              ${fake.issuer(scenario)};
    client_id           ${config.FAKE_CLIENT.id};
    client_secret       ${config.FAKE_CLIENT.secret};
    redirect_uri        /p/${name}/callback;
    metadata_cache_time 1s;
    ${extra || ''}
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

function writeStatic(prefix, names) {
  const html = path.join(prefix, 'html');
  const dirs = [html, path.join(html, 'static'), path.join(html, 'p')];
  for (const n of names) dirs.push(path.join(html, 'p', n));
  for (const d of dirs) {
    fs.mkdirSync(d, { recursive: true });
    fs.chmodSync(d, 0o755);
  }
  fs.writeFileSync(path.join(html, 'static', 'index.html'), 'static\n');
  for (const n of names) fs.writeFileSync(path.join(html, 'p', n, 'page'), `protected ${n}\n`);
}

async function waitForHits(fake, key, n, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await fake.stats();
    if ((stats[key] || 0) >= n) return stats;
    if (Date.now() > deadline) {
      throw new Error(`the provider did not see ${n} request(s) to ${key} within ${ms} ms: ${JSON.stringify(stats)}`);
    }
    await sleep(20);
  }
}

function valgrindAvailable() {
  return spawnSync(VALGRIND, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** The error records of a memcheck log (leaks aside). */
function valgrindErrors(text) {
  const blocks = text.split(/\n==\d+== ?\n/).map((b) => b.replace(/^==\d+== ?/mg, ''));
  const errorRe = /^(Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap)/m;
  return blocks.filter((b) => errorRe.test(b));
}

const vgOptions = () => {
  const o = moduleTestOptions();
  if (o.skip) return o;
  if (!valgrindAvailable()) return { skip: `${VALGRIND} not found (apt-get install valgrind)` };
  return {};
};

describe('under valgrind: a metadata refetch while a call is in flight', vgOptions(), () => {
  let env;
  let fake;
  let ngx;
  let vgLog;
  const origin = `http://127.0.0.1:${VG_PORT}`;
  const names = Object.keys(PROVIDERS);

  before(async () => {
    env = await createEnv(ENV_NAME);
    fake = await env.fake();
    vgLog = path.join(config.SERVROOT, ENV_NAME, 'logs', 'valgrind.log');
    ngx = await env.nginx({
      name: ENV_NAME,
      port: VG_PORT,
      masterProcess: false,
      startTimeoutMs: 30000,
      wrapper: [VALGRIND, '--error-exitcode=99', '--num-callers=40',
        '--keep-debuginfo=yes', `--log-file=${vgLog}`],
      http: Object.entries(PROVIDERS).map(([n, p]) => providerConf(fake, n, p)).join('\n')
        + serverConf(VG_PORT, `${config.SERVROOT}/${ENV_NAME}/html`, names),
    });
    writeStatic(ngx.prefix, names);
  });
  after(() => env && env.stop());

  /** Browser 2: a protected page, which finds the metadata expired. */
  async function secondBrowser(name) {
    const { scenario } = PROVIDERS[name];
    const key = `${scenario}/.well-known/openid-configuration`;
    const before2 = (await fake.stats())[key] || 0;
    const other = new HttpClient({ timeoutMs: 30000 });
    const r = await other.navigate(`${origin}/p/${name}/page`);
    assert.equal(r.status, 302, 'browser 2 is sent to the provider');
    // the refetch has completed (the worker has replaced the metadata)
    await waitForHits(fake, key, before2 + 1);
    await sleep(300);
  }

  /** A login through the callback, browser 2 arriving while `slow` waits. */
  async function loginWithRefetch(name) {
    const { scenario, slow } = PROVIDERS[name];
    const client = new HttpClient({ timeoutMs: 30000 });
    const callback = `${origin}/p/${name}/callback`;
    const flow = await followLogin(client, `${origin}/p/${name}/page`, {
      stopAt: (u) => u.startsWith(`${callback}?`),
    });
    assert.ok(flow.stoppedAt, `back at the callback:\n${describeHops(flow.hops)}`);

    const cb = client.navigate(flow.stoppedAt, { headers: { 'sec-fetch-site': 'cross-site' } });
    await waitForHits(fake, `${scenario}/${slow}`, 1);
    await sleep(SECOND_BROWSER_MS);
    await secondBrowser(name);

    const res = await cb;
    assert.equal(res.status, 302, `the callback completes the login: ${res.status} ${res.body || ''}`);
    const page = await client.navigate(new URL(res.location, origin).href);
    assert.equal(page.status, 200);
    assert.equal(page.body, `protected ${name}\n`);
    return client;
  }

  test('token, JWKS, userinfo and revocation calls survive a metadata refetch; valgrind: no invalid access',
    { timeout: 120000 }, async () => {
      await loginWithRefetch('tok');
      await loginWithRefetch('jwks');
      await loginWithRefetch('ui');

      // revocation: a background call that outlives the logout request
      const { scenario } = PROVIDERS.rv;
      const client = new HttpClient({ timeoutMs: 30000 });
      const flow = await followLogin(client, `${origin}/p/rv/page`);
      assert.equal(flow.response.status, 200, `logged in:\n${describeHops(flow.hops)}`);
      await sleep(SECOND_BROWSER_MS);
      const out = await client.navigate(`${origin}/p/rv/logout`, {
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      assert.ok([302, 303].includes(out.status), `logout: ${out.status}`);
      await waitForHits(fake, `${scenario}/revoke`, 1);
      await sleep(SECOND_BROWSER_MS);
      await secondBrowser('rv');
      // the revocations answer
      await sleep(SLOW_MS);

      const log = ngx.errorLog();
      const serious = log.split('\n').filter((l) => /\[(emerg|alert|crit|error)\]/.test(l));
      assert.deepEqual(serious, [], 'no error, alert or crit line');

      const q = await ngx.quit(60000);
      const text = fs.readFileSync(vgLog, 'utf8');
      const info = `\nnginx exit ${JSON.stringify(q)}; valgrind log: ${vgLog}`;
      assert.match(text, /ERROR SUMMARY/, `valgrind finished its report${info}`);
      assert.deepEqual(valgrindErrors(text), [], `invalid accesses${info}`);
      assert.match(text, /ERROR SUMMARY: 0 errors/, `valgrind: 0 errors${info}`);
    });
});
