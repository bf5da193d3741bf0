import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Koa from 'koa';
import Provider from 'oidc-provider';

/** A person at the upstream, as each test sets them. */
export interface UpstreamAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  locale?: string;
  groups?: string[];
  /** What the upstream says about how they signed in (`mfa` for a provider trusted for it). */
  amr?: string[];
}

export interface UpstreamProviderFixture {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next sign-in at the upstream is (the upstream signs them in without a form). */
  signInAs(account: UpstreamAccount): void;
  close(): Promise<void>;
}

/**
 * A second, real OpenID provider for the federation tests: oidc-provider, in memory, on its own
 * port, with one confidential client (Latchkey) whose redirect URI is Latchkey's callback. It signs
 * in whoever the test named last, grants what was asked, and answers with real ID tokens (RS256),
 * PKCE, nonce and RFC 9207's `iss`.
 */
export async function startUpstreamProvider(redirectUri: string): Promise<UpstreamProviderFixture> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const accounts = new Map<string, UpstreamAccount>();
  let current: UpstreamAccount | undefined;
  const clientId = 'latchkey-at-upstream';
  const clientSecret = 'upstream-client-secret-for-tests';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'upstream-1', alg: 'RS256', use: 'sig' }] },
    cookies: {
      keys: ['upstream-cookie-key'],
      names: { session: 'up.session', interaction: 'up.interaction', resume: 'up.resume' },
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'locale'], groups: ['groups'] },
    features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      return account ? { accountId: sub, claims: () => ({ ...account }) } : undefined;
    },
    // Everything asked is granted: these tests are about Latchkey's side.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId!,
      });
      const scope = ctx.oidc.params?.scope;
      grant.addOIDCScope(typeof scope === 'string' ? scope : 'openid');
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
  });
  const app = new Koa();
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) {
      await next();
      return;
    }
    if (!current) throw new Error('the test named nobody to sign in at the upstream');
    accounts.set(current.sub, current);
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: current.sub, ...(current.amr ? { amr: current.amr } : {}) } },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  });
  const handle = provider.callback();
  app.use(async (ctx) => {
    ctx.respond = false;
    await handle(ctx.req, ctx.res);
  });
  const listener = app.callback();
  server.on('request', (req, res) => void listener(req, res));
  return {
    issuer,
    clientId,
    clientSecret,
    signInAs(account) {
      current = account;
      accounts.set(account.sub, account);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
