// A scripted (browserless) login through bff and the provider's
// devInteractions form, for the benchmark: plain fetch with manual
// redirects and a minimal cookie jar (name, value, path; host-only cookies
// on 127.0.0.1, where every port shares one jar as in a browser).
// Returns the bff session cookie value.

function parseSetCookie(header) {
  const [pair, ...attrs] = header.split(';');
  const eq = pair.indexOf('=');
  const cookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), path: '/', expired: false };
  for (const attr of attrs) {
    const [k, v = ''] = attr.trim().split('=');
    const key = k.toLowerCase();
    if (key === 'path') cookie.path = v;
    if (key === 'max-age' && Number(v) <= 0) cookie.expired = true;
    if (key === 'expires' && Date.parse(v) < Date.now()) cookie.expired = true;
  }
  return cookie;
}

export class Jar {
  constructor() { this.cookies = new Map(); }

  store(res) {
    for (const header of res.headers.getSetCookie()) {
      const c = parseSetCookie(header);
      const key = `${c.name};${c.path}`;
      if (c.expired) this.cookies.delete(key); else this.cookies.set(key, c);
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }

  get(name) {
    return [...this.cookies.values()].find((c) => c.name === name)?.value;
  }
}

async function go(jar, url, init = {}) {
  const res = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers ?? {}), cookie: jar.header(url), accept: 'text/html' },
    signal: AbortSignal.timeout(10000),
  });
  jar.store(res);
  return res;
}

/** Logs `user` in through bff at `bffOrigin`; returns the `bff` cookie value. */
export async function scriptedLogin(bffOrigin, user = 'alice', jar = new Jar()) {
  let url = `${bffOrigin}/auth/login?return_to=/`;
  let res = await go(jar, url);
  for (let hop = 0; hop < 12; hop += 1) {
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).toString();
      if (url.startsWith(bffOrigin) && !url.includes('/auth/')) break; // back at return_to
      res = await go(jar, url);
      continue;
    }
    const html = await res.text();
    const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1];
    if (res.status !== 200 || !action) throw new Error(`login stuck at ${url} (HTTP ${res.status})`);
    const prompt = html.match(/name="prompt" value="([^"]+)"/)?.[1] ?? 'login';
    const body = new URLSearchParams(prompt === 'login' ? { prompt, login: user, password: user } : { prompt });
    url = new URL(action.replaceAll('&amp;', '&'), url).toString();
    res = await go(jar, url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  const cookie = jar.get('bff');
  if (!cookie) throw new Error('login finished without a bff session cookie');
  return cookie;
}
