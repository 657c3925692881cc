// bff benchmark (run through bench/run.sh). Everything on 127.0.0.1:
//   upstream  nginx, 1 worker, `return 200` with a small JSON body
//   (i)   direct      wrk -> upstream
//   (ii)  nginx       wrk -> nginx reverse proxy (2 workers, keep-alive pool) -> upstream
//   (iii) bff         wrk -> bff (valid Redis-backed session cookie) -> upstream
//   (iv)  bff-401     wrk -> bff without a cookie (401 JSON, no upstream)
//   (v)   bff-noauth  wrk -> bff route with auth = "none" (proxy path without the
//                     session lookup: isolates Redis GET + HKDF + AES-GCM)
//   (vi)  bff-auto    as (iii), with BFF_WORKERS=auto (one worker per CPU)
//   (vii) bff-traced  as (iii), with OpenTelemetry tracing on (OTLP/HTTP
//                     export to the upstream nginx, which answers 200)
//   (viii) bff-info   as (iii), with RUST_LOG=info (the access log line)
//   (ix)  bff-before  as (iii), another build (BENCH_COMPARE_BIN=path), when set,
//                     with BENCH_COMPARE_ENV (JSON) settings on top
// Variants are interleaved, REPS times DURATION seconds each; medians reported.
// Then: Redis bytes per session (real logins), and bff RSS while Redis grows
// from 1k to 100k sessions (synthetic records, see results.md).
import { writeFileSync, mkdirSync } from 'node:fs';
import { redisCli, startBff, stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { Jar, scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { cpuTicks, median, redisMemory, rssMiB, seedSessions, startBaselineProxy, startBenchUpstream, ticksToCpuPercent, wrk } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const BFF_BIN = process.env.BFF_BIN ?? `${ROOT}target/dist/bff`;
const REPS = Number(process.env.BENCH_REPS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 500);
const GROWTH = [1_000, 10_000, 100_000];
const THREADS = 2;
const CONNS = 16;
mkdirSync(OUT, { recursive: true });
const log = (...a) => console.error('[bench]', ...a);
setTimeout(() => { log('bench timed out'); process.exit(2); }, 30 * 60_000).unref();

const upstream = await startBenchUpstream(OUT);
const proxy = await startBaselineProxy(OUT, upstream);
const stack = await startStack({
  bffBinary: BFF_BIN, pods: 1, logDir: `${OUT}/stack`, upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
  // Request logging off, as for nginx (access_log off); see results.md.
  extraEnv: { RUST_LOG: 'warn', BFF_LOGIN_RATE: '0', ...(process.env.BFF_WORKERS ? { BFF_WORKERS: process.env.BFF_WORKERS } : {}) },
  extraRoutes: [{ prefix: '/pub/', upstream: upstream.origin, auth: 'none' }],
});
const [bff] = stack.bffs;
// The same bff with one worker per CPU (BFF_WORKERS=auto), sharing the Redis.
const CPUS = (await import('node:os')).availableParallelism();
const bffAuto = await startBff('bff-auto', BFF_BIN, { ...stack.env, BFF_WORKERS: 'auto' }, `${OUT}/stack`);
// Tracing on, and the access log on: the same bff otherwise.
const bffTraced = await startBff('bff-traced', BFF_BIN, { ...stack.env, OTEL_EXPORTER_OTLP_ENDPOINT: upstream.origin }, `${OUT}/stack`);
const bffInfo = await startBff('bff-info', BFF_BIN, { ...stack.env, RUST_LOG: 'info' }, `${OUT}/stack`);
// Before and after in one run: another build of bff, same settings.
const COMPARE_BIN = process.env.BENCH_COMPARE_BIN;
// BENCH_COMPARE_ENV (JSON) adds settings to it, e.g. {"RUST_LOG":"info"}.
const COMPARE_ENV = JSON.parse(process.env.BENCH_COMPARE_ENV ?? '{}');
const bffBefore = COMPARE_BIN ? await startBff('bff-before', COMPARE_BIN, { ...stack.env, ...COMPARE_ENV }, `${OUT}/stack`) : null;
const redisPid = stack.redis.child.pid;
log(`upstream ${upstream.origin}, proxy ${proxy.origin}, bff ${bff.origin} (pid ${bff.child.pid}), redis :${stack.redis.port}`);

// A real session: scripted login through the provider's login form.
const cookie = await scriptedLogin(stack.publicUrl, 'alice');
const check = await fetch(`${bff.origin}/api/bench`, { headers: { cookie: `bff=${cookie}` } });
if (check.status !== 200) throw new Error(`session cookie does not work: HTTP ${check.status}`);

const variants = [
  { key: 'direct', label: '(i) upstream directly', url: `${upstream.origin}/api/bench`, pid: upstream.child.pid },
  { key: 'nginx', label: '(ii) nginx reverse proxy', url: `${proxy.origin}/api/bench`, pid: proxy.child.pid },
  { key: 'bff', label: '(iii) bff, valid session', url: `${bff.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bff.child.pid, expect2xx: true },
  { key: 'bff401', label: '(iv) bff, no cookie (401)', url: `${bff.origin}/api/bench`, pid: bff.child.pid, expect401: true },
  { key: 'bffnoauth', label: '(v) bff, auth = "none" route', url: `${bff.origin}/pub/bench`, pid: bff.child.pid },
  { key: 'bffauto', label: `(vi) bff, valid session, BFF_WORKERS=auto (${CPUS} workers)`, url: `${bffAuto.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffAuto.child.pid, expect2xx: true },
  { key: 'bfftraced', label: '(vii) bff, valid session, OpenTelemetry tracing on', url: `${bffTraced.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffTraced.child.pid, expect2xx: true },
  { key: 'bffinfo', label: '(viii) bff, valid session, RUST_LOG=info (access log)', url: `${bffInfo.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffInfo.child.pid, expect2xx: true },
];
if (bffBefore) variants.push({ key: 'bffbefore', label: `(ix) bff, valid session, ${COMPARE_BIN} ${process.env.BENCH_COMPARE_ENV ?? ''}`, url: `${bffBefore.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffBefore.child.pid, expect2xx: true });

const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
for (let rep = 1; rep <= REPS; rep += 1) {
  for (const v of variants) {
    const procs = { proxy: v.pid, bff: bff.child.pid, redis: redisPid, upstream: upstream.child.pid };
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuTicks(pid)]));
    const t0 = process.hrtime.bigint();
    const r = await wrk(v.url, { threads: THREADS, conns: CONNS, seconds: SECONDS, headers: v.headers });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    r.cpu = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, ticksToCpuPercent(cpuTicks(pid) - before[k], secs)]));
    if (v.expect2xx && r.non2xx) throw new Error(`${v.key}: ${r.non2xx} non-2xx responses`);
    if (v.expect401 && !r.non2xx) throw new Error(`${v.key}: expected 401s`);
    runs[v.key].push(r);
    log(`rep ${rep}/${REPS} ${v.key.padEnd(9)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ${r.errors}`);
  }
}
const bffRss = rssMiB(bff.child.pid);

// Latency without queueing: one connection, closed loop (-t1 -c1), 5 s each.
const single = {};
for (const v of variants.filter((x) => ['direct', 'nginx', 'bff'].includes(x.key))) {
  single[v.key] = await wrk(v.url, { threads: 1, conns: 1, seconds: 5, headers: v.headers });
  log(`c1 ${v.key.padEnd(9)} ${single[v.key].rps.toFixed(0)} req/s  p50 ${single[v.key].p50} ms  p99 ${single[v.key].p99} ms`);
}

// Redis bytes per session: INFO used_memory around SESSIONS real logins
// (8 concurrent scripted browsers; pending-login keys are consumed by the
// callback, so only session records remain).
const memBefore = await redisMemory(redisCli, stack.redis.port);
const loginStart = Date.now();
let next = 0;
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next < SESSIONS) { next += 1; await scriptedLogin(stack.publicUrl, `user${next}`, new Jar()); }
}));
const loginSecs = (Date.now() - loginStart) / 1000;
const memAfter = await redisMemory(redisCli, stack.redis.port);
const sampleKey = (await redisCli(stack.redis.port, ['--scan', '--pattern', 'bff:s:*'])).split('\n')[0];
const recordBytes = Number((await redisCli(stack.redis.port, ['STRLEN', sampleKey])).trim());
const usage = Number((await redisCli(stack.redis.port, ['MEMORY', 'USAGE', sampleKey])).trim());
// Each session is four keys: record, metadata, and its sub/sid index entries.
const perSession = (memAfter.used - memBefore.used) / SESSIONS;

// bff RSS while Redis grows: synthetic records of the real record size.
// Levels count session records (`bff:s:*`): the real ones (alice plus the
// scripted logins) and the synthetic ones seeded so far.
const growth = [];
let sessions = SESSIONS + 1;
for (const target of GROWTH) {
  if (target > sessions) await seedSessions(stack.redis.port, target - sessions, recordBytes);
  sessions = Math.max(sessions, target);
  // nginx right before, so a noisy moment on the machine shows as such.
  const base = await wrk(`${proxy.origin}/api/bench`, { threads: THREADS, conns: CONNS, seconds: 5 });
  const r = await wrk(`${bff.origin}/api/bench`, { threads: THREADS, conns: CONNS, seconds: 5, headers: [`Cookie: bff=${cookie}`] });
  const mem = await redisMemory(redisCli, stack.redis.port);
  growth.push({ sessions, keys: mem.keys, used: mem.used, redisMiB: mem.used / 2 ** 20, ...rssMiB(bff.child.pid), rps: r.rps, p99: r.p99, nginx: base });
  log(`${sessions} sessions (${mem.keys} keys): bff RSS ${growth.at(-1).rss.toFixed(1)} MiB, ${r.rps.toFixed(0)} req/s (nginx ${base.rps.toFixed(0)})`);
}

await stop(bffAuto.child);
await stop(bffTraced.child);
await stop(bffInfo.child);
if (bffBefore) await stop(bffBefore.child);
await stack.close();
await stop(proxy.child);
await stop(upstream.child);

// --- report --------------------------------------------------------------
const m = Object.fromEntries(variants.map((v) => {
  const rs = runs[v.key];
  const cpu = (k) => median(rs.map((r) => r.cpu[k]));
  return [v.key, { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)),
    cpu: { proxy: cpu('proxy'), bff: cpu('bff'), redis: cpu('redis'), upstream: cpu('upstream') }, all: rs.map((r) => r.rps) }];
}));
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (a, b) => `${f((100 * a) / b)} %`;
const proxyCpu = (k) => (k === 'direct' ? '-' : `${f(m[k].cpu.proxy)} %`);
const lines = [
  '# bff benchmark',
  '',
  `Command: \`bench/run.sh\` (BENCH_REPS=${REPS}, BENCH_SECONDS=${SECONDS}). Load: \`wrk -t${THREADS} -c${CONNS} -d${SECONDS}s --latency\`, ${REPS} repetitions per variant, variants interleaved, medians shown. Machine: ${(await import('node:os')).cpus().length} cores shared by wrk, the proxy, Redis and the upstream; all on 127.0.0.1.`,
  'bff: release build with thin LTO as shipped (`cargo build --profile dist`), `RUST_LOG=warn` (no per-request log line; nginx runs with `access_log off`), default settings (one worker thread) unless the row says otherwise. Upstream: nginx, 1 worker, `return 200` small JSON. Baseline proxy: nginx, 2 workers, HTTP/1.1 keep-alive pool to the upstream.',
  '',
  '| variant | req/s | p50 ms | p99 ms | CPU proxy/bff | CPU Redis | CPU upstream | req/s per run |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  ...variants.map((v) => `| ${v.label} | ${f(m[v.key].rps)} | ${f(m[v.key].p50, 3)} | ${f(m[v.key].p99, 3)} | ${proxyCpu(v.key)} | ${f(m[v.key].cpu.redis)} % | ${f(m[v.key].cpu.upstream)} % | ${m[v.key].all.map((x) => f(x)).join(', ')} |`),
  '',
  'CPU: share of one core over the run, from /proc/<pid>/stat utime+stime deltas (nginx: master + workers).',
  '',
  `- (iii)/(ii) bff with session vs nginx: **${pct(m.bff.rps, m.nginx.rps)}** (target >= 50 %)`,
  `- (iii)/(i) bff with session vs upstream directly: **${pct(m.bff.rps, m.direct.rps)}**`,
  `- (v)/(ii) bff without session lookup vs nginx: ${pct(m.bffnoauth.rps, m.nginx.rps)}; (iii)/(v) cost of the session lookup: ${pct(m.bff.rps, m.bffnoauth.rps)} of the no-lookup throughput`,
  `- bff p99 with session: **${f(m.bff.p99, 3)} ms** (target <= 2 ms)`,
  `- (vi) with BFF_WORKERS=auto (${CPUS} workers): ${pct(m.bffauto.rps, m.nginx.rps)} of nginx, p99 ${f(m.bffauto.p99, 3)} ms, CPU ${f(m.bffauto.cpu.proxy)} %`,
  `- (vii) OpenTelemetry tracing on vs (iii) off: ${pct(m.bfftraced.rps, m.bff.rps)} of the throughput (${pct(m.bfftraced.rps, m.nginx.rps)} of nginx), p99 ${f(m.bfftraced.p99, 3)} ms; tracing off costs one atomic load per request`,
  `- (viii) access log at info vs (iii) warn: ${pct(m.bffinfo.rps, m.bff.rps)} of the throughput (${pct(m.bffinfo.rps, m.nginx.rps)} of nginx), p99 ${f(m.bffinfo.p99, 3)} ms`,
  ...(bffBefore ? [`- (iii) this build vs (ix) ${COMPARE_BIN}: ${pct(m.bff.rps, m.bffbefore.rps)} of its throughput; p99 ${f(m.bff.p99, 3)} vs ${f(m.bffbefore.p99, 3)} ms`] : []),
  `- Latency with one connection (wrk -t1 -c1 -d5s, no queueing): upstream p50/p99 ${f(single.direct.p50, 3)}/${f(single.direct.p99, 3)} ms, nginx ${f(single.nginx.p50, 3)}/${f(single.nginx.p99, 3)} ms, **bff with session ${f(single.bff.p50, 3)}/${f(single.bff.p99, 3)} ms**`,
  `- bff RSS after the load runs: **${f(bffRss.rss, 1)} MiB** (peak ${f(bffRss.hwm, 1)} MiB; target <= 64 MiB)`,
  '',
  '## Redis memory per session',
  '',
  `${SESSIONS} sessions created by real scripted logins (bff /auth/login -> provider login form -> callback; 8 concurrent, ${f(loginSecs, 1)} s, ${f(SESSIONS / loginSecs, 0)} logins/s): INFO used_memory ${memBefore.used} -> ${memAfter.used} bytes for ${SESSIONS} sessions (${memAfter.keys - memBefore.keys} keys: record, metadata, sub and sid index entries) = **${f(perSession)} bytes per session** (record STRLEN ${recordBytes} bytes, MEMORY USAGE of one key ${usage} bytes). The record holds this provider's tokens: a ~43-character opaque access token and refresh token plus an RS256 ID token; Keycloak's JWT access and refresh tokens are larger (about 3-4 KB per record).`,
  '',
  '## bff RSS as Redis grows',
  '',
  `Sessions beyond the real ones are synthetic records written with \`redis-cli --pipe\` (keys \`bff:s:{<22 random chars>}\`, ${recordBytes} random bytes, 8 h TTL). bff keeps no per-session state in the process and reads one key per request, so its work does not depend on the number of keys; each level runs wrk 5 s against nginx and then 5 s against bff with the real session.`,
  '',
  `Redis bytes per synthetic record between ${growth[0].sessions} and ${growth.at(-1).sessions} sessions: ${f((growth.at(-1).used - growth[0].used) / (growth.at(-1).keys - growth[0].keys))} bytes.`,
  '',
  '| sessions in Redis | keys in Redis | Redis used_memory MiB | bff RSS MiB | bff peak RSS MiB | bff req/s | bff p99 ms | nginx req/s | nginx p99 ms | bff / nginx |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...growth.map((g) => `| ${g.sessions} | ${g.keys} | ${f(g.redisMiB, 1)} | ${f(g.rss, 1)} | ${f(g.hwm, 1)} | ${f(g.rps)} | ${f(g.p99, 3)} | ${f(g.nginx.rps)} | ${f(g.nginx.p99, 3)} | ${pct(g.rps, g.nginx.rps)} |`),
  '',
];
writeFileSync(`${OUT}/results.md`, lines.join('\n'));
writeFileSync(`${OUT}/raw.json`, JSON.stringify({ runs, growth, memBefore, memAfter }, (k, v) => (k === 'raw' ? undefined : v), 2));
console.log(lines.join('\n'));
process.exit(0);
