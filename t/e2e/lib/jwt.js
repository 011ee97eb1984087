'use strict';

// JWT / PKCE helpers for the tests, on node:crypto only (independent of the
// code under test and of the providers).

const crypto = require('node:crypto');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const fromB64u = (s) => Buffer.from(s, 'base64url');

function randomToken(bytes = 32) {
  return crypto.randomBytes(bytes).toString('base64url');
}

/** { verifier, challenge, method: 'S256' } */
function pkcePair() {
  const verifier = randomToken(48);
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge, method: 'S256' };
}

function s256(verifier) {
  return crypto.createHash('sha256').update(verifier).digest('base64url');
}

/** Split and decode without verifying: { header, payload, signature, signingInput }. */
function decodeJwt(jwt) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) throw new Error(`JWT must have 3 segments, has ${parts.length}`);
  return {
    header: JSON.parse(fromB64u(parts[0]).toString('utf8')),
    payload: JSON.parse(fromB64u(parts[1]).toString('utf8')),
    signature: fromB64u(parts[2]),
    signingInput: `${parts[0]}.${parts[1]}`,
  };
}

const ALGS = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: true },
  PS384: { hash: 'sha384', kty: 'RSA', pss: true },
  PS512: { hash: 'sha512', kty: 'RSA', pss: true },
  ES256: { hash: 'sha256', kty: 'EC', crv: 'P-256' },
  ES384: { hash: 'sha384', kty: 'EC', crv: 'P-384' },
  ES512: { hash: 'sha512', kty: 'EC', crv: 'P-521' },
  EdDSA: { hash: null, kty: 'OKP' },
  Ed25519: { hash: null, kty: 'OKP', crv: 'Ed25519' },
};

/** Verify a JWS signature against a public JWK. Returns true/false. */
function verifyWithJwk(jwt, jwk) {
  const { header, signature, signingInput } = decodeJwt(jwt);
  const a = ALGS[header.alg];
  if (!a) throw new Error(`unsupported alg ${header.alg}`);
  if (jwk.kty !== a.kty) return false;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(signingInput);
  if (a.kty === 'OKP') return crypto.verify(null, data, key, signature);
  const opts = { key };
  if (a.pss) {
    opts.padding = crypto.constants.RSA_PKCS1_PSS_PADDING;
    opts.saltLength = crypto.constants.RSA_PSS_SALTLEN_DIGEST;
  }
  if (a.kty === 'EC') opts.dsaEncoding = 'ieee-p1363';
  return crypto.verify(a.hash, data, opts, signature);
}

/**
 * Verify a JWT against a JWKS (by kid when the header has one) and return
 * { header, payload, key }.  Throws on a bad signature or unknown key.
 */
function verifyJwt(jwt, jwks) {
  const { header, payload } = decodeJwt(jwt);
  if (!ALGS[header.alg]) throw new Error(`unsupported or forbidden alg ${header.alg}`);
  const candidates = (jwks.keys || []).filter((k) => (header.kid ? k.kid === header.kid : true));
  if (!candidates.length) throw new Error(`no key in the JWKS for kid ${header.kid}`);
  for (const key of candidates) {
    let ok = false;
    try { ok = verifyWithJwk(jwt, key); } catch { ok = false; }
    if (ok) return { header, payload, key };
  }
  throw new Error(`bad signature (alg ${header.alg}, kid ${header.kid})`);
}

module.exports = {
  b64u, fromB64u, randomToken, pkcePair, s256, decodeJwt, verifyJwt, verifyWithJwk, ALGS,
};
