'use strict';

// Run the nginx under test with a generated configuration.
//
// Layout:  <SERVROOT>/<name>/            the prefix (-p)
//            conf/nginx.conf             generated
//            logs/error.log, access.log, nginx.pid, nginx.out (stdout+stderr)
//            tmp/                        client body / proxy temp dirs
//
// nginx runs with `daemon off; master_process on;` as our child, so the
// master is always a process we own; stop() sends SIGTERM (fast shutdown,
// the master reaps its workers) and waits for it.  A master left behind by a
// killed earlier run is found through the pid file of the prefix and stopped
// before the new one starts.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const config = require('./config');
const {
  startProcess, waitForPort, assertPortFree, pidAlive, sleep,
} = require('./proc');

/** true if the module .so exists (tests use this to fail or skip clearly). */
function moduleAvailable() {
  return fs.existsSync(config.MODULE_SO);
}

function missingModuleMessage() {
  return `the nginx module is not built: ${config.MODULE_SO} does not exist `
    + '(build it, or point OAUTH2_MODULE_SO at it; E2E_ALLOW_MISSING_MODULE=1 skips these tests)';
}

/**
 * Options for node:test's test()/describe() so that a missing module means
 * "skip" when E2E_ALLOW_MISSING_MODULE=1, and a clear failure otherwise.
 */
function moduleTestOptions() {
  if (!moduleAvailable() && config.ALLOW_MISSING_MODULE) return { skip: missingModuleMessage() };
  return {};
}

function requireModule() {
  if (!moduleAvailable()) throw new Error(missingModuleMessage());
}

