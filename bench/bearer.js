'use strict';

// bench/run.sh bearer: what a bearer token costs (issue 15).
//
// One nginx (one worker) in front of the real OP started with --bearer,
// serving the same small file from /plain/ (no oauth2) and /api/
// (oauth2_bearer op):
//
//   1. throughput: wrk on /plain/ and on /api/ with one valid JWT access
//      token (always the same: the shared zone's cache), alternating,
//      BENCH_RUNS runs each; the ratio of the medians (target >= 0.90);
//   2. the worker's CPU per request for /plain/, for /api/ with the known
//      token (their ratio: the throughput ratio without the noise of a
//      shared machine), and the CPU cost of a first-seen JWT: the worker's CPU time
//      (/proc/<pid>/task/*/schedstat) over N requests each with a token it
//      has not seen, less that of N requests with one known token, per
//      request (microseconds);
//   3. introspection calls per 10,000 requests with 100 distinct opaque
//      tokens (16 in parallel), counted at the OP (target: 100).
//
// Settings: BENCH_RUNS, BENCH_DURATION, BENCH_WRK_CONNECTIONS,
// BENCH_NGINX_PORT (the OP listens on OP_PORT), BENCH_FIRST_SEEN (N, 1000).

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const B = require('./lib');

const {
  settings: S, log, e2e, childrenOf,
} = B;

const cpuNs = (pid) => B.cpuNs([pid]);
const FIRST_SEEN = Number(process.env.BENCH_FIRST_SEEN || 1000);
const API = 'https://api.example.com';
const CLIENT = { id: 'api-client', secret: 'api-client-secret-0123456789abcdef' };

async function tokens(tokenEndpoint, n, resource) {
  const auth = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;
  const out = [];
  const one = async () => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' });
    if (resource) body.set('resource', resource);
    const r = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
      body: body.toString(),
    });
    if (r.status !== 200) throw new Error(`token endpoint: HTTP ${r.status}`);
    out.push((await r.json()).access_token);
  };
  for (let i = 0; i < n; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, n - i) }, one));
  }
  return out;
}

/** n GETs of path, the token of request i being toks[i % toks.length], `par` at a time on keep-alive connections. */
async function requests(port, pathName, toks, n, par = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: par });
  const statuses = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const status = await new Promise((resolve, reject) => {
        const req = http.get({
          host: '127.0.0.1', port, path: pathName, agent,
          headers: { authorization: `Bearer ${toks[i % toks.length]}` },
        }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        req.on('error', reject);
      });
      statuses[status] = (statuses[status] || 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: par }, worker));
  agent.destroy();
  return statuses;
}

