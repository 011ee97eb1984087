'use strict';

// Operations (issue #16): the oauth2_metrics location against the real OP,
// nginx with two workers (a scrape sums their slots).  Logins, a forged
// callback, a tampered and a refused session and a logout are counted by
// provider and reason; the exposition passes `promtool check metrics` and
// a real Prometheus server scrapes it.  The audit lines of a login and a
// logout name the user and the client, never a token or code, and
// $oauth2_error reaches the access log.
//
// Ports: nginx on E2E_NGINX_PORT+32, Prometheus on E2E_NGINX_PORT+33, the
// OP on OP_PORT.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 32;
const PROM_PORT = config.NGINX_PORT + 33;
const ORIGIN = `http://127.0.0.1:${PORT}`;

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    const f = path.join(dir, cmd);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

// { 'name{labels}': value } of an exposition
function parse(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^(\S+) (\S+)$/);
    assert.ok(m, `a sample line: ${line}`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

describe('metrics and audit lines', moduleTestOptions(), () => {
  let env;
  let ngx;
  let op;

  const scrape = async () => {
    const r = await fetch(`${ORIGIN}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    return r.text();
  };

  before(async () => {
    env = await createEnv('60-metrics');
    op = await env.op({
      redirectUris: [`${ORIGIN}/oauth2/callback`],
      postLogoutRedirectUris: [`${ORIGIN}/bye.html`],
    });
    const backend = await env.backend();
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 2,
      logLevel: 'info',
      env: { OP_SECRET: config.OP_CLIENT.secret },
      http: `
log_format oauth2 '$status $request_method $uri error=$oauth2_error';
oauth2_provider op {
    issuer           ${op.issuer};
    client_id        ${config.OP_CLIENT.id};
    client_secret    env:OP_SECRET;
    scope            "openid email profile";
    logout_uri       /logout;
    post_logout_uri  /bye.html;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    access_log logs/oauth2.log oauth2;
    location / {
        oauth2 op;
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }
    location /admin {
        oauth2 op;
        oauth2_require email nobody@example.com;
        proxy_pass http://127.0.0.1:${backend.port};
    }
    location = /bye.html {
        oauth2 off;
        return 200 "bye\\n";
    }
    location = /metrics {
        oauth2_metrics;
        allow 127.0.0.1;
        deny all;
    }
}`,
    });
  });
  after(() => env && env.stop());

  test('a fresh exposition is valid and says nothing happened yet', async () => {
    const text = await scrape();
    const m = parse(text);
    assert.equal(m['nginx_oauth2_logins_total{provider="op",result="started"}'], 0);
    assert.equal(m['nginx_oauth2_logins_total{provider="op",result="completed"}'], 0);
    assert.equal(m['nginx_oauth2_provider_request_duration_seconds_count{provider="op",endpoint="token"}'], 0);
    assert.ok(m['nginx_oauth2_zone_size_bytes'] > 0, 'the zone size is reported');
    assert.equal(text.match(/^# TYPE nginx_oauth2_logins_total counter$/mg).length, 1,
      'one TYPE line per family');
    const r = await fetch(`${ORIGIN}/metrics`, { method: 'POST' });
    assert.equal(r.status, 405, 'only GET and HEAD');
  });

  test('logins, refusals and logouts are counted by provider and reason', { timeout: 60000 }, async () => {
    // two users log in (two workers: each may count in its own slot)
    const clients = [];
    for (const who of ['alice', 'bob']) {
      const client = new HttpClient();
      const flow = await followLogin(client, `${ORIGIN}/page`, { login: who });
      assert.equal(flow.response.status, 200, `${who} logged in`);
      clients.push(client);
    }

    // a callback that no login started
    const iss = encodeURIComponent(op.issuer);
    const forged = await new HttpClient().navigate(
      `${ORIGIN}/oauth2/callback?code=abc&state=defdefdefdef&iss=${iss}`);
    assert.equal(forged.status, 401);

    // a tampered session cookie
    const cookie = clients[0].jar.get('oauth2_op', '127.0.0.1');
    assert.ok(cookie, 'a session cookie');
    const v = cookie.value;
    const bad = v.slice(0, -3) + (v.slice(-3) === 'AAA' ? 'BBB' : 'AAA');
    const tampered = await new HttpClient().request('GET', `${ORIGIN}/page`, {
      headers: { cookie: `oauth2_op=${bad}`, accept: 'application/json' },
      cookies: false,
    });
    assert.equal(tampered.status, 401);

    // a session the location's oauth2_require refuses
    const denied = await clients[1].navigate(`${ORIGIN}/admin/`);
    assert.equal(denied.status, 403);

    // alice logs out
    const out = await clients[0].navigate(`${ORIGIN}/logout`, {
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(out.status, 303);

    const text = await scrape();
    const m = parse(text);
    const at = (k) => m[k];
    assert.equal(at('nginx_oauth2_logins_total{provider="op",result="started"}'), 2);
    assert.equal(at('nginx_oauth2_logins_total{provider="op",result="completed"}'), 2);
    assert.equal(at('nginx_oauth2_logins_total{provider="op",result="failed"}'), 1);
    assert.equal(at('nginx_oauth2_login_failures_total{provider="op",reason="state_mismatch"}'), 1);
    assert.equal(at('nginx_oauth2_sessions_refused_total{provider="op",reason="tampered"}'), 1);
    assert.equal(at('nginx_oauth2_sessions_refused_total{provider="op",reason="require"}'), 1);
    assert.equal(at('nginx_oauth2_logouts_total{provider="op"}'), 1);
    assert.equal(at('nginx_oauth2_provider_requests_total{provider="op",endpoint="token",outcome="ok"}'), 2);
    assert.ok(at('nginx_oauth2_provider_requests_total{provider="op",endpoint="discovery",outcome="ok"}') >= 1);
    assert.ok(at('nginx_oauth2_provider_requests_total{provider="op",endpoint="jwks",outcome="ok"}') >= 1);
    assert.equal(at('nginx_oauth2_provider_request_duration_seconds_count{provider="op",endpoint="token"}'), 2);
    assert.equal(at('nginx_oauth2_provider_request_duration_seconds_bucket{provider="op",endpoint="token",le="+Inf"}'), 2);
    assert.ok(at('nginx_oauth2_metadata_age_seconds{provider="op"}') >= 0);
    assert.ok(at('nginx_oauth2_jwks_age_seconds{provider="op"}') >= 0);
    assert.ok(at('nginx_oauth2_session_cache_entries') >= 1, 'opened sessions are cached');
    assert.ok(at('nginx_oauth2_zone_used_bytes') > 0);

    // promtool (Debian's prometheus package) accepts the exposition
    const promtool = which('promtool');
    assert.ok(promtool, 'promtool is installed (apt-get install prometheus)');
    execFileSync(promtool, ['check', 'metrics'], { input: text });

    // audit lines: user and client; no token, code or state in the log
    const log = ngx.errorLog();
    assert.match(log, /oauth2 provider "op": user "alice" logged in.*client: 127\.0\.0\.1/);
    assert.match(log, /oauth2 provider "op": user "bob" logged in.*client: 127\.0\.0\.1/);
    assert.match(log, /oauth2 provider "op": user "alice" logged out.*client: 127\.0\.0\.1/);
    assert.ok(!log.includes(v.slice(0, 40)), 'no session cookie in the log');
    assert.ok(!/code=abc|defdefdefdef/.test(log), 'no code or state in the log');

    // $oauth2_error in log_format
    const access = fs.readFileSync(path.join(ngx.prefix, 'logs', 'oauth2.log'), 'utf8');
    assert.match(access, /^401 GET \/oauth2\/callback error=state_mismatch$/m);
    assert.match(access, /^403 GET \/admin\/ error=forbidden$/m);
  });

  test('a real Prometheus server scrapes it', { timeout: 60000 }, async () => {
    const prometheus = which('prometheus');
    assert.ok(prometheus, 'prometheus is installed (apt-get install prometheus)');
    const dir = path.join(env.dir, 'prometheus');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(cfg, [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: nginx_oauth2',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${PORT}']`,
      '',
    ].join('\n'));
    const proc = spawn(prometheus, [
      `--config.file=${cfg}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROM_PORT}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d) => { output += d; });
    proc.stderr.on('data', (d) => { output += d; });
    try {
      const q = encodeURIComponent('nginx_oauth2_logins_total{result="completed"}');
      let value = null;
      const deadline = Date.now() + 40000;
      while (Date.now() < deadline) {
        try {
          const r = await fetch(`http://127.0.0.1:${PROM_PORT}/api/v1/query?query=${q}`);
          if (r.ok) {
            const body = await r.json();
            if (body.data && body.data.result.length) {
              value = body.data.result[0].value[1];
              assert.equal(body.data.result[0].metric.provider, 'op');
              break;
            }
          }
        } catch (e) { /* not up yet */ }
        await new Promise((res) => { setTimeout(res, 500); });
      }
      assert.equal(value, '2', `Prometheus has the completed logins\n${output.slice(-2000)}`);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((res) => { proc.on('exit', res); setTimeout(res, 5000); });
    }
  });
});
