// A resource server that accepts only DPoP-bound access tokens (RFC 9449),
// for the FAPI 2.0 demo and tests/e2e/fapi.mjs. It serves the demo SPA
// (demo/spa/index.html) at every path outside /api/, and JSON at /api/*.
// Node >= 20, ESM; `jose` comes from tests/e2e/node_modules (run `npm ci`
// in tests/e2e first).
//
//   DPOP_API_ISSUER=http://127.0.0.1:9080 DPOP_API_PORT=8000 node demo/dpop-api.mjs
//
// Settings (environment; the issuer may also be the first argument):
//   DPOP_API_ISSUER     the provider; its JWKS comes from its discovery document
//   DPOP_API_AUDIENCE   the `aud` the access token must carry (default: not checked)
//   DPOP_API_HOST/PORT  listen address (default 127.0.0.1:8000)
//   DPOP_API_ORIGIN     the origin `htu` must name (default http://HOST:PORT)
//   DPOP_API_NONCE=on   demand a server-provided nonce in every proof (§9)
//   DPOP_API_TOKEN_TYP  the access token `typ` headers accepted (default
//                       "at+jwt,JWT": RFC 9068's, and Keycloak's, whose access
//                       tokens say JWT; "at+jwt" alone is RFC 9068 strict)
//
// What a call to /api/* must bring, checked in this order:
//   - `Authorization: DPoP <token>` (§7.1); the Bearer scheme is refused,
//     also for a DPoP-bound token (§7.2: no downgrade).
//   - exactly one `DPoP` header holding a proof JWT (§4.3 checks 1-2), with
//     typ `dpop+jwt`, alg ES256 and a public EC P-256 `jwk` in its header,
//     no private members (§4.2, §4.3 checks 3-5), signed by that key (§4.3
//     check 6); `htm` = the request method, `htu` = this server's origin and
//     the request path, query and fragment ignored (§4.3 checks 8-9); `iat`
//     within 60 s of now (§4.3 check 11, §11.1); with DPOP_API_NONCE=on a
//     nonce this server issued in the last 30-60 s, else 401
//     `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a fresh
//     `DPoP-Nonce` (§9, §4.3 check 10); a `jti` never seen before (§11.1; a
//     bounded in-memory set, entries kept as long as their iat is accepted).
//   - the access token: a JWT (RFC 9068 typ at+jwt, see DPOP_API_TOKEN_TYP)
//     signed by a key in the issuer's JWKS, with the issuer's `iss`,
//     unexpired, the configured `aud`, and a `cnf.jkt` (§6.1); `ath` of the proof = base64url SHA-256
//     of the token (§4.3 check 12, §7.1), and the proof key's RFC 7638
//     thumbprint = `cnf.jkt` (§7.1, §6.1).
// Answers: /api/whoami (and any /api/*) 200 with sub, name, email, "binding":
// "DPoP-bound" and the jkt; refusals 401 with `WWW-Authenticate: DPoP
// error="invalid_token"` (token problems) or `error="invalid_dpop_proof"`
// (proof problems) and a JSON { error, error_description }. Every /api/
// answer carries the current nonce when nonces are on (§9).
// One log line per request (JSON: method, path without query, status,
// outcome, sub, jkt); never a token, a proof or a header value.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The same resolution as demo/local-provider.mjs's modules: tests/e2e's packages.
const requireE2e = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const jose = await import(pathToFileURL(requireE2e.resolve('jose')).href);

const SPA = readFileSync(new URL('spa/index.html', import.meta.url));
const IAT_WINDOW_S = 60; // proof iat accepted within ±60 s
const NONCE_STEP_S = 30; // a nonce is valid in its 30 s step and the next
const MAX_JTIS = 100_000;
const MAX_BODY = 64 * 1024;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

class Refusal extends Error {
  constructor(error, description, { status = 401, nonce = false } = {}) {
    super(description);
    this.error = error;
    this.status = status;
    this.nonce = nonce;
  }
}
const badProof = (why) => new Refusal('invalid_dpop_proof', why);
const badToken = (why) => new Refusal('invalid_token', why);

const sha256 = (s) => createHash('sha256').update(s, 'ascii').digest('base64url');

