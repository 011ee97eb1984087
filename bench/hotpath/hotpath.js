#!/usr/bin/env node
'use strict';

// The hot-path benchmark of ngx_http_oauth2_module (bench/hotpath.sh runs it).
//
//   node bench/hotpath/hotpath.js [throughput] [callgrind] [login] [memory]   (none: all four)
//
// throughput  one-worker nginx serving the same static file unprotected and
//             behind `oauth2` with a valid session cookie obtained through a
//             real login at t/op/server.js; also with $oauth2_claim_email and
//             $oauth2_access_token in add_header, and Apache httpd with
//             mod_auth_openidc (client-cookie sessions) logged in at the same
//             OP.  wrk -c32, the scenarios alternate (A B C ... A B C ...),
//             medians of HOT_RUNS runs each.  Also reports the session
//             cookie sizes of those logins.
// callgrind   instructions per request (user space) of the same requests
//             under valgrind --tool=callgrind, per module function: the
//             deterministic view, for a machine whose timings are noisy.
// login       the nginx worker's CPU time per complete login (authorization
//             redirect + callback with an RS256 ID token) against the fake
//             provider t/fake/provider.js, from /proc/<worker>/schedstat.
// memory      the worker's RSS after HOT_REQUESTS requests rotating through
//             HOT_SESSIONS distinct sessions (minted with t/tools/seal.js),
//             against the same nginx without the module.
//
// CPU time is read from /proc/<pid>/schedstat (nanoseconds on the CPU):
// it depends much less than requests per second on what else the (shared)
// machine is doing, so the tables give both.
//
// Environment (defaults in brackets):
//   HOT_RUNS [25]              runs of each throughput scenario (>= 3); one
//                              run of every scenario per round, the order
//                              reversed every other round
//   HOT_DURATION [1]           seconds per measured wrk run (short runs, many
//                              rounds: the runs compared are close in time)
//   HOT_CONNECTIONS [32]       wrk -c;  HOT_THREADS [1] wrk -t
//   HOT_PIN [1 with >= 2 CPUs] nginx worker and Apache on CPU 0, wrk on the last CPU
//   HOT_NICE [-10 as root]     nice value of nginx workers, Apache and wrk
//   HOT_APACHE [1]             0: skip Apache
//   HOT_RENDER                 a saved bench/out/hotpath-results.json: print
//                              its report again (nothing is measured)
//   HOT_COMPARE_SO             another build of the module (e.g. before a
//                              change): its plain and `oauth2` requests join
//                              the rounds, from a second one-worker nginx
//   HOT_LOGINS [1000]          logins measured by `login`; HOT_LOGIN_CONCURRENCY [8]
//   HOT_SESSIONS [10000], HOT_REQUESTS [100000]   `memory`
//   HOT_CG_METRICS [1]         0: the callgrind nginx without its
//                              `oauth2_metrics` location (to compare)
//   HOT_NGINX_PORT [2284]      nginx ports: 2284 .. 2289 (Apache: 2288)
//   HOT_OP_PORT [2291], HOT_FAKE_PORT [2290]
//   NGINX_BIN, OAUTH2_MODULE_SO, E2E_SERVROOT (set by bench/hotpath.sh)

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const B = require('../lib');

const { childrenOf, cpuNs } = B;
const seal = require('../../t/tools/seal.js');

const { e2e } = B;
const { config, HttpClient, followLogin, describeHops } = e2e;

// ------------------------------------------------------------ settings

function num(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

const NCPU = os.cpus().length;
const IS_ROOT = process.getuid && process.getuid() === 0;

const S = {
  RUNS: num('HOT_RUNS', 25),
  DURATION: num('HOT_DURATION', 1),
  CONNECTIONS: num('HOT_CONNECTIONS', 32),
  THREADS: num('HOT_THREADS', 1),
  PIN: num('HOT_PIN', NCPU >= 2 ? 1 : 0) === 1 && NCPU >= 2,
  NICE: num('HOT_NICE', IS_ROOT ? -10 : 0),
  APACHE: num('HOT_APACHE', 1) === 1,
  LOGINS: num('HOT_LOGINS', 1000),
  LOGIN_CONCURRENCY: num('HOT_LOGIN_CONCURRENCY', 8),
  SESSIONS: num('HOT_SESSIONS', 10000),
  REQUESTS: num('HOT_REQUESTS', 100000),
  CG_METRICS: num('HOT_CG_METRICS', 1) === 1,
  PORT: num('HOT_NGINX_PORT', 2284),
  OP_PORT: num('HOT_OP_PORT', 2291),
  FAKE_PORT: num('HOT_FAKE_PORT', 2290),
  WRK: process.env.WRK_BIN || 'wrk',
  COMPARE_SO: process.env.HOT_COMPARE_SO || '',
  APACHE_BIN: process.env.APACHE_BIN || '/usr/sbin/apache2',
};

const PORTS = {
  default: S.PORT, // oauth2 with default settings (+ $oauth2_claim_email)
  token: S.PORT + 1, // $oauth2_access_token used
  tokens: S.PORT + 2, // $oauth2_access_token and $oauth2_id_token used
  login: S.PORT + 3, // against the fake provider
  memModule: S.PORT + 3,
  compare: S.PORT + 3, // HOT_COMPARE_SO, during the throughput part only
  apache: S.PORT + 4,
  memPlain: S.PORT + 5,
  metrics: S.PORT + 5, // during the throughput part only
};

const TARGETS = {
  rps: 0.93, p99: 1.15, rpsVar: 0.90, cookie: 350, rssMiB: 2,
};

const FILE = `${'x'.repeat(600)}\n`; // 601 bytes, as bench/latency.js
const COOKIE_NAME = 'oauth2_op';
const log = (...a) => process.stderr.write(`hotpath: ${a.join(' ')}\n`);

if (S.RUNS < 3) throw new Error('HOT_RUNS must be at least 3');

// ------------------------------------------------------------ processes

/** nginx main-context lines: one worker, pinned and niced like the load generator's peer. */
function mainConf() {
  return [
    S.PIN ? 'worker_cpu_affinity 01;' : '',
    S.NICE ? `worker_priority ${S.NICE};` : '',
    'worker_rlimit_nofile 8192;',
  ].filter(Boolean).join('\n');
}

function prefixArgv() {
  return [
    ...(S.NICE ? ['nice', '-n', String(S.NICE)] : []),
    ...(S.PIN ? ['taskset', '-c', String(NCPU - 1)] : []),
  ];
}

function kib(text, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** A process's memory in kB: RSS and its parts, PSS, and what only it uses (USS). */
function memOf(pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const sm = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rss: kib(st, 'VmRSS'),
    anon: kib(st, 'RssAnon'),
    file: kib(st, 'RssFile'),
    shmem: kib(st, 'RssShmem'),
    hwm: kib(st, 'VmHWM'),
    pss: kib(sm, 'Pss'),
    uss: kib(sm, 'Private_Clean') + kib(sm, 'Private_Dirty'),
  };
}

/** RSS in kB per mapped file ([heap], libraries, ...). */
function rssByMapping(pid) {
  const out = {};
  let name = '';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) { name = m[1] || '[anonymous]'; continue; }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) out[name] = (out[name] || 0) + Number(r[1]);
  }
  return out;
}

async function workerPid(ngx) {
  for (let i = 0; i < 100; i++) {
    const kids = childrenOf(ngx.proc.pid);
    if (kids.length === 1) return kids[0];
    if (kids.length > 1) throw new Error(`${ngx.name}: ${kids.length} workers, expected one`);
    await e2e.sleep(50);
  }
  throw new Error(`${ngx.name}: no worker process`);
}

function writeHtml(root, dirs) {
  for (const d of ['', ...dirs]) {
    const dir = path.join(root, d);
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o755);
    if (d) fs.writeFileSync(path.join(dir, 'index.html'), FILE);
  }
}

