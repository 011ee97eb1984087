#!/usr/bin/env node
'use strict';

// A real OpenID Provider (the certified `oidc-provider` package) for the
// end-to-end tests and the demo.  Everything is kept in memory; every start
// is a fresh provider.  Run `node t/op/server.js --help` for the options.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { parseArgs } = require('node:util');

const USAGE = `usage: node t/op/server.js [options]

  --port N                     listen port (env OP_PORT, default 1991)
  --host ADDR                  listen address (env OP_HOST, default 127.0.0.1)
  --issuer URL                 issuer (env OP_ISSUER, default http(s)://127.0.0.1:<port>)
  --tls-cert FILE              serve https with this certificate (PEM, chain allowed)
  --tls-key FILE               ... and this private key
  --clients FILE               JSON array of client metadata replacing the built-in clients
  --redirect-uri URL           redirect URI of the built-in clients (repeatable;
                               env OP_REDIRECT_URIS, space separated)
  --post-logout-redirect-uri URL
                               post-logout redirect URI (repeatable;
                               env OP_POST_LOGOUT_REDIRECT_URIS)
  --backchannel-logout-uri URL back-channel logout URI of the built-in clients
                               (env OP_BACKCHANNEL_LOGOUT_URI)
  --access-ttl S               access token lifetime (env OP_ACCESS_TTL, default 300)
  --id-ttl S                   ID token lifetime (env OP_ID_TTL, default 600)
  --refresh-ttl S              refresh token lifetime (env OP_REFRESH_TTL, default 86400)
  --session-ttl S              OP session lifetime (env OP_SESSION_TTL, default 86400)
  --no-rotate                  do not rotate refresh tokens (default: rotate on every use)
  --consent MODE               'auto' (default; no consent page) or 'prompt' (dev consent
                               page is shown) (env OP_CONSENT)
  --permissive                 the ID token carries the scope's claims too; by default
                               they are only in userinfo when an access token is issued
                               (oidc-provider's default conformIdTokenClaims, OpenID
                               Connect Core 5.4, as Okta does) (env OP_PERMISSIVE=1)
  --require-par                discovery says require_pushed_authorization_requests: every
                               client must push its authorization requests (RFC 9126)
                               (env OP_REQUIRE_PAR=1)
  --keys FILE                  private JWKS to use; created with fresh keys if missing
  --bearer                     also an authorization server for APIs: the client
                               "api-client" may use the client credentials grant;
                               resource https://api.example.com (and
                               https://other.example.com) gets RFC 9068 JWT access
                               tokens, other requests opaque ones (env OP_BEARER=1)
  --exit-on-stdin-close        exit when stdin reaches EOF (used by the test helpers so
                               that a dead test runner never leaves the OP behind)
  --verbose                    log one line per request and the provider's events
  --help
`;

function fail(msg) {
  process.stderr.write(`op: ${msg}\n`);
  process.exit(2);
}

