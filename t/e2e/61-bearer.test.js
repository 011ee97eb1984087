'use strict';

// API callers with "Authorization: Bearer" (issue 15), against the real OP
// started with --bearer: the client credentials grant gives RFC 9068 JWT
// access tokens for the resource https://api.example.com (the provider's
// bearer_audience) and for https://other.example.com (a wrong audience).
//
// - valid tokens pass, with the variables ($oauth2_sub, $oauth2_scope,
//   $oauth2_client_id, $oauth2_auth_type, $oauth2_claim_*) upstream;
// - expired, wrong-audience, wrong-issuer, ID-token-as-bearer, alg
//   tricks, tampered, foreign-key tokens get 401 invalid_token with a
//   description; no token 401 without "error"; a malformed header 400
//   invalid_request; a token in the query string is not looked at;
// - oauth2_require scope: a space-separated list, 403 insufficient_scope
//   naming the scope;
// - the mixed browser + bearer location: a page load without a token
//   logs in, with one it never does; a cookie session passes too;
// - auth_request with oauth2_auth_request: 204 / 401, identity headers
//   for auth_request_set; the endpoint called directly as an external
//   authorization service;
// - one JWKS fetch for all of it, refused tokens remembered.
//
// nginx on E2E_NGINX_PORT+45, the real OP on OP_PORT.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { rawGet, troubleLines } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 45;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const API = 'https://api.example.com';
const ACCESS_TTL = 4;
const API_CLIENT = { id: 'api-client', secret: 'api-client-secret-0123456789abcdef' };

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const parts = (t) => t.split('.').map((s, i) => (i < 2 ? JSON.parse(Buffer.from(s, 'base64url')) : s));

