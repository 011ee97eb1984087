'use strict';

// A real browser for the e2e tests: playwright-core driving Debian's
// chromium (never a downloaded browser build).  Each launch gets a fresh
// user-data-dir that is removed on close.  Requests to anything but the
// loopback addresses are aborted (the OP's dev pages link a web font).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const config = require('./config');
const { onExit } = require('./proc');

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromiumAvailable() {
  return fs.existsSync(config.CHROMIUM);
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Launch chromium.  opts: { viewport, ignoreHTTPSErrors, allowExternal (default false),
 *                         args: [more chromium flags] }
 * Returns { context, page, close() } (context is a persistent BrowserContext).
 */
async function launchBrowser(opts = {}) {
  if (!chromiumAvailable()) {
    throw new Error(`${config.CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_BIN)`);
  }
  // playwright-core only: it never downloads a browser by itself
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-chromium-'));
  const unhook = onExit(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: config.CHROMIUM,
      // '--headless=new' is in the args; Playwright must not add its own flag
      headless: false,
      args: [...CHROMIUM_ARGS, ...(opts.args || [])],
      viewport: opts.viewport || { width: 1000, height: 700 },
      ignoreHTTPSErrors: !!opts.ignoreHTTPSErrors,
      timeout: 30000,
    });
  } catch (e) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    unhook();
    throw e;
  }
  if (!opts.allowExternal) {
    await context.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) && !LOCAL_HOSTS.has(u.hostname)) {
        return route.abort('blockedbyclient');
      }
      return route.continue();
    });
  }
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  return {
    context,
    page,
    userDataDir,
    async close() {
      try { await context.close(); } finally {
        fs.rmSync(userDataDir, { recursive: true, force: true });
        unhook();
      }
    },
  };
}

/**
 * On the OP's dev login page: fill the form and submit; accept the consent
 * page if one follows.  Resolves once the browser left the OP (or `timeout`).
 */
async function opLoginInBrowser(page, { login = 'alice', password = 'any-password', opOrigin } = {}) {
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('button[type="submit"]'),
  ]);
  // consent (only with `--consent prompt`)
  const consent = await page.$('form input[name="prompt"][value="consent"]');
  if (consent) {
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('form button[type="submit"]'),
    ]);
  }
  if (opOrigin && page.url().startsWith(opOrigin)) {
    throw new Error(`still on the OP after login: ${page.url()}\n${await page.content()}`);
  }
}

module.exports = {
  launchBrowser, chromiumAvailable, opLoginInBrowser, CHROMIUM_ARGS,
};
