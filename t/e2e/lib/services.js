'use strict';

// Start/stop the real OP (t/op/server.js), the fake provider
// (t/fake/provider.js) and a tiny echo backend.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const config = require('./config');
const { startProcess, assertPortFree } = require('./proc');

function logFileIn(dir, name) {
  if (!dir) return undefined;
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.log`);
}

/**
 * Start the real OP.
 * opts: { port, issuer, redirectUris: [], postLogoutRedirectUris: [], backchannelLogoutUri,
 *         accessTtl, idTtl, consent: 'auto'|'prompt', permissive, tlsCert, tlsKey, extraArgs: [],
 *         logDir, verbose }
 * Returns { issuer, port, url(path), discovery(), stop(), providerConf(name, directives), proc }.
 */
async function startOP(opts = {}) {
  const port = opts.port || config.OP_PORT;
  const scheme = opts.tlsCert ? 'https' : 'http';
  const issuer = opts.issuer || `${scheme}://127.0.0.1:${port}`;
  const args = [config.OP_SCRIPT, '--port', String(port), '--issuer', issuer, '--exit-on-stdin-close'];
  for (const u of opts.redirectUris || []) args.push('--redirect-uri', u);
  for (const u of opts.postLogoutRedirectUris || []) args.push('--post-logout-redirect-uri', u);
  if (opts.backchannelLogoutUri) args.push('--backchannel-logout-uri', opts.backchannelLogoutUri);
  if (opts.accessTtl) args.push('--access-ttl', String(opts.accessTtl));
  if (opts.idTtl) args.push('--id-ttl', String(opts.idTtl));
  if (opts.consent) args.push('--consent', opts.consent);
  // the OP is spec-conformant (claims in userinfo only) unless permissive
  if (opts.permissive) args.push('--permissive');
  if (opts.tlsCert) args.push('--tls-cert', opts.tlsCert, '--tls-key', opts.tlsKey);
  if (opts.verbose !== false) args.push('--verbose');
  args.push(...(opts.extraArgs || []));

  await assertPortFree(port, 'OP');
  const proc = await startProcess(process.execPath, {
    name: 'op',
    args,
    logFile: logFileIn(opts.logDir, 'op'),
    readyLine: /^OP ready (\S+)$/m,
  });
  return {
    issuer,
    port,
    proc,
    url: (p = '/') => new URL(p, `${issuer}/`).toString(),
    async discovery() {
      const r = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (r.status !== 200) throw new Error(`OP discovery: HTTP ${r.status}`);
      return r.json();
    },
    stop: () => proc.stop(),
    /** an oauth2_provider block for the built-in client, its secret in env OP_SECRET */
    providerConf: (name, directives = '') => `
oauth2_provider ${name} {
    issuer         ${issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  env:OP_SECRET;
    redirect_uri   /cb/${name};
    ${directives}
}`,
  };
}

/**
 * Start the fake provider.
 * opts: { port, tlsPort, tlsCert, tlsKey, clientId, clientSecret, logDir, verbose }
 * Returns { port, base, issuer(scenario), stats(), requests(), reset(), rotate(), stop(), proc }.
 */
async function startFake(opts = {}) {
  const port = opts.port || config.FAKE_PORT;
  const args = [config.FAKE_SCRIPT, '--port', String(port), '--exit-on-stdin-close'];
  if (opts.tlsCert) {
    args.push('--tls-cert', opts.tlsCert, '--tls-key', opts.tlsKey,
      '--tls-port', String(opts.tlsPort || config.FAKE_TLS_PORT));
  }
  if (opts.clientId) args.push('--client-id', opts.clientId);
  if (opts.clientSecret) args.push('--client-secret', opts.clientSecret);
  if (opts.verbose !== false) args.push('--verbose');

  await assertPortFree(port, 'fake provider');
  if (opts.tlsCert) await assertPortFree(opts.tlsPort || config.FAKE_TLS_PORT, 'fake provider (TLS)');
  const proc = await startProcess(process.execPath, {
    name: 'fake',
    args,
    logFile: logFileIn(opts.logDir, 'fake'),
    readyLine: opts.tlsCert ? /^FAKE ready \d+ tls \d+$/m : /^FAKE ready \d+/m,
  });
  const base = `http://127.0.0.1:${port}`;
  const tlsBase = opts.tlsCert ? `https://localhost:${opts.tlsPort || config.FAKE_TLS_PORT}` : undefined;
  const control = async (p) => {
    const r = await fetch(`${base}${p}`);
    if (r.status !== 200) throw new Error(`fake ${p}: HTTP ${r.status}`);
    return r.json();
  };
  return {
    port,
    base,
    tlsBase,
    proc,
    issuer: (scenario, { tls = false } = {}) => `${tls ? tlsBase : base}/${scenario}`,
    stats: () => control('/_stats'),
    /** recorded requests, newest last; key like 'ok/token' filters */
    requests: (key) => control(key ? `/_requests?key=${encodeURIComponent(key)}` : '/_requests'),
    reset: () => control('/_reset'),
    rotate: () => control('/_rotate'),
    stop: () => proc.stop(),
  };
}

/**
 * A small HTTP backend that records what nginx proxied to it.
 * Responds with an HTML page "hello <X-Email>" and a JSON dump of the request
 * in a comment, so both browsers and plain clients can assert on it.
 * Returns { port, url, requests: [], last(), clear(), stop() }.
 */
async function startBackend(opts = {}) {
  const port = opts.port || config.BACKEND_PORT;
  await assertPortFree(port, 'backend');
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rec = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      if (opts.handler) { opts.handler(req, res, rec); return; }
      const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      const email = req.headers['x-email'] || '';
      const body = `<!DOCTYPE html><html><head><title>backend</title></head><body>`
        + `<h1 id="hello">hello ${esc(email)}</h1>`
        + `<pre id="request">${esc(JSON.stringify({ method: rec.method, url: rec.url, headers: rec.headers }, null, 2))}</pre>`
        + `</body></html>\n`;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        'x-backend': 'e2e',
      });
      res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    last: () => requests[requests.length - 1],
    clear: () => { requests.length = 0; },
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

module.exports = { startOP, startFake, startBackend };
