#!/usr/bin/env node
'use strict';

// Scenario "latency": the latency of a plain (unprotected, static) location
// of a one-worker nginx, measured by wrk, without (A) and with (B) logins
// waiting on a slow provider in the same worker:
//
//   discovery  N navigations to a protected location wait on one discovery
//              fetch (fake scenario discovery-slow-<ms>), parked in the
//              module's queue;
//   token      N callbacks wait on their own token requests (fake scenario
//              token-slow-<ms>): N transfers in flight in libcurl.
//
// Runs alternate A B A B ... (BENCH_RUNS each); nginx is restarted for every
// run so that A and B start alike.  wrk measures while every B login still
// waits (checked: none of them may end before wrk does).
//
//   node bench/latency.js [--wait discovery,token]
//
// Environment: BENCH_PENDING (50), BENCH_SLOW_MS (3000), and those of
// bench/lib.js (BENCH_RUNS, BENCH_DURATION, BENCH_WRK_CONNECTIONS, ...).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const B = require('./lib');

const { e2e, settings } = B;
const { config, HttpClient, followLogin, NAVIGATE_HEADERS } = e2e;

const PENDING = Number(process.env.BENCH_PENDING || 50);
const SLOW_MS = Number(process.env.BENCH_SLOW_MS || 3000);
const WARMUP_S = 1;
const P99_TARGET = 1.2;

const WAITS = {
  discovery: {
    scenario: `discovery-slow-${SLOW_MS}`,
    key: `discovery-slow-${SLOW_MS}/.well-known/openid-configuration`,
    what: `${PENDING} navigations waiting on discovery (${SLOW_MS} ms)`,
  },
  token: {
    scenario: `token-slow-${SLOW_MS}`,
    key: `token-slow-${SLOW_MS}/token`,
    what: `${PENDING} callbacks waiting on the token endpoint (${SLOW_MS} ms)`,
  },
};

function nginxHttp(fake, root, port) {
  const providers = Object.entries(WAITS).map(([name, w]) => `
oauth2_provider ${name} {
    issuer         ${fake.issuer(w.scenario)};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    redirect_uri   /p/${name}/callback;
}`).join('\n');
  return `${providers}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    location /static/ {
        oauth2 off;
        access_log off;
    }
${Object.keys(WAITS).map((n) => `    location /p/${n}/ {\n        oauth2 ${n};\n    }`).join('\n')}
}`;
}

async function startNginx(env, fake) {
  const name = 'bench-latency';
  const root = path.join(config.SERVROOT, name, 'html');
  const ngx = await env.nginx({
    name,
    port: settings.NGINX_PORT,
    workerProcesses: 1,
    logLevel: 'notice',
    main: `${B.mainConf()}\nworker_rlimit_nofile 8192;`,
    http: nginxHttp(fake, root, settings.NGINX_PORT),
  });
  fs.mkdirSync(path.join(root, 'static'), { recursive: true });
  fs.writeFileSync(path.join(root, 'static', 'index.html'), `${'x'.repeat(600)}\n`);
  for (const d of [root, path.join(root, 'static')]) fs.chmodSync(d, 0o755);
  return ngx;
}

/** Logins up to the callback (discovery of the token provider included): callback URLs + clients. */
async function prepareCallbacks(origin, n) {
  const out = [];
  const one = async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${origin}/p/token/page`, {
      stopAt: (u) => u.startsWith(`${origin}/p/token/callback?`),
    });
    if (!flow.stoppedAt) throw new Error(`login did not reach the callback:\n${e2e.describeHops(flow.hops)}`);
    out.push({ client, url: flow.stoppedAt });
  };
  await one(); // discovery first, then the rest in parallel
  await Promise.all(Array.from({ length: n - 1 }, one));
  return out;
}

/** Start the pending logins of a B run; resolves once the provider has them all. */
async function startPending(kind, fake, origin, prepared) {
  const w = WAITS[kind];
  let pending;
  if (kind === 'discovery') {
    pending = Array.from({ length: PENDING }, (_, i) => B.timedGet(`${origin}/p/discovery/page${i}`, NAVIGATE_HEADERS));
    await B.waitForHits(fake, w.key, 1);
    // the rest of them reach the worker and park behind the fetch
    await e2e.sleep(150);
  } else {
    pending = prepared.map(({ client, url }) => B.timedGet(url, {
      ...NAVIGATE_HEADERS, 'sec-fetch-site': 'cross-site', cookie: client.jar.header(url) || '',
    }));
    await B.waitForHits(fake, w.key, PENDING);
  }
  return pending;
}

async function checkPending(kind, pending) {
  const settledEarly = pending.filter((p) => p.settled).length;
  const results = await Promise.all(pending.map((p) => p.done));
  const bad = results.filter((r) => r.error || r.status !== 302);
  if (settledEarly) throw new Error(`${kind}: ${settledEarly} login(s) ended before wrk did: make BENCH_SLOW_MS longer`);
  if (bad.length) throw new Error(`${kind}: ${bad.length} login(s) failed: ${JSON.stringify(bad.slice(0, 3))}`);
  const ms = results.map((r) => r.ms);
  return { min: Math.min(...ms), max: Math.max(...ms) };
}

async function oneRun(env, fake, kind, cond) {
  await fake.reset();
  const ngx = await startNginx(env, fake);
  const origin = `http://127.0.0.1:${settings.NGINX_PORT}`;
  const url = `${origin}/static/index.html`;
  try {
    // the same preparation for A and B: only the waiting logins differ
    const prepared = kind === 'token' ? await prepareCallbacks(origin, PENDING) : null;
    await B.wrk(url, { seconds: WARMUP_S });
    const pending = cond === 'B' ? await startPending(kind, fake, origin, prepared) : null;
    const t0 = Date.now();
    const r = await B.wrk(url);
    const wrkMs = Date.now() - t0;
    const waited = pending ? await checkPending(kind, pending) : null;
    if (wrkMs > SLOW_MS - 300 && pending) throw new Error(`wrk took ${wrkMs} ms: too close to BENCH_SLOW_MS`);
    if (r.errors) throw new Error(`wrk saw ${r.errors} errors:\n${r.raw}`);
    const errs = ngx.errors();
    if (errs.length) throw new Error(`nginx logged errors:\n${errs.join('\n')}`);
    return { ...r, waited };
  } finally {
    await ngx.stop();
  }
}

