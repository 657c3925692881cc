// Headless Chromium for the e2e suites: the system browser (CHROMIUM,
// default /usr/bin/chromium), and contexts that only ever reach loopback
// (the provider's pages @import a web font; it is never fetched).
import { chromium } from 'playwright-core';

export const isLoopback = (url) => /^(https?|wss?):\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(url) || /^(data|blob|about):/.test(url);

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh browser context (900x720, 10 s timeouts) that aborts non-loopback requests. */
export async function loopbackContext(browser) {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 720 } });
  ctx.setDefaultTimeout(10_000);
  await ctx.route('**/*', (route) => (isLoopback(route.request().url()) ? route.continue() : route.abort('blockedbyclient')));
  return ctx;
}
