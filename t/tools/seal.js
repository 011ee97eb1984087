#!/usr/bin/env node
'use strict';

/*
 * A second implementation of ngx_http_oauth2_module's sealed cookies, from
 * docs/session-format.md, for tests: mint session and state cookies nginx
 * accepts, and open the ones it sets.  Node.js 20, built-in modules only.
 *
 * As a module:
 *
 *   const seal = require('./seal.js');
 *   const header = seal.sessionCookie('secret...', 'oauth2_session', {
 *       sub: 'alice', email: 'a@x', claims: { groups: ['users'] } });
 *   // 'oauth2_session=AZ...', or when chunked
 *   // 'oauth2_session_1=...; oauth2_session_2=...; oauth2_session=chunks.2'
 *   const s = seal.openSessionCookie(['secret...'], 'oauth2_session', header);
 *
 * As a command: run with --help.
 */

const crypto = require('node:crypto');

const SEAL_VERSION = 1;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const OVERHEAD = 1 + NONCE_LEN + TAG_LEN;
const SEALED_MIN = 39;
const SEALED_MAX = 65536;

const PURPOSE = { session: 0, state: 1 };

const SESSION_VERSION = 2;
const STATE_VERSION = 1;
const VARINT_MAX_LEN = 9;

const HKDF_SALT = 'ngx_http_oauth2_module cookie keys v1';
const KEY_LEN = 32;

const COOKIE_MAX_LEN = 4000;
const COOKIE_CHUNKS = 16;
const CHUNK_MARKER = 'chunks.';
const CHUNK_SUFFIX_MAX = '_16'.length;
const COOKIE_EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';


function bytes(v) {
    if (v === undefined || v === null) {
        return Buffer.alloc(0);
    }
    if (Buffer.isBuffer(v)) {
        return v;
    }
    return Buffer.from(String(v), 'utf8');
}


function purposeCode(purpose) {
    if (purpose === undefined) {
        return PURPOSE.session;
    }
    if (typeof purpose === 'number' && (purpose === 0 || purpose === 1)) {
        return purpose;
    }
    if (Object.prototype.hasOwnProperty.call(PURPOSE, purpose)) {
        return PURPOSE[purpose];
    }
    throw new Error(`unknown purpose "${purpose}"`);
}


/* keys */

function deriveKeys(secret) {
    const ikm = bytes(secret);

    if (ikm.length === 0) {
        throw new Error('empty secret');
    }

    const derive = (info) => Buffer.from(crypto.hkdfSync('sha256', ikm,
        Buffer.from(HKDF_SALT), Buffer.from(info), KEY_LEN));

    return { session: derive('session'), state: derive('state') };
}


/* a secret, derived keys, or a list of either: a list of derived keys */
function keyList(secrets) {
    const list = Array.isArray(secrets) ? secrets : [secrets];

    if (list.length === 0) {
        throw new Error('no secret');
    }

    return list.map((s) => (s && Buffer.isBuffer(s.session) ? s
                                                            : deriveKeys(s)));
}


/* sealing */

function additionalData(purpose, name) {
    return Buffer.concat([Buffer.from([SEAL_VERSION, purposeCode(purpose)]),
                          bytes(name)]);
}


function seal(secrets, purpose, name, plain, opts = {}) {
    const keys = keyList(secrets)[0];
    const key = purposeCode(purpose) === PURPOSE.state ? keys.state
                                                       : keys.session;
    const nonce = opts.nonce ? bytes(opts.nonce)
                             : crypto.randomBytes(NONCE_LEN);

    if (nonce.length !== NONCE_LEN) {
        throw new Error(`the nonce must be ${NONCE_LEN} bytes`);
    }

    const c = crypto.createCipheriv('aes-256-gcm', key, nonce,
                                    { authTagLength: TAG_LEN });
    c.setAAD(additionalData(purpose, name));

    const ct = Buffer.concat([c.update(bytes(plain)), c.final()]);

    return Buffer.concat([Buffer.from([SEAL_VERSION]), nonce, ct,
                          c.getAuthTag()]).toString('base64url');
}


