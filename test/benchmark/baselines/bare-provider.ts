/**
 * Baseline: oidc-provider 9 as it comes (its memory adapter), one static confidential client,
 * JWT access tokens for one resource signed ES256, refresh tokens rotating on every use: what the
 * library costs before anything of ours runs. GET /bench/refresh-tokens?n=N mints a pool of refresh
 * tokens in-process (there is no sign-in page here to get them through).
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.RESOURCE ?? 'http://127.0.0.1:4999';
const es256 = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
const rs256 = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-bench-secret-bench-secret',
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      response_types: ['code'],
      scope: 'openid offline_access',
    },
  ],
  jwks: {
    keys: [
      { ...rs256, alg: 'RS256', use: 'sig', kid: 'rs' },
      { ...es256, alg: 'ES256', use: 'sig', kid: 'es' },
    ],
  },
  scopes: ['openid', 'offline_access'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      getResourceServerInfo: () => ({
        scope: 'tasks:read tasks:work',
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg: 'ES256' } },
      }),
      useGrantedResource: () => true,
    },
  },
  rotateRefreshToken: true,
  issueRefreshToken: () => true,
  expiresWithSession: () => false,
  ttl: { RefreshToken: 86_400, Grant: 86_400, AccessToken: 600, ClientCredentials: 600, IdToken: 3_600 },
});

async function mintRefreshTokens(count: number): Promise<string[]> {
  const client = await provider.Client.find('bench');
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const grant = new provider.Grant({ accountId: `account-${i}`, clientId: 'bench' });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(resource, 'tasks:read');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      client,
      accountId: `account-${i}`,
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
      resource,
      iiat: Math.floor(Date.now() / 1000),
    } as never);
    tokens.push(await token.save());
  }
  return tokens;
}

const handle = provider.callback();
createServer((req, res) => {
  if (req.url?.startsWith('/bench/refresh-tokens')) {
    const count = Number(new URL(req.url, issuer).searchParams.get('n') ?? '1');
    void mintRefreshTokens(count).then((tokens) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(tokens));
    });
    return;
  }
  void handle(req, res);
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
