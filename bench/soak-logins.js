#!/usr/bin/env node
'use strict';

/*
 * Whole logins for bench/soak.sh: navigation -> 302 to the fake provider
 * (state cookie) -> the provider's authorize -> the callback with the
 * state cookie (nginx exchanges the code, fetches the JWKS, verifies the
 * ID token) -> 302 with a session cookie -> the page with it (200).
 *
 *   node bench/soak-logins.js NGINX_URL COUNT [CONCURRENCY]
 *
 * Prints "LOGINS ok N failed M seconds S"; exits 1 if any failed (the
 * first failures are described on stderr).
 */

const http = require('node:http');

const [base, countArg, concArg] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concArg || 16);
if (!base || !(count > 0)) {
  process.stderr.write('usage: node bench/soak-logins.js NGINX_URL COUNT [CONCURRENCY]\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.get({
      host: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`timeout: ${url}`)));
  });
}

const cookiesOf = (res) => (res.headers['set-cookie'] || [])
  .map((c) => c.split(';')[0])
  .filter((c) => !/=$/.test(c));

async function login(i) {
  const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' };
  const path = `/soak/page?login=${i}`;

  const a = await get(new URL(path, base).href, nav);
  if (a.statusCode !== 302) throw new Error(`navigation: ${a.statusCode}`);
  const state = cookiesOf(a).join('; ');

  const b = await get(a.headers.location);
  if (b.statusCode !== 302) throw new Error(`authorize: ${b.statusCode}`);

  const c = await get(b.headers.location, { ...nav, cookie: state });
  if (c.statusCode !== 302) throw new Error(`callback: ${c.statusCode}`);
  const session = cookiesOf(c).filter((x) => x.startsWith('oauth2_op')).join('; ');
  if (!session) throw new Error('callback: no session cookie');

  const d = await get(new URL(c.headers.location, base).href, { ...nav, cookie: session });
  if (d.statusCode !== 200) throw new Error(`page with the session: ${d.statusCode}`);
}

async function main() {
  const t0 = Date.now();
  let next = 0;
  let ok = 0;
  let failed = 0;

  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        await login(i);
        ok++;
      } catch (e) {
        failed++;
        if (failed <= 5) process.stderr.write(`login ${i}: ${e.message}\n`);
      }
    }
  };

  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();

  const s = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`LOGINS ok ${ok} failed ${failed} seconds ${s}\n`);
  process.exit(failed ? 1 : 0);
}

main();
