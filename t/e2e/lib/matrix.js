'use strict';

// Helpers for the negative matrix (t/e2e/40-negative.test.js): raw requests
// with paths the WHATWG URL parser would normalise, an error.log cursor,
// cookie bit flipping, and a small promise pool.

const fs = require('node:fs');
const http = require('node:http');

/**
 * GET with this exact request target (no URL parsing: "//x", "/\\x" and
 * "%2F" go out as written).  Resolves { status, headers, rawHeaders, body,
 * location (the raw header), setCookies (raw strings) }.
 */
function rawGet(port, target, headers = {}, { timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'GET', path: target, headers, agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        rawHeaders: res.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        location: res.headers.location,
        setCookies: res.headers['set-cookie'] || [],
      }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${target}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A cursor on a log file: since() returns what was appended after the
 * cursor was made (or last moved with mark()).
 */
function logCursor(file) {
  const size = () => { try { return fs.statSync(file).size; } catch { return 0; } };
  let pos = size();
  return {
    since() {
      let fd;
      try {
        fd = fs.openSync(file, 'r');
        const end = fs.fstatSync(fd).size;
        if (end <= pos) return '';
        const buf = Buffer.alloc(end - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        return buf.toString('utf8');
      } catch {
        return '';
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    },
    mark() { pos = size(); },
  };
}

/** error.log lines at these levels */
function linesAt(text, levels) {
  const re = new RegExp(`\\[(${levels.join('|')})\\]`);
  return text.split('\n').filter((l) => re.test(l));
}

/** Lines that say a worker is in trouble: [alert], [crit], [emerg], signals, core dumps. */
function troubleLines(text) {
  return text.split('\n').filter((l) => /\[(alert|crit|emerg)\]|exited on signal|core dumped|segmentation/i.test(l));
}

/** base64url value with bit `bit` (0 = most significant bit of byte 0) of its decoded bytes flipped. */
function flipDecodedBit(value, bit) {
  const buf = Buffer.from(value, 'base64url');
  buf[bit >> 3] ^= 0x80 >> (bit & 7);
  return buf.toString('base64url');
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The base64url character at `i` replaced by the one whose 6-bit value
 * differs in the highest bit: always a used bit, even in the last
 * character, so the decoded bytes always change.
 */
function flipChar(value, i) {
  const v = B64URL.indexOf(value[i]);
  if (v < 0) throw new Error(`not base64url at ${i}: ${value[i]}`);
  return value.slice(0, i) + B64URL[v ^ 32] + value.slice(i + 1);
}

/** Run fn(item, index) over items with at most `limit` in flight; resolves the results in order. */
async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

module.exports = {
  rawGet, logCursor, linesAt, troubleLines, flipDecodedBit, flipChar, pool, B64URL,
};
