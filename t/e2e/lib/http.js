'use strict';

// A small HTTP/1.1 client for the e2e tests:
//  - never follows redirects by itself (each hop can be asserted),
//  - keeps cookies in a jar that behaves like a browser's for the cases we
//    meet (host-only vs Domain, Path, Max-Age/Expires, Secure with the
//    loopback exception Chromium and Firefox make, __Secure-/__Host-
//    prefixes, the 4096-byte name+value limit; cookies are per host, not per
//    port, as in browsers),
//  - parses HTML forms, and `followLogin` walks a whole login dance through
//    the OP's dev interaction pages (login form, consent form) with plain
//    HTTP requests.

const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const { URL } = require('node:url');

// ------------------------------------------------------------ cookies

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(host) {
  return LOOPBACK.has(host) || host.endsWith('.localhost');
}

/** Parse one Set-Cookie header value into { name, value, attrs, raw }. */
function parseSetCookie(raw) {
  const parts = raw.split(';');
  const first = parts.shift();
  const eq = first.indexOf('=');
  const name = (eq === -1 ? '' : first.slice(0, eq)).trim();
  const value = (eq === -1 ? first : first.slice(eq + 1)).trim();
  const attrs = {};
  for (const p of parts) {
    const i = p.indexOf('=');
    const k = (i === -1 ? p : p.slice(0, i)).trim().toLowerCase();
    const v = i === -1 ? true : p.slice(i + 1).trim();
    if (k) attrs[k] = v;
  }
  return { name, value, attrs, raw };
}

function defaultPath(u) {
  const p = u.pathname;
  if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
  return p.slice(0, p.lastIndexOf('/'));
}

function pathMatches(reqPath, cookiePath) {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

function domainMatches(host, domain) {
  return host === domain || (host.endsWith(`.${domain}`) && !/^[\d.]+$/.test(host));
}

class CookieJar {
  /**
   * opts.strictSecure: do not make the loopback exception for Secure cookies
   * over plain http (i.e. behave like an old browser).
   */
  constructor(opts = {}) {
    this.cookies = []; // { name, value, domain, hostOnly, path, expires (ms|null), secure, httpOnly, sameSite }
    this.strictSecure = !!opts.strictSecure;
    this.rejected = []; // { raw, url, reason } for cookies a browser would have refused
  }

  _secureOk(u) {
    return u.protocol === 'https:' || (!this.strictSecure && isLoopback(u.hostname));
  }

  /** Store the Set-Cookie headers of a response to `url`. Returns parsed cookies. */
  setFromResponse(url, setCookieHeaders) {
    const u = new URL(url);
    const out = [];
    for (const raw of setCookieHeaders || []) {
      const c = parseSetCookie(raw);
      out.push(c);
      const reason = this._store(u, c);
      if (reason) {
        c.rejected = reason;
        this.rejected.push({ raw, url, reason });
      }
    }
    return out;
  }

  _store(u, c) {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (!c.name && !c.value) return 'empty cookie';
    if (Buffer.byteLength(c.name) + Buffer.byteLength(c.value) > 4096) return 'name+value larger than 4096 bytes';
    const secure = !!c.attrs.secure;
    if (secure && !this._secureOk(u)) return 'Secure cookie from an insecure origin';
    let domain = host;
    let hostOnly = true;
    if (typeof c.attrs.domain === 'string' && c.attrs.domain) {
      const d = c.attrs.domain.replace(/^\./, '').toLowerCase();
      if (!domainMatches(host, d)) return `Domain=${d} does not match ${host}`;
      domain = d;
      hostOnly = false;
    }
    let cpath = typeof c.attrs.path === 'string' && c.attrs.path.startsWith('/') ? c.attrs.path : defaultPath(u);
    if (c.name.startsWith('__Secure-') && !secure) return '__Secure- prefix without Secure';
    if (c.name.startsWith('__Host-')) {
      if (!secure) return '__Host- prefix without Secure';
      if (!hostOnly) return '__Host- prefix with Domain';
      if (c.attrs.path !== '/') return '__Host- prefix without Path=/';
      cpath = '/';
    }
    let expires = null;
    if (c.attrs['max-age'] !== undefined && /^-?\d+$/.test(String(c.attrs['max-age']))) {
      const ma = Number(c.attrs['max-age']);
      expires = ma <= 0 ? 0 : Date.now() + ma * 1000;
    } else if (typeof c.attrs.expires === 'string') {
      const t = Date.parse(c.attrs.expires);
      if (!Number.isNaN(t)) expires = t;
    }
    this.cookies = this.cookies.filter((x) => !(x.name === c.name && x.domain === domain && x.path === cpath));
    if (expires !== null && expires <= Date.now()) return null; // deletion
    this.cookies.push({
      name: c.name,
      value: c.value,
      domain,
      hostOnly,
      path: cpath,
      expires,
      secure,
      httpOnly: !!c.attrs.httponly,
      sameSite: typeof c.attrs.samesite === 'string' ? c.attrs.samesite.toLowerCase() : undefined,
      created: Date.now(),
    });
    return null;
  }

  /** Cookies that would be sent to `url`, longest path first (RFC 6265 order). */
  cookiesFor(url) {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now);
    return this.cookies
      .filter((c) => (c.hostOnly ? c.domain === host : domainMatches(host, c.domain)))
      .filter((c) => pathMatches(u.pathname || '/', c.path))
      .filter((c) => !c.secure || this._secureOk(u))
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created);
  }

  header(url) {
    const list = this.cookiesFor(url);
    return list.length ? list.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  get(name, host) {
    return this.cookies.find((c) => c.name === name && (!host || c.domain === host));
  }

  set(name, value, { domain = '127.0.0.1', path = '/', secure = false } = {}) {
    this.cookies = this.cookies.filter((x) => !(x.name === name && x.domain === domain && x.path === path));
    this.cookies.push({
      name, value, domain, hostOnly: true, path, expires: null, secure, httpOnly: false, created: Date.now(),
    });
  }

  delete(name) {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }

  clear() {
    this.cookies = [];
  }
}

