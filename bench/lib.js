'use strict';

// Shared pieces of the benchmark scenarios (bench/<scenario>.js):
// processes (through the e2e helpers of t/e2e/lib), wrk runs and their
// parsing, statistics, Markdown tables and the report file.
//
// Every scenario uses its own ports (BENCH_NGINX_PORT, BENCH_FAKE_PORT) and
// its own prefix under bench/out/servroot (set by bench/run.sh through
// E2E_SERVROOT), so a benchmark can run next to the e2e tests.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const OUT = process.env.BENCH_OUT || path.join(ROOT, 'bench', 'out');
if (!process.env.E2E_SERVROOT) process.env.E2E_SERVROOT = path.join(OUT, 'servroot');

// loaded after E2E_SERVROOT is set: config reads it once
const e2e = require('../t/e2e/lib');

function intEnv(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const settings = {
  NGINX_PORT: intEnv('BENCH_NGINX_PORT', 2086),
  FAKE_PORT: intEnv('BENCH_FAKE_PORT', 2090),
  // A and B runs each (alternating A B A B ...)
  RUNS: intEnv('BENCH_RUNS', 7),
  // seconds of each measured wrk run
  DURATION: intEnv('BENCH_DURATION', 2),
  WRK_THREADS: intEnv('BENCH_WRK_THREADS', 1),
  WRK_CONNECTIONS: intEnv('BENCH_WRK_CONNECTIONS', 8),
  // pin the nginx worker and wrk to different CPUs (0: no pinning)
  PIN: process.env.BENCH_PIN === '1',
  // nice value of the nginx worker (worker_priority) and of wrk: a negative
  // one keeps unrelated processes of a shared machine from preempting them
  // (default -10 as root, else 0)
  NICE: process.env.BENCH_NICE !== undefined && process.env.BENCH_NICE !== ''
    ? Number(process.env.BENCH_NICE) : (process.getuid && process.getuid() === 0 ? -10 : 0),
  WRK: process.env.WRK_BIN || 'wrk',
};

const log = (...a) => process.stderr.write(`bench: ${a.join(' ')}\n`);

// ------------------------------------------------------------ processes

/** An environment without the e2e lock (own ports, own prefix). */
function createEnv(name) {
  return e2e.createEnv(name, { lock: false });
}

/** nginx `main` directives: the worker pinned to CPU 0 when PIN, its priority. */
function mainConf() {
  return [
    settings.PIN ? 'worker_cpu_affinity 01;' : '',
    settings.NICE ? `worker_priority ${settings.NICE};` : '',
  ].filter(Boolean).join('\n');
}

/** argv prefix for load generators: pinned to the last CPU when PIN, niced like nginx. */
function loadGenPrefix() {
  const n = os.cpus().length;
  return [
    ...(settings.NICE ? ['nice', '-n', String(settings.NICE)] : []),
    ...(settings.PIN ? ['taskset', '-c', String(n - 1)] : []),
  ];
}

/** How the load was run, for the reports. */
function setupText() {
  const s = settings;
  const parts = [];
  if (s.PIN) parts.push(`nginx worker pinned to CPU 0, wrk to CPU ${os.cpus().length - 1}`);
  if (s.NICE) parts.push(`nginx worker and wrk at nice ${s.NICE}`);
  return parts.join('; ');
}

// ------------------------------------------------------------ wrk

/** "1.23ms" | "456.00us" | "2.00s" -> milliseconds */
function parseDuration(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s.trim());
  if (!m) throw new Error(`cannot parse wrk duration ${JSON.stringify(s)}`);
  const v = Number(m[1]);
  return { us: v / 1000, ms: v, s: v * 1000, m: v * 60000 }[m[2]];
}

/** Parse `wrk --latency` output: { p50, p75, p90, p99 (ms), rps, requests, errors, raw } */
function parseWrk(text) {
  const out = { raw: text, errors: 0 };
  for (const [, pct, val] of text.matchAll(/^\s+(50|75|90|99)%\s+(\S+)\s*$/gm)) out[`p${pct}`] = parseDuration(val);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (rps) out.rps = Number(rps[1]);
  const req = /(\d+) requests in/.exec(text);
  if (req) out.requests = Number(req[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) out.errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) out.errors += Number(non2xx[1]);
  if (out.p50 === undefined || out.p99 === undefined || out.rps === undefined) {
    throw new Error(`cannot parse wrk output:\n${text}`);
  }
  return out;
}

