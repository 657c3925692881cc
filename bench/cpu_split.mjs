// Where each request's CPU goes: user and system µs per request of the
// proxy (nginx or bff), the upstream and wrk, for nginx, bff on
// `auth = "none"` and bff with a session, interleaved REPS x SECONDS.
//   node bench/cpu_split.mjs        (BFF_BIN, BENCH_REPS, BENCH_SECONDS)
import { readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { median, startBaselineProxy, startBenchUpstream } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench`;
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const BIN = process.env.BFF_BIN ?? `${ROOT}target/dist/bff`;

/** [utime, stime] ticks of `pid` and its descendants. */
function ticks(pid) {
  const all = [pid];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const f = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === pid) all.push(Number(e));
    } catch { /* gone */ }
  }
  let u = 0; let s = 0;
  for (const p of all) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
      u += Number(x[11]); s += Number(x[12]);
    } catch { /* gone */ }
  }
  return [u, s];
}

function wrkRun(url, headers, pids) {
  return new Promise((resolve, reject) => {
    const args = ['-t2', '-c16', `-d${SECONDS}s`];
    for (const h of headers) args.push('-H', h);
    args.push(url);
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ticks(p)]));
    let wrkBefore = null;
    setTimeout(() => { wrkBefore = ticks(child.pid); }, 5);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    let wrkLast = [0, 0];
    const poll = setInterval(() => { wrkLast = ticks(child.pid); }, 200);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) { reject(new Error(out)); return; }
      const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]);
      const n = rps * SECONDS;
      const per = (a, b) => [(b[0] - a[0]) * 1e4 / n, (b[1] - a[1]) * 1e4 / n]; // ticks are 10 ms
      const res = { rps };
      for (const [k, p] of Object.entries(pids)) res[k] = per(before[k], ticks(p));
      res.wrk = per(wrkBefore ?? [0, 0], wrkLast);
      resolve(res);
    });
  });
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
  for (const v of variants) runs[v.key].push(await wrkRun(v.url, v.headers, { proxy: v.pid, upstream: upstream.child.pid }));
}
const f = (x) => x.toFixed(1);
console.log('variant       req/s   proxy usr/sys µs   upstream usr/sys   wrk usr/sys   (per request, medians)');
for (const v of variants) {
  const rs = runs[v.key];
  const m = (k, i) => median(rs.map((r) => r[k][i]));
  console.log(`${v.key.padEnd(12)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(6)}   ${f(m('proxy', 0))} / ${f(m('proxy', 1))}   ${f(m('upstream', 0))} / ${f(m('upstream', 1))}   ${f(m('wrk', 0))} / ${f(m('wrk', 1))}`);
}
await stack.close();
await stop(proxy.child);
await stop(upstream.child);
process.exit(0);