/** Server-provided nonces (§9): an HMAC of the time step, no state kept. */
function nonces(secret = randomBytes(32)) {
  const mac = (step) => createHmac('sha256', secret).update(String(step)).digest('base64url').slice(0, 22);
  const stepNow = () => Math.floor(Date.now() / 1000 / NONCE_STEP_S);
  return {
    current: () => `${stepNow().toString(36)}.${mac(stepNow())}`,
    valid(nonce) {
      if (typeof nonce !== 'string') return false;
      const [s, m] = nonce.split('.');
      const step = parseInt(s, 36);
      if (!m || !(step === stepNow() || step === stepNow() - 1)) return false;
      const want = Buffer.from(mac(step));
      const got = Buffer.from(m);
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}

/** Proof ids seen (§11.1): jti -> expiry (ms), bounded. */
function replayCache() {
  const seen = new Map();
  return {
    /** false when `jti` was seen; throws when the cache is full. */
    add(jti, iat) {
      const now = Date.now();
      if (seen.has(jti) && seen.get(jti) > now) return false;
      if (seen.size >= MAX_JTIS) {
        for (const [k, exp] of seen) if (exp <= now) seen.delete(k);
        if (seen.size >= MAX_JTIS) throw new Refusal('temporarily_unavailable', 'replay cache full', { status: 503 });
      }
      // Once iat is outside the window the proof is refused anyway.
      seen.set(jti, (iat + IAT_WINDOW_S + 1) * 1000);
      return true;
    },
  };
}

/** The issuer's signing keys, from its discovery document (fetched once it answers). */
function issuerKeys(issuer) {
  let jwks = null;
  return async (header, token) => {
    if (!jwks) {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Refusal('temporarily_unavailable', `provider discovery answered ${res.status}`, { status: 503 });
      const { jwks_uri: uri } = await res.json();
      jwks = jose.createRemoteJWKSet(new URL(uri));
    }
    return jwks(header, token);
  };
}

/** Verifies the DPoP proof on its own (RFC 9449 §4.3); returns { payload, jkt }. */
async function verifyProof(req, { origin, nonce, replay }) {
  const values = req.headersDistinct.dpop ?? [];
  if (values.length === 0) throw badProof('no DPoP proof');
  if (values.length > 1) throw badProof('more than one DPoP header');
  const proof = values[0];
  let header;
  try {
    header = jose.decodeProtectedHeader(proof);
  } catch {
    throw badProof('the DPoP proof is not a JWT');
  }
  if (header.typ !== 'dpop+jwt') throw badProof('typ is not dpop+jwt');
  if (header.alg !== 'ES256') throw badProof('alg is not ES256');
  const { jwk } = header;
  if (!jwk || typeof jwk !== 'object' || jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw badProof('no EC P-256 jwk in the header');
  if (PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(jwk, m))) throw badProof('the jwk has private key members');
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] }));
  } catch {
    throw badProof('the DPoP proof signature does not verify with its jwk');
  }
  if (payload.htm !== req.method) throw badProof('htm does not match the request method');
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null;
  const want = new URL(req.url, origin);
  if (!htu || htu.origin !== want.origin || htu.pathname !== want.pathname) throw badProof('htu does not match this URL');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > IAT_WINDOW_S) throw badProof('iat is missing or not within 60 s');
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) throw badProof('no usable jti');
  if (nonce && !nonce.valid(payload.nonce)) {
    throw new Refusal('use_dpop_nonce', payload.nonce === undefined ? 'a nonce is required in the DPoP proof' : 'the DPoP nonce is stale', { nonce: true });
  }
  if (!replay.add(payload.jti, payload.iat)) throw badProof('the DPoP proof was already used (jti replay)');
  return { payload, jkt: await jose.calculateJwkThumbprint(jwk, 'sha256') };
}