// ------------------------------------------------------------ client

const NAVIGATE_HEADERS = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-site': 'none',
  'sec-fetch-user': '?1',
  'upgrade-insecure-requests': '1',
};

const FETCH_HEADERS = {
  accept: 'application/json',
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
  'sec-fetch-site': 'same-origin',
};

class Response {
  constructor(fields) { Object.assign(this, fields); }

  get text() { return this.body; }

  json() { return JSON.parse(this.body); }

  header(name) { return this.headers[name.toLowerCase()]; }

  get isRedirect() { return this.status >= 300 && this.status < 400 && !!this.headers.location; }

  /** The Set-Cookie of this response with that name, parsed, or undefined. */
  cookie(name) { return this.setCookies.find((c) => c.name === name); }
}

class HttpClient {
  /**
   * opts: { jar, ca (PEM for https), headers (defaults for every request),
   *         userAgent, timeoutMs (default 15000), rejectUnauthorized (default true) }
   */
  constructor(opts = {}) {
    this.jar = opts.jar || new CookieJar();
    this.ca = opts.ca;
    this.rejectUnauthorized = opts.rejectUnauthorized !== false;
    this.timeoutMs = opts.timeoutMs || 15000;
    this.defaultHeaders = {
      'user-agent': opts.userAgent || 'ngx-oauth2-e2e/1.0',
      ...(opts.headers || {}),
    };
    this.history = [];
  }