/* the plaintext and the index of the key that opened it, or null */
function openWithIndex(secrets, purpose, name, sealed) {
    const keys = keyList(secrets);

    if (typeof sealed !== 'string'
        || sealed.length < SEALED_MIN || sealed.length > SEALED_MAX
        || !/^[A-Za-z0-9_-]*$/.test(sealed) || sealed.length % 4 === 1)
    {
        return null;
    }

    const raw = Buffer.from(sealed, 'base64url');

    if (raw.length < OVERHEAD || raw[0] !== SEAL_VERSION) {
        return null;
    }

    const nonce = raw.subarray(1, 1 + NONCE_LEN);
    const ct = raw.subarray(1 + NONCE_LEN, raw.length - TAG_LEN);
    const tag = raw.subarray(raw.length - TAG_LEN);

    for (let i = 0; i < keys.length; i++) {
        const key = purposeCode(purpose) === PURPOSE.state ? keys[i].state
                                                           : keys[i].session;
        const d = crypto.createDecipheriv('aes-256-gcm', key, nonce,
                                          { authTagLength: TAG_LEN });
        d.setAAD(additionalData(purpose, name));
        d.setAuthTag(tag);

        try {
            const plain = Buffer.concat([d.update(ct), d.final()]);
            return { plain, index: i };
        } catch (e) {
            /* the tag did not verify: try the next key */
        }
    }

    return null;
}


function open(secrets, purpose, name, sealed) {
    const r = openWithIndex(secrets, purpose, name, sealed);
    return r ? r.plain : null;
}


/* plaintext encodings */

