// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) for the sign-in tests.
// tests/test_oidc_sign_in.py starts it on loopback:  node provider.mjs CONFIG.json
// CONFIG: {"port", "issuer", "jwks": {"keys": [private JWKs, the first signs]},
//          "client": {client metadata}, "audience", "accounts": {login: {claims}}}
// Users sign in through the provider's own login and consent pages (its development
// interactions: the login name picks the account). Access tokens are JWTs for `audience`,
// carrying the account's role, region and department claims.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;
const RESOURCE = 'urn:canbao:api';

const provider = new Provider(config.issuer, {
  clients: [config.client],
  jwks: config.jwks,
  cookies: { keys: ['test-cookie-key-not-secret-0123456789'] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'canbao'],
  claims: { openid: ['sub'], profile: ['name'] },
  ttl: { AccessToken: 600, IdToken: 600, Session: 3600, Interaction: 600, Grant: 3600 },
  async findAccount(ctx, sub) {
    if (!accounts[sub]) return undefined;
    return { accountId: sub, async claims() { return { sub, name: accounts[sub].name }; } };
  },
  async extraTokenClaims(ctx, token) {
    const account = token.accountId && accounts[token.accountId];
    if (!account) return undefined;
    const { role, region, department } = account;
    return Object.fromEntries(Object.entries({ role, region, department })
      .filter(([, v]) => v !== undefined));
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Error('unknown resource');
        return { scope: 'canbao', audience: config.audience, accessTokenTTL: 600,
                 accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
});
provider.proxy = false;
provider.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${config.issuer}`);
});
