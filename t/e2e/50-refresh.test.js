'use strict';

// Session refresh (grant_type=refresh_token), once per refresh token.
//
// - 50 concurrent requests with the same expired session: exactly one
//   token call reaches the provider, all 50 get 200 and the new session;
//   the same with worker_processes 2 (reuseport spreads the connections
//   over both workers) and with master_process off.
// - The previous cookie, during the grace period, gets the new session
//   without a second call (the fake rotates refresh tokens: a second call
//   with the old one would fail).
// - Provider answers: no rotation (the old refresh token is kept), no new
//   ID token (the session lasts as long as the access token), invalid_grant
//   (log in again: 302 / 401), a 500 (401 once the tokens have expired, but
//   a session only within refresh_margin still passes), a new ID token about
//   another user (refused), a new ID token signed with a key published
//   after the JWKS was cached (fetched again, accepted), also when the
//   request that started the refresh left before the answer (the call
//   waits for the JWKS by itself and its result serves the next request).
// - The real OP (oidc-provider, 5 s tokens, rotation on): log in, wait past
//   the expiry, request again: 200 without a login and a new session
//   cookie; the previous cookie still works during the grace period.
//
// Sessions for the fake provider are minted with t/tools/seal.js; their
// refresh tokens are the fake's self-contained "rt.<base64url JSON>".
// nginx on E2E_NGINX_PORT+13 and +14 (1999 and 2000 by default).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { rawGet, logCursor, troubleLines } = require('./lib/matrix');
const seal = require('../tools/seal');

const ENV_NAME = '50-refresh';
const PORT = config.NGINX_PORT + 13;
const PORT2 = config.NGINX_PORT + 14;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const BURST = 50;

const now = () => Math.floor(Date.now() / 1000);
const b64u = (x) => Buffer.from(x).toString('base64url');

/** a refresh token the fake provider accepts for this scenario */
function fakeRefreshToken(scenario, sub = 'alice') {
  return `rt.${b64u(JSON.stringify({
    sub,
    client_id: config.FAKE_CLIENT.id,
    scope: 'openid email',
    scenario,
    auth_time: now() - 100,
    jti: crypto.randomBytes(12).toString('base64url'),
  }))}`;
}

/** a Cookie header with a session of `name`, expired unless told otherwise */
function sessionCookie(name, fields = {}) {
  return seal.sessionCookie([config.COOKIE_SECRET], `oauth2_${name}`, {
    sub: 'alice',
    created: now() - 100,
    expires: now() - 5,
    access_expires: now() - 5,
    claims: { email: 'alice@example.com' },
    ...fields,
  });
}

/** the session a response sets for `name` (opened), or null */
function setSession(res, name) {
  const cookies = Array.isArray(res.setCookies) ? res.setCookies : [];
  const raw = cookies.map((c) => (typeof c === 'string' ? c : c.raw));
  const header = raw.map((c) => c.split(';')[0]).join('; ');
  if (!header.includes(`oauth2_${name}=`)) return null;
  return seal.openSession([config.COOKIE_SECRET], `oauth2_${name}`, header);
}

/** the Cookie header that sends back what a response set for `name` */
function cookieFrom(res, name) {
  const raw = (res.setCookies || []).map((c) => (typeof c === 'string' ? c : c.raw));
  return raw.map((c) => c.split(';')[0]).filter((c) => c.startsWith(`oauth2_${name}`)).join('; ');
}

function providerConf(fake, name, scenario, extra = '') {
  return `
oauth2_provider ${name} {
    issuer          ${fake.issuer(scenario)};
    client_id       ${config.FAKE_CLIENT.id};
    client_secret   ${config.FAKE_CLIENT.secret};
    scope           "openid email";
    redirect_uri    /cb/${name};
${extra}}`;
}

function locationConf(name) {
  return `
    location /p/${name}/ {
        oauth2 ${name};
        proxy_set_header X-Sub $oauth2_sub;
        proxy_pass http://127.0.0.1:${config.BACKEND_PORT};
    }`;
}

