'use strict';

// Client authentication with JWT assertions (issue #12 item 5):
// private_key_jwt (RFC 7523, 2.2) and client_secret_jwt.
//
// - The real OP (oidc-provider) with clients registered for
//   private_key_jwt (their public keys in "jwks") and client_secret_jwt:
//   each logs in through nginx, the RSA and EC keys in PKCS#8 and in the
//   traditional PEM forms; one logs in, is refreshed and logs out with
//   revocation, every call with a fresh assertion (the OP refuses a
//   replayed jti); a key the OP does not know is refused.
// - The fake provider records the token request: the assertion's header
//   and claims are what RFC 7523 asks for, its signature verifies
//   (ES256 in the JWS r || s form).
// - nginx -t refuses a missing, encrypted, too short or wrong-type key,
//   private_key_jwt without client_key, client_secret_jwt without a
//   secret.
//
// The keys are made at test time (node:crypto) in the test's directory;
// none is committed.
//
// nginx on E2E_NGINX_PORT+40 (2026 by default), the real OP on OP_PORT,
// the fake provider on FAKE_OP_PORT.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions, sleep,
} = require('./lib');
const { troubleLines } = require('./lib/matrix');

const PORT = config.NGINX_PORT + 40;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const SECRET_JWT = 'client-secret-jwt-0123456789abcdef0123456789abcdef';

