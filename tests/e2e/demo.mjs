// End-to-end check of demo/local.sh, the demo without Docker: starts it on
// free ports, waits for its "ready: <url>" line, then headless Chromium
// logs in as alice through the nginx load balancer (a wrong password is
// refused first), calls the demo API (both bff pods must answer), sees the
// access token refreshed, stops bff1 and keeps working through bff2, logs
// out, has bob's session ended by a back-channel logout, and finally sends
// SIGINT to local.sh and checks that every process it started is gone and
// every port is free again.
// Run through tests/e2e/run.sh (after suite.mjs). Screenshots and the demo's
// logs: target/e2e-demo/.
//
//   BFF_BIN=...    bff binary (default target/debug/bff)
//   CHROMIUM=...   browser (default /usr/bin/chromium)
//
// Last line: "N passed, N failed".
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { launchBrowser, loopbackContext } from './lib/browser.mjs';
import { freePort, waitFor } from './lib/procs.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = `${ROOT}target/e2e-demo`;
const RUN = `${OUT}/run`;
const TIMEOUT_MS = 180_000;

const results = { passed: 0, failed: 0 };
let broken = null;
let local = null; // the demo/local.sh child
let failShot = null; // screenshot on failure, once the browser is up
// Never leave the demo running, whatever ends this process.
process.on('exit', () => { if (local && local.exitCode === null && local.signalCode === null) local.kill('SIGTERM'); });