function providerBlock(op, extra = '') {
  return `oauth2_provider op {
    issuer         ${op.issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  ${config.OP_CLIENT.secret};
    scope          "openid email profile";
${extra}}
oauth2_cookie_secret ${config.COOKIE_SECRET};`;
}

/**
 * The nginx instances of the throughput part; each has /plain/ (no oauth2)
 * and protected locations serving the same file.
 */
const NGINX_KINDS = {
  default: {
    what: 'default settings',
    locations: {
      // the baselines pass the Cookie header as nginx without the module
      plain: 'oauth2_strip_cookies off;',
      // what add_header itself costs, with a constant of the same length
      hdr: 'oauth2_strip_cookies off;\n        add_header X-Email alice@example.com;',
      prot: 'oauth2 op;',
      claim: 'oauth2 op;\n        add_header X-Email $oauth2_claim_email;',
      // the issue's own wording: through a proxy to a backend (this same
      // server, over kept-alive upstream connections), unprotected and with
      // proxy_set_header X-Email $oauth2_claim_email; the backend echoes
      // the header it got, so the run checks it arrived
      pplain: 'oauth2_strip_cookies off;\n        proxy_pass http://hot_self/back/;',
      // (a location's own proxy_set_header drops the inherited ones:
      // Connection "" again, or every request opens a new connection)
      pclaim: 'oauth2 op;\n        proxy_set_header X-Email $oauth2_claim_email;\n'
        + '        proxy_set_header Connection "";\n        proxy_pass http://hot_self/back/;',
      back: 'oauth2_strip_cookies off;\n        add_header X-Got-Email $http_x_email;',
    },
    http: (port) => `upstream hot_self {
    server 127.0.0.1:${port};
    keepalive 16;
}
proxy_http_version 1.1;
proxy_set_header Connection "";
`,
  },
  token: {
    what: '$oauth2_access_token used',
    locations: {
      plain: 'oauth2_strip_cookies off;',
      token: 'oauth2 op;\n        add_header X-Access-Token $oauth2_access_token;',
    },
  },
  // the same as default, with an oauth2_metrics location: the module
  // counts (nothing on a valid session's path), the zone exists
  metrics: {
    what: 'default settings and an `oauth2_metrics` location',
    locations: {
      plain: 'oauth2_strip_cookies off;',
      prot: 'oauth2 op;',
    },
    server: '    location = /metrics { oauth2_metrics; }',
  },
  tokens: {
    what: '$oauth2_access_token and $oauth2_id_token used',
    locations: {
      plain: 'oauth2_strip_cookies off;',
      tokens: 'oauth2 op;\n        add_header X-Access-Token $oauth2_access_token;',
      // only here so that the ID token is stored
      idt: 'oauth2 op;\n        add_header X-Id-Token $oauth2_id_token;',
    },
  },
};

async function startThroughputNginx(env, op, kind, so) {
  const k = NGINX_KINDS[kind === 'compare' ? 'default' : kind];
  const name = `hot-${kind}`;
  const root = path.join(config.SERVROOT, name, 'html');
  const port = PORTS[kind];
  const locs = Object.entries(k.locations)
    .map(([loc, body]) => `    location /${loc}/ {${body ? `\n        ${body}\n    ` : ' '}}`).join('\n');
  const ngx = await env.nginx({
    name,
    port,
    workerProcesses: 1,
    logLevel: 'notice',
    ...(so ? { loadModule: false } : {}),
    main: `${so ? `load_module ${so};\n` : ''}${mainConf()}`,
    http: `${providerBlock(op)}
${k.http ? k.http(port) : ''}
server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    access_log off;
${locs}
${k.server || ''}
}`,
  });
  writeHtml(root, Object.keys(k.locations));
  ngx.worker = await workerPid(ngx);
  ngx.kind = kind;
  return ngx;
}

// ------------------------------------------------------------ Apache

function findApacheModule() {
  return '/usr/lib/apache2/modules/mod_auth_openidc.so';
}

