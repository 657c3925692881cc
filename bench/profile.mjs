// Where does bff's time go? (run: node bench/profile.mjs, after bench/run.sh
// has built everything). Same set-up as bench.mjs (nginx upstream, Redis,
// provider, one release bff with a real session); while wrk loads one
// variant for 12 s, `perf record` samples the bff process for 8 s. Writes
// flat profiles (self time by symbol and by library) to target/bench/perf-*.txt.
// The shipped build is stripped; for bff's own symbols profile a build that
// keeps them:
//   CARGO_PROFILE_DIST_STRIP=false CARGO_PROFILE_DIST_DEBUG=1 \
//     CARGO_TARGET_DIR=target/prof cargo build --profile dist
//   BFF_BIN=target/prof/dist/bff node bench/profile.mjs
// BENCH_CALLGRAPH=1 records DWARF call graphs as well (perf script -i
// target/bench/perf-*.data shows who calls what). BENCH_ROTATE=10000 adds
// a third profile: that many real seeded sessions in rotation
// (bench/rotate.lua), after a 5 s pass that fills the cache.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { seedRealSessions, startBenchUpstream, wrk } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
mkdirSync(OUT, { recursive: true });
setTimeout(() => { console.error('profile timed out'); process.exit(2); }, 5 * 60_000).unref();

const upstream = await startBenchUpstream(OUT);
const stack = await startStack({
  bffBinary: process.env.BFF_BIN ?? `${ROOT}target/dist/bff`, pods: 1, logDir: `${OUT}/stack-profile`,
  upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
  extraEnv: { ...(process.env.BENCH_ROTATE ? { BFF_SESSION_CACHE_SIZE: '64MiB' } : {}), RUST_LOG: process.env.BENCH_RUST_LOG ?? 'warn', ...(process.env.BFF_WORKERS ? { BFF_WORKERS: process.env.BFF_WORKERS } : {}) },
  extraRoutes: [{ prefix: '/pub/', upstream: upstream.origin, auth: 'none' }],
});
const [bff] = stack.bffs;
const cookie = await scriptedLogin(stack.publicUrl, 'alice');
const variants = [['session', '/api/bench', { headers: [`Cookie: bff=${cookie}`] }], ['noauth', '/pub/bench', {}]];
if (process.env.BENCH_ROTATE) {
  const seeded = await seedRealSessions(stack.redis.port, Number(process.env.BENCH_ROTATE), stack.env.BFF_SESSION_KEYS, OUT, stack.op.issuer);
  const rotate = { script: new URL('./rotate.lua', import.meta.url).pathname, args: [seeded.file, 'bff'] };
  await wrk(`${bff.origin}/api/bench`, { threads: 2, conns: 16, seconds: 5, ...rotate });
  variants.push(['rotation', '/api/bench', rotate]);
}

// Symbol -> crate buckets for the bff binary (first match wins).
const CRATES = [
  ['AES-GCM (aes, ghash, polyval)', /aes|ghash|polyval|gcm/i],
  ['HKDF / HMAC / SHA-256', /hkdf|hmac|sha2|sha256|digest/i],
  ['redis client', /redis/i],
  ['session decode (rmp_serde, serde)', /rmp|serde/i],
  ['tracing', /tracing/i],
  ['hyper / h2 / http', /hyper|h2::|http::|httparse|http_body/i],
  ['tokio runtime', /tokio|mio::/i],
  ['bff', /bff::/],
  ['alloc / core / std', /alloc::|core::|std::|memchr|hashbrown|bytes::/i],
];

function perf(args, seconds) {
  return new Promise((resolve) => {
    const child = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.on('exit', () => { clearTimeout(guard); resolve(); });
  });
}

for (const [name, path, opts] of variants) {
  const data = `${OUT}/perf-${name}.data`;
  const load = wrk(`${bff.origin}${path}`, { threads: 2, conns: 16, seconds: 12, ...opts });
  await new Promise((r) => setTimeout(r, 2000));
  const callGraph = process.env.BENCH_CALLGRAPH ? ['--call-graph', 'dwarf,32768'] : [];
  await perf(['record', '-q', '-F', callGraph.length ? '499' : '1999', ...callGraph, '-p', String(bff.child.pid), '-o', data, '--', 'sleep', '8'], 8);
  const r = await load;
  const report = (sort, extra = [], limit = '0.5') => execFileSync('perf', ['report', '-i', data, '--stdio', '--no-children', '--sort', sort,
    '--percent-limit', limit, ...extra], { maxBuffer: 64 << 20 }).toString().split('\n')
    .filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.trim().replace(/\s{2,}/g, '  ').slice(0, 150));
  // bff's own code, grouped by crate (self time; no call graphs in a release build).
  const groups = {};
  for (const line of report('symbol', ['--dsos', 'bff'], '0')) {
    const [pct, ...rest] = line.split('  ');
    const sym = rest.join(' ');
    const crate = CRATES.find(([, re]) => re.test(sym))?.[0] ?? 'other';
    groups[crate] = (groups[crate] ?? 0) + parseFloat(pct);
  }
  const byCrate = Object.entries(groups).sort((a, b) => b[1] - a[1]).map(([c, v]) => `${v.toFixed(2).padStart(6)}%  ${c}`).join('\n');
  const text = `bff ${name} (${path}): ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms (while perf samples)\n\n`
    + `== self time by library ==\n${report('dso').join('\n')}\n\n== bff binary, self time by crate (percent of all samples) ==\n${byCrate}\n\n`
    + `== self time by symbol ==\n${report('symbol').join('\n')}\n`;
  writeFileSync(`${OUT}/perf-${name}.txt`, text);
  console.log(text);
}
await stack.close();
await stop(upstream.child);
process.exit(0);
