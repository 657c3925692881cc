// Instructions per proxied request, counted by callgrind (repeatable on a
// noisy machine, unlike req/s). Runs each binary under valgrind in the
// bench set-up (Redis, provider, nginx-free: the bench upstream), logs in,
// sends N1 and then N2 keep-alive requests with the session, and reports
// the Ir of the N2 - N1 requests between two dumps (callgrind zeroes its
// counters at each dump), so start-up and login do not count.
//   node bench/instructions.mjs /path/to/bff-a [/path/to/bff-b]
//   (BENCH_RUST_LOG=info: with the access log; default warn)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import { stop } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';
import { scriptedLogin } from '../tests/e2e/lib/login.mjs';
import { startBenchUpstream } from './lib.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const OUT = `${ROOT}target/bench/instructions`;
const [N1, N2] = [200, 1200];
mkdirSync(OUT, { recursive: true });

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(url, cookie) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

/** Total Ir of the newest dump in `dir` (callgrind_control -d writes one). */
function totalIr(dir) {
  const dump = (f) => Number(f.split('.').at(-1));
  const files = readdirSync(dir).filter((f) => /^cg\.out\.\d+\.\d+$/.test(f)).sort((a, b) => dump(a) - dump(b));
  const text = readFileSync(`${dir}/${files.at(-1)}`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('summary:') || l.startsWith('totals:'));
  return Number(line.split(/\s+/)[1]);
}

async function measure(name, binary) {
  const dir = `${OUT}/${name}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const wrapper = `${dir}/bff-under-callgrind.sh`;
  writeFileSync(wrapper, `#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=${dir}/cg.out.%p --dump-instr=no --collect-atstart=yes ${binary} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const upstream = await startBenchUpstream(dir);
  const stack = await startStack({
    bffBinary: wrapper, pods: 1, logDir: `${dir}/stack`, upstreamOrigin: upstream.origin, accessTokenTtl: 3600,
    extraEnv: { RUST_LOG: process.env.BENCH_RUST_LOG ?? 'warn', BFF_WORKERS: '1' },
  });
  const cookie = `bff=${await scriptedLogin(stack.publicUrl, 'alice')}`;
  const url = `${stack.bffs[0].origin}/api/bench`;
  const counts = [];
  let sent = 0;
  for (const n of [N1, N2]) {
    for (; sent < n; sent += 1) {
      const status = await get(url, cookie);
      if (status !== 200) throw new Error(`${name}: HTTP ${status}`);
    }
    execFileSync('callgrind_control', ['-d', String(stack.bffs[0].child.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    counts.push(totalIr(dir));
  }
  await stack.close();
  await stop(upstream.child);
  return counts[1] / (N2 - N1);
}

for (const [i, binary] of process.argv.slice(2).entries()) {
  const perRequest = await measure(`bin${i}`, binary);
  console.log(`${binary}: ${Math.round(perRequest)} instructions per request (callgrind, ${N2 - N1} requests)`);
}
agent.destroy();
process.exit(0);
