'use strict';

// Provider data on its way to variables (security issue #11):
//
//   - a claim, sub or e-mail address holding control characters (CR LF,
//     "\u000a", TAB, DEL) never reaches a variable: the bytes an upstream
//     receives are looked at directly (a raw TCP backend records the
//     request head), and so are the response headers;
//   - such a claim (or array element) is dropped with one warning naming
//     the provider and the claim, never the value; such a sub refuses the
//     login (502);
//   - claims keep their JSON type: a string "users,admin" is not the array
//     ["users","admin"] for oauth2_require;
//   - $oauth2_email is a verified address only; $oauth2_claim_email is the
//     claim as the provider sent it.
//
// nginx on E2E_NGINX_PORT+17, the raw backend on E2E_NGINX_PORT+18 (2003
// and 2004 by default); the fake provider on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');
const { logCursor, troubleLines } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 17;
const BACKEND_PORT = config.NGINX_PORT + 18;
const ORIGIN = `http://127.0.0.1:${PORT}`;

// claim -> header name, both upstream (proxy_set_header) and downstream
// (add_header, with an "O-" prefix)
const HEADERS = {
  sub: '$oauth2_sub',
  email: '$oauth2_email',
  'claim-email': '$oauth2_claim_email',
  name: '$oauth2_claim_name',
  nick: '$oauth2_claim_nick',
  title: '$oauth2_claim_title',
  dept: '$oauth2_claim_dept',
  groups: '$oauth2_claim_groups',
  city: '$oauth2_claim_city',
  login: '$oauth2_claim_login',
  tags: '$oauth2_claim_tags',
  level: '$oauth2_claim_level',
  staff: '$oauth2_claim_staff',
};

// a scenario with a "-ui" twin: the ID token alone ("userinfo off"), then
// userinfo too; the others with the default "userinfo auto"
const OIDC = [
  { name: 'claims-ctl', extra: 'userinfo off;' },
  { name: 'claims-ctl-ui', scenario: 'claims-ctl', extra: 'userinfo on;' },
  { name: 'claims-nul' },
  { name: 'sub-ctl', extra: 'userinfo off;' },
  { name: 'sub-ctl-ui', scenario: 'sub-ctl', extra: 'userinfo on;' },
  { name: 'claims-typed' },
  { name: 'email-unverified', extra: 'userinfo off;' },
  { name: 'email-unverified-ui', scenario: 'email-unverified', extra: 'userinfo on;' },
  { name: 'ok' },
];

// the request heads the backend received, as bytes
const heads = [];

function startRawBackend() {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(buf.subarray(0, end + 2));
      sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n'
        + 'Connection: close\r\n\r\nbackend\n');
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(BACKEND_PORT, '127.0.0.1', () => resolve(server));
  });
}

/** the header lines of a raw request head: every one must be clean */
function headerLines(head) {
  const text = head.toString('latin1');
  assert.ok(text.endsWith('\r\n'));
  const lines = text.slice(0, -2).split('\r\n');
  for (const l of lines) {
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(l, /[\x00-\x1f\x7f]/, `a control byte inside a header line: ${JSON.stringify(l)}`);
  }
  return lines.slice(1);
}

