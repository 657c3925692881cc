// Where each request's CPU goes: user and system µs per request of the
// proxy (nginx or bff) and the upstream, for nginx, bff on
// `auth = "none"` and bff with a session, interleaved REPS x SECONDS.
//   node bench/cpu_split.mjs        (BFF_BIN, BENCH_REPS, BENCH_SECONDS)
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { TICK_SECONDS, cpuTimes, median, startBaselineProxy, startBenchUpstream, wrk } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BIN = process.env.BFF_BIN ?? `${ROOT}target/dist/bff`;

/** One wrk run; µs of user and system CPU per request of each of `pids`. */
async function measured(url, headers, pids) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuTimes(p)]));
  const r = await wrk(url, { threads: 2, conns: 16, seconds: SECONDS, headers });
  const us = (ticks) => (ticks * TICK_SECONDS * 1e6) / (r.rps * SECONDS);
  const res = { rps: r.rps };
  for (const [k, p] of Object.entries(pids)) {
    const after = cpuTimes(p);
    res[k] = [us(after.user - before[k].user), us(after.system - before[k].system)];
  }
  return res;
}

const upstream = await startBenchUpstream(OUT);
const proxy = await startBaselineProxy(OUT, upstream);
const stack = await startStack({
  bffBinary: BIN, pods: 1, logDir: `${OUT}/stack-cpu`, upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
  extraEnv: { RUST_LOG: 'warn' }, extraRoutes: [{ prefix: '/pub/', upstream: upstream.origin, auth: 'none' }],
});
const cookie = await scriptedLogin(stack.publicUrl, 'alice');
const bffPid = stack.bffs[0].child.pid;
const variants = [
  { key: 'nginx', url: `${proxy.origin}/api/bench`, headers: [], pid: proxy.child.pid },
  { key: 'bff-none', url: `${stack.bffs[0].origin}/pub/bench`, headers: [], pid: bffPid },
  { key: 'bff-session', url: `${stack.bffs[0].origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffPid },
];
const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
for (let rep = 0; rep < REPS; rep += 1) {
  for (const v of variants) runs[v.key].push(await measured(v.url, v.headers, { proxy: v.pid, upstream: upstream.child.pid }));
}
const f = (x) => x.toFixed(1);
console.log('variant       req/s   proxy usr/sys µs   upstream usr/sys   (per request, medians)');
for (const v of variants) {
  const rs = runs[v.key];
  const m = (k, i) => median(rs.map((r) => r[k][i]));
  console.log(`${v.key.padEnd(12)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(6)}   ${f(m('proxy', 0))} / ${f(m('proxy', 1))}   ${f(m('upstream', 0))} / ${f(m('upstream', 1))}`);
}
await stack.close();
await stop(proxy.child);
await stop(upstream.child);
process.exit(0);
