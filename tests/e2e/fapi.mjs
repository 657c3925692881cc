// End-to-end FAPI 2.0 pass: two bff pods with BFF_SECURITY_PROFILE=fapi2
// (private_key_jwt, PAR, DPoP) sharing one real Redis, against
// oidc-provider with its FAPI 2.0 profile, DPoP nonces and PAR required
// (lib/fapi-provider.mjs), in front of demo/dpop-api.mjs, a resource server
// that accepts only DPoP-bound access tokens (nonces on). Headless Chromium
// logs in, calls the API through both pods, across a refresh, logs out; a
// captured access token is replayed without its key; and bff must refuse to
// start against providers that lack what the profile needs.
// Run through tests/e2e/run.sh (after suite.mjs). Screenshots and logs:
// target/e2e-fapi/.
//
//   BFF_BIN=...    bff binary (default target/debug/bff)
//   CHROMIUM=...   browser (default /usr/bin/chromium)
//
// Last line: "N passed, N failed, N skipped".
import { randomBytes, randomUUID, generateKeyPairSync, createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT, exportJWK } from 'jose';
import { launchBrowser, loopbackContext } from './lib/browser.mjs';
import { freePort, redisCli, waitFor, killAll } from './lib/procs.mjs';
import { startProvider } from './lib/provider.mjs';
import { AUDIENCE, ecThumbprint, startExpectingExit, startFapiStack } from './lib/fapi-stack.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const OUT = `${ROOT}target/e2e-fapi`;
const BFF_BIN = process.env.BFF_BIN ?? `${ROOT}target/debug/bff`;
const ACCESS_TOKEN_TTL = 12; // seconds
const REFRESH_SKEW = 4; // bff refreshes when fewer seconds remain
const TIMEOUT_MS = 120_000;

const results = { passed: 0, failed: 0, skipped: 0 };
let broken = null;

setTimeout(() => {
  console.log(`FAIL  fapi: timed out after ${TIMEOUT_MS / 1000} s`);
  results.failed += 1;
  finish();
}, TIMEOUT_MS).unref();

