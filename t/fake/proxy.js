'use strict';

// A tiny outbound HTTP proxy for the tests of the provider block's `proxy`
// directive: plain HTTP requests in absolute form are forwarded, CONNECT
// opens a TCP tunnel; with `tls` it is an https proxy (TLS to the proxy,
// the same inside).  It counts what it saw, so a test can tell that the
// module's calls went through it and which ones did not.
//
//   const { startProxy } = require('../fake/proxy');
//   const proxy = await startProxy({ port });
//   proxy.stats()   -> { requests: [{ method, url }], connects: ['host:port'] }
//                      (and refused: 407s sent, with `auth`)
//   proxy.mode('close')   // faults: 'close' (accept, then close at once),
//                         // 'deny' (502 to every request and CONNECT),
//                         // 'ok' (forward again); a fault also closes the
//                         // connections already open
//   await proxy.stop()
//
// Recorded URLs lose their query string: a test never needs it and it is
// no place to keep codes.  Run alone: node t/fake/proxy.js --port N

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');

/**
 * tls: { cert, key } (file paths) makes it an https proxy; auth: 'user:password'
 * makes it answer 407 to anything without that Basic Proxy-Authorization.
 */
function startProxy({
  port = 0, host = '127.0.0.1', tls, auth,
} = {}) {
  const requests = [];
  const connects = [];
  let refused = 0;
  const expected = auth ? `Basic ${Buffer.from(auth).toString('base64')}` : null;
  const authorized = (req) => !expected || req.headers['proxy-authorization'] === expected;
  const sockets = new Set();
  let mode = 'ok';

  const handler = (req, res) => {
    let target;
    try {
      target = new URL(req.url);
    } catch {
      res.writeHead(400).end('absolute URL expected\n');
      return;
    }
    if (!authorized(req)) {
      refused += 1;
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"', 'content-length': 0 }).end();
      return;
    }
    requests.push({ method: req.method, url: `${target.origin}${target.pathname}` });
    if (mode === 'deny') {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('denied by the test proxy\n');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const up = http.request({
      host: target.hostname,
      port: target.port || 80,
      method: req.method,
      path: `${target.pathname}${target.search}`,
      headers,
    }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  };
  const server = tls
    ? https.createServer({ cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) }, handler)
    : http.createServer(handler);

  server.on('connect', (req, client, head) => {
    if (!authorized(req)) {
      refused += 1;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n'
        + 'proxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    connects.push(req.url);
    if (mode === 'deny') {
      client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url);
    if (!m) {
      client.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const up = net.connect({ host: m[1], port: Number(m[2]) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });

  // the TCP connection, before any TLS handshake of an https proxy
  server.on('connection', (s) => {
    if (mode === 'close') {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: server.address().port,
        url: `${tls ? 'https' : 'http'}://${host}:${server.address().port}`,
        stats: () => ({ requests: [...requests], connects: [...connects], ...(auth ? { refused } : {}) }),
        reset: () => { requests.length = 0; connects.length = 0; refused = 0; },
        // a fault also ends the open connections: libcurl would reuse them
        mode: (m) => {
          mode = m;
          if (m !== 'ok') for (const s of sockets) s.destroy();
        },
        stop: () => new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

module.exports = { startProxy };

if (require.main === module) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 0;
  startProxy({ port }).then((p) => {
    process.stdout.write(`PROXY ready ${p.port}\n`);
  });
}