/** Checks one /api/ request; returns the access token's claims and the jkt. */
async function authorize(req, opts) {
  const auth = req.headers.authorization ?? '';
  const [scheme, token, ...rest] = auth.split(' ');
  if (!auth) throw badToken('no access token (Authorization: DPoP <token> expected)');
  if (scheme.toLowerCase() === 'bearer') throw badToken('Bearer tokens are not accepted here, only DPoP-bound tokens');
  if (scheme.toLowerCase() !== 'dpop' || !token || rest.length) throw badToken('the Authorization header is not DPoP <token>');
  const { payload: proof, jkt } = await verifyProof(req, opts);
  if (proof.ath !== sha256(token)) throw badProof('ath does not match the access token');
  let claims;
  let typ;
  try {
    ({ payload: claims, protectedHeader: { typ } } = await jose.jwtVerify(token, opts.keys, {
      issuer: opts.issuer,
      audience: opts.audience ?? undefined,
      algorithms: ['ES256', 'PS256', 'RS256'],
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (err) {
    if (err instanceof Refusal) throw err;
    const why = err?.code === 'ERR_JWT_EXPIRED' ? 'the access token has expired'
      : err?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' ? `the access token's ${err.claim} claim is not accepted`
        : 'the access token does not verify with the issuer keys';
    throw badToken(why);
  }
  if (!opts.tokenTypes.has(String(typ ?? '').toLowerCase().replace(/^application\//, ''))) throw badToken('the access token typ is not accepted');
  if (typeof claims.cnf?.jkt !== 'string') throw badToken('the access token is not DPoP-bound (no cnf.jkt)');
  if (claims.cnf.jkt !== jkt) throw badToken('the DPoP proof key is not the key the access token is bound to (cnf.jkt)');
  return { claims, jkt };
}

function drain(req) {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk) => { size += chunk.length; if (size > MAX_BODY) req.destroy(); });
    req.on('end', () => resolve(size));
    req.on('error', () => resolve(size));
    req.on('close', () => resolve(size));
  });
}

const quoted = (s) => String(s).replace(/["\\]/g, "'");

/**
 * Starts the server; resolves with { server, origin, close }.
 * `log(line)` gets one JSON line per request (default: stdout).
 */
export async function startDpopApi({
  issuer, audience = null, host = '127.0.0.1', port = 8000, origin = null, nonce = false, tokenTypes = ['at+jwt', 'JWT'],
  log = (l) => console.log(l),
}) {
  if (!issuer) throw new Error('dpop-api: the issuer is required (DPOP_API_ISSUER)');
  const opts = {
    issuer,
    audience,
    keys: issuerKeys(issuer),
    nonce: nonce ? nonces() : null,
    replay: replayCache(),
    tokenTypes: new Set(tokenTypes.map((t) => t.trim().toLowerCase()).filter(Boolean)),
    origin: null,
  };
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const entry = { t: new Date().toISOString(), method: req.method, path, status: 0, outcome: '' };
    const send = (status, headers, body) => {
      entry.status = status;
      res.writeHead(status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      log(JSON.stringify(entry));
    };
    if (!path.startsWith('/api/')) {
      entry.outcome = 'spa';
      await drain(req);
      send(200, { 'content-type': 'text/html; charset=utf-8' }, SPA);
      return;
    }
    const size = await drain(req);
    const nonceHeader = opts.nonce ? { 'dpop-nonce': opts.nonce.current() } : {};
    if (size > MAX_BODY) {
      entry.outcome = 'body too large';
      send(413, { 'content-type': 'application/json', connection: 'close' }, JSON.stringify({ error: 'request_too_large' }));
      return;
    }
    try {
      const { claims, jkt } = await authorize(req, opts);
      entry.outcome = 'ok';
      entry.sub = claims.sub;
      entry.jkt = jkt;
      send(200, { 'content-type': 'application/json', ...nonceHeader }, `${JSON.stringify({
        path,
        method: req.method,
        sub: claims.sub,
        name: claims.name ?? null,
        email: claims.email ?? null,
        preferred_username: claims.preferred_username ?? null,
        binding: 'DPoP-bound',
        jkt,
        client_id: claims.client_id ?? null,
        token: { jti: claims.jti ?? null, iat: claims.iat ?? null, exp: claims.exp },
        note: 'access token verified against the issuer JWKS; DPoP proof verified and bound to cnf.jkt (RFC 9449)',
      }, null, 2)}\n`);
    } catch (err) {
      const refusal = err instanceof Refusal ? err : new Refusal('temporarily_unavailable', 'the check failed', { status: 503 });
      entry.outcome = `${refusal.error}: ${refusal.message}`;
      if (!(err instanceof Refusal)) process.stderr.write(`dpop-api: ${err?.stack ?? err}\n`);
      const headers = { 'content-type': 'application/json', ...nonceHeader };
      if (refusal.status === 401) {
        headers['www-authenticate'] = `DPoP error="${refusal.error}", error_description="${quoted(refusal.message)}", algs="ES256"`;
      }
      send(refusal.status, headers, `${JSON.stringify({ error: refusal.error, error_description: refusal.message })}\n`);
    }
  });
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = `http://${host.includes(':') ? `[${host}]` : host}:${server.address().port}`;
  opts.origin = origin ?? bound;
  return { server, origin: opts.origin, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const api = await startDpopApi({
    issuer: env.DPOP_API_ISSUER || process.argv[2],
    audience: env.DPOP_API_AUDIENCE || null,
    host: env.DPOP_API_HOST || '127.0.0.1',
    port: Number(env.DPOP_API_PORT || 8000),
    origin: env.DPOP_API_ORIGIN || null,
    nonce: env.DPOP_API_NONCE === 'on',
    tokenTypes: env.DPOP_API_TOKEN_TYP ? env.DPOP_API_TOKEN_TYP.split(',') : undefined,
  }).catch((err) => { console.error(err.message); process.exit(2); });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => api.close().then(() => process.exit(0)));
  console.log(`dpop-api listening ${api.origin} (issuer ${env.DPOP_API_ISSUER || process.argv[2]}, nonce ${env.DPOP_API_NONCE === 'on' ? 'on' : 'off'})`);
}
