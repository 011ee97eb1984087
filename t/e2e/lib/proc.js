'use strict';

// Child process bookkeeping: every process started through these helpers is
// remembered and killed when the test process exits, however it exits
// (normal end, failed assertion, uncaught exception, SIGINT/SIGTERM).
// Node children additionally get `--exit-on-stdin-close` so that they die
// with us even if we are SIGKILLed.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const config = require('./config');

const live = new Set();
const cleanups = new Set();

function killAllSync(signal = 'SIGTERM') {
  for (const p of live) {
    try { p.kill(signal); } catch { /* already gone */ }
  }
  for (const fn of cleanups) {
    try { fn(); } catch { /* best effort */ }
  }
}

let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAllSync());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAllSync();
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[sig]);
    });
  }
}

/** Register a synchronous cleanup function run at process exit. */
function onExit(fn) {
  hookExit();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawn a long running child.  Output is kept (last 256 KB of each stream)
 * and optionally teed to a log file and/or our stderr.
 *
 * opts: { name, args, env, cwd, logFile, stdinPipe (default true), readyLine: RegExp,
 *         timeoutMs (for readyLine) }
 * Returns a handle { proc, pid, name, output(), waitForLine(re, ms), stop(ms) }.
 */
async function startProcess(cmd, opts = {}) {
  hookExit();
  const name = opts.name || path.basename(cmd);
  const proc = spawn(cmd, opts.args || [], {
    cwd: opts.cwd || config.REPO,
    env: { ...process.env, ...(opts.env || {}) },
    stdio: [opts.stdinPipe === false ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  live.add(proc);

  const buf = { stdout: '', stderr: '' };
  const waiters = new Set();
  const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'w' }) : null;
  for (const stream of ['stdout', 'stderr']) {
    proc[stream].setEncoding('utf8');
    proc[stream].on('data', (chunk) => {
      buf[stream] = (buf[stream] + chunk).slice(-256 * 1024);
      if (log) log.write(chunk);
      if (config.VERBOSE) process.stderr.write(`[${name}] ${chunk}`);
      for (const w of waiters) w();
    });
  }
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(proc);
      if (log) log.end();
      for (const w of waiters) w();
      resolve(exited);
    });
  });
  proc.on('error', (e) => {
    exited = exited || { code: null, signal: null, error: e };
    live.delete(proc);
    for (const w of waiters) w();
  });

  const handle = {
    name,
    proc,
    get pid() { return proc.pid; },
    get exited() { return exited; },
    output() { return `--- ${name} stdout ---\n${buf.stdout}\n--- ${name} stderr ---\n${buf.stderr}`; },
    stdout() { return buf.stdout; },
    stderr() { return buf.stderr; },
    /** Wait until `re` matches the accumulated stdout+stderr. */
    waitForLine(re, ms = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (buf.stdout.match(re) || buf.stderr.match(re));
          if (m) { done(); resolve(m); return; }
          if (exited) {
            done();
            reject(new Error(`${name} exited (${JSON.stringify(exited)}) before printing ${re}\n${handle.output()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: timed out after ${ms} ms waiting for ${re}\n${handle.output()}`));
        }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    /** SIGTERM, then SIGKILL after `ms`.  Resolves when the process is gone. */
    async stop(ms = 5000) {
      if (exited) return exited;
      try { proc.kill('SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, ms);
      const r = await exitPromise;
      clearTimeout(t);
      return r;
    },
    exitPromise,
  };

  if (opts.readyLine) await handle.waitForLine(opts.readyLine, opts.timeoutMs || 20000);
  return handle;
}

/** Resolve when something accepts TCP connections on host:port. */
async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 10000, abortIf } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    const why = abortIf && abortIf();
    if (why) throw new Error(`gave up waiting for ${host}:${port}: ${why}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolve true if host:port is free to bind. */
function portFree(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function assertPortFree(port, what, host = '127.0.0.1') {
  const deadline = Date.now() + 3000;
  while (!(await portFree(port, host))) {
    if (Date.now() > deadline) {
      throw new Error(`port ${host}:${port} (${what}) is already in use; another test run or a leftover `
        + 'process holds it (see `ss -ltnp`), or choose other ports through the env variables '
        + 'described in t/e2e/README.md');
    }
    await sleep(100);
  }
}

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/**
 * A cross-process lock (a directory holding the owner's pid) so that test
 * files that use the fixed ports run one at a time even when node --test
 * runs files in parallel.  Stale locks of dead processes are taken over.
 */
async function acquireLock(dir, { timeoutMs = 15 * 60 * 1000 } = {}) {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      const release = () => {
        try {
          if (fs.readFileSync(path.join(dir, 'pid'), 'utf8') === String(process.pid)) {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        } catch { /* already gone */ }
      };
      const unhook = onExit(release);
      return () => { unhook(); release(); };
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try { owner = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8')); } catch { /* being written */ }
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Number.isNaN(owner)) {
      // a lock directory without a pid file: only stale if it stays that way
      try {
        const age = Date.now() - fs.statSync(dir).mtimeMs;
        if (age > 5000) { fs.rmSync(dir, { recursive: true, force: true }); continue; }
      } catch { continue; }
    }
    if (Date.now() > deadline) throw new Error(`could not get the e2e lock ${dir} (held by pid ${owner})`);
    await sleep(200);
  }
}

module.exports = {
  startProcess, waitForPort, portFree, assertPortFree, acquireLock, onExit, pidAlive, sleep, killAllSync,
};