  /**
   * request(method, url, { headers, body (string|Buffer), form (object|URLSearchParams),
   *                        json (object), cookies (default true), timeoutMs })
   * Resolves a Response { status, statusText, headers, rawHeaders, body, buffer, url,
   *                       location (absolute URL or undefined), setCookies: [parsed] }.
   */
  request(method, url, opts = {}) {
    const u = new URL(url);
    const headers = { ...this.defaultHeaders };
    for (const [k, v] of Object.entries(opts.headers || {})) {
      if (v === undefined || v === null) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = v;
    }
    let body = opts.body;
    if (opts.form) {
      body = (opts.form instanceof URLSearchParams ? opts.form : new URLSearchParams(opts.form)).toString();
      headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded';
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = headers['content-type'] || 'application/json';
    }
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    if (opts.cookies !== false && !('cookie' in headers)) {
      const c = this.jar.header(url);
      if (c) headers.cookie = c;
    }
    const mod = u.protocol === 'https:' ? https : http;
    const timeoutMs = opts.timeoutMs || this.timeoutMs;
    return new Promise((resolve, reject) => {
      const req = mod.request(u, {
        method,
        headers,
        agent: false,
        ca: this.ca,
        rejectUnauthorized: this.rejectUnauthorized,
        // SNI only for names, never for IP literals (RFC 6066)
        servername: net.isIP(u.hostname.replace(/^\[|\]$/g, '')) ? '' : u.hostname,
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buffer = Buffer.concat(chunks);
          const setCookieRaw = res.headers['set-cookie'] || [];
          const setCookies = opts.cookies === false
            ? setCookieRaw.map(parseSetCookie)
            : this.jar.setFromResponse(url, setCookieRaw);
          const location = res.headers.location ? new URL(res.headers.location, url).toString() : undefined;
          const r = new Response({
            method,
            url,
            requestHeaders: headers,
            status: res.statusCode,
            statusText: res.statusMessage,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            buffer,
            body: buffer.toString('utf8'),
            location,
            setCookies,
          });
          this.history.push({
            method, url, status: r.status, location, setCookies: setCookies.map((c) => c.name),
          });
          resolve(r);
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
      req.on('error', (e) => {
        e.message = `${method} ${url}: ${e.message}`;
        reject(e);
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  get(url, opts = {}) { return this.request('GET', url, opts); }

  post(url, opts = {}) { return this.request('POST', url, opts); }

  /** GET like a browser's top-level navigation (Accept: text/html, Sec-Fetch-Mode: navigate). */
  navigate(url, opts = {}) {
    return this.get(url, { ...opts, headers: { ...NAVIGATE_HEADERS, ...(opts.headers || {}) } });
  }

  /** GET like a script's fetch() (Accept: application/json, Sec-Fetch-Mode: cors). */
  fetchLike(url, opts = {}) {
    return this.get(url, { ...opts, headers: { ...FETCH_HEADERS, ...(opts.headers || {}) } });
  }
}

// ------------------------------------------------------------ HTML forms

const ENTITIES = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0',
};

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function parseAttrs(tag) {
  const attrs = {};
  const re = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-z0-9]+/i, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner))) {
    const v = m[2] ?? m[3] ?? m[4];
    attrs[m[1].toLowerCase()] = v === undefined ? '' : decodeEntities(v);
  }
  return attrs;
}

/**
 * Parse the forms of an HTML page: [{ id, action (absolute), method, fields: {name: value},
 * inputs: [{name, type, value}], buttons: [{name, value, form}] }].  Buttons and inputs outside a
 * form but pointing to it with form="id" are attached to it.
 */
function parseForms(html, baseUrl) {
  const forms = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const openTag = m[0].slice(0, m[0].indexOf('>') + 1);
    const a = parseAttrs(openTag);
    const form = {
      id: a.id,
      action: new URL(a.action || baseUrl, baseUrl).toString(),
      method: (a.method || 'get').toUpperCase(),
      inputs: [],
      buttons: [],
      fields: {},
    };
    collectControls(m[1], form);
    forms.push(form);
  }
  // controls outside any <form> bound with form="id"
  const outside = html.replace(formRe, '');
  const tmp = { inputs: [], buttons: [] };
  collectControls(outside, tmp);
  for (const c of [...tmp.inputs, ...tmp.buttons]) {
    const f = c.form && forms.find((x) => x.id === c.form);
    if (f) (c.kind === 'button' ? f.buttons : f.inputs).push(c);
  }
  for (const f of forms) {
    for (const i of f.inputs) {
      if (i.name && !['submit', 'button', 'image', 'reset'].includes(i.type)
        && (!['checkbox', 'radio'].includes(i.type) || i.checked)) {
        f.fields[i.name] = i.value;
      }
    }
  }
  return forms;
}

function collectControls(fragment, into) {
  const re = /<(input|button)\b[^>]*>/gi;
  let m;
  while ((m = re.exec(fragment))) {
    const a = parseAttrs(m[0]);
    const kind = m[1].toLowerCase();
    const ctl = {
      kind,
      name: a.name,
      type: (a.type || (kind === 'button' ? 'submit' : 'text')).toLowerCase(),
      value: a.value ?? '',
      form: a.form,
      checked: 'checked' in a,
      required: 'required' in a,
    };
    (kind === 'button' ? into.buttons : into.inputs).push(ctl);
  }
}

/** Submit `form` (from parseForms) with `overrides` merged into its fields. */
function submitForm(client, form, overrides = {}, opts = {}) {
  const fields = { ...form.fields, ...overrides };
  const headers = {
    ...NAVIGATE_HEADERS,
    'sec-fetch-site': 'same-origin',
    origin: new URL(form.action).origin,
    ...(opts.headers || {}),
  };
  if (form.method === 'POST') return client.post(form.action, { form: fields, headers });
  const u = new URL(form.action);
  for (const [k, v] of Object.entries(fields)) u.searchParams.set(k, v);
  return client.get(u.toString(), { headers });
}

// ------------------------------------------------------------ login dance

/**
 * Which OP page is this?  'login' | 'consent' | 'logout' | null, with the form.
 * Recognises oidc-provider's dev interaction pages and its logout confirmation.
 */
function classifyOpPage(res) {
  if (res.status !== 200 || !/html/i.test(res.headers['content-type'] || '')) return null;
  const forms = parseForms(res.body, res.url);
  for (const f of forms) {
    if (f.fields.prompt === 'login' || ('login' in f.fields && f.inputs.some((i) => i.type === 'password'))) {
      return { kind: 'login', form: f };
    }
    if (f.fields.prompt === 'consent') return { kind: 'consent', form: f };
    if (f.id === 'op.logoutForm' || 'xsrf' in f.fields) return { kind: 'logout', form: f };
  }
  return null;
}

/**
 * Follow a whole login starting at `startUrl` with plain HTTP requests:
 * redirects are followed hop by hop, the OP's dev login form is filled
 * (`login`/`password`), its consent form accepted (when `consent` is not
 * false), until a response that is neither a redirect nor an OP form.
 *
 * opts: { login = 'alice', password = 'any-password', consent = true, logout = true,
 *         headers (extra for the first request), maxHops = 25,
 *         stopAt(url) -> true to stop before requesting that URL (e.g. a redirect_uri
 *         nobody serves), onHop(res) }
 * Resolves { response (last), hops: [Response], stoppedAt (url or undefined), pages: ['login', ...] }.
 */
async function followLogin(client, startUrl, opts = {}) {
  const login = opts.login ?? 'alice';
  const password = opts.password ?? 'any-password';
  const maxHops = opts.maxHops || 25;
  const hops = [];
  const pages = [];
  let res = await client.navigate(startUrl, { headers: opts.headers });
  for (;;) {
    hops.push(res);
    if (opts.onHop) opts.onHop(res);
    if (hops.length > maxHops) {
      throw new Error(`followLogin: more than ${maxHops} hops:\n${describeHops(hops)}`);
    }
    if (res.isRedirect) {
      if (opts.stopAt && opts.stopAt(res.location)) {
        return { response: res, hops, pages, stoppedAt: res.location };
      }
      if (res.status === 307 || res.status === 308) {
        // keep method and body (never needed by the flows here, but be correct)
        res = await client.request(res.method, res.location, {
          headers: { ...NAVIGATE_HEADERS, 'sec-fetch-site': 'cross-site' },
        });
      } else {
        res = await client.navigate(res.location, { headers: { 'sec-fetch-site': 'cross-site' } });
      }
      continue;
    }
    const page = classifyOpPage(res);
    if (!page) return { response: res, hops, pages, stoppedAt: undefined };
    pages.push(page.kind);
    if (page.kind === 'login') {
      res = await submitForm(client, page.form, { login, password });
    } else if (page.kind === 'consent') {
      if (opts.consent === false) return { response: res, hops, pages, stoppedAt: undefined };
      res = await submitForm(client, page.form, {});
    } else if (page.kind === 'logout') {
      if (opts.logout === false) return { response: res, hops, pages, stoppedAt: undefined };
      res = await submitForm(client, page.form, { logout: 'yes' });
    }
  }
}

function describeHops(hops) {
  return hops.map((r, i) => `  ${i}: ${r.method} ${r.url} -> ${r.status}${r.location ? ` -> ${r.location}` : ''}`).join('\n');
}

module.exports = {
  HttpClient,
  CookieJar,
  Response,
  parseSetCookie,
  parseForms,
  submitForm,
  classifyOpPage,
  followLogin,
  describeHops,
  decodeEntities,
  NAVIGATE_HEADERS,
  FETCH_HEADERS,
};
