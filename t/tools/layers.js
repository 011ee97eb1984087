#!/usr/bin/env node
'use strict';

// Checks the shape of the module that docs/design.md describes:
//
//   - every file belongs to a layer of the table below (a new file must be
//     placed in it, and in docs/design.md);
//   - a file includes the headers of lower layers only (and its own, and
//     ngx_http_oauth2_module.h, the configuration's types): so no file
//     calls a higher one and there is no dependency loop;
//   - every .c file has a header of its own and starts, after the
//     copyright, with a comment that says what it owns;
//   - no .c file is longer than MAX_LINES.
//
// node t/tools/layers.js [--graph]    (exit 1 on a violation; CI runs it)

const fs = require('node:fs');
const path = require('node:path');

const DIR = path.join(__dirname, '..', '..', 'ngx_http_oauth2_module');
const MAX_LINES = 1200;

// the layers of docs/design.md, lowest first
const LAYERS = [
  ['json', 'url', 'base64url', 'form', 'authz'],
  ['http_multi', 'seal', 'codec', 'cookie', 'jwk', 'assertion', 'shm', 'metrics', 'redis'],
  ['http', 'jwt', 'ocache', 'conf_value'],
  ['ctx', 'provider', 'fleet'],
  ['park', 'reply', 'request', 'token', 'store'],
  ['session', 'authreq', 'introspect'],
  ['login', 'logout', 'backchannel', 'refresh', 'form_post', 'bearer'],
  ['callback'],
  ['access'],
  ['variables', 'conf_provider', 'scrape'],
  ['module'],
];

// files that may be split further without changing the picture: the
// parts of one concern share their layer
const EXTRA = {
  http_curl: 'http',
  http_fetch: 'http',
  http_events: 'http',
};

const layerOf = new Map();
LAYERS.forEach((names, i) => names.forEach((n) => layerOf.set(n, i)));
for (const [n, like] of Object.entries(EXTRA)) layerOf.set(n, layerOf.get(like));

const problems = [];
const edges = [];

const files = fs.readdirSync(DIR).filter((f) => /^ngx_http_oauth2_\w+\.[ch]$/.test(f)).sort();
const names = new Set(files.map((f) => f.replace(/^ngx_http_oauth2_|\.[ch]$/g, '')));

for (const f of files) {
  const name = f.replace(/^ngx_http_oauth2_|\.[ch]$/g, '');
  const text = fs.readFileSync(path.join(DIR, f), 'utf8');
  const own = layerOf.get(name);

  if (own === undefined && !(name === 'module' && f.endsWith('.h'))) {
    problems.push(`${f}: in no layer of t/tools/layers.js (and docs/design.md)`);
    continue;
  }

  for (const m of text.matchAll(/#include "ngx_http_oauth2_(\w+)\.h"/g)) {
    const dep = m[1];
    if (dep === name || dep === 'module') continue;
    const layer = layerOf.get(dep);
    if (layer === undefined) {
      problems.push(`${f}: includes ngx_http_oauth2_${dep}.h, in no layer`);
    } else if (name !== 'module' && layer >= own) {
      problems.push(`${f}: includes ngx_http_oauth2_${dep}.h of layer ${layer}, `
                    + `not below its own (${own})`);
    }
    if (f.endsWith('.c')) edges.push([name, dep]);
  }

  if (f.endsWith('.c')) {
    if (name !== 'module' && !names.has(name) ) {
      problems.push(`${f}: no header`);
    }
    if (!files.includes(`ngx_http_oauth2_${name}.h`)) {
      problems.push(`${f}: no header ngx_http_oauth2_${name}.h`);
    }
    if (!/^\n?\/\*\n \* Copyright[^\n]*\n \*\/\n\n\n\/\*\n \* \S/.test(text)) {
      problems.push(`${f}: does not start with a comment that says what it owns`);
    }
    const lines = text.split('\n').length - 1;
    if (lines > MAX_LINES) {
      problems.push(`${f}: ${lines} lines, more than ${MAX_LINES}`);
    }
  }
}

if (process.argv.includes('--graph')) {
  for (const [from, to] of [...new Set(edges.map((e) => e.join(' ')))].map((e) => e.split(' '))) {
    console.log(`${from} -> ${to}`);
  }
}

for (const p of problems) console.error(`layers: ${p}`);
console.log(problems.length
  ? `layers: ${problems.length} problem(s) in ${files.length} files`
  : `layers: ${files.length} files, every include goes down a layer`);
process.exit(problems.length ? 1 : 0);
