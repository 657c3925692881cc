// Quick A/B check while working on performance (run: node bench/compare.mjs
// after bench/run.sh has built everything). Same set-up as bench.mjs, but
// only the nginx baseline and bff with a session (and optionally a second
// bff binary, BFF_BIN_B), interleaved REPS x SECONDS; prints medians and
// the ratio to nginx measured in the same run (BENCH_RUST_LOG=info: both with
// the access log; BFF_ENV_B='{"BFF_WORKERS":"2"}': settings for B only;
// BENCH_PATH=/pub/bench: the auth = "none" route). bench/run.sh stays the
// number of record.
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { median, startBaselineProxy, startBenchUpstream, wrk } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const binaries = { a: process.env.BFF_BIN ?? `${ROOT}target/dist/bff`, b: process.env.BFF_BIN_B };
const ENV_B = JSON.parse(process.env.BFF_ENV_B ?? '{}');
const PATH = process.env.BENCH_PATH ?? '/api/bench';
setTimeout(() => { console.error('compare timed out'); process.exit(2); }, 20 * 60_000).unref();

const upstream = await startBenchUpstream(OUT);
const proxy = await startBaselineProxy(OUT, upstream);
const variants = [{ key: 'nginx', url: `${proxy.origin}/api/bench`, headers: [] }];
const stacks = [];
for (const [name, bin] of Object.entries(binaries).filter(([, bin]) => bin)) {
  const stack = await startStack({
    bffBinary: bin, pods: 1, logDir: `${OUT}/stack-compare-${name}`, upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
    extraEnv: { RUST_LOG: process.env.BENCH_RUST_LOG ?? 'warn', ...(process.env.BFF_WORKERS ? { BFF_WORKERS: process.env.BFF_WORKERS } : {}), ...(name === 'b' ? ENV_B : {}) },
    extraRoutes: [{ prefix: '/pub/', upstream: upstream.origin, auth: 'none' }],
  });
  stacks.push(stack);
  const cookie = await scriptedLogin(stack.publicUrl, 'alice');
  variants.push({ key: `bff-${name}`, url: `${stack.bffs[0].origin}${PATH}`, headers: [`Cookie: bff=${cookie}`] });
}

const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
for (let rep = 1; rep <= REPS; rep += 1) {
  for (const v of variants) {
    const r = await wrk(v.url, { threads: 2, conns: 16, seconds: SECONDS, headers: v.headers });
    if (v.key !== 'nginx' && r.non2xx) throw new Error(`${v.key}: ${r.non2xx} non-2xx responses`);
    runs[v.key].push(r);
    console.error(`rep ${rep} ${v.key.padEnd(6)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(3)}  p99 ${r.p99.toFixed(3)} ms`);
  }
}
const base = median(runs.nginx.map((r) => r.rps));
for (const v of variants) {
  const rps = median(runs[v.key].map((r) => r.rps));
  const p99 = median(runs[v.key].map((r) => r.p99));
  console.log(`${v.key.padEnd(6)} ${rps.toFixed(0).padStart(7)} req/s  ${((100 * rps) / base).toFixed(0).padStart(3)} % of nginx  p99 ${p99.toFixed(3)} ms`);
}
for (const stack of stacks) await stack.close();
await stop(proxy.child);
await stop(upstream.child);
process.exit(0);
