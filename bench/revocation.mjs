// How fast a revocation on one pod reaches the other pod's warm session
// cache, under load (run through bench/run.sh, or: node bench/revocation.mjs
// after it has built everything). Two bff pods share one Redis, both with
// the cache on; wrk loads both pods with another session the whole time
// (-t1 -c8 each). Each trial: a fresh scripted login, its cache entry
// warmed on pod B, then the session is ended on pod A (logout, or operator
// revoke on A's admin listener); from the moment A's answer arrives, pod B
// is asked again and again until it refuses (401). Reports, per kind, how
// many first requests after the acknowledgement were already refused, and
// p50 / p99 / max of the time from acknowledgement to the first refusal.
// It also reads, from pod B's debug log (`bff::session::cache::listener`,
// microsecond timestamps, same host clock), when B applied the session's
// invalidation push: the propagation itself, without B's request round trip.
// Writes target/bench/revocation.md.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { Jar, scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { startBenchUpstream } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const TRIALS = Number(process.env.BENCH_REVOCATIONS ?? 200);
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
mkdirSync(OUT, { recursive: true });
setTimeout(() => { console.error('revocation bench timed out'); process.exit(2); }, 15 * 60_000).unref();

const upstream = await startBenchUpstream(OUT, { name: 'upstream-revocation' });
const stack = await startStack({
  bffBinary: process.env.BFF_BIN ?? `${ROOT}target/dist/bff`, pods: 2, logDir: `${OUT}/stack-revocation`,
  upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
  extraEnv: { RUST_LOG: 'warn,bff::session::cache::listener=debug', BFF_LOGIN_RATE: '0', BFF_ADMIN_TOKEN: ADMIN_TOKEN },
});
const [podA, podB] = stack.bffs;
const load = await scriptedLogin(stack.publicUrl, 'load');
const loaders = [podA, podB].map((pod) => spawn('wrk', ['-t1', '-c8', '-d600s', '-H', `Cookie: bff=${load}`, `${pod.origin}/api/bench`], { stdio: 'ignore' }));

const get = (pod, cookie) => fetch(`${pod.origin}/api/bench`, { headers: { cookie: `bff=${cookie}` } })
  .then(async (res) => { await res.arrayBuffer(); return res.status; });

