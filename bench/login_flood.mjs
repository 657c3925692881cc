// Security case A8, measured: wrk floods GET /auth/login from one client
// for BENCH_SECONDS (default 60) against one release bff with its default
// login limits (BFF_LOGIN_RATE 10, BFF_LOGIN_BURST 50), then reports the
// statuses, the pending logins in Redis and Redis's memory growth.
//   node bench/login_flood.mjs [path/to/bff]
import { spawn } from 'node:child_process';
import { redisCli } from '../tests/e2e/lib/procs.mjs';
import { startStack } from '../tests/e2e/lib/stack.mjs';

const ROOT = new URL('../', import.meta.url).pathname;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const stack = await startStack({
  bffBinary: process.argv[2] ?? `${ROOT}target/dist/bff`, pods: 1, logDir: `${ROOT}target/bench/login-flood`,
  extraEnv: { RUST_LOG: 'warn' },
});
const port = stack.redis.port;
const used = async () => Number((await redisCli(port, ['INFO', 'memory'])).match(/used_memory:(\d+)/)[1]);
const before = await used();
const out = await new Promise((resolve) => {
  const child = spawn('wrk', ['-t2', '-c64', `-d${SECONDS}s`, '--latency', `${stack.bffs[0].origin}/auth/login`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout.on('data', (d) => { text += d; });
  child.on('exit', () => resolve(text));
});
const requests = Number(out.match(/(\d+) requests in/)[1]);
const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
const pending = Number((await redisCli(port, ['EVAL', "return #redis.call('KEYS', ARGV[1])", '0', 'bff:login:*'])).trim());
const after = await used();
const metrics = await (await fetch(`http://127.0.0.1:${stack.bffs[0].admin}/metrics`)).text().catch(() => '');
console.log(`${SECONDS} s of wrk -t2 -c64 on /auth/login: ${requests} requests, ${requests - non2xx} answered 302, ${non2xx} refused (429)`);
console.log(`pending logins in Redis: ${pending}; Redis used_memory ${before} -> ${after} bytes (+${((after - before) / 1024).toFixed(0)} KiB)`);
console.log(metrics.split('\n').filter((l) => l.startsWith('bff_login_throttled_total')).join('\n'));
await stack.close();
process.exit(0);
