'use strict';

// One object per test file that owns everything the file started and stops
// it all (in reverse order) in after(), even when tests failed.  It also
// takes the cross-process e2e lock, because the services use fixed ports.
//
//   const env = await createEnv('10-login');
//   const op = await env.op({ redirectUris: [...] });
//   const ngx = await env.nginx({ port, http: `...` });
//   ...
//   after(() => env.stop());

const fs = require('node:fs');
const path = require('node:path');

const config = require('./config');
const { acquireLock } = require('./proc');
const services = require('./services');
const { startNginx } = require('./nginx');

async function createEnv(name, { lock = true } = {}) {
  const dir = path.join(config.SERVROOT, name);
  fs.mkdirSync(dir, { recursive: true });
  const release = lock ? await acquireLock(path.join(config.SERVROOT, '.lock')) : () => {};
  const owned = [];
  const track = (h, what) => { owned.push({ h, what }); return h; };
  let stopped = false;

  const env = {
    name,
    dir,
    op: async (opts = {}) => track(await services.startOP({ logDir: dir, ...opts }), 'op'),
    fake: async (opts = {}) => track(await services.startFake({ logDir: dir, ...opts }), 'fake'),
    backend: async (opts = {}) => track(await services.startBackend(opts), 'backend'),
    nginx: async (opts = {}) => track(await startNginx({ name, ...opts }), 'nginx'),
    /**
     * The fake provider with `scenario`, a backend, and nginx on `port`
     * with one provider `provider` protecting / (with the `location`
     * lines) in front of the backend.  Resolves { fake, backend, nginx }.
     */
    async fakeLogin({ port, scenario = 'ok', provider = 'fake', location = '' }) {
      const fake = await env.fake();
      const backend = await env.backend();
      const nginx = await env.nginx({
        port,
        http: `
oauth2_provider ${provider} {
    issuer         ${fake.issuer(scenario)};
    client_id      ${config.FAKE_CLIENT.id};
    client_secret  ${config.FAKE_CLIENT.secret};
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    location / {
        oauth2 ${provider};
        ${location}
        proxy_pass http://127.0.0.1:${backend.port};
    }
}`,
      });
      return { fake, backend, nginx };
    },
    /**
     * A backend and nginx on `port` with one provider "op" for the real
     * OP `op` (its default client, `scope`, plus the provider `lines`)
     * protecting / (with the `location` lines) in front of the backend,
     * which gets X-Email; `server` adds lines to the server block.
     * Resolves { backend, nginx }.
     */
    async opLogin({
      port, op, scope = 'openid email profile', lines = '', location = '', server = '',
    }) {
      const backend = await env.backend();
      const nginx = await env.nginx({
        port,
        env: { OP_SECRET: config.OP_CLIENT.secret },
        http: `
oauth2_provider op {
    issuer         ${op.issuer};
    client_id      ${config.OP_CLIENT.id};
    client_secret  env:OP_SECRET;
    scope          "${scope}";
    ${lines}
}
oauth2_cookie_secret ${config.COOKIE_SECRET};

server {
    listen 127.0.0.1:${port};
    location / {
        oauth2 op;
        ${location}
        proxy_set_header X-Email $oauth2_claim_email;
        proxy_pass http://127.0.0.1:${backend.port};
    }
    ${server}
}`,
      });
      return { backend, nginx };
    },
    /** register anything with a stop()/close() */
    own: (h, what = 'resource') => track(h, what),
    /** Print the logs of what we started (call from a failing test for context). */
    dump() {
      const out = [];
      for (const { h, what } of owned) {
        if (h.proc && h.proc.output) out.push(h.proc.output());
        if (what === 'nginx' && h.errorLog) out.push(`--- nginx error.log ---\n${h.errorLog()}`);
      }
      return out.join('\n');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const errors = [];
      for (const { h, what } of owned.reverse()) {
        try {
          if (h.stop) await h.stop();
          else if (h.close) await h.close();
        } catch (e) {
          errors.push(`${what}: ${e.message}`);
        }
      }
      release();
      if (errors.length) throw new Error(`cleanup problems: ${errors.join('; ')}`);
    },
  };
  return env;
}

module.exports = { createEnv };
