// End-to-end suite: a real headless Chromium drives the demo SPA through two
// bff pods (debug build) that share one real Redis, against oidc-provider.
// Run through tests/e2e/run.sh. Screenshots go to target/e2e/.
//
//   E2E_SKIP=refresh,backchannel   skip steps whose bff feature is not built yet
//   BFF_BIN=...                    bff binary (default target/debug/bff)
//   CHROMIUM=...                   browser (default /usr/bin/chromium)
//
// Last line: "N passed, N failed, N skipped".
import { mkdirSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchBrowser, loopbackContext } from './lib/browser.mjs';
import { redisCli, waitFor, killAll } from './lib/procs.mjs';
import { startStack } from './lib/stack.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = `${ROOT}target/e2e`;
const BFF_BIN = process.env.BFF_BIN ?? `${ROOT}target/debug/bff`;
const SKIP = new Set((process.env.E2E_SKIP ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const ACCESS_TOKEN_TTL = 20; // seconds, like a short Keycloak accessTokenLifespan
const SUITE_TIMEOUT_MS = 240_000;

const results = { passed: 0, failed: 0, skipped: 0 };
let broken = null; // a failed prerequisite stops the dependent steps

setTimeout(() => {
  console.log(`FAIL  suite timed out after ${SUITE_TIMEOUT_MS / 1000} s`);
  results.failed += 1;
  finish();
}, SUITE_TIMEOUT_MS).unref();

function finish() {
  killAll();
  if (process.env.E2E_STARTED) console.log(`e2e wall time (install + build + suite): ${Math.round(Date.now() / 1000 - Number(process.env.E2E_STARTED))} s`);
  console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Runs one step. `key` names it for E2E_SKIP; `prereq` steps stop the rest on failure. */
async function step(key, title, fn, { prereq = false } = {}) {
  const started = Date.now();
  if (SKIP.has(key)) {
    results.skipped += 1;
    console.log(`SKIP  ${key}: ${title} (E2E_SKIP)`);
    return;
  }
  if (broken) {
    results.failed += 1;
    console.log(`FAIL  ${key}: ${title}: not run, because ${broken} failed`);
    return;
  }
  try {
    await fn();
    results.passed += 1;
    console.log(`ok    ${key}: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    results.failed += 1;
    console.log(`FAIL  ${key}: ${title}: ${err.message}`);
    if (prereq) broken = key;
  }
}


async function sessionCount(redisPort) {
  const out = await redisCli(redisPort, ['--scan', '--pattern', 'bff:s:*']);
  return out.split('\n').filter(Boolean).length;
}

/**
 * GET `path` on a pod with only the given session cookie (no browser), via
 * node:http: Node's fetch always sends `Sec-Fetch-Mode: cors`, and bff
 * classifies navigations by that header (Fetch Metadata) or `Accept`.
 */
function withCookie(pod, path, cookie, accept = 'application/json') {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${pod.origin}${path}`, { headers: { cookie: `bff=${cookie}`, accept }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

// --- set-up ---------------------------------------------------------------

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const stack = await startStack({ bffBinary: BFF_BIN, pods: 2, logDir: `${OUT}/logs`, accessTokenTtl: ACCESS_TOKEN_TTL });
const [pod1, pod2] = stack.bffs;
const { op, upstream, redis } = stack;
const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
console.log(`provider ${op.issuer}, bff1 ${pod1.origin}, bff2 ${pod2.origin}, redis :${redis.port}, upstream ${upstream.origin}`);

const browser = await launchBrowser();

const newContext = () => loopbackContext(browser);

let shot = 0;
const screenshot = (page, name) => page.screenshot({ path: `${OUT}/${String(++shot).padStart(2, '0')}-${name}.png`, fullPage: true });

/** Drives the SPA's "Log in" through the provider's login form. */
async function browserLogin(page, user, shots) {
  const seen = [];
  const onRequest = (req) => seen.push(req.url());
  page.on('request', onRequest);
  await page.goto(`${pod1.origin}/`);
  await page.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  if (shots) await screenshot(page, 'spa-logged-out');
  await page.click('#login');
  await page.waitForURL(`${op.issuer}/interaction/**`);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', user);
  if (shots) await screenshot(page, 'provider-login-form');
  await page.click('button[type=submit]');
  await page.waitForURL(`${pod1.origin}/`);
  await page.locator('#status', { hasText: 'Logged in.' }).waitFor();
  page.off('request', onRequest);
  const cookie = (await page.context().cookies(pod1.origin)).find((c) => c.name === 'bff');
  assert(cookie, 'no bff cookie after login');
  return { seen, cookie };
}

/** Clicks "Call API" and returns { status, json }. */
async function callApi(page) {
  await page.evaluate(() => { delete document.getElementById('api-result').dataset.status; });
  await page.click('#call-api');
  const out = page.locator('#api-result[data-status]');
  await out.waitFor();
  const text = await out.textContent();
  const status = Number(await out.getAttribute('data-status'));
  let json = null;
  try { json = JSON.parse(text.slice(text.indexOf('\n') + 1)); } catch { /* not JSON */ }
  return { status, json };
}

const lastApiRequest = () => upstream.requests.filter((r) => r.path.startsWith('/api/')).at(-1);

// --- steps ------------------------------------------------------------------

const ctxA = await newContext();
const pageA = await ctxA.newPage();
let alice; // { cookie, loginAt, token }

await step('ready', 'both pods report ready (provider discovered, Redis answers)', async () => {
  for (const pod of [pod1, pod2]) {
    const res = await fetch(`http://127.0.0.1:${pod.admin}/readyz`);
    assert(res.status === 200, `${pod.name} /readyz ${res.status}`);
  }
  assert(discovery.authorization_response_iss_parameter_supported === true, 'provider advertises RFC 9207 iss');
}, { prereq: true });

await step('anonymous', 'without a session: API 401 JSON, navigation 302 to login', async () => {
  for (const pod of [pod1, pod2]) {
    const api = await withCookie(pod, '/api/whoami', 'none');
    assert(api.status === 401 && JSON.parse(api.body).error === 'unauthenticated', `${pod.name} API ${api.status}`);
    const nav = await withCookie(pod, '/api/whoami', 'none', 'text/html');
    assert(nav.status === 302 && nav.location.startsWith('/auth/login?return_to='), `${pod.name} navigation ${nav.status}`);
  }
});

await step('login', 'alice logs in with Chromium through the provider form (PAR as advertised, PKCE S256, iss checked)', async () => {
  const loginAt = Date.now();
  const parBefore = op.events.par.length;
  const { seen, cookie } = await browserLogin(pageA, 'alice', true);
  await screenshot(pageA, 'logged-in');
  const authz = new URL(seen.find((u) => u.startsWith(discovery.authorization_endpoint)));
  // BFF_PAR=auto and the provider advertises PAR (oidc-provider's default):
  // the request is pushed (RFC 9126), the browser carries only client_id and
  // request_uri, and the checks below apply to the pushed parameters.
  assert(discovery.pushed_authorization_request_endpoint, 'the provider advertises PAR');
  const names = [...authz.searchParams.keys()].sort().join();
  assert(names === 'client_id,request_uri', `the browser's authorization request carries ${names}`);
  assert(op.events.par.length === parBefore + 1, `${op.events.par.length - parBefore} pushed authorization requests`);
  const pushed = op.events.par.at(-1);
  assert(pushed.basicAuth && pushed.bodyClientId === 'bff', 'PAR authenticated with client_secret_basic, client_id in the body (RFC 9126 §2.1)');
  const q = new URLSearchParams(pushed.params);
  assert(q.get('code_challenge_method') === 'S256' && q.get('code_challenge')?.length >= 43, 'PKCE S256');
  assert(q.get('state') && q.get('nonce') && q.get('response_type') === 'code', 'state, nonce, code flow');
  assert(q.get('redirect_uri') === `${stack.publicUrl}/auth/callback`, 'exact redirect URI');
  const cb = new URL(seen.find((u) => u.startsWith(`${pod1.origin}/auth/callback`)));
  assert(cb.searchParams.get('iss') === op.issuer, 'RFC 9207 iss in the callback');
  assert(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/', `cookie attributes ${JSON.stringify(cookie)}`);
  assert((await pageA.textContent('#user-name')) === 'Alice Liddell', 'display name from the ID token');
  assert(await sessionCount(redis.port) === 1, 'one session in Redis');
  const key = (await redisCli(redis.port, ['--scan', '--pattern', 'bff:s:*'])).trim();
  const raw = await redisCli(redis.port, ['GET', key]);
  assert(!/alice|Alice|example\.com/.test(raw), 'the Redis record is ciphertext');
  assert(!key.includes(cookie.value), 'the Redis key is not the cookie value');
  alice = { cookie: cookie.value, loginAt };
}, { prereq: true });

await step('api-pod1', 'API call through bff pod 1 carries a valid bearer token', async () => {
  const { status, json } = await callApi(pageA);
  await screenshot(pageA, 'api-pod1');
  assert(status === 200 && json?.sub === 'alice', `HTTP ${status} ${JSON.stringify(json)}`);
  const rec = lastApiRequest();
  assert(rec.token && rec.userinfo === 200, 'bearer injected and accepted by the provider');
  assert(!/(^|;\s*)bff(-login)?=/.test(rec.cookie ?? ''), 'bff cookies are not forwarded upstream');
  alice.token = rec.token;
}, { prereq: true });

await step('api-pod2', 'the same browser session works on bff pod 2 (shared Redis)', async () => {
  await pageA.goto(`${pod2.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  const { status, json } = await callApi(pageA);
  await screenshot(pageA, 'api-pod2');
  assert(status === 200 && json?.sub === 'alice', `HTTP ${status}`);
  assert(lastApiRequest().token === alice.token, 'pod 2 injects the same access token');
}, { prereq: true });

await step('refresh', `after the ${ACCESS_TOKEN_TTL} s access token expires, bff refreshes it (both pods)`, async () => {
  const wait = alice.loginAt + (ACCESS_TOKEN_TTL + 2) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  await pageA.goto(`${pod1.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  const first = await callApi(pageA);
  await screenshot(pageA, 'api-after-refresh-pod1');
  assert(first.status === 200, `pod 1 after expiry: HTTP ${first.status} ${JSON.stringify(first.json)}`);
  const fresh = lastApiRequest().token;
  assert(fresh !== alice.token, 'a new access token was used');
  await pageA.goto(`${pod2.origin}/`);
  const second = await callApi(pageA);
  await screenshot(pageA, 'api-after-refresh-pod2');
  assert(second.status === 200 && lastApiRequest().token === fresh, 'pod 2 uses the refreshed token from Redis');
});

await step('logout', 'POST /auth/logout (X-CSRF: 1) ends the session, revokes the refresh token (RFC 7009) and goes through the provider end-session', async () => {
  await pageA.goto(`${pod1.origin}/`);
  const revokedBefore = op.events.revoked.length;
  const res = await pageA.request.post(`${pod1.origin}/auth/logout`, { headers: { 'X-CSRF': '1' }, maxRedirects: 0 });
  assert(res.status() === 302, `logout HTTP ${res.status()}`);
  const location = new URL(res.headers().location);
  const q = location.searchParams;
  assert(`${location.origin}${location.pathname}` === discovery.end_session_endpoint, `end-session endpoint ${location}`);
  assert(q.get('id_token_hint') && q.get('client_id') === 'bff' && q.get('state'), 'id_token_hint, client_id, state');
  assert(q.get('post_logout_redirect_uri') === `${stack.publicUrl}/auth/logged-out`, 'post_logout_redirect_uri');
  assert(/(^|,\s*)bff=;/.test(res.headers()['set-cookie'] ?? ''), 'the session cookie is cleared');
  assert(await sessionCount(redis.port) === 0, 'the session is deleted from Redis');
  // Revocation runs in the background, never delaying the local logout.
  await waitFor('the refresh token revocation', () => op.events.revoked.length > revokedBefore, 10_000);
  assert(op.events.revoked.slice(revokedBefore).every((e) => e.client === 'bff'), 'revoked by client bff');
  await pageA.goto(location.toString());
  await screenshot(pageA, 'provider-logout-confirm');
  await pageA.click('button[name=logout][value=yes]');
  await pageA.waitForURL(`${pod1.origin}/auth/logged-out**`);
  await screenshot(pageA, 'logged-out');
}, { prereq: true });

await step('old-cookie', 'the old session cookie is rejected by both pods', async () => {
  for (const pod of [pod1, pod2]) {
    const api = await withCookie(pod, '/api/whoami', alice.cookie);
    assert(api.status === 401, `${pod.name} API ${api.status}`);
    const info = await withCookie(pod, '/auth/session', alice.cookie);
    assert(info.status === 401, `${pod.name} /auth/session ${info.status}`);
  }
  await pageA.goto(`${pod2.origin}/`);
  await pageA.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  await screenshot(pageA, 'pod2-after-logout');
});

await step('backchannel', 'a provider-initiated back-channel logout ends another session on both pods', async () => {
  const ctxB = await newContext();
  const pageB = await ctxB.newPage();
  const { cookie } = await browserLogin(pageB, 'bob', false);
  for (const pod of [pod1, pod2]) {
    const api = await withCookie(pod, '/api/whoami', cookie.value);
    assert(api.status === 200 && JSON.parse(api.body).sub === 'bob', `${pod.name} before: ${api.status}`);
  }
  await screenshot(pageB, 'bob-logged-in');
  // Bob ends his session at the provider itself (e.g. from another app);
  // the provider notifies bff's backchannel_logout_uri with a logout token.
  const before = op.events.backchannel.length;
  await pageB.goto(discovery.end_session_endpoint);
  await pageB.click('button[name=logout][value=yes]');
  await waitFor('the back-channel notification', () => op.events.backchannel.slice(before).some((e) => e.accountId === 'bob'), 10_000);
  const event = op.events.backchannel.slice(before).find((e) => e.accountId === 'bob');
  await screenshot(pageB, 'provider-signed-out');
  assert(event.ok, `bff refused the logout token: ${event.error}`);
  for (const pod of [pod1, pod2]) {
    const api = await withCookie(pod, '/api/whoami', cookie.value);
    assert(api.status === 401, `${pod.name} after: ${api.status}`);
  }
  assert(await sessionCount(redis.port) === 0, 'no session left in Redis');
  await pageB.goto(`${pod2.origin}/`);
  await pageB.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  await screenshot(pageB, 'bob-pod2-after-backchannel');
  await ctxB.close();
});

await browser.close();
await stack.close();
finish();