function upstreamHeader(lines, name) {
  const l = lines.filter((x) => x.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  assert.ok(l.length <= 1, `one ${name} at most: ${JSON.stringify(l)}`);
  return l.length ? l[0].slice(name.length + 1).trim() : undefined;
}

function providerConf(fake, c) {
  return `
oauth2_provider ${c.name} {
    issuer         ${fake.issuer(c.scenario || c.name)};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
    scope          "openid email";
    redirect_uri   /cb/${c.name};${c.extra ? `\n    ${c.extra}` : ''}
}`;
}

function headersConf() {
  return Object.entries(HEADERS).map(([h, v]) => `        proxy_set_header X-${h} ${v};\n`
    + `        add_header O-${h} ${v} always;`).join('\n');
}

describe('claims: control characters, types and verified e-mail', moduleTestOptions(), () => {
  let env;
  let fake;
  let backend;
  let errorLogFile;
  const gh = () => `${fake.base}/github`;

  before(async () => {
    env = await createEnv('45-claims');
    fake = await env.fake();
    backend = await startRawBackend();
    const ngx = await env.nginx({
      port: PORT,
      http: `${OIDC.map((c) => providerConf(fake, c)).join('\n')}
oauth2_provider gh {
    preset                 github;
    authorization_endpoint ${gh()}/login/oauth/authorize;
    token_endpoint         ${gh()}/login/oauth/access_token;
    userinfo_endpoint      ${gh()}/api/user;
    client_id              ${config.FAKE_CLIENT.id};
    client_secret          ${config.FAKE_CLIENT.secret};
    redirect_uri           /cb/gh;
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT};
    absolute_redirect off;

${[...OIDC.map((c) => c.name), 'gh'].map((n) => `    location /s/${n}/ {
        oauth2 ${n};
${headersConf()}
        proxy_pass http://127.0.0.1:${BACKEND_PORT};
    }`).join('\n')}

    location /t/ {
        oauth2 claims-typed;
        proxy_pass http://127.0.0.1:${BACKEND_PORT};

        location /t/groups-admin { oauth2_require groups admin; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/groups-whole { oauth2_require groups users,admin; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/tags-c { oauth2_require tags c; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/tags-ab { oauth2_require tags a,b; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/tags-a { oauth2_require tags a; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/level { oauth2_require level 3; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/staff { oauth2_require staff true; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
        location /t/missing { oauth2_require absent x; proxy_pass http://127.0.0.1:${BACKEND_PORT}; }
    }
}`,
    });
    errorLogFile = path.join(ngx.prefix, 'logs', 'error.log');
  });
  after(async () => {
    if (backend) await new Promise((r) => { backend.close(() => r()); });
    if (env) await env.stop();
  });

  async function login(name, opts = {}) {
    heads.length = 0;
    const cur = logCursor(errorLogFile);
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/s/${name}/page`, { maxHops: 8, ...opts });
    const info = () => `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}\n`
      + `--- error.log ---\n${cur.since().slice(-3000)}`;
    return {
      client, flow, cur, info,
    };
  }

  function assertNoInjection(res, info) {
    for (const [k, v] of Object.entries(res.headers)) {
      assert.ok(!/injected/i.test(k), `no injected response header ${k}${info()}`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(String(v), /[\x00-\x1f\x7f]/, `response header ${k}${info()}`);
    }
    for (const h of heads) {
      const lines = headerLines(h);
      assert.ok(!lines.some((l) => /injected/i.test(l)), `no injected upstream header:\n${h}${info()}`);
    }
  }

  for (const name of ['claims-ctl', 'claims-ctl-ui']) {
    test(`${name}: claims with control characters are dropped, the rest passes`, async () => {
      const { flow, cur, info } = await login(name);
      assert.equal(flow.response.status, 200, `logged in${info()}`);
      assert.equal(flow.response.body, 'backend\n');
      assert.equal(heads.length, 1, `the backend got the request${info()}`);
      assertNoInjection(flow.response, info);

      const lines = headerLines(heads[0]);
      assert.equal(upstreamHeader(lines, 'X-sub'), 'alice');
      assert.equal(upstreamHeader(lines, 'X-city'), 'Paris, France', 'a clean claim passes');
      for (const h of ['name', 'nick', 'title', 'dept', 'email', 'claim-email']) {
        assert.equal(upstreamHeader(lines, `X-${h}`), undefined, `X-${h} is not sent${info()}`);
        assert.equal(flow.response.headers[`o-${h}`], undefined, `O-${h} is not sent`);
      }
      assert.equal(upstreamHeader(lines, 'X-groups'), 'users', 'the bad element of the array is dropped');
      assert.equal(flow.response.headers['o-groups'], 'users');

      const log = cur.since();
      for (const claim of ['name', 'nick', 'title', 'dept', 'groups', 'email']) {
        const re = new RegExp(`\\[warn\\].*oauth2 provider "${name}": claim "${claim}".*control character`);
        assert.match(log, re, `a warning names the provider and the claim ${claim}${info()}`);
      }
      assert.ok(!/Eve|X-Injected|tab.here|del.here/.test(log), `the values are not logged${info()}`);
      assert.deepEqual(troubleLines(log), []);
    });
  }

  test('claims-nul: a claim holding \\u0000 refuses the ID token: no session, no upstream request', async () => {
    const { client, flow, info } = await login('claims-nul');
    assert.ok([401, 403, 502].includes(flow.response.status), `refused${info()}`);
    assert.equal(heads.length, 0, `the backend was never reached${info()}`);
    assert.ok(!client.jar.cookies.some((c) => c.name === 'oauth2_claims-nul' && c.value), 'no session');
  });

  for (const name of ['sub-ctl', 'sub-ctl-ui']) {
    test(`${name}: a sub with control characters refuses the login (502)`, async () => {
      const { client, flow, cur, info } = await login(name);
      assert.equal(flow.response.status, 502, `refused${info()}`);
      assert.match(flow.response.headers['content-type'] || '', /text\/html/);
      assert.match(flow.response.body, /<h1>[^<]+<\/h1>/);
      assert.equal(heads.length, 0, `the backend was never reached${info()}`);
      assertNoInjection(flow.response, info);
      assert.ok(!client.jar.cookies.some((c) => c.name === `oauth2_${name}` && c.value), 'no session');
      const log = cur.since();
      assert.match(log, new RegExp(`\\[error\\].*oauth2 provider "${name}": .*"sub".*control character`), info());
      assert.ok(!/X-Injected/.test(log), 'the value is not logged');
    });
  }

  test('claims-typed: oauth2_require matches strings whole and array elements one by one', async () => {
    const { client, flow, info } = await login('claims-typed');
    assert.equal(flow.response.status, 200, `logged in${info()}`);
    const lines = headerLines(heads[0]);
    assert.equal(upstreamHeader(lines, 'X-groups'), 'users,admin', 'the string as it is');
    assert.equal(upstreamHeader(lines, 'X-tags'), 'a,b,c', 'an array: its elements joined with ","');
    assert.equal(upstreamHeader(lines, 'X-level'), '3');
    assert.equal(upstreamHeader(lines, 'X-staff'), 'true');

    const expect = {
      'groups-admin': 403, // the string "users,admin" is not a list
      'groups-whole': 200,
      'tags-c': 200,
      'tags-ab': 200, // an element holding a comma
      'tags-a': 403, // ... is not split
      level: 200,
      staff: 200,
      missing: 403,
    };
    for (const [p, status] of Object.entries(expect)) {
      // eslint-disable-next-line no-await-in-loop
      const r = await client.fetchLike(`${ORIGIN}/t/${p}`);
      assert.equal(r.status, status, `/t/${p}`);
    }
  });

  test('ok: a verified address is $oauth2_email', async () => {
    const { flow, info } = await login('ok');
    assert.equal(flow.response.status, 200, info());
    const lines = headerLines(heads[0]);
    assert.equal(upstreamHeader(lines, 'X-email'), 'alice@example.com');
    assert.equal(upstreamHeader(lines, 'X-claim-email'), 'alice@example.com');
  });

  for (const name of ['email-unverified', 'email-unverified-ui']) {
    test(`${name}: an unverified address is only $oauth2_claim_email`, async () => {
      const { flow, info } = await login(name);
      assert.equal(flow.response.status, 200, info());
      const lines = headerLines(heads[0]);
      assert.equal(upstreamHeader(lines, 'X-email'), undefined, `no $oauth2_email${info()}`);
      assert.equal(flow.response.headers['o-email'], undefined);
      assert.equal(upstreamHeader(lines, 'X-claim-email'), 'alice@example.com');
    });
  }

  async function githubLogin(login) {
    heads.length = 0;
    const cur = logCursor(errorLogFile);
    const client = new HttpClient();
    const start = await client.navigate(`${ORIGIN}/s/gh/page`);
    assert.equal(start.status, 302);
    const flow = await followLogin(client, `${start.location}&login=${login}`, { maxHops: 8 });
    const info = () => `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}\n`
      + `--- error.log ---\n${cur.since().slice(-3000)}`;
    return { flow, cur, info };
  }

  test('GitHub: $oauth2_email is the primary verified address, not the public one', async () => {
    const { flow, info } = await githubLogin('pub');
    assert.equal(flow.response.status, 200, info());
    const lines = headerLines(heads[0]);
    assert.equal(upstreamHeader(lines, 'X-login'), 'pub');
    assert.equal(upstreamHeader(lines, 'X-email'), 'pub@example.com', `from /user/emails${info()}`);
    assert.equal(upstreamHeader(lines, 'X-claim-email'), 'pub.public@example.com', '/user "email" as sent');
  });

  test('GitHub: control characters in /user and /user/emails never reach a header', async () => {
    const { flow, cur, info } = await githubLogin('ctl');
    assert.equal(flow.response.status, 200, info());
    assertNoInjection(flow.response, info);
    const lines = headerLines(heads[0]);
    assert.equal(upstreamHeader(lines, 'X-login'), 'ctl');
    assert.equal(upstreamHeader(lines, 'X-name'), undefined);
    assert.equal(upstreamHeader(lines, 'X-email'), undefined);
    const log = cur.since();
    assert.match(log, /\[warn\].*oauth2 provider "gh": claim "name".*control character/, info());
    assert.match(log, /\[warn\].*oauth2 provider "gh": .*e-mail.*control character/, info());
    assert.ok(!/X-Injected/.test(log), 'the values are not logged');
  });
});
