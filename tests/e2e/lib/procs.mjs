// Child processes for the e2e suite and the benchmark: free loopback ports,
// redis-server, bff. Every child is killed on exit (also on SIGINT/SIGTERM
// and uncaught errors), and every wait is bounded.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set();

export function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `cmd args` with stdout+stderr to `logFile`; tracked for cleanup.
 * The child writes the file itself (no pipe through this process): under
 * load a busy logger would otherwise cost this node process CPU on the same
 * cores, and the benchmark would charge it to the child.
 */
export function start(name, cmd, args, { env = {}, logFile } = {}) {
  if (logFile) mkdirSync(dirname(logFile), { recursive: true });
  const fd = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', fd, fd],
  });
  if (typeof fd === 'number') closeSync(fd);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') {
      process.stderr.write(`${name} exited early (code ${code}, signal ${signal})${logFile ? `; see ${logFile}` : ''}\n`);
    }
  });
  children.add(child);
  child.name = name;
  return child;
}

export async function stop(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

/** Polls `probe` (async, truthy = done) every 100 ms for at most `ms`. */
export async function waitFor(what, probe, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** redis-server on a free loopback port, no persistence. */
export async function startRedis(logDir) {
  const port = await freePort();
  const child = start('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'yes',
  ], { logFile: `${logDir}/redis.log` });
  await waitFor('redis', () => redisCli(port, ['PING']).then((out) => out.trim() === 'PONG'));
  return { port, child, url: `redis://127.0.0.1:${port}/0` };
}

/** Runs redis-cli against `port`; resolves with its stdout. */
export function redisCli(port, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out); else reject(new Error(`redis-cli ${args[0]} exited ${code}`));
    });
  });
}

/**
 * One bff "pod". `env` holds the shared settings (issuer, client, Redis,
 * keys, public URL); each pod gets its own listener and admin ports.
 */
export async function startBff(name, binary, env, logDir, { port, admin } = {}) {
  port ??= await freePort();
  admin ??= await freePort();
  const child = start(name, binary, [], {
    logFile: `${logDir}/${name}.log`,
    env: {
      ...env,
      BFF_LISTEN: `127.0.0.1:${port}`,
      BFF_ADMIN_LISTEN: `127.0.0.1:${admin}`,
    },
  });
  // /readyz: the provider is discovered and Redis answers.
  await waitFor(`${name} /readyz`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    return (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200;
  }, 30000);
  return { name, port, admin, child, origin: `http://127.0.0.1:${port}` };
}