async function main() {
  const { values } = parseArgs({ options: { wait: { type: 'string', default: 'discovery,token' } } });
  const kinds = values.wait.split(',').filter(Boolean);
  for (const k of kinds) if (!WAITS[k]) throw new Error(`--wait: unknown ${k} (discovery, token)`);
  if (settings.DURATION * 1000 > SLOW_MS - 700) {
    throw new Error(`BENCH_DURATION ${settings.DURATION}s must end well before the provider answers (BENCH_SLOW_MS ${SLOW_MS})`);
  }

  e2e.requireModule();
  const env = await B.createEnv('bench-latency');
  const summary = [];
  const spread = [];
  const runRows = [];
  const load0 = os.loadavg();
  try {
    const fake = await env.fake({ port: settings.FAKE_PORT, verbose: false });
    for (const kind of kinds) {
      const res = { A: [], B: [] };
      for (let i = 0; i < settings.RUNS; i++) {
        for (const cond of ['A', 'B']) {
          const load = os.loadavg()[0];
          const r = await oneRun(env, fake, kind, cond);
          res[cond].push(r);
          B.log(`${kind} run ${i + 1} ${cond}: p50 ${B.fmtMs(r.p50)} p99 ${B.fmtMs(r.p99)} ${Math.round(r.rps)} req/s`
            + (r.waited ? `; logins waited ${Math.round(r.waited.min)}-${Math.round(r.waited.max)} ms` : ''));
          runRows.push([kind, String(i + 1), cond, B.fmtMs(r.p50), B.fmtMs(r.p90), B.fmtMs(r.p99),
            String(Math.round(r.rps)), r.waited ? `${Math.round(r.waited.min)}-${Math.round(r.waited.max)} ms` : '',
            load.toFixed(2)]);
        }
      }
      const med = (c, f) => B.median(res[c].map((r) => r[f]));
      const range = (c, f) => {
        const xs = res[c].map((r) => r[f]);
        return `${B.fmtMs(Math.min(...xs))} – ${B.fmtMs(Math.max(...xs))}`;
      };
      const ratio = med('B', 'p99') / med('A', 'p99');
      summary.push([
        WAITS[kind].what,
        B.fmtMs(med('A', 'p50')), B.fmtMs(med('A', 'p99')),
        B.fmtMs(med('B', 'p50')), B.fmtMs(med('B', 'p99')),
        `**${ratio.toFixed(2)}**${ratio <= P99_TARGET ? '' : ' (over target)'}`,
        String(Math.round(med('A', 'rps'))), String(Math.round(med('B', 'rps'))),
      ]);
      spread.push([WAITS[kind].what, range('A', 'p99'), range('B', 'p99'), range('A', 'p50'), range('B', 'p50')]);
    }
  } finally {
    await env.stop();
  }

  const s = settings;
  const md = [
    '## Plain latency while logins wait',
    '',
    `GET of a 601-byte static file (\`oauth2 off\`), one nginx worker${B.setupText() ? ` (${B.setupText()})` : ''}; `
      + `wrk -t${s.WRK_THREADS} -c${s.WRK_CONNECTIONS} -d${s.DURATION}s --latency; `
      + `medians of ${s.RUNS} runs each, alternating A (no login waiting) and B (logins waiting); target p99 B/A <= ${P99_TARGET}.`,
    '',
    B.markdownTable(
      ['logins waiting (B)', 'p50 A', 'p99 A', 'p50 B', 'p99 B', 'p99 B/A', 'req/s A', 'req/s B'],
      summary,
    ),
    '',
    'Spread over the runs (min – max), the noise the medians smooth out:',
    '',
    B.markdownTable(['logins waiting (B)', 'p99 A', 'p99 B', 'p50 A', 'p50 B'], spread),
    '',
    '<details><summary>every run</summary>',
    '',
    B.markdownTable(['wait', 'run', 'A/B', 'p50', 'p90', 'p99', 'req/s', 'logins answered after', 'load avg (1 min) before'],
      runRows),
    '',
    '</details>',
    '',
    `Machine: ${B.machineText()}. Load average (1, 5, 15 min) at the start: `
      + `${load0.map((x) => x.toFixed(2)).join(', ')}; at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}.`,
  ].join('\n');
  B.report('latency', md);
}

main().catch((e) => {
  process.stderr.write(`bench/latency.js: ${e.stack || e}\n`);
  process.exit(1);
});
