// The OpenID provider for the e2e suite and the benchmark: panva's
// oidc-provider (OpenID Certified), configured like keycloak/realm.json:
// one confidential client `bff` (client_secret_basic), PKCE S256 required,
// exact redirect and post-logout URIs, refresh tokens issued without
// `offline_access` and rotated on every use (Keycloak: revokeRefreshToken,
// reuse 0), short-lived access tokens, no consent screen (consentRequired
// false), RP-Initiated Logout and Back-Channel Logout with `sid` required.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function page(ctx, title, body) {
  ctx.type = 'html';
  ctx.body = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
    <body style="font-family:sans-serif;max-width:30rem;margin:2rem auto"><h1>e2e provider: ${title}</h1>${body}</body></html>`;
}

/**
 * Koa middleware in front of devInteractions' login submit (which accepts
 * any login): a wrong password gets a 401 page. The body is read here and
 * handed on as req.body, which oidc-provider's body parser falls back to.
 */
function checkPassword(passwords) {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) return next();
    const chunks = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += chunk.length;
      if (size > 56 * 1024) ctx.throw(413);
      chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const form = new URLSearchParams(raw);
    if (form.get('prompt') === 'login' && !(Object.hasOwn(passwords, form.get('login')) && passwords[form.get('login')] === form.get('password'))) {
      page(ctx, 'Sign-in failed', `<p id="login-error">Invalid username or password.</p><p><a href="${esc(ctx.path)}">Try again</a></p>`);
      ctx.status = 401;
      return undefined;
    }
    ctx.req.body = raw;
    return next();
  };
}

/** Every access token is a JWT for one resource server with audience `aud`. */
export const jwtResourceIndicator = (aud) => `urn:bff:${aud}`;
export function jwtResource(aud, accessTokenTTL, alg = 'RS256') {
  const resource = jwtResourceIndicator(aud);
  return {
    enabled: true,
    defaultResource: async () => resource,
    useGrantedResource: async () => true,
    getResourceServerInfo: async (_ctx, indicator) => {
      if (indicator !== resource) throw new errors.InvalidTarget();
      return { audience: aud, scope: 'openid profile email', accessTokenFormat: 'jwt', accessTokenTTL, jwt: { sign: { alg } } };
    },
  };
}

export const USERS = {
  alice: { name: 'Alice Liddell', email: 'alice@example.com', preferred_username: 'alice' },
  bob: { name: 'Bob Builder', email: 'bob@example.com', preferred_username: 'bob' },
};

/**
 * Starts the provider on 127.0.0.1:`port`; `bffOrigin` is BFF_PUBLIC_URL.
 * Returns { issuer, provider, server, events } where `events` records
 * back-channel logout deliveries, grants revoked at the RFC 7009
 * revocation endpoint and pushed authorization requests (RFC 9126; their
 * parameters and how the client sent them). The login form accepts any user and password, unless
 * `passwords` ({ user: password }, like Keycloak's users) is given. Access
 * tokens are opaque (checked at userinfo), unless `jwtAudience` is given:
 * then they are JWTs with that `aud` and the profile claims, as Keycloak's
 * (RFC 8707 resource indicators with one default resource server).
 * `customize(configuration)`, if given, returns the configuration to use
 * instead (tests/e2e/lib/fapi-provider.mjs builds its FAPI 2.0 provider so).
 */
export async function startProvider({ port, bffOrigin, clientSecret, accessTokenTtl = 20, passwords = null, jwtAudience = null, customize = (c) => c }) {
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-rs256', alg: 'RS256', use: 'sig' };
  const events = { backchannel: [], revoked: [], par: [] };

  const provider = new Provider(issuer, customize({
    clients: [{
      client_id: 'bff',
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${bffOrigin}/auth/callback`],
      post_logout_redirect_uris: [`${bffOrigin}/auth/logged-out`],
      backchannel_logout_uri: `${bffOrigin}/auth/backchannel-logout`,
      backchannel_logout_session_required: true,
      id_token_signed_response_alg: 'RS256',
    }],
    jwks: { keys: [signingKey] },
    // Everything runs on one clock: no skew allowance (the default 15 s would
    // keep accepting an access token 15 s past its expiry).
    clockTolerance: 0,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // RFC 9700 §2.1.1: PKCE for every client (oidc-provider only supports S256).
    pkce: { required: () => true },
    // Keycloak issues a refresh token to a confidential client without the
    // offline_access scope; oidc-provider's default requires offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Rotate on every use (the default rotates only past 70 % of the TTL).
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 8 * 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Put the profile claims into the ID token even though an access token is
    // issued too (Keycloak does; bff's /auth/session reads them from it).
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true }, // the built-in login form
      rpInitiatedLogout: {
        enabled: true,
        // Own pages (the defaults log a notice and @import a web font).
        logoutSource: async (ctx, form) => page(ctx, 'Sign out?', `${form}
          <button autofocus type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
          <button type="submit" form="op.logoutForm">No, stay signed in</button>`),
        postLogoutSuccessSource: async (ctx) => page(ctx, 'Signed out', '<p>You are signed out at the provider.</p>'),
      },
      backchannelLogout: { enabled: true },
      ...(jwtAudience ? { resourceIndicators: jwtResource(jwtAudience, accessTokenTtl) } : {}),
      // RFC 7009 §2.1: a client may revoke only its own tokens (the default
      // policy, made explicit; it would otherwise print a notice).
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
    },
    // oidc-provider refuses to call special-use addresses (SSRF defence);
    // here bff's back-channel endpoint is on 127.0.0.1 by design, so the
    // guard is lifted for loopback URLs only and everything else is refused.
    fetch(url, options) {
      const { hostname } = new URL(url);
      if (hostname !== '127.0.0.1' && hostname !== 'localhost') throw new Error(`e2e provider refuses to fetch ${hostname}`);
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    ...(jwtAudience ? {
      extraTokenClaims: async (_ctx, token) => (token.kind === 'AccessToken' && USERS[token.accountId]) || undefined,
    } : {}),
    renderError: async (ctx, out) => page(ctx, 'Provider error', `<pre>${esc(JSON.stringify(out, null, 2))}</pre>`),
    async findAccount(_ctx, sub) {
      const user = USERS[sub] ?? { name: sub, email: `${sub}@example.com`, preferred_username: sub };
      return { accountId: sub, claims: async () => ({ sub, email_verified: true, ...user }) };
    },
    // First-party client, no consent screen (Keycloak consentRequired=false):
    // grant the requested OIDC scopes and claims on the user's behalf.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
      grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'email', 'email_verified']);
      if (jwtAudience) grant.addResourceScope(jwtResourceIndicator(jwtAudience), ctx.oidc.params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
  }));
  provider.on('backchannel.success', (_ctx, client, accountId, sid) => events.backchannel.push({ ok: true, client: client.clientId, accountId, sid }));
  provider.on('backchannel.error', (_ctx, err, client, accountId, sid) => events.backchannel.push({ ok: false, client: client.clientId, accountId, sid, error: String(err?.message ?? err) }));
  // A refresh (or access) token revoked at the revocation endpoint revokes
  // its whole grant; end-session revocations have another route.
  provider.on('grant.revoked', (ctx, grantId) => {
    if (ctx?.oidc?.route === 'revocation') events.revoked.push({ grantId, client: ctx.oidc.client?.clientId });
  });
  provider.on('pushed_authorization_request.success', (ctx) => events.par.push({
    params: Object.fromEntries(Object.entries(ctx.oidc.params).filter(([, v]) => typeof v === 'string')),
    basicAuth: /^Basic /i.test(ctx.get('authorization')),
    bodyClientId: ctx.oidc.body?.client_id ?? null,
  }));
  if (passwords) provider.use(checkPassword(passwords));
  provider.on('server_error', (_ctx, err) => process.stderr.write(`provider server_error: ${err?.stack ?? err}\n`));

  const server = createServer(provider.callback());
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { issuer, provider, server, events, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}