function varint(v) {
    if (!Number.isSafeInteger(v) || v < 0) {
        throw new Error(`not a non-negative integer: ${v}`);
    }

    const out = [];

    while (v >= 0x80) {
        out.push((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
    }

    out.push(v);

    return Buffer.from(out);
}


function str(v) {
    const b = bytes(v);
    return Buffer.concat([varint(b.length), b]);
}


class Reader {
    constructor(buf) {
        this.buf = buf;
        this.pos = 0;
    }

    byte() {
        if (this.pos >= this.buf.length) {
            throw new Error('truncated');
        }
        return this.buf[this.pos++];
    }

    varint() {
        let value = 0;

        for (let i = 0; i < VARINT_MAX_LEN; i++) {
            const c = this.byte();

            value += (c & 0x7f) * 2 ** (7 * i);

            if (c & 0x80) {
                continue;
            }

            if (c === 0 && i !== 0) {
                throw new Error('non-minimal varint');
            }

            if (!Number.isSafeInteger(value)) {
                throw new Error('varint too large for JavaScript');
            }

            return value;
        }

        throw new Error('varint too long');
    }

    bytes() {
        const len = this.varint();

        if (len > this.buf.length - this.pos) {
            throw new Error('string overruns the plaintext');
        }

        const b = this.buf.subarray(this.pos, this.pos + len);
        this.pos += len;

        return b;
    }

    string() {
        return this.bytes().toString('utf8');
    }

    end() {
        if (this.pos !== this.buf.length) {
            throw new Error('trailing bytes');
        }
    }
}


function now() {
    return Math.floor(Date.now() / 1000);
}


/* claim types (docs/session-format.md) */
const CLAIM = { string: 1, number: 2, boolean: 3, array: 4 };
const CLAIM_NAME = ['', 'string', 'number', 'boolean', 'array'];

/*
 * claims: an object, or a list of [name, value]: a string, a number, a
 * boolean, an array of strings, or { $number: 'text' } for a number written
 * as given.  Nothing is checked: tests mint malformed sessions on purpose.
 */
function claimList(claims) {
    if (!claims) {
        return [];
    }

    const list = Array.isArray(claims) ? claims : Object.entries(claims);

    return list.map(([n, v]) => {
        if (typeof v === 'string' || Buffer.isBuffer(v)) {
            return [n, CLAIM.string, bytes(v)];
        }
        if (typeof v === 'number') {
            return [n, CLAIM.number, bytes(JSON.stringify(v))];
        }
        if (typeof v === 'boolean') {
            return [n, CLAIM.boolean, bytes(String(v))];
        }
        if (Array.isArray(v)) {
            return [n, CLAIM.array, Buffer.concat(v.map(str))];
        }
        if (v && typeof v.$number === 'string') {
            return [n, CLAIM.number, bytes(v.$number)];
        }
        throw new Error(`claim "${n}": not a string, number, boolean or array of strings`);
    });
}


// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/* a string of the plaintext that must hold no byte below 0x20 nor DEL */
function cleanString(r, what) {
    const b = r.bytes();

    if (CONTROL.test(b.toString('latin1'))) {
        throw new Error(`${what} holds a control character`);
    }

    return b.toString('utf8');
}


function encodeSession(s) {
    const t = now();
    const claims = claimList(s.claims);
    const parts = [
        Buffer.from([SESSION_VERSION]),
        varint(s.expires ?? t + 3600),
        varint(s.created ?? t),
        varint(s.access_expires ?? 0),
        str(s.sub ?? ''),
        str(s.email ?? ''),
        varint(claims.length),
    ];

    for (const [n, type, v] of claims) {
        parts.push(str(n), Buffer.from([type]), str(v));
    }

    parts.push(str(s.access_token), str(s.refresh_token), str(s.id_token));

    // optional: the last activity, for idle timeouts
    if (s.seen) {
        parts.push(varint(s.seen));
    }

    return Buffer.concat(parts);
}


function decodeClaim(r) {
    const name = cleanString(r, 'a claim name');

    if (name === '') {
        throw new Error('a claim without a name');
    }

    const type = r.byte();
    const raw = r.bytes();
    const text = raw.toString('latin1');

    switch (CLAIM_NAME[type]) {
    case 'string':
        if (CONTROL.test(text)) {
            throw new Error(`claim "${name}" holds a control character`);
        }
        return [name, raw.toString('utf8')];

    case 'number':
        if (!JSON_NUMBER.test(text)) {
            throw new Error(`claim "${name}" is not a JSON number`);
        }
        // as written, unless JavaScript writes it the same way
        return [name, String(Number(text)) === text ? Number(text) : { $number: text }];

    case 'boolean':
        if (text !== 'true' && text !== 'false') {
            throw new Error(`claim "${name}" is not a boolean`);
        }
        return [name, text === 'true'];

    case 'array': {
        const e = new Reader(raw);
        const list = [];

        while (e.pos < raw.length) {
            list.push(cleanString(e, `an element of claim "${name}"`));
        }

        return [name, list];
    }

    default:
        throw new Error(`claim "${name}" has an unknown type ${type}`);
    }
}


function decodeSession(plain) {
    const r = new Reader(plain);

    if (r.byte() !== SESSION_VERSION) {
        throw new Error('unknown session format version');
    }

    const s = {
        expires: r.varint(),
        created: r.varint(),
        access_expires: r.varint(),
        sub: cleanString(r, 'sub'),
        email: cleanString(r, 'email'),
        claims: {},
    };

    const n = r.varint();

    if (n > (r.buf.length - r.pos) / 3) {
        throw new Error('more claims than bytes');
    }

    for (let i = 0; i < n; i++) {
        const [name, value] = decodeClaim(r);
        s.claims[name] = value;
    }

    s.access_token = cleanString(r, 'access_token');
    s.refresh_token = cleanString(r, 'refresh_token');
    s.id_token = cleanString(r, 'id_token');

    if (r.pos !== r.buf.length) {
        s.seen = r.varint();
        if (s.seen === 0) {
            throw new Error('a "seen" of 0 is written as no field');
        }
    }

    r.end();

    return s;
}


function encodeState(st) {
    return Buffer.concat([
        Buffer.from([STATE_VERSION]),
        varint(st.created ?? now()),
        str(st.state),
        str(st.nonce),
        str(st.verifier),
        str(st.return_url),
    ]);
}


function decodeState(plain) {
    const r = new Reader(plain);

    if (r.byte() !== STATE_VERSION) {
        throw new Error('unknown state format version');
    }

    const st = {
        created: r.varint(),
        state: r.string(),
        nonce: r.string(),
        verifier: r.string(),
        return_url: r.string(),
    };

    r.end();

    return st;
}


/* cookies */

function attributes(opts = {}) {
    const maxAge = opts.maxAge ?? 3600;
    let a = '; Path=/';

    if (maxAge >= 0) {
        a += `; Max-Age=${maxAge}`;
    }
    if (maxAge === 0) {
        a += `; Expires=${COOKIE_EPOCH}`;
    }

    a += '; HttpOnly; SameSite=Lax';

    if (opts.secure) {
        a += '; Secure';
    }
    if (opts.domain) {
        a += `; Domain=${opts.domain}`;
    }

    return a;
}


/*
 * The cookies nginx sets for a value: a list of [name, value], chunked as
 * ngx_http_oauth2_cookie_set() does for the same attributes (opts: maxAge,
 * default 3600; secure; domain).
 */
function chunk(name, value, opts = {}) {
    const attrs = Buffer.byteLength(attributes(opts));

    if (Buffer.byteLength(name) + 1 + value.length + attrs <= COOKIE_MAX_LEN) {
        return [[name, value]];
    }

    const fixed = attrs + Buffer.byteLength(name) + CHUNK_SUFFIX_MAX + 1;

    if (fixed >= COOKIE_MAX_LEN / 2) {
        throw new Error('cookie name and attributes are too long');
    }

    const room = COOKIE_MAX_LEN - fixed;
    const n = Math.ceil(value.length / room);

    if (n > COOKIE_CHUNKS) {
        throw new Error(`value too long: ${value.length} bytes`);
    }

    const out = [];

    for (let k = 1; k <= n; k++) {
        out.push([`${name}_${k}`, value.slice((k - 1) * room, k * room)]);
    }

    out.push([name, `${CHUNK_MARKER}${n}`]);

    return out;
}


/*
 * Set-Cookie header values nginx sends for a value (opts as for chunk(),
 * and present: the chunk numbers the request carried, to be deleted when
 * the new value does not use them).  maxAge 0 deletes.
 */
function setCookies(name, value, opts = {}) {
    const present = opts.present || [];
    const attrs = attributes(opts);
    const del = attributes({ ...opts, maxAge: 0 });
    const out = [];
    let from = 1;

    if ((opts.maxAge ?? 3600) === 0) {
        out.push(`${name}=${del}`);

    } else {
        const pairs = chunk(name, value, opts);

        for (const [n, v] of pairs) {
            out.push(`${n}=${v}${attrs}`);
        }

        /* n chunks and the marker: chunks past n go */
        from = pairs.length;
    }

    for (let k = from; k <= COOKIE_CHUNKS; k++) {
        if (present.includes(k)) {
            out.push(`${name}_${k}=${del}`);
        }
    }

    return out;
}


/* "a=b; c=d" from a list of [name, value] */
function cookieHeader(pairs) {
    return pairs.map(([n, v]) => `${n}=${v}`).join('; ');
}


/* [name, value] pairs of one or more Cookie header values */
function parseCookies(headers) {
    const list = Array.isArray(headers) ? headers : [headers];
    const out = [];

    for (const h of list) {
        for (const item of String(h).split(';')) {
            const pair = item.replace(/^[ \t]+|[ \t]+$/g, '');
            const eq = pair.indexOf('=');

            if (eq <= 0) {
                continue;
            }

            const n = pair.slice(0, eq).replace(/[ \t]+$/, '');
            let v = pair.slice(eq + 1).replace(/^[ \t]+/, '');

            if (n === '') {
                continue;
            }
            if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') {
                v = v.slice(1, -1);
            }

            out.push([n, v]);
        }
    }

    return out;
}


/* the value of a cookie, chunks reassembled, as nginx reads it; or null */
function getCookie(headers, name) {
    let value = null;
    const chunks = new Map();

    for (const [n, v] of parseCookies(headers)) {
        if (n === name) {
            if (value === null) {
                value = v;
            }
            continue;
        }

        const m = n.startsWith(`${name}_`) && /^[1-9][0-9]?$/.exec(
            n.slice(name.length + 1));

        if (m && Number(m[0]) <= COOKIE_CHUNKS && !chunks.has(Number(m[0]))) {
            chunks.set(Number(m[0]), v);
        }
    }

    if (value === null || !value.startsWith(CHUNK_MARKER)) {
        return value;
    }

    const count = value.slice(CHUNK_MARKER.length);

    if (!/^[1-9][0-9]?$/.test(count) || Number(count) > COOKIE_CHUNKS) {
        return null;
    }

    let out = '';

    for (let k = 1; k <= Number(count); k++) {
        if (!chunks.get(k)) {
            return null;
        }
        out += chunks.get(k);
    }

    return out;
}


/* high level */

function sessionValue(secrets, name, session, opts = {}) {
    return seal(secrets, 'session', name, encodeSession(session), opts);
}


function stateValue(secrets, name, state, opts = {}) {
    return seal(secrets, 'state', name, encodeState(state), opts);
}


/* a Cookie header value carrying the session (chunked when needed) */
function sessionCookie(secrets, name, session, opts = {}) {
    return cookieHeader(chunk(name, sessionValue(secrets, name, session, opts),
                              opts));
}


function stateCookie(secrets, name, state, opts = {}) {
    return cookieHeader(chunk(name, stateValue(secrets, name, state, opts),
                              opts));
}


/* input: a sealed value, or Cookie header value(s) holding the cookie */
function lookup(name, input) {
    if (Array.isArray(input) || /[=;]/.test(input)) {
        return getCookie(input, name);
    }
    return input;
}


function openSession(secrets, name, input) {
    const v = lookup(name, input);
    const plain = v === null ? null : open(secrets, 'session', name, v);

    if (plain === null) {
        return null;
    }

    try {
        return decodeSession(plain);
    } catch (e) {
        return null;
    }
}


function openState(secrets, name, input) {
    const v = lookup(name, input);
    const plain = v === null ? null : open(secrets, 'state', name, v);

    if (plain === null) {
        return null;
    }

    try {
        return decodeState(plain);
    } catch (e) {
        return null;
    }
}


module.exports = {
    deriveKeys,
    seal,
    open,
    openWithIndex,
    encodeSession,
    decodeSession,
    encodeState,
    decodeState,
    attributes,
    chunk,
    setCookies,
    cookieHeader,
    parseCookies,
    getCookie,
    sessionValue,
    stateValue,
    sessionCookie,
    stateCookie,
    openSession,
    openState,
    openSessionCookie: openSession,
    openStateCookie: openState,
    constants: {
        SEAL_VERSION, NONCE_LEN, TAG_LEN, SESSION_VERSION, STATE_VERSION,
        HKDF_SALT, COOKIE_MAX_LEN, COOKIE_CHUNKS, CHUNK_MARKER, PURPOSE,
    },
};


/* command line */

const USAGE = `usage: node t/tools/seal.js COMMAND [options]

commands:
  seal         seal a session (--json) and print the Cookie header value
  open         open a session cookie and print it as JSON
  seal-state   seal a login state (--json) and print the Cookie header value
  open-state   open a state cookie and print it as JSON
  set-cookie   print the Set-Cookie header values nginx would send for a
               session (--json) or for --value, one a line
  keys         print the derived keys in hex

options:
  --secret S        a cookie secret (repeat for several: the first seals,
                    every one opens)
  --secret-file F   a cookie secret read from a file, as nginx reads it
  --cookie NAME     the cookie name (the additional data); default
                    oauth2_session (seal/open) or oauth2_state (state)
  --json JSON       session: {"sub", "email", "expires", "created",
                    "access_expires", "claims": {name: value},
                    "access_token", "refresh_token", "id_token", "seen"};
                    a claim value is a string, number, boolean, array of
                    strings, or {"$number": "text"}; state: {"created", "state", "nonce",
                    "verifier", "return_url"}.  Times in seconds since the
                    epoch; missing times default to now (expires: now+3600)
  --plain-hex HEX   seal these plaintext bytes instead of --json
  --nonce HEX       a fixed 12-byte nonce (test vectors only)
  --format F        seal output: cookie (default: "NAME=..." or
                    "NAME=chunks.N; NAME_1=...; ..."), value (the sealed
                    value alone, never chunked), set-cookie (as set-cookie)
  --max-age N       Max-Age the chunk sizes are computed for (default 3600)
  --secure          count "; Secure" in the chunk sizes
  --domain D        count "; Domain=D" in the chunk sizes
  --present K,..    set-cookie: chunk numbers the request carries
  --value V         open: the sealed value, or a Cookie header value
                    (chunks are reassembled); default: read standard input
  --hex             open: print the plaintext in hex instead of decoding

open exits 1 (and prints nothing on standard output) when the cookie does
not open or does not decode.`;


function parseArgs(argv) {
    const o = { secrets: [] };
    const flags = new Set(['secure', 'hex', 'help']);

    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];

        if (!a.startsWith('--')) {
            if (o.command) {
                throw new Error(`unexpected argument "${a}"`);
            }
            o.command = a;
            continue;
        }

        const k = a.slice(2);

        if (flags.has(k)) {
            o[k] = true;
            continue;
        }

        if (i + 1 >= argv.length) {
            throw new Error(`${a} needs a value`);
        }

        const v = argv[++i];

        if (k === 'secret') {
            o.secrets.push(v);
        } else if (k === 'secret-file') {
            o.secrets.push(require('node:fs').readFileSync(v));
        } else if (['cookie', 'json', 'plain-hex', 'nonce', 'format',
                    'max-age', 'domain', 'present', 'value'].includes(k))
        {
            o[k] = v;
        } else {
            throw new Error(`unknown option ${a}`);
        }
    }

    return o;
}