function finish() {
  killAll();
  console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Runs one step; a failed `prereq` step stops the dependent ones (`always` steps still run). */
async function step(key, title, fn, { prereq = false, always = false } = {}) {
  const started = Date.now();
  if (broken && !always) {
    results.failed += 1;
    console.log(`FAIL  fapi-${key}: ${title}: not run, because fapi-${broken} failed`);
    return;
  }
  try {
    const detail = await fn();
    results.passed += 1;
    console.log(`ok    fapi-${key}: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s${detail ? `; ${detail}` : ''})`);
  } catch (err) {
    results.failed += 1;
    console.log(`FAIL  fapi-${key}: ${title}: ${err.message}`);
    if (prereq && !broken) broken = key;
  }
}

const jwtPayload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
const sessionCount = async (port) => (await redisCli(port, ['--scan', '--pattern', 'bff:s:*'])).split('\n').filter(Boolean).length;
const apiLog = () => readFileSync(stack.api.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

// --- set-up ---------------------------------------------------------------

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const stack = await startFapiStack({ bffBinary: BFF_BIN, pods: 2, logDir: `${OUT}/logs`, accessTokenTtl: ACCESS_TOKEN_TTL, refreshSkew: REFRESH_SKEW })
  .catch((err) => {
    console.log(`FAIL  fapi-setup: the stack did not start (logs: ${OUT}/logs): ${err.message}`);
    results.failed += 1;
    finish();
  });
const [pod1, pod2] = stack.bffs;
const { op, api, redis } = stack;
const { seen } = op;
const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
console.log(`fapi provider ${op.issuer}, bff1 ${pod1.origin}, bff2 ${pod2.origin}, redis :${redis.port}, dpop-api ${api.origin}`);

const browser = await launchBrowser();
const ctxA = await loopbackContext(browser);
const pageA = await ctxA.newPage();
let shot = 0;
const screenshot = (page, name) => page.screenshot({ path: `${OUT}/${String(++shot).padStart(2, '0')}-${name}.png`, fullPage: true });

/** Clicks "Call API"; returns { status, json } and the binding the page shows. */
async function callApi(page) {
  await page.evaluate(() => { delete document.getElementById('api-result').dataset.status; });
  await page.click('#call-api');
  const out = page.locator('#api-result[data-status]');
  await out.waitFor();
  const text = await out.textContent();
  let json = null;
  try { json = JSON.parse(text.slice(text.indexOf('\n') + 1)); } catch { /* not JSON */ }
  const shown = await page.locator('#api-binding').isVisible() ? await page.textContent('#api-binding-value') : null;
  return { status: Number(await out.getAttribute('data-status')), json, shown };
}

/** Asserts an API answer is a verified DPoP-bound call for alice with the provider's latest access token. */
function assertBound({ status, json, shown }, where) {
  assert(status === 200, `${where}: HTTP ${status} ${JSON.stringify(json)}`);
  assert(json.binding === 'DPoP-bound' && json.sub === 'alice' && json.name === 'Alice Liddell', `${where}: ${JSON.stringify(json)}`);
  assert(shown === 'DPoP-bound', `${where}: the page shows binding ${JSON.stringify(shown)}`);
  const latest = jwtPayload(seen.tokens.at(-1).accessToken);
  assert(json.token.jti === latest.jti, `${where}: the API saw token ${json.token.jti}, the provider issued ${latest.jti} last`);
  assert(json.jkt === latest.cnf?.jkt, `${where}: proof key ${json.jkt} is not the token's cnf.jkt ${latest.cnf?.jkt}`);
}

// --- steps ------------------------------------------------------------------

let alice; // { cookie, jkt, jti }

await step('ready', 'the provider is FAPI 2.0 (PAR required, DPoP, private_key_jwt, ES256) and both pods publish the client JWKS', async () => {
  assert(discovery.require_pushed_authorization_requests === true && discovery.pushed_authorization_request_endpoint, 'PAR required');
  assert(discovery.token_endpoint_auth_methods_supported.join() === 'private_key_jwt', `auth methods ${discovery.token_endpoint_auth_methods_supported}`);
  assert(discovery.dpop_signing_alg_values_supported.includes('ES256'), 'DPoP ES256');
  assert(discovery.id_token_signing_alg_values_supported.join() === 'ES256', `ID token algs ${discovery.id_token_signing_alg_values_supported}`);
  assert(discovery.authorization_response_iss_parameter_supported === true, 'RFC 9207 iss');
  for (const pod of [pod1, pod2]) {
    assert((await fetch(`http://127.0.0.1:${pod.admin}/readyz`)).status === 200, `${pod.name} /readyz`);
    const jwks = await (await fetch(`http://127.0.0.1:${pod.admin}/client-jwks.json`)).json();
    assert(jwks.keys?.length === 1, `${pod.name} JWKS ${JSON.stringify(jwks)}`);
    const [key] = jwks.keys;
    assert(!('d' in key), `${pod.name} publishes a private key member`);
    assert(key.kid === stack.clientJwk.kid && key.kid === ecThumbprint(key) && key.x === stack.clientJwk.x && key.y === stack.clientJwk.y,
      `${pod.name} JWKS ${JSON.stringify(key)} is not the registered key ${JSON.stringify(stack.clientJwk)}`);
  }
}, { prereq: true });

await step('login', 'alice logs in with Chromium: PAR with private_key_jwt, the browser carries only client_id + request_uri, DPoP-bound tokens', async () => {
  const requests = [];
  const onRequest = (req) => requests.push(req.url());
  pageA.on('request', onRequest);
  await pageA.goto(`${pod1.origin}/`);
  await pageA.locator('#status', { hasText: 'Not logged in.' }).waitFor();
  await screenshot(pageA, 'spa-logged-out');
  await pageA.click('#login');
  await pageA.waitForURL(`${op.issuer}/interaction/**`);
  await pageA.fill('input[name=login]', 'alice');
  await pageA.fill('input[name=password]', 'alice');
  await screenshot(pageA, 'provider-login-form');
  await pageA.click('button[type=submit]');
  await pageA.waitForURL(`${pod1.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  pageA.off('request', onRequest);
  await screenshot(pageA, 'logged-in');

  const authz = requests.filter((u) => u.startsWith(`${discovery.authorization_endpoint}?`)).map((u) => new URL(u));
  assert(authz.length === 1, `${authz.length} authorization requests`);
  const names = [...authz[0].searchParams.keys()].sort().join();
  assert(names === 'client_id,request_uri', `authorization request parameters: ${names}`);
  assert(authz[0].searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'), 'a PAR request_uri');
  assert(seen.par.length === 1, `${seen.par.length} pushed authorization requests`);
  const par = seen.par[0];
  assert(par.assertionType === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', `PAR client auth ${par.assertionType}`);
  assert(par.codeChallengeMethod === 'S256' && par.state && par.nonce && par.responseType === 'code', `PAR parameters ${JSON.stringify(par)}`);
  assert(par.redirectUri === `${stack.publicUrl}/auth/callback`, `PAR redirect_uri ${par.redirectUri}`);
  const cb = new URL(requests.find((u) => u.startsWith(`${pod1.origin}/auth/callback`)));
  assert(cb.searchParams.get('iss') === op.issuer, 'RFC 9207 iss in the callback');
  const code = seen.tokens.filter((t) => t.grantType === 'authorization_code');
  assert(code.length === 1 && code[0].dpop && code[0].tokenType === 'DPoP', `code exchange ${JSON.stringify(code.map(({ accessToken, refreshToken, ...t }) => t))}`);
  assert(code[0].assertionType === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'code exchange with private_key_jwt');
  assert(code[0].refreshToken, 'a refresh token was issued');
  assert(seen.nonceChallenges.some((c) => c.route === 'token'), 'the provider demanded a DPoP nonce at the token endpoint (and bff retried)');
  const claims = jwtPayload(code[0].accessToken);
  assert(claims.cnf?.jkt && claims.aud === AUDIENCE, `access token claims ${JSON.stringify({ cnf: claims.cnf, aud: claims.aud })}`);
  assert((await pageA.textContent('#user-name')) === 'Alice Liddell', 'display name from the ES256 ID token');
  assert(await sessionCount(redis.port) === 1, 'one session in Redis');
  const cookie = (await ctxA.cookies(pod1.origin)).find((c) => c.name === 'bff');
  assert(cookie, 'no bff cookie');
  alice = { cookie: cookie.value, jkt: claims.cnf.jkt, jti: claims.jti };
}, { prereq: true });

await step('api-pod1', 'the SPA calls the API through pod 1: verified DPoP proof bound to the token (nonce retried), "DPoP-bound" on the page', async () => {
  const before = apiLog().length;
  const res = await callApi(pageA);
  await screenshot(pageA, 'api-pod1-dpop-bound');
  assertBound(res, 'pod 1');
  const lines = apiLog().slice(before).filter((l) => l.path === '/api/whoami');
  assert(lines.at(-1)?.status === 200 && lines.at(-1).jkt === alice.jkt, `API log ${JSON.stringify(lines)}`);
  assert(lines.some((l) => l.status === 401 && l.outcome.startsWith('use_dpop_nonce')), 'the API demanded its nonce first (bff retried with it)');
}, { prereq: true });

await step('api-pod2', 'the same session through pod 2 (shared Redis): same access token, same DPoP key', async () => {
  await pageA.goto(`${pod2.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  const res = await callApi(pageA);
  await screenshot(pageA, 'api-pod2-dpop-bound');
  assertBound(res, 'pod 2');
  assert(res.json.jkt === alice.jkt && res.json.token.jti === alice.jti, 'pod 2 used the session\'s token and key');
}, { prereq: true });

await step('refresh', `after the ${ACCESS_TOKEN_TTL} s access token expires, both pods go on with a refreshed DPoP-bound token (same key)`, async () => {
  const issued = seen.tokens.at(-1).at;
  const wait = issued + (ACCESS_TOKEN_TTL + 1) * 1000 - Date.now();
  if (wait > 0) await sleep(wait);
  await pageA.goto(`${pod1.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  const first = await callApi(pageA);
  await screenshot(pageA, 'api-after-refresh-pod1');
  assertBound(first, 'pod 1 after expiry');
  assert(first.json.token.jti !== alice.jti, 'a new access token');
  assert(first.json.jkt === alice.jkt, 'the same session DPoP key');
  const refreshes = seen.tokens.filter((t) => t.grantType === 'refresh_token');
  assert(refreshes.length >= 1, 'no refresh grant at the provider');
  for (const r of refreshes) {
    assert(r.dpop && r.tokenType === 'DPoP' && r.assertionType === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', `refresh grant ${JSON.stringify({ dpop: r.dpop, tokenType: r.tokenType, assertion: r.assertionType })}`);
    assert(r.refreshToken && r.refreshToken !== seen.tokens[0].refreshToken, 'the refresh token was rotated');
  }
  await pageA.goto(`${pod2.origin}/`);
  await pageA.locator('#status', { hasText: 'Logged in.' }).waitFor();
  const second = await callApi(pageA);
  await screenshot(pageA, 'api-after-refresh-pod2');
  assertBound(second, 'pod 2 after expiry');
  assert(second.json.token.jti === first.json.token.jti && second.json.jkt === alice.jkt, 'pod 2 used the refreshed token from Redis');
});

await step('replay', 'a captured access token is refused without its key: no proof, a foreign key\'s proof, or as a Bearer token', async () => {
  const token = seen.tokens.at(-1).accessToken;
  assert(jwtPayload(token).exp > Date.now() / 1000 + 1, 'the captured token is still valid');
  const url = `${api.origin}/api/whoami`;
  const call = async (headers) => {
    const res = await fetch(url, { headers: { accept: 'application/json', ...headers } });
    return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', nonce: res.headers.get('dpop-nonce'), body: await res.json() };
  };
  const none = await call({ authorization: `DPoP ${token}` });
  assert(none.status === 401 && /^DPoP error="invalid_dpop_proof"/.test(none.challenge) && /no DPoP proof/.test(none.body.error_description), `without a proof: ${JSON.stringify(none)}`);
  // A well-formed proof (right htm, htu, iat, ath, the API's current nonce)
  // signed by another key: only the binding (cnf.jkt) can refuse it.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const proof = await new SignJWT({
    htm: 'GET', htu: url, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), nonce: none.nonce,
    ath: createHash('sha256').update(token).digest('base64url'),
  }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(publicKey) }).sign(privateKey);
  const foreign = await call({ authorization: `DPoP ${token}`, dpop: proof });
  assert(foreign.status === 401 && /^DPoP error="invalid_token"/.test(foreign.challenge) && /cnf\.jkt/.test(foreign.body.error_description), `foreign key: ${JSON.stringify(foreign)}`);
  const bearer = await call({ authorization: `Bearer ${token}` });
  assert(bearer.status === 401 && /^DPoP error="invalid_token"/.test(bearer.challenge), `as Bearer: ${JSON.stringify(bearer)}`);
  const log = readFileSync(api.logFile, 'utf8');
  const secrets = seen.tokens.flatMap((t) => [t.accessToken, t.refreshToken]).filter(Boolean).flatMap((t) => t.split('.').filter((p) => p.length > 20));
  assert(!secrets.some((s) => log.includes(s)) && !log.includes('eyJ') && !log.includes(proof.split('.')[2]), 'the API log holds a token or a proof');
});

await step('proof-checks', 'the demo API refuses proofs with a wrong htm or htu, an old iat, no or a made-up nonce, a private jwk, or a replayed jti', async () => {
  const token = seen.tokens.at(-1).accessToken;
  const url = `${api.origin}/api/whoami`;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const nonce = (await fetch(url)).headers.get('dpop-nonce');
  const ath = createHash('sha256').update(token).digest('base64url');
  const sign = (claims, jwk) => new SignJWT({ htm: 'GET', htu: url, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), nonce, ath, ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk }).sign(privateKey);
  const pub = await exportJWK(publicKey);
  const cases = [
    ['htm', await sign({ htm: 'POST' }, pub), /htm/],
    ['htu', await sign({ htu: `${api.origin}/api/other` }, pub), /htu/],
    ['iat', await sign({ iat: Math.floor(Date.now() / 1000) - 120 }, pub), /iat/],
    ['no nonce', await sign({ nonce: undefined }, pub), /nonce is required/],
    ['made-up nonce', await sign({ nonce: 'abc.def' }, pub), /nonce is stale/],
    ['ath', await sign({ ath: 'x'.repeat(43) }, pub), /ath/],
    ['private jwk', await sign({}, await exportJWK(privateKey)), /private/],
  ];
  const replayed = await sign({}, pub);
  cases.push(['first use', replayed, /cnf\.jkt/], ['replayed jti', replayed, /replay/]);
  for (const [name, proof, why] of cases) {
    const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    const body = await res.json();
    assert(res.status === 401 && why.test(body.error_description), `${name}: ${res.status} ${JSON.stringify(body)}`);
  }
});

await step('logout', 'logout: RP-initiated logout completes, the session leaves Redis, the refresh token is revoked with private_key_jwt', async () => {
  await pageA.goto(`${pod1.origin}/`);
  const lastRefresh = seen.tokens.at(-1).refreshToken;
  assert(await op.provider.RefreshToken.find(lastRefresh), 'the refresh token is live before logout');
  const res = await pageA.request.post(`${pod1.origin}/auth/logout`, { headers: { 'X-CSRF': '1' }, maxRedirects: 0 });
  assert(res.status() === 302, `logout HTTP ${res.status()}`);
  const location = new URL(res.headers().location);
  assert(`${location.origin}${location.pathname}` === discovery.end_session_endpoint, `end-session endpoint ${location}`);
  assert(location.searchParams.get('id_token_hint') && location.searchParams.get('post_logout_redirect_uri') === `${stack.publicUrl}/auth/logged-out`, 'id_token_hint, post_logout_redirect_uri');
  assert(await sessionCount(redis.port) === 0, 'the session is deleted from Redis');
  await waitFor('the refresh token revocation', () => seen.revocations.length > 0, 10_000);
  const [rev] = seen.revocations;
  assert(rev.client === 'bff' && rev.assertionType === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', `revocation ${JSON.stringify(rev)}`);
  assert(!(await op.provider.RefreshToken.find(lastRefresh)), 'the refresh token still works at the provider');
  await pageA.goto(location.toString());
  await screenshot(pageA, 'provider-logout-confirm');
  await pageA.click('button[name=logout][value=yes]');
  await pageA.waitForURL(`${pod1.origin}/auth/logged-out**`);
  await screenshot(pageA, 'logged-out');
  for (const pod of [pod1, pod2]) {
    const after = await fetch(`${pod.origin}/api/whoami`, { headers: { cookie: `bff=${alice.cookie}`, 'x-csrf': '1', accept: 'application/json' } });
    assert(after.status === 401, `${pod.name} with the old cookie: ${after.status}`);
  }
});

await browser.close();

// --- P5: bff with fapi2 refuses providers that lack what the profile needs --

/** What the FAPI 2.0 profile needs that `d` (a discovery document) lacks. */
function lacking(d) {
  const has = (list, v) => Array.isArray(list) && list.includes(v);
  return [
    !d.pushed_authorization_request_endpoint && 'pushed_authorization_request_endpoint',
    !has(d.token_endpoint_auth_methods_supported, 'private_key_jwt') && 'private_key_jwt',
    !has(d.dpop_signing_alg_values_supported, 'ES256') && 'dpop_signing_alg_values_supported',
    !has(d.code_challenge_methods_supported, 'S256') && 'code_challenge_methods_supported',
    d.authorization_response_iss_parameter_supported !== true && 'authorization_response_iss_parameter_supported',
    !(has(d.id_token_signing_alg_values_supported, 'ES256') || has(d.id_token_signing_alg_values_supported, 'PS256')) && 'id_token_signing_alg_values_supported',
  ].filter(Boolean);
}
const ALL_NEEDS = ['pushed_authorization_request_endpoint', 'private_key_jwt', 'dpop_signing_alg_values_supported', 'code_challenge_methods_supported', 'authorization_response_iss_parameter_supported', 'id_token_signing_alg_values_supported'];

async function refusal(name, customize, mustLack) {
  const plain = await startProvider({ port: await freePort(), bffOrigin: stack.publicUrl, clientSecret: randomBytes(24).toString('base64url'), customize });
  try {
    const d = await (await fetch(`${plain.issuer}/.well-known/openid-configuration`)).json();
    const missing = lacking(d);
    for (const m of mustLack) assert(missing.includes(m), `the provider was expected to lack ${m}`);
    const out = await startExpectingExit(name, BFF_BIN, { ...stack.env, BFF_ISSUER_URL: plain.issuer }, `${OUT}/logs`, 10_000);
    assert(!out.timedOut, 'bff did not exit within 10 s');
    assert(out.code !== 0 && out.code !== null, `bff exited with ${out.code} (${out.signal})`);
    await sleep(100); // the log stream drains
    const lines = readFileSync(`${OUT}/logs/${name}.log`, 'utf8').split('\n').filter((l) => l.includes('the provider cannot satisfy BFF_SECURITY_PROFILE=fapi2: missing'));
    assert(lines.length === 1, `${lines.length} refusal lines in ${name}.log`);
    for (const need of ALL_NEEDS) {
      assert(lines[0].includes(need) === missing.includes(need), `the refusal ${missing.includes(need) ? 'does not name' : 'names'} ${need}: ${lines[0]}`);
    }
    return `exit ${out.code} in ${out.ms} ms, missing ${missing.join(', ')}`;
  } finally {
    await plain.close();
  }
}

await step('refuse-plain', 'bff (fapi2) refuses to start against the plain e2e provider (RS256 ID tokens only) and names what is missing', async () => {
  return refusal('bff-refuse-plain', undefined, ['id_token_signing_alg_values_supported']);
}, { always: true });

await step('refuse-bare', 'bff (fapi2) refuses a provider without PAR, DPoP and private_key_jwt, naming all of them', async () => {
  const bare = (config) => ({
    ...config,
    clientAuthMethods: ['client_secret_basic'],
    features: { ...config.features, pushedAuthorizationRequests: { enabled: false }, dPoP: { enabled: false } },
  });
  return refusal('bff-refuse-bare', bare, ['pushed_authorization_request_endpoint', 'private_key_jwt', 'dpop_signing_alg_values_supported', 'id_token_signing_alg_values_supported']);
}, { always: true });

await stack.close();
finish();
