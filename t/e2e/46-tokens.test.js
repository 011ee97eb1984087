'use strict';

// Tokens reach headers: $oauth2_access_token in proxy_set_header or
// add_header, the refresh token in refresh requests.  A token endpoint
// whose access token holds a (JSON-escaped) CR LF and a header line must
// not get that line into a request to the upstream: the login is refused
// with a 502 page and one error line.  The fake provider's token-crlf
// scenario answers such a token.
//
// Ports: nginx on E2E_NGINX_PORT+25 (2011 by default).

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');

const {
  config, createEnv, HttpClient, followLogin, describeHops, moduleTestOptions,
} = require('./lib');

const PORT = config.NGINX_PORT + 25;
const ORIGIN = `http://127.0.0.1:${PORT}`;

describe('an access token with CR LF from the token endpoint', moduleTestOptions(), () => {
  let env;
  let nginx;
  let backend;

  before(async () => {
    env = await createEnv('46-tokens');
    ({ nginx, backend } = await env.fakeLogin({
      port: PORT,
      scenario: 'token-crlf',
      provider: 'crlf',
      location: 'proxy_set_header Authorization "Bearer $oauth2_access_token";\n'
        + '        add_header X-Token $oauth2_access_token;',
    }));
  });
  after(() => env && env.stop());

  test('refuses the login: 502, no session, nothing injected upstream', async () => {
    backend.clear();
    const client = new HttpClient();
    const flow = await followLogin(client, `${ORIGIN}/page`);
    const info = `\n${describeHops(flow.hops)}\n${flow.response.body.slice(0, 500)}`;

    assert.equal(flow.response.status, 502, info);
    assert.equal(flow.response.headers['x-injected'], undefined, info);
    assert.equal(client.jar.cookies.filter((c) => c.name === 'oauth2_crlf').length, 0,
      'no session cookie');

    // had a session been made, this request would carry the token upstream
    const again = await client.navigate(`${ORIGIN}/again`);
    assert.notEqual(again.status, 200);
    for (const req of backend.requests || []) {
      assert.equal(req.headers['x-injected'], undefined, 'header injected upstream');
    }

    const lines = nginx.errorLog().split('\n')
      .filter((l) => /control or non-ASCII characters in "access_token"/.test(l));
    assert.equal(lines.length, 1, nginx.errorLog());
    assert.deepEqual(nginx.errors(['emerg', 'alert', 'crit']), []);
  });
});