/** a self-signed certificate of the PEM key in keyFile (openssl) */
function selfSigned(keyFile, certFile) {
  const r = spawnSync('openssl', ['req', '-x509', '-key', keyFile, '-subj', '/CN=nginx-oauth2-test',
    '-days', '2', '-out', certFile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req -x509: ${r.stderr}`);
  return new crypto.X509Certificate(fs.readFileSync(certFile));
}

/** private keys in the PEM forms nginx reads, and their public JWKs */
function makeKeys(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const write = (name, text) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  return {
    rsa,
    ec,
    files: {
      rsaPkcs8: write('rsa-pkcs8.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' })),
      rsaPkcs1: write('rsa-pkcs1.pem', rsa.privateKey.export({ type: 'pkcs1', format: 'pem' })),
      ecPkcs8: write('ec-pkcs8.pem', ec.privateKey.export({ type: 'pkcs8', format: 'pem' })),
      ecSec1: write('ec-sec1.pem', ec.privateKey.export({ type: 'sec1', format: 'pem' })),
      other: write('other.pem', other.privateKey.export({ type: 'pkcs8', format: 'pem' })),
    },
    jwk: (pair, kid) => ({
      ...pair.publicKey.export({ format: 'jwk' }), use: 'sig', ...(kid ? { kid } : {}),
    }),
  };
}

function clientsFor(keys, names) {
  const common = {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: names.map((n) => `${ORIGIN}/cb/${n}`),
    post_logout_redirect_uris: [`${ORIGIN}/`],
  };
  const pk = (id, jwk, extra = {}) => ({
    ...common, client_id: id, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, ...extra,
  });
  return [
    pk('pk-rsa', keys.jwk(keys.rsa, 'rsa-1')),
    pk('pk-ec', keys.jwk(keys.ec), { token_endpoint_auth_signing_alg: 'ES256' }),
    {
      ...common,
      client_id: 'secret-jwt',
      client_secret: SECRET_JWT,
      token_endpoint_auth_method: 'client_secret_jwt',
    },
  ];
}

/** an oauth2_provider block for the real OP */
function provider(op, name, clientId, lines) {
  return `
oauth2_provider ${name} {
    issuer         ${op.issuer};
    client_id      ${clientId};
    redirect_uri   /cb/${name};
    scope          "openid email profile offline_access";
    logout_uri     /${name}/logout;
    post_logout_uri /;
    revoke_tokens  on;
    refresh_margin 1s;
    ${lines}
}`;
}

function location(name, backend) {
  return `
    location /${name}/ {
        oauth2 ${name};
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_set_header X-Token $oauth2_access_token;
        proxy_pass http://127.0.0.1:${backend.port};
    }`;
}

function b64json(s) {
  return JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
}

describe('private_key_jwt and client_secret_jwt with the real OP', moduleTestOptions(), () => {
  let env;
  let op;
  let ngx;
  let keys;
  const NAMES = ['rsa8', 'rsa1', 'ec8', 'ec1', 'sjwt', 'wrong'];

  before(async () => {
    env = await createEnv('70-client-auth');
    keys = makeKeys(path.join(env.dir, 'keys'));
    const clientsFile = path.join(env.dir, 'clients.json');
    fs.writeFileSync(clientsFile, JSON.stringify(clientsFor(keys, NAMES), null, 2));
    op = await env.op({ accessTtl: 5, idTtl: 5, extraArgs: ['--clients', clientsFile] });
    const backend = await env.backend();
    const f = keys.files;
    ngx = await env.nginx({
      port: PORT,
      env: { SECRET_JWT },
      http: [
        provider(op, 'rsa8', 'pk-rsa', `client_key file:${f.rsaPkcs8}; client_key_id rsa-1;`),
        provider(op, 'rsa1', 'pk-rsa', `client_auth_method private_key_jwt; client_key file:${f.rsaPkcs1};`),
        provider(op, 'ec8', 'pk-ec', `client_key file:${f.ecPkcs8};`),
        provider(op, 'ec1', 'pk-ec', `client_key file:${f.ecSec1};`),
        provider(op, 'sjwt', 'secret-jwt',
          'client_auth_method client_secret_jwt; client_secret env:SECRET_JWT;'),
        provider(op, 'wrong', 'pk-ec', `client_key file:${f.other};`),
        `oauth2_cookie_secret ${config.COOKIE_SECRET};`,
        `server {
    listen 127.0.0.1:${PORT};${NAMES.map((n) => location(n, backend)).join('')}
}`,
      ].join('\n'),
    });
  });

  after(() => env && env.stop());

  const opCalls = (re) => (op.proc.stdout().match(re) || []).length;
  const tokenOk = () => opCalls(/^op: POST \/token -> 200/gm);

  async function login(name, user) {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/${name}/page`, { login: user });
    assert.equal(flow.response.status, 200,
      `${name}: ${describeHops(flow.hops)}\n${ngx.errorLog().slice(-2000)}\n${op.proc.stdout().slice(-2000)}`);
    assert.match(flow.response.body, new RegExp(`hello ${user}@example\\.com`));
    return client;
  }

  test('RSA and EC keys, PKCS#8 and traditional PEM: each logs in', async () => {
    const before = tokenOk();
    for (const name of ['rsa8', 'rsa1', 'ec8', 'ec1']) {
      await login(name, `user-${name}`);
    }
    assert.equal(tokenOk() - before, 4, 'four code exchanges the OP accepted');
    assert.deepEqual(troubleLines(ngx.errorLog()), []);
  });

  for (const name of ['rsa8', 'sjwt']) {
    test(`${name}: log in, refresh and log out with revocation, each call authenticated`, async () => {
      const revoked = () => opCalls(/^op: POST \/token\/revocation -> 200/gm);
      const tokens = tokenOk();
      const revocations = revoked();
      const client = await login(name, `cycle-${name}`);
      assert.equal(tokenOk() - tokens, 1, 'the code exchange');

      await sleep(6500);

      const res = await client.fetchLike(`${ORIGIN}/${name}/page`);
      assert.equal(res.status, 200, `refreshed without a login\n${ngx.errorLog().slice(-2000)}`);
      assert.equal(tokenOk() - tokens, 2, 'one refresh grant the OP accepted');

      const out = await client.navigate(`${ORIGIN}/${name}/logout`, {
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(out.status, 303);
      for (let i = 0; i < 50 && revoked() - revocations < 2; i++) await sleep(100);
      assert.equal(revoked() - revocations, 2, 'refresh and access token revoked, the OP authenticated both calls');
      assert.doesNotMatch(op.proc.stdout(), /revocation\.error/);
      assert.deepEqual(troubleLines(ngx.errorLog()), []);
    });
  }

  test('a key the OP does not know is refused: the token call fails, a clear page', async () => {
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/wrong/page`, { login: 'mallory' });
    assert.equal(flow.response.status, 401, describeHops(flow.hops));
    assert.match(flow.response.body, /<html/i);
    assert.match(ngx.errorLog(), /invalid_client/);
    assert.match(op.proc.stdout(), /grant\.error: InvalidClientAuth/);
  });
});

describe('the assertion itself, as the fake provider receives it', moduleTestOptions(), () => {
  let env;
  let fake;
  let keys;
  let cert;
  let certFile;

  before(async () => {
    env = await createEnv('70-client-auth-fake');
    keys = makeKeys(path.join(env.dir, 'keys'));
    fake = await env.fake();
    const f = keys.files;
    certFile = path.join(env.dir, 'keys', 'rsa-cert.pem');
    cert = selfSigned(f.rsaPkcs8, certFile);
    const prov = (name, lines) => `
oauth2_provider ${name} {
    issuer         ${fake.issuer('ok')};
    client_id      ${config.FAKE_CLIENT.id};
    redirect_uri   /cb/${name};
    ${lines}
}`;
    await env.nginx({
      port: PORT,
      env: { SECRET_JWT },
      http: `${prov('rsa', `client_key file:${f.rsaPkcs8}; client_key_id "rsa \\"1\\"";`)}
${prov('ec', `client_key file:${f.ecSec1};`)}
${prov('hs', 'client_auth_method client_secret_jwt; client_secret env:SECRET_JWT;')}
${prov('aud', `client_key file:${f.ecPkcs8}; client_assertion_audience ${fake.issuer('ok')};`)}
${prov('cert', `client_key file:${f.rsaPkcs1}; client_key_certificate file:${certFile};`)}
oauth2_cookie_secret ${config.COOKIE_SECRET};
server {
    listen 127.0.0.1:${PORT};
    location / { oauth2 rsa; }
    location /ec/ { oauth2 ec; }
    location /hs/ { oauth2 hs; }
    location /aud/ { oauth2 aud; }
    location /cert/ { oauth2 cert; }
}`,
    });
  });

  after(() => env && env.stop());

  /** the body of the token request a login through `path` makes */
  async function tokenBody(p) {
    await fake.reset();
    const client = new HttpClient();
    await followLogin(client, `${ORIGIN}${p}`, { login: 'x' });
    const reqs = await fake.requests('ok/token');
    assert.equal(reqs.length, 1, 'one token call');
    assert.equal(reqs[0].headers.authorization, undefined, 'no Basic credentials');
    return new URLSearchParams(reqs[0].body);
  }

  function check(body, {
    alg, kid, x5t, aud, verify,
  }) {
    assert.equal(body.get('client_id'), config.FAKE_CLIENT.id);
    assert.equal(body.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    assert.equal(body.get('client_secret'), null, 'never the secret itself');
    const jwt = body.get('client_assertion');
    const [h, c, s] = jwt.split('.');
    const header = b64json(h);
    const claims = b64json(c);
    assert.deepEqual(header, { alg, ...(kid ? { kid } : {}), ...(x5t || {}) });
    assert.equal(claims.iss, config.FAKE_CLIENT.id);
    assert.equal(claims.sub, config.FAKE_CLIENT.id);
    assert.equal(claims.aud, aud);
    assert.match(claims.jti, /^[\w-]{22,}$/, 'a random jti of 128 bits or more');
    assert.equal(claims.exp - claims.iat, 60, 'a short lifetime');
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 10, 'issued now');
    assert.ok(verify(Buffer.from(`${h}.${c}`), Buffer.from(s, 'base64url')), 'the signature verifies');
    return claims;
  }

  test('RS256 with kid (escaped in JSON), aud the token endpoint', async () => {
    const body = await tokenBody('/page');
    check(body, {
      alg: 'RS256',
      kid: 'rsa "1"',
      aud: `${fake.issuer('ok')}/token`,
      verify: (data, sig) => crypto.verify('sha256', data, keys.rsa.publicKey, sig),
    });
  });

  test('ES256 from a traditional EC key: the JWS form r || s, 64 bytes', async () => {
    const body = await tokenBody('/ec/page');
    const sig = Buffer.from(body.get('client_assertion').split('.')[2], 'base64url');
    assert.equal(sig.length, 64);
    check(body, {
      alg: 'ES256',
      aud: `${fake.issuer('ok')}/token`,
      verify: (data, s) => crypto.verify('sha256', data,
        { key: keys.ec.publicKey, dsaEncoding: 'ieee-p1363' }, s),
    });
  });

  test('HS256 with the client secret; a fresh jti every call', async () => {
    const hmac = (data, sig) => crypto.timingSafeEqual(
      crypto.createHmac('sha256', SECRET_JWT).update(data).digest(), sig,
    );
    const a = check(await tokenBody('/hs/page'), { alg: 'HS256', aud: `${fake.issuer('ok')}/token`, verify: hmac });
    const b = check(await tokenBody('/hs/page'), { alg: 'HS256', aud: `${fake.issuer('ok')}/token`, verify: hmac });
    assert.notEqual(a.jti, b.jti);
  });

  test('client_key_certificate: its thumbprints as x5t and x5t#S256 (Entra ID)', async () => {
    check(await tokenBody('/cert/page'), {
      alg: 'RS256',
      x5t: {
        x5t: crypto.createHash('sha1').update(cert.raw).digest('base64url'),
        'x5t#S256': crypto.createHash('sha256').update(cert.raw).digest('base64url'),
      },
      aud: `${fake.issuer('ok')}/token`,
      verify: (data, sig) => crypto.verify('sha256', data, cert.publicKey, sig),
    });
  });

  test('client_assertion_audience replaces the token endpoint as aud', async () => {
    check(await tokenBody('/aud/page'), {
      alg: 'ES256',
      aud: fake.issuer('ok'),
      verify: (data, s) => crypto.verify('sha256', data,
        { key: keys.ec.publicKey, dsaEncoding: 'ieee-p1363' }, s),
    });
  });
});

describe('nginx -t refuses what cannot work', moduleTestOptions(), () => {
  let env;
  let keys;
  let dir;

  before(async () => {
    env = await createEnv('70-client-auth-conf');
    dir = path.join(env.dir, 'keys');
    keys = makeKeys(dir);
    const w = (name, text) => fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    const ed = crypto.generateKeyPairSync('ed25519');
    w('ed25519.pem', ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    w('p384.pem', p384.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const short = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
    w('rsa1024.pem', short.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    w('encrypted.pem', keys.rsa.privateKey.export({
      type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret',
    }));
    w('encrypted-trad.pem', keys.rsa.privateKey.export({
      type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret',
    }));
    w('public.pem', keys.rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    selfSigned(keys.files.rsaPkcs8, path.join(dir, 'rsa-cert.pem'));
  });

  after(() => env && env.stop());

  const conf = (lines) => `
oauth2_provider p {
    authorization_endpoint http://127.0.0.1:${config.FAKE_PORT}/ok/authorize;
    token_endpoint         http://127.0.0.1:${config.FAKE_PORT}/ok/token;
    userinfo_endpoint      http://127.0.0.1:${config.FAKE_PORT}/ok/userinfo;
    scope                  "email";
    client_id              c;
    ${lines}
}
oauth2_cookie_secret ${config.COOKIE_SECRET};
server { listen 127.0.0.1:${PORT}; location / { oauth2 p; } }`;

  const cases = [
    ['a missing key file', () => `client_key file:${dir}/none.pem;`, /"client_key": cannot open/],
    ['an encrypted PKCS#8 key', () => `client_key file:${dir}/encrypted.pem;`, /the key is encrypted/],
    ['an encrypted traditional key', () => `client_key file:${dir}/encrypted-trad.pem;`, /the key is encrypted/],
    ['a public key', () => `client_key file:${dir}/public.pem;`, /no PEM private key found/],
    ['an Ed25519 key', () => `client_key file:${dir}/ed25519.pem;`, /must be an RSA or EC P-256 private key/],
    ['an EC P-384 key', () => `client_key file:${dir}/p384.pem;`, /only EC keys of curve P-256/],
    ['a 1024-bit RSA key', () => `client_key file:${dir}/rsa1024.pem;`, /RSA key of 1024 bits is too short/],
    ['a key written literally', () => 'client_key MIIEvQ;', /takes "file:\/path" or "env:NAME"/],
    ['private_key_jwt without client_key', () => 'client_auth_method private_key_jwt;',
      /"client_auth_method private_key_jwt" needs "client_key"/],
    ['client_secret_jwt without a secret', () => 'client_auth_method client_secret_jwt;',
      /"client_auth_method client_secret_jwt" needs "client_secret"/],
    ['client_key with client_secret_basic', () => `client_auth_method client_secret_basic; client_secret s; client_key file:${keys.files.ecSec1};`,
      /"client_key" is only used with "client_auth_method private_key_jwt"/],
    ['client_key_id without client_key', () => 'client_secret s; client_key_id k;',
      /"client_key_id" names the key of "client_key", which is not set/],
    ['a certificate of another key', () => `client_key file:${keys.files.ecSec1}; client_key_certificate file:${dir}/rsa-cert.pem;`,
      /"client_key_certificate": the certificate is not that of "client_key"/],
    ['a certificate that is not one', () => `client_key file:${keys.files.ecSec1}; client_key_certificate file:${keys.files.ecSec1};`,
      /"client_key_certificate": no PEM certificate found/],
    ['client_key_certificate without client_key', () => `client_secret s; client_key_certificate file:${dir}/rsa-cert.pem;`,
      /"client_key_certificate" is the certificate of "client_key", which is not set/],
  ];

  for (const [what, lines, re] of cases) {
    test(`${what} is refused`, async () => {
      await assert.rejects(env.nginx({ port: PORT, http: conf(lines()) }), (e) => {
        assert.match(e.message, /nginx -t failed/);
        assert.match(e.message.split('--- config ---')[0], re);
        assert.doesNotMatch(e.message, /-----BEGIN|MII[\w+/]{16}/, 'the key never appears');
        return true;
      });
    });
  }

  test('a good key passes nginx -t', async () => {
    const ngx = await env.nginx({ port: PORT, http: conf(`client_key file:${keys.files.rsaPkcs1};`) });
    await ngx.stop();
  });
});