async function main() {
  const env = await B.createEnv('bench-bearer');
  try {
    const op = await env.op({ extraArgs: ['--bearer'], accessTtl: 3600, verbose: true });
    const tokenEndpoint = (await op.discovery()).token_endpoint;
    const port = S.NGINX_PORT;
    const root = path.join(B.OUT, 'bearer-html');
    fs.mkdirSync(root, { recursive: true });
    fs.chmodSync(root, 0o755);
    fs.writeFileSync(path.join(root, 'index.html'), 'hello\n');

    const ngx = await env.nginx({
      name: 'bench-bearer',
      port,
      workerProcesses: 1,
      main: B.mainConf(),
      env: { OP_SECRET: e2e.config.OP_CLIENT.secret },
      http: `${op.providerConf('op', `bearer_audience ${API};`)}
access_log off;

server {
    listen 127.0.0.1:${port};
    location /plain/ { alias ${root}/; }
    location /api/ { oauth2_bearer op; alias ${root}/; }
}`,
    });
    const worker = childrenOf(ngx.proc.pid)[0];
    const url = (p) => `http://127.0.0.1:${port}${p}`;

    // 1. throughput
    const [tok] = await tokens(tokenEndpoint, 1, API);
    const warm = await requests(port, '/api/', [tok], 100);
    if (warm[200] !== 100) throw new Error(`warm-up: ${JSON.stringify(warm)}`);
    const runs = { plain: [], bearer: [] };
    for (let i = 0; i < S.RUNS; i++) {
      const p = await B.wrk(url('/plain/'), { extra: ['-H', `Authorization: Bearer ${tok}`] });
      const b = await B.wrk(url('/api/'), { extra: ['-H', `Authorization: Bearer ${tok}`] });
      if (p.errors || b.errors || p.non2xx || b.non2xx) throw new Error('wrk saw errors');
      runs.plain.push(p);
      runs.bearer.push(b);
      log(`run ${i + 1}: plain ${p.rps.toFixed(0)} req/s, bearer ${b.rps.toFixed(0)} req/s`);
    }
    const med = (k, f) => B.median(runs[k].map((r) => r[f]));
    const ratio = med('bearer', 'rps') / med('plain', 'rps');
    const paired = B.median(runs.bearer.map((r, i) => r.rps / runs.plain[i].rps));

    // 2. first-seen JWT CPU cost
    log(`getting ${FIRST_SEEN} JWT access tokens`);
    const fresh = await tokens(tokenEndpoint, FIRST_SEEN, API);
    let c0 = cpuNs(worker);
    await requests(port, '/plain/', [tok], FIRST_SEEN);
    const plainUs = (cpuNs(worker) - c0) / 1000 / FIRST_SEEN;
    c0 = cpuNs(worker);
    const known = await requests(port, '/api/', [tok], FIRST_SEEN);
    const knownUs = (cpuNs(worker) - c0) / 1000 / FIRST_SEEN;
    c0 = cpuNs(worker);
    const first = await requests(port, '/api/', fresh, FIRST_SEEN);
    const firstUs = (cpuNs(worker) - c0) / 1000 / FIRST_SEEN;
    if (known[200] !== FIRST_SEEN || first[200] !== FIRST_SEEN) {
      throw new Error(`first-seen: ${JSON.stringify({ known, first })}`);
    }

    // 3. introspection calls
    const opaque = await tokens(tokenEndpoint, 100, null);
    const calls = () => (op.proc.stdout().match(/^op: POST \/token\/introspection -> 200/gm) || []).length;
    const before = calls();
    const intro = await requests(port, '/api/', opaque, 10000, 16);
    if (intro[200] !== 10000) throw new Error(`introspection: ${JSON.stringify(intro)}`);
    const introCalls = calls() - before;

    const f = (x, d = 2) => x.toFixed(d);
    const md = [
      '## bearer: the cost of an API caller\'s token',
      '',
      B.markdownTable(['', 'plain nginx', '`oauth2_bearer`, one repeated JWT', 'ratio (paired)'], [
        ['requests/s (median)', f(med('plain', 'rps'), 0), f(med('bearer', 'rps'), 0), `${f(ratio)} (${f(paired)})`],
        ['p99 (ms)', f(med('plain', 'p99')), f(med('bearer', 'p99')), f(med('bearer', 'p99') / med('plain', 'p99'))],
      ]),
      '',
      B.markdownTable(['measure', 'value', 'target'], [
        ['repeated JWT: requests/s vs plain nginx', f(ratio), '>= 0.90'],
        [`worker CPU per request, plain nginx (${FIRST_SEEN} requests)`, `${f(plainUs, 1)} µs`, ''],
        [`worker CPU per request, known token (${FIRST_SEEN} requests)`, `${f(knownUs, 1)} µs`, ''],
        ['repeated JWT: plain nginx\'s CPU per request / the bearer one\'s', f(plainUs / knownUs), '>= 0.90'],
        [`worker CPU per request, first-seen JWT (${FIRST_SEEN} tokens)`, `${f(firstUs, 1)} µs`, ''],
        ['CPU cost of a first-seen JWT (difference)', `${f(firstUs - knownUs, 1)} µs`, ''],
        ['introspection calls, 10,000 requests, 100 opaque tokens', String(introCalls), '100'],
      ]),
      '',
      `wrk -t${S.WRK_THREADS} -c${S.WRK_CONNECTIONS} -d${S.DURATION}s, ${S.RUNS} runs each, alternating; `
        + `one nginx worker; the same file from both locations; the token sent to both. ${B.setupText()}`,
      '',
      B.machineText(),
    ].join('\n');
    B.report('bearer', md);
  } finally {
    await env.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`bench bearer: ${e.stack || e}\n`);
  process.exit(1);
});
