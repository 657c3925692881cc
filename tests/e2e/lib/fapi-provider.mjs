// The e2e provider (lib/provider.mjs: oidc-provider, OpenID Certified) with
// its FAPI 2.0 Security Profile on, for tests/e2e/fapi.mjs:
//   - features.fapi { profile: '2.0' }: PKCE S256 required, the redirect_uri
//     always required, client assertions with `aud` = the issuer, no access
//     tokens in query strings;
//   - pushed authorization requests required (RFC 9126);
//   - DPoP (RFC 9449) with server nonces required at every endpoint that
//     takes a proof (token, PAR), and client `bff` registered with
//     dpop_bound_access_tokens, so every access token carries cnf.jkt;
//   - client `bff` authenticates with private_key_jwt (its public JWKS is
//     given: the key bff signs with), ID tokens and access tokens (JWTs,
//     RFC 9068, one resource server `aud`) are signed ES256;
//   - RFC 9207 `iss` in authorization responses (oidc-provider's default),
//     refresh tokens issued and rotated, revocation, RP-Initiated Logout.
// `seen` records what bff sent (never used to decide anything in the
// provider): PAR requests, token responses (the access token values, for
// the replay step), DPoP nonce challenges, revocations and errors.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { jwtResource, startProvider } from './provider.mjs';

const ERROR_EVENTS = ['grant.error', 'pushed_authorization_request.error', 'revocation.error', 'authorization.error', 'end_session.error'];

/**
 * Starts the FAPI 2.0 provider on 127.0.0.1:`port`. `clientJwks` is bff's
 * public client JWKS ({ keys: [...] }); `audience` the access tokens' `aud`.
 * Returns lib/provider.mjs's handle plus `seen`.
 */
export async function startFapiProvider({ port, bffOrigin, clientJwks, accessTokenTtl, audience }) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-es256', alg: 'ES256', use: 'sig' };
  const op = await startProvider({
    port,
    bffOrigin,
    accessTokenTtl,
    jwtAudience: audience,
    customize: (config) => {
      const { client_secret: _none, ...client } = config.clients[0];
      return {
        ...config,
        clients: [{
          ...client,
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'ES256',
          jwks: clientJwks,
          require_pushed_authorization_requests: true,
          dpop_bound_access_tokens: true,
          id_token_signed_response_alg: 'ES256',
        }],
        jwks: { keys: [signingKey] },
        clientAuthMethods: ['private_key_jwt'],
        features: {
          ...config.features,
          fapi: { enabled: true, profile: '2.0' },
          pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
          dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
          resourceIndicators: jwtResource(audience, accessTokenTtl, 'ES256'),
        },
      };
    },
  });

  const seen = { par: [], tokens: [], nonceChallenges: [], revocations: [], errors: [] };
  const { provider } = op;
  const assertionType = (ctx) => ctx.oidc?.body?.client_assertion_type ?? null;
  provider.on('pushed_authorization_request.success', (ctx) => {
    const p = ctx.oidc.params;
    seen.par.push({
      assertionType: assertionType(ctx),
      dpop: Boolean(ctx.get('DPoP')),
      dpopJkt: p.dpop_jkt ?? null,
      redirectUri: p.redirect_uri,
      codeChallengeMethod: p.code_challenge_method,
      state: Boolean(p.state),
      nonce: Boolean(p.nonce),
      responseType: p.response_type,
    });
  });
  provider.on('grant.success', (ctx) => {
    seen.tokens.push({
      grantType: ctx.oidc.params.grant_type,
      assertionType: assertionType(ctx),
      dpop: Boolean(ctx.get('DPoP')),
      tokenType: ctx.body?.token_type,
      accessToken: ctx.body?.access_token,
      refreshToken: ctx.body?.refresh_token,
      at: Date.now(),
    });
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    if (ctx?.oidc?.route === 'revocation') seen.revocations.push({ grantId, assertionType: assertionType(ctx), client: ctx.oidc.client?.clientId });
  });
  for (const event of ERROR_EVENTS) {
    provider.on(event, (ctx, err) => {
      if (err?.error === 'use_dpop_nonce') {
        seen.nonceChallenges.push({ route: ctx.oidc?.route });
        return;
      }
      seen.errors.push({ event, error: err?.error, description: err?.error_description });
      process.stderr.write(`fapi provider ${event}: ${err?.error} ${err?.error_description ?? ''}\n`);
    });
  }
  return { ...op, seen };
}
