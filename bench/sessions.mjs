// Hot sessions for bench.mjs: real sealed sessions seeded straight into
// Redis (examples/seed_sessions.rs), then wrk rotating over them
// (bench/rotate.lua), so every request names another session.
//   rotation():  N distinct sessions against nginx, interleaved, medians
//   hotGrowth(): bff RSS and cache bytes with 1k / 10k / 100k sessions hot
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { median, rssMiB, seedRealSessions, wrk } from './lib.mjs';

const ROTATE = new URL('./rotate.lua', import.meta.url).pathname;

/** Seeds sessions until `total` exist; keeps one cookie file of all of them. */
export function seeder(redisPort, keys, dir, issuer) {
  const all = `${dir}/hot-cookies.txt`;
  writeFileSync(all, '');
  let seeded = 0;
  return {
    file: all,
    async upTo(total) {
      if (total <= seeded) return;
      const batch = await seedRealSessions(redisPort, total - seeded, keys, dir, issuer);
      appendFileSync(all, readFileSync(batch.file));
      seeded = total;
    },
    /** A cookie file of the first `count` sessions. */
    first(count) {
      const path = `${dir}/hot-cookies-${count}.txt`;
      const lines = readFileSync(all, 'utf8').split('\n').filter(Boolean).slice(0, count);
      writeFileSync(path, `${lines.join('\n')}\n`);
      return path;
    },
  };
}

/** One wrk run rotating over the cookies in `file`. */
export const rotate = (url, file, opts) => wrk(url, { ...opts, script: ROTATE, args: [file, 'bff'] });

/** `bff_session_cache_bytes` and the hit count from the admin listener. */
export async function cacheStats(admin) {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const value = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  return { bytes: value('bff_session_cache_bytes'), hits: value('bff_session_cache_hits_total'), misses: value('bff_session_cache_misses_total') };
}

/**
 * `count` distinct sessions: nginx and bff interleaved `reps` times. nginx
 * is driven by the same Lua script (it ignores the cookie), so both sides
 * pay wrk's per-request Lua cost on the shared cores; `nginxPlain` is nginx
 * under plain wrk, as the fixed-cookie rows measure it.
 */
export async function rotation({ bff, proxyUrl, file, reps, seconds, threads, conns, log }) {
  const runs = { nginx: [], nginxPlain: [], bff: [] };
  for (let rep = 1; rep <= reps; rep += 1) {
    runs.nginxPlain.push(await wrk(proxyUrl, { threads, conns, seconds }));
    runs.nginx.push(await rotate(proxyUrl, file, { threads, conns, seconds }));
    const r = await rotate(`${bff.origin}/api/bench`, file, { threads, conns, seconds });
    if (r.non2xx) throw new Error(`rotation: ${r.non2xx} non-2xx responses`);
    runs.bff.push(r);
    log(`rotation rep ${rep}/${reps}: bff ${r.rps.toFixed(0)} req/s p99 ${r.p99} ms, nginx ${runs.nginx.at(-1).rps.toFixed(0)} (plain wrk ${runs.nginxPlain.at(-1).rps.toFixed(0)})`);
  }
  const med = (rs) => ({ rps: median(rs.map((r) => r.rps)), p99: median(rs.map((r) => r.p99)), all: rs.map((r) => r.rps) });
  return { nginx: med(runs.nginx), nginxPlain: med(runs.nginxPlain), bff: med(runs.bff), stats: await cacheStats(bff.admin) };
}

/** bff RSS with `levels` sessions hot: each level rotates over all of them. */
export async function hotGrowth({ bff, proxyUrl, hot, levels, seconds, threads, conns, log }) {
  const rows = [];
  for (const level of levels) {
    await hot.upTo(level);
    const file = hot.first(level);
    const base = await rotate(proxyUrl, file, { threads, conns, seconds });
    // Twice: the first pass fills the cache, the second is measured.
    await rotate(`${bff.origin}/api/bench`, file, { threads, conns, seconds });
    const before = await cacheStats(bff.admin);
    const r = await rotate(`${bff.origin}/api/bench`, file, { threads, conns, seconds });
    const after = await cacheStats(bff.admin);
    const hitRate = (after.hits - before.hits) / (after.hits - before.hits + after.misses - before.misses);
    rows.push({ level, ...rssMiB(bff.child.pid), cacheMiB: after.bytes / 2 ** 20, hitRate, rps: r.rps, p99: r.p99, nginx: base, non2xx: r.non2xx });
    log(`${level} hot sessions: RSS ${rows.at(-1).rss.toFixed(1)} MiB, cache ${rows.at(-1).cacheMiB.toFixed(1)} MiB, hit rate ${(100 * hitRate).toFixed(0)} %, ${r.rps.toFixed(0)} req/s (nginx ${base.rps.toFixed(0)})`);
  }
  return rows;
}