function main(argv) {
    const o = parseArgs(argv);

    if (o.help || !o.command) {
        process.stdout.write(`${USAGE}\n`);
        return o.help ? 0 : 2;
    }

    if (o.secrets.length === 0) {
        throw new Error('--secret or --secret-file is required');
    }

    const state = o.command.endsWith('-state');
    const purpose = state ? 'state' : 'session';
    const name = o.cookie ?? (state ? 'oauth2_state' : 'oauth2_session');
    const opts = {
        maxAge: o['max-age'] !== undefined ? Number(o['max-age']) : undefined,
        secure: !!o.secure,
        domain: o.domain,
        nonce: o.nonce ? Buffer.from(o.nonce, 'hex') : undefined,
        present: o.present ? o.present.split(',').map(Number) : [],
    };

    const plaintext = () => {
        if (o['plain-hex'] !== undefined) {
            return Buffer.from(o['plain-hex'], 'hex');
        }
        const j = JSON.parse(o.json ?? '{}');
        return state ? encodeState(j) : encodeSession(j);
    };

    switch (o.command) {

    case 'keys': {
        const k = deriveKeys(o.secrets[0]);
        process.stdout.write(`session ${k.session.toString('hex')}\n`
                             + `state ${k.state.toString('hex')}\n`);
        return 0;
    }

    case 'seal':
    case 'seal-state': {
        const v = seal(o.secrets, purpose, name, plaintext(), opts);
        const f = o.format ?? 'cookie';

        if (f === 'value') {
            process.stdout.write(`${v}\n`);
        } else if (f === 'cookie') {
            process.stdout.write(`${cookieHeader(chunk(name, v, opts))}\n`);
        } else if (f === 'set-cookie') {
            process.stdout.write(`${setCookies(name, v, opts).join('\n')}\n`);
        } else {
            throw new Error(`unknown format "${f}"`);
        }
        return 0;
    }

    case 'set-cookie': {
        const v = o.value ?? seal(o.secrets, purpose, name, plaintext(), opts);
        process.stdout.write(`${setCookies(name, v, opts).join('\n')}\n`);
        return 0;
    }

    case 'open':
    case 'open-state': {
        const input = (o.value ?? require('node:fs').readFileSync(0, 'utf8'))
            .replace(/[\r\n]+$/, '');
        const v = lookup(name, input);
        const r = v === null ? null
                             : openWithIndex(o.secrets, purpose, name, v);

        if (r === null) {
            process.stderr.write('seal.js: the cookie does not open\n');
            return 1;
        }

        if (o.hex) {
            process.stdout.write(`${r.plain.toString('hex')}\n`);
            return 0;
        }

        let out;

        try {
            out = state ? decodeState(r.plain) : decodeSession(r.plain);
        } catch (e) {
            process.stderr.write(`seal.js: the plaintext does not decode: `
                                 + `${e.message}\n`);
            return 1;
        }

        process.stdout.write(`${JSON.stringify(out)}\n`);
        return 0;
    }

    default:
        throw new Error(`unknown command "${o.command}"`);
    }
}


if (require.main === module) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (e) {
        process.stderr.write(`seal.js: ${e.message}\n`);
        process.exitCode = 2;
    }
}