function finish() {
  if (local && local.exitCode === null && local.signalCode === null) local.kill('SIGTERM');
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
}
setTimeout(() => {
  console.log(`FAIL  demo: timed out after ${TIMEOUT_MS / 1000} s`);
  results.failed += 1;
  finish();
}, TIMEOUT_MS).unref();

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Runs one step; a failed `prereq` step stops the later ones, except `always` steps. */
async function step(key, title, fn, { prereq = true, always = false } = {}) {
  const started = Date.now();
  if (broken && !(always && broken !== 'start')) {
    results.failed += 1;
    console.log(`FAIL  demo-${key}: ${title}: not run, because demo-${broken} failed`);
    return;
  }
  try {
    await fn();
    results.passed += 1;
    console.log(`ok    demo-${key}: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    results.failed += 1;
    console.log(`FAIL  demo-${key}: ${title}: ${err.message}`);
    if (prereq && !broken) broken = key;
    await failShot?.(key).catch(() => {});
  }
}

const readEnv = (file) => Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('='))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const readPids = () => readFileSync(`${RUN}/pids`, 'utf8').trim().split('\n').map((l) => { const [name, pid] = l.split(' '); return { name, pid: Number(pid) }; });
const exists = (pid) => { try { process.kill(pid, 0); return true; } catch (err) { return err.code === 'EPERM'; } };
const portFree = (port) => new Promise((resolve) => {
  const srv = createServer();
  srv.once('error', () => resolve(false));
  srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
});

// --- start demo/local.sh ---------------------------------------------------------

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
let url;
let ports;
let output = '';
let exited = null; // resolves with { code, signal } when local.sh exits

await step('start', 'demo/local.sh starts everything on free ports and prints "ready: <url>"', async () => {
  const lbPort = await freePort();
  const log = createWriteStream(`${OUT}/local.sh.out`);
  local = spawn(`${ROOT}demo/local.sh`, [], {
    // Access tokens of 10 s: bff refreshes them once half their lifetime is left.
    env: { ...process.env, DEMO_PORT: String(lbPort), DEMO_DIR: RUN, DEMO_ACCESS_TOKEN_TTL: '10', BFF_BIN: process.env.BFF_BIN ?? `${ROOT}target/debug/bff` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => local.once('exit', (code, signal) => resolve({ code, signal })));
  for (const stream of [local.stdout, local.stderr]) stream.on('data', (d) => { output += d; log.write(d); });
  await waitFor('the "ready:" line', () => {
    if (local.exitCode !== null) throw new Error(`local.sh exited with ${local.exitCode}: ${output.trim().split('\n').slice(-5).join(' | ')}`);
    url = output.match(/^ready: (http:\/\/\S+)$/m)?.[1];
    return url;
  }, 120_000);
  assert(url === `http://localhost:${lbPort}`, `printed ${url}`);
  ports = readEnv(`${RUN}/ports.env`);
  assert(ports.DEMO_URL === url, 'ports.env has the URL');
  for (const name of ['ADMIN1', 'ADMIN2']) {
    const res = await fetch(`http://127.0.0.1:${ports[`DEMO_${name}_PORT`]}/readyz`);
    assert(res.status === 200, `${name} /readyz ${res.status}`);
  }
  assert(readPids().map((p) => p.name).join(' ') === 'redis provider demo-api bff1 bff2 lb', 'six processes recorded');
});

const browser = await launchBrowser();
async function newPage() {
  return (await loopbackContext(browser)).newPage();
}
let shot = 0;
const screenshot = (page, name) => page.screenshot({ path: `${OUT}/${String(++shot).padStart(2, '0')}-${name}.png`, fullPage: true });
const issuer = () => `http://127.0.0.1:${ports.DEMO_OP_PORT}`;

async function login(page, user, password, shots) {
  await page.goto(`${url}/`);
  await page.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  if (shots) await screenshot(page, 'spa-logged-out');
  await page.click('#login');
  await page.waitForURL(`${issuer()}/interaction/**`);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

async function callApi(page) {
  await page.evaluate(() => { delete document.getElementById('api-result').dataset.status; });
  await page.click('#call-api');
  const out = page.locator('#api-result[data-status]');
  await out.waitFor();
  const text = await out.textContent();
  let json = null;
  try { json = JSON.parse(text.slice(text.indexOf('\n') + 1)); } catch { /* not JSON */ }
  return { status: Number(await out.getAttribute('data-status')), json };
}

const page = await newPage();
failShot = (key) => screenshot(page, `FAILED-${key}`);

await step('wrong-password', 'the provider refuses alice with a wrong password (users as in keycloak/realm.json)', async () => {
  await login(page, 'alice', 'not-alice', true);
  await page.locator('#login-error').waitFor();
  await screenshot(page, 'wrong-password');
}, { prereq: false });

let loginAt;
let firstExp;
await step('login', 'alice / alice logs in through the load balancer; the SPA shows her', async () => {
  loginAt = Date.now();
  await login(page, 'alice', 'alice', true);
  await page.waitForURL(`${url}/`);
  await page.locator('#status', { hasText: 'Logged in.' }).waitFor();
  await screenshot(page, 'logged-in');
  assert((await page.textContent('#user-name')) === 'Alice Liddell', 'display name');
  assert((await page.textContent('#user-username')) === 'alice', 'username');
  const cookie = (await page.context().cookies(url)).find((c) => c.name === 'bff');
  assert(cookie?.httpOnly, 'an HttpOnly bff session cookie');
});

await step('api', 'Call API through the load balancer: a JWT for aud bff, answered by both bff pods', async () => {
  for (let i = 0; i < 4; i += 1) {
    const { status, json } = await callApi(page);
    assert(status === 200 && json?.preferred_username === 'alice', `call ${i + 1}: HTTP ${status} ${JSON.stringify(json)}`);
    assert([json.aud].flat().includes('bff') && json.iss === issuer(), `aud ${json.aud}, iss ${json.iss}`);
    firstExp ??= json.exp;
  }
  await screenshot(page, 'api');
  const lines = readFileSync(`${RUN}/lb-access.log`, 'utf8').split('\n').filter((l) => l.includes('"GET /api/whoami '));
  const answered = new Set(lines.map((l) => l.match(/upstream=127\.0\.0\.1:(\d+)/)?.[1]));
  assert(answered.has(ports.DEMO_BFF1_PORT) && answered.has(ports.DEMO_BFF2_PORT), `upstreams ${[...answered]}`);
  for (const pod of ['bff1', 'bff2']) {
    assert(readFileSync(`${RUN}/${pod}.log`, 'utf8').includes('/api/whoami'), `${pod}.log has the API calls`);
  }
});

await step('refresh', 'once the access token is due, bff refreshes it (rotating refresh token) and both pods use the new one', async () => {
  const wait = loginAt + 8000 - Date.now();
  if (wait > 0) await new Promise((resolve) => { setTimeout(resolve, wait); });
  const exps = [];
  for (let i = 0; i < 2; i += 1) {
    const { status, json } = await callApi(page);
    assert(status === 200, `HTTP ${status} ${JSON.stringify(json)}`);
    exps.push(json.exp);
  }
  assert(exps.every((e) => e > firstExp), `exp ${firstExp} -> ${exps}`);
  // Two calls in a row: nginx sends them to one pod each.
  const last = readFileSync(`${RUN}/lb-access.log`, 'utf8').split('\n').filter((l) => l.includes('"GET /api/whoami ')).slice(-2);
  const pods = new Set(last.map((l) => l.match(/upstream=(\S+)/)?.[1]));
  assert(pods.size === 2, `the two calls went to ${[...pods]}`);
});

await step('failover', 'bff1 stops (SIGTERM): local.sh reports it, the rest keeps running, nginx sends every call to bff2', async () => {
  const bff1 = readPids().find((p) => p.name === 'bff1');
  process.kill(bff1.pid, 'SIGTERM');
  await waitFor('local.sh to report bff1', () => /^bff1 exited /m.test(output), 15_000);
  for (let i = 0; i < 3; i += 1) {
    const { status } = await callApi(page);
    assert(status === 200, `call ${i + 1} after bff1 stopped: HTTP ${status}`);
  }
  const last = readFileSync(`${RUN}/lb-access.log`, 'utf8').split('\n').filter((l) => l.includes('"GET /api/whoami ')).slice(-3);
  assert(last.every((l) => l.includes(`upstream=127.0.0.1:${ports.DEMO_BFF2_PORT}`) || l.includes(`:${ports.DEMO_BFF2_PORT} `)), `upstreams: ${last.map((l) => l.match(/upstream=(.*?) [\d.]+$/)?.[1])}`);
  assert(local.exitCode === null, 'local.sh still runs');
});

await step('logout', 'Log out: session gone, provider end-session, back at /auth/logged-out', async () => {
  await page.click('#logout');
  await page.waitForURL(`${issuer()}/**`);
  await screenshot(page, 'provider-logout-confirm');
  await page.click('button[name=logout][value=yes]');
  await page.waitForURL(`${url}/auth/logged-out**`);
  await screenshot(page, 'logged-out');
  await page.goto(`${url}/`);
  await page.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  const res = await page.request.get(`${url}/api/whoami`, { headers: { 'X-CSRF': '1', accept: 'application/json' } });
  assert(res.status() === 401, `API after logout: ${res.status()}`);
});

await step('backchannel', 'bob signs out at the provider: its back-channel logout through the LB ends his bff session', async () => {
  const bob = await newPage();
  await login(bob, 'bob', 'bob', false);
  await bob.waitForURL(`${url}/`);
  await bob.locator('#status', { hasText: 'Logged in.' }).waitFor();
  assert((await callApi(bob)).status === 200, 'bob calls the API');
  const discovery = await (await fetch(`${issuer()}/.well-known/openid-configuration`)).json();
  await bob.goto(discovery.end_session_endpoint);
  await bob.click('button[name=logout][value=yes]');
  await waitFor('the back-channel logout', () => /back-channel logout delivered: user bob/.test(readFileSync(`${RUN}/provider.log`, 'utf8')), 10_000);
  await bob.goto(`${url}/`);
  await bob.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  await screenshot(bob, 'bob-after-backchannel');
  assert(readFileSync(`${RUN}/lb-access.log`, 'utf8').includes('"POST /auth/backchannel-logout '), 'delivered through the LB');
}, { prereq: false });

await browser.close();

await step('stop', 'SIGINT stops local.sh and every process it started; all ports are free again', async () => {
  assert(local && local.exitCode === null, 'local.sh is still running before SIGINT');
  const pids = readPids();
  local.kill('SIGINT');
  const timer = setTimeout(() => local.kill('SIGKILL'), 30_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  assert(signal === null && code === 130, `local.sh exited with code ${code}, signal ${signal}`);
  assert(/^stopped /m.test(output), 'local.sh printed "stopped"');
  const left = pids.filter(({ pid }) => exists(pid) || exists(-pid));
  assert(left.length === 0, `still running: ${left.map((p) => `${p.name} (${p.pid})`).join(', ')}`);
  const busy = [];
  for (const [name, port] of Object.entries(ports)) {
    if (name.endsWith('_PORT') && !(await portFree(Number(port)))) busy.push(`${name}=${port}`);
  }
  assert(busy.length === 0, `ports still in use: ${busy.join(', ')}`);
}, { prereq: false, always: true });

finish();