function parseCli(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        issuer: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        clients: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'backchannel-logout-uri': { type: 'string' },
        'access-ttl': { type: 'string' },
        'id-ttl': { type: 'string' },
        'refresh-ttl': { type: 'string' },
        'session-ttl': { type: 'string' },
        'no-rotate': { type: 'boolean' },
        consent: { type: 'string' },
        permissive: { type: 'boolean' },
        'require-par': { type: 'boolean' },
        keys: { type: 'string' },
        bearer: { type: 'boolean' },
        'exit-on-stdin-close': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail(`${e.message}\n\n${USAGE}`);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const list = (v) => (v ? v.split(/[\s,]+/).filter(Boolean) : undefined);
  const int = (name, v, dflt) => {
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got ${v}`);
    return n;
  };

  const o = {};
  o.port = int('port', parsed.port ?? env.OP_PORT, 1991);
  o.host = parsed.host ?? env.OP_HOST ?? '127.0.0.1';
  o.tlsCert = parsed['tls-cert'];
  o.tlsKey = parsed['tls-key'];
  if (!!o.tlsCert !== !!o.tlsKey) fail('--tls-cert and --tls-key go together');
  const scheme = o.tlsCert ? 'https' : 'http';
  o.issuer = parsed.issuer ?? env.OP_ISSUER ?? `${scheme}://127.0.0.1:${o.port}`;
  o.clientsFile = parsed.clients;
  o.redirectUris = parsed['redirect-uri'] ?? list(env.OP_REDIRECT_URIS) ?? [
    'http://127.0.0.1:1984/oauth2/callback',
    'http://localhost:8080/oauth2/callback',
  ];
  o.postLogoutRedirectUris = parsed['post-logout-redirect-uri']
    ?? list(env.OP_POST_LOGOUT_REDIRECT_URIS) ?? [
    'http://127.0.0.1:1984/',
    'http://127.0.0.1:1984/oauth2/logged-out',
    'http://localhost:8080/',
    'http://localhost:8080/oauth2/logged-out',
  ];
  o.backchannelLogoutUri = parsed['backchannel-logout-uri'] ?? env.OP_BACKCHANNEL_LOGOUT_URI;
  o.accessTtl = int('access-ttl', parsed['access-ttl'] ?? env.OP_ACCESS_TTL, 300);
  o.idTtl = int('id-ttl', parsed['id-ttl'] ?? env.OP_ID_TTL, 600);
  o.refreshTtl = int('refresh-ttl', parsed['refresh-ttl'] ?? env.OP_REFRESH_TTL, 86400);
  o.sessionTtl = int('session-ttl', parsed['session-ttl'] ?? env.OP_SESSION_TTL, 86400);
  o.rotate = !parsed['no-rotate'];
  o.consent = parsed.consent ?? env.OP_CONSENT ?? 'auto';
  if (!['auto', 'prompt'].includes(o.consent)) fail(`--consent must be auto or prompt, got ${o.consent}`);
  o.conform = !(parsed.permissive || env.OP_PERMISSIVE === '1');
  o.requirePar = !!(parsed['require-par'] || env.OP_REQUIRE_PAR === '1');
  o.keysFile = parsed.keys;
  o.bearer = !!(parsed.bearer || env.OP_BEARER === '1');
  o.exitOnStdinClose = !!parsed['exit-on-stdin-close'];
  o.verbose = !!parsed.verbose;
  return o;
}

// ---------------------------------------------------------------- keys

function newSigningKey(kind) {
  let pair;
  let alg;
  if (kind === 'RSA') {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    alg = 'RS256';
  } else if (kind === 'EC') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    alg = 'ES256';
  } else {
    throw new Error(`unknown key kind ${kind}`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return { ...jwk, use: 'sig', alg, kid: `op-${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}` };
}

function loadOrCreateKeys(file) {
  if (file && fs.existsSync(file)) {
    const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) fail(`${file}: no keys`);
    return jwks;
  }
  const jwks = { keys: [newSigningKey('RSA'), newSigningKey('EC')] };
  if (file) fs.writeFileSync(file, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  return jwks;
}

// ---------------------------------------------------------------- accounts

function claimsFor(id) {
  const groups = ['users'];
  if (id === 'admin') groups.push('admin');
  return {
    sub: id,
    email: `${id}@example.com`,
    email_verified: true,
    name: `User ${id}`,
    preferred_username: id,
    groups,
  };
}

async function findAccount(ctx, id) {
  return {
    accountId: id,
    async claims() {
      return claimsFor(id);
    },
  };
}

// ---------------------------------------------------------------- clients

// --bearer: the resource servers the OP issues JWT access tokens for, and
// the client that gets them with the client credentials grant
const BEARER_RESOURCES = ['https://api.example.com', 'https://other.example.com'];
const BEARER_SCOPES = 'orders:read orders:write';
const BEARER_CLIENT = {
  client_id: 'api-client',
  client_secret: 'api-client-secret-0123456789abcdef',
  client_name: 'an API caller (client credentials)',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: BEARER_SCOPES,
};

function defaultClients(o) {
  const common = {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: o.redirectUris,
    post_logout_redirect_uris: o.postLogoutRedirectUris,
  };
  if (o.backchannelLogoutUri) {
    common.backchannel_logout_uri = o.backchannelLogoutUri;
    common.backchannel_logout_session_required = true;
  }
  return [
    {
      ...common,
      client_id: 'nginx-test',
      client_secret: 'nginx-test-secret-0123456789abcdef',
      client_name: 'nginx oauth2 module (test)',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...common,
      client_id: 'nginx-test-post',
      client_secret: 'nginx-test-post-secret-0123456789abcdef',
      client_name: 'nginx oauth2 module (test, client_secret_post)',
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      ...common,
      client_id: 'nginx-test-es256',
      client_secret: 'nginx-test-es256-secret-0123456789abcdef',
      client_name: 'nginx oauth2 module (test, ES256 ID tokens)',
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ];
}

// ---------------------------------------------------------------- provider

let errors; // oidc-provider's error classes, once it is loaded

function buildConfiguration(o) {
  const clients = o.clientsFile
    ? JSON.parse(fs.readFileSync(o.clientsFile, 'utf8'))
    : defaultClients(o);
  if (!Array.isArray(clients)) fail(`${o.clientsFile}: expected a JSON array of clients`);
  if (o.bearer && !clients.some((c) => c.client_id === BEARER_CLIENT.client_id)) {
    clients.push(BEARER_CLIENT);
  }

  // With consent 'auto' every request of a known client is treated as already
  // consented: the grant is created (or widened) on the fly, so a login needs
  // only the dev login form.
  async function loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const { Grant } = oidc.provider;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await Grant.find(grantId) : undefined;
    if (grant && grant.accountId !== oidc.session.accountId) grant = undefined;
    if (o.consent !== 'auto') return grant;
    if (!grant) {
      grant = new Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
    }
    const scopes = [...oidc.requestParamOIDCScopes];
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const claims = [...oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  }

  return {
    clients,
    jwks: loadOrCreateKeys(o.keysFile),
    findAccount,
    loadExistingGrant,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', ...(o.bearer ? BEARER_SCOPES.split(' ') : [])],
    responseTypes: ['code'],
    conformIdTokenClaims: o.conform,
    clientBasedCORS: () => false,
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
      // Plain http on loopback: no Secure attribute (oidc-provider only adds
      // it itself when the request arrived over https).
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    pkce: { required: () => true },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => o.rotate,
    ttl: {
      AccessToken: o.accessTtl,
      AuthorizationCode: 60,
      IdToken: o.idTtl,
      RefreshToken: o.refreshTtl,
      Interaction: 3600,
      Session: o.sessionTtl,
      Grant: o.sessionTtl,
      ClientCredentials: o.bearer ? o.accessTtl : 600,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: o.requirePar },
      ...(o.bearer ? {
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async (ctx, client, oneOf) => oneOf,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (ctx, resource) => {
            if (!BEARER_RESOURCES.includes(resource)) throw new errors.InvalidTarget();
            return {
              scope: BEARER_SCOPES,
              audience: resource,
              accessTokenTTL: o.accessTtl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      } : {}),
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!DOCTYPE html><html><head><title>OP error</title></head><body><h1>OP error</h1>${
        Object.entries(out).map(([k, v]) => `<p><b>${esc(k)}</b>: <span id="${esc(k)}">${esc(v)}</span></p>`).join('')
      }</body></html>`;
    },
  };
}

async function main() {
  const o = parseCli(process.argv.slice(2));
  const { default: Provider, errors: opErrors } = await import('oidc-provider');
  errors = opErrors;

  const provider = new Provider(o.issuer, buildConfiguration(o));
  // Loopback only; never behind a proxy here.
  provider.proxy = false;

  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`op: server_error ${ctx.method} ${ctx.path}: ${err.stack || err}\n`);
  });
  if (o.verbose) {
    provider.use(async (ctx, next) => {
      const t0 = Date.now();
      await next();
      process.stdout.write(`op: ${ctx.method} ${ctx.originalUrl} -> ${ctx.status} (${Date.now() - t0} ms)\n`);
    });
    for (const ev of ['authorization.error', 'grant.error', 'userinfo.error', 'end_session.error',
      'backchannel.error', 'revocation.error', 'introspection.error',
      'pushed_authorization_request.error']) {
      provider.on(ev, (ctx, err) => process.stdout.write(`op: ${ev}: ${err.name}: ${err.message} ${err.error_description || ''}\n`));
    }
    provider.on('backchannel.success', (ctx, client, accountId, sid) => {
      process.stdout.write(`op: backchannel.success ${client.clientId} ${accountId} ${sid}\n`);
    });
  }

  const handler = provider.callback();
  const server = o.tlsCert
    ? https.createServer({ cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey) }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 5000;

  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    if (o.verbose) process.stdout.write(`op: shutting down (${why})\n`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (o.exitOnStdinClose) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }

  server.on('error', (e) => fail(`cannot listen on ${o.host}:${o.port}: ${e.message}`));
  server.listen(o.port, o.host, () => {
    process.stdout.write(`OP ready ${o.issuer}\n`);
  });
}

main().catch((e) => fail(e.stack || String(e)));