/** the RFC 6750 attributes of a WWW-Authenticate: Bearer header */
function challenge(h) {
  assert.ok(h && h.startsWith('Bearer '), `a Bearer challenge: ${h}`);
  const out = {};
  for (const m of h.slice(7).matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

describe('bearer tokens for APIs (oauth2_bearer, oauth2_auth_request)', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let backend;
  let tokenEndpoint;

  async function token({ scope = 'orders:read', resource = API } = {}) {
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope });
    if (resource) body.set('resource', resource);
    const r = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${API_CLIENT.id}:${API_CLIENT.secret}`).toString('base64')}`,
      },
      body: body.toString(),
    });
    const j = await r.json();
    assert.equal(r.status, 200, JSON.stringify(j));
    return j.access_token;
  }

  const get = (path, tok, headers = {}) => rawGet(PORT, path, {
    accept: 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers,
  });

  const introspections = () => (op.proc.stdout().match(/^op: POST \/token\/introspection -> 200/gm) || []).length;

  async function revoke(tok) {
    const r = await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${API_CLIENT.id}:${API_CLIENT.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: tok }).toString(),
    });
    assert.equal(r.status, 200, 'revoked at the OP');
  }

  async function refused(path, tok, description, realm = 'op') {
    const r = await get(path, tok);
    assert.equal(r.status, 401, `${description}: ${r.status} ${r.body.slice(0, 200)}`);
    const c = challenge(r.headers['www-authenticate']);
    assert.equal(c.realm, realm);
    assert.equal(c.error, 'invalid_token', description);
    assert.match(c.error_description, description);
    assert.equal(r.location, undefined, 'never a redirect');
    return r;
  }

  before(async () => {
    env = await createEnv('61-bearer');
    op = await env.op({
      redirectUris: [`${ORIGIN}/cb/op`],
      accessTtl: ACCESS_TTL,
      extraArgs: ['--bearer'],
    });
    const disco = await op.discovery();
    tokenEndpoint = disco.token_endpoint;
    backend = await env.backend();
    const up = `proxy_pass http://127.0.0.1:${backend.port};`;
    const vars = `
        proxy_set_header X-Sub $oauth2_sub;
        proxy_set_header X-Scope $oauth2_scope;
        proxy_set_header X-Client $oauth2_client_id;
        proxy_set_header X-Type $oauth2_auth_type;
        proxy_set_header X-Jti $oauth2_claim_jti;
        proxy_set_header X-Email $oauth2_claim_email;`;
    ngx = await env.nginx({
      port: PORT,
      workerProcesses: 2,
      env: { OP_SECRET: config.OP_CLIENT.secret },
      http: `${op.providerConf('op', `scope "openid email"; leeway 0; bearer_audience ${API};`)}
oauth2_provider wrongiss {
    issuer                  ${op.issuer}/elsewhere;
    authorization_endpoint  ${disco.authorization_endpoint};
    token_endpoint          ${disco.token_endpoint};
    jwks_uri                ${disco.jwks_uri};
    client_id               ${config.OP_CLIENT.id};
    client_secret           env:OP_SECRET;
    bearer_audience         ${API};
}
${op.providerConf('fresh', `bearer_audience ${API}; bearer_cache_time 0;`)}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${PORT} reuseport;
    large_client_header_buffers 4 16k;

    location /api/ {
        oauth2_bearer op;${vars}
        ${up}
    }
    location /api/read/ {
        oauth2_bearer op;
        oauth2_require scope orders:read;${vars}
        ${up}
    }
    location /api/write/ {
        oauth2_bearer op;
        oauth2_require scope orders:write;
        ${up}
    }
    location /fresh/ {
        oauth2_bearer fresh;${vars}
        ${up}
    }
    location /wrongiss/ {
        oauth2_bearer wrongiss;
        ${up}
    }
    location / {
        oauth2 op;
        oauth2_bearer op;${vars}
        ${up}
    }
    location /idtoken {
        oauth2 op;
        proxy_set_header X-Id-Token $oauth2_id_token;
        ${up}
    }
    # the identity: the module's variables (evaluated in the
    # subrequest), or the answer's headers
    location /gated/ {
        auth_request /oauth2/auth;
        auth_request_set $who $oauth2_sub;
        auth_request_set $how $sent_http_x_oauth2_auth_type;
        proxy_set_header X-Who $who;
        proxy_set_header X-How $how;
        ${up}
    }
    location = /oauth2/auth {
        oauth2_auth_request op;
    }

    # the same endpoint behind a proxy, as another nginx would call it
    # (the session cookie must reach it: not stripped here)
    location /proxied/ {
        oauth2_strip_cookies off;
        auth_request /auth-proxy;
        auth_request_set $email $upstream_http_x_oauth2_email;
        auth_request_set $who $upstream_http_x_oauth2_sub;
        proxy_set_header X-Who $who;
        proxy_set_header X-Mail $email;
        ${up}
    }
    location = /auth-proxy {
        internal;
        proxy_pass http://127.0.0.1:${PORT}/oauth2/auth;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
}`,
    });
  });

  after(() => env && env.stop());

  test('a valid JWT access token passes; the upstream gets the variables', async () => {
    const tok = await token();
    backend.clear();
    const r = await get('/api/orders', tok);
    assert.equal(r.status, 200, `${r.status} ${ngx.errorLog().slice(-1500)}`);
    const h = backend.last().headers;
    assert.equal(h['x-sub'], 'api-client');
    assert.equal(h['x-scope'], 'orders:read');
    assert.equal(h['x-client'], 'api-client');
    assert.equal(h['x-type'], 'bearer');
    assert.equal(h['x-jti'], parts(tok)[1].jti);
    assert.equal(h.authorization, `Bearer ${tok}`, 'the token goes on to the API');
    // again (from the cache), and from the other worker
    for (let i = 0; i < 6; i++) assert.equal((await get('/api/orders', tok)).status, 200);
  });

  test('no token: 401 with a challenge and no error; never from the query string', async () => {
    const tok = await token();
    for (const path of ['/api/x', `/api/x?access_token=${tok}`]) {
      const r = await get(path, null);
      assert.equal(r.status, 401, path);
      assert.deepEqual(challenge(r.headers['www-authenticate']), { realm: 'op' });
    }
    const basic = await get('/api/x', null, { authorization: 'Basic YTpi' });
    assert.equal(basic.status, 401, 'another scheme is no token');
  });

  test('a malformed Authorization header: 400 invalid_request', async () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a"b', 'Bearer =abc', 'bearer ab==cd']) {
      const r = await get('/api/x', null, { authorization: value });
      assert.equal(r.status, 400, value);
      assert.equal(challenge(r.headers['www-authenticate']).error, 'invalid_request', value);
    }
  });

  test('refused: wrong audience, wrong issuer, ID token, expired', async () => {
    await refused('/api/x', await token({ resource: 'https://other.example.com' }), /audience/);
    await refused('/wrongiss/x', await token(), /issuer/, 'wrongiss');

    // an ID token of the same OP, from a browser login through nginx
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/idtoken`, { login: 'alice' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    const idToken = backend.last().headers['x-id-token'];
    assert.equal(parts(idToken)[1].aud, config.OP_CLIENT.id, 'an ID token');
    await refused('/api/x', idToken, /ID token|audience/);

    const tok = await token();
    await sleep((parts(tok)[1].exp - Date.now() / 1000) * 1000 + 1200);
    await refused('/api/x', tok, /expired/);
  });

  test('refused: alg none, HS256 with the public key, tampered claims, a key of our own', async () => {
    const tok = await token();
    const [h, p, sig] = tok.split('.');
    const header = parts(tok)[0];
    const claims = parts(tok)[1];

    await refused('/api/x', `${b64({ ...header, alg: 'none' })}.${p}.`, /none/);

    const jwks = await (await fetch((await op.discovery()).jwks_uri)).json();
    const pub = JSON.stringify(jwks.keys.find((k) => k.kid === header.kid));
    const hsHeader = b64({ ...header, alg: 'HS256' });
    const hsSig = crypto.createHmac('sha256', pub).update(`${hsHeader}.${p}`).digest('base64url');
    await refused('/api/x', `${hsHeader}.${p}.${hsSig}`, /alg/);

    const more = b64({ ...claims, scope: 'orders:read orders:write' });
    await refused('/api/write/x', `${h}.${more}.${sig}`, /signature|verif/);

    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const own = b64(header);
    const ownSig = crypto.sign('sha256', Buffer.from(`${own}.${p}`), privateKey).toString('base64url');
    await refused('/api/x', `${own}.${p}.${ownSig}`, /signature|verif|key/);

    const typ = b64({ ...header, typ: 'logout+jwt' });
    await refused('/api/x', `${typ}.${p}.${sig}`, /type/);

    await refused('/api/x', 'an-opaque-token', /not active/);
  });

  test('oauth2_require scope: a space-separated list; 403 insufficient_scope naming it', async () => {
    const read = await token({ scope: 'orders:read' });
    const both = await token({ scope: 'orders:read orders:write' });

    assert.equal((await get('/api/read/x', read)).status, 200);
    const r = await get('/api/write/x', read);
    assert.equal(r.status, 403);
    const c = challenge(r.headers['www-authenticate']);
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'orders:write');

    assert.equal((await get('/api/read/x', both)).status, 200, 'first of the list');
    assert.equal((await get('/api/write/x', both)).status, 200, 'second of the list');
  });

  test('the mixed location: a login without a token, never with one; the cookie passes too', async () => {
    const client = new HttpClient();
    const page = await client.navigate(`${ORIGIN}/page`);
    assert.equal(page.status, 302, 'a page load without a token logs in');

    const bad = await client.navigate(`${ORIGIN}/page`, { headers: { authorization: 'Bearer x.y.z' } });
    assert.equal(bad.status, 401, 'a bad token is refused, not sent to log in');
    assert.equal(bad.location, undefined);

    const tok = await token();
    backend.clear();
    const ok = await client.navigate(`${ORIGIN}/page`, { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(ok.status, 200);
    assert.equal(backend.last().headers['x-type'], 'bearer');

    const flow = await followLogin(client, `${ORIGIN}/page`, { login: 'bob' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    assert.equal(backend.last().headers['x-type'], 'cookie');
    assert.equal(backend.last().headers['x-sub'], 'bob');
  });

  test('auth_request with oauth2_auth_request: 204 or 401, identity for auth_request_set', async () => {
    const tok = await token();
    backend.clear();
    const ok = await get('/gated/x', tok);
    assert.equal(ok.status, 200, ngx.errorLog().slice(-1500));
    assert.equal(backend.last().headers['x-who'], 'api-client');
    assert.equal(backend.last().headers['x-how'], 'bearer');

    // an opaque token: the subrequest waits for the introspection call
    const opaque = await token({ resource: null });
    backend.clear();
    const sub = await get('/gated/o', opaque);
    assert.equal(sub.status, 200, ngx.errorLog().slice(-1500));
    assert.equal(backend.last().headers['x-how'], 'bearer');

    const none = await get('/gated/x', null);
    assert.equal(none.status, 401);
    assert.equal(challenge(none.headers['www-authenticate']).realm, 'op');

    const bad = await get('/gated/x', `${tok}x`);
    assert.equal(bad.status, 401);
    assert.equal(challenge(bad.headers['www-authenticate']).error, 'invalid_token');

    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`, { login: 'carol' });
    assert.equal(flow.response.status, 200, describeHops(flow.hops));
    backend.clear();
    const cookie = await client.fetchLike(`${ORIGIN}/gated/y`);
    assert.equal(cookie.status, 200);
    assert.equal(backend.last().headers['x-who'], 'carol');
    assert.equal(backend.last().headers['x-how'], 'cookie');

    // through a proxied auth endpoint: $upstream_http_x_oauth2_*
    backend.clear();
    const proxied = await client.fetchLike(`${ORIGIN}/proxied/z`);
    assert.equal(proxied.status, 200);
    assert.equal(backend.last().headers['x-who'], 'carol');
    assert.equal(backend.last().headers['x-mail'], 'carol@example.com');
    const proxiedTok = await get('/proxied/z', tok);
    assert.equal(proxiedTok.status, 200);
    assert.equal(backend.last().headers['x-who'], 'api-client');
    assert.equal((await get('/proxied/z', null)).status, 401);

    // called directly, as a proxy's external authorization service
    const direct = await get('/oauth2/auth', tok);
    assert.equal(direct.status, 204);
    assert.equal(direct.headers['x-oauth2-sub'], 'api-client');
    assert.equal(direct.headers['x-oauth2-auth-type'], 'bearer');
    assert.equal(direct.headers['x-oauth2-client-id'], 'api-client');
    assert.equal(direct.headers['x-oauth2-scope'], 'orders:read');
    assert.equal((await get('/oauth2/auth', null)).status, 401);
  });

  test('opaque tokens: introspection, authenticated as the client; its answer is the session', async () => {
    const tok = await token({ resource: null });
    assert.equal(tok.split('.').length, 1, 'an opaque token');
    const before = introspections();
    backend.clear();
    const r = await get('/api/opaque', tok);
    assert.equal(r.status, 200, `${r.status} ${ngx.errorLog().slice(-1500)}`);
    assert.equal(introspections() - before, 1, 'one introspection call');
    const h = backend.last().headers;
    assert.equal(h['x-client'], 'api-client');
    assert.equal(h['x-scope'], 'orders:read');
    assert.equal(h['x-type'], 'bearer');
    assert.equal((await get('/api/write/x', tok)).status, 403, 'scope rules apply');
    assert.equal(introspections() - before, 1, 'remembered: no second call');
  });

  test('one introspection call per token across workers: 40 parallel requests, 4 tokens', async () => {
    const toks = await Promise.all([1, 2, 3, 4].map(() => token({ resource: null })));
    const before = introspections();
    const res = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/api/p/${i}`, toks[i % 4])));
    assert.deepEqual(res.map((r) => r.status), Array(40).fill(200), ngx.errorLog().slice(-2000));
    assert.equal(introspections() - before, 4, 'one call per token');
  });

  test('revoked at the OP: introspection says inactive, 401; without the cache at once', async () => {
    const fresh = await token({ resource: null });
    await revoke(fresh);
    await refused('/api/x', fresh, /not active/);

    const tok = await token({ resource: null });
    assert.equal((await get('/fresh/x', tok)).status, 200);
    await revoke(tok);
    await refused('/fresh/x', tok, /not active/, 'fresh');

    const before = introspections();
    await refused('/api/x', fresh, /not active/);
    assert.equal(introspections() - before, 0, 'a refused token is remembered');
  });

  test('one JWKS fetch per provider and worker for all of it; nothing alarming logged; no token in the log', async () => {
    const fetches = (op.proc.stdout().match(/^op: GET \/jwks -> 200/gm) || []).length;
    assert.ok(fetches >= 2 && fetches <= 6, `JWKS fetched ${fetches} times (3 providers, 2 workers)`);
    const log = ngx.errorLog();
    assert.deepEqual(troubleLines(log), []);
    assert.doesNotMatch(log, /eyJ[\w-]{20,}\.eyJ/, 'no token logged');
  });
});