async function startApache(env, op) {
  if (!fs.existsSync(S.APACHE_BIN)) throw new Error(`${S.APACHE_BIN} not found (apt-get install apache2)`);
  if (!fs.existsSync(findApacheModule())) {
    throw new Error(`${findApacheModule()} not found (apt-get install libapache2-mod-auth-openidc)`);
  }
  const prefix = path.join(config.SERVROOT, 'hot-apache');
  fs.rmSync(prefix, { recursive: true, force: true });
  for (const d of ['', 'logs', 'html']) {
    fs.mkdirSync(path.join(prefix, d), { recursive: true });
    fs.chmodSync(path.join(prefix, d), 0o755);
  }
  writeHtml(path.join(prefix, 'html'), ['plain', 'protected']);
  const port = PORTS.apache;
  const vars = {
    PREFIX: prefix,
    PORT: String(port),
    ISSUER: op.issuer,
    CLIENT_ID: config.OP_CLIENT.id,
    CLIENT_SECRET: config.OP_CLIENT.secret,
    PASSPHRASE: crypto.randomBytes(24).toString('base64url'),
    // as root, the children run as www-data (Apache refuses to serve as root)
    USER: IS_ROOT ? 'User www-data\nGroup www-data' : '',
  };
  const tpl = fs.readFileSync(path.join(__dirname, 'apache.conf.in'), 'utf8');
  const conf = tpl.replace(/@([A-Z_]+)@/g, (m, v) => (v in vars ? vars[v] : m));
  const confFile = path.join(prefix, 'httpd.conf');
  fs.writeFileSync(confFile, conf);
  if (IS_ROOT) spawnSync('chown', ['-R', 'www-data:www-data', path.join(prefix, 'logs')]);

  const t = spawnSync(S.APACHE_BIN, ['-f', confFile, '-t'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`apache2 -t failed:\n${t.stderr}${t.stdout}`);

  await e2e.assertPortFree(port, 'apache');
  const argv = [
    ...(S.NICE ? ['nice', '-n', String(S.NICE)] : []),
    ...(S.PIN ? ['taskset', '-c', '0'] : []),
    S.APACHE_BIN, '-f', confFile, '-DFOREGROUND',
  ];
  const proc = await e2e.startProcess(argv[0], {
    name: 'apache', args: argv.slice(1), stdinPipe: false, logFile: path.join(prefix, 'logs', 'apache.out'),
  });
  const errorLog = () => { try { return fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8'); } catch { return ''; } };
  await e2e.waitForPort(port, {
    timeoutMs: 15000,
    abortIf: () => (proc.exited ? `apache exited ${JSON.stringify(proc.exited)}\n${proc.output()}\n${errorLog()}` : null),
  });
  const handle = {
    name: 'apache',
    port,
    proc,
    errorLog,
    /** the httpd parent (ours: nice/taskset exec it) and its children */
    pids: () => [proc.pid, ...childrenOf(proc.pid)],
    stop: () => proc.stop(10000),
  };
  env.own(handle, 'apache');
  return handle;
}

// ------------------------------------------------------------ wrk

/**
 * wrk; with `doneFile`, the script writes that file when it has had its
 * answers, and wrk (which otherwise sleeps its whole -d) gets SIGINT: it
 * then prints its report and exits.
 */
function runWrk(url, {
  seconds = S.DURATION, headers = {}, script, scriptEnv = {}, doneFile,
} = {}) {
  const argv = [...prefixArgv(), S.WRK, '--latency', `-t${S.THREADS}`, `-c${S.CONNECTIONS}`, `-d${seconds}s`];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}: ${v}`);
  if (script) argv.push('-s', script);
  argv.push(url);
  if (doneFile) fs.rmSync(doneFile, { force: true });
  return new Promise((resolve, reject) => {
    // nice and taskset exec wrk: p.pid is wrk's
    const p = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...scriptEnv, ...(doneFile ? { HOT_DONE_FILE: doneFile } : {}) },
    });
    const unhook = e2e.onExit(() => { try { p.kill('SIGTERM'); } catch { /* gone */ } });
    const poll = doneFile && setInterval(() => {
      if (fs.existsSync(doneFile)) { clearInterval(poll); p.kill('SIGINT'); }
    }, 100);
    let out = '';
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => { out += c; });
    p.on('error', reject);
    p.on('exit', (code) => {
      unhook();
      if (poll) clearInterval(poll);
      if (code !== 0) { reject(new Error(`wrk exited ${code}:\n${out}`)); return; }
      try { resolve(B.parseWrk(out)); } catch (e) { reject(e); }
    });
  });
}

/** One GET; resolves { status, headers, body }. */
function get(url, headers = {}, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15000, () => req.destroy(new Error(`GET ${url}: timeout`)));
  });
}

// ------------------------------------------------------------ logins

/** A real login at the OP through `startUrl`; resolves { client, response, hops }. */
async function login(startUrl, user) {
  const client = new HttpClient();
  const flow = await followLogin(client, startUrl, { login: user });
  const res = flow.response;
  if (res.status !== 200 || res.body !== FILE) {
    throw new Error(`login through ${startUrl} ended with ${res.status}:\n${describeHops(flow.hops)}\n${res.body.slice(0, 500)}`);
  }
  return { client, hops: flow.hops };
}

/** The Set-Cookie values a login's responses set for cookies named like `re`, last wins. */
function setCookiesOf(hops, re) {
  const out = new Map();
  for (const h of hops) {
    for (const raw of [].concat(h.headers['set-cookie'] || [])) {
      const name = raw.slice(0, raw.indexOf('='));
      if (re.test(name)) out.set(name, raw);
    }
  }
  return out;
}

function cookieHeaderFrom(client, url, re) {
  return client.jar.cookiesFor(url).filter((c) => re.test(c.name)).map((c) => `${c.name}=${c.value}`).join('; ');
}

async function nginxLogin(kind, user) {
  const port = PORTS[kind];
  const firstLoc = Object.keys(NGINX_KINDS[kind].locations).find((l) => l !== 'plain' && l !== 'hdr');
  const url = `http://127.0.0.1:${port}/${firstLoc}/index.html`;
  const { client, hops } = await login(url, user);
  const re = new RegExp(`^${COOKIE_NAME}(_\\d+)?$`);
  const header = cookieHeaderFrom(client, url, re);
  if (!header) throw new Error(`${kind}: no session cookie after the login`);
  const sc = setCookiesOf(hops, re);
  const session = seal.openSession([config.COOKIE_SECRET], COOKIE_NAME, header);
  if (!session) throw new Error(`${kind}: the session cookie does not open with seal.js`);
  return { header, setCookies: [...sc.values()], session };
}

async function apacheLogin(user) {
  const url = `http://127.0.0.1:${PORTS.apache}/protected/index.html`;
  const { client, hops } = await login(url, user);
  const re = /^mod_auth_openidc_session/;
  const header = cookieHeaderFrom(client, url, re);
  if (!header) throw new Error('apache: no mod_auth_openidc session cookie after the login');
  return { header, setCookies: [...setCookiesOf(hops, re).values()] };
}

// ------------------------------------------------------------ throughput

const JSON_ACCEPT = { accept: 'application/json' };

async function throughput(results) {
  const env = await B.createEnv('hot-throughput');
  try {
    const redirectUris = ['default', 'token', 'tokens', 'metrics', 'compare'].map((k) => `http://127.0.0.1:${PORTS[k]}/oauth2/callback`);
    redirectUris.push(`http://127.0.0.1:${PORTS.apache}/protected/redirect_uri`);
    // sessions last as long as the ID token: longer than the whole run
    const op = await env.op({ port: S.OP_PORT, redirectUris, idTtl: 3600, verbose: false });
    log(`OP ${op.issuer}`);

    const ngx = {};
    for (const kind of Object.keys(NGINX_KINDS)) ngx[kind] = await startThroughputNginx(env, op, kind);
    if (S.COMPARE_SO) ngx.compare = await startThroughputNginx(env, op, 'compare', S.COMPARE_SO);

    let apache = null;
    let apacheWhy = '';
    if (S.APACHE) {
      try {
        apache = await startApache(env, op);
      } catch (e) {
        apacheWhy = e.message.split('\n').slice(0, 6).join(' ');
        log(`Apache not measured: ${apacheWhy}`);
      }
    } else {
      apacheWhy = 'HOT_APACHE=0';
    }

    // real logins at the OP
    const sess = {};
    for (const kind of Object.keys(NGINX_KINDS)) {
      sess[kind] = await nginxLogin(kind, 'alice');
      log(`${kind}: session cookie ${sess[kind].header.length} bytes`);
    }
    let apacheSess = null;
    if (apache) {
      try {
        apacheSess = await apacheLogin('alice');
        log(`apache: session cookie(s) ${apacheSess.header.length} bytes`);
      } catch (e) {
        apacheWhy = `the login failed: ${e.message.split('\n').slice(0, 8).join(' ')}; error.log: `
          + `${apache.errorLog().split('\n').filter((l) => /error|crit/.test(l)).slice(-3).join(' ')}`;
        log(`Apache not measured: ${apacheWhy}`);
        apacheSess = null;
      }
    }
    results.cookies = { sess, apacheSess };

    const ngxUrl = (kind, loc) => `http://127.0.0.1:${PORTS[kind]}/${loc}/index.html`;
    const withCookie = (c) => ({ ...JSON_ACCEPT, cookie: c });
    const scenarios = [
      {
        id: 'plain', name: 'nginx, unprotected (`oauth2` not set), no cookie',
        url: ngxUrl('default', 'plain'), headers: JSON_ACCEPT, pids: () => [ngx.default.worker],
      },
      {
        id: 'plain-cookie', name: 'nginx, unprotected, the same Cookie header as `oauth2`',
        url: ngxUrl('default', 'plain'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
      },
      {
        id: 'plain-header', name: 'nginx, unprotected, the same Cookie header, `add_header X-Email alice@example.com`',
        url: ngxUrl('default', 'hdr'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
        expectHeader: ['x-email', 'alice@example.com'],
      },
      {
        id: 'oauth2', name: '`oauth2`, valid session (default settings)',
        url: ngxUrl('default', 'prot'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
        target: TARGETS.rps,
      },
      {
        id: 'claim', name: '`oauth2` + `add_header X-Email $oauth2_claim_email`',
        url: ngxUrl('default', 'claim'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
        target: TARGETS.rpsVar, expectHeader: ['x-email', 'alice@example.com'],
      },
      {
        id: 'pplain', name: 'nginx, unprotected, through `proxy_pass` to a backend location of the same nginx, the same Cookie header',
        url: ngxUrl('default', 'pplain'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
      },
      {
        id: 'pclaim', name: '`oauth2` + `proxy_set_header X-Email $oauth2_claim_email`, through the same `proxy_pass`',
        url: ngxUrl('default', 'pclaim'), headers: withCookie(sess.default.header), pids: () => [ngx.default.worker],
        target: TARGETS.rpsVar, expectHeader: ['x-got-email', 'alice@example.com'],
      },
      {
        id: 'plain-metrics', name: 'the nginx with `oauth2_metrics`, unprotected, the same Cookie header',
        url: ngxUrl('metrics', 'plain'), headers: withCookie(sess.default.header), pids: () => [ngx.metrics.worker],
      },
      {
        id: 'metrics', name: '`oauth2`, valid session, `oauth2_metrics` configured',
        url: ngxUrl('metrics', 'prot'), headers: withCookie(sess.default.header), pids: () => [ngx.metrics.worker],
      },
      {
        // the nginx of the next scenario (another process): its own unprotected baseline
        id: 'plain-token', name: 'the second nginx (`$oauth2_access_token` used), unprotected, no cookie',
        url: ngxUrl('token', 'plain'), headers: JSON_ACCEPT, pids: () => [ngx.token.worker],
      },
      {
        id: 'token', name: '`oauth2` + `add_header X-Access-Token $oauth2_access_token`',
        url: ngxUrl('token', 'token'), headers: withCookie(sess.token.header), pids: () => [ngx.token.worker],
        target: TARGETS.rpsVar, expectHeader: ['x-access-token', null],
      },
      {
        id: 'plain-tokens', name: 'nginx, unprotected, the all-tokens Cookie header',
        url: ngxUrl('tokens', 'plain'), headers: withCookie(sess.tokens.header), pids: () => [ngx.tokens.worker],
      },
      {
        id: 'tokens', name: '`oauth2` + `$oauth2_access_token`, all tokens in the session (access, refresh, ID token)',
        url: ngxUrl('tokens', 'tokens'), headers: withCookie(sess.tokens.header), pids: () => [ngx.tokens.worker],
        expectHeader: ['x-access-token', null],
      },
    ];
    if (ngx.compare) {
      scenarios.push(
        {
          id: 'cmp-plain', name: `HOT_COMPARE_SO nginx, unprotected, the same Cookie header`,
          url: ngxUrl('compare', 'plain'), headers: withCookie(sess.default.header), pids: () => [ngx.compare.worker],
        },
        {
          id: 'cmp-oauth2', name: `HOT_COMPARE_SO nginx, \`oauth2\`, the same session`,
          url: ngxUrl('compare', 'prot'), headers: withCookie(sess.default.header), pids: () => [ngx.compare.worker],
        },
      );
    }
    if (apache && apacheSess) {
      scenarios.push(
        {
          id: 'apache-plain', name: 'Apache, unprotected',
          url: `http://127.0.0.1:${PORTS.apache}/plain/index.html`, headers: JSON_ACCEPT, pids: apache.pids,
        },
        {
          id: 'apache', name: 'Apache + mod_auth_openidc, valid client-cookie session',
          url: `http://127.0.0.1:${PORTS.apache}/protected/index.html`,
          headers: withCookie(apacheSess.header), pids: apache.pids,
        },
      );
    }

    // every scenario answers 200 with the file (wrk alone would count a 302 as a success)
    for (const s of scenarios) {
      const r = await get(s.url, s.headers);
      if (r.status !== 200 || r.body !== FILE) {
        throw new Error(`${s.id}: GET ${s.url} answered ${r.status} ${JSON.stringify(r.headers)}`);
      }
      if (s.expectHeader) {
        const [h, v] = s.expectHeader;
        if (!r.headers[h] || (v !== null && r.headers[h] !== v)) throw new Error(`${s.id}: no ${h} header`);
      }
      s.setsCookie = !!r.headers['set-cookie'];
      s.responseHeaders = Object.keys(r.headers).length;
    }

    log(`warm-up: ${scenarios.length} scenarios x 2 s`);
    for (const s of scenarios) await runWrk(s.url, { seconds: 2, headers: s.headers });

    const runs = Object.fromEntries(scenarios.map((s) => [s.id, []]));
    for (let i = 0; i < S.RUNS; i++) {
      // A B C ... then ... C B A: a drift of the machine's load within a
      // round does not always favour the same scenarios
      for (const s of (i % 2 ? [...scenarios].reverse() : scenarios)) {
        const pids = s.pids();
        const c0 = cpuNs(pids);
        const r = await runWrk(s.url, { headers: s.headers });
        const c1 = cpuNs(pids);
        if (r.errors) throw new Error(`${s.id}: wrk saw ${r.errors} errors (non-2xx/3xx or socket):\n${r.raw}`);
        r.cpuUs = (c1 - c0) / 1000 / r.requests;
        runs[s.id].push(r);
        log(`run ${i + 1}/${S.RUNS} ${s.id}: ${Math.round(r.rps)} req/s, p50 ${B.fmtMs(r.p50)}, p99 ${B.fmtMs(r.p99)}, `
          + `${r.cpuUs.toFixed(1)} µs CPU/req`);
      }
    }

    for (const [kind, n] of Object.entries(ngx)) {
      const errs = n.errors(['emerg', 'alert', 'crit', 'error', 'warn']).filter((l) => !/http:\/\/ is accepted|plain http/i.test(l));
      if (errs.length) log(`${kind}: error.log:\n${errs.slice(0, 5).join('\n')}`);
    }

    results.throughput = { scenarios, runs, apacheWhy, compareSo: S.COMPARE_SO };
  } finally {
    await env.stop();
  }
}

// ------------------------------------------------------------ login CPU

function agentGet(agent, url, headers) {
  return get(url, headers, agent);
}

async function loginCpu(results) {
  const env = await B.createEnv('hot-login');
  const N = S.LOGINS;
  const C = S.LOGIN_CONCURRENCY;
  try {
    const fake = await env.fake({ port: S.FAKE_PORT, verbose: false });
    const port = PORTS.login;
    const name = 'hot-login';
    const root = path.join(config.SERVROOT, name, 'html');
    const ngx = await env.nginx({
      name,
      port,
      workerProcesses: 1,
      logLevel: 'notice',
      main: mainConf(),
      http: `oauth2_provider fake {
    issuer         ${fake.issuer('ok')};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    scope          "openid email profile";
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    access_log off;
    location /plain/ { }
    location /prot/ {
        oauth2 fake;
    }
}`,
    });
    writeHtml(root, ['plain', 'prot']);
    const worker = await workerPid(ngx);
    const origin = `http://127.0.0.1:${port}`;
    const nav = { ...e2e.NAVIGATE_HEADERS };
    const ngxAgent = new http.Agent({ keepAlive: true, maxSockets: C });
    const fakeAgent = new http.Agent({ keepAlive: true, maxSockets: C });

    const pool = async (n, fn) => {
      let next = 0;
      await Promise.all(Array.from({ length: C }, async () => {
        while (next < n) { const i = next++; await fn(i); }
      }));
    };
    const cookiePair = (sc) => sc.split(';')[0];

    // one login in three measured steps
    const redirects = async (n) => {
      const out = new Array(n);
      await pool(n, async (i) => {
        const r = await agentGet(ngxAgent, `${origin}/prot/index.html?i=${i}`, nav);
        if (r.status !== 302) throw new Error(`login ${i}: GET /prot/ answered ${r.status}`);
        out[i] = { authorize: r.headers.location, state: cookiePair([].concat(r.headers['set-cookie'])[0]) };
      });
      return out;
    };
    const authorize = async (ls) => pool(ls.length, async (i) => {
      const r = await agentGet(fakeAgent, ls[i].authorize, nav);
      if (r.status !== 302 || !r.headers.location.startsWith(`${origin}/oauth2/callback?`)) {
        throw new Error(`login ${i}: the fake authorize answered ${r.status} ${r.headers.location}`);
      }
      ls[i].callback = r.headers.location;
    });
    const callbacks = async (ls) => pool(ls.length, async (i) => {
      const r = await agentGet(ngxAgent, ls[i].callback, { ...nav, 'sec-fetch-site': 'cross-site', cookie: ls[i].state });
      const sc = [].concat(r.headers['set-cookie'] || []).find((c) => c.startsWith(`oauth2_fake=`) && !c.startsWith('oauth2_fake=;'));
      if (r.status !== 302 || !sc) throw new Error(`login ${i}: the callback answered ${r.status}: ${r.body.slice(0, 300)}`);
      ls[i].session = cookiePair(sc);
    });

    // warm-up: discovery and JWKS are fetched on first need
    let ls = await redirects(20);
    await authorize(ls);
    await callbacks(ls);
    const check = await get(`${origin}/prot/index.html`, { ...JSON_ACCEPT, cookie: ls[0].session });
    if (check.status !== 200) throw new Error(`a fresh session is refused: ${check.status}`);

    // the same number of plain requests, on the same connections: what nginx costs anyway
    let c0 = cpuNs([worker]);
    await pool(2 * N, async () => {
      const r = await agentGet(ngxAgent, `${origin}/plain/index.html`, nav);
      if (r.status !== 200) throw new Error(`plain: ${r.status}`);
    });
    const plainNs = (cpuNs([worker]) - c0) / (2 * N);

    c0 = cpuNs([worker]);
    ls = await redirects(N);
    const redirectNs = (cpuNs([worker]) - c0) / N;
    await authorize(ls);
    c0 = cpuNs([worker]);
    const t0 = Date.now();
    await callbacks(ls);
    const callbackMs = Date.now() - t0;
    const callbackNs = (cpuNs([worker]) - c0) / N;
    const stats = await fake.stats();

    // the sessions work
    for (const i of [0, N - 1]) {
      const r = await get(`${origin}/prot/index.html`, { ...JSON_ACCEPT, cookie: ls[i].session });
      if (r.status !== 200) throw new Error(`session of login ${i} refused: ${r.status}`);
    }
    const errs = ngx.errors();
    if (errs.length) throw new Error(`nginx logged errors:\n${errs.slice(0, 5).join('\n')}`);
    ngxAgent.destroy();
    fakeAgent.destroy();

    results.login = {
      N, C, plainNs, redirectNs, callbackNs, callbackMs,
      tokenRequests: stats['ok/token'], jwksRequests: stats['ok/jwks'],
    };
  } finally {
    await env.stop();
  }
}

// ------------------------------------------------------------ memory

function mintSessions(n) {
  const t = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < n; i++) {
    const user = `user${String(i).padStart(5, '0')}`;
    lines.push(seal.sessionCookie([config.COOKIE_SECRET], COOKIE_NAME, {
      sub: user,
      created: t,
      expires: t + 3600,
      claims: { email: `${user}@example.com` },
      // like the OP's: 43 characters of base64url
      refresh_token: crypto.randomBytes(32).toString('base64url'),
    }));
  }
  return lines;
}

async function memory(results) {
  const env = await B.createEnv('hot-memory');
  const out = {};
  try {
    const cookiesFile = path.join(env.dir, 'cookies.txt');
    fs.writeFileSync(cookiesFile, `${mintSessions(S.SESSIONS).join('\n')}\n`);
    log(`minted ${S.SESSIONS} sessions (${fs.statSync(cookiesFile).size} bytes)`);

    for (const variant of ['plain', 'module']) {
      const name = `hot-mem-${variant}`;
      const port = variant === 'plain' ? PORTS.memPlain : PORTS.memModule;
      const root = path.join(config.SERVROOT, name, 'html');
      const httpConf = variant === 'plain'
        ? `server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    access_log off;
    location /prot/ { }
}`
        : `oauth2_provider op {
    issuer         http://127.0.0.1:${S.OP_PORT};
    client_id      ${config.OP_CLIENT.id};
    client_secret  ${config.OP_CLIENT.secret};
    scope          "openid email profile";
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    access_log off;
    location /prot/ {
        oauth2 op;
        add_header X-Email $oauth2_claim_email;
    }
}`;
      const ngx = await env.nginx({
        name, port, workerProcesses: 1, logLevel: 'notice', main: mainConf(), http: httpConf, loadModule: variant === 'module',
      });
      writeHtml(root, ['prot']);
      const worker = await workerPid(ngx);
      const url = `http://127.0.0.1:${port}/prot/index.html`;
      const first = fs.readFileSync(cookiesFile, 'utf8').split('\n')[0];
      const r = await get(url, { ...JSON_ACCEPT, cookie: first });
      if (r.status !== 200) throw new Error(`${variant}: ${r.status}`);
      const m0 = memOf(worker);
      const w = await runWrk(url, {
        seconds: 600,
        headers: JSON_ACCEPT,
        script: path.join(__dirname, 'rotate.lua'),
        scriptEnv: { HOT_COOKIES: cookiesFile, HOT_REQUESTS: String(Math.ceil(S.REQUESTS / S.THREADS)) },
        doneFile: path.join(env.dir, `wrk-done-${variant}`),
      });
      if (w.requests < S.REQUESTS) throw new Error(`${variant}: wrk stopped after ${w.requests} requests`);
      if (w.errors) throw new Error(`${variant}: wrk saw ${w.errors} errors:\n${w.raw}`);
      const m1 = memOf(worker);
      out[variant] = {
        m0, m1, requests: w.requests, maps: rssByMapping(worker),
      };
      log(`${variant}: worker RSS ${m0.rss} kB -> ${m1.rss} kB after ${w.requests} requests (peak ${m1.hwm} kB)`);
      if (variant === 'module') {
        const errs = ngx.errors(['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info']).filter((l) => /oauth2/.test(l));
        if (errs.length) throw new Error(`the module logged:\n${errs.slice(0, 5).join('\n')}`);
      }
      await ngx.stop();
    }
    results.memory = out;
  } finally {
    await env.stop();
  }
}

// ------------------------------------------------------------ instructions (callgrind)

const CG_FUNCS = [
  'ngx_http_oauth2_access_handler', 'ngx_http_oauth2_get_session', 'ngx_http_oauth2_cookie_get',
  'ngx_http_oauth2_session_open_cached', 'ngx_http_oauth2_open', 'ngx_decode_base64url', 'ngx_http_oauth2_base64url_decode', 'ngx_http_oauth2_gcm',
  'ngx_http_oauth2_session_decode',
  'ngx_http_oauth2_cookie_strip', 'ngx_http_oauth2_cookie_next_pair', 'ngx_http_oauth2_claim_variable',
  'ngx_http_oauth2_variable', 'ngx_http_oauth2_subrequest_handler', 'ngx_http_oauth2_cookie_save',
];

/** Inclusive instruction counts of CG_FUNCS in a callgrind dump (the largest entry of each name). */
function cgFunctions(file) {
  const r = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = {};
  for (const line of (r.stdout || '').split('\n')) {
    const m = /^\s*([\d,]+)\s+\([^)]*\)\s+\S*?:(\w+)(\s|$)/.exec(line);
    if (m && CG_FUNCS.includes(m[2])) out[m[2]] = Math.max(out[m[2]] || 0, Number(m[1].replace(/,/g, '')));
  }
  return out;
}

function cgTotal(file) {
  const m = /^totals:\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'));
  if (!m) throw new Error(`${file}: no totals line`);
  return Number(m[1]);
}

async function instructions(results) {
  for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      results.callgrind = { skipped: `${tool} not found (apt-get install valgrind)` };
      return;
    }
  }
  const env = await B.createEnv('hot-callgrind');
  try {
    const name = 'hot-callgrind';
    const port = PORTS.memPlain;
    const root = path.join(config.SERVROOT, name, 'html');
    const outBase = path.join(env.dir, 'callgrind.out');
    for (const f of fs.readdirSync(env.dir)) if (f.startsWith('callgrind.out')) fs.rmSync(path.join(env.dir, f));
    const ngx = await env.nginx({
      name,
      port,
      masterProcess: false,
      logLevel: 'notice',
      wrapper: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${outBase}`],
      startTimeoutMs: 120000,
      http: `${providerBlock({ issuer: `http://127.0.0.1:${S.OP_PORT}` })}

server {
    listen 127.0.0.1:${port};
    root ${root};
    access_log off;
    # the baselines do what nginx without the module does: pass the
    # Cookie header as it came
    location /plain/ {
        oauth2_strip_cookies off;
    }
    location /hdr/ {
        oauth2_strip_cookies off;
        add_header X-Email alice@example.com;
    }
    # unprotected, the module's cookies kept from upstreams (the default)
    location /open/ { }
    location /prot/ {
        oauth2 op;
    }
    location /claim/ {
        oauth2 op;
        add_header X-Email $oauth2_claim_email;
    }
    ${S.CG_METRICS ? 'location = /metrics { oauth2_metrics; }' : '# HOT_CG_METRICS=0: no oauth2_metrics'}
}`,
    });
    writeHtml(root, ['plain', 'hdr', 'open', 'prot', 'claim']);
    const pid = ngx.proc.pid;
    const t = Math.floor(Date.now() / 1000);
    // shaped like the real sessions of the throughput part
    const cookie = (extra) => seal.sessionCookie([config.COOKIE_SECRET], COOKIE_NAME, {
      sub: 'alice', created: t, expires: t + 3600, claims: { email: 'alice@example.com' },
      refresh_token: crypto.randomBytes(32).toString('base64url'), ...extra,
    });
    const small = cookie({});
    const big = cookie({
      access_token: crypto.randomBytes(32).toString('base64url'),
      id_token: crypto.randomBytes(573).toString('base64url'), // 764 characters, as the OP's
    });
    const url = (loc) => `http://127.0.0.1:${port}/${loc}/index.html`;
    const cases = [
      { id: 'plain', name: 'unprotected, no cookie', url: url('plain'), cookie: null },
      { id: 'plain-cookie', name: 'unprotected, default-size session cookie', url: url('plain'), cookie: small },
      { id: 'plain-header', name: 'unprotected, the same cookie, `add_header X-Email alice@example.com`', url: url('hdr'), cookie: small, vs: 'plain-cookie' },
      { id: 'open', name: 'unprotected, default-size session cookie, the module\'s cookies stripped (the default)', url: url('open'), cookie: small, vs: 'plain-cookie' },
      { id: 'oauth2', name: '`oauth2`, default-size session cookie', url: url('prot'), cookie: small, vs: 'plain-cookie' },
      { id: 'claim', name: '`oauth2` + `add_header X-Email $oauth2_claim_email`', url: url('claim'), cookie: small, vs: 'plain-header' },
      // every request another session: none is in the worker's cache of opened sessions (the first request of each)
      { id: 'oauth2-miss', name: '`oauth2`, default-size session cookies, a different one each request (cache misses)', url: url('prot'), cookie: small, rotate: true, vs: 'plain-cookie' },
      { id: 'plain-big', name: 'unprotected, all-tokens-size cookie', url: url('plain'), cookie: big },
      { id: 'oauth2-big', name: '`oauth2`, all-tokens-size cookie', url: url('prot'), cookie: big, vs: 'plain-big' },
    ];
    // more sessions than callgrind's 4 s of requests get through
    const cookiesFile = path.join(env.dir, 'cookies-miss.txt');
    fs.writeFileSync(cookiesFile, `${mintSessions(40000).join('\n')}\n`);
    const rotate = { script: path.join(__dirname, 'rotate.lua'), scriptEnv: { HOT_COOKIES: cookiesFile, HOT_REQUESTS: '1000000000' } };
    const out = [];
    let dumps = 0;
    for (const c of cases) {
      const headers = { ...JSON_ACCEPT, ...(c.cookie ? { cookie: c.cookie } : {}) };
      const r = await get(c.url, headers);
      if (r.status !== 200) throw new Error(`callgrind ${c.id}: ${r.status}`);
      const how = c.rotate ? { headers: JSON_ACCEPT, ...rotate } : { headers };
      await runWrk(c.url, { seconds: 1, ...how });
      if (spawnSync('callgrind_control', ['-z', String(pid)]).status !== 0) throw new Error('callgrind_control -z failed');
      const w = await runWrk(c.url, { seconds: 3, ...how });
      if (w.errors) throw new Error(`callgrind ${c.id}: wrk saw ${w.errors} errors`);
      if (spawnSync('callgrind_control', ['-d', String(pid)]).status !== 0) throw new Error('callgrind_control -d failed');
      dumps += 1;
      const file = `${outBase}.${dumps}`;
      for (let i = 0; i < 100 && !fs.existsSync(file); i++) await e2e.sleep(50);
      const total = cgTotal(file);
      const funcs = cgFunctions(file);
      out.push({
        ...c, cookieBytes: c.cookie ? c.cookie.length : 0, requests: w.requests, perReq: total / w.requests,
        funcs: Object.fromEntries(Object.entries(funcs).map(([k, v]) => [k, v / w.requests])),
      });
      log(`callgrind ${c.id}: ${Math.round(total / w.requests)} instructions per request (${w.requests} requests)`);
    }
    await ngx.stop();
    results.callgrind = { cases: out };
  } finally {
    await env.stop();
  }
}

// ------------------------------------------------------------ report

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const mark = (ok) => (ok ? 'holds' : '**missed**');

function throughputSection(t) {
  const med = (id, f) => B.median(t.runs[id].map((r) => r[f]));
  // the median of the ratios of runs of the same round (close in time)
  const paired = (id, f, base = 'plain') => B.median(t.runs[id].map((r, i) => r[f] / t.runs[base][i][f]));
  const plain = { rps: med('plain', 'rps'), p99: med('plain', 'p99'), cpu: med('plain', 'cpuUs') };
  const rows = t.scenarios.map((s) => {
    const base = s.id.startsWith('apache') ? null : plain;
    const rps = med(s.id, 'rps');
    return [
      s.name,
      String(Math.round(rps)),
      B.fmtMs(med(s.id, 'p50')),
      B.fmtMs(med(s.id, 'p99')),
      `${fmt(rps / plain.rps)} (${fmt(paired(s.id, 'rps'))})`,
      `${fmt(med(s.id, 'p99') / plain.p99)} (${fmt(paired(s.id, 'p99'))})`,
      fmt(med(s.id, 'cpuUs'), 1),
      base ? `+${fmt(med(s.id, 'cpuUs') - plain.cpu, 1)}` : '',
    ];
  });
  const checks = [];
  const ratio = (id, base = 'plain') => med(id, 'rps') / med(base, 'rps');
  /*
   * The verdicts use the paired ratios: the median over the rounds of
   * (this scenario's requests/s / plain's in the same round).  The ratio
   * of the two medians is printed too, but on a shared machine whose load
   * comes and goes, the two medians may come from rounds of different
   * load (with a few busy rounds the distributions are bimodal), and
   * their ratio then measures the load more than the module.
   */
  const r1 = paired('oauth2', 'rps');
  const p1 = paired('oauth2', 'p99');
  // a saturated worker's requests/s ratio: plain's CPU per request over this one's, paired by round
  const cpuRatio = (id, base = 'plain') => B.median(t.runs[id].map((r, i) => t.runs[base][i].cpuUs / r.cpuUs));
  checks.push(`- protected / plain requests/s, paired: **${fmt(r1)}** (target >= ${TARGETS.rps}): ${mark(r1 >= TARGETS.rps)}`
    + ` (ratio of the medians ${fmt(ratio('oauth2'))}; from the CPU per request, paired, what a saturated worker would give:`
    + ` ${fmt(cpuRatio('oauth2'))}); p99 ratio, paired: **${fmt(p1)}** (target <= ${TARGETS.p99}): ${mark(p1 <= TARGETS.p99)}`
    + ` (ratio of the medians ${fmt(med('oauth2', 'p99') / plain.p99)}).`);
  // each against the same nginx (process) unprotected
  const pairs = [['claim', 'plain'], ['token', t.runs['plain-token'] ? 'plain-token' : 'plain']];
  if (t.runs.pclaim) pairs.push(['pclaim', 'pplain']);
  for (const [id, base] of pairs) {
    const r = paired(id, 'rps', base);
    checks.push(`- ${t.scenarios.find((s) => s.id === id).name}, vs ${base}, paired: **${fmt(r)}** (target >= ${TARGETS.rpsVar}):`
      + ` ${mark(r >= TARGETS.rpsVar)} (ratio of the medians ${fmt(ratio(id, base))},`
      + ` from the CPU per request ${fmt(cpuRatio(id, base))}${base === 'plain' ? '' : `; vs plain of the first nginx ${fmt(ratio(id))}`}).`);
  }
  if (t.runs.metrics) {
    // metrics on vs off: each protected/plain ratio within its own nginx
    const on = paired('metrics', 'rps', 'plain-metrics');
    const off = paired('oauth2', 'rps', 'plain-cookie');
    checks.push(`- with \`oauth2_metrics\` / its plain with the same cookie, paired: **${fmt(on, 3)}**; without`
      + ` (\`oauth2\` / plain with the same cookie): **${fmt(off, 3)}**; difference **${fmt((on - off) * 100, 1)}%**`
      + ` (target: within 1%): ${mark(Math.abs(on - off) <= 0.01)}.`);
  }
  if (t.runs['cmp-oauth2']) {
    const cmp = (id, base) => B.median(t.runs[id].map((r, i) => r.rps / t.runs[base][i].rps));
    const cpuCmp = (id, base) => B.median(t.runs[id].map((r, i) => t.runs[base][i].cpuUs / r.cpuUs));
    checks.push(`- HOT_COMPARE_SO (\`${t.compareSo || S.COMPARE_SO}\`) in the same rounds: its \`oauth2\` / its plain with the same cookie`
      + ` **${fmt(cmp('cmp-oauth2', 'cmp-plain'))}** (CPU ${fmt(cpuCmp('cmp-oauth2', 'cmp-plain'))}); this build's \`oauth2\``
      + ` / plain with the same cookie **${fmt(cmp('oauth2', 'plain-cookie'))}** (CPU ${fmt(cpuCmp('oauth2', 'plain-cookie'))}).`);
  }
  if (t.runs.apache) {
    checks.push(`- \`oauth2\` vs Apache + mod_auth_openidc: **${fmt(med('oauth2', 'rps') / med('apache', 'rps'))}x** the requests/s`
      + ` (paired ${fmt(paired('oauth2', 'rps', 'apache'))}), `
      + `**${fmt(med('apache', 'cpuUs') / med('oauth2', 'cpuUs'))}x** less CPU per request `
      + `(Apache's own protected/plain ratio: ${fmt(med('apache', 'rps') / med('apache-plain', 'rps'))}).`);
  } else {
    checks.push(`- Apache + mod_auth_openidc: not measured: ${t.apacheWhy}`);
  }
  const cookieSetters = t.scenarios.filter((s) => s.setsCookie).map((s) => s.id);
  const every = B.markdownTable(
    ['scenario', ...Array.from({ length: S.RUNS }, (_, i) => `run ${i + 1}`)],
    t.scenarios.map((s) => [s.id, ...t.runs[s.id].map((r) => `${Math.round(r.rps)} / ${B.fmtMs(r.p99)} / ${fmt(r.cpuUs, 1)} µs`)]),
  );
  return [
    '### Throughput with a valid session',
    '',
    `GET of the same 601-byte static file, \`Accept: application/json\` (so that a refused session would be a 401`
      + ` that wrk counts, not a 302); nginx \`worker_processes 1\`, no access log; `
      + `wrk -t${S.THREADS} -c${S.CONNECTIONS} -d${S.DURATION}s --latency; ${S.RUNS} runs of each scenario, alternating `
      + `(every scenario once per round, the order reversed every other round), medians; in brackets the median of`
      + ` the ratios of runs of the same round${S.PIN ? '; nginx worker and Apache on CPU 0, wrk on CPU ' + (NCPU - 1) : ''}`
      + `${S.NICE ? `; all at nice ${S.NICE}` : ''}. Session cookies come from real logins at t/op/server.js `
      + '(only the session cookie is sent, not the OP\'s own cookies). "CPU/req" is the nginx worker\'s '
      + '(Apache: all its threads\') CPU time per request from /proc/PID/task/*/schedstat, which the '
      + 'machine\'s other load does not change as much as requests/s.',
    '',
    B.markdownTable(
      ['scenario', 'req/s (median)', 'p50', 'p99', 'req/s vs plain (paired)', 'p99 vs plain (paired)', 'CPU/req (µs)', 'CPU over plain (µs)'],
      rows,
    ),
    '',
    ...checks,
    cookieSetters.length ? `- Responses that set a cookie on every request: ${cookieSetters.join(', ')}.` : '- No scenario sets a cookie on the measured requests.',
    '',
    '<details><summary>every run (req/s / p99 / CPU per request)</summary>',
    '',
    every,
    '',
    '</details>',
  ].join('\n');
}

function cookieSection(c) {
  const rows = [];
  const descr = (s) => {
    const parts = [`sub ${s.sub.length} B`, `claims ${Object.keys(s.claims).join(', ') || 'none'}`];
    for (const k of ['access_token', 'refresh_token', 'id_token']) if (s[k]) parts.push(`${k} ${s[k].length} B`);
    return parts.join(', ');
  };
  for (const [kind, s] of Object.entries(c.sess)) {
    rows.push([
      `nginx, ${NGINX_KINDS[kind].what}`,
      String(s.header.length),
      String(Math.max(...s.setCookies.map((x) => x.length))),
      descr(s.session),
    ]);
  }
  if (c.apacheSess) {
    rows.push(['Apache mod_auth_openidc, client-cookie', String(c.apacheSess.header.length),
      String(Math.max(...c.apacheSess.setCookies.map((x) => x.length))),
      `${c.apacheSess.setCookies.length} cookie(s): ${c.apacheSess.setCookies.map((x) => x.slice(0, x.indexOf('='))).join(', ')}`]);
  }
  const d = c.sess.default.header.length;
  return [
    '### Session cookie size',
    '',
    'After a real OpenID Connect login at t/op/server.js (scope "openid email profile", user "alice"; the OP'
      + ' issues a refresh token to this client, and `refresh on` is the default, so the default session keeps it).'
      + ' "Cookie header" is `name=value` as the browser sends it back; "Set-Cookie" the whole header value with its attributes.',
    '',
    B.markdownTable(['configuration', 'Cookie header (bytes)', 'Set-Cookie (bytes)', 'contents'], rows),
    '',
    `- Default settings: **${d} bytes** (target <= ${TARGETS.cookie}): ${mark(d <= TARGETS.cookie)}.`,
  ].join('\n');
}

function loginSection(l) {
  const us = (ns) => fmt(ns / 1000, 0);
  const total = l.redirectNs + l.callbackNs;
  const net = total - 2 * l.plainNs;
  return [
    '### CPU per login',
    '',
    `${l.N} logins against the fake provider (scenario \`ok\`, RS256 ID tokens, 2048-bit key), ${l.C} at a time on`
      + ' keep-alive connections, after 20 warm-up logins (discovery and JWKS cached). The nginx worker\'s CPU'
      + ' time (schedstat: user + system) over each step; the provider runs in its own process and is not counted.'
      + ` ${l.tokenRequests} token requests reached the provider.`,
    '',
    B.markdownTable(['step', 'worker CPU per login (µs)'], [
      ['authorization redirect (state cookie, PKCE, 302)', us(l.redirectNs)],
      ['callback (token request through libcurl, ID token check, session cookie, 302)', us(l.callbackNs)],
      ['**complete login**', `**${us(total)}**`],
      ['two plain static requests on the same connections (nginx\'s own cost)', us(2 * l.plainNs)],
      ['complete login minus two plain requests (the module\'s share)', us(net)],
    ]),
  ].join('\n');
}

function memorySection(m) {
  const mib = (kb) => fmt(kb / 1024, 2);
  const { plain: p, module: mod } = m;
  const growth = (x, f) => x.m1[f] - x.m0[f];
  const growthOver = growth(mod, 'rss') - growth(p, 'rss');
  const row = (label, x, f) => [label, mib(p[x][f]), mib(mod[x][f]), mib(mod[x][f] - p[x][f])];
  const rows = [
    row('VmRSS after 1 request', 'm0', 'rss'),
    row(`VmRSS after ${S.REQUESTS} requests`, 'm1', 'rss'),
    [`VmRSS growth during the ${S.REQUESTS} requests`, mib(growth(p, 'rss')), mib(growth(mod, 'rss')), mib(growthOver)],
    row('. RssFile (mapped files: nginx, libraries; shared)', 'm1', 'file'),
    row('. RssAnon (heap, mostly copied on write from the master)', 'm1', 'anon'),
    row('. RssShmem (shared memory zones)', 'm1', 'shmem'),
    row('PSS (shared pages divided among their users)', 'm1', 'pss'),
    row('USS (pages only this worker has: Private_Clean + Private_Dirty)', 'm1', 'uss'),
    row('VmHWM (peak RSS)', 'm1', 'hwm'),
  ];
  const diffs = Object.entries(mod.maps)
    .map(([k, v]) => [k, v - (p.maps[k] || 0)])
    .filter(([, d]) => d >= 64)
    .sort((a, b) => b[1] - a[1]);
  const top = diffs.slice(0, 8).map(([k, d]) => `${path.basename(k)} +${d} kB`).join(', ');
  return [
    '### Worker memory',
    '',
    `${S.SESSIONS} distinct sessions minted with t/tools/seal.js (sub, email, refresh token: like the OP's), sent in`
      + ` turn by wrk (bench/hotpath/rotate.lua, -c${S.CONNECTIONS}) until ${S.REQUESTS} requests were answered`
      + ` (${mod.requests} with the module, ${p.requests} without), to a protected location with`
      + ' `add_header X-Email $oauth2_claim_email`; the same requests (same cookies) to the same nginx without'
      + ' `load_module`. The worker\'s /proc/PID/status and smaps_rollup.',
    '',
    B.markdownTable(['worker (MiB)', 'without the module', 'with the module', 'difference'], rows),
    '',
    `- Growth of the worker's RSS over the ${S.REQUESTS} requests beyond plain nginx's growth: **${mib(growthOver)} MiB**`
      + ` (target < ${TARGETS.rssMiB} MiB): ${mark(growthOver < TARGETS.rssMiB * 1024)}; what only the worker owns (USS)`
      + ` is ${mib(mod.m1.uss - p.m1.uss)} MiB more than plain nginx's.`,
    `- The RSS difference itself, ${mib(mod.m1.rss - p.m1.rss)} MiB, is there from the first request on and is`
      + ` ${mib(mod.m1.file - p.m1.file)} MiB of mapped files (libraries, shared with the master and every other`
      + ` worker) and ${mib(mod.m1.anon - p.m1.anon)} MiB of heap; by mapping: ${top}.`,
  ].join('\n');
}

function callgrindSection(c) {
  if (c.skipped) return `### Instructions per request\n\nNot measured: ${c.skipped}.`;
  const by = Object.fromEntries(c.cases.map((x) => [x.id, x]));
  const rows = c.cases.map((x) => [
    `${x.name} (${x.id})`, String(x.cookieBytes), String(Math.round(x.perReq)),
    x.vs ? `+${Math.round(x.perReq - by[x.vs].perReq)} (+${fmt(100 * (x.perReq / by[x.vs].perReq - 1), 1)} %) over ${x.vs}` : '',
  ]);
  // several names: the first one the build has (a static function may be inlined: '-')
  const fn = (x, names) => {
    const f = [].concat(names).find((n) => x.funcs[n]);
    return f ? String(Math.round(x.funcs[f])) : '-';
  };
  const breakdown = [
    ['ngx_http_oauth2_access_handler (all of the access phase)', 'ngx_http_oauth2_access_handler'],
    ['. get_session: cookie_get (find the cookie)', 'ngx_http_oauth2_cookie_get'],
    ['. get_session: the cache of opened sessions (and on a miss the open and decode below)',
      'ngx_http_oauth2_session_open_cached'],
    ['. get_session: open (base64url, AES-256-GCM)', 'ngx_http_oauth2_open'],
    ['. . base64url decoding', ['ngx_http_oauth2_base64url_decode', 'ngx_decode_base64url']],
    ['. . AES-256-GCM (OpenSSL EVP)', 'ngx_http_oauth2_gcm'],
    ['. get_session: session_decode', 'ngx_http_oauth2_session_decode'],
    ['. cookie_strip (oauth2_strip_cookies on)', 'ngx_http_oauth2_cookie_strip'],
    ['cookie_next_pair (in cookie_get and cookie_strip)', 'ngx_http_oauth2_cookie_next_pair'],
    ['$oauth2_claim_email (header filter)', 'ngx_http_oauth2_claim_variable'],
  ].map(([label, f]) => [label, ...['oauth2', 'claim', 'oauth2-big', 'oauth2-miss'].filter((id) => by[id]).map((id) => fn(by[id], f))]);
  return [
    '### Instructions per request (callgrind)',
    '',
    'Deterministic, unlike the timings of a shared machine: nginx (`master_process off`) under'
      + ' `valgrind --tool=callgrind`, counters zeroed after a 1 s warm-up, then 3 s of wrk -c4; user-space'
      + ' instructions only (the kernel\'s network work, most of a small request\'s cost, is not counted).'
      + ' Cookies minted with t/tools/seal.js in the shape of the real ones above.',
    '',
    B.markdownTable(['request (id)', 'Cookie (bytes)', 'instructions / request', 'over the same request without what is measured'], rows),
    '',
    B.markdownTable(['module function (inclusive)', '`oauth2`', '+ claim variable', 'all-tokens cookie', 'cache misses'].slice(0, 1 + ['oauth2', 'claim', 'oauth2-big', 'oauth2-miss'].filter((id) => by[id]).length), breakdown),
  ].join('\n');
}

async function main() {
  const parts = process.argv.slice(2);
  const known = ['throughput', 'callgrind', 'login', 'memory'];
  for (const p of parts) if (!known.includes(p)) throw new Error(`unknown part ${p} (${known.join(', ')})`);
  const want = parts.length ? parts : known;
  let results = {};

  if (process.env.HOT_RENDER) {
    // the report of a saved run (bench/out/hotpath-results.json), nothing measured
    results = JSON.parse(fs.readFileSync(process.env.HOT_RENDER, 'utf8'));
  } else {
    e2e.requireModule();
    if (want.includes('throughput')) await throughput(results);
    if (want.includes('login')) await loginCpu(results);
    if (want.includes('memory')) await memory(results);
    if (want.includes('callgrind')) await instructions(results);
  }

  const md = ['## Hot path', ''];
  if (results.throughput) md.push(throughputSection(results.throughput), '');
  if (results.cookies) md.push(cookieSection(results.cookies), '');
  if (results.login) md.push(loginSection(results.login), '');
  if (results.memory) md.push(memorySection(results.memory), '');
  if (results.callgrind) md.push(callgrindSection(results.callgrind), '');
  md.push(`Machine: ${B.machineText()}; Apache: ${spawnSync(S.APACHE_BIN, ['-v'], { encoding: 'utf8' }).stdout?.split('\n')[0] || 'n/a'}.`);
  if (process.env.HOT_RENDER) {
    process.stdout.write(`${md.join('\n')}\n`);
    return;
  }
  fs.writeFileSync(path.join(B.OUT, 'hotpath-results.json'), JSON.stringify(results, (k, v) => (k === 'raw' ? undefined : v), 2));
  B.report('hotpath', md.join('\n'));
}

main().catch((e) => {
  process.stderr.write(`bench/hotpath/hotpath.js: ${e.stack || e}\n`);
  process.exit(1);
});