/** Ends the session `cookie` (from `jar`) on pod A the way `kind` says. */
async function end(kind, cookie, jar) {
  if (kind === 'logout') {
    return fetch(`${podA.origin}/auth/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(`${podA.origin}/`), 'x-csrf': '1' } });
  }
  const session = await fetch(`${podA.origin}/auth/session`, { headers: { cookie: `bff=${cookie}` } }).then((r) => r.json());
  const res = await fetch(`http://127.0.0.1:${podA.admin}/admin/sessions?sub=${encodeURIComponent(session.sub)}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return res;
}

async function trial(kind, n) {
  const jar = new Jar();
  const cookie = await scriptedLogin(stack.publicUrl, `${kind}${n}`, jar);
  // Two requests on B: the first admits the record, the second is a hit.
  let servedMs = 0;
  for (let i = 0; i < 2; i += 1) {
    const t0 = process.hrtime.bigint();
    const status = await get(podB, cookie);
    servedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (status !== 200) throw new Error(`${kind} trial ${n}: warm-up on pod B got ${status}`);
  }
  const ended = await end(kind, cookie, jar);
  await ended.arrayBuffer();
  if (ended.status >= 400) throw new Error(`${kind} trial ${n}: ending the session got ${ended.status}`);
  const acked = process.hrtime.bigint();
  const ackedWallMs = Date.now(); // the log's clock (1 ms resolution)
  for (let tries = 1; ; tries += 1) {
    const status = await get(podB, cookie);
    if (status === 401) return { tries, ms: Number(process.hrtime.bigint() - acked) / 1e6, servedMs, ackedWallMs, logId: logIdOf(cookie) };
    if (status !== 200) throw new Error(`${kind} trial ${n}: pod B answered ${status}`);
    if (tries > 10_000) throw new Error(`${kind} trial ${n}: pod B still serves the session`);
  }
}

/** The session's log ID: base64url(SHA-256(id))[..8], as bff logs it. */
const logIdOf = (cookie) => createHash('sha256').update(Buffer.from(cookie, 'base64url')).digest('base64url').slice(0, 8);

/**
 * When pod B applied each session's last invalidation (the end of the
 * session; its login and idle touches push earlier ones): log ID -> epoch ms.
 */
function appliedOnB() {
  const applied = new Map();
  for (const line of readFileSync(`${OUT}/stack-revocation/${podB.name ?? 'bff2'}.log`, 'utf8').split('\n')) {
    if (!line.includes('invalidation applied')) continue;
    try {
      const event = JSON.parse(line);
      const id = event.session ?? event.fields?.session;
      if (id) applied.set(id, Date.parse(event.timestamp) + Number(event.timestamp.match(/\.\d{3}(\d{3})/)?.[1] ?? 0) / 1000);
    } catch { /* not a JSON line */ }
  }
  return applied;
}

const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const lines = ['# Revocation reaching the other pod under load', '',
  `Command: \`node bench/revocation.mjs\` (BENCH_REVOCATIONS=${TRIALS} per kind). Two bff pods on one Redis, session cache on (default staleness bound 1 s), both pods loaded by \`wrk -t1 -c8\` with another session throughout; each trial warms its session in pod B's cache, ends it on pod A, then asks pod B until it refuses.`, '',
  '| ended by | first request after the ack refused | ack → first refusal p50 | p99 | max | a served hit on pod B, p50 / p99 |', '|---|---:|---:|---:|---:|---:|'];
const pushRows = [];
for (const kind of ['logout', 'revoke']) {
  const results = [];
  for (let n = 0; n < TRIALS; n += 1) results.push(await trial(kind, n));
  await new Promise((r) => setTimeout(r, 100)); // the log thread writes every 5 ms
  const applied = appliedOnB();
  const lags = results.map((r) => (applied.has(r.logId) ? applied.get(r.logId) - r.ackedWallMs : NaN)).filter((x) => !Number.isNaN(x));
  // Every session's end must be found in B's log, or the measure is void.
  if (lags.length < TRIALS) throw new Error(`${kind}: only ${lags.length} of ${TRIALS} invalidations found in pod B's debug log`);
  pushRows.push(`| ${kind === 'logout' ? 'logout on pod A' : 'operator revoke on pod A'} | ${lags.length} of ${TRIALS} | ${lags.filter((x) => x <= 0).length} | ${quantile(lags, 0.5).toFixed(2)} ms | ${quantile(lags, 0.99).toFixed(2)} ms | ${Math.max(...lags).toFixed(2)} ms |`);
  console.error(pushRows.at(-1));
  const ms = results.map((r) => r.ms);
  const served = results.map((r) => r.servedMs);
  const first = results.filter((r) => r.tries === 1).length;
  const row = `| ${kind === 'logout' ? 'logout on pod A' : 'operator revoke on pod A'} | ${first} of ${TRIALS} | ${quantile(ms, 0.5).toFixed(2)} ms | ${quantile(ms, 0.99).toFixed(2)} ms | ${Math.max(...ms).toFixed(2)} ms | ${quantile(served, 0.5).toFixed(2)} / ${quantile(served, 0.99).toFixed(2)} ms |`;
  console.error(row);
  lines.push(row);
}
lines.push('', 'The times include one request round trip to pod B under the load (the first request after the ack is the earliest possible refusal); the last column is that round trip for a request pod B serves from its cache.');
lines.push('', '## The push itself', '', 'From the moment A\'s answer reached the client to the moment pod B applied the invalidation (its debug log\'s timestamp; same host clock, the ack read with `Date.now()`, so ±1 ms). Negative: B had already evicted the session before the client saw A\'s answer.', '',
  '| ended by | pushes found in B\'s log | already applied at the ack | ack → applied on B p50 | p99 | max |', '|---|---:|---:|---:|---:|---:|', ...pushRows);
writeFileSync(`${OUT}/revocation.md`, `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
for (const w of loaders) w.kill('SIGTERM');
await stack.close();
await stop(upstream.child);
process.exit(0);
