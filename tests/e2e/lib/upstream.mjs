// The echo upstream behind bff: serves the demo SPA (demo/spa/index.html)
// at `/` and JSON at `/api/*`. Like a real resource server (RFC 6750 §2.1,
// §3.1) it checks the bearer token, here at the provider's userinfo
// endpoint, so an expired or revoked access token gets 401 from the API,
// not from bff. Every request is recorded (never the token itself: only
// a short SHA-256 fingerprint).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const SPA = readFileSync(new URL('../../../demo/spa/index.html', import.meta.url));

export const fingerprint = (token) => createHash('sha256').update(token).digest('base64url').slice(0, 12);

export async function startUpstream({ port, userinfoUrl }) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : null;
    const record = {
      method: req.method,
      path: req.url,
      token: token ? fingerprint(token) : null,
      cookie: req.headers.cookie ?? null,
      xcsrf: req.headers['x-csrf'] ?? null,
      status: 0,
    };
    requests.push(record);
    const send = (status, type, body) => {
      record.status = status;
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (!req.url.startsWith('/api/')) {
      send(200, 'text/html; charset=utf-8', SPA);
      return;
    }
    if (!token) {
      send(401, 'application/json', JSON.stringify({ error: 'invalid_token', error_description: 'no bearer token' }));
      return;
    }
    let info;
    try {
      const r = await fetch(userinfoUrl, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      info = r.ok ? await r.json() : null;
      record.userinfo = r.status;
    } catch (err) {
      record.userinfo = String(err);
    }
    if (!info) {
      send(401, 'application/json', JSON.stringify({ error: 'invalid_token', error_description: 'the provider rejected the access token' }));
      return;
    }
    send(200, 'application/json', JSON.stringify({
      path: req.url,
      sub: info.sub,
      name: info.name,
      token_fingerprint: record.token,
      note: 'token checked at the provider userinfo endpoint',
    }));
  });
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}