/** n GETs with the same cookie, all at once; resolves the responses */
function burst(port, pathname, cookie, n, headers = {}) {
  return Promise.all(Array.from({ length: n }, () => rawGet(port, pathname, {
    cookie, accept: 'application/json', ...headers,
  }, { timeoutMs: 20000 })));
}

function tokenCalls(stats, scenario) {
  return stats[`${scenario}/token`] || 0;
}

describe('session refresh with the fake provider', moduleTestOptions(), () => {
  let env;
  let fake;
  let ngx;
  let errorLogFile;

  // name -> [scenario, extra provider directives]
  const PROVIDERS = {
    burst: ['ok', ''],
    norotate: ['refresh-no-rotate', ''],
    noidt: ['refresh-no-idt', ''],
    refused: ['refresh-error', ''],
    fault: ['token-500', ''],
    other: ['ttl-601', ''],
    kid: ['kid-rotate', '    jwks_min_refresh 0;\n'],
    kidalone: ['kid-rotate+token-slow-800', '    jwks_min_refresh 0;\n'],
    slow: ['token-slow-800', ''],
    short: ['refresh-no-rotate+ttl-33', '    refresh_margin  32s;\n'],
    workers: ['ttl-602', ''],
    single: ['ttl-603', ''],
  };

  before(async () => {
    env = await createEnv(ENV_NAME);
    fake = await env.fake();
    await env.backend();
    const names = Object.keys(PROVIDERS).filter((n) => n !== 'workers' && n !== 'single');
    ngx = await env.nginx({
      port: PORT,
      http: `
${names.map((n) => providerConf(fake, n, ...PROVIDERS[n])).join('\n')}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
${names.map(locationConf).join('\n')}
}`,
    });
    errorLogFile = path.join(ngx.prefix, 'logs', 'error.log');
  });

  after(() => env && env.stop());

  test(`${BURST} concurrent requests with one expired session: one token call, ${BURST} x 200, one new session`, async () => {
    const scenario = PROVIDERS.burst[0];
    const oldRt = fakeRefreshToken(scenario);
    const cookie = sessionCookie('burst', { refresh_token: oldRt });
    const before = tokenCalls(await fake.stats(), scenario);

    const res = await burst(PORT, '/p/burst/page', cookie, BURST);

    const statuses = res.map((r) => r.status);
    assert.deepEqual(statuses, Array(BURST).fill(200), `all ${BURST} pass: ${statuses.join(',')}\n${ngx.errorLog().slice(-3000)}`);
    assert.equal(tokenCalls(await fake.stats(), scenario) - before, 1, 'exactly one token call at the provider');

    const sessions = res.map((r) => setSession(r, 'burst'));
    const t = now();
    for (const s of sessions) {
      assert.ok(s, 'every response sets the new session');
      assert.equal(s.sub, 'alice');
      assert.equal(s.claims.email, 'alice@example.com', 'claims are kept');
      assert.notEqual(s.refresh_token, oldRt, 'the rotated refresh token is kept');
      assert.equal(s.refresh_token, sessions[0].refresh_token, 'the same new session for all');
      assert.ok(s.expires > t + 500 && s.expires <= t + 601, `expires from the new ID token: ${s.expires - t}`);
      assert.ok(s.access_expires > t + 250, 'access_expires from expires_in');
    }

    // the previous cookie again, during the grace period: the new session,
    // no second call (the fake would refuse the old, rotated refresh token)
    const again = await rawGet(PORT, '/p/burst/page', { cookie, accept: 'application/json' });
    assert.equal(again.status, 200);
    assert.equal(setSession(again, 'burst').refresh_token, sessions[0].refresh_token);
    assert.equal(tokenCalls(await fake.stats(), scenario) - before, 1, 'no second token call in the grace period');

    // the new cookie: valid, nothing to refresh
    const fresh = await rawGet(PORT, '/p/burst/page', { cookie: cookieFrom(res[0], 'burst'), accept: 'application/json' });
    assert.equal(fresh.status, 200);
    assert.equal(setSession(fresh, 'burst'), null, 'a valid session is not set again');
    assert.equal(tokenCalls(await fake.stats(), scenario) - before, 1);

    // what the provider received
    const calls = (await fake.requests(`${scenario}/token`)).slice(-1);
    const form = new URLSearchParams(calls[0].body);
    assert.equal(form.get('grant_type'), 'refresh_token');
    assert.equal(form.get('refresh_token'), oldRt);
    assert.match(calls[0].headers.authorization || '', /^Basic /, 'client_secret_basic');
  });

  test('a provider that does not rotate: the old refresh token is kept', async () => {
    const oldRt = fakeRefreshToken(PROVIDERS.norotate[0]);
    const r = await rawGet(PORT, '/p/norotate/x', {
      cookie: sessionCookie('norotate', { refresh_token: oldRt }), accept: 'application/json',
    });
    assert.equal(r.status, 200);
    const s = setSession(r, 'norotate');
    assert.equal(s.refresh_token, oldRt);
  });

  test('no rotation and short tokens: a shared result is not handed out once it needs a refresh itself', async () => {
    const scenario = PROVIDERS.short[0];
    const rt = fakeRefreshToken(scenario);
    const before = tokenCalls(await fake.stats(), scenario);
    const first = await rawGet(PORT, '/p/short/x', {
      cookie: sessionCookie('short', { refresh_token: rt }), accept: 'application/json',
    });
    assert.equal(first.status, 200);
    const s1 = setSession(first, 'short');
    assert.equal(s1.refresh_token, rt, 'not rotated');

    await sleep(2100); // the new session is due again (33 s tokens, 32 s margin)

    const second = await rawGet(PORT, '/p/short/x', { cookie: cookieFrom(first, 'short'), accept: 'application/json' });
    assert.equal(second.status, 200);
    const s2 = setSession(second, 'short');
    assert.ok(s2 && s2.expires > s1.expires, 'refreshed again, not the first result');
    assert.equal(tokenCalls(await fake.stats(), scenario) - before, 2);
  });

  test('no new ID token: the session lasts as long as the new access token', async () => {
    const r = await rawGet(PORT, '/p/noidt/x', {
      cookie: sessionCookie('noidt', { refresh_token: fakeRefreshToken(PROVIDERS.noidt[0]) }),
      accept: 'application/json',
    });
    assert.equal(r.status, 200);
    const s = setSession(r, 'noidt');
    const t = now();
    assert.ok(s.expires > t + 250 && s.expires <= t + 301, `expires_in 300: ${s.expires - t}`);
  });

  test('invalid_grant: navigation logs in again (302), a script gets 401, one info line', async () => {
    const cur = logCursor(errorLogFile);
    const cookie = sessionCookie('refused', { refresh_token: fakeRefreshToken(PROVIDERS.refused[0]) });
    const nav = await rawGet(PORT, '/p/refused/page', {
      cookie, accept: 'text/html', 'sec-fetch-mode': 'navigate',
    });
    assert.equal(nav.status, 302);
    assert.match(nav.location, new RegExp(`^${fake.issuer(PROVIDERS.refused[0])}/authorize\\?`));
    const api = await rawGet(PORT, '/p/refused/api', { cookie, accept: 'application/json' });
    assert.equal(api.status, 401);
    const log = cur.since();
    assert.match(log, /\[info\].*oauth2 provider "refused": the refresh token was refused \(invalid_grant\)/);
    assert.equal((log.match(/invalid_grant/g) || []).length, 1, 'one call and one line: the refusal is shared');
  });

  test('a provider fault: 401 once expired; a session only within refresh_margin passes', async () => {
    const scenario = PROVIDERS.fault[0];
    const cur = logCursor(errorLogFile);
    const expired = await rawGet(PORT, '/p/fault/x', {
      cookie: sessionCookie('fault', { refresh_token: fakeRefreshToken(scenario) }), accept: 'application/json',
    });
    assert.equal(expired.status, 401);
    assert.match(cur.since(), /\[error\].*oauth2 provider "fault": refresh request to ".*" failed: HTTP status 500/);

    const before = tokenCalls(await fake.stats(), scenario);
    const early = await rawGet(PORT, '/p/fault/x', {
      cookie: sessionCookie('fault', { refresh_token: fakeRefreshToken(scenario), expires: now() + 10 }),
      accept: 'application/json',
    });
    assert.equal(early.status, 200, 'tokens still valid for 10 s: the request passes');
    assert.equal(setSession(early, 'fault'), null);
    assert.ok(tokenCalls(await fake.stats(), scenario) - before <= 1);
  });

  test('a new ID token about another user is refused', async () => {
    const cur = logCursor(errorLogFile);
    const r = await rawGet(PORT, '/p/other/x', {
      cookie: sessionCookie('other', { refresh_token: fakeRefreshToken(PROVIDERS.other[0], 'mallory') }),
      accept: 'application/json',
    });
    assert.equal(r.status, 401);
    assert.match(cur.since(), /oauth2 provider "other": the refreshed ID token is about another user/);
  });

  test('a new ID token signed with a key published after the JWKS was cached: the JWKS is fetched again', async () => {
    const scenario = PROVIDERS.kid[0];
    const first = await rawGet(PORT, '/p/kid/x', {
      cookie: sessionCookie('kid', { refresh_token: fakeRefreshToken(scenario) }), accept: 'application/json',
    });
    assert.equal(first.status, 200, 'the JWKS is now cached');
    const jwksBefore = (await fake.stats())[`${scenario}/jwks`];

    await fake.rotate(); // last test of this group: every scenario signs with the new key from now on

    const res = await burst(PORT, '/p/kid/x', sessionCookie('kid', { refresh_token: fakeRefreshToken(scenario) }), 5);
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200, 200], ngx.errorLog().slice(-2000));
    assert.equal((await fake.stats())[`${scenario}/jwks`] - jwksBefore, 1, 'one JWKS refetch');
    assert.ok(setSession(res[0], 'kid'));
  });

  test('an unknown kid with no request left waiting: the refresh fetches the JWKS by itself, its result serves the next request', async () => {
    // the old design needed a waiting request to fetch the JWKS for the
    // call; with none left the refresh failed and the user logged in again
    const scenario = PROVIDERS.kidalone[0];
    const warm = await rawGet(PORT, '/p/kidalone/x', {
      cookie: sessionCookie('kidalone', { refresh_token: fakeRefreshToken(scenario) }), accept: 'application/json',
    });
    assert.equal(warm.status, 200, 'the JWKS is now cached');

    await fake.rotate(); // a kid the cached JWKS does not have
    const stats = await fake.stats();
    const jwksBefore = stats[`${scenario}/jwks`];
    const tokenBefore = tokenCalls(stats, scenario);
    const cur = logCursor(errorLogFile);
    const cookie = sessionCookie('kidalone', { refresh_token: fakeRefreshToken(scenario) });

    const first = http.request({
      host: '127.0.0.1', port: PORT, path: '/p/kidalone/first', agent: false,
      headers: { cookie, accept: 'application/json' },
    });
    first.on('error', () => {});
    first.end();
    await sleep(200);
    first.destroy(); // before the token endpoint answers (800 ms)

    await sleep(1500);
    const after = await fake.stats();
    assert.equal(after[`${scenario}/jwks`] - jwksBefore, 1, 'the call fetched the JWKS again');
    assert.equal(tokenCalls(after, scenario) - tokenBefore, 1);

    const next = await rawGet(PORT, '/p/kidalone/next', { cookie, accept: 'application/json' });
    assert.equal(next.status, 200, cur.since());
    assert.ok(setSession(next, 'kidalone'), 'the refreshed session');
    assert.equal(tokenCalls(await fake.stats(), scenario) - tokenBefore, 1, 'no second token call');
    assert.doesNotMatch(cur.since(), /unknown key/);
  });

  test('the request that started the refresh leaves: the call completes for the others', async () => {
    const scenario = PROVIDERS.slow[0];
    const cookie = sessionCookie('slow', { refresh_token: fakeRefreshToken(scenario) });
    const before = tokenCalls(await fake.stats(), scenario);
    const cur = logCursor(errorLogFile);

    const first = http.request({
      host: '127.0.0.1', port: PORT, path: '/p/slow/first', agent: false, headers: { cookie, accept: 'application/json' },
    });
    first.on('error', () => {});
    first.end();
    await sleep(200);
    first.destroy();

    const res = await burst(PORT, '/p/slow/others', cookie, 5);
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(tokenCalls(await fake.stats(), scenario) - before, 1, 'the first call served them');
    assert.ok(setSession(res[0], 'slow'));
    assert.match(cur.since(), /client prematurely closed connection|client closed/);
  });

  test('no worker trouble', () => {
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });

  for (const [mode, opts] of [
    ['worker_processes 2', { workerProcesses: 2, name: 'workers' }],
    ['master_process off', { masterProcess: false, name: 'single' }],
  ]) {
    test(`${mode}: ${BURST} concurrent requests, one token call`, async () => {
      const { name } = opts;
      const scenario = PROVIDERS[name][0];
      const ngx2 = await env.nginx({
        name: `${ENV_NAME}-${name}`,
        port: PORT2,
        workerProcesses: opts.workerProcesses,
        masterProcess: opts.masterProcess,
        http: `
log_format pids '$pid $status';
${providerConf(fake, name, scenario)}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT2}${opts.workerProcesses ? ' reuseport' : ''};
    access_log ${path.join(config.SERVROOT, `${ENV_NAME}-${name}`, 'logs', 'pids.log')} pids;
${locationConf(name)}
}`,
      });
      try {
        const before = tokenCalls(await fake.stats(), scenario);
        const res = await burst(PORT2, `/p/${name}/page`,
          sessionCookie(name, { refresh_token: fakeRefreshToken(scenario) }), BURST);
        assert.deepEqual(res.map((r) => r.status), Array(BURST).fill(200), ngx2.errorLog().slice(-3000));
        assert.equal(tokenCalls(await fake.stats(), scenario) - before, 1, 'exactly one token call');
        const rts = new Set(res.map((r) => setSession(r, name).refresh_token));
        assert.equal(rts.size, 1, 'one new session');
        if (opts.workerProcesses) {
          await sleep(200);
          const pids = new Set(fs.readFileSync(path.join(ngx2.prefix, 'logs', 'pids.log'), 'utf8')
            .trim().split('\n').map((l) => l.split(' ')[0]));
          assert.equal(pids.size, 2, `both workers served the burst: ${[...pids].join(' ')}`);
        }
        assert.deepEqual(troubleLines(ngx2.errorLog()), []);
      } finally {
        await ngx2.stop();
      }
    });
  }

  for (const mode of ['quit', 'reload']) {
    test(`${mode} while a refresh is in flight: the waiting request gets an answer at once${
      mode === 'reload' ? ', the new workers refresh again' : ''}`, async () => {
      const scenario = 'token-slow-1500+refresh-no-rotate';
      const name = mode;
      const ngx2 = await env.nginx({
        name: `${ENV_NAME}-${name}`,
        port: PORT2,
        http: `
${providerConf(fake, name, scenario)}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT2};
${locationConf(name)}
}`,
      });
      try {
        const cookie = sessionCookie(name, { refresh_token: fakeRefreshToken(scenario) });
        const before = tokenCalls(await fake.stats(), scenario);
        const t0 = Date.now();
        const pending = rawGet(PORT2, `/p/${name}/x`, { cookie, accept: 'application/json' })
          .catch((e) => ({ error: e.message }));
        await sleep(300);

        if (mode === 'quit') {
          const q = await ngx2.quit(8000);
          assert.equal(q.code, 0, `nginx exited by itself: ${JSON.stringify(q)}`);
          assert.ok(q.ms < 1000, `nginx exited in ${q.ms} ms`);
        } else {
          ngx2.reload();
        }

        const r = await pending;
        assert.equal(r.status, 401, `an answer: ${JSON.stringify(r.status || r.error)}`);
        assert.ok(Date.now() - t0 < 1300, 'at once, not after the provider\'s 1.5 s');
        assert.match(ngx2.errorLog(), /gracefully shutting down/);

        if (mode === 'reload') {
          // the cut call was not recorded as a provider fault: the new
          // workers refresh the same session at once
          await sleep(300);
          const again = await rawGet(PORT2, `/p/${name}/x`, { cookie, accept: 'application/json' });
          assert.equal(again.status, 200, ngx2.errorLog().slice(-2000));
          assert.ok(setSession(again, name));
          assert.equal(tokenCalls(await fake.stats(), scenario) - before, 2);
        }
        assert.deepEqual(troubleLines(ngx2.errorLog()), []);
      } finally {
        await ngx2.stop();
      }
    });
  }
});

