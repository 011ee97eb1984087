#!/usr/bin/env node
'use strict';

/*
 * The requests of bench/soak.sh, as a Lua table for bench/soak.lua:
 *
 *   node bench/soak-requests.js SECRET FAKE_ISSUER > requests.lua
 *
 * Each entry is { kind, method, path, headers, expect = {statuses} }.
 * Cookies are minted with t/tools/seal.js under SECRET, for provider "op"
 * (cookie oauth2_op, state cookies oauth2_op_st_XXXXXXXX).
 */

const seal = require('../t/tools/seal.js');

const [secret, issuer, check] = process.argv.slice(2);
if (!secret || !issuer) {
  process.stderr.write('usage: node bench/soak-requests.js SECRET FAKE_ISSUER [--check URL]\n');
  process.exit(2);
}

const now = Math.floor(Date.now() / 1000);
const NAV = { Accept: 'text/html,application/xhtml+xml', 'Sec-Fetch-Mode': 'navigate' };
const API = { Accept: 'application/json' };

const session = {
  sub: 'soak-user',
  expires: now + 86400,
  created: now,
  access_expires: now + 86400,
  claims: { email: 'soak@example.com', name: 'Soak User', groups: ['a', 'b'] },
  access_token: 'at.soak',
};
const valid = seal.sessionCookie([secret], 'oauth2_op', session);
const big = seal.sessionCookie([secret], 'oauth2_op', {
  ...session, id_token: 'x'.repeat(5000), refresh_token: 'r'.repeat(1000),
});
const expired = seal.sessionCookie([secret], 'oauth2_op', { ...session, expires: now - 10 });

const value = seal.sessionValue([secret], 'oauth2_op', session);
const flip = (v, i) => `${v.slice(0, i)}${v[i] === 'A' ? 'B' : 'A'}${v.slice(i + 1)}`;

const state = `SoakSt01${'x'.repeat(35)}`;
const stateCookie = seal.stateCookie([secret], `oauth2_op_st_${state.slice(0, 8)}`, {
  created: now, state, nonce: 'soak-nonce', verifier: 'v'.repeat(43), return_url: '/soak/page?x=1',
});
const iss = encodeURIComponent(issuer);

const R = [];
const add = (kind, path, headers, expect) => R.push({
  kind, method: 'GET', path, headers, expect,
});

// valid sessions (the hot path), plain and chunked, as navigations and
// APIs.  No "/": an internal redirect (index, try_files) runs the access
// phase again on a Cookie header oauth2_strip_cookies has already emptied
add('session', '/index.html', { Cookie: valid }, [200]);
add('session-nav', '/index.html', { Cookie: `a=b; ${valid}; c=d`, ...NAV }, [200]);
add('session-chunked', '/deep/path', { Cookie: big, ...API }, [200]);
add('session-api', '/soak/page?x=1', { Cookie: valid, ...API }, [200]);

// tampered and broken cookies: 401 for APIs, a login (302) for navigations
add('tampered', '/index.html', { Cookie: `oauth2_op=${flip(value, 50)}`, ...API }, [401]);
add('tampered-nav', '/index.html', { Cookie: `oauth2_op=${flip(value, 100)}`, ...NAV }, [302]);
add('truncated', '/index.html', { Cookie: `oauth2_op=${value.slice(0, 60)}`, ...API }, [401]);
add('garbage', '/index.html', { Cookie: 'oauth2_op=%%%; oauth2_op_1=x; oauth2_op=chunks.3', ...API }, [401]);
add('expired', '/index.html', { Cookie: expired, ...API }, [401]);

// logins: a state cookie and a redirect to the provider
add('login', '/', NAV, [302]);
add('login', '/deep/path?q=1&r=%20', NAV, [302]);
add('no-session-api', '/index.html', API, [401]);

// callbacks with errors
add('callback-no-state', '/oauth2/callback?code=abc', NAV, [400]);
add('callback-wrong-state', `/oauth2/callback?code=abc&state=WrongSt0${'y'.repeat(35)}&iss=${iss}`,
  { Cookie: stateCookie, ...NAV }, [401]);
add('callback-bad-state', '/oauth2/callback?code=abc&state=%00%01bad', { Cookie: stateCookie, ...NAV }, [400]);
add('callback-provider-error',
  `/oauth2/callback?error=access_denied&error_description=The+user+said+no&state=${state}&iss=${iss}`,
  { Cookie: stateCookie, ...NAV }, [403]);
add('callback-error-no-cookie',
  `/oauth2/callback?error=access_denied&state=${state}&iss=${iss}`, NAV, [401]);

// --check URL: send each request once, print its status, exit 1 if one
// is not what the table expects (fetch sets its own Sec-Fetch-Mode: the
// requests go through node:http)
if (check === '--check') {
  const http = require('node:http');
  const base = new URL(process.argv[5]);
  const get = (r) => new Promise((resolve, reject) => {
    http.get({
      host: base.hostname, port: base.port, path: r.path, headers: r.headers,
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }).on('error', reject);
  });
  (async () => {
    let bad = 0;
    for (const r of R) {
      const status = await get(r);
      const ok = r.expect.includes(status);
      if (!ok) bad++;
      process.stdout.write(`${ok ? 'ok ' : 'BAD'} ${r.kind} ${status} (expect ${r.expect.join('|')})\n`);
    }
    process.exit(bad ? 1 : 0);
  })();
  return;
}

const lua = (s) => `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const out = ['return {'];
for (const r of R) {
  const h = Object.entries(r.headers).map(([k, v]) => `[${lua(k)}] = ${lua(v)}`).join(', ');
  out.push(`  { kind = ${lua(r.kind)}, method = ${lua(r.method)}, path = ${lua(r.path)}, `
    + `headers = { ${h} }, expect = { ${r.expect.join(', ')} } },`);
}
out.push('}');
process.stdout.write(`${out.join('\n')}\n`);
