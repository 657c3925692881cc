// bff benchmark (run through bench/run.sh). Everything on 127.0.0.1:
//   upstream  nginx, 1 worker, `return 200` with a small JSON body
//   (i)   direct      wrk -> upstream
//   (ii)  nginx       wrk -> nginx reverse proxy (2 workers, keep-alive pool) -> upstream
//   (iii) bff         wrk -> bff (valid Redis-backed session cookie) -> upstream
//   (iv)  bff-401     wrk -> bff without a cookie (401 JSON, no upstream)
//   (v)   bff-noauth  wrk -> bff route with auth = "none" (proxy path without the
//                     session lookup: isolates Redis GET + HKDF + AES-GCM)
//   (vi)  bff-one     as (iii), with BFF_WORKERS=1 (the default is one worker per CPU)
//   (vii) bff-traced  as (iii), with OpenTelemetry tracing on (OTLP/HTTP
//                     export to the upstream nginx, which answers 200)
//   (viii) bff-info   as (iii), with RUST_LOG=info (the access log line)
//   (ix)  bff-before  as (iii) and (v), another build (BENCH_COMPARE_BIN=path,
//                     named by BENCH_COMPARE_LABEL), when set, with
//                     BENCH_COMPARE_ENV (JSON) settings on top; bench/run.sh
//                     sets it to the plain build (no PGO)
//   (x)   bff-off     as (iii), with BFF_SESSION_CACHE=off (a Redis GET per request)
//   (xi)  64 conns    nginx, (iii) and (v) with wrk -c64
//   (xii) upstream2   nginx, (iii) and (v) against a second upstream with 2
//                     workers (as independent runs set it up), -c16 and -c64
//   (xiii) bff-dpop   as (iii), on a `dpop = true` route: the token goes as
//                     `Authorization: DPoP` with a fresh ES256 proof per request
// Variants are interleaved, REPS times DURATION seconds each; medians reported.
// Then: Redis bytes per session (real logins); 10,000 distinct sessions in
// rotation (wrk Lua over a cookie file) against nginx; bff RSS with 1k, 10k
// and 100k sessions hot (real sealed sessions seeded into Redis).
import { writeFileSync, mkdirSync } from 'node:fs';
import { redisCli, startBff, stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { Jar, scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { cpuTicks, median, redisMemory, rssMiB, startBaselineProxy, startBenchUpstream, startNginx, ticksToCpuPercent, wrk } from './lib.mjs';
import { hotGrowth, rotation, seeder } from './sessions.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const BFF_BIN = process.env.BFF_BIN ?? `${ROOT}target/dist/bff`;
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 500);
const GROWTH = [1_000, 10_000, 100_000];
const ROTATION = Number(process.env.BENCH_ROTATION ?? 10_000);
const HOT_CACHE = process.env.BENCH_HOT_CACHE ?? '64MiB';
const THREADS = 2;
const CONNS = 16;
mkdirSync(OUT, { recursive: true });
const log = (...a) => console.error('[bench]', ...a);
setTimeout(() => { log('bench timed out'); process.exit(2); }, 40 * 60_000).unref();

const upstream = await startBenchUpstream(OUT);
const proxy = await startBaselineProxy(OUT, upstream);
// The independent runs' upstream: nginx with 2 workers, and a proxy to it.
const upstream2 = await startBenchUpstream(OUT, { name: 'upstream2', workers: 2 });
const proxy2 = await startBaselineProxy(OUT, upstream2, 'proxy2');
const stack = await startStack({
  bffBinary: BFF_BIN, pods: 1, logDir: `${OUT}/stack`, upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
  // Request logging off, as for nginx (access_log off); see results.md.
  extraEnv: { RUST_LOG: 'warn', BFF_LOGIN_RATE: '0', ...(process.env.BFF_WORKERS ? { BFF_WORKERS: process.env.BFF_WORKERS } : {}) },
  extraRoutes: [
    { prefix: '/pub/', upstream: upstream.origin, auth: 'none' },
    { prefix: '/pub2/', upstream: upstream2.origin, auth: 'none' },
    { prefix: '/api2/', upstream: upstream2.origin, auth: 'required' },
    // DPoP-bound on this route: sessions get a DPoP key at login.
    { prefix: '/dpop/', upstream: upstream.origin, auth: 'required', dpop: true },
  ],
});
const [bff] = stack.bffs;
// The same bff with one worker (BFF_WORKERS=1; the default is one per CPU), sharing the Redis.
const CPUS = (await import('node:os')).availableParallelism();
const bffAuto = await startBff('bff-one', BFF_BIN, { ...stack.env, BFF_WORKERS: '1' }, `${OUT}/stack`);
// Tracing on, and the access log on: the same bff otherwise.
const bffTraced = await startBff('bff-traced', BFF_BIN, { ...stack.env, OTEL_EXPORTER_OTLP_ENDPOINT: upstream.origin }, `${OUT}/stack`);
const bffInfo = await startBff('bff-info', BFF_BIN, { ...stack.env, RUST_LOG: 'info' }, `${OUT}/stack`);
const bffOff = await startBff('bff-off', BFF_BIN, { ...stack.env, BFF_SESSION_CACHE: 'off' }, `${OUT}/stack`);
// Sized to hold the 100k level's share (the default 16MiB holds ~11,000).
const bffHot = await startBff('bff-hot', BFF_BIN, { ...stack.env, BFF_SESSION_CACHE_SIZE: HOT_CACHE }, `${OUT}/stack`);
// Before and after in one run: another build of bff, same settings.
const COMPARE_BIN = process.env.BENCH_COMPARE_BIN;
// BENCH_COMPARE_ENV (JSON) adds settings to it, e.g. {"RUST_LOG":"info"}.
const COMPARE_ENV = JSON.parse(process.env.BENCH_COMPARE_ENV ?? '{}');
const COMPARE_LABEL = process.env.BENCH_COMPARE_LABEL ?? `${COMPARE_BIN} ${process.env.BENCH_COMPARE_ENV ?? ''}`;
// What BFF_BIN is, for the report's header.
const BUILD_LABEL = process.env.BENCH_BUILD_LABEL ?? 'release build with thin LTO (`cargo build --profile dist`)';
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
  { key: 'bffauto', label: '(vi) bff, valid session, BFF_WORKERS=1 (one worker)', url: `${bffAuto.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffAuto.child.pid, expect2xx: true },
  { key: 'bfftraced', label: '(vii) bff, valid session, OpenTelemetry tracing on', url: `${bffTraced.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffTraced.child.pid, expect2xx: true },
  { key: 'bffinfo', label: '(viii) bff, valid session, RUST_LOG=info (access log)', url: `${bffInfo.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffInfo.child.pid, expect2xx: true },
  { key: 'bffoff', label: '(x) bff, valid session, BFF_SESSION_CACHE=off', url: `${bffOff.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffOff.child.pid, expect2xx: true },
  { key: 'nginx64', label: '(xi) nginx reverse proxy, 64 conns', url: `${proxy.origin}/api/bench`, pid: proxy.child.pid, conns: 64 },
  { key: 'bff64', label: '(xi) bff, valid session, 64 conns', url: `${bff.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bff.child.pid, expect2xx: true, conns: 64 },
  { key: 'bffnoauth64', label: '(xi) bff, auth = "none", 64 conns', url: `${bff.origin}/pub/bench`, pid: bff.child.pid, conns: 64 },
  ...[16, 64].flatMap((conns) => [
    { key: `nginx2_${conns}`, label: `(xii) nginx reverse proxy, upstream2, ${conns} conns`, url: `${proxy2.origin}/api/bench`, pid: proxy2.child.pid, conns },
    { key: `bff2_${conns}`, label: `(xii) bff, valid session, upstream2, ${conns} conns`, url: `${bff.origin}/api2/bench`, headers: [`Cookie: bff=${cookie}`], pid: bff.child.pid, expect2xx: true, conns },
    { key: `bffnoauth2_${conns}`, label: `(xii) bff, auth = "none", upstream2, ${conns} conns`, url: `${bff.origin}/pub2/bench`, pid: bff.child.pid, conns },
  ]),
];
variants.push({ key: 'bffdpop', label: '(xiii) bff, valid session, dpop = true route (one ES256 proof per request)', url: `${bff.origin}/dpop/bench`, headers: [`Cookie: bff=${cookie}`], pid: bff.child.pid, expect2xx: true });
if (bffBefore) {
  variants.push({ key: 'bffbefore', label: `(ix) bff, valid session, ${COMPARE_LABEL}`, url: `${bffBefore.origin}/api/bench`, headers: [`Cookie: bff=${cookie}`], pid: bffBefore.child.pid, expect2xx: true });
  variants.push({ key: 'bffbeforenoauth', label: `(ix) bff, auth = "none" route, ${COMPARE_LABEL}`, url: `${bffBefore.origin}/pub/bench`, pid: bffBefore.child.pid });
}

const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
for (let rep = 1; rep <= REPS; rep += 1) {
  for (const v of variants) {
    const up = v.key.includes('2_') ? upstream2 : upstream;
    const procs = { proxy: v.pid, bff: bff.child.pid, redis: redisPid, upstream: up.child.pid };
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuTicks(pid)]));
    const t0 = process.hrtime.bigint();
    const r = await wrk(v.url, { threads: THREADS, conns: v.conns ?? CONNS, seconds: SECONDS, headers: v.headers });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    r.cpu = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, ticksToCpuPercent(cpuTicks(pid) - before[k], secs)]));
    if (v.expect2xx && r.non2xx) throw new Error(`${v.key}: ${r.non2xx} non-2xx responses`);
    if (v.expect401 && !r.non2xx) throw new Error(`${v.key}: expected 401s`);
    runs[v.key].push(r);
    log(`rep ${rep}/${REPS} ${v.key.padEnd(14)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ${r.errors}`);
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

// Hot sessions: real sealed sessions seeded into Redis, rotated by wrk.
const hot = seeder(stack.redis.port, stack.env.BFF_SESSION_KEYS, OUT, stack.op.issuer);
const proxyUrl = `${proxy.origin}/api/bench`;
// Levels up to the rotation's size first, so each level's cache holds only
// its own sessions; the rotation; then the larger levels.
const grow = (levels) => hotGrowth({ bff: bffHot, proxyUrl, hot, levels, seconds: 5, threads: THREADS, conns: CONNS, log });
const growth = await grow(GROWTH.filter((n) => n <= ROTATION));
await hot.upTo(ROTATION);
const rot = await rotation({ bff: bffHot, proxyUrl, file: hot.first(ROTATION), reps: REPS, seconds: SECONDS, threads: THREADS, conns: CONNS, log });
growth.push(...await grow(GROWTH.filter((n) => n > ROTATION)));

await stop(bffAuto.child);
await stop(bffTraced.child);
await stop(bffInfo.child);
await stop(bffOff.child);
await stop(bffHot.child);
if (bffBefore) await stop(bffBefore.child);
await stack.close();
await stop(proxy.child);
await stop(upstream.child);
await stop(proxy2.child);
await stop(upstream2.child);

// --- report --------------------------------------------------------------
const m = Object.fromEntries(variants.map((v) => {
  const rs = runs[v.key];
  const cpu = (k) => median(rs.map((r) => r.cpu[k]));
  return [v.key, { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)),
    cpu: { proxy: cpu('proxy'), bff: cpu('bff'), redis: cpu('redis'), upstream: cpu('upstream') }, all: rs.map((r) => r.rps) }];
}));
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (a, b) => `${f((100 * a) / b)} %`;
// CPU microseconds bff spends per request (its share of a core / req/s).
const cpuUs = (k) => (m[k].cpu.proxy / 100) * 1e6 / m[k].rps;
const proxyCpu = (k) => (k === 'direct' ? '-' : `${f(m[k].cpu.proxy)} %`);
const lines = [
  '# bff benchmark',
  '',
  `Command: \`bench/run.sh\` (BENCH_REPS=${REPS}, BENCH_SECONDS=${SECONDS}). Load: \`wrk -t${THREADS} -c${CONNS} -d${SECONDS}s --latency\`, ${REPS} repetitions per variant, variants interleaved, medians shown. Machine: ${(await import('node:os')).cpus().length} cores shared by wrk, the proxy, Redis and the upstream; all on 127.0.0.1.`,
  `bff: ${BUILD_LABEL}, \`RUST_LOG=warn\` (no per-request log line; nginx runs with \`access_log off\`), default settings (\`BFF_WORKERS\` one per CPU: ${CPUS} here) unless the row says otherwise. Upstream: nginx, 1 worker, \`return 200\` small JSON. Baseline proxy: nginx, 2 workers, HTTP/1.1 keep-alive pool to the upstream.`,
  '',
  '| variant | req/s | p50 ms | p99 ms | CPU proxy/bff | CPU Redis | CPU upstream | req/s per run |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
  ...variants.map((v) => `| ${v.label} | ${f(m[v.key].rps)} | ${f(m[v.key].p50, 3)} | ${f(m[v.key].p99, 3)} | ${proxyCpu(v.key)} | ${f(m[v.key].cpu.redis)} % | ${f(m[v.key].cpu.upstream)} % | ${m[v.key].all.map((x) => f(x)).join(', ')} |`),
  '',
  'CPU: share of one core over the run, from /proc/<pid>/stat utime+stime deltas (nginx: master + workers).',
  '',
  `- (iii)/(ii) bff with session (cache on) vs nginx: **${pct(m.bff.rps, m.nginx.rps)}** at 16 conns, **${pct(m.bff64.rps, m.nginx64.rps)}** at 64 (target >= 80 %); p99 ${f(m.bff.p99, 3)} vs nginx ${f(m.nginx.p99, 3)} ms at 16, ${f(m.bff64.p99, 3)} vs ${f(m.nginx64.p99, 3)} ms at 64 (target <= nginx + 1 ms)`,
  `- (v)/(ii) bff on an auth = "none" route vs nginx: **${pct(m.bffnoauth.rps, m.nginx.rps)}** at 16 conns, **${pct(m.bffnoauth64.rps, m.nginx64.rps)}** at 64 (target >= 90 %); (iii)/(v) the session check costs ${pct(m.bff.rps, m.bffnoauth.rps)} of the no-session throughput`,
  `- (xii) with upstream2 (nginx, 2 workers): bff with session ${pct(m.bff2_16.rps, m.nginx2_16.rps)} / ${pct(m.bff2_64.rps, m.nginx2_64.rps)} of nginx at 16 / 64 conns; auth = "none" ${pct(m.bffnoauth2_16.rps, m.nginx2_16.rps)} / ${pct(m.bffnoauth2_64.rps, m.nginx2_64.rps)}`,
  `- (x) cache off vs nginx: ${pct(m.bffoff.rps, m.nginx.rps)} (p99 ${f(m.bffoff.p99, 3)} ms); cache on vs off: ${pct(m.bff.rps, m.bffoff.rps)} of the throughput`,
  `- ${ROTATION} distinct sessions in rotation (cache ${HOT_CACHE}; ${f(100 * rot.stats.hits / (rot.stats.hits + rot.stats.misses))} % hits over the runs): bff ${f(rot.bff.rps)} req/s, p99 ${f(rot.bff.p99, 3)} ms vs nginx under the same Lua script ${f(rot.nginx.rps)}: **${pct(rot.bff.rps, rot.nginx.rps)}** (target >= 75 %); against nginx under plain wrk (${f(rot.nginxPlain.rps)}) ${pct(rot.bff.rps, rot.nginxPlain.rps)}; per run bff ${rot.bff.all.map((x) => f(x)).join(', ')}, nginx ${rot.nginx.all.map((x) => f(x)).join(', ')}`,
  `- (iii)/(i) bff with session vs upstream directly: ${pct(m.bff.rps, m.direct.rps)}`,
  `- (xiii) DPoP-bound route vs (iii) bearer: ${pct(m.bffdpop.rps, m.bff.rps)} of the throughput (${pct(m.bffdpop.rps, m.nginx.rps)} of nginx), p99 ${f(m.bffdpop.p99, 3)} ms; bff CPU per request ${f(cpuUs('bffdpop'), 1)} µs vs ${f(cpuUs('bff'), 1)} µs: **a proof costs ${f(cpuUs('bffdpop') - cpuUs('bff'), 1)} µs of CPU**`,
  `- (vi) with BFF_WORKERS=1 (one worker; default ${CPUS}): ${pct(m.bffauto.rps, m.nginx.rps)} of nginx, p99 ${f(m.bffauto.p99, 3)} ms, CPU ${f(m.bffauto.cpu.proxy)} %`,
  `- (vii) OpenTelemetry tracing on vs (iii) off: ${pct(m.bfftraced.rps, m.bff.rps)} of the throughput (${pct(m.bfftraced.rps, m.nginx.rps)} of nginx), p99 ${f(m.bfftraced.p99, 3)} ms; tracing off costs one atomic load per request`,
  `- (viii) access log at info vs (iii) warn: ${pct(m.bffinfo.rps, m.bff.rps)} of the throughput (${pct(m.bffinfo.rps, m.nginx.rps)} of nginx), p99 ${f(m.bffinfo.p99, 3)} ms`,
  ...(bffBefore ? [`- (ix) ${COMPARE_LABEL}: with a session ${pct(m.bffbefore.rps, m.nginx.rps)} of nginx, p99 ${f(m.bffbefore.p99, 3)} ms; auth = "none" ${pct(m.bffbeforenoauth.rps, m.nginx.rps)} of nginx; this build does ${pct(m.bff.rps, m.bffbefore.rps)} / ${pct(m.bffnoauth.rps, m.bffbeforenoauth.rps)} of its throughput`] : []),
  `- Latency with one connection (wrk -t1 -c1 -d5s, no queueing): upstream p50/p99 ${f(single.direct.p50, 3)}/${f(single.direct.p99, 3)} ms, nginx ${f(single.nginx.p50, 3)}/${f(single.nginx.p99, 3)} ms, **bff with session ${f(single.bff.p50, 3)}/${f(single.bff.p99, 3)} ms**`,
  `- bff RSS after the load runs: **${f(bffRss.rss, 1)} MiB** (peak ${f(bffRss.hwm, 1)} MiB; target <= 64 MiB)`,
  '',
  '## Redis memory per session',
  '',
  `${SESSIONS} sessions created by real scripted logins (bff /auth/login -> provider login form -> callback; 8 concurrent, ${f(loginSecs, 1)} s, ${f(SESSIONS / loginSecs, 0)} logins/s): INFO used_memory ${memBefore.used} -> ${memAfter.used} bytes for ${SESSIONS} sessions (${memAfter.keys - memBefore.keys} keys: record, metadata, sub and sid index entries) = **${f(perSession)} bytes per session** (record STRLEN ${recordBytes} bytes, MEMORY USAGE of one key ${usage} bytes). The record holds this provider's tokens: a ~43-character opaque access token and refresh token plus an RS256 ID token; Keycloak's JWT access and refresh tokens are larger (about 3-4 KB per record).`,
  '',
  '## bff RSS with hot sessions',
  '',
  `Real sealed sessions seeded into Redis (\`examples/seed_sessions.rs\`, records of a real login's size), served by a bff whose cache is \`BFF_SESSION_CACHE_SIZE=${HOT_CACHE}\`. Each level: wrk rotates over all its sessions (\`bench/rotate.lua\`) for 5 s to fill the cache, then 5 s measured; nginx 5 s just before, under the same script (it ignores the cookie).`,
  '',
  '| hot sessions | bff RSS MiB | bff peak RSS MiB | cache bytes MiB | hit rate | bff req/s | bff p99 ms | nginx req/s | bff / nginx |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...growth.map((g) => `| ${g.level} | ${f(g.rss, 1)} | ${f(g.hwm, 1)} | ${f(g.cacheMiB, 1)} | ${f(100 * g.hitRate)} % | ${f(g.rps)} | ${f(g.p99, 3)} | ${f(g.nginx.rps)} | ${pct(g.rps, g.nginx.rps)} |`),
  '',
];
writeFileSync(`${OUT}/results.md`, lines.join('\n'));
writeFileSync(`${OUT}/raw.json`, JSON.stringify({ runs, rot, growth, memBefore, memAfter }, (k, v) => (k === 'raw' ? undefined : v), 2));
console.log(lines.join('\n'));
process.exit(0);