async function killStale(prefix) {
  const pidFile = path.join(prefix, 'logs', 'nginx.pid');
  let pid;
  try { pid = Number(fs.readFileSync(pidFile, 'utf8').trim()); } catch { return; }
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return;
  let cmdline = '';
  try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return; }
  if (!cmdline.includes('nginx') || !cmdline.includes(prefix)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(50);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Build the whole nginx.conf.
 * opts: { prefix, http (string, the inside of http{}), main (string, extra main-context
 *         directives), env: [names to pass with `env`], loadModule (default true),
 *         workerProcesses (default 1), logLevel, masterProcess (default true; false:
 *         `master_process off`, one process that serves requests itself) }
 */
function buildConf(opts) {
  const p = opts.prefix;
  const lines = [];
  if (opts.loadModule !== false) lines.push(`load_module ${config.MODULE_SO};`);
  lines.push(
    `worker_processes ${opts.workerProcesses || 1};`,
    'daemon off;',
    `master_process ${opts.masterProcess === false ? 'off' : 'on'};`,
    `pid ${p}/logs/nginx.pid;`,
    `error_log ${p}/logs/error.log ${opts.logLevel || config.NGINX_LOG_LEVEL};`,
  );
  for (const name of opts.env || []) lines.push(`env ${name};`);
  if (opts.main) lines.push(opts.main);
  lines.push(
    'events { worker_connections 256; }',
    'http {',
    `    access_log ${p}/logs/access.log;`,
    `    client_body_temp_path ${p}/tmp/client_body;`,
    `    proxy_temp_path ${p}/tmp/proxy;`,
    `    fastcgi_temp_path ${p}/tmp/fastcgi;`,
    `    uwsgi_temp_path ${p}/tmp/uwsgi;`,
    `    scgi_temp_path ${p}/tmp/scgi;`,
    '    default_type text/plain;',
    indent(opts.http || '', '    '),
    '}',
    '',
  );
  return lines.join('\n');
}

function indent(text, pad) {
  return text.split('\n').map((l) => (l.trim() ? pad + l : l)).join('\n');
}

/**
 * Start nginx.
 * opts: { name (required: the test's directory), port (to wait for), http, main, env: {NAME: value},
 *         loadModule, workerProcesses, logLevel, ports: [more ports to wait for],
 *         masterProcess (default true),
 *         wrapper: [cmd, ...args] (run `cmd ...args nginx ...` instead of nginx, e.g. valgrind;
 *                  `nginx -t` still runs bare), startTimeoutMs (default 10000) }
 * Returns { prefix, port, url(path), conf, errorLog(), accessLog(), stop(), reload(), quit() }.
 */
async function startNginx(opts) {
  if (!opts || !opts.name) throw new Error('startNginx: name is required');
  if (opts.loadModule !== false) requireModule();
  const prefix = path.join(config.SERVROOT, opts.name);
  await killStale(prefix);
  fs.rmSync(path.join(prefix, 'conf'), { recursive: true, force: true });
  fs.rmSync(path.join(prefix, 'logs'), { recursive: true, force: true });
  for (const d of ['conf', 'logs', 'tmp', 'html']) fs.mkdirSync(path.join(prefix, d), { recursive: true });
  // nginx workers run as `nobody` when we are root: let them into the prefix
  for (const d of [config.SERVROOT, prefix, path.join(prefix, 'tmp'), path.join(prefix, 'html')]) {
    try { fs.chmodSync(d, 0o755); } catch { /* not ours */ }
  }

  const envNames = Object.keys(opts.env || {});
  const conf = buildConf({ ...opts, prefix, env: envNames });
  const confFile = path.join(prefix, 'conf', 'nginx.conf');
  fs.writeFileSync(confFile, conf);

  const nginxArgs = ['-p', `${prefix}/`, '-c', confFile, '-e', path.join(prefix, 'logs', 'error.log')];
  const childEnv = { ...(opts.env || {}) };

  const t = spawnSync(config.NGINX_BIN, [...nginxArgs, '-t', '-q'], {
    env: { ...process.env, ...childEnv },
    encoding: 'utf8',
  });
  if (t.error) throw new Error(`cannot run ${config.NGINX_BIN}: ${t.error.message}`);
  if (t.status !== 0) {
    throw new Error(`nginx -t failed for ${confFile}:\n${t.stderr}${t.stdout}\n--- config ---\n${numbered(conf)}`);
  }

  const ports = [opts.port, ...(opts.ports || [])].filter(Boolean);
  for (const port of ports) await assertPortFree(port, `nginx ${opts.name}`);

  const wrapper = opts.wrapper && opts.wrapper.length ? opts.wrapper : null;
  const proc = await startProcess(wrapper ? wrapper[0] : config.NGINX_BIN, {
    name: `nginx:${opts.name}`,
    args: wrapper ? [...wrapper.slice(1), config.NGINX_BIN, ...nginxArgs] : nginxArgs,
    env: childEnv,
    stdinPipe: false,
    logFile: path.join(prefix, 'logs', 'nginx.out'),
  });
  const errorLogFile = path.join(prefix, 'logs', 'error.log');
  const readLog = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
  const abortIf = () => (proc.exited
    ? `nginx exited ${JSON.stringify(proc.exited)}\n${proc.output()}\n--- error.log ---\n${readLog(errorLogFile)}`
    : null);
  for (const port of ports) await waitForPort(port, { abortIf, timeoutMs: opts.startTimeoutMs || 10000 });

  const handle = {
    name: opts.name,
    prefix,
    port: opts.port,
    conf,
    confFile,
    proc,
    url: (p = '/') => `http://127.0.0.1:${opts.port}${p}`,
    errorLog: () => readLog(errorLogFile),
    accessLog: () => readLog(path.join(prefix, 'logs', 'access.log')),
    /** error.log lines at or above a level (default: alert|crit|emerg|error) */
    errors(levels = ['emerg', 'alert', 'crit', 'error']) {
      const re = new RegExp(`\\[(${levels.join('|')})\\]`);
      return handle.errorLog().split('\n').filter((l) => re.test(l));
    },
    /** SIGHUP the master (config reload) */
    reload() { proc.proc.kill('SIGHUP'); },
    /**
     * Graceful shutdown: SIGQUIT, then SIGKILL after `ms`.  Resolves
     * { code, signal, ms } where ms is the time from SIGQUIT to the exit.
     */
    async quit(ms = 10000) {
      const t0 = Date.now();
      if (proc.exited) return { ...proc.exited, ms: 0 };
      try { proc.proc.kill('SIGQUIT'); } catch { /* gone */ }
      const t = setTimeout(() => { try { proc.proc.kill('SIGKILL'); } catch { /* gone */ } }, ms);
      const r = await proc.exitPromise;
      clearTimeout(t);
      return { ...r, ms: Date.now() - t0 };
    },
    async stop() {
      const r = await proc.stop(10000);
      return r;
    },
  };
  return handle;
}

function numbered(text) {
  return text.split('\n').map((l, i) => `${String(i + 1).padStart(3)}  ${l}`).join('\n');
}

module.exports = {
  startNginx, buildConf, moduleAvailable, moduleTestOptions, requireModule, missingModuleMessage,
};
