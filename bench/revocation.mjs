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
// Writes target/bench/revocation.md.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
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
  extraEnv: { RUST_LOG: 'warn', BFF_LOGIN_RATE: '0', BFF_ADMIN_TOKEN: ADMIN_TOKEN },
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
  for (let tries = 1; ; tries += 1) {
    const status = await get(podB, cookie);
    if (status === 401) return { tries, ms: Number(process.hrtime.bigint() - acked) / 1e6, servedMs };
    if (status !== 200) throw new Error(`${kind} trial ${n}: pod B answered ${status}`);
    if (tries > 10_000) throw new Error(`${kind} trial ${n}: pod B still serves the session`);
  }
}

const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const lines = ['# Revocation reaching the other pod under load', '',
  `Command: \`node bench/revocation.mjs\` (BENCH_REVOCATIONS=${TRIALS} per kind). Two bff pods on one Redis, session cache on (default staleness bound 1 s), both pods loaded by \`wrk -t1 -c8\` with another session throughout; each trial warms its session in pod B's cache, ends it on pod A, then asks pod B until it refuses.`, '',
  '| ended by | first request after the ack refused | ack → first refusal p50 | p99 | max | a served hit on pod B, p50 / p99 |', '|---|---:|---:|---:|---:|---:|'];
for (const kind of ['logout', 'revoke']) {
  const results = [];
  for (let n = 0; n < TRIALS; n += 1) results.push(await trial(kind, n));
  const ms = results.map((r) => r.ms);
  const served = results.map((r) => r.servedMs);
  const first = results.filter((r) => r.tries === 1).length;
  const row = `| ${kind === 'logout' ? 'logout on pod A' : 'operator revoke on pod A'} | ${first} of ${TRIALS} | ${quantile(ms, 0.5).toFixed(2)} ms | ${quantile(ms, 0.99).toFixed(2)} ms | ${Math.max(...ms).toFixed(2)} ms | ${quantile(served, 0.5).toFixed(2)} / ${quantile(served, 0.99).toFixed(2)} ms |`;
  console.error(row);
  lines.push(row);
}
lines.push('', 'The times include one request round trip to pod B under the load (the first request after the ack is the earliest possible refusal); the last column is that round trip for a request pod B serves from its cache.');
writeFileSync(`${OUT}/revocation.md`, `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
for (const w of loaders) w.kill('SIGTERM');
await stack.close();
await stop(upstream.child);
process.exit(0);