/** Run wrk against url for `seconds`; resolves the parsed result. */
function wrk(url, { seconds = settings.DURATION, threads = settings.WRK_THREADS,
  connections = settings.WRK_CONNECTIONS, extra = [] } = {}) {
  const argv = [...loadGenPrefix(), settings.WRK, '--latency', `-t${threads}`, `-c${connections}`,
    `-d${seconds}s`, ...extra, url];
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) { reject(new Error(`${argv.join(' ')} exited ${code}:\n${stdout}${stderr}`)); return; }
      try { resolve(parseWrk(stdout)); } catch (e) { reject(e); }
    });
  });
}

// ------------------------------------------------------------ single requests

/**
 * A GET on its own connection, timed; resolves (never rejects) with
 * { status, location, headers, ms, error }.  `settled` tells whether it ended.
 */
function timedGet(url, headers = {}, timeoutMs = 30000) {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const h = { settled: false };
  h.done = new Promise((resolve) => {
    const end = (r) => { h.settled = true; resolve(r); };
    const req = http.get(url, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => end({
        status: res.statusCode, location: res.headers.location, headers: res.headers, ms: elapsed(),
      }));
      res.on('error', (e) => end({ error: e.message, ms: elapsed() }));
    });
    req.on('error', (e) => end({ error: e.message, ms: elapsed() }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
  });
  return h;
}

/** Poll the fake provider's counter `key` until it reaches n. */
async function waitForHits(fake, key, n, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await fake.stats();
    if ((stats[key] || 0) >= n) return stats;
    if (Date.now() > deadline) throw new Error(`fake: ${key} reached ${stats[key] || 0} of ${n} within ${ms} ms`);
    await e2e.sleep(10);
  }
}

// ------------------------------------------------------------ numbers and tables

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** ms -> "123 µs" / "1.23 ms" */
function fmtMs(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  return `${ms.toFixed(2)} ms`;
}

function markdownTable(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------ report

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout || ''}${r.stderr || ''}`.split('\n').find((l) => l.trim()) || 'unknown';
}

function machine() {
  let cpu = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch { /* not Linux */ }
  return {
    nproc: os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    cpu,
    kernel: `${os.type()} ${os.release()}`,
    nginx: firstLine(e2e.config.NGINX_BIN, ['-v']).replace(/^nginx version:\s*/, ''),
    wrk: firstLine(settings.WRK, ['-v']).replace(/\s+Copyright.*$/, ''),
    node: process.version,
  };
}

/** The module's source version: commit, "+changes" when the tree differs from it. */
function sourceVersion() {
  const head = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'ngx_http_oauth2_module', 'config'],
    { encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? '+changes' : ''}`;
}

function machineText(m = machine()) {
  return `nproc ${m.nproc}, ${m.memory}, ${m.cpu}, ${m.kernel}, nginx ${m.nginx}, ${m.wrk}, node ${m.node}; `
    + `module source ${sourceVersion()}`;
}

/** Children of pid (no /proc/<pid>/task/<pid>/children here: scan /proc). */
function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Nanoseconds on the CPU of every thread of these processes. */
function cpuNs(pids) {
  let ns = 0;
  for (const pid of pids) {
    let tasks = [];
    try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const t of tasks) {
      try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
    }
  }
  return ns;
}

/** Print the report to stdout and keep a copy in bench/out/<name>-<stamp>.md. */
function report(name, markdown) {
  fs.mkdirSync(OUT, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
  const file = path.join(OUT, `${name}-${stamp}.md`);
  fs.writeFileSync(file, `${markdown}\n`);
  fs.writeFileSync(path.join(OUT, `${name}-latest.md`), `${markdown}\n`);
  process.stdout.write(`${markdown}\n\n(saved to ${path.relative(ROOT, file)})\n`);
}

module.exports = {
  ROOT, OUT, e2e, settings, log, createEnv, mainConf, loadGenPrefix, setupText,
  parseDuration, parseWrk, wrk, timedGet, waitForHits, median, fmtMs, markdownTable, machine, machineText,
  sourceVersion, report, childrenOf, cpuNs,
};
