'use strict';

// TLS helpers for the e2e tests:
//
//   const certs = ensureCerts(dir);            // t/tools/gen-certs.sh output, as paths
//   const fwd = await startTlsForwarder({       // serve `certs.wronghost` on an ephemeral port,
//     cert: certs.wronghost.cert,               // pass the decrypted bytes on to the fake
//     key: certs.wronghost.key,                 // provider's https port
//     target: { port: config.FAKE_TLS_PORT, ca: certs.ca },
//   });
//   ... `https://localhost:${fwd.port}/ok` is the fake's issuer, served with that cert
//   await fwd.stop();
//
// The forwarder lets one fake provider be reached with any certificate:
// the client's TLS ends at the forwarder (with the certificate under test)
// and a second, properly verified TLS connection carries the same bytes to
// the fake's https port, so the fake still sees https and the client's Host
// header (its issuer is https://<Host>/<scenario>).

const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { spawnSync } = require('node:child_process');

const config = require('./config');

/**
 * Run t/tools/gen-certs.sh for `dir` (it does nothing while the files there
 * are complete and valid) and return the file paths:
 * { dir, ca, caKey, otherCa, server: {cert, key}, chain, untrusted: {cert, key},
 *   wronghost: {cert, key}, expired: {cert, key} }.
 */
function ensureCerts(dir = config.CERTS_DIR) {
  const g = spawnSync('sh', [config.GEN_CERTS, dir], { encoding: 'utf8' });
  if (g.error) throw new Error(`cannot run ${config.GEN_CERTS}: ${g.error.message}`);
  if (g.status !== 0) throw new Error(`${config.GEN_CERTS} ${dir} failed (${g.status}):\n${g.stderr}${g.stdout}`);
  const f = (name) => path.join(dir, name);
  const pair = (base) => ({ cert: f(`${base}.pem`), key: f(`${base}.key`) });
  const out = {
    dir,
    ca: f('ca.pem'),
    caKey: f('ca.key'),
    otherCa: f('other-ca.pem'),
    server: pair('server'),
    chain: f('server-chain.pem'),
    untrusted: pair('untrusted-server'),
    wronghost: pair('wronghost-server'),
    expired: pair('expired-server'),
  };
  for (const p of [out.ca, out.otherCa, out.chain, ...['server', 'untrusted', 'wronghost', 'expired']
    .flatMap((k) => [out[k].cert, out[k].key])]) {
    if (!fs.existsSync(p)) throw new Error(`gen-certs.sh did not write ${p}`);
  }
  return out;
}

/**
 * A TLS server on 127.0.0.1 (ephemeral port unless `port`) presenting
 * `cert`/`key` (file paths or PEM) that relays every connection to
 * target { host = '127.0.0.1', port, ca (file path or PEM), servername = 'localhost' }
 * over a verified TLS connection.
 *
 * Returns { port, handshakes, relayed, stop() }: `handshakes` counts the client
 * handshakes that completed on the forwarder's side, `relayed` the upstream
 * connections made for them.  With TLS 1.3 the server's side of a handshake
 * completes before the client has checked the certificate, so neither count
 * says the client accepted it: whether a request got through is seen at the
 * target (the fake's /_stats).
 */
async function startTlsForwarder({ cert, key, port = 0, target }) {
  const pem = (x) => (Buffer.isBuffer(x) || /-----BEGIN/.test(String(x)) ? x : fs.readFileSync(x));
  const targetCa = pem(target.ca);
  const sockets = new Set();
  const stats = { handshakes: 0, relayed: 0 };
  const server = tls.createServer({ cert: pem(cert), key: pem(key) }, (client) => {
    stats.handshakes += 1;
    sockets.add(client);
    const upstream = tls.connect({
      host: target.host || '127.0.0.1',
      port: target.port,
      ca: targetCa,
      servername: target.servername || 'localhost',
    });
    sockets.add(upstream);
    upstream.once('secureConnect', () => { stats.relayed += 1; });
    const closeBoth = () => { client.destroy(); upstream.destroy(); };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', () => { sockets.delete(client); upstream.end(); });
    upstream.on('close', () => { sockets.delete(upstream); client.end(); });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  // failed handshakes (the client refusing our certificate) are expected here
  server.on('tlsClientError', () => {});
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    get handshakes() { return stats.handshakes; },
    get relayed() { return stats.relayed; },
    stop: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

module.exports = { ensureCerts, startTlsForwarder };
