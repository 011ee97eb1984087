'use strict';

// Paths, ports and environment knobs shared by the e2e helpers.

const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');

function intEnv(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    throw new Error(`${name} must be a port number, got ${JSON.stringify(v)}`);
  }
  return n;
}

const config = {
  REPO,
  // where every test gets its own directory (nginx prefix, logs, screenshots)
  SERVROOT: process.env.E2E_SERVROOT || path.join(REPO, 't', 'servroot-e2e'),
  CERTS_DIR: process.env.E2E_CERTS_DIR || path.join(REPO, 't', 'servroot-certs'),

  NGINX_BIN: process.env.NGINX_BIN || '/usr/sbin/nginx',
  MODULE_SO: process.env.OAUTH2_MODULE_SO
    || path.join(REPO, '.build', 'nginx', 'objs', 'ngx_http_oauth2_module.so'),
  // error_log level of the nginx under test (Debian's nginx has --with-debug)
  NGINX_LOG_LEVEL: process.env.E2E_NGINX_LOG_LEVEL || 'info',
  // 1 = skip (instead of fail) the tests that need the module when the .so is missing
  ALLOW_MISSING_MODULE: process.env.E2E_ALLOW_MISSING_MODULE === '1',

  OP_PORT: intEnv('OP_PORT', 1991),
  FAKE_PORT: intEnv('FAKE_OP_PORT', 1990),
  FAKE_TLS_PORT: intEnv('FAKE_OP_TLS_PORT', 1992),
  // nginx ports: base + per-test offset (10-login +0, 20-browser +1, 30-github +2)
  NGINX_PORT: intEnv('E2E_NGINX_PORT', 1986),
  BACKEND_PORT: intEnv('E2E_BACKEND_PORT', 1989),

  CHROMIUM: process.env.CHROMIUM_BIN || '/usr/bin/chromium',

  // echo the children's output to the test's stderr (1) - useful when debugging
  VERBOSE: process.env.E2E_VERBOSE === '1',

  OP_SCRIPT: path.join(REPO, 't', 'op', 'server.js'),
  FAKE_SCRIPT: path.join(REPO, 't', 'fake', 'provider.js'),
  GEN_CERTS: path.join(REPO, 't', 'tools', 'gen-certs.sh'),

  // the built-in clients of t/op/server.js and t/fake/provider.js
  OP_CLIENT: {
    id: 'nginx-test',
    secret: 'nginx-test-secret-0123456789abcdef',
  },
  OP_CLIENT_POST: {
    id: 'nginx-test-post',
    secret: 'nginx-test-post-secret-0123456789abcdef',
  },
  FAKE_CLIENT: {
    id: 'fake-client',
    secret: 'fake-secret-0123456789abcdefghijkl',
  },
  COOKIE_SECRET: '0123456789abcdef0123456789abcdef',
};

module.exports = config;
