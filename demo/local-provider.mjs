// The OpenID provider for demo/local.sh (the demo without Docker): the e2e
// suite's oidc-provider (tests/e2e/lib/provider.mjs, OpenID Certified),
// configured like keycloak/realm.json: client `bff` with the demo secret,
// PKCE S256, rotating refresh tokens, back-channel logout, and the users
// alice / alice and bob / bob. Needs `npm ci` in tests/e2e (local.sh runs it).
//
//   DEMO_OP_PORT=9080 DEMO_BFF_ORIGIN=http://localhost:8080 \
//   DEMO_CLIENT_SECRET=... node demo/local-provider.mjs
//
// DEMO_ACCESS_TOKEN_TTL: access token lifetime in seconds (default 300, as
// Keycloak's accessTokenLifespan in the realm). Prints "provider ready
// <issuer>" once it listens; stops on SIGINT/SIGTERM.
import { startProvider } from '../tests/e2e/lib/provider.mjs';

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`local-provider: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const op = await startProvider({
  port: Number(env('DEMO_OP_PORT')),
  bffOrigin: env('DEMO_BFF_ORIGIN'),
  clientSecret: env('DEMO_CLIENT_SECRET'),
  accessTokenTtl: Number(env('DEMO_ACCESS_TOKEN_TTL', '300')),
  // Like keycloak/realm.json: only these users, with these passwords.
  passwords: { alice: 'alice', bob: 'bob' },
  // JWT access tokens with aud "bff" and the profile claims, as Keycloak's
  // audience mapper makes them (the demo API decodes them).
  jwtAudience: 'bff',
});

// One log line per back-channel logout delivery, like Keycloak's event log.
const logged = { n: 0 };
setInterval(() => {
  for (const e of op.events.backchannel.slice(logged.n)) {
    console.log(`back-channel logout ${e.ok ? 'delivered' : `failed (${e.error})`}: user ${e.accountId}, sid ${e.sid}`);
  }
  logged.n = op.events.backchannel.length;
}, 500).unref();

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await op.close();
    process.exit(0);
  });
}
console.log(`provider ready ${op.issuer}`);