describe('session refresh with the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  const OP_ORIGIN = `http://127.0.0.1:${PORT}`;

  before(async () => {
    env = await createEnv(`${ENV_NAME}-op`);
    op = await env.op({
      redirectUris: [`${OP_ORIGIN}/oauth2/callback`],
      accessTtl: 5,
      idTtl: 5,
    });
    ({ nginx: ngx } = await env.opLogin({
      port: PORT, op, scope: 'openid email profile offline_access', lines: 'refresh_margin 1s;',
    }));
  });

  after(() => env && env.stop());

  const tokenPosts = () => (op.proc.stdout().match(/^op: POST \/token -> 200/gm) || []).length;

  test('log in, wait past the 5 s token lifetime: 200 without a login, a new session cookie', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`, { login: 'carol' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const first = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', client.jar.header(`${ORIGIN}/`));
    assert.ok(first && first.refresh_token, 'the OP issued a refresh token (kept in the session)');
    const oldCookie = client.jar.header(`${ORIGIN}/`);
    assert.equal(tokenPosts(), 1, 'one token call: the code exchange');

    await sleep(Math.max(0, (first.expires - 1 - now()) * 1000) + 1500);

    const res = await client.fetchLike(`${ORIGIN}/page`);
    assert.equal(res.status, 200, `refreshed, no login: ${res.status} ${res.location || ''}\n${ngx.errorLog().slice(-2000)}`);
    assert.match(res.body, /hello carol@example\.com/);
    const c = res.cookie('oauth2_op');
    assert.ok(c && c.value, 'a new session cookie');
    const second = seal.openSession([config.COOKIE_SECRET], 'oauth2_op', `oauth2_op=${c.value}`);
    assert.equal(second.sub, 'carol');
    assert.ok(second.expires > first.expires, 'expires moved on');
    assert.notEqual(second.refresh_token, first.refresh_token, 'oidc-provider rotated the refresh token');
    assert.equal(tokenPosts(), 2, 'one refresh call');

    // the previous cookie (a request sent before the new one arrived)
    const late = await rawGet(PORT, '/page', { cookie: oldCookie, accept: 'application/json' });
    assert.equal(late.status, 200, 'the previous cookie gets the refreshed session in the grace period');
    assert.equal(setSession(late, 'op').refresh_token, second.refresh_token);
    assert.equal(tokenPosts(), 2, 'without another call (the OP would treat it as refresh token reuse)');

    // and the new session keeps working
    const next = await client.fetchLike(`${ORIGIN}/page`);
    assert.equal(next.status, 200);
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });
});
